"""The book's facts, shared by the Sphinx extensions (jaxbook_*.py), the scripts
(scripts/) and the tests, one module per concern:

* `book`: the settings of `_config.yml`, the table of contents, the chapters;
* `reading`: how a chapter is read (its setup cell filled in);
* `cache`: what the execution cache (jupyter-cache) holds of a chapter;
* `requirements`: the pinned versions of the requirement files;
* `records`: what the setup cell records (execution, timings) and the timings files;
* `checks`: what every executed chapter must satisfy.

Plain Python: importing it imports neither Sphinx nor JAX.
"""

from bookfacts import book, cache, checks, reading, records, requirements

__all__ = ["book", "cache", "checks", "reading", "records", "requirements"]

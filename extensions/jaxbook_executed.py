"""Sphinx extension: the one owner of each chapter's executed notebook.

When a chapter is read (`doctree-read`), the notebook exactly as it was executed
for this read (now, or earlier: the execution cache) is fetched once, and

* checked (bookfacts.checks.notebook_problems: deliberate errors raise what they
  declare and nothing else raises, nothing on stderr, every code cell ran, every
  exercise check is proved). Each problem is a Sphinx warning located at the
  chapter's file and the cell's line, so the strict build (-W) fails naming both.
  A chapter is checked whenever it is read; scripts/build.py re-reads every page
  after a failed build, so a warning is never lost to an unchanged page.
* what its setup cell recorded is kept in the build environment per chapter
  (`chapters(env)`): the measurements of `measure` and `compare`, and where it was
  executed. The Timings page (jaxbook_timings.py) is made from them.

The notebook comes from the execution cache: myst-nb renders the executed notebook
but, in cache mode, writes the notebook it read, without outputs, to its output
folder (myst_nb/sphinx_.py, Parser.parse writes `notebook`, not the client's merged
one: myst-nb 1.4.0, requirements.txt; no upstream issue found). That notebook is
read back (no second parse of the chapter) and its outputs are taken from the cache,
matched by its code as myst-nb matched it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from sphinx.util import logging

import bookfacts

logger = logging.getLogger(__name__)

CODE_CELL = re.compile(r"^(`{3,}|~{3,})\{code-cell\}", re.M)
PROBLEM_CELL = re.compile(r"^code cell (\d+)\b")


def chapters(env) -> dict:
    """{docname: {"records", "comparisons", "executed"}} of every chapter read."""
    if not hasattr(env, "jaxbook_executed"):
        env.jaxbook_executed = {}
    return env.jaxbook_executed


def executed_notebook(env, docname):
    """The notebook as it was executed for this read of `docname`, or None when its
    execution failed (myst-nb has reported it)."""
    config = env.mystnb_config
    if config.execution_mode != "cache":
        raise RuntimeError(
            "jaxbook_executed reads executed notebooks from the execution cache; nb_execution_mode is "
            f"{config.execution_mode!r}, not 'cache' (_config.yml: execute.execute_notebooks)"
        )
    written = Path(config.output_folder, *f"{docname}.ipynb".split("/"))
    return bookfacts.cache.executed(config.execution_cache_path, nbformat.read(written, as_version=4))


def cell_lines(source: Path) -> list[int]:
    """The line of each code cell of a MyST chapter (1-based), in order."""
    text = source.read_text(encoding="utf8")
    return [text.count("\n", 0, m.start()) + 1 for m in CODE_CELL.finditer(text)]


def _read(app, doctree):
    env = app.env
    docname = env.docname
    chapters(env).pop(docname, None)
    if "kernelspec" not in env.metadata.get(docname, {}):
        return  # not a notebook
    nb = executed_notebook(env, docname)
    if nb is None:
        return
    source = Path(env.doc2path(docname))
    lines = cell_lines(source) if source.suffix == ".md" else []
    for problem in bookfacts.checks.notebook_problems(nb):
        cell = PROBLEM_CELL.match(problem)
        line = lines[int(cell[1]) - 1] if cell and int(cell[1]) <= len(lines) else None
        logger.warning(f"chapter check failed: {problem}", location=(docname, line), type="jaxbook")
    records = bookfacts.records
    chapters(env)[docname] = {
        "records": records.records_from_notebook(nb, docname),
        "comparisons": records.records_from_notebook(nb, docname, records.COMPARISON_KEY),
        "executed": records.execution_info(nb),
    }


def _purge(app, env, docname):
    chapters(env).pop(docname, None)


def setup(app):
    app.connect("doctree-read", _read)
    app.connect("env-purge-doc", _purge)
    # Read in one process (the build never passes -j): no env-merge-info to write.
    return {"version": "1", "env_version": 1, "parallel_read_safe": False, "parallel_write_safe": True}

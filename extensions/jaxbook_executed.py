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
* held, with the notebook myst-nb read, until the chapter is written: the Colab
  writer (jaxbook_colab.py) takes both from here (`notebooks`).

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


def fetch(env, docname):
    """(notebook as myst-nb read it, notebook as executed for this read) of `docname`;
    the second is None when its execution failed (myst-nb has reported it)."""
    config = env.mystnb_config
    if config.execution_mode != "cache":
        raise RuntimeError(
            "jaxbook_executed reads executed notebooks from the execution cache; nb_execution_mode is "
            f"{config.execution_mode!r}, not 'cache' (_config.yml: execute.execute_notebooks)"
        )
    read = nbformat.read(Path(config.output_folder, *f"{docname}.ipynb".split("/")), as_version=4)
    return read, bookfacts.cache.executed(config.execution_cache_path, read)


def notebooks(app, docname):
    """(notebook as read, notebook as executed) of a chapter being written: the pair
    fetched when it was read in this build (every page written is read, see
    `_read_what_is_written`), else fetched now."""
    held = getattr(app, "jaxbook_notebooks", {}).pop(docname, None)
    return held if held is not None else fetch(app.env, docname)


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
    read, nb = fetch(env, docname)
    if nb is None:
        return
    if not hasattr(app, "jaxbook_notebooks"):
        app.jaxbook_notebooks = {}  # this process only: not pickled with the environment
    app.jaxbook_notebooks[docname] = (read, nb)
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


def _read_what_is_written(app, env, added, changed, removed):
    """Every page this build writes is also read in it. Sphinx writes a page without
    reading it when its HTML is missing or older than a template, or when an HTML
    setting changed; that page would get no chapter check, no executed notebook for
    its Colab notebook, and no code links: sphinx-codeautolink 0.19.0 reads its cache
    back only for `.rst` sources (extension/cache.py, DataCache.read; no upstream
    issue found), so for this book's `.md` pages it knows only the pages read in the
    same build. Reading a page again executes nothing (the execution cache)."""
    if app.builder.name != "html":
        return []
    return sorted(set(app.builder.get_outdated_docs()) - added - changed - removed)


def _purge(app, env, docname):
    chapters(env).pop(docname, None)


def setup(app):
    app.connect("env-get-outdated", _read_what_is_written)
    app.connect("doctree-read", _read)
    app.connect("env-purge-doc", _purge)
    # Read in one process (the build never passes -j): no env-merge-info to write.
    return {"version": "1", "env_version": 1, "parallel_read_safe": False, "parallel_write_safe": True}

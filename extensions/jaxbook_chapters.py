"""Sphinx extension: what every chapter depends on beyond its own text (registered
in _config.yml).

* Its setup file. A chapter's setup cell is written `:load: book_setup.py`; myst-nb
  fills it with `chapters/book_setup.py` when it reads the chapter, so the code
  travels inside the executed notebook, into jupyter-cache's record and into the
  Colab notebook. Editing `book_setup.py` re-reads (and re-executes) every chapter
  that loads it.
* requirements.txt: the Colab notebook's install cell names the pinned JAX
  (jaxbook_colab.py), so a new pin re-reads every chapter and rewrites its notebook.
"""

from __future__ import annotations

from pathlib import Path

LOAD = ":load: book_setup.py\n"


def _note_dependencies(app, docname, source):
    path = Path(app.env.doc2path(docname))
    if path.suffix == ".md" and LOAD in source[0]:
        app.env.note_dependency(str(path.parent / "book_setup.py"))
        app.env.note_dependency(str(Path(app.confdir) / "requirements.txt"))


def setup(app):
    app.connect("source-read", _note_dependencies)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Sphinx extension: every chapter depends on its setup file (registered in _config.yml).

A chapter's setup cell is written `:load: book_setup.py`; myst-nb fills it with
`chapters/book_setup.py` when it reads the chapter, so the code travels inside the
executed notebook, into jupyter-cache's record and into the Colab notebook. Sphinx
does not know that the chapter depends on that file, so this extension records it:
editing `book_setup.py` re-reads (and re-executes) every chapter that loads it.
"""

from __future__ import annotations

from pathlib import Path

LOAD = ":load: book_setup.py\n"


def _note_setup_dependency(app, docname, source):
    path = Path(app.env.doc2path(docname))
    if path.suffix == ".md" and LOAD in source[0]:
        app.env.note_dependency(str(path.parent / "book_setup.py"))


def setup(app):
    app.connect("source-read", _note_setup_dependency)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

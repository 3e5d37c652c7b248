"""Sphinx extension: how a chapter is read (registered in _config.yml).

Every chapter's first cell is the setup cell, written `:load: book_setup.py` in
the chapter. Before myst-nb parses a chapter (`source-read`), that cell is filled
in with the chapter's settings (the `jaxbook:` key of its front matter) followed
by `chapters/book_setup.py` (bookfacts.reading.assemble), so the code travels inside the
executed notebook, into jupyter-cache's record and into the Colab notebook, and a
chapter's settings (e.g. XLA flags for simulated devices) are applied before JAX
is imported. bookfacts.reading.read_notebook reads a chapter the same way.

`book_setup.py` is recorded as a dependency of every chapter, so that editing it
re-reads (and re-executes) them all.
"""

from __future__ import annotations

from pathlib import Path

import bookfacts


def _assemble_setup_cell(app, docname, source):
    path = app.env.doc2path(docname)
    if not str(path).endswith(".md"):
        return
    setup = Path(path).parent / "book_setup.py"
    text = bookfacts.reading.assemble(source[0], setup)
    if text != source[0]:
        source[0] = text
        app.env.note_dependency(str(setup))


def setup(app):
    app.connect("source-read", _assemble_setup_cell)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Local Sphinx extension of the book (registered in _config.yml).

Every chapter loads ``chapters/book_setup.py`` into its first cell (``:load:``).
Sphinx does not know about that file, so without help a change to it would
leave chapters un-rebuilt and their cached outputs stale. Recording it as a
dependency of every chapter makes Sphinx re-read them (and jupyter-cache
re-execute them, since the loaded source is part of the notebook's hash).
"""

from pathlib import Path

SETUP = Path(__file__).resolve().parent.parent / "chapters" / "book_setup.py"


def _note_setup_dependency(app, docname, source):
    if docname.startswith("chapters/") and SETUP.exists():
        app.env.note_dependency(str(SETUP))


def setup(app):
    app.connect("source-read", _note_setup_dependency)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

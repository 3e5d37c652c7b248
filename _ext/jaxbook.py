"""Local Sphinx extension of the book (registered in _config.yml).

1. Every chapter loads ``chapters/book_setup.py`` into its first cell
   (``:load:``). Sphinx does not know about that file, so without help a change
   to it would leave chapters un-rebuilt and their cached outputs stale.
   Recording it as a dependency of every chapter makes Sphinx re-read them (and
   jupyter-cache re-execute them: the loaded source is part of the notebook).
2. The theme's Colab button would open the chapter's ``.md`` source, which
   Colab cannot read. It is pointed at the executed ``.ipynb`` that
   ``tools/make_colab.py`` makes and the publish workflow pushes to the branch
   ``jaxbook_colab_branch`` (set in _config.yml).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "chapters" / "book_setup.py"


def _note_setup_dependency(app, docname, source):
    if docname.startswith("chapters/") and SETUP.exists():
        app.env.note_dependency(str(SETUP))


def _colab_url(app, pagename):
    repo = app.config.html_theme_options.get("repository_url", "").rstrip("/")
    org_repo = repo.removeprefix("https://github.com/")
    return (f"https://colab.research.google.com/github/{org_repo}/blob/"
            f"{app.config.jaxbook_colab_branch}/{pagename}.ipynb")


def _point_colab_at_notebooks(app, pagename, templatename, context, doctree):
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = _colab_url(app, pagename)
                button["tooltip"] = "Open this chapter as a notebook in Colab (GPU runtime)"


def setup(app):
    app.add_config_value("jaxbook_colab_branch", "notebooks", "html")
    app.connect("source-read", _note_setup_dependency)
    # after sphinx-book-theme has added its launch buttons (priority 501)
    app.connect("html-page-context", _point_colab_at_notebooks, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

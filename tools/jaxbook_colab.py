"""Open in Colab (placeholder during the restructuring; see colab.py)."""

from __future__ import annotations

import bookfacts


def colab_url(docname: str, book=bookfacts.ROOT) -> str:
    settings = bookfacts.config(book)
    return (
        f"https://colab.research.google.com/github/{settings['repository']}/blob/"
        f"{settings['colab_branch']}/{docname}.ipynb"
    )


def _point_colab_at_notebooks(app, pagename, templatename, context, doctree):
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = colab_url(pagename, bookfacts.Path(app.confdir))
                button["tooltip"] = "Open this chapter as a notebook in Colab (GPU runtime)"


def setup(app):
    app.add_config_value("jaxbook_colab_branch", "notebooks", "html")
    # after sphinx-book-theme has added its launch buttons (priority 501)
    app.connect("html-page-context", _point_colab_at_notebooks, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

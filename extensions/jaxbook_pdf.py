"""Local Sphinx extension: the book's PDF on the site (made by `make pdf`, scripts/make_pdf.py).

When `_build/pdf/learn-jax.pdf` exists (with `learn-jax.json`, written by
make_pdf.py after printing it), the HTML build:

* copies it into the site, next to `index.html`;
* adds "Book (PDF)" to every page's download menu, beside the page's .ipynb, .md
  and .pdf (print) entries;
* fills the `pdf-book` role (used on the landing page) with a link to it and its
  size, pages and date, read from the file itself and its facts at build time, so
  the size is never typed by hand.

Without the PDF (a plain `make html`), the role says how to make it and no page
links to a missing file. In the PDF itself (the singlehtml pass of make_pdf.py)
the role says "this file". A new or changed PDF makes every page be written again.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from pathlib import Path

from docutils import nodes

PDF_NAME = "learn-jax.pdf"  # scripts/make_pdf.py imports both names
FACTS_NAME = "learn-jax.json"


def pdf_path(app) -> Path:
    return Path(app.confdir) / "_build" / "pdf" / PDF_NAME


def pdf_facts(app) -> dict | None:
    """{'bytes', 'pages', 'date'} of the PDF to publish, or None when there is none."""
    pdf = pdf_path(app)
    facts = pdf.with_name(FACTS_NAME)
    if not (pdf.is_file() and facts.is_file()):
        return None
    info = json.loads(facts.read_text())
    # The size is the file's own, measured now; the facts file gives the page count.
    return {**info, "bytes": pdf.stat().st_size}


def human_size(size: int) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _for_site(app) -> bool:
    return app.builder.name in ("html", "dirhtml")


def pdf_book_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """{pdf-book}`the whole book as one PDF`: the link and its size (filled in when
    the page is written, see the module docs)."""
    return [nodes.inline(classes=["jaxbook-pdf-book"], jaxbook_pdf_text=text)], []


def _fill_roles(app, doctree, docname):
    facts = pdf_facts(app) if _for_site(app) else None
    for node in list(doctree.findall(lambda n: isinstance(n, nodes.inline) and "jaxbook_pdf_text" in n)):
        text = node["jaxbook_pdf_text"]
        if app.builder.name == "singlehtml":
            node += nodes.Text(f"{text} (this file)")
        elif facts is None:
            node += nodes.Text(f"{text} (not part of this build: ")
            node += nodes.literal(text="make pdf")
            node += nodes.Text(" makes it)")
        else:
            uri = app.builder.get_relative_uri(docname, app.config.root_doc)
            href = posixpath.join(posixpath.dirname(uri), PDF_NAME)
            node += nodes.reference("", text, refuri=href, internal=False)
            node += nodes.Text(
                f" ({human_size(facts['bytes'])}, {facts['pages']} pages, printed {facts['date']})"
            )


def _download_entry(app, pagename, templatename, context, doctree):
    facts = pdf_facts(app) if _for_site(app) else None
    if facts is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        group["buttons"].append(
            {
                "type": "link",
                "url": context["pathto"](PDF_NAME, 1),
                "text": "Book (PDF)",
                "tooltip": f"Download the whole book as one PDF ({human_size(facts['bytes'])})",
                "icon": "fas fa-book",
                "label": "download-book-pdf-button",
            }
        )


def _copy_pdf(app, exception):
    if exception is None and _for_site(app) and pdf_facts(app) is not None:
        shutil.copy(pdf_path(app), Path(app.outdir) / PDF_NAME)


def _stamp_config(app, config):
    """A new or changed PDF changes this 'html' setting, so Sphinx writes every page
    again (with the download entry and the size)."""
    pdf = pdf_path(app)
    stamp = [
        f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in (pdf, pdf.with_name(FACTS_NAME))
        if p.is_file()
    ]
    config.jaxbook_pdf_stamp = " ".join(stamp)


def setup(app):
    app.add_role("pdf-book", pdf_book_role)
    app.connect("doctree-resolved", _fill_roles)
    # after sphinx-book-theme has made its header buttons (priority 501)
    app.connect("html-page-context", _download_entry, priority=600)
    app.connect("build-finished", _copy_pdf)
    app.add_config_value("jaxbook_pdf_stamp", "", "html")
    app.connect("config-inited", _stamp_config)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Local Sphinx extension: what the site needs in a browser.

1. MathJax is served from the site itself: `_vendor/` (MathJax 3.2.2, see
   scripts/vendor_mathjax.py) is added to the static files here, after
   jupyter-book has added every .js/.css under `_static/` to every page (so
   MathJax's many files are copied, not all loaded); `mathjax_path` in
   _config.yml points at it.

2. The theme's `_static/styles/theme.css` is nothing but
   `@import "../basic.css"`; it is replaced by the contents of that file
   (Sphinx's basic.css, as rendered for this build), so the cascade is the
   same, the stylesheet is no longer discovered late, and no tool resolves
   the relative @import against the page (axe-core does, and requested a
   missing /basic.css: a 404 on every page).

3. A change to the site's own static files or to the book's extensions (extensions/) is
   published. Sphinx copies static files only when some page is written, so
   after editing only _static/jaxbook.css, `make html` said "no targets are
   out of date" and kept the old stylesheet. When the static files change, the
   root page is rebuilt; when the code changes, every page is read and written
   again (cell outputs come from the cache).

4. Each script is loaded once. Sphinx 7.4 (pinned by jupyter-book 1) emits
   an inline ``<script>`` twice when an extension registers it with
   ``app.add_js_file(None, body=...)`` after the HTML builder was initialised:
   the builder keeps it under the filename ``None`` and re-adds it from the
   registry under ``''`` before writing (fixed in Sphinx 8.2,
   sphinx-doc/sphinx#13402). sphinx-thebe registers
   ``const THEBE_JS_URL = ...`` that way, so every page threw
   ``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared``.
   The first of identical scripts is kept.

5. One search box. pydata-sphinx-theme puts a search field in a header bar
   across the top of every page unless `navbar_persistent` is set, and
   jupyter-book does not set it: with sphinx-book-theme's own field in the
   sidebar, every page had two. It is emptied here; the sidebar keeps its field
   (wide screens) and the article header its search button (narrow screens).
   The logo is the book's mark with the title written next to it as text
   (legible in both colour modes).

6. Link previews (sphinxext-opengraph): each page's description is its first
   sentence (a chapter's setup cell output, "Executed on ...", is skipped; a
   sentence that only introduces a list, "you will be able to:", is completed
   with the list's first item), in `og:description` and `<meta name=
   "description">`; `og:image` is the committed `_static/social-card.png`, with
   its size read from the file.

7. Found: sphinx-sitemap lists only the pages written by this build, and an
   incremental build writes few; the sitemap is completed with every page of the
   book before it is written. `robots.txt` (allow all, name the sitemap) is
   written next to it, from `html_baseurl`.

8. The 404 page (sphinx-notfound-page): GitHub Pages serves `404.html` for any
   missing address under the site, so its links start with the path of
   `html_baseurl` (`notfound_urls_prefix`, set from it here), and its body
   lists the chapters, in the order of the table of contents.
"""

from __future__ import annotations

import fnmatch
import html
import re
from pathlib import Path
from urllib.parse import urlsplit

from docutils import nodes
from PIL import Image

HERE = Path(__file__).resolve().parent
VENDOR = HERE.parent / "_vendor"


def _add_vendored_static_files(app):
    if VENDOR.is_dir() and str(VENDOR) not in app.config.html_static_path:
        app.config.html_static_path.append(str(VENDOR))


def _fingerprint(roots) -> list:
    files = sorted(
        {
            f
            for root in roots
            if root.is_dir()
            for f in root.rglob("*")
            if f.is_file() and "__pycache__" not in f.parts
        }
    )
    return [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]


def _static_fingerprint(app) -> list:
    roots = [VENDOR]
    for entry in app.config.html_static_path:
        path = (Path(app.confdir) / entry).resolve()
        if Path(app.confdir).resolve() in path.parents:
            roots.append(path)
    return _fingerprint(roots)


def _rebuild_when_static_files_change(app, env, added, changed, removed):
    """Item 3 above: new extensions re-read every page; new static files re-write the
    root page, which is enough for Sphinx to copy them all."""
    outdated = []
    code = _fingerprint([HERE])
    if getattr(env, "jaxbook_code_fingerprint", None) != code:
        env.jaxbook_code_fingerprint = code
        outdated = sorted(env.found_docs)
    static = _static_fingerprint(app)
    if getattr(env, "jaxbook_static_fingerprint", None) != static:
        env.jaxbook_static_fingerprint = static
        outdated = outdated or [app.config.root_doc]
    return outdated


IMPORT_BASIC = '@import "../basic.css";'


def _inline_basic_css(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    theme_css, basic_css = static / "styles" / "theme.css", static / "basic.css"
    if not (theme_css.is_file() and basic_css.is_file()):
        return
    lines = [line for line in theme_css.read_text().splitlines() if line.strip()]
    if (
        lines
        and lines[-1].strip() == IMPORT_BASIC
        and all(line.lstrip().startswith("/*") for line in lines[:-1])
    ):
        theme_css.write_text(
            "/* Sphinx's basic.css, inlined instead of @import-ed (extensions/jaxbook_site.py) */\n"
            + basic_css.read_text()
        )


def _script_key(js):
    attributes = getattr(js, "attributes", {})
    return (
        getattr(js, "filename", js) or "",
        getattr(js, "priority", None),
        tuple(sorted((k, str(v)) for k, v in attributes.items())),
    )


def _load_each_script_once(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    unique = {}
    for js in scripts:
        unique.setdefault(_script_key(js), js)
    if len(unique) != len(scripts):
        # A new list: the builder's own list is restored after each page anyway.
        context["script_files"] = list(unique.values())


# --------------------------------------------------------------- a public site


def _site_settings(app, config):
    options = config.html_theme_options
    options.setdefault("navbar_persistent", [])
    logo = options.setdefault("logo", {})
    logo.setdefault("text", config.html_title or config.project)
    # Link previews name the book and give absolute addresses (jupyter-book sets
    # html_title and html_baseurl, not project, which sphinxext-opengraph reads).
    config.ogp_site_url = config.ogp_site_url or config.html_baseurl
    config.ogp_site_name = config.ogp_site_name or config.html_title
    if config.html_baseurl:
        path = urlsplit(config.html_baseurl).path.strip("/")
        config.notfound_urls_prefix = f"/{path}/" if path else "/"


def _in_cell(node) -> bool:
    while node is not None:
        if isinstance(node, nodes.Element) and "cell" in node.get("classes", []):
            return True
        node = node.parent
    return False


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*(])")
DESCRIPTION_LENGTH = 200


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return SENTENCE_END.split(text, maxsplit=1)[0]


def page_description(doctree) -> str:
    """The page's first sentence of prose (not a cell's output); a sentence that
    introduces a list ("you will be able to:") goes on with the list's first item."""
    for paragraph in doctree.findall(nodes.paragraph):
        if _in_cell(paragraph) or isinstance(paragraph.parent, (nodes.list_item, nodes.field_body)):
            continue
        sentence = first_sentence(paragraph.astext())
        if not sentence:
            continue
        if sentence.endswith(":") or sentence.endswith(" to"):
            following = paragraph.next_node(
                nodes.bullet_list, include_self=False, descend=False, siblings=True
            )
            if following is not None and len(following):
                item = first_sentence(following[0].astext()).rstrip(";,.")
                sentence = sentence.rstrip(":") + " " + item + "."
        if len(sentence) > DESCRIPTION_LENGTH:
            sentence = sentence[: DESCRIPTION_LENGTH - 1].rsplit(" ", 1)[0].rstrip(",;:") + "\u2026"
        return sentence
    return ""


def _page_metadata(app, pagename, templatename, context, doctree):
    """Before sphinxext-opengraph (priority 500) writes the tags of the page."""
    if doctree is None:
        return
    meta = dict(context.get("meta") or {})
    description = page_description(doctree)
    if description:
        meta["og:description"] = description
        context["metatags"] = context.get("metatags", "") + (
            f'<meta name="description" content="{html.escape(description)}" />\n'
        )
    image = Path(app.confdir) / app.config.ogp_image if app.config.ogp_image else None
    if image and image.is_file():
        with Image.open(image) as img:
            meta["og:image:width"], meta["og:image:height"] = map(str, img.size)
    context["meta"] = meta


def _toc_order(app) -> list[str]:
    import bookfacts

    return [d for d in bookfacts.book.toc_files(Path(app.confdir)) if d in app.env.found_docs]


def _complete_sitemap(app, exception):
    """Before sphinx-sitemap (priority 500) writes sitemap.xml."""
    if exception is not None or app.builder.format != "html":
        return
    links = getattr(app, "sitemap_links", None)  # sphinx-sitemap's queue of pages, not public
    if links is None:
        raise RuntimeError(
            "sphinx-sitemap no longer keeps its pages in app.sitemap_links (known in 2.9.0, "
            "requirements.txt): update _complete_sitemap in extensions/jaxbook_site.py"
        )
    while not links.empty():
        links.get_nowait()
    for docname in _toc_order(app):
        link = docname + app.builder.out_suffix
        if not any(fnmatch.fnmatch(link, p) for p in app.config.sitemap_excludes):
            links.put((link, None))


def _write_robots_txt(app, exception):
    if exception is not None or app.builder.format != "html" or not app.config.html_baseurl:
        return
    base = app.config.html_baseurl.rstrip("/") + "/"
    (Path(app.outdir) / "robots.txt").write_text(
        f"User-agent: *\nAllow: /\n\nSitemap: {base}{app.config.sitemap_filename}\n"
    )


def _not_found_page(app, pagename, templatename, context, doctree):
    """The body of the 404 page that sphinx-notfound-page writes."""
    if pagename != app.config.notfound_pagename or doctree:
        return
    prefix = app.config.notfound_urls_prefix or "/"
    items = "\n".join(
        f'<li><a href="{prefix}{docname}{app.builder.out_suffix}">'
        f"{html.escape(app.env.titles[docname].astext())}</a></li>"
        for docname in _toc_order(app)
        if docname in app.env.titles
    )
    context.update(
        title="Page not found",
        body=(
            '<h1 id="page-not-found">Page not found</h1>\n'
            "<p>There is no page at this address: it may have moved or been renamed. "
            f'Start again from <a href="{prefix}">the first page</a>, search the book, or '
            "pick a chapter:</p>\n"
            f'<ul class="jaxbook-notfound-chapters">\n{items}\n</ul>'
        ),
    )


def setup(app):
    app.connect("config-inited", _site_settings)
    app.connect("html-page-context", _page_metadata, priority=450)
    app.connect("html-page-context", _not_found_page)
    app.connect("build-finished", _complete_sitemap, priority=400)
    app.connect("build-finished", _write_robots_txt)
    app.connect("builder-inited", _add_vendored_static_files)
    app.connect("env-get-outdated", _rebuild_when_static_files_change)
    app.connect("build-finished", _inline_basic_css)
    # Late, after the themes and extensions have added their per-page scripts.
    app.connect("html-page-context", _load_each_script_once, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Local Sphinx extension: what the site needs in a browser.

1. MathJax is served from the site itself: `_vendor/` (MathJax 3.2.2, see
   tools/vendor_mathjax.py) is added to the static files here, after
   jupyter-book has added every .js/.css under `_static/` to every page (so
   MathJax's many files are copied, not all loaded); `mathjax_path` in
   _config.yml points at it.

2. The theme's `_static/styles/theme.css` is nothing but
   `@import "../basic.css"`; it is replaced by the contents of that file
   (Sphinx's basic.css, as rendered for this build), so the cascade is the
   same, the stylesheet is no longer discovered late, and no tool resolves
   the relative @import against the page (axe-core does, and requested a
   missing /basic.css: a 404 on every page).

3. A change to the site's own static files or to the book's code (tools/) is
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
"""

from __future__ import annotations

from pathlib import Path

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
    """Static files changed: write the root page (Sphinx then copies them all).
    The book's own code (tools/) changed: read and write every page again (their
    outputs still come from the execution cache)."""
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
            "/* Sphinx's basic.css, inlined instead of @import-ed (tools/jaxbook_site.py) */\n"
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
    seen, unique = set(), []
    for js in scripts:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    if len(unique) != len(scripts):
        # A new list: the builder's own list is restored after each page anyway.
        context["script_files"] = unique


def setup(app):
    app.connect("builder-inited", _add_vendored_static_files)
    app.connect("env-get-outdated", _rebuild_when_static_files_change)
    app.connect("build-finished", _inline_basic_css)
    # Late, after the themes and extensions have added their per-page scripts.
    app.connect("html-page-context", _load_each_script_once, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""The system Chromium and a local web server, for the scripts that drive a browser
(make_pdf.py prints the site, make_social_card.py draws the link-preview card) and
for the browser tests (tests/siteaudit.py).

The browser is Debian's `chromium` (or $JAXBOOK_CHROMIUM); Playwright's own
browser downloads are never used.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_CHROMIUM = os.environ.get("JAXBOOK_DEBIAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "The browser tests need Chromium, and there is none at {path}.\n"
    "Install Debian's package:   sudo apt-get install -y chromium\n"
    "(or point JAXBOOK_CHROMIUM at a Chrome/Chromium binary). "
    "Do not run `playwright install`: the tests use the system browser."
)


def _candidates() -> list[str]:
    return [p for p in (os.environ.get("JAXBOOK_CHROMIUM"), DEFAULT_CHROMIUM) if p]


def chromium_executable() -> str | None:
    """The browser binary: $JAXBOOK_CHROMIUM if set (CI sets it to Google
    Chrome), else Debian's /usr/bin/chromium; None if neither is there."""
    for path in _candidates():
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return None


def missing_chromium_message() -> str | None:
    if chromium_executable():
        return None
    return INSTALL_HINT.format(path=" or ".join(_candidates()))


def launch(playwright):
    """One headless Chromium (the system one) with the book's flags."""
    return playwright.chromium.launch(
        executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
    )


# --------------------------------------------------------------------------- server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextmanager
def _serving(handler, directory: Path, path: str):
    """Serve `directory` with `handler` on 127.0.0.1 (a free port) in a thread;
    yields its URL for `path`."""
    handler = functools.partial(handler, directory=str(directory))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}{path}"
        finally:
            server.shutdown()


def serve(directory: Path):
    """Serve `directory` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    return _serving(_QuietHandler, directory, "/")


class _PagesHandler(_QuietHandler):
    """As GitHub Pages serves a project site: the site under its prefix, and its
    404.html, with status 404, for any address that has no file."""

    prefix = "/"

    def translate_path(self, path):
        parts = urlsplit(path)
        if not parts.path.startswith(self.prefix):
            return str(Path(self.directory) / "\0no such file")
        return super().translate_path("/" + parts.path[len(self.prefix) :])

    def send_error(self, code, message=None, explain=None):
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def serve_like_pages(directory: Path, prefix: str):
    """Serve `directory` under `prefix` on 127.0.0.1, with GitHub Pages' 404
    behaviour; yields the site's base URL (ending in the prefix)."""
    return _serving(type("Handler", (_PagesHandler,), {"prefix": prefix}), directory, prefix)

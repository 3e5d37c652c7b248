"""Open the built site in headless Chromium and audit every page.

Used by tests/test_browser.py, and runnable on its own after `make html`:

    .venv/bin/python tests/siteaudit.py            # audit _build/html
    .venv/bin/python tests/siteaudit.py --dark     # ... with the dark colour scheme
    .venv/bin/python tests/siteaudit.py --json out.json

For every page it records the console errors (and uncaught exceptions), the
requests that failed or answered 4xx/5xx, requests that left the local server,
the axe-core accessibility violations, and the bytes the page transferred.

The browser is Debian's `chromium` (or $JAXBOOK_CHROMIUM); Playwright's own
browser downloads are never used.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Run on its own, it finds the book's code as pytest does (pytest.ini: pythonpath).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bookfacts
import headless

# axe-core impact levels, worst first.
IMPACTS = ("critical", "serious", "moderate", "minor")


def site_prefix(root: Path = bookfacts.book.ROOT) -> str:
    """The path of the published site's address (html.baseurl), e.g. "/learn-jax/"."""
    path = urlsplit(bookfacts.book.config(root)["site_url"]).path.strip("/")
    return f"/{path}/" if path else "/"


# --------------------------------------------------------------------------- pages


def site_pages(root: Path = bookfacts.book.ROOT) -> list[str]:
    """Every page of the toc, plus the search page and the general index."""
    return [f"{d}.html" for d in bookfacts.book.toc_files(root)] + ["search.html", "genindex.html"]


def local_file(html: Path, base: str, url: str) -> Path | None:
    """The file of the built site that a URL of the local server serves."""
    target = html / unquote(urlsplit(url).path).lstrip("/")
    if target.is_dir():
        target = target / "index.html"
    return target if url.startswith(base) and target.is_file() else None


@dataclass
class PageReport:
    page: str
    scheme: str = "light"
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)  # {id, impact, nodes, help}
    resources: dict[str, int] = field(default_factory=dict)  # local path -> bytes
    facts: dict = field(default_factory=dict)  # whatever `collect` recorded

    def axe_summary(self) -> list[str]:
        return [
            f"{v['id']} ({v['impact']}, {v['nodes']} node{'s' if v['nodes'] != 1 else ''})"
            for v in self.violations
        ]


def watch(page, base: str, report: PageReport, html: Path | None = None):
    """Record console errors, uncaught exceptions, failed and non-local requests,
    and (given the built site's folder) the size of each of its files the page loaded."""

    def on_console(msg):
        if msg.type == "error":
            loc = msg.location or {}
            where = f" [{loc.get('url', '').removeprefix(base)}:{loc.get('lineNumber', '')}]"
            report.console_errors.append(msg.text + (where if loc.get("url") else ""))

    def on_pageerror(exc):
        report.console_errors.append(f"uncaught: {exc}")

    def on_request(request):
        if not request.url.startswith(base) and not request.url.startswith(("data:", "blob:")):
            report.external_requests.append(request.url)

    def on_failed(request):
        report.failed_requests.append(f"{request.url.removeprefix(base)} ({request.failure})")

    def on_response(response):
        if response.status >= 400:
            report.failed_requests.append(f"{response.url.removeprefix(base)} (HTTP {response.status})")

    def on_finished(request):
        target = local_file(html, base, request.url) if html else None
        if target is not None:
            report.resources[target.relative_to(html).as_posix()] = target.stat().st_size

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.on("requestfinished", on_finished)


def start_axe(page) -> None:
    """Inject axe-core (the copy axe-playwright-python ships) and start it on
    the page without waiting: pages in separate contexts run it in parallel."""
    from axe_playwright_python.base import AXE_SCRIPT

    page.evaluate(AXE_SCRIPT)
    page.evaluate("() => { window.__jaxbookAxe = axe.run(document, {resultTypes: ['violations']}); }")


def finish_axe(page) -> list[dict]:
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "nodes": len(v["nodes"]),
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in page.evaluate("() => window.__jaxbookAxe")["violations"]
    ]


def run_axe(page) -> list[dict]:
    start_axe(page)
    return finish_axe(page)


# The widths a page is audited at: a desktop browser, and a phone (375 x 812 CSS
# pixels, an iPhone's screen; touch, so no hover). Chromium is the same browser.
VIEWPORTS = {"desktop": (1280, 900), "phone": (375, 812)}


def new_context(browser, scheme: str = "light", viewport: str = "desktop"):
    """A fresh browser context (a first visit: empty localStorage and cache)
    in the given colour scheme, at the size of the given viewport."""
    width, height = VIEWPORTS[viewport]
    phone = viewport == "phone"
    return browser.new_context(
        color_scheme=scheme,
        viewport={"width": width, "height": height},
        is_mobile=phone,
        has_touch=phone,
    )


WAIT_FOR_MATHJAX = """() => window.MathJax && MathJax.startup && MathJax.startup.promise
    ? MathJax.startup.promise.then(() => true) : false"""


@contextmanager
def visit(browser, base: str, path: str, scheme="light", viewport="desktop", report=None, html=None):
    """Open `base + path` in a new context (new_context) and wait until it has
    loaded: the network idle, MathJax done; the context is closed on leaving.

    With a `report`, what goes wrong is recorded in it (watch), and requests
    that would leave the local server are aborted (and recorded as external):
    the site must not depend on third-party hosts to display."""
    context = new_context(browser, scheme, viewport)
    try:
        page = context.new_page()
        if report is not None:
            watch(page, base, report, html)
            page.route(lambda url: not url.startswith(base), lambda route: route.abort("blockedbyclient"))
        page.goto(base + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        page.evaluate(WAIT_FOR_MATHJAX)
        yield page
    finally:
        context.close()


def audit_page(
    browser,
    base: str,
    html: Path,
    page_path: str,
    schemes=("light",),
    collect=None,
    viewport: str = "desktop",
) -> list[PageReport]:
    """Open one page as a first-time visitor (visit), once per colour scheme, and
    record what went wrong (one report per scheme).

    axe-core runs in all schemes at once (one renderer process each).
    `collect(page, report)`, if given, runs last on each open page. A report of
    another viewport than the desktop one says so in its scheme ("light, phone")."""
    reports = [PageReport(page_path, s if viewport == "desktop" else f"{s}, {viewport}") for s in schemes]
    with ExitStack() as stack:
        pages = []
        for scheme, report in zip(schemes, reports, strict=True):
            pages.append(stack.enter_context(visit(browser, base, page_path, scheme, viewport, report, html)))
            start_axe(pages[-1])
        for page, report in zip(pages, reports, strict=True):
            report.violations = finish_axe(page)
            if collect is not None:
                collect(page, report)
    return reports


def audit_site(html: Path, pages: list[str], schemes=("light",)) -> list[PageReport]:
    """Every page in every colour scheme, light reports first."""
    from playwright.sync_api import sync_playwright

    reports = []
    with headless.serve(html) as base, sync_playwright() as p:
        browser = headless.launch(p)  # closed when Playwright stops
        for page_path in pages:
            reports.extend(audit_page(browser, base, html, page_path, schemes))
    return sorted(reports, key=lambda r: schemes.index(r.scheme))


# --------------------------------------------------------------------------- links

LINK_ATTRIBUTES = (
    ("a", "href"),
    ("link", "href"),
    ("img", "src"),
    ("script", "src"),
    ("iframe", "src"),
    ("source", "src"),
)
SKIPPED_SCHEMES = ("mailto:", "javascript:", "data:", "tel:")


def built_pages(html: Path) -> list[Path]:
    """Every HTML page of the built site (not the theme's HTML snippets in _static)."""
    return sorted(
        p
        for p in html.rglob("*.html")
        if not p.relative_to(html).as_posix().startswith(("_static/", "_sources/"))
    )


def check_links(html: Path) -> tuple[list[str], dict[str, set[str]]]:
    """Broken internal links and anchors of the built site, and its external links.

    Returns (broken, external): broken as 'page: link (why)'; external maps each
    http(s) URL to the pages linking to it (not fetched: the tests run offline).
    A link from the site's root (the 404 page's) must start with the path of the
    published address (site_prefix)."""
    from bs4 import BeautifulSoup

    html = html.resolve()
    prefix = site_prefix()

    @functools.cache
    def anchors(target: Path) -> set[str]:
        soup = BeautifulSoup(target.read_text(errors="replace"), "html.parser")
        return {t["id"] for t in soup.find_all(id=True)} | {
            t["name"] for t in soup.find_all("a", attrs={"name": True})
        }

    broken: list[str] = []
    external: dict[str, set[str]] = {}
    for page in built_pages(html):
        name = page.relative_to(html).as_posix()
        soup = BeautifulSoup(page.read_text(errors="replace"), "html.parser")
        for tag, attribute in LINK_ATTRIBUTES:
            for element in soup.find_all(tag, attrs={attribute: True}):
                link = element[attribute].strip()
                if not link or link.startswith(SKIPPED_SCHEMES):
                    continue
                if link.startswith(("http://", "https://", "//")):
                    external.setdefault(link, set()).add(name)
                    continue
                parts = urlsplit(link)
                if parts.scheme:
                    broken.append(f"{name}: {link} (unexpected scheme)")
                    continue
                path = unquote(parts.path)
                if path.startswith("/"):
                    if not path.startswith(prefix):
                        broken.append(f"{name}: {link} (outside the site's path {prefix})")
                        continue
                    target = (html / path[len(prefix) :]).resolve()
                else:
                    target = (page.parent / path).resolve() if path else page
                if target.is_dir():
                    target = target / "index.html"
                if html not in target.parents or not target.is_file():
                    broken.append(f"{name}: {link} (no such file)")
                    continue
                fragment = unquote(parts.fragment)
                if fragment and target.suffix == ".html" and fragment not in anchors(target):
                    broken.append(
                        f"{name}: {link} (no id '{fragment}' in {target.relative_to(html).as_posix()})"
                    )
    return broken, external


def host_counts(external) -> str:
    """The hosts of external links, with how many links each: "github.com (3), ..."."""
    hosts = Counter(urlsplit(url).netloc or url for url in external)
    return ", ".join(f"{host} ({n})" for host, n in sorted(hosts.items()))


# --------------------------------------------------------------------------- weights


def is_shared_asset(path: str) -> bool:
    """Theme/extension assets, loaded by every page and cached by the browser."""
    return path.startswith("_static/") or path == "searchindex.js"


def page_weights(reports: list[PageReport]) -> tuple[dict[str, dict], dict[str, int]]:
    """Per page: bytes of its HTML, its images and other page-specific files;
    plus the shared theme assets, counted once over the whole site."""
    per_page: dict[str, dict] = {}
    shared: dict[str, int] = {}
    for r in reports:
        html_bytes = images = other = 0
        for path, size in r.resources.items():
            if is_shared_asset(path):
                shared[path] = size
            elif path == r.page:
                html_bytes += size
            elif path.rsplit(".", 1)[-1].lower() in ("png", "jpg", "jpeg", "gif", "svg", "webp"):
                images += size
            else:
                other += size
        per_page[r.page] = {
            "html": html_bytes,
            "images": images,
            "other": other,
            "total": html_bytes + images + other,
        }
    return per_page, shared


def format_weights(per_page: dict[str, dict], shared: dict[str, int]) -> list[str]:
    lines = [f"{'page':34} {'HTML':>9} {'images':>9} {'other':>9} {'total':>9}"]
    for page, w in per_page.items():
        lines.append(f"{page:34} {w['html']:9,} {w['images']:9,} {w['other']:9,} {w['total']:9,}")
    lines.append(
        f"shared theme assets, counted once: {sum(shared.values()):,} bytes "
        f"in {len(shared)} files; the largest:"
    )
    for path, size in sorted(shared.items(), key=lambda kv: -kv[1])[:4]:
        lines.append(f"    {size:9,}  {path}")
    return lines


def format_reports(reports: list[PageReport]) -> list[str]:
    lines = []
    for r in reports:
        lines.append(
            f"{r.page} [{r.scheme}]: {len(r.console_errors)} console errors, "
            f"{len(r.failed_requests)} failed requests, "
            f"{len(r.external_requests)} external requests, "
            f"{len(r.violations)} axe violations"
        )
        for e in r.console_errors:
            lines.append(f"    console: {e}")
        for f in r.failed_requests:
            lines.append(f"    failed:  {f}")
        for x in r.external_requests:
            lines.append(f"    external: {x}")
        for v in r.violations:
            lines.append(f"    axe: {v['id']} ({v['impact']}, {v['nodes']} nodes): {v['help']}")
    totals = Counter((v["id"], v["impact"]) for r in reports for v in r.violations)
    if totals:
        lines.append("axe rules violated (pages):")
        for (rule, impact), n in sorted(totals.items(), key=lambda kv: IMPACTS.index(kv[0][1])):
            lines.append(f"    {rule} ({impact}): {n}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=bookfacts.book.ROOT / "_build" / "html")
    parser.add_argument("--dark", action="store_true", help="also audit in the dark colour scheme")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("pages", nargs="*", help="pages to audit (default: every page)")
    args = parser.parse_args()
    problem = headless.missing_chromium_message()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    schemes = ("light", "dark") if args.dark else ("light",)
    reports = audit_site(args.html, args.pages or site_pages(), schemes)
    print("\n".join(format_reports(reports)))
    print()
    print("\n".join(format_weights(*page_weights([r for r in reports if r.scheme == "light"]))))
    broken, external = check_links(args.html)
    print()
    print(f"{len(broken)} broken internal links or anchors")
    print("\n".join(f"    {b}" for b in broken))
    print(f"{len(external)} external links, not checked: {host_counts(external)}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in reports], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The site in a real browser.

Every page of the built site is opened in headless Chromium, as a first-time
visitor, in the light and the dark colour scheme: no console errors, no failed
or 4xx/5xx requests, no request to another host, no axe-core accessibility
violations. Search finds the chapters, chapter pages show working launch and
download buttons and loaded figures with alt text, figures stay legible in
dark mode, no internal link or anchor is broken, and pages stay light.

The browser is Debian's Chromium (`sudo apt-get install -y chromium`), or the
binary named by $JAXBOOK_CHROMIUM; Playwright's browser downloads are never
used. Without a browser these tests fail and say how to install it.

Findings, page weights, external links and screenshots are written to
_build/browser/ and summarised at the end of the test run.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import bookfacts
import headless
import siteaudit
from conftest import CHAPTERS, ROOT

PAGES = siteaudit.site_pages(ROOT)
SCHEMES = ("light", "dark")
PHONE = "light, phone"  # the light scheme on a phone's screen (siteaudit.VIEWPORTS)
VIEWS = (*SCHEMES, PHONE)
PHONE_WIDTH = siteaudit.VIEWPORTS["phone"][0]
OUT = ROOT / "_build" / "browser"
# The lists of a page's report that must be empty in every view, as the messages name them.
PROBLEMS = {
    "console_errors": "console errors",
    "failed_requests": "failed or 4xx/5xx requests",
    "external_requests": "requests leaving the site",
    "violations": "axe-core violations (see _build/browser/audit.txt)",
}
MAX_PNG_BYTES = 1_000_000  # no multi-megabyte figures
MAX_PAGE_BYTES = 3_000_000  # a page's own HTML, images and files (theme assets not counted)

PAGE_FACTS_JS = """() => {
  const style = (e) => getComputedStyle(e);
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    return e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})
      && r.width > 0 && r.height > 0 && r.right > 0 && r.left < innerWidth;
  };
  const items = (sel) => [...document.querySelectorAll(sel)].map((e) => ({
    text: e.textContent.trim(), title: e.getAttribute("title") || "",
    href: e.getAttribute("href") ? e.href : null}));
  return {
    theme: document.documentElement.dataset.theme,
    images: [...document.querySelectorAll("img")].map((img) => ({
      src: img.getAttribute("src"), alt: img.getAttribute("alt"),
      width: img.naturalWidth, height: img.naturalHeight, complete: img.complete,
      output: !!img.closest("div.cell_output"),
      background: style(img).backgroundColor, padding: style(img).paddingTop,
    })),
    launch: items(".dropdown-launch-buttons .dropdown-menu li > *"),
    download: items(".dropdown-download-buttons .dropdown-menu li > *"),
    // The search boxes and buttons a reader can see (the search page's own form aside).
    search_controls: [...document.querySelectorAll(
      ".search-button-field, .search-button, .bd-header form.bd-search, .bd-sidebar form.bd-search")]
      .filter(shown).map((e) => e.className),
    // The page's width, and what sticks out of it (not inside a box that scrolls).
    scroll_width: document.documentElement.scrollWidth,
    too_wide: [...document.querySelectorAll("body *")].filter((e) => {
      if (e.getBoundingClientRect().right <= innerWidth + 1) return false;
      for (let p = e.parentElement; p; p = p.parentElement) {
        if (["auto", "scroll", "hidden", "clip"].includes(style(p).overflowX)) return false;
      }
      return true;
    }).slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className} (${e.textContent.trim().slice(0, 40)})`),
    table_columns: Object.fromEntries([...document.querySelectorAll("table.jaxbook-timings-table")].map(
      (t) => [t.id, [...t.querySelectorAll("thead th")].filter((th) => th.checkVisibility())
        .map((th) => th.textContent.trim())])),
  };
}"""


# --------------------------------------------------------------------------- fixtures


class _Summary:
    """Sections printed at the end of the pytest run (registered as a plugin)."""

    def __init__(self):
        self.sections: dict[str, list[str]] = {}

    def pytest_terminal_summary(self, terminalreporter):
        for title, lines in self.sections.items():
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def summary(request) -> _Summary:
    plugin = _Summary()
    request.config.pluginmanager.register(plugin, "jaxbook-browser-summary")
    OUT.mkdir(parents=True, exist_ok=True)
    return plugin


@pytest.fixture(scope="session")
def site(book):
    """The base URL of the built site, served on 127.0.0.1."""
    with headless.serve(book.html) as base:
        yield base


def _collect(page, report):
    report.facts = page.evaluate(PAGE_FACTS_JS)
    if report.scheme in ("light", PHONE) and page.locator(".dropdown-download-buttons").count():
        # The buttons work in the browser: the toggles are visible, and a click
        # on the download toggle opens a menu whose items are visible.
        report.facts["launch_toggle_visible"] = page.locator(
            ".dropdown-launch-buttons > button"
        ).first.is_visible()
        toggle = page.locator(".dropdown-download-buttons > button").first
        report.facts["download_toggle_visible"] = toggle.is_visible()
        toggle.click()
        report.facts["download_menu_visible"] = page.locator(
            ".dropdown-download-buttons .dropdown-menu li"
        ).first.is_visible()
        page.keyboard.press("Escape")


def _audit_keys(html, browser) -> dict[str, str]:
    """For each page, a hash of everything its audit depends on: its HTML, the
    site's other files (theme, scripts, search index), the browser's version and
    the audit code. A page whose key is unchanged since its last audit on this
    machine would give the same audit: its recorded reports are used again."""
    common = hashlib.sha256(browser.version.encode())
    for code in (Path(siteaudit.__file__), Path(__file__)):
        common.update(code.read_bytes())
    for path in sorted(p for p in html.rglob("*") if p.is_file() and p.suffix != ".html"):
        common.update(path.relative_to(html).as_posix().encode() + path.read_bytes())
    return {page: hashlib.sha256(common.digest() + (html / page).read_bytes()).hexdigest() for page in PAGES}


@pytest.fixture(scope="session")
def audits(book, browser, site, summary) -> dict[tuple[str, str], siteaudit.PageReport]:
    """Every page, opened once per colour scheme: console, requests, axe, facts
    (a page identical to one audited before, with the same site around it, keeps
    its recorded audit)."""
    reports, reused = {}, 0
    cache = OUT / "audit-cache"
    cache.mkdir(parents=True, exist_ok=True)
    for page, key in _audit_keys(book.html, browser).items():
        recorded = cache / f"{page.replace('/', '-')}.json"
        saved = json.loads(recorded.read_text()) if recorded.exists() else {}
        if saved.get("key") == key:
            found = [siteaudit.PageReport(**r) for r in saved["reports"]]
            reused += 1
        else:
            found = siteaudit.audit_page(browser, site, book.html, page, SCHEMES, collect=_collect)
            found += siteaudit.audit_page(
                browser, site, book.html, page, ("light",), collect=_collect, viewport="phone"
            )
            recorded.write_text(json.dumps({"key": key, "reports": [asdict(r) for r in found]}))
        for report in found:
            reports[page, report.scheme] = report
    summary.sections["browser: audits"] = [
        f"{len(PAGES) - reused} pages audited now, {reused} unchanged since their last audit here"
    ]
    lines = siteaudit.format_reports(list(reports.values()))
    (OUT / "audit.txt").write_text("\n".join(lines) + "\n")
    (OUT / "audit.json").write_text(json.dumps([asdict(r) for r in reports.values()], indent=1))
    clean = not any(getattr(r, problem) for r in reports.values() for problem in PROBLEMS)
    summary.sections["browser: every page, light and dark, desktop and phone"] = (
        [
            f"{len(PAGES)} pages x {len(VIEWS)} views ({', '.join(VIEWS)}): no console errors, "
            "failed or external requests, or axe violations"
        ]
        if clean
        else lines
    ) + [f"(details in {(OUT / 'audit.txt').relative_to(ROOT)})"]

    per_page, shared = siteaudit.page_weights([r for (p, s), r in reports.items() if s == "light"])
    weights = siteaudit.format_weights(per_page, shared)
    (OUT / "page-weights.txt").write_text("\n".join(weights) + "\n")
    summary.sections["page weight: bytes transferred per page (theme assets counted once)"] = weights
    return reports


def _reports(audits, page):
    return [audits[page, view] for view in VIEWS]


# --------------------------------------------------------------------------- every page


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("page", PAGES)
def test_no_problems(audits, page, problem):
    """No console errors, no failed or 4xx/5xx requests, no request to another host
    (pages display without third-party hosts: MathJax is served by the site), no
    axe-core accessibility violations of any impact."""
    found = {
        r.scheme: r.axe_summary() if problem == "violations" else getattr(r, problem)
        for r in _reports(audits, page)
        if getattr(r, problem)
    }
    assert not found, f"{page}: {PROBLEMS[problem]} {found}"


@pytest.mark.parametrize("page", PAGES)
def test_images_load_and_have_alt_text(audits, page):
    for report in _reports(audits, page):
        for img in report.facts["images"]:
            assert img["complete"] and img["width"] > 0 and img["height"] > 0, (
                f"{page} [{report.scheme}]: image {img['src']} did not load"
            )
            assert img["alt"] is not None, f"{page}: image {img['src']} has no alt attribute"
            if img["output"]:
                alt = img["alt"].strip()
                assert alt and not alt.endswith(".png"), f"{page}: figure {img['src']} without alt text"


# --------------------------------------------------------------------------- chapters


@pytest.mark.parametrize("view", ("light", PHONE))
@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_shows_launch_and_download_buttons(book, audits, docname, view):
    """The Colab and download buttons are on the screen, on a phone's too, and their menus open."""
    facts = audits[f"{docname}.html", view].facts
    assert facts.get("launch_toggle_visible"), f"{docname} [{view}]: no visible launch button"
    assert facts["launch"], f"{docname} [{view}]: the launch menu is empty"
    assert facts.get("download_toggle_visible"), f"{docname} [{view}]: no visible download button"
    assert facts.get("download_menu_visible"), f"{docname} [{view}]: the download menu did not open"
    downloads = {item["text"]: item["href"] for item in facts["download"]}
    assert {".ipynb", ".md"} <= set(downloads), f"{docname}: downloads {sorted(downloads)}"
    # the .ipynb download is the chapter's Colab notebook (tests/test_colab.py checks it)
    notebook = book.html / urlsplit(downloads[".ipynb"]).path.lstrip("/")
    assert notebook.read_bytes() == (ROOT / "_build" / "colab" / f"{docname}.ipynb").read_bytes()
    source = book.html / urlsplit(downloads[".md"]).path.lstrip("/")
    assert source.read_text() == bookfacts.book.source_path(ROOT, docname).read_text()
    colab = [i["href"] for i in facts["launch"] if i["href"] and "colab" in (i["text"] + i["title"]).lower()]
    assert colab == [book.page(docname).select_one("a[href^='https://colab.research.google.com']")["href"]]


@pytest.mark.parametrize("docname", CHAPTERS)
def test_output_figures_sit_on_a_light_card_in_dark_mode(audits, docname):
    for img in audits[f"{docname}.html", "dark"].facts["images"]:
        if img["output"]:
            assert img["background"] == "rgb(255, 255, 255)" and img["padding"] != "0px", (
                f"{docname}: figure {img['src']} in dark mode: background {img['background']}, "
                f"padding {img['padding']}"
            )


# --------------------------------------------------------------------------- search


@pytest.mark.parametrize("term, docname", [("vmap", "chapters/vmap"), ("grad", "chapters/autodiff")])
def test_search_lists_the_chapter(browser, site, term, docname):
    """Typing the term into the search page lists the chapter that teaches it."""
    report = siteaudit.PageReport("search.html")
    with siteaudit.visit(browser, site, "search.html", report=report) as page:
        box = page.locator(".bd-search-container form.bd-search input")
        box.fill(term)
        box.press("Enter")
        page.wait_for_function(
            "() => (document.querySelector('#search-results .search-summary') || {}).textContent",
            timeout=15_000,
        )
        hrefs = page.eval_on_selector_all(
            "#search-results ul.search li a", "links => links.map(a => a.getAttribute('href'))"
        )
        found = {re.sub(r"\.html$", "", urlsplit(h).path) for h in hrefs}
        violations = siteaudit.run_axe(page)
    assert not report.console_errors, report.console_errors
    assert docname in found, f"searching {term!r} listed {sorted(found)}, not {docname}"
    assert not violations, f"search results page: axe-core violations {violations}"


# --------------------------------------------------------------------------- dark mode


def test_theme_button_cycles_modes_without_errors(browser, site):
    """The colour-mode button works from a first visit (the theme's default
    mode used to be empty: "Got invalid theme mode")."""
    report = siteaudit.PageReport(f"{CHAPTERS[0]}.html")
    with siteaudit.visit(browser, site, report.page, report=report) as page:
        initial = page.evaluate("() => document.documentElement.dataset.mode")
        modes = []
        for _ in range(3):
            page.locator(".theme-switch-button:visible").first.click()
            modes.append(
                page.evaluate(
                    "() => [document.documentElement.dataset.mode, document.documentElement.dataset.theme]"
                )
            )
    assert not report.console_errors, report.console_errors
    assert initial == "auto"
    assert modes == [["dark", "dark"], ["light", "light"], ["auto", "light"]], modes


def _transparent_figure_png() -> bytes:
    """A figure the way a chapter should not make it: transparent background,
    black axes and text (illegible on a dark page without help)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=60)
    ax.plot([0, 1, 2], [0, 1, 0], color="black")
    ax.set_title("transparent")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", transparent=True)
    plt.close(fig)
    return buf.getvalue()


def _luminance(pixel) -> float:
    r, g, b = pixel[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_dark_mode_figures_sit_on_a_light_card(book, browser, site, summary):
    """The look chosen for figures in dark mode (_static/jaxbook.css): a white
    card around each output image, so that even a transparent figure with black
    lines is legible; in light mode images are shown as they are. Screenshots
    of one chapter in both modes go to _build/browser/screenshots/."""
    import base64

    from PIL import Image, ImageStat

    shots = OUT / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with_figures = [d for d in CHAPTERS if book.page(d).select("div.cell_output img")]
    docname = with_figures[0] if with_figures else CHAPTERS[0]
    png = "data:image/png;base64," + base64.b64encode(_transparent_figure_png()).decode()
    saved = []
    for scheme in SCHEMES:
        with siteaudit.visit(browser, site, f"{docname}.html", scheme) as page:
            # A screenshot of the chapter around its first figure, for people to look at.
            figure = page.locator("div.cell_output img").first
            if figure.count():
                figure.evaluate("e => e.scrollIntoView({block: 'center'})")
            path = shots / f"{docname.replace('/', '-')}-{scheme}.png"
            page.screenshot(path=str(path))
            saved.append(path)
            # The rule itself, on a transparent figure added to the page.
            page.evaluate(
                """(src) => {
                  const out = document.createElement("div");
                  out.className = "cell_output docutils container";
                  out.id = "jaxbook-test-figure";
                  out.innerHTML = `<img alt="test figure" src="${src}">`;
                  document.querySelector("article.bd-article").prepend(out);
                }""",
                png,
            )
            img = page.locator("#jaxbook-test-figure img")
            page.wait_for_function("() => document.querySelector('#jaxbook-test-figure img').complete")
            img.evaluate("e => e.scrollIntoView({block: 'center'})")
            box = img.bounding_box()
            path = shots / f"transparent-figure-{scheme}.png"
            # In CSS pixels, the unit of the box.
            shot = Image.open(io.BytesIO(page.screenshot(path=str(path), scale="css"))).convert("RGB")
            saved.append(path)
            x, y, width, height = box["x"], box["y"], box["width"], box["height"]
            inside = shot.crop((int(x + 12), int(y + 12), int(x + width - 12), int(y + height - 12)))
            background = ImageStat.Stat(inside).median  # the figure's (transparent) background
            corner = shot.getpixel((int(x + 3), int(y + height / 2)))
            page_bg = shot.getpixel((int(x - 8), int(y + height / 2)))
        if scheme == "dark":
            assert _luminance(page_bg) < 80, f"dark mode page background {page_bg} is not dark"
            assert _luminance(corner) > 200, f"dark mode: figure card {corner} is not light"
            assert _luminance(background) > 180, (
                f"dark mode: a transparent figure shows {background}, not a light background"
            )
        else:
            assert _luminance(page_bg) > 230 and _luminance(background) > 230
    summary.sections["dark mode screenshots"] = [str(p.relative_to(ROOT)) for p in saved]


# --------------------------------------------------------------------------- links and weight


def test_no_broken_internal_links(book, summary):
    broken, external = siteaudit.check_links(book.html)
    (OUT / "external-links.txt").write_text(
        "".join(f"{url}  <- {', '.join(sorted(pages))}\n" for url, pages in sorted(external.items()))
    )
    summary.sections["links"] = [
        f"{len(broken)} broken internal links or anchors in {len(siteaudit.built_pages(book.html))} pages",
        f"{len(external)} external links, not checked (offline): {siteaudit.host_counts(external)}",
        f"(listed in {(OUT / 'external-links.txt').relative_to(ROOT)})",
    ]
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_link_checker_finds_broken_links(tmp_path):
    (tmp_path / "a.html").write_text(
        '<p id="here"></p><a href="#here">ok</a><a href="b.html#there">ok</a>'
        '<a href="b.html#nowhere">bad anchor</a><a href="c.html">bad file</a>'
        '<img src="img.png"><a href="https://example.org/">external</a>'
    )
    (tmp_path / "b.html").write_text('<h1 id="there">B</h1>')
    broken, external = siteaudit.check_links(tmp_path)
    assert sorted(broken) == [
        "a.html: b.html#nowhere (no id 'nowhere' in b.html)",
        "a.html: c.html (no such file)",
        "a.html: img.png (no such file)",
    ]
    assert set(external) == {"https://example.org/"}


def test_figures_are_small(book):
    big = {
        p.relative_to(book.html).as_posix(): p.stat().st_size
        for p in book.html.rglob("*.png")
        if p.stat().st_size > MAX_PNG_BYTES
    }
    assert not big, f"PNG files over {MAX_PNG_BYTES:,} bytes: {big}"


@pytest.mark.parametrize("page", PAGES)
def test_page_weight(audits, page):
    per_page, _ = siteaudit.page_weights([audits[page, "light"]])
    weight = per_page[page]
    assert weight["html"] > 0, f"{page}: its HTML was not loaded"
    assert weight["total"] <= MAX_PAGE_BYTES, f"{page}: {weight['total']:,} bytes ({weight})"


# --------------------------------------------------------------------------- phones and search


@pytest.mark.parametrize("page", PAGES)
def test_one_search_box(audits, page):
    """One search box or button at every width: the sidebar's field on a wide
    screen, the header's button on a phone (no second field in a header bar)."""
    found = {r.scheme: r.facts["search_controls"] for r in _reports(audits, page)}
    assert all(len(controls) == 1 for controls in found.values()), f"{page}: search controls {found}"


@pytest.mark.parametrize("page", PAGES)
def test_no_horizontal_scroll_on_a_phone(audits, page):
    """On a phone the page never scrolls sideways: wide code, outputs and tables
    scroll inside their own box."""
    facts = audits[page, PHONE].facts
    assert facts["scroll_width"] <= PHONE_WIDTH, (
        f"{page}: {facts['scroll_width']} px wide on a {PHONE_WIDTH} px phone; too wide: {facts['too_wide']}"
    )


def test_timings_tables_fit_a_phone(audits):
    """The Timings tables keep their key columns on a phone and drop the others
    (all of them are shown on a wide screen)."""
    wide = audits["timings.html", "light"].facts["table_columns"]
    narrow = audits["timings.html", PHONE].facts["table_columns"]
    measurements = "jaxbook-timings-measurements-table"
    assert len(wide[measurements]) == 7, wide
    assert {"Chapter", "Measured", "Median per call"} <= set(narrow[measurements]), narrow
    assert len(narrow[measurements]) <= 4, f"{len(narrow[measurements])} columns on a phone: {narrow}"
    assert all(len(columns) <= 5 for columns in narrow.values()), narrow


def test_navigation_and_search_reachable_on_a_phone(browser, site):
    """On a phone the menu button opens the book's navigation (every page of the
    toc), and the search button opens the search box."""
    report = siteaudit.PageReport(f"{CHAPTERS[-1]}.html")
    with siteaudit.visit(browser, site, report.page, viewport="phone", report=report) as page:
        page.locator("button.primary-toggle:visible").first.click()
        nav = page.locator("#pst-primary-sidebar-modal[open] nav.bd-docs-nav")
        nav.wait_for(state="visible", timeout=5_000)
        links = nav.locator("a.reference.internal")
        targets = [
            urlsplit(href).path.removeprefix(urlsplit(site).path).removesuffix(".html")
            for href in links.evaluate_all("links => links.map(a => a.href)")
        ]
        first_link_visible = links.first.is_visible()
        page.keyboard.press("Escape")
        page.locator(".search-button__button:visible").first.click()
        box = page.locator("#pst-search-dialog[open] input[name=q]")
        box.wait_for(state="visible", timeout=5_000)
    assert not report.console_errors, report.console_errors
    assert first_link_visible
    assert set(bookfacts.book.toc_files(ROOT)) <= set(targets), targets


def test_search_keyboard_shortcut(browser, site):
    """Ctrl+K opens the search box from any page (the theme's shortcut), at both widths."""
    for viewport in siteaudit.VIEWPORTS:
        with siteaudit.visit(browser, site, f"{CHAPTERS[0]}.html", viewport=viewport) as page:
            page.keyboard.press("Control+k")
            box = page.locator("#pst-search-dialog[open] input[name=q]")
            box.wait_for(state="visible", timeout=5_000)
            focused = box.evaluate("e => e === document.activeElement")
        assert focused, f"{viewport}: Ctrl+K opened the search box without focusing it"


# --------------------------------------------------------------------------- found and shared


def _meta(soup, key):
    tag = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
    return tag["content"] if tag else None


@pytest.mark.parametrize("docname", bookfacts.book.toc_files(ROOT))
def test_link_preview_metadata(book, docname):
    """OpenGraph and Twitter-card tags: the page's title, its first sentence as
    description (not the setup cell's "This page was executed on ..."), its own
    absolute address, and the committed preview image."""
    from PIL import Image

    soup = book.page(docname)
    site_url = bookfacts.book.config(ROOT)["site_url"] + "/"
    title = soup.select_one("article h1").get_text(" ", strip=True).rstrip("#").strip()
    assert _meta(soup, "og:title") == title
    assert _meta(soup, "og:url") == f"{site_url}{docname}.html"
    assert _meta(soup, "og:site_name") == bookfacts.book.config(ROOT)["title"]
    assert _meta(soup, "twitter:card") == "summary_large_image"
    description = _meta(soup, "og:description")
    assert description and _meta(soup, "description") == description
    assert len(description) <= 200 and "This page was executed" not in description, description
    prose = " ".join(
        p.get_text()
        for p in soup.select("article p")
        if not p.find_parent(class_="cell") and not p.find_parent("li")
    )
    first = re.split(r"(?<=[.!?:])\s", " ".join(prose.split()), maxsplit=1)[0].rstrip(":")
    assert description.startswith(first[:60]), (
        f"{docname}: description {description!r} is not the page's first sentence {first!r}"
    )
    image = _meta(soup, "og:image")
    assert image.startswith(site_url), image
    local = book.html / image.removeprefix(site_url)
    assert local.is_file(), f"og:image {image} is not in the site"
    with Image.open(local) as img:
        assert (str(img.width), str(img.height)) == (
            _meta(soup, "og:image:width"),
            _meta(soup, "og:image:height"),
        )
        assert img.width >= 600 and 1.8 <= img.width / img.height <= 2.0, img.size
    assert _meta(soup, "og:image:alt")


def test_sitemap_and_robots_txt(book):
    """sitemap.xml lists every page of the toc (and nothing else) at the published
    address, even after an incremental build; robots.txt names it."""
    import xml.etree.ElementTree as ET

    site_url = bookfacts.book.config(ROOT)["site_url"] + "/"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [e.text for e in ET.parse(book.html / "sitemap.xml").getroot().findall("s:url/s:loc", ns)]
    assert locs == [f"{site_url}{d}.html" for d in bookfacts.book.toc_files(ROOT)], locs
    for loc in locs:
        assert (book.html / loc.removeprefix(site_url)).is_file(), loc
    robots = (book.html / "robots.txt").read_text().splitlines()
    assert "User-agent: *" in robots and f"Sitemap: {site_url}sitemap.xml" in robots, robots
    assert not any(line.startswith("Disallow: /") and line.strip() != "Disallow:" for line in robots), robots


def test_not_found_page(book, browser, summary):
    """GitHub Pages serves 404.html for any missing address under the site: served
    the same way here, it loads its styles and scripts from any depth, shows no
    errors, passes axe, and links to every chapter (the links work)."""
    prefix = siteaudit.site_prefix(ROOT)
    missing = "chapters/an/old/address.html"
    report = siteaudit.PageReport("404.html")
    with (
        headless.serve_like_pages(book.html, prefix) as base,
        siteaudit.visit(browser, base, missing, report=report) as page,
    ):
        heading = page.locator("article h1").first.text_content()
        links = page.eval_on_selector_all("ul.jaxbook-notfound-chapters a", "links => links.map(a => a.href)")
        styled = page.evaluate(
            "() => getComputedStyle(document.querySelector('.bd-sidebar-primary')).display !== 'block'"
            " || !!document.querySelector('link[href*=\"pydata-sphinx-theme.css\"]').sheet"
        )
        violations = siteaudit.run_axe(page)
        page.locator("ul.jaxbook-notfound-chapters a").nth(1).click()
        page.wait_for_load_state("load")
        arrived = (page.url, page.locator("article h1").first.text_content())
    # The missing address itself answers 404 (and Chromium logs it); nothing else may fail.
    failed = [f for f in report.failed_requests if missing not in f]
    errors = [e for e in report.console_errors if missing not in e]
    assert f"{missing} (HTTP 404)" in report.failed_requests
    assert heading.strip().startswith("Page not found")
    assert not errors and not failed, (errors, failed)
    assert styled
    assert not violations, violations
    assert [urlsplit(u).path for u in links] == [f"{prefix}{d}.html" for d in bookfacts.book.toc_files(ROOT)]
    assert arrived[0] == links[1] and arrived[1].strip(), arrived

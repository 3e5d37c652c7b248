"""The book as one PDF (`make pdf`, scripts/make_pdf.py): it opens, holds every page of
the toc with its prose, code, outputs, glued numbers, equations and figures, keeps
every line inside the page, and has bookmarks, working internal links and a title
page that says where the book was executed; every page of the site links to it.

Each check is a function of the PDF file; the tests at the end print small pages
with a known defect (raw `$$`, a line past the margin, a cut line, no bookmarks, no
image) through the same Chromium and show that the check catches it.
"""

from __future__ import annotations

import ctypes
import functools
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import bookfacts
import jaxbook_pdf
import make_pdf
from conftest import ROOT, page_cache_clear, text_of

MARGIN_PT = 15 / 25.4 * 72  # make_pdf prints with 15 mm left and right margins
SLACK_PT = 2.0  # a glyph's box may reach a little past its advance (italics, J)
# What must never reach a reader: MyST and LaTeX syntax that was not rendered.
RAW_MARKUP = {
    "$$": re.compile(r"\$\$"),
    "{glue:...}": re.compile(r"\{glue(:\w+)?\}"),
    "{doc}/{ref}/{math} role": re.compile(r"\{(doc|ref|math|numref|eq|download)\}`"),
    "a MyST directive": re.compile(r"```\{|:::\{|\{code-cell\}"),
    "inline TeX \\(...\\)": re.compile(r"\\\(|\\\)"),
    "a LaTeX command in prose": re.compile(r"\\(frac|begin|end|sum|int|partial|nabla|mathbf|left|right)\b"),
}


@dataclass
class PdfFacts:
    """What the tests read from a PDF (pypdfium2 for text, boxes, images and
    bookmarks; pdfminer for links)."""

    pages: list[str] = field(default_factory=list)  # the text of each page
    prose: list[str] = field(default_factory=list)  # ... without code and outputs (monospace)
    overflow: list[str] = field(default_factory=list)  # 'page 3: "text"' past the margins
    images: list[tuple[int, int]] = field(default_factory=list)  # each image's pixel size
    outline: list[tuple[int, str, int]] = field(default_factory=list)  # (level, title, page)
    links: list[dict] = field(default_factory=list)  # internal links: {page, name, target}

    @functools.cached_property
    def text(self) -> str:
        return "\n".join(self.pages)

    @functools.cached_property
    def compact(self) -> str:
        return compact(self.text)


def compact(text: str) -> str:
    """Text without whitespace or soft hyphens: how a wrapped line still matches."""
    # PDFium reports a hyphen that ends a line as U+FFFE.
    return re.sub(r"[\s\u00ad\u200b]+", "", text).replace("\ufffe", "-").replace("\u2212", "-")


FOOTER = re.compile(r"\s*\d+ / \d+\s*$")  # make_pdf's page numbers, the last text of each page


def read_pdf(path: Path, margin: float = MARGIN_PT) -> PdfFacts:
    import pypdfium2
    import pypdfium2.raw as pdfium_c

    facts = PdfFacts()
    name, flags = ctypes.create_string_buffer(256), ctypes.c_int()
    with pypdfium2.PdfDocument(str(path)) as doc:
        for index, page in enumerate(doc):
            width = page.get_width()
            textpage = page.get_textpage()
            count = textpage.count_chars()
            text = textpage.get_text_range(0, count) if count else ""
            facts.pages.append(FOOTER.sub("", text))
            prose, past = [], None
            for i, char in enumerate(text[:count]):
                pdfium_c.FPDFText_GetFontInfo(textpage.raw, i, name, len(name), ctypes.byref(flags))
                fixed_pitch = flags.value & 1  # code and outputs
                prose.append(" " if fixed_pitch else char)
                # Whitespace and MathJax's stretchy private-use glyphs have no meaningful box.
                if past or not char.strip() or "\ue000" <= char <= "\uf8ff":
                    continue
                left, _, right, _ = textpage.get_charbox(i)
                if right > width - margin + SLACK_PT or left < margin - SLACK_PT:
                    past = f"page {index + 1}: {text[max(0, i - 40) : i + 20]!r}"
            facts.prose.append(FOOTER.sub("", "".join(prose)))
            if past:
                facts.overflow.append(past)
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
                facts.images.append(tuple(obj.get_px_size()))
        for item in doc.get_toc():
            dest = item.get_dest()
            facts.outline.append((item.level, item.get_title(), dest.get_index() + 1 if dest else 0))
    facts.links = make_pdf.pdf_links(path)
    return facts


# --------------------------------------------------------------------------- checks


def raw_markup(facts: PdfFacts) -> list[str]:
    """Unrendered MyST or LaTeX in the prose (code may hold '$' or '\\(' legitimately)."""
    found = []
    for what, pattern in RAW_MARKUP.items():
        for n, text in enumerate(facts.prose, start=1):
            match = pattern.search(text)
            if match:
                found.append(f"{what} on page {n}: {text[max(0, match.start() - 40) : match.end() + 40]!r}")
                break
    return found


def missing_lines(facts: PdfFacts, lines: list[str]) -> list[str]:
    """The lines whose text is not in the PDF, whole (compared without whitespace,
    so a line wrapped at the margin still counts, a cut one does not). A line that
    a page break splits may be read out of order (PDFium follows the drawing order,
    and Chromium may draw the next page's prose first): its start must end one page
    and its rest be on the next."""
    pages = [compact(page) for page in facts.pages]
    missing = []
    for line in lines:
        text = compact(line)
        if not text or text in facts.compact:
            continue
        if not any(
            pages[i].endswith(text[:k]) and text[k:] in pages[i + 1]
            for i in range(len(pages) - 1)
            for k in range(1, len(text))
            if pages[i].endswith(text[:k][-8:])
        ):
            missing.append(line)
    return missing


def missing_bookmarks(facts: PdfFacts, titles: list[str]) -> list[str]:
    """The titles that are not bookmarks, in this order."""
    bookmarks = [compact(title) for _, title, _ in facts.outline]
    missing, at = [], 0
    for title in titles:
        try:
            at = bookmarks.index(compact(title), at) + 1
        except ValueError:
            missing.append(title)
    return missing


def unsharp_or_missing_figures(facts: PdfFacts, sizes: list[tuple[int, int]]) -> list[str]:
    """Each figure of the site needs an image in the PDF with at least its pixels
    (not downsampled)."""
    available = sorted(facts.images)
    problems = []
    for w, h in sorted(sizes, reverse=True):
        match = next((i for i, (iw, ih) in enumerate(available) if iw >= w and ih >= h), None)
        if match is None:
            problems.append(f"no image of at least {w}×{h} pixels")
        else:
            available.pop(match)
    return problems


# --------------------------------------------------------------------------- the book's PDF


@pytest.fixture(scope="session")
def pdf(book):
    """`make pdf` (scripts/make_pdf.py): nothing is printed again when the single page
    did not change since the last print."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_pdf.py")], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.fail(
            "make pdf failed:\n" + result.stdout[-4000:] + "\n" + result.stderr[-4000:], pytrace=False
        )
    # the site's pages were written again (the download entry): read them afresh
    page_cache_clear()
    return ROOT / "_build" / "pdf" / make_pdf.PDF_NAME


@pytest.fixture(scope="session")
def facts(pdf) -> PdfFacts:
    return read_pdf(pdf)


def toc_pages(book) -> list[str]:
    return bookfacts.book.toc_files(book.root)


def title(book, docname: str) -> str:
    return text_of(book.page(docname).select_one("article h1")).rstrip("#").strip()


def shown_code_and_output_lines(nb) -> list[str]:
    """Every line of code and of text output a page shows of a notebook: sources of
    cells whose input is not removed (solutions included), stdout and plain-text
    results of cells whose output is not removed."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = bookfacts.checks.tags(cell)
        if "remove-cell" in tags:
            continue
        if "remove-input" not in tags:
            lines += cell.source.splitlines()
        if "remove-output" in tags:
            continue
        for out in bookfacts.checks.visible_outputs(cell):
            if out["output_type"] == "stream":
                lines += out["text"].splitlines()
            elif out["output_type"] in ("execute_result", "display_data"):
                data = out.get("data", {})
                if set(data) == {"text/plain"}:  # what the page shows as text
                    lines += data.get("text/plain", "").splitlines()
    return [ANSI.sub("", line) for line in lines]


ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours of outputs (jaxprs): shown as colours


def test_pdf_opens_with_every_page_of_the_toc_in_order(book, facts):
    assert len(facts.pages) > 20, f"only {len(facts.pages)} pages"
    starts = [compact(title(book, d)) for d in toc_pages(book)]
    positions = [facts.compact.find(t) for t in starts]
    assert all(p >= 0 for p in positions), [t for t, p in zip(starts, positions, strict=True) if p < 0]
    assert positions == sorted(positions), "the pages are not in the order of _toc.yml"


def test_title_page_says_where_and_when_the_book_was_executed(book, facts):
    summary = bookfacts.records.load_timings(book.html / "timings.json")["build"]
    first = compact(facts.pages[0])
    for fact in [bookfacts.book.config(book.root)["title"], *summary["devices"], *summary["jax_versions"]]:
        assert compact(fact) in first, f"the title page does not say {fact!r}: {facts.pages[0]!r}"
    assert summary["dates"][0] in facts.pages[0]


@pytest.mark.parametrize("docname", bookfacts.book.chapters(ROOT))
def test_every_glued_value_of_the_chapter_is_in_the_pdf(book, facts, docname):
    glued = [text_of(s) for s in book.page(docname).select("span.pasted-text")]
    numbers = [g for g in glued if re.search(r"\d", g)]
    assert numbers, f"{docname}: the page shows no glued number"
    # A glued sentence that a page break splits can come out of the PDF's text in
    # another order (math and code of the next page in between): then each of its
    # numbers must be there.
    missing = [
        g
        for g in glued
        if compact(g) not in facts.compact
        and not all(compact(n) in facts.compact for n in re.findall(r"\d[\d.,]*(?:\s?[×%µmn]?s\b|×)?", g))
    ]
    assert not missing, f"{docname}: glued values missing from the PDF: {missing[:10]}"


@pytest.mark.parametrize("docname", bookfacts.book.chapters(ROOT))
def test_every_code_line_and_output_line_is_in_the_pdf_whole(book, facts, docname):
    """Solutions included (open in the PDF), long outputs kept, no line cut at the margin."""
    lines = shown_code_and_output_lines(book.notebook(docname))
    missing = missing_lines(facts, lines)
    assert not missing, f"{docname}: {len(missing)} lines missing or cut, e.g. {missing[:5]}"


def test_no_raw_math_glue_or_myst_syntax(facts):
    assert not raw_markup(facts)


def test_no_text_runs_past_the_margins(facts):
    assert not facts.overflow, facts.overflow[:10]


def test_every_figure_of_the_site_is_in_the_pdf_at_full_resolution(book, facts):
    from PIL import Image

    sizes = []
    for docname in toc_pages(book):
        for img in book.page(docname).select("article img"):
            src = (book.html / docname).parent / img["src"]
            with Image.open(src) as image:
                sizes.append(image.size)
    assert sizes, "the site has no figures?"
    assert len(facts.images) >= len(sizes)
    assert not unsharp_or_missing_figures(facts, sizes)


def test_bookmarks_list_every_page_of_the_toc_in_order(book, facts):
    assert not missing_bookmarks(facts, [title(book, d) for d in toc_pages(book)])
    chapters = {compact(title(book, d)) for d in toc_pages(book)}
    for _level, name, page in facts.outline:
        if compact(name) in chapters:
            assert compact(name) in compact(facts.pages[page - 1]), f"bookmark {name!r} points at page {page}"


def test_internal_links_jump_to_their_page(book, facts):
    """The contents and the links between pages ({doc} and section references) jump
    inside the PDF, to the page where their target starts."""
    broken = [link for link in facts.links if link["target"] is None]
    assert not broken, broken[:10]
    by_name = {}
    for link in facts.links:
        by_name.setdefault(link["name"], link["target"])
    for docname in toc_pages(book):
        target = by_name.get(f"document-{docname}")
        assert target, f"nothing links to {docname} inside the PDF"
        assert compact(title(book, docname)) in compact(facts.pages[target - 1])
    # links from the prose, not only from the contents
    assert any(link["page"] > 4 and link["name"].startswith("document-") for link in facts.links)


def test_every_page_of_the_site_offers_the_pdf(book, pdf):
    published = book.html / make_pdf.PDF_NAME
    assert published.read_bytes() == pdf.read_bytes(), "the site does not serve the PDF of this build"
    for docname in toc_pages(book):
        page = book.html / f"{docname}.html"
        entries = book.page(docname).select(".dropdown-download-buttons a")
        assert ".md" in {text_of(a) for a in entries}, f"{docname}: no download menu?"
        links = [a for a in entries if a.get("href", "").endswith(make_pdf.PDF_NAME)]
        assert links, f"{docname}: no download entry for the PDF"
        assert (page.parent / links[0]["href"]).resolve() == published.resolve()
    landing = book.page(toc_pages(book)[0]).select_one(".jaxbook-pdf-book")
    size = jaxbook_pdf.human_size(pdf.stat().st_size)
    assert size in text_of(landing), f"the landing page says {text_of(landing)!r}, the PDF is {size}"
    assert landing.select_one("a")["href"] == make_pdf.PDF_NAME


def test_the_site_keeps_its_code_links_after_the_pdf_is_published(book, pdf):
    # make pdf writes every page again (its download entry); the publish workflow
    # uploads that site, so its code cells must still link their API names
    lost = [
        d for d in bookfacts.book.chapters(book.root) if not book.page(d).select("a.sphinx-codeautolink-a")
    ]
    assert not lost, f"pages without code links after make pdf: {lost}"


def test_publish_prints_the_pdf_after_the_site_and_before_uploading_it():
    import yaml

    steps = yaml.safe_load((ROOT / ".github" / "workflows" / "publish.yml").read_text())["jobs"]["build"][
        "steps"
    ]
    runs = [s.get("run", "") + s.get("uses", "") for s in steps]
    html = next(i for i, r in enumerate(runs) if r.strip() == "make html")
    pdf = next(i for i, r in enumerate(runs) if "make pdf" in r)
    upload = next(i for i, r in enumerate(runs) if "upload-pages-artifact" in r)
    assert html < pdf < upload


# --------------------------------------------------------------------------- the checks catch defects


@pytest.fixture(scope="module")
def printer(tmp_path_factory, browser):
    """print(html, **pdf options) -> PdfFacts of that HTML printed like the book."""
    folder = tmp_path_factory.mktemp("seeded")
    page = browser.new_page()

    def print_(html: str, name: str, **options) -> PdfFacts:
        page.set_content(html)
        target = folder / f"{name}.pdf"
        margin = dict.fromkeys(("left", "right", "top", "bottom"), "15mm")
        options = {"format": "A4", "margin": margin, "outline": True, "tagged": True, **options}
        page.pdf(path=str(target), **options)
        return read_pdf(target)

    yield print_
    page.close()


GOOD = "<h1>Chapter</h1><p>Prose with a number 1.25 and math.</p><pre>x = 1  # a short line</pre>"


def test_seeded_good_page_passes_every_check(printer):
    facts = printer(GOOD, "good")
    assert not raw_markup(facts) and not facts.overflow
    assert not missing_lines(facts, ["x = 1  # a short line"])
    assert not missing_bookmarks(facts, ["Chapter"])


def test_seeded_raw_math_and_glue_are_caught(printer):
    facts = printer(GOOD + "<p>$$ a^2 + b^2 $$ and {glue:text}`speedup:.1f` and \\(x\\)</p>", "raw")
    found = " ".join(raw_markup(facts))
    assert "$$" in found and "{glue" in found and "\\(" in found


def test_seeded_code_line_past_the_margin_is_caught(printer):
    """Chromium clips what runs past the margin: an unwrapped line (overflowing or
    cut by its box) loses its end, which the whole-line check sees; wrapped, it passes."""
    long = "y = " + " + ".join(f"x{i}" for i in range(60))
    for overflow in ("visible", "hidden"):
        facts = printer(f'{GOOD}<pre style="white-space: pre; overflow: {overflow}">{long}</pre>', overflow)
        assert missing_lines(facts, [long]) == [long], overflow
    wrapped = printer(
        f'{GOOD}<pre style="white-space: pre-wrap; overflow-wrap: anywhere">{long}</pre>', "wrapped"
    )
    assert not missing_lines(wrapped, [long]) and not wrapped.overflow


def test_seeded_text_in_the_margin_is_caught(printer):
    facts = printer(f'{GOOD}<p style="margin-left: -12mm">Into the margin</p>', "margin")
    assert facts.overflow


def test_seeded_missing_bookmarks_and_figures_are_caught(printer):
    facts = printer(GOOD, "flat", outline=False)
    assert missing_bookmarks(facts, ["Chapter"]) == ["Chapter"]
    assert unsharp_or_missing_figures(facts, [(640, 360)])

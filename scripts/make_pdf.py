"""The whole book as one PDF: `make pdf` (after `make html`; nothing is executed again).

1. **Sources.** A Sphinx `singlehtml` pass over the environment of the last
   `make html` (`_build/.staging`; cell outputs come from the execution cache, so no
   chapter runs again) writes every page of `_toc.yml`, in order, as one HTML page:
   `_build/pdf/html/<root>.html`. Links between pages become links inside it.
2. **Print.** The system Chromium (headless.py: $JAXBOOK_CHROMIUM or Debian's
   /usr/bin/chromium), driven by Playwright, opens that page, waits for MathJax to
   typeset every equation, prepares it for paper (PRINT_CSS, PREPARE_JS: a title
   page with the build's device, JAX version and dates from its timings.json, a
   table of contents, one part or chapter per page run, every solution open, code
   wrapped at the margin, long outputs kept whole) and prints it with page numbers,
   PDF bookmarks made from the headings (`outline`) and a tagged structure. It
   prints twice: the second time the table of contents carries the page numbers
   that the first print gave each entry.
3. **Publish.** `_build/pdf/learn-jax.pdf` and `learn-jax.json` (pages, bytes,
   date); then `make html`'s build runs again so that every page of the site gets
   its download entry and the landing page the PDF's size (extensions/jaxbook_pdf.py
   reads both files; nothing is executed).

`--stage sources|print|publish` runs one step alone (to print again, or publish a PDF
printed elsewhere); the default, which `make pdf` and the publish workflow run, does
all three.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))  # bookfacts, jaxbook_*

import bookfacts
import build
import headless
from jaxbook_pdf import FACTS_NAME, PDF_NAME

# What paper needs that a screen does not. The theme's own print rules already drop
# most of the navigation; this finishes the job and keeps every output whole.
PRINT_CSS = """
@page { size: A4; }
html, body { background: white !important; }
.bd-header, .bd-header-article, .header-article, .bd-sidebar-primary, .bd-sidebar-secondary,
.prev-next-area, .bd-footer, .bd-footer-article, .bd-footer-content, footer, #pst-back-to-top,
.headerlink, .copybtn, .skip-link, .search-button, .theme-switch-button, .sidebar-toggle,
details > summary, .toggle-button, .bd-search, #jb-print-docs-body, html body .onlyprint
  { display: none !important; }
/* The theme hides each page's first h1 in print (it prints its own title instead). */
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
.bd-page-width, .bd-main, .bd-main .bd-content, .bd-main .bd-content .bd-article-container,
.bd-container, .bd-container__inner, .bd-article, article
  { max-width: none !important; width: auto !important; padding: 0 !important; margin: 0 !important; }
/* The theme's page layout is nested flex boxes; on paper they are plain blocks, which
   Chromium splits between pages without losing a line. */
body, .bd-container, .bd-container__inner, .bd-main, .bd-main .bd-content,
.bd-main .bd-content .bd-article-container { display: block !important; }
body { font-size: 10pt; }
/* Code and outputs: every line wrapped at the margin, every output whole. */
pre, .highlight pre, div.cell_output pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: normal;
  overflow: visible !important; max-height: none !important; font-size: 8pt !important;
  line-height: 1.35 !important; }
div.cell_output, div.cell_output .output, div.output, .highlight, .cell_input,
.pst-scrollable-table-container, .table-wrapper, mjx-container[display="true"]
  { max-height: none !important; overflow: visible !important; }
mjx-container[display="true"] { max-width: 100%; }
table { font-size: 8pt; max-width: 100%; }
td, th { overflow-wrap: anywhere; }
/* A figure fits on one page (a tall plot is scaled down, keeping its pixels). */
img { max-width: 100% !important; max-height: 240mm; width: auto; height: auto; break-inside: avoid; }
h1, h2, h3, h4, h5, h6 { break-after: avoid; }
/* Code boxes are plain blocks on paper: Chromium clipped a flex box taller than a page
   at the page's end, losing the rest of the cell. A short cell or output is kept on
   one page (PREPARE_JS marks them); a long one runs on to the next page. */
div.cell_input, div.cell_input .highlight, div[class*="highlight-"], div.cell_output .highlight
  { display: block !important; break-inside: auto; }
.jaxbook-pdf-keep { break-inside: avoid !important; }
/* Every solution shown. */
details > :not(summary) { display: block !important; }
.toggle-hidden { display: block !important; visibility: visible !important; opacity: 1 !important; }
/* Parts and chapters start on a new page. */
.jaxbook-pdf-part, .jaxbook-pdf-chapter, .jaxbook-pdf-contents, .jaxbook-pdf-root { break-before: page; }
.jaxbook-pdf-part h1 { font-size: 28pt; margin-top: 35vh; text-align: center; }
.jaxbook-pdf-title { text-align: center; padding-top: 22vh; break-after: page; }
.jaxbook-pdf-title .title { font-size: 30pt; font-weight: bold; margin-bottom: 8mm; }
.jaxbook-pdf-title .subtitle { font-size: 13pt; margin-bottom: 25mm; }
.jaxbook-pdf-title p { margin: 2mm 0; }
.jaxbook-pdf-contents ol { list-style: none; padding-left: 0; }
.jaxbook-pdf-contents ol ol { padding-left: 6mm; }
.jaxbook-pdf-contents li { margin: 1.2mm 0; }
.jaxbook-pdf-contents a { display: flex; color: inherit !important; text-decoration: none; }
.jaxbook-pdf-contents a .fill { flex: 1; border-bottom: 1px dotted #999; margin: 0 2mm 1.2mm; }
.jaxbook-pdf-contents .part > a { font-weight: bold; margin-top: 3mm; }
"""

FOOTER = (
    '<div style="font-size:8pt;width:100%;text-align:center;color:#555;'
    'font-family:sans-serif"><span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)

# Short cells, outputs and equations are kept on one page (see PRINT_CSS): those under
# half a page's height, measured at the width of the printed text (180 mm, 680 px).
TEXT_WIDTH_PX = 680
KEEP_JS = """
() => {
  let kept = 0;
  for (const box of document.querySelectorAll("div.cell_input, div.cell_output > .output, div.math")) {
    if (box.getBoundingClientRect().height < 480) { box.classList.add("jaxbook-pdf-keep"); kept++; }
  }
  return kept;
}
"""

# Runs in the page: lays the single page out as a book. Returns what it did, for checks.
PREPARE_JS = """
({parts, root, title, facts}) => {
  document.documentElement.dataset.theme = "light";
  document.documentElement.dataset.mode = "light";
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  const rootSection = article.querySelector(":scope > section");
  const done = {missing: [], chapters: []};
  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const headingText = (h, fallback) => (h ? h.textContent.replace(/#$/, "").trim() : fallback);

  function relevel(node, top) {
    const heads = [...node.querySelectorAll("h1, h2, h3, h4, h5, h6")];
    if (!heads.length) return;
    const shift = parseInt(heads[0].tagName[1]) - top;
    for (const h of heads) {
      const level = Math.min(6, Math.max(1, parseInt(h.tagName[1]) - shift));
      if (level === parseInt(h.tagName[1])) continue;
      const n = document.createElement("h" + level);
      for (const a of h.attributes) n.setAttribute(a.name, a.value);
      n.append(...h.childNodes);
      h.replaceWith(n);
    }
  }

  // Every solution and dropdown open (the site collapses them).
  document.querySelectorAll("details").forEach((d) => (d.open = true));
  document.querySelectorAll(".toggle-hidden").forEach((e) => e.classList.remove("toggle-hidden"));

  // The pages of the toc, moved out of the root page's last section, one after another.
  const book = el("div");
  const contents = [];
  for (const part of parts) {
    const level = part.caption ? 2 : 1;
    let entry = null;
    if (part.caption) {
      const sec = el("section", "jaxbook-pdf-part");
      sec.id = "jaxbook-pdf-part-" + (contents.length + 1);
      sec.append(el("h1", "", part.caption));
      book.append(sec);
      entry = {title: part.caption, href: "#" + sec.id, part: true, children: []};
      contents.push(entry);
    }
    for (const doc of part.docs) {
      const span = document.getElementById("document-" + doc);
      const sec = span && span.nextElementSibling;
      if (!sec) { done.missing.push(doc); continue; }
      const wrap = el("div", "jaxbook-pdf-chapter");
      wrap.append(span, sec);
      relevel(sec, level);
      book.append(wrap);
      const name = headingText(sec.querySelector("h1, h2, h3, h4, h5, h6"), doc);
      (entry ? entry.children : contents).push({title: name, href: "#document-" + doc});
      done.chapters.push(doc);
    }
  }
  // The root page's own toctree wrapper is empty now.
  rootSection.querySelectorAll(".toctree-wrapper").forEach((w) => { if (!w.textContent.trim()) w.remove(); });
  const rootWrap = el("div", "jaxbook-pdf-root");
  rootWrap.id = "document-" + root;
  rootSection.replaceWith(rootWrap);
  rootWrap.append(rootSection);
  rootWrap.after(book);
  contents.unshift({title: headingText(rootSection.querySelector("h1"), root), href: "#document-" + root});

  // Title page and table of contents, before everything.
  const titlePage = el("div", "jaxbook-pdf-title");
  titlePage.append(el("p", "title", title.title), el("p", "subtitle", title.author));
  titlePage.append(...facts.map((text) => el("p", "fact", text)));
  const toc = el("nav", "jaxbook-pdf-contents");
  toc.setAttribute("aria-label", "Contents");
  const tocHead = el("p", "", "Contents");
  tocHead.style.cssText = "font-size: 20pt; font-weight: bold; margin-bottom: 6mm";
  toc.append(tocHead);
  function list(items) {
    const ol = el("ol");
    for (const it of items) {
      const li = el("li", it.part ? "part" : "");
      const a = el("a");
      a.href = it.href;
      const num = el("span", "page");
      num.dataset.target = it.href.slice(1);
      a.append(el("span", "", it.title), el("span", "fill"), num);
      li.append(a);
      if (it.children && it.children.length) li.append(list(it.children));
      ol.append(li);
    }
    return ol;
  }
  toc.append(list(contents));
  rootWrap.before(titlePage, toc);
  done.contents = contents;
  return done;
}
"""


def make_sources(book: Path, out: Path) -> None:
    """The singlehtml pass over the last `make html` build, into `out`/html."""
    staging = book / "_build" / ".staging"
    if not (staging / "last-build-succeeded").exists():
        raise SystemExit("make_pdf: run `make html` first (no successful build in _build/.staging).")
    backend = os.environ.get("JAX_BACKEND") or "cpu"
    with build.build_lock(book / "_build"):
        if build.run_jupyter_book(book, staging, False, backend, "--builder", "singlehtml") != 0:
            raise SystemExit("make_pdf: the singlehtml pass failed (see above).")
        build.swap_in(staging / "_build" / "singlehtml", out / "html")


def title_facts(html: Path) -> list[str]:
    """Where and when the book was executed (the site's timings.json), and when printed."""
    b = bookfacts.records.load_timings(html / "timings.json")["build"]
    dates = b["dates"]
    when = dates[0] if len(set(dates)) == 1 else f"{dates[0]} to {dates[-1]}"
    return [
        f"Executed on {', '.join(b['devices'])} with JAX {', '.join(b['jax_versions'])}, {when}.",
        f"Printed {datetime.date.today().isoformat()}. The book online: {bookfacts.book.config()['site_url']}/",
    ]


def print_pdf(book: Path, html: Path, target: Path) -> dict:
    """Print the singlehtml page to `target`; returns what the layout step did."""
    from playwright.sync_api import sync_playwright

    problem = headless.missing_chromium_message()
    if problem:
        raise SystemExit(problem)
    root, parts = bookfacts.book.toc_parts(book)
    settings = bookfacts.book.config(book)
    arguments = {
        "parts": parts,
        "root": root,
        "title": {"title": settings["title"], "author": settings["author"]},
        "facts": title_facts(html),
    }
    options = dict(
        format="A4",
        margin={"top": "16mm", "bottom": "18mm", "left": "15mm", "right": "15mm"},
        print_background=True,
        display_header_footer=True,
        header_template="<span></span>",
        footer_template=FOOTER,
        outline=True,
        tagged=True,
    )
    with headless.serve(html) as base, sync_playwright() as p:
        browser = headless.launch(p)
        try:
            page = browser.new_context(color_scheme="light").new_page()
            page.goto(base + f"{root}.html", wait_until="networkidle")
            page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
            page.evaluate("MathJax.startup.promise")
            done = page.evaluate(PREPARE_JS, arguments)
            if done["missing"]:
                raise SystemExit(
                    f"make_pdf: pages of _toc.yml missing from the single page: {done['missing']}"
                )
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            page.set_viewport_size({"width": TEXT_WIDTH_PX, "height": 1000})
            page.evaluate("MathJax.typesetPromise()")
            done["kept_on_one_page"] = page.evaluate(KEEP_JS)
            page.evaluate("document.fonts.ready.then(() => true)")
            # First print (untagged: faster, same layout): where each entry of the contents starts.
            page.pdf(path=str(target), **{**options, "outline": False, "tagged": False})
            numbers = contents_pages(target)
            page.evaluate(
                """(numbers) => { for (const n of document.querySelectorAll('.jaxbook-pdf-contents .page'))
                     n.textContent = numbers[n.dataset.target] ?? ''; }""",
                numbers,
            )
            page.pdf(path=str(target), **options)
            second = contents_pages(target)
            if second != numbers:
                raise SystemExit(
                    f"make_pdf: the page numbers moved between the prints: {numbers} vs {second}"
                )
            done["contents_pages"] = numbers
        finally:
            browser.close()
    return done


def contents_pages(pdf: Path) -> dict[str, int]:
    """{target id: page number} of the contents' links (on the title page and the
    contents, the first pages): Chromium turns each '#id' link into a jump to the id's place."""
    numbers: dict[str, int] = {}
    for link in pdf_links(pdf):
        if link["page"] <= 6 and link["name"] and link["target"]:
            numbers.setdefault(link["name"], link["target"])
    return numbers


def pdf_links(pdf: Path) -> list[dict]:
    """The links of a PDF that jump inside it, from its link annotations (pdfminer):
    [{page, name, target}]: the page numbers of the link and of its destination (None
    when the destination does not exist) and the destination's name (None for an
    explicit destination)."""
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    def name_of(name):
        return name.decode() if isinstance(name, bytes) else getattr(name, "name", str(name))

    def page_of(dest):  # the page object id of a destination
        dest = resolve1(dest)
        if isinstance(dest, dict):
            dest = resolve1(dest.get("D"))
        if isinstance(dest, list) and dest:
            return getattr(dest[0], "objid", None)
        return None

    with open(pdf, "rb") as handle:
        doc = PDFDocument(PDFParser(handle))
        pages = list(PDFPage.create_pages(doc))
        number = {page.pageid: n for n, page in enumerate(pages, start=1)}
        # The named destinations: the catalog's /Dests and its /Names tree.
        names = {name_of(k): page_of(d) for k, d in (resolve1(doc.catalog.get("Dests")) or {}).items()}

        def walk(node):
            node = resolve1(node)
            items = resolve1(node.get("Names", []))
            for i in range(0, len(items), 2):
                names[name_of(items[i])] = page_of(items[i + 1])
            for kid in resolve1(node.get("Kids", [])):
                walk(kid)

        tree = resolve1(doc.catalog.get("Names")) or {}
        if "Dests" in tree:
            walk(tree["Dests"])
        links = []
        for n, page in enumerate(pages, start=1):
            for annot in map(resolve1, resolve1(page.annots) or []):
                if getattr(resolve1(annot.get("Subtype")), "name", None) != "Link":
                    continue
                dest = resolve1(annot.get("Dest"))
                action = resolve1(annot.get("A")) or {}
                if dest is None and getattr(resolve1(action.get("S")), "name", None) == "GoTo":
                    dest = resolve1(action.get("D"))
                if dest is None:
                    continue
                if isinstance(dest, list):  # an explicit destination: [page, /XYZ, ...]
                    name, target = None, page_of(dest)
                else:
                    name = name_of(dest)
                    target = names.get(name)
                links.append({"page": n, "name": name, "target": number.get(target)})
    return links


def publish(book: Path, pdf: Path, pages: int) -> None:
    """The facts the site shows (extensions/jaxbook_pdf.py), then the site built again."""
    info = {
        "file": pdf.name,
        "bytes": pdf.stat().st_size,
        "pages": pages,
        "date": datetime.date.today().isoformat(),
    }
    pdf.with_name(FACTS_NAME).write_text(json.dumps(info, indent=2) + "\n")
    # The new facts change an 'html' setting (jaxbook_pdf), so every page is written
    # again, and read again too (extensions/jaxbook_executed.py: a page written without
    # being read would lose its code links); nothing is executed.
    code = build.main(["--book", str(book)])
    if code != 0:
        raise SystemExit(code)


def sources_hash(html: Path) -> str:
    """A hash of the single page and everything next to it (images, scripts), and of
    this file (the print's layout)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(p for p in html.rglob("*") if p.is_file()):
        digest.update(path.relative_to(html).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def up_to_date(out: Path) -> bool:
    """The PDF and its facts exist and were printed from the current single page."""
    record = out / "print.json"
    if not all(p.is_file() for p in (out / PDF_NAME, out / FACTS_NAME, record)):
        return False
    return json.loads(record.read_text()).get("sources") == sources_hash(out / "html")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=bookfacts.book.ROOT)
    parser.add_argument("--stage", choices=("all", "sources", "print", "publish"), default="all")
    args = parser.parse_args(argv)
    book = args.book.resolve()
    out = book / "_build" / "pdf"
    out.mkdir(parents=True, exist_ok=True)
    pdf = out / PDF_NAME
    start = time.perf_counter()
    if args.stage in ("all", "sources"):
        make_sources(book, out)
        print(f"make_pdf: the single page is in {out / 'html'} ({time.perf_counter() - start:.0f} s)")
    if args.stage == "all" and up_to_date(out):
        print(f"make_pdf: {pdf} is up to date (the single page did not change since it was printed)")
        return 0
    if args.stage in ("all", "print"):
        import pypdfium2

        t = time.perf_counter()
        tmp = pdf.with_suffix(".pdf.tmp")
        done = print_pdf(book, out / "html", tmp)
        tmp.replace(pdf)
        with pypdfium2.PdfDocument(pdf) as doc:
            pages = len(doc)
        record = {"pages": pages, "sources": sources_hash(out / "html"), **done}
        (out / "print.json").write_text(json.dumps(record, indent=2) + "\n")
        print(
            f"make_pdf: {pdf} ({pages} pages, {pdf.stat().st_size / 1e6:.1f} MB, "
            f"printed in {time.perf_counter() - t:.0f} s)"
        )
    if args.stage in ("all", "publish"):
        pages = json.loads((out / "print.json").read_text())["pages"]
        publish(book, pdf, pages)
    print(f"make_pdf: done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

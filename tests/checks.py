"""The checks the tests run on the built book, kept apart from the tests so that
tests/test_checks.py can feed each one a defect and see it fail."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

import bookfacts
import make_inventories
from conftest import text_of

MIN_PROSE = 0.95
MYST = re.compile(
    r"\{glue(?::\w+)?\}|\{(?:doc|ref|numref|eq|math|term|download)\}`|```\{|:::\{|^\(\S+\)=\s*$", re.M
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)|<a\s[^>]*href=\"([^\"]+)\"|<img\s[^>]*src=\"([^\"]+)\"")
HIDDEN_TAGS = {"hide-cell", "remove-cell", "remove-input"}
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")


def markdown_of(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def chapter_code_cells(nb) -> list:
    """The chapter's own code cells: every code cell after the install cell."""
    return [c for c in nb.cells if c.cell_type == "code"][1:]


def myst_leftovers(nb) -> list[str]:
    return sorted({m.group(0).strip() for m in MYST.finditer(markdown_of(nb))})


def prose_words(text: str) -> Counter:
    """The words of a chapter's prose: outside code cells, directive options and
    the front matter; roles that stand for a number or a link are left out."""
    text = text.split("\n---\n", 1)[1] if text.startswith("---\n") else text
    text = re.sub(r"^(```+)\{code-cell\}.*?^\1\s*$", "", text, flags=re.M | re.S)
    text = re.sub(r"^(```+|:::+)\{[\w:-]+\}", "", text, flags=re.M)  # directive names (titles stay)
    text = re.sub(r"^:[\w-]+:.*$", "", text, flags=re.M)  # directive options
    text = re.sub(r"^\(\S+\)=\s*$", "", text, flags=re.M)  # targets
    text = re.sub(r"\{(?:glue(?::\w+)?|doc|ref|numref|eq)\}`[^`]*`", "", text)
    return Counter(WORD.findall(text))


def prose_coverage(chapter_text: str, nb) -> float:
    wanted = prose_words(chapter_text)
    have = Counter(WORD.findall(markdown_of(nb)))
    return sum(min(n, have[w]) for w, n in wanted.items()) / max(1, sum(wanted.values()))


def glued_values_missing(page, nb) -> list[str]:
    """Values the page shows from glue ({glue:text}) that the notebook lacks."""
    text = " ".join(markdown_of(nb).split())
    shown = {" ".join(span.get_text().split()) for span in page.select(".pasted-text, .pasted-inline")}
    return sorted(v for v in shown if v and v not in text)


def links_of(nb) -> list[str]:
    return [next(g for g in match.groups() if g) for match in LINK.finditer(markdown_of(nb))]


def link_problems(nb) -> list[str]:
    """Every link and image is absolute, on https, to a public host."""
    problems = []
    for url in links_of(nb):
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc or parts.hostname in ("localhost", "127.0.0.1"):
            problems.append(url)
    return problems


def collapse_problems(nb, chapter) -> list[str]:
    """Cells the page hides (solutions, hidden checks, the setup) are collapsed
    Colab form cells: `cellView: form` and a `# @title` first line."""
    problems = []
    code = chapter_code_cells(nb)
    source = [c for c in chapter.cells if c.cell_type == "code"]
    if len(code) != len(source):
        return [f"{len(code)} code cells, the chapter has {len(source)}"]
    for i, (cell, src) in enumerate(zip(code, source, strict=True), start=1):
        tags = bookfacts.checks.tags(src)
        hidden = bookfacts.reading.is_setup_cell(src) or (tags & HIDDEN_TAGS)
        collapsed = cell.metadata.get("cellView") == "form" and cell.source.startswith("# @title ")
        if hidden and "raises-exception" not in tags and not collapsed:
            what = ", ".join(sorted(tags)) or "setup"
            problems.append(f"code cell {i} ({what}) is not collapsed")
    return problems


# A code cell of a chapter's MyST text: its option lines and its body.
CODE_CELL = re.compile(
    r"^(?P<fence>```+)\{code-cell\}[^\n]*\n(?P<options>(?::[\w-]+:[^\n]*\n)*)"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.M | re.S,
)


def setup_cell_problems(text: str) -> list[str]:
    """A chapter is a MyST notebook (jupytext header, python3 kernel) whose first
    code cell is the setup cell, or the second after an environment cell that sets
    what must be set before JAX is imported (XLA_FLAGS) and does not import JAX."""
    problems = []
    header = bookfacts.book.front_matter_text(text)
    if "jupytext:" not in header or "format_name: myst" not in header:
        problems.append("no jupytext MyST header")
    if not re.search(r"kernelspec:\s*\n(\s+\w+:.*\n)*?\s+name: python3", header + "\n"):
        problems.append("the kernel is not python3")
    cells = list(CODE_CELL.finditer(text))[:2]
    setup = [
        i
        for i, cell in enumerate(cells)
        if ":load: book_setup.py\n" in cell["options"] and "remove-input" in cell["options"]
    ]
    if not setup:
        problems.append(
            "no setup cell (:tags: [remove-input], :load: book_setup.py) among the first two code cells"
        )
    elif setup[0] == 1 and re.search(r"^\s*(import jax|from jax)\b", cells[0]["body"], re.M):
        problems.append(
            "a code cell before the setup cell imports JAX (only an environment cell may come first)"
        )
    return problems


# A speed-up claimed in the prose: "12× faster", "3.5 times slower", "a speed-up of 40".
SPEEDUP = re.compile(
    r"\d[\d.,]*\s*(?:×|x)\s*(?:faster|slower|quicker|speed-?up)"
    r"|\d[\d.,]*\s+times\s+(?:faster|slower|quicker|as fast|as long)"
    r"|speed-?up\s+of\s+(?:about\s+|roughly\s+|~\s*)?\d",
    re.I,
)


def prose_without_code(page) -> str:
    main = page.select_one("main") or page
    for node in main.select("div.cell, .pasted-text, .pasted-inline, pre, code, script"):
        node.decompose()
    return text_of(main)


API_SITES = tuple(site for site, _ in make_inventories.SITES.values())


def api_links(page) -> list[tuple[str, str]]:
    """(where, URL) of every link of a page to an API documentation site."""
    return [
        ("code" if a.find_parent("div", class_="cell_input") else "prose", a["href"])
        for a in page.select("article a[href]")
        if a["href"].startswith(API_SITES)
    ]


def api_link_problems(page, urls: dict[str, str]) -> list[str]:
    return [f"{where}: {url}" for where, url in api_links(page) if url not in urls]


def code_link_problems(page, modules) -> list[str]:
    """Links in code cells whose text does not show the name they go to (nor a
    module): sphinx-codeautolink's links from a variable to the documented type of
    its value (`g = jax.grad(f)`, then `g` -> collections.abc.Callable), which
    extensions/jaxbook_links.py undoes."""
    problems = []
    for a in page.select("a.sphinx-codeautolink-a[title]"):
        title, shown = a["title"], a.get_text().strip()
        if shown.rsplit(".", 1)[-1] != title.rsplit(".", 1)[-1] and title not in modules:
            problems.append(f"{shown!r} links to {title}")
    return problems


def site_link_problems(nb, html, site_url: str) -> list[str]:
    """Links of a Colab notebook into the published site that name no page of this
    build, or an anchor that page does not have."""
    from bs4 import BeautifulSoup

    problems, pages = [], {}
    base = site_url.rstrip("/") + "/"
    for url in links_of(nb):
        if not url.startswith(base):
            continue
        page, _, fragment = url[len(base) :].partition("#")
        path = html / (page or "index.html")
        if not path.is_file():
            problems.append(f"{url}: no such page")
        elif fragment:
            if path not in pages:
                pages[path] = {t["id"] for t in BeautifulSoup(path.read_text(), "html.parser").select("[id]")}
            if fragment not in pages[path]:
                problems.append(f"{url}: no such anchor")
    return problems

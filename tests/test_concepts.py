"""One curriculum (concepts.yml, extensions/jaxbook_concepts.py): every concept's home
exists, its JAX names exist, no chapter uses a concept before its home without
linking to it, and the Sharp bits page links every pitfall to its home. The order
check is also run on a seeded violation, to show that it can fail."""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

import bookfacts
import jaxbook_concepts
import make_inventories
from conftest import CHAPTERS, ROOT

DATA = jaxbook_concepts.load(ROOT)
ORDER = bookfacts.book.toc_files(ROOT)


def visible_code(docname: str) -> str:
    """The code a reader sees in a chapter: every code cell but the setup cell and
    the cells the page removes (solutions, collapsed, are seen)."""
    nb = bookfacts.reading.read_notebook(bookfacts.book.source_path(ROOT, docname))
    cells = [c for c in nb.cells if c.cell_type == "code" and not bookfacts.reading.is_setup_cell(c)]
    return "\n".join(
        c.source for c in cells if not bookfacts.checks.tags(c) & {"remove-cell", "remove-input"}
    )


def section_ids(book, page: str, fragment: str) -> set[str]:
    """Every id of the section a link's fragment points into: the section's own and
    those of the labels above its heading (Sphinx writes them as spans in it)."""
    element = book.page(page).find(id=fragment) if fragment else None
    section = element if element is None or element.name == "section" else element.find_parent("section")
    if section is None:
        return {fragment}
    spans = section.find_all("span", id=True, recursive=False)
    return {section.get("id"), fragment, *(span["id"] for span in spans)}


def links_of(book, docname: str) -> set[tuple[str, str]]:
    """(page, section id) of every link in the chapter's prose: a link to a label
    counts for every id of the section it names."""
    found = set()
    article = book.page(docname).select_one("article") or book.page(docname)
    for a in article.select("a[href]"):
        href = urlsplit(a["href"])
        if href.scheme or not href.path.endswith(".html"):
            continue
        page = posixpath.normpath(posixpath.join(posixpath.dirname(docname), href.path)).removesuffix(".html")
        found.update((page, i) for i in section_ids(book, page, href.fragment))
    return found


def test_the_map_is_well_formed():
    ids = [c["id"] for c in DATA["concepts"]]
    assert len(ids) == len(set(ids)), "concept ids must be unique"
    homes = [c["home"] for c in DATA["concepts"]]
    assert len(homes) == len(set(homes)), "two concepts share one home section"
    names = [n for c in DATA["concepts"] for n in c["names"]]
    assert len(names) == len(set(names)), "a JAX name belongs to one concept"
    assert DATA["first_look"] in ORDER
    for concept in DATA["concepts"]:
        assert concept["page"] in ORDER and concept["anchor"], concept["home"]


def test_every_name_exists_in_this_jax():
    missing = [n for c in DATA["concepts"] for n in c["names"] if make_inventories.resolve(n) is None]
    assert missing == []


def test_every_home_exists(book):
    missing = [c["home"] for c in DATA["concepts"] if book.page(c["page"]).find(id=c["anchor"]) is None]
    assert missing == [], "homes without their section (renamed heading?): " + ", ".join(missing)


def test_no_chapter_uses_a_concept_before_its_home_without_linking_to_it(book):
    code = {d: visible_code(d) for d in CHAPTERS}
    links = {d: links_of(book, d) for d in CHAPTERS}
    assert jaxbook_concepts.order_problems(ORDER, code, links, DATA) == []


def test_the_order_check_fails_on_a_seeded_violation():
    data = {
        "first_look": "look",
        "concepts": [
            {"id": "loops", "home": "jit#loops", "page": "jit", "anchor": "loops", "names": ["jax.lax.scan"]},
            {
                "id": "jit",
                "home": "jit#top",
                "page": "jit",
                "anchor": "top",
                "names": ["jax.jit"],
                "first_look": True,
            },
            {
                "id": "at",
                "home": "arrays#imm",
                "page": "arrays",
                "anchor": "imm",
                "names": [],
                "patterns": [r"\.at\["],
            },
        ],
    }
    order = ["arrays", "look", "kmeans", "jit"]
    code = {
        "arrays": "y = jax.jit(f)(x)",  # jit before the first look: needs a link
        "look": "jax.jit(g)",
        "kmeans": "out = lax.scan(step, c, xs)\nfast = jax.jit(h)\nz = x.at[0].set(1)",
    }
    problems = jaxbook_concepts.order_problems(order, code, {}, data)
    assert problems == [
        "kmeans uses jax.lax.scan before its home jit#loops and does not link to it in its prose",
        "arrays uses jax.jit before its home jit#top and does not link to it in its prose",
    ]
    # a link to the home section satisfies it; a link to the page without the section does not
    links = {"kmeans": {("jit", "loops")}, "arrays": {("jit", "")}}
    assert jaxbook_concepts.order_problems(order, code, links, data) == problems[1:]
    # `lax.scan` inside another name is not a use
    assert jaxbook_concepts.uses("my_lax.scanner = 1", data["concepts"][0]) is None


def test_sharp_bits_page_links_every_pitfall_to_its_home(book):
    sharp_bits = book.page("sharp-bits")
    pitfalls = [c for c in DATA["concepts"] if c.get("pitfall")]
    links = [a for a in sharp_bits.select("article a[href]") if "See it run" in a.get_text()]
    assert len(links) == len(pitfalls)
    # grouped by the chapter of the home, in reading order; the map's order within one
    expected = sorted(pitfalls, key=lambda c: ORDER.index(c["page"]))
    for a, concept in zip(links, expected, strict=True):
        href = urlsplit(a["href"])
        page = posixpath.normpath(href.path).removesuffix(".html")
        # a home that exists: test_every_home_exists
        assert (page, href.fragment) == (concept["page"], concept["anchor"]), a["href"]
    assert "`" not in sharp_bits.select_one("article").get_text()  # inline code rendered, not raw MyST


WORD_LIMIT = 9_000  # CONTRIBUTING.md, "The reading order": past this, split the chapter


def test_no_chapter_is_over_the_word_limit():
    words = {d: len(bookfacts.book.source_path(ROOT, d).read_text().split()) for d in CHAPTERS}
    assert len(words) >= 12 and all(words.values())
    over = {d: n for d, n in words.items() if n > WORD_LIMIT}
    assert not over, f"chapters over {WORD_LIMIT:,} words (wc -w of the .md file): {over}"

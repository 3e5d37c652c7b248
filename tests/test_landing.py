"""The landing page's learning path (extensions/jaxbook_path.py, `learning-path` in intro.md):
every chapter, in the order of _toc.yml, with its reading time, what it assumes and
what the reader will be able to do, the same list that opens the chapter."""

from __future__ import annotations

import math
import re

import nbformat
import pytest

import bookfacts
import jaxbook_path
from conftest import CHAPTERS, ROOT, text_of


def _path_items(book):
    return book.page("intro").select(".jaxbook-learning-path > ol > li")


def _docname(href: str) -> str:
    return re.sub(r"\.html(#.*)?$", "", href)


def test_learning_path_follows_the_toc(book):
    items = _path_items(book)
    firsts = [_docname(li.select_one("p a")["href"]) for li in items]
    assert firsts == CHAPTERS, f"learning path order {firsts}, toc order {CHAPTERS}"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_learning_path_entry(book, docname):
    item = _path_items(book)[CHAPTERS.index(docname)]
    title = text_of(book.page(docname).select_one("article h1")).rstrip("#").strip()
    assert text_of(item.select_one("p a")) == title
    line = text_of(item.select_one("p"))
    minutes = int(re.search(r"About (\d+) min to read", line).group(1))
    assert minutes == jaxbook_path.reading_minutes(
        bookfacts.reading.read_notebook(bookfacts.book.source_path(ROOT, docname))
    )
    assumes = line.split("Assumes:", 1)[1].strip()
    assert assumes and assumes != "(not said)", line
    # What the reader will be able to do: the chapter's own opening list, word for word.
    goals = [text_of(li) for li in item.select("details li, .sd-dropdown li")]
    chapter = book.page(docname)
    opening = next(
        ul
        for ul in chapter.select("article section > ul")
        if "able to" in text_of(ul.find_previous_sibling("p") or ul)
    )
    assert goals == [text_of(li) for li in opening.find_all("li", recursive=False)], docname
    assert f"({len(goals)} goals)" in text_of(item)
    # What it assumes links only to chapters that come before it.
    for a in item.select("p a")[1:]:
        if a["href"].endswith(".html") and "chapters/" in a["href"]:
            assert CHAPTERS.index(_docname(a["href"])) < CHAPTERS.index(docname), (docname, a["href"])


def test_reading_time_counts_prose_and_shown_code():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(" ".join(["word"] * 250)),
        nbformat.v4.new_code_cell("x = 1 + 2", metadata={"tags": []}),  # 5 words
        nbformat.v4.new_code_cell(" ".join(["hidden"] * 500), metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell(" ".join(["setup"] * 500), metadata={"tags": ["remove-input"]}),
    ]
    assert jaxbook_path.reading_words(nb) == 255
    assert jaxbook_path.reading_minutes(nb) == math.ceil(255 / jaxbook_path.WORDS_PER_MINUTE) == 2

"""What every chapter promises its readers (see CONTRIBUTING.md).

The build itself (tools/build.py) already fails when a cell raises what it should
not, a deliberate error does not raise exactly what it declares, a cell writes to
stderr or is not executed (bookfacts.notebook_problems; tests/test_checks.py shows
those checks catch each defect). These tests check what the build does not."""

from __future__ import annotations

import re

import pytest

import bookfacts
from conftest import BUDGET_S, CHAPTERS, ROOT

REMOVED_OUTPUT_TAGS = {"remove-output", "remove-cell"}
# Paths of the machine that built the book must never be shown.
LEAK = re.compile(r"/home/|/root/|/tmp/|/work/|/Users/|site-packages|\.venv|ipykernel_\d")


def setup_cell_problems(text: str) -> list[str]:
    """A chapter is a MyST notebook (jupytext header, python3 kernel) whose first
    code cell is the setup cell."""
    problems = []
    header = bookfacts.front_matter_text(text)
    if "jupytext:" not in header or "format_name: myst" not in header:
        problems.append("no jupytext MyST header")
    if not re.search(r"kernelspec:\s*\n(\s+\w+:.*\n)*?\s+name: python3", header + "\n"):
        problems.append("the kernel is not python3")
    first = bookfacts.SETUP_CELL.search(text)
    if (
        not first
        or ":load: book_setup.py\n" not in first["options"]
        or "remove-input" not in first["options"]
    ):
        problems.append(
            "the first code cell is not the setup cell (:tags: [remove-input], :load: book_setup.py)"
        )
    return problems


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_is_a_myst_notebook_with_the_setup_cell(docname):
    text = bookfacts.source_path(ROOT, docname).read_text()
    assert setup_cell_problems(text) == [], docname


@pytest.mark.parametrize("docname", CHAPTERS)
def test_outputs_are_on_the_page(book, docname):
    """Cell by cell, the page shows an output exactly where the notebook has one."""
    nb = book.notebook(docname)
    cells = [c for c in nb.cells if c.cell_type == "code" and "remove-cell" not in bookfacts.tags(c)]
    divs = book.page(docname).select("div.cell")
    assert len(divs) == len(cells), f"{docname}: {len(divs)} cells on page, {len(cells)} in notebook"
    for i, (cell, div) in enumerate(zip(cells, divs, strict=True), start=1):
        expected = bool(bookfacts.visible_outputs(cell)) and not (bookfacts.tags(cell) & REMOVED_OUTPUT_TAGS)
        shown = div.select_one("div.cell_output") is not None
        assert shown == expected, f"{docname}: visible cell {i} output shown={shown}, expected={expected}"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_every_figure_of_the_notebook_is_on_the_page(book, docname):
    """Each figure the executed chapter made is on its page, as a file of the site
    (its alt text is checked in the browser, tests/test_browser.py)."""
    nb = book.notebook(docname)
    n_figures = sum(
        1
        for c in nb.cells
        if c.cell_type == "code" and not (bookfacts.tags(c) & REMOVED_OUTPUT_TAGS)
        for o in bookfacts.visible_outputs(c)
        if "image/png" in o.get("data", {})
    )
    images = book.page(docname).select("div.cell_output img")
    assert len(images) == n_figures
    for img in images:
        assert (book.html / docname).parent.joinpath(img["src"]).resolve().is_file(), img["src"]


@pytest.mark.parametrize("docname", CHAPTERS)
def test_no_paths_of_the_build_machine(book, docname):
    for div in book.page(docname).select("div.cell_output"):
        text = div.get_text()
        assert not LEAK.search(text), f"{docname}: {LEAK.search(text).group(0)!r} in {text[:300]!r}"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_runs_within_budget(book, docname):
    seconds = book.seconds(docname)
    assert seconds is not None, f"{docname}: no execution record in the cache"
    assert seconds <= BUDGET_S, f"{docname}: {seconds:.1f} s > {BUDGET_S} s"

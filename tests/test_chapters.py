"""What every chapter promises its readers (see CONTRIBUTING.md).

The build itself (scripts/build.py) already fails when a cell raises what it should
not, a deliberate error does not raise exactly what it declares, a cell writes to
stderr or is not executed (bookfacts.checks.notebook_problems; tests/test_checks.py shows
those checks catch each defect). These tests check what the build does not."""

from __future__ import annotations

import re

import pytest

import bookfacts
from checks import setup_cell_problems
from conftest import BUDGET_S, CHAPTERS, ROOT, machine_factor, reference_seconds

REMOVED_OUTPUT_TAGS = {"remove-output", "remove-cell"}
# Paths of the machine that built the book must never be shown.
LEAK = re.compile(r"/home/|/root/|/tmp/|/work/|/Users/|site-packages|\.venv|ipykernel_\d")


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_is_a_myst_notebook_with_the_setup_cell(docname):
    text = bookfacts.book.source_path(ROOT, docname).read_text()
    assert setup_cell_problems(text) == [], docname


@pytest.mark.parametrize("docname", CHAPTERS)
def test_outputs_are_on_the_page(book, docname):
    """Cell by cell, the page shows an output exactly where the notebook has one."""
    nb = book.notebook(docname)
    cells = [c for c in nb.cells if c.cell_type == "code" and "remove-cell" not in bookfacts.checks.tags(c)]
    divs = book.page(docname).select("div.cell")
    assert len(divs) == len(cells), f"{docname}: {len(divs)} cells on page, {len(cells)} in notebook"
    for i, (cell, div) in enumerate(zip(cells, divs, strict=True), start=1):
        expected = bool(bookfacts.checks.visible_outputs(cell)) and not (
            bookfacts.checks.tags(cell) & REMOVED_OUTPUT_TAGS
        )
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
        if c.cell_type == "code" and not (bookfacts.checks.tags(c) & REMOVED_OUTPUT_TAGS)
        for o in bookfacts.checks.visible_outputs(c)
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


def budget_problems(seconds: dict, reference: dict, budget_s: float = BUDGET_S) -> list[str]:
    """Chapters over their budget: `budget_s` on a machine like the reference run's,
    scaled by how much slower this machine ran the whole book (machine_factor)."""
    limit = budget_s * machine_factor(seconds, reference)
    return [
        f"{d}: {s:.1f} s > {limit:.0f} s ({budget_s:.0f} s scaled to this machine)"
        for d, s in seconds.items()
        if s is not None and s > limit
    ]


def test_chapters_run_within_budget(book):
    seconds = {d: book.seconds(d) for d in CHAPTERS}
    assert all(s is not None for s in seconds.values()), f"no execution record in the cache: {seconds}"
    assert budget_problems(seconds, reference_seconds()) == []


def test_budget_follows_the_machine_but_catches_a_chapter_that_grew():
    reference = {"a": 10.0, "b": 20.0, "c": 50.0}
    # a machine three times slower (or busier): every chapter takes three times as long
    assert budget_problems({d: 3 * s for d, s in reference.items()}, reference) == []
    # a chapter that grew on the same machine still fails
    grown = dict(reference, c=75.0)
    assert budget_problems(grown, reference) == ["c: 75.0 s > 60 s (60 s scaled to this machine)"]
    # ... and on a slower machine too
    assert budget_problems({"a": 20.0, "b": 40.0, "c": 150.0}, reference) != []
    # a new chapter (no reference yet) is held to the scaled budget as well
    assert budget_problems(dict(reference, d=61.0), reference) == [
        "d: 61.0 s > 60 s (60 s scaled to this machine)"
    ]

"""What every chapter promises its readers (see CONTRIBUTING.md)."""

from __future__ import annotations

import re

import pytest

from conftest import BUDGET_S, ROOT, bookinfo

CHAPTERS = bookinfo.chapters(ROOT)
REMOVED_OUTPUT_TAGS = {"remove-output", "remove-cell"}
# Paths of the machine that built the book must never be shown.
LEAK = re.compile(r"/home/|/root/|/tmp/|/work/|/Users/|site-packages|\.venv|ipykernel_\d")
# stderr that is known, harmless noise (it never reaches the page either way).
STDERR_NOISE = [
    re.compile(r"^\s*$"),
]


def tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", []))


def visible_outputs(cell) -> list:
    """Outputs that the page shows: no glue records, no stderr (removed)."""
    shown = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stderr":
            continue
        if out.output_type in ("display_data", "execute_result"):
            if all(m.startswith(bookinfo.GLUE_MIME) for m in out.data):
                continue
        shown.append(out)
    return shown


def test_toc_has_chapters():
    assert len(CHAPTERS) >= 2


def test_every_toc_entry_has_a_page(book):
    for docname in bookinfo.toc_files(ROOT):
        assert (book.html / f"{docname}.html").is_file(), docname


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_is_a_myst_notebook_with_the_setup_cell(docname):
    text = bookinfo.source_path(ROOT, docname).read_text()
    header = text.split("\n---", 1)[0]
    assert "jupytext:" in header and "format_name: myst" in header
    assert re.search(r"kernelspec:\s*\n(\s+\w+:.*\n)*?\s+name: python3", header)
    nb = bookinfo.read_notebook(bookinfo.source_path(ROOT, docname))
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.metadata.get("load") == "book_setup.py"
    assert "remove-input" in tags(first)


@pytest.mark.parametrize("docname", CHAPTERS)
def test_every_code_cell_executed(book, docname):
    nb = book.notebook(docname)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for i, cell in enumerate(code, start=1):
        assert isinstance(cell.execution_count, int), f"{docname}: code cell {i} not executed"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_outputs_are_on_the_page(book, docname):
    """Cell by cell, the page shows an output exactly where the notebook has one."""
    nb = book.notebook(docname)
    cells = [c for c in nb.cells if c.cell_type == "code" and "remove-cell" not in tags(c)]
    divs = book.page(docname).select("div.cell")
    assert len(divs) == len(cells), f"{docname}: {len(divs)} cells on page, {len(cells)} in notebook"
    for i, (cell, div) in enumerate(zip(cells, divs), start=1):
        expected = bool(visible_outputs(cell)) and not (tags(cell) & REMOVED_OUTPUT_TAGS)
        shown = div.select_one("div.cell_output") is not None
        assert shown == expected, f"{docname}: visible cell {i} output shown={shown}, expected={expected}"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_figures_are_on_the_page_with_alt_text(book, docname):
    nb = book.notebook(docname)
    n_figures = sum(
        1 for c in nb.cells if c.cell_type == "code" and not (tags(c) & REMOVED_OUTPUT_TAGS)
        for o in visible_outputs(c) if "image/png" in o.get("data", {})
    )
    images = book.page(docname).select("div.cell_output img")
    assert len(images) == n_figures
    for img in images:
        assert (book.html / docname).parent.joinpath(img["src"]).resolve().is_file(), img["src"]
        alt = img.get("alt", "").strip()
        assert alt and not alt.endswith(".png"), f"{docname}: figure without alt text ({img['src']})"


def error_problems(nb) -> list[str]:
    """Cells tagged raises-exception must raise exactly their declared class;
    no other cell may raise."""
    problems = []
    for i, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        raised = [o.ename for o in cell.get("outputs", []) if o.output_type == "error"]
        if "raises-exception" in tags(cell):
            declared = cell.metadata.get("raises")
            if not declared:
                problems.append(f"code cell {i} is tagged raises-exception without `raises`")
            elif raised != [declared]:
                problems.append(f"code cell {i} should raise {declared}, raised {raised}")
        elif raised:
            problems.append(f"code cell {i} raised {raised}")
    return problems


@pytest.mark.parametrize("docname", CHAPTERS)
def test_deliberate_errors_raise_what_they_declare(book, docname):
    assert error_problems(book.notebook(docname)) == [], docname


@pytest.mark.parametrize("docname", CHAPTERS)
def test_no_paths_of_the_build_machine(book, docname):
    for div in book.page(docname).select("div.cell_output"):
        text = div.get_text()
        assert not LEAK.search(text), f"{docname}: {LEAK.search(text).group(0)!r} in {text[:300]!r}"


def stderr_problems(nb) -> list[str]:
    """Lines written to stderr that are not known, harmless noise."""
    problems = []
    for i, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stderr":
                problems += [f"code cell {i} wrote to stderr: {line!r}" for line in out.text.splitlines()
                             if not any(p.search(line) for p in STDERR_NOISE)]
    return problems


@pytest.mark.parametrize("docname", CHAPTERS)
def test_no_stray_stderr(book, docname):
    assert stderr_problems(book.notebook(docname)) == [], docname
    assert not book.page(docname).select(".output.stderr")


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_runs_within_budget(book, docname):
    seconds = book.seconds(docname)
    assert seconds is not None, f"{docname}: no execution record in the cache"
    assert seconds <= BUDGET_S, f"{docname}: {seconds:.1f} s > {BUDGET_S} s"


def test_no_execution_reports_published(book):
    assert not (book.html / "reports").exists()
    assert not list(book.html.rglob("*.err.log"))

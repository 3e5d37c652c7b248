"""How a chapter is read: its MyST text as a notebook, exactly as myst-nb reads it
for the build, its setup cell (`:load: book_setup.py`) filled in from
`chapters/book_setup.py` by myst-nb itself."""

from __future__ import annotations

from pathlib import Path

from bookfacts.book import ROOT

SETUP = ROOT / "chapters" / "book_setup.py"


def is_setup_cell(cell) -> bool:
    """The setup cell, as myst-nb reads it: `:load: book_setup.py` leaves the file's
    name in the cell's metadata."""
    return cell.cell_type == "code" and cell.metadata.get("load") == SETUP.name


def read_notebook(path: Path):
    """The chapter as a notebook, exactly as the build reads and executes it."""
    import nbformat

    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    return read_notebook_text(path.read_text(), path)


def read_notebook_text(text: str, path: Path = SETUP.parent / "chapter.md"):
    """A chapter's MyST text as a notebook (its setup cell filled in by myst-nb's
    `:load:`, relative to `path`)."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(text, path=str(path))

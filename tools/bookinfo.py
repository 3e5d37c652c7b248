"""Facts about the book shared by the build script and the tests."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE_SUFFIXES = (".md", ".ipynb")
# Outputs of myst-nb's glue(): data for the prose, never shown where they are made.
GLUE_MIME = "application/papermill.record/"


def toc_files(book: Path = ROOT) -> list[str]:
    """Every `file:` (and the root) of `_toc.yml`, in order, without suffix."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb)$", "", f) for f in files]


def source_path(book: Path, docname: str) -> Path | None:
    for suffix in SOURCE_SUFFIXES:
        path = book / f"{docname}{suffix}"
        if path.exists():
            return path
    return None


def is_notebook(path: Path) -> bool:
    """A MyST Markdown notebook has a jupytext/kernelspec header."""
    if path.suffix == ".ipynb":
        return True
    head = path.read_text().split("\n---", 1)[0]
    return "kernelspec:" in head


def chapters(book: Path = ROOT) -> list[str]:
    """Docnames of the toc entries that are executable notebooks."""
    return [d for d in toc_files(book) if (p := source_path(book, d)) and is_notebook(p)]


def read_notebook(path: Path):
    """The notebook as myst-nb reads it (`:load:` options expanded)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    import nbformat

    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    return read_myst_markdown_notebook(path.read_text(), path=str(path))


def cache_record(cache_path: Path, book: Path, docname: str):
    """(jupyter-cache, record) of the chapter's current source, or (cache, None)."""
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_path))
    try:
        return cache, cache.match_cache_notebook(read_notebook(source_path(book, docname)))
    except KeyError:
        return cache, None


def execution_seconds(cache_path: Path, book: Path, docname: str) -> float | None:
    """Execution time of the chapter's current source, from jupyter-cache."""
    _, record = cache_record(cache_path, book, docname)
    return None if record is None else record.data.get("execution_seconds")


def execution_lines(cache_path: Path, book: Path = ROOT) -> list[str]:
    """'  12.3 s  chapters/jit' for every chapter, in toc order."""
    lines = []
    for docname in chapters(book):
        seconds = execution_seconds(cache_path, book, docname)
        shown = f"{seconds:6.1f} s" if seconds is not None else "   n/a"
        lines.append(f"{shown}  {docname}")
    return lines


def executed_notebook(cache_path: Path, book: Path, docname: str):
    """The notebook exactly as it was executed for the current source (with
    execution counts, outputs, output metadata), from jupyter-cache."""
    cache, record = cache_record(cache_path, book, docname)
    if record is None:
        raise KeyError(f"{docname}: no execution of its current source in {cache_path}")
    return cache.get_cache_bundle(record.pk).nb

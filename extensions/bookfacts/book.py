"""The book: its settings (`_config.yml`), its table of contents (`_toc.yml`) and
its chapters (the toc entries that are executable notebooks)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SOURCE_SUFFIXES = (".md", ".ipynb")
BACKENDS = ("cpu", "cuda12")  # what `make html JAX_BACKEND=...` accepts


@functools.cache
def config(book: Path = ROOT) -> dict:
    """The book's settings that the code uses, all from `_config.yml`."""
    raw = yaml.safe_load((book / "_config.yml").read_text())
    repo_url = raw["repository"]["url"].rstrip("/")
    return {
        "title": raw["title"],
        "author": raw.get("author", ""),
        "site_url": raw.get("html", {}).get("baseurl", "").rstrip("/"),
        "repository_url": repo_url,
        "repository": repo_url.removeprefix("https://github.com/"),
        "branch": raw["repository"].get("branch", "main"),
        "colab_branch": raw["sphinx"]["config"]["jaxbook_colab_branch"],
    }


# --- table of contents -------------------------------------------------------------


def _docname(path: str) -> str:
    return re.sub(r"\.(md|ipynb)$", "", path)


def _site_map(book: Path):
    """`_toc.yml` as jupyter-book reads it (sphinx-external-toc's parser)."""
    from sphinx_external_toc.parsing import parse_toc_yaml

    return parse_toc_yaml(book / "_toc.yml")


def toc_files(book: Path = ROOT) -> list[str]:
    """Every document of `_toc.yml` (the root first), in reading order, without
    suffix."""
    from sphinx_external_toc.api import FileItem

    site_map = _site_map(book)

    def walk(docname: str) -> list[str]:
        found = [docname]
        for tree in site_map[docname].subtrees:
            for item in tree.items:
                if isinstance(item, FileItem):
                    found += walk(str(item))
        return found

    return [_docname(d) for d in walk(site_map.root.docname)]


def toc_parts(book: Path = ROOT) -> tuple[str, list[dict]]:
    """(root, [{caption, docs}]) of `_toc.yml`: the pages after the root, in order,
    grouped by part (one part without caption when the toc has no parts)."""
    from sphinx_external_toc.api import FileItem

    root = _site_map(book).root
    parts = [
        {"caption": tree.caption, "docs": [_docname(str(i)) for i in tree.items if isinstance(i, FileItem)]}
        for tree in root.subtrees
    ]
    return _docname(root.docname), parts


def source_path(book: Path, docname: str) -> Path | None:
    for suffix in SOURCE_SUFFIXES:
        path = book / f"{docname}{suffix}"
        if path.exists():
            return path
    return None


def is_notebook(path: Path) -> bool:
    """A MyST Markdown notebook has a jupytext/kernelspec header."""
    return path.suffix == ".ipynb" or "kernelspec:" in front_matter_text(path.read_text())


def chapters(book: Path = ROOT) -> list[str]:
    """Docnames of the toc entries that are executable notebooks."""
    return [d for d in toc_files(book) if (p := source_path(book, d)) and is_notebook(p)]


def front_matter_text(text: str) -> str:
    if not text.startswith("---\n"):
        return ""
    return text[4:].split("\n---", 1)[0]

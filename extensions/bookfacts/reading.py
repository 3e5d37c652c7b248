"""How a chapter is read: its MyST text with the setup cell (`:load: book_setup.py`)
filled in from `chapters/book_setup.py` and the chapter's front matter, as a notebook
(see jaxbook_chapters.py)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bookfacts.book import ROOT, front_matter_text

SETUP = ROOT / "chapters" / "book_setup.py"
SETUP_CELL = re.compile(
    r"^(?P<fence>```+)\{code-cell\}[^\n]*\n(?P<options>(?::[\w-]+:[^\n]*\n)*)"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.M | re.S,
)


def chapter_settings(text: str) -> dict:
    """The chapter's own settings: the `jaxbook:` key of its front matter, e.g.
    `jaxbook: {xla_flags: --xla_force_host_platform_device_count=8}`."""
    head = yaml.safe_load(front_matter_text(text) or "{}") or {}
    settings = head.get("jaxbook") or {}
    unknown = set(settings) - {"xla_flags"}
    if unknown:
        raise ValueError(f"unknown jaxbook settings in the front matter: {sorted(unknown)}")
    return settings


def setup_code(settings: dict, setup: Path = SETUP) -> str:
    """The setup cell's code: the chapter's settings, then chapters/book_setup.py
    (which applies them before it imports JAX)."""
    code = setup.read_text()
    if not settings:
        return code.rstrip("\n")
    prologue = (
        "# This chapter's settings (its front matter), applied below before JAX is imported.\n"
        f"JAXBOOK_CHAPTER = {settings!r}\n"
    )
    return (prologue + code).rstrip("\n")


def assemble(text: str, setup: Path = SETUP) -> str:
    """The chapter's MyST text with its setup cell (`:load: book_setup.py`)
    filled in: what Sphinx and jupyter-cache see (see jaxbook_chapters.py)."""

    def fill(match: re.Match) -> str:
        options = match["options"].splitlines(keepends=True)
        if ":load: book_setup.py\n" not in options:
            return match[0]
        options.remove(":load: book_setup.py\n")
        code = setup_code(chapter_settings(text), setup)
        return f"{match['fence']}{{code-cell}} ipython3\n{''.join(options)}{code}\n{match['fence']}"

    return SETUP_CELL.sub(fill, text)


def read_notebook(path: Path):
    """The chapter as a notebook, exactly as the build reads and executes it."""
    import nbformat

    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    return read_notebook_text(path.read_text(), path)


def read_notebook_text(text: str, path: Path = SETUP.parent / "chapter.md"):
    """A chapter's MyST text as a notebook (its setup cell filled in)."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(assemble(text, path.parent / "book_setup.py"), path=str(path))

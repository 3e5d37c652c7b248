"""The failure path, on throwaway books (the real book is never touched):
a raising cell or a DeprecationWarning fails the build naming chapter and cell,
a Sphinx warning fails it, a broken _toc.yml gives a clear error, and a failed
build leaves the previous good site as it was."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

HEADER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
        format_version: 0.13
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """)


def cell(source: str, options: str = "") -> str:
    return f"```{{code-cell}} ipython3\n{options}{source}\n```\n\n"


def make_book(path: Path, chapters: dict[str, str]) -> Path:
    """A book with the real configuration, setup cell and extension."""
    shutil.copy(ROOT / "_config.yml", path / "_config.yml")
    shutil.copy(ROOT / "requirements.txt", path / "requirements.txt")
    shutil.copytree(ROOT / "_ext", path / "_ext")
    shutil.copytree(ROOT / "images", path / "images")
    (path / "chapters").mkdir()
    shutil.copy(ROOT / "chapters" / "book_setup.py", path / "chapters")
    (path / "intro.md").write_text("# Throwaway book\n\nUsed by tests/test_failures.py.\n")
    write_chapters(path, chapters)
    return path


def write_chapters(path: Path, chapters: dict[str, str]) -> None:
    toc = "format: jb-book\nroot: intro\nchapters:\n"
    for name, body in chapters.items():
        toc += f"  - file: chapters/{name}\n"
        if body is not None:
            (path / "chapters" / f"{name}.md").write_text(body)
    (path / "_toc.yml").write_text(toc)


def build(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build.py"), "--book", str(path)],
        capture_output=True, text=True, timeout=600,
    )


GOOD = HEADER + "# Good\n\n" + cell("x = 40 + 2\nx")
BAD = HEADER + "# Bad\n\n" + cell("a = 1") + cell("b = 2") + cell('raise ValueError("boom from the test")')
DEPRECATED = (HEADER + "# Deprecated\n\n" + cell("", ":tags: [remove-input]\n:load: book_setup.py\n")
              + cell('import warnings\nwarnings.warn("an old API", DeprecationWarning)'))
BROKEN_REF = "# Broken reference\n\nSee {ref}`a-label-that-does-not-exist`.\n"


@pytest.fixture(scope="module")
def throwaway(tmp_path_factory) -> Path:
    return make_book(tmp_path_factory.mktemp("book"), {"good": GOOD})


def test_good_then_failing_build(throwaway):
    first = build(throwaway)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    good_page = throwaway / "_build" / "html" / "chapters" / "good.html"
    before = good_page.read_text()
    assert "42" in before

    write_chapters(throwaway, {"good": GOOD, "bad": BAD, "deprecated": DEPRECATED})
    second = build(throwaway)
    assert second.returncode != 0
    report = second.stderr
    assert "BUILD FAILED" in report
    assert "chapters/bad.md, code cell 3" in report and "ValueError: boom from the test" in report
    assert "chapters/deprecated.md, code cell 2" in report and "DeprecationWarning: an old API" in report

    # Nothing of the previous good site is lost, nothing of the failed one published.
    html = throwaway / "_build" / "html"
    assert good_page.read_text() == before
    assert not (html / "chapters" / "bad.html").exists()
    assert not (html / "reports").exists()


def test_sphinx_warning_fails_the_build(tmp_path):
    book = make_book(tmp_path, {"good": GOOD, "broken": BROKEN_REF})
    result = build(book)
    assert result.returncode != 0
    assert "a-label-that-does-not-exist" in result.stdout + result.stderr
    assert not (book / "_build" / "html").exists()
    # Building again without a change must fail again (Sphinx would not re-read
    # the unchanged page, and so would not repeat its warning, if not told to).
    again = build(book)
    assert again.returncode != 0 and "a-label-that-does-not-exist" in again.stdout + again.stderr


def test_toc_naming_a_missing_file_gives_a_clear_error(tmp_path):
    book = make_book(tmp_path, {"good": GOOD, "missing": None})
    result = build(book)
    assert result.returncode == 2
    assert "_toc.yml names 'chapters/missing'" in result.stderr
    assert "chapters/missing.md" in result.stderr

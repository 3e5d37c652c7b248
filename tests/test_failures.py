"""The failure path, on throwaway books (the real book is never touched):
a raising cell or a DeprecationWarning fails the build naming chapter and cell,
a hanging cell fails it saying it timed out, a Sphinx warning fails it, a broken
_toc.yml gives a clear error, Ctrl-C stops it cleanly, two builds of one checkout
take turns, and a failed or interrupted build leaves the previous good site as it was."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

import bookfacts
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
    config = (ROOT / "_config.yml").read_text()
    (path / "_config.yml").write_text(config.replace("timeout: 180", f"timeout: {CELL_TIMEOUT_S}"))
    shutil.copy(ROOT / "requirements.txt", path / "requirements.txt")
    for code in ("extensions", "scripts"):
        shutil.copytree(ROOT / code, path / code, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "inventories", path / "inventories")
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


CELL_TIMEOUT_S = 8  # the throwaway books' execute.timeout (the book's is 180 s)


def build_command(path: Path) -> list[str]:
    return [sys.executable, str(ROOT / "scripts" / "build.py"), "--book", str(path)]


def build(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(build_command(path), capture_output=True, text=True, timeout=600)


def start_build(path: Path, sigint_ignored: bool = False) -> subprocess.Popen:
    """A build in its own process group, as a terminal runs it (Ctrl-C reaches the
    group); with `sigint_ignored`, started as a background job of a script, nohup or
    some CI runners start it: with SIGINT ignored, which its children inherit."""

    def ignore_sigint():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        build_command(path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=ignore_sigint if sigint_ignored else None,
    )


def wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


GOOD = HEADER + "# Good\n\n" + cell("x = 40 + 2\nx")
BAD = HEADER + "# Bad\n\n" + cell("a = 1") + cell("b = 2") + cell('raise ValueError("boom from the test")')
DEPRECATED = (
    HEADER
    + "# Deprecated\n\n"
    + cell("", ":tags: [remove-input]\n:load: book_setup.py\n")
    + cell('import warnings\nwarnings.warn("an old API", DeprecationWarning)')
)
BROKEN_REF = "# Broken reference\n\nSee {ref}`a-label-that-does-not-exist`.\n"
HANGS = HEADER + "# Hangs\n\n" + cell("a = 1") + cell("import time\ntime.sleep(10**6)")


def slow(marker: Path) -> str:
    """A chapter that signals when it is being executed, then takes a while."""
    return (
        HEADER
        + "# Slow\n\n"
        + cell(f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(4)")
    )


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


def test_a_hanging_cell_fails_the_build_saying_it_timed_out(tmp_path):
    book = make_book(tmp_path, {"hangs": HANGS})
    result = build(book)
    assert result.returncode == 1
    assert (
        f"cell error in chapters/hangs.md, code cell 2 (line 19): the cell timed out after {CELL_TIMEOUT_S} s"
    ) in result.stderr, result.stderr[-2000:]


def test_ctrl_c_stops_the_build_and_keeps_the_last_good_site(throwaway, tmp_path):
    good_page = throwaway / "_build" / "html" / "chapters" / "good.html"
    if not good_page.exists():
        assert build(throwaway).returncode == 0
    before = good_page.read_text()
    marker = tmp_path / "executing"
    write_chapters(throwaway, {"good": GOOD, "slow": slow(marker)})
    # started as `make test &` from a script would start it: SIGINT ignored
    proc = start_build(throwaway, sigint_ignored=True)
    wait_for(marker)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-2000:] + err[-2000:]
    assert "BUILD INTERRUPTED" in err and "was left as it was" in err
    assert "Traceback" not in out + err and "DeadKernelError" not in out + err
    assert good_page.read_text() == before
    assert not (throwaway / "_build" / "html" / "chapters" / "slow.html").exists()


def test_a_damaged_cache_entry_is_executed_again(tmp_path):
    """A killed or disk-full write can leave an executed notebook in the cache that
    is not JSON: the next build drops that entry, says so, executes that chapter
    again, and keeps the other chapters' executions."""
    other = GOOD.replace("# Good", "# Other").replace("40 + 2", "6 * 7")
    book = make_book(tmp_path, {"good": GOOD, "other": other})
    assert build(book).returncode == 0
    executed = sorted((book / "_build" / ".jupyter_cache" / "executed").rglob("*.ipynb"))
    assert len(executed) == 2
    damaged = next(p for p in executed if "40 + 2" in p.read_text())
    damaged.write_text('{"cells": [')  # cut off mid-write
    result = build(book)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "The execution cache's entry for good.md was damaged (NotJSONError): dropped it" in result.stdout
    assert "chapters/good.md: Executing" in result.stdout
    assert "chapters/other.md: Executing" not in result.stdout


def test_two_builds_of_one_checkout_take_turns(tmp_path):
    marker = tmp_path / "executing"
    book = make_book(tmp_path, {"slow": slow(marker)})
    first = start_build(book)
    wait_for(marker)
    second = start_build(book)
    out2, err2 = second.communicate(timeout=600)
    out1, err1 = first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, err1[-2000:] + err2[-2000:]
    assert "Another build of this book is running" in out2 and "waiting" in out2
    # the second build found the chapter executed by the first: it executed nothing
    assert "Executing" in out1 and "Executing" not in out2


def test_a_long_cell_that_times_out_is_named(tmp_path):
    """nbclient shows only the first and last five lines of a cell of eleven lines
    or more when it times out: the build still finds the cell and its line."""
    from nbclient.exceptions import CellTimeoutError
    from nbformat.v4 import new_code_cell

    import build as build_script

    body = "\n".join(f"x{i} = {i}" for i in range(12)) + "\nimport time\ntime.sleep(10**6)"
    book = make_book(tmp_path, {"long": HEADER + "# Long\n\n" + cell("a = 1") + cell(body)})
    error = CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", 8, new_code_cell(body))
    reports = tmp_path / "reports"
    (reports / "chapters").mkdir(parents=True)
    report = reports / "chapters" / "long.err.log"
    report.write_text(
        f"Traceback (most recent call last):\n  ...\nnbclient.exceptions.CellTimeoutError: {error}\n"
    )
    assert build_script.describe_failure(book, reports, report) == (
        "chapters/long.md, code cell 2 (line 19): the cell timed out after 8 s (execute.timeout in _config.yml)"
    )


LINKED = (
    HEADER
    + "# Linked\n\n"
    + cell("", ":tags: [remove-input]\n:load: book_setup.py\n")
    + cell("import jax.numpy as jnp\n\njnp.zeros(3)")
)


def test_incremental_builds_keep_their_promises(tmp_path):
    """CONTRIBUTING.md, "Building and testing": editing chapters/book_setup.py
    executes every chapter again; a change to the book's extensions keeps the code
    links, and so does a page written again because its HTML went missing; a change
    to a static file is published; the Colab notebook follows the chapter's prose and
    the JAX pinned in requirements.txt."""
    book = make_book(tmp_path, {"linked": LINKED})
    (book / "_static").mkdir()
    (book / "_static" / "jaxbook.css").write_text("/* first */\n")
    page = book / "_build" / "html" / "chapters" / "linked.html"
    notebook = book / "_build" / "colab" / "chapters" / "linked.ipynb"
    first = build(book)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "sphinx-codeautolink-a" in page.read_text()

    with open(book / "chapters" / "book_setup.py", "a") as setup:
        setup.write("\n# edited\n")
    again = build(book)
    assert again.returncode == 0 and "chapters/linked.md: Executing" in again.stdout, again.stdout[-3000:]

    with open(book / "extensions" / "jaxbook_links.py", "a") as code:
        code.write("\n# edited\n")
    again = build(book)
    assert again.returncode == 0 and "Executing" not in again.stdout, again.stdout[-3000:]
    assert "sphinx-codeautolink-a" in page.read_text(), "the code links were lost"

    (book / "_build" / ".staging" / "_build" / "html" / "chapters" / "linked.html").unlink()
    again = build(book)
    assert again.returncode == 0 and "Executing" not in again.stdout, again.stdout[-3000:]
    assert "sphinx-codeautolink-a" in page.read_text(), "a page written again lost its code links"

    (book / "_static" / "jaxbook.css").write_text("/* second */\n")
    again = build(book)
    assert again.returncode == 0, again.stdout[-3000:]
    assert (book / "_build" / "html" / "_static" / "jaxbook.css").read_text() == "/* second */\n"

    chapter = book / "chapters" / "linked.md"
    chapter.write_text(chapter.read_text().replace("# Linked\n", "# Linked\n\nA sentence added later.\n"))
    again = build(book)
    assert again.returncode == 0 and "Executing" not in again.stdout, again.stdout[-3000:]
    prose = [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown"]
    assert any("A sentence added later." in text for text in prose), "the notebook kept the old prose"

    requirements = book / "requirements.txt"
    pin = f"\njax=={bookfacts.requirements.pinned_jax(book)} "
    assert pin in requirements.read_text()
    requirements.write_text(requirements.read_text().replace(pin, "\njax==9.9.9 "))
    again = build(book)
    assert again.returncode == 0 and "Executing" not in again.stdout, again.stdout[-3000:]
    code = [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    assert any('"jax==9.9.9"' in text for text in code), "the install cell kept the old pin"

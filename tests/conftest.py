"""Shared fixtures: the book is built once per test session with scripts/build.py,
exactly what `make html` runs (unchanged chapters come from the cache)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

import bookfacts

ROOT = bookfacts.book.ROOT
CHAPTERS = bookfacts.book.chapters(ROOT)
BUDGET_S = 60.0  # per chapter, on a quiet 2-core CPU like the reference run's
REFERENCE = ROOT / "timings" / "cpu-reference.json"
REPORT: list[str] = []  # extra lines for the closing summary (e.g. standalone run times)


@functools.cache
def _notebook(root: Path, docname: str):
    return bookfacts.cache.executed_notebook(root, docname)


@functools.cache
def _page(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(), "html.parser")


def page_cache_clear() -> None:
    """Forget the parsed pages (after a step that writes the site again)."""
    _page.cache_clear()


@dataclass(frozen=True)
class Book:
    root: Path
    html: Path

    def notebook(self, docname: str):
        """The executed notebook of the chapter's current source (from the cache;
        read once per session)."""
        return _notebook(self.root, docname)

    def page(self, docname: str) -> BeautifulSoup:
        """The built page (parsed once per session: do not modify it)."""
        return _page(self.html / f"{docname}.html")

    def seconds(self, docname: str) -> float | None:
        return bookfacts.cache.execution_seconds(self.root, docname)


@pytest.fixture(scope="session")
def book() -> Book:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, JAX_BACKEND=os.environ.get("JAX_BACKEND", "cpu")),
    )
    if result.returncode != 0:
        pytest.fail(
            "The book did not build:\n" + result.stdout[-6000:] + "\n" + result.stderr[-6000:], pytrace=False
        )
    return Book(ROOT, ROOT / "_build" / "html")


def fake_program(folder: Path, name: str, script: str) -> Path:
    """An executable shell script `name` in `folder` (a stand-in put first on PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def reference_seconds(path: Path = REFERENCE) -> dict[str, float]:
    """Each chapter's execution time in the committed CPU reference run."""
    if not path.exists():
        return {}
    chapters = bookfacts.records.load_timings(path)["chapters"]
    return {c["docname"]: c["execution_s"] for c in chapters if c.get("execution_s")}


def machine_factor(seconds: dict[str, float | None], reference: dict[str, float]) -> float:
    """How much slower this machine executed the book than the reference run did:
    the median, over the chapters both executed, of (time here / reference time),
    and never below 1. A median: one chapter that grew does not move it, a slower
    or busier machine moves all of them."""
    import statistics

    ratios = [seconds[d] / reference[d] for d in reference if seconds.get(d)]
    return max(1.0, statistics.median(ratios)) if ratios else 1.0


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the session (Playwright's sync API allows one per thread):
    the browser tests and the PDF tests share it."""
    import headless

    problem = headless.missing_chromium_message()
    if problem:
        pytest.fail(problem, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = headless.launch(p)
        yield chromium
        chromium.close()


def run_setup_probe(probe: str, **env: str) -> dict:
    """Run `probe` (Python that exec's the setup cell from the path in SETUP and
    prints "RESULT" + JSON) in a fresh interpreter on the CPU, so that the setup
    cell's global settings never leak into pytest; return the JSON."""
    import json

    setup = ROOT / "chapters" / "book_setup.py"
    out = subprocess.run(
        [sys.executable, "-c", f"SETUP = {str(setup)!r}\n" + probe],
        capture_output=True,
        text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu", **env),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.split("RESULT", 1)[1])


def text_of(node) -> str:
    return " ".join(node.get_text(" ").split())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Report each chapter's execution time (from the execution cache)."""
    if not bookfacts.cache.cache_path(ROOT).exists():
        return
    seconds = {d: bookfacts.cache.execution_seconds(ROOT, d) for d in CHAPTERS}
    factor = machine_factor(seconds, reference_seconds())
    terminalreporter.section(
        f"chapter execution times (budget {BUDGET_S:.0f} s on a quiet 2-core CPU; "
        f"this machine ran {factor:.2f}x the reference times, so {BUDGET_S * factor:.0f} s here)"
    )
    for line in bookfacts.cache.execution_lines(ROOT) + REPORT:
        terminalreporter.write_line(line)

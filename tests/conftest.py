"""Shared fixtures: the book is built once per test session (tools/build.py,
exactly what `make html` runs; unchanged chapters come from the cache)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import bookinfo  # noqa: E402

BUDGET_S = 60.0  # per chapter, on a 2-core CPU
REPORT: list[str] = []  # extra lines for the closing summary (e.g. standalone run times)


@dataclass
class Book:
    root: Path
    html: Path
    cache: Path

    def chapters(self) -> list[str]:
        return bookinfo.chapters(self.root)

    def notebook(self, docname: str):
        """The executed notebook of the chapter's current source (from the cache)."""
        return bookinfo.executed_notebook(self.cache, self.root, docname)

    def page(self, docname: str) -> BeautifulSoup:
        return BeautifulSoup((self.html / f"{docname}.html").read_text(), "html.parser")

    def seconds(self, docname: str) -> float | None:
        return bookinfo.execution_seconds(self.cache, self.root, docname)


@pytest.fixture(scope="session")
def book() -> Book:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build.py")],
        cwd=ROOT, capture_output=True, text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            "The book did not build:\n" + result.stdout[-6000:] + "\n" + result.stderr[-6000:],
            pytrace=False,
        )
    return Book(ROOT, ROOT / "_build" / "html", ROOT / "_build" / ".jupyter_cache")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Report each chapter's execution time (from the execution cache)."""
    cache = ROOT / "_build" / ".jupyter_cache"
    if not cache.exists():
        return
    terminalreporter.section("chapter execution times (budget 60 s on 2 CPU cores)")
    for line in bookinfo.execution_lines(cache, ROOT):
        terminalreporter.write_line(line)
    for line in REPORT:
        terminalreporter.write_line(line)

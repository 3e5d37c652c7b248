"""Build the book strictly: `python tools/build.py` (what `make html` runs).

* Executes every chapter (cached by jupyter-cache: unchanged chapters are not
  re-executed) and builds HTML with Sphinx warnings as errors (--keep-going,
  so every warning is listed).
* Builds in `_build/.staging` and only on success replaces `_build/html` (and
  `_build/colab`, the executed chapters as Colab notebooks), so a failed build
  never loses or pollutes the last good site, and no execution report is published.
* On failure names each failing chapter and cell and exits non-zero.
* On success prints where to open the site and each chapter's execution time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bookinfo  # noqa: E402
import make_colab  # noqa: E402

CELL_SOURCE = re.compile(
    r"An error occurred while executing the following cell:\n-+\n(.*?)\n-+\n", re.S
)
ERROR_LINE = re.compile(r"^(\w+(?:Error|Exception|Warning|Interrupt|Exit)\b:.*)$", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def check_toc(book: Path) -> list[str]:
    problems = []
    for docname in bookinfo.toc_files(book):
        if bookinfo.source_path(book, docname) is None:
            problems.append(
                f"_toc.yml names '{docname}', but neither {docname}.md nor "
                f"{docname}.ipynb exists in {book}"
            )
    return problems


def describe_failure(book: Path, reports: Path, report: Path) -> str:
    """'chapters/x.md, code cell 3 (line 42): ValueError: boom' from a report."""
    docname = report.relative_to(reports).as_posix().removesuffix(".err.log")
    source = bookinfo.source_path(book, docname)
    text = ANSI.sub("", report.read_text(errors="replace"))
    where = f"{source.relative_to(book) if source else docname}"
    match = CELL_SOURCE.search(text)
    if match and source is not None:
        cell = match.group(1).strip("\n")
        nb = bookinfo.read_notebook(source)
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        for number, c in enumerate(code_cells, start=1):
            if c.source.strip("\n") == cell:
                where += f", code cell {number}"
                break
        md = source.read_text()
        first_line = cell.splitlines()[0] if cell else ""
        if first_line and first_line in md:
            where += f" (line {md[: md.index(first_line)].count(chr(10)) + 1})"
    errors = ERROR_LINE.findall(text)
    return f"{where}: {errors[-1] if errors else 'execution failed'}"


def swap_in(src: Path, dest: Path) -> None:
    """Replace `dest` with a copy of `src`, never leaving `dest` half-written."""
    new, old = dest.with_name(dest.name + ".new"), dest.with_name(dest.name + ".old")
    for leftover in (new, old):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(src, new)
    if dest.exists():
        dest.rename(old)
    new.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=bookinfo.ROOT, help="book folder")
    parser.add_argument("--all", action="store_true", help="rebuild every page (cache still used)")
    args = parser.parse_args()
    book = args.book.resolve()
    out = book / "_build"
    staging = out / ".staging"
    staged_html = staging / "_build" / "html"

    problems = check_toc(book)
    if problems:
        print("\n".join(["BUILD FAILED: the table of contents is broken:"] + problems), file=sys.stderr)
        return 2

    # Execution reports of an earlier failed build must never reach the site.
    shutil.rmtree(staged_html / "reports", ignore_errors=True)
    # Sphinx re-reads only changed pages, so after a failed build the pages that
    # warned would not warn again: re-read everything (outputs still come from
    # the execution cache) unless the last build succeeded.
    last_ok = staging / "last-build-succeeded"
    fresh = args.all or not last_ok.exists()
    last_ok.unlink(missing_ok=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(book), "--path-output", str(staging), "-W", "--keep-going"]
    if fresh:
        cmd.append("--all")
    env = dict(os.environ, JAXBOOK_BUILD="1")
    start = time.perf_counter()
    # jupyter-book's closing banner points at the staging folder: not where the
    # site ends up, so those lines are dropped (the real location is printed below).
    banner = ("You can look at your book", "Or paste this line", "Your book's HTML pages are here")
    with subprocess.Popen(cmd, cwd=book, env=env, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            if ".staging/_build/html" not in line and not line.strip().startswith(banner):
                print(line, end="", flush=True)
    result = proc
    elapsed = time.perf_counter() - start

    reports = sorted((staged_html / "reports").rglob("*.err.log"))
    if result.returncode != 0 or reports:
        print(f"\nBUILD FAILED after {elapsed:.0f} s.", file=sys.stderr)
        for report in reports:
            where = describe_failure(book, staged_html / "reports", report)
            print(f"  cell error in {where}", file=sys.stderr)
        if not reports:
            print("  see the warnings/errors listed above", file=sys.stderr)
        print(f"  The last good site in {out / 'html'} was left as it was.", file=sys.stderr)
        return 1

    # The notebooks the Colab buttons open (pushed to their branch on publish):
    # executed, outputs included, runnable with nothing of this repository.
    # They are also what the pages' ".ipynb" download button serves (myst-nb's
    # own copy lacks outputs for chapters taken from the cache).
    colab = staging / "colab"
    shutil.rmtree(colab, ignore_errors=True)
    for notebook in make_colab.write_all(book, colab):
        shutil.copy(notebook, staged_html / "_sources" / notebook.relative_to(colab))
    swap_in(staged_html, out / "html")
    swap_in(colab, out / "colab")
    last_ok.touch()

    print(f"\nBuilt in {elapsed:.1f} s. Open {out / 'html' / 'index.html'}")
    print("Chapter execution times (from the execution cache):")
    for line in bookinfo.execution_lines(out / ".jupyter_cache", book):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

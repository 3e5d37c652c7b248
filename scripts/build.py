"""Build the book strictly: `python scripts/build.py` (what `make html` and the tests run).

* Backend: `--backend cpu` (the default, or $JAX_BACKEND) executes the chapters on
  the CPU, even where CUDA wheels are installed; `--backend cuda12` first checks
  that JAX really computes on a GPU (check_gpu.py) and fails otherwise. Outputs
  executed with one backend are never reused by a build with the other: the
  execution cache records its backend and is dropped on a switch.
* Executes every chapter (cached by jupyter-cache: unchanged chapters are not
  re-executed) and builds HTML with Sphinx warnings as errors (--keep-going, so
  every warning is listed). The build checks every executed chapter as it reads
  it (extensions/jaxbook_executed.py: deliberate errors raise what they declare,
  nothing else raises, nothing on stderr, every cell ran), as warnings.
* Builds in `_build/.staging` and only on success replaces `_build/html` and
  `_build/colab` (the chapters as Colab notebooks, which the build writes into the
  site: extensions/jaxbook_colab.py), so a failed or interrupted
  build never loses or pollutes the last good site.
* On failure names each failing chapter and cell (and says when a cell timed out)
  and exits 1; 2 for a broken table of contents; 130 when interrupted (Ctrl-C).
* One build at a time per checkout: a second one waits for the first.
* A damaged entry of the execution cache (an unreadable notebook) is dropped, saying
  so in one line, and that chapter is executed again.
* On success prints where to open the site and each chapter's execution time.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))  # bookfacts, jaxbook_*

import bookfacts
import check_gpu

CELL_SOURCE = re.compile(r"An error occurred while executing the following cell:\n-+\n(.*?)\n-+\n", re.S)
TIMEOUT = re.compile(
    r"CellTimeoutError: A cell timed out while it was being executed, after (\d+) seconds\..*?"
    r"preview of the cell contents:\n-+\n(.*?)\n-{5,}\s*$",
    re.S,
)
ERROR_LINE = re.compile(r"^(\w+(?:Error|Exception|Warning|Interrupt|Exit)\b:.*)$", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
WARNING = re.compile(r": (WARNING|ERROR|CRITICAL): ")
# myst-nb's own lines about a failed execution: the cell error itself is reported.
EXECUTION_NOISE = ("[mystnb.exec]",)
# jupyter-book's closing banner points at the staging folder, not where the site
# ends up: those lines are dropped (the real location is printed at the end).
STAGING_BANNER = ("You can look at your book", "Or paste this line", "Your book's HTML pages are here")
# ipykernel 7 says this at every kernel start; the kernels listen on 127.0.0.1 only.
KERNEL_NOISE = "[IPKernelApp] WARNING | Kernel is running over TCP without encryption"


def check_toc(book: Path) -> list[str]:
    problems = []
    for docname in bookfacts.book.toc_files(book):
        if bookfacts.book.source_path(book, docname) is None:
            problems.append(
                f"_toc.yml names '{docname}', but neither {docname}.md nor {docname}.ipynb exists in {book}"
            )
    return problems


def cell_location(source: Path, cell_source: str, prefix: bool = False) -> str:
    """', code cell 3 (line 42)' for the code cell with this source (or, with
    `prefix`, the first one whose source starts with it)."""
    cell = cell_source.strip("\n")
    where = ""
    nb = bookfacts.reading.read_notebook(source)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, c in enumerate(code_cells, start=1):
        if c.source.strip("\n") == cell or (prefix and c.source.strip("\n").startswith(cell)):
            where += f", code cell {number}"
            break
    text = source.read_text()
    first_line = cell.splitlines()[0] if cell else ""
    if first_line and first_line in text:
        where += f" (line {text[: text.index(first_line)].count(chr(10)) + 1})"
    return where


def describe_failure(book: Path, reports: Path, report: Path) -> str:
    """'chapters/x.md, code cell 3 (line 42): ValueError: boom' from a report."""
    docname = report.relative_to(reports).as_posix().removesuffix(".err.log")
    source = bookfacts.book.source_path(book, docname)
    text = ANSI.sub("", report.read_text(errors="replace"))
    where = f"{source.relative_to(book) if source else docname}"
    timeout = TIMEOUT.search(text)
    if timeout:
        preview = timeout.group(2)
        if preview.startswith("["):  # a long cell: nbclient shows its first and last five lines
            preview = "\n".join(ast.literal_eval(preview.split("\n...\n")[0]))
        if source is not None:
            where += cell_location(source, preview, prefix=True)
        return f"{where}: the cell timed out after {timeout.group(1)} s (execute.timeout in _config.yml)"
    match = CELL_SOURCE.search(text)
    if match and source is not None:
        where += cell_location(source, match.group(1))
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


@contextlib.contextmanager
def build_lock(out: Path):
    """One build per checkout at a time: a second build waits for the first."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".build.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            print(
                f"Another build of this book is running (process {holder}); waiting for it to finish...",
                flush=True,
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def switch_backend(out: Path, backend: str) -> None:
    """Drop the execution cache and the incremental build state when they were made
    with another backend (a cache without a record is a CPU one)."""
    cache, record = bookfacts.cache.cache_path(out.parent), out / ".jupyter_cache" / "jax-backend"
    if cache.is_dir():
        made_with = record.read_text().strip() if record.exists() else "cpu"
        if made_with != backend:
            print(f"The execution cache was made with JAX_BACKEND={made_with}: re-executing every chapter.")
            shutil.rmtree(cache)
            shutil.rmtree(out / ".staging", ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    record.write_text(backend + "\n")


def run_jupyter_book(
    book: Path, staging: Path, fresh: bool, backend: str, *options: str, log: list[str] | None = None
) -> int:
    """Run jupyter-book (strict), showing its output; each line of it also goes into
    `log`, without colour codes."""
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(book), "--path-output", str(staging), "-W", "--keep-going", *options]
    if fresh:
        cmd.append("--all")
    env = dict(os.environ, JAXBOOK_BUILD="1")
    if backend == "cpu":
        env["JAX_PLATFORMS"] = "cpu"  # even where the CUDA plugin is installed
    else:
        env.pop("JAX_PLATFORMS", None)
    proc = subprocess.Popen(
        cmd,
        cwd=book,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for line in proc.stdout:
            quiet = line.strip().startswith(STAGING_BANNER) or line.startswith(KERNEL_NOISE)
            if ".staging/_build/html" not in line and not quiet:
                print(line, end="", flush=True)
            if log is not None:
                log.append(ANSI.sub("", line).strip())
        return proc.wait()
    except KeyboardInterrupt:
        # Stop the build and its kernels quietly (their tracebacks say nothing useful).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        raise


def build(book: Path, backend: str, rebuild_all: bool) -> int:
    out = book / "_build"
    staging = out / ".staging"
    staged_html = staging / "_build" / "html"

    problems = check_toc(book)
    if problems:
        print("\n".join(["BUILD FAILED: the table of contents is broken:", *problems]), file=sys.stderr)
        return 2
    if backend != "cpu":
        try:
            print(f"GPU check passed: {check_gpu.check_machine(sys.executable, book)}.")
        except check_gpu.CheckFailed as exc:
            print(f"BUILD FAILED: GPU CHECK FAILED: {exc}", file=sys.stderr)
            return 1
    switch_backend(out, backend)
    damaged = bookfacts.cache.drop_damaged_cache_entries(book)
    for line in damaged:
        print(line, flush=True)

    # Execution reports of an earlier failed build must never reach the site.
    shutil.rmtree(staged_html / "reports", ignore_errors=True)
    # Sphinx re-reads only changed pages, so after a failed build the pages that
    # warned would not warn again: re-read everything (outputs still come from
    # the execution cache) unless the last build succeeded.
    last_ok = staging / "last-build-succeeded"
    fresh = rebuild_all or not last_ok.exists() or bool(damaged)  # re-read to re-execute
    last_ok.unlink(missing_ok=True)
    start = time.perf_counter()
    log: list[str] = []
    returncode = run_jupyter_book(book, staging, fresh, backend, log=log)
    elapsed = time.perf_counter() - start

    reports = sorted((staged_html / "reports").rglob("*.err.log"))
    failures = [f"cell error in {describe_failure(book, staged_html / 'reports', r)}" for r in reports]
    # Chapter checks are warnings of the build itself (extensions/jaxbook_executed.py).
    failures += [w for w in log if WARNING.search(w) and not w.endswith(EXECUTION_NOISE)]
    if returncode != 0 or failures:
        print(f"\nBUILD FAILED after {elapsed:.0f} s.", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        if not failures:
            print("  see the warnings/errors listed above", file=sys.stderr)
        print(f"  The last good site in {out / 'html'} was left as it was.", file=sys.stderr)
        return 1

    # The chapters as notebooks, written by the build into the site (jaxbook_colab.py):
    # the Colab buttons open them, from _build/colab (pushed to their branch on publish).
    colab = staging / "colab"
    shutil.rmtree(colab, ignore_errors=True)
    for docname in bookfacts.book.chapters(book):  # not a chapter that left the book
        written = staged_html / "_sources" / f"{docname}.ipynb"
        if not written.is_file():
            print(f"\nBUILD FAILED: the build wrote no Colab notebook for {docname}.", file=sys.stderr)
            return 1
        (colab / docname).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(written, colab / f"{docname}.ipynb")
    swap_in(staged_html, out / "html")
    swap_in(colab, out / "colab")
    last_ok.touch()

    print(f"\nBuilt in {elapsed:.1f} s (JAX_BACKEND={backend}). Open {out / 'html' / 'index.html'}")
    print("Chapter execution times (from the execution cache):")
    for line in bookfacts.cache.execution_lines(book, staging / "_build" / "jupyter_execute"):
        print(f"  {line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=bookfacts.book.ROOT, help="book folder")
    parser.add_argument(
        "--backend",
        choices=bookfacts.book.BACKENDS,
        default=os.environ.get("JAX_BACKEND") or "cpu",
        help="cpu (default; $JAX_BACKEND) or cuda12",
    )
    parser.add_argument("--all", action="store_true", help="re-read every page (outputs still cached)")
    args = parser.parse_args(argv)
    book = args.book.resolve()
    # Ctrl-C must stop the build even when it was started with SIGINT ignored (a
    # background job of a non-interactive shell, nohup, some CI runners): Python
    # then installs no handler of its own and KeyboardInterrupt would never come.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.backend not in bookfacts.book.BACKENDS:
        parser.error(f"JAX_BACKEND must be one of {', '.join(bookfacts.book.BACKENDS)}, not {args.backend!r}")
    try:
        with build_lock(book / "_build"):
            return build(book, args.backend, args.all)
    except KeyboardInterrupt:
        print(
            f"\nBUILD INTERRUPTED. The last good site in {book / '_build' / 'html'} was left as it was.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())

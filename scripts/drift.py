"""Drift watch: what another JAX changes in the book (`make drift JAX=<version>|latest`).

    python scripts/drift.py --jax 0.10.2      # or --jax latest (the newest on the package index)

Builds the book with another JAX and jaxlib, in its own folder and environment, and
writes one Markdown report comparing that build with the pinned build (the execution
cache of `make html`, which must be up to date: run `make html` first). Nothing of the
pinned build is touched: not `.venv`, not `_build/html`, not `_build/.jupyter_cache`.

Everything goes under `_build/drift/<version>/`:

* `venv/`: requirements.txt installed with its hashes, except jax and jaxlib, then
  `jax==<version> jaxlib==<version>` from the package index (no hashes exist for an
  arbitrary version; pip may upgrade a dependency the new JAX needs, and the report
  lists every package that differs from the lock). Re-used while it matches.
* `book/`: a copy of the book whose `_build/` holds the drift build's own execution
  cache and HTML. It executes every chapter every time, with errors allowed, so one
  failing cell does not stop the build: every failure is collected.
* `build.log`, `report.md` (the report), `drift.json` (its data).

The report, chapter by chapter: cells that fail (with the exception), the book's own
checks (hidden assertions) that break, deliberate errors that raise something else,
new warnings (a DeprecationWarning is an error in the book: the call is named),
glued values and words that changed (numbers beyond a tolerance; for values computed
from timings, beyond TIMING_FACTOR), measurements whose median moved by more than
TIMING_FACTOR against the pinned build, Sphinx warnings, and a short diff of every
cell output that differs. How to read it: MAINTAINING.md, "Drift watch".

`--no-html` only executes the chapters (no site, no Sphinx warnings; quicker).
`--python` builds with an existing interpreter instead of a new environment (the
tests use it with `--env NAME=VALUE` to play the part of a JAX change);
`--report-only` writes the report again from the last drift build. In a GitHub
Actions job (GITHUB_OUTPUT set) it also writes the outputs `version`, `changed`
and `report`. Exit status: 0 when the report was written (drift or not), 1 when the
drift environment or build could not be made, 2 when the pinned build is missing.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import hashlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))  # bookfacts, jaxbook_*

import bookfacts
import build
from bookfacts.records import fmt_ratio, fmt_seconds

TIMING_FACTOR = 2.0  # a median (or a number computed from timings) moved more than this: flagged
MIN_TIMINGS_FOR_RATIO = 5  # the build-wide timing ratio needs this many measurements
SLOW_CHAPTER_S = 10.0  # a chapter's execution time is flagged when it also moved by this much
RTOL, ATOL = 1e-4, 1e-12  # other glued numbers: changed beyond this tolerance
CHECKS = ("assert ", "np.testing.assert", "numpy.testing.assert", "assert_")
SPHINX_SHOWN = 5  # Sphinx warnings listed per chapter (e.g. every glue key of a chapter that died)
DIFF_LINES = 14  # lines of diff shown per cell
LINE_WIDTH = 160  # longest line shown in a diff
ISSUE_LIMIT = 60_000  # GitHub issue bodies hold 65,536 characters
# A cell that measures time: its printed numbers and figures differ on every run, so
# its outputs are compared with the numbers masked and without figures.
TIMING_CODE = re.compile(r"\b(measure|perf_counter|monotonic|median_s|first_s|q25_s|q75_s|min_s|max_s)\b")
NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# a duration as `measure` and fmt_seconds write it: 350 ms, 2.72 s, 7.5 µs
DURATION = re.compile(rf"({NUMBER.pattern})\s*(ns|µs|us|ms|s)\b")
SECONDS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
TIMING_CALLS = {"measure", "perf_counter", "perf_counter_ns", "monotonic", "time"}
FILLING = {"append", "extend", "insert", "update", "setdefault", "add"}  # methods that store a value
TIMING_ATTRS = {"median_s", "first_s", "q25_s", "q75_s", "min_s", "max_s", "spread_s", "times"}
WARNING_LINE = re.compile(r"^(?:(?P<file>\S+?):(?P<line>\d+): )?(?P<category>\w*Warning): (?P<message>.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Differ on every run: memory addresses and object ids.
ADDRESS = re.compile(r"(\b0x)[0-9a-fA-F]{6,}\b|(\bobject id )\d+")
SITE_MARKER = "--- the site, from these executions (jupyter-book) ---"
FATAL = re.compile(r"^(F\d{4} |Fatal Python error|Segmentation fault|terminate called)")
SPHINX_WARNING = re.compile(
    r"^(?P<where>\S*?):?(?P<line>\d+)?:? ?(?P<kind>WARNING|ERROR|CRITICAL): (?P<msg>.*)$"
)


# --- the drift environment ----------------------------------------------------------


def pip_versions(python: str, package: str) -> list[str]:
    """Versions of `package` on the package index for this Python, newest first."""
    result = subprocess.run(
        [python, "-m", "pip", "index", "versions", package], capture_output=True, text=True
    )
    match = re.search(r"^Available versions: (.*)$", result.stdout, re.M)
    if result.returncode != 0 or not match:
        raise SystemExit(f"pip could not list the versions of {package}:\n{result.stdout}{result.stderr}")
    return [v.strip() for v in match[1].split(",")]


def resolve_version(spec: str, python: str) -> str:
    """`latest`: the newest version that both jax and jaxlib offer for this Python."""
    if spec != "latest":
        if not re.fullmatch(r"\d+(\.\d+)*((a|b|rc|\.post|\.dev)\d+)?", spec):
            raise SystemExit(f"Not a JAX version: {spec!r} (e.g. 0.10.2, or latest)")
        return spec
    jaxlib = set(pip_versions(python, "jaxlib"))
    return next(v for v in pip_versions(python, "jax") if v in jaxlib)


def lock_without_jax(lock: str) -> str:
    """requirements.txt without the jax and jaxlib requirements (and their hashes)."""
    kept, skipping = [], False
    for line in lock.splitlines():
        if re.match(r"^[A-Za-z0-9]", line):
            name = re.split(r"[=<>\[ ;\\]", line, maxsplit=1)[0]
            skipping = bookfacts.requirements.canonical(name) in ("jax", "jaxlib")
        elif not line.startswith((" ", "\t")):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def make_env(book: Path, folder: Path, version: str) -> Path:
    """The drift environment (re-used while the lock and the version are the same)."""
    venv = folder / "venv"
    python = venv / "bin" / "python"
    lock = (book / "requirements.txt").read_text()
    stamp = venv / ".drift-installed"
    wanted = f"jax=={version} lock-sha256={hashlib.sha256(lock.encode()).hexdigest()}\n"
    if stamp.exists() and stamp.read_text() == wanted and python.exists():
        print(f"Drift environment: {venv} (already made)")
        return python
    shutil.rmtree(venv, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Making the drift environment in {venv} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirements = folder / "requirements-without-jax.txt"
    requirements.write_text(lock_without_jax(lock))
    pip = [str(python), "-m", "pip", "install", "--quiet", "--require-virtualenv"]
    subprocess.run([*pip, "--require-hashes", "--no-deps", "-r", str(requirements)], check=True)
    # No hashes exist for an arbitrary version: this environment is never published.
    subprocess.run([*pip, f"jax=={version}", f"jaxlib=={version}"], check=True)
    stamp.write_text(wanted)
    return python


# --- the drift build ----------------------------------------------------------------

COPY_IGNORED = {
    "_build",
    ".venv",
    ".git",
    ".github",
    ".ci",
    "tests",
    "conf.py",
    ".pytest_cache",
    ".ruff_cache",
}


def copy_book(book: Path, dest: Path) -> None:
    """The book's sources, configured to execute everything with errors allowed,
    into its own execution cache."""
    shutil.rmtree(dest, ignore_errors=True)

    def ignore(folder, names):
        top = Path(folder) == book
        return {n for n in names if (top and n in COPY_IGNORED) or n == "__pycache__"}

    shutil.copytree(book, dest, ignore=ignore)
    set_execute(
        dest,
        execute_notebooks="cache",
        cache=str(bookfacts.cache.cache_path(dest)),
        allow_errors=True,  # run every cell, collect every failure
        raise_on_error=False,
    )


def set_execute(book: Path, **settings) -> None:
    """Change the `execute` settings in the book's _config.yml."""
    path = book / "_config.yml"
    config = yaml.safe_load(path.read_text())
    config.setdefault("execute", {}).update(settings)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def reports_path(copy: Path) -> Path:
    """Where the drift build says why a chapter could not be executed to its end."""
    return copy / "_build" / "reports"


def failed_chapters(copy: Path) -> list[str]:
    """The docnames of the chapters that could not be executed to their end."""
    reports = reports_path(copy)
    return [
        f.relative_to(reports).as_posix().removesuffix(".err.log") for f in sorted(reports.rglob("*.err.log"))
    ]


def run_build(
    python: Path, copy: Path, log: Path, extra_env: dict[str, str], html: bool = True
) -> tuple[int, float]:
    """Execute every chapter in the drift environment (execute_chapters: one chapter
    whose kernel dies or times out does not stop the others), then, with `html`, build
    the site from those executions with jupyter-book, not strict (its warnings are
    collected from the log), executing nothing again."""
    env = dict(os.environ, JAXBOOK_BUILD="1", JAX_PLATFORMS="cpu", **extra_env)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    start = time.perf_counter()
    with open(log, "w") as out:
        command = [str(python), str(copy / "scripts" / "drift.py"), "--execute-chapters", "--book", str(copy)]
        proc = subprocess.run(command, cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        if proc.returncode == 0 and html:
            # shown without outputs: executing them again would fail again
            failed = [str(bookfacts.book.source_path(copy, d)) for d in failed_chapters(copy)]
            set_execute(copy, exclude_patterns=failed)
            out.write(f"\n{SITE_MARKER}\n")
            out.flush()
            jupyter_book = str(python.with_name("jupyter-book"))
            command = [jupyter_book, "build", str(copy), "--path-output", str(copy), "--keep-going"]
            proc = subprocess.run(command, cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    return proc.returncode, time.perf_counter() - start


def execute_chapters(book: Path) -> int:
    """Execute every chapter into the book's execution cache as myst-nb's cache mode
    does (in a temporary folder, errors allowed, the book's cell timeout); a chapter
    that cannot be executed to its end (its kernel died, a cell timed out) gets a
    report in reports_path() and the next chapter is executed. Runs in the drift
    environment (`--execute-chapters`), whose kernel it starts."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    timeout = (yaml.safe_load((book / "_config.yml").read_text()).get("execute") or {}).get("timeout")
    cache = get_cache(str(bookfacts.cache.cache_path(book)))
    shutil.rmtree(reports_path(book), ignore_errors=True)
    for docname in bookfacts.book.chapters(book):
        source = bookfacts.book.source_path(book, docname)
        nb = bookfacts.reading.read_notebook(source)
        print(f"{source}: executing", flush=True)
        error = None
        started: list[int] = []  # the cells nbclient began to execute, by index

        def note_start(cell, cell_index, started=started):
            started.append(cell_index)

        try:
            with tempfile.TemporaryDirectory() as cwd:
                result = single_nb_execution(
                    nb,
                    cwd=cwd,
                    allow_errors=True,
                    timeout=timeout,
                    meta_override=True,
                    on_cell_execute=note_start,
                )
            if result.err is not None:
                error = f"{result.exc_string}\n{type(result.err).__name__}: {result.err}"
        except Exception as err:  # e.g. DeadKernelError: the kernel crashed
            error = traceback.format_exc()
            # the cell it died in: the last one nbclient began to execute
            if started:  # in the words build.describe_failure reads
                rule = "-" * 20
                dying = nb.cells[started[-1]].source
                error += f"\nAn error occurred while executing the following cell:\n{rule}\n{dying}\n{rule}\n"
            error += f"\n{type(err).__name__}: {err}"
        if error is not None:
            report = reports_path(book) / f"{docname}.err.log"
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(error)
            print(f"{source}: could not be executed to its end: {error.strip().splitlines()[-1]}", flush=True)
            continue
        bundle = CacheBundleIn(nb, str(source), data={"execution_seconds": result.time})
        cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
        print(f"{source}: executed in {result.time:.1f} s", flush=True)
    return 0


# --- comparing two builds -------------------------------------------------------------


def text_of(value) -> str:
    return value if isinstance(value, str) else "".join(value)


def short(text: str, width: int = LINE_WIDTH) -> str:
    text = text.replace("\n", " ").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def reads_timing(node, names: set[str], called_only: bool = False, bare_time: bool = False) -> bool:
    """Whether the code measures or reads timings: calls `measure`, `perf_counter`, ...
    (a bare `time()` only with `bare_time`), reads a Timing's `.median_s`, ..., or uses
    one of `names` (with `called_only`, only calls one of them)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr in TIMING_ATTRS:
            return True
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Attribute) and func.attr in TIMING_CALLS:
                return True
            calls = TIMING_CALLS if bare_time else TIMING_CALLS - {"time"}
            if isinstance(func, ast.Name) and (func.id in calls or func.id in names):
                return True
        if not called_only and isinstance(sub, ast.Name) and sub.id in names:
            return True
    return False


def timing_names(nb) -> set[str]:
    """Names that hold timings, or values computed from them, in the notebook's own
    code (the setup cell, which defines `measure`, left out): module-level names
    assigned from code that reads_timing (`times.append(...)` too), and functions
    whose code measures or reads timings. A simple fixed point; names local to a
    function are not followed."""
    trees = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "def measure(" not in cell["source"]:
            with contextlib.suppress(SyntaxError):  # IPython magics
                trees.append(ast.parse(cell["source"]))
    tainted: set[str] = set()
    scopes = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda

    def module_level(node):
        """The nodes of a module outside function and class bodies (the functions themselves included)."""
        for child in ast.iter_child_nodes(node):
            yield child
            if not isinstance(child, scopes):
                yield from module_level(child)

    def targets(node) -> set[str]:
        if isinstance(node, ast.Name):
            return {node.id}
        if isinstance(node, ast.Tuple | ast.List):
            return set().union(*(targets(e) for e in node.elts))
        if isinstance(node, ast.Starred | ast.Subscript | ast.Attribute):
            return targets(node.value)  # times[k] = ..., t.x = ...: the container
        return set()

    changed = True
    while changed:
        before = len(tainted)
        for tree in trees:
            for node in module_level(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    if reads_timing(node, tainted, called_only=True):
                        tainted.add(node.name)
                elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value is not None:
                    if reads_timing(node.value, tainted):
                        for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                            tainted |= targets(target)
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    func = node.func
                    if (
                        func.attr in FILLING
                        and isinstance(func.value, ast.Name)
                        and reads_timing(node, tainted)
                    ):
                        tainted.add(func.value.id)
        changed = len(tainted) != before
    return tainted


def code(text: str, width: int = LINE_WIDTH) -> str:
    """Text as inline code in the report (shortened, on one line, no backtick inside)."""
    return "`" + short(text, width).replace("`", "'") + "`"


def is_timing_cell(cell, names: set[str] = frozenset()) -> bool:
    """A cell that measures time, or shows something computed from timings."""
    if any(bookfacts.records.TIMING_KEY in (o.get("metadata") or {}) for o in cell.get("outputs", [])):
        return True
    if TIMING_CODE.search(cell.get("source", "")):
        return True
    return any(re.search(rf"\b{re.escape(n)}\b", cell.get("source", "")) for n in names if n)


def glue_is_timing(cell, name: str, names: set[str]) -> bool:
    """Whether the value glued as `name` in this cell is computed from timings."""
    try:
        tree = ast.parse(cell.get("source", ""))
    except SyntaxError:
        return is_timing_cell(cell, names)
    return any(
        reads_timing(call.args[1], names, bare_time=True)
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "glue" and len(call.args) >= 2
        if not isinstance(call.args[0], ast.Constant) or call.args[0].value == name
    )


def in_seconds(text: str) -> str:
    """Durations written in seconds (350 ms and 2.72 s compare as numbers)."""
    return DURATION.sub(lambda m: f"{float(m[1].replace(',', '')) * SECONDS[m[2]]:.6g} s", text)


def output_lines(cell, timing: bool, version: str = "") -> list[str]:
    """What a reader sees of a cell's outputs, as lines to diff (the setup cell's
    "executed with" sentence and `measure`'s results are left to other sections)."""
    lines = []
    for out in bookfacts.checks.visible_outputs(cell):
        meta = out.get("metadata") or {}
        if bookfacts.records.EXECUTED_KEY in meta or bookfacts.records.TIMING_KEY in meta:
            continue
        if out["output_type"] == "error":
            lines += f"{out['ename']}: {out['evalue']}".splitlines()
            continue
        if out["output_type"] == "stream":
            text = text_of(out["text"])
        else:
            data = out.get("data", {})
            images = [m for m in data if m.startswith("image/")]
            if images:
                if timing:
                    lines.append("[figure of timings: not compared]")
                else:
                    digest = hashlib.sha256(text_of(data[images[0]]).encode()).hexdigest()[:12]
                    lines.append(f"[figure {images[0]}, sha256 {digest}]")
                continue
            text = text_of(data.get("text/plain") or data.get("text/markdown") or data.get("text/html") or "")
        if version:
            text = text.replace(version, "<the JAX version>")
        if timing:
            text = NUMBER.sub("#", DURATION.sub("# s", text))
        lines += ANSI.sub("", ADDRESS.sub(lambda m: (m[1] or m[2]) + "…", text)).splitlines()
    return lines


def stderr_lines(cell) -> list[str]:
    lines = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream" and out["name"] == "stderr":
            lines += [ANSI.sub("", line) for line in text_of(out["text"]).splitlines() if line.strip()]
    return lines


def errors_of(cell) -> list[tuple[str, str]]:
    return [
        (o["ename"], ANSI.sub("", o["evalue"]))
        for o in cell.get("outputs", [])
        if o["output_type"] == "error"
    ]


def glued(nb, version: str = "") -> dict[str, dict]:
    """{name: {"value": text/plain, "timing": computed from timings}}."""
    found = {}
    names = timing_names(nb)
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = ((out.get("metadata") or {}).get("scrapbook") or {}).get("name")
            data = out.get("data") or {}
            if name is None or not any(m.startswith(bookfacts.checks.GLUE_MIME) for m in data):
                continue
            value = data.get(bookfacts.checks.GLUE_MIME + "text/plain")
            if value is None:
                value = (
                    "[" + ", ".join(sorted(m.removeprefix(bookfacts.checks.GLUE_MIME) for m in data)) + "]"
                )
            value = text_of(value)
            if version and value.strip("'\"") == version:
                value = "<the JAX version>"
            found[name] = {"value": value, "timing": glue_is_timing(cell, name, names)}
    return found


def numbers_of(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in NUMBER.findall(text)]


def glue_change(pinned: dict, drift: dict) -> str | None:
    """Why a glued value counts as changed, or None."""
    a, b = pinned["value"], drift["value"]
    if a == b:
        return None
    if pinned["timing"]:
        a, b = in_seconds(a), in_seconds(b)
    if NUMBER.sub("#", a) != NUMBER.sub("#", b):
        return "words changed"
    for x, y in zip(numbers_of(a), numbers_of(b), strict=True):
        if pinned["timing"]:
            if (x > 0) != (y > 0) or (x > 0 and max(x / y, y / x) > TIMING_FACTOR):
                return f"moved more than {TIMING_FACTOR:g}× (computed from timings)"
        elif not math.isclose(x, y, rel_tol=RTOL, abs_tol=ATOL):
            return f"beyond rtol {RTOL:g}"
    return None


def call_named(message: str, source: str) -> str | None:
    """The line of the cell that makes the call a warning names, e.g. `jax.tree_map`."""
    names = re.findall(r"`([^`]+)`", message) + re.findall(r"\b[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+", message)
    names += re.findall(r"\b([A-Za-z_]\w*) is deprecated", message)
    for name in names:
        last = re.sub(r"\(.*", "", name).rsplit(".", 1)[-1]
        if not last or not re.match(r"\w+$", last):
            continue
        for number, line in enumerate(source.splitlines(), start=1):
            if re.search(rf"\b{re.escape(last)}\b", line):
                return f"line {number} of the cell: {code(line)}"
    return None


def cell_lines(source_path: Path, cells: list) -> list[int | None]:
    """The line of the chapter's .md file where each code cell's code starts."""
    text = source_path.read_text().splitlines()
    found, at = [], 0
    for cell in cells:
        first = next((line for line in cell["source"].splitlines() if line.strip()), None)
        line = None
        if first in text[at:]:
            line = at = text.index(first, at) + 1
        found.append(line)
    return found


@dataclass
class Chapter:
    docname: str
    source: str
    failures: list[str] = field(default_factory=list)  # cells that fail
    checks: list[str] = field(default_factory=list)  # hidden assertions that break
    deliberate: list[str] = field(default_factory=list)  # raises-exception cells that changed
    warnings: list[str] = field(default_factory=list)  # new warnings (deprecations named)
    glue: list[dict] = field(default_factory=list)
    timings: list[dict] = field(default_factory=list)  # every measurement, flagged or not
    seconds: tuple[float | None, float | None] = (None, None)
    sphinx: list[str] = field(default_factory=list)
    diffs: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def flagged_timings(self) -> list[dict]:
        return [t for t in self.timings if t["flagged"]]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "failing cells": len(self.failures),
            "broken checks": len(self.checks),
            "deliberate errors changed": len(self.deliberate),
            "new warnings": len(self.warnings),
            "glued values changed": len(self.glue),
            f"timings moved >{TIMING_FACTOR:g}×": len(self.flagged_timings) + self.slow_chapter,
            "Sphinx warnings": len(self.sphinx),
            "outputs differ": len(self.diffs),
        }

    @property
    def slow_chapter(self) -> int:
        a, b = self.seconds
        return int(bool(a and b and max(a / b, b / a) > TIMING_FACTOR and abs(a - b) > SLOW_CHAPTER_S))

    @property
    def changed(self) -> bool:
        return any(self.counts.values())


def is_check(cell) -> bool:
    hidden = bookfacts.checks.tags(cell) & {"remove-cell", "remove-input", "hide-cell", "hide-input"}
    return bool(hidden) and "assert" in cell["source"]


def executed_notebook(book: Path, docname: str):
    """The executed notebook from the book's execution cache, read without touching the
    cache (jupyter-cache's get_cache_bundle would write the record's access time)."""
    import nbformat

    cache, record = bookfacts.cache.cache_record(book, docname)
    if record is None:
        raise KeyError(f"{docname}: no execution of its current source in {bookfacts.cache.cache_path(book)}")
    return nbformat.read(cache._get_notebook_path_cache(record.hashkey), as_version=4)


def compare_chapter(pinned_book: Path, drift_book: Path, docname: str, failure: str | None) -> Chapter:
    source = bookfacts.book.source_path(drift_book, docname)
    chapter = Chapter(docname, source.relative_to(drift_book).as_posix())
    pinned_nb = executed_notebook(pinned_book, docname)
    try:
        drift_nb = executed_notebook(drift_book, docname)
    except KeyError:
        chapter.failures.append(f"the chapter was not executed to the end: {failure or 'no record of it'}")
        return chapter
    chapter.seconds = (
        bookfacts.cache.execution_seconds(pinned_book, docname),
        bookfacts.cache.execution_seconds(drift_book, docname),
    )
    pinned_cells = [c for c in pinned_nb["cells"] if c["cell_type"] == "code"]
    drift_cells = [c for c in drift_nb["cells"] if c["cell_type"] == "code"]
    lines = cell_lines(source, drift_cells)
    names = timing_names(pinned_nb) | timing_names(drift_nb)
    versions = [
        (bookfacts.records.execution_info(nb) or {}).get("jax_version") or "" for nb in (pinned_nb, drift_nb)
    ]
    if versions[0] == versions[1]:
        versions = ["", ""]  # the same JAX: nothing to tell apart
    first_failure = None
    for i, (p, d) in enumerate(zip(pinned_cells, drift_cells, strict=True)):
        where = f"code cell {i + 1}" + (
            f" (line {lines[i]})" if lines[i] else " (the setup cell)" if i == 0 else ""
        )
        p_err, d_err = errors_of(p), errors_of(d)
        after = f" (after the failure in code cell {first_failure})" if first_failure else ""
        if "raises-exception" in bookfacts.checks.tags(d):
            declared = d["metadata"].get("raises")
            if [e for e, _ in d_err] != [declared]:
                raised = ", ".join(f"{e}: {short(v)}" for e, v in d_err) or "nothing"
                chapter.deliberate.append(f"{where}: should raise {declared}, raised {raised}{after}")
        elif d_err and d_err != p_err:
            if not is_check(d):  # a failed check defines nothing the next cells miss
                first_failure = first_failure or i + 1
            for ename, evalue in d_err:
                message = code(f"{ename}: {evalue}")
                if ename == "DeprecationWarning":
                    call = call_named(evalue, d["source"])
                    chapter.warnings.append(f"{where}: {call or 'a call in this cell'}: {message}{after}")
                elif ename == "AssertionError" or is_check(d):
                    asserts = [ln.strip() for ln in d["source"].splitlines() if ln.strip().startswith(CHECKS)]
                    if not evalue.strip() and asserts:  # a bare assert: say what the cell checks
                        message += f" (a bare assert; the cell has {len(asserts)} checks, the first: {code(asserts[0])})"
                    chapter.checks.append(f"{where}: {message}{after}")
                else:
                    chapter.failures.append(f"{where}: {message}{after}")
        old = set(stderr_lines(p))
        for line in stderr_lines(d):
            if line in old:
                continue
            match = WARNING_LINE.match(line)
            if match:
                text = code(f"{match['category']}: {match['message']}")
                cell_file = match["file"] and re.search(r"ipykernel_\d+/\d+\.py$", match["file"])
                if cell_file:
                    src = d["source"].splitlines()
                    n = int(match["line"])
                    text += f", at line {n} of the cell" + (f": {code(src[n - 1])}" if n <= len(src) else "")
                elif match["file"]:
                    text += f" (issued in {Path(match['file']).name}:{match['line']})"
                chapter.warnings.append(f"{where}: {text}")
            elif not line.startswith(" "):  # a warning's source line follows it, indented
                chapter.warnings.append(f"{where}: stderr: {code(line)}")
        if bookfacts.checks.tags(d) & {"remove-cell", "remove-output"}:
            continue  # a reader sees nothing of it (its errors are listed above)
        timing = is_timing_cell(p, names) or is_timing_cell(d, names)
        before, now = output_lines(p, timing, versions[0]), output_lines(d, timing, versions[1])
        if before != now:
            diff = list(difflib.unified_diff(before, now, lineterm="", n=1))[2:]
            shown = [ln if len(ln) <= LINE_WIDTH else ln[: LINE_WIDTH - 1] + "…" for ln in diff[:DIFF_LINES]]
            if len(diff) > DIFF_LINES:
                shown.append(f"… {len(diff) - DIFF_LINES} more lines")
            chapter.diffs.append((where + (" (numbers masked: a timing cell)" if timing else ""), shown))

    old_glue, new_glue = glued(pinned_nb, versions[0]), glued(drift_nb, versions[1])
    for name in {**old_glue, **new_glue}:  # the pinned build's order, then the new ones
        p, d = old_glue.get(name), new_glue.get(name)
        why = "new" if p is None else "not glued any more" if d is None else glue_change(p, d)
        if why:
            chapter.glue.append(
                {"name": name, "pinned": p and p["value"], "drift": d and d["value"], "why": why}
            )

    old_t = {r["label"]: r for r in bookfacts.records.records_from_notebook(pinned_nb, docname)}
    new_t = {r["label"]: r for r in bookfacts.records.records_from_notebook(drift_nb, docname)}
    for label in {**old_t, **new_t}:
        a, b = old_t.get(label), new_t.get(label)
        ratio = b["median_s"] / a["median_s"] if a and b and a["median_s"] > 0 else None
        flagged = ratio is None or max(ratio, 1 / ratio) > TIMING_FACTOR
        pinned, drift = a and a["median_s"], b and b["median_s"]
        chapter.timings.append(dict(label=label, pinned=pinned, drift=drift, ratio=ratio, flagged=flagged))
    return chapter


def sphinx_warnings(log_text: str, copy: Path) -> dict[str, list[str]]:
    """{docname or "": [warning]} from the drift build's log."""
    found: dict[str, list[str]] = {}
    for raw in ANSI.sub("", log_text).splitlines():
        match = SPHINX_WARNING.match(raw.strip())
        if not match:
            continue
        where = match["where"].replace(str(copy) + "/", "")
        docname = re.sub(r"\.(md|ipynb)$", "", where) if where.endswith((".md", ".ipynb")) else ""
        line = (
            f"{where}{':' + match['line'] if match['line'] else ''}: {match['kind']}: {short(match['msg'])}"
        )
        found.setdefault(docname, []).append(line.strip(": "))
    return found


@dataclass
class Comparison:
    pinned_jax: str
    drift_jax: str
    chapters: list[Chapter]
    packages: list[str]
    build_warnings: list[str]
    build_seconds: float | None
    html: Path
    pinned_dates: list[str]
    drift_info: dict

    @property
    def build_ratio(self) -> float | None:
        """The median drift/pinned ratio of all measurements: about 1 when both builds
        ran on one machine under the same load."""
        ratios = [t["ratio"] for c in self.chapters for t in c.timings if t["ratio"]]
        return statistics.median(ratios) if len(ratios) >= MIN_TIMINGS_FOR_RATIO else None

    @property
    def changed(self) -> bool:
        return bool(self.build_warnings) or any(c.changed for c in self.chapters)


def execution_infos(book: Path) -> list[dict]:
    """Where and with what each executed chapter was executed, as its setup cell recorded."""
    infos = []
    for docname in bookfacts.book.chapters(book):
        with contextlib.suppress(KeyError):  # not executed: listed as failing
            infos.append(bookfacts.records.execution_info(executed_notebook(book, docname)) or {})
    return infos


def distinct(infos: list[dict], key: str) -> list[str]:
    return sorted({i[key] for i in infos if i.get(key)})


def compare(
    pinned_book: Path, drift_book: Path, log: Path, packages: list[str], build_seconds: float | None
) -> Comparison:
    failures = {}
    reports = reports_path(drift_book)
    log_text = ANSI.sub("", log.read_text(errors="replace")) if log.exists() else ""
    for docname in failed_chapters(drift_book):
        source = bookfacts.book.source_path(drift_book, docname)
        prefix = source.relative_to(drift_book).as_posix()
        described = build.describe_failure(drift_book, reports, reports / f"{docname}.err.log")
        failures[docname] = described.removeprefix(prefix).removeprefix(", ").removeprefix(": ")
        # what the kernel said as it died (e.g. an XLA fatal error), from the log
        part = log_text.split(f"{source}: executing", 1)[-1].split(": executing", 1)[0]
        fatal = [line for line in part.splitlines() if FATAL.match(line)]
        if fatal:
            failures[docname] += f"; the kernel's last words: {code(fatal[-1])}"
    warnings = sphinx_warnings(
        log_text.split(SITE_MARKER, 1)[1] if SITE_MARKER in log_text else "", drift_book
    )
    chapters = []
    for docname in bookfacts.book.chapters(drift_book):
        chapter = compare_chapter(pinned_book, drift_book, docname, failures.get(docname))
        chapter.sphinx = warnings.pop(docname, [])
        chapters.append(chapter)
    pinned_infos, drift_infos = execution_infos(pinned_book), execution_infos(drift_book)
    return Comparison(
        pinned_jax=", ".join(distinct(pinned_infos, "jax_version")) or "?",
        drift_jax=", ".join(distinct(drift_infos, "jax_version")) or "?",
        chapters=chapters,
        packages=packages,
        build_warnings=[w for ws in warnings.values() for w in ws],
        build_seconds=build_seconds,
        html=drift_book / "_build" / "html",
        pinned_dates=distinct(pinned_infos, "date"),
        drift_info=drift_infos[0] if drift_infos else {},
    )


# --- the report ----------------------------------------------------------------------


def md_cell(text) -> str:
    return "—" if text is None else code(str(text), 80).replace("|", "\\|")


def row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def table_header(*names: str) -> list[str]:
    return [row(*names), "|" + "---|" * len(names)]


def render(cmp: Comparison, root: Path) -> str:
    def rel(path: Path) -> str:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return str(path)

    changed = [c for c in cmp.chapters if c.changed]
    factor = cmp.build_ratio
    n_timings = sum(1 for c in cmp.chapters for t in c.timings if t["ratio"])
    out = [f"# Drift report: JAX {cmp.drift_jax} against the pinned JAX {cmp.pinned_jax}", ""]
    if not cmp.changed:
        out += [
            f"**No drift**: JAX {cmp.drift_jax} changes nothing in the book's {len(cmp.chapters)} chapters "
            "(no failing cell, broken check, new warning, changed glued value, timing moved more than "
            f"{TIMING_FACTOR:g}×, or differing output).",
            "",
        ]
    else:
        totals: Counter[str] = Counter()
        for c in cmp.chapters:
            totals.update(c.counts)
        found = ", ".join(f"{k}: {v}" for k, v in totals.items() if v)
        if cmp.build_warnings:
            found += f", build warnings: {len(cmp.build_warnings)}"
        out += [f"**Drift found** in {len(changed)} of {len(cmp.chapters)} chapters: {found}.", ""]
    info = cmp.drift_info
    out += [
        f"- Drift build: JAX {cmp.drift_jax}, executed on {info.get('device', '?')} on {info.get('date', '?')}"
        + (f" in {cmp.build_seconds:.0f} s" if cmp.build_seconds else "")
        + (
            f"; its site is in `{rel(cmp.html)}`."
            if (cmp.html / "index.html").exists()
            else " (no site: --no-html)."
        ),
        f"- Pinned build: JAX {cmp.pinned_jax} (requirements.txt), from the execution cache of `make html` "
        f"(executed {', '.join(cmp.pinned_dates) or '?'}).",
        f"- Timings: the median drift/pinned ratio of all {n_timings} measurements is {fmt_ratio(factor)}"
        + (
            ": the drift build ran on a busier (or another) machine, so every timing moved; the last column of "
            "each timings table divides by this ratio."
            if factor and max(factor, 1 / factor) > 1.5
            else "."
        )
        if factor
        else f"- Timings: {n_timings} measurements in both builds.",
        "- Packages that differ from requirements.txt: " + (", ".join(cmp.packages) or "none") + ".",
        '- How to read this report: MAINTAINING.md, "Drift watch".',
        "",
    ]
    out += table_header("chapter", *Chapter("", "").counts)
    out += [row(c.source, *(str(v or "") for v in c.counts.values())) for c in cmp.chapters]
    out.append("")
    if cmp.build_warnings:
        out += ["## Build warnings", "", *(f"- {w}" for w in cmp.build_warnings), ""]
    for c in changed:
        out += [f"## {c.source}", ""]
        for title, items in [
            ("Failing cells", c.failures),
            ("Broken checks (the book's own assertions)", c.checks),
            ("Deliberate errors that changed", c.deliberate),
            ("New warnings (a DeprecationWarning is an error in the book)", c.warnings),
            (
                "Sphinx warnings",
                [*c.sphinx[:SPHINX_SHOWN], f"… {len(c.sphinx) - SPHINX_SHOWN} more"]
                if len(c.sphinx) > SPHINX_SHOWN + 1
                else c.sphinx,
            ),
        ]:
            if items:
                out += [f"### {title}", "", *(f"- {item}" for item in items), ""]
        if c.glue:
            out += ["### Glued values that changed", "", *table_header("name", "pinned", "drift", "why")]
            out += [
                row(f"`{g['name']}`", md_cell(g["pinned"]), md_cell(g["drift"]), g["why"]) for g in c.glue
            ]
            out.append("")
        if c.flagged_timings or c.slow_chapter:
            out += [f"### Timings that moved more than {TIMING_FACTOR:g}× (median, drift/pinned)", ""]
            out += table_header(
                "measurement", "pinned", "drift", "drift/pinned", f"÷ the build's {fmt_ratio(factor)}"
            )
            if c.slow_chapter:
                a, b = c.seconds
                out.append(f"| the whole chapter's execution | {a:.1f} s | {b:.1f} s | {b / a:.2f}× | |")
            for t in c.flagged_timings:
                measured = [fmt_seconds(t["pinned"]), fmt_seconds(t["drift"]), fmt_ratio(t["ratio"])]
                relative = fmt_ratio(t["ratio"] / factor if t["ratio"] and factor else None)
                out.append(row(t["label"], *measured, relative))
            out.append("")
        if c.diffs:
            out += ["### Outputs that differ", ""]
            for where, lines in c.diffs:
                out += [f"{where}:", "", "```diff", *lines, "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def issue_body(report: str, limit: int = ISSUE_LIMIT) -> str:
    if len(report) <= limit:
        return report
    cut = report[:limit].rsplit("\n## ", 1)[0]
    return cut + "\n\n… (cut here: the whole report is the workflow run's artifact `drift-report`)\n"


def package_changes(python: Path, book: Path) -> list[str]:
    """Every package of the drift environment whose version is not the lock's."""
    locked = bookfacts.requirements.pins(book / "requirements.txt")
    command = [str(python), "-m", "pip", "list", "--format=json"]
    listed = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    installed = {bookfacts.requirements.canonical(p["name"]): p["version"] for p in listed}
    changes = [f"{n} {v} → {installed[n]}" for n, v in locked.items() if n in installed and installed[n] != v]
    changes += [f"{n} {v} (not in the lock)" for n, v in installed.items() if n not in locked and n != "pip"]
    return changes


def write_outputs(**values) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a") as handle:
            for key, value in values.items():
                handle.write(f"{key}={value}\n")


def pinned_problems(book: Path) -> list[str]:
    """The chapters without an execution of their current source in the pinned build."""
    return [d for d in bookfacts.book.chapters(book) if bookfacts.cache.cache_record(book, d)[1] is None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jax", default="latest", help="a JAX version, or latest (default)")
    parser.add_argument("--book", type=Path, default=bookfacts.book.ROOT, help="book folder")
    parser.add_argument("--python", type=Path, help="build with this Python instead of a drift environment")
    parser.add_argument("--label", help="the drift build's folder name (default: the version)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment")
    parser.add_argument("--report-only", action="store_true", help="compare the last drift build again")
    parser.add_argument("--no-html", action="store_true", help="only execute the chapters (no site; quicker)")
    parser.add_argument("--execute-chapters", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    book = args.book.resolve()
    if args.execute_chapters:  # the drift build without its site, in the drift environment
        return execute_chapters(book)

    stale = pinned_problems(book)
    if stale:
        print(
            f"The pinned build is missing or out of date for {', '.join(stale)}: run `make html` first.",
            file=sys.stderr,
        )
        return 2
    pinned = bookfacts.requirements.pinned_jax(book)
    version = args.jax if args.python else resolve_version(args.jax, sys.executable)
    label = args.label or version
    folder = book / "_build" / "drift" / label
    report_path = folder / "report.md"
    if args.jax == "latest" and version == pinned and not args.python:
        folder.mkdir(parents=True, exist_ok=True)
        report_path.write_text(
            f"# Drift report: JAX {version}\n\n**No drift**: the newest JAX on the package "
            f"index, {version}, is the pinned version. Nothing to compare.\n"
        )
        print(report_path.read_text())
        write_outputs(version=version, changed="false", report=report_path)
        return 0

    copy, log = folder / "book", folder / "build.log"
    extra_env = dict(item.split("=", 1) for item in args.env)
    seconds = None
    with build.build_lock(folder):
        if args.python:
            python = args.python
        else:
            try:
                python = make_env(book, folder, version)
            except subprocess.CalledProcessError as exc:
                print(
                    f"DRIFT FAILED: could not make the environment with JAX {version}: {exc}", file=sys.stderr
                )
                return 1
        if not args.report_only:
            copy_book(book, copy)
            print(f"Building the book with {python} into {copy} (every chapter is executed) ...", flush=True)
            returncode, seconds = run_build(python, copy, log, extra_env, html=not args.no_html)
            print(f"The drift build took {seconds:.0f} s (exit status {returncode}); log: {log}")
        elif not copy.exists():
            print(f"No drift build in {copy} to report on.", file=sys.stderr)
            return 1
        else:
            old = folder / "drift.json"
            seconds = json.loads(old.read_text()).get("build_seconds") if old.exists() else None
        packages = [] if args.python else package_changes(python, book)
        cmp = compare(book, copy, log, packages, seconds)
        report = render(cmp, book)
        report_path.write_text(report)
        (folder / "issue.md").write_text(issue_body(report))
        summary = {
            "label": label,
            "pinned_jax": cmp.pinned_jax,
            "drift_jax": cmp.drift_jax,
            "changed": cmp.changed,
            "build_seconds": seconds,
            "chapters": {c.docname: c.counts for c in cmp.chapters},
        }
        (folder / "drift.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(report.split("\n## ", 1)[0] if cmp.changed else report)
    print(f"Report: {report_path}")
    write_outputs(
        version=cmp.drift_jax if args.python else version,
        changed=str(cmp.changed).lower(),
        report=report_path,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

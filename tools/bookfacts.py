"""The book's facts, in one place: what the build (build.py), the Sphinx extensions
(jaxbook_*.py), the Colab notebooks (colab.py), the GPU check and the tests share.

* the settings of `_config.yml` (title, site URL, repository, branches);
* the table of contents and the chapters;
* how a chapter is read (its setup cell assembled from `chapters/book_setup.py` and
  the chapter's front matter) and what jupyter-cache holds of its execution;
* the pinned versions of the requirement files;
* what the setup cell records in output metadata: where a chapter was executed
  (EXECUTED_KEY) and each measurement of `measure` (TIMING_KEY); the timings
  files made from them; the checks every executed chapter must pass.

Plain Python: importing it imports neither Sphinx nor JAX.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "chapters" / "book_setup.py"
SOURCE_SUFFIXES = (".md", ".ipynb")
# Outputs of myst-nb's glue(): data for the prose, never shown where they are made.
GLUE_MIME = "application/papermill.record/"
# Output metadata written by the setup cell (chapters/book_setup.py).
EXECUTED_KEY = "jaxbook_executed"  # {"device", "backend", "jax_version", "date"}
TIMING_KEY = "jaxbook_timing"  # one record of `measure`
COMPARISON_KEY = "jaxbook_comparison"  # one record of `compare`
TIMINGS_FORMAT = "jaxbook-timings/1"
BACKENDS = ("cpu", "cuda12")  # what `make html JAX_BACKEND=...` accepts


# --- _config.yml -------------------------------------------------------------------


@functools.cache
def config(book: Path = ROOT) -> dict:
    """The book's settings that the code uses, all from `_config.yml`."""
    raw = yaml.safe_load((book / "_config.yml").read_text())
    repo_url = raw["repository"]["url"].rstrip("/")
    return {
        "title": raw["title"],
        "site_url": raw.get("html", {}).get("baseurl", "").rstrip("/"),
        "repository_url": repo_url,
        "repository": repo_url.removeprefix("https://github.com/"),
        "branch": raw["repository"].get("branch", "main"),
        "colab_branch": raw["sphinx"]["config"]["jaxbook_colab_branch"],
    }


# --- table of contents -------------------------------------------------------------


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
    return "kernelspec:" in front_matter_text(path.read_text())


def chapters(book: Path = ROOT) -> list[str]:
    """Docnames of the toc entries that are executable notebooks."""
    return [d for d in toc_files(book) if (p := source_path(book, d)) and is_notebook(p)]


# --- reading a chapter -------------------------------------------------------------

SETUP_CELL = re.compile(
    r"^(?P<fence>```+)\{code-cell\}[^\n]*\n(?P<options>(?::[\w-]+:[^\n]*\n)*)"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.M | re.S,
)


def front_matter_text(text: str) -> str:
    if not text.startswith("---\n"):
        return ""
    return text[4:].split("\n---", 1)[0]


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


# --- jupyter-cache -----------------------------------------------------------------


def cache_path(book: Path = ROOT) -> Path:
    return book / "_build" / ".jupyter_cache"


def cache_record(book: Path, docname: str):
    """(jupyter-cache, record) of the chapter's current source, or (cache, None)."""
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_path(book)))
    try:
        return cache, cache.match_cache_notebook(read_notebook(source_path(book, docname)))
    except KeyError:
        return cache, None


def drop_damaged_cache_entries(book: Path = ROOT) -> list[str]:
    """Remove every jupyter-cache entry whose executed notebook cannot be read (a
    disk-full or killed write leaves a truncated or non-JSON file, and every later
    build would stop at it); the chapter is then executed again. Returns one line
    per entry dropped."""
    from jupyter_cache import get_cache

    if not cache_path(book).is_dir():
        return []
    import nbformat

    cache = get_cache(str(cache_path(book)))
    # Read the files themselves: get_cache_bundle would also write each entry's
    # access time into the cache's database, on every build. The path of an entry's
    # notebook is private to jupyter-cache (1.0.1, requirements.txt).
    if not hasattr(cache, "_get_notebook_path_cache"):
        raise RuntimeError(
            "jupyter-cache no longer has _get_notebook_path_cache (known in 1.0.1): "
            "update bookfacts.drop_damaged_cache_entries"
        )
    dropped = []
    for record in cache.list_cache_records():
        try:
            path = cache._get_notebook_path_cache(record.hashkey)
            nbformat.reads(path.read_text(encoding="utf8"), nbformat.NO_CONVERT)
        except Exception as exc:  # any unreadable entry is damaged
            cache.remove_cache(record.pk)
            name = Path(record.uri).name if record.uri else f"entry {record.pk}"
            dropped.append(
                f"The execution cache's entry for {name} was damaged ({type(exc).__name__}): "
                "dropped it; that chapter is executed again."
            )
    return dropped


def execution_seconds(book: Path, docname: str) -> float | None:
    """Execution time of the chapter's current source, from jupyter-cache."""
    _, record = cache_record(book, docname)
    return None if record is None else record.data.get("execution_seconds")


def execution_lines(book: Path = ROOT) -> list[str]:
    """'  12.3 s  chapters/jit' for every chapter, in toc order."""
    lines = []
    for docname in chapters(book):
        seconds = execution_seconds(book, docname)
        shown = f"{seconds:6.1f} s" if seconds is not None else "   n/a"
        lines.append(f"{shown}  {docname}")
    return lines


def executed_notebook(book: Path, docname: str):
    """The notebook exactly as it was executed for the current source (execution
    counts, outputs, output metadata), from jupyter-cache."""
    cache, record = cache_record(book, docname)
    if record is None:
        raise KeyError(f"{docname}: no execution of its current source in {cache_path(book)}")
    return cache.get_cache_bundle(record.pk).nb


# --- pinned versions ---------------------------------------------------------------


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """{canonical name: version} of every `name==version` requirement of a
    requirements file (plain or hash-locked; extras and markers ignored)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            found[canonical(match[1])] = match[2]
    return found


def pinned_jax(book: Path = ROOT) -> str:
    return pins(book / "requirements.txt")["jax"]


# --- what the setup cell records ---------------------------------------------------


def _from_setup(name: str):
    """A function defined in chapters/book_setup.py (which must stay self-contained:
    it travels inside every notebook), loaded without running the rest of it."""
    tree = ast.parse(SETUP.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace: dict = {}
    exec(compile(ast.Module([node], type_ignores=[]), str(SETUP), "exec"), namespace)
    return namespace[name]


_fmt_seconds = _from_setup("fmt_seconds")
_fmt_ratio = _from_setup("fmt_ratio")


def fmt_seconds(seconds: float | None) -> str:
    """1.23 s, 45.6 ms, 789 µs: `measure`'s own formatting ('—' for no value)."""
    return "—" if seconds is None else _fmt_seconds(seconds)


def fmt_ratio(ratio: float | None) -> str:
    """`compare`'s own formatting: '1.05×', '12.3×' ('—' for no value)."""
    return "—" if ratio is None else f"{_fmt_ratio(ratio)}×"


def _outputs(nb: Any) -> Iterable[tuple[int, dict]]:
    """(code cell number, output) of every output of the notebook's code cells."""
    number = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        number += 1
        for output in cell.get("outputs", []):
            yield number, output


def records_from_notebook(nb: Any, chapter: str, key: str = TIMING_KEY) -> list[dict]:
    """Every record of an executed notebook stored under output-metadata `key`
    (timings by default, or COMPARISON_KEY), in order; a record shown twice by one
    cell (display + result) counts once."""
    records: list[dict] = []
    seen: set[tuple[int, str]] = set()
    for cell, output in _outputs(nb):
        record = (output.get("metadata") or {}).get(key)
        if not record:
            continue
        record = json.loads(json.dumps(record))  # a plain dict, detached from the notebook
        dedup = (cell, json.dumps(record, sort_keys=True))
        if dedup not in seen:
            seen.add(dedup)
            records.append({"chapter": chapter, "cell": cell, **record})
    return records


def execution_info(nb: Any) -> dict | None:
    """Device, backend, JAX version and date of the execution, as the setup cell
    recorded them in its output's metadata."""
    for _, output in _outputs(nb):
        meta = (output.get("metadata") or {}).get(EXECUTED_KEY)
        if meta:
            return {k: meta.get(k) for k in ("device", "backend", "jax_version", "date")}
    return None


def record_key(record: dict) -> tuple[str, str]:
    return record["chapter"], record["label"]


def build_summary(chapters: list[dict], records: list[dict]) -> dict:
    """What the whole build ran on: backends, devices, JAX versions, dates."""

    def distinct(values):
        return sorted({v for v in values if v})

    backends = distinct([c.get("backend") for c in chapters] + [r.get("backend") for r in records])
    return {
        "backends": backends,
        "backend": backends[0] if len(backends) == 1 else None,
        "devices": distinct(c.get("device") for c in chapters),
        "jax_versions": distinct(
            [c.get("jax_version") for c in chapters] + [r.get("jax_version") for r in records]
        ),
        "dates": distinct([c.get("date") for c in chapters] + [r.get("date") for r in records]),
    }


def timings_document(chapters: list[dict], records: list[dict], **provenance) -> dict:
    """A timings file (the site's timings.json, or a reference run):
    {"format", "build": {backend(s), devices, jax_versions, dates, provenance},
     "chapters": [{docname, title, device, backend, jax_version, date, measurements}],
     "records": [record + chapter + cell, ...]}"""
    summary = {**build_summary(chapters, records), **provenance}
    return {"format": TIMINGS_FORMAT, "build": summary, "chapters": chapters, "records": records}


def load_timings(path: Path) -> dict:
    """A timings file, checked; raises ValueError saying what is wrong."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != TIMINGS_FORMAT:
        raise ValueError(f'{path}: not a timings file (expected "format": "{TIMINGS_FORMAT}")')
    build = doc.get("build")
    if not isinstance(build, dict) or build.get("backend") not in ("cpu", "gpu", "tpu"):
        raise ValueError(
            f"{path}: build.backend must be one of cpu, gpu, tpu "
            "(a reference run must come from a single backend)"
        )
    for key in ("devices", "jax_versions", "dates"):
        if not build.get(key):
            raise ValueError(f"{path}: build.{key} is missing (provenance of the run)")
    if not isinstance(doc.get("chapters"), list) or not isinstance(doc.get("records"), list):
        raise ValueError(f'{path}: needs the lists "chapters" and "records"')
    for i, record in enumerate(doc["records"]):
        missing = [k for k in ("chapter", "label", "median_s", "backend") if k not in record]
        if missing:
            raise ValueError(f"{path}: record {i} lacks {', '.join(missing)}")
    return doc


def compare(current: list[dict], current_backend: str, reference: dict) -> list[dict]:
    """Rows pairing this build's records with a reference run's (same chapter and
    label), CPU and GPU side by side: {"chapter", "label", "cpu", "gpu", "ratio"},
    where ratio = CPU median / GPU median (how many times faster the GPU run was).
    Measurements found in only one run get None on the other side."""
    ref_backend = reference["build"]["backend"]
    if {current_backend, ref_backend} != {"cpu", "gpu"}:
        raise ValueError(f"compare needs a CPU and a GPU run, got {current_backend} and {ref_backend}")
    ref_by_key = {record_key(r): r for r in reference["records"]}
    rows, matched = [], set()
    for record in current:
        other = ref_by_key.get(record_key(record))
        if other is not None:
            matched.add(record_key(record))
        pair = {current_backend: record, ref_backend: other}
        rows.append({"chapter": record["chapter"], "label": record["label"], **pair})
    for record in reference["records"]:
        if record_key(record) not in matched:
            pair = {current_backend: None, ref_backend: record}
            rows.append({"chapter": record["chapter"], "label": record["label"], **pair})
    for row in rows:
        cpu, gpu = row["cpu"], row["gpu"]
        row["ratio"] = cpu["median_s"] / gpu["median_s"] if cpu and gpu and gpu["median_s"] > 0 else None
    return rows


# --- what every executed chapter must satisfy --------------------------------------


def visible_outputs(cell) -> list:
    """The outputs a page shows of a code cell: no stderr (removed), no output that
    only carries glue records (data for the prose)."""
    shown = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream" and out["name"] == "stderr":
            continue
        data = out.get("data", {})
        if out["output_type"] in ("display_data", "execute_result") and all(
            m.startswith(GLUE_MIME) for m in data
        ):
            continue
        shown.append(out)
    return shown


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def error_problems(nb) -> list[str]:
    """Cells tagged raises-exception must raise exactly their declared class;
    no other cell may raise."""
    problems = []
    for i, cell in enumerate((c for c in nb["cells"] if c["cell_type"] == "code"), start=1):
        raised = [o["ename"] for o in cell.get("outputs", []) if o["output_type"] == "error"]
        if "raises-exception" in tags(cell):
            declared = cell["metadata"].get("raises")
            if not declared:
                problems.append(f"code cell {i} is tagged raises-exception without `raises`")
            elif raised != [declared]:
                problems.append(f"code cell {i} should raise {declared}, raised {raised}")
        elif raised:
            problems.append(f"code cell {i} raised {raised}")
    return problems


def stderr_problems(nb) -> list[str]:
    """Lines written to stderr (warnings, XLA logs): none is allowed."""
    problems = []
    for i, cell in enumerate((c for c in nb["cells"] if c["cell_type"] == "code"), start=1):
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream" and out["name"] == "stderr":
                text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
                problems += [
                    f"code cell {i} wrote to stderr: {line!r}" for line in text.splitlines() if line.strip()
                ]
    return problems


def unexecuted_problems(nb) -> list[str]:
    """Every code cell was executed."""
    return [
        f"code cell {i} was not executed"
        for i, cell in enumerate((c for c in nb["cells"] if c["cell_type"] == "code"), start=1)
        if not isinstance(cell.get("execution_count"), int)
    ]


CHECK_CELL = "# Check your answer"  # the first line of an exercise's check cell
CHECK_KEY = "jaxbook_check"  # what verify_check (chapters/book_setup.py) proved


def check_problems(nb) -> list[str]:
    """Every check cell defines one check_... function, which a later cell proves
    with verify_check (it passes the solution and fails wrong answers)."""
    problems = []
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(cells, start=1):
        if not cell["source"].startswith(CHECK_CELL):
            continue
        names = re.findall(r"^def (check_\w+)\(", cell["source"], re.M)
        if len(names) != 1:
            problems.append(f"code cell {i} is a check cell but defines {len(names)} check_ functions, not 1")
            continue
        call = re.compile(rf"\bverify_check\(\s*{names[0]}\s*,")
        proved = any(
            call.search(later["source"])
            and any(CHECK_KEY in (o.get("metadata") or {}) for o in later.get("outputs", []))
            for later in cells[i:]
        )
        if not proved:
            problems.append(
                f"code cell {i}: {names[0]} is never proved by a later verify_check({names[0]}, ...)"
            )
    return problems


def notebook_problems(nb) -> list[str]:
    return error_problems(nb) + stderr_problems(nb) + unexecuted_problems(nb) + check_problems(nb)

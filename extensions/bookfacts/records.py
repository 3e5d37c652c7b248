"""What the setup cell records in output metadata: where a chapter was executed
(EXECUTED_KEY), each measurement of `measure` (TIMING_KEY) and of `compare`
(COMPARISON_KEY); the timings files made from them (the site's timings.json, a
reference run) and how two runs are paired."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bookfacts.reading import SETUP

# Output metadata written by the setup cell (chapters/book_setup.py).
EXECUTED_KEY = "jaxbook_executed"  # {"device", "backend", "jax_version", "date"}
TIMING_KEY = "jaxbook_timing"  # one record of `measure`
COMPARISON_KEY = "jaxbook_comparison"  # one record of `compare`
TIMINGS_FORMAT = "jaxbook-timings/1"


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

    def distinct(key, *groups):
        return sorted({v for group in groups for item in group if (v := item.get(key))})

    backends = distinct("backend", chapters, records)
    return {
        "backends": backends,
        "backend": backends[0] if len(backends) == 1 else None,
        "devices": distinct("device", chapters),
        "jax_versions": distinct("jax_version", chapters, records),
        "dates": distinct("date", chapters, records),
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
    own = {record_key(r) for r in current}
    pairs = [(r, ref_by_key.get(record_key(r))) for r in current]
    pairs += [(None, r) for r in reference["records"] if record_key(r) not in own]
    rows = []
    for mine, theirs in pairs:
        either = mine or theirs
        row = {
            "chapter": either["chapter"],
            "label": either["label"],
            current_backend: mine,
            ref_backend: theirs,
        }
        cpu, gpu = row["cpu"], row["gpu"]
        row["ratio"] = cpu["median_s"] / gpu["median_s"] if cpu and gpu and gpu["median_s"] > 0 else None
        rows.append(row)
    return rows

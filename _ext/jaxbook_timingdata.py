"""The book's timing records, shared by the Timings page (jaxbook_timings.py, next
to this file), tools/save_timings.py, tools/check_gpu.py and the tests. Plain
Python (no Sphinx), and in _ext/ so that the extension needs nothing outside it.

A *record* is what `measure` (chapters/book_setup.py) stores in the metadata of
its output under the key "jaxbook_timing" (label, device, backend, jax_version,
first_call_s, median_s, q25_s, q75_s, min_s, max_s, repeats, calls_per_repeat,
date); here each also gets the chapter (docname) and code cell it came from.

A *timings file* (the site's timings.json, and a reference run such as
timings/gpu-reference.json) is JSON:

    {"format": "jaxbook-timings/1",
     "build": {"backend", "devices", "jax_versions", "dates", ...provenance},
     "chapters": [{"docname", "title", "device", "backend", "jax_version",
                   "date", "execution_s", "measurements"}, ...],
     "records": [record, ...]}
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

FORMAT = "jaxbook-timings/1"
TIMING_KEY = "jaxbook_timing"
# If the setup cell ever attaches its facts to the banner's output metadata
# under this key ({"device", "backend", "jax_version", "date"}), they are used;
# otherwise they are read from the banner's text, which the setup cell generates.
BANNER_KEY = "jaxbook_executed"
BANNER = re.compile(
    r"This page was executed on \*\*(?P<device>.+?)\*\* with JAX (?P<jax_version>\S+?) "
    r"on (?P<date>\d{4}-\d\d-\d\d)\."
)
RECORD_FIELDS = ("label", "device", "backend", "jax_version", "first_call_s", "median_s",
                 "q25_s", "q75_s", "repeats", "calls_per_repeat", "date")


def fmt_seconds(seconds: float | None) -> str:
    """1.23 s, 45.6 ms, 789 µs, 12.3 ns: three significant digits (as `measure`)."""
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    raise AssertionError("unreachable")


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:.3g}×"


def backend_of_device(device: str) -> str:
    if device.startswith("CPU"):
        return "cpu"
    if device.startswith("TPU"):
        return "tpu"
    return "gpu"


def _outputs(nb: Any) -> Iterable[tuple[int, dict]]:
    """(code cell number, output) of every output of the notebook's code cells."""
    number = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        number += 1
        for output in cell.get("outputs", []):
            yield number, output


def records_from_notebook(nb: Any, chapter: str) -> list[dict]:
    """Every timing record of an executed notebook (nbformat node or plain dict),
    in order; a record shown twice by one cell (display + result) counts once."""
    records: list[dict] = []
    seen: set[tuple[int, str]] = set()
    for cell, output in _outputs(nb):
        record = (output.get("metadata") or {}).get(TIMING_KEY)
        if not record:
            continue
        record = json.loads(json.dumps(record))  # a plain dict, detached from the notebook
        key = (cell, json.dumps(record, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        records.append({"chapter": chapter, "cell": cell, **record})
    return records


def execution_info(nb: Any) -> dict | None:
    """Device, backend, JAX version and date that the chapter's banner states."""
    for _, output in _outputs(nb):
        meta = (output.get("metadata") or {}).get(BANNER_KEY)
        if meta:
            info = {k: meta.get(k) for k in ("device", "backend", "jax_version", "date")}
            info["backend"] = info["backend"] or backend_of_device(info["device"])
            return info
        data = output.get("data") or {}
        for mime in ("text/markdown", "text/plain"):
            text = data.get(mime)
            if isinstance(text, list):
                text = "".join(text)
            match = BANNER.search(text or "")
            if match:
                info = match.groupdict()
                info["backend"] = backend_of_device(info["device"])
                return info
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
        "jax_versions": distinct([c.get("jax_version") for c in chapters]
                                 + [r.get("jax_version") for r in records]),
        "dates": distinct([c.get("date") for c in chapters] + [r.get("date") for r in records]),
    }


def timings_document(chapters: list[dict], records: list[dict], **provenance) -> dict:
    return {"format": FORMAT, "build": {**build_summary(chapters, records), **provenance},
            "chapters": chapters, "records": records}


def load_timings(path: Path) -> dict:
    """A timings file, checked; raises ValueError saying what is wrong."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a timings file (expected \"format\": \"{FORMAT}\")")
    build = doc.get("build")
    if not isinstance(build, dict) or build.get("backend") not in ("cpu", "gpu", "tpu"):
        raise ValueError(f"{path}: build.backend must be one of cpu, gpu, tpu "
                         f"(a reference run must come from a single backend)")
    for key in ("devices", "jax_versions", "dates"):
        if not build.get(key):
            raise ValueError(f"{path}: build.{key} is missing (provenance of the run)")
    if not isinstance(doc.get("chapters"), list) or not isinstance(doc.get("records"), list):
        raise ValueError(f"{path}: needs the lists \"chapters\" and \"records\"")
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
        row["ratio"] = (cpu["median_s"] / gpu["median_s"]
                        if cpu and gpu and gpu["median_s"] > 0 else None)
    return rows

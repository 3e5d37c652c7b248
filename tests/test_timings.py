"""Honest timings: every chapter says where it ran; the Timings page lists every
measurement of the build (as the chapters show it), each chapter's execution time
and a plot, and puts CPU and GPU side by side when a reference run exists;
speed-ups in the prose are glued from measurements; the GPU check refuses
anything that is not a GPU.

Besides the book itself, these tests build a tiny book (two notebooks with
recorded outputs, no execution, no JAX) with the Timings extension, to check
the side-by-side logic and what incremental builds do, in a few seconds."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import nbformat
import pytest
from bs4 import BeautifulSoup

import bookfacts
from checks import SPEEDUP, prose_without_code
from conftest import CHAPTERS, ROOT, fake_program, text_of

TIMINGS_DOC = "timings"
# How `measure` shows a measurement in a chapter (chapters/book_setup.py, Timing.__str__).
SHOWN = re.compile(
    r"timing: (?P<label>.+?)  \[(?P<device>.+?) · JAX \S+\]\s+first call: (?P<first>.+?)\s+"
    r"then:\s+median (?P<median>.+?) per call, IQR (?P<q25>.+?)–(?P<q75>.+?) "
    r"\((?P<repeats>\d+) repeats × (?P<calls>\d+) calls\)"
)
CHECK_GPU = ROOT / "scripts" / "check_gpu.py"
SAVE_TIMINGS = ROOT / "scripts" / "save_timings.py"


def table_rows(soup, cls) -> list[list[str]]:
    table = soup.select_one(f"table.{cls}")
    assert table is not None, f"no table.{cls}"
    return [[text_of(td) for td in tr.select("td")] for tr in table.select("tbody tr")]


def row_links(soup, cls) -> list[str]:
    table = soup.select_one(f"table.{cls}")
    return [tr.select_one("td a")["href"] for tr in table.select("tbody tr")]


def shown_measurements(page) -> list[dict]:
    """The measurements a chapter page shows, read from the page's text."""
    return [
        m.groupdict() for pre in page.select("div.cell_output pre") if (m := SHOWN.search(pre.get_text()))
    ]


# --- the book: every chapter page ---------------------------------------------------


@pytest.mark.parametrize("docname", CHAPTERS)
def test_banner_opens_the_page_and_is_honest_about_the_device(book, docname):
    info = bookfacts.records.execution_info(book.notebook(docname))
    assert info is not None, f"{docname}: the setup cell recorded no execution facts"
    assert (info["jax_version"], info["backend"]) == (jax.__version__, jax.default_backend())
    # the page's first output (an environment cell before the setup cell has none)
    first_cell = text_of(book.page(docname).select_one("div.cell div.cell_output"))
    sentence = f"This page was executed on {info['device']} with JAX {info['jax_version']} on {info['date']}."
    assert first_cell.startswith(sentence), f"{docname}: the first output is {first_cell[:200]!r}"
    if info["backend"] == "cpu":
        assert "ran without a GPU" in first_cell and "published site is executed on a GPU" in first_cell


@pytest.mark.parametrize("docname", CHAPTERS)
def test_speedups_in_the_prose_are_glued(book, docname):
    """Numbers of a claimed speed-up come from the code ({glue}), never typed."""
    page = BeautifulSoup(str(book.page(docname)), "html.parser")  # a copy: nodes are removed
    claims = SPEEDUP.findall(prose_without_code(page))
    assert not claims, f"{docname}: speed-up typed into the prose, not glued: {claims}"


# --- the book: the Timings page -----------------------------------------------------


@pytest.fixture(scope="module")
def timings_page(book):
    return book.page(TIMINGS_DOC)


def test_every_measurement_the_chapters_show_is_on_the_timings_page(book, timings_page):
    """Read from two sides: what the chapter pages show (measure's text output)
    and the Timings page's table (built from output metadata), row for row."""
    shown = [(d, m) for d in CHAPTERS for m in shown_measurements(book.page(d))]
    rows = table_rows(timings_page, "jaxbook-timings-measurements")
    links = row_links(timings_page, "jaxbook-timings-measurements")
    titles = {d: text_of(book.page(d).select_one("h1")).rstrip("#").strip() for d in CHAPTERS}
    assert len(rows) == len(shown) and shown, f"{len(rows)} rows for {len(shown)} measurements on the pages"
    for (docname, m), row, link in zip(shown, rows, links, strict=True):
        assert row == [
            titles[docname],
            m["label"],
            m["device"],
            m["first"],
            m["median"],
            f"{m['q25']} – {m['q75']}",
            f"{m['repeats']} × {m['calls']}",
        ]
        assert link == f"{docname}.html"
    published = json.loads((book.html / "timings.json").read_text())
    assert [(r["chapter"], r["label"]) for r in published["records"]] == [(d, m["label"]) for d, m in shown]


def test_execution_times_are_those_of_the_cache(book, timings_page):
    table = next(t for t in timings_page.select("table") if "Run Time (s)" in text_of(t.select_one("thead")))
    rows = {r[0]: r for r in ([text_of(td) for td in tr.select("td")] for tr in table.select("tbody tr"))}
    for docname in CHAPTERS:
        assert rows[docname][3] == str(round(book.seconds(docname), 2)) and rows[docname][4] == "succeeded"
    where = table_rows(timings_page, "jaxbook-timings-chapters")
    assert row_links(timings_page, "jaxbook-timings-chapters") == [f"{d}.html" for d in CHAPTERS]
    for docname, row in zip(CHAPTERS, where, strict=True):
        info = bookfacts.records.execution_info(book.notebook(docname))
        assert row[1:] == [
            info["device"],
            info["jax_version"],
            info["date"],
            str(len(shown_measurements(book.page(docname)))),
        ]


def test_timings_page_has_its_plots_with_alt_text(book, timings_page):
    figures = timings_page.select("figure.jaxbook-timings-plot img")
    names = [Path(img["src"]).name for img in figures]
    assert names == ["jaxbook-timings-measurements.png", "jaxbook-timings-chapters.png"]
    for img in figures:
        assert (book.html / img["src"]).is_file(), img["src"]
        assert len(img.get("alt", "").strip()) > 40, f"{img['src']}: no real alt text"


def test_timings_page_states_the_build_and_the_gpu_reference(book, timings_page):
    text = text_of(timings_page)
    published = json.loads((book.html / "timings.json").read_text())
    backend = published["build"]["backend"]
    assert backend in ("cpu", "gpu"), "chapters of one build must share one backend"
    for device in published["build"]["devices"]:
        assert device in text
    references = [json.loads(p.read_text()) for p in (ROOT / "timings").glob("*-reference.json")]
    if not any(r["build"]["backend"] != backend for r in references):
        other = "GPU" if backend == "cpu" else "CPU"
        assert f"No {other} reference run is recorded yet" in text
    else:
        assert timings_page.select_one("table.jaxbook-timings-comparison") is not None
    if backend == "cpu":
        assert "published site is executed on a GPU" in text


# --- a tiny book: the Timings extension on its own ----------------------------------

CONF = f"""
import os
import sys
sys.path.insert(0, {str(ROOT / "extensions")!r})  # the extension, as _config.yml's local_extensions does
project = "mini"
extensions = ["myst_nb", "jaxbook_timings"]
exclude_patterns = ["_build", "refs"]
nb_execution_mode = "cache"  # as the book: outputs come from the execution cache
nb_execution_cache_path = os.path.join(os.path.dirname(__file__), "_build", ".jupyter_cache")
jaxbook_timings_references = "refs/*-reference.json"
"""
INDEX = """# Mini

```{toctree}
a
b
timings
```
"""
TIMINGS = """# Timings

```{jaxbook-timings} summary
```

```{jaxbook-timings} measurements
```

```{jaxbook-timings} comparison
```

```{jaxbook-timings} chapters
```
"""


def banner_output(device="CPU (2 cores)"):
    facts = {
        "device": device,
        "backend": "cpu" if device.startswith("CPU") else "gpu",
        "jax_version": "0.10.2",
        "date": "2026-01-02",
    }
    text = f"This page was executed on **{device}** with JAX 0.10.2 on 2026-01-02."
    return nbformat.v4.new_output(
        "display_data",
        data={"text/markdown": text, "text/plain": text},
        metadata={bookfacts.records.EXECUTED_KEY: facts},
    )


def record(label, median, backend="cpu", device="CPU (2 cores)"):
    return {
        "label": label,
        "device": device,
        "backend": backend,
        "jax_version": "0.10.2",
        "first_call_s": median * 1000,
        "median_s": median,
        "q25_s": median * 0.9,
        "q75_s": median * 1.2,
        "min_s": median * 0.8,
        "max_s": median * 1.5,
        "repeats": 7,
        "calls_per_repeat": 100,
        "date": "2026-01-02",
    }


def write_notebook(path: Path, title: str, records: list[dict], device="CPU (2 cores)"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {title}"))
    setup = nbformat.v4.new_code_cell("# setup", execution_count=1)
    setup.outputs = [banner_output(device)]
    nb.cells.append(setup)
    for i, rec in enumerate(records, start=2):
        cell = nbformat.v4.new_code_cell("t = measure(...)\nt", execution_count=i)
        # shown twice (display + result), recorded once
        meta = {"jaxbook_timing": rec}
        cell.outputs = [
            nbformat.v4.new_output("display_data", data={"text/plain": f"⏱ {rec['label']}"}, metadata=meta),
            nbformat.v4.new_output(
                "execute_result", data={"text/plain": "⏱"}, metadata=meta, execution_count=i
            ),
        ]
        nb.cells.append(cell)
    write_and_cache(nb, path)


def write_and_cache(nb, path: Path) -> None:
    """Write the notebook, with its outputs in the cache as an execution would
    have left them (nothing runs)."""
    from jupyter_cache import get_cache

    nbformat.write(nb, path)
    get_cache(str(path.parent / "_build" / ".jupyter_cache")).cache_notebook_file(
        path, check_validity=False, overwrite=True
    )


def reference(records, backend="gpu", device="NVIDIA H100 80GB HBM3"):
    return {
        "format": bookfacts.records.TIMINGS_FORMAT,
        "build": {
            "backend": backend,
            "backends": [backend],
            "devices": [device],
            "jax_versions": ["0.10.2"],
            "dates": ["2026-01-01"],
            "commit": "abc",
        },
        "chapters": [],
        "records": records,
    }


def make_book(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(CONF)
    (src / "index.md").write_text(INDEX)
    (src / "timings.md").write_text(TIMINGS)
    write_notebook(src / "a.ipynb", "Chapter A", [record("add, jitted", 2e-5), record("add, eager", 8e-5)])
    write_notebook(src / "b.ipynb", "Chapter B", [record("matmul", 3e-3)])
    return src


def sphinx(src: Path) -> tuple[int, str, Path]:
    """Build the tiny book in this process (-W --keep-going): (status, warnings, out)."""
    from io import StringIO

    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    out, warnings = src.parent / "out", StringIO()
    with patch_docutils(src), docutils_namespace():
        app = Sphinx(
            str(src),
            str(src),
            str(out),
            str(out / ".doctrees"),
            "html",
            status=None,
            warning=warnings,
            warningiserror=True,
            keep_going=True,
        )
        app.build()
    return app.statuscode, warnings.getvalue(), out


def built(src: Path) -> tuple[BeautifulSoup, dict, Path]:
    status, warnings, out = sphinx(src)
    assert status == 0, warnings
    page = BeautifulSoup((out / "timings.html").read_text(), "html.parser")
    return page, json.loads((out / "timings.json").read_text()), out


GPU = "NVIDIA H100 80GB HBM3"


def gpu_reference(src: Path) -> None:
    gpu = [
        dict(record("add, jitted", 4e-6, "gpu", GPU), chapter="a"),
        dict(record("matmul", 3e-5, "gpu", GPU), chapter="b"),
        dict(record("only on the GPU", 1e-6, "gpu", GPU), chapter="a"),
    ]
    (src / "refs").mkdir(exist_ok=True)
    (src / "refs" / "gpu-reference.json").write_text(json.dumps(reference(gpu)))


def test_mini_book_records_side_by_side_and_incremental_builds(tmp_path):
    """1. Every record is listed; no GPU reference is said to be missing.
    2. A GPU reference appears (no chapter changed, so none is re-read): the page
       is re-rendered, keeps every record, and puts CPU and GPU side by side.
    3. One chapter changes: its new records replace its old ones."""
    src = make_book(tmp_path)
    page, data, out = built(src)
    assert [r["label"] for r in data["records"]] == ["add, jitted", "add, eager", "matmul"]
    assert [r["chapter"] for r in data["records"]] == ["a", "a", "b"]
    rows = table_rows(page, "jaxbook-timings-measurements")
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("Chapter A", "add, jitted", "20 µs"),
        ("Chapter A", "add, eager", "80 µs"),
        ("Chapter B", "matmul", "3 ms"),
    ]
    assert "No GPU reference run is recorded yet" in text_of(page)
    assert page.select_one("table.jaxbook-timings-comparison") is None
    assert [r[0] for r in table_rows(page, "jaxbook-timings-chapters")] == ["Chapter A", "Chapter B"]
    imgs = page.select("figure.jaxbook-timings-plot img")
    assert len(imgs) == 1  # measurements (execution is off: no execution times to plot)
    assert (out / imgs[0]["src"]).is_file() and "3 measurements" in imgs[0]["alt"]

    gpu_reference(src)
    page, data, out = built(src)
    assert [r["label"] for r in data["records"]] == ["add, jitted", "add, eager", "matmul"]
    assert "No GPU reference run" not in text_of(page)
    assert table_rows(page, "jaxbook-timings-comparison") == [
        ["Chapter A", "add, jitted", "20 µs on CPU (2 cores)", f"4 µs on {GPU}", "5.00×"],
        ["Chapter A", "add, eager", "80 µs on CPU (2 cores)", "not measured", "—"],
        ["Chapter B", "matmul", "3 ms on CPU (2 cores)", f"30 µs on {GPU}", "100×"],
        ["Chapter A", "only on the GPU", "not measured", f"1 µs on {GPU}", "—"],
    ]
    assert GPU in text_of(page) and "gpu-reference.json" in text_of(page)
    assert "2026-01-01, commit abc)" in text_of(page)  # the reference's provenance
    img = page.select_one("figure.jaxbook-timings-plot img")
    assert "GPU reference run" in img["alt"] and (out / img["src"]).is_file()

    write_notebook(src / "b.ipynb", "Chapter B", [record("matmul, bigger", 9e-3)])
    page, data, _ = built(src)
    assert [r["label"] for r in data["records"]] == ["add, jitted", "add, eager", "matmul, bigger"]
    assert "matmul, bigger" in text_of(page)
    assert table_rows(page, "jaxbook-timings-comparison")[2] == [
        "Chapter B",
        "matmul, bigger",
        "9 ms on CPU (2 cores)",
        "not measured",
        "—",
    ]


def test_mini_book_refuses_mixed_backends_and_broken_references(tmp_path):
    src = make_book(tmp_path)
    write_notebook(
        src / "b.ipynb", "Chapter B", [record("matmul", 3e-5, "gpu", "NVIDIA T4")], device="NVIDIA T4"
    )
    (src / "refs").mkdir()
    broken = reference([])
    del broken["build"]["devices"]
    (src / "refs" / "gpu-reference.json").write_text(json.dumps(broken))
    status, warnings, _ = sphinx(src)
    assert status != 0
    assert "different JAX backends (cpu, gpu)" in warnings
    assert "build.devices is missing" in warnings


# --- timingdata: the comparison itself ---------------------------------------------


def test_ratio_is_cpu_over_gpu_whichever_run_is_the_build():
    cpu = [dict(record("f", 1e-3), chapter="c")]
    gpu = [dict(record("f", 1e-5, "gpu", "GPU"), chapter="c")]
    (row,) = bookfacts.records.compare(cpu, "cpu", reference(gpu))
    assert row["ratio"] == pytest.approx(100)
    (row,) = bookfacts.records.compare(gpu, "gpu", reference(cpu, backend="cpu", device="CPU (2 cores)"))
    assert row["ratio"] == pytest.approx(100)
    with pytest.raises(ValueError):
        bookfacts.records.compare(gpu, "gpu", reference(gpu))


def save_timings(site: Path, out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SAVE_TIMINGS), "--site", str(site), "--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True)


def test_save_timings_writes_a_loadable_reference(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    recs = [dict(record("f", 1e-5, "gpu", "NVIDIA H100 80GB HBM3"), chapter="c", cell=2)]
    chapters = [
        {
            "docname": "c",
            "title": "C",
            "device": "NVIDIA H100 80GB HBM3",
            "backend": "gpu",
            "jax_version": "0.10.2",
            "date": "2026-01-02",
            "execution_s": 3.0,
            "succeeded": True,
            "measurements": 1,
        }
    ]
    (site / "timings.json").write_text(json.dumps(bookfacts.records.timings_document(chapters, recs)))
    out = tmp_path / "gpu-reference.json"
    result = save_timings(site, out)
    assert result.returncode == 0, result.stderr
    saved = bookfacts.records.load_timings(out)
    assert saved["records"] == recs and saved["build"]["backend"] == "gpu"
    assert saved["build"]["devices"] == ["NVIDIA H100 80GB HBM3"]
    # a build whose chapters ran on different backends is no reference
    mixed = bookfacts.records.timings_document(
        [*chapters, dict(chapters[0], docname="d", backend="cpu")], recs
    )
    (site / "timings.json").write_text(json.dumps(mixed))
    result = save_timings(site, out)
    assert result.returncode != 0 and "single backend" in result.stderr


# --- scripts/check_gpu.py: the backend check, simulated -------------------------------


def fake_nvidia_smi(folder: Path, ok=True) -> Path:
    if ok:
        return fake_program(folder, "nvidia-smi", 'echo "NVIDIA H100 80GB HBM3, 570.86.15, 81559 MiB"\n')
    return fake_program(folder, "nvidia-smi", 'echo "NVIDIA-SMI has failed" >&2; exit 9\n')


def fake_python(folder: Path, **info) -> Path:
    """An 'interpreter' whose JAX answers the probe as a GPU machine would."""
    pins = bookfacts.requirements.pins(ROOT / "requirements-gpu.txt")
    answer = {
        "jax": jax.__version__,
        "jaxlib": jax.__version__,
        "backend": "gpu",
        "devices": ["gpu: NVIDIA H100 80GB HBM3"],
        "computed_on": ["gpu"],
        "result_ok": True,
        "plugins": {
            "jax-cuda12-plugin": pins["jax-cuda12-plugin"],
            "jax-cuda12-pjrt": pins["jax-cuda12-pjrt"],
        },
    }
    answer.update(info)
    return fake_program(folder, "python", f"echo 'JAXBOOK-GPU-PROBE {json.dumps(answer)}'\n")


def check_gpu(*args, path: Path, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    environ.update(PATH=str(path), **env)
    return subprocess.run(
        [sys.executable, str(CHECK_GPU), *map(str, args)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


def test_gpu_check_fails_when_jax_runs_on_the_cpu(tmp_path):
    """The book's real JAX with JAX_PLATFORMS=cpu, on a machine with a 'driver'."""
    bin_ = tmp_path / "bin"
    fake_nvidia_smi(bin_)
    result = check_gpu(path=bin_, JAX_PLATFORMS="cpu")
    assert result.returncode == 1
    assert "default backend is 'cpu', not 'gpu'" in result.stderr


def test_gpu_check_passes_on_a_simulated_gpu_backend(tmp_path):
    bin_ = tmp_path / "bin"
    fake_nvidia_smi(bin_)
    result = check_gpu("--python", fake_python(bin_), path=bin_)
    assert result.returncode == 0, result.stderr
    assert "GPU check passed" in result.stdout and "NVIDIA H100 80GB HBM3" in result.stdout


@pytest.mark.parametrize(
    "nvidia_smi, info, message",
    [
        (None, {}, "nvidia-smi was not found"),
        ("fails", {}, "nvidia-smi failed (exit status 9"),
        ("ok", {"backend": "cpu", "devices": ["cpu: cpu"]}, "default backend is 'cpu'"),
        ("ok", {"computed_on": ["cpu"]}, "did not run correctly on the GPU"),
        ("ok", {"jax": "0.0.1"}, "differ from the pinned ones: jax 0.0.1"),
        ("ok", {"plugins": {"jax-cuda12-plugin": "0.0.1"}}, "jax-cuda12-plugin 0.0.1"),
    ],
)
def test_gpu_check_fails_on_a_missing_driver_or_a_wrong_answer(tmp_path, nvidia_smi, info, message):
    bin_ = tmp_path / "bin"
    if nvidia_smi:
        fake_nvidia_smi(bin_, ok=nvidia_smi == "ok")
    result = check_gpu("--python", fake_python(bin_, **info), path=bin_)
    assert result.returncode == 1 and message in result.stderr, result.stderr


def fake_site(tmp_path: Path, device: str, backend: str) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    chapters = [
        {"docname": d, "device": device, "backend": backend, "jax_version": "0.10.2", "date": "2026-01-02"}
        for d in CHAPTERS
    ]
    recs = [dict(record("f", 1e-5, backend, device), chapter=CHAPTERS[0])]
    (site / "timings.json").write_text(json.dumps(bookfacts.records.timings_document(chapters, recs)))
    return site


def test_site_check_refuses_a_cpu_build(tmp_path):
    result = check_gpu("--site", fake_site(tmp_path, "CPU (2 cores)", "cpu"), path=tmp_path)
    assert result.returncode == 1
    assert f"{CHAPTERS[0]}: executed on CPU (2 cores) (cpu), not on a GPU" in result.stderr
    assert "1 of 1 measurements were not made with the GPU backend" in result.stderr


def test_site_check_accepts_a_gpu_build(tmp_path):
    result = check_gpu("--site", fake_site(tmp_path, "NVIDIA H100 80GB HBM3", "gpu"), path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_chapter_check_fails_the_build_naming_chapter_and_cell(tmp_path):
    """The executed notebook's checks run when the chapter is read
    (extensions/jaxbook_executed.py): a problem is a warning at the chapter, so the
    strict build fails and says which chapter and which cell."""
    src = make_book(tmp_path)
    nb = nbformat.read(src / "b.ipynb", as_version=4)
    nb.cells[2].outputs.append(nbformat.v4.new_output("stream", name="stderr", text="oops\n"))
    write_and_cache(nb, src / "b.ipynb")
    status, warnings, _ = sphinx(src)
    assert status != 0
    assert "b.ipynb: WARNING: chapter check failed: code cell 2 wrote to stderr: 'oops'" in warnings

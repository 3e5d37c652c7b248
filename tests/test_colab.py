"""Open in Colab: every chapter's notebook (what the Colab button opens and the
page's .ipynb download serves) is the chapter itself (its prose, math, glued
numbers, exercises, with solutions collapsed and no MyST left) with the build's
outputs, asks for a GPU, and runs top to bottom in a mirror of Colab's runtime
(requirements-colab.txt: Colab's Python 3.13 packages, JAX 0.7.2), where its
first cell really installs the book's JAX."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import bookfacts
import jaxbook_colab
from checks import (
    MIN_PROSE,
    chapter_code_cells,
    collapse_problems,
    glued_values_missing,
    link_problems,
    markdown_of,
    myst_leftovers,
    prose_coverage,
    prose_words,
    site_link_problems,
)
from conftest import CHAPTERS, REPORT, ROOT

SETTINGS = bookfacts.book.config(ROOT)
COLAB = re.compile(
    r"^https://colab\.research\.google\.com/github/(?P<repo>[\w.-]+/[\w.-]+)"
    r"/blob/(?P<branch>[\w.-]+)/(?P<path>[\w./-]+\.ipynb)$"
)
LOCK = ROOT / "requirements-colab.txt"
RUNTIME = ROOT / "_build" / "colab-runtime"
KERNEL = "jaxbook-colab-runtime"


def colab_notebook(book, docname):
    return nbformat.read(book.root / "_build" / "colab" / f"{docname}.ipynb", as_version=4)


# --- every chapter's notebook ------------------------------------------------------


@pytest.mark.parametrize("docname", CHAPTERS)
def test_page_colab_button_opens_the_chapter_notebook(book, docname):
    links = {a["href"] for a in book.page(docname).select("a[href^='https://colab.research.google.com']")}
    assert len(links) == 1, links
    match = COLAB.match(links.pop())
    assert match, "Colab URL does not have the form .../github/ORG/REPO/blob/BRANCH/PATH.ipynb"
    assert (match["repo"], match["branch"]) == (SETTINGS["repository"], SETTINGS["colab_branch"])
    assert match["branch"] != SETTINGS["branch"], "the notebooks branch must not be the source branch"
    assert (book.root / "_build" / "colab" / match["path"]).is_file() and match["path"] == f"{docname}.ipynb"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_notebook_is_the_chapter(book, docname):
    nb = colab_notebook(book, docname)
    nbformat.validate(nb)
    source = bookfacts.book.source_path(ROOT, docname)
    text = source.read_text()
    coverage = prose_coverage(text, nb)
    REPORT.append(
        f"{sum(c.cell_type == 'markdown' for c in nb.cells):4d} Markdown cells, "
        f"{sum(prose_words(text).values()):5d} prose words on the page, "
        f"{len(re.findall(r'[A-Za-z][A-Za-z’]+', markdown_of(nb))):5d} in the notebook "
        f"({coverage:.1%} of the page's)  {docname} (Colab notebook)"
    )
    assert coverage >= MIN_PROSE, f"{docname}: the notebook has {coverage:.1%} of the chapter's prose words"
    assert myst_leftovers(nb) == []
    assert glued_values_missing(book.page(docname), nb) == []
    assert link_problems(nb) == []
    assert site_link_problems(nb, book.html, SETTINGS["site_url"]) == []
    assert collapse_problems(nb, bookfacts.reading.read_notebook(source)) == []


@pytest.mark.parametrize("docname", CHAPTERS)
def test_notebook_asks_for_a_gpu_and_has_the_build_outputs(book, docname):
    nb = colab_notebook(book, docname)
    assert nb.metadata["accelerator"] == "GPU" and nb.metadata["colab"]["gpuType"]
    title, note, install = nb.cells[:3]
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    assert title.source[2:] == book.page(docname).select_one("h1").get_text().rstrip("#").strip()
    assert note.cell_type == "markdown" and "Runtime" in note.source and "GPU" in note.source
    executed = bookfacts.records.execution_info(book.notebook(docname))
    assert f"with JAX {executed['jax_version']} on {executed['date']}" in note.source
    assert (
        install.cell_type == "code"
        and f'"jax[cuda12]=={bookfacts.requirements.pinned_jax()}"' in install.source
    )
    (setup,) = [c for c in chapter_code_cells(nb) if c.source.startswith("# @title Setup:")]
    assert "def measure(" in setup.source  # the helpers travel inside the notebook
    executed_outputs = sum(bool(c.get("outputs")) for c in book.notebook(docname).cells)
    assert executed_outputs and sum(bool(c.get("outputs")) for c in nb.cells) >= executed_outputs // 2
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("%%expect_exception "):
            assert re.match(r"%%expect_exception \w+\n", cell.source)


def test_gpu_install_resolves_on_python_3_13(pytestconfig):
    """What the install cell runs on a Colab GPU runtime resolves for Colab's
    platform (a pip dry run: nothing is installed; not repeated once it passed here,
    by pytest's cache: pytest.ini, cache_dir)."""
    cache = pytestconfig.cache
    spec = f"jax[cuda12]=={bookfacts.requirements.pinned_jax()}"
    assert spec in jaxbook_colab.install_cell(bookfacts.requirements.pinned_jax())
    if cache.get("jaxbook/gpu-install-resolved", None) == spec:
        pytest.skip(f"{spec} resolved in an earlier run on this machine")
    options = (
        "--dry-run --quiet --ignore-installed --only-binary=:all: --python-version 3.13 --report - "
        "--platform manylinux_2_35_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux2014_x86_64"
    )
    target = ROOT / "_build" / "pip-dry-run"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", *options.split(), "--target", target, spec],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    versions = {
        bookfacts.requirements.canonical(i["metadata"]["name"]): i["metadata"]["version"]
        for i in report["install"]
    }
    for name in ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt"):
        assert versions[name] == bookfacts.requirements.pinned_jax(), (name, versions.get(name))
    cache.set("jaxbook/gpu-install-resolved", spec)


# --- standalone runs in a mirror of Colab's runtime --------------------------------


@pytest.fixture(scope="session")
def colab_kernel(tmp_path_factory):
    """A kernel on a fresh environment made from requirements-colab.txt (Colab's
    Python 3.13 runtime: JAX 0.7.2, NumPy 2.1.3, IPython 7.34, ...), in which a
    notebook's install cell is run once: the path a student on Colab takes."""
    uv = Path(sys.executable).with_name("uv")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([uv, "venv", "--quiet", "--clear", "--python", base, RUNTIME], check=True)
    python = str(RUNTIME / "bin" / "python")
    install = [uv, "pip", "install", "--quiet", "--python", python, "--require-hashes", "--no-deps"]
    subprocess.run([*install, "-r", LOCK], check=True)
    kernels = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Colab runtime mirror",
                "language": "python",
                "env": {"PYTHONPATH": "", "PYTHONNOUSERSITE": "1", "JAXBOOK_BUILD": "", "JAX_PLATFORMS": ""},
            }
        )
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JUPYTER_PATH", str(kernels.parent.parent))
        yield KERNEL


def run_standalone(nb, workdir: Path):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    NotebookClient(
        nb, kernel_name=KERNEL, timeout=600, resources={"metadata": {"path": str(workdir)}}
    ).execute()
    return nb


def probe(code: str, workdir: Path) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    return "".join(o.get("text", "") for o in run_standalone(nb, workdir).cells[0].outputs)


@pytest.fixture(scope="session")
def installed_runtime(book, colab_kernel, tmp_path_factory):
    """The mirror as Colab has it, then after the install cell of a notebook ran."""
    workdir = tmp_path_factory.mktemp("install")
    versions = "import importlib.metadata as m; print([m.version(p) for p in ('jax', 'numpy', 'ipython')])"
    before = probe(versions, workdir)
    install = next(c for c in colab_notebook(book, CHAPTERS[0]).cells if c.cell_type == "code")
    nb = run_standalone(nbformat.v4.new_notebook(cells=[install]), workdir)
    said = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    after = probe(versions, workdir)
    return before, said, after


def test_install_cell_installs_the_books_jax_in_colabs_runtime(installed_runtime):
    before, said, after = installed_runtime
    colab = bookfacts.requirements.pins(LOCK)
    assert before.strip() == str([colab["jax"], colab["numpy"], colab["ipython"]])
    assert (
        f"Installed jax=={bookfacts.requirements.pinned_jax()} (the runtime had JAX {colab['jax']})" in said
    )
    assert after.strip().startswith(f"['{bookfacts.requirements.pinned_jax()}', ")


def test_runtime_mirror_has_no_myst_nb_and_no_repository(colab_kernel, tmp_path):
    out = probe(
        "import importlib.util as u, os, sys\n"
        "print(sys.version_info[:2], [u.find_spec(m) is None for m in ('myst_nb', 'bookfacts', 'book_setup')], "
        f"os.listdir('.'), [p for p in sys.path if p.rstrip('/') in {[str(ROOT), str(ROOT / 'extensions'), str(ROOT / 'scripts')]!r}])",
        tmp_path,
    )
    assert out.strip() == "(3, 13) [True, True, True] [] []"


def test_expect_exception_fails_when_nothing_is_raised(book, installed_runtime, tmp_path):
    setup = next(
        c
        for c in chapter_code_cells(colab_notebook(book, CHAPTERS[0]))
        if c.source.startswith("# @title Setup:")
    )
    nb = nbformat.v4.new_notebook(
        cells=[setup, nbformat.v4.new_code_cell("%%expect_exception TypeError\nx = 1")]
    )
    with pytest.raises(CellExecutionError, match="should raise TypeError"):
        run_standalone(nb, tmp_path)


@pytest.mark.parametrize("docname", CHAPTERS)
def test_notebook_runs_standalone_in_colabs_runtime(book, installed_runtime, pytestconfig, tmp_path, docname):
    cache = pytestconfig.cache
    path = book.root / "_build" / "colab" / f"{docname}.ipynb"
    digest = hashlib.sha256(path.read_bytes() + LOCK.read_bytes()).hexdigest()
    passed = f"jaxbook/standalone-passed/{docname}"  # pytest's cache: _build/.pytest_cache
    if cache.get(passed, None) == digest:
        REPORT.append(f"{'':>8}  {docname} (standalone: unchanged since it last passed here, not run)")
        pytest.skip("unchanged since its last passing standalone run on this machine")
    start = time.perf_counter()
    run_standalone(colab_notebook(book, docname), tmp_path)
    REPORT.append(f"{time.perf_counter() - start:6.1f} s  {docname} (standalone, Colab runtime mirror)")
    assert all(p.name.startswith(".") for p in tmp_path.iterdir()), "the notebook left files behind"
    cache.set(passed, digest)

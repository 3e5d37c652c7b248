"""Open in Colab: every chapter page's Colab button names a generated notebook
that exists, asks for a GPU, carries the build's outputs, and runs top to
bottom in a Colab-like kernel (only jax, numpy, scipy, matplotlib,
scikit-learn, pandas: no myst-nb) in an empty folder."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import REPORT, ROOT, bookinfo

CHAPTERS = bookinfo.chapters(ROOT)
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
BRANCH = CONFIG["sphinx"]["config"]["jaxbook_colab_branch"]
REPO = CONFIG["repository"]["url"].removeprefix("https://github.com/").rstrip("/")
COLAB = re.compile(r"^https://colab\.research\.google\.com/github/(?P<repo>[\w.-]+/[\w.-]+)"
                   r"/blob/(?P<branch>[\w.-]+)/(?P<path>[\w./-]+\.ipynb)$")
LOCK = ROOT / "requirements-colab.txt"
ENV = ROOT / "_build" / "colab-env"
KERNEL = "jaxbook-colab-like"


def colab_notebook(book, docname):
    return nbformat.read(book.root / "_build" / "colab" / f"{docname}.ipynb", as_version=4)


@pytest.mark.parametrize("docname", CHAPTERS)
def test_page_colab_button_names_the_generated_notebook(book, docname):
    links = {a["href"] for a in book.page(docname).select("a[href^='https://colab.research.google.com']")}
    assert len(links) == 1, links
    match = COLAB.match(links.pop())
    assert match, "Colab URL does not have the form .../github/ORG/REPO/blob/BRANCH/PATH.ipynb"
    assert match["repo"] == REPO
    assert match["branch"] == BRANCH and BRANCH not in ("master", "")
    assert match["path"] == f"{docname}.ipynb"
    assert (book.root / "_build" / "colab" / match["path"]).is_file()


@pytest.mark.parametrize("docname", CHAPTERS)
def test_colab_notebook_asks_for_a_gpu_and_has_the_build_outputs(book, docname):
    nb = colab_notebook(book, docname)
    assert nb.metadata["accelerator"] == "GPU" and nb.metadata["colab"]["gpuType"]
    note, install, setup = nb.cells[:3]
    assert note.cell_type == "markdown" and "Runtime" in note.source and "GPU" in note.source
    jax_pin = next(l for l in (ROOT / "requirements.txt").read_text().splitlines() if l.startswith("jax=="))
    assert install.cell_type == "code" and f'"{jax_pin.split("==")[1]}"' in install.source
    assert "def measure(" in setup.source  # the helpers travel inside the notebook
    assert any(c.get("outputs") for c in nb.cells[2:] if c.cell_type == "code")
    for cell in nb.cells:
        assert "load" not in cell.metadata
        if "raises-exception" in cell.metadata.get("tags", []):
            assert cell.source.startswith(f"%%expect_exception {cell.metadata['raises']}\n")


@pytest.fixture(scope="session")
def colab_kernel(tmp_path_factory):
    """A kernel in a virtual environment made from requirements-colab.txt only."""
    want = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    stamp = ENV / ".installed"
    if not stamp.exists() or stamp.read_text() != want:
        shutil.rmtree(ENV, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(ENV)], check=True)
        subprocess.run([str(ENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "-r", str(LOCK)], check=True)
        stamp.write_text(want)
    kernels = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(ENV / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python",
        "env": {"PYTHONPATH": "", "PYTHONNOUSERSITE": "1", "JAXBOOK_BUILD": ""},
    }))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(kernels.parent.parent)
    yield KERNEL
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


def run_standalone(nb, workdir: Path):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    NotebookClient(nb, kernel_name=KERNEL, timeout=300,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def test_colab_like_kernel_has_no_myst_nb_and_no_repository(colab_kernel, tmp_path):
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import importlib.util as u, os, sys\n"
        "print([u.find_spec(m) is None for m in ('myst_nb', 'bookinfo', 'book_setup')], os.listdir('.'), "
        f"[p for p in sys.path if p.rstrip('/') in {[str(ROOT), str(ROOT / 'tools'), str(ROOT / 'chapters')]!r}])")])
    out = run_standalone(probe, tmp_path).cells[0].outputs[0].text
    assert out.strip() == "[True, True, True] [] []"


def test_expect_exception_fails_when_nothing_is_raised(book, colab_kernel, tmp_path):
    setup = colab_notebook(book, CHAPTERS[0]).cells[2]
    nb = nbformat.v4.new_notebook(cells=[setup, nbformat.v4.new_code_cell("%%expect_exception TypeError\nx = 1")])
    with pytest.raises(CellExecutionError, match="should raise TypeError"):
        run_standalone(nb, tmp_path)


@pytest.mark.parametrize("docname", CHAPTERS)
def test_colab_notebook_runs_standalone(book, colab_kernel, tmp_path, docname):
    start = time.perf_counter()
    run_standalone(colab_notebook(book, docname), tmp_path)
    REPORT.append(f"{time.perf_counter() - start:6.1f} s  {docname} (standalone, Colab-like kernel)")
    assert list(tmp_path.iterdir()) == [] or all(p.name.startswith(".") for p in tmp_path.iterdir())

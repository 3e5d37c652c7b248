"""Make the "Open in Colab" notebooks: `python tools/make_colab.py --out DIR`.

For every chapter, the notebook exactly as the build executed it (outputs
included, from the execution cache) becomes DIR/chapters/NAME.ipynb, ready for
Colab: GPU runtime requested in its metadata, a note about the runtime first, a
cell that installs the book's pinned JAX only where the runtime has another
version, deliberate-error cells run through `%%expect_exception` (Colab ignores
the `raises-exception` tag and would stop "Run all" there), and nothing that
needs this repository. The publish workflow pushes DIR to the `notebooks`
branch, which is where the pages' Colab buttons point.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat
import yaml

import bookfacts


def book_settings(book: Path) -> dict:
    config = yaml.safe_load((book / "_config.yml").read_text())
    sphinx_config = config.get("sphinx", {}).get("config", {})
    return {
        "title": config["title"],
        "site_url": config.get("html", {}).get("baseurl", "").rstrip("/"),
        "repository": config["repository"]["url"].rstrip("/"),
        "branch": sphinx_config.get("jaxbook_colab_branch", "notebooks"),
    }


def pinned_jax(book: Path) -> str:
    for line in (book / "requirements.txt").read_text().splitlines():
        if line.startswith("jax=="):
            return line.split("==", 1)[1].strip()
    raise ValueError("requirements.txt pins no jax version")


def colab_url(book: Path, docname: str) -> str:
    settings = book_settings(book)
    org_repo = settings["repository"].removeprefix("https://github.com/")
    return (f"https://colab.research.google.com/github/{org_repo}/blob/"
            f"{settings['branch']}/{docname}.ipynb")


INSTALL = '''\
# This notebook was executed for the book with JAX {version}. Install exactly
# that version if this runtime has another one (nothing happens otherwise).
import importlib.metadata, shutil, subprocess, sys

try:
    installed = importlib.metadata.version("jax")
except importlib.metadata.PackageNotFoundError:
    installed = None
if installed != "{version}":
    extra = "[cuda12]" if shutil.which("nvidia-smi") else ""
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet",
                           f"jax{{extra}}=={version}"])
    print(f"Installed JAX {version} (the runtime had {{installed}}).")
    print("If JAX was already imported in this session: Runtime > Restart session.")'''


def runtime_note(settings: dict, docname: str, banner: str) -> str:
    page = f"{settings['site_url']}/{docname}.html" if settings["site_url"] else docname
    return (
        f"*This notebook is a chapter of **{settings['title']}** ([read it online]({page})).*\n\n"
        "**Runtime:** it asks Colab for a GPU (Runtime → Change runtime type → GPU); "
        "it also runs on a CPU runtime, only slower. Run the cells from the top "
        "(Runtime → Run all): the first one installs the book's JAX version if this "
        "runtime has a different one, the second sets up the helpers every chapter uses "
        "(`measure` for timings, `glue`, short tracebacks).\n\n"
        f"The outputs below were produced when the book was built: {banner}"
    )


def colab_notebook(book: Path, docname: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(bookfacts.executed_notebook(book, docname))
    settings = book_settings(book)
    banner = ""
    for cell in nb.cells:
        cell.metadata.pop("load", None)
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stderr":
                continue
            if out.output_type in ("display_data", "execute_result"):
                out.data = {m: v for m, v in out.data.items() if not m.startswith(bookfacts.GLUE_MIME)}
                if not out.data:
                    continue
                if not banner and "text/markdown" in out.data:
                    text = out.data["text/markdown"]
                    banner = text if text.startswith("This page was executed on") else ""
            outputs.append(out)
        cell.outputs = outputs
        if "raises-exception" in cell.metadata.get("tags", []):
            cell.source = f"%%expect_exception {cell.metadata['raises']}\n{cell.source}"
    note = nbformat.v4.new_markdown_cell(runtime_note(settings, docname, banner.replace("This page", "this page")))
    install = nbformat.v4.new_code_cell(INSTALL.format(version=pinned_jax(book)))
    nb.cells = [note, install] + nb.cells
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    nb.metadata = {
        "accelerator": "GPU",
        "colab": {"name": f"{Path(docname).name}.ipynb", "provenance": [], "gpuType": "T4",
                  "toc_visible": True},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def write_all(book: Path, out: Path) -> list[Path]:
    written = []
    for docname in bookfacts.chapters(book):
        path = out / f"{docname}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(colab_notebook(book, docname), path)
        written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=bookfacts.ROOT)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for path in write_all(args.book.resolve(), args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

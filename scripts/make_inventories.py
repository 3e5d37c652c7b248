"""Write the API inventories the book links to: `python scripts/make_inventories.py`.

The pages link every name they use from JAX, NumPy, SciPy, scikit-learn and Python
to its documentation (intersphinx for the prose, sphinx-codeautolink for the code).
A build must not fetch anything, so each project's inventory (`objects.inv`) is a
file of this repository, in `inventories/`, written by this script, which also
writes `inventories/PROVENANCE.md` saying where each came from:

* JAX ships no inventory in any package. Its is made from the names JAX's own docs
  document: the `autosummary`, `autofunction`, `autoclass` and `automodule`
  directives of `docs/*.rst` / `docs/*.md` in a checkout of jax-ml/jax at a release
  tag (`--jax-docs`, `--jax-tag`), each name mapped to its page on docs.jax.dev
  (`_autosummary/NAME.html` for autosummary entries, `PAGE.html#NAME` otherwise).
  Only names that exist in the installed JAX are kept: a name the docs do not
  document gets no link.
* NumPy: the same, from the docs sources of a numpy/numpy checkout (`--numpy-docs`,
  `--numpy-tag`): `reference/generated/NAME.html` on numpy.org/doc/stable.
* Python, SciPy, scikit-learn: the `objects.inv` that Debian's documentation packages
  ship (python3.11-doc, python-scipy-doc, python-sklearn-doc; downloaded with
  `apt-get download` into `--debian-dir` when missing), keeping the Python-domain
  entries whose names exist in the installed packages, on the projects' current
  docs sites.

    python scripts/make_inventories.py --jax-docs ~/src/jax --jax-tag jax-v0.11.0 \\
        --numpy-docs ~/src/numpy --numpy-tag v2.5.2 [--debian-dir /tmp/debs]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import posixpath
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import sphobjinv as soi

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))  # bookfacts, jaxbook_*

import bookfacts

OUT = bookfacts.book.ROOT / "inventories"
SITES = {  # project: (docs site, the form of every URL of its inventory)
    "jax": ("https://docs.jax.dev/en/latest/", r"(_autosummary/[\w.]+\.html|[\w.-]+\.html#[\w.-]+)"),
    "numpy": ("https://numpy.org/doc/stable/", r"([\w-]+/)*(generated/[\w.]+\.html|[\w.-]+\.html#[\w.-]+)"),
    "scipy": ("https://docs.scipy.org/doc/scipy/", r"([\w-]+/)*[\w.-]+\.html(#[\w.-]+)?"),
    "sklearn": ("https://scikit-learn.org/stable/", r"[\w./-]+\.html(#[\w.-]+)?"),
    "python": ("https://docs.python.org/3/", r"[\w./-]+\.html#[\w.-]+"),
}
DEBIAN = {  # project: (Debian package, path of its objects.inv, the installed module names)
    "python": ("python3.11-doc", "usr/share/doc/python3.11/html/objects.inv", None),
    "scipy": ("python-scipy-doc", "usr/share/doc/python-scipy-doc/html/objects.inv", ("scipy",)),
    "sklearn": ("python-sklearn-doc", "usr/share/doc/python-sklearn-doc/html/objects.inv", ("sklearn",)),
}
# the roles of the Python-domain entries kept from Debian's objects.inv
PY_ROLES = ("module", "class", "function", "method", "exception", "attribute", "data")
DIRECTIVE = re.compile(
    r"^\s*\.\.\s+(currentmodule|module|automodule|autosummary|autofunction|autoclass|autodata)::\s*(\S*)"
)


def resolve(name: str):
    """The object a dotted name stands for in the installed packages, or None."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except Exception:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def role(obj) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "data"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def documented_names(docs: Path, tag: str, subdir: str) -> dict[str, str]:
    """{full name: URI} of everything the docs document with autodoc directives."""
    files = git(docs, "ls-tree", "-r", "--name-only", tag, subdir).split()
    found: dict[str, str] = {}
    for file in sorted(f for f in files if f.endswith((".rst", ".md"))):
        page = file.removeprefix(subdir).lstrip("/").rsplit(".", 1)[0]
        text = git(docs, "show", f"{tag}:{file}")
        module, lines, i = "", text.splitlines(), 0
        while i < len(lines):
            match = DIRECTIVE.match(lines[i])
            i += 1
            if not match:
                continue
            kind, arg = match.groups()
            if kind in ("currentmodule", "module", "automodule"):
                module = arg
                if kind != "currentmodule":
                    found.setdefault(arg, f"{page}.html#module-{arg}")
            elif kind == "autosummary":
                toctree = None
                while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                    entry = lines[i].strip()
                    i += 1
                    if entry.startswith(":toctree:"):
                        toctree = entry.split(":", 2)[2].strip().rstrip("/")
                    elif entry and not entry.startswith((":", "..")):
                        name = entry.lstrip("~")
                        full = name if name.startswith(module + ".") or not module else f"{module}.{name}"
                        if toctree:  # a page of its own
                            found.setdefault(
                                full, f"{posixpath.join(posixpath.dirname(page), toctree)}/{full}.html"
                            )
            else:
                full = arg if "." in arg and resolve(arg) is not None else f"{module}.{arg}"
                found.setdefault(full, f"{page}.html#{full}")
    return found


def inventory(project: str, version: str, entries: dict[str, tuple[str, str]]) -> soi.Inventory:
    inv = soi.Inventory()
    inv.project, inv.version = project, version
    for name, (kind, uri) in sorted(entries.items()):
        inv.objects.append(
            soi.DataObjStr(name=name, domain="py", role=kind, priority="1", uri=uri, dispname="-")
        )
    return inv


def from_docs(project: str, docs: Path, tag: str, subdir: str) -> tuple[soi.Inventory, str]:
    found = documented_names(docs, tag, subdir)
    kept = {name: (role(obj), uri) for name, uri in found.items() if (obj := resolve(name)) is not None}
    version = importlib.import_module(project).__version__
    note = (
        f"{len(kept)} of the {len(found)} names that the docs sources of {project} at tag "
        f"`{tag}` document (autodoc directives in `{subdir}/`), those that exist in the installed "
        f"{project} {version}"
    )
    return inventory(project, tag, kept), note


def from_debian(project: str, debian_dir: Path) -> tuple[soi.Inventory, str]:
    package, member, modules = DEBIAN[project]
    if not any(debian_dir.glob(f"{package}_*.deb")):
        subprocess.run(["apt-get", "download", package], cwd=debian_dir, check=True)
    deb = sorted(debian_dir.glob(f"{package}_*.deb"))[-1]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        source = soi.Inventory(Path(tmp, member))
    kept = {
        obj.name: (obj.role, obj.uri_expanded)
        for obj in source.objects
        if obj.domain == "py"
        and obj.role in PY_ROLES
        and (not modules or obj.name.split(".")[0] in modules)
        and resolve(obj.name) is not None
    }
    installed = (
        sys.version.split()[0] if project == "python" else importlib.import_module(modules[0]).__version__
    )
    note = (
        f"{len(kept)} of the {len(source.objects)} entries of the `objects.inv` in Debian's "
        f"`{deb.name}` ({source.project} {source.version}): the Python-domain objects that exist "
        f"in the installed {'Python' if project == 'python' else modules[0]} {installed}"
    )
    return inventory(source.project, source.version, kept), note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jax-docs", type=Path, required=True, help="a git checkout of jax-ml/jax")
    parser.add_argument("--jax-tag", required=True, help="its newest release tag, e.g. jax-v0.11.0")
    parser.add_argument("--numpy-docs", type=Path, required=True, help="a git checkout of numpy/numpy")
    parser.add_argument("--numpy-tag", required=True, help="its newest release tag, e.g. v2.5.2")
    parser.add_argument("--debian-dir", type=Path, default=Path(tempfile.gettempdir()) / "jaxbook-debs")
    args = parser.parse_args(argv)
    args.debian_dir.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(exist_ok=True)
    made = {
        "jax": from_docs("jax", args.jax_docs, args.jax_tag, "docs"),
        "numpy": from_docs("numpy", args.numpy_docs, args.numpy_tag, "doc/source"),
        **{project: from_debian(project, args.debian_dir) for project in DEBIAN},
    }
    lines = [
        "# Where the API inventories come from",
        "",
        "Written by `scripts/make_inventories.py` (see its docstring for the command); do not edit.",
        "Each file is an `objects.inv` that the book's intersphinx setting (`_config.yml`) "
        "reads instead of fetching one:",
        "",
    ]
    for project, (inv, note) in made.items():
        (OUT / f"{project}.inv").write_bytes(soi.compress(inv.data_file(contract=True)))
        lines.append(f"- `{project}.inv`, linking to {SITES[project][0]}: {note}.")
        print(f"{project}: {len(inv.objects)} names")
    (OUT / "PROVENANCE.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

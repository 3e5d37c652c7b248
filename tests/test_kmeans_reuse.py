"""The distributed chapter reuses the k-means chapter's definitions verbatim.

chapters/distributed.md has one collapsed cell (tagged hide-input) whose first line
starts with COPY_MARK; every top-level definition in it (def, class, assignment) must
have the same syntax tree as the definition of that name in chapters/kmeans.md. When
kmeans.md changes one of them, copy the new code into that cell.

It reads the two MyST files as text (tests/checks.py's CODE_CELL), without a build.
"""

from __future__ import annotations

import ast
import re

import pytest

from checks import CODE_CELL
from conftest import ROOT

KMEANS = ROOT / "chapters" / "kmeans.md"
REUSER = ROOT / "chapters" / "distributed.md"
COPY_MARK = "# From the k-means chapter, verbatim"
EXPECTED = {"BLOB_MEANS", "make_blobs", "KMeansResult", "lloyd", "assign_fast", "update_fast",
            "lloyd_step_fast", "kmeans_fast"}  # fmt: skip


def code_cells(text: str) -> list[tuple[str, str]]:
    """(options, code) of every code cell of a MyST notebook."""
    cells = []
    for match in CODE_CELL.finditer(text):
        options, body = match["options"], match["body"]
        if body.startswith("---\n"):  # a YAML block of options
            options, _, body = body[4:].partition("\n---\n")
        cells.append((options, body))
    return cells


def definitions(code: str) -> dict[str, list[str]]:
    """name -> ast.dump of each top-level def, class or assignment of that name."""
    found: dict[str, list[str]] = {}
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        else:
            continue
        for name in names:
            found.setdefault(name, []).append(ast.dump(node))
    return found


def copied_cell(text: str) -> tuple[str, str]:
    copies = [(o, c) for o, c in code_cells(text) if c.lstrip().startswith(COPY_MARK)]
    assert len(copies) == 1, f"expected one cell starting with {COPY_MARK!r}, found {len(copies)}"
    return copies[0]


def divergences(copy_code: str, kmeans_text: str) -> list[str]:
    """What differs between the copied definitions and kmeans.md's; [] when none."""
    original: dict[str, list[str]] = {}
    for _, code in code_cells(kmeans_text):
        try:
            for name, dumps in definitions(code).items():
                original.setdefault(name, []).extend(dumps)
        except SyntaxError:  # a cell with IPython magics: it defines nothing we copy
            continue
    problems = []
    copied = definitions(copy_code)
    for name, dumps in copied.items():
        if name not in original:
            problems.append(f"{name} is not defined in kmeans.md")
        elif any(d not in original[name] for d in dumps):
            problems.append(f"{name} differs from its definition in kmeans.md")
    for node in ast.parse(copy_code).body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)):
            problems.append(f"line {node.lineno}: the copy holds only definitions, not {type(node).__name__}")
    missing = EXPECTED - set(copied)
    if missing:
        problems.append(f"missing from the copy: {sorted(missing)}")
    return problems


def test_copied_cell_is_collapsed():
    options, _ = copied_cell(REUSER.read_text())
    assert re.search(r":tags: \[.*hide-input.*\]", options), options


def test_copy_matches_the_kmeans_chapter():
    _, code = copied_cell(REUSER.read_text())
    assert divergences(code, KMEANS.read_text()) == []


@pytest.mark.parametrize(
    "edit",
    [
        ("[4.0, 0.0]", "[4.0, 0.5]"),  # a constant
        ("jnp.maximum(counts, 1)", "jnp.maximum(counts, 2)"),  # a function body
        ('"""Cluster means', '"""The cluster means'),  # a docstring
    ],
)
def test_a_seeded_divergence_is_caught(edit):
    _, code = copied_cell(REUSER.read_text())
    old, new = edit
    assert old in code
    assert divergences(code.replace(old, new, 1), KMEANS.read_text()) != []

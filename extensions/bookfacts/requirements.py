"""The pinned versions of the requirement files."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bookfacts.book import ROOT

canonical = canonicalize_name


def pins(path: Path) -> dict[str, str]:
    """{canonical name: version} of every `name==version` requirement of a
    requirements file (plain or hash-locked; extras and markers ignored), read with
    `packaging`, as pip reads them."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].split("--hash", 1)[0].rstrip(" \\").strip()
        if not line or line.startswith(("#", "-")):
            continue
        requirement = Requirement(line)
        exact = [s.version for s in requirement.specifier if s.operator == "=="]
        if exact:
            found[canonical(requirement.name)] = exact[0]
    return found


def pinned_jax(book: Path = ROOT) -> str:
    return pins(book / "requirements.txt")["jax"]

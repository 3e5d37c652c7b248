"""The pinned versions of the requirement files."""

from __future__ import annotations

import re
from pathlib import Path

from bookfacts.book import ROOT


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

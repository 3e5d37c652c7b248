"""Save this build's measurements as a reference run: `python scripts/save_timings.py`.

Reads the measurements of the last build (the site's timings.json, which the
Timings page is made from), checks that they come from one backend, adds where
they come from (commit, workflow run), and writes them as a reference run,
by default timings/<backend>-reference.json. Committed, a reference run of the
other backend is shown on the Timings page side by side with the build's own
measurements: e.g. a GPU reference (from the publish workflow's artifact
"gpu-reference-timings", or a GPU build made with `make html JAX_BACKEND=cuda12`)
next to a CPU build's timings, with the ratio.

    python scripts/save_timings.py [--site _build/html] [--out timings/gpu-reference.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))  # bookfacts, jaxbook_*

import bookfacts

ROOT = Path(__file__).resolve().parent.parent


def provenance() -> dict:
    """Commit and workflow run of this build, where known."""
    found = {}
    commit = os.environ.get("GITHUB_SHA")
    if not commit:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        commit = result.stdout.strip() if result.returncode == 0 else None
    if commit:
        found["commit"] = commit
    server, repo, run = map(os.environ.get, ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run:
        found["workflow_run"] = f"{server}/{repo}/actions/runs/{run}"
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--site", type=Path, default=ROOT / "_build" / "html", help="the built site (default: _build/html)"
    )
    parser.add_argument("--out", type=Path, help="where to write (default: timings/<backend>-reference.json)")
    args = parser.parse_args(argv)

    source = args.site / "timings.json"
    if not source.is_file():
        print(f"No {source}: build the book first (make html).", file=sys.stderr)
        return 1
    try:
        doc = bookfacts.records.load_timings(source)
    except ValueError as exc:
        print(f"Cannot save these timings as a reference run: {exc}", file=sys.stderr)
        return 1
    doc["build"].update(provenance())
    backend = doc["build"]["backend"]
    out = args.out or ROOT / "timings" / f"{backend}-reference.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf8")
    print(
        f"Saved {len(doc['records'])} measurements of a {backend} build "
        f"({', '.join(doc['build']['devices'])}) to {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

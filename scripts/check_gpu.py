"""Refuse to publish a CPU build as a GPU build: `python scripts/check_gpu.py`.

Before building (`make check-gpu`, `make html JAX_BACKEND=cuda12`, the publish
workflow), checks that
  1. `nvidia-smi` runs and lists a GPU (the NVIDIA driver is there), and
  2. JAX, imported by the book's Python (a separate process, exactly as the
     chapters will), has "gpu" as its default backend, computes on a GPU, and
     is at the versions pinned in requirements.txt / requirements-gpu.txt.

After building (`--site _build/html`, before the site is uploaded), checks from
the site's timings.json (made from what each chapter's setup cell recorded) that
every chapter was executed with the GPU backend, and every measurement too.

Exits 0 when all is well; otherwise 1, with a message saying what is wrong.
`--python` names the interpreter whose JAX is probed (default: this one).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))  # bookfacts, jaxbook_*

import bookfacts

ROOT = bookfacts.book.ROOT
PROBE_MARK = "JAXBOOK-GPU-PROBE "
PROBE = f"""
import importlib.metadata as md, json
import jax, jax.numpy as jnp
def version(name):
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None
info = {{"jax": jax.__version__, "jaxlib": version("jaxlib"),
        "backend": jax.default_backend(),
        "devices": [f"{{d.platform}}: {{d.device_kind}}" for d in jax.devices()],
        "plugins": {{n: version(n) for n in ("jax-cuda12-plugin", "jax-cuda12-pjrt",
                                             "jax-cuda13-plugin", "jax-cuda13-pjrt")}}}}
y = (jnp.arange(1024.0) ** 2).sum()
info["computed_on"] = sorted(d.platform for d in y.devices())
info["result_ok"] = float(y) == float(sum(i * i for i in range(1024)))
print({PROBE_MARK!r} + json.dumps(info), flush=True)
"""
WHY = "The book would be executed on the CPU and must not be published as a GPU build."


class CheckFailed(Exception):
    pass


def check_nvidia_smi() -> str:
    """The GPUs nvidia-smi lists ('NVIDIA H100 80GB HBM3, 570.86.15, 81559 MiB')."""
    cmd = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise CheckFailed("nvidia-smi was not found: this machine has no NVIDIA driver. " + WHY) from None
    except subprocess.TimeoutExpired:
        raise CheckFailed("nvidia-smi did not answer within 120 s. " + WHY) from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise CheckFailed(
            f"nvidia-smi failed (exit status {result.returncode}"
            f"{': ' + detail[-1] if detail else ''}). " + WHY
        )
    gpus = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if not gpus:
        raise CheckFailed("nvidia-smi lists no GPU. " + WHY)
    return "; ".join(gpus)


def probe_jax(python: str) -> dict:
    try:
        result = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=600)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise CheckFailed(f"could not run {python} to ask JAX for its backend ({exc}).") from exc
    for line in result.stdout.splitlines():
        if line.startswith(PROBE_MARK):
            return json.loads(line[len(PROBE_MARK) :])
    tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
    raise CheckFailed(
        f"JAX could not be imported or run by {python} (exit status {result.returncode}):\n{tail}"
    )


def expected_versions(book: Path) -> dict[str, str]:
    pins = {}
    for name in ("requirements.txt", "requirements-gpu.txt"):
        if (book / name).exists():
            pins.update(bookfacts.requirements.pins(book / name))
    return pins


def check_jax(info: dict, pins: dict[str, str]) -> str:
    backend = info.get("backend")
    if backend != "gpu":
        raise CheckFailed(
            f"JAX's default backend is {backend!r}, not 'gpu' (devices: "
            f"{', '.join(info.get('devices', [])) or 'none'}). Is the CUDA plugin installed "
            "(make html JAX_BACKEND=cuda12) and is JAX_PLATFORMS unset? " + WHY
        )
    if info.get("computed_on") != ["gpu"] or not info.get("result_ok"):
        raise CheckFailed(
            f"a computation did not run correctly on the GPU "
            f"(ran on {info.get('computed_on')}, correct: {info.get('result_ok')})."
        )
    versions = {"jax": info.get("jax"), "jaxlib": info.get("jaxlib"), **info.get("plugins", {})}
    wrong = [
        f"{name} {have} (pinned: {pins[name]})"
        for name, have in versions.items()
        if have is not None and name in pins and have != pins[name]
    ]
    if wrong:
        raise CheckFailed(
            "installed versions differ from the pinned ones: "
            + ", ".join(wrong)
            + ". The GPU build must use the same JAX version as everywhere else."
        )
    return f"JAX {info.get('jax')} on {', '.join(info.get('devices', []))}"


def check_site(site: Path, book: Path) -> str:
    """Every chapter was executed with the GPU backend; every measurement too."""
    problems = []
    timings = site / "timings.json"
    if not timings.is_file():
        raise CheckFailed(f"no {timings} (the Timings page's data): is {site} a built site?")
    doc = json.loads(timings.read_text())
    executed = {c["docname"]: c for c in doc["chapters"]}
    chapters = bookfacts.book.chapters(book)
    for docname in chapters:
        chapter = executed.get(docname)
        if chapter is None or not chapter.get("backend"):
            problems.append(f"{docname}: the build recorded no execution of it")
        elif chapter["backend"] != "gpu":
            problems.append(
                f"{docname}: executed on {chapter['device']} ({chapter['backend']}), not on a GPU"
            )
    if doc["build"].get("backends") != ["gpu"]:
        problems.append(f"timings.json: the build's backends are {doc['build'].get('backends')}, not ['gpu']")
    not_gpu = [r for r in doc["records"] if r.get("backend") != "gpu"]
    if not_gpu:
        first = not_gpu[0]
        problems.append(
            f"{len(not_gpu)} of {len(doc['records'])} measurements were not made with the GPU "
            f"backend (the first: {first['chapter']}, {first['label']!r}, made with the "
            f"{first.get('backend')!r} backend)"
        )
    if problems:
        raise CheckFailed(
            "the built site is not a GPU build:\n  "
            + "\n  ".join(problems)
            + "\nIt must not be published as one."
        )
    return f"{len(chapters)} chapters executed on a GPU"


def check_machine(python: str, book: Path = ROOT) -> str:
    """nvidia-smi lists a GPU and JAX (run by `python`) computes on it, at the pins."""
    gpus = check_nvidia_smi()
    jax_info = check_jax(probe_jax(python), expected_versions(book))
    return f"nvidia-smi: {gpus}; {jax_info}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter whose JAX runs the chapters (default: this one)",
    )
    parser.add_argument("--site", type=Path, help="check a built site instead (e.g. _build/html)")
    parser.add_argument("--book", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        passed = check_site(args.site, args.book) if args.site else check_machine(args.python, args.book)
        print(f"GPU check passed: {passed}.")
    except CheckFailed as exc:
        print(f"GPU CHECK FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

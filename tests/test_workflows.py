"""The CI and publish workflows: valid, free of zizmor findings, and with the
properties the book relies on (CPU build and tests on every PR and push; the
publish build runs on a GPU, proves it, and only then uploads the site)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CI, PUBLISH = WORKFLOWS / "ci.yml", WORKFLOWS / "publish.yml"
FILES = [CI, PUBLISH]
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$", re.M)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s*v\d+\.\d+\.\d+\s*$")


def tool(name: str) -> str:
    """A command-line tool of the book's environment (the lock pins them)."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (it is in requirements.txt)")
    return found


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def step_index(job: dict, predicate, what: str) -> int:
    for i, step in enumerate(steps(job)):
        if predicate(step):
            return i
    pytest.fail(f"no step that {what}")


def runs(text: str):
    return lambda step: text in step.get("run", "")


def uses(action: str):
    return lambda step: step.get("uses", "").split("@")[0] == action


# --- validity and zizmor -----------------------------------------------------------

def test_workflows_validate_against_the_github_schema():
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         *map(str, FILES)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(persona):
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", f"--persona={persona}",
         str(WORKFLOWS)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0 and "No findings" in result.stdout, (
        result.stdout + result.stderr)


# --- security properties of both workflows ------------------------------------------

@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_to_full_commit_shas(path):
    found = USES.findall(path.read_text())
    assert found
    for ref, rest in found:
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a 40-hex commit SHA"
        assert VERSION_COMMENT.match(rest), f"{path.name}: {ref} lacks a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_privilege_and_no_secrets(path):
    text = path.read_text()
    workflow = load(path)
    assert "pull_request_target" not in text
    assert "secrets." not in text and "secrets:" not in text
    top = workflow.get("permissions")
    assert top == {} or top == "read-all" or (
        isinstance(top, dict) and set(top.values()) <= {"read", "none"}), top
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} does not declare its permissions"
        assert job.get("timeout-minutes"), f"{path.name}: job {name} has no timeout"
        for step in steps(job):
            if uses("actions/checkout")(step):
                assert step.get("with", {}).get("persist-credentials") is False, (
                    f"{path.name}: job {name} checks out with persisted credentials")
            # no ${{ }} inside shell scripts: values reach them through env only
            assert "${{" not in step.get("run", ""), f"{path.name}: expression in a run script"


# --- CI -------------------------------------------------------------------------

def test_ci_runs_make_test_on_every_pull_request_and_push():
    workflow = load(CI)
    assert set(workflow["on"]) == {"pull_request", "push"}
    assert not (workflow["on"]["push"] or {}).get("branches"), "CI must run on pushes to any branch"
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-24.04"
    assert job["permissions"] == {"contents": "read"}
    assert job["env"]["JAXBOOK_CHROMIUM"] == "/usr/bin/google-chrome"
    setup = steps(job)[step_index(job, uses("actions/setup-python"), "sets up Python")]
    assert str(setup["with"]["python-version"]) == "3.11"
    assert [s["run"].strip() for s in steps(job) if "run" in s] == ["make test"]


# --- Publish ----------------------------------------------------------------------

def test_publish_triggers_and_runner_label():
    workflow = load(PUBLISH)
    assert set(workflow["on"]) == {"push", "workflow_dispatch"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    build = workflow["jobs"]["build"]
    assert "vars.GPU_RUNNER" in build["runs-on"], "the GPU runner label must be configurable"
    assert "self-hosted" in build["runs-on"] and "gpu" in build["runs-on"]
    assert build["permissions"] == {"contents": "read"}
    assert build["env"]["JAX_BACKEND"] == "cuda12"
    setup = steps(build)[step_index(build, uses("actions/setup-python"), "sets up Python")]
    assert str(setup["with"]["python-version"]) == "3.11"


def test_publish_proves_the_gpu_before_building_and_before_uploading():
    build = load(PUBLISH)["jobs"]["build"]
    nvidia = step_index(build, runs("nvidia-smi"), "runs nvidia-smi")
    check = step_index(build, runs("make check-gpu"), "runs the GPU check (make check-gpu)")
    html = step_index(build, lambda s: s.get("run", "").strip() == "make html", "builds (make html)")
    pages = step_index(build, runs("check_gpu.py --site _build/html"), "checks the built pages")
    upload = step_index(build, uses("actions/upload-pages-artifact"), "uploads the site")
    assert nvidia < check < html < pages < upload
    assert steps(build)[upload]["with"]["path"] == "_build/html"
    # the Makefile runs the GPU check before the build too, with the CUDA lock
    makefile = (ROOT / "Makefile").read_text()
    assert "JAX_BACKEND ?= cpu" in makefile
    html_rule = makefile.split("\nhtml:", 1)[1].split("\n\n", 1)[0]
    assert html_rule.index("tools/check_gpu.py") < html_rule.index("tools/build.py")
    assert "-r requirements.txt -r requirements-gpu.txt" in makefile


def test_execution_cache_is_keyed_by_locked_requirements_and_backend():
    build = load(PUBLISH)["jobs"]["build"]
    cache = steps(build)[step_index(build, uses("actions/cache"), "caches the executions")]
    assert cache["with"]["path"] == "_build/.jupyter_cache"
    key = cache["with"]["key"]
    requirements = "hashFiles('requirements.txt', 'requirements-gpu.txt')"
    assert requirements in key and "cuda12" in key
    for prefix in filter(None, map(str.strip, cache["with"]["restore-keys"].splitlines())):
        assert requirements in prefix and "cuda12" in prefix and key.startswith(prefix)
    assert step_index(build, uses("actions/cache"), "") < step_index(
        build, lambda s: s.get("run", "").strip() == "make html", "")
    ci = load(CI)["jobs"]["test"]
    ci_keys = [s["with"]["key"] for s in steps(ci) if uses("actions/cache")(s)]
    assert all("-cpu-" in k for k in ci_keys), "CI's cache must never be the GPU one"


def test_deploy_job_has_only_pages_permissions():
    deploy = load(PUBLISH)["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in steps(deploy)] == ["actions/deploy-pages"]
    others = [j for n, j in load(PUBLISH)["jobs"].items() if n != "deploy"]
    assert all("pages" not in j["permissions"] and "id-token" not in j["permissions"]
               for j in others)


def test_colab_notebooks_are_pushed_to_their_branch():
    jobs = load(PUBLISH)["jobs"]
    build = jobs["build"]
    # tools/build.py (make html) writes the Colab notebooks to _build/colab
    make = step_index(build, runs("make html"), "builds the book and its notebooks")
    upload = step_index(build, lambda s: uses("actions/upload-artifact")(s)
                        and s["with"]["name"] == "colab-notebooks", "uploads the notebooks")
    assert make < upload and steps(build)[upload]["with"]["path"] == "_build/colab"
    job = jobs["notebooks"]
    assert job["needs"] == "build"
    assert job["permissions"] == {"contents": "write"}
    assert not any(uses("actions/checkout")(s) for s in steps(job))
    push = steps(job)[step_index(job, runs("git push --force"), "force-pushes")]
    assert push["env"]["PUSH_TOKEN"] == "${{ github.token }}"
    assert "HEAD:refs/heads/notebooks" in push["run"]
    assert "x-access-token:${PUSH_TOKEN}@" in push["run"]
    assert "git init" in push["run"]  # an orphan commit holding only the notebooks


# --- the GPU lock and the Makefile -------------------------------------------------

def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
            assert match, f"{path.name}: {line!r} is not pinned with =="
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def test_gpu_requirements_pin_the_cuda_extras_of_the_same_jax():
    base, gpu = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-gpu.txt")
    jax_version = base["jax"]
    assert base["jaxlib"] == jax_version
    assert gpu["jax-cuda12-plugin"] == jax_version
    assert gpu["jax-cuda12-pjrt"] == jax_version
    assert not set(gpu) & set(base), "requirements-gpu.txt repeats packages of requirements.txt"
    nvidia = {n for n in gpu if n.startswith("nvidia-")}
    for needed in ("nvidia-cublas-cu12", "nvidia-cuda-runtime-cu12", "nvidia-cudnn-cu12",
                   "nvidia-cufft-cu12", "nvidia-cusolver-cu12", "nvidia-cusparse-cu12",
                   "nvidia-nccl-cu12", "nvidia-nvjitlink-cu12"):
        assert needed in nvidia
    assert set(gpu) <= nvidia | {"jax-cuda12-plugin", "jax-cuda12-pjrt"}
    # jax's own metadata: the cuda12 extra is the plugin at exactly this version
    from importlib.metadata import requires

    extra = [r for r in requires("jax") if 'extra == "cuda12"' in r]
    assert any(r.startswith(f"jax-cuda12-plugin[with-cuda]<={jax_version},>={jax_version}")
               or f"jax-cuda12-plugin[with-cuda]=={jax_version}" in r for r in extra), extra


def makefile_sandbox(tmp_path: Path) -> Path:
    """The Makefile in a folder whose .venv/bin/python only logs what it is asked."""
    import os
    import shutil as sh
    import time

    for name in ("Makefile", "requirements.txt", "requirements-gpu.txt"):
        sh.copy(ROOT / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "$*" >> "$LOG"\n'
                      'case "$*" in *check_gpu.py*) exit "${CHECK_RC:-0}";; esac\n')
    python.chmod(0o755)
    now = time.time()  # the environment is newer than its lock: it is not re-created
    for name, age in (("requirements.txt", 100), ("requirements-gpu.txt", 100),
                      (".venv/.installed", 50)):
        (tmp_path / name).touch()
        os.utime(tmp_path / name, (now - age, now - age))
    return tmp_path


def make(sandbox: Path, *args, check_rc=0) -> tuple[subprocess.CompletedProcess, list[str]]:
    log = sandbox / "calls.log"
    log.unlink(missing_ok=True)
    env = {"PATH": "/usr/bin:/bin", "LOG": str(log), "CHECK_RC": str(check_rc)}
    result = subprocess.run(["make", "--no-print-directory", *args], cwd=sandbox, env=env,
                            capture_output=True, text=True)
    return result, (log.read_text().splitlines() if log.exists() else [])


def test_makefile_gpu_path(tmp_path):
    box = makefile_sandbox(tmp_path)
    cache = box / "_build" / ".jupyter_cache"
    cache.mkdir(parents=True)  # a CPU build's cache (no backend record) and build state
    (box / "_build" / ".staging").mkdir()

    result, calls = make(box, "html", "JAX_BACKEND=cuda12")
    assert result.returncode == 0, result.stderr
    assert calls == [
        "-m pip install --quiet --require-virtualenv -r requirements.txt -r requirements-gpu.txt",
        "tools/check_gpu.py",
        "tools/build.py",
    ]
    assert "made with another JAX backend" in result.stdout
    assert not (box / "_build" / ".staging").exists()
    assert (cache / "jax-backend").read_text().strip() == "cuda12"

    # again: the GPU cache is kept, the GPU check runs again before the build
    result, calls = make(box, "html", "JAX_BACKEND=cuda12")
    assert calls == ["tools/check_gpu.py", "tools/build.py"]
    assert "another JAX backend" not in result.stdout

    # a failing GPU check stops everything before the build
    result, calls = make(box, "html", "JAX_BACKEND=cuda12", check_rc=1)
    assert result.returncode != 0 and calls == ["tools/check_gpu.py"]
    result, calls = make(box, "check-gpu", "JAX_BACKEND=cuda12", check_rc=1)
    assert result.returncode != 0 and calls == ["tools/check_gpu.py"]

    # back to the CPU: CUDA wheels removed, GPU outputs dropped, no GPU check
    result, calls = make(box, "html")
    assert result.returncode == 0, result.stderr
    assert calls == ["-m pip uninstall --quiet --yes -r requirements-gpu.txt", "tools/build.py"]
    assert "made with another JAX backend" in result.stdout
    assert (cache / "jax-backend").read_text().strip() == "cpu"

    result, _ = make(box, "html", "JAX_BACKEND=rocm")
    assert result.returncode != 0 and "JAX_BACKEND must be cpu or cuda12" in result.stderr

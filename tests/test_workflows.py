"""The workflows, the Makefile and the locks: valid workflows free of zizmor
findings, with the properties the book relies on (CPU build and tests on every
PR and push; the publish build runs on a GPU, proves it, and only then uploads
the site; a weekly link check); one Python and one JAX everywhere; hash-locked
requirements; the Makefile's and build.py's backend switch, run for real."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from importlib.metadata import requires
from pathlib import Path

import pytest
import yaml

import bookfacts
import build
from conftest import ROOT, fake_program

WORKFLOWS = ROOT / ".github" / "workflows"
CI, PUBLISH, LINKCHECK = WORKFLOWS / "ci.yml", WORKFLOWS / "publish.yml", WORKFLOWS / "linkcheck.yml"
DRIFT = WORKFLOWS / "drift.yml"  # tests/test_drift.py checks what is its own
FILES = [CI, PUBLISH, LINKCHECK, DRIFT]
PYTHON = "3.13"  # the Python of Colab's runtime, and of every place the book is built
LOCKS = ["requirements.txt", "requirements-test.txt", "requirements-gpu.txt", "requirements-colab.txt"]
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$", re.M)
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
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, FILES)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(persona):
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", f"--persona={persona}", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0 and "No findings" in result.stdout, result.stdout + result.stderr


# --- security properties of both workflows ------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_pinned_action_says_its_version(path):
    """zizmor (unpinned-uses) fails an action that is not pinned to a commit SHA; a
    SHA says nothing to a reader, so each one is followed by its '# vX.Y.Z'."""
    found = USES.findall(path.read_text())
    assert found
    for ref, rest in found:
        assert VERSION_COMMENT.match(rest), f"{path.name}: {ref} lacks a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_privilege_and_no_secrets(path):
    text = path.read_text()
    workflow = load(path)
    assert "secrets." not in text and "secrets:" not in text
    top = workflow.get("permissions")
    assert (
        top == {} or top == "read-all" or (isinstance(top, dict) and set(top.values()) <= {"read", "none"})
    ), top
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} does not declare its permissions"
        assert job.get("timeout-minutes"), f"{path.name}: job {name} has no timeout"
        for step in steps(job):
            if uses("actions/checkout")(step):
                assert step.get("with", {}).get("persist-credentials") is False, (
                    f"{path.name}: job {name} checks out with persisted credentials"
                )


# --- CI -------------------------------------------------------------------------


def test_ci_runs_make_test_on_every_pull_request_and_push():
    workflow = load(CI)
    assert set(workflow["on"]) == {"pull_request", "push"}
    assert not (workflow["on"]["push"] or {}).get("branches"), "CI must run on pushes to any branch"
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    setup = steps(job)[step_index(job, uses("actions/setup-python"), "sets up Python")]
    assert str(setup["with"]["python-version"]) == PYTHON
    # pip's downloads are cached, keyed by every lock
    assert setup["with"]["cache"] == "pip"
    assert all(Path(lock).match(setup["with"]["cache-dependency-path"]) for lock in LOCKS)
    assert [s["run"].strip() for s in steps(job) if "run" in s] == ["make test"]
    # the execution cache of CI is the CPU one, never a GPU build's
    (cache,) = [s for s in steps(job) if uses("actions/cache")(s)]
    assert "-cpu-" in cache["with"]["key"] and "cuda" not in cache["with"]["key"]


def test_linkcheck_runs_weekly_with_the_same_python():
    workflow = load(LINKCHECK)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    setup = steps(job)[step_index(job, uses("actions/setup-python"), "sets up Python")]
    assert str(setup["with"]["python-version"]) == PYTHON
    assert [s["run"].strip() for s in steps(job) if "run" in s] == ["make linkcheck"]


# --- Publish ----------------------------------------------------------------------


def test_publish_triggers_and_runner_label():
    workflow = load(PUBLISH)
    assert set(workflow["on"]) == {"push", "workflow_dispatch"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    build = workflow["jobs"]["build"]
    assert "vars.GPU_RUNNER" in build["runs-on"], "the GPU runner label must be configurable"
    assert build["permissions"] == {"contents": "read"}
    assert build["env"]["JAX_BACKEND"] == "cuda12"
    setup = steps(build)[step_index(build, uses("actions/setup-python"), "sets up Python")]
    assert str(setup["with"]["python-version"]) == PYTHON
    # the GPU runner installs the book and its CUDA extras, never the test tools
    assert not any(
        "pytest" in s.get("run", "") or "requirements-test" in s.get("run", "") for s in steps(build)
    )


def test_publish_proves_the_gpu_before_building_and_before_uploading():
    build_job = load(PUBLISH)["jobs"]["build"]
    nvidia = step_index(build_job, runs("nvidia-smi"), "runs nvidia-smi")
    check = step_index(build_job, runs("make check-gpu"), "runs the GPU check (make check-gpu)")
    html = step_index(build_job, lambda s: s.get("run", "").strip() == "make html", "builds (make html)")
    pages = step_index(build_job, runs("check_gpu.py --site _build/html"), "checks the built pages")
    upload = step_index(build_job, uses("actions/upload-pages-artifact"), "uploads the site")
    assert nvidia < check < html < pages < upload
    assert steps(build_job)[upload]["with"]["path"] == "_build/html"


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
        build, lambda s: s.get("run", "").strip() == "make html", ""
    )


def test_deploy_job_has_only_pages_permissions():
    deploy = load(PUBLISH)["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert [s["uses"].split("@")[0] for s in steps(deploy)] == ["actions/deploy-pages"]
    others = [j for n, j in load(PUBLISH)["jobs"].items() if n != "deploy"]
    assert all("pages" not in j["permissions"] and "id-token" not in j["permissions"] for j in others)


def test_colab_notebooks_are_pushed_to_the_branch_of_the_config(tmp_path):
    """The notebooks job, run for real with a git that logs what it is asked:
    one orphan commit of the notebooks, force-pushed with the workflow's token
    to the branch that _config.yml names (passed on by the build job)."""
    jobs = load(PUBLISH)["jobs"]
    build_job, job = jobs["build"], jobs["notebooks"]
    make = step_index(build_job, runs("make html"), "builds the book and its notebooks")
    upload = step_index(
        build_job,
        lambda s: uses("actions/upload-artifact")(s) and s["with"]["name"] == "colab-notebooks",
        "uploads the notebooks",
    )
    assert make < upload and steps(build_job)[upload]["with"]["path"] == "_build/colab"
    name = steps(build_job)[step_index(build_job, lambda s: s.get("id") == "colab", "names the branch")]
    subprocess.run(
        ["bash", "-c", name["run"].replace(".venv/bin/python", sys.executable)],
        cwd=ROOT,
        env=dict(os.environ, GITHUB_OUTPUT=str(tmp_path / "output")),
        check=True,
    )
    branch = bookfacts.book.config()["colab_branch"]
    assert (tmp_path / "output").read_text() == f"branch={branch}\n"
    assert build_job["outputs"]["colab-branch"] == "${{ steps.colab.outputs.branch }}"

    assert job["needs"] == "build" and job["permissions"] == {"contents": "write"}
    assert not any(uses("actions/checkout")(s) for s in steps(job))
    push = steps(job)[step_index(job, runs("git push"), "pushes")]
    assert push["env"]["COLAB_BRANCH"] == "${{ needs.build.outputs.colab-branch }}"
    assert push["env"]["PUSH_TOKEN"] == "${{ github.token }}"
    notebooks = tmp_path / push["working-directory"]
    (notebooks / "chapters").mkdir(parents=True)
    (notebooks / "chapters" / "a.ipynb").write_text("{}")
    log = tmp_path / "git.log"
    fake_program(tmp_path / "bin", "git", f'echo "$*" >> {log}\n')
    env = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "PUSH_TOKEN": "tok",
        "SOURCE_SHA": "abc",
        "COLAB_BRANCH": branch,
        "GITHUB_REPOSITORY": "org/book",
        "GITHUB_SERVER_URL": "https://github.com",
    }
    subprocess.run(["bash", "-c", push["run"]], cwd=notebooks, env=env, check=True)
    calls = log.read_text().splitlines()
    assert calls[0] == f"init --quiet --initial-branch={branch}"
    assert calls[1] == "add --all" and calls[2].startswith("-c user.name=")
    assert calls[3] == (
        f"push --force --quiet https://x-access-token:tok@github.com/org/book.git HEAD:refs/heads/{branch}"
    )
    # no branch: nothing is pushed
    empty = subprocess.run(["bash", "-c", push["run"]], cwd=notebooks, env=dict(env, COLAB_BRANCH=""))
    assert empty.returncode != 0 and len(log.read_text().splitlines()) == 4


# --- the locks -------------------------------------------------------------------


def test_the_locks_agree_and_jax_is_one_version():
    """Each lock is hash-locked (pip --require-hashes, with which the Makefile and the
    Colab runtime mirror install them, refuses any other), resolved for Colab's
    Python, and they agree where they overlap."""
    assert f"--python-version {PYTHON}" in (ROOT / "Makefile").read_text()  # how `make lock` resolves them
    base, test, gpu = (bookfacts.requirements.pins(ROOT / name) for name in LOCKS[:3])
    jax_version = base["jax"]
    assert base["jaxlib"] == jax_version
    assert all(test[n] == v for n, v in base.items() if n in test), "shared packages must have one version"
    assert not set(gpu) & set(base), "requirements-gpu.txt repeats packages of requirements.txt"
    assert gpu["jax-cuda12-plugin"] == gpu["jax-cuda12-pjrt"] == jax_version
    nvidia = {n for n in gpu if n.startswith("nvidia-")}
    assert set(gpu) <= nvidia | {"jax-cuda12-plugin", "jax-cuda12-pjrt"}
    assert not {"pytest", "playwright", "zizmor"} & set(base), "test tools are not in the book's environment"
    # jax's own metadata: the cuda12 extra is the plugin at exactly this version
    extra = [r for r in requires("jax") if 'extra == "cuda12"' in r]
    assert any(
        f"jax-cuda12-plugin[with-cuda]<={jax_version},>={jax_version}" in r
        or f"jax-cuda12-plugin[with-cuda]=={jax_version}" in r
        for r in extra
    ), extra


def test_colab_mirror_has_colabs_versions():
    """requirements-colab.txt resolves requirements-colab.in (Colab's versions), whose
    JAX is older than the book's."""
    wanted = bookfacts.requirements.pins(ROOT / "requirements-colab.in")
    locked = bookfacts.requirements.pins(ROOT / "requirements-colab.txt")
    assert {n: locked.get(n) for n in wanted} == wanted
    assert wanted["jax"] != bookfacts.requirements.pinned_jax(), (
        "the mirror must have an older JAX: the install path runs"
    )


# --- the Makefile and the backend switch, run ---------------------------------------


def makefile_sandbox(tmp_path: Path) -> Path:
    """The Makefile in a folder whose .venv/bin/python only logs what it is asked."""
    for name in ("Makefile", *LOCKS):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "ensure_chromium.sh", tmp_path / "scripts")
    fake_program(tmp_path / ".venv" / "bin", "python", 'echo "$* JAX_BACKEND=$JAX_BACKEND" >> "$LOG"\n')
    now = time.time()  # the environment is newer than its locks: it is not re-created
    ages = dict.fromkeys(LOCKS, 100) | dict.fromkeys([".venv/.installed-book", ".venv/.installed-test"], 50)
    for name, age in ages.items():
        (tmp_path / name).touch()
        os.utime(tmp_path / name, (now - age, now - age))
    return tmp_path


def make(sandbox: Path, *args, **env) -> tuple[subprocess.CompletedProcess, list[str]]:
    log = sandbox / "calls.log"
    log.unlink(missing_ok=True)
    environ = {"PATH": "/usr/bin:/bin", "LOG": str(log), **env}
    result = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=sandbox, env=environ, capture_output=True, text=True
    )
    return result, (log.read_text().splitlines() if log.exists() else [])


PIP = "-m pip install --quiet --require-virtualenv --require-hashes --no-deps"


def test_makefile_installs_per_backend_and_leaves_the_switch_to_build_py(tmp_path):
    box = makefile_sandbox(tmp_path)
    result, calls = make(box, "html")
    assert result.returncode == 0, result.stderr
    assert calls == ["scripts/build.py JAX_BACKEND=cpu"]

    result, calls = make(box, "html", "JAX_BACKEND=cuda12")
    assert result.returncode == 0, result.stderr
    assert calls == [
        f"{PIP} -r requirements-gpu.txt JAX_BACKEND=cuda12",
        "scripts/build.py JAX_BACKEND=cuda12",
    ]
    result, calls = make(box, "html", "JAX_BACKEND=cuda12")  # installed once
    assert calls == ["scripts/build.py JAX_BACKEND=cuda12"]

    result, _ = make(box, "html", "JAX_BACKEND=rocm")
    assert result.returncode != 0 and "JAX_BACKEND must be cpu or cuda12" in result.stderr


def test_makefile_finds_python_3_13_or_says_what_to_install(tmp_path):
    box = makefile_sandbox(tmp_path)
    (box / ".venv" / ".installed-book").unlink()  # the environment must be created
    result, calls = make(box, "html", HOME=str(tmp_path))  # no python3.13 on this PATH, no pyenv
    assert result.returncode != 0 and calls == []
    assert "Python 3.13 is needed and none was found" in result.stderr
    found = subprocess.run(
        ["make", "-s", "-f", "-", "show"],
        input=(ROOT / "Makefile").read_text().split("\n# cpu (the default)")[0]
        + "\nshow:\n\t@echo $(PYTHON)\n",
        capture_output=True,
        text=True,
        cwd=box,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")},
    )
    python = found.stdout.strip()
    assert python, "the Makefile found no Python 3.13 on this machine"
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    ).stdout.strip()
    assert version == "(3, 13)"


def test_without_chromium_root_or_sudo_make_test_stops_with_one_line(tmp_path):
    bin_ = tmp_path / "bin"
    fake_program(bin_, "id", "echo 1000\n")  # not root
    fake_program(bin_, "sudo", "exit 1\n")  # and sudo wants a password
    fake_program(bin_, "apt-get", f"touch {tmp_path / 'installed'}\n")
    env = {
        "PATH": f"{bin_}:/usr/bin:/bin",
        "JAXBOOK_CHROMIUM": str(tmp_path / "none"),
        "JAXBOOK_DEBIAN_CHROMIUM": str(tmp_path / "none-either"),
    }
    script = str(ROOT / "scripts" / "ensure_chromium.sh")
    result = subprocess.run([script], capture_output=True, text=True, env=env)
    assert result.returncode == 1 and not (tmp_path / "installed").exists()
    assert result.stderr.count("\n") == 1 and "run 'sudo apt-get install -y chromium'" in result.stderr
    # as root it installs Debian's package
    fake_program(bin_, "id", "echo 0\n")
    result = subprocess.run([script], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and (tmp_path / "installed").exists()
    # with a browser there is nothing to do
    (tmp_path / "installed").unlink()
    browser = fake_program(bin_, "chrome", "exit 0\n")
    result = subprocess.run(
        [script], capture_output=True, text=True, env=dict(env, JAXBOOK_CHROMIUM=str(browser))
    )
    assert result.returncode == 0 and not (tmp_path / "installed").exists()


def test_a_switch_of_backend_drops_the_other_backends_outputs(tmp_path):
    out = tmp_path / "_build"
    cache = out / ".jupyter_cache"
    cache.mkdir(parents=True)  # a CPU build's cache (no record) and build state
    (cache / "executed").write_text("cpu outputs")
    (out / ".staging").mkdir()
    build.switch_backend(out, "cpu")
    assert (cache / "executed").exists() and (out / ".staging").exists()
    build.switch_backend(out, "cuda12")
    assert not (cache / "executed").exists() and not (out / ".staging").exists()
    assert (cache / "jax-backend").read_text() == "cuda12\n"
    (cache / "executed").write_text("gpu outputs")
    build.switch_backend(out, "cuda12")
    assert (cache / "executed").exists()


def test_a_gpu_build_on_a_machine_without_a_gpu_fails_before_anything(tmp_path):
    book = tmp_path / "book"
    shutil.copytree(ROOT, book, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "__pycache__"))
    result = subprocess.run(
        [sys.executable, str(book / "scripts" / "build.py"), "--backend", "cuda12"],
        cwd=book,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"},
    )
    assert result.returncode == 1 and "GPU CHECK FAILED" in result.stderr
    assert not (book / "_build" / ".staging").exists()

"""Drift watch (`make drift`, scripts/drift.py, .github/workflows/drift.yml).

On a throwaway book (as tests/test_failures.py builds them), an environment variable
plays the part of a JAX change: the pinned build is made by scripts/build.py without
it, then drift builds (with this test's own Python, not a new environment) without
and with it. The unchanged build reports "no drift"; the changed one names every
kind of change the report knows, and the pinned build is left untouched. Then the
drift environment's lock, the comparison rules, the Makefile target and the
workflow (least privilege: only its issue job may write issues; run for real with
a fake `gh`)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bookfacts
import drift
import test_workflows
from conftest import ROOT, fake_program
from test_failures import HEADER, build, cell, make_book

DRIFT_WORKFLOW = ROOT / ".github" / "workflows" / "drift.yml"

# One chapter whose every kind of output depends on JAXBOOK_TEST_DRIFT.
CHAPTER = (
    HEADER
    + "# Drifting\n\n"
    + cell("", ":tags: [remove-input]\n:load: book_setup.py\n")
    + cell(
        "import os, time, warnings\n"
        'changed = os.environ.get("JAXBOOK_TEST_DRIFT") == "1"\n'
        "def old_api():\n"
        "    if changed:\n"
        '        warnings.warn("old_api is deprecated, use new_api", DeprecationWarning, stacklevel=2)\n'
        "    return 1"
    )
    + cell('value = 1.5 if changed else 1.0\nprint(f"value = {value}")\nprint("unchanged line")')
    + cell(
        'glue("value", value, display=False)\n'
        'glue("word", "slower" if changed else "faster", display=False)\n'
        'glue("count", 42, display=False)',
        ":tags: [remove-cell]\n",
    )
    + cell("assert value < 1.2, 'the value moved'", ":tags: [remove-cell]\n")
    + cell("x = old_api()\nx")
    + cell('if changed:\n    warnings.warn("a future change", FutureWarning)\n"done"')
    + cell("1 / (0 if changed else 1)")
    + cell(
        'raise (KeyError if changed else ValueError)("on purpose")',
        ":tags: [raises-exception]\n:raises: ValueError\n",
    )
    + cell(
        "t = measure(time.sleep, 0.02 if changed else 0.004, label='sleep', repeat=3, min_repeat_s=0.01)\n"
        "glue('sleep_ratio', t.median_s / 0.004, display=False)"
    )
)


# A chapter whose kernel dies under the change: the chapters after it are still executed.
DIES = (
    HEADER
    + "# Dies\n\n"
    + cell("", ":tags: [remove-input]\n:load: book_setup.py\n")
    + cell(
        'import os, signal\nif os.environ.get("JAXBOOK_TEST_DRIFT") == "1":\n    os.kill(os.getpid(), signal.SIGKILL)'
    )
    + cell("print('still alive')")
)


def line_of(code: str) -> int:
    """The line of CHAPTER where this code starts."""
    return CHAPTER.splitlines().index(code) + 1


def tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def run_drift(book: Path, label: str, *extra: str, **extra_env: str) -> subprocess.CompletedProcess:
    """scripts/drift.py with this Python; the test's change and GitHub outputs only from `extra_env`."""
    command = [sys.executable, str(ROOT / "scripts" / "drift.py"), "--book", str(book)]
    command += ["--python", sys.executable, "--label", label, *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("JAXBOOK_TEST_DRIFT", "GITHUB_OUTPUT")}
    env.update(extra_env)
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def drift_book(tmp_path_factory) -> Path:
    book = make_book(tmp_path_factory.mktemp("drift"), {"dies": DIES, "drifting": CHAPTER})
    result = build(book)  # the pinned build: strict, as make html
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return book


def test_without_a_pinned_build_it_says_to_run_make_html(tmp_path):
    book = make_book(tmp_path, {"drifting": CHAPTER})
    result = run_drift(book, "x")
    assert result.returncode == 2 and "run `make html` first" in result.stderr
    assert not (book / "_build" / "drift").exists()


def test_an_unchanged_build_reports_no_drift_and_touches_nothing(drift_book):
    pinned = {name: tree_digest(drift_book / "_build" / name) for name in ("html", ".jupyter_cache")}
    result = run_drift(drift_book, "same")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folder = drift_book / "_build" / "drift" / "same"
    report = (folder / "report.md").read_text()
    assert "**No drift**" in report, report
    assert json.loads((folder / "drift.json").read_text())["changed"] is False
    # the drift build has its own cache and site; the pinned ones are as they were
    assert (folder / "book" / "_build" / "html" / "chapters" / "drifting.html").exists()
    assert bookfacts.cache.executed_notebook(folder / "book", "chapters/drifting")
    assert {name: tree_digest(drift_book / "_build" / name) for name in pinned} == pinned


def test_a_changed_build_reports_every_change(drift_book, tmp_path):
    pinned = tree_digest(drift_book / "_build" / ".jupyter_cache")
    outputs = tmp_path / "github_output"
    result = run_drift(drift_book, "changed", "--no-html", "--env", "JAXBOOK_TEST_DRIFT=1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folder = drift_book / "_build" / "drift" / "changed"
    report = (folder / "report.md").read_text()
    section = report.split("## chapters/drifting.md", 1)[-1]
    assert "**Drift found** in 2 of 2 chapters" in report
    # the kernel that died stops its own chapter only, and says where
    dies = report.split("## chapters/dies.md", 1)[1].split("\n## ", 1)[0]
    line = DIES.splitlines().index("import os, signal") + 1
    assert (
        f"- the chapter was not executed to the end: code cell 2 (line {line}): DeadKernelError: Kernel"
        in dies
    )
    at = {
        name: f"code cell {n} (line {line_of(code)})"
        for name, n, code in [
            ("fails", 8, "1 / (0 if changed else 1)"),
            ("check", 5, "assert value < 1.2, 'the value moved'"),
            ("deliberate", 9, 'raise (KeyError if changed else ValueError)("on purpose")'),
            ("deprecated", 6, "x = old_api()"),
            ("future", 7, "if changed:"),
            ("printed", 3, "value = 1.5 if changed else 1.0"),
        ]
    }
    # a failing cell, with its exception, where it is in the .md file
    assert f"{at['fails']}: `ZeroDivisionError: division by zero`" in section
    # the hidden assertion that broke
    assert "Broken checks" in section and f"{at['check']}: `AssertionError: the value moved`" in section
    # the deliberate error that raises something else
    assert f"{at['deliberate']}: should raise ValueError, raised KeyError" in section
    # the DeprecationWarning (an error in the book) names the call; a FutureWarning its line
    assert (
        f"{at['deprecated']}: line 1 of the cell: `x = old_api()`: `DeprecationWarning: old_api is" in section
    )
    assert f"{at['future']}: `FutureWarning: a future change`, at line 2 of the cell" in section
    # glued values: numbers beyond the tolerance, words, computed from timings; not the same ones
    assert "| `value` | `1.0` | `1.5` | beyond rtol" in section
    assert "| `word` | `'faster'` | `'slower'` | words changed |" in section
    assert "| `sleep_ratio` |" in section and "moved more than 2× (computed from timings)" in section
    assert "`count`" not in section
    # the measurement whose median moved more than 2×
    assert "| sleep |" in section
    # the outputs that differ, as a diff (the unchanged line is context, not a change)
    assert f"{at['printed']}:" in section
    assert "-value = 1.0\n+value = 1.5" in section and "+unchanged line" not in section
    # the workflow's outputs
    again = run_drift(drift_book, "changed", "--report-only", GITHUB_OUTPUT=str(outputs))
    assert again.returncode == 0, again.stderr
    assert (folder / "report.md").read_text() == report
    assert outputs.read_text().splitlines()[:2] == [
        f"version={bookfacts.requirements.pinned_jax(ROOT)}",
        "changed=true",
    ]
    assert tree_digest(drift_book / "_build" / ".jupyter_cache") == pinned


def test_when_the_newest_jax_is_the_pinned_one_there_is_nothing_to_do(drift_book, tmp_path, monkeypatch):
    pinned = bookfacts.requirements.pinned_jax(drift_book)
    listed = {"jax": ["99.0.0rc1", pinned], "jaxlib": [pinned]}  # a jax without its jaxlib does not count
    monkeypatch.setattr(drift, "pip_versions", lambda python, name: listed[name])
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))
    assert drift.main(["--book", str(drift_book), "--jax", "latest"]) == 0
    report = (drift_book / "_build" / "drift" / pinned / "report.md").read_text()
    assert "**No drift**" in report and "is the pinned version" in report
    assert (tmp_path / "outputs").read_text().splitlines()[:2] == [f"version={pinned}", "changed=false"]
    assert not (drift_book / "_build" / "drift" / pinned / "venv").exists()


# --- the pieces ----------------------------------------------------------------------


def test_the_drift_environment_has_the_lock_without_jax():
    lock = (ROOT / "requirements.txt").read_text()
    kept = drift.lock_without_jax(lock)
    pins, kept_pins = bookfacts.requirements.pins(ROOT / "requirements.txt"), {}
    for line in kept.splitlines():
        if "==" in line and not line.startswith(" "):
            name, version = line.split(" ")[0].split("==")
            kept_pins[bookfacts.requirements.canonical(name)] = version
    assert kept_pins == {n: v for n, v in pins.items() if n not in ("jax", "jaxlib")}
    assert "--hash=sha256:" in kept and not any(h in kept for h in _hashes(lock, ("jax", "jaxlib")))


def _hashes(lock: str, names) -> list[str]:
    found, current = [], None
    for line in lock.splitlines():
        if line and not line.startswith(" "):
            current = bookfacts.requirements.canonical(line.split("==")[0])
        elif current in names and "--hash=" in line:
            found.append(line.split("--hash=")[1].split()[0])
    return found


@pytest.mark.parametrize(
    ("pinned", "now", "timing", "changed"),
    [
        ("0.5", "0.50000001", False, False),
        ("0.5", "0.5002", False, True),
        ("Array(1., dtype=float32)", "Array(1., dtype=float64)", False, True),
        ("'about 3× faster'", "'about 5× faster'", True, False),
        ("'about 3× faster'", "'about 7× faster'", True, True),
        ("'about 3× faster'", "'about 3× slower'", True, True),
        ("12.5", "11.0", True, False),
        ("'350 ms'", "'0.5 s'", True, False),  # durations compare in seconds, whatever their unit
        ("'350 ms'", "'2.72 s'", True, True),
        ("'1,804× faster'", "'1,900× faster'", True, False),
        ("'1,804× faster'", "'1,804× faster than before'", True, True),
    ],
)
def test_glued_values_change_beyond_their_tolerance(pinned, now, timing, changed):
    why = drift.glue_change({"value": pinned, "timing": timing}, {"value": now, "timing": timing})
    assert bool(why) == changed, why


def test_values_computed_from_timings_are_told_apart():
    code = [
        "def measure(fn, label):\n    return time.perf_counter()",  # the setup cell: left out
        "t_a = measure(f, label='a')\nt_b = measure(g, label='b')\nn = 10\nrows = []",
        "ratio = t_a.median_s / t_b.median_s\nrows.append((n, ratio))\nspeed = [r for _, r in rows]",
        "def per_call(t):\n    return t.median_s / n\nstart = time.perf_counter()\nelapsed = time.perf_counter() - start",
        "x = jnp.ones(n)\ny = x * 2",
        'glue("ratio", ratio, display=False)\nglue("n", n, display=False)\nglue("each", per_call(t_a), display=False)',
    ]
    nb = {"cells": [{"cell_type": "code", "source": c, "outputs": []} for c in code]}
    names = drift.timing_names(nb)
    assert names == {"t_a", "t_b", "rows", "ratio", "speed", "per_call", "start", "elapsed"}
    glue_cell = nb["cells"][-1]
    assert [drift.glue_is_timing(glue_cell, k, names) for k in ("ratio", "n", "each")] == [True, False, True]
    assert not drift.is_timing_cell(nb["cells"][4], names) and drift.is_timing_cell(nb["cells"][2], names)


def test_a_deprecation_names_the_call():
    source = "import jax\nk = jax.random.PRNGKey(0)\ny = jax.tree_map(f, x)"
    assert drift.call_named("jax.tree_map is deprecated: use jax.tree.map", source) == (
        "line 3 of the cell: `y = jax.tree_map(f, x)`"
    )
    assert drift.call_named("something else", source) is None


def test_versions_are_checked_and_latest_is_the_newest_of_both(monkeypatch):
    with pytest.raises(SystemExit, match="Not a JAX version"):
        drift.resolve_version("0.10; rm -rf /", sys.executable)
    assert drift.resolve_version("0.10.2", sys.executable) == "0.10.2"
    listed = {"jax": ["0.13.0", "0.12.1", "0.12.0"], "jaxlib": ["0.12.1", "0.12.0"]}
    monkeypatch.setattr(drift, "pip_versions", lambda python, name: listed[name])
    assert drift.resolve_version("latest", sys.executable) == "0.12.1"


def test_make_drift_needs_a_version_and_runs_the_tool(tmp_path):
    box = test_workflows.makefile_sandbox(tmp_path)
    result, calls = test_workflows.make(box, "drift")
    assert result.returncode != 0 and calls == [] and "make drift JAX=<version>" in result.stderr
    result, calls = test_workflows.make(box, "drift", "JAX=0.10.2")
    assert result.returncode == 0, result.stderr
    assert calls == ["scripts/drift.py --jax 0.10.2 JAX_BACKEND=cpu"]


# --- the workflow ----------------------------------------------------------------------


def test_drift_workflow_is_checked_like_the_others():
    assert (
        DRIFT_WORKFLOW in test_workflows.FILES
    )  # schema, pinned SHAs, least privilege (and zizmor: all files)


def test_only_the_issue_job_writes_and_nothing_is_published():
    workflow = test_workflows.load(DRIFT_WORKFLOW)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    jobs = workflow["jobs"]
    assert jobs["drift"]["permissions"] == {"contents": "read"}
    assert jobs["issue"]["permissions"] == {"issues": "write"}
    assert set(jobs) == {"drift", "issue"}
    assert jobs["issue"]["needs"] == "drift" and "changed == 'true'" in jobs["issue"]["if"]
    text = DRIFT_WORKFLOW.read_text()
    assert "pages" not in text and "deploy" not in text and "git push" not in text
    runs = [s.get("run", "").strip() for s in jobs["drift"]["steps"] if "run" in s]
    assert runs == ["make html", 'make drift JAX="$DRIFT_JAX"']
    setup = [s for s in jobs["drift"]["steps"] if test_workflows.uses("actions/setup-python")(s)]
    assert str(setup[0]["with"]["python-version"]) == test_workflows.PYTHON


def _issue_step(tmp_path: Path, existing: str) -> tuple[list[str], Path]:
    job = test_workflows.load(DRIFT_WORKFLOW)["jobs"]["issue"]
    step = next(s for s in job["steps"] if "gh issue" in s.get("run", ""))
    assert step["env"]["GH_TOKEN"] == "${{ github.token }}"
    (tmp_path / "drift-report" / "0.13.0").mkdir(parents=True)
    (tmp_path / "drift-report" / "0.13.0" / "issue.md").write_text("# Drift report\n")
    log = tmp_path / "gh.log"
    fake_program(
        tmp_path / "bin",
        "gh",
        f'echo "$*" >> {log}\ncase "$1 $2" in "issue list") printf "%b" "{existing}";; esac\n',
    )
    env = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "GH_TOKEN": "tok",
        "GH_REPO": "org/book",
        "JAX_VERSION": "0.13.0",
        "RUN_URL": "https://github.com/org/book/actions/runs/1",
    }
    subprocess.run(["bash", "-c", step["run"]], cwd=tmp_path, env=env, check=True)
    return log.read_text().splitlines(), tmp_path / "drift-report" / "0.13.0" / "issue.md"


def test_the_issue_job_opens_one_issue_per_version_or_updates_it(tmp_path):
    title = "JAX 0.13.0 changes the book (drift watch)"
    calls, body = _issue_step(tmp_path / "new", "7\\tJAX 0.13.0 changes the book (drift watch) again\\n")
    assert calls[0].startswith("issue list --state open")
    assert calls[1] == f"issue create --title {title} --body-file drift-report/0.13.0/issue.md"
    assert "actions/runs/1" in body.read_text()
    calls, _ = _issue_step(tmp_path / "old", f"3\\t{title}\\n")
    assert calls[1] == "issue edit 3 --body-file drift-report/0.13.0/issue.md"

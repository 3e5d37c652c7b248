"""Checked exercises (chapters/book_setup.py: check_array, check_function,
check_prediction, verify_check; bookfacts.checks.check_problems): the verdicts a student
sees for right, wrong and missing answers, and the build's proof that every check
passes its solution and fails wrong answers. Run in a subprocess, like the setup cell."""

from __future__ import annotations

import nbformat
import pytest

import bookfacts
from conftest import ROOT, run_setup_probe

PROBE = r"""
import json
ns = {}
exec(open(SETUP).read(), ns)
exec('''
import jax, jax.numpy as jnp

def verdict(v):
    return {"ok": v.ok, "message": v.message, "shown": repr(v)}

x = jnp.linspace(0.0, 1.0, 4)
out = {
    "right": verdict(check_array(jnp.sin(x), jnp.sin(x), name="y")),
    "unanswered": verdict(check_array(..., jnp.sin(x), name="y")),
    "shape": verdict(check_array(jnp.sin(x)[:3], jnp.sin(x), name="y")),
    "value": verdict(check_array(jnp.sin(x).at[2].add(0.1), jnp.sin(x), name="y")),
    "dtype": verdict(check_array(jnp.arange(4), jnp.sin(x), name="y")),
    "ints": verdict(check_array(jnp.array([1, 2, 4]), jnp.array([1, 2, 3]), name="k")),
    "fn_right": verdict(check_function(jnp.tanh, jnp.tanh, [(x,), (2 * x,)], jittable=True)),
    "fn_raises": verdict(check_function(lambda v: v.nope, jnp.tanh, [(x,)])),
    "fn_not_jittable": verdict(check_function(
        lambda v: v if float(v.sum()) > 0 else -v, lambda v: v, [(x,)], jittable=True)),
    "fn_not_callable": verdict(check_function(3, jnp.tanh, [(x,)])),
    "pred_right": verdict(check_prediction(2, 2)),
    "pred_wrong": verdict(check_prediction(3, 2, explain="Because.")),
}

def check_sq(y):
    return check_array(y, x**2, name="y")

try:
    verify_check(check_sq, exercise="ex 9", right=x**2, wrong={"cubes": x**3, "squares again": x**2})
    out["verify_accepting_wrong"] = None
except AssertionError as err:
    out["verify_accepting_wrong"] = str(err)
try:
    verify_check(check_sq, exercise="ex 9", right=x**3, wrong={"cubes": x**3})
    out["verify_rejecting_right"] = None
except AssertionError as err:
    out["verify_rejecting_right"] = str(err)
''', ns)
print("RESULT" + json.dumps(ns["out"]))
"""


@pytest.fixture(scope="module")
def probe():
    return run_setup_probe(PROBE)


def test_a_right_answer_says_so_in_one_line(probe):
    for key in ("right", "fn_right", "pred_right"):
        assert probe[key]["ok"] and probe[key]["message"].startswith("Correct")
        assert "\n" not in probe[key]["message"]
    assert "under jax.jit" in probe["fn_right"]["message"]


def test_a_missing_answer_asks_for_one(probe):
    assert not probe["unanswered"]["ok"]
    assert probe["unanswered"]["shown"].startswith("Not answered yet")


def test_wrong_answers_get_specific_verdicts(probe):
    assert "shape (3,); expected shape (4,) (dtype float32)" in probe["shape"]["message"]
    value = probe["value"]["message"]
    assert "off by 0.1" in value and "at index (2,)" in value and "tolerance" in value
    assert "dtype int32; expected float32" in probe["dtype"]["message"]
    assert "first at index (2,): 4 instead of 3" in probe["ints"]["message"]
    assert "raised AttributeError" in probe["fn_raises"]["message"]
    assert probe["fn_not_jittable"]["message"].startswith("not jittable: ConcretizationTypeError")
    assert "not a function" in probe["fn_not_callable"]["message"]
    assert probe["pred_wrong"]["message"] == "JAX computes 2, not 3. Because."
    for key in ("shape", "value", "dtype", "ints", "fn_raises", "fn_not_jittable", "pred_wrong"):
        assert not probe[key]["ok"] and probe[key]["shown"].startswith("Not yet: "), key


def test_verify_check_fails_on_a_check_that_accepts_a_wrong_answer(probe):
    assert probe["verify_accepting_wrong"] == "ex 9: the check accepts a wrong answer (squares again)"
    assert probe["verify_rejecting_right"].startswith("ex 9: the check rejects the solution")


def _nb(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


def _cell(source, outputs=()):
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = list(outputs)
    return cell


PROVED = nbformat.v4.new_output("display_data", data={"text/plain": "check"}, metadata={"jaxbook_check": {}})


def test_the_build_requires_every_check_to_be_proved():
    check = _cell("# Check your answer\ndef check_x(x):\n    return check_array(x, 1)\n\ncheck_x(x)")
    proof = _cell("verify_check(check_x, exercise='e', right=1, wrong={'two': 2})", [PROVED])
    assert bookfacts.checks.check_problems(_nb(check, proof)) == []
    # as the formatter writes it, over several lines
    spread = _cell(
        "verify_check(\n    check_x,\n    exercise='e',\n    right=1,\n    wrong={'two': 2},\n)", [PROVED]
    )
    assert bookfacts.checks.check_problems(_nb(check, spread)) == []
    # a proof of another check does not count
    other = _cell("verify_check(check_xy, exercise='e', right=1, wrong={'two': 2})", [PROVED])
    assert bookfacts.checks.check_problems(_nb(check, other)) != []
    assert bookfacts.checks.check_problems(_nb(check)) == [
        "code cell 1: check_x is never proved by a later verify_check(check_x, ...)"
    ]
    # a proof that ran without recording anything (e.g. not executed) does not count
    assert bookfacts.checks.check_problems(_nb(check, _cell(proof.source))) != []
    # a proof before the check does not count either
    assert bookfacts.checks.check_problems(_nb(proof, check)) != []


def test_every_chapter_with_exercises_has_checks_proved(book):
    """The real chapters: each check cell is proved (the build also enforces it)."""
    counts = {}
    for docname in bookfacts.book.chapters(ROOT):
        nb = book.notebook(docname)
        assert bookfacts.checks.check_problems(nb) == [], docname
        counts[docname] = sum(
            c.source.startswith(bookfacts.checks.CHECK_CELL) for c in nb.cells if c.cell_type == "code"
        )
    assert counts["chapters/first-look"] >= 3

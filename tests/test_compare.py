"""`compare` (chapters/book_setup.py), the one way the book turns two timings into
words, run against a fake clock: each candidate advances the clock by a time drawn
from a distribution we choose, so the right answer is known. Run in a subprocess
so that the setup cell's global settings do not leak into pytest."""

from __future__ import annotations

import pytest

from conftest import run_setup_probe

PROBE = r"""
import json, random
ns = {}
exec(open(SETUP).read(), ns)


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


clock = Clock()
ns["_clock"] = clock  # what `measure` and `compare` read
rng = random.Random(20261206)
calls = {"A": 0, "B": 0}
order = []


def candidate(name, median, spread, drift=None):
    # A call takes `median` seconds give or take `spread` (relative, uniform);
    # `drift(t)` multiplies it: the machine's load changing over time.
    def call():
        calls[name] += 1
        order.append(name)
        factor = drift(clock.now) if drift else 1.0
        clock.now += median * factor * (1 + rng.uniform(-spread, spread))
        return 0

    return call


def run(a, b, **kw):
    order.clear()
    clock.now = 0.0
    c = ns["compare"](candidate("A", *a), candidate("B", *b), labels=("A", "B"), show=False, **kw)
    return {"verdict": c.verdict, "words": c.words, "short": c.short, "ratio": c.ratio,
            "low": c.low, "high": c.high, "coverage": c.coverage, "record": c.record(),
            "text": str(c), "order": "".join(order), "inner": [c.a.inner, c.b.inner], "times_a": c.a.times, "times_b": c.b.times}


# the load doubles part-way through (at 0.25 s of the fake clock's time): sequential timing of
# A then B would see B twice as slow; interleaved rounds see both equally
def step(t):
    return 1.0 if t < 0.25 else 2.0


results = {
    "separated": run((2e-3, 0.05), (1e-3, 0.05)),
    "faster": run((1e-3, 0.05), (2.3e-3, 0.05)),
    "overlapping": run((1.0e-3, 0.4), (1.02e-3, 0.4)),
    "noisy_gap": run((1.10e-3, 0.95), (1.0e-3, 0.95)),
    "close": run((1.045e-3, 0.0), (1.0e-3, 0.0)),
    "within_margin": run((1.03e-3, 0.0), (1.0e-3, 0.0)),
    "per_unit": run((1e-3, 0.0), (1e-3, 0.0), per=(1, 4)),
    "drift": run((1e-3, 0.02, step), (1e-3, 0.02, step)),
    "fmt": [ns["fmt_ratio"](x) for x in (1.045, 0.8, 2.0, 12.34, 1234.5, 0.00423)],
    "interval9": list(ns["_median_interval"](list(range(9)), 0.95)),
    "interval7": list(ns["_median_interval"](list(range(7)), 0.95)),
    "interval20": list(ns["_median_interval"](list(range(20)), 0.95)),
    "interval5": list(ns["_median_interval"](list(range(5)), 0.95)),
}
print("RESULT" + json.dumps(results))
"""


@pytest.fixture(scope="module")
def probe():
    return run_setup_probe(PROBE)


def test_well_separated_distributions_give_the_right_word_and_ratio(probe):
    slower = probe["separated"]
    assert slower["verdict"] == "slower"
    assert slower["ratio"] == pytest.approx(2.0, rel=0.03)
    assert slower["low"] <= slower["ratio"] <= slower["high"]
    assert slower["words"].startswith(f"{slower['short']} (interval ") and slower["words"].endswith(" than")
    assert slower["short"] in ("1.99× slower", "2.00× slower", "2.01× slower", "2.02× slower", "1.98× slower")
    faster = probe["faster"]
    assert faster["verdict"] == "faster" and faster["short"].endswith("× faster")
    assert 1 / faster["ratio"] == pytest.approx(2.3, rel=0.03)
    # the interval of a speed-up is given as speed factors, smallest first
    low, high = faster["words"].split("(interval ")[1].split("×)")[0].split("–")
    assert float(low) <= 1 / faster["ratio"] <= float(high)


def test_overlapping_distributions_are_not_resolved(probe):
    c = probe["overlapping"]
    assert c["verdict"] == "not resolved"
    assert c["low"] < 1.05 and c["high"] > 1 / 1.05  # the interval does not clear the margin
    assert "faster" not in c["short"] and "slower" not in c["short"].replace("nor slower", "")
    assert c["words"].startswith("neither resolvably faster nor slower (time ratio between ")


def test_a_gap_the_noise_does_not_resolve_is_not_claimed(probe):
    # the medians differ by more than the margin, but so does the noise between rounds
    c = probe["noisy_gap"]
    assert c["ratio"] > 1.05 and c["low"] < 1.05
    assert c["verdict"] == "not resolved"


def test_a_difference_inside_the_margin_is_not_resolved(probe):
    # 3 % slower with no noise at all: below the 5 % margin, so not claimed
    c = probe["within_margin"]
    assert c["ratio"] == pytest.approx(1.03) and c["verdict"] == "not resolved"
    assert c["record"]["margin"] == 0.05


def test_ratios_print_with_two_decimals_never_one_times(probe):
    assert probe["fmt"] == ["1.05", "0.80", "2.00", "12.3", "1235", "0.0042"]
    close = probe["close"]  # 1.045 times the time, no noise
    assert close["verdict"] == "not resolved"  # 4.5 % is inside the 5 % margin
    assert "1.04×" in close["words"] or "1.05×" in close["words"]
    # and no run prints "1×", a speed-up as a fraction ("0.8× slower") or a slow-down under 1×
    for run in (r for r in probe.values() if isinstance(r, dict)):  # every compare() run
        words = run["words"]
        assert " 1× " not in words and not words.startswith(("1× ", "0.")), words
        if run["verdict"] == "slower":
            assert float(words.split("×")[0]) > 1, words


def test_rounds_are_interleaved_and_alternate_which_goes_first(probe):
    # Rounds A B, B A, A B, ...: the last 7 + 7 repeats, as runs of calls of one
    # function, are A, BB, AA, BB, ..., AA, B (a run of two repeats where the order
    # flips); each repeat of several calls starts with one untimed call.
    import itertools

    c = probe["separated"]
    ca, cb = c["inner"]
    assert ca > 1 and cb > 1
    ca, cb = ca + 1, cb + 1  # the untimed warm call
    rounds = 7
    tail = c["order"][-rounds * (ca + cb) :]
    runs = [(name, len(list(group))) for name, group in itertools.groupby(tail)]
    expected = [("A", ca)] + [("B", 2 * cb), ("A", 2 * ca)] * 3 + [("B", cb)]
    assert runs == expected, runs[:6]
    # and before them, the warm-up of both: a first call each, then the calibration
    assert c["order"].startswith("AB")
    assert len(c["times_a"]) == len(c["times_b"]) == rounds


def test_interleaving_cancels_a_change_of_load(probe):
    # the machine gets twice as slow half-way through: each side saw both regimes,
    # so the two (identical) functions are not called different
    c = probe["drift"]
    assert max(c["times_a"]) > 1.5 * min(c["times_a"])  # the load change is in the data
    assert c["verdict"] == "not resolved"
    assert 0.8 < c["ratio"] < 1.25


def test_cost_per_unit_of_work(probe):
    # equal time per call, but B does 4 units per call: A is 4x slower per unit
    c = probe["per_unit"]
    assert c["ratio"] == pytest.approx(4.0) and c["verdict"] == "slower"


def test_order_statistics_interval(probe):
    # n = 7 (the default): the smallest and the largest, 98.4 %
    assert probe["interval7"] == [0, 6, pytest.approx(0.984375)]
    # n = 9: the 2nd smallest and 2nd largest cover the median with 96.1 %
    assert probe["interval9"] == [1, 7, pytest.approx(0.9609375)]
    # n = 20: the 6th and 15th, coverage 95.9 %
    low, high, coverage = probe["interval20"]
    assert (low, high) == (5, 14) and coverage == pytest.approx(0.9586, abs=1e-4)
    # n = 5: even the smallest and largest cover only 93.75 %, and the coverage says so
    assert probe["interval5"] == [0, 4, pytest.approx(0.9375)]


def test_the_record_names_both_sides(probe):
    rec = probe["separated"]["record"]
    assert rec["label_a"] == "A" and rec["label_b"] == "B" and rec["rounds"] == 7
    assert rec["verdict"] == "slower" and rec["words"] == probe["separated"]["words"]
    assert "vs" in probe["separated"]["text"] and "interleaved rounds" in probe["separated"]["text"]

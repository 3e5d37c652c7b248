"""The setup cell every chapter loads (chapters/book_setup.py): the timing
convention, DeprecationWarnings as errors, path scrubbing, the banner.
Run in a subprocess so its global settings do not leak into pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SETUP = ROOT / "chapters" / "book_setup.py"

PROBE = r"""
import json, time, warnings
ns = {}
exec(open(SETUP).read(), ns)
import jax, jax.numpy as jnp

matmul = jax.jit(lambda a: (a @ a).sum())
fast = ns["measure"](matmul, jnp.ones((256, 256)), label="jit matmul", show=False)

class SlowResult:
    # Stands for an asynchronously computed array: ready 5 ms after asked.
    def block_until_ready(self):
        time.sleep(0.005)
        return self

slow = ns["measure"](lambda: SlowResult(), label="async", repeat=3, show=False)

try:
    warnings.warn("an old API", DeprecationWarning)
    deprecation_is_error = False
except DeprecationWarning:
    deprecation_is_error = True

print("RESULT" + json.dumps({
    "fast": fast.record(), "fast_text": str(fast), "slow": slow.record(),
    "deprecation_is_error": deprecation_is_error, "banner": ns["_where"],
    "scrubbed": ns["_scrub"]("on line /tmp/ipykernel_4242/1234567.py:3 (f) in "
                             "/home/me/.venv/lib/python3.11/site-packages/jax/x.py see https://docs.jax.dev/en/latest/a.html"),
    "fmt": [ns["fmt_seconds"](s) for s in (2.5, 0.0123, 4.56e-5, 7e-9)],
}))
"""


@pytest.fixture(scope="module")
def probe():
    env = dict(os.environ, JAXBOOK_BUILD="1", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", f"SETUP = {str(SETUP)!r}\n" + PROBE],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.split("RESULT", 1)[1])


def test_measure_reports_first_call_median_and_spread(probe):
    rec = probe["fast"]
    assert rec["label"] == "jit matmul"
    assert rec["repeats"] == 7 and rec["calls_per_repeat"] >= 1
    assert rec["min_s"] <= rec["q25_s"] <= rec["median_s"] <= rec["q75_s"] <= rec["max_s"]
    # The first call traces and compiles: far slower than a cached call.
    assert rec["first_call_s"] > 3 * rec["median_s"]
    assert rec["device"].startswith("CPU (") and rec["backend"] == "cpu"
    import jax
    assert rec["jax_version"] == jax.__version__
    text = probe["fast_text"]
    assert "first call" in text and "median" in text and "IQR" in text and "JAX " + jax.__version__ in text


def test_measure_waits_for_results(probe):
    # Each result takes 5 ms to become ready: a timing of the dispatch alone
    # would be microseconds.
    assert probe["slow"]["median_s"] >= 0.005
    assert probe["slow"]["repeats"] == 3


def test_deprecation_warnings_are_errors(probe):
    assert probe["deprecation_is_error"] is True


def test_paths_of_the_machine_are_scrubbed(probe):
    scrubbed = probe["scrubbed"]
    assert "/tmp/" not in scrubbed and "/home/" not in scrubbed and "site-packages" not in scrubbed
    assert "<cell>:3" in scrubbed and "x.py" in scrubbed
    assert "https://docs.jax.dev/en/latest/a.html" in scrubbed


def test_seconds_are_formatted_with_units(probe):
    assert probe["fmt"] == ["2.5 s", "12.3 ms", "45.6 µs", "7 ns"]


def test_banner_names_device_version_and_says_cpu_build(probe):
    import jax
    banner = probe["banner"]
    assert f"with JAX {jax.__version__}" in banner
    assert "without a GPU" in banner and "published site is executed on a GPU" in banner

"""The setup cell every chapter loads (chapters/book_setup.py): the timing
convention, DeprecationWarnings as errors, path scrubbing, the banner and its
recorded facts, an environment cell before it. Run in subprocesses so that their global
settings do not leak into pytest."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

import bookfacts
from conftest import CHAPTERS, ROOT, run_setup_probe

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

# A library of the kernel's own (here: a module named like Colab's jupyter_client)
# may warn without breaking anything.
library = type(warnings)("jupyter_client.session")
exec("import warnings\ndef utcnow():\n    warnings.warn('utcnow', DeprecationWarning)\n    return 1", library.__dict__)
library_call_works = library.utcnow() == 1

shown, facts = ns["Executed"]()._repr_mimebundle_()

print("RESULT" + json.dumps({
    "fast": fast.record(), "fast_text": str(fast), "slow": slow.record(),
    "deprecation_is_error": deprecation_is_error, "library_call_works": library_call_works,
    "banner": shown["text/markdown"], "facts": facts,
    "scrubbed": ns["_scrub"]("on line /tmp/ipykernel_4242/1234567.py:3 (f) in "
                             "/home/me/.venv/lib/python3.11/site-packages/jax/x.py see https://docs.jax.dev/en/latest/a.html"),
    "fmt": [ns["fmt_seconds"](s) for s in (2.5, 0.0123, 4.56e-5, 7e-9)],
}))
"""


@pytest.fixture(scope="module")
def probe():
    return run_setup_probe(PROBE, JAXBOOK_BUILD="1")


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


def test_deprecation_warnings_are_errors_in_chapter_code_only(probe):
    assert probe["deprecation_is_error"] is True
    assert probe["library_call_works"] is True


def test_paths_of_the_machine_are_scrubbed(probe):
    scrubbed = probe["scrubbed"]
    assert "/tmp/" not in scrubbed and "/home/" not in scrubbed and "site-packages" not in scrubbed
    assert "<cell>:3" in scrubbed and "x.py" in scrubbed
    assert "https://docs.jax.dev/en/latest/a.html" in scrubbed


def test_seconds_are_formatted_with_units(probe):
    assert probe["fmt"] == ["2.5 s", "12.3 ms", "45.6 µs", "7 ns"]


def test_banner_is_recorded_as_data_and_says_cpu_build(probe):
    import jax

    facts = probe["facts"][bookfacts.records.EXECUTED_KEY]
    assert facts["jax_version"] == jax.__version__ and facts["backend"] == "cpu"
    assert facts["device"].startswith("CPU (")
    banner = probe["banner"]
    assert banner.startswith(
        f"This page was executed on **{facts['device']}** with JAX {jax.__version__} on "
    )
    assert "without a GPU" in banner and "published site is executed on a GPU" in banner


ENVIRONMENT_CELL = r"""
import json, os
exec(CODE)
import jax
print("RESULT" + json.dumps({"devices": len(jax.devices()), "flags": os.environ["XLA_FLAGS"]}))
"""


def test_an_environment_cell_before_the_setup_cell_takes_effect():
    # A chapter that needs XLA_FLAGS (simulated devices) sets them in a visible cell
    # before the setup cell, which imports JAX: run the two in order, as a fresh kernel
    # (or Colab) does, and the devices the flag asks for are there.
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu")
    found = []
    for docname in CHAPTERS:
        cells = [
            c
            for c in bookfacts.reading.read_notebook(bookfacts.book.source_path(ROOT, docname)).cells
            if c.cell_type == "code"
        ]
        if bookfacts.reading.is_setup_cell(cells[0]):
            continue
        found.append(docname)
        asked = re.search(r"device_count=(\d+)", cells[0].source)
        assert asked and bookfacts.reading.is_setup_cell(cells[1]), docname
        code = cells[0].source + "\n" + cells[1].source
        out = subprocess.run(
            [sys.executable, "-c", f"CODE = {code!r}\n" + ENVIRONMENT_CELL],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout.split("RESULT", 1)[1])
        assert result["devices"] == int(asked[1]), (docname, result)
    assert found, "no chapter has an environment cell: this test checks nothing"

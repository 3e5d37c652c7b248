# Book setup, loaded into the first cell of every chapter (`:load: book_setup.py`).
# The book hides that cell's code, but its text travels inside every generated
# notebook, so a chapter opened in Colab runs with nothing of this repository.
# It: turns DeprecationWarnings into errors (current JAX APIs only), makes
# tracebacks short and free of machine paths, provides `glue` (myst-nb in the
# book, a plain display elsewhere), sets figure defaults, defines `measure`
# (the book's one timing convention) and shows where the page was executed.
import datetime as _dt
import os as _os
import re as _re
import statistics as _stats
import sys as _sys
import time as _time
import warnings as _warnings

# A chapter's own settings (the `jaxbook:` key of its front matter) come first in
# this cell, as JAXBOOK_CHAPTER. XLA flags take effect only if set before JAX is
# first imported, so they are applied here, before `import jax`.
_xla_flags = globals().get("JAXBOOK_CHAPTER", {}).get("xla_flags")
if _xla_flags and _xla_flags not in _os.environ.get("XLA_FLAGS", ""):
    if "jax" in _sys.modules:
        raise RuntimeError(
            f"This chapter needs XLA_FLAGS={_xla_flags!r} before JAX is imported, but JAX is "
            "already imported: restart the kernel (Colab: Runtime > Restart session) and run "
            "the notebook from the top."
        )
    _os.environ["XLA_FLAGS"] = f"{_os.environ.get('XLA_FLAGS', '')} {_xla_flags}".strip()

import jax
import matplotlib as _mpl
from IPython import get_ipython as _get_ipython
from IPython.display import display as _display

# Current APIs only: a DeprecationWarning raised by the chapter's code (or inside
# JAX) is an error. Only there: the kernel's own libraries may warn, and must keep
# working (Colab's jupyter_client 7 calls datetime.utcnow() on every message, which
# Python 3.13 deprecates; made an error, it would silently break the kernel).
_warnings.filterwarnings("error", category=DeprecationWarning, module=r"(__main__|jax|jaxlib)(\.|$)")

# Short tracebacks (exception type and message) with no paths of the machine.
_CELL_FILE = _re.compile(r"/tmp/ipykernel_\d+/\d+\.py")
_ABS_PATH = _re.compile(r"(?<![\w.:/])(?:/[\w.@+-]+)+/([\w.@+-]+)")


def _scrub(text):
    return _ABS_PATH.sub(r"\1", _CELL_FILE.sub("<cell>", text))


def _show_scrubbed(shell, etype, evalue, tb, tb_offset=None):
    if len(evalue.args) == 1 and isinstance(evalue.args[0], str):
        evalue.args = (_scrub(evalue.args[0]),)
    shell.showtraceback((etype, evalue, tb), tb_offset=tb_offset)


def _expect_exception(line, cell):
    """%%expect_exception NAME: run the cell, which must raise exception class NAME.

    The book tags such cells `raises-exception`; Colab ignores tags and would stop
    "Run all" there, so the Colab notebooks start these cells with this magic."""
    expected = line.strip()
    try:
        exec(compile(_shell.transform_cell(cell), "<cell>", "exec"), _shell.user_ns)
    except Exception as err:
        if type(err).__name__ != expected:
            raise
        print(f"{type(err).__name__}: {_scrub(str(err))}\n(raised on purpose, as expected)")
    else:
        raise AssertionError(f"this cell should raise {expected}, but it ran without error")


_shell = _get_ipython()
if _shell is not None:
    _shell.InteractiveTB.set_mode(mode="Minimal")
    _shell.set_custom_exc((Exception,), _show_scrubbed)
    _shell.register_magic_function(_expect_exception, "cell", "expect_exception")

try:  # in the book build: store values for {glue} roles in the prose
    from myst_nb import glue
except ImportError:  # anywhere else (Colab): just show the value

    def glue(name, variable, display=True):
        if display:
            _display(variable)


# Figures: opaque white background (legible in the site's dark mode), modest size.
_mpl.rcParams.update(
    {
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 100,
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "axes.grid": True,
        "grid.alpha": 0.3,
    }
)


def device_name():
    """What executes JAX code here, e.g. 'NVIDIA H100 80GB HBM3' or 'CPU (2 cores)'."""
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return f"CPU ({_os.cpu_count()} cores)"
    return dev.device_kind


def fmt_seconds(seconds):
    """1.23 s, 45.6 ms, 789 µs, 12.3 ns: three significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"


class Timing:
    """One measurement made by `measure`; shows itself and records its data."""

    KEY = "jaxbook_timing"  # output-metadata key the Timings page collects

    def __init__(self, label, first_s, times, inner, device):
        self.label, self.first_s, self.times, self.inner = label, first_s, times, inner
        self.device = device
        self.median_s = _stats.median(times)
        q = _stats.quantiles(times, n=4, method="inclusive")
        self.q25_s, self.q75_s = q[0], q[2]
        self.spread_s = self.q75_s - self.q25_s

    def record(self):
        return {
            "label": self.label,
            "device": self.device,
            "backend": jax.default_backend(),
            "jax_version": jax.__version__,
            "first_call_s": self.first_s,
            "median_s": self.median_s,
            "q25_s": self.q25_s,
            "q75_s": self.q75_s,
            "min_s": min(self.times),
            "max_s": max(self.times),
            "repeats": len(self.times),
            "calls_per_repeat": self.inner,
            "date": _dt.date.today().isoformat(),
        }

    def __str__(self):
        return (
            f"{self.label}  [{self.device} · JAX {jax.__version__}]\n"
            f"  first call: {fmt_seconds(self.first_s)}\n"
            f"  then:       median {fmt_seconds(self.median_s)} per call, IQR "
            f"{fmt_seconds(self.q25_s)}–{fmt_seconds(self.q75_s)} "
            f"({len(self.times)} repeats × {self.inner} calls)"
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": "timing: " + str(self)}, {self.KEY: self.record()}


def measure(
    fn, *args, label, repeat=7, min_repeat_s=0.05, max_calls=10_000, device=None, show=True, **kwargs
):
    """Time `fn(*args, **kwargs)` the book's way.

    The first call (for a jitted function: trace + compile + run) is timed on
    its own. Then each of `repeat` repeats makes enough calls to last at least
    `min_repeat_s`, waiting for every result with `jax.block_until_ready`, so
    the time is the work done and not just the dispatch. Reports the median
    per call and the interquartile range, with the device and JAX version.
    `device` overrides the device name (e.g. for NumPy code on the host CPU).
    """

    def run(calls):
        start = _time.perf_counter()
        for _ in range(calls):
            jax.block_until_ready(fn(*args, **kwargs))
        return _time.perf_counter() - start

    first = run(1)
    calls, elapsed = 1, run(1)
    if elapsed < min_repeat_s:
        # how many calls make a repeat: from the fastest of three warm calls, so
        # that one slow call (a busy machine) does not leave one-call repeats
        elapsed = min(elapsed, run(1), run(1))
    while elapsed < min_repeat_s and calls < max_calls:
        calls = min(max_calls, calls * max(2, int(min_repeat_s / max(elapsed, 1e-9) * 1.2)))
        elapsed = run(calls)
    times = [elapsed / calls] + [run(calls) / calls for _ in range(repeat - 1)]
    timing = Timing(label, first, times, calls, device or device_name())
    if show:
        _display(timing)
    return timing


class Executed:
    """Where and with what this page was executed: shown as a sentence, and
    recorded as data in the output's metadata (key `jaxbook_executed`), which the
    Timings page, the GPU check and the Colab notebooks read."""

    KEY = "jaxbook_executed"

    def __init__(self):
        self.facts = {
            "device": device_name(),
            "backend": jax.default_backend(),
            "jax_version": jax.__version__,
            "date": _dt.date.today().isoformat(),
        }

    def sentence(self):
        f = self.facts
        text = f"This page was executed on **{f['device']}** with JAX {f['jax_version']} on {f['date']}."
        if _os.environ.get("JAXBOOK_BUILD") and f["backend"] == "cpu":
            text += (
                " This build ran without a GPU, so its timings are CPU timings; the "
                "published site is executed on a GPU."
            )
        return text

    def _repr_mimebundle_(self, include=None, exclude=None):
        text = self.sentence()
        return {"text/markdown": text, "text/plain": text.replace("**", "")}, {self.KEY: self.facts}


# Where and with what this page was executed (generated, never hand-written).
_display(Executed())

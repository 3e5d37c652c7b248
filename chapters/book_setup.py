# Book setup, loaded into the first cell of every chapter (`:load: book_setup.py`).
# The book hides that cell's code, but its text travels inside every generated
# notebook, so a chapter opened in Colab runs with nothing of this repository.
# It: turns DeprecationWarnings into errors (current JAX APIs only), makes
# tracebacks short and free of machine paths, provides `glue` (myst-nb in the
# book, a plain display elsewhere), sets figure defaults, defines `measure` and `compare`
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


# The clock of `measure` and `compare` (the tests replace it with a fake one).
_clock = _time.perf_counter


def _runner(fn, args=(), kwargs=None):
    """run(calls): the seconds `calls` calls of fn take, waiting for every result
    (jax.block_until_ready), so the time is the work and not just the dispatch."""
    kwargs = kwargs or {}

    def run(calls):
        start = _clock()
        for _ in range(calls):
            jax.block_until_ready(fn(*args, **kwargs))
        return _clock() - start

    return run


def _calls_per_repeat(run, min_repeat_s, max_calls):
    """(calls, seconds of the last try): enough calls to last at least min_repeat_s,
    judged from the fastest of three warm calls, so that one slow call (a busy
    machine) does not leave one-call repeats."""
    calls, elapsed = 1, run(1)
    if elapsed < min_repeat_s:
        elapsed = min(elapsed, run(1), run(1))
    while elapsed < min_repeat_s and calls < max_calls:
        calls = min(max_calls, calls * max(2, int(min_repeat_s / max(elapsed, 1e-9) * 1.2)))
        elapsed = run(calls)
    return calls, elapsed


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
    To compare two functions, use `compare`, not two calls of `measure`.
    """
    run = _runner(fn, args, kwargs)
    first = run(1)
    calls, elapsed = _calls_per_repeat(run, min_repeat_s, max_calls)
    times = [elapsed / calls] + [run(calls) / calls for _ in range(repeat - 1)]
    timing = Timing(label, first, times, calls, device or device_name())
    if show:
        _display(timing)
    return timing


def fmt_ratio(ratio):
    """A ratio with at least two significant digits, rounded half up: 1.045 -> '1.05',
    0.8 -> '0.80', 12.34 -> '12.3', 1234.5 -> '1235'."""
    import decimal

    places = "0.01" if ratio < 10 else "0.1" if ratio < 100 else "1"
    value = decimal.Decimal(repr(float(ratio))).quantize(decimal.Decimal(places), decimal.ROUND_HALF_UP)
    return str(value)


def _median_interval(values, confidence):
    """Distribution-free interval for the median from order statistics: the k-th
    smallest and k-th largest of n values cover the median with probability
    1 - 2 P(Binomial(n, 1/2) < k). Returns (low, high, its coverage)."""
    import math

    xs, n = sorted(values), len(values)
    below = 0.0  # P(B < k), for the k tried next
    k, coverage = 1, 1.0
    for j in range(1, n // 2 + 1):
        below += math.comb(n, j - 1) / 2**n
        if 1 - 2 * below < confidence:
            break
        k, coverage = j, 1 - 2 * below
    return xs[k - 1], xs[n - k], coverage


class Comparison:
    """Two functions timed with their repeats interleaved (`compare`): the ratio of
    their median times per call, an interval for it, and the words that say only
    what the interval resolves."""

    KEY = "jaxbook_comparison"  # output-metadata key the Timings page collects

    def __init__(self, a, b, per, margin, confidence):
        self.a, self.b, self.margin = a, b, margin
        scale = per[1] / per[0]  # compare per unit of work (per[i] units per call)
        self.ratio = a.median_s / b.median_s * scale
        low, high, self.coverage = _median_interval(
            [ta / tb * scale for ta, tb in zip(a.times, b.times, strict=True)], confidence
        )
        # the interval always holds the estimate (it is of the paired ratios' median)
        self.low, self.high = min(low, self.ratio), max(high, self.ratio)
        if self.low > 1 + margin:
            self.verdict, self.factor = "slower", self.ratio
            bounds = (self.low, self.high)
        elif self.high < 1 / (1 + margin):
            self.verdict, self.factor = "faster", 1 / self.ratio
            bounds = (1 / self.high, 1 / self.low)
        else:
            self.verdict, self.factor = "not resolved", None
        if self.factor is None:
            span = f"{fmt_ratio(self.low)}× and {fmt_ratio(self.high)}×"
            self.short = f"not resolved (between {span})"
            self.words = f"neither resolvably faster nor slower (time ratio between {span}) than"
        else:
            interval = f"{fmt_ratio(bounds[0])}–{fmt_ratio(bounds[1])}×"
            self.short = f"{fmt_ratio(self.factor)}× {self.verdict}"
            self.words = f"{self.short} (interval {interval}) than"

    def record(self):
        return {
            "label_a": self.a.label,
            "label_b": self.b.label,
            "ratio": self.ratio,
            "low": self.low,
            "high": self.high,
            "coverage": self.coverage,
            "margin": self.margin,
            "verdict": self.verdict,
            "words": self.words,
            "rounds": len(self.a.times),
            "device": self.a.device,
            "backend": jax.default_backend(),
            "jax_version": jax.__version__,
        }

    def __str__(self):
        return (
            f"{self.a.label}  vs  {self.b.label}\n"
            f"  {self.a.label}: {self.words} {self.b.label}\n"
            f"  (ratio of medians {fmt_ratio(self.ratio)}; {self.coverage:.0%} interval from "
            f"{len(self.a.times)} interleaved rounds; resolved only beyond {self.margin:.0%})"
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": "comparison: " + str(self)}, {self.KEY: self.record()}


def compare(
    a,
    b,
    *,
    labels,
    rounds=9,
    min_repeat_s=0.03,
    max_calls=10_000,
    per=(1, 1),
    margin=0.05,
    confidence=0.95,
    devices=(None, None),
    show=True,
):
    """Time two zero-argument callables against each other, the book's way.

    Both are warmed up the same way (first call timed on its own, then the calls
    per repeat chosen as in `measure`); then `rounds` rounds each time one repeat
    of A and one of B, alternating which goes first (A B, B A, ...), so that a
    change in the machine's load hits both. The result's `ratio` is median(A) /
    median(B) per call (per unit of work when `per` gives each call's units), with
    a distribution-free interval for the median of the paired ratios (order
    statistics, coverage >= `confidence`). `verdict` says "faster" or "slower"
    (A relative to B) only when the whole interval clears 1 by `margin`, and
    "not resolved" otherwise; `words` is the glue-ready phrase, e.g.
    "2.30× faster (interval 2.10–2.50×) than". Shows both timings and the
    comparison; `.a` and `.b` are the two `Timing`s.
    """
    runs = [_runner(a), _runner(b)]
    firsts = [run(1) for run in runs]
    plan = [_calls_per_repeat(run, min_repeat_s, max_calls)[0] for run in runs]
    times = ([], [])
    for r in range(rounds):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        for i in order:
            times[i].append(runs[i](plan[i]) / plan[i])
    ta, tb = (Timing(labels[i], firsts[i], times[i], plan[i], devices[i] or device_name()) for i in (0, 1))
    result = Comparison(ta, tb, per, margin, confidence)
    if show:
        _display(ta)
        _display(tb)
        _display(result)
    return result


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

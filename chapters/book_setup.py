# Book setup: the setup cell of every chapter is written `:load: book_setup.py`, and
# myst-nb fills it with this file when it reads the chapter. The book hides that cell's
# code, but its text travels inside every generated notebook, so a chapter opened in
# Colab runs with nothing of this repository. It: turns DeprecationWarnings into errors
# (current JAX APIs only), makes tracebacks short and free of machine paths, provides
# `glue` (myst-nb in the book, a plain display elsewhere), sets figure defaults, defines
# `measure` and `compare` (the book's one timing convention) and shows where the page
# was executed. A chapter that needs an environment variable before JAX is imported
# (XLA_FLAGS for simulated devices) sets it in a visible cell before this one.
import datetime as _dt
import os as _os
import re as _re
import statistics as _stats
import time as _time
import warnings as _warnings

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
    0.8 -> '0.80', 0.00423 -> '0.0042', 12.34 -> '12.3', 1234.5 -> '1235'."""
    import decimal
    import math

    if ratio >= 100:
        places = "1"
    elif ratio >= 10:
        places = "0.1"
    elif ratio >= 0.1 or ratio <= 0:
        places = "0.01"
    else:  # two significant digits
        places = f"1e{math.floor(math.log10(ratio)) - 1}"
    value = decimal.Decimal(repr(float(ratio))).quantize(decimal.Decimal(places), decimal.ROUND_HALF_UP)
    return f"{value:f}"


def _median_interval(values, confidence):
    """Distribution-free interval for the median from order statistics: the k-th
    smallest and k-th largest of n values cover the median with probability
    1 - 2 P(Binomial(n, 1/2) < k). Returns (low, high, its coverage)."""
    import math

    xs, n = sorted(values), len(values)
    k, coverage = 1, 1 - 2 / 2**n  # the smallest and the largest
    below = 0.0  # P(B < j)
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
    rounds=7,
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
    change in the machine's load hits both. A repeat of several calls starts with
    one untimed call, so that the caches the other side used are warmed again. The result's `ratio` is median(A) /
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
            if plan[i] > 1:  # many short calls: one untimed call first, so that the
                runs[i](1)  # first call after the other side's turn does not skew them
            times[i].append(runs[i](plan[i]) / plan[i])
    ta, tb = (Timing(labels[i], firsts[i], times[i], plan[i], devices[i] or device_name()) for i in (0, 1))
    result = Comparison(ta, tb, per, margin, confidence)
    if show:
        _display(ta)
        _display(tb)
        _display(result)
    return result


# --- jit: compile logs and compiled programs -----------------------------------------
# The jit chapters read JAX's own logs (`jax_explain_cache_misses`, `jax_log_compiles`)
# and the compiled program's text; these helpers do the parsing so the chapters show
# only what the reader needs.
import contextlib as _contextlib
import logging as _logging


class _Collect(_logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@_contextlib.contextmanager
def jit_log():
    """Collect JAX's cache-miss explanations and compile messages of a block in a list
    of log records (switches both options on for the block; nothing goes to stderr)."""
    handler, jax_logger = _Collect(), _logging.getLogger("jax")
    jax_logger.addHandler(handler)
    propagate, jax_logger.propagate = jax_logger.propagate, False
    try:
        with jax.explain_cache_misses(True), jax.log_compiles(True):
            yield handler.records
    finally:
        jax_logger.removeHandler(handler)
        jax_logger.propagate = propagate


def compiles(records, name):
    """How many times the jitted function `name` was compiled, from `jit_log` records."""
    return sum(r.getMessage().startswith(f"Compiling jit({name})") for r in records)


def misses(records, name):
    """JAX's reason for each tracing-cache miss of function `name` (no file paths),
    from `jit_log` records."""
    reasons = []
    for r in records:
        first, *rest = r.getMessage().splitlines()
        lines = [line.strip() for line in rest]
        if first.startswith("TRACING CACHE MISS") and any(
            line.startswith((f"{name} id=", f"for {name} defined")) for line in lines
        ):
            keep = [
                line for line in lines if " defined at " not in line and "closest previous key" not in line
            ]
            reasons.append(" ".join(keep).replace("https://", " https://"))
    return reasons


def explain_pairs(make_fn, name, pairs):
    """For each (description, first args, second args): a fresh jitted function from
    `make_fn()` is called on the first args, then on the second; prints "cache hit" or
    JAX's reason for the second call's miss. Returns the second calls' compile counts."""
    outcome = []
    for description, first, second in pairs:
        fn = make_fn()
        fn(*first)
        with jit_log() as log:
            fn(*second)
        # (without the "re-defined repeatedly?" hint: every fn is made on the same line)
        reasons = [r.split(" but seen another function")[0] for r in misses(log, name)]
        outcome.append(compiles(log, name))
        print(f"{description:<46} {'cache miss: ' + reasons[0] if reasons else 'cache hit'}")
    return outcome


def op_by_op(fn, *args):
    """Without jit: the kernels (one per top-level primitive of the jaxpr), the bytes
    they move per element of args[0] (each reads its array inputs and writes its
    output), and how often exp, sin and cos run."""
    eqns = jax.make_jaxpr(fn)(*args).jaxpr.eqns
    moved = sum(
        v.aval.size * v.aval.dtype.itemsize for e in eqns for v in [*e.invars, *e.outvars] if v.aval.shape
    )
    names = [e.primitive.name for e in eqns]
    return len(eqns), moved / args[0].size, {p: names.count(p) for p in ("exp", "sin", "cos")}


def jitted(fn, *args):
    """With jit: the kernels (fusions) of the compiled program, the bytes it moves per
    element (cost_analysis), how often exp, sin and cos appear in its text, and its
    arithmetic operations per element (cost_analysis)."""
    compiled = jax.jit(fn).lower(*args).compile()
    hlo = compiled.as_text()
    entry = hlo.split("\nENTRY ")[1]
    ops = {
        p: len(_re.findall(rf"\b{op}\(", hlo))
        for p, op in (("exp", "exponential"), ("sin", "sine"), ("cos", "cosine"))
    }
    cost = compiled.cost_analysis()
    return entry.count(" fusion("), cost["bytes accessed"] / args[0].size, ops, cost["flops"] / args[0].size


def show_program(name, fn, *args):
    """Print and return `op_by_op` and `jitted` for fn(*args)."""
    (k_op, b_op, ops_op), (k_jit, b_jit, ops_jit, flops) = op_by_op(fn, *args), jitted(fn, *args)
    print(f"{name}, op by op: {k_op} kernels, {b_op:.0f} bytes per element, {ops_op}")
    print(
        f"{name}, jitted:   {k_jit} kernel,  {b_jit:.0f} bytes per element, {ops_jit}, "
        f"{flops:.0f} arithmetic operations per element"
    )
    return (k_op, b_op, ops_op), (k_jit, b_jit, ops_jit, flops)


# --- Checked exercises --------------------------------------------------------------
# A check cell under an exercise calls one of these on the reader's answer and shows a
# verdict without showing the solution; `verify_check` (hidden) proves, when the book
# is built, that each check passes the solution and fails plausible wrong answers.

_NOT_ANSWERED = (
    "Not answered yet: write your answer in the cell above (replace the `...`), run it, "
    "then run this check. (On the website nothing runs: open the chapter in Colab, or "
    "download it as a notebook.)"
)


class Verdict:
    """The outcome of a check: `ok`, and the one message a reader sees."""

    KEY = "jaxbook_check"

    def __init__(self, ok, message):
        self.ok, self.message = ok, message

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return self.message if self.ok or self.message == _NOT_ANSWERED else f"Not yet: {self.message}"


def _answered(answer):
    return answer is not Ellipsis and answer is not None


def _compare_arrays(got, want, rtol, atol, what):
    """None when `got` matches `want` (shape, dtype kind, values), else why not."""
    import numpy as _np

    try:
        got_a = _np.asarray(got)
    except Exception as err:  # not convertible to an array
        return f"{what} is of type {type(got).__name__}, not an array ({type(err).__name__})"
    want_a = _np.asarray(want)
    if got_a.shape != want_a.shape:
        return f"{what} has shape {got_a.shape}; expected shape {want_a.shape} (dtype {want_a.dtype})"
    if got_a.dtype.kind != want_a.dtype.kind and not (got_a.dtype.kind in "iu" and want_a.dtype.kind in "iu"):
        return f"{what} has dtype {got_a.dtype}; expected {want_a.dtype}"
    if want_a.dtype.kind in "biuU":
        wrong = _np.argwhere(got_a != want_a)
        if len(wrong):
            at = tuple(int(i) for i in wrong[0])
            return (
                f"{what} differs in {len(wrong)} of {want_a.size} entries; the first at index {at}: "
                f"{got_a[at].item()!r} instead of {want_a[at].item()!r}"
            )
        return None
    got_f, want_f = got_a.astype(float), want_a.astype(float)
    if not _np.array_equal(_np.isnan(got_f), _np.isnan(want_f)):
        return f"{what} has NaN where the expected value has none (or the other way round)"
    err = _np.where(_np.isnan(want_f), 0.0, _np.abs(got_f - want_f))
    tol = atol + rtol * _np.abs(_np.nan_to_num(want_f))
    if _np.any(err > tol):
        at = _np.unravel_index(_np.argmax(err - tol), err.shape) if err.ndim else ()
        at_text = f" at index {tuple(int(i) for i in at)}" if at else ""
        return (
            f"{what} is off by {float(err[at]):.3g}{at_text} (got {float(got_f[at]):.6g}, expected "
            f"{float(want_f[at]):.6g}); the tolerance there is {float(tol[at]):.3g}"
        )
    return None


def check_array(answer, expected, *, name="your answer", rtol=1e-5, atol=1e-6):
    """Check an array (or number) answer against the expected value: shape, dtype
    kind and values within rtol/atol; the message says what differs and where."""
    if not _answered(answer):
        return Verdict(False, _NOT_ANSWERED)
    problem = _compare_arrays(answer, expected, rtol, atol, name)
    if problem:
        return Verdict(False, problem)
    return Verdict(True, f"Correct: {name} matches the expected values.")


def check_function(fn, reference, cases, *, name="your function", jittable=False, rtol=1e-5, atol=1e-6):
    """Check a function answer on each case (a tuple of arguments) against
    `reference`; with `jittable`, it must also work under `jax.jit` (every
    argument traced)."""
    if not _answered(fn):
        return Verdict(False, _NOT_ANSWERED)
    if not callable(fn):
        return Verdict(False, f"{name} is of type {type(fn).__name__}, not a function")
    for args in cases:
        shown = ", ".join(_short(a) for a in args)
        try:
            got = fn(*args)
        except Exception as err:
            return Verdict(False, f"{name}({shown}) raised {type(err).__name__}: {_first_line(err)}")
        problem = _compare_arrays(got, reference(*args), rtol, atol, f"{name}({shown})")
        if problem:
            return Verdict(False, problem)
        if jittable:
            try:
                jax.block_until_ready(jax.jit(fn)(*args))
            except Exception as err:
                return Verdict(False, f"not jittable: {type(err).__name__}: {_first_line(err)}")
    extra = " and under jax.jit" if jittable else ""
    return Verdict(True, f"Correct: {name} gives the expected result on {len(cases)} inputs{extra}.")


def check_prediction(predicted, actual, *, explain=""):
    """'Predict, then run': compare the reader's prediction with what JAX computed,
    and say why when they differ."""
    if not _answered(predicted):
        return Verdict(False, _NOT_ANSWERED)
    if _compare_arrays(predicted, actual, 0.0, 0.0, "prediction") is None:
        return Verdict(True, f"Correct: JAX computes {_short(actual)}, as you predicted.")
    return Verdict(False, f"JAX computes {_short(actual)}, not {_short(predicted)}. {explain}".strip())


def _first_line(err):
    return (str(err).strip().splitlines() or [""])[0][:200]


def _short(value):
    text = repr(value) if not hasattr(value, "shape") else f"array of shape {tuple(value.shape)}"
    return text if len(text) <= 60 else text[:57] + "..."


class _CheckRecord:
    """What `verify_check` proved, shown as one line and recorded in the output."""

    def __init__(self, record):
        self.record = record

    def _repr_mimebundle_(self, include=None, exclude=None):
        wrong = "; ".join(f"{w['label']} -> {w['message']}" for w in self.record["wrong"])
        text = f"check of {self.record['exercise']}: passes the solution; rejects {wrong}"
        return {"text/plain": text}, {Verdict.KEY: self.record}


def verify_check(check, *, exercise, right, wrong):
    """Prove a check: it must pass `right` (the solution's answer) and fail every
    answer in `wrong` ({description: answer}, at least one). An AssertionError names
    the exercise, so a check that passes a wrong answer fails the build."""
    verdict = check(right)
    assert verdict.ok, f"{exercise}: the check rejects the solution: {verdict.message}"
    assert wrong, f"{exercise}: give at least one wrong answer the check must reject"
    rejected = []
    for label, answer in wrong.items():
        verdict = check(answer)
        assert not verdict.ok, f"{exercise}: the check accepts a wrong answer ({label})"
        rejected.append({"label": label, "message": verdict.message})
    unanswered = check(...)
    assert not unanswered.ok, f"{exercise}: the check accepts an empty answer"
    _display(_CheckRecord({"exercise": exercise, "right": "passes", "wrong": rejected}))


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


# --- Collectives in compiled programs (the scaling-out chapters) ---------------------
# `compiled_collectives(jitted_fn, *args)` lists the collectives of the optimised HLO
# that runs on each device: op, result shape on one device and its bytes, the groups
# of devices that run it together (decoded from `replica_groups`) and the HLO
# computation it is in. `mesh_groups(mesh, *axes)` gives the groups of a collective
# over those mesh axes, to compare with; `show_collectives` prints the list.
import numpy as _np

_COLLECTIVE = _re.compile(
    r"%\S+ = (\(.*?\)|\S+) (all-reduce|all-gather|reduce-scatter|collective-permute|all-to-all)\("
)
_DTYPE_BYTES = {"f32": 4, "s32": 4, "u32": 4, "f64": 8, "s64": 8, "f16": 2, "bf16": 2, "pred": 1}


def _prod(values):
    out = 1
    for v in values:
        out *= int(v)
    return out


def _shape_bytes(shape):
    """Bytes of an HLO shape such as 'f32[3,3]{1,0}' or '(f32[], f32[16]{0})'."""
    return sum(
        _DTYPE_BYTES[dtype] * _prod(n for n in dims.split(",") if n)
        for dtype, dims in _re.findall(r"(\w+)\[([\d,]*)\]", shape)
    )


def _device_groups(line):
    """The groups of devices that run a collective together, from its replica_groups."""

    def ints(text):
        return [int(n) for n in text.split(",") if n]

    named = _re.search(r"replica_groups=mesh\[([^\]]*)\] \{([^}]*)\}", line)  # mesh['a'=4,'b'=2] {'a'}
    if named:
        sizes = {name: int(size) for name, size in _re.findall(r"'(\w+)'=(\d+)", named.group(1))}
        over = _re.findall(r"'(\w+)'", named.group(2))
        order = [a for a in sizes if a not in over] + over
        ids = _np.arange(_prod(sizes.values())).reshape(list(sizes.values()))
        ids = ids.transpose([list(sizes).index(a) for a in order])
        return ids.reshape(-1, _prod(sizes[a] for a in over)).tolist()
    iota = _re.search(r"replica_groups=\[([\d,]+)\]<=\[([\d,]+)\](?:T\(([\d,]+)\))?", line)  # [4,2]<=[8]
    if iota:
        ids = _np.arange(_prod(ints(iota.group(2)))).reshape(ints(iota.group(2)))
        if iota.group(3):
            ids = ids.transpose(ints(iota.group(3)))
        return ids.reshape(ints(iota.group(1))).tolist()
    listed = _re.search(r"replica_groups=\{((?:\{[\d,]*\},?)+)\}", line)  # {{0,1},{2,3}}
    if listed:
        return [ints(g) for g in _re.findall(r"\{([\d,]*)\}", listed.group(1))]
    return None


def collectives(hlo_text):
    """The collectives of an HLO module's text, in order."""
    found, computation = [], None
    for line in hlo_text.splitlines():
        header = _re.match(r"(?:ENTRY )?%(\S+) \(", line)
        if header:
            computation = header.group(1)
        match = _COLLECTIVE.search(line)
        if match:
            found.append(
                {
                    "op": match.group(2),
                    "shape": _re.sub(r"\{[\d,]*\}|/\*index=\d+\*/", "", match.group(1)),
                    "bytes": _shape_bytes(match.group(1)),
                    "groups": _device_groups(line),
                    "in": computation,
                }
            )
    return found


def compiled_collectives(fn, *args):
    """Compile a jitted fn for these arguments and list its collectives."""
    return collectives(fn.lower(*args).compile().as_text())


def entry_parameters(fn, *args):
    """The parameter shapes of the compiled per-device program, as one string."""
    hlo = fn.lower(*args).compile().as_text()
    return _re.search(r"ENTRY %\S+ \((.*?)\) ->", hlo).group(1)


def while_bodies(hlo_text):
    """The names of the computations that are bodies of while loops."""
    return _re.findall(r"while\(.*body=%([\w.\-]+)", hlo_text)


def instruction_count(hlo_text):
    """The number of instructions of an HLO module's text."""
    return len(_re.findall(r"^\s+(?:ROOT )?%\S+ = ", hlo_text, _re.M))


def mesh_groups(mesh, *axes):
    """The device groups of a collective over these mesh axes: devices that differ only along them."""
    ids = _np.vectorize(lambda d: d.id)(mesh.devices)
    order = [n for n in mesh.axis_names if n not in axes] + list(axes)
    ids = ids.transpose([mesh.axis_names.index(n) for n in order])
    return ids.reshape(-1, _prod(mesh.shape[a] for a in axes)).tolist()


def show_collectives(found):
    """Print a list from `compiled_collectives`, one collective per line."""
    for c in found:
        groups = " ".join("{" + ",".join(map(str, g)) + "}" for g in c["groups"]) if c["groups"] else "-"
        print(f"{c['op']:19} {c['shape']:24} {c['bytes']:6d} bytes   devices {groups}")
    if not found:
        print("no collectives")

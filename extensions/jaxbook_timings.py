"""The Timings page: every measurement of the build (a local extension, _config.yml).

Chapters time code with `measure` (chapters/book_setup.py), which stores each
measurement in its output's metadata under "jaxbook_timing". This extension

* takes them from jaxbook_executed.py, which keeps them in the build environment
  per chapter when the chapter is read, together with what the chapter's banner
  says (device, JAX version, date). A chapter whose source is unchanged is not
  re-read, and keeps the records of the very execution its page shows; a changed
  chapter is re-executed and re-collected.
* provides the directive ``{jaxbook-timings} PART`` (PART: summary,
  measurements, comparison, chapters), which the Timings page uses. The page is
  re-read and re-rendered on every build (`env-get-outdated`), and its parts
  are filled in once every document has been read (`doctree-resolved`): tables,
  plots written into the output at build time (with alt text), and
  ``timings.json`` (every record of the build, also the format of a reference run).
* puts CPU and GPU side by side (with the ratio) when a reference run of the
  other backend is recorded (config ``jaxbook_timings_references``, a glob
  relative to the book, default ``timings/*-reference.json``; write one with
  scripts/save_timings.py from a GPU build), and otherwise says that none is.

Chapters executed with different backends in one build (outputs of a CPU and
a GPU build mixed) are reported as a warning, which fails the strict build.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

import bookfacts
import jaxbook_executed
from bookfacts.records import fmt_ratio, fmt_seconds, record_key

logger = logging.getLogger(__name__)

PARTS = ("summary", "measurements", "comparisons", "comparison", "chapters")
JSON_NAME = "timings.json"
IMAGE_DIR = "_images"


class timings_part(nodes.General, nodes.Element):
    """Placeholder, replaced by the generated content once all documents are read."""


class TimingsDirective(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self):
        part = directives.choice(self.arguments[0], PARTS)
        _pages(self.env).add(self.env.docname)
        return [timings_part(part=part)]


# --- build environment: records per chapter, pages that show them ----------------


def _pages(env) -> set:
    if not hasattr(env, "jaxbook_timings_pages"):
        env.jaxbook_timings_pages = set()
    return env.jaxbook_timings_pages


def _purge(app, env, docname):
    _pages(env).discard(docname)


def _always_outdated(app, env, added, changed, removed):
    """The Timings page is re-read and re-rendered on every build."""
    return [d for d in _pages(env) if d in env.found_docs]


# --- what the build recorded -------------------------------------------------------


def _toc_order(env) -> list[str]:
    order, seen = [], set()

    def walk(docname):
        if docname in seen:
            return
        seen.add(docname)
        order.append(docname)
        for child in env.toctree_includes.get(docname, []):
            walk(child)

    walk(env.config.root_doc)
    return order


def _exec_data(env, docname) -> dict | None:
    """What myst-nb recorded of the chapter's execution (its runtime: the cache's)."""
    from myst_nb.sphinx_ import NbMetadataCollector

    return NbMetadataCollector.get_doc_data(env).get(docname, {}).get("exec_data")


def gather(env) -> tuple[list[dict], list[dict], list[dict]]:
    """(chapters, records, comparisons) of this build, chapters in reading order."""
    store = jaxbook_executed.chapters(env)
    position = {d: i for i, d in enumerate(_toc_order(env))}
    docnames = sorted(store, key=lambda d: (position.get(d, len(position)), d))
    chapters, records, comparisons = [], [], []
    for docname in docnames:
        entry = store[docname]
        executed = entry["executed"] or {}
        exec_data = _exec_data(env, docname) or {}
        title = env.titles.get(docname)
        chapters.append(
            {
                "docname": docname,
                "title": title.astext() if title is not None else docname,
                **{key: executed.get(key) for key in ("device", "backend", "jax_version", "date")},
                "execution_s": exec_data.get("runtime"),
                "succeeded": exec_data.get("succeeded"),
                "measurements": len(entry["records"]),
            }
        )
        records.extend(entry["records"])
        comparisons.extend(entry.get("comparisons", []))
    return chapters, records, comparisons


def _references(app) -> list[tuple[str, dict]]:
    pattern = app.config.jaxbook_timings_references
    found = []
    for path in sorted(Path(app.srcdir).glob(pattern)) if pattern else []:
        try:
            found.append((path.name, bookfacts.records.load_timings(path)))
        except ValueError as exc:
            logger.warning(f"jaxbook: reference timings not usable: {exc}", type="jaxbook", subtype="timings")
    return found


# --- docutils building blocks ----------------------------------------------------


def _para(*parts) -> nodes.paragraph:
    para = nodes.paragraph()
    for part in parts:
        para += nodes.Text(part) if isinstance(part, str) else part
    return para


def _span(dates: list[str]) -> str:
    """'2026-01-01 to 2026-01-03', or one date when the first is the last."""
    return " to ".join(dict.fromkeys([dates[0], dates[-1]]))


def _median_on(record: dict | None) -> str:
    if record is None:
        return "not measured"
    return f"{fmt_seconds(record['median_s'])} on {record.get('device', '?')}"


class _Page:
    """Fills the parts of one page that shows the timings."""

    def __init__(self, app, docname):
        self.app, self.docname = app, docname
        self.chapters, self.records, self.comparisons = gather(app.env)
        self.summary = bookfacts.records.build_summary(self.chapters, self.records)
        self.backend = self.summary["backend"]
        self.titles = {c["docname"]: c["title"] for c in self.chapters}
        self.html = app.builder.format == "html"
        # The reference runs of the other backend: those shown side by side.
        self.comparable = [
            (name, ref)
            for name, ref in _references(app)
            if self.backend and {self.backend, ref["build"]["backend"]} == {"cpu", "gpu"}
        ]
        if len(self.summary["backends"]) > 1:
            logger.warning(
                "jaxbook: the chapters of this build were executed with different JAX backends "
                f"({', '.join(self.summary['backends'])}): outputs of different builds are mixed. "
                "Delete _build/.jupyter_cache and _build/.staging and build again.",
                location=docname,
                type="jaxbook",
                subtype="timings",
            )

    # links and files
    def out_uri(self, path: str) -> str:
        """URI of an output file `path` (relative to the output root) from this page."""
        page = self.app.builder.get_target_uri(self.docname)
        return posixpath.relpath(path, posixpath.dirname(page) or ".")

    def chapter_cell(self, docname: str) -> nodes.paragraph:
        title = self.titles.get(docname, docname)
        if docname in self.app.env.found_docs:
            uri = self.app.builder.get_relative_uri(self.docname, docname)
            return _para(nodes.reference("", title, internal=True, refuri=uri))
        return _para(title)

    def table(
        self, kind: str, title: str, headers: list[str], rows: list[list], ident: str = ""
    ) -> nodes.table:
        """A table of class jaxbook-timings-KIND whose first column is "Chapter": each
        row starts with a docname, shown as the chapter's title linked to it."""
        # An id of its own: numbered (numfig) builds need one for every table and figure.
        table = nodes.table(
            classes=["jaxbook-timings-table", f"jaxbook-timings-{kind}"],
            ids=[ident or f"jaxbook-timings-{kind}-table"],
        )
        table += nodes.title(text=title)
        headers = ["Chapter", *headers]
        group = nodes.tgroup(cols=len(headers))
        table += group
        group.extend(nodes.colspec(colwidth=1) for _ in headers)
        rows = [[self.chapter_cell(docname), *values] for docname, *values in rows]
        for section, lines in ((nodes.thead(), [headers]), (nodes.tbody(), rows)):
            group += section
            for values in lines:
                row = nodes.row()
                for value in values:
                    cell = value if isinstance(value, nodes.Node) else nodes.paragraph(text=str(value))
                    row += nodes.entry("", cell)
                section += row
        return table

    # parts
    def part(self, name: str) -> list[nodes.Node]:
        return getattr(self, f"part_{name}")()

    def part_summary(self):
        s = self.summary
        devices = ", ".join(s["devices"]) or "an unknown device"
        versions = ", ".join(s["jax_versions"]) or "unknown"
        dates = _span(s["dates"]) if s["dates"] else "unknown dates"
        out = [
            _para(
                f"This build executed {len(self.chapters)} chapters on {devices} with JAX {versions} "
                f"({dates}). They recorded {len(self.records)} measurements with the book's timing "
                "convention, ",
                nodes.literal(text="measure"),
                ": the first call is timed on its own (for a jitted function it "
                "includes tracing and compilation), then each of several repeats makes enough calls "
                "to be measurable, waiting for every result; the median time per call and the "
                "interquartile range (the spread of the middle half of the repeats) are reported.",
            )
        ]
        if self.backend == "cpu":
            out.append(
                _para(
                    "This build ran without a GPU, so its timings are CPU timings; the published "
                    "site is executed on a GPU."
                )
            )
        if self.html:
            out.append(
                _para(
                    "The same data as JSON: ",
                    nodes.reference("", JSON_NAME, refuri=self.out_uri(JSON_NAME)),
                    ".",
                )
            )
        return out

    def part_measurements(self):
        if not self.records:
            return [_para("This build recorded no measurements.")]
        rows = [
            [
                r["chapter"],
                r["label"],
                r.get("device", "—"),
                fmt_seconds(r.get("first_call_s")),
                fmt_seconds(r["median_s"]),
                f"{fmt_seconds(r.get('q25_s'))} – {fmt_seconds(r.get('q75_s'))}",
                f"{r.get('repeats', '—')} × {r.get('calls_per_repeat', '—')}",
            ]
            for r in self.records
        ]
        headers = ["Measured", "Device", "First call", "Median per call", "Spread (IQR)", "Repeats × calls"]
        table = self.table("measurements", "Every measurement of this build", headers, rows)
        return [table, *self.plot_measurements()]

    def part_comparisons(self):
        if not self.comparisons:
            return [_para("This build made no comparisons.")]
        rows = [
            [
                c["chapter"],
                c["label_a"],
                c["label_b"],
                fmt_ratio(c["ratio"]),
                f"{fmt_ratio(c['low'])} – {fmt_ratio(c['high'])}",
                c["words"].removesuffix(" than"),
            ]
            for c in self.comparisons
        ]
        headers = ["A", "B", "A's time ÷ B's", "Interval", "A is"]
        return [self.table("comparisons", "Every comparison of this build", headers, rows)]

    def part_comparison(self):
        if not self.comparable:
            other = "GPU" if self.backend != "gpu" else "CPU"
            return [
                nodes.note(
                    "",
                    _para(
                        f"No {other} reference run is recorded yet, so CPU and GPU times cannot be "
                        f"shown side by side here. (A build on the other backend saves one with "
                        "scripts/save_timings.py; see the README.)"
                    ),
                    classes=["jaxbook-timings-no-reference"],
                )
            ]
        out = []
        for name, ref in self.comparable:
            ref_build = ref["build"]
            commit = f", commit {ref_build['commit'][:12]}" if ref_build.get("commit") else ""
            out.append(
                _para(
                    f"{self.backend.upper()}: this build ({', '.join(self.summary['devices'])}, JAX "
                    f"{', '.join(self.summary['jax_versions'])}). {ref_build['backend'].upper()}: the "
                    f"reference run recorded in {name} ({', '.join(ref_build['devices'])}, JAX "
                    f"{', '.join(ref_build['jax_versions'])}, {_span(ref_build['dates'])}{commit}). "
                    "The ratio is the CPU median divided by the GPU median: how many times faster "
                    "the GPU run was. A measurement that only one run has was added or renamed "
                    "since the other run."
                )
            )
            rows = [
                [r["chapter"], r["label"], _median_on(r["cpu"]), _median_on(r["gpu"]), fmt_ratio(r["ratio"])]
                for r in bookfacts.records.compare(self.records, self.backend, ref)
            ]
            headers = ["Measured", "CPU median per call", "GPU median per call", "CPU ÷ GPU"]
            title = f"CPU and GPU side by side ({name})"
            out.append(
                self.table(
                    "comparison", title, headers, rows, f"jaxbook-timings-comparison-{name.split('.')[0]}"
                )
            )
        return out

    def part_chapters(self):
        rows = [
            [
                c["docname"],
                c["device"] or "—",
                c["jax_version"] or "—",
                c["date"] or "—",
                str(c["measurements"]),
            ]
            for c in self.chapters
        ]
        headers = ["Executed on", "JAX", "Date", "Measurements"]
        table = self.table("chapters", "Where and when each chapter was executed", headers, rows)
        return [table, *self.plot_chapters()]

    # plots
    def figure(self, fig, name: str, alt: str, caption: str) -> list[nodes.Node]:
        if not self.html:
            return []
        out = Path(self.app.outdir, IMAGE_DIR, name)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png", metadata={"Software": None})
        figure = nodes.figure(classes=["jaxbook-timings-plot"], ids=[name.removesuffix(".png")])
        uri = self.out_uri(f"{IMAGE_DIR}/{name}")
        # Written into the output directly: "?" tells Sphinx not to look for it in the sources.
        figure += nodes.image(uri=uri, alt=alt, candidates={"?": uri})
        figure += nodes.caption(text=caption)
        return [figure]

    def _new_figure(self, bars: int):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 1.6 + 0.32 * max(bars, 3)), dpi=100, facecolor="white", layout="constrained")
        ax = fig.subplots()
        ax.grid(True, axis="x", alpha=0.3)
        return fig, ax

    def _short(self, chapter: str, label: str) -> str:
        text = f"{self.titles.get(chapter, chapter)}: {label}"
        return text if len(text) <= 60 else text[:57] + "…"

    def plot_measurements(self):
        ref = self.comparable[0][1] if self.comparable else None
        runs = [(f"this build ({self.backend.upper() if self.backend else '?'})", self.records)]
        if ref is not None:
            runs.append((f"reference ({ref['build']['backend'].upper()})", ref["records"]))
        series = [(name, {record_key(r): r for r in records}) for name, records in runs]
        keys = [record_key(r) for r in self.records]
        if ref is not None:  # measurements only the reference run has get a row too
            keys += [k for k in series[1][1] if k not in series[0][1]]
        fig, ax = self._new_figure(len(keys) * len(series))
        height = 0.8 / len(series)
        for s, (name, by_key) in enumerate(series):
            ys, med, lo, hi, first = [], [], [], [], []
            for i, key in enumerate(keys):
                r = by_key.get(key)
                if r is None:
                    continue
                ys.append(i + (s - (len(series) - 1) / 2) * height)
                med.append(r["median_s"])
                lo.append(max(r["median_s"] - r.get("q25_s", r["median_s"]), 0))
                hi.append(max(r.get("q75_s", r["median_s"]) - r["median_s"], 0))
                first.append(r.get("first_call_s"))
            ax.errorbar(
                med,
                ys,
                xerr=[lo, hi],
                fmt="o",
                capsize=3,
                color=f"C{s}",
                label=f"median per call (IQR), {name}",
            )
            pts = [(f, y) for f, y in zip(first, ys, strict=True) if f]
            if pts:
                ax.scatter(
                    *zip(*pts, strict=True),
                    marker="D",
                    s=18,
                    facecolors="none",
                    edgecolors=f"C{s}",
                    label=f"first call, {name}",
                )
        ax.set_yticks(range(len(keys)), [self._short(*k) for k in keys], fontsize=8)
        ax.set_ylim(len(keys) - 0.5, -0.5)  # first measurement at the top
        ax.set_xscale("log")
        ax.set_xlabel("seconds (log scale)")
        fig.legend(fontsize=8, loc="outside lower center", ncols=2, frameon=False)
        alt = (
            f"Dot plot of {len(keys)} measurements on a logarithmic time axis, "
            "one row per measurement: a dot for the median time per call with its "
            "interquartile range as error bars, and a hollow diamond for the first call "
            "(which includes compilation)"
        )
        if ref is not None:
            alt += f"; each row also has a second dot and diamond for the {ref['build']['backend'].upper()} reference run"
        alt += ". The values are those of the table above."
        return self.figure(
            fig,
            "jaxbook-timings-measurements.png",
            alt,
            "Median time per call (dots, with interquartile range) and first call "
            "(diamonds) of every measurement, on a log scale.",
        )

    def plot_chapters(self):
        done = [c for c in self.chapters if c["execution_s"] is not None]
        if not done:
            return []
        fig, ax = self._new_figure(len(done))
        ax.barh(range(len(done)), [c["execution_s"] for c in done], color="C0")
        ax.set_yticks(range(len(done)), [c["title"][:60] for c in done], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("execution time of the chapter (seconds)")
        slowest = max(done, key=lambda c: c["execution_s"])
        alt = (
            f"Horizontal bar chart of the execution time of each of the {len(done)} chapters "
            f"of this build; the slowest, {slowest['title']}, took "
            f"{slowest['execution_s']:.1f} s. The values are those of the table above."
        )
        return self.figure(
            fig, "jaxbook-timings-chapters.png", alt, "Execution time of each chapter in this build."
        )

    def write_json(self):
        if self.html:
            doc = bookfacts.records.timings_document(self.chapters, self.records)
            Path(self.app.outdir, JSON_NAME).write_text(
                json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf8"
            )


def _render(app, doctree, docname):
    parts = list(doctree.findall(timings_part))
    if not parts:
        return
    page = _Page(app, docname)
    for node in parts:
        node.replace_self(page.part(node["part"]))
    page.write_json()


STATUS_WORDS = {"✅": "succeeded", "❌": "failed"}


class _WordsForStatusSymbols(SphinxPostTransform):
    """myst-nb's execution table marks each chapter ✅ or ❌: symbols that need an
    emoji font (without one a reader sees an empty box) and that a screen reader
    reads as "check mark button". Words instead: succeeded, failed."""

    default_priority = 9  # after myst-nb has made the table (8)

    def run(self, **kwargs) -> None:
        for text in list(self.document.findall(nodes.Text)):
            if text.astext() in STATUS_WORDS:
                text.parent.replace(text, nodes.Text(STATUS_WORDS[text.astext()]))


def setup(app):
    app.setup_extension("jaxbook_executed")  # what each executed chapter recorded
    app.add_config_value("jaxbook_timings_references", "timings/*-reference.json", "env")
    app.add_node(timings_part)
    app.add_directive("jaxbook-timings", TimingsDirective)
    app.connect("env-purge-doc", _purge)
    app.connect("env-get-outdated", _always_outdated)
    app.connect("doctree-resolved", _render)
    app.add_post_transform(_WordsForStatusSymbols)
    # Read in one process (the build never passes -j): no env-merge-info to write.
    return {"version": "1", "env_version": 1, "parallel_read_safe": False, "parallel_write_safe": True}

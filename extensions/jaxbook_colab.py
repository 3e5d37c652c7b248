"""Open in Colab: the whole feature, in one module.

A chapter opened in Colab (or downloaded as .ipynb from its page) is the chapter
itself: its prose, math and exercises as Markdown cells, its code with the outputs
of the build, solutions collapsed, runnable top to bottom with nothing of this
repository. Each chapter's notebook is written in the HTML build itself, when its
page is written (`html-page-context`), so it is exactly as fresh as the page:

1. The prose. A copy of the chapter's resolved doctree (glue values substituted,
   references resolved) has every code cell replaced by a marker, MyST-only
   constructs turned into what Jupyter renders (admonitions into block quotes with
   a bold title, dropdowns into <details>) and every link and image made absolute
   on the published site (`html.baseurl`). sphinx-markdown-builder's translator
   (a maintained Sphinx extension) writes it as Markdown, with a MarkdownBuilder
   of its own for this build (nothing else of that builder runs).
2. The notebook (`notebook`): the Markdown is split at the markers, and the code
   cells come from the chapter as executed (jaxbook_executed.py hands over the
   notebook it fetched when the chapter was read), outputs included; cells the page
   hides become Colab form cells (`cellView: form`, a `# @title` line), i.e.
   collapsed; deliberate-error cells start with `%%expect_exception NAME`. In
   front: a note about the runtime and a cell that installs the book's JAX (with
   its CUDA 12 plugin on a GPU runtime) when the runtime has another version.
   Metadata ask Colab for a GPU. A new pin in requirements.txt rewrites every
   notebook (jaxbook_chapters.py).
3. Where they go: `_sources/<docname>.ipynb` in the site, which is what each page's
   ".ipynb" download serves (over the theme's copy of myst-nb's notebook, which has
   no prose); scripts/build.py copies them to `_build/colab/`, which the publish
   workflow pushes to the branch `sphinx.config.jaxbook_colab_branch`. The pages'
   Colab buttons point at that branch (`html-page-context`). Repository and branch
   are read from `_config.yml` only; `python extensions/jaxbook_colab.py --branch`
   prints the branch for the workflow.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import nbformat

import bookfacts

MARKER = "JAXBOOKCELL{:06d}"
MARKER_LINE = re.compile(r"^JAXBOOKCELL(\d{6})$", re.M)
DETAILS_OPEN, DETAILS_CLOSE = "JAXBOOKDETAILSOPEN", "JAXBOOKDETAILSCLOSE"
# Titles of the collapsed (form) cells, by what the page does with the cell.
TITLES = {
    "setup": "Setup: the helpers every chapter uses (`measure`, `glue`, short tracebacks). Run it before the cells below.",
    "hide-cell": "Solution",
    "remove-cell": "Hidden in the book: checks of the text's claims and the values it quotes",
    "remove-input": "Code that the book shows only by its output",
    "check": "Check your answer: run this after your answer above",
}


# --- the Colab button --------------------------------------------------------------


def colab_url(docname: str, book: Path = bookfacts.book.ROOT) -> str:
    settings = bookfacts.book.config(book)
    return (
        f"https://colab.research.google.com/github/{settings['repository']}/blob/"
        f"{settings['colab_branch']}/{docname}.ipynb"
    )


def _point_colab_at_notebooks(app, pagename, templatename, context, doctree):
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = colab_url(pagename, Path(app.confdir))
                button["tooltip"] = "Open this chapter as a notebook in Colab (GPU runtime)"


# --- step 1: the chapter's prose as Markdown ----------------------------------------


def _site_url(app, docname: str, anchor: str = "") -> str:
    site = bookfacts.book.config(Path(app.confdir))["site_url"]
    return f"{site}/{docname}.html" + (f"#{anchor}" if anchor else "")


def _absolute(app, docname: str, refuri: str) -> str:
    """A link as the HTML build resolved it ('pytrees.html#x', '#y') on the published site."""
    if urlsplit(refuri).scheme or refuri.startswith("//"):
        return refuri
    path, _, anchor = refuri.partition("#")
    if not path:
        return _site_url(app, docname, anchor)
    target = posixpath.normpath(posixpath.join(posixpath.dirname(docname), path))
    return _site_url(app, target.removesuffix(".html"), anchor)


def _blockquote(title: str, body: list):
    from docutils import nodes

    quote = nodes.block_quote()
    quote += nodes.paragraph("", "", nodes.strong(text=title))
    quote.extend(body)
    return quote


def _prepare_for_notebook(app, doctree, docname):
    """Code cells become markers, admonitions block quotes or <details>, links and
    images absolute (on the chapter's own copy of its doctree)."""
    from docutils import nodes
    from sphinx.locale import admonitionlabels

    for cell in list(doctree.findall(nodes.container)):
        if cell.get("nb_element") == "cell_code":
            cell.replace_self(nodes.paragraph(text=MARKER.format(cell["cell_index"])))
    for node in list(doctree.findall(nodes.Admonition)):
        # A generic admonition has its own title; Sphinx's HTML writer, which has
        # written the page by now, gave each of the others its label (visit_admonition).
        titles = [c for c in node.children if isinstance(c, nodes.title)]
        body = [c for c in node.children if not isinstance(c, nodes.title)]
        title = titles[0].astext() if titles else str(admonitionlabels.get(node.tagname, ""))
        if "dropdown" in node.get("classes", []):
            replacement = [
                nodes.paragraph(text=DETAILS_OPEN),
                nodes.paragraph(text=title),
                *body,
                nodes.paragraph(text=DETAILS_CLOSE),
            ]
        else:
            replacement = [_blockquote(title, body)]
        node.replace_self(replacement)
    for ref in doctree.findall(nodes.reference):
        if "refid" in ref:  # a target on the same page
            ref["refuri"] = _site_url(app, docname, ref.attributes.pop("refid"))
        elif "refuri" in ref:
            ref["refuri"] = _absolute(app, docname, ref["refuri"])
    for image in doctree.findall(nodes.image):
        uri = image["uri"]
        if not urlsplit(uri).scheme:
            images = app.env.images
            key = next((k for k in images if k == uri or Path(k).name == Path(uri).name), None)
            name = images[key][1] if key else Path(uri).name
            image["uri"] = f"{bookfacts.book.config(Path(app.confdir))['site_url']}/_images/{name}"


def _markdown(app, doctree, docname: str) -> str:
    """The chapter's prose as Markdown, by sphinx-markdown-builder's translator (0.6.11,
    requirements.txt), numbering a list from its own start (an exercise list that
    starts at 10 stays 10., 11., ...)."""
    from sphinx_markdown_builder import MarkdownBuilder
    from sphinx_markdown_builder.translator import MarkdownTranslator

    class NotebookMarkdownTranslator(MarkdownTranslator):
        def visit_enumerated_list(self, node):
            self._start_list(node.get("start", 1) - 1)

    if not hasattr(app, "jaxbook_markdown_builder"):
        # The translator reads the page's name and settings from a MarkdownBuilder; the
        # builder's constructor also adds its name to the build's tags (`only`
        # directives), which this HTML build must not get.
        before = set(app.tags)
        app.jaxbook_markdown_builder = MarkdownBuilder(app, app.env)
        for tag in set(app.tags) - before:
            app.tags.remove(tag)
    builder = app.jaxbook_markdown_builder
    builder.current_doc_name = docname
    doctree = doctree.deepcopy()
    _prepare_for_notebook(app, doctree, docname)
    translator = NotebookMarkdownTranslator(doctree, builder)
    doctree.walkabout(translator)
    return translator.astext()


def _write_notebook(app, docname, templatename, context, doctree):
    """When the HTML build writes a chapter's page: its notebook, into the site, in
    place of the theme's copy of myst-nb's notebook (written before, priority 501)."""
    import jaxbook_executed

    if doctree is None or "kernelspec" not in app.env.metadata.get(docname, {}):
        return
    read, executed = jaxbook_executed.notebooks(app, docname)
    if executed is None:
        return  # its execution failed: the build reports it and fails
    nb = notebook(Path(app.confdir), docname, _markdown(app, doctree, docname), read, executed)
    path = Path(app.outdir, "_sources", *f"{docname}.ipynb".split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


# --- step 2: the notebooks ---------------------------------------------------------


def install_cell(version: str) -> str:
    return f'''\
# The outputs of this notebook were made with JAX {version}. This cell installs exactly
# that version when the runtime has another one (and does nothing otherwise); on a GPU
# runtime it also installs the matching CUDA 12 plugin, since a plugin of another
# version crashes or falls back to the CPU.
import importlib.metadata, shutil, subprocess, sys

def installed(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None

gpu = shutil.which("nvidia-smi") is not None
wanted = ["jax", "jaxlib"] + (["jax-cuda12-plugin", "jax-cuda12-pjrt"] if gpu else [])
if any(installed(name) != "{version}" for name in wanted):
    had = installed("jax")
    spec = "jax[cuda12]=={version}" if gpu else "jax=={version}"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", spec])
    print(f"Installed {{spec}} (the runtime had JAX {{had}}).")
    if "jax" in sys.modules:
        print("JAX was already imported in this session: Runtime > Restart session, then run all.")'''


def runtime_note(book: Path, docname: str, executed: dict | None) -> str:
    settings = bookfacts.book.config(book)
    page = f"{settings['site_url']}/{docname}.html"
    if executed:
        where = (
            f"The outputs below were made when the book was built, on {executed['device']} "
            f"with JAX {executed['jax_version']} on {executed['date']}."
        )
    else:
        where = "The outputs below were made when the book was built."
    return (
        f"*This notebook is a chapter of **{settings['title']}** ([read it online]({page})).*\n\n"
        "**Runtime:** it asks Colab for a GPU (Runtime → Change runtime type → GPU); it also "
        "runs on a CPU runtime, only slower. Run the cells from the top (Runtime → Run all): "
        "the first one installs the book's JAX version if this runtime has another one, and the "
        "one titled Setup provides the helpers every chapter uses. Cells with a title and hidden code "
        "(the setup, the solutions of the exercises, the book's own checks) are collapsed: "
        f"double-click one to see its code. {where}"
    )


def _visible_outputs(cell) -> list:
    """The outputs the page shows, without the glue records some of them carry."""
    shown = bookfacts.checks.visible_outputs(cell)
    for out in shown:
        if "data" in out:
            out.data = {m: v for m, v in out.data.items() if not m.startswith(bookfacts.checks.GLUE_MIME)}
    return shown


def code_cell(source_cell, executed_cell, setup: bool):
    """The Colab cell for one of the chapter's code cells."""
    tags = bookfacts.checks.tags(source_cell)
    cell = nbformat.v4.new_code_cell(source_cell.source, execution_count=executed_cell.execution_count)
    cell.outputs = [] if tags & {"remove-output", "remove-cell"} else _visible_outputs(executed_cell)
    title = next((TITLES[t] for t in ("hide-cell", "remove-cell", "remove-input") if t in tags), None)
    if setup:
        title = TITLES["setup"]
    if source_cell.source.startswith(bookfacts.checks.CHECK_CELL):
        title = TITLES["check"]
    if "raises-exception" in tags:
        # Colab ignores tags and would stop "Run all" here; the magic checks the class.
        cell.source = f"%%expect_exception {source_cell.metadata['raises']}\n{cell.source}"
    elif title:
        body = re.sub(r"\A# Solution[^\n]*\n", "", cell.source) if "hide-cell" in tags else cell.source
        body = re.sub(rf"\A{bookfacts.checks.CHECK_CELL}[^\n]*\n", "", body)
        cell.source = f"# @title {title}\n{body}"
        cell.metadata["cellView"] = "form"
    return cell


def markdown_segments(text: str) -> tuple[str, list[tuple[int, str]]]:
    """(Markdown before the first cell, [(cell index, Markdown after it), ...])."""
    parts = MARKER_LINE.split(text)
    head, rest = parts[0], parts[1:]
    return head, [(int(rest[i]), rest[i + 1]) for i in range(0, len(rest), 2)]


def clean_markdown(text: str) -> str:
    text = re.sub(rf"{DETAILS_OPEN}\s*\n\s*(.+?)\n", r"<details>\n<summary>\1</summary>\n", text)
    text = text.replace(DETAILS_CLOSE, "</details>")
    # one block quote per admonition (its paragraphs joined by ">" lines)
    text = re.sub(r"(?m)^(>.*)\n\n(?=>)", r"\1\n>\n", text)
    # display math: no blank lines between the $$ and the formula
    text = re.sub(r"\$\$\n\s*\n", "$$\n", text)
    text = re.sub(r"\n\s*\n\$\$", "\n$$", text)
    return text.strip("\n")


def notebook(book: Path, docname: str, markdown: str, source, executed):
    """The Colab notebook of one chapter, from its prose as Markdown with markers,
    the notebook myst-nb read and the notebook as executed."""
    ran = [c for c in executed.cells if c.cell_type == "code"]
    code_indices = [i for i, c in enumerate(source.cells) if c.cell_type == "code"]
    if len(ran) != len(code_indices):
        raise ValueError(
            f"{docname}: the executed notebook has {len(ran)} code cells, the chapter {len(code_indices)}"
        )
    by_index = dict(zip(code_indices, ran, strict=True))
    head, segments = markdown_segments(markdown)
    after = dict(segments)
    info = bookfacts.records.execution_info(executed)

    cells = []

    def add_markdown(text):
        text = clean_markdown(text)
        if text:
            cells.append(nbformat.v4.new_markdown_cell(text))

    # The chapter's title, then the note about the runtime and the install cell.
    title, _, head = clean_markdown(head).partition("\n")
    if not title.startswith("# "):
        title, head = "", f"{title}\n{head}"
    add_markdown(title)
    cells.append(nbformat.v4.new_markdown_cell(runtime_note(book, docname, info)))
    cells.append(nbformat.v4.new_code_cell(install_cell(bookfacts.requirements.pinned_jax(book))))
    add_markdown(head)
    # Every code cell in its order. The Markdown that follows a shown cell on the
    # page comes after it and after the cells the page does not show (remove-cell)
    # up to the next shown cell.
    pending = ""
    for i in code_indices:
        if i in after:
            add_markdown(pending)
            pending = after[i]
        cells.append(
            code_cell(source.cells[i], by_index[i], setup=bookfacts.reading.is_setup_cell(source.cells[i]))
        )
    add_markdown(pending)
    if sum(c.cell_type == "code" for c in cells) != len(code_indices) + 1:
        raise ValueError(f"{docname}: the notebook lost or repeated code cells")
    nb = nbformat.v4.new_notebook(cells=cells)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    nb.metadata = {
        "accelerator": "GPU",
        "colab": {
            "name": f"{Path(docname).name}.ipynb",
            "provenance": [],
            "gpuType": "T4",
            "toc_visible": True,
        },
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def setup(app):
    app.add_config_value("jaxbook_colab_branch", "notebooks", "html")
    # after sphinx-book-theme has added its launch buttons (priority 501)
    app.connect("html-page-context", _point_colab_at_notebooks, priority=600)
    app.connect("html-page-context", _write_notebook, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Facts of the Colab notebooks, from _config.yml.")
    parser.add_argument("--branch", action="store_true", help="print the branch the notebooks are pushed to")
    args = parser.parse_args(argv)
    if args.branch:
        print(bookfacts.book.config()["colab_branch"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

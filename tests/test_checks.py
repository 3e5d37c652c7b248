"""The checks can fail: fed the defects they look for, they report them (so a
green run means something). Each check here guards the real book elsewhere: in
the build (bookfacts.checks.notebook_problems), or in a test of tests/."""

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import bookfacts
import checks


def error_cell(ename=None, **metadata):
    outputs = [new_output("error", ename=ename, evalue="x", traceback=[])] if ename else []
    return new_code_cell("...", metadata=metadata, outputs=outputs, execution_count=1)


# --- the build's checks of every executed chapter -------------------------------


DEMO = {"tags": ["raises-exception"]}


@pytest.mark.parametrize(
    "cells, expected",
    [
        ([error_cell(None, **DEMO, raises="TypeError")], "code cell 1 should raise TypeError, raised []"),
        (
            [error_cell("ValueError", **DEMO, raises="TypeError")],
            "code cell 1 should raise TypeError, raised ['ValueError']",
        ),
        ([error_cell("TypeError", **DEMO)], "code cell 1 is tagged raises-exception without `raises`"),
        # an untagged error is reported; a declared one passes
        (
            [error_cell("TypeError", **DEMO, raises="TypeError"), error_cell("KeyError")],
            "code cell 2 raised ['KeyError']",
        ),
    ],
    ids=["stops-raising", "raises-something-else", "undeclared", "untagged"],
)
def test_a_wrong_or_undeclared_error_is_reported(cells, expected):
    assert bookfacts.checks.error_problems(new_notebook(cells=cells)) == [expected]


def test_stderr_is_reported():
    cell = new_code_cell(
        "...", outputs=[new_output("stream", name="stderr", text="UserWarning: careful\n\n")]
    )
    assert bookfacts.checks.stderr_problems(new_notebook(cells=[cell])) == [
        "code cell 1 wrote to stderr: 'UserWarning: careful'"
    ]


def test_a_cell_that_was_not_executed_is_reported():
    # e.g. a solution tagged skip-execution: its code would be on the page unchecked
    skipped = new_code_cell("# Solution\n...", metadata={"tags": ["skip-execution"]}, execution_count=None)
    nb = new_notebook(cells=[error_cell(None), skipped])
    assert bookfacts.checks.unexecuted_problems(nb) == ["code cell 2 was not executed"]


# --- a chapter's shape ------------------------------------------------------------

GOOD_HEAD = (
    "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n"
    "  display_name: Python 3\n  name: python3\n---\n\n# T\n\n"
)
SETUP = "```{code-cell} ipython3\n:tags: [remove-input]\n:load: book_setup.py\n```\n"


def test_a_chapter_without_the_setup_cell_is_reported():
    assert checks.setup_cell_problems(GOOD_HEAD + SETUP) == []
    environment = "```{code-cell} ipython3\nimport os\nos.environ['XLA_FLAGS'] = '--a_flag'\n```\n\n"
    assert checks.setup_cell_problems(GOOD_HEAD + environment + SETUP) == []
    first_imports_jax = GOOD_HEAD + "```{code-cell} ipython3\nimport jax\nx = 1\n```\n\n" + SETUP
    assert checks.setup_cell_problems(first_imports_jax) == [
        "a code cell before the setup cell imports JAX (only an environment cell may come first)"
    ]
    third = GOOD_HEAD + environment + environment + SETUP
    missing = GOOD_HEAD + "```{code-cell} ipython3\nx = 1\n```\n"
    for text in (third, missing):
        assert checks.setup_cell_problems(text) == [
            "no setup cell (:tags: [remove-input], :load: book_setup.py) among the first two code cells"
        ]
    assert "the kernel is not python3" in checks.setup_cell_problems(
        GOOD_HEAD.replace("python3", "ir") + SETUP
    )


def test_myst_nb_fills_the_setup_cell_from_the_file(tmp_path):
    (tmp_path / "book_setup.py").write_text("print('setup')\n")
    nb = bookfacts.reading.read_notebook_text(GOOD_HEAD + SETUP, tmp_path / "chapter.md")
    (cell,) = [c for c in nb.cells if c.cell_type == "code"]
    assert bookfacts.reading.is_setup_cell(cell) and cell.source.strip() == "print('setup')"
    assert cell.metadata["tags"] == ["remove-input"]


# --- the Colab notebooks ----------------------------------------------------------

CHAPTER = GOOD_HEAD + (
    "Gradients are computed exactly, not approximated by finite differences.\n\n"
    + SETUP
    + "\nThe jitted version was {glue:text}`speedup:.1f`× faster.\n\n"
    "```{code-cell} ipython3\n:tags: [hide-cell]\n# Solution\nx = 2\n```\n"
)


def colab_like(markdown: str, solution_metadata: dict | None = None):
    cells = [
        new_markdown_cell("# T"),
        new_markdown_cell("note"),
        new_code_cell("install"),
        new_code_cell("# @title Setup\n...", metadata={"cellView": "form"}),
        new_markdown_cell(markdown),
        new_code_cell(
            "# @title Solution\nx = 2",
            metadata={"cellView": "form"} if solution_metadata is None else solution_metadata,
        ),
    ]
    return new_notebook(cells=cells)


def test_colab_checks_pass_a_good_notebook():
    nb = colab_like(
        "# T\n\nGradients are computed exactly, not approximated by finite differences.\n\n"
        "The jitted version was 41.3× faster. [More](https://jax-book.github.io/learn-jax/chapters/jit.html)"
    )
    assert checks.prose_coverage(CHAPTER, nb) == 1.0
    assert checks.myst_leftovers(nb) == [] and checks.link_problems(nb) == []
    chapter = bookfacts.reading.read_notebook_text(CHAPTER)
    assert checks.collapse_problems(nb, chapter) == []
    nbformat.validate(nb)


def test_colab_checks_report_raw_myst_missing_prose_relative_links_and_open_solutions():
    raw = colab_like(
        "# T\n\nThe jitted version was {glue:text}`speedup:.1f`× faster. See {doc}`jit`.\n\n(label)="
    )
    assert checks.myst_leftovers(raw) == ["(label)=", "{doc}`", "{glue:text}"]
    assert checks.prose_coverage(CHAPTER, raw) < checks.MIN_PROSE  # the first paragraph is missing
    relative = colab_like("[the jit chapter](jit.md) ![fig](../_images/a.png) [x](http://localhost:8000/a)")
    assert checks.link_problems(relative) == ["jit.md", "../_images/a.png", "http://localhost:8000/a"]
    chapter = bookfacts.reading.read_notebook_text(CHAPTER)
    open_solution = colab_like("x", solution_metadata={})
    assert checks.collapse_problems(open_solution, chapter) == ["code cell 2 (hide-cell) is not collapsed"]
    open_setup = colab_like("x")
    open_setup.cells[3] = new_code_cell("import jax\n...")  # the setup cell, neither titled nor collapsed
    assert checks.collapse_problems(open_setup, chapter) == ["code cell 1 (remove-input) is not collapsed"]


def test_glued_values_missing_from_the_notebook_are_reported():
    page = BeautifulSoup('<p>It was <span class="pasted-text">41.3×</span> faster.</p>', "html.parser")
    assert checks.glued_values_missing(page, colab_like("It was 41.3× faster.")) == []
    assert checks.glued_values_missing(page, colab_like("It was 40× faster.")) == ["41.3×"]


# --- API links -----------------------------------------------------------------


def test_a_link_to_an_api_page_that_no_inventory_has_is_reported():
    good = "https://docs.jax.dev/en/latest/_autosummary/jax.jit.html"
    bad = "https://docs.jax.dev/en/latest/_autosummary/jax.not_a_function.html"
    page = BeautifulSoup(
        f'<article><p><a href="{good}">jax.jit</a></p><div class="cell_input">'
        f'<a href="{bad}">jax.not_a_function</a></div></article>',
        "html.parser",
    )
    assert checks.api_link_problems(page, {good: "jax.jit"}) == [f"code: {bad}"]


# --- typed speed-ups in the prose -------------------------------------------------


def test_a_typed_speedup_is_found_and_a_glued_one_is_not():
    typed = BeautifulSoup("<main><p>The loop is 12× faster.</p></main>", "html.parser")
    glued = BeautifulSoup(
        '<main><p>It is <span class="pasted-text">12×</span> faster.</p></main>', "html.parser"
    )
    assert checks.SPEEDUP.findall(checks.prose_without_code(typed)) == ["12× faster"]
    assert checks.SPEEDUP.findall(checks.prose_without_code(glued)) == []


def test_a_code_link_from_a_variable_to_its_type_is_reported():
    page = BeautifulSoup(
        '<a class="sphinx-codeautolink-a" title="collections.abc.Callable"><span>g</span></a>'
        '<a class="sphinx-codeautolink-a" title="jax.numpy.log"><span>jnp</span>.<span>log</span></a>'
        '<a class="sphinx-codeautolink-a" title="jax.lax"><span>lax</span></a>'
        '<a class="sphinx-codeautolink-a" title="jax.numpy"><span>jnp</span></a>',
        "html.parser",
    )
    assert checks.code_link_problems(page, {"jax.numpy", "jax.lax"}) == [
        "'g' links to collections.abc.Callable"
    ]


def test_a_colab_link_to_a_missing_page_or_anchor_is_reported(tmp_path):
    site = "https://example.org/book"
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "jit.html").write_text('<h2 id="tracing">Tracing</h2>')
    nb = colab_like(
        f"See [tracing]({site}/chapters/jit.html#tracing), [gone]({site}/chapters/gone.html) "
        f"and [moved]({site}/chapters/jit.html#moved)."
    )
    assert checks.site_link_problems(nb, tmp_path, site) == [
        f"{site}/chapters/gone.html: no such page",
        f"{site}/chapters/jit.html#moved: no such anchor",
    ]

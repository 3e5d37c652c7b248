"""The chapter checks can fail: fed notebooks with the defects they look for,
they report them (so a green run means something)."""

from nbformat.v4 import new_code_cell, new_notebook, new_output

from test_chapters import error_problems, stderr_problems


def error_cell(ename=None, **metadata):
    outputs = [new_output("error", ename=ename, evalue="x", traceback=[])] if ename else []
    return new_code_cell("...", metadata=metadata, outputs=outputs)


def test_a_demonstration_that_stops_raising_is_reported():
    nb = new_notebook(cells=[error_cell(None, tags=["raises-exception"], raises="TypeError")])
    assert error_problems(nb) == ["code cell 1 should raise TypeError, raised []"]


def test_a_demonstration_raising_something_else_is_reported():
    nb = new_notebook(cells=[error_cell("ValueError", tags=["raises-exception"], raises="TypeError")])
    assert error_problems(nb) == ["code cell 1 should raise TypeError, raised ['ValueError']"]


def test_an_undeclared_demonstration_is_reported():
    nb = new_notebook(cells=[error_cell("TypeError", tags=["raises-exception"])])
    assert error_problems(nb) == ["code cell 1 is tagged raises-exception without `raises`"]


def test_an_untagged_error_is_reported_and_a_declared_one_passes():
    nb = new_notebook(cells=[error_cell("TypeError", tags=["raises-exception"], raises="TypeError"),
                             error_cell("KeyError")])
    assert error_problems(nb) == ["code cell 2 raised ['KeyError']"]


def test_stderr_that_is_not_noise_is_reported():
    cell = new_code_cell("...", outputs=[new_output("stream", name="stderr", text="UserWarning: careful\n\n")])
    assert stderr_problems(new_notebook(cells=[cell])) == ["code cell 1 wrote to stderr: 'UserWarning: careful'"]

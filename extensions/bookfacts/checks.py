"""What every executed chapter must satisfy: deliberate errors raise what they
declare and nothing else raises, nothing on stderr, every code cell ran, every
exercise check is proved."""

from __future__ import annotations

import re

# Outputs of myst-nb's glue(): data for the prose, never shown where they are made.
GLUE_MIME = "application/papermill.record/"


def visible_outputs(cell) -> list:
    """The outputs a page shows of a code cell: no stderr (removed), no output that
    only carries glue records (data for the prose)."""
    shown = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream" and out["name"] == "stderr":
            continue
        data = out.get("data", {})
        if out["output_type"] in ("display_data", "execute_result") and all(
            m.startswith(GLUE_MIME) for m in data
        ):
            continue
        shown.append(out)
    return shown


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def error_problems(nb) -> list[str]:
    """Cells tagged raises-exception must raise exactly their declared class;
    no other cell may raise."""
    problems = []
    for i, cell in enumerate((c for c in nb["cells"] if c["cell_type"] == "code"), start=1):
        raised = [o["ename"] for o in cell.get("outputs", []) if o["output_type"] == "error"]
        if "raises-exception" in tags(cell):
            declared = cell["metadata"].get("raises")
            if not declared:
                problems.append(f"code cell {i} is tagged raises-exception without `raises`")
            elif raised != [declared]:
                problems.append(f"code cell {i} should raise {declared}, raised {raised}")
        elif raised:
            problems.append(f"code cell {i} raised {raised}")
    return problems


def stderr_problems(nb) -> list[str]:
    """Lines written to stderr (warnings, XLA logs): none is allowed."""
    problems = []
    for i, cell in enumerate((c for c in nb["cells"] if c["cell_type"] == "code"), start=1):
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream" and out["name"] == "stderr":
                text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
                problems += [
                    f"code cell {i} wrote to stderr: {line!r}" for line in text.splitlines() if line.strip()
                ]
    return problems


def unexecuted_problems(nb) -> list[str]:
    """Every code cell was executed."""
    return [
        f"code cell {i} was not executed"
        for i, cell in enumerate((c for c in nb["cells"] if c["cell_type"] == "code"), start=1)
        if not isinstance(cell.get("execution_count"), int)
    ]


CHECK_CELL = "# Check your answer"  # the first line of an exercise's check cell
CHECK_KEY = "jaxbook_check"  # what verify_check (chapters/book_setup.py) proved


def check_problems(nb) -> list[str]:
    """Every check cell defines one check_... function, which a later cell proves
    with verify_check (it passes the solution and fails wrong answers)."""
    problems = []
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(cells, start=1):
        if not cell["source"].startswith(CHECK_CELL):
            continue
        names = re.findall(r"^def (check_\w+)\(", cell["source"], re.M)
        if len(names) != 1:
            problems.append(f"code cell {i} is a check cell but defines {len(names)} check_ functions, not 1")
            continue
        call = re.compile(rf"\bverify_check\(\s*{names[0]}\s*,")
        proved = any(
            call.search(later["source"])
            and any(CHECK_KEY in (o.get("metadata") or {}) for o in later.get("outputs", []))
            for later in cells[i:]
        )
        if not proved:
            problems.append(
                f"code cell {i}: {names[0]} is never proved by a later verify_check({names[0]}, ...)"
            )
    return problems


def notebook_problems(nb) -> list[str]:
    return error_problems(nb) + stderr_problems(nb) + unexecuted_problems(nb) + check_problems(nb)

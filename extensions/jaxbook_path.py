"""Local Sphinx extension: the landing page's learning path (the `learning-path`
directive of intro.md).

For each chapter, in the order of `_toc.yml`: its title, its reading time, what
it assumes, and what the reader will be able to do after it.

* The order and the chapters come from the table of contents, so a re-ordered
  or added chapter is placed right without touching intro.md.
* "You will be able to" is the chapter's own opening list (CONTRIBUTING.md:
  every chapter opens with what the reader will be able to do), read from its
  source, so the landing page and the chapter say the same thing.
* The reading time is computed from the chapter's words at build time: its
  prose and the code a reader sees (cells tagged remove-cell or remove-input
  are not shown, outputs are not counted), at WORDS_PER_MINUTE.
* What a chapter assumes is written by hand, in the directive's body, one line
  per chapter: `chapters/NAME: text` (MyST). It is the one thing the chapters do
  not say in a form that can be read. The build fails (a warning, and the build
  is strict) when a chapter of the toc has no line, a line names no chapter of
  the toc, or a line links ({doc}) to a chapter that does not come before it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

import bookfacts

logger = logging.getLogger(__name__)

WORDS_PER_MINUTE = 200
HIDDEN_TAGS = {"remove-cell", "remove-input"}
# The opening list: the first bullet list after "able to" (with or without a colon),
# before the chapter's first section.
OUTCOMES = re.compile(r"able to:?[ \t]*\n\s*\n?((?:[-*] .*\n(?:[ \t]+\S.*\n|[ \t]*\n(?=[ \t]+\S))*)+)")
DOC_ROLE = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<)?([^`<>]+?)>?`")


def reading_words(notebook) -> int:
    """The words a reader reads: markdown cells and the code cells that are shown."""
    return sum(
        len(cell.source.split())
        for cell in notebook.cells
        if cell.cell_type != "code" or not HIDDEN_TAGS & bookfacts.checks.tags(cell)
    )


def reading_minutes(notebook) -> int:
    return max(1, math.ceil(reading_words(notebook) / WORDS_PER_MINUTE))


def outcomes(text: str, docname: str) -> str | None:
    """The chapter's opening "you will be able to" list (MyST), its {doc} links
    made absolute so that they resolve from the landing page."""
    body = text.split("\n---", 1)[-1] if text.startswith("---\n") else text
    opening = body.split("\n## ", 1)[0]
    match = OUTCOMES.search(opening)
    if not match:
        return None
    folder = str(Path(docname).parent)

    def absolute(m):
        label, target = m.group(1), m.group(2).strip()
        if not target.startswith("/"):
            target = "/" + (f"{folder}/{target}" if folder != "." else target)
        return f"{{doc}}`{label} <{target}>`" if label else f"{{doc}}`{target}`"

    return DOC_ROLE.sub(absolute, match.group(1)).rstrip() + "\n"


def parse_assumptions(lines: list[str]) -> dict[str, str]:
    pairs = (line.partition(":") for line in lines if line.strip())
    return {docname.strip(): text.strip() for docname, _, text in pairs}


def linked_docs(myst: str, base: str = "") -> set[str]:
    out = set()
    for m in DOC_ROLE.finditer(myst):
        target = m.group(2).strip()
        out.add(
            target.lstrip("/") if target.startswith("/") else str(Path(base).parent / target).lstrip("./")
        )
    return out


class LearningPath(SphinxDirective):
    has_content = True

    def run(self):
        root = Path(self.env.srcdir)
        chapters = bookfacts.book.chapters(root)
        assumes = parse_assumptions(list(self.content))
        location = self.get_location()
        for docname in chapters:
            if docname not in assumes:
                logger.warning(
                    f"learning path: {docname} is in _toc.yml but has no 'assumes' line here",
                    location=location,
                )
        for docname in assumes:
            if docname not in chapters:
                logger.warning(f"learning path: '{docname}' is not a chapter of _toc.yml", location=location)
        lines = []
        for number, docname in enumerate(chapters, start=1):
            path = bookfacts.book.source_path(root, docname)
            self.env.note_dependency(str(path))
            text = path.read_text()
            minutes = reading_minutes(bookfacts.reading.read_notebook(path))
            goals = outcomes(text, docname)
            if goals is None:
                logger.warning(
                    f"learning path: {docname} does not open with a 'you will be able to' list",
                    location=location,
                )
                goals = ""
            earlier = set(chapters[: number - 1])
            later = sorted(linked_docs(assumes.get(docname, ""), self.env.docname) - earlier)
            if later:
                logger.warning(
                    f"learning path: {docname} assumes {', '.join(later)}, which does not come "
                    "before it in _toc.yml",
                    location=location,
                )
            goal_count = len(re.findall(r"^[-*] ", goals, re.M))
            marker = f"{number}. "
            indent = " " * len(marker)  # the item's content lines up after "10. " too
            lines += [
                f"{marker}**{{doc}}`/{docname}`**  ",
                f"{indent}About {minutes} min to read. Assumes: {assumes.get(docname, '(not said)')}",
                "",
                f"{indent}:::{{dropdown}} What you will be able to do ({goal_count} goals)",
                *[(indent + line) if line.strip() else "" for line in goals.splitlines()],
                f"{indent}:::",
                "",
            ]
        container = nodes.container(classes=["jaxbook-learning-path"])
        self.state.nested_parse(StringList(lines, source=self.env.docname), self.content_offset, container)
        return [container]


def setup(app):
    app.add_directive("learning-path", LearningPath)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

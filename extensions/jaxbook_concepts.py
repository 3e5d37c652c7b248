"""The concept map (`concepts.yml`): one home per concept, and the Sharp bits index.

* `load`, `uses` and `order_problems` read the map and check the curriculum: a
  chapter whose code uses a concept's JAX name before the chapter that is the
  concept's home (in the reading order of `_toc.yml`) must link to that home
  (tests/test_concepts.py runs it on the built book and on a seeded violation).
* The Sphinx directive ``{jaxbook-sharp-bits}`` renders every concept that has a
  `pitfall`, grouped by the chapter of its home in reading order, each linking to
  the executed demonstration at its home (the Sharp bits page, sharp-bits.md).
  The page is re-read on every build, so an edit of `concepts.yml` reaches it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from docutils import nodes
from sphinx.util.docutils import SphinxDirective

import bookfacts

MAP = "concepts.yml"


def load(book: Path = bookfacts.book.ROOT) -> dict:
    data = yaml.safe_load((book / MAP).read_text())
    for concept in data["concepts"]:
        concept["page"], _, concept["anchor"] = concept["home"].partition("#")
        concept.setdefault("names", [])
        concept.setdefault("patterns", [])
    return data


def name_regex(name: str) -> str:
    """`jax.lax.scan` matches as written or as `lax.scan` (a dot must remain)."""
    forms = [name]
    if name.startswith("jax.") and "." in name[4:]:
        forms.append(name[4:])
    if name.startswith("jax.numpy."):
        forms.append("jnp." + name[len("jax.numpy.") :])
    return r"(?<![\w.])(?:" + "|".join(re.escape(f) for f in forms) + r")\b"


def uses(code: str, concept: dict) -> str | None:
    """The first of the concept's names (or patterns) that `code` uses, or None."""
    for name in concept["names"]:
        if re.search(name_regex(name), code):
            return name
    for pattern in concept.get("patterns", []):
        if re.search(pattern, code):
            return pattern
    return None


def order_problems(order: list[str], code: dict[str, str], links: dict[str, set], data: dict) -> list[str]:
    """For each chapter (in reading order) and concept: the chapter uses the
    concept before its home chapter and has no link to the home. `links[chapter]`
    holds the (page, anchor) pairs the chapter links to."""
    position = {page: i for i, page in enumerate(order)}
    first_look = position.get(data.get("first_look"), len(order))
    problems = []
    for concept in data["concepts"]:
        home = position.get(concept["page"])
        if home is None:
            problems.append(f"{concept['id']}: its home page {concept['page']} is not in the reading order")
            continue
        allowed_from = min(home, first_look) if concept.get("first_look") else home
        for chapter in order[:allowed_from]:
            used = uses(code.get(chapter, ""), concept)
            if used and (concept["page"], concept["anchor"]) not in links.get(chapter, set()):
                problems.append(
                    f"{chapter} uses {used} before its home {concept['home']} "
                    "and does not link to it in its prose"
                )
    return problems


# --- the Sharp bits page ------------------------------------------------------------


class SharpBitsDirective(SphinxDirective):
    has_content = False

    def run(self):
        book = Path(self.env.srcdir)
        self.env.note_dependency(str(book / MAP))
        data = load(book)
        order = bookfacts.book.toc_files(book)
        by_page: dict[str, list[dict]] = {}
        for concept in data["concepts"]:
            if concept.get("pitfall"):
                by_page.setdefault(concept["page"], []).append(concept)
        out = []
        for page in sorted(by_page, key=lambda p: order.index(p) if p in order else len(order)):
            title = self.env.titles.get(page)
            section = nodes.paragraph()
            section += nodes.strong(text=title.astext() if title is not None else page)
            out.append(section)
            items = nodes.bullet_list()
            for concept in by_page[page]:
                item = nodes.list_item()
                para = nodes.paragraph()
                para += self.parse_inline(concept["pitfall"], lineno=self.lineno)[0]
                para += nodes.Text(" ")
                ref = nodes.reference("", "", internal=True, refdocname=page, refanchor=concept["anchor"])
                ref += nodes.Text(f"See it run: {concept['title']}.")
                ref["jaxbook_home"] = concept["home"]
                para += ref
                item += para
                items += item
            out.append(items)
        return out


def _resolve_links(app, doctree, docname):
    """Give the Sharp bits links their URIs, relative to the page being written."""
    for ref in doctree.findall(nodes.reference):
        if "jaxbook_home" in ref:
            uri = app.builder.get_relative_uri(docname, ref["refdocname"])
            ref["refuri"] = f"{uri}#{ref['refanchor']}"


def _always_outdated(app, env, added, changed, removed):
    """The page with the index is re-read on every build (titles and map may change)."""
    return [d for d in env.found_docs if "jaxbook-sharp-bits" in Path(env.doc2path(d)).read_text()]


def setup(app):
    app.add_directive("jaxbook-sharp-bits", SharpBitsDirective)
    app.connect("doctree-resolved", _resolve_links)
    app.connect("env-get-outdated", _always_outdated)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

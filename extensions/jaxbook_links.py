"""Sphinx extension: every API name in the prose links to its documentation.

Code cells are linked by sphinx-codeautolink, which follows the code's imports
(`import jax.numpy as jnp`). It also links a variable to the documented type of
the value assigned to it (`g = jax.grad(f)` makes every later `g` a link to
`collections.abc.Callable`); those links say nothing about the name on the page,
so they are undone here: a link stays when the text shows the name it links to
(`jnp.einsum` for jax.numpy.einsum) or a module. For the prose, this extension
does what JAX's own
docs do with roles, without a role in every sentence: an inline literal such as
`jax.jit`, `jnp.einsum`, `lax.while_loop(...)` or `np.linalg.solve` becomes a
link when its name (the usual aliases `jnp`, `lax`, `np` expanded, a call's
arguments ignored) is an entry of one of the book's inventories, the committed
`inventories/*.inv` files that intersphinx reads (see scripts/make_inventories.py).
A name no inventory has stays plain text: nothing is guessed. The same links reach
the Colab notebooks, whose prose is made from the same doctree.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

ALIASES = {"jnp": "jax.numpy", "lax": "jax.lax", "np": "numpy", "jsp": "jax.scipy"}
NAME = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(.*\))?$", re.S)
PY_TYPES = ("function", "class", "module", "method", "attribute", "data", "exception", "property")
SKIP = (nodes.reference, nodes.title, nodes.literal_block, nodes.FixedTextElement, nodes.raw)


def full_name(text: str) -> str | None:
    """'jnp.einsum' -> 'jax.numpy.einsum'; 'jax.grad(f)' -> 'jax.grad'; None for a
    literal that is not a dotted name."""
    match = NAME.match(text.strip())
    if not match:
        return None
    first, _, rest = match.group(1).partition(".")
    return f"{ALIASES.get(first, first)}.{rest}"


def lookup(env, name: str):
    """(project, uri) of `name` in the inventories, or None."""
    inventory = getattr(env, "intersphinx_inventory", {})
    for objtype in PY_TYPES:
        entry = inventory.get(f"py:{objtype}", {}).get(name)
        if entry:
            return entry[0], entry[2]
    return None


class LinkApiNamesInProse(SphinxPostTransform):
    default_priority = 900

    def run(self, **kwargs) -> None:
        for literal in list(self.document.findall(nodes.literal)):
            if any(isinstance(parent, SKIP) for parent in _parents(literal)):
                continue
            name = full_name(literal.astext())
            found = name and lookup(self.env, name)
            if not found:
                continue
            project, uri = found
            link = nodes.reference(
                "",
                "",
                internal=False,
                refuri=uri,
                reftitle=f"{name} ({project})",
                classes=["jaxbook-api-link"],
            )
            literal.replace_self(link)
            link += literal


CODE_LINK = re.compile(r'<a (?P<attributes>[^>]*class="sphinx-codeautolink-a"[^>]*)>(?P<inner>.*?)</a>', re.S)
TITLE = re.compile(r'title="([^"]*)"')
TAG = re.compile(r"<[^>]+>")


def keep_code_link(env, title: str, text: str) -> bool:
    """Does the linked text show the name the link goes to (or a module)?"""
    shown = TAG.sub("", text).strip()
    if shown.rsplit(".", 1)[-1] == title.rsplit(".", 1)[-1]:
        return True
    return title in getattr(env, "intersphinx_inventory", {}).get("py:module", {})


def _note_written_page(app, pagename, templatename, context, doctree):
    if doctree is not None:
        app.jaxbook_written_pages = getattr(app, "jaxbook_written_pages", set()) | {pagename}


def _every_written_page_gets_code_links(app, exception):
    """sphinx-codeautolink links only the pages whose source is newer than their
    output (it asks the builder when the build starts), so a page written again for
    another reason (its setup cell or the book's extensions changed) lost its links
    (felix-hilden/sphinx-codeautolink#181, still open; 0.19.0, the pinned version,
    does it).
    Every page written in this build is given to it, through its private
    `outdated_docs`; a version without it fails here, saying so."""
    if exception is not None:
        return
    states = [
        state
        for listener in app.events.listeners.get("build-finished", [])
        if type(state := getattr(listener.handler, "__self__", None)).__module__.startswith(
            "sphinx_codeautolink"
        )
    ]
    if not any(hasattr(state, "outdated_docs") for state in states):
        raise RuntimeError(
            "sphinx-codeautolink no longer keeps `outdated_docs` on its build-finished listener "
            "(known in 0.19.0, requirements.txt): update extensions/jaxbook_links.py "
            "(the workaround for sphinx-codeautolink#181), or drop it if #181 is fixed"
        )
    for state in states:
        if hasattr(state, "outdated_docs"):
            state.outdated_docs |= getattr(app, "jaxbook_written_pages", set())


def _undo_type_links(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for docname in app.env.found_docs:
        page = Path(app.outdir, f"{docname}.html")
        if not page.is_file():
            continue
        text = page.read_text(encoding="utf8")

        def keep_or_unwrap(m):
            title = TITLE.search(m["attributes"])  # none: the text is the full name
            return m[0] if title is None or keep_code_link(app.env, title[1], m["inner"]) else m["inner"]

        new = CODE_LINK.sub(keep_or_unwrap, text)
        if new != text:
            page.write_text(new, encoding="utf8")


def _parents(node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def setup(app):
    app.setup_extension("sphinx.ext.intersphinx")
    app.add_post_transform(LinkApiNamesInProse)
    app.connect("html-page-context", _note_written_page)
    # just before sphinx-codeautolink writes its links (build-finished, priority 500) ...
    app.connect("build-finished", _every_written_page_gets_code_links, priority=499)
    # ... and after it
    app.connect("build-finished", _undo_type_links, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

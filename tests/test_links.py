"""Every API name on a page links to its documentation: in the prose
(extensions/jaxbook_links.py) and in the code cells (sphinx-codeautolink), only to
entries of the committed inventories (inventories/*.inv, which the build reads
instead of fetching anything), each on its project's docs site."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import sphobjinv as soi

import jaxbook_links
import make_inventories
from checks import api_link_problems, api_links, code_link_problems
from conftest import CHAPTERS, REPORT, ROOT

INVENTORIES = ROOT / "inventories"
TAUGHT = set(
    "jax.grad jax.jacfwd jax.jacrev jax.hessian jax.vmap jax.jit jax.random.key jax.random.split "
    "jax.numpy.einsum jax.lax.while_loop jax.lax.scan jax.custom_vjp jax.lax.custom_root jax.tree.map".split()
)
INVENTORY = {project: soi.Inventory(INVENTORIES / f"{project}.inv") for project in make_inventories.SITES}
# {URL: name} of every entry of every committed inventory
URLS = {
    site + obj.uri_expanded: obj.name
    for project, (site, _) in make_inventories.SITES.items()
    for obj in INVENTORY[project].objects
}
MODULES = {obj.name for inv in INVENTORY.values() for obj in inv.objects if obj.role == "module"}


@pytest.mark.parametrize("project", list(make_inventories.SITES))
def test_every_inventory_entry_is_on_its_docs_site(project):
    site, form = make_inventories.SITES[project]
    inv = INVENTORY[project]
    assert len(inv.objects) > 100
    bad = [o.uri_expanded for o in inv.objects if not re.fullmatch(form, o.uri_expanded)]
    assert not bad, f"{project}: URLs not of the form {site}{form}: {bad[:5]}"
    assert f"`{project}.inv`" in (INVENTORIES / "PROVENANCE.md").read_text()


@pytest.mark.parametrize("docname", CHAPTERS)
def test_api_links_go_to_inventory_entries_in_prose_and_code(book, docname):
    page = book.page(docname)
    links = api_links(page)
    assert api_link_problems(page, URLS) == []
    jax_links = {where for where, url in links if url.startswith("https://docs.jax.dev/")}
    assert jax_links == {"prose", "code"}, f"{docname}: JAX names are linked only in {jax_links or 'nothing'}"
    names = {URLS[url] for _, url in links}
    prose = {URLS[url] for where, url in links if where == "prose"}
    REPORT.append(f"{len(names):4d} API names linked ({len(prose)} in the prose)  {docname}")


@pytest.mark.parametrize("docname", CHAPTERS)
def test_code_links_show_the_name_they_link_to(book, docname):
    """A variable is never a link to the type of its value (collections.abc.Callable
    for `g = jax.grad(f)`): extensions/jaxbook_links.py undoes those links."""
    assert code_link_problems(book.page(docname), MODULES) == []


def test_the_names_the_chapters_teach_are_linked(book):
    linked = {URLS[url] for d in CHAPTERS for _, url in api_links(book.page(d)) if url in URLS}
    assert not TAUGHT - linked, f"not linked on any chapter page: {sorted(TAUGHT - linked)}"


def test_prose_names_are_read_as_the_code_imports_them():
    assert jaxbook_links.full_name("jnp.einsum") == "jax.numpy.einsum"
    assert jaxbook_links.full_name("lax.while_loop(cond, body, x0)") == "jax.lax.while_loop"
    assert jaxbook_links.full_name("np.linalg.solve") == "numpy.linalg.solve"
    assert jaxbook_links.full_name("jax.jit(f)(x)") == "jax.jit"
    assert jaxbook_links.full_name("x + 1") is None and jaxbook_links.full_name("grad") is None


def test_inventories_are_files_of_the_repository():
    """The build reads the committed inventories: none is fetched from a URL."""
    import yaml

    mapping = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["intersphinx_mapping"]
    for project, (site, inventory) in mapping.items():
        assert (ROOT / inventory).is_file() and not urlsplit(inventory).scheme
        assert site == make_inventories.SITES[project][0]

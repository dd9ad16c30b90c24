"""The documentation contract: numpydoc sections on every public function, every function in the
API reference, and the README pointing at the site's pages. (The examples themselves run as
doctests: ``--doctest-modules`` for docstrings, ``--doctest-glob=*.md`` for docs/ and README.)"""
import inspect
import pathlib
import re

import pytest

import cpool

ROOT = pathlib.Path(__file__).resolve().parent.parent
PUBLIC = sorted(name for name in cpool.__all__ if inspect.isfunction(getattr(cpool, name)))
PAGES = ["getting_started", "semantics", "performance", "threads", "gradients", "api"]


def _sections(doc):
    """numpydoc section titles: a line followed by a line of dashes as long as it."""
    lines = inspect.cleandoc(doc).splitlines()
    return {a.strip() for a, b in zip(lines, lines[1:]) if b.strip() and set(b.strip()) == {"-"}
            and len(b.strip()) == len(a.strip())}


@pytest.mark.parametrize("name", PUBLIC)
def test_numpydoc_sections(name):
    fn = getattr(cpool, name)
    sections = _sections(fn.__doc__ or "")
    required = {"See Also", "Notes", "Examples"}
    if inspect.signature(fn).parameters:
        required |= {"Parameters", "Raises"}
    if name != "set_num_threads":  # returns None
        required.add("Returns")
    assert required <= sections, f"{name} lacks {sorted(required - sections)}"
    assert ">>> " in fn.__doc__


@pytest.mark.parametrize("name", PUBLIC)
def test_in_api_reference(name):
    api = (ROOT / "docs" / "api.md").read_text()
    assert re.search(rf"^\.\. autofunction:: {name}$", api, re.M), f"{name} missing from docs/api.md"


def test_site_has_every_page_and_readme_links_them():
    index = (ROOT / "docs" / "index.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for page in PAGES:
        assert (ROOT / "docs" / f"{page}.md").exists()
        assert re.search(rf"^{page}$", index, re.M), f"{page} not in the toctree"
        assert f"docs/{page}.md" in readme, f"README does not link docs/{page}.md"

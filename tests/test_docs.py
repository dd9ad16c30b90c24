"""The documentation contract: numpydoc sections on every public function, every function in the
API reference, and the README pointing at the site's pages. (The examples themselves run as
doctests: ``--doctest-modules`` for docstrings, ``--doctest-glob=*.md`` for docs/ and README.)"""
import inspect
import json
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


# ---------------------------------------------------------------------------------------------
# Numbers in the docs come from the measured JSON (docs/_data)
# ---------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _tables(section):
    """The unindented Markdown tables of ``section``: (header cells, body rows of cells)."""
    tables = []
    in_table = False
    for line in section.splitlines():
        in_table, was_in_table = line.startswith("|"), in_table
        if not in_table:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if set("".join(cells)) <= set("-: "):
            continue
        if was_in_table:
            tables[-1][1].append(cells)
        else:
            tables.append((cells, []))
    return tables


def _agrees(cell, value):
    """Whether a table cell ('9.157', '20.7x', '1.12') shows ``value`` to its printed digits."""
    found = _NUMBER.search(cell.replace(",", ""))
    if found is None or value is None:
        return False
    text = found.group()
    digits = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10 ** -digits + 1e-9


# Table column -> the bench JSON's field.
_COLUMNS = {"cpool ms": "cpool_ms", "torch ms": "torch_ms", "copy ms": "copy_ms",
            "NumPy ms": "numpy_ms", "speed-up": "speedup_vs_torch", "of copy": "of_copy",
            "read ms": "read_ms", "of read": "of_read"}


def test_performance_tables_match_their_json():
    """Every table of docs/performance.md in a section that names its raw numbers
    (``docs/_data/<file>.json``) shows that file's figures, row by row (case and threads)."""
    text = (ROOT / "docs" / "performance.md").read_text()
    checked = 0
    for section in re.split(r"\n(?=## )", text):
        sources = [s for s in re.findall(r"docs/_data/([\w-]+\.json)", section)
                   if (ROOT / "docs" / "_data" / s).exists()]
        if not sources:
            continue
        rows = json.loads((ROOT / "docs" / "_data" / sources[0]).read_text())["rows"]
        by_case = {(r["case"], r["threads"]): r for r in rows}
        for head, body in _tables(section):
            if head[0] not in ("case", "row width") or "threads" not in head:
                continue
            for cells in body:
                row = by_case.get((cells[0], int(cells[head.index("threads")])))
                assert row is not None, (sources[0], cells[0])
                for column, field in _COLUMNS.items():
                    if column in head and cells[head.index(column)] not in ("", "-", "—"):
                        assert _agrees(cells[head.index(column)], row[field]), \
                            (sources[0], cells[0], column, cells[head.index(column)],
                             row[field])
                        checked += 1
    assert checked > 100


def test_larger_than_memory_tables_match_their_json():
    """The Speed section of docs/larger_than_memory.md shows the run in
    docs/_data/bench-2core-dask.json (``python -m cpool bench --dask --json``) row by row: the
    throughput table's rows in the run's order, and the batch command against cp."""
    data = json.loads((ROOT / "docs" / "_data" / "bench-2core-dask.json").read_text())
    text = (ROOT / "docs" / "larger_than_memory.md").read_text()
    section = text.split("\n## Speed\n", 1)[1].split("\n## ", 1)[0]
    assert "docs/_data/bench-2core-dask.json" in section
    tables = {head[0]: [dict(zip(head, cells)) for cells in body]
              for head, body in _tables(section)}
    shown = tables["how"]
    assert [r["how"] for r in shown] == [r["how"] for r in data["throughput"]]
    checked = 0
    for cells, row in zip(shown, data["throughput"]):
        for column, field in (("cpool.dask ms", "dask_ms"), ("in-memory ms", "in_memory_ms"),
                              ("of in-memory", "of_in_memory")):
            if row[field] is None:
                assert cells[column] in ("", "—"), (row["how"], column)
            else:
                assert _agrees(cells[column], row[field]), (row["how"], column, cells[column])
                checked += 1
    shown = tables["command"]
    assert len(shown) == len(data["batch"]) == 2
    for cells, row in zip(shown, data["batch"]):
        assert row["command"] in cells["command"]
        for column, field in (("s", "s"), ("GB/s", "gb_per_s"), ("of cp", "of_cp")):
            assert _agrees(cells[column], row[field]), (row["command"], column, cells[column])
            checked += 1
    assert checked >= 20


def test_index_figures_come_from_the_json():
    """The index page's headline figures are the measured ones (docs/_data/bench-2core.json,
    max 2x2 s2 at one thread), as conf.py substitutes them."""
    rows = json.loads((ROOT / "docs" / "_data" / "bench-2core.json").read_text())["rows"]
    row = next(r for r in rows if r["case"] == "max 2x2 s2" and r["threads"] == 1)
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_conf", ROOT / "docs" / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    subs = conf.myst_substitutions
    assert subs["max2_speedup"] == f"{row['speedup_vs_torch']:.0f}x"
    assert subs["max2_of_copy"] == f"{row['of_copy']:.2f}"
    index = (ROOT / "docs" / "index.md").read_text()
    assert "{{ max2_speedup }}" in index and "{{ max2_of_copy }}" in index
    assert not re.search(r"about \d+x", index)

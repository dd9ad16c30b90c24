"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html`` (``pip install -e ".[docs]"``).

Pages are Markdown (MyST); the API reference comes from the numpydoc docstrings. Code blocks with
``>>>`` in the pages run as doctests under pytest (``--doctest-glob=*.md``), so the examples here
cannot go stale.
"""
import json
import pathlib
import sys

import cpool

project = "cpool"
author = "the cpool developers"
copyright = "2026, the cpool developers"
version = release = cpool.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    # MathJax copied into the built site (no CDN): the math renders offline.
    "sphinx-mathjax-offline",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "README.md"]
myst_enable_extensions = ["colon_fence", "dollarmath", "substitution"]


def _headline_figures():
    """The index page's figures, from the measured JSON (never typed in by hand): max 2x2 s2
    on (32, 256, 56, 56) float32 at one thread on the 2-core machine."""
    data = json.loads((pathlib.Path(__file__).parent / "_data" / "bench-2core.json").read_text())
    row = next(r for r in data["rows"] if r["case"] == "max 2x2 s2" and r["threads"] == 1)
    return {"max2_speedup": f"{row['speedup_vs_torch']:.0f}x",
            "max2_of_copy": f"{row['of_copy']:.2f}"}


sys.path.insert(0, str(pathlib.Path(__file__).parent))
import plot_history  # noqa: E402  (docs/plot_history.py)


def _history_figures():
    """The history page's figures, from the committed asv results."""
    history = plot_history.load(plot_history.ROOT / "asv_bench" / "results", "history-2core")
    return {"history_commits": str(len(history)), "history_first": history[0]["commit"],
            "history_last": history[-1]["commit"]}


def _draw_history(app):
    """The history page's plot and table (docs/_generated/), drawn from the committed asv
    results when a build starts: the page cannot disagree with asv_bench/results/."""
    plot_history.render()


def setup(app):
    app.connect("builder-inited", _draw_history)


myst_substitutions = {**_headline_figures(), **_history_figures()}
myst_heading_anchors = 3

# numpydoc: every check on every public docstring, and -W makes a failed one an error. Left
# out: ES01 (extended summary: the one-line summaries are complete sentences), SA04 (a description
# for each See Also entry) and RT04 (return descriptions often start with a dtype or shape).
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = {"all", "ES01", "SA04", "RT04"}

autodoc_typehints = "none"

html_theme = "pydata_sphinx_theme"
html_title = f"cpool {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
templates_path = ["_templates"]
# Every page in the left sidebar (the theme's own lists only a section's pages: none here).
html_sidebars = {"**": ["sidebar-pages"]}
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}

# docs/ holds Markdown pages whose examples pytest runs (--doctest-glob=*.md); its Python files
# are tools, not tests: Sphinx's configuration and the plotting script (which needs matplotlib).
collect_ignore = ["conf.py", "plot_bench.py"]

"""The benchmark history page's plot and table, from asv's committed results.

    python docs/plot_history.py [--results asv_bench/results] [--machine history-2core]
                                [--out docs/_generated]

reads asv's result files for one machine (``asv_bench/results/<machine>/*.json``, written by
``asv run ... -b ^headline``; see asv_bench/README.md) and writes

- ``<out>/history.png``: one panel per headline case, its time per call over the commits
  measured (oldest left), beside the memory copy of the same machine in the same run (grey),
  on log scales, with the interquartile range of asv's samples as error bars;
- ``<out>/history-table.md``: the same figures as a Markdown table (milliseconds, and each
  case's time over the copy's).

The documentation build (docs/conf.py) runs it, so the page always shows the committed results
and needs no network (asv's own site, ``asv publish``, loads its scripts from CDNs). Needs
matplotlib (the ``docs`` extra). Colours: Okabe & Ito's colour-blind-safe palette.
"""
import argparse
import ast
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCHMARK = "headline.Headline.time_call"
REFERENCE = "copy"
BLUE, GREY = "#0072B2", "#999999"


def load(results_dir, machine):
    """The measured commits, oldest first: a list of ``{"commit", "date", "cases"}`` where
    ``cases`` maps a case to ``(median, q25, q75)`` seconds (cases a commit lacks: absent)."""
    history = []
    for path in sorted(pathlib.Path(results_dir, machine).glob("*.json")):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        if BENCHMARK not in data.get("results", {}):
            continue
        row = dict(zip(data["result_columns"], data["results"][BENCHMARK]))
        names = [ast.literal_eval(p) for p in row["params"][0]]
        q25 = row.get("stats_q_25") or [None] * len(names)
        q75 = row.get("stats_q_75") or [None] * len(names)
        cases = {name: (median, lo, hi)
                 for name, median, lo, hi in zip(names, row["result"], q25, q75)
                 if median is not None and median == median}  # NaN: skipped there
        history.append({"commit": data["commit_hash"][:8], "date": data["date"],
                        "cases": cases})
    history.sort(key=lambda h: h["date"])
    return history


def _case_names(history):
    names = []
    for h in history:
        names += [c for c in h["cases"] if c not in names and c != REFERENCE]
    return names


def plot(history, path):
    """One panel per case: ms per call over the commits, with the copy beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    names = _case_names(history)
    columns = 2
    rows = (len(names) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(7.5, 0.4 + 2.1 * rows), sharex=True,
                             squeeze=False)
    x = list(range(len(history)))
    for ax, name in zip(axes.flat, names):
        for case, color, label in ((name, BLUE, "cpool"), (REFERENCE, GREY, "memory copy")):
            points = [(i, h["cases"][case]) for i, h in zip(x, history) if case in h["cases"]]
            if not points:
                continue
            xs = [i for i, _ in points]
            ms = [1e3 * m for _, (m, _, _) in points]
            err = [[1e3 * (m - lo) if lo is not None else 0 for _, (m, lo, _) in points],
                   [1e3 * (hi - m) if hi is not None else 0 for _, (m, _, hi) in points]]
            ax.errorbar(xs, ms, yerr=err, color=color, marker="o", markersize=3, linewidth=1.2,
                        capsize=2, label=label)
        ax.set_yscale("log")
        # Plain numbers at 1, 2, 5 x 10^k (the default labels read "6 x 10^0").
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", alpha=0.25)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xticks(x, [h["commit"] for h in history], rotation=70, fontsize=6,
                      fontfamily="monospace")
    for ax in axes[:, 0]:
        ax.set_ylabel("ms per call", fontsize=8)
    axes.flat[0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(history):
    """A Markdown table: one row per commit, ms per case and, in brackets, its time over the
    copy's measured in the same run ("-": the commit has no such function)."""
    names = _case_names(history)
    header = "| commit | copy | " + " | ".join(n.replace("_", " ") for n in names) + " |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    for h in history:
        copy = h["cases"].get(REFERENCE, (None,))[0]
        cells = [f"`{h['commit']}`", f"{1e3 * copy:.2f}" if copy else "-"]
        for n in names:
            if n not in h["cases"]:
                cells.append("-")
                continue
            m = h["cases"][n][0]
            cells.append(f"{1e3 * m:.2f} ({m / copy:.2f}x)" if copy else f"{1e3 * m:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render(results_dir=ROOT / "asv_bench" / "results", machine="history-2core",
           out=ROOT / "docs" / "_generated"):
    """Write ``history.png`` and ``history-table.md`` into ``out``; return the history."""
    history = load(results_dir, machine)
    if not history:
        raise SystemExit(f"no {BENCHMARK} results in {pathlib.Path(results_dir, machine)}")
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plot(history, out / "history.png")
    (out / "history-table.md").write_text(table(history))
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=ROOT / "asv_bench" / "results")
    parser.add_argument("--machine", default="history-2core")
    parser.add_argument("--out", default=ROOT / "docs" / "_generated")
    args = parser.parse_args(argv)
    history = render(args.results, args.machine, args.out)
    print(f"{len(history)} commits -> {args.out}/history.png, history-table.md")


if __name__ == "__main__":
    main()

"""Plots for the performance page, from the JSON that ``python -m cpool bench --json`` writes.

    python docs/plot_bench.py docs/_data/bench-2core.json --out docs/_static/bench-2core

writes ``<out>-gbps.png`` (GB/s moved per op: cpool, PyTorch, NumPy and the memory-copy ceiling,
one panel per thread count) and ``<out>-scaling.png`` (cpool's speed-up over its own one-thread
time per op, at the largest thread count measured: one bar per op, sorted, beside the ideal).
Colours are the Okabe-Ito palette, which readers with colour-vision deficiencies tell apart.
Needs matplotlib (the ``docs`` extra).
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Okabe & Ito's colour-blind-safe palette.
BLUE, ORANGE, GREY, GREEN = "#0072B2", "#E69F00", "#999999", "#009E73"


def _label(row):
    dtype = "" if row["dtype"] == "float32" or row["dtype"] in row["case"] else f" {row['dtype']}"
    return f"{row['case']}{dtype}"


def _gbps(row, key):
    """GB/s of the input + output bytes that cpool's call moves, at another tool's time."""
    if row.get(key) is None:
        return None
    moved = row["cpool_GBps"] * row["cpool_ms"]  # GB/s x ms = MB
    return moved / row[key]


def plot_gbps(rows, machine, path):
    forward = [r for r in rows if not r.get("relative_to")]
    threads = sorted({r["threads"] for r in forward})
    # One panel per thread count, stacked: the figure is as wide as the page's text column,
    # so its labels stay legible there.
    n_rows = max(len([r for r in forward if r["threads"] == n]) for n in threads)
    fig, axes = plt.subplots(len(threads), 1, figsize=(7.5, 1.2 + 0.42 * n_rows * len(threads)),
                             sharex=True, squeeze=False)
    for ax, n in zip(axes[:, 0], threads):
        sel = [r for r in forward if r["threads"] == n]
        labels = [_label(r) for r in sel]
        y = range(len(sel))
        series = [("cpool", "cpool_ms", BLUE), ("PyTorch", "torch_ms", ORANGE),
                  ("NumPy", "numpy_ms", GREY)]
        h = 0.27
        for k, (name, key, color) in enumerate(series):
            vals = [_gbps(r, key) for r in sel]
            pos = [i - h + k * h for i in y]
            ax.barh([p for p, v in zip(pos, vals) if v is not None],
                    [v for v in vals if v is not None], height=h, color=color, label=name)
        ax.scatter([r["copy_GBps"] for r in sel], list(y), marker="|", s=400, color="black",
                   label="memory copy", zorder=3)
        ax.set_xscale("log")
        ax.set_yticks(list(y), labels)
        ax.set_title(f"{n} thread{'s' if n > 1 else ''}")
        ax.grid(axis="x", which="both", alpha=0.3)
        ax.invert_yaxis()
    axes[-1][0].set_xlabel("GB/s of input + output (log scale; higher is faster)")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, frameon=False)
    fig.suptitle(f"cpool {machine['cpool']} on {machine['cpu']} ({machine['cores']} cores)")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scaling(rows, machine, path):
    forward = [r for r in rows if not r.get("relative_to") and r["case"] != "max 2x2, tiny"]
    top = max(r["threads"] for r in forward)
    speedups = {}
    for label in dict.fromkeys(_label(r) for r in forward):
        pts = {r["threads"]: r["cpool_ms"] for r in forward if _label(r) == label}
        if 1 in pts and top in pts and top > 1:
            speedups[label] = pts[1] / pts[top]
    ranked = sorted(speedups.items(), key=lambda item: item[1])
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.32 * max(1, len(ranked))))
    y = range(len(ranked))
    ax.barh(list(y), [v for _, v in ranked], color=BLUE, height=0.6)
    for i, (_, v) in zip(y, ranked):
        ax.text(v + 0.02, i, f"{v:.2f}x", va="center", fontsize="small")
    ax.axvline(top, color="black", linestyle="--", linewidth=1, label=f"ideal ({top}x)")
    ax.axvline(1, color=GREY, linewidth=1)
    ax.set_yticks(list(y), [label for label, _ in ranked])
    ax.set_xlim(0, max([top] + [v for _, v in ranked]) * 1.15)
    ax.set_xlabel(f"speed-up at {top} threads over cpool at 1 thread")
    ax.set_title(f"Thread scaling on {machine['cpu']} ({machine['cores']} cores)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", help="output of `python -m cpool bench --json FILE`")
    p.add_argument("--out", required=True, help="path prefix of the PNG files")
    args = p.parse_args(argv)
    with open(args.json) as f:
        data = json.load(f)
    plot_gbps(data["rows"], data["machine"], f"{args.out}-gbps.png")
    plot_scaling(data["rows"], data["machine"], f"{args.out}-scaling.png")


if __name__ == "__main__":
    main()

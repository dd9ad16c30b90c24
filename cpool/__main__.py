"""``python -m cpool``: a demo of every op on a 4x4 example, then a timing table.

Usage::

    python -m cpool [--shape N C H W] [--threads T] [--repeat R]
    python -m cpool bench [--threads N ...] [--ops KEY ...] [--json FILE] [--repeat R]
    python -m cpool pool IN OUT --op max --kernel 2 [--stride S] [--padding P] [--axes A ...]
                         [--chunks C,C,...] [--scheduler threads|processes|ADDRESS]
"""
import argparse
import sys
import time

import numpy as np

import cpool
from cpool import _baselines

EXAMPLE = np.array([[2, 3, 1, 4], [1, 7, 0, 2], [9, 6, 3, 4], [2, 8, 1, 7]], dtype=np.float32)

# (label, cpool call, NumPy baseline call) for the timing table.
TIMED = [
    ("max 2x2 s2", lambda x, t: cpool.max_pool2d(x, 2, num_threads=t), lambda x: _baselines.max_pool2d(x, 2, 2)),
    ("max 3x3 s2 p1", lambda x, t: cpool.max_pool2d(x, 3, 2, 1, num_threads=t),
     lambda x: _baselines.max_pool2d(x, 3, 2, 1)),
    ("avg 2x2 s2", lambda x, t: cpool.avg_pool2d(x, 2, num_threads=t), lambda x: _baselines.avg_pool2d(x, 2, 2)),
    ("avg 3x3 s1 p1", lambda x, t: cpool.avg_pool2d(x, 3, 1, 1, num_threads=t),
     lambda x: _baselines.avg_pool2d(x, 3, 1, 1)),
    ("sum 2x2 s2", lambda x, t: cpool.sum_pool2d(x, 2, num_threads=t), lambda x: _baselines.sum_pool2d(x, 2, 2)),
    ("global max", lambda x, t: cpool.global_max_pool2d(x, num_threads=t), _baselines.global_max_pool2d),
    ("global avg", lambda x, t: cpool.global_avg_pool2d(x, num_threads=t), _baselines.global_avg_pool2d),
    ("global sum", lambda x, t: cpool.global_sum_pool2d(x, num_threads=t), _baselines.global_sum_pool2d),
]


def _show(title, value):
    text = np.array2string(np.asarray(value), separator=", ", floatmode="maxprec")
    print(f"  {title:<36} {text.replace(chr(10), chr(10) + ' ' * 39)}")


def demo_example():
    x = EXAMPLE
    print("Example input (4x4, float32):")
    print("  " + np.array2string(x.astype(int), separator=", ").replace("\n", "\n  "))
    print()
    _show("max_pool2d(x, 2)", cpool.max_pool2d(x, 2))
    _show("max_pool2d(x, 2) indices", cpool.max_pool2d(x, 2, return_indices=True)[1])
    _show("avg_pool2d(x, 2)", cpool.avg_pool2d(x, 2))
    _show("sum_pool2d(x, 3, stride=1)", cpool.sum_pool2d(x, 3, stride=1))
    _show("max_pool2d(x, 3, 2, padding=1)", cpool.max_pool2d(x, 3, 2, padding=1))
    _show("avg_pool2d(x, 3, 2, padding='same')", cpool.avg_pool2d(x, 3, 2, padding="same"))
    _show("global_max_pool2d(x)", cpool.global_max_pool2d(x))
    _show("global_avg_pool2d(x)", cpool.global_avg_pool2d(x))
    _show("global_sum_pool2d(x)", cpool.global_sum_pool2d(x))


def _best_time(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def demo_timing(shape, threads, repeat):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    print(f"\nTiming on a random float32 batch of shape {shape} ({x.nbytes / 2**20:.0f} MiB), "
          f"{threads} thread(s) (OpenMP: {cpool.openmp_enabled()}), best of {repeat}:")
    print(f"  {'op':<15} {'cpool ms':>10} {'NumPy ms':>10} {'speed-up':>9}  agrees")
    for label, ours, base in TIMED:
        t_ours, got = _best_time(lambda: ours(x, threads), repeat)
        t_base, exp = _best_time(lambda: base(x), 1 if x.size > 1 << 22 else repeat)
        agrees = np.allclose(got, exp, rtol=1e-4, atol=1e-4 * float(np.max(np.abs(exp))))
        print(f"  {label:<15} {t_ours * 1e3:>10.2f} {t_base * 1e3:>10.1f} {t_base / t_ours:>8.1f}x  "
              f"{'yes' if agrees else 'NO'}", flush=True)
        if not agrees:
            return 1
    return 0


def bench_main(argv):
    from cpool import _bench

    parser = argparse.ArgumentParser(
        prog="python -m cpool bench",
        description="Time cpool against PyTorch, NumPy, np.copyto and a read of the input "
                    "once, side by side, and compare with the speed targets.")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="thread counts to measure (default: 1); 0 is cpool's default count "
                             "(num_threads=None), other libraries then get every CPU")
    parser.add_argument("--ops", nargs="+", default=None,
                        help="cases to run, by key: " + " ".join(c.key for c in _bench.CASES))
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--repeat", type=int, default=5, help="timing rounds per measurement (default: 5)")
    parser.add_argument("--no-numpy", action="store_true", help="skip the (slow) NumPy baselines")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--peers", action="store_true",
                        help="also time every installed peer (torch NCHW, channels_last and mkldnn, "
                             "onnxruntime, JAX, OpenCV) on the NCHW cases, each checked against "
                             "cpool's output first; the channels-last cases always list them")
    parser.add_argument("--load", type=int, default=0, metavar="N",
                        help="run N busy processes during the measurement (a busy machine)")
    parser.add_argument("--widths", action="store_true",
                        help="run the row-width sweep: 2x2 stride-2 max, avg and sum at row widths "
                             "16 to 4096 (keys max2_w16 ... sum2_w4096), each against copy "
                             "(with --ops, in addition to those cases)")
    parser.add_argument("--dask", action="store_true",
                        help="instead: cpool.dask against in-memory cpool, and the batch command "
                             "(python -m cpool pool) against cp")
    parser.add_argument("--dask-gb", type=float, default=4.0, metavar="GB",
                        help="size of the batch command's .npy file (default: 4; 0 skips it)")
    parser.add_argument("--dask-dir", default=None, metavar="DIR",
                        help="folder for the batch command's files (default: the temp folder)")
    args = parser.parse_args(argv)
    if args.dask:
        from cpool import _bench_dask

        return _bench_dask.main(args)
    if args.threads and min(args.threads) < 0:
        parser.error("--threads must be >= 0 (0: the default count)")
    if args.load < 0:
        parser.error("--load must be >= 0")
    return _bench.main(args)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return bench_main(argv[1:])
    if argv[:1] == ["pool"]:
        from cpool import _batch  # imports Dask when it runs

        return _batch.run(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m cpool", description=__doc__.splitlines()[0],
                                     epilog="Run `python -m cpool bench -h` for the benchmark, `python -m cpool pool -h` "
                                            "to pool an array on disk out of core.")
    parser.add_argument("--shape", type=int, nargs="+", default=[32, 64, 112, 112],
                        help="shape of the timed batch (default: 32 64 112 112)")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all)")
    parser.add_argument("--repeat", type=int, default=5, help="timing repeats (default: 5)")
    args = parser.parse_args(argv)
    if len(args.shape) < 2 or min(args.shape) < 1 or min(args.shape[-2:]) < 3:
        parser.error("--shape needs at least 2 sizes: positive, with H and W >= 3")
    threads = args.threads or cpool.get_num_threads()
    demo_example()
    return demo_timing(tuple(args.shape), threads, max(1, args.repeat))


if __name__ == "__main__":
    sys.exit(main())

"""``python -m cpool bench --dask``: cpool.dask and the batch command against in-memory cpool and
a plain file copy, side by side in one run.

* Throughput: max 2x2 stride 2 of a (64, 256, 112, 112) float32 array in chunks of 8 images,
  against in-memory :func:`cpool.max_pool2d` at the same total thread count. Dask runs on the
  threaded scheduler with that many workers (its result stored into an array, or gathered by
  ``compute``, which joins the blocks in one more copy; and against in-memory pooling into
  a preallocated ``out=``, which saves that call its fresh pages), and on a
  ``distributed.LocalCluster`` of that many one-thread worker processes, its input held on the
  workers (``persist``) and its result kept there: the cost of the cluster's scheduling, not
  of shipping the array from this process. The input is either made on the workers, a block
  per task (as a zarr read or an upstream op makes it), or sent from this process (whose
  blocks a worker deserialises at unaligned offsets: see cpool.dask._realigned). A graph of
  the same shape whose tasks do nothing gives the cluster's fixed cost per run.
* The batch command: ``python -m cpool pool`` of a ``.npy`` file (4 GB by default) into
  another, against ``cp`` of the same file, each followed by ``sync``: rates are bytes read
  plus bytes written per second.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import cpool
from cpool._bench import _time, _time_pair, machine

SHAPE = (64, 256, 112, 112)
CHUNK = 8
THROUGHPUT_TARGET = 0.7
BATCH_TARGET = 0.5


def _noop(block):
    return block[:0]


def _made_block(block_info=None):
    """One chunk of the input, made where its task runs (a worker), as a zarr read or an
    upstream op makes its blocks: standard normal float32 from the chunk's own seed."""
    start = block_info[None]["array-location"][0][0]
    rng = np.random.default_rng(start)
    return rng.standard_normal((CHUNK,) + SHAPE[1:], dtype=np.float32)


def throughput(workers: int, repeat: int):
    """Rows (how, cpool.dask seconds, in-memory seconds) for the throughput table."""
    import dask.array as da

    import cpool.dask as cd

    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    out = np.empty(SHAPE[:2] + (SHAPE[2] // 2, SHAPE[3] // 2), np.float32)
    lazy = da.from_array(x, chunks=(CHUNK,) + SHAPE[1:])
    y = cd.max_pool2d(lazy, 2)

    def in_memory():
        return cpool.max_pool2d(x, 2, num_threads=workers)

    t_store, t_mem = _time_pair(
        lambda: da.store(y, out, lock=False, scheduler="threads", num_workers=workers),
        in_memory, repeat)
    np.testing.assert_array_equal(out, in_memory())
    t_compute, t_mem2 = _time_pair(
        lambda: y.compute(scheduler="threads", num_workers=workers), in_memory, repeat)
    t_out, t_mem3 = _time_pair(
        lambda: da.store(y, out, lock=False, scheduler="threads", num_workers=workers),
        lambda: cpool.max_pool2d(x, 2, out=out, num_threads=workers), repeat)
    rows = [("threaded scheduler, `da.store` into an array", t_store, t_mem),
            ("threaded scheduler, `.compute()`", t_compute, t_mem2),
            ("threaded scheduler, `da.store` (in-memory with `out=`)", t_out, t_mem3)]
    try:
        from distributed import Client, LocalCluster, get_task_stream, wait
    except ImportError:
        return rows
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        held = client.persist(da.from_array(x, chunks=(CHUNK,) + SHAPE[1:]))
        made = client.persist(da.map_blocks(
            _made_block, chunks=((CHUNK,) * (SHAPE[0] // CHUNK),) + tuple((n,) for n in SHAPE[1:]),
            dtype=np.float32))
        wait([held, made])

        def on_cluster(make):
            """Best wall time of a run, and its tasks' compute time (the task stream's)."""
            best = (float("inf"), 0.0)
            for _ in range(repeat + 1):  # the first round warms the workers up
                with get_task_stream(client) as stream:
                    t0 = time.perf_counter()
                    result = client.persist(make())
                    wait(result)
                    elapsed = time.perf_counter() - t0
                computed = sum(s["stop"] - s["start"] for task in stream.data
                               for s in task["startstops"] if s["action"] == "compute")
                if _ > 0 and elapsed < best[0]:
                    best = (elapsed, computed)
                client.cancel(result)
                del result
                time.sleep(0.5)  # the workers free the results
            return best

        t_made, t_made_tasks = on_cluster(lambda: cd.max_pool2d(made, 2))
        t_cluster, t_tasks = on_cluster(lambda: cd.max_pool2d(held, 2))
        t_noop, _ = on_cluster(lambda: held.map_blocks(_noop, dtype=held.dtype))
        t_mem = _time(in_memory, repeat)
        rows.append(("LocalCluster of one-thread processes, input made on the workers (as a "
                     "zarr read makes it) and result held there", t_made, t_mem))
        rows.append(("LocalCluster of one-thread processes, input sent from this process "
                     "(its blocks arrive misaligned) and result held there", t_cluster, t_mem))
        rows.append(("LocalCluster: the same graph shape doing nothing (its fixed cost)",
                     t_noop, None))
        rows.append(("LocalCluster: its tasks' own compute time, per worker, input made there",
                     t_made_tasks / workers, None))
        rows.append(("LocalCluster: its tasks' own compute time, per worker, input sent",
                     t_tasks / workers, None))
    # What a worker's tasks cost in this process: each block's result kept (fresh pages, as a
    # worker holds its results), or freed before the next (the allocator reuses its pages).
    blocks = [x[i:i + CHUNK] for i in range(0, SHAPE[0], CHUNK)]

    def kept():
        return [cpool.max_pool2d(b, 2, num_threads=1) for b in blocks]

    def freed():
        for b in blocks:
            cpool.max_pool2d(b, 2, num_threads=1)

    t_kept, t_freed = _time_pair(kept, freed, repeat)
    rows.append(("this process: the blocks at one thread, each result kept, per worker",
                 t_kept / workers, None))
    rows.append(("this process: the blocks at one thread, each result freed, per worker",
                 t_freed / workers, None))
    return rows


def batch(gigabytes: float, folder: str):
    """(seconds of the batch command, of cp, bytes it moved, bytes cp moved)."""
    images = max(1, int(gigabytes * 1e9 / (256 * 112 * 112 * 4)))
    shape = (images, 256, 112, 112)
    src = os.path.join(folder, "in.npy")
    a = np.lib.format.open_memmap(src, mode="w+", dtype=np.float32, shape=shape)
    rng = np.random.default_rng(1)
    for i in range(0, images, 16):
        a[i:i + 16] = rng.standard_normal((min(16, images - i),) + shape[1:], dtype=np.float32)
    a.flush()
    del a
    os.sync()
    size = os.path.getsize(src)
    copy = os.path.join(folder, "copy.npy")
    t0 = time.perf_counter()
    subprocess.run(["cp", src, copy], check=True)
    os.sync()
    t_cp = time.perf_counter() - t0
    os.remove(copy)
    os.sync()
    dst = os.path.join(folder, "out.npy")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cpool", "pool", src, dst, "--op", "max", "--kernel",
                    "2", "--quiet"], check=True)
    os.sync()
    t_pool = time.perf_counter() - t0
    written = os.path.getsize(dst)
    check = np.load(dst, mmap_mode="r")[:2]
    np.testing.assert_array_equal(check, cpool.max_pool2d(np.load(src, mmap_mode="r")[:2], 2))
    return t_pool, t_cp, size + written, 2 * size


def main(args) -> int:
    try:
        import dask
    except ImportError:
        print("python -m cpool bench --dask needs Dask: pip install \"cpool[dask]\"",
              file=sys.stderr)
        return 2
    workers = max(args.threads or [2])
    print(f"cpool.dask: max 2x2 s2 on {SHAPE} float32 in chunks of {CHUNK} images, {workers} "
          f"workers, against in-memory `cpool.max_pool2d(x, 2)` at {workers} threads timed in "
          f"alternating rounds, best of {args.repeat} (one run):\n")
    print("| scheduler | cpool.dask ms | in-memory ms | of in-memory | target | |")
    print("|---|---|---|---|---|---|")
    missed = False
    measured = {"machine": machine(), "workers": workers, "shape": SHAPE, "chunk": CHUNK,
                "throughput": [], "batch": []}
    measured["machine"]["dask"] = dask.__version__
    for name, t_dask, t_mem in throughput(workers, args.repeat):
        row = {"how": name, "dask_ms": round(t_dask * 1e3, 1), "in_memory_ms": None,
               "of_in_memory": None}
        measured["throughput"].append(row)
        if t_mem is None:
            print(f"| {name} | {t_dask * 1e3:.1f} | — | — | | |")
            continue
        ratio = t_mem / t_dask
        row.update(in_memory_ms=round(t_mem * 1e3, 1), of_in_memory=round(ratio, 2))
        ok = ratio >= THROUGHPUT_TARGET
        missed |= not ok
        print(f"| {name} | {t_dask * 1e3:.1f} | {t_mem * 1e3:.1f} | {ratio:.2f} | "
              f">= {THROUGHPUT_TARGET} | {'met' if ok else 'MISSED'} |")
    if args.dask_gb > 0:
        folder = tempfile.mkdtemp(prefix="cpool-bench-", dir=args.dask_dir)
        try:
            t_pool, t_cp, moved, copied = batch(args.dask_gb, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        rate, cp_rate = moved / t_pool, copied / t_cp
        ok = rate / cp_rate >= BATCH_TARGET
        missed |= not ok
        print(f"\n`python -m cpool pool IN.npy OUT.npy --op max --kernel 2` on a "
              f"{copied / 2e9:.1f} GB file against `cp` of it, each followed by sync (bytes read "
              f"+ written per second):\n")
        print("| command | s | GB/s | of cp | target | |")
        print("|---|---|---|---|---|---|")
        print(f"| cp | {t_cp:.2f} | {cp_rate / 1e9:.2f} | 1.00 | | |")
        print(f"| python -m cpool pool | {t_pool:.2f} | {rate / 1e9:.2f} | {rate / cp_rate:.2f} | "
              f">= {BATCH_TARGET} | {'met' if ok else 'MISSED'} |")
        measured["batch"] = [
            {"command": "cp", "s": round(t_cp, 2), "gb_per_s": round(cp_rate / 1e9, 2),
             "of_cp": 1.0},
            {"command": "python -m cpool pool", "s": round(t_pool, 2),
             "gb_per_s": round(rate / 1e9, 2), "of_cp": round(rate / cp_rate, 2)}]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(measured, f, indent=1)
        print(f"\nwrote {args.json}")
    return 1 if missed and args.check else 0

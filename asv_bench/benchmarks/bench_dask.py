"""cpool.dask: max 2x2 stride 2 of a (64, 256, 112, 112) float32 array in chunks of 8 images on
the threaded scheduler with 2 workers, beside in-memory cpool at 2 threads (issue: >= 0.7 of its
throughput); and the cost of building a graph whose pooled axes are chunked too. Skipped where
Dask is not installed (the `dask` extra)."""
import time

import numpy as np

import cpool

from .common import SMALL, scaled

SHAPE = scaled((64, 256, 112, 112))
CHUNK = 1 if SMALL else 8
WORKERS = 2


def _best_alternating(fns, rounds=5):
    """Each of ``fns``' best time over ``rounds`` rounds, in each of which every one runs once in
    turn, so that drift in the machine's load affects them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def _dask():
    try:
        import dask.array as da

        import cpool.dask as cd
    except ImportError:
        raise NotImplementedError("Dask is not installed") from None
    return da, cd


class DaskMaxPool:
    def setup(self):
        da, cd = _dask()
        self.da = da
        self.x = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
        self.lazy = cd.max_pool2d(da.from_array(self.x, chunks=(CHUNK,) + SHAPE[1:]), 2)
        self.out = np.empty(self.lazy.shape, np.float32)

    def _store(self):
        self.da.store(self.lazy, self.out, lock=False, scheduler="threads",
                      num_workers=WORKERS)

    def time_store_threaded(self):
        self._store()

    def time_in_memory(self):
        cpool.max_pool2d(self.x, 2, num_threads=WORKERS)

    def track_of_in_memory(self):
        """In-memory time / cpool.dask time, timed in alternating rounds (best of 5 each)."""
        t_dask, t_mem = _best_alternating(
            (self._store, lambda: cpool.max_pool2d(self.x, 2, num_threads=WORKERS)))
        return t_mem / t_dask

    track_of_in_memory.unit = "ratio"


class DaskMisalignedBlocks:
    """The store above over an input whose float32 items start one byte off their alignment,
    as the blocks a Dask worker receives from another process do: cpool.dask copies each such
    block into an aligned buffer a slab of planes at a time (cpool.dask._realigned), beside the
    same graph over aligned input."""

    def setup(self):
        da, cd = _dask()
        self.da = da
        aligned = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
        buffer = np.empty(aligned.nbytes + 1, np.uint8)
        misaligned = np.ndarray(SHAPE, np.float32, buffer=buffer, offset=1)
        misaligned[...] = aligned
        self.lazy = {name: cd.max_pool2d(da.from_array(a, chunks=(CHUNK,) + SHAPE[1:]), 2)
                     for name, a in (("aligned", aligned), ("misaligned", misaligned))}
        self.out = np.empty(self.lazy["aligned"].shape, np.float32)

    def _store(self, name):
        self.da.store(self.lazy[name], self.out, lock=False, scheduler="threads",
                      num_workers=WORKERS)

    def time_store_threaded(self):
        self._store("misaligned")

    def track_of_aligned(self):
        """Aligned input's time / misaligned input's, timed in alternating rounds (best of 5)."""
        t_aligned, t_misaligned = _best_alternating(
            (lambda: self._store("aligned"), lambda: self._store("misaligned")))
        return t_aligned / t_misaligned

    track_of_aligned.unit = "ratio"


class DaskGraph:
    """Building the graph of a 3x3 stride-2 max over an array chunked on every axis (no work)."""

    def setup(self):
        self.da, self.cd = _dask()
        self.d = self.da.zeros((64, 64, 1024, 1024), chunks=(8, 64, 128, 128), dtype=np.float32)

    def time_build_graph(self):
        self.cd.max_pool2d(self.d, 3, 2, 1)

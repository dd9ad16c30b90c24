"""asv benchmarks for every cpool op, beside a NumPy-reference twin.

How to run them (compare a branch with main, a quick pass, the history): asv_bench/README.md.

``Pool`` times cpool (``time_cpool``) and measures its peak memory (``peakmem_cpool``);
``PoolNumPyReference`` does the same for the plain-NumPy baseline on the same input, so the
ratio is visible in one report. Set CPOOL_ASV_SMALL=1 for small shapes (CI smoke runs).
"""
import numpy as np

import cpool

from .common import ALL_THREADS, SMALL, scaled

try:
    from cpool import _baselines
except ImportError:  # older commits
    _baselines = None

THREADS = sorted({1, min(2, ALL_THREADS), ALL_THREADS})
_OUTS = {}


def _out_2x2(x):
    """An ``out=`` array for 2x2 stride-2 pooling of ``x``, made once per shape and dtype (a
    call that passes one times its validation, not an allocation)."""
    shape = x.shape[:-2] + (x.shape[-2] // 2, x.shape[-1] // 2)
    return _OUTS.setdefault((shape, x.dtype), np.empty(shape, x.dtype))


# op key -> (shape, cpool call, NumPy baseline); shapes are those of the speed targets.
OPS = {
    "max_2x2_s2": ((32, 256, 56, 56), lambda x, t: cpool.max_pool2d(x, 2, num_threads=t),
                   lambda x: _baselines.max_pool2d(x, 2, 2)),
    "max_3x3_s2_p1": ((32, 64, 112, 112), lambda x, t: cpool.max_pool2d(x, 3, 2, 1, num_threads=t),
                      lambda x: _baselines.max_pool2d(x, 3, 2, 1)),
    "max_2x2_s2_indices": ((32, 256, 56, 56),
                           lambda x, t: cpool.max_pool2d(x, 2, return_indices=True, num_threads=t),
                           lambda x: _baselines.max_pool2d(x, 2, 2)),
    "max_2x2_s2_few_planes": ((8, 3, 1024, 1024), lambda x, t: cpool.max_pool2d(x, 2, num_threads=t),
                              lambda x: _baselines.max_pool2d(x, 2, 2)),
    "max_2x2_one_window": ((1, 1, 2, 2), lambda x, t: cpool.max_pool2d(x, 2, num_threads=t),
                           None),
    "max_2x2_one_window_out": ((1, 1, 2, 2),
                               lambda x, t: cpool.max_pool2d(x, 2, num_threads=t, out=_out_2x2(x)),
                               None),
    "max_2x2_tiny": ((1, 16, 32, 32), lambda x, t: cpool.max_pool2d(x, 2, num_threads=t),
                     lambda x: _baselines.max_pool2d(x, 2, 2)),
    "avg_2x2_s2": ((32, 256, 56, 56), lambda x, t: cpool.avg_pool2d(x, 2, num_threads=t),
                   lambda x: _baselines.avg_pool2d(x, 2, 2)),
    "avg_3x3_s1_p1": ((32, 128, 28, 28), lambda x, t: cpool.avg_pool2d(x, 3, 1, 1, num_threads=t),
                      lambda x: _baselines.avg_pool2d(x, 3, 1, 1)),
    "max_3x3_s1_p1": ((32, 128, 28, 28), lambda x, t: cpool.max_pool2d(x, 3, 1, 1, num_threads=t),
                      lambda x: _baselines.max_pool2d(x, 3, 1, 1)),
    # The "same" 3x3 on rows wider than the small planes' (a plane-a-call kernel since 2026-12-04).
    "max_3x3_s1_p1_56_wide": ((8, 256, 56, 56),
                              lambda x, t: cpool.max_pool2d(x, 3, 1, 1, num_threads=t),
                              lambda x: _baselines.max_pool2d(x, 3, 1, 1)),
    "sum_2x2_s2": ((32, 256, 56, 56), lambda x, t: cpool.sum_pool2d(x, 2, num_threads=t),
                   lambda x: _baselines.sum_pool2d(x, 2, 2)),
    "stochastic_train_2x2_s2": ((32, 256, 56, 56),
                                lambda x, t: cpool.stochastic_pool2d(x, 2, seed=0, num_threads=t), None),
    "stochastic_train_3x3_s2_p1": ((32, 64, 112, 112),
                                   lambda x, t: cpool.stochastic_pool2d(x, 3, 2, 1, seed=0, num_threads=t),
                                   None),
    "stochastic_eval_2x2_s2": ((32, 256, 56, 56),
                               lambda x, t: cpool.stochastic_pool2d(x, 2, training=False, num_threads=t),
                               lambda x: _baselines.stochastic_eval(x, 2, 2)),
    "stochastic_eval_3x3_s1_p1": ((32, 128, 28, 28),
                                  lambda x, t: cpool.stochastic_pool2d(x, 3, 1, 1, training=False,
                                                                       num_threads=t),
                                  lambda x: _baselines.stochastic_eval(x, 3, 1, 1)),
    "global_max": ((256, 2048, 7, 7), lambda x, t: cpool.global_max_pool2d(x, num_threads=t),
                   lambda x: _baselines.global_max_pool2d(x)),
    "global_max_indices": ((256, 2048, 7, 7),
                           lambda x, t: cpool.global_max_pool2d(x, return_indices=True, num_threads=t),
                           lambda x: _baselines.global_max_pool2d(x)),
    "global_avg": ((256, 2048, 7, 7), lambda x, t: cpool.global_avg_pool2d(x, num_threads=t),
                   lambda x: _baselines.global_avg_pool2d(x)),
    "global_sum": ((256, 2048, 7, 7), lambda x, t: cpool.global_sum_pool2d(x, num_threads=t),
                   lambda x: _baselines.global_sum_pool2d(x)),
}


def _input(op, dtype):
    rng = np.random.default_rng(0)
    # Filled in setup, so timing never pays for lazily faulted pages.
    x = rng.standard_normal(scaled(OPS[op][0]), dtype=np.float32).astype(dtype)
    return np.abs(x) if op.startswith("stochastic") else x  # stochastic pooling: activations >= 0


class Pool:
    params = (list(OPS), ["float32", "float64"], THREADS)
    param_names = ["op", "dtype", "threads"]
    timeout = 300

    def setup(self, op, dtype, threads):
        self.ours = OPS[op][1]
        self.x = _input(op, dtype)
        self.ours(self.x, threads)  # warm up the thread pool

    def time_cpool(self, op, dtype, threads):
        self.ours(self.x, threads)

    def peakmem_cpool(self, op, dtype, threads):
        self.ours(self.x, threads)


class PoolNumPyReference:
    """The NumPy baseline of each Pool case (single-threaded), for the speed ratio."""

    params = (list(OPS), ["float32", "float64"])
    param_names = ["op", "dtype"]
    timeout = 300

    def setup(self, op, dtype):
        self.numpy = OPS[op][2]
        if self.numpy is None:
            raise NotImplementedError(f"{op} has no NumPy baseline")
        self.x = _input(op, dtype)

    def time_numpy(self, op, dtype):
        self.numpy(self.x)

    def peakmem_numpy(self, op, dtype):
        self.numpy(self.x)


class ShortPlanes:
    """Ops over short planes laid back to back (VGG's and ResNet's 14 x 14 maps; 13 x 13 for
    3x3 windows), which take a task's rows as one run of 256-bit steps: max with indices,
    its gradient and unpooling, stochastic evaluation and LP p = 2, float32. CPOOL_ASV_SMALL
    shrinks the batch, not the planes (the runs depend on their width)."""

    params = (["max_2x2_indices", "max_2x2_backward", "max_unpool_2x2", "stochastic_eval_2x2",
               "lp_p2_2x2", "max_3x3_s2_indices_13_wide"], THREADS)
    param_names = ["case", "threads"]
    timeout = 300

    def setup(self, case, threads):
        side = 13 if case.endswith("_13_wide") else 14
        shape = (1 if SMALL else 32, 64 if SMALL else 512, side, side)
        x = np.abs(np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
        y, idx = cpool.max_pool2d(x, 2, return_indices=True)
        calls = {
            "max_2x2_indices": lambda t: cpool.max_pool2d(x, 2, return_indices=True,
                                                          num_threads=t),
            "max_2x2_backward": lambda t: cpool.max_pool2d_backward(y, idx, shape,
                                                                    num_threads=t),
            "max_unpool_2x2": lambda t: cpool.max_unpool2d(y, idx, 2, num_threads=t),
            "stochastic_eval_2x2": lambda t: cpool.stochastic_pool2d(x, 2, training=False,
                                                                     num_threads=t),
            "lp_p2_2x2": lambda t: cpool.lp_pool2d(x, 2, 2, num_threads=t),
            "max_3x3_s2_indices_13_wide": lambda t: cpool.max_pool2d(
                x, 3, 2, return_indices=True, num_threads=t),
        }
        self.call = calls[case]
        self.call(threads)  # warm up the thread pool

    def time_pool(self, case, threads):
        self.call(threads)

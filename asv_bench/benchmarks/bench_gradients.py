"""asv benchmarks for the gradients and max_unpool2d, beside their forward op on the same input.

How to run them: asv_bench/README.md.
Each backward should stay within 2x of its forward (``time_forward`` in the same class). For
the max family (and max_unpool2d) the forward is the call that makes the indices they consume,
``return_indices=True``, as PyTorch's autograd records max_pool2d_with_indices.
"""
import numpy as np

import cpool

from .common import ALL_THREADS, scaled

THREADS = sorted({1, ALL_THREADS})


# op -> (shape, forward(x, t), prepare(x) -> args, backward(args, t))
OPS = {
    "max_2x2_s2": ((32, 256, 56, 56), lambda x, t: cpool.max_pool2d(x, 2, return_indices=True, num_threads=t),
                   lambda x: cpool.max_pool2d(x, 2, return_indices=True),
                   lambda x, a, t: cpool.max_pool2d_backward(a[0], a[1], x.shape, num_threads=t)),
    "max_3x3_s2_p1": ((32, 64, 112, 112),
                      lambda x, t: cpool.max_pool2d(x, 3, 2, 1, return_indices=True, num_threads=t),
                      lambda x: cpool.max_pool2d(x, 3, 2, 1, return_indices=True),
                      lambda x, a, t: cpool.max_pool2d_backward(a[0], a[1], x.shape, num_threads=t)),
    "max_3x3_s1_p1": ((32, 128, 28, 28),
                      lambda x, t: cpool.max_pool2d(x, 3, 1, 1, return_indices=True, num_threads=t),
                      lambda x: cpool.max_pool2d(x, 3, 1, 1, return_indices=True),
                      lambda x, a, t: cpool.max_pool2d_backward(a[0], a[1], x.shape, num_threads=t)),
    "avg_2x2_s2": ((32, 256, 56, 56), lambda x, t: cpool.avg_pool2d(x, 2, num_threads=t),
                   lambda x: cpool.avg_pool2d(x, 2),
                   lambda x, a, t: cpool.avg_pool2d_backward(a, x.shape, 2, num_threads=t)),
    "avg_3x3_s1_p1": ((32, 128, 28, 28), lambda x, t: cpool.avg_pool2d(x, 3, 1, 1, num_threads=t),
                      lambda x: cpool.avg_pool2d(x, 3, 1, 1),
                      lambda x, a, t: cpool.avg_pool2d_backward(a, x.shape, 3, 1, 1, num_threads=t)),
    "sum_2x2_s2": ((32, 256, 56, 56), lambda x, t: cpool.sum_pool2d(x, 2, num_threads=t),
                   lambda x: cpool.sum_pool2d(x, 2),
                   lambda x, a, t: cpool.sum_pool2d_backward(a, x.shape, 2, num_threads=t)),
    "global_avg": ((256, 2048, 7, 7), lambda x, t: cpool.global_avg_pool2d(x, num_threads=t),
                   lambda x: cpool.global_avg_pool2d(x),
                   lambda x, a, t: cpool.global_avg_pool2d_backward(a, x.shape, num_threads=t)),
    "global_max": ((256, 2048, 7, 7),
                   lambda x, t: cpool.global_max_pool2d(x, return_indices=True, num_threads=t),
                   lambda x: cpool.global_max_pool2d(x, return_indices=True),
                   lambda x, a, t: cpool.global_max_pool2d_backward(a[0], a[1], x.shape, num_threads=t)),
    "stochastic_2x2_s2": ((32, 256, 56, 56), lambda x, t: cpool.stochastic_pool2d(x, 2, seed=0, num_threads=t),
                          lambda x: cpool.stochastic_pool2d(x, 2, seed=0, return_indices=True),
                          lambda x, a, t: cpool.stochastic_pool2d_backward(a[0], a[1], x.shape, num_threads=t)),
    "max_unpool_2x2": ((32, 256, 56, 56),
                       lambda x, t: cpool.max_pool2d(x, 2, return_indices=True, num_threads=t),
                       lambda x: cpool.max_pool2d(x, 2, return_indices=True),
                       lambda x, a, t: cpool.max_unpool2d(a[0], a[1], 2, num_threads=t)),
}


class Gradients:
    params = (list(OPS), ["float32", "float64"], THREADS)
    param_names = ["op", "dtype", "threads"]
    timeout = 300

    def setup(self, op, dtype, threads):
        shape, self.forward, prepare, self.backward = OPS[op]
        rng = np.random.default_rng(0)
        x = rng.standard_normal(scaled(shape), dtype=np.float32).astype(dtype)
        self.x = np.abs(x) if op.startswith("stochastic") else x
        self.args = prepare(self.x)

    def time_forward(self, op, dtype, threads):
        self.forward(self.x, threads)

    def time_backward(self, op, dtype, threads):
        self.backward(self.x, self.args, threads)

    def peakmem_backward(self, op, dtype, threads):
        self.backward(self.x, self.args, threads)


class BufferCache:
    """What the buffer cache buys a loop that drops each gradient (docs/performance.md,
    "Result memory reused"): the 2x2 average backward, one thread, with the cache at its
    default limit and turned off (the OS then zeroes the result's fresh pages on every call)."""
    params = [["default", "off"]]
    param_names = ["cache"]

    def setup(self, cache):
        if not hasattr(cpool, "set_buffer_cache"):  # commits before the cache
            raise NotImplementedError
        x = np.random.default_rng(0).standard_normal(scaled((32, 256, 56, 56)), dtype=np.float32)
        self.shape, self.grad = x.shape, cpool.avg_pool2d(x, 2)
        self.previous = cpool.set_buffer_cache(0)
        if cache == "default":
            cpool.set_buffer_cache(self.previous)

    def teardown(self, cache):
        cpool.set_buffer_cache(self.previous)

    def time_avg_2x2_backward(self, cache):
        cpool.avg_pool2d_backward(self.grad, self.shape, 2, num_threads=1)

"""1-D signals and 3-D volumes: the cases of ``python -m cpool bench`` (max3d2, max3d3, avg3d2,
ndhwc_max3d2, max1d2, avg1d3, max1d3, max3d2b, max1d3s2i), whose table also times PyTorch on
the same arrays.
CPOOL_ASV_SMALL shrinks the batch and spatial axes and keeps the channels.
"""
import numpy as np

import cpool

from .common import ALL_THREADS, SMALL

THREADS = sorted({1, ALL_THREADS})


def _shape(shape, channels_last=False):
    if not SMALL:
        return shape
    if channels_last:  # (N, D, H, W, C)
        return (1,) + tuple(max(4, n // 4) for n in shape[1:-1]) + shape[-1:]
    return (1, max(1, shape[1] // 8)) + tuple(max(8, n // 4) for n in shape[2:])


# case -> (shape, channels last, call(x, threads))
CASES = {
    "max3d_2x2x2_s2": ((8, 32, 32, 112, 112), False,
                       lambda x, t: cpool.max_pool3d(x, 2, num_threads=t)),
    "max3d_3x3x3_s2_p1": ((4, 32, 32, 56, 56), False,
                          lambda x, t: cpool.max_pool3d(x, 3, 2, 1, num_threads=t)),
    "avg3d_2x2x2_s2": ((8, 32, 32, 112, 112), False,
                       lambda x, t: cpool.avg_pool3d(x, 2, num_threads=t)),
    "ndhwc_max3d_2x2x2_s2": ((8, 32, 112, 112, 32), True,
                             lambda x, t: cpool.max_pool3d(x, 2, axes=(1, 2, 3), num_threads=t)),
    "max3d_2x2x2_s2_indices": ((8, 32, 32, 112, 112), False,
                               lambda x, t: cpool.max_pool3d(x, 2, return_indices=True,
                                                             num_threads=t)),
    "max1d_k2_s2": ((64, 256, 4096), False, lambda x, t: cpool.max_pool1d(x, 2, num_threads=t)),
    "avg1d_k3_s1_p1": ((64, 256, 4096), False,
                       lambda x, t: cpool.avg_pool1d(x, 3, 1, 1, num_threads=t)),
    "max1d_k3_s1_p1": ((64, 256, 4096), False,
                       lambda x, t: cpool.max_pool1d(x, 3, 1, 1, num_threads=t)),
    "max1d_k3_s2_p1_indices": ((64, 256, 4096), False,
                               lambda x, t: cpool.max_pool1d(x, 3, 2, 1, return_indices=True,
                                                             num_threads=t)),
}


class Pool1d3d:
    params = (list(CASES), THREADS)
    param_names = ["case", "threads"]
    timeout = 300

    def setup(self, case, threads):
        shape, channels_last, self.call = CASES[case]
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal(_shape(shape, channels_last), dtype=np.float32)

    def time_pool(self, case, threads):
        self.call(self.x, threads)

    def peakmem_pool(self, case, threads):
        self.call(self.x, threads)


class MaxPool3dBackward:
    """max_pool3d_backward beside the forward that made its indices (target: within 2x)."""
    params = [THREADS]
    param_names = ["threads"]
    timeout = 300

    def setup(self, threads):
        rng = np.random.default_rng(0)
        x = rng.standard_normal(_shape((8, 32, 32, 112, 112)), dtype=np.float32)
        self.shape = x.shape
        self.values, self.indices = cpool.max_pool3d(x, 2, return_indices=True)

    def time_backward(self, threads):
        cpool.max_pool3d_backward(self.values, self.indices, self.shape, num_threads=threads)

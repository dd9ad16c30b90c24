"""Channels-last (NHWC) inputs, pooled in place with ``axes=(1, 2)``: the cases of
``python -m cpool bench`` (whose table also times the peers: torch channels_last, oneDNN, JAX,
onnxruntime). Shapes are (N, H, W, C); the scaling of CPOOL_ASV_SMALL applies to the leading
axes and keeps the channels.
"""
import numpy as np

import cpool

from .common import ALL_THREADS, SMALL

THREADS = sorted({1, ALL_THREADS})


def _shape(shape):
    if not SMALL:
        return shape
    n, h, w, c = shape
    return (max(1, n // 8), max(8, h // 4), max(8, w // 4), c)


# case -> (shape, dtype, call(x, threads))
CASES = {
    "max_2x2_s2": ((32, 56, 56, 256), "float32",
                   lambda x, t: cpool.max_pool2d(x, 2, axes=(1, 2), num_threads=t)),
    "avg_2x2_s2": ((32, 56, 56, 256), "float32",
                   lambda x, t: cpool.avg_pool2d(x, 2, axes=(1, 2), num_threads=t)),
    "max_3x3_s2_p1": ((32, 112, 112, 64), "float32",
                      lambda x, t: cpool.max_pool2d(x, 3, 2, 1, axes=(1, 2), num_threads=t)),
    "uint8_hwc_max_2x2": ((64, 224, 224, 3), "uint8",
                          lambda x, t: cpool.max_pool2d(x, 2, axes=(1, 2), num_threads=t)),
    "global_avg": ((256, 7, 7, 2048), "float32",
                   lambda x, t: cpool.global_avg_pool2d(x, axes=(1, 2), num_threads=t)),
    "global_max": ((256, 7, 7, 2048), "float32",
                   lambda x, t: cpool.global_max_pool2d(x, axes=(1, 2), num_threads=t)),
    "global_max_indices": ((256, 7, 7, 2048), "float32",
                           lambda x, t: cpool.global_max_pool2d(x, return_indices=True,
                                                                axes=(1, 2), num_threads=t)),
    "max_2x2_s2_indices": ((32, 56, 56, 256), "float32",
                           lambda x, t: cpool.max_pool2d(x, 2, return_indices=True, axes=(1, 2),
                                                         num_threads=t)),
}


class ChannelsLast:
    params = (list(CASES), THREADS)
    param_names = ["case", "threads"]
    timeout = 300

    def setup(self, case, threads):
        shape, dtype, self.call = CASES[case]
        rng = np.random.default_rng(0)
        self.x = (rng.standard_normal(_shape(shape), dtype=np.float32) * 50).astype(dtype)

    def time_pool(self, case, threads):
        self.call(self.x, threads)

    def peakmem_pool(self, case, threads):
        self.call(self.x, threads)


class ChannelsLastBackward:
    """max_pool2d_backward on NHWC, beside the forward that made its indices (within 2x)."""
    params = [THREADS]
    param_names = ["threads"]
    timeout = 300

    def setup(self, threads):
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal(_shape((32, 56, 56, 256)), dtype=np.float32)
        self.y, self.idx = cpool.max_pool2d(self.x, 2, return_indices=True, axes=(1, 2))

    def time_forward(self, threads):
        cpool.max_pool2d(self.x, 2, return_indices=True, axes=(1, 2), num_threads=threads)

    def time_backward(self, threads):
        cpool.max_pool2d_backward(self.y, self.idx, self.x.shape, axes=(1, 2), num_threads=threads)

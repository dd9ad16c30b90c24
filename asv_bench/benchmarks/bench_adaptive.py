"""Adaptive, LP and fractional pooling and their gradients: the cases of ``python -m cpool
bench`` (adavg7, adavg1, admax6, admax6i, admax5, adavg10, lp2, lp3, lp4, lp15, lp15r, frac2,
frac2i and their backwards), whose table also times PyTorch on the same arrays.
CPOOL_ASV_SMALL shrinks the batch and keeps the planes' sizes (adaptive windows depend on
them).
"""
import numpy as np

import cpool

from .common import ALL_THREADS, SMALL

THREADS = sorted({1, ALL_THREADS})


def _shape(shape):
    return (1, max(1, shape[1] // 8)) + shape[2:] if SMALL else shape


# case -> (shape, forward call(x, threads))
CASES = {
    "adaptive_avg_14_to_7": ((32, 512, 14, 14),
                             lambda x, t: cpool.adaptive_avg_pool2d(x, 7, num_threads=t)),
    "adaptive_avg_7_to_1": ((32, 2048, 7, 7),
                            lambda x, t: cpool.adaptive_avg_pool2d(x, 1, num_threads=t)),
    "adaptive_max_13_to_6": ((32, 256, 13, 13),
                             lambda x, t: cpool.adaptive_max_pool2d(x, 6, num_threads=t)),
    "adaptive_max_13_to_6_indices": ((32, 256, 13, 13),
                                     lambda x, t: cpool.adaptive_max_pool2d(
                                         x, 6, return_indices=True, num_threads=t)),
    "adaptive_max_13_to_5": ((32, 256, 13, 13),
                             lambda x, t: cpool.adaptive_max_pool2d(x, 5, num_threads=t)),
    "adaptive_avg_10_to_7": ((32, 512, 10, 10),
                             lambda x, t: cpool.adaptive_avg_pool2d(x, 7, num_threads=t)),
    "lp_p2_2x2": ((32, 256, 56, 56), lambda x, t: cpool.lp_pool2d(x, 2, 2, num_threads=t)),
    "lp_p3_2x2": ((32, 256, 56, 56), lambda x, t: cpool.lp_pool2d(x, 3, 2, num_threads=t)),
    "lp_p4_2x2": ((32, 256, 56, 56), lambda x, t: cpool.lp_pool2d(x, 4, 2, num_threads=t)),
    "lp_p1.5_2x2": ((32, 256, 56, 56), lambda x, t: cpool.lp_pool2d(x, 1.5, 2, num_threads=t)),
    "lp_p1.5_2x2_relu": ((32, 256, 56, 56),
                         lambda x, t: cpool.lp_pool2d(x, 1.5, 2, num_threads=t)),
    "fractional_2x2_ratio_0.7": ((32, 64, 112, 112),
                                 lambda x, t: cpool.fractional_max_pool2d(
                                     x, 2, output_ratio=0.7, seed=0, num_threads=t)),
}


class AdaptiveLpFractional:
    params = (list(CASES), THREADS)
    param_names = ["case", "threads"]
    timeout = 300

    def setup(self, case, threads):
        shape, self.call = CASES[case]
        self.x = np.random.default_rng(0).standard_normal(_shape(shape), dtype=np.float32)
        if case.endswith("_relu"):  # half zeros, as after a ReLU
            np.maximum(self.x, 0, out=self.x)

    def time_pool(self, case, threads):
        self.call(self.x, threads)

    def peakmem_pool(self, case, threads):
        self.call(self.x, threads)


class AdaptiveLpFractionalBackward:
    """The gradients (target: each within 2x of its forward)."""
    params = (["adaptive_avg_14_to_7", "adaptive_max_13_to_6", "lp_p2_2x2",
               "lp_p1.5_2x2_relu", "fractional_2x2_ratio_0.7"], THREADS)
    param_names = ["case", "threads"]
    timeout = 300

    def setup(self, case, threads):
        shape = _shape(CASES[case][0])
        x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
        if case == "adaptive_avg_14_to_7":
            g = np.ones(shape[:2] + (7, 7), np.float32)
            self.call = lambda t: cpool.adaptive_avg_pool2d_backward(g, shape, num_threads=t)
        elif case.startswith("lp_"):  # p = 2, and p = 1.5 on a ReLU's output
            p = 2 if case == "lp_p2_2x2" else 1.5
            if p != 2:
                np.maximum(x, 0, out=x)
            g = np.ones(shape[:2] + (shape[2] // 2, shape[3] // 2), np.float32)
            self.call = lambda t: cpool.lp_pool2d_backward(g, x, p, 2, num_threads=t)
        else:
            if case == "adaptive_max_13_to_6":
                y, idx = cpool.adaptive_max_pool2d(x, 6, return_indices=True)
                back = cpool.adaptive_max_pool2d_backward
            else:
                y, idx = cpool.fractional_max_pool2d(x, 2, output_ratio=0.7, seed=0,
                                                     return_indices=True)
                back = cpool.fractional_max_pool2d_backward
            g = np.ones_like(y)
            self.call = lambda t: back(g, idx, shape, num_threads=t)

    def time_backward(self, case, threads):
        self.call(threads)

"""Every op over a grid of geometries and dtypes, saved to an .npz: run once per kernel build
(``CPOOL_KERNELS=baseline`` / ``avx2``) by test_kernel_builds.py, which compares the files.

Usage: python _kernel_battery.py OUT.npz
"""
import sys

import numpy as np

import cpool
from _helpers import (ALL_DTYPES, FLOAT_DTYPES, fits, random_array, signed_zeros_and_payloads,
                      window_grid)

# Odd widths and heights, so vector loops of every width end in a scalar tail.
SHAPE = (2, 3, 23, 37)


def fitted(step):
    """(g, (k, s, p, d, c)) for every ``step``-th geometry of the grid that fits SHAPE."""
    return [(g, w) for g, w in enumerate(window_grid()[::step]) if fits(SHAPE, *w)]


def battery():
    rng = np.random.default_rng(2024)
    results = {}

    def keep(name, value):
        for i, v in enumerate(value if isinstance(value, tuple) else (value,)):
            results[f"{name}#{i}"] = np.asarray(v)

    for dtype in ALL_DTYPES:
        x = random_array(rng, SHAPE, dtype)
        if np.dtype(dtype).kind == "f":
            x[0, 1, 5, 7] = np.nan
            x[1, 2, 20, 30] = np.inf
        for g, (k, s, p, d, c) in fitted(7):
            tag = f"{np.dtype(dtype).name}/{g}"
            keep(f"max/{tag}", cpool.max_pool2d(x, k, s, p, d, c, return_indices=True))
            keep(f"maxv/{tag}", cpool.max_pool2d(x, k, s, p, d, c))
            keep(f"sum/{tag}", cpool.sum_pool2d(x, k, s, p, d, c))
            if d == 1:
                keep(f"avg/{tag}", cpool.avg_pool2d(x, k, s, p, c, count_include_pad=bool(g % 2)))
        for keepdims in (False, True):
            keep(f"gmax/{dtype}/{keepdims}", cpool.global_max_pool2d(x, keepdims, return_indices=True))
            keep(f"gmaxv/{dtype}/{keepdims}", cpool.global_max_pool2d(x, keepdims))
            keep(f"gsum/{dtype}/{keepdims}", cpool.global_sum_pool2d(x, keepdims))
            keep(f"gavg/{dtype}/{keepdims}", cpool.global_avg_pool2d(x, keepdims))

    # Max over signed zeros, ties and NaNs of several payloads (a -NaN among them): both
    # builds must return the scan's own cell, bit for bit (the test compares every bit of the
    # results named "bits/"), the first zero of a tie and the last NaN.
    for dtype in FLOAT_DTYPES:
        x = signed_zeros_and_payloads(rng, SHAPE, dtype)
        mixed = rng.random(SHAPE) < 0.5  # and ordinary values beside them
        x[mixed] = random_array(rng, SHAPE, dtype)[mixed]
        last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        for g, (k, s, p, d, c) in fitted(5):
            tag = f"{np.dtype(dtype).name}/{g}"
            keep(f"bits/max/{tag}", cpool.max_pool2d(x, k, s, p, d, c, return_indices=True))
            keep(f"bits/maxv/{tag}", cpool.max_pool2d(x, k, s, p, d, c))
            keep(f"bits/nhwc_max/{tag}", cpool.max_pool2d(last, k, s, p, d, c, axes=(1, 2)))
        keep(f"bits/gmax/{dtype}", cpool.global_max_pool2d(x, return_indices=True))
        keep(f"bits/gmaxv/{dtype}", cpool.global_max_pool2d(x))
        keep(f"bits/nhwc_gmax/{dtype}", cpool.global_max_pool2d(last, axes=(1, 2)))
        # The other max ops, which reduce with the same kernels or tiles of their own.
        for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1)):
            tag = f"{np.dtype(dtype).name}/{k}{s}{p}"
            keep(f"bits/max1d/{tag}", cpool.max_pool1d(x, k, s, p, return_indices=True))
            keep(f"bits/max3d/{tag}", cpool.max_pool3d(x, k, s, p, return_indices=True))
        for size in ((6, 9), (7, 13), (1, 1)):
            keep(f"bits/admax/{np.dtype(dtype).name}/{size}",
                 cpool.adaptive_max_pool2d(x, size, return_indices=True))
        keep(f"bits/frac/{dtype}",
             cpool.fractional_max_pool2d(x, 2, output_ratio=0.7, return_indices=True, seed=3))

    # Channels-last max over pixels read directly: windows inside the row take vectors held
    # across their cells in the AVX2 build, a cell a loop in the baseline's.
    for dtype in FLOAT_DTYPES:
        x = random_array(rng, (2, 9, 11, 45), dtype)
        x[0, 3, 4, 7] = np.nan
        x[1, 5, 6, 40] = -np.inf
        for k, s, p in ((3, 2, 1), (2, 2, 0), (3, 1, 1)):
            keep(f"nhwc_max/{np.dtype(dtype).name}/{k}{s}{p}",
                 cpool.max_pool2d(x, k, s, p, axes=(1, 2)))

    for dtype in FLOAT_DTYPES:
        a = np.maximum(random_array(rng, SHAPE, dtype), 0)
        a[rng.random(SHAPE) < 0.3] = 0
        # 2x2 stride-2 first: the gradients' one-pass tiling path; then stride-2 windows with a
        # padding of 1, whose training draws the AVX2 build takes with the left edge masked.
        grid = [(2, 2, 0, 1, False), (2, 2, 0, 1, True), (3, 2, 1, 1, False),
                (2, 2, 1, 1, True)] + window_grid()[::5]
        for g, (k, s, p, d, c) in enumerate(grid):
            if d != 1 or not fits(SHAPE, k, s, p, d, c):
                continue
            tag = f"{np.dtype(dtype).name}/{g}"
            y, idx = cpool.stochastic_pool2d(a, k, s, p, seed=9, return_indices=True, ceil_mode=c)
            keep(f"stoch/{tag}", (y, idx))
            keep(f"stochv/{tag}", cpool.stochastic_pool2d(a, k, s, p, seed=9, ceil_mode=c))
            keep(f"stocheval/{tag}", cpool.stochastic_pool2d(a, k, s, p, training=False, ceil_mode=c))
            keep(f"stochb/{tag}", cpool.stochastic_pool2d_backward(y, idx, SHAPE))
            m, mi = cpool.max_pool2d(a, k, s, p, 1, c, return_indices=True)
            grad = random_array(rng, m.shape, dtype)
            keep(f"maxb/{tag}", cpool.max_pool2d_backward(grad, mi, SHAPE))
            keep(f"avgb/{tag}", cpool.avg_pool2d_backward(grad, SHAPE, k, s, p, c, bool(g % 2)))
            keep(f"sumb/{tag}", cpool.sum_pool2d_backward(grad, SHAPE, k, s, p, 1, c))
        # The "same" 3x3 at stride 1: the evaluation's and the gradients' plane-a-call paths
        # in the AVX2 build, the row loop and the ring gather in the baseline's.
        keep(f"stocheval_same/{np.dtype(dtype).name}",
             cpool.stochastic_pool2d(a, 3, 1, 1, training=False))
        grad = random_array(rng, SHAPE, dtype)
        for include in (True, False):
            keep(f"avgb_same/{np.dtype(dtype).name}/{include}",
                 cpool.avg_pool2d_backward(grad, SHAPE, 3, 1, 1, count_include_pad=include))
        keep(f"sumb_same/{np.dtype(dtype).name}", cpool.sum_pool2d_backward(grad, SHAPE, 3, 1, 1))
        for k in (2, 3):  # unpooling inverts a pooling whose windows tile the plane
            tile = a[..., : SHAPE[2] // k * k, : SHAPE[3] // k * k]
            m, mi = cpool.max_pool2d(tile, k, return_indices=True)
            keep(f"unpool/{np.dtype(dtype).name}/{k}", cpool.max_unpool2d(m, mi, k))
        gm, gi = cpool.global_max_pool2d(a, return_indices=True)
        keep(f"gmaxb/{dtype}", cpool.global_max_pool2d_backward(gm, gi, SHAPE))
        keep(f"gavgb/{dtype}", cpool.global_avg_pool2d_backward(gm, SHAPE))
        keep(f"gsumb/{dtype}", cpool.global_sum_pool2d_backward(gm, SHAPE))
        # LP pooling: p = 2 squares in the window kernels; the others raise to the power by
        # the float32 kernel's pow (_powers.pxd), whose polynomials must round alike in both
        # builds. Signed input with NaN, zeros and inf: every special lane.
        signed = random_array(rng, SHAPE, dtype)
        signed[0, 1, 5, 7] = np.nan
        signed[1, 2, 20, 30] = np.inf
        signed[1, 0, ::3, ::4] = 0
        for norm in (2, 1.5, 3, -0.7):
            for k, s in ((2, 2), ((3, 2), 1)):
                tag = f"{np.dtype(dtype).name}/{norm}/{k}"
                y = cpool.lp_pool2d(signed, norm, k, s)
                keep(f"lp/{tag}", y)
                keep(f"lpb/{tag}", cpool.lp_pool2d_backward(random_array(rng, y.shape, dtype),
                                                            signed, norm, k, s))
    return results


if __name__ == "__main__":
    import cpool._kernels

    out = battery()
    out["__simd__"] = np.array(cpool._kernels.SIMD)
    np.savez(sys.argv[1], **out)

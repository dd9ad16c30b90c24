"""Every op over empty batches, with nothing readable where an empty batch's window bounds lie.

Run as a script by test_contracts.py::test_no_kernel_reads_an_empty_batchs_window_bounds.
An empty batch's geometry holds empty arrays (its window bounds and counts are not made: their
size follows the output's, and nothing will be read). A kernel that reads one anyway (a bound
read before the kernel sees it has no rows to do) reads past NumPy's 1-byte allocation, which
only AddressSanitizer reports. Here those arrays are replaced by empty arrays that start where
a page no one may read begins, so such a read crashes this process instead, and faulthandler
names the call. Prints the number of calls made.
"""
import faulthandler
import itertools

import numpy as np

import cpool
from _helpers import unreadable_empty
from cpool import _validation

_concatenate = np.concatenate


def _guarded_concatenate(parts, *args, **kwargs):
    """np.concatenate, whose empty results (the kernels' packed bounds of an empty batch)
    are unreadable too."""
    result = _concatenate(parts, *args, **kwargs)
    return unreadable_empty((0,), result.dtype) if result.size == 0 else result


def _like(a: np.ndarray) -> np.ndarray:
    """An unreadable empty array of ``a``'s shape and dtype (a gradient's inputs)."""
    return unreadable_empty(a.shape, a.dtype)


SPATIAL = {1: (64,), 2: (16, 16), 3: (8, 16, 16)}
# The fast paths' windows: 2x2 tiles, the "same" 3x3, stride-2 runs, overlapping windows.
WINDOWS = [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0)]


def _calls():
    """(name, call) for every op over empty batches (no images, or images of no channels) of
    every layout, dtype and window; the inputs are unreadable too."""
    for (batch, channels), n, channels_last in itertools.product(
            [(0, 3), (2, 0)], SPATIAL, (False, True)):
        spatial = SPATIAL[n]
        shape = (batch,) + spatial + (channels,) if channels_last else (batch, channels) + spatial
        axes = tuple(range(1, n + 1)) if channels_last else tuple(range(-n, 0))
        for dtype in (np.float32, np.float64, np.uint8, np.int32):
            x = unreadable_empty(shape, dtype)
            floats = x.dtype.kind == "f"
            for k, s, p in WINDOWS:
                yield f"max_pool{n}d {k, s, p}", lambda: getattr(cpool, f"max_pool{n}d")(
                    x, k, s, p, return_indices=True, axes=axes)
                yield f"max_pool{n}d {k, s, p}", lambda: getattr(cpool, f"max_pool{n}d")(
                    x, k, s, p, axes=axes)
                yield f"sum_pool{n}d {k, s, p}", lambda: getattr(cpool, f"sum_pool{n}d")(
                    x, k, s, p, axes=axes)
                if not floats:
                    continue
                for include in (True, False):
                    yield f"avg_pool{n}d {k, s, p}", lambda: getattr(
                        cpool, f"avg_pool{n}d")(x, k, s, p, count_include_pad=include,
                                                axes=axes)
                for norm in (2, 1.5):
                    yield f"lp_pool{n}d {k, s}", lambda: getattr(cpool, f"lp_pool{n}d")(
                        x, norm, k, s, axes=axes)
                if n == 2:
                    yield f"stochastic_pool2d {k, s, p}", lambda: cpool.stochastic_pool2d(
                        x, k, s, p, training=False, axes=axes)
                    yield f"stochastic_pool2d {k, s, p}", lambda: cpool.stochastic_pool2d(
                        x, k, s, p, seed=1, return_indices=True, axes=axes)
            for size in (8, 7, 1):
                yield f"adaptive_max_pool{n}d {size}", lambda: getattr(
                    cpool, f"adaptive_max_pool{n}d")(x, size, return_indices=True, axes=axes)
                if floats:
                    yield f"adaptive_avg_pool{n}d {size}", lambda: getattr(
                        cpool, f"adaptive_avg_pool{n}d")(x, size, axes=axes)
            for kind in ("max", "avg", "sum"):
                yield f"global_{kind}_pool{n}d", lambda: getattr(
                    cpool, f"global_{kind}_pool{n}d")(x, axes=axes)
            if floats and n > 1:
                yield f"fractional_max_pool{n}d", lambda: getattr(
                    cpool, f"fractional_max_pool{n}d")(x, 2, output_size=5, seed=1,
                                                       return_indices=True, axes=axes)
        # Gradients (float32), from the forward results' shapes.
        x = unreadable_empty(shape, np.float32)
        for k, s, p in WINDOWS:
            values, indices = map(_like, getattr(cpool, f"max_pool{n}d")(
                x, k, s, p, axes=axes, return_indices=True))
            yield f"max_pool{n}d_backward {k, s, p}", lambda: getattr(
                cpool, f"max_pool{n}d_backward")(values, indices, shape, axes=axes)
            yield f"max_unpool{n}d {k, s, p}", lambda: getattr(cpool, f"max_unpool{n}d")(
                values, indices, k, s, p, axes=axes)
            for kind in ("avg", "sum"):
                yield f"{kind}_pool{n}d_backward {k, s, p}", lambda: getattr(
                    cpool, f"{kind}_pool{n}d_backward")(values, shape, k, s, p, axes=axes)
            lp = _like(getattr(cpool, f"lp_pool{n}d")(x, 2, k, s, axes=axes))
            yield f"lp_pool{n}d_backward {k, s}", lambda: getattr(
                cpool, f"lp_pool{n}d_backward")(lp, x, 2, k, s, axes=axes)
            if n == 2:
                v, i = map(_like, cpool.stochastic_pool2d(x, k, s, p, seed=1, axes=axes,
                                                          return_indices=True))
                yield f"stochastic_pool2d_backward {k, s, p}", lambda: (
                    cpool.stochastic_pool2d_backward(v, i, shape, axes=axes))
        for size in (8, 7):
            v, i = map(_like, getattr(cpool, f"adaptive_max_pool{n}d")(
                x, size, return_indices=True, axes=axes))
            yield f"adaptive_max_pool{n}d_backward {size}", lambda: getattr(
                cpool, f"adaptive_max_pool{n}d_backward")(v, i, shape, axes=axes)
            yield f"adaptive_avg_pool{n}d_backward {size}", lambda: getattr(
                cpool, f"adaptive_avg_pool{n}d_backward")(v, shape, axes=axes)
        v, i = map(_like, getattr(cpool, f"global_max_pool{n}d")(x, return_indices=True,
                                                                 axes=axes))
        yield f"global_max_pool{n}d_backward", lambda: getattr(
            cpool, f"global_max_pool{n}d_backward")(v, i, shape, axes=axes)
        for kind in ("avg", "sum"):
            yield f"global_{kind}_pool{n}d_backward", lambda: getattr(
                cpool, f"global_{kind}_pool{n}d_backward")(v, shape, axes=axes)
        if n > 1:
            v, i = map(_like, getattr(cpool, f"fractional_max_pool{n}d")(
                x, 2, output_size=5, seed=1, return_indices=True, axes=axes))
            yield f"fractional_max_pool{n}d_backward", lambda: getattr(
                cpool, f"fractional_max_pool{n}d_backward")(v, i, shape, axes=axes)


def main() -> None:
    """Guard the empty arrays, then make every call (in this process only: pytest's doctest
    collection imports this module, which must then change nothing)."""
    faulthandler.enable()
    _validation._NO_WINDOWS = unreadable_empty((0,), np.intp)
    _validation.NO_COUNTS = unreadable_empty((0,), np.int64)
    np.concatenate = _guarded_concatenate
    calls = 0
    for name, call in _calls():
        results = call()
        for r in results if isinstance(results, tuple) else (results,):
            assert r.size == 0, (name, r.shape)
        calls += 1
    print(calls)


if __name__ == "__main__":
    main()

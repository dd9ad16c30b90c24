"""Plain-NumPy pooling used as the speed baseline by ``python -m cpool`` (not a test oracle).

Each function is the idiomatic NumPy way to pool: a reshape for non-overlapping windows, else
``np.pad`` + ``sliding_window_view``. Defaults only: no ceil_mode, no dilation.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _windows(x, k, s, p, fill):
    if p:
        x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)], constant_values=fill)
    return sliding_window_view(x, (k, k), axis=(-2, -1))[..., ::s, ::s, :, :]


def _blocks(x, k):
    H, W = x.shape[-2:]
    return x[..., : H - H % k, : W - W % k].reshape(x.shape[:-2] + (H // k, k, W // k, k))


def max_pool2d(x, k, s, p=0):
    if s == k and p == 0:
        return _blocks(x, k).max(axis=(-3, -1))
    return _windows(x, k, s, p, -np.inf).max(axis=(-2, -1))


def avg_pool2d(x, k, s, p=0):
    """count_include_pad=True semantics (the padded window is the divisor)."""
    if s == k and p == 0:
        return _blocks(x, k).mean(axis=(-3, -1), dtype=x.dtype)
    return _windows(x, k, s, p, 0).mean(axis=(-2, -1), dtype=x.dtype)


def sum_pool2d(x, k, s, p=0):
    if s == k and p == 0:
        return _blocks(x, k).sum(axis=(-3, -1), dtype=x.dtype)
    return _windows(x, k, s, p, 0).sum(axis=(-2, -1), dtype=x.dtype)


def global_max_pool2d(x):
    return x.max(axis=(-2, -1))


def global_avg_pool2d(x):
    return x.mean(axis=(-2, -1), dtype=x.dtype)


def global_sum_pool2d(x):
    return x.sum(axis=(-2, -1), dtype=x.dtype)


def stochastic_eval(x, k, s, p=0):
    """Stochastic pooling's eval output sum(a^2)/sum(a) from two NumPy window sums."""
    sums = sum_pool2d(x, k, s, p)
    squares = sum_pool2d(x * x, k, s, p)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sums == 0, 0, squares / sums).astype(x.dtype)

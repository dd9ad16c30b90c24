"""Test data and the registry of public ops shared by the test files."""
import contextlib
import itertools

import numpy as np

import cpool

FLOAT_DTYPES = [np.float32, np.float64]
INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES


def random_array(rng, shape, dtype):
    """Random data that exercises sign, magnitude and ties (never only zeros or ones)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 10).astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -10**6), min(info.max, 10**6)
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)


def tolerance(dtype, ref):
    """(rtol, atol) for float results; atol scales with the data so cancellation is fair."""
    finite = np.abs(ref[np.isfinite(ref)])
    scale = float(finite.max()) if finite.size else 1.0
    if np.dtype(dtype) == np.float32:
        return 2e-6, 2e-6 * scale
    return 1e-12, 1e-12 * scale


def window_grid(max_cases=None):
    """(kernel, stride, padding, dilation, ceil_mode) combos PyTorch accepts."""
    kernels = [1, 2, 3, 4, (2, 3), (3, 1), (1, 4)]
    strides = [None, 1, 2, 3, (1, 2)]
    paddings = [0, 1, 2, (0, 1)]
    dilations = [1, 2, (1, 2)]
    cases = []
    for k, s, p, d, c in itertools.product(kernels, strides, paddings, dilations, [False, True]):
        kk = (k, k) if np.isscalar(k) else k
        pp = (p, p) if np.isscalar(p) else p
        if any(pi > ki // 2 for pi, ki in zip(pp, kk)):  # PyTorch's padding bound
            continue
        cases.append((k, s, p, d, c))
    return cases


def fits(shape, k, s, p, d, c):
    """Whether the geometry gives a non-empty output for `shape` (skip the rest)."""
    from _reference import out_size

    if p == "same":  # ceil(n / s) outputs
        return all(n >= 1 for n in shape[-2:])
    kk = (k, k) if np.isscalar(k) else k
    ss = kk if s is None else ((s, s) if np.isscalar(s) else s)
    p = 0 if p == "valid" else p
    pp = (p, p) if np.isscalar(p) else p
    dd = (d, d) if np.isscalar(d) else d
    return all(out_size(n, ki, si, pi, pi, di, c) >= 1
               for n, ki, si, pi, di in zip(shape[-2:], kk, ss, pp, dd))


# Every public op with a representative call, for the contract tests (layouts, out=, threads).
OPS = {
    "max_pool2d": lambda x, **kw: cpool.max_pool2d(x, 3, stride=2, padding=1, **kw),
    "max_pool2d_indices": lambda x, **kw: cpool.max_pool2d(x, (2, 3), stride=(2, 1), dilation=(1, 2),
                                                           ceil_mode=True, return_indices=True, **kw),
    "avg_pool2d": lambda x, **kw: cpool.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                                   count_include_pad=False, **kw),
    "sum_pool2d": lambda x, **kw: cpool.sum_pool2d(x, 2, stride=1, padding=1, dilation=2, **kw),
    "global_max_pool2d": lambda x, **kw: cpool.global_max_pool2d(x, return_indices=True, **kw),
    "global_avg_pool2d": lambda x, **kw: cpool.global_avg_pool2d(x, **kw),
    "global_sum_pool2d": lambda x, **kw: cpool.global_sum_pool2d(x, **kw),
    # Windows of their own sizes and bounds: overlapping, uneven, per plane (fractional).
    "adaptive_max_pool2d": lambda x, **kw: cpool.adaptive_max_pool2d(x, (4, None), return_indices=True,
                                                                     **kw),
    "adaptive_avg_pool2d": lambda x, **kw: cpool.adaptive_avg_pool2d(x, (5, 3), **kw),
    "lp_pool2d": lambda x, **kw: cpool.lp_pool2d(x, 3, (2, 3), stride=(1, 2), ceil_mode=True, **kw),
    "lp_pool2d_p2": lambda x, **kw: cpool.lp_pool2d(x, 2, 2, **kw),
    "fractional_max_pool2d": lambda x, **kw: cpool.fractional_max_pool2d(
        x, 2, output_ratio=0.6, return_indices=True, seed=7, **kw),
}


def window_sum_gradients(n, k, s, p, d, c):
    """``(avg, call)`` for sum pooling's ``n``-D gradient (``avg`` None) and, without dilation,
    average pooling's over padded counts, real counts and an override of 3 (``avg`` as
    ``_reference.window_sum_backward`` takes it); ``call(grad, input_shape, **kw)``."""
    sum_backward = getattr(cpool, f"sum_pool{n}d_backward")
    avg_backward = getattr(cpool, f"avg_pool{n}d_backward")
    yield None, lambda g, shape, **kw: sum_backward(g, shape, k, s, p, d, c, **kw)
    if d == 1:
        for avg in ((True, None), (False, None), (True, 3)):
            yield avg, lambda g, shape, avg=avg, **kw: avg_backward(g, shape, k, s, p, c, *avg,
                                                                    **kw)


def assert_identical(a, b):
    """Bitwise equality of results (arrays or (values, indices) tuples), dtype included."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for u, v in zip(a, b):
            assert_identical(u, v)
        return
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    np.testing.assert_array_equal(a.view(np.uint8) if a.dtype.kind == "b" else a, b)
    if a.dtype.kind == "f":  # same NaN positions and same signs of zero
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


def byte_strided(base, offset=1, extra=1, last=None):
    """``base``'s values in an array the kernels cannot address in whole items: its data pointer
    ``offset`` bytes into a byte buffer, each axis' stride ``extra`` bytes more than C order's
    (not a multiple of the item size), and the last axis' stride ``last`` (default: the item)."""
    base = np.asarray(base)
    item = base.itemsize
    strides, step = [], item if last is None else last
    for n in reversed(base.shape):
        strides.append(step)
        step = step * max(n, 1) + extra
    strides = tuple(reversed(strides))
    span = sum((n - 1) * s for n, s in zip(base.shape, strides) if n > 0) + item
    buf = np.zeros(offset + max(span, item) + 64, np.uint8)
    a = np.ndarray(base.shape, base.dtype, buffer=buf, offset=offset, strides=strides)
    a[...] = base
    return a


def record_field(base):
    """``base``'s values as field ``v`` of a packed record array: one byte before each value, so
    the field's data pointer and strides are off the item size (``s["v"]``)."""
    base = np.asarray(base)
    rec = np.zeros(base.shape, [("pad", "u1"), ("v", base.dtype)])
    rec["v"] = base
    return rec["v"]


def misaligned_copy(base):
    """``base``'s values, C-contiguous, at a data pointer one byte off the item size."""
    base = np.asarray(base)
    buf = np.zeros(base.nbytes + 1, np.uint8)
    a = np.ndarray(base.shape, base.dtype, buffer=buf, offset=1)
    a[...] = base
    return a


def as_bits(a):
    """``a``'s values as the unsigned integers of their bits: compared, they tell a -0 from a
    +0 and one NaN payload from another."""
    a = np.asarray(a)
    return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])


def signed_zeros_and_payloads(rng, shape, dtype):
    """Float data of -0, +0, -1 and NaNs of several payloads (a -NaN among them): a max must
    return the scan's own cell, bit for bit (the first zero in row-major order, the last
    NaN)."""
    dtype = np.dtype(dtype)
    uint = {4: np.uint32, 8: np.uint64}[dtype.itemsize]
    quiet = np.array(np.nan, dtype).view(uint)
    nans = [(quiet | uint(p)).view(dtype) for p in (1, 2, 3)]
    nans.append((quiet | uint(5) | (uint(1) << uint(8 * dtype.itemsize - 1))).view(dtype))  # -NaN
    values = np.array([-0.0, 0.0, -1.0, -0.0, 0.0] + nans, dtype)
    p = np.array([0.25, 0.25, 0.3, 0, 0, 0.05, 0.05, 0.05, 0.05])
    return values[rng.choice(len(values), size=shape, p=p / p.sum())]


# avg/sum/max 3x3 stride 1 padding 1 and stochastic evaluation's (the "same" 3x3, a
# plane-a-call kernel of its own in the AVX2 build): row widths around its vector steps and past
# the small planes' 32 (which it takes up to 126 x 126 planes), heights with edge rows (2 and 3:
# no more rows than its ring of buffer rows lags; max takes rows in pairs, so 1 and 3 end on a
# row of its own), each divisor kind. Its sweep lags 3 rows on rows under 5 vectors, 2 on wider
# ones: 16 and 17 (float64), 32 and 33 (float32) either side. Max's last vector of a row holds
# W % 8 values (float32; W % 4, float64) or a whole vector: 10, 11 and 14 make every count.
SAME_3X3_WIDTHS = [3, 4, 5, 7, 8, 9, 10, 11, 14, 15, 16, 17, 20, 28, 32, 33, 40, 56, 61]
SAME_3X3_HEIGHTS = [1, 2, 3, 28]
SAME_3X3_MODES = ["include_pad", "exclude_pad", "override_4", "override_7", "sum"]


def same_3x3_mode(mode):
    """``SAME_3X3_MODES``' average arguments (count_include_pad, divisor_override); None for
    sums."""
    if mode == "sum":
        return None
    return mode != "exclude_pad", int(mode[-1]) if mode.startswith("override") else None


def same_3x3_planes(rng, H, W, dtype):
    """(3, 2, H, W) values over five decades, with -0s (a plane of them: every window's sum a
    -0 but for the kernels' added +0), an inf and a NaN."""
    x = (rng.standard_normal((3, 2, H, W)) * 10.0 ** rng.integers(-2, 3, (3, 2, H, W))).astype(dtype)
    x[0, 0, 0, :2] = -0.0
    x[1, 1] = -0.0
    x[2, 0, -1, -1] = np.inf
    x[2, 1, 0, 0] = np.nan
    return x


def rows_apart(x):
    """``x``'s values with its rows 3 values further apart than its width (a slice of wider
    rows): a plane whose rows are not contiguous."""
    wide = np.zeros(x.shape[:-1] + (x.shape[-1] + 3,), x.dtype)
    wide[..., :x.shape[-1]] = x
    return wide[..., :x.shape[-1]]


def planes_apart(x):
    """``x``'s values with a row of gap after each plane: planes whose rows do not run on
    from the last plane's."""
    tall = np.zeros(x.shape[:-2] + (x.shape[-2] + 1, x.shape[-1]), x.dtype)
    tall[..., :-1, :] = x
    return tall[..., :-1, :]


def _before_a_guard_page(data_pages: int) -> np.ndarray:
    """``data_pages`` pages of bytes (uint8) followed by a page that cannot be read, in a
    mapping of their own. Skips where ``mprotect`` is not available."""
    import ctypes
    import mmap

    import pytest
    page = mmap.PAGESIZE
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mapping = mmap.mmap(-1, (data_pages + 1) * page)
    except (OSError, AttributeError, TypeError):
        pytest.skip("no anonymous mapping with mprotect here")
    raw = np.frombuffer(mapping, np.uint8)
    guard = raw.ctypes.data + data_pages * page
    if libc.mprotect(ctypes.c_void_p(guard), ctypes.c_size_t(page), 0) != 0:
        pytest.skip("mprotect refused the guard page")
    return raw[:data_pages * page]


def at_page_end(base):
    """``base``'s values, C-contiguous, ending at the last byte before a page that cannot be
    read: a kernel that reads past the array's end (a vector load past a row's last tap)
    crashes the test instead of reading other memory unseen."""
    import mmap
    base = np.asarray(base)
    raw = _before_a_guard_page(max(1, -(-base.nbytes // mmap.PAGESIZE)))
    a = raw[raw.size - base.nbytes:].view(base.dtype).reshape(base.shape)
    a[...] = base
    return a


def unreadable_empty(shape, dtype) -> np.ndarray:
    """An empty array of ``shape`` (some entry 0) and ``dtype`` whose data pointer is the
    first byte of a page that cannot be read: any read of it crashes (NumPy's own empty
    arrays point at a 1-byte allocation, whose over-reads only a sanitizer sees)."""
    raw = _before_a_guard_page(1)
    a = np.ndarray(shape, dtype, buffer=raw.base, offset=raw.size)
    assert a.size == 0, shape
    return a


def odd_layouts(base):
    """The same logical array in layouts that are not aligned to the item size."""
    return {
        "record_field": record_field(base),
        "odd_row_stride": byte_strided(base, offset=0, extra=1),
        "odd_strides_misaligned": byte_strided(base, offset=3, extra=5),
        "odd_last_axis_stride": byte_strided(base, offset=1, extra=0, last=base.itemsize + 1),
        "misaligned_contiguous": misaligned_copy(base),
    }


@contextlib.contextmanager
def general_path():
    """Every windowed kernel takes its general path (each window's in-bounds taps over an
    unpadded row: the path of kernels much wider than the input), so that grids of ordinary
    geometries can check it against the fast paths.

    The plans recorded for repeated calls are dropped on the way in and out: a call made
    before (the fast path's, with the same arguments) would otherwise replay its recorded
    plan, fast path and all, and one made inside would replay the general path after."""
    from cpool import _validation

    saved = _validation._PADDED_ROW_SLACK, _validation._STOCHASTIC_FAST_TAPS
    _validation._RECIPES.clear()
    _validation._PADDED_ROW_SLACK, _validation._STOCHASTIC_FAST_TAPS = -(2**62), 0
    try:
        yield
    finally:
        _validation._PADDED_ROW_SLACK, _validation._STOCHASTIC_FAST_TAPS = saved
        _validation._RECIPES.clear()


@contextlib.contextmanager
def rows_past_the_caches():
    """Windows of one input row at stride 1 or 2 (a 1-D input's), and the stride-1 sums'
    gradients, are written past the caches by the kernels' non-temporal stores
    (cpool_stream_row), whatever the output's size:
    the path of outputs larger than the caches, on arrays small enough for a test."""
    from cpool._kernels import _openmp

    before = _openmp.set_stream_store_bytes(0)
    try:
        yield
    finally:
        _openmp.set_stream_store_bytes(before)


def stacked_rows(pool, x, k, s, reps=400):
    """``pool(x)`` on planes small enough for the kernels' one-pass-per-plane path, and the
    same windows taken from ``reps`` copies of each plane stacked along H (a plane far too tall
    for that path: row by row), H a multiple of the stride so the copies' windows line up.
    Returns both, in the small planes' shape."""
    H = x.shape[-2]
    small = pool(x)
    tall = pool(np.concatenate([x] * reps, axis=-2))
    per_copy = H // s  # output rows from one copy's start to the next's
    last = per_copy * (reps - 1)
    return small, tall[..., :small.shape[-2], :], tall[..., last:last + small.shape[-2], :]

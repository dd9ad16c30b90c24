"""``axes=``: pooling over any two axes, channels-last (NHWC, HWC) included.

The rule under test, for every op: pooling ``x`` over ``axes`` equals pooling
``np.moveaxis(x, axes, (-2, -1))`` over its last two axes and moving the pooled axes back, bit for
bit (values, indices, signs of zero, NaN positions). The default-axes results are themselves
checked against the NumPy reference and PyTorch in the per-op test files.
"""
import numpy as np
import pytest

import cpool
from _helpers import assert_identical, random_array, tolerance, window_grid

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

# (shape, axes): channels-last batches and images, the default, and orders that are not.
LAYOUTS = [
    ((2, 7, 9, 3), (1, 2)),     # NHWC
    ((2, 7, 9, 3), (-3, -2)),   # NHWC, negative form
    ((7, 9, 4), (0, 1)),        # HWC
    ((7, 9, 17), (0, 1)),       # HWC, odd channel count
    ((2, 6, 5, 64), (1, 2)),    # NHWC, many channels
    ((1, 6, 5, 1), (1, 2)),     # C = 1
    ((2, 3, 7, 9), (-2, -1)),   # NCHW (today's default)
    ((2, 9, 7, 3), (2, 1)),     # W before H
    ((2, 7, 3, 9), (1, 3)),     # N H C W
    ((7, 2, 9, 3), (0, 2)),     # H N W C
    ((2, 7, 9, 3, 2), (1, 2)),  # two trailing axes
]
LAYOUT_IDS = [f"{s}-{a}" for s, a in LAYOUTS]


def _moved(x, axes):
    """``x`` with ``axes`` last, copied to C order: a view would be channels-last memory,
    which cpool pools with the channels-last kernels (the ones under test)."""
    return np.ascontiguousarray(np.moveaxis(x, axes, (-2, -1)))


def _back(result, axes, ndim):
    """A default-axes result with its last two axes moved to ``axes`` of an ndim-D array."""
    if isinstance(result, tuple):
        return tuple(_back(r, axes, ndim) for r in result)
    return np.ascontiguousarray(np.moveaxis(result, (-2, -1), tuple(a % ndim for a in axes)))


def _global_back(result, axes, ndim, keepdims):
    if isinstance(result, tuple):
        return tuple(_global_back(r, axes, ndim, keepdims) for r in result)
    return _back(result, axes, ndim) if keepdims else result


WINDOWED = {
    "max": lambda x, **kw: cpool.max_pool2d(x, 3, 2, 1, **kw),
    "max_indices": lambda x, **kw: cpool.max_pool2d(x, (2, 3), (2, 1), (1, 0), (1, 2), True, True,
                                                    **kw),
    "max_ceil": lambda x, **kw: cpool.max_pool2d(x, 2, ceil_mode=True, return_indices=True, **kw),
    "avg": lambda x, **kw: cpool.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False,
                                            **kw),
    "avg_override": lambda x, **kw: cpool.avg_pool2d(x, 2, 1, divisor_override=3, **kw),
    "avg_same": lambda x, **kw: cpool.avg_pool2d(x, 3, 2, "same", **kw),
    "sum": lambda x, **kw: cpool.sum_pool2d(x, 2, 1, 1, 2, **kw),
    "sum_2x2": lambda x, **kw: cpool.sum_pool2d(x, 2, **kw),
}
FLOAT_ONLY = {
    "stochastic_train": lambda x, **kw: cpool.stochastic_pool2d(np.abs(x), 2, seed=3,
                                                                return_indices=True, **kw),
    "stochastic_eval": lambda x, **kw: cpool.stochastic_pool2d(np.abs(x), 3, 1, 1, training=False,
                                                               **kw),
}
GLOBAL = {
    "global_max": lambda x, **kw: cpool.global_max_pool2d(x, return_indices=True, **kw),
    "global_avg": lambda x, **kw: cpool.global_avg_pool2d(x, **kw),
    "global_sum": lambda x, **kw: cpool.global_sum_pool2d(x, **kw),
}


def _with_specials(x, rng):
    """Ties, signed zeros and NaN (floats) so that the scan-order rules are exercised."""
    x = x.copy()
    if x.dtype.kind == "f":
        flat = x.reshape(-1)
        pos = rng.choice(flat.size, size=max(1, flat.size // 5), replace=False)
        flat[pos[0::3]] = -0.0
        flat[pos[1::3]] = 0.0
        flat[pos[2::7]] = np.nan
    else:
        x //= np.array(max(1, min(1000, np.iinfo(x.dtype).max // 16)), x.dtype)  # many ties
    return x


@pytest.mark.parametrize("shape,axes", LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int32, np.int64])
@pytest.mark.parametrize("name", sorted(WINDOWED))
def test_windowed_equals_moved(rng, name, dtype, shape, axes):
    x = _with_specials(random_array(rng, shape, dtype), rng)
    op = WINDOWED[name]
    expected = _back(op(_moved(x, axes)), axes, x.ndim)
    assert_identical(op(x, axes=axes), expected)


@pytest.mark.parametrize("shape,axes", LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize("name", sorted(FLOAT_ONLY))
def test_stochastic_equals_moved(rng, name, shape, axes):
    x = random_array(rng, shape, np.float32)
    op = FLOAT_ONLY[name]
    assert_identical(op(x, axes=axes), _back(op(_moved(x, axes)), axes, x.ndim))


@pytest.mark.parametrize("shape,axes", LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int64])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", sorted(GLOBAL))
def test_global_equals_moved(rng, name, keepdims, dtype, shape, axes):
    x = _with_specials(random_array(rng, shape, dtype), rng)
    op = GLOBAL[name]
    got = op(x, keepdims=keepdims, axes=axes)
    expected = _global_back(op(_moved(x, axes), keepdims=keepdims), axes, x.ndim, keepdims)
    if name == "global_max" or np.dtype(dtype).kind != "f":
        assert_identical(got, expected)
    else:  # float sums may add in another order: equal to rounding
        assert got.dtype == expected.dtype and got.shape == expected.shape
        rtol, atol = tolerance(dtype, np.abs(x))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("channels", [5, 17])  # through the row buffer / read directly
@pytest.mark.parametrize("k,s,p,d,c", window_grid())
def test_nhwc_window_grid(rng, k, s, p, d, c, channels):
    """Every geometry of the shared grid, channels-last against channels-first."""
    x = _with_specials(random_array(rng, (2, 9, 8, channels), np.float32), rng)
    try:
        expected = cpool.max_pool2d(_moved(x, (1, 2)), k, s, p, d, c, True)
    except ValueError:  # an empty output
        with pytest.raises(ValueError):
            cpool.max_pool2d(x, k, s, p, d, c, True, axes=(1, 2))
        return
    assert_identical(cpool.max_pool2d(x, k, s, p, d, c, True, axes=(1, 2)),
                     _back(expected, (1, 2), 4))
    assert_identical(cpool.sum_pool2d(x, k, s, p, d, c, axes=(1, 2)),
                     _back(cpool.sum_pool2d(_moved(x, (1, 2)), k, s, p, d, c), (1, 2), 4))
    if d == 1:
        for include in (False, True):
            assert_identical(
                cpool.avg_pool2d(x, k, s, p, c, include, axes=(1, 2)),
                _back(cpool.avg_pool2d(_moved(x, (1, 2)), k, s, p, c, include), (1, 2), 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int64])
@pytest.mark.parametrize("channels", [8, 9, 33, 256])
def test_nhwc_2x2_tiles_read_directly(rng, dtype, channels):
    """2x2 windows at stride 2 over pixels read straight from the input (wide enough for the
    direct path; narrower ones of uint8 take the row buffer) take loops over each output
    pixel's lanes (the sum's own: columns folded, then added; the max the interior windows',
    in row-major scan order): the bits of the planes' kernels, with ties, signed zeros and NaN, on rows of even
    and odd widths, with a last partial window row or column (ceil_mode, which leaves the
    fast path), a slice of the channels, and on 1 to 3 threads."""
    for H, W in ((4, 6), (5, 7), (2, 2), (6, 17)):
        x = _with_specials(random_array(rng, (2, H, W, channels), dtype), rng)
        for view in (x, x[..., 1:]):
            for c in (False, True):
                for threads in (1, 3):
                    kw = dict(axes=(1, 2), num_threads=threads)
                    moved = _moved(view, (1, 2))
                    assert_identical(cpool.max_pool2d(view, 2, ceil_mode=c, **kw),
                                     _back(cpool.max_pool2d(moved, 2, ceil_mode=c), (1, 2), 4))
                    assert_identical(cpool.sum_pool2d(view, 2, ceil_mode=c, **kw),
                                     _back(cpool.sum_pool2d(moved, 2, ceil_mode=c), (1, 2), 4))
                    assert_identical(cpool.avg_pool2d(view, 2, ceil_mode=c, **kw),
                                     _back(cpool.avg_pool2d(moved, 2, ceil_mode=c), (1, 2), 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [16, 40, 256])
def test_nhwc_2x2_sums_finish_as_they_are_written(rng, dtype, channels):
    """Channels-last sums over 2x2 (2x2x2) windows at stride 2 in whole vectors write what
    the pass over the row after them would have (cpool_direct_sums_2x2's mode): the sum's
    +0 (a window of -0s sums to +0), an average's quotient where every window's count is a
    power of two (the default divisor, divisor_override 2 or 8; 3 and -4 keep the division
    pass, -4 a power of two's negative), adaptive average's zero_first rule (8 -> 4 is 2x2
    windows at stride 2); the bits of the channels-first kernels, 1 and 3 threads, on
    tiny values whose quotients underflow and on -0s."""
    tiny = np.finfo(dtype).smallest_subnormal
    for nd, shape in ((2, (2, 8, 10, channels)), (3, (2, 4, 8, 6, channels))):
        x = rng.choice(np.array([-0.0, 0.0, -tiny, tiny, -1.5, 2.0], dtype), size=shape)
        axes = tuple(range(1, nd + 1))
        last = tuple(range(-nd, 0))
        planes = np.ascontiguousarray(np.moveaxis(x, axes, last))  # the planes' kernels
        avg = cpool.avg_pool2d if nd == 2 else cpool.avg_pool3d
        sum_ = cpool.sum_pool2d if nd == 2 else cpool.sum_pool3d
        adaptive = cpool.adaptive_avg_pool2d if nd == 2 else cpool.adaptive_avg_pool3d
        calls = [lambda a, **kw: sum_(a, 2, **kw), lambda a, **kw: avg(a, 2, **kw),
                 lambda a, **kw: adaptive(a, tuple(n // 2 for n in shape[1:-1]), **kw)]
        calls += [lambda a, d=d, **kw: avg(a, 2, divisor_override=d, **kw) for d in (2, 8, 3, -4)]
        for call in calls:
            want = np.ascontiguousarray(np.moveaxis(call(planes), last, axes))
            for threads in (1, 3):
                got = call(x, axes=axes, num_threads=threads)
                assert_identical(got, want)


def _with_payload_nans(x, rng):
    """:func:`_with_specials` plus NaNs of several payloads and both signs (floats), so that
    which NaN a max keeps (the last in scan order) shows in its bits."""
    x = _with_specials(x, rng)
    if x.dtype.kind == "f":
        bits = x.view(np.uint32 if x.dtype == np.float32 else np.uint64).reshape(-1)
        quiet = 0x7FC00000 if x.dtype == np.float32 else 0x7FF8000000000000
        sign = 0x80000000 if x.dtype == np.float32 else 0x8000000000000000
        pos = rng.choice(bits.size, size=max(1, bits.size // 9), replace=False)
        bits[pos] = quiet | (np.arange(pos.size) % 5 + 1)
        bits[pos[::2]] |= sign
    return x


MAX_VALUES = ["signed_zeros", "one_nan", "nan_payloads"]


def _max_values(kind, rng, shape, dtype):
    """Inputs for the scan-order rules of max: ``signed_zeros``, most windows' max a zero of
    either sign and no NaN (vector loops that skip the NaN select keep their result);
    ``one_nan``, one NaN in one window (the rest of its row or lanes stays on those loops);
    ``nan_payloads``, NaNs of several payloads everywhere. Integers: many ties."""
    if np.dtype(dtype).kind != "f" or kind == "nan_payloads":
        return _with_payload_nans(random_array(rng, shape, dtype), rng)
    if kind == "signed_zeros":
        return rng.choice(np.array([-2.0, -1.0, -0.0, 0.0, 0.5], dtype), size=shape,
                          p=[0.2, 0.2, 0.28, 0.28, 0.04])
    x = random_array(rng, shape, dtype)
    x[(shape[0] - 1,) + tuple(min(2, n - 1) for n in shape[1:-1]) + (shape[-1] - 3,)] = np.nan
    return x


@pytest.mark.parametrize("values", MAX_VALUES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int16])
@pytest.mark.parametrize("channels", [8, 12, 32, 45, 64, 130])
def test_nhwc_max_interior_windows(rng, dtype, channels, values):
    """Channels-last max windows that lie in the row (the interior outputs of padded rows;
    every output of unpadded ones) read their cells in scan order, held in vectors across the
    cells where the build has them (whole groups of four vectors, single vectors, then a
    scalar tail: 8, 12, 32, 45 and 64 lanes cover each mix), a cell a loop otherwise (other
    dtypes, the baseline build, pixels over 512 bytes: 130 float32 lanes): the
    bits of the channels-first kernels (NaN payloads included) on each of _max_values's
    inputs (the vector loops skip the NaN select per cell and leave lanes that read a NaN to
    the scan), windows of 1 to 25 cells (odd and even counts), dilation, ceil_mode's
    overhang (edges on the general loops), a slice of the channels, 1 and 3 threads; windows
    of more cells than the interior loops take (9x9) keep the general loops."""
    if values != "nan_payloads" and np.dtype(dtype).kind != "f":
        pytest.skip("integers: nan_payloads makes their ties")
    x = _max_values(values, rng, (2, 9, 11, channels), dtype)
    geometries = [(3, 2, 1, 1, False), (3, 1, 0, 1, False), (3, 2, 1, 1, True), (2, 2, 0, 1, True),
                  ((2, 3), (1, 2), (1, 0), 1, False), (3, 1, 1, 2, False), (5, 3, 2, 1, True),
                  (1, 1, 0, 1, False), (9, 1, 4, 1, False)]
    for view in (x, x[..., 1:]):
        moved = _moved(view, (1, 2))
        for k, s, p, d, c in geometries:
            want = _back(cpool.max_pool2d(moved, k, s, p, d, c), (1, 2), 4)
            for threads in (1, 3):
                got = cpool.max_pool2d(view, k, s, p, d, c, axes=(1, 2), num_threads=threads)
                assert_identical(got, want)
                if x.dtype.kind == "f":
                    np.testing.assert_array_equal(_bits(got), _bits(want))


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


@pytest.mark.parametrize("dtype,channels", [(np.float32, 24), (np.float32, 136),
                                            (np.float32, 256), (np.float64, 68),
                                            (np.float64, 130)])
@pytest.mark.parametrize("values", MAX_VALUES)
def test_channels_last_max_2x2_in_vectors(rng, dtype, channels, values):
    """Channels-last max 2x2 (2x2x2) at stride 2 on pixels of whole vectors takes a pass a
    slice over its four cells (the AVX2 build), without PyTorch's NaN test per cell: a row
    where a window read a NaN is scanned again (130 float64 lanes: the general loops).
    The bits (NaN payloads included)
    are the channels-first kernels': windows whose max is a zero of either sign with no NaN
    (the vector loop's result stands), one NaN in one window (its row scanned again, the
    rest not), NaNs of several payloads everywhere; odd widths and depths (a last column or
    slice no window covers), 1 and 3 threads."""
    shapes = {2: (2, 6, 9, channels), 3: (2, 5, 4, 7, channels)}
    for nd, shape in shapes.items():
        x = _max_values(values, rng, shape, dtype)
        axes = tuple(range(1, nd + 1))
        pool = cpool.max_pool2d if nd == 2 else cpool.max_pool3d
        last = tuple(range(-nd, 0))
        planes = np.ascontiguousarray(np.moveaxis(x, axes, last))  # the planes' kernels
        want = np.ascontiguousarray(np.moveaxis(pool(planes, 2), last, axes))
        for threads in (1, 3):
            got = pool(x, 2, axes=axes, num_threads=threads)
            assert_identical(got, want)
            np.testing.assert_array_equal(_bits(got), _bits(want))


# (kernel, stride, padding, dilation) over 2-D and 3-D channels-last windows: 4 to 16 cells
# (the vector kernel's), 18 (the scan's), dilated, padded (interior windows in the row).
ARGMAX_GEOMETRIES = {
    2: [(2, 2, 0, 1), (3, 2, 1, 1), (3, 1, 1, 1), (2, 1, 0, 2), ((3, 2), (2, 1), (1, 0), 1),
        (4, 2, 1, 1), ((1, 3), 1, 0, (1, 2))],
    3: [(2, 2, 0, 1), ((2, 3, 3), 2, (0, 1, 1), 1), ((1, 2, 2), 1, 0, 1)],
}


@pytest.mark.parametrize("dtype,channels", [(np.float32, 8), (np.float32, 24),
                                            (np.float32, 64), (np.float32, 12),
                                            (np.float64, 12), (np.float64, 24),
                                            (np.float64, 6)])
@pytest.mark.parametrize("values", MAX_VALUES + ["ties"])
def test_channels_last_max_indices_in_vectors(rng, dtype, channels, values):
    """Channels-last max with indices over float windows that lie in the row, of up to 16
    cells, keeps each vector's max and its cell in registers (the AVX2 build's
    cpool_direct_argmax), returning at the first window that read a NaN, which the scan
    takes with the windows after it. Values, their bits (zeros' signs, NaN payloads) and
    indices are the channels-first kernels': zeros of either sign as most windows' max,
    one NaN, NaN payloads everywhere, and small integers (ties everywhere: the first
    cell in scan order wins); lanes that are not whole vectors (12 float32, 6 float64)
    take the scan."""
    for nd, geometries in ARGMAX_GEOMETRIES.items():
        shape = (2, 6, 9, channels) if nd == 2 else (2, 5, 4, 7, channels)
        if values == "ties":
            x = rng.integers(-2, 3, size=shape).astype(dtype)
        else:
            x = _max_values(values, rng, shape, dtype)
        axes = tuple(range(1, nd + 1))
        pool = cpool.max_pool2d if nd == 2 else cpool.max_pool3d
        last = tuple(range(-nd, 0))
        planes = np.ascontiguousarray(np.moveaxis(x, axes, last))  # the planes' kernels
        for k, s, p, d in geometries:
            want = [np.ascontiguousarray(np.moveaxis(r, last, axes))
                    for r in pool(planes, k, s, p, d, return_indices=True)]
            for threads in (1, 3):
                got = pool(x, k, s, p, d, return_indices=True, axes=axes, num_threads=threads)
                assert_identical(got[0], want[0])
                np.testing.assert_array_equal(_bits(got[0]), _bits(want[0]))
                np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("channels", [3, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_nhwc_clipped_geometry(rng, channels, dtype):
    """Kernels and padding far wider than the rows: the general (clipped) path."""
    x = _with_specials(random_array(rng, (2, 5, 3, channels), dtype), rng)
    for k, s, p, d in [((3, 200), (1, 50), (1, 100), 1), ((2, 90), 1, (1, 45), 1), ((1, 2), 1, 0, (1, 2))]:
        for op in (lambda a, **kw: cpool.max_pool2d(a, k, s, p, d, True, True, **kw),
                   lambda a, **kw: cpool.sum_pool2d(a, k, s, p, d, True, **kw)):
            assert_identical(op(x, axes=(1, 2)), _back(op(_moved(x, (1, 2))), (1, 2), 4))
        if d == 1:
            op = lambda a, **kw: cpool.avg_pool2d(a, k, s, p, True, False, **kw)  # noqa: E731
            assert_identical(op(x, axes=(1, 2)), _back(op(_moved(x, (1, 2))), (1, 2), 4))


@pytest.mark.parametrize("make", [
    lambda a: a[..., 1:18],                    # a channel slice: pixels wider than their channels
    lambda a: a[..., ::2],                     # strided channels
    lambda a: a[:, ::-1, :, 2:5],              # reversed rows
    lambda a: a[:, :, 1:, :],                  # rows wider than the pixels read
    lambda a: np.moveaxis(np.ascontiguousarray(np.moveaxis(a, -1, 1)), 1, -1),  # NCHW memory
    lambda a: np.asfortranarray(a),
], ids=["channel-slice", "strided-channels", "reversed-rows", "column-slice", "nchw-memory",
        "fortran"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(WINDOWED) + sorted(GLOBAL))
def test_channels_last_views(rng, name, make, dtype):
    """Every memory layout of one NHWC array gives the same bits (float64 sums included: the
    order of a sum depends on the shape only)."""
    base = _with_specials(random_array(rng, (2, 7, 6, 20), dtype), rng)
    x = make(base)
    op = {**WINDOWED, **GLOBAL}[name]
    assert_identical(op(x, axes=(1, 2)), op(np.ascontiguousarray(x), axes=(1, 2)))


@pytest.mark.parametrize("name", sorted(WINDOWED) + sorted(GLOBAL))
def test_nhwc_thread_counts_bitwise_identical(rng, name):
    op = {**WINDOWED, **GLOBAL}[name]
    for shape in [(1, 33, 31, 64), (9, 17, 15, 3)]:  # one image many channels; many images, 3
        x = _with_specials(random_array(rng, shape, np.float32), rng)
        one = op(x, axes=(1, 2), num_threads=1)
        for n in (2, 3, 5):
            assert_identical(op(x, axes=(1, 2), num_threads=n), one)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint8, np.int32,
                                   np.int64, np.uint64])
@pytest.mark.parametrize("shape", [(3, 480, 130), (1, 1440, 256), (2, 594, 65),
                                   (3, 24, 20, 130), (1, 40, 36, 256), (2, 9, 66, 65),
                                   (3, 4, 6, 20, 130), (1, 4, 10, 36, 256), (2, 3, 3, 66, 65)])
def test_channels_last_global_ops_split_into_channel_blocks(rng, shape, dtype):
    # Regression (2026-12-06): where an image's channels are split into blocks (tasks) over
    # the threads, the channels-last global kernels shared one block's start and length among
    # the threads (a prange body that passed them by address; from 68ded25 on): at two
    # threads or more global max, sum and avg read another task's channels, and sums came out
    # wrong (even NaN). 1-D to 3-D images of 65 to 256 channels, 1 to 3 images, split into
    # blocks at 2 to 4 threads; every result is one thread's, bit for bit, and the
    # channels-first planes kernel's (integer sums exact, maxima and their indices NumPy's).
    n = len(shape) - 2
    x = _with_specials(random_array(rng, shape, dtype), rng)
    axes = tuple(range(1, n + 1))
    moved = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    for name in ("max", "avg", "sum"):
        op = getattr(cpool, f"global_{name}_pool{n}d")
        kw = {"return_indices": True} if name == "max" else {}
        one = op(x, axes=axes, num_threads=1, **kw)
        for threads in (2, 3, 4):
            assert_identical(op(x, axes=axes, num_threads=threads, **kw), one)
        planes = op(moved, num_threads=1, **kw)
        if name == "max" or np.dtype(dtype).kind != "f":
            assert_identical(one, planes)
        else:
            np.testing.assert_allclose(one, planes, *tolerance(one.dtype, planes))
    spatial = x.reshape(x.shape[0], -1, x.shape[-1])
    if np.dtype(dtype).kind != "f":  # exact sums, maxima and the first maximum's position
        np.testing.assert_array_equal(cpool.global_sum_pool1d(spatial, axes=(1,), num_threads=2),
                                      spatial.sum(axis=1))
    values, where = cpool.global_max_pool1d(spatial, return_indices=True, axes=(1,), num_threads=3)
    np.testing.assert_array_equal(values, np.max(spatial, axis=1))
    if np.dtype(dtype).kind != "f":
        np.testing.assert_array_equal(where, np.argmax(spatial, axis=1))


def test_result_is_c_contiguous_in_the_callers_order(rng):
    x = random_array(rng, (2, 8, 6, 5), np.float32)
    for axes in [(1, 2), (2, 1), (0, 2)]:
        y = cpool.max_pool2d(x, 2, axes=axes)
        assert y.flags.c_contiguous
    y = cpool.max_pool2d(x, 2, axes=(1, 2))
    assert y.shape == (2, 4, 3, 5)
    assert cpool.global_avg_pool2d(x, axes=(1, 2)).shape == (2, 5)
    assert cpool.global_avg_pool2d(x, keepdims=True, axes=(1, 2)).shape == (2, 1, 1, 5)


def _channels_last_memory(x, order):
    """``x`` (C order) with its memory laid out in axis ``order``, outermost first: a view of
    ``x.transpose(order)``'s C-ordered copy, in ``x``'s axis order."""
    return np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))


CHANNELS_LAST_MEMORY = {  # (shape, memory order, op over the default axes)
    "NCHW seen, NHWC memory": ((2, 20, 7, 6), (0, 2, 3, 1), None),
    "CHW seen, HWC memory": ((5, 9, 8), (1, 2, 0), None),
    "NCL seen, NLC memory (1-D)": ((2, 12, 11), (0, 2, 1), "1d"),
    "NCDHW seen, NDHWC memory (3-D)": ((2, 9, 5, 6, 7), (0, 2, 3, 4, 1), "3d"),
}
OPS_1D_3D = {
    "1d": [lambda x, **kw: cpool.max_pool1d(x, 3, 2, 1, return_indices=True, **kw),
           lambda x, **kw: cpool.avg_pool1d(x, 3, 2, 1, ceil_mode=True, **kw),
           lambda x, **kw: cpool.sum_pool1d(x, 2, **kw),
           lambda x, **kw: cpool.adaptive_max_pool1d(x, 4, return_indices=True, **kw)],
    "3d": [lambda x, **kw: cpool.max_pool3d(x, 2, return_indices=True, **kw),
           lambda x, **kw: cpool.avg_pool3d(x, 3, 2, 1, **kw),
           lambda x, **kw: cpool.adaptive_avg_pool3d(x, (2, 3, 4), **kw)],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.float16])
@pytest.mark.parametrize("case", sorted(CHANNELS_LAST_MEMORY))
def test_channels_last_memory_seen_in_another_order(rng, case, dtype):
    """A channels-last array seen in another axis order (a PyTorch channels_last tensor's NCHW
    view) is pooled in place by the channels-last kernels: the C-ordered input's bits, the
    result laid out as the input is (PyTorch's memory format, NumPy's order "K"); with
    ``out=`` the result is the caller's C-ordered array."""
    shape, order, kind = CHANNELS_LAST_MEMORY[case]
    base = random_array(rng, shape, dtype)
    if dtype != np.float16:
        base = _with_specials(base, rng)
    x = _channels_last_memory(base, order)
    before = x.copy()
    if kind is None:
        ops = [WINDOWED[n] for n in sorted(WINDOWED)] + [
            lambda a, **kw: cpool.adaptive_max_pool2d(a, (3, 4), return_indices=True, **kw)]
    else:
        ops = OPS_1D_3D[kind]
    for op in ops:
        got = op(x)
        expected = op(base)
        assert_identical(got, expected)
        for r in (got if isinstance(got, tuple) else (got,)):
            assert r.transpose(order).flags.c_contiguous, r.strides
        out = tuple(np.empty_like(e) for e in expected) if isinstance(expected, tuple) \
            else np.empty_like(expected)
        # (run in memory order into a temporary, then transposed into the caller's arrays)
        written = op(x, out=out)
        assert_identical(written, expected)
        for w, o in zip(written if isinstance(out, tuple) else (written,),
                        out if isinstance(out, tuple) else (out,)):
            assert w is o
    np.testing.assert_array_equal(x, before)
    if kind is None and dtype != np.uint8:
        # LP pooling averages the powers of x, in a C-ordered temporary: the same bits, its
        # result in C order.
        lp = lambda a: cpool.lp_pool2d(np.abs(a), 2, 2)  # noqa: E731
        assert_identical(lp(x), lp(base))


def test_out_of_channels_last_memory_seen_in_another_order(rng):
    """``out=`` with a channels-last view: checked in the caller's axis order (its messages
    name the caller's shapes), and an ``out`` sharing memory with the input gets the answer a
    fresh array would."""
    base = random_array(rng, (2, 16, 8, 6), np.float32)
    x = _channels_last_memory(base, (0, 2, 3, 1))
    with pytest.raises(ValueError, match=r"`out` must have shape \(2, 16, 4, 3\)"):
        cpool.max_pool2d(x, 2, out=np.empty((2, 4, 3, 16), np.float32))
    with pytest.raises(TypeError, match="`out` must have dtype float32"):
        cpool.max_pool2d(x, 2, out=np.empty((2, 16, 4, 3), np.float64))
    with pytest.raises(ValueError, match=r"`out\[1\]` must have shape"):
        cpool.max_pool2d(x, 2, return_indices=True,
                         out=(np.empty((2, 16, 4, 3), np.float32), np.empty(3, np.int64)))
    want = cpool.avg_pool2d(base, 2)
    memory = np.ascontiguousarray(base.transpose(0, 2, 3, 1))
    x = memory.transpose(0, 3, 1, 2)  # the view; `out` below overlaps its memory
    out = memory.reshape(-1)[:want.size].reshape(want.shape)
    assert cpool.avg_pool2d(x, 2, out=out) is out
    assert_identical(out, want)


@pytest.mark.parametrize("case", sorted(CHANNELS_LAST_MEMORY))
def test_scatters_of_channels_last_memory_seen_in_another_order(rng, case):
    """Max and stochastic backward and max_unpool of gradients and indices in channels-last
    memory seen in another axis order scatter in place (the channels-last scatter): the
    C-ordered inputs' bits (overlapping windows add in the same order), the result laid out
    as the gradient is."""
    shape, order, kind = CHANNELS_LAST_MEMORY[case]
    x = _with_specials(random_array(rng, shape, np.float32), rng)
    n = {"1d": 1, "3d": 3}.get(kind, 2)
    pool = getattr(cpool, f"max_pool{n}d")
    calls = []
    for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1)):
        values, indices = pool(x, k, s, p, return_indices=True)
        grad = random_array(rng, values.shape, np.float32)
        calls.append((getattr(cpool, f"max_pool{n}d_backward"), (grad, indices, x.shape), {}))
        calls.append((getattr(cpool, f"max_unpool{n}d"), (grad, indices, k, s, p),
                      {"output_size": x.shape}))
    if n == 2:
        values, indices = cpool.stochastic_pool2d(np.abs(x), 2, seed=1, return_indices=True)
        calls.append((cpool.stochastic_pool2d_backward,
                      (random_array(rng, values.shape, np.float32), indices, x.shape), {}))
    for op, (grad, indices, *rest), kwargs in calls:
        expected = op(grad, indices, *rest, **kwargs)
        got = op(_channels_last_memory(grad, order), _channels_last_memory(indices, order), *rest,
                 **kwargs)
        assert_identical(got, expected)
        assert got.transpose(order).flags.c_contiguous, got.strides


@pytest.mark.parametrize("name", ["max_indices", "avg", "sum"])
def test_out_in_channels_last(rng, name):
    x = random_array(rng, (2, 8, 6, 5), np.float32)
    op = WINDOWED[name]
    expected = op(x, axes=(1, 2))
    out = tuple(np.empty_like(e) for e in expected) if isinstance(expected, tuple) \
        else np.empty_like(expected)
    got = op(x, axes=(1, 2), out=out)
    assert_identical(got, expected)
    assert (got[0] if isinstance(got, tuple) else got) is (out[0] if isinstance(out, tuple) else out)


def test_inputs_are_not_modified(rng):
    x = random_array(rng, (2, 8, 6, 5), np.float32)
    keep = x.copy()
    for op in list(WINDOWED.values()) + list(GLOBAL.values()):
        op(x, axes=(1, 2))
    assert_identical(x, keep)


# ---- gradients -------------------------------------------------------------------------------
def _grad_cases(rng, x, axes):
    """(name, call with axes, call on moved arrays) for every gradient and max_unpool2d."""
    ndim = x.ndim
    mv = lambda a: _moved(a, axes)  # noqa: E731
    y, idx = cpool.max_pool2d(x, 3, 2, 1, return_indices=True, axes=axes)
    g = random_array(rng, y.shape, x.dtype)
    s, sidx = cpool.stochastic_pool2d(np.abs(x), 2, seed=1, return_indices=True, axes=axes)
    gs = random_array(rng, s.shape, x.dtype)
    ga = random_array(rng, cpool.avg_pool2d(x, 3, 2, 1, ceil_mode=True, axes=axes).shape, x.dtype)
    gsum = random_array(rng, cpool.sum_pool2d(x, 2, 1, 1, 2, axes=axes).shape, x.dtype)
    m, midx = cpool.global_max_pool2d(x, return_indices=True, axes=axes)
    gm = random_array(rng, m.shape, x.dtype)
    shp, mshp = x.shape, mv(x).shape
    yield ("max", lambda **kw: cpool.max_pool2d_backward(g, idx, shp, **kw),
           lambda: cpool.max_pool2d_backward(mv(g), mv(idx), mshp))
    yield ("stochastic", lambda **kw: cpool.stochastic_pool2d_backward(gs, sidx, shp, **kw),
           lambda: cpool.stochastic_pool2d_backward(mv(gs), mv(sidx), mshp))
    yield ("unpool", lambda **kw: cpool.max_unpool2d(y, idx, 3, 2, 1, output_size=shp, **kw),
           lambda: cpool.max_unpool2d(mv(y), mv(idx), 3, 2, 1, output_size=mshp))
    yield ("avg", lambda **kw: cpool.avg_pool2d_backward(ga, shp, 3, 2, 1, True, **kw),
           lambda: cpool.avg_pool2d_backward(mv(ga), mshp, 3, 2, 1, True))
    yield ("sum", lambda **kw: cpool.sum_pool2d_backward(gsum, shp, 2, 1, 1, 2, **kw),
           lambda: cpool.sum_pool2d_backward(mv(gsum), mshp, 2, 1, 1, 2))
    yield ("global_max", lambda **kw: cpool.global_max_pool2d_backward(gm, midx, shp, **kw),
           lambda: cpool.global_max_pool2d_backward(gm, midx, mshp))
    yield ("global_avg", lambda **kw: cpool.global_avg_pool2d_backward(gm, shp, **kw),
           lambda: cpool.global_avg_pool2d_backward(gm, mshp))
    yield ("global_sum", lambda **kw: cpool.global_sum_pool2d_backward(gm, shp, **kw),
           lambda: cpool.global_sum_pool2d_backward(gm, mshp))
    del ndim


@pytest.mark.parametrize("shape,axes", LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_equal_moved(rng, dtype, shape, axes):
    x = random_array(rng, shape, dtype)
    for name, with_axes, moved in _grad_cases(rng, x, axes):
        got = with_axes(axes=axes)
        assert got.flags.c_contiguous and got.shape == x.shape, name
        assert_identical(got, _back(moved(), axes, x.ndim))
        for n in (1, 3):
            assert_identical(with_axes(axes=axes, num_threads=n), got)


def test_gradient_out_in_channels_last(rng):
    x = random_array(rng, (2, 8, 6, 5), np.float32)
    y, idx = cpool.max_pool2d(x, 2, return_indices=True, axes=(1, 2))
    out = np.full(x.shape, np.nan, np.float32)
    got = cpool.max_pool2d_backward(y, idx, x.shape, axes=(1, 2), out=out)
    assert got is out
    assert_identical(out, cpool.max_pool2d_backward(y, idx, x.shape, axes=(1, 2)))


def test_unpool_output_size_full_shape_in_callers_order(rng):
    x = random_array(rng, (2, 8, 6, 5), np.float32)
    y, idx = cpool.max_pool2d(x, 2, return_indices=True, axes=(1, 2))
    full = cpool.max_unpool2d(y, idx, 2, output_size=(2, 9, 7, 5), axes=(1, 2))
    hw = cpool.max_unpool2d(y, idx, 2, output_size=(9, 7), axes=(1, 2))
    assert full.shape == (2, 9, 7, 5)
    assert_identical(full, hw)


# ---- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("axes,exc,match", [
    ((1,), ValueError, r"`axes` must be a pair .* \(1,\) \(length 1\)"),
    ((0, 1, 2), ValueError, r"`axes` must be a pair .*length 3"),
    (1, ValueError, r"`axes` must be a pair \(H axis, W axis\), got 1"),
    ((1, 1), ValueError, r"`axes` must name two different axes, got \(1, 1\)"),
    ((1, -3), ValueError, r"`axes` must name two different axes, got \(1, -3\)"),
    ((1, 4), ValueError, r"`axes` \(1, 4\) is out of range for an array of 4 dimensions"),
    ((-5, 1), ValueError, r"`axes` \(-5, 1\) is out of range"),
    ((1.0, 2), TypeError, r"`axes` must be a pair of ints .* \(1.0, 2\)"),
    ("hw", TypeError, r"`axes` must be a pair of ints .* 'hw'"),
    (None, TypeError, r"`axes` must be a pair of ints .* None"),
    ((True, 2), TypeError, r"`axes` must be a pair of ints"),
])
@pytest.mark.parametrize("call", [
    lambda x, a: cpool.max_pool2d(x, 2, axes=a),
    lambda x, a: cpool.avg_pool2d(x, 2, axes=a),
    lambda x, a: cpool.sum_pool2d(x, 2, axes=a),
    lambda x, a: cpool.stochastic_pool2d(x, 2, axes=a),
    lambda x, a: cpool.global_max_pool2d(x, axes=a),
    lambda x, a: cpool.global_avg_pool2d(x, axes=a),
    lambda x, a: cpool.global_sum_pool2d(x, axes=a),
    lambda x, a: cpool.max_pool2d_backward(np.ones((2, 2, 2, 3)), np.zeros((2, 2, 2, 3), int),
                                           x.shape, axes=a),
    lambda x, a: cpool.avg_pool2d_backward(np.ones((2, 2, 2, 3)), x.shape, 2, axes=a),
    lambda x, a: cpool.global_avg_pool2d_backward(np.ones((2, 3)), x.shape, axes=a),
    lambda x, a: cpool.max_unpool2d(np.ones((2, 2, 2, 3)), np.zeros((2, 2, 2, 3), int), 2, axes=a),
])
def test_bad_axes(call, axes, exc, match):
    x = np.ones((2, 4, 4, 3), np.float32)
    with pytest.raises(exc, match=match):
        call(x, axes)


def test_default_axes_change_nothing(rng):
    x = random_array(rng, (2, 3, 8, 6), np.float32)
    for op in list(WINDOWED.values()) + list(GLOBAL.values()):
        assert_identical(op(x, axes=(-2, -1)), op(x))
        assert_identical(op(x, axes=[2, 3]), op(x))
        assert_identical(op(x, axes=np.array([2, 3])), op(x))


def test_empty_channels_and_batches(rng):
    for shape in [(0, 5, 4, 3), (2, 5, 4, 0)]:
        x = np.zeros(shape, np.float32)
        assert cpool.max_pool2d(x, 2, axes=(1, 2)).shape == (shape[0], 2, 2, shape[3])
        y, i = cpool.max_pool2d(x, 2, axes=(1, 2), return_indices=True)
        assert i.shape == y.shape
        assert cpool.global_avg_pool2d(x, axes=(1, 2)).shape == (shape[0], shape[3])
    with pytest.raises(ValueError, match=r"pooled axes \(1, 2\) \(H, W\) must be non-empty"):
        cpool.max_pool2d(np.zeros((2, 0, 4, 3)), 1, axes=(1, 2))


# ---- PyTorch on channels_last tensors --------------------------------------------------------
@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("C", [1, 3, 4, 17, 64])
@pytest.mark.parametrize("k,s,p,d,c", [(2, 2, 0, 1, False), (3, 2, 1, 1, False), (3, 1, 1, 1, True),
                                       ((2, 3), (1, 2), (1, 0), (2, 1), True)])
def test_torch_channels_last_parity(rng, C, k, s, p, d, c):
    x = _with_specials(random_array(rng, (2, 9, 10, C), np.float32), rng)
    t = torch.from_numpy(np.moveaxis(x, -1, 1)).contiguous(memory_format=torch.channels_last)
    tv, ti = F.max_pool2d(t, k, s, p, d, c, True)
    v, i = cpool.max_pool2d(x, k, s, p, d, c, True, axes=(1, 2))
    assert_identical(v, np.ascontiguousarray(tv.permute(0, 2, 3, 1).numpy()))
    np.testing.assert_array_equal(i, ti.permute(0, 2, 3, 1).numpy())
    if d == 1:
        finite = np.nan_to_num(x)
        tf = torch.from_numpy(np.moveaxis(finite, -1, 1)).contiguous(memory_format=torch.channels_last)
        ta = F.avg_pool2d(tf, k, s, p, c, False).permute(0, 2, 3, 1).numpy()
        np.testing.assert_allclose(cpool.avg_pool2d(finite, k, s, p, c, False, axes=(1, 2)), ta,
                                   rtol=2e-6, atol=2e-6 * np.abs(finite).max())


@pytest.mark.parametrize("bad", [-2, 12, 2**40, -2**40])
def test_channels_last_scatter_rejects_bad_indices(rng, bad):
    x = random_array(rng, (2, 4, 3, 5), np.float32)
    y, idx = cpool.max_pool2d(x, 2, return_indices=True, axes=(1, 2))
    idx = idx.copy()
    idx[1, 0, 0, 3] = bad
    for call in (lambda: cpool.max_pool2d_backward(y, idx, x.shape, axes=(1, 2)),
                 lambda: cpool.max_unpool2d(y, idx, 2, output_size=(4, 3), axes=(1, 2))):
        with pytest.raises(ValueError, match=r"`indices` must lie in \[0, H\*W\) = \[0, 12\); 1 do not"):
            call()


def test_channels_last_scatter_many_channels_few_images(rng):
    """One image of many channels is split into channel blocks; every block equals the
    channels-first answer."""
    x = random_array(rng, (1, 6, 8, 300), np.float32)
    y, idx = cpool.max_pool2d(x, 3, 1, 1, return_indices=True, axes=(1, 2))
    g = random_array(rng, y.shape, np.float32)
    expected = _back(cpool.max_pool2d_backward(_moved(g, (1, 2)), _moved(idx, (1, 2)),
                                               (1, 300, 6, 8)), (1, 2), 4)
    for n in (1, 2, 4):
        assert_identical(cpool.max_pool2d_backward(g, idx, x.shape, axes=(1, 2), num_threads=n),
                         expected)


@pytest.mark.parametrize("flip", [False, True])
def test_one_pixel_wide_rows_with_strided_channels(flip):
    """W == 1 with channels that are not one run (every other channel of a wider array, or
    reversed): the channels are read where they are, not as if adjacent (found by fuzzing the
    1-D ops; the 2-D and global ops took the same path)."""
    wide = np.arange(2 * 3 * 1 * 8, dtype=np.float32).reshape(2, 3, 1, 8)
    x = wide[..., ::-1][..., ::2] if flip else wide[..., ::2]
    dense = np.ascontiguousarray(x)
    for call in (lambda a: cpool.max_pool2d(a, (2, 1), 1, return_indices=True, axes=(1, 2)),
                 lambda a: cpool.avg_pool2d(a, (2, 1), 1, axes=(1, 2)),
                 lambda a: cpool.global_max_pool2d(a, return_indices=True, axes=(1, 2)),
                 lambda a: cpool.max_pool1d(a[:, :, 0], 2, axes=(1,))):
        assert_identical(call(x), call(dense))


def _rgb_max_2x2(x, padding):
    """The reference: the max of each 2x2 tile of the padded images (zeros pad uint8's max)."""
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    H2, W2 = (padded.shape[1] // 2) * 2, (padded.shape[2] // 2) * 2
    tiles = padded[:, :H2, :W2].reshape(len(x), H2 // 2, 2, W2 // 2, 2, 3)
    return tiles.max(axis=(2, 4))


@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("W", [2, 3, 5, 6, 10, 11, 12, 13, 14, 15, 16, 17, 21, 22, 36, 224, 225])
def test_rgb_images_max_2x2(rng, W, padding):
    """uint8 RGB pixels pooled 2x2 at stride 2 (one vector pass over three output pixels at a
    time, the rest one by one; in AVX2 builds, images without padding whose rows hold 32
    bytes of taps or more (W >= 12) go a plane's run of rows a call, each row pair maxed 32
    bytes at a time, the last 32 overlapping): every row width around the vector's steps, odd
    and even heights, one output row, images whose rows lie apart in memory (a crop), two
    threads (which cut a plane's run), against a max of the four cells in NumPy, with and
    without padding (whose windows start off the pixels' grid by one pixel)."""
    for H in (2, 3, 6, 9):
        x = rng.integers(0, 256, (3, H, W, 3), dtype=np.uint8)
        exp = _rgb_max_2x2(x, padding)
        got = cpool.max_pool2d(x, 2, padding=padding, axes=(1, 2))
        np.testing.assert_array_equal(got, exp)
        crop = np.pad(x, ((0, 0), (0, 0), (0, 7), (0, 0)))[:, :, :W]
        np.testing.assert_array_equal(cpool.max_pool2d(crop, 2, padding=padding, axes=(1, 2)),
                                      exp)
        np.testing.assert_array_equal(
            cpool.max_pool2d(x, 2, padding=padding, axes=(1, 2), num_threads=2), exp)
        assert_identical(got, _back(cpool.max_pool2d(_moved(x, (1, 2)), 2, padding=padding),
                                    (1, 2), 4))
    # Windows of rows two apart (dilated height), and the stride's height 1: other row steps.
    x = rng.integers(0, 256, (2, 7, W, 3), dtype=np.uint8)
    for kw in (dict(dilation=(2, 1)), dict(stride=(1, 2))):
        np.testing.assert_array_equal(
            cpool.max_pool2d(x, 2, padding=padding, axes=(1, 2), **kw),
            _back(cpool.max_pool2d(_moved(x, (1, 2)), 2, padding=padding, **kw), (1, 2), 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_global_ops_on_a_slice_of_one_channel(rng, dtype, n):
    # Regression (2026-12-06): a slice of one channel of a channels-last array (x[..., :1]) was
    # read in place as pixels three values apart, and the global ops' planes kernel then took
    # the other channels' values as the slice's (global_avg_pool2d gave 63 for 7.5). Now
    # the slice is copied; every result is the dense copy's, bit for bit, and the maxima
    # NumPy's (the channel between holds the dtype's largest value).
    spatial = {1: (9,), 2: (4, 5), 3: (2, 3, 4)}[n]
    x = random_array(rng, (2,) + spatial + (3,), dtype)
    x[..., 1] = (np.finfo if np.dtype(dtype).kind == "f" else np.iinfo)(dtype).max
    axes = tuple(range(1, n + 1))
    for view in (x[..., :1], x[..., 2:3], x[:, ::-1, ..., :1]):
        dense = np.ascontiguousarray(view)
        for name in ("max", "avg", "sum"):
            op = getattr(cpool, f"global_{name}_pool{n}d")
            kw = {"return_indices": True} if name == "max" else {}
            assert_identical(op(view, axes=axes, **kw), op(dense, axes=axes, **kw))
        np.testing.assert_array_equal(cpool.global_max_pool2d(view, axes=axes[-2:]) if n > 1
                                      else cpool.global_max_pool1d(view, axes=axes),
                                      view.max(axis=axes[-2:] if n > 1 else axes))

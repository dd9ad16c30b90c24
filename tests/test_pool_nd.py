"""1-D and 3-D pooling (every op family, gradients, unpooling) against the N-D NumPy reference
and PyTorch: geometry grids, padding forms, layouts, dtypes, NaN/ties, threads, errors."""
import itertools

import numpy as np
import pytest

import cpool
import _reference as ref
from _helpers import (as_bits, assert_identical, at_page_end, general_path, random_array,
                      rows_past_the_caches, signed_zeros_and_payloads, tolerance,
                      window_sum_gradients)

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")

OPS = {
    n: {
        "max": getattr(cpool, f"max_pool{n}d"),
        "avg": getattr(cpool, f"avg_pool{n}d"),
        "sum": getattr(cpool, f"sum_pool{n}d"),
        "global_max": getattr(cpool, f"global_max_pool{n}d"),
        "global_avg": getattr(cpool, f"global_avg_pool{n}d"),
        "global_sum": getattr(cpool, f"global_sum_pool{n}d"),
    }
    for n in (1, 3)
}
AXES = {1: (-1,), 3: (-3, -2, -1)}


def _grid(n):
    """(kernel, stride, padding, dilation, ceil_mode) over n axes: symmetric pads within
    PyTorch's bound, per-side pads within dilation*(kernel-1), and the string forms."""
    if n == 1:
        kernels, strides, dils = [1, 2, 3, 5], [None, 1, 2, 3], [1, 2]
        pads = [0, 1, 2, (0, 1), (2, 0), ((1, 2),), "same", "same_lower", "valid"]
    else:
        kernels, strides, dils = [1, 2, 3, (2, 3, 1)], [None, 1, 2, (1, 2, 3)], [1, (2, 1, 1)]
        pads = [0, 1, (1, 0, 1), ((0, 1), (1, 0), (0, 0)), "same", "same_lower"]
    cases = []
    for k, s, p, d, c in itertools.product(kernels, strides, pads, dils, [False, True]):
        kk = (k,) * n if np.isscalar(k) else k
        dd = (d,) * n if np.isscalar(d) else d
        if isinstance(p, str):
            if c:
                continue
        else:
            sides = ref.nd_pads(p, (9,) * n, kk, kk, dd)
            symmetric = np.isscalar(p) or all(np.isscalar(v) for v in p) and not (
                n == 1 and len(p) == 2)
            if symmetric and any(b > ki // 2 for (b, _), ki in zip(sides, kk)):
                continue
            if any(max(sd) > di * (ki - 1) for sd, ki, di in zip(sides, kk, dd)):
                continue
        cases.append((k, s, p, d, c))
    return cases


SHAPES = {1: [(2, 3, 11), (1, 1, 1), (4, 7)], 3: [(2, 2, 5, 6, 7), (1, 3, 1, 4, 3)]}


def _fits(shape, n, k, s, p, d, c):
    sizes = shape[-n:]
    kk, ss, dd, pads, outs = ref.nd_geometry(sizes, k, s, p, d, c)
    return min(outs) >= 1


def _cases(n, limit=None):
    out = [(shape, case) for shape in SHAPES[n] for case in _grid(n)
           if _fits(shape, n, *case)]
    return out if limit is None else out[::max(1, len(out) // limit)]


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_max_values_and_indices_match_the_reference(rng, n, dtype):
    for shape, (k, s, p, d, c) in _cases(n, 250):
        x = random_array(rng, shape, dtype)
        if dtype == np.float32:
            x.flat[::7] = x.flat[-1]  # ties
        got = OPS[n]["max"](x, k, s, p, d, c, return_indices=True)
        want = ref.pool_nd(x, n, "max", k, s, p, d, c, return_indices=True)
        assert_identical(got, want)
        assert_identical(OPS[n]["max"](x, k, s, p, d, c), want[0])


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.uint8])
def test_sum_and_avg_match_the_reference(rng, n, dtype):
    for shape, (k, s, p, d, c) in _cases(n, 200):
        x = random_array(rng, shape, dtype)
        got = OPS[n]["sum"](x, k, s, p, d, c)
        want = ref.pool_nd(x, n, "sum", k, s, p, d, c)
        if dtype == np.uint8:
            assert_identical(got, want)
        else:
            np.testing.assert_allclose(got, want, *tolerance(dtype, want))
        for include, override in [(True, None), (False, None), (True, 3)]:
            got = OPS[n]["avg"](x, k, s, p, c, include, override, dilation=d)
            want = ref.pool_nd(x, n, "avg", k, s, p, d, c, include, override)
            np.testing.assert_allclose(got, want, *tolerance(np.float64, want))


@pytest.mark.parametrize("n", [1, 3])
def test_float32_sums_are_close(rng, n):
    for shape, (k, s, p, d, c) in _cases(n, 60):
        x = random_array(rng, shape, np.float32)
        want = ref.pool_nd(x, n, "avg", k, s, p, d, c, False)
        got = OPS[n]["avg"](x, k, s, p, c, False, dilation=d)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, 1e-5, 1e-5 * np.abs(x).max())


@pytest.mark.parametrize("n", [1, 3])
def test_nan_propagates_with_the_last_nan_index(rng, n):
    shape = SHAPES[n][0]
    x = random_array(rng, shape, np.float32)
    x.flat[::5] = np.nan
    x.flat[1::9] = -np.nan
    for k, s, p in [(2, 2, 0), (3, 1, 1), (3, 2, 1)]:
        got = OPS[n]["max"](x, k, s, p, return_indices=True)
        assert_identical(got, ref.pool_nd(x, n, "max", k, s, p, return_indices=True))
        assert_identical(OPS[n]["max"](x, k, s, p), got[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int64])
@pytest.mark.parametrize("channels", [8, 33])
def test_ndhwc_2x2x2_tiles_read_directly(rng, dtype, channels):
    """2x2x2 windows at stride 2 over pixels read straight from the input take their own
    loops over each output pixel's lanes (a sum's columns folded over (slice, row), then
    added; a max in (slice, row, column) scan order): the bits of the channels-first kernels,
    with ties, signed zeros and NaN, odd sizes, ceil_mode (a last window of one slice or row
    leaves those loops), on 1 and 3 threads."""
    x = random_array(rng, (2, 5, 6, 7, channels), dtype)
    if x.dtype.kind == "f":
        x.flat[::7] = -0.0
        x.flat[1::11] = 0.0
        x.flat[2::13] = np.nan
    else:
        x //= np.array(max(1, min(1000, np.iinfo(x.dtype).max // 16)), x.dtype)  # ties
    first = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    for c in (False, True):
        for threads in (1, 3):
            for name in ("max", "avg", "sum"):
                got = OPS[3][name](x, 2, ceil_mode=c, axes=(1, 2, 3), num_threads=threads)
                want = OPS[3][name](first, 2, ceil_mode=c)
                assert_identical(got, np.ascontiguousarray(np.moveaxis(want, 1, -1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [8, 45])
def test_ndhwc_max_interior_windows(rng, dtype, channels):
    """Channels-last 3-D max windows that lie in the row read their cells in (slice, row,
    column) scan order (3x3x3: 27 cells; 2x3x2 dilated), in vectors held across the cells:
    the channels-first kernels' bits with signed zeros and NaNs of several payloads, on 1 and
    3 threads."""
    x = random_array(rng, (2, 5, 6, 9, channels), dtype)
    x.flat[::7] = -0.0
    x.flat[1::11] = 0.0
    bits = x.view(np.uint32 if dtype == np.float32 else np.uint64).reshape(-1)
    quiet = 0x7FC00000 if dtype == np.float32 else 0x7FF8000000000000
    bits[2::13] = quiet | (np.arange(bits[2::13].size) % 5 + 1)
    first = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    for k, s, p, d in ((3, 2, 1, 1), ((2, 3, 2), 1, 0, (1, 1, 2))):
        want = np.ascontiguousarray(np.moveaxis(OPS[3]["max"](first, k, s, p, d), 1, -1))
        for threads in (1, 3):
            assert_identical(OPS[3]["max"](x, k, s, p, d, axes=(1, 2, 3), num_threads=threads),
                             want)


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("channels", [3, 16])
@pytest.mark.parametrize("op", ["max", "max_idx", "avg", "sum"])
def test_channels_last_equals_moved_axes(rng, n, channels, op):
    """(N, *spatial, C) with the spatial axes named gives what the channels-first call gives,
    bit for bit (C=16 float32 takes the direct, bufferless path)."""
    sizes = (13,) if n == 1 else (5, 6, 7)
    x = random_array(rng, (2,) + sizes + (channels,), np.float32)
    axes = tuple(range(1, n + 1))
    first = np.moveaxis(x, -1, 1)
    fn = OPS[n]["max" if op == "max_idx" else op]
    for k, s, p in [(2, None, 0), (3, 2, 1), (3, 1, ((1, 0),) * n)]:
        kw = dict(return_indices=True) if op == "max_idx" else {}
        got = fn(x, k, s, p, axes=axes, **kw)
        want = fn(np.ascontiguousarray(first), k, s, p, **kw)
        if isinstance(want, tuple):
            want = tuple(np.moveaxis(w, 1, -1) for w in want)
        else:
            want = np.moveaxis(want, 1, -1)
        assert_identical(got, tuple(np.ascontiguousarray(w) for w in want)
                         if isinstance(want, tuple) else np.ascontiguousarray(want))


@pytest.mark.parametrize("n", [1, 3])
def test_any_axis_order_and_strides(rng, n):
    """Spatial axes anywhere, in any order of memory, sliced and reversed inputs."""
    x = random_array(rng, (3, 9, 2, 8, 7) if n == 3 else (9, 3, 2), np.float64)
    axes = (1, 3, 4) if n == 3 else (0,)
    view = x[:, ::-1] if n == 3 else x[::-1, :, ::2]
    got = OPS[n]["max"](view, 2, 1, 1, axes=axes, return_indices=True)
    moved = np.moveaxis(view, axes, tuple(range(-n, 0)))
    want = ref.pool_nd(moved, n, "max", 2, 1, 1, return_indices=True)
    back = tuple(np.moveaxis(w, tuple(range(-n, 0)), axes) for w in want)
    assert_identical(got, tuple(np.ascontiguousarray(b) for b in back))


@pytest.mark.parametrize("n", [1, 3])
def test_global_ops(rng, n):
    shape = SHAPES[n][0]
    x = random_array(rng, shape, np.float32)
    x.flat[::11] = np.nan
    spatial = tuple(range(-n, 0))
    m, i = OPS[n]["global_max"](x, return_indices=True)
    blocks = x.reshape(x.shape[:-n] + (-1,))
    want_m, want_i = ref.pool_nd(blocks, 1, "max", blocks.shape[-1], return_indices=True)
    assert_identical((m, i), (want_m[..., 0], want_i[..., 0]))
    np.testing.assert_allclose(OPS[n]["global_avg"](x), np.nanmean(x, spatial) * np.nan
                               if False else x.astype(np.float64).mean(spatial), 1e-6)
    assert OPS[n]["global_sum"](x, keepdims=True).shape == x.shape[:-n] + (1,) * n
    xi = random_array(rng, shape, np.int32)
    assert_identical(OPS[n]["global_sum"](xi), xi.astype(np.int64).sum(spatial))
    # channels-last: the same bits as moved channels-first
    cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    axes = tuple(range(1, n + 1))
    assert_identical(OPS[n]["global_max"](cl, return_indices=True, axes=axes), (m, i))


@pytest.mark.parametrize("n", [1, 3])
def test_results_do_not_depend_on_threads(rng, n):
    x = random_array(rng, (4, 8, 40) if n == 1 else (2, 4, 9, 10, 11), np.float32)
    for name in ["max", "avg", "sum"]:
        one = OPS[n][name](x, 3, 2, 1, num_threads=1)
        assert_identical(OPS[n][name](x, 3, 2, 1, num_threads=2), one)


# (kernel, stride, padding, ceil_mode) around the 2x2x2 windows' own path: all windows its
# own; ceil_mode's last slice and row alone (a slice's rows tiled, or the general rows);
# padded depth and height (the edge windows general, the rest tiled); one slice (kd = 1);
# overlapping slices.
TILES_2X2X2 = [(2, 2, 0, False), (2, 2, 0, True), ((2, 2, 2), 2, (1, 1, 0), False),
               ((2, 2, 2), 2, (1, 0, 0), True), ((1, 2, 2), 2, 0, False),
               (2, (1, 2, 2), 0, False)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("W", [2, 3, 7, 8, 9, 16, 17, 31, 32, 33, 64, 66, 130])
def test_2x2x2_windows_are_the_general_paths_bits(rng, dtype, W):
    # 2x2x2 windows at stride 2 fold their first three rows into the row buffer and reduce
    # that with the fourth as 2x2 tiles (columns first, in the scan's (d, h) order), the max
    # handing a row with a NaN or a -0 column max to the scan. Every row width around the
    # vector steps (and the upper-row copy's, 130), bit for bit against the general path
    # (for sums, but for which of several NaNs' payloads a sum keeps: C leaves the operands
    # of an add to the compiler, and vectorised code may swap them); max also against the
    # reference (zeros of both signs, NaN payloads, inf).
    x = random_array(rng, (2, 3, 5, 6, W), dtype)
    if x.dtype.kind == "f":
        x[0, 1] = signed_zeros_and_payloads(rng, x[0, 1].shape, dtype)
        x[1, 0, 1] = -0.0
        x[1, 1] = np.abs(x[1, 1]) + 1
        x[1, 1, 2, 3, 0] = -0.0  # a -0 among larger values
        x[1, 2, :, 2] = np.inf
    for k, s, p, c in TILES_2X2X2:
        sums = [lambda t: cpool.sum_pool3d(x, k, s, p, 1, c, num_threads=t),
                 lambda t: cpool.avg_pool3d(x, k, s, p, c, num_threads=t),
                 lambda t: cpool.avg_pool3d(x, k, s, p, c, False, num_threads=t),
                 lambda t: cpool.avg_pool3d(x, k, s, p, c, True, 3, num_threads=t)]
        maxima = []
        if x.dtype.kind == "f":
            maxima.append(lambda t: cpool.max_pool3d(x, k, s, p, 1, c, num_threads=t))
            got = cpool.max_pool3d(x, k, s, p, 1, c)
            want = ref.pool_nd(x, 3, "max", k, s, p, 1, c)
            assert_identical(got, want)
            np.testing.assert_array_equal(as_bits(got), as_bits(want))
        for call in sums + maxima:
            got = call(1)
            with general_path():
                general = call(1)
            bits, general_bits = as_bits(got), as_bits(general)
            if call not in maxima:  # a NaN sum's payload aside
                np.testing.assert_array_equal(np.isnan(got), np.isnan(general))
                bits, general_bits = bits[~np.isnan(got)], general_bits[~np.isnan(got)]
            np.testing.assert_array_equal(bits, general_bits)
            np.testing.assert_array_equal(as_bits(call(2)), as_bits(got))


@pytest.mark.parametrize("W", [33, 40, 41, 47, 56, 57, 72, 113])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k,p,c", [(3, 1, False), (3, 0, False), (3, 1, True),
                                   ((2, 3, 3), (1, 1, 0), False), ((4, 3, 3), (2, 0, 1), True)])
def test_max_3x3_stride_2_rows_of_slices(rng, W, dtype, k, p, c):
    # Float max over 3x3 rows at stride 2 of rows over 32 values reads each output row's
    # windows inside the row straight from the rows of every slice of its window (three
    # rows of one, two, three or four slices, clipped at the volume's faces), each column's
    # max once in vectors (each vector's last column carried to the next while the one after
    # is whole: 16-36 outputs a row), the edge windows from a vector of the columns at the
    # row's start or end, or over their columns in the row where the row is short; a row
    # with a NaN or a -0 column max is redone by the general path: the reference's bits (sparse -0,
    # +0 and NaN payloads among ties), the general path's, and two threads'.
    x = np.round(random_array(rng, (2, 2, 7, 9, W), dtype) / 4)
    special = signed_zeros_and_payloads(rng, x.shape, dtype)
    x = np.where(rng.random(x.shape) < 0.01, special, x).astype(dtype)
    for xs in (x, at_page_end(x)):
        got = cpool.max_pool3d(xs, k, 2, p, 1, c)
        want = ref.pool_nd(x, 3, "max", k, 2, p, 1, c)
        np.testing.assert_array_equal(as_bits(got), as_bits(want))
    with general_path():
        np.testing.assert_array_equal(as_bits(cpool.max_pool3d(x, k, 2, p, 1, c)), as_bits(got))
    np.testing.assert_array_equal(as_bits(cpool.max_pool3d(x, k, 2, p, 1, c, num_threads=2)),
                                  as_bits(got))


# Padded one-row windows: (kernel, stride, padding, dilation, ceil_mode), the padding within
# PyTorch's bound, ceil-mode windows reaching past the row's end.
ONE_ROW_PADDED = [(3, 1, 1, 1, False), (2, 1, 1, 1, False), (5, 1, 2, 1, False),
                  (3, 2, 1, 1, True), (4, 3, 2, 1, True), (3, 1, 1, 2, False),
                  (2, 2, 0, 1, True), (5, 2, 2, 3, True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
@pytest.mark.parametrize("W", [1, 2, 3, 7, 8, 9, 16, 17, 33, 64, 130])
def test_padded_rows_are_reduced_in_place_with_the_general_paths_bits(rng, dtype, W):
    # A row's windows (1-D inputs, kH = 1) are reduced where the row lies: the interior ones by
    # the row's sweep, the ones reaching into the padding or past the row's end one by one.
    # Bit for bit against the general path (each window's in-bounds taps) and the reference,
    # zeros of both signs, NaN payloads and infinities in the rows.
    x = random_array(rng, (2, 3, W), dtype)
    if x.dtype.kind == "f":
        x[0, 1] = signed_zeros_and_payloads(rng, x[0, 1].shape, dtype)
        x[1, 0, ::2] = -0.0
        x[1, 2, -1] = np.inf
        x[1, 1, 0] = -np.inf
    for k, s, p, d, c in ONE_ROW_PADDED:
        if not _fits(x.shape, 1, k, s, p, d, c):
            continue
        calls = {"max": lambda t: cpool.max_pool1d(x, k, s, p, d, c, num_threads=t),
                 "sum": lambda t: cpool.sum_pool1d(x, k, s, p, d, c, num_threads=t),
                 "avg": lambda t: cpool.avg_pool1d(x, k, s, p, c, dilation=d, num_threads=t),
                 "avg_real": lambda t: cpool.avg_pool1d(x, k, s, p, c, False, dilation=d,
                                                         num_threads=t),
                 "max_2d": lambda t: cpool.max_pool2d(x[:, None], (1, k), (1, s), (0, p),
                                                      (1, d), c, num_threads=t)[:, 0]}
        want = ref.pool_nd(x, 1, "max", k, s, p, d, c)
        assert_identical(calls["max"](1), want)
        np.testing.assert_array_equal(as_bits(calls["max"](1)), as_bits(want))
        if x.dtype.kind != "f":
            assert_identical(calls["sum"](1), ref.pool_nd(x, 1, "sum", k, s, p, d, c))
        for name, call in calls.items():
            got = call(1)
            with general_path():
                general = call(1)
            bits, general_bits = as_bits(got), as_bits(general)
            if not name.startswith("max"):  # a NaN sum's payload aside
                np.testing.assert_array_equal(np.isnan(got), np.isnan(general))
                bits, general_bits = bits[~np.isnan(got)], general_bits[~np.isnan(got)]
            np.testing.assert_array_equal(bits, general_bits)
            np.testing.assert_array_equal(as_bits(call(2)), as_bits(got))


def _past_the_caches(call, want, offsets):
    """Each result of ``call(out=..., num_threads=t)`` taken past the caches
    (rows_past_the_caches), placed at each of ``offsets`` (values) into a larger buffer, which
    stays untouched around it, at 1 and 3 threads."""
    for offset, threads in itertools.product(offsets, (1, 3)):
        held = np.full(want.size + 16, 7, want.dtype)
        out = held[offset:offset + want.size].reshape(want.shape)
        with rows_past_the_caches():
            got = call(out=out, num_threads=threads)
        assert got is out
        assert (held[:offset] == 7).all() and (held[offset + want.size:] == 7).all()
        yield got


STREAMED_ROWS = [(1, 1, 0, False), (2, 1, 0, False), (2, 1, 1, False), (3, 1, 0, False),
                 (3, 1, 1, False), (4, 1, 2, False), (5, 1, 2, False), (7, 1, 3, False),
                 (2, 2, 0, False), (2, 2, 1, False), (2, 2, 0, True), (3, 2, 0, False),
                 (3, 2, 1, False), (3, 2, 1, True), (4, 2, 1, False)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("W", [1, 5, 23, 24, 25, 47, 48, 49, 64, 65, 96, 97, 130, 257])
@pytest.mark.parametrize("with_nan", [True, False])
def test_rows_written_past_the_caches_have_the_in_place_paths_bits(rng, dtype, W, with_nan):
    # Outputs larger than the caches take their one-row windows at stride 1, or 2 over two or
    # three taps, by non-temporal stores a cache line at a time, each row's first and last
    # values by vectors of plain stores, and max by maxps unless a NaN is among a row's taps
    # (then again by PyTorch's update). Bit for bit against the in-place path, for each op, on
    # rows of every length around the vectors' (8 and 16 float32 outputs, 4 and 8 float64),
    # with the results at every offset in a cache line (out= in a larger buffer, which stays
    # untouched around them), at 1 and 3 threads; the in-place path's max against the
    # reference.
    x = random_array(rng, (2, 3, W), dtype)
    x[1, 0, ::2] = -0.0
    x[1, 2, -1] = np.inf
    x[1, 1, 0] = -np.inf
    if with_nan:
        x[0, 1] = signed_zeros_and_payloads(rng, x[0, 1].shape, dtype)
    planes = np.ascontiguousarray(np.broadcast_to(x[:, :, None], (2, 3, 4, W)))
    for k, s, p, c in STREAMED_ROWS:
        if not _fits(x.shape, 1, k, s, p, 1, c):
            continue
        calls = {"max": lambda **kw: cpool.max_pool1d(x, k, s, p, ceil_mode=c, **kw),
                 "sum": lambda **kw: cpool.sum_pool1d(x, k, s, p, ceil_mode=c, **kw),
                 "avg": lambda **kw: cpool.avg_pool1d(x, k, s, p, c, **kw),
                 "avg_real": lambda **kw: cpool.avg_pool1d(x, k, s, p, c, False, **kw),
                 "avg_by_3": lambda **kw: cpool.avg_pool1d(x, k, s, p, c, divisor_override=3,
                                                           **kw),
                 "max_2d": lambda **kw: cpool.max_pool2d(planes, (1, k), (1, s), (0, p),
                                                         ceil_mode=c, **kw)}
        assert_identical(calls["max"](), ref.pool_nd(x, 1, "max", k, s, p, 1, c))
        for name, call in calls.items():
            want = call()
            for got in _past_the_caches(call, want, (0, 1, 3, 7, 9, 15)):
                bits, want_bits = as_bits(got), as_bits(want)
                if not name.startswith("max"):  # a NaN sum's payload aside
                    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
                    bits, want_bits = bits[~np.isnan(want)], want_bits[~np.isnan(want)]
                np.testing.assert_array_equal(bits, want_bits, err_msg=f"{name} {k} {s} {p} {c}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("W", [1, 5, 23, 24, 25, 47, 48, 49, 64, 65, 130])
def test_sums_gradients_written_past_the_caches_have_the_same_bits(rng, dtype, W):
    # The stride-1 sums' gradients (sum and average pooling of one-row windows: a 1-D
    # input's, or 2-D windows of one row) write each input row's sums by the same
    # non-temporal stores as the forward where the result is larger than the caches. Bit for
    # bit against the plain stores, gradients with NaN, signed zeros and infinities, results
    # at every offset in a cache line, at 1 and 3 threads.
    shape = (2, 3, W)
    for k, p in [(1, 0), (2, 0), (2, 1), (3, 1), (5, 2), (4, 0)]:
        if W + 2 * p < k:
            continue
        OW = W + 2 * p - k + 1
        g = random_array(rng, (2, 3, OW), dtype)
        g[0, 1] = signed_zeros_and_payloads(rng, g[0, 1].shape, dtype)
        g[1, 2, ::3] = np.inf
        g[1, 0, ::2] = -0.0
        g_planes = np.ascontiguousarray(np.broadcast_to(g[:, :, None], (2, 3, 4, OW)))
        calls = {
            "sum": lambda **kw: cpool.sum_pool1d_backward(g, shape, k, 1, p, **kw),
            "avg": lambda **kw: cpool.avg_pool1d_backward(g, shape, k, 1, p, **kw),
            "avg_real": lambda **kw: cpool.avg_pool1d_backward(g, shape, k, 1, p, False, False,
                                                               **kw),
            "avg_by_3": lambda **kw: cpool.avg_pool1d_backward(g, shape, k, 1, p,
                                                               divisor_override=3, **kw),
            "avg_2d": lambda **kw: cpool.avg_pool2d_backward(g_planes, (2, 3, 4, W), (1, k), 1,
                                                             (0, p), **kw)}
        for name, call in calls.items():
            want = call()
            for got in _past_the_caches(call, want, (0, 1, 7, 15)):
                np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
                keep = ~np.isnan(want)  # a NaN sum's payload aside
                np.testing.assert_array_equal(as_bits(got)[keep], as_bits(want)[keep],
                                              err_msg=f"{name} {k} {p}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("W", [2, 3, 8, 9, 17, 32, 33])
def test_2x2x2_windows_read_nothing_past_the_input(rng, dtype, W):
    # The 2x2x2 tiles' last row is the input's last bytes, against a page that cannot be
    # read; a NaN in the last window sends its row down the general rows' steps, which read
    # the fourth row again.
    x = random_array(rng, (2, 3, 4, 6, W), dtype)
    for last in (x[-1, -1, -1, -1, -1], np.nan):
        x[-1, -1, -1, -1, -1] = last
        for op in (cpool.max_pool3d, cpool.avg_pool3d, cpool.sum_pool3d):
            assert_identical(op(at_page_end(x), 2), op(x.copy(), 2))


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_reads_and_writes_stay_inside_the_arrays(rng, n, dtype):
    """Inputs, and results given as ``out``, that end where a page that cannot be touched
    begins: 1-D rows read in place (the last row's last windows reach past its end, into the
    padding) and 3-D windows over rows the vector paths take, planes and channels-last (8
    channels). A kernel that reads past its input or writes past its result crashes here."""
    widths = (1, 7, 8, 9, 17, 33, 64, 130) if n == 1 else (3, 8, 17, 33)
    for W, channels_last in itertools.product(widths, (False, True)):
        shape = (2, 3, W) if n == 1 else (2, 2, 4, 6, W)  # planes: spatial axes last
        # Channels-last: the same spatial sizes with 8 channels after them.
        x = random_array(rng, shape[:1] + shape[2:] + (8,) if channels_last else shape, dtype)
        axes = tuple(range(1, n + 1)) if channels_last else AXES[n]
        for name, op in OPS[n].items():
            windows = [()] if name.startswith("global") else [
                (k, s, p) for k, s, p in [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0)]
                if _fits(shape, n, k, s, p, 1, False)]
            for args in windows:
                want = op(x, *args, axes=axes)
                assert_identical(op(at_page_end(x), *args, axes=axes), want)
                assert_identical(op(x, *args, axes=axes, out=at_page_end(np.zeros_like(want))),
                                 want)
                if name == "max":
                    want = op(x, *args, return_indices=True, axes=axes)
                    out = tuple(at_page_end(np.zeros_like(w)) for w in want)
                    assert_identical(op(at_page_end(x), *args, return_indices=True, axes=axes,
                                        out=out), want)


def test_one_d_padding_forms():
    """A bare (before, after) pair is per side in 1-D (np.pad's convention), as is
    ((before, after),); one int per axis, (p,), is symmetric."""
    x = np.arange(10.0)[None]
    padded = np.pad(x, ((0, 0), (2, 1)), constant_values=-np.inf)
    want = cpool.max_pool1d(padded, 3, 1)
    assert_identical(cpool.max_pool1d(x, 3, 1, (2, 1)), want)
    assert_identical(cpool.max_pool1d(x, 3, 1, ((2, 1),)), want)
    assert_identical(cpool.max_pool1d(x, 3, 1, (1,)), cpool.max_pool1d(x, 3, 1, 1))
    s = cpool.sum_pool1d(x, 3, 2, (0, 2))
    assert_identical(s, cpool.sum_pool1d(np.pad(x, ((0, 0), (0, 2))), 3, 2))


def test_three_d_per_side_padding_is_np_pad():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5, 6))
    pads = ((1, 0), (0, 2), (2, 1))
    padded = np.pad(x, ((0, 0),) + pads)
    assert_identical(cpool.sum_pool3d(x, 3, 2, pads), cpool.sum_pool3d(padded, 3, 2))
    want = cpool.max_pool3d(np.pad(x, ((0, 0),) + pads, constant_values=-np.inf), 3, 2)
    assert_identical(cpool.max_pool3d(x, 3, 2, pads), want)


def test_empty_dilated_windows_give_the_lowest_value_and_no_cell():
    """A window whose taps all fall in the padding (dilation over a short axis): max gives
    -inf, as PyTorch's dilated case, and the index -1 (PyTorch's is its first tap, past the
    plane here); an average over no cell is 0/0."""
    for n, x, k, d, p in [(1, np.ones((1, 1)), 2, 2, (1, 1)),
                          (3, np.ones((1, 1, 1, 1)), (1, 1, 2), (1, 1, 2),
                           ((0, 0), (0, 0), (1, 1)))]:
        got = OPS[n]["max"](x, k, 1, p, d, return_indices=True)
        want = ref.pool_nd(x, n, "max", k, 1, p, d, return_indices=True)
        assert_identical(got, want)
        assert np.isneginf(got[0]).all() and (got[1] == -1).all()
        assert np.isnan(OPS[n]["avg"](x, k, 1, p, count_include_pad=False, dilation=d)).all()
        assert (OPS[n]["avg"](x, k, 1, p, dilation=d) == 0).all()


# ---------------------------------------------------------------------------------------------
# gradients and unpooling
# ---------------------------------------------------------------------------------------------
GRADS = {n: {name: getattr(cpool, f"{name}_pool{n}d_backward")
             for name in ("max", "avg", "sum", "global_max", "global_avg", "global_sum")}
         for n in (1, 3)}


@pytest.mark.parametrize("n", [1, 3])
def test_sum_and_avg_gradients_match_the_reference(rng, n):
    for shape, (k, s, p, d, c) in _cases(n, 120):
        x_shape = shape
        out = ref.pool_nd(np.zeros(x_shape), n, "sum", k, s, p, d, c)
        g = random_array(rng, out.shape, np.float64)
        got = GRADS[n]["sum"](g, x_shape, k, s, p, d, c)
        want = ref.pool_nd_backward(g, x_shape, n, "sum", k, s, p, d, c)
        np.testing.assert_allclose(got, want, *tolerance(np.float64, want))
        for include, override in [(True, None), (False, None), (True, 2)]:
            got = GRADS[n]["avg"](g, x_shape, k, s, p, c, include, override, dilation=d)
            want = ref.pool_nd_backward(g, x_shape, n, "avg", k, s, p, d, c, include, override)
            np.testing.assert_allclose(got, want, *tolerance(np.float64, want))


# 3-D window sums' gradients in one pass (window_sum_backward_3d) against the two 2-D passes
# they replace (the slices spread over (H, W), then over the depth windows): tilings, overlaps,
# padding, ceil mode, dilation, depth windows wider than their stride and narrower, few
# volumes (split into runs of slices), slices no window covers.
ONE_PASS_3D = [((2, 3, 6, 8, 8), 2, 2, 0, 1, False), ((1, 2, 9, 7, 8), 3, 2, 1, 1, False),
               ((1, 2, 9, 7, 8), 3, 2, 1, 1, True), ((1, 3, 7, 9, 5), (2, 3, 2), (1, 2, 2),
                                                     (1, 1, 0), 1, False),
               ((1, 2, 8, 9, 10), 3, 2, 0, 2, False), ((1, 1, 11, 6, 7), (3, 2, 2), (3, 2, 2), 0,
                                                       1, True),
               ((3, 1, 5, 5, 5), (5, 2, 2), (4, 2, 2), (2, 1, 1), 1, True),
               ((1, 1, 17, 12, 12), (4, 3, 3), (3, 3, 3), (2, 1, 1), 1, True),
               ((1, 2, 6, 5, 5), (1, 2, 2), (2, 2, 2), 0, 1, False),
               ((1, 1, 12, 40, 40), 2, 2, 0, 1, False), ((1, 1, 3, 4, 4), 3, 2, 1, 1, True),
               # stride 1 across the slices (the 2-D pass gathered those: another order)
               ((2, 2, 6, 6, 6), 3, 1, 1, 1, False), ((1, 1, 9, 9, 9), 2, 1, 0, (2, 1, 1), False)]


@pytest.mark.parametrize("shape,k,s,p,d,c", ONE_PASS_3D)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_3d_sum_gradients_in_one_pass_are_the_two_passes(rng, shape, k, s, p, d, c, dtype):
    kd, kh, kw = np.broadcast_to(k, 3)
    sd, sh, sw = np.broadcast_to(s, 3)
    pd, ph, pw = np.broadcast_to(p, 3)
    dd, dh, dw = np.broadcast_to(d, 3)
    ones = np.ones(shape)
    y_shape = cpool.sum_pool3d(ones, k, s, p, d, c).shape
    N, C, D, H, W = shape
    OD, OH, OW = y_shape[2:]
    gathered = sh == sw == dh == dw == 1
    for op in ("sum", "avg", "avg_real", "avg_by_3"):
        if op != "sum" and d != 1:
            continue
        g = rng.standard_normal(y_shape).astype(dtype)
        g.flat[::5] = -0.0
        if op == "sum":
            divisor = np.ones(y_shape)
            call = lambda **kw: cpool.sum_pool3d_backward(g, shape, k, s, p, d, c, **kw)  # noqa
        else:
            include, override = {"avg": (True, None), "avg_real": (False, None),
                                 "avg_by_3": (True, 3)}[op]
            with np.errstate(invalid="ignore"):  # windows with no real cell: no gradient
                divisor = np.nan_to_num(np.rint(cpool.sum_pool3d(ones, k, s, p, d, c) / (
                    cpool.avg_pool3d(ones, k, s, p, c, include, override))), nan=1.0)
            call = lambda **kw: cpool.avg_pool3d_backward(  # noqa: E731
                g, shape, k, s, p, c, include, override, **kw)
        slices = cpool.sum_pool2d_backward(
            (g / divisor.astype(dtype)).reshape(N * C * OD, OH, OW), (N * C * OD, H, W),
            (kh, kw), (sh, sw), (ph, pw), (dh, dw), c)
        want = cpool.sum_pool2d_backward(slices.reshape(N * C, OD, H * W), (N * C, D, H * W),
                                         (kd, 1), (sd, 1), (pd, 0), (dd, 1), c).reshape(shape)
        for threads in (1, 2, 3):
            out = np.full(shape, np.nan, dtype)  # every cell written
            got = call(out=out, num_threads=threads)
            if gathered:
                np.testing.assert_allclose(got, want, *tolerance(dtype, want))
            else:
                assert_identical(got, want)
        np.testing.assert_allclose(got.astype(np.float64), ref.pool_nd_backward(
            g.astype(np.float64), shape, 3, "sum", k, s, p, d, c) if op == "sum" else
            ref.pool_nd_backward(g.astype(np.float64), shape, 3, "avg", k, s, p, d, c, include,
                                 override), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,k,s,p,d,c", ONE_PASS_3D)
@pytest.mark.parametrize("C", [1, 7, 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_channels_last_3d_sum_gradients_are_the_planes(rng, shape, k, s, p, d, c, C, dtype):
    """NDHWC sum and average gradients spread in place, a block of channels a task: the
    planes' bits (the same order of additions per lane; -0 gradients land as +0), for any
    thread count, adaptive pooling's too."""
    planes = (shape[0], C) + shape[2:]
    ndhwc = (shape[0],) + shape[2:] + (C,)
    y_shape = cpool.sum_pool3d(np.ones(planes), k, s, p, d, c).shape
    g = rng.standard_normal(y_shape).astype(dtype)
    g.flat[::7] = -0.0
    g_cl = np.ascontiguousarray(np.moveaxis(g, 1, -1))
    for _, call in window_sum_gradients(3, k, s, p, d, c):
        want = call(g, planes)
        for threads in (1, 3):
            got = call(g_cl, ndhwc, axes=(1, 2, 3), num_threads=threads)
            assert_identical(np.ascontiguousarray(np.moveaxis(got, -1, 1)), want)
    ga = rng.standard_normal(planes[:2] + (3, 4, 5)).astype(dtype)
    want = cpool.adaptive_avg_pool3d_backward(ga, planes)
    got = cpool.adaptive_avg_pool3d_backward(np.ascontiguousarray(np.moveaxis(ga, 1, -1)),
                                             ndhwc, axes=(1, 2, 3))
    assert_identical(np.ascontiguousarray(np.moveaxis(got, -1, 1)), want)


@pytest.mark.parametrize("n", [1, 3])
def test_max_gradient_and_unpool_scatter_at_the_indices(rng, n):
    shape = SHAPES[n][0]
    x = random_array(rng, shape, np.float32)
    for k, s, p in [(2, 2, 0), (3, 1, 1), (3, 2, 1)]:
        y, idx = OPS[n]["max"](x, k, s, p, return_indices=True)
        g = random_array(rng, y.shape, np.float32)
        got = GRADS[n]["max"](g, idx, x.shape)
        np.testing.assert_allclose(got, ref.scatter_nd(g, idx, x.shape, n), 1e-5, 1e-4)
        if k == s:  # non-overlapping: unpool places each value once
            un = getattr(cpool, f"max_unpool{n}d")(y, idx, k, s, p, output_size=shape[-n:])
            assert_identical(un, ref.scatter_nd(y, idx, x.shape, n, False).astype(np.float32))


@pytest.mark.parametrize("n", [1, 3])
def test_global_gradients(rng, n):
    shape = SHAPES[n][0]
    x = random_array(rng, shape, np.float64)
    m, i = OPS[n]["global_max"](x, return_indices=True)
    g = random_array(rng, m.shape, np.float64)
    got = GRADS[n]["global_max"](g, i, shape)
    flat = np.zeros((g.size, int(np.prod(shape[-n:]))))
    flat[np.arange(g.size), i.ravel()] = g.ravel()
    assert_identical(got, flat.reshape(shape))
    cells = np.prod(shape[-n:])
    want = np.broadcast_to(g.reshape(g.shape + (1,) * n), shape)
    assert_identical(GRADS[n]["global_sum"](g, shape), np.ascontiguousarray(want))
    np.testing.assert_allclose(GRADS[n]["global_avg"](g, shape), want / cells, 1e-15)


# ---------------------------------------------------------------------------------------------
# PyTorch parity
# ---------------------------------------------------------------------------------------------
def _torch_pads(n, p):
    """Symmetric pads PyTorch takes directly."""
    return p if np.isscalar(p) else tuple(p)


@needs_torch
@pytest.mark.parametrize("n", [1, 3])
def test_max_matches_torch(rng, n):
    tf = getattr(F, f"max_pool{n}d")
    for shape, (k, s, p, d, c) in _cases(n, 150):
        if isinstance(p, str) or (not np.isscalar(p) and not all(np.isscalar(v) for v in p)) \
                or (n == 1 and not np.isscalar(p)):
            continue
        x = random_array(rng, shape, np.float32)
        x.flat[::13] = np.nan
        if len(shape) == n:  # PyTorch needs a channel axis
            continue
        ty, ti = tf(torch.from_numpy(x), k, s if s is not None else None, _torch_pads(n, p), d,
                    c, return_indices=True)
        got = OPS[n]["max"](x, k, s, p, d, c, return_indices=True)
        _, want_i = ref.pool_nd(x, n, "max", k, s, p, d, c, return_indices=True)
        assert_identical(got, (ty.numpy(), ref.no_cell_as_torch_gives(ti.numpy(), want_i)))


@needs_torch
@pytest.mark.parametrize("n", [1, 3])
def test_avg_matches_torch(rng, n):
    tf = getattr(F, f"avg_pool{n}d")
    for shape, (k, s, p, d, c) in _cases(n, 150):
        if d != 1 or isinstance(p, str) or not np.isscalar(p) or len(shape) == n:
            continue
        x = random_array(rng, shape, np.float64)
        for include in (True, False):
            extra = {}
            try:
                want = tf(torch.from_numpy(x), k, s, p, c, include, **extra).numpy()
            except RuntimeError:  # PyTorch refuses inputs smaller than the kernel
                break
            got = OPS[n]["avg"](x, k, s, p, c, include)
            np.testing.assert_allclose(got, want, 1e-12, 1e-12)
        else:
            if n == 1:
                continue
            got = OPS[n]["avg"](x, k, s, p, c, True, 5)
            want = tf(torch.from_numpy(x), k, s, p, c, True, 5).numpy()
            np.testing.assert_allclose(got, want, 1e-12, 1e-12)


@needs_torch
@pytest.mark.parametrize("n", [1, 3])
def test_gradients_match_torch_autograd(rng, n):
    shape = SHAPES[n][0]
    x = random_array(rng, shape, np.float64)
    for k, s, p, c in [(2, 2, 0, False), (3, 2, 1, True), (3, 1, 1, False)]:
        t = torch.from_numpy(x).requires_grad_()
        ty, ti = getattr(F, f"max_pool{n}d")(t, k, s, p, 1, c, return_indices=True)
        g = random_array(rng, tuple(ty.shape), np.float64)
        ty.backward(torch.from_numpy(g))
        got = GRADS[n]["max"](g, ti.numpy(), shape)
        np.testing.assert_allclose(got, t.grad.numpy(), 1e-12, 1e-12)
        for include in (True, False):
            t = torch.from_numpy(x).requires_grad_()
            ty = getattr(F, f"avg_pool{n}d")(t, k, s, p, c, include)
            g = random_array(rng, tuple(ty.shape), np.float64)
            ty.backward(torch.from_numpy(g))
            got = GRADS[n]["avg"](g, shape, k, s, p, c, include)
            np.testing.assert_allclose(got, t.grad.numpy(), 1e-12, 1e-12)


@needs_torch
@pytest.mark.parametrize("n", [1, 3])
def test_unpool_matches_torch(rng, n):
    shape = SHAPES[n][0]
    x = random_array(rng, shape, np.float32)
    y, idx = OPS[n]["max"](x, 2, 2, return_indices=True)
    want = getattr(F, f"max_unpool{n}d")(torch.from_numpy(y), torch.from_numpy(idx), 2, 2,
                                         output_size=shape[-n:]).numpy()
    got = getattr(cpool, f"max_unpool{n}d")(y, idx, 2, 2, output_size=shape[-n:])
    assert_identical(got, want)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,exc,match", [
    (lambda: cpool.max_pool1d(np.ones((2, 5)), 2, axes=(0, 1)), ValueError,
     r"max_pool1d: `axes` must be one axis"),
    (lambda: cpool.max_pool3d(np.ones((2, 5, 5)), 2, axes=(-2, -1)), ValueError,
     r"max_pool3d: `axes` must be three axes"),
    (lambda: cpool.max_pool3d(np.ones((5, 5)), 2), ValueError,
     r"max_pool3d: `x` must have at least 3 dimensions \(\.\.\., D, H, W\)"),
    (lambda: cpool.avg_pool3d(np.ones((4, 4, 4)), (2, 2)), ValueError,
     r"avg_pool3d: `kernel_size` must be an int or a triple of ints, got \(2, 2\)"),
    (lambda: cpool.max_pool1d(np.ones(8), 2, padding=2), ValueError,
     r"max_pool1d: `padding` must be at most half"),
    (lambda: cpool.max_pool1d(np.ones(8), 2, padding=(0, 2)), ValueError,
     r"max_pool1d: `padding` per side must be at most"),
    (lambda: cpool.max_pool1d(np.ones(8), 2, padding=(0, 1, 1)), ValueError,
     r"max_pool1d: `padding` must be an int, a 1-tuple, a \(before, after\) pair"),
    (lambda: cpool.sum_pool3d(np.ones((4, 4, 4)), 5), ValueError,
     r"sum_pool3d: output size would be empty for input size \(D, H, W\) = \(4, 4, 4\)"),
    (lambda: cpool.max_pool1d(np.ones(8), 2.0), TypeError, r"max_pool1d: `kernel_size`"),
    (lambda: cpool.avg_pool3d(np.ones((1, 1, 1)), 2**30, 1, ((2**30 - 1, 0),) * 3), ValueError,
     r"avg_pool3d: a window would count \d+ cells, more than an int64 divisor holds"),
    (lambda: cpool.global_max_pool3d(np.ones((3, 0, 2, 2))), ValueError,
     r"global_max_pool3d: the pooled axes \(1, 2, 3\) \(D, H, W\) must be non-empty"),
    (lambda: cpool.max_pool3d_backward(np.ones((1, 1, 1, 1)), np.array([[[[9]]]]),
                                       (1, 2, 2, 2)), ValueError,
     r"max_pool3d_backward: `indices` must lie in \[0, D\*H\*W\) = \[0, 8\)"),
    (lambda: cpool.max_unpool1d(np.ones((1, 2)), np.zeros((1, 2), np.int64), 2,
                                output_size=(9,)), ValueError,
     r"max_unpool1d: `output_size` \(9,\) must lie within"),
    (lambda: cpool.avg_pool1d_backward(np.ones((1, 3)), (1, 4), 2), ValueError,
     r"avg_pool1d_backward: `grad_output` must have shape \(1, 2\)"),
])
def test_errors_name_the_function_and_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_inputs_are_never_modified(rng):
    x = random_array(rng, (2, 3, 4, 5, 6), np.float32)
    before = x.copy()
    for name, fn in OPS[3].items():
        fn(x) if name.startswith("global") else fn(x, 2)
    assert_identical(x, before)


@pytest.mark.parametrize("n", [1, 3])
def test_sum_and_avg_gradients_are_the_adjoints(rng, n):
    """<pool(x), g> == <x, pool_backward(g)> for the linear ops, over the geometry grid."""
    for shape, (k, s, p, d, c) in _cases(n, 80):
        x = random_array(rng, shape, np.float64)
        y = OPS[n]["sum"](x, k, s, p, d, c)
        g = random_array(rng, y.shape, np.float64)
        lhs = float((y * g).sum())
        rhs = float((x * GRADS[n]["sum"](g, shape, k, s, p, d, c)).sum())
        assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-8 * np.abs(x).sum())
        a = OPS[n]["avg"](x, k, s, p, c, False, dilation=d)
        finite = np.isfinite(a)  # 0/0 windows have no gradient
        ga = np.where(finite, g, 0)
        lhs = float((np.where(finite, a, 0) * ga).sum())
        rhs = float((x * GRADS[n]["avg"](ga, shape, k, s, p, c, False, dilation=d)).sum())
        assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-8 * np.abs(x).sum())


@pytest.mark.parametrize("n", [1, 3])
def test_float16_bool_and_out_aliasing(rng, n):
    x = random_array(rng, SHAPES[n][0], np.float32)
    h = x.astype(np.float16)
    got = OPS[n]["max"](h, 2)
    assert got.dtype == np.float16
    assert_identical(got, OPS[n]["max"](x.astype(np.float16).astype(np.float32), 2)
                     .astype(np.float16))
    b = x > 0
    assert_identical(OPS[n]["max"](b, 2), OPS[n]["max"](b.astype(np.uint8), 2).astype(bool))
    # out= sharing memory with the input: the result is what a fresh array would hold
    y = np.ascontiguousarray(x)
    want = OPS[n]["max"](y, 1)
    assert_identical(OPS[n]["max"](y, 1, out=y), want)


def test_huge_arguments_cost_nothing():
    """Kernels and pads far beyond the data take the general path: work follows the data."""
    x = np.ones((2, 3, 4, 5, 6), np.float32)
    k = 2**30
    got = cpool.max_pool3d(x, k, 1, "same", return_indices=True)
    assert got[0].shape == x.shape and (got[0] == 1).all()
    assert cpool.avg_pool1d(np.ones((3, 7)), k, 1, "same", count_include_pad=False).shape == (3, 7)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_reference_by_tap_equals_by_window(rng, n, dtype):
    # The N-D reference pools a tap offset of every window at a time; the form it stands for
    # scans one window at a time. Both must agree bit for bit (values, indices, sums and
    # averages) over the geometry grid, count_include_pad both ways and divisor_override, on
    # ties, the type's lowest, infinities, signed zeros and NaNs of several payloads.
    grid = _grid(1)[::3] if n == 2 else _grid(3)[::2] if n == 3 else _grid(1)
    shapes = SHAPES[n] if n != 2 else [(2, 3, 6, 7), (1, 1, 2, 5)]
    for shape, (k, s, p, d, c) in itertools.product(shapes, grid):
        if n == 2 and not isinstance(p, str):
            p = p if np.isscalar(p) or len(p) == 2 else 0
        try:
            kk, ss, dd, pads, outs = ref.nd_geometry(shape[-n:], k, s, p, d, c)
        except (ValueError, TypeError):
            continue
        if min(outs) < 1:
            continue
        if np.dtype(dtype).kind == "f":
            x = np.where(rng.random(shape) < 0.1, signed_zeros_and_payloads(rng, shape, dtype),
                         rng.integers(-2, 3, shape)).astype(dtype)
            x.flat[::11] = -np.inf
        else:
            info = np.iinfo(dtype)
            x = np.array([info.min, 0, 1, info.max], dtype)[rng.integers(0, 4, shape)]
        calls = [dict(op="max", return_indices=True), dict(op="sum"),
                 dict(op="avg", count_include_pad=True), dict(op="avg", count_include_pad=False),
                 dict(op="avg", divisor_override=3)]
        for kwargs in calls:
            got = ref.pool_nd(x, n, kernel_size=k, stride=s, padding=p, dilation=d,
                              ceil_mode=c, **kwargs)
            exp = ref.pool_nd_by_window(x, n, kernel_size=k, stride=s, padding=p, dilation=d,
                                        ceil_mode=c, **kwargs)
            for g, e in zip(*((got, exp) if isinstance(got, tuple) else ((got,), (exp,)))):
                assert g.shape == e.shape and g.dtype == e.dtype, (kwargs, k, s, p, d, c)
                if kwargs["op"] != "max" and g.dtype.kind == "f":
                    # Which NaN's payload a sum of NaNs keeps is NumPy's loop's choice of
                    # operand order, not the reference's: any NaN stands for all.
                    g, e = np.where(np.isnan(g), np.nan, g), np.where(np.isnan(e), np.nan, e)
                np.testing.assert_array_equal(as_bits(g) if g.dtype.kind == "f" else g,
                                              as_bits(e) if e.dtype.kind == "f" else e,
                                              err_msg=str((kwargs, k, s, p, d, c)))


ONE_ENTRY_ARGS = [([3],), (3, []), (3, [2]), (3, 2, [1]), ([2], [1], [1]), ((3,), (2,))]


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("args", ONE_ENTRY_ARGS)
def test_one_int_in_a_list_stands_for_every_axis(rng, n, args):
    """PyTorch's pooling reads ``[3]`` as 3 for every axis and ``stride=[]`` as the default;
    so do cpool's windowed ops and their gradients, and PyTorch's results are cpool's."""
    x = random_array(rng, (2, 3) + (7, 9, 8)[:n], np.float64)
    plain = tuple(a[0] if isinstance(a, (list, tuple)) and a else None if a == [] else a
                  for a in args)
    pool = {op: getattr(cpool, f"{op}_pool{n}d") for op in ("max", "avg", "sum")}
    for op in pool:
        assert_identical(pool[op](x, *args), pool[op](x, *plain))
    g = np.ones_like(pool["avg"](x, *args))
    backward = getattr(cpool, f"avg_pool{n}d_backward")
    assert_identical(backward(g, x.shape, *args), backward(g, x.shape, *plain))
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(x)
    F = torch.nn.functional
    assert_identical(pool["max"](x, *args), getattr(F, f"max_pool{n}d")(t, *args).numpy())
    np.testing.assert_allclose(pool["avg"](x, *args),
                               getattr(F, f"avg_pool{n}d")(t, *args).numpy(),
                               rtol=1e-13, atol=1e-13)


# 3-D windows with indices: the general path's column combine, its indices computed from
# each winner's slice, row and column (a row number split into slice and row in float32),
# and 2x2 and 3x3 stride-2 tiles a slice at a time (padded or not, slices dilated), over
# ties, signed zeros, NaNs of several payloads and integers, at every width from 1 to 40.
@pytest.mark.parametrize("k,s,p,d", [(2, 2, 0, 1), (3, 1, 1, 1), (3, 2, 1, 1), (3, 2, 0, 1),
                                     ((2, 3, 2), (1, 2, 1), 0, 1), ((3, 2, 2), 1, 0, (2, 1, 1)),
                                     (2, (1, 2, 2), (1, 0, 0), (2, 1, 1))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8])
def test_3d_indices_of_slices_rows_and_columns(rng, dtype, k, s, p, d):
    for W in range(1, 41):
        shape = (2, 6, 5, W)
        if not _fits(shape, 3, k, s, p, d, False):
            continue
        if np.dtype(dtype).kind == "f":
            x = rng.choice(np.array([-np.inf, -1.0, 0.0, 2.0, np.nan], dtype), size=shape)
            x = np.where(rng.random(shape) < 0.3, signed_zeros_and_payloads(rng, shape, dtype), x)
        else:
            x = rng.integers(0, 3, size=shape).astype(dtype)
        got = cpool.max_pool3d(x, k, s, p, d, return_indices=True)
        want = ref.pool_nd(x, 3, "max", k, s, p, d, return_indices=True)
        np.testing.assert_array_equal(as_bits(got[0]), as_bits(want[0]), err_msg=f"W={W}")
        np.testing.assert_array_equal(got[1], want[1], err_msg=f"W={W}")
        assert_identical(cpool.max_pool3d(x, k, s, p, d, return_indices=True, num_threads=3), got)


def test_3d_indices_of_slices_far_apart():
    # Window slices 2**32 cells or more apart in the volume (a depth dilation; every cell one
    # value on from the last in memory, 4 MB in all): the offsets are past int32, so the
    # indices come from the rows' table. Slice 1 of each window is the larger where the
    # slices differ, ties between columns, a NaN in slice 0 (the last NaN in the scan wins).
    D, H, W, dd = 2**20 + 1, 4, 1024, 2**20
    buf = np.zeros(D + H + W, np.float32)
    buf[:H + W] = np.repeat(np.arange((H + W) // 2, dtype=np.float32), 2)
    buf[dd:dd + H + W] = buf[:H + W] + (np.arange(H + W) % 3 == 0)
    buf[50] = np.nan
    x = np.lib.stride_tricks.as_strided(buf, (D, H, W), (buf.itemsize,) * 3, writeable=False)
    got = cpool.max_pool3d(x, 2, 1, dilation=(dd, 1, 1), return_indices=True)
    slices = np.stack([x[0], x[dd]])  # the windows' two slices, side by side
    want = ref.pool_nd(slices, 3, "max", 2, 1, return_indices=True)
    np.testing.assert_array_equal(as_bits(got[0]), as_bits(want[0]))
    sl, cell = np.divmod(want[1], H * W)
    np.testing.assert_array_equal(got[1], sl * dd * H * W + cell)
    assert (sl == 1).any() and (sl == 0).any()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 64, 255, 1000, 4095, 2**19 + 1, 2**20 - 1])
def test_row_numbers_split_in_float32_exactly(n):
    # _combine_padded's split of a 3-D window's row number t (below 2**20) into its slice
    # t // n_rows: float32 (t + 1/2) * (1 / n_rows), truncated, as the kernel computes it.
    t = np.arange(2**20, dtype=np.int32)
    inv = np.float32(1) / np.float32(n)
    got = ((t.astype(np.float32) + np.float32(0.5)) * inv).astype(np.int32)
    np.testing.assert_array_equal(got, t // n)


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (2, 2, 1), (3, 2, 0), (3, 2, 1), (2, 1, 0),
                                     (3, 1, 1), (3, 1, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint16])
def test_1d_indices_every_width(rng, k, s, p, dtype):
    # 1-D max k2 and k3 with indices: at stride 2 one sweep over each row's windows (vectors
    # and their remainders), at stride 1 (floats) the windows' taps in registers, 8 or 4
    # outputs a vector; the windows that padding or ceil mode cut apart: every length from 1
    # to 300, ties, signed zeros, NaNs of several payloads; and (1, k) windows of 2-D planes,
    # whose rows take the same kernels.
    for L in range(1, 301):
        shape = (3, 2, L)
        if np.dtype(dtype).kind == "f":
            x = rng.choice(np.array([-np.inf, -1.0, 0.0, 2.0, np.nan], dtype), size=shape)
            x = np.where(rng.random(shape) < 0.3, signed_zeros_and_payloads(rng, shape, dtype), x)
        else:
            x = rng.integers(0, 3, size=shape).astype(dtype)
        for c in (False, True):
            if L + 2 * p < k:
                continue
            got = cpool.max_pool1d(x, k, s, p, ceil_mode=c, return_indices=True)
            want = ref.pool_nd(x, 1, "max", k, s, p, ceil_mode=c, return_indices=True)
            np.testing.assert_array_equal(as_bits(got[0]), as_bits(want[0]), err_msg=f"L={L}")
            np.testing.assert_array_equal(got[1], want[1], err_msg=f"L={L}")
            if L % 37 == 0:
                got = cpool.max_pool2d(x, (1, k), (1, s), (0, p), ceil_mode=c,
                                       return_indices=True)
                want = ref.pool_nd(x, 2, "max", (1, k), (1, s), (0, p), ceil_mode=c,
                                   return_indices=True)
                np.testing.assert_array_equal(as_bits(got[0]), as_bits(want[0]))
                np.testing.assert_array_equal(got[1], want[1])

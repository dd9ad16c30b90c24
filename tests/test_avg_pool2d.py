import contextlib

import numpy as np
import pytest

import _reference as ref
import cpool
from _helpers import (FLOAT_DTYPES, INT_DTYPES, SAME_3X3_HEIGHTS, SAME_3X3_MODES, SAME_3X3_WIDTHS,
                      assert_identical, at_page_end, fits, general_path, planes_apart,
                      random_array, rows_apart, same_3x3_mode, same_3x3_planes, stacked_rows,
                      tolerance, window_grid)

# avg_pool2d has no dilation: keep the grid's dilation-1 cases.
GRID = [(k, s, p, c) for k, s, p, d, c in window_grid() if d == 1]
SHAPES = [(2, 3, 9, 11), (1, 2, 8, 8), (5, 7)]


def check(x, *args, **kwargs):
    got = cpool.avg_pool2d(x, *args, **kwargs)
    exp = ref.avg_pool2d(x, *args, **kwargs)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.float64
    assert got.dtype == out_dtype and got.shape == exp.shape
    rtol, atol = tolerance(got.dtype, exp)
    np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol)
    return got


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,c", GRID)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_matches_reference(rng, dtype, k, s, p, c, count_include_pad):
    for shape in SHAPES:
        if fits(shape, k, s, p, 1, c):
            check(random_array(rng, shape, dtype), k, s, p, c, count_include_pad)


@pytest.mark.parametrize("divisor_override", [1, 3, -2, 7])
@pytest.mark.parametrize("k,s,p,c", GRID[::7])
def test_divisor_override(rng, divisor_override, k, s, p, c):
    shape = (2, 3, 9, 11)
    if fits(shape, k, s, p, 1, c):
        check(random_array(rng, shape, np.float64), k, s, p, c, True, divisor_override)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integers_average_in_float64(rng, dtype):
    x = random_array(rng, (2, 3, 10, 9), dtype)
    got = check(x, 3, 2, 1, True, False)
    assert got.dtype == np.float64


def test_ceil_mode_overhang_is_not_counted():
    # PyTorch: AvgPool2d(2, stride=3, ceil_mode=True) on arange(49) as 7x7 gives corner 48.
    x = np.arange(49, dtype=np.float32).reshape(7, 7)
    got = cpool.avg_pool2d(x, 2, 3, ceil_mode=True)
    assert got.shape == (3, 3) and got[2, 2] == 48.0
    one_d = np.array([[1, 2, 3, 4, 5]], np.float64)
    np.testing.assert_array_equal(cpool.avg_pool2d(one_d, (1, 2), ceil_mode=True), [[1.5, 3.5, 5.0]])


def test_same_padding_excluding_pad_matches_tensorflow():
    # TensorFlow AveragePooling2D(2, 2, 'same') on [[1..9]] gives [[3, 4.5], [7.5, 9]].
    x = np.arange(1, 10, dtype=np.float32).reshape(3, 3)
    got = cpool.avg_pool2d(x, 2, padding="same", count_include_pad=False)
    np.testing.assert_array_equal(got, [[3, 4.5], [7.5, 9]])


def test_float16_in_float32(rng):
    x = random_array(rng, (2, 8, 8), np.float16)
    got = cpool.avg_pool2d(x, 2)
    assert got.dtype == np.float16
    exp = ref.avg_pool2d(x.astype(np.float32), 2)
    np.testing.assert_allclose(got, exp.astype(np.float16), rtol=1e-3)


def test_float32_accuracy_with_offset(rng):
    x = (1e4 + rng.random((1, 64, 64))).astype(np.float32)
    check(x, 4, 2, 1)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,c", GRID[::4])
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 2)])
def test_torch_parity(rng, dtype, k, s, p, c, count_include_pad, divisor_override):
    torch = pytest.importorskip("torch")
    shape = (2, 3, 11, 10)
    if not fits(shape, k, s, p, 1, c):
        pytest.skip("empty output")
    x = random_array(rng, shape, dtype)
    exp = torch.nn.functional.avg_pool2d(torch.from_numpy(x), k, s, p, c, count_include_pad,
                                         divisor_override).numpy()
    got = cpool.avg_pool2d(x, k, s, p, c, count_include_pad, divisor_override)
    # PyTorch sums float32 in float32 in row-major order; cpool sums columns first: a few ulps.
    rtol, atol = tolerance(dtype, exp)
    np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol)


@pytest.mark.parametrize("k,s,p,c", GRID[::2])
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 3)])
def test_general_path_is_identical(rng, k, s, p, c, count_include_pad, divisor_override):
    # The general path (kernels much wider than the input) sums the same taps in the same order.
    for shape in SHAPES:
        if not fits(shape, k, s, p, 1, c):
            continue
        for dtype in (np.float32, np.int32):
            x = random_array(rng, shape, dtype)
            fast = cpool.avg_pool2d(x, k, s, p, c, count_include_pad, divisor_override)
            with general_path():
                general = cpool.avg_pool2d(x, k, s, p, c, count_include_pad, divisor_override)
            assert_identical(general, fast)


@pytest.mark.parametrize("k,s,shape", [(2, 2, (3, 4, 14, 14)), (3, 2, (2, 3, 14, 13)),
                                       ((3, 2), (2, 2), (2, 2, 12, 9)), (2, 1, (2, 1, 8, 7))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_small_planes_match_rows(rng, k, s, shape, dtype):
    # Small planes take one pass per plane (one division pass); a plane too tall for that is
    # reduced row by row: the same bits.
    x = random_array(rng, shape, dtype)
    sh = s if np.isscalar(s) else s[0]
    for pool in (lambda a: cpool.avg_pool2d(a, k, s), lambda a: cpool.sum_pool2d(a, k, s)):
        small, first, last = stacked_rows(pool, x, k, sh)
        assert_identical(small, first)
        assert_identical(small, last)


@pytest.mark.parametrize("k,s,p,shape", [(2, 2, 0, (3, 4, 14, 14)), (3, 1, 0, (2, 3, 14, 13)),
                                         (3, 2, (1, 0), (2, 3, 13, 13)),
                                         ((5, 2), (4, 1), 0, (2, 2, 17, 6)),
                                         # taps in the horizontal padding: the row ends'
                                         # windows reduced tap by tap
                                         (3, 1, 1, (2, 3, 28, 28)), (3, 2, 1, (2, 3, 13, 14)),
                                         ((3, 5), (1, 2), (1, 2), (2, 2, 12, 20))])
@pytest.mark.parametrize("apart", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_small_planes_match_general_path(rng, k, s, p, shape, apart, dtype):
    # Small planes: one flat vertical sweep where rows are contiguous and windows overlap and
    # are equally tall, else one sweep per output row. Against the general path, bit for bit.
    x = random_array(rng, shape, dtype)
    if apart:
        x = rows_apart(x)
    for pool in (cpool.avg_pool2d, cpool.sum_pool2d):
        small = pool(x, k, s, p)
        with general_path():
            general = pool(x, k, s, p)
        assert_identical(general, small)


@pytest.mark.parametrize("k,p", [(3, 1), (5, 2), (7, 3), ((3, 5), (1, 2)), ((1, 3), (0, 1)),
                                 ((5, 3), (2, 1))])
@pytest.mark.parametrize("W", [3, 7, 8, 13, 16, 28, 31, 32])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_same_padding_small_planes(rng, k, p, W, dtype):
    # Stride 1 with "same" padding (as many outputs per row as values) on small planes: the
    # buffer rows sit apart with zeros in the gaps, and one stride-1 sweep reduces every
    # window, the rows' end windows included (taps in the padding as 0, in order), divided as
    # each row is copied out. Every count rule, rows set apart in memory, zeros, NaN and inf:
    # against the general path bit for bit, and the reference to rounding. (A window of -0
    # taps at a row's end sums to +0 here, as in PyTorch, and to -0 on the general path,
    # which adds only the in-row taps; the zeros below are +0.)
    x = random_array(rng, (2, 3, 9, W), dtype)
    if np.dtype(dtype).kind == "f":
        x[0, 0] = rng.choice(np.array([0.0, -1.5, 2.0], dtype), size=(9, W))
        x[0, 1, 2, 0], x[1, 2, 4, -1], x[1, 0, 0, W // 2] = np.nan, np.inf, -np.inf
    ops = [lambda a: cpool.sum_pool2d(a, k, 1, p),
           lambda a: cpool.avg_pool2d(a, k, 1, p),
           lambda a: cpool.avg_pool2d(a, k, 1, p, count_include_pad=False),
           lambda a: cpool.avg_pool2d(a, k, 1, p, divisor_override=3),
           lambda a: cpool.avg_pool2d(a, k, 1, p, divisor_override=4)]
    for xs in (x, rows_apart(x)):
        for op in ops:
            fast = op(xs)
            with general_path():
                assert_identical(op(xs), fast)
        got, exp = cpool.avg_pool2d(xs, k, 1, p), ref.avg_pool2d(xs, k, 1, p)
        assert got.shape[-1] == W
        rtol, atol = tolerance(np.float32 if dtype == np.float32 else np.float64, exp)
        np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol)


@pytest.mark.parametrize("k,s,p,c", [(2, 2, 0, False), (2, 2, 1, True), ((4, 2), 2, (2, 1), True),
                                     ((1, 2), (1, 2), 0, True), (3, 2, 1, False), (2, 1, 0, False)])
@pytest.mark.parametrize("shape", [(2, 3, 9, 56), (2, 3, 12, 14)])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_average_is_the_rounded_quotient_of_the_sum(rng, k, s, p, c, shape, dtype):
    # Windows of a power of two cells multiply by the exact reciprocal; every average must keep
    # the bits of the window's sum divided by its cell count, whatever the path (2x2 tiles read
    # straight from the rows, small planes, padded rows).
    x = random_array(rng, shape, dtype)
    sums = cpool.sum_pool2d(x, k, s, p, ceil_mode=c)
    counts = cpool.sum_pool2d(np.ones(shape, dtype), k, s, p, ceil_mode=c)
    got = cpool.avg_pool2d(x, k, s, p, ceil_mode=c, count_include_pad=False)
    assert_identical(got, sums / counts)


@pytest.mark.parametrize("W", list(range(2, 42)) + [63, 64, 65, 80, 128, 129, 257, 512, 1031])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES + [np.int64, np.uint64])
def test_2x2_tiles_every_row_width(rng, W, dtype):
    # 2x2 stride 2 sums each output row straight from its two input rows in vectors, the last
    # one overlapping the one before, and multiplies by a shared power-of-two divisor's
    # reciprocal as it writes: the bits of the general path (columns, then across, then the
    # division) for every output count from 1 to 40, small planes and wide rows, odd sizes,
    # divisors overridden (3 has no exact reciprocal), sums and LP's squares. Planes whose
    # window rows fit 16 KB take a call per plane, taller ones (H = 205 at the widest rows)
    # a call per row, and from 512 bytes of taps to rows of 2 KB (W = 64-255 for 8-byte
    # values, 128-511 float32) copy the upper row first; longer rows are read side by side,
    # the rows of the windows ahead hinted as they go. 64-bit integer sums take the same
    # tiles (their sums keep the dtype).
    for H in (2, 5, 8) + ((205,) if W >= 41 else ()):
        x = random_array(rng, (3, 2, H, W), dtype)
        if np.dtype(dtype).kind == "f":
            x[0, 0, 0, :2] = [np.inf, np.nan]
        else:
            np.testing.assert_array_equal(cpool.sum_pool2d(x, 2), ref.sum_pool2d(x, 2))
        ops = [lambda a: cpool.avg_pool2d(a, 2),
               lambda a: cpool.avg_pool2d(a, 2, divisor_override=3),
               lambda a: cpool.avg_pool2d(a, 2, divisor_override=8),
               lambda a: cpool.sum_pool2d(a, 2),
               lambda a: cpool.sum_pool2d(a, 2, (1, 2), dilation=((H > 2) + 1, 1)),
               lambda a: cpool.avg_pool2d(a, 2, (1, 2)),
               lambda a: cpool.lp_pool2d(a, 2, 2)]
        for op in ops:
            fast = op(x)
            with general_path():
                assert_identical(op(x), fast)
        check(x, 2)


@pytest.mark.parametrize("W", list(range(2, 42, 2)) + [46, 52, 56, 58, 62, 64, 66, 130])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_2x2_tiles_run_on_over_planes(rng, W, dtype):
    # Short float planes (rows of up to 64 values for sums and averages) laid back to back
    # (rows contiguous or not, planes after each other) take 2x2 stride 2 as one run of rows
    # per task, each row in whole vectors whose last one runs into the next row's outputs,
    # which that row then writes over; the last row of a task goes exactly. The bits of the
    # planes a call each (planes set apart) and of the general path, for even widths of 1 to
    # 4 vectors' worth of outputs and parts of one (and wider planes, which keep a call per
    # plane), tasks that end inside a plane (1-3 threads over 7 planes), batches of one image
    # or one channel, sums, averages (divisors with an exact reciprocal), adaptive averages,
    # LP's p = 2 (the task's roots after its run), and an array that ends at an unreadable
    # page (no read past the last row's taps).
    for shape in [(7, 1, 6, W), (1, 7, 2, W), (3, 5, 8, W)]:
        x = random_array(rng, shape, dtype)
        x.flat[::13] = -0.0
        ops = [lambda a, t: cpool.avg_pool2d(a, 2, num_threads=t),
               lambda a, t: cpool.avg_pool2d(a, 2, divisor_override=2, num_threads=t),
               lambda a, t: cpool.sum_pool2d(a, 2, num_threads=t),
               lambda a, t: cpool.adaptive_avg_pool2d(a, (shape[2] // 2, W // 2),
                                                      num_threads=t),
               lambda a, t: cpool.lp_pool2d(a, 2, 2, num_threads=t)]
        for op in ops:
            alone = op(planes_apart(x), 1)
            with general_path():
                assert_identical(op(x, 1), alone)
            for xs in (x, rows_apart(x), at_page_end(x)):
                for threads in (1, 2, 3):
                    assert_identical(op(xs, threads), alone)
        check(x, 2)


@pytest.mark.parametrize("W", list(range(2, 42)) + [63, 64, 65, 80, 112])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_stride2_rows_every_width(rng, W, dtype):
    # The horizontal pass at stride 2 over 2 or 3 taps runs in vectors of 4 or 8 outputs
    # (the last overlapping the one before) and a scalar tail for rows of fewer: every output
    # count from 1 to 40, padded and not, one output row per plane and many, against the
    # reference; NaN and inf stay where they are.
    for H in (3, 9):
        x = random_array(rng, (2, 3, H, W), dtype)
        x[0, 0, 0, :2] = [np.inf, np.nan]
        for k, p in [(3, 1), (3, 0), (2, 1)]:
            if fits(x.shape, k, 2, p, 1, False):
                check(x, k, 2, p)
                check(x, k, 2, p, count_include_pad=False)
                exp = ref.sum_pool2d(x, k, 2, p)
                got = cpool.sum_pool2d(x, k, 2, p)
                np.testing.assert_allclose(got, exp, *tolerance(got.dtype, exp))


def _underflowing_windows(dtype, shape):
    """Planes of zeros with the smallest negative subnormal in every 2x2 tile's first cell and
    -0 in its last: each tile's sum is that subnormal, and a quarter of it underflows to -0."""
    x = np.zeros(shape, dtype)
    x[..., 0::2, 0::2] = -np.finfo(dtype).smallest_subnormal
    x[..., 1::2, 1::2] = -0.0
    return x


@pytest.mark.parametrize("path", ["fast", "general"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["small_planes", "rows", "nhwc", "1d", "3d"])
def test_zero_results_take_pytorchs_sign(dtype, layout, path):
    # avg_pool writes each quotient into a zeroed result in PyTorch (out += sum / divisor):
    # its zeros are +0 even where the quotient is -0 (a negative divisor_override, a negative
    # sum that underflows). Adaptive pooling divides sums that start at +0: an underflowing
    # negative quotient stays -0 there, a window of -0s is +0. Every such zero, every path.
    shape = {"small_planes": (2, 3, 8, 8), "rows": (1, 2, 8, 600), "nhwc": (2, 8, 8, 5),
             "1d": (2, 3, 600), "3d": (1, 2, 2, 8, 8)}[layout]
    x = (_underflowing_windows(dtype, shape[:-1] + (2,) + shape[-1:])[..., 0, :] if layout == "1d"
         else np.moveaxis(_underflowing_windows(dtype, (2, 5, 8, 8)), 1, -1) if layout == "nhwc"
         else _underflowing_windows(dtype, shape))
    nd = {"1d": 1, "3d": 3}.get(layout, 2)
    axes = (1, 2) if layout == "nhwc" else tuple(range(-nd, 0))
    avg = {1: cpool.avg_pool1d, 2: cpool.avg_pool2d, 3: cpool.avg_pool3d}[nd]
    adaptive = {1: cpool.adaptive_avg_pool1d, 2: cpool.adaptive_avg_pool2d,
                3: cpool.adaptive_avg_pool3d}[nd]
    kernel = (1, 2, 2) if nd == 3 else 2
    sizes = tuple(x.shape[a] for a in axes)
    halves = tuple(s // k for s, k in zip(sizes, (kernel,) * nd if nd < 3 else kernel))
    with general_path() if path == "general" else contextlib.nullcontext():
        averages = avg(x, kernel, axes=axes)
        overridden = None if nd == 1 else avg(x, kernel, divisor_override=-2, axes=axes)
        means = adaptive(x, halves, axes=axes)
    assert (averages == 0).all() and not np.signbit(averages).any()
    if overridden is not None:
        assert (overridden == 0).all() and not np.signbit(overridden).any()
    assert (means == 0).all()
    # adaptive: the tiles holding a subnormal (1-D: every pair; 2-D and 3-D: every 2x2 tile)
    assert np.signbit(means).all()
    assert not np.signbit(adaptive(np.negative(np.zeros_like(x)), halves, axes=axes)).any()
    torch = pytest.importorskip("torch")
    if layout != "nhwc":
        F = torch.nn.functional
        t = torch.from_numpy(x)
        tavg = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
        tada = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}[nd]
        np.testing.assert_array_equal(np.signbit(averages), np.signbit(tavg(t, kernel).numpy()))
        np.testing.assert_array_equal(np.signbit(means), np.signbit(tada(t, halves).numpy()))
        if overridden is not None:
            np.testing.assert_array_equal(
                np.signbit(overridden), np.signbit(tavg(t, kernel, divisor_override=-2).numpy()))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("W", SAME_3X3_WIDTHS)
@pytest.mark.parametrize("H", SAME_3X3_HEIGHTS)
@pytest.mark.parametrize("mode", SAME_3X3_MODES)
def test_same_3x3_bitwise(rng, dtype, W, H, mode):
    # avg 3x3 stride 1 padding 1 (ResNet-style "same") on small planes: a kernel of its own
    # in the AVX2 build, a plane a call; every row width around its vector steps, the plane's
    # edge rows, each divisor kind (per-window counts, an exact reciprocal, a division).
    x = same_3x3_planes(rng, H, W, dtype)
    avg = same_3x3_mode(mode)
    if avg is None:
        def pool():
            return cpool.sum_pool2d(x, 3, 1, 1)
        divisor = None
    else:
        def pool():
            return cpool.avg_pool2d(x, 3, 1, 1, count_include_pad=avg[0], divisor_override=avg[1])
        divisor = ref.same_3x3_divisors(H, W, *avg, dtype)
    got = pool()
    assert_identical(got, ref.same_3x3_in_kernel_order(x, divisor))
    with general_path():  # the general rows' loops: the same steps, so the same bits
        assert_identical(got, pool())

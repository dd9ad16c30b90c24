import numpy as np
import pytest

import _reference as ref
import cpool
from _helpers import (FLOAT_DTYPES, SAME_3X3_HEIGHTS, SAME_3X3_WIDTHS, assert_identical,
                      at_page_end, fits, general_path, planes_apart, tolerance, window_grid)

GRID = [(k, s, p, c) for k, s, p, d, c in window_grid() if d == 1][::3]


def relu_data(rng, shape, dtype, zeros=0.3):
    """ReLU-like activations: non-negative, with exact zeros (and some all-zero windows)."""
    x = rng.standard_normal(shape) * 3
    x[rng.random(shape) < zeros] = 0
    return np.maximum(x, 0).astype(dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,c", GRID)
def test_training_matches_reference_generator(rng, dtype, k, s, p, c):
    shape = (2, 3, 9, 11)
    if not fits(shape, k, s, p, 1, c):
        pytest.skip("empty output")
    x = relu_data(rng, shape, dtype)
    got, gi = cpool.stochastic_pool2d(x, k, s, p, seed=7, return_indices=True, ceil_mode=c)
    exp, ei = ref.stochastic_pool2d(x, k, s, p, True, ref.stochastic_key(7), c)
    np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(gi, ei)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,c", GRID)
def test_eval_matches_reference(rng, dtype, k, s, p, c):
    shape = (2, 3, 9, 11)
    if not fits(shape, k, s, p, 1, c):
        pytest.skip("empty output")
    x = relu_data(rng, shape, dtype)
    got = cpool.stochastic_pool2d(x, k, s, p, training=False, ceil_mode=c)
    exp = ref.stochastic_pool2d(x, k, s, p, training=False, ceil_mode=c)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, exp, *tolerance(dtype, exp))


# The kernel's literal-geometry fast paths (2x2 and 3x3, stride 1 or 2), each with windows read
# in place (no padding), from padded row buffers, and with ceil-mode overhang, plus a general one.
FAST_PATHS = [(k, s, p, c) for k, s in [(2, 2), (3, 2), (3, 1), (2, 1), ((2, 3), 2), (4, 3)]
              for p, c in [(0, False), (1, False), (0, True)]]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,c", FAST_PATHS)
def test_fast_paths_match_reference(rng, dtype, k, s, p, c):
    x = relu_data(rng, (2, 3, 13, 17), dtype)
    got, gi = cpool.stochastic_pool2d(x, k, s, p, seed=5, return_indices=True, ceil_mode=c)
    exp, ei = ref.stochastic_pool2d(x, k, s, p, True, ref.stochastic_key(5), c)
    np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(gi, ei)
    # Without indices the kernel skips the tap numbers: the values must not change.
    np.testing.assert_array_equal(cpool.stochastic_pool2d(x, k, s, p, seed=5, ceil_mode=c), exp)


# 3x3 stride-2 rows are split into even and odd columns and rounded up to whole vectors of
# outputs: every width's remainder (1 to 8 outputs past the last whole vector), with padding
# and ceil-mode overhang at both edges.
@pytest.mark.parametrize("W", range(1, 40, 2))
@pytest.mark.parametrize("p,c", [(0, False), (1, False), (0, True), (1, True)])
def test_split_rows_every_width(rng, W, p, c):
    x = relu_data(rng, (2, 2, 7, W + 1), np.float32)
    if not fits(x.shape, 3, 2, p, 1, c):
        pytest.skip("empty output")
    got, gi = cpool.stochastic_pool2d(x, 3, 2, p, seed=3, return_indices=True, ceil_mode=c)
    exp, ei = ref.stochastic_pool2d(x, 3, 2, p, True, ref.stochastic_key(3), c)
    np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(gi, ei)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (4, 3, 0)])
def test_threshold_rounded_up_to_the_sum_takes_the_last_positive_tap(rng, dtype, k, s, p):
    # A window of one subnormal among zeros: u*sum rounds to the sum itself for about half
    # the draws, so no running sum exceeds it and the rule is "the last positive tap". The
    # kernel flags these outputs (its fast loop would take a trailing zero) and redraws them.
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.zeros((2, 3, 13, 17), dtype)
    mask = rng.random(x.shape) < 0.2
    x[mask] = tiny * rng.integers(1, 3, mask.sum())  # one or two units in the last place
    got, gi = cpool.stochastic_pool2d(x, k, s, p, seed=3, return_indices=True)
    exp, ei = ref.stochastic_pool2d(x, k, s, p, True, ref.stochastic_key(3))
    np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(gi, ei)
    np.testing.assert_array_equal(cpool.stochastic_pool2d(x, k, s, p, seed=3), exp)


def test_window_of_more_taps_than_float32_counts_exactly():
    # 4097**2 > 2**24 taps: tap numbers past 2**24 are not exact in float32 (odd ones round), so
    # the kernel finds the drawn tap by a scalar scan. The mass sits at odd taps of the last row,
    # past 2**24. The check: NumPy's float32 cumsum is the same sequential running sum.
    k = 4097
    x = np.zeros((1, 1, k, k), np.float32)
    x[0, 0, -1, 1::2] = np.arange(1, k // 2 + 1, dtype=np.float32) % 13 + 1
    for seed in range(3):
        y, idx = cpool.stochastic_pool2d(x, k, seed=seed, return_indices=True)
        running = np.cumsum(x.ravel(), dtype=np.float32)
        threshold = ref.stochastic_threshold(ref.stochastic_key(seed), 0, 0, running[-1], np.float32)
        expected = int(np.argmax(running > threshold))
        assert expected > 2**24 and expected % 2 == 1
        assert idx.ravel()[0] == expected and y.ravel()[0] == x.ravel()[expected]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("where", [(0, 0, 0, 0), (15, 63, 63, 63), (7, 5, 30, 3)])
def test_negative_found_in_any_thread_share(rng, training, where):
    # Each thread's share of the rows is searched: a negative in the first thread's share
    # used to be lost when another thread ran the last rows.
    x = relu_data(rng, (16, 64, 64, 64), np.float32)
    x[where] = -2
    for n in (1, 2, 4):
        with pytest.raises(ValueError, match=r"found -2.0 in a pooled window"):
            cpool.stochastic_pool2d(x, 2, seed=0, training=training, num_threads=n)


def test_infinite_and_overflowing_sums():
    x = np.ones((2, 4, 4), np.float32)
    x[0, 1, 1] = np.inf            # an infinite cell is drawn (the first one)
    x[1, :2, :2] = 3e38            # finite cells whose float32 sum overflows: drawn in float64
    y, idx = cpool.stochastic_pool2d(x, 2, seed=0, return_indices=True)
    assert y[0, 0, 0] == np.inf and idx[0, 0, 0] == 5
    assert y[1, 0, 0] == np.float32(3e38) and idx[1, 0, 0] in (0, 1, 4, 5)
    assert np.all(y[:, 1:, :] == 1) and np.all(y[:, :, 1:] == 1)


def test_frequencies_follow_the_activations():
    # 10,000 identical windows [[1, 2], [3, 4]]: values drawn with probability 0.1/0.2/0.3/0.4.
    x = np.tile(np.array([[1, 2], [3, 4]], np.float32), (100, 100))
    y = cpool.stochastic_pool2d(x, 2, seed=2013)
    counts = np.array([(y == v).sum() for v in (1, 2, 3, 4)])
    assert counts.sum() == y.size == 10_000
    expected = y.size * np.array([0.1, 0.2, 0.3, 0.4])
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 16.27, (counts, chi2)  # chi-square, 3 degrees of freedom, p = 0.001


def test_samples_are_members_and_indices_point_at_them(rng):
    x = relu_data(rng, (4, 5, 17, 19), np.float64)
    y, idx = cpool.stochastic_pool2d(x, 3, 2, 1, seed=1, return_indices=True)
    planes = x.reshape(20, -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, idx.reshape(20, -1), 1), y.reshape(20, -1))
    hmax = cpool.max_pool2d(x, 3, 2, 1)
    assert np.all(y <= hmax)  # a member of its window is at most the window's max
    rows, cols = np.divmod(idx, 19)
    oh = np.arange(y.shape[-2])[:, None]
    ow = np.arange(y.shape[-1])[None, :]
    assert np.all((rows >= oh * 2 - 1) & (rows <= oh * 2 + 1) & (cols >= ow * 2 - 1) & (cols <= ow * 2 + 1))
    sampled_zero = (y == 0) & (hmax > 0)
    assert not sampled_zero.any()  # a zero is drawn only from an all-zero window


def test_zero_windows_give_zero():
    x = np.zeros((3, 4, 4), np.float32)
    x[0, 0, 0] = 5
    y, idx = cpool.stochastic_pool2d(x, 2, seed=0, return_indices=True)
    assert y[0, 0, 0] == 5 and idx[0, 0, 0] == 0
    assert np.all(y.ravel()[1:] == 0)
    np.testing.assert_array_equal(idx[1], [[0, 2], [8, 10]])  # the first tap of each window
    assert np.all(cpool.stochastic_pool2d(x[1:], 2, training=False) == 0)


def test_mean_of_draws_approaches_eval(rng):
    # E[a_l] = sum(a_i * a_i / sum(a)) = the eval output.
    x = relu_data(rng, (2, 6, 6), np.float64, zeros=0.2)
    gen = np.random.default_rng(5)
    draws = np.mean([cpool.stochastic_pool2d(x, 3, 3, seed=gen) for _ in range(4000)], axis=0)
    np.testing.assert_allclose(draws, cpool.stochastic_pool2d(x, 3, 3, training=False), rtol=0.05, atol=0.05)


def test_padding_is_never_sampled(rng):
    x = relu_data(rng, (2, 7, 7), np.float32, zeros=0)
    for seed in range(20):
        y, idx = cpool.stochastic_pool2d(x, 3, 2, 1, seed=seed, return_indices=True)
        assert np.all((idx >= 0) & (idx < 49)) and np.all(y > 0)


@pytest.mark.parametrize("training", [True, False])
def test_thread_count_independent(rng, training):
    x = relu_data(rng, (4, 16, 130, 70), np.float32)
    one = cpool.stochastic_pool2d(x, 3, 2, 1, training=training, seed=11, num_threads=1)
    for n in (2, 3, 8):
        assert_identical(cpool.stochastic_pool2d(x, 3, 2, 1, training=training, seed=11, num_threads=n), one)


def test_seeds():
    rng = np.random.default_rng(0)
    x = relu_data(rng, (8, 32, 32), np.float32, zeros=0)
    a = cpool.stochastic_pool2d(x, 2, seed=1)
    np.testing.assert_array_equal(a, cpool.stochastic_pool2d(x, 2, seed=1))
    assert not np.array_equal(a, cpool.stochastic_pool2d(x, 2, seed=2))
    gen = np.random.default_rng(3)
    first, second = cpool.stochastic_pool2d(x, 2, seed=gen), cpool.stochastic_pool2d(x, 2, seed=gen)
    assert not np.array_equal(first, second)  # the Generator advanced
    np.testing.assert_array_equal(first, cpool.stochastic_pool2d(x, 2, seed=np.random.default_rng(3)))
    assert not np.array_equal(cpool.stochastic_pool2d(x, 2), cpool.stochastic_pool2d(x, 2))  # fresh entropy


def test_nan_gives_nan_and_eval_is_deterministic():
    x = np.ones((4, 4), np.float64)
    x[1, 1] = np.nan
    y, idx = cpool.stochastic_pool2d(x, 2, seed=0, return_indices=True)
    assert np.isnan(y[0, 0]) and idx[0, 0] == 5 and np.all(y.ravel()[1:] == 1)
    e = cpool.stochastic_pool2d(x, 2, training=False)
    assert np.isnan(e[0, 0]) and np.all(e.ravel()[1:] == 1)


def test_layouts_and_out(rng):
    base = relu_data(rng, (3, 4, 9, 10), np.float32)
    expected = cpool.stochastic_pool2d(base, 3, 2, 1, seed=4, return_indices=True)
    for x in (np.asfortranarray(base), base.astype(">f4"), base[:, :, ::-1][:, :, ::-1]):
        assert_identical(cpool.stochastic_pool2d(x, 3, 2, 1, seed=4, return_indices=True), expected)
    out = np.empty_like(expected[0])
    assert cpool.stochastic_pool2d(base, 3, 2, 1, seed=4, out=out) is out
    np.testing.assert_array_equal(out, expected[0])
    pair = (np.empty_like(expected[0]), np.empty_like(expected[1]))
    res = cpool.stochastic_pool2d(base, 3, 2, 1, seed=4, out=pair, return_indices=True)
    assert res[0] is pair[0] and res[1] is pair[1]
    half = cpool.stochastic_pool2d(base.astype(np.float16), 2, seed=4)
    assert half.dtype == np.float16


def test_errors():
    x = np.ones((2, 6, 6), np.float32)
    neg = x.copy()
    neg[1, 3, 3] = -1
    with pytest.raises(ValueError, match=r"^stochastic_pool2d: `x` must be non-negative .*found -1.0 in a pooled window"):
        cpool.stochastic_pool2d(neg, 2, seed=0)
    with pytest.raises(ValueError, match=r"`x` must be non-negative"):
        cpool.stochastic_pool2d(neg, 2, training=False)
    with pytest.raises(ValueError, match=r"`return_indices=True` needs `training=True`"):
        cpool.stochastic_pool2d(x, 2, training=False, return_indices=True)
    with pytest.raises(TypeError, match=r"needs floating activations, got dtype int32"):
        cpool.stochastic_pool2d(x.astype(np.int32), 2)
    with pytest.raises(TypeError, match=r"needs floating activations, got dtype bool"):
        cpool.stochastic_pool2d(x.astype(bool), 2)
    with pytest.raises(TypeError, match=r"`seed` must be None, an int or a numpy.random.Generator, got 'a'"):
        cpool.stochastic_pool2d(x, 2, seed="a")
    with pytest.raises(ValueError, match=r"`seed` must be non-negative, got -1"):
        cpool.stochastic_pool2d(x, 2, seed=-1)
    with pytest.raises(TypeError, match=r"`training` must be True or False, got 1"):
        cpool.stochastic_pool2d(x, 2, training=1)
    with pytest.raises(ValueError, match=r"`padding` must be at most half"):
        cpool.stochastic_pool2d(x, 2, padding=2)


def test_leading_axes_and_empty_batch(rng):
    x5 = relu_data(rng, (2, 3, 4, 9, 10), np.float64)
    y = cpool.stochastic_pool2d(x5, 2, seed=9)
    assert y.shape == (2, 3, 4, 4, 5)
    # The flat output index drives the draw, so one image pooled alone draws differently:
    # check membership per image instead, and the eval output exactly.
    e = cpool.stochastic_pool2d(x5, 2, training=False)
    for i in range(2):
        np.testing.assert_array_equal(cpool.stochastic_pool2d(x5[i], 2, training=False), e[i])
    assert cpool.stochastic_pool2d(x5[0, 0, 0], 2, seed=1).shape == (4, 5)
    empty = cpool.stochastic_pool2d(np.zeros((0, 3, 8, 8), np.float32), 2, seed=1, return_indices=True)
    assert empty[0].shape == (0, 3, 4, 4) and empty[1].shape == (0, 3, 4, 4)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_layouts_off_the_item_size(rng, dtype):
    from _helpers import odd_layouts

    x = relu_data(rng, (2, 3, 9, 11), dtype)
    train = cpool.stochastic_pool2d(x, 3, 2, 1, seed=4, return_indices=True)
    evaluation = cpool.stochastic_pool2d(x, 2, training=False)
    for x_odd in odd_layouts(x).values():
        assert_identical(cpool.stochastic_pool2d(x_odd, 3, 2, 1, seed=4, return_indices=True), train)
        assert_identical(cpool.stochastic_pool2d(x_odd, 2, training=False), evaluation)


@pytest.mark.parametrize("dtype,big", [(np.float64, 1e308), (np.float64, 3e307), (np.float32, 3e38),
                                       (np.float32, 1e38)])
@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (4, 3, 0)])
def test_sums_that_overflow_draw_a_window_value(rng, dtype, big, k, s, p):
    # Finite values whose sum overflows the dtype are drawn in float64, scaled by a power of two
    # where float64 overflows too: the same probabilities. 1e308 windows gave (0.0, 0).
    x = relu_data(rng, (2, 3, 13, 17), dtype)
    mask = rng.random(x.shape) < 0.4
    x[mask] = (big * rng.uniform(0.5, 1.0, mask.sum())).astype(dtype)
    for seed in (0, 1, 2):
        got, gi = cpool.stochastic_pool2d(x, k, s, p, seed=seed, return_indices=True)
        exp, ei = ref.stochastic_pool2d(x, k, s, p, True, ref.stochastic_key(seed))
        np.testing.assert_array_equal(got, exp)
        np.testing.assert_array_equal(gi, ei)
        planes = x.reshape(6, -1)
        np.testing.assert_array_equal(np.take_along_axis(planes, gi.reshape(6, -1), 1), got.reshape(6, -1))
    evaluation = cpool.stochastic_pool2d(x, k, s, p, training=False)
    expected = ref.stochastic_pool2d(x, k, s, p, training=False)
    assert np.all(np.isfinite(evaluation))
    np.testing.assert_allclose(evaluation, expected, *tolerance(dtype, expected))
    # A weighted average of the window: at most its max (to rounding: v*v/v may be an ulp off).
    assert np.all(evaluation <= cpool.max_pool2d(x, k, s, p) * (1 + 4 * np.finfo(dtype).eps))


def test_overflow_reproducers():
    y, i = cpool.stochastic_pool2d(np.full((2, 2), 1e308), 2, seed=0, return_indices=True)
    assert y[0, 0] == 1e308 and 0 <= i[0, 0] < 4
    assert cpool.stochastic_pool2d(np.full((2, 2), 1e308), 2, training=False)[0, 0] == 1e308
    assert cpool.stochastic_pool2d(np.full((3, 3), 1e25, np.float32), 3, training=False)[0, 0] == np.float32(1e25)


@pytest.mark.parametrize("training", [True, False])
def test_negative_values_outside_every_window_are_not_read(training):
    # Only cells inside windows count: between strided windows, past the last window (floor
    # mode), and rows no window covers. Eval mode used to reject them.
    kw = {"seed": 0} if training else {}
    cases = [
        (np.array([[1.0, -1.0, 1.0]]), dict(kernel_size=1, stride=2), [[1.0, 1.0]]),
        (np.array([[1.0, 2.0, -5.0]]), dict(kernel_size=(1, 2)), None),
        (np.array([[1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]]), dict(kernel_size=2), [[1.0]]),
    ]
    for x, geometry, expected in cases:
        got = cpool.stochastic_pool2d(x, training=training, **geometry, **kw)
        if expected is not None:
            np.testing.assert_array_equal(got, expected)
        inside = x.copy()
        inside[0, 0] = -1.0  # inside the first window: rejected
        with pytest.raises(ValueError, match=r"found -1.0 in a pooled window"):
            cpool.stochastic_pool2d(inside, training=training, **geometry, **kw)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,c", GRID + FAST_PATHS)
def test_general_path_is_identical(rng, dtype, k, s, p, c):
    # The general path (large windows, kernels much wider than the input) draws by the same
    # rules: the same samples and indices, and the same averages, including the rounding case
    # (subnormal windows) and overflowing sums.
    shape = (2, 3, 13, 17)
    if not fits(shape, k, s, p, 1, c):
        pytest.skip("empty output")
    x = relu_data(rng, shape, dtype)
    x[0, 0] = np.where(x[0, 0] > 0, np.finfo(dtype).smallest_subnormal, 0)
    x[0, 1, :3] = np.finfo(dtype).max / 2
    fast = (cpool.stochastic_pool2d(x, k, s, p, seed=9, return_indices=True, ceil_mode=c),
            cpool.stochastic_pool2d(x, k, s, p, seed=9, ceil_mode=c),
            cpool.stochastic_pool2d(x, k, s, p, training=False, ceil_mode=c))
    with general_path():
        general = (cpool.stochastic_pool2d(x, k, s, p, seed=9, return_indices=True, ceil_mode=c),
                   cpool.stochastic_pool2d(x, k, s, p, seed=9, ceil_mode=c),
                   cpool.stochastic_pool2d(x, k, s, p, training=False, ceil_mode=c))
    assert_identical(general, fast)


@pytest.mark.parametrize("W", list(range(2, 42)) + [64, 65])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_eval_2x2_every_row_width(rng, W, dtype):
    # The evaluation of 2x2 stride-2 windows runs in vectors of 2 or 4 outputs, the last one
    # overlapping the one before: every output count from 1 to 20 and 32, odd sizes (a row and
    # a column no window covers), all-zero and infinite windows, against the general path bit
    # for bit; a negative is found in every covered cell and ignored in an uncovered one.
    # 16 planes: a task per plane (at 1 and 2 threads); 3 of them: the row loop's chunks.
    x = relu_data(rng, (2, 8, 5, W), dtype)
    x[0, 0, :2, :2] = 0
    got = cpool.stochastic_pool2d(x, 2, training=False)
    np.testing.assert_allclose(got, ref.stochastic_pool2d(x, 2, training=False),
                               *tolerance(dtype, got))
    x[0, 1, :2, -2:] = np.inf  # an infinite window: infinity (the reference's is NaN)
    x[1, 5, 2:4, :2] = np.finfo(dtype).max  # its squares overflow: recomputed, finite
    got = cpool.stochastic_pool2d(x, 2, training=False)
    assert got[1, 5, 1, 0] == np.finfo(dtype).max
    with general_path():
        assert_identical(cpool.stochastic_pool2d(x, 2, training=False), got)
    for n in (1, 3):
        assert_identical(cpool.stochastic_pool2d(x, 2, training=False, num_threads=n), got)
    assert_identical(cpool.stochastic_pool2d(x[:1, :3], 2, training=False), got[:1, :3])
    for j in range(0, W, 3):
        y = x.copy()
        y[1, 2, 3, j] = -1
        if j < W - W % 2:
            with pytest.raises(ValueError, match="found -1.0"):
                cpool.stochastic_pool2d(y, 2, training=False)
        else:
            assert_identical(cpool.stochastic_pool2d(y, 2, training=False), got)
    y = x.copy()
    y[1, 2, 4, 0] = -1  # the last row: no window covers it (H = 5)
    assert_identical(cpool.stochastic_pool2d(y, 2, training=False), got)


@pytest.mark.parametrize("W", SAME_3X3_WIDTHS)
@pytest.mark.parametrize("H", SAME_3X3_HEIGHTS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_eval_same_3x3_every_row_width(rng, W, H, dtype):
    # The evaluation of the "same" 3x3 at stride 1 (padding 1 both ways) runs a plane a call
    # in vectors (AVX2 build, rows of a vector or more), the last vector of a row overlapping
    # the one before: row widths around the vector steps and the planes' edge rows, with
    # all-zero, infinite and overflowing windows and a NaN, against the reference and the
    # general path bit for bit, at any thread count; a negative in any cell is found, beside
    # a NaN too.
    x = relu_data(rng, (2, 3, H, W), dtype)
    got = cpool.stochastic_pool2d(x, 3, 1, 1, training=False)
    np.testing.assert_allclose(got, ref.stochastic_pool2d(x, 3, 1, 1, training=False),
                               *tolerance(dtype, got))
    x[0, 0, :2, :2] = 0
    x[0, 1, 0, -1] = np.inf  # infinite windows: infinity
    x[1, 0, -1, 0] = np.finfo(dtype).max / 2  # its squares overflow: recomputed, finite
    x[1, 1, 0, 0] = np.nan
    # Sums under the smallest normal (the kernel divides by it there: squares all 0, so +0),
    # and all -0 windows (+0).
    x[0, 2, :3, :3] = np.finfo(dtype).smallest_subnormal * 5
    x[0, 2, -3:, -2:] = -0.0
    got = cpool.stochastic_pool2d(x, 3, 1, 1, training=False)
    assert np.isfinite(got[1, 0]).all() and got[1, 0, -1, 0] > np.finfo(dtype).max / 8
    assert got[0, 2, 0, 0] == 0 and not np.signbit(got[0, 2, 0, 0])
    assert got[0, 2, -1, -1] == 0 and not np.signbit(got[0, 2, -1, -1])
    assert got[0, 1, 0, -1] == np.inf
    with general_path():
        assert_identical(cpool.stochastic_pool2d(x, 3, 1, 1, training=False), got)
    for n in (2, 3):
        assert_identical(cpool.stochastic_pool2d(x, 3, 1, 1, training=False, num_threads=n), got)
    for i in sorted({0, H // 2, H - 1}):
        for j in range(0, W, 2):
            y = x.copy()
            y[1, 2, i, j] = -1
            if j + 1 < W:
                y[1, 2, i, j + 1] = np.nan
            with pytest.raises(ValueError, match=r"`x` must be non-negative"):
                cpool.stochastic_pool2d(y, 3, 1, 1, training=False)


@pytest.mark.parametrize("H", [129, 130, 131, 160, 161])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_eval_same_3x3_bands_of_large_planes(rng, H, dtype):
    # Planes over 128 x 128 go a band of 32 rows a task through the same kernel (any thread
    # count): bands ending 1, 2 and 3 rows after a multiple of 32 (within the kernel's lag),
    # or on one; all-zero, infinite, overflowing and NaN windows on the bands' edge rows,
    # against the reference and the general path bit for bit, at 1 to 4 threads; a negative
    # on a band's first or last row is found.
    x = relu_data(rng, (1, 2, H, 130), dtype)
    got = cpool.stochastic_pool2d(x, 3, 1, 1, training=False, num_threads=2)
    np.testing.assert_allclose(got, ref.stochastic_pool2d(x, 3, 1, 1, training=False),
                               *tolerance(dtype, got))
    x[0, 0, 30:34, :4] = 0
    x[0, 0, 31, 9] = np.inf  # infinite windows: infinity (the reference's is NaN)
    x[0, 1, 63:65, 60:62] = np.finfo(dtype).max / 2  # sums overflow: recomputed, finite
    x[0, 1, 96, 7] = np.nan
    x[0, 1, -1, -1] = np.inf
    got = cpool.stochastic_pool2d(x, 3, 1, 1, training=False, num_threads=1)
    assert got[0, 0, 30, 8] == np.inf and np.isfinite(got[0, 1, 62:66, 59:63]).all()
    with general_path():
        assert_identical(cpool.stochastic_pool2d(x, 3, 1, 1, training=False), got)
    for n in (2, 3, 4):
        assert_identical(cpool.stochastic_pool2d(x, 3, 1, 1, training=False, num_threads=n), got)
    for i in (31, 32, 63, 64, H - 1):
        y = x.copy()
        y[0, 0, i, 100] = -1
        with pytest.raises(ValueError, match=r"`x` must be non-negative"):
            cpool.stochastic_pool2d(y, 3, 1, 1, training=False, num_threads=2)


@pytest.mark.parametrize("W", list(range(2, 42, 2)) + [64])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_eval_2x2_runs_on_over_planes(rng, W, dtype):
    # Short planes that 2x2 tiles cover whole (H = 2 OH, W = 2 OW up to 32), laid back to
    # back, are evaluated as one run of rows per task, each row's last 256-bit step reading
    # into the next rows' cells and writing into the next row's outputs; the task's last row
    # goes exactly. The bits of the planes a task each (planes set apart) and of the general
    # path, near the reference; tasks that end inside planes (1-3 threads), an all-zero, an
    # infinite and an overflowing window, an array that ends at an unreadable page; a
    # negative found in every cell of a plane's rows at each end of the run, alone or beside
    # a NaN (wider planes keep their task per plane).
    for shape in [(7, 1, 6, W), (1, 7, 2, W), (3, 5, 8, W)]:
        x = relu_data(rng, shape, dtype)
        x[0, 0, :2, :2] = 0
        x[-1, -1, -2:, -2:] = np.inf
        x[shape[0] // 2, -1, :2, -2:] = np.finfo(dtype).max
        alone = cpool.stochastic_pool2d(planes_apart(x), 2, training=False, num_threads=1)
        with general_path():
            assert_identical(cpool.stochastic_pool2d(x, 2, training=False), alone)
        for xs in (x, at_page_end(x)):
            for threads in (1, 2, 3):
                assert_identical(cpool.stochastic_pool2d(xs, 2, training=False,
                                                         num_threads=threads), alone)
        finite = np.isfinite(x).all(axis=(-2, -1))
        np.testing.assert_allclose(alone[finite],
                                   ref.stochastic_pool2d(x, 2, training=False)[finite],
                                   *tolerance(dtype, alone))
    x = np.ones((3, 5, 4, W), dtype)
    for plane, row in [(0, 0), (0, 1), (7, 2), (14, 3)]:
        for j in range(W):
            for nan in (None, (row ^ 1, (j + 5) % W)):
                y = x.copy()
                y.reshape(15, 4, W)[plane, row, j] = -1
                if nan is not None:
                    y.reshape(15, 4, W)[plane, nan[0], nan[1]] = np.nan
                for threads in (1, 3):
                    with pytest.raises(ValueError, match="found -1.0"):
                        cpool.stochastic_pool2d(y, 2, training=False, num_threads=threads)


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 1, 1)])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_eval_plane_tasks_match_row_chunks(rng, k, s, p, dtype):
    # The evaluation of 2x2 tiles runs a plane a task where the planes are many (8 a thread)
    # or small (128 x 128 at most), else in the row loop's chunks, which split a few large
    # planes between the threads (the same 3x3 goes a band of rows a task on such planes,
    # whatever the count): two large planes (chunks at 2 threads) and the same planes 16
    # times over (a plane a task at one), bit for bit, with an all-zero, an infinite and an
    # overflowing window.
    x = relu_data(rng, (1, 2, 131, 133), dtype)
    x[0, 0, :4, :4] = 0
    x[0, 1, 7, 9] = np.inf
    x[0, 1, 60:62, 60:62] = np.finfo(dtype).max
    few = cpool.stochastic_pool2d(x, k, s, p, training=False, num_threads=2)
    many = cpool.stochastic_pool2d(np.concatenate([x] * 16, axis=1), k, s, p, training=False,
                                   num_threads=1)
    for i in range(16):
        assert_identical(many[:, 2 * i:2 * i + 2], few)
    np.testing.assert_allclose(few[0, 0], ref.stochastic_pool2d(x[:, :1], k, s, p, training=False)[0, 0],
                               *tolerance(dtype, few))


@pytest.mark.parametrize("W", [8, 16, 18, 34])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_eval_finds_a_negative_beside_a_nan(W, dtype):
    # Regression: the 2x2 evaluation's vectors took the minimum of two cells before comparing
    # it with the running minimum, and a minimum with a NaN is the other operand, so a
    # negative cell paired with a NaN (4 columns apart in float32's 128-bit vectors) went
    # unreported and the call returned a negative "average". Every position of the negative
    # cell against every position of the NaN, in either row, vector widths and tails.
    for neg in range(W):
        for nan in range(W):
            for nan_row in (0, 1):
                if (nan_row, nan) == (0, neg):
                    continue
                x = np.ones((1, 1, 2, W), dtype)
                x[0, 0, 0, neg] = -5
                x[0, 0, nan_row, nan] = np.nan
                with pytest.raises(ValueError, match=r"`x` must be non-negative"):
                    cpool.stochastic_pool2d(x, 2, training=False)


@pytest.mark.parametrize("W", list(range(2, 42)) + [64, 65])
@pytest.mark.parametrize("k,p", [(2, 0), (2, 1), (3, 0), (3, 1)])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_train_stride2_every_row_width(rng, W, k, p, dtype):
    # Training draws of 2x2 and 3x3 stride-2 rows run in vectors of 4 or 8 outputs in the
    # AVX2 build (cpool_stoch_s2), the last one overlapping the one before, their columns'
    # random bits permuted to the vectors' pair order; with padding 1 the left edge comes in
    # the first vector, its padding column masked: every output count from 1 to 21 and 33,
    # against the reference generator, the general path and the baseline loop's rules bit
    # for bit. In the rows: all-zero windows, signed zeros (an all -0 window gives +0),
    # subnormal windows (the threshold rounded up to the sum), a NaN, infinities, a sum that
    # overflows the dtype, ties. The cell left of every row is a NaN that must not be read.
    shape = (2, 3, 7, W)
    if not fits(shape, k, 2, p, 1, True):
        pytest.skip("empty output")
    wide = np.full(shape[:-1] + (W + 1,), np.nan, dtype)
    x = wide[..., 1:]
    x[...] = relu_data(rng, shape, dtype)
    x[0, 0, :2, :2] = 0
    x[0, 0, 2:5] = -0.0
    x[0, 1, :3] = np.where(x[0, 1, :3] > 0, np.finfo(dtype).smallest_subnormal, 0)
    x[0, 2, 2:5] = 1  # ties: every tap equally likely
    x[1, 0, :2, -2:] = np.inf
    x[1, 0, 2:4, -1] = np.nan
    x[1, 1, 4:7, :3] = np.finfo(dtype).max
    x[1, 2, :2, :1] = -0.0
    for c in (False, True):
        if not fits(shape, k, 2, p, 1, c):
            continue
        exp, ei = ref.stochastic_pool2d(x, k, 2, p, True, ref.stochastic_key(11), c)
        got, gi = cpool.stochastic_pool2d(x, k, 2, p, seed=11, return_indices=True, ceil_mode=c)
        np.testing.assert_array_equal(got, exp)
        np.testing.assert_array_equal(gi, ei)
        assert not np.signbit(got[0, 0]).any()
        assert_identical(cpool.stochastic_pool2d(x, k, 2, p, seed=11, ceil_mode=c), got)
        with general_path():
            assert_identical(cpool.stochastic_pool2d(x, k, 2, p, seed=11, return_indices=True,
                                                     ceil_mode=c), (got, gi))
        for n in (1, 3):
            assert_identical(cpool.stochastic_pool2d(x, k, 2, p, seed=11, ceil_mode=c,
                                                     num_threads=n), got)
    if not fits(shape, k, 2, p, 1, False):
        return
    # A negative in any covered cell is found; one in a column no window covers is not read.
    got = cpool.stochastic_pool2d(x, k, 2, p, seed=11)
    covered = (got.shape[-1] - 1) * 2 + k - p  # columns [0, covered) lie in some window
    for j in range(0, W, 3):
        y = x.copy()
        y[1, 2, 3, j] = -1
        if j < covered:
            with pytest.raises(ValueError, match="found -1.0"):
                cpool.stochastic_pool2d(y, k, 2, p, seed=11)
        else:
            assert_identical(cpool.stochastic_pool2d(y, k, 2, p, seed=11), got)


@pytest.mark.parametrize("k,p", [(2, 0), (2, 1), (3, 0), (3, 1)])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_train_runs_of_rows(rng, k, p, dtype):
    # The AVX2 build draws a chunk's rows of one plane in one call (up to 8 rows, stopping at
    # a plane's end and at rows whose windows reach into the padding): planes of 18-20 output
    # rows, so runs end at chunk and plane boundaries, at 1, 2 and 5 threads (a thread's
    # chunks follow one another, and each carries its position on from the last: 5 threads
    # start theirs at rows of every kind), into a fresh result and into `out=`. Values-only
    # runs with nothing flagged skip their rows' bookkeeping; the NaN and subnormal windows
    # flag some.
    x = relu_data(rng, (2, 3, 39, 35), dtype)
    x[1, 1, 20:24, 8:12] = np.nan
    x[0, 2, 30:32, 30:34] = np.finfo(dtype).smallest_subnormal
    exp, ei = ref.stochastic_pool2d(x, k, 2, p, True, ref.stochastic_key(5))
    for n in (1, 2, 5):
        got, gi = cpool.stochastic_pool2d(x, k, 2, p, seed=5, return_indices=True, num_threads=n)
        np.testing.assert_array_equal(got, exp)
        np.testing.assert_array_equal(gi, ei)
        out = np.full(exp.shape, -7, dtype)
        assert cpool.stochastic_pool2d(x, k, 2, p, seed=5, num_threads=n, out=out) is out
        assert_identical(out, got)

import itertools

import numpy as np
import pytest

import _reference as ref
import cpool
from _helpers import (ALL_DTYPES, FLOAT_DTYPES, SAME_3X3_HEIGHTS, SAME_3X3_WIDTHS, as_bits,
                      assert_identical, at_page_end, fits,
                      general_path, planes_apart, random_array, rows_apart,
                      signed_zeros_and_payloads,
                      stacked_rows, window_grid)

GRID = window_grid()
SHAPES = [(2, 3, 9, 11), (1, 2, 8, 8), (5, 7)]


@pytest.mark.parametrize("k,s,p,d,c", GRID)
def test_matches_reference_float32(rng, k, s, p, d, c):
    for shape in SHAPES:
        if not fits(shape, k, s, p, d, c):
            continue
        x = random_array(rng, shape, np.float32)
        got, gi = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
        exp, ei = ref.max_pool2d(x, k, s, p, d, c, return_indices=True)
        np.testing.assert_array_equal(got, exp)
        np.testing.assert_array_equal(gi, ei)
        np.testing.assert_array_equal(cpool.max_pool2d(x, k, s, p, d, c), exp)


TIE_VALUES = [-np.inf, -1.0, 0.0, 2.0, np.inf, np.nan]


def _tie_heavy(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.choice(TIE_VALUES, size=shape, p=[0.15, 0.2, 0.2, 0.2, 0.15, 0.1]).astype(dtype)
    return rng.integers(0, 3, size=shape).astype(dtype)


@pytest.mark.parametrize("k,s,p,d,c", GRID)
@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_indices_with_ties_nan_and_inf(rng, dtype, k, s, p, d, c):
    # The kernel reduces columns first, then combines them; PyTorch scans rows first. Data with
    # few distinct values (ties across rows and columns, several NaNs and infinities per window)
    # is where the two orders could disagree on the index.
    for shape in SHAPES:
        if not fits(shape, k, s, p, d, c):
            continue
        x = _tie_heavy(rng, shape, dtype)
        got, gi = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
        exp, ei = ref.max_pool2d(x, k, s, p, d, c, return_indices=True)
        np.testing.assert_array_equal(got, exp)
        np.testing.assert_array_equal(gi, ei)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("k,s,p,d,c", [(2, None, 0, 1, False), (3, 2, 1, 1, True), ((2, 3), 1, (1, 0), 2, False),
                                       (4, 3, 2, 1, True)])
def test_dtypes_exact(rng, dtype, k, s, p, d, c):
    x = random_array(rng, (3, 2, 10, 13), dtype)
    got, gi = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
    exp, ei = ref.max_pool2d(x, k, s, p, d, c, return_indices=True)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(gi, ei)
    np.testing.assert_array_equal(cpool.max_pool2d(x, k, s, p, d, c), exp)


def test_integer_extremes_and_padding():
    # Padding is never read: a window of all-minimum integers returns the minimum.
    x = np.full((1, 5, 5), np.iinfo(np.int16).min, np.int16)
    x[0, 4, 4] = np.iinfo(np.int16).max
    got, idx = cpool.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(got, [[[-32768] * 3] * 2 + [[-32768, -32768, 32767]]])
    assert idx[0, 0, 0] == 0 and idx[0, 2, 2] == 24


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_nan_propagates_last_nan_index(dtype):
    x = np.arange(16, dtype=dtype).reshape(4, 4)
    x[0, 1] = np.nan
    x[1, 0] = np.nan
    v, i = cpool.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(v[0, 0]) and i[0, 0] == 4  # last NaN in row-major scan order
    assert v[1, 1] == 15 and i[1, 1] == 15
    assert np.isnan(cpool.max_pool2d(x, 2)[0, 0])
    # Window (1, 1) covers rows and columns 1..3, which hold no NaN.
    np.testing.assert_array_equal(cpool.max_pool2d(x, 4, 2, 1), [[np.nan, np.nan], [np.nan, 15]])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_inf_and_ties(dtype):
    x = np.array([[5, 5, 1], [5, -np.inf, np.inf], [-np.inf, -np.inf, 2]], dtype)
    v, i = cpool.max_pool2d(x, 2, 1, return_indices=True)
    np.testing.assert_array_equal(v, [[5, np.inf], [5, np.inf]])
    np.testing.assert_array_equal(i, [[0, 5], [3, 5]])  # ties keep the first in scan order
    allneg = np.full((3, 3), -np.inf, dtype)
    v, i = cpool.max_pool2d(allneg, 2, 1, padding=1, return_indices=True)
    assert np.all(v == -np.inf)
    np.testing.assert_array_equal(i, ref.max_pool2d(allneg, 2, 1, 1, return_indices=True)[1])


def test_empty_dilated_window_gives_lowest():
    # PyTorch issue #114216: H=2, k=2, d=3, p=1 gives one window with no in-bounds tap.
    x = np.ones((1, 2, 2), np.float32)
    v, i = cpool.max_pool2d(x, 2, 1, padding=1, dilation=3, return_indices=True)
    ev, ei = ref.max_pool2d(x, 2, 1, 1, 3, return_indices=True)
    np.testing.assert_array_equal(v, ev)
    np.testing.assert_array_equal(i, ei)
    assert np.all(v == -np.inf)


@pytest.mark.parametrize("shape", [(5, 5), (6, 7), (4, 9)])
@pytest.mark.parametrize("k,s,d", [(2, 2, 1), (3, 2, 1), (3, 1, 2), ((1, 3), (2, 3), 1)])
def test_same_and_valid_padding(rng, shape, k, s, d):
    x = random_array(rng, (2,) + shape, np.float64)
    for padding in ("same", "valid"):
        if padding == "valid" and not fits(shape, k, s, 0, d, False):
            continue
        got, gi = cpool.max_pool2d(x, k, s, padding, d, return_indices=True)
        exp, ei = ref.max_pool2d(x, k, s, padding, d, return_indices=True)
        np.testing.assert_array_equal(got, exp)
        np.testing.assert_array_equal(gi, ei)
    sh = np.atleast_1d(s) if not isinstance(s, tuple) else s
    same = cpool.max_pool2d(x, k, s, "same", d)
    assert same.shape[-2:] == tuple(-(-n // st) for n, st in zip(shape, np.broadcast_to(sh, 2)))


def test_same_padding_puts_extra_cell_after():
    # in=5, k=2, s=2: TensorFlow pads (0, 1): windows [0,1], [2,3], [4, pad].
    x = np.arange(5.0).reshape(1, 5)
    np.testing.assert_array_equal(cpool.max_pool2d(np.repeat(x, 2, 0), (1, 2), padding="same"),
                                  [[1, 3, 4]] * 2)


def test_bool_is_logical_or():
    x = np.zeros((4, 4), bool)
    x[0, 1] = x[3, 3] = True
    got = cpool.max_pool2d(x, 2)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, [[True, False], [False, True]])


def test_float16_computed_exactly(rng):
    x = random_array(rng, (2, 3, 8, 8), np.float16)
    got = cpool.max_pool2d(x, 3, 2, 1)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, ref.max_pool2d(x, 3, 2, 1))


TORCH_SHAPE = (2, 3, 11, 10)


def _assert_torch_parity(x, k, s, p, d, c):
    torch = pytest.importorskip("torch")
    tv, ti = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil_mode=c,
                                            return_indices=True)
    v, i = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
    np.testing.assert_array_equal(v, tv.numpy())
    np.testing.assert_array_equal(i, ti.numpy())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,d,c", [g for g in GRID[::3] if fits(TORCH_SHAPE, *g)])
def test_torch_parity_bitwise(rng, dtype, k, s, p, d, c):
    x = random_array(rng, TORCH_SHAPE, dtype)
    x[0, 0, 1, 1] = np.nan
    _assert_torch_parity(x, k, s, p, d, c)


# The dtypes PyTorch's CPU max_pool2d has (it lacks uint16/32/64).
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32,
                                   np.int64])
@pytest.mark.parametrize("k,s,p,d,c", [g for g in GRID[::5] if fits(TORCH_SHAPE, *g)])
def test_torch_parity_ties_bitwise(rng, dtype, k, s, p, d, c):
    _assert_torch_parity(_tie_heavy(rng, TORCH_SHAPE, dtype), k, s, p, d, c)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,d,c", GRID[::2])
def test_signed_zeros_and_nan_payloads_bitwise(rng, dtype, k, s, p, d, c):
    for shape in SHAPES:
        if not fits(shape, k, s, p, d, c):
            continue
        x = signed_zeros_and_payloads(rng, shape, dtype)
        ev, ei = ref.max_pool2d(x, k, s, p, d, c, return_indices=True)
        v, i = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
        np.testing.assert_array_equal(as_bits(v), as_bits(ev))
        np.testing.assert_array_equal(i, ei)
        np.testing.assert_array_equal(as_bits(cpool.max_pool2d(x, k, s, p, d, c)), as_bits(ev))


def test_max_of_signed_zeros_reproducer():
    x = np.array([[-1, 0], [-0.0, -1]], np.float32)
    v, i = cpool.max_pool2d(x, 2, return_indices=True)
    assert i[0, 0] == 1 and not np.signbit(v[0, 0])  # +0.0, the cell at index 1
    assert not np.signbit(cpool.max_pool2d(x, 2)[0, 0])
    y = np.array([[-0.0, 0.0]], np.float32)
    v, i = cpool.max_pool2d(y, (1, 2), return_indices=True)
    assert i[0, 0] == 0 and np.signbit(v[0, 0]) and np.signbit(cpool.max_pool2d(y, (1, 2))[0, 0])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_signed_zeros_torch_parity_bitwise(rng, dtype):
    torch = pytest.importorskip("torch")
    x = signed_zeros_and_payloads(rng, TORCH_SHAPE, dtype)
    x[np.isnan(x)] = -0.0  # NaN payloads: PyTorch copies them too, but compare zeros here
    for k, s, p, d, c in [g for g in GRID[::4] if fits(TORCH_SHAPE, *g)]:
        tv, ti = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil_mode=c,
                                                return_indices=True)
        v, i = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
        np.testing.assert_array_equal(as_bits(v), as_bits(tv.numpy()))
        np.testing.assert_array_equal(i, ti.numpy())
        np.testing.assert_array_equal(as_bits(cpool.max_pool2d(x, k, s, p, d, c)), as_bits(tv.numpy()))


# Indices past 2**31 - 1: rows were int32 in the kernel, and the index wrapped negative.
@pytest.mark.parametrize("H", [2**31 - 1, 2**31 + 5])
def test_indices_past_int32_rows(H):
    x = np.broadcast_to(np.float32(1), (H, 1))  # no memory: every row is the same cell
    v, i = cpool.max_pool2d(x, 1, stride=2**30, return_indices=True)
    rows = np.arange(0, H, 2**30)
    np.testing.assert_array_equal(i[:, 0], rows)
    np.testing.assert_array_equal(v, 1)
    # Three columns, two-row windows of tied values: the first row, each window's first column.
    x3 = np.broadcast_to(np.array([0.0, 2.0, 2.0], np.float32), (H, 3))
    v, i = cpool.max_pool2d(x3, (2, 2), stride=(2**30, 1), return_indices=True)
    rows = np.arange(0, H - 1, 2**30)
    np.testing.assert_array_equal(i, rows[:, None] * 3 + [1, 1])
    assert (i >= 0).all()
    ev = cpool.max_pool2d(x3, (2, 2), stride=(2**30, 1))
    np.testing.assert_array_equal(ev, v)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k", [2, 3])
def test_stride2_indices_of_window_rows_far_apart(dtype, k):
    # The AVX2 build's vectors of 2x2 and 3x3 stride-2 windows with indices keep each lane's
    # winner as its offset from the window's first cell, in the lanes' own width (int32 for
    # float32); window rows 2**30 cells or more apart in the plane (a dilation here) take the
    # 128-bit loop, whose offsets are int64. Rows one cell apart in memory (8 MB in all), the
    # last window row the only one not zero: each window's winner is its last cell.
    W, dh = 1024, 2**20 + 1
    buf = np.zeros((k - 1) * dh + W, dtype)
    buf[(k - 1) * dh:] = np.arange(1, W + 1)
    x = np.lib.stride_tricks.as_strided(buf, ((k - 1) * dh + 1, W), (buf.itemsize,) * 2,
                                        writeable=False)
    v, i = cpool.max_pool2d(x, k, 2, dilation=(dh, 1), return_indices=True)
    j = np.arange(v.shape[-1])
    np.testing.assert_array_equal(v[0], 2 * j + k)
    np.testing.assert_array_equal(i[0], (k - 1) * dh * W + 2 * j + k - 1)


# The general path's column combine at stride 1 and 2 (vectorised sweeps over the columns,
# the winners' offsets in int32): every row width from 1 to 70 (a vector's main loop and its
# remainders), ties, signed zeros, NaNs of several payloads, and integers.
COMBINE_WINDOWS = [((3, 3), 1, 1), ((2, 2), 1, 0), ((2, 5), 1, (0, 2)), ((1, 3), (1, 2), (0, 1)),
                   ((3, 2), (1, 2), 0), ((1, 2), (1, 2), 0), ((4, 3), (2, 1), (1, 1))]


@pytest.mark.parametrize("k,s,p", COMBINE_WINDOWS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint16, np.int64])
def test_indices_of_columns_combined_at_stride_1_and_2(rng, dtype, k, s, p):
    for W in range(1, 71):
        shape = (2, 3, 5, W)
        if not fits(shape, k, s, p, 1, False):
            continue
        x = _tie_heavy(rng, shape, dtype)
        if np.dtype(dtype).kind == "f":
            specials = signed_zeros_and_payloads(rng, shape, dtype)
            x = np.where(rng.random(shape) < 0.3, specials, x)
        got = cpool.max_pool2d(x, k, s, p, return_indices=True)
        exp = ref.max_pool2d(x, k, s, p, return_indices=True)
        np.testing.assert_array_equal(as_bits(got[0]), as_bits(exp[0]), err_msg=f"W={W}")
        np.testing.assert_array_equal(got[1], exp[1], err_msg=f"W={W}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k,p", [((2, 2), 0), ((2, 2), 1), ((1, 3), (0, 1)), ((1, 2), 0),
                                 ((3, 3), 1), ((2, 3), (1, 1)), ((3, 2), (1, 0))])
def test_stride_1_indices_every_width(rng, dtype, k, p):
    # Float windows of 1 x 2, 1 x 3 and 2 x 2 cells at stride 1 with indices take each row's
    # whole windows as vectors of 8 or 4 outputs in registers (the row's last vector
    # overlapping the one before), the windows the padding cuts at the row's ends by the
    # scan of their real cells, and rows of fewer whole windows than a vector the general
    # path, as larger windows do: every width from 1 to 70, rows the padding cuts at the top
    # and bottom (a 2-row window with one real row), a row dilation, ceil mode, row strides
    # of 1 and 2; ties, signed zeros, NaN payloads.
    for W in range(1, 71):
        for H, s, d, c in [(5, 1, 1, False), (8, (2, 1), (2, 1), True)]:
            shape = (2, 3, H, W)
            if not fits(shape, k, s, p, d, c):
                continue
            x = _tie_heavy(rng, shape, dtype)
            x = np.where(rng.random(shape) < 0.3, signed_zeros_and_payloads(rng, shape, dtype), x)
            got = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
            exp = ref.max_pool2d(x, k, s, p, d, c, return_indices=True)
            np.testing.assert_array_equal(as_bits(got[0]), as_bits(exp[0]), err_msg=f"W={W}")
            np.testing.assert_array_equal(got[1], exp[1], err_msg=f"W={W}")


@pytest.mark.parametrize("dh", [2**20 + 1, 2**19])
@pytest.mark.parametrize("k,s", [((3, 3), 1), ((2, 2), 1), ((3, 2), (1, 2))])
def test_indices_of_columns_combined_window_rows_far_apart(k, s, dh):
    # Window rows 2**30 cells or more apart in the plane (a dilation; rows one cell apart in
    # memory, 8 MB in all): the winners' offsets from the window's first cell are past int32,
    # so the combine's indices are made in 64 bits (and 2x2 stride-1 windows take the
    # general path, not their int32 offsets in registers); 2**29 apart, offsets up to
    # 2**30 + 1 in int32. Window row 2 of each window is the largest, row 0 ties row 1 and
    # holds a NaN (the last NaN in the scan wins).
    kh, kw = k
    W = 1024
    rows = np.empty((kh, W), np.float32)
    rows[:] = np.repeat(np.arange(W // 2, dtype=np.float32), 2)  # ties between columns
    rows[kh - 1] += 1
    rows[0, 100] = np.nan
    buf = np.zeros((kh - 1) * dh + W, np.float32)
    for t in range(kh):
        buf[t * dh:t * dh + W] = rows[t]
    x = np.lib.stride_tricks.as_strided(buf, ((kh - 1) * dh + 1, W), (buf.itemsize,) * 2,
                                        writeable=False)
    v, i = cpool.max_pool2d(x, k, s, dilation=(dh, 1), return_indices=True)
    ev, ei = ref.max_pool2d(rows, k, s, return_indices=True)  # the same windows, rows adjacent
    np.testing.assert_array_equal(as_bits(v), as_bits(ev))
    np.testing.assert_array_equal(i, ei // W * dh * W + ei % W)
    assert (i // W >= dh).any() and (i // W == 0).any()  # the NaN's row 0 and the later rows


@pytest.mark.parametrize("k,s,p,d,c", GRID[::2])
def test_general_path_is_identical(rng, k, s, p, d, c):
    # The general path (kernels much wider than the input) against the fast path, bit for bit,
    # on data with ties, infinities and NaNs.
    for shape in SHAPES:
        if not fits(shape, k, s, p, d, c):
            continue
        x = _tie_heavy(rng, shape, np.float32)
        fast = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True), cpool.max_pool2d(x, k, s, p, d, c)
        with general_path():
            general = (cpool.max_pool2d(x, k, s, p, d, c, return_indices=True),
                       cpool.max_pool2d(x, k, s, p, d, c))
        assert_identical(general, fast)


@pytest.mark.parametrize("k,s,shape", [(2, 2, (3, 4, 14, 14)), (3, 2, (2, 3, 14, 13)),
                                       ((3, 2), (2, 2), (2, 2, 12, 9)), (2, 1, (2, 1, 8, 7)),
                                       ((2, 3), (2, 3), (5, 8, 10))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_small_planes_match_rows(rng, k, s, shape, dtype):
    # Small planes take one pass per plane; the same windows in a plane too tall for that are
    # reduced row by row: the same bits (ties, -0 and NaN included).
    x = _tie_heavy(rng, shape, dtype) if dtype != np.int16 else random_array(rng, shape, dtype)
    small, first, last = stacked_rows(lambda a: cpool.max_pool2d(a, k, s), x,
                                      k, s if np.isscalar(s) else s[0])
    assert_identical(small, first)
    assert_identical(small, last)


@pytest.mark.parametrize("k,s,p,d,shape", [((4, 1), 1, (2, 0), (3, 1), (9, 1)),
                                           ((4, 2), 1, (2, 0), (3, 1), (2, 11, 5))])
def test_small_planes_with_windows_out_of_order(rng, k, s, p, d, shape):
    # Dilated windows in vertical padding start out of order (rows 1, 2, 0, 1 here): the
    # one-pass-per-plane path must not take them for rows in one sweep (found by the fuzz
    # test: a value read from outside the reduced rows).
    x = random_array(rng, shape, np.int8)
    got = cpool.max_pool2d(x, k, s, p, d, return_indices=True), cpool.max_pool2d(x, k, s, p, d)
    exp = ref.max_pool2d(x, k, s, p, d, return_indices=True)
    assert_identical(got[0], exp)
    assert_identical(got[1], exp[0])


@pytest.mark.parametrize("k,s,p,d,c,shape", [(3, 2, 1, 1, False, (2, 3, 28, 28)),
                                             ((2, 3), (2, 3), (0, 1), 1, True, (2, 3, 9, 13)),
                                             ((1, 4), 2, 0, 2, True, (2, 5, 6)),
                                             ((3, 4), (2, 3), (1, 2), (1, 2), True, (3, 9, 14))])
def test_small_planes_with_windows_in_the_padding(rng, k, s, p, d, c, shape):
    # Strided windows with taps in the horizontal padding or past the row (ceil_mode) take the
    # one-pass-per-plane path; the row ends' windows are reduced tap by tap. Found while
    # building it: a window reaching past a 6-wide row (taps 0, 2, 4, 6) read the next row.
    x = random_array(rng, shape, np.float32)
    exp = ref.max_pool2d(x, k, s, p, d, c)
    assert_identical(cpool.max_pool2d(x, k, s, p, d, c), exp)
    with general_path():
        assert_identical(cpool.max_pool2d(x, k, s, p, d, c), exp)


@pytest.mark.parametrize("k,s,p,shape", [(2, 2, 0, (3, 4, 14, 14)), (3, 2, 0, (2, 3, 13, 13)),
                                         (3, 2, (1, 0), (2, 3, 13, 13)),
                                         ((3, 2), (1, 2), 0, (2, 2, 12, 9)),
                                         ((2, 3), (2, 3), (1, 0), (5, 8, 10)),
                                         ((5, 2), (4, 2), 0, (2, 2, 17, 6)),
                                         # stride 1, "same" padding: gapped buffer rows
                                         (3, 1, 1, (2, 3, 28, 28)), (5, 1, 2, (2, 2, 13, 13)),
                                         ((3, 5), 1, (1, 2), (2, 3, 9, 31))])
@pytest.mark.parametrize("apart", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_small_planes_match_general_path(rng, k, s, p, shape, apart, dtype):
    # Small planes, values and indices: one flat vertical sweep per plane where its rows are
    # contiguous and its windows equally tall, else one sweep per output row (rows apart,
    # vertical padding, windows strided far apart). Against the general path, bit for bit.
    x = _tie_heavy(rng, shape, dtype) if dtype != np.int16 else random_array(rng, shape, dtype)
    if apart:
        x = rows_apart(x)
    small = cpool.max_pool2d(x, k, s, p, return_indices=True), cpool.max_pool2d(x, k, s, p)
    with general_path():
        general = cpool.max_pool2d(x, k, s, p, return_indices=True), cpool.max_pool2d(x, k, s, p)
    assert_identical(general, small)


@pytest.mark.parametrize("k,p", [(3, 1), (5, 2), ((3, 5), (1, 2))])
@pytest.mark.parametrize("W", [7, 13, 28, 31])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_same_padding_small_planes_signed_zeros_and_payloads(rng, k, p, W, dtype):
    # Stride 1, "same" padding, small planes: the gapped buffer rows' sweep, then the rows
    # whose column maxima hold a -0 or a NaN scanned again in PyTorch's order (found through
    # each buffer row's offset past its gap): the reference's bits.
    x = signed_zeros_and_payloads(rng, (2, 3, 9, W), dtype)
    for xs in (x, rows_apart(x)):
        np.testing.assert_array_equal(as_bits(cpool.max_pool2d(xs, k, 1, p)),
                                      as_bits(ref.max_pool2d(xs, k, 1, p)))


def _sparse_specials(rng, shape, dtype):
    """Ties, with a few -0, +0 and NaNs (of several payloads) scattered among them: most rows
    of 2x2 tiles hold none (the vectors' own results), some do (the rows scanned again)."""
    x = _tie_heavy(rng, shape, dtype)
    special = signed_zeros_and_payloads(rng, shape, dtype)
    return np.where(rng.random(shape) < 0.03, special, x).astype(dtype)


@pytest.mark.parametrize("W", list(range(3, 42)) + [63, 64, 65, 80, 128, 129, 257, 512, 1031])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k", [2, 3])
def test_tiles_every_row_width(rng, W, dtype, k):
    # 2x2 and 3x3 at stride 2 read each output row straight from its input rows in vectors of
    # 2, 4 or 8 outputs, the last one overlapping the one before, and scan a row again in
    # PyTorch's order where it holds a NaN or a -0 column max: every output count from 1 to
    # 40 (scalar, overlap, whole vectors), small planes (W <= 32) and wide rows, odd sizes
    # (the last row or column unread, or the last column the last window's), rows set apart
    # in memory, adaptive pooling's 3x3 windows. Planes whose window rows fit 16 KB take a
    # call per plane (every width here at heights 3-8), taller ones a call per row (H = 205
    # at the widest rows), whose 2x2 tiles copy the upper row first from 512 bytes of taps
    # and under 2 KB of row (W = 64-255 float64, 128-511 float32); longer rows are read side
    # by side, with the rows of the windows ahead hinted as they go (W = 257 float64, 512 and
    # 1031 for both).
    for H in (3, 5, 8) + ((205,) if W >= 41 else ()):
        x = _sparse_specials(rng, (3, 2, H, W), dtype)
        for xs in (x, rows_apart(x)):
            exp = ref.max_pool2d(xs, k, 2)
            np.testing.assert_array_equal(as_bits(cpool.max_pool2d(xs, k, 2)), as_bits(exp))
            np.testing.assert_array_equal(as_bits(cpool.max_pool2d(xs, k, 2, num_threads=2)),
                                          as_bits(exp))
        y = signed_zeros_and_payloads(rng, (2, H, W), dtype)
        np.testing.assert_array_equal(as_bits(cpool.max_pool2d(y, k, 2)),
                                      as_bits(ref.max_pool2d(y, k, 2)))
        # Tiles of rows one apart (vertical stride 1) and of rows two apart (dilated).
        for s, d in [((1, 2), 1), (2, (2, 1))]:
            if H >= 2 * k - 1:
                np.testing.assert_array_equal(as_bits(cpool.max_pool2d(x, k, s, 0, d)),
                                              as_bits(ref.max_pool2d(x, k, s, 0, d)))
    if W % 2:  # adaptive W -> (W - 1) / 2: 3x3 windows at stride 2 (square planes, or 7 rows
        # -> 3 on the widest: the rows are what this test is about)
        H = W if W < 66 else 7
        x = _sparse_specials(rng, (4, 3, H, W), dtype)
        np.testing.assert_array_equal(
            as_bits(cpool.adaptive_max_pool2d(x, ((H - 1) // 2, (W - 1) // 2))),
            as_bits(ref.max_pool2d(x, 3, 2)))


@pytest.mark.parametrize("W", list(range(2, 42, 2)) + [56, 64, 66, 130])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_2x2_tiles_run_on_over_planes(rng, W, dtype):
    # Short float planes (rows of up to 32 values) laid back to back take max 2x2 stride 2 as
    # one run of rows per task, each row's last vector running into the next row's outputs
    # and taps, whose NaN and -0 lanes must not send the row to the scan (nor be missed where
    # they are its own): the reference's bits with specials sparse and dense, a NaN or -0 in
    # every gap between rows (the lanes past each row), tasks that end inside a plane (1-3
    # threads), wider planes (a call per plane), and an array that ends at an unreadable
    # page.
    for shape in [(7, 1, 6, W), (3, 5, 8, W)]:
        for x in (_sparse_specials(rng, shape, dtype), _tie_heavy(rng, shape, dtype),
                  signed_zeros_and_payloads(rng, shape, dtype)):
            exp = as_bits(ref.max_pool2d(x, 2))
            for gap in (np.nan, -0.0):
                wide = np.full(shape[:-1] + (W + 3,), gap, dtype)
                wide[..., :W] = x
                for xs in (x, wide[..., :W], planes_apart(x), at_page_end(x)):
                    for threads in (1, 2, 3):
                        np.testing.assert_array_equal(
                            as_bits(cpool.max_pool2d(xs, 2, num_threads=threads)), exp)


@pytest.mark.parametrize("W", list(range(2, 42)) + [56, 64, 65, 66, 130])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_indices_of_stride2_tiles_run_on_over_planes(rng, W, dtype):
    # Max 2x2 and 3x3 stride 2 with indices over short float planes laid back to back: one
    # run of rows per task, each row's last 256-bit step running into the next row's values,
    # indices and taps (a NaN among those taps only sends the step by the exact pairs). Each
    # row's indices count from its own plane's row (the run wraps at each plane's end), so
    # tasks that end inside planes (1-3 threads), many planes of one to four output rows,
    # planes of odd heights (3x3 windows; the run steps across each plane's last row),
    # adaptive windows that are tiles, a dilated height, planes set apart (further apart
    # than a plane: the run steps over the gap), and an array that ends at an unreadable
    # page: the reference's values bitwise and its indices.
    cases = [(2, (7, 1, 6, W), {}), (2, (1, 7, 2, W), {}), (2, (3, 5, 8, W), {}),
             (3, (1, 1, 9, W), {}), (3, (3, 5, 9, W), {}), (3, (7, 1, 7, W), {}),
             (3, (1, 7, 4, W), {}), (2, (2, 3, 9, W), {"dilation": (2, 1)})]
    for k, shape, extra in cases:
        if W < k:
            continue
        for x in (_sparse_specials(rng, shape, dtype), _tie_heavy(rng, shape, dtype),
                  signed_zeros_and_payloads(rng, shape, dtype)):
            exp, ei = ref.max_pool2d(x, k, 2, return_indices=True, **extra)
            for xs in (x, planes_apart(x), at_page_end(x)):
                for threads in (1, 2, 3):
                    got, gi = cpool.max_pool2d(xs, k, 2, return_indices=True,
                                               num_threads=threads, **extra)
                    np.testing.assert_array_equal(as_bits(got), as_bits(exp))
                    np.testing.assert_array_equal(gi, ei)
            if not extra and shape[2] % 2 == k % 2 and W % 2 == k % 2:  # adaptive: tiles
                got, gi = cpool.adaptive_max_pool2d(x, (shape[2] // 2, W // 2),
                                                    return_indices=True, num_threads=2)
                np.testing.assert_array_equal(as_bits(got), as_bits(exp))
                np.testing.assert_array_equal(gi, ei)


@pytest.mark.parametrize("W", [3, 4, 5, 9, 16, 17, 33, 34, 35, 40, 41, 56, 57, 113, 1031])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k", [2, 3])
def test_stride2_indices_of_rows_the_padding_cuts(rng, W, dtype, k):
    # Max 2x2 and 3x3 stride 2 with indices and padding (ResNet's stem with indices): on rows
    # whose every window row is real, the windows with every tap in the row go by the
    # vectors, those the padding cuts (the first, with ceil_mode the last) by PyTorch's scan
    # of their real columns; the top and bottom rows, cut by the padding, by the general
    # path. Planes over the small-plane size, widths from one window up, odd and even, ties,
    # -0, +0 and NaN payloads, rows set apart, one and two threads, against the reference's
    # values and indices bitwise.
    for p in range(1, k // 2 + 1):
        for H in (k + 2, 40):
            x = _sparse_specials(rng, (2, 3, H, W), dtype)
            for xs in (x, rows_apart(x)):
                for ceil_mode in (False, True):
                    exp, ei = ref.max_pool2d(xs, k, 2, p, ceil_mode=ceil_mode,
                                             return_indices=True)
                    for threads in (1, 2):
                        got, gi = cpool.max_pool2d(xs, k, 2, p, ceil_mode=ceil_mode,
                                                   return_indices=True, num_threads=threads)
                        np.testing.assert_array_equal(as_bits(got), as_bits(exp))
                        np.testing.assert_array_equal(gi, ei)


@pytest.mark.parametrize("W", list(range(33, 58)) + [63, 64, 65, 112, 113, 224, 225, 1031])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("p,ceil", [(0, False), (1, False), (1, True), (0, True)])
def test_3x3_stride_2_rows_with_padding(rng, W, dtype, p, ceil):
    # Max 3x3 s2 on rows over 32 values (ResNet's stem: padding 1) reads each output row's
    # windows inside the row straight from its three input rows, each column's max once (in
    # AVX2 vectors of 8 or 4 outputs, each vector's last column carried to the next while the
    # one after is whole, the last overlapping the one before; the last window's third column
    # checked after them), and the windows reaching into the padding or past the row
    # (ceil_mode) from one vector of the columns at the row's start or end (over their columns
    # in the row where the row has under a vector of inner windows); a row holding a NaN or
    # a -0 column max is redone by the general path. Sparse -0, +0 and NaNs of several
    # payloads among ties, each output count from 16 to 28 and more (whole vectors, overlaps),
    # odd widths, rows set apart, the input against an unreadable page, two threads, a
    # dilated height: the reference's bits, and the general path's.
    for H in (3, 8, 31):
        x = _sparse_specials(rng, (2, 3, H, W), dtype)
        exp = ref.max_pool2d(x, 3, 2, p, ceil_mode=ceil)
        for xs in (x, rows_apart(x), at_page_end(x)):
            np.testing.assert_array_equal(
                as_bits(cpool.max_pool2d(xs, 3, 2, p, ceil_mode=ceil)), as_bits(exp))
        np.testing.assert_array_equal(
            as_bits(cpool.max_pool2d(x, 3, 2, p, ceil_mode=ceil, num_threads=2)), as_bits(exp))
        with general_path():
            np.testing.assert_array_equal(
                as_bits(cpool.max_pool2d(x, 3, 2, p, ceil_mode=ceil)), as_bits(exp))
        if H >= 5:
            np.testing.assert_array_equal(
                as_bits(cpool.max_pool2d(x, 3, 2, p, (2, 1), ceil_mode=ceil)),
                as_bits(ref.max_pool2d(x, 3, 2, p, (2, 1), ceil_mode=ceil)))
    # A NaN, or a -0 among negative values, alone at each column of the middle row (the
    # tiles' columns, the last window's third column, the edges' columns): its row is redone.
    # One plane per column and special, in one call: each plane's rows are scanned apart.
    x = -np.abs(random_array(rng, (1, 3, W), dtype)) - 1
    y = np.repeat(x, 2 * W, axis=0)
    columns = np.arange(W)
    y[columns, 1, columns] = np.nan
    y[W + columns, 1, columns] = -0.0
    np.testing.assert_array_equal(as_bits(cpool.max_pool2d(y, 3, 2, p, ceil_mode=ceil)),
                                  as_bits(ref.max_pool2d(y, 3, 2, p, ceil_mode=ceil)))


@pytest.mark.parametrize("W", list(range(3, 60)) + [63, 64, 65, 80, 112, 113])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k", [2, 3])
def test_indices_tiles_every_row_width(rng, W, dtype, k):
    # Max with indices over 2x2 and 3x3 windows at stride 2 takes PyTorch's scan tap by tap in
    # vectors of 2, 4 or 8 outputs (16 with AVX2's floats), the last one overlapping the one
    # before (in AVX2 builds, a 3x3 row's last 5-7 float or 3 double outputs: one vector of
    # masked loads that must read nothing past the row's last tap: the input is also placed
    # against an unreadable page): every output count from 1 to 29 and more, on small planes (W <= 32, more than
    # one output row: a plane per task) and on rows (one output row, and W > 32), odd widths
    # (the last column unread, or the last window's), sparse -0, +0 and NaNs (several
    # payloads, -NaN) among ties, values and indices bitwise against the reference; rows set
    # apart, a dilated set of rows, ceil_mode (a last row short of taps), two threads, and
    # adaptive pooling's 3x3 windows.
    for H in (k, 5, 8):
        x = _sparse_specials(rng, (3, 2, H, W), dtype)
        for xs in (x, rows_apart(x), at_page_end(x)):
            for ceil_mode in (False, True):
                exp, ei = ref.max_pool2d(xs, k, 2, ceil_mode=ceil_mode, return_indices=True)
                for threads in (1, 2):
                    got, gi = cpool.max_pool2d(xs, k, 2, ceil_mode=ceil_mode,
                                               return_indices=True, num_threads=threads)
                    np.testing.assert_array_equal(as_bits(got), as_bits(exp))
                    np.testing.assert_array_equal(gi, ei)
        if H >= 2 * k - 1:
            got, gi = cpool.max_pool2d(x, k, 2, 0, (2, 1), return_indices=True)
            exp, ei = ref.max_pool2d(x, k, 2, 0, (2, 1), return_indices=True)
            np.testing.assert_array_equal(as_bits(got), as_bits(exp))
            np.testing.assert_array_equal(gi, ei)
        y = signed_zeros_and_payloads(rng, (2, H, W), dtype)
        got, gi = cpool.max_pool2d(y, k, 2, return_indices=True)
        exp, ei = ref.max_pool2d(y, k, 2, return_indices=True)
        np.testing.assert_array_equal(as_bits(got), as_bits(exp))
        np.testing.assert_array_equal(gi, ei)
    if k == 3 and W % 2:  # adaptive W -> (W - 1) / 2: 3x3 windows at stride 2
        x = _sparse_specials(rng, (4, 3, W, W), dtype)
        got, gi = cpool.adaptive_max_pool2d(at_page_end(x), (W - 1) // 2, return_indices=True)
        exp, ei = ref.max_pool2d(x, 3, 2, return_indices=True)
        np.testing.assert_array_equal(as_bits(got), as_bits(exp))
        np.testing.assert_array_equal(gi, ei)


@pytest.mark.parametrize("W", list(range(2, 42)) + [63, 64, 65, 80, 112, 113])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_padded_3x3_every_row_width(rng, W, dtype):
    # 3x3 stride 2 with one column of padding (ResNet's stem pool), whose first window and
    # top row reach into the padding: every output count, one output row per plane (H = 3, 4)
    # and many (small planes at W <= 32 take their own path unless tall), sparse -0, +0 and
    # NaNs bitwise against the reference, rows set apart, ceil_mode (a last window past the
    # row's end), two threads.
    for H in (3, 4, 9) + ((420,) if W <= 32 else ()):
        x = _sparse_specials(rng, (2, 2, H, W), dtype)
        for xs in (x, rows_apart(x), at_page_end(x)):
            for ceil_mode in (False, True):
                exp = as_bits(ref.max_pool2d(xs, 3, 2, 1, ceil_mode=ceil_mode))
                for threads in (1, 2):
                    got = cpool.max_pool2d(xs, 3, 2, 1, ceil_mode=ceil_mode,
                                           num_threads=threads)
                    np.testing.assert_array_equal(as_bits(got), exp)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("W", SAME_3X3_WIDTHS)
@pytest.mark.parametrize("H", SAME_3X3_HEIGHTS)
@pytest.mark.parametrize("num_threads", [1, 2])
def test_same_3x3_bitwise(rng, dtype, W, H, num_threads):
    # max 3x3 stride 1 padding 1 on small planes: a kernel of its own in the AVX2 build, a
    # plane a call (_mm_max over the column maxima), which hands a plane with a NaN or a -0
    # column max back to the gapped rows (the scan's zero or NaN); the planes after such a
    # plane take the kernel again, with the buffer's padding rewritten. Every row width around
    # its vector steps, the plane's edge rows; bits against the reference and the general path.
    x = rng.standard_normal((3, 4, H, W)).astype(dtype)
    x[0, 1] = 0.0                     # all +0: the kernel's (no -0 column max)
    x[0, 2] = np.abs(x[0, 2]) + 1     # a -0 among larger values: the kernel's (H > 1)
    x[0, 2, 0, min(1, W - 1)] = -0.0
    x[1, 0] = -0.0                    # all -0: handed back
    x[1, 1] = np.where(rng.random((H, W)) < 0.5, -0.0, 0.0)  # mixed zeros: handed back
    x[1, 3, H // 2, W // 2] = np.nan  # a NaN: handed back, then the next planes are the kernel's
    x[2, 0, -1, -1] = np.inf
    x[2, 1] = -np.inf                 # all -inf: the padding's identity is never the answer
    x[2, 2, 0, :] = -np.inf
    got = cpool.max_pool2d(x, 3, 1, 1, num_threads=num_threads)
    expected = ref.max_pool2d(x, 3, 1, 1)
    assert_identical(got, expected)
    np.testing.assert_array_equal(as_bits(got), as_bits(expected))
    with general_path():
        np.testing.assert_array_equal(as_bits(got), as_bits(cpool.max_pool2d(x, 3, 1, 1)))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("W", SAME_3X3_WIDTHS)
@pytest.mark.parametrize("H", SAME_3X3_HEIGHTS)
@pytest.mark.parametrize("num_threads", [1, 2])
def test_same_3x3_indices_bitwise(rng, dtype, W, H, num_threads):
    # max 3x3 stride 1 padding 1 with indices: in the AVX2 build a kernel of its own, a plane
    # a call (each column's winner over its rows, then each window's over its three columns:
    # the largest value at the smallest flat index), which hands a plane with a NaN (the
    # scan's last NaN wins) to the general rows while the planes around it stay its own.
    # Every row width around its vector steps (a last vector overlapping the one before),
    # the plane's edge rows (a missing row or column taken as a repeat of its neighbour),
    # ties between rows and columns, zeros of both signs, infinities; input rows apart and
    # ``out=`` arrays (every cell written); bits and indices against the reference and the
    # general path.
    x = _tie_heavy(rng, (3, 4, H, W), dtype)
    x[x != x] = 2.0                   # no NaN but in the planes below
    x[0, 1] = 0.0                     # all +0: the first cell of each window
    x[0, 2] = np.where(rng.random((H, W)) < 0.5, -0.0, 0.0)  # mixed zeros: the first one
    x[1, 0] = -np.inf                 # all -inf: the first cell, never the padding
    x[1, 1] = rng.integers(0, 2, (H, W))  # ties everywhere
    x[1, 3, H // 2, W // 2] = np.nan  # a NaN: handed back, the next planes the kernel's
    x[2, 0] = signed_zeros_and_payloads(rng, (H, W), dtype)  # NaN payloads: handed back
    x[2, 1] = rng.standard_normal((H, W))
    expected = ref.max_pool2d(x, 3, 1, 1, return_indices=True)
    for xs in (x, rows_apart(x)):
        got = cpool.max_pool2d(xs, 3, 1, 1, return_indices=True, num_threads=num_threads)
        np.testing.assert_array_equal(as_bits(got[0]), as_bits(expected[0]))
        np.testing.assert_array_equal(got[1], expected[1])
    values = np.full((3, 4, H, W), 7, dtype)
    indices = np.full((3, 4, H, W), -7, np.int64)
    cpool.max_pool2d(x, 3, 1, 1, return_indices=True, out=(values, indices),
                     num_threads=num_threads)
    np.testing.assert_array_equal(as_bits(values), as_bits(expected[0]))
    np.testing.assert_array_equal(indices, expected[1])
    with general_path():
        general = cpool.max_pool2d(x, 3, 1, 1, return_indices=True)
    np.testing.assert_array_equal(as_bits(general[0]), as_bits(expected[0]))
    np.testing.assert_array_equal(general[1], expected[1])


@pytest.mark.parametrize("W", [5, 6, 7])
@pytest.mark.parametrize("H", [1, 2, 7, 128, 129])
def test_same_3x3_indices_of_rows_under_a_vector(rng, W, H):
    # max 3x3 s1 p1 with indices on float32 rows of 6 and 7 values (7 x 7 planes): the plane
    # kernel copies them a vector apart (masked loads: nothing read past a row), with -inf
    # after each row's values, which never wins; planes of up to 128 rows (129: the general
    # path; 5-wide rows: side by side). All -inf planes, ties, a NaN plane, rows apart,
    # arrays that end at an unreadable page.
    x = _tie_heavy(rng, (2, 3, H, W), np.float32)
    x[x != x] = 2.0
    x[0, 1] = -np.inf
    x[1, 0] = rng.integers(0, 2, (H, W))
    x[1, 2, H // 2, W // 2] = np.nan
    expected = ref.max_pool2d(x, 3, 1, 1, return_indices=True)
    for xs in (x, rows_apart(x), at_page_end(x)):
        for num_threads in (1, 2):
            got = cpool.max_pool2d(xs, 3, 1, 1, return_indices=True, num_threads=num_threads)
            np.testing.assert_array_equal(as_bits(got[0]), as_bits(expected[0]))
            np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("W", [126, 127])
def test_same_3x3_at_the_plane_kernels_bound(rng, dtype, W):
    # The plane-a-call kernel takes planes whose gapped rows (2 * H * (W + 2) values) fit
    # _window's SAME3_VALUES (32768): 128 x 126 planes are its, 128 x 127 ones the per-row
    # path's. Both sides, max with a plane handed back (a NaN) and averages, bit for bit
    # against the reference and the general path.
    x = rng.standard_normal((2, 2, 128, W)).astype(dtype)
    x[1, 0, 64, W // 2] = np.nan
    x[1, 1, :3] = -0.0
    for pool, expected in ((lambda: cpool.max_pool2d(x, 3, 1, 1), ref.max_pool2d(x, 3, 1, 1)),
                           (lambda: cpool.avg_pool2d(x, 3, 1, 1),
                            ref.same_3x3_in_kernel_order(x, ref.same_3x3_divisors(
                                128, W, True, None, dtype)))):
        got = pool()
        np.testing.assert_array_equal(as_bits(got), as_bits(expected))
        with general_path():
            np.testing.assert_array_equal(as_bits(got), as_bits(pool()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint16])
def test_reference_by_tap_equals_by_window(rng, dtype):
    # The reference pools large planes a tap offset at a time (vectorised over the windows),
    # small ones a window at a time; both forms must agree bit for bit, indices included, over
    # the whole geometry grid (padding, dilation, ceil_mode, per-side and 'same' padding) on
    # ties, infinities, signed zeros and NaNs of several payloads.
    shapes = [(2, 3, 9, 11), (1, 1, 6, 5), (2, 13, 4)]

    def bits(a):  # integers compare exactly as they are
        return as_bits(a) if a.dtype.kind == "f" else a

    def data(shape):
        if np.dtype(dtype).kind == "f":
            return _sparse_specials(rng, shape, dtype)
        info = np.iinfo(dtype)  # ties, and the type's lowest (the scan's starting value)
        picks = np.array([info.min, info.min + 1, 0, 1, info.max], dtype)
        return picks[rng.integers(0, 5, size=shape)]

    for (k, s, p, d, c), shape in itertools.product(GRID, shapes):
        if not fits(shape, k, s, p, d, c):
            continue
        x = data(shape)
        args = (x, k, s, p, d, c, True)
        for got, exp in zip(ref.max_pool2d_by_tap(*args), ref.max_pool2d_by_window(*args)):
            np.testing.assert_array_equal(bits(got), bits(exp), err_msg=str((k, s, p, d, c)))
    x = data((2, 3, 10, 7))
    for p in ("same", ((1, 0), (0, 2))):
        for got, exp in zip(ref.max_pool2d_by_tap(x, 3, 2, p, 1, False, True),
                            ref.max_pool2d_by_window(x, 3, 2, p, 1, False, True)):
            np.testing.assert_array_equal(bits(got), bits(exp))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 3])
def test_stride2_indices_every_row_width(rng, dtype, k):
    # Max k x k stride 2 with indices (the AVX2 build's vectors of 8 or 4 outputs, the 3x3
    # rows' last 5-7 outputs in one vector stored 16, 8 and 4 bytes at a time, the 128-bit
    # loop and the scalar tail): rows of every output count from 1 to 20, small planes
    # (a plane a task) and a plane too large for that, against the reference's values and
    # indices, with ties, NaN and infinities.
    for ow in range(1, 21):
        W = 2 * ow + k - 2
        for shape in ((3, 7, W), (1, 130, W)):
            x = _tie_heavy(rng, shape, dtype)
            got, gi = cpool.max_pool2d(x, k, 2, return_indices=True)
            exp, ei = ref.max_pool2d(x, k, 2, return_indices=True)
            assert got.shape[-1] == ow
            np.testing.assert_array_equal(as_bits(got), as_bits(exp))
            np.testing.assert_array_equal(gi, ei)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k,s,p,d,c", [(3, 1, 1, 1, False), (2, 1, 0, 1, False),
                                       (5, 1, 2, 1, False), (4, 3, 2, 1, True),
                                       (3, 1, 1, 2, False), (2, 1, 1, 1, True)])
def test_small_planes_side_by_side(rng, dtype, k, s, p, d, c):
    """Windows over small float planes that the planes' own kernels take a short row at a
    time (stride 1, padding) are pooled side by side, a group of planes as the lanes of
    channels-last pixels: max values, their bits and indices are the reference's (zeros of
    either sign, NaN payloads); sums and averages (padding counted or not) the channels-last
    kernels' bits (but NaN payloads) and the reference's values; whole and short groups, thread counts that
    shrink the groups, rows further apart than they are long."""
    x = signed_zeros_and_payloads(rng, (3, 100, 7, 9), dtype)
    x[..., ::2, :] = rng.standard_normal(x[..., ::2, :].shape)
    for x in (x, np.concatenate([x, x], axis=-1)[..., :9]):
        lanes = np.ascontiguousarray(np.moveaxis(x, 1, -1))  # the channels-last kernels
        want_v, want_i = ref.max_pool2d(x, k, s, p, d, c, return_indices=True)
        sums = {"sum": lambda a, **kw: cpool.sum_pool2d(a, k, s, p, d, c, **kw)}
        if d == 1:
            sums["avg"] = lambda a, **kw: cpool.avg_pool2d(a, k, s, p, c, **kw)
            sums["avg, real cells"] = lambda a, **kw: cpool.avg_pool2d(a, k, s, p, c, False,
                                                                        **kw)
        finite = np.where(np.isnan(x), 1, x).astype(dtype)
        for threads in (1, 2, 3):
            v, i = cpool.max_pool2d(x, k, s, p, d, c, True, num_threads=threads)
            np.testing.assert_array_equal(as_bits(v), as_bits(want_v))
            np.testing.assert_array_equal(i, want_i)
            v = cpool.max_pool2d(x, k, s, p, d, c, num_threads=threads)
            np.testing.assert_array_equal(as_bits(v), as_bits(want_v))
            for name, op in sums.items():
                got = op(x, num_threads=threads)
                want = np.moveaxis(op(lanes, axes=(1, 2)), -1, 1)
                nan = np.isnan(want)  # (a sum of two NaNs may take either's payload)
                np.testing.assert_array_equal(np.isnan(got), nan, err_msg=name)
                np.testing.assert_array_equal(as_bits(got)[~nan], as_bits(want)[~nan],
                                              err_msg=name)
            np.testing.assert_allclose(cpool.sum_pool2d(finite, k, s, p, d, c,
                                                        num_threads=threads),
                                       ref.sum_pool2d(finite, k, s, p, d, c),
                                       rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-5)

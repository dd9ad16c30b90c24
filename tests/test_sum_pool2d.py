import itertools

import numpy as np
import pytest

import _reference as ref
import cpool
from _helpers import (FLOAT_DTYPES, INT_DTYPES, assert_identical, fits, general_path, random_array,
                      tolerance, window_grid)

GRID = window_grid()
SHAPES = [(2, 3, 9, 11), (5, 7)]


@pytest.mark.parametrize("k,s,p,d,c", GRID)
def test_matches_reference_float64(rng, k, s, p, d, c):
    for shape in SHAPES:
        if fits(shape, k, s, p, d, c):
            x = random_array(rng, shape, np.float64)
            exp = ref.sum_pool2d(x, k, s, p, d, c)
            np.testing.assert_allclose(cpool.sum_pool2d(x, k, s, p, d, c), exp,
                                       *tolerance(np.float64, exp))


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("k,s,p,d,c", GRID[::11])
def test_integers_exact_and_widened(rng, dtype, k, s, p, d, c):
    shape = (2, 3, 9, 11)
    if not fits(shape, k, s, p, d, c):
        pytest.skip("empty output")
    x = random_array(rng, shape, dtype)
    got = cpool.sum_pool2d(x, k, s, p, d, c)
    assert got.dtype == (np.int64 if np.dtype(dtype).kind == "i" else np.uint64)
    np.testing.assert_array_equal(got, ref.sum_pool2d(x, k, s, p, d, c))


def test_uint8_never_overflows():
    x = np.full((1, 16, 16), 255, np.uint8)
    np.testing.assert_array_equal(cpool.sum_pool2d(x, 16), [[[255 * 256]]])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_float_dtype_kept(rng, dtype):
    x = random_array(rng, (3, 8, 8), dtype)
    got = cpool.sum_pool2d(x, 3, 1, 1)
    assert got.dtype == dtype
    exp = ref.sum_pool2d(x, 3, 1, 1)
    np.testing.assert_allclose(got, exp, *tolerance(dtype, exp))


def test_empty_dilated_window_sums_to_zero():
    x = np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(cpool.sum_pool2d(x, 2, 1, 1, 3), ref.sum_pool2d(x, 2, 1, 1, 3))


def test_equals_avg_times_window_without_padding(rng):
    x = random_array(rng, (2, 10, 10), np.float64)
    np.testing.assert_allclose(cpool.sum_pool2d(x, 3, 2), cpool.avg_pool2d(x, 3, 2) * 9, rtol=1e-13)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,c", [(2, None, 0, False), (3, 2, 1, True), ((2, 3), 1, (1, 0), False)])
def test_torch_parity_divisor_override_1(rng, dtype, k, s, p, c):
    torch = pytest.importorskip("torch")
    x = random_array(rng, (2, 3, 11, 10), dtype)
    exp = torch.nn.functional.avg_pool2d(torch.from_numpy(x), k, s, p, c, True, 1).numpy()
    np.testing.assert_allclose(cpool.sum_pool2d(x, k, s, p, 1, c), exp, *tolerance(dtype, exp))


@pytest.mark.parametrize("k,s,p,d,c", GRID[::2])
def test_general_path_is_identical(rng, k, s, p, d, c):
    for shape in SHAPES:
        if not fits(shape, k, s, p, d, c):
            continue
        for dtype in (np.float64, np.uint8):
            x = random_array(rng, shape, dtype)
            fast = cpool.sum_pool2d(x, k, s, p, d, c)
            with general_path():
                assert_identical(cpool.sum_pool2d(x, k, s, p, d, c), fast)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint16, np.int64])
def test_reference_sums_by_tap_equal_by_cell(rng, dtype):
    # The reference sums a tap offset of every window at a time; the form it stands for adds
    # each window's cells one at a time in scan order. Both must agree bit for bit (the same
    # order of additions; an out-of-bounds tap adds +0) over the whole geometry grid, per-side
    # and 'same' padding, on planes smaller than the window, with signed zeros and infinities.
    for (k, s, p, d, c), shape in itertools.product(GRID, [(2, 3, 9, 11), (1, 2, 5)]):
        if not fits(shape, k, s, p, d, c):
            continue
        x = random_array(rng, shape, dtype)
        if np.dtype(dtype).kind == "f":
            x.flat[::7] = -0.0
            x.flat[::23] = np.inf
        for padding in (p, "same", ((1, 0), (0, 1))) if p == 0 and d == 1 else (p,):
            geometry = ref._geometry(x, k, s, padding, d, c)
            kk, ss, dd, ph, pw, OH, OW = geometry
            acc = np.float64 if x.dtype.kind == "f" else np.int64
            got = ref.window_sums_by_tap(x, kk, ss, dd, ph, pw, OH, OW, acc)
            exp = ref.window_sums_by_cell(x, kk, ss, dd, ph, pw, OH, OW, acc)
            np.testing.assert_array_equal(got.view(np.int64), exp.view(np.int64),
                                          err_msg=str((k, s, padding, d, c)))

"""Hypothesis property tests: random shapes and geometries against the reference, and invariants."""
import numpy as np
import pytest

import _reference as ref
import cpool
from _helpers import as_bits, fits, rows_apart, tolerance

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@st.composite
def pooling_case(draw, dilation=True):
    H = draw(st.integers(1, 12))
    W = draw(st.integers(1, 12))
    lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    c = draw(st.booleans())
    shape = tuple(lead) + (H, W)
    assume(fits(shape, k, s, p, d, c))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e3, 1e3, allow_nan=False)))
    return x, k, s, p, d, c


@given(pooling_case())
def test_max_matches_reference(case):
    x, k, s, p, d, c = case
    v, i = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
    ev, ei = ref.max_pool2d(x, k, s, p, d, c, return_indices=True)
    np.testing.assert_array_equal(v, ev)
    np.testing.assert_array_equal(i, ei)
    # Every index points at its value inside its own plane.
    planes = x.reshape(-1, x.shape[-2] * x.shape[-1])
    flat_i = i.reshape(planes.shape[0], -1)
    finite = np.isfinite(v.reshape(planes.shape[0], -1))
    picked = np.take_along_axis(planes, np.clip(flat_i, 0, planes.shape[1] - 1), axis=1)
    np.testing.assert_array_equal(picked[finite], v.reshape(planes.shape[0], -1)[finite])


@given(pooling_case(dilation=False), st.booleans())
def test_avg_matches_reference_and_is_bounded(case, count_include_pad):
    x, k, s, p, d, c = case
    got = cpool.avg_pool2d(x, k, s, p, c, count_include_pad)
    exp = ref.avg_pool2d(x, k, s, p, c, count_include_pad)
    np.testing.assert_allclose(got, exp, *tolerance(np.float64, exp))
    if not count_include_pad:  # an average of real cells lies between their min and max
        hi = cpool.max_pool2d(x, k, s, p, 1, c)
        lo = -cpool.max_pool2d(-x, k, s, p, 1, c)
        assert np.all(got <= hi + 1e-9) and np.all(got >= lo - 1e-9)


@given(pooling_case())
def test_sum_matches_reference(case):
    x, k, s, p, d, c = case
    exp = ref.sum_pool2d(x, k, s, p, d, c)
    np.testing.assert_allclose(cpool.sum_pool2d(x, k, s, p, d, c), exp, *tolerance(np.float64, exp))


# Values whose bits a 3x3 pooling can get wrong: ties, zeros of both signs, NaN and the
# infinities, among ordinary values.
_SPECIALS = [0.0, -0.0, 1.0, -1.0, 2.5, np.nan, np.inf, -np.inf]


def _special_or_small(dtype):
    """Elements of ``dtype``: those values, or floats in [-4, 4]."""
    return st.one_of(st.sampled_from(_SPECIALS), st.floats(-4, 4, width=32)).map(dtype)


@given(st.integers(1, 3), st.integers(1, 20), st.integers(1, 48),
       st.sampled_from([np.float32, np.float64]),
       st.sampled_from(["max", "max_indices", "sum", "avg", "avg_exclude", "avg_override"]),
       st.booleans(), st.data())
def test_same_3x3_kernels_bitwise(planes, H, W, dtype, op, apart, data):
    # max/avg/sum 3x3 stride 1 padding 1: the AVX2 build's plane kernels (rows in pairs, the
    # columns' neighbours in registers, a short last vector; with indices, the columns'
    # winners in buffer rows, a last vector overlapping the one before; planes they flag
    # redone by the general rows) and the other paths, against the reference's bits (a max's
    # NaN too: the scan's first) and indices.
    x = data.draw(hnp.arrays(dtype, (planes, H, W), elements=_special_or_small(dtype)))
    if apart:
        x = rows_apart(x)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, sums past the dtype's max
        if op == "max":
            got, expected = cpool.max_pool2d(x, 3, 1, 1), ref.max_pool2d(x, 3, 1, 1)
        elif op == "max_indices":
            (got, got_idx), (expected, expected_idx) = (
                cpool.max_pool2d(x, 3, 1, 1, return_indices=True),
                ref.max_pool2d(x, 3, 1, 1, return_indices=True))
            np.testing.assert_array_equal(got_idx, expected_idx)
        elif op == "sum":
            got, expected = cpool.sum_pool2d(x, 3, 1, 1), ref.same_3x3_in_kernel_order(x, None)
        else:
            include, override = {"avg": (True, None), "avg_exclude": (False, None),
                                 "avg_override": (True, 4)}[op]
            got = cpool.avg_pool2d(x, 3, 1, 1, count_include_pad=include,
                                   divisor_override=override)
            expected = ref.same_3x3_in_kernel_order(
                x, ref.same_3x3_divisors(H, W, include, override, dtype))
    if not op.startswith("max"):  # a sum's NaN is a NaN: which one (its sign) depends on the
        got, expected = got.copy(), expected.copy()  # operands' order GCC picks (semantics.md)
        assert np.array_equal(np.isnan(got), np.isnan(expected))
        got[np.isnan(got)] = expected[np.isnan(expected)] = 0
    np.testing.assert_array_equal(as_bits(got), as_bits(expected))


@given(st.integers(1, 3), st.integers(3, 14), st.integers(1, 60), st.integers(0, 1),
       st.booleans(), st.sampled_from([np.float32, np.float64]), st.sampled_from([2, 3]),
       st.booleans(), st.data())
def test_max_3x3_s2_kernels_bitwise(planes, H, W, padding, ceil_mode, dtype, dims, apart, data):
    # max 3x3 (3x3x3) stride 2: the AVX2 build's rows-first kernel (each row's window maxima,
    # then over the rows; an input row's shared by two output rows, the first window's
    # padding in the first vector, an overlapping last vector), its short rows' columns-first
    # tiles, the edge windows and the general rows of the rows it flags, against the
    # reference's bits: the scan's first largest value (a zero's sign) and NaN.
    assume(W + 2 * padding >= 3)
    depth = 1 if dims == 2 else data.draw(st.integers(3, 5))
    shape = (planes, H, W) if dims == 2 else (planes, depth, H, W)
    x = data.draw(hnp.arrays(dtype, shape, elements=_special_or_small(dtype)))
    if apart:
        x = rows_apart(x)
    if dims == 2:
        got = cpool.max_pool2d(x, 3, 2, padding, ceil_mode=ceil_mode)
        expected = ref.max_pool2d(x, 3, 2, padding, ceil_mode=ceil_mode)
    else:
        got = cpool.max_pool3d(x, 3, 2, padding, ceil_mode=ceil_mode)
        expected = ref.pool_nd(x, 3, "max", 3, 2, padding, ceil_mode=ceil_mode)
    np.testing.assert_array_equal(as_bits(got), as_bits(expected))


@given(hnp.arrays(np.int32, hnp.array_shapes(min_dims=2, max_dims=4, max_side=9),
                  elements=st.integers(-10**6, 10**6)))
def test_global_ops_equal_whole_plane_windows(x):
    H, W = x.shape[-2:]
    np.testing.assert_array_equal(cpool.global_max_pool2d(x, keepdims=True), cpool.max_pool2d(x, (H, W)))
    np.testing.assert_array_equal(cpool.global_sum_pool2d(x, keepdims=True), cpool.sum_pool2d(x, (H, W)))
    np.testing.assert_allclose(cpool.global_avg_pool2d(x, keepdims=True), cpool.avg_pool2d(x, (H, W)),
                               rtol=1e-14)
    np.testing.assert_array_equal(cpool.global_sum_pool2d(x), x.astype(np.int64).sum(axis=(-2, -1)))

"""Hypothesis property tests: random shapes and geometries against the reference, and invariants."""
import numpy as np
import pytest

import _reference as ref
import cpool
from _helpers import fits, tolerance

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


@given(hnp.arrays(np.int32, hnp.array_shapes(min_dims=2, max_dims=4, max_side=9),
                  elements=st.integers(-10**6, 10**6)))
def test_global_ops_equal_whole_plane_windows(x):
    H, W = x.shape[-2:]
    np.testing.assert_array_equal(cpool.global_max_pool2d(x, keepdims=True), cpool.max_pool2d(x, (H, W)))
    np.testing.assert_array_equal(cpool.global_sum_pool2d(x, keepdims=True), cpool.sum_pool2d(x, (H, W)))
    np.testing.assert_allclose(cpool.global_avg_pool2d(x, keepdims=True), cpool.avg_pool2d(x, (H, W)),
                               rtol=1e-14)
    np.testing.assert_array_equal(cpool.global_sum_pool2d(x), x.astype(np.int64).sum(axis=(-2, -1)))

import platform

import numpy as np
import pytest

import _reference as ref
import cpool
from cpool._kernels import global_pool
from _helpers import (ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES, as_bits, assert_identical, random_array,
                      signed_zeros_and_payloads, tolerance)

SHAPES = [(3, 4, 7, 7), (2, 5, 1, 9), (6, 1), (2, 2, 300, 257)]  # the last spans several bands


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_max_exact(rng, dtype, shape, keepdims):
    x = random_array(rng, shape, dtype)
    got, gi = cpool.global_max_pool2d(x, keepdims, return_indices=True)
    exp, ei = ref.global_max_pool2d(x, keepdims, return_indices=True)
    assert got.dtype == x.dtype and got.shape == exp.shape
    np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(gi, ei)
    np.testing.assert_array_equal(cpool.global_max_pool2d(x, keepdims), exp)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_global_sum_and_avg(rng, dtype, shape):
    x = random_array(rng, shape, dtype)
    s, a = cpool.global_sum_pool2d(x), cpool.global_avg_pool2d(x, keepdims=True)
    es, ea = ref.global_sum_pool2d(x), ref.global_avg_pool2d(x, keepdims=True)
    if np.dtype(dtype).kind == "f":
        assert s.dtype == dtype and a.dtype == dtype
        np.testing.assert_allclose(s, es, *tolerance(dtype, es))
        np.testing.assert_allclose(a, ea, *tolerance(dtype, ea))
    else:
        assert s.dtype == es.dtype and a.dtype == np.float64
        np.testing.assert_array_equal(s, es)
        np.testing.assert_allclose(a, ea, rtol=1e-15)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_nan_and_ties(dtype):
    x = np.array([[1, 5, 5], [np.nan, 5, np.nan], [7, 7, 0]], dtype)
    v, i = cpool.global_max_pool2d(x, return_indices=True)
    assert np.isnan(v) and i == 5  # last NaN
    x[1, [0, 2]] = 2
    v, i = cpool.global_max_pool2d(x, return_indices=True)
    assert v == 7 and i == 6  # first maximum
    big = np.zeros((1, 400, 300), dtype)
    big[0, 399, 1] = np.nan
    big[0, 3, 3] = np.nan
    v, i = cpool.global_max_pool2d(big, return_indices=True)
    assert np.isnan(v[0]) and i[0] == 399 * 300 + 1
    assert np.isnan(cpool.global_sum_pool2d(big)[0]) and np.isnan(cpool.global_avg_pool2d(big)[0])
    allneg = np.full((2, 3), -np.inf, dtype)
    assert cpool.global_max_pool2d(allneg, return_indices=True) == (-np.inf, 0)


def test_float32_mean_accurate_on_large_offset_plane(rng):
    x = (1000.0 + rng.random((2048, 2048))).astype(np.float32)
    exact = x.astype(np.float64).mean()
    got = cpool.global_avg_pool2d(x)
    assert got.dtype == np.float32
    assert abs(float(got) - exact) <= 1e-6 * abs(exact)
    assert abs(float(cpool.global_sum_pool2d(x)) - x.astype(np.float64).sum()) <= 1e-6 * abs(exact) * x.size


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_sum_exact_and_widened(dtype):
    info = np.iinfo(dtype)
    x = np.full((2, 64, 64), info.max, dtype)
    x[1] = info.min
    got = cpool.global_sum_pool2d(x)
    assert got.dtype == (np.int64 if info.min < 0 else np.uint64)
    if info.bits < 64:
        np.testing.assert_array_equal(got, [int(info.max) * 4096, int(info.min) * 4096])


def test_float16(rng):
    x = random_array(rng, (3, 5, 5), np.float16)
    assert cpool.global_avg_pool2d(x).dtype == np.float16
    np.testing.assert_array_equal(cpool.global_max_pool2d(x), x.max(axis=(-2, -1)))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_torch_parity(rng, dtype):
    torch = pytest.importorskip("torch")
    x = random_array(rng, (4, 3, 9, 13), dtype)
    x[1, 2, 4, 4] = np.nan
    t = torch.from_numpy(x)
    tv, ti = torch.nn.functional.adaptive_max_pool2d(t, 1, return_indices=True)
    v, i = cpool.global_max_pool2d(x, keepdims=True, return_indices=True)
    np.testing.assert_array_equal(v, tv.numpy())
    np.testing.assert_array_equal(i, ti.numpy())
    np.testing.assert_array_equal(cpool.global_max_pool2d(x), t.amax((-2, -1)).numpy())
    mean = t.mean((-2, -1)).numpy()
    np.testing.assert_allclose(cpool.global_avg_pool2d(x), mean, *tolerance(dtype, mean))
    tsum = t.sum((-2, -1)).numpy()
    np.testing.assert_allclose(cpool.global_sum_pool2d(x), tsum, *tolerance(dtype, tsum))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_nan_carried_across_rows_of_strided_planes(dtype):
    # Rows read one at a time (row stride != W): a NaN in an early row must survive later rows.
    x = np.arange(2 * 40 * 64, dtype=dtype).reshape(2, 40, 64)
    x[0, 2, 5] = np.nan
    view = x[:, ::2]  # every other row
    assert np.isnan(cpool.global_max_pool2d(view)[0]) and cpool.global_max_pool2d(view)[1] == x[1, 38, 63]
    v, i = cpool.global_max_pool2d(view, return_indices=True)
    assert np.isnan(v[0]) and i[0] == 1 * 64 + 5
    assert np.isnan(cpool.global_sum_pool2d(view)[0])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("n", [1, 3, 4, 7, 8, 9, 15, 16, 17, 49])
def test_max_nan_and_inf_at_every_position(rng, dtype, n):
    # The vectorised run (blocks of 8 or 4) and its scalar tail must both see a NaN or an
    # extreme value wherever it sits: plane i holds the special value at position i.
    for special in (np.nan, np.inf, -np.inf, 0.0):
        x = random_array(rng, (n, 1, n), dtype) - 0.5
        x[np.arange(n), 0, np.arange(n)] = special
        exp = ref.global_max_pool2d(x, False, return_indices=False)
        np.testing.assert_array_equal(cpool.global_max_pool2d(x), exp)
        np.testing.assert_array_equal(cpool.global_max_pool2d(x[:, :, ::-1]), exp)
        for view in (x, x[:, :, ::-1]):  # the index search sees it too
            assert_identical(cpool.global_max_pool2d(view, return_indices=True),
                             ref.global_max_pool2d(view, False, return_indices=True))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(40, 3, 5), (6, 7, 7), (3, 300, 257)])
@pytest.mark.parametrize("layout", ["C", "rows_strided", "reversed"])
def test_max_indices_with_many_ties(rng, dtype, shape, layout):
    # Few distinct values: every plane has tied maxima, and PyTorch's index is the first one
    # in scan order; with signed zeros the first zero's sign is the value's.
    x = rng.integers(-3, 1, size=shape).astype(dtype)
    if np.dtype(dtype).kind == "f":
        x[rng.random(shape) < 0.5] *= -1  # zeros of both signs, small positives
        x[x > 0] = 0.0
    view = {"C": x, "rows_strided": x[:, ::2], "reversed": x[:, ::-1, ::-1]}[layout]
    assert_identical(cpool.global_max_pool2d(view, return_indices=True),
                     ref.global_max_pool2d(view, False, return_indices=True))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", [(40, 2, 2), (6, 7, 7), (3, 300, 257), (5, 1, 33)])
@pytest.mark.parametrize("layout", ["C", "rows_strided", "reversed"])
def test_signed_zeros_and_nan_payloads_bitwise(rng, dtype, shape, layout):
    # The value is the scan's own cell, bit for bit, with and without indices: the first zero's
    # sign, the last NaN's payload (the vectorised maximum alone returns either zero, any NaN).
    x = signed_zeros_and_payloads(rng, shape, dtype)
    view = {"C": x, "rows_strided": x[:, ::2], "reversed": x[:, ::-1, ::-1]}[layout]
    ev, ei = ref.global_max_pool2d(view, False, return_indices=True)
    v, i = cpool.global_max_pool2d(view, return_indices=True)
    np.testing.assert_array_equal(as_bits(v), as_bits(ev))
    np.testing.assert_array_equal(i, ei)
    np.testing.assert_array_equal(as_bits(cpool.global_max_pool2d(view)), as_bits(ev))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", [(37, 7, 7), (70, 3, 3), (13, 1, 8), (9, 4, 5)])
def test_contiguous_planes_with_a_few_special_ones(rng, dtype, shape):
    # Contiguous small planes go four at a time through a kernel of their own (AVX2 build),
    # which checks the four for NaN together and redoes only such a step plane by plane: a
    # NaN, a zero maximum, an infinity in a few planes here and there, the rest ordinary.
    x = random_array(rng, shape, dtype) - 2.0
    planes = x.reshape(shape[0], -1)
    for value, count in ((np.nan, 3), (-np.nan, 2), (0.0, 3), (-0.0, 3), (np.inf, 2)):
        rows = rng.choice(shape[0], count, replace=False)
        planes[rows, rng.integers(0, planes.shape[1], count)] = value
    planes[rng.choice(shape[0], 2, replace=False)] = -0.0  # planes whose maximum is -0
    ev, ei = ref.global_max_pool2d(x, False, return_indices=True)
    v, i = cpool.global_max_pool2d(x, return_indices=True)
    np.testing.assert_array_equal(as_bits(v), as_bits(ev))
    np.testing.assert_array_equal(i, ei)
    np.testing.assert_array_equal(as_bits(cpool.global_max_pool2d(x)), as_bits(ev))
    assert_identical(cpool.global_max_pool2d(x[:, ::-1, ::-1].copy()[:, ::-1, ::-1]), v)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("n", [8, 9, 15, 16, 17, 31, 32, 33, 35, 36, 49, 63, 64, 65, 71, 72, 100,
                               127, 128, 129, 135, 200])
def test_contiguous_planes_maximum_at_every_position(rng, dtype, n):
    # The AVX2 planes kernel finds each maximum's cell (its index, its sign of zero) while the
    # plane is in cache: the compare masks of eight vectors a step in one word, the values past
    # the last whole vector from the plane's last vector shifted into place (shifted right
    # where they start before the step), a chunk of 64 planes a call. Plane p holds its
    # maximum at p % n and again later (a tie the scan must not take); some planes are all
    # zeros of mixed signs, some hold a NaN: 211 planes, so chunks and their four-plane steps
    # end at every remainder.
    planes = random_array(rng, (211, n), dtype) - 3.0
    at = np.arange(211) % n
    planes[np.arange(211), at] = 5.0
    later = np.minimum(at + 1 + rng.integers(0, n, 211), n - 1)
    planes[np.arange(211), later] = 5.0
    for p in rng.choice(211, 12, replace=False):
        planes[p] = np.where(rng.random(n) < 0.5, -0.0, 0.0).astype(dtype)
        planes[p, : p % n] = -1.0
    for p in rng.choice(211, 6, replace=False):
        planes[p, rng.integers(0, n)] = np.nan
    x = planes.reshape(211, 1, n)
    expected = ref.global_max_pool2d(x, False, return_indices=True)
    for threads in (1, 2):
        v, i = cpool.global_max_pool2d(x, return_indices=True, num_threads=threads)
        np.testing.assert_array_equal(as_bits(v), as_bits(expected[0]))
        np.testing.assert_array_equal(i, expected[1])
        np.testing.assert_array_equal(as_bits(cpool.global_max_pool2d(x, num_threads=threads)),
                                      as_bits(expected[0]))


def test_global_max_nan_bits_reproducer():
    x = np.array([[1, np.nan, 2]])
    x.view(np.uint64)[0, 1] |= 0x123  # a NaN with a payload
    with_idx, i = cpool.global_max_pool2d(x, return_indices=True)
    assert i == 1
    assert with_idx.view(np.uint64) == x.view(np.uint64)[0, 1]
    assert cpool.global_max_pool2d(x).view(np.uint64) == x.view(np.uint64)[0, 1]
    z = np.array([[-1, 0], [-0.0, -1]], np.float32)
    assert not np.signbit(cpool.global_max_pool2d(z))
    assert np.signbit(cpool.global_max_pool2d(np.array([[-0.0, 0.0]], np.float32)))


@pytest.mark.parametrize("dtype,value", [(np.int64, 2**62), (np.int64, -2**63), (np.uint64, 2**63),
                                         (np.uint64, 2**64 - 1), (np.int64, 2**63 - 1)])
@pytest.mark.parametrize("shape", [(2, 2), (3, 7, 7), (1, 300, 257)])  # one band, flat, many bands
def test_mean_of_64_bit_integers_never_wraps(dtype, value, shape):
    x = np.full(shape, value, dtype)
    expected = np.full(shape[:-2], float(value))
    np.testing.assert_array_equal(cpool.global_avg_pool2d(x), expected)
    np.testing.assert_array_equal(cpool.avg_pool2d(x, shape[-2:])[..., 0, 0], expected)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_mean_of_64_bit_integers_matches_numpy(rng, dtype):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, size=(4, 300, 257), dtype=dtype, endpoint=True)
    np.testing.assert_allclose(cpool.global_avg_pool2d(x), x.mean(axis=(-2, -1)), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_sums_of_64_bit_integers_wrap_as_numpy(rng, dtype):
    # NumPy's sum of int64/uint64 wraps modulo 2**64; so do cpool's (documented).
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, size=(3, 300, 257), dtype=dtype, endpoint=True)
    np.testing.assert_array_equal(cpool.global_sum_pool2d(x), x.sum(axis=(-2, -1)))
    big = np.full((2, 2), 2**62, dtype)
    assert cpool.global_sum_pool2d(big) == big.sum() == 0
    assert cpool.sum_pool2d(big, 2)[0, 0] == 0


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32])
def test_sums_of_narrow_integers_are_exact_at_the_extremes(dtype):
    info = np.iinfo(dtype)
    for value in (info.min, info.max):
        x = np.full((2, 300, 257), value, dtype)  # several bands per plane
        np.testing.assert_array_equal(cpool.global_sum_pool2d(x), [int(value) * 300 * 257] * 2)
        assert cpool.global_avg_pool2d(x)[0] == value
        np.testing.assert_array_equal(cpool.sum_pool2d(x, 5)[0, 0, 0], int(value) * 25)


@pytest.mark.parametrize("op", ["sum", "avg"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", [(4, 11, 13), (2, 3, 7, 7), (1, 300, 257), (26, 1),
                                   (67, 7, 7), (130, 1, 9), (5, 3, 1), (9, 2, 33), (3, 1, 8)])
def test_float_sums_do_not_depend_on_the_layout(rng, op, dtype, shape):
    # Rows that are not adjacent (reversed, every other one) used to be summed row by row, in
    # another order than one contiguous run: float64 means 1 ulp apart (found by test_fuzz).
    # Contiguous small planes go four at a time through a kernel of their own (AVX2 build):
    # plane counts around its steps of 4 and chunks of 64, plane sizes around its 8 lanes.
    fn = cpool.global_sum_pool2d if op == "sum" else cpool.global_avg_pool2d
    x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)).astype(dtype)
    expected = fn(x)
    wide = np.zeros(shape[:-2] + (shape[-2] * 2, shape[-1]), dtype)
    wide[..., ::2, :] = x
    for view in (x[..., ::-1, :].copy()[..., ::-1, :], wide[..., ::2, :],
                 x[..., ::-1, ::-1].copy()[..., ::-1, ::-1]):
        for n in (1, 3):
            assert_identical(fn(view, num_threads=n), expected)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_reference_reductions_equal_the_scan(rng, dtype):
    # The reference's global max is whole-plane reductions (argmax, the last NaN); the scan it
    # stands for takes a cell at a time by PyTorch's rule. Both must agree bit for bit, indices
    # included: ties everywhere, the type's lowest (the scan's starting value) filling whole
    # planes, and for floats infinities, signed zeros and several NaNs of several payloads.
    dtype = np.dtype(dtype)
    for shape in [(40, 1, 1), (40, 1, 5), (30, 3, 3), (20, 7, 7), (4, 16, 33)]:
        if dtype.kind == "f":
            picks = np.array([-np.inf, -1, -0.0, 0.0, 1, np.inf], dtype)
            x = picks[rng.integers(0, len(picks), size=shape)]
            special = signed_zeros_and_payloads(rng, shape, dtype)
            x = np.where(rng.random(shape) < 0.05, special, x).astype(dtype)
            x[0] = -np.inf
        else:
            info = np.iinfo(dtype)
            picks = np.array([info.min, info.min + 1, 0, 1, info.max], dtype)
            x = picks[rng.integers(0, len(picks), size=shape)]
            x[0] = info.min
        for keepdims in (False, True):
            got = ref.global_max_pool2d(x, keepdims, return_indices=True)
            exp = ref.global_max_pool2d_by_scan(x, keepdims, return_indices=True)
            for g, e in zip(got, exp):
                assert g.shape == e.shape and g.dtype == e.dtype
                np.testing.assert_array_equal(as_bits(g) if g.dtype.kind == "f" else g,
                                              as_bits(e) if e.dtype.kind == "f" else e)


@pytest.fixture(params=[True, False], ids=["hinted", "unhinted"])
def lane_hints(request):
    """The channels-last global kernels' loops with and without their L2 hints (which one a
    CPU runs is chosen at import: ``global_pool.lane_hints``)."""
    was = global_pool.lane_hints(request.param)
    yield request.param
    global_pool.lane_hints(was)


def test_lane_hints_follow_the_cpu():
    # The hints go where prefetcht1 fills L2 alone: not on AMD's CPUs before Zen 4 (those
    # without AVX-512), where it fills L1 as well.
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    if platform.machine() not in ("x86_64", "AMD64", "i686") or "flags" not in info:
        pytest.skip("not an x86 CPU that /proc/cpuinfo describes")
    amd = "AuthenticAMD" in info
    flags = set(next(line for line in info.splitlines() if line.startswith("flags")).split())
    assert global_pool.lane_hints() is (not amd or "avx512f" in flags)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("channels", [1, 7, 16, 17, 40, 100])
def test_channels_last_sums_do_not_depend_on_where_the_array_starts(rng, dtype, channels,
                                                                     lane_hints):
    # Channels-last sums add a group of pixels a cache line of lanes at a time, the lanes up
    # to the first pixel's next line first: the chunks move with the array's address, each
    # lane's sum must not. Every offset within a line, against the aligned array's bits and
    # NumPy's exact sums (integer-valued data: every order gives the same total).
    x = rng.integers(-1000, 1000, (3, 5, 7, channels)).astype(dtype)
    want_sum = x.sum(axis=(1, 2), dtype=np.float64 if x.dtype.kind == "f" else np.int64)
    first = None
    for offset in range(0, 64, x.itemsize):
        raw = np.zeros(x.nbytes + 128, np.uint8)
        start = (-raw.ctypes.data) % 64 + offset
        shifted = raw[start:start + x.nbytes].view(dtype).reshape(x.shape)
        shifted[...] = x
        got = (cpool.global_sum_pool2d(shifted, axes=(1, 2)),
               cpool.global_avg_pool2d(shifted, axes=(1, 2)) if x.dtype.kind == "f" else None)
        np.testing.assert_array_equal(got[0], want_sum)
        if first is None:
            first = got
        assert_identical(got[0], first[0])
        if got[1] is not None:
            np.testing.assert_array_equal(as_bits(got[1]), as_bits(first[1]))
            np.testing.assert_allclose(got[1], want_sum / 35, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int32])
@pytest.mark.parametrize("hw", [(1, 1), (1, 7), (2, 4), (3, 3), (3, 6), (7, 7), (8, 8)])
@pytest.mark.parametrize("channels", [1, 3, 16, 17, 40, 100])
def test_channels_last_max_in_groups_of_pixels(rng, dtype, hw, channels, lane_hints):
    # Channels-last global max scans eight pixels at a time (groups running across the ends
    # of rows, then the last H*W % 8 pixels one by one), a cache line of lanes at a time from
    # the first pixel's next line, each lane's pixel kept as an int32: every pixel count
    # around the groups, lanes around a line, whole images, slices of the channels (pixels
    # wider than their lanes), rows set apart and any start within a line, against the planes
    # kernel on the moved array, bit for bit (ties, signed zeros, NaN payloads).
    shape = (3,) + hw + (channels + 2,)
    x = rng.integers(0, 4, shape).astype(dtype)
    if np.dtype(dtype).kind == "f":  # small integers (ties) among -0, +0, -1 and NaN payloads
        x = np.where(rng.random(shape) < 0.5, x - 2, signed_zeros_and_payloads(rng, shape, dtype))
    tall = np.repeat(x, 2, axis=1)
    raw = np.zeros(x.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + x.itemsize * int(rng.integers(0, 64 // x.itemsize))
    shifted = raw[start:start + x.nbytes].view(dtype).reshape(x.shape)
    shifted[...] = x
    for view in (x[..., :channels], x[..., 1:channels + 1], tall[:, ::2, :, :channels],
                 shifted[..., :channels]):
        expected = cpool.global_max_pool2d(np.ascontiguousarray(np.moveaxis(view, 3, 1)),
                                           return_indices=True)
        np.testing.assert_array_equal(as_bits(expected[0]),
                                      as_bits(ref.global_max_pool2d(np.moveaxis(view, 3, 1),
                                                                    False, True)[0]))
        for threads in (1, 2):
            v, i = cpool.global_max_pool2d(view, return_indices=True, axes=(1, 2),
                                           num_threads=threads)
            np.testing.assert_array_equal(as_bits(v), as_bits(expected[0]))
            np.testing.assert_array_equal(i, expected[1])
            np.testing.assert_array_equal(
                as_bits(cpool.global_max_pool2d(view, axes=(1, 2), num_threads=threads)),
                as_bits(expected[0]))

"""LP (power-average) pooling, 1-D to 3-D, and its gradient: PyTorch's formula
``(sign(a) * relu(|a|) * prod(k)) ** (1/p)`` with ``a = avg_pool(x ** p)``, against the
NumPy reference, finite differences and PyTorch (values and autograd)."""
import numpy as np
import pytest

import _reference as ref
import cpool
from _helpers import assert_identical, random_array

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

AXES = {1: (-1,), 2: (-2, -1), 3: (-3, -2, -1)}
SHAPES = {1: (2, 3, 11), 2: (2, 3, 9, 8), 3: (2, 2, 5, 6, 7)}
# (kernel_size, stride, ceil_mode): tilings, overlaps, ceil-mode overhang.
GRIDS = {1: [(2, None, False), (3, 2, True), (4, 1, False), (3, 3, True)],
         2: [(2, None, False), ((3, 2), (2, 1), True), (3, 1, False), ((2, 3), 3, True)],
         3: [(2, None, False), ((2, 3, 2), (1, 2, 2), True), (3, 2, False)]}
POWERS = [1, 2, 3, 1.5, 0.5, -1]


def lp(n):
    return getattr(cpool, f"lp_pool{n}d")


def lp_back(n):
    return getattr(cpool, f"lp_pool{n}d_backward")


def assert_close(got, want, rtol):
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    finite = np.abs(want[ok & np.isfinite(want)])
    scale = float(finite.max()) if finite.size else 1.0
    np.testing.assert_allclose(got[ok], want[ok], rtol, rtol * scale)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("p", POWERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_match_the_reference(rng, n, p, dtype):
    x = random_array(rng, SHAPES[n], dtype)  # signed values: odd p and NaNs included
    x.flat[::9] = 0
    for k, s, c in GRIDS[n]:
        got = lp(n)(x, p, k, s, c)
        assert got.dtype == dtype
        assert_close(got, ref.lp_pool_nd(x, n, p, k, s, c), 1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.float16])
def test_integers_compute_in_float64(rng, dtype):
    x = random_array(rng, (3, 8, 8), dtype)
    got = cpool.lp_pool2d(x, 2, 2)
    want = ref.lp_pool_nd(x, 2, 2, 2)
    if dtype == np.float16:
        assert got.dtype == np.float16
        np.testing.assert_allclose(got, want, 1e-3)
    else:
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want, 1e-12)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
def test_gradient_matches_finite_differences(rng, n, p):
    x = rng.uniform(0.5, 2.0, SHAPES[n])  # positive: away from the kinks at 0
    for k, s, c in GRIDS[n]:
        y = lp(n)(x, p, k, s, c)
        g = rng.standard_normal(y.shape)
        got = lp_back(n)(g, x, p, k, s, c)
        v = rng.standard_normal(x.shape)
        h = 1e-6
        fd = (np.vdot(lp(n)(x + h * v, p, k, s, c), g) -
              np.vdot(lp(n)(x - h * v, p, k, s, c), g)) / (2 * h)
        assert abs(np.vdot(got, v) - fd) <= 1e-6 * (1 + abs(fd))


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("p", POWERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_match_torch(rng, n, p, dtype):
    x = random_array(rng, SHAPES[n], dtype)
    x.flat[::5] = 0  # with p = 2, 3x3 windows of zeros: the gradient is 0 there, not NaN
    x[..., :3] = 0
    rtol = 2e-5 if dtype == np.float32 else 1e-10
    for k, s, c in GRIDS[n]:
        tx = torch.from_numpy(x).requires_grad_()
        ty = getattr(F, f"lp_pool{n}d")(tx, p, k, s, c)
        y = lp(n)(x, p, k, s, c)
        assert_close(y, ty.detach().numpy(), rtol)
        g = random_array(rng, y.shape, dtype)
        ty.backward(torch.from_numpy(g))
        assert_close(lp_back(n)(g, x, p, k, s, c), tx.grad.numpy(), rtol)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_channels_last_threads_out_and_chunks(rng, n, monkeypatch):
    from cpool import _api
    x = random_array(rng, (5,) + (9, 7, 6)[:n] + (4,), np.float32)
    axes = tuple(range(1, n + 1))
    first = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    want = lp(n)(first, 2, 2, num_threads=1)
    for chunk in (1, 1 << 30):  # a chunk of one image, and the whole batch at once
        monkeypatch.setattr(_api, "_LP_CHUNK_BYTES", chunk)
        got = lp(n)(x, 2, 2, axes=axes, num_threads=2)
        assert_identical(got, np.ascontiguousarray(np.moveaxis(want, 1, -1)))
        buf = np.empty_like(got)
        assert lp(n)(x, 2, 2, axes=axes, out=buf) is buf
        assert_identical(buf, got)
        g = np.ones_like(got)
        gw = lp_back(n)(np.ascontiguousarray(np.moveaxis(g, -1, 1)), first, 2, 2,
                         num_threads=1)
        assert_identical(lp_back(n)(g, x, 2, 2, axes=axes, num_threads=2),
                         np.moveaxis(gw, 1, -1))


def test_out_may_alias_the_input(rng):
    x = random_array(rng, (4, 2, 8, 8), np.float32)
    want = cpool.lp_pool2d(x, 2, 2)
    base = x.copy()
    out = base.reshape(-1)[:want.size].reshape(want.shape)
    assert cpool.lp_pool2d(base, 2, 2, out=out) is out
    assert_identical(out, want)
    g = np.ones_like(want)
    wantg = cpool.lp_pool2d_backward(g, x, 2, 2)
    base = x.copy()
    assert_identical(cpool.lp_pool2d_backward(g, base, 2, 2, out=base), wantg)


def test_inputs_are_not_modified(rng):
    x = random_array(rng, (2, 3, 8, 8), np.float32)
    x.setflags(write=False)
    y = cpool.lp_pool2d(x, 3, 2)
    g = np.ones_like(y)
    g.setflags(write=False)
    cpool.lp_pool2d_backward(g, x, 3, 2)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(norm_type=0), ValueError, r"lp_pool2d: `norm_type` must be finite and non-zero, got 0"),
    (dict(norm_type=float("inf")), ValueError, r"`norm_type` must be finite"),
    (dict(norm_type=float("nan")), ValueError, r"`norm_type` must be finite"),
    (dict(norm_type="2"), TypeError, r"`norm_type` must be a real number"),
    (dict(norm_type=True), TypeError, r"`norm_type` must be a real number"),
    (dict(kernel_size=0), ValueError, r"`kernel_size` must be positive"),
    (dict(kernel_size=9), ValueError, r"output size would be empty"),
    (dict(stride=0), ValueError, r"`stride` must be positive"),
])
def test_errors(kwargs, exc, match):
    args = dict(norm_type=2, kernel_size=2)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        cpool.lp_pool2d(np.ones((2, 8, 8)), **args)


def test_more_errors():
    x = np.ones((2, 8, 8), np.float32)
    with pytest.raises(TypeError, match=r"lp_pool2d: boolean input is ambiguous for LP pooling"):
        cpool.lp_pool2d(x > 0, 2, 2)
    with pytest.raises(ValueError, match=r"`out` must have shape"):
        cpool.lp_pool2d(x, 2, 2, out=np.empty((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"lp_pool2d_backward: `grad_output` must have the "
                                         r"forward output's shape \(2, 4, 4\)"):
        cpool.lp_pool2d_backward(np.ones((2, 3, 3)), x, 2, 2)
    with pytest.raises(TypeError, match=r"`grad_output` must have a floating dtype"):
        cpool.lp_pool2d_backward(np.ones((2, 4, 4), np.int32), x, 2, 2)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.float16])
def test_squares_in_kernel_match_chunked_powers(rng, n, dtype, monkeypatch):
    """p = 2 over planes squares inside the windowed kernel and takes the roots there; the
    chunked powers and the NumPy finish (every other p, and channels-last input) give the
    same bits. Small planes (one pass per plane) and larger ones (row by row; 2x2 stride 2
    by the fused 2x2 sums)."""
    from cpool import _api
    shapes = [SHAPES[n], (2, 3) + (40, 70, 90)[-n:]]
    for shape in shapes:
        x = random_array(rng, shape, dtype)
        for k, s, c in GRIDS[n]:
            fused = lp(n)(x, 2, k, s, c)
            g = np.ones(fused.shape, np.float32)
            fused_grad = lp_back(n)(g, x, 2, k, s, c)
            monkeypatch.setattr(_api, "_LP_SQUARE_IN_KERNEL", False)
            assert_identical(fused, lp(n)(x, 2, k, s, c))
            assert_identical(fused_grad, lp_back(n)(g, x, 2, k, s, c))
            monkeypatch.setattr(_api, "_LP_SQUARE_IN_KERNEL", True)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("layout", ["planes", "channels-last", "rows apart"])
def test_square_derivative_in_spread_matches_general_pass(rng, n, dtype, layout, monkeypatch):
    """p = 2's gradient, fused two ways: the window spread multiplies each plane by x * 2 as it
    finishes it (every spread path: 2x2 tilings, stride-1 gathers, the general scatter, 3-D's
    depth pass), and (1-D, 2-D) the spread kernel remakes each plane's means and their
    gradients before it spreads them. Each gives the bits of the step-by-step passes (the
    general p's derivative pass: 2 * x ** 1 is x * 2), with zeros, negatives, infinities and
    NaN, and through ``out=`` sharing the input's memory."""
    from cpool import _gradients
    for shape in (SHAPES[n], (2, 3) + (40, 70, 90)[-n:]):
        x = random_array(rng, shape, dtype) * 3
        x.flat[::5] = 0
        x.flat[3::97] = np.inf
        x.flat[5::89] = -np.inf
        x.flat[7::101] = np.nan
        axes = tuple(range(-n, 0))
        if layout == "channels-last":
            x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
            axes = tuple(range(1, n + 1))
        elif layout == "rows apart":
            wide = np.zeros(x.shape[:-1] + (x.shape[-1] + 3,), x.dtype)
            wide[..., :x.shape[-1]] = x
            x = wide[..., :x.shape[-1]]
        for k, s, c in GRIDS[n]:
            g = random_array(rng, lp(n)(x, 2, k, s, c, axes=axes).shape, np.float32)
            fused = lp_back(n)(g, x, 2, k, s, c, axes=axes)
            aliased = np.array(x, dtype=fused.dtype) if x.dtype == fused.dtype else None
            if aliased is not None:  # the result written over the input it reads
                lp_back(n)(g, aliased, 2, k, s, c, axes=axes, out=aliased)
            monkeypatch.setattr(_gradients, "_LP_MEANS_IN_SPREAD", False)
            means_apart = lp_back(n)(g, x, 2, k, s, c, axes=axes)
            monkeypatch.setattr(_gradients, "_LP_SQUARE_IN_SPREAD", False)
            general = lp_back(n)(g, x, 2, k, s, c, axes=axes)
            monkeypatch.setattr(_gradients, "_LP_SQUARE_IN_SPREAD", True)
            monkeypatch.setattr(_gradients, "_LP_MEANS_IN_SPREAD", True)
            assert np.isnan(general).any() and np.isfinite(general).any()
            assert_identical(fused, general)
            assert_identical(means_apart, general)
            if aliased is not None:
                assert_identical(aliased, general)



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H", [2, 5, 8])
def test_square_2x2_tiles_every_row_width(rng, dtype, H, monkeypatch):
    """p = 2 over 2x2 tiles: the AVX2 build's one-pass kernel (means, their gradients and the
    spread in vectors of 8 floats or 4 doubles, a row's last vector overlapping the one
    before) against the step-by-step passes, bit for bit, for every row width from 1 to 41
    outputs (under, at and between the vector steps), odd widths and heights (a column and a
    row no window covers), with zeros, infinities, NaN, overflowing and underflowing squares
    and -0 gradients, on 1 to 3 threads. Without AVX2 both sides take the passes."""
    from cpool import _gradients
    for W in list(range(2, 43)) + [57, 83]:
        x = random_array(rng, (3, 2, H, W), dtype) * 3
        x.flat[::7] = 0
        x.flat[2::11] = -0.0
        x.flat[3::41] = np.inf
        x.flat[5::37] = -np.inf
        x.flat[7::43] = np.nan
        x.flat[9::31] = 1e30 if dtype == np.float32 else 1e300
        x.flat[11::29] = 1e-30 if dtype == np.float32 else 1e-300
        g = random_array(rng, cpool.lp_pool2d(x, 2, 2).shape, dtype)
        g.flat[::13] = -0.0
        g.flat[1::17] = np.nan
        monkeypatch.setattr(_gradients, "_LP_MEANS_IN_SPREAD", False)
        want = cpool.lp_pool2d_backward(g, x, 2, 2)
        monkeypatch.setattr(_gradients, "_LP_MEANS_IN_SPREAD", True)
        for threads in (1, 2, 3):
            out = np.full(x.shape, np.nan, dtype)  # every cell written
            got = cpool.lp_pool2d_backward(g, x, 2, 2, out=out, num_threads=threads)
            assert got is out
            assert_identical(got, want)

POWERS = [2, 3, -2, 0.5, -0.5, -1, 4, 5, -3, 1.5, -1.5, 1 / 3, 2.5, 7, 0.25, 1 / 1.5]


@pytest.mark.parametrize("values", ["mixed", "positive", "zeros", "negative", "nan"])
@pytest.mark.parametrize("p", POWERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_powers_take_pytorchs_rules(rng, p, dtype, values):
    # LP pooling raises values (and means, to 1/p) to a power as PyTorch's pow does: products
    # for 2, 3 and -2, square roots for +-0.5, a reciprocal for -1, else the C pow, which is
    # applied to |x| (it is 40 times slower on a negative base) with pow's sign rules
    # restored: x's sign for an odd integer p, NaN for NaN and for a finite negative base
    # otherwise, pow(inf, p) for -inf, 0 or inf for a zero (raised from 1: the C pow is slow
    # on zeros and NaN too). Same NaNs and signs as torch.pow, values within 1 ulp; in place
    # too. (Not the NaNs' bits: PyTorch's differ between its vector loop and its scalar tail.)
    # `values`: every kind of lane at once, and blocks with none, or only some, of the lanes
    # that are patched after the pow.
    from cpool._api import powered
    specials = [-np.inf, -3.5, -2, -1, -0.5, -0.0, 0.0, 0.5, 1, 2, 3.5, np.inf, np.nan, 1e-30,
                -1e-30, 1e30, -1e30]
    normal = rng.standard_normal(4000) * 10
    x = {"mixed": np.concatenate([specials, normal]),
         "positive": np.abs(normal) + 1e-3,
         "zeros": np.where(normal > 0, normal, 0.0),
         "negative": -np.abs(normal),
         "nan": np.where(normal > 0, normal, np.nan)}[values].astype(dtype)
    got = powered(x, p, np.dtype(dtype), np.empty_like(x))
    in_place = x.copy()
    assert powered(in_place, p, np.dtype(dtype), in_place) is in_place
    assert_identical(in_place, got)
    if torch is None:
        pytest.skip("PyTorch's pow is the reference")
    want = torch.pow(torch.from_numpy(x), p).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    bits = np.uint32 if dtype == np.float32 else np.uint64
    finite = ~np.isnan(got)
    np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(want[finite]))
    ulps = np.abs(got[finite].view(bits).astype(np.int64)
                  - want[finite].view(bits).astype(np.int64))
    assert ulps.max(initial=0) <= 1
    if p in (2, 3, -2, -1):  # PyTorch's products and reciprocal: its bits
        np.testing.assert_array_equal(got[finite].view(bits), want[finite].view(bits))


# Powers the float32 kernel takes (the others are products, square roots or a reciprocal).
KERNEL_POWERS = [1.5, -1.5, 1 / 3, 2.5, 3.5, 7, 8, 0.25, 1 / 1.5, 4, 5, -3, 1e-3, 37.5, -0.7, 1e6]


def _float32_powers(x, p, num_threads=1):
    from cpool._api import powered
    return powered(x, p, np.dtype(np.float32), np.empty(x.shape, np.float32), num_threads)


def _ulps(a, b):
    """|a - b| in float32 units in the last place (both finite, of one sign)."""
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))


@pytest.mark.parametrize("p", KERNEL_POWERS)
def test_float32_powers_are_correctly_rounded_but_rarely(rng, p):
    # The kernel's pow computes in double precision (_powers.pxd): against pow in float64 of
    # the float32 base and exponent, rounded once to float32, every value is within 1 ulp
    # and at most 1 in 10^4 differs (16.8 M bases measured 0-33 apart; the C powf 10,600).
    # Bases over the whole float32 range, subnormals included, and results that overflow or
    # underflow into subnormals.
    bits = rng.integers(0, 0x7f800000, 200_000, dtype=np.uint32)
    x = np.concatenate([bits.view(np.float32),
                        rng.uniform(0.5, 2, 50_000).astype(np.float32),
                        np.float32(2) ** rng.integers(-149, 128, 1000).astype(np.float32)])
    got = _float32_powers(x, p)
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), float(np.float32(p))).astype(np.float32)
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    ulps = _ulps(got[finite], want[finite])
    assert ulps.max() <= 1
    assert np.count_nonzero(ulps) <= 1e-4 * x.size


def _exact_power_model(x, p):
    """The double steps of _powers.pxd's cpool_powf_exact_run, in NumPy's float64 (IEEE
    operations, so the same bits), rounded to float32, with pow's special bases."""
    d = np.abs(x.astype(np.float64))
    k = int(p)
    with np.errstate(over="ignore", under="ignore"):
        if p == 0.25:
            q = np.sqrt(np.sqrt(d))
        elif p != k:  # k + 1/2
            q = np.sqrt(d) * d
            for _ in range(k - 1):
                q = q * d
        else:
            d4 = (d * d) * (d * d)
            q = d4 * d4 if k == 8 else d4 * (d * d) if k >= 6 else d4
            q = q * d if k % 2 else q
        want = q.astype(np.float32)
    if p == k and k % 2:
        want = np.copysign(want, x)
    nan = np.isnan(x) if p == k else np.isnan(x) | (np.isfinite(x) & (x < 0))
    want[nan] = np.uint32(0xffc00000).view(np.float32)
    return want


@pytest.mark.parametrize("p", [2, 3, -2])
def test_float32_products_are_numpys(rng, p):
    # p = 2, 3, -2 in float32: the kernel's products (one pass, threaded) are NumPy's float32
    # x * x, (x * x) * x and 1 / (x * x), bit for bit, NaN payloads included; in place too.
    from cpool._api import powered
    bits = rng.integers(0, 1 << 32, 100_000, dtype=np.uint64).astype(np.uint32)
    x = np.concatenate([bits.view(np.float32), rng.standard_normal(5000).astype(np.float32)])
    with np.errstate(all="ignore"):
        square = x * x
        want = square if p == 2 else square * x if p == 3 else np.float32(1) / square
    got = powered(x, p, np.dtype(np.float32), np.empty_like(x), 2)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    inplace = x.copy()
    powered(inplace, p, np.dtype(np.float32), inplace)
    np.testing.assert_array_equal(inplace.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("p", [1.5, 2.5, 3.5, 4, 5, 6, 7, 8, 0.25])
def test_float32_powers_by_ieee_steps(rng, p):
    # p = k + 1/2 (k = 1, 2, 3), the integers 4 to 8 and 1/4 take a few IEEE operations in
    # double (_powers.pxd): NumPy's float64 sqrt and products in the same order give the same
    # bits, over the whole float32 range (subnormals, results that overflow or underflow) and
    # pow's special bases (-0 gives +0, or -0 for an odd k; -inf inf, or -inf).
    bits = rng.integers(0, 0x7f800000, 100_000, dtype=np.uint32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-45, -1e-45, 4.0,
                         3.4e38, -3.4e38, -2.0], np.float32)
    x = np.concatenate([bits.view(np.float32), -bits[:1000].view(np.float32), specials,
                        rng.standard_normal(10_000).astype(np.float32)])
    got = _float32_powers(x, p)
    assert_identical(got, _exact_power_model(x, p))
    at = len(bits) + 1000  # where the specials start
    assert got[at + 9] == 4.0 ** p and got[at] == 0 and not np.signbit(got[at])
    assert np.signbit(got[at + 1]) == (p == int(p) and int(p) % 2 == 1)


@pytest.mark.parametrize("p", KERNEL_POWERS)
def test_float32_powers_keep_the_c_pows_rules(rng, p):
    # Special bases as the C powf (NumPy's float32 power) treats them: +-0, +-inf, NaN of any
    # payload, negative bases (NaN for a p that is not an integer, the base's sign for an odd
    # one), subnormals; the NaNs are x86's default NaN (0xffc00000) as the C pow returns.
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 1e-45,
                         -1e-45, 1e-40, -3e-39, 3.4e38, -3.4e38, 0.5, -2.0], np.float32)
    payloads = np.array([0x7fc00001, 0xff800001, 0x7f800001], np.uint32).view(np.float32)
    x = np.concatenate([specials, payloads, rng.standard_normal(3000).astype(np.float32)])
    got = _float32_powers(x, p)
    with np.errstate(all="ignore"):
        want = np.power(x, np.float32(p))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert (got[np.isnan(got)].view(np.uint32) == 0xffc00000).all()
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[ok]), np.signbit(want[ok]))
    np.testing.assert_array_equal(np.isinf(got[ok]), np.isinf(want[ok]))
    assert _ulps(np.abs(got[ok]), np.abs(want[ok])).max() <= 1


def test_float32_powers_in_place_strided_threads_and_p_zero(rng):
    from cpool._api import powered
    from cpool._kernels import backward
    x = (rng.standard_normal((64, 3000)) * 5).astype(np.float32)
    x[::7, ::11] = -x[::7, ::11]
    x[::5, ::13] = 0
    x[::9, ::17] = np.nan
    want = _float32_powers(x, 2.5)
    assert_identical(_float32_powers(x, 2.5, num_threads=2), want)  # elementwise: any split
    inplace = x.copy()
    assert powered(inplace, 2.5, np.dtype(np.float32), inplace, 2) is inplace
    assert_identical(inplace, want)
    # A strided base, and one of another dtype, read through the output (one run for the
    # kernel); the base is not modified.
    wide = np.zeros((64, 6000), np.float32)
    wide[:, ::2] = x
    before = wide.copy()
    assert_identical(_float32_powers(wide[:, ::2], 2.5), want)
    assert_identical(wide, before)
    assert_identical(_float32_powers(x.astype(np.float64), 2.5),
                     _float32_powers(x.astype(np.float64).astype(np.float32), 2.5))
    # Empty, and pow(x, 0) = 1 everywhere, NaN too (the kernel's own rule; LP never asks it).
    assert _float32_powers(np.empty((0, 3), np.float32), 1.5).shape == (0, 3)
    ones = np.empty_like(x)
    backward.lp_powers(x.reshape(-1), ones.reshape(-1), 0.0, 2)
    assert (ones == 1).all()


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("p", [1.5, 3, -0.7, 7])
def test_float32_lp_with_the_kernels_powers_matches_the_reference(rng, n, p):
    # The whole op (the input's powers, the means' roots, the gradient's powers) on the
    # kernel's pow, with negative inputs, zeros and NaN, against the float64 reference,
    # on one and two threads (the same bits).
    x = random_array(rng, (2, 3) + (9,) * n, np.float32)
    x.reshape(-1)[::17] = 0
    x.reshape(-1)[::29] = np.nan
    x = np.abs(x) if p != int(p) or p < 0 else x
    got = lp(n)(x, p, 2, num_threads=1)
    assert_identical(lp(n)(x, p, 2, num_threads=2), got)
    assert_close(got, ref.lp_pool_nd(x, n, p, 2), 1e-5)
    g = random_array(rng, got.shape, np.float32)
    back = lp_back(n)(g, x, p, 2, num_threads=1)
    assert_identical(lp_back(n)(g, x, p, 2, num_threads=2), back)

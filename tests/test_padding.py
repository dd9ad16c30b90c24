"""Asymmetric padding: per-side ``((top, bottom), (left, right))`` pairs and ONNX's
'same_lower', on every windowed op and gradient, against the NumPy reference (and PyTorch through
an explicit ``F.pad``)."""
import itertools

import numpy as np
import pytest

import cpool
import _reference as ref
from _helpers import assert_identical, random_array, tolerance

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - CI installs torch
    torch = None


def _cases():
    """(kernel, stride, per-side pads, dilation, ceil_mode) with every side within
    dilation * (kernel - 1)."""
    out = []
    for k, s, d, c in itertools.product([(2, 3), (3, 3), (1, 4)], [1, 2, (2, 1)], [1, (1, 2)],
                                        [False, True]):
        dd = (d, d) if np.isscalar(d) else d
        most = [di * (ki - 1) for ki, di in zip(k, dd)]
        for top, bottom, left, right in [(0, 1, 1, 0), (most[0], 0, 0, most[1]),
                                         (1 if most[0] else 0, most[0], most[1], 0)]:
            out.append((k, s, ((min(top, most[0]), min(bottom, most[0])),
                               (min(left, most[1]), min(right, most[1]))), d, c))
    return out


CASES = _cases()


@pytest.mark.parametrize("k,s,p,d,c", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_max_and_sum_match_the_reference(rng, k, s, p, d, c, dtype):
    x = random_array(rng, (2, 3, 9, 8), dtype)
    v, i = cpool.max_pool2d(x, k, s, p, d, c, True)
    rv, ri = ref.max_pool2d(x, k, s, p, d, c, True)
    assert_identical(v, rv.astype(v.dtype))
    np.testing.assert_array_equal(i, ri)
    got, want = cpool.sum_pool2d(x, k, s, p, d, c), ref.sum_pool2d(x, k, s, p, d, c)
    if dtype == np.int16:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, *tolerance(dtype, want))


@pytest.mark.parametrize("k,s,p,d,c", [case for case in CASES if case[3] == 1])
@pytest.mark.parametrize("include", [True, False])
def test_avg_matches_the_reference(rng, k, s, p, d, c, include):
    x = random_array(rng, (2, 3, 9, 8), np.float64)
    got = cpool.avg_pool2d(x, k, s, p, c, include)
    want = ref.avg_pool2d(x, k, s, p, c, include)
    np.testing.assert_allclose(got, want, *tolerance(np.float64, want))
    got = cpool.avg_pool2d(x, k, s, p, c, include, divisor_override=5)
    np.testing.assert_allclose(got, ref.avg_pool2d(x, k, s, p, c, include, 5), rtol=1e-12)


@pytest.mark.parametrize("k,s,p,d,c", [case for case in CASES if case[3] == 1])
def test_stochastic_matches_the_reference(rng, k, s, p, d, c):
    x = np.abs(random_array(rng, (2, 3, 9, 8), np.float64))
    got = cpool.stochastic_pool2d(x, k, s, p, training=False, ceil_mode=c)
    want = ref.stochastic_pool2d(x, k, s, p, training=False, ceil_mode=c)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    v, i = cpool.stochastic_pool2d(x, k, s, p, seed=7, return_indices=True, ceil_mode=c)
    rv, ri = ref.stochastic_pool2d(x, k, s, p, True, ref.stochastic_key(7), c)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(v, rv)


@pytest.mark.parametrize("k,s,p,d,c", CASES)
def test_sum_gradient_matches_the_reference(rng, k, s, p, d, c):
    x = random_array(rng, (2, 9, 8), np.float64)
    g = random_array(rng, cpool.sum_pool2d(x, k, s, p, d, c).shape, np.float64)
    got = cpool.sum_pool2d_backward(g, x.shape, k, s, p, d, c)
    want = ref.window_sum_backward(g, x.shape, k, s, p, d, c)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    if d == 1:
        ga = random_array(rng, cpool.avg_pool2d(x, k, s, p, c).shape, np.float64)
        got = cpool.avg_pool2d_backward(ga, x.shape, k, s, p, c, False)
        want = ref.window_sum_backward(ga, x.shape, k, s, p, 1, c, avg=(False, None))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,s,p,d,c", CASES)
def test_channels_last_equals_channels_first(rng, k, s, p, d, c):
    x = random_array(rng, (2, 9, 8, 17), np.float32)
    nchw = np.ascontiguousarray(np.moveaxis(x, -1, 1))  # the planes' kernels
    assert_identical(cpool.max_pool2d(x, k, s, p, d, c, True, axes=(1, 2)),
                     tuple(np.ascontiguousarray(np.moveaxis(r, 1, -1))
                           for r in cpool.max_pool2d(nchw, k, s, p, d, c, True)))


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("k,s,p,d,c", [case for case in CASES if not case[4]])
def test_torch_with_explicit_padding(rng, k, s, p, d, c):
    """PyTorch pads symmetrically only: F.pad by the same sides, then pool without padding."""
    x = random_array(rng, (2, 3, 9, 8), np.float32)
    (top, bottom), (left, right) = p
    t = torch.from_numpy(x)
    tv = F.max_pool2d(F.pad(t, (left, right, top, bottom), value=-np.inf), k, s, 0, d)
    assert_identical(cpool.max_pool2d(x, k, s, p, d), tv.numpy())
    if d == 1:  # zero padding counted in the divisor
        ta = F.avg_pool2d(F.pad(t, (left, right, top, bottom)), k, s, 0)
        np.testing.assert_allclose(cpool.avg_pool2d(x, k, s, p), ta.numpy(), rtol=2e-6,
                                   atol=2e-6 * np.abs(x).max())


@pytest.mark.parametrize("shape", [(7, 7), (8, 9), (1, 5), (4, 1)])
@pytest.mark.parametrize("k,s,d", [(3, 2, 1), (2, 1, 1), (4, 3, 1), (3, 2, 2)])
def test_same_lower_puts_the_odd_cell_first(rng, shape, k, s, d):
    x = random_array(rng, shape, np.float64)
    lower = cpool.max_pool2d(x, k, s, "same_lower", d, return_indices=True)
    pads = tuple(ref.same_pads(n, k, s, d, lower=True) for n in shape)
    assert lower[0].shape == tuple(-(-n // s) for n in shape)
    assert_identical(lower, cpool.max_pool2d(x, k, s, pads, d, return_indices=True))
    assert_identical(cpool.sum_pool2d(x, k, s, "same_lower", d),
                     cpool.sum_pool2d(x, k, s, pads, d))
    if d == 1:
        np.testing.assert_allclose(cpool.avg_pool2d(x, k, s, "same_lower"),
                                   ref.avg_pool2d(x, k, s, "same_lower"), rtol=1e-12)


@pytest.mark.parametrize("padding,match", [
    (((1, 0), (0, 3)), r"per side must be at most dilation \* \(kernel_size - 1\) = \(2, 2\), "
                       r"got \(\(1, 0\), \(0, 3\)\)"),
    (((-1, 0), (0, 0)), r"`padding` must be non-negative, got \(\(-1, 0\), \(0, 0\)\)"),
    ("same_upper", r"`padding` must be an int, .* 'same_lower', got 'same_upper'"),
])
def test_bad_padding(padding, match):
    with pytest.raises(ValueError, match=match):
        cpool.max_pool2d(np.ones((5, 5)), 3, padding=padding)


@pytest.mark.parametrize("padding", [((1, 0), 1), ((1.0, 0), (0, 0)), ((1, 0, 1), (0, 0))])
def test_malformed_per_side_padding(padding):
    with pytest.raises((TypeError, ValueError), match=r"`padding` must be"):
        cpool.max_pool2d(np.ones((5, 5)), 3, padding=padding)


def test_same_lower_with_ceil_mode_is_an_error():
    with pytest.raises(ValueError, match=r"ceil_mode=True` cannot be combined with "
                                         r"padding='same_lower'"):
        cpool.avg_pool2d(np.ones((5, 5)), 3, 2, "same_lower", ceil_mode=True)


@pytest.mark.parametrize("k,s,p,d,c", [case for case in CASES if not case[4]])
def test_per_side_padding_is_np_pad_then_no_padding(rng, k, s, p, d, c):
    """Per-side pads are np.pad followed by pooling without padding: -inf cells for max
    (values and, mapped back, indices), zeros for sums."""
    x = random_array(rng, (2, 3, 7, 8), np.float64)
    pads = ((0, 0), (0, 0)) + tuple(p)
    want = cpool.sum_pool2d(np.pad(x, pads), k, s, 0, d)
    np.testing.assert_allclose(cpool.sum_pool2d(x, k, s, p, d), want, 1e-12, 1e-12)
    got, idx = cpool.max_pool2d(x, k, s, p, d, return_indices=True)
    big, big_idx = cpool.max_pool2d(np.pad(x, pads, constant_values=-np.inf), k, s, 0, d,
                                    return_indices=True)
    assert_identical(got, big)
    Wp = x.shape[-1] + p[1][0] + p[1][1]
    rows, cols = big_idx // Wp - p[0][0], big_idx % Wp - p[1][0]
    real = np.isfinite(big)
    np.testing.assert_array_equal(idx[real], (rows * x.shape[-1] + cols)[real])


@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("k,s", [(2, 2), (3, 2), (3, 1), (4, 3)])
def test_same_padding_is_np_pad_then_no_padding(rng, lower, k, s):
    x = random_array(rng, (2, 9, 10), np.float64)
    pads = tuple(ref.same_pads(n, k, s, 1, lower) for n in x.shape[-2:])
    mode = "same_lower" if lower else "same"
    want = cpool.max_pool2d(np.pad(x, ((0, 0),) + pads, constant_values=-np.inf), k, s)
    assert_identical(cpool.max_pool2d(x, k, s, mode), want)
    want = cpool.sum_pool2d(np.pad(x, ((0, 0),) + pads), k, s)
    np.testing.assert_allclose(cpool.sum_pool2d(x, k, s, mode), want, 1e-12, 1e-12)

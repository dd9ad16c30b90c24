"""Fractional max pooling (2-D, 3-D) and its gradient: PyTorch's interval sequences from each
plane's samples, against the NumPy reference and PyTorch (bitwise values and indices)."""
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

AXES = {2: (-2, -1), 3: (-3, -2, -1)}
SHAPES = {2: (2, 3, 11, 13), 3: (2, 2, 7, 8, 9)}
# (kernel_size, output_size): small and large steps, k = 1, one output, outputs + k - 1 = in.
GRIDS = {2: [(2, (5, 6)), (3, (4, 4)), ((2, 3), (9, 10)), (2, (1, 12)), (1, (11, 3)),
             ((4, 1), (8, 13))],
         3: [(2, (4, 5, 6)), ((3, 2, 2), (2, 7, 1)), (1, (7, 3, 9))]}


def frac(n):
    return getattr(cpool, f"fractional_max_pool{n}d")


def frac_back(n):
    return getattr(cpool, f"fractional_max_pool{n}d_backward")


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8, np.float16])
def test_match_the_reference(rng, n, dtype):
    x = random_array(rng, SHAPES[n], dtype)
    if np.dtype(dtype).kind == "f":
        x.flat[::7] = x.flat[-1]  # ties
        x.flat[::11] = np.nan
    sample_dtype = dtype if np.dtype(dtype).kind == "f" else np.float64
    u = rng.random(SHAPES[n][:-n] + (n,)).astype(sample_dtype)
    for k, o in GRIDS[n]:
        got = frac(n)(x, k, o, return_indices=True, random_samples=u)
        assert_identical(got, ref.fractional_max_nd(x, n, k, o, u.reshape(-1, n)))


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_match_torch(rng, n, dtype):
    x = random_array(rng, SHAPES[n], dtype)
    x.flat[::13] = np.nan
    u = rng.random(SHAPES[n][:-n] + (n,)).astype(dtype)
    tf = getattr(F, f"fractional_max_pool{n}d")
    for k, o in GRIDS[n]:
        kk = (k,) * n if np.isscalar(k) else k
        if n == 3 and any(a + b - 1 == m for a, b, m in zip(o, kk, x.shape[-3:])):
            continue  # PyTorch's 3-D check is strict (out + k - 1 < in); its 2-D one is not
        tx = torch.from_numpy(x).requires_grad_()
        ty, ti = tf(tx, k, output_size=o, return_indices=True,
                    _random_samples=torch.from_numpy(u))
        y, idx = frac(n)(x, k, o, return_indices=True, random_samples=u)
        assert_identical((y, idx), (ty.detach().numpy(), ti.numpy()))
        g = random_array(rng, y.shape, dtype)
        ty.backward(torch.from_numpy(g))
        np.testing.assert_allclose(frac_back(n)(g, idx, x.shape), tx.grad.numpy(), 1e-6)
    # output_ratio: PyTorch's int(in * ratio); an unbatched input with samples (1, C, n)
    # (3-D: the batched input; PyTorch 2.13 rejects valid unbatched 3-D sizes with samples).
    ratio = (0.7,) * n
    ty, ti = tf(torch.from_numpy(x), 2, output_ratio=ratio, return_indices=True,
                _random_samples=torch.from_numpy(u))
    assert_identical(frac(n)(x, 2, output_ratio=ratio, return_indices=True, random_samples=u),
                     (ty.numpy(), ti.numpy()))
    if n == 3:
        return
    one = x[0]
    ty, ti = tf(torch.from_numpy(one), 2, output_ratio=ratio, return_indices=True,
                _random_samples=torch.from_numpy(u[:1]))
    assert_identical(frac(n)(one, 2, output_ratio=ratio, return_indices=True,
                             random_samples=u[:1]), (ty.numpy(), ti.numpy()))
    assert_identical(frac(n)(one, 2, output_ratio=0.7, random_samples=u[0]), ty.numpy())


@pytest.mark.parametrize("n", [2, 3])
def test_seeds_reproducible_and_thread_invariant(rng, n):
    x = random_array(rng, (3, 5) + (12, 11, 10)[:n], np.float32)
    a = frac(n)(x, 2, output_ratio=0.6, return_indices=True, seed=7, num_threads=1)
    assert_identical(frac(n)(x, 2, output_ratio=0.6, return_indices=True, seed=7,
                             num_threads=2), a)
    b = frac(n)(x, 2, output_ratio=0.6, return_indices=True, seed=8)
    assert not np.array_equal(a[1], b[1])
    # Each plane's windows depend on the seed and its position only: a sub-batch taken from
    # the front keeps its planes' windows.
    assert_identical(frac(n)(x[:1], 2, output_ratio=0.6, return_indices=True, seed=7),
                     tuple(r[:1] for r in a))
    g = np.random.default_rng(5)
    first = frac(n)(x, 2, output_ratio=0.6, return_indices=True, seed=g)[1]
    second = frac(n)(x, 2, output_ratio=0.6, return_indices=True, seed=g)[1]
    assert not np.array_equal(first, second)  # a Generator advances
    # Over many planes the windows vary: the samples are not all alike.
    many = frac(n)(np.zeros((64,) + (12, 11, 10)[:n], np.float32), 2, output_ratio=0.6,
                   return_indices=True, seed=1)[1]
    assert len({m.tobytes() for m in many}) > 8  # of the few dozen sequences there are


def test_seeded_samples_follow_the_generator():
    """The samples come from stochastic pooling's counter-based generator (documented)."""
    from cpool import _validation as _v
    key = _v.stochastic_key(3, "f")
    u = _v._plane_uniforms(key, 4, 2, np.dtype(np.float64))
    phi, m1, m2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
    mask = (1 << 64) - 1
    for p in range(4):
        z = (key + (p + 1) * phi) & mask
        z = ((z ^ (z >> 30)) * m1) & mask
        z = ((z ^ (z >> 27)) * m2) & mask
        z ^= z >> 31
        for j in range(2):
            h = (((z & 0xFFFFFFFF) + j) & 0xFFFFFFFF) ^ (z >> 32)
            h = ((h ^ (h >> 16)) * 0x7FEB352D) & 0xFFFFFFFF
            h = ((h ^ (h >> 15)) * 0x846CA68B) & 0xFFFFFFFF
            h ^= h >> 16
            assert u[p, j] == h / 2**32


@pytest.mark.parametrize("n", [2, 3])
def test_channels_last_out_and_gradient(rng, n):
    x = random_array(rng, (2,) + (9, 10, 8)[:n] + (5,), np.float32)
    axes = tuple(range(1, n + 1))
    first = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    u = rng.random((2, 5, n)).astype(np.float32)
    want = frac(n)(first, 2, output_ratio=0.5, return_indices=True, random_samples=u)
    got = frac(n)(x, 2, output_ratio=0.5, return_indices=True, random_samples=u, axes=axes)
    assert_identical(got, tuple(np.ascontiguousarray(np.moveaxis(w, 1, -1)) for w in want))
    bufs = (np.empty_like(got[0]), np.empty_like(got[1]))
    res = frac(n)(x, 2, output_ratio=0.5, return_indices=True, random_samples=u, axes=axes,
                  out=bufs)
    assert res[0] is bufs[0] and res[1] is bufs[1]
    assert_identical(res, got)
    g = random_array(rng, got[0].shape, np.float32)
    assert_identical(frac_back(n)(g, got[1], x.shape, axes=axes),
                     np.moveaxis(frac_back(n)(np.ascontiguousarray(np.moveaxis(g, -1, 1)),
                                           want[1], first.shape),
                                 1, -1))
    assert_identical(frac_back(n)(g, got[1], x.shape, axes=axes),
                     np.moveaxis(ref.scatter_nd(np.moveaxis(g, -1, 1), want[1], first.shape,
                                                n), 1, -1).astype(np.float32))


def test_empty_batch_and_inputs_not_modified(rng):
    y, idx = cpool.fractional_max_pool2d(np.empty((0, 3, 9, 9), np.float32), 2, 4,
                                         return_indices=True, seed=0)
    assert y.shape == idx.shape == (0, 3, 4, 4)
    x = random_array(rng, (2, 9, 9), np.float32)
    u = rng.random((2, 2)).astype(np.float32)
    x.setflags(write=False)
    u.setflags(write=False)
    cpool.fractional_max_pool2d(x, 2, 4, random_samples=u)


@pytest.mark.parametrize("n", [2, 3])
def test_output_size_zero_is_an_empty_result(n):
    # PyTorch returns an empty result for an output size of 0 along an axis (or a ratio that
    # rounds to it); cpool raised "the output size would be empty" until 2026-12-06. The
    # gradient of such a result is zeros.
    shape = (2, 3) + (7, 6, 5)[:n]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    fn = getattr(cpool, f"fractional_max_pool{n}d")
    for size in [0, (0,) + (2,) * (n - 1), (2,) * (n - 1) + (0,)]:
        wanted = (size,) * n if isinstance(size, int) else size
        values, idx = fn(x, 2, output_size=size, return_indices=True, seed=3)
        assert values.shape == idx.shape == shape[:2] + wanted
        g = getattr(cpool, f"fractional_max_pool{n}d_backward")(np.ones_like(values), idx, shape)
        assert g.shape == shape and not g.any()
    assert fn(x, 2, output_ratio=0.1, seed=3).shape == shape[:2] + (0,) * n
    torch = pytest.importorskip("torch")
    samples = np.full(shape[:2] + (n,), 0.5, np.float32)
    got = fn(x, 2, output_size=(0,) + (2,) * (n - 1), random_samples=samples)
    want = getattr(torch.nn.functional, f"fractional_max_pool{n}d")(
        torch.from_numpy(x), 2, output_size=(0,) + (2,) * (n - 1),
        _random_samples=torch.from_numpy(samples))
    assert tuple(want.shape) == got.shape


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(output_size=None), ValueError, r"fractional_max_pool2d: pass exactly one of"),
    (dict(output_ratio=0.5), ValueError, r"pass exactly one of"),
    (dict(output_size=-1), ValueError, r"`output_size` must be non-negative, got \(-1, -1\)"),
    (dict(output_size=9), ValueError, r"output size \(9, 9\) \+ kernel_size \(2, 2\) - 1 must "
                                      r"not exceed the input size \(9, 9\)"),
    (dict(output_size=None, output_ratio=1.5), ValueError, r"`output_ratio` must lie in"),
    (dict(output_size=None, output_ratio="a"), TypeError, r"`output_ratio` must be a number"),
    (dict(kernel_size=0), ValueError, r"`kernel_size` must be positive"),
    (dict(kernel_size=10), ValueError, r"must not exceed the input size"),
    (dict(random_samples=np.full((2, 2), 1.0)), ValueError, r"must lie in \[0, 1\)"),
    (dict(random_samples=np.full((2, 2), np.nan)), ValueError, r"must lie in \[0, 1\)"),
    (dict(random_samples=np.zeros((3, 2))), ValueError, r"`random_samples` must have shape "
                                                        r"\(2, 2\)"),
    (dict(random_samples=np.zeros((2, 2), int)), TypeError, r"`random_samples` must be floating"),
    (dict(random_samples=np.zeros((2, 2)), seed=1), ValueError, r"not both"),
    (dict(seed=-1), ValueError, r"`seed` must be non-negative"),
    (dict(seed=1.5), TypeError, r"`seed`"),
])
def test_errors(kwargs, exc, match):
    args = dict(kernel_size=2, output_size=4)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        cpool.fractional_max_pool2d(np.ones((2, 9, 9), np.float32), **args)


def test_backward_errors():
    with pytest.raises(ValueError, match=r"fractional_max_pool2d_backward: `indices` must lie"):
        cpool.fractional_max_pool2d_backward(np.ones((2, 2)), np.full((2, 2), 99), (4, 4))

"""Adaptive max and average pooling's geometry and kernels (issue 18's first step): windows
``[floor(i*n/m), ceil((i+1)*n/m))`` per axis, reduced by the windowed kernels' general path,
against the NumPy reference and PyTorch. The public functions come with issue 18; these tests
call the shared implementation ``cpool._api._adaptive_pool``."""
import numpy as np
import pytest

import _reference as ref
from _helpers import assert_identical, random_array
from cpool import _validation as _v
from cpool._api import _adaptive_pool

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

AXES = {1: (-1,), 2: (-2, -1), 3: (-3, -2, -1)}
SHAPES = {1: [(2, 3, 13), (1, 7)], 2: [(2, 3, 13, 11), (1, 5, 4)], 3: [(2, 2, 5, 7, 6)]}
OUTS = {1: [1, 4, 13, 20, (5,)], 2: [1, (6, 4), (7, None), (13, 11), (20, 3)],
        3: [1, (2, 3, 4), (None, 7, 2), (6, 8, 6)]}


@pytest.mark.parametrize("size,out", [(n, m) for n in range(1, 12) for m in range(1, 15)])
def test_windows_follow_the_formula(size, out):
    w = _v.adaptive_bounds(size, out)
    for i in range(out):
        lo, hi = (i * size) // out, -((-(i + 1) * size) // out)
        assert (w.lo[i], w.count[i]) == (lo, hi - lo)
    assert w.count.min() >= 1 and w.lo[0] == 0 and w.lo[-1] + w.count[-1] == size


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.float64])
def test_match_the_reference(rng, n, dtype):
    for shape in SHAPES[n]:
        x = random_array(rng, shape, dtype)
        if dtype != np.int16:
            x.flat[::7] = x.flat[-1]
            x.flat[::11] = np.nan
        for o in OUTS[n]:
            got = _adaptive_pool("adaptive_max", n, "max", x, o, True, AXES[n], None, None)
            assert_identical(got, ref.adaptive_pool_nd(x, n, "max", o, True))
            avg = _adaptive_pool("adaptive_avg", n, "avg", x, o, False, AXES[n], None, None)
            want = ref.adaptive_pool_nd(x, n, "avg", o)
            finite = np.abs(want[np.isfinite(want)])
            scale = float(finite.max()) if finite.size else 1.0
            np.testing.assert_allclose(avg, want, 1e-6, 1e-6 * scale)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_channels_last_and_threads(rng, n):
    x = random_array(rng, (2,) + (9, 7, 5)[:n] + (16,), np.float32)
    axes = tuple(range(1, n + 1))
    first = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    o = (4, 3, 2)[:n]
    for op in ("max", "avg"):
        got = _adaptive_pool("a", n, op, x, o, False, axes, None, 2)
        want = _adaptive_pool("a", n, op, first, o, False, AXES[n], None, 1)
        assert_identical(got, np.ascontiguousarray(np.moveaxis(want, 1, -1)))


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_match_torch(rng, n):
    for shape in SHAPES[n]:
        if len(shape) == n:
            continue
        x = random_array(rng, shape, np.float32)
        x.flat[::13] = np.nan
        for o in OUTS[n]:
            ty, ti = getattr(F, f"adaptive_max_pool{n}d")(torch.from_numpy(x), o,
                                                         return_indices=True)
            got = _adaptive_pool("a", n, "max", x, o, True, AXES[n], None, None)
            assert_identical(got, (ty.numpy(), ti.numpy()))
            ta = getattr(F, f"adaptive_avg_pool{n}d")(torch.from_numpy(x), o).numpy()
            np.testing.assert_allclose(_adaptive_pool("a", n, "avg", x, o, False, AXES[n], None,
                                                      None), ta, 1e-6, 1e-6)


@pytest.mark.parametrize("o,exc,match", [
    ((2, 2), ValueError, r"`output_size` must be an int or a 1-tuple"),
    (0, ValueError, r"`output_size` must be positive"),
    (2.5, TypeError, r"`output_size`"),
])
def test_output_size_errors(o, exc, match):
    with pytest.raises(exc, match=match):
        _adaptive_pool("adaptive_max_pool1d", 1, "max", np.ones((2, 5)), o, False, (-1,),
                       None, None)

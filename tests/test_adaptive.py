"""Adaptive max and average pooling, 1-D to 3-D, and their gradients: windows
``[floor(i*n/m), ceil((i+1)*n/m))`` per axis, against the NumPy reference and PyTorch."""
import numpy as np
import pytest

import _reference as ref
import cpool
from _helpers import as_bits, assert_identical, random_array, signed_zeros_and_payloads
from cpool import _validation as _v


def _planes(a):
    """A channels-last array's channels-first copy: a view would be channels-last memory,
    which cpool takes with its channels-last kernels (the ones under test)."""
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

AXES = {1: (-1,), 2: (-2, -1), 3: (-3, -2, -1)}
SHAPES = {1: [(2, 3, 13), (1, 7)], 2: [(2, 3, 13, 11), (1, 5, 4)], 3: [(2, 2, 5, 7, 6)]}
# Sizes that divide (the tiling fast path) and that don't, None entries, larger outputs.
OUTS = {1: [1, 4, 13, 20, (5,)], 2: [1, (6, 4), (7, None), (13, 11), (20, 3), (1, 4)],
        3: [1, (2, 3, 4), (None, 7, 2), (6, 8, 6), (5, 7, 3)]}


def amax(n):
    return getattr(cpool, f"adaptive_max_pool{n}d")


def aavg(n):
    return getattr(cpool, f"adaptive_avg_pool{n}d")


def amax_back(n):
    return getattr(cpool, f"adaptive_max_pool{n}d_backward")


def aavg_back(n):
    return getattr(cpool, f"adaptive_avg_pool{n}d_backward")


def assert_close(got, want, rtol=1e-6):
    finite = np.abs(want[np.isfinite(want)])
    scale = float(finite.max()) if finite.size else 1.0
    np.testing.assert_allclose(got, want, rtol, rtol * scale)


@pytest.mark.parametrize("size,out", [(n, m) for n in range(1, 12) for m in range(1, 15)])
def test_windows_follow_the_formula(size, out):
    w = _v.adaptive_bounds(size, out)
    for i in range(out):
        lo, hi = (i * size) // out, -((-(i + 1) * size) // out)
        assert (w.lo[i], w.count[i]) == (lo, hi - lo)
    assert w.count.min() >= 1 and w.lo[0] == 0 and w.lo[-1] + w.count[-1] == size


@pytest.mark.parametrize("size,out", [(n, m) for n in range(1, 16) for m in range(1, 20)])
def test_even_windows_take_the_fast_path(size, out):
    """Windows of one size k starting s apart (13 -> 6: k 3, s 2; every output size that
    divides the input size) are max_pool's windows for (k, s), and keep its fast path."""
    geom = _v._adaptive_geometry("f", (size,), (0,), out)
    w = _v.adaptive_bounds(size, out)
    np.testing.assert_array_equal(geom.w.lo, w.lo)
    np.testing.assert_array_equal(geom.w.count, w.count)
    even = len(set(w.count)) == 1 and (out == 1 or len(set(np.diff(w.lo))) == 1) and (
        out == 1 or w.lo[1] > 0)
    assert geom.clipped == (not even)
    if size % out == 0:
        assert not geom.clipped and geom.kernel == geom.stride == (size // out,)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.float64, np.uint8])
def test_match_the_reference(rng, n, dtype):
    for shape in SHAPES[n]:
        x = random_array(rng, shape, dtype)
        if np.dtype(dtype).kind == "f":
            x.flat[::7] = x.flat[-1]
            x.flat[::11] = np.nan
        for o in OUTS[n]:
            assert_identical(amax(n)(x, o, True), ref.adaptive_pool_nd(x, n, "max", o, True))
            assert_identical(amax(n)(x, o), ref.adaptive_pool_nd(x, n, "max", o))
            assert_close(aavg(n)(x, o), ref.adaptive_pool_nd(x, n, "avg", o))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size,out", [((10, 10), 7), ((13, 13), 5), ((14, 14), (5, 3)),
                                      ((7, 32), (3, 9)), ((31, 5), (4, 2)), ((2, 3), (2, 2)),
                                      ((10, 33), 7), ((40, 10), 7)])
def test_uneven_windows_of_small_planes_bitwise(rng, dtype, size, out):
    # Uneven windows of planes with rows of at most 32 values take a plane a task (each
    # buffer row's windows clipped to their taps), wider rows or a lone output row the per-row
    # path: both must give the exact averages and maxima. On integer values every sum is
    # exact in any order, so each average is its sum's quotient by the count rounded once.
    x = rng.integers(-50, 50, size=(3, 5) + size).astype(dtype)
    oh, ow = (out, out) if isinstance(out, int) else out
    rows, cols = _v.adaptive_bounds(size[0], oh), _v.adaptive_bounds(size[1], ow)
    avg = np.empty(x.shape[:2] + (oh, ow), dtype)
    top = np.empty_like(avg)
    for i in range(oh):
        for j in range(ow):
            window = x[..., rows.lo[i]:rows.lo[i] + rows.count[i],
                       cols.lo[j]:cols.lo[j] + cols.count[j]]
            avg[..., i, j] = window.sum(axis=(-2, -1)) / dtype(rows.count[i] * cols.count[j])
            top[..., i, j] = window.max(axis=(-2, -1))
    for threads in (1, 2, 3):
        assert_identical(aavg(2)(x, out, num_threads=threads), avg)
        assert_identical(amax(2)(x, out, num_threads=threads), top)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signed_zeros_and_nan_payloads_bitwise(rng, n, dtype):
    # Uneven windows take a branch-free max with a NaN flag, and a window with a NaN is taken
    # again by PyTorch's rule: the value must still be the scan's own cell, bit for bit (the
    # first zero, the last NaN), with and without indices.
    for shape in SHAPES[n]:
        x = signed_zeros_and_payloads(rng, shape, dtype)
        for o in OUTS[n]:
            ev, ei = ref.adaptive_pool_nd(x, n, "max", o, True)
            v, i = amax(n)(x, o, True)
            np.testing.assert_array_equal(as_bits(v), as_bits(ev))
            np.testing.assert_array_equal(i, ei)
            np.testing.assert_array_equal(as_bits(amax(n)(x, o)), as_bits(ev))


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_match_the_reference(rng, n, dtype):
    for shape in SHAPES[n]:
        x = random_array(rng, shape, dtype)
        for o in OUTS[n]:
            y, idx = amax(n)(x, o, True)
            g = random_array(rng, y.shape, dtype)
            got = amax_back(n)(g, idx, x.shape)
            assert got.dtype == dtype
            assert_close(got, ref.scatter_nd(g, idx, x.shape, n))
            got = aavg_back(n)(g, x.shape)
            assert got.dtype == dtype and got.shape == x.shape
            assert_close(got, ref.adaptive_backward_nd(g, x.shape, n), 1e-5)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_avg_gradient_is_the_adjoint(rng, n):
    """Finite differences of a linear map: <avg(x), g> == <x, avg_backward(g)> for every x, g."""
    for shape in SHAPES[n]:
        for o in OUTS[n]:
            x = rng.standard_normal(shape)
            y = aavg(n)(x, o)
            g = rng.standard_normal(y.shape)
            lhs, rhs = np.vdot(y, g), np.vdot(x, aavg_back(n)(g, x.shape))
            assert abs(lhs - rhs) <= 1e-10 * (abs(lhs) + 1)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_one_output_is_the_global_op(rng, n):
    x = random_array(rng, (3, 4) + (5, 6, 7)[:n], np.float32)
    x.flat[::5] = np.nan
    ones = (1,) * n
    assert_identical(amax(n)(x, ones, True),
                     getattr(cpool, f"global_max_pool{n}d")(x, True, True))
    assert_identical(aavg(n)(x, 1), getattr(cpool, f"global_avg_pool{n}d")(x, True))
    g = random_array(rng, (3, 4) + ones, np.float32)
    assert_identical(aavg_back(n)(g, x.shape),
                     getattr(cpool, f"global_avg_pool{n}d_backward")(g, x.shape))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_channels_last_threads_and_out(rng, n):
    x = random_array(rng, (2,) + (9, 7, 5)[:n] + (16,), np.float32)
    axes = tuple(range(1, n + 1))
    first = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    o = (4, 3, 2)[:n]
    for op in (amax(n), aavg(n)):
        got = op(x, o, axes=axes, num_threads=2)
        want = op(first, o, num_threads=1)
        assert_identical(got, np.ascontiguousarray(np.moveaxis(want, 1, -1)))
        buf = np.empty_like(got)
        assert op(x, o, axes=axes, out=buf) is buf
        assert_identical(buf, got)
    y, idx = amax(n)(x, o, True, axes=axes)
    g = np.ones_like(y)
    want = amax_back(n)(_planes(g), _planes(idx), first.shape)
    assert_identical(amax_back(n)(g, idx, x.shape, axes=axes), np.moveaxis(want, 1, -1))
    want = aavg_back(n)(_planes(g), first.shape, num_threads=1)
    assert_identical(aavg_back(n)(g, x.shape, axes=axes, num_threads=2),
                     np.moveaxis(want, 1, -1))


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_match_torch(rng, n, dtype):
    for shape in SHAPES[n]:
        if len(shape) == n:
            continue
        x = random_array(rng, shape, dtype)
        x.flat[::13] = np.nan
        for o in OUTS[n]:
            tx = torch.from_numpy(x).requires_grad_()
            ty, ti = getattr(F, f"adaptive_max_pool{n}d")(tx, o, return_indices=True)
            y, idx = amax(n)(x, o, True)
            assert_identical((y, idx), (ty.detach().numpy(), ti.numpy()))
            g = random_array(rng, y.shape, dtype)
            ty.backward(torch.from_numpy(g))
            assert_close(amax_back(n)(g, idx, x.shape), tx.grad.numpy())
            tx = torch.from_numpy(np.nan_to_num(x)).requires_grad_()
            ta = getattr(F, f"adaptive_avg_pool{n}d")(tx, o)
            assert_close(aavg(n)(np.nan_to_num(x), o), ta.detach().numpy())
            ta.backward(torch.from_numpy(g))
            assert_close(aavg_back(n)(g, x.shape), tx.grad.numpy())


def test_empty_batch_and_huge_output_sizes():
    """An empty batch reads nothing and builds no per-output tables: memory follows the data."""
    x = np.empty((0, 3, 5), np.float32)
    assert cpool.adaptive_avg_pool2d(x, (2**30, 2**30)).shape == (0, 2**30, 2**30)
    y, idx = cpool.adaptive_max_pool2d(x, (7, 2**30), True)
    assert y.shape == idx.shape == (0, 7, 2**30)
    assert cpool.adaptive_avg_pool2d_backward(np.empty((0, 2**30, 3)), (0, 3, 5)).shape == (0, 3, 5)


def test_inputs_are_not_modified(rng):
    x = random_array(rng, (2, 3, 9, 7), np.float32)
    x.setflags(write=False)
    y, idx = cpool.adaptive_max_pool2d(x, (4, 3), True)
    g = np.ones_like(y)
    g.setflags(write=False)
    idx.setflags(write=False)
    cpool.adaptive_max_pool2d_backward(g, idx, x.shape)
    cpool.adaptive_avg_pool2d_backward(g, x.shape)


@pytest.mark.parametrize("o,exc,match", [
    ((2, 2), ValueError, r"adaptive_max_pool1d: `output_size` must be an int or a 1-tuple"),
    (-3, ValueError, r"`output_size` must be non-negative, got \(-3,\)"),
    ((-1,), ValueError, r"`output_size` must be non-negative"),
    (2.5, TypeError, r"`output_size`"),
    ("2", TypeError, r"`output_size`"),
    (2**31, ValueError, r"`output_size`"),
])
def test_output_size_errors(o, exc, match):
    with pytest.raises(exc, match=match):
        cpool.adaptive_max_pool1d(np.ones((2, 5)), o)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_output_size_zero_is_an_empty_result(rng, op, n):
    # PyTorch returns an empty result for an output size of 0 along an axis; cpool raised
    # "`output_size` must be positive" until 2026-12-06. The gradient of such a result is
    # zeros (PyTorch's backward refuses an empty gradient); channels-last alike.
    shape = (2, 3) + (7, 6, 5)[:n]
    x = random_array(rng, shape, np.float32)
    fn = getattr(cpool, f"adaptive_{op}_pool{n}d")
    back = getattr(cpool, f"adaptive_{op}_pool{n}d_backward")
    kw = {"return_indices": True} if op == "max" else {}
    for size in [0, (0,) + (2,) * (n - 1), (2,) * (n - 1) + (0,)]:
        wanted = (size,) * n if isinstance(size, int) else size
        out = fn(x, size, **kw)
        values = out[0] if op == "max" else out
        assert values.shape == shape[:2] + wanted and values.dtype == np.float32
        grad = np.ones_like(values)
        g = back(grad, out[1], shape) if op == "max" else back(grad, shape)
        assert g.shape == shape and not g.any()
        last = fn(np.ascontiguousarray(np.moveaxis(x, 1, -1)), size,
                  axes=tuple(range(1, n + 1)))
        assert last.shape == (2,) + wanted + (3,)
    torch = pytest.importorskip("torch")
    tfn = getattr(torch.nn.functional, f"adaptive_{op}_pool{n}d")
    assert tuple(tfn(torch.from_numpy(x), (0,) + (2,) * (n - 1)).shape) == \
        fn(x, (0,) + (2,) * (n - 1)).shape


def test_other_errors():
    x = np.ones((2, 3, 5, 5), np.float32)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool3d: `x` must have at least 3"):
        cpool.adaptive_avg_pool3d(np.ones((5, 5)), 2)
    with pytest.raises(ValueError, match=r"`axes`"):
        cpool.adaptive_avg_pool2d(x, 2, axes=(1, 1))
    with pytest.raises(TypeError, match=r"unsupported dtype"):
        cpool.adaptive_avg_pool2d(x.astype(np.complex64), 2)
    with pytest.raises(ValueError, match=r"`out`"):
        cpool.adaptive_avg_pool2d(x, 2, out=np.empty((2, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d_backward: `grad_output` must "
                                         r"have the 4 dimensions"):
        cpool.adaptive_avg_pool2d_backward(np.ones((3, 2, 2)), x.shape)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d_backward: `grad_output`"):
        cpool.adaptive_avg_pool2d_backward(np.ones((2, 4, 2, 2)), x.shape)
    with pytest.raises(TypeError, match=r"`grad_output`"):
        cpool.adaptive_avg_pool2d_backward(np.ones((2, 3, 2, 2), np.int32), x.shape)
    y, idx = cpool.adaptive_max_pool2d(x, 2, True)
    with pytest.raises(ValueError, match=r"`indices` must lie in"):
        cpool.adaptive_max_pool2d_backward(y, idx + 100, x.shape)


def _side_by_side_inputs(rng, shape, dtype):
    """Batches of enough small planes for the kernels to pool them side by side, as the
    lanes of channels-last pixels (_window's _lane_planes: groups of 16 to 64 planes, the
    last one short): C-ordered, and a view whose rows lie further apart than they are
    long."""
    x = signed_zeros_and_payloads(rng, shape, dtype)
    x[..., ::3, :] = rng.standard_normal(x[..., ::3, :].shape)  # values other than zeros
    wide = np.concatenate([x, x], axis=-1)
    return {"contiguous": x, "rows apart": wide[..., :shape[-1]]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size,out", [((10, 10), 7), ((13, 13), 5), ((8, 8), 7), ((9, 12), (4, 5)),
                                      ((16, 11), (3, 7)), ((5, 5), 4)])
def test_small_planes_side_by_side(rng, dtype, size, out):
    """Uneven windows over small float planes are pooled side by side (a group of planes as
    the lanes of channels-last pixels): max values, their bits (zeros' signs, NaN payloads)
    and indices are the reference's and the channels-last kernels', averages the latter's
    bits (but NaN payloads) and the reference's values, for a whole group, a short last
    group and thread counts that shrink the groups."""
    for name, x in _side_by_side_inputs(rng, (3, 100) + size, dtype).items():
        want_max = ref.adaptive_pool_nd(x, 2, "max", out, True)
        lanes = np.ascontiguousarray(np.moveaxis(x, 1, -1))  # the channels-last kernels
        want_nhwc = [np.moveaxis(r, -1, 1) for r in (
            cpool.adaptive_max_pool2d(lanes, out, True, axes=(1, 2)) +
            (cpool.adaptive_avg_pool2d(lanes, out, axes=(1, 2)),))]
        for threads in (1, 2, 3):
            v, i = cpool.adaptive_max_pool2d(x, out, True, num_threads=threads)
            np.testing.assert_array_equal(as_bits(v), as_bits(want_max[0]), err_msg=name)
            np.testing.assert_array_equal(i, want_max[1], err_msg=name)
            np.testing.assert_array_equal(i, want_nhwc[1], err_msg=name)
            m = cpool.adaptive_max_pool2d(x, out, num_threads=threads)
            np.testing.assert_array_equal(as_bits(m), as_bits(want_max[0]), err_msg=name)
            a = cpool.adaptive_avg_pool2d(x, out, num_threads=threads)
            _assert_same_sums(a, want_nhwc[2], name)
            assert_close(a, ref.adaptive_pool_nd(x, 2, "avg", out))


def _assert_same_sums(got, want, name):
    """The same bits but NaN payloads, which a sum of two NaNs takes from either (PyTorch
    defines none; a vector and a scalar loop may add in either order)."""
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan, err_msg=name)
    np.testing.assert_array_equal(as_bits(got)[~nan], as_bits(want)[~nan], err_msg=name)


# Adaptive windows over planes too large to go side by side, of 1 to 16 columns (their
# column winner picked at once, float32) and of more (column by column): windows that
# overlap by a column, uneven widths, one column, windows of one width (16 and 17 columns:
# the last taken at once, and one past it).
WIDE_PLANE_OUTS = [((64, 64), 6), ((64, 64), (5, 7)), ((50, 37), (4, 3)), ((33, 100), (3, 7)),
                   ((40, 40), 1), ((17, 200), (2, 13)), ((30, 48), (4, 48)), ((112, 112), 7),
                   ((20, 119), (3, 7))]


@pytest.mark.parametrize("size,out", WIDE_PLANE_OUTS)
@pytest.mark.parametrize("data", ["random", "ties", "zeros_and_payloads", "infinities"])
def test_column_winners_of_wide_windows(rng, size, out, data):
    """Max with indices over uneven windows of large float32 planes: the reference's values
    (bit for bit: the first zero, the last NaN) and indices, and the indices the float64 path
    (column by column, by the same rule) finds on the same values."""
    shape = (2, 3) + size
    if data == "zeros_and_payloads":
        x = signed_zeros_and_payloads(rng, shape, np.float32)
    else:
        x = rng.standard_normal(shape).astype(np.float32)
        if data == "ties":
            x = np.round(x * 2).astype(np.float32)
        if data == "infinities":
            x = np.round(x).astype(np.float32)
            x.flat[::7] = np.inf
            x.flat[3::5] = -np.inf
            x.flat[1::11] = np.nan
    want_values, want_indices = ref.adaptive_pool_nd(x, 2, "max", out, True)
    for threads in (1, 3):
        values, indices = amax(2)(x, out, True, num_threads=threads)
        assert_identical(as_bits(values), as_bits(want_values))
        assert_identical(indices, want_indices)
    assert_identical(amax(2)(x.astype(np.float64), out, True)[1], want_indices)

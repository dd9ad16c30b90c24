"""Gradients: against PyTorch autograd when installed, and always against finite differences."""
import inspect
import itertools
import math
import tracemalloc

import numpy as np
import pytest

import _reference
import cpool
from _helpers import (FLOAT_DTYPES, SAME_3X3_HEIGHTS, SAME_3X3_MODES, SAME_3X3_WIDTHS,
                      assert_identical, at_page_end, fits, general_path, misaligned_copy, odd_layouts,
                      planes_apart, random_array, rows_apart, same_3x3_mode, same_3x3_planes,
                      tolerance, window_grid, window_sum_gradients)

GRID = [(k, s, p, d, c) for k, s, p, d, c in window_grid()][::9]
AVG_GRID = [(k, s, p, c) for k, s, p, d, c in window_grid() if d == 1][::5]


def numeric_grad(f, x, w, eps=1e-6):
    """d/dx of sum(w * f(x)) by central differences (float64)."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = np.sum(w * f(x))
        flat[i] = keep - eps
        down = np.sum(w * f(x))
        flat[i] = keep
        gflat[i] = (up - down) / (2 * eps)
    return g


def distinct(rng, shape):
    """float64 values far apart (no ties within 1e-3), so max pooling is differentiable."""
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * 0.37 + rng.random(shape) * 1e-3


# ----------------------------------------------------------------------------------- finite diffs
@pytest.mark.parametrize("k,s,p,d,c", GRID)
def test_max_backward_finite_differences(rng, k, s, p, d, c):
    shape = (2, 5, 6)
    if not fits(shape, k, s, p, d, c):
        pytest.skip("empty output")
    x = distinct(rng, shape)
    y, idx = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
    if not np.all(np.isfinite(y)):
        pytest.skip("empty dilated windows have no gradient")
    w = rng.standard_normal(y.shape)
    got = cpool.max_pool2d_backward(w, idx, x.shape)
    np.testing.assert_allclose(got, numeric_grad(lambda z: cpool.max_pool2d(z, k, s, p, d, c), x, w),
                               atol=1e-6)


@pytest.mark.parametrize("k,s,p,c", AVG_GRID)
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 3)])
def test_avg_backward_finite_differences(rng, k, s, p, c, count_include_pad, divisor_override):
    shape = (2, 5, 6)
    if not fits(shape, k, s, p, 1, c):
        pytest.skip("empty output")
    x = rng.standard_normal(shape)
    f = lambda z: cpool.avg_pool2d(z, k, s, p, c, count_include_pad, divisor_override)  # noqa: E731
    w = rng.standard_normal(f(x).shape)
    got = cpool.avg_pool2d_backward(w, x.shape, k, s, p, c, count_include_pad, divisor_override)
    np.testing.assert_allclose(got, numeric_grad(f, x, w), atol=1e-7)


@pytest.mark.parametrize("k,s,p,d,c", GRID)
def test_sum_backward_finite_differences(rng, k, s, p, d, c):
    shape = (2, 5, 6)
    if not fits(shape, k, s, p, d, c):
        pytest.skip("empty output")
    x = rng.standard_normal(shape)
    f = lambda z: cpool.sum_pool2d(z, k, s, p, d, c)  # noqa: E731
    w = rng.standard_normal(f(x).shape)
    np.testing.assert_allclose(cpool.sum_pool2d_backward(w, x.shape, k, s, p, d, c),
                               numeric_grad(f, x, w), atol=1e-7)


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_backward_finite_differences(rng, keepdims):
    x = distinct(rng, (2, 3, 4, 5))
    m, idx = cpool.global_max_pool2d(x, keepdims, return_indices=True)
    w = rng.standard_normal(m.shape)
    np.testing.assert_allclose(cpool.global_max_pool2d_backward(w, idx, x.shape),
                               numeric_grad(lambda z: cpool.global_max_pool2d(z, keepdims), x, w), atol=1e-6)
    np.testing.assert_allclose(cpool.global_avg_pool2d_backward(w, x.shape),
                               numeric_grad(lambda z: cpool.global_avg_pool2d(z, keepdims), x, w), atol=1e-7)
    np.testing.assert_allclose(cpool.global_sum_pool2d_backward(w, x.shape),
                               numeric_grad(lambda z: cpool.global_sum_pool2d(z, keepdims), x, w), atol=1e-6)


def test_two_layer_chain(rng):
    # loss = sum(w * avg_pool(max_pool(x, 2, 1), 2, 1, padding 1)), gradient by the chain rule.
    x = distinct(rng, (1, 2, 6, 6))

    def forward(z):
        return cpool.avg_pool2d(cpool.max_pool2d(z, 2, 1), 2, 1, 1, count_include_pad=False)

    h, idx = cpool.max_pool2d(x, 2, 1, return_indices=True)
    w = rng.standard_normal(forward(x).shape)
    g_h = cpool.avg_pool2d_backward(w, h.shape, 2, 1, 1, count_include_pad=False)
    g_x = cpool.max_pool2d_backward(g_h, idx, x.shape)
    np.testing.assert_allclose(g_x, numeric_grad(forward, x, w), atol=1e-6)


def test_stochastic_backward_routes_to_samples(rng):
    x = np.abs(rng.standard_normal((2, 3, 8, 8)))
    y, idx = cpool.stochastic_pool2d(x, 2, seed=3, return_indices=True)
    w = rng.standard_normal(y.shape)
    got = cpool.stochastic_pool2d_backward(w, idx, x.shape)
    # y is x gathered at idx, so d sum(w*y)/dx scatters w to idx.
    expected = np.zeros((6, 64))
    np.add.at(expected, (np.arange(6)[:, None], idx.reshape(6, -1)), w.reshape(6, -1))
    np.testing.assert_array_equal(got, expected.reshape(x.shape))
    assert_identical(got, cpool.max_pool2d_backward(w, idx, x.shape))


# -------------------------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,d,c", GRID)
def test_max_backward_matches_torch(rng, dtype, k, s, p, d, c):
    torch = pytest.importorskip("torch")
    shape = (2, 3, 9, 11)
    if not fits(shape, k, s, p, d, c):
        pytest.skip("empty output")
    x = random_array(rng, shape, dtype)
    t = torch.from_numpy(x).requires_grad_()
    y, ti = torch.nn.functional.max_pool2d(t, k, s, p, d, ceil_mode=c, return_indices=True)
    if not torch.isfinite(y).all():
        pytest.skip("empty dilated windows")
    g = random_array(rng, tuple(y.shape), dtype)
    y.backward(torch.from_numpy(g))
    _, idx = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
    np.testing.assert_array_equal(cpool.max_pool2d_backward(g, idx, x.shape), t.grad.numpy())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,s,p,c", AVG_GRID)
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 2)])
def test_avg_backward_matches_torch(rng, dtype, k, s, p, c, count_include_pad, divisor_override):
    torch = pytest.importorskip("torch")
    shape = (2, 3, 9, 11)
    if not fits(shape, k, s, p, 1, c):
        pytest.skip("empty output")
    t = torch.from_numpy(random_array(rng, shape, dtype)).requires_grad_()
    y = torch.nn.functional.avg_pool2d(t, k, s, p, c, count_include_pad, divisor_override)
    g = random_array(rng, tuple(y.shape), dtype)
    y.backward(torch.from_numpy(g))
    got = cpool.avg_pool2d_backward(g, shape, k, s, p, c, count_include_pad, divisor_override)
    exp = t.grad.numpy()
    assert got.dtype == dtype
    np.testing.assert_allclose(got, exp, *tolerance(dtype, exp))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_sum_and_global_backward_match_torch(rng, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = random_array(rng, (2, 3, 9, 11), dtype)
    t = torch.from_numpy(x).requires_grad_()
    y = F.avg_pool2d(t, 3, 2, 1, True, True, 1)
    g = random_array(rng, tuple(y.shape), dtype)
    y.backward(torch.from_numpy(g))
    got = cpool.sum_pool2d_backward(g, x.shape, 3, 2, 1, ceil_mode=True)
    np.testing.assert_allclose(got, t.grad.numpy(), *tolerance(dtype, t.grad.numpy()))
    for ours, theirs in ((cpool.global_avg_pool2d_backward, lambda z: z.mean((-2, -1))),
                         (cpool.global_sum_pool2d_backward, lambda z: z.sum((-2, -1)))):
        t.grad = None
        out = theirs(t)
        gg = random_array(rng, tuple(out.shape), dtype)
        out.backward(torch.from_numpy(gg))
        np.testing.assert_allclose(ours(gg, x.shape), t.grad.numpy(), *tolerance(dtype, t.grad.numpy()))
    t.grad = None
    m, ti = F.adaptive_max_pool2d(t, 1, return_indices=True)
    gg = random_array(rng, tuple(m.shape), dtype)
    m.backward(torch.from_numpy(gg))
    _, idx = cpool.global_max_pool2d(x, keepdims=True, return_indices=True)
    np.testing.assert_array_equal(cpool.global_max_pool2d_backward(gg, idx, x.shape), t.grad.numpy())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("hw", [(1, 1), (3, 5), (7, 7), (13, 11), (6, 10)])
def test_global_avg_backward_divides_like_autograd(rng, dtype, hw):
    # autograd's mean backward is grad / numel in the gradient's dtype; multiplying by a
    # rounded 1/(H*W) was 1 ulp off it (3x5 and 6x10 among others).
    g = random_array(rng, (64,), dtype)
    shape = (64,) + hw
    got = cpool.global_avg_pool2d_backward(g, shape)
    np.testing.assert_array_equal(got, np.broadcast_to((g / dtype(hw[0] * hw[1]))[:, None, None], shape))
    assert_identical(cpool.global_sum_pool2d_backward(g, shape),
                     np.ascontiguousarray(np.broadcast_to(g[:, None, None], shape)))
    torch = pytest.importorskip("torch")
    t = torch.zeros(shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
    t.mean((-2, -1)).backward(torch.from_numpy(g))
    np.testing.assert_array_equal(got, t.grad.numpy())


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("batch,C", [((5,), 3), ((2,), 64), ((1,), 300), ((2, 3), 130)])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_channels_last_global_gradients_in_place(rng, monkeypatch, n, batch, C, dtype):
    """global_avg/sum_poolNd_backward over channels-last images fill them in place (each
    image's channels divided once, copied to its pixels, by blocks of channels where the
    threads outnumber the images): the division autograd makes (grad / numel in the
    gradient's dtype, float16 through float32) on every pixel, with or without ``keepdims``,
    at 1, 3 and 8 threads, into ``out``."""
    from cpool import _validation
    monkeypatch.setattr(_validation, "_MIN_WORK_PER_THREAD", 1)  # threads on small images
    spatial = {1: (37,), 2: (7, 9), 3: (3, 4, 5)}[n]
    shape = batch + spatial + (C,)
    axes = tuple(range(len(batch), len(batch) + n))
    g = random_array(rng, batch + (C,), dtype)
    g.reshape(-1)[::7] = -0.0
    cells = math.prod(spatial)
    wide = np.float32 if dtype == np.float16 else dtype
    expand = (slice(None),) * len(batch) + (None,) * n
    for mean, name in ((True, "avg"), (False, "sum")):
        want = (g.astype(wide) / wide(cells)).astype(dtype) if mean else g
        want = np.ascontiguousarray(np.broadcast_to(want[expand], shape))
        backward = getattr(cpool, f"global_{name}_pool{n}d_backward")
        for threads in (1, 3, 8):
            assert_identical(backward(g, shape, axes=axes, num_threads=threads), want)
        kept = g.reshape(batch + (1,) * n + (C,))
        out = np.full(shape, np.nan, dtype)
        assert backward(kept, shape, axes=axes, out=out, num_threads=3) is out
        assert_identical(out, want)


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), ((2, 3), (2, 1), (1, 0))])
@pytest.mark.parametrize("size", ["default", "input"])
def test_max_unpool_matches_torch(rng, k, s, p, size):
    torch = pytest.importorskip("torch")
    x = random_array(rng, (2, 3, 9, 10), np.float32)
    y, idx = cpool.max_pool2d(x, k, s, p, return_indices=True)
    output_size = None if size == "default" else x.shape[-2:]
    try:
        exp = torch.nn.functional.max_unpool2d(torch.from_numpy(y), torch.from_numpy(idx), k, s, p,
                                               output_size).numpy()
    except RuntimeError:  # the default size can be smaller than the pooled input: both refuse
        with pytest.raises(ValueError, match=r"^max_unpool2d: `indices` must lie in"):
            cpool.max_unpool2d(y, idx, k, s, p, output_size)
        return
    got = cpool.max_unpool2d(y, idx, k, s, p, output_size)
    assert got.shape == exp.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, exp)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_unpool_to_a_default_size_of_zero(rng, n):
    # One pooled cell per axis with padding k / 2 on both sides: the default size
    # (1 - 1) * s - 2 * p + k is 0. PyTorch returns an empty result (the values have nowhere
    # to go); cpool raised "the output size would be empty" until 2026-12-06. A size below 0
    # is an error.
    x = random_array(rng, (2, 3) + (1,) * (n - 1) + (2,), np.float32)
    k, s, p = (1,) * (n - 1) + (2,), (1,) * (n - 1) + (3,), (0,) * (n - 1) + (1,)
    y, idx = getattr(cpool, f"max_pool{n}d")(x, k, s, p, return_indices=True)
    unpool = getattr(cpool, f"max_unpool{n}d")
    got = unpool(y, idx, k, s, p)
    assert got.shape == (2, 3) + (1,) * (n - 1) + (0,) and got.dtype == np.float32
    torch = pytest.importorskip("torch")
    want = getattr(torch.nn.functional, f"max_unpool{n}d")(torch.from_numpy(y),
                                                            torch.from_numpy(idx), k, s, p)
    assert tuple(want.shape) == got.shape
    with pytest.raises(ValueError, match=r"output size \(.*-3,?\) would be negative"):
        unpool(y[..., :0], idx[..., :0], k, s, p)


# ------------------------------------------------------------------------------------ scatters
def tile_indices(rng, P, OH, OW, H, W):
    """Per output, a random cell of its 2x2 tile (rows 2oh.., columns 2ow.., clipped): what
    max_pool2d(2, 2) gives, in floor or ceil mode."""
    oh, ow = np.meshgrid(np.arange(OH), np.arange(OW), indexing="ij")
    h = np.minimum(2 * oh + rng.integers(0, 2, (P, OH, OW)), H - 1)
    w = np.minimum(2 * ow + rng.integers(0, 2, (P, OH, OW)), W - 1)
    return (h * W + w).astype(np.int64)


# Rows of outputs under and over a vector (8 floats, 4 doubles: the one-pass 2x2 tiles'
# vectors and their overlapping last one), floor mode (tiles, with a spare row or column when
# odd) and ceil mode (the scatter).
TILE_SHAPES = [(H, W, OH, OW) for H, W in [(1, 1), (2, 2), (5, 5), (6, 7), (7, 6), (8, 9),
                                           (4, 16), (5, 19), (3, 26), (6, 33), (2, 56), (4, 64)]
               for OH in sorted({H // 2, (H + 1) // 2} - {0})
               for OW in sorted({W // 2, (W + 1) // 2} - {0})]


@pytest.mark.parametrize("H,W,OH,OW", TILE_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["in_tiles", "one_outside", "last_row_outside", "shared_cell",
                                  "lane_outside", "next_row_outside"])
def test_scatter_matches_reference(rng, H, W, OH, OW, dtype, case):
    """max_pool2d_backward adds and max_unpool2d assigns, in output order, bit for bit as the
    reference: indices inside their 2x2 windows or not (a plane of them all inside is written
    in one pass, the others filled and scattered), two outputs on one cell (added, or the last
    wins), signed zeros (0 + -0.0 is +0.0 when added) and NaN."""
    P = 6
    vals = random_array(rng, (P, OH, OW), dtype)
    vals.reshape(-1)[::5] = -0.0
    vals.reshape(-1)[3::7] = np.nan
    idx = tile_indices(rng, P, OH, OW, H, W)
    if case == "one_outside":  # an in-range index in another window, in planes 1 and 4
        idx[1, 0, 0] = idx[4, 0, 0] = H * W - 1
    elif case == "last_row_outside":
        idx[2, -1, -1] = idx[5, -1, -1] = 0
    elif case == "shared_cell":
        idx[3, -1, :] = idx[3, 0, 0]
    elif case == "lane_outside":  # in the next window's tile, from a middle lane
        j = min(5, OW - 1)
        if 2 * j + 3 < W or j > 0:
            idx[1, OH // 2, j] += 2 if 2 * j + 3 < W else -2
        if OW // 2:  # the left neighbour's last column, on the same row
            idx[4, -1, OW // 2] = idx[4, -1, OW // 2] // W * W + 2 * (OW // 2) - 1
    elif case == "next_row_outside":  # a row further down: W apart, or 2W
        idx[2, 0, -1] = min(idx[2, 0, -1] + 2 * W, H * W - 1)
        idx[5, OH - 1, 0] = max(idx[5, OH - 1, 0] - W, 0)
    shape = (2, 3, H, W)
    g, i = vals.reshape(2, 3, OH, OW), idx.reshape(2, 3, OH, OW)
    assert_identical(cpool.max_pool2d_backward(g, i, shape),
                     _reference.scatter(g, i, shape, accumulate=True))
    assert_identical(cpool.max_unpool2d(g, i, 2, output_size=(H, W)),
                     _reference.scatter(g, i, shape, accumulate=False))


# Signals for the 1-D tiles (1x2 windows at stride 2: planes of one row): rows under and over
# a vector, floor mode (with a spare cell when odd) and ceil mode (the scatter).
TILE_SIGNALS = [(L, OL) for L in [1, 2, 5, 9, 15, 16, 17, 19, 33, 56, 64, 101]
                for OL in sorted({L // 2, (L + 1) // 2} - {0})]


@pytest.mark.parametrize("L,OL", TILE_SIGNALS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["in_tiles", "one_outside", "last_outside", "shared_cell",
                                  "lane_outside", "past_the_signal"])
def test_scatter_1d_matches_reference(rng, L, OL, dtype, case):
    """max_pool1d_backward adds and max_unpool1d assigns, in output order, bit for bit as the
    reference: indices inside their two-cell windows or not (a signal of them all inside is
    written in one pass, the others filled and scattered), two outputs on one cell, signed
    zeros and NaN; an index one signal length past its window is an error, not a cell of the
    next signal."""
    P = 6
    vals = random_array(rng, (P, OL), dtype)
    vals.reshape(-1)[::5] = -0.0
    vals.reshape(-1)[3::7] = np.nan
    idx = tile_indices(rng, P, 1, OL, 1, L).reshape(P, OL)
    if case == "one_outside":  # an in-range index in another window, in signals 1 and 4
        idx[1, 0] = idx[4, 0] = L - 1
    elif case == "last_outside":
        idx[2, -1] = idx[5, -1] = 0
    elif case == "shared_cell":
        idx[3, :] = idx[3, 0]
    elif case == "lane_outside":  # in a neighbour's window, from a middle lane
        j = min(5, OL - 1)
        if 2 * j + 3 < L or j > 0:
            idx[1, j] += 2 if 2 * j + 3 < L else -2
    shape = (2, 3, L)
    g, i = vals.reshape(2, 3, OL), idx.reshape(2, 3, OL)
    if case == "past_the_signal":  # a "row" further down, W on: outside the signal
        i[1, 2, OL // 2] += L
        with pytest.raises(ValueError, match=rf"= \[0, {L}\); 1 do not"):
            cpool.max_pool1d_backward(g, i, shape)
        with pytest.raises(ValueError, match=rf"= \[0, {L}\); 1 do not"):
            cpool.max_unpool1d(g, i, 2, output_size=(L,))
        return
    planes = (2, 3, 1, L)
    want_added = _reference.scatter(g, i, planes, accumulate=True).reshape(shape)
    want_placed = _reference.scatter(g, i, planes, accumulate=False).reshape(shape)
    for threads in (1, 3):
        assert_identical(cpool.max_pool1d_backward(g, i, shape, num_threads=threads),
                         want_added)
        assert_identical(cpool.max_unpool1d(g, i, 2, output_size=(L,), num_threads=threads),
                         want_placed)
    # The same signals as planes of one row (max_pool2d's (1, 2) windows).
    assert_identical(cpool.max_pool2d_backward(g[:, :, None], i[:, :, None], planes),
                     want_added.reshape(planes))


# Volumes for the 3-D tiles (2x2x2 windows at stride 2): rows under and over a vector, floor
# mode with a spare slice, row or column where a size is odd, and ceil mode (the scatter).
TILE_VOLUMES = [(D, H, W, OD, OH, OW) for D, H, W in [(2, 2, 2), (3, 5, 16), (4, 3, 17),
                                                     (5, 4, 34), (2, 6, 9), (3, 2, 64)]
                for OD in sorted({D // 2, (D + 1) // 2} - {0})
                for OH in sorted({H // 2, (H + 1) // 2} - {0})
                for OW in sorted({W // 2, (W + 1) // 2} - {0})]


@pytest.mark.parametrize("D,H,W,OD,OH,OW", TILE_VOLUMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["in_tiles", "one_outside", "shared_cell", "slice_outside",
                                  "next_row_outside"])
def test_scatter_3d_matches_reference(rng, D, H, W, OD, OH, OW, dtype, case):
    """max_pool3d_backward adds and max_unpool3d assigns, in output order, bit for bit as the
    reference: indices inside their 2x2x2 windows (a volume of them all inside is written in
    one pass, both slices of a window's row a step), or not (filled and scattered): in
    another window, in the slice past their window's, two outputs on one cell; signed zeros
    and NaN."""
    P = 4
    vals = random_array(rng, (P, OD, OH, OW), dtype)
    vals.reshape(-1)[::5] = -0.0
    vals.reshape(-1)[3::7] = np.nan
    od, oh, ow = np.meshgrid(np.arange(OD), np.arange(OH), np.arange(OW), indexing="ij")
    d = np.minimum(2 * od + rng.integers(0, 2, (P, OD, OH, OW)), D - 1)
    h = np.minimum(2 * oh + rng.integers(0, 2, (P, OD, OH, OW)), H - 1)
    w = np.minimum(2 * ow + rng.integers(0, 2, (P, OD, OH, OW)), W - 1)
    idx = ((d * H + h) * W + w).astype(np.int64)
    if case == "one_outside":  # an in-range index in another window
        idx[1, 0, 0, 0] = idx[3, -1, -1, -1] = D * H * W - 1 if OD * OH * OW > 1 else 0
    elif case == "shared_cell":
        idx[2, -1, -1, :] = idx[2, 0, 0, 0]
    elif case == "slice_outside":  # two slices on: the same cell of the next window's slice
        if D >= 3:
            idx[1, 0, OH // 2, min(3, OW - 1)] = min(idx[1, 0, OH // 2, min(3, OW - 1)]
                                                     + 2 * H * W, D * H * W - 1)
    elif case == "next_row_outside":  # a row further down: 2W on, in the same slice
        idx[3, 0, 0, -1] = min(idx[3, 0, 0, -1] + 2 * W, D * H * W - 1)
    shape = (2, 2, D, H, W)
    g, i = vals.reshape(2, 2, OD, OH, OW), idx.reshape(2, 2, OD, OH, OW)
    flat = (2, 2, D, H * W)  # the reference scatters into each volume's flat cells
    assert_identical(cpool.max_pool3d_backward(g, i, shape),
                     _reference.scatter(g, i, flat, accumulate=True).reshape(shape))
    assert_identical(cpool.max_unpool3d(g, i, 2, output_size=(D, H, W)),
                     _reference.scatter(g, i, flat, accumulate=False).reshape(shape))


# Channels-last signals, images and volumes for the lanes' 1x2 (2x2, 2x2x2) tiles: spatial
# sizes, a slice, row or column past the last window where a size is odd (floor mode), ceil
# mode (the scatter); lanes of whole vectors and not (12 float32 lanes: the scatter).
def _tile_outputs(sizes):
    return itertools.product(*(sorted({n // 2, (n + 1) // 2} - {0}) for n in sizes))


TILE_IMAGES = [(sizes, C, outs) for sizes in [(2,), (5,), (17,), (2, 2), (5, 16), (4, 17),
                                              (6, 9), (2, 2, 2),
                                              (3, 5, 16), (4, 3, 9), (5, 2, 4)]
               for C in (8, 12, 24) for outs in _tile_outputs(sizes)]


@pytest.mark.parametrize("sizes,C,outs", TILE_IMAGES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["in_tiles", "one_outside", "shared_cell", "next_row_outside",
                                  "slice_outside", "far_outside"])
def test_channels_last_scatter_matches_reference(rng, sizes, C, outs, dtype, case):
    """Channels-last max_pool1d/2d/3d_backward adds and max_unpool1d/2d/3d assigns, lane by
    lane in output order, bit for bit as the reference on each channel's signal (plane,
    volume): indices inside their 1x2 (2x2, 2x2x2) windows (a block of lanes all inside is
    written in one pass), or not (filled and scattered): in another window, two outputs on
    one cell, a row further down (a signal's: out of range, an error), two slices on, 2^32
    off its cell (an error); signed zeros and NaN in the values; 1 and 3 threads."""
    P, n = 2, len(sizes)
    W, HW = sizes[-1], math.prod(sizes[-2:])
    vals = random_array(rng, (P, *outs, C), dtype)
    vals.reshape(-1)[::5] = -0.0
    vals.reshape(-1)[3::7] = np.nan
    grid = np.meshgrid(*(np.arange(o) for o in outs), indexing="ij")
    cells = [np.minimum(2 * o[..., None] + rng.integers(0, 2, (P, *outs, C)), size - 1)
             for o, size in zip(grid, sizes)]
    idx = np.ravel_multi_index(cells, sizes).astype(np.int64)
    last = math.prod(sizes) - 1
    mid = (1, *(o // 2 for o in outs))
    if case == "one_outside":  # an in-range index in another window
        idx[(1,) + (0,) * n + (C - 1,)] = idx[(0,) + (-1,) * n + (3,)] = \
            last if math.prod(outs) > 1 else 0
    elif case == "shared_cell":
        idx[(1,) + (-1,) * (n - 1) + (slice(None), 5)] = idx[(1,) + (0,) * n + (5,)]
    elif case == "next_row_outside":  # (a signal's next row is past its end)
        at = (0,) + (0,) * (n - 1) + (-1, 7)
        idx[at] = min(idx[at] + 2 * W, last) if n > 1 else idx[at] + W
    elif case == "slice_outside":  # 3-D: two slices on; 2-D: two columns on
        idx[mid + (6,)] = min(idx[mid + (6,)] + (2 * HW if n == 3 else 2), last)
    elif case == "far_outside":
        idx[mid + (6,)] += 2 ** 32
    shape = (P, *sizes, C)
    axes = tuple(range(1, n + 1))
    backward = getattr(cpool, f"max_pool{n}d_backward")
    unpool = getattr(cpool, f"max_unpool{n}d")
    planes = lambda a: np.ascontiguousarray(np.moveaxis(a, -1, 1))  # noqa: E731
    flat = (P, C, sizes[0], math.prod(sizes[1:]))  # the reference's planes: (H, W), (D, H*W)
    for threads in (1, 3):
        if case == "far_outside" or (case == "next_row_outside" and n == 1):
            with pytest.raises(ValueError, match=r"1 do not"):
                backward(vals, idx, shape, axes=axes, num_threads=threads)
            with pytest.raises(ValueError, match=r"1 do not"):
                unpool(vals, idx, 2, output_size=sizes, axes=axes, num_threads=threads)
            continue
        for accumulate in (True, False):
            want = _reference.scatter(planes(vals), planes(idx), flat, accumulate=accumulate)
            want = np.moveaxis(want.reshape(P, C, *sizes), 1, -1)
            got = (backward(vals, idx, shape, axes=axes, num_threads=threads) if accumulate
                   else unpool(vals, idx, 2, output_size=sizes, axes=axes, num_threads=threads))
            assert_identical(got, want)


@pytest.mark.parametrize("W", list(range(2, 36, 2)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["in_tiles", "one_outside", "last_row_outside", "shared_cell",
                                  "no_cell", "far_outside"])
def test_max_gradient_runs_on_over_short_planes(rng, W, dtype, case):
    """max_pool2d(x, 2)'s gradient (and max_unpool2d) over short planes laid back to back
    (H = 2 OH, W = 2 OW, rows of half a vector's outputs to under a vector) goes a task's
    planes as one run of rows, a step a row that reads and writes past its row: bit for bit
    as the reference scatter, with indices in their tiles (signed zeros and NaN among the
    values), or not (the planes filled and scattered): in another window at a row's last
    output, in the task's last row, two outputs on one cell, no cell, 2^32 off (an error).
    Tasks that end inside the planes (1-3 threads), values, indices and results set apart
    or ending at an unreadable page."""
    for shape in [(7, 1, 6, W), (1, 7, 2, W), (3, 5, 8, W)]:
        P, OH, OW = shape[0] * shape[1], shape[2] // 2, W // 2
        vals = random_array(rng, shape[:2] + (OH, OW), dtype)
        vals.reshape(-1)[::5] = -0.0
        vals.reshape(-1)[3::7] = np.nan
        oh, ow = np.meshgrid(np.arange(OH), np.arange(OW), indexing="ij")
        idx = ((2 * oh + rng.integers(0, 2, vals.shape)) * W
               + 2 * ow + rng.integers(0, 2, vals.shape)).astype(np.int64)
        flat = idx.reshape(P, OH, OW)
        if OW == 1 and case != "in_tiles":  # (one window a row: no other in the row)
            continue
        if case == "one_outside":
            flat[P // 2, OH - 1, OW - 1] = 0
        elif case == "last_row_outside":
            flat[-1, -1, -1] = flat[-1, -1, 0]
        elif case == "shared_cell":
            flat[P // 2, OH // 2, -1] = flat[P // 2, OH // 2, 0]
        elif case == "no_cell":
            flat[P - 1, 0, OW // 2] = -1
        elif case == "far_outside":
            flat[P // 2, OH - 1, OW - 1] += 2 ** 32
        for threads in (1, 2, 3):
            if case == "far_outside":
                with pytest.raises(ValueError, match=r"1 do not"):
                    cpool.max_pool2d_backward(vals, idx, shape, num_threads=threads)
                continue
            for accumulate in (True, False):
                want = _reference.scatter(vals, idx, shape, accumulate=accumulate)
                for v, i in ((vals, idx), (planes_apart(vals), at_page_end(idx)),
                             (at_page_end(vals), planes_apart(idx))):
                    out = at_page_end(np.full(shape, np.nan, dtype))
                    got = (cpool.max_pool2d_backward(v, i, shape, out=out, num_threads=threads)
                           if accumulate else
                           cpool.max_unpool2d(v, i, 2, output_size=shape[-2:], out=out,
                                              num_threads=threads))
                    assert got is out
                    assert_identical(got, want)


@pytest.mark.parametrize("spatial", [(75,), (5, 7, 37)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels_last", [False, True])
def test_max_gradient_in_tiles_from_the_forward(rng, spatial, dtype, channels_last):
    """The 1-D k2 s2 and 3-D 2x2x2 gradients from max_pool1d's and max_pool3d's own indices
    (every signal or volume in its windows: the one-pass tiles, of planes or of channels-last
    lanes) equal the reference scatter, with ties, zeros of both signs and NaN in the input,
    and a cell (a slice, a row and a column) past the last window."""
    n = len(spatial)
    x = random_array(rng, (2, 8) + spatial, dtype)
    x.reshape(-1)[::11] = 0.0
    x.reshape(-1)[5::13] = -0.0
    x.reshape(-1)[7::29] = np.nan
    if channels_last:  # (2, *spatial, 8): the same values, channels last
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    axes = tuple(range(1, n + 1)) if channels_last else tuple(range(-n, 0))
    y, idx = getattr(cpool, f"max_pool{n}d")(x, 2, return_indices=True, axes=axes)

    def planes(a):  # the reference's layout: channels before the spatial axes
        return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if channels_last else a

    # (The reference's planes of one row hold each signal or volume, flat indices alike.)
    want = _reference.scatter(planes(y), planes(idx),
                              (2, 8, 1, math.prod(spatial))).reshape((2, 8) + spatial)
    if channels_last:
        want = np.moveaxis(want, 1, -1)
    for threads in (1, 3):
        assert_identical(getattr(cpool, f"max_pool{n}d_backward")(
            y, idx, x.shape, axes=axes, num_threads=threads), want)


@pytest.mark.parametrize("axes", [(-2, -1), (1, 2)])
def test_scatter_of_no_outputs_into_wide_rows(axes):
    """A gradient with no outputs (no rows) into an input whose shape the 2x2 tiles would
    take (rows of a vector's outputs and more, two rows): zeros, and nothing of the empty
    indices read (the tiles' first-row check skipped; the sanitizer job would see the read)."""
    shape = (1, 1, 2, 16) if axes == (-2, -1) else (1, 2, 16, 8)
    grad_shape = (1, 1, 0, 8) if axes == (-2, -1) else (1, 0, 8, 8)
    g, i = np.zeros(grad_shape, np.float32), np.zeros(grad_shape, np.int64)
    assert_identical(cpool.max_pool2d_backward(g, i, shape, axes=axes),
                     np.zeros(shape, np.float32))


def test_scatter_rejects_indices_out_of_range(rng):
    """Any index outside the plane is an error but -1, a max window's "no cell", which sends
    nothing."""
    y, idx = cpool.max_pool2d(random_array(rng, (2, 3, 8, 8), np.float32), 2, return_indices=True)
    idx[1, 2, 3, 3] = 64
    idx[0, 0, 0, 0] = -2
    idx[0, 0, 0, 1] = -1
    with pytest.raises(ValueError, match=r"`indices` must lie in \[0, H\*W\) = \[0, 64\); 2 do not"):
        cpool.max_pool2d_backward(y, idx, (2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"`indices` must lie in .*; 2 do not"):
        cpool.max_pool2d_backward(y, idx, (2, 3, 8, 8), axes=(-2, -1), num_threads=3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [2 ** 32, -2 ** 32, 2 ** 33 + 1, -(2 ** 63)])
def test_tile_indices_far_outside_are_errors(rng, dtype, offset):
    """An index off its 2x2 tile's cell by a multiple of 2^32 (the float tiles compare the
    indices' low halves) is reported as out of range, from any lane."""
    x = random_array(rng, (2, 3, 8, 40), dtype)
    y, idx = cpool.max_pool2d(x, 2, return_indices=True)
    for p, (r, c) in enumerate([(0, 0), (1, 7), (3, 19), (2, 12), (3, 8), (0, 13)]):
        bad = idx.copy()
        bad.reshape(6, 4, 20)[p, r, c] = (int(bad.reshape(6, 4, 20)[p, r, c]) + offset
                                          if offset != -(2 ** 63) else offset)
        with pytest.raises(ValueError, match=r"= \[0, 320\); 1 do not"):
            cpool.max_pool2d_backward(y, bad, x.shape)
        with pytest.raises(ValueError, match=r"= \[0, 320\); 1 do not"):
            cpool.max_unpool2d(y, bad, 2)


# ------------------------------------------------------------------------------ window sums
# 2x2 stride-2 tilings (floor and ceil, even and odd sizes) take the one-pass tiling path,
# stride-1 windows (with padding, 'same' included) the gather path, the rest of the grid
# (dilation, strides above 1, partial windows) the row-buffer kernel.
WINDOW_SUM_SHAPES = [(2, 3, 1, 1), (2, 3, 2, 2), (3, 1, 5, 5), (2, 2, 6, 7), (2, 2, 7, 6),
                     (1, 2, 8, 9)]
WINDOW_SUM_CASES = [
    (shape, k, s, p, d, c, op)
    for k, s, p, d, c in ([(2, 2, 0, 1, False), (2, 2, 0, 1, True), (2, None, 0, 1, False)]
                          + [(3, 1, 1, 1, False), (4, 1, 2, 1, True), ((3, 2), 1, (1, 0), 1, False),
                             (2, 1, "same", 1, False), (4, 1, "same", 1, False),
                             ((2, 5), 1, "same", 1, False), (3, 1, "valid", 1, False)]
                          + window_grid()[::7])
    for shape in WINDOW_SUM_SHAPES if fits(shape, k, s, p, d, c)
    for op in (["sum", "avg", "avg_no_pad", "avg_override"] if d == 1 else ["sum"])]


@pytest.mark.parametrize("shape,k,s,p,d,c,op", WINDOW_SUM_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_window_backward_matches_reference(rng, shape, k, s, p, d, c, op, dtype):
    avg = {"sum": None, "avg": (True, None), "avg_no_pad": (False, None), "avg_override": (True, 3)}[op]
    gshape = _reference.sum_pool2d(np.zeros(shape), k, s, p, d, c).shape
    grad = random_array(rng, gshape, dtype)
    want = _reference.window_sum_backward(grad, shape, k, s, p, d, c, avg)
    out = np.full(shape, np.nan, dtype)  # every cell must be written, uncovered ones with 0
    if avg is None:
        got = cpool.sum_pool2d_backward(grad, shape, k, s, p, d, c, out=out)
    else:
        got = cpool.avg_pool2d_backward(grad, shape, k, s, p, c, *avg, out=out)
    assert got is out
    kk, ss, dd = np.broadcast_to(k, 2), np.broadcast_to(k if s is None else s, 2), np.broadcast_to(d, 2)
    if np.all(ss >= (kk - 1) * dd + 1):  # windows do not overlap: one write per cell, exact
        assert_identical(got, want)
    else:  # overlapping windows add in another order
        np.testing.assert_allclose(got, want, *tolerance(dtype, want))


@pytest.mark.parametrize("W", list(range(2, 42)) + [64, 65])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_2x2_spread_every_row_width(rng, W, dtype):
    # The 2x2 stride-2 spread writes vectors of 2 or 4 gradients as pairs, the last vector
    # overlapping the one before: every output count from 1 to 20 and 32, odd widths (a
    # column no window covers), sums, averages (exact reciprocals) and a divisor of 3 (a
    # division), bit for bit against the reference.
    shape = (2, 3, 5, W)
    gshape = _reference.sum_pool2d(np.zeros(shape), 2, 2, 0, 1, False).shape
    grad = random_array(rng, gshape, dtype)
    for avg in (None, (True, None), (True, 3)):
        want = _reference.window_sum_backward(grad, shape, 2, 2, 0, 1, False, avg)
        out = np.full(shape, np.nan, dtype)
        if avg is None:
            got = cpool.sum_pool2d_backward(grad, shape, 2, out=out)
        else:
            got = cpool.avg_pool2d_backward(grad, shape, 2, 2, 0, False, *avg, out=out)
        assert_identical(got, want)


@pytest.mark.parametrize("W", list(range(2, 42, 2)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_2x2_spread_runs_on_over_planes(rng, W, dtype):
    # Gradients of 2x2 tilings of short planes laid back to back (rows of up to 32 values)
    # are spread as one run of rows per task, each gradient row in whole vectors whose last
    # one writes past its two input rows into the next ones, which are written after it;
    # the last row of a task goes exactly. Bit for bit against the reference: sums,
    # averages (exact reciprocals) and a divisor of 3 (a division); adaptive averages
    # against their planes a task each (and near the reference); tasks that end inside a
    # plane (1-3 threads over 7 planes), gradients whose planes or rows are set apart, and
    # gradients and results that end at an unreadable page.
    for shape in [(7, 1, 6, W), (1, 7, 2, W), (3, 5, 8, W)]:
        gshape = shape[:2] + (shape[2] // 2, W // 2)
        grad = random_array(rng, gshape, dtype)
        grad.flat[::11] = -0.0
        for avg in (None, (True, None), (True, 3), "adaptive"):
            if avg == "adaptive":  # (to one cell, W = 2: the global op's gradient)
                def backward(g, **kw):
                    return cpool.adaptive_avg_pool2d_backward(g, shape, **kw)
                want = backward(planes_apart(grad))  # a plane a task
                np.testing.assert_allclose(want, _reference.adaptive_backward_nd(grad, shape, 2),
                                           *tolerance(dtype, want))
            else:
                want = _reference.window_sum_backward(grad, shape, 2, 2, 0, 1, False, avg)

                def backward(g, **kw):
                    if avg is None:
                        return cpool.sum_pool2d_backward(g, shape, 2, **kw)
                    return cpool.avg_pool2d_backward(g, shape, 2, 2, 0, False, *avg, **kw)
            for g in (grad, planes_apart(grad), rows_apart(grad), at_page_end(grad)):
                for threads in (1, 2, 3):
                    out = at_page_end(np.full(shape, np.nan, dtype))
                    assert backward(g, out=out, num_threads=threads) is out
                    assert_identical(out, want)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("W", SAME_3X3_WIDTHS)
@pytest.mark.parametrize("H", SAME_3X3_HEIGHTS)
@pytest.mark.parametrize("mode", SAME_3X3_MODES)
def test_same_3x3_backward_bitwise(rng, dtype, W, H, mode):
    # The gradient of the "same" 3x3 at stride 1 (padding 1 both ways) is the forward's
    # same-3x3 sums over the gradients over their divisors, as its windows are symmetric: a
    # plane a call of the forward's AVX2 kernel from a vector's width on, the ring gather
    # under it (and in the baseline build, which test_kernel_builds compares). Both add in
    # the kernels' order, bit for bit: every row width around the vector steps, the planes'
    # edge rows, each divisor kind; -0s (a window of them sums to +0), an inf and a NaN.
    g = same_3x3_planes(rng, H, W, dtype)
    avg = same_3x3_mode(mode)
    if avg is None:
        def backward(**kw):
            return cpool.sum_pool2d_backward(g, g.shape, 3, 1, 1, **kw)
        divided = g
    else:
        def backward(**kw):
            return cpool.avg_pool2d_backward(g, g.shape, 3, 1, 1, count_include_pad=avg[0],
                                             divisor_override=avg[1], **kw)
        # autograd's grad / divisor, then added to zeros
        divided = g / _reference.same_3x3_divisors(H, W, *avg, dtype) + dtype(0)
    out = np.full(g.shape, np.nan, dtype)  # every cell written
    got = backward(out=out)
    assert got is out
    assert_identical(got, _reference.same_3x3_in_kernel_order(divided, None))
    for n in (2, 3):  # each thread makes its buffers' edges and divisors on its first plane
        assert_identical(backward(num_threads=n), got)


# ------------------------------------------------------------------------------------ contracts
@pytest.mark.parametrize("name", ["max", "avg", "sum", "global_max", "global_avg", "unpool"])
def test_backward_thread_invariant_and_out(rng, name):
    x = random_array(rng, (4, 16, 66, 70), np.float32)
    y, idx = cpool.max_pool2d(x, 3, 2, 1, return_indices=True)
    m, midx = cpool.global_max_pool2d(x, return_indices=True)
    calls = {
        "max": lambda **kw: cpool.max_pool2d_backward(y, idx, x.shape, **kw),
        "avg": lambda **kw: cpool.avg_pool2d_backward(y, x.shape, 3, 2, 1, **kw),
        "sum": lambda **kw: cpool.sum_pool2d_backward(y, x.shape, 3, 2, 1, **kw),
        "global_max": lambda **kw: cpool.global_max_pool2d_backward(m, midx, x.shape, **kw),
        "global_avg": lambda **kw: cpool.global_avg_pool2d_backward(m, x.shape, **kw),
        "unpool": lambda **kw: cpool.max_unpool2d(y, idx, 3, 2, 1, output_size=x.shape[-2:], **kw),
    }
    call = calls[name]
    one = call(num_threads=1)
    assert one.shape == x.shape and one.dtype == np.float32
    for n in (2, 3, 8):
        assert_identical(call(num_threads=n), one)
    out = np.full(x.shape, 7, np.float32)
    assert call(out=out) is out
    assert_identical(out, one)


def _backward_calls(x):
    """Every gradient op (and max_unpool2d) on x's forward results, as f(grad, idx, **kw)."""
    return {
        "max": lambda g, i, **kw: cpool.max_pool2d_backward(g, i, x.shape, **kw),
        "stochastic": lambda g, i, **kw: cpool.stochastic_pool2d_backward(g, i, x.shape, **kw),
        "unpool": lambda g, i, **kw: cpool.max_unpool2d(g, i, 2, output_size=x.shape, **kw),
        "avg": lambda g, i, **kw: cpool.avg_pool2d_backward(g, x.shape, 2, **kw),
        "sum": lambda g, i, **kw: cpool.sum_pool2d_backward(g, x.shape, 2, **kw),
    }


def _backward_case(rng, name):
    """(x, y, idx, call, expected): a forward max pooling of x and one backward op on it."""
    x = random_array(rng, (2, 3, 8, 8), np.float64)
    y, idx = cpool.max_pool2d(x, 2, return_indices=True)
    call = _backward_calls(x)[name]
    return x, y, idx, call, call(y, idx)


@pytest.mark.parametrize("name", ["max", "stochastic", "unpool", "avg", "sum"])
def test_inputs_off_the_item_size(rng, name):
    x, y, idx, call, expected = _backward_case(rng, name)
    for layout in odd_layouts(y).values():
        assert_identical(call(layout, idx), expected)
    for layout in odd_layouts(idx).values():
        assert_identical(call(y, layout), expected)
    out = misaligned_copy(np.full(x.shape, 7.0))
    assert call(y, idx, out=out) is out
    assert_identical(out, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["max", "stochastic", "unpool", "avg", "sum"])
def test_reads_and_writes_stay_inside_the_arrays(rng, name, dtype):
    """Gradients, indices and results (``out``) that end where a page that cannot be touched
    begins, on planes the vector paths take: a kernel that reads past an input's last value
    or writes past its result's crashes here (on NumPy's arrays only a sanitizer sees it).
    With the "same" 3x3's gradient and the global gradients beside the 2x2 windows'."""
    for shape in [(2, 3, 16, 64), (1, 2, 28, 28), (1, 1, 6, 34)]:
        x = random_array(rng, shape, dtype)
        y, idx = cpool.max_pool2d(x, 2, return_indices=True)
        call = _backward_calls(x)[name]
        expected = call(y, idx)
        assert_identical(call(at_page_end(y), at_page_end(idx)), expected)
        assert_identical(call(y, idx, out=at_page_end(np.zeros_like(expected))), expected)
    same = rng.standard_normal(shape).astype(dtype)
    expected = cpool.avg_pool2d_backward(same, shape, 3, 1, 1)
    assert_identical(cpool.avg_pool2d_backward(at_page_end(same), shape, 3, 1, 1,
                                               out=at_page_end(np.zeros_like(expected))),
                     expected)
    g, i = cpool.global_max_pool2d(x, return_indices=True)
    i = at_page_end(i)
    for backward in (lambda g, **kw: cpool.global_max_pool2d_backward(g, i, shape, **kw),
                     lambda g, **kw: cpool.global_avg_pool2d_backward(g, shape, **kw)):
        expected = backward(g)
        assert_identical(backward(at_page_end(g), out=at_page_end(np.zeros_like(expected))),
                         expected)


@pytest.mark.parametrize("name", ["max", "stochastic", "unpool", "avg", "sum"])
def test_out_sharing_memory_with_an_input_gives_the_fresh_answer(rng, name):
    # The kernel writes a temporary when `out` may share memory with `grad_output` or
    # `indices`; it used to scatter into the indices it was reading.
    x, y, idx, call, expected = _backward_case(rng, name)
    n = y.size
    for start in (0, n // 2, n):  # out over the indices, straddling them, right after them
        buf = np.zeros(5 * n, np.int64)
        buf[start:start + n] = idx.ravel()
        i = buf[start:start + n].reshape(idx.shape)
        out = buf[:4 * n].view(np.float64).reshape(x.shape)
        res = call(y, i, out=out)
        assert res is out
        assert_identical(res, expected)
        gbuf = np.zeros(5 * n)
        gbuf[start:start + n] = y.ravel()
        out = gbuf[:4 * n].reshape(x.shape)
        assert_identical(call(gbuf[start:start + n].reshape(y.shape), idx, out=out), expected)


def _scatters(n, axes):
    """(name, gradient of a float16 forward) of every scatter over ``n`` spatial axes: each a
    function of the forward's input, its values' dtype and keyword arguments."""
    d = f"{n}d"
    max_pool = getattr(cpool, f"max_pool{d}")
    backward = getattr(cpool, f"max_pool{d}_backward")
    global_max = getattr(cpool, f"global_max_pool{d}")
    global_backward = getattr(cpool, f"global_max_pool{d}_backward")
    kw = {} if axes is None else {"axes": axes}

    def max_grad(x, dtype, **k):
        y, i = max_pool(x, 2, return_indices=True, **kw)
        return backward(y.astype(dtype), i, x.shape, **kw, **k)

    def global_grad(x, dtype, **k):
        y, i = global_max(x, return_indices=True, **kw)
        return global_backward(y.astype(dtype), i, x.shape, **kw, **k)

    def fill_grad(op):
        def grad(x, dtype, **k):
            y = getattr(cpool, f"global_{op}_pool{d}")(x, **kw)
            return getattr(cpool, f"global_{op}_pool{d}_backward")(y.astype(dtype), x.shape,
                                                                   **kw, **k)
        return grad

    cases = [("max backward", max_grad), ("global max backward", global_grad),
             ("global avg backward", fill_grad("avg")), ("global sum backward", fill_grad("sum"))]
    # The spreads: one kernel call over the planes (3-D: two, through slices).
    def spread(op, *args, **opts):
        def grad(x, dtype, **k):
            y = getattr(cpool, f"{op}_pool{d}")(x, *args, **opts, **kw)
            return getattr(cpool, f"{op}_pool{d}_backward")(y.astype(dtype), x.shape, *args,
                                                            **opts, **kw, **k)
        return grad

    cases += [("avg backward", spread("avg", 2)),
              ("avg 3 s1 p1 backward, no pad count", spread("avg", 3, 1, 1,
                                                            count_include_pad=False)),
              ("sum backward", spread("sum", 3, 2))]
    if n == 2:
        def unpool(x, dtype, **k):
            y, i = max_pool(x, 2, return_indices=True, **kw)
            return cpool.max_unpool2d(y.astype(dtype), i, 2, **kw, **k)

        def stochastic_grad(x, dtype, **k):
            y, i = cpool.stochastic_pool2d(np.abs(x), 2, return_indices=True, seed=3, **kw)
            return cpool.stochastic_pool2d_backward(y.astype(dtype), i, x.shape, **kw, **k)

        cases += [("max_unpool2d", unpool), ("stochastic backward", stochastic_grad)]
    return cases


SPREADS = ("avg backward", "avg 3 s1 p1 backward, no pad count", "sum backward")


@pytest.mark.parametrize("units", [0, 2.5], ids=["a plane a slab", "uneven slabs"])
@pytest.mark.parametrize("n, shape, axes", [
    (1, (3, 5, 34), None),
    (2, (3, 5, 10, 12), None),
    (2, (3, 10, 12, 6), (1, 2)),           # channels-last: slabs of whole images
    (3, (3, 2, 4, 6, 8), None),
])
def test_float16_gradients_by_slabs_are_whole_gradients(rng, monkeypatch, units, n, shape,
                                                        axes):
    """A gradient into a new float16 result (the scatters, the global fills, the spreads)
    goes a slab of planes (images, volumes) at a time (_validation.gradient_by_slabs: each
    slab into a float32 buffer, then narrowed): the bits of the float32 gradient narrowed, at
    one thread and at three; a bad index is still an error; a caller's ``out`` is scattered
    whole, and a bad index leaves it as it was."""
    from cpool import _validation
    first = len(shape) - n if axes is None else axes[0]
    monkeypatch.setattr(_validation, "_SLAB_BYTES",
                        int(units * 4 * math.prod(shape[first:])) or 4)
    monkeypatch.setattr(_validation, "_WHOLE_COPY_BYTES", 0)  # slabs at any thread count
    slabbed = []
    real = _validation.gradient_by_slabs
    monkeypatch.setattr(_validation, "gradient_by_slabs",
                        lambda plan, *a: (slabbed.append(plan.slab), real(plan, *a))[1])
    x = (rng.standard_normal(shape) * 300).astype(np.float16)
    for name, grad in _scatters(n, axes):
        for threads in (1, 3):
            slabbed.clear()
            got = grad(x, np.float16, num_threads=threads)
            # (Channels-last results: the scatters and fills, which write them in place; the
            # spreads write planes moved last through a whole temporary.)
            assert slabbed or (axes is not None and name in SPREADS), name
            expected = grad(x, np.float32, num_threads=threads).astype(np.float16)
            assert_identical(got, expected)
    y, i = getattr(cpool, f"max_pool{n}d")(x, 2, return_indices=True,
                                            **({} if axes is None else {"axes": axes}))
    backward = getattr(cpool, f"max_pool{n}d_backward")
    kw = {} if axes is None else {"axes": axes}
    i[-1].flat[-1] = 10 ** 6  # in the last slab
    with pytest.raises(ValueError, match="`indices` must lie in"):
        backward(y, i, x.shape, **kw)
    out = np.full(x.shape, np.float16(5))
    slabbed.clear()
    with pytest.raises(ValueError, match="`indices` must lie in"):
        backward(y, i, x.shape, out=out, **kw)
    assert not slabbed and (out == 5).all()


def test_float16_max_gradient_is_added_in_float32():
    """Twelve outputs whose indices share one cell, their partial sums reaching 11 for a
    total near 1.37 (CI's fuzz drew it: a (5, 4) window dilated (1, 2) with 'same' padding
    on a 5 x 8 plane): the cell is their float32 sum in output order, rounded once to float16.
    A float16 sum, rounded at every step, ends at 1.377 instead."""
    g = np.array([[2.195, 4.355, -3.65, 5.793], [2.426, -5.465, 1.675, -1.657],
                  [4.633, -1.02, -4.367, -3.553]], np.float16)
    total = np.float32(0)
    for v in g.ravel().astype(np.float32):
        total = np.float32(total + v)
    want = np.zeros(40, np.float16)
    want[20] = np.float16(total)
    for threads in (1, 2):
        got = cpool.max_pool2d_backward(g, np.full(g.shape, 20), (5, 8), num_threads=threads)
        assert got.dtype == np.float16
        assert_identical(got.ravel(), want)


def test_big_endian_float16_gradients(rng):
    x = random_array(rng, (2, 3, 8, 8), np.float16)
    y, idx = cpool.max_pool2d(x, 2, return_indices=True)
    for call in _backward_calls(x).values():
        assert_identical(call(y.astype(">f2"), idx), call(y, idx))
    assert_identical(cpool.global_avg_pool2d_backward(y[..., 0, 0].astype(">f2"), x.shape),
                     cpool.global_avg_pool2d_backward(y[..., 0, 0], x.shape))


def test_float16_and_layouts(rng):
    x = random_array(rng, (2, 3, 8, 8), np.float64)
    y, idx = cpool.max_pool2d(x, 2, return_indices=True)
    base = cpool.max_pool2d_backward(y, idx, x.shape)
    assert_identical(cpool.max_pool2d_backward(np.asfortranarray(y), idx[..., ::1], list(x.shape)), base)
    assert_identical(cpool.max_pool2d_backward(y.astype(">f8"), idx.astype(np.int32), x.shape), base)
    half = cpool.avg_pool2d_backward(y.astype(np.float16), x.shape, 2)
    assert half.dtype == np.float16
    empty = cpool.max_pool2d_backward(np.zeros((0, 3, 4, 4)), np.zeros((0, 3, 4, 4), np.int64), (0, 3, 8, 8))
    assert empty.shape == (0, 3, 8, 8)


def test_errors(rng):
    x = random_array(rng, (2, 3, 8, 8), np.float32)
    y, idx = cpool.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(ValueError, match=r"^max_pool2d_backward: `indices` must have the shape of `grad_output`"):
        cpool.max_pool2d_backward(y, idx[..., :2], x.shape)
    with pytest.raises(ValueError, match=r"`indices` must lie in \[0, H\*W\) = \[0, 64\); 1 do not"):
        bad = idx.copy()
        bad[1, 2, 3, 3] = 64
        cpool.max_pool2d_backward(y, bad, x.shape)
    with pytest.raises(ValueError, match=r"`indices` must lie in"):
        bad = idx.copy()
        bad[0, 0, 0, 0] = -3
        cpool.max_unpool2d(y, bad, 2)
    with pytest.raises(ValueError, match=r"the axes other than \(H, W\) \(2, 3\) must be equal"):
        cpool.max_pool2d_backward(y, idx, (3, 3, 8, 8))
    with pytest.raises(TypeError, match=r"`indices` must have an integer dtype, got float32"):
        cpool.max_pool2d_backward(y, idx.astype(np.float32), x.shape)
    with pytest.raises(TypeError, match=r"`grad_output` must have a floating dtype \(float16/32/64\), got int64"):
        cpool.max_pool2d_backward(idx, idx, x.shape)
    with pytest.raises(ValueError, match=r"^avg_pool2d_backward: `grad_output` must have shape \(2, 3, 4, 4\), got \(2, 3, 5, 4\)"):
        cpool.avg_pool2d_backward(np.zeros((2, 3, 5, 4)), x.shape, 2)
    with pytest.raises(ValueError, match=r"^sum_pool2d_backward: `grad_output` must have shape \(2, 3, 7, 7\)"):
        cpool.sum_pool2d_backward(y, x.shape, 2, stride=1)
    with pytest.raises(ValueError, match=r"`input_shape` must have at least 2 dimensions"):
        cpool.avg_pool2d_backward(y, (8,), 2)
    with pytest.raises(TypeError, match=r"`input_shape` must be a tuple of ints, got 8"):
        cpool.global_avg_pool2d_backward(y, 8)
    with pytest.raises(TypeError, match=r"^max_pool2d_backward: `input_shape` must be a tuple of ints, got \[1, 1.0\]"):
        cpool.max_pool2d_backward(np.zeros((1, 1)), np.zeros((1, 1), int), [1, 1.0])
    with pytest.raises(TypeError, match=r"`output_size` must be a tuple of ints, got \(8, 8.0\)"):
        cpool.max_unpool2d(y, idx, 2, output_size=(8, 8.0))
    with pytest.raises(ValueError, match=r"^max_pool2d_backward: `grad_output` could not be converted to an array: "
                                         r"setting an array element with a sequence"):
        cpool.max_pool2d_backward([[1.0, 2.0], [3.0]], idx, x.shape)
    with pytest.raises(ValueError, match=r"^max_unpool2d: `indices` could not be converted to an array"):
        cpool.max_unpool2d(y[0, 0, :1, :2], [[1], [2, 3]], 2)
    with pytest.raises(ValueError, match=r"^global_sum_pool2d_backward: `grad_output` must have shape \(2, 3\) or \(2, 3, 1, 1\)"):
        cpool.global_sum_pool2d_backward(y, x.shape)
    with pytest.raises(ValueError, match=r"`output_size` \(12, 8\) must lie within `stride` \(2, 2\) of the default size \(8, 8\)"):
        cpool.max_unpool2d(y, idx, 2, output_size=(12, 8))
    with pytest.raises(ValueError, match=r"`output_size` must be \(H, W\) or the full output shape"):
        cpool.max_unpool2d(y, idx, 2, output_size=(8,))
    with pytest.raises(ValueError, match=r"`divisor_override` must not be zero"):
        cpool.avg_pool2d_backward(y, x.shape, 2, divisor_override=0)
    with pytest.raises(ValueError, match=r"`out` must have shape \(2, 3, 8, 8\)"):
        cpool.max_pool2d_backward(y, idx, x.shape, out=np.empty((2, 3, 8, 7), np.float32))


@pytest.mark.parametrize("name", ["avg_pool1d_backward", "sum_pool1d_backward",
                                  "avg_pool2d_backward", "sum_pool2d_backward",
                                  "avg_pool3d_backward", "sum_pool3d_backward"])
def test_a_huge_input_shape_is_checked_against_grad_output_first(name):
    # The per-window arrays follow the output's size, which `input_shape` sets: a gradient
    # that cannot match it is an error before they are made (they were: 384 MB here).
    n = int(name[-11])  # the 1, 2 or 3 of "..._pool2d_backward"
    shape = (1, 1) + (1 << (24 if n < 3 else 19),) * n  # (3-D: under the element limit)
    grad = np.ones((1, 1) + (4,) * n, np.float32)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=rf"^{name}: `grad_output` must have shape"):
            getattr(cpool, name)(grad, shape, 2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("name", [n for n in dir(cpool) if n.endswith("_backward")
                                  and "input_shape" in inspect.signature(getattr(cpool, n)).parameters])
def test_an_input_shape_no_array_can_hold_names_it(name):
    # Past sys.maxsize bytes NumPy says "array is too big" without naming the argument.
    op = getattr(cpool, name)
    n = 3 if "3d" in name else 1 if "1d" in name else 2
    shape = (2, 3) + (1 << (64 // n),) * n
    kwargs = {"input_shape": shape}
    params = inspect.signature(op).parameters
    grad = np.ones((2, 3) if "global" in name else (2, 3) + (2,) * n, np.float32)
    if "indices" in params:
        kwargs["indices"] = np.zeros(grad.shape, np.int64)
    for key, value in (("kernel_size", 2), ("output_size", 2)):
        if key in params and params[key].default is inspect.Parameter.empty:
            kwargs[key] = value
    with pytest.raises(ValueError, match=rf"^{name}: `input_shape` \(2, 3, .*\) is too large"):
        op(grad, **kwargs)


@pytest.mark.parametrize("k", [3, 4, 5])
@pytest.mark.parametrize("p,c", [(0, False), (1, False), (1, True)])
@pytest.mark.parametrize("shape", [(2, 3, 7, 40), (1, 2, 9, 67)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiling_windows_spread_on_wide_rows(rng, k, p, c, shape, dtype):
    """Windows as wide as their stride (3x3 s3, ...) over rows wider than 32 (the row-buffer
    path, which assigns each gradient to its window's columns a tap at a time): one gradient
    per cell, the sum's gradient bit for bit, the average's to the reference's tolerance."""
    grad_shape = _reference.sum_pool2d(np.zeros(shape), k, k, p, 1, c).shape
    grad = random_array(rng, grad_shape, dtype)
    got = cpool.sum_pool2d_backward(grad, shape, k, k, p, ceil_mode=c)
    assert_identical(got, _reference.window_sum_backward(grad, shape, k, k, p, 1, c, None)
                     .astype(dtype))
    got = cpool.avg_pool2d_backward(grad, shape, k, k, p, c)
    want = _reference.window_sum_backward(grad, shape, k, k, p, 1, c, (True, None))
    np.testing.assert_allclose(got, want, *tolerance(dtype, want))


def _row_buffer_spread(g, H, W, k, s, p):
    """sum_pool2d_backward's row-buffer kernel in NumPy, in its order: per output row, a
    padded row from +0 plus each gradient at its window's columns, a tap at a time; then that
    row assigned to each window row no earlier output row reached, added to the others."""
    P, OH, OW = g.shape
    width = max(p + W, (OW - 1) * s + k)
    out = np.zeros((P, H, W), g.dtype)
    written = 0
    for oh in range(OH):
        buf = np.zeros((P, width), g.dtype)
        for u in range(k):
            buf[:, u:u + s * (OW - 1) + 1:s] += g[:, oh]
        row = buf[:, p:p + W]
        y0, y1 = max(oh * s - p, 0), min(oh * s - p + k, H)
        for y in range(y0, y1):
            out[:, y] = out[:, y] + row if y < written else row
        written = max(written, y1)
    return out


@pytest.mark.parametrize("k,p", [(3, 0), (3, 1), (4, 1), (4, 2), (5, 2), (6, 0), (7, 3)])
@pytest.mark.parametrize("c", [False, True])
@pytest.mark.parametrize("W", [33, 40, 57])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stride2_row_spread_in_the_general_order(rng, k, p, c, W, dtype):
    """Overlapping stride-2 windows over rows wider than 32 (the row-buffer kernel, not the
    small planes side by side): the sum's gradient equals that kernel's order of additions in
    NumPy bit for bit, odd and even kernels, widths and padding, floor and ceil mode; the
    average's is the reference's."""
    shape = (3, 2, 11, W)
    grad = random_array(rng, cpool.sum_pool2d(np.zeros(shape), k, 2, p, ceil_mode=c).shape,
                        dtype)
    got = cpool.sum_pool2d_backward(grad, shape, k, 2, p, ceil_mode=c)
    want = _row_buffer_spread(grad.reshape(6, *grad.shape[2:]), 11, W, k, 2, p)
    assert_identical(got, want.reshape(shape))
    got = cpool.avg_pool2d_backward(grad, shape, k, 2, p, c)
    want = _reference.window_sum_backward(grad, shape, k, 2, p, 1, c, (True, None))
    np.testing.assert_allclose(got, want, *tolerance(dtype, want))


@pytest.mark.parametrize("op,k,s,p,d,c", [(op,) + g for g in window_grid()[::5]
                                            for op in ("sum", "avg", "avg_no_pad")
                                            if op == "sum" or g[3] == 1])
def test_window_backward_general_path(rng, op, k, s, p, d, c):
    # The general path (kernels much wider than the input) spreads each gradient over its
    # window's in-bounds columns: against the reference, and the fast path where windows do not
    # overlap (one write per cell, so the same bits).
    shape = (2, 3, 9, 11)
    if not fits(shape, k, s, p, d, c):
        pytest.skip("empty output")
    avg = None if op == "sum" else (op == "avg", None)
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=c)
    fn = cpool.sum_pool2d_backward if avg is None else cpool.avg_pool2d_backward
    if avg is None:
        kw["dilation"] = d
    else:
        kw["count_include_pad"] = avg[0]
    grad = random_array(rng, _reference.sum_pool2d(np.zeros(shape), k, s, p, d, c).shape, np.float64)
    fast = fn(grad, shape, **kw)
    with general_path():
        got = fn(grad, shape, **kw)
    want = _reference.window_sum_backward(grad, shape, k, s, p, d, c, avg)
    np.testing.assert_allclose(got, want, *tolerance(np.float64, want))
    kk = np.broadcast_to(k, 2)
    ss = kk if s is None else np.broadcast_to(s, 2)
    if np.all(ss >= (kk - 1) * np.broadcast_to(d, 2) + 1):
        assert_identical(got, fast)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_gradient_of_an_empty_batch(n):
    """An empty batch (a Dask stand-in, a filtered-out batch) gives an empty gradient; the 3-D
    average gradients divided an empty gradient by divisors that are not made for it."""
    shape = (0, 2) + (6,) * n
    x = np.zeros(shape, np.float32)
    g = np.zeros((0, 2) + (3,) * n, np.float32)
    i = np.zeros(g.shape, np.int64)
    calls = [
        (f"max_pool{n}d_backward", (g, i, shape)),
        (f"avg_pool{n}d_backward", (g, shape, 2)),
        (f"sum_pool{n}d_backward", (g, shape, 2)),
        (f"adaptive_avg_pool{n}d_backward", (g, shape)),
        (f"adaptive_max_pool{n}d_backward", (g, i, shape)),
        (f"lp_pool{n}d_backward", (g, x, 2, 2)),
        (f"global_avg_pool{n}d_backward", (np.zeros((0, 2), np.float32), shape)),
        (f"global_max_pool{n}d_backward", (np.zeros((0, 2), np.float32),
                                           np.zeros((0, 2), np.int64), shape)),
    ]
    for name, args in calls:
        result = getattr(cpool, name)(*args)
        assert result.shape == shape, name


from hypothesis import given, strategies as st  # noqa: E402


@st.composite
def _gradient_calls(draw):
    """A random float16 gradient call whose result goes by slabs: a scatter, fill or spread
    over 1-3 axes, random windows and layouts (channels-last too), slab size and threads."""
    n = draw(st.sampled_from([1, 2, 3]))
    spatial = tuple(draw(st.lists(st.integers(1, 8), min_size=n, max_size=n)))
    batch = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    channels_last = draw(st.booleans())
    op = draw(st.sampled_from(["max", "avg", "sum", "global max", "global avg"]))
    kernel = tuple(draw(st.integers(1, s)) for s in spatial)
    stride = tuple(draw(st.integers(1, 3)) for _ in spatial)
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    return (n, spatial, batch, channels_last, op, kernel, stride, padding,
            draw(st.booleans()), draw(st.integers(0, 2**32 - 1)),
            draw(st.sampled_from([0, 1, 2.5, 7])), draw(st.sampled_from([1, 2, 3])))


@given(call=_gradient_calls())
def test_gradient_slabs_never_change_an_answer(call):
    """Any float16 gradient written a slab at a time (_validation.gradient_by_slabs) is the
    float32 gradient narrowed, bit for bit, for any geometry, layout, slab size and thread
    count."""
    from cpool import _validation
    (n, spatial, batch, channels_last, op, kernel, stride, padding, ceil_mode, seed,
     slab_units, threads) = call
    rng = np.random.default_rng(seed)
    shape = batch + spatial + ((3,) if channels_last else ())
    axes = tuple(range(len(batch), len(batch) + n))
    x = (rng.standard_normal(shape) * 50).astype(np.float16)
    d = f"{n}d"
    window = dict(stride=stride, padding=padding, ceil_mode=ceil_mode, axes=axes)
    if op == "max":
        y, i = getattr(cpool, f"max_pool{d}")(x, kernel, return_indices=True, **window)

        def grad(g):
            return getattr(cpool, f"max_pool{d}_backward")(g, i, x.shape, axes=axes,
                                                           num_threads=threads)
    elif op in ("avg", "sum"):
        y = getattr(cpool, f"{op}_pool{d}")(x, kernel, **window)

        def grad(g):
            return getattr(cpool, f"{op}_pool{d}_backward")(g, x.shape, kernel,
                                                            num_threads=threads, **window)
    elif op == "global max":
        y, i = getattr(cpool, f"global_max_pool{d}")(x, return_indices=True, axes=axes)

        def grad(g):
            return getattr(cpool, f"global_max_pool{d}_backward")(g, i, x.shape, axes=axes,
                                                                  num_threads=threads)
    else:
        y = getattr(cpool, f"global_avg_pool{d}")(x, axes=axes)

        def grad(g):
            return getattr(cpool, f"global_avg_pool{d}_backward")(g, x.shape, axes=axes,
                                                                  num_threads=threads)
    g = (rng.standard_normal(y.shape) * 10).astype(np.float16)
    expected = grad(g.astype(np.float32)).astype(np.float16)
    unit = 4 * math.prod(shape[len(batch):])
    saved = (_validation._SLAB_BYTES, _validation._WHOLE_COPY_BYTES)
    _validation._SLAB_BYTES = max(1, int(slab_units * unit))
    _validation._WHOLE_COPY_BYTES = 0
    try:
        got = grad(g)
    finally:
        _validation._SLAB_BYTES, _validation._WHOLE_COPY_BYTES = saved
    assert_identical(got, expected)


# A dilated window whose taps all lie in the padding: max gives -inf and the index -1 (no
# cell). PyTorch gives its first tap's position instead, which lies on a cell the window
# never read (here, with one column: the next row's cell) or past the plane, and its backward
# gives that cell the window's gradient or writes past its buffer (PyTorch 2.13: a heap
# corruption, found by a fuzzer of the layers against torch.nn).
NO_CELL_CASES = [  # n, input shape, kernel_size, stride, padding, dilation
    (2, (2, 3, 4, 1), (1, 2), (2, 1), (0, 1), (1, 2)),  # every window empty, all in range
    (2, (1, 2, 1, 5), 2, 1, (1, 0), 2),                 # every window empty, past the plane
    (2, (2, 1, 3, 2), 2, 1, 1, (1, 3)),                 # rows whose every column is empty
    (1, (2, 3, 1), 2, 1, 1, 2),
    (3, (1, 2, 2, 3, 1), (1, 1, 2), (1, 2, 1), (0, 0, 1), (1, 1, 2)),
]


@pytest.mark.parametrize("n, shape, k, s, p, d", NO_CELL_CASES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_windows_with_no_cell_send_no_gradient(rng, n, shape, k, s, p, d, channels_last):
    """The gradient of such a window's output is zero (it is a constant): max_poolNd_backward
    and the max layer's backward send nothing for -1, and max_unpool places nothing; the
    values and the other indices are PyTorch's."""
    x = random_array(rng, shape, np.float64)
    axes = tuple(range(1, 1 + n)) if channels_last else tuple(range(-n, 0))
    xs = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if channels_last else x
    pool = getattr(cpool, f"max_pool{n}d")
    y, idx = pool(xs, k, s, p, d, return_indices=True, axes=axes)
    ry, ridx = _reference.pool_nd(x, n, "max", k, s, p, d, return_indices=True)
    if channels_last:
        y, idx = np.moveaxis(y, -1, 1), np.moveaxis(idx, -1, 1)
    assert_identical((y, idx), (ry, ridx))
    assert (idx == -1).any() and np.isneginf(y[idx == -1]).all()
    g = random_array(rng, y.shape, np.float64)
    gs = np.ascontiguousarray(np.moveaxis(g, 1, -1)) if channels_last else g
    want = _reference.scatter_nd(g, ridx, shape, n)
    for threads in (1, 3):
        got = getattr(cpool, f"max_pool{n}d_backward")(gs, np.moveaxis(idx, 1, -1)
                                                       if channels_last else idx,
                                                       xs.shape, axes=axes, num_threads=threads)
        assert_identical(np.moveaxis(got, -1, 1) if channels_last else got, want)
    layer = getattr(cpool.layers, f"MaxPool{n}d")(k, s, p, d, axes=axes)
    layer(xs)
    got = layer.backward(gs)
    assert_identical(np.moveaxis(got, -1, 1) if channels_last else got, want)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_unpool_places_nothing_for_no_cell(rng, n):
    """max_unpool skips an index -1 (a max window with no cell), as the gradients do."""
    x = random_array(rng, (2, 3) + (4,) * n, np.float32)
    y, idx = getattr(cpool, f"max_pool{n}d")(x, 2, return_indices=True)
    idx = idx.copy()
    idx.reshape(-1)[::5] = -1
    got = getattr(cpool, f"max_unpool{n}d")(y, idx, 2)
    assert_identical(got, _reference.scatter_nd(y, idx, x.shape, n, accumulate=False)
                     .astype(np.float32))
    assert (got.reshape(6, -1) != 0).sum() == (idx.reshape(6, -1) != -1).sum()


@pytest.mark.parametrize("n, shape, k, s, p, d", NO_CELL_CASES)
def test_windows_with_no_cell_match_torch_but_for_the_index(n, shape, k, s, p, d):
    """Values bit for bit PyTorch's; indices PyTorch's but -1 where the window reads no cell."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.random.default_rng(3).standard_normal(shape)
    ty, ti = getattr(F, f"max_pool{n}d")(torch.from_numpy(x), k, s, p, d, return_indices=True)
    y, idx = getattr(cpool, f"max_pool{n}d")(x, k, s, p, d, return_indices=True)
    _, ridx = _reference.pool_nd(x, n, "max", k, s, p, d, return_indices=True)
    assert_identical((y, idx), (ty.numpy(), _reference.no_cell_as_torch_gives(ti.numpy(), ridx)))


# Channels-last window sums' gradients spread in place (window_sum_backward_lanes): windows
# that tile the row, overlap it, reach into padding or past its end (ceil mode), dilated ones
# (zeroed first), rows no window covers, stride-1 windows (gathered); 1, 7 and 20 channels.
LANE_SPREADS = [(2, 2, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True), (2, 3, 0, 1, False),
                (4, 3, 2, 1, True), (3, 2, 0, 2, False), (5, 4, 2, 1, True),
                (5, 2, 2, 1, False),  # (up to three gradients a cell: their order counts)
                # stride 1 (gathered, not spread), into padding rows too (4 x 2 on 11 rows)
                (3, 1, 1, 1, False), (2, 1, 0, 1, False), (5, 1, 2, 1, True), (4, 1, 2, 1, False)]


@pytest.mark.parametrize("k,s,p,d,c", LANE_SPREADS)
@pytest.mark.parametrize("C", [1, 7, 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_channels_last_sum_gradients_spread_in_place(rng, k, s, p, d, c, C, dtype):
    """Sum and average pooling's gradients of channels-last images, 1-D and 2-D, and adaptive
    average pooling's: the planes' bits (the same order of additions per lane; -0 gradients
    land as +0), and the reference's values."""
    shape = (3, 11, 13, C)
    planes = (3, C, 11, 13)
    for avg, call in window_sum_gradients(2, k, s, p, d, c):
        y_shape = _reference.sum_pool2d(np.zeros(planes), k, s, p, d, c).shape
        g = rng.standard_normal(y_shape).astype(dtype)
        g.flat[::7] = -0.0
        want = call(g, planes)
        np.testing.assert_allclose(want.astype(np.float64), _reference.window_sum_backward(
            g.astype(np.float64), planes, k, s, p, d, c, avg), rtol=2e-3 if dtype == np.float16
            else 1e-6, atol=2e-3 if dtype == np.float16 else 1e-6)
        nhwc = np.ascontiguousarray(np.moveaxis(g, 1, -1))
        for threads in (1, 3):
            got = call(nhwc, shape, axes=(1, 2), num_threads=threads)
            assert_identical(np.ascontiguousarray(np.moveaxis(got, -1, 1)), want)
    if d == 1 and not c:  # 1-D: rows of (L, C) pixels
        g1 = rng.standard_normal((3, C, (13 + 2 * p - k) // s + 1)).astype(dtype)
        want = cpool.avg_pool1d_backward(g1, (3, C, 13), k, s, p)
        got = cpool.avg_pool1d_backward(np.ascontiguousarray(np.moveaxis(g1, 1, -1)),
                                        (3, 13, C), k, s, p, axes=(1,))
        assert_identical(np.ascontiguousarray(np.moveaxis(got, -1, 1)), want)
    for out in ((7, 5), (4, 13), (11, 6)):  # adaptive: uneven windows
        ga = rng.standard_normal((3, C) + out).astype(dtype)
        want = cpool.adaptive_avg_pool2d_backward(ga, planes)
        got = cpool.adaptive_avg_pool2d_backward(np.ascontiguousarray(np.moveaxis(ga, 1, -1)),
                                                 shape, axes=(1, 2))
        assert_identical(np.ascontiguousarray(np.moveaxis(got, -1, 1)), want)


@pytest.mark.parametrize("k,s,p,d,c", LANE_SPREADS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_planes_spread_side_by_side(rng, k, s, p, d, c, dtype):
    """Sum and average gradients of batches of small planes are spread side by side (groups
    of planes as channels-last lanes, _backward's _lane_planes_backward): each plane's
    result has the bits it has alone (a single plane takes the planes' own path), and the
    reference's values; whole and short groups, 1-3 threads; adaptive averages' uneven
    windows too."""
    planes = (3, 50, 11, 13)
    y_shape = _reference.sum_pool2d(np.zeros(planes[2:]), k, s, p, d, c).shape
    g = rng.standard_normal(planes[:2] + y_shape).astype(dtype)
    g.flat[::7] = -0.0
    calls = {"sum": lambda gg, shp, **kw: cpool.sum_pool2d_backward(gg, shp, k, s, p, d, c,
                                                                     **kw)}
    if d == 1:
        calls["avg"] = lambda gg, shp, **kw: cpool.avg_pool2d_backward(gg, shp, k, s, p, c,
                                                                       **kw)
        calls["avg, real cells"] = lambda gg, shp, **kw: cpool.avg_pool2d_backward(
            gg, shp, k, s, p, c, False, **kw)
    for name, call in calls.items():
        alone = np.stack([np.stack([call(g[i, j], planes[2:]) for j in range(planes[1])])
                          for i in range(planes[0])])
        for threads in (1, 2, 3):
            assert_identical(call(g, planes, num_threads=threads), alone)
    avg = None if d != 1 else (True, None)
    np.testing.assert_allclose(
        (calls["avg"] if d == 1 else calls["sum"])(g, planes).astype(np.float64),
        _reference.window_sum_backward(g.astype(np.float64), planes, k, s, p, d, c, avg),
        rtol=1e-6, atol=1e-6)
    for out in ((7, 5), (4, 13)):  # adaptive: uneven windows
        ga = rng.standard_normal(planes[:2] + out).astype(dtype)
        alone = np.stack([np.stack([cpool.adaptive_avg_pool2d_backward(ga[i, j], planes[2:])
                                    for j in range(planes[1])]) for i in range(planes[0])])
        for threads in (1, 3):
            assert_identical(cpool.adaptive_avg_pool2d_backward(ga, planes, num_threads=threads),
                             alone)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channels_last_gather_where_windows_outnumber_rows(rng, dtype):
    """Stride-1 windows wider than the plane with padding (4 x 4, padding 2, on 3 x 3; 2,
    padding 1, on a 1-row signal): a row is covered by more windows than any has real rows,
    and the channels-last gather keeps them all (the planes' bits)."""
    for shape, k, p in (((2, 3, 3, 7), 4, 2), ((2, 1, 40, 9), 2, 1), ((1, 2, 5, 16), 3, 1)):
        planes = (shape[0], shape[3], shape[1], shape[2])
        y = cpool.avg_pool2d(np.zeros(planes, dtype), k, 1, p)
        g = rng.standard_normal(y.shape).astype(dtype)
        for call in (lambda gg, shp, **kw: cpool.avg_pool2d_backward(gg, shp, k, 1, p, **kw),
                     lambda gg, shp, **kw: cpool.sum_pool2d_backward(gg, shp, k, 1, p, **kw)):
            want = call(g, planes)
            got = call(np.ascontiguousarray(np.moveaxis(g, 1, -1)), shape, axes=(1, 2))
            assert_identical(np.ascontiguousarray(np.moveaxis(got, -1, 1)), want)

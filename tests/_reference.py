"""Slow, obviously-right NumPy references for every cpool op.

Written from PyTorch's kernels (aten/src/ATen/native/Pool.h, cpu/MaxPoolKernel.cpp,
cpu/AvgPoolKernel.cpp), one output position at a time and vectorised only over the batch
planes (max pooling of large planes also a tap offset at a time over every window, checked
against its window-at-a-time form). Nothing here is shared with cpool, so a geometry bug in
cpool cannot hide in both.
"""
import itertools
import math

import numpy as np


def out_size(n, k, s, pad_before, pad_after, d, ceil_mode):
    """PyTorch's pooling_output_shape, generalised to asymmetric padding."""
    num = n + pad_before + pad_after - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1  # Python's // rounds toward -inf, like div_rtn
    if ceil_mode and (out - 1) * s >= n + pad_before:
        out -= 1
    return out


def same_pads(n, k, s, d, lower=False):
    """TensorFlow's 'same' padding: (before, after), the odd cell after (before if ``lower``,
    ONNX's SAME_LOWER)."""
    out = -(-n // s)
    need = max(0, (out - 1) * s + d * (k - 1) + 1 - n)
    return (need - need // 2, need // 2) if lower else (need // 2, need - need // 2)


def _pairs(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def _pads(padding, H, W, k, s, d):
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding in ("same", "same_lower"):
        lower = padding == "same_lower"
        return same_pads(H, k[0], s[0], d[0], lower), same_pads(W, k[1], s[1], d[1], lower)
    ph, pw = _pairs(padding)
    if not np.isscalar(ph):  # per side: ((top, bottom), (left, right))
        return tuple(ph), tuple(pw)
    return (ph, ph), (pw, pw)


def _geometry(x, kernel_size, stride, padding, dilation, ceil_mode):
    H, W = x.shape[-2:]
    k = _pairs(kernel_size)
    s = k if stride is None else _pairs(stride)
    d = _pairs(dilation)
    (pt, pb), (pl, pr) = _pads(padding, H, W, k, s, d)
    OH = out_size(H, k[0], s[0], pt, pb, d[0], ceil_mode)
    OW = out_size(W, k[1], s[1], pl, pr, d[1], ceil_mode)
    return k, s, d, (pt, pb), (pl, pr), OH, OW


def _taps(o, n, k, s, pad, d):
    """In-bounds input positions of window o, in scan order, and PyTorch's adjusted start."""
    start = o * s - pad
    taps = [start + i * d for i in range(k) if 0 <= start + i * d < n]
    adjusted = start
    while adjusted < 0:
        adjusted += d
    return taps, adjusted


def axis_taps(o, m, k, s, pad_before, d):
    """One axis's tap tables for ``o`` windows over ``m`` cells: each window's tap positions
    ``(o, k)`` (padding included), which of them lie in the input, and the positions clipped
    into it (reads that are always in bounds; a tap outside is masked, never used)."""
    cells = np.arange(o)[:, None] * s - pad_before + np.arange(k)[None, :] * d
    return cells, (0 <= cells) & (cells < m), np.clip(cells, 0, max(m - 1, 0))


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """A tap offset at a time (:func:`max_pool2d_by_tap`): the window-at-a-time scan of
    :func:`max_pool2d_by_window`, checked against it bit for bit by test_max_pool2d, in a few
    NumPy calls per tap where the scan takes a few per cell of every window (on the suite's
    small planes the scan was a tenth of the whole suite's time)."""
    return max_pool2d_by_tap(x, kernel_size, stride, padding, dilation, ceil_mode,
                             return_indices)


def max_pool2d_by_tap(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                      return_indices=False):
    """:func:`max_pool2d_by_window` vectorised over the output positions: the same scan of
    each window's in-bounds taps in row-major order with PyTorch's update rule, one tap offset
    ``(i, j)`` of every window at a time (an out-of-bounds tap never takes)."""
    x = np.asarray(x)
    H, W = x.shape[-2:]
    k, s, d, (pt, _), (pl, _), OH, OW = _geometry(x, kernel_size, stride, padding, dilation,
                                                  ceil_mode)
    planes = x.reshape(-1, H, W)
    rows, rows_in, rows_read = axis_taps(OH, H, k[0], s[0], pt, d[0])  # (OH, kh)
    cols, cols_in, cols_read = axis_taps(OW, W, k[1], s[1], pl, d[1])  # (OW, kw)
    y0 = np.array([_taps(oh, H, k[0], s[0], pt, d[0])[1] for oh in range(OH)], np.int64)
    x0 = np.array([_taps(ow, W, k[1], s[1], pl, d[1])[1] for ow in range(OW)], np.int64)
    m = np.full((planes.shape[0], OH, OW), _lowest(x.dtype), x.dtype)
    # A window with no in-bounds tap (dilated, over padding alone) keeps -1: no cell.
    empty = ~rows_in.any(axis=1)[:, None] | ~cols_in.any(axis=1)[None, :]
    mi = np.broadcast_to(np.where(empty, -1, y0[:, None] * W + x0[None, :]), m.shape).copy()
    for i in range(k[0]):
        y = rows[:, i][:, None]
        for j in range(k[1]):
            xx = cols[:, j][None, :]
            inside = rows_in[:, i][:, None] & cols_in[:, j][None, :]  # (OH, OW)
            v = planes[:, rows_read[:, i][:, None], cols_read[:, j][None, :]]
            take = inside & (((v > m) | np.isnan(v)) if x.dtype.kind == "f" else v > m)
            m = np.where(take, v, m)
            mi = np.where(take, y * W + xx, mi)
    out = m.reshape(x.shape[:-2] + (OH, OW))
    if return_indices:
        return out, mi.reshape(x.shape[:-2] + (OH, OW))
    return out


def max_pool2d_by_window(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                         return_indices=False):
    x = np.asarray(x)
    H, W = x.shape[-2:]
    k, s, d, (pt, _), (pl, _), OH, OW = _geometry(x, kernel_size, stride, padding, dilation,
                                                  ceil_mode)
    lead = x.shape[:-2]
    planes = x.reshape(-1, H, W)
    out = np.empty((planes.shape[0], OH, OW), x.dtype)
    idx = np.empty((planes.shape[0], OH, OW), np.int64)
    for oh in range(OH):
        ys, y0 = _taps(oh, H, k[0], s[0], pt, d[0])
        for ow in range(OW):
            xs, x0 = _taps(ow, W, k[1], s[1], pl, d[1])
            m = np.full(planes.shape[0], _lowest(x.dtype), x.dtype)
            mi = np.full(planes.shape[0], y0 * W + x0 if len(ys) and len(xs) else -1, np.int64)
            for y in ys:  # row-major scan, PyTorch's update rule
                for xx in xs:
                    v = planes[:, y, xx]
                    take = (v > m) | np.isnan(v) if x.dtype.kind == "f" else v > m
                    m = np.where(take, v, m)
                    mi = np.where(take, y * W + xx, mi)
            out[:, oh, ow] = m
            idx[:, oh, ow] = mi
    out = out.reshape(lead + (OH, OW))
    if return_indices:
        return out, idx.reshape(lead + (OH, OW))
    return out


def _window_cells(H, W, k, s, d, pads_h, pads_w, OH, OW):
    """Every (oh, ow, y, x): a cell (y, x) of the input inside output (oh, ow)'s window, outputs
    in row-major order, each window's cells in scan order."""
    for oh in range(OH):
        ys, _ = _taps(oh, H, k[0], s[0], pads_h[0], d[0])
        for ow in range(OW):
            xs, _ = _taps(ow, W, k[1], s[1], pads_w[0], d[1])
            for y in ys:
                for xx in xs:
                    yield oh, ow, y, xx


def window_sums_by_cell(x, k, s, d, pads_h, pads_w, OH, OW, acc_dtype):
    """Each window's real cells added in scan order, one cell of one window at a time."""
    H, W = x.shape[-2:]
    planes = x.reshape(-1, H, W).astype(acc_dtype)
    sums = np.zeros((planes.shape[0], OH, OW), acc_dtype)
    for oh, ow, y, xx in _window_cells(H, W, k, s, d, pads_h, pads_w, OH, OW):
        sums[:, oh, ow] += planes[:, y, xx]
    return sums


def window_sums_by_tap(x, k, s, d, pads_h, pads_w, OH, OW, acc_dtype):
    """:func:`window_sums_by_cell` vectorised over the windows: tap offset ``(i, j)`` of every
    window at a time, in the same scan order, an out-of-bounds tap adding an exact zero (a sum
    starts at +0, and +0 added to any value leaves its bits), so the same bits (checked by
    test_sum_pool2d)."""
    H, W = x.shape[-2:]
    planes = x.reshape(-1, H, W).astype(acc_dtype)
    sums = np.zeros((planes.shape[0], OH, OW), acc_dtype)
    if H == 0 or W == 0:  # no real cell
        return sums
    _, rows_in, rows_read = axis_taps(OH, H, k[0], s[0], pads_h[0], d[0])
    _, cols_in, cols_read = axis_taps(OW, W, k[1], s[1], pads_w[0], d[1])
    zero = acc_dtype(0)
    for i in range(k[0]):
        for j in range(k[1]):
            inside = rows_in[:, i][:, None] & cols_in[:, j][None, :]  # (OH, OW)
            v = planes[:, rows_read[:, i][:, None], cols_read[:, j][None, :]]
            sums += np.where(inside, v, zero)
    return sums


_window_sums = window_sums_by_tap


def sum_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Sum of the real cells of each window, computed in float64 (floats) or 64-bit integers."""
    x = np.asarray(x)
    k, s, d, ph, pw, OH, OW = _geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    acc = np.float64 if x.dtype.kind == "f" else (np.int64 if x.dtype.kind == "i" else np.uint64)
    sums = _window_sums(x, k, s, d, ph, pw, OH, OW, acc)
    return sums.reshape(x.shape[:-2] + (OH, OW))


def _avg_divisors(H, W, k, s, ph, pw, OH, OW, count_include_pad, divisor_override):
    """PyTorch's divisor of each output window (AvgPoolKernel.cpp), in float64."""
    div = np.empty((OH, OW), np.float64)
    for oh in range(OH):
        h0 = oh * s[0] - ph[0]
        h1 = min(h0 + k[0], H + ph[1])
        for ow in range(OW):
            w0 = ow * s[1] - pw[0]
            w1 = min(w0 + k[1], W + pw[1])
            pool_size = (h1 - h0) * (w1 - w0)
            real = (min(h1, H) - max(h0, 0)) * (min(w1, W) - max(w0, 0))
            if divisor_override is not None:
                div[oh, ow] = divisor_override
            else:
                div[oh, ow] = pool_size if count_include_pad else real
    return div


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """PyTorch's average, computed in float64."""
    x = np.asarray(x)
    H, W = x.shape[-2:]
    k, s, d, ph, pw, OH, OW = _geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    sums = _window_sums(x, k, s, d, ph, pw, OH, OW, np.float64)
    div = _avg_divisors(H, W, k, s, ph, pw, OH, OW, count_include_pad, divisor_override)
    return (sums / div).reshape(x.shape[:-2] + (OH, OW))


def same_3x3_in_kernel_order(x, divisor):
    """avg_pool2d(x, 3, 1, 1) (sum_pool2d with ``divisor`` None) step by step in the order of
    the kernels: each output row's input rows summed per column, top row first, then
    ((g[i] + g[i+1]) + g[i+2]) over those sums with a zero on either side, then the division
    and PyTorch's +0, all in x's dtype. (The kernels' own order rather than the window's: the
    tests that check their bits take it.)"""
    H, W = x.shape[-2:]
    zero = np.zeros(x.shape[:-2] + (H, 1), x.dtype)
    cols = np.empty_like(x)
    for r in range(H):
        rows = [x[..., t, :] for t in range(max(r - 1, 0), min(r + 2, H))]
        total = rows[0]
        for row in rows[1:]:
            total = total + row
        cols[..., r, :] = total
    g = np.concatenate([zero, cols, zero], axis=-1)
    sums = (g[..., :-2] + g[..., 1:-1]) + g[..., 2:]
    if divisor is None:
        return sums + x.dtype.type(0)
    return sums / divisor + x.dtype.type(0)


def same_3x3_divisors(H, W, count_include_pad, divisor_override, dtype):
    """avg_pool2d(x, 3, 1, 1)'s divisors in ``dtype``: the override, 9 with the padding
    counted, else each window's in-bounds cells (an (H, W) table)."""
    if divisor_override:
        return dtype(divisor_override)
    if count_include_pad:
        return dtype(9)
    rows = np.minimum(np.arange(H) + 2, H) - np.maximum(np.arange(H) - 1, 0)
    cols = np.minimum(np.arange(W) + 2, W) - np.maximum(np.arange(W) - 1, 0)
    return np.outer(rows, cols).astype(dtype)


def window_sum_backward(grad, input_shape, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, avg=None):
    """Gradient of sum pooling (``avg=None``) or of average pooling (``avg=(count_include_pad,
    divisor_override)``): each output's gradient (over its divisor, divided in the gradient's
    dtype) added to every real cell of its window, outputs in row-major order."""
    grad = np.asarray(grad)
    H, W = input_shape[-2:]
    k, s, d, ph, pw, OH, OW = _geometry(np.empty(input_shape[-2:]), kernel_size, stride,
                                        padding, dilation, ceil_mode)
    assert grad.shape[-2:] == (OH, OW)
    g = grad.reshape(-1, OH, OW)
    if avg is not None:
        g = g / _avg_divisors(H, W, k, s, ph, pw, OH, OW, *avg).astype(grad.dtype)
    out = np.zeros((g.shape[0], H, W), grad.dtype)
    for oh, ow, y, xx in _window_cells(H, W, k, s, d, ph, pw, OH, OW):
        out[:, y, xx] += g[:, oh, ow]
    return out.reshape(tuple(input_shape))


def global_max_pool2d(x, keepdims=False, return_indices=False):
    """The scan of :func:`global_max_pool2d_by_scan` in whole-plane reductions (checked
    against it bit for bit by test_global_pool2d): a value takes only when it is larger than
    the running maximum, so the first of the largest wins (``argmax``'s rule, signed zeros
    included); every NaN takes, so in a float plane that holds one the last NaN wins, payload
    and all. The value is read at the index, so its bits are the input's."""
    x = np.asarray(x)
    H, W = x.shape[-2:]
    if H * W == 0:
        return global_max_pool2d_by_scan(x, keepdims, return_indices)
    flat = x.reshape(-1, H * W)
    mi = np.argmax(flat, axis=1).astype(np.int64)
    if x.dtype.kind == "f":
        nan = np.isnan(flat)
        last_nan = H * W - 1 - np.argmax(nan[:, ::-1], axis=1)
        mi = np.where(nan.any(axis=1), last_nan, mi)
    m = flat[np.arange(flat.shape[0]), mi]
    shape = x.shape[:-2] + ((1, 1) if keepdims else ())
    if return_indices:
        return m.reshape(shape), mi.reshape(shape)
    return m.reshape(shape)


def global_max_pool2d_by_scan(x, keepdims=False, return_indices=False):
    """Every cell of the plane in row-major order with PyTorch's update rule."""
    x = np.asarray(x)
    H, W = x.shape[-2:]
    flat = x.reshape(-1, H * W)
    m = np.full(flat.shape[0], _lowest(x.dtype), x.dtype)
    mi = np.zeros(flat.shape[0], np.int64)
    for i in range(H * W):
        v = flat[:, i]
        take = (v > m) | np.isnan(v) if x.dtype.kind == "f" else v > m
        m = np.where(take, v, m)
        mi = np.where(take, i, mi)
    shape = x.shape[:-2] + ((1, 1) if keepdims else ())
    if return_indices:
        return m.reshape(shape), mi.reshape(shape)
    return m.reshape(shape)


def global_sum_pool2d(x, keepdims=False):
    x = np.asarray(x)
    acc = np.float64 if x.dtype.kind == "f" else (np.int64 if x.dtype.kind == "i" else np.uint64)
    return x.astype(acc).sum(axis=(-2, -1), keepdims=keepdims)


def global_avg_pool2d(x, keepdims=False):
    x = np.asarray(x)
    return x.astype(np.float64).mean(axis=(-2, -1), keepdims=keepdims)


def stochastic_key(seed):
    """The documented key derivation for an int seed (NumPy's SeedSequence)."""
    return np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]


def stochastic_threshold(key, row, column, total, dtype):
    """The documented threshold u * total for output (row, column), row flat over planes and
    output rows: a SplitMix64 row key, a lowbias32 hash per column, u exact in the dtype."""
    m64, m32 = 2**64 - 1, 2**32 - 1
    z = (int(key) + (row + 1) * 0x9E3779B97F4A7C15) & m64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m64
    z = z ^ (z >> 31)
    h = (((z & m32) + column) & m32) ^ (z >> 32)
    h = ((h ^ (h >> 16)) * 0x7FEB352D) & m32
    h = ((h ^ (h >> 15)) * 0x846CA68B) & m32
    h = h ^ (h >> 16)
    if np.dtype(dtype) == np.float32:
        return np.float32(h >> 8) * np.float32(2.0**-24) * np.float32(total)  # exact u, one rounding
    return np.float64(h) * 2.0**-32 * np.float64(total)


def stochastic_pool2d(x, kernel_size, stride=None, padding=0, training=True, key=0, ceil_mode=False):
    """Zeiler & Fergus stochastic pooling with the documented generator, one window at a time.

    Training returns (values, indices); eval returns sum(a^2)/sum(a) in float64.
    """
    x = np.asarray(x)
    H, W = x.shape[-2:]
    k, s, d, ph, pw, OH, OW = _geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    planes = x.reshape(-1, H, W)
    vals = np.zeros((planes.shape[0], OH, OW), np.float64 if not training else x.dtype)
    idx = np.zeros((planes.shape[0], OH, OW), np.int64)
    for p in range(planes.shape[0]):
        for oh in range(OH):
            ys, y0 = _taps(oh, H, k[0], s[0], ph[0], 1)
            for ow in range(OW):
                xs, x0 = _taps(ow, W, k[1], s[1], pw[0], 1)
                cells = [(y, xx) for y in ys for xx in xs]  # row-major scan order
                a = [float(planes[p, y, xx]) for y, xx in cells]
                finite = all(math.isfinite(v) for v in a)
                if not training:
                    largest = max(a, default=0.0)
                    if not finite:
                        vals[p, oh, ow] = sum(v * v for v in a) / sum(a)
                    elif largest > 0:  # scaled by the largest: no square overflows
                        scaled = [v / largest for v in a]
                        vals[p, oh, ow] = largest * (sum(v * v for v in scaled) / sum(scaled))
                    continue
                if not finite:  # the first NaN if any, else the first infinity
                    bad = [c for c, v in zip(cells, a) if math.isnan(v)] or \
                          [c for c, v in zip(cells, a) if math.isinf(v)]
                    vals[p, oh, ow] = planes[p, bad[0][0], bad[0][1]]
                    idx[p, oh, ow] = bad[0][0] * W + bad[0][1]
                    continue
                if sum(a) == 0:
                    vals[p, oh, ow], idx[p, oh, ow] = 0, y0 * W + x0
                    continue
                # Sums in the input's dtype, cell by cell in row-major order, as documented;
                # a sum that overflows the dtype: in float64, on values scaled by 2**-e
                # (2**e just above the largest) where float64 overflows too.
                dt, row = x.dtype.type, p * OH + oh
                total = dt(0)
                with np.errstate(over="ignore"):
                    for v in a:
                        total = dt(total + dt(v))
                scale = 1.0
                if not math.isfinite(total):
                    dt = np.float64
                    total = 0.0
                    for v in a:
                        total += v
                    if not math.isfinite(total):
                        scale = 2.0 ** -math.frexp(max(a))[1]
                        total = 0.0
                        for v in a:
                            total += v * scale
                threshold = stochastic_threshold(key, row, ow, total, np.dtype(dt))
                run, pick = dt(0), None
                for (y, xx), v in zip(cells, a):  # the first cell whose running sum exceeds it
                    run = dt(run + dt(v * scale))
                    if run > threshold:
                        pick = (y, xx)
                        break
                if pick is None:  # rounding put the threshold at the sum: the last positive cell
                    pick = [c for c, v in zip(cells, a) if v > 0][-1]
                vals[p, oh, ow] = planes[p, pick[0], pick[1]]
                idx[p, oh, ow] = pick[0] * W + pick[1]
    shape = x.shape[:-2] + (OH, OW)
    if training:
        return vals.reshape(shape), idx.reshape(shape)
    return vals.reshape(shape)


def scatter(values, indices, shape, accumulate=True):
    """Each plane's values placed at their flat indices in a zero plane of ``shape``, in order:
    added (max/stochastic backward) or assigned, the last write winning (max_unpool2d)."""
    values, indices = np.asarray(values), np.asarray(indices)
    H, W = shape[-2:]
    out = np.zeros((int(np.prod(shape[:-2], dtype=np.int64)), H * W), values.dtype)
    vals = values.reshape(out.shape[0], -1)
    idx = indices.reshape(out.shape[0], -1)
    for p in range(out.shape[0]):
        for v, k in zip(vals[p], idx[p]):
            if k == -1:  # no cell (a dilated max window over padding alone)
                continue
            out[p, k] = out[p, k] + v if accumulate else v
    return out.reshape(shape)


# ---------------------------------------------------------------------------------------------
# Any number of spatial axes (the last n): 1-D, 2-D and 3-D pooling and their gradients.
# One output position at a time, every window's taps listed with itertools.product in scan
# order; written from ONNX's pooling reference (onnx/reference/ops/op_pool_common.py) and
# PyTorch's 3-D kernels, independently of the 2-D functions above.
# ---------------------------------------------------------------------------------------------
def _per_axis(v, n):
    return (v,) * n if np.isscalar(v) else tuple(v)


def nd_pads(padding, sizes, k, s, d):
    """Per-side (before, after) pads of every axis, from any of cpool's padding forms."""
    n = len(sizes)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        lower = padding == "same_lower"
        return tuple(same_pads(m, ki, si, di, lower) for m, ki, si, di in zip(sizes, k, s, d))
    if np.isscalar(padding):
        return ((padding, padding),) * n
    padding = tuple(padding)
    if n == 1 and len(padding) == 2 and all(np.isscalar(p) for p in padding):
        return (padding,)  # np.pad's 1-D (before, after)
    if all(np.isscalar(p) for p in padding):
        return tuple((p, p) for p in padding)
    return tuple(tuple(p) for p in padding)


def nd_geometry(sizes, kernel_size, stride, padding, dilation, ceil_mode):
    """(k, s, d, pads, out sizes) over the spatial ``sizes``."""
    n = len(sizes)
    k = _per_axis(kernel_size, n)
    s = k if stride is None else _per_axis(stride, n)
    d = _per_axis(dilation, n)
    pads = nd_pads(padding, sizes, k, s, d)
    outs = tuple(out_size(m, ki, si, pb, pa, di, ceil_mode)
                 for m, ki, si, (pb, pa), di in zip(sizes, k, s, pads, d))
    return k, s, d, pads, outs


def _nd_windows(sizes, k, s, d, pads, outs):
    """For every output position (row-major): (position, in-bounds taps in scan order, taps
    within the padded extent, PyTorch's first tap)."""
    per_axis = []
    for m, ki, si, di, (pb, pa), o in zip(sizes, k, s, d, pads, outs):
        axis = []
        for j in range(o):
            start = j * si - pb
            real = [start + t * di for t in range(ki) if 0 <= start + t * di < m]
            padded = [start + t * di for t in range(ki) if start + t * di < m + pa]
            first = start
            while first < 0:
                first += di
            axis.append((real, len(padded), first))
        per_axis.append(axis)
    for pos in itertools.product(*(range(o) for o in outs)):
        parts = [per_axis[a][j] for a, j in enumerate(pos)]
        taps = list(itertools.product(*(p[0] for p in parts)))
        padded = math.prod(p[1] for p in parts)
        first = tuple(p[2] for p in parts)
        yield pos, taps, padded, first


def no_cell_as_torch_gives(torch_indices, indices):
    """PyTorch's max indices with cpool's -1 where ``indices`` (the reference's) have it: a
    dilated window with no real cell, to which PyTorch gives its first tap's position (past
    the plane, or a cell the window never read)."""
    return np.where(np.asarray(indices) == -1, -1, torch_indices)


def _flat(cell, sizes):
    return int(np.ravel_multi_index(cell, sizes))


def _nd_setup(x, n, op, kernel_size, stride, padding, dilation, ceil_mode):
    """What both forms of :func:`pool_nd` start from: the spatial sizes, the geometry, the
    leading shape, the input as blocks of the last ``n`` axes, and the output dtype (the
    input's for max, float64 for avg and float sums, 64-bit integers for integer sums)."""
    sizes = x.shape[-n:]
    k, s, d, pads, outs = nd_geometry(sizes, kernel_size, stride, padding, dilation, ceil_mode)
    if op == "max":
        out_dtype = x.dtype
    elif op == "avg" or x.dtype.kind == "f":
        out_dtype = np.dtype(np.float64)
    else:
        out_dtype = np.dtype(np.int64 if x.dtype.kind == "i" else np.uint64)
    return sizes, k, s, d, pads, outs, x.shape[:-n], x.reshape((-1,) + sizes), out_dtype


def pool_nd(x, n, op, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
            count_include_pad=True, divisor_override=None, return_indices=False):
    """``op`` ('max', 'sum', 'avg') pooling over the last ``n`` axes of ``x``: the window at a
    time scan of :func:`pool_nd_by_window` a tap offset of every window at a time, in the same
    scan order (an out-of-bounds tap never takes, and adds +0, which leaves a sum's bits), so
    the same bits, checked by test_pool_nd."""
    x = np.asarray(x)
    sizes, k, s, d, pads, outs, lead, blocks, out_dtype = _nd_setup(
        x, n, op, kernel_size, stride, padding, dilation, ceil_mode)
    if math.prod(outs) == 0 or math.prod(sizes) == 0:  # nothing to scan: the window form
        return pool_nd_by_window(x, n, op, kernel_size, stride, padding, dilation, ceil_mode,
                                 count_include_pad, divisor_override, return_indices)
    B = blocks.shape[0]

    def along(a, v):  # a per-axis (o_a,) array shaped to broadcast over the outputs
        return v.reshape((1,) * a + (-1,) + (1,) * (n - 1 - a))

    # Per axis: each window's tap positions (o, k), which lie in the input, which within the
    # padded extent, and PyTorch's first in-bounds-or-after tap of each window.
    cells, real, read = zip(*(axis_taps(o, m, ki, si, pb, di) for o, m, ki, si, di, (pb, _)
                              in zip(outs, sizes, k, s, d, pads)))
    padded = [(c < m + pa).sum(axis=1) for c, m, (_, pa) in zip(cells, sizes, pads)]
    # The first tap at or after the input's start: the start moved on by whole dilations.
    first = [np.where(c[:, 0] < 0, c[:, 0] + (-c[:, 0] + di - 1) // di * di, c[:, 0])
             for c, di in zip(cells, d)]
    steps = [math.prod(sizes[a + 1:]) for a in range(n)]  # row-major strides in cells
    if op == "max":
        m = np.full((B,) + outs, _lowest(x.dtype), x.dtype)
        first_cell = sum(along(a, f * steps[a]) for a, f in enumerate(first))
        empty = sum(along(a, ~r.any(axis=1)) for a, r in enumerate(real)) > 0  # no real tap
        mi = np.broadcast_to(np.where(empty, -1, first_cell), m.shape).astype(np.int64)
    else:
        acc = np.zeros((B,) + outs, out_dtype)
    for tap in itertools.product(*(range(ki) for ki in k)):
        inside = np.ones(outs, bool)
        for a, t in enumerate(tap):
            inside = inside & along(a, real[a][:, t])
        v = blocks[(slice(None),) + np.ix_(*(read[a][:, t] for a, t in enumerate(tap)))]
        if op == "max":
            take = inside & (((v > m) | np.isnan(v)) if x.dtype.kind == "f" else v > m)
            m = np.where(take, v, m)
            cell = sum(along(a, cells[a][:, t] * steps[a]) for a, t in enumerate(tap))
            mi = np.where(take, cell, mi)
        else:
            acc = acc + np.where(inside, v.astype(out_dtype), out_dtype.type(0))
    if op == "max":
        out = m.reshape(lead + outs)
        return (out, mi.reshape(lead + outs)) if return_indices else out
    if op == "avg":
        if divisor_override is not None:
            div = divisor_override
        else:
            counts = padded if count_include_pad else [r.sum(axis=1) for r in real]
            div = np.ones(outs, np.int64)
            for a, c in enumerate(counts):
                div = div * along(a, c)
        with np.errstate(invalid="ignore"):  # 0/0: a dilated window with no real cell
            acc = acc / div
    return acc.reshape(lead + outs)


def pool_nd_by_window(x, n, op, kernel_size, stride=None, padding=0, dilation=1,
                      ceil_mode=False, count_include_pad=True, divisor_override=None,
                      return_indices=False):
    """``op`` ('max', 'sum', 'avg') pooling over the last ``n`` axes of ``x``, a window at a
    time. Max: PyTorch's scan (``v > m or isnan(v)``), -inf at the first tap for an empty
    window. Sums in float64 (int64/uint64 for integer sums), avg divided by the count of taps
    summed (or within the padded extent, or ``divisor_override``)."""
    x = np.asarray(x)
    sizes, k, s, d, pads, outs, lead, blocks, out_dtype = _nd_setup(
        x, n, op, kernel_size, stride, padding, dilation, ceil_mode)
    B = blocks.shape[0]
    out = np.empty((B,) + outs, out_dtype)
    if op == "max":
        idx = np.empty((B,) + outs, np.int64)
    for pos, taps, padded, first in _nd_windows(sizes, k, s, d, pads, outs):
        sel = (slice(None),) + pos
        if op == "max":
            m = np.full(B, _lowest(x.dtype), x.dtype)
            mi = np.full(B, _flat(first, sizes) if taps else -1, np.int64)
            for cell in taps:
                v = blocks[(slice(None),) + cell]
                take = (v > m) | np.isnan(v) if x.dtype.kind == "f" else v > m
                m = np.where(take, v, m)
                mi = np.where(take, _flat(cell, sizes), mi)
            out[sel] = m
            idx[sel] = mi
            continue
        acc = np.zeros(B, out.dtype)
        for cell in taps:
            acc = acc + blocks[(slice(None),) + cell].astype(out.dtype)
        if op == "avg":
            div = (divisor_override if divisor_override is not None
                   else padded if count_include_pad else len(taps))
            with np.errstate(invalid="ignore"):  # 0/0: a dilated window with no real cell
                acc = acc / div
        out[sel] = acc
    out = out.reshape(lead + outs)
    if op == "max" and return_indices:
        return out, idx.reshape(lead + outs)
    return out


def pool_nd_backward(grad, input_shape, n, op, kernel_size, stride=None, padding=0, dilation=1,
                     ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Gradient of ``op`` ('sum' or 'avg') pooling over the last ``n`` axes: each output's
    gradient (over its divisor) added to every real cell of its window, in float64."""
    grad = np.asarray(grad, np.float64)
    sizes = tuple(input_shape[-n:])
    k, s, d, pads, outs = nd_geometry(sizes, kernel_size, stride, padding, dilation, ceil_mode)
    g = grad.reshape((-1,) + outs)
    res = np.zeros((g.shape[0],) + sizes)
    for pos, taps, padded, _ in _nd_windows(sizes, k, s, d, pads, outs):
        v = g[(slice(None),) + pos]
        if op == "avg" and taps:
            v = v / (divisor_override if divisor_override is not None
                     else padded if count_include_pad else len(taps))
        for cell in taps:
            res[(slice(None),) + cell] += v
    return res.reshape(tuple(input_shape))


def scatter_nd(values, indices, input_shape, n, accumulate=True):
    """Values added (or, without ``accumulate``, placed) at flat indices within each block of
    the last ``n`` axes of ``input_shape``."""
    sizes = tuple(input_shape[-n:])
    v = np.asarray(values, np.float64).reshape(-1, math.prod(values.shape[-n:]) if values.ndim >= n else 1)
    i = np.asarray(indices).reshape(v.shape)
    res = np.zeros((v.shape[0], math.prod(sizes)))
    for b in range(v.shape[0]):
        cell = i[b] != -1  # -1: no cell (a dilated max window over padding alone)
        if accumulate:
            np.add.at(res[b], i[b][cell], v[b][cell])
        else:
            res[b, i[b][cell]] = v[b][cell]
    return res.reshape(tuple(input_shape))


def adaptive_pool_nd(x, n, op, output_size, return_indices=False):
    """Adaptive max/avg pooling over the last ``n`` axes, from the formula: window i of m over
    a size-s axis is [floor(i*s/m), ceil((i+1)*s/m)); avg divides by the window's size."""
    x = np.asarray(x)
    sizes = x.shape[-n:]
    outs = tuple(sizes[a] if o is None else o for a, o in enumerate(
        (output_size,) * n if np.isscalar(output_size) or output_size is None
        else output_size))
    blocks = x.reshape((-1,) + sizes)
    B = blocks.shape[0]
    out = np.empty((B,) + outs, x.dtype if op == "max" else np.float64)
    idx = np.empty((B,) + outs, np.int64)
    for pos in itertools.product(*(range(o) for o in outs)):
        ranges = [range((i * s) // o, -((-(i + 1) * s) // o)) for i, s, o in zip(pos, sizes, outs)]
        cells = list(itertools.product(*ranges))
        sel = (slice(None),) + pos
        if op == "max":
            m = np.full(B, _lowest(x.dtype), x.dtype)
            mi = np.zeros(B, np.int64)
            for c, cell in enumerate(cells):
                v = blocks[(slice(None),) + cell]
                take = (v > m) | np.isnan(v) if x.dtype.kind == "f" else v > m
                take = take | (c == 0)
                m = np.where(take, v, m)
                mi = np.where(take, _flat(cell, sizes), mi)
            out[sel], idx[sel] = m, mi
        else:
            out[sel] = sum(blocks[(slice(None),) + cell].astype(np.float64) for cell in cells) / len(cells)
    out = out.reshape(x.shape[:-n] + outs)
    return (out, idx.reshape(out.shape)) if return_indices else out


def adaptive_backward_nd(grad, input_shape, n):
    """Gradient of adaptive average pooling over the last ``n`` axes: each output's gradient
    over its window's size added to every cell of its window, in float64."""
    sizes = tuple(input_shape[-n:])
    outs = grad.shape[-n:]
    g = np.asarray(grad, np.float64).reshape((-1,) + outs)
    res = np.zeros((g.shape[0],) + sizes)
    for pos in itertools.product(*(range(o) for o in outs)):
        sl = tuple(slice((i * s) // o, -((-(i + 1) * s) // o)) for i, s, o in zip(pos, sizes, outs))
        count = math.prod(b.stop - b.start for b in sl)
        res[(slice(None),) + sl] += g[(slice(None),) + pos][(...,) + (None,) * n] / count
    return res.reshape(tuple(input_shape))


def lp_pool_nd(x, n, p, kernel_size, stride=None, ceil_mode=False):
    """LP pooling over the last ``n`` axes by PyTorch's definition, in float64:
    ``(sign(a) * relu(|a|) * prod(k)) ** (1/p)``, ``a`` the mean of ``x ** p`` over each
    window's real cells (no padding)."""
    x = np.asarray(x, np.float64)
    k = (kernel_size,) * n if np.isscalar(kernel_size) else tuple(kernel_size)
    with np.errstate(all="ignore"):
        a = pool_nd(x ** p, n, "avg", k, stride, 0, 1, ceil_mode)
        return (np.sign(a) * np.maximum(np.abs(a), 0) * math.prod(k)) ** (1 / p)


def fractional_max_nd(x, n, kernel_size, outs, u):
    """Fractional max pooling over the last ``n`` axes from the formula: per plane p and axis
    a, window i starts at int((i + u) * alpha) - int(u * alpha), alpha = (in - k) / (out - 1),
    computed in ``u``'s dtype (the last at in - k), then PyTorch's scan of each k-window.
    ``u``: (planes, n) with PyTorch's column order (2-D: W then H; 3-D: D, H, W)."""
    x = np.asarray(x)
    sizes = x.shape[-n:]
    k = (kernel_size,) * n if np.isscalar(kernel_size) else tuple(kernel_size)
    blocks = x.reshape((-1,) + sizes)
    column = (1, 0) if n == 2 else (0, 1, 2)
    out = np.empty((len(blocks),) + tuple(outs), x.dtype)
    idx = np.empty(out.shape, np.int64)
    t = u.dtype.type
    for b in range(len(blocks)):
        starts = []
        for a in range(n):
            s, m, kk = u[b, column[a]], sizes[a], k[a]
            seq = [m - kk] * outs[a]
            if outs[a] > 1:
                alpha = t(m - kk) / t(outs[a] - 1)
                for i in range(outs[a] - 1):
                    seq[i] = int(t((t(i) + s) * alpha)) - int(t(s * alpha))
            starts.append(seq)
        for pos in itertools.product(*(range(o) for o in outs)):
            cells = itertools.product(*(range(starts[a][pos[a]], starts[a][pos[a]] + k[a])
                                        for a in range(n)))
            best, best_i = _lowest(x.dtype), None
            for cell in cells:
                v = blocks[(b,) + cell]
                if best_i is None or v > best or (x.dtype.kind == "f" and np.isnan(v)):
                    best, best_i = v, _flat(cell, sizes)
            out[(b,) + pos], idx[(b,) + pos] = best, best_i
    shape = x.shape[:-n] + tuple(outs)
    return out.reshape(shape), idx.reshape(shape)

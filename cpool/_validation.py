"""Argument normalisation and validation for every public op, done once, in pure Python.

Each public function calls one ``prepare_*`` function here. It returns a plan holding everything
the kernel needs: a 4-D input view the kernel can read, the output buffers, the window bounds
and the thread count. The public function then makes one kernel call and returns ``plan.finish()``.
Kernels never see Python objects, ``None`` or unchecked sizes.

Window geometry (output sizes, padding, the first in-bounds tap and the tap count of every window,
average divisors) is computed only by :func:`window_bounds`. No op derives it again.
"""
import collections
import math
import numbers
import operator
import threading
import typing
from typing import Any, List, NamedTuple, Optional, Tuple

import numpy as np

from cpool import _kernels, _threads
from cpool._kernels import window as _window
from cpool._kernels._buffers import MIN_BYTES as _POOLED_BYTES
from cpool._kernels import _convert
from cpool._kernels._buffers import empty, same_objects

# ---------------------------------------------------------------------------------------------
# dtype policy (documented in README and docs): which dtypes run natively, which are promoted.
# ---------------------------------------------------------------------------------------------
_NATIVE = frozenset(
    np.dtype(t)
    for t in (np.float32, np.float64, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
              np.int64, np.uint64)
)
_FLOAT16 = np.dtype(np.float16)
_BOOL = np.dtype(np.bool_)
_UINT8 = np.dtype(np.uint8)
_UINT16 = np.dtype(np.uint16)
_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
_INT64 = np.dtype(np.int64)
_UINT64 = np.dtype(np.uint64)

# Global reductions cut planes into bands of about this many elements, so few large planes still
# use all threads. The split depends only on the shape, never on the thread count.
_BAND_ELEMENTS = 1 << 15

# Below this much work per thread (elements read + written), extra threads cost more than they save.
_MIN_WORK_PER_THREAD = 1 << 16


_OP_NAMES = {"avg": "average", "sum": "sum", "lp": "LP"}


def _compute_dtype(dtype: np.dtype, op: str, name: str) -> Tuple[np.dtype, np.dtype, np.dtype]:
    """Return (kernel input dtype, kernel output dtype, result dtype) for ``op`` on ``dtype``.

    ``op`` is ``'max'``, ``'sum'``, ``'avg'``, ``'lp'`` (LP pooling: as 'avg') or
    ``'stochastic'``.
    """
    kind = dtype.kind
    if kind in "biuf":  # judge the values, not their byte order: '>f2' is float16 too
        dtype = dtype.newbyteorder("=")
    if dtype == _BOOL and op == "stochastic":
        raise TypeError(f"{name}: stochastic pooling needs floating activations, got dtype bool")
    if dtype == _BOOL:
        if op == "max":  # max of booleans is logical OR; computed on the uint8 view
            return _UINT8, _UINT8, _BOOL
        raise TypeError(
            f"{name}: boolean input is ambiguous for {_OP_NAMES.get(op, op)} pooling; cast it first "
            f"(x.astype(np.float32) for a fraction, x.astype(np.int64) for a count)"
        )
    if dtype == _FLOAT16:  # float16: compute in float32, return float16
        return _FLOAT32, _FLOAT32, _FLOAT16
    if op == "stochastic" and kind != "f":
        raise TypeError(
            f"{name}: stochastic pooling needs floating activations, got dtype {dtype}; "
            f"cast first (x.astype(np.float32))"
        )
    if dtype not in _NATIVE:
        raise TypeError(
            f"{name}: unsupported dtype {dtype}; expected a real floating or integer dtype "
            f"(float16/32/64, int8..int64, uint8..uint64) or bool for max"
        )
    if op == "max" or kind == "f":
        return dtype, dtype, dtype
    if op in ("avg", "lp"):
        return dtype, _FLOAT64, _FLOAT64
    # Sums of integers in 64 bits: exact for 8- to 32-bit inputs; 64-bit ones wrap as NumPy's do.
    acc = _INT64 if kind == "i" else _UINT64
    return dtype, acc, acc


# ---------------------------------------------------------------------------------------------
# scalar and pair arguments
# ---------------------------------------------------------------------------------------------
# Like PyTorch, sizes must fit in a C int; this also keeps all geometry arithmetic exact in int64.
_INT_MAX = 2**31 - 1


_AN_INT_OR_PAIR = "an int or a pair of ints"


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _int(name: str, value, fn: str, expected: str = "an int") -> int:
    """``value`` as a Python int within +-INT_MAX; the error says what ``name`` must be."""
    if not _is_int(value):
        raise TypeError(f"{fn}: `{name}` must be {expected}, got {value!r}")
    v = operator.index(value)
    if not -_INT_MAX <= v <= _INT_MAX:
        raise ValueError(f"{fn}: `{name}` is out of range (|value| <= {_INT_MAX}), got {v}")
    return v


# What an int-or-tuple argument of an op over n spatial axes may be.
_AN_INT_OR_TUPLE = {1: "an int or a 1-tuple of ints", 2: _AN_INT_OR_PAIR,
                    3: "an int or a triple of ints"}
# The spatial axes' names, for messages.
AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _tuple(name: str, value, fn: str, n: int, expected: Optional[str] = None) -> Tuple[int, ...]:
    """Expand an int or an n-tuple (one entry per spatial axis), checking types and length;
    errors show the whole value."""
    expected = expected or _AN_INT_OR_TUPLE[n]
    if isinstance(value, np.ndarray) and value.ndim == 1:
        items = value.tolist()
    elif isinstance(value, (tuple, list)):
        items = list(value)
    else:
        return (_int(name, value, fn, expected),) * n
    if len(items) != n:
        raise ValueError(f"{fn}: `{name}` must be {expected}, got {value!r} (length {len(items)})")
    if not all(_is_int(v) for v in items):
        raise TypeError(f"{fn}: `{name}` must be {expected}, got {value!r}")
    return tuple(_int(name, v, fn, expected) for v in items)


def _flag(name: str, value, fn: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: `{name}` must be True or False, got {value!r}")
    return bool(value)


SPATIAL_AXES = (-2, -1)  # the default ``axes``: (..., H, W)


_AXES_FORMS = {1: "one axis (L axis,)", 2: "a pair (H axis, W axis)",
               3: "three axes (D axis, H axis, W axis)"}
_AXES_TYPES = {1: "an int or one int (L axis,)", 2: "a pair of ints (H axis, W axis)",
               3: "three ints (D axis, H axis, W axis)"}


def spatial_axes(axes, ndim: int, fn: str, n: int = 2) -> Tuple[int, ...]:
    """``axes``, the n spatial axes of an ``ndim``-dimensional array, as n distinct non-negative
    ints (NumPy's negative-axis rule; ``(1, 2)`` and ``(-3, -2)`` are the same on 4-D input).
    One axis may also be a bare int, as NumPy's ``axis``."""
    form = _AXES_FORMS[n]
    if isinstance(axes, np.ndarray) and axes.ndim == 1:
        items = axes.tolist()
    elif isinstance(axes, (tuple, list)):
        items = list(axes)
    elif _is_int(axes) and n == 1:
        items = [axes]
    elif _is_int(axes):
        raise ValueError(f"{fn}: `axes` must be {form}, got {axes!r}")
    else:
        raise TypeError(f"{fn}: `axes` must be {_AXES_TYPES[n]}, got {axes!r}")
    if len(items) != n:
        raise ValueError(f"{fn}: `axes` must be {form}, got {axes!r} (length {len(items)})")
    if not all(_is_int(a) for a in items):
        raise TypeError(f"{fn}: `axes` must be {_AXES_TYPES[n]}, got {axes!r}")
    normalised = []
    for a in items:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{fn}: `axes` {axes!r} is out of range for an array of {ndim} dimensions")
        normalised.append(a % ndim)
    if len(set(normalised)) != n:
        count = {2: "two", 3: "three"}[n]
        raise ValueError(f"{fn}: `axes` must name {count} different axes, got {axes!r}")
    return tuple(normalised)


def pooled_shape(shape, axes, sizes) -> Tuple[int, ...]:
    """``shape`` with the sizes of the spatial ``axes`` replaced by ``sizes``."""
    out = list(shape)
    for a, n in zip(axes, sizes):
        out[a] = n
    return tuple(out)


def without_axes(shape, axes) -> Tuple[int, ...]:
    """``shape`` without its spatial ``axes``."""
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def global_shape(shape, axes, keepdims: bool) -> Tuple[int, ...]:
    """A global op's result shape: the spatial ``axes`` removed, or kept as size 1."""
    return pooled_shape(shape, axes, (1,) * len(axes)) if keepdims else without_axes(shape, axes)


def spatial_last(a: np.ndarray, axes) -> np.ndarray:
    """A view of ``a`` (in the caller's axis order) with its spatial ``axes`` moved last, in
    their order, the order the kernels read and write; ``a`` itself if they already are."""
    n = len(axes)
    if tuple(axes) == tuple(range(a.ndim - n, a.ndim)):
        return a
    return np.moveaxis(a, axes, tuple(range(-n, 0)))


# ---------------------------------------------------------------------------------------------
# window geometry: the one helper every windowed op uses
# ---------------------------------------------------------------------------------------------
class AxisWindows(NamedTuple):
    """Windows along one axis. Arrays have one entry per output position (read-only)."""

    out_size: int
    pad_before: int
    pad_after: int
    lo: np.ndarray          # first in-bounds tap of each window (PyTorch's adjusted start)
    # Taps in bounds per window (0 only for some dilated windows). The name shadows
    # tuple.count, which nothing here calls.
    count: np.ndarray  # type: ignore[assignment]
    padded_count: np.ndarray  # window clipped to the padded extent (avg with count_include_pad)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class _BoundedCache:
    """A least-recently-used map that holds at most ``max_bytes`` of arrays.

    Window bounds are cached because recomputing them costs a small call more than pooling
    does; but their size follows the output's width, so an entry-count bound (lru_cache) let
    40 calls on 2,000,000-wide rows keep 2.8 GB. An entry over an eighth of the budget is
    not kept at all: computing it costs little next to pooling that many outputs.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.nbytes = 0
        # key -> (value, nbytes)
        self._entries: collections.OrderedDict[Any, Any] = collections.OrderedDict()
        self._lock = threading.Lock()
        # A key's (value, nbytes) entry, or None, without get's move to the end: for a cache
        # whose hot path cannot pay for the move (its entries are then dropped oldest put
        # first). Bound here, so that a lookup is one C call.
        self.entry = self._entries.get

    def get(self, key):
        # No lock: the lookup and the move are one atomic OrderedDict call each, and only
        # put's several steps need the lock (taking it here cost a tenth of a (1, 1, 2, 2)
        # call, where every call fetches its plan). An entry that a put evicts between the two
        # is simply not moved.
        entry = self._entries.get(key)
        if entry is None:
            return None
        try:
            self._entries.move_to_end(key)
        except KeyError:
            pass
        return entry[0]

    def put(self, key, value, nbytes: int):
        if nbytes > self.max_bytes // 8:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (value, nbytes)
            self.nbytes += nbytes
            while self.nbytes > self.max_bytes:
                _, (_, old) = self._entries.popitem(last=False)
                self.nbytes -= old

    def clear(self):
        with self._lock:
            self._entries.clear()
            self.nbytes = 0


_WINDOWS = _BoundedCache(4 << 20)
_NO_WINDOWS = np.empty(0, np.intp)
_NO_WINDOWS.flags.writeable = False


def window_bounds(size: int, kernel: int, stride: int, dilation: int, pad_before: int,
                  pad_after: int, ceil_mode: bool, arrays: bool = True) -> Optional[AxisWindows]:
    """Output size and per-window tap bounds along one axis, with PyTorch's rules.

    ``out = floor((size + pad_before + pad_after - dilation*(kernel-1) - 1 [+ stride-1 if
    ceil_mode]) / stride) + 1``; in ceil mode a last window that would start in the right padding
    is dropped (``(out-1)*stride >= size + pad_before``). Returns None when ``out < 1``. With
    ``arrays=False`` (an empty batch: nothing will be read) the arrays are left empty, so the
    cost does not follow the output's size.
    """
    span = dilation * (kernel - 1) + 1
    out = (size + pad_before + pad_after - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and out > 0 and (out - 1) * stride >= size + pad_before:
        out -= 1
    if out < 1:
        return None
    if not arrays:
        return AxisWindows(out, pad_before, pad_after, _NO_WINDOWS, _NO_WINDOWS, _NO_WINDOWS)
    key = (size, kernel, stride, dilation, pad_before, pad_after, ceil_mode)
    cached = _WINDOWS.get(key)
    if cached is not None:
        return cached
    start = np.arange(out, dtype=np.intp) * stride - pad_before
    # First tap at or after 0 on the dilation grid; last tap before `size`.
    first_tap = np.where(start < 0, (-start + dilation - 1) // dilation, 0)
    last_tap = np.minimum(kernel - 1, np.floor_divide(size - 1 - start, dilation))
    lo = start + first_tap * dilation
    count = np.maximum(last_tap - first_tap + 1, 0)
    # Divisor rule of avg_pool2d with count_include_pad: the taps within [-pad_before,
    # size + pad_after). The ceil-mode overhang past the padding never counts.
    # With dilation: the taps before the padding's end.
    padded_count = np.minimum(kernel, -((start - size - pad_after) // dilation))
    windows = AxisWindows(out, pad_before, pad_after, _frozen(lo), _frozen(count.astype(np.intp)),
                          _frozen(padded_count.astype(np.int64)))
    _WINDOWS.put(key, windows, lo.nbytes + count.nbytes + padded_count.nbytes)
    return windows


def adaptive_bounds(size: int, out: int) -> AxisWindows:
    """Adaptive pooling's windows along one axis, PyTorch's (AdaptivePooling.h): window i of
    ``out`` over ``size`` cells is ``[floor(i*size/out), ceil((i+1)*size/out))``, in integer
    arithmetic (exact for any sizes up to 2**31). Windows may overlap and differ in size; none
    is empty, and there is no padding."""
    key = ("adaptive", size, out)
    cached = _WINDOWS.get(key)
    if cached is not None:
        return cached
    i = np.arange(out, dtype=np.int64)
    lo = (i * size) // out
    count = -((-(i + 1) * size) // out) - lo
    windows = AxisWindows(out, 0, 0, _frozen(lo.astype(np.intp)), _frozen(count.astype(np.intp)),
                          _frozen(count))
    _WINDOWS.put(key, windows, lo.nbytes + 2 * count.nbytes)
    return windows


def _same_padding(size: int, kernel: int, stride: int, dilation: int,
                  lower: bool = False) -> Tuple[int, int]:
    """TensorFlow's 'same' (ONNX SAME_UPPER): output ceil(size/stride), an odd extra pad cell
    after; with ``lower`` (ONNX SAME_LOWER) the odd cell goes before."""
    out = -(-size // stride)
    needed = max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - size)
    small = needed // 2
    return (needed - small, small) if lower else (small, needed - small)


_PADDING_FORMS = {
    1: "an int, a 1-tuple, a (before, after) pair, 'valid', 'same' or 'same_lower'",
    2: "an int, a pair of ints, a pair of (before, after) pairs, 'valid', 'same' or "
       "'same_lower'",
    3: "an int, a triple of ints, three (before, after) pairs, 'valid', 'same' or 'same_lower'",
}


def _padding_arg(padding, fn: str, n: int = 2):
    """``padding`` as a string, an n-tuple of symmetric pads, or n per-side ``(before, after)``
    pairs (``np.pad``'s and ONNX's form); types and lengths checked. Over one axis a bare
    ``(before, after)`` pair is per side too, as in ``np.pad``."""
    form = _PADDING_FORMS[n]
    if isinstance(padding, str):
        return padding
    items = padding.tolist() if isinstance(padding, np.ndarray) else padding
    if isinstance(items, (tuple, list)) and len(items) == n and all(
            isinstance(p, (tuple, list, np.ndarray)) for p in items):
        return tuple(_tuple("padding", p, fn, 2, form) for p in items)
    if n == 1 and isinstance(items, (tuple, list)) and len(items) == 2:
        return (_tuple("padding", items, fn, 2, form),)
    return _tuple("padding", padding, fn, n, form)


class Geometry(NamedTuple):
    windows: Tuple[AxisWindows, ...]  # one per spatial axis, in order (W last)
    kernel: Tuple[int, ...]
    stride: Tuple[int, ...]
    dilation: Tuple[int, ...]
    clipped: bool  # kernels take their general path: see _clipped
    # Fractional max pooling: every plane has its own windows, the bound arrays holding
    # plane after plane (P * out_size entries per axis; out_sizes is per plane).
    per_plane: bool = False

    @property
    def out_sizes(self) -> Tuple[int, ...]:
        return tuple(a.out_size for a in self.windows)

    @property
    def d(self) -> Optional[AxisWindows]:
        """The depth windows of 3-D ops, else None."""
        return self.windows[0] if len(self.windows) == 3 else None

    @property
    def h(self) -> AxisWindows:
        """The row windows: H's, or one row for 1-D ops (their input is one row high)."""
        return self.windows[-2] if len(self.windows) > 1 else _ONE_ROW

    @property
    def w(self) -> AxisWindows:
        return self.windows[-1]

    def axis_params(self, i: int) -> Tuple[int, int, int]:
        """(kernel, stride, dilation) of kernel axis ``i`` of (D, H, W); 1s for the axes the
        op does not have (1-D ops' H)."""
        j = i - (3 - len(self.windows))
        return (self.kernel[j], self.stride[j], self.dilation[j]) if j >= 0 else (1, 1, 1)


# The kernels' fast path pads a row buffer with the reduction's identity so that every window
# reads its kW taps with no bounds to check. A kernel or padding much wider than the row would
# make that buffer (and the taps read) mostly padding: past 2*W + this many cells, kernels take
# their general path instead, over the row alone and each window's in-bounds taps, so that
# memory and work follow the data and not the arguments (kernel_size=2**26 on a 1x1 input
# allocated 512 MB per thread).
_PADDED_ROW_SLACK = 64


def _clipped(W: int, out_w: int, kernel: int, stride: int, dilation: int, pad_before: int) -> bool:
    """Whether the padded row of the fast path would be wider than ``2*W + _PADDED_ROW_SLACK``."""
    width = max(pad_before + W, (out_w - 1) * stride + (kernel - 1) * dilation + 1)
    return width > 2 * W + _PADDED_ROW_SLACK


def _geometry(fn: str, shape, axes, kernel_size, stride, padding, dilation, ceil_mode,
              arrays: bool = True) -> Geometry:
    """The geometry of a windowed op over the spatial ``axes`` of an array of ``shape``; with
    ``arrays`` False (or an empty batch, which reads nothing) the output sizes and padding
    alone, without the per-window arrays, whose size follows the output's."""
    kernel, stride, padding, dilation, ceil_mode = _window_arguments(
        fn, len(axes), kernel_size, stride, padding, dilation, ceil_mode)
    arrays = arrays and all(k > 0 for k in without_axes(shape, axes))
    return _checked_geometry(fn, tuple(shape[a] for a in axes), kernel, stride, padding,
                             dilation, ceil_mode, arrays)


def _one_for_every_axis(value):
    """PyTorch's pooling reads a list or tuple of one int as that int for every axis
    (``max_pool2d(x, [3])``, ``padding=[1]``); its int, or ``value`` as it is."""
    if isinstance(value, (tuple, list)) and len(value) == 1 and _is_int(value[0]):
        return value[0]
    return value


def _window_arguments(fn: str, n: int, kernel_size, stride, padding, dilation, ceil_mode):
    """A windowed op's arguments over ``n`` axes normalised, in :func:`_checked_geometry`'s
    order: kernel, stride (the kernel's when None or empty, as PyTorch's ``stride=[]``),
    padding, dilation, ceil_mode. One int in a list stands for every axis, as in PyTorch."""
    kernel = _tuple("kernel_size", _one_for_every_axis(kernel_size), fn, n)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel
    else:
        stride = _tuple("stride", _one_for_every_axis(stride), fn, n)
    dilation = _tuple("dilation", _one_for_every_axis(dilation), fn, n)
    ceil_mode = _flag("ceil_mode", ceil_mode, fn)
    return kernel, stride, _padding_arg(_one_for_every_axis(padding), fn, n), dilation, ceil_mode


# Stochastic training's fast path holds kH padded rows per thread and a table of kH*kW tap
# offsets, and draws every window tap by tap: past this many taps per window a window is drawn
# on its own (the general path: the same rules, the same results).
_STOCHASTIC_FAST_TAPS = 1024


def stochastic_general(geom: Geometry, H: int) -> bool:
    """Whether stochastic training takes its general path: clipped rows, windows of more than
    _STOCHASTIC_FAST_TAPS taps, or kH rows (buffered per thread) far past the input's H."""
    kh, kw = geom.kernel
    return (geom.clipped or kh * kw > _STOCHASTIC_FAST_TAPS
            or kh > 2 * H + _PADDED_ROW_SLACK)


def _checked_geometry(fn, sizes, kernel, stride, padding, dilation, ceil_mode, arrays) -> Geometry:
    """Value checks and window bounds for normalised arguments over axes of ``sizes``."""
    n = len(sizes)
    if min(kernel) < 1:
        raise ValueError(f"{fn}: `kernel_size` must be positive, got {kernel}")
    if min(stride) < 1:
        raise ValueError(f"{fn}: `stride` must be positive, got {stride}")
    if min(dilation) < 1:
        raise ValueError(f"{fn}: `dilation` must be positive, got {dilation}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * n
        elif padding in ("same", "same_lower"):
            if ceil_mode:
                raise ValueError(
                    f"{fn}: `ceil_mode=True` cannot be combined with padding={padding!r}")
            lower = padding == "same_lower"
            pads = tuple(_same_padding(*a, lower) for a in zip(sizes, kernel, stride, dilation))
        else:
            raise ValueError(f"{fn}: `padding` must be {_PADDING_FORMS[n]}, got {padding!r}")
    elif isinstance(padding[0], tuple):  # per side: ((before, after), ...) per axis
        pads = padding
        if min(min(p) for p in pads) < 0:
            raise ValueError(f"{fn}: `padding` must be non-negative, got {pads}")
        # Up to the span of a window less one cell: the first window's last tap (and the last
        # window's first) is then still a real cell.
        most = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
        if any(max(p) > m for p, m in zip(pads, most)):
            raise ValueError(
                f"{fn}: `padding` per side must be at most dilation * (kernel_size - 1) = "
                f"{most}, got {pads}")
    else:
        if min(padding) < 0:
            raise ValueError(f"{fn}: `padding` must be non-negative, got {padding}")
        # PyTorch (2.x CPU) bounds padding by half the kernel size, dilation not counted.
        if any(p > k // 2 for p, k in zip(padding, kernel)):
            raise ValueError(
                f"{fn}: `padding` must be at most half of `kernel_size` {kernel}, got {padding}"
            )
        pads = tuple((p, p) for p in padding)
    maybe_axes = [window_bounds(size, k, s, d, pb, pa, ceil_mode, arrays)
                  for size, k, s, d, (pb, pa) in zip(sizes, kernel, stride, dilation, pads)]
    axes = [a for a in maybe_axes if a is not None]
    if len(axes) < len(maybe_axes):
        raise ValueError(
            f"{fn}: output size would be empty for input size "
            f"({', '.join(AXIS_NAMES[n])}) = {tuple(sizes)} with kernel_size={kernel}, "
            f"stride={stride}, padding={padding!r}, dilation={dilation}"
        )
    clipped = _clipped(sizes[-1], axes[-1].out_size, kernel[-1], stride[-1], dilation[-1],
                       axes[-1].pad_before)
    return Geometry(tuple(axes), kernel, stride, dilation, clipped)


def _adaptive_geometry(fn: str, shape, axes, output_size) -> Geometry:
    """The windows of adaptive pooling of the spatial ``axes`` of ``shape`` to ``output_size``
    (an int, or one entry per axis; None keeps that axis's size).

    Where an axis's windows all have one size k and start s apart (13 -> 6: k = 3, s = 2;
    always when the output divides the size), they are max_pool's windows for (k, s) (the
    same bounds, checked) and keep the kernels' fast path. Otherwise they differ in size:
    the kernels then take their general (clipped) path, each window's own first tap and tap
    count (``stride`` 1 stands for "no common step")."""
    n = len(axes)
    sizes = tuple(shape[a] for a in axes)
    outs = adaptive_output_size(fn, sizes, output_size)
    arrays = all(k > 0 for k in without_axes(shape, axes))  # an empty batch reads nothing
    windows, kernel, stride, clipped = [], [], [], False
    for m, o in zip(sizes, outs):
        if not arrays:
            windows.append(AxisWindows(o, 0, 0, _NO_WINDOWS, _NO_WINDOWS, _NO_WINDOWS))
            kernel.append(-(-m // o) + 1 if o else 1)  # no window is wider
            stride.append(1)
            continue
        w, k, s, uneven = _adaptive_axis(m, o)
        clipped = clipped or uneven
        windows.append(w)
        kernel.append(k)
        stride.append(s)
    return Geometry(tuple(windows), tuple(kernel), tuple(stride), (1,) * n, clipped or not arrays)


def _adaptive_axis(size: int, out: int):
    """One axis of :func:`_adaptive_geometry`: its windows, kernel and stride, and whether
    they differ in size (cached: the comparison costs more than a small call's kernel)."""
    key = ("adaptive-axis", size, out)
    cached = _WINDOWS.get(key)
    if cached is not None:
        return cached
    w = adaptive_bounds(size, out)
    if out == 0:  # no windows (PyTorch's empty result): any kernel of one tap reads nothing
        return (w, 1, 1, True)
    k, s = int(w.count[0]), (int(w.lo[1]) if out > 1 else size)
    tiled = window_bounds(size, k, s, 1, 0, 0, False) if s > 0 else None
    if (tiled is not None and tiled.out_size == out and np.array_equal(tiled.lo, w.lo)
            and np.array_equal(tiled.count, w.count)):
        result = (tiled, k, s, False)  # the same windows, as max_pool's
    else:
        result = (w, int(w.count.max()), 1, True)
    win = result[0]
    _WINDOWS.put(key, result, win.lo.nbytes + win.count.nbytes + win.padded_count.nbytes)
    return result


def adaptive_output_size(fn: str, sizes, output_size) -> Tuple[int, ...]:
    """``output_size`` of an adaptive op over axes of ``sizes``: an int, or one entry per axis
    (None keeps that axis's size); positive."""
    n = len(sizes)
    items = output_size.tolist() if isinstance(output_size, np.ndarray) else output_size
    if isinstance(items, (tuple, list)) and len(items) == n:  # None keeps an axis's size
        items = tuple(m if v is None else v for v, m in zip(items, sizes))
    outs = _tuple("output_size", items, fn, n, f"{_AN_INT_OR_TUPLE[n]} (None keeps an axis)")
    if min(outs) < 0:
        raise ValueError(f"{fn}: `output_size` must be non-negative, got {outs}")
    return outs


def is_global_size(output_size) -> bool:
    """Whether an adaptive ``output_size`` asks for one output per block (1, or all 1s): the
    global ops then serve (same windows, same results, their faster kernels)."""
    items = output_size.tolist() if isinstance(output_size, np.ndarray) else output_size
    if isinstance(items, (tuple, list)):
        return len(items) > 0 and all(_is_int(v) and v == 1 for v in items)
    return _is_int(items) and items == 1


def adaptive_backward_geometry(fn, grad_output, input_shape, axes, n: int):
    """The normalised input shape and axes, and the geometry of the adaptive op that maps
    ``input_shape`` to ``grad_output``'s spatial shape (the output size is read from it)."""
    shape, axes = input_shape_arg(input_shape, axes, fn, n)
    g = as_array(grad_output, "grad_output", fn)
    if g.ndim != len(shape):
        raise ValueError(
            f"{fn}: `grad_output` must have the {len(shape)} dimensions of `input_shape` "
            f"{shape}, got shape {g.shape}")
    geom = _adaptive_geometry(fn, shape, axes, tuple(g.shape[a] for a in axes))
    return shape, axes, geom, pooled_shape(shape, axes, geom.out_sizes)


# The one row of a 1-D op's input, as the kernels' row windows see it.
_ONE_ROW = typing.cast(AxisWindows, window_bounds(1, 1, 1, 1, 0, 0, False))


# ---------------------------------------------------------------------------------------------
# arrays: input layout, outputs, threads
# ---------------------------------------------------------------------------------------------
def as_array(value, name: str, fn: str) -> np.ndarray:
    """``np.asarray(value)``; NumPy's conversion errors (a ragged nested list, ...) are re-raised
    naming the function and the argument.

    A subclass of ndarray is pooled as the plain array of its data (``np.asarray``'s view): an
    ``np.matrix`` stays 2-D under every reshape, which the ops' own reshapes of their inputs
    rely on (it reached them, and failed with NumPy's "cannot reshape" message). A masked
    array with masked elements is an error: its data under the mask would be pooled as if
    unmasked, a silent wrong answer."""
    if type(value) is np.ndarray:
        return value
    if isinstance(value, np.ma.MaskedArray):
        masked = int(np.count_nonzero(np.ma.getmask(value)))  # nomask (False) counts 0
        if masked:
            raise ValueError(
                f"{fn}: `{name}` is a masked array with {masked} masked element(s); pooling "
                f"would read the data under the mask. Pass `{name}.filled(value)` to choose "
                f"what they stand for")
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{fn}: `{name}` could not be converted to an array: {exc}") from None


def _input(x, axes, op: str, fn: str, n: int = 2):
    """``x`` as an array, its n spatial ``axes`` normalised (non-empty), and its dtypes for
    ``op`` (see _compute_dtype)."""
    x = as_array(x, "x", fn)
    names = ", ".join(AXIS_NAMES[n])
    if x.ndim < n:
        raise ValueError(
            f"{fn}: `x` must have at least {n} dimension{'s' if n > 1 else ''} (..., {names}), "
            f"got shape {x.shape}")
    axes = spatial_axes(axes, x.ndim, fn, n)
    dtypes = _compute_dtype(x.dtype, op, fn)
    if min(x.shape[a] for a in axes) < 1:
        raise ValueError(
            f"{fn}: the pooled axes {axes} ({names}) must be non-empty, got shape {x.shape}")
    return (x, axes) + dtypes


def _aligned(a: np.ndarray) -> bool:
    """Whether a kernel may address ``a`` through a typed pointer: its data pointer and the
    stride of every axis longer than 1 are multiples of the item size. A record field
    (``s["b"]`` of a packed structured array) or a hand-made byte stride is not; the kernels
    step rows in whole items, and a misaligned typed access is undefined behaviour in C."""
    item = a.itemsize
    return a.flags.aligned and all(st % item == 0 for n, st in zip(a.shape, a.strides) if n > 1)


def _cached_copy(a: np.ndarray, dtype: np.dtype, keep_layout: bool = False,
                 threads: int = 1) -> np.ndarray:
    """A copy of ``a`` in ``dtype`` (NumPy's unsafe cast), in memory the buffer cache can give
    again to the next call's copy: fresh pages for a copy took about as long as the pooling
    itself. C-contiguous (as ``np.asarray(a, dtype)``), or with ``keep_layout`` its axes laid
    out in memory in the order of ``a``'s (as ``a.astype(dtype)``, NumPy's order "K"), so that
    the kernels read the copy as they would have read ``a``. ``threads``: see
    :func:`cast_into`."""
    if keep_layout and not a.flags.c_contiguous:
        order = _memory_order(a, range(a.ndim))
        copy = empty(tuple(a.shape[i] for i in order), dtype)
        cast_into(copy, a.transpose(order), threads)
        return copy.transpose(np.argsort(order))
    copy = empty(a.shape, dtype)
    cast_into(copy, a, threads)
    return copy


def _memory_order(a: np.ndarray, axes) -> List[int]:
    """``axes`` of ``a`` in the order its memory holds them, outermost first: by decreasing
    stride (a stable sort keeps the order of unit axes, whose strides say nothing)."""
    return sorted(axes, key=lambda i: -abs(a.strides[i]))


def cast_into(dst: np.ndarray, src: np.ndarray, threads: int = 1) -> None:
    """``src``'s values into ``dst`` (of its shape), converted to ``dst``'s dtype with NumPy's
    unsafe cast and its bits: the kernels' inputs' copies and their results' conversions (a
    float32 result into a float16 one). float16 to or from float32 goes by F16C
    (:mod:`cpool._kernels._convert`; NumPy's cast runs a value at a time) between C-contiguous
    runs, through a plain copy in one dtype where either side is strided; another byte order
    into the native one by ``_convert.swap_bytes`` between C-contiguous runs; a copy in one dtype
    whose two sides run fastest along different axes, by tiled transposes
    (:func:`_transposing_axes`). A value past the narrower type's range becomes inf, IEEE's
    rounding of it, without the RuntimeWarning NumPy's cast gives: the kernels' own
    arithmetic overflows to inf silently, as PyTorch's does, so a float16 sum that overflows
    must not warn (and, under ``-W error``, raise) where a float32 one does not.

    ``threads``: the tiles, the float16 conversions and the byte swaps run on that many (the
    call's own count, :func:`_copy_threads`); NumPy's copies on one."""
    if src.dtype == dst.dtype and src.nbytes >= _TILED_COPY_BYTES:
        axes = _transposing_axes(dst, src)
        if axes is not None:
            shape, s_st, d_st, i, j = axes
            _tiled_copy(dst, src, shape, s_st, d_st, i, j, threads)
            return
    if _byte_swapped(src.dtype, dst.dtype):
        if src.flags.c_contiguous and dst.flags.c_contiguous:  # by _convert, on the threads
            _convert.swap_bytes(src.reshape(-1).view(_UINT8), dst.reshape(-1).view(_UINT8),
                                dst.itemsize, threads)
            return
    elif _convert.f16c_usable and (src.dtype, dst.dtype) in _HALF_PAIRS:
        if not dst.flags.c_contiguous:
            run = empty(dst.shape, dst.dtype)
            cast_into(run, src, threads)
            np.copyto(dst, run)
            return
        src = contiguous(src, src.dtype, threads)
        if src.dtype == _FLOAT16:
            _convert.widen(src.reshape(-1).view(_UINT16), dst.reshape(-1), threads)
        else:
            _convert.narrow(src.reshape(-1), dst.reshape(-1).view(_UINT16), threads)
        return
    with np.errstate(over="ignore"):
        np.copyto(dst, src, casting="unsafe")


_HALF_PAIRS = ((_FLOAT16, _FLOAT32), (_FLOAT32, _FLOAT16))


def _byte_swapped(src: np.dtype, dst: np.dtype) -> bool:
    """Whether ``src`` is ``dst`` (a native integer or floating dtype of 2, 4 or 8 bytes) in
    the other byte order: a copy between them reverses each item's bytes."""
    return (src != dst and dst.isnative and dst.kind in "iuf" and dst.itemsize in (2, 4, 8)
            and src.newbyteorder("=") == dst)


_UNSIGNED_OF_SIZE = {n: np.dtype(f"u{n}") for n in (1, 2, 4, 8)}
# Smaller copies stay in cache whatever their order: NumPy's copy, without the tiles' set-up.
_TILED_COPY_BYTES = 1 << 16
# Batches of transposes past this many per copy are left to NumPy (the loop over them is
# Python's; a copy of so many small matrices gains little from tiles).
_MAX_TILED_CALLS = 1 << 10


def _transposing_axes(dst: np.ndarray, src: np.ndarray) -> Optional[
        Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...], int, int]]:
    """How to copy ``src`` into ``dst`` (same shape and dtype) as 2-D transposes: where the
    axis along which ``src``'s items lie next to each other in memory is not ``dst``'s (a
    Fortran-ordered array copied into C order, channels-last memory seen as NCHW, a
    transposed view), NumPy's copy, which follows one side's order, reads or writes the other
    side an item per cache line, 20-40x the time of a copy in order ((32, 256, 56, 56)
    float32 in Fortran order: 480 ms against 12).

    Returns (shape, src_strides, dst_strides, i, j): the arrays' axes with unit axes left out
    and neighbours merged where both step over them as one run, and ``i`` and ``j``, the axes
    along which ``src`` and ``dst`` run item by item; None where that does not apply (the same
    axis, no such axis, items of other sizes, either array misaligned or stepping in parts of
    items, too many matrices)."""
    item = src.itemsize
    if item not in _UNSIGNED_OF_SIZE or not (_aligned(src) and _aligned(dst)):
        return None
    shape: List[int] = []
    s_st: List[int] = []
    d_st: List[int] = []
    for n, a, b in zip(src.shape, src.strides, dst.strides):
        if n == 1:
            continue
        if shape and s_st[-1] == a * n and d_st[-1] == b * n:
            shape[-1] *= n
            s_st[-1], d_st[-1] = a, b
        else:
            shape.append(n)
            s_st.append(a)
            d_st.append(b)
    if len(shape) < 2:
        return None
    i = min(range(len(shape)), key=lambda k: abs(s_st[k]))
    j = min(range(len(shape)), key=lambda k: abs(d_st[k]))
    if i == j or s_st[i] != item or d_st[j] != item:
        return None
    rest = [shape[k] for k in range(len(shape)) if k not in (i, j)]
    if math.prod(rest) // max(rest, default=1) > _MAX_TILED_CALLS:
        return None
    return tuple(shape), tuple(s_st), tuple(d_st), i, j


def _tiled_copy(dst: np.ndarray, src: np.ndarray, shape, s_st, d_st, i: int, j: int,
                threads: int = 1) -> None:
    """``src`` into ``dst`` by :func:`_transposing_axes`' plan: matrices of ``src``'s axes
    (``j``, ``i``) into ``dst``'s (``i``, ``j``), a batch of them along the largest other axis
    per call of the tiled transpose, the rest of the axes looped over here."""
    rest = [k for k in range(len(shape)) if k not in (i, j)]
    batch = max(rest, key=lambda k: shape[k]) if rest else None
    loops = [k for k in rest if k != batch]
    item = _UNSIGNED_OF_SIZE[src.itemsize]
    as_strided = np.lib.stride_tricks.as_strided
    s_all = as_strided(src, shape, s_st, writeable=False).view(item)
    d_all = as_strided(dst, shape, d_st).view(item)
    order_s = loops + ([batch] if batch is not None else []) + [j, i]
    order_d = loops + ([batch] if batch is not None else []) + [i, j]
    s_all, d_all = s_all.transpose(order_s), d_all.transpose(order_d)
    if batch is None:
        s_all, d_all = s_all[None], d_all[None]
    for index in np.ndindex(*[shape[k] for k in loops]):
        _convert.transpose(s_all[index], d_all[index], threads)


def contiguous(a: np.ndarray, dtype: np.dtype, threads: int = 1) -> np.ndarray:
    """``a`` in ``dtype``, C-contiguous and aligned: ``a`` itself when it already is, else a
    copy (:func:`_cached_copy`, on ``threads``)."""
    flags = a.flags
    if a.dtype == dtype and flags.c_contiguous and flags.aligned:
        return a
    return _cached_copy(a, dtype, threads=threads)


def _copy_threads(num_threads, a: np.ndarray, fn: str) -> int:
    """The threads a copy of ``a`` for a call of ``num_threads`` runs on: the call's count,
    capped as a kernel's is by the work (its reads and writes) and, for the default count, by
    the machine's load (:func:`_threads_for`)."""
    return _threads_for(num_threads, 2 * a.size, max(1, a.nbytes >> 16), fn)


def _converted(x: np.ndarray, dtype: np.dtype, threads: int = 1) -> np.ndarray:
    """``x`` in ``dtype``, aligned to its item size: ``x`` itself, a view (bool as uint8), or a
    copy (another dtype or byte order, keeping the memory layout; or a misaligned layout, see
    :func:`_aligned`, copied in C order)."""
    if x.dtype == _BOOL:  # max of bool runs on the uint8 view of the same bytes
        x = x.view(_UINT8)
    elif x.dtype != dtype:  # float16 -> float32, byte-swapped -> native order
        x = _cached_copy(x, dtype, keep_layout=True, threads=threads)
    if not _aligned(x):
        x = _cached_copy(x, x.dtype, threads=threads)
    return x


def _dense_from(x: np.ndarray, axis: int) -> bool:
    """Whether ``x[i, ..., j]`` over the axes from ``axis`` on is one C-ordered run of items."""
    step = x.itemsize
    for n, st in zip(reversed(x.shape[axis:]), reversed(x.strides[axis:])):
        if n != 1 and st != step:
            return False
        step *= n
    return True


def _kernel_input(x: np.ndarray, dtype: np.dtype, axes, channels_last: bool,
                  spaced_pixels: bool = False, movable: bool = True, threads: int = 1):
    """The input as the kernels read it: ``(view, lanes, pixel, moved)``.

    ``axes``: (H, W), or (D, H, W) for 3-D windows, whose view is (B, D, H, row) (the batch
    axes merged into one; see :func:`_kernel_view`). 1-D ops pass their input with a unit H
    axis inserted (:func:`_with_unit_rows`).

    * Channels-last (``channels_last`` allowed, W right after H, further axes after W: NHWC,
      HWC, ...): ``view`` is (B0, B1, H, row), each row the W pixels of C = ``lanes`` channels,
      ``pixel`` values apart, read in place: a row is ``(W-1)*pixel + C`` values. Pixels are
      dense (``pixel`` = C) when the axes from W on are one C-ordered run; with
      ``spaced_pixels`` (kernels that read each pixel on its own) a slice of the channels is
      read in place too (``pixel`` > C). Otherwise: when W's stride is one item (NCHW memory
      seen as NHWC) and ``movable`` (the channels-last and the planes kernels give the same
      bits: the windowed ones), the spatial axes are moved last instead (no copy); else the
      input is copied once, in C order.
    * Otherwise (``lanes`` 1): the spatial axes moved last, (B0, B1, H, W) as
      :func:`_kernel_view` makes it; ``moved`` tells whether they were not already last.

    Copies run on ``threads`` (:func:`_copy_threads`).
    """
    x = _converted(x, dtype, threads)
    ah, aw = axes[-2:]
    depth = len(axes) == 3
    if channels_last and _consecutive(axes) and aw < x.ndim - 1 and x.size:
        item, W = x.itemsize, x.shape[aw]
        lanes = math.prod(x.shape[aw + 1:])
        pixel = lanes
        # Not one C-ordered run from W on (a W of 1 is skipped: its channels must still be).
        if not _dense_from(x, aw):
            step = x.strides[aw]
            # A slice of one channel is not read in place: the kernels take one lane as a
            # plane, whose rows must be dense (read in place, the global ops' planes kernel
            # read the other channels' values as the slice's until 2026-12-06).
            if (spaced_pixels and lanes > 1 and _dense_from(x, aw + 1) and step > 0
                    and step % item == 0 and step // item >= lanes):
                pixel = step // item  # a slice of the channels, read in place
            elif step == item and movable:
                return _kernel_view(spatial_last(x, axes), depth, threads), 1, 1, True
            else:
                x = _cached_copy(x, x.dtype, threads=threads)
        rows = np.lib.stride_tricks.as_strided(
            x, x.shape[:aw] + ((W - 1) * pixel + lanes,), x.strides[:aw] + (item,),
            writeable=False)
        return _kernel_view(rows, depth, threads), lanes, pixel, False
    moved = tuple(axes) != tuple(range(x.ndim - len(axes), x.ndim))
    return _kernel_view(spatial_last(x, axes), depth, threads), 1, 1, moved


def _consecutive(axes) -> bool:
    """Whether the spatial ``axes`` are adjacent and in order (D, H, W: a channels-last
    layout when further axes follow W)."""
    return all(b == a + 1 for a, b in zip(axes, axes[1:]))


def _with_unit_rows(x: np.ndarray, axes, n: int):
    """A 1-D op's input as a one-row 2-D one: a unit H axis inserted before the L axis
    (a view); (x, axes) unchanged for 2-D and 3-D ops."""
    if n != 1:
        return x, axes
    a = axes[0]
    return np.expand_dims(x, a), (a, a + 1)


def _kernel_view(x: np.ndarray, depth: bool = False, threads: int = 1) -> np.ndarray:
    """A (B0, B1, H, W) view of ``x`` (already :func:`_converted`) whose last axis is contiguous.

    The leading axes are merged into two where their strides allow it (so sliced, transposed
    and broadcast batches need no copy). With ``depth`` (3-D windows) B1 is ``x``'s depth
    axis, third from last, and the axes before it merge into B0. A copy is made only when the
    kernel cannot read the layout: a strided last axis or batch axes that do not merge.
    """
    H, W = x.shape[-2:]
    kept = 3 if depth else 2  # trailing axes kept as they are
    n_groups = 1 if depth else 2
    if x.flags.c_contiguous:  # the common case, and the cheapest view to make
        if depth:
            return x.reshape((x.size // math.prod(x.shape[-3:]) if x.size else 0,)
                             + x.shape[-3:])
        return x.reshape((1, x.size // (H * W) if x.size else 0, H, W))
    item = x.itemsize
    if W > 1 and x.strides[-1] != item:
        x = _cached_copy(x, x.dtype, threads=threads)
    groups: List[Tuple[int, int]] = []  # (size, stride) of the batch axes after merging
    for n, st in zip(x.shape[:-kept], x.strides[:-kept]):
        if n == 1:
            continue
        if groups and groups[-1][1] == n * st:
            groups[-1] = (groups[-1][0] * n, st)
        else:
            groups.append((n, st))
    if len(groups) > n_groups:
        x = _cached_copy(x, x.dtype, threads=threads)
        groups = [(math.prod(x.shape[:-kept]), x.strides[-kept - 1])]
    groups = [(1, 0)] * (n_groups - len(groups)) + groups
    if depth:
        groups.append((x.shape[-3], x.strides[-3]))
    if any(n == 0 for n, _ in groups):
        return np.empty((0,) + ((x.shape[-3],) if depth else (1,)) + (H, W), x.dtype)
    shape = (groups[0][0], groups[1][0], H, W)
    strides = (groups[0][1], groups[1][1], x.strides[-2] if H > 1 else W * item, item)
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


def _result(out, shape, dtype: np.dtype, fn: str, name: str = "out") -> np.ndarray:
    """Check a caller's ``out=`` array, or allocate one."""
    if out is None:
        return empty(tuple(shape), dtype)
    # A matrix cannot take the result's shape, and a masked array's mask would be left as it
    # was over the new values; other subclasses (np.memmap) are written as arrays.
    if type(out) is not np.ndarray and (not isinstance(out, np.ndarray)
                                        or isinstance(out, (np.matrix, np.ma.MaskedArray))):
        raise TypeError(f"{fn}: `{name}` must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{fn}: `{name}` must have dtype {dtype}, got {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fn}: `{name}` must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{fn}: `{name}` must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{fn}: `{name}` is read-only")
    return out


def _kernel_targets(fn: str, results, views, given, kernel_dtypes, inputs, by_slabs=False):
    """The arrays the kernel writes, one per result: the result's ``view`` in the kernel's axis
    order (the result itself unless it has other axes than the spatial ones last), or a
    C-contiguous temporary that ``finish()`` copies into that view when the kernel cannot write
    it directly: a view that is not C-contiguous (spatial axes not last), another dtype
    (float16, bool), a caller's ``out`` that is misaligned or may share memory with an array the
    kernel reads (NumPy's rule for ``out=``: the answer is as if computed into a fresh array).
    With ``by_slabs`` (a float16 input read by slabs), a float16 values result that the kernel
    could write but for its dtype is its own target: :func:`by_slabs` narrows each slab's
    float32 values into it.

    Two of the caller's outputs sharing memory have no answer (one would overwrite the other):
    that is an error. Outputs are C-contiguous, so ``may_share_memory`` is exact for them.
    """
    mine = [r for r, g in zip(results, given) if g]
    for i, a in enumerate(mine):
        if any(np.may_share_memory(a, b) for b in mine[i + 1:]):
            raise ValueError(f"{fn}: the arrays in `out` overlap in memory; pass separate arrays")
    targets = []
    for r, v, g, dtype in zip(results, views, given, kernel_dtypes):
        direct = (v.dtype == dtype or (by_slabs and v.dtype == _FLOAT16)) and (
            v.flags.c_contiguous and not (
                g and (not _aligned(r) or any(np.may_share_memory(r, a) for a in inputs))))
        targets.append(v if direct else empty(v.shape, dtype))
    return tuple(targets)


def _finish(results, views, targets, threads: int = 1):
    """Copy temporaries into the results' views (see :func:`_kernel_targets`), on ``threads``;
    return the result(s)."""
    if targets is not views:  # a recorded plan's kernel writes its results' views themselves
        for v, t in zip(views, targets):
            if t is not v:
                cast_into(v, t, threads)
    return results[0] if len(results) == 1 else results


def _threads_for(num_threads, work: int, tasks: int, fn: str) -> int:
    """Resolve ``num_threads`` and cap it so each thread gets enough work to pay for itself."""
    n = _threads.resolve(num_threads, fn)
    nt = max(1, min(n, tasks, work // _MIN_WORK_PER_THREAD))
    return _threads.for_load(nt, work) if num_threads is None else nt


class Plan(NamedTuple):
    """What one kernel call needs, and how to turn its output into the public result."""

    x: np.ndarray                 # (B0, B1, H, W * lanes) kernel input view
    out: np.ndarray               # kernel output, 4-D (windowed) or 1-D (global), C-contiguous
    indices: Optional[np.ndarray]  # int64 kernel index output, same layout as `out`, or None
    results: tuple                # what the caller gets back: (values,) or (values, indices)
    views: tuple                  # the results in the kernel's axis order
    targets: tuple                # what the kernel writes, each a view or a temporary
    geometry: Optional[Geometry]  # windowed ops
    task_size: int                # global ops: rows per band of a plane, or channels per task
                                  # (channels-last)
    lanes: int                    # values per pixel: C for channels-last input, else 1
    pixel: int                    # values from one pixel to the next (>= lanes)
    num_threads: int
    kernel_args: Optional[tuple] = None  # separable_args (windowed ops)
    counts: Optional[tuple] = None       # avg_divisors (averages)
    slabs: Optional["InputSlabs"] = None  # an input converted a slab at a time (by_slabs)
    # The kernels' versions for x's and out's dtypes (_kernels.Specialisations): a plan's
    # kernel call is ``plan.specialised[kernel](plan.x, plan.out, ...)``.
    specialised: Any = None

    def finish(self):
        # _finish's first test, here: a recorded plan's kernel writes its results themselves,
        # and every repeated call comes here.
        results = self.results
        if self.targets is results:
            return results[0] if len(results) == 1 else results
        return _finish(results, self.views, self.targets, self.num_threads)


# ---------------------------------------------------------------------------------------------
# inputs converted a slab at a time: float16, and other byte orders
# ---------------------------------------------------------------------------------------------
# The kernels compute float16 in float32, and read their own byte order. Converting a whole
# float16 input first wrote a float32 copy twice its size to memory and read it back (three
# times the input's traffic before the kernel wrote anything), and the float32 result the same
# way on its way back to float16; a byte-swapped input was copied whole too. Converted a slab
# of planes at a time into a buffer that stays in the core's cache, the input is read once
# from memory and the float16 result written once. A slab is about this many bytes of the
# kernel's dtype per thread (each thread converts, then pools, about its own share: both split
# a slab's planes in order).
_SLAB_BYTES = 1 << 19
# On more than _SLABS_ALWAYS_THREADS threads, inputs whose copy in the kernel's dtype is at
# most this many bytes are converted whole: each slab costs about 6 us of Python (its three
# kernel calls) and forks and joins the threads three times (its conversion, the kernel, the
# result's), a cost that grows with the team where each thread's share of a slab does not.
# At one and two threads slabs took less time at every size once the conversions took their
# NaN-aware steps only where a step holds a NaN (2026-12-04): two threads, whole against
# slabs, float16 (N, 256, 56, 56), N = 2, 4, 8 (float32 copies of 6 to 26 MB), 0.59-0.97 of
# the time over 13 forward ops and three gradients (per slab 10 us at two threads, 6 at one).
# Before that change, at two threads, avg 3x3 s1 p1 took 1.24 and 1.41 times as long by slabs
# at N = 4 and 8. Teams of more than two threads are not measured here: they keep the rule.
_WHOLE_COPY_BYTES = 1 << 25
_SLABS_ALWAYS_THREADS = 2


class InputSlabs(NamedTuple):
    """How :func:`by_slabs` runs a kernel over an input converted a slab at a time (float16, or
    another byte order). The plan's ``x`` is the kernel dtype's buffer of one slab, and its
    ``out`` (and ``indices``) the kernel's outputs: whole, each slab writing its part, or,
    where ``results`` is given (float16), ``out`` is one slab's float32 buffer too, narrowed
    into ``results`` after each slab."""

    src: np.ndarray                # the input in the kernel's view, C-contiguous, its own dtype
    axis: int                      # the view's axis cut into slabs: 0, or 1 where axis 0 is 1
    step: int                      # items of that axis per slab
    results: Optional[np.ndarray]  # the float16 values result in the kernel's output shape
    flat: bool                     # the kernel takes its outputs 1-D (global ops)


def _by_slabs(dtype: np.dtype, kernel_dtype: np.dtype) -> bool:
    """Whether an input of ``dtype`` that the kernels read in ``kernel_dtype`` is one that
    :func:`by_slabs` converts a slab at a time: float16 (into float32), or another byte
    order of the kernel's dtype."""
    return dtype == _FLOAT16 or _byte_swapped(dtype, kernel_dtype)


def _slabbed_kernel_input(x: np.ndarray, kernel_dtype: np.dtype, axes, channels_last: bool,
                          spaced_pixels: bool, num_threads, fn: str, movable: bool = True,
                          allowed: bool = True, depth: bool = False, whole_images: bool = False):
    """:func:`_kernel_input`'s ``(view, lanes, pixel, moved)`` and the input's slabs (``(axis,
    step)`` of :func:`_input_slabs`, or None): an input :func:`_by_slabs` takes (where
    ``allowed``) is viewed in its own dtype, and converted whole only where it does not go by
    slabs. ``depth``: 3-D windows; ``whole_images``: a kernel that splits channels-last images
    into blocks of channels (:func:`_slab_step`'s ``per_thread``). Copies run on the call's
    threads (:func:`_copy_threads`)."""
    threads = _copy_threads(num_threads, x, fn)
    slabbed = allowed and _by_slabs(x.dtype, kernel_dtype)
    xk, lanes, pixel, moved = _kernel_input(x, x.dtype if slabbed else kernel_dtype, axes,
                                            channels_last, spaced_pixels, movable, threads)
    slabs = (_input_slabs(xk, kernel_dtype, depth, threads, whole_images and lanes > 1)
             if slabbed else None)
    if slabbed and slabs is None:
        xk = _converted(xk, kernel_dtype, threads)
    return xk, lanes, pixel, moved, slabs


def _input_slabs(xk: np.ndarray, kernel_dtype: np.dtype, depth: bool, threads: int,
                 per_thread: bool = False) -> Optional[Tuple[int, int]]:
    """(axis, step) for :class:`InputSlabs` over ``xk``, the kernel's view of an input of a
    dtype :func:`_by_slabs` takes; None where it is not read by slabs (it is then converted
    whole, as other dtypes' copies are): not C-contiguous, one slab's worth or less (the slabs'
    set-up, a few microseconds, is then all they would change), or on more than
    _SLABS_ALWAYS_THREADS threads a copy of _WHOLE_COPY_BYTES or less. 3-D windows span the
    view's axis 1 (depth): their slabs cut axis 0 alone."""
    if not xk.flags.c_contiguous:
        return None
    axis = 0 if depth or xk.shape[0] > 1 else 1
    step = _slab_step(xk.shape[axis], math.prod(xk.shape[axis + 1:]) * kernel_dtype.itemsize,
                      threads, per_thread)
    return None if step is None else (axis, step)


def _slab_step(units: int, unit_bytes: int, threads: int,
               per_thread: bool = False) -> Optional[int]:
    """Units (planes, images, volumes) per slab of an array of ``units`` converted a slab at a
    time on ``threads``, each ``unit_bytes`` in the kernel's dtype; None where it is converted
    whole: one slab's worth or less, or on more than _SLABS_ALWAYS_THREADS threads a copy of
    _WHOLE_COPY_BYTES or less.

    ``per_thread``: a multiple of ``threads`` units, so that each thread takes whole units,
    as the conversions split the slab. For the kernels whose tasks are whole planes (the
    gradients: a slab of one 3-D volume ran on one thread of two) and for channels-last
    images, which the kernels split into blocks of channels where there are fewer images than
    threads: blocks of channels leave each thread half of every pixel written by the other
    core to read from its cache (max backward on (32, 56, 56, 256) at two threads took
    14.8 ms whole, 19.8 by slabs of one image in two blocks, 10.7 by slabs of two images)."""
    if threads > _SLABS_ALWAYS_THREADS and units * unit_bytes <= _WHOLE_COPY_BYTES:
        return None
    step = max(1, _SLAB_BYTES * threads // max(unit_bytes, 1))
    if per_thread:
        step = -(-step // threads) * threads
    return step if step < units else None


def _slab(axis: int, start: int, stop: int) -> tuple:
    """The index of items ``start:stop`` of ``axis`` (0 or 1)."""
    return (slice(start, stop),) if axis == 0 else (slice(None), slice(start, stop))


def by_slabs(plan: Plan, kernel, *args, row_origin=None, **kwargs) -> list:
    """``kernel(x, out, [indices,] *args, **kwargs)`` (indices where the plan has them) over an
    input converted a slab at a time (:class:`InputSlabs`): each slab converted into the
    plan's buffer, pooled into its part of the outputs (or into the output buffer, then
    narrowed into the float16 result). Planes never span slabs, so every value and index is
    the one a whole conversion gives. ``row_origin`` (the stochastic kernel's: one value per
    plane of the whole input) reaches each slab's call as its planes' part. Returns the
    kernel's return values, a slab's each."""
    src, axis, step, results, flat = typing.cast(InputSlabs, plan.slabs)
    x, out, indices, threads = plan.x, plan.out, plan.indices, plan.num_threads
    units = src.shape[axis]
    planes_per_unit = src.shape[1] if axis == 0 else 1
    returned = []
    for start in range(0, units, step):
        stop = min(units, start + step)
        part = _slab(axis, start, stop)
        part_src = src[part]
        # The buffer's head, C-contiguous with strides of its own shape (the kernels take a
        # dense block's fast path by its strides; a slice of the buffer has the buffer's).
        xs = x.reshape(-1)[:part_src.size].reshape(part_src.shape)
        cast_into(xs, part_src, threads)
        if results is not None:
            part_out = results[part]
            outs = [out.reshape(-1)[:part_out.size].reshape(part_out.shape)]
        else:
            outs = [out[part]]
        if indices is not None:
            outs.append(indices[part])
        if flat:
            outs = [o.reshape(-1) for o in outs]
        if row_origin is not None:
            kwargs["row_origin"] = row_origin[start * planes_per_unit:stop * planes_per_unit]
        returned.append(kernel(xs, *outs, *args, **kwargs))
        if results is not None:
            cast_into(part_out, outs[0], threads)
    return returned


def separable_args(g: Geometry, lanes: int, pixel: int) -> tuple:
    """The windowed kernels' geometry arguments: the window bounds packed in one array (depth
    bounds per output slice, for 3-D ops, else none; vertical bounds per output row; horizontal
    bounds per output column: each axis's first taps, then its tap counts) with the counts of
    each axis's bounds; the depth dilation, the vertical stride (for the kernels' prefetch) and
    dilation; the horizontal window over the padded row; whether the kernel takes its general
    (clipped) path, whether each plane has its own windows (``per_plane``), and the pixels'
    ``lanes`` and ``pixel``. A 1-D op's rows are one row high (``g.h``). One array, not six:
    each array argument costs a tiny call the acquisition of a memoryview."""
    d, h, w = g.d, g.h, g.w
    _, sh, dh = g.axis_params(1)
    kw, sw, dw = g.axis_params(2)
    parts: Tuple[np.ndarray, ...] = (h.lo, h.count, w.lo, w.count)
    if d is not None:
        parts = (d.lo, d.count) + parts
    return (np.concatenate(parts, dtype=np.intp), 0 if d is None else d.lo.size, h.lo.size,
            w.lo.size, 1 if d is None else g.dilation[0], sh, dh, kw, sw, dw, w.pad_before,
            g.clipped, g.per_plane, lanes, pixel)


def _buffers(fn: str, out, shape, kernel_dtype, result_dtype, with_indices: bool, inputs,
             axes=None, by_slabs=False):
    """Check or allocate the results (in the caller's axis order); return (results, their
    views in the kernel's order, kernel targets). ``axes``: the results' (H, W) axes, moved
    last for the kernel; None for results without spatial axes (global ops), whose other axes
    are already in the kernel's order. ``by_slabs``: see :func:`_kernel_targets`."""
    results, given, kernel_dtypes = _checked_results(fn, out, shape, kernel_dtype, result_dtype,
                                                     with_indices)
    return (results,) + _views_and_targets(fn, results, given, kernel_dtypes, inputs, axes,
                                           by_slabs)


def _views_and_targets(fn: str, results, given, kernel_dtypes, inputs, axes, by_slabs=False):
    """The ``results``' views in the kernel's axis order (``axes`` as in :func:`_buffers`)
    and the arrays the kernel writes for them (:func:`_kernel_targets`)."""
    views = results if axes is None else tuple(spatial_last(r, axes) for r in results)
    return views, _kernel_targets(fn, results, views, given, kernel_dtypes, inputs, by_slabs)


def _checked_results(fn: str, out, shape, kernel_dtype, result_dtype, with_indices: bool):
    """:func:`_buffers`' results (a caller's ``out=``, checked, or new arrays), which of them
    the caller gave, and the dtypes the kernel writes them in."""
    out_values, out_indices = out, None
    if with_indices and out is not None:
        if not isinstance(out, tuple):
            raise TypeError(
                f"{fn}: with return_indices=True, `out` must be a tuple (values, indices), "
                f"got {type(out).__name__}"
            )
        if len(out) != 2:
            raise ValueError(
                f"{fn}: with return_indices=True, `out` must be a tuple (values, indices), "
                f"got a tuple of length {len(out)}"
            )
        out_values, out_indices = out
    results: Tuple[np.ndarray, ...] = (_result(out_values, shape, result_dtype, fn),)
    given: Tuple[bool, ...] = (out_values is not None,)
    kernel_dtypes: Tuple[np.dtype, ...] = (kernel_dtype,)
    if with_indices:
        results += (_result(out_indices, shape, _INT64, fn, "out[1]"),)
        given += (out_indices is not None,)
        kernel_dtypes += (_INT64,)
    return results, given, kernel_dtypes


# ---------------------------------------------------------------------------------------------
# repeated calls: the plan of a call like an earlier one, without validating it again
# ---------------------------------------------------------------------------------------------
# Validation costs 15 us a call (argument normalisation, the geometry's window bounds, the
# kernel view), several times a small input's kernel time. A call whose input is a plain
# C-contiguous, aligned, non-empty ndarray and whose arguments are ints, bools, strings, None
# and tuples of them has a plan determined by their values and types (True is not 1): the
# plan's fresh parts (the input's view, new outputs) are rebuilt from a recipe recorded the
# first time. Errors are never recorded: an invalid call validates, and raises, every time.
# A caller's ``out=`` array takes the place of the new output where the kernel writes it as it
# is (_direct_out); one it cannot (another shape or dtype, strided, read-only, overlapping the
# input, a tuple with indices) is validated in full, every time (a (1, 1, 28, 28) avg_pool2d
# with ``out=`` paid the full validation on every call: 65 us against 12 us without it).


# Bounded by bytes as the window bounds are (their arrays are what a recipe holds).
_RECIPES = _BoundedCache(4 << 20)
# Recipes are looked up by entry, without get's move to the end: that move cost 0.3 us of a
# (1, 1, 2, 2) call. So they are dropped oldest recorded first, not least recently used: a
# recipe still in use is recorded again by its next call.
_recipe_entry = _RECIPES.entry


_new_tuple = tuple.__new__


class _Recipe(NamedTuple):
    """How to rebuild a recorded plan for a new input of the same key."""

    view_shape: Optional[tuple]   # the kernel's view of the input: a reshape of it (None: the
                                  # input as it is)
    shape: tuple                  # the results' shape
    result_dtype: np.dtype
    with_indices: bool
    kernel_shape: Optional[tuple]  # the kernel's outputs: a reshape of the results (None: the
                                   # results as they are)
    geometry: Optional[Geometry]  # windowed ops
    task_size: int                # global ops
    lanes: int
    pixel: int
    num_threads: int
    kernel_args: Optional[tuple]  # separable_args (windowed ops)
    counts: Optional[tuple]       # avg_divisors (averages)
    specialised: Any              # the plan's kernel versions (Plan.specialised)
    load_capped: bool             # num_threads was None, and the call is one the load caps
    work: int                     # values read and written
    new_result: Any               # np.empty, or empty for a result from the buffer cache
    new_indices: Any              # the same for the indices
    args: tuple                   # the recorded call's arguments (the objects themselves)
    arg_types: tuple              # their types (_arg_types)

    def plan(self, x: np.ndarray, out: Optional[np.ndarray] = None) -> Plan:
        # Every repeated call comes here: the fields unpacked at once (a named tuple's field
        # reads are Python-level properties) and the Plan made by tuple.__new__ (its
        # constructor is Python-level too) took 0.95 -> 0.6 us of a (1, 1, 2, 2) call; a
        # reshape to the shape an array already has is skipped (None), 0.25 us each.
        (view_shape, shape, result_dtype, with_indices, k4, geometry, task_size, lanes, pixel,
         num_threads, kernel_args, counts, specialised, load_capped, work, new_result,
         new_indices, _, _) = self
        result = new_result(shape, result_dtype) if out is None else out
        if load_capped:
            num_threads = _threads.for_load(num_threads, work)
        if with_indices:
            results: Tuple[np.ndarray, ...] = (result, new_indices(shape, _INT64))
            index_target = results[1] if k4 is None else results[1].reshape(k4)
        else:
            results = (result,)
            index_target = None
        return _new_tuple(Plan, (x if view_shape is None else x.reshape(view_shape),
                                 result if k4 is None else result.reshape(k4), index_target,
                                 results, results, results, geometry, task_size, lanes, pixel,
                                 num_threads, kernel_args, counts, None, specialised))


# Argument types whose values key a recipe: validation's outcome depends on the value and the
# type only (True is not 1; a float size is an error, never recorded).
_KEY_TYPES = frozenset((int, bool, str, type(None), np.bool_, np.int8, np.int16, np.int32,
                        np.int64, np.uint8, np.uint16, np.uint32, np.uint64))


def _arg_types(args: tuple) -> Optional[tuple]:
    """The types of ``args``, down to the pairs of per-side padding; None where one is not a
    type whose value keys a recipe (_KEY_TYPES)."""
    types: List[Any] = []
    for a in args:
        t = type(a)
        if t is tuple:
            for e in a:
                te = type(e)
                if te is tuple:
                    types.extend(map(type, e))
                    types.append(tuple)  # ((1, 2), 3) and (1, (2, 3)) differ
                else:
                    types.append(te)
            types.append(tuple)
        else:
            types.append(t)
    if not _KEY_TYPES.issuperset(t for t in types if t is not tuple):
        return None
    return tuple(types)


def _record(key: tuple, x: np.ndarray, plan: Plan, default_threads: bool) -> Plan:
    """Record ``plan`` (made for ``x``, its threads not capped by the load) under ``key`` where
    its recipe rebuilds it: its arguments are of the types a key holds, its input view is a
    reshape of ``x`` and its results are new arrays the kernel writes directly. Returns the
    plan with its threads for this call."""
    r = plan.results
    if plan.slabs is not None:  # float16 by slabs: x is not what the kernel reads
        work = plan.slabs.src.size + r[0].size
        arg_types = None
    else:
        view = x.reshape(plan.x.shape)  # x is C-contiguous: a view
        work = plan.x.size + plan.out.size
        args = key[-1]
        arg_types = _arg_types(args)
    if (arg_types is not None and plan.x.dtype == x.dtype and plan.x.strides == view.strides
            and plan.x.__array_interface__["data"][0] == view.__array_interface__["data"][0]
            and all(v is a for v, a in zip(plan.views, r))
            and all(t is a for t, a in zip(plan.targets, r))):
        g = plan.geometry
        kernel_args = plan.kernel_args
        # The geometry's arrays, their packed copy in kernel_args and an average's divisors.
        arrays = 0 if g is None or kernel_args is None else kernel_args[0].nbytes + sum(
            a.nbytes for w in g.windows for a in (w.lo, w.count, w.padded_count)) + sum(
            c.nbytes for c in plan.counts or ())
        _RECIPES.put(key, _Recipe(None if plan.x.shape == x.shape else plan.x.shape,
                                  r[0].shape, r[0].dtype, plan.indices is not None,
                                  None if plan.out.shape == r[0].shape else plan.out.shape,
                                  g, plan.task_size, plan.lanes, plan.pixel,
                                  plan.num_threads, kernel_args, plan.counts, plan.specialised,
                                  default_threads and _threads.load_capped(plan.num_threads, work),
                                  work, _allocator(r[0].nbytes),
                                  _allocator(r[0].size * _INT64.itemsize), args, arg_types),
                     arrays + 1024)
    if default_threads:
        return plan._replace(num_threads=_threads.for_load(plan.num_threads, work))
    return plan


def _allocator(nbytes: int):
    """What a recipe allocates a result of ``nbytes`` with: the buffer cache's ``empty`` where
    it may serve it (a call that small would pay its handler switch for nothing)."""
    return empty if nbytes >= _POOLED_BYTES else np.empty


_NDARRAY = np.ndarray


def _recorded(fn: str, op: str, x, out, num_threads, args):
    """(key, plan) of a call with these arguments: its key (None where it cannot be recorded)
    and its plan rebuilt from the recorded recipe (None where there is none yet).

    The arguments are in the key by value: equal values of other types (True and 1, 2 and 2.0)
    share a key, and a recipe is reused only for arguments of its recorded types. The key is
    made here, not by a helper of its own: a call's Python-level cost is a tenth of a (1, 1,
    2, 2) call, where every call comes here."""
    if (out is not None and type(out) is not _NDARRAY) or type(x) is not _NDARRAY:
        return None, None
    flags = x.flags
    if not (flags.c_contiguous and flags.aligned) or not x.size:
        return None, None
    key = (fn, op, x.shape, x.dtype, _threads.resolve(num_threads, fn), num_threads is None,
           args)
    try:
        entry = _recipe_entry(key)
    except TypeError:  # an unhashable argument (a list, an array): validated, never recorded
        return None, None
    if entry is None:
        return key, None
    recipe = entry[0]
    # The recorded call's own argument objects (small ints, True, None, a default tuple: the
    # usual repeat) are of its types; others are compared by type.
    if not (same_objects(args, recipe.args) or _arg_types(args) == recipe.arg_types):
        return None, None  # equal to a recorded call's arguments, of other types: validated
    if out is None:
        return key, recipe.plan(x)
    if _direct_out(out, recipe, x):
        return key, recipe.plan(x, out)
    return None, None  # an ``out`` the kernel cannot write as it is: validated, not recorded


def _direct_out(out: np.ndarray, recipe: "_Recipe", x: np.ndarray) -> bool:
    """Whether ``out`` (an ndarray) is what a recorded call's kernel writes directly: the
    result's shape and dtype, C-contiguous, aligned, writeable, sharing no memory with ``x``
    (the checks _result and _kernel_targets make; anything else is validated in full, which
    raises or copies through a temporary as it does for a first call)."""
    flags = out.flags
    return (not recipe.with_indices and out.shape == recipe.shape
            and out.dtype == recipe.result_dtype and flags.c_contiguous and flags.aligned
            and flags.writeable and not np.may_share_memory(out, x))


def _new_plan(key, x, num_threads, make, *args) -> Plan:
    """``make(*args)`` (validation), recorded under ``key`` where it can be; a plan to record is
    made with threads the load does not cap, so that each later call caps them for itself.
    (``make`` and its arguments rather than a closure: a closure would turn the caller's
    locals into cells, which costs every call, hits included.)"""
    if key is None:
        return make(*args)
    with _threads.uncapped():
        plan = make(*args)
    return _record(key, x, plan, num_threads is None)


def prepare_window(fn: str, op: str, x, kernel_size, stride, padding, dilation, ceil_mode,
                   return_indices: bool, out, num_threads, axes=SPATIAL_AXES, n: int = 2,
                   count_include_pad=True, divisor_override=None) -> Plan:
    """Validate a windowed op (``op``: 'max', 'sum', 'avg', 'stochastic') over ``n`` spatial
    axes and allocate its output; for 'avg', its divisors too (``plan.counts``, from
    ``count_include_pad`` and ``divisor_override``)."""
    key, plan = _recorded(fn, op, x, out, num_threads, (kernel_size, stride, padding, dilation,
                                                         ceil_mode, return_indices, axes, n,
                                                         count_include_pad, divisor_override))
    if plan is None:
        plan = _new_plan(key, x, num_threads, _window_plan_of, fn, op, x, kernel_size, stride,
                         padding, dilation, ceil_mode, return_indices, out, num_threads, axes, n,
                         count_include_pad, divisor_override)
    return plan


def _window_plan_of(fn, op, x, kernel_size, stride, padding, dilation, ceil_mode,
                    return_indices, out, num_threads, axes, n, count_include_pad,
                    divisor_override) -> Plan:
    """prepare_window's plan, from the arguments."""
    x_in, axes, in_dtype, kernel_dtype, result_dtype = _input(x, axes, op, fn, n)
    return_indices = _flag("return_indices", return_indices, fn)
    geom = _geometry(fn, x_in.shape, axes, kernel_size, stride, padding, dilation, ceil_mode)
    counts = (avg_divisors(geom, count_include_pad, divisor_override, fn) if op == "avg"
              else None)
    return _window_plan(fn, op, x_in, axes, n, in_dtype, kernel_dtype, result_dtype, geom,
                        return_indices, out, num_threads, counts)


def prepare_adaptive(fn: str, op: str, x, output_size, return_indices: bool, out, num_threads,
                     axes, n: int) -> Plan:
    """Validate an adaptive op (``op``: 'max', 'avg') over ``n`` spatial axes and allocate its
    output."""
    # Keyed apart from the global ops, which serve this function's calls for output size 1
    # under the same name: the arguments (True, False, axes, 2) are keepdims=True there and
    # output_size=True here, and output_size=True took the global op's recorded plan (an
    # internal TypeError, "Value after * must be an iterable").
    key, plan = _recorded(fn, "adaptive " + op, x, out, num_threads,
                          (output_size, return_indices, axes, n))
    if plan is None:
        plan = _new_plan(key, x, num_threads, _adaptive_plan_of, fn, op, x, output_size,
                         return_indices, out, num_threads, axes, n)
    return plan


def _adaptive_plan_of(fn, op, x, output_size, return_indices, out, num_threads, axes,
                      n) -> Plan:
    """prepare_adaptive's plan, from the arguments."""
    x_in, axes, in_dtype, kernel_dtype, result_dtype = _input(x, axes, op, fn, n)
    return_indices = _flag("return_indices", return_indices, fn)
    geom = _adaptive_geometry(fn, x_in.shape, axes, output_size)
    counts = avg_divisors(geom, False, None, fn) if op == "avg" else None
    return _window_plan(fn, op, x_in, axes, n, in_dtype, kernel_dtype, result_dtype, geom,
                        return_indices, out, num_threads, counts)


def _window_plan(fn, op, x_in, axes, n, in_dtype, kernel_dtype, result_dtype, geom,
                 return_indices, out, num_threads, counts=None) -> Plan:
    """The kernel input, outputs and threads of a windowed op whose geometry (and, for
    averages, ``counts``: avg_divisors) is known."""
    # Stochastic and fractional pooling have no channels-last kernel: they read the spatial
    # axes moved last. (Fractional pooling's windows differ from plane to plane: it reads
    # planes too.)
    channels_last = op not in ("stochastic", "fractional")
    # Channels-last memory seen in another axis order (a PyTorch channels_last tensor's NCHW
    # view): the op runs on the view in memory order, and its results are laid out so too.
    # A caller's `out` (C-contiguous in the caller's order) is checked in that order and
    # written through a temporary in memory order, which the tiled transpose copies into it:
    # the results' transpose, where the input's was copied before (a quarter of the bytes at
    # 2x2 stride 2).
    order = _channels_last_order(x_in, axes) if channels_last else None
    checked = None
    if order is not None:
        if out is not None:
            checked = _checked_results(fn, out, pooled_shape(x_in.shape, axes, geom.out_sizes),
                                       kernel_dtype, result_dtype, return_indices)
        x_in = x_in.transpose(order)
        axes = tuple(order.index(a) for a in axes)
    # The windowed kernels read pixels of a vector's width or more one by one, so those may lie
    # apart (a slice of the channels).
    wide = (in_dtype.itemsize * math.prod(x_in.shape[axes[-1] + 1:])
            >= _window.DIRECT_PIXEL_BYTES)
    x_rows, row_axes = _with_unit_rows(x_in, axes, n)
    # Not fractional pooling by slabs: its windows are each plane's own (stochastic pooling's
    # draws follow the plane too: its slabs pass their planes' place in the whole output).
    xk, lanes, pixel, moved, slabs = _slabbed_kernel_input(
        x_rows, in_dtype, row_axes, channels_last, wide, num_threads, fn,
        allowed=op != "fractional", depth=n == 3)
    shape = pooled_shape(x_in.shape, axes, geom.out_sizes)
    if checked is not None:  # the caller's `out`, seen in memory order
        results, given, kernel_dtypes = checked
        views, targets = _views_and_targets(fn, tuple(r.transpose(order) for r in results),
                                            given, kernel_dtypes, [xk], axes if moved else None,
                                            slabs is not None)
    else:
        results, views, targets = _buffers(fn, out, shape, kernel_dtype, result_dtype,
                                           return_indices, [xk], axes if moved else None,
                                           slabs is not None)
        if order is not None:  # the caller's axis order, as views of the memory-order results
            inverse = tuple(np.argsort(order))
            results = tuple(r.transpose(inverse) for r in results)
    # Output rows: (B0, B1 or the output depth, OH, OW*lanes).
    k4 = (xk.shape[0], geom.d.out_size if n == 3 else xk.shape[1], geom.h.out_size,
          geom.w.out_size * lanes)
    rows = k4[0] * k4[1] * k4[2]
    work = xk.size + rows * k4[3]
    nt = _threads_for(num_threads, work, rows, fn)
    out4 = targets[0].reshape(k4)
    input_slabs = None
    if slabs is not None:
        xk, out4, input_slabs = _slab_buffers(xk, in_dtype, slabs, out4, k4, targets, False)
    return Plan(xk, out4, targets[1].reshape(k4) if return_indices else None,
                results, views, targets, geom, 0, lanes, pixel, nt,
                separable_args(geom, lanes, pixel), counts, input_slabs,
                _kernels.specialisations(xk.dtype, out4.dtype))


def _slab_buffers(xk, kernel_dtype, slabs, out, out_shape, targets, flat):
    """A plan's (x, out, InputSlabs) for ``slabs`` ((axis, step) of :func:`_input_slabs`): the
    ``kernel_dtype`` buffer of one slab of ``xk``; and where the float16 values result is its
    own target (``_kernel_targets``' ``by_slabs``), one slab's float32 output buffer, which
    :func:`by_slabs` narrows into the result slab by slab; else ``out``, the kernel's whole
    target (the result, or a temporary ``finish()`` converts)."""
    axis, step = slabs
    x = empty(xk.shape[:axis] + (step,) + xk.shape[axis + 1:], kernel_dtype)
    results = None
    if not flat and targets[0].dtype == _FLOAT16:
        results = targets[0].reshape(out_shape)
        out = empty(out_shape[:axis] + (step,) + out_shape[axis + 1:], _FLOAT32)
    return x, out, InputSlabs(xk, axis, step, results, flat)


def _channels_last_order(x: np.ndarray, axes) -> Optional[Tuple[int, ...]]:
    """The axes of ``x`` in memory order (outermost first) where they differ from its own and
    make channels-last memory: ``x`` dense in that order, its spatial ``axes`` adjacent there
    and in order, with axes after them (the channels, which the channels-last kernels read as
    vector lanes, in place). None otherwise: C order, spatial axes last in memory, or no dense
    layout (the input is read, or copied, as before)."""
    if x.ndim <= len(axes) or x.flags.c_contiguous or min(x.strides) <= 0 or not x.size:
        return None
    order = tuple(_memory_order(x, range(x.ndim)))
    if not x.transpose(order).flags.c_contiguous:
        return None
    spatial = [order.index(a) for a in axes]
    if not (_consecutive(spatial) and spatial[-1] < x.ndim - 1):
        return None
    return order


# The divisor counts of a sum, which divides by nothing.
NO_COUNTS = np.empty(0, np.int64)


def avg_divisors(geom: Geometry, count_include_pad: bool, divisor_override, fn: str):
    """The average divisors as three int64 count vectors, one per kernel axis (D, H, W): the
    divisor of output (od, oh, ow) is ``count_d[od] * count_h[oh] * count_w[ow]``
    (``count_d`` empty but for 3-D ops, ``count_h`` [1] for 1-D ones).

    ``divisor_override`` if given (as ``(d, ..., d)`` and ones); else, with
    ``count_include_pad``, the taps within the padded input; else the number of real cells.
    The kernels form each product exactly in int64 and round it once to the dtype, so they
    divide by PyTorch's integer divisor.
    """
    count_include_pad = _flag("count_include_pad", count_include_pad, fn)
    if divisor_override is not None:
        d = _int("divisor_override", divisor_override, fn)
        if d == 0:
            raise ValueError(f"{fn}: `divisor_override` must not be zero, got {divisor_override!r}")
        counts = [np.full(geom.windows[0].out_size, d, np.int64)] + [
            np.ones(a.out_size, np.int64) for a in geom.windows[1:]]
    elif count_include_pad:
        counts = [a.padded_count for a in geom.windows]
    else:
        counts = [np.asarray(a.count, np.int64) for a in geom.windows]
    n = len(counts)
    # The kernels multiply the counts in int64: a 3-D window of more than 2**63 cells (huge
    # kernels and padding) would wrap into a wrong divisor. No count exceeds its kernel size
    # but an override, so the arrays are only read where the kernel sizes alone could wrap.
    bound = d if divisor_override is not None else math.prod(geom.kernel)
    largest = bound if bound <= 2**63 - 1 else math.prod(int(c.max(initial=1)) for c in counts)
    if largest > 2**63 - 1:
        raise ValueError(
            f"{fn}: a window would count {largest} cells, more than an int64 divisor holds; "
            f"use smaller `kernel_size`/`padding` or `divisor_override`")
    return (counts[0] if n == 3 else NO_COUNTS, counts[-2] if n > 1 else _ONE_COUNT, counts[-1])


_ONE_COUNT = np.ones(1, np.int64)


class LpPlan(NamedTuple):
    """LP pooling's checked arguments: the input, its spatial axes, the dtype it is computed
    in (float32/64) and returned in, the power ``p`` and the window geometry."""

    x: np.ndarray
    axes: Tuple[int, ...]
    dtype: np.dtype
    result_dtype: np.dtype
    p: float
    kernel_size: Tuple[int, ...]
    stride: Tuple[int, ...]
    ceil_mode: bool
    geometry: Geometry


def prepare_lp(fn: str, x, norm_type, kernel_size, stride, ceil_mode, axes, n: int) -> LpPlan:
    """Validate LP pooling's arguments (no padding, no dilation: PyTorch's lp_pool)."""
    x_in, axes, _, dtype, result_dtype = _input(x, axes, "lp", fn, n)
    if isinstance(norm_type, (bool, np.bool_)) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"{fn}: `norm_type` must be a real number, got {norm_type!r}")
    p = float(norm_type)
    if p == 0 or not math.isfinite(p):
        raise ValueError(f"{fn}: `norm_type` must be finite and non-zero, got {norm_type!r}")
    geom = _geometry(fn, x_in.shape, axes, kernel_size, stride, 0, 1, ceil_mode)
    return LpPlan(x_in, axes, dtype, result_dtype, p, geom.kernel, geom.stride, bool(ceil_mode),
                  geom)


def lp_chunk_plan(fn: str, plan: LpPlan, powered: np.ndarray, means: np.ndarray,
                  num_threads) -> Plan:
    """The average kernel's plan for one chunk of LP pooling: ``powered`` (a chunk of ``x **
    p``, or ``x`` itself for the kernel that squares) read in ``plan.dtype``, into ``means``
    (the chunk's rows of the means), with the plan's geometry (checked once for the whole
    input)."""
    n = len(plan.axes)
    return _window_plan(fn, "avg", powered, plan.axes, n, plan.dtype, plan.dtype, plan.dtype,
                        plan.geometry, False, means, num_threads)


def lp_grad(fn: str, grad_output, shape):
    """LP pooling's ``grad_output``: the forward output's ``shape``, a floating dtype. Returns
    it, the dtype to compute in (float32 for float16) and the result's dtype."""
    g = as_array(grad_output, "grad_output", fn)
    kernel_dtype, result_dtype = _grad_dtypes(g.dtype, "grad_output", fn)
    if g.shape != tuple(shape):
        raise ValueError(
            f"{fn}: `grad_output` must have the forward output's shape {tuple(shape)}, got "
            f"{g.shape}")
    return g, kernel_dtype, result_dtype


def lp_result(fn: str, plan: LpPlan, out) -> np.ndarray:
    """LP pooling's result: the caller's ``out`` (checked) or a new array. It is written
    after every read of the input, so it may share memory with it."""
    shape = pooled_shape(plan.x.shape, plan.axes, plan.geometry.out_sizes)
    return _result(out, shape, plan.result_dtype, fn)


def stochastic_key(seed, fn: str) -> int:
    """The 64-bit key of the counter-based generator, from ``seed``.

    None: fresh OS entropy. A non-negative int: a key derived by NumPy's SeedSequence (so nearby
    seeds give unrelated keys). A ``numpy.random.Generator``: one draw from it, so it advances
    and consecutive calls differ.
    """
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**64, dtype=np.uint64))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{fn}: `seed` must be None, an int or a numpy.random.Generator, got {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"{fn}: `seed` must be non-negative, got {seed}")
    return int(np.random.SeedSequence(int(seed)).generate_state(1, np.uint64)[0])


# Which of a plane's samples drives each spatial axis, in axis order: PyTorch's
# _random_samples[..., 0] drives W and [..., 1] H in 2-D, and [..., 0..2] D, H, W in 3-D.
_SAMPLE_OF_AXIS = {2: (1, 0), 3: (0, 1, 2)}


def _plane_uniforms(key: int, planes: int, n: int, dtype: np.dtype) -> np.ndarray:
    """(planes, n) samples in [0, 1) of ``dtype`` from stochastic pooling's counter-based
    generator: plane p is its row ``p`` (the SplitMix64 finaliser of ``key + (p+1)*phi``),
    sample j its column ``j`` (lowbias32 of ``(lo + j) ^ hi``), so a plane's samples depend on
    the key and its position only. The top bits that the dtype holds exactly, over 2**bits
    (24 for float32, 11 for float16, 32 for float64)."""
    with np.errstate(over="ignore"):
        z = np.uint64(key) + (np.arange(planes, dtype=np.uint64) + np.uint64(1)) * np.uint64(
            0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        lo = (z & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        hi = (z >> np.uint64(32)).astype(np.uint32)
        h = np.bitwise_xor(np.add(lo[:, None], np.arange(n, dtype=np.uint32)), hi[:, None])
        h = (h ^ (h >> np.uint32(16))) * np.uint32(0x7FEB352D)
        h = (h ^ (h >> np.uint32(15))) * np.uint32(0x846CA68B)
        h ^= h >> np.uint32(16)
    bits = min(32, np.finfo(dtype).nmant + 1)
    return ((h >> np.uint32(32 - bits)).astype(np.float64) / 2.0**bits).astype(dtype)


def fractional_starts(u: np.ndarray, size: int, out: int, kernel: int) -> np.ndarray:
    """PyTorch's interval sequence (``generate_intervals``) for every plane's sample ``u``,
    computed in ``u``'s dtype as PyTorch computes it in the input's: ``alpha = (size - k) /
    (out - 1)``, ``start[i] = int((i + u) * alpha) - int(u * alpha)``, the last window at
    ``size - k``. (planes, out) first cells."""
    starts = np.empty((len(u), out), np.intp)
    if out == 0:  # PyTorch's empty result: no windows
        return starts
    starts[:, -1] = size - kernel
    if out > 1:
        t = u.dtype.type
        alpha = t(size - kernel) / t(out - 1)
        with np.errstate(all="ignore"):
            pos = np.add.outer(u, np.arange(out - 1, dtype=u.dtype))  # i + u
            pos *= alpha
            body = starts[:, :-1]
            body[...] = pos  # truncated toward zero, as PyTorch's int conversion
            body -= (u * alpha).astype(np.intp)[:, None]
    return starts


def _tap_counts(n: int, k: int) -> np.ndarray:
    """``n`` windows' tap counts, all ``k`` (read-only, cached: a call on the same shape makes
    no new array, whose fresh pages cost more than filling it)."""
    key = ("counts", n, k)
    cached = _WINDOWS.get(key)
    if cached is None:
        cached = _frozen(np.full(n, k, np.intp))
        _WINDOWS.put(key, cached, cached.nbytes)
    return cached


def _fractional_sizes(fn, sizes, kernel, output_size, output_ratio):
    """The output size per axis from ``output_size`` or ``output_ratio`` (``int(in * r)``)."""
    n = len(sizes)
    if (output_size is None) == (output_ratio is None):
        raise ValueError(
            f"{fn}: pass exactly one of `output_size` and `output_ratio`, got "
            f"output_size={output_size!r}, output_ratio={output_ratio!r}")
    if output_size is not None:
        outs = _tuple("output_size", output_size, fn, n)
    else:
        ratios = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * n
        if len(ratios) != n or not all(
                isinstance(r, numbers.Real) and not isinstance(r, (bool, np.bool_))
                for r in ratios):
            raise TypeError(
                f"{fn}: `output_ratio` must be a number or {n} numbers, got {output_ratio!r}")
        if not all(0 < r <= 1 for r in ratios):
            raise ValueError(f"{fn}: `output_ratio` must lie in (0, 1], got {output_ratio!r}")
        outs = tuple(int(m * float(r)) for m, r in zip(sizes, ratios))
    if min(outs) < 0:  # 0 is PyTorch's empty result
        raise ValueError(f"{fn}: `output_size` must be non-negative, got {outs}")
    for m, o, k in zip(sizes, outs, kernel):
        if o + k - 1 > m:
            raise ValueError(
                f"{fn}: output size {outs} + kernel_size {kernel} - 1 must not exceed the input "
                f"size {tuple(sizes)}: each output needs its own first cell")
    return outs


def _fractional_samples(fn, random_samples, seed, batch_shape, n, dtype) -> np.ndarray:
    """The (planes, n) samples: ``random_samples`` as PyTorch takes them (batch shape + (n,),
    or (1,) + that for an unbatched input), checked to lie in [0, 1); else from ``seed``."""
    planes = math.prod(batch_shape)
    if random_samples is None:
        return _plane_uniforms(stochastic_key(seed, fn), planes, n, dtype)
    if seed is not None:
        raise ValueError(f"{fn}: pass `seed` or `random_samples`, not both")
    u = as_array(random_samples, "random_samples", fn)
    if u.dtype.kind != "f":
        raise TypeError(f"{fn}: `random_samples` must be floating, got dtype {u.dtype}")
    want = tuple(batch_shape) + (n,)
    if u.shape not in (want, (1,) + want):
        raise ValueError(
            f"{fn}: `random_samples` must have shape {want} (the batch axes, then {n}), got "
            f"{u.shape}")
    u = u.reshape(planes, n).astype(dtype)
    if not ((u >= 0) & (u < 1)).all():
        raise ValueError(f"{fn}: `random_samples` must lie in [0, 1)")
    return u


def prepare_fractional(fn: str, x, kernel_size, output_size, output_ratio, return_indices,
                       seed, random_samples, out, num_threads, axes, n: int) -> Plan:
    """Validate fractional max pooling and plan it: every plane's own windows (PyTorch's
    interval sequences from its samples) for the windowed max kernels' per-plane path."""
    x_in, axes, in_dtype, kernel_dtype, result_dtype = _input(x, axes, "max", fn, n)
    return_indices = _flag("return_indices", return_indices, fn)
    sizes = tuple(x_in.shape[a] for a in axes)
    kernel = _tuple("kernel_size", kernel_size, fn, n)
    if min(kernel) < 1:
        raise ValueError(f"{fn}: `kernel_size` must be positive, got {kernel}")
    outs = _fractional_sizes(fn, sizes, kernel, output_size, output_ratio)
    batch = without_axes(x_in.shape, axes)
    # PyTorch computes the intervals in the input's dtype; integers here in float64.
    sample_dtype = x_in.dtype if x_in.dtype.kind == "f" else np.dtype(np.float64)
    u = _fractional_samples(fn, random_samples, seed, batch, n, sample_dtype.newbyteorder("="))
    windows = []
    for j, (m, o, k) in enumerate(zip(sizes, outs, kernel)):
        lo = fractional_starts(u[:, _SAMPLE_OF_AXIS[n][j]], m, o, k)
        if lo.size and (lo.min() < 0 or lo.max() > m - k):
            raise ValueError(f"{fn}: `random_samples` give windows outside the input")
        count = _tap_counts(lo.size, k)
        windows.append(AxisWindows(o, 0, 0, lo.reshape(-1), count,
                                   count.astype(np.int64, copy=False)))
    ones = (1,) * n
    geom = Geometry(tuple(windows), kernel, ones, ones, True, True)
    return _window_plan(fn, "fractional", x_in, axes, n, in_dtype, kernel_dtype, result_dtype,
                        geom, return_indices, out, num_threads)


def _as_planes(x: np.ndarray, axes, n: int):
    """A global op's input as 2-D planes, (x, (H axis, W axis)): a 1-D op's with a unit H
    axis, a 3-D op's with D and H merged into one axis of D*H rows (a view where the strides
    allow, else a copy). Flat indices within a plane are then those of the spatial block."""
    if n != 3:
        return _with_unit_rows(x, axes, n)
    ad, ah, aw = axes
    D, H = x.shape[ad], x.shape[ah]
    if not _consecutive(axes):
        x = spatial_last(x, axes)
        ad = x.ndim - 3
    return x.reshape(x.shape[:ad] + (D * H,) + x.shape[ad + 2:]), (ad, ad + 1)


def prepare_global(fn: str, op: str, x, keepdims, return_indices: bool, out, num_threads,
                   axes=SPATIAL_AXES, n: int = 2) -> Plan:
    """Validate a global op (``op`` in 'max', 'sum', 'avg') over ``n`` spatial axes and
    allocate its output."""
    key, plan = _recorded(fn, op, x, out, num_threads, (keepdims, return_indices, axes, n))
    if plan is None:
        plan = _new_plan(key, x, num_threads, _global_plan, fn, op, x, keepdims, return_indices,
                         out, num_threads, axes, n)
    return plan


def _global_plan(fn: str, op: str, x, keepdims, return_indices: bool, out, num_threads, axes,
                 n: int) -> Plan:
    """prepare_global's plan, from the arguments."""
    x_in, axes, in_dtype, kernel_dtype, result_dtype = _input(x, axes, op, fn, n)
    keepdims = _flag("keepdims", keepdims, fn)
    return_indices = _flag("return_indices", return_indices, fn)
    x_planes, plane_axes = _as_planes(x_in, axes, n)
    H, W = x_planes.shape[plane_axes[0]], x_planes.shape[plane_axes[1]]
    # Float sums add in another order in the channels-last kernel than in the planes kernel, so
    # a channels-last layout always takes the channels-last kernel: the bits then do not depend
    # on the memory layout.
    xk, lanes, pixel, _, slabs = _slabbed_kernel_input(
        x_planes, in_dtype, plane_axes, True, True, num_threads, fn, movable=False,
        whole_images=True)
    shape = global_shape(x_in.shape, axes, keepdims)
    # The kernel writes one value per plane, in the order of the axes that are not pooled: the
    # results' own order, with or without the size-1 spatial axes.
    results, views, targets = _buffers(fn, out, shape, kernel_dtype, result_dtype,
                                       return_indices, [xk])
    planes = xk.shape[0] * xk.shape[1] * lanes
    if lanes > 1:  # tasks: (image, block of channels)
        nt, task_size = _lane_tasks(num_threads, xk.size, planes // lanes, lanes, fn)
        if slabs is not None:  # blocks that split one slab's images over the threads
            task_size = _lane_tasks(nt, xk.size, slabs[1] * (planes // lanes) //
                                    xk.shape[slabs[0]], lanes, fn)[1]
    else:  # tasks: (plane, band of rows)
        task_size = max(1, _BAND_ELEMENTS // W)
        nt = _threads_for(num_threads, xk.size, planes * -(-H // task_size), fn)
    out = targets[0].reshape(planes)
    indices = targets[1].reshape(planes) if return_indices else None
    input_slabs = None
    if slabs is not None:  # the outputs by (B0, B1, lanes), cut as the view's B0 or B1 is
        per_view = xk.shape[:2] + (lanes,)
        xk, out, input_slabs = _slab_buffers(xk, in_dtype, slabs, out.reshape(per_view),
                                             per_view, targets, True)
        indices = None if indices is None else indices.reshape(per_view)
    return Plan(xk, out, indices, results, views, targets, None, task_size, lanes, pixel, nt,
                None, None, input_slabs, _kernels.specialisations(xk.dtype, out.dtype))


# Channels-last global ops and scatters: a task is a block of an image's channels, at least
# this many.
_MIN_LANE_BLOCK = 64
_MIN_BALANCED_BLOCK = 16  # ... but where 64 cannot split the work evenly over the threads
_TASKS_PER_THREAD = 10  # tasks that keep every thread's share within 10% of the others'


def _lane_tasks(num_threads, work: int, images: int, lanes: int, fn: str) -> Tuple[int, int]:
    """(threads, channels per task) of a channels-last kernel split over (image, block of
    channels). A block is all of an image's channels (the image is then one sequential sweep:
    up to 3x faster than blocks of 256 channels for global ops, 1.6x for scatters), fewer when
    needed to give every thread a task, never under _MIN_LANE_BLOCK. Each channel is still
    computed in one fixed order by one thread, so results do not depend on the split."""
    images = max(images, 1)
    nt = _threads_for(num_threads, work, images * -(-lanes // _MIN_LANE_BLOCK), fn)
    # A static schedule gives each thread the floor or the ceiling of tasks / threads: blocks
    # per image are the fewest that split evenly or give every thread _TASKS_PER_THREAD tasks
    # (32 images at 11 threads: 3 or 2 tasks a thread; 4 blocks each, 12 or 11), of at least
    # _MIN_LANE_BLOCK channels, else of at least _MIN_BALANCED_BLOCK (15 threads: 8 blocks).
    for least in (_MIN_LANE_BLOCK, _MIN_BALANCED_BLOCK):
        most = max(1, -(-lanes // least))
        per_image = next((b for b in range(1, most + 1) if (images * b) % nt == 0
                          or images * b >= _TASKS_PER_THREAD * nt), 0)
        if per_image:
            break
    return nt, max(min(lanes, least), -(-lanes // (per_image or most)))


# ---------------------------------------------------------------------------------------------
# gradients and max_unpool2d
# ---------------------------------------------------------------------------------------------
# The most elements a gradient of `input_shape` may have: sys.maxsize bytes of float64.
_MAX_RESULT_ELEMENTS = np.iinfo(np.intp).max // 8


def input_shape_arg(input_shape, axes, fn: str,
                    n: int = 2) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Check ``input_shape`` (at least n non-negative ints) and ``axes``, its n spatial axes,
    which must be non-empty; return both normalised."""
    if isinstance(input_shape, np.ndarray):
        input_shape = input_shape.tolist()
    if not isinstance(input_shape, (tuple, list)) or not all(_is_int(d) for d in input_shape):
        raise TypeError(f"{fn}: `input_shape` must be a tuple of ints, got {input_shape!r}")
    shape = tuple(operator.index(d) for d in input_shape)
    if len(shape) < n or min(shape, default=0) < 0:
        raise ValueError(
            f"{fn}: `input_shape` must have at least {n} dimension{'s' if n > 1 else ''}, none "
            f"negative, got {shape}")
    axes = spatial_axes(axes, len(shape), fn, n)
    if min(shape[a] for a in axes) < 1:
        raise ValueError(
            f"{fn}: `input_shape` must have non-empty ({', '.join(AXIS_NAMES[n])}) axes "
            f"{axes}, got {shape}")
    # The gradient is an array of this shape (of up to 8-byte values): NumPy cannot make one
    # past sys.maxsize bytes, and would say so without naming the argument.
    if math.prod(shape) > _MAX_RESULT_ELEMENTS:
        raise ValueError(
            f"{fn}: `input_shape` {shape} is too large: its gradient would have "
            f"{math.prod(shape)} elements, more than an array can hold ({_MAX_RESULT_ELEMENTS})")
    return shape, axes


def _grad_dtypes(dtype: np.dtype, name: str, fn: str):
    """(kernel dtype, result dtype) of a gradient: float32/64 natively, float16 via float32
    (either byte order)."""
    base = dtype.newbyteorder("=") if dtype.kind == "f" else dtype
    if base == _FLOAT16:
        return _FLOAT32, _FLOAT16
    if base not in (_FLOAT32, _FLOAT64):
        raise TypeError(f"{fn}: `{name}` must have a floating dtype (float16/32/64), got {dtype}")
    return base, base


class GradPlan(NamedTuple):
    grad: np.ndarray       # C-contiguous, aligned, kernel dtype, spatial axes last
    indices: Optional[np.ndarray]  # scatters: C-contiguous, aligned int64, as `grad`
    out: np.ndarray        # kernel output, C-contiguous, `view`'s shape
    result: np.ndarray     # what the caller gets back
    view: np.ndarray       # `result` in the kernel's axis order
    lanes: int             # channels-last scatters: values per pixel (else 1)
    block: int             # channels-last scatters: channels per task
    num_threads: int
    slab: int = 0          # a new float16 result: planes (images) per slab of
                           # gradient_by_slabs, whose ``out`` is the result itself; 0: whole

    def finish(self):
        return _finish((self.result,), (self.view,), (self.out,), self.num_threads)


def gradient_by_slabs(plan: GradPlan, planes: int, write) -> list:
    """A gradient into a new float16 result a slab of ``plan.slab`` planes (images) at a time:
    ``write(start, stop, part)`` computes the result's planes ``start:stop`` (of ``planes``)
    into ``part``, rows of one float32 buffer that stays in cache, which is then narrowed into
    the result; instead of a whole float32 result written, read back and narrowed. Returns
    what each ``write`` returned."""
    result = plan.out.reshape(planes, -1)
    buffer = empty((plan.slab, result.shape[1]), plan.grad.dtype)
    returned = []
    for start in range(0, planes, plan.slab):
        stop = min(planes, start + plan.slab)
        part = buffer[:stop - start]
        returned.append(write(start, stop, part))
        cast_into(result[start:stop], part, plan.num_threads)
    return returned


def prepare_scatter(fn: str, values, indices, result_shape, axes, out, num_threads,
                    values_name: str = "grad_output") -> GradPlan:
    """Validate values/indices for a scatter into ``result_shape`` (max/stochastic backward,
    global max backward, max_unpool2d); all three have their (H, W) at ``axes``."""
    v = as_array(values, values_name, fn)
    kernel_dtype, result_dtype = _grad_dtypes(v.dtype, values_name, fn)
    idx = as_array(indices, "indices", fn)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fn}: `indices` must have an integer dtype, got {idx.dtype}")
    if idx.shape != v.shape:
        raise ValueError(
            f"{fn}: `indices` must have the shape of `{values_name}` {v.shape}, got {idx.shape}"
        )
    lanes = _channels_last_lanes(result_shape, axes)
    if lanes > 1:  # read and written in the caller's order, channels as lanes
        return _grad_plan(fn, v, contiguous(idx, _INT64, _copy_threads(num_threads, idx, fn)),
                          kernel_dtype, result_dtype, result_shape, axes, out, num_threads,
                          lanes, True)
    idx = contiguous(spatial_last(idx, axes), _INT64, _copy_threads(num_threads, idx, fn))
    return _grad_plan(fn, spatial_last(v, axes), idx, kernel_dtype, result_dtype, result_shape,
                      axes, out, num_threads, 1, True)


def _channels_last_lanes(shape, axes) -> int:
    """C, the values per pixel, when the spatial axes are adjacent and in order and further
    axes (C > 1 values) follow W; else 1."""
    return math.prod(shape[axes[-1] + 1:]) if _consecutive(axes) else 1


def prepare_backward(fn: str, grad_output, result_shape, axes, expected_shapes, out, num_threads,
                     spatial: bool = True, by_slabs: bool = False,
                     lanes_ok: bool = False) -> GradPlan:
    """Validate a gradient whose shape must be one of ``expected_shapes``; with ``spatial`` it
    has (H, W) axes at ``axes`` (windowed ops), else none (global ops: their other axes are
    already in the kernel's order). ``by_slabs``: its kernel writes each plane of the result
    alone, so that a float16 result may go by :func:`gradient_by_slabs`. ``lanes_ok``: its
    kernel takes channels-last images too (the plan's ``lanes`` > 1: the gradient and result
    in the caller's order, as :func:`prepare_scatter`'s; a global op's gradient then holds
    each image's channels in a row)."""
    g = as_array(grad_output, "grad_output", fn)
    kernel_dtype, result_dtype = _grad_dtypes(g.dtype, "grad_output", fn)
    if g.shape not in expected_shapes:
        want = " or ".join(str(s) for s in expected_shapes)
        raise ValueError(f"{fn}: `grad_output` must have shape {want}, got {g.shape}")
    lanes = _channels_last_lanes(result_shape, axes) if lanes_ok else 1
    if lanes > 1:
        return _grad_plan(fn, g, None, kernel_dtype, result_dtype, result_shape, axes, out,
                          num_threads, lanes, by_slabs)
    if spatial:
        g = spatial_last(g, axes)
    return _grad_plan(fn, g, None, kernel_dtype, result_dtype, result_shape, axes, out,
                      num_threads, 1, by_slabs)


def _grad_plan(fn, g, idx, kernel_dtype, result_dtype, result_shape, axes, out,
               num_threads, lanes=1, by_slabs=False) -> GradPlan:
    """``g`` (and ``idx``) arrive in the kernel's axis order; the result is allocated in the
    caller's, ``result_shape``, with (H, W) at ``axes``. With ``lanes`` > 1 (channels-last
    scatters) the kernel's order is the caller's. With ``by_slabs`` (a kernel that writes
    each plane alone), a new float16 result goes by slabs (:func:`gradient_by_slabs`) where
    :func:`_slab_step` says so."""
    result = _result(out, result_shape, result_dtype, fn)
    view = result if lanes > 1 else spatial_last(result, axes)
    g = contiguous(g, kernel_dtype, _copy_threads(num_threads, g, fn))
    inputs = [g] if idx is None else [g, idx]
    planes = math.prod(without_axes(result_shape, axes))
    work = g.size + result.size
    block = 1
    if lanes > 1:
        nt, block = _lane_tasks(num_threads, work, planes // lanes, lanes, fn)
    else:
        nt = _threads_for(num_threads, work, planes, fn)
    # (Not into a caller's ``out``: a bad index found in a later slab would leave it written
    # in part, where the float16 result's whole scatter into a float32 temporary leaves it
    # as it was.)
    slab = None
    if by_slabs and out is None and result_dtype == _FLOAT16 and planes:
        units = planes // lanes
        # (per_thread: the gradient kernels' tasks are whole planes or images.)
        slab = _slab_step(units, result.size // units * _FLOAT32.itemsize, nt, True)
        if slab and lanes > 1:  # the blocks of one slab's images
            block = _lane_tasks(nt, work, slab, lanes, fn)[1]
    kernel_out, = _kernel_targets(fn, (result,), (view,), (out is not None,), (kernel_dtype,),
                                  inputs, slab is not None)
    if kernel_out.dtype != _FLOAT16:  # a view the kernel cannot write: a whole temporary
        slab = None
    return GradPlan(g, idx, kernel_out, result, view, lanes, block, nt, slab or 0)


def window_backward_geometry(fn, grad_output, input_shape, axes, kernel_size, stride, padding,
                             dilation, ceil_mode, n: int = 2):
    """``grad_output`` as an array, the normalised input shape and axes, the geometry of the
    forward window op and the grad_output shape it implies, which ``grad_output`` must have.

    The shapes are compared before the geometry's per-window arrays are made: their size
    follows ``input_shape``, an argument, and must not be paid for a gradient that cannot
    match it."""
    shape, axes = input_shape_arg(input_shape, axes, fn, n)
    sizes = tuple(shape[a] for a in axes)
    kernel, stride, padding, dilation, ceil_mode = _window_arguments(
        fn, len(axes), kernel_size, stride, padding, dilation, ceil_mode)
    geom = _checked_geometry(fn, sizes, kernel, stride, padding, dilation, ceil_mode, False)
    grad_shape = pooled_shape(shape, axes, geom.out_sizes)
    g = as_array(grad_output, "grad_output", fn)
    if g.shape != grad_shape:
        raise ValueError(f"{fn}: `grad_output` must have shape {grad_shape}, got {g.shape}")
    if all(k > 0 for k in without_axes(shape, axes)):  # the windows' arrays, now worth making
        geom = _checked_geometry(fn, sizes, kernel, stride, padding, dilation, ceil_mode, True)
    return g, shape, axes, geom, grad_shape


def unpool_output_shape(fn, x_shape, axes, kernel_size, stride, padding, output_size):
    """max_unpool's output spatial size: ``(in-1)*stride - 2*padding + kernel`` per axis, or
    ``output_size`` within ``stride`` of it, as PyTorch requires. ``output_size`` is the
    spatial size ((L,), (H, W) or (D, H, W)) or a full shape, whose spatial entries are at
    ``axes``."""
    n = len(axes)
    names = ", ".join(AXIS_NAMES[n])
    kernel = _tuple("kernel_size", kernel_size, fn, n)
    stride = kernel if stride is None else _tuple("stride", stride, fn, n)
    pad = _tuple("padding", padding, fn, n)
    if min(kernel) < 1 or min(stride) < 1 or min(pad) < 0:
        raise ValueError(
            f"{fn}: `kernel_size` and `stride` must be positive and `padding` non-negative, got "
            f"{kernel}, {stride}, {pad}"
        )
    in_sizes = tuple(x_shape[a] for a in axes)
    default = tuple((m - 1) * s - 2 * p + k for m, k, s, p in zip(in_sizes, kernel, stride, pad))
    if output_size is None:
        size = default
    else:
        if isinstance(output_size, np.ndarray):
            output_size = output_size.tolist()
        if not isinstance(output_size, (tuple, list)) or len(output_size) not in (n, len(x_shape)):
            raise ValueError(
                f"{fn}: `output_size` must be ({names}) or the full output shape, got "
                f"{output_size!r}"
            )
        if not all(_is_int(d) for d in output_size):
            raise TypeError(f"{fn}: `output_size` must be a tuple of ints, got {output_size!r}")
        full = len(output_size) == len(x_shape) and len(x_shape) != n
        spatial = tuple(output_size[a] for a in axes) if full else output_size
        size = tuple(operator.index(d) for d in spatial)
        for m, d, s in zip(size, default, stride):
            if not d - s < m < d + s:
                raise ValueError(
                    f"{fn}: `output_size` {size} must lie within `stride` {stride} of the default "
                    f"size {default} (exclusive)"
                )
    if min(size) < 0:
        raise ValueError(f"{fn}: the output size {size} would be negative")
    return size

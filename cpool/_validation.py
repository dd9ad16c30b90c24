"""Argument normalisation and validation for every public op, done once, in pure Python.

Each public function calls one ``prepare_*`` function here. It returns a plan holding everything
the kernel needs: a 4-D input view the kernel can read, the output buffers, the window bounds
and the thread count. The public function then makes one kernel call and returns ``plan.finish()``.
Kernels never see Python objects, ``None`` or unchecked sizes.

Window geometry (output sizes, padding, the first in-bounds tap and the tap count of every window,
average divisors) is computed only by :func:`window_bounds`. No op derives it again.
"""
import functools
import math
import numbers
import operator
from typing import NamedTuple, Optional, Tuple

import numpy as np

from cpool import _threads

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
_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
_INT64 = np.dtype(np.int64)
_UINT64 = np.dtype(np.uint64)

# Global reductions cut planes into bands of about this many elements, so few large planes still
# use all threads. The split depends only on the shape, never on the thread count.
_BAND_ELEMENTS = 1 << 15

# Below this much work per thread (elements read + written), extra threads cost more than they save.
_MIN_WORK_PER_THREAD = 1 << 16


def _compute_dtype(dtype: np.dtype, op: str, name: str) -> Tuple[np.dtype, np.dtype, np.dtype]:
    """Return (kernel input dtype, kernel output dtype, result dtype) for ``op`` on ``dtype``.

    ``op`` is ``'max'``, ``'sum'``, ``'avg'`` or ``'stochastic'``.
    """
    kind = dtype.kind
    if dtype == _BOOL and op == "stochastic":
        raise TypeError(f"{name}: stochastic pooling needs floating activations, got dtype bool")
    if dtype == _BOOL:
        if op == "max":  # max of booleans is logical OR; computed on the uint8 view
            return _UINT8, _UINT8, _BOOL
        raise TypeError(
            f"{name}: boolean input is ambiguous for a {op}; cast it first "
            f"(x.astype(np.float32) for a fraction, x.astype(np.int64) for a count)"
        )
    if dtype == _FLOAT16:  # float16: compute in float32, return float16
        return _FLOAT32, _FLOAT32, _FLOAT16
    base = dtype.newbyteorder("=")
    if op == "stochastic" and kind != "f":
        raise TypeError(
            f"{name}: stochastic pooling needs floating activations, got dtype {dtype}; "
            f"cast first (x.astype(np.float32))"
        )
    if base not in _NATIVE:
        raise TypeError(
            f"{name}: unsupported dtype {dtype}; expected a real floating or integer dtype "
            f"(float16/32/64, int8..int64, uint8..uint64) or bool for max"
        )
    if op == "max":
        return base, base, base
    if kind == "f":
        return base, base, base
    if op == "avg":
        return base, _FLOAT64, _FLOAT64
    acc = _INT64 if kind == "i" else _UINT64  # sum of integers: 64 bits, never overflows uint8
    return base, acc, acc


# ---------------------------------------------------------------------------------------------
# scalar and pair arguments
# ---------------------------------------------------------------------------------------------
# Like PyTorch, sizes must fit in a C int; this also keeps all geometry arithmetic exact in int64.
_INT_MAX = 2**31 - 1


def _int(name: str, value, fn: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: `{name}` must be an int or a pair of ints, got {value!r}")
    v = operator.index(value)
    if not -_INT_MAX <= v <= _INT_MAX:
        raise ValueError(f"{fn}: `{name}` is out of range (|value| <= {_INT_MAX}), got {v}")
    return v


def _pair(name: str, value, fn: str) -> Tuple[int, int]:
    """Expand an int or an (H, W) pair, checking types and length."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(
                f"{fn}: `{name}` must be an int or a pair of ints, got {value!r} "
                f"(length {len(value)})"
            )
        return _int(name, value[0], fn), _int(name, value[1], fn)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return _pair(name, value.tolist(), fn)
    v = _int(name, value, fn)
    return v, v


def _flag(name: str, value, fn: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: `{name}` must be True or False, got {value!r}")
    return bool(value)


# ---------------------------------------------------------------------------------------------
# window geometry: the one helper every windowed op uses
# ---------------------------------------------------------------------------------------------
class AxisWindows(NamedTuple):
    """Windows along one axis. Arrays have one entry per output position (read-only)."""

    out_size: int
    pad_before: int
    pad_after: int
    lo: np.ndarray          # first in-bounds tap of each window (PyTorch's adjusted start)
    count: np.ndarray       # number of in-bounds taps (0 only for some dilated windows)
    padded_count: np.ndarray  # window clipped to the padded extent (avg with count_include_pad)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=1024)
def window_bounds(size: int, kernel: int, stride: int, dilation: int, pad_before: int,
                  pad_after: int, ceil_mode: bool) -> Optional[AxisWindows]:
    """Output size and per-window tap bounds along one axis, with PyTorch's rules.

    ``out = floor((size + pad_before + pad_after - dilation*(kernel-1) - 1 [+ stride-1 if
    ceil_mode]) / stride) + 1``; in ceil mode a last window that would start in the right padding
    is dropped (``(out-1)*stride >= size + pad_before``). Returns None when ``out < 1``.
    """
    span = dilation * (kernel - 1) + 1
    out = (size + pad_before + pad_after - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and out > 0 and (out - 1) * stride >= size + pad_before:
        out -= 1
    if out < 1:
        return None
    start = np.arange(out, dtype=np.intp) * stride - pad_before
    # First tap at or after 0 on the dilation grid; last tap before `size`.
    first_tap = np.where(start < 0, (-start + dilation - 1) // dilation, 0)
    last_tap = np.minimum(kernel - 1, np.floor_divide(size - 1 - start, dilation))
    lo = start + first_tap * dilation
    count = np.maximum(last_tap - first_tap + 1, 0)
    # Divisor rule of avg_pool2d with count_include_pad: clip the window to [-pad_before,
    # size + pad_after). The ceil-mode overhang past the padding never counts.
    padded_count = np.minimum(start + kernel, size + pad_after) - start
    return AxisWindows(out, pad_before, pad_after, _frozen(lo), _frozen(count.astype(np.intp)),
                       _frozen(padded_count.astype(np.int64)))


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> Tuple[int, int]:
    """TensorFlow's 'same': output ceil(size/stride); an odd extra pad cell goes after."""
    out = -(-size // stride)
    needed = max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - size)
    return needed // 2, needed - needed // 2


class Geometry(NamedTuple):
    h: AxisWindows
    w: AxisWindows
    kernel: Tuple[int, int]
    stride: Tuple[int, int]
    dilation: Tuple[int, int]


def _geometry(fn: str, shape, kernel_size, stride, padding, dilation, ceil_mode) -> Geometry:
    kernel = _pair("kernel_size", kernel_size, fn)
    stride = kernel if stride is None else _pair("stride", stride, fn)
    dilation = _pair("dilation", dilation, fn)
    ceil_mode = _flag("ceil_mode", ceil_mode, fn)
    if not isinstance(padding, str):
        padding = _pair("padding", padding, fn)
    return _checked_geometry(fn, shape[-2], shape[-1], kernel, stride, padding, dilation, ceil_mode)


@functools.lru_cache(maxsize=256)
def _checked_geometry(fn, H, W, kernel, stride, padding, dilation, ceil_mode) -> Geometry:
    """Value checks and window bounds for normalised (hashable) arguments; cached per call site."""
    if min(kernel) < 1:
        raise ValueError(f"{fn}: `kernel_size` must be positive, got {kernel}")
    if min(stride) < 1:
        raise ValueError(f"{fn}: `stride` must be positive, got {stride}")
    if min(dilation) < 1:
        raise ValueError(f"{fn}: `dilation` must be positive, got {dilation}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0), (0, 0))
        elif padding == "same":
            if ceil_mode:
                raise ValueError(f"{fn}: `ceil_mode=True` cannot be combined with padding='same'")
            pads = (_same_padding(H, kernel[0], stride[0], dilation[0]),
                    _same_padding(W, kernel[1], stride[1], dilation[1]))
        else:
            raise ValueError(
                f"{fn}: `padding` must be an int, a pair of ints, 'valid' or 'same', got {padding!r}"
            )
    else:
        ph, pw = padding
        if min(ph, pw) < 0:
            raise ValueError(f"{fn}: `padding` must be non-negative, got {(ph, pw)}")
        # PyTorch (2.x CPU) bounds padding by half the kernel size, dilation not counted.
        if ph > kernel[0] // 2 or pw > kernel[1] // 2:
            raise ValueError(
                f"{fn}: `padding` must be at most half of `kernel_size` {kernel}, got {(ph, pw)}"
            )
        pads = ((ph, ph), (pw, pw))
    axes = [window_bounds(n, k, s, d, pb, pa, ceil_mode)
            for n, k, s, d, (pb, pa) in zip((H, W), kernel, stride, dilation, pads)]
    if axes[0] is None or axes[1] is None:
        raise ValueError(
            f"{fn}: output size would be empty for input size (H, W) = {(H, W)} with "
            f"kernel_size={kernel}, stride={stride}, padding={padding!r}, dilation={dilation}"
        )
    return Geometry(axes[0], axes[1], kernel, stride, dilation)


# ---------------------------------------------------------------------------------------------
# arrays: input layout, outputs, threads
# ---------------------------------------------------------------------------------------------
def _input(x, op: str, fn: str):
    """``x`` as an array with non-empty (H, W) axes, and its dtypes for ``op`` (see _compute_dtype)."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(
            f"{fn}: `x` must have at least 2 dimensions (..., H, W), got shape {x.shape}"
        )
    dtypes = _compute_dtype(x.dtype, op, fn)
    if x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(f"{fn}: the pooled axes (H, W) must be non-empty, got shape {x.shape}")
    return (x,) + dtypes


def _kernel_view(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A (B0, B1, H, W) view of ``x`` in ``dtype`` whose last axis is contiguous.

    The leading axes are merged into two where their strides allow it (so sliced, transposed
    and broadcast batches need no copy). A copy is made only when the kernel cannot read the
    layout: another dtype or byte order, a strided last axis, or batch axes that do not merge.
    """
    if x.dtype == _BOOL:  # max of bool runs on the uint8 view of the same bytes
        x = x.view(_UINT8)
    elif x.dtype != dtype:  # float16 -> float32, byte-swapped -> native order
        x = x.astype(dtype)
    H, W = x.shape[-2:]
    if x.flags.c_contiguous:  # the common case, and the cheapest view to make
        return x.reshape((1, x.size // (H * W) if x.size else 0, H, W))
    item = x.itemsize
    if W > 1 and x.strides[-1] != item:
        x = np.ascontiguousarray(x)
    groups = []  # (size, stride) of the batch axes after merging
    for n, s in zip(x.shape[:-2], x.strides[:-2]):
        if n == 1:
            continue
        if groups and groups[-1][1] == n * s:
            groups[-1] = (groups[-1][0] * n, s)
        else:
            groups.append((n, s))
    if len(groups) > 2:
        x = np.ascontiguousarray(x)
        groups = [(math.prod(x.shape[:-2]), x.strides[-3])]
    groups = [(1, 0)] * (2 - len(groups)) + groups
    if any(n == 0 for n, _ in groups):
        return np.empty((0, 1, H, W), dtype)
    shape = (groups[0][0], groups[1][0], H, W)
    strides = (groups[0][1], groups[1][1], x.strides[-2] if H > 1 else W * item, item)
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


def _output(out, shape, dtype: np.dtype, x: np.ndarray, fn: str, name: str = "out") -> np.ndarray:
    """Check a caller's ``out=`` array, or allocate one."""
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray):
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


def _threads_for(num_threads, work: int, tasks: int, fn: str) -> int:
    """Resolve ``num_threads`` and cap it so each thread gets enough work to pay for itself."""
    n = _threads.resolve(num_threads, fn)
    return max(1, min(n, tasks, work // _MIN_WORK_PER_THREAD))


class Plan(NamedTuple):
    """What one kernel call needs, and how to turn its output into the public result."""

    x: np.ndarray                 # (B0, B1, H, W) kernel input view
    out: np.ndarray               # kernel output, 4-D (windowed) or 1-D (global), C-contiguous
    indices: Optional[np.ndarray]  # int64 kernel index output, same layout as `out`, or None
    result: np.ndarray            # what the caller gets back (may be `out` itself)
    result_indices: Optional[np.ndarray]
    geometry: Optional[Geometry]  # windowed ops
    band_rows: int                # global ops: rows per band of a plane
    num_threads: int

    def finish(self):
        if self.result is not self.out and self.result.base is not self.out:
            # float16/bool results or an `out=` overlapping the input: copy into place.
            np.copyto(self.result, self.out.reshape(self.result.shape), casting="unsafe")
        if self.result_indices is not None:
            if self.result_indices is not self.indices and self.result_indices.base is not self.indices:
                np.copyto(self.result_indices, self.indices.reshape(self.result_indices.shape))
            return self.result, self.result_indices
        return self.result


def _buffers(x_in: np.ndarray, out, shape, kernel_dtype, result_dtype, with_indices: bool, fn: str):
    """Allocate or check outputs; return (kernel out, kernel indices, result, result indices)."""
    out_values, out_indices = out, None
    if with_indices and out is not None:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                f"{fn}: with return_indices=True, `out` must be a tuple (values, indices), "
                f"got {type(out).__name__}"
            )
        out_values, out_indices = out
    result = _output(out_values, shape, result_dtype, x_in, fn)
    result_idx = _output(out_indices, shape, _INT64, x_in, fn, "out[1]") if with_indices else None
    # The kernel writes straight into the result unless dtypes differ (float16, bool) or the
    # caller's out overlaps the input; then it writes to a temporary that finish() copies over.
    direct = result_dtype == kernel_dtype and not (out is not None and np.may_share_memory(result, x_in))
    kernel_out = result if direct else np.empty(shape, kernel_dtype)
    kernel_idx = result_idx
    if with_indices and out_indices is not None and np.may_share_memory(result_idx, x_in):
        kernel_idx = np.empty(shape, _INT64)
    return kernel_out, kernel_idx, result, result_idx


def prepare_window(fn: str, op: str, x, kernel_size, stride, padding, dilation, ceil_mode,
                   return_indices: bool, out, num_threads) -> Plan:
    """Validate a windowed op (``op``: 'max', 'sum', 'avg', 'stochastic') and allocate its output."""
    x_in, in_dtype, kernel_dtype, result_dtype = _input(x, op, fn)
    return_indices = _flag("return_indices", return_indices, fn)
    geom = _geometry(fn, x_in.shape, kernel_size, stride, padding, dilation, ceil_mode)
    xk = _kernel_view(x_in, in_dtype)
    shape = x_in.shape[:-2] + (geom.h.out_size, geom.w.out_size)
    kout, kidx, result, result_idx = _buffers(x_in, out, shape, kernel_dtype, result_dtype,
                                              return_indices, fn)
    k4 = (xk.shape[0], xk.shape[1], geom.h.out_size, geom.w.out_size)
    rows = k4[0] * k4[1] * k4[2]
    work = xk.size + rows * k4[3]
    nt = _threads_for(num_threads, work, rows, fn)
    return Plan(xk, kout.reshape(k4), None if kidx is None else kidx.reshape(k4), result,
                result_idx, geom, 0, nt)


def avg_divisors(geom: Geometry, count_include_pad: bool, divisor_override, fn: str,
                 dtype: np.dtype) -> np.ndarray:
    """The (OH, OW) table of average divisors, in the kernel's output dtype.

    ``divisor_override`` if given; else, with ``count_include_pad``, the window clipped to the
    padded input; else the number of real cells. Products of window sizes below 2**24 are exact
    in float32, so dividing by the table is dividing by PyTorch's integer divisor.
    """
    count_include_pad = _flag("count_include_pad", count_include_pad, fn)
    if divisor_override is not None:
        d = _int("divisor_override", divisor_override, fn)
        if d == 0:
            raise ValueError(f"{fn}: `divisor_override` must not be zero, got {divisor_override!r}")
        return np.full((geom.h.out_size, geom.w.out_size), d, dtype)
    if count_include_pad:
        h, w = geom.h.padded_count, geom.w.padded_count
    else:
        h, w = geom.h.count, geom.w.count
    return np.multiply.outer(h, w).astype(dtype)


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


def prepare_global(fn: str, op: str, x, keepdims, return_indices: bool, out, num_threads) -> Plan:
    """Validate a global op (``op`` in 'max', 'sum', 'avg') and allocate its output."""
    x_in, in_dtype, kernel_dtype, result_dtype = _input(x, op, fn)
    H, W = x_in.shape[-2:]
    keepdims = _flag("keepdims", keepdims, fn)
    return_indices = _flag("return_indices", return_indices, fn)
    xk = _kernel_view(x_in, in_dtype)
    shape = x_in.shape[:-2] + ((1, 1) if keepdims else ())
    kout, kidx, result, result_idx = _buffers(x_in, out, shape, kernel_dtype, result_dtype,
                                              return_indices, fn)
    planes = xk.shape[0] * xk.shape[1]
    band_rows = max(1, _BAND_ELEMENTS // W)
    tasks = planes * -(-H // band_rows)
    nt = _threads_for(num_threads, xk.size, tasks, fn)
    return Plan(xk, kout.reshape(planes), None if kidx is None else kidx.reshape(planes), result,
                result_idx, None, band_rows, nt)


# ---------------------------------------------------------------------------------------------
# gradients and max_unpool2d
# ---------------------------------------------------------------------------------------------
def input_shape_arg(input_shape, fn: str) -> Tuple[int, ...]:
    """Check ``input_shape``: a sequence of at least 2 non-negative ints with H, W >= 1."""
    if isinstance(input_shape, np.ndarray):
        input_shape = input_shape.tolist()
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"{fn}: `input_shape` must be a tuple of ints, got {input_shape!r}")
    shape = tuple(_int("input_shape", d, fn) for d in input_shape)
    if len(shape) < 2 or min(shape) < 0 or min(shape[-2:]) < 1:
        raise ValueError(
            f"{fn}: `input_shape` must have at least 2 dimensions, none negative and (H, W) "
            f"non-empty, got {shape}"
        )
    return shape


def _grad_dtypes(dtype: np.dtype, name: str, fn: str):
    """(kernel dtype, result dtype) of a gradient: float32/64 natively, float16 via float32."""
    if dtype == _FLOAT16:
        return _FLOAT32, _FLOAT16
    base = dtype.newbyteorder("=")
    if base not in (_FLOAT32, _FLOAT64) or dtype == _BOOL:
        raise TypeError(f"{fn}: `{name}` must have a floating dtype (float16/32/64), got {dtype}")
    return base, base


class GradPlan(NamedTuple):
    grad: np.ndarray       # C-contiguous, kernel dtype, the caller's shape
    out: np.ndarray        # kernel output, C-contiguous, `result`'s shape
    result: np.ndarray     # what the caller gets back
    num_threads: int

    def finish(self):
        if self.result is not self.out:
            np.copyto(self.result, self.out, casting="unsafe")
        return self.result


def prepare_scatter(fn: str, values, indices, result_shape, out, num_threads,
                    values_name: str = "grad_output") -> Tuple[GradPlan, np.ndarray]:
    """Validate values/indices for a scatter into ``result_shape`` (max/stochastic backward,
    global max backward, max_unpool2d); returns the plan and C-contiguous int64 indices."""
    v = np.asarray(values)
    kernel_dtype, result_dtype = _grad_dtypes(v.dtype, values_name, fn)
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fn}: `indices` must have an integer dtype, got {idx.dtype}")
    if idx.shape != v.shape:
        raise ValueError(
            f"{fn}: `indices` must have the shape of `{values_name}` {v.shape}, got {idx.shape}"
        )
    plan = _grad_plan(fn, v, kernel_dtype, result_dtype, result_shape, out, num_threads)
    return plan, np.ascontiguousarray(idx, dtype=_INT64)


def prepare_backward(fn: str, grad_output, result_shape, expected_shapes, out, num_threads) -> GradPlan:
    """Validate a gradient whose shape must be one of ``expected_shapes``."""
    g = np.asarray(grad_output)
    kernel_dtype, result_dtype = _grad_dtypes(g.dtype, "grad_output", fn)
    if g.shape not in expected_shapes:
        want = " or ".join(str(s) for s in expected_shapes)
        raise ValueError(f"{fn}: `grad_output` must have shape {want}, got {g.shape}")
    return _grad_plan(fn, g, kernel_dtype, result_dtype, result_shape, out, num_threads)


def _grad_plan(fn, g, kernel_dtype, result_dtype, result_shape, out, num_threads) -> GradPlan:
    result = _output(out, result_shape, result_dtype, g, fn)
    g = np.ascontiguousarray(g, dtype=kernel_dtype)
    direct = result_dtype == kernel_dtype and not (out is not None and np.may_share_memory(result, g))
    kernel_out = result if direct else np.empty(result_shape, kernel_dtype)
    planes = math.prod(result_shape[:-2])
    nt = _threads_for(num_threads, g.size + kernel_out.size, planes, fn)
    return GradPlan(g, kernel_out, result, nt)


def window_backward_geometry(fn, input_shape, kernel_size, stride, padding, dilation, ceil_mode):
    """Geometry of the forward window op and the grad_output shape it implies."""
    shape = input_shape_arg(input_shape, fn)
    geom = _geometry(fn, shape, kernel_size, stride, padding, dilation, ceil_mode)
    return shape, geom, shape[:-2] + (geom.h.out_size, geom.w.out_size)


def unpool_output_shape(fn, x_shape, kernel_size, stride, padding, output_size):
    """max_unpool2d's output (H, W): ``(in-1)*stride - 2*padding + kernel`` per axis, or
    ``output_size`` (the last two entries) within ``stride`` of it, as PyTorch requires."""
    kernel = _pair("kernel_size", kernel_size, fn)
    stride = kernel if stride is None else _pair("stride", stride, fn)
    pad = _pair("padding", padding, fn)
    if min(kernel) < 1 or min(stride) < 1 or min(pad) < 0:
        raise ValueError(
            f"{fn}: `kernel_size` and `stride` must be positive and `padding` non-negative, got "
            f"{kernel}, {stride}, {pad}"
        )
    default = tuple((n - 1) * s - 2 * p + k for n, k, s, p in zip(x_shape[-2:], kernel, stride, pad))
    if output_size is None:
        size = default
    else:
        if isinstance(output_size, np.ndarray):
            output_size = output_size.tolist()
        if not isinstance(output_size, (tuple, list)) or len(output_size) not in (2, len(x_shape)):
            raise ValueError(
                f"{fn}: `output_size` must be (H, W) or the full output shape, got {output_size!r}"
            )
        size = tuple(_int("output_size", d, fn) for d in output_size[-2:])
        for n, d, s in zip(size, default, stride):
            if not d - s < n < d + s:
                raise ValueError(
                    f"{fn}: `output_size` {size} must lie within `stride` {stride} of the default "
                    f"size {default} (exclusive)"
                )
    if min(size) < 1:
        raise ValueError(f"{fn}: the output size {size} would be empty")
    return size

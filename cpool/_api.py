"""Public pooling functions.

Every function has the same three steps: validate and allocate (``cpool._validation``), make
one kernel call that releases the GIL (``cpool._kernels``), return ``plan.finish()``.
"""
from __future__ import annotations

import math
from typing import Literal, Optional, Union, overload

import numpy as np

from cpool import _validation as _v
from cpool._typing import (Array, ArrayLike, Axes, OptionalSize, Out, OutPair, Padding, Ratio,
                           Seed, Size, WithIndices)
from cpool._docs import fill_doc, nd_doc
from cpool._kernels import backward as _backward
from cpool._kernels import global_pool as _global
from cpool._kernels import stochastic as _stochastic
from cpool._kernels import window as _window

_FLOAT32 = np.dtype(np.float32)

# Placeholder for the index output of a global max without return_indices.
_UNUSED_INT64 = np.empty(0, np.int64)


def _max_pool(fn, n, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              axes, out, num_threads):
    """max_pool1d/2d/3d over ``n`` spatial axes."""
    plan = _v.prepare_window(fn, "max", x, kernel_size, stride, padding, dilation, ceil_mode,
                             return_indices, out, num_threads, axes, n)
    return _window_max(plan)


def _window_max(plan):
    """The max kernel of a windowed plan, with or without indices; the result."""
    if plan.slabs is not None:
        _v.by_slabs(plan, _window.window_max if plan.indices is None
                    else _window.window_max_with_indices, *plan.kernel_args, plan.num_threads)
    elif plan.indices is None:
        plan.specialised[_window.window_max](plan.x, plan.out, *plan.kernel_args,
                                             plan.num_threads)
    else:
        plan.specialised[_window.window_max_with_indices](plan.x, plan.out, plan.indices,
                                                          *plan.kernel_args, plan.num_threads)
    return plan.finish()


def _avg_pool(fn, n, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, dilation, axes, out, num_threads):
    """avg_pool1d/2d/3d over ``n`` spatial axes."""
    plan = _v.prepare_window(fn, "avg", x, kernel_size, stride, padding, dilation, ceil_mode,
                             False, out, num_threads, axes, n, count_include_pad,
                             divisor_override)
    return _window_mean(plan, plan.counts)


def _window_mean(plan, counts, square=False, root=0.0, zero_first=False):
    """The windowed sum kernel over a plan, each sum (of squares, with ``square``) divided by
    its count (avg_divisors), and with ``root`` > 0 each such mean ``a`` made LP's
    ``sqrt(a * root)``; the result. PyTorch's +0 comes after the division (avg_pool, LP), or
    with ``zero_first`` before it (adaptive pooling): see window_sum."""
    if plan.slabs is not None:
        _v.by_slabs(plan, _window.window_sum, *plan.kernel_args, *counts, True, square,
                    plan.num_threads, root, zero_first)
    else:
        plan.specialised[_window.window_sum](plan.x, plan.out, *plan.kernel_args, *counts, True,
                                             square, plan.num_threads, root, zero_first)
    return plan.finish()


def _adaptive_pool(fn, n, op, x, output_size, return_indices, axes, out, num_threads):
    """adaptive max ('max') or average ('avg') pooling over ``n`` spatial axes: the windowed
    kernels over each output's own window (no padding; avg divides by the window's size).
    One output per block is a global op (the same window), by its faster kernels."""
    if _v.is_global_size(output_size):
        if op == "max":
            return _global_max(fn, n, x, True, return_indices, axes, out, num_threads)
        return _global_sum_op(fn, n, "avg", x, True, axes, out, num_threads)
    plan = _v.prepare_adaptive(fn, op, x, output_size, return_indices, out, num_threads, axes, n)
    if op == "max":
        return _window_max(plan)
    return _window_mean(plan, plan.counts, zero_first=True)


def _sum_pool(fn, n, x, kernel_size, stride, padding, dilation, ceil_mode, axes, out,
              num_threads):
    """sum_pool1d/2d/3d over ``n`` spatial axes."""
    plan = _v.prepare_window(fn, "sum", x, kernel_size, stride, padding, dilation, ceil_mode,
                             False, out, num_threads, axes, n)
    if plan.slabs is not None:
        _v.by_slabs(plan, _window.window_sum, *plan.kernel_args, _v.NO_COUNTS, _v.NO_COUNTS,
                    _v.NO_COUNTS, False, False, plan.num_threads)
    else:
        plan.specialised[_window.window_sum](plan.x, plan.out, *plan.kernel_args, _v.NO_COUNTS,
                                             _v.NO_COUNTS, _v.NO_COUNTS, False, False,
                                             plan.num_threads)
    return plan.finish()


def _global_max(fn, n, x, keepdims, return_indices, axes, out, num_threads):
    """global_max_pool1d/2d/3d over ``n`` spatial axes."""
    plan = _v.prepare_global(fn, "max", x, keepdims, return_indices, out, num_threads, axes, n)
    with_indices = plan.indices is not None
    if plan.slabs is not None:  # by_slabs passes the plan's indices, where it has them
        unused = () if with_indices else (_UNUSED_INT64,)
        if plan.lanes > 1:
            _v.by_slabs(plan, _global.global_max_lanes, *unused, with_indices, plan.lanes,
                        plan.pixel, plan.task_size, plan.num_threads)
        else:
            _v.by_slabs(plan, _global.global_max, *unused, with_indices, plan.task_size,
                        plan.num_threads)
        return plan.finish()
    indices = plan.indices if with_indices else _UNUSED_INT64
    if plan.lanes > 1:
        plan.specialised[_global.global_max_lanes](plan.x, plan.out, indices, with_indices,
                                                   plan.lanes, plan.pixel, plan.task_size,
                                                   plan.num_threads)
    else:
        plan.specialised[_global.global_max](plan.x, plan.out, indices, with_indices,
                                             plan.task_size, plan.num_threads)
    return plan.finish()


def _global_sum_op(fn, n, op, x, keepdims, axes, out, num_threads):
    """global_avg/sum_pool1d/2d/3d (``op`` 'avg' or 'sum') over ``n`` spatial axes."""
    plan = _v.prepare_global(fn, op, x, keepdims, False, out, num_threads, axes, n)
    _global_sum(plan, op == "avg")
    return plan.finish()


def _global_sum(plan, mean):
    if plan.slabs is not None:
        if plan.lanes > 1:
            _v.by_slabs(plan, _global.global_sum_lanes, mean, plan.lanes, plan.pixel,
                        plan.task_size, plan.num_threads)
        else:
            _v.by_slabs(plan, _global.global_sum, mean, plan.task_size, plan.num_threads)
    elif plan.lanes > 1:
        plan.specialised[_global.global_sum_lanes](plan.x, plan.out, mean, plan.lanes,
                                                   plan.pixel, plan.task_size, plan.num_threads)
    else:
        plan.specialised[_global.global_sum](plan.x, plan.out, mean, plan.task_size,
                                             plan.num_threads)


@overload
def max_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
               padding: Padding = ..., dilation: Size = ..., ceil_mode: bool = ...,
               return_indices: Literal[False] = ..., *, axes: Axes = ..., out: OutPair = ...,
               num_threads: Optional[int] = ...) -> Array: ...


@overload
def max_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
               padding: Padding = ..., dilation: Size = ..., ceil_mode: bool = ..., *,
               return_indices: Literal[True], axes: Axes = ..., out: OutPair = ...,
               num_threads: Optional[int] = ...) -> WithIndices: ...


@overload
def max_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size], padding: Padding,
               dilation: Size, ceil_mode: bool, return_indices: Literal[True], *, axes: Axes = ...,
               out: OutPair = ..., num_threads: Optional[int] = ...) -> WithIndices: ...


@overload
def max_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
               padding: Padding = ..., dilation: Size = ..., ceil_mode: bool = ...,
               return_indices: bool = ..., *, axes: Axes = ..., out: OutPair = ...,
               num_threads: Optional[int] = ...) -> Union[Array, WithIndices]: ...


@fill_doc
def max_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
               dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = False, *,
               axes: Axes = (-2, -1), out: OutPair = None, num_threads: Optional[int] = None
               ) -> Union[Array, WithIndices]:
    """2-D max pooling over the last two axes, with PyTorch's semantics.

    Parameters
    ----------
    %(x_window)s
    %(kernel_size)s
    %(stride)s
    padding : int, (int, int), ((int, int), (int, int)) or str, default=0
        Implicit -inf padding on both sides, at most ``kernel_size // 2`` (PyTorch's bound).
        'valid' is 0; 'same' is TensorFlow's rule: output ``ceil(in / stride)``, an odd extra
        padding cell going to the bottom/right ('same_lower': to the top/left). Per side:
        ``((top, bottom), (left, right))``, each at most ``dilation * (kernel_size - 1)``.
    %(dilation)s
    %(ceil_mode)s
    return_indices : bool, default=False
        Also return int64 flat indices ``h * W + w`` of each maximum in its input plane (-1
        for a dilated window over padding alone, which reads no cell).
    %(axes)s
    out : ndarray or (ndarray, ndarray), optional
        C-contiguous array(s) of the result shape and dtype to fill (values, or (values,
        indices) with ``return_indices``). They may share memory with ``x`` (the result is what
        fresh arrays would hold) but not with each other (ValueError).
    %(num_threads)s

    Returns
    -------
    out : (..., H_out, W_out) ndarray
        Same dtype as ``x``. Per axis ``H_out = floor((H + 2*p - d*(k-1) - 1 [+ s-1 if
        ceil_mode]) / s) + 1``.
    indices : (..., H_out, W_out) ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    %(raises_window)s
    TypeError
        Unsupported dtype (complex, object, strings), non-integer sizes, wrong ``out`` dtype.

    See Also
    --------
    avg_pool2d, sum_pool2d, global_max_pool2d

    Notes
    -----
    Padding is never read (it acts as -inf). Boolean input gives the logical OR of each
    window. Windows are scanned row-major; ties keep the first
    element; NaN propagates, and its index is the last NaN in scan order (PyTorch's
    ``val > max or isnan(val)``). Integers pool exactly. Results are bitwise identical for any
    ``num_threads``.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[2, 3, 1, 4], [1, 7, 0, 2], [9, 6, 3, 4], [2, 8, 1, 7]], dtype=np.float32)
    >>> cpool.max_pool2d(x, 2)
    array([[7., 4.],
           [9., 7.]], dtype=float32)
    >>> values, idx = cpool.max_pool2d(x, 2, return_indices=True)
    >>> idx
    array([[ 5,  3],
           [ 8, 15]])
    """
    return _max_pool("max_pool2d", 2, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, axes, out, num_threads)


@fill_doc
def avg_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, *, dilation: Size = 1, axes: Axes = (-2, -1),
               out: Out = None, num_threads: Optional[int] = None) -> Array:
    """2-D average pooling over the last two axes, with PyTorch's semantics.

    Parameters
    ----------
    %(x_window)s
    %(kernel_size)s
    %(stride)s
    padding : int, (int, int), ((int, int), (int, int)) or str, default=0
        Implicit zero padding on both sides, at most half the kernel ('same': see
        :func:`max_pool2d`).
    %(ceil_mode)s
    count_include_pad : bool, default=True
        Count padding cells in the divisor. The ceil-mode overhang past the padding never counts.
    divisor_override : int, optional
        Divide every window sum by this instead (non-zero).
    dilation : int or (int, int), default=1
        Spacing between window taps (ONNX AveragePool's ``dilations``; PyTorch has none). The
        divisor counts the taps summed, under the same ``count_include_pad`` rule.
    %(axes)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H_out, W_out) ndarray
        float32/float64 keep their dtype, float16 is computed in float32 and returned as
        float16, integers give float64 (summed in float64: nothing wraps). Output size as in
        :func:`max_pool2d` with dilation 1.

    Raises
    ------
    %(raises_window)s
    ValueError
        ``divisor_override=0``.
    TypeError
        Unsupported dtype (complex, object, strings, bool), non-integer sizes, wrong ``out``
        dtype.

    See Also
    --------
    sum_pool2d, max_pool2d, global_avg_pool2d

    Notes
    -----
    The divisor of each window is ``divisor_override`` if given; else, with
    ``count_include_pad``, the window clipped to the padded input; else the number of real
    cells. Float32 sums accumulate in float32, as PyTorch's do, so values agree with PyTorch to
    a few units in the last place.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[2, 3, 1, 4], [1, 7, 0, 2], [9, 6, 3, 4], [2, 8, 1, 7]])
    >>> cpool.avg_pool2d(x, 2)
    array([[3.25, 1.75],
           [6.25, 3.75]])
    >>> cpool.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)[0]
    array([3.25      , 2.33333333, 2.83333333, 1.75      ])
    """
    return _avg_pool("avg_pool2d", 2, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, dilation, axes, out, num_threads)


@fill_doc
def sum_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
               dilation: Size = 1, ceil_mode: bool = False, *, axes: Axes = (-2, -1),
               out: Out = None, num_threads: Optional[int] = None) -> Array:
    """2-D sum pooling over the last two axes: the sum of the real cells in each window.

    Equivalent to ``torch.nn.functional.avg_pool2d(x, ..., divisor_override=1)``, plus dilation.

    Parameters
    ----------
    %(x_window)s
    %(kernel_size)s
    %(stride)s
    padding : int, (int, int), ((int, int), (int, int)) or str, default=0
        Implicit zero padding on both sides, at most ``kernel_size // 2``.
    %(dilation)s
    %(ceil_mode)s
    %(axes)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H_out, W_out) ndarray
        float32/float64 keep their dtype (float16 is computed in float32), signed integers give
        int64 and unsigned integers uint64, as NumPy's ``sum``: sums of 8- to 32-bit integers
        are exact, int64/uint64 sums wrap modulo 2**64 as NumPy's do. Output size as in
        :func:`max_pool2d`.

    Raises
    ------
    %(raises_window)s
    TypeError
        Unsupported dtype (complex, object, strings, bool), non-integer sizes, wrong ``out``
        dtype.

    See Also
    --------
    avg_pool2d, global_sum_pool2d

    Notes
    -----
    Padding cells count as 0 and cells that dilation skips are not read. Integer sums are
    64-bit (exact for 8- to 32-bit inputs in windows under 2**32 cells); float32 windows are
    summed in float32 in a different order from PyTorch, so values agree to rounding. Results
    are bitwise identical for any ``num_threads``.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[2, 3, 1, 4], [1, 7, 0, 2], [9, 6, 3, 4], [2, 8, 1, 7]], dtype=np.uint8)
    >>> cpool.sum_pool2d(x, 3, stride=1)
    array([[32, 30],
           [37, 38]], dtype=uint64)
    """
    return _sum_pool("sum_pool2d", 2, x, kernel_size, stride, padding, dilation, ceil_mode, axes,
                     out, num_threads)


@overload
def global_max_pool2d(x: ArrayLike, keepdims: bool = ..., return_indices: Literal[False] = ..., *,
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> Array: ...


@overload
def global_max_pool2d(x: ArrayLike, keepdims: bool = ..., *, return_indices: Literal[True],
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> WithIndices: ...


@overload
def global_max_pool2d(x: ArrayLike, keepdims: bool, return_indices: Literal[True], *,
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> WithIndices: ...


@overload
def global_max_pool2d(x: ArrayLike, keepdims: bool = ..., return_indices: bool = ..., *,
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> Union[Array, WithIndices]: ...


@fill_doc
def global_max_pool2d(x: ArrayLike, keepdims: bool = False, return_indices: bool = False, *,
                      axes: Axes = (-2, -1), out: OutPair = None, num_threads: Optional[int] = None
                      ) -> Union[Array, WithIndices]:
    """Maximum of each (H, W) plane, with PyTorch's NaN and index rules.

    Parameters
    ----------
    %(x_global)s
    %(keepdims)s
    return_indices : bool, default=False
        Also return int64 flat indices ``h * W + w`` of each maximum (as
        ``torch.nn.functional.adaptive_max_pool2d(x, 1, return_indices=True)``).
    %(axes)s
    out : ndarray or (ndarray, ndarray), optional
        C-contiguous array(s) of the result shape and dtype to fill; as in :func:`max_pool2d`.
    %(num_threads)s

    Returns
    -------
    out : (...) or (..., 1, 1) ndarray
        Same dtype as ``x``.
    indices : ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    %(raises_global)s
    TypeError
        Unsupported dtype, wrong ``out`` dtype.

    See Also
    --------
    max_pool2d, global_avg_pool2d

    Notes
    -----
    Ties keep the first maximum in row-major order; NaN propagates and its index is the last
    NaN. Results are bitwise identical for any ``num_threads``.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[2, 3, 1, 4], [1, 7, 0, 2], [9, 6, 3, 4], [2, 8, 1, 7]])
    >>> cpool.global_max_pool2d(x, return_indices=True)
    (array(9), array(8))
    >>> cpool.global_max_pool2d(np.stack([x, 10 - x]), keepdims=True).shape
    (2, 1, 1)
    """
    return _global_max("global_max_pool2d", 2, x, keepdims, return_indices, axes, out,
                       num_threads)


@fill_doc
def global_avg_pool2d(x: ArrayLike, keepdims: bool = False, *, axes: Axes = (-2, -1),
                      out: Out = None, num_threads: Optional[int] = None) -> Array:
    """Mean of each (H, W) plane, accumulated in float64.

    Parameters
    ----------
    %(x_global)s
    %(keepdims)s
    %(axes)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (...) or (..., 1, 1) ndarray
        float32/float64 keep their dtype (float16 too), integers give float64. Float32 planes are
        summed in float64, so the result is correctly rounded for all practical sizes; 8- to
        32-bit integers are summed exactly, int64/uint64 in float64 (as ``np.mean``): a mean
        never wraps.

    Raises
    ------
    %(raises_global)s
    TypeError
        Unsupported dtype (complex, object, strings, bool), wrong ``out`` dtype.

    See Also
    --------
    avg_pool2d, global_sum_pool2d

    Notes
    -----
    ``x.mean((-2, -1))``, or ``torch.nn.functional.adaptive_avg_pool2d(x, 1)`` without the
    trailing axes. Planes are split into bands of rows that depend only on the shape, so results
    are bitwise identical for any ``num_threads``.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[2, 3, 1, 4], [1, 7, 0, 2], [9, 6, 3, 4], [2, 8, 1, 7]])
    >>> cpool.global_avg_pool2d(x)
    array(3.75)
    """
    return _global_sum_op("global_avg_pool2d", 2, "avg", x, keepdims, axes, out, num_threads)


@fill_doc
def global_sum_pool2d(x: ArrayLike, keepdims: bool = False, *, axes: Axes = (-2, -1),
                      out: Out = None, num_threads: Optional[int] = None) -> Array:
    """Sum of each (H, W) plane.

    Parameters
    ----------
    %(x_global)s
    %(keepdims)s
    %(axes)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (...) or (..., 1, 1) ndarray
        float32/float64 keep their dtype (summed in float64), signed integers give int64,
        unsigned integers uint64: exact for 8- to 32-bit inputs (planes under 2**32 cells),
        wrapping modulo 2**64 for int64/uint64 as NumPy's ``sum`` does.

    Raises
    ------
    %(raises_global)s
    TypeError
        Unsupported dtype (complex, object, strings, bool), wrong ``out`` dtype.

    See Also
    --------
    sum_pool2d, global_avg_pool2d

    Notes
    -----
    ``x.sum((-2, -1))`` with NumPy's integer promotion to 64 bits. Float planes are summed in
    float64 and rounded once; results are bitwise identical for any ``num_threads``.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[2, 3, 1, 4], [1, 7, 0, 2], [9, 6, 3, 4], [2, 8, 1, 7]])
    >>> cpool.global_sum_pool2d(x)
    array(60)
    """
    return _global_sum_op("global_sum_pool2d", 2, "sum", x, keepdims, axes, out, num_threads)


@overload
def stochastic_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
                      padding: Padding = ..., *, training: bool = ..., seed: Seed = ...,
                      return_indices: Literal[False] = ..., axes: Axes = ..., out: OutPair = ...,
                      num_threads: Optional[int] = ..., ceil_mode: bool = ...) -> Array: ...


@overload
def stochastic_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
                      padding: Padding = ..., *, training: bool = ..., seed: Seed = ...,
                      return_indices: Literal[True], axes: Axes = ..., out: OutPair = ...,
                      num_threads: Optional[int] = ..., ceil_mode: bool = ...) -> WithIndices: ...


@overload
def stochastic_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
                      padding: Padding = ..., *, training: bool = ..., seed: Seed = ...,
                      return_indices: bool = ..., axes: Axes = ..., out: OutPair = ...,
                      num_threads: Optional[int] = ..., ceil_mode: bool = ...
                      ) -> Union[Array, WithIndices]: ...


@fill_doc
def stochastic_pool2d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None,
                      padding: Padding = 0, *, training: bool = True, seed: Seed = None,
                      return_indices: bool = False, axes: Axes = (-2, -1), out: OutPair = None,
                      num_threads: Optional[int] = None, ceil_mode: bool = False
                      ) -> Union[Array, WithIndices]:
    """Stochastic pooling (Zeiler & Fergus, 2013): sample one activation per window.

    Parameters
    ----------
    x : (..., H, W) array_like
        Non-negative activations (ReLU outputs); every leading axis is a batch axis. float32 or
        float64 (float16 is computed in float32), in any memory layout; never modified.
    %(kernel_size)s
    %(stride)s
    padding : int, (int, int), ((int, int), (int, int)) or str, default=0
        Implicit padding, at most ``kernel_size // 2``. Padding cells count as 0: never sampled.
    training : bool, default=True
        True: in each window with values ``a_i`` output ``a_l``, ``l`` drawn with probability
        ``a_i / sum(a)`` (0 for an all-zero window). False: the probability-weighted average
        ``sum(a_i**2) / sum(a)`` (0 for an all-zero window), deterministic.
    seed : None, int or numpy.random.Generator, default=None
        None draws fresh entropy; an int gives a reproducible result; a Generator supplies the
        key (and advances, so consecutive calls differ).
    return_indices : bool, default=False
        Also return int64 flat indices ``h * W + w`` of the sampled activations in their input
        plane (training only), for :func:`max_unpool2d`-style routing of gradients.
    %(axes)s
    out : ndarray or (ndarray, ndarray), optional
        C-contiguous array(s) of the result's shape and dtype to fill and return; as in
        :func:`max_pool2d`.
    %(num_threads)s
    %(ceil_mode)s

    Returns
    -------
    out : (..., H_out, W_out) ndarray
        Same dtype as ``x``; output size as in :func:`avg_pool2d`.
    indices : (..., H_out, W_out) ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    %(raises_window)s
    ValueError
        A negative value inside a window (detected while pooling; ``out`` is then
        unspecified), ``return_indices=True`` with ``training=False``, a negative ``seed``.
    TypeError
        Integer, bool, complex or other non-floating dtypes; a ``seed`` of another type.

    See Also
    --------
    max_pool2d, avg_pool2d

    Notes
    -----
    The draw is the inverse CDF: the first window cell, in row-major order, whose running sum
    (in ``x``'s dtype) exceeds ``u * sum(a)``. Each output's ``u`` comes from a counter-based
    generator applied to (key, output position): a SplitMix64 key per output row, a lowbias32
    hash per column (see the semantics page). There is no shared sequential stream, so the same
    seed and input give the same result for any ``num_threads``.
    A NaN in a window gives NaN (its index is the first NaN).

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1, 0, 2, 2], [0, 3, 2, 2], [0, 0, 5, 0], [0, 0, 0, 0]], dtype=np.float32)
    >>> y, idx = cpool.stochastic_pool2d(x, 2, seed=0, return_indices=True)
    >>> bool(np.all(np.take(x, idx) == y))   # each sample is a value of its window
    True
    >>> float(y[1, 0])                       # an all-zero window gives 0
    0.0
    >>> cpool.stochastic_pool2d(x, 2, training=False)
    array([[2.5, 2. ],
           [0. , 5. ]], dtype=float32)
    """
    return _stochastic_pool("stochastic_pool2d", x, kernel_size, stride, padding, training, seed,
                            return_indices, axes, out, num_threads, ceil_mode)


def _stochastic_pool(fn, x, kernel_size, stride, padding, training, seed, return_indices, axes,
                     out, num_threads, ceil_mode, row_origin=None, col_origin=0, key=None):
    """stochastic_pool2d; ``row_origin`` (int64, one per plane of ``x``: its first output row's
    row in a larger output) and ``col_origin`` place the result as a block of that output, whose
    draws it then repeats (``cpool.dask``; see the kernel's ``_block_row_key``), with the
    generator's ``key`` drawn once for all blocks (else from ``seed``)."""
    training = _v._flag("training", training, fn)
    return_indices = _v._flag("return_indices", return_indices, fn)
    if return_indices and not training:
        raise ValueError(f"{fn}: `return_indices=True` needs `training=True` (eval mode samples nothing)")
    if key is None:
        key = _v.stochastic_key(seed, fn) if training else 0
    plan = _v.prepare_window(fn, "stochastic", x, kernel_size, stride, padding, 1, ceil_mode,
                             return_indices, out, num_threads, axes)
    g = plan.geometry
    if training:
        args = (g.h.lo, g.h.count, g.stride[0], g.w.lo, g.w.count, g.kernel[0], g.kernel[1],
                g.stride[1], g.w.pad_before, key, _v.stochastic_general(g, plan.x.shape[2]),
                plan.num_threads)
        if plan.slabs is not None:
            # A slab's draws are its rows' in the whole output: plane p's first output row is
            # row p * OH of it (the kernel's own numbering), or the caller's origin.
            if row_origin is None:
                planes = plan.slabs.src.shape[0] * plan.slabs.src.shape[1]
                row_origin = np.arange(planes, dtype=np.int64) * g.h.out_size
            smallest = min(_v.by_slabs(plan, _stochastic.stochastic_train,
                                       *(() if return_indices else (None,)), *args,
                                       row_origin=row_origin, col_origin=col_origin))
        else:
            smallest = plan.specialised[_stochastic.stochastic_train](
                plan.x, plan.out, plan.indices, *args, row_origin, col_origin)
    else:
        args = (g.h.lo, g.h.count, g.stride[0], g.kernel[1], g.stride[1], g.w.pad_before,
                g.w.lo, g.w.count, g.clipped, plan.num_threads)
        if plan.slabs is not None:
            smallest = min(_v.by_slabs(plan, _stochastic.stochastic_eval, *args))
        else:
            smallest = plan.specialised[_stochastic.stochastic_eval](plan.x, plan.out, *args)
    if smallest < 0:
        raise ValueError(
            f"{fn}: `x` must be non-negative (stochastic pooling samples ReLU outputs); "
            f"found {smallest!r} in a pooled window"
        )
    return plan.finish()


# ---------------------------------------------------------------------------------------------
# 1-D and 3-D pooling: the same implementations over one or three spatial axes
# ---------------------------------------------------------------------------------------------


@overload
def max_pool1d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
               padding: Padding = ..., dilation: Size = ..., ceil_mode: bool = ...,
               return_indices: Literal[False] = ..., *, axes: Axes = ..., out: OutPair = ...,
               num_threads: Optional[int] = ...) -> Array: ...


@overload
def max_pool1d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
               padding: Padding = ..., dilation: Size = ..., ceil_mode: bool = ..., *,
               return_indices: Literal[True], axes: Axes = ..., out: OutPair = ...,
               num_threads: Optional[int] = ...) -> WithIndices: ...


@overload
def max_pool1d(x: ArrayLike, kernel_size: Size, stride: Optional[Size], padding: Padding,
               dilation: Size, ceil_mode: bool, return_indices: Literal[True], *, axes: Axes = ...,
               out: OutPair = ..., num_threads: Optional[int] = ...) -> WithIndices: ...


@overload
def max_pool1d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
               padding: Padding = ..., dilation: Size = ..., ceil_mode: bool = ...,
               return_indices: bool = ..., *, axes: Axes = ..., out: OutPair = ...,
               num_threads: Optional[int] = ...) -> Union[Array, WithIndices]: ...


@nd_doc('max_pool', 1)
def max_pool1d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
               dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = False, *,
               axes: Axes = (-1,), out: OutPair = None, num_threads: Optional[int] = None
               ) -> Union[Array, WithIndices]:
    return _max_pool("max_pool1d", 1, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, axes, out, num_threads)


@nd_doc('avg_pool', 1)
def avg_pool1d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, *, dilation: Size = 1, axes: Axes = (-1,),
               out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _avg_pool("avg_pool1d", 1, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, dilation, axes, out, num_threads)


@nd_doc('sum_pool', 1)
def sum_pool1d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
               dilation: Size = 1, ceil_mode: bool = False, *, axes: Axes = (-1,), out: Out = None,
               num_threads: Optional[int] = None) -> Array:
    return _sum_pool("sum_pool1d", 1, x, kernel_size, stride, padding, dilation, ceil_mode,
                     axes, out, num_threads)


@overload
def global_max_pool1d(x: ArrayLike, keepdims: bool = ..., return_indices: Literal[False] = ..., *,
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> Array: ...


@overload
def global_max_pool1d(x: ArrayLike, keepdims: bool = ..., *, return_indices: Literal[True],
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> WithIndices: ...


@overload
def global_max_pool1d(x: ArrayLike, keepdims: bool, return_indices: Literal[True], *,
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> WithIndices: ...


@overload
def global_max_pool1d(x: ArrayLike, keepdims: bool = ..., return_indices: bool = ..., *,
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> Union[Array, WithIndices]: ...


@nd_doc('global_max_pool', 1)
def global_max_pool1d(x: ArrayLike, keepdims: bool = False, return_indices: bool = False, *,
                      axes: Axes = (-1,), out: OutPair = None, num_threads: Optional[int] = None
                      ) -> Union[Array, WithIndices]:
    return _global_max("global_max_pool1d", 1, x, keepdims, return_indices, axes, out,
                       num_threads)


@nd_doc('global_avg_pool', 1)
def global_avg_pool1d(x: ArrayLike, keepdims: bool = False, *, axes: Axes = (-1,), out: Out = None,
                      num_threads: Optional[int] = None) -> Array:
    return _global_sum_op("global_avg_pool1d", 1, "avg", x, keepdims, axes, out, num_threads)


@nd_doc('global_sum_pool', 1)
def global_sum_pool1d(x: ArrayLike, keepdims: bool = False, *, axes: Axes = (-1,), out: Out = None,
                      num_threads: Optional[int] = None) -> Array:
    return _global_sum_op("global_sum_pool1d", 1, "sum", x, keepdims, axes, out, num_threads)


@overload
def max_pool3d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
               padding: Padding = ..., dilation: Size = ..., ceil_mode: bool = ...,
               return_indices: Literal[False] = ..., *, axes: Axes = ..., out: OutPair = ...,
               num_threads: Optional[int] = ...) -> Array: ...


@overload
def max_pool3d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
               padding: Padding = ..., dilation: Size = ..., ceil_mode: bool = ..., *,
               return_indices: Literal[True], axes: Axes = ..., out: OutPair = ...,
               num_threads: Optional[int] = ...) -> WithIndices: ...


@overload
def max_pool3d(x: ArrayLike, kernel_size: Size, stride: Optional[Size], padding: Padding,
               dilation: Size, ceil_mode: bool, return_indices: Literal[True], *, axes: Axes = ...,
               out: OutPair = ..., num_threads: Optional[int] = ...) -> WithIndices: ...


@overload
def max_pool3d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = ...,
               padding: Padding = ..., dilation: Size = ..., ceil_mode: bool = ...,
               return_indices: bool = ..., *, axes: Axes = ..., out: OutPair = ...,
               num_threads: Optional[int] = ...) -> Union[Array, WithIndices]: ...


@nd_doc('max_pool', 3)
def max_pool3d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
               dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = False, *,
               axes: Axes = (-3, -2, -1), out: OutPair = None, num_threads: Optional[int] = None
               ) -> Union[Array, WithIndices]:
    return _max_pool("max_pool3d", 3, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, axes, out, num_threads)


@nd_doc('avg_pool', 3)
def avg_pool3d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, *, dilation: Size = 1,
               axes: Axes = (-3, -2, -1), out: Out = None, num_threads: Optional[int] = None
               ) -> Array:
    return _avg_pool("avg_pool3d", 3, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, dilation, axes, out, num_threads)


@nd_doc('sum_pool', 3)
def sum_pool3d(x: ArrayLike, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
               dilation: Size = 1, ceil_mode: bool = False, *, axes: Axes = (-3, -2, -1),
               out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _sum_pool("sum_pool3d", 3, x, kernel_size, stride, padding, dilation, ceil_mode,
                     axes, out, num_threads)


@overload
def global_max_pool3d(x: ArrayLike, keepdims: bool = ..., return_indices: Literal[False] = ..., *,
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> Array: ...


@overload
def global_max_pool3d(x: ArrayLike, keepdims: bool = ..., *, return_indices: Literal[True],
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> WithIndices: ...


@overload
def global_max_pool3d(x: ArrayLike, keepdims: bool, return_indices: Literal[True], *,
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> WithIndices: ...


@overload
def global_max_pool3d(x: ArrayLike, keepdims: bool = ..., return_indices: bool = ..., *,
                      axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                      ) -> Union[Array, WithIndices]: ...


@nd_doc('global_max_pool', 3)
def global_max_pool3d(x: ArrayLike, keepdims: bool = False, return_indices: bool = False, *,
                      axes: Axes = (-3, -2, -1), out: OutPair = None,
                      num_threads: Optional[int] = None) -> Union[Array, WithIndices]:
    return _global_max("global_max_pool3d", 3, x, keepdims, return_indices, axes, out,
                       num_threads)


@nd_doc('global_avg_pool', 3)
def global_avg_pool3d(x: ArrayLike, keepdims: bool = False, *, axes: Axes = (-3, -2, -1),
                      out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _global_sum_op("global_avg_pool3d", 3, "avg", x, keepdims, axes, out, num_threads)


@nd_doc('global_sum_pool', 3)
def global_sum_pool3d(x: ArrayLike, keepdims: bool = False, *, axes: Axes = (-3, -2, -1),
                      out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _global_sum_op("global_sum_pool3d", 3, "sum", x, keepdims, axes, out, num_threads)


# ---------------------------------------------------------------------------------------------
# Adaptive pooling: windows chosen from the output size (PyTorch's AdaptivePooling.h)
# ---------------------------------------------------------------------------------------------


@overload
def adaptive_max_pool1d(x: ArrayLike, output_size: OptionalSize,
                        return_indices: Literal[False] = ..., *, axes: Axes = ...,
                        out: OutPair = ..., num_threads: Optional[int] = ...) -> Array: ...


@overload
def adaptive_max_pool1d(x: ArrayLike, output_size: OptionalSize, *, return_indices: Literal[True],
                        axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                        ) -> WithIndices: ...


@overload
def adaptive_max_pool1d(x: ArrayLike, output_size: OptionalSize, return_indices: Literal[True], *,
                        axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                        ) -> WithIndices: ...


@overload
def adaptive_max_pool1d(x: ArrayLike, output_size: OptionalSize, return_indices: bool = ..., *,
                        axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                        ) -> Union[Array, WithIndices]: ...


@nd_doc('adaptive_max_pool', 1)
def adaptive_max_pool1d(x: ArrayLike, output_size: OptionalSize, return_indices: bool = False, *,
                        axes: Axes = (-1,), out: OutPair = None, num_threads: Optional[int] = None
                        ) -> Union[Array, WithIndices]:
    return _adaptive_pool("adaptive_max_pool1d", 1, "max", x, output_size, return_indices, axes,
                          out, num_threads)


@overload
def adaptive_max_pool2d(x: ArrayLike, output_size: OptionalSize,
                        return_indices: Literal[False] = ..., *, axes: Axes = ...,
                        out: OutPair = ..., num_threads: Optional[int] = ...) -> Array: ...


@overload
def adaptive_max_pool2d(x: ArrayLike, output_size: OptionalSize, *, return_indices: Literal[True],
                        axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                        ) -> WithIndices: ...


@overload
def adaptive_max_pool2d(x: ArrayLike, output_size: OptionalSize, return_indices: Literal[True], *,
                        axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                        ) -> WithIndices: ...


@overload
def adaptive_max_pool2d(x: ArrayLike, output_size: OptionalSize, return_indices: bool = ..., *,
                        axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                        ) -> Union[Array, WithIndices]: ...


@nd_doc('adaptive_max_pool', 2)
def adaptive_max_pool2d(x: ArrayLike, output_size: OptionalSize, return_indices: bool = False, *,
                        axes: Axes = (-2, -1), out: OutPair = None,
                        num_threads: Optional[int] = None) -> Union[Array, WithIndices]:
    return _adaptive_pool("adaptive_max_pool2d", 2, "max", x, output_size, return_indices, axes,
                          out, num_threads)


@overload
def adaptive_max_pool3d(x: ArrayLike, output_size: OptionalSize,
                        return_indices: Literal[False] = ..., *, axes: Axes = ...,
                        out: OutPair = ..., num_threads: Optional[int] = ...) -> Array: ...


@overload
def adaptive_max_pool3d(x: ArrayLike, output_size: OptionalSize, *, return_indices: Literal[True],
                        axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                        ) -> WithIndices: ...


@overload
def adaptive_max_pool3d(x: ArrayLike, output_size: OptionalSize, return_indices: Literal[True], *,
                        axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                        ) -> WithIndices: ...


@overload
def adaptive_max_pool3d(x: ArrayLike, output_size: OptionalSize, return_indices: bool = ..., *,
                        axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                        ) -> Union[Array, WithIndices]: ...


@nd_doc('adaptive_max_pool', 3)
def adaptive_max_pool3d(x: ArrayLike, output_size: OptionalSize, return_indices: bool = False, *,
                        axes: Axes = (-3, -2, -1), out: OutPair = None,
                        num_threads: Optional[int] = None) -> Union[Array, WithIndices]:
    return _adaptive_pool("adaptive_max_pool3d", 3, "max", x, output_size, return_indices, axes,
                          out, num_threads)


@nd_doc('adaptive_avg_pool', 1)
def adaptive_avg_pool1d(x: ArrayLike, output_size: OptionalSize, *, axes: Axes = (-1,),
                        out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _adaptive_pool("adaptive_avg_pool1d", 1, "avg", x, output_size, False, axes, out,
                          num_threads)


@nd_doc('adaptive_avg_pool', 2)
def adaptive_avg_pool2d(x: ArrayLike, output_size: OptionalSize, *, axes: Axes = (-2, -1),
                        out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _adaptive_pool("adaptive_avg_pool2d", 2, "avg", x, output_size, False, axes, out,
                          num_threads)


@nd_doc('adaptive_avg_pool', 3)
def adaptive_avg_pool3d(x: ArrayLike, output_size: OptionalSize, *, axes: Axes = (-3, -2, -1),
                        out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _adaptive_pool("adaptive_avg_pool3d", 3, "avg", x, output_size, False, axes, out,
                          num_threads)


# ---------------------------------------------------------------------------------------------
# LP (power-average) pooling: PyTorch's lp_pool, avg_pool(x**p) * prod(kernel) to the 1/p
# ---------------------------------------------------------------------------------------------

# Inputs are raised to the power p in chunks of about this many bytes along their first axis,
# each chunk averaged while it is still in cache: one pass over the input from memory, no
# temporary of the input's size.
_LP_CHUNK_BYTES = 1 << 21
# p = 2 over planes: the windowed sum kernel squares as it reads (tests switch it off to check
# it against the chunked powers).
_LP_SQUARE_IN_KERNEL = True


def powered(x, p, dtype, out, num_threads: int = 1):
    """``x ** p`` in ``dtype`` into ``out`` (``x`` itself too), as PyTorch's
    ``pow(input, p)`` computes it: products for p = 2, 3 and -2 (``x * x * x``, the same
    roundings), square roots for 0.5 and -0.5, a reciprocal for -1, else pow. In float32
    (into a C-contiguous ``out``), but for the square roots and the reciprocal, the kernel
    does it, one pass on ``num_threads`` threads (a resolved count): the products, or its
    vectorised pow with pow's rules (see ``_powers.pxd``: correctly rounded but for a few
    values in 10^6, where the C powf was 1 ulp off for 1 in 1,600). Else the C library's
    pow, by NumPy.

    NumPy's path: the C pow on a negative base is 6 to 40 times slower than on a positive
    one (float32 pow(x, 3) on (32, 256, 56, 56) normal values: 1.08 s against 28 ms), and 7
    times on NaN, so it is applied to ``|x|`` with NaN lanes zeroed, and the results then
    take pow's own rules: x's sign for an odd integer p, NaN for NaN and, for a p that is not
    an integer, for a finite negative base (pow(-inf, p) is pow(inf, p) then). Its NaNs are
    the C pow's (x86's default NaN), whatever the input NaN's payload; the kernel's too."""
    t = dtype.type
    if x.dtype != dtype:  # float16 (by F16C), integers, byte-swapped: converted once, into out
        _v.cast_into(out, x)
        x = out
    with np.errstate(all="ignore"):
        if p == 1:
            np.copyto(out, x, casting="unsafe")
        elif (dtype == _FLOAT32 and out.flags.c_contiguous
              and p not in (0.5, -0.5, -1)):  # the kernel: its products for 2, 3, -2 too
            base = x
            if not (type(x) is np.ndarray and x.dtype == dtype and x.flags.c_contiguous):
                np.copyto(out, x, casting="unsafe")  # the kernel reads float32 in one run
                base = out
            _backward.lp_powers(base.reshape(-1), out.reshape(-1), t(p), num_threads)
        elif p == 3:  # x * x first: into a temporary where out is x
            square = np.multiply(x, x, out=None if np.may_share_memory(out, x) else out,
                                 dtype=dtype)
            np.multiply(square, x, out=out, dtype=dtype)
        elif p in (2, -2):
            np.multiply(x, x, out=out, dtype=dtype)
            if p == -2:
                np.divide(t(1), out, out=out)
        elif p in (0.5, -0.5):
            np.sqrt(x, out=out, dtype=dtype)
            if p < 0:
                np.divide(t(1), out, out=out)
        elif p == -1:
            np.divide(t(1), x, out=out, dtype=dtype)
        else:
            # pow on |x|. The C pow is slow on a negative base (6-40x), on NaN (7x) and on
            # zero (7x; a ReLU's output is half zeros), so NaN and zero lanes are raised from
            # 1 and their results set after, as pow's rules give them: NaN for NaN and, for a
            # p that is not an integer, a finite negative base; 0 or inf for a zero; then x's
            # sign for an odd p. Lanes are patched with arithmetic and bit steps over every
            # value, not masked copies: random lanes mispredict those (a masked NaN fill took
            # 4x pow's own time). Both steps read x after out is written.
            if np.may_share_memory(out, x):
                x = x.copy()
            whole = p == int(p)
            np.absolute(x, out=out, dtype=dtype)
            nan_lanes = np.isnan(out)
            if not whole:  # finite negatives (pow(-inf, p) is pow(inf, p))
                negative = np.less(x, 0)
                np.logical_and(negative, np.greater(x, -np.inf), out=negative)
                np.logical_or(nan_lanes, negative, out=nan_lanes)
                del negative
            zero_lanes = np.equal(out, 0)
            any_nan, any_zero = bool(nan_lanes.any()), bool(zero_lanes.any())
            bits = out.view(np.dtype(f"i{out.itemsize}"))
            lanes = nan_lanes.view(np.int8)  # 1 in a NaN lane, else 0
            if any_nan:  # the bases 0 (NaN's bits cleared), then 1 as the zeros' below
                np.subtract(lanes, 1, out=lanes)  # all ones (-1) but in NaN lanes
                np.bitwise_and(bits, lanes, out=bits)
                np.add(lanes, 1, out=lanes)  # back to 1 in a NaN lane, 0 elsewhere
                np.add(out, nan_lanes, out=out)
            if any_zero:
                np.add(out, zero_lanes, out=out)
            np.power(out, t(p), out=out)
            if any_zero:  # 1 -> 0 (p > 0) or inf (p < 0); every other lane by 1
                np.logical_not(zero_lanes, out=zero_lanes)
                (np.multiply if p > 0 else np.divide)(out, zero_lanes, out=out)
            if any_nan:
                np.negative(lanes, out=lanes)  # -1 in a NaN lane
                _nan_lanes(bits, lanes, dtype)
            if whole and int(p) % 2:  # an odd p: pow's sign is the base's (-0, -inf too)
                np.copysign(out, x, out=out, dtype=dtype)
    return out


def _nan_lanes(bits, lanes, dtype):
    """NaN into the float values whose integer view is ``bits``, where ``lanes`` (int8, the
    values' shape, consumed) is -1; 0 elsewhere leaves them be. The NaN is x86's default one
    (all ones shifted left past the sign, exponent and quiet bit: 0xffc00000 in float32),
    the C pow's for a negative base. Integer steps over all lanes, no branch per value."""
    np.bitwise_or(bits, lanes, out=bits)  # all ones in the NaN lanes
    np.multiply(lanes, -(np.finfo(dtype).nmant - 1), out=lanes)  # nmant - 1 there, 0 elsewhere
    np.left_shift(bits, lanes, out=bits)


def batch_blocks(shape, axes, itemsize):
    """Index tuples that cut an array of ``shape`` into blocks of about _LP_CHUNK_BYTES (of
    ``itemsize``-byte values) along its batch axes before the first pooled one: ``x[idx]``,
    and the pooled result's ``[idx]``, are matching blocks (views with every axis kept).

    A block is a run of the first axis; where one entry of it is over four chunks (a batch
    of one large image of many channels) a run of the next axis within each entry, and so on
    down to single planes, so that no block (nor the scratch a block needs) is the input's
    size unless the input is one plane, or one channels-last image (the axes after the pooled
    ones are not cut). An input whose first axis is pooled is one block. An entry of up to
    four chunks stays whole (a 3 MB image of 256 planes of 56x56): the kernel's threads split
    each block's rows, and blocks cut in the middle of images left the last thread of 6 with
    60% of the others' share over a batch."""
    k = 0
    while (k not in axes and k + 1 < len(shape) and k + 1 not in axes
           and math.prod(shape[k + 1:]) * itemsize > 4 * _LP_CHUNK_BYTES):
        k += 1
    if k in axes or not shape:
        return [()]
    inner = math.prod(shape[k + 1:]) * itemsize
    step = max(1, _LP_CHUNK_BYTES // inner) if inner else max(1, shape[k])
    return [tuple(slice(i, i + 1) for i in outer) + (slice(start, start + step),)
            for outer in np.ndindex(*shape[:k]) for start in range(0, shape[k], step)]


def power_threads(num_threads, size: int, fn: str) -> int:
    """The threads :func:`powered` gets for the blocks (:func:`batch_blocks`, about
    _LP_CHUNK_BYTES of float32 each) of an array of ``size`` values: a power costs about what
    16 values cost a pooling kernel, in tasks of 4096 values."""
    block = min(size, _LP_CHUNK_BYTES // 4)
    return _v._threads_for(num_threads, 16 * block, -(-block // 4096), fn)


def powers_by_block(x, axes, p, dtype, num_threads: int = 1):
    """``(idx, x[idx] ** p)`` for each of :func:`batch_blocks`'s blocks of ``x`` in turn, the
    powers (:func:`powered`, in ``dtype``, on ``num_threads`` threads) in one buffer that every
    block reuses: valid until the next block is drawn."""
    blocks = batch_blocks(x.shape, axes, dtype.itemsize)
    scratch = _v.empty((max((x[b].size for b in blocks), default=0),), dtype)
    for b in blocks:
        part = x[b]
        yield b, powered(part, p, dtype, scratch[:part.size].reshape(part.shape), num_threads)


def _lp_chunks(fn, n, plan, means, num_threads, norms=False):
    """``avg_pool(x ** p)`` into ``means`` (no padding; divisors count the real cells, as
    PyTorch's); with ``norms``, PyTorch's LP formula on them (:func:`_lp_finish`), each chunk
    while it is in cache.

    p = 2 over planes: one kernel call that squares the values as it reads them (no pass to
    raise the input to the power) and, for ``norms``, takes each mean's root where it makes it
    (a pass over the means after the kernel cost a third of its time: lp 2x2 on
    (32, 256, 56, 56), 7.8 -> 5.2 ms). Otherwise (another p, or a
    channels-last input, whose kernel does not square) a block of the batch axes at a time
    (:func:`powers_by_block`): its powers into one reused buffer, averaged while in cache.
    The geometry and divisors are the plan's, made once."""
    x, axes = plan.x, plan.axes
    counts = _v.avg_divisors(plan.geometry, True, None, fn)
    if plan.p == 2 and _LP_SQUARE_IN_KERNEL:
        whole = _v.lp_chunk_plan(fn, plan, x, means, num_threads)
        if whole.lanes == 1:
            _window_mean(whole, counts, square=True,
                         root=float(math.prod(plan.geometry.kernel)) if norms else 0.0)
            return means
    pow_threads = power_threads(num_threads, x.size, fn)
    for b, powers in powers_by_block(x, axes, plan.p, plan.dtype, pow_threads):
        _window_mean(_v.lp_chunk_plan(fn, plan, powers, means[b], num_threads), counts)
        if norms:
            _lp_finish(plan, means[b], powers, pow_threads)
    return means


def _lp_finish(plan, t, spare, num_threads: int = 1):
    """PyTorch's ``(sign(t) * relu(|t|) * prod(kernel)) ** (1/p)`` in place on means ``t``.
    sign(t) * relu(|t|) is t itself, NaN too, but for -0, which it makes +0 (hence the + 0;
    p = 2 sums squares, which are never -0). No warnings: overflow to inf and the NaN of a
    negative mean's fractional power are PyTorch's results, which it returns silently.
    ``spare``: a contiguous buffer of at least ``t.size`` values of the dtype, free to
    overwrite (the block's powers, once averaged), that takes the roots before they are
    copied back: :func:`powered` reads its base after writing its result, and would copy
    ``t`` otherwise. The roots are taken on ``num_threads`` threads."""
    with np.errstate(all="ignore"):
        np.multiply(t, plan.dtype.type(math.prod(plan.geometry.kernel)), out=t)
        if plan.p != 2:
            np.add(t, 0, out=t)
        if plan.p == 2:
            np.sqrt(t, out=t)
        elif plan.p != 1:
            roots = spare.reshape(-1)[:t.size].reshape(t.shape)
            np.copyto(t, powered(t, 1 / plan.p, plan.dtype, roots, num_threads))


def _lp_pool(fn, n, x, norm_type, kernel_size, stride, ceil_mode, axes, out, num_threads):
    """lp_pool1d/2d/3d: PyTorch's formula on ``a = avg_pool(x ** p)``, finished chunk by
    chunk, in the result itself unless it has another dtype or shares memory with ``x``."""
    plan = _v.prepare_lp(fn, x, norm_type, kernel_size, stride, ceil_mode, axes, n)
    result = _v.lp_result(fn, plan, out)
    direct = result.dtype == plan.dtype and not np.may_share_memory(result, plan.x)
    means = result if direct else _v.empty(result.shape, plan.dtype)
    _lp_chunks(fn, n, plan, means, num_threads, norms=True)
    if not direct:
        _v.cast_into(result, means)
    return result


@nd_doc('lp_pool', 1)
def lp_pool1d(x: ArrayLike, norm_type: float, kernel_size: Size, stride: Optional[Size] = None,
              ceil_mode: bool = False, *, axes: Axes = (-1,), out: Out = None,
              num_threads: Optional[int] = None) -> Array:
    return _lp_pool("lp_pool1d", 1, x, norm_type, kernel_size, stride, ceil_mode, axes, out,
                    num_threads)


@nd_doc('lp_pool', 2)
def lp_pool2d(x: ArrayLike, norm_type: float, kernel_size: Size, stride: Optional[Size] = None,
              ceil_mode: bool = False, *, axes: Axes = (-2, -1), out: Out = None,
              num_threads: Optional[int] = None) -> Array:
    return _lp_pool("lp_pool2d", 2, x, norm_type, kernel_size, stride, ceil_mode, axes, out,
                    num_threads)


@nd_doc('lp_pool', 3)
def lp_pool3d(x: ArrayLike, norm_type: float, kernel_size: Size, stride: Optional[Size] = None,
              ceil_mode: bool = False, *, axes: Axes = (-3, -2, -1), out: Out = None,
              num_threads: Optional[int] = None) -> Array:
    return _lp_pool("lp_pool3d", 3, x, norm_type, kernel_size, stride, ceil_mode, axes, out,
                    num_threads)


# ---------------------------------------------------------------------------------------------
# Fractional max pooling (Graham 2014; PyTorch's FractionalMaxPool2d/3d): windows of a fixed
# size at pseudo-random steps, every plane its own
# ---------------------------------------------------------------------------------------------


def _fractional_max_pool(fn, n, x, kernel_size, output_size, output_ratio, return_indices,
                         seed, random_samples, axes, out, num_threads):
    """fractional_max_pool2d/3d: the windowed max kernels over every plane's own windows."""
    plan = _v.prepare_fractional(fn, x, kernel_size, output_size, output_ratio, return_indices,
                                 seed, random_samples, out, num_threads, axes, n)
    return _window_max(plan)


@overload
def fractional_max_pool2d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size] = ...,
                          output_ratio: Optional[Ratio] = ..., return_indices: Literal[False] = ...,
                          *, seed: Seed = ..., random_samples: Optional[ArrayLike] = ...,
                          axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                          ) -> Array: ...


@overload
def fractional_max_pool2d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size] = ...,
                          output_ratio: Optional[Ratio] = ..., *, return_indices: Literal[True],
                          seed: Seed = ..., random_samples: Optional[ArrayLike] = ...,
                          axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                          ) -> WithIndices: ...


@overload
def fractional_max_pool2d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size],
                          output_ratio: Optional[Ratio], return_indices: Literal[True], *,
                          seed: Seed = ..., random_samples: Optional[ArrayLike] = ...,
                          axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                          ) -> WithIndices: ...


@overload
def fractional_max_pool2d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size] = ...,
                          output_ratio: Optional[Ratio] = ..., return_indices: bool = ..., *,
                          seed: Seed = ..., random_samples: Optional[ArrayLike] = ...,
                          axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                          ) -> Union[Array, WithIndices]: ...


@nd_doc('fractional_max_pool', 2)
def fractional_max_pool2d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size] = None,
                          output_ratio: Optional[Ratio] = None, return_indices: bool = False, *,
                          seed: Seed = None, random_samples: Optional[ArrayLike] = None,
                          axes: Axes = (-2, -1), out: OutPair = None,
                          num_threads: Optional[int] = None) -> Union[Array, WithIndices]:
    return _fractional_max_pool("fractional_max_pool2d", 2, x, kernel_size, output_size,
                                output_ratio, return_indices, seed, random_samples, axes, out,
                                num_threads)


@overload
def fractional_max_pool3d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size] = ...,
                          output_ratio: Optional[Ratio] = ..., return_indices: Literal[False] = ...,
                          *, seed: Seed = ..., random_samples: Optional[ArrayLike] = ...,
                          axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                          ) -> Array: ...


@overload
def fractional_max_pool3d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size] = ...,
                          output_ratio: Optional[Ratio] = ..., *, return_indices: Literal[True],
                          seed: Seed = ..., random_samples: Optional[ArrayLike] = ...,
                          axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                          ) -> WithIndices: ...


@overload
def fractional_max_pool3d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size],
                          output_ratio: Optional[Ratio], return_indices: Literal[True], *,
                          seed: Seed = ..., random_samples: Optional[ArrayLike] = ...,
                          axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                          ) -> WithIndices: ...


@overload
def fractional_max_pool3d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size] = ...,
                          output_ratio: Optional[Ratio] = ..., return_indices: bool = ..., *,
                          seed: Seed = ..., random_samples: Optional[ArrayLike] = ...,
                          axes: Axes = ..., out: OutPair = ..., num_threads: Optional[int] = ...
                          ) -> Union[Array, WithIndices]: ...


@nd_doc('fractional_max_pool', 3)
def fractional_max_pool3d(x: ArrayLike, kernel_size: Size, output_size: Optional[Size] = None,
                          output_ratio: Optional[Ratio] = None, return_indices: bool = False, *,
                          seed: Seed = None, random_samples: Optional[ArrayLike] = None,
                          axes: Axes = (-3, -2, -1), out: OutPair = None,
                          num_threads: Optional[int] = None) -> Union[Array, WithIndices]:
    return _fractional_max_pool("fractional_max_pool3d", 3, x, kernel_size, output_size,
                                output_ratio, return_indices, seed, random_samples, axes, out,
                                num_threads)

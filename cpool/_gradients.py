"""Gradients of every pooling op, and max_unpool2d.

Each returns the gradient with respect to the forward op's input: an array of ``input_shape``
in ``grad_output``'s dtype, equal to what PyTorch's autograd gives for the matching
``torch.nn.functional`` call. Same three steps as the forward ops: validate
(``cpool._validation``), one kernel call that releases the GIL (``cpool._kernels._backward``),
return.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from cpool import _api
from cpool._typing import Array, ArrayLike, Axes, Out, Padding, Shape, Size
from cpool import _validation as _v
from cpool._docs import fill_doc, nd_doc
from cpool._kernels import backward as _backward


def _scatter(fn, values, indices, shape, axes, out, num_threads, accumulate=True,
             values_name="grad_output"):
    """Scatter ``values`` at ``indices`` (flat within each (H, W) plane) into a result of
    ``shape``; all three have their (H, W) axes at ``axes`` (normalised)."""
    v = _v.as_array(values, values_name, fn)
    if v.ndim != len(shape) or _v.without_axes(v.shape, axes) != _v.without_axes(shape, axes):
        raise ValueError(
            f"{fn}: `{values_name}` {v.shape} does not match `input_shape` {shape}: "
            f"the axes other than ({', '.join(_v.AXIS_NAMES[len(axes)])}) {axes} must be equal"
        )
    # Channels-last memory seen in another axis order (a PyTorch channels_last tensor's NCHW
    # view): scattered in memory order by the channels-last scatter, the result laid out alike,
    # as the forward ops do (_validation._channels_last_order).
    # (Only where the indices match: errors name the caller's shapes.)
    idx = _v.as_array(indices, "indices", fn)
    order = _v._channels_last_order(v, axes) if out is None and idx.shape == v.shape else None
    if order is not None:
        moved = _scatter(fn, v.transpose(order), idx.transpose(order),
                         tuple(shape[a] for a in order), tuple(order.index(a) for a in axes),
                         None, num_threads, accumulate, values_name)
        return moved.transpose(tuple(np.argsort(order)))
    plan = _v.prepare_scatter(fn, v, idx, shape, axes, out, num_threads, values_name)
    cells = math.prod(shape[a] for a in axes)
    P = math.prod(_v.without_axes(shape, axes)) // plan.lanes  # planes, or images

    def rows(a):  # (P, everything of one plane or image)
        return a.reshape(P, a.size // P if P else 0)

    # The planes' row widths (3-D volumes': and their heights; channels-last images' and
    # volumes': in pixels), for the kernel's one-pass 2x2 (2x2x2; 1-D signals': 1x2) tiles.
    widths = (plan.grad.shape[axes[-1]], shape[axes[-1]])
    if len(axes) == 3:
        widths += (plan.grad.shape[axes[-2]], shape[axes[-2]])
    if plan.slab:  # a new float16 result, a slab of planes at a time
        bad = sum(_v.gradient_by_slabs(plan, P, lambda a, b, part: _backward.scatter(
            rows(plan.grad)[a:b], rows(plan.indices)[a:b], part, accumulate, plan.lanes,
            plan.block, plan.num_threads, *widths)))
    else:
        bad = _backward.scatter(rows(plan.grad), rows(plan.indices), rows(plan.out),
                                accumulate, plan.lanes, plan.block, plan.num_threads, *widths)
    if bad:
        names = "*".join(_v.AXIS_NAMES[len(axes)])
        raise ValueError(f"{fn}: `indices` must lie in [0, {names}) = [0, {cells}); {bad} do not")
    return plan.finish()


@fill_doc
def max_pool2d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                        axes: Axes = (-2, -1), out: Out = None, num_threads: Optional[int] = None
                        ) -> Array:
    """Gradient of :func:`max_pool2d`: each output's gradient added at its maximum's index.

    Parameters
    ----------
    grad_output : (..., H_out, W_out) array_like
        Gradient of the loss with respect to the pooled output; float16/32/64.
    indices : (..., H_out, W_out) array_like of int
        The ``return_indices`` output of the forward call (flat ``h * W + w``).
    %(input_shape)s
    %(axes_grad)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H, W) ndarray
        ``input_shape``, ``grad_output``'s dtype. Overlapping windows accumulate.

    Raises
    ------
    ValueError
        Shapes that do not match, an index outside ``[0, H*W)`` but -1 (nothing is written
        out of bounds; -1, a dilated window that read no cell, sends nothing), a bad ``out``,
        ``num_threads < 1``.
    TypeError
        Non-floating ``grad_output``, non-integer ``indices``.

    See Also
    --------
    max_pool2d : The forward op (``return_indices=True`` gives ``indices``).
    max_unpool2d : Places values at the indices instead of adding them.

    Notes
    -----
    PyTorch autograd's gradient of ``F.max_pool2d``: ``grad_input[p, indices[p, i]] +=
    grad_output[p, i]`` for every output ``i`` of plane ``p``, in row-major output order, so
    overlapping windows (kernel > stride) that share a maximum add up at it. Planes run in
    parallel; each plane's additions keep that order, so the result is bitwise identical for any
    ``num_threads``.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1., 5., 2.], [4., 3., 0.], [2., 2., 9.]])
    >>> y, idx = cpool.max_pool2d(x, 2, stride=1, return_indices=True)
    >>> cpool.max_pool2d_backward(np.ones_like(y), idx, x.shape)
    array([[0., 2., 0.],
           [1., 0., 0.],
           [0., 0., 1.]])
    """
    return _max_backward("max_pool2d_backward", 2, grad_output, indices, input_shape, axes, out,
                         num_threads)


def _max_backward(fn, n, grad_output, indices, input_shape, axes, out, num_threads):
    """max_pool1d/2d/3d_backward over ``n`` spatial axes: a scatter-add at the indices."""
    shape, axes = _v.input_shape_arg(input_shape, axes, fn, n)
    return _scatter(fn, grad_output, indices, shape, axes, out, num_threads)


@fill_doc
def stochastic_pool2d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                               axes: Axes = (-2, -1), out: Out = None,
                               num_threads: Optional[int] = None) -> Array:
    """Gradient of :func:`stochastic_pool2d` in training mode: routed to the sampled cells.

    Parameters
    ----------
    grad_output : (..., H_out, W_out) array_like
        Gradient of the loss with respect to the pooled output; float16/32/64.
    indices : (..., H_out, W_out) array_like of int
        The ``return_indices`` output of the forward call.
    %(input_shape)s
    %(axes_grad)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H, W) ndarray
        ``input_shape``, ``grad_output``'s dtype.

    Raises
    ------
    ValueError
        As :func:`max_pool2d_backward`.
    TypeError
        As :func:`max_pool2d_backward`.

    See Also
    --------
    stochastic_pool2d : The forward op (``training=True, return_indices=True``).
    max_pool2d_backward : The same scatter-add, for max pooling's indices.

    Notes
    -----
    The sampled cell is the output's value, so the gradient flows to it alone, exactly like max
    pooling's: ``grad_input[p, indices[p, i]] += grad_output[p, i]``. Windows whose sum is 0
    output 0 and route their gradient to their first cell. The evaluation mode
    (``training=False``) is a smooth function of the whole window and has no backward here.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[0., 2.], [0., 0.]])
    >>> y, idx = cpool.stochastic_pool2d(x, 2, seed=0, return_indices=True)
    >>> cpool.stochastic_pool2d_backward(np.ones_like(y), idx, x.shape)
    array([[0., 1.],
           [0., 0.]])
    """
    fn = "stochastic_pool2d_backward"
    shape, axes = _v.input_shape_arg(input_shape, axes, fn)
    return _scatter(fn, grad_output, indices, shape, axes, out, num_threads)


@fill_doc
def global_max_pool2d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                               axes: Axes = (-2, -1), out: Out = None,
                               num_threads: Optional[int] = None) -> Array:
    """Gradient of :func:`global_max_pool2d`: each plane's gradient at its maximum.

    Parameters
    ----------
    %(grad_global)s
    indices : array_like of int
        The ``return_indices`` output of the forward call, shaped like ``grad_output``.
    %(input_shape)s
    %(axes_grad)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H, W) ndarray
        ``input_shape``, ``grad_output``'s dtype (as ``amax``'s gradient with PyTorch's index).

    Raises
    ------
    ValueError
        Shapes that do not match, an index outside ``[0, H*W)``, a bad ``out``.
    TypeError
        Non-floating ``grad_output``, non-integer ``indices``.

    See Also
    --------
    global_max_pool2d : The forward op (``return_indices=True`` gives ``indices``).
    max_pool2d_backward : The windowed version.

    Notes
    -----
    ``grad_output`` may have the forward's shape with or without ``keepdims``. Like PyTorch's
    gradient of ``adaptive_max_pool2d(x, 1)``, the whole gradient goes to the one index the
    forward returned (the first maximum, or the last NaN), not split among ties.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1., 5.], [4., 3.]])
    >>> m, idx = cpool.global_max_pool2d(x, return_indices=True)
    >>> cpool.global_max_pool2d_backward(np.float64(2.0), idx, x.shape)
    array([[0., 2.],
           [0., 0.]])
    """
    return _global_max_backward("global_max_pool2d_backward", 2, grad_output, indices,
                                input_shape, axes, out, num_threads)


def _global_max_backward(fn, n, grad_output, indices, input_shape, axes, out, num_threads):
    """global_max_pool1d/2d/3d_backward over ``n`` spatial axes."""
    shape, axes = _v.input_shape_arg(input_shape, axes, fn, n)
    g = _v.as_array(grad_output, "grad_output", fn)
    flat = _v.global_shape(shape, axes, True)  # one index per plane
    if g.shape not in (_v.global_shape(shape, axes, False), flat):
        raise ValueError(
            f"{fn}: `grad_output` must have shape {_v.global_shape(shape, axes, False)} or "
            f"{flat}, got {g.shape}"
        )
    idx = _v.as_array(indices, "indices", fn)
    if idx.shape != g.shape:
        raise ValueError(f"{fn}: `indices` must have the shape of `grad_output` {g.shape}, got {idx.shape}")
    return _scatter(fn, g.reshape(flat), idx.reshape(flat), shape, axes, out, num_threads)


def _global_fill(fn, n, grad_output, input_shape, axes, mean, out, num_threads):
    """global_avg/sum_pool1d/2d/3d_backward over ``n`` spatial axes: each output's gradient
    (over the cell count, with ``mean``) on every cell of its block."""
    shape, axes = _v.input_shape_arg(input_shape, axes, fn, n)
    expected = (_v.global_shape(shape, axes, False), _v.global_shape(shape, axes, True))
    plan = _v.prepare_backward(fn, grad_output, shape, axes, expected, out, num_threads,
                               spatial=False, by_slabs=True, lanes_ok=True)
    lanes = plan.lanes
    P, HW = math.prod(expected[0]), math.prod(shape[a] for a in axes)
    grad = plan.grad.reshape(P)
    if plan.slab:  # a new float16 result, a slab of planes (images) at a time
        _v.gradient_by_slabs(plan, P // lanes, lambda a, b, part: _backward.fill_planes(
            grad[a * lanes:b * lanes], part, mean, plan.num_threads, lanes, plan.block))
    else:
        _backward.fill_planes(grad, plan.out.reshape(P // lanes, HW * lanes), mean,
                              plan.num_threads, lanes, plan.block)
    return plan.finish()


@fill_doc
def global_avg_pool2d_backward(grad_output: ArrayLike, input_shape: Shape, *, axes: Axes = (-2, -1),
                               out: Out = None, num_threads: Optional[int] = None) -> Array:
    """Gradient of :func:`global_avg_pool2d`: each plane gets its gradient over ``H*W``.

    Parameters
    ----------
    %(grad_global)s
    %(input_shape)s
    %(axes_grad)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H, W) ndarray
        ``input_shape``, ``grad_output``'s dtype.

    Raises
    ------
    %(raises_grad_global)s

    See Also
    --------
    global_avg_pool2d : The forward op.
    global_sum_pool2d_backward : The same without the division.

    Notes
    -----
    ``grad_input[..., h, w] = grad_output[...] / (H * W)`` for every cell: PyTorch's gradient of
    ``x.mean((-2, -1))``. ``grad_output`` may have the forward's shape with or without
    ``keepdims``.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_avg_pool2d_backward(np.array([4.0, 8.0]), (2, 2, 2))
    array([[[1., 1.],
            [1., 1.]],
    <BLANKLINE>
           [[2., 2.],
            [2., 2.]]])
    """
    return _global_fill("global_avg_pool2d_backward", 2, grad_output, input_shape, axes, True, out,
                        num_threads)


@fill_doc
def global_sum_pool2d_backward(grad_output: ArrayLike, input_shape: Shape, *, axes: Axes = (-2, -1),
                               out: Out = None, num_threads: Optional[int] = None) -> Array:
    """Gradient of :func:`global_sum_pool2d`: each plane gets its gradient everywhere.

    Parameters
    ----------
    %(grad_global)s
    %(input_shape)s
    %(axes_grad)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H, W) ndarray
        ``input_shape``, ``grad_output``'s dtype.

    Raises
    ------
    %(raises_grad_global)s

    See Also
    --------
    global_sum_pool2d : The forward op.
    global_avg_pool2d_backward : The same divided by ``H * W``.

    Notes
    -----
    ``grad_input[..., h, w] = grad_output[...]`` for every cell: PyTorch's gradient of
    ``x.sum((-2, -1))``. ``grad_output`` may have the forward's shape with or without
    ``keepdims``.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_sum_pool2d_backward(np.float32(3), (2, 3))
    array([[3., 3., 3.],
           [3., 3., 3.]], dtype=float32)
    """
    return _global_fill("global_sum_pool2d_backward", 2, grad_output, input_shape, axes, False, out,
                        num_threads)


def _sum_backward_call(grad, out, rows, cols, row_params, col_params, clipped, count_h,
                       count_w, divide, num_threads, squared_input=None, lp_means=False):
    """One call of the 2-D window-sum gradient kernel: ``grad`` (P, OH, OW) into ``out``
    (P, H, W), with the row and column windows (AxisWindows) and their (kernel, stride,
    dilation); with ``squared_input`` (``out``'s shape and dtype) times its values' squares'
    derivative, and with ``lp_means`` ``grad`` is LP's (p = 2) output gradient (the kernel
    makes the means' own)."""
    kh, sh, dh = row_params
    kw, sw, dw = col_params
    _backward.window_sum_backward(grad, out, rows.lo, rows.count, kh, sh, dh, kw, sw, dw,
                                  cols.pad_before, cols.lo, cols.count, clipped, count_h,
                                  count_w, divide, num_threads, squared_input, lp_means)


def _window_backward(fn, n, grad_output, input_shape, axes, kernel_size, stride, padding,
                     dilation, ceil_mode, out, num_threads, avg=None, squared_input=None,
                     lp_means=False):
    """Gradient of sum (``avg`` None) or average (``avg``: (count_include_pad,
    divisor_override)) pooling over ``n`` spatial axes (of the squares of ``squared_input``,
    an input-shaped array, where given)."""
    grad, shape, axes, geom, grad_shape = _v.window_backward_geometry(
        fn, grad_output, input_shape, axes, kernel_size, stride, padding, dilation, ceil_mode, n)
    counts = None if avg is None else _v.avg_divisors(geom, avg[0], avg[1], fn)
    return _spread(fn, n, grad, shape, axes, geom, grad_shape, counts, out, num_threads,
                   squared_input, lp_means)


def _spread(fn, n, grad_output, shape, axes, geom, grad_shape, counts, out, num_threads,
            squared_input=None, lp_means=False):
    """Each output's gradient (over its divisor, with ``counts`` from avg_divisors) added to
    every cell of its window: the gradient of a windowed sum (``counts`` None) or average.
    With ``squared_input`` (LP pooling, p = 2) the sums were of its squares: the last kernel
    call multiplies each finished plane by ``squared_input * 2``. With ``lp_means`` too (1-D
    and 2-D), ``grad_output`` is LP's output gradient and the kernel makes each plane's
    means' gradients from ``squared_input`` before it spreads them.

    1-D and 2-D: one kernel call (a 1-D input is one row high). 3-D: the sum's gradient is
    its axes' gradients applied one after the other (the forward sums them one axis at a
    time): the gradients over their divisors spread over (H, W) for every output slice, then
    those slices spread over the depth windows; one kernel call does both a volume at a time
    (window_sum_backward_3d), but for LP's squares, which take the two passes."""
    # (A float16 result by slabs, but not LP's.) Channels-last gradients are spread in place
    # (1-D and 2-D stride-1 windows gathered, as the planes' are: another order of additions
    # than the spread's; 3-D ones spread, as the planes' are).
    kh, sh, dh = geom.axis_params(1)
    kw, sw, dw = geom.axis_params(2)
    gathered = sh == dh == sw == dw == 1 and not geom.clipped
    plan = _v.prepare_backward(fn, grad_output, shape, axes, (grad_shape,), out, num_threads,
                               by_slabs=squared_input is None,
                               lanes_ok=squared_input is None)
    squared = (None if squared_input is None else
               _v.contiguous(_v.spatial_last(squared_input, axes), plan.out.dtype))
    avg = counts is not None
    counts = counts if avg else (_v.NO_COUNTS,) * 3
    P = math.prod(_v.without_axes(shape, axes))
    sizes = tuple(shape[a] for a in axes)
    H, W = (1,) + sizes if n == 1 else sizes[-2:]
    OH, OW = geom.h.out_size, geom.w.out_size
    if n == 3 and squared is None:  # each volume's slices spread and summed over depth at once
        D, OD = sizes[0], geom.d.out_size
        volumes, lanes = P // plan.lanes, plan.lanes  # (N, C) planes, or N images of C lanes

        def spread_volumes_once(g, part):
            _backward.window_sum_backward_3d(
                g, part, OD, OH, OW, D, H, W, geom.d.lo, geom.d.count, geom.axis_params(0)[2],
                geom.h.lo, geom.h.count, dh, kw, sw, dw, geom.w.pad_before, geom.w.lo,
                geom.w.count, geom.clipped, counts[0], counts[1], counts[2], avg,
                plan.num_threads, lanes, plan.block)

        grad = plan.grad.reshape(volumes, OD * OH * OW * lanes)
        if plan.slab:  # a new float16 result, a slab of volumes at a time
            _v.gradient_by_slabs(plan, volumes, lambda a, b, part: spread_volumes_once(
                grad[a:b], part.reshape(b - a, D * H * W * lanes)))
        else:
            spread_volumes_once(grad, plan.out.reshape(volumes, D * H * W * lanes))
        return plan.finish()
    if plan.lanes > 1:  # channels-last images: (N, rows of pixels)
        images = P // plan.lanes

        def spread_images(g, part):
            _backward.window_sum_backward_lanes(
                g, part, OW, W, geom.h.lo, geom.h.count, dh, kw, sw, dw, geom.w.pad_before,
                geom.w.lo, geom.w.count, geom.clipped, counts[1], counts[2], avg, plan.lanes,
                plan.block, plan.num_threads, gathered, kh)

        grad = plan.grad.reshape(images, math.prod(geom.out_sizes) * plan.lanes)
        if plan.slab:  # a new float16 result, a slab of images at a time
            _v.gradient_by_slabs(plan, images, lambda a, b, part: spread_images(
                grad[a:b], part.reshape(b - a, H * W * plan.lanes)))
        else:
            spread_images(grad, plan.out.reshape(images, H * W * plan.lanes))
        return plan.finish()
    grad = plan.grad.reshape(P, math.prod(geom.out_sizes))
    if n < 3:
        grad = grad.reshape(P, OH, OW)
        windows = (geom.h, geom.w, geom.axis_params(1), geom.axis_params(2), geom.clipped,
                   counts[1], counts[2], avg, plan.num_threads)
        if plan.slab:  # a new float16 result, a slab of planes at a time
            _v.gradient_by_slabs(plan, P, lambda a, b, part: _sum_backward_call(
                grad[a:b], part.reshape(b - a, H, W), *windows))
        else:
            _sum_backward_call(grad, plan.out.reshape(P, H, W), *windows,
                               None if squared is None else squared.reshape(P, H, W), lp_means)
        return plan.finish()
    if lp_means:
        raise ValueError(f"{fn}: LP means are made in the spread for 1-D and 2-D windows only")
    D, OD = sizes[0], geom.d.out_size
    if avg and P:  # over the divisors first, as autograd's grad / divisor (an empty batch: none)
        divisors = (counts[0][:, None, None] * counts[1][:, None] * counts[2]).astype(grad.dtype)
        # A divisor is 0 only for a window with no real cell, whose gradient goes nowhere.
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = (grad.reshape(P, OD, OH, OW) / divisors).reshape(P, OD * OH * OW)
    # Depth: each slice's H*W cells are the columns of one row, spread over the depth windows
    # (adaptive pooling's uneven depth windows by the kernel's general path).
    cells = _v.window_bounds(H * W, 1, 1, 1, 0, 0, False)
    slices = _v.empty(((plan.slab or P) * OD, H, W), grad.dtype)

    def spread_volumes(g, volumes, squares=None):
        """``g`` (p, OD * OH * OW) into ``volumes`` (p, D, H * W): over (H, W) for every output
        slice into ``slices``' head, then those over the depth windows."""
        p = g.shape[0]
        part = slices[:p * OD]
        _sum_backward_call(g.reshape(p * OD, OH, OW), part, geom.h, geom.w,
                           geom.axis_params(1), geom.axis_params(2), geom.clipped,
                           _v.NO_COUNTS, _v.NO_COUNTS, False, plan.num_threads)
        _sum_backward_call(part.reshape(p, OD, H * W), volumes, geom.d, cells,
                           geom.axis_params(0), (1, 1, 1), geom.clipped, _v.NO_COUNTS,
                           _v.NO_COUNTS, False, plan.num_threads, squares)

    if plan.slab:  # a new float16 result, a slab of volumes at a time
        _v.gradient_by_slabs(plan, P, lambda a, b, part: spread_volumes(
            grad[a:b], part.reshape(b - a, D, H * W)))
    else:
        spread_volumes(grad, plan.out.reshape(P, D, H * W),
                       None if squared is None else squared.reshape(P, D, H * W))
    return plan.finish()


@fill_doc
def avg_pool2d_backward(grad_output: ArrayLike, input_shape: Shape, kernel_size: Size,
                        stride: Optional[Size] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None, *, dilation: Size = 1,
                        axes: Axes = (-2, -1), out: Out = None, num_threads: Optional[int] = None
                        ) -> Array:
    """Gradient of :func:`avg_pool2d`: each output's gradient over its divisor, on its window.

    Parameters
    ----------
    grad_output : (..., H_out, W_out) array_like
        Gradient with respect to the pooled output; float16/32/64, shape as the forward output.
    %(input_shape)s
    %(kernel_size)s
    %(stride)s
    padding : int, (int, int), ((int, int), (int, int)) or str, default=0
        As in the forward call (:func:`avg_pool2d`).
    %(ceil_mode)s
    count_include_pad : bool, default=True
        As in the forward call: whether padding cells count in the divisor.
    divisor_override : int, optional
        As in the forward call: a fixed divisor for every window.
    dilation : int or (int, int), default=1
        As in the forward call.
    %(axes_grad)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H, W) ndarray
        ``input_shape``, ``grad_output``'s dtype. Overlapping windows accumulate.

    Raises
    ------
    %(raises_window)s
    ValueError
        A ``grad_output`` whose shape is not the forward output's for this geometry.
    TypeError
        Non-floating ``grad_output``, non-integer sizes.

    See Also
    --------
    avg_pool2d : The forward op.
    sum_pool2d_backward : The same without divisors (and with ``dilation``).

    Notes
    -----
    ``grad_input[..., h, w] = sum over the windows that hold (h, w) of grad_output / divisor``,
    with the forward's divisor rule (``divisor_override``, else the window clipped to the padded
    input with ``count_include_pad``, else its real cells); padding cells receive nothing. This is
    PyTorch autograd's gradient of ``F.avg_pool2d``, including the ceil-mode windows that hang
    over the edge. Computed as the transpose of the forward's row-separable pass.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> # the ceil-mode window over the last column divides by 2, not 4
    >>> cpool.avg_pool2d_backward(np.array([[4.0, 4.0]]), (2, 3), 2, ceil_mode=True)
    array([[1., 1., 2.],
           [1., 1., 2.]])
    """
    fn = "avg_pool2d_backward"
    return _window_backward(fn, 2, grad_output, input_shape, axes, kernel_size, stride, padding,
                            dilation, ceil_mode, out, num_threads,
                            avg=(count_include_pad, divisor_override))


@fill_doc
def sum_pool2d_backward(grad_output: ArrayLike, input_shape: Shape, kernel_size: Size,
                        stride: Optional[Size] = None, padding: Padding = 0, dilation: Size = 1,
                        ceil_mode: bool = False, *, axes: Axes = (-2, -1), out: Out = None,
                        num_threads: Optional[int] = None) -> Array:
    """Gradient of :func:`sum_pool2d`: each output's gradient added to its window's cells.

    Parameters
    ----------
    grad_output : (..., H_out, W_out) array_like
        Gradient with respect to the pooled output; float16/32/64, shape as the forward output.
    %(input_shape)s
    %(kernel_size)s
    %(stride)s
    padding : int, (int, int), ((int, int), (int, int)) or str, default=0
        As in the forward call (:func:`sum_pool2d`).
    %(dilation)s
    %(ceil_mode)s
    %(axes_grad)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H, W) ndarray
        ``input_shape``, ``grad_output``'s dtype.

    Raises
    ------
    %(raises_window)s
    ValueError
        A ``grad_output`` whose shape is not the forward output's for this geometry.
    TypeError
        Non-floating ``grad_output``, non-integer sizes.

    See Also
    --------
    sum_pool2d : The forward op.
    avg_pool2d_backward : The same with average divisors.

    Notes
    -----
    ``grad_input[..., h, w] = sum of grad_output over the windows that hold (h, w)``; padding
    cells and the cells dilation skips receive nothing. Equal to PyTorch's gradient of
    ``F.avg_pool2d(x, ..., divisor_override=1)`` (for ``dilation=1``; PyTorch's average pooling has
    no dilation).

    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.sum_pool2d_backward(np.ones((2, 2)), (3, 3), 2, stride=1)
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    return _window_backward("sum_pool2d_backward", 2, grad_output, input_shape, axes,
                            kernel_size, stride, padding, dilation, ceil_mode, out, num_threads)


@fill_doc
def max_unpool2d(x: ArrayLike, indices: ArrayLike, kernel_size: Size, stride: Optional[Size] = None,
                 padding: Padding = 0, output_size: Optional[Size] = None, *, axes: Axes = (-2, -1),
                 out: Out = None, num_threads: Optional[int] = None) -> Array:
    """Partial inverse of :func:`max_pool2d`: each value placed at its index, zeros elsewhere.

    Matches ``torch.nn.functional.max_unpool2d``.

    Parameters
    ----------
    x : (..., H_in, W_in) array_like
        Pooled values; float16/32/64.
    indices : (..., H_in, W_in) array_like of int
        The ``return_indices`` output of :func:`max_pool2d`.
    %(kernel_size)s
    %(stride)s
    padding : int or (int, int), default=0
        The forward call's padding.
    output_size : (int, int) or tuple of int, optional
        Output (H, W), or the full output shape; within ``stride`` of the default size
        ``(in - 1) * stride - 2 * padding + kernel_size`` per axis.
    %(axes_grad)s
    %(out)s
    %(num_threads)s

    Returns
    -------
    (..., H, W) ndarray
        Same dtype as ``x``. With duplicate indices the last value in row-major order wins.

    Raises
    ------
    ValueError
        Shape mismatch, an index outside ``[0, H*W)`` but -1 (a window that read no cell:
        nothing is placed), an ``output_size`` out of range, bad sizes or ``out``.
    TypeError
        Non-floating ``x``, non-integer ``indices`` or sizes.

    See Also
    --------
    max_pool2d : Produces ``x`` and ``indices``.
    max_pool2d_backward : Adds values at the indices instead (the gradient).

    Notes
    -----
    ``out[p, indices[p, i]] = x[p, i]`` on a zero-filled output, for each plane ``p``, like
    ``torch.nn.functional.max_unpool2d``. ``kernel_size``, ``stride`` and ``padding`` only set the
    default output size; the indices say where values go.

    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1., 5., 2., 0.], [4., 3., 0., 7.]])
    >>> y, idx = cpool.max_pool2d(x, 2, return_indices=True)
    >>> cpool.max_unpool2d(y, idx, 2)
    array([[0., 5., 0., 0.],
           [0., 0., 0., 7.]])
    """
    return _max_unpool("max_unpool2d", 2, x, indices, kernel_size, stride, padding, output_size,
                       axes, out, num_threads)


def _max_unpool(fn, n, x, indices, kernel_size, stride, padding, output_size, axes, out,
                num_threads):
    """max_unpool1d/2d/3d over ``n`` spatial axes: values placed at their indices, zeros
    elsewhere."""
    xs = _v.as_array(x, "x", fn)
    if xs.ndim < n:
        names = ", ".join(_v.AXIS_NAMES[n])
        raise ValueError(f"{fn}: `x` must have at least {n} dimension{'s' if n > 1 else ''} "
                         f"(..., {names}), got shape {xs.shape}")
    axes = _v.spatial_axes(axes, xs.ndim, fn, n)
    size = _v.unpool_output_shape(fn, xs.shape, axes, kernel_size, stride, padding, output_size)
    return _scatter(fn, xs, indices, _v.pooled_shape(xs.shape, axes, size), axes, out,
                    num_threads, accumulate=False, values_name="x")


# ---------------------------------------------------------------------------------------------
# 1-D and 3-D gradients and unpooling: the same implementations over one or three axes
# ---------------------------------------------------------------------------------------------


@nd_doc('max_pool_backward', 1)
def max_pool1d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                        axes: Axes = (-1,), out: Out = None, num_threads: Optional[int] = None
                        ) -> Array:
    return _max_backward("max_pool1d_backward", 1, grad_output, indices, input_shape, axes,
                         out, num_threads)


@nd_doc('avg_pool_backward', 1)
def avg_pool1d_backward(grad_output: ArrayLike, input_shape: Shape, kernel_size: Size,
                        stride: Optional[Size] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None, *, dilation: Size = 1,
                        axes: Axes = (-1,), out: Out = None, num_threads: Optional[int] = None
                        ) -> Array:
    return _window_backward("avg_pool1d_backward", 1, grad_output, input_shape, axes,
                            kernel_size, stride, padding, dilation, ceil_mode, out, num_threads,
                            avg=(count_include_pad, divisor_override))


@nd_doc('sum_pool_backward', 1)
def sum_pool1d_backward(grad_output: ArrayLike, input_shape: Shape, kernel_size: Size,
                        stride: Optional[Size] = None, padding: Padding = 0, dilation: Size = 1,
                        ceil_mode: bool = False, *, axes: Axes = (-1,), out: Out = None,
                        num_threads: Optional[int] = None) -> Array:
    return _window_backward("sum_pool1d_backward", 1, grad_output, input_shape, axes,
                            kernel_size, stride, padding, dilation, ceil_mode, out, num_threads)


@nd_doc('global_max_pool_backward', 1)
def global_max_pool1d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                               axes: Axes = (-1,), out: Out = None,
                               num_threads: Optional[int] = None) -> Array:
    return _global_max_backward("global_max_pool1d_backward", 1, grad_output, indices,
                                input_shape, axes, out, num_threads)


@nd_doc('global_avg_pool_backward', 1)
def global_avg_pool1d_backward(grad_output: ArrayLike, input_shape: Shape, *, axes: Axes = (-1,),
                               out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _global_fill("global_avg_pool1d_backward", 1, grad_output, input_shape, axes, True,
                        out, num_threads)


@nd_doc('global_sum_pool_backward', 1)
def global_sum_pool1d_backward(grad_output: ArrayLike, input_shape: Shape, *, axes: Axes = (-1,),
                               out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _global_fill("global_sum_pool1d_backward", 1, grad_output, input_shape, axes,
                        False, out, num_threads)


@nd_doc('max_unpool', 1)
def max_unpool1d(x: ArrayLike, indices: ArrayLike, kernel_size: Size, stride: Optional[Size] = None,
                 padding: Padding = 0, output_size: Optional[Size] = None, *, axes: Axes = (-1,),
                 out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _max_unpool("max_unpool1d", 1, x, indices, kernel_size, stride, padding,
                       output_size, axes, out, num_threads)


@nd_doc('max_pool_backward', 3)
def max_pool3d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                        axes: Axes = (-3, -2, -1), out: Out = None,
                        num_threads: Optional[int] = None) -> Array:
    return _max_backward("max_pool3d_backward", 3, grad_output, indices, input_shape, axes,
                         out, num_threads)


@nd_doc('avg_pool_backward', 3)
def avg_pool3d_backward(grad_output: ArrayLike, input_shape: Shape, kernel_size: Size,
                        stride: Optional[Size] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None, *, dilation: Size = 1,
                        axes: Axes = (-3, -2, -1), out: Out = None,
                        num_threads: Optional[int] = None) -> Array:
    return _window_backward("avg_pool3d_backward", 3, grad_output, input_shape, axes,
                            kernel_size, stride, padding, dilation, ceil_mode, out, num_threads,
                            avg=(count_include_pad, divisor_override))


@nd_doc('sum_pool_backward', 3)
def sum_pool3d_backward(grad_output: ArrayLike, input_shape: Shape, kernel_size: Size,
                        stride: Optional[Size] = None, padding: Padding = 0, dilation: Size = 1,
                        ceil_mode: bool = False, *, axes: Axes = (-3, -2, -1), out: Out = None,
                        num_threads: Optional[int] = None) -> Array:
    return _window_backward("sum_pool3d_backward", 3, grad_output, input_shape, axes,
                            kernel_size, stride, padding, dilation, ceil_mode, out, num_threads)


@nd_doc('global_max_pool_backward', 3)
def global_max_pool3d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                               axes: Axes = (-3, -2, -1), out: Out = None,
                               num_threads: Optional[int] = None) -> Array:
    return _global_max_backward("global_max_pool3d_backward", 3, grad_output, indices,
                                input_shape, axes, out, num_threads)


@nd_doc('global_avg_pool_backward', 3)
def global_avg_pool3d_backward(grad_output: ArrayLike, input_shape: Shape, *,
                               axes: Axes = (-3, -2, -1), out: Out = None,
                               num_threads: Optional[int] = None) -> Array:
    return _global_fill("global_avg_pool3d_backward", 3, grad_output, input_shape, axes, True,
                        out, num_threads)


@nd_doc('global_sum_pool_backward', 3)
def global_sum_pool3d_backward(grad_output: ArrayLike, input_shape: Shape, *,
                               axes: Axes = (-3, -2, -1), out: Out = None,
                               num_threads: Optional[int] = None) -> Array:
    return _global_fill("global_sum_pool3d_backward", 3, grad_output, input_shape, axes,
                        False, out, num_threads)


@nd_doc('max_unpool', 3)
def max_unpool3d(x: ArrayLike, indices: ArrayLike, kernel_size: Size, stride: Optional[Size] = None,
                 padding: Padding = 0, output_size: Optional[Size] = None, *,
                 axes: Axes = (-3, -2, -1), out: Out = None, num_threads: Optional[int] = None
                 ) -> Array:
    return _max_unpool("max_unpool3d", 3, x, indices, kernel_size, stride, padding,
                       output_size, axes, out, num_threads)


# ---------------------------------------------------------------------------------------------
# Adaptive pooling's gradients: max pooling's scatter, and the window spread over the adaptive
# windows (the output size is read from grad_output)
# ---------------------------------------------------------------------------------------------


def _adaptive_avg_backward(fn, n, grad_output, input_shape, axes, out, num_threads):
    """adaptive_avg_pool1d/2d/3d_backward: each output's gradient over its window's size, on
    its window (one output per block: the global gradient)."""
    shape, axes, geom, grad_shape = _v.adaptive_backward_geometry(fn, grad_output, input_shape,
                                                                  axes, n)
    if all(o == 1 for o in geom.out_sizes):
        return _global_fill(fn, n, grad_output, shape, axes, True, out, num_threads)
    counts = _v.avg_divisors(geom, False, None, fn)
    return _spread(fn, n, grad_output, shape, axes, geom, grad_shape, counts, out, num_threads)


@nd_doc('adaptive_max_pool_backward', 1)
def adaptive_max_pool1d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                                 axes: Axes = (-1,), out: Out = None,
                                 num_threads: Optional[int] = None) -> Array:
    return _max_backward("adaptive_max_pool1d_backward", 1, grad_output, indices, input_shape,
                         axes, out, num_threads)


@nd_doc('adaptive_max_pool_backward', 2)
def adaptive_max_pool2d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                                 axes: Axes = (-2, -1), out: Out = None,
                                 num_threads: Optional[int] = None) -> Array:
    return _max_backward("adaptive_max_pool2d_backward", 2, grad_output, indices, input_shape,
                         axes, out, num_threads)


@nd_doc('adaptive_max_pool_backward', 3)
def adaptive_max_pool3d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape, *,
                                 axes: Axes = (-3, -2, -1), out: Out = None,
                                 num_threads: Optional[int] = None) -> Array:
    return _max_backward("adaptive_max_pool3d_backward", 3, grad_output, indices, input_shape,
                         axes, out, num_threads)


@nd_doc('adaptive_avg_pool_backward', 1)
def adaptive_avg_pool1d_backward(grad_output: ArrayLike, input_shape: Shape, *, axes: Axes = (-1,),
                                 out: Out = None, num_threads: Optional[int] = None) -> Array:
    return _adaptive_avg_backward("adaptive_avg_pool1d_backward", 1, grad_output, input_shape,
                                  axes, out, num_threads)


@nd_doc('adaptive_avg_pool_backward', 2)
def adaptive_avg_pool2d_backward(grad_output: ArrayLike, input_shape: Shape, *,
                                 axes: Axes = (-2, -1), out: Out = None,
                                 num_threads: Optional[int] = None) -> Array:
    return _adaptive_avg_backward("adaptive_avg_pool2d_backward", 2, grad_output, input_shape,
                                  axes, out, num_threads)


@nd_doc('adaptive_avg_pool_backward', 3)
def adaptive_avg_pool3d_backward(grad_output: ArrayLike, input_shape: Shape, *,
                                 axes: Axes = (-3, -2, -1), out: Out = None,
                                 num_threads: Optional[int] = None) -> Array:
    return _adaptive_avg_backward("adaptive_avg_pool3d_backward", 3, grad_output, input_shape,
                                  axes, out, num_threads)


# ---------------------------------------------------------------------------------------------
# LP pooling's gradient: PyTorch autograd's, through pow, mul, sign * relu(abs), avg_pool, pow
# ---------------------------------------------------------------------------------------------


# p = 2: the window spread multiplies by the square's derivative (x * 2) plane by plane; the
# tests turn this off to check it against the general p's pass (whose 2 * x ** 1 is x * 2).
_LP_SQUARE_IN_SPREAD = True
# p = 2 over 1-D and 2-D windows: the means and their gradients made plane by plane inside the
# spread kernel (tests turn this off to check it against the step-by-step passes).
_LP_MEANS_IN_SPREAD = True


def _lp_backward(fn, n, grad_output, x, norm_type, kernel_size, stride, ceil_mode, axes, out,
                 num_threads):
    """lp_pool1d/2d/3d_backward: autograd's chain for PyTorch's formula, step by step in the
    same order (so results match to rounding), with the forward's means recomputed."""
    plan = _v.prepare_lp(fn, x, norm_type, kernel_size, stride, ceil_mode, axes, n)
    shape = _v.pooled_shape(plan.x.shape, plan.axes, plan.geometry.out_sizes)
    g, g_dtype, result_dtype = _v.lp_grad(fn, grad_output, shape)
    dtype, p = np.result_type(g_dtype, plan.dtype), plan.p
    result = _v._result(out, plan.x.shape, result_dtype, fn)
    direct = result.dtype == dtype and not np.may_share_memory(result, plan.x)
    target = result if direct else _v.empty(result.shape, dtype)
    if p == 2 and n < 3 and dtype == plan.dtype and _LP_MEANS_IN_SPREAD:
        # One kernel pass: each plane's means and their gradients made from the plane of x
        # as it is spread (the same steps in the same order as below).
        _window_backward(fn, n, _v.contiguous(g, dtype), plan.x.shape, plan.axes,
                         plan.kernel_size, plan.stride, 0, 1, plan.ceil_mode, target,
                         num_threads, avg=(True, None), squared_input=plan.x, lp_means=True)
    else:
        a = _api._lp_chunks(fn, n, plan, _v.empty(tuple(shape), plan.dtype), num_threads)
        grad_a = _lp_grad_of_means(fn, g, a, p, dtype.type(math.prod(plan.geometry.kernel)),
                                   dtype, num_threads)
        # avg_pool(x ** p)': each window's gradient over its divisor, spread on the window,
        # into the result itself where it can be; then pow(x, p)': times p * x ** (p - 1), once
        # x has been read (the result may be `out`, sharing x's memory). For p = 2 the spread
        # kernel multiplies each plane by x * 2 as it finishes it; p = 1's derivative is 1.
        in_spread = p == 2 and _LP_SQUARE_IN_SPREAD
        _window_backward(fn, n, grad_a, plan.x.shape, plan.axes, plan.kernel_size, plan.stride,
                         0, 1, plan.ceil_mode, target, num_threads, avg=(True, None),
                         squared_input=plan.x if in_spread else None)
        if p != 1 and not in_spread:
            _lp_times_derivative(target, plan.x, p, dtype, target,
                                 _api.power_threads(num_threads, plan.x.size, fn))
    if not direct:
        _v.cast_into(result, target)
    return result


def _lp_grad_of_means(fn, g, a, p, size, dtype, num_threads):
    """The gradient with respect to the means ``a``: autograd's chain through PyTorch's
    ``(sign(a) * relu(|a|) * size) ** (1/p)`` in ``dtype`` (one kernel pass, see
    ``lp_mean_grad``)."""
    g = _v.contiguous(g, dtype)
    a = _v.contiguous(a, dtype)
    grad_a = _v.empty(a.shape, dtype)
    _backward.lp_mean_grad(g.reshape(-1), a.reshape(-1), size, p, grad_a.reshape(-1),
                           _v._threads_for(num_threads, 3 * a.size, a.size, fn))
    return grad_a


def _lp_times_derivative(grad, x, p, dtype, result, num_threads: int = 1):
    """``result = grad * (p * x ** (p - 1))`` in ``dtype``, a block of about _LP_CHUNK_BYTES at
    a time, cut along any axes (it is elementwise), so the derivative's buffer stays in cache
    and small (the forward's blocks: :func:`cpool._api.powers_by_block`, the powers on
    ``num_threads`` threads)."""
    with np.errstate(all="ignore"):
        for b, d in _api.powers_by_block(x, (), p - 1, dtype, num_threads):
            d *= dtype.type(p)
            np.multiply(grad[b], d, out=result[b], casting="unsafe")


@nd_doc('lp_pool_backward', 1)
def lp_pool1d_backward(grad_output: ArrayLike, x: ArrayLike, norm_type: float, kernel_size: Size,
                       stride: Optional[Size] = None, ceil_mode: bool = False, *,
                       axes: Axes = (-1,), out: Out = None, num_threads: Optional[int] = None
                       ) -> Array:
    return _lp_backward("lp_pool1d_backward", 1, grad_output, x, norm_type, kernel_size, stride,
                        ceil_mode, axes, out, num_threads)


@nd_doc('lp_pool_backward', 2)
def lp_pool2d_backward(grad_output: ArrayLike, x: ArrayLike, norm_type: float, kernel_size: Size,
                       stride: Optional[Size] = None, ceil_mode: bool = False, *,
                       axes: Axes = (-2, -1), out: Out = None, num_threads: Optional[int] = None
                       ) -> Array:
    return _lp_backward("lp_pool2d_backward", 2, grad_output, x, norm_type, kernel_size, stride,
                        ceil_mode, axes, out, num_threads)


@nd_doc('lp_pool_backward', 3)
def lp_pool3d_backward(grad_output: ArrayLike, x: ArrayLike, norm_type: float, kernel_size: Size,
                       stride: Optional[Size] = None, ceil_mode: bool = False, *,
                       axes: Axes = (-3, -2, -1), out: Out = None, num_threads: Optional[int] = None
                       ) -> Array:
    return _lp_backward("lp_pool3d_backward", 3, grad_output, x, norm_type, kernel_size, stride,
                        ceil_mode, axes, out, num_threads)


@nd_doc('fractional_max_pool_backward', 2)
def fractional_max_pool2d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape,
                                   *, axes: Axes = (-2, -1), out: Out = None,
                                   num_threads: Optional[int] = None) -> Array:
    return _max_backward("fractional_max_pool2d_backward", 2, grad_output, indices, input_shape,
                         axes, out, num_threads)


@nd_doc('fractional_max_pool_backward', 3)
def fractional_max_pool3d_backward(grad_output: ArrayLike, indices: ArrayLike, input_shape: Shape,
                                   *, axes: Axes = (-3, -2, -1), out: Out = None,
                                   num_threads: Optional[int] = None) -> Array:
    return _max_backward("fractional_max_pool3d_backward", 3, grad_output, indices, input_shape,
                         axes, out, num_threads)

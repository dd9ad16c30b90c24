"""Parameter text shared by the public docstrings (SciPy's ``docfiller`` pattern).

A public docstring writes ``%(name)s`` where a shared parameter's description goes.
"""
import textwrap

_PARAMS = {
    "x_window": """\
x : (..., H, W) array_like
    Input; H and W are the ``axes`` (the last two by default), every other axis is a batch or
    channel axis (NCHW, NHWC, CHW, HWC, HW, ...). A real floating or integer
    dtype, in any memory layout (views, Fortran order, byte-swapped, read-only, broadcast);
    never modified.""",
    "x_global": """\
x : (..., H, W) array_like
    Input; H and W are the ``axes`` (the last two by default), every other axis is a batch or
    channel axis. A real floating or integer dtype, in any memory
    layout; never modified.""",
    "kernel_size": """\
kernel_size : int or (int, int)
    Window size (kH, kW).""",
    "stride": """\
stride : int or (int, int), default=None
    Window step; None means ``kernel_size``.""",
    "dilation": """\
dilation : int or (int, int), default=1
    Spacing between window taps.""",
    "ceil_mode": """\
ceil_mode : bool, default=False
    Use ceil instead of floor for the output size: a window may then run past the input,
    but a window that would start in the right padding is dropped.""",
    "keepdims": """\
keepdims : bool, default=False
    Keep the pooled axes as size 1, giving (..., 1, 1) (or 1s at ``axes``).""",
    "out": """\
out : ndarray, optional
    C-contiguous array of the result's shape and dtype to fill and return. It may share memory
    with an input: the result is then what a fresh array would hold (NumPy's rule for ``out``).""",
    "axes": """\
axes : (int, int), default=(-2, -1)
    The spatial axes (H, W), in that order, as in ``scipy.ndimage``: ``(1, 2)`` for an NHWC
    batch, ``(0, 1)`` for an HWC image (negative forms are equivalent). Every other axis is a
    batch/channel axis and keeps its place; the result is C-contiguous in the input's axis
    order.""",
    "axes_grad": """\
axes : (int, int), default=(-2, -1)
    The spatial axes (H, W), as in the forward call; ``input_shape``, the gradient and any
    ``indices`` all have them there.""",
    "num_threads": """\
num_threads : int, optional
    Threads to use; None means :func:`cpool.get_num_threads`. Results do not depend on it.""",
    "raises_window": """\
ValueError
    Fewer than 2 dimensions, empty H or W, a non-positive kernel/stride/dilation, padding
    negative or over ``kernel_size // 2``, sizes beyond 2**31-1, an empty output, a bad
    ``out`` shape or layout, ``num_threads < 1``.""",
    "input_shape": """\
input_shape : tuple of int
    Shape of the forward input, ``(..., H, W)`` (H and W at ``axes``).""",
    "grad_global": """\
grad_output : (...) or (..., 1, 1) array_like
    Gradient with respect to the global op's output (``keepdims`` either way); float16/32/64.""",
    "raises_grad_global": """\
ValueError
    A ``grad_output`` shape that does not match ``input_shape``, a bad ``out``.
TypeError
    Non-floating ``grad_output``.""",
    "raises_global": """\
ValueError
    Fewer than 2 dimensions, empty H or W, a bad ``out`` shape or layout, ``num_threads < 1``.""",
}


# The same texts for the 1-D and 3-D ops: the parameter name with a suffix, ``%(axes1)s``.
_ND = {
    1: dict(dims="(..., L)", names="L", axes="(-1,)", one="an L axis", layouts="NCL, NLC, CL, L",
            ints="int or (int,)", sizes="(kL,)", keep="(..., 1)"),
    2: dict(dims="(..., H, W)", names="H and W", axes="(-2, -1)", one="H and W axes",
            layouts="NCHW, NHWC, CHW, HW", ints="int or (int, int)", sizes="(kH, kW)",
            keep="(..., 1, 1)"),
    3: dict(dims="(..., D, H, W)", names="D, H and W", axes="(-3, -2, -1)",
            one="D, H and W axes", layouts="NCDHW, NDHWC, CDHW, DHW",
            ints="int or (int, int, int)", sizes="(kD, kH, kW)", keep="(..., 1, 1, 1)"),
}
for _n, _t in _ND.items():
    _PARAMS.update({
        f"x_window{_n}": f"""\
x : {_t['dims']} array_like
    Input; {_t['names']} are the ``axes`` (the last {_n if _n > 1 else ''} by default), every
    other axis is a batch or channel axis ({_t['layouts']}, ...). A real floating or integer
    dtype, in any memory layout; never modified.""".replace("last  by", "last by").replace(
            "L are the", "L is the"),
        f"kernel_size{_n}": f"""\
kernel_size : {_t['ints']}
    Window size {_t['sizes']}.""",
        f"stride{_n}": f"""\
stride : {_t['ints']}, default=None
    Window step; None means ``kernel_size``.""",
        f"dilation{_n}": f"""\
dilation : {_t['ints']}, default=1
    Spacing between window taps.""",
        f"padding{_n}": f"""\
padding : int, tuple, or str, default=0
    Implicit padding (never read; -inf for max, 0 for sums). An int or one int per axis:
    symmetric, at most ``kernel_size // 2`` (PyTorch's bound); per side: one ``(before,
    after)`` pair per axis{' (a bare pair in 1-D, as np.pad)' if _n == 1 else ''}, each side
    at most ``dilation * (kernel_size - 1)``; 'valid' (0), 'same' (output ``ceil(in /
    stride)``, an odd cell after) or 'same_lower' (the odd cell before), as ONNX's
    auto_pad.""",
        f"axes{_n}": f"""\
axes : {_t['ints'].replace('int or ', '')}, default={_t['axes']}
    The spatial axes ({_t['names']}), in that order; every other axis is a batch/channel
    axis and keeps its place. Channels-last layouts (further axes after the last spatial
    axis) are read in place.""",
        f"axes_grad{_n}": f"""\
axes : {_t['ints'].replace('int or ', '')}, default={_t['axes']}
    The spatial axes, as in the forward call.""",
        f"keepdims{_n}": f"""\
keepdims : bool, default=False
    Keep the pooled axes as size 1, giving {_t['keep']} (or 1s at ``axes``).""",
        f"x_global{_n}": f"""\
x : {_t['dims']} array_like
    Input; {_t['names']} are the ``axes``; every other axis is a batch or channel axis.""",
        f"input_shape{_n}": f"""\
input_shape : tuple of int
    Shape of the forward input, ``{_t['dims']}`` (spatial axes at ``axes``).""",
        f"raises_window{_n}": f"""\
ValueError
    Too few dimensions, an empty spatial axis, a non-positive kernel/stride/dilation, padding
    out of bounds, an empty output, bad ``axes``, a bad ``out``, ``num_threads < 1``.
TypeError
    Unsupported dtype, non-integer sizes, a wrong ``out`` dtype.""",
    })


def fill_doc(func):
    """Substitute the shared texts into ``func.__doc__``, indented to match."""
    doc = func.__doc__
    for name, text in _PARAMS.items():
        key = f"%({name})s"
        while key in doc:
            start = doc.index(key)
            indent = doc[doc.rfind("\n", 0, start) + 1:start]
            doc = doc.replace(key, textwrap.indent(text, indent)[len(indent):], 1)
    func.__doc__ = doc
    return func


# Docstrings of the 1-D and 3-D ops: one template per op, formatted for n = 1 and n = 3 by
# :func:`nd_doc` (``{NAME}``: "1-D"/"3-D", ``{n}``; ``%(...{n})s`` become the shared texts above).
_ND_FIELDS = {
    1: dict(NAME="1-D", n=1, block="row (``l``)", ints="int or (int,)",
            override_note=("\n        PyTorch's avg_pool1d has none; here every avg_pool has the "
                           "same keywords.")),
    2: dict(NAME="2-D", n=2, block="plane (``h*W + w``)", override_note="",
            ints="int or (int, int)"),
    3: dict(NAME="3-D", n=3, block="volume (``d*H*W + h*W + w``)", override_note="",
            ints="int or (int, int, int)"),
}
# The gradient of every max pooling op with indices (max, adaptive, fractional): max pooling's
# scatter-add, one implementation, so one text (``{forward}``: the forward op).
_SCATTER_BACKWARD = '''\
Gradient of :func:`{forward}{n}d`: each output's gradient added at its maximum's index.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the pooled output; float16/32/64.
    indices : array_like of int
        The ``return_indices`` output of the forward call.
    %(input_shape{n})s
    %(axes_grad{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        ``input_shape``, ``grad_output``'s dtype; overlapping windows accumulate.

    Raises
    ------
    ValueError
        Shapes that do not match, an index outside the {NAME} block (but -1, a window that
        read no cell, whose gradient goes nowhere), a bad ``out``.
    TypeError
        Non-floating ``grad_output``, non-integer ``indices``.

    See Also
    --------
    {forward}{n}d, max_pool2d_backward, max_unpool{n}d

    Notes
    -----
    PyTorch autograd's gradient: ``grad_input[block, indices[i]] += grad_output[i]`` in
    output order, so overlapping windows that share a maximum add up. The same scatter serves
    max, adaptive max and fractional max pooling.

{examples}'''
_ND_TEMPLATES = {
    'max_pool': '''\
{NAME} max pooling, with PyTorch's semantics (``torch.nn.functional.max_pool{n}d``).

    Parameters
    ----------
    %(x_window{n})s
    %(kernel_size{n})s
    %(stride{n})s
    %(padding{n})s
    %(dilation{n})s
    %(ceil_mode)s
    return_indices : bool, default=False
        Also return int64 flat indices of each maximum within its {block} (-1 for a dilated
        window over padding alone, which reads no cell).
    %(axes{n})s
    out : ndarray or (ndarray, ndarray), optional
        C-contiguous array(s) of the result shape and dtype to fill, as in :func:`max_pool2d`.
    %(num_threads)s

    Returns
    -------
    out : ndarray
        Same dtype as ``x``; per axis ``floor((in + pads - d*(k-1) - 1 [+ s-1 if ceil_mode]) /
        s) + 1``.
    indices : ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    %(raises_window{n})s

    See Also
    --------
    max_pool2d : The rules (NaN, ties, padding) in full.
    max_pool{n}d_backward, max_unpool{n}d

    Notes
    -----
    Windows are reduced one spatial axis at a time (depth slices, rows, then columns), which
    gives exactly PyTorch's row-major scan: ties keep the first element, NaN propagates with
    the last NaN's index, and padding is never read. Results are bitwise identical for any
    ``num_threads``.

{examples}''',
    'avg_pool': '''\
{NAME} average pooling, with PyTorch's semantics (``torch.nn.functional.avg_pool{n}d``).

    Parameters
    ----------
    %(x_window{n})s
    %(kernel_size{n})s
    %(stride{n})s
    %(padding{n})s
    %(ceil_mode)s
    count_include_pad : bool, default=True
        Count padding cells in the divisor. The ceil-mode overhang past the padding never counts.
    divisor_override : int, optional
        Divide every window sum by this instead (non-zero).{override_note}
    %(dilation{n})s
        ONNX AveragePool's ``dilations`` (PyTorch has none); the divisor counts the taps summed.
    %(axes{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        float32/float64 keep their dtype (float16 is computed in float32), integers give
        float64, as :func:`avg_pool2d`.

    Raises
    ------
    %(raises_window{n})s

    See Also
    --------
    avg_pool2d : The divisor rules in full.
    sum_pool{n}d, avg_pool{n}d_backward

    Notes
    -----
    Sums accumulate in the output dtype (float32 in float32, as PyTorch), over one spatial
    axis at a time, then divide by the divisor formed exactly in int64. A dilated window
    with no real cell and ``count_include_pad=False`` gives 0/0 (NaN). Results are bitwise
    identical for any ``num_threads``.

{examples}''',
    'sum_pool': '''\
{NAME} sum pooling: the sum of the real cells in each window.

    ``avg_pool{n}d`` with ``divisor_override=1``, plus dilation.

    Parameters
    ----------
    %(x_window{n})s
    %(kernel_size{n})s
    %(stride{n})s
    %(padding{n})s
    %(dilation{n})s
    %(ceil_mode)s
    %(axes{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        float32/float64 keep their dtype, signed integers give int64 and unsigned uint64, as
        :func:`sum_pool2d`.

    Raises
    ------
    %(raises_window{n})s

    See Also
    --------
    sum_pool2d, avg_pool{n}d, sum_pool{n}d_backward

    Notes
    -----
    Padding cells count as 0 and cells that dilation skips are not read. Integer sums are
    64-bit. Results are bitwise identical for any ``num_threads``.

{examples}''',
    'global_max_pool': '''\
Maximum over the {NAME} spatial axes, with PyTorch's NaN and index rules.

    Parameters
    ----------
    %(x_global{n})s
    %(keepdims{n})s
    return_indices : bool, default=False
        Also return int64 flat indices of each maximum within its {block}.
    %(axes{n})s
    out : ndarray or (ndarray, ndarray), optional
        As in :func:`global_max_pool2d`.
    %(num_threads)s

    Returns
    -------
    out : ndarray
        Same dtype as ``x``.
    indices : ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    %(raises_window{n})s

    See Also
    --------
    global_max_pool2d, max_pool{n}d

    Notes
    -----
    The spatial axes are read as one block per batch/channel position (a 3-D block as D*H
    rows of W); ties keep the first maximum in scan order, NaN propagates with the last
    NaN's index.

{examples}''',
    'global_avg_pool': '''\
Mean over the {NAME} spatial axes, accumulated in float64 (as :func:`global_avg_pool2d`).

    Parameters
    ----------
    %(x_global{n})s
    %(keepdims{n})s
    %(axes{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        float32/float64 keep their dtype (float16 too), integers give float64.

    Raises
    ------
    %(raises_window{n})s

    See Also
    --------
    global_avg_pool2d, avg_pool{n}d

    Notes
    -----
    Float planes are summed in float64 in a fixed order that depends only on the shape, so
    the result does not depend on the memory layout or ``num_threads``.

{examples}''',
    'global_sum_pool': '''\
Sum over the {NAME} spatial axes (as :func:`global_sum_pool2d`).

    Parameters
    ----------
    %(x_global{n})s
    %(keepdims{n})s
    %(axes{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        float32/float64 keep their dtype, signed integers give int64 and unsigned uint64.

    Raises
    ------
    %(raises_window{n})s

    See Also
    --------
    global_sum_pool2d, sum_pool{n}d

    Notes
    -----
    Float planes are summed in float64 and rounded once; integers in 64 bits, exactly for 8-
    to 32-bit inputs.

{examples}''',
    'max_pool_backward': _SCATTER_BACKWARD,
    'avg_pool_backward': '''\
Gradient of :func:`avg_pool{n}d`: each output's gradient over its divisor, on its window.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the pooled output; float16/32/64.
    %(input_shape{n})s
    %(kernel_size{n})s
    %(stride{n})s
    %(padding{n})s
    %(ceil_mode)s
    count_include_pad : bool, default=True
        As in the forward call.
    divisor_override : int, optional
        As in the forward call.
    %(dilation{n})s
    %(axes_grad{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        ``input_shape``, ``grad_output``'s dtype (PyTorch autograd's gradient).

    Raises
    ------
    %(raises_window{n})s

    See Also
    --------
    avg_pool2d_backward

    Notes
    -----
    Each gradient is divided by its window's divisor first (autograd's order), then spread
    one spatial axis at a time; 3-D gradients spread over (H, W) for every output slice,
    then over the depth windows.

{examples}''',
    'sum_pool_backward': '''\
Gradient of :func:`sum_pool{n}d`: each output's gradient on every real cell of its window.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the pooled output; float16/32/64.
    %(input_shape{n})s
    %(kernel_size{n})s
    %(stride{n})s
    %(padding{n})s
    %(dilation{n})s
    %(ceil_mode)s
    %(axes_grad{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        ``input_shape``, ``grad_output``'s dtype.

    Raises
    ------
    %(raises_window{n})s

    See Also
    --------
    sum_pool2d_backward

    Notes
    -----
    The adjoint of :func:`sum_pool{n}d`: spread one spatial axis at a time, as the forward
    sums.

{examples}''',
    'global_max_pool_backward': '''\
Gradient of :func:`global_max_pool{n}d`: each gradient at its maximum's index.

    Parameters
    ----------
    %(grad_global)s
    indices : array_like of int
        The ``return_indices`` output of the forward call.
    %(input_shape{n})s
    %(axes_grad{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        ``input_shape``, ``grad_output``'s dtype.

    Raises
    ------
    %(raises_grad_global)s

    See Also
    --------
    global_max_pool2d_backward

    Notes
    -----
    Each gradient lands on its block's maximum, zeros elsewhere.

{examples}''',
    'global_avg_pool_backward': '''\
Gradient of :func:`global_avg_pool{n}d`: each gradient over the cell count, on every cell.

    Parameters
    ----------
    %(grad_global)s
    %(input_shape{n})s
    %(axes_grad{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        ``input_shape``, ``grad_output``'s dtype.

    Raises
    ------
    %(raises_grad_global)s

    See Also
    --------
    global_avg_pool2d_backward

    Notes
    -----
    The division is in the gradient's dtype by the cell count in that dtype, as autograd's
    ``grad / numel``.

{examples}''',
    'global_sum_pool_backward': '''\
Gradient of :func:`global_sum_pool{n}d`: each gradient on every cell.

    Parameters
    ----------
    %(grad_global)s
    %(input_shape{n})s
    %(axes_grad{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        ``input_shape``, ``grad_output``'s dtype.

    Raises
    ------
    %(raises_grad_global)s

    See Also
    --------
    global_sum_pool2d_backward

    Notes
    -----
    Every cell of a block receives its gradient.

{examples}''',
    'max_unpool': '''\
Partial inverse of :func:`max_pool{n}d`: values at their indices, zeros elsewhere.

    ``torch.nn.functional.max_unpool{n}d``'s semantics.

    Parameters
    ----------
    x : array_like
        Pooled values; float16/32/64.
    indices : array_like of int
        The ``return_indices`` output of :func:`max_pool{n}d`.
    %(kernel_size{n})s
    %(stride{n})s
    padding : {ints}, default=0
        Symmetric padding of the forward call. The default output size per axis is
        ``(in - 1)*stride - 2*padding + kernel_size``.
    output_size : tuple of int, optional
        The spatial size, or the full output shape; within ``stride`` of the default.
    %(axes{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        ``x``'s dtype.

    Raises
    ------
    ValueError
        A bad size, an index outside the output's block (but -1, a window that read no cell:
        nothing is placed), bad ``axes``, a bad ``out``.
    TypeError
        Non-floating ``x``, non-integer ``indices``.

    See Also
    --------
    max_unpool2d, max_pool{n}d_backward

    Notes
    -----
    Values are placed, not added: indices that repeat keep the last value in output order,
    as PyTorch's CPU kernel.

{examples}''',
}
_ND_TEMPLATES.update({
    'adaptive_max_pool': '''\
{NAME} adaptive max pooling to a given output size (``torch.nn.functional.adaptive_max_pool{n}d``).

    Parameters
    ----------
    %(x_window{n})s
    output_size : {ints}
        The output's size per spatial axis; an entry None keeps that axis's input size. It
        may exceed the input size (windows then repeat cells), as in PyTorch.
    return_indices : bool, default=False
        Also return int64 flat indices of each maximum within its {block}.
    %(axes{n})s
    out : ndarray or (ndarray, ndarray), optional
        C-contiguous array(s) of the result shape and dtype to fill, as in :func:`max_pool2d`.
    %(num_threads)s

    Returns
    -------
    out : ndarray
        Same dtype as ``x``, ``output_size`` at ``axes``.
    indices : ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    ValueError
        Too few dimensions, an empty spatial axis, a negative ``output_size``, bad
        ``axes``, a bad ``out``, ``num_threads < 1``.
    TypeError
        Unsupported dtype, a non-integer ``output_size``, a wrong ``out`` dtype.

    See Also
    --------
    adaptive_avg_pool{n}d, max_pool{n}d, adaptive_max_pool{n}d_backward

    Notes
    -----
    Output ``i`` of ``m`` along an axis of ``n`` cells pools the cells ``[floor(i*n/m),
    ceil((i+1)*n/m))`` (PyTorch's ``AdaptivePooling.h``, in exact integer arithmetic), so
    windows differ in size and may overlap when ``m`` does not divide ``n``. NaN, ties and
    indices follow :func:`max_pool2d`: ties keep the first cell in row-major order, NaN
    propagates with the last NaN's index. An output size that divides the input size is
    plain ``max_pool`` with kernel = stride = ``n / m`` and runs its fast path; an output of
    1s is :func:`global_max_pool{n}d`. Results are bitwise identical for any
    ``num_threads``.

{examples}''',
    'adaptive_avg_pool': '''\
{NAME} adaptive average pooling to a given output size (``torch.nn.functional.adaptive_avg_pool{n}d``).

    Parameters
    ----------
    %(x_window{n})s
    output_size : {ints}
        The output's size per spatial axis; an entry None keeps that axis's input size. It
        may exceed the input size, as in PyTorch.
    %(axes{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        float32/float64 keep their dtype (float16 is computed in float32), integers give
        float64, as :func:`avg_pool2d`.

    Raises
    ------
    ValueError
        Too few dimensions, an empty spatial axis, a negative ``output_size``, bad
        ``axes``, a bad ``out``, ``num_threads < 1``.
    TypeError
        Unsupported dtype, a non-integer ``output_size``, a wrong ``out`` dtype.

    See Also
    --------
    adaptive_max_pool{n}d, avg_pool{n}d, adaptive_avg_pool{n}d_backward

    Notes
    -----
    Each output is the mean of its window ``[floor(i*n/m), ceil((i+1)*n/m))`` per axis
    (PyTorch's windows), divided by that window's own cell count. Sums accumulate in the
    output dtype one axis at a time, as :func:`avg_pool{n}d`'s do; an output of 1s is
    :func:`global_avg_pool{n}d` (float64 accumulation). Results are bitwise identical for any
    ``num_threads``.

{examples}''',
    'adaptive_max_pool_backward': _SCATTER_BACKWARD,
    'adaptive_avg_pool_backward': '''\
Gradient of :func:`adaptive_avg_pool{n}d`: each output's gradient over its window's size, on its window.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the pooled output, whose spatial shape is the forward's
        ``output_size``; float16/32/64.
    %(input_shape{n})s
    %(axes_grad{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        ``input_shape``, ``grad_output``'s dtype; overlapping windows accumulate.

    Raises
    ------
    ValueError
        A ``grad_output`` whose batch axes do not match ``input_shape``, bad ``axes``, a bad
        ``out``.
    TypeError
        Non-floating ``grad_output``.

    See Also
    --------
    adaptive_avg_pool{n}d, avg_pool{n}d_backward

    Notes
    -----
    The windows are the forward's, recomputed from ``input_shape`` and ``grad_output``'s
    shape; PyTorch autograd's gradient: ``grad_input[window(i)] += grad_output[i] /
    size(window(i))``.

{examples}''',
})


_ND_TEMPLATES.update({
    'lp_pool': '''\
{NAME} power-average (LP) pooling, PyTorch's ``torch.nn.functional.lp_pool{n}d``.

    Parameters
    ----------
    %(x_window{n})s
    norm_type : float
        The power ``p``: finite and non-zero (1 is sum pooling, 2 the Euclidean norm).
    %(kernel_size{n})s
    %(stride{n})s
    %(ceil_mode)s
    %(axes{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        float32/float64 keep their dtype (float16 is computed in float32); integers are
        computed and returned in float64.

    Raises
    ------
    ValueError
        ``norm_type`` zero or not finite; the window errors of :func:`avg_pool{n}d` (no
        padding here), a bad ``out``, ``num_threads < 1``.
    TypeError
        A non-real ``norm_type``, an unsupported dtype (bool included), a wrong ``out`` dtype.

    See Also
    --------
    avg_pool{n}d, lp_pool{n}d_backward

    Notes
    -----
    Computed exactly as PyTorch does, so models port unchanged: ``a = avg_pool(x ** p)``
    (no padding; each window's divisor is its real cell count), then ``(sign(a) *
    relu(|a|) * prod(kernel_size)) ** (1 / p)``. That is the window's ``(sum x**p) ** (1/p)``
    for full windows, with PyTorch's quirks kept: ``x`` is not made absolute, so a negative
    power sum (odd ``p``) has a NaN root unless ``p`` is 1 (which keeps the sign), and a
    fractional ``p`` on negative input gives NaN; a
    ``ceil_mode`` window that runs past the input is scaled by the full window size. For
    ``p = 2`` the windowed sum kernel squares the values as it reads them; other powers are
    taken in chunks of the input that stay in cache, then averaged by the same kernel.

{examples}''',
    'lp_pool_backward': '''\
Gradient of :func:`lp_pool{n}d`, as PyTorch's autograd computes it.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the pooled output; float16/32/64.
    x : array_like
        The forward input.
    norm_type : float
        The forward's ``p``.
    %(kernel_size{n})s
    %(stride{n})s
    %(ceil_mode)s
    %(axes_grad{n})s
    %(out)s
    %(num_threads)s

    Returns
    -------
    ndarray
        ``x``'s shape, ``grad_output``'s dtype.

    Raises
    ------
    ValueError
        A ``grad_output`` of another shape than the forward output, and the forward's errors.
    TypeError
        Non-floating ``grad_output``, and the forward's errors.

    See Also
    --------
    lp_pool{n}d

    Notes
    -----
    Autograd's chain through PyTorch's formula, step by step: ``g * (1/p) * t ** (1/p - 1) *
    prod(kernel)`` with ``t = a * prod(kernel)``, passed where ``a != 0`` (relu's rule: zero
    where the window's power sum is zero, NaN where it is NaN), spread over each window over
    its divisor, times ``p * x ** (p - 1)``. The forward's means are recomputed from ``x``.

{examples}''',
})


_ND_TEMPLATES.update({
    'fractional_max_pool': '''\
{NAME} fractional max pooling (Graham 2014), PyTorch's ``fractional_max_pool{n}d``.

    Parameters
    ----------
    %(x_window{n})s
    %(kernel_size{n})s
    output_size : {ints}, optional
        The output's size per spatial axis. Exactly one of ``output_size`` and
        ``output_ratio``.
    output_ratio : float or tuple of float, optional
        The output size as a fraction of the input's, ``int(in * ratio)`` per axis, each
        ratio in (0, 1].
    return_indices : bool, default=False
        Also return int64 flat indices of each maximum within its {block}.
    seed : None, int or numpy.random.Generator, default=None
        Key of the counter-based generator that draws each plane's samples (as
        :func:`stochastic_pool2d`'s): the same seed gives the same windows for any
        ``num_threads``. None draws fresh entropy.
    random_samples : array_like, optional
        Each plane's samples in [0, 1), shaped as the batch axes then {n} (PyTorch's
        ``_random_samples``, (N, C, {n}) for an N, C batch; a leading 1 is accepted for an
        unbatched input). Given, the windows are PyTorch's exactly.
    %(axes{n})s
    out : ndarray or (ndarray, ndarray), optional
        C-contiguous array(s) of the result shape and dtype to fill, as in :func:`max_pool2d`.
    %(num_threads)s

    Returns
    -------
    out : ndarray
        Same dtype as ``x``.
    indices : ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    ValueError
        Both or neither of ``output_size``/``output_ratio``, an empty output, ``output_size
        + kernel_size - 1`` beyond the input, samples outside [0, 1) or of the wrong shape,
        ``seed`` with ``random_samples``, bad ``axes``, a bad ``out``.
    TypeError
        Unsupported dtype, non-integer sizes, non-floating ``random_samples``.

    See Also
    --------
    max_pool{n}d, fractional_max_pool{n}d_backward

    Notes
    -----
    Each plane (each position of the batch axes) draws one sample ``u`` per spatial axis;
    along an axis of ``in`` cells pooled to ``out`` with kernel ``k``, window ``i`` starts
    at ``int((i + u) * alpha) - int(u * alpha)``, ``alpha = (in - k) / (out - 1)``, and the
    last at ``in - k``, computed in the input's floating dtype as PyTorch does (float64 for
    integers). Maxima, ties, NaN and indices follow :func:`max_pool2d`. Channels-last input
    is read plane by plane (the spatial axes moved last), since every plane has its own
    windows.

{examples}''',
    'fractional_max_pool_backward': _SCATTER_BACKWARD,
})


_ND_EXAMPLES = {
    ('max_pool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[2., 3., 1., 4., 9., 0.]])
    >>> cpool.max_pool1d(x, 2)
    array([[3., 4., 9.]])
    >>> cpool.max_pool1d(x, 3, stride=1, padding=(1, 1), return_indices=True)[1]
    array([[1, 1, 3, 4, 4, 4]])
    ''',
    ('max_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(64.0).reshape(1, 4, 4, 4)
    >>> cpool.max_pool3d(x, 2)[0]
    array([[[21., 23.],
            [29., 31.]],
    <BLANKLINE>
           [[53., 55.],
            [61., 63.]]])
    >>> cpool.max_pool3d(x, 2, return_indices=True)[1][0, 0]
    array([[21, 23],
           [29, 31]])
    ''',
    ('avg_pool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[2., 3., 1., 4.]])
    >>> cpool.avg_pool1d(x, 2)
    array([[2.5, 2.5]])
    >>> cpool.avg_pool1d(x, 3, stride=1, padding=1, count_include_pad=False)
    array([[2.5       , 2.        , 2.66666667, 2.5       ]])
    ''',
    ('avg_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(64.0).reshape(4, 4, 4)
    >>> cpool.avg_pool3d(x, 2)[0]
    array([[10.5, 12.5],
           [18.5, 20.5]])
    ''',
    ('sum_pool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.sum_pool1d(np.array([1, 2, 3, 4, 5], dtype=np.int32), 2, stride=1)
    array([3, 5, 7, 9])
    ''',
    ('sum_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.sum_pool3d(np.ones((4, 4, 4), np.uint8), 2)[0]
    array([[8, 8],
           [8, 8]], dtype=uint64)
    ''',
    ('global_max_pool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_max_pool1d(np.arange(6.0).reshape(2, 3), return_indices=True)
    (array([2., 5.]), array([2, 2]))
    ''',
    ('global_max_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_max_pool3d(np.arange(24.0).reshape(3, 2, 2, 2), return_indices=True)
    (array([ 7., 15., 23.]), array([7, 7, 7]))
    ''',
    ('global_avg_pool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_avg_pool1d(np.arange(6.0).reshape(2, 3), keepdims=True).shape
    (2, 1)
    ''',
    ('global_avg_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_avg_pool3d(np.arange(16.0).reshape(2, 2, 2, 2), keepdims=True).shape
    (2, 1, 1, 1)
    ''',
    ('global_sum_pool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_sum_pool1d(np.ones((2, 5), np.int8))
    array([5, 5])
    ''',
    ('global_sum_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_sum_pool3d(np.ones((2, 3, 4, 5), np.int8))
    array([60, 60])
    ''',
    ('max_pool_backward', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1., 5., 2., 0.]])
    >>> y, idx = cpool.max_pool1d(x, 2, return_indices=True)
    >>> cpool.max_pool1d_backward(np.ones_like(y), idx, x.shape)
    array([[0., 1., 1., 0.]])
    ''',
    ('max_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(8.0).reshape(1, 2, 2, 2)
    >>> y, idx = cpool.max_pool3d(x, 2, return_indices=True)
    >>> cpool.max_pool3d_backward(np.ones_like(y), idx, x.shape)[0, 1]
    array([[0., 0.],
           [0., 1.]])
    ''',
    ('avg_pool_backward', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.avg_pool1d_backward(np.array([[2., 4.]]), (1, 4), 2)
    array([[1., 1., 2., 2.]])
    ''',
    ('avg_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.avg_pool3d_backward(np.array([[[[8.]]]]), (1, 2, 2, 2), 2)[0, 0]
    array([[1., 1.],
           [1., 1.]])
    ''',
    ('sum_pool_backward', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.sum_pool1d_backward(np.array([[1., 1., 1.]]), (1, 4), 2, stride=1)
    array([[1., 2., 2., 1.]])
    ''',
    ('sum_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.sum_pool3d_backward(np.ones((1, 1, 1, 1)), (1, 2, 2, 2), 2).sum()
    np.float64(8.0)
    ''',
    ('global_max_pool_backward', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1., 5., 2.]])
    >>> m, idx = cpool.global_max_pool1d(x, return_indices=True)
    >>> cpool.global_max_pool1d_backward(np.array([2.0]), idx, x.shape)
    array([[0., 2., 0.]])
    ''',
    ('global_max_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(8.0).reshape(1, 2, 2, 2)
    >>> m, idx = cpool.global_max_pool3d(x, return_indices=True)
    >>> cpool.global_max_pool3d_backward(np.array([2.0]), idx, x.shape)[0, 1, 1]
    array([0., 2.])
    ''',
    ('global_avg_pool_backward', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_avg_pool1d_backward(np.array([4.0]), (1, 4))
    array([[1., 1., 1., 1.]])
    ''',
    ('global_avg_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_avg_pool3d_backward(np.array([8.0]), (1, 2, 2, 2))[0, 0]
    array([[1., 1.],
           [1., 1.]])
    ''',
    ('global_sum_pool_backward', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_sum_pool1d_backward(np.array([4.0]), (1, 2))
    array([[4., 4.]])
    ''',
    ('global_sum_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.global_sum_pool3d_backward(np.array([3.0]), (1, 1, 1, 2))
    array([[[[3., 3.]]]])
    ''',
    ('max_unpool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1., 5., 2., 0.]])
    >>> y, idx = cpool.max_pool1d(x, 2, return_indices=True)
    >>> cpool.max_unpool1d(y, idx, 2)
    array([[0., 5., 2., 0.]])
    ''',
    ('max_unpool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(8.0).reshape(1, 2, 2, 2)
    >>> y, idx = cpool.max_pool3d(x, 2, return_indices=True)
    >>> cpool.max_unpool3d(y, idx, 2).sum(), cpool.max_unpool3d(y, idx, 2)[0, 1, 1, 1]
    (np.float64(7.0), np.float64(7.0))
    ''',
}


_ND_EXAMPLES.update({
    ('adaptive_max_pool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[2., 3., 1., 4., 9.]])
    >>> cpool.adaptive_max_pool1d(x, 3)
    array([[3., 4., 9.]])
    >>> cpool.adaptive_max_pool1d(x, 3, return_indices=True)[1]
    array([[1, 3, 4]])
    ''',
    ('adaptive_max_pool', 2): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(25.0).reshape(1, 5, 5)
    >>> cpool.adaptive_max_pool2d(x, 2)
    array([[[12., 14.],
            [22., 24.]]])
    >>> cpool.adaptive_max_pool2d(x, (None, 1)).shape
    (1, 5, 1)
    ''',
    ('adaptive_max_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(27.0).reshape(1, 3, 3, 3)
    >>> cpool.adaptive_max_pool3d(x, 2)[0, 0]
    array([[13., 14.],
           [16., 17.]])
    ''',
    ('adaptive_avg_pool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.adaptive_avg_pool1d(np.array([[1., 2., 3., 4., 5.]]), 2)
    array([[2., 4.]])
    ''',
    ('adaptive_avg_pool', 2): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(16.0).reshape(1, 4, 4)
    >>> cpool.adaptive_avg_pool2d(x, 2)
    array([[[ 2.5,  4.5],
            [10.5, 12.5]]])
    >>> cpool.adaptive_avg_pool2d(x, 1)[0, 0, 0]
    np.float64(7.5)
    ''',
    ('adaptive_avg_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(8.0).reshape(2, 2, 2)
    >>> cpool.adaptive_avg_pool3d(x, (1, 2, 2))
    array([[[2., 3.],
            [4., 5.]]])
    ''',
    ('adaptive_max_pool_backward', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1., 5., 2.]])
    >>> y, idx = cpool.adaptive_max_pool1d(x, 2, return_indices=True)
    >>> cpool.adaptive_max_pool1d_backward(np.ones_like(y), idx, x.shape)
    array([[0., 2., 0.]])
    ''',
    ('adaptive_max_pool_backward', 2): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1., 5., 2.], [4., 3., 0.], [2., 2., 9.]])
    >>> y, idx = cpool.adaptive_max_pool2d(x, 2, return_indices=True)
    >>> cpool.adaptive_max_pool2d_backward(np.ones_like(y), idx, x.shape)
    array([[0., 2., 0.],
           [1., 0., 0.],
           [0., 0., 1.]])
    ''',
    ('adaptive_max_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(8.0).reshape(1, 2, 2, 2)
    >>> y, idx = cpool.adaptive_max_pool3d(x, 1, return_indices=True)
    >>> cpool.adaptive_max_pool3d_backward(np.ones_like(y), idx, x.shape)[0, 1]
    array([[0., 0.],
           [0., 1.]])
    ''',
    ('adaptive_avg_pool_backward', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.adaptive_avg_pool1d_backward(np.array([[2., 4.]]), (1, 3))
    array([[1., 3., 2.]])
    ''',
    ('adaptive_avg_pool_backward', 2): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.adaptive_avg_pool2d_backward(np.array([[4.]]), (2, 2))
    array([[1., 1.],
           [1., 1.]])
    ''',
    ('adaptive_avg_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> g = cpool.adaptive_avg_pool3d_backward(np.ones((1, 1, 1, 2)), (1, 2, 2, 2))
    >>> g[0, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]])
    ''',
})

_ND_EXAMPLES.update({
    ('lp_pool', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.lp_pool1d(np.array([[3., 4., 1., 0.]]), 2, 2)
    array([[5., 1.]])
    ''',
    ('lp_pool', 2): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[1., 2.], [2., 4.]])
    >>> cpool.lp_pool2d(x, 2, 2)
    array([[5.]])
    >>> cpool.lp_pool2d(-x, 1, 2)          # p = 1 keeps the sign (PyTorch's definition)
    array([[-9.]])
    ''',
    ('lp_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.lp_pool3d(np.ones((2, 2, 2)), 2, 2)
    array([[[2.82842712]]])
    ''',
    ('lp_pool_backward', 1): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[3., 4.]])
    >>> cpool.lp_pool1d_backward(np.ones((1, 1)), x, 2, 2)   # x / ||x||
    array([[0.6, 0.8]])
    ''',
    ('lp_pool_backward', 2): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.array([[3., 0.], [0., 4.]])
    >>> cpool.lp_pool2d_backward(np.ones((1, 1)), x, 2, 2)
    array([[0.6, 0. ],
           [0. , 0.8]])
    ''',
    ('lp_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> cpool.lp_pool3d_backward(np.ones((1, 1, 1)), np.zeros((2, 2, 2)), 2, 2)[0]
    array([[0., 0.],
           [0., 0.]])
    ''',
})

_ND_EXAMPLES.update({
    ('fractional_max_pool', 2): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> u = np.array([[[0.5, 0.5]]])       # PyTorch's _random_samples for one plane
    >>> cpool.fractional_max_pool2d(x, 2, output_size=3, random_samples=u)
    array([[[[ 6.,  8.,  9.],
             [16., 18., 19.],
             [21., 23., 24.]]]])
    >>> cpool.fractional_max_pool2d(x, 2, output_ratio=0.5, seed=0).shape
    (1, 1, 2, 2)
    ''',
    ('fractional_max_pool', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(64.0).reshape(1, 4, 4, 4)
    >>> y, idx = cpool.fractional_max_pool3d(x, 2, output_size=2, return_indices=True, seed=0)
    >>> y[0, 1, 1, 1] == 63, idx.shape
    (np.True_, (1, 2, 2, 2))
    ''',
    ('fractional_max_pool_backward', 2): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(16.0).reshape(4, 4)
    >>> y, idx = cpool.fractional_max_pool2d(x, 2, output_size=2, return_indices=True, seed=1)
    >>> g = cpool.fractional_max_pool2d_backward(np.ones_like(y), idx, x.shape)
    >>> g.sum(), g[3, 3]
    (np.float64(4.0), np.float64(1.0))
    ''',
    ('fractional_max_pool_backward', 3): '''\
    Examples
    --------
    >>> import numpy as np, cpool
    >>> x = np.arange(27.0).reshape(3, 3, 3)
    >>> y, idx = cpool.fractional_max_pool3d(x, 2, output_size=1, return_indices=True, seed=1)
    >>> cpool.fractional_max_pool3d_backward(np.ones_like(y), idx, x.shape)[2, 2, 2]
    np.float64(1.0)
    ''',
})

def nd_doc(op: str, n: int):
    """Decorator: the 1-D or 3-D docstring of ``op`` from its template, then :func:`fill_doc`."""
    def apply(func):
        fields = dict(_ND_FIELDS[n], examples=_ND_EXAMPLES[(op, n)],
                      forward=op.removesuffix("_backward"))
        func.__doc__ = _ND_TEMPLATES[op].format(**fields)
        return fill_doc(func)
    return apply

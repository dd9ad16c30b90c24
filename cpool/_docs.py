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

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

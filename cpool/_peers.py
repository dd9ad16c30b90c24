"""Peer libraries timed beside cpool by ``python -m cpool bench``.

Channels-last cases always list their peers; the NCHW cases do under ``--peers``. Each peer is
optional: one that is not installed, that cannot run a case (a dtype it lacks), or whose result
differs from cpool's is left out of that row. Inputs are prepared outside the timing in the form
the peer runs on fastest, as its users would hold them:

* PyTorch: the NCHW tensor (a zero-copy view of the array), a channels_last tensor (a copy made
  once), a oneDNN (mkldnn) tensor (oneDNN's blocked layout, made once);
* onnxruntime (MLAS): a one-node model; its pooling is NCHW only, so on channels-last input the
  graph is Transpose -> pool -> Transpose and its time counts the transposes;
* JAX: a device array and ``lax.reduce_window`` (or ``mean``/``max``), compiled ahead;
* OpenCV: ``resize(INTER_AREA)`` for 2x2 averages, ``dilate`` then a stride-2 view for max,
  ``boxFilter`` for 3x3 averages, ``reduce`` for the global ops; on NCHW input the planes are
  stacked into one image where no window crosses a plane's edge, else called plane by plane.

Never imported by ``import cpool``. Thread counts: PyTorch, onnxruntime and OpenCV are told
``threads``; JAX's XLA pool ignores such settings, so the bench pins every thread of the process
to as many cores as the row's thread count.
"""
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import numpy as np


class Pool(NamedTuple):
    """One pooling call the peers make. ``op``: 'max', 'max_indices', 'avg', 'global_avg',
    'global_max' or 'max_backward' (the gradient of max with indices, the forward's output as
    ``grad_output``); ``layout``: 'nchw', or 'nhwc' (cpool's ``axes=(1, 2)``)."""

    op: str
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    layout: str = "nhwc"


# A peer: the zero-argument call that is timed, and a function taking its result to NumPy
# arrays in cpool's layout (for the check against cpool's output).
Peer = Tuple[Callable, Callable]


def _torch_result(r, nhwc):
    r = r.to_dense() if getattr(r, "is_mkldnn", False) else r
    a = r.permute(0, 2, 3, 1) if nhwc and r.dim() == 4 else r
    return a.numpy()


def _torch_peers(x: np.ndarray, pool: Pool, threads: int) -> Dict[str, Peer]:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}
    torch.set_num_threads(threads)
    nhwc = pool.layout == "nhwc"
    k, s, p = pool.kernel, pool.stride, pool.padding
    base = torch.from_numpy(x)
    t = base.permute(0, 3, 1, 2) if nhwc else base  # NHWC memory: a channels_last view
    tensors = {"torch channels_last": t if nhwc else t.contiguous(memory_format=torch.channels_last)}
    if not nhwc:
        tensors = {"torch NCHW": t, **tensors}
    if x.dtype == np.float32 and pool.op not in ("max_indices", "max_backward", "global_max"):
        tensors["oneDNN (torch mkldnn)"] = t.contiguous().to_mkldnn()

    def make(a):
        if pool.op == "max":
            return lambda: F.max_pool2d(a, k, s, p)
        if pool.op == "max_indices":
            return lambda: F.max_pool2d(a, k, s, p, return_indices=True)
        if pool.op == "avg":
            return lambda: F.avg_pool2d(a, k, s, p)
        if pool.op == "global_avg":
            return ((lambda: F.adaptive_avg_pool2d(a, 1)) if a.is_mkldnn
                    else (lambda: a.mean((2, 3))))
        if pool.op == "global_max":
            return lambda: a.amax((2, 3))
        # max_backward: grad_output = the forward's values, as cpool's case passes it
        grad, idx = F.max_pool2d(a, k, s, p, return_indices=True)
        return lambda: torch.ops.aten.max_pool2d_with_indices_backward(
            grad, a, [k, k], [s, s], [p, p], [1, 1], False, idx)

    def result(r):
        if isinstance(r, tuple):
            return tuple(_torch_result(v, nhwc) for v in r)
        if pool.op.startswith("global") and r.dim() == 4:
            r = r.flatten(1) if not r.is_mkldnn else r.to_dense().flatten(1)
        return _torch_result(r, nhwc)

    return {name: (make(a), result) for name, a in tensors.items()}


def _jax_peers(x: np.ndarray, pool: Pool) -> Dict[str, Peer]:
    try:
        import jax
        import jax.numpy as jnp
        from jax import lax
    except ImportError:
        return {}
    if pool.op == "max_indices":
        return {}
    xj = jax.device_put(x)
    k, s, p = pool.kernel, pool.stride, pool.padding
    nhwc = pool.layout == "nhwc"
    window = (1, k, k, 1) if nhwc else (1, 1, k, k)
    strides = (1, s, s, 1) if nhwc else (1, 1, s, s)
    pads = ((0, 0), (p, p), (p, p), (0, 0)) if nhwc else ((0, 0), (0, 0), (p, p), (p, p))
    spatial = (1, 2) if nhwc else (2, 3)
    # A Python scalar as the initial value: JAX then lowers to its max-pool primitive, the one
    # it can differentiate.
    lowest = -np.inf if x.dtype.kind == "f" else x.dtype.type(np.iinfo(x.dtype).min)

    def max_pool(a):
        return lax.reduce_window(a, lowest, lax.max, window, strides, pads)

    if pool.op == "max":
        f, name = jax.jit(max_pool), "JAX reduce_window"
    elif pool.op == "avg":  # count_include_pad: a constant divisor
        f = jax.jit(lambda a: lax.reduce_window(a, jnp.array(0, a.dtype), lax.add, window,
                                                strides, pads) / (k * k))
        name = "JAX reduce_window"
    elif pool.op == "global_avg":
        f, name = jax.jit(lambda a: jnp.mean(a, axis=spatial)), "JAX mean"
    elif pool.op == "global_max":
        f, name = jax.jit(lambda a: jnp.max(a, axis=spatial)), "JAX max"
    else:  # max_backward: XLA's select_and_scatter; vjp runs the forward too
        grad = max_pool(xj)
        g = jax.jit(lambda a, gy: jax.vjp(max_pool, a)[1](gy)[0])
        g(xj, grad).block_until_ready()
        return {"JAX vjp (with its forward)": (lambda: g(xj, grad).block_until_ready(),
                                               np.asarray)}
    f(xj).block_until_ready()  # compile outside the timing
    return {name: (lambda: f(xj).block_until_ready(), np.asarray)}


def _onnx_peers(x: np.ndarray, pool: Pool, threads: int) -> Dict[str, Peer]:
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return {}
    elem = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8}
    if x.dtype not in elem or pool.op in ("max_indices", "max_backward"):
        return {}
    nhwc = pool.layout == "nhwc"
    inp = helper.make_tensor_value_info("x", elem[x.dtype], list(x.shape))
    out = helper.make_tensor_value_info("y", elem[x.dtype], None)
    inits = []
    if pool.op.startswith("global"):
        kind = "ReduceMean" if pool.op == "global_avg" else "ReduceMax"
        inits = [helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2] if nhwc else [2, 3])]
        nodes = [helper.make_node(kind, ["x", "axes"], ["y"], keepdims=0)]
        name = f"onnxruntime {kind}"
    else:
        p = pool.padding
        attrs: Dict[str, Any] = dict(kernel_shape=[pool.kernel] * 2, strides=[pool.stride] * 2,
                                     pads=[p] * 4)
        if pool.op == "avg":
            attrs["count_include_pad"] = 1  # PyTorch's default, cpool's too
        kind = "MaxPool" if pool.op == "max" else "AveragePool"
        if nhwc:
            nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
                     helper.make_node(kind, ["t"], ["p"], **attrs),
                     helper.make_node("Transpose", ["p"], ["y"], perm=[0, 2, 3, 1])]
            name = "onnxruntime (+Transpose)"
        else:
            nodes = [helper.make_node(kind, ["x"], ["y"], **attrs)]
            name = "onnxruntime"
    graph = helper.make_graph(nodes, "pool", [inp], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
        sess.run(None, {"x": x})
    except Exception:  # an op/dtype pair this onnxruntime lacks
        return {}
    return {name: (lambda: sess.run(None, {"x": x}), lambda r: r[0])}


def _opencv_peers(x: np.ndarray, pool: Pool, threads: int) -> Dict[str, Peer]:
    try:
        import cv2
    except ImportError:
        return {}
    cv2.setNumThreads(threads)
    k, s, p = pool.kernel, pool.stride, pool.padding
    nhwc = pool.layout == "nhwc"
    if nhwc:
        if x.shape[3] > 512:  # OpenCV's most channels per pixel (CV_CN_MAX)
            return {}
        images = list(x)  # one HWC image per batch item
    else:
        N, C, H, W = x.shape
    if pool.op in ("global_avg", "global_max"):
        if nhwc:
            return {}
        how = cv2.REDUCE_AVG if pool.op == "global_avg" else cv2.REDUCE_MAX
        rows = x.reshape(N * C, H * W)
        return {"OpenCV reduce": (lambda: cv2.reduce(rows, 1, how), lambda r: r.reshape(N, C))}
    tiles = pool.op in ("max", "avg") and k == s == 2 and p == 0
    if tiles and not nhwc and (H % 2 or W % 2):
        return {}
    call: Callable[[], Any]
    if pool.op == "avg" and tiles:
        if nhwc:
            size = (x.shape[2] // 2, x.shape[1] // 2)
            call = lambda: [cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in images]
            return {"OpenCV resize(INTER_AREA)": (call, np.stack)}
        stacked = x.reshape(N * C * H, W)  # 2x2 tiles never cross a plane's edge (H even)
        call = lambda: cv2.resize(stacked, (W // 2, N * C * H // 2), interpolation=cv2.INTER_AREA)
        return {"OpenCV resize(INTER_AREA)": (call, lambda r: r.reshape(N, C, H // 2, W // 2))}
    if pool.op == "max" and tiles:
        # dilate with the window's corner at the anchor, then every second row and column
        square = np.ones((2, 2), np.uint8)
        if nhwc:
            call = lambda: [cv2.dilate(im, square, anchor=(0, 0))[::2, ::2] for im in images]
            return {"OpenCV dilate": (call, np.stack)}
        stacked = x.reshape(N * C * H, W)
        call = lambda: cv2.dilate(stacked, square, anchor=(0, 0))[::2, ::2]
        return {"OpenCV dilate": (call, lambda r: r.reshape(N, C, H // 2, W // 2))}
    if pool.op not in ("max", "avg") or nhwc or s not in (1, 2) or 2 * p != k - 1:
        return {}
    # Padded windows: plane by plane, the border constant (0 for the box filter's average,
    # which counts the padding as PyTorch's default does; dilate's default is the lowest value).
    planes = x.reshape(N * C, H, W)
    square = np.ones((k, k), np.uint8)
    if pool.op == "max":
        one = lambda a: cv2.dilate(a, square, borderType=cv2.BORDER_CONSTANT)[::s, ::s]
        name = "OpenCV dilate, per plane"
    else:
        one = lambda a: cv2.boxFilter(a, -1, (k, k), borderType=cv2.BORDER_CONSTANT)[::s, ::s]
        name = "OpenCV boxFilter, per plane"
    OH, OW = (H - 1) // s + 1, (W - 1) // s + 1
    out = np.empty((N * C, OH, OW), x.dtype)

    def per_plane():
        for i in range(N * C):
            out[i] = one(planes[i])
        return out

    return {name: (per_plane, lambda r: r.reshape(N, C, OH, OW))}


def _same(ours, theirs) -> bool:
    if isinstance(ours, tuple):
        return (isinstance(theirs, tuple) and len(ours) == len(theirs)
                and all(_same(a, b) for a, b in zip(ours, theirs)))
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.shape != theirs.shape:
        return False
    if ours.dtype.kind == "f":
        return bool(np.allclose(ours, theirs, rtol=1e-5, atol=1e-6))
    return bool(np.array_equal(ours, theirs))


def calls(x: np.ndarray, pool: Pool, threads: int, expected=None) -> Dict[str, Callable]:
    """Every installed peer's zero-argument call for ``pool`` on ``x``. A peer whose first call
    fails (an unsupported dtype), or whose result differs from ``expected`` (cpool's output;
    values exactly for max and indices, to float tolerance for averages), is left out."""
    found = {}
    makers = [lambda: _torch_peers(x, pool, threads), lambda: _jax_peers(x, pool),
              lambda: _onnx_peers(x, pool, threads), lambda: _opencv_peers(x, pool, threads)]
    for make in makers:
        try:
            made = make()
        except Exception:  # a peer that cannot build this call
            continue
        for name, (call, result) in made.items():
            try:
                got = result(call())
            except Exception:
                continue
            if expected is not None and not _same(expected, got):
                continue
            found[name] = call
    return found


def fastest(times: Dict[str, float]) -> Optional[Tuple[str, float]]:
    """(name, seconds) of the fastest peer, or None."""
    return min(times.items(), key=lambda kv: kv[1]) if times else None

"""Peer libraries timed beside cpool by ``python -m cpool bench`` on channels-last cases.

Each peer is optional: one that is not installed, or that cannot run a case (a dtype it lacks),
is left out of that row. Inputs are prepared outside the timing in the form the peer runs on
fastest, as its users would hold them: a channels_last tensor (a zero-copy view of the NHWC
array), a oneDNN (mkldnn) tensor, a JAX device array. onnxruntime's pooling is NCHW only, so its
graph is Transpose -> pool -> Transpose, and its time counts the transposes.

Never imported by ``import cpool``. Thread counts: PyTorch and onnxruntime are told ``threads``;
JAX's XLA pool ignores such settings, so the bench pins every thread of the process to as many
cores as the row's thread count.
"""
from typing import Callable, Dict, NamedTuple, Optional, Tuple

import numpy as np


class Pool(NamedTuple):
    """One channels-last pooling call: ``op`` is 'max', 'max_indices', 'avg' or 'global_avg'."""

    op: str
    kernel: int = 1
    stride: int = 1
    padding: int = 0


def _torch_calls(x: np.ndarray, pool: Pool, threads: int) -> Dict[str, Callable]:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}
    torch.set_num_threads(threads)
    calls = {}
    t = torch.from_numpy(x).permute(0, 3, 1, 2)  # NHWC memory: a channels_last tensor, no copy
    if pool.op == "max":
        calls["torch channels_last"] = lambda: F.max_pool2d(t, pool.kernel, pool.stride,
                                                            pool.padding)
    elif pool.op == "max_indices":  # the only peer here that returns indices
        calls["torch channels_last"] = lambda: F.max_pool2d(t, pool.kernel, pool.stride,
                                                            pool.padding, return_indices=True)
        return calls
    elif pool.op == "avg":
        calls["torch channels_last"] = lambda: F.avg_pool2d(t, pool.kernel, pool.stride,
                                                            pool.padding)
    else:
        calls["torch channels_last"] = lambda: t.mean((2, 3))
    if x.dtype == np.float32:
        m = t.contiguous().to_mkldnn()  # oneDNN's own blocked layout, made once
        if pool.op == "max":
            calls["oneDNN (torch mkldnn)"] = lambda: F.max_pool2d(m, pool.kernel, pool.stride,
                                                                  pool.padding)
        elif pool.op == "avg":
            calls["oneDNN (torch mkldnn)"] = lambda: F.avg_pool2d(m, pool.kernel, pool.stride,
                                                                  pool.padding)
        else:
            calls["oneDNN (torch mkldnn)"] = lambda: F.adaptive_avg_pool2d(m, 1)
    return calls


def _jax_calls(x: np.ndarray, pool: Pool) -> Dict[str, Callable]:
    try:
        import jax
        import jax.numpy as jnp
        from jax import lax
    except ImportError:
        return {}
    xj = jax.device_put(x)
    k, s, p = pool.kernel, pool.stride, pool.padding
    pads = ((0, 0), (p, p), (p, p), (0, 0))
    if pool.op == "max":
        lowest = -jnp.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        f = jax.jit(lambda a: lax.reduce_window(a, jnp.array(lowest, a.dtype), lax.max,
                                                (1, k, k, 1), (1, s, s, 1), pads))
    elif pool.op == "avg":  # count_include_pad: a constant divisor
        f = jax.jit(lambda a: lax.reduce_window(a, jnp.array(0, a.dtype), lax.add,
                                                (1, k, k, 1), (1, s, s, 1), pads) / (k * k))
    else:
        f = jax.jit(lambda a: jnp.mean(a, axis=(1, 2)))
    f(xj).block_until_ready()  # compile outside the timing
    return {"JAX reduce_window" if pool.op != "global_avg" else "JAX mean":
            lambda: f(xj).block_until_ready()}


def _onnx_calls(x: np.ndarray, pool: Pool, threads: int) -> Dict[str, Callable]:
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return {}
    elem = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8}
    if x.dtype not in elem:
        return {}
    N, H, W, C = x.shape
    inp = helper.make_tensor_value_info("x", elem[x.dtype], [N, H, W, C])
    out = helper.make_tensor_value_info("y", elem[x.dtype], None)
    if pool.op == "global_avg":
        axes = helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2])
        nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)]
        inits = [axes]
    else:
        kind = "MaxPool" if pool.op == "max" else "AveragePool"
        p = pool.padding
        nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
                 helper.make_node(kind, ["t"], ["p"], kernel_shape=[pool.kernel] * 2,
                                  strides=[pool.stride] * 2, pads=[p, p, p, p]),
                 helper.make_node("Transpose", ["p"], ["y"], perm=[0, 2, 3, 1])]
        inits = []
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
    return {"onnxruntime (+Transpose)" if pool.op != "global_avg" else "onnxruntime ReduceMean":
            lambda: sess.run(None, {"x": x})}


def calls(x: np.ndarray, pool: Pool, threads: int) -> Dict[str, Callable]:
    """Every installed peer's zero-argument call for ``pool`` on the NHWC array ``x``; a peer
    whose first call fails (an unsupported dtype) is left out."""
    found = {}
    makers = [lambda: _torch_calls(x, pool, threads)]
    if pool.op != "max_indices":
        makers += [lambda: _jax_calls(x, pool), lambda: _onnx_calls(x, pool, threads)]
    for make in makers:
        for name, call in make().items():
            try:
                call()
            except Exception:
                continue
            found[name] = call
    return found


def fastest(times: Dict[str, float]) -> Optional[Tuple[str, float]]:
    """(name, seconds) of the fastest peer, or None."""
    return min(times.items(), key=lambda kv: kv[1]) if times else None

"""``python -m cpool bench``: cpool against PyTorch, NumPy and a memory copy, side by side.

For each case and thread count it times, in one run on one machine:

* cpool;
* PyTorch's CPU kernel on the same contiguous NCHW tensor (when torch is installed);
* the plain-NumPy baseline from :mod:`cpool._baselines`;
* a copy of an array of the input's size, the bandwidth ceiling: ``np.copyto`` at one thread,
  PyTorch's threaded ``Tensor.copy_`` at more (when installed);
* a read of the input's bytes once (a SIMD max over them), the floor under any op that reads
  its whole input.

It reports ``speed-up = torch time / cpool time``, ``of copy = cpool's (input + output
bytes)/time divided by copy's (2 x input bytes)/time`` and ``of read = read time / cpool
time``, with the targets of the speed issue.
Times are the minimum over repeats of the mean over a calibrated number of calls.
"""
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from typing import Callable, NamedTuple, Optional

import numpy as np

import cpool
import cpool._kernels
from cpool import _baselines, _peers


class Case(NamedTuple):
    key: str
    label: str
    shape: tuple
    dtype: str
    ours: Callable            # (x, threads) -> result
    torch: Optional[Callable]  # (F, t) -> result, F = torch.nn.functional
    numpy: Optional[Callable]  # (x) -> result
    speedup_target: Optional[float]  # at one thread
    copy_target: Optional[float]
    relative_to: Optional[str] = None     # key of a cpool case on the same input geometry
    relative_target: Optional[float] = None  # at most this many times its time
    nonnegative: bool = False             # feed |x| (stochastic pooling needs activations >= 0)
    relu: bool = False                    # feed max(x, 0): half the values 0, as after a ReLU
    # The call every installed peer times: always for channels-last cases, under --peers for
    # NCHW ones; peer_target replaces speedup_target at one thread there (the speed-up over the
    # fastest peer; issue 19: 2x for max pooling, global max and gradients, 1.25x for the rest).
    peers: Optional[_peers.Pool] = None
    peer_target: Optional[float] = None
    time_target_us: Optional[float] = None  # at one thread: at most this many us a call


def _t_mean(F, t):
    return t.mean((-2, -1))


def _t_amax(F, t):
    return t.amax((-2, -1))


def _nchw(op, *args):
    return _peers.Pool(op, *args, layout="nchw")


# Inception's pooling branch: max 3x3 stride 1 "same".
_MAX3S1 = Case("max3s1", "max 3x3 s1 p1", (32, 128, 28, 28), "float32",
               lambda x, n: cpool.max_pool2d(x, 3, 1, 1, num_threads=n),
               lambda F, t: F.max_pool2d(t, 3, 1, 1), lambda x: _baselines.max_pool2d(x, 3, 1, 1),
               10, 0.3, peers=_nchw("max", 3, 1, 1), peer_target=2.0)

CASES = [
    Case("max2", "max 2x2 s2", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.max_pool2d(x, 2, num_threads=n),
         lambda F, t: F.max_pool2d(t, 2), lambda x: _baselines.max_pool2d(x, 2, 2), 10, 0.85,
         peers=_nchw("max", 2, 2), peer_target=2.0),
    Case("max3", "max 3x3 s2 p1", (32, 64, 112, 112), "float32",
         lambda x, n: cpool.max_pool2d(x, 3, 2, 1, num_threads=n),
         lambda F, t: F.max_pool2d(t, 3, 2, 1), lambda x: _baselines.max_pool2d(x, 3, 2, 1), 10, 0.4,
         peers=_nchw("max", 3, 2, 1), peer_target=2.0),
    Case("avg2", "avg 2x2 s2", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.avg_pool2d(x, 2, num_threads=n),
         lambda F, t: F.avg_pool2d(t, 2), lambda x: _baselines.avg_pool2d(x, 2, 2), 4, 0.85,
         peers=_nchw("avg", 2, 2), peer_target=1.25),
    Case("avg3", "avg 3x3 s1 p1", (32, 128, 28, 28), "float32",
         lambda x, n: cpool.avg_pool2d(x, 3, 1, 1, num_threads=n),
         lambda F, t: F.avg_pool2d(t, 3, 1, 1), lambda x: _baselines.avg_pool2d(x, 3, 1, 1), 5, 0.3,
         peers=_nchw("avg", 3, 1, 1), peer_target=1.25),
    _MAX3S1,
    # ... on 56-wide planes (ResNet's second stage), whose rows are wider than the small
    # planes' path takes: the "same" 3x3's plane-a-call kernel.
    _MAX3S1._replace(key="max3s1w", label="max 3x3 s1 p1, 56-wide", shape=(8, 256, 56, 56)),
    Case("sum2", "sum 2x2 s2", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.sum_pool2d(x, 2, num_threads=n),
         lambda F, t: F.avg_pool2d(t, 2, divisor_override=1), lambda x: _baselines.sum_pool2d(x, 2, 2),
         4, 0.85),
    Case("max2big", "max 2x2 s2, few planes", (8, 3, 1024, 1024), "float32",
         lambda x, n: cpool.max_pool2d(x, 2, num_threads=n),
         lambda F, t: F.max_pool2d(t, 2), lambda x: _baselines.max_pool2d(x, 2, 2), 10, 0.85,
         peers=_nchw("max", 2, 2), peer_target=2.0),
    Case("gavg", "global avg", (256, 2048, 7, 7), "float32",
         lambda x, n: cpool.global_avg_pool2d(x, num_threads=n), _t_mean, _baselines.global_avg_pool2d,
         1, 0.85, peers=_nchw("global_avg"), peer_target=1.25),
    Case("gmax", "global max", (256, 2048, 7, 7), "float32",
         lambda x, n: cpool.global_max_pool2d(x, num_threads=n), _t_amax, _baselines.global_max_pool2d,
         1, 0.5, peers=_nchw("global_max"), peer_target=2.0),
    Case("tiny", "max 2x2, tiny", (1, 16, 32, 32), "float32",
         lambda x, n: cpool.max_pool2d(x, 2, num_threads=n),
         lambda F, t: F.max_pool2d(t, 2), lambda x: _baselines.max_pool2d(x, 2, 2), 1, None,
         peers=_nchw("max", 2, 2), peer_target=1.0),  # call overhead: <= the fastest peer
    # A call on the smallest input: what validation and the kernel call cost (issue 19's
    # target: <= 5 us).
    Case("unit", "max 2x2, one window", (1, 1, 2, 2), "float32",
         lambda x, n: cpool.max_pool2d(x, 2, num_threads=n),
         lambda F, t: F.max_pool2d(t, 2), lambda x: _baselines.max_pool2d(x, 2, 2), None, None,
         time_target_us=5.0),
    Case("max2f64", "max 2x2 s2 float64", (16, 256, 56, 56), "float64",
         lambda x, n: cpool.max_pool2d(x, 2, num_threads=n),
         lambda F, t: F.max_pool2d(t, 2), lambda x: _baselines.max_pool2d(x, 2, 2), 8, 0.6),
    # float16: computed in float32, the input converted a slab at a time (no target; measured
    # so that a regression shows).
    Case("max2f16", "max 2x2 s2 float16", (32, 256, 56, 56), "float16",
         lambda x, n: cpool.max_pool2d(x, 2, num_threads=n),
         lambda F, t: F.max_pool2d(t, 2), None, None, None),
    # With indices (what training needs for the backward). The speed issue sets no target for
    # these; they are measured so a regression shows.
    Case("max2i", "max 2x2 s2 with indices", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.max_pool2d(x, 2, return_indices=True, num_threads=n),
         lambda F, t: F.max_pool2d(t, 2, return_indices=True), None, None, None,
         peers=_nchw("max_indices", 2, 2)),
    Case("max3i", "max 3x3 s2 p1 with indices", (32, 64, 112, 112), "float32",
         lambda x, n: cpool.max_pool2d(x, 3, 2, 1, return_indices=True, num_threads=n),
         lambda F, t: F.max_pool2d(t, 3, 2, 1, return_indices=True), None, None, None),
    # Stride 1 (Inception's pooling branch): every window's columns combined in vectors.
    Case("max3s1i", "max 3x3 s1 p1 with indices", (32, 128, 28, 28), "float32",
         lambda x, n: cpool.max_pool2d(x, 3, 1, 1, return_indices=True, num_threads=n),
         lambda F, t: F.max_pool2d(t, 3, 1, 1, return_indices=True), None, None, None),
    Case("gmaxi", "global max with indices", (256, 2048, 7, 7), "float32",
         lambda x, n: cpool.global_max_pool2d(x, return_indices=True, num_threads=n),
         lambda F, t: t.flatten(-2).max(-1), None, None, None),  # faster than adaptive_max_pool2d
]

# Stochastic pooling has no PyTorch or NumPy counterpart: it is held to cpool's own max and
# average pooling on the same geometry (training within 2x of max, eval within 1.5x of avg).
CASES += [
    Case("stoch2", "stochastic train 2x2 s2", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.stochastic_pool2d(x, 2, seed=0, num_threads=n), None, None, None, None,
         "max2", 2.0, True),
    Case("stoch3", "stochastic train 3x3 s2 p1", (32, 64, 112, 112), "float32",
         lambda x, n: cpool.stochastic_pool2d(x, 3, 2, 1, seed=0, num_threads=n), None, None, None,
         None, "max3", 2.0, True),
    Case("stocheval2", "stochastic eval 2x2 s2", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.stochastic_pool2d(x, 2, training=False, num_threads=n), None,
         lambda x: _baselines.stochastic_eval(x, 2, 2), None, None, "avg2", 1.5, True),
    Case("stocheval3", "stochastic eval 3x3 s1 p1", (32, 128, 28, 28), "float32",
         lambda x, n: cpool.stochastic_pool2d(x, 3, 1, 1, training=False, num_threads=n), None,
         lambda x: _baselines.stochastic_eval(x, 3, 1, 1), None, None, "avg3", 1.5, True),
]



def _backward(prepare, backward):
    """A timed call of ``backward(prepared, threads)``; ``prepare(x)`` (the forward outputs it
    needs) runs once per input, outside the timing."""
    cache = {}

    def call(x, n):
        if cache.get("x") is not x:
            cache.clear()
            cache["x"], cache["args"] = x, prepare(x)
        return backward(cache["args"], n)

    return call


def _with_indices(*args):
    return lambda x: (x.shape, *cpool.max_pool2d(x, *args, return_indices=True))


def _grad_of(forward):
    return lambda x: (x.shape, forward(x))


# Gradients are held to their forward op on the same input: each backward within 2x. A max
# pooling gradient's forward is the call that made its indices (return_indices=True), as in
# PyTorch's autograd, which always runs max_pool2d_with_indices when it records a backward;
# max_unpool2d, which consumes the same indices, is held to it too.
CASES += [
    Case("max2b", "max 2x2 s2 backward", (32, 256, 56, 56), "float32",
         _backward(_with_indices(2), lambda a, n: cpool.max_pool2d_backward(a[1], a[2], a[0], num_threads=n)),
         None, None, None, None, "max2i", 2.0, peers=_nchw("max_backward", 2, 2),
         peer_target=2.0),
    Case("max3b", "max 3x3 s2 p1 backward", (32, 64, 112, 112), "float32",
         _backward(_with_indices(3, 2, 1),
                   lambda a, n: cpool.max_pool2d_backward(a[1], a[2], a[0], num_threads=n)),
         None, None, None, None, "max3i", 2.0),
    Case("max3s1b", "max 3x3 s1 p1 backward", (32, 128, 28, 28), "float32",
         _backward(_with_indices(3, 1, 1),
                   lambda a, n: cpool.max_pool2d_backward(a[1], a[2], a[0], num_threads=n)),
         None, None, None, None, "max3s1i", 2.0),
    Case("avg2b", "avg 2x2 s2 backward", (32, 256, 56, 56), "float32",
         _backward(_grad_of(lambda x: cpool.avg_pool2d(x, 2)),
                   lambda a, n: cpool.avg_pool2d_backward(a[1], a[0], 2, num_threads=n)),
         None, None, None, None, "avg2", 2.0),
    Case("avg3b", "avg 3x3 s1 p1 backward", (32, 128, 28, 28), "float32",
         _backward(_grad_of(lambda x: cpool.avg_pool2d(x, 3, 1, 1)),
                   lambda a, n: cpool.avg_pool2d_backward(a[1], a[0], 3, 1, 1, num_threads=n)),
         None, None, None, None, "avg3", 2.0),
    Case("sum2b", "sum 2x2 s2 backward", (32, 256, 56, 56), "float32",
         _backward(_grad_of(lambda x: cpool.sum_pool2d(x, 2)),
                   lambda a, n: cpool.sum_pool2d_backward(a[1], a[0], 2, num_threads=n)),
         None, None, None, None, "sum2", 2.0),
    Case("gavgb", "global avg backward", (256, 2048, 7, 7), "float32",
         _backward(_grad_of(cpool.global_avg_pool2d),
                   lambda a, n: cpool.global_avg_pool2d_backward(a[1], a[0], num_threads=n)),
         None, None, None, None, "gavg", 2.0),
    Case("gmaxb", "global max backward", (256, 2048, 7, 7), "float32",
         _backward(lambda x: (x.shape, *cpool.global_max_pool2d(x, return_indices=True)),
                   lambda a, n: cpool.global_max_pool2d_backward(a[1], a[2], a[0], num_threads=n)),
         None, None, None, None, "gmaxi", 2.0),
    Case("stochb2", "stochastic 2x2 s2 backward", (32, 256, 56, 56), "float32",
         _backward(lambda x: (x.shape, *cpool.stochastic_pool2d(x, 2, seed=0, return_indices=True)),
                   lambda a, n: cpool.stochastic_pool2d_backward(a[1], a[2], a[0], num_threads=n)),
         None, None, None, None, "stoch2", 2.0, True),
    Case("unpool2", "max_unpool2d 2x2", (32, 256, 56, 56), "float32",
         _backward(_with_indices(2), lambda a, n: cpool.max_unpool2d(a[1], a[2], 2, num_threads=n)),
         None, None, None, None, "max2i", 2.0),
]

# The NCHW cases with peers again, in cache: batch / 8. Held to the peers (under --peers); the
# bandwidth targets are for inputs that stream from memory.
CASES += [
    c._replace(key=c.key + "_c", label=c.label + ", in cache",
               shape=(max(1, c.shape[0] // 8),) + c.shape[1:], speedup_target=None,
               copy_target=None, relative_to=None, relative_target=None)
    for c in list(CASES) if c.key in ("max2", "max3", "max3s1", "avg2", "avg3", "max2big", "gavg",
                                      "gmax", "max2b")
]

# Channels-last (NHWC) inputs, against the strongest peers on the same NHWC array: torch
# channels_last, oneDNN (torch mkldnn), JAX reduce_window, onnxruntime (with its transposes).
# peer_target is against the fastest of them.
def _nhwc(op, *args, **kw):
    return lambda x, n: op(x, *args, axes=(1, 2), num_threads=n, **kw)


CASES += [
    Case("nhwc_max2", "NHWC max 2x2 s2", (32, 56, 56, 256), "float32",
         _nhwc(cpool.max_pool2d, 2), None, None, None, 0.6, peers=_peers.Pool("max", 2, 2),
         peer_target=1.5),
    Case("nhwc_avg2", "NHWC avg 2x2 s2", (32, 56, 56, 256), "float32",
         _nhwc(cpool.avg_pool2d, 2), None, None, None, 0.6, peers=_peers.Pool("avg", 2, 2),
         peer_target=1.5),
    Case("nhwc_max3", "NHWC max 3x3 s2 p1", (32, 112, 112, 64), "float32",
         _nhwc(cpool.max_pool2d, 3, 2, 1), None, None, None, 0.4,
         peers=_peers.Pool("max", 3, 2, 1), peer_target=1.5),
    Case("hwc_u8_max2", "uint8 HWC images max 2x2", (64, 224, 224, 3), "uint8",
         _nhwc(cpool.max_pool2d, 2), None, None, None, 0.5, peers=_peers.Pool("max", 2, 2)),
    Case("nhwc_gavg", "NHWC global avg", (256, 7, 7, 2048), "float32",
         _nhwc(cpool.global_avg_pool2d), None, None, None, 0.6, peers=_peers.Pool("global_avg"),
         peer_target=1),
    Case("nhwc_gmax", "NHWC global max", (256, 7, 7, 2048), "float32",
         _nhwc(cpool.global_max_pool2d), None, None, None, None,
         peers=_peers.Pool("global_max")),
    Case("nhwc_gmaxi", "NHWC global max with indices", (256, 7, 7, 2048), "float32",
         _nhwc(cpool.global_max_pool2d, return_indices=True), None, None, None, None),
    Case("nhwc_max2i", "NHWC max 2x2 s2 with indices", (32, 56, 56, 256), "float32",
         _nhwc(cpool.max_pool2d, 2, return_indices=True), None, None, None, None,
         peers=_peers.Pool("max_indices", 2, 2)),
    Case("nhwc_max2b", "NHWC max 2x2 s2 backward", (32, 56, 56, 256), "float32",
         _backward(lambda x: (x.shape, *cpool.max_pool2d(x, 2, return_indices=True, axes=(1, 2))),
                   lambda a, n: cpool.max_pool2d_backward(a[1], a[2], a[0], axes=(1, 2),
                                                          num_threads=n)),
         None, None, None, None, "nhwc_max2i", 2.0),
]

# 1-D signals and 3-D volumes (issue 17). PyTorch's NCDHW max_pool3d is scalar; the NDHWC case
# is against its channels_last_3d kernel (the same array permuted to NCDHW).
def _max3d_with_indices(x):
    return (x.shape, *cpool.max_pool3d(x, 2, return_indices=True))


CASES += [
    Case("max3d2", "max3d 2x2x2 s2", (8, 32, 32, 112, 112), "float32",
         lambda x, n: cpool.max_pool3d(x, 2, num_threads=n),
         lambda F, t: F.max_pool3d(t, 2), None, 10, 0.6),
    Case("max3d3", "max3d 3x3x3 s2 p1", (4, 32, 32, 56, 56), "float32",
         lambda x, n: cpool.max_pool3d(x, 3, 2, 1, num_threads=n),
         lambda F, t: F.max_pool3d(t, 3, 2, 1), None, 10, 0.4),
    Case("avg3d2", "avg3d 2x2x2 s2", (8, 32, 32, 112, 112), "float32",
         lambda x, n: cpool.avg_pool3d(x, 2, num_threads=n),
         lambda F, t: F.avg_pool3d(t, 2), None, 4, 0.6),
    Case("ndhwc_max3d2", "NDHWC max3d 2x2x2 s2", (8, 32, 112, 112, 32), "float32",
         lambda x, n: cpool.max_pool3d(x, 2, axes=(1, 2, 3), num_threads=n),
         lambda F, t: F.max_pool3d(t.permute(0, 4, 1, 2, 3), 2), None, 1.5, 0.5),
    Case("max1d2", "max1d k2 s2", (64, 256, 4096), "float32",
         lambda x, n: cpool.max_pool1d(x, 2, num_threads=n),
         lambda F, t: F.max_pool1d(t, 2), None, 5, 0.6),
    Case("avg1d3", "avg1d k3 s1 p1", (64, 256, 4096), "float32",
         lambda x, n: cpool.avg_pool1d(x, 3, 1, 1, num_threads=n),
         lambda F, t: F.avg_pool1d(t, 3, 1, 1), None, 3, 0.4),
    Case("max1d3", "max1d k3 s1 p1", (64, 256, 4096), "float32",
         lambda x, n: cpool.max_pool1d(x, 3, 1, 1, num_threads=n),
         lambda F, t: F.max_pool1d(t, 3, 1, 1), None, 5, 0.4),
    Case("max1d2i", "max1d k2 s2 with indices", (64, 256, 4096), "float32",
         lambda x, n: cpool.max_pool1d(x, 2, return_indices=True, num_threads=n),
         lambda F, t: F.max_pool1d(t, 2, return_indices=True), None, None, None),
    Case("max1d3s2i", "max1d k3 s2 p1 with indices", (64, 256, 4096), "float32",
         lambda x, n: cpool.max_pool1d(x, 3, 2, 1, return_indices=True, num_threads=n),
         lambda F, t: F.max_pool1d(t, 3, 2, 1, return_indices=True), None, None, None),
    Case("max3d2i", "max3d 2x2x2 s2 with indices", (8, 32, 32, 112, 112), "float32",
         lambda x, n: cpool.max_pool3d(x, 2, return_indices=True, num_threads=n),
         lambda F, t: F.max_pool3d(t, 2, return_indices=True), None, None, None),
    Case("max3d2b", "max3d 2x2x2 s2 backward", (8, 32, 32, 112, 112), "float32",
         _backward(_max3d_with_indices,
                   lambda a, n: cpool.max_pool3d_backward(a[1], a[2], a[0], num_threads=n)),
         None, None, None, None, "max3d2i", 2.0),
]

def _adaptive_max_with_indices(x):
    return (x.shape, *cpool.adaptive_max_pool2d(x, 6, return_indices=True))


def _fractional_with_indices(x):
    return (x.shape, *cpool.fractional_max_pool2d(x, 2, output_ratio=0.7, return_indices=True,
                                                  seed=0))


# Adaptive, LP and fractional pooling (issue 18).
CASES += [
    Case("adavg7", "adaptive avg -> 7x7", (32, 512, 14, 14), "float32",
         lambda x, n: cpool.adaptive_avg_pool2d(x, 7, num_threads=n),
         lambda F, t: F.adaptive_avg_pool2d(t, 7), None, 10, 0.5),
    Case("gavg32", "global avg", (32, 2048, 7, 7), "float32",
         lambda x, n: cpool.global_avg_pool2d(x, num_threads=n),
         _t_mean, None, None, None),
    Case("adavg1", "adaptive avg -> 1x1", (32, 2048, 7, 7), "float32",
         lambda x, n: cpool.adaptive_avg_pool2d(x, 1, num_threads=n),
         lambda F, t: F.adaptive_avg_pool2d(t, 1), None, None, None, "gavg32", 1.1),
    Case("admax6", "adaptive max 13 -> 6", (32, 256, 13, 13), "float32",
         lambda x, n: cpool.adaptive_max_pool2d(x, 6, num_threads=n),
         lambda F, t: F.adaptive_max_pool2d(t, 6), None, 10, None),
    Case("admax6i", "adaptive max 13 -> 6 with indices", (32, 256, 13, 13), "float32",
         lambda x, n: cpool.adaptive_max_pool2d(x, 6, return_indices=True, num_threads=n),
         lambda F, t: F.adaptive_max_pool2d(t, 6, return_indices=True), None, 10, None),
    Case("admax5", "adaptive max 13 -> 5 (uneven windows)", (32, 256, 13, 13), "float32",
         lambda x, n: cpool.adaptive_max_pool2d(x, 5, num_threads=n),
         lambda F, t: F.adaptive_max_pool2d(t, 5), None, None, None),
    Case("adavg10", "adaptive avg 10 -> 7 (uneven windows)", (32, 512, 10, 10), "float32",
         lambda x, n: cpool.adaptive_avg_pool2d(x, 7, num_threads=n),
         lambda F, t: F.adaptive_avg_pool2d(t, 7), None, None, None),
    Case("lp2", "lp p=2 2x2", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.lp_pool2d(x, 2, 2, num_threads=n),
         lambda F, t: F.lp_pool2d(t, 2, 2), None, 10, 0.4),
    # Another power: raised in blocks by PyTorch's pow rules (x * x * x); the means' roots
    # (1/3) by the kernels' vectorised pow.
    Case("lp3", "lp p=3 2x2", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.lp_pool2d(x, 3, 2, num_threads=n),
         lambda F, t: F.lp_pool2d(t, 3, 2), None, None, None),
    # p = 4 (and the other integers to 8, the halves 1.5 to 3.5): the powers by IEEE steps in
    # double (products; the roots 1/4 by two square roots), a few operations a value.
    Case("lp4", "lp p=4 2x2", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.lp_pool2d(x, 4, 2, num_threads=n),
         lambda F, t: F.lp_pool2d(t, 4, 2), None, None, None),
    # A p that is not an integer: NaN for every window with a negative value (PyTorch's rule),
    # and on a ReLU's output, half zeros: the kernels' vectorised pow, whose special lanes
    # (negative, NaN, zero) cost what the others do (the C powf's are 6-40x slower).
    Case("lp15", "lp p=1.5 2x2", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.lp_pool2d(x, 1.5, 2, num_threads=n),
         lambda F, t: F.lp_pool2d(t, 1.5, 2), None, None, None),
    Case("lp15r", "lp p=1.5 2x2, ReLU input", (32, 256, 56, 56), "float32",
         lambda x, n: cpool.lp_pool2d(x, 1.5, 2, num_threads=n),
         lambda F, t: F.lp_pool2d(t, 1.5, 2), None, None, None, relu=True),
    Case("frac2", "fractional max 2x2 ratio 0.7", (32, 64, 112, 112), "float32",
         lambda x, n: cpool.fractional_max_pool2d(x, 2, output_ratio=0.7, seed=0,
                                                  num_threads=n),
         lambda F, t: F.fractional_max_pool2d(t, 2, output_ratio=(0.7, 0.7)), None, 10, None),
    Case("frac2i", "fractional max 2x2 ratio 0.7 with indices", (32, 64, 112, 112), "float32",
         lambda x, n: cpool.fractional_max_pool2d(x, 2, output_ratio=0.7, seed=0,
                                                  return_indices=True, num_threads=n),
         None, None, None, None),
    Case("adavg7b", "adaptive avg -> 7x7 backward", (32, 512, 14, 14), "float32",
         _backward(lambda x: (x.shape, np.ones((32, 512, 7, 7), np.float32)),
                   lambda a, n: cpool.adaptive_avg_pool2d_backward(a[1], a[0], num_threads=n)),
         None, None, None, None, "adavg7", 2.0),
    Case("admax6b", "adaptive max 13 -> 6 backward", (32, 256, 13, 13), "float32",
         _backward(_adaptive_max_with_indices,
                   lambda a, n: cpool.adaptive_max_pool2d_backward(a[1], a[2], a[0],
                                                                   num_threads=n)),
         None, None, None, None, "admax6i", 2.0),
    Case("lp2b", "lp p=2 2x2 backward", (32, 256, 56, 56), "float32",
         _backward(lambda x: (x, np.ones((32, 256, 28, 28), np.float32)),
                   lambda a, n: cpool.lp_pool2d_backward(a[1], a[0], 2, 2, num_threads=n)),
         None, None, None, None, "lp2", 2.0),
    Case("lp15b", "lp p=1.5 2x2 backward, ReLU input", (32, 256, 56, 56), "float32",
         _backward(lambda x: (x, np.ones((32, 256, 28, 28), np.float32)),
                   lambda a, n: cpool.lp_pool2d_backward(a[1], a[0], 1.5, 2, num_threads=n)),
         None, None, None, None, "lp15r", 2.0, relu=True),
    Case("frac2b", "fractional max 2x2 backward", (32, 64, 112, 112), "float32",
         _backward(_fractional_with_indices,
                   lambda a, n: cpool.fractional_max_pool2d_backward(a[1], a[2], a[0],
                                                                     num_threads=n)),
         None, None, None, None, "frac2i", 2.0),
]


# Issue 19's row-width sweep: 2x2 stride-2 max, avg and sum at every power-of-two row width from
# 16 to 4096, on square planes, as many as make WIDTH_SWEEP_BYTES (in memory: past any cache),
# each held to WIDTH_COPY_TARGET of copy. `--widths` runs them.
WIDTH_SWEEP = tuple(1 << k for k in range(4, 13))
WIDTH_SWEEP_BYTES = 64 << 20
WIDTH_COPY_TARGET = 0.85
_WIDTH_OPS = (
    ("max2", "max", lambda x, n: cpool.max_pool2d(x, 2, num_threads=n),
     lambda F, t: F.max_pool2d(t, 2)),
    ("avg2", "avg", lambda x, n: cpool.avg_pool2d(x, 2, num_threads=n),
     lambda F, t: F.avg_pool2d(t, 2)),
    ("sum2", "sum", lambda x, n: cpool.sum_pool2d(x, 2, num_threads=n),
     lambda F, t: F.avg_pool2d(t, 2, divisor_override=1)),
)


def width_cases(widths=WIDTH_SWEEP):
    """The row-width sweep's cases (keys ``max2_w16`` ... ``sum2_w4096``): float32 planes of
    ``W x W`` values, (1, P, W, W) with P planes filling WIDTH_SWEEP_BYTES."""
    cases = []
    for key, name, ours, torch_call in _WIDTH_OPS:
        for w in widths:
            planes = max(1, WIDTH_SWEEP_BYTES // (w * w * 4))
            cases.append(Case(f"{key}_w{w}", f"{name} 2x2 s2, rows of {w}", (1, planes, w, w),
                              "float32", ours, torch_call, None, None, WIDTH_COPY_TARGET))
    return cases


# Targets at many threads (the 16-core machine): speed-up and share of copy bandwidth.
MANY_THREADS_TARGETS = (5, 0.5)


def _targets(case, n, with_peers):
    """(speed-up target, of-copy target) of a row, None where it has none. Against peers the
    targets are set at one thread; PyTorch NCHW rows at more threads get the many-core
    machine's; the default count's rows (n = 0) are compared with the explicit counts'."""
    untargeted = case.speedup_target is None and case.copy_target is None
    if case.torch is None and not with_peers:
        return None, None
    if n == 1:
        return (case.peer_target if with_peers else case.speedup_target), case.copy_target
    if n == 0 or with_peers or untargeted or case.key in ("tiny", "unit"):
        return None, None
    return (None if case.speedup_target is None else MANY_THREADS_TARGETS[0],
            MANY_THREADS_TARGETS[1])


def _time(fn, repeat, min_time=0.02):
    """Minimum over `repeat` rounds of the mean time of a calibrated number of calls."""
    fn()  # warm-up (page faults, thread pool start)
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or number >= 1 << 16:
            break
        number *= 2 if elapsed * 8 > min_time else 8
    best = elapsed / number
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def _time_pair(fn, base, repeat, min_time=0.02):
    """Minimum times of ``fn`` and ``base``, measured in alternating rounds so that drift in the
    machine's load affects both alike (their ratio is what the relative targets judge)."""
    fn()
    base()
    number = max(1, int(min_time / max(_time(fn, 1, min_time) * 1.0, 1e-9)))
    best_fn = best_base = float("inf")
    for _ in range(repeat):
        for f, is_base in ((fn, False), (base, True)):
            t0 = time.perf_counter()
            for _ in range(number):
                f()
            t = (time.perf_counter() - t0) / number
            if is_base:
                best_base = min(best_base, t)
            else:
                best_fn = min(best_fn, t)
    return best_fn, best_base


def _copy_time(x, threads, torch, repeat):
    """Copy of an array of x's size: np.copyto at one thread; at more, PyTorch's threaded
    ``copy_`` when installed (np.copyto is single-threaded, so it would understate the ceiling)."""
    dst = np.empty_like(x)
    np.copyto(dst, x)
    if threads > 1 and torch is not None:
        src_t, dst_t = torch.from_numpy(x), torch.from_numpy(dst)
        return _time(lambda: dst_t.copy_(src_t), repeat)
    return _time(lambda: np.copyto(dst, x), repeat)


def _read_time(x, threads, torch, repeat):
    """The time to read x's bytes once, the floor under any op that must read all of its
    input (the copy also writes them all, and with non-temporal stores for large arrays, so
    an op that writes little can trail the copy and still run at the memory's speed):
    the max of the bytes seen as int32 (uint8 where the size is not a multiple of 4), a SIMD
    pass that keeps nothing but a register. One thread: NumPy's; more: PyTorch's threaded
    ``amax`` when installed (NumPy's reduction is single-threaded)."""
    flat = x.reshape(-1).view(np.uint8)
    words = flat.view(np.int32) if flat.size % 4 == 0 else flat
    if threads > 1 and torch is not None:
        t = torch.from_numpy(words)
        return _time(lambda: t.amax(), repeat)
    return _time(lambda: np.max(words), repeat)


def _nbytes(a):
    return sum(np.asarray(r).nbytes for r in a) if isinstance(a, tuple) else np.asarray(a).nbytes


def _pin(cpus):
    """Run every thread of this process (cpool's, PyTorch's, JAX's and onnxruntime's pools)
    on ``cpus`` only, so that an n-thread row uses n cores whatever each library does with
    its thread settings (JAX's XLA pool ignores them). Linux only; elsewhere a no-op."""
    if not hasattr(os, "sched_setaffinity"):
        return
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:  # a thread that just ended
            pass


def _available():
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def run(cases, threads, repeat, with_numpy, progress=sys.stderr, pin=True, peers=False):
    """Time every case at every thread count. ``pin``: each row's process pinned to as many
    CPUs as its thread count (JAX's pool ignores thread settings). Under ``--load`` nothing
    is pinned: the scheduler would move the busy processes off a pinned row's CPU, and a
    one-thread row would run as on a quiet machine. ``peers``: time the installed peers on the
    NCHW cases too (the channels-last cases always list them)."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = F = None
    cpus = _available()
    rows = []
    total = len(cases) * len(threads)
    rng = np.random.default_rng(0)
    inputs = {}
    for i, (case, n) in enumerate(((c, n) for n in threads for c in cases), 1):
        if case.key not in inputs:
            inputs.clear()  # keep one large input alive at a time
            x = rng.standard_normal(case.shape, dtype=np.float32).astype(case.dtype)
            if case.nonnegative:
                np.abs(x, out=x)
            elif case.relu:
                np.maximum(x, 0, out=x)
            inputs[case.key] = x
        x = inputs[case.key]
        # n = 0: cpool's default count (num_threads=None, which the machine's load may cap);
        # every other library gets all the CPUs.
        mine = None if n == 0 else n
        m = n or len(cpus) or os.cpu_count() or 1
        if progress:
            print(f"[{i}/{total}] {case.label} {case.shape} on {n or 'the default'} thread(s) ...",
                  file=progress, flush=True)
        if cpus and pin:
            _pin(set(cpus[:m]))
        ours = case.ours(x, mine)
        t_related = None
        t_one = None
        if case.relative_to:
            base = next(c for c in CASES if c.key == case.relative_to)
            t_ours, t_related = _time_pair(lambda: case.ours(x, mine), lambda: base.ours(x, mine),
                                           repeat)
        elif n == 0:
            # The default count against one thread, in alternating rounds: on a busy machine
            # the load drifts between rows timed apart, and their ratio is what matters.
            t_ours, t_one = _time_pair(lambda: case.ours(x, None), lambda: case.ours(x, 1),
                                       repeat)
        else:
            t_ours = _time(lambda: case.ours(x, mine), repeat)
        if torch is not None:
            torch.set_num_threads(m)
        t_copy = _copy_time(x, m, torch, repeat)
        t_read = _read_time(x, m, torch, repeat)
        t_torch = t_numpy = None
        if torch is not None and case.torch is not None:
            tx = torch.from_numpy(x)
            t_torch = _time(lambda: case.torch(F, tx), repeat)
        if with_numpy and case.numpy is not None:
            t_numpy = _time(lambda: case.numpy(x), 1 if x.size > 1 << 22 else repeat)
        peer_ms, best = {}, None
        with_peers = case.peers is not None and (peers or case.peers.layout == "nhwc")
        if with_peers:
            for name, call in _peers.calls(x, case.peers, m, expected=ours).items():
                peer_ms[name] = _time(call, repeat) * 1e3
            best = _peers.fastest(peer_ms)
            if best is not None:
                t_torch = best[1] / 1e3  # the speed-up column is against the fastest peer
        moved = x.nbytes + _nbytes(ours)
        rows.append({
            "case": case.label, "key": case.key, "shape": list(case.shape), "dtype": case.dtype,
            "threads": n, "cpool_ms": t_ours * 1e3,
            "torch_ms": None if t_torch is None else t_torch * 1e3,
            "numpy_ms": None if t_numpy is None else t_numpy * 1e3,
            "copy_ms": t_copy * 1e3,
            "cpool_GBps": moved / t_ours / 1e9,
            "copy_GBps": 2 * x.nbytes / t_copy / 1e9,
            "speedup_vs_torch": None if t_torch is None else t_torch / t_ours,
            "of_copy": (moved / t_ours) / (2 * x.nbytes / t_copy),
            "read_ms": t_read * 1e3,
            "of_read": t_read / t_ours,
            **dict(zip(("speedup_target", "copy_target"), _targets(case, n, bool(peer_ms)))),
            "time_target_us": case.time_target_us if n == 1 else None,
            "relative_to": case.relative_to, "relative_target": case.relative_target,
            "related_ms": None if t_related is None else t_related * 1e3,
            "one_thread_ms": None if t_one is None else t_one * 1e3,
            "peers_ms": peer_ms,
            "best_peer": best[0] if best else None,
        })
    if cpus:
        _pin(set(cpus))
    return rows


def _fmt(v, spec):
    return "—" if v is None else format(v, spec)


def _ms(v):
    """A time in ms, to the microsecond, or to a tenth of one under 10 us (the call-overhead
    rows, whose target is in microseconds)."""
    return format(v, ".3f" if v >= 0.01 else ".4f")


def _relative(row, rows):
    """(time ratio to the related cpool op, timed alternately on the same input; its label)."""
    if not row.get("relative_to"):
        return None
    label = next((c.label for c in CASES if c.key == row["relative_to"]), row["relative_to"])
    return row["cpool_ms"] / row["related_ms"], label


def relative_table(rows):
    lines = ["| case | threads | cpool ms | related op ms | time / related op | target |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        rel = _relative(r, rows)
        if rel is None:
            continue
        ok = rel[0] <= r["relative_target"]
        lines.append(f"| {r['case']} | {r['threads'] or 'default'} | {r['cpool_ms']:.3f} | {r['related_ms']:.3f} | "
                     f"{rel[0]:.2f}x {rel[1]} | <= {r['relative_target']}x {'met' if ok else 'MISSED'} |")
    return "\n".join(lines) if len(lines) > 2 else ""


# Issue 19: at the default thread count a call takes at most this many times its one-thread time
# (on a busy machine: `--load N`).
DEFAULT_VS_ONE_THREAD = 1.1


def default_table(rows):
    """Rows at the default thread count, each against one thread timed alternately with it."""
    lines = ["| case | shape | default ms | 1 thread ms | default / 1 thread | target |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("one_thread_ms") is None:
            continue
        ratio = r["cpool_ms"] / r["one_thread_ms"]
        ok = "met" if ratio <= DEFAULT_VS_ONE_THREAD else "MISSED"
        lines.append(f"| {r['case']} | {tuple(r['shape'])} | {r['cpool_ms']:.3f} | "
                     f"{r['one_thread_ms']:.3f} | {ratio:.2f}x | <= {DEFAULT_VS_ONE_THREAD}x {ok} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def _verdict(row):
    checks = []
    if row["speedup_target"] is not None and row["speedup_vs_torch"] is not None:
        checks.append(row["speedup_vs_torch"] >= row["speedup_target"])
    if row["copy_target"] is not None:
        checks.append(row["of_copy"] >= row["copy_target"])
    if row.get("time_target_us") is not None:
        checks.append(row["cpool_ms"] * 1e3 <= row["time_target_us"])
    return "—" if not checks else ("met" if all(checks) else "MISSED")


def table(rows):
    head = ("| case | shape | threads | cpool ms | torch ms | NumPy ms | copy ms | speed-up | of copy "
            "| of read | target (speed-up / of copy) | |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        if r.get("relative_to") or r.get("peers_ms"):
            continue  # shown in relative_table / peer_table
        speedup = "—" if r["speedup_target"] is None else f"{r['speedup_target']:g}x"
        target = f"{speedup} / {_fmt(r['copy_target'], 'g')}"
        if r.get("time_target_us") is not None:
            target += f", <= {r['time_target_us']:g} us a call"
        lines.append(
            f"| {r['case']} | {tuple(r['shape'])} {'' if r['dtype'] == 'float32' else r['dtype']}| "
            f"{r['threads'] or 'default'} | {_ms(r['cpool_ms'])} | {_fmt(r['torch_ms'], '.3f')} | "
            f"{_fmt(r['numpy_ms'], '.1f')} | {r['copy_ms']:.3f} | "
            f"{_fmt(r['speedup_vs_torch'], '.1f')}x | {r['of_copy']:.2f} | "
            f"{_fmt(r.get('of_read'), '.2f')} | {target} | {_verdict(r)} |"
        )
    return "\n".join(lines)


# The peer table's columns: one per library (a peer's name starts with its column's).
PEER_COLUMNS = ("torch NCHW", "torch channels_last", "oneDNN", "onnxruntime", "JAX", "OpenCV")


def _column(name):
    return next((c for c in PEER_COLUMNS if name.startswith(c)), name)


def peer_table(rows):
    """Cases timed against peers: cpool, each library's time, the fastest peer and cpool's
    speed-up over it."""
    found = {_column(name) for r in rows for name in r.get("peers_ms", {})}
    columns = [c for c in PEER_COLUMNS if c in found] + sorted(found - set(PEER_COLUMNS))
    if not columns:
        return ""
    head = ("| case | shape | threads | cpool ms | " + " | ".join(f"{c} ms" for c in columns)
            + " | best peer | cpool vs best | of copy | of read | target (vs best / of copy) | |")
    lines = [head, "|" + "---|" * (10 + len(columns))]
    for r in rows:
        if not r.get("peers_ms"):
            continue
        by_column = {_column(name): ms for name, ms in r["peers_ms"].items()}
        speedup = "—" if r["speedup_target"] is None else f"{r['speedup_target']:g}x"
        peers = " | ".join(_fmt(by_column.get(c), ".3f") for c in columns)
        lines.append(
            f"| {r['case']} | {tuple(r['shape'])} {'' if r['dtype'] == 'float32' else r['dtype']}| "
            f"{r['threads'] or 'default'} | {r['cpool_ms']:.3f} | {peers} | {r['best_peer']} | "
            f"{_fmt(r['speedup_vs_torch'], '.2f')}x | {r['of_copy']:.2f} | "
            f"{_fmt(r.get('of_read'), '.2f')} | "
            f"{speedup} / {_fmt(r['copy_target'], '.2f')} | {_verdict(r)} |")
    how = sorted({name for r in rows for name in r.get("peers_ms", {})} - set(columns))
    if how:
        lines.append("\nPeer calls: " + "; ".join(how) + ".")
    return "\n".join(lines)


def machine():
    import os

    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "numpy": np.__version__, "torch": torch_version,
            "cpool": cpool.__version__, "openmp": cpool.openmp_enabled(),
            "kernels": cpool._kernels.SIMD, "python": platform.python_version()}


@contextlib.contextmanager
def busy_processes(n: int):
    """``n`` processes spinning on a core each while the block runs (``--load``): the busy
    machine cpool's default thread count must hold up on. Every library's timing in the block
    runs under the same load."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        if procs:
            time.sleep(0.5)  # scheduled and spinning before the first timing
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def main(args):
    sweep = width_cases()
    widths = sweep if getattr(args, "widths", False) else []
    known = CASES + sweep
    if args.ops:
        cases = [c for c in known if any(o in (c.key, c.label) for o in args.ops)]
    else:
        cases = [] if widths else list(CASES)
    cases += [c for c in widths if c not in cases]
    if not cases:
        raise SystemExit(f"no case matches --ops {args.ops}; choose from {[c.key for c in CASES]} "
                         f"or a row-width case ({known[-1].key} ...)")
    threads = args.threads or [1]
    load = getattr(args, "load", 0)
    with_peers = getattr(args, "peers", False)
    with busy_processes(load):
        rows = run(cases, threads, args.repeat, not args.no_numpy, pin=not load, peers=with_peers)
    info = machine()
    info["load"] = load
    info["peers"] = with_peers
    print(f"\ncpool {info['cpool']} | {info['cpu']} ({info['cores']} cores) | NumPy {info['numpy']} | "
          f"PyTorch {info['torch'] or 'not installed'} | OpenMP {info['openmp']} | "
          f"kernels {info['kernels']}")
    print("speed-up = PyTorch NCHW time / cpool time; of copy = cpool (in+out) GB/s / copy GB/s "
          "(np.copyto at 1 thread, torch copy_ at more); of read = the time to read the input "
          "once / cpool time (1.0: cpool at the speed of its input's read)"
          + (f"; measured with {load} busy processes running" if load else "") + "\n")
    print(table(rows))
    peers = peer_table(rows)
    if peers:
        print("\nAgainst every installed peer on the same array (NHWC cases: axes=(1, 2)); each "
              "peer's result checked against cpool's before it is timed; each row's threads, every "
              "library's included, pinned to as many cores" + (" (not under --load)" if load else "")
              + "; cpool vs best = fastest peer time / cpool time:\n")
        print(peers)
    default = default_table(rows)
    if default:
        print("\ncpool's default thread count (num_threads=None) against one thread, timed in "
              "alternating rounds" + (f" with {load} busy processes running" if load else "")
              + ":\n")
        print(default)
    rel = relative_table(rows)
    if rel:
        print("\nStochastic pooling and gradients against cpool's own forward ops on the same input, "
              "timed in alternating rounds:\n")
        print(rel)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)
        print(f"\nwrote {args.json}")
    missed = any(_verdict(r) == "MISSED" for r in rows) or "MISSED" in rel or "MISSED" in default
    return 1 if missed and args.check else 0

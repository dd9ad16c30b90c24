"""cpool.dask: every op over Dask arrays equals the in-memory op on the computed array, for any
chunking (chunks that cut windows, chunks smaller than the kernel, uneven last chunks, chunked
batch and pooled axes, channels-last ``axes``), on the threaded scheduler and on a cluster."""
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cpool  # noqa: E402
import cpool.dask as cd  # noqa: E402
from _helpers import misaligned_copy  # noqa: E402

def _chunked(x, chunks):
    return da.from_array(x, chunks=chunks)


def _computed(result, scheduler="synchronous"):
    """The computed result; a tuple's arrays computed together (their tasks shared)."""
    with dask.config.set(scheduler=scheduler):
        if isinstance(result, tuple):
            return dask.compute(*result)
        return result.compute()


def _assert_same(got, want, exact):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        if exact or w.dtype.kind not in "fc":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=2e-6 if w.dtype == np.float32 else 1e-12,
                                       atol=1e-6 * (1 + float(np.nanmax(np.abs(w), initial=0))))


def _check(op_name, x, chunks, exact=None, scheduler="synchronous", **kwargs):
    """cpool.dask.<op> on ``x`` chunked as ``chunks`` against cpool.<op> on ``x``."""
    want = getattr(cpool, op_name)(x, **kwargs)
    lazy = getattr(cd, op_name)(_chunked(x, chunks), **kwargs)
    if exact is None:
        exact = "max" in op_name or x.dtype.kind in "iub"
    _assert_same(_computed(lazy, scheduler), want, exact)
    return lazy


def _cuts(draw, size):
    """A random chunking of ``size`` cells: chunk sizes summing to it."""
    if size == 0:
        return (0,)
    k = draw(st.integers(0, min(size - 1, 5)))
    points = sorted(draw(st.sets(st.integers(1, size - 1), min_size=k, max_size=k))) if k else []
    edges = [0] + points + [size]
    return tuple(b - a for a, b in zip(edges[:-1], edges[1:]))


@st.composite
def _windowed_case(draw):
    n = draw(st.sampled_from([1, 2, 3]))
    op = draw(st.sampled_from(["max", "avg", "sum", "lp"]))
    channels_last = draw(st.booleans())
    sizes = tuple(draw(st.integers(1, 13 if n < 3 else 7)) for _ in range(n))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilated = op in ("max", "sum")
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n)) if dilated else (1,) * n
    ceil_mode = draw(st.booleans())
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel) if op != "lp" else None
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    pads = padding or (0,) * n
    if any(m + 2 * p < s for m, p, s in zip(sizes, pads, spans)):
        sizes = tuple(max(m, s) for m, s in zip(sizes, spans))
    batch = (draw(st.integers(1, 3)), 2)
    shape = batch[:1] + sizes + batch[1:] if channels_last else batch + sizes
    axes = tuple(range(1, 1 + n)) if channels_last else tuple(range(-n, 0))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int32]) if op != "lp"
                 else st.sampled_from([np.float32, np.float64]))
    chunks = tuple(_cuts(draw, m) for m in shape)
    kwargs = dict(kernel_size=kernel, stride=stride, ceil_mode=ceil_mode, axes=axes)
    if op != "lp":
        kwargs["padding"] = padding
    if op in ("max", "sum"):
        kwargs["dilation"] = dilation
    if op == "max":
        kwargs["return_indices"] = draw(st.booleans())
    if op == "avg":
        kwargs["count_include_pad"] = draw(st.booleans())
        if draw(st.booleans()):
            kwargs["divisor_override"] = draw(st.integers(1, 5))
    if op == "lp":
        kwargs = dict(norm_type=draw(st.sampled_from([1, 2, 3.5])), **kwargs)
    seed = draw(st.integers(0, 2**31))
    return f"{op}_pool{n}d", shape, dtype, chunks, kwargs, seed


def _data(shape, dtype, seed, nan=False):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        x = rng.standard_normal(shape).astype(dtype)
        if nan and x.size:
            x.flat[rng.integers(0, x.size, max(1, x.size // 20))] = np.nan
        return x
    return rng.integers(-4, 5, shape).astype(dtype)  # small values: ties


@given(_windowed_case())
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_windowed_ops_equal_in_memory_for_any_chunking(case):
    name, shape, dtype, chunks, kwargs, seed = case
    x = _data(shape, dtype, seed)
    if name.startswith("lp"):
        x = np.abs(x)
    _check(name, x, chunks, **kwargs)


@given(_windowed_case(), st.integers(1, 400))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_misaligned_blocks_equal_in_memory_for_any_chunking_and_slab(case, slab_bytes):
    """The same property on misaligned input, its blocks pooled in slabs of any size."""
    name, shape, dtype, chunks, kwargs, seed = case
    x = _data(shape, dtype, seed)
    if name.startswith("lp"):
        x = np.abs(x)
    want = getattr(cpool, name)(x, **kwargs)
    old, cd._SLAB_BYTES = cd._SLAB_BYTES, slab_bytes
    try:
        got = _computed(getattr(cd, name)(_chunked(misaligned_copy(x), chunks), **kwargs))
    finally:
        cd._SLAB_BYTES = old
    _assert_same(got, want, "max" in name or x.dtype.kind in "iub")


@pytest.mark.parametrize("chunks", [
    ((2,), (1,), (3, 3, 3, 3, 1), (2, 5, 6)),     # chunks smaller than the kernel, uneven last
    ((1, 1), (1,), (13,), (1,) * 13),           # one-cell chunks
    ((2,), (1,), (5, 8), (7, 6)),
])
@pytest.mark.parametrize("args", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2, stride=3),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=1, padding=((2, 0), (0, 4)), dilation=2),
    dict(kernel_size=3, stride=2, padding="same"),
])
@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_max_and_avg_with_cut_windows(chunks, args, scheduler):
    x = _data((2, 1, 13, 13), np.float32, 0, nan=True)
    _check("max_pool2d", x, chunks, return_indices=True, scheduler=scheduler, **args)
    if "dilation" not in args:
        _check("avg_pool2d", x, chunks, scheduler=scheduler, **args)
        _check("avg_pool2d", x, chunks, count_include_pad=False, scheduler=scheduler, **args)
    _check("sum_pool2d", _data(x.shape, np.int64, 1), chunks, scheduler=scheduler, **args)


@pytest.mark.parametrize("op", ["global_max_pool2d", "global_avg_pool2d", "global_sum_pool2d"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8, np.bool_])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_ops_as_a_tree(op, dtype, keepdims):
    x = _data((3, 2, 11, 10), dtype, 2)
    kwargs = dict(keepdims=keepdims)
    if dtype == np.bool_:
        x = x > 0
        if op != "global_max_pool2d":  # the same error, before any work
            with pytest.raises(TypeError, match="boolean input is ambiguous"):
                getattr(cd, op)(_chunked(x, 4), **kwargs)
            return
    if op == "global_max_pool2d":
        kwargs["return_indices"] = True
    # 4 x 5 blocks per plane: two tree levels
    _check(op, x, ((2, 1), (2,), (3, 3, 3, 2), (2,) * 5), **kwargs)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_global_float_sums_round_once_over_blocks(dtype):
    # Regression (2026-12-06): each block's float sum was rounded to the input's dtype and
    # the partials added in it, so a float16 plane of three blocks came out several ulps off
    # the in-memory sum (38.5 for 38.47). Partials now stay in float64 and round once: the
    # sum of every plane is the in-memory one but where the float64 sums of two orders round
    # to neighbours (never here: at most one ulp off, checked against the exact sum).
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((4, 3, 10, 6)) * 4).astype(dtype)
    chunks = ((1, 3), (1, 2), (3, 3, 4), (2, 3, 1))
    exact = x.astype(np.float64).sum(axis=(2, 3))
    got = _computed(cd.global_sum_pool2d(_chunked(x, chunks)), "synchronous")
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, cpool.global_sum_pool2d(x))
    np.testing.assert_array_equal(got, exact.astype(dtype))
    # planes in one block: the in-memory kernel's bits (float64 too)
    for whole_planes in (x, x.astype(np.float64) * np.float64(1 + 2**-30)):
        np.testing.assert_array_equal(
            _computed(cd.global_sum_pool2d(_chunked(whole_planes, ((1, 3), (2, 1), (10,), (6,)))),
                      "synchronous"), cpool.global_sum_pool2d(whole_planes))
    # a float16 sum past its range is inf, as in memory (the float64 sum is not)
    big = np.full((1, 1, 4, 4), 6e4, np.float16)
    assert np.isinf(_computed(cd.global_sum_pool2d(_chunked(big, ((1,), (1,), (2, 2), (4,)))),
                              "synchronous")).all()


@pytest.mark.parametrize("op, kwargs", [
    ("adaptive_avg_pool2d", dict(output_size=(0, 3))),
    ("adaptive_max_pool2d", dict(output_size=(3, 0), return_indices=True)),
    ("fractional_max_pool2d", dict(kernel_size=2, output_size=(0, 2), seed=1)),
])
def test_output_size_zero_over_blocks(op, kwargs):
    # An output size of 0 is PyTorch's empty result (2026-12-06), chunked or not.
    x = _data((3, 2, 9, 8), np.float32, 2)
    _check(op, x, ((2, 1), (1, 1), (4, 5), (3, 3, 2)), **kwargs)


def test_global_max_ties_and_nan_positions_over_blocks():
    x = np.zeros((2, 9, 9), np.float32)
    x[0, 1, 7] = x[0, 6, 0] = 5.0        # a tie across blocks: the first in the scan
    x[1, 2, 2] = x[1, 8, 1] = np.nan     # NaNs: the last in the scan
    x[1, 0, 8] = np.inf
    chunks = ((1, 1), (2, 3, 4), (1, 4, 4))
    _check("global_max_pool2d", x, chunks, return_indices=True)
    _check("global_max_pool3d", x[None], ((1,),) + chunks, return_indices=True)
    _check("global_max_pool1d", x, chunks, return_indices=True)


@pytest.mark.parametrize("n", [1, 3])
def test_one_and_three_dimensional_ops(n):
    shape = (2, 3) + (9,) * n
    x = _data(shape, np.float32, 3, nan=True)
    chunks = ((1, 1), (2, 1)) + ((4, 2, 3),) * n
    for op, kwargs in [("max_pool", dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
                       ("avg_pool", dict(kernel_size=2, ceil_mode=True)),
                       ("sum_pool", dict(kernel_size=3, stride=1)),
                       ("global_max_pool", dict(return_indices=True)),
                       ("global_avg_pool", {}), ("adaptive_max_pool", dict(output_size=4)),
                       ("adaptive_avg_pool", dict(output_size=5))]:
        _check(f"{op}{n}d", x, chunks, **kwargs)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("chunks", [((3,), (2,), (12,), (12,)), ((1, 2), (1, 1), (5, 7), (3, 9)),
                                    ((2, 1), (2,), (1,) * 12, (4, 4, 4))])
def test_stochastic_draws_do_not_depend_on_the_chunking(training, chunks):
    x = np.abs(_data((3, 2, 12, 12), np.float32, 4))
    kwargs = dict(kernel_size=3, stride=2, padding=1, training=training, seed=7)
    if training:
        kwargs["return_indices"] = True
    _check("stochastic_pool2d", x, chunks, exact=True, **kwargs)
    _check("stochastic_pool2d", x, chunks, exact=True, scheduler="threads", kernel_size=2,
           training=training, seed=3)


def test_stochastic_channels_last_blocks():
    x = np.abs(_data((2, 10, 9, 3), np.float32, 5))
    _check("stochastic_pool2d", x, ((1, 1), (4, 6), (5, 4), (2, 1)), exact=True, kernel_size=2,
           seed=1, axes=(1, 2), return_indices=True)


@pytest.mark.parametrize("op", ["adaptive_max_pool2d", "adaptive_avg_pool2d"])
@pytest.mark.parametrize("output_size", [(6, 6), (5, None), 1, (4, 7)])
def test_adaptive_ops(op, output_size):
    x = _data((3, 2, 13, 13), np.float32, 6, nan=True)
    kwargs = dict(output_size=output_size)
    if op == "adaptive_max_pool2d":
        kwargs["return_indices"] = True
    _check(op, x, ((2, 1), (1, 1), (5, 8), (13,)), **kwargs)


@pytest.mark.parametrize("n", [2, 3])
def test_fractional_windows_follow_the_planes_not_the_blocks(n):
    x = _data((3, 2) + (11,) * n, np.float32, 7)
    chunks = ((1, 2), (1, 1)) + ((5, 6),) * n
    name = f"fractional_max_pool{n}d"
    _check(name, x, chunks, kernel_size=2, output_ratio=0.7, seed=5, return_indices=True)
    samples = np.random.default_rng(0).random((3, 2, n))
    _check(name, x, chunks, kernel_size=2, output_size=5, random_samples=samples)


def _grad_cases():
    x = _data((2, 3, 12, 12), np.float32, 8)
    v, i = cpool.max_pool2d(x, 3, 2, 1, return_indices=True)
    g = _data(v.shape, np.float32, 9)
    gv, gi = cpool.global_max_pool2d(x, return_indices=True)
    av, ai = cpool.adaptive_max_pool2d(x, 5, return_indices=True)
    return x, [
        ("max_pool2d_backward", (g, i, x.shape), {}),
        ("avg_pool2d_backward", (g, x.shape, 3, 2, 1), dict(count_include_pad=False)),
        ("sum_pool2d_backward", (g, x.shape, 3, 2, 1), {}),
        ("global_max_pool2d_backward", (gv + 1, gi, x.shape), {}),
        ("global_avg_pool2d_backward", (gv, x.shape), {}),
        ("global_sum_pool2d_backward", (gv, x.shape), {}),
        ("adaptive_max_pool2d_backward", (av, ai, x.shape), {}),
        ("adaptive_avg_pool2d_backward", (av, x.shape), {}),
        ("lp_pool2d_backward", (g[..., :5, :5], np.abs(x), 2, 3, 2), {}),
        ("max_unpool2d", (g, i, 3, 2, 1), dict(output_size=(12, 12))),
    ]


@pytest.mark.parametrize("case", range(10))
def test_gradients(case):
    x, cases = _grad_cases()
    name, args, kwargs = cases[case]
    want = getattr(cpool, name)(*args, **kwargs)
    lazy_args = [_chunked(a, tuple((1,) * a.shape[0] if j == 0 else
                                   (max(1, a.shape[j] // 2),) * 2 + ((a.shape[j] % 2,) if
                                                                     a.shape[j] % 2 else ())
                                   for j in range(a.ndim)))
                 if isinstance(a, np.ndarray) else a for a in args]
    got = _computed(getattr(cd, name)(*lazy_args, **kwargs))
    _assert_same(got, want, exact="max" in name)


@pytest.mark.parametrize("forward, backward, kwargs", [
    ("max_pool2d", "max_pool2d_backward", dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool2d", "max_unpool2d", dict(kernel_size=2)),
    ("max_pool1d", "max_pool1d_backward", dict(kernel_size=2, axes=-2)),
    ("max_pool3d", "max_pool3d_backward", dict(kernel_size=2)),
    ("global_max_pool2d", "global_max_pool2d_backward", {}),
    ("adaptive_max_pool2d", "adaptive_max_pool2d_backward", dict(output_size=3)),
    ("fractional_max_pool2d", "fractional_max_pool2d_backward",
     dict(kernel_size=2, output_size=3, seed=1)),
    ("stochastic_pool2d", "stochastic_pool2d_backward", dict(kernel_size=2, seed=1)),
])
def test_gradients_of_the_lazy_forwards_own_results(forward, backward, kwargs):
    """A forward's lazy values and indices go straight into the lazy gradient (or unpooling),
    the graphs joined: each result of a several-result op is a graph layer of its own name
    (the indices' layer was missing, and dask failed with a KeyError on its name)."""
    x = np.abs(_data((2, 3, 8, 8, 6), np.float64, 21))
    n = 3 if "3d" in forward else 2
    if "3d" not in forward:
        x = x[..., 0]
    unpool = {k: v for k, v in kwargs.items() if k in ("kernel_size",)}
    values, indices = getattr(cpool, forward)(x, return_indices=True, **kwargs)
    lazy_values, lazy_indices = getattr(cd, forward)(_chunked(x, (1, 2) + (4,) * n),
                                                     return_indices=True, **kwargs)
    axes = {"axes": kwargs["axes"]} if "axes" in kwargs else {}
    if backward == "max_unpool2d":
        want = cpool.max_unpool2d(values, indices, **unpool)
        got = cd.max_unpool2d(lazy_values, lazy_indices, **unpool)
    else:
        want = getattr(cpool, backward)(values, indices, x.shape, **axes)
        got = getattr(cd, backward)(lazy_values, lazy_indices, x.shape, **axes)
    _assert_same(_computed(got), want, exact=True)


def test_results_are_lazy_and_stream_batch_blocks():
    calls = []

    def produce(block):
        calls.append(block.shape)
        return block

    d = da.ones((8, 4, 16, 16), chunks=(2, 4, 16, 16), dtype=np.float32).map_blocks(
        produce, meta=np.empty((0,) * 4, np.float32))
    y = cd.max_pool2d(cd.avg_pool2d(d, 2), 2)
    assert calls == [] and isinstance(y, da.Array)
    assert y.chunks == ((2, 2, 2, 2), (4,), (4,), (4,))
    np.testing.assert_array_equal(_computed(y), np.ones((8, 4, 4, 4), np.float32))
    assert len(calls) == 4


def test_argument_errors_come_before_any_work():
    d = da.zeros((2, 3, 8, 8), chunks=4)
    with pytest.raises(ValueError, match="kernel_size"):
        cd.max_pool2d(d, 0)
    with pytest.raises(ValueError, match="padding"):
        cd.avg_pool2d(d, 2, padding=3)
    with pytest.raises(TypeError, match="dtype"):
        cd.max_pool2d(da.zeros((4, 4), dtype=complex), 2)
    with pytest.raises(ValueError, match="axes"):
        cd.max_pool2d(d, 2, axes=(1, 1))
    with pytest.raises(TypeError, match="x"):
        cd.max_pool2d([[1.0]], 1)
    unknown = da.from_array(np.ones((6, 4, 4)), chunks=2)
    unknown = unknown[unknown[:, 0, 0] > 0]  # chunk sizes unknown until computed
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        cd.max_pool2d(unknown, 2)
    with pytest.raises(ValueError, match="non-negative"):
        _computed(cd.stochastic_pool2d(-da.ones((4, 4), chunks=2), 2, seed=0))
    # An argument the op does not take, or one too many: named with the function.
    with pytest.raises(TypeError, match=r"^cpool.dask.max_pool2d: got an unexpected keyword "
                                        r"argument 'out'"):
        cd.max_pool2d(d, 2, out=np.empty((2, 3, 4, 4)))
    with pytest.raises(TypeError, match=r"^cpool.dask.global_avg_pool2d: too many"):
        cd.global_avg_pool2d(d, True, (2, 3), 1, 2)
    # A NumPy masked array: the in-memory ops' error; without masked elements, its data.
    x = np.ma.masked_less(_data((2, 8, 8), np.float32, 3), 0)
    with pytest.raises(ValueError, match=r"^cpool.dask.max_pool2d: `x` is a masked array"):
        cd.max_pool2d(x, 2)
    np.testing.assert_array_equal(_computed(cd.max_pool2d(np.ma.masked_array(x.data), 2)),
                                  cpool.max_pool2d(x.data, 2))


def test_numpy_inputs_and_unbatched_arrays():
    x = _data((9, 10), np.float32, 10)
    _assert_same(_computed(cd.max_pool2d(x, 3, 2, return_indices=True)),
                 cpool.max_pool2d(x, 3, 2, return_indices=True), True)
    _check("global_avg_pool2d", x, ((4, 5), (3, 7)))
    _check("adaptive_avg_pool2d", x, ((4, 5), (3, 7)), output_size=3)


def test_import_cpool_does_not_import_dask():
    code = "import sys, cpool; assert 'dask' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_on_a_local_cluster_of_processes():
    distributed = pytest.importorskip("distributed")
    x = _data((4, 3, 20, 18), np.float32, 11)
    d = _chunked(x, ((1, 3), (3,), (7, 13), (9, 9)))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        v, i = cd.max_pool2d(d, 3, 2, 1, return_indices=True)
        s = cd.stochastic_pool2d(abs(d), 2, seed=3)
        g = cd.global_avg_pool2d(d)
        # With a deadline: a cluster that loses its workers must fail the test, not hang.
        got = [f.result(timeout=120) for f in client.compute([v, i, s, g])]
    want = [*cpool.max_pool2d(x, 3, 2, 1, return_indices=True),
            cpool.stochastic_pool2d(np.abs(x), 2, seed=3), cpool.global_avg_pool2d(x)]
    for a, b in zip(got[:3], want[:3]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(got[3], want[3], rtol=1e-6)


@st.composite
def _spread_case(draw):
    name, shape, dtype, chunks, kwargs, seed = draw(_windowed_case())
    assume(not name.startswith("max"))
    kwargs.pop("return_indices", None)
    y_shape = getattr(cpool, name)(np.zeros(shape, np.float32), **kwargs).shape
    grad_chunks = tuple(_cuts(draw, m) for m in y_shape)
    dtype = np.float64 if dtype == np.int32 else dtype  # gradients are floating
    return name, shape, dtype, chunks, grad_chunks, kwargs, seed


@given(_spread_case())
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
def test_windowed_gradients_over_chunked_planes(case):
    """avg/sum/LP gradients whose pooled axes are chunked: each gradient block from the outputs
    whose windows reach it (LP: in x's chunks; else in blocks the gradient's chunks imply)."""
    name, shape, dtype, chunks, grad_chunks, kwargs, seed = case
    x = np.abs(_data(shape, dtype, seed))
    y = getattr(cpool, name)(x, **kwargs)
    g = _data(y.shape, dtype, seed + 1)
    backward = f"{name}_backward"
    if name.startswith("lp"):
        p, rest = kwargs["norm_type"], {k: v for k, v in kwargs.items() if k != "norm_type"}
        want = getattr(cpool, backward)(g, x, p, **rest)
        lazy = getattr(cd, backward)(_chunked(g, grad_chunks), _chunked(x, chunks), p, **rest)
        assert lazy.chunks == _chunked(x, chunks).chunks
    else:
        want = getattr(cpool, backward)(g, x.shape, **kwargs)
        lazy = getattr(cd, backward)(_chunked(g, grad_chunks), x.shape, **kwargs)
    _assert_same(_computed(lazy), want, exact=False)


@st.composite
def _stochastic_case(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    sizes = tuple(max(draw(st.integers(1, 14)), k) for k in kernel)
    channels_last = draw(st.booleans())
    batch = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    shape = batch[:1] + sizes + batch[1:] if channels_last else batch + sizes
    axes = (1, 2) if channels_last else (-2, -1)
    chunks = tuple(_cuts(draw, m) for m in shape)
    training = draw(st.booleans())
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, axes=axes,
                  ceil_mode=draw(st.booleans()), training=training,
                  seed=draw(st.integers(0, 2**63 - 1)))
    if training:
        kwargs["return_indices"] = draw(st.booleans())
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return shape, dtype, chunks, kwargs, draw(st.integers(0, 2**31))


@given(_stochastic_case())
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_stochastic_draws_for_any_chunking(case):
    """The same draws (and indices) as in memory whatever the blocks: each output's draw comes
    from its position in the whole output."""
    shape, dtype, chunks, kwargs, seed = case
    x = np.abs(_data(shape, dtype, seed))
    x[x < 0.5] = 0  # zeros, which are never drawn, and all-zero windows
    _check("stochastic_pool2d", x, chunks, exact=True, **kwargs)


def test_stochastic_without_a_seed_draws_once_for_the_whole_result():
    """seed=None (fresh entropy) or a Generator is drawn from once, when the function is
    called: every block, and every compute, draws with the same key, so values and indices
    computed apart agree, and a Generator in the same state gives the in-memory result."""
    x = np.abs(_data((2, 3, 12, 12), np.float32, 12)) + 0.1
    lazy_v, lazy_i = cd.stochastic_pool2d(_chunked(x, ((1, 1), (3,), (5, 7), (6, 6))), 2,
                                          return_indices=True)
    v = _computed(lazy_v, "threads")
    i = _computed(lazy_i, "threads")
    np.testing.assert_array_equal(v, np.take_along_axis(x.reshape(2, 3, -1),
                                                        i.reshape(2, 3, -1), -1).reshape(v.shape))
    np.testing.assert_array_equal(_computed(lazy_v), v)
    want = cpool.stochastic_pool2d(x, 3, seed=np.random.default_rng(5))
    lazy = cd.stochastic_pool2d(_chunked(x, ((1, 1), (1, 2), (4, 8), (12,))), 3,
                                seed=np.random.default_rng(5))
    np.testing.assert_array_equal(_computed(lazy), want)


@pytest.mark.parametrize("n, sizes, chunked, kwargs", [
    (1, (2,), (1, 1), dict(kernel_size=2, stride=1, padding=((2, 2),), dilation=3)),
    (2, (1, 5), (2, 3), dict(kernel_size=2, stride=1, padding=1, dilation=2)),
    (3, (1, 1, 5), (2, 3), dict(kernel_size=2, stride=1, padding=1, dilation=2)),
])
def test_indices_of_dilated_windows_with_no_real_cell(n, sizes, chunked, kwargs):
    """A dilated window that only covers padding gives -inf and the index -1 (no cell), which a
    block's positions keep as they become the whole plane's (found by hypothesis, when such
    a window had its first tap's position, PyTorch's, which a block could not decode)."""
    name = f"max_pool{n}d"
    x = _data((1, 2) + sizes, np.float32, 13)
    values, _ = getattr(cpool, name)(x, return_indices=True, **kwargs)
    assert np.isneginf(values).any()  # the case is there
    spatial = tuple((m,) for m in sizes[:-1]) + (chunked,)
    _check(name, x, ((1,), (1, 1)) + spatial, return_indices=True, **kwargs)
    y = np.moveaxis(x, 1, -1)  # channels-last, the layout of the case hypothesis found
    _check(name, y, ((1,),) + spatial + ((1, 1),), axes=tuple(range(1, 1 + n)),
           return_indices=True, **kwargs)


@pytest.mark.parametrize("op, kwargs", [
    ("global_max_pool2d", dict(return_indices=True)), ("global_avg_pool2d", {}),
    ("global_sum_pool2d", {}), ("max_pool2d", dict(kernel_size=2, return_indices=True)),
    ("avg_pool2d", dict(kernel_size=3, stride=1, padding=1)),
])
def test_empty_chunks_along_pooled_axes(op, kwargs):
    """Zero-size chunks (left by slicing) along the pooled axes add nothing; a global max of
    an empty block alone would be an error."""
    x = _data((2, 3, 6, 5), np.float32, 14)
    _check(op, x, ((2,), (3,), (2, 0, 4), (0, 5, 0)), **kwargs)


@pytest.mark.parametrize("op, shape, chunks, kwargs", [
    ("max_pool2d", (3, 5, 9, 8), ((2, 1), (5,), (4, 5), (8,)),
     dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
    ("avg_pool2d", (3, 5, 9, 8), ((3,), (2, 3), (9,), (3, 5)),
     dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
    ("sum_pool2d", (2, 7, 6, 6), ((2,), (7,), (6,), (6,)), dict(kernel_size=2)),
    ("lp_pool2d", (2, 7, 6, 6), ((1, 1), (7,), (6,), (6,)), dict(norm_type=2, kernel_size=2)),
    ("max_pool2d", (2, 6, 7, 5), ((2,), (6,), (7,), (5,)), dict(kernel_size=2, axes=(1, 2))),
    ("max_pool1d", (3, 4, 17), ((3,), (4,), (9, 8)), dict(kernel_size=3, stride=2)),
    ("avg_pool3d", (2, 3, 4, 5, 6), ((2,), (3,), (4,), (5,), (6,)), dict(kernel_size=2)),
    ("stochastic_pool2d", (2, 5, 6, 6), ((2,), (5,), (6,), (6,)), dict(kernel_size=2, seed=4)),
    ("global_max_pool2d", (3, 5, 6, 4), ((3,), (5,), (2, 4), (4,)), dict(return_indices=True)),
    ("global_sum_pool2d", (3, 5, 6, 4), ((2, 1), (5,), (6,), (4,)), dict(keepdims=True)),
    ("global_max_pool3d", (2, 3, 4, 5, 6), ((2,), (3,), (4,), (5,), (6,)), {}),
    ("adaptive_max_pool2d", (3, 5, 9, 8), ((2, 1), (5,), (9,), (8,)),
     dict(output_size=(4, 3), return_indices=True)),
    ("adaptive_avg_pool1d", (3, 5, 13), ((3,), (2, 3), (13,)), dict(output_size=5)),
    ("fractional_max_pool2d", (2, 5, 9, 8), ((2,), (5,), (9,), (8,)),
     dict(kernel_size=2, output_ratio=0.6, seed=1)),
])
def test_misaligned_blocks_a_slab_at_a_time(monkeypatch, op, shape, chunks, kwargs):
    """A block whose items are not aligned is pooled a slab of planes at a time through an
    aligned buffer (tiny slabs here: several per outer index, a short last one); every output,
    index and draw is the in-memory result's."""
    monkeypatch.setattr(cd, "_SLAB_BYTES", 3 * shape[-1] * 4)
    x = _data(shape, np.float32, 21)
    if op in ("lp_pool2d", "stochastic_pool2d"):
        x = np.abs(x)
    want = getattr(cpool, op)(x, **kwargs)
    got = _computed(getattr(cd, op)(_chunked(misaligned_copy(x), chunks), **kwargs))
    _assert_same(got, want, exact=True)


def test_misaligned_slabs_cover_every_plane_once(monkeypatch):
    """The slabs' calls: more than one, their inputs aligned, together every plane once, with
    the batch axes an index at a time outside and in runs inside."""
    monkeypatch.setattr(cd, "_SLAB_BYTES", 2 * 5 * 6 * 8)  # two planes
    x = _data((3, 4, 5, 6), np.float64, 22)
    m = misaligned_copy(x)
    seen = []

    def call(block, out=None):
        assert block.flags.aligned
        result = cpool.max_pool2d(block, 2, out=out)
        seen.append(block.copy())
        return result

    got = cd._realigned(call, m, [2, 3])
    assert len(seen) == 3 * 2  # each image in runs of 2, 2 channels
    np.testing.assert_array_equal(np.concatenate([s.reshape(-1, 5, 6) for s in seen]),
                                  x.reshape(-1, 5, 6))
    np.testing.assert_array_equal(got, cpool.max_pool2d(x, 2))
    # An aligned block, or one slab's worth, is one call on the block itself.
    seen.clear()
    np.testing.assert_array_equal(cd._realigned(call, x, [2, 3]), cpool.max_pool2d(x, 2))
    assert len(seen) == 1


def test_whole_plane_tasks_take_slabs_only_where_planes_are_independent(monkeypatch):
    """Adaptive pooling of a misaligned block goes a slab at a time; fractional pooling with a
    seed (its draws depend on each plane's position in the block) takes the whole block."""
    monkeypatch.setattr(cd, "_SLAB_BYTES", 8 * 4)
    x = _data((3, 5, 9, 8), np.float32, 23)
    calls = []

    def adaptive_max_pool2d(*args, **kwargs):
        calls.append(args[0].shape)
        return cpool.adaptive_max_pool2d(*args, **kwargs)

    got = cd._planewise_block(adaptive_max_pool2d, dict(output_size=(4, 3), axes=[2, 3]), ["x"],
                              (9, 8), [2, 3], misaligned_copy(x))
    np.testing.assert_array_equal(got, cpool.adaptive_max_pool2d(x, (4, 3)))
    assert len(calls) == 15
    got = cd._planewise_block(cpool.fractional_max_pool2d,
                              dict(kernel_size=2, output_ratio=0.6, seed=1, axes=[2, 3]), ["x"],
                              (9, 8), [2, 3], misaligned_copy(x))
    np.testing.assert_array_equal(got, cpool.fractional_max_pool2d(x, 2, output_ratio=0.6,
                                                                   seed=1))

"""Fuzzing: random shapes, memory layouts, dtypes, geometry, out= aliasing and thread counts.

Every example checks three things against each other: cpool on the drawn layout, cpool on a
plain C-contiguous copy (bit for bit: the layout must not matter), and the slow NumPy reference
(and PyTorch where it is installed). The input must come back unmodified. The layouts include
what broke before: byte strides off the item size, record fields, negative steps, misaligned
data, broadcast axes, and outputs sharing memory with the input.
"""
import math

import numpy as np
import pytest

import _reference as ref
import cpool
from _helpers import assert_identical, byte_strided, misaligned_copy, record_field
from _helpers import tolerance as _tolerance

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, settings, strategies as st  # noqa: E402

DTYPES = ["float32", "float64", "float16", ">f4", ">f8", "<f2", ">f2", "int8", "uint8", "int16",
          ">i2", "uint16", "int32", "uint32", ">u4", "int64", "uint64"]


# --------------------------------------------------------------------------------- strategies
@st.composite
def values(draw, shape, dtype, specials=True, non_negative=False):
    """Random values of ``dtype``: floats with ties, signed zeros, infinities and NaNs."""
    dtype = np.dtype(dtype)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        x = rng.standard_normal(shape) * 4
        x = np.round(x * 2) / 2 if draw(st.booleans()) else x  # ties
        if specials and draw(st.booleans()):
            choices = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0])
            mask = rng.random(shape) < 0.1
            x[mask] = rng.choice(choices, mask.sum())
        if non_negative:
            x = np.where(np.isnan(x), 0.0, np.abs(x))
            x[np.isinf(x)] = 1.0
        return x.astype(dtype)
    info = np.iinfo(dtype)
    wide = draw(st.booleans())  # near the type's extremes, or small (ties)
    lo, hi = (info.min, info.max) if wide else (max(info.min, -3), min(info.max, 3))
    return rng.integers(lo, hi, size=shape, endpoint=True, dtype=dtype.newbyteorder("="))\
        .astype(dtype)


@st.composite
def laid_out(draw, base):
    """``base``'s values in a random memory layout (the logical array is always ``base``)."""
    base = np.asarray(base)
    physical = draw(st.sampled_from(["C", "F", "odd_bytes", "record", "misaligned", "wide_last"]))
    reverse = tuple(draw(st.booleans()) for _ in range(base.ndim))
    flip = tuple(slice(None, None, -1) if r else slice(None) for r in reverse)
    stored = base[flip]  # stored reversed, viewed reversed again: negative steps
    if physical == "C":
        a = np.ascontiguousarray(stored)
    elif physical == "F":
        a = np.asfortranarray(stored)
    elif physical == "odd_bytes":
        a = byte_strided(stored, offset=draw(st.integers(0, 7)), extra=draw(st.integers(0, 9)),
                         last=draw(st.sampled_from([None, stored.itemsize + 1, 2 * stored.itemsize + 3])))
    elif physical == "record":
        a = record_field(stored)
    elif physical == "misaligned":
        a = misaligned_copy(stored)
    else:
        wide = np.zeros(stored.shape[:-1] + (2 * stored.shape[-1],), stored.dtype)
        wide[..., ::2] = stored
        a = wide[..., ::2]
    a = a[flip]
    if draw(st.booleans()):
        a.flags.writeable = False
    return a


@st.composite
def batch(draw, max_side=9, lead_max=2):
    H = draw(st.integers(1, max_side))
    W = draw(st.integers(1, max_side))
    lead = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=lead_max)))
    return lead + (H, W)


@st.composite
def geometry(draw, shape, dilation=True, named_padding=True):
    """(kernel, stride, padding, dilation, ceil_mode) that gives a non-empty output."""
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    s = draw(st.sampled_from([None, 1, 2, 3, (draw(st.integers(1, 4)), draw(st.integers(1, 4)))]))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    c = draw(st.booleans())
    p = draw(st.sampled_from(["pair", "same", "valid"] if named_padding else ["pair"]))
    if p == "pair":
        p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    if p == "same":
        c = False
    from _helpers import fits

    assume(fits(shape, k, s, p, d, c))
    return k, s, p, d, c


def threads():
    return st.integers(1, 4)


def tolerance(dtype, expected, x=None):
    """The suite's float tolerances, and float16's (results rounded to 11 bits). With the
    input ``x``, the absolute tolerance scales with its values too: a window's float32 sum of
    values near 5 that cancel to -0.006 is off by 2.6e-8, which a scale taken from that one
    result (2e-6 * 0.006) refused (found by the fuzz profile)."""
    if x is not None and np.asarray(x).dtype.kind == "f":
        values = np.abs(np.asarray(x, np.float64))
        values = values[np.isfinite(values)]
        expected = np.append(np.asarray(expected, np.float64).ravel(), values.max(initial=0))
    if np.dtype(dtype).itemsize == 2:
        finite = np.abs(expected[np.isfinite(expected)])
        return 2e-3, 2e-3 * (float(finite.max()) if finite.size else 1.0)
    return _tolerance(dtype, expected)


def native(result):
    """The reference's result(s) in native byte order, as cpool returns them."""
    if isinstance(result, tuple):
        return tuple(native(r) for r in result)
    return result.astype(result.dtype.newbyteorder("="))


def unchanged(a, snapshot):
    """The input's bytes are as they were (NaN-safe)."""
    np.testing.assert_array_equal(np.asarray(a).view(np.uint8) if a.dtype.itemsize == 1 and a.dtype.kind == "b"
                                  else a, snapshot)
    assert np.array_equal(np.isnan(a), np.isnan(snapshot)) if a.dtype.kind == "f" else True


# -------------------------------------------------------------------------------------- tests
@given(st.data())
def test_windowed_ops(data):
    op = data.draw(st.sampled_from(["max", "max_indices", "avg", "sum", "train", "eval"]), "op")
    stochastic = op in ("train", "eval")
    dtype = np.dtype(data.draw(st.sampled_from([d for d in DTYPES if not stochastic
                                                 or np.dtype(d).kind == "f"]), "dtype"))
    if op in ("avg", "sum") and dtype.kind == "f":
        dtype = np.dtype(dtype.byteorder + "f" + str(max(4, dtype.itemsize)))  # float16 sums: fp32 rounding
    shape = data.draw(batch(), "shape")
    k, s, p, d, c = data.draw(geometry(shape, dilation=op in ("max", "max_indices", "sum")), "geometry")
    x = data.draw(values(shape, dtype, specials=op.startswith("max"), non_negative=stochastic), "x")
    xs = data.draw(laid_out(x), "layout")
    snapshot = xs.copy()
    n = data.draw(threads(), "num_threads")
    plain = np.ascontiguousarray(x)
    kwargs = dict(num_threads=n)
    if op in ("max", "max_indices"):
        call = lambda a, **kw: cpool.max_pool2d(a, k, s, p, d, c, return_indices=op == "max_indices", **kw)  # noqa: E731
        v, i = ref.max_pool2d(plain, k, s, p, d, c, return_indices=True)
        expected = native((v, i) if op == "max_indices" else v)
        got = call(xs, **kwargs)
        assert_identical(got, expected) if dtype.kind != "f" or dtype.itemsize != 2 else \
            np.testing.assert_array_equal(got, expected)
    elif op == "avg":
        cip = data.draw(st.booleans(), "count_include_pad")
        over = data.draw(st.sampled_from([None, 1, 3, -2]), "divisor_override")
        call = lambda a, **kw: cpool.avg_pool2d(a, k, s, p, c, cip, over, **kw)  # noqa: E731
        expected = ref.avg_pool2d(plain, k, s, p, c, cip, over)
        got = call(xs, **kwargs)
        np.testing.assert_allclose(got, expected, *tolerance(got.dtype, expected, plain))
    elif op == "sum":
        call = lambda a, **kw: cpool.sum_pool2d(a, k, s, p, d, c, **kw)  # noqa: E731
        expected = ref.sum_pool2d(plain, k, s, p, d, c)
        got = call(xs, **kwargs)
        if dtype.kind == "f":
            np.testing.assert_allclose(got, expected, *tolerance(got.dtype, expected, plain))
        else:
            np.testing.assert_array_equal(got, expected)
    elif op == "train":
        seed = data.draw(st.integers(0, 2**63), "seed")
        call = lambda a, **kw: cpool.stochastic_pool2d(a, k, s, p, seed=seed, return_indices=True, ceil_mode=c, **kw)  # noqa: E731
        got = call(xs, **kwargs)
        if dtype.itemsize > 2:
            assert_identical(got, native(ref.stochastic_pool2d(plain, k, s, p, True,
                                                               ref.stochastic_key(seed), c)))
    else:
        call = lambda a, **kw: cpool.stochastic_pool2d(a, k, s, p, training=False, ceil_mode=c, **kw)  # noqa: E731
        got = call(xs, **kwargs)
        expected = ref.stochastic_pool2d(plain, k, s, p, training=False, ceil_mode=c)
        np.testing.assert_allclose(got, expected, *tolerance(got.dtype, expected, plain))
    assert_identical(got, call(plain, num_threads=1))  # the layout and thread count do not matter
    unchanged(xs, snapshot)


@given(st.data())
def test_global_ops(data):
    op = data.draw(st.sampled_from(["max", "avg", "sum"]), "op")
    dtype = np.dtype(data.draw(st.sampled_from(DTYPES), "dtype"))
    shape = data.draw(batch(max_side=40), "shape")
    x = data.draw(values(shape, dtype, specials=op == "max"), "x")
    xs = data.draw(laid_out(x), "layout")
    snapshot = xs.copy()
    keepdims = data.draw(st.booleans(), "keepdims")
    n = data.draw(threads(), "num_threads")
    plain = np.ascontiguousarray(x)
    if op == "max":
        call = lambda a, **kw: cpool.global_max_pool2d(a, keepdims, True, **kw)  # noqa: E731
        got = call(xs, num_threads=n)
        expected = native(ref.global_max_pool2d(plain, keepdims, return_indices=True))
        if dtype.itemsize != 2 or dtype.kind != "f":
            assert_identical(got, expected)
    else:
        fn = cpool.global_avg_pool2d if op == "avg" else cpool.global_sum_pool2d
        call = lambda a, **kw: fn(a, keepdims, **kw)  # noqa: E731
        got = call(xs, num_threads=n)
        expected = (ref.global_avg_pool2d if op == "avg" else ref.global_sum_pool2d)(plain, keepdims)
        if dtype.kind == "f" or op == "avg":
            np.testing.assert_allclose(got, expected, *tolerance(got.dtype, expected))
        else:
            np.testing.assert_array_equal(got, expected)
    assert_identical(got, call(plain, num_threads=1))
    unchanged(xs, snapshot)


@given(st.data())
def test_gradients(data):
    op = data.draw(st.sampled_from(["max", "unpool", "avg", "sum"]), "op")
    dtype = np.dtype(data.draw(st.sampled_from(["float32", "float64", ">f8", "float16"]), "dtype"))
    shape = data.draw(batch(lead_max=1).filter(lambda sh: all(n > 0 for n in sh)), "shape")
    k, s, p, d, c = data.draw(geometry(shape, dilation=op in ("max", "sum")), "geometry")
    n = data.draw(threads(), "num_threads")
    x = data.draw(values(shape, np.float64, specials=False), "x")
    y, idx = ref.max_pool2d(x, k, s, p, d, c, return_indices=True)
    g = data.draw(values(y.shape, dtype, specials=False), "grad")
    gs = data.draw(laid_out(g), "grad layout")
    idx_s = data.draw(laid_out(idx), "indices layout")
    # Dilated windows with no real cell have the index -1, which the scatters skip.
    outside = int(np.sum(idx == -1))
    if op == "max":
        call = lambda a, i, **kw: cpool.max_pool2d_backward(a, i, shape, **kw)  # noqa: E731
        # float16 gradients are added in float32 (as the sums' below): a float16 reference
        # rounds each partial sum, and under cancellation (twelve outputs on one cell, partial
        # sums near 11 for a total of 1.37) it drifted 0.012 from the float32 result.
        expected = ref.scatter(g.astype(np.float32) if dtype.itemsize == 2 else g, idx, shape)
    elif op == "unpool":
        assume(p != "same" and p != "valid" and d == (1, 1) and not outside)
        size = shape[-2:]
        call = lambda a, i, **kw: cpool.max_unpool2d(a, i, k, s, p, output_size=size, **kw)  # noqa: E731
        try:
            expected = ref.scatter(g, idx, shape, accumulate=False)
            call(g, idx)
        except ValueError:  # output_size outside PyTorch's range for this geometry
            assume(False)
    else:
        avg = (data.draw(st.booleans(), "count_include_pad"), None) if op == "avg" else None
        fn = cpool.avg_pool2d_backward if op == "avg" else cpool.sum_pool2d_backward
        extra = dict(count_include_pad=avg[0]) if avg else dict(dilation=d)
        call = lambda a, i, **kw: fn(a, shape, k, s, p, ceil_mode=c, **extra, **kw)  # noqa: E731
        expected = ref.window_sum_backward(g.astype(np.float32) if dtype.itemsize == 2 else g,
                                           shape, k, s, p, d, c, avg)
    got = call(gs, idx_s, num_threads=n)
    np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64),
                               *tolerance(dtype, expected.astype(np.float64)))
    assert_identical(got, call(np.ascontiguousarray(g), idx, num_threads=1))


@given(st.data())
def test_out_sharing_memory_with_the_input(data):
    # out= anywhere in a byte buffer that also holds the input (overlapping it, or not, or
    # misaligned): the result is what a fresh array holds, and it is returned.
    op = data.draw(st.sampled_from(["max", "avg", "sum", "gmax", "gsum", "train"]), "op")
    dtype = np.dtype(data.draw(st.sampled_from(["float32", "float64", "int16", "uint8"]), "dtype"))
    if op == "train" and dtype.kind != "f":
        dtype = np.dtype("float32")
    shape = data.draw(batch(lead_max=1), "shape")
    k, s, p, d, c = data.draw(geometry(shape, dilation=False), "geometry")
    x = data.draw(values(shape, dtype, specials=False, non_negative=op == "train"), "x")
    call = {
        "max": lambda a, **kw: cpool.max_pool2d(a, k, s, p, 1, c, **kw),
        "avg": lambda a, **kw: cpool.avg_pool2d(a, k, s, p, c, **kw),
        "sum": lambda a, **kw: cpool.sum_pool2d(a, k, s, p, 1, c, **kw),
        "gmax": lambda a, **kw: cpool.global_max_pool2d(a, **kw),
        "gsum": lambda a, **kw: cpool.global_sum_pool2d(a, **kw),
        "train": lambda a, **kw: cpool.stochastic_pool2d(a, k, s, p, seed=3, ceil_mode=c, **kw),
    }[op]
    expected = call(x)
    buf = np.zeros(x.nbytes + expected.nbytes + 16, np.uint8)
    x_at = data.draw(st.integers(0, expected.nbytes + 8), "input offset")
    out_at = data.draw(st.integers(0, x.nbytes + 8), "out offset")
    xb = np.ndarray(x.shape, x.dtype, buffer=buf, offset=x_at)
    xb[...] = x
    out = np.ndarray(expected.shape, expected.dtype, buffer=buf, offset=out_at)
    res = call(xb, out=out, num_threads=data.draw(threads(), "num_threads"))
    assert res is out
    assert_identical(res, expected)


@given(st.data())
def test_torch_parity(data):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    op = data.draw(st.sampled_from(["max", "avg"]), "op")
    dtype = np.dtype(data.draw(st.sampled_from(["float32", "float64"]), "dtype"))
    shape = data.draw(batch(lead_max=0), "shape")
    k, s, p, d, c = data.draw(geometry(shape, dilation=op == "max", named_padding=False), "geometry")
    x = data.draw(values((2, 3) + shape, dtype, specials=op == "max"), "x")
    t = torch.from_numpy(x)
    if op == "max":
        tv, ti = F.max_pool2d(t, k, s, p, d, ceil_mode=c, return_indices=True)
        v, i = cpool.max_pool2d(x, k, s, p, d, c, return_indices=True)
        np.testing.assert_array_equal(v.view(f"u{dtype.itemsize}"), tv.numpy().view(f"u{dtype.itemsize}"))
        _, want_i = ref.max_pool2d(x, k, s, p, d, c, return_indices=True)
        np.testing.assert_array_equal(i, ref.no_cell_as_torch_gives(ti.numpy(), want_i))
    else:
        cip = data.draw(st.booleans(), "count_include_pad")
        over = data.draw(st.sampled_from([None, 2, 5]), "divisor_override")
        want = F.avg_pool2d(t, k, s, p, c, cip, over).numpy()
        got = cpool.avg_pool2d(x, k, s, p, c, cip, over)
        np.testing.assert_allclose(got, want, *tolerance(dtype, want))


@given(st.data())
def test_one_and_three_d_ops(data):
    """1-D and 3-D max (with indices), avg (with dilation) and sum against the N-D reference,
    in a random layout (any spatial axes order, channels last, odd strides) and thread count;
    every padding form (symmetric, per side, 'same', 'same_lower', 'valid')."""
    n = data.draw(st.sampled_from([1, 3]), "n")
    op = data.draw(st.sampled_from(["max", "avg", "sum"]), "op")
    dtype = np.dtype(data.draw(st.sampled_from(["float32", "float64", "int16", "uint8", ">f8"]),
                               "dtype"))
    sizes = tuple(data.draw(st.integers(1, 7 if n == 3 else 12)) for _ in range(n))
    lead = tuple(data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    k = tuple(data.draw(st.integers(1, 4)) for _ in range(n))
    s = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
    form = data.draw(st.sampled_from(["sym", "sides", "same", "same_lower", "valid"]))
    c = form in ("sym", "sides") and data.draw(st.booleans())
    if form == "sym":
        p = tuple(data.draw(st.integers(0, ki // 2)) for ki in k)
    elif form == "sides":
        p = tuple((data.draw(st.integers(0, di * (ki - 1))),
                   data.draw(st.integers(0, di * (ki - 1)))) for ki, di in zip(k, d))
    else:
        p = form
    *_, outs = ref.nd_geometry(sizes, k, s, p, d, c)
    assume(min(outs) >= 1)
    base = data.draw(values(lead + sizes, dtype, specials=op == "max"), "x")
    # Spatial axes anywhere: a permutation of the array's axes, or the channels moved last.
    order = data.draw(st.permutations(range(base.ndim)), "order")
    x = data.draw(laid_out(np.transpose(base, order)), "layout")
    axes = tuple(int(np.argsort(order)[a]) for a in range(len(lead), base.ndim))
    snapshot = x.copy()
    nt = data.draw(threads(), "threads")
    fn = getattr(cpool, f"{op}_pool{n}d")
    if op == "max":
        got = fn(x, k, s, p, d, c, return_indices=True, axes=axes, num_threads=nt)
        want = ref.pool_nd(base.astype(base.dtype.newbyteorder("=")), n, "max", k, s, p, d, c,
                           return_indices=True)
        got = tuple(np.transpose(g, np.argsort(order)) for g in got)  # back to base's order
        assert_identical(tuple(np.ascontiguousarray(g) for g in got), native(want))
    else:
        kw = dict(dilation=d) if op == "avg" else {}
        args = (k, s, p, c, False) if op == "avg" else (k, s, p, d, c)
        got = np.transpose(fn(x, *args, axes=axes, num_threads=nt, **kw), np.argsort(order))
        want = ref.pool_nd(base, n, op, k, s, p, d, c, False)
        if op == "sum" and dtype.kind in "iu":
            assert_identical(np.ascontiguousarray(got), want)
        else:
            np.testing.assert_allclose(got, want, *tolerance(got.dtype, want))
    unchanged(x, snapshot)


# Shapes large enough that the calls run several threads and split images into tasks (up to
# 2.4 M values; channels-last images of 64 to 300 channels split into channel blocks). The
# small shapes above mostly run one thread: a race in the channels-last global kernels
# (fcdc1a3) gave wrong sums at two threads and passed every test above.
_LARGE_OPS = {
    "max": lambda x, n, **kw: getattr(cpool, f"max_pool{n}d")(x, 3, 2, 1, return_indices=True,
                                                               **kw),
    "avg": lambda x, n, **kw: getattr(cpool, f"avg_pool{n}d")(x, 2, **kw),
    "sum": lambda x, n, **kw: getattr(cpool, f"sum_pool{n}d")(x, 3, 1, 1, **kw),
    "global_max": lambda x, n, **kw: getattr(cpool, f"global_max_pool{n}d")(
        x, return_indices=True, **kw),
    "global_avg": lambda x, n, **kw: getattr(cpool, f"global_avg_pool{n}d")(x, **kw),
    "global_sum": lambda x, n, **kw: getattr(cpool, f"global_sum_pool{n}d")(x, **kw),
    "adaptive_max": lambda x, n, **kw: getattr(cpool, f"adaptive_max_pool{n}d")(
        x, 5, True, **kw),
    "adaptive_avg": lambda x, n, **kw: getattr(cpool, f"adaptive_avg_pool{n}d")(x, 3, **kw),
}


@settings(max_examples=max(200, settings().max_examples))  # milliseconds an example
@given(st.data())
def test_large_inputs_on_many_threads_and_layouts(data):
    """Every result equals one thread's on the C-contiguous array, bit for bit, whatever the
    thread count (2 to 16, more than this machine's cores) and the layout; channels-last and
    channels-first inputs agree (bit for bit where the op is exact)."""
    n = data.draw(st.sampled_from([1, 2, 3]), "n")
    name = data.draw(st.sampled_from(sorted(_LARGE_OPS)), "op")
    dtype = np.dtype(data.draw(st.sampled_from(["float32", "float64", "int32", "uint8"]),
                               "dtype"))
    channels = data.draw(st.sampled_from([3, 64, 65, 130, 256, 300]), "channels")
    images = data.draw(st.integers(1, 4), "images")
    side = {1: [111, 700, 2000], 2: [7, 17, 33, 48], 3: [3, 9, 14]}[n]
    sizes = tuple(data.draw(st.sampled_from(side)) for _ in range(n))
    assume(images * channels * math.prod(sizes) <= 2_400_000)
    channels_last = data.draw(st.booleans(), "channels_last")
    shape = (images,) + ((*sizes, channels) if channels_last else (channels, *sizes))
    axes = tuple(range(1, n + 1)) if channels_last else tuple(range(-n, 0))
    x = data.draw(values(shape, dtype, specials=name.endswith("max")), "x")
    op = _LARGE_OPS[name]
    want = op(x, n, axes=axes, num_threads=1)
    xs = data.draw(st.sampled_from(["C", "reversed", "slice"]), "layout")
    if xs == "reversed":
        xs = np.ascontiguousarray(x[:, ::-1])[:, ::-1]
    elif xs == "slice":  # a slice of a wider last axis: pixels wider than their channels
        wide = np.zeros(shape[:-1] + (shape[-1] + 3,), dtype)
        wide[..., 1:-2] = x
        xs = wide[..., 1:-2]
    else:
        xs = x
    for nt in data.draw(st.lists(st.integers(2, 16), min_size=1, max_size=3), "threads"):
        assert_identical(op(xs, n, axes=axes, num_threads=nt), want)
    if channels_last:
        first = op(np.ascontiguousarray(np.moveaxis(x, -1, 1)), n, num_threads=2)
        if not name.startswith("global"):
            want = tuple(np.moveaxis(w, -1, 1) for w in want) if isinstance(want, tuple) \
                else np.moveaxis(want, -1, 1)
        if name.endswith("max") or (dtype.kind != "f" and name.endswith("sum")):
            assert_identical(first, tuple(map(np.ascontiguousarray, want))
                             if isinstance(want, tuple) else np.ascontiguousarray(want))
        else:
            np.testing.assert_allclose(first, want, *tolerance(first.dtype, want))

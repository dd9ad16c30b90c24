"""float16 <-> float32 conversions (cpool._kernels._convert): NumPy's bits, every half and every
float32 exponent, tails and offsets; and float16 pooling through them equal to NumPy's casts,
whole or a slab at a time."""
import math

import numpy as np
import pytest

import cpool
from cpool import _api, _validation
from cpool._kernels import _convert
from _helpers import assert_identical

needs_f16c = pytest.mark.skipif(not _convert.f16c_usable, reason="F16C is not usable on this CPU")


def _float32_patterns(rng):
    """Bit patterns over every float32 exponent (normals, subnormals, inf and NaN), both signs:
    the mantissas at float16's rounding edges (the round bit, ties, carries into the exponent)
    and random ones."""
    edges = np.array([0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x400000,
                      0x401000, 0x7fe000, 0x7ff000, 0x7fffff], np.uint32)
    mantissas = np.concatenate([edges, rng.integers(0, 1 << 23, 48, dtype=np.uint32)])
    exponents = np.arange(256, dtype=np.uint32) << 23
    bits = (exponents[:, None] | mantissas[None, :]).ravel()
    return np.concatenate([bits, bits | np.uint32(0x80000000)])


@needs_f16c
def test_widen_gives_numpys_bits_for_every_half():
    halves = np.arange(1 << 16, dtype=np.uint16)
    got = np.empty(halves.size, np.float32)
    _convert.widen(halves, got)
    expected = halves.view(np.float16).astype(np.float32)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


@needs_f16c
def test_narrow_gives_numpys_bits(rng):
    # Every one of the 2**32 patterns was checked once (7 minutes); these cover each exponent.
    values = _float32_patterns(rng).view(np.float32)
    got = np.empty(values.size, np.uint16)
    _convert.narrow(values, got)
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16).view(np.uint16)
    np.testing.assert_array_equal(got, expected)


@needs_f16c

@needs_f16c
@pytest.mark.parametrize("nan_half, nan_float", [(0x7c01, 0x7f800001), (0xfd55, 0xff812345),
                                                 (0x7e00, 0x7fc00000)])
def test_a_nan_in_any_lane_keeps_numpys_bits(rng, nan_half, nan_float):
    # Steps of ordinary values convert by F16C alone, which quiets a signalling NaN where
    # NumPy keeps its bits: a NaN in any lane of a step (16 halves, 8 floats), or in the
    # 8-value step and the tail after them, must send its step the NaN-aware way.
    n = 16 * 2 + 8 + 5
    for position in range(n):
        halves = rng.integers(0, 0x7c00, n, dtype=np.uint16) | rng.integers(0, 2, n, np.uint16) << 15
        halves[position] = nan_half
        wide = np.empty(n, np.float32)
        _convert.widen(halves, wide)
        np.testing.assert_array_equal(wide.view(np.uint32),
                                      halves.view(np.float16).astype(np.float32).view(np.uint32))
        floats = wide.copy()
        floats.view(np.uint32)[position] = nan_float
        narrow = np.empty(n, np.uint16)
        _convert.narrow(floats, narrow)
        np.testing.assert_array_equal(narrow, floats.astype(np.float16).view(np.uint16))

@pytest.mark.parametrize("n", range(0, 18))
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_tails_and_offsets_write_exactly_their_values(rng, n, offset):
    # The last 1-7 values go through a padded vector: nothing past them is written.
    halves = rng.integers(0, 1 << 16, n + offset + 8, dtype=np.uint16)
    wide = np.full(n + offset + 8, -7.0, np.float32)
    _convert.widen(halves[offset:offset + n], wide[offset:offset + n])
    np.testing.assert_array_equal(wide[offset:offset + n].view(np.uint32),
                                  halves[offset:offset + n].view(np.float16).astype(np.float32)
                                  .view(np.uint32))
    assert (wide[:offset] == -7).all() and (wide[offset + n:] == -7).all()
    narrow = np.full(n + offset + 8, 0xABCD, np.uint16)
    _convert.narrow(wide[offset:offset + n], narrow[offset:offset + n])
    np.testing.assert_array_equal(narrow[offset:offset + n], halves[offset:offset + n])
    assert (narrow[:offset] == 0xABCD).all() and (narrow[offset + n:] == 0xABCD).all()


@needs_f16c
def test_lengths_must_match():
    with pytest.raises(ValueError, match="3 values into 4"):
        _convert.widen(np.zeros(3, np.uint16), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="3 values into 2"):
        _convert.narrow(np.zeros(3, np.float32), np.zeros(2, np.uint16))


@pytest.mark.parametrize("simd", [True, False], ids=["AVX2 shuffles", "item by item"])
@pytest.mark.parametrize("item", [np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("threads", [1, 3])
def test_swap_bytes_reverses_every_item(rng, monkeypatch, simd, item, threads):
    """Another byte order into the native one: every item's bytes reversed, at every length
    around the 32-byte steps and their split over threads, from and into unaligned bytes;
    nothing written past the end."""
    if simd and not _convert.f16c_usable:
        pytest.skip("AVX2 is not usable on this CPU")
    monkeypatch.setattr(_convert, "f16c_usable", simd)
    size = np.dtype(item).itemsize
    for n in list(range(0, 40)) + [95, 96, 97, 1000]:
        for offset in (0, 1):
            values = rng.integers(0, np.iinfo(item).max, n, dtype=item, endpoint=True)
            src = np.empty(n * size + offset, np.uint8)[offset:]
            src[:] = values.view(np.uint8)
            dst = np.zeros(n * size + offset + 8, np.uint8)
            _convert.swap_bytes(src, dst[offset:offset + n * size], size, threads)
            np.testing.assert_array_equal(dst[offset:offset + n * size].view(item),
                                          values.byteswap())
            assert not dst[:offset].any() and not dst[offset + n * size:].any()
    with pytest.raises(ValueError, match="items of 3 bytes"):
        _convert.swap_bytes(np.zeros(6, np.uint8), np.zeros(6, np.uint8), 3)
    with pytest.raises(ValueError, match="7 bytes into 8"):
        _convert.swap_bytes(np.zeros(7, np.uint8), np.zeros(8, np.uint8), 2)


def _nan_halves():
    # Quiet and signalling NaNs of both signs, payloads that survive and that do not.
    return np.array([0x7c01, 0x7d55, 0x7e00, 0x7fff, 0xfc01, 0xfe01], np.uint16).view(np.float16)


@pytest.mark.parametrize("f16c", [True, False], ids=["F16C", "NumPy's casts"])
@pytest.mark.parametrize("layout", ["C order", "strided", "channels-last memory"])
def test_float16_pooling_is_float32_pooling_cast(rng, monkeypatch, f16c, layout):
    """Either conversion path, any layout: float16 pooling is the float32 pooling of the
    widened input, narrowed as NumPy narrows it; a NaN's payload comes through a max."""
    if f16c and not _convert.f16c_usable:
        pytest.skip("F16C is not usable on this CPU")
    monkeypatch.setattr(_convert, "f16c_usable", f16c)
    x = rng.standard_normal((2, 8, 12, 20)).astype(np.float16) * np.float16(300)
    x.flat[rng.choice(x.size, 6, replace=False)] = _nan_halves()
    x[0, 0, 0, :4] = np.float16(65504)  # sums past float16's range: inf, silently
    if layout == "strided":
        x = x[:, ::-1, :, 1:]
    elif layout == "channels-last memory":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    before = x.copy()
    wide = x.astype(np.float32)
    for op, args in (("max", (2,)), ("avg", (3, 1, 1)), ("sum", (2,)), ("lp", (1.0, 2)),
                     ("lp", (3.0, 2)), ("lp", (2.0, 3, 1))):
        pool = getattr(cpool, f"{op}_pool2d")
        got = pool(x, *args)
        with np.errstate(over="ignore"):
            expected = pool(wide, *args).astype(np.float16)
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got.view(np.uint16), expected.view(np.uint16))
    values, where = cpool.max_pool2d(x, 2, return_indices=True)
    picked = np.take_along_axis(x.reshape(x.shape[:2] + (-1,)), where.reshape(where.shape[:2] + (-1,)),
                                axis=2).reshape(values.shape)
    np.testing.assert_array_equal(values.view(np.uint16), picked.view(np.uint16))
    grad = cpool.max_pool2d_backward(values, where, x.shape)
    np.testing.assert_array_equal(
        grad.view(np.uint16),
        cpool.max_pool2d_backward(values.astype(np.float32), where, x.shape)
        .astype(np.float16).view(np.uint16))
    np.testing.assert_array_equal(x.view(np.uint16), before.view(np.uint16))


def _half_cases(n):
    """(name, op, args, kwargs) of every forward op family over ``n`` spatial axes that reads a
    float16 input by slabs."""
    d = f"{n}d"
    return [
        ("max", getattr(cpool, f"max_pool{d}"), (2,), {}),
        ("max 3 s1 p1, indices", getattr(cpool, f"max_pool{d}"), (3, 1, 1),
         {"return_indices": True}),
        ("max ceil dilated", getattr(cpool, f"max_pool{d}"), (2, 3), {"dilation": 2,
                                                                      "ceil_mode": True}),
        ("avg 3 s2 p1", getattr(cpool, f"avg_pool{d}"), (3, 2, 1), {}),
        ("avg no pad count", getattr(cpool, f"avg_pool{d}"), (3, 2, 1),
         {"count_include_pad": False}),
        ("sum", getattr(cpool, f"sum_pool{d}"), (2,), {}),
        ("global max, indices", getattr(cpool, f"global_max_pool{d}"), (),
         {"return_indices": True}),
        ("global avg", getattr(cpool, f"global_avg_pool{d}"), (), {}),
        ("global sum", getattr(cpool, f"global_sum_pool{d}"), (), {}),
        ("adaptive avg", getattr(cpool, f"adaptive_avg_pool{d}"), (3,), {}),
        ("adaptive max, indices", getattr(cpool, f"adaptive_max_pool{d}"), (3,),
         {"return_indices": True}),
        ("lp 2", getattr(cpool, f"lp_pool{d}"), (2.0, 2), {}),
        ("lp 3", getattr(cpool, f"lp_pool{d}"), (3.0, 2), {}),
    ] + ([
        # (stochastic pooling samples activations: |x|)
        ("stochastic, indices", _on_magnitudes(cpool.stochastic_pool2d), (2,),
         {"seed": 5, "return_indices": True}),
        ("stochastic 3 s1 p1", _on_magnitudes(cpool.stochastic_pool2d), (3, 1, 1), {"seed": 7}),
        ("stochastic eval", _on_magnitudes(cpool.stochastic_pool2d), (2,), {"training": False}),
    ] if n == 2 else [])


def _on_magnitudes(pool):
    return lambda x, *args, **kwargs: pool(_magnitudes(x), *args, **kwargs)


def _magnitudes(x):
    """|x| in ``x``'s dtype (NumPy's abs returns a byte-swapped array's in native order)."""
    return np.abs(x).astype(x.dtype, copy=False)


def _as_float16(result):
    if isinstance(result, tuple):
        return result[0].astype(np.float16), result[1]
    return result.astype(np.float16)


def _assert_same_sums(got, expected):
    """Bitwise equality but for the NaNs' signs and payloads: a sum of NaNs of both signs
    keeps the one its additions' operand order picks, and the global kernels' four-planes
    step does not add a plane alone (a slab of one plane) in the order it adds four; NaN it
    is either way (float32 calls on one plane and on a batch differ so too)."""
    assert got.dtype == expected.dtype and got.shape == expected.shape
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(got), nan)
    bits = f"u{got.dtype.itemsize}"
    np.testing.assert_array_equal(got[~nan].view(bits), expected[~nan].view(bits))


_SWAPPED_F4 = np.dtype(np.float32).newbyteorder("S")
_SWAPPED_F8 = np.dtype(np.float64).newbyteorder("S")


@pytest.mark.parametrize("dtype", [np.dtype(np.float16), _SWAPPED_F4, _SWAPPED_F8],
                         ids=["float16", "float32 byte-swapped", "float64 byte-swapped"])
@pytest.mark.parametrize("f16c", [True, False], ids=["AVX2 and F16C", "without"])
@pytest.mark.parametrize("units", [0, 2.5], ids=["a plane a slab", "uneven slabs"])
@pytest.mark.parametrize("n, shape, axes", [
    (1, (3, 5, 33), None),
    (2, (3, 5, 9, 11), None),
    (2, (3, 9, 11, 6), (1, 2)),          # channels-last: slabs of whole images
    (3, (3, 4, 5, 7, 9), None),          # slabs of whole volumes (windows span the depth)
    (3, (3, 5, 7, 9, 4), (1, 2, 3)),
])
def test_inputs_by_slabs_are_whole_conversions(rng, monkeypatch, dtype, f16c, units, n, shape,
                                               axes):
    """An input converted a slab of planes at a time (_validation.by_slabs, here with slabs of
    one plane, image or volume, or of 2.5 such units with a shorter last slab) gives every op
    the bits of the op on the whole converted input (float16 widened to float32, the result
    narrowed; another byte order into the native one): values, infinities, the first NaN's
    payload for maxima, indices; at one thread and at three; into a caller's ``out`` too, one
    that is a view of the input's own memory included; the input unchanged. With and without
    the AVX2 conversions (F16C, byte shuffles) and NumPy's casts."""
    if f16c and not _convert.f16c_usable:
        pytest.skip("F16C is not usable on this CPU")
    monkeypatch.setattr(_convert, "f16c_usable", f16c)
    half = dtype == np.float16
    wide_dtype = np.dtype(np.float32) if half else dtype.newbyteorder("=")
    # A unit is what a slab never splits: a plane, a channels-last image, a volume.
    first = len(shape) - n if axes is None else axes[0]
    unit = wide_dtype.itemsize * math.prod(shape[first:])
    monkeypatch.setattr(_validation, "_SLAB_BYTES", int(units * unit) or 4)
    monkeypatch.setattr(_validation, "_WHOLE_COPY_BYTES", 0)  # slabs at any thread count
    slabbed = []
    by_slabs = _validation.by_slabs
    monkeypatch.setattr(_validation, "by_slabs",
                        lambda plan, *a, **k: (slabbed.append(plan.slabs),
                                               by_slabs(plan, *a, **k))[1])
    x = (rng.standard_normal(shape) * 300).astype(dtype)
    x.flat[rng.choice(x.size, 6, replace=False)] = (
        _nan_halves() if half else _nan_halves().astype(wide_dtype))
    x.flat[:4] = np.finfo(dtype).max  # sums past the range: inf, silently
    before = x.copy()
    wide = x.astype(wide_dtype)
    narrowed = _as_float16 if half else (lambda r: r)
    bits = f"u{dtype.itemsize}"
    kw = {} if axes is None else {"axes": axes}
    for name, pool, args, kwargs in _half_cases(n):
        for threads in (1, 3):
            slabbed.clear()
            got = pool(x, *args, num_threads=threads, **kwargs, **kw)
            with np.errstate(over="ignore", invalid="ignore"):
                expected = narrowed(pool(wide, *args, num_threads=threads, **kwargs, **kw))
            if "max" in name or "stochastic" in name:  # picked cells: their own bits
                assert_identical(got, expected)
            else:
                _assert_same_sums(got, expected)
            # LP pools its powers' blocks in the kernel's dtype, but for p = 2 over planes
            # (the kernel squares as it reads).
            if not name.startswith("lp") or (name == "lp 2" and axes is None):
                assert slabbed and all(s.step < s.src.shape[s.axis] for s in slabbed), name
    np.testing.assert_array_equal(x.view(bits), before.view(bits))
    # A caller's ``out``: written a slab at a time, or, where it shares the input's memory,
    # through a whole temporary (a slab's result must not overwrite planes still to be read).
    pool = getattr(cpool, f"max_pool{n}d")
    expected = narrowed(pool(wide, 2, **kw))
    out = np.full(expected.shape, 7, expected.dtype)
    assert pool(x, 2, out=out, **kw) is out
    assert_identical(out, expected)
    memory = x.copy()  # the result over the input's last planes, which slabs read last
    aliased = memory.reshape(-1).view(bits)[-expected.size:].view(expected.dtype)
    if aliased.size == expected.size:  # (a float16 input holds its float16 result)
        aliased = aliased.reshape(expected.shape)
        assert_identical(pool(memory, 2, out=aliased, **kw), expected)
    if n == 2 and axes is None:
        # A block of a larger output (cpool.dask's row and column origins): each slab's
        # planes keep their own origins.
        planes = math.prod(shape[:-2])
        origin = np.arange(planes, dtype=np.int64)[::-1] * 7 + 3
        args = ("stochastic_pool2d", _magnitudes(x), 2, None, 0, True, None, True, (-2, -1),
                None, 1, False)
        slabbed.clear()
        got = _api._stochastic_pool(*args, row_origin=origin, col_origin=5, key=99)
        assert slabbed
        wide_args = args[:1] + (np.abs(wide),) + args[2:]
        expected = narrowed(_api._stochastic_pool(*wide_args, row_origin=origin,
                                                  col_origin=5, key=99))
        assert_identical(got, expected)


@needs_f16c
def test_conversions_into_strided_results():
    """A float16 result the kernel cannot write in place (a caller's ``out`` seen through a
    transposed view) is narrowed into a run, then copied: the same bits."""
    src = np.linspace(-70000, 70000, 3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    dst = np.empty((5, 4, 3), np.float16).transpose(2, 1, 0)
    _validation.cast_into(dst, src)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(dst.view(np.uint16), src.astype(np.float16).view(np.uint16))


# --- layouts: batches of 2-D transposes ------------------------------------------------------

@pytest.mark.parametrize("simd", [True, False], ids=["AVX2 8x8 blocks", "item by item"])
@pytest.mark.parametrize("item", [np.uint8, np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("threads", [1, 3])
def test_transpose_every_edge(rng, monkeypatch, simd, item, threads):
    # Tiles of 32 and blocks of 8: sizes below, at and past them, and 1.
    if simd and not _convert.f16c_usable:
        pytest.skip("AVX2 is not usable on this CPU")
    monkeypatch.setattr(_convert, "f16c_usable", simd)
    for B, R, S in [(1, 1, 1), (2, 8, 8), (1, 7, 9), (3, 33, 65), (2, 64, 32), (1, 100, 3),
                    (2, 5, 300), (4, 40, 41)]:
        src = rng.integers(0, np.iinfo(item).max, (B, R, S), dtype=item, endpoint=True)
        dst = np.zeros((B, S, R), item)
        _convert.transpose(src, dst, threads)
        np.testing.assert_array_equal(dst, src.transpose(0, 2, 1))
    with pytest.raises(ValueError, match=r"transpose: \(2, 3, 4\) into \(2, 3, 4\)"):
        _convert.transpose(np.zeros((2, 3, 4), item), np.zeros((2, 3, 4), item))


@pytest.mark.parametrize("simd", [True, False], ids=["AVX2 8x8 blocks", "item by item"])
@pytest.mark.parametrize("item", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_transpose_of_strided_matrices(rng, monkeypatch, simd, item):
    # Matrices and rows any whole number of items apart, forwards or backwards, the last axes
    # contiguous; nothing outside the destination's view is written.
    if simd and not _convert.f16c_usable:
        pytest.skip("AVX2 is not usable on this CPU")
    monkeypatch.setattr(_convert, "f16c_usable", simd)
    big = rng.integers(0, np.iinfo(item).max, (7, 50, 80), dtype=item, endpoint=True)
    for src in [big[::2, 3:40, 5:38], big[::-3, ::2, 1:70], big[1:4, ::-1, 9:10],
                big[:, 7:47:5, 40:80]]:
        B, R, S = src.shape
        for place in [lambda c: c[1::2, 1:S + 1, 2:R + 2][:B],
                      lambda c: c[::-2, ::-1, 1:R + 1][:B, :S]]:
            canvas = rng.integers(0, np.iinfo(item).max, (2 * B + 1, S + 3, R + 3), dtype=item,
                                  endpoint=True)
            before = canvas.copy()
            _convert.transpose(src, place(canvas))
            np.testing.assert_array_equal(place(canvas), src.transpose(0, 2, 1))
            place(canvas)[...] = place(before)
            np.testing.assert_array_equal(canvas, before)


def _layouts(x):
    """``x`` laid out in memory in other orders: (view, whether a copy of it into C order goes
    by tiled transposes: its items lie next to each other along another axis than W)."""
    def memory(order):
        return np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))
    return [
        (memory((0, 2, 3, 1)), True),     # NHWC memory seen as NCHW
        (memory((2, 3, 0, 1)), True),     # HW first
        (memory((0, 1, 3, 2)), True),     # each plane transposed
        (memory((0, 3, 1, 2)), True),
        (memory((3, 2, 1, 0)), True),     # Fortran order: matrices (W, N), looped over C and H
        (memory((2, 0, 3, 1)), True),     # no two axes merge
        (memory((1, 0, 2, 3)), False),    # rows of W in place: NumPy's copy reads them in order
        (memory((0, 2, 3, 1))[:, :, 1:], True),  # a gap between rows
        (memory((0, 2, 3, 1))[:, :, :, ::-1], True),  # W backwards, C in order
        (np.ascontiguousarray(x)[:, :, :, ::-1], False),  # backwards along the fastest axis
        (np.ascontiguousarray(x[:, :1]).transpose(0, 1, 3, 2), True),  # unit axes left out
    ]


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float16, np.float32, np.int64,
                                   np.float64])
def test_copies_into_c_order_by_transposes(rng, dtype, monkeypatch):
    """_cached_copy (the kernels' input, the gradients' copies) of every layout: the values of
    ``np.ascontiguousarray`` bit for bit, NaN payloads included; layouts to transpose
    recognised (and only they)."""
    monkeypatch.setattr(_validation, "_TILED_COPY_BYTES", 0)
    x = rng.standard_normal((3, 5, 9, 17)) * 100
    x = x.astype(dtype)
    if x.dtype.kind == "f":  # NaNs with every payload bit set, of both signs
        bits = x.view(f"u{x.itemsize}")
        bits.flat[::7] |= np.iinfo(bits.dtype).max >> 1
    for view, batched in _layouts(x):
        plan = _validation._transposing_axes(np.empty(view.shape, view.dtype), view)
        assert (plan is not None) == batched, view.strides
        copy = _validation._cached_copy(view, view.dtype)
        assert copy.flags.c_contiguous
        np.testing.assert_array_equal(copy.view(f"u{x.itemsize}"),
                                      np.ascontiguousarray(view).view(f"u{x.itemsize}"))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_copies_from_c_order_into_transposed_memory(rng, dtype, monkeypatch):
    """cast_into the other way round (a result computed in memory order into a caller's
    C-ordered `out`, seen in that order): C-ordered values into every layout, bit for bit,
    batches of transposes by tiles (and only they)."""
    monkeypatch.setattr(_validation, "_TILED_COPY_BYTES", 0)
    x = (rng.standard_normal((3, 5, 9, 17)) * 100).astype(dtype)
    tiled = []
    real = _convert.transpose
    monkeypatch.setattr(_convert, "transpose", lambda *a: tiled.append(True) or real(*a))
    for (view, batched), (seen, _) in zip(_layouts(x), _layouts(np.zeros_like(x))):
        src = np.ascontiguousarray(view)
        tiled.clear()
        _validation.cast_into(seen, src)
        np.testing.assert_array_equal(seen.view(f"u{x.itemsize}"), src.view(f"u{x.itemsize}"))
        assert bool(tiled) == batched, seen.strides
        assert not np.shares_memory(seen, src)


def test_misaligned_layouts_are_copied_by_numpy(rng):
    """A batch of transposes whose data is off its item size (a record field, a byte offset)
    is not for the tiled transpose, which reads whole items: NumPy copies it, the same values."""
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    raw = np.zeros(x.nbytes + 1, np.uint8)[1:]
    nhwc = raw.view(np.float32).reshape(2, 5, 4, 6)
    nhwc[...] = x.transpose(0, 2, 3, 1)
    view = nhwc.transpose(0, 3, 1, 2)
    assert not view.flags.aligned
    assert _validation._transposing_axes(np.empty(view.shape, view.dtype), view) is None
    np.testing.assert_array_equal(_validation._cached_copy(view, view.dtype), x)
    np.testing.assert_array_equal(cpool.max_pool2d(view, 2), cpool.max_pool2d(x, 2))


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.float64])
def test_pooling_inputs_of_every_layout_past_the_tiles_threshold(rng, dtype, monkeypatch):
    """The ops on inputs large enough for their copies to go by tiles (Fortran order, planes
    transposed, HWCN memory as MATLAB writes it...): the C-ordered input's results, bit for
    bit, with the tiled transpose doing the layouts that need it."""
    x = (rng.standard_normal((4, 6, 33, 70)) * 100).astype(dtype)
    assert x.nbytes >= _validation._TILED_COPY_BYTES
    tiled = []
    real = _convert.transpose
    monkeypatch.setattr(_convert, "transpose", lambda *a: tiled.append(True) or real(*a))

    def ops(a):
        return [cpool.max_pool2d(a, 2), cpool.avg_pool2d(a, 3, 2, 1),
                cpool.max_pool2d(a, (2, 3), return_indices=True)]

    for view, _ in _layouts(x):  # (some are slices or reversals of x: their own C copy's)
        for a, b in zip(ops(view), ops(np.ascontiguousarray(view))):
            assert_identical(a, b)
    expected = ops(x)
    # The layouts no kernel reads in place: copied by tiles (other layouts are read as they
    # are, channels-last memory by the channels-last kernels).
    for order in [(3, 2, 1, 0), (0, 1, 3, 2), (2, 0, 3, 1)]:
        view = np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))
        tiled.clear()
        assert_identical(cpool.max_pool2d(view, 2), expected[0])
        assert tiled, order



hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402


@st.composite
def _layout_of(draw, shape, dtype):
    """A function placing an array of ``shape`` in memory: a random order of the axes, random
    steps (backwards too); it returns (the whole memory, the view)."""
    ndim = len(shape)
    order = draw(st.permutations(range(ndim)))
    steps = [draw(st.sampled_from([1, 1, 2, -1, -2])) for _ in range(ndim)]
    big = tuple(n * abs(s) for n, s in zip(shape, steps))
    seed = draw(st.integers(0, 2**32 - 1))

    def place(values=None):
        memory = np.random.default_rng(seed).integers(0, 100, tuple(big[i] for i in order))
        memory = memory.astype(dtype)
        view = memory.transpose(np.argsort(order))[tuple(slice(None, None, s) for s in steps)]
        if values is not None:
            view[...] = values
        return memory, view
    return place


@st.composite
def _two_layouts(draw):
    ndim = draw(st.integers(1, 5))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from([np.uint8, np.int16, np.float32, np.int64, np.complex128]))
    return draw(_layout_of(shape, dtype)), draw(_layout_of(shape, dtype))


@given(layouts=_two_layouts(), threads=st.sampled_from([1, 2]))
def test_copies_between_any_layouts(layouts, threads):
    """cast_into between any two layouts of one dtype (the tiles' threshold lowered, so that
    these small arrays go by tiles where their layouts call for it): the values, bit for bit,
    and nothing else of the destination's memory written; _cached_copy into C order too."""
    src_place, dst_place = layouts
    _, src = src_place()
    values = np.ascontiguousarray(src)
    saved = _validation._TILED_COPY_BYTES
    _validation._TILED_COPY_BYTES = 0
    try:
        copy = _validation._cached_copy(src, src.dtype, threads=threads)
        memory, dst = dst_place()
        _validation.cast_into(dst, src, threads)
    finally:
        _validation._TILED_COPY_BYTES = saved
    assert copy.flags.c_contiguous
    np.testing.assert_array_equal(copy, values)
    expected, _ = dst_place(values)  # the same memory, written by NumPy
    np.testing.assert_array_equal(memory, expected)


_SLAB_OPS = ("max", "max indices", "avg", "sum", "global avg", "global max indices",
             "adaptive max", "stochastic")


@st.composite
def _slab_calls(draw):
    """A random input of a dtype converted by slabs (float16, byte-swapped float32 or int16),
    a random layout of its memory as one block (C order, or channels-last with ``axes``), a
    forward op with random windows, and a random slab size (in planes' worth of bytes)."""
    n = draw(st.sampled_from([1, 2, 3]))
    spatial = tuple(draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)))
    batch = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    channels_last = draw(st.booleans())
    dtype = draw(st.sampled_from([np.dtype(np.float16), _SWAPPED_F4,
                                  np.dtype(np.int16).newbyteorder("S")]))
    op = draw(st.sampled_from(_SLAB_OPS if n == 2 else _SLAB_OPS[:-1]))
    if dtype.kind == "i" and op == "stochastic":
        op = "max"
    kernel = tuple(draw(st.integers(1, s)) for s in spatial)
    stride = tuple(draw(st.integers(1, 3)) for _ in spatial)
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    ceil_mode = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    slab_units = draw(st.sampled_from([0, 1, 2.5, 7]))
    threads = draw(st.sampled_from([1, 2, 3]))
    return (n, spatial, batch, channels_last, dtype, op, kernel, stride, padding, ceil_mode,
            seed, slab_units, threads)


@given(call=_slab_calls())
def test_slabs_never_change_an_answer(call):
    """Any forward op over an input converted a slab at a time gives the bits of the same op
    on the whole converted input (sums: but for the signs of NaNs, none drawn here), for any
    geometry, slab size, layout and thread count; or raises the same error."""
    (n, spatial, batch, channels_last, dtype, op, kernel, stride, padding, ceil_mode, seed,
     slab_units, threads) = call
    rng = np.random.default_rng(seed)
    shape = batch + spatial + ((3,) if channels_last else ())
    axes = tuple(range(len(batch), len(batch) + n))
    values = rng.standard_normal(shape) * 50
    if op == "stochastic":
        values = np.abs(values)
    x = values.astype(dtype)
    native = np.dtype(np.float32) if dtype == np.float16 else dtype.newbyteorder("=")
    d = f"{n}d"
    window = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
    calls = {
        "max": lambda a: getattr(cpool, f"max_pool{d}")(a, kernel, axes=axes, **window),
        "max indices": lambda a: getattr(cpool, f"max_pool{d}")(
            a, kernel, return_indices=True, axes=axes, **window),
        "avg": lambda a: getattr(cpool, f"avg_pool{d}")(a, kernel, axes=axes, **window),
        "sum": lambda a: getattr(cpool, f"sum_pool{d}")(a, kernel, axes=axes, **window),
        "global avg": lambda a: getattr(cpool, f"global_avg_pool{d}")(a, axes=axes),
        "global max indices": lambda a: getattr(cpool, f"global_max_pool{d}")(
            a, return_indices=True, axes=axes),
        "adaptive max": lambda a: getattr(cpool, f"adaptive_max_pool{d}")(
            a, tuple(max(1, s // 2) for s in spatial), axes=axes),
        "stochastic": lambda a: cpool.stochastic_pool2d(a, kernel, seed=seed, axes=axes,
                                                        **window),
    }
    pool = calls[op]

    def answer(a):
        try:
            return pool(a)
        except ValueError as error:  # windows the geometry refuses: the same message
            return str(error)

    expected = answer(x.astype(native))
    # What a slab never splits: a plane (a row for 1-D), a channels-last image, a volume.
    unit = native.itemsize * math.prod(shape[len(batch):])
    saved = (_validation._SLAB_BYTES, _validation._WHOLE_COPY_BYTES, _validation.by_slabs)
    slabbed = []
    _validation._SLAB_BYTES = max(1, int(slab_units * unit))
    _validation._WHOLE_COPY_BYTES = 0
    _validation.by_slabs = lambda plan, *a, **k: (slabbed.append(plan.slabs),
                                                  saved[2](plan, *a, **k))[1]
    try:
        got = answer(x)
    finally:
        _validation._SLAB_BYTES, _validation._WHOLE_COPY_BYTES, _validation.by_slabs = saved
    if isinstance(expected, str):
        assert got == expected
        return
    # A unit a slab, and two units or more: by slabs (but stochastic pooling of channels-last
    # memory, whose planes it reads moved last: a strided view, or a copy, by the layout).
    if slab_units == 0 and math.prod(batch) > 1 and not (channels_last and op == "stochastic"):
        assert slabbed
    if dtype == np.float16:
        expected = _as_float16(expected)
    assert_identical(got, expected)

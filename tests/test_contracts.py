"""Contracts every public op keeps: layouts, leading axes, out=, threads, input untouched."""
import concurrent.futures
import contextlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import cpool
from _helpers import (OPS, assert_identical, at_page_end, general_path, misaligned_copy,
                      odd_layouts, random_array)

OP_NAMES = sorted(OPS)
SEEDED = {"fractional_max_pool2d"}

# Each contract holds for the default (..., H, W) and for channels-last (N, H, W, C) input.
AXES = [(-2, -1), (1, 2)]
AXES_IDS = ["nchw", "nhwc"]


def _op(name, axes):
    """OPS[name] pooling over ``axes``."""
    op = OPS[name]
    return op if axes == (-2, -1) else (lambda x, **kw: op(x, axes=axes, **kw))


def _shape(nchw, axes):
    """An (N, C, H, W) test shape in the layout ``axes`` reads: (N, H, W, C) for (1, 2)."""
    n, c, h, w = nchw
    return nchw if axes == (-2, -1) else (n, h, w, c)


def _layouts(base):
    """The same logical array in many memory layouts (each equal to `base`)."""
    swapped = base.astype(base.dtype.newbyteorder()) if base.dtype.itemsize > 1 else base.copy()
    readonly = base.copy()
    readonly.flags.writeable = False
    wide = np.zeros(base.shape[:-1] + (base.shape[-1] * 2,), base.dtype)
    wide[..., ::2] = base
    padded_batch = np.zeros((base.shape[0] * 2,) + base.shape[1:], base.dtype)
    padded_batch[::2] = base
    return {
        "fortran": np.asfortranarray(base),
        "byteswapped": swapped,
        "readonly": readonly,
        "strided_last_axis": wide[..., ::2],
        "sliced_batch": padded_batch[::2],
        "transposed_batch": np.ascontiguousarray(base.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3),
        "negative_strides": np.ascontiguousarray(base[:, :, ::-1, ::-1])[:, :, ::-1, ::-1],
        "hw_transposed": np.ascontiguousarray(base.swapaxes(-1, -2)).swapaxes(-1, -2),
        "at_page_end": at_page_end(base),  # a read past the last value crashes
        # Off the item size (record fields, byte strides, misaligned data): the kernels step
        # rows in whole items, so these are read through one aligned copy (they used to be read
        # at the wrong rows).
        **odd_layouts(base),
    }


@pytest.mark.parametrize("axes", AXES, ids=AXES_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int16, np.int32, np.uint64])
@pytest.mark.parametrize("name", OP_NAMES)
def test_every_layout_gives_identical_results(rng, name, dtype, axes):
    op = _op(name, axes)
    base = random_array(rng, _shape((3, 4, 9, 10), axes), dtype)
    expected = op(base)
    for layout, x in _layouts(base).items():
        snapshot = np.array(x, copy=True)
        got = op(x)
        assert_identical(got, expected)
        np.testing.assert_array_equal(np.asarray(x), snapshot, err_msg=f"{layout} input modified")


def test_record_field_reproducer():
    # The review's case: rows 5 bytes apart, a step of 5 // 4 = 1 item read the wrong rows.
    s = np.zeros((5, 1), [("a", "u1"), ("b", "<f4")])
    s["b"][:, 0] = [1, 2, 3, 4, 5]
    assert cpool.global_sum_pool2d(s["b"]) == 15
    np.testing.assert_array_equal(cpool.max_pool2d(s["b"], (2, 1)), [[2], [4]])
    np.testing.assert_array_equal(cpool.avg_pool2d(s["b"], (2, 1)), [[1.5], [3.5]])
    x = np.ndarray((3, 3), np.float32, buffer=np.zeros(64, np.uint8), strides=(13, 4))
    x[...] = np.arange(9).reshape(3, 3)
    assert cpool.global_sum_pool2d(x) == 36
    np.testing.assert_array_equal(cpool.max_pool2d(x, 2, 1), [[4, 5], [7, 8]])


@pytest.mark.parametrize("name", OP_NAMES)
def test_nested_lists(rng, name):
    base = random_array(rng, (2, 3, 9, 10), np.int64)
    assert_identical(OPS[name](base.tolist()), OPS[name](base))


@pytest.mark.parametrize("name", OP_NAMES)
def test_broadcast_input(rng, name):
    op = OPS[name]
    plane = random_array(rng, (1, 1, 9, 10), np.float32)
    x = np.broadcast_to(plane, (4, 3, 9, 10))
    assert_identical(op(x), op(np.ascontiguousarray(x)))


@pytest.mark.parametrize("name", OP_NAMES)
def test_leading_axes(rng, name):
    op = OPS[name]
    x5 = random_array(rng, (2, 3, 4, 9, 10), np.float64)
    full = op(x5)
    per_image = [op(x5[i]) for i in range(2)]
    # A seeded op draws each plane's windows by the plane's place in the batch: image 1 alone
    # is planes 0-11, as image 0 is, where in the batch it is planes 12-23.
    for i in range(1 if name in SEEDED else 2):
        assert_identical(tuple(r[i] for r in full) if isinstance(full, tuple) else full[i], per_image[i])
    hw = op(x5[0, 0, 0])
    chw = op(x5[0, 0, :1])
    assert_identical(tuple(r[0] for r in chw) if isinstance(chw, tuple) else chw[0], hw)


@pytest.mark.parametrize("name", OP_NAMES)
def test_empty_batch(rng, name):
    op = OPS[name]
    x = random_array(rng, (0, 3, 9, 10), np.float32)
    res = op(x)
    for r in res if isinstance(res, tuple) else (res,):
        assert r.shape[:2] == (0, 3) and r.size == 0


@pytest.mark.parametrize("axes", AXES, ids=AXES_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int32])
@pytest.mark.parametrize("name", OP_NAMES)
def test_reads_and_writes_stay_inside_the_arrays(rng, name, dtype, axes):
    """Inputs, and results given as ``out``, that end where a page that cannot be touched
    begins, at row widths the vector paths take (16 to 64 wide, odd widths past a vector):
    a kernel that reads past its input's last value or writes past its result's crashes
    here, where it would go unseen on NumPy's arrays outside a sanitizer run."""
    op = _op(name, axes)
    for nchw in [(2, 3, 16, 64), (1, 2, 7, 33), (2, 2, 28, 28), (1, 1, 4, 17)]:
        x = random_array(rng, _shape(nchw, axes), dtype)
        expected = op(x)
        assert_identical(op(at_page_end(x)), expected)
        if isinstance(expected, tuple):
            out = tuple(at_page_end(np.zeros_like(e)) for e in expected)
        else:
            out = at_page_end(np.zeros_like(expected))
        assert_identical(op(x, out=out), expected)


@pytest.mark.parametrize("kernels", ["avx2", "baseline"])
def test_no_kernel_reads_an_empty_batchs_window_bounds(kernels):
    """Every op and gradient over empty batches (no images or no channels, 1-D to 3-D, both
    layouts, four dtypes, the fast paths' windows) with the inputs and the empty batch's window
    bounds and counts where no byte can be read (tests/_empty_batch_probe.py): a kernel that
    reads one crashes the probe. The AVX2
    stochastic_pool2d(x, 3, 1, 1, training=False) did, deciding its "same" 3x3 before it
    returned for no rows (found by AddressSanitizer through a Dask stand-in)."""
    probe = pathlib.Path(__file__).with_name("_empty_batch_probe.py")
    env = dict(os.environ, CPOOL_KERNELS=kernels)
    done = subprocess.run([sys.executable, "-W", "ignore", str(probe)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert int(done.stdout) > 800  # the calls were made


@pytest.mark.parametrize("make", [np.empty_like, lambda a: misaligned_copy(np.zeros_like(a)),
                                  lambda a: at_page_end(np.zeros_like(a))],
                         ids=["fresh", "misaligned", "at_page_end"])
@pytest.mark.parametrize("axes", AXES, ids=AXES_IDS)
@pytest.mark.parametrize("name", OP_NAMES)
def test_out_is_filled_and_returned(rng, name, make, axes):
    # A misaligned out (one byte off the item size) is written through a temporary.
    op = _op(name, axes)
    x = random_array(rng, _shape((2, 3, 9, 10), axes), np.float32)
    expected = op(x)
    if isinstance(expected, tuple):
        out = (make(expected[0]), make(expected[1]))
        res = op(x, out=out)
        assert res[0] is out[0] and res[1] is out[1]
    else:
        out = make(expected)
        res = op(x, out=out)
        assert res is out
    assert_identical(res, expected)


def test_out_overlapping_input_is_handled(rng):
    x = random_array(rng, (3, 6, 6), np.float64)
    expected = cpool.sum_pool2d(x, 3, 1, 1)
    res = cpool.sum_pool2d(x, 3, 1, 1, out=x)
    assert res is x
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("axes", AXES, ids=AXES_IDS)
@pytest.mark.parametrize("name", OP_NAMES)
def test_out_sharing_memory_with_the_input_gives_the_fresh_answer(rng, name, axes):
    # NumPy's rule for out=: the result is as if computed into a fresh array, whatever part of
    # the input the output covers (the kernel then writes a temporary that is copied over).
    op = _op(name, axes)
    x = random_array(rng, _shape((2, 3, 9, 10), axes), np.float64)
    expected = op(x)
    first = expected[0] if isinstance(expected, tuple) else expected
    if first.dtype == x.dtype:
        for start in (0, 7, x.size // 2, x.size - 1):
            buf = np.concatenate([x.ravel(), np.zeros(first.size)])  # the input, then room
            values = buf[start:start + first.size].reshape(first.shape)
            out = (values, np.empty_like(expected[1])) if isinstance(expected, tuple) else values
            res = op(buf[:x.size].reshape(x.shape), out=out)
            assert_identical(res, expected)
    if isinstance(expected, tuple):  # the indices output sharing the input's memory
        buf = x.view(np.int64).copy()
        idx = buf.reshape(-1)[:first.size].reshape(first.shape)
        assert_identical(op(buf.view(np.float64), out=(np.empty_like(first), idx)), expected)


@pytest.mark.parametrize("name", ["max_pool2d_indices", "global_max_pool2d", "stochastic"])
def test_out_values_overlapping_out_indices_is_an_error(rng, name):
    op = OPS.get(name) or (lambda x, **kw: cpool.stochastic_pool2d(x, 2, seed=1, return_indices=True, **kw))
    x = np.abs(random_array(rng, (2, 3, 9, 10), np.float64))
    values, indices = op(x)
    buf = np.zeros(2 * values.size, np.int64)
    v = buf[:values.size].view(np.float64).reshape(values.shape)
    for i in (buf[:values.size], buf[values.size // 2:][:values.size], buf[values.size - 1:][:values.size]):
        with pytest.raises(ValueError, match=r": the arrays in `out` overlap in memory"):
            op(x, out=(v, i.reshape(values.shape)))
    with pytest.raises(ValueError, match=r"`out` overlap"):
        op(x, out=(v, v.view(np.int64)))
    # Adjacent, not overlapping: fine.
    i = buf[values.size:].reshape(values.shape)
    assert_identical(op(x, out=(v, i)), (values, indices))


@pytest.mark.parametrize("axes", AXES, ids=AXES_IDS)
@pytest.mark.parametrize("name", OP_NAMES)
def test_big_endian_float16(rng, name, axes):
    # '>f2' is float16 in the other byte order: accepted like '>f4' (it used to be rejected).
    op = _op(name, axes)
    x = random_array(rng, _shape((2, 3, 9, 10), axes), np.float16)
    assert_identical(op(x.astype(">f2")), op(x))


# Results past the result dtype's range: float16 sums of 60000s, and LP's powers past
# float64's. Each is inf, PyTorch's result, with no warning: the suite turns warnings into
# errors (pyproject.toml), as a user's `-W error` does. The kernels overflow silently in
# float32, and the cast of their float32 result to float16 warned.
OVERFLOWING = {
    "sum_pool2d": lambda x: cpool.sum_pool2d(x, 2),
    "sum_pool2d_nhwc": lambda x: cpool.sum_pool2d(x, 2, axes=(0, 1)),
    "sum_pool1d": lambda x: cpool.sum_pool1d(x, 2),
    "sum_pool3d": lambda x: cpool.sum_pool3d(x[None], (1, 2, 2)),
    "avg_pool2d_divisor_1": lambda x: cpool.avg_pool2d(x, 2, divisor_override=1),
    "global_sum_pool2d": lambda x: cpool.global_sum_pool2d(x),
    "lp_pool2d_p1": lambda x: cpool.lp_pool2d(x, 1, 2),
    "lp_pool2d_p2": lambda x: cpool.lp_pool2d(x, 2, 2),
    "lp_pool2d_p3": lambda x: cpool.lp_pool2d(x, 3, 2),
    "lp_pool2d_p0.5_float64": lambda x: cpool.lp_pool2d(np.full(x.shape, 1e308), 0.5, 2),
    "sum_pool2d_backward": lambda x: cpool.sum_pool2d_backward(x[:3, :3], x.shape, 2, stride=1),
}


@pytest.mark.parametrize("name", sorted(OVERFLOWING))
def test_overflow_to_inf_does_not_warn(name):
    x = np.full((4, 4), 60000, np.float16)
    result = OVERFLOWING[name](x)
    assert np.isinf(result).any() and not np.isnan(result).any()


# Sums as PyTorch makes them, from a +0 start: a window of -0s sums (and averages) to +0,
# and so does every gradient a window of -0 gradients spreads (PyTorch adds them to a zeroed
# gradient). A sum that starts from its first term stays -0 there; float results are compared
# to a tolerance, so only this test sees the sign. Each kernel path that sums: 2x2 tiles
# (small planes, rows of 2 KB, rows read upper-first), stride-1 rows, dilated windows, padded
# and partial windows, channels-last pixels narrower and wider than a vector, 1-D rows reduced
# in place, 3-D windows, adaptive windows, and each backward path (2x2 tiles, stride-1
# gather, the general scatter). Global avg backward is left out: PyTorch's
# (adaptive_avg_pool2d to 1, i.e. mean) keeps -0 there, and so does cpool's. Gradients are
# divided before they are summed, so the backward cases sum or divide exactly (a sum of
# rounded ninths can leave a residual that float16 rounds to -0, a nonzero sum's sign).
ZERO_SUMS = {
    "avg_2x2_small_planes": lambda x: cpool.avg_pool2d(x[..., :12, :14], 2),
    "avg_2x2": lambda x: cpool.avg_pool2d(x, 2),
    "avg_2x2_upper_row_first": lambda x: cpool.avg_pool2d(x[..., :8, :256], 2),
    "sum_2x2": lambda x: cpool.sum_pool2d(x, 2),
    "avg_3x3_s1_p1": lambda x: cpool.avg_pool2d(x, 3, 1, 1),
    "avg_3x3_s2_p1_ceil": lambda x: cpool.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
    "avg_3x3_s2_p1_small_planes": lambda x: cpool.avg_pool2d(x[..., :12, :14], 3, 2, 1),
    "avg_divisor_override": lambda x: cpool.avg_pool2d(x, 2, divisor_override=3),
    "sum_dilated": lambda x: cpool.sum_pool2d(x, 2, 1, 1, dilation=2),
    "sum_dilated_small_planes": lambda x: cpool.sum_pool2d(x[..., :12, :14], 2, 1, 1, dilation=2),
    "avg_nhwc_3_channels": lambda x: cpool.avg_pool2d(x[..., :3], 3, 1, 1, axes=(1, 2)),
    "sum_nhwc_64_channels": lambda x: cpool.sum_pool2d(x[..., :64], 3, 2, 1, axes=(1, 2)),
    "avg_pool1d": lambda x: cpool.avg_pool1d(x, 3, 1, 1),
    "sum_pool1d_k2": lambda x: cpool.sum_pool1d(x, 2),
    "avg_pool3d": lambda x: cpool.avg_pool3d(x, 3, 2, 1),
    "adaptive_avg_pool2d": lambda x: cpool.adaptive_avg_pool2d(x, (7, 9)),
    "adaptive_avg_pool2d_small_planes": lambda x: cpool.adaptive_avg_pool2d(x[..., :12, :14], 5),
    "lp_pool2d_p1": lambda x: cpool.lp_pool2d(x, 1, 2),
    "avg_backward_2x2": lambda x: cpool.avg_pool2d_backward(
        x[..., :20, :150], x.shape[:-2] + (40, 300), 2),
    "sum_backward_2x2": lambda x: cpool.sum_pool2d_backward(
        x[..., :20, :150], x.shape[:-2] + (40, 300), 2),
    "sum_backward_3x3_s1_p1": lambda x: cpool.sum_pool2d_backward(x, x.shape, 3, 1, 1),
    "sum_backward_3x3_s2": lambda x: cpool.sum_pool2d_backward(
        x[..., :19, :149], x.shape, 3, 2),
    "avg_backward_dilated": lambda x: cpool.avg_pool2d_backward(
        x, x.shape, 2, 1, 1, dilation=2),
    "avg_pool1d_backward": lambda x: cpool.avg_pool1d_backward(
        x[..., :150], x.shape[:-1] + (300,), 2),
    "avg_pool3d_backward": lambda x: cpool.avg_pool3d_backward(
        x[..., :20, :150], x.shape[:-2] + (40, 300), (1, 2, 2)),
    "adaptive_avg_pool2d_backward": lambda x: cpool.adaptive_avg_pool2d_backward(
        x[..., :5, :10], x.shape),
}


@pytest.mark.parametrize("path", ["fast", "general"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ZERO_SUMS))
def test_sums_of_negative_zeros_are_positive_zero(rng, name, dtype, path):
    # -0s, with +0s and +-1s that cancel: every zero a sum makes is +0 (exact cancellation in
    # round-to-nearest is +0 too); the windows all of -0 are many at these odds.
    values = np.array([-0.0, -0.0, -0.0, -0.0, 0.0, -1.0, 1.0], dtype)
    x = values[rng.integers(0, len(values), size=(2, 3, 40, 300))]
    with general_path() if path == "general" else contextlib.nullcontext():
        result = ZERO_SUMS[name](x)
    assert (result == 0).any() and (result != 0).any()
    assert not np.signbit(result[result == 0]).any()
    torch = pytest.importorskip("torch")
    if name == "avg_3x3_s1_p1":  # PyTorch's own, the rule this test states
        expected = torch.nn.functional.avg_pool2d(torch.from_numpy(x), 3, 1, 1).numpy()
        np.testing.assert_array_equal(np.signbit(result), np.signbit(expected))


@pytest.mark.parametrize("axes", AXES, ids=AXES_IDS)
@pytest.mark.parametrize("name", OP_NAMES)
def test_thread_counts_bitwise_identical(rng, name, axes):
    op = _op(name, axes)
    x = random_array(rng, _shape((4, 16, 130, 70), axes), np.float32)  # work for many threads
    x[1, 2, 5, 5] = np.nan
    one = op(x, num_threads=1)
    for n in (2, 3, 8):
        assert_identical(op(x, num_threads=n), one)
    assert_identical(op(x), one)


@pytest.mark.parametrize("axes", AXES, ids=AXES_IDS)
@pytest.mark.parametrize("name", OP_NAMES)
def test_few_large_planes_thread_invariant(rng, name, axes):
    # One image, 3 channels: work is split inside planes (rows, bands), results must not change.
    op = _op(name, axes)
    x = random_array(rng, _shape((1, 3, 513, 200), axes), np.float32)
    assert_identical(op(x, num_threads=4), op(x, num_threads=1))


def test_concurrent_python_threads(rng):
    inputs = [random_array(rng, (2, 8, 64, 64), np.float32) for _ in range(8)]
    expected = [[OPS[n](x, num_threads=1) for n in OP_NAMES] for x in inputs]

    def work(i):
        return [OPS[n](inputs[i], num_threads=2) for n in OP_NAMES]

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, list(range(len(inputs))) * 3))
    for k, res in enumerate(results):
        for got, exp in zip(res, expected[k % len(inputs)]):
            assert_identical(got, exp)


@pytest.mark.parametrize("make", [
    lambda a: a,
    lambda a: a[::2],                      # sliced batch
    lambda a: a.transpose(1, 0, 2, 3),     # batch axes swapped
    lambda a: a[:, :, ::-1],               # rows reversed
    lambda a: np.broadcast_to(a[:1], a.shape),
])
def test_readable_layouts_are_not_copied(make):
    from cpool._validation import _kernel_view

    x = make(np.zeros((4, 3, 9, 10), np.float32))
    assert np.shares_memory(_kernel_view(x), x)

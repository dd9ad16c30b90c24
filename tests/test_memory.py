"""Memory follows the data: no hidden copies, and nothing sized by argument values.

tracemalloc sees every NumPy allocation; the kernels' per-thread row buffers (O(threads x W))
come from malloc and are not counted by it, so calls whose arguments are huge run in a child
process whose peak resident size is read instead.
"""
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import cpool
from cpool import _api
from _helpers import OPS, random_array


def _peak_and_result_bytes(call):
    """(bytes NumPy allocated at the peak of ``call()``, bytes of its result), after a warm-up
    call (lazy imports and caches)."""
    res = call()
    out_bytes = sum(r.nbytes for r in res) if isinstance(res, tuple) else res.nbytes
    del res
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        res = call()  # kept alive until the peak is read
        peak = tracemalloc.get_traced_memory()[1] - before
        del res
    finally:
        tracemalloc.stop()
    return peak, out_bytes


def _lp_block(values=_api._LP_CHUNK_BYTES):
    """LP pooling's scratch for a block of ``values`` bytes: the block's powers, and the
    one-byte masks of the lanes that a power other than 2, 3, -2, +-0.5 and -1 raises from 1
    and patches (NaN and zero lanes, and a transient pair making the first: four per value at
    most, a float32 value's 4 bytes: the block again)."""
    return values * 2 + 64 * 1024


def _scratch_bytes(name, x, axes=(-2, -1)):
    """What an op may hold besides its result: LP pooling (but p = 2 over planes, squared in
    the kernel) raises a block of about _LP_CHUNK_BYTES to the power at a time; fractional
    max pooling keeps every plane's window bounds (first cell and tap count per output row
    and column: 8 bytes each, packed for the kernel beside the arrays they come from), and
    pools channels-last input as planes, in a copy (each channel has windows of its own, so
    pixels cannot be pooled lane by lane), into results it then copies over."""
    if name.startswith("lp_pool2d"):
        return _lp_block()
    if name == "fractional_max_pool2d":
        values, indices = OPS[name](x, axes=axes)
        rows, columns = (values.shape[a] for a in axes)
        bounds = 32 * values.size // (rows * columns) * (rows + columns)
        if axes == (1, 2):  # windows differ by channel: pooled as planes, in a copy of each
            return bounds + x.size * x.itemsize + values.nbytes + indices.nbytes
        return bounds
    return 0


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("layout", ["contiguous", "sliced_batch"])
def test_peak_memory_is_the_output(rng, name, layout):
    base = random_array(rng, (16, 32, 64, 64), np.float32)  # 8 MiB
    x = base if layout == "contiguous" else base[::2]
    peak, out_bytes = _peak_and_result_bytes(lambda: OPS[name](x))
    assert peak <= out_bytes + _scratch_bytes(name, x) + 256 * 1024, (peak, out_bytes)


@pytest.mark.parametrize("axes", [(-2, -1), (1, 2)], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("p", [3, 2, 1.5])
def test_lp_pooling_of_one_image_holds_a_block_not_the_input(rng, p, axes):
    """A batch of one image of many channels is cut into blocks of channels (it was raised to
    the power whole: a temporary of the input's size); channels-last, into whole images."""
    x = random_array(rng, (1, 64, 256, 256) if axes == (-2, -1) else (1, 128, 128, 64),
                     np.float32)  # 16 MiB, 4 MiB
    block = _lp_block(_api._LP_CHUNK_BYTES if axes == (-2, -1) else x.nbytes)
    peak, out_bytes = _peak_and_result_bytes(lambda: cpool.lp_pool2d(x, p, 2, axes=axes))
    assert peak <= out_bytes + block, (peak, out_bytes)
    g = np.ones_like(cpool.lp_pool2d(x, p, 2, axes=axes))
    peak, out_bytes = _peak_and_result_bytes(
        lambda: cpool.lp_pool2d_backward(g, x, p, 2, axes=axes))
    # The backward keeps the means and their gradients (each the forward's size) and one
    # block of the derivative.
    assert peak <= out_bytes + 2 * g.nbytes + 2 * block, (peak, out_bytes)


# Each line runs in a fresh interpreter, which reports its peak resident size before and after.
HUGE_ARGUMENTS = [
    # A 1x1 input with a kernel of 2**26 + 1 and padding 2**25: one output, one tap (it
    # allocated 512 MB per thread for a padded row of the kernel's width).
    "cpool.max_pool2d(np.ones((1, 1)), 2**26 + 1, padding=2**25)",
    "cpool.max_pool2d(np.ones((1, 1)), 2**26 + 1, padding=2**25, return_indices=True)",
    "cpool.avg_pool2d(np.ones((1, 1)), 2**26 + 1, padding=2**25)",
    "cpool.sum_pool2d(np.ones((3, 5)), (3, 2**26 + 1), stride=1, padding=(1, 2**25))",
    "cpool.stochastic_pool2d(np.ones((1, 1)), 2**26 + 1, padding=2**25, seed=0)",
    "cpool.stochastic_pool2d(np.ones((1, 1)), 2**26 + 1, padding=2**25, training=False)",
    "cpool.avg_pool2d_backward(np.ones((1, 1)), (1, 1), 2**26 + 1, padding=2**25)",
    "cpool.sum_pool2d_backward(np.ones((3, 5)), (3, 5), (3, 2**26 + 1), stride=1, padding=(1, 2**25))",
    # The largest kernel allowed (a 16 GiB padded row).
    "cpool.max_pool2d(np.ones((2, 3)), 2**31 - 1, stride=1, padding=2**30 - 1, ceil_mode=True)",
    "cpool.avg_pool2d(np.ones((2, 3)), 2**31 - 1, padding=2**30 - 1)",
    # Tall windows: stochastic training buffered kH rows and kH*kW tap offsets.
    "cpool.stochastic_pool2d(np.ones((2, 3)), (2**20 + 1, 1), padding=(2**19, 0), seed=0)",
    # Empty batches of tall planes: no window arrays (it took 6.5 s and 2 GB).
    "cpool.max_pool2d(np.ones((0, 2**25, 1)), 1, return_indices=True)",
    "cpool.avg_pool2d(np.ones((0, 2**25, 1)), (2, 1))",
    "cpool.stochastic_pool2d(np.ones((0, 2**25, 1)), (2, 1), seed=0)",
    "cpool.sum_pool2d_backward(np.ones((0, 2**24, 1)), (0, 2**25, 1), (2, 1))",
]


@pytest.mark.parametrize("call", HUGE_ARGUMENTS)
def test_memory_does_not_follow_argument_values(call):
    code = textwrap.dedent(f"""
        import resource
        import numpy as np
        import cpool
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = {call}
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(after - before)
    """)
    env = dict(os.environ, OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    grown_kib = int(out.stdout.split()[-1])
    assert grown_kib < 32 * 1024, f"{call}: peak resident size grew by {grown_kib} KiB"


def test_window_cache_is_bounded_by_bytes():
    # Window bounds are cached by bytes, not by entry count: 40 distinct widths near 2,000,000
    # kept 2.8 GB in the lru_cache. Large entries are not kept; small ones are (and reused).
    from cpool import _validation

    _validation._WINDOWS.clear()
    row = np.zeros((1, 2_000_040), np.float32)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(40):
            cpool.max_pool2d(row[:, :2_000_000 + i], (1, 1))
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert _validation._WINDOWS.nbytes <= _validation._WINDOWS.max_bytes
    assert kept < _validation._WINDOWS.max_bytes + (1 << 20), kept
    small = np.zeros((2, 8, 8), np.float32)
    cpool.max_pool2d(small, 3, 2, 1)
    assert _validation._WINDOWS.get((8, 3, 2, 1, 1, 1, False)) is not None


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("make", [
    lambda a: a[..., :3],                 # RGB: dense pixels
    lambda a: a,                          # 40 channels
    lambda a: a[..., 4:36],               # a slice of 32 channels: pixels 40 values apart
], ids=["rgb", "dense", "channel-slice"])
def test_channels_last_peak_memory_is_the_output(rng, name, make):
    """NHWC input is read in place: no input-sized copy, only the output (and indices)."""
    base = random_array(rng, (4, 64, 64, 40), np.float32)
    x = make(base)
    if x.shape[-1] == 3:
        x = np.ascontiguousarray(x)
    peak, out_bytes = _peak_and_result_bytes(lambda: OPS[name](x, axes=(1, 2)))
    scratch = _scratch_bytes(name, x, (1, 2))
    assert peak <= out_bytes + scratch + 64 * 1024, (peak, out_bytes, x.nbytes)


def test_channels_last_gradient_peak_memory_is_the_result(rng):
    x = random_array(rng, (4, 32, 32, 64), np.float32)
    y, idx = cpool.max_pool2d(x, 2, return_indices=True, axes=(1, 2))
    peak, out_bytes = _peak_and_result_bytes(
        lambda: cpool.max_pool2d_backward(y, idx, x.shape, axes=(1, 2)))
    assert out_bytes == x.nbytes and peak <= out_bytes + 64 * 1024, (peak, out_bytes)

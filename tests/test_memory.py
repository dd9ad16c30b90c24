"""No hidden copies: on a C-contiguous input, a call allocates its output and little else.

tracemalloc sees every NumPy allocation; the kernels' per-thread row buffers (O(threads x W))
come from malloc and are not counted here.
"""
import tracemalloc

import numpy as np
import pytest

from _helpers import OPS, random_array


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("layout", ["contiguous", "sliced_batch"])
def test_peak_memory_is_the_output(rng, name, layout):
    base = random_array(rng, (16, 32, 64, 64), np.float32)  # 8 MiB
    x = base if layout == "contiguous" else base[::2]
    op = OPS[name]
    res = op(x)  # warm-up: lazy imports and caches
    out_bytes = sum(r.nbytes for r in res) if isinstance(res, tuple) else res.nbytes
    del res
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        res = op(x)  # kept alive until the peak is read
        peak = tracemalloc.get_traced_memory()[1] - before
        del res
    finally:
        tracemalloc.stop()
    assert peak <= out_bytes + 256 * 1024, (peak, out_bytes)

"""Integer dtypes and non-contiguous inputs: cpool should not slow down on them.

Same op on uint8/int32 images and on a sliced batch (read in place, no copy).
"""
import numpy as np

import cpool

from .common import scaled

SHAPE = scaled((32, 256, 56, 56))


class IntegerImages:
    params = (["uint8", "int32"], ["max", "sum", "avg"])
    param_names = ["dtype", "op"]

    def setup(self, dtype, op):
        rng = np.random.default_rng(0)
        self.x = rng.integers(0, 255, SHAPE).astype(dtype)
        self.f = {"max": cpool.max_pool2d, "sum": cpool.sum_pool2d, "avg": cpool.avg_pool2d}[op]

    def time_2x2(self, dtype, op):
        self.f(self.x, 2)

    def peakmem_2x2(self, dtype, op):
        self.f(self.x, 2)


class SlicedBatch:
    def setup(self):
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((2 * SHAPE[0],) + SHAPE[1:], dtype=np.float32)[::2]

    def time_max_2x2(self):
        cpool.max_pool2d(self.x, 2)

    def peakmem_max_2x2(self):
        cpool.max_pool2d(self.x, 2)


class Float16AndChannelsLastViews:
    """Inputs a copy used to dominate: float16 (converted to float32 and back, by F16C where
    the CPU has it, a slab at a time), big-endian float32 (byte-swapped a slab at a time) and
    channels-last memory seen as NCHW (a PyTorch channels_last tensor's ``t.numpy()``, read
    in place by the channels-last kernels). Each beside float32 NCHW."""

    params = (["float32 NCHW", "float16 NCHW", "float32 NHWC memory as NCHW",
               "float16 NHWC memory as NCHW", "float32 byte-swapped NCHW"], ["max", "avg"])
    param_names = ["input", "op"]

    def setup(self, input, op):
        x = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
        if input.startswith("float16"):
            x = x.astype(np.float16)
        if "byte-swapped" in input:
            x = x.astype(x.dtype.newbyteorder())
        if "NHWC" in input:
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        self.x = x
        self.f = {"max": cpool.max_pool2d, "avg": cpool.avg_pool2d}[op]

    def time_2x2(self, input, op):
        self.f(self.x, 2)

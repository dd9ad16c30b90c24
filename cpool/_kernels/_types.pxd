# Fused dtype vocabulary shared by every kernel module. Defined once, here.
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t,
                          uint8_t, uint16_t, uint32_t, uint64_t)

# Every dtype a kernel reads natively. float16 and bool are converted by the validation layer.
ctypedef fused numeric:
    float
    double
    int8_t
    uint8_t
    int16_t
    uint16_t
    int32_t
    uint32_t
    int64_t
    uint64_t

# Output/accumulator dtypes of the summing kernels (sum and average, windowed and global):
# float32 -> float32, float64 -> float64, signed -> int64, unsigned -> uint64, average of ints -> float64.
ctypedef fused sum_out:
    float
    double
    int64_t
    uint64_t

# Fused dtype vocabulary shared by every kernel module. Defined once, here.
from libc.math cimport INFINITY
from libc.stdint cimport (INT8_MIN, INT16_MIN, INT32_MIN, INT64_MIN,
                          int8_t, int16_t, int32_t, int64_t,
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

# The same list again, for a second type that varies independently of `numeric` within one
# function (an accumulator or buffer dtype next to the input dtype).
ctypedef fused numeric_acc:
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


cdef inline bint sums_into(const numeric* x_tag, const sum_out* out_tag) noexcept nogil:
    """Whether a summing kernel reads ``numeric`` into ``sum_out``: the pairs above, 18 of the
    40 that the two fused types make (pass ``<numeric*>NULL, <sum_out*>NULL``).

    A constant in each specialization: a kernel that returns at once when it is false leaves
    the rest of its body dead, and the C compiler drops it and the specializations it alone
    calls. The 22 pairs no caller makes were compiled otherwise (_window's build: a third of
    its time).
    """
    if sum_out is float:
        return numeric is float
    elif sum_out is double:
        return numeric is not float
    elif sum_out is int64_t:
        return numeric is int8_t or numeric is int16_t or numeric is int32_t or numeric is int64_t
    else:
        return (numeric is uint8_t or numeric is uint16_t or numeric is uint32_t
                or numeric is uint64_t)


# Row layouts, as compile-time tags: a kernel taking ``layout* tag`` (pass ``<planes*>NULL`` or
# ``<pixels*>NULL``) is compiled once per layout, so the one-value-per-column planes keep code
# free of the channels-last branches (the pixel count folds to the constant 1). Two distinct
# C types only to tell the specialisations apart.
ctypedef signed char planes    # (B0, B1, H, W) planes: one value per column
ctypedef unsigned char pixels  # channels-last rows: pixels of C values

ctypedef fused layout:
    planes
    pixels


cdef inline bint _replaces(numeric m, numeric v) noexcept nogil:
    """PyTorch's max update rule: ``v`` replaces the running max ``m`` if ``v > m or isnan(v)``.

    Ties keep ``m`` (the first maximum wins) and any NaN wins (the last NaN wins). ``|`` rather
    than ``or``: a short-circuit ``||`` compiles to a branch that random data mispredicts.
    """
    if numeric is float or numeric is double:
        return (v > m) | (v != v)
    return v > m


cdef inline numeric _take_max(numeric m, numeric v) noexcept nogil:
    """The running max after seeing ``v``, as a select the compiler can vectorise."""
    return v if _replaces(m, v) else m


cdef inline numeric _lowest(const numeric* tag) noexcept nogil:
    """The identity of max for this dtype: -inf for floats, the minimum for integers.

    ``tag`` only selects the specialization; pass ``<numeric*>NULL``.
    """
    if numeric is float or numeric is double:
        return -INFINITY
    elif numeric is int8_t:
        return INT8_MIN
    elif numeric is int16_t:
        return INT16_MIN
    elif numeric is int32_t:
        return INT32_MIN
    elif numeric is int64_t:
        return INT64_MIN
    else:
        return 0

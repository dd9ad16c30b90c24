# Fused dtype vocabulary shared by every kernel module. Defined once, here.
from libc.math cimport INFINITY
from libc.stdint cimport (INT8_MIN, INT16_MIN, INT32_MIN, INT64_MIN,
                          int8_t, int16_t, int32_t, int64_t,
                          uint8_t, uint16_t, uint32_t, uint64_t)

cdef enum:
    # The index of a max window with no input cell (a dilated window over padding alone,
    # whose value is -inf): PyTorch gives the position of its first tap there, which lies
    # outside the plane or on a cell the window never read, and its own backward then writes
    # out of bounds or to that cell. The scatters (gradients, max_unpool) skip it.
    NO_CELL = -1

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

# The integer dtypes by sign, for the pair tests below (`numeric in signed_ints`).
ctypedef fused signed_ints:
    int8_t
    int16_t
    int32_t
    int64_t

ctypedef fused unsigned_ints:
    uint8_t
    uint16_t
    uint32_t
    uint64_t

# Pairs of fused types that no caller makes. Cython specialises a function over two fused
# types for every pair of them: (numeric, sum_out) makes 40 where the summing kernels read 18
# (the pairs above), (numeric, numeric_acc) 100 where the window kernels read 24 (those 18 and
# max's ten of an input into its own dtype). A kernel over such a pair opens with a test of
# the pair written as type tests only, which Cython evaluates in each specialisation before it
# analyses the body:
#
#     sums (numeric, sum_out):
#         (sum_out is float and numeric is float) or (sum_out is double and numeric is not float)
#         or (sum_out is int64_t and numeric in signed_ints)
#         or (sum_out is uint64_t and numeric in unsigned_ints)
#     window kernels (numeric, numeric_acc), max's pairs and the sums':
#         numeric is numeric_acc or (numeric_acc is double and numeric is not float)
#         or (numeric_acc is int64_t and numeric in signed_ints)
#         or (numeric_acc is uint64_t and numeric in unsigned_ints)
#
# `if not (test): raise TypeError(...)` (or `return`) then leaves the rest of the body
# unreachable in the other specialisations: Cython drops it there before analysing it, so the
# kernels it calls are not specialised for those pairs either, and no C is written for them.
# The kernel carries `@cython.warn.unreachable(False)` for the warning each dropped body would
# give. (A bint function of the two types, which this was, is constant only to the C
# compiler: Cython then wrote every pair's C, 52 MB of _window.c against 20 MB, and took
# 72 s against 51 s to do it.)


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

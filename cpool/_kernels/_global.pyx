"""Whole-plane reductions: global max (with and without indices), global sum and global mean.

Design
------
* Inputs are 4-D ``(B0, B1, H, W)`` views with a contiguous last axis (see ``_window.pyx``);
  outputs are C-contiguous ``(B0 * B1,)`` vectors the caller reshapes.
* A plane is cut into bands of ``band_rows`` rows, a number fixed by the caller from the shape
  alone. Tasks are (plane, band) pairs, so a few huge planes still use every thread; each band's
  partial result is combined with the others in band order. The split never depends on the
  thread count, so results are bitwise identical for any ``num_threads``.
* Sums of floats accumulate in float64 (float32 planes of millions of pixels stay accurate to
  ~1e-12); sums of integers accumulate in 64-bit two's complement: exact for 8- to 32-bit
  inputs, wrapping for 64-bit ones as NumPy's sums do. Means of 64-bit integers accumulate in
  float64 instead (as NumPy's mean), so they never wrap.
* Max uses PyTorch's scan rule ``v > m or v != v`` in row-major order: the first maximum wins
  ties and the last NaN wins, with its own bits (sign of zero, NaN payload), with or without
  indices. Combining band results in order with the same rule gives the same value and index
  as one scan over the plane.
"""
cimport cython
from cython cimport view
from cython.parallel cimport prange, threadid
from libc.stdint cimport INT32_MAX, int8_t, int16_t, int32_t, int64_t, uint64_t
from libc.math cimport NAN
from libc.stdlib cimport malloc, free

from cpool._kernels._openmp cimport note_work, tracing
from cpool._kernels._rows cimport (STREAM_PREFETCH_BYTES, _locate, _prefetch_stream, _scratch,
                                   _step)
from cpool._kernels._simd cimport (CPOOL_SSE2,
                                   cpool_first_equal_f32,
                                   cpool_first_equal_f64,
                                   cpool_plane_maxima_f32,
                                   cpool_plane_maxima_f64,
                                   cpool_plane_sums_f32,
                                   cpool_plane_sums_f64,
                                   cpool_prefetch,
                                   cpool_prefetch_l2,
                                   cpool_run_max_f32,
                                   cpool_run_max_f64)
from cpool._kernels._types cimport (_lowest, _replaces, numeric, signed_ints, sum_out,
                                   unsigned_ints)


ctypedef fused band_acc:
    double      # floats
    uint64_t    # integers, in two's complement (unsigned, so wrap-around is defined)


cdef extern from *:
    """
    /* Whether cpool_prefetch_l2 (prefetcht1 on x86) leaves L1 alone, as its name means: on
       Intel's CPUs, and on AMD's since Zen 4, the first of them with AVX-512 (AMD documents
       T1/T2 into L2 as new in Zen 4). AMD's earlier CPUs treat prefetcht1 as prefetcht0: on
       the 2-core AMD EPYC (Zen 3, family 19h model 1) a line hinted by prefetcht1 loaded at
       L1's latency in a pointer chase. Elsewhere (other compilers and architectures, where
       the hint is the compiler's own L2 builtin or nothing) it is taken to. */
    static int cpool_prefetch_l2_skips_l1(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return !(__builtin_cpu_is("amd") && !__builtin_cpu_supports("avx512f"));
    #else
        return 1;
    #endif
    }
    """
    bint cpool_prefetch_l2_skips_l1() noexcept nogil


# Whether the channels-last global kernels hint each next group of pixels into L2
# (:func:`_group_sum`): only where such hints stay out of L1. Eight pixels of 2048 float32
# lanes are 8 KB apart, so a group's lines and the next group's share one L1 set; hinted into
# L1, the next group's lines evicted the lines being added. On the Zen 3 host, one thread,
# float32, the hints made (256, 7, 7, 2048) 1.2x as slow (global avg 4.4-4.7 -> 5.3-5.5 ms,
# max 4.2-4.4 -> 5.1-5.2), (32, 7, 7, 2048) in cache 1.6x (0.39 -> 0.64 ms); on the host
# they were tuned on, whose L1 and L2 hints measured apart, they took global avg from 4.2 to
# 3.5 ms (docs/performance.md).
cdef bint _lane_hints = cpool_prefetch_l2_skips_l1()


def lane_hints(on=None):
    """Whether the channels-last global kernels hint their next pixels into L2 (chosen at
    import by the CPU: see :func:`cpool_prefetch_l2_skips_l1`); with ``on``, set it (the tests
    run both loops). Returns the value it had. The results are the same either way, bit for
    bit."""
    global _lane_hints
    was = _lane_hints
    if on is not None:
        _lane_hints = bool(on)
    return bool(was)


cdef enum:
    TASK_CHUNK = 16  # (plane, band) tasks per parallel iteration: one division per chunk
    PLANE_CHUNK = 64  # small planes per call of cpool_plane_sums (totals on the stack) or _maxima
    LANES = 8  # independent accumulators per run: breaks the add/select dependency chain
    ALIGNED_GROUP_LINES = 4  # unhinted channels-last sums split pixels this wide (_group_sum)


cdef inline numeric _run_max(const numeric* row, Py_ssize_t n, numeric m) noexcept nogil:
    """max(m, row[0:n]) with any NaN winning; LANES running maxima, combined in a fixed order.

    For floats, NaN is tracked by a separate flag so the maxima use the plain ``v > m`` select
    (the ``maxss`` pattern, branch-free and vectorisable): folding ``isnan`` into the select
    made the compiler branch, and random data mispredicted that branch every other element.
    """
    cdef numeric lanes[LANES]
    cdef numeric v
    cdef int nan_seen = False
    cdef Py_ssize_t l, block, j, n_full = n - n % LANES
    if numeric is float or numeric is double:
        nan_seen = m != m  # a NaN carried in from earlier rows
        if CPOOL_SSE2:
            if numeric is float:
                m = cpool_run_max_f32(row, n, m, &nan_seen)
            else:
                m = cpool_run_max_f64(row, n, m, &nan_seen)
            return NAN if nan_seen else m
    for l in range(LANES):
        lanes[l] = m
    for block in range(n_full // LANES):
        for l in range(LANES):
            v = row[block * LANES + l]
            lanes[l] = v if v > lanes[l] else lanes[l]
            if numeric is float or numeric is double:
                nan_seen = nan_seen | (v != v)
    for j in range(n_full, n):
        v = row[j]
        m = v if v > m else m
        if numeric is float or numeric is double:
            nan_seen = nan_seen | (v != v)
    for l in range(LANES):
        m = lanes[l] if lanes[l] > m else m
    if numeric is float or numeric is double:
        if nan_seen:
            return NAN
    return m


cdef inline band_acc _lanes_total(const band_acc* lanes, band_acc tail) noexcept nogil:
    """The LANES partial sums combined in a fixed (pairwise) order, then the tail."""
    return (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
            + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) + tail


cdef inline band_acc _run_sum(const numeric* row, Py_ssize_t n, band_acc zero) noexcept nogil:
    """sum(row[0:n]) in ``band_acc``: element f goes to partial sum f % LANES, except the last
    n % LANES elements, summed in order into a tail; then :func:`_lanes_total`."""
    cdef band_acc lanes[LANES]
    cdef band_acc tail = zero
    cdef Py_ssize_t l, block, j, n_full = n - n % LANES
    for l in range(LANES):
        lanes[l] = zero
    for block in range(n_full // LANES):
        for l in range(LANES):
            lanes[l] = lanes[l] + <band_acc>row[block * LANES + l]
    for j in range(n_full, n):
        tail = tail + <band_acc>row[j]
    return _lanes_total(lanes, tail)


cdef inline band_acc _band_sum(const numeric* base, Py_ssize_t row_stride, Py_ssize_t y0,
                               Py_ssize_t n_rows, Py_ssize_t W, band_acc zero) noexcept nogil:
    """Sum of rows ``y0 .. y0+n_rows-1`` of a plane, accumulated in ``band_acc``: always
    :func:`_run_sum`'s order over the band's cells in row-major order, so a float sum has the
    same bits whatever the memory layout."""
    if row_stride == W:  # contiguous rows: one run
        return _run_sum(base + y0 * W, n_rows * W, zero)
    return _rows_sum(base, row_stride, y0, n_rows, W, zero)


cdef band_acc _rows_sum(const numeric* base, Py_ssize_t row_stride, Py_ssize_t y0,
                        Py_ssize_t n_rows, Py_ssize_t W, band_acc zero) noexcept nogil:
    """:func:`_band_sum` of rows that are not adjacent (reversed, or every other one): walked one
    by one, each cell going to the partial sum its flat position gives, as in one run (summing
    row by row, in another order, was 1 ulp off for some float64 means). Out of line: inlined,
    it made the contiguous path 40% longer."""
    cdef band_acc lanes[LANES]
    cdef band_acc tail = zero
    cdef Py_ssize_t y, j, l, block, f = 0, n_full = n_rows * W - (n_rows * W) % LANES, n_blocks
    cdef const numeric* row
    for l in range(LANES):
        lanes[l] = zero
    for y in range(y0, y0 + n_rows):  # f: the flat position of the row's first cell
        row = base + y * row_stride
        j = 0
        while j < W and f + j < n_full and (f + j) % LANES != 0:  # up to a whole block
            lanes[(f + j) % LANES] = lanes[(f + j) % LANES] + <band_acc>row[j]
            j += 1
        n_blocks = max(0, min(W, n_full - f) - j) // LANES
        for block in range(n_blocks):
            for l in range(LANES):
                lanes[l] = lanes[l] + <band_acc>row[j + block * LANES + l]
        j += n_blocks * LANES
        while j < W and f + j < n_full:  # the row's last partial block
            lanes[(f + j) % LANES] = lanes[(f + j) % LANES] + <band_acc>row[j]
            j += 1
        while j < W:  # the band's last n % LANES cells
            tail = tail + <band_acc>row[j]
            j += 1
        f += W
    return _lanes_total(lanes, tail)


cdef inline numeric _band_max(const numeric* base, Py_ssize_t row_stride, Py_ssize_t y0,
                              Py_ssize_t n_rows, Py_ssize_t W) noexcept nogil:
    """Max of rows ``y0 .. y0+n_rows-1`` of a plane; any NaN makes it NaN."""
    cdef numeric m = _lowest(<numeric*>NULL)
    cdef Py_ssize_t y
    if row_stride == W:  # contiguous rows: one run
        return _run_max(base + y0 * W, n_rows * W, m)
    for y in range(y0, y0 + n_rows):
        m = _run_max(base + y * row_stride, W, m)
    return m


cdef inline numeric _band_max_at(const numeric* base, Py_ssize_t row_stride, Py_ssize_t y0,
                                 Py_ssize_t n_rows, Py_ssize_t W, int64_t* index) noexcept nogil:
    """Max of rows ``y0 .. y0+n_rows-1`` of a plane with the bits of PyTorch's row-major scan
    (:func:`_replaces`): the first element equal to the maximum, or the last NaN if there is
    one; its flat index into ``index`` unless that is NULL.

    Found as the (vectorised) maximum, then a search of the band, which is in cache by then; a
    scan with the rule's data-dependent update ran 5x slower. Without an index the search runs
    only when the bits are in question (a zero: which sign is first; a NaN: which payload is
    last): every other float maximum, and every integer one, has a single bit pattern."""
    cdef numeric m = _band_max(base, row_stride, y0, n_rows, W)
    if index != NULL:
        return _band_search(base, row_stride, y0, n_rows, W, m, index)
    if (numeric is float or numeric is double) and (m == 0 or m != m):
        return _band_search_rare(base, row_stride, y0, n_rows, W, m)
    return m


cdef numeric _band_search_rare(const numeric* base, Py_ssize_t row_stride, Py_ssize_t y0,
                               Py_ssize_t n_rows, Py_ssize_t W, numeric m) noexcept nogil:
    """:func:`_band_search` without an index, out of line: the values-only path needs it only
    for a zero or NaN maximum, and inlined there it cost that path's loop."""
    return _band_search(base, row_stride, y0, n_rows, W, m, NULL)


cdef inline numeric _band_search(const numeric* base, Py_ssize_t row_stride, Py_ssize_t y0,
                                 Py_ssize_t n_rows, Py_ssize_t W, numeric m,
                                 int64_t* index) noexcept nogil:
    """The scan's cell of maximum ``m`` in the band (see :func:`_band_max_at`): its value and,
    unless ``index`` is NULL, its flat index."""
    cdef Py_ssize_t y, j, run = W
    cdef Py_ssize_t rows = n_rows
    cdef const numeric* row
    if row_stride == W:  # contiguous rows: one run
        run, rows = n_rows * W, 1
    if m == m:  # no NaN: the first element equal to the maximum (-0.0 == 0.0, as in the scan)
        for y in range(y0, y0 + rows):
            row = base + y * row_stride
            if (numeric is float or numeric is double) and CPOOL_SSE2:
                if numeric is float:
                    j = cpool_first_equal_f32(row, run, m)
                else:
                    j = cpool_first_equal_f64(row, run, m)
            else:
                j = 0
                while j < run and row[j] != m:
                    j += 1
            if j < run:
                if index != NULL:
                    index[0] = y * W + j
                return row[j]  # its own sign of zero, as the scan keeps the first
    else:  # the last NaN
        for y in range(y0 + n_rows - 1, y0 - 1, -1):
            row = base + y * row_stride
            for j in range(W - 1, -1, -1):
                if row[j] != row[j]:
                    if index != NULL:
                        index[0] = y * W + j
                    return row[j]  # its own payload, as the scan keeps the last
    if index != NULL:
        index[0] = y0 * W  # not reached: the maximum is an element of the band
    return m


cdef inline bint _signed(const numeric* tag) noexcept nogil:
    """Whether ``numeric`` is a signed integer type (``tag``: ``<numeric*>NULL``)."""
    return numeric is int8_t or numeric is int16_t or numeric is int32_t or numeric is int64_t


cdef inline bint _in_double(const numeric* tag, bint mean) noexcept nogil:
    """Whether a sum (``mean``: a mean) of ``numeric`` values accumulates in float64, else in
    64-bit two's complement. Floats sum in float64. Integers sum in 64-bit two's complement:
    exact for 8- to 32-bit inputs (planes under 2**32 cells), and wrapping for 64-bit ones, as
    NumPy's sums do. A mean must not wrap: the mean of 64-bit integers sums in float64, as
    NumPy's mean does. A constant in each specialization but the 64-bit integers'."""
    return (numeric is float or numeric is double
            or (mean and (numeric is int64_t or numeric is uint64_t)))


cdef inline void _store_sum(sum_out* dst, double total, uint64_t bits, bint in_double,
                           bint is_signed, bint mean, Py_ssize_t count) noexcept nogil:
    """Write one plane's sum (or mean) from its float64 (``in_double``) or 64-bit integer
    accumulator."""
    if not in_double:
        total = <double>(<int64_t>bits) if is_signed else <double>bits
    if mean:
        dst[0] = <sum_out>(total / <double>count)
    elif in_double:
        dst[0] = <sum_out>total
    else:
        dst[0] = <sum_out>bits


cdef inline void _store_sums(sum_out* dst, const double* acc, Py_ssize_t n, bint in_double,
                             bint is_signed, bint mean, Py_ssize_t count) noexcept nogil:
    """:func:`_store_sum` of ``n`` accumulators (float64, or 64-bit integers viewed as
    ``acc``) into dst[0:n], the same bits. Float64 ones in loops the compiler vectorises: a
    division per plane, one by one, was the slowest step of a sum over small planes. (Over
    channels-last pixels, a lane at a time through :func:`_store_sum` measured the same:
    (256, 7, 7, 2048) float32, 6.95-8.67 ms against 6.97-7.02 ms.)"""
    cdef Py_ssize_t c
    if in_double and mean:
        for c in range(n):
            dst[c] = <sum_out>(acc[c] / <double>count)
    elif in_double:
        for c in range(n):
            dst[c] = <sum_out>acc[c]
    else:
        for c in range(n):
            _store_sum(dst + c, 0, (<const uint64_t*>acc)[c], False, is_signed, mean, count)


cdef void _plane_maxima(const numeric* x, Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t n,
                        numeric* out, int64_t* indices) noexcept nogil:
    """out[p] (and indices[p] unless NULL) = the max of plane p of ``n`` cells at ``x + p * n``
    by :func:`_band_max_at`, for p0 <= p < p1: :func:`global_max` over planes that are one
    contiguous block, as a loop over raw pointers (see :func:`_plane_sums`). Float planes of a
    vector or more take their maxima, and their scan's cells (indices, the sign of a zero),
    four planes a step from ``cpool_plane_maxima`` (AVX2 build; it returns 0 for smaller
    planes), a chunk of planes a call, so that the search of a NaN maximum's plane (the last
    NaN) finds it in cache."""
    cdef Py_ssize_t p, q, count
    cdef const numeric* plane
    cdef int done = 0  # 0: not done; 1: done; 2: done, and some maximum is NaN
    p = p0
    while p < p1 and (numeric is float or numeric is double):
        count = min(PLANE_CHUNK, p1 - p)
        if numeric is float:
            done = cpool_plane_maxima_f32(x + p * n, count, n, out + p,
                                          indices + p if indices != NULL else NULL,
                                          STREAM_PREFETCH_BYTES)
        elif numeric is double:
            done = cpool_plane_maxima_f64(x + p * n, count, n, out + p,
                                          indices + p if indices != NULL else NULL,
                                          STREAM_PREFETCH_BYTES)
        if not done:
            break
        for q in range(p, p + count if done == 2 else p):
            if out[q] != out[q]:
                out[q] = _band_search(x + q * n, n, 0, 1, n, out[q],
                                      indices + q if indices != NULL else NULL)
        p += count
    for p in range(p, p1):
        plane = x + p * n
        _prefetch_stream(plane, n * sizeof(numeric))
        out[p] = _band_max_at(plane, n, 0, 1, n, indices + p if indices != NULL else NULL)


cdef void _plane_sums(const numeric* x, Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t n,
                      sum_out* out, bint mean) noexcept nogil:
    """out[p] = the sum (or mean) of plane p of ``n`` cells at ``x + p * n``, for p0 <= p < p1:
    :func:`global_sum` over planes that are one contiguous block, in :func:`_run_sum`'s order.

    A loop of its own over raw pointers, whose accumulator (:func:`_in_double`) is a constant
    but for 64-bit integers: written inline in the kernel's prange, as a loop over memoryview
    cells, it took 3.05 ms on (256, 2048, 7, 7) float32 at one thread, against 2.6 ms for
    this loop. Float planes go to ``cpool_plane_sums`` (AVX2 build) a chunk at a time, four
    planes a step in the same order, and the chunk's totals are finished in one vectorised
    loop."""
    cdef Py_ssize_t p, count
    cdef const numeric* plane
    cdef bint is_signed = _signed(<numeric*>NULL)
    cdef bint in_double = _in_double(<numeric*>NULL, mean)
    cdef double totals[PLANE_CHUNK]
    cdef bint done = False
    p = p0
    while p < p1 and (numeric is float or numeric is double):  # a chunk of planes a call
        count = min(PLANE_CHUNK, p1 - p)
        if numeric is float:
            done = cpool_plane_sums_f32(x + p * n, count, n, totals, STREAM_PREFETCH_BYTES)
        elif numeric is double:
            done = cpool_plane_sums_f64(x + p * n, count, n, totals, STREAM_PREFETCH_BYTES)
        if not done:
            break
        _store_sums(out + p, totals, count, True, is_signed, mean, n)
        p += count
    for p in range(p, p1):
        plane = x + p * n
        _prefetch_stream(plane, n * sizeof(numeric))
        if in_double:
            _store_sum(out + p, _run_sum(plane, n, <double>0), 0, True, is_signed, mean, n)
        else:
            _store_sum(out + p, 0, _run_sum(plane, n, <uint64_t>0), False, is_signed, mean, n)


cdef inline bint _flat(const Py_ssize_t* strides, Py_ssize_t B1, Py_ssize_t H, Py_ssize_t W,
                       Py_ssize_t itemsize, Py_ssize_t n_bands) noexcept nogil:
    """Whether the planes are one C-contiguous block, each a single band: then a plain loop
    over planes at ``p * H * W`` replaces the (plane, band) task counters, whose per-task
    bookkeeping cost a fifth of the time on planes as small as 7x7."""
    return (n_bands == 1 and strides[2] == W * itemsize and strides[1] == H * W * itemsize
            and strides[0] == B1 * H * W * itemsize)


def global_max(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
               numeric[::1] out,                                                                 # OUT
               int64_t[::1] indices,                                                             # OUT
               bint with_indices, Py_ssize_t band_rows, int num_threads):
    """Kernel of :func:`cpool.global_max_pool2d`; ``indices`` is ignored unless ``with_indices``."""
    cdef Py_ssize_t B1 = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t P = out.shape[0]
    cdef Py_ssize_t n_bands = (H + band_rows - 1) // band_rows
    cdef Py_ssize_t row_stride = x.strides[2] // <Py_ssize_t>sizeof(numeric)  # signed: rows may run backwards
    cdef Py_ssize_t n_chunks = (P * n_bands + TASK_CHUNK - 1) // TASK_CHUNK
    cdef bint trace = tracing()
    cdef Py_ssize_t c, task, p, b, b0, b1, y0, nb, t, p0, p1
    cdef numeric v, m
    cdef int64_t mi
    cdef const numeric* base
    cdef numeric* part = &out[0] if P > 0 else NULL
    cdef int64_t* part_i = &indices[0] if with_indices and P > 0 else NULL
    cdef bint flat = _flat(&x.strides[0], B1, H, W, sizeof(numeric), n_bands)
    if P == 0:
        return
    if n_bands > 1:             # band partials; a single-band plane writes its result directly
        part = <numeric*>malloc(P * n_bands * sizeof(numeric))
        part_i = <int64_t*>malloc(P * n_bands * sizeof(int64_t))
    try:
        if part == NULL or (with_indices and part_i == NULL):
            raise MemoryError("cpool: could not allocate the partial results")
        with nogil:
            if flat:
                for t in prange(num_threads, schedule='static', num_threads=num_threads):
                    p0 = t * P // num_threads
                    p1 = (t + 1) * P // num_threads
                    if trace:  # values read
                        note_work((p1 - p0) * H * W)
                    _plane_maxima(&x[0, 0, 0, 0], p0, p1, H * W, &out[0],
                                  &indices[0] if with_indices else NULL)
            for c in prange(0 if flat else n_chunks, schedule='static', num_threads=num_threads):
                # One division per chunk of (plane, band) tasks, counters within it.
                # Assigned here so Cython makes them thread-private: it does not count the
                # writes through pointers below, and shared counters would race.
                b0 = b1 = b = 0
                _locate(c * TASK_CHUNK, n_bands, B1, &b0, &b1, &b)
                for task in range(c * TASK_CHUNK, min(c * TASK_CHUNK + TASK_CHUNK, P * n_bands)):
                    y0 = b * band_rows
                    nb = min(band_rows, H - y0)
                    if trace:
                        note_work(nb * W)
                    base = &x[b0, b1, 0, 0]
                    part[task] = _band_max_at(base, row_stride, y0, nb, W,
                                              &part_i[task] if with_indices else NULL)
                    _step(n_bands, B1, &b0, &b1, &b)
            if n_bands > 1:
                for p in prange(P, schedule='static', num_threads=num_threads):
                    m = part[p * n_bands]
                    mi = part_i[p * n_bands] if with_indices else 0
                    for b in range(1, n_bands):
                        v = part[p * n_bands + b]
                        if _replaces(m, v):
                            m = v
                            if with_indices:
                                mi = part_i[p * n_bands + b]
                    out[p] = m
                    if with_indices:
                        indices[p] = mi
    finally:
        if n_bands > 1:
            free(part)
            free(part_i)


@cython.warn.unreachable(False)  # the pair test's dropped bodies (_types.pxd)
def global_sum(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
               sum_out[::1] out,                                                                 # OUT
               bint mean, Py_ssize_t band_rows, int num_threads):
    """Kernel of :func:`cpool.global_sum_pool2d` and, with ``mean``, :func:`cpool.global_avg_pool2d`."""
    if not ((sum_out is float and numeric is float) or (sum_out is double and numeric is not float)
            or (sum_out is int64_t and numeric in signed_ints)
            or (sum_out is uint64_t and numeric in unsigned_ints)):
        raise TypeError("cpool: no summing kernel reads this input dtype into this output dtype")
    cdef Py_ssize_t B1 = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t P = out.shape[0]
    cdef Py_ssize_t n_bands = (H + band_rows - 1) // band_rows
    cdef Py_ssize_t row_stride = x.strides[2] // <Py_ssize_t>sizeof(numeric)  # signed: rows may run backwards
    cdef Py_ssize_t n_chunks = (P * n_bands + TASK_CHUNK - 1) // TASK_CHUNK
    cdef bint trace = tracing()
    cdef Py_ssize_t c, task, p, b, b0, b1, y0, nb, t, p0, p1
    cdef double total = 0
    cdef uint64_t bits = 0
    cdef const numeric* base
    cdef bint is_signed = _signed(<numeric*>NULL)
    cdef bint in_double = _in_double(<numeric*>NULL, mean)
    # Band partials (float64 or 64-bit integers: one buffer viewed as either); a single-band
    # plane is finished directly.
    cdef double* part = NULL
    cdef uint64_t* part_bits
    cdef bint flat = _flat(&x.strides[0], B1, H, W, sizeof(numeric), n_bands)
    if P == 0:
        return
    if n_bands > 1:
        part = <double*>malloc(P * n_bands * sizeof(double))
        if part == NULL:
            raise MemoryError("cpool: could not allocate the partial results")
    part_bits = <uint64_t*>part
    try:
        with nogil:
            if flat:
                for t in prange(num_threads, schedule='static', num_threads=num_threads):
                    p0 = t * P // num_threads
                    p1 = (t + 1) * P // num_threads
                    if trace:  # values read
                        note_work((p1 - p0) * H * W)
                    _plane_sums(&x[0, 0, 0, 0], p0, p1, H * W, &out[0], mean)
            for c in prange(0 if flat else n_chunks, schedule='static', num_threads=num_threads):
                # Assigned here so Cython makes them thread-private: it does not count the
                # writes through pointers below, and shared counters would race.
                b0 = b1 = b = 0
                _locate(c * TASK_CHUNK, n_bands, B1, &b0, &b1, &b)
                for task in range(c * TASK_CHUNK, min(c * TASK_CHUNK + TASK_CHUNK, P * n_bands)):
                    y0 = b * band_rows
                    nb = min(band_rows, H - y0)
                    if trace:
                        note_work(nb * W)
                    base = &x[b0, b1, 0, 0]
                    if in_double:
                        total = _band_sum(base, row_stride, y0, nb, W, <double>0)
                    else:
                        bits = _band_sum(base, row_stride, y0, nb, W, <uint64_t>0)
                    if n_bands == 1:
                        _store_sum(&out[task], total, bits, in_double, is_signed, mean, H * W)
                    elif in_double:
                        part[task] = total
                    else:
                        part_bits[task] = bits
                    _step(n_bands, B1, &b0, &b1, &b)
            if n_bands > 1:
                for p in prange(P, schedule='static', num_threads=num_threads):
                    total = 0
                    bits = 0
                    for b in range(n_bands):
                        if in_double:
                            total = total + part[p * n_bands + b]
                        else:
                            bits = bits + part_bits[p * n_bands + b]
                    _store_sum(&out[p], total, bits, in_double, is_signed, mean, H * W)
    finally:
        free(part)


# ---------------------------------------------------------------------------------------------
# Channels-last planes: each pixel holds C values (one per plane), contiguous
# ---------------------------------------------------------------------------------------------
cdef inline void _hint_group(const numeric* p0, const numeric* p1, const numeric* p2,
                             const numeric* p3, const numeric* p4, const numeric* p5,
                             const numeric* p6, const numeric* p7, Py_ssize_t at) noexcept nogil:
    """Hint into L2 the cache line ``at`` values past each of eight pixels."""
    cpool_prefetch_l2(p0 + at)
    cpool_prefetch_l2(p1 + at)
    cpool_prefetch_l2(p2 + at)
    cpool_prefetch_l2(p3 + at)
    cpool_prefetch_l2(p4 + at)
    cpool_prefetch_l2(p5 + at)
    cpool_prefetch_l2(p6 + at)
    cpool_prefetch_l2(p7 + at)


cdef inline Py_ssize_t _pixel_group(const numeric* base, Py_ssize_t row_stride, Py_ssize_t W,
                                    Py_ssize_t pixel, const numeric** q, Py_ssize_t* y,
                                    Py_ssize_t* w) noexcept nogil:
    """The eight pixels from (``y``, ``w``) on in row-major order into q[0..7] (groups run
    across the ends of rows), (y, w) moved past them. Returns the hint distance of
    :func:`_group_sum` and :func:`_group_max`: eight pixels on where the plane's pixels are
    one run (rows ``W * pixel`` apart) and the CPU hints into L2 (``_lane_hints``), else 0
    (no hints)."""
    cdef Py_ssize_t k
    if row_stride == W * pixel:
        q[0] = base + (y[0] * W + w[0]) * pixel
        for k in range(1, 8):
            q[k] = q[0] + k * pixel
        w[0] += 8
        y[0] += w[0] // W
        w[0] = w[0] % W
        return 8 * pixel if _lane_hints else 0
    for k in range(8):
        q[k] = base + y[0] * row_stride + w[0] * pixel
        w[0] += 1
        if w[0] == W:
            w[0] = 0
            y[0] += 1
    return 0


cdef inline void _take(numeric* cur, int32_t* a, numeric v, int32_t here) noexcept nogil:
    """One pixel's value ``v`` (pixel number ``here``) into a lane's running max ``cur[0]`` and
    its pixel ``a[0]``, by PyTorch's rule (:func:`_replaces`)."""
    cdef bint take = _replaces(cur[0], v)
    cur[0] = v if take else cur[0]
    a[0] = here if take else a[0]


cdef inline void _group_max_lanes(const numeric* p0, const numeric* p1, const numeric* p2,
                                  const numeric* p3, const numeric* p4, const numeric* p5,
                                  const numeric* p6, const numeric* p7, Py_ssize_t c0,
                                  Py_ssize_t c1, numeric* m, int32_t* at, int32_t first,
                                  bint with_indices) noexcept nogil:
    """Lanes c0 <= c < c1 of m after eight pixels, in order by PyTorch's rule; with
    ``with_indices`` their pixels too (``at``; the eight numbered ``first`` to ``first + 7``)."""
    cdef Py_ssize_t c
    cdef numeric cur
    cdef int32_t a
    for c in range(c0, c1):
        cur = m[c]
        a = at[c] if with_indices else 0
        _take(&cur, &a, p0[c], first)
        _take(&cur, &a, p1[c], first + 1)
        _take(&cur, &a, p2[c], first + 2)
        _take(&cur, &a, p3[c], first + 3)
        _take(&cur, &a, p4[c], first + 4)
        _take(&cur, &a, p5[c], first + 5)
        _take(&cur, &a, p6[c], first + 6)
        _take(&cur, &a, p7[c], first + 7)
        m[c] = cur
        if with_indices:
            at[c] = a


cdef inline void _group_max(const numeric* p0, const numeric* p1, const numeric* p2,
                            const numeric* p3, const numeric* p4, const numeric* p5,
                            const numeric* p6, const numeric* p7, Py_ssize_t n, numeric* m,
                            int32_t* at, int32_t first, bint with_indices,
                            Py_ssize_t ahead) noexcept nogil:
    """:func:`_group_max_lanes` of lanes 0 .. n-1, with ``ahead``'s hints and chunks that
    start on a cache line, as :func:`_group_sum`'s."""
    cdef Py_ssize_t line = 64 // sizeof(numeric)  # lanes per cache line
    cdef Py_ssize_t c0 = 0
    if ahead:
        c0 = min(n, <Py_ssize_t>((-<size_t>p0) & 63) // <Py_ssize_t>sizeof(numeric))
        _group_max_lanes(p0, p1, p2, p3, p4, p5, p6, p7, 0, c0, m, at, first, with_indices)
        while c0 + line <= n:
            _hint_group(p0, p1, p2, p3, p4, p5, p6, p7, ahead + c0)
            _group_max_lanes(p0, p1, p2, p3, p4, p5, p6, p7, c0, c0 + line, m, at, first,
                             with_indices)
            c0 += line
    _group_max_lanes(p0, p1, p2, p3, p4, p5, p6, p7, c0, n, m, at, first, with_indices)


cdef inline void _lanes_max(const numeric* base, Py_ssize_t row_stride, Py_ssize_t H,
                            Py_ssize_t W, Py_ssize_t pixel, Py_ssize_t n, numeric* m,
                            int64_t* mi, int32_t* at, bint with_indices) noexcept nogil:
    """m[c] (and its pixel mi[c]) = the max of lane c over the H x W pixels at ``base``
    (``pixel`` values apart), in row-major pixel order by PyTorch's rule: the scan of the plane
    that lane c belongs to.

    Eight pixels at a time (:func:`_group_max`, groups running across the ends of rows, as
    :func:`_lanes_sum`'s), each lane's pixel kept as an int32 in ``at`` (n entries) and
    widened into ``mi`` at the end: a pixel at a time, each lane's maximum (and int64 index)
    was read and written once per pixel, and that traffic, not the input's, set the time
    ((256, 7, 7, 2048) float32, one thread: 17.3 ms with indices, 9.4 ms without; 8.7 ms
    with indices for the groups). Planes of more than INT32_MAX pixels with indices keep
    the pixel at a time loop, in int64."""
    cdef Py_ssize_t y = 0, w = 0, c, g, ahead
    cdef const numeric* px
    cdef const numeric* q[8]
    cdef numeric v, cur
    cdef bint take
    for c in range(n):
        m[c] = base[c]
        mi[c] = 0
        at[c] = 0
    if with_indices and H * W > INT32_MAX:
        for y in range(H):
            for w in range(1 if y == 0 else 0, W):
                px = base + y * row_stride + w * pixel
                for c in range(n):
                    v = px[c]
                    cur = m[c]
                    take = _replaces(cur, v)
                    m[c] = v if take else cur
                    mi[c] = y * W + w if take else mi[c]
        return
    # Pixel 0 again in the first group: it ties with itself (or is the same NaN), so its
    # lanes keep it.
    for g in range(H * W // 8):
        ahead = _pixel_group(base, row_stride, W, pixel, q, &y, &w)
        _group_max(q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], n, m, at, <int32_t>(8 * g),
                   with_indices, ahead)
    for g in range(H * W - H * W % 8, H * W):
        px = base + y * row_stride + w * pixel
        for c in range(n):
            _take(&m[c], &at[c], px[c], <int32_t>g)
        w += 1
        if w == W:
            w = 0
            y += 1
    if with_indices:
        for c in range(n):
            mi[c] = at[c]


cdef inline void _group_add(const numeric* p0, const numeric* p1, const numeric* p2,
                            const numeric* p3, const numeric* p4, const numeric* p5,
                            const numeric* p6, const numeric* p7, Py_ssize_t c0, Py_ssize_t c1,
                            band_acc* acc) noexcept nogil:
    """acc[c] += the sum of lane c over eight pixels, added pairwise in ``band_acc``, for
    c0 <= c < c1."""
    cdef Py_ssize_t c
    for c in range(c0, c1):
        acc[c] = acc[c] + (((<band_acc>p0[c] + <band_acc>p1[c])
                            + (<band_acc>p2[c] + <band_acc>p3[c]))
                           + ((<band_acc>p4[c] + <band_acc>p5[c])
                              + (<band_acc>p6[c] + <band_acc>p7[c])))


cdef inline void _group_sum(const numeric* p0, const numeric* p1, const numeric* p2,
                            const numeric* p3, const numeric* p4, const numeric* p5,
                            const numeric* p6, const numeric* p7, Py_ssize_t n,
                            band_acc* acc, Py_ssize_t ahead) noexcept nogil:
    """:func:`_group_add` of lanes 0 .. n-1. With ``ahead`` (values), the eight pixels that far
    on are hinted a cache line at a time as the lanes are added: eight rows a pixel apart are
    eight streams at once, which one core's hardware prefetcher fell behind on (global average
    of (256, 7, 7, 2048) float32 at one thread: 4.2 ms without the hints, 3.5 ms with the next
    group's pixels hinted, 3.6 ms with the group after it). The hints go to L2, not L1: lines
    hinted into L1 eight pixels before their turn were evicted again before it, the more so
    where pixels a multiple of 4 KB apart share an L1 set (a group's eight lines and the next
    group's eight in one 8-way set), and on CPUs whose prefetcht1 fills L1 as well (AMD's
    before Zen 4) there are no hints (``_lane_hints``). Measured on the 2-core AMD EPYC of
    2026-12-04 (whose L1 and L2 hints measured apart) at one thread, float32
    (256 * 2048 // C, 7, 7, C), ns a value with L1 hints -> with L2 hints: C = 128 0.42 ->
    0.28, C = 512 0.29 -> 0.21, C = 2048 0.22 -> 0.16; in L3, (8 * 2048 // C, 7, 7, C):
    0.12 -> 0.12 at C = 128 to 512, 0.16 -> 0.12 at C = 1024 to 4096.

    The lanes up to ``p0``'s next cache line are added first, so that the chunks after them
    start on a line (pixels a multiple of 64 bytes apart all do): NumPy's arrays start 16
    bytes into a line, where every other 32-byte load of the chunks spanned two lines (a C
    model of the loop, (256, 7, 7, 2048) float32: 5.2-5.5 ms aligned, 6.0 ms at NumPy's
    offset). Without hints, pixels of ALIGNED_GROUP_LINES lines or more are added in the
    same two parts (the head up to a line, then the rest in one loop); narrower ones in one
    loop, where the second call cost more than the split loads (the Zen 3 host, one thread,
    the one loop against the two parts: (256, 7, 7, 2048) float32 4.6-5.1 against 4.3-4.8
    ms, in cache 0.40-0.42 against 0.37-0.39; but (64, 112, 112, 3) uint8 0.75-0.76 against
    0.92, (256, 14, 14, 16) float32 0.116-0.120 against 0.152-0.156). Each lane's sum is the
    same whatever the chunks, so are its bits."""
    cdef Py_ssize_t line = 64 // sizeof(numeric)  # lanes per cache line
    cdef Py_ssize_t c0 = 0
    if ahead or n >= ALIGNED_GROUP_LINES * line:
        c0 = min(n, <Py_ssize_t>((-<size_t>p0) & 63) // <Py_ssize_t>sizeof(numeric))
        _group_add(p0, p1, p2, p3, p4, p5, p6, p7, 0, c0, acc)
    if ahead:
        while c0 + line <= n:
            _hint_group(p0, p1, p2, p3, p4, p5, p6, p7, ahead + c0)
            _group_add(p0, p1, p2, p3, p4, p5, p6, p7, c0, c0 + line, acc)
            c0 += line
    _group_add(p0, p1, p2, p3, p4, p5, p6, p7, c0, n, acc)


cdef inline void _lanes_sum(const numeric* base, Py_ssize_t row_stride, Py_ssize_t H,
                            Py_ssize_t W, Py_ssize_t pixel, Py_ssize_t n,
                            band_acc* acc) noexcept nogil:
    """acc[c] = the sum of lane c over the H x W pixels at ``base`` (``pixel`` values apart,
    rows ``row_stride`` apart), in one order fixed by the shape alone: the pixels in row-major
    order, eight at a time (:func:`_group_sum`, groups running across the ends of rows), each
    group joining the running sum, then the last H*W % 8 pixels one by one. So the bits do
    not depend on how the rows lie in memory.

    Pixels are grouped because a loop over pixels outside and lanes inside otherwise reads and
    writes every accumulator once per pixel, and that traffic, not the input's, set the speed
    (2x slower on (256, 7, 7, 2048)); lanes outside and pixels inside reads the input with a
    stride of a whole pixel, slower still.
    """
    cdef Py_ssize_t y = 0, w = 0, g, c, ahead
    cdef const numeric* q[8]
    for c in range(n):
        acc[c] = 0
    for g in range(H * W // 8):
        ahead = _pixel_group(base, row_stride, W, pixel, q, &y, &w)
        _group_sum(q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], n, acc, ahead)
    for g in range(H * W % 8):
        q[0] = base + y * row_stride + w * pixel
        for c in range(n):
            acc[c] = acc[c] + <band_acc>q[0][c]
        w += 1
        if w == W:
            w = 0
            y += 1


cdef inline (Py_ssize_t, Py_ssize_t, Py_ssize_t) _lane_task(
        Py_ssize_t task, Py_ssize_t blocks, Py_ssize_t block, Py_ssize_t lanes) noexcept nogil:
    """(image, first channel, channel count) of channels-last task ``task`` (``blocks`` tasks
    of ``block`` channels per image).

    Returned, for the prange bodies to assign: an assigned variable is each thread's own. (A
    variable a prange body only passes by address stays shared among the threads: this helper
    wrote the block's start and length through pointers from 68ded25 to 2026-12-06, and
    channels-last global max, sum and avg over images of more than one block read each
    other's channels at two threads or more.)"""
    cdef Py_ssize_t img = task // blocks
    cdef Py_ssize_t c0 = (task - img * blocks) * block
    return img, c0, min(block, lanes - c0)


def global_max_lanes(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
                     numeric[::1] out,                                                                 # OUT
                     int64_t[::1] indices,                                                             # OUT
                     bint with_indices, Py_ssize_t lanes, Py_ssize_t pixel, Py_ssize_t block,
                     int num_threads):
    """:func:`global_max` over channels-last planes: ``x`` is (B0, B1, H, W*C) with C = ``lanes``
    values per pixel, ``pixel`` values apart (more than C for a slice of the channels: rows are
    then (W-1)*pixel + C long), ``out`` (and ``indices``) (B0 * B1 * C,). Tasks are (image,
    ``block`` of channels); each scans its image's pixels in order, so results are bitwise
    identical for any thread count."""
    cdef Py_ssize_t B1 = x.shape[1], H = x.shape[2], W = (x.shape[3] - lanes) // pixel + 1
    cdef Py_ssize_t blocks = (lanes + block - 1) // block
    cdef bint trace = tracing()
    cdef Py_ssize_t row_stride = x.strides[2] // <Py_ssize_t>sizeof(numeric)
    cdef Py_ssize_t task, img, c0 = 0, n = 0
    if x.shape[0] * B1 == 0 or lanes == 0:
        return
    # Indices of a max without return_indices go to a per-thread block; the int32 pixels of
    # _lanes_max to another.
    cdef int64_t* scratch = <int64_t*>_scratch(num_threads, block, sizeof(int64_t))
    cdef int32_t* pixels = NULL
    try:
        pixels = <int32_t*>_scratch(num_threads, block, sizeof(int32_t))
        with nogil:
            for task in prange(x.shape[0] * B1 * blocks, schedule='static',
                               num_threads=num_threads):
                img, c0, n = _lane_task(task, blocks, block, lanes)
                if trace:
                    note_work(H * W * n)
                _lanes_max(&x[img // B1, img % B1, 0, 0] + c0, row_stride, H, W, pixel, n,
                           &out[img * lanes + c0],
                           &indices[img * lanes + c0] if with_indices
                           else scratch + threadid() * block, pixels + threadid() * block,
                           with_indices)
    finally:
        free(scratch)
        free(pixels)


@cython.warn.unreachable(False)  # the pair test's dropped bodies (_types.pxd)
def global_sum_lanes(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
                     sum_out[::1] out,                                                                 # OUT
                     bint mean, Py_ssize_t lanes, Py_ssize_t pixel, Py_ssize_t block,
                     int num_threads):
    """:func:`global_sum` over channels-last planes (shapes as :func:`global_max_lanes`), with
    the same accumulators: float64 for floats and means of 64-bit integers, 64-bit two's
    complement for other integers. Each lane sums its pixels in row-major order."""
    if not ((sum_out is float and numeric is float) or (sum_out is double and numeric is not float)
            or (sum_out is int64_t and numeric in signed_ints)
            or (sum_out is uint64_t and numeric in unsigned_ints)):
        raise TypeError("cpool: no summing kernel reads this input dtype into this output dtype")
    cdef Py_ssize_t B1 = x.shape[1], H = x.shape[2], W = (x.shape[3] - lanes) // pixel + 1
    cdef Py_ssize_t blocks = (lanes + block - 1) // block
    cdef bint trace = tracing()
    cdef Py_ssize_t row_stride = x.strides[2] // <Py_ssize_t>sizeof(numeric)
    cdef Py_ssize_t task, img, c0 = 0, n = 0, c
    cdef bint is_signed = _signed(<numeric*>NULL)
    cdef bint in_double = _in_double(<numeric*>NULL, mean)
    cdef double* acc
    if x.shape[0] * B1 == 0 or lanes == 0:
        return
    # Per-thread accumulators, float64 or 64-bit integers (one buffer viewed as either).
    cdef double* scratch = <double*>_scratch(num_threads, block, sizeof(double))
    try:
        with nogil:
            for task in prange(x.shape[0] * B1 * blocks, schedule='static',
                               num_threads=num_threads):
                img, c0, n = _lane_task(task, blocks, block, lanes)
                if trace:
                    note_work(H * W * n)
                acc = scratch + threadid() * block
                if in_double:
                    _lanes_sum(&x[img // B1, img % B1, 0, 0] + c0, row_stride, H, W, pixel, n,
                               acc)
                else:
                    _lanes_sum(&x[img // B1, img % B1, 0, 0] + c0, row_stride, H, W, pixel, n,
                               <uint64_t*>acc)
                _store_sums(&out[img * lanes + c0], acc, n, in_double, is_signed, mean, H * W)
    finally:
        free(scratch)

# Row-separable building blocks shared by the windowed kernels (_window.pyx, _stochastic.pyx).
#
# A window reduction runs in two passes over a per-thread row buffer: _vertical reduces the
# window's input rows column by column into the buffer, _horizontal reduces each output's columns
# of the buffer. The buffer is padded with the reduction's identity, so _horizontal needs no
# bounds. `is_max` is passed as a literal; after inlining the compiler drops the other branch.
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.stdlib cimport malloc

from cpool._kernels._simd cimport (CPOOL_SAME_3X3_KERNELS, cpool_any_negzero_or_nan_f32,
                                   cpool_any_negzero_or_nan_f64,
                                   cpool_copy_pixels, cpool_horizontal_s2_f32,
                                   cpool_horizontal_s2_f64, cpool_lanes_in_f32,
                                   cpool_lanes_in_f64, cpool_lanes_out_f32, cpool_lanes_out_f64,
                                   cpool_lanes_out_i64,
                                   cpool_prefetch, cpool_rgb8_max_2s2)
from cpool._kernels._types cimport _take_max, numeric, numeric_acc

cdef enum:
    PREFETCH_BYTES = 2048  # how far ahead of the bytes being read the kernels prefetch
    STREAM_PREFETCH_BYTES = 8192  # the same, for kernels reading their input in one stream
    # Output rows per parallel task at most (one division per task, counters within). A
    # thread's share is the same whatever it is (_row_tasks); it bounds the run of rows a row
    # kernel takes in one call and the per-task set-up. Max 3x3 s2 p1 on (4, 64, 112, 112),
    # one thread: 64 rows 0.93 of the time with 8 (runs of 55 rows a plane, not 8); 2 threads
    # 0.93-0.95; the 2x2 tiles, avg 3x3 s1, NHWC, 3-D and adaptive cases 0.96-1.01.
    ROW_CHUNK = 64
    # Small planes (_window's _small_plane_rows) and runs of short planes' rows (the 2x2
    # tiles', max with indices', stochastic evaluation's): rows of at most this many values.
    # On 56-wide rows the small planes' path gained 20% at one thread (the division pass
    # vectorises) but lost 4-10% at two threads on inputs in memory.
    SHORT_ROW = 32
    LONG_ROW_HINT_BYTES = 16384  # rows up to this long get the next window's rows hinted whole
    # Per-thread slots of 8-byte entries for small state that threads write as they go (a
    # divisor row's built-for count, stochastic training's row keys and cursor): up to 8
    # used and a cache line more, so that no two threads' slots share a line whatever
    # malloc's alignment (adjacent slots did, and each write took the line from the other).
    THREAD_SLOT = 16
    # Small float planes side by side, as the lanes of channels-last pixels (_window's
    # _lane_planes, _backward's _lane_planes_backward): pixels of this many bytes (64 float32
    # planes, 32 float64) ...
    LANE_PIXEL_BYTES = 256
    # ... or fewer, down to this many, where the groups would leave a thread without work
    # (a vector's lanes took as long as the planes' own kernels) ...
    LANE_PIXEL_MIN_BYTES = 64
    # ... of planes of at most this many bytes each (22 x 22 float32, 16 x 16 float64); on
    # larger ones the planes' kernels were faster (adaptive max 28 -> 7: 1.3x the time).
    LANE_PLANE_BYTES = 2048
    LANE_GROUP_MAX = 64  # planes a group at most: LANE_PIXEL_BYTES of float32


cdef inline numeric_acc _read(numeric v, numeric_acc* like, bint square) noexcept nogil:
    """``v`` in the buffer's dtype (``like``'s), squared with ``square``."""
    cdef numeric_acc a = <numeric_acc>v
    return a * a if square else a


cdef inline numeric_acc _from_zero(numeric_acc total) noexcept nogil:
    """``total + 0``: a sum as PyTorch makes it, from a +0 start. Only a sum of -0s changes
    (-0 + 0 is +0, where a sum that starts at its first term stays -0); NaN, inf and every
    other value keep their bits, and integers are unchanged. Applied once per sum (or per
    gradient); averages take :func:`_average`'s instead. (C may not fold ``x + 0``
    away for floats: it honours signed zeros.)"""
    return total + 0


cdef inline numeric_acc _average(numeric_acc total, numeric_acc divisor, bint reciprocal,
                                 bint zero_first) noexcept nogil:
    """An average as PyTorch makes it: ``total`` divided by its count (times ``divisor``, the
    count's exact reciprocal, with ``reciprocal``), and PyTorch's +0 added, which turns a -0
    into +0 and leaves every other value. avg_pool writes its quotients into a zeroed result,
    so its +0 comes after the division (never a -0 average, not even for a negative
    divisor_override or a tiny negative sum whose quotient underflows); adaptive pooling's
    sums start from +0 (``zero_first``), so its +0 comes before (an underflowing quotient
    keeps its sign). ``reciprocal`` and ``zero_first`` are the same for a whole loop, whose
    versions the compiler makes apart (loop unswitching), each with one add."""
    if zero_first:
        total = total + 0
    cdef numeric_acc q = total * divisor if reciprocal else total / divisor
    return q if zero_first else q + 0


cdef inline numeric_acc _combine(numeric_acc a, numeric_acc b, bint is_max) noexcept nogil:
    if is_max:
        return _take_max(a, b)
    if numeric_acc is int64_t:
        # int64 sums wrap modulo 2**64 as NumPy's do; added as uint64, since signed overflow is
        # undefined behaviour in C (the same machine add, and the sanitizer job stays clean).
        return <int64_t>(<uint64_t>a + <uint64_t>b)
    return a + b


cdef inline bint _any_negzero_or_nan(const numeric* p, Py_ssize_t n) noexcept nogil:
    """Whether any of p[0:n] is -0 or NaN: the cells whose bits a max may have to choose
    between (a +0 tie, a NaN payload). Never, for integers."""
    if numeric is float:
        return cpool_any_negzero_or_nan_f32(p, n)
    elif numeric is double:
        return cpool_any_negzero_or_nan_f64(p, n)
    return False


cdef inline void _prefetch_at(const char* p, Py_ssize_t nbytes) noexcept nogil:
    """Hint the cache lines of ``nbytes`` at ``p``."""
    cdef Py_ssize_t off
    for off in range(0, nbytes, 64):
        cpool_prefetch(p + off)


cdef inline void _prefetch_ahead(const void* start, Py_ssize_t nbytes) noexcept nogil:
    """Hint the cache lines PREFETCH_BYTES past the ``nbytes`` at ``start``.

    Kernels reading short runs (a small plane, a short row) do per-run work (a lane combine, a
    horizontal pass) between the runs, which leaves gaps in the read stream that one core's
    hardware prefetcher does not cover; the hint keeps the next lines in flight (about 25% on
    global pooling of (256, 2048, 7, 7) at one thread). A prefetch never faults, so hints past
    the end of the input are harmless.
    """
    _prefetch_at(<const char*>start + PREFETCH_BYTES, nbytes)


cdef inline void _prefetch_page_starts(const char* p, Py_ssize_t nbytes) noexcept nogil:
    """Hint the first two cache lines of the run of ``nbytes`` at ``p`` and of every 4 KB page
    that starts inside it: what the hardware prefetcher, which stops at page boundaries, needs
    to pick a row's stream up on each page, without a hint for every line. A burst of a hint
    per line waits for the core's fill buffers: max 2x2 on (8, 3, 1024, 1024), one thread, a
    C model of the tiles, 0.73-0.77 of the time to read the input with every line of the next
    window's rows hinted, 0.87-0.93 with these (and 0.70-0.82 with none)."""
    cdef const char* end = p + nbytes
    cdef const char* page = <const char*>((<size_t>p + 4095) & ~(<size_t>4095))
    cpool_prefetch(p)
    cpool_prefetch(p + 64)
    while page < end:
        cpool_prefetch(page)
        cpool_prefetch(page + 64)
        page += 4096


cdef inline void _prefetch_stream(const void* start, Py_ssize_t nbytes) noexcept nogil:
    """Hint the cache lines STREAM_PREFETCH_BYTES past the ``nbytes`` at ``start``: for kernels
    that read the input front to back in one stream, short runs of it at a time (global pooling
    of small contiguous planes).

    Each run converts and adds (float64 sums) or compares, so fewer bytes are in flight than in
    a plain copy, and hints PREFETCH_BYTES ahead arrived late: global average pooling of
    (256, 2048, 7, 7) float32 at one thread took 3.06 ms with them and 2.48 ms with these, where
    reading the input alone takes 2.0-2.2 ms (a C model of the loop, same machine and run).
    """
    _prefetch_at(<const char*>start + STREAM_PREFETCH_BYTES, nbytes)


cdef inline void _prefetch_rows(const numeric* last_row, Py_ssize_t step, Py_ssize_t n_rows,
                                Py_ssize_t sh, Py_ssize_t W) noexcept nogil:
    """_prefetch_ahead for the input rows that a window of ``n_rows`` rows (``step`` elements
    apart, ending at ``last_row``) adds to the sweep: its last ``sh`` rows.

    Output rows sweep the plane top to bottom, each window's last row advancing by the vertical
    stride ``sh``, so hinting a window's last ``sh`` rows hints every input row once. The hints
    go in ascending address order: issued the other way round they ran slower than none (the
    hardware prefetcher seems to train on them). Skipped for:

    * ``sh == 1``: each row is then read ``kh`` times, once per window, so the reading is slow
      enough for the hardware prefetcher; hints measured 1-5% faster on inputs in memory and
      4-8% slower on inputs in cache.

    Rows longer than the prefetch distance get the next window's new rows hinted instead, at
    the start of the row and of each 4 KB page in it (:func:`_prefetch_page_starts`). A window
    reads its rows side by side, so each 4 KB page is one short stream of its own, which the
    hardware prefetcher (it stops at page boundaries) trains on anew every page: max 2x2 on
    (8, 3, 1024, 1024) at one thread took 8.4 ms without the hints and 4.2 ms with every line
    of the rows hinted (0.37 -> 0.71 of copy); a hint per line then cost about 15% of the time
    itself (2026-12-04), which the page starts save. Rows of channels-last pixels (57 KB for
    (32, 56, 56, 256)) stream well on their own, and the bursts of hints slowed them by half.
    """
    cdef Py_ssize_t t, n = min(sh, n_rows)
    if sh > 1 and W * <Py_ssize_t>sizeof(numeric) <= PREFETCH_BYTES:
        for t in range(n - 1, -1, -1):
            _prefetch_ahead(last_row - t * step, W * sizeof(numeric))
    elif sh > 1 and W * <Py_ssize_t>sizeof(numeric) <= LONG_ROW_HINT_BYTES:
        for t in range(1, n + 1):
            _prefetch_page_starts(<const char*>(last_row + t * step), W * sizeof(numeric))


cdef inline void _prefetch_slices(const numeric* first, Py_ssize_t depth_step,
                                  Py_ssize_t n_depth, Py_ssize_t step, Py_ssize_t n_rows,
                                  Py_ssize_t sh, Py_ssize_t W) noexcept nogil:
    """:func:`_prefetch_rows` for each of a window's ``n_depth`` slices (``depth_step`` apart),
    whose ``n_rows`` rows start at ``first``: one slice for a 2-D window."""
    cdef Py_ssize_t sl
    for sl in range(n_depth):
        _prefetch_rows(first + sl * depth_step + (n_rows - 1) * step, step, n_rows, sh, W)


cdef inline void _vertical_more(const numeric* row0, Py_ssize_t step, Py_ssize_t n_rows,
                                Py_ssize_t W, numeric_acc* buf, bint is_max,
                                bint square=False) noexcept nogil:
    """buf[j] = buf[j] combined with rows row0 + t*step (t < n_rows) of column j, in order: the
    rows after a window's first ones (further rows, or further depth slices of a 3-D window).
    Three rows per sweep of the buffer (a 3x3x3 window's slices in one each); ``square`` as
    in :func:`_vertical`."""
    cdef Py_ssize_t t = 0, j
    cdef const numeric* r0
    cdef const numeric* r1
    cdef const numeric* r2
    while t + 3 <= n_rows:
        r0 = row0 + t * step
        r1 = r0 + step
        r2 = r1 + step
        for j in range(W):
            buf[j] = _combine(_combine(_combine(buf[j], _read(r0[j], buf, square), is_max),
                                       _read(r1[j], buf, square), is_max), _read(r2[j], buf, square), is_max)
        t += 3
    r0 = row0 + t * step
    r1 = r0 + step
    if n_rows - t == 2:
        for j in range(W):
            buf[j] = _combine(_combine(buf[j], _read(r0[j], buf, square), is_max), _read(r1[j], buf, square),
                              is_max)
    elif n_rows - t == 1:
        for j in range(W):
            buf[j] = _combine(buf[j], _read(r0[j], buf, square), is_max)


cdef inline void _fold_three(const numeric* r0, const numeric* r1, const numeric* r2,
                             Py_ssize_t W, numeric_acc* buf, bint is_max,
                             bint square=False) noexcept nogil:
    """buf[j] = rows r0, r1 and r2 of column j folded in that order, wherever each row lies
    (:func:`_vertical`'s first three rows; a 2x2x2 window's d0h0, d0h1 and d1h0)."""
    cdef Py_ssize_t j
    for j in range(W):
        buf[j] = _combine(_combine(_read(r0[j], buf, square), _read(r1[j], buf, square),
                                   is_max), _read(r2[j], buf, square), is_max)


cdef inline void _vertical(const numeric* row0, Py_ssize_t step, Py_ssize_t n_rows, Py_ssize_t W,
                           numeric_acc* buf, numeric_acc identity, bint is_max,
                           bint square=False) noexcept nogil:
    """buf[j] = reduction over rows row0 + t*step (t < n_rows) of column j, folded in row order.
    With ``square`` (sums only: LP pooling's p = 2) each value is squared in the buffer's dtype
    as it is read, as ``x * x`` would be."""
    cdef Py_ssize_t j
    cdef const numeric* r0 = row0
    cdef const numeric* r1 = row0 + step
    cdef const numeric* r2 = row0 + 2 * step
    if n_rows == 0:
        for j in range(W):
            buf[j] = identity
    elif n_rows == 1:
        for j in range(W):
            buf[j] = _read(r0[j], buf, square)
    elif n_rows == 2:
        for j in range(W):
            buf[j] = _combine(_read(r0[j], buf, square), _read(r1[j], buf, square), is_max)
    else:  # three rows in one sweep, then any further rows
        _fold_three(r0, r1, r2, W, buf, is_max, square)
        _vertical_more(row0 + 3 * step, step, n_rows - 3, W, buf, is_max, square)


cdef inline void _vertical_grid(const numeric* row0, Py_ssize_t depth_step, Py_ssize_t n_depth,
                                Py_ssize_t step, Py_ssize_t n_rows, Py_ssize_t W,
                                numeric_acc* buf, numeric_acc identity, bint is_max,
                                bint square=False) noexcept nogil:
    """:func:`_vertical` over the rows of a window with a depth: ``n_depth`` slices
    ``depth_step`` apart, each ``n_rows`` rows ``step`` apart (a 3-D window's (d, h) rows;
    ``n_depth`` is 1 for a 2-D window). Folded in (d, h) order, PyTorch's scan order."""
    cdef Py_ssize_t s
    _vertical(row0, step, n_rows if n_depth > 0 else 0, W, buf, identity, is_max, square)
    for s in range(1, n_depth):
        _vertical_more(row0 + s * depth_step, step, n_rows, W, buf, is_max, square)


cdef inline void _horizontal_lanes(const numeric_acc* buf, numeric_acc* out, numeric_acc* tmp,
                                   Py_ssize_t OW, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
                                   Py_ssize_t lanes, bint is_max) noexcept nogil:
    """:func:`_horizontal` over pixels of ``lanes`` values each (channels-last rows): output
    pixel i reduces the pixels i*sw + u*dw, u < kw, lane by lane, in the same order (so sums
    match the one-lane kernels bit for bit).

    The reduction runs as if the stride were 1: every tap is then one contiguous run over the
    row, vectorised across pixels and lanes together, whatever the pixel's width. With a
    larger stride, that runs into ``tmp`` (``(OW-1)*sw + 1`` pixels) and every sw-th pixel is
    copied out: for an RGB image that beat a loop over each pixel's three lanes 3x, at the cost
    of reducing the pixels between windows too."""
    cdef Py_ssize_t c, u, step = dw * lanes
    cdef Py_ssize_t n = ((OW - 1) * sw + 1) * lanes
    cdef numeric_acc* dst = out if sw == 1 else tmp
    cdef const numeric_acc* src
    if (numeric_acc is uint8_t and is_max and lanes == 3 and kw == 2 and sw == 2 and dw == 1
            and cpool_rgb8_max_2s2(<const unsigned char*>buf, <unsigned char*>out, OW)):
        return  # RGB images 2x2: one pass, no copy of the pixels
    if kw == 1:
        for c in range(n):
            dst[c] = buf[c]
    else:
        src = buf + step
        for c in range(n):
            dst[c] = _combine(buf[c], src[c], is_max)
        for u in range(2, kw):
            src = buf + u * step
            for c in range(n):
                dst[c] = _combine(dst[c], src[c], is_max)
    if sw != 1:
        cpool_copy_pixels(<const char*>tmp, <char*>out, OW,
                          sw * lanes * <Py_ssize_t>sizeof(numeric_acc),
                          lanes * <Py_ssize_t>sizeof(numeric_acc))


cdef inline void _horizontal(const numeric_acc* buf, numeric_acc* out, Py_ssize_t OW, Py_ssize_t kw,
                             Py_ssize_t sw, Py_ssize_t dw, bint is_max) noexcept nogil:
    """out[i] = reduction over u < kw of buf[i*sw + u*dw] (buf is padded: no bounds to check).
    Floats at stride 2 over 2 or 3 taps: cpool_horizontal_s2's vectors, the same steps."""
    cdef Py_ssize_t i, u
    if dw == 1 and sw == 2 and (kw == 2 or kw == 3):
        if numeric_acc is float:
            cpool_horizontal_s2_f32(buf, out, OW, kw, 2 if is_max else 0)
            return
        elif numeric_acc is double:
            cpool_horizontal_s2_f64(buf, out, OW, kw, 2 if is_max else 0)
            return
    if dw == 1 and sw == 2 and kw == 2:
        for i in range(OW):
            out[i] = _combine(buf[2 * i], buf[2 * i + 1], is_max)
    elif dw == 1 and sw == 2 and kw == 3:
        for i in range(OW):
            out[i] = _combine(_combine(buf[2 * i], buf[2 * i + 1], is_max), buf[2 * i + 2], is_max)
    elif dw == 1 and sw == 1 and kw == 3:
        for i in range(OW):
            out[i] = _combine(_combine(buf[i], buf[i + 1], is_max), buf[i + 2], is_max)
    elif dw == 1 and sw == 1 and kw == 2:
        for i in range(OW):
            out[i] = _combine(buf[i], buf[i + 1], is_max)
    elif sw == 1:
        for i in range(OW):
            out[i] = buf[i]
        for u in range(1, kw):
            for i in range(OW):
                out[i] = _combine(out[i], buf[i + u * dw], is_max)
    else:
        for i in range(OW):
            out[i] = buf[i * sw]
        for u in range(1, kw):
            for i in range(OW):
                out[i] = _combine(out[i], buf[i * sw + u * dw], is_max)


cdef inline int64_t* _thread_slots(Py_ssize_t num_threads) except NULL:
    """One THREAD_SLOT per thread (thread t's from entry ``t * THREAD_SLOT``), each slot's
    first entry -1: nothing recorded yet."""
    cdef int64_t* slots = <int64_t*>_scratch(num_threads, THREAD_SLOT, sizeof(int64_t))
    cdef Py_ssize_t i
    for i in range(num_threads):
        slots[i * THREAD_SLOT] = -1
    return slots


cdef inline numeric_acc* _plane_divisors(numeric_acc* divs, int64_t* built,
                                         const int64_t* count_h, const int64_t* count_w,
                                         Py_ssize_t OH, Py_ssize_t OW,
                                         bint reciprocal) noexcept nogil:
    """A small plane's divisors (OH * OW at ``divs``, a thread's buffer), made on the thread's
    first plane (``*built`` < 0; the same for every plane): each count exact in int64, rounded
    once (as _divisor_row), or with ``reciprocal`` its reciprocal, exact for a power of two."""
    cdef Py_ssize_t oh, i
    if built[0] < 0:
        for oh in range(OH):
            for i in range(OW):
                divs[oh * OW + i] = (
                    <numeric_acc>1 / <numeric_acc>(count_h[oh] * count_w[i])
                    if reciprocal else <numeric_acc>(count_h[oh] * count_w[i]))
        built[0] = 1
    return divs


cdef inline bint _power_of_two(int64_t n) noexcept nogil:
    """Whether n is 1, 2, 4, ... (its reciprocal is then exact in floating point: a product by
    it has the bits of the division, including for subnormal results)."""
    return n > 0 and (n & (n - 1)) == 0


cdef inline bint _powers_of_two(const int64_t[::1] counts) noexcept nogil:
    """Whether every count is a power of two (so is every product of them: a window's cells)."""
    cdef Py_ssize_t i
    for i in range(counts.shape[0] if counts is not None else 0):
        if not _power_of_two(counts[i]):
            return False
    return True


cdef inline int64_t _one_count(const int64_t[::1] counts) noexcept nogil:
    """The count every entry holds, or 0 where they differ (or there are none)."""
    cdef Py_ssize_t i
    if counts is None or counts.shape[0] == 0:
        return 0
    for i in range(1, counts.shape[0]):
        if counts[i] != counts[0]:
            return 0
    return counts[0]


cdef inline Py_ssize_t _row_tasks(Py_ssize_t n_rows, int num_threads) noexcept nogil:
    """The parallel tasks over ``n_rows`` output rows: a multiple of the thread count with at
    most ROW_CHUNK rows each, task c taking rows [c*n_rows // T, (c+1)*n_rows // T)
    (:func:`_task_row`). A static schedule gives every thread T / threads consecutive tasks,
    so every thread the floor or the ceiling of n_rows / threads rows. (Fixed tasks of 8 rows
    left some threads 11% less on NHWC 2x2 at 13 threads: 112 tasks, 9 or 8 per thread.)"""
    cdef Py_ssize_t n = max(num_threads, 1)
    cdef Py_ssize_t per_thread = (n_rows + ROW_CHUNK * n - 1) // (ROW_CHUNK * n)
    return min(n_rows, n * per_thread)


cdef inline Py_ssize_t _task_row(Py_ssize_t task, Py_ssize_t n_rows,
                                 Py_ssize_t n_tasks) noexcept nogil:
    """The first of task ``task``'s rows, of ``n_rows`` split into ``n_tasks`` by
    :func:`_row_tasks` (``task`` = ``n_tasks``: the end of the last task's)."""
    return task * n_rows // n_tasks


cdef inline bint _outputs_run(const Py_ssize_t* out_strides, Py_ssize_t B0, Py_ssize_t B1,
                              Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t itemsize) noexcept nogil:
    """Whether a 4-D (B0, B1, OH, OW) result is contiguous, plane after plane, batch after
    batch (strides in bytes): the runs of rows write a task's rows as one block."""
    return (out_strides[2] == OW * itemsize
            and (B1 == 1 or out_strides[1] == OH * OW * itemsize)
            and (B0 == 1 or out_strides[0] == B1 * OH * OW * itemsize))


cdef inline bint _planes_run(const Py_ssize_t* x_strides, const Py_ssize_t* out_strides,
                             Py_ssize_t B0, Py_ssize_t B1, Py_ssize_t OH, Py_ssize_t OW,
                             Py_ssize_t rows_apart, Py_ssize_t itemsize) noexcept nogil:
    """Whether every plane's windows' rows follow the last plane's in one run of rows
    ``rows_apart`` input rows apart (plane after plane, batch after batch), and the outputs
    are contiguous (:func:`_outputs_run`): the 2x2 tiles' rows then take one call per task.
    (Strides in bytes, of 4-D views.)"""
    cdef Py_ssize_t plane = OH * rows_apart * x_strides[2]
    return ((B1 == 1 or x_strides[1] == plane) and (B0 == 1 or x_strides[0] == B1 * plane)
            and _outputs_run(out_strides, B0, B1, OH, OW, itemsize))


cdef inline numeric_acc* _divisor_row(numeric_acc* drow, int64_t* built_for, int64_t count_h,
                                      const int64_t* count_w, Py_ssize_t n,
                                      bint reciprocal=False) noexcept nogil:
    """The average divisors of one output row into ``drow``: ``count_h * count_w[i]``, exact in
    int64 and rounded once to the dtype, as PyTorch's integer divisor is. Returns ``drow``.
    With ``reciprocal`` (every count a power of two, floating dtypes) their reciprocals, exact:
    a product by one has the bits of the division.

    Divisors are separable (a window's count is its height's count times its width's), so two
    count vectors of O(OH + OW) replace an (OH, OW) table. The row is rebuilt only when
    ``count_h`` differs from ``built_for[0]`` (start it at -1), which interior rows never do."""
    cdef Py_ssize_t i
    if count_h != built_for[0]:
        built_for[0] = count_h
        for i in range(n):
            drow[i] = (<numeric_acc>1 / <numeric_acc>(count_h * count_w[i]) if reciprocal
                       else <numeric_acc>(count_h * count_w[i]))
    return drow


cdef inline void _horizontal_clipped(const numeric_acc* buf, numeric_acc* out, Py_ssize_t OW,
                                     const Py_ssize_t* lo, const Py_ssize_t* n, Py_ssize_t dw,
                                     numeric_acc identity, bint is_max,
                                     Py_ssize_t lanes) noexcept nogil:
    """out[i] = reduction over t < n[i] of buf[lo[i] + t*dw] (the identity for n[i] == 0), per
    lane of pixels of ``lanes`` values.

    The general kernels' horizontal pass, over an unpadded row and each window's in-bounds
    taps only (``w_lo``/``w_n`` from the geometry): memory and work follow the row, not the
    kernel or the padding, where :func:`_horizontal`'s padded row would be mostly padding."""
    cdef Py_ssize_t i, t, c
    cdef numeric_acc acc, v
    cdef const numeric_acc* src
    cdef bint nan_seen
    if is_max and lanes == 1 and (numeric_acc is float or numeric_acc is double):
        # Windows of a few taps each, of varying count (adaptive pooling): PyTorch's rule as a
        # select compiled to branches, which random data mispredicted every other tap (13 -> 7
        # adaptive max: 4.4 ms, against 0.37 ms for 13 -> 6, whose windows are regular). The
        # plain ``v > acc`` select is maxss, branch-free; a window with a NaN is taken again
        # by the rule, for its last NaN.
        for i in range(OW):
            src = buf + lo[i]
            if n[i] <= 0:
                out[i] = identity
                continue
            acc = src[0]
            nan_seen = acc != acc
            for t in range(1, n[i]):
                v = src[t * dw]
                acc = v if v > acc else acc
                nan_seen = nan_seen | (v != v)
            if nan_seen:
                acc = src[0]
                for t in range(1, n[i]):
                    acc = _take_max(acc, src[t * dw])
            out[i] = acc
        return
    for i in range(OW):
        for c in range(lanes):
            src = buf + lo[i] * lanes + c
            acc = src[0] if n[i] > 0 else identity
            for t in range(1, n[i]):
                acc = _combine(acc, src[t * dw * lanes], is_max)
            out[i * lanes + c] = acc


cdef inline Py_ssize_t _padded_width(Py_ssize_t W, Py_ssize_t OW, Py_ssize_t kw, Py_ssize_t sw,
                                     Py_ssize_t dw, Py_ssize_t pad_w) noexcept nogil:
    """Length in pixels of the padded row buffer: ``pad_w`` left padding cells, the ``W``
    values, then padding up to the last window's last tap (ceil-mode windows may reach past the
    right padding)."""
    return max(pad_w + W, (OW - 1) * sw + (kw - 1) * dw + 1)


cdef inline Py_ssize_t _first_inner(Py_ssize_t OW, Py_ssize_t sw,
                                    Py_ssize_t pad_w) noexcept nogil:
    """The first output of a row whose window starts inside it (past the left padding)."""
    return min(OW, (pad_w + sw - 1) // sw)


cdef inline Py_ssize_t _inner_end(Py_ssize_t i_lo, Py_ssize_t W, Py_ssize_t OW, Py_ssize_t kw,
                                  Py_ssize_t sw, Py_ssize_t dw,
                                  Py_ssize_t pad_w) noexcept nogil:
    """The end of the outputs from ``i_lo`` (:func:`_first_inner`) whose every tap lies in
    the row: [i_lo, end) reach into no padding and past no end of the row."""
    cdef Py_ssize_t last = W - 1 + pad_w - (kw - 1) * dw  # the last first tap in the row
    # (C division, cdivision: no negative numerator)
    return max(i_lo, min(OW, last // sw + 1)) if last >= 0 else i_lo


cdef inline void _pad_edges(numeric_acc* buf, Py_ssize_t pad_w, Py_ssize_t W, Py_ssize_t width,
                            numeric_acc value) noexcept nogil:
    """Fill the padding cells of a padded row buffer (all but ``buf[pad_w:pad_w + W]``)."""
    cdef Py_ssize_t i
    for i in range(pad_w):
        buf[i] = value
    for i in range(pad_w + W, width):
        buf[i] = value


cdef inline Py_ssize_t _buffer_stride(Py_ssize_t width, size_t itemsize) noexcept nogil:
    """Elements between two threads' row buffers: whole cache lines plus one spare line, so
    threads writing short rows never share a line (false sharing made 2 threads slower than 1)."""
    return ((width * <Py_ssize_t>itemsize + 63) // 64 + 1) * 64 // <Py_ssize_t>itemsize


cdef inline void* _scratch(Py_ssize_t num_threads, Py_ssize_t stride, size_t itemsize) except NULL:
    """One row buffer per thread, allocated with the GIL held so failure raises MemoryError."""
    cdef void* buf = malloc(<size_t>(num_threads * stride) * itemsize)
    if buf == NULL:
        raise MemoryError("cpool: could not allocate the per-thread row buffers")
    return buf


# Parallel loops run over chunks of consecutive items of a (B0, B1, n_inner) iteration space
# (planes x output rows, or planes x bands). One division locates a chunk's first item; plain
# counters step through the rest (a division per item costs more than a short row's work).
cdef inline void _locate(Py_ssize_t item, Py_ssize_t n_inner, Py_ssize_t B1, Py_ssize_t* b0,
                         Py_ssize_t* b1, Py_ssize_t* inner) noexcept nogil:
    """(b0, b1, inner) of flat item ``item``."""
    cdef Py_ssize_t plane = item // n_inner
    inner[0] = item - plane * n_inner
    b0[0] = plane // B1
    b1[0] = plane - b0[0] * B1


cdef inline void _step(Py_ssize_t n_inner, Py_ssize_t B1, Py_ssize_t* b0, Py_ssize_t* b1,
                       Py_ssize_t* inner) noexcept nogil:
    """Advance (b0, b1, inner) to the next flat item."""
    inner[0] += 1
    if inner[0] == n_inner:
        inner[0] = 0
        b1[0] += 1
        if b1[0] == B1:
            b1[0] = 0
            b0[0] += 1


cdef inline bint _same_3x3(bint floats, Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH,
                           Py_ssize_t OW, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
                           Py_ssize_t pad_w, Py_ssize_t dh, const Py_ssize_t[::1] h_lo,
                           const Py_ssize_t[::1] h_n, Py_ssize_t itemsize,
                           Py_ssize_t row_bytes=32) noexcept nogil:
    """Whether the windows of planes of ``floats`` are the "same" 3x3 at stride 1 (padding 1
    both ways: avg_pool2d(x, 3, 1, 1), max_pool2d(x, 3, 1, 1)) that cpool_same_3x3_sums and
    cpool_same_3x3_max take a plane at a time: rows of a vector or more (``row_bytes``; less
    for cpool_same_3x3_argmax, which copies shorter rows a vector apart), AVX2 build.

    An empty batch's bounds are not made (the arrays are empty whatever OH is): nothing then
    reads them, and the answer is False (AddressSanitizer: an 8-byte read of an empty array,
    a Dask stand-in of stochastic_pool2d(x, 3, 1, 1, training=False))."""
    cdef Py_ssize_t oh
    if not (CPOOL_SAME_3X3_KERNELS and floats and kw == 3 and sw == 1 and dw == 1 and pad_w == 1
            and dh == 1 and OH == H and OW == W and W * itemsize >= row_bytes
            and h_lo.shape[0] >= OH and h_n.shape[0] >= OH):
        return False
    for oh in range(OH):
        if h_lo[oh] != max(oh - 1, 0) or h_lo[oh] + h_n[oh] != min(oh + 2, H):
            return False
    return True


cdef inline Py_ssize_t _lane_group(Py_ssize_t P, Py_ssize_t H, Py_ssize_t W,
                                   Py_ssize_t itemsize, int num_threads) noexcept nogil:
    """The planes _window's ``_lane_planes`` (and _backward's ``_lane_planes_backward``) put
    side by side a task: LANE_PIXEL_BYTES of lanes,
    halved (to LANE_PIXEL_MIN_BYTES at least) while the groups would give a thread fewer than
    four, or 0: planes over LANE_PLANE_BYTES, or fewer groups than threads."""
    cdef Py_ssize_t G = LANE_PIXEL_BYTES // itemsize
    cdef Py_ssize_t threads = max(num_threads, 1)
    if H * W * itemsize > LANE_PLANE_BYTES:
        return 0
    while G * itemsize > LANE_PIXEL_MIN_BYTES and P < 4 * G * threads:
        G //= 2
    return G if P >= G * threads else 0


cdef inline void _lanes_in(const numeric** src, Py_ssize_t n, numeric* dst, Py_ssize_t G,
                           Py_ssize_t ahead) noexcept nogil:
    """dst[i*G + g] = src[g][i] for i < n, g < G (floats: cpool_lanes_in's vectors of
    planes, which hint the lines ``ahead`` bytes on into L2)."""
    cdef Py_ssize_t s
    if numeric is float:
        for s in range(0, G, 8):
            cpool_lanes_in_f32(<const float**>src + s, n, <float*>dst + s, G, ahead)
    elif numeric is double:
        for s in range(0, G, 4):
            cpool_lanes_in_f64(<const double**>src + s, n, <double*>dst + s, G, ahead)


cdef inline void _lanes_out(const numeric* src, Py_ssize_t n, Py_ssize_t G,
                            numeric** dst) noexcept nogil:
    """dst[g][i] = src[i*G + g] for i < n, g < G (:func:`_lanes_in` reversed; int64 too: the
    indices of max pooling side by side)."""
    cdef Py_ssize_t s
    if numeric is float:
        for s in range(0, G, 8):
            cpool_lanes_out_f32(<const float*>src + s, n, G, <float**>dst + s)
    elif numeric is double:
        for s in range(0, G, 4):
            cpool_lanes_out_f64(<const double*>src + s, n, G, <double**>dst + s)
    elif numeric is int64_t:
        for s in range(0, G, 4):
            cpool_lanes_out_i64(<const int64_t*>src + s, n, G, <int64_t**>dst + s)

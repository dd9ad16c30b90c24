"""Stochastic pooling (Zeiler & Fergus, ICLR 2013): training draws and the eval-mode average.

Design
------
* Inputs and geometry as in ``_window.pyx``: 4-D ``(B0, B1, H, W)`` views with a contiguous last
  axis, and per-output-row/column window bounds from ``cpool._validation.window_bounds``
  (dilation 1). Padding and ceil-mode overhang are never read, so they count as 0.
* Training: in a window with activations ``a_i >= 0`` and ``s = sum(a)``, output ``a_l`` where
  ``l`` is the first tap, in row-major order, whose running sum exceeds ``u * s``, i.e. a draw
  from ``p_i = a_i / s`` (sums in the input dtype, tap by tap in row-major order). Zero cells can never be drawn. ``s == 0`` gives 0 (and the window's first
  tap as index), a NaN gives NaN (the first NaN), an infinite ``s`` the first infinity.
* Reproducible for any thread count: ``u`` is not taken from a shared stream but computed from
  (key, flat output index) by a counter-based generator (the SplitMix64 finaliser, a bijective
  64-bit mixer, of ``key + (index + 1) * 0x9E3779B97F4A7C15``; ``u`` is its top 52 bits over
  2**52), so each output's draw depends only on the key and its position.
* Eval: ``sum(a^2) / sum(a)`` (0 for an all-zero window), row-separable like ``_window.pyx``:
  column sums of ``a`` and ``a^2`` into two row buffers, then window sums of each. Sums are in
  the input dtype, as average pooling's are (float32 squares overflow above ~1.8e19).
* Negative inputs are found inside the kernels (a min-reduction over the pass that reads the
  values anyway); the caller raises. No extra pass over the data.
"""
from cython cimport floating, view
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcpy

from cpool._kernels._rows cimport (_buffer_stride, _horizontal, _locate, _padded_width, _scratch,
                                  _step)

cdef enum:
    ROW_CHUNK = 8  # output rows per parallel task (one division per chunk, counters within)


cdef inline double _uniform(uint64_t key, uint64_t counter) noexcept nogil:
    """A uniform double in [0, 1) from (key, counter): SplitMix64's finaliser of key + (counter+1)*phi.

    The top 52 bits become the mantissa of a double in [1, 2), minus 1: exactly k / 2**52, and
    vectorisable (a uint64 -> double conversion is not, before AVX-512).
    """
    cdef uint64_t z = key + (counter + 1) * <uint64_t>0x9E3779B97F4A7C15ULL
    cdef double d
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    z = z ^ (z >> 31)
    z = (z >> 12) | <uint64_t>0x3FF0000000000000ULL
    memcpy(&d, &z, sizeof(double))
    return d - 1.0


cdef inline double _draw(const floating* plane, Py_ssize_t row_step, Py_ssize_t W, Py_ssize_t y0,
                         Py_ssize_t nh, Py_ssize_t x0, Py_ssize_t nw, uint64_t key,
                         uint64_t counter, floating* value, int64_t* index) noexcept nogil:
    """Draw one window's sample into value/index, one window at a time; return its smallest value.

    The scalar path of :func:`stochastic_train`, used for the rare windows whose sum is NaN or
    infinite (the first NaN, or the first infinity, is drawn). An all-zero window (or one without
    in-bounds taps) gives 0 and its first tap's index.
    """
    cdef Py_ssize_t t, u, k
    cdef double s = 0, smallest = INFINITY, threshold, run = 0
    cdef floating v
    cdef const floating* row
    cdef bint found = False
    # Pass 1: the window's sum in float64 and its minimum (the caller rejects negatives).
    for t in range(nh):
        row = plane + (y0 + t) * row_step + x0
        for u in range(nw):
            v = row[u]
            s = s + v
            smallest = v if v < smallest else smallest
    value[0] = 0
    index[0] = y0 * W + x0
    if s > 0 and s < INFINITY:
        # Pass 2, the inverse CDF: the drawn tap is the first whose running sum exceeds u*s.
        # Running sums never decrease, so its number is the count of taps whose running sum
        # stays at or below u*s: branch-free (which tap wins is random, so branches would
        # mispredict), and a zero cell can never be the first to cross.
        threshold = _uniform(key, counter) * s
        k = 0
        for t in range(nh):
            row = plane + (y0 + t) * row_step + x0
            for u in range(nw):
                run = run + row[u]
                k += run <= threshold
        if k == nh * nw:  # only if rounding kept every running sum at or below u*s
            k = k - 1
            while plane[(y0 + k // nw) * row_step + x0 + k % nw] <= 0:
                k = k - 1  # the last positive tap (s > 0, so one exists)
        t = 0
        while k >= nw:  # tap number -> (row, column) in the window; windows are small
            k = k - nw
            t = t + 1
        value[0] = plane[(y0 + t) * row_step + x0 + k]
        index[0] = (y0 + t) * W + x0 + k
    elif s != 0:
        # A NaN gives the first NaN; an infinite sum the first infinity. Rare: plain loops.
        for t in range(nh):
            row = plane + (y0 + t) * row_step + x0
            for u in range(nw):
                v = row[u]
                if not found and (v != v or (s == INFINITY and v == INFINITY)):
                    value[0] = v
                    index[0] = (y0 + t) * W + x0 + u
                    found = True
    return smallest


def stochastic_train(
        const floating[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
        floating[:, :, :, ::1] out,                                                        # OUT
        int64_t[:, :, :, ::1] indices,                                                     # OUT
        const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n,
        const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n,
        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t pad_w,
        uint64_t key, int num_threads):
    """Kernel of :func:`cpool.stochastic_pool2d` in training mode. Returns the smallest value
    read (the caller raises when it is negative).

    Vectorised across each output row. The window's input rows are copied into zero-padded row
    buffers; then, tap by tap in row-major window order, one loop over the row's outputs adds
    the tap to their sums, and a second, after the thresholds u*sum, adds it to their running
    sums and counts the taps whose running sum is still <= u*sum: that count is the drawn tap's
    number (running sums never decrease). Pure arithmetic, no branches or selects, so the
    compiler vectorises it; strides 1 and 2 get literal-stride loops. Sums are in the input
    dtype, in that order; padding taps add exactly 0, and a zero can never be the first to cross.
    """
    cdef Py_ssize_t B1 = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    cdef Py_ssize_t n_chunks = (n_rows + ROW_CHUNK - 1) // ROW_CHUNK
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(floating)
    cdef Py_ssize_t width = _padded_width(W, OW, kw, sw, 1, pad_w)  # no dilation
    cdef Py_ssize_t row_stride = _buffer_stride(width, sizeof(floating))
    cdef Py_ssize_t out_stride = _buffer_stride(OW, sizeof(floating))
    # Per thread: kh padded rows; sums, thresholds, running sums, counts; per-column minima.
    cdef Py_ssize_t thread_stride = kh * row_stride + 4 * out_stride + _buffer_stride(W, sizeof(floating))
    cdef Py_ssize_t c, r, b0, b1, oh, ow, t, u, j, y0, nh, k, n_taps
    cdef double smallest = INFINITY, chunk_min
    cdef floating v
    cdef floating* rows
    cdef floating* sums
    cdef floating* thresholds
    cdef floating* running
    cdef floating* counts
    cdef floating* minima
    cdef floating* tap
    cdef const floating* src
    cdef const floating* plane
    cdef floating* orow
    cdef int64_t* irow
    if n_rows == 0:
        return 0.0
    cdef floating* scratch = <floating*>_scratch(num_threads, thread_stride, sizeof(floating))
    cdef Py_ssize_t* tap_row = <Py_ssize_t*>_scratch(1, kh * kw, sizeof(Py_ssize_t))
    for k in range(kh * kw):
        tap_row[k] = k // kw
    try:
        with nogil:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                # Assigned here so Cython makes them thread-private: it does not count the
                # writes through pointers below, and shared counters would race.
                b0 = b1 = oh = 0
                _locate(c * ROW_CHUNK, OH, B1, &b0, &b1, &oh)
                rows = scratch + threadid() * thread_stride
                sums = rows + kh * row_stride
                thresholds = sums + out_stride
                running = thresholds + out_stride
                counts = running + out_stride
                minima = counts + out_stride
                for j in range(kh * row_stride):  # padding cells stay 0 for the whole chunk
                    rows[j] = 0
                for j in range(W):
                    minima[j] = INFINITY
                for r in range(c * ROW_CHUNK, min(c * ROW_CHUNK + ROW_CHUNK, n_rows)):
                    plane = &x[b0, b1, 0, 0]
                    orow = &out[b0, b1, oh, 0]
                    irow = &indices[b0, b1, oh, 0]
                    y0 = h_lo[oh]
                    nh = h_n[oh]
                    for t in range(nh):  # the window rows, zero-padded; per-column minima
                        src = plane + (y0 + t) * row_step
                        tap = rows + t * row_stride + pad_w
                        for j in range(W):
                            v = src[j]
                            tap[j] = v
                            minima[j] = v if v < minima[j] else minima[j]
                    for ow in range(OW):
                        sums[ow] = 0
                        running[ow] = 0
                        counts[ow] = 0
                    for t in range(nh):  # sweep 1: sums, tap by tap in row-major order
                        for u in range(kw):
                            tap = rows + t * row_stride + u
                            if sw == 2:
                                for ow in range(OW):
                                    sums[ow] = sums[ow] + tap[2 * ow]
                            elif sw == 1:
                                for ow in range(OW):
                                    sums[ow] = sums[ow] + tap[ow]
                            else:
                                for ow in range(OW):
                                    sums[ow] = sums[ow] + tap[ow * sw]
                    for ow in range(OW):  # u from (key, flat output index r*OW + ow)
                        thresholds[ow] = <floating>(_uniform(key, <uint64_t>(r * OW + ow))
                                                    * <double>sums[ow])
                    for t in range(nh):  # sweep 2: count taps whose running sum <= u*sum
                        for u in range(kw):
                            tap = rows + t * row_stride + u
                            if sw == 2:
                                for ow in range(OW):
                                    running[ow] = running[ow] + tap[2 * ow]
                                    counts[ow] = counts[ow] + (running[ow] <= thresholds[ow])
                            elif sw == 1:
                                for ow in range(OW):
                                    running[ow] = running[ow] + tap[ow]
                                    counts[ow] = counts[ow] + (running[ow] <= thresholds[ow])
                            else:
                                for ow in range(OW):
                                    running[ow] = running[ow] + tap[ow * sw]
                                    counts[ow] = counts[ow] + (running[ow] <= thresholds[ow])
                    n_taps = nh * kw
                    for ow in range(OW):
                        if sums[ow] > 0 and sums[ow] < INFINITY:
                            k = <Py_ssize_t>counts[ow]
                            if k >= n_taps:  # rounding put u*sum at the sum: the last positive tap
                                k = n_taps - 1
                                while rows[tap_row[k] * row_stride + ow * sw + k - tap_row[k] * kw] <= 0:
                                    k = k - 1
                            # Tap number -> (row, column) by table: which tap is drawn is
                            # random, so a loop or branch here would mispredict.
                            t = tap_row[k]
                            u = k - t * kw
                            orow[ow] = rows[t * row_stride + ow * sw + u]
                            irow[ow] = (y0 + t) * W + ow * sw + u - pad_w
                        elif sums[ow] == 0:  # all-zero window: 0, index of its first tap
                            orow[ow] = 0
                            irow[ow] = y0 * W + w_lo[ow]
                        else:  # NaN or infinite sum: the rare scalar path
                            _draw(plane, row_step, W, y0, nh, w_lo[ow], w_n[ow], key,
                                  <uint64_t>(r * OW + ow), &orow[ow], &irow[ow])
                    _step(OH, B1, &b0, &b1, &oh)
                chunk_min = INFINITY
                for j in range(W):
                    chunk_min = minima[j] if minima[j] < chunk_min else chunk_min
                if chunk_min < 0:
                    smallest = min(smallest, chunk_min)
    finally:
        free(scratch)
        free(tap_row)
    return smallest


def stochastic_eval(
        const floating[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
        floating[:, :, :, ::1] out,                                                        # OUT
        const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n,
        Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t pad_w, int num_threads):
    """Kernel of :func:`cpool.stochastic_pool2d` with ``training=False``: sum(a^2) / sum(a).
    Returns the smallest value read (the caller raises when it is negative)."""
    cdef Py_ssize_t B1 = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    cdef Py_ssize_t n_chunks = (n_rows + ROW_CHUNK - 1) // ROW_CHUNK
    cdef Py_ssize_t width = _padded_width(W, OW, kw, sw, 1, pad_w)  # no dilation
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(floating)
    cdef Py_ssize_t buf_stride = _buffer_stride(width, sizeof(floating))
    cdef Py_ssize_t out_stride = _buffer_stride(OW, sizeof(floating))
    cdef Py_ssize_t min_stride = _buffer_stride(W, sizeof(floating))
    cdef Py_ssize_t thread_stride = 2 * buf_stride + 2 * out_stride + min_stride
    cdef Py_ssize_t c, r, b0, b1, oh, i, t, j
    cdef double smallest = INFINITY
    cdef floating v, sa, q, row_min
    cdef floating* sums
    cdef floating* squares
    cdef floating* row_sums
    cdef floating* row_squares
    cdef floating* minima
    cdef const floating* row
    cdef floating* orow
    if n_rows == 0:
        return 0.0
    cdef floating* scratch = <floating*>_scratch(num_threads, thread_stride, sizeof(floating))
    try:
        with nogil:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                # Assigned here so Cython makes them thread-private: it does not count the
                # writes through pointers below, and shared counters would race.
                b0 = b1 = oh = 0
                _locate(c * ROW_CHUNK, OH, B1, &b0, &b1, &oh)
                sums = scratch + threadid() * thread_stride
                squares = sums + buf_stride
                row_sums = squares + buf_stride
                row_squares = row_sums + out_stride
                minima = row_squares + out_stride
                for i in range(width):  # padding cells stay 0: they count as zero activations
                    sums[i] = 0
                    squares[i] = 0
                # Per-column minima over the chunk's rows, reduced once per chunk: a running
                # scalar minimum is a reduction the compiler will not vectorise for floats.
                for j in range(W):
                    minima[j] = INFINITY
                for r in range(c * ROW_CHUNK, min(c * ROW_CHUNK + ROW_CHUNK, n_rows)):
                    orow = &out[b0, b1, oh, 0]
                    # Vertical pass, one sweep per input row: column sums of a and of a^2, and
                    # the smallest value (the caller rejects negatives).
                    # (Per-column minima, reduced once per row: a running scalar minimum is a
                    # reduction the compiler will not vectorise for floats.)
                    if h_n[oh] == 0:
                        for j in range(W):
                            sums[pad_w + j] = 0
                            squares[pad_w + j] = 0
                    for t in range(h_n[oh]):
                        row = &x[b0, b1, h_lo[oh] + t, 0]
                        if t == 0:
                            for j in range(W):
                                v = row[j]
                                sums[pad_w + j] = v
                                squares[pad_w + j] = v * v
                                minima[j] = v if v < minima[j] else minima[j]
                        else:
                            for j in range(W):
                                v = row[j]
                                sums[pad_w + j] = sums[pad_w + j] + v
                                squares[pad_w + j] = squares[pad_w + j] + v * v
                                minima[j] = v if v < minima[j] else minima[j]
                    _horizontal(sums, row_sums, OW, kw, sw, 1, False)
                    _horizontal(squares, row_squares, OW, kw, sw, 1, False)
                    for i in range(OW):  # branch-free, so it vectorises
                        sa = row_sums[i]
                        # all-zero window: 0 / 1 = 0; an infinite sum: inf, not inf/inf
                        q = row_squares[i] / (sa if sa != 0 else 1)
                        orow[i] = sa if sa == INFINITY else q
                    _step(OH, B1, &b0, &b1, &oh)
                row_min = INFINITY
                for j in range(W):
                    row_min = minima[j] if minima[j] < row_min else row_min
                if row_min < 0:
                    smallest = min(smallest, row_min)
    finally:
        free(scratch)
    return smallest

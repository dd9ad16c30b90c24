"""Stochastic pooling (Zeiler & Fergus, ICLR 2013): training draws and the eval-mode average.

Design
------
* Inputs and geometry as in ``_window.pyx``: 4-D ``(B0, B1, H, W)`` views with a contiguous last
  axis, and per-output-row/column window bounds from ``cpool._validation.window_bounds``
  (dilation 1). Padding and ceil-mode overhang are never read, so they count as 0.
* Training: in a window with activations ``a_i >= 0`` and ``s = sum(a)``, output ``a_l`` where
  ``l`` is the first tap, in row-major order, whose running sum exceeds ``u * s``, i.e. a draw
  from ``p_i = a_i / s`` (sums in the input dtype, tap by tap in row-major order). Zero cells
  can never be drawn. ``s == 0`` gives 0 (and the window's first tap as index), a NaN gives NaN
  (the first NaN), an infinity the first infinity. Finite values whose sum overflows the dtype
  are drawn from float64 sums, scaled by a power of two where float64 overflows too.
* Reproducible for any thread count: ``u`` is not taken from a shared stream but computed from
  (key, output position) by a counter-based generator, so each output's draw depends only on
  the key and its position. Output row ``r`` (flat over planes and output rows) gets a 64-bit
  row key, the SplitMix64 finaliser of ``key + (r + 1) * 0x9E3779B97F4A7C15``; column ``c`` of
  that row gets 32 bits, the lowbias32 hash of ``(lo + c) ^ hi`` (mod 2**32, ``lo``/``hi`` the
  row key's halves: distinct columns never collide). ``u`` is those bits' top 24 over 2**24 for float32, all 32 over 2**32 for
  float64: exact in the dtype, so ``u * s`` is rounded once. The 32-bit hash vectorises on
  SSE2, where a 64-bit hash per output cost a third of the kernel's time.
* Eval: ``sum(a^2) / sum(a)`` (0 for an all-zero window), row-separable like ``_window.pyx``:
  column sums of ``a`` and ``a^2`` into two row buffers, then window sums of each. Sums are in
  the input dtype, as average pooling's are; the rare output that overflows (float32 squares
  above ~1.8e19) is computed again from scaled float64 sums.
* Negative inputs inside windows are found by the kernels (a count or a min-reduction over the
  pass that reads the values anyway); the caller raises. No extra pass over the data. Cells no
  window covers are never looked at, in either mode.
"""
from cython cimport floating, view
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY, ilogb, ldexp
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free

from cpool._kernels cimport _openmp  # noqa: F401 (its one-thread regions: _openmp.pxd)
from cpool._kernels._rows cimport (_buffer_stride, _first_inner, _horizontal,
                                  _horizontal_clipped, _inner_end, _locate,
                                  _padded_width, _planes_run, _prefetch_rows, _row_tasks,
                                  _same_3x3, _scratch, _step, _task_row, _thread_slots,
                                  SHORT_ROW, STREAM_PREFETCH_BYTES, THREAD_SLOT)
from cpool._kernels._simd cimport (cpool_any_below_f32, cpool_any_below_f64,
                                   cpool_any_nonfinite_f32, cpool_any_nonfinite_f64,
                                   cpool_eval_2x2_f32, cpool_eval_2x2_f64,
                                   cpool_eval_run_2x2_f32, cpool_eval_run_2x2_f64,
                                   cpool_same_3x3_eval_f32, cpool_same_3x3_eval_f64,
                                   cpool_stoch_s2_f32, cpool_stoch_s2_f64,
                                   CPOOL_STOCH_S2)

cdef enum:
    ROW_CHUNK = 8  # output rows per parallel task (one division per chunk, counters within)
    # Evaluation a plane a task: with at least this many planes per thread, or planes of at
    # most SMALL_PLANE values (128 x 128).
    PLANES_PER_THREAD = 8
    SMALL_PLANE = 16384
    # The same 3x3's evaluation on larger planes: a task per band of this many rows, so that
    # a few large planes are shared among the threads by the same kernel (each output's bits
    # are then the same whatever the thread count: see stochastic_eval).
    SAME3_BAND = 32
    SPLIT_LANES = 8  # outputs per vector, rounded up to (a multiple of every build's lanes)


cdef inline double* _lows(Py_ssize_t num_threads) except NULL:
    """Per-thread smallest values read, all +inf. A variable assigned inside ``prange`` is
    lastprivate in Cython (only the last iteration's thread's value survives), so a minimum
    over all threads goes through these slots, one per ``threadid()``."""
    cdef double* lows = <double*>_scratch(num_threads, 1, sizeof(double))
    cdef Py_ssize_t i
    for i in range(num_threads):
        lows[i] = INFINITY
    return lows


cdef inline double _lowest_of(const double* lows, Py_ssize_t num_threads) noexcept nogil:
    cdef double low = INFINITY
    cdef Py_ssize_t i
    for i in range(num_threads):
        low = min(low, lows[i])
    return low


cdef inline uint64_t _row_key(uint64_t key, uint64_t row) noexcept nogil:
    """The 64-bit key of output row ``row``: SplitMix64's finaliser of key + (row + 1) * phi."""
    cdef uint64_t z = key + (row + 1) * <uint64_t>0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t _block_row_key(uint64_t key, Py_ssize_t r, Py_ssize_t plane, Py_ssize_t oh,
                                     const int64_t* row_origin,
                                     uint32_t col_origin) noexcept nogil:
    """The row key of output row ``r`` (row ``oh`` of plane ``plane``) when the output is a
    block of a larger one (``cpool.dask``): the larger output's row ``row_origin[plane] + oh``,
    and the row key's low half moved on by ``col_origin`` so that column ``c`` of the block
    gets column ``col_origin + c``'s bits (:func:`_column_bits` adds the column to that half,
    mod 2**32). With no ``row_origin`` (NULL) and ``col_origin`` 0 it is row ``r``'s key: the
    output is the whole one, and every draw depends on its position in the whole output only."""
    cdef uint64_t row = <uint64_t>r if row_origin == NULL else <uint64_t>(row_origin[plane] + oh)
    cdef uint64_t k = _row_key(key, row)
    return (k & <uint64_t>0xFFFFFFFF00000000ULL) | <uint32_t>(<uint32_t>k + col_origin)


cdef inline uint32_t _column_bits(uint64_t row_key, uint32_t column) noexcept nogil:
    """32 random bits for one output of a row: lowbias32 (Wellons' two-multiply integer hash) of
    (lo + column) ^ hi, in 32-bit arithmetic. Distinct columns of a row give distinct inputs;
    rows whose ``lo`` happen to be close differ by their ``hi`` (an add and an xor per output,
    where a per-row multiplier cost an emulated 32-bit multiply on SSE2)."""
    cdef uint32_t h = (<uint32_t>row_key + column) ^ <uint32_t>(row_key >> 32)
    h = (h ^ (h >> 16)) * <uint32_t>0x7FEB352D
    h = (h ^ (h >> 15)) * <uint32_t>0x846CA68B
    return h ^ (h >> 16)


cdef inline floating _threshold(uint32_t bits, floating total) noexcept nogil:
    """u * total, u from the bits: their top 24 over 2**24 in float32, all 32 over 2**32 in
    float64. u is exact in the dtype, so the product is rounded once."""
    if floating is float:
        return (<float><int32_t>(bits >> 8) * <float>(1.0 / 16777216.0)) * total
    else:
        return (<double>bits * (1.0 / 4294967296.0)) * total


cdef inline double _unit_scale(double largest) noexcept nogil:
    """2**-e for the ``e`` with 2**(e-1) <= largest < 2**e: scaled by it, every value of a
    window whose largest value is ``largest`` lies below 1, so no sum (or sum of squares) of
    them overflows float64. Exact, a power of two."""
    return ldexp(1.0, -ilogb(largest) - 1)


cdef inline void _draw(const floating* plane, Py_ssize_t row_step, Py_ssize_t W, Py_ssize_t y0,
                       Py_ssize_t nh, Py_ssize_t x0, Py_ssize_t nw, uint32_t bits,
                       floating* value, int64_t* index) noexcept nogil:
    """Draw one window's sample into value/index, one window at a time, summing in float64.

    The scalar path of :func:`stochastic_train`, used for the rare windows whose sum in the
    input dtype is NaN or infinite: a NaN gives the first NaN, an infinity the first infinity.
    Finite values whose sum overflows the dtype are drawn from their float64 sums; where even
    those overflow (float64 values near the largest double), from the values scaled by
    2**-e, 2**e above the largest: exact, the same probabilities, and no overflow.
    """
    cdef Py_ssize_t t, u, k
    cdef double s = 0, threshold, run = 0, scale = 1, largest = 0
    cdef floating v
    cdef const floating* row
    cdef bint found = False
    # Pass 1: the window's sum in float64, and its largest value.
    for t in range(nh):
        row = plane + (y0 + t) * row_step + x0
        for u in range(nw):
            s = s + row[u]
            largest = max(largest, <double>row[u])
    if s == INFINITY and largest < INFINITY:  # finite values, an overflowing float64 sum
        scale = _unit_scale(largest)
        s = 0
        for t in range(nh):
            row = plane + (y0 + t) * row_step + x0
            for u in range(nw):
                s = s + row[u] * scale
    value[0] = 0
    index[0] = y0 * W + x0
    if s > 0 and s < INFINITY:
        # Pass 2, the inverse CDF: the drawn tap is the first whose running sum exceeds u*s.
        # Running sums never decrease, so its number is the count of taps whose running sum
        # stays at or below u*s: branch-free (which tap wins is random, so branches would
        # mispredict), and a zero cell can never be the first to cross.
        threshold = _threshold(bits, s)
        k = 0
        for t in range(nh):
            row = plane + (y0 + t) * row_step + x0
            for u in range(nw):
                run = run + row[u] * scale
                k += run <= threshold
        if k == nh * nw:  # only if rounding kept every running sum at or below u*s
            _last_positive(plane, row_step, W, y0, nh, x0, nw, value, index)
            return
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


cdef inline void _last_positive(const floating* plane, Py_ssize_t row_step, Py_ssize_t W,
                                Py_ssize_t y0, Py_ssize_t nh, Py_ssize_t x0, Py_ssize_t nw,
                                floating* value, int64_t* index) noexcept nogil:
    """The window's last positive tap in row-major order into value/index: the draw when
    rounding made u*sum >= sum, so that no running sum exceeds it (the window has one, as its
    sum is positive)."""
    cdef Py_ssize_t t, u
    cdef floating v
    for t in range(nh):
        for u in range(nw):
            v = plane[(y0 + t) * row_step + x0 + u]
            if v > 0:
                value[0] = v
                index[0] = (y0 + t) * W + x0 + u


cdef inline floating _tap(const floating* src, Py_ssize_t stride, Py_ssize_t half, Py_ssize_t t,
                          Py_ssize_t u, Py_ssize_t ow, Py_ssize_t sw, bint split) noexcept nogil:
    """Tap (t, u) of output ``ow``'s window. With ``split`` (stride 2), each row holds its even
    columns and, ``half`` further on, its odd ones (:func:`_split_rows`): every tap is then a
    contiguous load across outputs, where in place it is a strided gather (two loads and two
    permutes per vector)."""
    if split:
        return src[t * stride + (u % 2) * half + ow + u // 2]
    return src[t * stride + ow * sw + u]


cdef inline floating _cell(const floating* row, Py_ssize_t c, Py_ssize_t W) noexcept nogil:
    return row[c] if 0 <= c < W else 0


cdef inline void _split_rows(const floating* row0, Py_ssize_t row_step, Py_ssize_t W,
                             Py_ssize_t n_rows, Py_ssize_t c0, Py_ssize_t n_pairs, floating* buf,
                             Py_ssize_t buf_stride, Py_ssize_t half) noexcept nogil:
    """For rows t < n_rows from ``row0``: the even columns c0, c0 + 2, ... (n_pairs + 1 of them)
    to ``buf[t * buf_stride + j]``, the odd ones (n_pairs) to ``buf[t * buf_stride + half + j]``;
    columns outside [0, W) (padding, ceil-mode overhang, the rounding up to whole vectors) are
    zeros. Nothing outside the input is read."""
    cdef Py_ssize_t t, j
    # Pairs j in [lo, hi) have both columns inside the input (c0 <= 0 < W: no negative floor).
    cdef Py_ssize_t lo = min(n_pairs, (1 - c0) // 2), hi = min(n_pairs, (W - c0) // 2)
    cdef const floating* r
    cdef floating* b
    for t in range(n_rows):
        r = row0 + t * row_step
        b = buf + t * buf_stride
        for j in range(lo):
            b[j] = _cell(r, c0 + 2 * j, W)
            b[half + j] = _cell(r, c0 + 2 * j + 1, W)
        for j in range(lo, hi):
            b[j] = r[c0 + 2 * j]
            b[half + j] = r[c0 + 2 * j + 1]
        for j in range(max(lo, hi), n_pairs):
            b[j] = _cell(r, c0 + 2 * j, W)
            b[half + j] = _cell(r, c0 + 2 * j + 1, W)
        b[n_pairs] = _cell(r, c0 + 2 * n_pairs, W)


cdef inline void _take_taps(const floating* src, Py_ssize_t stride, Py_ssize_t OW, Py_ssize_t kh,
                            Py_ssize_t kw, Py_ssize_t sw, uint64_t row_key, Py_ssize_t first,
                            floating* orow, floating* taken, bint with_taps, Py_ssize_t half,
                            bint split) noexcept nogil:
    """Training draws for ``OW`` outputs of a row, starting at output column ``first``, in one
    loop over the outputs.

    ``src`` is the first window's first row (rows ``stride`` apart, columns contiguous, no
    bounds to check). Tap by tap in row-major window order: the sum (and the smallest tap),
    then the threshold u*sum, then a second walk with a running sum, taking each tap whose
    running sum before it is <= u*sum. Running sums never decrease, so the last tap taken is
    the first whose running sum exceeds u*sum. Only when rounding made u*sum >= sum is that
    tap a trailing zero (a zero before the crossing is followed by a positive tap with the
    same running sum, which is taken after it): such an output is flagged for the exact
    "last positive tap" rule, which keeps the zero test off the per-tap path.

    ``orow`` gets the value (0 for an all-zero window). ``taken`` gets the tap number if
    ``with_taps`` (-1 for an all-zero window), and -2 for an output the caller must look at
    again: a negative tap, a NaN or infinite sum, or the rounding case above.

    The take is a select, not a branch (which tap wins is random). Two stores and no
    reductions across outputs (a count of double comparisons defeats GCC's vectoriser, and each
    further output array adds alias checks until it gives up), so the compiler vectorises
    across outputs; called with literal kh, kw, sw and ``with_taps`` the tap loops unroll and
    run from registers.
    """
    cdef floating total, threshold, run, value, tap_number, v, low
    cdef bint flagged
    cdef Py_ssize_t ow, t, u
    for ow in range(OW):
        total = 0
        low = 0
        for t in range(kh):
            for u in range(kw):
                v = _tap(src, stride, half, t, u, ow, sw, split)
                total = total + v
                low = v if v < low else low  # one min per tap; NaN taps show in the sum
        threshold = _threshold(_column_bits(row_key, <uint32_t>(first + ow)), total)
        # Tap 0 is always taken (its running sum before is 0 <= u*sum unless the output is
        # flagged anyway), so the walk starts at tap 1.
        run = _tap(src, stride, half, 0, 0, ow, sw, split)
        value = run
        tap_number = 0
        for t in range(kh):
            for u in range(kw):
                if t > 0 or u > 0:
                    v = _tap(src, stride, half, t, u, ow, sw, split)
                    value = v if run <= threshold else value
                    if with_taps:
                        tap_number = <floating>(t * kw + u) if run <= threshold else tap_number
                    run = run + v
        flagged = (low < 0) | (not (total < INFINITY)) | ((value == 0) & (total > 0))
        orow[ow] = value + 0  # +0: an all-zero window of -0 cells gives 0, as documented
        if with_taps:
            taken[ow] = -2 if flagged else (tap_number if total > 0 else -1)
        else:
            taken[ow] = -2 if flagged else -1


cdef inline bint _any_flagged(const floating* taken, Py_ssize_t OW) noexcept nogil:
    """Whether :func:`_take_taps` flagged an output (-2): an explicit SSE2 scan (GCC leaves
    an "any" over float compares scalar; as a plain loop it cost 8% of the 2x2 kernel)."""
    if floating is float:
        return cpool_any_below_f32(taken, OW, -1.5)
    else:
        return cpool_any_below_f64(taken, OW, -1.5)


cdef inline Py_ssize_t _draw_rows(const floating* src, Py_ssize_t stride, Py_ssize_t step,
                                  Py_ssize_t n_rows, Py_ssize_t n, Py_ssize_t k,
                                  const uint64_t* keys, Py_ssize_t first, floating* out,
                                  Py_ssize_t out_step, floating* taken, Py_ssize_t taken_step,
                                  bint with_taps, bint lead, int* flagged,
                                  Py_ssize_t ahead=0) noexcept nogil:
    """``cpool_stoch_s2`` for the dtype over ``n_rows`` rows ``step`` apart (their outputs and
    tap numbers ``out_step`` and ``taken_step`` apart), output columns from ``first``: the
    outputs it drew a row (n, or 0 where it has no AVX2 body or n is under a vector). With
    ``ahead``, the lines that many bytes past each window row's are hinted into L2 as it is
    read."""
    if floating is float:
        return cpool_stoch_s2_f32(src, stride, step, n_rows, n, k, keys, first, out, out_step,
                                  taken, taken_step, with_taps, flagged, lead, ahead)
    else:
        return cpool_stoch_s2_f64(src, stride, step, n_rows, n, k, keys, first, out, out_step,
                                  taken, taken_step, with_taps, flagged, lead, ahead)


cdef inline bint _s2_in_place(Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sw,
                              Py_ssize_t pad_w) noexcept nogil:
    """Whether the AVX2 kernel (:func:`_draw_rows`) draws the rows of these windows in place,
    from the row's first output: square 2x2 or 3x3 windows at stride 2, with a padding of at
    most 1 on the left (the one column it reaches outside the row is read as 0 through a
    masked lane). Rows whose windows lack some of their kh rows, and outputs from the first
    whose windows reach past the row's end, still go through padded copies."""
    return CPOOL_STOCH_S2 and sw == 2 and kh == kw and (kh == 2 or kh == 3) and pad_w <= 1


cdef inline bint _take_row(const floating* src, Py_ssize_t stride, Py_ssize_t OW, Py_ssize_t kh,
                           Py_ssize_t kw, Py_ssize_t sw, uint64_t row_key, Py_ssize_t first,
                           floating* orow, floating* taken, bint with_taps) noexcept nogil:
    """:func:`_take_taps`, with literal geometry for 2x2 and 3x3 windows at stride 1 or 2.
    Returns whether it flagged an output (-2 in ``taken``).

    Square 2x2 and 3x3 windows at stride 2 go to the AVX2 build's explicit kernel first
    (``cpool_stoch_s2``: the same sums, bits and selects, on taps split by shuffles as they
    are loaded; it says itself whether it flagged one); it returns 0 in the baseline build
    and for rows under a vector of outputs, which the loop then does."""
    cdef int flagged = 0
    if (sw == 2 and kh == kw and (kh == 2 or kh == 3)
            and _draw_rows(src, stride, 0, 1, OW, kh, &row_key, first, orow, 0, taken, 0,
                           with_taps, False, &flagged) == OW):
        return flagged
    if kh == 2 and kw == 2 and sw == 2:
        _take_taps(src, stride, OW, 2, 2, 2, row_key, first, orow, taken, with_taps, 0, False)
    elif kh == 3 and kw == 3 and sw == 2:
        _take_taps(src, stride, OW, 3, 3, 2, row_key, first, orow, taken, with_taps, 0, False)
    elif kh == 3 and kw == 3 and sw == 1:
        _take_taps(src, stride, OW, 3, 3, 1, row_key, first, orow, taken, with_taps, 0, False)
    elif kh == 2 and kw == 2 and sw == 1:
        _take_taps(src, stride, OW, 2, 2, 1, row_key, first, orow, taken, with_taps, 0, False)
    else:
        _take_taps(src, stride, OW, kh, kw, sw, row_key, first, orow, taken, with_taps, 0, False)
    return _any_flagged(taken, OW)


cdef inline bint _take_padded(const floating* plane, Py_ssize_t row_step, Py_ssize_t W,
                              Py_ssize_t y0, Py_ssize_t nh, Py_ssize_t kh, Py_ssize_t kw,
                              Py_ssize_t sw, Py_ssize_t pad_w, Py_ssize_t ow0, Py_ssize_t ow1,
                              floating* buf, Py_ssize_t buf_stride, uint64_t row_key,
                              floating* orow, floating* taken, bint with_taps) noexcept nogil:
    """:func:`_take_row` for outputs ``ow0 .. ow1-1`` of a row whose windows reach into the
    padding: their padded columns are copied into ``buf`` first, zeros outside the input
    (rows past ``nh`` too). Used for the few edge outputs of a row, or a whole top or bottom
    row; the rest of the row is read in place. Returns whether it flagged an output."""
    cdef Py_ssize_t t, i, j, col0 = ow0 * sw - pad_w, n_cols = (ow1 - ow0 - 1) * sw + kw
    if ow1 <= ow0:
        return False
    for t in range(kh):
        for i in range(n_cols):
            j = col0 + i
            buf[t * buf_stride + i] = (plane[(y0 + t) * row_step + j]
                                       if t < nh and 0 <= j < W else 0)
    return _take_row(buf, buf_stride, ow1 - ow0, kh, kw, sw, row_key, ow0, orow + ow0,
                     taken + ow0, with_taps)


cdef inline bint _take_output_row(const floating* plane, Py_ssize_t row_step, Py_ssize_t W,
                                  Py_ssize_t y0, Py_ssize_t nh, Py_ssize_t kh, Py_ssize_t kw,
                                  Py_ssize_t sw, Py_ssize_t pad_w, Py_ssize_t OW,
                                  Py_ssize_t ow_lo, Py_ssize_t ow_hi, floating* buf,
                                  Py_ssize_t buf_stride, uint64_t row_key, floating* orow,
                                  floating* taken, floating* vals, bint with_taps) noexcept nogil:
    """All training draws of one output row. Outputs ``ow_lo .. ow_hi-1`` (every window column
    inside the input) are read in place when the windows have all ``kh`` rows; the edges, or
    the whole of a top or bottom row, go through :func:`_take_padded`.

    3x3 stride-2 windows with all three rows take one path for the whole row instead: the rows
    are split into even and odd columns (zeros outside the input), so the nine taps are
    contiguous loads rather than strided gathers, and the row is rounded up to whole vectors
    (SPLIT_LANES outputs) into ``vals``, so no output runs through a scalar tail or edge call.
    The same taps are summed in the same order: the results are identical. The AVX2 build
    splits the columns as it loads them (:func:`_take_row`'s kernel) and takes the usual
    path. Returns whether an output was flagged (-2 in ``taken``)."""
    cdef Py_ssize_t n, half, ow
    cdef int flagged = 0
    # A padding of 1 at stride 2 puts only the first window's first column outside the row:
    # the AVX2 kernel reads the row from there, that column as 0, and so draws the left edge
    # with the rest (a call of its own for one output cost a tenth of the 3x3 kernel's time).
    if (pad_w == 1 and nh == kh and ow_hi > 0 and _s2_in_place(kh, kw, sw, pad_w)
            and _draw_rows(plane + y0 * row_step - 1, row_step, 0, 1, ow_hi, kh, &row_key, 0,
                           orow, 0, taken, 0, with_taps, True, &flagged) == ow_hi):
        return flagged | _take_padded(plane, row_step, W, y0, nh, kh, kw, sw, pad_w, ow_hi, OW,
                                      buf, buf_stride, row_key, orow, taken, with_taps)
    if kh == 3 and kw == 3 and sw == 2 and nh == 3 and not CPOOL_STOCH_S2:
        n = (OW + SPLIT_LANES - 1) // SPLIT_LANES * SPLIT_LANES
        half = n + SPLIT_LANES
        _split_rows(plane + y0 * row_step, row_step, W, 3, -pad_w, n, buf, buf_stride, half)
        _take_taps(buf, buf_stride, n, 3, 3, 2, row_key, 0, vals, taken, with_taps, half, True)
        for ow in range(OW):
            orow[ow] = vals[ow]
        return _any_flagged(taken, OW)
    if nh < kh:
        return _take_padded(plane, row_step, W, y0, nh, kh, kw, sw, pad_w, 0, OW, buf,
                            buf_stride, row_key, orow, taken, with_taps)
    # | does not short-circuit: all three parts run (they write disjoint outputs).
    return (_take_padded(plane, row_step, W, y0, nh, kh, kw, sw, pad_w, 0, ow_lo, buf,
                         buf_stride, row_key, orow, taken, with_taps)
            | _take_row(plane + y0 * row_step + ow_lo * sw - pad_w, row_step, ow_hi - ow_lo,
                        kh, kw, sw, row_key, ow_lo, orow + ow_lo, taken + ow_lo, with_taps)
            | _take_padded(plane, row_step, W, y0, nh, kh, kw, sw, pad_w, ow_hi, OW, buf,
                           buf_stride, row_key, orow, taken, with_taps))


cdef inline floating _window_total(const floating* plane, Py_ssize_t row_step, Py_ssize_t y0,
                                   Py_ssize_t nh, Py_ssize_t x0, Py_ssize_t nw) noexcept nogil:
    """The sum :func:`_take_taps` forms for a window (its in-bounds cells ``nh`` x ``nw`` from
    (y0, x0), row-major: the padding's zeros add nothing)."""
    cdef floating total = 0
    cdef Py_ssize_t t, u
    for t in range(nh):
        for u in range(nw):
            total = total + plane[(y0 + t) * row_step + x0 + u]
    return total


cdef inline floating _window_min(const floating* plane, Py_ssize_t row_step, Py_ssize_t y0,
                                 Py_ssize_t nh, Py_ssize_t x0, Py_ssize_t nw) noexcept nogil:
    """The smallest cell of a window (for the error message on negative input)."""
    cdef floating low = INFINITY
    cdef Py_ssize_t t, u
    for t in range(nh):
        for u in range(nw):
            low = min(low, plane[(y0 + t) * row_step + x0 + u])
    return low


cdef inline int64_t _crossing(const floating* plane, Py_ssize_t row_step, Py_ssize_t W,
                              Py_ssize_t y0, Py_ssize_t nh, Py_ssize_t x0, Py_ssize_t nw,
                              floating total, uint32_t bits) noexcept nogil:
    """The plane index of the cell :func:`_take_taps` takes in a window whose sum is ``total``
    (:func:`_window_total`), found by a scalar scan with the same sums in the same order (-1 if
    none). Used where a tap number is not exact in ``floating`` (float32 windows of over 2**24
    taps), and by the general path."""
    cdef floating run = 0, a
    cdef floating threshold = _threshold(bits, total)
    cdef Py_ssize_t t, u
    cdef int64_t index = -1
    for t in range(nh):
        for u in range(nw):
            a = plane[(y0 + t) * row_step + x0 + u]
            if run <= threshold and a > 0:
                index = (y0 + t) * W + x0 + u
            run = run + a
    return index


cdef void _take_windows(const floating* plane, Py_ssize_t row_step, Py_ssize_t W, Py_ssize_t y0,
                        Py_ssize_t nh, const Py_ssize_t* w_lo, const Py_ssize_t* w_n,
                        Py_ssize_t OW, uint64_t row_key, floating* orow, int64_t* irow,
                        double* low) noexcept nogil:
    """The general path of :func:`stochastic_train`: each window of an output row drawn on its
    own, over its in-bounds cells only, by the fast path's rules (sums in the dtype, tap by tap
    in row-major order; the padding's zeros add nothing and are never drawn, so leaving them out
    changes no sum and no draw). ``irow`` may be NULL; ``low`` takes the smallest negative."""
    cdef Py_ssize_t ow, x0, nw
    cdef int64_t k, unwanted = 0
    cdef floating m, total
    cdef uint32_t bits
    for ow in range(OW):
        x0 = w_lo[ow]
        nw = w_n[ow]
        m = _window_min(plane, row_step, y0, nh, x0, nw)
        if m < 0:  # the caller raises
            low[0] = min(low[0], <double>m)
            continue
        bits = _column_bits(row_key, <uint32_t>ow)
        total = _window_total(plane, row_step, y0, nh, x0, nw)
        if not (total < INFINITY):  # NaN, infinity or an overflowing sum: the scalar draw
            _draw(plane, row_step, W, y0, nh, x0, nw, bits, &orow[ow],
                  &irow[ow] if irow != NULL else &unwanted)
            continue
        k = _crossing(plane, row_step, W, y0, nh, x0, nw, total, bits)
        if k < 0:  # an all-zero window: 0, at its first tap
            orow[ow] = 0
            k = y0 * W + x0
        else:
            orow[ow] = plane[(k // W) * row_step + k % W]
        if irow != NULL:
            irow[ow] = k


cdef double _train_general(
        const floating[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,
        floating[:, :, :, ::1] out, int64_t[:, :, :, ::1] indices,
        const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t sh,
        const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, uint64_t key,
        int num_threads, const int64_t* row_origin, uint32_t col_origin) except? -1:
    """:func:`stochastic_train`'s general path, a loop of its own beside the fast one (inside
    it, the branch cost the fast loop 15%): each window drawn by :func:`_take_windows`, with no
    per-kernel buffers. Returns the smallest negative value read, or +inf."""
    cdef bint with_indices = indices is not None
    cdef Py_ssize_t B1 = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(floating)
    cdef Py_ssize_t r, b0, b1, oh
    cdef double smallest = INFINITY
    cdef double* lows = _lows(num_threads)
    try:
        with nogil:
            for r in prange(n_rows, schedule='static', num_threads=num_threads):
                b0 = b1 = oh = 0
                _locate(r, OH, B1, &b0, &b1, &oh)
                if h_n[oh] > 0:
                    _prefetch_rows(&x[b0, b1, h_lo[oh] + h_n[oh] - 1, 0], row_step, h_n[oh], sh, W)
                _take_windows(&x[b0, b1, 0, 0], row_step, W, h_lo[oh], h_n[oh], &w_lo[0],
                              &w_n[0], OW,
                              _block_row_key(key, r, b0 * B1 + b1, oh, row_origin, col_origin),
                              &out[b0, b1, oh, 0],
                              &indices[b0, b1, oh, 0] if with_indices else NULL,
                              &lows[threadid()])
    finally:
        smallest = _lowest_of(lows, num_threads)
        free(lows)
    return smallest


def stochastic_train(
        const floating[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
        floating[:, :, :, ::1] out,                                                        # OUT
        int64_t[:, :, :, ::1] indices,                                                     # OUT or None
        const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t sh,
        const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n,
        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t pad_w,
        uint64_t key, bint general, int num_threads,
        const int64_t[::1] row_origin=None, Py_ssize_t col_origin=0):
    """Kernel of :func:`cpool.stochastic_pool2d` in training mode; ``indices`` may be None (not
    requested: nothing is written for them). Returns the smallest value read (the caller raises
    when it is negative).

    ``row_origin`` (one entry per plane, B0 * B1) and ``col_origin`` place the output as a block
    of a larger one, whose draws it then repeats (:func:`_block_row_key`); None and 0: the
    output is the whole one.

    One output row at a time, vectorised across its outputs by :func:`_take_taps`. The outputs
    whose windows lie inside the input are read in place; the few edge outputs of a row (and
    whole top and bottom rows) read zero-padded copies (padding taps add exactly 0 and are
    never taken). Sums are in the input dtype, tap by tap in row-major order. NaN or infinite
    sums (rare) are redrawn by the scalar :func:`_draw`.

    ``general`` (large windows, or kernels and padding much larger than the input): each window
    is drawn on its own over its in-bounds cells (:func:`_train_general`), with no per-kernel
    buffers, by the same rules: the same results.
    """
    cdef bint with_indices = indices is not None
    cdef Py_ssize_t B1 = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    cdef Py_ssize_t n_chunks = (n_rows + ROW_CHUNK - 1) // ROW_CHUNK
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(floating)
    cdef Py_ssize_t width = _padded_width(W, OW, kw, sw, 1, pad_w)  # no dilation
    # Rows hold a padded row, or a split one (_take_output_row): n + 1 even columns from 0 and
    # n odd ones from n + SPLIT_LANES, n = OW rounded up to SPLIT_LANES.
    cdef Py_ssize_t row_stride = _buffer_stride(max(width, 2 * OW + 4 * SPLIT_LANES),
                                                sizeof(floating))
    cdef Py_ssize_t out_stride = _buffer_stride(OW + SPLIT_LANES, sizeof(floating))
    # Per thread: kh row buffers, the taken tap numbers of ROW_CHUNK rows and a row of values.
    cdef Py_ssize_t thread_stride = kh * row_stride + (ROW_CHUNK + 1) * out_stride
    # Tap numbers are carried as `floating` (so the select has one width); exact below 2**24.
    cdef bint exact_taps = not (floating is float and kh * kw > (1 << 24))
    # Outputs ow_lo .. ow_hi-1 have every window column inside the input: in rows whose
    # windows have all kh rows, they are read in place; the edges go through the row buffers.
    cdef Py_ssize_t ow_lo = _first_inner(OW, sw, pad_w)
    cdef Py_ssize_t ow_hi = _inner_end(ow_lo, W, OW, kw, sw, 1, pad_w)
    # Runs of a plane's rows in one call of the AVX2 kernel: 2x2 and 3x3 windows at stride 2
    # whose rows have no edge that needs a padded copy (a padding of 1 on the left it masks).
    cdef bint runs = _s2_in_place(kh, kw, sw, pad_w) and ow_hi == OW and OW >= SPLIT_LANES
    cdef Py_ssize_t out_row_step = out.strides[2] // <Py_ssize_t>sizeof(floating)
    cdef Py_ssize_t run_len, run_left
    cdef int run_flagged
    cdef uint64_t* keys
    cdef uint64_t* row_keys = NULL
    cdef floating* rtaken
    cdef Py_ssize_t c, r, b0, b1, oh, ow, y0, nh, k
    cdef bint flagged
    cdef floating low
    cdef uint64_t row_key
    cdef double smallest = INFINITY
    cdef floating* rows
    cdef floating* taken
    cdef floating* vals
    cdef const floating* plane
    cdef floating* orow
    cdef int64_t* irow = NULL
    cdef int64_t unwanted  # where the scalar path writes an index nobody asked for
    cdef floating* scratch = NULL
    cdef double* lows = NULL
    cdef Py_ssize_t* tap_offset = NULL
    cdef const int64_t* origin = NULL
    # Per thread: the row after its last chunk and that row's (b0, b1, oh), so that the next
    # chunk, when it is that row's (a static schedule hands each thread consecutive chunks),
    # skips _locate's two divisions (two 64-bit divisions every 8 rows; this and the runs' row
    # skipping below took 2x2 s2 on (32, 256, 56, 56) from 7.39-7.50 to 6.91-7.01 ms).
    cdef int64_t* cursors = NULL
    cdef int64_t* cursor
    cdef Py_ssize_t chunk_end
    if n_rows == 0:
        return 0.0
    if row_origin is not None:
        if row_origin.shape[0] != out.shape[0] * B1:
            raise ValueError("stochastic_train: one row origin per plane")
        origin = &row_origin[0]
    if general:
        return _train_general(x, out, indices, h_lo, h_n, sh, w_lo, w_n, key, num_threads,
                              origin, <uint32_t>col_origin)
    try:  # allocated inside, so a failed allocation frees the ones before it
        scratch = <floating*>_scratch(num_threads, thread_stride, sizeof(floating))
        lows = _lows(num_threads)
        row_keys = <uint64_t*>_scratch(num_threads, THREAD_SLOT, sizeof(uint64_t))
        # Offset of tap k from its window's first tap, within the plane: (k // kw) * W + k % kw.
        tap_offset = <Py_ssize_t*>_scratch(1, kh * kw, sizeof(Py_ssize_t))
        for k in range(kh * kw):
            tap_offset[k] = (k // kw) * W + k % kw
        cursors = _thread_slots(num_threads)  # -1: no chunk run yet
        with nogil:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                # Assigned here so Cython makes them thread-private: it does not count the
                # writes through pointers below, and shared counters would race.
                b0 = b1 = oh = 0
                cursor = cursors + threadid() * THREAD_SLOT
                if cursor[0] == c * ROW_CHUNK:
                    b0 = <Py_ssize_t>cursor[1]
                    b1 = <Py_ssize_t>cursor[2]
                    oh = <Py_ssize_t>cursor[3]
                else:
                    _locate(c * ROW_CHUNK, OH, B1, &b0, &b1, &oh)
                chunk_end = min(c * ROW_CHUNK + ROW_CHUNK, n_rows)
                unwanted = 0
                rows = scratch + threadid() * thread_stride
                taken = rows + kh * row_stride
                vals = taken + ROW_CHUNK * out_stride
                keys = row_keys + threadid() * THREAD_SLOT
                run_len = run_left = 0
                run_flagged = 0
                for r in range(c * ROW_CHUNK, chunk_end):
                    if run_left > 0 and not run_flagged and not with_indices:
                        # A row of a run the kernel drew whole: nothing left to do for it.
                        run_left = run_left - 1
                        _step(OH, B1, &b0, &b1, &oh)
                        continue
                    plane = &x[b0, b1, 0, 0]
                    orow = &out[b0, b1, oh, 0]
                    y0 = h_lo[oh]
                    nh = h_n[oh]
                    if runs and run_left == 0:
                        # This row and the chunk's next ones in the same plane whose windows
                        # have all kh rows, drawn in one call; their taps go to taken's rows.
                        run_len = 0
                        while (run_len < chunk_end - r
                               and oh + run_len < OH and h_n[oh + run_len] == kh
                               and h_lo[oh + run_len] == y0 + run_len * sh):
                            keys[run_len] = _block_row_key(key, r + run_len, b0 * B1 + b1,
                                                           oh + run_len, origin,
                                                           <uint32_t>col_origin)
                            run_len = run_len + 1
                        if run_len > 0 and _draw_rows(
                                plane + y0 * row_step - pad_w, row_step, sh * row_step, run_len,
                                OW, kh, keys, 0, orow, out_row_step, taken, out_stride,
                                with_indices, pad_w == 1, &run_flagged,
                                STREAM_PREFETCH_BYTES) == OW:
                            run_left = run_len
                    if run_left > 0:
                        # The run's start worked out the keys of its rows.
                        row_key = keys[run_len - run_left]
                        rtaken = taken + (run_len - run_left) * out_stride
                        flagged = run_flagged and _any_flagged(rtaken, OW)
                        run_left = run_left - 1
                    else:
                        row_key = _block_row_key(key, r, b0 * B1 + b1, oh, origin,
                                                 <uint32_t>col_origin)
                        rtaken = taken
                        if nh > 0:
                            _prefetch_rows(&x[b0, b1, y0 + nh - 1, 0], row_step, nh, sh, W)
                        # Tap numbers only where indices are wanted: a literal flag, so the
                        # values-only call carries no tap-number select.
                        if with_indices:
                            flagged = _take_output_row(plane, row_step, W, y0, nh, kh, kw, sw,
                                                       pad_w, OW, ow_lo, ow_hi, rows,
                                                       row_stride, row_key, orow, taken, vals,
                                                       True)
                        else:
                            flagged = _take_output_row(plane, row_step, W, y0, nh, kh, kw, sw,
                                                       pad_w, OW, ow_lo, ow_hi, rows,
                                                       row_stride, row_key, orow, taken, vals,
                                                       False)
                    if with_indices:
                        irow = &indices[b0, b1, oh, 0]
                        for ow in range(OW):
                            k = <Py_ssize_t>rtaken[ow]
                            if k >= 0 and exact_taps:
                                irow[ow] = y0 * W - pad_w + ow * sw + tap_offset[k]
                            elif k >= 0:
                                irow[ow] = _crossing(
                                    plane, row_step, W, y0, nh, w_lo[ow], w_n[ow],
                                    _window_total(plane, row_step, y0, nh, w_lo[ow], w_n[ow]),
                                    _column_bits(row_key, <uint32_t>ow))
                            else:  # no tap taken (all zero), or flagged: its first tap
                                irow[ow] = y0 * W + w_lo[ow]
                    if flagged:  # rare: look at the flagged windows again
                        for ow in range(OW):
                            if rtaken[ow] < -1:
                                low = _window_min(plane, row_step, y0, nh, w_lo[ow], w_n[ow])
                                if low < 0:  # the caller raises
                                    lows[threadid()] = min(lows[threadid()], <double>low)
                                elif not (_window_total(plane, row_step, y0, nh, w_lo[ow],
                                                        w_n[ow]) < INFINITY):
                                    # NaN or infinite sum: the scalar path draws it
                                    _draw(plane, row_step, W, y0, nh, w_lo[ow], w_n[ow],
                                          _column_bits(row_key, <uint32_t>ow), &orow[ow],
                                          &irow[ow] if with_indices else &unwanted)
                                else:  # u*sum rounded up to the sum: the last positive tap
                                    _last_positive(plane, row_step, W, y0, nh, w_lo[ow],
                                                   w_n[ow], &orow[ow],
                                                   &irow[ow] if with_indices else &unwanted)
                    _step(OH, B1, &b0, &b1, &oh)
                cursor[0] = chunk_end
                cursor[1] = b0
                cursor[2] = b1
                cursor[3] = oh
    finally:
        if lows != NULL:
            smallest = _lowest_of(lows, num_threads)
        free(scratch)
        free(lows)
        free(row_keys)
        free(tap_offset)
        free(cursors)
    return smallest


cdef inline floating _ratio(floating sa, floating sq) noexcept nogil:
    """sum(a^2) / sum(a) from the window sums: 0 / 1 = 0 for an all-zero window, and inf (not
    inf / inf) for an infinite sum. Branch-free, so the loops calling it vectorise (given
    -fno-trapping-math, see setup.py: otherwise GCC keeps the division behind a branch)."""
    sq = sq / (sa if sa != 0 else 1)
    return sa if sa == INFINITY else sq


cdef inline void _ratio_row(const floating* sums, const floating* squares, floating* orow,
                            Py_ssize_t OW, Py_ssize_t kw, Py_ssize_t sw,
                            floating* row_sums, floating* row_squares) noexcept nogil:
    """orow[i] = _ratio of the window sums of ``sums`` and ``squares`` (padded column sums):
    the evaluation's horizontal pass and ratio. 3-wide stride-1 and 2-wide stride-2 windows in
    one loop each, taps written out; other windows go through :func:`_horizontal` into
    ``row_sums``/``row_squares`` first. The same additions in the same order either way."""
    cdef Py_ssize_t i
    if kw == 3 and sw == 1:
        for i in range(OW):
            orow[i] = _ratio((sums[i] + sums[i + 1]) + sums[i + 2],
                             (squares[i] + squares[i + 1]) + squares[i + 2])
    elif kw == 2 and sw == 2:
        for i in range(OW):
            orow[i] = _ratio(sums[2 * i] + sums[2 * i + 1], squares[2 * i] + squares[2 * i + 1])
    else:
        _horizontal(sums, row_sums, OW, kw, sw, 1, False)
        _horizontal(squares, row_squares, OW, kw, sw, 1, False)
        for i in range(OW):
            orow[i] = _ratio(row_sums[i], row_squares[i])


cdef inline void _eval_rows3(const floating* r0, Py_ssize_t step, Py_ssize_t W, floating* sums,
                             floating* squares, floating* minima) noexcept nogil:
    """The evaluation's vertical pass for a 3-row window in one sweep: column sums of a and
    a^2 and the running column minima, with the same operations in the same order as the
    row-by-row sweep (so the same bits), but one read-modify-write of each buffer, not three."""
    cdef const floating* r1 = r0 + step
    cdef const floating* r2 = r1 + step
    cdef floating v0, v1, v2, low
    cdef Py_ssize_t j
    # Two loops, not one: with three output arrays the alias checks exceed what GCC will
    # version a loop for, and the fused loop stayed scalar.
    for j in range(W):
        v0 = r0[j]
        v1 = r1[j]
        v2 = r2[j]
        sums[j] = (v0 + v1) + v2
        squares[j] = (v0 * v0 + v1 * v1) + v2 * v2
    for j in range(W):
        low = r0[j] if r0[j] < minima[j] else minima[j]
        low = r1[j] if r1[j] < low else low
        minima[j] = r2[j] if r2[j] < low else low


cdef inline bint _any_nonfinite(const floating* p, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return cpool_any_nonfinite_f32(p, n)
    else:
        return cpool_any_nonfinite_f64(p, n)


cdef floating _eval_window(const floating* plane, Py_ssize_t row_step, Py_ssize_t y0,
                           Py_ssize_t nh, Py_ssize_t x0, Py_ssize_t nw,
                           floating fast) noexcept nogil:
    """sum(a^2) / sum(a) over a window whose evaluation in the dtype was not finite: from
    float64 sums of the values scaled by 2**-e (2**e above the largest, so no square or sum
    overflows; the scale cancels in the ratio). A window holding a NaN keeps the dtype's
    answer ``fast`` (its NaN); one holding an infinity and no NaN gives infinity (the
    sum, as _ratio has it; cpool_same_3x3_eval's ``fast`` is inf / inf there)."""
    cdef Py_ssize_t t, u
    cdef double largest = 0, scale, a, sa = 0, sq = 0
    cdef bint infinite = False
    for t in range(nh):
        for u in range(nw):
            a = plane[(y0 + t) * row_step + x0 + u]
            if not (a - a == 0):
                if a != a:
                    return fast
                infinite = True
            largest = max(largest, a)
    if infinite:
        return INFINITY
    if largest == 0:
        return 0
    scale = _unit_scale(largest)
    for t in range(nh):
        for u in range(nw):
            a = plane[(y0 + t) * row_step + x0 + u] * scale
            sa = sa + a
            sq = sq + a * a
    return <floating>(sq / sa / scale)


cdef inline void _redo_nonfinite(const floating* plane, Py_ssize_t row_step, floating* orow,
                                 Py_ssize_t OW, Py_ssize_t y0, Py_ssize_t nh,
                                 const Py_ssize_t* w_lo, const Py_ssize_t* w_n) noexcept nogil:
    """An output row's values that came out infinite or NaN, again by :func:`_eval_window`
    (rows ``y0`` .. ``y0 + nh - 1`` of ``plane``): an overflowed window gets its float64 ratio,
    one holding an infinity or a NaN keeps it."""
    cdef Py_ssize_t i
    for i in range(OW if nh > 0 else 0):
        if not (orow[i] - orow[i] == 0):
            orow[i] = _eval_window(plane, row_step, y0, nh, w_lo[i], w_n[i], orow[i])


cdef inline void _eval_run(const floating* x, Py_ssize_t n_rows, floating* out, Py_ssize_t OW,
                           floating* low) noexcept nogil:
    """cpool_eval_run_2x2 of the planes' dtype: output rows from pairs of input rows 2 OW
    wide, all back to back; the cells' minimum into ``low``."""
    if floating is float:
        cpool_eval_run_2x2_f32(x, n_rows, out, OW, low, STREAM_PREFETCH_BYTES)
    else:
        cpool_eval_run_2x2_f64(x, n_rows, out, OW, low, STREAM_PREFETCH_BYTES)


def stochastic_eval(
        const floating[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
        floating[:, :, :, ::1] out,                                                        # OUT
        const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t sh,
        Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t pad_w,
        const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, bint clipped, int num_threads):
    """Kernel of :func:`cpool.stochastic_pool2d` with ``training=False``: sum(a^2) / sum(a).
    Returns the smallest value inside a window (the caller raises when it is negative); cells
    no window covers (between strided windows, past the last one) are not counted.

    Sums are in the input dtype. An output that comes out infinite or NaN from finite values
    (squares or sums past the dtype's range) is computed again from float64 sums of the values
    scaled by a power of two (:func:`_eval_window`), so it is the weighted average it must be.
    ``clipped``: row buffers hold the row alone and each window sums its in-bounds columns
    (kernels or padding much wider than the row).

    The "same" 3x3 at stride 1 (padding 1 both ways) of rows of a vector or more takes a
    plane a call of cpool_same_3x3_eval (AVX2 build), or on planes over SMALL_PLANE values
    a band of SAME3_BAND rows a call, whatever the thread count: the row loop's sums, squares
    and ratios in the same order, in vectors, without its calls per row, which took most of
    the time on 28-wide planes (eval 3x3 s1 p1 on (32, 128, 28, 28): 2.7x avg_pool2d's time).
    Planes that 2x2 windows tile go a plane a task too (``by_plane``: where the planes are
    many or small)."""
    cdef Py_ssize_t B1 = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    cdef Py_ssize_t n_chunks = (n_rows + ROW_CHUNK - 1) // ROW_CHUNK
    cdef Py_ssize_t width = W if clipped else _padded_width(W, OW, kw, sw, 1, pad_w)  # no dilation
    cdef Py_ssize_t row0 = 0 if clipped else pad_w  # where the row's values start in the buffers
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(floating)
    cdef Py_ssize_t buf_stride = _buffer_stride(width, sizeof(floating))
    cdef Py_ssize_t out_stride = _buffer_stride(OW, sizeof(floating))
    cdef Py_ssize_t min_stride = _buffer_stride(W, sizeof(floating))
    cdef Py_ssize_t thread_stride = 2 * buf_stride + 2 * out_stride + min_stride
    cdef Py_ssize_t H = x.shape[2], P = out.shape[0] * B1
    cdef Py_ssize_t c, r, b0, b1, oh, i, t, j, done, p, first_row, task_rows
    cdef int task_state  # 2 where some output of the task is not finite, else 1
    cdef double smallest = INFINITY
    cdef floating v, row_min, tiles_low
    cdef bint minima_used
    cdef floating* sums
    cdef floating* squares
    cdef floating* row_sums
    cdef floating* row_squares
    cdef floating* minima
    cdef const floating* row
    cdef floating* orow
    cdef floating* scratch = NULL
    cdef double* lows = NULL
    # Nothing to compute: return before reading a window bound (an empty batch has none made).
    if n_rows == 0:
        return 0.0
    cdef bint same3 = not clipped and _same_3x3(True, H, W, OH, OW, kw, sw, 1, pad_w, 1, h_lo,
                                                h_n, sizeof(floating))
    if same3:  # cpool_same_3x3_eval's row of zeros
        thread_stride = max(thread_stride, _buffer_stride(W, sizeof(floating)))
    cdef bint tiles_2x2 = not clipped and kw == 2 and sw == 2 and pad_w == 0 and 2 * OW <= W
    # Planes that 2x2 windows tile (output row oh on input rows 2oh and 2oh + 1): a task per
    # plane, its rows by cpool_eval_2x2 back to back, without the row loop's bookkeeping per
    # row (locating the row, hinting the next ones, the chunk's scans), which on 56-wide
    # planes cost as much as the row's own work. The same 3x3's planes likewise. Only where
    # the planes are enough to share among the threads, or small: the row loop's chunks split
    # a few large planes between the threads.
    cdef bint tile_planes = tiles_2x2
    for oh in range(OH):
        tile_planes = tile_planes and h_lo[oh] == 2 * oh and h_n[oh] == 2
    # The same 3x3 always goes through cpool_same_3x3_eval, a plane a task (planes of at most
    # SMALL_PLANE values) or a band of SAME3_BAND rows a task, whatever the thread count: the
    # row loop's bits differ from the kernel's on a window holding NaNs of two payloads (which
    # NaN a sum keeps follows the compiled operand order), so choosing between the two by the
    # thread count, as the 2x2 tiles do, made such outputs depend on it.
    # Short planes (rows of at most SHORT_ROW values) that the tiles cover whole, laid back
    # to back, with the output contiguous: their rows are one run, a task's rows (tasks as
    # _row_tasks splits them) one call of cpool_eval_run_2x2 (every row but the task's last
    # in whole 256-bit steps), in the row loop's tasks and with its checks. One thread,
    # float32, pinned: eval 2x2 on (32, 512, 14, 14) 1.44 -> 0.56 ms, (32, 128, 28, 28)
    # 0.97 -> 0.54 ms, (32, 512, 10, 10) 1.05 -> 0.38 ms.
    cdef bint run = (tile_planes and not same3 and H == 2 * OH and W == 2 * OW
                     and W <= SHORT_ROW and row_step == W
                     and _planes_run(x.strides, out.strides, out.shape[0], B1, OH, OW, 2,
                                     sizeof(floating)))
    if run:
        n_chunks = _row_tasks(n_rows, num_threads)
    cdef bint by_plane = same3 or (tile_planes and not run
                                   and (P >= PLANES_PER_THREAD * num_threads
                                        or H * W <= SMALL_PLANE))
    cdef Py_ssize_t r_lo, r_hi  # a row-loop task's output rows
    cdef Py_ssize_t band_height = H if (not same3 or H * W <= SMALL_PLANE) else SAME3_BAND
    cdef Py_ssize_t bands = (H + band_height - 1) // band_height
    # Cells no window covers are not looked at; usually the covered columns are one run.
    cdef bint gapless = True
    for i in range(OW - 1):
        gapless = gapless and w_lo[i + 1] <= w_lo[i] + w_n[i]
    try:  # allocated inside, so a failed allocation frees the one before it
        scratch = <floating*>_scratch(num_threads, thread_stride, sizeof(floating))
        lows = _lows(num_threads)
        with nogil:
            for t in prange(P * bands if by_plane else 0, schedule='static',
                            num_threads=num_threads):
                p = t // bands
                b0 = p // B1
                b1 = p - b0 * B1
                # the task's output rows: the plane's (2x2 tiles), or a band of the same 3x3's
                first_row = (t - p * bands) * band_height
                task_rows = min(band_height, H - first_row) if same3 else OH
                orow = &out[b0, b1, first_row, 0]
                tiles_low = INFINITY  # the task's smallest value
                if not same3:  # tile_planes: the plane is scanned for outputs not finite
                    for oh in range(OH):
                        row = &x[b0, b1, 2 * oh, 0]
                        if floating is float:
                            cpool_eval_2x2_f32(row, row + row_step, orow + oh * OW, OW, &tiles_low,
                                               STREAM_PREFETCH_BYTES)
                        else:
                            cpool_eval_2x2_f64(row, row + row_step, orow + oh * OW, OW, &tiles_low,
                                               STREAM_PREFETCH_BYTES)
                    task_state = 2 if _any_nonfinite(orow, task_rows * OW) else 1
                elif floating is float:
                    task_state = cpool_same_3x3_eval_f32(
                        &x[b0, b1, first_row, 0], row_step, task_rows, W, orow,
                        scratch + threadid() * thread_stride, &tiles_low, first_row > 0,
                        first_row + task_rows < H)
                else:
                    task_state = cpool_same_3x3_eval_f64(
                        &x[b0, b1, first_row, 0], row_step, task_rows, W, orow,
                        scratch + threadid() * thread_stride, &tiles_low, first_row > 0,
                        first_row + task_rows < H)
                # Outputs that overflowed (or hold a NaN) again, as the row loop below does.
                if task_state != 1:
                    for oh in range(first_row, first_row + task_rows):
                        _redo_nonfinite(&x[b0, b1, 0, 0], row_step, &out[b0, b1, oh, 0], OW,
                                        h_lo[oh], h_n[oh], &w_lo[0], &w_n[0])
                if tiles_low < 0:
                    lows[threadid()] = min(lows[threadid()], <double>tiles_low)
            for c in prange(0 if by_plane else n_chunks, schedule='static',
                            num_threads=num_threads):
                # Assigned here so Cython makes them thread-private: it does not count the
                # writes through pointers below, and shared counters would race.
                b0 = b1 = oh = 0
                r_lo = _task_row(c, n_rows, n_chunks) if run else c * ROW_CHUNK
                r_hi = _task_row(c + 1, n_rows, n_chunks) if run else min(r_lo + ROW_CHUNK,
                                                                          n_rows)
                _locate(r_lo, OH, B1, &b0, &b1, &oh)
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
                # Whether a row of the chunk went through them (cpool_eval_2x2's rows keep
                # their own minimum): a chunk of 2x2 tiles then skips their scan, a scalar
                # chain of W dependent mins that took a fifth of eval 2x2's time.
                minima_used = False
                tiles_low = INFINITY  # the minimum of the rows cpool_eval_2x2 reads
                if run:
                    _eval_run(&x[0, 0, 0, 0] + r_lo * 2 * W, r_hi - r_lo,
                              &out[0, 0, 0, 0] + r_lo * OW, OW, &tiles_low)
                for r in range(r_hi if run else r_lo, r_hi):
                    orow = &out[b0, b1, oh, 0]
                    # Vertical pass, one sweep per input row: column sums of a and of a^2, and
                    # the per-column minima (the caller rejects negatives).
                    if h_n[oh] > 0:
                        _prefetch_rows(&x[b0, b1, h_lo[oh] + h_n[oh] - 1, 0], row_step,
                                       h_n[oh], sh, W)
                    if h_n[oh] == 0:
                        for j in range(W):
                            sums[row0 + j] = 0
                            squares[row0 + j] = 0
                    elif tiles_2x2 and h_n[oh] == 2:
                        # 2x2 stride 2: the windows' sums, sums of squares and ratios, and
                        # the cells' minimum, straight from the two rows in vectors (the same
                        # additions in the same order): cpool_eval_2x2.
                        row = &x[b0, b1, h_lo[oh], 0]
                        if floating is float:
                            cpool_eval_2x2_f32(row, row + row_step, orow, OW, &tiles_low, 0)
                        else:
                            cpool_eval_2x2_f64(row, row + row_step, orow, OW, &tiles_low, 0)
                        _step(OH, B1, &b0, &b1, &oh)
                        continue
                    elif h_n[oh] == 3:  # one sweep over all three rows
                        minima_used = True
                        _eval_rows3(&x[b0, b1, h_lo[oh], 0], row_step, W, sums + row0,
                                    squares + row0, minima)
                    else:
                        minima_used = True
                        for t in range(h_n[oh]):
                            row = &x[b0, b1, h_lo[oh] + t, 0]
                            if t == 0:
                                for j in range(W):
                                    v = row[j]
                                    sums[row0 + j] = v
                                    squares[row0 + j] = v * v
                                    minima[j] = v if v < minima[j] else minima[j]
                            else:
                                for j in range(W):
                                    v = row[j]
                                    sums[row0 + j] = sums[row0 + j] + v
                                    squares[row0 + j] = squares[row0 + j] + v * v
                                    minima[j] = v if v < minima[j] else minima[j]
                    if clipped:
                        _horizontal_clipped(sums, row_sums, OW, &w_lo[0], &w_n[0], 1, 0, False, 1)
                        _horizontal_clipped(squares, row_squares, OW, &w_lo[0], &w_n[0], 1, 0,
                                            False, 1)
                        for i in range(OW):
                            orow[i] = _ratio(row_sums[i], row_squares[i])
                    else:
                        _ratio_row(sums, squares, orow, OW, kw, sw, row_sums, row_squares)
                    _step(OH, B1, &b0, &b1, &oh)
                # The chunk's output rows are one C-contiguous block: one scan for an overflow
                # (or a NaN) in it, and the rare rows with one are looked at again.
                if _any_nonfinite(&out[0, 0, 0, 0] + r_lo * OW, (r_hi - r_lo) * OW):
                    _locate(r_lo, OH, B1, &b0, &b1, &oh)
                    for r in range(r_lo, r_hi):
                        _redo_nonfinite(&x[b0, b1, 0, 0], row_step, &out[b0, b1, oh, 0], OW,
                                        h_lo[oh], h_n[oh], &w_lo[0], &w_n[0])
                        _step(OH, B1, &b0, &b1, &oh)
                # The smallest value in the covered columns (windows are ordered, so each
                # column is looked at once).
                row_min = INFINITY
                if not minima_used:
                    pass
                elif gapless:  # the windows cover one run of columns (stride <= kernel)
                    for j in range(w_lo[0], w_lo[OW - 1] + w_n[OW - 1]):
                        row_min = minima[j] if minima[j] < row_min else row_min
                else:
                    done = 0
                    for i in range(OW):
                        for j in range(max(done, w_lo[i]), w_lo[i] + w_n[i]):
                            row_min = minima[j] if minima[j] < row_min else row_min
                        done = max(done, w_lo[i] + w_n[i])
                row_min = tiles_low if tiles_low < row_min else row_min
                if row_min < 0:
                    lows[threadid()] = min(lows[threadid()], <double>row_min)
    finally:
        if lows != NULL:
            smallest = _lowest_of(lows, num_threads)
        free(scratch)
        free(lows)
    return smallest

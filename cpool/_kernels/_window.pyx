"""Sliding-window kernels: max (with and without indices) and windowed sums (sum and average).

Design
------
* Inputs arrive as 4-D ``(B0, B1, H, W)`` views whose last axis is contiguous; the two leading
  axes are whatever the caller's batch axes collapse to, so sliced and broadcast batches need no
  copy. Outputs are C-contiguous ``(B0, B1, OH, OW)``. The validation layer guarantees all of it.
* Geometry is not derived here: the caller passes the vertical bounds of every output row (first
  in-bounds row ``h_lo[oh]`` and row count ``h_n[oh]``, rows ``dh`` apart; the vertical stride
  ``sh`` only to aim the prefetch hints, see ``_rows._prefetch_rows``) and the horizontal
  window parameters with the left padding, all from ``cpool._validation.window_bounds``.
* Work is split over output rows (all planes x all output rows), so one image with three channels
  still uses every thread. Each output element is written by exactly one thread with a fixed
  operation order, so results are bitwise identical for any thread count.
* Max and sum run row-separably. The window's input rows are first reduced vertically into a
  per-thread row buffer (contiguous loops the compiler vectorises). That buffer is padded with the
  reduction's identity (-inf or the integer minimum for max, 0 for sum) on both sides, so every
  output reduces the uniform columns ``buf[ow*sw + u*dw]``, u < kw, without bounds checks.
  Padding cells are never read from the input, which is PyTorch's rule. Common (kw, sw) pairs get
  loops with compile-time constants, which vectorise with even/odd shuffles. Cost per output row:
  ``kh*W + kw*OW``, not ``kh*kw*OW``.
* One code path serves max and sum: the inline helpers take ``is_max`` as a literal, and the
  compiler drops the branch after inlining.
* Small float planes whose windows the planes' kernels would take a short row at a time
  (uneven adaptive windows, stride 1 and padding on rows of 32 values or fewer) are pooled
  side by side: a group of planes is transposed into a thread's buffer as the lanes of
  channels-last pixels, pooled by the channels-last row kernels, and its outputs transposed
  back (:func:`_lane_planes`), with the same bits.
* Max with indices is row-separable too: the vertical pass keeps each column's max and its row
  by PyTorch's update rule ``v > m or v != v``; windows then combine their columns so that the
  result is PyTorch's row-major scan exactly (ties keep the first element, the last NaN wins).
"""
cimport cython
from cython cimport view
from cython.parallel cimport prange, threadid
from libc.math cimport sqrt, sqrtf
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcpy

from cpool._kernels._rows cimport (PREFETCH_BYTES, SHORT_ROW, STREAM_PREFETCH_BYTES,
                                  THREAD_SLOT, _any_negzero_or_nan, _outputs_run, _planes_run,
                                  _row_tasks,
                                  _task_row,
                                  _buffer_stride, _first_inner, _inner_end,
                                  _average, _combine, _from_zero,
                                  _prefetch_ahead, _divisor_row, _fold_three, _horizontal,
                                  _horizontal_clipped,
                                  _horizontal_lanes, _locate,
                                  _one_count, _pad_edges, _padded_width, _plane_divisors,
                                  _powers_of_two, _same_3x3,
                                  _prefetch_slices,
                                  _scratch, _step, _thread_slots,
                                  LANE_GROUP_MAX, _lane_group, _lanes_in, _lanes_out,
                                  _vertical, _vertical_grid)
from cpool._kernels._openmp cimport note_work, stream_store_bytes, tracing
from cpool._kernels._simd cimport (CPOOL_AVX_KERNELS, CPOOL_COLUMN_WINNERS, CPOOL_SAME_3X3_BUF,
                                   CPOOL_S3A_NARROW_ROWS,
                                   CPOOL_STREAM_ROWS,
                                   cpool_cells_max_f32, cpool_cells_max_f64,
                                   cpool_direct_argmax_f32, cpool_direct_argmax_f64,
                                   cpool_direct_max_2x2_f32, cpool_direct_max_2x2_f64,
                                   cpool_direct_sums_2x2_f32, cpool_direct_sums_2x2_f64,
                                   cpool_argmax_run_s2_f32, cpool_argmax_run_s2_f64,
                                   cpool_argmax_s1_f32, cpool_argmax_s1_f64,
                                   cpool_argmax_s2_f32, cpool_argmax_s2_f64,
                                   cpool_argmax_window_f32, cpool_argmax_window_f64,
                                   cpool_column_winner_f32,
                                   cpool_max_rows_3x3_f32, cpool_max_rows_3x3_f64,
                                   cpool_rgb8_max_2x2_rows,
                                   cpool_same_3x3_argmax_f32, cpool_same_3x3_argmax_f64,
                                   cpool_same_3x3_argmax_buf_f32,
                                   cpool_same_3x3_argmax_buf_f64,
                                   cpool_same_3x3_max_f32, cpool_same_3x3_max_f64,
                                   cpool_same_3x3_sums_f32, cpool_same_3x3_sums_f64,
                                   cpool_stream_fence, cpool_stream_row_f32,
                                   cpool_stream_row_f64,
                                   cpool_tile_rows_2x2_f32, cpool_tile_rows_2x2_f64,
                                   cpool_tile_run_2x2_f32, cpool_tile_run_2x2_f64,
                                   cpool_tiles_2x2_f32, cpool_tiles_2x2_f64,
                                   cpool_tiles_3x3_max_f32, cpool_tiles_3x3_max_f64)
from cpool._kernels._types cimport (NO_CELL, _lowest, _replaces, layout, numeric, numeric_acc,
                                   pixels, planes, signed_ints, sum_out, unsigned_ints)

cdef enum:
    # Small planes (_small_plane_rows): at most this many values per plane's row buffer
    # (16 KB of float32, twice that with overlapping windows: it stays in L1).
    TILED_VALUES = 4096
    # The "same" 3x3 of floats (cpool_same_3x3_sums and _max, a plane a call) takes planes of
    # any row width whose gapped rows (the buffer of a max plane handed back: twice
    # _gapped_values, 2 * H * (W + 2) values a thread) fit this many: planes up to 126 x 126.
    # On wider rows than SHORT_ROW the per-row path took 2-5x as long (max 3x3 s1 p1 on
    # (4, 256, 56, 56), one thread, 2.68 -> 0.97 ms; two threads 2.18 -> 0.50). Not planes
    # of one row (1-D k3 s1 p1, whose windows are this 3x3's over rows of identities): the
    # per-row path reads their row in place, without a buffer (avg_pool1d on
    # (64, 256, 4096), one thread: 46.9 ms, 63.8 by the plane kernel).
    SAME3_VALUES = 32768
    ROW_FIRST_BYTES = 512  # 2x2 tiles on rows this wide (and under PREFETCH_BYTES) read the
                           # upper row first
    # ... or rows of 2x2 tiles (a call per plane) whose windows' rows fit this many bytes.
    TILED_PLANE_BYTES = 16384
    # Rows of 2x2 tiles read side by side hint their lines this far ahead (at most: three
    # windows on, at least one), into L2 as they are read (_separable's tile_ahead).
    TILE_HINT_BYTES = 98304
    DIRECT_BYTES = 32  # channels-last pixels at least this wide skip the row buffer
    WINDOW_CELLS = 64  # channels-last max windows of at most this many cells: interior loops
    REGISTER_PIXEL_BYTES = 512  # ... held in vectors across the cells on pixels this wide
    # Sums of small float planes side by side (_lane_planes) over windows of at most this
    # many cells (see _separable).
    LANE_SUM_CELLS = 9

# For the validation layer: pixels this wide are read one by one, so they may lie apart.
DIRECT_PIXEL_BYTES = DIRECT_BYTES


cdef inline numeric _scan_max(const numeric* row, Py_ssize_t below, Py_ssize_t n_rows,
                              Py_ssize_t n_taps, Py_ssize_t tap_step, numeric m) noexcept nogil:
    """``m`` updated by PyTorch's row-major scan (``v > m or isnan(v)``, :func:`_replaces`) of
    ``n_rows`` rows ``below`` apart from ``row``, ``n_taps`` taps each, ``tap_step`` apart."""
    cdef Py_ssize_t t, u
    cdef numeric v
    for t in range(n_rows):
        for u in range(n_taps):
            v = row[t * below + u * tap_step]
            m = v if _replaces(m, v) else m
    return m


cdef inline void _scan_order_max(const numeric* row0, Py_ssize_t depth_step, Py_ssize_t n_depth,
                                 Py_ssize_t step, Py_ssize_t n_rows,
                                 const Py_ssize_t* w_lo, const Py_ssize_t* w_n, Py_ssize_t dw,
                                 numeric* orow, Py_ssize_t OW, Py_ssize_t lanes) noexcept nogil:
    """Give each output that is +-0 or NaN the bits of PyTorch's row-major scan.

    The row-separable max combines each column's rows before the columns, so among equal
    values it keeps the leftmost column's first cell where the scan keeps the topmost row's
    first: another sign of zero, or another NaN's payload, when the window holds a -0 or a
    NaN (the caller checks the column maxima for one). Such outputs are scanned again, in
    order, with the scan's rule; every other maximum has one bit pattern. Channels-last rows
    (``lanes`` values per pixel) are scanned lane by lane; 3-D windows slice by slice
    (``n_depth`` slices of ``n_rows`` rows)."""
    cdef Py_ssize_t ow, s, c
    cdef numeric m
    if not (numeric is float or numeric is double):
        return
    for ow in range(OW):
        for c in range(lanes):
            m = orow[ow * lanes + c]
            if m == 0 or m != m:
                m = _lowest(<numeric*>NULL)
                for s in range(n_depth):
                    m = _scan_max(row0 + s * depth_step + w_lo[ow] * lanes + c, step, n_rows,
                                  w_n[ow], dw * lanes, m)
                orow[ow * lanes + c] = m


cdef inline void _fold_column(const numeric* px, Py_ssize_t depth_step, Py_ssize_t n_depth,
                              Py_ssize_t step, Py_ssize_t n_rows,
                              Py_ssize_t lanes, numeric_acc* dst, numeric_acc* tmp, bint first,
                              bint is_max) noexcept nogil:
    """One window column of a channels-last row, folded into the output pixel ``dst``: the
    column's pixels (``n_depth`` >= 1 slices ``depth_step`` apart of ``n_rows`` >= 1 pixels
    ``step`` apart) reduced lane by lane in :func:`_vertical_grid`'s order, then stored
    (``first``) or combined into ``dst``."""
    cdef Py_ssize_t c
    cdef const numeric* r1 = px + step
    cdef const numeric* r2 = px + 2 * step
    if n_depth > 1:
        _vertical_grid(px, depth_step, n_depth, step, n_rows, lanes, tmp, 0, is_max)
        n_rows = 4  # folded into tmp: combined by the last two cases below
    elif n_rows > 3:
        _vertical(px, step, n_rows, lanes, tmp, 0, is_max)
    # One loop per case (a test inside the lane loop kept it from vectorising).
    if n_rows == 1 and first:
        for c in range(lanes):
            dst[c] = <numeric_acc>px[c]
    elif n_rows == 1:
        for c in range(lanes):
            dst[c] = _combine(dst[c], <numeric_acc>px[c], is_max)
    elif n_rows == 2 and first:
        for c in range(lanes):
            dst[c] = _combine(<numeric_acc>px[c], <numeric_acc>r1[c], is_max)
    elif n_rows == 2:
        for c in range(lanes):
            dst[c] = _combine(dst[c], _combine(<numeric_acc>px[c], <numeric_acc>r1[c], is_max),
                              is_max)
    elif n_rows == 3 and first:
        for c in range(lanes):
            dst[c] = _combine(_combine(<numeric_acc>px[c], <numeric_acc>r1[c], is_max),
                              <numeric_acc>r2[c], is_max)
    elif n_rows == 3:
        for c in range(lanes):
            dst[c] = _combine(dst[c], _combine(_combine(<numeric_acc>px[c], <numeric_acc>r1[c],
                                                        is_max), <numeric_acc>r2[c], is_max),
                              is_max)
    elif first:
        for c in range(lanes):
            dst[c] = tmp[c]
    else:
        for c in range(lanes):
            dst[c] = _combine(dst[c], tmp[c], is_max)


cdef inline void _prefetch_window(const numeric* px, Py_ssize_t depth_step, Py_ssize_t n_depth,
                                  Py_ssize_t step, Py_ssize_t n_rows,
                                  Py_ssize_t nbytes) noexcept nogil:
    """Hint the ``nbytes`` PREFETCH_BYTES ahead of ``px`` in each row of a window (its first
    column's pixel in each row): the direct channels-last kernels read a window's rows as
    n_depth*n_rows concurrent streams, more than a core's prefetcher follows (a 2x2x2 NDHWC
    max ran 22% faster with the hints, a 3x3 NHWC one 11%)."""
    cdef Py_ssize_t s, t
    for s in range(n_depth):
        for t in range(n_rows):
            _prefetch_ahead(px + s * depth_step + t * step, nbytes)


cdef inline void _cell_offsets(Py_ssize_t* off, Py_ssize_t depth_step, Py_ssize_t n_depth,
                               Py_ssize_t step, Py_ssize_t n_rows, Py_ssize_t kw,
                               Py_ssize_t dw, Py_ssize_t pixel) noexcept nogil:
    """off[u]: the offset (in values) of a channels-last window's cell u from its first, the
    cells in PyTorch's scan order (slice, row, column): n_depth * n_rows * kw of them."""
    cdef Py_ssize_t s, t, col, u = 0
    for s in range(n_depth):
        for t in range(n_rows):
            for col in range(kw):
                off[u] = s * depth_step + t * step + col * dw * pixel
                u = u + 1


cdef inline void _direct_window_max(const numeric* px, const Py_ssize_t* off,
                                    Py_ssize_t n_cells, Py_ssize_t lanes, bint in_registers,
                                    numeric_acc* dst) noexcept nogil:
    """The max of a channels-last window that lies in the row (no padding, no overhang):
    its ``n_cells`` cells (at ``off`` from the first, ``px``, in scan order: slice, row,
    column) by PyTorch's rule, a cell a loop over the lanes; ``in_registers``: first the
    lanes that cpool_cells_max holds in vectors across the cells (builds with them)."""
    cdef Py_ssize_t c, k, done = 0
    cdef const numeric* a
    if numeric is numeric_acc and in_registers:
        if numeric is float:
            done = cpool_cells_max_f32(px, off, n_cells, lanes, dst)
        elif numeric is double:
            done = cpool_cells_max_f64(px, off, n_cells, lanes, dst)
        if done == lanes:
            return
        px = px + done
        dst = dst + done
        lanes = lanes - done
    for c in range(lanes):
        dst[c] = <numeric_acc>px[c]
    for k in range(1, n_cells):
        a = px + off[k]
        for c in range(lanes):
            dst[c] = _combine(dst[c], <numeric_acc>a[c], True)


cdef inline void _direct_sums_2x2(const numeric* row0, Py_ssize_t depth_step,
                                  Py_ssize_t n_depth, Py_ssize_t step, Py_ssize_t lanes,
                                  Py_ssize_t pixel, Py_ssize_t OW,
                                  numeric_acc* orow) noexcept nogil:
    """:func:`_direct_row`'s sums over 2x2 windows at stride 2 that lie in the row (no
    padding, two rows; one depth slice, or two: 2x2x2): each output pixel's lanes in the
    general loops' order, with none of their per-tap calls and tests: each column folded over
    its rows (slice by slice, row by row: ((r0 + r1) + r2) + r3 for two slices), then the
    columns added (:func:`_fold_column`'s order), a column a loop.

    The loops that read memory fastest (one thread, (32, 56, 56, 256) float32, each variant
    in turn in one process, three rounds): 5.0-5.2 ms against 7.6-9.7 for the general loops
    (the four cells in one loop: 8.4 ms; prefetch hints slowed it). 2x2x2 avg over
    (8, 32, 112, 112, 32): 34.4-35.1 -> 26.7-27.4 ms."""
    cdef Py_ssize_t ow, c
    cdef const numeric* a
    cdef const numeric* b
    cdef const numeric* g
    cdef const numeric* h
    cdef numeric_acc* dst
    for ow in range(OW):
        a = row0 + 2 * ow * pixel  # the window's first cell
        b = a + step
        dst = orow + ow * lanes
        if n_depth == 1:
            for c in range(lanes):
                dst[c] = _combine(<numeric_acc>a[c], <numeric_acc>b[c], False)
            a = a + pixel
            b = b + pixel
            for c in range(lanes):
                dst[c] = _combine(dst[c], _combine(<numeric_acc>a[c], <numeric_acc>b[c], False),
                                  False)
        else:
            g = a + depth_step
            h = g + step
            for c in range(lanes):
                dst[c] = _combine(_combine(_combine(<numeric_acc>a[c], <numeric_acc>b[c], False),
                                           <numeric_acc>g[c], False), <numeric_acc>h[c], False)
            a = a + pixel
            b = b + pixel
            g = g + pixel
            h = h + pixel
            for c in range(lanes):
                dst[c] = _combine(dst[c], _combine(_combine(_combine(
                    <numeric_acc>a[c], <numeric_acc>b[c], False), <numeric_acc>g[c], False),
                    <numeric_acc>h[c], False), False)


@cython.warn.unreachable(False)  # the pair test's dropped bodies (_types.pxd)
cdef inline bint _direct_row(const numeric* row0, Py_ssize_t depth_step, Py_ssize_t n_depth,
                             Py_ssize_t step, Py_ssize_t n_rows, Py_ssize_t W, Py_ssize_t lanes,
                             Py_ssize_t pixel, Py_ssize_t OW, Py_ssize_t kw,
                             Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
                             const Py_ssize_t* w_lo, const Py_ssize_t* w_n, bint clipped,
                             numeric_acc* orow, numeric_acc* tmp, numeric_acc identity,
                             bint is_max, numeric_acc scale, int sums_mode) noexcept nogil:
    """One output row of :func:`_separable` over channels-last pixels of ``lanes`` values,
    without the row buffer: each output pixel reads its window's pixels straight from the
    input, so that the results are the same bits as the buffered pass gives.

    * Sums fold each window column over its rows (:func:`_fold_column`), then the columns in
      order, the buffered pass's order. Padded and overhanging columns add the identity, as
      the padded buffer's cells do; ``clipped`` windows fold their in-bounds columns only, as
      :func:`_horizontal_clipped` does.
    * Max scans the window's real cells in row-major order by PyTorch's rule: the bits the
      buffered pass ends with after :func:`_scan_order_max`, with no second scan. Windows
      that lie in the row (up to WINDOW_CELLS cells) take :func:`_direct_window_max`, with
      their cells' offsets worked out once per row; on pixels of at most
      REGISTER_PIXEL_BYTES its vectors held across the cells. One thread, float32, each in
      turn in one process: 3x3 s2 p1 on (32, 112, 112, 64) 11.3-14.8 ms (the loops below)
      -> 8.8-13.5 (a cell a loop) -> 7.9-9.8 (in registers); 8-channel pixels
      (32, 112, 112, 8) 3.8-5.3 -> 3.6-5.2 -> 2.2-2.8; 2x2 s2 on 8 channels (a cell a loop
      against registers) 2.5 -> 1.8, on 64 and 128 neutral. On wider pixels the registers
      lost: (32, 56, 56, 256) 2x2 s2 5.9-6.9 -> 10.9-11.2 ms, 3x3 s2 p1 10.6-11.3 ->
      13.8-13.9 (each window's cells read
      128 bytes at a time, as many streams as cells, where a cell a loop reads each row's
      pixels in order); at 512 bytes (128 channels) it still gained (3x3 s2 p1
      9.6-12.0 -> 8.7-9.2 ms).
    * Max over 2x2 (2x2x2) windows at stride 2 that lie in the row, float32 and float64 in
      whole vectors: cpool_direct_max_2x2, one pass a slice over its four cells, with no
      NaN select per cell; a row where a window read a NaN is scanned again here. One thread,
      float32, the two builds alternating, four rounds: (32, 56, 56, 256) 6.9-7.1 ->
      5.0-5.4 ms (0.71-0.78x), (32, 80, 80, 128) 0.78x, (32, 28, 28, 1024) 0.64-0.70x,
      (8, 16, 56, 56, 256) 2x2x2 0.74x; two threads 0.64-0.67x.
    * Sums over such windows: cpool_direct_sums_2x2 in whole vectors, which also does what
      the caller's pass over the row would by ``sums_mode`` (its ``mode``: the +0 of sums,
      averages times ``scale``, the reciprocal of every window's count, a power of two):
      returns True where it did, and the caller skips its pass. One thread, float32, the
      two builds alternating, four rounds: avg 2x2 s2 (32, 56, 56, 256) 0.81-0.92x the
      time, sum 0.87-0.94x, 64 lanes 0.94x, 2x2x2 avg over 32 lanes 0.91-0.92x.

    A row of W*C values outgrows the L1 cache, so writing it to the buffer and reading it back
    cost more than the input did; reading each window's pixels directly keeps it one stream.
    Pixels are ``pixel`` values apart (more than ``lanes`` for a slice of the channels). A 3-D
    window's rows are ``n_depth`` slices of ``n_rows`` rows, scanned slice by slice.
    """
    if not (numeric is numeric_acc or (numeric_acc is double and numeric is not float)
            or (numeric_acc is int64_t and numeric in signed_ints)
            or (numeric_acc is uint64_t and numeric in unsigned_ints)):
        return False
    cdef Py_ssize_t ow, u, s, t, col, c, n_cols, first_col
    cdef bint first
    cdef numeric_acc* dst
    cdef const numeric* px
    # Outputs [i_lo, i_hi) have every column in the row (no padding, no overhang).
    cdef Py_ssize_t i_lo = _first_inner(OW, sw, pad_w)
    cdef Py_ssize_t i_hi = _inner_end(i_lo, W, OW, kw, sw, dw, pad_w)
    cdef Py_ssize_t off[WINDOW_CELLS]  # the interior windows' cells, from their first
    cdef Py_ssize_t n_cells = n_depth * n_rows * kw
    cdef bint in_registers = lanes * <Py_ssize_t>sizeof(numeric) <= REGISTER_PIXEL_BYTES
    cdef bint windows_2x2 = (not clipped and (n_depth == 1 or n_depth == 2) and n_rows == 2
                             and kw == 2 and sw == 2 and dw == 1 and pad_w == 0 and 2 * OW <= W)
    cdef int done = 0
    if not is_max:
        if windows_2x2 and numeric is numeric_acc:
            if numeric is float:
                done = cpool_direct_sums_2x2_f32(row0, depth_step, n_depth, step, lanes, pixel,
                                                 OW, orow, scale, sums_mode, PREFETCH_BYTES)
            elif numeric is double:
                done = cpool_direct_sums_2x2_f64(row0, depth_step, n_depth, step, lanes, pixel,
                                                 OW, orow, scale, sums_mode, PREFETCH_BYTES)
            if done:
                return sums_mode != 0
        if windows_2x2:
            _direct_sums_2x2(row0, depth_step, n_depth, step, lanes, pixel, OW, orow)
            return False
        i_hi = i_lo
    else:
        if windows_2x2 and numeric is numeric_acc:
            if numeric is float:
                done = cpool_direct_max_2x2_f32(row0, depth_step, n_depth, step, lanes, pixel,
                                                OW, orow, PREFETCH_BYTES)
            elif numeric is double:
                done = cpool_direct_max_2x2_f64(row0, depth_step, n_depth, step, lanes, pixel,
                                                OW, orow, PREFETCH_BYTES)
            if done == 1:
                return False
            # 2: a window read a NaN, whose payload the scan below picks; 0: no vector body.
        if clipped or n_cells == 0 or n_cells > WINDOW_CELLS:
            i_hi = i_lo
        else:
            _cell_offsets(off, depth_step, n_depth, step, n_rows, kw, dw, pixel)
    for ow in range(OW):
        dst = orow + ow * lanes
        n_cols = w_n[ow] if clipped else kw
        first_col = w_lo[ow] if clipped else ow * sw - pad_w
        if i_lo <= ow < i_hi:
            _direct_window_max(row0 + first_col * pixel, off, n_cells, lanes, in_registers,
                               dst)
            continue
        if 0 <= first_col < W:
            _prefetch_window(row0 + first_col * pixel, depth_step, n_depth, step, n_rows,
                             sw * pixel * <Py_ssize_t>sizeof(numeric))
        if n_depth == 0 or n_rows == 0 or n_cols == 0:
            for c in range(lanes):
                dst[c] = identity
        elif is_max:
            first = True
            for s in range(n_depth):
                for t in range(n_rows):
                    for u in range(n_cols):
                        col = first_col + u * dw
                        if not 0 <= col < W:
                            continue  # padding: the identity of max, never read
                        px = row0 + s * depth_step + t * step + col * pixel
                        if first:
                            for c in range(lanes):
                                dst[c] = <numeric_acc>px[c]
                            first = False
                        else:
                            for c in range(lanes):
                                dst[c] = _combine(dst[c], <numeric_acc>px[c], True)
            if first:  # no real column (a dilated window)
                for c in range(lanes):
                    dst[c] = identity
        else:
            for u in range(n_cols):
                col = first_col + u * dw
                if 0 <= col < W:
                    _fold_column(row0 + col * pixel, depth_step, n_depth, step, n_rows, lanes,
                                 dst, tmp, u == 0, False)
                elif u == 0:
                    for c in range(lanes):
                        dst[c] = identity
                else:
                    for c in range(lanes):
                        dst[c] = _combine(dst[c], identity, False)
    return False


cdef inline bint _uniform_windows(const Py_ssize_t[::1] w_n, Py_ssize_t kw, Py_ssize_t W,
                                  Py_ssize_t dw) noexcept nogil:
    """Whether every window (of every plane) has all ``kw`` taps in the row: the general
    path may then reduce the row as if at stride 1 and gather each window's result."""
    cdef Py_ssize_t i
    if (kw - 1) * dw >= W or w_n.shape[0] == 0:
        return False
    for i in range(w_n.shape[0]):
        if w_n[i] != kw:
            return False
    return True


cdef inline void _gather_windows(const numeric_acc* buf, numeric_acc* tmp, numeric_acc* out,
                                 Py_ssize_t OW, const Py_ssize_t* lo, Py_ssize_t n_pos,
                                 Py_ssize_t kw, Py_ssize_t dw, bint is_max) noexcept nogil:
    """out[i] = reduction over u < kw of buf[lo[i] + u*dw]: every window position of the row
    reduced at once, at stride 1 (:func:`_horizontal`'s vectorised loops; the same taps in
    the same order, so the same bits as :func:`_horizontal_clipped`), then gathered."""
    cdef Py_ssize_t i
    _horizontal(buf, tmp, n_pos, kw, 1, dw, is_max)
    for i in range(OW):
        out[i] = tmp[lo[i]]


cdef inline Py_ssize_t _bounds_plane(bint plane_bounds, bint depth, Py_ssize_t b0,
                                     Py_ssize_t b1, Py_ssize_t B1) noexcept nogil:
    """The plane whose window bounds an output row of (b0, b1) reads: its own with
    ``plane_bounds`` (b0 when B1 is the output depth, else b0*B1 + b1: planes in row-major
    order), else plane 0's, which every plane shares. Its bounds start at ``plane * OH`` (rows),
    ``plane * OW`` (columns) and ``plane * OD`` (depth slices) of the bound arrays."""
    if not plane_bounds:
        return 0
    return b0 if depth else b0 * B1 + b1


cdef inline Py_ssize_t _gapped_values(Py_ssize_t OH, Py_ssize_t W, Py_ssize_t kw,
                                      Py_ssize_t dw) noexcept nogil:
    """Values in :func:`_small_plane_rows`' gapped buffer rows of a plane ("same" windows at
    stride 1): OH rows of W values and the (kw - 1) * dw identities of their gaps. Twice
    this is its buffer a thread, which bounds the "same" 3x3 planes it takes
    (SAME3_VALUES)."""
    return OH * (W + (kw - 1) * dw)


cdef inline bint _small_planes(Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t kw,
                               Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
                               bint clipped, bint edges=False,
                               bint clipped_rows=False) noexcept nogil:
    """Whether :func:`_small_plane_rows` (``edges``: it handles windows with taps in the
    horizontal padding or past the row; ``clipped_rows``: it reduces ``clipped`` windows' taps
    in the row) or :func:`_small_plane_arg_rows` serves a windowed op over planes: rows of at
    most SHORT_ROW values, more than one output row per plane, all of whose window rows fit
    TILED_VALUES values, and (without ``edges``) every window's taps in the row."""
    if clipped:
        return clipped_rows and OH > 1 and W <= SHORT_ROW and OH * W <= TILED_VALUES
    return (OH > 1 and W <= SHORT_ROW and OH * W <= TILED_VALUES
            and (edges or (pad_w == 0 and (OW - 1) * sw + (kw - 1) * dw < W)))


cdef inline bint _tiled_2x2_planes(Py_ssize_t W, Py_ssize_t OH, const Py_ssize_t[::1] h_n,
                                   Py_ssize_t itemsize) noexcept nogil:
    """Whether planes of :func:`_separable`'s 2x2 tiles (its ``tiles_2x2``) wider than
    SHORT_ROW still take :func:`_small_plane_rows`, a plane per call of the tiles: every
    window two rows, more than one output row, the windows' rows within TILED_PLANE_BYTES (a
    56-wide float32 plane). On such rows a call per output row cost more than its 28
    outputs' work: avg 2x2 on (4, 256, 56, 56), in cache, one thread, 0.37 -> 0.22 ms (max
    0.46 -> 0.24; in memory, (32, 256, 56, 56), 3.8 -> 3.4 ms). Larger planes keep the
    per-row calls, whose prefetch hints they need in memory: the per-plane calls made max 2x2
    4.5 -> 6.0 ms on 112-wide float32 planes, 4.1 -> 6.4 ms on 56-wide float64 ones (in cache
    they gained a third)."""
    cdef Py_ssize_t oh
    if not (OH > 1 and 2 * OH * W * itemsize <= TILED_PLANE_BYTES):
        return False
    for oh in range(OH):
        if h_n[oh] != 2:
            return False
    return True


cdef inline Py_ssize_t _flat_rows(Py_ssize_t row_step, Py_ssize_t W,
                                  const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n,
                                  Py_ssize_t OH) noexcept nogil:
    """The buffer rows R of a small plane whose vertical pass runs as one flat sweep, or 0.

    Where the plane's rows are contiguous and every window has the same number of rows, buffer
    row r (r < R, the rows from the first window's to the last one's) reduces the window rows
    of input row ``h_lo[0] + r`` and output row oh reads buffer row ``h_lo[oh] - h_lo[0]``: one
    loop over R*W values, which vectorises whole where a loop per output row of 13 values
    leaves a scalar tail per row (whose branches random data mispredicts). Rows between the
    windows' first rows are reduced for nothing, so R is held to twice the output rows."""
    cdef Py_ssize_t oh, R
    if row_step != W or OH == 0:
        return 0
    for oh in range(1, OH):
        # Dilated windows in padding may start out of order (first rows 1, 2, 0, 1): their
        # rows would not lie between the first window's and the last one's.
        if h_n[oh] != h_n[0] or h_lo[oh] < h_lo[oh - 1]:
            return 0
    R = h_lo[OH - 1] - h_lo[0] + 1
    if R < 1 or R > 2 * OH or R * W > TILED_VALUES:
        return 0
    return R


cdef inline Py_ssize_t _buffer_row(const Py_ssize_t* h_lo, Py_ssize_t oh, Py_ssize_t R,
                                   Py_ssize_t W, Py_ssize_t Wb) noexcept nogil:
    """Where output row oh's reduced window rows start in a small plane's buffer: after a flat
    sweep over R rows (:func:`_flat_rows`), at its first row's offset from the first window's;
    else after oh buffer rows of Wb values."""
    return (h_lo[oh] - h_lo[0]) * W if R else oh * Wb


cdef inline bint _stride2_tiles(Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
                                Py_ssize_t OW, Py_ssize_t W) noexcept nogil:
    """Whether a row's windows are the tile kernels' (:func:`_tiles_2x2`,
    :func:`_max_tiles_3x3`, :func:`_argmax_row`): 2 or 3 taps at stride 2, dilation 1, no
    padding, every tap in the row (output i reads columns 2i .. 2i+kw-1)."""
    return ((kw == 2 or kw == 3) and sw == 2 and dw == 1 and pad_w == 0
            and 2 * OW + kw - 2 <= W)


cdef inline void _argmax_row(const numeric* r0, Py_ssize_t below, Py_ssize_t k, numeric* out,
                             int64_t* idx, Py_ssize_t OW, int64_t base,
                             int64_t index_below) noexcept nogil:
    """One output row of max pooling with indices over k x k windows (k = 2 or 3) at stride 2,
    floats only: out[i] and idx[i] from columns 2i .. 2i+k-1 of rows ``r0 + t*below``, by
    cpool_argmax_s2 (PyTorch's scan, tap by tap, in vectors); the indices ``base + 2i`` + the
    column + the row times ``index_below``. The lines STREAM_PREFETCH_BYTES past those it
    reads and writes are hinted into L2 as it goes (its callers' rows and planes follow each
    other)."""
    if numeric is float:
        cpool_argmax_s2_f32(r0, below, <int>k, out, idx, OW, base, index_below,
                            STREAM_PREFETCH_BYTES)
    elif numeric is double:
        cpool_argmax_s2_f64(r0, below, <int>k, out, idx, OW, base, index_below,
                            STREAM_PREFETCH_BYTES)


cdef inline void _argmax_run(const numeric* plane, Py_ssize_t below, Py_ssize_t step,
                             Py_ssize_t plane_step, Py_ssize_t n_rows, Py_ssize_t k,
                             numeric* out, int64_t* idx, Py_ssize_t OW, int64_t base0,
                             int64_t base_step, Py_ssize_t OH, Py_ssize_t oh,
                             int64_t index_below) noexcept nogil:
    """:func:`_argmax_row` over ``n_rows`` rows of short planes, plane after plane (values and
    indices contiguous), by cpool_argmax_run_s2: every row but the last in whole 256-bit
    steps, the last step running into the next row's outputs, which that row then writes
    over. The first row is row ``oh`` of the plane whose first window row is ``plane``; a
    plane's rows are ``step`` apart, the planes ``plane_step``; a row's indices from
    ``base0`` + its row in its plane times ``base_step``. The same steps' lanes, so the same
    values and indices."""
    if numeric is float:
        cpool_argmax_run_s2_f32(plane, below, step, plane_step, n_rows, <int>k, out, idx, OW,
                                base0, base_step, OH, oh, index_below, STREAM_PREFETCH_BYTES)
    elif numeric is double:
        cpool_argmax_run_s2_f64(plane, below, step, plane_step, n_rows, <int>k, out, idx, OW,
                                base0, base_step, OH, oh, index_below, STREAM_PREFETCH_BYTES)


cdef inline void _argmax_window(const numeric* cell, Py_ssize_t below, Py_ssize_t n_rows,
                                Py_ssize_t n_cols, int64_t at, int64_t index_below,
                                numeric* out, int64_t* idx) noexcept nogil:
    """PyTorch's scan of one window with its index, floats only (``cpool_argmax_window``, the
    scan of cpool_argmax_s2's tails): ``n_cols`` columns from ``cell`` of rows
    ``cell + t*below`` (t < ``n_rows``); a tap's index ``at`` + its column + t *
    ``index_below``."""
    if numeric is float:
        cpool_argmax_window_f32(cell, below, n_rows, n_cols, at, index_below, out, idx)
    elif numeric is double:
        cpool_argmax_window_f64(cell, below, n_rows, n_cols, at, index_below, out, idx)


cdef inline void _argmax_cut_windows(const numeric* r0, Py_ssize_t below, Py_ssize_t n_rows,
                                     numeric* out, int64_t* idx, Py_ssize_t OW, Py_ssize_t in_lo,
                                     Py_ssize_t in_hi, const Py_ssize_t* w_lo,
                                     const Py_ssize_t* w_n, int64_t base,
                                     int64_t index_below) noexcept nogil:
    """The windows of a row that the padding cuts (outputs before ``in_lo`` and from
    ``in_hi`` on), each by :func:`_argmax_window` over its real columns (``w_lo``, ``w_n``) of
    ``n_rows`` rows ``r0 + t*below``; ``base`` the flat index of the row's first cell."""
    cdef Py_ssize_t ow
    for ow in range(in_lo):
        _argmax_window(r0 + w_lo[ow], below, n_rows, w_n[ow], base + w_lo[ow], index_below,
                       out + ow, idx + ow)
    for ow in range(in_hi, OW):
        _argmax_window(r0 + w_lo[ow], below, n_rows, w_n[ow], base + w_lo[ow], index_below,
                       out + ow, idx + ow)


cdef inline void _argmax_padded_row(const numeric* r0, Py_ssize_t below, Py_ssize_t k,
                                    numeric* out, int64_t* idx, Py_ssize_t OW, Py_ssize_t in_lo,
                                    Py_ssize_t in_hi, const Py_ssize_t* w_lo,
                                    const Py_ssize_t* w_n, int64_t base,
                                    int64_t index_below) noexcept nogil:
    """:func:`_argmax_row` for a row of k x k windows at stride 2 whose first or last windows
    the padding cuts: outputs ``in_lo`` .. ``in_hi`` - 1 (every tap in the row) by it, the
    others by :func:`_argmax_cut_windows`; ``base`` the flat index of the row's first cell."""
    _argmax_row(r0 + w_lo[in_lo], below, k, out + in_lo, idx + in_lo, in_hi - in_lo,
                base + w_lo[in_lo], index_below)
    _argmax_cut_windows(r0, below, k, out, idx, OW, in_lo, in_hi, w_lo, w_n, base,
                        index_below)


cdef inline bint _argmax_s1_row(const numeric* r0, Py_ssize_t below, Py_ssize_t n_rows,
                                Py_ssize_t k, numeric* out, int64_t* idx, Py_ssize_t OW,
                                Py_ssize_t in_lo, Py_ssize_t in_hi, const Py_ssize_t* w_lo,
                                const Py_ssize_t* w_n, int64_t base,
                                int64_t index_below) noexcept nogil:
    """One output row of max pooling with indices over windows of ``n_rows`` real rows
    ``r0 + t*below`` and ``k`` adjacent columns at stride 1 (1 x 2, 1 x 3, 2 x 2), floats:
    outputs ``in_lo`` .. ``in_hi`` - 1 (every column in the row) by cpool_argmax_s1 (the
    windows' taps in registers, in vectors), the others by :func:`_argmax_cut_windows`;
    ``base`` the flat index of the row's first cell. Returns False, having written nothing,
    where cpool_argmax_s1 does not serve the row (too few outputs, a build without AVX2):
    the caller's general path then does. One thread: 1-D k3 s1 p1 with
    indices on (16, 256, 4096) 29 -> 12 ms, max 2x2 s1 on (8, 256, 56, 56) 11 -> 5.5 ms."""
    cdef Py_ssize_t done = 0
    if numeric is float:
        done = cpool_argmax_s1_f32(r0 + w_lo[in_lo], below, n_rows, k, out + in_lo,
                                   idx + in_lo, in_hi - in_lo, base + w_lo[in_lo], index_below)
    elif numeric is double:
        done = cpool_argmax_s1_f64(r0 + w_lo[in_lo], below, n_rows, k, out + in_lo,
                                   idx + in_lo, in_hi - in_lo, base + w_lo[in_lo], index_below)
    if done == 0:
        return False
    _argmax_cut_windows(r0, below, n_rows, out, idx, OW, in_lo, in_hi, w_lo, w_n, base,
                        index_below)
    return True


cdef inline bint _same_3x3_argmax(const numeric* plane, Py_ssize_t row_step, Py_ssize_t H,
                                  Py_ssize_t W, numeric* out, Py_ssize_t out_step,
                                  int64_t* idx, Py_ssize_t idx_step,
                                  numeric* buf) noexcept nogil:
    """Max with indices over the "same" 3x3 at stride 1 (max_pool2d(x, 3, 1, 1,
    return_indices=True)) of one float plane (rows ``row_step`` apart; the outputs' rows
    ``out_step`` and ``idx_step`` apart) by cpool_same_3x3_argmax: each column's winner over
    its rows, then each window's over its three columns, by the rule "larger, or equal at a
    smaller flat index", which is the scan's wherever no value is NaN (``buf``:
    cpool_same_3x3_argmax_buf values; rows under a vector are first copied a vector apart).
    False where the plane holds a NaN (its outputs partly written), or the kernel
    does not serve it: the caller's general path then does the plane. One thread, max 3x3
    s1 p1 with indices on (32, 128, 28, 28) 8.2 -> 2.8 ms (docs/performance.md)."""
    if numeric is float:
        return cpool_same_3x3_argmax_f32(plane, row_step, H, W, out, out_step, idx, idx_step,
                                         buf) == 1
    elif numeric is double:
        return cpool_same_3x3_argmax_f64(plane, row_step, H, W, out, out_step, idx, idx_step,
                                         buf) == 1
    return False


cdef inline void _argmax_adjacent(const numeric* row, Py_ssize_t k, numeric* out, int64_t* idx,
                                  Py_ssize_t OW, Py_ssize_t in_lo, Py_ssize_t in_hi,
                                  const Py_ssize_t* w_lo, const Py_ssize_t* w_n,
                                  int64_t base) noexcept nogil:
    """One output row of windows of ``k`` = 2 or 3 adjacent cells of one row at stride 2, with
    indices (1-D k2 s2, k3 s2 p1): window i's real cells are ``w_n[i]`` from column
    ``w_lo[i]`` of ``row``, and ``base`` is the flat index of its first column. Outputs
    ``in_lo`` .. ``in_hi`` - 1 (every cell real) in one sweep with ``k`` a constant of its
    loop, which vectorises: each cell after the first replaces the winner so far where it is
    larger, or NaN (PyTorch's rule), and the index is the window's first cell's plus the
    winner's place. The windows that the padding or ceil mode cut scan their real cells in the
    same order. In place of the general path's vertical pass (a copy of the row) and column
    combine: on (16, 256, 4096), one thread, k2 s2 20.3 -> 9.1 ms (docs/performance.md)."""
    cdef Py_ssize_t i, j, c, s0 = w_lo[in_lo] - 2 * in_lo  # window i's first cell: 2i + s0
    cdef numeric m, v
    cdef bint take
    cdef int64_t at
    if k == 2:
        for i in range(in_lo, in_hi):
            m = row[2 * i + s0]
            v = row[2 * i + s0 + 1]
            take = _replaces(m, v)
            out[i] = v if take else m
            idx[i] = base + s0 + 2 * i + take
    else:
        for i in range(in_lo, in_hi):
            m = row[2 * i + s0]
            v = row[2 * i + s0 + 1]
            take = _replaces(m, v)
            m = v if take else m
            at = take
            v = row[2 * i + s0 + 2]
            take = _replaces(m, v)
            out[i] = v if take else m
            idx[i] = base + s0 + 2 * i + (2 if take else at)
    for j in range(OW - (in_hi - in_lo)):  # the cut windows: before in_lo, from in_hi on
        i = j if j < in_lo else j + in_hi - in_lo
        m = row[w_lo[i]]
        at = 0
        for c in range(1, w_n[i]):
            v = row[w_lo[i] + c]
            if _replaces(m, v):
                m = v
                at = c
        out[i] = m
        idx[i] = base + w_lo[i] + at


cdef inline void _later_run_wins(numeric* out, int64_t* idx, const numeric* later,
                                 const int64_t* later_idx, Py_ssize_t n) noexcept nogil:
    """Two runs of each window's taps, ``later`` after ``out`` in the scan's order, each with
    its winner by PyTorch's rule (its first largest value, or its last NaN): the later run's
    winner replaces the earlier one's where the scan would take it (larger, or NaN), which
    gives the scan's winner over both (a 3-D window's slices, one 2-D pass each)."""
    cdef Py_ssize_t i
    cdef numeric m, v
    cdef int64_t mi, vi
    cdef bint take
    for i in range(n):
        m = out[i]
        v = later[i]
        mi = idx[i]
        vi = later_idx[i]
        take = _replaces(m, v)
        out[i] = v if take else m
        idx[i] = vi if take else mi


cdef inline int _tile_op(bint is_max, bint square, bint zero_first) noexcept nogil:
    """cpool_tiles_2x2's op: 2 max, 1 sums of squares, 0 sums with PyTorch's +0 after the
    scale (avg_pool), 3 with it before (``zero_first``: adaptive pooling)."""
    return 2 if is_max else (1 if square else (3 if zero_first else 0))


cdef inline bint _tiles_2x2(const numeric_acc* x, Py_ssize_t below, Py_ssize_t step,
                            Py_ssize_t n_rows, numeric_acc* out, Py_ssize_t OW, bint is_max,
                            bint square, numeric_acc scale=1, bint zero_first=False,
                            Py_ssize_t ahead=0) noexcept nogil:
    """Rows of 2x2 tiles: output row r (OW values at ``out + r*OW``, r < n_rows) from input
    rows ``x + r*step`` and ``below`` values further, out[i] the tile at columns 2i, 2i+1
    reduced, columns first (the bits of _vertical then _horizontal): its max, its sum, or with
    ``square`` the sum of its squares (``is_max`` and ``square`` literals at each call), sums
    times ``scale`` (an average's exact reciprocal; 1 for integers) with PyTorch's +0 after it,
    or with ``zero_first`` before it (adaptive pooling: :func:`_average`). Floats go through
    cpool_tiles_2x2's vectors (even/odd shuffles, which GCC does not find for rows this short:
    max 2x2 on 14-wide planes, 1.59 -> 0.52 ms). For max, whether a row holds a NaN tap or a
    -0 column max, whose bits :func:`_scan_tiles` then gives; integer max is not routed
    here. With ``ahead`` (bytes, floats only), the lines that far past the ones being read
    are hinted into L2 as the rows are read (:func:`_tile_pair`)."""
    cdef Py_ssize_t r
    cdef int op = _tile_op(is_max, square, zero_first)
    if numeric_acc is float:
        return cpool_tile_rows_2x2_f32(x, below, step, n_rows, out, OW, op, scale, ahead)
    elif numeric_acc is double:
        return cpool_tile_rows_2x2_f64(x, below, step, n_rows, out, OW, op, scale, ahead)
    for r in range(n_rows):
        _tile_row_2x2(x + r * step, x + r * step + below, out + r * OW, OW, is_max, square,
                      scale, zero_first)
    return False


cdef inline bint _tile_run_2x2(const numeric_acc* x, Py_ssize_t below, Py_ssize_t step,
                               Py_ssize_t n_rows, numeric_acc* out, Py_ssize_t OW, bint is_max,
                               bint square, numeric_acc scale=1, bint zero_first=False,
                               Py_ssize_t ahead=0) noexcept nogil:
    """:func:`_tiles_2x2` over rows that run on back to back (short planes' rows, one plane
    after another; the outputs contiguous), by cpool_tile_run_2x2: each row but the last in
    whole vectors, the last one running into the next row's outputs, which that row then
    writes over. The same values (the same vectors' lanes, in the same order) and flags."""
    cdef int op = _tile_op(is_max, square, zero_first)
    if numeric_acc is float:
        return cpool_tile_run_2x2_f32(x, below, step, n_rows, out, OW, op, scale, ahead)
    elif numeric_acc is double:
        return cpool_tile_run_2x2_f64(x, below, step, n_rows, out, OW, op, scale, ahead)
    return _tiles_2x2(x, below, step, n_rows, out, OW, is_max, square, scale, zero_first, ahead)


cdef inline Py_ssize_t _row_spacing(const Py_ssize_t* first_rows,
                                    Py_ssize_t OH) noexcept nogil:
    """The spacing of the output rows' first input rows where it is even and there are two
    rows or more (the rows per run step of :func:`_planes_run`); 0 where not."""
    cdef Py_ssize_t oh, spacing = first_rows[1] - first_rows[0] if OH > 1 else 0
    for oh in range(2, OH):
        if first_rows[oh] - first_rows[oh - 1] != spacing:
            return 0
    return spacing


cdef inline bint _tile_pair(const numeric_acc* x, Py_ssize_t below, numeric_acc* copy,
                            numeric_acc* out, Py_ssize_t OW, bint is_max, bint square,
                            numeric_acc scale=1, bint zero_first=False,
                            Py_ssize_t ahead=0) noexcept nogil:
    """One row of :func:`_tiles_2x2` (input rows ``x`` and ``x + below``), the upper row's
    taps first copied to ``copy`` unless it is NULL (:func:`_separable`'s ``row_first``):
    the same values, so the same bits. The lines ``ahead`` bytes on of both input rows may be
    hinted as they are read (:func:`_separable`'s ``tile_ahead``)."""
    if copy == NULL:
        return _tiles_2x2(x, below, 0, 1, out, OW, is_max, square, scale, zero_first, ahead)
    memcpy(copy, x, 2 * OW * sizeof(numeric_acc))
    return _tile_row_2x2(copy, x + below, out, OW, is_max, square, scale, zero_first, x, ahead)


cdef inline bint _tile_row_2x2(const numeric_acc* r0, const numeric_acc* r1, numeric_acc* o,
                               Py_ssize_t OW, bint is_max, bint square,
                               numeric_acc scale=1, bint zero_first=False,
                               const numeric_acc* source=NULL, Py_ssize_t ahead=0) noexcept nogil:
    """One row of :func:`_tiles_2x2` from its two input rows ``r0`` and ``r1``, wherever each
    lies (``r0`` may be a copy of the input row at ``source``: :func:`_tile_pair`, whose
    ``ahead`` hints go by that row)."""
    cdef Py_ssize_t i
    cdef int op = _tile_op(is_max, square, zero_first)
    if numeric_acc is float:
        return cpool_tiles_2x2_f32(r0, r1, o, OW, op, scale, source if source else r0, ahead)
    elif numeric_acc is double:
        return cpool_tiles_2x2_f64(r0, r1, o, OW, op, scale, source if source else r0, ahead)
    if square:
        for i in range(OW):
            o[i] = ((r0[2 * i] * r0[2 * i] + r1[2 * i] * r1[2 * i])
                    + (r0[2 * i + 1] * r0[2 * i + 1] + r1[2 * i + 1] * r1[2 * i + 1]))
    else:
        # _combine: int64 sums wrap as uint64 adds (signed overflow is undefined in C;
        # the sanitizer job found this one), other dtypes add plainly.
        for i in range(OW):
            o[i] = _combine(_combine(r0[2 * i], r1[2 * i], False),
                            _combine(r0[2 * i + 1], r1[2 * i + 1], False), False)
    return False


cdef inline bint _tiles_2x2x2(const numeric* first, Py_ssize_t depth_step, Py_ssize_t row_step,
                              numeric_acc* buf, numeric_acc* orow, Py_ssize_t OW, bint is_max,
                              numeric_acc scale, bint zero_first) noexcept nogil:
    """One output row of 2x2x2 windows at stride 2 (``first``: the window row's first input
    row, d0h0): rows d0h0, d0h1 and d1h0 folded into ``buf`` (in L1) in one sweep, which the
    2x2 tiles then combine with d1h1, columns first: each column's fold in (d, h) order, the
    bits of the general rows' vertical then horizontal passes, in one pass over the fourth
    row. False for a max row the tiles flagged (a NaN tap, which their max may drop, or a -0
    column max): the caller's general steps redo that row, as any other."""
    cdef const numeric_acc* fourth = <const numeric_acc*>(first + depth_step + row_step)
    _fold_three(first, first + row_step, first + depth_step, 2 * OW, buf, is_max)
    # Literal ops at each call: GCC then calls the tiles' clone for that op (a max row took
    # 38 more instructions through the clone that reads its op).
    if is_max:
        return not _tile_row_2x2(buf, fourth, orow, OW, True, False)
    _tile_row_2x2(buf, fourth, orow, OW, False, False, scale, zero_first)
    return True


cdef inline int64_t _one_window_size(const int64_t[::1] count_d, const int64_t[::1] count_h,
                                     const int64_t[::1] count_w, bint depth) noexcept nogil:
    """The one count of cells every window is divided by (``count_d``'s taken only for 3-D
    windows), or 0 where the windows' counts differ: the 2x2 tiles' scale."""
    return (_one_count(count_h) * _one_count(count_w)
            * (_one_count(count_d) if depth else 1))


cdef inline bint _max_tiles_3x3(const numeric* x, Py_ssize_t below, Py_ssize_t step,
                                Py_ssize_t n_rows, numeric* out, Py_ssize_t OW) noexcept nogil:
    """:func:`_tiles_2x2`'s max for 3x3 windows at stride 2 (adaptive 13 -> 6), floats only:
    whether a row needs :func:`_scan_tiles`."""
    if numeric is float:
        return cpool_tiles_3x3_max_f32(x, below, step, n_rows, out, OW)
    elif numeric is double:
        return cpool_tiles_3x3_max_f64(x, below, step, n_rows, out, OW)
    return False


cdef inline Py_ssize_t _run_of_rows(const Py_ssize_t* h_lo, const Py_ssize_t* h_n, Py_ssize_t oh,
                                   Py_ssize_t oh_end, Py_ssize_t sh) noexcept nogil:
    """How many output rows from ``oh`` (before ``oh_end``) have windows of ``h_n[oh]`` rows at
    the vertical stride ``sh`` on from its own: the run of rows a row kernel does in one call
    (_max_rows_3x3, cpool_rgb8_max_2x2_rows)."""
    cdef Py_ssize_t j = 1
    while (oh + j < oh_end and h_n[oh + j] == h_n[oh]
           and h_lo[oh + j] == h_lo[oh] + j * sh):
        j = j + 1
    return j


cdef inline Py_ssize_t _max_rows_3x3(const numeric* first, Py_ssize_t below,
                                     Py_ssize_t depth_step, Py_ssize_t n_depth, Py_ssize_t step,
                                     Py_ssize_t n_rows, numeric* orow, Py_ssize_t OW,
                                     Py_ssize_t i_lo, Py_ssize_t i_hi, Py_ssize_t pad_w,
                                     const Py_ssize_t* w_lo, const Py_ssize_t* w_n,
                                     Py_ssize_t ahead) noexcept nogil:
    """Rows of float max over three rows at stride 2, of ``n_depth`` slices each (a 3-D
    window's; ``cpool_max_rows_3x3``): how many are done before one with a NaN tap or a -0
    column max (whose bits are the general path's)."""
    if numeric is float:
        return cpool_max_rows_3x3_f32(first, below, depth_step, n_depth, step, n_rows, orow, OW,
                                      i_lo, i_hi, pad_w, w_lo, w_n, ahead)
    elif numeric is double:
        return cpool_max_rows_3x3_f64(first, below, depth_step, n_depth, step, n_rows, orow, OW,
                                      i_lo, i_hi, pad_w, w_lo, w_n, ahead)
    return 0


cdef inline void _scan_tiles(const numeric* x, Py_ssize_t below, Py_ssize_t step,
                             Py_ssize_t n_rows, numeric* out, Py_ssize_t OW,
                             Py_ssize_t k) noexcept nogil:
    """The max of :func:`_tiles_2x2` (k = 2) or :func:`_max_tiles_3x3` (k = 3) by PyTorch's
    row-major scan (``v > m or isnan(v)``), for the rows they flag: output i of row r scans
    rows ``x + r*step + t*below`` (t < k), columns 2i to 2i + k - 1, in that order."""
    cdef Py_ssize_t i, r
    for r in range(n_rows):
        for i in range(OW):
            out[r * OW + i] = _scan_max(x + r * step + 2 * i, below, k, k, 1,
                                        _lowest(<numeric*>NULL))


cdef inline numeric_acc _padded_window(const numeric_acc* row, Py_ssize_t W, Py_ssize_t lo,
                                       Py_ssize_t kw, Py_ssize_t dw, numeric_acc identity,
                                       bint is_max) noexcept nogil:
    """The window of ``row`` (W values) whose first tap is column ``lo``, where some taps lie
    outside the row (in the padding, or past it): its taps in :func:`_horizontal`'s order,
    those outside as the identity, so the bits of the padded row's reduction."""
    cdef Py_ssize_t u, col
    cdef numeric_acc acc = row[lo] if 0 <= lo < W else identity
    for u in range(1, kw):
        col = lo + u * dw
        acc = _combine(acc, row[col] if 0 <= col < W else identity, is_max)
    return acc


cdef inline void _padded_edges(const numeric_acc* row, Py_ssize_t W, numeric_acc* orow,
                               Py_ssize_t OW, Py_ssize_t i_lo, Py_ssize_t i_hi, Py_ssize_t sw,
                               Py_ssize_t pad_w, Py_ssize_t kw, Py_ssize_t dw,
                               numeric_acc identity, bint is_max) noexcept nogil:
    """The windows of an output row that reach into the padding or past the row's end, those
    before ``i_lo`` and from ``i_hi`` on (window i's first tap at column ``i*sw - pad_w``),
    each by :func:`_padded_window`: the bits of the padded row's reduction. The row's
    interior windows ``[i_lo, i_hi)`` are the caller's sweep."""
    cdef Py_ssize_t i
    for i in range(i_lo):
        orow[i] = _padded_window(row, W, i * sw - pad_w, kw, dw, identity, is_max)
    for i in range(i_hi, OW):
        orow[i] = _padded_window(row, W, i * sw - pad_w, kw, dw, identity, is_max)


cdef inline void _stream_row(const numeric_acc* row, Py_ssize_t W, numeric_acc* orow,
                             Py_ssize_t OW, Py_ssize_t i_lo, Py_ssize_t i_hi, Py_ssize_t kw,
                             Py_ssize_t sw, Py_ssize_t pad_w, numeric_acc identity, bint is_max,
                             bint divide, const numeric_acc* drow,
                             bint reciprocal) noexcept nogil:
    """One input row's windows (a 1-D input's, or windows of one row) at stride 1 or 2,
    finished: those inside the row by cpool_stream_row, which writes past the caches; those
    reaching into the padding or past the row's end by :func:`_padded_edges`; then an
    average's division and +0 (``drow``: the row's divisors, or their reciprocals) or a sum's
    +0, as the row loop finishes a row, on those few. The bits of the in-place path."""
    cdef int op = 2 if is_max else ((3 if reciprocal else 1) if divide else 0)
    cdef Py_ssize_t i
    if numeric_acc is float:
        cpool_stream_row_f32(row + i_lo * sw - pad_w, orow + i_lo, i_hi - i_lo, kw, sw, op,
                             drow + i_lo, STREAM_PREFETCH_BYTES)
    elif numeric_acc is double:
        cpool_stream_row_f64(row + i_lo * sw - pad_w, orow + i_lo, i_hi - i_lo, kw, sw, op,
                             drow + i_lo, STREAM_PREFETCH_BYTES)
    _padded_edges(row, W, orow, OW, i_lo, i_hi, sw, pad_w, kw, 1, identity, is_max)
    if is_max:
        return
    for i in range(i_lo):
        orow[i] = _average(orow[i], drow[i], reciprocal, False) if divide else _from_zero(orow[i])
    for i in range(i_hi, OW):
        orow[i] = _average(orow[i], drow[i], reciprocal, False) if divide else _from_zero(orow[i])


cdef inline void _root_row(numeric_acc* row, Py_ssize_t n, double scale) noexcept nogil:
    """LP pooling's p = 2 finish on means of squares, where they are made:
    ``sqrt(mean * scale)`` (``scale`` the kernel's cell count), PyTorch's
    ``(sign(a) * relu(|a|) * kw * kh) ** 0.5`` for means that are never negative (NaN stays
    NaN). The multiply and the root in the means' dtype, as PyTorch does them."""
    cdef Py_ssize_t i
    cdef numeric_acc s = <numeric_acc>scale
    if numeric_acc is float:
        for i in range(n):
            row[i] = sqrtf(row[i] * s)
    elif numeric_acc is double:
        for i in range(n):
            row[i] = sqrt(row[i] * s)


@cython.warn.unreachable(False)  # the pair test's dropped bodies (_types.pxd)
cdef int _small_plane_rows(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,
                     numeric_acc[:, :, :, ::1] out,
                     const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
                     Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
                     const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n,
                     const int64_t[::1] count_h, const int64_t[::1] count_w, bint divide,
                     bint is_max, int num_threads, bint square, double root,
                     bint zero_first, bint same_3x3, bint clipped) except -1:
    """:func:`_separable` for small planes (a 14-wide plane, 2x2 stride 2; adaptive 13 -> 6,
    3x3 stride 2): a task takes one plane and reduces each output row's window rows into one
    buffer, row after row, so that the plane's windows take one horizontal pass and its
    averages one division pass (against divisors each thread builds once), where on 14-wide
    rows the per-row passes cost more than the work.

    Windows that tile their rows (taps within the stride) keep OW*sw values per buffer row:
    buffer row k's windows continue where row k-1's end, one pass over OH*OW outputs.
    Overlapping ones keep the whole rows, W values each: every position of the buffer is
    reduced at stride 1, then each window's result is gathered. Where :func:`_flat_rows`
    allows (and for max even where windows tile) the vertical pass is one flat sweep over the
    plane's rows, whose buffer rows are then reduced and gathered as overlapping ones are.

    Windows with taps in the horizontal padding (``pad_w``) or past the row (ceil_mode) are
    reduced as overlapping ones; the few at a row's ends that reach outside it then take their
    in-row taps from the buffer row, the identity for the rest (avg 3x3 stride 1 padding 1 on
    28-wide planes: 2 of 28 outputs per row). Per output the same operations in the same order
    as _separable's rows, so the same bits (``square`` as there).

    ``clipped`` windows (uneven ones: adaptive pooling to a size that does not divide the
    input's) keep whole rows too, and each buffer row's windows reduce their taps in the row
    by :func:`_horizontal_clipped`, as _separable's rows do, but for a plane a task: the
    per-row passes and divisors cost more than the work (adaptive pooling 10 -> 7 on
    (32, 512, 10, 10), one thread: avg 3.52 -> 1.74 ms, max 5.11 -> 4.18 ms). Float planes
    in batches of a group per thread now go side by side instead (:func:`_lane_planes`:
    1.0 and 1.2 ms)."""
    if not (numeric is numeric_acc or (numeric_acc is double and numeric is not float)
            or (numeric_acc is int64_t and numeric in signed_ints)
            or (numeric_acc is uint64_t and numeric in unsigned_ints)):
        raise TypeError("cpool: no kernel reads this input dtype into this output dtype")
    cdef Py_ssize_t B1 = out.shape[1], OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t P = out.shape[0] * B1, W = x.shape[3]
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(numeric)
    # Windows that tile their rows keep the per-row sweeps for sums, whose scalar tails are
    # cheap: the flat sweep's extra rows cost more there (14 -> 7, 2x2: 0.63 -> 0.89 ms), where
    # for max they cost less than the tails' branches (2.3 -> 1.5 ms). Rows of whole vectors
    # (32 bytes) have no tail, and keep the per-row sweeps for max too.
    cdef bint tiles = not clipped and (kw - 1) * dw < sw and pad_w == 0 and OW * sw <= W
    # 2x2 stride 2 (every window two rows): each output row straight from its two input rows
    # by _tiles_2x2, no buffer (adaptive avg 14 -> 7: 0.63 -> 0.34 ms; max 2x2 on 14-wide
    # planes 1.59 -> 0.42 ms). Both rows' lines STREAM_PREFETCH_BYTES on are hinted into L2
    # as they are read: a thread's planes are one stream (consecutive planes, rows
    # contiguous), which the hardware prefetcher alone did not keep ahead of on an Intel
    # Xeon host (AVX-512, 2 MB L2). There, one thread, (32, 256, 56, 56) float32: max
    # 7.09 -> 4.50 ms, avg 5.68 -> 4.34, sum 5.57 -> 4.34, LP p=2 6.99 -> 4.96; in L3
    # (4, 256, 56, 56) and adaptive avg 14 -> 7, 0.97-1.01.
    cdef bint tiles_2x2 = (numeric is numeric_acc
                           and (not is_max or numeric is float or numeric is double)
                           and kw == 2 and sw == 2 and dw == 1 and tiles)
    # Float max over 3x3 windows at stride 2 likewise, by _max_tiles_3x3 (adaptive 13 -> 6:
    # 0.82 -> 0.37 ms).
    cdef bint tiles_3x3 = (numeric is numeric_acc and is_max and not clipped
                           and (numeric is float or numeric is double)
                           and kw == 3 and _stride2_tiles(kw, sw, dw, pad_w, OW, W))
    cdef bint tail = (W * <Py_ssize_t>sizeof(numeric)) % 32 != 0
    cdef Py_ssize_t R = (_flat_rows(row_step, W, h_lo, h_n, OH)
                         if not clipped and ((is_max and tail) or not tiles) else 0)
    tiles = tiles and R == 0
    cdef Py_ssize_t Wb = OW * sw if tiles else W  # values per buffer row
    cdef Py_ssize_t n_buf = (R if R else OH) * Wb  # values in the buffer rows
    # The buffer rows, then (overlapping windows) the stride-1 reductions.
    cdef Py_ssize_t stride = _buffer_stride(n_buf * (1 if tiles else 2), sizeof(numeric_acc))
    cdef Py_ssize_t div_stride = _buffer_stride(OH * OW, sizeof(numeric_acc)) if divide else 0
    cdef numeric_acc identity = _lowest(<numeric_acc*>NULL) if is_max else 0
    cdef Py_ssize_t p, b0, b1, oh, i, at
    cdef bint trace = tracing()
    cdef Py_ssize_t plane_work = OH * OW  # a task's values read and written (traced)
    for oh in range(OH):
        plane_work += h_n[oh] * W
        tiles_2x2 = tiles_2x2 and h_n[oh] == 2
        tiles_3x3 = tiles_3x3 and h_n[oh] == 3
    # Outputs [i_lo, i_hi) of a row have every tap in it; the rest reach into the padding.
    cdef Py_ssize_t i_lo = _first_inner(OW, sw, pad_w)
    cdef Py_ssize_t i_hi = _inner_end(i_lo, W, OW, kw, sw, dw, pad_w)
    # Stride 1 with a "same" padding (as many outputs per row as values): the buffer rows sit
    # Wg apart, with the identity in the gaps (pad_w before each row, the rest of
    # (kw - 1) * dw after), so that the stride-1 sweep gives every output, the rows' ends
    # included, as the padded row's reduction (the taps outside the row as the identity, in
    # order: _padded_window's bits), and each row of it is copied out. Before, the sweep wrote
    # the outputs in place and each row's two end windows were redone by _padded_window, scalar
    # with a bounds test per tap: a third of avg 3x3 s1 p1 on 28-wide planes.
    cdef bint gapped = (not clipped and not tiles and R == 0 and sw == 1 and OW == W
                        and 0 < pad_w <= (kw - 1) * dw)
    # The "same" 3x3 at stride 1 (padding 1 both ways; avg_pool2d(x, 3, 1, 1) and
    # max_pool2d(x, 3, 1, 1)) of floats: a plane a call of cpool_same_3x3_sums or _max, the
    # steps of the gapped rows below in vectors, without their calls per row (on 28-wide
    # planes most of the time). A max plane with a NaN or a -0 column max takes the gapped
    # rows after all (``fused`` false), whose scan fix-up settles which zero or NaN it keeps.
    # (``same_3x3``: _separable's :func:`_same_3x3` of these windows.)
    cdef Py_ssize_t H = x.shape[2]
    cdef bint same3 = gapped and not square and same_3x3
    cdef Py_ssize_t Wg = _gapped_values(1, W, kw, dw) if gapped else Wb  # values per buffer row
    cdef Py_ssize_t gap_lo = pad_w if gapped else 0  # where a buffer row's values start
    cdef Py_ssize_t j
    if gapped:
        n_buf = _gapped_values(OH, W, kw, dw)
        # (cpool_same_3x3_sums' and _max's row of identities: within the buffer rows)
        stride = _buffer_stride(max(2 * n_buf, CPOOL_SAME_3X3_BUF(W)), sizeof(numeric_acc))
    cdef numeric_acc* buf
    cdef numeric_acc* divs
    cdef numeric_acc* orow
    cdef const numeric* first
    cdef const numeric* plane
    cdef bint fresh, fused
    if P == 0:
        return 0
    cdef numeric_acc* scratch = NULL
    cdef int64_t* built = NULL  # per thread: whether its divisors are built
    # Floating averages over windows of a power of two cells each (2x2: every window of a
    # tiling) multiply by the exact reciprocal: the same bits as the division (both are the
    # exact quotient rounded once), cheaper (adaptive avg 14 -> 7: 0.625 -> 0.607 ms).
    cdef bint reciprocal = (divide and (numeric_acc is float or numeric_acc is double)
                            and _powers_of_two(count_h) and _powers_of_two(count_w))
    # 2x2 tiles whose averages share one divisor (a power of two): _tiles_2x2 multiplies by
    # its reciprocal as it writes (with the +0 on _average's side), the bits of the division
    # pass it replaces.
    cdef int64_t cells = (_one_window_size(count_h, count_h, count_w, False)
                          if tiles_2x2 and reciprocal else 0)
    cdef bint scaled = cells > 0
    cdef numeric_acc tile_scale = 1
    if scaled:
        tile_scale = <numeric_acc>1 / <numeric_acc>cells
    cdef const Py_ssize_t* first_rows = &h_lo[0]
    # The spacing of the output rows' first input rows where it is even (0 where not), and
    # the rows per _tiles_2x2 call: all OH, or one.
    cdef Py_ssize_t tile_rows = _row_spacing(first_rows, OH)
    cdef Py_ssize_t tile_n = OH if tile_rows else 1
    # Short float planes (rows of SHORT_ROW values or fewer) laid back to back, each output
    # row's windows ``tile_rows`` input rows on from the last one's, plane after plane: the
    # rows are one run, a task's rows one call of _tile_run_2x2 (every row but the task's
    # last in whole vectors), not a call per plane of rows that end in a vector overlapping
    # the one before, or in a scalar tail. One thread, float32: max 2x2 on (32, 512, 14, 14)
    # 0.87 -> 0.38 ms, adaptive avg 14 -> 7 0.72 -> 0.33 ms. Sums and averages take the run
    # on planes up to 2 * SHORT_ROW wide too: on (4, 256, 56, 56), in cache, avg 2x2 took
    # 0.90 of the calls per plane's time, and on (32, 256, 56, 56) about the same time (max
    # 0.96 and 1.05: it keeps the calls per plane there; docs/performance.md). LP's p = 2
    # takes the run too, each task's roots after it (on (32, 512, 14, 14) 1.05 -> 0.61 ms).
    cdef Py_ssize_t n_rows, n_tasks, task, r_lo, r_hi
    cdef const numeric* run
    cdef numeric_acc* orun
    if (tiles_2x2 and tile_rows and W <= (SHORT_ROW if is_max else 2 * SHORT_ROW)
            and (numeric is float or numeric is double)
            and not (divide and not scaled)
            and _planes_run(x.strides, out.strides, out.shape[0], B1, OH, OW, tile_rows,
                            sizeof(numeric))):
        n_rows = P * OH
        n_tasks = _row_tasks(n_rows, num_threads)
        first = &x[0, 0, first_rows[0], 0]
        with nogil:
            for task in prange(n_tasks, schedule='static', num_threads=num_threads):
                r_lo = _task_row(task, n_rows, n_tasks)
                r_hi = _task_row(task + 1, n_rows, n_tasks)
                if trace:
                    note_work((r_hi - r_lo) * (OW + 2 * W))
                run = first + r_lo * tile_rows * row_step  # the task's first window row
                orun = &out[0, 0, 0, 0] + r_lo * OW
                if is_max:
                    if _tile_run_2x2(<const numeric_acc*>run, dh * row_step,
                                     tile_rows * row_step, r_hi - r_lo, orun, OW, True, False,
                                     1, False, STREAM_PREFETCH_BYTES):
                        _scan_tiles(run, dh * row_step, tile_rows * row_step, r_hi - r_lo,
                                    <numeric*>orun, OW, 2)
                elif square:
                    _tile_run_2x2(<const numeric_acc*>run, dh * row_step, tile_rows * row_step,
                                  r_hi - r_lo, orun, OW, False, True, tile_scale, False,
                                  STREAM_PREFETCH_BYTES)
                    if divide and root > 0:  # LP's p = 2, as a plane's pass below does it
                        _root_row(orun, (r_hi - r_lo) * OW, root)
                else:
                    _tile_run_2x2(<const numeric_acc*>run, dh * row_step, tile_rows * row_step,
                                  r_hi - r_lo, orun, OW, False, False, tile_scale, zero_first,
                                  STREAM_PREFETCH_BYTES)
        return 0
    scratch = <numeric_acc*>_scratch(num_threads, stride + div_stride, sizeof(numeric_acc))
    try:
        built = _thread_slots(num_threads)  # -1: nothing built
        with nogil:
            for p in prange(P, schedule='static', num_threads=num_threads):
                b0 = p // B1
                b1 = p - b0 * B1
                if trace:
                    note_work(plane_work)
                buf = scratch + threadid() * (stride + div_stride)
                orow = &out[b0, b1, 0, 0]
                fused = False
                if same3:
                    # The thread's first plane (its divisors not yet built): the buffer's
                    # padding and row of identities too, which later planes keep.
                    fresh = built[threadid() * THREAD_SLOT] < 0
                    divs = NULL
                    if divide:  # (_plane_divisors marks the thread's buffer as built)
                        divs = _plane_divisors(buf + stride, &built[threadid() * THREAD_SLOT],
                                               &count_h[0], &count_w[0], OH, OW, reciprocal)
                    else:
                        built[threadid() * THREAD_SLOT] = 1
                    if is_max:
                        if numeric is float:
                            fused = cpool_same_3x3_max_f32(&x[b0, b1, 0, 0], row_step, H, W,
                                                           <float*>orow, <float*>buf,
                                                           fresh) == 1
                        elif numeric is double:
                            fused = cpool_same_3x3_max_f64(&x[b0, b1, 0, 0], row_step, H, W,
                                                           <double*>orow, <double*>buf,
                                                           fresh) == 1
                        if not fused:  # the gapped rows below write over the buffer's edges
                            built[threadid() * THREAD_SLOT] = -1
                    elif numeric is float:
                        fused = cpool_same_3x3_sums_f32(&x[b0, b1, 0, 0], row_step, H, W,
                                                        <float*>orow, <float*>divs, reciprocal,
                                                        zero_first, <float*>buf, fresh)
                    elif numeric is double:
                        fused = cpool_same_3x3_sums_f64(&x[b0, b1, 0, 0], row_step, H, W,
                                                        <double*>orow, <double*>divs,
                                                        reciprocal, zero_first, <double*>buf,
                                                        fresh)
                if fused:
                    pass
                elif tiles_2x2:
                    plane = &x[b0, b1, 0, 0]
                    # The plane's rows in one call where their first rows are evenly spaced
                    # (tile_rows: that spacing), else one call per row.
                    for at in range(OH // tile_n):
                        oh = at * tile_n
                        first = plane + first_rows[oh] * row_step
                        if is_max:
                            if _tiles_2x2(<const numeric_acc*>first, dh * row_step,
                                          tile_rows * row_step, tile_n, orow + oh * OW, OW,
                                          True, False, 1, False, STREAM_PREFETCH_BYTES):
                                _scan_tiles(first, dh * row_step, tile_rows * row_step,
                                            tile_n, <numeric*>orow + oh * OW, OW, 2)
                        elif square:
                            _tiles_2x2(<const numeric_acc*>first, dh * row_step,
                                       tile_rows * row_step, tile_n, orow + oh * OW, OW,
                                       False, True, tile_scale, False, STREAM_PREFETCH_BYTES)
                        else:
                            _tiles_2x2(<const numeric_acc*>first, dh * row_step,
                                       tile_rows * row_step, tile_n, orow + oh * OW, OW,
                                       False, False, tile_scale, zero_first,
                                       STREAM_PREFETCH_BYTES)
                elif tiles_3x3:
                    plane = &x[b0, b1, 0, 0]
                    for at in range(OH // tile_n):
                        oh = at * tile_n
                        first = plane + first_rows[oh] * row_step
                        if _max_tiles_3x3(first, dh * row_step, tile_rows * row_step, tile_n,
                                          <numeric*>orow + oh * OW, OW):
                            _scan_tiles(first, dh * row_step, tile_rows * row_step, tile_n,
                                        <numeric*>orow + oh * OW, OW, 3)
                elif R:  # the flat sweep (square and not: a literal each, two inlined loops)
                    if square:
                        _vertical(&x[b0, b1, h_lo[0], 0], dh * row_step, h_n[0], n_buf, buf,
                                  identity, False, True)
                    else:
                        _vertical(&x[b0, b1, h_lo[0], 0], dh * row_step, h_n[0], n_buf, buf,
                                  identity, is_max)
                else:
                    for oh in range(OH):
                        if square:
                            _vertical(&x[b0, b1, h_lo[oh], 0], dh * row_step, h_n[oh], Wb,
                                      buf + oh * Wg + gap_lo, identity, False, True)
                        else:
                            _vertical(&x[b0, b1, h_lo[oh], 0], dh * row_step, h_n[oh], Wb,
                                      buf + oh * Wg + gap_lo, identity, is_max)
                        if gapped:
                            for j in range(gap_lo):
                                buf[oh * Wg + j] = identity
                            for j in range(gap_lo + W, Wg):
                                buf[oh * Wg + j] = identity
                if fused or tiles_2x2 or tiles_3x3:
                    pass
                elif clipped:
                    for oh in range(OH):
                        _horizontal_clipped(buf + oh * W, orow + oh * OW, OW, &w_lo[0],
                                            &w_n[0], dw, identity, is_max, 1)
                elif tiles:
                    _horizontal(buf, orow, OH * OW, kw, sw, dw, is_max)
                elif gapped:
                    # Each row copied out of the sweep, divided on the way (averages): the
                    # division pass below, without its own loads and stores.
                    _horizontal(buf, buf + n_buf, n_buf - (kw - 1) * dw, kw, 1, dw, is_max)
                    if divide and not scaled:
                        divs = _plane_divisors(buf + stride, &built[threadid() * THREAD_SLOT],
                                               &count_h[0], &count_w[0], OH, OW, reciprocal)
                    for oh in range(OH):
                        if is_max:
                            for i in range(OW):
                                orow[oh * OW + i] = buf[n_buf + oh * Wg + i]
                        elif not divide:
                            for i in range(OW):
                                orow[oh * OW + i] = _from_zero(buf[n_buf + oh * Wg + i])
                        elif reciprocal:
                            for i in range(OW):
                                orow[oh * OW + i] = _average(buf[n_buf + oh * Wg + i],
                                                             divs[oh * OW + i], True,
                                                             zero_first)
                        else:
                            for i in range(OW):
                                orow[oh * OW + i] = _average(buf[n_buf + oh * Wg + i],
                                                             divs[oh * OW + i], False,
                                                             zero_first)
                else:
                    _horizontal(buf, buf + n_buf, n_buf - (kw - 1) * dw, kw, 1, dw, is_max)
                    for oh in range(OH):
                        at = _buffer_row(&h_lo[0], oh, R, W, W)
                        for i in range(i_lo, i_hi):
                            orow[oh * OW + i] = buf[n_buf + at + i * sw - pad_w]
                        _padded_edges(buf + at, W, orow + oh * OW, OW, i_lo, i_hi, sw, pad_w,
                                      kw, dw, identity, is_max)
                if numeric is numeric_acc and is_max and not (fused or tiles_2x2 or tiles_3x3):
                    # As in _separable: the scan's own bits where a column max is -0 or NaN.
                    for oh in range(OH):
                        at = _buffer_row(&h_lo[0], oh, R, W, Wg) + gap_lo
                        if h_n[oh] > 1 and _any_negzero_or_nan(buf + at, Wb):
                            first = &x[b0, b1, h_lo[oh], 0]
                            _scan_order_max(first, 0, 1, dh * row_step, h_n[oh], &w_lo[0],
                                            &w_n[0], dw, orow + oh * OW, OW, 1)
                # Averages with PyTorch's +0 (_average); sums alone from its +0 start
                # (_from_zero). 2x2 tiles and the gapped rows' copy did this as they wrote.
                if divide and not scaled and not gapped:
                    divs = _plane_divisors(buf + stride, &built[threadid() * THREAD_SLOT],
                                           &count_h[0], &count_w[0], OH, OW, reciprocal)
                    if reciprocal:
                        for i in range(OH * OW):
                            orow[i] = _average(orow[i], divs[i], True, zero_first)
                    else:
                        for i in range(OH * OW):
                            orow[i] = _average(orow[i], divs[i], False, zero_first)
                elif not (divide or is_max or square or tiles_2x2 or gapped):
                    for i in range(OH * OW):
                        orow[i] = _from_zero(orow[i])
                if divide and root > 0:
                    _root_row(orow, OH * OW, root)
    finally:
        free(scratch)
        free(built)
    return 0


cdef inline void _average_pixels(numeric_acc* orow, const numeric_acc* drow, Py_ssize_t OW,
                                 Py_ssize_t lanes, bint reciprocal,
                                 bint zero_first) noexcept nogil:
    """A row of channels-last sums into averages (:func:`_average`): output pixel i's
    ``lanes`` values by divisor ``drow[i]`` (its reciprocal with ``reciprocal``)."""
    cdef Py_ssize_t i, j
    cdef numeric_acc d
    if reciprocal:  # a literal each: two inlined loops
        for i in range(OW):
            d = drow[i]
            for j in range(i * lanes, i * lanes + lanes):
                orow[j] = _average(orow[j], d, True, zero_first)
    else:
        for i in range(OW):
            d = drow[i]
            for j in range(i * lanes, i * lanes + lanes):
                orow[j] = _average(orow[j], d, False, zero_first)


@cython.warn.unreachable(False)  # the pair test's dropped bodies (_types.pxd)
cdef int _separable(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,
                    numeric_acc[:, :, :, ::1] out,
                    const Py_ssize_t[::1] d_lo, const Py_ssize_t[::1] d_n, Py_ssize_t dd,
                    const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t sh, Py_ssize_t dh,
                    Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
                    const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, bint clipped,
                    bint plane_bounds, const int64_t[::1] count_d, const int64_t[::1] count_h,
                    const int64_t[::1] count_w, bint divide,
                    bint is_max, Py_ssize_t lanes, Py_ssize_t pixel, int num_threads,
                    layout* tag, bint square=False, double root=0,
                    bint zero_first=False) except -1:
    """Shared driver of window_max and window_sum: vertical pass, padded buffer, horizontal pass.
    Max then gives +-0 and NaN outputs the scan's own bits (:func:`_scan_order_max`).

    Depth (3-D windows): with ``d_lo``/``d_n`` given (non-empty), ``x``'s second axis is the
    input's depth D and ``out``'s the output depth OD; output row (b0, od, oh) reduces the
    ``d_n[od]`` slices ``d_lo[od] + s*dd`` of its window, each over its ``h_n[oh]`` rows, in
    (d, h) order (:func:`_vertical_grid`), then its columns as a 2-D window does. Empty
    ``d_lo`` (2-D and 1-D windows): the second axis is a batch axis, read one slice per output.

    ``lanes``: values per pixel. 1 for planes (``x`` is (B0, B1, H, W)); C for channels-last
    rows, where ``x`` is (N, 1, H, W*C) and ``out`` (N, 1, OH, OW*C): the vertical pass is the
    same over the row's W*C values, the horizontal pass combines whole pixels lane by lane.
    Wide pixels (``direct``: C values of a vector's width or more) are read straight from the
    input, and may be ``pixel`` > C values apart (a slice of the channels; ``x``'s rows are
    then (W-1)*pixel + C long); narrower ones are dense (``pixel`` = C).

    ``clipped`` (the geometry's choice, for kernels or padding much wider than the row): the
    buffer holds the row alone and each window reduces its in-bounds taps
    (:func:`_horizontal_clipped`), so nothing follows the kernel's size.

    ``square`` (window_sum over planes: LP pooling's p = 2): the values' squares are summed.

    ``plane_bounds`` (fractional max pooling, planes only): every plane has its own windows,
    plane p's at ``[p*OH, (p+1)*OH)`` of ``h_lo``/``h_n`` (likewise W, and depth with
    ``p*OD``), planes numbered row-major over (B0, B1), or over B0 with a depth."""
    if not (numeric is numeric_acc or (numeric_acc is double and numeric is not float)
            or (numeric_acc is int64_t and numeric in signed_ints)
            or (numeric_acc is uint64_t and numeric in unsigned_ints)):
        raise TypeError("cpool: no kernel reads this input dtype into this output dtype")
    if layout is planes:  # compiled with the constant: no channels-last code in this version
        lanes = pixel = 1
    cdef Py_ssize_t B1 = out.shape[1], L = x.shape[3], W = (x.shape[3] - lanes) // pixel + 1
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3] // lanes
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    # Nothing to compute: return before reading any window bound. An empty batch's bounds
    # are not computed (the packed array is empty), and the small-plane checks below read
    # them (AddressSanitizer: an 8-byte read past an empty array, channels-last input with no
    # channels).
    if n_rows == 0:
        return 0
    cdef bint depth = d_lo.shape[0] > 0
    cdef Py_ssize_t depth_step = dd * (x.strides[1] // <Py_ssize_t>sizeof(numeric))
    # Sums (and float maxima) over 2x2 tiles of two rows straight from the input, no buffer
    # (avg 2x2 on (4, 256, 56, 56) in cache, one thread: 0.61 -> 0.54 ms with the reciprocal
    # below). A 3-D window of two slices (2x2x2) folds its first three rows into the buffer
    # and tiles that with the fourth.
    cdef bint tiles_2x2 = (layout is planes and numeric is numeric_acc
                           and (not is_max or numeric is float or numeric is double)
                           and not clipped and not plane_bounds
                           and kw == 2 and _stride2_tiles(kw, sw, dw, pad_w, OW, W))
    # The "same" 3x3 at stride 1 of float planes, which _small_plane_rows hands a plane at a
    # time to cpool_same_3x3_sums or _max: decided here, once.
    cdef bint same3 = (layout is planes and not depth and not plane_bounds and _same_3x3(
        numeric is numeric_acc and (numeric is float or numeric is double), x.shape[2], W, OH,
        OW, kw, sw, dw, pad_w, dh, h_lo, h_n, sizeof(numeric)))
    # Padded windows here too, but for max at stride 1 (28-wide planes, 3x3 padding 1, one
    # thread: avg stride 1 0.276 -> 0.214 ms, max stride 2 0.195 -> 0.163; max stride 1 was
    # faster on the per-row path, 0.251 against 0.321), unless it is the "same" 3x3 of floats,
    # which takes planes of any width up to SAME3_VALUES.
    # Small float planes side by side (_lane_planes), where the planes' kernels would work a
    # short row at a time: uneven windows (adaptive pooling), and the rows of SHORT_ROW values
    # or fewer but those of the tiles (2x2 at stride 2, max 3x3 at stride 2) and the "same"
    # 3x3. Sums only of float32 over windows of LANE_SUM_CELLS cells or fewer: they add each
    # window's cells, where the planes' kernels add its rows' sums (float32 avg 5x5 s1 p2 on
    # 14-wide planes, 1.14x the time; adaptive avg 13 -> 5, windows of up to 4 x 4, 1.02x;
    # float64 adaptive avg 10 -> 7, 1.35x).
    cdef Py_ssize_t lane_group
    cdef int64_t[:, :, :, ::1] no_indices = None
    if numeric is numeric_acc and (numeric is float or numeric is double):
        if (layout is planes and not depth and not plane_bounds and not square and root == 0
                and OH > 1 and OW > 0 and W > 0 and x.shape[2] > 0 and (clipped or (
                    W <= SHORT_ROW and not tiles_2x2 and not same3
                    and not (is_max and kw == 3 and sw == 2 and dw == 1)))
                and (is_max or (numeric is float
                                and _most_cells(h_n, w_n) <= LANE_SUM_CELLS))):
            lane_group = _lane_group(out.shape[0] * B1, x.shape[2], W, sizeof(numeric),
                                     num_threads)
            if lane_group:
                return _lane_planes(x, out, no_indices, h_lo, h_n, dh, kw, sw, dw, pad_w, w_lo,
                                    w_n, clipped, count_h, count_w, divide, is_max, zero_first,
                                    lane_group, num_threads)
    if layout is planes and not depth and not plane_bounds and (
            (same3 and OH > 1 and 2 * _gapped_values(OH, W, kw, dw) <= SAME3_VALUES)
            or _small_planes(W, OH, OW, kw, sw, dw, pad_w, clipped, not is_max or sw > 1 or same3,
                             True)
            or (tiles_2x2 and _tiled_2x2_planes(W, OH, h_n, sizeof(numeric)))):
        return _small_plane_rows(x, out, h_lo, h_n, dh, kw, sw, dw, pad_w, w_lo, w_n, count_h, count_w,
                                 divide, is_max, num_threads, square, root, zero_first, same3,
                                 clipped)
    cdef Py_ssize_t nd, z
    cdef int64_t count_dh
    cdef const numeric* first
    # Pixels of a vector's width or more are read straight from the input (_direct_row);
    # narrower ones (an RGB image) go through the row buffer, whose passes vectorise across
    # the whole row.
    cdef bint direct = lanes > 1 and lanes * <Py_ssize_t>sizeof(numeric) >= DIRECT_BYTES
    # The padded row: pad_w identity pixels, W pixels, then identity up to the last tap (the
    # direct path only keeps one pixel there).
    cdef Py_ssize_t width = lanes * (1 if direct else W if clipped
                                     else _padded_width(W, OW, kw, sw, dw, pad_w))
    cdef Py_ssize_t row0 = 0 if clipped else pad_w * lanes  # where the row's values start
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(numeric)
    cdef Py_ssize_t n_chunks = _row_tasks(n_rows, num_threads)
    cdef bint trace = tracing()
    # Floating averages over windows of a power of two cells each (2x2) multiply by the exact
    # reciprocal: the bits of the division, without its latency (avg 2x2 on (4, 256, 56, 56),
    # in cache: the division was an eighth of the time).
    cdef bint reciprocal = (divide and (numeric_acc is float or numeric_acc is double)
                            and _powers_of_two(count_h) and _powers_of_two(count_w)
                            and (not depth or _powers_of_two(count_d)))
    # Wide rows of 2x2 tiles: the upper row is copied into the row buffer (in L1) before the
    # tiles are reduced (:func:`_tile_pair`), so memory serves it whole and then the lower
    # row, two sequential reads, where reading the rows side by side alternated between two
    # streams a row apart. Max and avg 2x2 on 64 MB of 128-wide float32 planes, one thread:
    # 3.4-3.7 -> 2.5 ms; 256-wide: 2.8-3.4 -> 2.3-2.8 ms. Rows longer than the prefetch
    # distance have the next window's rows hinted whole (_prefetch_rows), and there the copy
    # only cost time (avg 2x2 on 1024-wide rows: 2.1 -> 2.5 ms), so they read side by side.
    # The copy changes no bits: the same values, in the same order.
    cdef bint row_first = (tiles_2x2 and 2 * OW * <Py_ssize_t>sizeof(numeric) >= ROW_FIRST_BYTES
                           and L * <Py_ssize_t>sizeof(numeric) < PREFETCH_BYTES)
    # Float rows of 2x2 tiles at least PREFETCH_BYTES long, read side by side, hint the rows
    # of the windows up to three on (TILE_HINT_BYTES at most) into L2, a line of each row per
    # step of the tiles' loop, instead of the hints of _prefetch_rows before each window (a
    # burst that filled the core's miss buffers while the window's own loads waited on them).
    # Max 2x2 on 64 MB of float32 rows, one thread, a C model of the kernel's tile loop and
    # its hints: 512 wide 7.8 -> 2.9 ms, 1024 wide 4.0 -> 2.6, 2048 and 4096 3.6-3.8 -> 2.8;
    # the same loop without the NaN and -0 checks took 2.0-2.4 ms with either hints. Rows
    # read upper row first (row_first) hint both input rows likewise: 128-500 wide, the same
    # model with the copy, 3.3-4.2 -> 2.8-3.0 ms.
    cdef Py_ssize_t window_bytes = sh * row_step * <Py_ssize_t>sizeof(numeric)  # its advance
    cdef Py_ssize_t tile_ahead = 0
    if (tiles_2x2 and (numeric_acc is float or numeric_acc is double) and numeric is numeric_acc
            and (row_first or L * <Py_ssize_t>sizeof(numeric) >= PREFETCH_BYTES)
            and window_bytes > 0):
        tile_ahead = window_bytes * max(1, min(3, TILE_HINT_BYTES // window_bytes))
    cdef numeric_acc* copy
    # 2x2 tiles whose averages share one divisor (a power of two): _tiles_2x2 multiplies by
    # its reciprocal as it writes (with the +0 on _average's side), the bits of the division
    # pass it replaces (avg 2x2 on (8, 3, 1024, 1024), one thread: 5.8 -> 4.0 ms).
    cdef int64_t tile_cells = (_one_window_size(count_d, count_h, count_w, depth)
                               if tiles_2x2 and reciprocal else 0)
    cdef bint scaled_tiles = tile_cells > 0
    cdef numeric_acc tile_scale = 1
    cdef bint row_scaled, row_tiled
    if scaled_tiles:
        tile_scale = <numeric_acc>1 / <numeric_acc>tile_cells
    # Likewise channels-last 2x2 windows read directly (_direct_row, cpool_direct_sums_2x2's
    # mode): averages scaled as they are written, sums given their +0; 0: neither.
    cdef int64_t direct_cells = (_one_window_size(count_d, count_h, count_w, depth)
                                 if layout is pixels and direct and reciprocal else 0)
    cdef numeric_acc direct_scale = 0
    cdef int direct_mode = 0 if divide or square or is_max else 1
    if direct_cells > 0:
        direct_scale = <numeric_acc>1 / <numeric_acc>direct_cells
        direct_mode = 3 if zero_first else 2
    # The windows of one row (a 1-D input's, kH = 1) are reduced where the row lies (below):
    # those whose taps all lie in it by the row's sweep, the few that reach into the padding
    # or past the row's end one by one (_padded_window: the padded buffer's bits). Before,
    # a padded row was first copied into the buffer (avg_pool1d k3 s1 p1 on (64, 256, 4096),
    # one thread: the copy was a fifth of the time).
    cdef bint in_place = (layout is planes and numeric is numeric_acc and not clipped
                          and not square)
    cdef Py_ssize_t i_lo = _first_inner(OW, sw, pad_w)
    cdef Py_ssize_t i_hi = _inner_end(i_lo, W, OW, kw, sw, dw, pad_w)
    # ... and, into outputs of stream_store_bytes() or more, written past the caches at stride 1,
    # or 2 over 2 or 3 taps (_stream_row). (64, 256, 4096), one thread: max k3 s1 p1 0.65 of
    # the time, avg 0.55, max k2 s2 0.86 (docs/performance.md).
    cdef bint stream_rows = (in_place and CPOOL_STREAM_ROWS and dw == 1
                             and (sw == 1 or (sw == 2 and (kw == 2 or kw == 3)))
                             and (numeric_acc is float or numeric_acc is double)
                             and i_hi > i_lo and not zero_first and root == 0
                             and out.shape[0] * out.shape[1] * out.shape[2] * out.shape[3]
                             * <Py_ssize_t>sizeof(numeric_acc) >= stream_store_bytes())
    # Float max over three rows at stride 2 (3x3 s2 p1, ResNet's first pooling; a 3-D window's
    # three rows of each of its slices), each output row straight from its input rows, no
    # buffer: a plane's run of rows in one call (_max_rows_3x3), the windows inside each row by
    # the 3x3 tiles (each column's max once, then even and odd lanes), the one or two reaching
    # into the padding or past the row's end over their columns in the row. (4, 64, 112, 112),
    # one thread: 0.81 -> 0.63 ms, where the buffer's vertical pass, its -0 and NaN check and
    # the horizontal pass took a call each per row.
    cdef bint rows_3x3 = (layout is planes and is_max and numeric is numeric_acc
                          and (numeric is float or numeric is double) and not clipped
                          and not plane_bounds and kw == 3 and sw == 2 and dw == 1
                          and i_hi > i_lo)
    # Its lower two rows hinted into L2 as the 2x2 tiles' are (tile_ahead above), six windows
    # on: (32, 64, 112, 112), one thread, 8.1 ms with _prefetch_slices' hints, 6.9-7.2 ms
    # three windows on, 6.5-6.7 six, 6.3-6.9 twelve or sixteen.
    if rows_3x3 and window_bytes > 0:
        tile_ahead = window_bytes * max(1, min(6, TILE_HINT_BYTES // window_bytes))
    # RGB images (uint8, three lanes) max 2x2 s2 in the AVX2 build: a plane's run of rows in
    # one call (cpool_rgb8_max_2x2_rows), its rows hinted into L2 STREAM_PREFETCH_BYTES on as
    # they are read (an image's rows are one stream). One thread, (64, 224, 224, 3) in L3,
    # (512, 224, 224, 3) in memory and (4, 1080, 1920, 3): 0.87, 0.94 and 0.77 of the burst
    # loop's time; three windows on (4 KB), 0.91, 1.37 and 0.71; into L1 2 KB on, 0.78, 1.28
    # and 0.93.
    cdef bint rgb8_rows = (layout is pixels and numeric is uint8_t and numeric_acc is uint8_t
                           and CPOOL_AVX_KERNELS and is_max and lanes == 3 and pixel == 3
                           and not direct and not clipped and not plane_bounds and not depth
                           and kw == 2 and sw == 2 and dw == 1 and i_lo == 0 and i_hi == OW
                           and 2 * OW * lanes >= 32)  # the kernel's vectors (W >= 12)
    cdef Py_ssize_t out_row_step = out.strides[2] // <Py_ssize_t>sizeof(numeric_acc)
    if rgb8_rows:
        tile_ahead = STREAM_PREFETCH_BYTES
    # Windows of several slices (3-D) are read without _prefetch_rows' bursts (the stride it
    # is given is 1, which it skips): their rows come from slices a plane apart, and a burst
    # for each slice's new rows filled the miss buffers that the window's own loads then
    # waited on. (8, 32, 32, 112, 112), one thread: avg 2x2x2 0.86 of its time with the
    # bursts, channels-last max 2x2x2 0.85, max 3x3x3 s2 p1 0.98, max 2x2x2 unchanged.
    cdef Py_ssize_t hint_sh = sh, od
    for od in range(d_n.shape[0] if depth else 0):
        if d_n[od] > 1:
            hint_sh = 1
    cdef Py_ssize_t c, r, r_end, b0, b1, oh, i, j, hb, wb, db, pl
    # rows_3x3, rgb8_rows: the rows from this one on that its run has done. The row loop steps
    # over those after this one: walked one by one (the bound lookups, hints and branches of a
    # row for each), they took a fifth of max 3x3 s2 p1's time on 56-output rows in cache.
    cdef Py_ssize_t run_done
    cdef numeric_acc identity = _lowest(<numeric_acc*>NULL) if is_max else 0
    cdef numeric_acc* buf
    cdef numeric_acc* orow
    cdef numeric_acc* drow  # the divisors of the current output row (average pooling)
    cdef Py_ssize_t stride = _buffer_stride(width, sizeof(numeric_acc))
    cdef Py_ssize_t drow_stride = _buffer_stride(OW, sizeof(numeric_acc)) if divide else 0
    # Channels-last rows through the buffer: a second row for _horizontal_lanes' stride-1 pass.
    # Windows of one tap count on the general path (fractional pooling's): reduced as if at
    # stride 1 over the whole row, then each window's result gathered (_gather_windows).
    cdef bint gather = layout is planes and clipped and _uniform_windows(w_n, kw, W, dw)
    cdef Py_ssize_t tmp_stride = stride if (lanes > 1 and not direct and not clipped) or gather else 0
    cdef numeric_acc* scratch = <numeric_acc*>_scratch(
        num_threads, stride + tmp_stride + drow_stride, sizeof(numeric_acc))
    # Per thread, the row count its divisor row was built for; it outlives a chunk (a prange
    # variable does not), so interior rows never rebuild it.
    cdef int64_t* drow_h = NULL
    try:
        drow_h = _thread_slots(num_threads)  # -1: nothing built
        with nogil:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                # One division per chunk of rows; counters after that (divisions cost more
                # than the work on a short row).
                # Assigned here so Cython makes them thread-private: it does not count the
                # writes through pointers below, and shared counters would race.
                b0 = b1 = oh = 0
                _locate(_task_row(c, n_rows, n_chunks), OH, B1, &b0, &b1, &oh)
                buf = scratch + threadid() * (stride + tmp_stride + drow_stride)
                drow = buf + stride + tmp_stride
                # `layout is ...` tests are constants of each compiled version: the variables
                # of this parallel body are passed in, so a constant set outside it would not
                # fold away the channels-last code of the planes' version.
                if layout is planes or not direct:
                    _pad_edges(buf, row0, L, width, identity)
                r_end = _task_row(c + 1, n_rows, n_chunks)
                r = _task_row(c, n_rows, n_chunks)
                while r < r_end:
                    orow = &out[b0, b1, oh, 0]
                    # Where this row's plane's window bounds start in the bound arrays.
                    pl = _bounds_plane(plane_bounds, depth, b0, b1, B1)
                    hb = pl * OH
                    wb = pl * OW
                    db = pl * B1 if depth else 0
                    # The window's slices: its own depth taps (3-D), or plane b1 itself.
                    nd = d_n[db + b1] if depth else 1
                    z = d_lo[db + b1] if depth else b1
                    nd = nd if h_n[hb + oh] > 0 else 0
                    if trace:  # values read and written
                        note_work(nd * h_n[hb + oh] * L + OW * lanes)
                    first = &x[b0, z, h_lo[hb + oh], 0] if nd > 0 else &x[0, 0, 0, 0]
                    if not (tile_ahead and h_n[hb + oh] == (3 if rows_3x3 else 2)
                            and (nd == 1 or rows_3x3)):
                        _prefetch_slices(first, depth_step, nd, dh * row_step, h_n[hb + oh],
                                         hint_sh, L)
                    row_scaled = row_tiled = False
                    run_done = 0
                    if rows_3x3 and nd > 0 and h_n[hb + oh] == 3:
                        # This plane's rows of three rows at the vertical stride from here, in
                        # the chunk (of nd slices each, 3-D), in one call, which stops before a
                        # row it flags.
                        j = _run_of_rows(&h_lo[hb], &h_n[hb], oh, min(OH, oh + r_end - r), sh)
                        run_done = _max_rows_3x3(first, dh * row_step, depth_step, nd,
                                                 sh * row_step, j, <numeric*>orow, OW, i_lo,
                                                 i_hi, pad_w, &w_lo[wb], &w_n[wb], tile_ahead)
                    if numeric is uint8_t and numeric_acc is uint8_t and layout is pixels:
                        if rgb8_rows and nd == 1 and h_n[hb + oh] == 2:
                            # Likewise this plane's run of rows of two rows.
                            j = _run_of_rows(&h_lo[hb], &h_n[hb], oh, min(OH, oh + r_end - r),
                                             sh)
                            if cpool_rgb8_max_2x2_rows(
                                    <const unsigned char*>first, dh * row_step, sh * row_step, j,
                                    <unsigned char*>orow, out_row_step, OW, <unsigned char*>buf,
                                    tile_ahead):
                                run_done = j
                    if layout is pixels and direct:
                        row_scaled = row_tiled = _direct_row(
                            first, depth_step, nd, dh * row_step, h_n[hb + oh], W, lanes, pixel,
                            OW, kw, sw, dw, pad_w, &w_lo[0], &w_n[0], clipped, orow, buf,
                            identity, is_max, direct_scale, direct_mode)
                    elif (tiles_2x2 and h_n[hb + oh] == 2 and nd == 2 and not square
                          and _tiles_2x2x2(first, depth_step, dh * row_step, buf + row0, orow,
                                           OW, is_max, tile_scale, zero_first)):
                        # A 2x2x2 window's row, by the tiles. A max row they flagged is False
                        # above and goes on to the general branch, which redoes it.
                        row_tiled = True
                        row_scaled = scaled_tiles
                    elif tiles_2x2 and h_n[hb + oh] == 2 and nd == 1:
                        row_tiled = True
                        # The upper row's copy, or none: read side by side.
                        copy = buf + row0 if row_first else NULL
                        if is_max:
                            if _tile_pair(<const numeric_acc*>first, dh * row_step, copy, orow,
                                          OW, True, False, 1, False, tile_ahead):
                                _scan_tiles(first, dh * row_step, 0, 1, <numeric*>orow, OW, 2)
                        elif square:  # LP's p = 2: the squares' sums
                            _tile_pair(<const numeric_acc*>first, dh * row_step, copy, orow, OW,
                                       False, True, tile_scale, False, tile_ahead)
                            row_scaled = scaled_tiles
                        else:
                            _tile_pair(<const numeric_acc*>first, dh * row_step, copy, orow, OW,
                                       False, False, tile_scale, zero_first, tile_ahead)
                            row_scaled = scaled_tiles
                    elif run_done > 0:
                        pass  # done by the run above (a row it flags is not: general branch)
                    elif stream_rows and nd * h_n[hb + oh] == 1:
                        if divide:
                            count_dh = count_h[oh] * (count_d[b1] if depth else 1)
                            _divisor_row(drow, &drow_h[threadid() * THREAD_SLOT], count_dh,
                                         &count_w[0], OW, reciprocal)
                        _stream_row(<const numeric_acc*>first, W, orow, OW, i_lo, i_hi, kw, sw,
                                    pad_w, identity, is_max, divide, drow, reciprocal)
                        row_tiled = row_scaled = True  # finished: no division or +0 below
                    elif in_place and nd * h_n[hb + oh] == 1:
                        # One row, no copy through the buffer. One row's combine is the scan
                        # itself, so max needs no rescan either.
                        _horizontal(<const numeric_acc*>first + (i_lo * sw - pad_w),
                                    orow + i_lo, i_hi - i_lo, kw, sw, dw, is_max)
                        _padded_edges(<const numeric_acc*>first, W, orow, OW, i_lo, i_hi, sw,
                                      pad_w, kw, dw, identity, is_max)
                    else:
                        if layout is planes and square:  # a literal each: two inlined loops
                            _vertical_grid(first, depth_step, nd, dh * row_step, h_n[hb + oh],
                                           L, buf + row0, identity, False, True)
                        else:
                            _vertical_grid(first, depth_step, nd, dh * row_step, h_n[hb + oh],
                                           L, buf + row0, identity, is_max)
                        if gather:
                            _gather_windows(buf, buf + stride, orow, OW, &w_lo[wb],
                                            W - (kw - 1) * dw, kw, dw, is_max)
                        elif clipped:
                            _horizontal_clipped(buf, orow, OW, &w_lo[wb], &w_n[wb], dw,
                                                identity, is_max, 1 if layout is planes else lanes)
                        elif layout is planes:
                            _horizontal(buf, orow, OW, kw, sw, dw, is_max)
                        else:
                            _horizontal_lanes(buf, orow, buf + stride, OW, kw, sw, dw, lanes,
                                              is_max)
                        # Equal maxima have one bit pattern unless a column's max is -0 or
                        # NaN; the column maxima are scanned for one (5% of a 2x2 pooling).
                        if numeric is numeric_acc and is_max and nd * h_n[hb + oh] > 1:
                            if _any_negzero_or_nan(buf + row0, L):
                                _scan_order_max(first, depth_step, nd, dh * row_step,
                                                h_n[hb + oh], &w_lo[wb], &w_n[wb], dw, orow, OW,
                                                1 if layout is planes else lanes)
                    # Averages with PyTorch's +0 (_average); sums alone from its +0 start
                    # (_from_zero). A row of 2x2 tiles did this as it wrote.
                    if divide and not row_scaled:
                        count_dh = count_h[oh] * (count_d[b1] if depth else 1)
                        _divisor_row(drow, &drow_h[threadid() * THREAD_SLOT], count_dh,
                                     &count_w[0], OW, reciprocal)
                        if layout is planes and reciprocal:
                            for i in range(OW):
                                orow[i] = _average(orow[i], drow[i], True, zero_first)
                        elif layout is planes:
                            for i in range(OW):
                                orow[i] = _average(orow[i], drow[i], False, zero_first)
                        else:
                            _average_pixels(orow, drow, OW, lanes, reciprocal, zero_first)
                    elif not (divide or is_max or square or row_tiled):
                        for j in range(OW * lanes):
                            orow[j] = _from_zero(orow[j])
                    if divide and layout is planes and root > 0:
                        _root_row(orow, OW, root)
                    # The rows after this one that its run has done: in its plane (oh + the
                    # rows skipped < OH), with its windows' rows and slices (the work traced for
                    # each).
                    if run_done > 1:
                        if trace:
                            note_work((run_done - 1) * (nd * h_n[hb + oh] * L + OW * lanes))
                        oh = oh + run_done - 1
                        r = r + run_done - 1
                    r = r + 1
                    _step(OH, B1, &b0, &b1, &oh)
                if stream_rows:
                    cpool_stream_fence()  # the chunk's non-temporal stores, before the barrier
    finally:
        free(scratch)
        free(drow_h)
    return 0


@cython.warn.unreachable(False)  # the pair test's dropped bodies (_types.pxd)
cdef int _separable_any(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,
                        numeric_acc[:, :, :, ::1] out,
                        const Py_ssize_t[::1] bounds, Py_ssize_t n_d, Py_ssize_t n_h,
                        Py_ssize_t n_w, Py_ssize_t dd, Py_ssize_t sh,
                        Py_ssize_t dh, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
                        Py_ssize_t pad_w, bint clipped, bint plane_bounds,
                        const int64_t[::1] count_d, const int64_t[::1] count_h,
                        const int64_t[::1] count_w, bint divide, bint is_max, Py_ssize_t lanes,
                        Py_ssize_t pixel, int num_threads, bint square=False,
                        double root=0, bint zero_first=False) except -1:
    """:func:`_separable` in its version for the rows: planes (``lanes`` 1) or pixels (which
    never ``square``), over the window bounds packed in ``bounds`` (see :func:`window_max`)."""
    if not (numeric is numeric_acc or (numeric_acc is double and numeric is not float)
            or (numeric_acc is int64_t and numeric in signed_ints)
            or (numeric_acc is uint64_t and numeric in unsigned_ints)):
        raise TypeError("cpool: no kernel reads this input dtype into this output dtype")
    # The six bound arrays in one: one memoryview for the call to acquire, not six
    # (max_pool2d on (1, 1, 2, 2), one thread: 5.2 -> 4.95 us).
    cdef Py_ssize_t h0 = 2 * n_d, w0 = h0 + 2 * n_h
    cdef const Py_ssize_t[::1] d_lo = bounds[:n_d], d_n = bounds[n_d:h0]
    cdef const Py_ssize_t[::1] h_lo = bounds[h0:h0 + n_h], h_n = bounds[h0 + n_h:w0]
    cdef const Py_ssize_t[::1] w_lo = bounds[w0:w0 + n_w], w_n = bounds[w0 + n_w:w0 + 2 * n_w]
    if lanes == 1:
        return _separable(x, out, d_lo, d_n, dd, h_lo, h_n, sh, dh, kw, sw, dw, pad_w, w_lo, w_n,
                          clipped, plane_bounds, count_d, count_h, count_w, divide, is_max, 1, 1,
                          num_threads, <planes*>NULL, square, root, zero_first)
    return _separable(x, out, d_lo, d_n, dd, h_lo, h_n, sh, dh, kw, sw, dw, pad_w, w_lo, w_n,
                      clipped, False, count_d, count_h, count_w, divide, is_max, lanes, pixel,
                      num_threads, <pixels*>NULL, False, 0, zero_first)


def window_max(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
               numeric[:, :, :, ::1] out,                                                        # OUT
               const Py_ssize_t[::1] bounds, Py_ssize_t n_d, Py_ssize_t n_h, Py_ssize_t n_w,
               Py_ssize_t dd, Py_ssize_t sh, Py_ssize_t dh, Py_ssize_t kw, Py_ssize_t sw,
               Py_ssize_t dw, Py_ssize_t pad_w, bint clipped, bint plane_bounds,
               Py_ssize_t lanes, Py_ssize_t pixel, int num_threads):
    """Kernel of the max pooling ops (1-D, 2-D, 3-D) without indices. Arguments are already
    validated. ``bounds`` holds the windows' bounds one array after another: depth ``d_lo``,
    ``d_n`` (``n_d`` each, none but for 3-D windows), rows ``h_lo``, ``h_n`` (``n_h`` each),
    columns ``w_lo``, ``w_n`` (``n_w`` each); see :func:`_separable`."""
    cdef const int64_t[::1] no_counts = None
    _separable_any(x, out, bounds, n_d, n_h, n_w, dd, sh, dh, kw, sw, dw, pad_w, clipped,
                   plane_bounds, no_counts, no_counts, no_counts, False, True, lanes, pixel,
                   num_threads, False)


@cython.warn.unreachable(False)  # the pair test's dropped bodies (_types.pxd)
def window_sum(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
               sum_out[:, :, :, ::1] out,                                                        # OUT
               const Py_ssize_t[::1] bounds, Py_ssize_t n_d, Py_ssize_t n_h, Py_ssize_t n_w,
               Py_ssize_t dd, Py_ssize_t sh, Py_ssize_t dh, Py_ssize_t kw, Py_ssize_t sw,
               Py_ssize_t dw, Py_ssize_t pad_w, bint clipped, bint plane_bounds,
               Py_ssize_t lanes, Py_ssize_t pixel, const int64_t[::1] count_d,
               const int64_t[::1] count_h, const int64_t[::1] count_w,
               bint divide, bint square, int num_threads, double root=0,
               bint zero_first=False):
    """Kernel of the sum and average pooling ops (1-D, 2-D, 3-D), and of LP pooling's p = 2.

    Sums in the output dtype (float32 sums in float32, like PyTorch; integers in 64 bits).
    With ``divide`` each output is divided by ``count_d[od] * count_h[oh] * count_w[ow]``
    (``count_d`` only for 3-D windows). With ``square`` (planes only) the squares of the
    values are summed, each squared in the output dtype as it is read; with ``root`` > 0 too
    (and ``divide``) each mean ``a`` of squares becomes LP's ``sqrt(a * root)``. Sums start
    from +0, as PyTorch's; averages get it after the division (avg_pool's results land in a
    zeroed output), or with ``zero_first`` before it (adaptive pooling's sums start at +0).
    """
    if not ((sum_out is float and numeric is float) or (sum_out is double and numeric is not float)
            or (sum_out is int64_t and numeric in signed_ints)
            or (sum_out is uint64_t and numeric in unsigned_ints)):
        raise TypeError("cpool: no summing kernel reads this input dtype into this output dtype")
    if square and lanes != 1:
        raise ValueError("cpool: window_sum squares planes only (lanes == 1)")
    _separable_any(x, out, bounds, n_d, n_h, n_w, dd, sh, dh, kw, sw, dw, pad_w, clipped,
                   plane_bounds, count_d, count_h, count_w, divide, False, lanes, pixel,
                   num_threads, square, root, zero_first)


cdef inline int32_t _pick(bint c, int32_t a, int32_t b) noexcept nogil:
    """``a if c else b`` as bit arithmetic (Cython's conditional expression becomes a branch)."""
    return b ^ ((a ^ b) & -(<int32_t>c))


cdef inline bint _right_replaces(numeric m, int32_t m_row, numeric v, int32_t v_row) noexcept nogil:
    """Whether a column's candidate (``v`` in row ``v_row``) replaces the running candidate
    (``m`` in row ``m_row``) of a column to its LEFT, in a window's column-by-column combine.

    Each column was reduced over its rows by PyTorch's rule, so the combine must reproduce
    PyTorch's row-major scan of the whole window: without NaN, the maximum at the smallest flat
    index (an equal value to the right wins only from a higher row); with NaN, the NaN at the
    largest flat index (a NaN to the right wins unless the current one is in a lower row).
    Branch-free (``|``/``&``) so that it vectorises.
    """
    cdef bint tie_wins = (v == m) & (v_row < m_row)
    if numeric is float or numeric is double:
        return (v > m) | tie_wins | ((v != v) & ((m == m) | (v_row >= m_row)))
    return (v > m) | tie_wins


cdef inline void _vertical_arg_more(const numeric* row0, Py_ssize_t step, Py_ssize_t n_rows,
                                    int32_t first_row, Py_ssize_t W, numeric* vmax,
                                    int32_t* vrow) noexcept nogil:
    """:func:`_vertical_arg` continued: rows row0 + t*step (t < n_rows), window rows
    ``first_row + t``, scanned into the running maxima (further rows, or a 3-D window's further
    depth slices)."""
    cdef Py_ssize_t t, j
    cdef int32_t y
    cdef const numeric* r
    cdef numeric m, v
    cdef int32_t mr
    cdef bint take
    for t in range(n_rows):
        r = row0 + t * step
        y = first_row + <int32_t>t
        for j in range(W):
            m = vmax[j]
            mr = vrow[j]
            v = r[j]
            take = _replaces(m, v)
            vrow[j] = y if take else mr
            vmax[j] = v if take else m


cdef inline void _vertical_arg(const numeric* row0, Py_ssize_t depth_step, Py_ssize_t n_depth,
                               Py_ssize_t step, Py_ssize_t n_rows,
                               Py_ssize_t W, numeric* vmax, int32_t* vrow) noexcept nogil:
    """Per column j: the max over the window's rows by PyTorch's rule, and its row number in
    the window (0 .. n_depth*n_rows - 1: a 3-D window's rows numbered slice by slice, so the
    numbers follow the scan order).

    Window-relative rows fit int32 for any H (the caller checks the window's row count), so
    planes past 2**31 rows index exactly; int32 masks match float32's width and the loop
    vectorises with plain SSE2.
    """
    cdef Py_ssize_t j, sl
    cdef const numeric* r = row0 + step
    cdef numeric m, v
    cdef bint take
    # Every loop loads into locals, selects, then stores unconditionally: GCC vectorises that
    # (for every dtype width); a select that reads its own destination becomes a conditional
    # store, which it does not.
    if n_rows == 1:
        for j in range(W):
            vmax[j] = row0[j]
            vrow[j] = 0
    else:
        for j in range(W):  # rows 0 and 1
            m = row0[j]
            v = r[j]
            take = _replaces(m, v)
            vrow[j] = 1 if take else 0
            vmax[j] = v if take else m
        _vertical_arg_more(row0 + 2 * step, step, n_rows - 2, 2, W, vmax, vrow)
    for sl in range(1, n_depth):
        _vertical_arg_more(row0 + sl * depth_step, step, n_rows, <int32_t>(sl * n_rows), W,
                           vmax, vrow)


cdef inline void _combine_columns(const numeric* vmax, const int32_t* vrow, int32_t* hrow,
                                  int32_t* hcol, Py_ssize_t OW, Py_ssize_t kw, Py_ssize_t sw,
                                  Py_ssize_t dw, bint in_vectors, numeric* orow) noexcept nogil:
    """Each window's winner among its columns ``vmax[ow*sw + u*dw]`` (u < kw), by
    :func:`_right_replaces`: its value, its row ``hrow`` and its tap ``hcol``. Column u of
    every window, one sweep per u (u = 0 starts each window).

    ``in_vectors`` (a constant where this is inlined, with ``sw`` and ``dw``): every select
    works on locals, so that GCC vectorises the sweeps, whose reads are runs at stride 1 and
    pairs it splits with shuffles at stride 2 (:func:`_combine_padded`: max 3x3 s1 p1 with
    indices on (8, 256, 56, 56), one thread, 18.6 -> 11.4 ms). Otherwise each select reads
    its own destination, which GCC leaves scalar: strided gathers do not pay, and on short
    rows at stride 2 the vectors' set-up took up to twice the scalar loop's time (1-D k2 s2
    with indices on 16-wide rows, 8 outputs)."""
    cdef Py_ssize_t ow, u, i
    cdef numeric m, v
    cdef int32_t mr, vr, mc
    cdef bint take
    for ow in range(OW):
        orow[ow] = vmax[ow * sw]
        hrow[ow] = vrow[ow * sw]
        hcol[ow] = 0
    for u in range(1, kw):
        for ow in range(OW):
            # Bit-mask selects keep this loop free of branches that random data mispredicts,
            # and the winner's own value (its sign of zero, its NaN payload) is kept.
            i = ow * sw + u * dw
            if in_vectors:
                m = orow[ow]
                mr = hrow[ow]
                mc = hcol[ow]
                v = vmax[i]
                vr = vrow[i]
                take = _right_replaces(m, mr, v, vr)
                orow[ow] = v if take else m
                hrow[ow] = _pick(take, vr, mr)
                hcol[ow] = _pick(take, <int32_t>u, mc)
            else:
                take = _right_replaces(orow[ow], hrow[ow], vmax[i], vrow[i])
                orow[ow] = vmax[i] if take else orow[ow]
                hrow[ow] = _pick(take, vrow[i], hrow[ow])
                hcol[ow] = _pick(take, <int32_t>u, hcol[ow])


cdef inline void _combine_padded(const numeric* vmax, const int32_t* vrow, int32_t* hrow,
                                 int32_t* hcol, Py_ssize_t OW, Py_ssize_t kw, Py_ssize_t sw,
                                 Py_ssize_t dw, const int64_t* row_at, Py_ssize_t row_w,
                                 Py_ssize_t slice_w, Py_ssize_t n_rows, Py_ssize_t pad_w,
                                 bint narrow, numeric* orow, int64_t* irow) noexcept nogil:
    """The column combine of :func:`window_max_with_indices` over padded row buffers
    (:func:`_combine_columns`), then the flat indices of the winners (``row_at[t]``: the flat
    index of window row t's first cell; the padded row starts ``pad_w`` cells before it).

    The windows' rows are ``row_w`` cells apart and, for a 3-D window (``slice_w`` > 0), its
    slices of ``n_rows`` rows ``slice_w`` apart: ``row_at[t] = row_at[0] + (t // n_rows) *
    slice_w + (t % n_rows) * row_w``. So the index is computed, a loop that vectorises where
    the table's gather does not (30% of a 2x2 pooling with indices; half of max3d 2x2x2's
    combine). ``narrow``: every real cell's offset from the window's first cell fits int32
    and the row numbers are below 2**20, so the offset is made in 32 bits and widened once
    (AVX2 has no 64-bit multiply), and a row number's slice is found in float32, exactly:
    (t + 1/2) / n_rows lies at least 1/(2 n_rows) from an integer, and float32's two
    roundings move it by under 2**-23 * 2**20 / n_rows. Unsigned, so that the padding's row
    number (never kept where a window has a real cell) wraps harmlessly."""
    cdef Py_ssize_t ow
    # Constants for the inlined sweeps (see _combine_columns). At stride 2 only rows of 128
    # outputs or more: 1-D k3 s2 p1 with indices, one thread, in cache, took 2.0x, 1.9x,
    # 1.55x, 1.17x, 0.98x and 0.80x the scalar sweeps' time at 8, 16, 32, 64, 128 and 256
    # outputs a row (its vectors at stride 1 took 0.58-0.74x from 8 outputs up).
    if sw == 1 and dw == 1:
        _combine_columns(vmax, vrow, hrow, hcol, OW, kw, 1, 1, True, orow)
    elif sw == 2 and dw == 1 and OW >= 128:
        _combine_columns(vmax, vrow, hrow, hcol, OW, kw, 2, 1, True, orow)
    else:
        _combine_columns(vmax, vrow, hrow, hcol, OW, kw, sw, dw, False, orow)
    cdef int64_t base = row_at[0] - pad_w
    cdef uint32_t rw = <uint32_t>row_w, slw = <uint32_t>slice_w, nr = <uint32_t>n_rows
    cdef uint32_t cw = <uint32_t>dw, sl
    cdef float inv_rows = (<float>1) / <float>n_rows if n_rows > 0 else 0
    if narrow and slice_w == 0:
        for ow in range(OW):
            irow[ow] = base + ow * sw + <int32_t>(<uint32_t>hrow[ow] * rw + <uint32_t>hcol[ow] * cw)
    elif narrow:
        for ow in range(OW):
            sl = <uint32_t><int32_t>((<float>hrow[ow] + <float>0.5) * inv_rows)
            irow[ow] = base + ow * sw + <int32_t>(sl * slw + (<uint32_t>hrow[ow] - sl * nr) * rw
                                                  + <uint32_t>hcol[ow] * cw)
    elif slice_w == 0 and dw == 1:  # one 64-bit multiply per index
        for ow in range(OW):
            irow[ow] = base + hrow[ow] * row_w + (ow * sw + hcol[ow])
    elif slice_w == 0:
        for ow in range(OW):
            irow[ow] = base + hrow[ow] * row_w + (ow * sw + hcol[ow] * dw)
    else:
        for ow in range(OW):
            irow[ow] = row_at[hrow[ow]] + (ow * sw + hcol[ow] * dw - pad_w)


cdef inline void _combine_padded_lanes(const numeric* vmax, const int32_t* vrow, int32_t* hrow,
                                       int32_t* hcol, Py_ssize_t OW, Py_ssize_t kw, Py_ssize_t sw,
                                       Py_ssize_t dw, const int64_t* row_at, Py_ssize_t pad_w,
                                       Py_ssize_t lanes, numeric* orow,
                                       int64_t* irow) noexcept nogil:
    """:func:`_combine_padded` for channels-last rows (pixels of ``lanes`` values): the same
    rule and order per lane, with each pixel's lanes as the contiguous (vectorised) loop."""
    cdef Py_ssize_t ow, u, c, i, o
    cdef numeric m, v
    cdef int32_t mr, vr
    cdef bint take
    for ow in range(OW):
        i = ow * sw * lanes
        o = ow * lanes
        for c in range(lanes):
            orow[o + c] = vmax[i + c]
            hrow[o + c] = vrow[i + c]
            hcol[o + c] = 0
    for u in range(1, kw):
        for ow in range(OW):
            i = (ow * sw + u * dw) * lanes
            o = ow * lanes
            for c in range(lanes):
                m = orow[o + c]
                mr = hrow[o + c]
                v = vmax[i + c]
                vr = vrow[i + c]
                take = _right_replaces(m, mr, v, vr)
                orow[o + c] = v if take else m
                hrow[o + c] = _pick(take, vr, mr)
                hcol[o + c] = _pick(take, <int32_t>u, hcol[o + c])
    for ow in range(OW):
        o = ow * lanes
        for c in range(lanes):
            irow[o + c] = row_at[hrow[o + c]] + (ow * sw + hcol[o + c] * dw - pad_w)


cdef inline void _combine_clipped(const numeric* vmax, const int32_t* vrow, Py_ssize_t OW,
                                  const Py_ssize_t* w_lo, const Py_ssize_t* w_n, Py_ssize_t dw,
                                  const int64_t* row_at, Py_ssize_t lanes,
                                  numeric* orow, int64_t* irow,
                                  Py_ssize_t n_rows) noexcept nogil:
    """The column combine of :func:`window_max_with_indices` over each window's in-bounds columns
    of an unpadded row (the general path): the same rule, in the same order, lane by lane of
    pixels of ``lanes`` values. Windows with no column are left to the caller.

    In AVX2 builds, float32 planes' windows of up to 16 adjacent columns (``n_rows``, the
    window's rows, below 2**27) take cpool_column_winner_f32, which picks the column the rule
    keeps from all of them at once (adaptive max with indices 64 -> 6 on (32, 256, 64, 64), one
    thread: the scalar combine of 11-column windows took two thirds of the time)."""
    cdef Py_ssize_t ow, t, i, c
    cdef numeric m
    cdef int32_t hr, hc
    cdef bint take
    cdef bint columns_at_once = (CPOOL_COLUMN_WINNERS and numeric is float and lanes == 1
                                 and dw == 1 and n_rows < (1 << 27))
    for ow in range(OW):
        if w_n[ow] == 0:
            continue
        if numeric is float:
            if columns_at_once and w_n[ow] <= 16:
                t = cpool_column_winner_f32(vmax + w_lo[ow], vrow + w_lo[ow], w_n[ow])
                orow[ow] = vmax[w_lo[ow] + t]
                irow[ow] = row_at[vrow[w_lo[ow] + t]] + w_lo[ow] + t
                continue
        for c in range(lanes):
            i = w_lo[ow] * lanes + c
            m = vmax[i]
            hr = vrow[i]
            hc = 0
            for t in range(1, w_n[ow]):
                i = (w_lo[ow] + t * dw) * lanes + c
                take = _right_replaces(m, hr, vmax[i], vrow[i])
                m = vmax[i] if take else m
                hr = _pick(take, vrow[i], hr)
                hc = _pick(take, <int32_t>t, hc)
            orow[ow * lanes + c] = m
            irow[ow * lanes + c] = row_at[hr] + w_lo[ow] + hc * dw


cdef inline void _direct_arg_row(const numeric* row0, Py_ssize_t depth_step, Py_ssize_t n_depth,
                                 Py_ssize_t step, Py_ssize_t n_rows,
                                 const int64_t* row_at, Py_ssize_t W, Py_ssize_t lanes,
                                 Py_ssize_t pixel, Py_ssize_t OW, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
                                 Py_ssize_t pad_w, const Py_ssize_t* w_lo,
                                 const Py_ssize_t* w_n, bint clipped, numeric* orow,
                                 int64_t* irow) noexcept nogil:
    """One output row of :func:`window_max_with_indices` over channels-last pixels of a
    vector's width or more: each window's real cells scanned in row-major order by PyTorch's
    rule, lane by lane, straight from the input (as :func:`_direct_row` does for values).
    ``row_at[k]``: the flat index of window row k's first cell (rows numbered slice by slice).

    Float windows that lie in the row, of up to 16 cells (2x2, 2x2x2, 3x3), take
    cpool_direct_argmax (AVX2 builds), which holds each vector of lanes' max and its cell in
    registers across the cells; the windows from the first with a NaN on are scanned here.
    """
    cdef Py_ssize_t ow, sl, t, u, c, col, n_cols, first_col
    cdef int64_t at
    cdef bint first, take
    cdef numeric m, v
    cdef numeric* dst
    cdef int64_t* dsti
    cdef const numeric* px
    # Outputs [i_lo, i_hi) have every cell in the row; [i_lo, done_hi) were done in vectors.
    cdef Py_ssize_t i_lo = _first_inner(OW, sw, pad_w)
    cdef Py_ssize_t i_hi = _inner_end(i_lo, W, OW, kw, sw, dw, pad_w)
    cdef Py_ssize_t done_hi = i_lo
    cdef Py_ssize_t off[16]  # the cells' offsets from the first, in values
    cdef int32_t ioff[16]  # ... and in flat indices (past n_cells: 0, never picked)
    cdef Py_ssize_t n_cells = n_depth * n_rows * kw
    cdef int64_t reach
    if ((numeric is float or numeric is double) and not clipped and i_hi > i_lo
            and n_cells <= 16):
        _cell_offsets(off, depth_step, n_depth, step, n_rows, kw, dw, pixel)
        reach = 0
        for u in range(16):  # cell u: window row u // kw (its row_at), column u % kw
            ioff[u] = 0
            if u < n_cells:
                reach = max(reach, row_at[u // kw] - row_at[0] + (u % kw) * dw)
                ioff[u] = <int32_t>(row_at[u // kw] - row_at[0] + (u % kw) * dw)
        if reach <= INT32_MAX:
            if numeric is float:
                done_hi = i_lo + cpool_direct_argmax_f32(
                    row0 + (i_lo * sw - pad_w) * pixel, sw * pixel, off, ioff, n_cells, kw,
                    lanes, i_hi - i_lo, row_at[0] + i_lo * sw - pad_w, sw, orow + i_lo * lanes,
                    irow + i_lo * lanes, PREFETCH_BYTES)
            elif numeric is double:
                done_hi = i_lo + cpool_direct_argmax_f64(
                    row0 + (i_lo * sw - pad_w) * pixel, sw * pixel, off, ioff, n_cells, kw,
                    lanes, i_hi - i_lo, row_at[0] + i_lo * sw - pad_w, sw, orow + i_lo * lanes,
                    irow + i_lo * lanes, PREFETCH_BYTES)
    for ow in range(OW):
        if i_lo <= ow < done_hi:
            continue
        dst = orow + ow * lanes
        dsti = irow + ow * lanes
        n_cols = w_n[ow] if clipped else kw
        first_col = w_lo[ow] if clipped else ow * sw - pad_w
        if 0 <= first_col < W:
            _prefetch_window(row0 + first_col * pixel, depth_step, n_depth, step, n_rows,
                             sw * pixel * <Py_ssize_t>sizeof(numeric))
        first = True
        for sl in range(n_depth):
            for t in range(n_rows):
                for u in range(n_cols):
                    col = first_col + u * dw
                    if not 0 <= col < W:
                        continue  # padding is never read
                    px = row0 + sl * depth_step + t * step + col * pixel
                    at = row_at[sl * n_rows + t] + col
                    if first:
                        for c in range(lanes):
                            dst[c] = px[c]
                            dsti[c] = at
                        first = False
                    else:
                        for c in range(lanes):
                            m = dst[c]
                            v = px[c]
                            take = _replaces(m, v)
                            dst[c] = v if take else m
                            dsti[c] = at if take else dsti[c]
        if first:  # no real cell (a dilated window): -inf, and -1 for "no cell"
            for c in range(lanes):
                dst[c] = _lowest(<numeric*>NULL)
                dsti[c] = NO_CELL


cdef int _small_plane_arg_rows(
        const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,
        numeric[:, :, :, ::1] out, int64_t[:, :, :, ::1] indices,
        const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
        Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, int num_threads) except -1:
    """:func:`_max_with_indices` for small planes (:func:`_small_planes`; every window has a
    real row), as :func:`_small_plane_rows` is :func:`_separable`'s: a task takes one plane,
    reduces each output row's window rows (with their row numbers) into one buffer, row after
    row, combines every position of the buffer at stride 1 in one vectorised sweep, then
    gathers each window's winner and computes its flat index. Per window the same rule over
    the same cells as the row-by-row path, so the same values and indices."""
    cdef Py_ssize_t B1 = out.shape[1], OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t P = out.shape[0] * B1, W = x.shape[3]
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(numeric)
    cdef Py_ssize_t R = _flat_rows(row_step, W, h_lo, h_n, OH)  # > 0: one flat vertical sweep
    cdef Py_ssize_t n_buf = (R if R else OH) * W  # values in the buffer rows
    cdef Py_ssize_t n_pos = n_buf - (kw - 1) * dw  # stride-1 positions over the buffer rows
    # Per thread: the column maxima, then each position's winner; their rows, then the
    # winners' rows and taps.
    cdef Py_ssize_t vstride = _buffer_stride(n_buf + n_pos, sizeof(numeric))
    cdef Py_ssize_t istride = _buffer_stride(n_buf + 2 * n_pos, sizeof(int32_t))
    cdef Py_ssize_t p, b0, b1, oh, ow, pos, at, shift
    cdef bint trace = tracing()
    cdef Py_ssize_t plane_work = 2 * OH * OW  # a task's values read, values and indices written
    for oh in range(OH):
        plane_work += h_n[oh] * W
    # Offsets within the plane fit int32 (the caller checks H*W).
    cdef int32_t row_w = <int32_t>(dh * W)
    # 2x2 and 3x3 windows at stride 2 over float planes: each output row by _argmax_row, as
    # on wider rows (max 2x2 with indices on (32, 256, 28, 28), one thread: 4.23 -> 1.66 ms;
    # on (32, 512, 14, 14) 2.37 -> 0.95 ms; adaptive max 13 -> 6, (32, 256, 13, 13): 1.5 -> 1.17 ms).
    cdef bint tiles = ((numeric is float or numeric is double)
                       and _stride2_tiles(kw, sw, dw, 0, OW, W))
    for oh in range(OH):
        tiles = tiles and h_n[oh] == kw
    cdef numeric* vmax
    cdef numeric* wmax
    cdef numeric* orow
    cdef int64_t* irow
    cdef int32_t* vrow
    cdef int32_t* hrow
    cdef int32_t* hcol
    if P == 0:
        return 0
    # Those tiles over short planes, each output row's windows ``tile_rows`` input rows on
    # from the last one's, the planes evenly spaced (odd heights too: adaptive max 13 -> 6's
    # 3x3 windows), the outputs and indices contiguous: the rows are one run, a task's rows
    # one call of _argmax_run (every row but the task's last in whole 256-bit steps), as
    # _small_plane_rows' tiles. One thread, float32, pinned: max 2x2 with indices on
    # (32, 512, 14, 14) 1.76 -> 0.79 ms, (32, 128, 28, 28) 1.17 -> 0.70 ms,
    # (32, 128, 32, 32) 1.06 -> 0.84 ms; float64 (16, 512, 14, 14) 0.99 -> 0.57 ms.
    cdef Py_ssize_t tile_rows = _row_spacing(&h_lo[0], OH)
    cdef Py_ssize_t n_rows, n_tasks, task, r_lo, r_hi
    cdef Py_ssize_t B0 = out.shape[0], item = sizeof(numeric)
    cdef Py_ssize_t plane_bytes = x.strides[1] if B1 > 1 else x.strides[0]
    # The values from one plane's first row to the next plane's: the planes' spacing where
    # it is whole values; a lone plane's (never stepped past) a spacing the run accepts;
    # 0 where planes are spaced in parts of a value (no run).
    cdef Py_ssize_t plane_step = 0
    if P == 1:
        plane_step = OH * tile_rows * row_step
    elif plane_bytes % item == 0:
        plane_step = plane_bytes // item
    if (tiles and tile_rows > 0 and W <= SHORT_ROW and plane_step > 0
            and (B0 == 1 or B1 == 1 or x.strides[0] == B1 * x.strides[1])
            and _outputs_run(out.strides, B0, B1, OH, OW, item)
            and _outputs_run(indices.strides, B0, B1, OH, OW, sizeof(int64_t))):
        n_rows = P * OH
        n_tasks = _row_tasks(n_rows, num_threads)
        with nogil:
            for task in prange(n_tasks, schedule='static', num_threads=num_threads):
                r_lo = _task_row(task, n_rows, n_tasks)
                r_hi = _task_row(task + 1, n_rows, n_tasks)
                if trace:
                    note_work((r_hi - r_lo) * (2 * OW + kw * W))
                _argmax_run(&x[0, 0, h_lo[0], 0] + (r_lo // OH) * plane_step, dh * row_step,
                            tile_rows * row_step, plane_step, r_hi - r_lo, kw,
                            &out[0, 0, 0, 0] + r_lo * OW, &indices[0, 0, 0, 0] + r_lo * OW, OW,
                            h_lo[0] * W, tile_rows * W, OH, r_lo % OH, dh * W)
        return 0
    cdef numeric* values = <numeric*>_scratch(num_threads, vstride, sizeof(numeric))
    cdef int32_t* ints = NULL
    try:
        ints = <int32_t*>_scratch(num_threads, istride, sizeof(int32_t))
        with nogil:
            for p in prange(P, schedule='static', num_threads=num_threads):
                b0 = p // B1
                b1 = p - b0 * B1
                if trace:
                    note_work(plane_work)
                vmax = values + threadid() * vstride
                wmax = vmax + n_buf
                vrow = ints + threadid() * istride
                hrow = vrow + n_buf
                hcol = hrow + n_pos
                orow = &out[b0, b1, 0, 0]
                irow = &indices[b0, b1, 0, 0]
                if tiles:
                    for oh in range(OH):
                        _argmax_row(&x[b0, b1, h_lo[oh], 0], dh * row_step, kw, orow + oh * OW,
                                    irow + oh * OW, OW, h_lo[oh] * W, dh * W)
                    continue
                if R:
                    _vertical_arg(&x[b0, b1, h_lo[0], 0], 0, 1, dh * row_step, h_n[0], n_buf,
                                  vmax, vrow)
                else:
                    for oh in range(OH):
                        _vertical_arg(&x[b0, b1, h_lo[oh], 0], 0, 1, dh * row_step, h_n[oh], W,
                                      vmax + oh * W, vrow + oh * W)
                # Positions across two buffer rows combine garbage; none is gathered.
                _combine_columns(vmax, vrow, hrow, hcol, n_pos, kw, 1, dw, False, wmax)
                # Each position's winner as an offset from the position's cell, plus the
                # position (a loop that vectorises; the gather below then only adds the row's
                # shift).
                for pos in range(n_pos):
                    hcol[pos] = <int32_t>pos + hrow[pos] * row_w + hcol[pos] * <int32_t>dw
                for oh in range(OH):
                    # Buffer row of output row oh, and its input row's flat index less the
                    # buffer row's start.
                    at = _buffer_row(&h_lo[0], oh, R, W, W)
                    shift = h_lo[0] * W if R else (h_lo[oh] - oh) * W
                    for ow in range(OW):
                        pos = at + ow * sw
                        orow[oh * OW + ow] = wmax[pos]
                        irow[oh * OW + ow] = shift + hcol[pos]
    finally:
        free(values)
        free(ints)
    return 0


cdef inline Py_ssize_t _most_cells(const Py_ssize_t[::1] h_n,
                                   const Py_ssize_t[::1] w_n) noexcept nogil:
    """The most cells a window has in the plane: its most rows times its most columns."""
    cdef Py_ssize_t i, rows = 0, cols = 0
    for i in range(h_n.shape[0]):
        rows = max(rows, h_n[i])
    for i in range(w_n.shape[0]):
        cols = max(cols, w_n[i])
    return rows * cols


@cython.warn.unreachable(False)  # the pair test's dropped bodies (_types.pxd)
cdef inline void _lane_group_rows(
        const numeric** src, numeric_acc** dst, int64_t** idst, Py_ssize_t G, Py_ssize_t H,
        Py_ssize_t W, Py_ssize_t row_step, Py_ssize_t OH, Py_ssize_t OW,
        const Py_ssize_t* h_lo, const Py_ssize_t* h_n, Py_ssize_t dh, Py_ssize_t kw,
        Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w, const Py_ssize_t* w_lo,
        const Py_ssize_t* w_n, bint clipped, const int64_t* count_h, const int64_t* count_w,
        bint divide, bint reciprocal, bint is_max, bint zero_first, numeric* lanes_in,
        numeric_acc* lanes_out, int64_t* lanes_idx, numeric_acc* tmp, numeric_acc* drow,
        int64_t* drow_h, int64_t* row_at, Py_ssize_t ahead) noexcept nogil:
    """One task of :func:`_lane_planes`: G planes (``src``) side by side into ``lanes_in``
    (the lines ``ahead`` bytes past those read hinted into L2: the next group's),
    each output row of them by the channels-last row kernels (:func:`_direct_row`, or
    :func:`_direct_arg_row` where ``idst`` is given), then the outputs back to the planes'
    (``dst``; their indices to ``idst``)."""
    if not (numeric is numeric_acc and (numeric is float or numeric is double)):
        return
    cdef const numeric* rows[LANE_GROUP_MAX]
    cdef Py_ssize_t h, g, oh, t, j
    cdef Py_ssize_t in_row = W * G, out_row = OW * G
    cdef const numeric* first
    cdef numeric_acc* orow
    cdef bint finished
    cdef numeric_acc identity = _lowest(<numeric_acc*>NULL) if is_max else 0
    # Sums' +0 and averages in the row loop below (cpool_direct_sums_2x2's modes need 2x2
    # windows at stride 2, which the planes' tiles take before this).
    cdef int sums_mode = 0 if divide or is_max else 1
    if row_step == W:
        _lanes_in(src, H * W, lanes_in, G, ahead)
    else:
        for h in range(H):
            for g in range(G):
                rows[g] = src[g] + h * row_step
            _lanes_in(rows, W, lanes_in + h * in_row, G, ahead)
    for oh in range(OH):
        first = lanes_in + h_lo[oh] * in_row if h_n[oh] > 0 else lanes_in
        orow = lanes_out + oh * out_row
        if idst != NULL:
            for t in range(h_n[oh]):
                row_at[t] = (h_lo[oh] + t * dh) * W
            _direct_arg_row(first, 0, 1, dh * in_row, h_n[oh], row_at, W, G, G, OW, kw, sw, dw,
                            pad_w, w_lo, w_n, clipped, <numeric*>orow, lanes_idx + oh * out_row)
            continue
        finished = _direct_row(first, 0, 1 if h_n[oh] > 0 else 0, dh * in_row, h_n[oh], W, G,
                               G, OW, kw, sw, dw, pad_w, w_lo, w_n, clipped, orow, tmp,
                               identity, is_max, 0, sums_mode)
        if finished or is_max:
            continue
        if divide:
            _divisor_row(drow, drow_h, count_h[oh], count_w, OW, reciprocal)
            _average_pixels(orow, drow, OW, G, reciprocal, zero_first)
        else:
            for j in range(out_row):
                orow[j] = _from_zero(orow[j])
    _lanes_out(lanes_out, OH * OW, G, dst)
    if idst != NULL:
        _lanes_out(lanes_idx, OH * OW, G, idst)


@cython.warn.unreachable(False)  # the pair test's dropped bodies (_types.pxd)
cdef int _lane_planes(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,
                      numeric_acc[:, :, :, ::1] out, int64_t[:, :, :, ::1] indices,
                      const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
                      Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
                      const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, bint clipped,
                      const int64_t[::1] count_h, const int64_t[::1] count_w, bint divide,
                      bint is_max, bint zero_first, Py_ssize_t G, int num_threads) except -1:
    """Small float planes pooled as the lanes of channels-last pixels: a task puts G planes
    side by side (G values a pixel, in a thread's buffer), pools them with the channels-last
    row kernels, which work a vector of lanes at a time where the planes' own kernels work a
    short row at a time, and writes each plane's outputs (and ``indices``, where given: max
    with indices) back. The same windows, rule and order per value as on the planes: the
    same bits (tested against them).

    Adaptive pooling to a size that does not divide the input's (windows of uneven widths:
    a scalar loop per window over 10-wide rows) and max with indices gain most; the planes
    (G <= 64) must hold a group per thread (:func:`_lane_group`)."""
    if not (numeric is numeric_acc and (numeric is float or numeric is double)):
        raise TypeError("cpool: only float32 and float64 planes are pooled side by side")
    cdef Py_ssize_t B1 = out.shape[1], OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t P = out.shape[0] * B1, H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(numeric)
    cdef Py_ssize_t n_out = OH * OW
    # A run of planes a thread, in groups of G (its last one short): every thread the floor
    # or the ceiling of P / threads planes, where groups dealt out whole left some of 15
    # threads 8 where others had 9.
    cdef Py_ssize_t n_chunks = min(max(num_threads, 1), P)
    cdef bint with_indices = indices is not None
    cdef Py_ssize_t oh, max_h = 1
    for oh in range(OH):
        max_h = max(max_h, h_n[oh])
    # Per thread: the planes' values side by side, their outputs, a sink for the outputs of
    # a last group's missing planes, _direct_row's column sums (G) and a row of divisors (OW);
    # the indices side by side, their sink and the row table; the planes' pointers.
    cdef Py_ssize_t n_in = _buffer_stride(H * W * G, sizeof(numeric))
    cdef Py_ssize_t n_lanes_out = _buffer_stride(n_out * G, sizeof(numeric))
    cdef Py_ssize_t n_sink = _buffer_stride(n_out, sizeof(numeric))
    cdef Py_ssize_t vstride = n_in + n_lanes_out + n_sink + _buffer_stride(G + OW, sizeof(numeric))
    cdef Py_ssize_t istride = (_buffer_stride(n_out * G + n_out + max_h, sizeof(int64_t))
                               if with_indices else 0)
    cdef Py_ssize_t pstride = _buffer_stride(3 * G, sizeof(void*))
    cdef bint reciprocal = (divide and _powers_of_two(count_h) and _powers_of_two(count_w))
    # A group's planes are read a few at a time, each a short stream of its own, which the
    # hardware prefetcher did not keep ahead of: each line is hinted a group on (the same
    # plane of the next group where the planes are evenly spaced, as in a batch's).
    cdef Py_ssize_t ahead = G * (x.strides[1] if B1 > 1 else x.strides[0])
    cdef bint trace = tracing()
    cdef Py_ssize_t plane_work = H * W + n_out * (2 if with_indices else 1)
    cdef Py_ssize_t c, p0, p_end, g, p, b0, b1, n_real
    cdef numeric* buf
    cdef int64_t* ibuf
    cdef void** ptrs
    if P == 0:
        return 0
    cdef numeric* values = <numeric*>_scratch(num_threads, vstride, sizeof(numeric))
    cdef int64_t* ints = NULL
    cdef void** pointers = NULL
    cdef int64_t* drow_h = NULL  # per thread: the row count its divisor row was built for
    try:
        ints = <int64_t*>_scratch(num_threads, max(istride, 1), sizeof(int64_t))
        pointers = <void**>_scratch(num_threads, pstride, sizeof(void*))
        drow_h = _thread_slots(num_threads)
        with nogil:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                buf = values + threadid() * vstride
                ibuf = ints + threadid() * istride
                ptrs = pointers + threadid() * pstride
                p0 = c * P // n_chunks
                p_end = (c + 1) * P // n_chunks
                while p0 < p_end:
                    n_real = min(G, p_end - p0)
                    if trace:
                        note_work(n_real * plane_work)
                    # Planes past the chunk's: its first again, their outputs to the sinks.
                    for g in range(G):
                        p = p0 + g if g < n_real else p0
                        b0 = p // B1
                        b1 = p - b0 * B1
                        ptrs[g] = <void*>&x[b0, b1, 0, 0]
                        ptrs[G + g] = (<void*>&out[b0, b1, 0, 0] if g < n_real
                                       else <void*>(buf + n_in + n_lanes_out))
                        if with_indices:
                            ptrs[2 * G + g] = (<void*>&indices[b0, b1, 0, 0] if g < n_real
                                               else <void*>(ibuf + n_out * G))
                    _lane_group_rows(<const numeric**>ptrs, <numeric_acc**>(ptrs + G),
                                     <int64_t**>(ptrs + 2 * G) if with_indices else NULL, G, H, W,
                                     row_step, OH, OW, &h_lo[0], &h_n[0], dh, kw, sw, dw, pad_w,
                                     &w_lo[0], &w_n[0], clipped,
                                     &count_h[0] if divide else NULL,
                                     &count_w[0] if divide else NULL, divide, reciprocal, is_max,
                                     zero_first, buf, <numeric_acc*>(buf + n_in),
                                     ibuf, <numeric_acc*>(buf + n_in + n_lanes_out + n_sink),
                                     <numeric_acc*>(buf + n_in + n_lanes_out + n_sink + G),
                                     &drow_h[threadid() * THREAD_SLOT], ibuf + n_out * G + n_out,
                                     ahead)
                    p0 = p0 + G
    finally:
        free(values)
        free(ints)
        free(pointers)
        free(drow_h)
    return 0


def window_max_with_indices(
        const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
        numeric[:, :, :, ::1] out,                                                        # OUT
        int64_t[:, :, :, ::1] indices,                                                    # OUT
        const Py_ssize_t[::1] bounds, Py_ssize_t n_d, Py_ssize_t n_h, Py_ssize_t n_w,
        Py_ssize_t dd, Py_ssize_t sh, Py_ssize_t dh, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
        Py_ssize_t pad_w, bint clipped, bint plane_bounds, Py_ssize_t lanes, Py_ssize_t pixel,
        int num_threads):
    """Kernel of the max pooling ops with ``return_indices=True`` (flat indices within each
    spatial block: ``w``, ``h*W + w`` or ``d*H*W + h*W + w``); see :func:`_max_with_indices`.
    ``bounds`` as in :func:`window_max`."""
    cdef Py_ssize_t h0 = 2 * n_d, w0 = h0 + 2 * n_h
    cdef const Py_ssize_t[::1] d_lo = bounds[:n_d], d_n = bounds[n_d:h0]
    cdef const Py_ssize_t[::1] h_lo = bounds[h0:h0 + n_h], h_n = bounds[h0 + n_h:w0]
    cdef const Py_ssize_t[::1] w_lo = bounds[w0:w0 + n_w], w_n = bounds[w0 + n_w:w0 + 2 * n_w]
    if lanes == 1:
        _max_with_indices(x, out, indices, d_lo, d_n, dd, h_lo, h_n, sh, dh, kw, sw, dw, pad_w,
                          w_lo, w_n, clipped, plane_bounds, 1, 1, num_threads, <planes*>NULL)
    else:
        _max_with_indices(x, out, indices, d_lo, d_n, dd, h_lo, h_n, sh, dh, kw, sw, dw, pad_w,
                          w_lo, w_n, clipped, False, lanes, pixel, num_threads, <pixels*>NULL)


cdef inline int _max_with_indices(
        const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,
        numeric[:, :, :, ::1] out, int64_t[:, :, :, ::1] indices,
        const Py_ssize_t[::1] d_lo, const Py_ssize_t[::1] d_n, Py_ssize_t dd,
        const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t sh, Py_ssize_t dh,
        Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
        const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, bint clipped, bint plane_bounds,
        Py_ssize_t lanes, Py_ssize_t pixel, int num_threads, layout* tag) except -1:
    """Max pooling with flat indices, compiled once per row ``layout``.

    Row-separable like the other kernels: the vertical pass keeps each column's max and its row
    in padded row buffers, then each window combines its columns left to right with
    :func:`_right_replaces`, which gives exactly the cell of PyTorch's row-major scan (ties:
    first; NaN: last). The value is then read from that cell's column, so it has the scan's
    bits (its sign of zero, its NaN payload). Rows are kept as row numbers within the window
    (int32 for any plane size; a 3-D window numbers its rows slice by slice, which is the scan
    order), and each thread's table ``row_at`` turns one into the flat index of the row's first
    cell (64 bits). Padding cells hold the lowest value in a row past every real row: they lose
    every tie, so they never win while the window has a real cell. Windows with no real cell
    (dilated) give -inf, as PyTorch's do, and the index NO_CELL (-1; PyTorch's first tap
    lies outside the plane or on a cell the window never read). With ``clipped`` the buffers
    hold the row alone and each window combines its in-bounds columns (``w_lo``, ``w_n``).

    Depth as in :func:`_separable` (``d_lo`` empty: 1-D and 2-D windows, whose indices are
    within each (H, W) plane). ``lanes``, ``pixel`` and ``plane_bounds`` as there too:
    channels-last rows of pixels of ``lanes`` values, each lane combined exactly as a plane's
    column would be; per-plane windows.
    """
    if layout is planes:  # compiled with the constant: no channels-last code in this version
        lanes = pixel = 1
    cdef Py_ssize_t B1 = out.shape[1], L = x.shape[3], W = (x.shape[3] - lanes) // pixel + 1
    cdef Py_ssize_t H = x.shape[2]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3] // lanes
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    cdef Py_ssize_t n_chunks = _row_tasks(n_rows, num_threads)
    cdef bint trace = tracing()
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(numeric)
    cdef bint depth = d_lo.shape[0] > 0
    cdef Py_ssize_t depth_step = dd * (x.strides[1] // <Py_ssize_t>sizeof(numeric))
    # Wide channels-last pixels are scanned straight from the input (_direct_arg_row), with
    # no row buffers.
    cdef bint direct = lanes > 1 and lanes * <Py_ssize_t>sizeof(numeric) >= DIRECT_BYTES
    cdef Py_ssize_t width = lanes * (1 if direct else W if clipped
                                     else _padded_width(W, OW, kw, sw, dw, pad_w))
    cdef Py_ssize_t row0 = 0 if clipped else pad_w * lanes  # where the row's values start
    cdef Py_ssize_t c, r, b0, b1, oh, ow, j, nd, z, sl, t, n_taps, hb, wb, db, pl
    cdef numeric lowest = _lowest(<numeric*>NULL)
    cdef numeric* orow
    cdef int64_t* irow
    cdef numeric* vmax
    cdef int32_t* vrow
    cdef int32_t* hrow
    cdef int32_t* hcol
    cdef int64_t* row_at
    cdef const numeric* first
    if n_rows == 0:
        return 0
    cdef bint any_empty = False
    cdef Py_ssize_t max_d = 1, max_h = 0
    for ow in range(w_n.shape[0]):  # every plane's, with plane_bounds
        any_empty = any_empty or w_n[ow] == 0
    for oh in range(h_n.shape[0]):
        max_h = max(max_h, h_n[oh])
    if depth:
        for j in range(d_n.shape[0]):
            max_d = max(max_d, d_n[j])
    # A row number past every window's real rows, for the padding cells.
    cdef Py_ssize_t past_rows = max_d * max_h
    if past_rows >= 2**31 - 1:
        raise ValueError("cpool: a window of more than 2**31 - 2 rows has no int32 row number")
    # Winners' offsets from a window's first cell (slice, row and column) in int32, and row
    # numbers split into slice and row in float32 (_combine_padded).
    cdef bint narrow = (past_rows < (1 << 20) and (max_d - 1) * dd * H * W + (max_h - 1) * dh * W
                        + (kw - 1) * dw <= INT32_MAX)
    cdef Py_ssize_t min_h = max_h
    for oh in range(h_n.shape[0]):
        min_h = min(min_h, h_n[oh])
    # The "same" 3x3 at stride 1 of float planes (max_pool2d(x, 3, 1, 1,
    # return_indices=True)): a plane a call of _same_3x3_argmax, which splits each window into
    # its columns as the values' kernel does. Float32 rows of 6 and 7 values too, copied a
    # vector apart (7 x 7 planes: 5.3 -> 3.2 ms on (64, 512, 7, 7), one thread); narrower
    # ones, and float64 rows under a vector, were slower this way than side by side (float32 4 x 4
    # planes 1.3x the time, float64 3 x 3 1.15x). The planes it hands back (a NaN, whose
    # winner is the scan's last NaN) are marked in ``redo``; only their rows then take the
    # paths below, the general rows.
    cdef Py_ssize_t P = out.shape[0] * B1, p, n_redo = 0
    cdef Py_ssize_t stride3 = _buffer_stride(
        cpool_same_3x3_argmax_buf_f32(H, W) if sizeof(numeric) == 4
        else cpool_same_3x3_argmax_buf_f64(H, W), sizeof(numeric))
    cdef uint8_t* redo = NULL
    cdef numeric* buf3 = NULL
    if ((numeric is float or numeric is double) and layout is planes and not depth
            and not clipped and not plane_bounds
            and (W * <Py_ssize_t>sizeof(numeric) >= 32 or H <= CPOOL_S3A_NARROW_ROWS)
            and _same_3x3(True, H, W, OH, OW, kw, sw, dw, pad_w, dh, h_lo, h_n,
                          sizeof(numeric), 24 if numeric is float else 32)):
        redo = <uint8_t*>_scratch(1, P, sizeof(uint8_t))
        try:
            buf3 = <numeric*>_scratch(num_threads, stride3, sizeof(numeric))
            with nogil:
                for p in prange(P, schedule='static', num_threads=num_threads):
                    b0 = p // B1
                    b1 = p - b0 * B1
                    if trace:  # values read, values and indices written
                        note_work(3 * H * W)
                    redo[p] = not _same_3x3_argmax(
                        &x[b0, b1, 0, 0], row_step, H, W, &out[b0, b1, 0, 0],
                        out.strides[2] // <Py_ssize_t>sizeof(numeric), &indices[b0, b1, 0, 0],
                        indices.strides[2] // <Py_ssize_t>sizeof(int64_t),
                        buf3 + threadid() * stride3)
            for p in range(P):
                n_redo += redo[p]
        finally:
            free(buf3)
            if n_redo == 0:
                free(redo)
        if n_redo == 0:
            return 0
    # Small float planes side by side (_lane_planes; see _separable): uneven windows, and
    # padded ones but those of _argmax_row (2x2 and 3x3 at stride 2), which the small planes'
    # kernel does not take (unpadded windows it takes in vectors: max 2x2 s1 with indices on
    # 14-wide planes, side by side, 1.13x the time).
    cdef Py_ssize_t lane_group
    cdef const int64_t[::1] no_counts = None
    if numeric is float or numeric is double:
        if (layout is planes and not depth and not plane_bounds and min_h > 0 and not any_empty
                and redo == NULL and OH > 1 and OW > 0 and W > 0 and H > 0 and (clipped or (
                    W <= SHORT_ROW and pad_w > 0
                    and not ((kw == 2 or kw == 3) and sw == 2 and dw == 1)))):
            lane_group = _lane_group(out.shape[0] * B1, H, W, sizeof(numeric), num_threads)
            if lane_group:
                return _lane_planes(x, out, indices, h_lo, h_n, dh, kw, sw, dw, pad_w, w_lo,
                                    w_n, clipped, no_counts, no_counts, False, True, False,
                                    lane_group,
                                    num_threads)
    if (layout is planes and not depth and not plane_bounds and min_h > 0 and H * W < 2**31
            and redo == NULL and _small_planes(W, OH, OW, kw, sw, dw, pad_w, clipped)):
        return _small_plane_arg_rows(x, out, indices, h_lo, h_n, dh, kw, sw, dw, num_threads)
    # Windows of one tap count on the general path (fractional pooling's): every position of
    # the row combined at stride 1, then each window's winner gathered (as in _separable).
    # Not float32 windows of up to 16 adjacent columns that start at fewer than a quarter of
    # the positions (adaptive pooling's), whose winners _combine_clipped picks a window at a
    # time in vectors: adaptive max with indices 64 -> 7 on (32, 256, 64, 64), one thread,
    # took 41 ms combining all 55 positions of each row.
    cdef bint gather = (layout is planes and clipped and _uniform_windows(w_n, kw, W, dw)
                        and not (numeric is float and dw == 1 and kw <= 16
                                 and 4 * OW < W - (kw - 1) * dw))
    cdef Py_ssize_t n_pos = W - (kw - 1) * dw if gather else 0
    # 2x2 and 3x3 windows at stride 2, every tap in the row, over float planes: each output
    # row straight from its input rows by _argmax_row (max 2x2 s2 with indices on
    # (32, 256, 56, 56), one thread: 15.6 -> 9.3 ms; in cache, (4, 256, 56, 56), 0.62 ms).
    # 3-D windows of such slices take them a slice at a time, each later slice's winners
    # against the earlier ones' by the scan's rule (_later_run_wins): max3d with indices on
    # (4, 32, 32, 56, 56), one thread, 2x2x2 s2 9.0-9.3 -> 6.1-6.3 ms, 3x3x3 s2 14.8-15.5 ->
    # 12.8-13.1 ms.
    cdef bint tiles = (layout is planes and (numeric is float or numeric is double)
                       and not clipped and not plane_bounds
                       and _stride2_tiles(kw, sw, dw, pad_w, OW, W))
    # The same windows in rows that padding cuts at either end (max_pool2d(x, 3, 2, 1,
    # return_indices=True), ResNet's stem): the windows with every tap in the row by
    # _argmax_row, the cut ones by PyTorch's scan of their real columns (_argmax_padded_row);
    # rows with every window row real. Not 3-D windows a slice at a time: each slice scans
    # its cut windows apart, and max3d 3x3x3 s2 p1 with indices on (4, 32, 32, 56, 56) took
    # 17.0-17.4 ms so, against 14.4-15.2 ms on the general path.
    cdef bint padded_tiles = (layout is planes and (numeric is float or numeric is double)
                              and not depth and not clipped and not plane_bounds and not tiles
                              and (kw == 2 or kw == 3) and sw == 2 and dw == 1 and pad_w > 0)
    # Windows of one row and two or three adjacent columns at stride 2 (1-D k2 s2, k3 s2 p1):
    # a row at a time by _argmax_adjacent.
    cdef bint adjacent = (layout is planes and not depth and not clipped and not plane_bounds
                          and (kw == 2 or kw == 3) and sw == 2 and dw == 1)
    # Windows of one row and two or three adjacent columns, or of 2x2 cells, at stride 1, over
    # float planes (1-D k3 s1 p1 and k2 s1, max 2x2 s1): a row at a time by _argmax_s1_row,
    # each window's taps in registers. (3x3 windows: the "same" 3x3 by _same_3x3_argmax above,
    # others the general path; see cpool_argmax_s1.)
    cdef bint stride1 = ((numeric is float or numeric is double) and layout is planes
                         and not depth and not clipped and not plane_bounds
                         and sw == 1 and dw == 1
                         and ((max_h == 1 and (kw == 2 or kw == 3)) or (max_h == 2 and kw == 2)))
    cdef Py_ssize_t in_lo = OW, in_hi = 0  # the outputs whose windows are whole
    if padded_tiles or adjacent or stride1:
        for ow in range(OW):
            if w_n[ow] == kw:
                in_lo = min(in_lo, ow)
                in_hi = ow + 1
        if in_hi <= in_lo or any_empty:  # no whole window, or a window with no real cell
            padded_tiles = adjacent = stride1 = False
    cdef Py_ssize_t n_out = max(OW, n_pos) * lanes  # outputs one combine sweep writes
    # Per thread: the column maxima (and the gathered sweep's values); their rows, then the
    # winners' rows and columns; the row table (and the gathered sweep's indices).
    cdef Py_ssize_t vstride = _buffer_stride(width + n_pos, sizeof(numeric))
    cdef Py_ssize_t istride = _buffer_stride(width + 2 * n_out, sizeof(int32_t))
    # ... and a slice's indices (3-D tiles).
    cdef Py_ssize_t slice_idx = OW if depth and tiles else 0
    cdef Py_ssize_t tstride = _buffer_stride(past_rows + 1 + n_pos + slice_idx, sizeof(int64_t))
    cdef numeric* values = NULL
    cdef int32_t* ints = NULL
    cdef int64_t* tables = NULL
    try:  # (``redo`` freed too where an allocation fails)
        values = <numeric*>_scratch(num_threads, vstride, sizeof(numeric))
        ints = <int32_t*>_scratch(num_threads, istride, sizeof(int32_t))
        tables = <int64_t*>_scratch(num_threads, tstride, sizeof(int64_t))
        with nogil:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                # Assigned here so Cython makes them thread-private: it does not count the
                # writes through pointers below, and shared counters would race.
                b0 = b1 = oh = 0
                _locate(_task_row(c, n_rows, n_chunks), OH, B1, &b0, &b1, &oh)
                vmax = values + threadid() * vstride
                vrow = ints + threadid() * istride
                hrow = vrow + width   # per output: row and column (tap numbers) of the winner
                hcol = hrow + n_out
                row_at = tables + threadid() * tstride
                row_at[past_rows] = 0  # what the padding's row number looks up (never kept)
                # `layout is ...`: constants of each compiled version (see _separable).
                if layout is planes or not direct:
                    _pad_edges(vmax, row0, L, width, lowest)
                    _pad_edges(vrow, row0, L, width, <int32_t>past_rows)
                for r in range(_task_row(c, n_rows, n_chunks), _task_row(c + 1, n_rows, n_chunks)):
                    if redo != NULL and not redo[b0 * B1 + b1]:  # done by _same_3x3_argmax
                        _step(OH, B1, &b0, &b1, &oh)
                        continue
                    orow = &out[b0, b1, oh, 0]
                    irow = &indices[b0, b1, oh, 0]
                    # Where this row's plane's window bounds start in the bound arrays.
                    pl = _bounds_plane(plane_bounds, depth, b0, b1, B1)
                    hb = pl * OH
                    wb = pl * OW
                    db = pl * B1 if depth else 0
                    nd = d_n[db + b1] if depth else 1
                    z = d_lo[db + b1] if depth else b1
                    if trace:  # values read, values and indices written
                        note_work(nd * h_n[hb + oh] * L + 2 * OW * lanes)
                    # Flat index of each window row's first cell, rows numbered slice by slice
                    # (row_at[0]: the first tap's, real or not).
                    n_taps = nd * h_n[hb + oh]
                    row_at[0] = ((z * H if depth else 0) + h_lo[hb + oh]) * W
                    if nd > 1 or clipped or layout is pixels:  # else computed from row_at[0]
                        for sl in range(nd):
                            for t in range(h_n[hb + oh]):
                                row_at[sl * h_n[hb + oh] + t] = (((z + sl * dd) * H if depth else 0)
                                                            + h_lo[hb + oh] + t * dh) * W
                    if n_taps == 0:
                        # Empty (dilated) windows: -inf, as PyTorch's, and the index NO_CELL.
                        for ow in range(OW):
                            for j in range(ow * (1 if layout is planes else lanes),
                                           (ow + 1) * (1 if layout is planes else lanes)):
                                orow[j] = lowest
                                irow[j] = NO_CELL
                        _step(OH, B1, &b0, &b1, &oh)
                        continue
                    first = &x[b0, z, h_lo[hb + oh], 0]
                    if layout is pixels and direct:
                        _direct_arg_row(first, depth_step, nd, dh * row_step, h_n[hb + oh], row_at, W,
                                        lanes, pixel, OW, kw, sw, dw, pad_w, &w_lo[wb], &w_n[wb],
                                        clipped, orow, irow)
                        _step(OH, B1, &b0, &b1, &oh)
                        continue
                    _prefetch_slices(first, depth_step, nd, dh * row_step, h_n[hb + oh], sh, L)
                    if padded_tiles and h_n[hb + oh] == kw:  # 2-D only (see padded_tiles)
                        _argmax_padded_row(first, dh * row_step, kw, orow, irow, OW, in_lo, in_hi,
                                           &w_lo[0], &w_n[0], row_at[0], dh * W)
                        _step(OH, B1, &b0, &b1, &oh)
                        continue
                    if tiles and h_n[hb + oh] == kw:
                        for sl in range(nd):  # a 3-D window's slices in the scan's order
                            _argmax_row(first + sl * depth_step, dh * row_step, kw,
                                        vmax + row0 if sl else orow,
                                        row_at + past_rows + 1 + n_pos if sl else irow, OW,
                                        row_at[sl * kw] + w_lo[wb], dh * W)
                            if sl:
                                # (the slice's outputs where the row's values go: the
                                # buffers' padding cells stay for the rows of the general path)
                                _later_run_wins(orow, irow, vmax + row0,
                                                row_at + past_rows + 1 + n_pos, OW)
                        _step(OH, B1, &b0, &b1, &oh)
                        continue
                    if stride1 and _argmax_s1_row(first, dh * row_step, h_n[hb + oh], kw, orow,
                                                  irow, OW, in_lo, in_hi, &w_lo[0], &w_n[0],
                                                  row_at[0], dh * W):
                        _step(OH, B1, &b0, &b1, &oh)
                        continue
                    if adjacent and h_n[hb + oh] == 1:
                        _argmax_adjacent(first, kw, orow, irow, OW, in_lo, in_hi, &w_lo[0],
                                         &w_n[0], row_at[0])
                        _step(OH, B1, &b0, &b1, &oh)
                        continue
                    _vertical_arg(first, depth_step, nd, dh * row_step, h_n[hb + oh], L, vmax + row0,
                                  vrow + row0)
                    if gather:
                        _combine_padded(vmax, vrow, hrow, hcol, n_pos, kw, 1, dw, row_at,
                                        dh * W, dd * H * W if nd > 1 else 0, h_n[hb + oh], 0,
                                        narrow, vmax + width,
                                        row_at + past_rows + 1)
                        for ow in range(OW):
                            orow[ow] = vmax[width + w_lo[wb + ow]]
                            irow[ow] = row_at[past_rows + 1 + w_lo[wb + ow]]
                    elif clipped:
                        _combine_clipped(vmax, vrow, OW, &w_lo[wb], &w_n[wb], dw, row_at,
                                         1 if layout is planes else lanes, orow, irow, n_taps)
                    elif layout is planes:
                        _combine_padded(vmax, vrow, hrow, hcol, OW, kw, sw, dw, row_at,
                                        dh * W, dd * H * W if nd > 1 else 0, h_n[hb + oh],
                                        pad_w, narrow, orow, irow)
                    else:
                        _combine_padded_lanes(vmax, vrow, hrow, hcol, OW, kw, sw, dw, row_at,
                                              pad_w, lanes, orow, irow)
                    if any_empty:  # no real column: -inf and NO_CELL, as above
                        for ow in range(OW):
                            if w_n[wb + ow] == 0:
                                for j in range(ow * (1 if layout is planes else lanes),
                                               (ow + 1) * (1 if layout is planes else lanes)):
                                    orow[j] = lowest
                                    irow[j] = NO_CELL
                    _step(OH, B1, &b0, &b1, &oh)
    finally:
        free(values)
        free(ints)
        free(tables)
        free(redo)
    return 0

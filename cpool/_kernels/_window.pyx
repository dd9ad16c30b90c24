"""Sliding-window kernels: max (with and without indices) and windowed sums (sum and average).

Design
------
* Inputs arrive as 4-D ``(B0, B1, H, W)`` views whose last axis is contiguous; the two leading
  axes are whatever the caller's batch axes collapse to, so sliced and broadcast batches need no
  copy. Outputs are C-contiguous ``(B0, B1, OH, OW)``. The validation layer guarantees all of it.
* Geometry is not derived here: the caller passes the vertical bounds of every output row (first
  in-bounds row ``h_lo[oh]`` and row count ``h_n[oh]``, rows ``dh`` apart) and the horizontal
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
* Max with indices scans each window in PyTorch's row-major order with PyTorch's update rule
  ``v > m or v != v``: ties keep the first element and the last NaN wins, so the indices match.
"""
from cython cimport view
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t
from libc.stdlib cimport free

from cpool._kernels._rows cimport _buffer_stride, _horizontal, _locate, _scratch, _step, _vertical
from cpool._kernels._types cimport _lowest, _replaces, numeric, numeric_acc, sum_out

cdef enum:
    ROW_CHUNK = 8  # output rows per parallel task (one division per chunk, counters within)


cdef int _separable(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,
                    numeric_acc[:, :, :, ::1] out,
                    const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
                    Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
                    const numeric_acc[:, ::1] divisors, bint divide, bint is_max,
                    int num_threads) except -1:
    """Shared driver of max_pool2d and window_sum: vertical pass, padded buffer, horizontal pass."""
    cdef Py_ssize_t B1 = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    # The padded row: pad_w identity cells, W values, then identity up to the last tap.
    cdef Py_ssize_t width = max(pad_w + W, (OW - 1) * sw + (kw - 1) * dw + 1)
    cdef Py_ssize_t row_step = x.strides[2] // <Py_ssize_t>sizeof(numeric)
    cdef Py_ssize_t n_chunks = (n_rows + ROW_CHUNK - 1) // ROW_CHUNK
    cdef Py_ssize_t c, r, b0, b1, oh, i
    cdef numeric_acc identity = _lowest(<numeric_acc*>NULL) if is_max else 0
    cdef numeric_acc* buf
    cdef numeric_acc* orow
    if n_rows == 0:
        return 0
    cdef Py_ssize_t stride = _buffer_stride(width, sizeof(numeric_acc))
    cdef numeric_acc* scratch = <numeric_acc*>_scratch(num_threads, stride, sizeof(numeric_acc))
    try:
        with nogil:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                # One division per chunk of rows; counters after that (divisions cost more
                # than the work on a short row).
                # Assigned here so Cython makes them thread-private: it does not count the
                # writes through pointers below, and shared counters would race.
                b0 = b1 = oh = 0
                _locate(c * ROW_CHUNK, OH, B1, &b0, &b1, &oh)
                buf = scratch + threadid() * stride
                for i in range(pad_w):
                    buf[i] = identity
                for i in range(pad_w + W, width):
                    buf[i] = identity
                for r in range(c * ROW_CHUNK, min(c * ROW_CHUNK + ROW_CHUNK, n_rows)):
                    orow = &out[b0, b1, oh, 0]
                    _vertical(&x[b0, b1, h_lo[oh], 0] if h_n[oh] > 0 else &x[0, 0, 0, 0],
                              dh * row_step, h_n[oh], W, buf + pad_w, identity, is_max)
                    _horizontal(buf, orow, OW, kw, sw, dw, is_max)
                    if divide:
                        for i in range(OW):
                            orow[i] = orow[i] / divisors[oh, i]
                    _step(OH, B1, &b0, &b1, &oh)
    finally:
        free(scratch)
    return 0


def max_pool2d(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
               numeric[:, :, :, ::1] out,                                                        # OUT
               const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
               Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w, int num_threads):
    """Kernel of :func:`cpool.max_pool2d` without indices. Arguments are already validated."""
    cdef const numeric[:, ::1] no_divisors = None
    _separable(x, out, h_lo, h_n, dh, kw, sw, dw, pad_w, no_divisors, False, True, num_threads)


def window_sum(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
               sum_out[:, :, :, ::1] out,                                                        # OUT
               const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
               Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
               const sum_out[:, ::1] divisors, bint divide, int num_threads):
    """Kernel of :func:`cpool.sum_pool2d` and :func:`cpool.avg_pool2d`.

    Sums in the output dtype (float32 sums in float32, like PyTorch; integers in 64 bits).
    With ``divide`` each output is divided by ``divisors[oh, ow]``.
    """
    _separable(x, out, h_lo, h_n, dh, kw, sw, dw, pad_w, divisors, divide, False, num_threads)


def max_pool2d_with_indices(
        const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
        numeric[:, :, :, ::1] out,                                                        # OUT
        int64_t[:, :, :, ::1] indices,                                                    # OUT
        const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
        const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, Py_ssize_t dw,
        int num_threads):
    """Kernel of :func:`cpool.max_pool2d` with ``return_indices=True`` (flat ``h*W + w``)."""
    cdef Py_ssize_t B1 = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    cdef Py_ssize_t n_chunks = (n_rows + ROW_CHUNK - 1) // ROW_CHUNK
    cdef Py_ssize_t c, r, b0, b1, oh, ow, t, u, y, y0, nh, lo, col
    cdef int64_t mi
    cdef numeric lowest = _lowest(<numeric*>NULL)
    cdef numeric v, m
    cdef numeric* orow
    cdef int64_t* irow
    cdef const numeric* row
    if n_rows == 0:
        return
    with nogil:
        for c in prange(n_chunks, schedule='static', num_threads=num_threads):
            # Assigned here so Cython makes them thread-private: it does not count the
            # writes through pointers below, and shared counters would race.
            b0 = b1 = oh = 0
            _locate(c * ROW_CHUNK, OH, B1, &b0, &b1, &oh)
            for r in range(c * ROW_CHUNK, min(c * ROW_CHUNK + ROW_CHUNK, n_rows)):
                orow = &out[b0, b1, oh, 0]
                irow = &indices[b0, b1, oh, 0]
                nh = h_n[oh]
                y0 = h_lo[oh]
                # PyTorch starts each window at -inf with the index of its first (adjusted) tap.
                for ow in range(OW):
                    orow[ow] = lowest
                    irow[ow] = y0 * W + w_lo[ow]
                for t in range(nh):
                    y = y0 + t * dh
                    row = &x[b0, b1, y, 0]
                    for ow in range(OW):
                        m = orow[ow]
                        mi = irow[ow]
                        lo = w_lo[ow]
                        for u in range(w_n[ow]):
                            col = lo + u * dw
                            v = row[col]
                            if _replaces(m, v):
                                m = v
                                mi = y * W + col
                        orow[ow] = m
                        irow[ow] = mi
                _step(OH, B1, &b0, &b1, &oh)

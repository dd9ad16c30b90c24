"""Sliding-window kernels: max (with and without indices) and windowed sums (sum and average).

Design
------
* Inputs arrive as 4-D ``(B0, B1, H, W)`` views whose last axis is contiguous; the two leading
  axes are whatever the caller's batch axes collapse to, so sliced and broadcast batches need no
  copy. Outputs are C-contiguous ``(B0, B1, OH, OW)``. The validation layer guarantees all of it.
* Geometry is not derived here. For each axis the caller passes, per output position ``o``, the
  first in-bounds tap ``lo[o]`` and the number of in-bounds taps ``n[o]`` (taps are ``dilation``
  apart). Padding and ceil-mode overhang are therefore never read, which is PyTorch's rule.
* Work is split over output rows (all planes x all output rows), so one image with three channels
  still uses every thread. Each output element is written by exactly one thread with a fixed
  operation order, so results are bitwise identical for any thread count.
* Max and sum run row-separably: the window's input rows are first reduced vertically into a
  per-thread row buffer (a contiguous, vectorisable loop), then each output takes the horizontal
  reduction of its columns in that buffer. Cost per output row is ``kh*W + kw*OW``, not ``kh*kw*OW``.
* Max with indices scans each window in PyTorch's row-major order with PyTorch's update rule
  ``v > m or v != v``: ties keep the first element and the last NaN wins, so the indices match.
"""
from cython cimport view
from cython.parallel cimport prange, threadid
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from cpool._kernels._types cimport _lowest, _take_max, numeric, sum_out


cdef inline void* _scratch(Py_ssize_t num_threads, Py_ssize_t width, size_t itemsize) except NULL:
    """One row buffer per thread, allocated with the GIL held so failure raises MemoryError."""
    cdef void* buf = malloc(<size_t>(num_threads * width) * itemsize + 64)
    if buf == NULL:
        raise MemoryError("cpool: could not allocate the per-thread row buffers")
    return buf


def max_pool2d(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
               numeric[:, :, :, ::1] out,                                                        # OUT
               const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
               const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, Py_ssize_t dw,
               int num_threads):
    """Kernel of :func:`cpool.max_pool2d` without indices. Arguments are already validated."""
    cdef Py_ssize_t B1 = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    cdef Py_ssize_t r, p, oh, ow, t, j, u, y0, nh, lo
    cdef numeric lowest = _lowest(<numeric*>NULL)
    cdef numeric m
    cdef numeric* buf
    cdef numeric* orow
    cdef const numeric* row
    if n_rows == 0:
        return
    cdef numeric* scratch = <numeric*>_scratch(num_threads, W, sizeof(numeric))
    try:
        with nogil:
            for r in prange(n_rows, schedule='static', num_threads=num_threads):
                p = r // OH
                oh = r - p * OH
                orow = &out[p // B1, p % B1, oh, 0]
                nh = h_n[oh]
                y0 = h_lo[oh]
                buf = scratch + threadid() * W
                # Vertical pass: buf[j] = max over the window's rows of x[y, j].
                if nh == 0:
                    for j in range(W):
                        buf[j] = lowest
                else:
                    row = &x[p // B1, p % B1, y0, 0]
                    memcpy(buf, row, W * sizeof(numeric))
                    for t in range(1, nh):
                        row = &x[p // B1, p % B1, y0 + t * dh, 0]
                        for j in range(W):
                            buf[j] = _take_max(buf[j], row[j])
                # Horizontal pass over each output's columns.
                for ow in range(OW):
                    m = lowest
                    lo = w_lo[ow]
                    for u in range(w_n[ow]):
                        m = _take_max(m, buf[lo + u * dw])
                    orow[ow] = m
    finally:
        free(scratch)


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
    cdef Py_ssize_t r, p, oh, ow, t, u, y, y0, nh, lo, col
    cdef int64_t mi
    cdef numeric lowest = _lowest(<numeric*>NULL)
    cdef numeric v, m
    cdef numeric* orow
    cdef int64_t* irow
    cdef const numeric* row
    if n_rows == 0:
        return
    with nogil:
        for r in prange(n_rows, schedule='static', num_threads=num_threads):
            p = r // OH
            oh = r - p * OH
            orow = &out[p // B1, p % B1, oh, 0]
            irow = &indices[p // B1, p % B1, oh, 0]
            nh = h_n[oh]
            y0 = h_lo[oh]
            # PyTorch starts each window at -inf with the index of its first (adjusted) tap.
            for ow in range(OW):
                orow[ow] = lowest
                irow[ow] = y0 * W + w_lo[ow]
            for t in range(nh):
                y = y0 + t * dh
                row = &x[p // B1, p % B1, y, 0]
                for ow in range(OW):
                    m = orow[ow]
                    mi = irow[ow]
                    lo = w_lo[ow]
                    for u in range(w_n[ow]):
                        col = lo + u * dw
                        v = row[col]
                        if v > m or v != v:
                            m = v
                            mi = y * W + col
                    orow[ow] = m
                    irow[ow] = mi


def window_sum(const numeric[::view.strided, ::view.strided, ::view.strided, ::view.contiguous] x,  # IN
               sum_out[:, :, :, ::1] out,                                                        # OUT
               const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
               const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, Py_ssize_t dw,
               const int64_t[::1] h_div, const int64_t[::1] w_div, bint divide,
               int num_threads):
    """Kernel of :func:`cpool.sum_pool2d` and :func:`cpool.avg_pool2d`.

    Sums in the output dtype (float32 sums in float32, like PyTorch; integers in 64 bits).
    With ``divide`` each output is divided by ``h_div[oh] * w_div[ow]``.
    """
    cdef Py_ssize_t B1 = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n_rows = out.shape[0] * B1 * OH
    cdef Py_ssize_t r, p, oh, ow, t, j, u, y0, nh, lo
    cdef sum_out s
    cdef sum_out* buf
    cdef sum_out* orow
    cdef const numeric* row
    if n_rows == 0:
        return
    cdef sum_out* scratch = <sum_out*>_scratch(num_threads, W, sizeof(sum_out))
    try:
        with nogil:
            for r in prange(n_rows, schedule='static', num_threads=num_threads):
                p = r // OH
                oh = r - p * OH
                orow = &out[p // B1, p % B1, oh, 0]
                nh = h_n[oh]
                y0 = h_lo[oh]
                buf = scratch + threadid() * W
                # Vertical pass: column sums of the window's rows.
                memset(buf, 0, W * sizeof(sum_out))
                for t in range(nh):
                    row = &x[p // B1, p % B1, y0 + t * dh, 0]
                    for j in range(W):
                        buf[j] += <sum_out>row[j]
                # Horizontal pass, then the divisor (PyTorch divides the sum once per output).
                for ow in range(OW):
                    s = 0
                    lo = w_lo[ow]
                    for u in range(w_n[ow]):
                        s += buf[lo + u * dw]
                    if divide:
                        s = s / <sum_out>(h_div[oh] * w_div[ow])
                    orow[ow] = s
    finally:
        free(scratch)

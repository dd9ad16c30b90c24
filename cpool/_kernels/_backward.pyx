"""Gradient kernels (and max_unpool2d): scatters into zero-filled input-shaped planes; and the
float32 powers LP pooling raises its values to, forward and backward (:func:`lp_powers`).

Design
------
* Arrays arrive C-contiguous and flattened to planes: gradients and indices as ``(P, n)``, the
  input-shaped result as ``(P, H*W)`` (or ``(P, H, W)`` for window sums). The validation layer
  guarantees shapes and dtypes.
* Parallel over planes: every write of a plane comes from that plane's outputs, so no two threads
  ever write one input cell, and each plane's additions run in a fixed order (outputs in
  row-major order): results are bitwise identical for any thread count.
* Indices are checked before each write; an out-of-range index is skipped and counted, and the
  caller raises. Nothing is written out of bounds.
* Window sums (sum and average backward) are the transpose of the forward's row-separable pass:
  each output row's gradients are spread horizontally into a padded row buffer, which is then
  added to the window's input rows.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport pow, powf, sqrt, sqrtf
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcpy, memset

from cpool._kernels._openmp cimport note_work, stream_store_bytes, tracing
from cpool._kernels._powers cimport cpool_powf_run
from cpool._kernels._types cimport NO_CELL
from cpool._kernels._simd cimport (CPOOL_SAME_3X3_BUF, CPOOL_STREAM_ROWS, CPOOL_UNPOOL_TILES,
                                   cpool_lp2_spread_2x2_f32, cpool_lp2_spread_2x2_f64,
                                   cpool_same_3x3_sums_f32, cpool_same_3x3_sums_f64,
                                   cpool_spread_2x2_f32, cpool_spread_2x2_f64,
                                   cpool_spread_run_2x2_f32, cpool_spread_run_2x2_f64,
                                   cpool_stream_fence, cpool_stream_row_f32,
                                   cpool_stream_row_f64,
                                   cpool_tile_rows_2x2_f32, cpool_tile_rows_2x2_f64,
                                   cpool_unpool_lanes_2x2_f32, cpool_unpool_lanes_2x2_f64,
                                   cpool_unpool_run_2x2_f32, cpool_unpool_run_2x2_f64,
                                   cpool_unpool_2x2_f32, cpool_unpool_2x2_f64)
from cpool._kernels._rows cimport (_buffer_stride, _divisor_row, _from_zero, _lane_group,
                                   _lanes_in, _lanes_out, _one_count, _row_tasks, _task_row,
                                   _horizontal, _horizontal_clipped, _padded_width,
                                   _plane_divisors, _powers_of_two, _prefetch_rows, _same_3x3,
                                   _scratch, _thread_slots, _vertical, STREAM_PREFETCH_BYTES,
                                   THREAD_SLOT)


cdef inline bint _row_in_tiles(const int64_t* idx, Py_ssize_t n, Py_ssize_t W,
                               Py_ssize_t slice) noexcept nogil:
    """Whether each of a first output row's n indices lies in its 2x2 stride-2 tile (rows 0
    and 1, columns 2i and 2i + 1 of a plane W wide), or with ``slice`` (the cells a slice
    holds: 2x2x2 windows) in that tile of slice 0 or 1."""
    cdef Py_ssize_t i
    cdef uint64_t local
    for i in range(n):
        local = <uint64_t>idx[i] - <uint64_t>(2 * i)
        if slice and local >= <uint64_t>slice:
            local = local - <uint64_t>slice
        if not (local < 2 or local - <uint64_t>W < 2):
            return False
    return True


cdef inline bint _unpool_run(const floating* vals, const int64_t* idx, floating* planes,
                             Py_ssize_t n_planes, Py_ssize_t OH, Py_ssize_t OW,
                             bint accumulate) noexcept nogil:
    """cpool_unpool_run_2x2 of the planes' dtype: whether it wrote them."""
    if floating is float:
        return cpool_unpool_run_2x2_f32(vals, idx, planes, n_planes, OH, OW, accumulate,
                                        STREAM_PREFETCH_BYTES)
    else:
        return cpool_unpool_run_2x2_f64(vals, idx, planes, n_planes, OH, OW, accumulate,
                                        STREAM_PREFETCH_BYTES)


cdef inline bint _unpool_tiles(const floating* vals, const int64_t* idx, floating* plane,
                               Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t D,
                               Py_ssize_t H, Py_ssize_t W, Py_ssize_t depth,
                               bint accumulate) noexcept nogil:
    """cpool_unpool_2x2 of the plane's dtype (a volume's, ``depth`` 2): whether it wrote it."""
    if floating is float:
        return cpool_unpool_2x2_f32(vals, idx, plane, OD, OH, OW, D, H, W, depth, accumulate,
                                    STREAM_PREFETCH_BYTES)
    else:
        return cpool_unpool_2x2_f64(vals, idx, plane, OD, OH, OW, D, H, W, depth, accumulate,
                                    STREAM_PREFETCH_BYTES)


cdef inline bint _unpool_lane_tiles(const floating* vals, const int64_t* idx, floating* out,
                                    Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t D,
                                    Py_ssize_t H, Py_ssize_t W, Py_ssize_t depth,
                                    Py_ssize_t lanes, Py_ssize_t nb,
                                    bint accumulate) noexcept nogil:
    """cpool_unpool_lanes_2x2 of the image's (volume's, ``depth`` 2) dtype: whether it wrote
    the block of lanes."""
    if floating is float:
        return cpool_unpool_lanes_2x2_f32(vals, idx, out, OD, OH, OW, D, H, W, depth, lanes, nb,
                                          accumulate, STREAM_PREFETCH_BYTES)
    else:
        return cpool_unpool_lanes_2x2_f64(vals, idx, out, OD, OH, OW, D, H, W, depth, lanes, nb,
                                          accumulate, STREAM_PREFETCH_BYTES)


cdef inline Py_ssize_t _scatter_plane(const floating* vals, const int64_t* idx, floating* plane,
                                      Py_ssize_t n, Py_ssize_t HW,
                                      bint accumulate) noexcept nogil:
    """:func:`scatter` of one plane: zero-filled, then each value added (``accumulate``) or
    written at its index, in output order; NO_CELL skipped. Returns the number of bad
    indices."""
    cdef Py_ssize_t i, bad = 0
    cdef uint64_t k
    memset(plane, 0, HW * sizeof(floating))
    # One loop per mode (the branch hoisted); one unsigned compare checks 0 <= k < HW.
    if accumulate:
        for i in range(n):
            k = <uint64_t>idx[i]
            if k < <uint64_t>HW:
                plane[k] = plane[k] + vals[i]
            elif idx[i] != NO_CELL:
                bad += 1
    else:
        for i in range(n):
            k = <uint64_t>idx[i]
            if k < <uint64_t>HW:
                plane[k] = vals[i]
            elif idx[i] != NO_CELL:
                bad += 1
    return bad


cdef inline Py_ssize_t _scatter_lanes(const floating* vals, const int64_t* idx, floating* plane,
                                     Py_ssize_t n, Py_ssize_t HW, Py_ssize_t lanes,
                                     Py_ssize_t nb, bint accumulate) noexcept nogil:
    """:func:`scatter` for ``nb`` lanes of channels-last data (pixels of ``lanes`` values; the
    pointers at the block's first lane): each lane is a plane of its own, written in output
    order; NO_CELL skipped. Returns the number of bad indices."""
    cdef Py_ssize_t i, c, bad = 0
    cdef uint64_t k
    for i in range(HW):
        memset(plane + i * lanes, 0, nb * sizeof(floating))
    for i in range(n):
        for c in range(nb):
            k = <uint64_t>idx[i * lanes + c]
            if k < <uint64_t>HW:
                if accumulate:
                    plane[k * lanes + c] = plane[k * lanes + c] + vals[i * lanes + c]
                else:
                    plane[k * lanes + c] = vals[i * lanes + c]
            elif idx[i * lanes + c] != NO_CELL:
                bad += 1
    return bad


def scatter(const floating[:, ::1] values,   # IN  (P, n * lanes)
            const int64_t[:, ::1] indices,   # IN  (P, n * lanes), flat h*W + w
            floating[:, ::1] out,            # OUT (P, H*W * lanes), zero-filled here
            bint accumulate, Py_ssize_t lanes, Py_ssize_t block, int num_threads,
            Py_ssize_t out_w=0, Py_ssize_t in_w=0, Py_ssize_t out_h=0, Py_ssize_t in_h=0):
    """out[p, indices[p, i]] += values[p, i] (``accumulate``, max/stochastic backward) or
    = values[p, i] (max_unpool2d: the last write wins). Returns the number of bad indices;
    NO_CELL (-1, a max window with no input cell) is skipped, not bad.

    Channels-last data (``lanes`` > 1): ``p`` is an image, each of its pixels holds ``lanes``
    values, and lane c's index addresses pixels (``out[p, k*lanes + c]``). Tasks are (image,
    ``block`` of lanes), each lane written in output order by one thread: bitwise identical
    results for any thread count.

    ``out_w`` and ``in_w``: the widths of the values' and the result's rows (in pixels,
    channels-last), where the planes (images) are 2-D or 1-D signals, a row each (0: not
    known); with ``out_h`` and ``in_h`` too, their heights, where the "planes" are 3-D
    volumes. In AVX2 builds a plane whose every index lies in its output's 2x2 stride-2 tile
    (a volume: 2x2x2; a plane of one row: 1x2), in rows of a vector's outputs or more, is
    written in one pass by cpool_unpool_2x2, the same bits
    (max_pool2d(x, 2)'s gradient in cache: the fill and the scatter's reads of it were most
    of the time; max_pool3d(x, 2)'s on (8, 32, 32, 112, 112) float32 from memory, one
    thread, 0.76 of the fill and scatter's time on the Intel Xeon host, one volume 0.82);
    likewise a 2-D image's (a volume's) block of channels-last lanes by
    cpool_unpool_lanes_2x2 (NHWC max_pool2d(x, 2)'s gradient on (32, 56, 56, 256), one
    thread: 0.59 of the time; NDHWC max_pool3d(x, 2)'s on (8, 16, 56, 56, 32): 0.61, as fast
    as the NCDHW volumes' tiles)."""
    cdef Py_ssize_t P = out.shape[0], HW = out.shape[1] // lanes, n = values.shape[1] // lanes
    cdef Py_ssize_t blocks = (lanes + block - 1) // block
    cdef Py_ssize_t p, task, c0
    cdef Py_ssize_t bad = 0
    cdef floating* plane
    cdef const floating* vals
    cdef const int64_t* idx
    cdef bint trace = tracing()
    if P == 0 or HW == 0 or lanes == 0:
        return 0
    # The planes' (volumes') shapes where their indices may tile 2x2 (2x2x2) at stride 2
    # (cells under 2^30: the float kernel compares the indices' low halves).
    cdef Py_ssize_t depth = 2 if out_h > 0 else 1
    cdef Py_ssize_t OH = out_h if out_h > 0 else (n // out_w if out_w > 0 else 0)
    cdef Py_ssize_t H = in_h if in_h > 0 else (HW // in_w if in_w > 0 else 0)
    cdef Py_ssize_t OD = n // (OH * out_w) if OH * out_w > 0 else 0
    cdef Py_ssize_t D = HW // (H * in_w) if H * in_w > 0 else 0
    # (Some values: with none, the first row's check below would read past the indices.)
    # (Planes of one row, 1-D signals among them, have tiles of one row: 1x2 windows.)
    # (HW > 0 here, so D * H * in_w == HW also says that D and H are at least 1.)
    cdef Py_ssize_t tile_rows = 1 if H == 1 else 2
    cdef bint tile_shape = (CPOOL_UNPOOL_TILES and n > 0 and out_w > 0
                            and OD * OH * out_w == n and in_w >= 2
                            and D * H * in_w == HW and depth * OD <= D and tile_rows * OH <= H
                            and 2 * out_w <= in_w)
    cdef Py_ssize_t vector = 32 // sizeof(floating)  # a vector's outputs
    cdef bint tiles = tile_shape and lanes == 1 and HW < (<Py_ssize_t>1 << 30)
    # Indices of other windows (3x3 stride 2's, say) leave their tiles in the first row, where
    # every plane's attempt would stop: they go straight to the scatter.
    tiles = tiles and _row_in_tiles(&indices[0, 0], out_w, in_w,
                                    H * in_w if depth == 2 else 0)
    # Short planes (rows of half a vector's outputs or more, under a vector), H = 2 OH and
    # W = 2 OW, back to back with their values and indices: a task's planes as one run of
    # rows, a step a row (cpool_unpool_run_2x2), not the fill and the scatter. One thread,
    # float32, pinned: max_pool2d(x, 2)'s gradient on (32, 512, 14, 14) 1.20 -> 0.68 ms,
    # max_unpool2d's 1.08 -> 0.68 ms; on (32, 512, 10, 10) 0.48 -> 0.35 ms.
    cdef bint short_run = (tiles and depth == 1 and out_w < vector and 2 * out_w >= vector
                           and H == 2 * OH and in_w == 2 * out_w
                           and (P == 1 or (values.strides[0] == n * sizeof(floating)
                                           and indices.strides[0] == n * sizeof(int64_t)
                                           and out.strides[0] == HW * sizeof(floating))))
    tiles = tiles and out_w >= vector
    cdef Py_ssize_t n_tasks = _row_tasks(P, num_threads) if short_run else 0
    cdef Py_ssize_t p_lo, p_hi
    # Channels-last images (volumes) likewise, by lane blocks of whole vectors (which
    # cpool_unpool_lanes_2x2 checks).
    cdef bint lane_tiles = tile_shape and lanes > 1
    with nogil:
        if lanes > 1:
            for task in prange(P * blocks, schedule='static', num_threads=num_threads):
                p = task // blocks
                c0 = (task - p * blocks) * block
                if trace:  # values and indices read, the plane written
                    note_work((HW + 2 * n) * min(block, lanes - c0))
                if not (lane_tiles and _unpool_lane_tiles(
                        &values[p, c0], &indices[p, c0], &out[p, c0], OD, OH, out_w, D, H,
                        in_w, depth, lanes, min(block, lanes - c0), accumulate)):
                    bad += _scatter_lanes(&values[p, c0] if n > 0 else NULL,
                                          &indices[p, c0] if n > 0 else NULL, &out[p, c0], n,
                                          HW, lanes, min(block, lanes - c0), accumulate)
        for task in prange(n_tasks, schedule='static', num_threads=num_threads):
            p_lo = _task_row(task, P, n_tasks)
            p_hi = _task_row(task + 1, P, n_tasks)
            if trace:
                note_work((p_hi - p_lo) * (HW + 2 * n))
            if not _unpool_run(&values[p_lo, 0], &indices[p_lo, 0], &out[p_lo, 0], p_hi - p_lo,
                               OH, out_w, accumulate):
                for p in range(p_lo, p_hi):
                    bad += _scatter_plane(&values[p, 0], &indices[p, 0], &out[p, 0], n, HW,
                                          accumulate)
        for p in prange(0 if lanes > 1 or short_run else P, schedule='static',
                        num_threads=num_threads):
            plane = &out[p, 0]
            if trace:
                note_work(HW + 2 * n)
            vals = &values[p, 0] if n > 0 else NULL
            idx = &indices[p, 0] if n > 0 else NULL
            if not (tiles and _unpool_tiles(vals, idx, plane, OD, OH, out_w, D, H, in_w, depth,
                                            accumulate)):
                bad += _scatter_plane(vals, idx, plane, n, HW, accumulate)
    return bad


def fill_planes(const floating[::1] values,  # IN  (P,)
                floating[:, ::1] out,         # OUT (P, H*W), or (P // lanes, H*W * lanes)
                bint mean, int num_threads, Py_ssize_t lanes=1, Py_ssize_t block=1):
    """out[p, :] = values[p], divided by H*W with ``mean``: global sum and average backward.

    The division is in the gradient's dtype by H*W in that dtype, as autograd's ``grad /
    numel`` (multiplying by a rounded 1/(H*W) was 1 ulp off it for some sizes).

    Channels-last images (``lanes`` > 1): row ``i`` of ``out`` is image i, each of its pixels
    ``lanes`` values, and lane c of every pixel gets values[i * lanes + c]. Tasks are (image,
    ``block`` of lanes): the block's values are worked out once into the first pixel, then
    copied to the others, in runs of pixels doubling up to 4 KB where the block is the whole
    pixel. (These gradients went through planes, transposed into place: (32, 56, 56, 64)
    float32, one thread, 9.4-11 ms against the planes' 1.9 ms.)"""
    cdef Py_ssize_t P = out.shape[0], HW = out.shape[1] // lanes
    cdef Py_ssize_t blocks = (lanes + block - 1) // block
    cdef Py_ssize_t p, j, task, c0, nb, done, run
    # (Runs copied up to 4 KB: their source, the image's first pixels, stays in L1.)
    cdef Py_ssize_t run_cap = max(1, 4096 // (lanes * <Py_ssize_t>sizeof(floating)))
    cdef floating v
    cdef floating count = <floating>HW
    cdef floating* row
    cdef bint trace = tracing()
    if P == 0 or HW == 0:
        return
    with nogil:
        for p in prange(P if lanes == 1 else 0, schedule='static', num_threads=num_threads):
            if trace:  # the plane written
                note_work(HW)
            v = values[p] / count if mean else values[p]
            for j in range(HW):
                out[p, j] = v
        for task in prange(0 if lanes == 1 else P * blocks, schedule='static',
                           num_threads=num_threads):
            p = task // blocks
            c0 = (task - p * blocks) * block
            nb = min(block, lanes - c0)
            if trace:  # the block's lanes of the image written
                note_work(HW * nb)
            row = &out[p, c0]
            for j in range(nb):
                row[j] = (values[p * lanes + c0 + j] / count if mean
                          else values[p * lanes + c0 + j])
            if nb == lanes:  # the image is one run: copies of its first pixels, doubling
                done = 1
                while done < HW:
                    run = min(done, HW - done, run_cap)
                    memcpy(row + done * lanes, row, run * lanes * sizeof(floating))
                    done = done + run
            else:
                for j in range(1, HW):
                    memcpy(row + j * lanes, row, nb * sizeof(floating))


cdef inline void _spread_2x2_squared(const floating* src, const floating* div, floating* r0,
                                     floating* r1, Py_ssize_t OW, const floating* x0,
                                     const floating* x1, bint divide,
                                     bint reciprocal) noexcept nogil:
    """:func:`_spread_2x2`'s covered cells for LP (times ``x * 2``), with the divisor flags as
    literals (each call its own vectorised loop: tested inside the loop, they left it
    scalar)."""
    cdef Py_ssize_t ow
    cdef floating v
    for ow in range(OW):
        v = _from_zero(src[ow] * div[ow] if divide and reciprocal
                       else src[ow] / div[ow] if divide else src[ow])
        r0[2 * ow] = v * (x0[2 * ow] * <floating>2)
        r0[2 * ow + 1] = v * (x0[2 * ow + 1] * <floating>2)
        r1[2 * ow] = v * (x1[2 * ow] * <floating>2)
        r1[2 * ow + 1] = v * (x1[2 * ow + 1] * <floating>2)


cdef inline void _spread_2x2(const floating* src, const floating* div, bint divide,
                             bint reciprocal, floating* r0, floating* r1, Py_ssize_t OW,
                             Py_ssize_t W, const floating* x0, const floating* x1) noexcept nogil:
    """Rows r0 and r1 of a 2x2 stride-2 tiling: each gradient (over its divisor; times it where
    ``div`` holds the exact reciprocals, the same bits) on its four cells, columns no window
    covers zeroed. One pass, every cell written once: pairs of the gradients unpacked in
    vectors (cpool_spread_2x2). Rows ``x0`` and ``x1`` of the input (LP's p = 2; NULL
    otherwise): each cell times its input's ``x * 2`` as it is written, as
    :func:`_times_square_derivative` would after (uncovered cells too: 0 * inf is NaN)."""
    cdef Py_ssize_t j
    if x0 == NULL:
        if floating is float:
            cpool_spread_2x2_f32(src, div, (1 if reciprocal else 2) if divide else 0, r0, r1, OW,
                                 STREAM_PREFETCH_BYTES)
        else:
            cpool_spread_2x2_f64(src, div, (1 if reciprocal else 2) if divide else 0, r0, r1, OW,
                                 STREAM_PREFETCH_BYTES)
    elif divide and reciprocal:
        _spread_2x2_squared(src, div, r0, r1, OW, x0, x1, True, True)
    elif divide:
        _spread_2x2_squared(src, div, r0, r1, OW, x0, x1, True, False)
    else:
        _spread_2x2_squared(src, div, r0, r1, OW, x0, x1, False, False)
    for j in range(2 * OW, W):  # at most one column (an odd W)
        r0[j] = 0 if x0 == NULL else <floating>0 * (x0[j] * <floating>2)
        r1[j] = 0 if x0 == NULL else <floating>0 * (x1[j] * <floating>2)


cdef inline void _divided_row(const floating* src, const floating* div, bint divide,
                              floating* dst, Py_ssize_t n) noexcept nogil:
    """dst = src / div (``divide``, average pooling) or a copy of src (sum pooling): a row of
    gradients over their divisors, one vectorisable pass rather than a divide in the scatter.
    Each plus +0 (_from_zero), as PyTorch adds it to a zeroed gradient: a -0 lands as +0, and
    so do the sums of these values the scatter makes (only -0s sum to -0)."""
    cdef Py_ssize_t i
    if divide:
        for i in range(n):
            dst[i] = _from_zero(src[i] / div[i])
    else:
        for i in range(n):
            dst[i] = _from_zero(src[i])


cdef inline void _times_square_derivative(floating* grad, const floating* x,
                                          Py_ssize_t n) noexcept nogil:
    """grad[i] *= x[i] * 2: a plane of gradients with respect to x ** 2, times the square's
    derivative (LP pooling, p = 2), as autograd's ``grad * (x * 2)``, while the plane is in
    cache."""
    cdef Py_ssize_t i
    for i in range(n):
        # A typed 2: Cython writes a bare 2 as 2.0, a double, and the float32 loop then ran
        # through double conversions at half the speed (the same bits, products of two floats
        # being exact in double).
        grad[i] = grad[i] * (x[i] * <floating>2)


cdef inline floating _sign(floating a) noexcept nogil:
    """NumPy's sign: 1, -1, 0 for either zero, NaN itself."""
    return 1 if a > 0 else -1 if a < 0 else 0 if a == 0 else a


cdef inline floating _lp_mean_grad_one(floating g, floating a, floating size, floating inv_p,
                                       floating exponent, bint root) noexcept nogil:
    """:func:`lp_mean_grad` for one mean ``a`` and its output's gradient ``g`` (``root``:
    p = 2, whose power PyTorch takes as ``1 / sqrt``)."""
    cdef floating r
    if root:
        r = <floating>1 / (sqrtf(a * size) if floating is float else sqrt(a * size))
    elif floating is float:
        r = powf(a * size, exponent)
    else:
        r = pow(a * size, exponent)
    return _lp_mean_grad_of_power(g, a, r, size, inv_p)


cdef inline floating _lp_mean_grad_of_power(floating g, floating a, floating r, floating size,
                                            floating inv_p) noexcept nogil:
    """:func:`_lp_mean_grad_one` given the power ``r = (a * size) ** (1/p - 1)``."""
    cdef floating sa
    r = g * (r * inv_p)
    r = r * size
    sa = _sign(a)
    r = r * sa
    if a == 0:
        r = 0
    return r * sa


cdef inline const floating* _lp_plane_mean_grads(
        const floating* x, Py_ssize_t W, const floating* grad, floating* result,
        Py_ssize_t OH, Py_ssize_t OW, const Py_ssize_t* h_lo, const Py_ssize_t* h_n,
        Py_ssize_t sh, Py_ssize_t kw, Py_ssize_t sw, const Py_ssize_t* w_lo, const Py_ssize_t* w_n,
        bint clipped, Py_ssize_t width, const int64_t* count_h, const int64_t* count_w,
        floating size, floating* buf, floating* drow, int64_t* drow_h,
        bint reciprocal, bint tiles=False) noexcept nogil:
    """One plane of LP pooling's (p = 2) window means of squares, recomputed from the plane
    ``x`` (W wide) as the forward makes them (each window's rows squared and summed in row
    order, then its columns in order, over its divisor: the same bits), and turned into their
    gradients from the outputs' gradients ``grad`` (:func:`_lp_mean_grad_one`), into
    ``result`` (OH * OW); returns it. No padding and no dilation (LP's windows); ``buf`` holds
    ``width`` values (the padded row; zeros past the row, which add nothing to squares).
    ``reciprocal``: every count is a power of two, and ``drow`` holds (:func:`_divisor_row`)
    and the means take their exact reciprocals (the division's bits, one slow op fewer).
    The rows are hinted ahead as the forward's are (:func:`_prefetch_rows`): without the
    hints the squares' loads waited on memory for 40% of the kernel.

    ``tiles``: 2x2 windows at stride 2 that tile the plane (with ``reciprocal``: one count, a
    power of two): the means as the forward's 2x2 tiles make them (cpool_tile_rows_2x2's
    squares, columns first, times the count's exact reciprocal: the same bits), then every
    gradient in one sweep over the plane, which vectorises (lp 2x2 backward on
    (32, 256, 56, 56) with ``out=``, one thread: 10.3 -> 9.3-9.5 ms)."""
    cdef Py_ssize_t oh, i, j
    cdef floating* mrow
    cdef floating* divs
    cdef floating half = <floating>0.5, minus_half = <floating>-0.5
    cdef floating scale = <floating>1 / <floating>(count_h[0] * count_w[0])
    if tiles:
        for oh in range(OH):
            _prefetch_rows(x + (2 * oh + 1) * W, W, 2, 2, W)
            if floating is float:
                cpool_tile_rows_2x2_f32(x + 2 * oh * W, W, 2 * W, 1, result + oh * OW, OW, 1,
                                        scale, 0)
            else:
                cpool_tile_rows_2x2_f64(x + 2 * oh * W, W, 2 * W, 1, result + oh * OW, OW, 1,
                                        scale, 0)
        for i in range(OH * OW):
            result[i] = _lp_mean_grad_one(grad[i], result[i], size, half, minus_half, True)
        return result
    for j in range(W, width):
        buf[j] = 0
    for oh in range(OH):
        mrow = result + oh * OW
        _prefetch_rows(x + (h_lo[oh] + h_n[oh] - 1) * W, W, h_n[oh], sh, W)
        _vertical(x + h_lo[oh] * W, W, h_n[oh], W, buf, 0, False, True)
        if clipped:
            _horizontal_clipped(buf, mrow, OW, w_lo, w_n, 1, 0, False, 1)
        else:
            _horizontal(buf, mrow, OW, kw, sw, 1, False)
        divs = _divisor_row(drow, drow_h, count_h[oh], count_w, OW, reciprocal)
        if reciprocal:
            for i in range(OW):
                mrow[i] = _lp_mean_grad_one(grad[oh * OW + i], mrow[i] * divs[i], size, half,
                                            minus_half, True)
        else:
            for i in range(OW):
                mrow[i] = _lp_mean_grad_one(grad[oh * OW + i], mrow[i] / divs[i], size, half,
                                            minus_half, True)
    return result


cdef inline bint _lp_tiles_2x2(const floating* x, Py_ssize_t W, const floating* grad,
                               floating* out, Py_ssize_t OH, Py_ssize_t OW, floating size,
                               int64_t count) noexcept nogil:
    """One plane of LP's (p = 2) gradient over 2x2 tiles at stride 2 (every window's count
    ``count``, a power of two) in one pass (cpool_lp2_spread_2x2): the means of
    :func:`_lp_plane_mean_grads`' tiles, their gradients and :func:`_spread_2x2`'s cells times
    ``x * 2``, the same bits, into the 2 * OH rows the windows cover. False where the build
    has no such kernel or the rows are too short for it (the caller's passes then). LP 2x2
    backward of (32, 256, 56, 56) at one thread: 14.6 -> 9.7 ms (the forward: 5.9 ms; in cache,
    (1, 128, 56, 56): 206 -> 167 us, the square roots and divisions left)."""
    cdef floating reciprocal = <floating>1 / <floating>count  # the means' scale and divisors'
    if floating is float:
        return cpool_lp2_spread_2x2_f32(x, W, grad, out, OH, OW, reciprocal, size,
                                        STREAM_PREFETCH_BYTES)
    else:
        return cpool_lp2_spread_2x2_f64(x, W, grad, out, OH, OW, reciprocal, size,
                                        STREAM_PREFETCH_BYTES)


# Values per task of lp_powers and lp_mean_grad's powers: 16 KB, a few microseconds of work each.
cdef enum:
    POWER_TASK = 4096


def lp_mean_grad(const floating[::1] grad,   # IN  gradient of the LP outputs
                 const floating[::1] means,  # IN  the forward's window means of x ** p
                 floating size, double p,
                 floating[::1] out,          # OUT gradient of the means
                 int num_threads):
    """LP pooling's chain from its outputs back to its window means ``a``: autograd's through
    PyTorch's ``(sign(a) * relu(|a|) * size) ** (1/p)``, step by step in its order and dtype,
    one pass (NumPy's ufuncs took ten over the outputs).

    pow(t, 1/p)' with t = a * size (sign * relu changes only -0, whose gradient is zeroed) is
    ``(1/p) * t ** (1/p - 1)`` (for p = 2 as PyTorch's pow takes it: ``1 / sqrt(t)``), times
    the incoming gradient, times mul's ``size``; then sign * relu(abs): times sign(a), zero
    where |a| <= 0, times sign(a) again.

    float32 (p other than 2): the powers by the vectorised pow of :func:`lp_powers`, a task of
    POWER_TASK means at a time, raised in ``out`` before the chain finishes them there (the
    C powf, per value, had taken most of the pass)."""
    cdef Py_ssize_t n = out.shape[0], i, task, start, stop
    cdef floating inv_p = <floating>(1 / p), exponent = <floating>(1 / p - 1)
    cdef bint root = p == 2
    if floating is float:
        if not root and n:
            with nogil:
                for task in prange((n + POWER_TASK - 1) // POWER_TASK, schedule='static',
                                   num_threads=num_threads):
                    start = task * POWER_TASK
                    stop = min(start + POWER_TASK, n)
                    for i in range(start, stop):
                        out[i] = means[i] * size
                    cpool_powf_run(&out[start], &out[start], stop - start, exponent)
                    for i in range(start, stop):
                        out[i] = _lp_mean_grad_of_power(grad[i], means[i], out[i], size, inv_p)
            return
    with nogil:
        for i in prange(n, schedule='static', num_threads=num_threads):
            out[i] = _lp_mean_grad_one(grad[i], means[i], size, inv_p, exponent, root)


def lp_powers(const float[::1] x,   # IN
              float[::1] out,       # OUT, the size of x; may be x itself
              float p, int num_threads):
    """``out = x ** p`` in float32 with pow's rules (see _powers.pxd): LP pooling's powers of
    its input (p), of its means (1 / p) and its gradient's (p - 1). Elementwise, so the bits
    do not depend on ``num_threads``."""
    cdef Py_ssize_t n = x.shape[0], tasks = (n + POWER_TASK - 1) // POWER_TASK, task, start
    if n == 0:
        return
    with nogil:
        for task in prange(tasks, schedule='static', num_threads=num_threads):
            start = task * POWER_TASK
            cpool_powf_run(&x[start], &out[start], min(POWER_TASK, n - start), p)


def window_sum_backward(const floating[:, :, ::1] grad,   # IN  (P, OH, OW)
                        floating[:, :, ::1] out,          # OUT (P, H, W), every cell written
                        const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t kh,
                        Py_ssize_t sh, Py_ssize_t dh,
                        Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
                        const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, bint clipped,
                        const int64_t[::1] count_h, const int64_t[::1] count_w, bint divide,
                        int num_threads,
                        const floating[:, :, ::1] squared_input=None,  # IN (P, H, W) or None
                        bint lp_means=False):
    """Gradient of :func:`cpool.sum_pool2d` (and, with ``divide``, :func:`cpool.avg_pool2d`).

    Per output row: its gradients (over their divisors) are spread horizontally into a padded
    row buffer, then added to each input row of the window. Without dilation, windows move down
    monotonically, so an input row is assigned on its first touch and added to afterwards, and
    only rows no window covers are zeroed: no memset-then-add pass over the whole plane.

    Two layouts take their own path: 2x2 stride-2 tilings (each cell written once from one
    gradient), and stride-1 windows, gathered rather than scattered (below). With ``divide``,
    gradients are divided by ``count_h[oh] * count_w[ow]`` (each thread builds a row of them).
    ``clipped`` (kernels or padding much wider than the row): the row buffer holds the row alone
    and each gradient is spread over its window's in-bounds columns (``w_lo``, ``w_n``).

    ``squared_input`` (LP pooling, p = 2: the sums were of its squares): each finished plane
    is multiplied by the square's derivative, ``x * 2``, while it is in cache.

    ``lp_means`` (with ``squared_input`` and ``divide``; no padding, no dilation): ``grad`` is
    LP pooling's (p = 2) output gradient, not its means'. Each plane's means are recomputed
    from ``squared_input`` and made the means' gradients in a thread buffer
    (:func:`_lp_plane_mean_grads`), then spread as above: the input is read from memory once,
    the means never are (against a forward pass, a pass over the means and this one:
    lp 2x2 backward on (32, 256, 56, 56) 20.7 -> 10 ms).
    """
    cdef Py_ssize_t P = out.shape[0], H = out.shape[1], W = out.shape[2]
    cdef bint squared = squared_input is not None
    if squared and (squared_input.shape[0] != P or squared_input.shape[1] != H
                    or squared_input.shape[2] != W):
        raise ValueError("cpool: squared_input must have the gradient's shape")
    if lp_means and not (squared and divide and pad_w == 0 and dh == 1 and dw == 1):
        raise ValueError("cpool: lp_means needs squared_input, divide and LP's windows")
    cdef Py_ssize_t OH = grad.shape[1], OW = grad.shape[2]
    cdef Py_ssize_t width = W if clipped else _padded_width(W, OW, kw, sw, dw, pad_w)
    cdef Py_ssize_t row0 = 0 if clipped else pad_w  # where the row's cells start in the buffer
    cdef Py_ssize_t stride = _buffer_stride(width, sizeof(floating))
    cdef Py_ssize_t row_grads_stride = _buffer_stride(OW, sizeof(floating))
    # Per thread: the row buffer, a row of gradients, a row of divisors, (lp_means) a plane of
    # the means' gradients.
    cdef Py_ssize_t per_thread = (stride + 2 * row_grads_stride
                                  + (_buffer_stride(OH * OW, sizeof(floating)) if lp_means else 0))
    cdef floating size = <floating>(kh * kw)  # LP's kernel cells (its formula's kw * kh)
    cdef Py_ssize_t p, oh
    cdef const floating* gp  # the plane's gradients (lp_means: its means')
    cdef floating* buf
    cdef floating* g
    cdef floating* drow  # the divisors of the current output row
    cdef int64_t* drow_h = NULL  # per thread: the row count drow was built for
    if P == 0:
        return
    # 2x2 stride-2 windows that tile the plane (no padding, dilation or partial windows), the
    # common case: one pass writes each input cell once, with no row buffer.
    cdef bint tile_2x2 = (kw == 2 and sw == 2 and dw == 1 and pad_w == 0 and dh == 1
                          and 2 * OW <= W)
    # Tilings whose counts are all powers of two (every average 2x2) multiply by the exact
    # reciprocals: the division's bits without its latency.
    cdef bint reciprocal = divide and _powers_of_two(count_h) and _powers_of_two(count_w)
    for oh in range(OH):
        tile_2x2 = tile_2x2 and h_lo[oh] == 2 * oh and h_n[oh] == 2
    cdef bint gathered = sh == 1 and dh == 1 and sw == 1 and dw == 1 and not clipped
    # Small planes side by side (_lane_planes_backward), where the planes' path would spread
    # a short row at a time: uneven windows (adaptive), and rows of 32 values or fewer but the
    # 2x2 tiles' and the gathered stride-1 windows'.
    cdef Py_ssize_t lane_group
    if (not squared and OH > 0 and OW > 0 and H > 0 and W > 0 and not tile_2x2
            and not gathered and (clipped or W <= 32)):
        lane_group = _lane_group(P, H, W, sizeof(floating), num_threads)
        if lane_group:
            _lane_planes_backward(grad, out, h_lo, h_n, dh, kw, sw, dw, pad_w, w_lo, w_n,
                                  clipped, count_h, count_w, divide, lane_group, num_threads)
            return
    if gathered:
        _gather_stride1(grad, out, h_lo, h_n, kh, kw, pad_w, w_lo, w_n, count_h, count_w,
                        divide, num_threads, squared_input, squared, lp_means)
        return
    cdef bint trace = tracing()
    # 2x2 tilings of short planes laid back to back (the gradients' rows and the planes' rows
    # one run each), every divisor the same: a task's rows in one call of
    # cpool_spread_run_2x2 (rows but the task's last in whole vectors), not a call per row of
    # a plane a task. Adaptive avg 14 -> 7's gradient on (32, 512, 14, 14), one thread: see
    # docs/performance.md.
    cdef int64_t cells = _one_count(count_h) * _one_count(count_w) if divide else 1
    cdef int mode = (1 if reciprocal else 2) if divide else 0
    cdef floating d = <floating>cells  # (the divisor, or its exact reciprocal)
    cdef Py_ssize_t n_rows, n_tasks, task, r_lo, r_hi
    if (tile_2x2 and not squared and cells > 0 and OH > 0 and H == 2 * OH and W == 2 * OW
            and OW <= 16 and (P == 1 or (grad.strides[0] == OH * OW * sizeof(floating)
                                         and out.strides[0] == H * W * sizeof(floating)))
            and grad.strides[1] == OW * sizeof(floating)
            and out.strides[1] == W * sizeof(floating)):
        if reciprocal:
            d = <floating>1 / d
        n_rows = P * OH
        n_tasks = _row_tasks(n_rows, num_threads)
        with nogil:
            for task in prange(n_tasks, schedule='static', num_threads=num_threads):
                r_lo = _task_row(task, n_rows, n_tasks)
                r_hi = _task_row(task + 1, n_rows, n_tasks)
                if trace:
                    note_work((r_hi - r_lo) * (OW + 2 * W))
                if floating is float:
                    cpool_spread_run_2x2_f32(&grad[0, 0, 0] + r_lo * OW, d, mode,
                                             &out[0, 0, 0] + r_lo * 2 * W, r_hi - r_lo, OW,
                                             STREAM_PREFETCH_BYTES)
                else:
                    cpool_spread_run_2x2_f64(&grad[0, 0, 0] + r_lo * OW, d, mode,
                                             &out[0, 0, 0] + r_lo * 2 * W, r_hi - r_lo, OW,
                                             STREAM_PREFETCH_BYTES)
        return
    cdef floating* scratch = <floating*>_scratch(num_threads, per_thread, sizeof(floating))
    try:
        drow_h = _thread_slots(num_threads)  # -1: nothing built
        with nogil:
            for p in prange(P, schedule='static', num_threads=num_threads):
                if trace:  # gradients read, the plane written (lp_means: the input read)
                    note_work(OH * OW + H * W * (2 if lp_means else 1))
                buf = scratch + threadid() * per_thread
                g = buf + stride
                drow = g + row_grads_stride
                gp = &grad[p, 0, 0]
                if (tile_2x2 and lp_means and reciprocal and _lp_tiles_2x2(
                        &squared_input[p, 0, 0], W, gp, &out[p, 0, 0], OH, OW, size,
                        count_h[0] * count_w[0])):
                    _rows_past_tiles(&out[p, 0, 0], &squared_input[p, 0, 0], OH, H, W)
                    continue
                if lp_means:
                    gp = _lp_plane_mean_grads(
                        &squared_input[p, 0, 0], W, gp, drow + row_grads_stride, OH, OW,
                        &h_lo[0], &h_n[0], sh, kw, sw, &w_lo[0], &w_n[0], clipped, width,
                        &count_h[0], &count_w[0], size, buf, drow,
                        &drow_h[threadid() * THREAD_SLOT], tile_2x2 and reciprocal,
                        tile_2x2 and reciprocal)
                _spread_plane(gp, &out[p, 0, 0], &squared_input[p, 0, 0] if squared else NULL,
                              H, W, OH, OW, &h_lo[0], &h_n[0], dh, kw, sw, dw, &w_lo[0], &w_n[0],
                              clipped, width, row0, tile_2x2, 1, &count_h[0], &count_w[0],
                              divide, reciprocal, buf, g, drow, &drow_h[threadid() * THREAD_SLOT])
    finally:
        free(scratch)
        free(drow_h)


cdef inline void _rows_past_tiles(floating* plane, const floating* sq, Py_ssize_t OH,
                                  Py_ssize_t H, Py_ssize_t W) noexcept nogil:
    """The rows of an (H, W) gradient plane past its OH rows of 2x2 tiles: zeros (LP's, times
    the square's derivative of ``sq``'s cells where ``sq`` is not NULL, as the tiles are)."""
    if 2 * OH < H:
        memset(plane + 2 * OH * W, 0, (H - 2 * OH) * W * sizeof(floating))
        if sq != NULL:
            _times_square_derivative(plane + 2 * OH * W, sq + 2 * OH * W, (H - 2 * OH) * W)


cdef inline void _spread_plane(const floating* gp, floating* plane, const floating* sq,
                               Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                               const Py_ssize_t* h_lo, const Py_ssize_t* h_n, Py_ssize_t dh,
                               Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
                               const Py_ssize_t* w_lo, const Py_ssize_t* w_n, bint clipped,
                               Py_ssize_t width, Py_ssize_t row0, bint tile_2x2,
                               int64_t count_d, const int64_t* count_h, const int64_t* count_w,
                               bint divide, bint reciprocal, floating* buf, floating* g,
                               floating* drow, int64_t* drow_h) noexcept nogil:
    """One plane of :func:`window_sum_backward`: the (OH, OW) gradients ``gp`` (over their
    divisors ``count_d * count_h[oh] * count_w[ow]`` with ``divide``) spread into the (H, W)
    ``plane``, every cell written; times the square's derivative of ``sq``'s cells (LP, p = 2)
    where ``sq`` is not NULL. ``tile_2x2``: the 2x2 stride-2 tiling's one pass (``reciprocal``:
    its divisors are exact reciprocals); else each output row spread into the padded row
    ``buf`` (``width`` values, the row's cells from ``row0``), then onto the window's rows.
    ``g`` and ``drow``: a row of divided gradients and of divisors (built for the count in
    ``drow_h[0]``), per thread. A 3-D window's slices pass their depth count as ``count_d``."""
    cdef Py_ssize_t oh, ow, u, t, j, y, y0
    cdef Py_ssize_t written = 0  # input rows [0, written) hold values (dh == 1 path)
    cdef floating* divs
    cdef floating* row
    if tile_2x2:
        for oh in range(OH):
            divs = (_divisor_row(drow, drow_h, count_d * count_h[oh], count_w, OW, reciprocal)
                    if divide else NULL)
            _spread_2x2(gp + oh * OW, divs, divide, reciprocal, plane + 2 * oh * W,
                        plane + (2 * oh + 1) * W, OW, W, sq + 2 * oh * W if sq != NULL else NULL,
                        sq + (2 * oh + 1) * W if sq != NULL else NULL)
        _rows_past_tiles(plane, sq, OH, H, W)
        return
    if dh != 1:
        memset(plane, 0, H * W * sizeof(floating))
    for oh in range(OH):
        divs = (_divisor_row(drow, drow_h, count_d * count_h[oh], count_w, OW) if divide
                else NULL)
        _divided_row(gp + oh * OW, divs, divide, g, OW)
        # Horizontal scatter into the padded row (padding cells are dropped).
        if clipped:  # each gradient over its window's in-bounds columns
            for j in range(W):
                buf[j] = 0
            for ow in range(OW):
                for t in range(w_n[ow]):
                    buf[w_lo[ow] + t * dw] = buf[w_lo[ow] + t * dw] + g[ow]
        elif dw == 1 and sw == kw:  # non-overlapping windows tile the row: assign
            for j in range(OW * kw, width):
                buf[j] = 0
            if kw == 2:
                for ow in range(OW):
                    buf[2 * ow] = g[ow]
                    buf[2 * ow + 1] = g[ow]
            else:  # a tap a sweep: an inner loop of kw per gradient cost 40% of 3x3 s3's time
                for u in range(kw):
                    for ow in range(OW):
                        buf[ow * kw + u] = g[ow]
        elif kw == 3 and sw == 2 and dw == 1 and OW > 0:
            # 3 taps at stride 2 (avg 3x3 s2 p1's): cell 2q holds (+0 + g[q]) + g[q - 1],
            # cell 2q + 1 +0 + g[q], the general loop's sums in its order (tap 0 first), in
            # one pass of two stores a gradient where that loop made three scalar adds.
            buf[0] = 0 + g[0]
            buf[1] = 0 + g[0]
            for ow in range(1, OW):
                buf[2 * ow] = (0 + g[ow]) + g[ow - 1]
                buf[2 * ow + 1] = 0 + g[ow]
            buf[2 * OW] = 0 + g[OW - 1]
            for j in range(2 * OW + 1, width):
                buf[j] = 0
        else:
            for j in range(width):
                buf[j] = 0
            for u in range(kw):
                for ow in range(OW):
                    buf[ow * sw + u * dw] = buf[ow * sw + u * dw] + g[ow]
        # Vertical scatter into the window's input rows.
        y0 = h_lo[oh]
        if dh == 1:
            for y in range(written, y0):  # rows no window covers
                memset(plane + y * W, 0, W * sizeof(floating))
            for t in range(h_n[oh]):
                y = y0 + t
                row = plane + y * W
                if y < written:
                    for j in range(W):
                        row[j] = row[j] + buf[row0 + j]
                else:
                    for j in range(W):
                        row[j] = buf[row0 + j]
            if h_n[oh] > 0:
                written = max(written, y0 + h_n[oh])
        else:
            for t in range(h_n[oh]):
                row = plane + (y0 + t * dh) * W
                for j in range(W):
                    row[j] = row[j] + buf[row0 + j]
    if dh == 1:
        for y in range(written, H):
            memset(plane + y * W, 0, W * sizeof(floating))
    if sq != NULL:
        _times_square_derivative(plane, sq, H * W)


def window_sum_backward_3d(const floating[:, ::1] grad,  # IN  (N, OD*OH*OW*lanes)
                           floating[:, ::1] out,         # OUT (N, D*H*W*lanes), every cell
                           Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t D,
                           Py_ssize_t H, Py_ssize_t W,
                           const Py_ssize_t[::1] d_lo, const Py_ssize_t[::1] d_n, Py_ssize_t dd,
                           const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t dh,
                           Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pad_w,
                           const Py_ssize_t[::1] w_lo, const Py_ssize_t[::1] w_n, bint clipped,
                           const int64_t[::1] count_d, const int64_t[::1] count_h,
                           const int64_t[::1] count_w, bint divide, int num_threads,
                           Py_ssize_t lanes=1, Py_ssize_t block=1):
    """Gradient of :func:`cpool.sum_pool3d` (and, with ``divide``, :func:`cpool.avg_pool3d`),
    each volume's slices in one pass: every output slice's gradients spread over (H, W) (over
    their divisors ``count_d[od] * count_h[oh] * count_w[ow]``), then assigned to or added into
    the input slices of its depth window. Volumes of planes (``lanes`` 1) or of channels-last
    pixels of ``lanes`` values (NDHWC), whose tasks take ``block`` lanes each, as
    :func:`window_sum_backward_lanes`'s.

    A plane's slice is spread by :func:`_spread_plane`, straight into the window's first input
    slice that nothing has written yet, or into a thread's slice buffer; a block of pixels'
    lanes by :func:`_spread_image` into the buffer (its pixels ``block`` values apart), from
    which each slice of the window takes them. The additions are those of the two 2-D passes
    this replaced (the slices spread, then those spread over the depth windows: each input
    slice the sum of its windows' spread slices in window order, the first assigned), so the
    bits are theirs, but where the slices' windows have stride 1 (which the 2-D pass gathers:
    another order); the lanes' bits are the planes'. It writes each input slice once where the
    depth windows tile (2x2x2), the spread slice still in cache, where the two passes wrote and
    read back an intermediate half the result's size (avg_pool3d 2x2x2's gradient on
    (8, 32, 16, 56, 56), one thread: 0.25 of the time), and channels-last volumes no longer go
    through planes and back.

    Tasks are (volume, block of lanes, run of input slices), so that a few volumes still give
    every thread work: a task spreads each output slice whose depth window reaches its run
    (windows that straddle two runs are spread by both), then adds it into the run's slices
    only, so each slice's additions are the same whatever the split."""
    cdef Py_ssize_t N = out.shape[0]
    cdef Py_ssize_t HW = H * W
    if N == 0 or D == 0 or HW == 0 or lanes == 0:
        return
    cdef Py_ssize_t blocks = (lanes + block - 1) // block
    cdef Py_ssize_t width = W if clipped else _padded_width(W, OW, kw, sw, dw, pad_w)
    cdef Py_ssize_t row0 = 0 if clipped else pad_w
    cdef Py_ssize_t stride = _buffer_stride(width * block, sizeof(floating))
    cdef Py_ssize_t row_grads_stride = _buffer_stride(OW * block, sizeof(floating))
    cdef Py_ssize_t slice_stride = _buffer_stride(HW * block, sizeof(floating))
    # Per thread: the row buffer, a row of gradients, a row of divisors, a spread slice.
    cdef Py_ssize_t per_thread = (stride + row_grads_stride + _buffer_stride(OW, sizeof(floating))
                                  + slice_stride)
    cdef bint tile_2x2 = (lanes == 1 and kw == 2 and sw == 2 and dw == 1 and pad_w == 0
                          and dh == 1 and 2 * OW <= W)
    cdef Py_ssize_t oh
    for oh in range(OH):
        tile_2x2 = tile_2x2 and h_lo[oh] == 2 * oh and h_n[oh] == 2
    # Exact reciprocals where every count is a power of two (the division's bits): the
    # planes' 2x2 tiles and every channels-last spread, as in 2-D.
    cdef bint reciprocal = (divide and (tile_2x2 or lanes > 1) and _powers_of_two(count_d)
                            and _powers_of_two(count_h) and _powers_of_two(count_w))
    # Runs of input slices: one a volume where the tasks alone keep every thread busy.
    cdef Py_ssize_t tasks = N * blocks
    cdef Py_ssize_t runs = (1 if tasks >= 4 * num_threads
                            else min(D, -(-4 * num_threads // tasks)))
    cdef Py_ssize_t task, p, c0, nb, r, a, b, od, t, d, first, j, written, in_grad, in_out
    cdef floating* buf
    cdef floating* g
    cdef floating* drow
    cdef floating* spread
    cdef floating* src
    cdef floating* dst
    cdef const floating* gp
    cdef int64_t* drow_h = NULL
    cdef floating* scratch = <floating*>_scratch(num_threads, per_thread, sizeof(floating))
    cdef bint trace = tracing()
    try:
        drow_h = _thread_slots(num_threads)
        with nogil:
            for task in prange(tasks * runs, schedule='static', num_threads=num_threads):
                p = task // (blocks * runs)
                c0 = (task // runs - p * blocks) * block
                nb = min(block, lanes - c0)
                r = task % runs
                a = r * D // runs  # the run's input slices [a, b)
                b = (r + 1) * D // runs
                in_grad = OH * OW * lanes  # a slice's values
                in_out = HW * lanes
                buf = scratch + threadid() * per_thread
                g = buf + stride
                drow = g + row_grads_stride
                spread = drow + _buffer_stride(OW, sizeof(floating))
                written = a  # slices [a, written) hold values (dd == 1)
                if dd != 1:
                    for d in range(a, b):
                        _zero_lanes(&out[p, d * in_out + c0], HW, lanes, nb)
                for od in range(OD):
                    if d_n[od] == 0 or d_lo[od] >= b or d_lo[od] + (d_n[od] - 1) * dd < a:
                        continue
                    if trace:  # a slice's gradients read, its spread written
                        note_work((OH * OW + HW) * nb)
                    gp = &grad[p, od * in_grad + c0]
                    src = spread
                    if lanes > 1:
                        _spread_image(gp, spread, OH, OW, H, W, lanes, nb, &h_lo[0], &h_n[0],
                                      dh, kw, sw, dw, pad_w, width, &w_lo[0], &w_n[0], clipped,
                                      &count_h[0] if divide else NULL,
                                      &count_w[0] if divide else NULL, divide, reciprocal, buf,
                                      g, drow, &drow_h[threadid() * THREAD_SLOT],
                                      count_d[od] if divide else 1, nb)
                    else:
                        # Straight into the window's first slice in the run where that slice
                        # is written fresh (dd == 1, past what is written), else the buffer.
                        if dd == 1:
                            first = max(a, d_lo[od])
                            if first >= written and first < min(b, d_lo[od] + d_n[od]):
                                for d in range(written, first):  # slices no window covers
                                    memset(&out[p, d * HW], 0, HW * sizeof(floating))
                                src = &out[p, first * HW]
                                written = first + 1
                        _spread_plane(gp, src, NULL, H, W, OH, OW, &h_lo[0], &h_n[0], dh, kw,
                                      sw, dw, &w_lo[0], &w_n[0], clipped, width, row0, tile_2x2,
                                      count_d[od] if divide else 1, &count_h[0], &count_w[0],
                                      divide, reciprocal, buf, g, drow,
                                      &drow_h[threadid() * THREAD_SLOT])
                    for t in range(d_n[od]):
                        d = d_lo[od] + t * dd
                        dst = &out[p, d * in_out + c0]
                        if d < a or d >= b or dst == src:
                            continue
                        if trace:
                            note_work(HW * nb)
                        if dd == 1 and d >= written:
                            for j in range(written, d):
                                _zero_lanes(&out[p, j * in_out + c0], HW, lanes, nb)
                            if lanes > 1:
                                _lanes_into_row(dst, src, HW, lanes, nb, False)
                            else:
                                for j in range(HW):
                                    dst[j] = src[j]
                            written = d + 1
                        elif lanes > 1:
                            _lanes_into_row(dst, src, HW, lanes, nb, True)
                        else:
                            for j in range(HW):
                                dst[j] = dst[j] + src[j]
                if dd == 1:
                    for d in range(written, b):
                        _zero_lanes(&out[p, d * in_out + c0], HW, lanes, nb)
    finally:
        free(scratch)
        free(drow_h)


cdef inline void _divided_pixels(const floating* src, Py_ssize_t lanes, const floating* divs,
                                 bint divide, bint reciprocal, floating* dst, Py_ssize_t OW,
                                 Py_ssize_t nb) noexcept nogil:
    """:func:`_divided_row` for a row of OW channels-last pixels (``lanes`` values apart,
    ``nb`` of them read) into ``dst`` (``nb`` values a pixel): each over its pixel's
    divisor (times it where ``divs`` holds the exact reciprocals), plus +0."""
    cdef Py_ssize_t ow, c
    cdef const floating* s
    cdef floating* d
    for ow in range(OW):
        s = src + ow * lanes
        d = dst + ow * nb
        if divide and reciprocal:  # (a literal each: three loops)
            for c in range(nb):
                d[c] = _from_zero(s[c] * divs[ow])
        elif divide:
            for c in range(nb):
                d[c] = _from_zero(s[c] / divs[ow])
        else:
            for c in range(nb):
                d[c] = _from_zero(s[c])


cdef inline void _spread_lanes_row(const floating* g, floating* rb, Py_ssize_t OW,
                                   Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
                                   Py_ssize_t width, const Py_ssize_t* w_lo,
                                   const Py_ssize_t* w_n, bint clipped,
                                   Py_ssize_t nb) noexcept nogil:
    """:func:`window_sum_backward`'s horizontal scatter of one output row, for pixels of
    ``nb`` lanes: the divided gradients ``g`` (OW pixels) onto the row buffer ``rb`` (``width``
    pixels), in the planes' order per lane (clipped windows: each gradient over its columns;
    windows that tile the row: assigned; others: tap u of every window, u by u)."""
    cdef Py_ssize_t ow, u, t, j, c, col
    cdef const floating* src
    cdef floating* dst
    if clipped:
        for j in range(width * nb):
            rb[j] = 0
        for ow in range(OW):
            src = g + ow * nb
            for t in range(w_n[ow]):
                dst = rb + (w_lo[ow] + t * dw) * nb
                for c in range(nb):
                    dst[c] = dst[c] + src[c]
    elif dw == 1 and sw == kw:  # (a padded buffer is at least OW*kw pixels wide)
        _tile_lanes_row(rb, g, OW, kw, width, nb, nb)
    else:
        for j in range(width * nb):
            rb[j] = 0
        for u in range(kw):
            for ow in range(OW):
                src = g + ow * nb
                dst = rb + (ow * sw + u * dw) * nb
                for c in range(nb):
                    dst[c] = dst[c] + src[c]


cdef inline void _lanes_into_row(floating* row, const floating* rb, Py_ssize_t W,
                                 Py_ssize_t lanes, Py_ssize_t nb, bint add) noexcept nogil:
    """An input row of pixels ``lanes`` values apart (``nb`` of them written) from the row
    buffer: assigned (a row's first window), or added to (``add``)."""
    cdef Py_ssize_t x, c
    cdef floating* dst
    cdef const floating* src
    for x in range(W):
        dst = row + x * lanes
        src = rb + x * nb
        if add:
            for c in range(nb):
                dst[c] = dst[c] + src[c]
        else:
            for c in range(nb):
                dst[c] = src[c]


cdef inline void _tile_lanes_row(floating* row, const floating* g, Py_ssize_t OW,
                                 Py_ssize_t kw, Py_ssize_t W, Py_ssize_t lanes,
                                 Py_ssize_t nb) noexcept nogil:
    """An input row of a tiling's windows (kw columns each, side by side from column 0):
    pixel ow*kw + u gets gradient ow, the pixels past the last window zeros."""
    cdef Py_ssize_t ow, u, c
    cdef floating* dst
    cdef const floating* src
    for ow in range(OW):
        src = g + ow * nb
        for u in range(kw):
            dst = row + (ow * kw + u) * lanes
            for c in range(nb):
                dst[c] = src[c]
    _zero_lanes(row + OW * kw * lanes, W - OW * kw, lanes, nb)


cdef inline void _zero_lanes(floating* row, Py_ssize_t n_pixels, Py_ssize_t lanes,
                             Py_ssize_t nb) noexcept nogil:
    """``nb`` lanes of ``n_pixels`` pixels ``lanes`` values apart, zeroed."""
    cdef Py_ssize_t x
    if nb == lanes:
        memset(row, 0, n_pixels * lanes * sizeof(floating))
        return
    for x in range(n_pixels):
        memset(row + x * lanes, 0, nb * sizeof(floating))


cdef inline void _spread_image(const floating* gimg, floating* img, Py_ssize_t OH,
                               Py_ssize_t OW, Py_ssize_t H, Py_ssize_t W, Py_ssize_t lanes,
                               Py_ssize_t nb, const Py_ssize_t* h_lo, const Py_ssize_t* h_n,
                               Py_ssize_t dh, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
                               Py_ssize_t pad_w, Py_ssize_t width, const Py_ssize_t* w_lo,
                               const Py_ssize_t* w_n, bint clipped,
                               const int64_t* count_h, const int64_t* count_w, bint divide,
                               bint reciprocal, floating* rb, floating* g, floating* drow,
                               int64_t* drow_h, int64_t count_d=1,
                               Py_ssize_t img_lanes=0) noexcept nogil:
    """One task of :func:`window_sum_backward_lanes`: ``nb`` lanes of a channels-last image's
    gradient (pixels ``lanes`` values apart, from ``gimg``) spread into the same lanes of its
    input gradient (``img``), with the thread's row buffer ``rb``, row of divided gradients
    ``g`` (OW pixels) and row of divisors ``drow`` (built for the row count ``drow_h[0]``);
    ``width``: the row buffer's pixels (the row alone where ``clipped``, else padded).
    ``count_d``: a 3-D window's depth count, a factor of every divisor; ``img_lanes``: the
    values between ``img``'s pixels where they differ from ``gimg``'s (a thread's buffer of
    ``nb`` lanes a pixel)."""
    cdef Py_ssize_t t, y, y0, oh
    cdef Py_ssize_t written = 0  # input rows [0, written) hold values (dh == 1)
    cdef Py_ssize_t row0 = 0 if clipped else pad_w  # where the row's cells start in the buffer
    # Windows that tile the rows (no padding, dilation, overlap or overhang): each input row
    # is written once, straight from its window's gradients, with no row buffer.
    cdef bint tiles = (not clipped and dw == 1 and sw == kw and pad_w == 0 and dh == 1
                       and OW * kw <= W)
    cdef floating* divs
    cdef Py_ssize_t lanes_in = lanes  # the gradient's pixel stride
    if img_lanes:
        lanes = img_lanes  # from here on, the input gradient's
    if dh != 1:
        _zero_lanes(img, H * W, lanes, nb)
    for oh in range(OH):
        divs = (_divisor_row(drow, drow_h, count_d * count_h[oh], count_w, OW, reciprocal)
                if divide else NULL)
        _divided_pixels(gimg + oh * OW * lanes_in, lanes_in, divs, divide, reciprocal, g, OW, nb)
        y0 = h_lo[oh]
        if tiles and y0 >= written and h_n[oh] > 0:
            # A tiling's rows, each written once straight from the gradients.
            if y0 > written:
                _zero_lanes(img + written * W * lanes, (y0 - written) * W, lanes, nb)
            for t in range(h_n[oh]):
                _tile_lanes_row(img + (y0 + t) * W * lanes, g, OW, kw, W, lanes, nb)
            written = y0 + h_n[oh]
            continue
        _spread_lanes_row(g, rb, OW, kw, sw, dw, width, w_lo, w_n, clipped, nb)
        if dh == 1:
            if y0 > written:  # rows no window covers
                _zero_lanes(img + written * W * lanes, (y0 - written) * W, lanes, nb)
            for t in range(h_n[oh]):
                y = y0 + t
                _lanes_into_row(img + y * W * lanes, rb + row0 * nb, W, lanes, nb,
                                y < written)
            if h_n[oh] > 0:
                written = max(written, y0 + h_n[oh])
        else:
            for t in range(h_n[oh]):
                _lanes_into_row(img + (y0 + t * dh) * W * lanes, rb + row0 * nb, W,
                                lanes, nb, True)
    if dh == 1 and written < H:
        _zero_lanes(img + written * W * lanes, (H - written) * W, lanes, nb)


cdef inline void _gather_image(const floating* gimg, floating* img, Py_ssize_t OH,
                               Py_ssize_t OW, Py_ssize_t H, Py_ssize_t W, Py_ssize_t lanes,
                               Py_ssize_t nb, const Py_ssize_t* h_lo, const Py_ssize_t* h_n,
                               Py_ssize_t kw, Py_ssize_t pad_w, const int64_t* count_h,
                               const int64_t* count_w, bint divide, floating* ring,
                               Py_ssize_t R, floating* column_sums, floating* drow,
                               int64_t* drow_h) noexcept nogil:
    """:func:`_spread_image` for stride-1 windows, as the planes gather them
    (:func:`_gather_stride1`): input row y's covering output rows (their gradients over their
    divisors, in a ring of R rows of OW pixels) summed in row order into ``column_sums``, then
    each input pixel x the sums of outputs x + pad_w - kw + 1 .. x + pad_w in order: the
    planes' additions per lane (their padding's zeros add nothing: no divided gradient is
    -0), so their bits."""
    cdef Py_ssize_t y, a = 0, b = 0, oh, c, x, lo, hi
    cdef Py_ssize_t n = OW * nb  # values in a row of the ring
    cdef floating* dst
    cdef const floating* sums
    cdef const floating* r0
    cdef const floating* r1
    cdef const floating* r2
    cdef floating* divs
    for y in range(H):
        while a < b and h_lo[a] + h_n[a] <= y:  # (window ends are monotone)
            a = a + 1
        while b < OH and h_lo[b] <= y:  # row b enters the ring; the row it replaces ended
            divs = _divisor_row(drow, drow_h, count_h[b], count_w, OW) if divide else NULL
            _divided_pixels(gimg + b * OW * lanes, lanes, divs, divide, False,
                            ring + (b % R) * n, OW, nb)
            b = b + 1
        if b <= a:
            _zero_lanes(img + y * W * lanes, W, lanes, nb)
            continue
        # The covering rows' sums, in row order, up to three rows in one pass (each value
        # written once, where adding row by row stored it once a row; the same additions).
        r0 = ring + (a % R) * n
        sums = r0
        if b - a > 1:
            r1 = ring + ((a + 1) % R) * n
            if b - a == 2:
                for c in range(n):
                    column_sums[c] = r0[c] + r1[c]
            else:
                r2 = ring + ((a + 2) % R) * n
                for c in range(n):
                    column_sums[c] = (r0[c] + r1[c]) + r2[c]
                for oh in range(a + 3, b):
                    r0 = ring + (oh % R) * n
                    for c in range(n):
                        column_sums[c] = column_sums[c] + r0[c]
            sums = column_sums
        for x in range(W):
            dst = img + (y * W + x) * lanes
            lo = max(x + pad_w - kw + 1, 0)
            hi = min(x + pad_w, OW - 1)
            if hi < lo:
                for c in range(nb):
                    dst[c] = 0
                continue
            _sum_pixels(dst, sums + lo * nb, hi - lo + 1, nb)


cdef inline void _sum_pixels(floating* dst, const floating* src, Py_ssize_t n,
                             Py_ssize_t nb) noexcept nogil:
    """``dst``'s ``nb`` lanes the sum of the ``n`` >= 1 consecutive pixels of ``nb`` lanes at
    ``src``, added in order; up to three in one pass (``dst`` written once: it is the
    result's memory, where adding pixel by pixel stored it again for each)."""
    cdef Py_ssize_t c, t
    cdef const floating* s1 = src + nb
    cdef const floating* s2 = src + 2 * nb
    if n == 1:
        for c in range(nb):
            dst[c] = src[c]
    elif n == 2:
        for c in range(nb):
            dst[c] = src[c] + s1[c]
    else:
        for c in range(nb):
            dst[c] = (src[c] + s1[c]) + s2[c]
        for t in range(3, n):
            s1 = src + t * nb
            for c in range(nb):
                dst[c] = dst[c] + s1[c]


def window_sum_backward_lanes(const floating[:, ::1] grad,  # IN  (N, OH*OW*lanes)
                              floating[:, ::1] out,         # OUT (N, H*W*lanes), every cell
                              Py_ssize_t OW, Py_ssize_t W,
                              const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n,
                              Py_ssize_t dh, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
                              Py_ssize_t pad_w, const Py_ssize_t[::1] w_lo,
                              const Py_ssize_t[::1] w_n, bint clipped,
                              const int64_t[::1] count_h, const int64_t[::1] count_w,
                              bint divide, Py_ssize_t lanes, Py_ssize_t block,
                              int num_threads, bint gather=False, Py_ssize_t kh=1):
    """:func:`window_sum_backward` for channels-last images (pixels of ``lanes`` values): per
    output row, its gradients over their divisors (``_from_zero``, as there) spread
    horizontally into a row buffer of pixels, then assigned to or added to each input row of
    the windows, lane by lane in the planes' order: the planes' bits. Tasks are (image,
    ``block`` of lanes), as :func:`scatter`'s. Windows that tile the rows write each input
    row once, straight from the gradients (the values the buffer would hold: one gradient a
    cell). Stride-1 windows without dilation (``gather``; ``kh``: the kernel's height) are
    gathered as the planes gather them (:func:`_gather_image`), whose order of additions
    differs from the spread's.

    Before, a channels-last gradient was spread as planes: the gradient transposed into them,
    the result out of them (NHWC avg_pool2d_backward 2x2 on (32, 56, 56, 256), one thread:
    47 ms, where the NCHW gradient took 5.9 ms)."""
    cdef Py_ssize_t N = out.shape[0], OH = h_lo.shape[0]
    cdef Py_ssize_t H = out.shape[1] // (W * lanes) if W * lanes > 0 else 0
    cdef Py_ssize_t blocks = (lanes + block - 1) // block if block > 0 else 0
    cdef Py_ssize_t width = W if clipped else _padded_width(W, OW, kw, sw, dw, pad_w)
    # Per thread: the row buffer (width pixels of a block), a row of divided gradients, a row
    # of divisors.
    cdef Py_ssize_t rb_stride = _buffer_stride(width * block, sizeof(floating))
    cdef Py_ssize_t g_stride = _buffer_stride(OW * block, sizeof(floating))
    cdef Py_ssize_t per_thread = rb_stride + g_stride + _buffer_stride(OW, sizeof(floating))
    # ... or (gather) a ring of the covering output rows' divided gradients (``kh``, the
    # kernel's height, of them at most: a row's windows reaching into padding have fewer real
    # rows, and more of them cover it), their column sums and a row of divisors.
    cdef Py_ssize_t R = max(1, min(kh, OH))
    if gather:
        per_thread = (_buffer_stride(R * OW * block, sizeof(floating)) + g_stride
                      + _buffer_stride(OW, sizeof(floating)))
    cdef Py_ssize_t task, p, c0, nb
    cdef floating* rb
    cdef floating* g
    cdef bint trace = tracing()
    cdef int64_t* drow_h = NULL
    # Averages over windows of a power of two cells each multiply by the exact reciprocals:
    # the division's bits, without its latency.
    cdef bint reciprocal = divide and _powers_of_two(count_h) and _powers_of_two(count_w)
    if N == 0 or H == 0 or W == 0 or lanes == 0 or OH == 0:
        if N and H and W and lanes:  # no windows: a zero gradient
            with nogil:
                memset(&out[0, 0], 0, N * H * W * lanes * sizeof(floating))
        return
    cdef floating* scratch = <floating*>_scratch(num_threads, per_thread, sizeof(floating))
    try:
        drow_h = _thread_slots(num_threads)  # -1: nothing built
        with nogil:
            for task in prange(N * blocks, schedule='static', num_threads=num_threads):
                p = task // blocks
                c0 = (task - p * blocks) * block
                nb = min(block, lanes - c0)
                if trace:  # gradients read, the image written
                    note_work((OH * OW + H * W) * nb)
                rb = scratch + threadid() * per_thread
                if gather:
                    g = rb + _buffer_stride(R * OW * block, sizeof(floating))
                    _gather_image(&grad[p, c0], &out[p, c0], OH, OW, H, W, lanes, nb, &h_lo[0],
                                  &h_n[0], kw, pad_w, &count_h[0] if divide else NULL,
                                  &count_w[0] if divide else NULL, divide, rb, R, g,
                                  g + g_stride, &drow_h[threadid() * THREAD_SLOT])
                    continue
                g = rb + rb_stride
                _spread_image(&grad[p, c0], &out[p, c0], OH, OW, H, W, lanes, nb, &h_lo[0],
                              &h_n[0], dh, kw, sw, dw, pad_w, width, &w_lo[0], &w_n[0], clipped,
                              &count_h[0] if divide else NULL,
                              &count_w[0] if divide else NULL, divide, reciprocal, rb, g,
                              g + g_stride, &drow_h[threadid() * THREAD_SLOT])
    finally:
        free(scratch)
        free(drow_h)


cdef int _lane_planes_backward(const floating[:, :, ::1] grad, floating[:, :, ::1] out,
                               const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n,
                               Py_ssize_t dh, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,
                               Py_ssize_t pad_w, const Py_ssize_t[::1] w_lo,
                               const Py_ssize_t[::1] w_n, bint clipped,
                               const int64_t[::1] count_h, const int64_t[::1] count_w,
                               bint divide, Py_ssize_t G, int num_threads) except -1:
    """:func:`window_sum_backward` for small planes side by side, as _window's
    ``_lane_planes`` pools them: a task puts G planes' gradients side by side as the lanes of
    channels-last pixels (cpool_lanes_in), spreads them as a channels-last image's
    (:func:`_spread_image`, the planes' order per lane: the same bits) into a thread's
    buffer, and writes each plane's result back (cpool_lanes_out). A run of planes a thread,
    in groups of G, the last one short (its missing planes: the group's first again, their
    results to a sink)."""
    cdef Py_ssize_t P = out.shape[0], H = out.shape[1], W = out.shape[2]
    cdef Py_ssize_t OH = grad.shape[1], OW = grad.shape[2]
    cdef Py_ssize_t width = W if clipped else _padded_width(W, OW, kw, sw, dw, pad_w)
    cdef bint reciprocal = divide and _powers_of_two(count_h) and _powers_of_two(count_w)
    # Per thread: the gradients side by side, the results side by side, a sink for a short
    # group's, the row buffer, a row of divided gradients, a row of divisors; the pointers.
    cdef Py_ssize_t n_grad = _buffer_stride(OH * OW * G, sizeof(floating))
    cdef Py_ssize_t n_img = _buffer_stride(H * W * G, sizeof(floating))
    cdef Py_ssize_t n_sink = _buffer_stride(H * W, sizeof(floating))
    cdef Py_ssize_t n_rb = _buffer_stride(width * G, sizeof(floating))
    cdef Py_ssize_t n_g = _buffer_stride(OW * G, sizeof(floating))
    cdef Py_ssize_t per_thread = n_grad + n_img + n_sink + n_rb + n_g + _buffer_stride(
        OW, sizeof(floating))
    cdef Py_ssize_t pstride = _buffer_stride(2 * G, sizeof(void*))
    # Each line a group on hinted into L2 as it is read (the same plane of the next group).
    cdef Py_ssize_t ahead = G * grad.strides[0]
    cdef Py_ssize_t n_chunks = min(max(num_threads, 1), P)
    cdef Py_ssize_t c, p0, p_end, n_real, g
    cdef floating* buf
    cdef void** ptrs
    cdef bint trace = tracing()
    cdef floating* scratch = <floating*>_scratch(num_threads, per_thread, sizeof(floating))
    cdef void** pointers = NULL
    cdef int64_t* drow_h = NULL
    try:
        pointers = <void**>_scratch(num_threads, pstride, sizeof(void*))
        drow_h = _thread_slots(num_threads)
        with nogil:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                buf = scratch + threadid() * per_thread
                ptrs = pointers + threadid() * pstride
                p0 = c * P // n_chunks
                p_end = (c + 1) * P // n_chunks
                while p0 < p_end:
                    n_real = min(G, p_end - p0)
                    if trace:  # gradients read, the planes written
                        note_work(n_real * (OH * OW + H * W))
                    for g in range(G):
                        ptrs[g] = <void*>&grad[p0 + g if g < n_real else p0, 0, 0]
                        ptrs[G + g] = (<void*>&out[p0 + g, 0, 0] if g < n_real
                                       else <void*>(buf + n_grad + n_img))
                    _lanes_in(<const floating**>ptrs, OH * OW, buf, G, ahead)
                    _spread_image(buf, buf + n_grad, OH, OW, H, W, G, G, &h_lo[0], &h_n[0], dh,
                                  kw, sw, dw, pad_w, width, &w_lo[0], &w_n[0], clipped,
                                  &count_h[0] if divide else NULL,
                                  &count_w[0] if divide else NULL, divide, reciprocal,
                                  buf + n_grad + n_img + n_sink,
                                  buf + n_grad + n_img + n_sink + n_rb,
                                  buf + n_grad + n_img + n_sink + n_rb + n_g,
                                  &drow_h[threadid() * THREAD_SLOT])
                    _lanes_out(buf + n_grad, H * W, G, <floating**>(ptrs + G))
                    p0 = p0 + G
    finally:
        free(scratch)
        free(pointers)
        free(drow_h)
    return 0


cdef void _gather_stride1(const floating[:, :, ::1] grad, floating[:, :, ::1] out,
                          const Py_ssize_t[::1] h_lo, const Py_ssize_t[::1] h_n, Py_ssize_t kh,
                          Py_ssize_t kw, Py_ssize_t pad_w, const Py_ssize_t[::1] w_lo,
                          const Py_ssize_t[::1] w_n, const int64_t[::1] count_h,
                          const int64_t[::1] count_w, bint divide, int num_threads,
                          const floating[:, :, ::1] squared_input, bint squared,
                          bint lp_means) except *:
    """Stride-1 window sums' gradient as a gather: input cell (y, x) receives the gradients of the
    windows covering it, rows oh in [a, b) and columns ow in [x + pad_w - kw + 1, x + pad_w].
    That is a box filter over the gradients (over their divisors), built from the forward's own
    passes: the covering rows summed into a row buffer (_vertical), then kw columns of it summed
    into each input cell (_horizontal). Each input row is written once, with no read-modify-write
    of the result (a scatter adds into every input row kh times).

    Per thread, the divided gradient rows live in a ring of R = min(kh, OH) slots stored twice
    over (slots s and s + R), so the covering rows a..b-1 (never more than R) are always
    consecutive slots with one stride. With ``squared`` each finished plane is multiplied by
    ``squared_input * 2``, and with ``lp_means`` the plane's means' gradients are made first,
    as :func:`window_sum_backward` says.

    The "same" 3x3 (padding 1 both ways: the gradient of avg_pool2d(x, 3, 1, 1) and of its
    sum) takes a plane a call instead. Its windows are symmetric (cell y lies in window oh
    exactly when oh lies in the window centred on y), so the gather is the forward's same-3x3
    sums over the gradients over their divisors: cpool_same_3x3_sums, whose steps are the
    ring's (each column's rows summed in order, then three columns in order, the zeros of the
    padding where a row or column is missing: the same bits, as no divided gradient is -0),
    in vectors and without the ring's calls per row, which took most of the time on 28-wide
    planes (avg 3x3 s1 p1 backward on (32, 128, 28, 28), one thread: 2.3-2.5x the forward's
    time before)."""
    cdef Py_ssize_t P = out.shape[0], H = out.shape[1], W = out.shape[2]
    cdef Py_ssize_t OH = grad.shape[1], OW = grad.shape[2]
    cdef Py_ssize_t R = min(kh, OH)
    cdef Py_ssize_t ring_stride = _buffer_stride(OW, sizeof(floating))
    # Row buffer: kw - 1 zeros, the OW column sums, kw - 1 zeros; then a row of divisors.
    cdef Py_ssize_t buf_stride = _buffer_stride(OW + 2 * (kw - 1), sizeof(floating))
    # lp_means: the forward's padded row, then the plane's means' gradients.
    cdef Py_ssize_t mean_width = _padded_width(W, OW, kw, 1, 1, 0)
    cdef Py_ssize_t lp_stride = (_buffer_stride(mean_width, sizeof(floating))
                                 + _buffer_stride(OH * OW, sizeof(floating))) if lp_means else 0
    cdef Py_ssize_t per_thread = 2 * R * ring_stride + buf_stride + ring_stride + lp_stride
    # The same 3x3 (no LP: its windows have no padding): per thread cpool_same_3x3_sums' rows
    # (CPOOL_SAME_3X3_BUF(W) values), the plane of divided gradients, the plane's divisors.
    cdef bint same3 = not squared and _same_3x3(True, H, W, OH, OW, kw, 1, 1, pad_w, 1, h_lo,
                                                h_n, sizeof(floating))
    cdef Py_ssize_t same3_rows = _buffer_stride(CPOOL_SAME_3X3_BUF(W), sizeof(floating))
    cdef Py_ssize_t plane_stride = _buffer_stride(OH * OW, sizeof(floating))
    if same3:
        per_thread = same3_rows + 2 * plane_stride
    # Results of stream_store_bytes() or more have each row's sums written past the caches, as
    # the forward's one-row windows are (cpool_stream_row; its final +0 changes no bits here,
    # as no divided gradient is -0). (64, 256, 4096), one thread: avg k2 s1's gradient 0.76
    # of the time, sum k5 s1 p2's 0.63. Not the same 3x3 (k3 s1 p1), whose kernel writes a
    # plane at a time: taking a 1-D input's rows this way instead took 1.04-1.08x its time.
    cdef bint stream = (CPOOL_STREAM_ROWS and not same3 and not squared
                        and P * H * W * <Py_ssize_t>sizeof(floating) >= stream_store_bytes())
    cdef floating size = <floating>(kh * kw)
    cdef const floating* gp
    cdef floating* lp_row
    cdef floating* divided
    cdef floating* divs
    cdef bint fresh
    cdef Py_ssize_t p, y, a, b, ow, j
    cdef floating* ring
    cdef floating* buf
    cdef floating* slot
    cdef floating* drow
    cdef int64_t* drow_h = NULL  # per thread: the row count drow was built for
    cdef floating* scratch = <floating*>_scratch(num_threads, per_thread, sizeof(floating))
    cdef bint trace = tracing()
    try:
        drow_h = _thread_slots(num_threads)  # -1: nothing built
        with nogil:
            for p in prange(P, schedule='static', num_threads=num_threads):
                if trace:  # gradients read, the plane written
                    note_work(OH * OW + H * W)
                ring = scratch + threadid() * per_thread
                buf = ring + 2 * R * ring_stride
                drow = buf + buf_stride
                gp = &grad[p, 0, 0]
                if same3:
                    buf = ring  # cpool_same_3x3_sums' rows
                    # (its row of zeros written on the thread's first plane only)
                    fresh = drow_h[threadid() * THREAD_SLOT] < 0
                    if divide:  # (_plane_divisors marks the thread's buffer as built)
                        divided = buf + same3_rows
                        divs = _plane_divisors(divided + plane_stride,
                                               &drow_h[threadid() * THREAD_SLOT], &count_h[0],
                                               &count_w[0], OH, OW, False)
                        for j in range(OH * OW):
                            divided[j] = _from_zero(gp[j] / divs[j])
                        gp = divided
                    else:  # sums: the kernel's final +0 settles the zeros' signs
                        drow_h[threadid() * THREAD_SLOT] = 1
                    if floating is float:
                        cpool_same_3x3_sums_f32(gp, OW, OH, OW, &out[p, 0, 0], NULL, 0, 0,
                                                buf, fresh)
                    else:
                        cpool_same_3x3_sums_f64(gp, OW, OH, OW, &out[p, 0, 0], NULL, 0, 0,
                                                buf, fresh)
                    continue
                if lp_means:
                    lp_row = drow + ring_stride
                    gp = _lp_plane_mean_grads(
                        &squared_input[p, 0, 0], W, gp,
                        lp_row + _buffer_stride(mean_width, sizeof(floating)), OH, OW,
                        &h_lo[0], &h_n[0], 1, kw, 1, &w_lo[0], &w_n[0], False, mean_width,
                        &count_h[0], &count_w[0], size, lp_row, drow,
                        &drow_h[threadid() * THREAD_SLOT], False)
                for j in range(kw - 1):
                    buf[j] = 0
                    buf[OW + kw - 1 + j] = 0
                a = 0  # first window row still covering y (window ends are monotone)
                b = 0  # one past the last window row starting at or above y
                for y in range(H):
                    while a < b and h_lo[a] + h_n[a] <= y:
                        a = a + 1
                    while b < OH and h_lo[b] <= y:
                        # Row b enters the ring; the row it replaces (b - R) ended above y.
                        slot = ring + (b % R) * ring_stride
                        _divided_row(gp + b * OW,
                                     _divisor_row(drow, &drow_h[threadid() * THREAD_SLOT],
                                                  count_h[b], &count_w[0], OW)
                                     if divide else NULL, divide, slot, OW)
                        for ow in range(OW):
                            slot[R * ring_stride + ow] = slot[ow]
                        b = b + 1
                    if b > a:
                        _vertical(<const floating*>(ring + (a % R) * ring_stride), ring_stride,
                                  b - a, OW, buf + kw - 1, 0, False)
                        if stream:
                            if floating is float:
                                cpool_stream_row_f32(buf + pad_w, &out[p, y, 0], W, kw, 1, 0,
                                                     NULL, STREAM_PREFETCH_BYTES)
                            else:
                                cpool_stream_row_f64(buf + pad_w, &out[p, y, 0], W, kw, 1, 0,
                                                     NULL, STREAM_PREFETCH_BYTES)
                        else:
                            _horizontal(<const floating*>(buf + pad_w), &out[p, y, 0], W, kw, 1,
                                        1, False)
                    else:
                        memset(&out[p, y, 0], 0, W * sizeof(floating))
                if stream:
                    cpool_stream_fence()  # the plane's non-temporal stores
                if squared:
                    _times_square_derivative(&out[p, 0, 0], &squared_input[p, 0, 0], H * W)
    finally:
        free(scratch)
        free(drow_h)

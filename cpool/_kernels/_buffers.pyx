"""A bounded cache of large result buffers, so that calls repeated with the same shapes (a
training loop, a batch job) reuse the memory of results they have dropped; and the repeated
calls' one C-speed check of their arguments (:func:`same_objects`).

Why: an array of more than a few MB is mapped afresh by malloc on every allocation (glibc's
mmap threshold is at most 32 MB; Dask's workers set it to 64 KB) and returned to the OS when
freed, and the OS zeroes every new page on first touch. For a gradient, which is as large as
the input, that zeroing costs as much as the kernel: avg_pool2d_backward on (32, 256, 56, 56)
float32 took 15.5-21.8 ms into a fresh result against 8.4-8.9 ms into a reused one, the
difference the time ``np.empty(...).fill(1)`` takes over ``fill(1)`` on a reused array.

How: cpool's results of at least ``MIN_BYTES`` are allocated by NumPy (``np.empty``) under a
NumPy memory handler of cpool's own (NEP 49), set only around that allocation, so the array is
an ordinary one (it owns its data; ``resize`` works) that remembers the handler. When it is
freed, the handler keeps its block, up to a limit in bytes (oldest blocks are released first),
and the next allocation of exactly that size takes it back. New blocks come from NumPy's default
handler (its huge-page advice included). Nothing else changes: other arrays, and cpool's
results while a user's own handler is in force, are allocated as before. Results have no
defined contents either way (``np.empty``); the kernels write every value.

NumPy's C-API table is read from its capsule (the table ``import_array`` reads), by the
indices NumPy keeps stable across releases: PyDataMem_SetHandler 304, PyDataMem_GetHandler 305,
PyDataMem_DefaultHandler 306 (tests/test_buffers.py checks them against NumPy's header).
"""
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_New
from libc.stdint cimport SIZE_MAX, uint64_t

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

import os
import warnings

import numpy as np

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include "pythread.h"

    /* NumPy's PyDataMemAllocator and PyDataMem_Handler (version 1), as ndarraytypes.h has them. */
    typedef struct {
        void *ctx;
        void *(*malloc_fn)(void *ctx, size_t size);
        void *(*calloc_fn)(void *ctx, size_t nelem, size_t elsize);
        void *(*realloc_fn)(void *ctx, void *ptr, size_t new_size);
        void (*free_fn)(void *ctx, void *ptr, size_t size);
    } cpool_allocator;

    typedef struct {
        char name[127];
        uint8_t version;
        cpool_allocator allocator;
    } cpool_mem_handler;

    /* Each block starts with its size (realloc is not told the old size), in 64 bytes so the
       data keeps the underlying allocator's alignment. */
    #define CPOOL_HEADER 64
    #define CPOOL_SLOTS 64

    static cpool_allocator cpool_base;        /* NumPy's default: where new blocks come from */
    static PyThread_type_lock cpool_lock;
    static char *cpool_held[CPOOL_SLOTS];     /* kept blocks (their headers), oldest first */
    static int cpool_held_count = 0;
    static size_t cpool_held_bytes = 0;
    static size_t cpool_limit = 0;
    static uint64_t cpool_reused = 0, cpool_fresh = 0;

    static size_t cpool_block_size(char *block) { size_t n; memcpy(&n, block, sizeof n); return n; }

    static void cpool_release(char *block) {
        cpool_base.free_fn(cpool_base.ctx, block, cpool_block_size(block) + CPOOL_HEADER);
    }

    /* Drops the oldest kept block (the lock held); returns it for cpool_release. */
    static char *cpool_drop_oldest(void) {
        char *block = cpool_held[0];
        cpool_held_count--;
        memmove(cpool_held, cpool_held + 1, cpool_held_count * sizeof cpool_held[0]);
        cpool_held_bytes -= cpool_block_size(block);
        return block;
    }

    static void *cpool_malloc(void *ctx, size_t size) {
        (void)ctx;
        PyThread_acquire_lock(cpool_lock, WAIT_LOCK);
        for (int i = cpool_held_count - 1; i >= 0; i--) {  /* the newest: warmest in cache */
            char *block = cpool_held[i];
            if (cpool_block_size(block) == size) {
                cpool_held_count--;
                memmove(cpool_held + i, cpool_held + i + 1,
                        (cpool_held_count - i) * sizeof cpool_held[0]);
                cpool_held_bytes -= size;
                cpool_reused++;
                PyThread_release_lock(cpool_lock);
                return block + CPOOL_HEADER;
            }
        }
        cpool_fresh++;
        PyThread_release_lock(cpool_lock);
        if (size > SIZE_MAX - CPOOL_HEADER)
            return NULL;
        char *block = cpool_base.malloc_fn(cpool_base.ctx, size + CPOOL_HEADER);
        if (block == NULL)
            return NULL;
        memcpy(block, &size, sizeof size);
        return block + CPOOL_HEADER;
    }

    static void *cpool_calloc(void *ctx, size_t nelem, size_t elsize) {
        if (elsize != 0 && nelem > SIZE_MAX / elsize)
            return NULL;
        void *p = cpool_malloc(ctx, nelem * elsize);
        if (p != NULL)
            memset(p, 0, nelem * elsize);
        return p;
    }

    static void *cpool_realloc(void *ctx, void *ptr, size_t new_size) {
        if (ptr == NULL)
            return cpool_malloc(ctx, new_size);
        if (new_size > SIZE_MAX - CPOOL_HEADER)
            return NULL;
        char *block = cpool_base.realloc_fn(cpool_base.ctx, (char *)ptr - CPOOL_HEADER,
                                            new_size + CPOOL_HEADER);
        if (block == NULL)
            return NULL;
        memcpy(block, &new_size, sizeof new_size);
        return block + CPOOL_HEADER;
    }

    /* Keeps the block if it fits under the limit (releasing the oldest to make room); the
       releases happen outside the lock. */
    static void cpool_free(void *ctx, void *ptr, size_t size) {
        (void)ctx; (void)size;  /* the header's size: the one the block was made with */
        if (ptr == NULL)
            return;
        char *block = (char *)ptr - CPOOL_HEADER;
        size_t n = cpool_block_size(block);
        char *dropped[CPOOL_SLOTS];
        int n_dropped = 0;
        PyThread_acquire_lock(cpool_lock, WAIT_LOCK);
        if (n > 0 && n <= cpool_limit) {
            while (cpool_held_count == CPOOL_SLOTS || cpool_held_bytes + n > cpool_limit)
                dropped[n_dropped++] = cpool_drop_oldest();
            cpool_held[cpool_held_count++] = block;
            cpool_held_bytes += n;
            block = NULL;
        }
        PyThread_release_lock(cpool_lock);
        for (int i = 0; i < n_dropped; i++)
            cpool_release(dropped[i]);
        if (block != NULL)
            cpool_release(block);
    }

    /* Sets the limit, releasing the oldest blocks over it; returns the previous one. */
    static size_t cpool_set_limit(size_t limit) {
        char *dropped[CPOOL_SLOTS];
        int n_dropped = 0;
        PyThread_acquire_lock(cpool_lock, WAIT_LOCK);
        size_t previous = cpool_limit;
        cpool_limit = limit;
        while (cpool_held_bytes > cpool_limit)
            dropped[n_dropped++] = cpool_drop_oldest();
        PyThread_release_lock(cpool_lock);
        for (int i = 0; i < n_dropped; i++)
            cpool_release(dropped[i]);
        return previous;
    }

    static cpool_mem_handler cpool_handler = {
        "cpool_buffer_cache", 1, {NULL, cpool_malloc, cpool_calloc, cpool_realloc, cpool_free}};

    /* Takes NumPy's default allocator for new blocks and makes the lock; 0 on failure. */
    static int cpool_init(cpool_mem_handler *numpy_default) {
        cpool_base = numpy_default->allocator;
        cpool_lock = PyThread_allocate_lock();
        return cpool_lock != NULL;
    }

    /* The limit, the held bytes and blocks and the two counters, read under one lock. */
    static void cpool_stats(uint64_t out[5]) {
        PyThread_acquire_lock(cpool_lock, WAIT_LOCK);
        out[0] = cpool_limit;
        out[1] = cpool_held_bytes;
        out[2] = (uint64_t)cpool_held_count;
        out[3] = cpool_reused;
        out[4] = cpool_fresh;
        PyThread_release_lock(cpool_lock);
    }
    """
    ctypedef struct cpool_mem_handler:
        pass
    cpool_mem_handler cpool_handler
    size_t cpool_limit
    int cpool_init(cpool_mem_handler *numpy_default) noexcept nogil
    size_t cpool_set_limit(size_t limit) noexcept nogil
    void cpool_stats(uint64_t out[5]) noexcept nogil

ctypedef object (*_set_handler_t)(object)
ctypedef object (*_get_handler_t)()

# Results of fewer bytes come from np.empty as before: malloc keeps and reuses blocks that small
# on its own, and a call that small would pay the handler's switch for nothing.
MIN_BYTES = 1 << 20
cdef Py_ssize_t _MIN_BYTES = MIN_BYTES


def _default_limit():
    """256 MiB, or a sixteenth of the machine's memory where that is less (128 MiB on 2 GiB)."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX, or not known
        return 256 << 20
    return min(256 << 20, max(memory, 0) // 16)


# What the cache may hold unless CPOOL_BUFFER_CACHE or set_limit says otherwise.
DEFAULT_LIMIT = _default_limit()
# The largest limit (no limit): a size_t's.
MAX_LIMIT = SIZE_MAX

cdef _set_handler_t _set_handler = NULL
cdef _get_handler_t _get_handler = NULL
cdef object _default_handler = None   # NumPy's default handler (a capsule)
cdef object _handler = None           # ours
_empty = np.empty
_dtype = np.dtype


def _init():
    global _set_handler, _get_handler, _default_handler, _handler
    try:
        from numpy._core import _multiarray_umath as multiarray
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as multiarray
    cdef void **api = <void **>PyCapsule_GetPointer(multiarray._ARRAY_API, NULL)
    _set_handler = <_set_handler_t>api[304]
    _get_handler = <_get_handler_t>api[305]
    _default_handler = <object>(<void **>api[306])[0]
    if not cpool_init(<cpool_mem_handler *>PyCapsule_GetPointer(_default_handler, "mem_handler")):
        raise MemoryError("cpool: cannot allocate the buffer cache's lock")
    _handler = PyCapsule_New(&cpool_handler, "mem_handler", NULL)
    set_limit(_limit_from_environment())


def _limit_from_environment():
    """CPOOL_BUFFER_CACHE (bytes, a non-negative integer), or DEFAULT_LIMIT."""
    text = os.environ.get("CPOOL_BUFFER_CACHE", "").strip()
    if not text:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
        if limit < 0:
            raise ValueError
    except ValueError:
        warnings.warn(f"CPOOL_BUFFER_CACHE={text!r} is not a number of bytes (a non-negative "
                      f"integer); using the default, {DEFAULT_LIMIT}", RuntimeWarning,
                      stacklevel=2)
        return DEFAULT_LIMIT
    return limit



def empty(tuple shape, dtype):
    """``np.empty(shape, dtype)``, its memory from the cache when it has ``MIN_BYTES`` or more
    and no handler of the user's is in force (see the module's docstring)."""
    cdef Py_ssize_t size, n
    if cpool_limit == 0:
        return _empty(shape, dtype)
    size = _dtype(dtype).itemsize
    for n in shape:
        if n < 0 or (n and size > PY_SSIZE_T_MAX // n):
            return _empty(shape, dtype)  # NumPy's error
        size *= n
    if size < _MIN_BYTES or _get_handler() is not _default_handler:
        return _empty(shape, dtype)
    previous = _set_handler(_handler)
    try:
        return _empty(shape, dtype)
    finally:
        _set_handler(previous)


def same_objects(tuple a, tuple b):
    """Whether ``a`` and ``b`` hold the same objects, item by item (``is``): a repeated call's
    check that its arguments are its recorded call's own (cpool._validation._recorded). In
    C, as the buffer cache is: ``all(map(operator.is_, a, b))`` over a window op's 10
    arguments took 0.58 us of a (1, 1, 2, 2) call's 5 us."""
    cdef Py_ssize_t i, n = len(a)
    if len(b) != n:
        return False
    for i in range(n):
        if a[i] is not b[i]:
            return False
    return True


def set_limit(limit):
    """Let the cache hold up to ``limit`` bytes of freed results (a non-negative int; 0: none,
    more than MAX_LIMIT: MAX_LIMIT), releasing the oldest blocks over it now. Returns the
    previous limit."""
    return cpool_set_limit(min(limit, MAX_LIMIT))


def stats():
    """The cache's state in one reading, for buffer_cache_info and the tests: its limit, the
    bytes and blocks it holds, allocations it served and allocations that made a new block."""
    cdef uint64_t v[5]
    cpool_stats(v)
    return {"limit": v[0], "held_bytes": v[1], "held_blocks": v[2], "reused": v[3],
            "fresh": v[4]}


_init()  # after the functions it calls

"""Runtime facts about the build and the CPU: OpenMP (for :mod:`cpool._threads`) and whether
the CPU can run the AVX2 kernels (for :mod:`cpool._kernels`)."""
from libc.stdint cimport int64_t

from cpool._kernels._openmp cimport (CPOOL_OPENMP_ENABLED, CPOOL_OPENMP_SURVIVES_FORK,
                                    omp_get_max_threads, omp_get_num_threads, omp_get_thread_num)

cdef extern from *:
    """
    /* __builtin_cpu_supports also checks that the OS saves the AVX registers (XGETBV). */
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int cpool_cpu_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
    }
    #else
    static int cpool_cpu_has_avx2(void) { return 0; }
    #endif
    """
    bint cpool_cpu_has_avx2() noexcept nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(CPOOL_OPENMP_ENABLED)


def runtime_survives_fork():
    """True unless the OpenMP runtime is GNU libgomp, whose thread pool a fork() child cannot
    use (True too for a serial build)."""
    return bool(CPOOL_OPENMP_SURVIVES_FORK)


def max_threads():
    """OpenMP's current maximum team size for the calling thread (1 in a serial build).

    Read at call time, so ``OMP_NUM_THREADS`` and threadpoolctl's limits are respected.
    """
    return omp_get_max_threads()


def cpu_has_avx2():
    """True when this CPU (and OS) can run AVX2 code."""
    return bool(cpool_cpu_has_avx2())


cdef enum:
    TRACE_SLOTS = 1024  # threads whose work is traced (a team larger than this is not)

cdef int64_t _work[TRACE_SLOTS]
cdef int _team = 0
cdef bint _tracing = False


cdef bint tracing() noexcept nogil:
    return _tracing


cdef void note_work(Py_ssize_t amount) noexcept nogil:
    """Adds ``amount`` to the calling thread's work. Each thread writes its own slot, so no
    race; the team size is the largest seen."""
    global _team
    cdef int t = omp_get_thread_num()
    if t < TRACE_SLOTS:
        _work[t] += amount
        _team = max(_team, min(omp_get_num_threads(), TRACE_SLOTS))


def trace_work(bint on):
    """Start (``on``: counts cleared) or stop tracing the kernels' work per thread. Stopping
    returns the work each thread of the largest team did, a list of as many counts as that
    team had threads (empty if no traced loop ran, or if tracing was not started). For tests;
    not thread-safe."""
    global _tracing, _team
    cdef int t
    if on:
        for t in range(TRACE_SLOTS):
            _work[t] = 0
        _team = 0
        _tracing = True
        return None
    _tracing = False
    counts = [_work[t] for t in range(_team)]
    _team = 0  # a second stop returns nothing
    return counts


# Outputs of at least this many bytes a call whose windows or gradients are one input row's
# (a 1-D input's) go to memory past the caches, by non-temporal stores (cpool_stream_row, in
# _window's forward and _backward's stride-1 sums). A C model of the 1-D loop (max k3 s1, the
# Intel host, one thread), per 268 MB of output, non-temporal stores against plain ones:
# 1 MB 1.25x as long, 4-17 MB 1.11-1.12x, 67 MB and 268 MB 0.63-0.64x; with a read of the
# output after each call, 1.9x, 1.4x and 0.74-0.78x (docs/performance.md, "One-row windows
# written past the caches"). Here, where both kernel modules read it; a variable so that the
# tests can take the path on small arrays (set_stream_store_bytes).
cdef Py_ssize_t _stream_store_bytes = 32 << 20


cdef Py_ssize_t stream_store_bytes() noexcept nogil:
    return _stream_store_bytes


def set_stream_store_bytes(Py_ssize_t nbytes):
    """Set the output size from which one-row windows (and their sums' gradients) are written
    past the caches; returns the size it replaces. For tests; not thread-safe."""
    global _stream_store_bytes
    cdef Py_ssize_t before = _stream_store_bytes
    _stream_store_bytes = nbytes
    return before

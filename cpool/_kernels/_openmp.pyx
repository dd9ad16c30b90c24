"""Runtime facts about the build and the CPU: OpenMP (for :mod:`cpool._threads`) and whether
the CPU can run the AVX2 kernels (for :mod:`cpool._kernels`)."""
from cpool._kernels._openmp cimport (CPOOL_OPENMP_ENABLED, CPOOL_OPENMP_SURVIVES_FORK,
                                    omp_get_max_threads)

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

"""Runtime facts about the OpenMP build, for :mod:`cpool._threads`."""
from cpool._kernels._openmp cimport CPOOL_OPENMP_ENABLED, omp_get_max_threads


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(CPOOL_OPENMP_ENABLED)


def max_threads():
    """OpenMP's current maximum team size for the calling thread (1 in a serial build).

    Read at call time, so ``OMP_NUM_THREADS`` and threadpoolctl's limits are respected.
    """
    return omp_get_max_threads()

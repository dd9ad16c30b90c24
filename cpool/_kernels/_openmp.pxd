# The only place that touches the OpenMP runtime. Without OpenMP (_OPENMP undefined) the stubs make
# every query answer "one thread", and Cython's prange compiles to a plain serial loop.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define CPOOL_OPENMP_ENABLED 1
    #else
    #define CPOOL_OPENMP_ENABLED 0
    static inline int omp_get_max_threads(void) { return 1; }
    static inline int omp_get_thread_num(void) { return 0; }
    #endif
    """
    bint CPOOL_OPENMP_ENABLED
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil

# The only place that touches the OpenMP runtime. Without OpenMP (_OPENMP undefined) the stubs make
# every query answer "one thread", and Cython's prange compiles to a plain serial loop.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define CPOOL_OPENMP_ENABLED 1
    /* LLVM's and Intel's runtimes (their omp.h defines KMP_VERSION_MAJOR) start afresh in a
       child made by fork(); GNU libgomp keeps the parent's thread pool, whose threads the child
       does not have, and a team of more than one thread then waits for them forever. */
    #ifdef KMP_VERSION_MAJOR
    #define CPOOL_OPENMP_SURVIVES_FORK 1
    #else
    #define CPOOL_OPENMP_SURVIVES_FORK 0
    #endif
    #else
    #define CPOOL_OPENMP_ENABLED 0
    #define CPOOL_OPENMP_SURVIVES_FORK 1
    static inline int omp_get_max_threads(void) { return 1; }
    static inline int omp_get_thread_num(void) { return 0; }
    static inline int omp_get_num_threads(void) { return 1; }
    #endif
    """
    bint CPOOL_OPENMP_ENABLED
    bint CPOOL_OPENMP_SURVIVES_FORK
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_threads() noexcept nogil


# Work tracing, for the tests of how each kernel splits its work over threads
# (docs/performance.md, "How the work is split"): a parallel loop reads tracing() once and,
# when it is on, notes each task's work (values read and written) for the thread that ran it.
cdef bint tracing() noexcept nogil
cdef void note_work(Py_ssize_t amount) noexcept nogil

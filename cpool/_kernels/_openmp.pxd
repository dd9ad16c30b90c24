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
    #if defined(__GNUC__) && !defined(__clang__) && !defined(KMP_VERSION_MAJOR)
    /* One-thread regions run on the calling thread. GCC compiles every `omp parallel` (each
       prange) to a call of libgomp's GOMP_parallel, which sets up a team even for one thread:
       a team allocation and two futex wake-ups (its barriers), 0.85 us of a 5 us call on a
       (1, 1, 2, 2) input, and one thread is what small inputs and a busy machine get. This
       definition takes those calls within this extension only (hidden: nothing outside it
       sees it): with one thread, outside any parallel region, it runs the region's body
       directly, which is what OpenMP defines for its constructs outside a region (worksharing
       loops and barriers bind to the one initial thread; omp_get_thread_num() is 0). Any
       other region goes to libgomp through its GOMP_parallel_start/GOMP_parallel_end pair,
       GOMP_parallel itself less the proc_bind flags, which Cython never sets. */
    void GOMP_parallel_start(void (*fn)(void *), void *data, unsigned num_threads);
    void GOMP_parallel_end(void);
    __attribute__((visibility("hidden"))) void GOMP_parallel(void (*fn)(void *), void *data,
                                                            unsigned num_threads, unsigned flags) {
        (void)flags;
        if (num_threads == 1 && omp_get_level() == 0) {
            fn(data);
            return;
        }
        GOMP_parallel_start(fn, data, num_threads);
        fn(data);
        GOMP_parallel_end();
    }
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

# Outputs of at least this many bytes a call, of one input row a window, are written past the
# caches (_openmp.pyx says why; set_stream_store_bytes sets it, for tests).
cdef Py_ssize_t stream_store_bytes() noexcept nogil

# Explicit SSE2 for the few loops GCC will not vectorise on its own: reductions with a float
# select or compare, which it leaves scalar without -ffast-math (a float max or "any" is not
# reassociable for it), a flag that would break NaN propagation. SSE2 is in every x86-64 CPU
# (the portable baseline); elsewhere (other architectures, 32-bit MSVC without SSE2)
# CPOOL_SSE2 is 0 and callers use their portable loops.
#
# cpool_run_max_*: max(m, p[0:n]) with ``_mm_max_ps(v, a)``, which is ``v > a ? v : a``, the
#   scalar ``v > m`` select, so ties and signed zeros resolve as in the scalar loop; NaN is
#   tracked apart in an unordered-compare mask (*nan_seen |= any NaN).
# cpool_any_below_*: whether any of p[0:n] < bound.
cdef extern from *:
    """
    #if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
    #include <emmintrin.h>
    #define CPOOL_SSE2 1
    /* Whether any of p[0:n] < bound (NaN compares false). */
    static inline int cpool_any_below_f32(const float* p, Py_ssize_t n, float bound) {
        __m128 b = _mm_set1_ps(bound), m = _mm_setzero_ps();
        Py_ssize_t j = 0;
        for (; j + 4 <= n; j += 4)
            m = _mm_or_ps(m, _mm_cmplt_ps(_mm_loadu_ps(p + j), b));
        int any = _mm_movemask_ps(m) != 0;
        for (; j < n; j++)
            any |= p[j] < bound;
        return any;
    }
    static inline int cpool_any_below_f64(const double* p, Py_ssize_t n, double bound) {
        __m128d b = _mm_set1_pd(bound), m = _mm_setzero_pd();
        Py_ssize_t j = 0;
        for (; j + 2 <= n; j += 2)
            m = _mm_or_pd(m, _mm_cmplt_pd(_mm_loadu_pd(p + j), b));
        int any = _mm_movemask_pd(m) != 0;
        for (; j < n; j++)
            any |= p[j] < bound;
        return any;
    }
    /* max(m, p[0:n]) for float32; *nan_seen |= any NaN in p[0:n]. */
    static inline float cpool_run_max_f32(const float* p, Py_ssize_t n, float m, int* nan_seen) {
        __m128 a0 = _mm_set1_ps(m), a1 = a0, u = _mm_setzero_ps(), v0, v1;
        float lanes[4], v;
        Py_ssize_t j = 0;
        for (; j + 8 <= n; j += 8) {
            v0 = _mm_loadu_ps(p + j);
            v1 = _mm_loadu_ps(p + j + 4);
            a0 = _mm_max_ps(v0, a0);
            a1 = _mm_max_ps(v1, a1);
            u = _mm_or_ps(u, _mm_cmpunord_ps(v0, v1));
        }
        _mm_storeu_ps(lanes, _mm_max_ps(a1, a0));
        for (; j < n; j++) {
            v = p[j];
            m = v > m ? v : m;
            *nan_seen |= v != v;
        }
        for (j = 0; j < 4; j++)
            m = lanes[j] > m ? lanes[j] : m;
        *nan_seen |= _mm_movemask_ps(u) != 0;
        return m;
    }
    /* The same for float64. */
    static inline double cpool_run_max_f64(const double* p, Py_ssize_t n, double m, int* nan_seen) {
        __m128d a0 = _mm_set1_pd(m), a1 = a0, u = _mm_setzero_pd(), v0, v1;
        double lanes[2], v;
        Py_ssize_t j = 0;
        for (; j + 4 <= n; j += 4) {
            v0 = _mm_loadu_pd(p + j);
            v1 = _mm_loadu_pd(p + j + 2);
            a0 = _mm_max_pd(v0, a0);
            a1 = _mm_max_pd(v1, a1);
            u = _mm_or_pd(u, _mm_cmpunord_pd(v0, v1));
        }
        _mm_storeu_pd(lanes, _mm_max_pd(a1, a0));
        for (; j < n; j++) {
            v = p[j];
            m = v > m ? v : m;
            *nan_seen |= v != v;
        }
        for (j = 0; j < 2; j++)
            m = lanes[j] > m ? lanes[j] : m;
        *nan_seen |= _mm_movemask_pd(u) != 0;
        return m;
    }
    #else  /* run_max: stubs that keep the names defined (callers use their portable loop) */
    #define CPOOL_SSE2 0
    static inline int cpool_any_below_f32(const float* p, Py_ssize_t n, float bound) {
        int any = 0;
        for (Py_ssize_t j = 0; j < n; j++) any |= p[j] < bound;
        return any;
    }
    static inline int cpool_any_below_f64(const double* p, Py_ssize_t n, double bound) {
        int any = 0;
        for (Py_ssize_t j = 0; j < n; j++) any |= p[j] < bound;
        return any;
    }
    static inline float cpool_run_max_f32(const float* p, Py_ssize_t n, float m, int* nan_seen) { return m; }
    static inline double cpool_run_max_f64(const double* p, Py_ssize_t n, double m, int* nan_seen) { return m; }
    #endif
    """
    bint CPOOL_SSE2
    float cpool_run_max_f32(const float* p, Py_ssize_t n, float m, int* nan_seen) noexcept nogil
    double cpool_run_max_f64(const double* p, Py_ssize_t n, double m, int* nan_seen) noexcept nogil
    bint cpool_any_below_f32(const float* p, Py_ssize_t n, float bound) noexcept nogil
    bint cpool_any_below_f64(const double* p, Py_ssize_t n, double bound) noexcept nogil

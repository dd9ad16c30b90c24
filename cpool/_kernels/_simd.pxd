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
# cpool_any_negzero_or_nan_*: whether any of p[0:n] is -0 or NaN (the cells whose bits a max
#   chooses between by scan order: a zero's sign, a NaN's payload).
# cpool_any_nonfinite_*: whether any of p[0:n] is infinite or NaN.
# In AVX builds the last two are 256 bits wide.
# cpool_first_equal_*: the first j with p[j] == v (or n): global max's index search.
cdef extern from *:
    """
    /* A read-prefetch hint into all cache levels; a no-op where the compiler has none. On x86
       with GCC or Clang it is an asm statement rather than __builtin_prefetch: GCC 12 deleted
       loops made only of the builtin (it counts them as free of side effects) wherever the
       loop's guard was not a constant, so the hints vanished from most kernels. */
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    #define cpool_prefetch(p) __asm__ __volatile__("prefetcht0 %0" : : "m"(*(const char*)(p)))
    #elif defined(__GNUC__) || defined(__clang__)
    #define cpool_prefetch(p) __builtin_prefetch((const void*)(p), 0, 3)
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #include <xmmintrin.h>
    #define cpool_prefetch(p) _mm_prefetch((const char*)(p), _MM_HINT_T0)
    #else
    #define cpool_prefetch(p) ((void)0)
    #endif
    #include <math.h>
    #include <string.h>
    #if defined(__GNUC__) || defined(__clang__)
    #define CPOOL_NOINLINE __attribute__((noinline))
    #else
    #define CPOOL_NOINLINE
    #endif
    /* Copy n pixels of nbytes bytes, src_step bytes apart, to consecutive pixels at dst. Each
       common size is a copy of constant size (plain moves); a 3-, 6- or 12-byte pixel moves
       with one wider load and store whose spill into the next pixel the next copy overwrites
       (the last pixel is copied exactly, so nothing past dst's n pixels is written; the
       source must have the spill's bytes readable, as a row with pixels after it does). Not
       inlined: inside a large kernel its loop lost its registers to spills. */
    static CPOOL_NOINLINE void cpool_copy_pixels(const char* src, char* dst, Py_ssize_t n,
                                                 Py_ssize_t step, Py_ssize_t nbytes) {
        Py_ssize_t i;
        if (n <= 0) return;
        /* All pixels but the last with WIDE bytes, the last with SIZE. */
        #define CPOOL_COPY_EACH(SIZE, WIDE) \
            for (i = 0; i < n - 1; i++) memcpy(dst + (SIZE) * i, src + i * step, (WIDE)); \
            memcpy(dst + (SIZE) * (n - 1), src + (n - 1) * step, (SIZE))
        switch (nbytes) {
        case 1: for (i = 0; i < n; i++) dst[i] = src[i * step]; return;
        case 2: CPOOL_COPY_EACH(2, 2); return;
        case 3: CPOOL_COPY_EACH(3, 4); return;
        case 4: CPOOL_COPY_EACH(4, 4); return;
        case 6: CPOOL_COPY_EACH(6, 8); return;
        case 8: CPOOL_COPY_EACH(8, 8); return;
        case 12: CPOOL_COPY_EACH(12, 16); return;
        case 16: CPOOL_COPY_EACH(16, 16); return;
        default:
            for (i = 0; i < n; i++) memcpy(dst + nbytes * i, src + i * step, (size_t)nbytes);
        }
        #undef CPOOL_COPY_EACH
    }
    #if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
    #include <emmintrin.h>
    #define CPOOL_SSE2 1
    /* One body for both float widths: T the scalar type, V the SSE2 vector type, S the intrinsics'
       suffix (ps, pd), N the lanes per vector. */
    #define CPOOL_SIMD_HELPERS(NAME, T, V, S, N) \\
    /* Whether any of p[0:n] < bound (NaN compares false). */ \\
    static inline int cpool_any_below_##NAME(const T* p, Py_ssize_t n, T bound) { \\
        V b = _mm_set1_##S(bound), m = _mm_setzero_##S(); \\
        Py_ssize_t j = 0; \\
        int any; \\
        for (; j + N <= n; j += N) \\
            m = _mm_or_##S(m, _mm_cmplt_##S(_mm_loadu_##S(p + j), b)); \\
        any = _mm_movemask_##S(m) != 0; \\
        for (; j < n; j++) \\
            any |= p[j] < bound; \\
        return any; \\
    } \\
    /* Whether any of p[0:n] is -0 or NaN: (v == 0) & v keeps the sign bit of -0 only. */ \\
    static inline int cpool_any_negzero_or_nan_##NAME(const T* p, Py_ssize_t n) { \\
        V z = _mm_setzero_##S(), m = z, v; \\
        Py_ssize_t j = 0; \\
        int any; \\
        for (; j + N <= n; j += N) { \\
            v = _mm_loadu_##S(p + j); \\
            m = _mm_or_##S(m, _mm_or_##S(_mm_and_##S(_mm_cmpeq_##S(v, z), v), \\
                                         _mm_cmpunord_##S(v, v))); \\
        } \\
        any = _mm_movemask_##S(m) != 0; \\
        for (; j < n; j++) \\
            any |= ((p[j] == 0) & (signbit(p[j]) != 0)) | (p[j] != p[j]); \\
        return any; \\
    } \\
    /* Whether any of p[0:n] is infinite or NaN: v - v is then NaN, else 0. */ \\
    static inline int cpool_any_nonfinite_##NAME(const T* p, Py_ssize_t n) { \\
        V m = _mm_setzero_##S(), d; \\
        Py_ssize_t j = 0; \\
        int any; \\
        for (; j + N <= n; j += N) { \\
            d = _mm_loadu_##S(p + j); \\
            d = _mm_sub_##S(d, d); \\
            m = _mm_or_##S(m, _mm_cmpunord_##S(d, d)); \\
        } \\
        any = _mm_movemask_##S(m) != 0; \\
        for (; j < n; j++) \\
            any |= (p[j] - p[j]) != 0; \\
        return any; \\
    } \\
    /* max(m, p[0:n]), two vectors of running maxima; *nan_seen |= any NaN in p[0:n]. */ \\
    static inline T cpool_run_max_##NAME(const T* p, Py_ssize_t n, T m, int* nan_seen) { \\
        V a0 = _mm_set1_##S(m), a1 = a0, u = _mm_setzero_##S(), v0, v1; \\
        T lanes[N], v; \\
        Py_ssize_t j = 0; \\
        for (; j + 2 * N <= n; j += 2 * N) { \\
            v0 = _mm_loadu_##S(p + j); \\
            v1 = _mm_loadu_##S(p + j + N); \\
            a0 = _mm_max_##S(v0, a0); \\
            a1 = _mm_max_##S(v1, a1); \\
            u = _mm_or_##S(u, _mm_cmpunord_##S(v0, v1)); \\
        } \\
        _mm_storeu_##S(lanes, _mm_max_##S(a1, a0)); \\
        for (; j < n; j++) { \\
            v = p[j]; \\
            m = v > m ? v : m; \\
            *nan_seen |= v != v; \\
        } \\
        for (j = 0; j < N; j++) \\
            m = lanes[j] > m ? lanes[j] : m; \\
        *nan_seen |= _mm_movemask_##S(u) != 0; \\
        return m; \\
    } \\
    /* The first j with p[j] == v, or n if none. */ \\
    static inline Py_ssize_t cpool_first_equal_##NAME(const T* p, Py_ssize_t n, T v) { \\
        V b = _mm_set1_##S(v); \\
        Py_ssize_t j = 0; \\
        int mask; \\
        for (; j + N <= n; j += N) { \\
            mask = _mm_movemask_##S(_mm_cmpeq_##S(_mm_loadu_##S(p + j), b)); \\
            if (mask) { \\
                while (!(mask & 1)) { mask >>= 1; j++; } \\
                return j; \\
            } \\
        } \\
        for (; j < n && p[j] != v; j++) {} \\
        return j; \\
    }
    CPOOL_SIMD_HELPERS(f32, float, __m128, ps, 4)
    CPOOL_SIMD_HELPERS(f64, double, __m128d, pd, 2)
    #if defined(__AVX__)
    #include <immintrin.h>
    /* The AVX builds scan a whole 256-bit register at a time: these scans run on every output
       row of a max (for -0 and NaN) or chunk of a stochastic evaluation (for overflow), where
       the SSE2 ones cost 10-15% of a 2x2 pooling. */
    #define CPOOL_AVX_NEGZERO(NAME, T, V, S, N) \\
    static inline int cpool_any_negzero_or_nan_avx_##NAME(const T* p, Py_ssize_t n) { \\
        V z = _mm256_setzero_##S(), m = z, v; \\
        Py_ssize_t j = 0; \\
        for (; j + N <= n; j += N) { \\
            v = _mm256_loadu_##S(p + j); \\
            m = _mm256_or_##S(m, _mm256_or_##S(_mm256_and_##S(_mm256_cmp_##S(v, z, _CMP_EQ_OQ), v), \\
                                               _mm256_cmp_##S(v, v, _CMP_UNORD_Q))); \\
        } \\
        return (_mm256_movemask_##S(m) != 0) | cpool_any_negzero_or_nan_##NAME(p + j, n - j); \\
    }
    CPOOL_AVX_NEGZERO(f32, float, __m256, ps, 8)
    CPOOL_AVX_NEGZERO(f64, double, __m256d, pd, 4)
    #define cpool_any_negzero_or_nan_f32 cpool_any_negzero_or_nan_avx_f32
    #define cpool_any_negzero_or_nan_f64 cpool_any_negzero_or_nan_avx_f64
    #define CPOOL_AVX_NONFINITE(NAME, T, V, S, N) \\
    static inline int cpool_any_nonfinite_avx_##NAME(const T* p, Py_ssize_t n) { \\
        V m = _mm256_setzero_##S(), d; \\
        Py_ssize_t j = 0; \\
        for (; j + N <= n; j += N) { \\
            d = _mm256_loadu_##S(p + j); \\
            d = _mm256_sub_##S(d, d); \\
            m = _mm256_or_##S(m, _mm256_cmp_##S(d, d, _CMP_UNORD_Q)); \\
        } \\
        return (_mm256_movemask_##S(m) != 0) | cpool_any_nonfinite_##NAME(p + j, n - j); \\
    }
    CPOOL_AVX_NONFINITE(f32, float, __m256, ps, 8)
    CPOOL_AVX_NONFINITE(f64, double, __m256d, pd, 4)
    #define cpool_any_nonfinite_f32 cpool_any_nonfinite_avx_f32
    #define cpool_any_nonfinite_f64 cpool_any_nonfinite_avx_f64
    #endif
    #else
    #define CPOOL_SSE2 0
    /* Portable any_below; run_max and first_equal stubs only keep the names defined (callers use their own loop). */
    #define CPOOL_SIMD_HELPERS(NAME, T) \\
    static inline int cpool_any_below_##NAME(const T* p, Py_ssize_t n, T bound) { \\
        int any = 0; \\
        for (Py_ssize_t j = 0; j < n; j++) any |= p[j] < bound; \\
        return any; \\
    } \\
    static inline int cpool_any_negzero_or_nan_##NAME(const T* p, Py_ssize_t n) { \\
        int any = 0; \\
        for (Py_ssize_t j = 0; j < n; j++) \\
            any |= ((p[j] == 0) & (signbit(p[j]) != 0)) | (p[j] != p[j]); \\
        return any; \\
    } \\
    static inline int cpool_any_nonfinite_##NAME(const T* p, Py_ssize_t n) { \\
        int any = 0; \\
        for (Py_ssize_t j = 0; j < n; j++) any |= (p[j] - p[j]) != 0; \\
        return any; \\
    } \\
    static inline T cpool_run_max_##NAME(const T* p, Py_ssize_t n, T m, int* nan_seen) { return m; } \\
    static inline Py_ssize_t cpool_first_equal_##NAME(const T* p, Py_ssize_t n, T v) { return n; }
    CPOOL_SIMD_HELPERS(f32, float)
    CPOOL_SIMD_HELPERS(f64, double)
    #endif
    """
    bint CPOOL_SSE2
    void cpool_prefetch(const void* p) noexcept nogil
    void cpool_copy_pixels(const char* src, char* dst, Py_ssize_t n, Py_ssize_t step,
                           Py_ssize_t nbytes) noexcept nogil
    float cpool_run_max_f32(const float* p, Py_ssize_t n, float m, int* nan_seen) noexcept nogil
    double cpool_run_max_f64(const double* p, Py_ssize_t n, double m, int* nan_seen) noexcept nogil
    bint cpool_any_below_f32(const float* p, Py_ssize_t n, float bound) noexcept nogil
    bint cpool_any_below_f64(const double* p, Py_ssize_t n, double bound) noexcept nogil
    bint cpool_any_nonfinite_f32(const float* p, Py_ssize_t n) noexcept nogil
    bint cpool_any_nonfinite_f64(const double* p, Py_ssize_t n) noexcept nogil
    bint cpool_any_negzero_or_nan_f32(const float* p, Py_ssize_t n) noexcept nogil
    bint cpool_any_negzero_or_nan_f64(const double* p, Py_ssize_t n) noexcept nogil
    Py_ssize_t cpool_first_equal_f32(const float* p, Py_ssize_t n, float v) noexcept nogil
    Py_ssize_t cpool_first_equal_f64(const double* p, Py_ssize_t n, double v) noexcept nogil

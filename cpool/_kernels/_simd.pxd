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
from libc.stdint cimport int32_t, int64_t, uint64_t


cdef extern from *:
    """
    /* A read-prefetch hint into all cache levels (cpool_prefetch), or into L2 and the levels
       below it, not L1 (cpool_prefetch_l2); no-ops where the compiler has none. On x86 with
       GCC or Clang they are asm statements rather than __builtin_prefetch: GCC 12 deleted
       loops made only of the builtin (it counts them as free of side effects) wherever the
       loop's guard was not a constant, so the hints vanished from most kernels. */
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    #define cpool_prefetch(p) __asm__ __volatile__("prefetcht0 %0" : : "m"(*(const char*)(p)))
    #define cpool_prefetch_l2(p) __asm__ __volatile__("prefetcht1 %0" : : "m"(*(const char*)(p)))
    #elif defined(__GNUC__) || defined(__clang__)
    #define cpool_prefetch(p) __builtin_prefetch((const void*)(p), 0, 3)
    #define cpool_prefetch_l2(p) __builtin_prefetch((const void*)(p), 0, 2)
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #include <xmmintrin.h>
    #define cpool_prefetch(p) _mm_prefetch((const char*)(p), _MM_HINT_T0)
    #define cpool_prefetch_l2(p) _mm_prefetch((const char*)(p), _MM_HINT_T1)
    #else
    #define cpool_prefetch(p) ((void)0)
    #define cpool_prefetch_l2(p) ((void)0)
    #endif
    /* The kernels' stream hints: the lines ``ahead`` bytes past a and b (two rows' places in
       a step of a loop) into L2, where ahead is not 0. */
    #define CPOOL_HINT_ROWS(a, b, ahead) \
        do { if (ahead) { cpool_prefetch_l2((const char*)(a) + (ahead)); \
                          cpool_prefetch_l2((const char*)(b) + (ahead)); } } while (0)
    #include <float.h>
    #include <math.h>
    #include <string.h>
    /* CPOOL_UNROLL: unroll the loop that follows (over a kernel's taps: a trip count that is a
       constant in each copy) at any optimisation level. _window is built at -O2 (setup.py),
       where GCC does not unroll a loop whose unrolled body would be larger. */
    #if defined(__GNUC__) || defined(__clang__)
    #define CPOOL_NOINLINE __attribute__((noinline))
    #define CPOOL_ALWAYS_INLINE inline __attribute__((always_inline))
    #define CPOOL_UNROLL _Pragma("GCC unroll 4")
    #elif defined(_MSC_VER)
    #define CPOOL_NOINLINE
    #define CPOOL_ALWAYS_INLINE __forceinline
    #define CPOOL_UNROLL
    #else
    #define CPOOL_NOINLINE
    #define CPOOL_UNROLL
    #define CPOOL_ALWAYS_INLINE inline
    #endif
    /* The index of the lowest set bit of a nonzero word. */
    static inline int cpool_ctz64(uint64_t bits) {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_ctzll(bits);
    #else
        int k = 0;
        for (; !(bits & 1); bits >>= 1) k++;
        return k;
    #endif
    }
    /* A vector's -0 lanes: (m == 0) & m keeps the sign bit of -0 only. The max kernels or it
       into their flags beside a NaN test: where a column max is -0 the row-separable order
       may keep another zero than PyTorch's scan. 128 and 256 bits (m: a plain variable). The
       256-bit one of AVX2 builds compares the bits with -0's as integers, one instruction in
       place of two: its -0 lanes are all ones. */
    #define CPOOL_NEGZERO(S, m) _mm_and_##S(_mm_cmpeq_##S(m, _mm_setzero_##S()), m)
    #if defined(__AVX2__)
    #define CPOOL_NEGZERO256(S, m) CPOOL_NEGZERO256_##S(m)
    #define CPOOL_NEGZERO256_ps(m) _mm256_castsi256_ps(_mm256_cmpeq_epi32( \\
        _mm256_castps_si256(m), _mm256_set1_epi32(INT32_MIN)))
    #define CPOOL_NEGZERO256_pd(m) _mm256_castsi256_pd(_mm256_cmpeq_epi64( \\
        _mm256_castpd_si256(m), _mm256_set1_epi64x(INT64_MIN)))
    #else
    #define CPOOL_NEGZERO256(S, m) \\
        _mm256_and_##S(_mm256_cmp_##S(m, _mm256_setzero_##S(), _CMP_EQ_OQ), m)
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
    /* RGB bytes (uint8 pixels of 3 lanes) pooled 2 wide at stride 2, as max: out pixel i is
       the lane-wise max of pixels 2i and 2i+1 of the row ``buf`` (6n bytes), for i < n. With
       SSSE3 (the AVX2 build), three pixels a step in one pass: the row and the row 3 bytes on
       maxed in one vector, whose pixels 0, 2 and 4 one byte shuffle packs into 9 bytes
       (stored 16 wide: the spill is the next step's to overwrite, and the loop stops while
       16 bytes still fit). It replaces a max over every pixel and a 3-byte copy per output
       pixel (uint8 HWC images 2x2: the copy was a third of the op). Returns 0 where it has
       no vectors (the caller's own loops then). */
    #if defined(__SSSE3__)
    #include <tmmintrin.h>
    static CPOOL_NOINLINE int cpool_rgb8_max_2s2(const unsigned char* buf, unsigned char* out,
                                                 Py_ssize_t n) {
        const __m128i pick = _mm_setr_epi8(0, 1, 2, 6, 7, 8, 12, 13, 14,
                                           -1, -1, -1, -1, -1, -1, -1);
        Py_ssize_t i = 0;
        int c;
        /* Reads end at byte 6i + 18 <= 6n; writes at 3i + 16 <= 3n. */
        for (; i + 6 <= n; i += 3) {
            __m128i m = _mm_max_epu8(_mm_loadu_si128((const __m128i*)(buf + 6 * i)),
                                     _mm_loadu_si128((const __m128i*)(buf + 6 * i + 3)));
            _mm_storeu_si128((__m128i*)(out + 3 * i), _mm_shuffle_epi8(m, pick));
        }
        for (; i < n; i++)
            for (c = 0; c < 3; c++)
                out[3 * i + c] = buf[6 * i + c] > buf[6 * i + 3 + c] ? buf[6 * i + c]
                                                                     : buf[6 * i + 3 + c];
        return 1;
    }
    #else
    static inline int cpool_rgb8_max_2s2(const unsigned char* buf, unsigned char* out,
                                         Py_ssize_t n) {
        (void)buf; (void)out; (void)n;
        return 0;
    }
    #endif
    /* Rows of RGB bytes max-pooled 2x2 at stride 2 (uint8 HWC images), for the AVX2 build:
       n_rows output rows of n pixels, row r at out + r*out_step from input rows x + r*step
       and x + r*step + below, whose first 6n bytes are maxed into ``buf`` 32 at a time (the
       last 32 overlapping the ones before) and then pooled by cpool_rgb8_max_2s2. One call
       for a plane's run of rows, the input's lines ``ahead`` bytes on hinted into L2 as the
       rows are read (a line of each row per 64 bytes, and each row's last), in place of the
       row loop's burst of hints into L1 before each output row, which a profile of
       (64, 224, 224, 3) put at a tenth of the time (the burst waits on the core's fill
       buffers), with the loop's own work per row at another seventh. Returns 0 where it does
       nothing (no AVX2, or rows of under 32 bytes: the caller's loops then). */
    #if defined(__AVX2__)
    #include <immintrin.h>
    static CPOOL_NOINLINE int cpool_rgb8_max_2x2_rows(
            const unsigned char* x, Py_ssize_t below, Py_ssize_t step, Py_ssize_t n_rows,
            unsigned char* out, Py_ssize_t out_step, Py_ssize_t n, unsigned char* buf,
            Py_ssize_t ahead) {
        Py_ssize_t r, j, m = 6 * n;
        if (m < 32) return 0;
        for (r = 0; r < n_rows; r++) {
            const unsigned char* r0 = x + r * step;
            const unsigned char* r1 = r0 + below;
            /* the 32 bytes at J of the two rows, maxed into buf */
            #define CPOOL_RGB8_PAIR(J) _mm256_storeu_si256((__m256i*)(buf + (J)), \\
                _mm256_max_epu8(_mm256_loadu_si256((const __m256i*)(r0 + (J))), \\
                                _mm256_loadu_si256((const __m256i*)(r1 + (J)))))
            for (j = 0; j + 64 <= m; j += 64) {
                if (ahead) {
                    cpool_prefetch_l2(r0 + j + ahead);
                    cpool_prefetch_l2(r1 + j + ahead);
                }
                CPOOL_RGB8_PAIR(j);
                CPOOL_RGB8_PAIR(j + 32);
            }
            if (ahead) { /* the row's last line */
                cpool_prefetch_l2(r0 + m - 1 + ahead);
                cpool_prefetch_l2(r1 + m - 1 + ahead);
            }
            for (; j < m; j += 32) {
                if (j + 32 > m) j = m - 32;
                CPOOL_RGB8_PAIR(j);
            }
            #undef CPOOL_RGB8_PAIR
            cpool_rgb8_max_2s2(buf, out + r * out_step, n);
        }
        return 1;
    }
    #else
    static inline int cpool_rgb8_max_2x2_rows(
            const unsigned char* x, Py_ssize_t below, Py_ssize_t step, Py_ssize_t n_rows,
            unsigned char* out, Py_ssize_t out_step, Py_ssize_t n, unsigned char* buf,
            Py_ssize_t ahead) {
        (void)x; (void)below; (void)step; (void)n_rows; (void)out; (void)out_step; (void)n;
        (void)buf; (void)ahead;
        return 0;
    }
    #endif
    /* Inside a loop over vectors of N outputs, ``for (; i < n; i += N)``: the last vector of a
       row that is not a whole number of them overlaps the one before (it writes the same
       values twice), and a row of fewer than N outputs leaves the loop for the scalar tail. */
    #define CPOOL_OVERLAP_LAST(i, n, N) \\
        if ((i) + (N) > (n)) { if ((n) < (N)) break; (i) = (n) - (N); }
    /* Global pooling of small contiguous planes (ResNet's and VGG's last 7x7 maps): n_planes
       planes of n values each, one after the other at x. One call per chunk of planes, the
       planes read back to back with the lines ``ahead`` bytes on hinted as they go; per plane
       about a third of the instructions of a call per plane through the general band loop
       (whose per-plane set-up, lane combine and tail cost more than the plane's own adds).
       Return 0 where there are no AVX vectors (the caller's own loops then).
       cpool_plane_sums: totals[p] = the float64 sum of plane p in _global's _run_sum order
         (element f into partial sum f % 8, from +0; the partials combined pairwise; then the
         last n % 8 elements added in order), so its bits are the general loop's. Four planes
         a step, whose combines share their last two vector steps (a step of fewer than four
         planes repeats the first one and keeps only its own results).
       cpool_plane_maxima: out[p] = the max of plane p, or NaN if it has one (any NaN); returns
         0 for planes under the vector width (8 floats, 4 doubles), as cpool_same_3x3_sums
         does for rows. A plane whose length is not a whole
         number of vectors ends with one that overlaps the one before (a max may see a value
         twice). Four planes a step, their NaN checks shared (a step with a NaN redoes its
         planes one by one) and their lanes reduced together. A zero maximum, and with
         ``indices`` (not NULL) every maximum, is then looked up in its plane while the plane
         is in cache (cpool_first_max: the scan's first equal value, its sign of zero and its
         index); before 2026-12-06 the caller searched after the whole call, reading every
         plane from memory a second time. Returns 2 if some max is NaN, else 1: which NaN the
         scan keeps (the last), and its index, the caller finds by its search. */
    /* The values a "same" 3x3 kernel's buffer holds, for rows of W values: a row of W
       identities, the padding row's values (cpool_same_3x3_identities writes it). Until
       2026-12-05 it held a ring of four rows of W + 2 before that row as well. */
    #define CPOOL_SAME_3X3_BUF(W) (W)
    /* cpool_same_3x3_sums and _max where there are no AVX2 vectors: 0, the caller's loops. */
    #define CPOOL_SAME_3X3_NO_CALLS(NAME, T) \\
    static inline int cpool_same_3x3_sums_##NAME(const T* x, Py_ssize_t row_step, Py_ssize_t H, \\
                                                 Py_ssize_t W, T* out, const T* divs, \\
                                                 int reciprocal, int zero_first, T* buf, \\
                                                 int fresh) { \\
        (void)x; (void)row_step; (void)H; (void)W; (void)out; (void)divs; (void)reciprocal; \\
        (void)zero_first; (void)buf; (void)fresh; \\
        return 0; \\
    } \\
    static inline int cpool_same_3x3_max_##NAME(const T* x, Py_ssize_t row_step, Py_ssize_t H, \\
                                                Py_ssize_t W, T* out, T* buf, int fresh) { \\
        (void)x; (void)row_step; (void)H; (void)W; (void)out; (void)buf; (void)fresh; \\
        return 0; \\
    } \\
    static inline int cpool_same_3x3_eval_##NAME(const T* x, Py_ssize_t row_step, Py_ssize_t H, \\
                                                 Py_ssize_t W, T* out, T* buf, T* low, \\
                                                 int has_above, int has_below) { \\
        (void)x; (void)row_step; (void)H; (void)W; (void)out; (void)buf; (void)low; \\
        (void)has_above; (void)has_below; \\
        return 0; \\
    }
    #if defined(__AVX__)
    #include <immintrin.h>
    #define CPOOL_AVX_KERNELS 1
    /* The max of a vector's lanes, in any order (the callers settle zeros and NaNs apart). */
    static inline float cpool_hmax_f32(__m256 m) {
        __m128 w = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        w = _mm_max_ps(w, _mm_movehl_ps(w, w));
        return _mm_cvtss_f32(_mm_max_ss(w, _mm_shuffle_ps(w, w, 1)));
    }
    static inline double cpool_hmax_f64(__m256d m) {
        __m128d w = _mm_max_pd(_mm256_castpd256_pd128(m), _mm256_extractf128_pd(m, 1));
        return _mm_cvtsd_f64(_mm_max_sd(w, _mm_unpackhi_pd(w, w)));
    }
    /* out[k] = the max of vector k's lanes (k = 0..3), in any order, reduced together. */
    static inline void cpool_hmax4_f32(__m256 a, __m256 b, __m256 c, __m256 d, float* out) {
        __m128 a4 = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1)),
               b4 = _mm_max_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1)),
               c4 = _mm_max_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1)),
               d4 = _mm_max_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1)),
               ab = _mm_max_ps(_mm_unpacklo_ps(a4, b4), _mm_unpackhi_ps(a4, b4)),
               cd = _mm_max_ps(_mm_unpacklo_ps(c4, d4), _mm_unpackhi_ps(c4, d4));
        _mm_storeu_ps(out, _mm_max_ps(_mm_movelh_ps(ab, cd), _mm_movehl_ps(cd, ab)));
    }
    static inline void cpool_hmax4_f64(__m256d a, __m256d b, __m256d c, __m256d d,
                                       double* out) {
        __m256d ab = _mm256_max_pd(_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b)),
                cd = _mm256_max_pd(_mm256_unpacklo_pd(c, d), _mm256_unpackhi_pd(c, d));
        _mm256_storeu_pd(out, _mm256_max_pd(_mm256_permute2f128_pd(ab, cd, 0x20),
                                            _mm256_permute2f128_pd(ab, cd, 0x31)));
    }
    /* Whether any of p[0..3] is a zero or NaN (an equal-or-unordered compare with 0). */
    static inline int cpool_any_zero_or_nan4_f32(const float* p) {
        return _mm_movemask_ps(_mm_cmp_ps(_mm_loadu_ps(p), _mm_setzero_ps(), _CMP_EQ_UQ)) != 0;
    }
    static inline int cpool_any_zero_or_nan4_f64(const double* p) {
        return _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(p), _mm256_setzero_pd(),
                                                _CMP_EQ_UQ)) != 0;
    }
    /* Hint the cache lines from *hint up to end into L2, four lines a step (the hints run at
       most three lines past end, which the next call then skips). Into L2, not L1: a hint
       into L1 holds one of the core's few fill buffers until its line arrives, and a line of
       hints a step filled them (the kernel's time piled up on the hints in a profile); on
       the Intel host, global avg of (256, 2048, 7, 7) float32 at one thread took 0.63-0.72x
       the time with hints into L2, global max 0.80-0.97x (docs/performance.md). */
    static inline void cpool_hint_to(const char** hint, const char* end) {
        const char* h = *hint;
        for (; h < end; h += 256) {
            cpool_prefetch_l2(h);
            cpool_prefetch_l2(h + 64);
            cpool_prefetch_l2(h + 128);
            cpool_prefetch_l2(h + 192);
        }
        *hint = h;
    }
    #define CPOOL_PLANE_KERNELS(NAME, T, V, S, N, LOAD_LO, LOAD_HI) \\
    /* The sums of the four planes at q0..q3 (n values each; n_full = n - n % 8), in order. */ \\
    static CPOOL_ALWAYS_INLINE __m256d cpool_sums4_##NAME(const T* q0, const T* q1, \\
                                                          const T* q2, const T* q3, \\
                                                          Py_ssize_t n, Py_ssize_t n_full) { \\
        __m256d l0 = _mm256_setzero_pd(), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, \\
                l3 = l0, h3 = l0, t = l0, s; \\
        Py_ssize_t b, j; \\
        for (b = 0; b < n_full; b += 8) { \\
            l0 = _mm256_add_pd(l0, LOAD_LO(q0 + b)); \\
            h0 = _mm256_add_pd(h0, LOAD_HI(q0 + b)); \\
            l1 = _mm256_add_pd(l1, LOAD_LO(q1 + b)); \\
            h1 = _mm256_add_pd(h1, LOAD_HI(q1 + b)); \\
            l2 = _mm256_add_pd(l2, LOAD_LO(q2 + b)); \\
            h2 = _mm256_add_pd(h2, LOAD_HI(q2 + b)); \\
            l3 = _mm256_add_pd(l3, LOAD_LO(q3 + b)); \\
            h3 = _mm256_add_pd(h3, LOAD_HI(q3 + b)); \\
        } \\
        for (j = n_full; j < n; j++) /* each plane's own tail, in order */ \\
            t = _mm256_add_pd(t, _mm256_setr_pd((double)q0[j], (double)q1[j], (double)q2[j], \\
                                                (double)q3[j])); \\
        /* hadd: (l0+l1, l4+l5, l2+l3, l6+l7); halves added: ((l0+l1)+(l2+l3), \\
           (l4+l5)+(l6+l7)); the last hadd adds each plane's two, in plane order. */ \\
        l0 = _mm256_hadd_pd(l0, h0); \\
        l1 = _mm256_hadd_pd(l1, h1); \\
        l2 = _mm256_hadd_pd(l2, h2); \\
        l3 = _mm256_hadd_pd(l3, h3); \\
        s = _mm256_hadd_pd( \\
            _mm256_add_pd(_mm256_permute2f128_pd(l0, l2, 0x20), \\
                          _mm256_permute2f128_pd(l0, l2, 0x31)), \\
            _mm256_add_pd(_mm256_permute2f128_pd(l1, l3, 0x20), \\
                          _mm256_permute2f128_pd(l1, l3, 0x31))); \\
        return _mm256_add_pd(s, t); \\
    } \\
    static inline int cpool_plane_sums_##NAME(const T* x, Py_ssize_t n_planes, Py_ssize_t n, \\
                                              double* totals, Py_ssize_t ahead) { \\
        Py_ssize_t p, k, n_full = n - n % 8; \\
        const char* hint = (const char*)x + ahead; \\
        const T* q; \\
        double part[4]; \\
        for (p = 0; p + 4 <= n_planes; p += 4) { \\
            q = x + p * n; \\
            cpool_hint_to(&hint, (const char*)(q + 4 * n) + ahead); \\
            _mm256_storeu_pd(totals + p, cpool_sums4_##NAME(q, q + n, q + 2 * n, q + 3 * n, n, \\
                                                            n_full)); \\
        } \\
        if (p < n_planes) { /* one to three planes: the first stands in for the missing ones */ \\
            q = x + p * n; \\
            _mm256_storeu_pd(part, cpool_sums4_##NAME(q, p + 1 < n_planes ? q + n : q, \\
                                                      p + 2 < n_planes ? q + 2 * n : q, q, \\
                                                      n, n_full)); \\
            for (k = 0; p + k < n_planes; k++) totals[p + k] = part[k]; \\
        } \\
        return 1; \\
    } \\
    /* The max of the plane at q, or NaN if it has one: the last vector first, then whole \\
       vectors from the start, two a step (one unordered compare finds a NaN in either). */ \\
    static inline T cpool_max1_##NAME(const T* q, Py_ssize_t n) { \\
        V m = _mm256_loadu_##S(q + n - N), u = _mm256_cmp_##S(m, m, _CMP_UNORD_Q), v, w; \\
        Py_ssize_t j; \\
        for (j = 0; j + 2 * N <= n; j += 2 * N) { \\
            v = _mm256_loadu_##S(q + j); \\
            w = _mm256_loadu_##S(q + j + N); \\
            m = _mm256_max_##S(w, _mm256_max_##S(v, m)); \\
            u = _mm256_or_##S(u, _mm256_cmp_##S(v, w, _CMP_UNORD_Q)); \\
        } \\
        if (j + N <= n) { \\
            v = _mm256_loadu_##S(q + j); \\
            m = _mm256_max_##S(v, m); \\
            u = _mm256_or_##S(u, _mm256_cmp_##S(v, v, _CMP_UNORD_Q)); \\
        } \\
        return _mm256_movemask_##S(u) ? (T)NAN : cpool_hmax_##NAME(m); \\
    } \\
    /* cpool_max1 of the four planes at q, q + n, q + 2n, q + 3n into out[0..3], in the order \\
       of cpool_max1's reads, four planes a step (their maxima reduced together). */ \\
    static CPOOL_ALWAYS_INLINE void cpool_max4_##NAME(const T* q, Py_ssize_t n, T* out) { \\
        const T *q1 = q + n, *q2 = q + 2 * n, *q3 = q + 3 * n; \\
        V m0 = _mm256_loadu_##S(q + n - N), m1 = _mm256_loadu_##S(q1 + n - N), \\
          m2 = _mm256_loadu_##S(q2 + n - N), m3 = _mm256_loadu_##S(q3 + n - N), \\
          u = _mm256_or_##S(_mm256_cmp_##S(m0, m1, _CMP_UNORD_Q), \\
                            _mm256_cmp_##S(m2, m3, _CMP_UNORD_Q)), v0, v1, v2, v3; \\
        Py_ssize_t j; \\
        for (j = 0; j + N <= n; j += N) { \\
            v0 = _mm256_loadu_##S(q + j); \\
            v1 = _mm256_loadu_##S(q1 + j); \\
            v2 = _mm256_loadu_##S(q2 + j); \\
            v3 = _mm256_loadu_##S(q3 + j); \\
            m0 = _mm256_max_##S(v0, m0); \\
            m1 = _mm256_max_##S(v1, m1); \\
            m2 = _mm256_max_##S(v2, m2); \\
            m3 = _mm256_max_##S(v3, m3); \\
            u = _mm256_or_##S(u, _mm256_or_##S(_mm256_cmp_##S(v0, v1, _CMP_UNORD_Q), \\
                                               _mm256_cmp_##S(v2, v3, _CMP_UNORD_Q))); \\
        } \\
        if (_mm256_movemask_##S(u)) { /* a NaN in one of them: which, each plane's own scan says */ \\
            out[0] = cpool_max1_##NAME(q, n); \\
            out[1] = cpool_max1_##NAME(q1, n); \\
            out[2] = cpool_max1_##NAME(q2, n); \\
            out[3] = cpool_max1_##NAME(q3, n); \\
            return; \\
        } \\
        cpool_hmax4_##NAME(m0, m1, m2, m3, out); \\
    } \\
    /* The index of the first of the plane's n >= N values at q equal to b's lanes (one of \\
       them is). The first vector on its own (the zeros of a ReLU's dead channel, where the \\
       values-only max looks: a search of the whole plane there cost 1.14x the time of a \\
       max over planes a quarter of them dead), then the compare masks of eight vectors a \\
       step in one word, so that where in a plane of up to nine vectors it lies takes no \\
       further branch. Values past the last whole vector come from the vector that ends the \\
       plane, its mask shifted into place (its lanes before the step's first value, if any, \\
       were compared in the step before). */ \\
    static inline Py_ssize_t cpool_first_equal256_##NAME(const T* q, Py_ssize_t n, V b) { \\
        Py_ssize_t j, k, at; \\
        uint64_t bits = (unsigned)_mm256_movemask_##S(_mm256_cmp_##S(_mm256_loadu_##S(q), b, \\
                                                                     _CMP_EQ_OQ)), last; \\
        if (bits) return cpool_ctz64(bits); \\
        for (j = N; j < n; j += 8 * N) { \\
            bits = 0; \\
            for (k = 0; k < 8 && j + (k + 1) * N <= n; k++) \\
                bits |= (uint64_t)(unsigned)_mm256_movemask_##S(_mm256_cmp_##S( \\
                    _mm256_loadu_##S(q + j + k * N), b, _CMP_EQ_OQ)) << (k * N); \\
            if (k < 8 && j + k * N < n) { \\
                last = (unsigned)_mm256_movemask_##S(_mm256_cmp_##S( \\
                    _mm256_loadu_##S(q + n - N), b, _CMP_EQ_OQ)); \\
                at = n - N - j; \\
                bits |= at >= 0 ? last << at : last >> -at; \\
            } \\
            if (bits) return j + cpool_ctz64(bits); \\
        } \\
        return n; /* not reached: b is a value of the plane */ \\
    } \\
    /* The cell of PyTorch's scan that holds the plane's maximum *m (n >= N values at q): \\
       the first value equal to it, whose own bits (the sign of a zero) go to *m, its index \\
       to *index unless that is NULL. A NaN maximum is left to the caller's search (the \\
       scan keeps the last NaN): returns 1 for one, else 0. */ \\
    static inline int cpool_first_max_##NAME(const T* q, Py_ssize_t n, T* m, int64_t* index) { \\
        Py_ssize_t j; \\
        if (*m != *m) return 1; \\
        j = cpool_first_equal256_##NAME(q, n, _mm256_set1_##S(*m)); \\
        *m = q[j]; \\
        if (index) *index = j; \\
        return 0; \\
    } \\
    static inline int cpool_plane_maxima_##NAME(const T* x, Py_ssize_t n_planes, Py_ssize_t n, \\
                                                T* out, int64_t* indices, Py_ssize_t ahead) { \\
        Py_ssize_t p, k; \\
        const char* hint = (const char*)x + ahead; \\
        int nan = 0; \\
        if (n < N) return 0; /* planes under a vector: the caller's own loop */ \\
        for (p = 0; p + 4 <= n_planes; p += 4) { \\
            cpool_hint_to(&hint, (const char*)(x + (p + 4) * n) + ahead); \\
            cpool_max4_##NAME(x + p * n, n, out + p); \\
            if (indices || cpool_any_zero_or_nan4_##NAME(out + p)) \\
                for (k = p; k < p + 4; k++) \\
                    if (indices || out[k] == 0 || out[k] != out[k]) \\
                        nan |= cpool_first_max_##NAME(x + k * n, n, out + k, \\
                                                      indices ? indices + k : NULL); \\
        } \\
        for (; p < n_planes; p++) { \\
            out[p] = cpool_max1_##NAME(x + p * n, n); \\
            if (indices || out[p] == 0 || out[p] != out[p]) \\
                nan |= cpool_first_max_##NAME(x + p * n, n, out + p, \\
                                              indices ? indices + p : NULL); \\
        } \\
        return 1 + nan; \\
    }
    /* Sums and averages over 3x3 windows at stride 1 with one cell of padding on each side
       (the "same" 3x3 of avg_pool2d(x, 3, 1, 1)), one plane a call: output row r from input
       rows max(r-1, 0) .. min(r+1, H-1), in _small_plane_rows' steps and order: the rows'
       sum per column ((r0 + r1) + r2), then ((s[i-1] + s[i]) + s[i+1]) with +0 for the
       padding's columns, and _average's step (divs: the plane's divisors, or their exact
       reciprocals with ``reciprocal``; the +0 before or after as ``zero_first``), or for
       sums (divs NULL) the +0 alone. A row at the plane's top or bottom edge sums a row of
       zeros in place of the missing one (0 + s, s + 0: the bits change only for a -0 sum,
       which the final +0 makes +0 in either case). cpool_same_3x3_max: the same windows for
       max_pool2d(x, 3, 1, 1): each column's max of its rows in order, _mm_max(v, m) (m kept
       on ties), the padding's identity -inf, then the max of three column maxima. That is
       the scan's answer wherever no input is NaN (_mm_max drops a NaN v) and no column max
       is -0 (the separable order then keeps another zero than the scan: see _window's
       _scan_order_max); returns 2 where either happens, and the caller redoes the plane by
       its general rows.
       Both by cpool_same_3x3_pairs: output rows two at a time from input rows r - 1 .. r + 2
       (a missing row: the row of W identities, +0 or -inf, at ``edge``). A max shares the
       column max of rows r and r + 1, p = max(x_r+1, x_r); row r's is then max(p, x_r-1) and
       row r + 1's max(x_r+2, p). _mm_max(v, m) keeps m on ties, so each is the first of its
       column's largest values, as the scan order over the rows gives: the same bits as one
       column max at a time. Sums keep their order, (x_r-1 + x_r) + x_r+1, so share only the
       rows' loads. The columns' neighbours come from the vectors beside them in registers (a
       lane shift across the two halves: an alignr each, from one permute2f128 a vector, its
       halves with the next vector, which serve both its right neighbours and the next vector's
       left ones), with the identity before the first column and after the last. A row's last
       vector reads the row's last N values and moves them down to its first W - N(K - 1) lanes
       (the rest the identity; the divisors likewise); its outputs are stored that many lanes
       wide, so nothing outside the row is read or written. A max's flags: a NaN in any row
       (unordered compare of the two middle rows) or a -0 column max (float32: the least column
       max as an int32, which is INT_MIN only for -0; float64: the -0 lanes). A last row of its
       own (H odd) runs as the pair's first with the row above as the pair's fourth (its second
       row's outputs are written first and then over). Returns 0 for rows under a vector (the
       caller's own loops then). buf holds CPOOL_SAME_3X3_BUF(W) values, the row of
       identities, written when ``fresh`` (a buffer's first plane: no call writes over it).
       Against a ring of buffer rows, which both took until 2026-12-05 (each input row's
       column sums or maxima stored to a buffer row, then swept back with three loads an
       output): a C model, planes in L2, took 0.72-0.81 of the time for max and 0.62-0.89
       for averages on planes 8 to 112 wide.
       cpool_same_3x3_eval: stochastic pooling's evaluation (training=False) over the same
       windows, by cpool_same_3x3_pairs too (mode 6): each row pair's column sums of the
       values and of their squares in _stochastic's _eval_rows3 order, the three columns of
       each in _ratio_row's, then cpool_same_3x3_out's ratio; *low the smaller of itself and
       every value read but NaN (or the padding's 0). Returns 2 where some output is
       infinite or NaN (the caller redoes those), else 1, so the caller does not scan the
       plane again. It takes a band of a plane's rows as well (has_above, has_below: the
       rows beyond the band are the plane's), computing each output as the whole plane's
       call does. buf: a row of W zeros (written by each call). Until 2026-12-06 it had a
       ring of its own, each input row's column sums and squares stored to buffer rows and
       swept back with three loads each, and its flags were each output's v - v ORed
       together (now the outputs' sum, one operation). Against it, one thread, the two
       builds alternated: eval 3x3 s1 p1 on (32, 128, 28, 28) 1.75-1.77 -> 1.35-1.39 ms, on
       (4, 128, 28, 28) 0.224-0.233 -> 0.178-0.185, on 14- and 56-wide planes 0.72-0.75 of
       the time, on 112 0.75-0.81; avg and max 3x3 s1 p1 (the one permute2f128 a vector)
       0.95-1.01. */
    /* Vectors as float32 lanes and back (permutevar8x32 for both types). */
    #define CPOOL_PS_ps(v) (v)
    #define CPOOL_PS_pd(v) _mm256_castpd_ps(v)
    #define CPOOL_FROM_PS_ps(v) (v)
    #define CPOOL_FROM_PS_pd(v) _mm256_castps_pd(v)
    #define CPOOL_SAME_3X3_REGS(NAME, T, V, S, N) \\
    /* The two halves across vectors a and b, [a's high half, b's low half]: a row's sweep \\
       makes one per vector (halves(cur, next) is the next vector's halves(prev, cur)). */ \\
    static CPOOL_ALWAYS_INLINE V cpool_halves_##NAME(V a, V b) { \\
        return _mm256_permute2f128_##S(a, b, 0x21); \\
    } \\
    /* Lanes shifted by one value: [prev's last, cur's first N - 1] from h = halves(prev, \\
       cur), and [cur's last N - 1, next's first] from h = halves(cur, next). */ \\
    static CPOOL_ALWAYS_INLINE V cpool_shift_in_##NAME(V cur, V h) { \\
        return _mm256_castsi256_##S(_mm256_alignr_epi8( \\
            _mm256_cast##S##_si256(cur), _mm256_cast##S##_si256(h), 16 - (int)sizeof(T))); \\
    } \\
    static CPOOL_ALWAYS_INLINE V cpool_shift_out_##NAME(V cur, V h) { \\
        return _mm256_castsi256_##S(_mm256_alignr_epi8( \\
            _mm256_cast##S##_si256(h), _mm256_cast##S##_si256(cur), (int)sizeof(T))); \\
    } \\
    /* A vector of outputs from its columns' values (cur) and the vectors beside them (by \\
       h_in = halves(prev, cur) and h_out = halves(cur, next)): max(max(left, centre), \\
       right) (mode 5), or ((left + centre) + right) and then the average's steps with the \\
       divisors dv (mode 0: sums, dv unread; 1, 2: divide, the +0 first or last; 3, 4: \\
       multiply likewise; 6: the sum alone, for cpool_same_3x3_out). */ \\
    static CPOOL_ALWAYS_INLINE V cpool_same_3x3_across_##NAME(V cur, V h_in, V h_out, V dv, \\
                                                              const int mode) { \\
        const V z = _mm256_setzero_##S(); \\
        V left = cpool_shift_in_##NAME(cur, h_in), right = cpool_shift_out_##NAME(cur, h_out), v; \\
        if (mode == 5) return _mm256_max_##S(_mm256_max_##S(left, cur), right); \\
        v = _mm256_add_##S(_mm256_add_##S(left, cur), right); \\
        if (mode == 6) return v; \\
        if (mode == 0 || mode == 1 || mode == 3) v = _mm256_add_##S(v, z); \\
        if (mode == 1 || mode == 2) v = _mm256_div_##S(v, dv); \\
        if (mode == 3 || mode == 4) v = _mm256_mul_##S(v, dv); \\
        if (mode == 2 || mode == 4) v = _mm256_add_##S(v, z); \\
        return v; \\
    } \\
    /* A vector of outputs: across's (modes 0 to 5), or stochastic evaluation's (mode 6) from \\
       the window sums of the values (cur, h_in, h_out) and of their squares (qcur, qh_in, \\
       qh_out): sq / max(sa, the dtype's smallest normal), added into *flags (a lane's sum is \\
       not finite once an output in it is not, or, rarely, when the sum overflows: the \\
       caller's redo then finds nothing to redo). That is _stochastic's _ratio (sq / (sa if \\
       sa != 0 else 1), or sa where sa is infinite) bit for bit wherever no value is \\
       negative (the call then raises) and sa is finite: a sum under the smallest normal is \\
       of values whose squares are all 0, so both give +0; a NaN sum comes with a NaN sq, \\
       which the division keeps either way. An infinite sa gives NaN here (inf / inf) where \\
       _ratio gives inf; the caller redoes every output not finite (_eval_window gives inf \\
       to a window holding an infinity and no NaN). One operation a vector in place of \\
       _ratio's two compares and two blends. */ \\
    static CPOOL_ALWAYS_INLINE V cpool_same_3x3_out_##NAME(V cur, V h_in, V h_out, V qcur, \\
                                                           V qh_in, V qh_out, V dv, V* flags, \\
                                                           const int mode) { \\
        V sa, v; \\
        if (mode != 6) return cpool_same_3x3_across_##NAME(cur, h_in, h_out, dv, mode); \\
        sa = cpool_same_3x3_across_##NAME(cur, h_in, h_out, dv, 6); \\
        v = _mm256_div_##S(cpool_same_3x3_across_##NAME(qcur, qh_in, qh_out, dv, 6), \\
                           _mm256_max_##S(sa, _mm256_set1_##S(sizeof(T) == 4 ? FLT_MIN \\
                                                                            : DBL_MIN))); \\
        *flags = _mm256_add_##S(*flags, v); \\
        return v; \\
    } \\
    /* The first ``bytes`` bytes of v at o (bytes < 32, a multiple of sizeof(T)). */ \\
    static CPOOL_ALWAYS_INLINE void cpool_store_first_##NAME(T* o, V v, Py_ssize_t bytes) { \\
        __m256i w = _mm256_cast##S##_si256(v); \\
        __m128i part = _mm256_castsi256_si128(w); \\
        char* at = (char*)o; \\
        if (bytes & 16) { \\
            _mm_storeu_si128((__m128i*)at, part); \\
            at += 16; \\
            part = _mm256_extracti128_si256(w, 1); \\
        } \\
        if (bytes & 8) { \\
            _mm_storel_epi64((__m128i*)at, part); \\
            at += 8; \\
            part = _mm_srli_si128(part, 8); \\
        } \\
        if (bytes & 4) { \\
            int32_t low = _mm_cvtsi128_si32(part); \\
            memcpy(at, &low, 4); \\
        } \\
    } \\
    /* A row's last N values moved down to the first R lanes (to_last). */ \\
    static CPOOL_ALWAYS_INLINE V cpool_last_of_row_##NAME(const T* row, Py_ssize_t W, \\
                                                          __m256i to_last) { \\
        return CPOOL_FROM_PS_##S(_mm256_permutevar8x32_ps( \\
            CPOOL_PS_##S(_mm256_loadu_##S(row + W - N)), to_last)); \\
    } \\
    /* What a row pair's sweep carries from one vector to the next: the column sums (or \\
       maxima) of the vector before (c0, c1: the pair's two output rows) and their halves \\
       with the one before that (h0, h1); for stochastic evaluation (mode 6) those of the \\
       squares too (q...), and the running minimum of the values read (low); the flags (NaN \\
       bits, or a max's masks) and a float32 max's least column max as an int32 (least). */ \\
    typedef struct { \\
        V h0, h1, c0, c1, qh0, qh1, qc0, qc1, flags, low; \\
        __m256i least; \\
    } cpool_same_3x3_state_##NAME; \\
    /* One vector of the pair's four rows (a, b, c, d): the two rows' column maxima (mode 5) \\
       or sums, n0 and n1 (and of squares, m0 and m1: mode 6), and the outputs of the vector \\
       before at o1 + at and then o0 + at, with the divisors at d0 + at and d1 + at (none \\
       where at < 0: the row's first vector). */ \\
    static CPOOL_ALWAYS_INLINE void cpool_same_3x3_pair_step_##NAME( \\
            V va, V vb, V vc, V vd, T* o0, T* o1, const T* d0, const T* d1, Py_ssize_t at, \\
            cpool_same_3x3_state_##NAME* st, const int mode) { \\
        V p, n0, n1, dv0 = _mm256_setzero_##S(), dv1 = dv0, m0 = dv0, m1 = dv0, hn0, hn1, \\
          qhn0 = dv0, qhn1 = dv0; \\
        if (mode == 5) { \\
            p = _mm256_max_##S(vc, vb); \\
            n0 = _mm256_max_##S(p, va); \\
            n1 = _mm256_max_##S(vd, p); \\
            st->flags = _mm256_or_##S(st->flags, _mm256_cmp_##S(vb, vc, _CMP_UNORD_Q)); \\
            if (sizeof(T) == 4) \\
                st->least = _mm256_min_epi32(st->least, _mm256_min_epi32( \\
                    _mm256_cast##S##_si256(n0), _mm256_cast##S##_si256(n1))); \\
            else \\
                st->flags = _mm256_or_##S(st->flags, _mm256_or_##S(CPOOL_NEGZERO256(S, n0), \\
                                                                   CPOOL_NEGZERO256(S, n1))); \\
        } else { \\
            n0 = _mm256_add_##S(_mm256_add_##S(va, vb), vc); \\
            n1 = _mm256_add_##S(_mm256_add_##S(vb, vc), vd); \\
        } \\
        if (mode == 6) { \\
            /* _eval_rows3's order, (a*a + b*b) + c*c; min(v, m) is m where v is NaN */ \\
            V qb = _mm256_mul_##S(vb, vb), qc = _mm256_mul_##S(vc, vc); \\
            m0 = _mm256_add_##S(_mm256_add_##S(_mm256_mul_##S(va, va), qb), qc); \\
            m1 = _mm256_add_##S(_mm256_add_##S(qb, qc), _mm256_mul_##S(vd, vd)); \\
            st->low = _mm256_min_##S(vc, _mm256_min_##S(vb, st->low)); \\
        } \\
        hn0 = cpool_halves_##NAME(st->c0, n0); \\
        hn1 = cpool_halves_##NAME(st->c1, n1); \\
        if (mode == 6) { \\
            qhn0 = cpool_halves_##NAME(st->qc0, m0); \\
            qhn1 = cpool_halves_##NAME(st->qc1, m1); \\
        } \\
        if (at >= 0) { \\
            if (mode >= 1 && mode <= 4) { \\
                dv0 = _mm256_loadu_##S(d0 + at); \\
                dv1 = _mm256_loadu_##S(d1 + at); \\
            } \\
            _mm256_storeu_##S(o1 + at, cpool_same_3x3_out_##NAME( \\
                st->c1, st->h1, hn1, st->qc1, st->qh1, qhn1, dv1, &st->flags, mode)); \\
            _mm256_storeu_##S(o0 + at, cpool_same_3x3_out_##NAME( \\
                st->c0, st->h0, hn0, st->qc0, st->qh0, qhn0, dv0, &st->flags, mode)); \\
        } \\
        st->h0 = hn0; \\
        st->h1 = hn1; \\
        st->c0 = n0; \\
        st->c1 = n1; \\
        if (mode == 6) { \\
            st->qh0 = qhn0; \\
            st->qh1 = qhn1; \\
            st->qc0 = m0; \\
            st->qc1 = m1; \\
        } \\
    } \\
    /* Output rows 0 .. H - 1 (out, W apart) from input rows at x, row_step apart, with the \\
       plane's divisors (W apart, modes 1 to 4) at divs and a row of W identities at edge for \\
       the rows past the plane's (x's rows -1 and H where has_above and has_below: x is then \\
       a band of a plane's rows); returns 2 where flags are set (a max's, or an evaluation's \\
       output not finite), else 1. *low (mode 6): the smaller of itself and every value of \\
       rows 0 .. H - 1 but NaN, or 0 (the padding's). */ \\
    static CPOOL_ALWAYS_INLINE int cpool_same_3x3_pairs_##NAME( \\
            const T* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W, T* out, \\
            const T* divs, const T* edge, int has_above, int has_below, V* low, \\
            const int mode) { \\
        const V zero = _mm256_setzero_##S(); \\
        const V identity = mode == 5 ? _mm256_set1_##S((T)-INFINITY) : zero; \\
        const Py_ssize_t K = (W + N - 1) / N, R = W - N * (K - 1), per = 8 / N; \\
        int32_t order[8], lanes[8]; \\
        __m256i to_last; \\
        V last_lanes, tail_flags; \\
        cpool_same_3x3_state_##NAME st; \\
        Py_ssize_t r, k, i, e; \\
        st.least = _mm256_set1_epi32(-1); \\
        st.flags = zero; \\
        st.low = *low; \\
        /* the last vector's lanes: value e of the row's last N to lane e - (N - R) */ \\
        for (i = 0; i < 8; i++) { \\
            e = i / per + N - R; \\
            order[i] = (int32_t)((e < N ? e : N - 1) * per + i % per); \\
            lanes[i] = i / per < R ? -1 : 0; \\
        } \\
        to_last = _mm256_loadu_si256((const __m256i*)order); \\
        last_lanes = _mm256_castsi256_##S(_mm256_loadu_si256((const __m256i*)lanes)); \\
        for (r = 0; r < H; r += 2) { \\
            const T *b = x + r * row_step, *a = r > 0 || has_above ? b - row_step : edge; \\
            const T *c = r + 1 < H || has_below ? b + row_step : edge; \\
            const T *d = r + 2 < H || (r + 2 == H && has_below) ? b + 2 * row_step \\
                         : r + 1 < H ? edge : a; \\
            const T *d0 = divs != NULL ? divs + r * W : NULL; \\
            const T *d1 = divs != NULL && r + 1 < H ? d0 + W : d0; \\
            T *o0 = out + r * W, *o1 = r + 1 < H ? o0 + W : o0; \\
            V dv0 = zero, dv1 = zero, last0, last1; \\
            st.h0 = st.h1 = st.c0 = st.c1 = identity; \\
            st.qh0 = st.qh1 = st.qc0 = st.qc1 = zero; \\
            for (k = 0; k + 1 < K; k++) \\
                cpool_same_3x3_pair_step_##NAME( \\
                    _mm256_loadu_##S(a + k * N), _mm256_loadu_##S(b + k * N), \\
                    _mm256_loadu_##S(c + k * N), _mm256_loadu_##S(d + k * N), o0, o1, d0, d1, \\
                    (k - 1) * N, &st, mode); \\
            cpool_same_3x3_pair_step_##NAME( \\
                _mm256_blendv_##S(identity, cpool_last_of_row_##NAME(a, W, to_last), last_lanes), \\
                _mm256_blendv_##S(identity, cpool_last_of_row_##NAME(b, W, to_last), last_lanes), \\
                _mm256_blendv_##S(identity, cpool_last_of_row_##NAME(c, W, to_last), last_lanes), \\
                _mm256_blendv_##S(identity, cpool_last_of_row_##NAME(d, W, to_last), last_lanes), \\
                o0, o1, d0, d1, (K - 2) * N, &st, mode); \\
            if (mode >= 1 && mode <= 4) { \\
                dv0 = cpool_last_of_row_##NAME(d0, W, to_last); \\
                dv1 = cpool_last_of_row_##NAME(d1, W, to_last); \\
            } \\
            /* (the lanes past the row's last value are not outputs: their flags are not) */ \\
            tail_flags = zero; \\
            last1 = cpool_same_3x3_out_##NAME( \\
                st.c1, st.h1, cpool_halves_##NAME(st.c1, identity), st.qc1, st.qh1, \\
                cpool_halves_##NAME(st.qc1, zero), dv1, &tail_flags, mode); \\
            last0 = cpool_same_3x3_out_##NAME( \\
                st.c0, st.h0, cpool_halves_##NAME(st.c0, identity), st.qc0, st.qh0, \\
                cpool_halves_##NAME(st.qc0, zero), dv0, &tail_flags, mode); \\
            tail_flags = _mm256_and_##S(tail_flags, last_lanes); \\
            st.flags = mode == 6 ? _mm256_add_##S(st.flags, tail_flags) \\
                                 : _mm256_or_##S(st.flags, tail_flags); \\
            if (R == N) { \\
                _mm256_storeu_##S(o1 + (K - 1) * N, last1); \\
                _mm256_storeu_##S(o0 + (K - 1) * N, last0); \\
            } else { \\
                cpool_store_first_##NAME(o1 + (K - 1) * N, last1, R * (Py_ssize_t)sizeof(T)); \\
                cpool_store_first_##NAME(o0 + (K - 1) * N, last0, R * (Py_ssize_t)sizeof(T)); \\
            } \\
        } \\
        if (mode == 5 && sizeof(T) == 4) /* -0 is the one float32 whose bits are INT_MIN */ \\
            st.flags = _mm256_or_##S(st.flags, _mm256_castsi256_##S( \\
                _mm256_cmpeq_epi32(st.least, _mm256_set1_epi32(INT32_MIN)))); \\
        *low = st.low; \\
        if (mode == 6) /* NaN bits where a lane's sum of outputs is not finite, else +0 */ \\
            st.flags = _mm256_sub_##S(st.flags, st.flags); \\
        return 1 + !_mm256_testz_si256(_mm256_cast##S##_si256(st.flags), \\
                                       _mm256_cast##S##_si256(st.flags)); \\
    }
    #if defined(__AVX2__)
    #define CPOOL_SAME_3X3_KERNELS 1
    #define CPOOL_SAME_3X3_CALLS(NAME, T, V, S, N) \\
    /* The buffer's row of identities (a buffer's first plane). */ \\
    static inline void cpool_same_3x3_identities_##NAME(T* buf, Py_ssize_t W, T identity) { \\
        Py_ssize_t j; \\
        for (j = 0; j < CPOOL_SAME_3X3_BUF(W); j++) buf[j] = identity; \\
    } \\
    /* (Not inlined into the callers' large loops: inlined there, the ring's loop made rows of \\
       6 vectors or more 8-24% slower than the two-row loop before it.) */ \\
    static CPOOL_NOINLINE int cpool_same_3x3_sums_##NAME( \\
            const T* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W, T* out, \\
            const T* divs, int reciprocal, int zero_first, T* buf, int fresh) { \\
        const T* identities = buf; \\
        V unused = _mm256_setzero_##S(); \\
        if (W < N) return 0; \\
        if (fresh) cpool_same_3x3_identities_##NAME(buf, W, 0); \\
        if (divs == NULL) \\
            return cpool_same_3x3_pairs_##NAME(x, row_step, H, W, out, divs, identities, 0, 0, \\
                                               &unused, 0); \\
        if (!reciprocal) \\
            return cpool_same_3x3_pairs_##NAME(x, row_step, H, W, out, divs, identities, 0, 0, \\
                                               &unused, zero_first ? 1 : 2); \\
        return cpool_same_3x3_pairs_##NAME(x, row_step, H, W, out, divs, identities, 0, 0, \\
                                           &unused, zero_first ? 3 : 4); \\
    } \\
    static CPOOL_NOINLINE int cpool_same_3x3_max_##NAME( \\
            const T* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W, T* out, T* buf, \\
            int fresh) { \\
        V unused = _mm256_setzero_##S(); \\
        if (W < N) return 0; \\
        if (fresh) cpool_same_3x3_identities_##NAME(buf, W, (T)-INFINITY); \\
        return cpool_same_3x3_pairs_##NAME(x, row_step, H, W, out, NULL, buf, 0, 0, &unused, \\
                                           5); \\
    } \\
    /* Stochastic evaluation over the same windows (mode 6): the row pairs' sums of the values \\
       and of their squares, in _stochastic's _eval_rows3 and _ratio_row order, then \\
       cpool_same_3x3_out's ratio; *low the smaller of itself and every value read but NaN \\
       (or 0). buf: the row of W zeros for the padding's rows, written here. */ \\
    static CPOOL_NOINLINE int cpool_same_3x3_eval_##NAME(const T* x, Py_ssize_t row_step, \\
                                                         Py_ssize_t H, Py_ssize_t W, T* out, \\
                                                         T* buf, T* low, int has_above, \\
                                                         int has_below) { \\
        V m = _mm256_set1_##S(*low); \\
        T lanes[N], v; \\
        Py_ssize_t j; \\
        int state; \\
        if (W < N) return 0; \\
        for (j = 0; j < W; j++) buf[j] = 0; \\
        state = cpool_same_3x3_pairs_##NAME(x, row_step, H, W, out, NULL, buf, has_above, \\
                                            has_below, &m, 6); \\
        _mm256_storeu_##S(lanes, m); \\
        for (v = *low, j = 0; j < N; j++) v = lanes[j] < v ? lanes[j] : v; \\
        *low = v; \\
        return state; \\
    }
    CPOOL_SAME_3X3_REGS(f32, float, __m256, ps, 8)
    CPOOL_SAME_3X3_REGS(f64, double, __m256d, pd, 4)
    CPOOL_SAME_3X3_CALLS(f32, float, __m256, ps, 8)
    CPOOL_SAME_3X3_CALLS(f64, double, __m256d, pd, 4)
    #else /* AVX without AVX2 (a baseline built with -mavx): the lane shifts need AVX2 */
    #define CPOOL_SAME_3X3_KERNELS 0
    CPOOL_SAME_3X3_NO_CALLS(f32, float)
    CPOOL_SAME_3X3_NO_CALLS(f64, double)
    #endif
    #define CPOOL_LOAD_LO_f32(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
    #define CPOOL_LOAD_HI_f32(p) _mm256_cvtps_pd(_mm_loadu_ps((p) + 4))
    #define CPOOL_LOAD_LO_f64(p) _mm256_loadu_pd(p)
    #define CPOOL_LOAD_HI_f64(p) _mm256_loadu_pd((p) + 4)
    CPOOL_PLANE_KERNELS(f32, float, __m256, ps, 8, CPOOL_LOAD_LO_f32, CPOOL_LOAD_HI_f32)
    CPOOL_PLANE_KERNELS(f64, double, __m256d, pd, 4, CPOOL_LOAD_LO_f64, CPOOL_LOAD_HI_f64)
    #else
    #define CPOOL_AVX_KERNELS 0
    #define CPOOL_SAME_3X3_KERNELS 0
    #define CPOOL_PLANE_KERNELS(NAME, T) \\
    static inline int cpool_plane_sums_##NAME(const T* x, Py_ssize_t n_planes, Py_ssize_t n, \\
                                              double* totals, Py_ssize_t ahead) { \\
        (void)x; (void)n_planes; (void)n; (void)totals; (void)ahead; \\
        return 0; \\
    } \\
    static inline int cpool_plane_maxima_##NAME(const T* x, Py_ssize_t n_planes, Py_ssize_t n, \\
                                                T* out, int64_t* indices, Py_ssize_t ahead) { \\
        (void)x; (void)n_planes; (void)n; (void)out; (void)indices; (void)ahead; \\
        return 0; \\
    }
    CPOOL_PLANE_KERNELS(f32, float)
    CPOOL_PLANE_KERNELS(f64, double)
    CPOOL_SAME_3X3_NO_CALLS(f32, float)
    CPOOL_SAME_3X3_NO_CALLS(f64, double)
    #endif
    /* PyTorch's max update, as _types' _take_max: v replaces m where v > m or v is NaN. */
    #define CPOOL_TAKE_MAX(m, v) (((v) > (m)) | ((v) != (v)) ? (v) : (m))
    /* One output of each tile helper below (cpool_tiles_2x2, cpool_tiles_3x3_max,
       cpool_spread_2x2, cpool_eval_2x2, cpool_horizontal_s2, cpool_argmax_s2), in scalar code: the tails of
       their vector versions (rows of fewer outputs than a vector) and the whole of their
       portable ones. */
    /* An unsigned integer as wide as each float: its bits, for selects by mask. */
    #define CPOOL_BITS_f32 uint32_t
    #define CPOOL_BITS_f64 uint64_t
    #define CPOOL_TILE_SCALARS(NAME, T) \\
    static inline T cpool_horizontal_s2_one_##NAME(const T* buf, Py_ssize_t i, int k, int op) { \\
        T c = buf[2 * i]; \\
        c = op == 2 ? CPOOL_TAKE_MAX(c, buf[2 * i + 1]) : c + buf[2 * i + 1]; \\
        if (k == 3) c = op == 2 ? CPOOL_TAKE_MAX(c, buf[2 * i + 2]) : c + buf[2 * i + 2]; \\
        return c; \\
    } \\
    static inline T cpool_tile_2x2_one_##NAME(const T* r0, const T* r1, Py_ssize_t i, int op, \\
                                              T scale, int* any) { \\
        T c0, c1; \\
        if (op == 2) { \\
            c0 = r1[2 * i] > r0[2 * i] ? r1[2 * i] : r0[2 * i]; \\
            c1 = r1[2 * i + 1] > r0[2 * i + 1] ? r1[2 * i + 1] : r0[2 * i + 1]; \\
            *any |= (r0[2 * i] != r0[2 * i]) | (r1[2 * i] != r1[2 * i]) \\
                    | (r0[2 * i + 1] != r0[2 * i + 1]) | (r1[2 * i + 1] != r1[2 * i + 1]) \\
                    | ((c0 == 0) & (signbit(c0) != 0)) | ((c1 == 0) & (signbit(c1) != 0)); \\
            return c1 > c0 ? c1 : c0; \\
        } \\
        if (op == 1) \\
            return ((r0[2 * i] * r0[2 * i] + r1[2 * i] * r1[2 * i]) \\
                    + (r0[2 * i + 1] * r0[2 * i + 1] + r1[2 * i + 1] * r1[2 * i + 1])) * scale; \\
        return ((r0[2 * i] + r1[2 * i]) + (r0[2 * i + 1] + r1[2 * i + 1]) \\
                + (op == 3 ? (T)0 : (T)-0.0)) * scale + (op == 3 ? (T)-0.0 : (T)0); \\
    } \\
    /* The max of a column's taps, three rows at p, p + below and p + 2*below of each of \\
       n_depth slices depth_step apart (a 3-D window's), in (slice, row) order, and of n_cols \\
       (0 to 3) such columns from p, in order, by selects (v > m ? v : m: no branch); *any set \\
       where a tap is NaN or a column max -0, whose bits are then a scan's. */ \\
    static inline T cpool_column_3_##NAME(const T* p, Py_ssize_t below, Py_ssize_t depth_step, \\
                                          Py_ssize_t n_depth, int* any) { \\
        T c = p[0], v; \\
        Py_ssize_t sl, t; \\
        *any |= c != c; \\
        for (sl = 0; sl < n_depth; sl++) \\
            for (t = sl == 0; t < 3; t++) { \\
                v = p[sl * depth_step + t * below]; \\
                *any |= v != v; \\
                c = v > c ? v : c; \\
            } \\
        *any |= (c == 0) & (signbit(c) != 0); \\
        return c; \\
    } \\
    static inline T cpool_window_3_rows_##NAME(const T* p, Py_ssize_t below, \\
                                               Py_ssize_t depth_step, Py_ssize_t n_depth, \\
                                               Py_ssize_t n_cols, int* any) { \\
        T m, c; \\
        Py_ssize_t u; \\
        if (n_cols <= 0) return -(T)INFINITY; \\
        m = cpool_column_3_##NAME(p, below, depth_step, n_depth, any); \\
        for (u = 1; u < n_cols; u++) { \\
            c = cpool_column_3_##NAME(p + u, below, depth_step, n_depth, any); \\
            m = c > m ? c : m; \\
        } \\
        return m; \\
    } \\
    static inline T cpool_tile_3x3_one_##NAME(const T* row, Py_ssize_t below, \\
                                              Py_ssize_t depth_step, Py_ssize_t n_depth, \\
                                              Py_ssize_t i, int* any) { \\
        return cpool_window_3_rows_##NAME(row + 2 * i, below, depth_step, n_depth, 3, any); \\
    } \\
    static inline void cpool_spread_2x2_one_##NAME(const T* src, const T* div, int mode, T* r0, \\
                                                   T* r1, Py_ssize_t i) { \\
        T w = (mode == 1 ? src[i] * div[i] : mode == 2 ? src[i] / div[i] : src[i]) + (T)0; \\
        r0[2 * i] = r0[2 * i + 1] = r1[2 * i] = r1[2 * i + 1] = w; \\
    } \\
    /* PyTorch's scan of one window with its index: n_cols columns from cell of rows \\
       cell + t*below (t < n_rows), the first tap the start; a tap's index is ``at`` + its \\
       column + t * index_below (the vector steps' tails, the cut windows of padded rows). \\
       The winner and its index are kept by masks on their bits, not branches (which random \\
       data mispredicts; GCC made branches of plain selects): max 3x3 s2 p1 with indices in \\
       cache, (4, 64, 112, 112), one thread, 1.72 -> 1.65 ms; max 2x2 s1 p1 7.5 -> 7.1 ms. */ \\
    static inline void cpool_argmax_window_##NAME(const T* cell, Py_ssize_t below, \\
                                                  Py_ssize_t n_rows, Py_ssize_t n_cols, \\
                                                  int64_t at, int64_t index_below, T* out, \\
                                                  int64_t* idx) { \\
        T v = cell[0]; \\
        CPOOL_BITS_##NAME m, w, keep; \\
        int64_t best = at, take; \\
        Py_ssize_t t, c; \\
        memcpy(&m, &v, sizeof m); \\
        for (t = 0; t < n_rows; t++) \\
            for (c = 0; c < n_cols; c++) { \\
                T cur; \\
                memcpy(&cur, &m, sizeof cur); \\
                v = cell[t * below + c]; \\
                memcpy(&w, &v, sizeof w); \\
                take = -(int64_t)((v > cur) | (v != v)); \\
                keep = (CPOOL_BITS_##NAME)take; \\
                m = (w & keep) | (m & ~keep); \\
                best = ((at + t * index_below + c) & take) | (best & ~take); \\
            } \\
        memcpy(out, &m, sizeof m); \\
        *idx = best; \\
    } \\
    static inline void cpool_argmax_s2_one_##NAME(const T* x, Py_ssize_t below, int k, \\
                                                  Py_ssize_t i, int64_t base, \\
                                                  int64_t index_below, T* out, int64_t* idx) { \\
        cpool_argmax_window_##NAME(x + 2 * i, below, k, k, base + 2 * i, index_below, \\
                                   out + i, idx + i); \\
    } \\
    static inline T cpool_eval_2x2_one_##NAME(const T* r0, const T* r1, Py_ssize_t i, T* low) { \\
        T sa, sq, v = *low; \\
        v = r0[2 * i] < v ? r0[2 * i] : v; \\
        v = r0[2 * i + 1] < v ? r0[2 * i + 1] : v; \\
        v = r1[2 * i] < v ? r1[2 * i] : v; \\
        *low = r1[2 * i + 1] < v ? r1[2 * i + 1] : v; \\
        sa = (r0[2 * i] + r1[2 * i]) + (r0[2 * i + 1] + r1[2 * i + 1]); \\
        sq = (r0[2 * i] * r0[2 * i] + r1[2 * i] * r1[2 * i]) \\
             + (r0[2 * i + 1] * r0[2 * i + 1] + r1[2 * i + 1] * r1[2 * i + 1]); \\
        sq = sq / (sa != 0 ? sa : 1); \\
        return sa == INFINITY ? sa : sq; \\
    }
    CPOOL_TILE_SCALARS(f32, float)
    CPOOL_TILE_SCALARS(f64, double)
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
    /* Whether any of p[0:n] is -0 or NaN. */ \\
    static inline int cpool_any_negzero_or_nan_##NAME(const T* p, Py_ssize_t n) { \\
        V m = _mm_setzero_##S(), v; \\
        Py_ssize_t j = 0; \\
        int any; \\
        for (; j + N <= n; j += N) { \\
            v = _mm_loadu_##S(p + j); \\
            m = _mm_or_##S(m, _mm_or_##S(CPOOL_NEGZERO(S, v), _mm_cmpunord_##S(v, v))); \\
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
        V m = _mm256_setzero_##S(), v; \\
        Py_ssize_t j = 0; \\
        for (; j + N <= n; j += N) { \\
            v = _mm256_loadu_##S(p + j); \\
            m = _mm256_or_##S(m, _mm256_or_##S(CPOOL_NEGZERO256(S, v), \\
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
    /* Rows of 2x2 tiles (2x2 stride 2 pooling): out[i] for i < n reduces columns 2i and 2i+1
       of rows r0 and r1, each column first, then the two columns: OP 0 sums, 1 sums squares
       (the bits of _vertical then _horizontal: (a0 + b0) + (a1 + b1)), each sum times ``scale``
       (1 leaves it as it is; an average's exact reciprocal) and then plus +0 (avg_pool's
       results land in a zeroed output, so a -0 becomes +0), 3 as 0 with the +0 before the
       scale (adaptive pooling's sums start from +0), 2 takes the max with
       _mm_max(v, m), which is the scalar v > m ? v : m, so ties keep the first. For max the
       result says whether any tap is NaN or any column max is -0, whose bits the caller then
       takes from a scan in PyTorch's order; 0 for sums. Vectors of 2N columns; a row whose
       length is not a whole number of vectors ends with one that overlaps the one before
       (it writes the same values twice), so only rows under N outputs run scalar. With
       ``ahead`` (bytes) each step hints into L2 the lines that far past the ones it reads of
       r1 and of h0, the upper row where it lies in the input (r0 itself, or the row r0 is a
       copy of). */
    #define CPOOL_EVEN_f32(a, b) _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))
    #define CPOOL_ODD_f32(a, b) _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))
    #define CPOOL_EVEN_f64(a, b) _mm_unpacklo_pd(a, b)
    #define CPOOL_ODD_f64(a, b) _mm_unpackhi_pd(a, b)
    /* __m256 and __m256d by suffix, for the macros below. */
    #define __m256ps_T __m256
    #define __m256pd_T __m256d
    #if defined(__AVX2__)
    /* 256 bits: the shuffles work within 128-bit halves, so the outputs come out in pairs
       (0 1 4 5 | 2 3 6 7 for floats, 0 2 | 1 3 for doubles), which one 64-bit permute orders. */
    #define CPOOL_EVEN256_f32(a, b) _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))
    #define CPOOL_ODD256_f32(a, b) _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))
    #define CPOOL_ORDER256_f32(v) _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), \\
                                                                       _MM_SHUFFLE(3, 1, 2, 0)))
    #define CPOOL_EVEN256_f64(a, b) _mm256_unpacklo_pd(a, b)
    #define CPOOL_ODD256_f64(a, b) _mm256_unpackhi_pd(a, b)
    #define CPOOL_ORDER256_f64(v) _mm256_permute4x64_pd(v, _MM_SHUFFLE(3, 1, 2, 0))
    /* 2N outputs of cpool_tiles_2x2 (op as there) from columns 0 .. 4N-1 of rows r0 and r1, in
       one 256-bit vector (M = 2N values a load); max ors its NaN and -0 lanes into *flags0
       (the first load's columns) and *flags1 (the second's). */
    #define CPOOL_TILE_VECTOR(NAME, T, S, M) \\
    static CPOOL_ALWAYS_INLINE __m256##S##_T cpool_tile_vector_##NAME( \\
            const T* r0, const T* r1, int op, __m256##S##_T sv, __m256##S##_T zbv, \\
            __m256##S##_T zav, __m256##S##_T* flags0, __m256##S##_T* flags1) { \\
        __m256##S##_T a0 = _mm256_loadu_##S(r0), a1 = _mm256_loadu_##S(r0 + M); \\
        __m256##S##_T b0 = _mm256_loadu_##S(r1), b1 = _mm256_loadu_##S(r1 + M); \\
        __m256##S##_T c0, c1, e, o; \\
        if (op == 2) { \\
            c0 = _mm256_max_##S(b0, a0); \\
            c1 = _mm256_max_##S(b1, a1); \\
            *flags0 = _mm256_or_##S(*flags0, _mm256_or_##S(_mm256_cmp_##S(a0, b0, _CMP_UNORD_Q), \\
                                                           CPOOL_NEGZERO256(S, c0))); \\
            *flags1 = _mm256_or_##S(*flags1, _mm256_or_##S(_mm256_cmp_##S(a1, b1, _CMP_UNORD_Q), \\
                                                           CPOOL_NEGZERO256(S, c1))); \\
        } else if (op == 1) { \\
            c0 = _mm256_add_##S(_mm256_mul_##S(a0, a0), _mm256_mul_##S(b0, b0)); \\
            c1 = _mm256_add_##S(_mm256_mul_##S(a1, a1), _mm256_mul_##S(b1, b1)); \\
        } else { \\
            c0 = _mm256_add_##S(a0, b0); \\
            c1 = _mm256_add_##S(a1, b1); \\
        } \\
        e = CPOOL_EVEN256_##NAME(c0, c1); \\
        o = CPOOL_ODD256_##NAME(c0, c1); \\
        return CPOOL_ORDER256_##NAME(op == 2 ? _mm256_max_##S(o, e) \\
            : _mm256_add_##S(_mm256_mul_##S(_mm256_add_##S(_mm256_add_##S(e, o), zbv), sv), \\
                             zav)); \\
    }
    #define CPOOL_TILES_WIDE(NAME, T, S, N) { \\
        __m256##S##_T sv256 = _mm256_set1_##S(scale), zb256 = _mm256_set1_##S(zb); \\
        __m256##S##_T za256 = _mm256_set1_##S(za); \\
        for (; i + 2 * N <= n; i += 2 * N) { \\
            CPOOL_HINT_ROWS(h0 + 2 * i, r1 + 2 * i, ahead); /* 64 bytes a row */ \\
            _mm256_storeu_##S(out + i, cpool_tile_vector_##NAME(r0 + 2 * i, r1 + 2 * i, op, \\
                                                                sv256, zb256, za256, \\
                                                                &flags256, &flags256)); \\
        } }
    #define CPOOL_TILES_WIDE_FLAGS(S) (_mm256_movemask_##S(flags256) != 0)
    /* cpool_tiles_3x3_max's vectors of 2N outputs, each column's max computed once: c0 and c1
       the column maxima of columns 2i .. 2i+4N-1, whose even and odd lanes are each window's
       first and second columns; its third (2i+2 .. 2i+4N) the evens one lane on, the last lane
       from c2, the maxima of the 2N columns ending at 2i+4N (so nothing past the last window's
       taps is read). The last vector of a row overlaps the one before (CPOOL_OVERLAP_LAST).
       Flags and the order of each max as in the 128-bit loop below, so the same bits. Max 3x3
       s2 p1 on 112-wide planes: the 128-bit loop made each column's max twice. */
    #define CPOOL_COLUMN_MAX3_256(NAME, T, S) \\
    static CPOOL_ALWAYS_INLINE __m256##S##_T cpool_column_max3_256_##NAME( \\
            const T* p, Py_ssize_t below, Py_ssize_t depth_step, Py_ssize_t n_depth, \\
            __m256##S##_T* flags) { \\
        __m256##S##_T u0 = _mm256_loadu_##S(p), u1 = _mm256_loadu_##S(p + below); \\
        __m256##S##_T u2 = _mm256_loadu_##S(p + 2 * below), f; \\
        Py_ssize_t sl; \\
        f = _mm256_or_##S(_mm256_cmp_##S(u0, u1, _CMP_UNORD_Q), \\
                          _mm256_cmp_##S(u2, u2, _CMP_UNORD_Q)); \\
        u0 = _mm256_max_##S(u2, _mm256_max_##S(u1, u0)); \\
        for (sl = 1; sl < n_depth; sl++) { /* a 3-D window's further slices */ \\
            const T* q = p + sl * depth_step; \\
            __m256##S##_T v0 = _mm256_loadu_##S(q); \\
            u1 = _mm256_loadu_##S(q + below); \\
            u2 = _mm256_loadu_##S(q + 2 * below); \\
            f = _mm256_or_##S(f, _mm256_or_##S(_mm256_cmp_##S(v0, u1, _CMP_UNORD_Q), \\
                                               _mm256_cmp_##S(u2, u2, _CMP_UNORD_Q))); \\
            u0 = _mm256_max_##S(u2, _mm256_max_##S(u1, _mm256_max_##S(v0, u0))); \\
        } \\
        *flags = _mm256_or_##S(*flags, _mm256_or_##S(f, CPOOL_NEGZERO256(S, u0))); \\
        return u0; \\
    } \\
    /* The same from p, its lane 0 the padding's column before a row (not read: -inf). */ \\
    static CPOOL_ALWAYS_INLINE __m256##S##_T cpool_column_max3_lead_256_##NAME( \\
            const T* p, Py_ssize_t below, Py_ssize_t depth_step, Py_ssize_t n_depth, \\
            __m256##S##_T* flags) { \\
        __m256##S##_T u = CPOOL_LOAD_BUT_FIRST_##NAME(p), v, f; \\
        Py_ssize_t sl, t; \\
        f = _mm256_cmp_##S(u, u, _CMP_UNORD_Q); \\
        for (sl = 0; sl < n_depth; sl++) \\
            for (t = sl == 0; t < 3; t++) { \\
                v = CPOOL_LOAD_BUT_FIRST_##NAME(p + sl * depth_step + t * below); \\
                f = _mm256_or_##S(f, _mm256_cmp_##S(v, v, _CMP_UNORD_Q)); \\
                u = _mm256_max_##S(v, u); \\
            } \\
        *flags = _mm256_or_##S(*flags, _mm256_or_##S(f, CPOOL_NEGZERO256(S, u))); \\
        return _mm256_blend_##S(u, _mm256_set1_##S(-(T)INFINITY), 1); \\
    }
    /* A vector from p with its first lane 0 and p[0] not read (a masked load never faults):
       the lead's column before a row here, stochastic training's padded first cell below. */
    #define CPOOL_LOAD_BUT_FIRST_f32(p) _mm256_maskload_ps(p, _mm256_setr_epi32(0, -1, -1, -1, -1, -1, -1, -1))
    #define CPOOL_LOAD_BUT_FIRST_f64(p) _mm256_maskload_pd(p, _mm256_setr_epi64x(0, -1, -1, -1))
    #define CPOOL_NEXT_LANE_f32(e, c2) _mm256_blend_ps(_mm256_permutevar8x32_ps( \\
        e, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0)), c2, 0x80)
    #define CPOOL_NEXT_LANE_f64(e, c2) _mm256_blend_pd(_mm256_permute4x64_pd( \\
        e, _MM_SHUFFLE(0, 3, 2, 1)), c2, 0x8)
    /* As CPOOL_NEXT_LANE, the last lane from the first of ``c0``: the next vector's columns. */
    #define CPOOL_FIRST_LANE_f32(e, c0) _mm256_permutevar8x32_ps( \\
        _mm256_blend_ps(e, c0, 0x01), _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0))
    #define CPOOL_FIRST_LANE_f64(e, c0) _mm256_permute4x64_pd( \\
        _mm256_blend_pd(e, c0, 0x1), _MM_SHUFFLE(0, 3, 2, 1))
    /* Each slice's lower two rows' next 64 bytes, ``ahead`` bytes on. */
    #define CPOOL_TILES_3X3_HINTS \\
        for (sl = 0; ahead && sl < n_depth; sl++) { \\
            cpool_prefetch_l2((const char*)(row + sl * depth_step + below + 2 * i) + ahead); \\
            cpool_prefetch_l2((const char*)(row + sl * depth_step + 2 * below + 2 * i) + ahead); \\
        }
    /* Given c0 (columns 2i .. 2i+2N-1), a vector's other columns and its store: c1, and c2
       from column 2i + C2_AT, whose lane LANE (CPOOL_NEXT_LANE: its last; CPOOL_FIRST_LANE:
       its first) is the windows' last third column, its flags into *C2_FLAGS. */
    #define CPOOL_TILES_3X3_STEP(NAME, S, N, C2_AT, C2_FLAGS, LANE) \\
        c1 = cpool_column_max3_256_##NAME(row + 2 * i + 2 * N, below, depth_step, n_depth, \\
                                          &flags256); \\
        c2 = cpool_column_max3_256_##NAME(row + 2 * i + (C2_AT), below, depth_step, n_depth, \\
                                          C2_FLAGS); \\
        e = CPOOL_ORDER256_##NAME(CPOOL_EVEN256_##NAME(c0, c1)); \\
        o = CPOOL_ORDER256_##NAME(CPOOL_ODD256_##NAME(c0, c1)); \\
        _mm256_storeu_##S(o_row + i, _mm256_max_##S(LANE##_##NAME(e, c2), \\
                                                    _mm256_max_##S(o, e)));
    /* The vectors of 2N outputs. While the vector after next is whole, each vector's c2 is
       the next one's c0 (columns 2i+4N .. 2i+6N-1, whose first lane is this vector's last
       third column), so each column's max is made once: two column maxima a vector, where
       the vectors after them take three (c2 one column on from c1, its columns but the last
       c1's, checked there; that one is the next vector's first, or is checked after the loop
       by cpool_column_3; the first of them from the carried c0). The last vector overlaps
       the one before (CPOOL_OVERLAP_LAST). The same
       maxima, so the same bits. Max 3x3x3 s2 p1 on 56-wide planes (27 inner outputs a row):
       10 column maxima a row instead of 12; max 3x3 s2 p1 on 112-wide ones: 16 for 21
       (timings at cpool_edge_3_rows). ``lead``: the row's first vector starts a column
       before the row (cpool_column_max3_lead_256; cpool_max_row_3x3). */
    #define CPOOL_TILES_3X3_WIDE(NAME, T, S, N) \\
        { \\
            __m256##S##_T c0, c1, c2, e, o, unchecked = _mm256_setzero_##S(); \\
            Py_ssize_t sl; \\
            if (i + 4 * N <= n) { \\
                c0 = lead ? cpool_column_max3_lead_256_##NAME(row, below, depth_step, n_depth, \\
                                                              &flags256) \\
                          : cpool_column_max3_256_##NAME(row + 2 * i, below, depth_step, \\
                                                         n_depth, &flags256); \\
                for (; i + 4 * N <= n; i += 2 * N) { \\
                    CPOOL_TILES_3X3_HINTS \\
                    CPOOL_TILES_3X3_STEP(NAME, S, N, 4 * N, &flags256, CPOOL_FIRST_LANE) \\
                    c0 = c2; \\
                } \\
                CPOOL_TILES_3X3_HINTS /* i + 2N <= n: the vector after them */ \\
                CPOOL_TILES_3X3_STEP(NAME, S, N, 2 * N + 1, &unchecked, CPOOL_NEXT_LANE) \\
                i += 2 * N; \\
            } \\
            for (; i < n; i += 2 * N) { \\
                if (i + 2 * N > n) { if (n < 2 * N) break; i = n - 2 * N; } \\
                CPOOL_TILES_3X3_HINTS \\
                c0 = cpool_column_max3_256_##NAME(row + 2 * i, below, depth_step, n_depth, \\
                                                  &flags256); \\
                CPOOL_TILES_3X3_STEP(NAME, S, N, 2 * N + 1, &unchecked, CPOOL_NEXT_LANE) \\
            } \\
        } \\
        if (i >= n) /* the last window's third column */ \\
            (void)cpool_column_3_##NAME(row + 2 * n, below, depth_step, n_depth, &any);
    #define CPOOL_TILES_WIDE_DECL(S) __m256##S##_T flags256 = _mm256_setzero_##S();
    #define CPOOL_LEAD_3X3 1
    /* PyTorch's max update in vectors (v replaces m where v > m or v is NaN), ``mask`` where
       it did; CPOOL_COMBINE256: that update (op 2) or the sum, as a statement. */
    #define CPOOL_TAKE_TAP256(S, m, v, mask) ( \\
        mask = _mm256_or_##S(_mm256_cmp_##S(v, m, _CMP_GT_OQ), _mm256_cmp_##S(v, v, _CMP_UNORD_Q)), \\
        m = _mm256_blendv_##S(m, v, mask))
    #define CPOOL_COMBINE256(S, op, m, v, mask) \\
        if ((op) == 2) CPOOL_TAKE_TAP256(S, m, v, mask); else m = _mm256_add_##S(m, v);
    #define CPOOL_HORIZONTAL_WIDE(NAME, S, N) \\
        for (; i + 2 * N <= n; i += 2 * N) { \\
            __m256##S##_T w0 = _mm256_loadu_##S(buf + 2 * i), w1 = _mm256_loadu_##S(buf + 2 * i + 2 * N); \\
            __m256##S##_T wm = CPOOL_EVEN256_##NAME(w0, w1), wv = CPOOL_ODD256_##NAME(w0, w1), wmask; \\
            CPOOL_COMBINE256(S, op, wm, wv, wmask) \\
            if (k == 3) { \\
                w0 = _mm256_loadu_##S(buf + 2 * i + 1); \\
                w1 = _mm256_loadu_##S(buf + 2 * i + 1 + 2 * N); \\
                wv = CPOOL_ODD256_##NAME(w0, w1); \\
                CPOOL_COMBINE256(S, op, wm, wv, wmask) \\
            } \\
            _mm256_storeu_##S(out + i, CPOOL_ORDER256_##NAME(wm)); \\
        }
    /* cpool_argmax_s2's vectors of 2N outputs (below), in pair order until ORDER256: each
       lane's winner as its offset from the window's first cell (c + t * index_below, a
       constant per tap, blended in where the tap wins), in the lanes' own integer width;
       CPOOL_INT64_256 the int64 of 4 of them (float32: half g, sign-extended). */
    #define CPOOL_OFFSET256_f32(o) _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)(o)))
    #define CPOOL_OFFSET256_f64(o) _mm256_castsi256_pd(_mm256_set1_epi64x(o))
    #define CPOOL_INT64_256_f32(v, g) _mm256_cvtepi32_epi64((g) ? \\
        _mm256_extracti128_si256(_mm256_castps_si256(v), 1) : \\
        _mm256_castsi256_si128(_mm256_castps_si256(v)))
    #define CPOOL_INT64_256_f64(v, g) _mm256_castpd_si256(v)
    /* Loads for CPOOL_ARGMAX_STEP256: LOADU the plain one; LOADM only the first ``valid``
       lanes (the rest read as 0 and are never touched in memory, so a row's last vector reads
       nothing past its last window's taps). */
    #define CPOOL_LOADU256_f32(p, valid) _mm256_loadu_ps(p)
    #define CPOOL_LOADU256_f64(p, valid) _mm256_loadu_pd(p)
    #define CPOOL_LOADM256_f32(p, valid) _mm256_maskload_ps(p, _mm256_cmpgt_epi32( \\
        _mm256_set1_epi32((int)((valid) < 0 ? 0 : (valid) > 8 ? 8 : (valid))), \\
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))
    #define CPOOL_LOADM256_f64(p, valid) _mm256_maskload_pd(p, _mm256_cmpgt_epi64( \\
        _mm256_set1_epi64x((valid) < 0 ? 0 : (valid) > 4 ? 4 : (valid)), \\
        _mm256_setr_epi64x(0, 1, 2, 3)))
    /* Stores of a step's values and indices: whole (STOREU), or their first ``cnt`` lanes
       (STOREM, 1 to 7 lanes: the rest of memory untouched), by stores of 16, 8 and 4 bytes
       (cpool_store_first; masked stores took 1.2x the time of the whole step). */
    #define CPOOL_STOREU256_f32(p, v, cnt) _mm256_storeu_ps(p, v)
    #define CPOOL_STOREU256_f64(p, v, cnt) _mm256_storeu_pd(p, v)
    #define CPOOL_STOREU256_IDX(p, v, cnt) _mm256_storeu_si256((__m256i*)(p), v)
    #define CPOOL_STOREM256_f32(p, v, cnt) cpool_store_first_f32(p, v, (cnt) * 4)
    #define CPOOL_STOREM256_f64(p, v, cnt) cpool_store_first_f64(p, v, (cnt) * 8)
    #define CPOOL_STOREM256_IDX(p, v, cnt) do { \\
            if ((cnt) >= 4) _mm256_storeu_si256((__m256i*)(p), v); \\
            else cpool_store_first_f64((double*)(p), _mm256_castsi256_pd(v), (cnt) * 8); \\
        } while (0)
    /* Row t's taps for CPOOL_ARGMAX_STEP256, columns 2i + c in A, B (and C for 3 taps), and
       the lanes of any NaN among them ORed into wnan. */
    #define CPOOL_ARGMAX_ROW256(NAME, T, S, N, LOAD, lim, t, A, B, C) \\
        { \\
            const T* row = x + (t) * below + 2 * i; \\
            w0 = LOAD(row, lim); w1 = LOAD(row + 2 * N, (lim) - 2 * N); \\
            A = CPOOL_EVEN256_##NAME(w0, w1); \\
            B = CPOOL_ODD256_##NAME(w0, w1); \\
            wnan = _mm256_or_##S(wnan, _mm256_cmp_##S(w0, w1, _CMP_UNORD_Q)); \\
            if (k == 3) { \\
                u0 = LOAD(row + 1, (lim) - 1); u1 = LOAD(row + 1 + 2 * N, (lim) - 1 - 2 * N); \\
                C = CPOOL_ODD256_##NAME(u0, u1); \\
                wnan = _mm256_or_##S(wnan, _mm256_cmp_##S(u1, u1, _CMP_UNORD_Q)); \\
            } \\
        }
    /* The run of taps (b, bo) after (a, ao): b replaces a where the scan's rule has it (v > m
       or v NaN); _FAST where no tap is NaN, by one max (max(b, a) is a where b > a is not). */
    #define CPOOL_ARGMAX_PAIR256(S, a, ao, b, bo) \\
        { \\
            CPOOL_TAKE_TAP256(S, a, b, wmask); \\
            ao = _mm256_blendv_##S(ao, bo, wmask); \\
        }
    #define CPOOL_ARGMAX_PAIR256_FAST(S, a, ao, b, bo) \\
        { \\
            wmask = _mm256_cmp_##S(b, a, _CMP_GT_OQ); \\
            a = _mm256_max_##S(b, a); \\
            ao = _mm256_blendv_##S(ao, bo, wmask); \\
        }
    /* The scan's answer by pairs of neighbouring runs of taps (p0 .. p8 in the scan's order),
       each run's winner against the next run's by the scan's own rule: a run's winner (its
       first largest value, or its last NaN) is what the scan over the two runs keeps. The
       chain of dependent steps is then log2 of the taps long, not their number. */
    #define CPOOL_ARGMAX_TREE256(S, PAIR) \\
        { \\
            q0 = offsets[0]; q2 = offsets[2]; q4 = offsets[4]; q6 = offsets[6]; \\
            PAIR(S, p0, q0, p1, offsets[1]) \\
            PAIR(S, p2, q2, p3, offsets[3]) \\
            if (k == 3) { \\
                PAIR(S, p4, q4, p5, offsets[5]) \\
                PAIR(S, p6, q6, p7, offsets[7]) \\
                PAIR(S, p0, q0, p2, q2) \\
                PAIR(S, p4, q4, p6, q6) \\
                PAIR(S, p0, q0, p4, q4) \\
                PAIR(S, p0, q0, p8, offsets[8]) \\
            } else { \\
                PAIR(S, p0, q0, p2, q2) \\
            } \\
        }
    /* One vector of 2N outputs from output i: values to ``dst``, indices to ``dsti``, the row's
       columns from 2i read by LOAD (``lim``: how many of them a LOADM may read), the first
       ``cnt`` of them stored by STORE (STOREU: all). */
    #define CPOOL_ARGMAX_STEP256(NAME, T, S, N, LOAD, lim, dst, dsti, STORE, cnt) \\
        { \\
            __m256##S##_T p0, p1, p2, p3, p4, p5, p6, p7, p8, q0, q2, q4, q6, wnan; \\
            p2 = p3 = p4 = p5 = p6 = p7 = p8 = wnan = _mm256_setzero_##S(); \\
            CPOOL_ARGMAX_ROW256(NAME, T, S, N, LOAD, lim, 0, p0, p1, p2) \\
            if (k == 3) { \\
                CPOOL_ARGMAX_ROW256(NAME, T, S, N, LOAD, lim, 1, p3, p4, p5) \\
                CPOOL_ARGMAX_ROW256(NAME, T, S, N, LOAD, lim, 2, p6, p7, p8) \\
            } else { \\
                CPOOL_ARGMAX_ROW256(NAME, T, S, N, LOAD, lim, 1, p2, p3, p4) \\
            } \\
            if (_mm256_testz_si256(_mm256_cast##S##_si256(wnan), _mm256_cast##S##_si256(wnan))) \\
                CPOOL_ARGMAX_TREE256(S, CPOOL_ARGMAX_PAIR256_FAST) \\
            else \\
                CPOOL_ARGMAX_TREE256(S, CPOOL_ARGMAX_PAIR256) \\
            wm = p0; \\
            wo = q0; \\
            STORE##_##NAME(dst, CPOOL_ORDER256_##NAME(wm), cnt); \\
            wo = CPOOL_ORDER256_##NAME(wo); \\
            CPOOL_UNROLL for (g = 0; g < N / 2; g++) { \\
                at256 = _mm256_add_epi64(_mm256_set1_epi64x(base + 2 * (i + 4 * g)), lane256); \\
                at256 = _mm256_add_epi64(at256, CPOOL_INT64_256_##NAME(wo, g)); \\
                STORE##_IDX((dsti) + 4 * g, at256, (cnt) - 4 * g); \\
            } \\
        }
    /* Whole vectors of 2N outputs; then, for 3x3 windows, the row's last N + 1 to 2N - 1
       outputs as one vector of masked loads and masked stores: one step where the 128-bit
       loop below took two overlapping ones (adaptive max 13 -> 6 with indices,
       (32, 256, 13, 13), one thread: 1.14 -> 0.73 ms). For 2x2 windows the two 128-bit steps
       cost less than the masks (max 2x2 on 14-wide planes: 0.97 -> 1.3 ms). The masked step
       wrote to a buffer before, whose copy out GCC made two memcpy calls a row, a quarter of
       adaptive max 13 -> 6's time in a profile: 0.944 -> 0.875 ms with the stores of 16, 8
       and 4 bytes (max 3x3 s2 with indices on 14- and 27-wide planes 0.93 too). Until
       2026-12-06 a step took its taps one after another, each winner's row and column kept
       as two masks each (four operations a tap, and the index's sums after), and each tap
       checked for NaN: adaptive max 13 -> 6 with indices 1.37 -> 0.96 ms on the Intel host,
       max 3x3 s2 with indices on 14- and 27-wide planes 0.59-0.70 of the time, 2x2
       0.88-1.02 (float64 adaptive 0.82; one thread, the two builds alternated). */
    #define CPOOL_ARGMAX_WIDE(NAME, T, S, N) \\
        /* (float32 offsets are int32 lanes: rows too far apart for them take the loop below) */ \\
        if (sizeof(T) == 8 || index_below <= (INT32_MAX - 2) / 2) { \\
            __m256i lane256 = _mm256_set_epi64x(6, 4, 2, 0), at256; \\
            __m256##S##_T w0, w1, u0, u1, wm, wmask, wo, offsets[9]; \\
            for (t = 0; t < k; t++) /* in the scan's order */ \\
                for (c = 0; c < k; c++) \\
                    offsets[t * k + c] = CPOOL_OFFSET256_##NAME(c + t * index_below); \\
            for (; i + 2 * N <= n; i += 2 * N) { \\
                CPOOL_ARGMAX_HINT(i) \\
                CPOOL_ARGMAX_STEP256(NAME, T, S, N, CPOOL_LOADU256_##NAME, 0, out + i, idx + i, \\
                                     CPOOL_STOREU256, 2 * N) \\
            } \\
            if (k == 3 && n - i > N) { \\
                CPOOL_ARGMAX_STEP256(NAME, T, S, N, CPOOL_LOADM256_##NAME, 2 * (n - i) + k - 2, \\
                                     out + i, idx + i, CPOOL_STOREM256, n - i) \\
                i = n; \\
            } \\
        }
    /* cpool_eval_2x2's outputs 2N at a time (the division, the loop's bottleneck at 128 bits,
       takes twice the values per instruction): the same operations in the same order, with
       running minima of their own folded into the 128-bit loop's ``m`` and ``m1``. */
    /* A step of CPOOL_EVAL_WIDE (and of cpool_eval_run_2x2): outputs i .. i + 2N - 1 from
       cells 2i .. of rows r0 and r1, the cells' running minima in wm and wm1. */
    #define CPOOL_EVAL_STEP256(NAME, S, N) \\
        { \\
            CPOOL_HINT_ROWS(r0 + 2 * i, r1 + 2 * i, ahead); /* 64 bytes a row (float32) */ \\
            wa0 = _mm256_loadu_##S(r0 + 2 * i); wa1 = _mm256_loadu_##S(r0 + 2 * i + 2 * N); \\
            wb0 = _mm256_loadu_##S(r1 + 2 * i); wb1 = _mm256_loadu_##S(r1 + 2 * i + 2 * N); \\
            wm = _mm256_min_##S(wa0, wm); wm = _mm256_min_##S(wb0, wm); \\
            wm1 = _mm256_min_##S(wa1, wm1); wm1 = _mm256_min_##S(wb1, wm1); \\
            wsa = _mm256_add_##S(wa0, wb0); \\
            wsq = _mm256_add_##S(wa1, wb1); \\
            wsa = CPOOL_ORDER256_##NAME(_mm256_add_##S(CPOOL_EVEN256_##NAME(wsa, wsq), \\
                                                       CPOOL_ODD256_##NAME(wsa, wsq))); \\
            wa0 = _mm256_add_##S(_mm256_mul_##S(wa0, wa0), _mm256_mul_##S(wb0, wb0)); \\
            wa1 = _mm256_add_##S(_mm256_mul_##S(wa1, wa1), _mm256_mul_##S(wb1, wb1)); \\
            wsq = CPOOL_ORDER256_##NAME(_mm256_add_##S(CPOOL_EVEN256_##NAME(wa0, wa1), \\
                                                       CPOOL_ODD256_##NAME(wa0, wa1))); \\
            wsq = _mm256_div_##S(wsq, _mm256_blendv_##S(wsa, wone, \\
                                                         _mm256_cmp_##S(wsa, wz, _CMP_EQ_OQ))); \\
            _mm256_storeu_##S(out + i, _mm256_blendv_##S( \\
                wsq, wsa, _mm256_cmp_##S(wsa, winf, _CMP_EQ_OQ))); \\
        }
    /* CPOOL_EVAL_WIDE's and cpool_eval_run_2x2's registers, the minima from *low. */
    #define CPOOL_EVAL_REGISTERS256(S) \\
        __m256##S##_T wm = _mm256_set1_##S(*low), wm1 = wm, wa0, wa1, wb0, wb1, wsa, wsq; \\
        const __m256##S##_T wz = _mm256_setzero_##S(), wone = _mm256_set1_##S(1), \\
                            winf = _mm256_set1_##S(INFINITY);
    #define CPOOL_EVAL_WIDE(NAME, S, N) \\
        { \\
            CPOOL_EVAL_REGISTERS256(S) \\
            for (; i + 2 * N <= n; i += 2 * N) \\
                CPOOL_EVAL_STEP256(NAME, S, N) \\
            wm = _mm256_min_##S(wm1, wm); \\
            m = _mm_min_##S(_mm256_cast##S##256_##S##128(wm), m); \\
            m1 = _mm_min_##S(_mm256_extractf128_##S(wm, 1), m1); \\
        }
    /* LP pooling's gradient (p = 2) over 2x2 tiles at stride 2, in one pass over each pair
       of input rows (rows 2r and 2r+1 of x, W apart; n outputs a row, n_rows rows; g the
       output gradients, n a row): each window's mean of squares as cpool_tiles_2x2 (op 1)
       makes it, its gradient as _backward's _lp_mean_grad_one (p = 2: 1 / sqrt), over its
       divisor (times the exact reciprocal ``recip``, plus +0; the means' scale too), on its four cells of ``out``,
       each times its x * 2; a column no window covers (an odd W) gets 0 * (x * 2). The same
       operations in the same order as those three passes, so the same bits, with x read
       once and nothing stored between them (the passes spent half their time on the
       plane's round trips and their scalar row tails). Vectors in the tiles' pair order
       (CPOOL_EVEN256), which unpacking to cell pairs puts back in order; the last vector of
       a row overlaps the one before. Returns 0 for rows of fewer than N outputs. */
    #define CPOOL_LP2_SPREAD_2X2(NAME, T, S, N) \\
    static inline int cpool_lp2_spread_2x2_##NAME(const T* x, Py_ssize_t W, const T* g, T* out, \\
                                                  Py_ssize_t n_rows, Py_ssize_t n, T recip, \\
                                                  T size, Py_ssize_t ahead) { \\
        typedef __m256##S##_T V; \\
        const V zb = _mm256_set1_##S((T)-0.0), z = _mm256_setzero_##S(); \\
        const V sizev = _mm256_set1_##S(size), half = _mm256_set1_##S((T)0.5); \\
        const V one = _mm256_set1_##S(1), minus_one = _mm256_set1_##S(-1); \\
        const V rv = _mm256_set1_##S(recip), two = _mm256_set1_##S(2); \\
        V a0, a1, b0, b1, m, r, sa; \\
        const T* r0; \\
        const T* r1; \\
        T* o0; \\
        T* o1; \\
        Py_ssize_t row, i, j; \\
        if (n < N) return 0; \\
        for (row = 0; row < n_rows; row++) { \\
            r0 = x + 2 * row * W; r1 = r0 + W; \\
            o0 = out + 2 * row * W; o1 = o0 + W; \\
            for (i = 0; i < n; i += N) { \\
                CPOOL_OVERLAP_LAST(i, n, N) \\
                CPOOL_HINT_ROWS(r0 + 2 * i, r1 + 2 * i, ahead); /* x's rows (float32) */ \\
                CPOOL_HINT_ROWS(o0 + 2 * i, o1 + 2 * i, ahead); /* and out's */ \\
                a0 = _mm256_loadu_##S(r0 + 2 * i); a1 = _mm256_loadu_##S(r0 + 2 * i + N); \\
                b0 = _mm256_loadu_##S(r1 + 2 * i); b1 = _mm256_loadu_##S(r1 + 2 * i + N); \\
                m = _mm256_add_##S(_mm256_mul_##S(a0, a0), _mm256_mul_##S(b0, b0)); \\
                r = _mm256_add_##S(_mm256_mul_##S(a1, a1), _mm256_mul_##S(b1, b1)); \\
                m = _mm256_add_##S(CPOOL_EVEN256_##NAME(m, r), CPOOL_ODD256_##NAME(m, r)); \\
                m = _mm256_add_##S(_mm256_mul_##S(_mm256_add_##S(m, zb), rv), z); \\
                r = _mm256_div_##S(one, _mm256_sqrt_##S(_mm256_mul_##S(m, sizev))); \\
                r = _mm256_mul_##S(CPOOL_ORDER256_##NAME(_mm256_loadu_##S(g + row * n + i)), \\
                                   _mm256_mul_##S(r, half)); \\
                r = _mm256_mul_##S(r, sizev); \\
                sa = _mm256_or_##S(_mm256_and_##S(_mm256_cmp_##S(m, z, _CMP_GT_OQ), one), \\
                                   _mm256_and_##S(_mm256_cmp_##S(m, z, _CMP_LT_OQ), minus_one)); \\
                sa = _mm256_blendv_##S(sa, m, _mm256_cmp_##S(m, m, _CMP_UNORD_Q)); \\
                r = _mm256_mul_##S(r, sa); \\
                r = _mm256_andnot_##S(_mm256_cmp_##S(m, z, _CMP_EQ_OQ), r); \\
                r = _mm256_add_##S(_mm256_mul_##S(_mm256_mul_##S(r, sa), rv), z); \\
                m = _mm256_unpacklo_##S(r, r); \\
                r = _mm256_unpackhi_##S(r, r); \\
                _mm256_storeu_##S(o0 + 2 * i, _mm256_mul_##S(m, _mm256_mul_##S(a0, two))); \\
                _mm256_storeu_##S(o0 + 2 * i + N, _mm256_mul_##S(r, _mm256_mul_##S(a1, two))); \\
                _mm256_storeu_##S(o1 + 2 * i, _mm256_mul_##S(m, _mm256_mul_##S(b0, two))); \\
                _mm256_storeu_##S(o1 + 2 * i + N, _mm256_mul_##S(r, _mm256_mul_##S(b1, two))); \\
            } \\
            for (j = 2 * n; j < W; j++) { /* a column no window covers (an odd W) */ \\
                o0[j] = (T)0 * (r0[j] * (T)2); \\
                o1[j] = (T)0 * (r1[j] * (T)2); \\
            } \\
        } \\
        return 1; \\
    }
    CPOOL_LP2_SPREAD_2X2(f32, float, ps, 8)
    CPOOL_LP2_SPREAD_2X2(f64, double, pd, 4)
    /* The max of a channels-last window's cells by PyTorch's rule (v replaces m where v > m
       or v is NaN), in scan order: dst[c] = the max over k < n_cells of px[off[k] + c] (the
       cells' offsets from the first cell, off[0] = 0), for the lanes c < the returned count
       (a multiple of N; the caller takes the rest). Four vectors a step stay in registers
       across the cells, where a loop per cell stored and reloaded the running max each time.
       max(v, m) is v > m ? v : m: the rule but for a NaN v (a NaN m stays, as the rule
       keeps it), so each step's cells after the first are tested for NaN, two a compare
       (unordered), and a step that read one ends the call before its store: the caller's
       scan takes its lanes and the rest. The select per cell that took v where v is NaN
       (three uops) cost 1.06-1.15x the time: one thread, float32, the two builds
       alternating, NHWC max 3x3 s2 p1 on 64 lanes (32, 112, 112, 64) 7.16 -> 6.73 ms, on
       8 lanes 0.90x, 3x3 s1 p1 on 128 lanes 0.87x. */
    #define CPOOL_CELLS_MAX_PAIR(S, m, q, r) \\
        v = _mm256_loadu_##S(q); \\
        w = _mm256_loadu_##S(r); \\
        nan = _mm256_or_##S(nan, _mm256_cmp_##S(v, w, _CMP_UNORD_Q)); \\
        m = _mm256_max_##S(w, _mm256_max_##S(v, m));
    #define CPOOL_CELLS_MAX_ONE(S, m, q) \\
        v = _mm256_loadu_##S(q); \\
        nan = _mm256_or_##S(nan, _mm256_cmp_##S(v, v, _CMP_UNORD_Q)); \\
        m = _mm256_max_##S(v, m);
    #define CPOOL_CELLS_MAX(NAME, T, S, N) \\
    static inline Py_ssize_t cpool_cells_max_##NAME(const T* px, const Py_ssize_t* off, \\
                                                    Py_ssize_t n_cells, Py_ssize_t lanes, \\
                                                    T* dst) { \\
        typedef __m256##S##_T V; \\
        V m0, m1, m2, m3, v, w, nan; \\
        const T *q, *r; \\
        Py_ssize_t c = 0, k; \\
        for (; c + 4 * N <= lanes; c += 4 * N) { \\
            nan = _mm256_setzero_##S(); \\
            m0 = _mm256_loadu_##S(px + c); m1 = _mm256_loadu_##S(px + c + N); \\
            m2 = _mm256_loadu_##S(px + c + 2 * N); m3 = _mm256_loadu_##S(px + c + 3 * N); \\
            for (k = 1; k + 1 < n_cells; k += 2) { \\
                q = px + off[k] + c; \\
                r = px + off[k + 1] + c; \\
                CPOOL_CELLS_MAX_PAIR(S, m0, q, r) \\
                CPOOL_CELLS_MAX_PAIR(S, m1, q + N, r + N) \\
                CPOOL_CELLS_MAX_PAIR(S, m2, q + 2 * N, r + 2 * N) \\
                CPOOL_CELLS_MAX_PAIR(S, m3, q + 3 * N, r + 3 * N) \\
            } \\
            if (k < n_cells) { \\
                q = px + off[k] + c; \\
                CPOOL_CELLS_MAX_ONE(S, m0, q) \\
                CPOOL_CELLS_MAX_ONE(S, m1, q + N) \\
                CPOOL_CELLS_MAX_ONE(S, m2, q + 2 * N) \\
                CPOOL_CELLS_MAX_ONE(S, m3, q + 3 * N) \\
            } \\
            if (!_mm256_testz_##S(nan, nan)) return c; \\
            _mm256_storeu_##S(dst + c, m0); _mm256_storeu_##S(dst + c + N, m1); \\
            _mm256_storeu_##S(dst + c + 2 * N, m2); _mm256_storeu_##S(dst + c + 3 * N, m3); \\
        } \\
        for (; c + N <= lanes; c += N) { \\
            nan = _mm256_setzero_##S(); \\
            m0 = _mm256_loadu_##S(px + c); \\
            for (k = 1; k + 1 < n_cells; k += 2) { \\
                CPOOL_CELLS_MAX_PAIR(S, m0, px + off[k] + c, px + off[k + 1] + c) \\
            } \\
            if (k < n_cells) { \\
                CPOOL_CELLS_MAX_ONE(S, m0, px + off[k] + c) \\
            } \\
            if (!_mm256_testz_##S(nan, nan)) return c; \\
            _mm256_storeu_##S(dst + c, m0); \\
        } \\
        return c; \\
    }
    CPOOL_CELLS_MAX(f32, float, ps, 8)
    CPOOL_CELLS_MAX(f64, double, pd, 4)
    /* Channels-last max over 2x2 windows at stride 2 that lie in the row (two rows; one
       depth slice, or two: 2x2x2), as _window's _direct_row: orow's pixel ow (lanes values)
       the max of the window whose first cell is row0 + 2 * ow * pixel, its rows ``step``
       apart, its slices ``depth_step``. One pass a slice over its four cells in scan order
       (2x2x2: the second slice's folded onto the first's result), where the cell-by-cell
       loop made a pass a cell; each line of the slice's four cells hinted ``ahead`` bytes
       on. max(v, m) is v > m ? v : m, PyTorch's rule but for a NaN v, and the rule is
       associative (the first of equal maxima; the last NaN), so in scan order the bits are
       the scalar scan's wherever no NaN was read; the NaN test is one unordered compare of
       each row's two cells (the select per cell of cpool_cells_max cost 1.3x the time on
       pixels of 256 float32 lanes; two passes, a row each, measured the same as one in a C
       model). Returns 1, or 2 where a window read a NaN (the caller scans the row
       again), for lanes a multiple of N (0 otherwise: the caller's loops). Not inlined:
       inside the large kernel loops lose their registers to spills. */
    #define CPOOL_DIRECT_MAX_2X2(NAME, T, S, N) \\
    static CPOOL_NOINLINE int cpool_direct_max_2x2_##NAME( \\
            const T* row0, Py_ssize_t depth_step, Py_ssize_t n_depth, Py_ssize_t step, \\
            Py_ssize_t lanes, Py_ssize_t pixel, Py_ssize_t OW, T* orow, Py_ssize_t ahead) { \\
        typedef __m256##S##_T V; \\
        V nan = _mm256_setzero_##S(), m, x, y; \\
        const T *a, *b; \\
        T* dst; \\
        Py_ssize_t ow, c, pass; \\
        if (lanes % N != 0) return 0; \\
        for (ow = 0; ow < OW; ow++) { \\
            dst = orow + ow * lanes; \\
            for (pass = 0; pass < n_depth; pass++) { \\
                a = row0 + 2 * ow * pixel + pass * depth_step; /* the slice's first row */ \\
                b = a + step; \\
                for (c = 0; c < lanes; c += N) { \\
                    if (c % (64 / sizeof(T)) == 0) { \\
                        cpool_prefetch((const char*)(a + c) + ahead); \\
                        cpool_prefetch((const char*)(a + pixel + c) + ahead); \\
                        cpool_prefetch((const char*)(b + c) + ahead); \\
                        cpool_prefetch((const char*)(b + pixel + c) + ahead); \\
                    } \\
                    x = _mm256_loadu_##S(a + c); \\
                    y = _mm256_loadu_##S(a + pixel + c); \\
                    m = pass == 0 ? x : _mm256_max_##S(x, _mm256_loadu_##S(dst + c)); \\
                    nan = _mm256_or_##S(nan, _mm256_cmp_##S(x, y, _CMP_UNORD_Q)); \\
                    m = _mm256_max_##S(y, m); \\
                    x = _mm256_loadu_##S(b + c); \\
                    y = _mm256_loadu_##S(b + pixel + c); \\
                    nan = _mm256_or_##S(nan, _mm256_cmp_##S(x, y, _CMP_UNORD_Q)); \\
                    m = _mm256_max_##S(y, _mm256_max_##S(x, m)); \\
                    _mm256_storeu_##S(dst + c, m); \\
                } \\
            } \\
        } \\
        return _mm256_testz_##S(nan, nan) ? 1 : 2; \\
    }
    CPOOL_DIRECT_MAX_2X2(f32, float, ps, 8)
    CPOOL_DIRECT_MAX_2X2(f64, double, pd, 4)
    /* Channels-last max with indices over windows that lie in the row (_window's
       _direct_arg_row), float32 and float64 pixels of whole vectors: n windows, window w's cells at
       first + w * px_step + off[k] (k < n_cells, in PyTorch's scan order: slice, row,
       column), its outputs at orow + w * lanes and indices at irow + w * lanes, cell k's
       flat index at0 + w * at_step + ioff[k]. Each vector of lanes keeps its running max in
       a register and the winning cell's number beside it in its lanes, then looks the
       index offsets up in ioff (two tables of eight by permutes: n_cells <= 16, offsets of
       int32) and widens them to the int64 indices. max(v, m) is v > m ? v : m, PyTorch's
       rule but for a NaN v: every cell is tested for NaN (two a compare), and the call
       returns at the first window with a NaN in a lane, which the caller scans (its own
       and the later windows). Returns the windows done; 0 where lanes is not a multiple of
       N or the table does not fit (the caller's loop). The lanes loop of the cell-by-cell
       scan read and wrote each lane's max and int64 index once per cell (NHWC max 2x2 s2
       with indices took 2.5x the time of the values alone). One thread, the two builds
       alternating, four rounds: (32, 56, 56, 256) 2x2 s2 14.4 -> 11.6 ms (0.80), in cache
       (4, 56, 56, 256) 0.69, 3x3 s2 p1 on (32, 112, 112, 64) 0.65 and on 8 lanes 0.34,
       2x2x2 on (8, 16, 56, 56, 256) 0.75-0.84; two threads 0.75-0.88; float64 2x2 s2 on
       (16, 56, 56, 256) 0.84 and 3x3 s2 p1 on (16, 112, 112, 64) 0.90. Windows with the
       cell count a constant (unrolled loops) measured the same. Not inlined, as those
       above. */
    /* A vector's cell number k in the lanes of the values (int32 lanes for float32, int64 for
       float64), and the indices of a vector of lanes from their cells' offsets (offs: the
       table entries, in the 32-bit lanes the cell numbers picked them by; each is >= 0) plus
       the window's first cell ``at``. */
    #define CPOOL_ARGMAX_CELL_f32(k) _mm256_castsi256_ps(_mm256_set1_epi32((int)(k)))
    #define CPOOL_ARGMAX_CELL_f64(k) _mm256_castsi256_pd(_mm256_set1_epi64x((long long)(k)))
    #define CPOOL_ARGMAX_STORE_f32(dst, offs, at) \\
        _mm256_storeu_si256((__m256i*)(dst), _mm256_add_epi64( \\
            _mm256_cvtepi32_epi64(_mm256_castsi256_si128(offs)), _mm256_set1_epi64x(at))); \\
        _mm256_storeu_si256((__m256i*)(dst) + 1, _mm256_add_epi64( \\
            _mm256_cvtepi32_epi64(_mm256_extracti128_si256(offs, 1)), _mm256_set1_epi64x(at)));
    #define CPOOL_ARGMAX_STORE_f64(dst, offs, at) \\
        _mm256_storeu_si256((__m256i*)(dst), _mm256_add_epi64( \\
            _mm256_and_si256(offs, _mm256_set1_epi64x(0xFFFFFFFFLL)), _mm256_set1_epi64x(at)));
    #define CPOOL_DIRECT_ARGMAX(NAME, T, S, N) \\
    static CPOOL_NOINLINE Py_ssize_t cpool_direct_argmax_##NAME( \\
            const T* first, Py_ssize_t px_step, const Py_ssize_t* off, const int32_t* ioff, \\
            Py_ssize_t n_cells, Py_ssize_t kw, Py_ssize_t lanes, Py_ssize_t n, int64_t at0, \\
            Py_ssize_t at_step, T* orow, int64_t* irow, Py_ssize_t ahead) { \\
        const __m256i lo_table = _mm256_loadu_si256((const __m256i*)ioff); \\
        const __m256i hi_table = _mm256_loadu_si256((const __m256i*)(ioff + 8)); \\
        const __m256i seven = _mm256_set1_epi32(7); \\
        __m256##S##_T m, v, u, nan, take, code; \\
        __m256i cell, offs; \\
        const T* px; \\
        int64_t at; \\
        Py_ssize_t w, c, k; \\
        if (lanes % N != 0 || n_cells < 1 || n_cells > 16 || kw < 1) return 0; \\
        for (w = 0; w < n; w++) { \\
            px = first + w * px_step; \\
            at = at0 + w * at_step; \\
            for (c = 0; c < lanes; c += N) { \\
                if (c % (64 / sizeof(T)) == 0) /* each window row's line, ahead bytes on */ \\
                    for (k = 0; k < n_cells; k += kw) \\
                        cpool_prefetch((const char*)(px + off[k] + c) + ahead); \\
                m = _mm256_loadu_##S(px + c); \\
                nan = _mm256_cmp_##S(m, m, _CMP_UNORD_Q); \\
                code = _mm256_setzero_##S(); \\
                u = m; \\
                for (k = 1; k < n_cells; k++) { \\
                    v = _mm256_loadu_##S(px + off[k] + c); \\
                    if (k % 2 == 0) /* the cell before and this one, one compare */ \\
                        nan = _mm256_or_##S(nan, _mm256_cmp_##S(u, v, _CMP_UNORD_Q)); \\
                    u = v; \\
                    take = _mm256_cmp_##S(v, m, _CMP_GT_OQ); \\
                    m = _mm256_max_##S(v, m); \\
                    code = _mm256_blendv_##S(code, CPOOL_ARGMAX_CELL_##NAME(k), take); \\
                } \\
                if (n_cells % 2 == 0) /* the last cell, which no pair took */ \\
                    nan = _mm256_or_##S(nan, _mm256_cmp_##S(u, u, _CMP_UNORD_Q)); \\
                if (!_mm256_testz_##S(nan, nan)) return w; \\
                /* (float64: each cell number's high half is 0, and picks table entry 0) */ \\
                cell = _mm256_cast##S##_si256(code); \\
                offs = _mm256_permutevar8x32_epi32(lo_table, cell); \\
                if (n_cells > 8) \\
                    offs = _mm256_blendv_epi8(offs, _mm256_permutevar8x32_epi32(hi_table, cell), \\
                                              _mm256_cmpgt_epi32(cell, seven)); \\
                _mm256_storeu_##S(orow + w * lanes + c, m); \\
                CPOOL_ARGMAX_STORE_##NAME(irow + w * lanes + c, offs, at) \\
            } \\
        } \\
        return n; \\
    }
    CPOOL_DIRECT_ARGMAX(f32, float, ps, 8)
    CPOOL_DIRECT_ARGMAX(f64, double, pd, 4)
    /* _window's _direct_sums_2x2 in vectors: the same windows, sums in its order (a window
       column a pass, its rows, slice by slice, added in order, then the second column's
       sum added to the first's), each line hinted ``ahead`` bytes on in each pass's rows.
       The second pass writes, by ``mode``: 0 the sums; 1 the sums + 0 (_from_zero: PyTorch's
       +0 start); 2 and 3 _average's quotients, total times ``scale`` (the exact reciprocal
       of a power of two) + 0 (2), or (total + 0) times scale (3: zero_first): the pass over
       the row that followed. Returns 0 where lanes is not a multiple of N (the caller's
       loops), else 1. Not inlined (as above). */
    /* t = a window column's sum over the vector of lanes from c (its rows a, b; with depth2
       its second slice's g, h too), each line ``ahead`` bytes on hinted as the lanes reach
       it: the names of cpool_sums_windows' loops. */
    #define CPOOL_COLUMN_SUM(T, S, t) \\
        if (c % (64 / sizeof(T)) == 0) { \\
            cpool_prefetch((const char*)(a + c) + ahead); \\
            cpool_prefetch((const char*)(b + c) + ahead); \\
            if (depth2) { \\
                cpool_prefetch((const char*)(g + c) + ahead); \\
                cpool_prefetch((const char*)(h + c) + ahead); \\
            } \\
        } \\
        t = _mm256_add_##S(_mm256_loadu_##S(a + c), _mm256_loadu_##S(b + c)); \\
        if (depth2) \\
            t = _mm256_add_##S(_mm256_add_##S(t, _mm256_loadu_##S(g + c)), \\
                               _mm256_loadu_##S(h + c));
    #define CPOOL_SUMS_CASE(NAME, D, M) \\
        case (D) * 4 + (M): \\
            cpool_sums_windows_##NAME(row0, depth_step, step, lanes, pixel, OW, orow, f, ahead, \\
                                      D, M); \\
            break;
    #define CPOOL_DIRECT_SUMS_2X2(NAME, T, S, N) \\
    /* A run of OW windows with ``depth2`` (two slices) and ``mode`` constants at each call, \\
       so that the loops carry no test of them (the tests in the loops cost 7-10% in a C \\
       model of this loop). */ \\
    static CPOOL_ALWAYS_INLINE void cpool_sums_windows_##NAME( \\
            const T* row0, Py_ssize_t depth_step, Py_ssize_t step, Py_ssize_t lanes, \\
            Py_ssize_t pixel, Py_ssize_t OW, T* orow, __m256##S##_T factor, Py_ssize_t ahead, \\
            const int depth2, const int mode) { \\
        const __m256##S##_T zero = _mm256_setzero_##S(); \\
        __m256##S##_T t; \\
        const T *a, *b, *g, *h; \\
        T* dst; \\
        Py_ssize_t ow, c; \\
        for (ow = 0; ow < OW; ow++) { \\
            dst = orow + ow * lanes; \\
            a = row0 + 2 * ow * pixel; /* the first column */ \\
            b = a + step; \\
            g = a + depth_step; \\
            h = g + step; \\
            for (c = 0; c < lanes; c += N) { \\
                CPOOL_COLUMN_SUM(T, S, t) \\
                _mm256_storeu_##S(dst + c, t); \\
            } \\
            a += pixel; /* the second column, added to the first's sums */ \\
            b += pixel; \\
            g += pixel; \\
            h += pixel; \\
            for (c = 0; c < lanes; c += N) { \\
                CPOOL_COLUMN_SUM(T, S, t) \\
                t = _mm256_add_##S(_mm256_loadu_##S(dst + c), t); \\
                if (mode == 1 || mode == 3) t = _mm256_add_##S(t, zero); \\
                if (mode >= 2) t = _mm256_mul_##S(t, factor); \\
                if (mode == 2) t = _mm256_add_##S(t, zero); \\
                _mm256_storeu_##S(dst + c, t); \\
            } \\
        } \\
    } \\
    static CPOOL_NOINLINE int cpool_direct_sums_2x2_##NAME( \\
            const T* row0, Py_ssize_t depth_step, Py_ssize_t n_depth, Py_ssize_t step, \\
            Py_ssize_t lanes, Py_ssize_t pixel, Py_ssize_t OW, T* orow, T scale, int mode, \\
            Py_ssize_t ahead) { \\
        const __m256##S##_T f = _mm256_set1_##S(scale); \\
        if (lanes % N != 0 || mode < 0 || mode > 3) return 0; \\
        switch ((n_depth == 2) * 4 + mode) { \\
            CPOOL_SUMS_CASE(NAME, 0, 0) CPOOL_SUMS_CASE(NAME, 0, 1) \\
            CPOOL_SUMS_CASE(NAME, 0, 2) CPOOL_SUMS_CASE(NAME, 0, 3) \\
            CPOOL_SUMS_CASE(NAME, 1, 0) CPOOL_SUMS_CASE(NAME, 1, 1) \\
            CPOOL_SUMS_CASE(NAME, 1, 2) CPOOL_SUMS_CASE(NAME, 1, 3) \\
        } \\
        return 1; \\
    }
    CPOOL_DIRECT_SUMS_2X2(f32, float, ps, 8)
    CPOOL_DIRECT_SUMS_2X2(f64, double, pd, 4)
    /* Stochastic pooling's training draws (_stochastic's _take_taps) for a row of n k x k
       windows at stride 2, k 2 or 3: row0 is the first window's first cell, its rows
       ``below`` apart, every window's cells inside the input (nothing past them is read).
       Per window, taps in row-major order: s their sum, tap by tap; the 32 random bits of
       column ``first + i`` (lowbias32 of (lo + column) ^ hi, lo and hi the row key's
       halves) make u, and u * s the threshold; the value is the last tap whose running sum
       before it (0, the first tap, ...) is <= the threshold, a select per tap: the scalar
       walk's value (its sums start from 0 + the first tap, which differs from it only in a
       zero's sign, which no comparison sees), plus +0, so an all-zero window gives +0 as
       documented. out[i] gets the value; taken[i] -2 where the caller must look again (a
       negative tap, a NaN or infinite sum, or a zero taken from a positive sum), else the
       tap number when ``with_taps`` and the sum is positive, else -1; *flagged whether any
       output got -2 (so the caller need not scan the row for them). With ``lead`` (a
       padding of 1) the first window's first column lies left of the row: row0 points one
       cell before it, and that cell of each row is not read but taken as 0 (a masked load),
       as a padded copy has it. A row's even and odd columns split by two shuffles (the
       third column of a 3-wide window: the odd columns one cell on), where GCC's loop
       gathered each tap with two permutes and a blend, or a 3-wide row was first copied out
       split; the vectors are in the tiles' pair order (CPOOL_EVEN256), their columns
       permuted to match, put back in order by one permute before each store. The last
       vector of a row overlaps the one before. n_rows such rows at once, ``step`` apart (the
       windows' vertical stride), row r with keys[r] and its outputs at out + r * out_step
       (taken + r * taken_step): one call for a run of a plane's rows, whose set-up and
       bookkeeping cost as much as a 28-output row's draws when done row by row; *flagged
       for any of them. Returns the outputs done a row: n, or 0 for rows of fewer than N
       outputs. */
    #define CPOOL_STOCH_S2 1
    static inline __m256 cpool_stoch_u_f32(uint32_t lo, uint32_t hi) {
        __m256i h = _mm256_xor_si256(_mm256_add_epi32(_mm256_set1_epi32((int)lo),
                                                      _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7)),
                                     _mm256_set1_epi32((int)hi));
        h = _mm256_mullo_epi32(_mm256_xor_si256(h, _mm256_srli_epi32(h, 16)),
                               _mm256_set1_epi32(0x7FEB352D));
        h = _mm256_mullo_epi32(_mm256_xor_si256(h, _mm256_srli_epi32(h, 15)),
                               _mm256_set1_epi32((int)0x846CA68BU));
        h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(h, 8)),
                             _mm256_set1_ps(1.0f / 16777216.0f));
    }
    static inline __m256d cpool_stoch_u_f64(uint32_t lo, uint32_t hi) {
        __m128i h = _mm_xor_si128(_mm_add_epi32(_mm_set1_epi32((int)lo), _mm_setr_epi32(0, 2, 1, 3)),
                                  _mm_set1_epi32((int)hi));
        h = _mm_mullo_epi32(_mm_xor_si128(h, _mm_srli_epi32(h, 16)), _mm_set1_epi32(0x7FEB352D));
        h = _mm_mullo_epi32(_mm_xor_si128(h, _mm_srli_epi32(h, 15)),
                            _mm_set1_epi32((int)0x846CA68BU));
        h = _mm_xor_si128(h, _mm_srli_epi32(h, 16));
        /* unsigned to double: flip the top bit, convert as signed, add 2**31 back (exact) */
        return _mm256_mul_pd(_mm256_add_pd(_mm256_cvtepi32_pd(_mm_xor_si128(h, _mm_set1_epi32(-2147483647 - 1))),
                                           _mm256_set1_pd(2147483648.0)),
                             _mm256_set1_pd(1.0 / 4294967296.0));
    }
    #define CPOOL_STOCH_S2_ROW(NAME, TAPS, K) \\
        cpool_stoch_s2_k_##NAME(row0 + r * step, below, n, keys[r], first, out + r * out_step, \\
                                taken + r * taken_step, TAPS, &f, lead, ahead, K)
    #define CPOOL_STOCH_S2_K(NAME, T, S, N) \\
    static CPOOL_ALWAYS_INLINE Py_ssize_t cpool_stoch_s2_k_##NAME( \\
            const T* row0, Py_ssize_t below, Py_ssize_t n, uint64_t row_key, Py_ssize_t first, \\
            T* out, T* taken, int with_taps, int* flagged, int lead, Py_ssize_t ahead, \\
            const int K) { \\
        typedef __m256##S##_T V; \\
        const V z = _mm256_setzero_##S(), inf = _mm256_set1_##S((T)INFINITY); \\
        const V none = _mm256_set1_##S(-1), again = _mm256_set1_##S(-2); \\
        const uint32_t lo = (uint32_t)row_key + (uint32_t)first, hi = (uint32_t)(row_key >> 32); \\
        V tap[9], p, q, s, m, thr, run, le, value, number, flag, flags = z; \\
        const T* r; \\
        Py_ssize_t i; \\
        int t, j; \\
        if (n < N) return 0; \\
        for (i = 0; i < n; i += N) { \\
            CPOOL_OVERLAP_LAST(i, n, N) \\
            if (ahead) /* 64 bytes a row (float32) */ \\
                for (t = 0; t < K; t++) \\
                    cpool_prefetch_l2((const char*)(row0 + t * below + 2 * i) + ahead); \\
            for (t = 0; t < K; t++) { \\
                r = row0 + t * below + 2 * i; \\
                p = lead && i == 0 ? CPOOL_LOAD_BUT_FIRST_##NAME(r) : _mm256_loadu_##S(r); \\
                q = _mm256_loadu_##S(r + N); \\
                tap[t * K] = CPOOL_EVEN256_##NAME(p, q); \\
                tap[t * K + 1] = CPOOL_ODD256_##NAME(p, q); \\
                if (K == 3) \\
                    tap[t * K + 2] = CPOOL_ODD256_##NAME(_mm256_loadu_##S(r + 1), \\
                                                         _mm256_loadu_##S(r + 1 + N)); \\
            } \\
            s = tap[0]; m = tap[0]; \\
            for (j = 1; j < K * K; j++) { \\
                s = _mm256_add_##S(s, tap[j]); \\
                m = _mm256_min_##S(m, tap[j]); \\
            } \\
            thr = _mm256_mul_##S(cpool_stoch_u_##NAME(lo + (uint32_t)i, hi), s); \\
            value = tap[0]; number = z; run = tap[0]; \\
            for (j = 1; j < K * K; j++) { \\
                le = _mm256_cmp_##S(run, thr, _CMP_LE_OQ); \\
                value = _mm256_blendv_##S(value, tap[j], le); \\
                if (with_taps) number = _mm256_blendv_##S(number, _mm256_set1_##S((T)j), le); \\
                run = _mm256_add_##S(run, tap[j]); \\
            } \\
            /* a NaN tap makes s NaN, so the min's NaN rule cannot hide a flag */ \\
            flag = _mm256_or_##S(_mm256_cmp_##S(m, z, _CMP_LT_OQ), \\
                                 _mm256_cmp_##S(s, inf, _CMP_NLT_UQ)); \\
            le = _mm256_cmp_##S(s, z, _CMP_GT_OQ); \\
            flag = _mm256_or_##S(flag, _mm256_and_##S(_mm256_cmp_##S(value, z, _CMP_EQ_OQ), le)); \\
            flags = _mm256_or_##S(flags, flag); \\
            number = with_taps ? _mm256_blendv_##S(none, number, le) : none; \\
            _mm256_storeu_##S(out + i, CPOOL_ORDER256_##NAME(_mm256_add_##S(value, z))); \\
            _mm256_storeu_##S(taken + i, \\
                              CPOOL_ORDER256_##NAME(_mm256_blendv_##S(number, again, flag))); \\
        } \\
        *flagged = _mm256_movemask_##S(flags) != 0; \\
        return n; \\
    } \\
    static inline Py_ssize_t cpool_stoch_s2_##NAME( \\
            const T* row0, Py_ssize_t below, Py_ssize_t step, Py_ssize_t n_rows, Py_ssize_t n, \\
            Py_ssize_t k, const uint64_t* keys, Py_ssize_t first, T* out, Py_ssize_t out_step, \\
            T* taken, Py_ssize_t taken_step, int with_taps, int* flagged, int lead, \\
            Py_ssize_t ahead) { \\
        Py_ssize_t r; \\
        int any = 0, f = 0; \\
        if (n < N) return 0; \\
        /* with_taps and k as literals: with_taps a variable, GCC shares each walk mask \\
           between the value's and the tap number's blends and rebuilds it as an integer \\
           compare first (a vpcmpgtd per tap, 3 of about 70 instructions for 2x2) */ \\
        for (r = 0; r < n_rows; r++) { \\
            if (k == 2 && with_taps) CPOOL_STOCH_S2_ROW(NAME, 1, 2); \\
            else if (k == 2) CPOOL_STOCH_S2_ROW(NAME, 0, 2); \\
            else if (with_taps) CPOOL_STOCH_S2_ROW(NAME, 1, 3); \\
            else CPOOL_STOCH_S2_ROW(NAME, 0, 3); \\
            any |= f; \\
        } \\
        *flagged = any; \\
        return n; \\
    }
    CPOOL_STOCH_S2_K(f32, float, ps, 8)
    CPOOL_STOCH_S2_K(f64, double, pd, 4)
    #else
    #define CPOOL_EVAL_WIDE(NAME, S, N)
    #define CPOOL_ARGMAX_WIDE(NAME, T, S, N)
    #define CPOOL_TILE_VECTOR(NAME, T, S, M)
    #define CPOOL_TILES_WIDE(NAME, T, S, N)
    #define CPOOL_TILES_3X3_WIDE(NAME, T, S, N)
    #define CPOOL_COLUMN_MAX3_256(NAME, T, S)
    #define CPOOL_HORIZONTAL_WIDE(NAME, S, N)
    #define CPOOL_TILES_WIDE_FLAGS(S) 0
    #define CPOOL_TILES_WIDE_DECL(S)
    #define CPOOL_LEAD_3X3 0
    #endif
    #define CPOOL_TILES_2X2(NAME, T, V, S, N) \\
    /* Always inlined, so that cpool_tile_rows_2x2's literal op reaches its loop: at -O2 \\
       (_window's build) GCC left it a call, op read at run time (adaptive avg 14 -> 7, rows \\
       of 7 outputs: 1.26x as slow). */ \\
    static CPOOL_ALWAYS_INLINE int cpool_tiles_2x2_##NAME(const T* r0, const T* r1, T* out, \\
                                                          Py_ssize_t n, int op, T scale, \\
                                                          const T* h0, Py_ssize_t ahead) { \\
        /* the +0 on its side of the scale, -0 (which changes nothing) on the other */ \\
        T zb = op == 3 ? (T)0 : (T)-0.0, za = op == 3 ? (T)-0.0 : (T)0; \\
        V flags = _mm_setzero_##S(), sv = _mm_set1_##S(scale); \\
        V zbv = _mm_set1_##S(zb), zav = _mm_set1_##S(za); \\
        CPOOL_TILES_WIDE_DECL(S) \\
        Py_ssize_t i = 0, at; \\
        int any = 0; \\
        CPOOL_TILES_WIDE(NAME, T, S, N) \\
        for (; i < n; i += N) { \\
            CPOOL_OVERLAP_LAST(i, n, N) \\
            CPOOL_HINT_ROWS(h0 + 2 * i, r1 + 2 * i, ahead); /* a line twice: as cheap as once */ \\
            { \\
                V a0 = _mm_loadu_##S(r0 + 2 * i), a1 = _mm_loadu_##S(r0 + 2 * i + N); \\
                V b0 = _mm_loadu_##S(r1 + 2 * i), b1 = _mm_loadu_##S(r1 + 2 * i + N); \\
                V v0, v1, e, o; \\
                if (op == 2) { \\
                    flags = _mm_or_##S(flags, _mm_or_##S(_mm_cmpunord_##S(a0, b0), \\
                                                         _mm_cmpunord_##S(a1, b1))); \\
                    v0 = _mm_max_##S(b0, a0); \\
                    v1 = _mm_max_##S(b1, a1); \\
                    flags = _mm_or_##S(flags, _mm_or_##S(CPOOL_NEGZERO(S, v0), \\
                                                         CPOOL_NEGZERO(S, v1))); \\
                } else if (op == 1) { \\
                    v0 = _mm_add_##S(_mm_mul_##S(a0, a0), _mm_mul_##S(b0, b0)); \\
                    v1 = _mm_add_##S(_mm_mul_##S(a1, a1), _mm_mul_##S(b1, b1)); \\
                } else { \\
                    v0 = _mm_add_##S(a0, b0); \\
                    v1 = _mm_add_##S(a1, b1); \\
                } \\
                e = CPOOL_EVEN_##NAME(v0, v1); \\
                o = CPOOL_ODD_##NAME(v0, v1); \\
                _mm_storeu_##S(out + i, op == 2 ? _mm_max_##S(o, e) \\
                                                : _mm_add_##S(_mm_mul_##S(_mm_add_##S( \\
                                                      _mm_add_##S(e, o), zbv), sv), zav)); \\
            } \\
        } \\
        for (at = i; at < n; at++) /* rows of fewer than N outputs */ \\
            out[at] = cpool_tile_2x2_one_##NAME(r0, r1, at, op, scale, &any); \\
        return any | (_mm_movemask_##S(flags) != 0) | CPOOL_TILES_WIDE_FLAGS(S); \\
    }
    CPOOL_TILE_VECTOR(f32, float, ps, 8)
    CPOOL_TILE_VECTOR(f64, double, pd, 4)
    CPOOL_TILES_2X2(f32, float, __m128, ps, 4)
    CPOOL_TILES_2X2(f64, double, __m128d, pd, 2)
    /* Max over rows of 3x3 tiles at stride 2 (adaptive 13 -> 6, the windows inside a row of
       max 3x3 s2 p1): output row r (n values at out + r*n) from input rows
       x + r*step + t*below, t < 3 (_d: of each of n_depth slices, x + s*depth_step + ..., a
       3-D window's; the rows of every slice are a column's); out[i] the max of columns 2i,
       2i+1 and 2i+2, each column's max first (rows in order), with _mm_max(v, m). Columns 2i+2
       come from the odd lanes of the columns loaded one further on, so nothing past column
       2n is read. Returns whether any tap is NaN or any column max -0 (as cpool_tiles_2x2). */
    #define CPOOL_TILES_3X3(NAME, T, V, S, N) \\
    CPOOL_COLUMN_MAX3_256(NAME, T, S) \\
    static CPOOL_ALWAYS_INLINE V cpool_column_max3_##NAME(const T* p, Py_ssize_t below, \\
                                                         Py_ssize_t depth_step, \\
                                                         Py_ssize_t n_depth, V* flags) { \\
        V t0 = _mm_loadu_##S(p), t1 = _mm_loadu_##S(p + below); \\
        V t2 = _mm_loadu_##S(p + 2 * below); \\
        V f = _mm_or_##S(_mm_cmpunord_##S(t0, t1), _mm_cmpunord_##S(t2, t2)); \\
        Py_ssize_t sl; \\
        t0 = _mm_max_##S(t2, _mm_max_##S(t1, t0)); \\
        for (sl = 1; sl < n_depth; sl++) { /* a 3-D window's further slices */ \\
            const T* q = p + sl * depth_step; \\
            V v0 = _mm_loadu_##S(q); \\
            t1 = _mm_loadu_##S(q + below); \\
            t2 = _mm_loadu_##S(q + 2 * below); \\
            f = _mm_or_##S(f, _mm_or_##S(_mm_cmpunord_##S(v0, t1), _mm_cmpunord_##S(t2, t2))); \\
            t0 = _mm_max_##S(t2, _mm_max_##S(t1, _mm_max_##S(v0, t0))); \\
        } \\
        *flags = _mm_or_##S(*flags, _mm_or_##S(f, CPOOL_NEGZERO(S, t0))); \\
        return t0; \\
    } \\
    static CPOOL_ALWAYS_INLINE int cpool_tiles_3x3_max_d_##NAME( \\
            const T* x, Py_ssize_t below, Py_ssize_t depth_step, Py_ssize_t n_depth, \\
            Py_ssize_t step, Py_ssize_t n_rows, T* out, Py_ssize_t n, Py_ssize_t ahead, \\
            int lead) { \\
        V flags = _mm_setzero_##S(), a0, a1, b0, b1, m; \\
        CPOOL_TILES_WIDE_DECL(S) \\
        Py_ssize_t r, i, at; \\
        int any = 0; \\
        for (r = 0; r < n_rows; r++) { \\
            const T* row = x + r * step; \\
            T* o_row = out + r * n; \\
            i = 0; \\
            CPOOL_TILES_3X3_WIDE(NAME, T, S, N) \\
            for (; i < n; i += N) { \\
                CPOOL_OVERLAP_LAST(i, n, N) \\
                a0 = cpool_column_max3_##NAME(row + 2 * i, below, depth_step, n_depth, &flags); \\
                a1 = cpool_column_max3_##NAME(row + 2 * i + N, below, depth_step, n_depth, \\
                                              &flags); \\
                b0 = cpool_column_max3_##NAME(row + 2 * i + 1, below, depth_step, n_depth, \\
                                              &flags); \\
                b1 = cpool_column_max3_##NAME(row + 2 * i + 1 + N, below, depth_step, n_depth, \\
                                              &flags); \\
                m = _mm_max_##S(CPOOL_ODD_##NAME(a0, a1), CPOOL_EVEN_##NAME(a0, a1)); \\
                _mm_storeu_##S(o_row + i, _mm_max_##S(CPOOL_ODD_##NAME(b0, b1), m)); \\
            } \\
            for (at = i; at < n; at++) /* rows of fewer than N outputs */ \\
                o_row[at] = cpool_tile_3x3_one_##NAME(row, below, depth_step, n_depth, at, &any); \\
        } \\
        return any | (_mm_movemask_##S(flags) != 0) | CPOOL_TILES_WIDE_FLAGS(S); \\
    } \\
    static inline int cpool_tiles_3x3_max_##NAME(const T* x, Py_ssize_t below, Py_ssize_t step, \\
                                                 Py_ssize_t n_rows, T* out, Py_ssize_t n) { \\
        return cpool_tiles_3x3_max_d_##NAME(x, below, 0, 1, step, n_rows, out, n, 0, 0); \\
    }
    CPOOL_TILES_3X3(f32, float, __m128, ps, 4)
    CPOOL_TILES_3X3(f64, double, __m128d, pd, 2)
    /* The horizontal pass at stride 2 over a row of column results (_rows' _horizontal):
       out[i] = combine(combine(buf[2i], buf[2i+1]), buf[2i+2]) for k = 3 (k = 2: the first
       two), i < n, where combine is the sum (op 0) or PyTorch's max update (op 2: v replaces m
       where v > m or v is NaN, as _take_max; the same bits, payloads and zeros included).
       Even/odd shuffles of two loads; buf[2i+2] from the odd lanes of the loads one further
       on, so nothing past the last window's taps is read. GCC left this stride-2 loop scalar
       (max 3x3 s2 p1: a third of its time). */
    /* PyTorch's max update (as CPOOL_TAKE_TAP256, in SSE2 selects), and CPOOL_COMBINE: that
       update (op 2) or the sum, as a statement. */
    #define CPOOL_TAKE_TAP(S, m, v, mask) ( \\
        mask = _mm_or_##S(_mm_cmpgt_##S(v, m), _mm_cmpunord_##S(v, v)), \\
        m = _mm_or_##S(_mm_and_##S(mask, v), _mm_andnot_##S(mask, m)))
    #define CPOOL_COMBINE(S, op, m, v, mask) \\
        if ((op) == 2) CPOOL_TAKE_TAP(S, m, v, mask); else m = _mm_add_##S(m, v);
    #define CPOOL_HORIZONTAL_S2(NAME, T, V, S, N) \\
    static inline void cpool_horizontal_s2_##NAME(const T* buf, T* out, Py_ssize_t n, int k, \\
                                                  int op) { \\
        Py_ssize_t i = 0; \\
        V a0, a1, m, v, mask; \\
        CPOOL_HORIZONTAL_WIDE(NAME, S, N) \\
        for (; i < n; i += N) { \\
            CPOOL_OVERLAP_LAST(i, n, N) \\
            a0 = _mm_loadu_##S(buf + 2 * i); \\
            a1 = _mm_loadu_##S(buf + 2 * i + N); \\
            m = CPOOL_EVEN_##NAME(a0, a1); \\
            v = CPOOL_ODD_##NAME(a0, a1); \\
            CPOOL_COMBINE(S, op, m, v, mask) \\
            if (k == 3) { \\
                a0 = _mm_loadu_##S(buf + 2 * i + 1); \\
                a1 = _mm_loadu_##S(buf + 2 * i + 1 + N); \\
                v = CPOOL_ODD_##NAME(a0, a1); \\
                CPOOL_COMBINE(S, op, m, v, mask) \\
            } \\
            _mm_storeu_##S(out + i, m); \\
        } \\
        for (; i < n; i++) /* rows of fewer than N outputs */ \\
            out[i] = cpool_horizontal_s2_one_##NAME(buf, i, k, op); \\
    }
    CPOOL_HORIZONTAL_S2(f32, float, __m128, ps, 4)
    CPOOL_HORIZONTAL_S2(f64, double, __m128d, pd, 2)
    /* Max pooling with indices over k x k windows (k = 2 or 3) at stride 2, every tap inside
       the rows: out[i] the max of columns 2i .. 2i+k-1 of rows x + t*below (t < k), taken tap
       by tap in PyTorch's scan order (row by row, left to right) with its update (v replaces m
       where v > m or v is NaN: ties keep the first, NaN the last, with its payload), so no row
       needs scanning again; idx[i] the winner's flat index, base + 2i + its column + its row
       times index_below. The winner's column and row are kept as lane masks beside the value
       (c1/c2: column 1/2, r1/r2: row 1/2), then widened to the int64 lanes of the indices (in
       SSE2, each 32-bit mask unpacked with itself). Columns 2i+2 come from the odd lanes of
       the loads one further on, so nothing past the last window's taps is read. "max 2x2 s2
       with indices" went through the general combine at four times the time without. */
    #define CPOOL_MASK64_f32(v, g) ((g) ? _mm_unpackhi_epi32(_mm_castps_si128(v), _mm_castps_si128(v)) \\
                                        : _mm_unpacklo_epi32(_mm_castps_si128(v), _mm_castps_si128(v)))
    #define CPOOL_MASK64_f64(v, g) _mm_castpd_si128(v)
    #define CPOOL_ARG_CODE(S, code, one_, two_, M) { \\
        one_ = (code) == 1 ? _mm_or_##S(one_, M) : _mm_andnot_##S(M, one_); \\
        if (k == 3) two_ = (code) == 2 ? _mm_or_##S(two_, M) : _mm_andnot_##S(M, two_); }
    #define CPOOL_ARG_INDEX(NAME, v, g, step) \\
        _mm_and_si128(CPOOL_MASK64_##NAME(v, g), _mm_set1_epi64x(step))
    /* cpool_argmax_s2's hints: with ``ahead``, the lines that many bytes past the step's in
       each of its k input rows and in its outputs and indices, into L2 (a small plane's rows,
       a thread's planes after each other, are one stream each way). */
    #define CPOOL_ARGMAX_HINT(i) \\
        if (ahead) { \\
            for (t = 0; t < k; t++) \\
                cpool_prefetch_l2((const char*)(x + t * below + 2 * (i)) + ahead); \\
            cpool_prefetch_l2((const char*)(out + (i)) + ahead); \\
            cpool_prefetch_l2((const char*)(idx + (i)) + ahead); \\
        }
    #define CPOOL_ARGMAX_S2(NAME, T, V, S, N) \\
    static CPOOL_ALWAYS_INLINE void cpool_argmax_s2_k_##NAME( \\
            const T* x, Py_ssize_t below, int k, T* out, int64_t* idx, Py_ssize_t n, \\
            int64_t base, int64_t index_below, Py_ssize_t ahead) { \\
        Py_ssize_t i = 0, g; \\
        int t, c; \\
        V a0, a1, b0, b1, m, v, mask, c1, c2, r1, r2; \\
        __m128i lane = _mm_set_epi64x(2, 0), at; \\
        CPOOL_ARGMAX_WIDE(NAME, T, S, N) \\
        for (; i < n; i += N) { \\
            CPOOL_OVERLAP_LAST(i, n, N) \\
            CPOOL_ARGMAX_HINT(i) \\
            c1 = c2 = r1 = r2 = m = _mm_setzero_##S(); \\
            CPOOL_UNROLL for (t = 0; t < k; t++) { \\
                const T* row = x + t * below + 2 * i; \\
                a0 = _mm_loadu_##S(row); a1 = _mm_loadu_##S(row + N); \\
                b0 = b1 = a0; \\
                if (k == 3) { b0 = _mm_loadu_##S(row + 1); b1 = _mm_loadu_##S(row + 1 + N); } \\
                CPOOL_UNROLL for (c = 0; c < k; c++) { \\
                    v = c == 0 ? CPOOL_EVEN_##NAME(a0, a1) \\
                      : c == 1 ? CPOOL_ODD_##NAME(a0, a1) : CPOOL_ODD_##NAME(b0, b1); \\
                    if (t == 0 && c == 0) { m = v; continue; } \\
                    CPOOL_TAKE_TAP(S, m, v, mask); \\
                    CPOOL_ARG_CODE(S, c, c1, c2, mask) \\
                    CPOOL_ARG_CODE(S, t, r1, r2, mask) \\
                } \\
            } \\
            _mm_storeu_##S(out + i, m); \\
            CPOOL_UNROLL for (g = 0; g < N / 2; g++) { \\
                at = _mm_add_epi64(_mm_set1_epi64x(base + 2 * (i + 2 * g)), lane); \\
                at = _mm_add_epi64(at, CPOOL_ARG_INDEX(NAME, c1, g, 1)); \\
                at = _mm_add_epi64(at, CPOOL_ARG_INDEX(NAME, r1, g, index_below)); \\
                if (k == 3) { \\
                    at = _mm_add_epi64(at, CPOOL_ARG_INDEX(NAME, c2, g, 2)); \\
                    at = _mm_add_epi64(at, CPOOL_ARG_INDEX(NAME, r2, g, 2 * index_below)); \\
                } \\
                _mm_storeu_si128((__m128i*)(idx + i + 2 * g), at); \\
            } \\
        } \\
        for (; i < n; i++) /* rows of fewer than N outputs */ \\
            cpool_argmax_s2_one_##NAME(x, below, k, i, base, index_below, out, idx); \\
    } \\
    /* k as a constant in each copy, so that the loops over the taps unroll and the choice of \\
       each tap's lanes folds away (a k read at run time made 2x2 with indices 12% slower). */ \\
    static inline void cpool_argmax_s2_##NAME(const T* x, Py_ssize_t below, int k, T* out, \\
                                              int64_t* idx, Py_ssize_t n, int64_t base, \\
                                              int64_t index_below, Py_ssize_t ahead) { \\
        if (k == 3) cpool_argmax_s2_k_##NAME(x, below, 3, out, idx, n, base, index_below, ahead); \\
        else cpool_argmax_s2_k_##NAME(x, below, 2, out, idx, n, base, index_below, ahead); \\
    }
    CPOOL_ARGMAX_S2(f32, float, __m128, ps, 4)
    CPOOL_ARGMAX_S2(f64, double, __m128d, pd, 2)
    /* The 2x2 stride-2 gradient spread: v = src[i] (mode 0), src[i] * div[i] (1: exact
       reciprocals) or src[i] / div[i] (2), plus +0 (PyTorch adds it to a zeroed gradient: a
       -0 lands as +0), on cells 2i and 2i+1 of rows r0 and r1, i < n.
       Vectors of N gradients, unpacked to pairs; the last one overlaps the one before (the
       same values written twice). GCC leaves the scalar loop's duplicating stores scalar
       (adaptive avg 14 -> 7 backward: a third of its time). */
    #define CPOOL_SPREAD_2X2(NAME, T, V, S, N) \\
    static inline void cpool_spread_2x2_##NAME(const T* src, const T* div, int mode, T* r0, \\
                                               T* r1, Py_ssize_t n, Py_ssize_t ahead) { \\
        Py_ssize_t i = 0; \\
        V v, lo, hi; \\
        for (; i < n; i += N) { \\
            CPOOL_OVERLAP_LAST(i, n, N) \\
            CPOOL_HINT_ROWS(r0 + 2 * i, r1 + 2 * i, ahead); /* a line twice (float32) */ \\
            v = _mm_loadu_##S(src + i); \\
            if (mode == 1) v = _mm_mul_##S(v, _mm_loadu_##S(div + i)); \\
            else if (mode == 2) v = _mm_div_##S(v, _mm_loadu_##S(div + i)); \\
            v = _mm_add_##S(v, _mm_setzero_##S()); \\
            lo = _mm_unpacklo_##S(v, v); \\
            hi = _mm_unpackhi_##S(v, v); \\
            _mm_storeu_##S(r0 + 2 * i, lo); \\
            _mm_storeu_##S(r0 + 2 * i + N, hi); \\
            _mm_storeu_##S(r1 + 2 * i, lo); \\
            _mm_storeu_##S(r1 + 2 * i + N, hi); \\
        } \\
        for (; i < n; i++) \\
            cpool_spread_2x2_one_##NAME(src, div, mode, r0, r1, i); \\
    }
    CPOOL_SPREAD_2X2(f32, float, __m128, ps, 4)
    CPOOL_SPREAD_2X2(f64, double, __m128d, pd, 2)
    /* Stochastic pooling's evaluation over 2x2 tiles at stride 2: out[i] = sum(a^2) / sum(a)
       over columns 2i, 2i+1 of rows r0 and r1 (the sums as cpool_tiles_2x2 makes them; 0 / 1
       for an all-zero window, the sum where it is infinite: stochastic's _ratio), and *low
       the smaller of itself and every cell read but NaN (v < m ? v : m). The AVX2 build
       runs 2N outputs a step first (CPOOL_EVAL_WIDE). */
    #define CPOOL_EVAL_2X2(NAME, T, V, S, N) \\
    static inline void cpool_eval_2x2_##NAME(const T* r0, const T* r1, T* out, Py_ssize_t n, \\
                                             T* low, Py_ssize_t ahead) { \\
        Py_ssize_t i = 0; \\
        V a0, a1, b0, b1, sa, sq, den, z = _mm_setzero_##S(), one = _mm_set1_##S(1); \\
        V inf = _mm_set1_##S(INFINITY), m = _mm_set1_##S(*low), m1 = m; \\
        T lanes[2 * N], v; \\
        CPOOL_EVAL_WIDE(NAME, S, N) \\
        for (; i < n; i += N) { \\
            CPOOL_OVERLAP_LAST(i, n, N) \\
            CPOOL_HINT_ROWS(r0 + 2 * i, r1 + 2 * i, ahead); /* a line twice (float32) */ \\
            a0 = _mm_loadu_##S(r0 + 2 * i); a1 = _mm_loadu_##S(r0 + 2 * i + N); \\
            b0 = _mm_loadu_##S(r1 + 2 * i); b1 = _mm_loadu_##S(r1 + 2 * i + N); \\
            /* Each cell against a running minimum on its own: min(x, m) is m where x is NaN, \\
               so a NaN is passed over, never a value beside it (min(min(a0, a1), m) dropped \\
               a0 where a1 was NaN: a negative input beside a NaN went unreported). Two \\
               running minima, so that each depends on two mins an iteration, not four. */ \\
            m = _mm_min_##S(a0, m); m = _mm_min_##S(b0, m); \\
            m1 = _mm_min_##S(a1, m1); m1 = _mm_min_##S(b1, m1); \\
            sa = _mm_add_##S(CPOOL_EVEN_##NAME(_mm_add_##S(a0, b0), _mm_add_##S(a1, b1)), \\
                             CPOOL_ODD_##NAME(_mm_add_##S(a0, b0), _mm_add_##S(a1, b1))); \\
            a0 = _mm_add_##S(_mm_mul_##S(a0, a0), _mm_mul_##S(b0, b0)); \\
            a1 = _mm_add_##S(_mm_mul_##S(a1, a1), _mm_mul_##S(b1, b1)); \\
            sq = _mm_add_##S(CPOOL_EVEN_##NAME(a0, a1), CPOOL_ODD_##NAME(a0, a1)); \\
            den = _mm_cmpeq_##S(sa, z); \\
            den = _mm_or_##S(_mm_and_##S(den, one), _mm_andnot_##S(den, sa)); \\
            sq = _mm_div_##S(sq, den); \\
            den = _mm_cmpeq_##S(sa, inf); \\
            _mm_storeu_##S(out + i, _mm_or_##S(_mm_and_##S(den, sa), _mm_andnot_##S(den, sq))); \\
        } \\
        _mm_storeu_##S(lanes, m); \\
        _mm_storeu_##S(lanes + N, m1); \\
        for (v = *low, i = 0; i < 2 * N; i++) v = lanes[i] < v ? lanes[i] : v; \\
        for (i = (n < N ? 0 : n); i < n; i++) /* rows of fewer than N outputs */ \\
            out[i] = cpool_eval_2x2_one_##NAME(r0, r1, i, &v); \\
        *low = v; \\
    }
    CPOOL_EVAL_2X2(f32, float, __m128, ps, 4)
    CPOOL_EVAL_2X2(f64, double, __m128d, pd, 2)
    #else
    #define CPOOL_SSE2 0
    #define CPOOL_LEAD_3X3 0
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
    #define CPOOL_TILE_LOOPS(NAME, T) \\
    static inline int cpool_tiles_2x2_##NAME(const T* r0, const T* r1, T* out, Py_ssize_t n, \\
                                             int op, T scale, const T* h0, Py_ssize_t ahead) { \\
        Py_ssize_t i; \\
        int any = 0; \\
        (void)h0; (void)ahead; /* no hints without SSE2 */ \\
        for (i = 0; i < n; i++) out[i] = cpool_tile_2x2_one_##NAME(r0, r1, i, op, scale, &any); \\
        return any; \\
    } \\
    static inline int cpool_tiles_3x3_max_d_##NAME( \\
            const T* x, Py_ssize_t below, Py_ssize_t depth_step, Py_ssize_t n_depth, \\
            Py_ssize_t step, Py_ssize_t n_rows, T* out, Py_ssize_t n, Py_ssize_t ahead, \\
            int lead) { \\
        Py_ssize_t r, i; \\
        (void)lead; /* never set here (CPOOL_LEAD_3X3) */ \\
        int any = 0; \\
        (void)ahead; /* no hints without SSE2 */ \\
        for (r = 0; r < n_rows; r++) \\
            for (i = 0; i < n; i++) \\
                out[r * n + i] = cpool_tile_3x3_one_##NAME(x + r * step, below, depth_step, \\
                                                           n_depth, i, &any); \\
        return any; \\
    } \\
    static inline int cpool_tiles_3x3_max_##NAME(const T* x, Py_ssize_t below, Py_ssize_t step, \\
                                                 Py_ssize_t n_rows, T* out, Py_ssize_t n) { \\
        return cpool_tiles_3x3_max_d_##NAME(x, below, 0, 1, step, n_rows, out, n, 0, 0); \\
    } \\
    static inline void cpool_spread_2x2_##NAME(const T* src, const T* div, int mode, T* r0, \\
                                               T* r1, Py_ssize_t n, Py_ssize_t ahead) { \\
        Py_ssize_t i; \\
        (void)ahead; \\
        for (i = 0; i < n; i++) cpool_spread_2x2_one_##NAME(src, div, mode, r0, r1, i); \\
    } \\
    static inline void cpool_eval_2x2_##NAME(const T* r0, const T* r1, T* out, Py_ssize_t n, \\
                                             T* low, Py_ssize_t ahead) { \\
        Py_ssize_t i; \\
        (void)ahead; \\
        for (i = 0; i < n; i++) out[i] = cpool_eval_2x2_one_##NAME(r0, r1, i, low); \\
    } \\
    static inline void cpool_horizontal_s2_##NAME(const T* buf, T* out, Py_ssize_t n, int k, \\
                                                  int op) { \\
        Py_ssize_t i; \\
        for (i = 0; i < n; i++) out[i] = cpool_horizontal_s2_one_##NAME(buf, i, k, op); \\
    } \\
    static inline void cpool_argmax_s2_##NAME(const T* x, Py_ssize_t below, int k, T* out, \\
                                              int64_t* idx, Py_ssize_t n, int64_t base, \\
                                              int64_t index_below, Py_ssize_t ahead) { \\
        Py_ssize_t i; \\
        (void)ahead; \\
        for (i = 0; i < n; i++) \\
            cpool_argmax_s2_one_##NAME(x, below, k, i, base, index_below, out, idx); \\
    }
    CPOOL_TILE_LOOPS(f32, float)
    CPOOL_TILE_LOOPS(f64, double)
    #endif
    /* The 2x2 stride-2 gradient spread (cpool_spread_2x2, mode as there, every divisor d) over
       rows that run on back to back: gradient row r (n values at src + r*n, r < n_rows, n at
       most 16) onto input rows out + 2rW and out + (2r+1)W, W = 2n (short planes' rows, plane
       after plane). In AVX2 builds, whole 256-bit vectors of gradients a row, unpacked to
       pairs: a row's last vector reads past its n gradients into the next row's and writes
       past its 2n cells, the upper row's into the lower row's (stored after it) and the lower
       row's into the next upper row's (stored on the next step). The last row, and every row
       where a vector would write past the next row or without AVX2, by cpool_spread_2x2. */
    #if defined(__AVX2__)
    #define CPOOL_SPREAD_RUN_VECTORS(NAME, T, S, M) \\
        Py_ssize_t K = (n + M - 1) / M, half, k; \\
        __m256##S##_T dv = _mm256_set1_##S(d), v, lo, hi; \\
        if (K * M <= 2 * n) \\
            for (; r + 1 < n_rows; r++) \\
                for (half = 0; half < 2; half++) { /* the upper row's stores, then the lower's */ \\
                    T* row = out + (2 * r + half) * W; \\
                    for (k = 0; k < K * M; k += M) { \\
                        if (ahead) cpool_prefetch_l2((const char*)(row + 2 * k) + ahead); \\
                        v = _mm256_loadu_##S(src + r * n + k); \\
                        if (mode == 1) v = _mm256_mul_##S(v, dv); \\
                        else if (mode == 2) v = _mm256_div_##S(v, dv); \\
                        v = _mm256_add_##S(v, _mm256_setzero_##S()); \\
                        lo = _mm256_unpacklo_##S(v, v); \\
                        hi = _mm256_unpackhi_##S(v, v); \\
                        _mm256_storeu_##S(row + 2 * k, _mm256_permute2f128_##S(lo, hi, 0x20)); \\
                        _mm256_storeu_##S(row + 2 * k + M, \\
                                          _mm256_permute2f128_##S(lo, hi, 0x31)); \\
                    } \\
                }
    #else
    #define CPOOL_SPREAD_RUN_VECTORS(NAME, T, S, M)
    #endif
    #define CPOOL_SPREAD_RUN(NAME, T, S, M) \\
    static inline void cpool_spread_run_2x2_##NAME(const T* src, T d, int mode, T* out, \\
                                                   Py_ssize_t n_rows, Py_ssize_t n, \\
                                                   Py_ssize_t ahead) { \\
        Py_ssize_t W = 2 * n, r = 0, i; \\
        T div[16]; \\
        CPOOL_SPREAD_RUN_VECTORS(NAME, T, S, M) \\
        for (i = 0; i < n && i < 16; i++) \\
            div[i] = d; \\
        for (; r < n_rows; r++) \\
            cpool_spread_2x2_##NAME(src + r * n, div, mode, out + 2 * r * W, \\
                                    out + (2 * r + 1) * W, n, ahead); \\
    }
    CPOOL_SPREAD_RUN(f32, float, ps, 8)
    CPOOL_SPREAD_RUN(f64, double, pd, 4)
    /* cpool_argmax_s2 over the rows of short planes, plane after plane (values and indices
       contiguous): ``plane`` the first window row of the first row's plane, output row oh of
       a plane from its rows plane + oh*step + t*below, its indices base0 + oh*base_step +
       ..., the planes plane_step apart (oh from the first row's, wrapping at OH to the next
       plane). In AVX2 builds, every row but the last in whole 256-bit steps of 2N outputs
       (CPOOL_ARGMAX_STEP256): a row's last step runs past its n outputs into the next row's
       values and indices, which that row's own stores then overwrite, so a row of 7 outputs
       is one step, not two overlapping 128-bit ones (max 2x2 with indices on 14-wide
       planes), and a row of 6 (3x3 windows on 13-wide planes) one without masks. Its reads
       past the row fall before the next row's last taps (a NaN among them only sends the
       step by the exact pairs): the next row is step on within a plane, at least that across
       planes. The last row, every row where a step would read past the next row's taps
       (4KN > step + 2n, below < 0, or planes closer than OH steps) or write past its outputs
       (2KN > 2n), and every row without AVX2, by cpool_argmax_s2. */
    #if defined(__AVX2__)
    #define CPOOL_ARGMAX_RUN_VECTORS(NAME, T, S, N) \\
        if (n_rows >= 2 && n >= 1 && below >= 0 && plane_step >= OH * step \\
                && 4 * ((n + 2 * N - 1) / (2 * N)) * N <= step + 2 * n \\
                && 2 * ((n + 2 * N - 1) / (2 * N)) * N <= 2 * n \\
                && (sizeof(T) == 8 || index_below <= (INT32_MAX - 2) / 2)) { \\
            Py_ssize_t i, g; \\
            int t, c; \\
            __m256i lane256 = _mm256_set_epi64x(6, 4, 2, 0), at256; \\
            __m256##S##_T w0, w1, u0, u1, wm, wmask, wo, offsets[9]; \\
            for (t = 0; t < k; t++) /* in the scan's order */ \\
                for (c = 0; c < k; c++) \\
                    offsets[t * k + c] = CPOOL_OFFSET256_##NAME(c + t * index_below); \\
            for (; r + 1 < n_rows; r++) { \\
                const T* x = row; \\
                T* out = orun + r * n; \\
                int64_t* idx = irun + r * n; \\
                for (i = 0; i < n; i += 2 * N) { \\
                    CPOOL_ARGMAX_HINT(i) \\
                    CPOOL_ARGMAX_STEP256(NAME, T, S, N, CPOOL_LOADU256_##NAME, 0, out + i, \\
                                         idx + i, CPOOL_STOREU256, 2 * N) \\
                } \\
                CPOOL_NEXT_PLANE_ROW \\
            } \\
        }
    #else
    #define CPOOL_ARGMAX_RUN_VECTORS(NAME, T, S, N)
    #endif
    /* The next row's first window row and its indices' base (a multiply a row, where these
       add, took the 14-wide 2x2 rows 6% longer). */
    #define CPOOL_NEXT_PLANE_ROW \\
        if (++oh == OH) { oh = 0; plane += plane_step; row = plane; base = base0; } \\
        else { row += step; base += base_step; }
    #define CPOOL_ARGMAX_RUN(NAME, T, S, N) \\
    static CPOOL_ALWAYS_INLINE void cpool_argmax_run_s2_k_##NAME( \\
            const T* plane, Py_ssize_t below, Py_ssize_t step, Py_ssize_t plane_step, \\
            Py_ssize_t n_rows, int k, T* orun, int64_t* irun, Py_ssize_t n, int64_t base0, \\
            int64_t base_step, Py_ssize_t OH, Py_ssize_t oh, int64_t index_below, \\
            Py_ssize_t ahead) { \\
        Py_ssize_t r = 0; \\
        const T* row = plane + oh * step; \\
        int64_t base = base0 + oh * base_step; \\
        CPOOL_ARGMAX_RUN_VECTORS(NAME, T, S, N) \\
        for (; r < n_rows; r++) { \\
            cpool_argmax_s2_##NAME(row, below, k, orun + r * n, irun + r * n, n, base, \\
                                   index_below, ahead); \\
            CPOOL_NEXT_PLANE_ROW \\
        } \\
    } \\
    /* k as a constant in each copy, as cpool_argmax_s2's. */ \\
    static inline void cpool_argmax_run_s2_##NAME( \\
            const T* plane, Py_ssize_t below, Py_ssize_t step, Py_ssize_t plane_step, \\
            Py_ssize_t n_rows, int k, T* orun, int64_t* irun, Py_ssize_t n, int64_t base0, \\
            int64_t base_step, Py_ssize_t OH, Py_ssize_t oh, int64_t index_below, \\
            Py_ssize_t ahead) { \\
        if (k == 3) \\
            cpool_argmax_run_s2_k_##NAME(plane, below, step, plane_step, n_rows, 3, orun, irun, \\
                                         n, base0, base_step, OH, oh, index_below, ahead); \\
        else \\
            cpool_argmax_run_s2_k_##NAME(plane, below, step, plane_step, n_rows, 2, orun, irun, \\
                                         n, base0, base_step, OH, oh, index_below, ahead); \\
    }
    CPOOL_ARGMAX_RUN(f32, float, ps, 4)
    CPOOL_ARGMAX_RUN(f64, double, pd, 2)
    /* cpool_eval_2x2 over rows that run on back to back: output row r (n values at
       out + r*n, r < n_rows) from input rows x + 2rW and x + (2r+1)W, W = 2n (short planes
       of H = 2 OH, W = 2 OW, plane after plane), the cells' minimum into *low. In AVX2
       builds, every row but the last in whole 256-bit steps of 2N outputs
       (CPOOL_EVAL_STEP256): a row's last step reads past its two rows' 2n cells into the
       next rows' (cells of the run's windows, so the minimum is theirs too) and writes past
       its n outputs into the next row's, which that row's stores then overwrite. The last
       row, every row where a step would read past the next row's cells (4KN > 6n) or write
       past its outputs (2KN > 2n), and every row without AVX2, by cpool_eval_2x2. */
    #if defined(__AVX2__)
    #define CPOOL_EVAL_RUN_VECTORS(NAME, T, S, N) \\
        if (n_rows >= 2 && n >= 1 && 4 * ((n + 2 * N - 1) / (2 * N)) * N <= 6 * n \\
                && 2 * ((n + 2 * N - 1) / (2 * N)) * N <= 2 * n) { \\
            CPOOL_EVAL_REGISTERS256(S) \\
            T lanes[4 * N], v; \\
            for (; r + 1 < n_rows; r++) { \\
                const T* r0 = x + 2 * r * W; \\
                const T* r1 = r0 + W; \\
                T* out = orun + r * n; \\
                for (i = 0; i < n; i += 2 * N) \\
                    CPOOL_EVAL_STEP256(NAME, S, N) \\
            } \\
            _mm256_storeu_##S(lanes, wm); \\
            _mm256_storeu_##S(lanes + 2 * N, wm1); \\
            for (v = *low, i = 0; i < 4 * N; i++) v = lanes[i] < v ? lanes[i] : v; \\
            *low = v; \\
        }
    #else
    #define CPOOL_EVAL_RUN_VECTORS(NAME, T, S, N)
    #endif
    #define CPOOL_EVAL_RUN(NAME, T, S, N) \\
    static inline void cpool_eval_run_2x2_##NAME(const T* x, Py_ssize_t n_rows, T* orun, \\
                                                 Py_ssize_t n, T* low, Py_ssize_t ahead) { \\
        Py_ssize_t W = 2 * n, r = 0, i; \\
        CPOOL_EVAL_RUN_VECTORS(NAME, T, S, N) \\
        for (; r < n_rows; r++) \\
            cpool_eval_2x2_##NAME(x + 2 * r * W, x + (2 * r + 1) * W, orun + r * n, n, low, \\
                                  ahead); \\
        (void)i; \\
    }
    CPOOL_EVAL_RUN(f32, float, ps, 4)
    CPOOL_EVAL_RUN(f64, double, pd, 2)
    #if !defined(__AVX2__)
    /* The AVX2-only kernels' stubs, for the SSE2 and AVX builds and the portable one alike
       (they stood inside the SSE2 branch, so a build for a CPU without SSE2, an ARM one, had
       neither the kernels nor the stubs): each returns 0, "not done", and the callers take
       their general loops. */
    #define CPOOL_CELLS_MAX(NAME, T) \
    static inline Py_ssize_t cpool_cells_max_##NAME(const T* px, const Py_ssize_t* off, \
                                                    Py_ssize_t n_cells, Py_ssize_t lanes, \
                                                    T* dst) { \
        (void)px; (void)off; (void)n_cells; (void)lanes; (void)dst; \
        return 0; \
    }
    CPOOL_CELLS_MAX(f32, float)
    CPOOL_CELLS_MAX(f64, double)
    #define CPOOL_DIRECT_MAX_2X2(NAME, T) \\
    static inline int cpool_direct_max_2x2_##NAME( \\
            const T* row0, Py_ssize_t depth_step, Py_ssize_t n_depth, Py_ssize_t step, \\
            Py_ssize_t lanes, Py_ssize_t pixel, Py_ssize_t OW, T* orow, Py_ssize_t ahead) { \\
        (void)row0; (void)depth_step; (void)n_depth; (void)step; (void)lanes; (void)pixel; \\
        (void)OW; (void)orow; (void)ahead; \\
        return 0; \\
    }
    CPOOL_DIRECT_MAX_2X2(f32, float)
    CPOOL_DIRECT_MAX_2X2(f64, double)
    #define CPOOL_DIRECT_ARGMAX(NAME, T) \\
    static inline Py_ssize_t cpool_direct_argmax_##NAME( \\
            const T* first, Py_ssize_t px_step, const Py_ssize_t* off, const int32_t* ioff, \\
            Py_ssize_t n_cells, Py_ssize_t kw, Py_ssize_t lanes, Py_ssize_t n, int64_t at0, \\
            Py_ssize_t at_step, T* orow, int64_t* irow, Py_ssize_t ahead) { \\
        (void)first; (void)px_step; (void)off; (void)ioff; (void)n_cells; (void)kw; \\
        (void)lanes; (void)n; (void)at0; (void)at_step; (void)orow; (void)irow; (void)ahead; \\
        return 0; \\
    }
    CPOOL_DIRECT_ARGMAX(f32, float)
    CPOOL_DIRECT_ARGMAX(f64, double)
    #define CPOOL_DIRECT_SUMS_2X2(NAME, T) \\
    static inline int cpool_direct_sums_2x2_##NAME( \\
            const T* row0, Py_ssize_t depth_step, Py_ssize_t n_depth, Py_ssize_t step, \\
            Py_ssize_t lanes, Py_ssize_t pixel, Py_ssize_t OW, T* orow, T scale, int mode, \\
            Py_ssize_t ahead) { \\
        (void)row0; (void)depth_step; (void)n_depth; (void)step; (void)lanes; (void)pixel; \\
        (void)OW; (void)orow; (void)scale; (void)mode; (void)ahead; \\
        return 0; \\
    }
    CPOOL_DIRECT_SUMS_2X2(f32, float)
    CPOOL_DIRECT_SUMS_2X2(f64, double)
    #define CPOOL_STOCH_S2 0
    #define CPOOL_STOCH_S2_K(NAME, T) \\
    static inline Py_ssize_t cpool_stoch_s2_##NAME( \\
            const T* row0, Py_ssize_t below, Py_ssize_t step, Py_ssize_t n_rows, Py_ssize_t n, \\
            Py_ssize_t k, const uint64_t* keys, Py_ssize_t first, T* out, Py_ssize_t out_step, \\
            T* taken, Py_ssize_t taken_step, int with_taps, int* flagged, int lead, \\
            Py_ssize_t ahead) { \\
        (void)row0; (void)below; (void)step; (void)n_rows; (void)n; (void)k; (void)keys; \\
        (void)first; (void)out; (void)out_step; (void)taken; (void)taken_step; (void)with_taps; \\
        (void)flagged; (void)lead; (void)ahead; \\
        return 0; \\
    }
    CPOOL_STOCH_S2_K(f32, float)
    CPOOL_STOCH_S2_K(f64, double)
    #define CPOOL_LP2_SPREAD_2X2(NAME, T) \\
    static inline int cpool_lp2_spread_2x2_##NAME(const T* x, Py_ssize_t W, const T* g, \\
                                                  T* out, Py_ssize_t n_rows, Py_ssize_t n, \\
                                                  T recip, T size, Py_ssize_t ahead) { \\
        (void)x; (void)W; (void)g; (void)out; (void)n_rows; (void)n; (void)recip; (void)size; \\
        (void)ahead; \\
        return 0; \\
    }
    CPOOL_LP2_SPREAD_2X2(f32, float)
    CPOOL_LP2_SPREAD_2X2(f64, double)
    #endif
    /* The call of F (cpool_tile_rows_2x2's or cpool_tile_run_2x2's loop, always inlined) with
       op as a literal, one copy of the loop per op. */
    #define CPOOL_TILE_OP_CALLS(F) \\
        switch (op) { \\
            case 2: return F(x, below, step, n_rows, out, n, 2, scale, ahead); \\
            case 1: return F(x, below, step, n_rows, out, n, 1, scale, ahead); \\
            case 3: return F(x, below, step, n_rows, out, n, 3, scale, ahead); \\
            default: return F(x, below, step, n_rows, out, n, 0, scale, ahead); \\
        }
    #define CPOOL_TILE_ROWS(NAME, T) \\
    /* cpool_tiles_2x2 over n_rows output rows of n values each (contiguous in out): output row \\
       r from input rows x + r*step and x + r*step + below. One call for a small plane's rows \\
       (the calls per row cost a quarter of 14 -> 7), with op a literal in each copy of the \\
       loop (as cpool_argmax_s2's k): at -O2 (_window's build) GCC inlines none of this into \\
       its callers, and with op read at run time inside, 14 -> 7 took 1.17x as long. */ \\
    static CPOOL_ALWAYS_INLINE int cpool_tile_rows_2x2_op_##NAME( \\
            const T* x, Py_ssize_t below, Py_ssize_t step, Py_ssize_t n_rows, T* out, Py_ssize_t n, \\
            int op, T scale, Py_ssize_t ahead) { \\
        Py_ssize_t r; \\
        int any = 0; \\
        for (r = 0; r < n_rows; r++) \\
            any |= cpool_tiles_2x2_##NAME(x + r * step, x + r * step + below, out + r * n, n, \\
                                          op, scale, x + r * step, ahead); \\
        return any; \\
    } \\
    static inline int cpool_tile_rows_2x2_##NAME(const T* x, Py_ssize_t below, Py_ssize_t step, \\
                                                 Py_ssize_t n_rows, T* out, Py_ssize_t n, \\
                                                 int op, T scale, Py_ssize_t ahead) { \\
        CPOOL_TILE_OP_CALLS(cpool_tile_rows_2x2_op_##NAME) \\
    }
    CPOOL_TILE_ROWS(f32, float)
    CPOOL_TILE_ROWS(f64, double)
    /* cpool_tile_rows_2x2 over rows that run on back to back (the rows of short planes laid
       one after another, step apart; the outputs contiguous), whole 256-bit vectors of
       outputs a row: a row's last vector runs past its n outputs into the next row's, whose
       own stores then overwrite them, so a row costs ceil(n / M) vectors, without the
       overlapping last one, the scalar tail or a call per plane (max 2x2 on 14-wide float32
       planes: a row of 7 outputs as one vector, not two of 4). The last row goes by
       cpool_tiles_2x2, exactly. Where a row's vectors would read past the last row's taps
       (2 ceil(n/M) M > step + 2n, or below < 0) or write past the next row's outputs
       (ceil(n/M) M > 2n), every row goes by cpool_tile_rows_2x2. Max's flags leave out the
       lanes past a row's taps. */
    #if defined(__AVX2__)
    #define CPOOL_TILE_RUN(NAME, T, S, M) \\
    static CPOOL_ALWAYS_INLINE int cpool_tile_run_2x2_op_##NAME( \\
            const T* x, Py_ssize_t below, Py_ssize_t step, Py_ssize_t n_rows, T* out, Py_ssize_t n, \\
            int op, T scale, Py_ssize_t ahead) { \\
        Py_ssize_t K = (n + M - 1) / M, last = 2 * (K - 1) * M, r, k; \\
        T zb = op == 3 ? (T)0 : (T)-0.0, za = op == 3 ? (T)-0.0 : (T)0; \\
        __m256##S##_T sv = _mm256_set1_##S(scale), zbv = _mm256_set1_##S(zb); \\
        __m256##S##_T zav = _mm256_set1_##S(za), flags = _mm256_setzero_##S(); \\
        __m256##S##_T tail0 = flags, tail1 = flags; \\
        if (n_rows < 2 || n < 1 || below < 0 || 2 * K * M > step + 2 * n || K * M > 2 * n) \\
            return cpool_tile_rows_2x2_op_##NAME(x, below, step, n_rows, out, n, op, scale, \\
                                                 ahead); \\
        for (r = 0; r + 1 < n_rows; r++) { \\
            const T* r0 = x + r * step; \\
            T* o = out + r * n; \\
            for (k = 0; k < last; k += 2 * M) { \\
                CPOOL_HINT_ROWS(r0 + k, r0 + below + k, ahead); \\
                _mm256_storeu_##S(o + k / 2, cpool_tile_vector_##NAME( \\
                    r0 + k, r0 + below + k, op, sv, zbv, zav, &flags, &flags)); \\
            } \\
            CPOOL_HINT_ROWS(r0 + last, r0 + below + last, ahead); \\
            _mm256_storeu_##S(o + last / 2, cpool_tile_vector_##NAME( \\
                r0 + last, r0 + below + last, op, sv, zbv, zav, &tail0, &tail1)); \\
        } \\
        if (op == 2) /* the last vector's lanes from column 2n - last on are past the row */ \\
            flags = _mm256_or_##S(flags, _mm256_or_##S( \\
                _mm256_and_##S(tail0, CPOOL_LANES_BELOW_##NAME(2 * n - last)), \\
                _mm256_and_##S(tail1, CPOOL_LANES_BELOW_##NAME(2 * n - last - M)))); \\
        return (_mm256_movemask_##S(flags) != 0) \\
            | cpool_tiles_2x2_##NAME(x + r * step, x + r * step + below, out + r * n, n, op, \\
                                     scale, x + r * step, ahead); \\
    } \\
    static inline int cpool_tile_run_2x2_##NAME(const T* x, Py_ssize_t below, Py_ssize_t step, \\
                                                Py_ssize_t n_rows, T* out, Py_ssize_t n, \\
                                                int op, T scale, Py_ssize_t ahead) { \\
        CPOOL_TILE_OP_CALLS(cpool_tile_run_2x2_op_##NAME) \\
    }
    /* The lanes below count (0 to all of them) as all ones. */
    #define CPOOL_LANES_BELOW_f32(count) _mm256_castsi256_ps(_mm256_cmpgt_epi32( \\
        _mm256_set1_epi32((int)(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))
    #define CPOOL_LANES_BELOW_f64(count) _mm256_castsi256_pd(_mm256_cmpgt_epi64( \\
        _mm256_set1_epi64x((long long)(count)), _mm256_setr_epi64x(0, 1, 2, 3)))
    #else
    #define CPOOL_TILE_RUN(NAME, T, S, M) \\
    static inline int cpool_tile_run_2x2_##NAME(const T* x, Py_ssize_t below, Py_ssize_t step, \\
                                                Py_ssize_t n_rows, T* out, Py_ssize_t n, \\
                                                int op, T scale, Py_ssize_t ahead) { \\
        return cpool_tile_rows_2x2_##NAME(x, below, step, n_rows, out, n, op, scale, ahead); \\
    }
    #endif
    CPOOL_TILE_RUN(f32, float, ps, 8)
    CPOOL_TILE_RUN(f64, double, pd, 4)
    /* Max with indices over windows of R x K adjacent cells at stride 1 (1-D k2 and k3 s1,
       2x2 s1), floats: cpool_argmax_s1 takes n outputs of a row, window i's cells
       x + t*below + i + c (t < R real rows, c < K columns), N at a time (AVX2), with plain
       loads: each window's winner by the scan's rule as pairs of neighbouring runs of taps
       (CPOOL_ARGMAX_TREE256's order, for up to 4 taps), its offset c + t*index_below from
       the window's first cell blended in, and the index base + i + the offset. A row's last
       step overlaps the one before it (the same outputs again, the same bits). Returns the
       outputs done: n, or 0 (nothing written) for fewer than N outputs, windows other than
       1 x 2, 1 x 3 and 2 x 2, offsets past int32 (float32) or a build without AVX2, where
       the caller takes its general path. R and K are literals in each copy of the step, so
       that its taps stay in registers. Not 3x3 windows (Inception's max 3x3 s1 p1 with
       indices): their nine taps a window took 1.4x the general path's time, whose vertical
       pass and column combine take three taps each (docs/performance.md); those planes take
       cpool_same_3x3_argmax, below. */
    #if defined(__AVX2__)
    /* Tap j (row j / K, column j % K) of the step's windows into p##j, its NaN lanes into
       wnan; and the tree of CPOOL_ARGMAX_TREE256 over the first n_taps taps, 2 to 4 (each
       ``if`` a constant in each copy). Named variables, not arrays: with arrays GCC kept the taps on
       the stack and copied the offsets there every step (3x the general path's time). */
    #define CPOOL_S1_LOAD(S, j) \\
        if ((j) < n_taps) { \\
            p##j = _mm256_loadu_##S(x + ((j) / K) * below + at + (j) % K); \\
            wnan = _mm256_or_##S(wnan, _mm256_cmp_##S(p##j, p##j, _CMP_UNORD_Q)); \\
        }
    #define CPOOL_S1_TREE(S, PAIR) \\
        { \\
            q0 = o0; q2 = o2; \\
            PAIR(S, p0, q0, p1, o1) \\
            if (3 < n_taps) PAIR(S, p2, q2, p3, o3) \\
            if (2 < n_taps) PAIR(S, p0, q0, p2, q2) \\
        }
    #define CPOOL_ARGMAX_S1(NAME, T, S, N) \\
    static CPOOL_ALWAYS_INLINE Py_ssize_t cpool_argmax_s1_rk_##NAME( \\
            const T* x, Py_ssize_t below, const int R, const int K, T* out, int64_t* idx, \\
            Py_ssize_t n, int64_t base, int64_t index_below) { \\
        const int n_taps = R * K; \\
        /* each tap's offset from the window's first cell, in the scan's order */ \\
        __m256##S##_T o0 = CPOOL_OFFSET256_##NAME(0), o1 = CPOOL_OFFSET256_##NAME(1 % K), \\
            o2 = CPOOL_OFFSET256_##NAME(2 % K + (2 / K) * index_below), \\
            o3 = CPOOL_OFFSET256_##NAME(3 % K + (3 / K) * index_below); \\
        __m256i lane256 = _mm256_set_epi64x(3, 2, 1, 0), at256; \\
        Py_ssize_t i, at; \\
        int g; \\
        for (i = 0; i < n; i += N) { \\
            __m256##S##_T p0, p1, p2, p3, q0, q2, wmask; \\
            __m256##S##_T wnan = _mm256_setzero_##S(); \\
            at = i + N <= n ? i : n - N; /* the last step overlaps the one before */ \\
            p2 = p3 = wnan; \\
            p0 = _mm256_loadu_##S(x + at); \\
            wnan = _mm256_cmp_##S(p0, p0, _CMP_UNORD_Q); \\
            CPOOL_S1_LOAD(S, 1) CPOOL_S1_LOAD(S, 2) CPOOL_S1_LOAD(S, 3) \\
            if (_mm256_testz_si256(_mm256_cast##S##_si256(wnan), _mm256_cast##S##_si256(wnan))) \\
                CPOOL_S1_TREE(S, CPOOL_ARGMAX_PAIR256_FAST) \\
            else \\
                CPOOL_S1_TREE(S, CPOOL_ARGMAX_PAIR256) \\
            _mm256_storeu_##S(out + at, p0); \\
            for (g = 0; g < N / 4; g++) { \\
                at256 = _mm256_add_epi64(_mm256_set1_epi64x(base + at + 4 * g), lane256); \\
                at256 = _mm256_add_epi64(at256, CPOOL_INT64_256_##NAME(q0, g)); \\
                _mm256_storeu_si256((__m256i*)(idx + at + 4 * g), at256); \\
            } \\
        } \\
        return n; \\
    } \\
    static inline Py_ssize_t cpool_argmax_s1_##NAME(const T* x, Py_ssize_t below, \\
                                                    Py_ssize_t R, Py_ssize_t K, T* out, \\
                                                    int64_t* idx, Py_ssize_t n, int64_t base, \\
                                                    int64_t index_below) { \\
        if (n < N || index_below < 0 || (sizeof(T) == 4 && index_below > (INT32_MAX - 2) / 2)) \\
            return 0; \\
        switch (R * 4 + K) { \\
            case 6: return cpool_argmax_s1_rk_##NAME(x, below, 1, 2, out, idx, n, base, \\
                                                     index_below); \\
            case 7: return cpool_argmax_s1_rk_##NAME(x, below, 1, 3, out, idx, n, base, \\
                                                     index_below); \\
            case 10: return cpool_argmax_s1_rk_##NAME(x, below, 2, 2, out, idx, n, base, \\
                                                      index_below); \\
            default: return 0; \\
        } \\
    }
    #else
    #define CPOOL_ARGMAX_S1(NAME, T, S, N) \\
    static inline Py_ssize_t cpool_argmax_s1_##NAME(const T* x, Py_ssize_t below, \\
                                                    Py_ssize_t R, Py_ssize_t K, T* out, \\
                                                    int64_t* idx, Py_ssize_t n, int64_t base, \\
                                                    int64_t index_below) { \\
        (void)x; (void)below; (void)R; (void)K; (void)out; (void)idx; (void)n; (void)base; \\
        (void)index_below; \\
        return 0; \\
    }
    #endif
    CPOOL_ARGMAX_S1(f32, float, ps, 8)
    CPOOL_ARGMAX_S1(f64, double, pd, 4)
    /* Max with indices over the "same" 3x3 at stride 1 (max_pool2d(x, 3, 1, 1,
       return_indices=True), Inception's pooling branch), floats, one plane a call: output row r
       from input rows r - 1 .. r + 1 (those in the plane), output i's index the flat h * W + w
       of the first of its window's largest values in the scan's order. That order is the flat
       index's, so the winner is the largest value at the smallest index: a rule that does not
       depend on the order the taps are taken in (wherever no value is NaN), which lets the
       window be split as the values' kernel splits it. Two passes a pair of output rows, with
       the rows' loads shared (input rows r - 1 .. r + 2):
       - down the columns: each column's first largest value and its flat index, kept in
         buffer rows (W + 2 values and W + 2 indices, the index in the value's width: int32
         lanes for float32, int64 for float64); a missing row (the padding's) is a repeat of
         the one beside it, and so are the buffer's columns -1 and W: a window's cell taken
         twice changes neither its max nor its first index;
       - across: each output's three column winners, the one kept where a neighbour is larger,
         or equal at a smaller index; the index widened to int64 as it is stored.
       The columns of the next pair go before this pair's across pass, so that the across
       pass's loads, unaligned to the column pass's stores, find them out of the store queue
       (loads that straddle two queued stores wait for them: 0.86 of the time in cache).
       A row whose length is not a whole number of vectors ends with one that overlaps the one
       before. A NaN anywhere makes the rule the scan's other one (its last NaN), which the
       caller's general path then gives: the call returns 2 (the plane's outputs partly
       written), else 1; 0 (nothing written) for rows under half a vector, planes under a
       vector wide of more than CPOOL_S3A_NARROW_ROWS rows, float32 planes of more than
       INT32_MAX cells, or a build without AVX2. Rows under a vector are copied a vector apart
       first (below). buf: cpool_same_3x3_argmax_buf values. */
    /* Planes under a vector wide of at most this many rows: their copies stay in L1. */
    #define CPOOL_S3A_NARROW_ROWS 128
    #if defined(__AVX2__)
    #define CPOOL_IADD256_f32(a, b) _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(a), \\
                                                                         _mm256_castps_si256(b)))
    #define CPOOL_IADD256_f64(a, b) _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(a), \\
                                                                         _mm256_castpd_si256(b)))
    #define CPOOL_IGT256_f32(a, b) _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_castps_si256(a), \\
                                                                         _mm256_castps_si256(b)))
    #define CPOOL_IGT256_f64(a, b) _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_castpd_si256(a), \\
                                                                         _mm256_castpd_si256(b)))
    #define CPOOL_IOTA256_f32 _mm256_castsi256_ps(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    #define CPOOL_IOTA256_f64 _mm256_castsi256_pd(_mm256_setr_epi64x(0, 1, 2, 3))
    #define CPOOL_SAME_3X3_ARGMAX(NAME, T, S, N) \\
    /* (m, mi) takes (v, vi) where v is larger, or equal at a smaller index */ \\
    static CPOOL_ALWAYS_INLINE void cpool_s3a_take_##NAME(__m256##S##_T* m, __m256##S##_T* mi, \\
                                                          __m256##S##_T v, __m256##S##_T vi) { \\
        __m256##S##_T take = _mm256_or_##S(_mm256_cmp_##S(v, *m, _CMP_GT_OQ), _mm256_and_##S( \\
            _mm256_cmp_##S(v, *m, _CMP_EQ_OQ), CPOOL_IGT256_##NAME(*mi, vi))); \\
        *m = _mm256_blendv_##S(*m, v, take); \\
        *mi = _mm256_blendv_##S(*mi, vi, take); \\
    } \\
    /* The column pass of output rows r and r + 1 into buffer rows cv0, ci0 and cv1, ci1; the \\
       lanes of a NaN in rows r and r + 1 ORed into flags. */ \\
    static CPOOL_ALWAYS_INLINE void cpool_s3a_columns_##NAME( \\
            const T* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W, Py_ssize_t IW, \\
            Py_ssize_t r, T* cv0, T* ci0, T* cv1, T* ci1, __m256##S##_T* flags) { \\
        const Py_ssize_t ra = r > 0 ? r - 1 : r, rc = r + 1 < H ? r + 1 : r, \\
                         rd = r + 2 < H ? r + 2 : rc; \\
        const T *a = x + ra * row_step, *b = x + r * row_step, *c = x + rc * row_step, \\
                *d = x + rd * row_step; \\
        const __m256##S##_T ia = CPOOL_OFFSET256_##NAME(ra * IW), \\
            ib = CPOOL_OFFSET256_##NAME(r * IW), ic = CPOOL_OFFSET256_##NAME(rc * IW), \\
            id = CPOOL_OFFSET256_##NAME(rd * IW); \\
        Py_ssize_t j, at; \\
        for (j = 0; j < W; j += N) { \\
            __m256##S##_T va, vb, vc, vd, p, pi, n, ni, take, col; \\
            at = j + N <= W ? j : W - N; \\
            col = CPOOL_IADD256_##NAME(CPOOL_IOTA256_##NAME, CPOOL_OFFSET256_##NAME(at)); \\
            va = _mm256_loadu_##S(a + at); \\
            vb = _mm256_loadu_##S(b + at); \\
            vc = _mm256_loadu_##S(c + at); \\
            vd = _mm256_loadu_##S(d + at); \\
            *flags = _mm256_or_##S(*flags, _mm256_cmp_##S(vb, vc, _CMP_UNORD_Q)); \\
            /* max(u, v) is u where u > v, else v: the row above kept on ties */ \\
            take = _mm256_cmp_##S(vc, vb, _CMP_GT_OQ); \\
            p = _mm256_max_##S(vc, vb); \\
            pi = _mm256_blendv_##S(ib, ic, take); \\
            take = _mm256_cmp_##S(p, va, _CMP_GT_OQ); \\
            n = _mm256_max_##S(p, va); \\
            ni = _mm256_blendv_##S(ia, pi, take); \\
            _mm256_storeu_##S(cv0 + at + 1, n); \\
            _mm256_storeu_##S(ci0 + at + 1, CPOOL_IADD256_##NAME(ni, col)); \\
            take = _mm256_cmp_##S(vd, p, _CMP_GT_OQ); \\
            n = _mm256_max_##S(vd, p); \\
            ni = _mm256_blendv_##S(pi, id, take); \\
            _mm256_storeu_##S(cv1 + at + 1, n); \\
            _mm256_storeu_##S(ci1 + at + 1, CPOOL_IADD256_##NAME(ni, col)); \\
        } \\
        cv0[0] = cv0[1]; ci0[0] = ci0[1]; cv0[W + 1] = cv0[W]; ci0[W + 1] = ci0[W]; \\
        cv1[0] = cv1[1]; ci1[0] = ci1[1]; cv1[W + 1] = cv1[W]; ci1[W + 1] = ci1[W]; \\
    } \\
    /* The across pass of one output row from its buffer rows cv, ci. */ \\
    static CPOOL_ALWAYS_INLINE void cpool_s3a_across_##NAME(const T* cv, const T* ci, T* o, \\
                                                            int64_t* io, Py_ssize_t W) { \\
        Py_ssize_t j, at; \\
        int g; \\
        for (j = 0; j < W; j += N) { \\
            __m256##S##_T m, mi; \\
            at = j + N <= W ? j : W - N; \\
            m = _mm256_loadu_##S(cv + at + 1); \\
            mi = _mm256_loadu_##S(ci + at + 1); \\
            cpool_s3a_take_##NAME(&m, &mi, _mm256_loadu_##S(cv + at), \\
                                  _mm256_loadu_##S(ci + at)); \\
            cpool_s3a_take_##NAME(&m, &mi, _mm256_loadu_##S(cv + at + 2), \\
                                  _mm256_loadu_##S(ci + at + 2)); \\
            _mm256_storeu_##S(o + at, m); \\
            for (g = 0; g < N / 4; g++) \\
                _mm256_storeu_si256((__m256i*)(io + at + 4 * g), CPOOL_INT64_256_##NAME(mi, g)); \\
        } \\
    } \\
    /* The planes of rows W values long (a vector or more), their indices' rows IW apart. */ \\
    static CPOOL_ALWAYS_INLINE int cpool_s3a_plane_##NAME( \\
            const T* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W, Py_ssize_t IW, T* out, \\
            Py_ssize_t out_step, int64_t* idx, Py_ssize_t idx_step, T* buf) { \\
        const Py_ssize_t B = W + 2; \\
        __m256##S##_T flags = _mm256_setzero_##S(); \\
        Py_ssize_t r; \\
        cpool_s3a_columns_##NAME(x, row_step, H, W, IW, 0, buf, buf + B, buf + 2 * B, \\
                                 buf + 3 * B, &flags); \\
        for (r = 0; r < H; r += 2) { \\
            T* cur = buf + ((r >> 1) & 1) * 4 * B; \\
            T* next = buf + (((r >> 1) + 1) & 1) * 4 * B; \\
            if (r + 2 < H) \\
                cpool_s3a_columns_##NAME(x, row_step, H, W, IW, r + 2, next, next + B, \\
                                         next + 2 * B, next + 3 * B, &flags); \\
            cpool_s3a_across_##NAME(cur, cur + B, out + r * out_step, idx + r * idx_step, W); \\
            if (r + 1 < H) \\
                cpool_s3a_across_##NAME(cur + 2 * B, cur + 3 * B, out + (r + 1) * out_step, \\
                                        idx + (r + 1) * idx_step, W); \\
        } \\
        return 1 + !_mm256_testz_si256(_mm256_cast##S##_si256(flags), \\
                                       _mm256_cast##S##_si256(flags)); \\
    } \\
    /* The values a call's buf holds: the buffer rows, and for planes under a vector wide the \\
       plane's rows set a vector apart and their outputs' values and indices. */ \\
    static inline Py_ssize_t cpool_same_3x3_argmax_buf_##NAME(Py_ssize_t H, Py_ssize_t W) { \\
        return W >= N ? 8 * (W + 2) : 8 * (N + 2) + H * N * (2 + 8 / (Py_ssize_t)sizeof(T)); \\
    } \\
    static CPOOL_NOINLINE int cpool_same_3x3_argmax_##NAME( \\
            const T* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W, T* out, \\
            Py_ssize_t out_step, int64_t* idx, Py_ssize_t idx_step, T* buf) { \\
        T *rows, *values; \\
        int64_t* indices; \\
        Py_ssize_t r, j; \\
        int state; \\
        if (W < 1 || H < 1 || (sizeof(T) == 4 && H > INT32_MAX / W)) return 0; \\
        if (W >= N) \\
            return cpool_s3a_plane_##NAME(x, row_step, H, W, W, out, out_step, idx, idx_step, \\
                                          buf); \\
        /* Under a vector (7 x 7 planes, GoogLeNet's last blocks): the rows copied a vector \\
           apart, -inf after each row's values. A column past the row never wins: where it ties \\
           (a window of -inf values) a column of the row has the smaller index, its column \\
           winner being in the same row. */ \\
        if (2 * W < N || H > CPOOL_S3A_NARROW_ROWS) return 0; \\
        rows = buf + 8 * (N + 2); \\
        values = rows + H * N; \\
        indices = (int64_t*)(values + H * N); \\
        for (r = 0; r < H; r++) /* (masked loads: nothing read past a row) */ \\
            _mm256_storeu_##S(rows + r * N, _mm256_blendv_##S( \\
                _mm256_set1_##S((T)-INFINITY), CPOOL_LOADM256_##NAME(x + r * row_step, W), \\
                CPOOL_LANES_BELOW_##NAME(W))); \\
        state = cpool_s3a_plane_##NAME(rows, N, H, N, W, values, N, indices, N, buf); \\
        /* Whole vectors into every row but the last where the rows run on: the lanes past a \\
           row land in the next one, which is written after it. */ \\
        for (r = 0; r < H; r++) { \\
            if (r + 1 < H && out_step == W && idx_step == W) { \\
                _mm256_storeu_##S(out + r * W, _mm256_loadu_##S(values + r * N)); \\
                for (j = 0; j < N; j += 4) \\
                    _mm256_storeu_si256( \\
                        (__m256i*)(idx + r * W + j), \\
                        _mm256_loadu_si256((const __m256i*)(indices + r * N + j))); \\
                continue; \\
            } \\
            for (j = 0; j < W; j++) { \\
                out[r * out_step + j] = values[r * N + j]; \\
                idx[r * idx_step + j] = indices[r * N + j]; \\
            } \\
        } \\
        return state; \\
    }
    #else
    #define CPOOL_SAME_3X3_ARGMAX(NAME, T, S, N) \\
    static inline Py_ssize_t cpool_same_3x3_argmax_buf_##NAME(Py_ssize_t H, Py_ssize_t W) { \\
        (void)H; \\
        return 8 * (W + 2); \\
    } \\
    static inline int cpool_same_3x3_argmax_##NAME( \\
            const T* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W, T* out, \\
            Py_ssize_t out_step, int64_t* idx, Py_ssize_t idx_step, T* buf) { \\
        (void)x; (void)row_step; (void)H; (void)W; (void)out; (void)out_step; (void)idx; \\
        (void)idx_step; (void)buf; \\
        return 0; \\
    }
    #endif
    CPOOL_SAME_3X3_ARGMAX(f32, float, ps, 8)
    CPOOL_SAME_3X3_ARGMAX(f64, double, pd, 4)
    /* The max of an edge window of max 3x3 s2 (n_cols of 1-3 columns from p, at a row's start
       or, at_end, its end: the windows reaching into the padding or past the row), as
       cpool_window_3_rows, from one vector of column maxima: the L columns from its first
       (at its row's start) or ending at its last (at the end), its lanes kept and the others
       set to -inf, folded. Where the row's inner windows fill a vector (n_inner >= L), those
       columns are theirs or the window's, so their flags are the row's already; shorter rows
       take the scalar loop. Max 3x3x3 s2 p1 on (4, 32, 32, 56, 56), one thread, with the
       carried columns of CPOOL_TILES_3X3_WIDE: 0.96 of its time, with these edges too
       0.90-0.92 (the left edge's 18 taps went one at a time); max 3x3 s2 p1 on
       (4, 64, 112, 112) 0.96 and 0.91-0.93. */
    #if defined(__AVX2__)
    #define CPOOL_LANES_f32(lo, n_cols) _mm256_castsi256_ps(_mm256_and_si256( \\
        _mm256_cmpgt_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), \\
                           _mm256_set1_epi32((int)(lo) - 1)), \\
        _mm256_cmpgt_epi32(_mm256_set1_epi32((int)((lo) + (n_cols))), \\
                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))))
    #define CPOOL_LANES_f64(lo, n_cols) _mm256_castsi256_pd(_mm256_and_si256( \\
        _mm256_cmpgt_epi64(_mm256_setr_epi64x(0, 1, 2, 3), _mm256_set1_epi64x((lo) - 1)), \\
        _mm256_cmpgt_epi64(_mm256_set1_epi64x((lo) + (n_cols)), _mm256_setr_epi64x(0, 1, 2, 3))))
    #define CPOOL_FOLD_MAX_f32(c, t) ( \\
        t = _mm256_max_ps(c, _mm256_permute2f128_ps(c, c, 1)), \\
        t = _mm256_max_ps(t, _mm256_permute_ps(t, _MM_SHUFFLE(1, 0, 3, 2))), \\
        t = _mm256_max_ps(t, _mm256_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1))), \\
        _mm256_cvtss_f32(t))
    #define CPOOL_FOLD_MAX_f64(c, t) ( \\
        t = _mm256_max_pd(c, _mm256_permute2f128_pd(c, c, 1)), \\
        t = _mm256_max_pd(t, _mm256_permute_pd(t, 0x5)), \\
        _mm256_cvtsd_f64(t))
    #define CPOOL_EDGE_3_ROWS(NAME, T, S, L) \\
    static inline T cpool_edge_3_rows_##NAME(const T* p, Py_ssize_t below, \\
                                             Py_ssize_t depth_step, Py_ssize_t n_depth, \\
                                             Py_ssize_t n_cols, int at_end, \\
                                             Py_ssize_t n_inner, int* any) { \\
        __m256##S##_T flags = _mm256_setzero_##S(), c, t; \\
        Py_ssize_t lo = at_end ? L - n_cols : 0; \\
        if (n_inner < L || n_cols < 1 || n_cols > 3) \\
            return cpool_window_3_rows_##NAME(p, below, depth_step, n_depth, n_cols, any); \\
        c = cpool_column_max3_256_##NAME(p - lo, below, depth_step, n_depth, &flags); \\
        *any |= _mm256_movemask_##S(flags) != 0; \\
        c = _mm256_blendv_##S(_mm256_set1_##S(-(T)INFINITY), c, CPOOL_LANES_##NAME(lo, n_cols)); \\
        return CPOOL_FOLD_MAX_##NAME(c, t); \\
    }
    #else
    #define CPOOL_EDGE_3_ROWS(NAME, T, S, L) \\
    static inline T cpool_edge_3_rows_##NAME(const T* p, Py_ssize_t below, \\
                                             Py_ssize_t depth_step, Py_ssize_t n_depth, \\
                                             Py_ssize_t n_cols, int at_end, \\
                                             Py_ssize_t n_inner, int* any) { \\
        (void)at_end; (void)n_inner; \\
        return cpool_window_3_rows_##NAME(p, below, depth_step, n_depth, n_cols, any); \\
    }
    #endif
    CPOOL_EDGE_3_ROWS(f32, float, ps, 8)
    CPOOL_EDGE_3_ROWS(f64, double, pd, 4)
    /* Rows of max over three rows at stride 2 (3x3 s2 with its padding, _window's _separable):
       n_rows output rows of n outputs, row r at out + r*n from input rows first + r*step,
       + below and + 2*below; outputs [i_lo, i_hi), every tap in the row, by
       cpool_tiles_3x3_max from first + 2*i_lo - pad_w, the others, reaching into the padding
       or past the row's end, over their columns in the row, w_lo[i] to w_lo[i] + w_n[i] - 1.
       Returns the rows done: it stops at a row with a NaN tap or a -0 column max, which the
       caller redoes on its general path. One call for a plane's rows (a call per 56-output row
       cost a third of the time in cache). */
    #define CPOOL_MAX_ROW_3X3(NAME, T, N) \\
    static CPOOL_ALWAYS_INLINE int cpool_max_row_3x3_##NAME( \\
            const T* first, Py_ssize_t below, Py_ssize_t depth_step, Py_ssize_t n_depth, T* out, \\
            Py_ssize_t n, Py_ssize_t i_lo, Py_ssize_t i_hi, Py_ssize_t pad_w, \\
            const Py_ssize_t* w_lo, const Py_ssize_t* w_n, Py_ssize_t ahead) { \\
        /* The first window, whose left column is the padding's, as the first vector's lane 0 \\
           (float32, where the wide loop takes the row: CPOOL_LEAD_3X3), not an edge window \\
           apart (a call a row). Max 3x3 s2 p1, one thread, against the edge windows: \\
           (4, 64, 112, 112) 0.91, (32, 64, 56, 56) 0.88, a ReLU input 0.93, in memory \\
           (32, 64, 112, 112) 0.98-1.02; 3x3x3 s2 p1 (4, 32, 32, 56, 56) 0.96, one volume \\
           0.92. Float64 measured 0.94-1.06 (1.04-1.06 on 25 MB): it keeps the edge. */ \\
        int lead = CPOOL_LEAD_3X3 && sizeof(T) == 4 && i_lo == 1 && pad_w == 1 \\
                   && i_hi >= 4 * N; \\
        Py_ssize_t i, i0 = lead ? 0 : i_lo; \\
        int any = cpool_tiles_3x3_max_d_##NAME(first + 2 * i0 - pad_w, below, depth_step, \\
                                               n_depth, 0, 1, out + i0, i_hi - i0, ahead, lead); \\
        for (i = 0; i < i0; i++) \\
            out[i] = cpool_edge_3_rows_##NAME(first + w_lo[i], below, depth_step, n_depth, \\
                                              w_n[i], 0, i_hi - i_lo, &any); \\
        for (i = i_hi; i < n; i++) \\
            out[i] = cpool_edge_3_rows_##NAME(first + w_lo[i], below, depth_step, n_depth, \\
                                              w_n[i], 1, i_hi - i_lo, &any); \\
        return any; \\
    } \\
    static Py_ssize_t cpool_max_rows_3x3_##NAME( \\
            const T* first, Py_ssize_t below, Py_ssize_t depth_step, Py_ssize_t n_depth, \\
            Py_ssize_t step, Py_ssize_t n_rows, T* out, Py_ssize_t n, Py_ssize_t i_lo, \\
            Py_ssize_t i_hi, Py_ssize_t pad_w, const Py_ssize_t* w_lo, const Py_ssize_t* w_n, \\
            Py_ssize_t ahead) { \\
        Py_ssize_t r; \\
        if (n_depth == 1) { /* a literal: 2-D windows' loops without the slices' */ \\
            for (r = 0; r < n_rows; r++) \\
                if (cpool_max_row_3x3_##NAME(first + r * step, below, 0, 1, out + r * n, n, \\
                                             i_lo, i_hi, pad_w, w_lo, w_n, ahead)) \\
                    break; \\
            return r; \\
        } \\
        for (r = 0; r < n_rows; r++) \\
            if (cpool_max_row_3x3_##NAME(first + r * step, below, depth_step, n_depth, \\
                                         out + r * n, n, i_lo, i_hi, pad_w, w_lo, w_n, ahead)) \\
                break; \\
        return r; \\
    }
    CPOOL_MAX_ROW_3X3(f32, float, 4)
    CPOOL_MAX_ROW_3X3(f64, double, 2)
    /* Max pooling's gradient (and max_unpool2d) on a plane whose every index lies in its own
       output's 2x2 stride-2 tile (max_pool2d(x, 2)'s indices, whatever made them): each cell
       of the input-shaped plane written once, the output's value at its index and +0 in the
       tile's other three, rather than a zero fill of the plane and a scatter that reads back
       what the fill wrote. With ``accumulate`` (a gradient) the value is written plus +0, as
       the scatter's 0 + v (a -0 lands as +0); the bits are the scatter's either way, since no
       two outputs share a cell. Returns 0, having written part of the plane, at the first
       output row with an index outside its tile; the caller then fills and scatters. Also 0
       without AVX2 and for rows of fewer outputs than a vector (8 floats, 4 doubles): there
       a plane at a time, the fill and the scatter are as fast (14-wide planes: a scalar loop
       of selects took 10x their time, GCC's branches on random indices); short planes laid
       back to back take cpool_unpool_run_2x2 instead, a step a row. Planes of one row (1-D
       signals, max_pool1d(x, 2)'s indices) have tiles of one row, two cells each (r1 NULL
       below). */
    #if defined(__AVX2__)
    #define CPOOL_UNPOOL_TILES 1
    #define CPOOL_SET1_EPI32(x) _mm256_set1_epi32((int)(x))
    /* A step's compares and masked writes, from ``local`` (the indices less their tiles' first
       cells, in the shuffled order) in lanes of E (epi32, epi64). */
    #define CPOOL_UNPOOL_WRITE(NAME, S, E, SET1, N) \\
        __m256i c0 = _mm256_cmpeq_##E(local, _mm256_setzero_si256()); \\
        __m256i c1 = _mm256_cmpeq_##E(local, SET1(1)); \\
        __m256##S##_T v = _mm256_loadu_##S(g + i), lo, hi; \\
        if (accumulate) v = _mm256_add_##S(v, _mm256_setzero_##S()); \\
        v = CPOOL_ORDER256_##NAME(v); \\
        lo = _mm256_unpacklo_##S(v, v); \\
        hi = _mm256_unpackhi_##S(v, v); \\
        _mm256_storeu_##S(r0 + 2 * i, _mm256_and_##S(lo, _mm256_castsi256_##S( \\
            _mm256_unpacklo_##E(c0, c1)))); \\
        _mm256_storeu_##S(r0 + 2 * i + N, _mm256_and_##S(hi, _mm256_castsi256_##S( \\
            _mm256_unpackhi_##E(c0, c1)))); \\
        if (!r1) return _mm256_or_si256(c0, c1); /* tiles of one row */ \\
        __m256i d0 = _mm256_cmpeq_##E(local, SET1(W)); \\
        __m256i d1 = _mm256_cmpeq_##E(local, SET1(W + 1)); \\
        _mm256_storeu_##S(r1 + 2 * i, _mm256_and_##S(lo, _mm256_castsi256_##S( \\
            _mm256_unpacklo_##E(d0, d1)))); \\
        _mm256_storeu_##S(r1 + 2 * i + N, _mm256_and_##S(hi, _mm256_castsi256_##S( \\
            _mm256_unpackhi_##E(d0, d1)))); \\
        return _mm256_or_si256(_mm256_or_si256(c0, c1), _mm256_or_si256(d0, d1));
    /* A vector of 8 float outputs from i (4 double) of a row whose tiles start at flat index
       base, cells 2i.. of rows r0 and r1 (W apart): each index less the flat index of its
       tile's first cell is 0, 1, W or W + 1 (four compares), and the value, in pairs by the
       unpacks, masked into each of the two rows' cells. The shuffles work within 128-bit
       halves: indices and values are taken in the order 0 1 4 5 | 2 3 6 7 (0 2 | 1 3), whose
       unpacks come out in order. Float indices are compared by their low halves (the plane
       has under 2^30 cells), the high halves or-ed into *high, which must stay 0. Returns the
       lanes whose index is in its tile. */
    static CPOOL_ALWAYS_INLINE __m256i cpool_unpool_step_f32(
            const float* g, const int64_t* idx, Py_ssize_t i, int64_t base, Py_ssize_t W,
            float* r0, float* r1, int accumulate, __m256i* high) {
        __m256 a = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i*)(idx + i)));
        __m256 b = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i*)(idx + i + 4)));
        __m256i first = _mm256_add_epi32(_mm256_set1_epi32((int)(base + 2 * i)),
                                         _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14));
        __m256i local = _mm256_sub_epi32(
            _mm256_castps_si256(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), first);
        *high = _mm256_or_si256(*high, _mm256_castps_si256(
            _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))));
        CPOOL_UNPOOL_WRITE(f32, ps, epi32, CPOOL_SET1_EPI32, 8)
    }
    static CPOOL_ALWAYS_INLINE __m256i cpool_unpool_step_f64(
            const double* g, const int64_t* idx, Py_ssize_t i, int64_t base, Py_ssize_t W,
            double* r0, double* r1, int accumulate, __m256i* high) {
        __m256i q = _mm256_permute4x64_epi64(_mm256_loadu_si256((const __m256i*)(idx + i)),
                                             _MM_SHUFFLE(3, 1, 2, 0));
        __m256i local = _mm256_sub_epi64(q, _mm256_add_epi64(
            _mm256_set1_epi64x(base + 2 * i), _mm256_setr_epi64x(0, 4, 2, 6)));
        (void)high; /* the indices compare whole */
        CPOOL_UNPOOL_WRITE(f64, pd, epi64, _mm256_set1_epi64x, 4)
    }
    /* A row of n >= N outputs; its last vector overlaps the one before (the same cells
       written twice). Tiles of rows r0 and r1, or of r0 alone where r1 is NULL. With
       ``slice`` (3-D, 2x2x2 windows: the cells between a window's two slices), each step
       writes the second slice's two rows as well, ``base`` + slice on, and an index is in its
       window if it is in either slice's tile (a cell of the other slice gets +0, as a cell no
       index names). Whether every index was in its window. */
    /* The row loop's call from cpool_unpool_2x2, for output row oh: its locals by name. */
    #define CPOOL_UNPOOL_ROW(NAME, ACCUMULATE, R1) \\
        cpool_unpool_row_2x2_##NAME(gp + oh * OW, ip + oh * OW, OW, base, W, r0, (R1), \\
                                    (ACCUMULATE), ahead, slice)
    #define CPOOL_UNPOOL_2X2(NAME, T, N) \\
    static CPOOL_ALWAYS_INLINE int cpool_unpool_row_2x2_##NAME( \\
            const T* g, const int64_t* idx, Py_ssize_t n, int64_t base, Py_ssize_t W, T* r0, \\
            T* r1, int accumulate, Py_ssize_t ahead, Py_ssize_t slice) { \\
        Py_ssize_t i; \\
        __m256i in_tile = _mm256_set1_epi32(-1), high = _mm256_setzero_si256(), both; \\
        for (i = 0; i < n; i += N) { \\
            CPOOL_OVERLAP_LAST(i, n, N) \\
            /* 64 bytes a row (float32); a tile of one row hints its row twice */ \\
            CPOOL_HINT_ROWS(r0 + 2 * i, (r1 ? r1 : r0) + 2 * i, ahead); \\
            if (slice) CPOOL_HINT_ROWS(r0 + slice + 2 * i, r1 + slice + 2 * i, ahead); \\
            both = cpool_unpool_step_##NAME(g, idx, i, base, W, r0, r1, accumulate, &high); \\
            if (slice) \\
                both = _mm256_or_si256(both, cpool_unpool_step_##NAME( \\
                    g, idx, i, base + slice, W, r0 + slice, r1 + slice, accumulate, &high)); \\
            in_tile = _mm256_and_si256(in_tile, both); \\
        } \\
        return _mm256_testc_si256(in_tile, _mm256_set1_epi32(-1)) \\
               & _mm256_testz_si256(high, high); \\
    } \\
    /* A plane's (OD = D = 1, depth 1) or a volume's (OD x OH x OW outputs of 2x2x2 windows, */ \\
    /* depth 2, from D x H x W cells) gradient, every cell written once: the windows' cells */ \\
    /* by the rows above, the cells no window covers (columns, rows and slices past the last */ \\
    /* window) zeroed. Whether it wrote them (0: an index outside its window, or rows of */ \\
    /* fewer than N outputs; the caller then scatters). */ \\
    static inline int cpool_unpool_2x2_##NAME(const T* g, const int64_t* idx, T* plane, \\
                                              Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, \\
                                              Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, \\
                                              Py_ssize_t depth, int accumulate, \\
                                              Py_ssize_t ahead) { \\
        Py_ssize_t od, oh, s, r, HW = H * W, slice = depth == 2 ? HW : 0; \\
        /* Planes of one row (1-D signals) have tiles of one row: 1x2 windows at stride 2. */ \\
        const Py_ssize_t rows = H == 1 ? 1 : 2; \\
        int ok; \\
        if (OW < N || rows * OH > H || 2 * OW > W || (rows == 1 && depth != 1)) return 0; \\
        for (od = 0; od < OD; od++) { \\
            T* first = plane + depth * od * HW; \\
            const T* gp = g + od * OH * OW; \\
            const int64_t* ip = idx + od * OH * OW; \\
            for (oh = 0; oh < OH; oh++) { \\
                T* r0 = first + rows * oh * W; \\
                int64_t base = depth * od * HW + rows * oh * W; \\
                /* accumulate and a NULL second row: literals in each copy of the row's loop */ \\
                /* (a second row known only at run time cost the 2x2 tiles 5-7 % in cache) */ \\
                if (rows == 1) \\
                    ok = accumulate ? CPOOL_UNPOOL_ROW(NAME, 1, NULL) \\
                                    : CPOOL_UNPOOL_ROW(NAME, 0, NULL); \\
                else \\
                    ok = accumulate ? CPOOL_UNPOOL_ROW(NAME, 1, r0 + W) \\
                                    : CPOOL_UNPOOL_ROW(NAME, 0, r0 + W); \\
                if (!ok) return 0; \\
                if (W > 2 * OW) /* the columns past the last tile */ \\
                    for (s = 0; s < depth; s++) \\
                        for (r = 0; r < rows; r++) \\
                            memset(r0 + s * HW + r * W + 2 * OW, 0, \\
                                   (size_t)(W - 2 * OW) * sizeof(T)); \\
            } \\
            for (s = 0; s < depth; s++) /* the rows past the last tile */ \\
                memset(first + s * HW + rows * OH * W, 0, \\
                       (size_t)((H - rows * OH) * W) * sizeof(T)); \\
        } \\
        memset(plane + depth * OD * HW, 0, (size_t)((D - depth * OD) * HW) * sizeof(T)); \\
        return 1; \\
    }
    /* cpool_unpool_2x2 over short planes laid back to back: n_planes planes (a task's) of
       H = 2 OH rows of W = 2 OW cells, OW from N/2 to N - 1 (so that a step reaches no
       further than the next row), each after the last, their values and indices likewise;
       every output row one step of N outputs. A row's step reads past its
       OW values and indices into the next row's and writes past its two rows' 2 OW cells,
       the upper row's into the lower row's (stored after it), the lower row's into the next
       row's upper row (stored on the next step); its lanes past the row are left out of the
       tile test (CPOOL_UNPOOL_PAST: the lanes from n on, in the step's shuffled order). The
       last row's values and indices are copied into a step's width and its cells written
       to a buffer, then copied out, so nothing past the task's planes is read or written.
       Whether every index was in its tile (0: the caller fills and scatters the planes). */
    #define CPOOL_UNPOOL_PAST_f32(n) _mm256_cmpgt_epi32( \\
        _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7), _mm256_set1_epi32((int)(n) - 1))
    #define CPOOL_UNPOOL_PAST_f64(n) _mm256_cmpgt_epi64( \\
        _mm256_setr_epi64x(0, 2, 1, 3), _mm256_set1_epi64x((long long)(n) - 1))
    #define CPOOL_UNPOOL_RUN_2X2(NAME, T, N) \\
    static CPOOL_ALWAYS_INLINE int cpool_unpool_run_2x2_a_##NAME( \\
            const T* g, const int64_t* idx, T* planes, Py_ssize_t n_planes, Py_ssize_t OH, \\
            Py_ssize_t OW, int accumulate, Py_ssize_t ahead) { \\
        Py_ssize_t W = 2 * OW, n_rows = n_planes * OH, r, oh = 0, c; \\
        __m256i in_tile = _mm256_set1_epi32(-1), high = _mm256_setzero_si256(); \\
        const __m256i past = CPOOL_UNPOOL_PAST_##NAME(OW); \\
        T gl[N], cells[4 * N]; \\
        int64_t il[N]; \\
        if (n_rows < 1 || 2 * OW < N || OW >= N) return 0; \\
        for (r = 0; r + 1 < n_rows; r++) { \\
            T* r0 = planes + 2 * r * W; \\
            CPOOL_HINT_ROWS(r0, r0 + W, ahead); \\
            in_tile = _mm256_and_si256(in_tile, _mm256_or_si256(past, cpool_unpool_step_##NAME( \\
                g + r * OW, idx + r * OW, 0, 2 * oh * W, W, r0, r0 + W, accumulate, &high))); \\
            if (++oh == OH) oh = 0; \\
        } \\
        for (c = 0; c < N; c++) { \\
            gl[c] = c < OW ? g[r * OW + c] : (T)0; \\
            il[c] = c < OW ? idx[r * OW + c] : 0; \\
        } \\
        in_tile = _mm256_and_si256(in_tile, _mm256_or_si256(past, cpool_unpool_step_##NAME( \\
            gl, il, 0, 2 * oh * W, W, cells, cells + 2 * N, accumulate, &high))); \\
        memcpy(planes + 2 * r * W, cells, (size_t)W * sizeof(T)); \\
        memcpy(planes + 2 * r * W + W, cells + 2 * N, (size_t)W * sizeof(T)); \\
        return _mm256_testc_si256(in_tile, _mm256_set1_epi32(-1)) \\
               & _mm256_testz_si256(high, high); \\
    } \\
    static inline int cpool_unpool_run_2x2_##NAME(const T* g, const int64_t* idx, T* planes, \\
                                                  Py_ssize_t n_planes, Py_ssize_t OH, \\
                                                  Py_ssize_t OW, int accumulate, \\
                                                  Py_ssize_t ahead) { \\
        return accumulate \\
            ? cpool_unpool_run_2x2_a_##NAME(g, idx, planes, n_planes, OH, OW, 1, ahead) \\
            : cpool_unpool_run_2x2_a_##NAME(g, idx, planes, n_planes, OH, OW, 0, ahead); \\
    }
    /* The masks of the cells of a 2x2 tile (0, 1, W, W + 1 past its first, flat index base)
       that N channels-last indices from idx name, in the lanes of the values (float32: the
       indices' low halves, in order, where every high half is 0); with ``slice`` (a 2x2x2
       window's: the cells between its two slices), the second slice's four too, m[4..7].
       With ``rows`` 1 (a 1x2 tile: 1-D signals), the first two alone. 0 where any index lies
       outside its window. */
    static CPOOL_ALWAYS_INLINE int cpool_lane_cells_f32(const int64_t* idx, int64_t base,
                                                        Py_ssize_t W, Py_ssize_t slice,
                                                        Py_ssize_t rows, __m256* m) {
        const __m256i b = _mm256_set1_epi64x(base);
        __m256 lo = _mm256_castsi256_ps(_mm256_sub_epi64(
            _mm256_loadu_si256((const __m256i*)idx), b));
        __m256 hi = _mm256_castsi256_ps(_mm256_sub_epi64(
            _mm256_loadu_si256((const __m256i*)(idx + 4)), b));
        /* each 128-bit half: indices 0 1 4 5 | 2 3 6 7; the permute puts them in order */
        __m256i low = _mm256_permute4x64_epi64(_mm256_castps_si256(
            _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0));
        __m256i high = _mm256_castps_si256(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
        __m256i c0 = _mm256_cmpeq_epi32(low, _mm256_setzero_si256());
        __m256i c1 = _mm256_cmpeq_epi32(low, _mm256_set1_epi32(1));
        __m256i any = _mm256_or_si256(c0, c1), c2, c3;
        m[0] = _mm256_castsi256_ps(c0); m[1] = _mm256_castsi256_ps(c1);
        if (rows == 1)
            return _mm256_testz_si256(high, high) && _mm256_movemask_epi8(any) == -1;
        c2 = _mm256_cmpeq_epi32(low, _mm256_set1_epi32((int)W));
        c3 = _mm256_cmpeq_epi32(low, _mm256_set1_epi32((int)(W + 1)));
        any = _mm256_or_si256(any, _mm256_or_si256(c2, c3));
        m[2] = _mm256_castsi256_ps(c2); m[3] = _mm256_castsi256_ps(c3);
        if (slice) {
            c0 = _mm256_cmpeq_epi32(low, _mm256_set1_epi32((int)slice));
            c1 = _mm256_cmpeq_epi32(low, _mm256_set1_epi32((int)(slice + 1)));
            c2 = _mm256_cmpeq_epi32(low, _mm256_set1_epi32((int)(slice + W)));
            c3 = _mm256_cmpeq_epi32(low, _mm256_set1_epi32((int)(slice + W + 1)));
            any = _mm256_or_si256(any, _mm256_or_si256(_mm256_or_si256(c0, c1),
                                                       _mm256_or_si256(c2, c3)));
            m[4] = _mm256_castsi256_ps(c0); m[5] = _mm256_castsi256_ps(c1);
            m[6] = _mm256_castsi256_ps(c2); m[7] = _mm256_castsi256_ps(c3);
        }
        return _mm256_testz_si256(high, high) && _mm256_movemask_epi8(any) == -1;
    }
    static CPOOL_ALWAYS_INLINE int cpool_lane_cells_f64(const int64_t* idx, int64_t base,
                                                        Py_ssize_t W, Py_ssize_t slice,
                                                        Py_ssize_t rows, __m256d* m) {
        __m256i local = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i*)idx),
                                         _mm256_set1_epi64x(base));
        __m256i c0 = _mm256_cmpeq_epi64(local, _mm256_setzero_si256());
        __m256i c1 = _mm256_cmpeq_epi64(local, _mm256_set1_epi64x(1));
        __m256i any = _mm256_or_si256(c0, c1), c2, c3;
        m[0] = _mm256_castsi256_pd(c0); m[1] = _mm256_castsi256_pd(c1);
        if (rows == 1)
            return _mm256_movemask_epi8(any) == -1;
        c2 = _mm256_cmpeq_epi64(local, _mm256_set1_epi64x(W));
        c3 = _mm256_cmpeq_epi64(local, _mm256_set1_epi64x(W + 1));
        any = _mm256_or_si256(any, _mm256_or_si256(c2, c3));
        m[2] = _mm256_castsi256_pd(c2); m[3] = _mm256_castsi256_pd(c3);
        if (slice) {
            c0 = _mm256_cmpeq_epi64(local, _mm256_set1_epi64x(slice));
            c1 = _mm256_cmpeq_epi64(local, _mm256_set1_epi64x(slice + 1));
            c2 = _mm256_cmpeq_epi64(local, _mm256_set1_epi64x(slice + W));
            c3 = _mm256_cmpeq_epi64(local, _mm256_set1_epi64x(slice + W + 1));
            any = _mm256_or_si256(any, _mm256_or_si256(_mm256_or_si256(c0, c1),
                                                       _mm256_or_si256(c2, c3)));
            m[4] = _mm256_castsi256_pd(c0); m[5] = _mm256_castsi256_pd(c1);
            m[6] = _mm256_castsi256_pd(c2); m[7] = _mm256_castsi256_pd(c3);
        }
        return _mm256_movemask_epi8(any) == -1;
    }
    /* The four cells of a 2x2 tile from ``a`` (its first row) and ``b`` (its second; none
       where ``rows`` is 1), channels-last pixels ``lanes`` values apart: ``v`` masked into
       each, by m[0..3]; their lines ``ahead`` bytes on hinted where lane ``c`` starts one. */
    #define CPOOL_LANE_TILE(S, a, b, c, m) \\
        if ((c) % (64 / sizeof(*(a))) == 0) { \\
            cpool_prefetch_l2((const char*)((a) + (c)) + ahead); \\
            cpool_prefetch_l2((const char*)((a) + lanes + (c)) + ahead); \\
            if (rows == 2) { \\
                cpool_prefetch_l2((const char*)((b) + (c)) + ahead); \\
                cpool_prefetch_l2((const char*)((b) + lanes + (c)) + ahead); \\
            } \\
        } \\
        _mm256_storeu_##S((a) + (c), _mm256_and_##S(v, (m)[0])); \\
        _mm256_storeu_##S((a) + lanes + (c), _mm256_and_##S(v, (m)[1])); \\
        if (rows == 2) { \\
            _mm256_storeu_##S((b) + (c), _mm256_and_##S(v, (m)[2])); \\
            _mm256_storeu_##S((b) + lanes + (c), _mm256_and_##S(v, (m)[3])); \\
        }
    /* cpool_unpool_2x2 over channels-last pixels (a 2-D image's, ``lanes`` values each, or
       with ``depth`` 2 a volume's: OD x OH x OW outputs of 2x2x2 windows from D x H x W
       pixels): the ``nb`` lanes from g, idx and out (a block of channels; nb a multiple of N,
       else 0 and nothing written), each output pixel's value written on the cell of its
       window its index names, +0 on the others, lane by lane; the slices, rows and columns
       no window covers +0. The bits of the fill and scatter (plus +0 with ``accumulate``, as
       there). Returns 0, having written part of the block, at the first index outside its
       window. Each output row's rows of cells hinted ``ahead`` bytes on, a line of each cell
       a step. The scatter's lanes loop wrote each value and zero a lane at a time (NHWC max
       2x2 s2's gradient took 1.3x the forward with indices, where planes took 1.04x). One
       thread, the builds alternating, four rounds, (32, 56, 56, 256): the gradient 19.3 ->
       11.3 ms (0.59; 0.71 without the hints), float64 0.52, max_unpool2d 0.55, two threads
       0.55, in cache (4, 56, 56, 256) 0.72; (32, 7, 7, 512) 0.99. Images of one row (1-D
       signals) have tiles of one row: 1x2 windows (``rows`` 1, a literal in its copy). */
    #define CPOOL_UNPOOL_LANES_2X2(NAME, T, S, N) \\
    static CPOOL_ALWAYS_INLINE int cpool_unpool_lane_rows_##NAME( \\
            const T* g, const int64_t* idx, T* out, Py_ssize_t OD, Py_ssize_t OH, \\
            Py_ssize_t OW, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, Py_ssize_t depth, \\
            Py_ssize_t lanes, Py_ssize_t nb, int accumulate, Py_ssize_t ahead, \\
            Py_ssize_t rows) { \\
        const __m256##S##_T zero = _mm256_setzero_##S(); \\
        const Py_ssize_t HW = H * W, slice = depth == 2 ? HW : 0; \\
        __m256##S##_T v, m[8]; \\
        Py_ssize_t od, oh, ow, c, x, s; \\
        if (nb % N != 0 || depth * OD > D || rows * OH > H || 2 * OW > W || W >= INT32_MAX \\
                || (depth == 2 && HW >= INT32_MAX / 2) || (rows == 1 && depth != 1)) \\
            return 0; \\
        for (od = 0; od < OD; od++) { \\
            T* first = out + depth * od * HW * lanes; /* the window's first slice */ \\
            for (oh = 0; oh < OH; oh++) { \\
                T* r0 = first + rows * oh * W * lanes; \\
                T* r1 = rows == 2 ? r0 + W * lanes : r0; /* (r0: not written) */ \\
                for (ow = 0; ow < OW; ow++) { \\
                    const Py_ssize_t at = ((od * OH + oh) * OW + ow) * lanes; \\
                    const int64_t base = depth * od * HW + rows * oh * W + 2 * ow; \\
                    T* a = r0 + 2 * ow * lanes; \\
                    T* b = r1 + 2 * ow * lanes; \\
                    for (c = 0; c < nb; c += N) { \\
                        if (!cpool_lane_cells_##NAME(idx + at + c, base, W, slice, rows, \\
                                                     m)) \\
                            return 0; \\
                        v = _mm256_loadu_##S(g + at + c); \\
                        if (accumulate) v = _mm256_add_##S(v, zero); \\
                        CPOOL_LANE_TILE(S, a, b, c, m) \\
                        if (slice) { \\
                            CPOOL_LANE_TILE(S, a + HW * lanes, b + HW * lanes, c, m + 4) \\
                        } \\
                    } \\
                } \\
                for (s = 0; s < depth; s++) \\
                    for (x = 2 * OW; x < W; x++) { /* a column past the last window */ \\
                        memset(r0 + (s * HW + x) * lanes, 0, (size_t)nb * sizeof(T)); \\
                        if (rows == 2) \\
                            memset(r1 + (s * HW + x) * lanes, 0, (size_t)nb * sizeof(T)); \\
                    } \\
            } \\
            for (s = 0; s < depth; s++) /* the rows past the last window */ \\
                for (x = rows * OH * W; x < HW; x++) \\
                    memset(first + (s * HW + x) * lanes, 0, (size_t)nb * sizeof(T)); \\
        } \\
        for (x = depth * OD * HW; x < D * HW; x++) /* the slices past the last window */ \\
            memset(out + x * lanes, 0, (size_t)nb * sizeof(T)); \\
        return 1; \\
    } \\
    static CPOOL_NOINLINE int cpool_unpool_lanes_2x2_##NAME( \\
            const T* g, const int64_t* idx, T* out, Py_ssize_t OD, Py_ssize_t OH, \\
            Py_ssize_t OW, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, Py_ssize_t depth, \\
            Py_ssize_t lanes, Py_ssize_t nb, int accumulate, Py_ssize_t ahead) { \\
        if (H == 1) \\
            return cpool_unpool_lane_rows_##NAME(g, idx, out, OD, OH, OW, D, H, W, depth, \\
                                                 lanes, nb, accumulate, ahead, 1); \\
        return cpool_unpool_lane_rows_##NAME(g, idx, out, OD, OH, OW, D, H, W, depth, lanes, \\
                                             nb, accumulate, ahead, 2); \\
    }
    #else
    #define CPOOL_UNPOOL_TILES 0
    #define CPOOL_UNPOOL_2X2(NAME, T, N) \\
    static inline int cpool_unpool_2x2_##NAME(const T* g, const int64_t* idx, T* plane, \\
                                              Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, \\
                                              Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, \\
                                              Py_ssize_t depth, int accumulate, \\
                                              Py_ssize_t ahead) { \\
        (void)g; (void)idx; (void)plane; (void)OD; (void)OH; (void)OW; (void)D; (void)H; \\
        (void)W; (void)depth; (void)accumulate; (void)ahead; \\
        return 0; \\
    }
    #define CPOOL_UNPOOL_RUN_2X2(NAME, T, N) \\
    static inline int cpool_unpool_run_2x2_##NAME(const T* g, const int64_t* idx, T* planes, \\
                                                  Py_ssize_t n_planes, Py_ssize_t OH, \\
                                                  Py_ssize_t OW, int accumulate, \\
                                                  Py_ssize_t ahead) { \\
        (void)g; (void)idx; (void)planes; (void)n_planes; (void)OH; (void)OW; \\
        (void)accumulate; (void)ahead; \\
        return 0; \\
    }
    #define CPOOL_UNPOOL_LANES_2X2(NAME, T, S, N) \\
    static inline int cpool_unpool_lanes_2x2_##NAME( \\
            const T* g, const int64_t* idx, T* out, Py_ssize_t OD, Py_ssize_t OH, \\
            Py_ssize_t OW, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, Py_ssize_t depth, \\
            Py_ssize_t lanes, Py_ssize_t nb, int accumulate, Py_ssize_t ahead) { \\
        (void)g; (void)idx; (void)out; (void)OD; (void)OH; (void)OW; (void)D; (void)H; \\
        (void)W; (void)depth; (void)lanes; (void)nb; (void)accumulate; (void)ahead; \\
        return 0; \\
    }
    #endif
    CPOOL_UNPOOL_2X2(f32, float, 8)
    CPOOL_UNPOOL_2X2(f64, double, 4)
    CPOOL_UNPOOL_RUN_2X2(f32, float, 8)
    CPOOL_UNPOOL_RUN_2X2(f64, double, 4)
    CPOOL_UNPOOL_LANES_2X2(f32, float, ps, 8)
    CPOOL_UNPOOL_LANES_2X2(f64, double, pd, 4)
    /* A row's windows of k taps at stride s (1, or 2 with k = 2 or 3; _rows' _horizontal at
       dw = 1), finished as the row loop finishes a row, and written past the caches:
       out[i] = x[s*i .. s*i+k-1] folded left to right by PyTorch's max update (op 2: v
       replaces m where v > m or v is NaN) or by the sum, which then gets +0 (op 0:
       _from_zero), or becomes an average, divided by div[i] (op 1) or multiplied by it (op 3:
       div holds exact reciprocals) and then + 0 (_average). For outputs far larger than the
       caches (_openmp's stream_store_bytes): whole cache lines of out go to memory by
       non-temporal stores, which do not read the line first, and the input's lines ``ahead``
       bytes on are hinted into L2 at each. CPOOL_STREAM_ROWS is 0 where the build has no
       AVX2; the scalar loop then does it all. */
    #define CPOOL_STREAM_ROW_ONE(NAME, T) \\
    static inline T cpool_stream_row_one_##NAME(const T* x, Py_ssize_t i, int k, int s, int op, \\
                                                const T* div) { \\
        T c = x[s * i]; \\
        int u; \\
        for (u = 1; u < k; u++) \\
            c = op == 2 ? CPOOL_TAKE_MAX(c, x[s * i + u]) : c + x[s * i + u]; \\
        if (op == 1) c = c / div[i]; \\
        else if (op == 3) c = c * div[i]; \\
        return op == 2 ? c : c + (T)0; \\
    }
    CPOOL_STREAM_ROW_ONE(f32, float)
    CPOOL_STREAM_ROW_ONE(f64, double)
    #if defined(__AVX2__)
    #define CPOOL_STREAM_ROWS 1
    /* The lines' loop with its taps, stride and op as literals (2 or 3 taps: 1-D k3 s1 p1's
       and k2 s2's folds unrolled, and no op tests in the loop), or as variables (stride 1). */
    #define CPOOL_STREAM_LINES(NAME, from, to, K, STEP, OP, fast, nt) \\
        cpool_stream_lines_##NAME(x, out, from, to, K, STEP, OP, div, ahead, fast, nt)
    #define CPOOL_STREAM_OPS(NAME, from, to, K, STEP, fast, nt) ( \\
        op == 2 && (fast) ? CPOOL_STREAM_LINES(NAME, from, to, K, STEP, 2, 1, nt) \\
        : op == 2 ? CPOOL_STREAM_LINES(NAME, from, to, K, STEP, 2, 0, nt) \\
        : op == 0 ? CPOOL_STREAM_LINES(NAME, from, to, K, STEP, 0, 0, nt) \\
        : op == 1 ? CPOOL_STREAM_LINES(NAME, from, to, K, STEP, 1, 0, nt) \\
        : CPOOL_STREAM_LINES(NAME, from, to, K, STEP, 3, 0, nt))
    #define CPOOL_STREAM_CASES(NAME, from, to, fast, nt) ( \\
        s == 2 ? (k == 3 ? CPOOL_STREAM_OPS(NAME, from, to, 3, 2, fast, nt) \\
                          : CPOOL_STREAM_OPS(NAME, from, to, 2, 2, fast, nt)) \\
        : k == 2 ? CPOOL_STREAM_OPS(NAME, from, to, 2, 1, fast, nt) \\
        : k == 3 ? CPOOL_STREAM_OPS(NAME, from, to, 3, 1, fast, nt) \\
        : CPOOL_STREAM_LINES(NAME, from, to, k, 1, op, fast, nt))
    /* Outputs i to i+N-1 in a vector, finished (the division or product, the +0). At
       stride 2 the taps are the even and odd lanes of two loads (the third's, the odd lanes
       of the loads one further on, as in cpool_horizontal_s2), in pair order until ORDER256.
       Max (op 2) with ``fast``: by maxps, which is PyTorch's update (v > m ? v : m) but where
       v is NaN; *nan then flags any NaN among the values loaded for the first taps (stride 1)
       or all of them (stride 2). A compare and a blend less per tap. */
    #define CPOOL_STREAM_TAP(S, m, v) \\
        if (fast) m = _mm256_max_##S(v, m); else { CPOOL_COMBINE256(S, op, m, v, mask) }
    #define CPOOL_STREAM_ROW(NAME, T, S, N) \\
    static CPOOL_ALWAYS_INLINE __m256##S##_T cpool_stream_vector_##NAME( \\
            const T* x, Py_ssize_t i, int k, int s, int op, const T* div, int fast, \\
            __m256##S##_T* nan) { \\
        __m256##S##_T m, v, w0, w1, mask; \\
        int u; \\
        if (s == 2) { \\
            w0 = _mm256_loadu_##S(x + 2 * i); \\
            w1 = _mm256_loadu_##S(x + 2 * i + N); \\
            if (fast) *nan = _mm256_or_##S(*nan, _mm256_cmp_##S(w0, w1, _CMP_UNORD_Q)); \\
            m = CPOOL_EVEN256_##NAME(w0, w1); \\
            v = CPOOL_ODD256_##NAME(w0, w1); \\
            CPOOL_STREAM_TAP(S, m, v) \\
            if (k == 3) { \\
                v = CPOOL_ODD256_##NAME(_mm256_loadu_##S(x + 2 * i + 1), \\
                                        _mm256_loadu_##S(x + 2 * i + 1 + N)); \\
                CPOOL_STREAM_TAP(S, m, v) \\
            } \\
            m = CPOOL_ORDER256_##NAME(m); \\
        } else { \\
            m = _mm256_loadu_##S(x + i); \\
            if (fast) *nan = _mm256_or_##S(*nan, _mm256_cmp_##S(m, m, _CMP_UNORD_Q)); \\
            for (u = 1; u < k; u++) { \\
                v = _mm256_loadu_##S(x + i + u); \\
                CPOOL_STREAM_TAP(S, m, v) \\
            } \\
        } \\
        if (op == 1) m = _mm256_div_##S(m, _mm256_loadu_##S(div + i)); \\
        else if (op == 3) m = _mm256_mul_##S(m, _mm256_loadu_##S(div + i)); \\
        return op == 2 ? m : _mm256_add_##S(m, _mm256_setzero_##S()); \\
    } \\
    /* Outputs from i to end (2N a cache line of out), by non-temporal stores (``nt``), or \\
       plain ones (the row's first and last 2N values, which overlap the lines). Returns \\
       whether, with ``fast``, a NaN was among the values loaded, in which case the caller \\
       redoes the lines by the update itself (the taps not loaded here, the last line's \\
       further ones, the caller checks). */ \\
    static CPOOL_ALWAYS_INLINE int cpool_stream_lines_##NAME( \\
            const T* x, T* out, Py_ssize_t i, Py_ssize_t end, int k, int s, int op, \\
            const T* div, Py_ssize_t ahead, int fast, int nt) { \\
        __m256##S##_T m0, m1, nan = _mm256_setzero_##S(); \\
        for (; i < end; i += 2 * N) { \\
            if (nt) { \\
                cpool_prefetch_l2((const char*)(x + s * i) + ahead); \\
                if (s == 2) cpool_prefetch_l2((const char*)(x + s * i) + ahead + 64); \\
            } \\
            m0 = cpool_stream_vector_##NAME(x, i, k, s, op, div, fast, &nan); \\
            m1 = cpool_stream_vector_##NAME(x, i + N, k, s, op, div, fast, &nan); \\
            if (nt) { \\
                _mm256_stream_##S(out + i, m0); \\
                _mm256_stream_##S(out + i + N, m1); \\
            } else { \\
                _mm256_storeu_##S(out + i, m0); \\
                _mm256_storeu_##S(out + i + N, m1); \\
            } \\
        } \\
        return _mm256_movemask_##S(nan) != 0; \\
    } \\
    static inline void cpool_stream_row_##NAME(const T* x, T* out, Py_ssize_t n, int k, int s, \\
                                               int op, const T* div, Py_ssize_t ahead) { \\
        Py_ssize_t i, start, end, j, head = (Py_ssize_t)((64 - ((uintptr_t)out & 63)) & 63); \\
        int fast = op == 2; \\
        if (head % (Py_ssize_t)sizeof(T) || n < 6 * N /* misaligned items, or few */ \\
                || (s != 1 && (s != 2 || k < 2 || k > 3))) { /* or no vector form */ \\
            for (i = 0; i < n; i++) out[i] = cpool_stream_row_one_##NAME(x, i, k, s, op, div); \\
            return; \\
        } \\
        /* By plain stores, vectors of 2N values: up to the first whole line and that line, \\
           where out does not start a line; the last whole line and the rest. By \\
           non-temporal ones, the lines between. */ \\
        i = head / (Py_ssize_t)sizeof(T); \\
        start = i > 0 ? i + 2 * N : 0; \\
        end = start + (n - 2 * N - start) / (2 * N) * (2 * N); \\
        if (i > 0) { \\
            CPOOL_STREAM_CASES(NAME, 0, 2 * N, 0, 0); \\
            CPOOL_STREAM_CASES(NAME, i, start, 0, 0); \\
        } \\
        if (CPOOL_STREAM_CASES(NAME, start, end, fast, 1)) \\
            fast = 0; \\
        for (j = s * end; fast && j < s * (end - 1) + k; j++) /* taps no load reached */ \\
            fast = x[j] == x[j]; \\
        if (op == 2 && !fast) /* a NaN among the taps: the lines again, by the update */ \\
            CPOOL_STREAM_CASES(NAME, start, end, 0, 1); \\
        CPOOL_STREAM_CASES(NAME, end, end + 2 * N, 0, 0); \\
        CPOOL_STREAM_CASES(NAME, n - 2 * N, n, 0, 0); \\
    }
    /* After a thread's rows by cpool_stream_row: its stores are then ordered before what
       follows (another thread's reads after the loop's barrier). */
    #define cpool_stream_fence() _mm_sfence()
    #else
    #define CPOOL_STREAM_ROWS 0
    #define cpool_stream_fence() ((void)0)
    #define CPOOL_STREAM_ROW(NAME, T, S, N) \\
    static inline void cpool_stream_row_##NAME(const T* x, T* out, Py_ssize_t n, int k, int s, \\
                                               int op, const T* div, Py_ssize_t ahead) { \\
        Py_ssize_t i; \\
        (void)ahead; \\
        for (i = 0; i < n; i++) out[i] = cpool_stream_row_one_##NAME(x, i, k, s, op, div); \\
    }
    #endif
    CPOOL_STREAM_ROW(f32, float, ps, 8)
    CPOOL_STREAM_ROW(f64, double, pd, 4)
    """
    bint CPOOL_SSE2
    bint CPOOL_AVX_KERNELS  # whether the kernels below that return 0 without AVX have it
    bint CPOOL_SAME_3X3_KERNELS  # whether cpool_same_3x3_sums, _max and _eval compute (AVX2)
    Py_ssize_t CPOOL_SAME_3X3_BUF(Py_ssize_t W)  # a "same" 3x3 kernel's buf
    void cpool_argmax_window_f32(const float* cell, Py_ssize_t below, Py_ssize_t n_rows,
                                 Py_ssize_t n_cols, int64_t at, int64_t index_below,
                                 float* out, int64_t* idx) noexcept nogil
    void cpool_argmax_window_f64(const double* cell, Py_ssize_t below, Py_ssize_t n_rows,
                                 Py_ssize_t n_cols, int64_t at, int64_t index_below,
                                 double* out, int64_t* idx) noexcept nogil
    void cpool_argmax_s2_f32(const float* x, Py_ssize_t below, int k, float* out,
                             int64_t* idx, Py_ssize_t n, int64_t base,
                             int64_t index_below, Py_ssize_t ahead) noexcept nogil
    void cpool_argmax_s2_f64(const double* x, Py_ssize_t below, int k, double* out,
                             int64_t* idx, Py_ssize_t n, int64_t base,
                             int64_t index_below, Py_ssize_t ahead) noexcept nogil
    bint CPOOL_STREAM_ROWS  # whether cpool_stream_row has its vector loop (AVX2)
    void cpool_stream_row_f32(const float* x, float* out, Py_ssize_t n, int k, int s, int op,
                              const float* div, Py_ssize_t ahead) noexcept nogil
    void cpool_stream_row_f64(const double* x, double* out, Py_ssize_t n, int k, int s, int op,
                              const double* div, Py_ssize_t ahead) noexcept nogil
    void cpool_stream_fence() noexcept nogil
    void cpool_horizontal_s2_f32(const float* buf, float* out, Py_ssize_t n, int k,
                                 int op) noexcept nogil
    void cpool_horizontal_s2_f64(const double* buf, double* out, Py_ssize_t n, int k,
                                 int op) noexcept nogil
    void cpool_prefetch(const void* p) noexcept nogil
    void cpool_prefetch_l2(const void* p) noexcept nogil
    void cpool_copy_pixels(const char* src, char* dst, Py_ssize_t n, Py_ssize_t step,
                           Py_ssize_t nbytes) noexcept nogil
    bint cpool_rgb8_max_2s2(const unsigned char* buf, unsigned char* out,
                            Py_ssize_t n) noexcept nogil
    bint cpool_rgb8_max_2x2_rows(const unsigned char* x, Py_ssize_t below, Py_ssize_t step,
                                 Py_ssize_t n_rows, unsigned char* out, Py_ssize_t out_step,
                                 Py_ssize_t n, unsigned char* buf,
                                 Py_ssize_t ahead) noexcept nogil
    bint cpool_plane_sums_f32(const float* x, Py_ssize_t n_planes, Py_ssize_t n,
                              double* totals, Py_ssize_t ahead) noexcept nogil
    bint cpool_plane_sums_f64(const double* x, Py_ssize_t n_planes, Py_ssize_t n,
                              double* totals, Py_ssize_t ahead) noexcept nogil
    bint cpool_same_3x3_sums_f32(const float* x, Py_ssize_t row_step, Py_ssize_t H,
                                 Py_ssize_t W, float* out, const float* divs, bint reciprocal,
                                 bint zero_first, float* buf, bint fresh) noexcept nogil
    bint cpool_same_3x3_sums_f64(const double* x, Py_ssize_t row_step, Py_ssize_t H,
                                 Py_ssize_t W, double* out, const double* divs,
                                 bint reciprocal, bint zero_first, double* buf,
                                 bint fresh) noexcept nogil
    int cpool_same_3x3_max_f32(const float* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W,
                               float* out, float* buf, bint fresh) noexcept nogil
    int cpool_same_3x3_max_f64(const double* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W,
                               double* out, double* buf, bint fresh) noexcept nogil
    int cpool_same_3x3_eval_f32(const float* x, Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W,
                                float* out, float* buf, float* low, bint has_above,
                                bint has_below) noexcept nogil
    int cpool_same_3x3_eval_f64(const double* x, Py_ssize_t row_step, Py_ssize_t H,
                                Py_ssize_t W, double* out, double* buf, double* low,
                                bint has_above, bint has_below) noexcept nogil
    int cpool_plane_maxima_f32(const float* x, Py_ssize_t n_planes, Py_ssize_t n, float* out,
                               int64_t* indices, Py_ssize_t ahead) noexcept nogil
    int cpool_plane_maxima_f64(const double* x, Py_ssize_t n_planes, Py_ssize_t n,
                               double* out, int64_t* indices, Py_ssize_t ahead) noexcept nogil
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
    bint cpool_tiles_2x2_f32(const float* r0, const float* r1, float* out, Py_ssize_t n,
                             int op, float scale, const float* h0,
                             Py_ssize_t ahead) noexcept nogil
    bint cpool_tiles_2x2_f64(const double* r0, const double* r1, double* out, Py_ssize_t n,
                             int op, double scale, const double* h0,
                             Py_ssize_t ahead) noexcept nogil
    void cpool_spread_2x2_f32(const float* src, const float* div, int mode, float* r0,
                              float* r1, Py_ssize_t n, Py_ssize_t ahead) noexcept nogil
    void cpool_spread_2x2_f64(const double* src, const double* div, int mode, double* r0,
                              double* r1, Py_ssize_t n, Py_ssize_t ahead) noexcept nogil
    void cpool_eval_2x2_f32(const float* r0, const float* r1, float* out, Py_ssize_t n,
                            float* low, Py_ssize_t ahead) noexcept nogil
    void cpool_eval_2x2_f64(const double* r0, const double* r1, double* out, Py_ssize_t n,
                            double* low, Py_ssize_t ahead) noexcept nogil
    bint cpool_tiles_3x3_max_f32(const float* x, Py_ssize_t below, Py_ssize_t step,
                                 Py_ssize_t n_rows, float* out, Py_ssize_t n) noexcept nogil
    bint cpool_tiles_3x3_max_f64(const double* x, Py_ssize_t below, Py_ssize_t step,
                                 Py_ssize_t n_rows, double* out, Py_ssize_t n) noexcept nogil
    Py_ssize_t cpool_max_rows_3x3_f32(const float* first, Py_ssize_t below, Py_ssize_t depth_step,
                                      Py_ssize_t n_depth, Py_ssize_t step,
                                      Py_ssize_t n_rows, float* out, Py_ssize_t n,
                                      Py_ssize_t i_lo, Py_ssize_t i_hi,
                                      Py_ssize_t pad_w, const Py_ssize_t* w_lo,
                                      const Py_ssize_t* w_n, Py_ssize_t ahead) noexcept nogil
    Py_ssize_t cpool_max_rows_3x3_f64(const double* first, Py_ssize_t below, Py_ssize_t depth_step,
                                      Py_ssize_t n_depth, Py_ssize_t step,
                                      Py_ssize_t n_rows, double* out, Py_ssize_t n,
                                      Py_ssize_t i_lo, Py_ssize_t i_hi,
                                      Py_ssize_t pad_w, const Py_ssize_t* w_lo,
                                      const Py_ssize_t* w_n, Py_ssize_t ahead) noexcept nogil
    bint cpool_lp2_spread_2x2_f32(const float* x, Py_ssize_t W, const float* g, float* out,
                                  Py_ssize_t n_rows, Py_ssize_t n, float recip,
                                  float size, Py_ssize_t ahead) noexcept nogil
    bint cpool_lp2_spread_2x2_f64(const double* x, Py_ssize_t W, const double* g, double* out,
                                  Py_ssize_t n_rows, Py_ssize_t n, double recip,
                                  double size, Py_ssize_t ahead) noexcept nogil
    Py_ssize_t cpool_cells_max_f32(const float* px, const Py_ssize_t* off, Py_ssize_t n_cells,
                                   Py_ssize_t lanes, float* dst) noexcept nogil
    Py_ssize_t cpool_cells_max_f64(const double* px, const Py_ssize_t* off, Py_ssize_t n_cells,
                                   Py_ssize_t lanes, double* dst) noexcept nogil
    Py_ssize_t cpool_direct_argmax_f32(const float* first, Py_ssize_t px_step,
                                       const Py_ssize_t* off, const int32_t* ioff,
                                       Py_ssize_t n_cells, Py_ssize_t kw, Py_ssize_t lanes,
                                       Py_ssize_t n, int64_t at0, Py_ssize_t at_step,
                                       float* orow, int64_t* irow,
                                       Py_ssize_t ahead) noexcept nogil
    Py_ssize_t cpool_direct_argmax_f64(const double* first, Py_ssize_t px_step,
                                       const Py_ssize_t* off, const int32_t* ioff,
                                       Py_ssize_t n_cells, Py_ssize_t kw, Py_ssize_t lanes,
                                       Py_ssize_t n, int64_t at0, Py_ssize_t at_step,
                                       double* orow, int64_t* irow,
                                       Py_ssize_t ahead) noexcept nogil
    int cpool_direct_max_2x2_f32(const float* row0, Py_ssize_t depth_step, Py_ssize_t n_depth,
                                 Py_ssize_t step, Py_ssize_t lanes, Py_ssize_t pixel,
                                 Py_ssize_t OW, float* orow, Py_ssize_t ahead) noexcept nogil
    int cpool_direct_max_2x2_f64(const double* row0, Py_ssize_t depth_step,
                                 Py_ssize_t n_depth, Py_ssize_t step, Py_ssize_t lanes,
                                 Py_ssize_t pixel, Py_ssize_t OW, double* orow,
                                 Py_ssize_t ahead) noexcept nogil
    int cpool_direct_sums_2x2_f32(const float* row0, Py_ssize_t depth_step,
                                  Py_ssize_t n_depth, Py_ssize_t step, Py_ssize_t lanes,
                                  Py_ssize_t pixel, Py_ssize_t OW, float* orow, float scale,
                                  int mode, Py_ssize_t ahead) noexcept nogil
    int cpool_direct_sums_2x2_f64(const double* row0, Py_ssize_t depth_step,
                                  Py_ssize_t n_depth, Py_ssize_t step, Py_ssize_t lanes,
                                  Py_ssize_t pixel, Py_ssize_t OW, double* orow, double scale,
                                  int mode, Py_ssize_t ahead) noexcept nogil
    bint CPOOL_STOCH_S2  # whether cpool_stoch_s2 has its AVX2 body (else it returns 0)
    Py_ssize_t cpool_stoch_s2_f32(const float* row0, Py_ssize_t below, Py_ssize_t step,
                                  Py_ssize_t n_rows, Py_ssize_t n, Py_ssize_t k,
                                  const uint64_t* keys, Py_ssize_t first, float* out,
                                  Py_ssize_t out_step, float* taken, Py_ssize_t taken_step,
                                  bint with_taps, int* flagged, bint lead,
                                  Py_ssize_t ahead) noexcept nogil
    Py_ssize_t cpool_stoch_s2_f64(const double* row0, Py_ssize_t below, Py_ssize_t step,
                                  Py_ssize_t n_rows, Py_ssize_t n, Py_ssize_t k,
                                  const uint64_t* keys, Py_ssize_t first, double* out,
                                  Py_ssize_t out_step, double* taken, Py_ssize_t taken_step,
                                  bint with_taps, int* flagged, bint lead,
                                  Py_ssize_t ahead) noexcept nogil
    bint CPOOL_UNPOOL_TILES  # whether cpool_unpool_2x2 has its AVX2 body (else it returns 0)
    bint cpool_unpool_run_2x2_f32(const float* g, const int64_t* idx, float* planes,
                                  Py_ssize_t n_planes, Py_ssize_t OH, Py_ssize_t OW,
                                  bint accumulate, Py_ssize_t ahead) noexcept nogil
    bint cpool_unpool_run_2x2_f64(const double* g, const int64_t* idx, double* planes,
                                  Py_ssize_t n_planes, Py_ssize_t OH, Py_ssize_t OW,
                                  bint accumulate, Py_ssize_t ahead) noexcept nogil
    bint cpool_unpool_2x2_f32(const float* g, const int64_t* idx, float* plane, Py_ssize_t OD,
                              Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t D, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t depth, bint accumulate,
                              Py_ssize_t ahead) noexcept nogil
    bint cpool_unpool_lanes_2x2_f32(const float* g, const int64_t* idx, float* out,
                                    Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t D,
                                    Py_ssize_t H, Py_ssize_t W, Py_ssize_t depth,
                                    Py_ssize_t lanes, Py_ssize_t nb, bint accumulate,
                                    Py_ssize_t ahead) noexcept nogil
    bint cpool_unpool_lanes_2x2_f64(const double* g, const int64_t* idx, double* out,
                                    Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t D,
                                    Py_ssize_t H, Py_ssize_t W, Py_ssize_t depth,
                                    Py_ssize_t lanes, Py_ssize_t nb, bint accumulate,
                                    Py_ssize_t ahead) noexcept nogil
    bint cpool_unpool_2x2_f64(const double* g, const int64_t* idx, double* plane,
                              Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t D,
                              Py_ssize_t H, Py_ssize_t W, Py_ssize_t depth, bint accumulate,
                              Py_ssize_t ahead) noexcept nogil
    bint cpool_tile_rows_2x2_f32(const float* x, Py_ssize_t below, Py_ssize_t step,
                                 Py_ssize_t n_rows, float* out, Py_ssize_t n, int op,
                                 float scale, Py_ssize_t ahead) noexcept nogil
    bint cpool_tile_rows_2x2_f64(const double* x, Py_ssize_t below, Py_ssize_t step,
                                 Py_ssize_t n_rows, double* out, Py_ssize_t n, int op,
                                 double scale, Py_ssize_t ahead) noexcept nogil
    void cpool_spread_run_2x2_f32(const float* src, float d, int mode, float* out,
                                  Py_ssize_t n_rows, Py_ssize_t n, Py_ssize_t ahead) noexcept nogil
    void cpool_spread_run_2x2_f64(const double* src, double d, int mode, double* out,
                                  Py_ssize_t n_rows, Py_ssize_t n, Py_ssize_t ahead) noexcept nogil
    void cpool_eval_run_2x2_f32(const float* x, Py_ssize_t n_rows, float* orun, Py_ssize_t n,
                                float* low, Py_ssize_t ahead) noexcept nogil
    void cpool_eval_run_2x2_f64(const double* x, Py_ssize_t n_rows, double* orun,
                                Py_ssize_t n, double* low, Py_ssize_t ahead) noexcept nogil
    Py_ssize_t CPOOL_S3A_NARROW_ROWS  # cpool_same_3x3_argmax's planes under a vector: rows
    Py_ssize_t cpool_same_3x3_argmax_buf_f32(Py_ssize_t H, Py_ssize_t W) noexcept nogil
    Py_ssize_t cpool_same_3x3_argmax_buf_f64(Py_ssize_t H, Py_ssize_t W) noexcept nogil
    int cpool_same_3x3_argmax_f32(const float* x, Py_ssize_t row_step, Py_ssize_t H,
                                  Py_ssize_t W, float* out, Py_ssize_t out_step, int64_t* idx,
                                  Py_ssize_t idx_step, float* buf) noexcept nogil
    int cpool_same_3x3_argmax_f64(const double* x, Py_ssize_t row_step, Py_ssize_t H,
                                  Py_ssize_t W, double* out, Py_ssize_t out_step, int64_t* idx,
                                  Py_ssize_t idx_step, double* buf) noexcept nogil
    Py_ssize_t cpool_argmax_s1_f32(const float* x, Py_ssize_t below, Py_ssize_t R,
                                   Py_ssize_t K, float* out, int64_t* idx, Py_ssize_t n,
                                   int64_t base, int64_t index_below) noexcept nogil
    Py_ssize_t cpool_argmax_s1_f64(const double* x, Py_ssize_t below, Py_ssize_t R,
                                   Py_ssize_t K, double* out, int64_t* idx, Py_ssize_t n,
                                   int64_t base, int64_t index_below) noexcept nogil
    void cpool_argmax_run_s2_f32(const float* plane, Py_ssize_t below, Py_ssize_t step,
                                 Py_ssize_t plane_step, Py_ssize_t n_rows, int k, float* orun,
                                 int64_t* irun, Py_ssize_t n, int64_t base0, int64_t base_step,
                                 Py_ssize_t OH, Py_ssize_t oh, int64_t index_below,
                                 Py_ssize_t ahead) noexcept nogil
    void cpool_argmax_run_s2_f64(const double* plane, Py_ssize_t below, Py_ssize_t step,
                                 Py_ssize_t plane_step, Py_ssize_t n_rows, int k, double* orun,
                                 int64_t* irun, Py_ssize_t n, int64_t base0, int64_t base_step,
                                 Py_ssize_t OH, Py_ssize_t oh, int64_t index_below,
                                 Py_ssize_t ahead) noexcept nogil
    bint cpool_tile_run_2x2_f32(const float* x, Py_ssize_t below, Py_ssize_t step,
                                Py_ssize_t n_rows, float* out, Py_ssize_t n, int op,
                                float scale, Py_ssize_t ahead) noexcept nogil
    bint cpool_tile_run_2x2_f64(const double* x, Py_ssize_t below, Py_ssize_t step,
                                Py_ssize_t n_rows, double* out, Py_ssize_t n, int op,
                                double scale, Py_ssize_t ahead) noexcept nogil


cdef extern from *:
    """
    /* Planes as lanes (_window's _lane_planes): cpool_lanes_in_NAME(src, n, dst, G) writes the
       n values of each of N planes side by side, dst[i*G + g] = src[g][i] (g < N: eight 32-bit
       or four 64-bit planes, a vector of lanes; dst + s and src + s for lanes s on);
       cpool_lanes_out_NAME(src, n, G, dst) the reverse, dst[g][i] = src[i*G + g]. Bit moves
       (no arithmetic), so any NaN payload passes. AVX builds transpose N x N blocks in
       registers (unpacks, shuffles and 128-bit permutes), and hint the line ``ahead`` bytes
       past each value they read into L2 (the same plane of the next group); the rest, and
       other builds, a value at a time. */
    #if defined(__AVX__)
    #include <immintrin.h>
    static CPOOL_ALWAYS_INLINE void cpool_transpose_ps(__m256* r) {
        __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
        __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
        __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
        __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
        __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
        r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
        r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
        r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
        r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
        r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
        r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
        r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
        r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
    }
    static CPOOL_ALWAYS_INLINE void cpool_transpose_pd(__m256d* r) {
        __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
        __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
        r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
        r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
        r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
        r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
    }
    #define CPOOL_LANES_BLOCKS_IN(E, V, S, N) \\
        for (; i + N <= n; i += N) { \\
            V r[N]; \\
            for (g = 0; g < N; g++) { \\
                r[g] = _mm256_loadu_##S((const E*)(src[g] + i)); \\
                if (ahead) cpool_prefetch_l2((const char*)(src[g] + i) + ahead); \\
            } \\
            cpool_transpose_##S(r); \\
            for (g = 0; g < N; g++) _mm256_storeu_##S((E*)(dst + (i + g) * G), r[g]); \\
        }
    #define CPOOL_LANES_BLOCKS_OUT(E, V, S, N) \\
        for (; i + N <= n; i += N) { \\
            V r[N]; \\
            for (g = 0; g < N; g++) r[g] = _mm256_loadu_##S((const E*)(src + (i + g) * G)); \\
            cpool_transpose_##S(r); \\
            for (g = 0; g < N; g++) _mm256_storeu_##S((E*)(dst[g] + i), r[g]); \\
        }
    #else
    #define CPOOL_LANES_BLOCKS_IN(E, V, S, N)
    #define CPOOL_LANES_BLOCKS_OUT(E, V, S, N)
    #endif
    #define CPOOL_LANES(NAME, T, E, V, S, N) \\
    static inline void cpool_lanes_in_##NAME(const T** src, Py_ssize_t n, T* dst, Py_ssize_t G, \\
                                             Py_ssize_t ahead) { \\
        Py_ssize_t i = 0, g; \\
        CPOOL_LANES_BLOCKS_IN(E, V, S, N) \\
        for (; i < n; i++) \\
            for (g = 0; g < N; g++) dst[i * G + g] = src[g][i]; \\
        (void)ahead; \\
    } \\
    static inline void cpool_lanes_out_##NAME(const T* src, Py_ssize_t n, Py_ssize_t G, T** dst) { \\
        Py_ssize_t i = 0, g; \\
        CPOOL_LANES_BLOCKS_OUT(E, V, S, N) \\
        for (; i < n; i++) \\
            for (g = 0; g < N; g++) dst[g][i] = src[i * G + g]; \\
    }
    CPOOL_LANES(f32, float, float, __m256, ps, 8)
    CPOOL_LANES(f64, double, double, __m256d, pd, 4)
    CPOOL_LANES(i64, int64_t, double, __m256d, pd, 4)
    """
    void cpool_lanes_in_f32(const float** src, Py_ssize_t n, float* dst,
                            Py_ssize_t G, Py_ssize_t ahead) noexcept nogil
    void cpool_lanes_in_f64(const double** src, Py_ssize_t n, double* dst,
                            Py_ssize_t G, Py_ssize_t ahead) noexcept nogil
    void cpool_lanes_out_f32(const float* src, Py_ssize_t n, Py_ssize_t G,
                             float** dst) noexcept nogil
    void cpool_lanes_out_f64(const double* src, Py_ssize_t n, Py_ssize_t G,
                             double** dst) noexcept nogil
    void cpool_lanes_out_i64(const int64_t* src, Py_ssize_t n, Py_ssize_t G,
                             int64_t** dst) noexcept nogil


cdef extern from *:
    r"""
    /* cpool_column_winner_f32(v, r, n): the column t < n (1 <= n <= 16) that a row-major scan
       of a window keeps, given each column's maximum v[t] and the window row r[t] it was
       found in (_window's _combine_clipped, whose scalar loop applies _right_replaces column
       by column): without NaN, the largest value at the smallest (row, column); with a NaN,
       the NaN at the largest (row, column). Rows below 2**27. AVX2 builds compare the n
       columns at once in two vectors, keys row * 16 + column reduced by a min (or a max);
       CPOOL_COLUMN_WINNERS says whether they do (other builds scan the columns in Cython). */
    #if defined(__AVX2__)
    #include <immintrin.h>
    static inline int cpool_hmin_epi32(__m256i x) {
        x = _mm256_min_epi32(x, _mm256_permute2x128_si256(x, x, 1));
        x = _mm256_min_epi32(x, _mm256_shuffle_epi32(x, 0x4E));
        x = _mm256_min_epi32(x, _mm256_shuffle_epi32(x, 0xB1));
        return _mm256_cvtsi256_si32(x);
    }
    static inline int cpool_hmax_epi32(__m256i x) {
        x = _mm256_max_epi32(x, _mm256_permute2x128_si256(x, x, 1));
        x = _mm256_max_epi32(x, _mm256_shuffle_epi32(x, 0x4E));
        x = _mm256_max_epi32(x, _mm256_shuffle_epi32(x, 0xB1));
        return _mm256_cvtsi256_si32(x);
    }
    static inline int cpool_column_winner_f32(const float* v, const int32_t* r, Py_ssize_t n) {
        const __m256i lane0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i lane1 = _mm256_add_epi32(lane0, _mm256_set1_epi32(8));
        const __m256i count = _mm256_set1_epi32((int)n);
        const __m256i in0 = _mm256_cmpgt_epi32(count, lane0);
        const __m256i in1 = _mm256_cmpgt_epi32(count, lane1);
        /* (Masked loads read nothing past the n columns.) */
        const __m256 a0 = _mm256_maskload_ps(v, in0), a1 = _mm256_maskload_ps(v + 8, in1);
        const __m256i k0 = _mm256_or_si256(
            _mm256_slli_epi32(_mm256_maskload_epi32((const int*)r, in0), 4), lane0);
        const __m256i k1 = _mm256_or_si256(
            _mm256_slli_epi32(_mm256_maskload_epi32((const int*)(r + 8), in1), 4), lane1);
        const __m256 nan0 = _mm256_and_ps(_mm256_cmp_ps(a0, a0, _CMP_UNORD_Q),
                                          _mm256_castsi256_ps(in0));
        const __m256 nan1 = _mm256_and_ps(_mm256_cmp_ps(a1, a1, _CMP_UNORD_Q),
                                          _mm256_castsi256_ps(in1));
        if (_mm256_movemask_ps(_mm256_or_ps(nan0, nan1))) {
            const __m256i none = _mm256_set1_epi32(-1);
            return cpool_hmax_epi32(_mm256_max_epi32(
                _mm256_blendv_epi8(none, k0, _mm256_castps_si256(nan0)),
                _mm256_blendv_epi8(none, k1, _mm256_castps_si256(nan1)))) & 15;
        }
        const __m256 low = _mm256_set1_ps(-INFINITY);
        const __m256 b0 = _mm256_blendv_ps(low, a0, _mm256_castsi256_ps(in0));
        const __m256 b1 = _mm256_blendv_ps(low, a1, _mm256_castsi256_ps(in1));
        const __m256 m = _mm256_set1_ps(cpool_hmax_f32(_mm256_max_ps(b0, b1)));
        const __m256i top0 = _mm256_and_si256(
            _mm256_castps_si256(_mm256_cmp_ps(b0, m, _CMP_EQ_OQ)), in0);
        const __m256i top1 = _mm256_and_si256(
            _mm256_castps_si256(_mm256_cmp_ps(b1, m, _CMP_EQ_OQ)), in1);
        const __m256i beyond = _mm256_set1_epi32(0x7FFFFFFF);
        return cpool_hmin_epi32(_mm256_min_epi32(_mm256_blendv_epi8(beyond, k0, top0),
                                                 _mm256_blendv_epi8(beyond, k1, top1))) & 15;
    }
    #define CPOOL_COLUMN_WINNERS 1
    #else
    /* Never called: _combine_clipped scans the columns itself where this is 0. */
    static inline int cpool_column_winner_f32(const float* v, const int32_t* r, Py_ssize_t n) {
        (void)v; (void)r; (void)n;
        return 0;
    }
    #define CPOOL_COLUMN_WINNERS 0
    #endif
    """
    bint CPOOL_COLUMN_WINNERS
    int cpool_column_winner_f32(const float* v, const int32_t* r, Py_ssize_t n) noexcept nogil

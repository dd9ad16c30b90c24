"""Conversions of the input and results around the kernels, at memory speed: float16 <-> float32
with NumPy's bits, and layouts into C order.

**float16.** Why: float16 input is pooled in float32 (the kernels have no float16 arithmetic,
nor has PyTorch's CPU pooling: it computes in float and rounds), so every float16 call converts
its input to float32 and its result back. NumPy's casts between them run a value at a time
(about 3 ns a value here): on (32, 256, 56, 56) the input's conversion alone took 74 ms, where
the float32 max pooling takes 9 ms.

How: the F16C instructions convert 8 values at a time (``vcvtph2ps``, and ``vcvtps2ph`` with
round-to-nearest-even taken from the instruction, not the MXCSR). Their results are NumPy's
(``npy_halfbits_to_floatbits``, ``npy_floatbits_to_halfbits``) for every value but a NaN: F16C
quiets a signalling NaN, NumPy keeps its payload's bits (shifted; a half whose payload bits
would all be shifted out becomes 0x7c01, still a NaN). NaN lanes are therefore rebuilt by
NumPy's rule from the integer bits and blended in, in the steps that hold a NaN (the others,
nearly all, take the instruction's result alone). Widening is exact for every half;
narrowing rounds to nearest even, to inf past float16's range, and to signed zero or a
subnormal half below it, as NumPy does (tests/test_convert.py checks every half, and bit
patterns of every float32 exponent).

Compiled once, at the baseline's flags: the two functions carry their own target attribute
and run only where the CPU has F16C and AVX2 (``f16c_usable``); elsewhere (other compilers or
architectures) the callers keep NumPy's casts.

**Layouts.** Why: an input the kernels cannot read in place (a strided last axis: channels-last
memory pooled over its default axes, say) is copied into C order, and NumPy's copy of a
transposed array walks one side a value at a time across rows: about 4 ns a value here, 95 ms
for a (32, 256, 56, 56) float32 input, ten times the pooling. Most such layouts are batches of
one 2-D transpose: memory (B, R, S) read as (B, S, R) (NHWC memory read as NCHW: R = H*W,
S = C). ``transpose`` copies those in tiles that stay in cache on both sides.
"""
from cython cimport view
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #ifdef _OPENMP
    #define CPOOL_OMP_FOR _Pragma("omp parallel for schedule(static) num_threads(threads)")
    #else
    #define CPOOL_OMP_FOR
    #endif
    /* Batches of 2-D transposes of items of 1, 2, 4 or 8 bytes: src (B, R, S) into dst
       (B, S, R), each matrix's rows contiguous and the rows and matrices any number of items
       apart (src's rows ss apart and its matrices sb, dst's ds and db), in square tiles of
       CPOOL_TILE items a side (16 KB of 8-byte items on each side), so that the side read or
       written across rows stays in cache; the batch's tiles split over the threads. One loop
       over the tiles for every item size and for the AVX2 blocks (CPOOL_TRANSPOSE's TILE: how
       one tile is copied). */
    #define CPOOL_TILE 32
    /* Rows [i0, i1) x columns [j0, j1) of one matrix s (rows ss apart) into d (S, R; rows ds
       apart), item by item. */
    #define CPOOL_TILE_ITEMS(T)                                                              \
    static inline void cpool_tile_##T(const T *s, T *d, Py_ssize_t ss, Py_ssize_t ds,       \
                                      Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0,           \
                                      Py_ssize_t j1) {                                       \
        for (Py_ssize_t j = j0; j < j1; j++)                                                 \
            for (Py_ssize_t i = i0; i < i1; i++)                                             \
                d[j * ds + i] = s[i * ss + j];                                               \
    }
    #define CPOOL_TRANSPOSE(ATTR, NAME, T, TILE)                                             \
    static ATTR void NAME(const T *src, T *dst, Py_ssize_t B, Py_ssize_t R, Py_ssize_t S,    \
                          Py_ssize_t sb, Py_ssize_t ss, Py_ssize_t db, Py_ssize_t ds,        \
                          int threads) {                                                     \
        Py_ssize_t row_tiles = (R + CPOOL_TILE - 1) / CPOOL_TILE;                            \
        Py_ssize_t t;                                                                        \
        (void)threads;                                                                       \
        CPOOL_OMP_FOR                                                                        \
        for (t = 0; t < B * row_tiles; t++) {                                                \
            Py_ssize_t b = t / row_tiles, i0 = (t % row_tiles) * CPOOL_TILE;                 \
            Py_ssize_t i1 = i0 + CPOOL_TILE < R ? i0 + CPOOL_TILE : R;                       \
            for (Py_ssize_t j0 = 0; j0 < S; j0 += CPOOL_TILE)                                \
                TILE(src + b * sb, dst + b * db, ss, ds, i0, i1, j0,                         \
                     j0 + CPOOL_TILE < S ? j0 + CPOOL_TILE : S);                             \
        }                                                                                    \
    }
    CPOOL_TILE_ITEMS(uint8_t)
    CPOOL_TILE_ITEMS(uint16_t)
    CPOOL_TILE_ITEMS(uint32_t)
    CPOOL_TILE_ITEMS(uint64_t)
    CPOOL_TRANSPOSE(, cpool_transpose_uint8_t, uint8_t, cpool_tile_uint8_t)
    CPOOL_TRANSPOSE(, cpool_transpose_uint16_t, uint16_t, cpool_tile_uint16_t)
    CPOOL_TRANSPOSE(, cpool_transpose_uint32_t, uint32_t, cpool_tile_uint32_t)
    CPOOL_TRANSPOSE(, cpool_transpose_uint64_t, uint64_t, cpool_tile_uint64_t)

    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    #include <immintrin.h>
    #define CPOOL_F16C_BUILT 1
    #define CPOOL_F16C_TARGET __attribute__((target("avx2,f16c")))

    /* 8 halves (as uint16) to 8 floats; NaN lanes by NumPy's rule. */
    static CPOOL_F16C_TARGET inline __m256 cpool_widen8(__m128i h) {
        __m256 f = _mm256_cvtph_ps(h);
        __m256i w = _mm256_cvtepu16_epi32(h);
        __m256i exponent = _mm256_and_si256(w, _mm256_set1_epi32(0x7c00));
        __m256i payload = _mm256_and_si256(w, _mm256_set1_epi32(0x03ff));
        __m256i nan = _mm256_andnot_si256(
            _mm256_cmpeq_epi32(payload, _mm256_setzero_si256()),
            _mm256_cmpeq_epi32(exponent, _mm256_set1_epi32(0x7c00)));
        __m256i numpy_nan = _mm256_or_si256(
            _mm256_slli_epi32(_mm256_and_si256(w, _mm256_set1_epi32(0x8000)), 16),
            _mm256_or_si256(_mm256_set1_epi32(0x7f800000), _mm256_slli_epi32(payload, 13)));
        return _mm256_blendv_ps(f, _mm256_castsi256_ps(numpy_nan), _mm256_castsi256_ps(nan));
    }

    /* 8 floats to 8 halves, rounding to nearest even; NaN lanes by NumPy's rule. */
    static CPOOL_F16C_TARGET inline __m128i cpool_narrow8(__m256 f) {
        __m128i h = _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT);
        __m256i b = _mm256_castps_si256(f);
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7fffffff)),
                                         _mm256_set1_epi32(0x7f800000));
        __m256i payload = _mm256_srli_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)), 13);
        /* A payload shifted out entirely would read as inf: NumPy makes it 1. */
        payload = _mm256_sub_epi32(payload,
                                   _mm256_cmpeq_epi32(payload, _mm256_setzero_si256()));
        __m256i numpy_nan = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x8000)),
            _mm256_or_si256(_mm256_set1_epi32(0x7c00), payload));
        /* 32 -> 16 bits: each value fits (unsigned saturation leaves it), the masks are 0 or
           -1 (signed saturation keeps them); the packs work per 128-bit lane, the permute
           puts the lanes' halves in order. */
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(numpy_nan, numpy_nan), 0x08);
        __m256i mask = _mm256_permute4x64_epi64(_mm256_packs_epi32(nan, nan), 0x08);
        return _mm_blendv_epi8(h, _mm256_castsi256_si128(packed), _mm256_castsi256_si128(mask));
    }

    /* Whether any of 16 halves is a NaN: its magnitude above inf's (0x7c00), a signed 16-bit
       compare, as magnitudes are at most 0x7fff. */
    static CPOOL_F16C_TARGET inline int cpool_any_nan16(__m256i h) {
        return _mm256_movemask_epi8(_mm256_cmpgt_epi16(
            _mm256_and_si256(h, _mm256_set1_epi16(0x7fff)), _mm256_set1_epi16(0x7c00))) != 0;
    }

    /* 16 halves a step: where none is a NaN (nearly always), F16C's conversion alone, which
       gives NumPy's bits for every other half. cpool_widen8's NaN rebuild on every step made
       widening compute-bound: 3.2 million halves into a slab that stays in L2 took 0.55 ms
       at one thread with it, 0.37 ms with this test. */
    static CPOOL_F16C_TARGET void cpool_widen_f16c(const uint16_t *src, float *dst, Py_ssize_t n) {
        Py_ssize_t i = 0;
        for (; i + 16 <= n; i += 16) {
            _mm_prefetch((const char *)(src + i) + 1024, _MM_HINT_T0);
            __m256i h = _mm256_loadu_si256((const __m256i *)(src + i));
            __m128i low = _mm256_castsi256_si128(h), high = _mm256_extracti128_si256(h, 1);
            if (__builtin_expect(cpool_any_nan16(h), 0)) {
                _mm256_storeu_ps(dst + i, cpool_widen8(low));
                _mm256_storeu_ps(dst + i + 8, cpool_widen8(high));
            } else {
                _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(low));
                _mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(high));
            }
        }
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst + i, cpool_widen8(_mm_loadu_si128((const __m128i *)(src + i))));
        if (i < n) {  /* the last 1-7 values through a vector's worth of padding */
            uint16_t h[8] = {0};
            float f[8];
            memcpy(h, src + i, (size_t)(n - i) * sizeof h[0]);
            _mm256_storeu_ps(f, cpool_widen8(_mm_loadu_si128((const __m128i *)h)));
            memcpy(dst + i, f, (size_t)(n - i) * sizeof f[0]);
        }
    }

    static CPOOL_F16C_TARGET void cpool_narrow_f16c(const float *src, uint16_t *dst, Py_ssize_t n) {
        Py_ssize_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 f = _mm256_loadu_ps(src + i);
            /* F16C's conversion alone where no value is a NaN, as in widening: 131,072
               floats in L2 took 29 us with the NaN rebuild on every step, 8 us with this. */
            __m128i h = __builtin_expect(
                _mm256_movemask_ps(_mm256_cmp_ps(f, f, _CMP_UNORD_Q)) != 0, 0)
                ? cpool_narrow8(f) : _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT);
            _mm_storeu_si128((__m128i *)(dst + i), h);
        }
        if (i < n) {
            float f[8] = {0};
            uint16_t h[8];
            memcpy(f, src + i, (size_t)(n - i) * sizeof f[0]);
            _mm_storeu_si128((__m128i *)h, cpool_narrow8(_mm256_loadu_ps(f)));
            memcpy(dst + i, h, (size_t)(n - i) * sizeof h[0]);
        }
    }

    /* src (B, R, S) into dst (B, S, R), 4-byte items, in tiles of 32 x 32 of 8 x 8 blocks,
       each transposed in registers (the classic unpack / shuffle / permute network; moves
       only, so every bit pattern, NaN payloads included, comes through); the tiles' edges
       item by item. */
    static CPOOL_F16C_TARGET inline void cpool_block8x8(const uint32_t *s, Py_ssize_t ss,
                                                        uint32_t *d, Py_ssize_t ds) {
        __m256 r0 = _mm256_loadu_ps((const float *)(s)), r1 = _mm256_loadu_ps((const float *)(s + ss));
        __m256 r2 = _mm256_loadu_ps((const float *)(s + 2 * ss)), r3 = _mm256_loadu_ps((const float *)(s + 3 * ss));
        __m256 r4 = _mm256_loadu_ps((const float *)(s + 4 * ss)), r5 = _mm256_loadu_ps((const float *)(s + 5 * ss));
        __m256 r6 = _mm256_loadu_ps((const float *)(s + 6 * ss)), r7 = _mm256_loadu_ps((const float *)(s + 7 * ss));
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
        __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
        __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
        __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
        __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
        __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
        __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
        __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
        __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
        __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
        _mm256_storeu_ps((float *)(d), _mm256_permute2f128_ps(u0, u4, 0x20));
        _mm256_storeu_ps((float *)(d + ds), _mm256_permute2f128_ps(u1, u5, 0x20));
        _mm256_storeu_ps((float *)(d + 2 * ds), _mm256_permute2f128_ps(u2, u6, 0x20));
        _mm256_storeu_ps((float *)(d + 3 * ds), _mm256_permute2f128_ps(u3, u7, 0x20));
        _mm256_storeu_ps((float *)(d + 4 * ds), _mm256_permute2f128_ps(u0, u4, 0x31));
        _mm256_storeu_ps((float *)(d + 5 * ds), _mm256_permute2f128_ps(u1, u5, 0x31));
        _mm256_storeu_ps((float *)(d + 6 * ds), _mm256_permute2f128_ps(u2, u6, 0x31));
        _mm256_storeu_ps((float *)(d + 7 * ds), _mm256_permute2f128_ps(u3, u7, 0x31));
    }

    /* One tile (CPOOL_TILE a side) of 4-byte items: its 8 x 8 blocks in registers, then
       the columns past the last full block and the rows below it item by item. */
    static CPOOL_F16C_TARGET inline void cpool_tile32_avx2(const uint32_t *s, uint32_t *d,
                                                           Py_ssize_t ss, Py_ssize_t ds,
                                                           Py_ssize_t i0, Py_ssize_t i1,
                                                           Py_ssize_t j0, Py_ssize_t j1) {
        Py_ssize_t i_end = i0 + (i1 - i0) / 8 * 8, j_end = j0 + (j1 - j0) / 8 * 8;
        for (Py_ssize_t i = i0; i < i_end; i += 8)
            for (Py_ssize_t j = j0; j < j_end; j += 8)
                cpool_block8x8(s + i * ss + j, ss, d + j * ds + i, ds);
        cpool_tile_uint32_t(s, d, ss, ds, i0, i1, j_end, j1);
        cpool_tile_uint32_t(s, d, ss, ds, i_end, i1, j0, j_end);
    }
    CPOOL_TRANSPOSE(CPOOL_F16C_TARGET, cpool_transpose32_avx2, uint32_t, cpool_tile32_avx2)

    /* n bytes of items of `size` bytes (2, 4 or 8) with each item's bytes reversed, 32 bytes
       a step by one byte shuffle, the source prefetched 1 KB ahead (as in widening: between
       kernel calls the hardware prefetcher falls behind). Returns the bytes done: a multiple
       of 32. */
    static CPOOL_F16C_TARGET Py_ssize_t cpool_swap_avx2(const uint8_t *src, uint8_t *dst,
                                                        Py_ssize_t n, int size) {
        __m256i order = size == 2 ? _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12,
                                                      15, 14, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11,
                                                      10, 13, 12, 15, 14)
                      : size == 4 ? _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14,
                                                      13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9,
                                                      8, 15, 14, 13, 12)
                      : _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8,
                                         7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
        Py_ssize_t i = 0;
        for (; i + 32 <= n; i += 32) {
            _mm_prefetch((const char *)(src + i) + 1024, _MM_HINT_T0);
            _mm256_storeu_si256((__m256i *)(dst + i),
                                _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(src + i)),
                                                    order));
        }
        return i;
    }

    /* __builtin_cpu_supports also checks that the OS saves the AVX registers (XGETBV). */
    static int cpool_f16c_usable(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
    }
    #else
    #define CPOOL_F16C_BUILT 0
    static void cpool_widen_f16c(const uint16_t *src, float *dst, Py_ssize_t n) {}
    static void cpool_narrow_f16c(const float *src, uint16_t *dst, Py_ssize_t n) {}
    static int cpool_f16c_usable(void) { return 0; }
    static void cpool_transpose32_avx2(const uint32_t *src, uint32_t *dst, Py_ssize_t B,
                                       Py_ssize_t R, Py_ssize_t S, Py_ssize_t sb,
                                       Py_ssize_t ss, Py_ssize_t db, Py_ssize_t ds,
                                       int threads) {}
    static Py_ssize_t cpool_swap_avx2(const uint8_t *src, uint8_t *dst, Py_ssize_t n,
                                      int size) { return 0; }
    #endif

    /* Items of another byte order into the native one: n bytes of items of `size` bytes,
       each item's bytes reversed (by AVX2 shuffles with `simd`, the rest item by item: loads
       and stores by memcpy, as an item of the source need not be aligned, and a byte
       reversal compilers turn into one instruction). */
    #define CPOOL_SWAP_ITEMS(T, REVERSE)                                                     \
    static void cpool_swap_##T(const uint8_t *src, uint8_t *dst, Py_ssize_t n) {            \
        T v;                                                                                 \
        for (Py_ssize_t i = 0; i + (Py_ssize_t)sizeof v <= n; i += sizeof v) {               \
            memcpy(&v, src + i, sizeof v);                                                   \
            v = REVERSE(v);                                                                  \
            memcpy(dst + i, &v, sizeof v);                                                   \
        }                                                                                    \
    }
    #define CPOOL_REVERSE16(v) ((uint16_t)(((v) >> 8) | ((v) << 8)))
    #define CPOOL_REVERSE32(v) (((v) >> 24) | (((v) >> 8) & 0xff00u) | (((v) << 8) & 0xff0000u) \
                                | ((v) << 24))
    #define CPOOL_REVERSE64(v) (((uint64_t)CPOOL_REVERSE32((uint32_t)(v)) << 32)              \
                                | CPOOL_REVERSE32((uint32_t)((v) >> 32)))
    CPOOL_SWAP_ITEMS(uint16_t, CPOOL_REVERSE16)
    CPOOL_SWAP_ITEMS(uint32_t, CPOOL_REVERSE32)
    CPOOL_SWAP_ITEMS(uint64_t, CPOOL_REVERSE64)
    static void cpool_swap_run(const uint8_t *src, uint8_t *dst, Py_ssize_t n, int size,
                               int simd) {
        Py_ssize_t i = simd ? cpool_swap_avx2(src, dst, n, size) : 0;
        if (size == 2)
            cpool_swap_uint16_t(src + i, dst + i, n - i);
        else if (size == 4)
            cpool_swap_uint32_t(src + i, dst + i, n - i);
        else
            cpool_swap_uint64_t(src + i, dst + i, n - i);
    }
    /* Where run c of `runs` over n items starts (c == runs: where the last ends), each run a
       whole number of steps of `step` items but the last: the split of every conversion
       below over the call's threads. */
    static inline Py_ssize_t cpool_run_start(Py_ssize_t n, Py_ssize_t step, Py_ssize_t c,
                                             Py_ssize_t runs) {
        return c == runs ? n : n / step * c / runs * step;
    }

    /* ... as `threads` runs, one a thread, each of whole 32-byte steps but the last. */
    static void cpool_swap_runs(const uint8_t *src, uint8_t *dst, Py_ssize_t n, int size,
                                int simd, int threads) {
        Py_ssize_t c, runs = threads > 1 ? threads : 1;
        if (runs == 1) {
            cpool_swap_run(src, dst, n, size, simd);
            return;
        }
        CPOOL_OMP_FOR
        for (c = 0; c < runs; c++) {
            Py_ssize_t lo = cpool_run_start(n, 32, c, runs);
            cpool_swap_run(src + lo, dst + lo, cpool_run_start(n, 32, c + 1, runs) - lo, size,
                           simd);
        }
    }

    /* A conversion of n values as `threads` runs, one a thread, each a whole number of
       vectors but the last. */
    #define CPOOL_IN_RUNS(NAME, CONVERT, FROM, TO)                                           \
    static void NAME(const FROM *src, TO *dst, Py_ssize_t n, int threads) {                  \
        Py_ssize_t c, runs = threads > 1 ? threads : 1;                                      \
        if (runs == 1) {                                                                     \
            CONVERT(src, dst, n);                                                            \
            return;                                                                          \
        }                                                                                    \
        CPOOL_OMP_FOR                                                                        \
        for (c = 0; c < runs; c++) {                                                         \
            Py_ssize_t lo = cpool_run_start(n, 8, c, runs);                                  \
            CONVERT(src + lo, dst + lo, cpool_run_start(n, 8, c + 1, runs) - lo);            \
        }                                                                                    \
    }
    CPOOL_IN_RUNS(cpool_widen_runs, cpool_widen_f16c, uint16_t, float)
    CPOOL_IN_RUNS(cpool_narrow_runs, cpool_narrow_f16c, float, uint16_t)
    """
    void cpool_widen_runs(const uint16_t* src, float* dst, Py_ssize_t n,
                          int threads) noexcept nogil
    void cpool_narrow_runs(const float* src, uint16_t* dst, Py_ssize_t n,
                           int threads) noexcept nogil
    int cpool_f16c_usable() noexcept nogil
    void cpool_swap_runs(const uint8_t* src, uint8_t* dst, Py_ssize_t n, int size, int simd,
                         int threads) noexcept nogil
    void cpool_transpose32_avx2(const uint32_t* src, uint32_t* dst, Py_ssize_t B, Py_ssize_t R,
        Py_ssize_t S, Py_ssize_t sb, Py_ssize_t ss, Py_ssize_t db, Py_ssize_t ds,
        int threads) noexcept nogil
    void cpool_transpose_uint8_t(const uint8_t* src, uint8_t* dst, Py_ssize_t B, Py_ssize_t R,
        Py_ssize_t S, Py_ssize_t sb, Py_ssize_t ss, Py_ssize_t db, Py_ssize_t ds,
        int threads) noexcept nogil
    void cpool_transpose_uint16_t(const uint16_t* src, uint16_t* dst, Py_ssize_t B, Py_ssize_t R,
        Py_ssize_t S, Py_ssize_t sb, Py_ssize_t ss, Py_ssize_t db, Py_ssize_t ds,
        int threads) noexcept nogil
    void cpool_transpose_uint32_t(const uint32_t* src, uint32_t* dst, Py_ssize_t B, Py_ssize_t R,
        Py_ssize_t S, Py_ssize_t sb, Py_ssize_t ss, Py_ssize_t db, Py_ssize_t ds,
        int threads) noexcept nogil
    void cpool_transpose_uint64_t(const uint64_t* src, uint64_t* dst, Py_ssize_t B, Py_ssize_t R,
        Py_ssize_t S, Py_ssize_t sb, Py_ssize_t ss, Py_ssize_t db, Py_ssize_t ds,
        int threads) noexcept nogil


#: Whether the conversions below can run here (built with F16C, on a CPU with F16C and AVX2).
f16c_usable = bool(cpool_f16c_usable())


def widen(const uint16_t[::1] src, float[::1] dst, int threads=1):
    """float16 values (their bits, as uint16) into float32 ``dst`` of the same length, on
    ``threads`` threads."""
    if not f16c_usable:
        raise RuntimeError("cpool._kernels._convert: F16C is not usable here")
    if dst.shape[0] != src.shape[0]:
        raise ValueError(f"widen: {src.shape[0]} values into {dst.shape[0]}")
    with nogil:
        cpool_widen_runs(&src[0] if src.shape[0] else NULL,
                         &dst[0] if dst.shape[0] else NULL, src.shape[0], threads)


def narrow(const float[::1] src, uint16_t[::1] dst, int threads=1):
    """float32 values into float16 ``dst`` (its bits, as uint16) of the same length, on
    ``threads`` threads."""
    if not f16c_usable:
        raise RuntimeError("cpool._kernels._convert: F16C is not usable here")
    if dst.shape[0] != src.shape[0]:
        raise ValueError(f"narrow: {src.shape[0]} values into {dst.shape[0]}")
    with nogil:
        cpool_narrow_runs(&src[0] if src.shape[0] else NULL,
                          &dst[0] if dst.shape[0] else NULL, src.shape[0], threads)


def swap_bytes(const uint8_t[::1] src, uint8_t[::1] dst, int size, int threads=1):
    """The bytes of items of ``size`` bytes (2, 4 or 8) of another byte order into ``dst``
    (as many bytes), each item's bytes reversed: a byte-swapped input into the native order,
    on ``threads`` threads (NumPy's cast runs on one), by AVX2 shuffles where
    ``f16c_usable``."""
    if size not in (2, 4, 8):
        raise ValueError(f"swap_bytes: items of {size} bytes")
    if dst.shape[0] != src.shape[0] or src.shape[0] % size:
        raise ValueError(f"swap_bytes: {src.shape[0]} bytes into {dst.shape[0]}, items of "
                         f"{size}")
    cdef bint simd = f16c_usable  # AVX2, and F16C beside it
    if src.shape[0] == 0:
        return
    with nogil:
        cpool_swap_runs(&src[0], &dst[0], src.shape[0], size, simd, threads)


ctypedef fused item:
    uint8_t
    uint16_t
    uint32_t
    uint64_t


def transpose(const item[::view.strided, ::view.strided, ::view.contiguous] src,
              item[::view.strided, ::view.strided, ::view.contiguous] dst, int threads=1):
    """``src`` (B, R, S) into ``dst`` (B, S, R), items of 1-8 bytes (as the unsigned integers
    of their size), on ``threads`` threads. The last axes are contiguous; the other two are
    any whole number of items apart (a C-ordered batch, or matrices and rows of a larger
    array's view). ``dst``'s matrices must not overlap each other or ``src``."""
    cdef Py_ssize_t B = src.shape[0], R = src.shape[1], S = src.shape[2]
    cdef Py_ssize_t size = sizeof(item)
    cdef bint simd = f16c_usable  # AVX2, and F16C beside it
    if dst.shape[0] != B or dst.shape[1] != S or dst.shape[2] != R:
        raise ValueError(f"transpose: ({B}, {R}, {S}) into ({dst.shape[0]}, {dst.shape[1]}, "
                         f"{dst.shape[2]})")
    if (src.strides[0] % size or src.strides[1] % size or dst.strides[0] % size
            or dst.strides[1] % size):
        raise ValueError("transpose: strides that are not whole items")
    if B * R * S == 0:
        return
    cdef Py_ssize_t sb = src.strides[0] // size, ss = src.strides[1] // size
    cdef Py_ssize_t db = dst.strides[0] // size, ds = dst.strides[1] // size
    with nogil:
        if item is uint8_t:
            cpool_transpose_uint8_t(&src[0, 0, 0], &dst[0, 0, 0], B, R, S, sb, ss, db, ds,
                                    threads)
        elif item is uint16_t:
            cpool_transpose_uint16_t(&src[0, 0, 0], &dst[0, 0, 0], B, R, S, sb, ss, db, ds,
                                     threads)
        elif item is uint32_t:
            if simd:
                cpool_transpose32_avx2(&src[0, 0, 0], &dst[0, 0, 0], B, R, S, sb, ss, db, ds,
                                       threads)
            else:
                cpool_transpose_uint32_t(&src[0, 0, 0], &dst[0, 0, 0], B, R, S, sb, ss, db,
                                         ds, threads)
        else:
            cpool_transpose_uint64_t(&src[0, 0, 0], &dst[0, 0, 0], B, R, S, sb, ss, db, ds,
                                     threads)

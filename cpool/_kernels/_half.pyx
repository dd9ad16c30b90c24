"""float16 <-> float32 conversions at memory speed, with NumPy's bits.

Why: float16 input is pooled in float32 (the kernels have no float16 arithmetic, nor has
PyTorch's CPU pooling: it computes in float and rounds), so every float16 call converts its
input to float32 and its result back. NumPy's casts between them run a value at a time (about
3 ns a value here): on (32, 256, 56, 56) the input's conversion alone took 74 ms, where the
float32 max pooling takes 9 ms.

How: the F16C instructions convert 8 values at a time (``vcvtph2ps``, and ``vcvtps2ph`` with
round-to-nearest-even taken from the instruction, not the MXCSR). Their results are NumPy's
(``npy_halfbits_to_floatbits``, ``npy_floatbits_to_halfbits``) for every value but a NaN: F16C
quiets a signalling NaN, NumPy keeps its payload's bits (shifted; a half whose payload bits
would all be shifted out becomes 0x7c01, still a NaN). NaN lanes are therefore rebuilt by
NumPy's rule from the integer bits and blended in. Widening is exact for every half;
narrowing rounds to nearest even, to inf past float16's range, and to signed zero or a
subnormal half below it, as NumPy does (tests/test_half.py checks every half, and bit
patterns of every float32 exponent).

Compiled once, at the baseline's flags: the two functions carry their own target attribute
and run only where the CPU has F16C and AVX2 (``usable``); elsewhere (other compilers or
architectures) the callers keep NumPy's casts.
"""
from libc.stdint cimport uint16_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
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

    static CPOOL_F16C_TARGET void cpool_widen_f16c(const uint16_t *src, float *dst, Py_ssize_t n) {
        Py_ssize_t i = 0;
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
        for (; i + 8 <= n; i += 8)
            _mm_storeu_si128((__m128i *)(dst + i), cpool_narrow8(_mm256_loadu_ps(src + i)));
        if (i < n) {
            float f[8] = {0};
            uint16_t h[8];
            memcpy(f, src + i, (size_t)(n - i) * sizeof f[0]);
            _mm_storeu_si128((__m128i *)h, cpool_narrow8(_mm256_loadu_ps(f)));
            memcpy(dst + i, h, (size_t)(n - i) * sizeof h[0]);
        }
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
    #endif
    """
    void cpool_widen_f16c(const uint16_t* src, float* dst, Py_ssize_t n) noexcept nogil
    void cpool_narrow_f16c(const float* src, uint16_t* dst, Py_ssize_t n) noexcept nogil
    int cpool_f16c_usable() noexcept nogil


#: Whether the conversions below can run here (built with F16C, on a CPU with F16C and AVX2).
usable = bool(cpool_f16c_usable())


def widen(const uint16_t[::1] src, float[::1] dst):
    """float16 values (their bits, as uint16) into float32 ``dst`` of the same length."""
    if not usable:
        raise RuntimeError("cpool._kernels._half: F16C is not usable here")
    if dst.shape[0] != src.shape[0]:
        raise ValueError(f"widen: {src.shape[0]} values into {dst.shape[0]}")
    with nogil:
        cpool_widen_f16c(&src[0] if src.shape[0] else NULL,
                         &dst[0] if dst.shape[0] else NULL, src.shape[0])


def narrow(const float[::1] src, uint16_t[::1] dst):
    """float32 values into float16 ``dst`` (its bits, as uint16) of the same length."""
    if not usable:
        raise RuntimeError("cpool._kernels._half: F16C is not usable here")
    if dst.shape[0] != src.shape[0]:
        raise ValueError(f"narrow: {src.shape[0]} values into {dst.shape[0]}")
    with nogil:
        cpool_narrow_f16c(&src[0] if src.shape[0] else NULL,
                          &dst[0] if dst.shape[0] else NULL, src.shape[0])

# float32 powers x ** p for LP pooling and its gradient, with the rules of PyTorch's (and C's)
# pow, in one pass over the values. NumPy's float32 `power` calls the scalar `powf` per value
# (10 ns a value on the 2-core machine, more on a negative or zero base), and LP pooling's
# patches for pow's slow bases took ten more NumPy passes: half of an LP pooling call with
# p = 1.5. Here GCC vectorises the whole loop (4 doubles a vector with AVX2, 2 with SSE2).
#
# How: |x| ** p = 2 ** (p * log2|x|) in double precision. log2 of the mantissa m, reduced to
# [sqrt(1/2), sqrt(2)), is 2 atanh(t) / ln 2 with t = (m - 1) / (m + 1), |t| < 0.172, by its
# series to t ** 21 (truncation below 1e-17); 2 ** z splits z into an integer k (the scale's
# exponent bits) and f in [-1/2, 1/2], whose exp(f ln 2) is its Taylor series to degree 12
# (below 2e-16). Both polynomials are evaluated by Estrin's scheme, which halves their
# dependency chains against Horner's. The double result's relative error is ~1e-14 for every
# float32 result (|z| <= 150), so its rounding to float32 is the correctly rounded power
# but where the exact power lies within ~1e-14 of a float32 rounding boundary: measured
# on 16.8 M random bases against `powl` in long double, 0-33 results differ by 1 ulp,
# where glibc's powf (what NumPy called) differs on ~10,600. Within 1 ulp of PyTorch's
# (Sleef's 1-ulp pow), as the tests check.
#
# p = 1.5, 2.5 and 3.5 (an integer and a half), the integers 4 to 8 and 1/4 take a few IEEE
# operations in double instead (sqrt|x| * |x| ** k, products, sqrt(sqrt|x|)): closer still to
# the exact power (within 2 double ulps), at a quarter of the time or less
# (cpool_powf_exact_run).
#
# p = 2, 3 and -2 are PyTorch's products in float32 (x * x * x), the same bits as its pow.
#
# Special bases take pow's results after the fact, lane by lane with selects: +-0 gives 0
# (p > 0) or inf (p < 0), +-inf the reverse; NaN, and a finite negative base (not -0) with a p
# that is not an integer, give x86's default NaN (0xffc00000, what the C pow returns for
# them); an odd integer p gives the result the base's sign (-0 and -inf included). p == 0
# gives 1 everywhere, NaN too (pow(x, 0) = 1). Compiled without FMA contraction (no -mfma, no
# -ffast-math), so the baseline and AVX2 builds compute the same bits.


cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    #define CPOOL_POW_BLOCK 256
    #define CPOOL_2_LN2 2.8853900817779268 /* 2 / ln 2 */
    /* The powers that a few IEEE operations in double give, and their kind (0: none):
       1: p = k + 1/2, k = 1, 2, 3 (1.5, 2.5, 3.5): sqrt|x| * |x| ** k;
       2: p = k, an integer from 4 to 8: x ** k by squarings, d2 = x * x exact, d4 = d2 * d2,
          then d4 * d4 (8), d4 * d2 (6, 7), and one more * x for odd k (the base's sign);
       3: p = 1/4 (LP pooling's root for p = 4): sqrt(sqrt|x|).
       The double result lies within 2 ulp (of double) of the power (at most four roundings
       of half an ulp: 3.5's square root and three products), so its rounding to float32 is
       the correctly rounded power but within ~5e-16 of a rounding boundary, against ~1e-14
       for the log and exp below, at a quarter of their time or less (LP pooling with
       p = 1.5: its input's powers). p = 2 and 3 take PyTorch's float32 products before
       (cpool_powf_products_run). */
    static int cpool_powf_exact_kind(double p) {
        if (p > 1 && p < 4 && floor(p) != p && floor(2 * p) == 2 * p) return 1;
        if (p >= 4 && p <= 8 && floor(p) == p) return 2;
        return p == 0.25 ? 3 : 0;
    }
    /* The bits of the power r of |x| (x's bits ix) by pow's sign and NaN rules: x's sign for
       an ``odd`` integer p, x86's default NaN for NaN and, unless p is ``whole``, for finite
       negative bases. Both paths below end with it (the zeros and infinities of +-0 and +-inf
       are their own: the exact powers' sqrt and products give them). */
    static inline uint32_t cpool_powf_rules(float r, uint32_t ix, int whole, int odd) {
        uint32_t ia = ix & 0x7fffffffu, ir;
        memcpy(&ir, &r, 4);
        ir |= ((uint32_t)odd & (ix >> 31)) << 31;
        return ((ia > 0x7f800000u) | (!whole & (int)(ix >> 31) & (ia != 0) & (ia < 0x7f800000u)))
               ? 0xffc00000u : ir;
    }
    static inline double cpool_powf_abs(const float* x, Py_ssize_t i, uint32_t* ix) {
        uint32_t ia;
        float a;
        memcpy(ix, &x[i], 4);
        ia = *ix & 0x7fffffffu;
        memcpy(&a, &ia, 4);
        return a;
    }
    /* cpool_powf_exact_kind's powers, a loop of each kind (one loop testing the kind in its
       body did not vectorise: 1.5x the log and exp's time). */
    static void cpool_powf_exact_run(const float* x, float* out, Py_ssize_t n, double p,
                                     int kind) {
        const int k = (int)floor(p), odd = kind == 2 && (k & 1);
        Py_ssize_t i;
        uint32_t ix, ir;
        double d, d2, d4, q;
        if (kind == 1) {
            for (i = 0; i < n; i++) {
                d = cpool_powf_abs(x, i, &ix);
                q = sqrt(d) * d;
                q = k >= 2 ? q * d : q;
                q = k >= 3 ? q * d : q;
                ir = cpool_powf_rules((float)q, ix, 0, 0);
                memcpy(&out[i], &ir, 4);
            }
        } else if (kind == 2) {
            for (i = 0; i < n; i++) {
                d = cpool_powf_abs(x, i, &ix);
                d2 = d * d;
                d4 = d2 * d2;
                q = k == 8 ? d4 * d4 : k >= 6 ? d4 * d2 : d4;
                q = odd ? q * d : q;
                ir = cpool_powf_rules((float)q, ix, 1, odd);
                memcpy(&out[i], &ir, 4);
            }
        } else {
            for (i = 0; i < n; i++) {
                d = cpool_powf_abs(x, i, &ix);
                ir = cpool_powf_rules((float)sqrt(sqrt(d)), ix, 0, 0);
                memcpy(&out[i], &ir, 4);
            }
        }
    }
    /* PyTorch's float32 products (and NumPy's): x * x (p = 2), (x * x) * x (3), 1 / (x * x)
       (-2), the same operations in float, so the same bits, NaN payloads included. One pass
       on the call's threads, where NumPy took two (p = 3) on one. Read and written by
       memcpy, as everywhere here: an array's floats need not be 4-byte aligned (a view at a
       byte offset), and a plain load of one is undefined behaviour. */
    static void cpool_powf_products_run(const float* x, float* out, Py_ssize_t n, int k) {
        Py_ssize_t i;
        float a, r;
        if (k == 3) {
            for (i = 0; i < n; i++) {
                memcpy(&a, &x[i], 4);
                r = (a * a) * a;
                memcpy(&out[i], &r, 4);
            }
        } else if (k == 2) {
            for (i = 0; i < n; i++) {
                memcpy(&a, &x[i], 4);
                r = a * a;
                memcpy(&out[i], &r, 4);
            }
        } else {
            for (i = 0; i < n; i++) {
                memcpy(&a, &x[i], 4);
                r = 1.0f / (a * a);
                memcpy(&out[i], &r, 4);
            }
        }
    }
    static void cpool_powf_run(const float* x, float* out, Py_ssize_t n, double p) {
        const float zero_result = p > 0 ? 0.0f : INFINITY, inf_result = p > 0 ? INFINITY : 0.0f;
        /* p an integer (a negative base keeps its power), an odd one (and its sign) */
        const int whole = floor(p) == p, odd = whole && fmod(p, 2) != 0;
        double zs[CPOOL_POW_BLOCK];
        Py_ssize_t start, i, nb;
        if (p == 0) {  /* pow(x, 0) = 1, NaN too */
            const float one = 1.0f;
            for (i = 0; i < n; i++) memcpy(&out[i], &one, 4);
            return;
        }
        if (p == 2 || p == 3 || p == -2) {
            cpool_powf_products_run(x, out, n, (int)p);
            return;
        }
        if (cpool_powf_exact_kind(p)) {
            cpool_powf_exact_run(x, out, n, p, cpool_powf_exact_kind(p));
            return;
        }
        /* Blocks of CPOOL_POW_BLOCK values in two loops, z = p * log2|x| into zs, then the
           powers: one loop of both held ~230 instructions an iteration, longer than the
           processor's window of instructions in flight. In place (out == x) is allowed: the
           second loop reads x[i] before it writes out[i]. */
        for (start = 0; start < n; start += CPOOL_POW_BLOCK) {
            const float* xs = x + start;
            float* os = out + start;
            nb = n - start < CPOOL_POW_BLOCK ? n - start : CPOOL_POW_BLOCK;
            for (i = 0; i < nb; i++) {
                uint32_t ix, ia, is, im;
                float a, as, mf;
                int32_t e;
                int subnormal, high;
                double m, t, t2, t4, t8, s01, s23, s45, s67, s89, s03, s47, s810, s, z;
                memcpy(&ix, &xs[i], 4);
                ia = ix & 0x7fffffffu;
                memcpy(&a, &ia, 4);
                subnormal = ia < 0x00800000u;  /* scaled by 2^23 into the normal range */
                as = subnormal ? a * 8388608.0f : a;
                memcpy(&is, &as, 4);
                e = (int32_t)(is >> 23) - (subnormal ? 150 : 127);
                im = (is & 0x007fffffu) | 0x3f800000u;  /* the mantissa m in [1, 2) */
                high = im > 0x3fb504f3u;  /* m > sqrt(2): m / 2, e + 1 */
                im = high ? im - 0x00800000u : im;
                e += high;
                memcpy(&mf, &im, 4);
                m = mf;
                t = (m - 1.0) / (m + 1.0);
                t2 = t * t;
                t4 = t2 * t2;
                t8 = t4 * t4;
                /* log2(m) = t * sum_k (2 / ln 2) / (2k + 1) * t2^k, k = 0..10 */
                s01 = CPOOL_2_LN2 + t2 * (CPOOL_2_LN2 / 3);
                s23 = CPOOL_2_LN2 / 5 + t2 * (CPOOL_2_LN2 / 7);
                s45 = CPOOL_2_LN2 / 9 + t2 * (CPOOL_2_LN2 / 11);
                s67 = CPOOL_2_LN2 / 13 + t2 * (CPOOL_2_LN2 / 15);
                s89 = CPOOL_2_LN2 / 17 + t2 * (CPOOL_2_LN2 / 19);
                s03 = s01 + t4 * s23;
                s47 = s45 + t4 * s67;
                s810 = s89 + t4 * (CPOOL_2_LN2 / 21);
                s = s03 + t8 * (s47 + t8 * s810);
                z = p * ((double)e + t * s);
                /* float32 powers are 0 below 2^-150 and inf from 2^128; within +-300 the
                   scale 2^k stays a normal double */
                z = z > 300.0 ? 300.0 : z;
                z = z < -300.0 ? -300.0 : z;
                zs[i] = z;
            }
            for (i = 0; i < nb; i++) {
                uint32_t ix, ia, ir;
                uint64_t kbits, scale_bits;
                double z = zs[i], k, y, y2, y4, q01, q23, q45, q67, q89, q1011, q03, q47, q811;
                double q, scale;
                float r;
                /* k = z rounded to an integer (adding 1.5 * 2^52 rounds it into the low bits
                   of the sum's mantissa), f = z - k in [-1/2, 1/2] */
                k = z + 6755399441055744.0;
                memcpy(&kbits, &k, 8);
                k -= 6755399441055744.0;
                y = (z - k) * 0.69314718055994530942;
                y2 = y * y;
                y4 = y2 * y2;
                /* exp(y) = sum_j y^j / j!, j = 0..12 */
                q01 = 1.0 + y;
                q23 = 0.5 + y * (1.0 / 6);
                q45 = 1.0 / 24 + y * (1.0 / 120);
                q67 = 1.0 / 720 + y * (1.0 / 5040);
                q89 = 1.0 / 40320 + y * (1.0 / 362880);
                q1011 = 1.0 / 3628800 + y * (1.0 / 39916800);
                q03 = q01 + y2 * q23;
                q47 = q45 + y2 * q67;
                q811 = q89 + y2 * q1011;
                q = q03 + y4 * (q47 + y4 * (q811 + y4 * (1.0 / 479001600)));
                scale_bits = (kbits + 1023u) << 52;  /* 2^k: k's low bits, biased */
                memcpy(&scale, &scale_bits, 8);
                r = (float)(q * scale);
                memcpy(&ix, &xs[i], 4);
                ia = ix & 0x7fffffffu;
                r = ia == 0 ? zero_result : r;
                r = ia == 0x7f800000u ? inf_result : r;
                ir = cpool_powf_rules(r, ix, whole, odd);
                memcpy(&os[i], &ir, 4);
            }
        }
    }
    """
    void cpool_powf_run(const float* x, float* out, Py_ssize_t n, double p) noexcept nogil

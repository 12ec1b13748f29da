/*
 * test_kern.c - tests of the tensor types and kernels (src/engine/kern).
 *
 * 1. Format facts and hand-built blocks decoded as D.2 says (the reference checked against the
 *    spec, not only against itself).
 * 2. fp16/bf16 conversions exact on all 65536 values (and against the CPU's own F16C / AVX512-BF16
 *    conversions where present).
 * 3. Reference consistency: for every type, vec_dot(w, x) equals the float dot of the two
 *    dequantized rows (so dot and dequantize read the same layout).
 * 4. Round trip quantize -> dequantize: RMS error / RMS of the data below a per-type bound.
 * 5. Every fast table (avx2, avx512 when the CPU has them) against the scalar table: activation
 *    quantizers bit-exact, dequantize exact, vec_dot and mul_mat within a float-summation-order
 *    tolerance, over sizes 1..16 blocks and byte offsets 0..31 of both operands.
 */
#include "engine/kern/kern.h"

#include "harness/test.h"

#include <float.h>
#include <immintrin.h>

#include "common/mem.h"
#include "engine/kern/kern_int.h"

static const uint32_t all_wtypes[] = {
    KERN_T_F32,  KERN_T_F16,  KERN_T_BF16, KERN_T_Q4_0, KERN_T_Q4_1, KERN_T_Q5_0, KERN_T_Q5_1,
    KERN_T_Q8_0, KERN_T_Q2_K, KERN_T_Q3_K, KERN_T_Q4_K, KERN_T_Q5_K, KERN_T_Q6_K,
};
#define N_WTYPES (sizeof all_wtypes / sizeof all_wtypes[0])

struct rng {
    uint64_t s;
};

static uint32_t rng_u32(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 11);
}

/* Roughly normal(0, 1): sum of 4 uniforms, rescaled. */
static float rng_normal(struct rng *r)
{
    float s = 0.0f;
    for (int i = 0; i < 4; i++)
        s += (float)(rng_u32(r) & 0xffffff) / 16777216.0f - 0.5f;
    return s * 1.7320508f;
}

static void fill_normal(struct rng *r, float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_normal(r) * scale;
}

/* ---- 1. facts and hand-built blocks ---- */

TEST(kern_type_facts)
{
    ASSERT_EQ_INT(kern_type_block_elems(KERN_T_Q4_K), 256);
    ASSERT_EQ_INT(kern_type_block_bytes(KERN_T_Q4_K), 144);
    ASSERT_EQ_INT(kern_type_block_bytes(KERN_T_Q3_K), 110);
    ASSERT_EQ_INT(kern_type_block_bytes(KERN_T_Q6_K), 210);
    ASSERT_EQ_INT(kern_type_block_bytes(KERN_T_Q5_1), 24);
    ASSERT_EQ_SIZE(kern_row_bytes(KERN_T_Q8_0, 4096), 128 * 34);
    ASSERT_EQ_SIZE(kern_row_bytes(KERN_T_Q8_0, 33), 0);
    ASSERT_EQ_SIZE(kern_row_bytes(KERN_T_F16, 3), 6);
    ASSERT_EQ_SIZE(kern_row_bytes(99, 32), 0);
    ASSERT_EQ_SIZE(kern_row_bytes(KERN_T_Q4_0, -32), 0);
    ASSERT(kern_type_supported(KERN_T_Q6_K));
    ASSERT(!kern_type_supported(KERN_T_Q8_K));
    ASSERT(!kern_type_supported(16));
    const struct kern *k = kern_get(KERN_ISA_SCALAR);
    ASSERT(k != NULL);
    ASSERT_EQ_INT(k->vec_dot_type(KERN_T_Q4_0), KERN_T_Q8_0);
    ASSERT_EQ_INT(k->vec_dot_type(KERN_T_Q5_1), KERN_T_Q8_1);
    ASSERT_EQ_INT(k->vec_dot_type(KERN_T_Q3_K), KERN_T_Q8_K);
    ASSERT_EQ_INT(k->vec_dot_type(KERN_T_F16), KERN_T_F32);
    ASSERT(kern_get(KERN_ISA_BEST) != NULL);
    ASSERT(kern_quantize_weights(KERN_T_Q4_0, NULL, NULL, 31) < 0);
    ASSERT(kern_quantize_weights(77, NULL, NULL, 32) < 0);
}

TEST(kern_layout_q4_0_q5_0)
{
    const struct kern *k = kern_get(KERN_ISA_SCALAR);
    struct kern_bq4_0 b4 = {.d = 0x3c00}; /* 1.0 */
    for (int j = 0; j < 16; j++)
        b4.qs[j] = (uint8_t)(j | (15 - j) << 4);
    float y[32];
    k->dequantize_row(KERN_T_Q4_0, &b4, y, 32);
    for (int j = 0; j < 16; j++) {
        ASSERT_EQ_INT((int)y[j], j - 8);
        ASSERT_EQ_INT((int)y[j + 16], 7 - j);
    }
    struct kern_bq5_0 b5 = {.d = 0x4000}; /* 2.0 */
    memset(b5.qs, 0, 16);
    b5.qh[0] = 0x01; /* elem 0 gets bit 4 */
    b5.qh[2] = 0x02; /* elem 17 */
    k->dequantize_row(KERN_T_Q5_0, &b5, y, 32);
    ASSERT_EQ_INT((int)y[0], (16 - 16) * 2);
    ASSERT_EQ_INT((int)y[1], -32);
    ASSERT_EQ_INT((int)y[17], 0);
    ASSERT_EQ_INT((int)y[16], -32);
}

TEST(kern_layout_q4_k_q6_k)
{
    const struct kern *k = kern_get(KERN_ISA_SCALAR);
    struct kern_bq4_k b;
    memset(&b, 0, sizeof b);
    b.d = 0x3c00;
    b.dmin = 0x3c00;
    /* sub-block 0: sc 1, m 2; sub-block 5: sc = 3 | (1<<4) = 19, m = 4 | (2<<4) = 36 */
    b.scales[0] = 1;
    b.scales[4] = 2;
    b.scales[9] = 3 | 4 << 4;
    b.scales[1] |= 1 << 6;
    b.scales[5] |= 2 << 6;
    b.qs[0] =
        0x5a; /* elem 0 = low nibble 10 (sub-block 0), elem 32 = high nibble 5 (sub-block 1) */
    b.qs[64 + 3] = 0x70; /* elem 128+32+3 = high nibble 7 of chunk 2 = sub-block 5 */
    float y[256];
    k->dequantize_row(KERN_T_Q4_K, &b, y, 256);
    ASSERT_NEAR(y[0], 1 * 10 - 2, 0);
    ASSERT_NEAR(y[1], -2, 0);
    ASSERT_NEAR(y[160 + 3], 19 * 7 - 36, 0);
    ASSERT_NEAR(y[160 + 4], -36, 0);

    struct kern_bq6_k c;
    memset(&c, 0, sizeof c);
    c.d = 0x3c00;
    for (int j = 0; j < 16; j++)
        c.scales[j] = (int8_t)(j - 8);
    c.ql[0] = 0x3f;        /* elem 0 low 4 bits 15, elem 64 low 4 bits 3 */
    c.qh[0] = 0x02 | 0x30; /* elem 0 high bits 2 -> 47-32 = 15; elem 64 high 3 -> 51-32 = 19 */
    k->dequantize_row(KERN_T_Q6_K, &c, y, 256);
    ASSERT_NEAR(y[0], -8 * 15, 0);
    ASSERT_NEAR(y[64], (4 - 8) * 19, 0);
    ASSERT_NEAR(y[1], -8 * -32, 0);
}

/* ---- 2. fp16 / bf16 ---- */

__attribute__((target("f16c"))) static float hw_h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

__attribute__((target("f16c"))) static uint16_t hw_f2h(float f)
{
    return (uint16_t)_cvtss_sh(f, 0);
}

TEST(kern_fp16_exhaustive)
{
    int hw = __builtin_cpu_supports("f16c");
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kern_fp16_to_f32((uint16_t)h);
        int nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (hw) {
            float g = hw_h2f((uint16_t)h);
            if (nan)
                ASSERT(isnan(f) && isnan(g));
            else
                ASSERT(memcmp(&f, &g, 4) == 0);
        }
        if (nan)
            ASSERT((kern_f32_to_fp16(f) & 0x7e00) == 0x7e00);
        else
            ASSERT_EQ_INT(kern_f32_to_fp16(f), h);
        /* midpoints between h and the next value up (same sign) round to the even one */
        if (!nan && (h & 0x7fff) < 0x7bff) {
            float g = kern_fp16_to_f32((uint16_t)(h + 1));
            float mid = (float)(((double)f + (double)g) / 2.0);
            uint16_t want = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            ASSERT_EQ_INT(kern_f32_to_fp16(mid), want);
            if (hw)
                ASSERT_EQ_INT(hw_f2h(mid), want);
        }
    }
    if (hw) {
        struct rng r = {0x1234567};
        for (int i = 0; i < 2000000; i++) {
            uint32_t u = rng_u32(&r) ^ (rng_u32(&r) << 21);
            float f;
            memcpy(&f, &u, 4);
            if (isnan(f))
                continue;
            ASSERT_EQ_INT(kern_f32_to_fp16(f), hw_f2h(f));
        }
    }
}

__attribute__((target("avx512bf16,avx512vl,avx512f"))) static uint16_t hw_f2bf(float f)
{
    __m128bh v = _mm_cvtneps_pbh(_mm_set1_ps(f));
    uint16_t out;
    memcpy(&out, &v, 2);
    return out;
}

TEST(kern_bf16_exhaustive)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kern_bf16_to_f32((uint16_t)h);
        uint32_t u;
        memcpy(&u, &f, 4);
        ASSERT_EQ_INT(u, h << 16);
        if (!isnan(f))
            ASSERT_EQ_INT(kern_f32_to_bf16(f), h);
        /* the midpoint to the next value up rounds to even */
        if (!isnan(f) && (h & 0x7fff) < 0x7f7f) {
            uint32_t mu = (h << 16) | 0x8000;
            float mid;
            memcpy(&mid, &mu, 4);
            ASSERT_EQ_INT(kern_f32_to_bf16(mid), (h & 1) ? h + 1 : h);
        }
    }
    /* against the CPU's vcvtneps2bf16 (round to nearest even; it flushes denormal inputs) */
    if (__builtin_cpu_supports("avx512bf16")) {
        struct rng r = {0x99};
        for (int i = 0; i < 2000000; i++) {
            uint32_t u = rng_u32(&r) ^ (rng_u32(&r) << 21);
            float f;
            memcpy(&f, &u, 4);
            if (isnan(f) || fpclassify(f) == FP_SUBNORMAL)
                continue;
            ASSERT_EQ_INT(kern_f32_to_bf16(f), hw_f2bf(f));
        }
    }
}

/* ---- helpers for the property tests ---- */

static int64_t block_elems(uint32_t t)
{
    return kern_type_block_elems(t);
}

/* A weight row of type t and n elements quantized at dst (llama.cpp-reference quantizer). */
static void make_weights(struct rng *r, uint32_t t, int64_t n, float *tmp, void *dst)
{
    fill_normal(r, tmp, n, 0.05f);
    ASSERT_OK(kern_quantize_weights(t, tmp, dst, n));
}

static double abs_dot(const float *a, const float *b, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += fabs((double)a[i] * (double)b[i]);
    return s;
}

/* ---- 3. reference dot == dot of dequantized rows ---- */

TEST(kern_ref_dot_matches_dequant)
{
    const struct kern *k = kern_get(KERN_ISA_SCALAR);
    enum { N = 1024 };
    float *xw = mem_alloc(N * 4), *xa = mem_alloc(N * 4), *dw = mem_alloc(N * 4),
          *da = mem_alloc(N * 4);
    uint8_t *qw = mem_alloc(N * 4), *qa = mem_alloc(N * 8);
    struct rng r = {42};
    for (size_t ti = 0; ti < N_WTYPES; ti++) {
        uint32_t t = all_wtypes[ti], at = k->vec_dot_type(t);
        make_weights(&r, t, N, xw, qw);
        fill_normal(&r, xa, N, 1.0f);
        k->quantize_row(at, xa, qa, N);
        k->dequantize_row(t, qw, dw, N);
        k->dequantize_row(at, qa, da, N);
        double want = 0.0;
        for (int i = 0; i < N; i++)
            want += (double)dw[i] * (double)da[i];
        float got = k->vec_dot(t, N, qw, qa);
        /* Q8_1's s (d * sum q) is rounded to fp16, so Q4_1/Q5_1 carry an extra m*s rounding
         * of up to 2^-11 relative per block; the rest differ by float rounding only. */
        double tol = 2e-5 * abs_dot(dw, da, N) + 1e-6;
        if (t == KERN_T_Q4_1 || t == KERN_T_Q5_1)
            tol += 1e-3 * abs_dot(dw, da, N);
        if (fabs((double)got - want) > tol)
            TEST_FAIL_("type %u: dot %g, dequantized dot %g (tol %g)", t, (double)got, want, tol);
    }
    mem_free(xw);
    mem_free(xa);
    mem_free(dw);
    mem_free(da);
    mem_free(qw);
    mem_free(qa);
}

/* ---- 4. round trip ---- */

/* RMS(dequant(quant(x)) - x) / RMS(x) for normal data.  Expected: a uniform rounding error of
 * step/sqrt(12), step = (range of a block)/(levels - 1); for a normal block of 32 the max is
 * ~2.1 sigma (range ~4.2 sigma).  Bounds are ~1.3x the expected values:
 *   Q8_0 2.1/127/3.46 = 0.005 -> 0.007     Q4_0 2.1/7.5/3.46 = 0.08 (sign trick wastes a level)
 *   Q4_1 4.2/15/3.46 = 0.081 -> 0.11       Q5_0 0.04 -> 0.055     Q5_1 0.04 -> 0.055
 *   K types search the scale per 16/32 and do a bit better than the naive figure:
 *   Q2_K (4 levels) 0.35 -> 0.42   Q3_K (8 levels) 0.17 -> 0.22   Q4_K 0.075 -> 0.10
 *   Q5_K 0.037 -> 0.05   Q6_K 0.018 -> 0.025   F16 2^-11/sqrt(3)*... -> 4e-4   BF16 -> 3e-3 */
static double round_trip_bound(uint32_t t)
{
    switch (t) {
    case KERN_T_F32:
        return 0.0;
    case KERN_T_F16:
        return 4e-4;
    case KERN_T_BF16:
        return 3e-3;
    case KERN_T_Q8_0:
        return 0.007;
    case KERN_T_Q4_0:
        return 0.11;
    case KERN_T_Q4_1:
        return 0.11;
    case KERN_T_Q5_0:
        return 0.055;
    case KERN_T_Q5_1:
        return 0.055;
    case KERN_T_Q2_K:
        return 0.42;
    case KERN_T_Q3_K:
        return 0.22;
    case KERN_T_Q4_K:
        return 0.10;
    case KERN_T_Q5_K:
        return 0.05;
    case KERN_T_Q6_K:
        return 0.025;
    default:
        return 0.0;
    }
}

TEST(kern_round_trip_error)
{
    const struct kern *k = kern_get(KERN_ISA_SCALAR);
    enum { N = 8192 };
    float *x = mem_alloc(N * 4), *y = mem_alloc(N * 4);
    uint8_t *q = mem_alloc(N * 4);
    struct rng r = {7};
    fill_normal(&r, x, N, 0.02f);
    for (size_t ti = 0; ti < N_WTYPES; ti++) {
        uint32_t t = all_wtypes[ti];
        ASSERT_OK(kern_quantize_weights(t, x, q, N));
        k->dequantize_row(t, q, y, N);
        double se = 0.0, sx = 0.0;
        for (int i = 0; i < N; i++) {
            se += ((double)y[i] - (double)x[i]) * ((double)y[i] - (double)x[i]);
            sx += (double)x[i] * (double)x[i];
        }
        double rel = sqrt(se / sx);
        fprintf(stderr, "  round trip type %2u: rms rel err %.5f (bound %.5f)\n", t, rel,
                round_trip_bound(t));
        if (rel > round_trip_bound(t))
            TEST_FAIL_("type %u: relative rms error %g > %g", t, rel, round_trip_bound(t));
    }
    /* all-zero and constant blocks must not produce NaN */
    memset(x, 0, N * 4);
    for (size_t ti = 0; ti < N_WTYPES; ti++) {
        uint32_t t = all_wtypes[ti];
        ASSERT_OK(kern_quantize_weights(t, x, q, 256));
        k->dequantize_row(t, q, y, 256);
        for (int i = 0; i < 256; i++)
            ASSERT(y[i] == 0.0f);
    }
    mem_free(x);
    mem_free(y);
    mem_free(q);
}

/* Activation quantizers: Q8_0/Q8_1/Q8_K error bounds and Q8_K's bsums. */
TEST(kern_activation_quant)
{
    const struct kern *k = kern_get(KERN_ISA_SCALAR);
    enum { N = 4096 };
    float *x = mem_alloc(N * 4), *y = mem_alloc(N * 4);
    uint8_t *q = mem_alloc(N * 2);
    struct rng r = {3};
    fill_normal(&r, x, N, 3.0f);
    const uint32_t ts[] = {KERN_T_Q8_0, KERN_T_Q8_1, KERN_T_Q8_K};
    for (int i = 0; i < 3; i++) {
        k->quantize_row(ts[i], x, q, N);
        k->dequantize_row(ts[i], q, y, N);
        double se = 0.0, sx = 0.0;
        for (int j = 0; j < N; j++) {
            se += ((double)y[j] - (double)x[j]) * ((double)y[j] - (double)x[j]);
            sx += (double)x[j] * (double)x[j];
        }
        ASSERT(sqrt(se / sx) < 0.008);
    }
    const struct kern_bq8_k *b = (const struct kern_bq8_k *)q;
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int l = 0; l < 16; l++)
            s += b->qs[16 * j + l];
        ASSERT_EQ_INT(b->bsums[j], s);
    }
    mem_free(x);
    mem_free(y);
    mem_free(q);
}

/* ---- 5. fast tables against the scalar one ---- */

/* AVX2, AVX-512 and AMX (its small batches; test_kern_amx.c checks the tile products), each
 * without and with software prefetch in one-token products. */
#define N_FAST 6
static const struct kern *fast_tables(int i)
{
    static const enum kern_isa isa[3] = {KERN_ISA_AVX2, KERN_ISA_AVX512, KERN_ISA_AMX};
    setenv("CORRAL_PREFETCH", i >= 3 ? "1" : "0", 1);
    const struct kern *k = kern_get(isa[i % 3]);
    unsetenv("CORRAL_PREFETCH");
    return k;
}

/* Tolerance of a float dot computed in a different summation order: each partial sum is off by
 * at most (#terms) * eps * sum|terms|; with per-block integer sums the float terms are per block
 * (<= 16*8 here), for F32/F16/BF16 they are per element.  We allow n * 2^-23 * sum|terms|
 * (a safe over-estimate) plus a tiny absolute floor for all-cancelling rows. */
static double order_tol(const float *dw, const float *da, int64_t n)
{
    return (double)n * 1.2e-7 * abs_dot(dw, da, n) + 1e-7;
}

static void check_dot_one(const struct kern *fk, uint32_t t, int64_t n, const uint8_t *qw,
                          const uint8_t *qa, float *dw, float *da)
{
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    float want = rk->vec_dot(t, n, qw, qa);
    float got = fk->vec_dot(t, n, qw, qa);
    rk->dequantize_row(t, qw, dw, n);
    rk->dequantize_row(rk->vec_dot_type(t), qa, da, n);
    double tol = order_tol(dw, da, n);
    if (fabs((double)got - (double)want) > tol)
        TEST_FAIL_("%s type %u n %lld: %.9g vs ref %.9g (tol %g)", fk->name, t, (long long)n,
                   (double)got, (double)want, tol);
}

TEST(kern_fast_vec_dot_matches_ref)
{
    enum { MAXN = 16 * 256 };
    float *xw = mem_alloc(MAXN * 4), *xa = mem_alloc(MAXN * 4), *dw = mem_alloc(MAXN * 4),
          *da = mem_alloc(MAXN * 4);
    uint8_t *qw = mem_alloc(MAXN * 4 + 64), *qa = mem_alloc(MAXN * 4 + 64);
    struct rng r = {11};
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    for (int fi = 0; fi < N_FAST; fi++) {
        const struct kern *fk = fast_tables(fi);
        if (!fk)
            continue;
        for (size_t ti = 0; ti < N_WTYPES; ti++) {
            uint32_t t = all_wtypes[ti], at = rk->vec_dot_type(t);
            ASSERT_EQ_INT(fk->vec_dot_type(t), at);
            int64_t be = block_elems(t) == 1 ? 32 : block_elems(t);
            for (int nb = 1; nb <= 16; nb++) {
                int64_t n = nb * be;
                for (int off = 0; off < 32; off += (nb == 1 || nb == 16) ? 1 : 7) {
                    uint8_t *w = qw + off, *a = qa + (31 - off);
                    make_weights(&r, t, n, xw, w);
                    fill_normal(&r, xa, n, 1.0f);
                    rk->quantize_row(at, xa, a, n);
                    check_dot_one(fk, t, n, w, a, dw, da);
                }
            }
            /* odd element counts for the float types (tails) */
            if (block_elems(t) == 1)
                for (int64_t n = 1; n < 80; n++) {
                    make_weights(&r, t, n, xw, qw + 3);
                    fill_normal(&r, xa, n, 1.0f);
                    rk->quantize_row(at, xa, qa + 1, n);
                    check_dot_one(fk, t, n, qw + 3, qa + 1, dw, da);
                }
        }
    }
    mem_free(xw);
    mem_free(xa);
    mem_free(dw);
    mem_free(da);
    mem_free(qw);
    mem_free(qa);
}

TEST(kern_fast_quantize_dequantize_exact)
{
    enum { MAXN = 16 * 256 };
    float *x = mem_alloc(MAXN * 4), *y1 = mem_alloc(MAXN * 4), *y2 = mem_alloc(MAXN * 4);
    uint8_t *q1 = mem_alloc(MAXN * 4 + 64), *q2 = mem_alloc(MAXN * 4 + 64);
    struct rng r = {5};
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    const uint32_t acts[] = {KERN_T_Q8_0, KERN_T_Q8_1, KERN_T_Q8_K, KERN_T_F32};
    for (int fi = 0; fi < N_FAST; fi++) {
        const struct kern *fk = fast_tables(fi);
        if (!fk)
            continue;
        for (int ai = 0; ai < 4; ai++) {
            uint32_t t = acts[ai];
            int64_t be = block_elems(t) == 1 ? 32 : block_elems(t);
            for (int nb = 1; nb <= 16; nb++) {
                int64_t n = nb * be;
                for (int off = 0; off < 32; off += 5) {
                    fill_normal(&r, x, n, (float)(1 + off));
                    if (off == 5)
                        memset(x, 0, (size_t)be * 4); /* an all-zero block */
                    if (off == 10)
                        for (int64_t i = 0; i < n; i++) /* exact ties of x*127/amax */
                            x[i] = (float)((int)(i % 255) - 127) * 0.5f;
                    size_t rb = kern_row_bytes(t, n);
                    rk->quantize_row(t, x, q1, n);
                    fk->quantize_row(t, x, q2 + off, n);
                    if (memcmp(q1, q2 + off, rb) != 0)
                        TEST_FAIL_("%s: quantize_row type %u n %lld differs", fk->name, t,
                                   (long long)n);
                }
            }
        }
        for (size_t ti = 0; ti < N_WTYPES; ti++) {
            uint32_t t = all_wtypes[ti];
            int64_t be = block_elems(t) == 1 ? 32 : block_elems(t);
            for (int nb = 1; nb <= 16; nb += 3) {
                int64_t n = nb * be;
                make_weights(&r, t, n, x, q1 + nb);
                rk->dequantize_row(t, q1 + nb, y1, n);
                fk->dequantize_row(t, q1 + nb, y2, n);
                ASSERT_MEMEQ(y1, y2, (size_t)n * 4);
            }
        }
    }
    mem_free(x);
    mem_free(y1);
    mem_free(y2);
    mem_free(q1);
    mem_free(q2);
}

/* The optional prepared path of table fk (when it has one for type t): out = mul_mat via
 * prepare + mul_mat_prep.  Returns 0 when there is none. */
static int mul_mat_prepared(const struct kern *fk, uint32_t t, const uint8_t *w, size_t wrb,
                            int64_t ncol, int64_t r0, int64_t r1, const uint8_t *a, size_t arb,
                            int nt, float *out, int64_t ldo)
{
    if (!fk->prep_bytes)
        return 0;
    size_t pb = fk->prep_bytes(t, ncol, nt);
    if (pb == 0)
        return 0;
    void *prep = mem_aligned(64, pb);
    ASSERT(prep != NULL);
    fk->prepare(t, a, arb, ncol, nt, prep);
    fk->mul_mat_prep(t, w, wrb, ncol, r0, r1, prep, nt, out, ldo);
    mem_free(prep);
    return 1;
}

TEST(kern_fast_mul_mat_matches_ref)
{
    enum { NCOL = 512, NROW = 19, NT = 19 }; /* 19 tokens: two full 8-token tiles and a rest */
    struct rng r = {13};
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    float *x = mem_alloc(NCOL * 4), *dw = mem_alloc(NCOL * 4), *da = mem_alloc(NCOL * 4);
    uint8_t *w = mem_alloc((size_t)NROW * NCOL * 4 + 64),
            *a = mem_alloc((size_t)NT * NCOL * 4 + 64);
    float *o1 = mem_alloc(NT * NROW * 4), *o2 = mem_alloc(NT * NROW * 4);
    for (int fi = 0; fi < N_FAST; fi++) {
        const struct kern *fk = fast_tables(fi);
        if (!fk)
            continue;
        for (size_t ti = 0; ti < N_WTYPES; ti++) {
            uint32_t t = all_wtypes[ti], at = rk->vec_dot_type(t);
            size_t wrb = kern_row_bytes(t, NCOL), arb = kern_row_bytes(at, NCOL);
            for (int i = 0; i < NROW; i++)
                make_weights(&r, t, NCOL, x, w + 1 + (size_t)i * wrb);
            for (int i = 0; i < NT; i++) {
                fill_normal(&r, x, NCOL, 1.0f);
                rk->quantize_row(at, x, a + 3 + (size_t)i * arb, NCOL);
            }
            for (int pass = 0; pass < 2; pass++)
                for (int nt = 1; nt <= NT; nt++) {
                    int64_t r0 = nt % 3, r1 = NROW - (nt % 2);
                    for (int i = 0; i < NT * NROW; i++)
                        o1[i] = o2[i] = -12345.0f;
                    rk->mul_mat(t, w + 1, wrb, NCOL, r0, r1, a + 3, arb, nt, o1, NROW);
                    if (pass == 0)
                        fk->mul_mat(t, w + 1, wrb, NCOL, r0, r1, a + 3, arb, nt, o2, NROW);
                    else if (!mul_mat_prepared(fk, t, w + 1, wrb, NCOL, r0, r1, a + 3, arb, nt, o2,
                                               NROW))
                        continue;
                    for (int tt = 0; tt < NT; tt++)
                        for (int rr = 0; rr < NROW; rr++) {
                            float v1 = o1[tt * NROW + rr], v2 = o2[tt * NROW + rr];
                            if (tt >= nt || rr < r0 || rr >= r1) {
                                ASSERT(v2 == -12345.0f); /* untouched outside the block */
                                continue;
                            }
                            rk->dequantize_row(t, w + 1 + (size_t)rr * wrb, dw, NCOL);
                            rk->dequantize_row(at, a + 3 + (size_t)tt * arb, da, NCOL);
                            double tol = order_tol(dw, da, NCOL);
                            if (fabs((double)v1 - (double)v2) > tol)
                                TEST_FAIL_("%s mul_mat type %u nt %d row %d tok %d: %g vs %g",
                                           fk->name, t, nt, rr, tt, (double)v2, (double)v1);
                        }
                }
        }
    }
    mem_free(x);
    mem_free(dw);
    mem_free(da);
    mem_free(w);
    mem_free(a);
    mem_free(o1);
    mem_free(o2);
}

TEST(kern_elementwise)
{
    float x[37], w[37], o[37], g[37];
    struct rng r = {17};
    fill_normal(&r, x, 37, 2.0f);
    fill_normal(&r, w, 37, 1.0f);
    kern_rmsnorm(o, x, w, 37, 1e-5f);
    double ss = 0.0;
    for (int i = 0; i < 37; i++)
        ss += (double)x[i] * (double)x[i];
    double sc = 1.0 / sqrt(ss / 37 + 1e-5);
    for (int i = 0; i < 37; i++)
        ASSERT_NEAR(o[i], (double)x[i] * sc * (double)w[i], 1e-5);
    memcpy(g, x, sizeof g);
    kern_softmax(g, 37);
    double sum = 0.0;
    for (int i = 0; i < 37; i++)
        sum += (double)g[i];
    ASSERT_NEAR(sum, 1.0, 1e-5);
    ASSERT_NEAR((double)g[3] / (double)g[4], exp((double)x[3] - (double)x[4]), 1e-4);
    kern_silu_mul(o, x, w, 37);
    for (int i = 0; i < 37; i++)
        ASSERT_NEAR(o[i], (double)x[i] / (1.0 + exp(-(double)x[i])) * (double)w[i], 1e-5);
    kern_add(o, x, w, 37);
    for (int i = 0; i < 37; i++)
        ASSERT(o[i] == x[i] + w[i]);
    double d = 0.0;
    for (int i = 0; i < 37; i++)
        d += (double)x[i] * (double)w[i];
    ASSERT_NEAR(kern_dot_f32(x, w, 37), d, 1e-4);
    memcpy(o, x, sizeof o);
    kern_axpy(o, 0.5f, w, 37);
    for (int i = 0; i < 37; i++)
        ASSERT_NEAR(o[i], (double)x[i] + 0.5 * (double)w[i], 1e-6);
}

/* Rows longer than the fast kernels' column chunk (8192 columns), with an odd tail of blocks. */
TEST(kern_fast_long_rows)
{
    enum { NCOL = 32 * 601, NROW = 3, NT = 11 };
    struct rng r = {23};
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    float *x = mem_alloc(NCOL * 4), *dw = mem_alloc(NCOL * 4), *da = mem_alloc(NCOL * 4);
    uint8_t *w = mem_alloc((size_t)NROW * NCOL * 4), *a = mem_alloc((size_t)NT * NCOL * 4);
    float o1[NT * NROW], o2[NT * NROW];
    for (size_t ti = 0; ti < N_WTYPES; ti++) {
        uint32_t t = all_wtypes[ti], at = rk->vec_dot_type(t);
        if (NCOL % block_elems(t) != 0)
            continue;
        size_t wrb = kern_row_bytes(t, NCOL), arb = kern_row_bytes(at, NCOL);
        for (int i = 0; i < NROW; i++)
            make_weights(&r, t, NCOL, x, w + (size_t)i * wrb);
        for (int i = 0; i < NT; i++) {
            fill_normal(&r, x, NCOL, 1.0f);
            rk->quantize_row(at, x, a + (size_t)i * arb, NCOL);
        }
        rk->mul_mat(t, w, wrb, NCOL, 0, NROW, a, arb, NT, o1, NROW);
        for (int fi = 0; fi < N_FAST; fi++) {
            const struct kern *fk = fast_tables(fi);
            if (!fk)
                continue;
            for (int pass = 0; pass < 2; pass++) {
                if (pass == 0)
                    fk->mul_mat(t, w, wrb, NCOL, 0, NROW, a, arb, NT, o2, NROW);
                else if (!mul_mat_prepared(fk, t, w, wrb, NCOL, 0, NROW, a, arb, NT, o2, NROW))
                    continue;
                for (int tt = 0; tt < NT; tt++)
                    for (int rr = 0; rr < NROW; rr++) {
                        rk->dequantize_row(t, w + (size_t)rr * wrb, dw, NCOL);
                        rk->dequantize_row(at, a + (size_t)tt * arb, da, NCOL);
                        double tol = order_tol(dw, da, NCOL);
                        if (fabs((double)o1[tt * NROW + rr] - (double)o2[tt * NROW + rr]) > tol)
                            TEST_FAIL_("%s long row type %u tok %d row %d: %g vs %g", fk->name, t,
                                       tt, rr, (double)o2[tt * NROW + rr],
                                       (double)o1[tt * NROW + rr]);
                        if (tt == 0 && rr == 0) {
                            float v = fk->vec_dot(t, NCOL, w, a);
                            ASSERT(fabs((double)v - (double)o1[0]) <= tol);
                        }
                    }
            }
        }
    }
    mem_free(x);
    mem_free(dw);
    mem_free(da);
    mem_free(w);
    mem_free(a);
}

TEST(kern_dispatch_env_cap)
{
    setenv("CORRAL_KERN", "scalar", 1);
    ASSERT_EQ_STR(kern_get(KERN_ISA_BEST)->name, "scalar");
    setenv("CORRAL_KERN", "avx2", 1);
    const struct kern *k = kern_get(KERN_ISA_BEST);
    ASSERT_EQ_STR(k->name, kern_get(KERN_ISA_AVX2) ? kern_get(KERN_ISA_AVX2)->name : "scalar");
    ASSERT(strncmp(k->name, kern_get(KERN_ISA_AVX2) ? "avx2" : "scalar", 4) == 0);
    unsetenv("CORRAL_KERN");
    k = kern_get(KERN_ISA_BEST);
    const char *want = kern_get(KERN_ISA_AMX)      ? "amx"
                       : kern_get(KERN_ISA_AVX512) ? "avx512"
                       : kern_get(KERN_ISA_AVX2)   ? "avx2"
                                                   : "scalar";
    ASSERT(strncmp(k->name, want, strlen(want)) == 0);
    /* CORRAL_PREFETCH picks the prefetching twin of a SIMD table, or not */
    if (kern_get(KERN_ISA_AVX2)) {
        setenv("CORRAL_PREFETCH", "1", 1);
        ASSERT(strstr(kern_get(KERN_ISA_BEST)->name, "+prefetch") != NULL);
        setenv("CORRAL_PREFETCH", "0", 1);
        ASSERT(strstr(kern_get(KERN_ISA_BEST)->name, "+prefetch") == NULL);
        unsetenv("CORRAL_PREFETCH");
    }
    /* an explicit ISA is not capped by the environment */
    setenv("CORRAL_KERN", "scalar", 1);
    if (__builtin_cpu_supports("avx2"))
        ASSERT(kern_get(KERN_ISA_AVX2) != NULL);
}

/* Weight blocks of random bytes (every code value, including ones our quantizer never writes:
 * Q8_0 -128, Q6_K scale -128, Q4_1 negative mins ...) with the fp16/f32 scale fields replaced
 * by random finite values: every fast table must still match the reference. */
static void randomize_scales(struct rng *r, uint32_t t, uint8_t *p, int64_t nblocks)
{
    static const struct {
        uint32_t t;
        int off[2];
        int n;
    } f[] = {{KERN_T_Q4_0, {0}, 1},    {KERN_T_Q4_1, {0, 2}, 2}, {KERN_T_Q5_0, {0}, 1},
             {KERN_T_Q5_1, {0, 2}, 2}, {KERN_T_Q8_0, {0}, 1},    {KERN_T_Q2_K, {80, 82}, 2},
             {KERN_T_Q3_K, {108}, 1},  {KERN_T_Q4_K, {0, 2}, 2}, {KERN_T_Q5_K, {0, 2}, 2},
             {KERN_T_Q6_K, {208}, 1}};
    uint32_t bb = kern_type_block_bytes(t);
    for (int64_t b = 0; b < nblocks; b++) {
        uint8_t *blk = p + b * bb;
        if (t == KERN_T_F32) {
            float v = rng_normal(r);
            memcpy(blk, &v, 4);
        } else if (t == KERN_T_F16 || t == KERN_T_BF16) {
            float v = rng_normal(r);
            uint16_t h = t == KERN_T_F16 ? kern_f32_to_fp16(v) : kern_f32_to_bf16(v);
            memcpy(blk, &h, 2);
        }
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            if (f[i].t == t)
                for (int k = 0; k < f[i].n; k++) {
                    uint16_t h = kern_f32_to_fp16(rng_normal(r) * 0.01f);
                    memcpy(blk + f[i].off[k], &h, 2);
                }
    }
}

TEST(kern_fast_matches_ref_random_blocks)
{
    enum { NCOL = 1024, NT = 3 };
    struct rng r = {31};
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    float *x = mem_alloc(NCOL * 4), *dw = mem_alloc(NCOL * 4), *da = mem_alloc(NCOL * 4);
    uint8_t *w = mem_alloc(NCOL * 4 + 8), *a = mem_alloc((size_t)NT * NCOL * 4);
    for (size_t ti = 0; ti < N_WTYPES; ti++) {
        uint32_t t = all_wtypes[ti], at = rk->vec_dot_type(t);
        size_t wrb = kern_row_bytes(t, NCOL), arb = kern_row_bytes(at, NCOL);
        for (int rep = 0; rep < 20; rep++) {
            for (size_t i = 0; i < wrb; i++)
                w[i] = (uint8_t)rng_u32(&r);
            randomize_scales(&r, t, w, NCOL / block_elems(t));
            for (int i = 0; i < NT; i++) {
                fill_normal(&r, x, NCOL, 1.0f);
                rk->quantize_row(at, x, a + (size_t)i * arb, NCOL);
            }
            float o1[NT], o2[NT];
            rk->mul_mat(t, w, wrb, NCOL, 0, 1, a, arb, NT, o1, 1);
            rk->dequantize_row(t, w, dw, NCOL);
            for (int fi = 0; fi < N_FAST; fi++) {
                const struct kern *fk = fast_tables(fi);
                if (!fk)
                    continue;
                fk->mul_mat(t, w, wrb, NCOL, 0, 1, a, arb, NT, o2, 1);
                for (int tt = 0; tt < NT; tt++) {
                    rk->dequantize_row(at, a + (size_t)tt * arb, da, NCOL);
                    double tol = order_tol(dw, da, NCOL);
                    if (fabs((double)o1[tt] - (double)o2[tt]) > tol)
                        TEST_FAIL_("%s random blocks type %u tok %d: %g vs ref %g", fk->name, t, tt,
                                   (double)o2[tt], (double)o1[tt]);
                }
            }
        }
    }
    mem_free(x);
    mem_free(dw);
    mem_free(da);
    mem_free(w);
    mem_free(a);
}

/* Float weight types against several tokens go through register tiles of 4 rows x 6 tokens
 * (AVX-512): every shape of remainder (rows not a multiple of 4, tokens not of 6, columns not
 * of 16, a row range not starting at 0) must give the reference's dots. */
TEST(kern_float_tiles_match_ref)
{
    static const uint32_t ft[] = {KERN_T_F32, KERN_T_F16, KERN_T_BF16};
    static const int64_t ncols[] = {16, 100, 384, 1000};
    enum { MAXR = 11, MAXT = 13, MAXC = 1000 };
    struct rng r = {47};
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    float *x = mem_alloc((size_t)MAXT * MAXC * 4), *wf = mem_alloc(MAXC * 4),
          *dw = mem_alloc(MAXC * 4);
    uint8_t *w = mem_alloc((size_t)MAXR * MAXC * 4);
    float *o1 = mem_alloc((size_t)MAXT * MAXR * 4), *o2 = mem_alloc((size_t)MAXT * MAXR * 4);
    int checked = 0;
    for (size_t ti = 0; ti < sizeof ft / sizeof ft[0]; ti++)
        for (size_t ci = 0; ci < sizeof ncols / sizeof ncols[0]; ci++) {
            uint32_t t = ft[ti];
            int64_t n = ncols[ci];
            size_t wrb = kern_row_bytes(t, n), xrb = (size_t)n * 4;
            for (int i = 0; i < MAXR; i++) {
                fill_normal(&r, wf, n, 1.0f);
                rk->quantize_row(t, wf, w + (size_t)i * wrb, n);
            }
            fill_normal(&r, x, MAXT * n, 1.0f);
            for (int nt = 2; nt <= MAXT; nt++)
                for (int r0 = 0; r0 <= 2; r0++) {
                    int r1 = MAXR - (nt % 3);
                    rk->mul_mat(t, w, wrb, n, r0, r1, x, xrb, nt, o1, MAXR);
                    for (int fi = 0; fi < N_FAST; fi++) {
                        const struct kern *fk = fast_tables(fi);
                        if (!fk)
                            continue;
                        memset(o2, 0, (size_t)MAXT * MAXR * 4);
                        fk->mul_mat(t, w, wrb, n, r0, r1, x, xrb, nt, o2, MAXR);
                        for (int row = r0; row < r1; row++) {
                            rk->dequantize_row(t, w + (size_t)row * wrb, dw, n);
                            for (int tt = 0; tt < nt; tt++) {
                                double tol = order_tol(dw, x + (size_t)tt * n, n);
                                double d =
                                    fabs((double)o1[tt * MAXR + row] - (double)o2[tt * MAXR + row]);
                                if (d > tol)
                                    TEST_FAIL_("%s type %u n %lld nt %d rows %d..%d row %d tok "
                                               "%d: %g vs %g",
                                               fk->name, t, (long long)n, nt, r0, r1, row, tt,
                                               (double)o1[tt * MAXR + row],
                                               (double)o2[tt * MAXR + row]);
                                checked++;
                            }
                        }
                    }
                }
        }
    ASSERT(checked > 1000);
    mem_free(x);
    mem_free(wf);
    mem_free(dw);
    mem_free(w);
    mem_free(o1);
    mem_free(o2);
}

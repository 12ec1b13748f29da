/*
 * test_model_simd.c - the model's AVX2 inner loops (model_attn_avx2.c) against plain C on
 * random data: silu(gate) * up with the vector exp (including saturating inputs and every tail
 * length), the attention's probability-weighted sum of value rows with register blocking over
 * head sizes that are and are not multiples of 32, and the encoder's scores of several queries
 * against keys stored transposed (token and key counts off the 4 x 16 tile), the cached keys
 * widened and transposed 8 x 8, and the vector maximum.
 */
#include <math.h>
#include <stdint.h>

#include "engine/kern/kern.h"
#include "engine/model/model_attn.h"
#include "harness/test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float rnd(float scale)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((float)(rng >> 40) / 16777216.0f - 0.5f) * 2.0f * scale;
}

TEST(model_simd_silu_mul_matches_scalar)
{
    if (!model_attn_have_avx2())
        return;
    float g[67], u[67], want[67], got[67];
    for (int n = 0; n <= 67; n++) {
        for (int i = 0; i < n; i++) {
            g[i] = rnd(i % 5 == 0 ? 120.0f : 8.0f); /* some beyond exp's range */
            u[i] = rnd(3.0f);
        }
        if (n > 3) {
            g[0] = 0.0f;
            g[1] = -200.0f;
            g[2] = 200.0f;
        }
        kern_silu_mul(want, g, u, n);
        got[n < 67 ? n : 66] = 12345.0f; /* the tail must not write past n */
        model_silu_mul_avx2(got, g, u, n);
        for (int i = 0; i < n; i++) {
            ASSERT(isfinite(got[i]));
            ASSERT_NEAR(got[i], want[i], 1e-6f + 1e-6f * fabsf(want[i]));
        }
        if (n < 67)
            ASSERT(got[n] == 12345.0f);
    }
    /* in place, as the FFN calls it */
    for (int i = 0; i < 40; i++) {
        g[i] = rnd(6.0f);
        u[i] = rnd(2.0f);
    }
    kern_silu_mul(want, g, u, 40);
    model_silu_mul_avx2(g, g, u, 40);
    for (int i = 0; i < 40; i++)
        ASSERT_NEAR(g[i], want[i], 1e-6f + 1e-6f * fabsf(want[i]));
}

TEST(model_simd_pv_matches_scalar)
{
    if (!model_attn_have_avx2())
        return;
    enum { MAXG = 4, MAXK = 37, MAXHD = 136, PSTRIDE = 50 };
    static float p[MAXG * PSTRIDE], vt[MAXK * MAXHD], out[MAXG * MAXHD], want[MAXG * MAXHD];
    const uint32_t hds[] = {8, 24, 32, 64, 72, 128, 136};
    for (size_t h = 0; h < sizeof hds / sizeof hds[0]; h++)
        for (uint32_t gqa = 1; gqa <= MAXG; gqa += 3)
            for (uint32_t nk = 1; nk <= MAXK; nk += 12) {
                uint32_t hd = hds[h];
                for (uint32_t i = 0; i < MAXG * PSTRIDE; i++)
                    p[i] = rnd(1.0f) + 1.0f;
                for (uint32_t i = 0; i < nk * hd; i++)
                    vt[i] = rnd(4.0f);
                for (uint32_t i = 0; i < gqa * hd; i++)
                    out[i] = want[i] = rnd(1.0f); /* accumulates onto what is there */
                for (uint32_t g = 0; g < gqa; g++)
                    for (uint32_t k = 0; k < nk; k++)
                        for (uint32_t i = 0; i < hd; i++)
                            want[g * hd + i] += p[g * PSTRIDE + k] * vt[k * hd + i];
                model_attn_pv_avx2(out, gqa, hd, p, PSTRIDE, vt, nk);
                for (uint32_t i = 0; i < gqa * hd; i++)
                    ASSERT_NEAR(out[i], want[i], 1e-4f * (1.0f + fabsf(want[i])));
                model_scale_avx2(out, 0.5f, gqa * hd);
                for (uint32_t i = 0; i < gqa * hd; i++)
                    ASSERT_NEAR(out[i], 0.5f * want[i], 1e-4f * (1.0f + fabsf(want[i])));
            }
}

TEST(model_simd_qkt_matches_scalar)
{
    if (!model_attn_have_avx2())
        return;
    enum { MAXT = 7, MAXN = 53, HD = 40, QS = 50, KTS = 61, OS = 60 };
    static float q[MAXT * QS], kt[HD * KTS], out[MAXT * OS];
    for (int i = 0; i < MAXT * QS; i++)
        q[i] = rnd(1.0f);
    for (int i = 0; i < HD * KTS; i++)
        kt[i] = rnd(1.0f);
    const uint32_t hds[] = {1, 8, 32, 40};
    for (size_t h = 0; h < sizeof hds / sizeof hds[0]; h++)
        for (int nt = 1; nt <= MAXT; nt += 2)
            for (int n = 1; n <= MAXN; n += 13) {
                for (int i = 0; i < MAXT * OS; i++)
                    out[i] = 777.0f;
                model_attn_qkt_avx2(q, QS, nt, kt, KTS, hds[h], n, out, OS);
                for (int t = 0; t < MAXT; t++)
                    for (int j = 0; j < OS; j++) {
                        if (t >= nt || j >= n) { /* nothing outside the nt x n block */
                            ASSERT(out[t * OS + j] == 777.0f);
                            continue;
                        }
                        double want = 0.0;
                        for (uint32_t d = 0; d < hds[h]; d++)
                            want += (double)q[t * QS + (int)d] * (double)kt[(int)d * KTS + j];
                        ASSERT_NEAR(out[t * OS + j], (float)want, 1e-5f);
                    }
            }
}

TEST(model_simd_kt_and_max_match_scalar)
{
    if (!model_attn_have_avx2())
        return;
    enum { KS = 72, MAXK = 21, HD = 64, KTS = 40 };
    static uint16_t k[MAXK * KS];
    static float kt[HD * KTS];
    for (int i = 0; i < MAXK * KS; i++)
        k[i] = kern_f32_to_fp16(rnd(3.0f));
    for (uint32_t hd = 8; hd <= HD; hd += 24)
        for (uint32_t nk = 1; nk <= MAXK; nk += 4) {
            for (int i = 0; i < HD * KTS; i++)
                kt[i] = 777.0f;
            model_attn_kt_f16_avx2(k, KS, hd, nk, kt, KTS);
            for (uint32_t d = 0; d < HD; d++)
                for (uint32_t j = 0; j < KTS; j++) {
                    float want = d < hd && j < nk ? kern_fp16_to_f32(k[j * KS + d]) : 777.0f;
                    ASSERT(kt[d * KTS + j] == want);
                }
        }
    float x[37];
    for (uint32_t n = 0; n <= 37; n++) {
        float want = -INFINITY;
        for (uint32_t i = 0; i < n; i++) {
            x[i] = rnd(5.0f);
            want = x[i] > want ? x[i] : want;
        }
        ASSERT(model_attn_max_avx2(x, n) == want);
    }
}

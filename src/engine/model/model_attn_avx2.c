/*
 * model_attn_avx2.c - attention inner loops over an F16 KV cache with AVX2 + F16C + FMA:
 * scores of 8 cached keys, softmax exponentials, the probability-weighted sum of value rows
 * (widened to floats once per block of keys, accumulated in registers per query head), and the
 * FFN's silu(gate) * up with the same vector exp.  Chosen at run time by model_fwd.c when the
 * CPU has these extensions (the scalar loops otherwise).
 */
#include "engine/model/model_attn.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

float model_attn_dot_f16_avx2(const float *q, const uint16_t *k, uint32_t n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i)));
        __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 8)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), k0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), k1, acc1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), k0, acc0);
    }
    acc0 = _mm256_add_ps(acc0, acc1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float r = _mm_cvtss_f32(s);
    for (; i < n; i++)
        r += q[i] * _cvtsh_ss(k[i]);
    return r;
}

void model_attn_axpy_f16_avx2(float *acc, float a, const uint16_t *v, uint32_t n)
{
    __m256 va = _mm256_set1_ps(a);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i)));
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(va, v0, _mm256_loadu_ps(acc + i)));
    }
    for (; i < n; i++)
        acc[i] += a * _cvtsh_ss(v[i]);
}

/* exp(x) for 8 lanes, Cephes' single-precision polynomial (relative error ~2e-7), x <= 0
 * here (scores minus their maximum); very negative inputs flush to 0. */
static __m256 exp8(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.0f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 fx = _mm256_floor_ps(
        _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, z, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, y);
}

float model_attn_softmax_avx2(float *sc, uint32_t n, float mx)
{
    __m256 vmx = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(sc + i), vmx));
        _mm256_storeu_ps(sc + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float sum = _mm_cvtss_f32(s);
    if (i < n) {
        float tail[8] = {0};
        uint32_t k = n - i;
        for (uint32_t j = 0; j < 8; j++)
            tail[j] = j < k ? sc[i + j] - mx : -1000.0f;
        __m256 e = exp8(_mm256_loadu_ps(tail));
        _mm256_storeu_ps(tail, e);
        for (uint32_t j = 0; j < k; j++) {
            sc[i + j] = tail[j];
            sum += tail[j];
        }
    }
    return sum;
}

/* Sum of each of 8 vectors, as one vector [sum(a0), ..., sum(a7)]. */
static __m256 hsum8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6,
                    __m256 a7)
{
    __m256 t0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m256 t1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(t0, t1, 0x20),
                         _mm256_permute2f128_ps(t0, t1, 0x31));
}

void model_attn_scores8_f16_avx2(const float *q, const uint16_t *k, size_t kstride, uint32_t hd,
                                 float scale, float *out)
{
    __m256 acc[8];
    for (int p = 0; p < 8; p++)
        acc[p] = _mm256_setzero_ps();
    for (uint32_t i = 0; i < hd; i += 8) {
        __m256 qv = _mm256_loadu_ps(q + i);
        for (int p = 0; p < 8; p++) {
            __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + p * kstride + i)));
            acc[p] = _mm256_fmadd_ps(qv, kv, acc[p]);
        }
    }
    __m256 s = hsum8(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]);
    _mm256_storeu_ps(out, _mm256_mul_ps(s, _mm256_set1_ps(scale)));
}

void model_attn_f16_to_f32_avx2(float *dst, const uint16_t *src, uint32_t n)
{
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++)
        dst[i] = _cvtsh_ss(src[i]);
}

void model_attn_pv_avx2(float *out, uint32_t gqa, uint32_t hd, const float *p, size_t pstride,
                        const float *vt, uint32_t nk)
{
    for (uint32_t g = 0; g < gqa; g++) {
        const float *pg = p + (size_t)g * pstride;
        float *og = out + (size_t)g * hd;
        uint32_t i = 0;
        for (; i + 32 <= hd; i += 32) {
            __m256 a0 = _mm256_loadu_ps(og + i), a1 = _mm256_loadu_ps(og + i + 8);
            __m256 a2 = _mm256_loadu_ps(og + i + 16), a3 = _mm256_loadu_ps(og + i + 24);
            for (uint32_t k = 0; k < nk; k++) {
                const float *v = vt + (size_t)k * hd + i;
                __m256 pk = _mm256_broadcast_ss(pg + k);
                a0 = _mm256_fmadd_ps(pk, _mm256_loadu_ps(v), a0);
                a1 = _mm256_fmadd_ps(pk, _mm256_loadu_ps(v + 8), a1);
                a2 = _mm256_fmadd_ps(pk, _mm256_loadu_ps(v + 16), a2);
                a3 = _mm256_fmadd_ps(pk, _mm256_loadu_ps(v + 24), a3);
            }
            _mm256_storeu_ps(og + i, a0);
            _mm256_storeu_ps(og + i + 8, a1);
            _mm256_storeu_ps(og + i + 16, a2);
            _mm256_storeu_ps(og + i + 24, a3);
        }
        for (; i + 8 <= hd; i += 8) {
            __m256 a0 = _mm256_loadu_ps(og + i);
            for (uint32_t k = 0; k < nk; k++)
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(pg + k),
                                     _mm256_loadu_ps(vt + (size_t)k * hd + i), a0);
            _mm256_storeu_ps(og + i, a0);
        }
        for (; i < hd; i++)
            for (uint32_t k = 0; k < nk; k++)
                og[i] += pg[k] * vt[(size_t)k * hd + i];
    }
}

void model_scale_avx2(float *x, float a, uint32_t n)
{
    __m256 va = _mm256_set1_ps(a);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(va, _mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        x[i] *= a;
}

/* silu(g) u = g sigmoid(g) u with sigmoid from e = exp(-|g|) (exp8's domain, never overflows):
 * 1 / (1 + e) for g >= 0, e / (1 + e) below. */
static __m256 silu_mul8(__m256 g, __m256 u)
{
    __m256 neg = _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 e = exp8(_mm256_or_ps(g, _mm256_set1_ps(-0.0f))); /* exp(-|g|) */
    __m256 num = _mm256_blendv_ps(_mm256_set1_ps(1.0f), e, neg);
    __m256 sg = _mm256_div_ps(num, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_mul_ps(_mm256_mul_ps(g, sg), u);
}

void model_silu_mul_avx2(float *out, const float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, silu_mul8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float g[8] = {0}, u[8] = {0}, r[8];
        int64_t k = n - i;
        memcpy(g, gate + i, (size_t)k * sizeof(float));
        memcpy(u, up + i, (size_t)k * sizeof(float));
        _mm256_storeu_ps(r, silu_mul8(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        memcpy(out + i, r, (size_t)k * sizeof(float));
    }
}

/* 4 tokens x 16 keys of q . k, the keys' dimension d at kt + d * kts (16 consecutive keys).
 * Inlined with constant nt, so the 8 accumulators stay in registers. */
static inline __attribute__((always_inline)) void qkt_tile(const float *q, size_t qs, int nt,
                                                           const float *kt, size_t kts, uint32_t hd,
                                                           float *out, size_t os)
{
    __m256 a[4][2];
    for (int t = 0; t < 4; t++)
        a[t][0] = a[t][1] = _mm256_setzero_ps();
    for (uint32_t d = 0; d < hd; d++) {
        __m256 k0 = _mm256_loadu_ps(kt + d * kts), k1 = _mm256_loadu_ps(kt + d * kts + 8);
        for (int t = 0; t < nt; t++) {
            __m256 qv = _mm256_broadcast_ss(q + (size_t)t * qs + d);
            a[t][0] = _mm256_fmadd_ps(qv, k0, a[t][0]);
            a[t][1] = _mm256_fmadd_ps(qv, k1, a[t][1]);
        }
    }
    for (int t = 0; t < nt; t++) {
        _mm256_storeu_ps(out + (size_t)t * os, a[t][0]);
        _mm256_storeu_ps(out + (size_t)t * os + 8, a[t][1]);
    }
}

void model_attn_qkt_avx2(const float *q, size_t qs, int nt, const float *kt, size_t kts,
                         uint32_t hd, int n, float *out, size_t os)
{
    for (int t0 = 0; t0 < nt; t0 += 4) {
        int m = nt - t0 < 4 ? nt - t0 : 4;
        const float *qt = q + (size_t)t0 * qs;
        float *ot = out + (size_t)t0 * os;
        int j = 0;
        for (; j + 16 <= n; j += 16) {
            if (m == 4)
                qkt_tile(qt, qs, 4, kt + j, kts, hd, ot + j, os);
            else
                qkt_tile(qt, qs, m, kt + j, kts, hd, ot + j, os);
        }
        for (; j < n; j++) /* the last keys of a length that is not a multiple of 16 */
            for (int t = 0; t < m; t++) {
                float s = 0.0f;
                for (uint32_t d = 0; d < hd; d++)
                    s += qt[(size_t)t * qs + d] * kt[d * kts + (size_t)j];
                ot[(size_t)t * os + j] = s;
            }
    }
}

/* 8 x 8 floats transposed in registers: r[i] element j <-> r[j] element i. */
static void tr8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

void model_attn_kt_f16_avx2(const uint16_t *k, size_t ks, uint32_t hd, uint32_t nk, float *kt,
                            size_t kts)
{
    uint32_t j = 0;
    for (; j + 8 <= nk; j += 8)
        for (uint32_t d = 0; d < hd; d += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = _mm256_cvtph_ps(
                    _mm_loadu_si128((const __m128i *)(k + (size_t)(j + (uint32_t)i) * ks + d)));
            tr8(r);
            for (int i = 0; i < 8; i++)
                _mm256_storeu_ps(kt + (size_t)(d + (uint32_t)i) * kts + j, r[i]);
        }
    for (; j < nk; j++)
        for (uint32_t d = 0; d < hd; d++)
            kt[(size_t)d * kts + j] = _cvtsh_ss(k[(size_t)j * ks + d]);
}

float model_attn_max_avx2(const float *x, uint32_t n)
{
    __m256 m = _mm256_set1_ps(-INFINITY);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float b[8], r = -INFINITY;
    _mm256_storeu_ps(b, m);
    for (int k = 0; k < 8; k++)
        r = b[k] > r ? b[k] : r;
    for (; i < n; i++)
        r = x[i] > r ? x[i] : r;
    return r;
}

/*
 * kern_ref.c - the scalar reference kernels: the source of truth the fast kernels are tested
 * against, and the fallback that runs on any CPU.
 *
 * Sections: dequantize (one function per type, D.2 layouts), activation quantizers (Q8_0 and
 * Q8_1 as llama.cpp's SIMD path computes them, Q8_K as its reference), vec_dot per weight type
 * against its vec_dot_type (exact integer sums per block, then one float multiply-add per block
 * or sub-block, the same grouping the fast kernels use), mul_mat as a loop over vec_dot, and the
 * scalar table.  Weight quantizers live in kern_quant.c.
 */
#include "engine/kern/kern_int.h"

#include <math.h>
#include <string.h>

/* ---- dequantize ---- */

static void deq_q4_0(const struct kern_bq4_0 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, y += 32) {
        float d = kern__h2f(b->d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((b->qs[j] & 15) - 8) * d;
            y[j + 16] = (float)((b->qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q4_1(const struct kern_bq4_1 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, y += 32) {
        float d = kern__h2f(b->d), m = kern__h2f(b->m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(b->qs[j] & 15) * d + m;
            y[j + 16] = (float)(b->qs[j] >> 4) * d + m;
        }
    }
}

static uint32_t load_qh(const uint8_t *qh)
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void deq_q5_0(const struct kern_bq5_0 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, y += 32) {
        float d = kern__h2f(b->d);
        uint32_t qh = load_qh(b->qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b->qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(lo - 16) * d;
            y[j + 16] = (float)(hi - 16) * d;
        }
    }
}

static void deq_q5_1(const struct kern_bq5_1 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, y += 32) {
        float d = kern__h2f(b->d), m = kern__h2f(b->m);
        uint32_t qh = load_qh(b->qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b->qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)lo * d + m;
            y[j + 16] = (float)hi * d + m;
        }
    }
}

static void deq_q8_0(const struct kern_bq8_0 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, y += 32) {
        float d = kern__h2f(b->d);
        for (int j = 0; j < 32; j++)
            y[j] = (float)b->qs[j] * d;
    }
}

static void deq_q8_1(const struct kern_bq8_1 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, y += 32) {
        float d = kern__h2f(b->d);
        for (int j = 0; j < 32; j++)
            y[j] = (float)b->qs[j] * d;
    }
}

static void deq_q2_k(const struct kern_bq2_k *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++) {
        float d = kern__h2f(b->d), dmin = kern__h2f(b->dmin);
        const uint8_t *q = b->qs;
        int is = 0;
        for (int n = 0; n < 256; n += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    uint8_t sc = b->scales[is++];
                    float dl = d * (float)(sc & 15), ml = dmin * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++)
                        *y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

static void deq_q3_k(const struct kern_bq3_k *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++) {
        float d = kern__h2f(b->d);
        const uint8_t *q = b->qs;
        int is = 0;
        uint8_t m = 1;
        for (int n = 0; n < 256; n += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1)) {
                for (int half = 0; half < 2; half++) {
                    float dl = d * (float)kern__scale_q3k(is++, b->scales);
                    for (int l = 0; l < 16; l++) {
                        int k = l + 16 * half;
                        int v = ((q[k] >> shift) & 3) - ((b->hmask[k] & m) ? 0 : 4);
                        *y++ = dl * (float)v;
                    }
                }
            }
        }
    }
}

static void deq_q4_k(const struct kern_bq4_k *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++) {
        float d = kern__h2f(b->d), dmin = kern__h2f(b->dmin);
        const uint8_t *q = b->qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            uint8_t sc, m;
            kern__scale_min_k4(j, b->scales, &sc, &m);
            float d1 = d * (float)sc, m1 = dmin * (float)m;
            kern__scale_min_k4(j + 1, b->scales, &sc, &m);
            float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)(q[l] & 15) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void deq_q5_k(const struct kern_bq5_k *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++) {
        float d = kern__h2f(b->d), dmin = kern__h2f(b->dmin);
        const uint8_t *ql = b->qs;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 8; j += 2, ql += 32, u1 = (uint8_t)(u1 << 2), u2 = (uint8_t)(u2 << 2)) {
            uint8_t sc, m;
            kern__scale_min_k4(j, b->scales, &sc, &m);
            float d1 = d * (float)sc, m1 = dmin * (float)m;
            kern__scale_min_k4(j + 1, b->scales, &sc, &m);
            float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((ql[l] & 15) + ((b->qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((ql[l] >> 4) + ((b->qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

/* The 6-bit value of element l + 32*k of a 128-half of Q6_K (k = 0..3), minus 32. */
static int q6_val(const uint8_t *ql, const uint8_t *qh, int l, int k)
{
    int lo = (k & 1) ? ql[l + 32] : ql[l];
    lo = (k & 2) ? lo >> 4 : lo & 15;
    int hi = (qh[l] >> (2 * k)) & 3;
    return (lo | hi << 4) - 32;
}

static void deq_q6_k(const struct kern_bq6_k *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++) {
        float d = kern__h2f(b->d);
        const uint8_t *ql = b->ql, *qh = b->qh;
        const int8_t *sc = b->scales;
        for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
            for (int l = 0; l < 32; l++)
                for (int k = 0; k < 4; k++)
                    y[l + 32 * k] = d * (float)sc[l / 16 + 2 * k] * (float)q6_val(ql, qh, l, k);
    }
}

static void deq_q8_k(const struct kern_bq8_k *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++)
        for (int j = 0; j < 256; j++)
            *y++ = b->d * (float)b->qs[j];
}

void kern__ref_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    int64_t nb32 = n / KERN_QK, nbk = n / KERN_QK_K;
    switch (type) {
    case KERN_T_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case KERN_T_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, (const uint8_t *)src + 2 * i, 2);
            dst[i] = kern_fp16_to_f32(h);
        }
        break;
    case KERN_T_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, (const uint8_t *)src + 2 * i, 2);
            dst[i] = kern_bf16_to_f32(h);
        }
        break;
    case KERN_T_Q4_0:
        deq_q4_0(src, dst, nb32);
        break;
    case KERN_T_Q4_1:
        deq_q4_1(src, dst, nb32);
        break;
    case KERN_T_Q5_0:
        deq_q5_0(src, dst, nb32);
        break;
    case KERN_T_Q5_1:
        deq_q5_1(src, dst, nb32);
        break;
    case KERN_T_Q8_0:
        deq_q8_0(src, dst, nb32);
        break;
    case KERN_T_Q8_1:
        deq_q8_1(src, dst, nb32);
        break;
    case KERN_T_Q2_K:
        deq_q2_k(src, dst, nbk);
        break;
    case KERN_T_Q3_K:
        deq_q3_k(src, dst, nbk);
        break;
    case KERN_T_Q4_K:
        deq_q4_k(src, dst, nbk);
        break;
    case KERN_T_Q5_K:
        deq_q5_k(src, dst, nbk);
        break;
    case KERN_T_Q6_K:
        deq_q6_k(src, dst, nbk);
        break;
    case KERN_T_Q8_K:
        deq_q8_k(src, dst, nbk);
        break;
    default:
        memset(dst, 0, (size_t)n * sizeof(float));
        break;
    }
}

/* ---- activation quantizers ---- */

/* Q8_0 as llama.cpp's AVX path: d = amax/127 stored as fp16, q = nearest-even(x * (127/amax)). */
static void quant_act_q8_0(const float *x, struct kern_bq8_0 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        b->d = kern_f32_to_fp16(amax / 127.0f);
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int j = 0; j < 32; j++)
            b->qs[j] = (int8_t)kern__nearest_int(x[j] * id);
    }
}

/* Q8_1 likewise, plus s = d * sum(q) (d in f32 before rounding to fp16, as the AVX path). */
static void quant_act_q8_1(const float *x, struct kern_bq8_1 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = kern__nearest_int(x[j] * id);
            b->qs[j] = (int8_t)q;
            sum += q;
        }
        b->d = kern_f32_to_fp16(d);
        b->s = kern_f32_to_fp16(d * (float)sum);
    }
}

/* Q8_K as llama.cpp's reference: the signed max maps to -127. */
static void quant_act_q8_k(const float *x, struct kern_bq8_k *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        float amax = 0.0f, mx = 0.0f;
        for (int j = 0; j < 256; j++) {
            float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                mx = x[j];
            }
        }
        if (amax == 0.0f) {
            b->d = 0.0f;
            memset(b->qs, 0, sizeof b->qs);
            memset(b->bsums, 0, sizeof b->bsums);
            continue;
        }
        float iscale = -127.0f / mx;
        for (int j = 0; j < 256; j++) {
            int v = kern__nearest_int(iscale * x[j]);
            b->qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += b->qs[16 * j + l];
            b->bsums[j] = (int16_t)s;
        }
        b->d = 1.0f / iscale;
    }
}

void kern__ref_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    switch (type) {
    case KERN_T_Q8_0:
        quant_act_q8_0(src, dst, n / KERN_QK);
        break;
    case KERN_T_Q8_1:
        quant_act_q8_1(src, dst, n / KERN_QK);
        break;
    case KERN_T_Q8_K:
        quant_act_q8_k(src, dst, n / KERN_QK_K);
        break;
    default:
        kern__quantize_weights_row(type, src, dst, n);
        break;
    }
}

/* ---- vec_dot ---- */

static float dot_f32(int64_t n, const void *w, const void *x)
{
    /* same grouping as kern_dot_f32, with loads that allow any alignment */
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += kern__ldf(w, i + k) * kern__ldf(x, i + k);
    float s = 0.0f;
    for (; i < n; i++)
        s += kern__ldf(w, i) * kern__ldf(x, i);
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

static float dot_f16(int64_t n, const uint8_t *w, const void *x)
{
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            uint16_t h;
            memcpy(&h, w + 2 * (i + k), 2);
            acc[k] += kern_fp16_to_f32(h) * kern__ldf(x, i + k);
        }
    float s = 0.0f;
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, w + 2 * i, 2);
        s += kern_fp16_to_f32(h) * kern__ldf(x, i);
    }
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

static float dot_bf16(int64_t n, const uint8_t *w, const void *x)
{
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            uint16_t h;
            memcpy(&h, w + 2 * (i + k), 2);
            acc[k] += kern_bf16_to_f32(h) * kern__ldf(x, i + k);
        }
    float s = 0.0f;
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, w + 2 * i, 2);
        s += kern_bf16_to_f32(h) * kern__ldf(x, i);
    }
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

static float dot_q4_0(int64_t nb, const struct kern_bq4_0 *w, const struct kern_bq8_0 *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += ((w->qs[j] & 15) - 8) * x->qs[j] + ((w->qs[j] >> 4) - 8) * x->qs[j + 16];
        s += (float)sum * (kern__h2f(w->d) * kern__h2f(x->d));
    }
    return s;
}

static float dot_q4_1(int64_t nb, const struct kern_bq4_1 *w, const struct kern_bq8_1 *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += (w->qs[j] & 15) * x->qs[j] + (w->qs[j] >> 4) * x->qs[j + 16];
        s += (float)sum * (kern__h2f(w->d) * kern__h2f(x->d)) + kern__h2f(w->m) * kern__h2f(x->s);
    }
    return s;
}

static float dot_q5_0(int64_t nb, const struct kern_bq5_0 *w, const struct kern_bq8_0 *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        uint32_t qh = load_qh(w->qh);
        int sum = 0;
        for (int j = 0; j < 16; j++) {
            int lo = ((w->qs[j] & 15) | (int)((qh >> j) & 1) << 4) - 16;
            int hi = ((w->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4) - 16;
            sum += lo * x->qs[j] + hi * x->qs[j + 16];
        }
        s += (float)sum * (kern__h2f(w->d) * kern__h2f(x->d));
    }
    return s;
}

static float dot_q5_1(int64_t nb, const struct kern_bq5_1 *w, const struct kern_bq8_1 *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        uint32_t qh = load_qh(w->qh);
        int sum = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (w->qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (w->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            sum += lo * x->qs[j] + hi * x->qs[j + 16];
        }
        s += (float)sum * (kern__h2f(w->d) * kern__h2f(x->d)) + kern__h2f(w->m) * kern__h2f(x->s);
    }
    return s;
}

static float dot_q8_0(int64_t nb, const struct kern_bq8_0 *w, const struct kern_bq8_0 *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        int sum = 0;
        for (int j = 0; j < 32; j++)
            sum += w->qs[j] * x->qs[j];
        s += (float)sum * (kern__h2f(w->d) * kern__h2f(x->d));
    }
    return s;
}

/* Sum of x->bsums over sub-block pairs, for the min terms of K-quants with 32-wide sub-blocks. */
static int bsum32(const struct kern_bq8_k *x, int j)
{
    return x->bsums[2 * j] + x->bsums[2 * j + 1];
}

static float dot_q2_k(int64_t nb, const struct kern_bq2_k *w, const struct kern_bq8_k *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        int isum = 0, msum = 0;
        for (int j = 0; j < 16; j++)
            msum += (w->scales[j] >> 4) * x->bsums[j];
        const uint8_t *q = w->qs;
        const int8_t *a = x->qs;
        int is = 0;
        for (int n = 0; n < 256; n += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2)
                for (int half = 0; half < 2; half++, a += 16) {
                    int sub = 0;
                    for (int l = 0; l < 16; l++)
                        sub += ((q[l + 16 * half] >> shift) & 3) * a[l];
                    isum += (w->scales[is++] & 15) * sub;
                }
        s += x->d * kern__h2f(w->d) * (float)isum - x->d * kern__h2f(w->dmin) * (float)msum;
    }
    return s;
}

static float dot_q3_k(int64_t nb, const struct kern_bq3_k *w, const struct kern_bq8_k *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        int isum = 0;
        const uint8_t *q = w->qs;
        const int8_t *a = x->qs;
        int is = 0;
        uint8_t m = 1;
        for (int n = 0; n < 256; n += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1))
                for (int half = 0; half < 2; half++, a += 16) {
                    int sub = 0;
                    for (int l = 0; l < 16; l++) {
                        int k = l + 16 * half;
                        int v = ((q[k] >> shift) & 3) - ((w->hmask[k] & m) ? 0 : 4);
                        sub += v * a[l];
                    }
                    isum += kern__scale_q3k(is++, w->scales) * sub;
                }
        s += x->d * kern__h2f(w->d) * (float)isum;
    }
    return s;
}

static float dot_q4_k(int64_t nb, const struct kern_bq4_k *w, const struct kern_bq8_k *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        int isum = 0, msum = 0;
        const uint8_t *q = w->qs;
        const int8_t *a = x->qs;
        for (int j = 0; j < 8; j += 2, q += 32, a += 64) {
            uint8_t sc1, m1, sc2, m2;
            kern__scale_min_k4(j, w->scales, &sc1, &m1);
            kern__scale_min_k4(j + 1, w->scales, &sc2, &m2);
            int s1 = 0, s2 = 0;
            for (int l = 0; l < 32; l++) {
                s1 += (q[l] & 15) * a[l];
                s2 += (q[l] >> 4) * a[l + 32];
            }
            isum += sc1 * s1 + sc2 * s2;
            msum += m1 * bsum32(x, j) + m2 * bsum32(x, j + 1);
        }
        s += x->d * kern__h2f(w->d) * (float)isum - x->d * kern__h2f(w->dmin) * (float)msum;
    }
    return s;
}

static float dot_q5_k(int64_t nb, const struct kern_bq5_k *w, const struct kern_bq8_k *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        int isum = 0, msum = 0;
        const uint8_t *q = w->qs;
        const int8_t *a = x->qs;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 8;
             j += 2, q += 32, a += 64, u1 = (uint8_t)(u1 << 2), u2 = (uint8_t)(u2 << 2)) {
            uint8_t sc1, m1, sc2, m2;
            kern__scale_min_k4(j, w->scales, &sc1, &m1);
            kern__scale_min_k4(j + 1, w->scales, &sc2, &m2);
            int s1 = 0, s2 = 0;
            for (int l = 0; l < 32; l++) {
                s1 += ((q[l] & 15) + ((w->qh[l] & u1) ? 16 : 0)) * a[l];
                s2 += ((q[l] >> 4) + ((w->qh[l] & u2) ? 16 : 0)) * a[l + 32];
            }
            isum += sc1 * s1 + sc2 * s2;
            msum += m1 * bsum32(x, j) + m2 * bsum32(x, j + 1);
        }
        s += x->d * kern__h2f(w->d) * (float)isum - x->d * kern__h2f(w->dmin) * (float)msum;
    }
    return s;
}

static float dot_q6_k(int64_t nb, const struct kern_bq6_k *w, const struct kern_bq8_k *x)
{
    float s = 0.0f;
    for (int64_t i = 0; i < nb; i++, w++, x++) {
        int isum = 0;
        const uint8_t *ql = w->ql, *qh = w->qh;
        const int8_t *sc = w->scales, *a = x->qs;
        for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8, a += 128)
            for (int k = 0; k < 4; k++)
                for (int h = 0; h < 2; h++) {
                    int sub = 0;
                    for (int l = 16 * h; l < 16 * h + 16; l++)
                        sub += q6_val(ql, qh, l, k) * a[l + 32 * k];
                    isum += sc[h + 2 * k] * sub;
                }
        s += x->d * kern__h2f(w->d) * (float)isum;
    }
    return s;
}

float kern__ref_vec_dot(uint32_t wtype, int64_t n, const void *w, const void *x)
{
    int64_t nb32 = n / KERN_QK, nbk = n / KERN_QK_K;
    switch (wtype) {
    case KERN_T_F32:
        return dot_f32(n, w, x);
    case KERN_T_F16:
        return dot_f16(n, w, x);
    case KERN_T_BF16:
        return dot_bf16(n, w, x);
    case KERN_T_Q4_0:
        return dot_q4_0(nb32, w, x);
    case KERN_T_Q4_1:
        return dot_q4_1(nb32, w, x);
    case KERN_T_Q5_0:
        return dot_q5_0(nb32, w, x);
    case KERN_T_Q5_1:
        return dot_q5_1(nb32, w, x);
    case KERN_T_Q8_0:
        return dot_q8_0(nb32, w, x);
    case KERN_T_Q2_K:
        return dot_q2_k(nbk, w, x);
    case KERN_T_Q3_K:
        return dot_q3_k(nbk, w, x);
    case KERN_T_Q4_K:
        return dot_q4_k(nbk, w, x);
    case KERN_T_Q5_K:
        return dot_q5_k(nbk, w, x);
    case KERN_T_Q6_K:
        return dot_q6_k(nbk, w, x);
    default:
        return 0.0f;
    }
}

uint32_t kern__ref_vec_dot_type(uint32_t wtype)
{
    switch (wtype) {
    case KERN_T_F32:
    case KERN_T_F16:
    case KERN_T_BF16:
        return KERN_T_F32;
    case KERN_T_Q4_0:
    case KERN_T_Q5_0:
    case KERN_T_Q8_0:
    case KERN_T_Q4_0_X8:
    case KERN_T_Q5_0_X8:
    case KERN_T_Q8_0_X8:
        return KERN_T_Q8_0;
    case KERN_T_Q4_1:
    case KERN_T_Q5_1:
        return KERN_T_Q8_1;
    case KERN_T_Q2_K:
    case KERN_T_Q3_K:
    case KERN_T_Q4_K:
    case KERN_T_Q5_K:
    case KERN_T_Q6_K:
    case KERN_T_Q4_K_X8:
    case KERN_T_Q5_K_X8:
    case KERN_T_Q6_K_X8:
        return KERN_T_Q8_K;
    default:
        return KERN_T_F32;
    }
}

void kern__ref_mul_mat(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols, int64_t r0,
                       int64_t r1, const void *x, size_t x_row_bytes, int nt, float *out,
                       int64_t ldo)
{
    const uint8_t *wb = w, *xb = x;
    if (kern_pack_base(wtype)) {
        kern__ref_mul_mat_packed(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out,
                                 ldo);
        return;
    }
    for (int64_t r = r0; r < r1; r++)
        for (int t = 0; t < nt; t++)
            out[(int64_t)t * ldo + r] = kern__ref_vec_dot(
                wtype, ncols, wb + (size_t)r * w_row_bytes, xb + (size_t)t * x_row_bytes);
}

const struct kern kern__table_scalar = {
    .isa = KERN_ISA_SCALAR,
    .name = "scalar",
    .vec_dot_type = kern__ref_vec_dot_type,
    .quantize_row = kern__ref_quantize_row,
    .dequantize_row = kern__ref_dequantize_row,
    .vec_dot = kern__ref_vec_dot,
    .mul_mat = kern__ref_mul_mat,
};

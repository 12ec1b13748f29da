/*
 * kern_quant.c - weight quantizers: llama.cpp's reference algorithms without an importance
 * matrix, rewritten from their published descriptions, so `corral quantize` writes the same
 * bytes as llama-quantize for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1 and near-identical K-quant blocks.
 *
 * Simple types: one scale per 32 (Q4_0/Q5_0 map the signed max to -8/-16; Q4_1/Q5_1 use min and
 * max; Q8_0 uses amax/127 with roundf).  K types: per sub-block a scale (and min) is searched
 * (search_scale_min = "make_qkx2_quants": weighted least squares over a few trial scales;
 * search_scale_sym = "make_qx_quants"; search_scale_q3 = "make_q3_quants": iterative
 * coordinate refinement), then the sub-block scales are themselves quantized to 4/6/8 bits and
 * the values re-quantized against the rounded scales.  All arithmetic in float, in the order the
 * reference uses, since byte equality depends on it.
 */
#include "engine/kern/kern_int.h"

#include <math.h>
#include <string.h>

#include "common/err.h"

#define GROUP_MAX_EPS 1e-15f

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- 32-element block types ---- */

static void q_q4_0(const float *x, struct kern_bq4_0 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float amax = 0.0f, mx = 0.0f;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                mx = x[j];
            }
        float d = mx / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = kern_f32_to_fp16(d);
        for (int j = 0; j < 16; j++) {
            int q0 = imin(15, (int8_t)(x[j] * id + 8.5f));
            int q1 = imin(15, (int8_t)(x[j + 16] * id + 8.5f));
            b->qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void q_q4_1(const float *x, struct kern_bq4_1 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float mn = INFINITY, mx = -INFINITY;
        for (int j = 0; j < 32; j++) {
            mn = x[j] < mn ? x[j] : mn;
            mx = x[j] > mx ? x[j] : mx;
        }
        float d = (mx - mn) / 15.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = kern_f32_to_fp16(d);
        b->m = kern_f32_to_fp16(mn);
        for (int j = 0; j < 16; j++) {
            int q0 = imin(15, (int8_t)((x[j] - mn) * id + 0.5f));
            int q1 = imin(15, (int8_t)((x[j + 16] - mn) * id + 0.5f));
            b->qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void store_qh(uint8_t *dst, uint32_t qh)
{
    for (int k = 0; k < 4; k++)
        dst[k] = (uint8_t)(qh >> (8 * k));
}

static void q_q5_0(const float *x, struct kern_bq5_0 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float amax = 0.0f, mx = 0.0f;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                mx = x[j];
            }
        float d = mx / -16.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = kern_f32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = imin(31, (int8_t)(x[j] * id + 16.5f));
            int q1 = imin(31, (int8_t)(x[j + 16] * id + 16.5f));
            b->qs[j] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
        }
        store_qh(b->qh, qh);
    }
}

static void q_q5_1(const float *x, struct kern_bq5_1 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float mn = INFINITY, mx = -INFINITY;
        for (int j = 0; j < 32; j++) {
            mn = x[j] < mn ? x[j] : mn;
            mx = x[j] > mx ? x[j] : mx;
        }
        float d = (mx - mn) / 31.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = kern_f32_to_fp16(d);
        b->m = kern_f32_to_fp16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = (uint8_t)((x[j] - mn) * id + 0.5f);
            int q1 = (uint8_t)((x[j + 16] - mn) * id + 0.5f);
            b->qs[j] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
        }
        store_qh(b->qh, qh);
    }
}

static void q_q8_0(const float *x, struct kern_bq8_0 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = kern_f32_to_fp16(d);
        for (int j = 0; j < 32; j++)
            b->qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void q_q8_1(const float *x, struct kern_bq8_1 *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = kern_f32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            b->qs[j] = (int8_t)roundf(x[j] * id);
            sum += b->qs[j];
        }
        b->s = kern_f32_to_fp16((float)sum * d);
    }
}

/* ---- scale searches for the K types ---- */

/* Asymmetric: x ~ scale*L - min with L in [0, nmax], minimizing sum w*|err| (use_mad) or
 * w*err^2 over the initial guess and nstep+1 trial scales.  Returns scale, *the_min = min. */
static float search_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                              int use_mad)
{
    float mn = x[0], mx = x[0];
    float sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0.0f)
        mn = 0.0f;
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *the_min = -mn;
        return 0.0f;
    }
    float iscale = (float)nmax / (mx - mn);
    float scale = 1.0f / iscale;
    float best_err = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = kern__nearest_int(iscale * (x[i] - mn));
        L[i] = (uint8_t)clampi(l, 0, nmax);
        float diff = scale * (float)L[i] + mn - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_err += w[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -mn;
        return scale;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (mx - mn);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = clampi(kern__nearest_int(iscale * (x[i] - mn)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float fl = (float)l;
            sum_l += w[i] * fl;
            sum_l2 += w[i] * fl * fl;
            sum_xl += w[i] * fl * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0.0f) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0.0f) {
                this_min = 0.0f;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0.0f;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                err += w[i] * diff;
            }
            if (err < best_err) {
                memcpy(L, Laux, (size_t)n);
                best_err = err;
                scale = this_scale;
                mn = this_min;
            }
        }
    }
    *the_min = -mn;
    return scale;
}

/* Symmetric, x ~ scale*(L - nmax) with L - nmax in [-nmax, nmax-1], weights x^2 (rmse type 1):
 * the signed max maps to -nmax, then 18 nearby scales are tried by weighted least squares. */
static float search_scale_sym(int n, int nmax, const float *x, int8_t *L)
{
    float amax = 0.0f, mx = 0.0f;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            mx = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -(float)nmax / mx;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = clampi(kern__nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        iscale = -((float)nmax + 0.1f * (float)is) / mx;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = clampi(kern__nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = clampi(kern__nearest_int(iscale * x[i]), -nmax, nmax - 1);
                L[i] = (int8_t)(l + nmax);
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Symmetric for Q3_K: start from the max mapping to -nmax, then up to 5 passes of moving single
 * values to the level that improves the weighted (x^2) least-squares fit.  L gets l + nmax. */
static float search_scale_q3(int n, int nmax, const float *x, int8_t *L)
{
    float amax = 0.0f, mx = 0.0f;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            mx = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -(float)nmax / mx;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = clampi(kern__nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (slx <= 0.0f)
                continue;
            float sl2 = suml2 - w * (float)L[i] * (float)L[i];
            int nl = clampi(kern__nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (nl == L[i])
                continue;
            slx += w * x[i] * (float)nl;
            sl2 += w * (float)nl * (float)nl;
            if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)nl;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed)
            break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

/* ---- K types ---- */

static void q_q2_k(const float *x, struct kern_bq2_k *b, int64_t nb)
{
    uint8_t L[256], Laux[16];
    float w[16], mins[16], scales[16];
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++)
                w[l] = fabsf(x[16 * j + l]);
            scales[j] = search_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.5f,
                                         0.1f, 15, 1);
            max_scale = scales[j] > max_scale ? scales[j] : max_scale;
            max_min = mins[j] > max_min ? mins[j] : max_min;
        }
        if (max_scale > 0.0f) {
            float iscale = 15.0f / max_scale;
            for (int j = 0; j < 16; j++)
                b->scales[j] = (uint8_t)kern__nearest_int(iscale * scales[j]);
            b->d = kern_f32_to_fp16(max_scale / 15.0f);
        } else {
            memset(b->scales, 0, 16);
            b->d = 0;
        }
        if (max_min > 0.0f) {
            float iscale = 15.0f / max_min;
            for (int j = 0; j < 16; j++)
                b->scales[j] |= (uint8_t)(kern__nearest_int(iscale * mins[j]) << 4);
            b->dmin = kern_f32_to_fp16(max_min / 15.0f);
        } else {
            b->dmin = 0;
        }
        for (int j = 0; j < 16; j++) {
            float d = kern__h2f(b->d) * (float)(b->scales[j] & 15);
            if (d == 0.0f)
                continue;
            float dm = kern__h2f(b->dmin) * (float)(b->scales[j] >> 4);
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (uint8_t)clampi(kern__nearest_int((x[16 * j + l] + dm) / d), 0, 3);
        }
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                b->qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 |
                                             L[j + l + 96] << 6);
    }
}

static void q_q3_k(const float *x, struct kern_bq3_k *b, int64_t nb)
{
    int8_t L[256];
    float scales[16];
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        float max_scale = 0.0f, amax = 0.0f;
        for (int j = 0; j < 16; j++) {
            scales[j] = search_scale_q3(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        memset(b->scales, 0, 12);
        if (max_scale != 0.0f) {
            float iscale = -32.0f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = clampi(kern__nearest_int(iscale * scales[j]), -32, 31) + 32;
                if (j < 8)
                    b->scales[j] = (uint8_t)(l & 15);
                else
                    b->scales[j - 8] |= (uint8_t)((l & 15) << 4);
                b->scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            b->d = kern_f32_to_fp16(1.0f / iscale);
        } else {
            b->d = 0;
        }
        for (int j = 0; j < 16; j++) {
            float d = kern__h2f(b->d) * (float)kern__scale_q3k(j, b->scales);
            if (d == 0.0f)
                continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clampi(kern__nearest_int(x[16 * j + l] / d), -4, 3) + 4);
        }
        memset(b->hmask, 0, 32);
        int m = 0;
        uint8_t hm = 1;
        for (int j = 0; j < 256; j++) {
            if (L[j] > 3) {
                b->hmask[m] |= hm;
                L[j] = (int8_t)(L[j] - 4);
            }
            if (++m == 32) {
                m = 0;
                hm = (uint8_t)(hm << 1);
            }
        }
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                b->qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 |
                                             L[j + l + 96] << 6);
    }
}

/* Shared first half of Q4_K / Q5_K: per 32 sub-block scale+min search, 6-bit packing of both,
 * then the values re-quantized against the rounded scales into L (0..nmax). */
static void q_k45(const float *x, uint16_t *pd, uint16_t *pdmin, uint8_t *sc12, uint8_t *L,
                  int nmax, float rmin, int nstep)
{
    uint8_t Laux[32];
    float w[32], mins[8], scales[8];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; l++)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32.0f);
        for (int l = 0; l < 32; l++)
            w[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = search_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], Laux, rmin,
                                     0.1f, nstep, 0);
        max_scale = scales[j] > max_scale ? scales[j] : max_scale;
        max_min = mins[j] > max_min ? mins[j] : max_min;
    }
    float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; j++) {
        int ls = imin(63, kern__nearest_int(inv_scale * scales[j]));
        int lm = imin(63, kern__nearest_int(inv_min * mins[j]));
        if (j < 4) {
            sc12[j] = (uint8_t)ls;
            sc12[j + 4] = (uint8_t)lm;
        } else {
            sc12[j + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
            sc12[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc12[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *pd = kern_f32_to_fp16(max_scale / 63.0f);
    *pdmin = kern_f32_to_fp16(max_min / 63.0f);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        kern__scale_min_k4(j, sc12, &sc, &m);
        float d = kern__h2f(*pd) * (float)sc;
        if (d == 0.0f)
            continue;
        float dm = kern__h2f(*pdmin) * (float)m;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)clampi(kern__nearest_int((x[32 * j + l] + dm) / d), 0, nmax);
    }
}

static void q_q4_k(const float *x, struct kern_bq4_k *b, int64_t nb)
{
    uint8_t L[256];
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        uint16_t d, dmin;
        memset(b->scales, 0, 12);
        q_k45(x, &d, &dmin, b->scales, L, 15, -1.0f, 20);
        b->d = d;
        b->dmin = dmin;
        uint8_t *q = b->qs;
        for (int j = 0; j < 256; j += 64, q += 32)
            for (int l = 0; l < 32; l++)
                q[l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

static void q_q5_k(const float *x, struct kern_bq5_k *b, int64_t nb)
{
    uint8_t L[256];
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        uint16_t d, dmin;
        memset(b->scales, 0, 12);
        q_k45(x, &d, &dmin, b->scales, L, 31, -0.5f, 15);
        b->d = d;
        b->dmin = dmin;
        memset(b->qh, 0, 32);
        uint8_t *ql = b->qs;
        uint8_t m1 = 1, m2 = 2;
        for (int n = 0; n < 256;
             n += 64, ql += 32, m1 = (uint8_t)(m1 << 2), m2 = (uint8_t)(m2 << 2))
            for (int j = 0; j < 32; j++) {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    b->qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    b->qh[j] |= m2;
                }
                ql[j] = (uint8_t)(l1 | l2 << 4);
            }
    }
}

static void q_q6_k(const float *x, struct kern_bq6_k *b, int64_t nb)
{
    int8_t L[256];
    float scales[16];
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        float max_scale = 0.0f, max_abs = 0.0f;
        for (int j = 0; j < 16; j++) {
            scales[j] = search_scale_sym(16, 32, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > max_abs) {
                max_abs = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        if (max_abs < GROUP_MAX_EPS) {
            memset(b, 0, sizeof *b);
            continue;
        }
        float iscale = -128.0f / max_scale;
        b->d = kern_f32_to_fp16(1.0f / iscale);
        for (int j = 0; j < 16; j++)
            b->scales[j] = (int8_t)imin(127, kern__nearest_int(iscale * scales[j]));
        for (int j = 0; j < 16; j++) {
            float d = kern__h2f(b->d) * (float)b->scales[j];
            if (d == 0.0f)
                continue;
            for (int l = 0; l < 16; l++) {
                int q = clampi(kern__nearest_int(x[16 * j + l] / d), -32, 31);
                L[16 * j + l] = (int8_t)(q + 32);
            }
        }
        uint8_t *ql = b->ql, *qh = b->qh;
        for (int j = 0; j < 256; j += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; l++) {
                int a0 = L[j + l], a1 = L[j + l + 32], a2 = L[j + l + 64], a3 = L[j + l + 96];
                ql[l] = (uint8_t)((a0 & 15) | (a2 & 15) << 4);
                ql[l + 32] = (uint8_t)((a1 & 15) | (a3 & 15) << 4);
                qh[l] = (uint8_t)((a0 >> 4) | (a1 >> 4) << 2 | (a2 >> 4) << 4 | (a3 >> 4) << 6);
            }
    }
}

void kern__quantize_weights_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    int64_t nb32 = n / KERN_QK, nbk = n / KERN_QK_K;
    uint8_t *d8 = dst;
    switch (type) {
    case KERN_T_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case KERN_T_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = kern_f32_to_fp16(src[i]);
            memcpy(d8 + 2 * i, &h, 2);
        }
        break;
    case KERN_T_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = kern_f32_to_bf16(src[i]);
            memcpy(d8 + 2 * i, &h, 2);
        }
        break;
    case KERN_T_Q4_0:
        q_q4_0(src, dst, nb32);
        break;
    case KERN_T_Q4_1:
        q_q4_1(src, dst, nb32);
        break;
    case KERN_T_Q5_0:
        q_q5_0(src, dst, nb32);
        break;
    case KERN_T_Q5_1:
        q_q5_1(src, dst, nb32);
        break;
    case KERN_T_Q8_0:
        q_q8_0(src, dst, nb32);
        break;
    case KERN_T_Q8_1:
        q_q8_1(src, dst, nb32);
        break;
    case KERN_T_Q2_K:
        q_q2_k(src, dst, nbk);
        break;
    case KERN_T_Q3_K:
        q_q3_k(src, dst, nbk);
        break;
    case KERN_T_Q4_K:
        q_q4_k(src, dst, nbk);
        break;
    case KERN_T_Q5_K:
        q_q5_k(src, dst, nbk);
        break;
    case KERN_T_Q6_K:
        q_q6_k(src, dst, nbk);
        break;
    default:
        break;
    }
}

int kern_quantize_weights(uint32_t type, const float *src, void *dst, int64_t n)
{
    uint32_t be = kern_type_block_elems(type);
    if (be == 0 || type == KERN_T_Q8_K || n < 0 || n % be != 0 || (n > 0 && (!src || !dst)))
        return E_INVAL;
    kern__quantize_weights_row(type, src, dst, n);
    return 0;
}

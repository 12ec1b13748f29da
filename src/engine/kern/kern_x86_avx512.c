/*
 * kern_x86_avx512.c - AVX-512 (F/BW/VL/DQ) + VNNI kernels for the hot weight types.
 *
 * Q4_0/Q5_0/Q8_0 (against Q8_0) and Q4_1/Q5_1 (against Q8_1): mul_mat first "prepares" the
 * activations of up to 4 tokens (codes regrouped so 4 blocks fill two 64-byte registers, the
 * fp16 scales as float vectors, the block sums for the offset correction or the m * s term),
 * then the weights are turned into unsigned codes (nibbles as stored, or q ^ 0x80) and multiplied
 * with vpdpbusd, one convert and two FMAs per 4 blocks.  Prompts use 2-row x 4-token register
 * tiles; generation walks one row at a time so the weights stay one sequential stream.
 * Q4_K/Q5_K: the AVX2 kernels with vpdpwssd (scale multiply + accumulate in one op); on Zen 4 a
 * 512-bit op costs two 256-bit slots, so the narrower form is as fast for these decode-heavy
 * blocks.  Q6_K: 512-bit registers hold two sub-block groups whose activations are contiguous.
 * K-quant dots: vpdpbusd sums of 4 products, packed to words (vpackssdw) and scaled and
 * accumulated by one vpdpwssd: 3 multiply-port ops per 2 x 32 (Q4_K) or 2 x 64 (Q6_K) codes.
 * Matrices packed at load (the AVX2 table's pack_type, kern_pack.c: 8 rows interleaved) take
 * the z*_run kernels below: two 4-byte groups of the 8 rows per 64-byte load, the codes straight
 * into vpdpbusd, 8 rows x up to 4 tokens per pass.  Other types use the AVX2 kernels.
 */
#include "engine/kern/kern_int.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include "engine/kern/kern_avx_common.h"

#define P_ROWS 2 /* weight rows per pass in prompts: each activation load serves 2 rows */
#ifndef KERN_GEMV_ROWS
#define KERN_GEMV_ROWS 1 /* rows per pass for one token: 2 or 4 measured slower */
/* The same holds for Q4_K: a 2-row one-token dot (rows r, r+1 interleaved block by block) was
 * 12% faster on L2-resident rows but streamed 2.5-4x slower from memory (huge pages too), as
 * if the hardware prefetcher lost the stream; one row at a time stays. */
#endif
/* Software prefetch (KERN_PF, kern_avx_common.h) is on only in the _pf table: on Zen 4 it made the
 * same kernels 1.5-2x slower on an mmapped model file (page cache, 4 KB pages) and cost 10-20% of
 * the Q4_K gemv stream on huge pages; on the Intel Xeon VMs it doubles that stream. */

/* ---- K-quants: 512-bit, vpmaddubsw + vpdpwssd ---- */

/* Words 0..15 = 0, words 16..31 = v: per-half shift counts. */
AI __m512i half_counts(short lo, short hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(lo)), _mm256_set1_epi16(hi),
                              1);
}

AI __m512i load2x256(const void *p)
{
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

/* vpshufb index giving, in each 128-bit lane, words 0..3 = scale word a and 4..7 = word b. */
AI __m256i pair_pick(int a, int b)
{
    short wa = (short)(2 * a | (2 * a + 1) << 8), wb = (short)(2 * b | (2 * b + 1) << 8);
    return _mm256_setr_epi16(wa, wa, wa, wa, wb, wb, wb, wb, wa, wa, wa, wa, wb, wb, wb, wb);
}

/* Q4_K x Q8_K, nt (<= 4) tokens, 256-bit (on Zen 4 a 512-bit op costs two 256-bit slots).
 * Per 64 elements (sub-blocks 2j, 2j+1) and token: two vpdpbusd give the sums of 4 products per
 * int32 lane (|sum| <= 4 * 15 * 127, so it fits 16 bits), one vpackssdw puts both sub-blocks'
 * lanes into words and one vpdpwssd multiplies them by their 6-bit scales and accumulates:
 * three multiply-port ops where vpmaddubsw + vpdpwssd needed four. */
AI void y_q4_k(int64_t nb, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out,
               size_t pf)
{
    __m256 acc[KERN_AVX2_NT], accm[KERN_AVX2_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = accm[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t i = 0; i < nb; i++) {
        const struct kern_bq4_k *bw = (const struct kern_bq4_k *)w + i;
        KERN_PF(bw, sizeof *bw, pf);
        __m128i scm = kern_avx_k4_scales(bw->scales);
        __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scm, scm));
        __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scm));
        __m256i isum[KERN_AVX2_NT];
        for (int t = 0; t < nt; t++)
            isum[t] = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(bw->qs + 32 * j));
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i sp = _mm256_shuffle_epi8(sc16, pair_pick(2 * j, 2 * j + 1));
            for (int t = 0; t < nt; t++) {
                const int8_t *a =
                    ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs + 64 * j;
                __m256i d0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), lo,
                                                 _mm256_loadu_si256((const __m256i *)a));
                __m256i d1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), hi,
                                                 _mm256_loadu_si256((const __m256i *)(a + 32)));
                isum[t] = _mm256_dpwssd_epi32(isum[t], _mm256_packs_epi32(d0, d1), sp);
            }
        }
        float dw = h2f(bw->d), dmw = h2f(bw->dmin);
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bx->bsums), mins16);
            acc[t] =
                _mm256_fmadd_ps(_mm256_set1_ps(dw * bx->d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            accm[t] = _mm256_fmadd_ps(_mm256_set1_ps(dmw * bx->d), _mm256_cvtepi32_ps(ms), accm[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(_mm256_sub_ps(acc[t], accm[t]));
}

AI void y_q5_k(int64_t nb, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out,
               size_t pf)
{
    __m256 acc[KERN_AVX2_NT], accm[KERN_AVX2_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = accm[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15), m1 = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < nb; i++) {
        const struct kern_bq5_k *bw = (const struct kern_bq5_k *)w + i;
        KERN_PF(bw, sizeof *bw, pf);
        __m128i scm = kern_avx_k4_scales(bw->scales);
        __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scm, scm));
        __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scm));
        __m256i isum[KERN_AVX2_NT];
        for (int t = 0; t < nt; t++)
            isum[t] = _mm256_setzero_si256();
        __m256i qh = _mm256_loadu_si256((const __m256i *)bw->qh);
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(bw->qs + 32 * j));
            __m256i hlo = _mm256_slli_epi16(_mm256_and_si256(qh, m1), 4);
            __m256i hhi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), m1), 4);
            qh = _mm256_srli_epi16(qh, 2);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), hlo);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), hhi);
            __m256i sp = _mm256_shuffle_epi8(sc16, pair_pick(2 * j, 2 * j + 1));
            for (int t = 0; t < nt; t++) { /* |sum of 4| <= 4 * 31 * 127: fits 16 bits */
                const int8_t *a =
                    ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs + 64 * j;
                __m256i d0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), lo,
                                                 _mm256_loadu_si256((const __m256i *)a));
                __m256i d1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), hi,
                                                 _mm256_loadu_si256((const __m256i *)(a + 32)));
                isum[t] = _mm256_dpwssd_epi32(isum[t], _mm256_packs_epi32(d0, d1), sp);
            }
        }
        float dw = h2f(bw->d), dmw = h2f(bw->dmin);
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bx->bsums), mins16);
            acc[t] =
                _mm256_fmadd_ps(_mm256_set1_ps(dw * bx->d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            accm[t] = _mm256_fmadd_ps(_mm256_set1_ps(dmw * bx->d), _mm256_cvtepi32_ps(ms), accm[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(_mm256_sub_ps(acc[t], accm[t]));
}

/* vpshufb index giving 128-bit lane k of the result words 0..3 = word (a + k) and words 4..7 =
 * word (b + k) of each lane's 8. */
AI __m512i lane_pick2(int a, int b)
{
    short w[4][2];
    for (int k = 0; k < 4; k++) {
        w[k][0] = (short)(2 * (a + k) | (2 * (a + k) + 1) << 8);
        w[k][1] = (short)(2 * (b + k) | (2 * (b + k) + 1) << 8);
    }
    return _mm512_set_epi16(w[3][1], w[3][1], w[3][1], w[3][1], w[3][0], w[3][0], w[3][0], w[3][0],
                            w[2][1], w[2][1], w[2][1], w[2][1], w[2][0], w[2][0], w[2][0], w[2][0],
                            w[1][1], w[1][1], w[1][1], w[1][1], w[1][0], w[1][0], w[1][0], w[1][0],
                            w[0][1], w[0][1], w[0][1], w[0][1], w[0][0], w[0][0], w[0][0], w[0][0]);
}

/* Q6_K: per 128 elements and token two vpdpbusd (sums of 4 products of 6-bit codes, at most
 * 4 * 63 * 127, fit 16 bits), one vpackssdw and one vpdpwssd with the 16-element scales. */
AI void z_q6_k(int64_t nb, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out,
               size_t pf)
{
    __m512 acc[KERN_AVX2_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
    const __m512i c42 = half_counts(4, 2), c02 = half_counts(0, 2);
    const __m512i pick = lane_pick2(0, 4);
    for (int64_t i = 0; i < nb; i++) {
        const struct kern_bq6_k *bw = (const struct kern_bq6_k *)w + i;
        KERN_PF(bw, sizeof *bw, pf);
        __m128i sc8 = _mm_loadu_si128((const __m128i *)bw->scales);
        __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        /* words 0..7 = scales 0..7 and 8..15 in each 128-bit lane, in two vectors */
        __m512i slo = _mm512_broadcast_i32x4(_mm256_castsi256_si128(sc16));
        __m512i shi = _mm512_broadcast_i32x4(_mm256_extracti128_si256(sc16, 1));
        __m512i isum[KERN_AVX2_NT];
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bx->bsums), sc16);
            isum[t] = _mm512_castsi256_si512(
                _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(ms, 5)));
            isum[t] = _mm512_inserti64x4(isum[t], _mm256_setzero_si256(), 1);
        }
        for (int h = 0; h < 2; h++) {
            __m512i ql = _mm512_loadu_si512(bw->ql + 64 * h);
            __m512i qh = load2x256(bw->qh + 32 * h);
            /* elements 0..63 of this half: [ql0 & 15 | qh bits 0-1] , [ql1 & 15 | bits 2-3] */
            __m512i va = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                         _mm512_and_si512(_mm512_sllv_epi16(qh, c42), m30));
            /* elements 64..127: [ql0 >> 4 | bits 4-5], [ql1 >> 4 | bits 6-7] */
            __m512i vb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                         _mm512_and_si512(_mm512_srlv_epi16(qh, c02), m30));
            const __m512i ssrc = h ? shi : slo;
            __m512i sab = _mm512_shuffle_epi8(ssrc, pick);
            for (int t = 0; t < nt; t++) {
                const int8_t *a =
                    ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs + 128 * h;
                __m512i da = _mm512_dpbusd_epi32(_mm512_setzero_si512(), va, _mm512_loadu_si512(a));
                __m512i db =
                    _mm512_dpbusd_epi32(_mm512_setzero_si512(), vb, _mm512_loadu_si512(a + 64));
                isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_packs_epi32(da, db), sab);
            }
        }
        float dw = h2f(bw->d);
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            acc[t] =
                _mm512_fmadd_ps(_mm512_set1_ps(dw * bx->d), _mm512_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = _mm512_reduce_add_ps(acc[t]);
}

#define NT_SWITCH(fn, n, w, x, xs, nt, out) KERN_NT_SWITCH(KERN_AVX2_NT, fn, n, w, x, xs, nt, out)

static int row_dot(uint32_t wtype, int64_t n, const uint8_t *w, const uint8_t *x, size_t xs, int nt,
                   float *out, size_t pf)
{
    int64_t nbk = n / KERN_QK_K;
    switch (wtype) {
    case KERN_T_Q4_K:
        NT_SWITCH(y_q4_k, nbk, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q5_K:
        NT_SWITCH(y_q5_k, nbk, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q6_K:
        NT_SWITCH(z_q6_k, nbk, w, x, xs, nt, out);
        return 1;
    default:
        return kern__avx2_row_dot(wtype, n, w, x, xs, nt, out, pf);
    }
}

/* ---- Q4_0 / Q5_0 / Q8_0 with prepared activations ----
 * The per-block work on the activation side (fp16 scale, block sum) is the same for every weight
 * row, so mul_mat prepares it once per chunk of columns.  Blocks are taken in quads: register
 * "lo" holds bytes 0..15 of 4 consecutive blocks, "hi" bytes 16..31, so two vpdpbusd leave 4
 * lanes per block and ONE convert + two FMAs scale 4 blocks (the float work, not the integer
 * dot, bounds these small blocks).  The weights become unsigned codes u = q + OFF (Q4_0: the
 * nibbles as stored, OFF 8; Q5_0: OFF 16; Q8_0: q ^ 0x80, OFF 128); the offset is corrected
 * with cv = -OFF * d * sum(q) / 4 per lane, so the lane sum of (dot * d + cv) * dw is exact. */
/* Stack space for prepared activations: 256 quads (64 KiB) = 1024 blocks (32768 columns) of one
 * token, or 256 blocks of each of 4 tokens.  Rows longer than that are done in column chunks;
 * for one token that breaks the sequential weight stream (measured: 4-5x slower gemv), hence
 * the large one-token chunk. */
#define P_PREP_QUADS 256

/* One prepared quad of one token: blocks 4k..4k+3.  Also the layout of the buffer of
 * kern.prepare (token-major, ceil(nb/4) quads per token). */
struct p_quad {
    int8_t lo[64];
    int8_t hi[64];
    float dv[16]; /* d of block 4k+j in lanes 4j..4j+3 */
    float cv[16];
};
_Static_assert(sizeof(struct p_quad) == 256, "p_quad");

/* Four 16-byte pieces into one register. */
AI __m512i gather4x16(const uint8_t *a, const uint8_t *b, const uint8_t *c, const uint8_t *d)
{
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)a));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)b), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)c), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)d), 3);
}

/* dw of the 4 blocks spread as dv above. */
AI __m512 quad_dw(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3)
{
    __m128i h = _mm_cvtsi32_si128(h0);
    h = _mm_insert_epi16(h, h1, 1);
    h = _mm_insert_epi16(h, h2, 2);
    h = _mm_insert_epi16(h, h3, 3);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    return _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_cvtph_ps(h)));
}

/* Prepares nbc blocks (the last quad zero-padded: d = 0, codes 0).  cv holds, per lane, the
 * lane's partial code sum times -OFF * d, so its sum over a block's 4 lanes is the correction. */
static void p_prepare(const struct kern_bq8_0 *x, int64_t nbc, float off, struct p_quad *p)
{
    int64_t nq = (nbc + 3) / 4;
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t k = 0; k < nq; k++) {
        const struct kern_bq8_0 *b = x + 4 * k;
        struct kern_bq8_0 pad[4];
        if (4 * k + 4 > nbc) {
            memset(pad, 0, sizeof pad);
            memcpy(pad, b, (size_t)(nbc - 4 * k) * sizeof *b);
            b = pad;
        }
        __m512i lo = gather4x16((const uint8_t *)b[0].qs, (const uint8_t *)b[1].qs,
                                (const uint8_t *)b[2].qs, (const uint8_t *)b[3].qs);
        __m512i hi = gather4x16((const uint8_t *)b[0].qs + 16, (const uint8_t *)b[1].qs + 16,
                                (const uint8_t *)b[2].qs + 16, (const uint8_t *)b[3].qs + 16);
        _mm512_store_si512(p[k].lo, lo);
        _mm512_store_si512(p[k].hi, hi);
        __m512i sum =
            _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, lo), ones, hi);
        __m512 dv = quad_dw(b[0].d, b[1].d, b[2].d, b[3].d);
        _mm512_store_ps(p[k].dv, dv);
        _mm512_store_ps(p[k].cv, _mm512_mul_ps(_mm512_mul_ps(dv, _mm512_set1_ps(-off)),
                                               _mm512_cvtepi32_ps(sum)));
    }
}

/* The same for Q8_1 activations (Q4_1/Q5_1 weights): cv holds s / 4 per lane (s = d * sum(q)),
 * which the kernel multiplies by the weight block's m. */
static void p_prepare1(const struct kern_bq8_1 *x, int64_t nbc, struct p_quad *p)
{
    int64_t nq = (nbc + 3) / 4;
    for (int64_t k = 0; k < nq; k++) {
        const struct kern_bq8_1 *b = x + 4 * k;
        struct kern_bq8_1 pad[4];
        if (4 * k + 4 > nbc) {
            memset(pad, 0, sizeof pad);
            memcpy(pad, b, (size_t)(nbc - 4 * k) * sizeof *b);
            b = pad;
        }
        _mm512_store_si512(p[k].lo, gather4x16((const uint8_t *)b[0].qs, (const uint8_t *)b[1].qs,
                                               (const uint8_t *)b[2].qs, (const uint8_t *)b[3].qs));
        _mm512_store_si512(
            p[k].hi, gather4x16((const uint8_t *)b[0].qs + 16, (const uint8_t *)b[1].qs + 16,
                                (const uint8_t *)b[2].qs + 16, (const uint8_t *)b[3].qs + 16));
        _mm512_store_ps(p[k].dv, quad_dw(b[0].d, b[1].d, b[2].d, b[3].d));
        _mm512_store_ps(
            p[k].cv, _mm512_mul_ps(quad_dw(b[0].s, b[1].s, b[2].s, b[3].s), _mm512_set1_ps(0.25f)));
    }
}

/* Prepares blocks [c0, c0 + nbc) of one activation row for weights of wtype. */
static void p_prepare_row(uint32_t wtype, const uint8_t *xrow, int64_t c0, int64_t nbc, float off,
                          struct p_quad *p)
{
    if (wtype == KERN_T_Q4_1 || wtype == KERN_T_Q5_1)
        p_prepare1((const struct kern_bq8_1 *)xrow + c0, nbc, p);
    else
        p_prepare((const struct kern_bq8_0 *)xrow + c0, nbc, off, p);
}

AI void u4_q4_0(const struct kern_bq4_0 *b, __m512i *lo, __m512i *hi)
{
    __m512i raw = gather4x16(b[0].qs, b[1].qs, b[2].qs, b[3].qs);
    *lo = _mm512_and_si512(raw, _mm512_set1_epi8(15));
    *hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), _mm512_set1_epi8(15));
}

AI void u4_q5_0(const struct kern_bq5_0 *b, __m512i *lo, __m512i *hi)
{
    __m512i raw = gather4x16(b[0].qs, b[1].qs, b[2].qs, b[3].qs);
    uint64_t mlo = 0, mhi = 0;
    for (int j = 0; j < 4; j++) {
        uint32_t qh;
        memcpy(&qh, b[j].qh, 4);
        mlo |= (uint64_t)(qh & 0xffff) << (16 * j);
        mhi |= (uint64_t)(qh >> 16) << (16 * j);
    }
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    *lo = _mm512_or_si512(_mm512_and_si512(raw, _mm512_set1_epi8(15)),
                          _mm512_maskz_mov_epi8((__mmask64)mlo, bit4));
    *hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(raw, 4), _mm512_set1_epi8(15)),
                          _mm512_maskz_mov_epi8((__mmask64)mhi, bit4));
}

AI void u4_q8_0(const struct kern_bq8_0 *b, __m512i *lo, __m512i *hi)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    *lo = _mm512_xor_si512(gather4x16((const uint8_t *)b[0].qs, (const uint8_t *)b[1].qs,
                                      (const uint8_t *)b[2].qs, (const uint8_t *)b[3].qs),
                           flip);
    *hi = _mm512_xor_si512(gather4x16((const uint8_t *)b[0].qs + 16, (const uint8_t *)b[1].qs + 16,
                                      (const uint8_t *)b[2].qs + 16, (const uint8_t *)b[3].qs + 16),
                           flip);
}

AI void u4_q4_1(const struct kern_bq4_1 *b, __m512i *lo, __m512i *hi)
{
    __m512i raw = gather4x16(b[0].qs, b[1].qs, b[2].qs, b[3].qs);
    *lo = _mm512_and_si512(raw, _mm512_set1_epi8(15));
    *hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), _mm512_set1_epi8(15));
}

AI void u4_q5_1(const struct kern_bq5_1 *b, __m512i *lo, __m512i *hi)
{
    __m512i raw = gather4x16(b[0].qs, b[1].qs, b[2].qs, b[3].qs);
    uint64_t mlo = 0, mhi = 0;
    for (int j = 0; j < 4; j++) {
        uint32_t qh;
        memcpy(&qh, b[j].qh, 4);
        mlo |= (uint64_t)(qh & 0xffff) << (16 * j);
        mhi |= (uint64_t)(qh >> 16) << (16 * j);
    }
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    *lo = _mm512_or_si512(_mm512_and_si512(raw, _mm512_set1_epi8(15)),
                          _mm512_maskz_mov_epi8((__mmask64)mlo, bit4));
    *hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(raw, 4), _mm512_set1_epi8(15)),
                          _mm512_maskz_mov_epi8((__mmask64)mhi, bit4));
}

/* nr (<= P_ROWS) weight rows x nt (<= 4) tokens over one prepared chunk: out[r * 4 + t].
 * The weight rows hold nbc blocks; a last partial quad is copied into a zero-padded buffer
 * (zero scales) so no byte past the row is read. */
#define P_KERNEL(name, WT, u4, HASM, MW)                                                       \
    AI void name(int64_t nbc, const uint8_t *w, size_t wrb, const struct p_quad *p, size_t qs, \
                 int nr, int nt, float *out, size_t pf)                                        \
    {                                                                                          \
        __m512 acc[P_ROWS][KERN_AVX2_NT];                                                      \
        for (int r = 0; r < nr; r++)                                                           \
            for (int t = 0; t < nt; t++)                                                       \
                acc[r][t] = _mm512_setzero_ps();                                               \
        for (int64_t i = 0; i < nbc; i += 4) {                                                 \
            __m512i lo[P_ROWS], hi[P_ROWS];                                                    \
            __m512 dw[P_ROWS], mw[P_ROWS];                                                     \
            for (int r = 0; r < nr; r++) {                                                     \
                const struct WT *b = (const struct WT *)(w + (size_t)r * wrb) + i;             \
                KERN_PF(b, 4 * sizeof *b, pf);                                                 \
                struct WT pad[4];                                                              \
                if (i + 4 > nbc) {                                                             \
                    memset(pad, 0, sizeof pad);                                                \
                    memcpy(pad, b, (size_t)(nbc - i) * sizeof *b);                             \
                    b = pad;                                                                   \
                }                                                                              \
                u4(b, &lo[r], &hi[r]);                                                         \
                dw[r] = quad_dw(b[0].d, b[1].d, b[2].d, b[3].d);                               \
                mw[r] = MW;                                                                    \
            }                                                                                  \
            for (int t = 0; t < nt; t++) {                                                     \
                const int64_t k = i / 4;                                                       \
                const struct p_quad *pq = p + (size_t)t * qs + k;                              \
                __m512i xl = _mm512_load_si512(pq->lo), xh = _mm512_load_si512(pq->hi);        \
                __m512 dv = _mm512_load_ps(pq->dv), cv = _mm512_load_ps(pq->cv);               \
                for (int r = 0; r < nr; r++) {                                                 \
                    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo[r], xl);        \
                    s = _mm512_dpbusd_epi32(s, hi[r], xh);                                     \
                    if (HASM) {                                                                \
                        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(s), dv);                   \
                        acc[r][t] = _mm512_fmadd_ps(v, dw[r], acc[r][t]);                      \
                        acc[r][t] = _mm512_fmadd_ps(cv, mw[r], acc[r][t]);                     \
                    } else {                                                                   \
                        __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), dv, cv);             \
                        acc[r][t] = _mm512_fmadd_ps(v, dw[r], acc[r][t]);                      \
                    }                                                                          \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < nr; r++)                                                           \
            for (int t = 0; t < nt; t++)                                                       \
                out[r * KERN_AVX2_NT + t] = _mm512_reduce_add_ps(acc[r][t]);                   \
    }

/* The m of Q4_1/Q5_1 blocks spread as dw (a macro: the two block types differ). */
#define quad_m(b) quad_dw((b)[0].m, (b)[1].m, (b)[2].m, (b)[3].m)

P_KERNEL(p_k_q4_0, kern_bq4_0, u4_q4_0, 0, _mm512_setzero_ps())
P_KERNEL(p_k_q5_0, kern_bq5_0, u4_q5_0, 0, _mm512_setzero_ps())
P_KERNEL(p_k_q8_0, kern_bq8_0, u4_q8_0, 0, _mm512_setzero_ps())
P_KERNEL(p_k_q4_1, kern_bq4_1, u4_q4_1, 1, quad_m(b))
P_KERNEL(p_k_q5_1, kern_bq5_1, u4_q5_1, 1, quad_m(b))

/* Rows [0, nrows) x n (<= 4) tokens over prepared quads (token t's quads at p + t * qs), into
 * out[t * ldo + r] (added when accumulate: column chunks after the first).  Tiles of constant
 * size so the register tiles are fully unrolled.  One token (generation) is bound by memory:
 * one row at a time keeps the weights a single sequential stream for the prefetcher; several
 * tokens are bound by compute and loads, where P_ROWS rows share each activation load. */
#define P_STORE(nr_, T)                                 \
    for (int rr = 0; rr < (nr_); rr++)                  \
        for (int t = 0; t < (T); t++) {                 \
            float *o = &out[(int64_t)t * ldo + r + rr]; \
            float v = part[rr * KERN_AVX2_NT + t];      \
            *o = accumulate ? *o + v : v;               \
        }
#define P_LOOP(fn, R, T)                                                  \
    for (int64_t r = 0; r < nrows;) {                                     \
        float part[P_ROWS * KERN_AVX2_NT];                                \
        if (nrows - r >= (R)) {                                           \
            fn(nbc, w + (size_t)r * wrb, wrb, p, qs, (R), (T), part, pf); \
            P_STORE(R, T)                                                 \
            r += (R);                                                     \
        } else {                                                          \
            fn(nbc, w + (size_t)r * wrb, wrb, p, qs, 1, (T), part, pf);   \
            P_STORE(1, T)                                                 \
            r += 1;                                                       \
        }                                                                 \
    }
#define P_RUNNER(fn)                                                                        \
    static void fn##_run(int64_t nbc, const uint8_t *w, size_t wrb, int64_t nrows,          \
                         const struct p_quad *p, size_t qs, int n, float *out, int64_t ldo, \
                         int accumulate, size_t pf)                                         \
    {                                                                                       \
        switch (n) {                                                                        \
        case 1:                                                                             \
            P_LOOP(fn, KERN_GEMV_ROWS, 1) break;                                            \
        case 2:                                                                             \
            P_LOOP(fn, P_ROWS, 2) break;                                                    \
        case 3:                                                                             \
            P_LOOP(fn, P_ROWS, 3) break;                                                    \
        default:                                                                            \
            P_LOOP(fn, P_ROWS, 4) break;                                                    \
        }                                                                                   \
    }

P_RUNNER(p_k_q4_0)
P_RUNNER(p_k_q5_0)
P_RUNNER(p_k_q8_0)
P_RUNNER(p_k_q4_1)
P_RUNNER(p_k_q5_1)

typedef void (*p_runner_fn)(int64_t, const uint8_t *, size_t, int64_t, const struct p_quad *,
                            size_t, int, float *, int64_t, int, size_t);

/* Runner and offset for wtype; NULL when it has no prepared-activation kernel. */
static p_runner_fn p_kernel(uint32_t wtype, float *off)
{
    switch (wtype) {
    case KERN_T_Q4_0:
        *off = 8.0f;
        return p_k_q4_0_run;
    case KERN_T_Q5_0:
        *off = 16.0f;
        return p_k_q5_0_run;
    case KERN_T_Q8_0:
        *off = 128.0f;
        return p_k_q8_0_run;
    case KERN_T_Q4_1: /* against Q8_1: no offset, the m * s term instead */
        *off = 0.0f;
        return p_k_q4_1_run;
    case KERN_T_Q5_1:
        *off = 0.0f;
        return p_k_q5_1_run;
    default:
        return NULL;
    }
}

/* Rows [r0, r1) x tokens [0, nt), in groups of KERN_AVX2_NT tokens. */
static void p_run(p_runner_fn kf, int64_t nbc, const uint8_t *w, size_t w_row_bytes, int64_t r0,
                  int64_t r1, const struct p_quad *p, size_t qs, int nt, float *out, int64_t ldo,
                  int accumulate, size_t pf)
{
    for (int t0 = 0; t0 < nt; t0 += KERN_AVX2_NT) {
        int n = nt - t0 < KERN_AVX2_NT ? nt - t0 : KERN_AVX2_NT;
        kf(nbc, w + (size_t)r0 * w_row_bytes, w_row_bytes, r1 - r0, p + (size_t)t0 * qs, qs, n,
           out + (int64_t)t0 * ldo + r0, ldo, accumulate, n == 1 ? pf : 0);
    }
}

/* mul_mat for the prepared types, preparing chunks of columns on the stack.  Returns 0 when
 * wtype has no prepared-activation kernel. */
static int p_mul_mat(uint32_t wtype, const uint8_t *w, size_t w_row_bytes, int64_t ncols,
                     int64_t r0, int64_t r1, const uint8_t *x, size_t x_row_bytes, int nt,
                     float *out, int64_t ldo, size_t pf)
{
    float off;
    p_runner_fn kf = p_kernel(wtype, &off);
    if (!kf)
        return 0;
    _Alignas(64) struct p_quad prep[P_PREP_QUADS];
    size_t bbytes = kern_type_block_bytes(wtype);
    int64_t nb = ncols / KERN_QK;
    for (int t0 = 0; t0 < nt; t0 += KERN_AVX2_NT) {
        int n = nt - t0 < KERN_AVX2_NT ? nt - t0 : KERN_AVX2_NT;
        /* tokens packed back to back (a fixed stride of 16 KiB would alias in L1) */
        size_t qs = (size_t)(P_PREP_QUADS / n), need = (size_t)((nb + 4 - 1) / 4);
        qs = qs < need ? qs : need;
        int64_t chunk = 4 * (int64_t)qs;
        for (int64_t c0 = 0; c0 < nb; c0 += chunk) {
            int64_t nbc = nb - c0 < chunk ? nb - c0 : chunk;
            for (int t = 0; t < n; t++)
                p_prepare_row(wtype, x + (size_t)(t0 + t) * x_row_bytes, c0, nbc, off,
                              prep + (size_t)t * qs);
            p_run(kf, nbc, w + (size_t)c0 * bbytes, w_row_bytes, r0, r1, prep, qs, n,
                  out + (int64_t)t0 * ldo, ldo, c0 > 0, pf);
        }
    }
    return 1;
}

static size_t avx512_prep_bytes(uint32_t wtype, int64_t ncols, int nt)
{
    float off;
    if (!p_kernel(wtype, &off) || ncols <= 0 || ncols % KERN_QK != 0 || nt <= 0)
        return 0;
    uint64_t nq = (uint64_t)(ncols / KERN_QK + 3) / 4;
    if (nq > SIZE_MAX / sizeof(struct p_quad) / (uint64_t)nt)
        return 0;
    return (size_t)(nq * (uint64_t)nt * sizeof(struct p_quad));
}

static void avx512_prepare(uint32_t wtype, const void *x, size_t x_row_bytes, int64_t ncols, int nt,
                           void *prep)
{
    float off;
    if (!p_kernel(wtype, &off))
        return;
    int64_t nb = ncols / KERN_QK;
    size_t nq = (size_t)(nb + 3) / 4;
    for (int t = 0; t < nt; t++)
        p_prepare_row(wtype, (const uint8_t *)x + (size_t)t * x_row_bytes, 0, nb, off,
                      (struct p_quad *)prep + (size_t)t * nq);
}

/* ---- F32 / F16 / BF16 weights against F32 activations, several tokens ----
 * One weight row against up to 4 tokens (the AVX2 kernels) loads an activation vector per FMA,
 * so a prompt or an encoder pass over float weights is bound by loads.  Register tiles of
 * F_R rows x F_T tokens share each converted weight vector among F_T tokens and each
 * activation vector among F_R rows: 4 + 6 loads/converts per 24 FMAs.  Column tails use masked
 * loads (zeros), so no byte past a row is read. */
#define F_R 4
#define F_T 6

AI __m512 f_load(uint32_t wtype, const uint8_t *row, int64_t k, __mmask16 m)
{
    if (wtype == KERN_T_F16)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * k));
    if (wtype == KERN_T_BF16)
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, row + 2 * k)), 16));
    return _mm512_maskz_loadu_ps(m, (const float *)row + k);
}

/* nr (<= F_R) rows from w (stride wrb) x nt (<= F_T) tokens from x (stride xs bytes):
 * out[t * ldo + r] = dot. */
AI void f_tile(uint32_t wtype, const uint8_t *w, size_t wrb, int64_t n, const uint8_t *x, size_t xs,
               int nr, int nt, float *out, int64_t ldo)
{
    __m512 acc[F_R][F_T];
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t k = 0; k < n; k += 16) {
        __mmask16 m = n - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1);
        __m512 wv[F_R];
        for (int r = 0; r < nr; r++)
            wv[r] = f_load(wtype, w + (size_t)r * wrb, k, m);
        for (int t = 0; t < nt; t++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, (const float *)(x + (size_t)t * xs) + k);
            for (int r = 0; r < nr; r++)
                acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++)
            out[(int64_t)t * ldo + r] = _mm512_reduce_add_ps(acc[r][t]);
}

#define F_TILE_T(R, nt_)                                 \
    switch (nt_) {                                       \
    case 1:                                              \
        f_tile(wtype, wr, wrb, n, xt, xs, R, 1, o, ldo); \
        break;                                           \
    case 2:                                              \
        f_tile(wtype, wr, wrb, n, xt, xs, R, 2, o, ldo); \
        break;                                           \
    case 3:                                              \
        f_tile(wtype, wr, wrb, n, xt, xs, R, 3, o, ldo); \
        break;                                           \
    case 4:                                              \
        f_tile(wtype, wr, wrb, n, xt, xs, R, 4, o, ldo); \
        break;                                           \
    case 5:                                              \
        f_tile(wtype, wr, wrb, n, xt, xs, R, 5, o, ldo); \
        break;                                           \
    default:                                             \
        f_tile(wtype, wr, wrb, n, xt, xs, R, 6, o, ldo); \
        break;                                           \
    }

/* Rows [r0, r1) x nt tokens of a float-type matrix, in F_R x F_T tiles. */
static void f_mul_mat_t(uint32_t wtype, const uint8_t *w, size_t wrb, int64_t n, int64_t r0,
                        int64_t r1, const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo)
{
    for (int t0 = 0; t0 < nt; t0 += F_T) {
        int tn = nt - t0 < F_T ? nt - t0 : F_T;
        const uint8_t *xt = x + (size_t)t0 * xs;
        int64_t r = r0;
        for (; r + F_R <= r1; r += F_R) {
            const uint8_t *wr = w + (size_t)r * wrb;
            float *o = out + (int64_t)t0 * ldo + r;
            F_TILE_T(F_R, tn)
        }
        for (; r < r1; r++) {
            const uint8_t *wr = w + (size_t)r * wrb;
            float *o = out + (int64_t)t0 * ldo + r;
            F_TILE_T(1, tn)
        }
    }
}

/* Specialised per type so the loads inline; returns 0 for other types. */
static int f_mul_mat(uint32_t wtype, const uint8_t *w, size_t wrb, int64_t n, int64_t r0,
                     int64_t r1, const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo)
{
    switch (wtype) {
    case KERN_T_F32:
        f_mul_mat_t(KERN_T_F32, w, wrb, n, r0, r1, x, xs, nt, out, ldo);
        return 1;
    case KERN_T_F16:
        f_mul_mat_t(KERN_T_F16, w, wrb, n, r0, r1, x, xs, nt, out, ldo);
        return 1;
    case KERN_T_BF16:
        f_mul_mat_t(KERN_T_BF16, w, wrb, n, r0, r1, x, xs, nt, out, ldo);
        return 1;
    default:
        return 0;
    }
}

/* ---- packed Q8_0 (KERN_T_Q8_0_X8, kern_pack.c) with VNNI ----
 * Every packed type has a kernel here (the AVX2 ones, kern__avx2_mul_mat_packed, remain the
 * fallback for a shape these refuse).  Q8_0_X8: a 64-byte load holds 4 codes of the 8 rows for two
 * groups, g in lanes 0-7 and g + 1 in 8-15, against the token's quads g and g + 1 (one permute of a
 * 16-byte load).  vpdpbusd multiplies unsigned by signed bytes: the activation goes in as x + 128
 * (x is never -128) and the signed codes as they are, and 128 x the rows' code sums (one more
 * vpdpbusd per load, shared by the tokens) comes off once per block; 16 float lanes per token, the
 * halves added at the end.  Per 64 weight bytes and token: 2 ops (1 more per load), where |w| x
 * sign(x, w) took 4 and the AVX2 kernel takes 8 for 32. */
#define Z_NT KERN_PK_NT
/* Prefetch distance of these kernels in one-token products (the _pf table): twice KERN_PF_DIST.
 * On the Intel VM (model 207), 2 threads, generation with 4096 against 2048 bytes ahead,
 * alternating builds: TinyLlama Q4_K_M 41.4-45.1 -> 44.3-46.2 tok/s, Q8_0 25.1-26.8 ->
 * 27.7-28.6, Qwen2.5-0.5B Q4_K_M 69.6-73.7 -> 73.6-75.5; 1 thread unchanged (22.8-23.4).
 * These kernels stream 8 rows at once and faster than the row kernels, so the same lead in
 * time is more bytes. */
#define Z_PF_DIST (2 * KERN_PF_DIST)
/* ... into L2 (prefetcht1), where the row kernels' KERN_PF_HINT goes to L1: a prefetch to L1
 * holds one of the core's few line-fill buffers until its line arrives, and these kernels
 * stalled on exactly that (perf annotate, Q4_0 at 2 threads: 66 % of the kernel's samples on
 * the instruction after the prefetch).  Intel model 207, both hints in one process, 16-token
 * rounds alternating (30-60 rounds), generation with T1 against T0: 2 threads TinyLlama Q4_0
 * 1.065x, Q4_K_M 1.039x, Q8_0 1.079x, Qwen2.5-0.5B Q4_K_M 1.013x, Q8_0 1.071x; 1 thread
 * TinyLlama Q4_0 1.067x. */
#ifndef Z_PF_HINT
#define Z_PF_HINT _MM_HINT_T1
#endif

/* Permute indexes putting activation dword k in lanes 0-7 and k + 1 in lanes 8-15 (k even). */
static const int32_t z_sel_idx[4][16] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
    {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
    {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
};

/* Activation dwords k, k + 1 of xq (k even) in the lane halves. */
AI __m512i z_pair(int k, __m512i xq)
{
    return _mm512_permutexvar_epi32(_mm512_load_si512((const void *)z_sel_idx[k / 2]), xq);
}

/* Up to Z_NT tokens against the 8 rows of b: out[t] lane r = dot(row r, token t). */
AI void z8_run(int64_t nb, const struct kern_bq8_0x8 *b, const uint8_t *x, size_t xs, size_t pf,
               int nt, __m256 *out)
{
    __m512 acc[Z_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    /* one prefetch per cache line (a block is 4.25 lines; KERN_PF would ask for 5) */
    uintptr_t pfl = ((uintptr_t)b + pf) & ~(uintptr_t)63;
    for (int64_t i = 0; i < nb; i++, b++) {
        if (nt == 1 && pf)
            for (; pfl < (uintptr_t)(b + 1) + pf; pfl += 64)
                _mm_prefetch((const char *)pfl, Z_PF_HINT);
        __m512i is[Z_NT];
        for (int t = 0; t < nt; t++)
            is[t] = _mm512_setzero_si512();
        __m512i ws = _mm512_setzero_si512(); /* the rows' code sums (per lane half) */
        for (int h = 0; h < 2; h++) {
            __m512i xq[Z_NT];
            for (int t = 0; t < nt; t++) {
                const struct kern_bq8_0 *bx = (const struct kern_bq8_0 *)(x + (size_t)t * xs) + i;
                __m128i a = _mm_loadu_si128((const __m128i *)(bx->qs + 16 * h));
                xq[t] = _mm512_castsi128_si512(_mm_xor_si128(a, _mm_set1_epi8((char)0x80)));
            }
            for (int p = 0; p < 2; p++) {
                __m512i w = _mm512_loadu_si512((const void *)(b->qs + 128 * h + 64 * p));
                ws = _mm512_dpbusd_epi32(ws, _mm512_set1_epi8(1), w);
                for (int t = 0; t < nt; t++)
                    is[t] = _mm512_dpbusd_epi32(is[t], z_pair(2 * p, xq[t]), w);
            }
        }
        ws = _mm512_slli_epi32(ws, 7);
        for (int t = 0; t < nt; t++)
            is[t] = _mm512_sub_epi32(is[t], ws);
        __m512 d =
            _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b->d)));
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_0 *bx = (const struct kern_bq8_0 *)(x + (size_t)t * xs) + i;
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[t]),
                                     _mm512_mul_ps(d, _mm512_set1_ps(h2f(bx->d))), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = _mm256_add_ps(_mm512_castps512_ps256(acc[t]), _mm512_extractf32x8_ps(acc[t], 1));
}


/* The fifth bits of groups 2j (lanes 0-7) and 2j + 1 (8-15) into bit 4 of the low and high
 * nibble codes: h holds the 32 qh bytes of the 8 rows in both halves (bit g: element 4g + e,
 * bit 4 + g: 16 + 4g + e), shifted per half by a variable count. */
AI void z_fifth(__m512i h, int j, __m512i *lo, __m512i *hi)
{
    const __m512i x10 = _mm512_set1_epi8(0x10);
    const __m512i cl = _mm512_setr_epi64(4 - 2 * j, 4 - 2 * j, 4 - 2 * j, 4 - 2 * j, 3 - 2 * j,
                                         3 - 2 * j, 3 - 2 * j, 3 - 2 * j);
    const __m512i ch =
        _mm512_setr_epi64(2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1);
    *lo = _mm512_or_si512(*lo, _mm512_and_si512(_mm512_sllv_epi64(h, cl), x10));
    *hi = _mm512_or_si512(*hi, _mm512_and_si512(_mm512_srlv_epi64(h, ch), x10));
}

/* ---- packed Q4_0 / Q5_0 (KERN_T_Q4_0_X8 / Q5_0_X8) with VNNI ----
 * The z8 scheme with unsigned codes: a 64-byte load holds groups g, g + 1 (elements 4g.. in the
 * low nibbles, 16 + 4g.. in the high ones) of the 8 rows, both nibble vectors go into vpdpbusd
 * as they are, and the offset (8 or 16) times the token's block sum is taken off the low half's
 * lanes once per block (the sums and the tokens' scales made once per call, zb_tokens).
 * Q5_0's fifth bits: the 32 qh bytes in both halves, shifted per half by a variable count. */
#define ZB_MAX_BLOCKS 1024 /* as the AVX2 kernels: wider matrices are never packed */

struct zb_tok {
    float d;
    int32_t off;
};

static void zb_tokens(const uint8_t *x, size_t xs, int64_t nb, int nt, int off, struct zb_tok *tk)
{
    const __m256i ones8 = _mm256_set1_epi8(1);
    for (int t = 0; t < nt; t++)
        for (int64_t i = 0; i < nb; i++) {
            const struct kern_bq8_0 *bx = (const struct kern_bq8_0 *)(x + (size_t)t * xs) + i;
            __m256i a = _mm256_loadu_si256((const __m256i *)bx->qs);
            int sum = hsum_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ones8, a));
            tk[(size_t)t * ZB_MAX_BLOCKS + i] = (struct zb_tok){h2f(bx->d), off * sum};
        }
}

/* Up to Z_NT tokens against the 8 rows of b (Q4_0_X8, or Q5_0_X8 with has_qh). */
AI void zb_run(int has_qh, int64_t nb, const uint8_t *b, const uint8_t *x, size_t xs,
               const struct zb_tok *tk, size_t pf, int nt, __m256 *out)
{
    const size_t bb = has_qh ? sizeof(struct kern_bq5_0x8) : sizeof(struct kern_bq4_0x8);
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512 acc[Z_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    uintptr_t pfl = ((uintptr_t)b + pf) & ~(uintptr_t)63;
    for (int64_t i = 0; i < nb; i++, b += bb) {
        if (nt == 1 && pf)
            for (; pfl < (uintptr_t)(b + bb) + pf; pfl += 64)
                _mm_prefetch((const char *)pfl, Z_PF_HINT);
        const uint8_t *qs = b + (has_qh ? 48 : 16);
        __m512i h = has_qh ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + 16)))
                           : _mm512_setzero_si512();
        __m512i xq[Z_NT], is[Z_NT];
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_0 *bx = (const struct kern_bq8_0 *)(x + (size_t)t * xs) + i;
            xq[t] = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)bx->qs));
            is[t] = _mm512_setzero_si512();
        }
        for (int j = 0; j < 2; j++) {
            __m512i v = _mm512_loadu_si512((const void *)(qs + 64 * j));
            __m512i lo = _mm512_and_si512(v, m4),
                    hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            if (has_qh)
                z_fifth(h, j, &lo, &hi);
            for (int t = 0; t < nt; t++) {
                is[t] = _mm512_dpbusd_epi32(is[t], lo, z_pair(2 * j, xq[t]));
                is[t] = _mm512_dpbusd_epi32(is[t], hi, z_pair(4 + 2 * j, xq[t]));
            }
        }
        __m512 d =
            _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b)));
        for (int t = 0; t < nt; t++) {
            const struct zb_tok *k = tk + (size_t)t * ZB_MAX_BLOCKS + i;
            __m512i v = _mm512_mask_sub_epi32(is[t], 0x00ff, is[t], _mm512_set1_epi32(k->off));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(d, _mm512_set1_ps(k->d)),
                                     acc[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = _mm256_add_ps(_mm512_castps512_ps256(acc[t]), _mm512_extractf32x8_ps(acc[t], 1));
}

/* mul_mat for Q4_0_X8 / Q5_0_X8: per chunk of Z_NT tokens, their sums, then every group. */
static void zb_mul_mat(int has_qh, const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0,
                       int64_t r1, const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo,
                       size_t pf)
{
    int64_t nb = ncols / KERN_QK;
    struct zb_tok tk[Z_NT * ZB_MAX_BLOCKS];
    for (int t0 = 0; t0 < nt; t0 += Z_NT) {
        int n = nt - t0 < Z_NT ? nt - t0 : Z_NT;
        const uint8_t *xt = x + (size_t)t0 * xs;
        zb_tokens(xt, xs, nb, n, has_qh ? 16 : 8, tk);
        for (int64_t g0 = r0 / 8 * 8; g0 < r1; g0 += 8) {
            const uint8_t *b = w + (size_t)g0 * wrb;
            __m256 acc[Z_NT];
            KERN_PK_NT_SWITCH(zb_run, n, has_qh, nb, b, xt, xs, tk, pf)
            kern_pk_store(acc, n, g0, r0, r1, out + (int64_t)t0 * ldo, ldo);
        }
    }
}

/* ---- packed Q4_K / Q5_K (KERN_T_Q4_K_X8 / Q5_K_X8) with VNNI ----
 * Per 32-element sub-block: the zb scheme (two 64-byte loads, low and high nibbles into
 * vpdpbusd against the sub-block's activation dwords, lanes 0-7 and 8-15 the two group halves of
 * the 8 rows), then one vpdpwssd by the rows' sub-block scales (words (sc, 0)): the 16 products
 * per lane of a Q4_K sub-block fit 16 bits (16 x 15 x 127 < 2^15), Q5_K's 8 per load do
 * (8 x 31 x 127), so Q5_K scales after each load.  The mins in 8 lanes as the AVX2 kernel. */
AI void zk_run(int q5, int64_t nbk, const uint8_t *blk, const uint8_t *x, size_t xs, size_t pf,
               int nt, __m256 *out)
{
    const size_t bb = q5 ? sizeof(struct kern_bq5_kx8) : sizeof(struct kern_bq4_kx8);
    const size_t qo = offsetof(struct kern_bq4_kx8, qs) + (q5 ? 256 : 0), ho = qo - 256;
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512 acc[Z_NT];
    __m256 accm[Z_NT];
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm512_setzero_ps();
        accm[t] = _mm256_setzero_ps();
    }
    uintptr_t pfl = ((uintptr_t)blk + pf) & ~(uintptr_t)63;
    for (int64_t i = 0; i < nbk; i++, blk += bb) {
        if (nt == 1 && pf)
            for (; pfl < (uintptr_t)(blk + bb) + pf; pfl += 64)
                _mm_prefetch((const char *)pfl, Z_PF_HINT);
        const struct kern_bq4_kx8 *b = (const void *)blk; /* the head of both types */
        __m512i isum[Z_NT];
        for (int t = 0; t < nt; t++)
            isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 1
        for (int s = 0; s < 8; s++) {
            int64_t sc8;
            memcpy(&sc8, b->sc + 8 * s, 8);
            const __m512i scw = _mm512_cvtepu8_epi32(_mm_set1_epi64x(sc8));
            __m512i xq[Z_NT], isb[Z_NT];
            for (int t = 0; t < nt; t++) {
                const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
                xq[t] =
                    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(bx->qs + 32 * s)));
                isb[t] = _mm512_setzero_si512();
            }
            __m512i h = q5 ? _mm512_broadcast_i64x4(
                                 _mm256_loadu_si256((const __m256i *)(blk + ho + 32 * s)))
                           : _mm512_setzero_si512();
            for (int j = 0; j < 2; j++) {
                __m512i v = _mm512_loadu_si512((const void *)(blk + qo + 128 * s + 64 * j));
                __m512i lo = _mm512_and_si512(v, m4);
                __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                if (q5)
                    z_fifth(h, j, &lo, &hi);
                for (int t = 0; t < nt; t++) {
                    __m512i d = q5 ? _mm512_setzero_si512() : isb[t];
                    d = _mm512_dpbusd_epi32(d, lo, z_pair(2 * j, xq[t]));
                    d = _mm512_dpbusd_epi32(d, hi, z_pair(4 + 2 * j, xq[t]));
                    if (q5)
                        isum[t] = _mm512_dpwssd_epi32(isum[t], d, scw);
                    else
                        isb[t] = d;
                }
            }
            if (!q5)
                for (int t = 0; t < nt; t++)
                    isum[t] = _mm512_dpwssd_epi32(isum[t], isb[t], scw);
        }
        __m512 d16 =
            _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b->d)));
        __m256 m8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            __m256i ms = kern_pk_k4_mins(b->mn, bx->bsums);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]),
                                     _mm512_mul_ps(d16, _mm512_set1_ps(bx->d)), acc[t]);
            accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ms),
                                      _mm256_mul_ps(m8, _mm256_set1_ps(bx->d)), accm[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = _mm256_sub_ps(
            _mm256_add_ps(_mm512_castps512_ps256(acc[t]), _mm512_extractf32x8_ps(acc[t], 1)),
            accm[t]);
}


/* ---- packed Q6_K (KERN_T_Q6_K_X8) with VNNI ----
 * Per span m of 32 elements (sub-blocks 2m: the low nibbles, 2m + 1: the high ones): two 64-byte
 * loads of groups (0, 1) and (2, 3) in the lane halves, the top bits from the span's two top-bit
 * rows shifted per half, the 6-bit codes into vpdpbusd (4 products per lane: 4 x 63 x 127 fits
 * 16 bits) and each result scaled by vpdpwssd with the rows' signed sub-block scales.  The codes'
 * offset: 32 x sum over sub-blocks of scale x the activation's block sum, in 8 lanes. */
AI void z6_run(int64_t nbk, const struct kern_bq6_kx8 *b, const uint8_t *x, size_t xs, size_t pf,
               int nt, __m256 *out)
{
    const __m512i m4 = _mm512_set1_epi8(15), x30 = _mm512_set1_epi8(0x30);
    const __m256i mlo = _mm256_set1_epi32(0xffff);
    /* top bits 2g, 2g + 1 to 4, 5: groups 0 and 1 (j = 0) shift left 4 and 2, 2 and 3 right 0
     * and 2 */
    const __m512i tl = _mm512_setr_epi64(4, 4, 4, 4, 2, 2, 2, 2);
    const __m512i tr = _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2);
    __m512 acc[Z_NT];
    __m256 acco[Z_NT];
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm512_setzero_ps();
        acco[t] = _mm256_setzero_ps();
    }
    uintptr_t pfl = ((uintptr_t)b + pf) & ~(uintptr_t)63;
    for (int64_t i = 0; i < nbk; i++, b++) {
        if (nt == 1 && pf)
            for (; pfl < (uintptr_t)(b + 1) + pf; pfl += 64)
                _mm_prefetch((const char *)pfl, Z_PF_HINT);
        __m512i isum[Z_NT];
        __m256i ioff[Z_NT];
        for (int t = 0; t < nt; t++) {
            isum[t] = _mm512_setzero_si512();
            ioff[t] = _mm256_setzero_si256();
        }
#pragma GCC unroll 1
        for (int m = 0; m < 8; m++) {
            const uint8_t *q = b->qs + 192 * m;
            /* per row the scale pair (sc 2m, sc 2m + 1) as words; each as (sc, 0) in 16 lanes */
            __m256i sw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b->sc + 16 * m)));
            __m512i s0 = _mm512_broadcast_i64x4(_mm256_and_si256(sw, mlo));
            __m512i s1 = _mm512_broadcast_i64x4(_mm256_srli_epi32(sw, 16));
            __m512i t0 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(q + 128)));
            __m512i t1 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(q + 160)));
            __m512i xq[Z_NT];
            for (int t = 0; t < nt; t++) {
                const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
                xq[t] =
                    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(bx->qs + 32 * m)));
                int32_t bp;
                memcpy(&bp, bx->bsums + 2 * m, 4);
                ioff[t] = _mm256_dpwssd_epi32(ioff[t], sw, _mm256_set1_epi32(bp));
            }
            for (int j = 0; j < 2; j++) {
                __m512i v = _mm512_loadu_si512((const void *)(q + 64 * j));
                __m512i h0 = j ? _mm512_srlv_epi64(t0, tr) : _mm512_sllv_epi64(t0, tl);
                __m512i h1 = j ? _mm512_srlv_epi64(t1, tr) : _mm512_sllv_epi64(t1, tl);
                __m512i lo = _mm512_or_si512(_mm512_and_si512(v, m4), _mm512_and_si512(h0, x30));
                __m512i hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4),
                                             _mm512_and_si512(h1, x30));
                for (int t = 0; t < nt; t++) {
                    __m512i a =
                        _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, z_pair(2 * j, xq[t]));
                    isum[t] = _mm512_dpwssd_epi32(isum[t], a, s0);
                    a = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi, z_pair(4 + 2 * j, xq[t]));
                    isum[t] = _mm512_dpwssd_epi32(isum[t], a, s1);
                }
            }
        }
        __m512 d16 =
            _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b->d)));
        __m256 d8 = _mm512_castps512_ps256(d16);
        for (int t = 0; t < nt; t++) {
            float dx = ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->d;
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]),
                                     _mm512_mul_ps(d16, _mm512_set1_ps(dx)), acc[t]);
            acco[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ioff[t]),
                                      _mm256_mul_ps(d8, _mm256_set1_ps(32.0f * dx)), acco[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = _mm256_sub_ps(
            _mm256_add_ps(_mm512_castps512_ps256(acc[t]), _mm512_extractf32x8_ps(acc[t], 1)),
            acco[t]);
}


/* mul_mat for Q8_0_X8, Q6_K_X8, Q4_K_X8 and Q5_K_X8 (wtype, a constant where inlined): rows
 * [r0, r1) in whole 8-row groups (of a partial group at either end only the rows in range are
 * stored), Z_NT tokens per weight pass. */
AI void z_mul_mat(uint32_t wtype, const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0,
                  int64_t r1, const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo,
                  size_t pf)
{
    int64_t nb = ncols / (wtype == KERN_T_Q8_0_X8 ? KERN_QK : KERN_QK_K);
    for (int64_t g0 = r0 / 8 * 8; g0 < r1; g0 += 8) {
        const uint8_t *b = w + (size_t)g0 * wrb;
        for (int t0 = 0; t0 < nt; t0 += Z_NT) {
            int n = nt - t0 < Z_NT ? nt - t0 : Z_NT;
            const uint8_t *xt = x + (size_t)t0 * xs;
            __m256 acc[Z_NT];
            if (wtype == KERN_T_Q8_0_X8) {
                KERN_PK_NT_SWITCH(z8_run, n, nb, (const struct kern_bq8_0x8 *)b, xt, xs, pf)
            } else if (wtype == KERN_T_Q6_K_X8) {
                KERN_PK_NT_SWITCH(z6_run, n, nb, (const struct kern_bq6_kx8 *)b, xt, xs, pf)
            } else {
                KERN_PK_NT_SWITCH(zk_run, n, wtype == KERN_T_Q5_K_X8, nb, b, xt, xs, pf)
            }
            kern_pk_store(acc, n, g0, r0, r1, out + (int64_t)t0 * ldo, ldo);
        }
    }
}

/* One function per type, so each is compiled (and laid out) on its own. */
static void z8_mul_mat(const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0, int64_t r1,
                       const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo, size_t pf)
{
    z_mul_mat(KERN_T_Q8_0_X8, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
}

static void z6_mul_mat(const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0, int64_t r1,
                       const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo, size_t pf)
{
    z_mul_mat(KERN_T_Q6_K_X8, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
}

static void zk4_mul_mat(const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0, int64_t r1,
                        const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo, size_t pf)
{
    z_mul_mat(KERN_T_Q4_K_X8, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
}

static void zk5_mul_mat(const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0, int64_t r1,
                        const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo, size_t pf)
{
    z_mul_mat(KERN_T_Q5_K_X8, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
}

/* pf: prefetch distance for one-token products (0 = none; see KERN_PF). */
static void mul_mat_prep_pf(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols,
                            int64_t r0, int64_t r1, const void *prep, int nt, float *out,
                            int64_t ldo, size_t pf)
{
    float off;
    p_runner_fn kf = p_kernel(wtype, &off);
    if (!kf)
        return;
    int64_t nb = ncols / KERN_QK;
    size_t nq = (size_t)(nb + 3) / 4;
    p_run(kf, nb, w, w_row_bytes, r0, r1, prep, nq, nt, out, ldo, 0, pf);
}

static float avx512_vec_dot(uint32_t wtype, int64_t n, const void *w, const void *x)
{
    float out;
    if (p_mul_mat(wtype, w, 0, n, 0, 1, x, 0, 1, &out, 1, 0))
        return out;
    if (row_dot(wtype, n, w, x, 0, 1, &out, 0))
        return out;
    return kern__ref_vec_dot(wtype, n, w, x);
}

static void mul_mat_pf(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols, int64_t r0,
                       int64_t r1, const void *x, size_t x_row_bytes, int nt, float *out,
                       int64_t ldo, size_t pf)
{
    const uint8_t *wb = w, *xb = x;
    float tmp[KERN_AVX2_NT];
    pf = nt == 1 ? pf : 0;
    if (kern_pack_base(wtype)) /* the packed kernels below prefetch farther (Z_PF_DIST) */
        pf = pf ? Z_PF_DIST : 0;
    if (wtype == KERN_T_Q8_0_X8) {
        z8_mul_mat(w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo, pf);
        return;
    }
    if (wtype == KERN_T_Q6_K_X8) {
        z6_mul_mat(w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo, pf);
        return;
    }
    if (wtype == KERN_T_Q4_K_X8 || wtype == KERN_T_Q5_K_X8) {
        (wtype == KERN_T_Q4_K_X8 ? zk4_mul_mat : zk5_mul_mat)(w, w_row_bytes, ncols, r0, r1, x,
                                                              x_row_bytes, nt, out, ldo, pf);
        return;
    }
    if ((wtype == KERN_T_Q4_0_X8 || wtype == KERN_T_Q5_0_X8) && ncols / KERN_QK <= ZB_MAX_BLOCKS) {
        zb_mul_mat(wtype == KERN_T_Q5_0_X8, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out,
                   ldo, pf);
        return;
    }
    if (kern__avx2_mul_mat_packed(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out,
                                  ldo, pf))
        return;
    if (p_mul_mat(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo, pf))
        return;
    if (nt > 1 && f_mul_mat(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo))
        return;

    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = wb + (size_t)r * w_row_bytes;
        for (int t0 = 0; t0 < nt; t0 += KERN_AVX2_NT) {
            int n = nt - t0 < KERN_AVX2_NT ? nt - t0 : KERN_AVX2_NT;
            const uint8_t *xt = xb + (size_t)t0 * x_row_bytes;
            if (!row_dot(wtype, ncols, wr, xt, x_row_bytes, n, tmp, pf))
                for (int t = 0; t < n; t++)
                    tmp[t] = kern__ref_vec_dot(wtype, ncols, wr, xt + (size_t)t * x_row_bytes);
            for (int t = 0; t < n; t++)
                out[(int64_t)(t0 + t) * ldo + r] = tmp[t];
        }
    }
}

static void avx512_mul_mat(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols,
                           int64_t r0, int64_t r1, const void *x, size_t x_row_bytes, int nt,
                           float *out, int64_t ldo)
{
    mul_mat_pf(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo, 0);
}

static void avx512_mul_mat_prep(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols,
                                int64_t r0, int64_t r1, const void *prep, int nt, float *out,
                                int64_t ldo)
{
    mul_mat_prep_pf(wtype, w, w_row_bytes, ncols, r0, r1, prep, nt, out, ldo, 0);
}

static void avx512_mul_mat_pf(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols,
                              int64_t r0, int64_t r1, const void *x, size_t x_row_bytes, int nt,
                              float *out, int64_t ldo)
{
    mul_mat_pf(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo, KERN_PF_DIST);
}

static void avx512_mul_mat_prep_pf(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols,
                                   int64_t r0, int64_t r1, const void *prep, int nt, float *out,
                                   int64_t ldo)
{
    mul_mat_prep_pf(wtype, w, w_row_bytes, ncols, r0, r1, prep, nt, out, ldo, KERN_PF_DIST);
}

const struct kern kern__table_avx512 = {
    .isa = KERN_ISA_AVX512,
    .name = "avx512",
    .vec_dot_type = kern__ref_vec_dot_type,
    .quantize_row = kern__avx2_quantize_row,
    .dequantize_row = kern__ref_dequantize_row,
    .vec_dot = avx512_vec_dot,
    .mul_mat = avx512_mul_mat,
    .prep_bytes = avx512_prep_bytes,
    .prepare = avx512_prepare,
    .mul_mat_prep = avx512_mul_mat_prep,
    .pack_type = kern__avx2_pack_type,
};

/* The same with software prefetch in one-token products (kern_dispatch.c). */
const struct kern kern__table_avx512_pf = {
    .isa = KERN_ISA_AVX512,
    .name = "avx512+prefetch",
    .vec_dot_type = kern__ref_vec_dot_type,
    .quantize_row = kern__avx2_quantize_row,
    .dequantize_row = kern__ref_dequantize_row,
    .vec_dot = avx512_vec_dot,
    .mul_mat = avx512_mul_mat_pf,
    .prep_bytes = avx512_prep_bytes,
    .prepare = avx512_prepare,
    .mul_mat_prep = avx512_mul_mat_prep_pf,
    .pack_type = kern__avx2_pack_type,
};

#endif

/*
 * kern_x86_avx2.c - AVX2 + FMA + F16C kernels (compiled with those flags; chosen at run time).
 *
 * Every dot kernel is written as "one weight row against up to A2_NT activation rows":
 * each weight block is loaded and unpacked once into registers and then multiplied with the
 * matching block of each token, so prompt processing reads the weights once per 8 tokens (the
 * K-quants) or 4 (row_nt) and generation (nt = 1) uses the same code.  Integer dots use the sign
 * trick (|w| as u8 times sign(x, w) as i8 in vpmaddubsw, then vpmaddwd to i32); unsigned weight
 * codes (Q4_1, Q5_1, K-quants) go straight into vpmaddubsw, their offsets/mins handled with the
 * activation block sums (Q8_1 s, Q8_K bsums).  Per-block float scales are applied with one FMA per
 * block. Q4_0/Q5_0/Q8_0 instead prepare the activations once per mul_mat chunk (see y_prepare) so
 * that the per-block float work is shared by every weight row.  F32/F16/BF16 weights run in
 * register tiles of several rows and tokens (f2_tile).  Q2_K/Q3_K decode their 16 sub-block scales
 * in SIMD.  Types without a kernel here use the scalar reference.  Matrices packed at load
 * (avx2_pack_type: Q4_0/Q5_0/Q8_0/Q4_K/Q5_K/Q6_K, 8 rows interleaved, kern_pack.c) take the p*_run
 * kernels below instead, 8 rows in the 8 lanes against up to 4 tokens.
 */
#include "engine/kern/kern_int.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>

/* Tokens per weight row in the row kernels here: 8 for the K-quants, whose super-block decode
 * (scales, mins, nibbles) then serves twice the products (Zen 3, bench_kern 32 tokens: Q4_K
 * 46 -> 48-50 GMAC/s, Q5_K/Q6_K +4-5 %); the other types keep KERN_AVX2_NT (row_nt). */
#define A2_NT       8
#define KERN_ROW_NT A2_NT
#include "engine/kern/kern_avx_common.h"

/* ---- float types ---- */

AI void k_f32(int64_t n, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out,
              size_t pf)
{
    __m256 acc[A2_NT][2];
    for (int t = 0; t < nt; t++)
        acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        KERN_PF(w + 4 * i, 64, pf);
        __m256 w0 = _mm256_loadu_ps((const float *)w + i),
               w1 = _mm256_loadu_ps((const float *)w + i + 8);
        for (int t = 0; t < nt; t++) {
            const float *xt = (const float *)(x + (size_t)t * xs);
            acc[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt + i), acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + i + 8), acc[t][1]);
        }
    }
    for (int t = 0; t < nt; t++) {
        const float *xt = (const float *)(x + (size_t)t * xs);
        float s = hsum_ps(_mm256_add_ps(acc[t][0], acc[t][1]));
        for (int64_t j = i; j < n; j++)
            s += kern__ldf(w, j) * kern__ldf(xt, j);
        out[t] = s;
    }
}

AI __m256 load_f16x8(const uint8_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

AI __m256 load_bf16x8(const uint8_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

#define K_HALF(name, loader, conv)                                                             \
    AI void name(int64_t n, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out, \
                 size_t pf)                                                                    \
    {                                                                                          \
        __m256 acc[A2_NT][2];                                                                  \
        for (int t = 0; t < nt; t++)                                                           \
            acc[t][0] = acc[t][1] = _mm256_setzero_ps();                                       \
        int64_t i = 0;                                                                         \
        for (; i + 16 <= n; i += 16) {                                                         \
            KERN_PF(w + 2 * i, 32, pf);                                                        \
            __m256 w0 = loader(w + 2 * i), w1 = loader(w + 2 * i + 16);                        \
            for (int t = 0; t < nt; t++) {                                                     \
                const float *xt = (const float *)(x + (size_t)t * xs);                         \
                acc[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt + i), acc[t][0]);           \
                acc[t][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + i + 8), acc[t][1]);       \
            }                                                                                  \
        }                                                                                      \
        for (int t = 0; t < nt; t++) {                                                         \
            const float *xt = (const float *)(x + (size_t)t * xs);                             \
            float s = hsum_ps(_mm256_add_ps(acc[t][0], acc[t][1]));                            \
            for (int64_t j = i; j < n; j++) {                                                  \
                uint16_t h;                                                                    \
                memcpy(&h, w + 2 * j, 2);                                                      \
                s += conv(h) * kern__ldf(xt, j);                                               \
            }                                                                                  \
            out[t] = s;                                                                        \
        }                                                                                      \
    }

K_HALF(k_f16, load_f16x8, kern_fp16_to_f32)
K_HALF(k_bf16, load_bf16x8, kern_bf16_to_f32)

/* ---- 32-element block types against Q8_0 / Q8_1 ---- */

/* Signed w (as i8) times signed x: sum of products per 32-bit lane. */
AI __m256i dot_i8(__m256i w, __m256i x)
{
    __m256i aw = _mm256_sign_epi8(w, w);
    __m256i sx = _mm256_sign_epi8(x, w);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), _mm256_set1_epi16(1));
}

/* Unsigned w codes (0..31) times signed x. */
AI __m256i dot_u8(__m256i w, __m256i x)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

K_B32(k_q8_0, kern_bq8_0, kern_bq8_0, _mm256_loadu_si256((const __m256i *)bw->qs), dot_i8, (void)0)
K_B32(k_q4_0, kern_bq4_0, kern_bq8_0, _mm256_sub_epi8(unpack_nibbles(bw->qs), _mm256_set1_epi8(8)),
      dot_i8, (void)0)
K_B32(k_q5_0, kern_bq5_0, kern_bq8_0,
      _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(bw->qs), expand_bits_0x10(bw->qh)),
                      _mm256_set1_epi8(16)),
      dot_i8, (void)0)
K_B32(k_q4_1, kern_bq4_1, kern_bq8_1, unpack_nibbles(bw->qs), dot_u8,
      ext[t] += h2f(bw->m) * h2f(bx->s))
K_B32(k_q5_1, kern_bq5_1, kern_bq8_1,
      _mm256_or_si256(unpack_nibbles(bw->qs), expand_bits_0x10(bw->qh)), dot_u8,
      ext[t] += h2f(bw->m) * h2f(bx->s))

/* ---- K-quants against Q8_K ---- */

AI void k_q4_k(int64_t nb, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out,
               size_t pf)
{
    __m256 acc[A2_NT], accm[A2_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = accm[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t i = 0; i < nb; i++) {
        const struct kern_bq4_k *bw = (const struct kern_bq4_k *)w + i;
        KERN_PF(bw, sizeof *bw, pf);
        __m128i scm = kern_avx_k4_scales(bw->scales);
        __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scm, scm));
        __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scm));
        __m256i isum[A2_NT];
        for (int t = 0; t < nt; t++)
            isum[t] = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(bw->qs + 32 * j));
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i slo = _mm256_shuffle_epi8(sc16, kern_avx_word_pick(2 * j));
            __m256i shi = _mm256_shuffle_epi8(sc16, kern_avx_word_pick(2 * j + 1));
            for (int t = 0; t < nt; t++) {
                const int8_t *a =
                    ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs + 64 * j;
                __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)a));
                __m256i p1 =
                    _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(a + 32)));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p0, slo));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p1, shi));
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

AI void k_q5_k(int64_t nb, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out,
               size_t pf)
{
    __m256 acc[A2_NT], accm[A2_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = accm[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15), m1 = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < nb; i++) {
        const struct kern_bq5_k *bw = (const struct kern_bq5_k *)w + i;
        KERN_PF(bw, sizeof *bw, pf);
        __m128i scm = kern_avx_k4_scales(bw->scales);
        __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scm, scm));
        __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scm));
        __m256i isum[A2_NT];
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
            __m256i slo = _mm256_shuffle_epi8(sc16, kern_avx_word_pick(2 * j));
            __m256i shi = _mm256_shuffle_epi8(sc16, kern_avx_word_pick(2 * j + 1));
            for (int t = 0; t < nt; t++) {
                const int8_t *a =
                    ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs + 64 * j;
                __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)a));
                __m256i p1 =
                    _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(a + 32)));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p0, slo));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p1, shi));
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

/* vpshufb index: word 2j of each lane in the low 128 bits, word 2j+1 in the high 128 bits. */
AI __m256i pair_pick(int j)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)((4 * j + 2) | (4 * j + 3) << 8)),
                            _mm_set1_epi16((short)((4 * j) | (4 * j + 1) << 8)));
}

AI void k_q6_k(int64_t nb, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out,
               size_t pf)
{
    __m256 acc[A2_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
    for (int64_t i = 0; i < nb; i++) {
        const struct kern_bq6_k *bw = (const struct kern_bq6_k *)w + i;
        KERN_PF(bw, sizeof *bw, pf);
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)bw->scales));
        /* scales 0-7, then 8-15, in both 128-bit lanes: one vpshufb then gives a sub-block
         * pair's scales (it was built from two scale bytes in scalar code) */
        __m256i sch[2] = {_mm256_permute2x128_si256(sc16, sc16, 0x00),
                          _mm256_permute2x128_si256(sc16, sc16, 0x11)};
        __m256i isum[A2_NT];
        for (int t = 0; t < nt; t++) {
            /* the -32 offset of every code: -32 * sum_j sc_j * bsum_j */
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bx->bsums), sc16);
            isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(ms, 5));
        }
        for (int h = 0; h < 2; h++) {
            __m256i ql0 = _mm256_loadu_si256((const __m256i *)(bw->ql + 64 * h));
            __m256i ql1 = _mm256_loadu_si256((const __m256i *)(bw->ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(bw->qh + 32 * h));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                   _mm256_and_si256(qh, m30));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
            for (int k = 0; k < 4; k++) {
                __m256i s = _mm256_shuffle_epi8(sch[h], pair_pick(k));
                for (int t = 0; t < nt; t++) {
                    const int8_t *a = ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs +
                                      128 * h + 32 * k;
                    __m256i p = _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)a));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, s));
                }
            }
        }
        float dw = h2f(bw->d);
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            acc[t] =
                _mm256_fmadd_ps(_mm256_set1_ps(dw * bx->d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(acc[t]);
}

/* Q2_K and Q3_K share the walk: 8 steps of 32 two-bit codes (qs half n, shift 2j) whose 16-byte
 * halves belong to sub-blocks 8n+2j and 8n+2j+1, against activations 128n+32j.. .  Their sub-block
 * pair scales come from pair_pick (above, shared with Q6_K). */
/* The 16 signed 6-bit Q3_K scales (minus 32) as bytes: low nibbles from bytes 0-7 (scales 0-7
 * low, 8-15 high nibble), the high 2 bits of scale j from byte 8 + j % 4 at bit 2 * (j / 4). */
AI __m128i q3k_scales(const uint8_t *b)
{
    uint32_t hi4;
    memcpy(&hi4, b + 8, 4);
    __m128i lo8 = _mm_loadl_epi64((const __m128i *)b);
    __m128i lo = _mm_and_si128(_mm_unpacklo_epi64(lo8, _mm_srli_epi16(lo8, 4)), _mm_set1_epi8(15));
    __m128i hi = _mm_srlv_epi32(_mm_set1_epi32((int)hi4), _mm_setr_epi32(0, 2, 4, 6));
    hi = _mm_slli_epi16(_mm_and_si128(hi, _mm_set1_epi8(3)), 4);
    return _mm_sub_epi8(_mm_or_si128(lo, hi), _mm_set1_epi8(32));
}

AI void k_q2_k(int64_t nb, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out,
               size_t pf)
{
    __m256 acc[A2_NT], accm[A2_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = accm[t] = _mm256_setzero_ps();
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < nb; i++) {
        const struct kern_bq2_k *bw = (const struct kern_bq2_k *)w + i;
        KERN_PF(bw, sizeof *bw, pf);
        __m128i sc8 = _mm_loadu_si128((const __m128i *)bw->scales);
        __m256i mins16 =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), _mm_set1_epi8(15)));
        __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, _mm_set1_epi8(15)));
        __m256i sch[2] = {_mm256_permute2x128_si256(sc16, sc16, 0x00),
                          _mm256_permute2x128_si256(sc16, sc16, 0x11)};
        __m256i isum[A2_NT];
        for (int t = 0; t < nt; t++)
            isum[t] = _mm256_setzero_si256();
        for (int n = 0; n < 2; n++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(bw->qs + 32 * n));
            for (int j = 0; j < 4; j++) {
                __m256i v = _mm256_and_si256(q, m3);
                q = _mm256_srli_epi16(q, 2);
                __m256i s = _mm256_shuffle_epi8(sch[n], pair_pick(j));
                for (int t = 0; t < nt; t++) {
                    const int8_t *a = ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs +
                                      128 * n + 32 * j;
                    __m256i p = _mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)a));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, s));
                }
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

AI void k_q3_k(int64_t nb, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out,
               size_t pf)
{
    __m256 acc[A2_NT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    const __m256i m3 = _mm256_set1_epi8(3), m1 = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < nb; i++) {
        const struct kern_bq3_k *bw = (const struct kern_bq3_k *)w + i;
        KERN_PF(bw, sizeof *bw, pf);
        __m256i sc16 = _mm256_cvtepi8_epi16(q3k_scales(bw->scales));
        __m256i isum[A2_NT];
        for (int t = 0; t < nt; t++) {
            /* codes are stored as u = q + 4 in [0, 7]: subtract 4 * sum_j sc_j * bsum_j */
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bx->bsums), sc16);
            isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(ms, 2));
        }
        /* sch[n]: scales 8n..8n+7 as words in both 128-bit lanes */
        __m256i sch[2] = {_mm256_permute2x128_si256(sc16, sc16, 0x00),
                          _mm256_permute2x128_si256(sc16, sc16, 0x11)};
        __m256i hm = _mm256_loadu_si256((const __m256i *)bw->hmask);
        for (int n = 0; n < 2; n++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(bw->qs + 32 * n));
            for (int j = 0; j < 4; j++) {
                __m256i h = _mm256_slli_epi16(_mm256_and_si256(hm, m1), 2);
                hm = _mm256_srli_epi16(hm, 1);
                __m256i v = _mm256_or_si256(_mm256_and_si256(q, m3), h);
                q = _mm256_srli_epi16(q, 2);
                __m256i s = _mm256_shuffle_epi8(sch[n], pair_pick(j));
                for (int t = 0; t < nt; t++) {
                    const int8_t *a = ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs +
                                      128 * n + 32 * j;
                    __m256i p = _mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)a));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, s));
                }
            }
        }
        float dw = h2f(bw->d);
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            acc[t] =
                _mm256_fmadd_ps(_mm256_set1_ps(dw * bx->d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(acc[t]);
}

/* ---- dispatch of one weight row against nt <= A2_NT tokens ---- */

#define NT_SWITCH(fn, n, w, x, xs, nt, out) KERN_NT_SWITCH(A2_NT, fn, n, w, x, xs, nt, out)

/* Returns 0 when the type has no AVX2 kernel (the caller falls back to the reference). */
int kern__avx2_row_dot(uint32_t wtype, int64_t n, const uint8_t *w, const uint8_t *x, size_t xs,
                       int nt, float *out, size_t pf)
{
    int64_t nb = n / KERN_QK, nbk = n / KERN_QK_K;
    switch (wtype) {
    case KERN_T_F32:
        NT_SWITCH(k_f32, n, w, x, xs, nt, out);
        return 1;
    case KERN_T_F16:
        NT_SWITCH(k_f16, n, w, x, xs, nt, out);
        return 1;
    case KERN_T_BF16:
        NT_SWITCH(k_bf16, n, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q8_0:
        NT_SWITCH(k_q8_0, nb, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q4_0:
        NT_SWITCH(k_q4_0, nb, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q5_0:
        NT_SWITCH(k_q5_0, nb, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q4_1:
        NT_SWITCH(k_q4_1, nb, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q5_1:
        NT_SWITCH(k_q5_1, nb, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q2_K:
        NT_SWITCH(k_q2_k, nbk, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q3_K:
        NT_SWITCH(k_q3_k, nbk, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q4_K:
        NT_SWITCH(k_q4_k, nbk, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q5_K:
        NT_SWITCH(k_q5_k, nbk, w, x, xs, nt, out);
        return 1;
    case KERN_T_Q6_K:
        NT_SWITCH(k_q6_k, nbk, w, x, xs, nt, out);
        return 1;
    default:
        return 0;
    }
}

/* ---- Q4_0 / Q5_0 / Q8_0 with prepared activations (as the AVX-512 file, in block pairs) ----
 * mul_mat prepares the activations of up to Y_NT tokens per chunk of columns: pair k (blocks 2k,
 * 2k+1) as lo = bytes 0-15 of both, hi = bytes 16-31 of both, so the weight codes of a pair
 * (nibbles, low then high) line up without shuffles; d as [d0 x4 | d1 x4]; cv = the per-lane code
 * sums times -OFF * d.  Per pair and token: 2 vpmaddubsw, one add in i16 (codes <= 31 keep the
 * sums in range), one vpmaddwd, one convert, two FMAs (Q8_0: y_dot_s). */
/* Stack space for prepared activations: 512 pairs (64 KiB) = 1024 blocks of one token, 256 of
 * each of 4 or 128 of each of 8 (one token must not be cut into column chunks: that breaks the
 * weight stream). */
/* Most tokens per weight row in these kernels (Y_RUNNER below picks per type). */
#define Y_NT 8
#ifndef Y_PREP_PAIRS
#define Y_PREP_PAIRS 512
#endif

struct y_pair {
    int8_t lo[32];
    int8_t hi[32];
    float dv[8];
    float cv[8];
};

static void y_prepare(const struct kern_bq8_0 *x, int64_t nbc, float off, struct y_pair *p)
{
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int64_t k = 0; 2 * k < nbc; k++) {
        const struct kern_bq8_0 *b0 = x + 2 * k;
        struct kern_bq8_0 z;
        const struct kern_bq8_0 *b1 = b0 + 1;
        if (2 * k + 1 >= nbc) {
            memset(&z, 0, sizeof z);
            b1 = &z;
        }
        __m256i lo = _mm256_loadu2_m128i((const __m128i *)b1->qs, (const __m128i *)b0->qs);
        __m256i hi =
            _mm256_loadu2_m128i((const __m128i *)(b1->qs + 16), (const __m128i *)(b0->qs + 16));
        _mm256_store_si256((__m256i *)p[k].lo, lo);
        _mm256_store_si256((__m256i *)p[k].hi, hi);
        __m256i sum = _mm256_madd_epi16(
            _mm256_add_epi16(_mm256_maddubs_epi16(ones8, lo), _mm256_maddubs_epi16(ones8, hi)),
            ones16);
        __m128 d = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(b0->d), b1->d, 1));
        __m256 dv = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(d),
                                             _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
        _mm256_store_ps(p[k].dv, dv);
        _mm256_store_ps(p[k].cv, _mm256_mul_ps(_mm256_mul_ps(dv, _mm256_set1_ps(-off)),
                                               _mm256_cvtepi32_ps(sum)));
    }
}

AI void y_u2_q4_0(const struct kern_bq4_0 *b, __m256i *lo, __m256i *hi)
{
    __m256i raw = _mm256_loadu2_m128i((const __m128i *)b[1].qs, (const __m128i *)b[0].qs);
    *lo = _mm256_and_si256(raw, _mm256_set1_epi8(15));
    *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), _mm256_set1_epi8(15));
}

/* Q8_0: the signed codes as stored (the dot takes the sign trick per token). */
AI void y_u2_q8_0(const struct kern_bq8_0 *b, __m256i *lo, __m256i *hi)
{
    *lo = _mm256_loadu2_m128i((const __m128i *)b[1].qs, (const __m128i *)b[0].qs);
    *hi = _mm256_loadu2_m128i((const __m128i *)(b[1].qs + 16), (const __m128i *)(b[0].qs + 16));
}

/* Q5_0: nibbles as Q4_0, the 5th bits spread in SIMD: the two qh words side by side in each
 * 128-bit lane, each byte picks the qh byte that holds its bit (low halves: qh bits 0-15 of its
 * block, high halves: bits 16-31), tests it, and becomes 0x10 where it is set. */
AI void y_u2_q5_0(const struct kern_bq5_0 *b, __m256i *lo, __m256i *hi)
{
    __m256i raw = _mm256_loadu2_m128i((const __m128i *)b[1].qs, (const __m128i *)b[0].qs);
    uint32_t h0, h1;
    memcpy(&h0, b[0].qh, 4);
    memcpy(&h1, b[1].qh, 4);
    __m256i hq = _mm256_broadcastq_epi64(_mm_insert_epi32(_mm_cvtsi32_si128((int)h0), (int)h1, 1));
    const __m256i pick_lo =
        _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0404040404040404LL, 0x0505050505050505LL);
    const __m256i pick_hi = _mm256_setr_epi64x(0x0202020202020202LL, 0x0303030303030303LL,
                                               0x0606060606060606LL, 0x0707070707070707LL);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i x10 = _mm256_set1_epi8(0x10), m4 = _mm256_set1_epi8(15);
    __m256i blo = _mm256_and_si256(_mm256_shuffle_epi8(hq, pick_lo), bit);
    __m256i bhi = _mm256_and_si256(_mm256_shuffle_epi8(hq, pick_hi), bit);
    *lo = _mm256_or_si256(_mm256_and_si256(raw, m4),
                          _mm256_and_si256(_mm256_cmpeq_epi8(blo, bit), x10));
    *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m4),
                          _mm256_and_si256(_mm256_cmpeq_epi8(bhi, bit), x10));
}

/* One token against a decoded block pair (alo/ahi: the codes' magnitudes when signed).
 * Unsigned codes (Q4_0/Q5_0, <= 31): both halves summed in i16, the offset folded in with the
 * prepared cv.  Signed Q8_0 codes: the sign trick (|w| x sign(x, w)) per half, each half widened
 * to i32 on its own (two 2 x 127 x 127 sums would leave i16), no offset. */
AI __m256 y_dot_u(__m256i lo, __m256i hi, __m256i alo, __m256i ahi, const struct y_pair *pp)
{
    (void)alo;
    (void)ahi;
    __m256i s16 =
        _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_load_si256((const __m256i *)pp->lo)),
                         _mm256_maddubs_epi16(hi, _mm256_load_si256((const __m256i *)pp->hi)));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s16, _mm256_set1_epi16(1))),
                           _mm256_load_ps(pp->dv), _mm256_load_ps(pp->cv));
}

AI __m256 y_dot_s(__m256i lo, __m256i hi, __m256i alo, __m256i ahi, const struct y_pair *pp)
{
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256i xl = _mm256_load_si256((const __m256i *)pp->lo),
            xh = _mm256_load_si256((const __m256i *)pp->hi);
    __m256i sl = _mm256_madd_epi16(_mm256_maddubs_epi16(alo, _mm256_sign_epi8(xl, lo)), ones16);
    __m256i sh = _mm256_madd_epi16(_mm256_maddubs_epi16(ahi, _mm256_sign_epi8(xh, hi)), ones16);
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(sl, sh)), _mm256_load_ps(pp->dv));
}

/* Block pair b[0], b[1] against nt tokens' prepared pair pi, into acc[]. */
#define Y_STEP(u2, dot, is_signed, b, pi)                                                    \
    do {                                                                                     \
        __m256i lo, hi;                                                                      \
        u2(b, &lo, &hi);                                                                     \
        __m256i alo = is_signed ? _mm256_sign_epi8(lo, lo) : lo;                             \
        __m256i ahi = is_signed ? _mm256_sign_epi8(hi, hi) : hi;                             \
        __m128 d = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128((b)[0].d), (b)[1].d, 1)); \
        __m256 dw = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(d),                      \
                                             _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));     \
        for (int t = 0; t < nt; t++) {                                                       \
            const struct y_pair *pp = (const struct y_pair *)((const char *)(pi) + toff[t]); \
            acc[t] = _mm256_fmadd_ps(dot(lo, hi, alo, ahi, pp), dw, acc[t]);                 \
        }                                                                                    \
    } while (0)

/* The loop walks whole pairs with pointer steps (no per-pair tail test); an odd last block is
 * padded with a zero one. */
#define Y_KERNEL(name, WT, u2, dot, is_signed)                                                 \
    AI void name(int64_t nbc, const uint8_t *w, const void *pv, size_t qs, int nt, float *out, \
                 size_t pf)                                                                    \
    {                                                                                          \
        const struct y_pair *pi = pv;                                                          \
        __m256 acc[Y_NT];                                                                      \
        size_t toff[Y_NT]; /* byte offsets of the tokens' prepared rows */                     \
        for (int t = 0; t < nt; t++) {                                                         \
            acc[t] = _mm256_setzero_ps();                                                      \
            toff[t] = (size_t)t * qs * sizeof *pi;                                             \
        }                                                                                      \
        const struct WT *b = (const struct WT *)w, *end = b + (nbc & ~(int64_t)1);             \
        for (; b < end; b += 2, pi++) {                                                        \
            KERN_PF(b, 2 * sizeof *b, pf);                                                     \
            Y_STEP(u2, dot, is_signed, b, pi);                                                 \
        }                                                                                      \
        if (nbc & 1) {                                                                         \
            struct WT pad[2];                                                                  \
            memset(pad, 0, sizeof pad);                                                        \
            pad[0] = b[0];                                                                     \
            Y_STEP(u2, dot, is_signed, pad, pi);                                               \
        }                                                                                      \
        for (int t = 0; t < nt; t++)                                                           \
            out[t] = hsum_ps(acc[t]);                                                          \
    }

Y_KERNEL(y_k_q4_0, kern_bq4_0, y_u2_q4_0, y_dot_u, 0)
Y_KERNEL(y_k_q5_0, kern_bq5_0, y_u2_q5_0, y_dot_u, 0)
Y_KERNEL(y_k_q8_0, kern_bq8_0, y_u2_q8_0, y_dot_s, 1)

/* Rows of one chunk against n <= max tokens (max: the type's tile width, 4 or Y_NT). */
#define Y_NT_SWITCH(fn, max)                                            \
    for (int64_t r = 0; r < nrows; r++) {                               \
        float part[Y_NT] = {0};                                         \
        const uint8_t *wr = w + (size_t)r * wrb;                        \
        switch (n) {                                                    \
        case 1: /* pf as a constant 0 when it is 0: no test per pair */ \
            if (pf)                                                     \
                fn(nbc, wr, p, qs, 1, part, pf);                        \
            else                                                        \
                fn(nbc, wr, p, qs, 1, part, 0);                         \
            break;                                                      \
        case 2:                                                         \
            fn(nbc, wr, p, qs, 2, part, 0);                             \
            break;                                                      \
        case 3:                                                         \
            fn(nbc, wr, p, qs, 3, part, 0);                             \
            break;                                                      \
        case 4:                                                         \
            fn(nbc, wr, p, qs, 4, part, 0);                             \
            break;                                                      \
        case 5:                                                         \
            fn(nbc, wr, p, qs, 5 < (max) ? 5 : (max), part, 0);         \
            break;                                                      \
        case 6:                                                         \
            fn(nbc, wr, p, qs, 6 < (max) ? 6 : (max), part, 0);         \
            break;                                                      \
        case 7:                                                         \
            fn(nbc, wr, p, qs, 7 < (max) ? 7 : (max), part, 0);         \
            break;                                                      \
        default:                                                        \
            fn(nbc, wr, p, qs, (max), part, 0);                         \
            break;                                                      \
        }                                                               \
        for (int t = 0; t < n; t++) {                                   \
            float *o = &out[(int64_t)t * ldo + r];                      \
            *o = accumulate ? *o + part[t] : part[t];                   \
        }                                                               \
    }

#define Y_RUNNER(name, fn, max)                                                               \
    static void name(int64_t nbc, const uint8_t *w, size_t wrb, int64_t nrows, const void *p, \
                     size_t qs, int n, float *out, int64_t ldo, int accumulate, size_t pf)    \
    {                                                                                         \
        Y_NT_SWITCH(fn, max)                                                                  \
    }

/* Tile widths measured on Zen 3 (bench_kern, 32 tokens): 8 tokens per row took Q8_0 from 36 to
 * 38.6 GMAC/s and Q5_0 from 36.5 to 40.9 (their block decode is the costlier part), but Q4_0
 * from 49.9 down to 43 (its two FMAs per product no longer fit the registers), so Q4_0 keeps 4. */
Y_RUNNER(y_run_q4_0, y_k_q4_0, 4)
Y_RUNNER(y_run_q5_0, y_k_q5_0, Y_NT)
Y_RUNNER(y_run_q8_0, y_k_q8_0, Y_NT)

/* mul_mat of Q4_0/Q5_0/Q8_0 with chunks of activations prepared on the stack.  Returns 0 for
 * other types. */
static int y_mul_mat(uint32_t wtype, const uint8_t *w, size_t w_row_bytes, int64_t ncols,
                     int64_t r0, int64_t r1, const uint8_t *x, size_t x_row_bytes, int nt,
                     float *out, int64_t ldo, size_t pf)
{
    void (*run)(int64_t, const uint8_t *, size_t, int64_t, const void *, size_t, int, float *,
                int64_t, int, size_t);
    float off = 0.0f;
    int ynt = Y_NT; /* tokens per pass: the runner's tile width */
    switch (wtype) {
    case KERN_T_Q4_0:
        run = y_run_q4_0;
        off = 8.0f;
        ynt = 4;
        break;
    case KERN_T_Q5_0:
        run = y_run_q5_0;
        off = 16.0f;
        break;
    case KERN_T_Q8_0:
        run = y_run_q8_0;
        break;
    default:
        return 0;
    }
    _Alignas(32) struct y_pair prep[Y_PREP_PAIRS];
    size_t bbytes = kern_type_block_bytes(wtype);
    int64_t nb = ncols / KERN_QK;
    for (int t0 = 0; t0 < nt; t0 += ynt) {
        int n = nt - t0 < ynt ? nt - t0 : ynt;
        /* tokens packed back to back (a fixed stride of 16 KiB would alias in L1) */
        size_t qs = (size_t)(Y_PREP_PAIRS / n), need = (size_t)((nb + 2 - 1) / 2);
        qs = qs < need ? qs : need;
        int64_t chunk = 2 * (int64_t)qs;
        for (int64_t c0 = 0; c0 < nb; c0 += chunk) {
            int64_t nbc = nb - c0 < chunk ? nb - c0 : chunk;
            for (int t = 0; t < n; t++)
                y_prepare((const struct kern_bq8_0 *)(x + (size_t)(t0 + t) * x_row_bytes) + c0, nbc,
                          off, prep + (size_t)t * qs);
            run(nbc, w + (size_t)r0 * w_row_bytes + (size_t)c0 * bbytes, w_row_bytes, r1 - r0, prep,
                qs, n, out + (int64_t)t0 * ldo + r0, ldo, c0 > 0, n == 1 ? pf : 0);
        }
    }
    return 1;
}

/* ---- F32 / F16 / BF16 weights against F32 activations, several tokens ----
 * The row kernels above load an activation vector per FMA; register tiles of F2_R rows x F2_T
 * tokens share each converted weight vector among F2_T tokens and each activation vector among
 * F2_R rows (3 weight converts + 4 activation loads per 12 FMAs; 12 accumulators, 3 weight
 * vectors and one activation fill the 16 registers).  Columns past the last multiple of 8 are
 * summed in scalar code, so no byte past a row is read. */
#define F2_R 3
#define F2_T 4

AI __m256 f2_load(uint32_t wtype, const uint8_t *row, int64_t k)
{
    if (wtype == KERN_T_F16)
        return load_f16x8(row + 2 * k);
    if (wtype == KERN_T_BF16)
        return load_bf16x8(row + 2 * k);
    return _mm256_loadu_ps((const float *)row + k);
}

AI float f2_elem(uint32_t wtype, const uint8_t *row, int64_t k)
{
    uint16_t h;
    if (wtype == KERN_T_F32)
        return kern__ldf(row, k);
    memcpy(&h, row + 2 * k, 2);
    return wtype == KERN_T_F16 ? kern_fp16_to_f32(h) : kern_bf16_to_f32(h);
}

/* nr (<= F2_R) rows from w (stride wrb) x nt (<= F2_T) tokens from x (stride xs bytes):
 * out[t * ldo + r] = dot. */
AI void f2_tile(uint32_t wtype, const uint8_t *w, size_t wrb, int64_t n, const uint8_t *x,
                size_t xs, int nr, int nt, float *out, int64_t ldo)
{
    __m256 acc[F2_R][F2_T];
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm256_setzero_ps();
    int64_t n8 = n & ~(int64_t)7;
    for (int64_t k = 0; k < n8; k += 8) {
        __m256 wv[F2_R];
        for (int r = 0; r < nr; r++)
            wv[r] = f2_load(wtype, w + (size_t)r * wrb, k);
        for (int t = 0; t < nt; t++) {
            __m256 xv = _mm256_loadu_ps((const float *)(x + (size_t)t * xs) + k);
            for (int r = 0; r < nr; r++)
                acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++) {
            float s = hsum_ps(acc[r][t]);
            for (int64_t k = n8; k < n; k++)
                s += f2_elem(wtype, w + (size_t)r * wrb, k) * kern__ldf(x + (size_t)t * xs, k);
            out[(int64_t)t * ldo + r] = s;
        }
}

#define F2_TILE_T(R, nt_)                                 \
    switch (nt_) {                                        \
    case 1:                                               \
        f2_tile(wtype, wr, wrb, n, xt, xs, R, 1, o, ldo); \
        break;                                            \
    case 2:                                               \
        f2_tile(wtype, wr, wrb, n, xt, xs, R, 2, o, ldo); \
        break;                                            \
    case 3:                                               \
        f2_tile(wtype, wr, wrb, n, xt, xs, R, 3, o, ldo); \
        break;                                            \
    default:                                              \
        f2_tile(wtype, wr, wrb, n, xt, xs, R, 4, o, ldo); \
        break;                                            \
    }

/* Rows [r0, r1) x nt tokens of a float-type matrix, in F2_R x F2_T tiles. */
AI void f2_mul_mat_t(uint32_t wtype, const uint8_t *w, size_t wrb, int64_t n, int64_t r0,
                     int64_t r1, const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo)
{
    for (int t0 = 0; t0 < nt; t0 += F2_T) {
        int tn = nt - t0 < F2_T ? nt - t0 : F2_T;
        const uint8_t *xt = x + (size_t)t0 * xs;
        int64_t r = r0;
        for (; r + F2_R <= r1; r += F2_R) {
            const uint8_t *wr = w + (size_t)r * wrb;
            float *o = out + (int64_t)t0 * ldo + r;
            F2_TILE_T(F2_R, tn)
        }
        for (; r < r1; r++) {
            const uint8_t *wr = w + (size_t)r * wrb;
            float *o = out + (int64_t)t0 * ldo + r;
            F2_TILE_T(1, tn)
        }
    }
}

/* Specialised per type so the loads inline; returns 0 for other types. */
static int f2_mul_mat(uint32_t wtype, const uint8_t *w, size_t wrb, int64_t n, int64_t r0,
                      int64_t r1, const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo)
{
    switch (wtype) {
    case KERN_T_F32:
        f2_mul_mat_t(KERN_T_F32, w, wrb, n, r0, r1, x, xs, nt, out, ldo);
        return 1;
    case KERN_T_F16:
        f2_mul_mat_t(KERN_T_F16, w, wrb, n, r0, r1, x, xs, nt, out, ldo);
        return 1;
    case KERN_T_BF16:
        f2_mul_mat_t(KERN_T_BF16, w, wrb, n, r0, r1, x, xs, nt, out, ldo);
        return 1;
    default:
        return 0;
    }
}

/* ---- Q4_K packed 8 rows to a group (KERN_T_Q4_K_X8, kern_pack.c) ----
 * The 8 rows of a group sit in the 8 32-bit lanes: per sub-block and token, 4 loads of 32 weight
 * bytes (low and high nibbles: 8 codes of each row), 8 vpmaddubsw against broadcast activation
 * quads, summed in 16 bits (8 products of <= 15 * 128 per lane: < 2^15), then one vpmaddwd by the
 * rows' scales.  The mins: one vpmaddwd per pair of sub-blocks against the activation's block
 * sums.  Per super-block the rows' d and dmin are applied in float, lanes still rows, so the 8
 * results per token are stored as they are.  Up to P_NT tokens share each weight load. */
#define P_NT KERN_PK_NT

AI __m256i p_bcast4(const int8_t *a)
{
    int32_t v;
    memcpy(&v, a, 4);
    return _mm256_set1_epi32(v);
}

/* vpshufb indexes giving each 32-bit lane r the word pair (sc[8p + r], sc[8p + r]) out of 16
 * scale bytes (sub-blocks 2k and 2k+1, p = 0 or 1) broadcast to both 128-bit lanes. */
#define P_SC(p, r) (8 * (p) + (r)), -1, (8 * (p) + (r)), -1
static const int8_t p_sc_idx[2][32] __attribute__((aligned(32))) = {
    {P_SC(0, 0), P_SC(0, 1), P_SC(0, 2), P_SC(0, 3), P_SC(0, 4), P_SC(0, 5), P_SC(0, 6),
     P_SC(0, 7)},
    {P_SC(1, 0), P_SC(1, 1), P_SC(1, 2), P_SC(1, 3), P_SC(1, 4), P_SC(1, 5), P_SC(1, 6),
     P_SC(1, 7)},
};

/* Keeps v in a register as computed here: GCC otherwise re-associates the chains of 16-bit
 * sums below into trees and spills every product. */
#define P_KEEP(v) __asm__("" : "+x"(v))

/* Codes of 4-element group g of the 8 rows: lo (elements 4g..) and hi (16 + 4g..), bit 4 from
 * qh (bit g, bit 4 + g) when the type has one. */
AI void pb_decode(const uint8_t *qs, const uint8_t *qh, int g, __m256i *lo, __m256i *hi)
{
    const __m256i m4 = _mm256_set1_epi8(15), x10 = _mm256_set1_epi8(0x10);
    __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
    *lo = _mm256_and_si256(v, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    if (qh) {
        __m256i h = _mm256_loadu_si256((const __m256i *)qh);
        *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_slli_epi16(h, 4 - g), x10));
        *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_srli_epi16(h, g), x10));
    }
}

/* Sub-block s of super-block i for nt tokens: isum[t] += scale * sum of its 32 products. */
AI void p_q4k_sub(const struct kern_bq4_kx8 *b, int s, const uint8_t *x, size_t xs, int64_t i,
                  int nt, __m256i *isum)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i s16[P_NT];
    for (int g = 0; g < 4; g++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(b->qs + 128 * s + 32 * g));
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        for (int t = 0; t < nt; t++) {
            const int8_t *a =
                ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs + 32 * s + 4 * g;
            __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, p_bcast4(a)),
                                         _mm256_maddubs_epi16(hi, p_bcast4(a + 16)));
            s16[t] = g ? _mm256_add_epi16(s16[t], p) : p;
            P_KEEP(s16[t]);
        }
    }
    __m256i sc =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(b->sc + 8 * (s & 6))));
    sc = _mm256_shuffle_epi8(sc, _mm256_load_si256((const __m256i *)p_sc_idx[s & 1]));
    for (int t = 0; t < nt; t++)
        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], sc));
}

/* The scale words (sc, sc) of sub-block s per row lane, from the bytes of s & 6 and s | 1. */
AI __m256i p_k_scale(const uint8_t *sc16, int s)
{
    __m256i sc = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)sc16));
    return _mm256_shuffle_epi8(sc, _mm256_load_si256((const __m256i *)p_sc_idx[s & 1]));
}

/* The same for Q5_K_X8 (qs: the sub-block's 128 code bytes, qh: its 32 fifth-bit bytes, sc16: the
 * scale bytes of sub-blocks s & 6 and s | 1): 5-bit codes add 4 products per lane in 16 bits
 * (4 x 2 x 31 x 128 < 2^15), so two vpmaddwd per sub-block.  (The Q4_K one above, 8 products in
 * 16 bits, stays separate: folded into this one it measured 3-5 % slower.) */
AI void p_k_sub(const uint8_t *qs, const uint8_t *qh, const uint8_t *sc16, int s, const uint8_t *x,
                size_t xs, int64_t i, int nt, __m256i *isum)
{
    __m256i s16[P_NT], sc = _mm256_setzero_si256();
    for (int g = 0; g < 4; g++) {
        __m256i lo, hi;
        pb_decode(qs, qh, g, &lo, &hi);
        for (int t = 0; t < nt; t++) {
            const int8_t *a =
                ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs + 32 * s + 4 * g;
            __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, p_bcast4(a)),
                                         _mm256_maddubs_epi16(hi, p_bcast4(a + 16)));
            s16[t] = (g == 0 || g == 2) ? p : _mm256_add_epi16(s16[t], p);
            P_KEEP(s16[t]);
        }
        if (g == 1) {
            sc = p_k_scale(sc16, s);
            for (int t = 0; t < nt; t++)
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], sc));
        }
    }
    for (int t = 0; t < nt; t++)
        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], sc));
}

/* One group of 8 rows of Q4_K_X8 (q5 0) or Q5_K_X8 (q5 1; the same fields up to mn) against
 * nt <= P_NT tokens: acc[t] lane r = dot(row r, token t). */
AI void p_q4k(int q5, int64_t nbk, const uint8_t *blk, const uint8_t *x, size_t xs, size_t pf,
              int nt, __m256 *acc)
{
    size_t bb = q5 ? sizeof(struct kern_bq5_kx8) : sizeof(struct kern_bq4_kx8);
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nbk; i++) {
        const struct kern_bq4_kx8 *b = (const struct kern_bq4_kx8 *)blk + (q5 ? 0 : i);
        const struct kern_bq5_kx8 *b5 = (const struct kern_bq5_kx8 *)blk + i;
        if (q5)
            b = (const struct kern_bq4_kx8 *)b5;
        if (nt == 1)
            KERN_PF(b, bb, pf);
        __m256i isum[P_NT];
        for (int t = 0; t < nt; t++)
            isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
        for (int s = 0; s < 8; s++)
            if (q5)
                p_k_sub(b5->qs + 128 * s, b5->qh + 32 * s, b->sc + 8 * (s & 6), s, x, xs, i, nt,
                        isum);
            else
                p_q4k_sub(b, s, x, xs, i, nt, isum);
        __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        __m256 m8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            __m256i ms = kern_pk_k4_mins(b->mn, bx->bsums);
            __m256 dt = _mm256_set1_ps(bx->d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(d8, dt), acc[t]);
            acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_mul_ps(m8, dt), acc[t]);
        }
    }
}


/* mul_mat for Q4_K_X8 / Q5_K_X8: rows [r0, r1) in whole groups (a partial group at either end is
 * computed whole and only its rows in range are stored). */
AI void p_mul_mat(int q5, const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0, int64_t r1,
                  const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo, size_t pf)
{
    int64_t nbk = ncols / KERN_QK_K;
    for (int64_t g0 = r0 / 8 * 8; g0 < r1; g0 += 8) {
        const uint8_t *b = w + (size_t)g0 * wrb;
        for (int t0 = 0; t0 < nt; t0 += P_NT) {
            int n = nt - t0 < P_NT ? nt - t0 : P_NT;
            __m256 acc[P_NT];
            if (q5) {
                KERN_PK_NT_SWITCH(p_q4k, n, 1, nbk, b, x + (size_t)t0 * xs, xs, pf)
            } else {
                KERN_PK_NT_SWITCH(p_q4k, n, 0, nbk, b, x + (size_t)t0 * xs, xs, pf)
            }
            kern_pk_store(acc, n, g0, r0, r1, out + (int64_t)t0 * ldo, ldo);
        }
    }
}

/* One function per type, so each is compiled (and laid out) on its own. */
static void p4_mul_mat(const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0, int64_t r1,
                       const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo, size_t pf)
{
    p_mul_mat(0, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
}

static void p5_mul_mat(const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0, int64_t r1,
                       const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo, size_t pf)
{
    p_mul_mat(1, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
}

/* Q6_K_X8: the same lanes per 16-element sub-block: codes unsigned (<= 63: two products per
 * lane summed in 16 bits, 2 x 2 x 63 x 128 < 2^15), times the signed scale with vpmaddwd; the
 * offset 32 x sum(scale x block sum) per super-block from the activation's 16-element sums. */
#define P6_SC(e, r) -1, (2 * (r) + (e)), -1, (2 * (r) + (e))
static const int8_t p6_sc_idx[2][32] __attribute__((aligned(32))) = {
    {P6_SC(0, 0), P6_SC(0, 1), P6_SC(0, 2), P6_SC(0, 3), P6_SC(0, 4), P6_SC(0, 5), P6_SC(0, 6),
     P6_SC(0, 7)},
    {P6_SC(1, 0), P6_SC(1, 1), P6_SC(1, 2), P6_SC(1, 3), P6_SC(1, 4), P6_SC(1, 5), P6_SC(1, 6),
     P6_SC(1, 7)},
};

/* Lane r = (sc, sc) as int16 for sub-block 2k + e, from the 16 scale bytes of k. */
AI __m256i p6_scale(const int8_t *sc16, int e)
{
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)sc16));
    v = _mm256_shuffle_epi8(v, _mm256_load_si256((const __m256i *)p6_sc_idx[e]));
    return _mm256_srai_epi16(v, 8);
}

/* Codes of group g of sub-block 2m + h (q: span m, hb: its top-bit vector h). */
AI __m256i p6_codes(const uint8_t *q, __m256i hb, int h, int g)
{
    const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
    __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * g));
    __m256i c = h ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) : _mm256_and_si256(v, m4);
    __m256i top = g == 0   ? _mm256_slli_epi16(hb, 4)
                  : g == 1 ? _mm256_slli_epi16(hb, 2)
                  : g == 2 ? hb
                           : _mm256_srli_epi16(hb, 2);
    return _mm256_or_si256(c, _mm256_and_si256(top, m30));
}

/* Sub-block 2m + h of super-block i (q: span m) for nt tokens: i32[t] += scale x products. */
AI void p6_sub(const uint8_t *q, int m, int h, __m256i scv, const uint8_t *x, size_t xs, int64_t i,
               int nt, __m256i *i32)
{
    __m256i hb = _mm256_loadu_si256((const __m256i *)(q + 128 + 32 * h));
    for (int g = 0; g < 4; g += 2) {
        __m256i c0 = p6_codes(q, hb, h, g), c1 = p6_codes(q, hb, h, g + 1);
        for (int t = 0; t < nt; t++) {
            const int8_t *a =
                ((const struct kern_bq8_k *)(x + (size_t)t * xs) + i)->qs + 32 * m + 16 * h + 4 * g;
            __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(c0, p_bcast4(a)),
                                           _mm256_maddubs_epi16(c1, p_bcast4(a + 4)));
            i32[t] = _mm256_add_epi32(i32[t], _mm256_madd_epi16(s16, scv));
        }
    }
}

/* One group of 8 rows of Q6_K_X8 against nt <= P_NT tokens. */
AI void p6_run(int64_t nbk, const struct kern_bq6_kx8 *b, const uint8_t *x, size_t xs, size_t pf,
               int nt, __m256 *acc)
{
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nbk; i++, b++) {
        if (nt == 1)
            KERN_PF(b, sizeof *b, pf);
        __m256i i32[P_NT];
        for (int t = 0; t < nt; t++)
            i32[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
        for (int m = 0; m < 8; m++)
            for (int h = 0; h < 2; h++)
                p6_sub(b->qs + 192 * m, m, h, p6_scale(b->sc + 16 * m, h), x, xs, i, nt, i32);
        __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_k *bx = (const struct kern_bq8_k *)(x + (size_t)t * xs) + i;
            __m256i off = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) {
                int32_t pair;
                memcpy(&pair, bx->bsums + 2 * k, 4);
                __m256i mv =
                    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b->sc + 16 * k)));
                off = _mm256_add_epi32(off, _mm256_madd_epi16(mv, _mm256_set1_epi32(pair)));
            }
            __m256i v = _mm256_sub_epi32(i32[t], _mm256_slli_epi32(off, 5));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v),
                                     _mm256_mul_ps(d8, _mm256_set1_ps(bx->d)), acc[t]);
        }
    }
}


/* Q4_0_X8 / Q5_0_X8: the same lanes per 32-element block.  The codes go in unsigned (<= 15 or
 * <= 31) and the offset (8 or 16) times the activation block's sum is subtracted once per block
 * and token from the integer sum; those sums and the tokens' scales are computed once per chunk of
 * tokens (pb_tok).  Q4_0 adds all 8 products per lane in 16 bits (8 x 2 x 15 x 127 < 2^15), Q5_0
 * each 4 (4 x 2 x 31 x 127 < 2^15). */
#define PB_MAX_BLOCKS 1024 /* columns up to 32768; wider matrices are never packed */

struct pb_tok {
    float d;
    int32_t off;
};

/* Groups [g0, g1) of block i for nt tokens, summed per lane in 16 bits, then widened. */
AI void pb_groups(const uint8_t *qs, const uint8_t *qh, int g0, int g1, const uint8_t *x, size_t xs,
                  int64_t i, int nt, __m256i *i32)
{
    __m256i s16[P_NT];
    for (int g = g0; g < g1; g++) {
        __m256i lo, hi;
        pb_decode(qs, qh, g, &lo, &hi);
        for (int t = 0; t < nt; t++) {
            const int8_t *a = ((const struct kern_bq8_0 *)(x + (size_t)t * xs) + i)->qs + 4 * g;
            __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, p_bcast4(a)),
                                         _mm256_maddubs_epi16(hi, p_bcast4(a + 16)));
            s16[t] = g > g0 ? _mm256_add_epi16(s16[t], p) : p;
            P_KEEP(s16[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        i32[t] = _mm256_add_epi32(i32[t], _mm256_madd_epi16(s16[t], _mm256_set1_epi16(1)));
}

/* One group of 8 rows of Q4_0_X8 (bb 144) or Q5_0_X8 (bb 176, has_qh) against nt <= P_NT
 * tokens; tk[t * PB_MAX_BLOCKS + i] the tokens' block scales and offsets. */
AI void pb_run(int has_qh, int64_t nb, const uint8_t *b, const uint8_t *x, size_t xs,
               const struct pb_tok *tk, size_t pf, int nt, __m256 *acc)
{
    size_t bb = has_qh ? sizeof(struct kern_bq5_0x8) : sizeof(struct kern_bq4_0x8);
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++, b += bb) {
        if (nt == 1)
            KERN_PF(b, bb, pf);
        const uint8_t *qh = has_qh ? b + 16 : NULL, *qs = b + (has_qh ? 48 : 16);
        __m256i i32[P_NT];
        for (int t = 0; t < nt; t++)
            i32[t] = _mm256_setzero_si256();
        if (has_qh) {
            pb_groups(qs, qh, 0, 2, x, xs, i, nt, i32);
            pb_groups(qs, qh, 2, 4, x, xs, i, nt, i32);
        } else {
            pb_groups(qs, qh, 0, 4, x, xs, i, nt, i32);
        }
        __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b));
        for (int t = 0; t < nt; t++) {
            const struct pb_tok *k = tk + (size_t)t * PB_MAX_BLOCKS + i;
            __m256i v = _mm256_sub_epi32(i32[t], _mm256_set1_epi32(k->off));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), _mm256_mul_ps(d8, _mm256_set1_ps(k->d)),
                                     acc[t]);
        }
    }
}

/* Block scales and offset x block sums of nt tokens (off: 8 or 16). */
static void pb_tokens(const uint8_t *x, size_t xs, int64_t nb, int nt, int off, struct pb_tok *tk)
{
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int t = 0; t < nt; t++)
        for (int64_t i = 0; i < nb; i++) {
            const struct kern_bq8_0 *bx = (const struct kern_bq8_0 *)(x + (size_t)t * xs) + i;
            __m256i a = _mm256_loadu_si256((const __m256i *)bx->qs);
            int sum = hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, a), ones16));
            tk[(size_t)t * PB_MAX_BLOCKS + i] = (struct pb_tok){h2f(bx->d), off * sum};
        }
}


/* Q8_0_X8: signed codes, so the sign trick per group (|w| x sign(x, w)), and each vpmaddubsw
 * widened on its own (2 x 128 x 127 leaves no room for a second in 16 bits). */
AI void p8_run(int64_t nb, const struct kern_bq8_0x8 *b, const uint8_t *x, size_t xs, size_t pf,
               int nt, __m256 *acc)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++, b++) {
        if (nt == 1)
            KERN_PF(b, sizeof *b, pf);
        __m256i i32[P_NT];
        for (int t = 0; t < nt; t++)
            i32[t] = _mm256_setzero_si256();
        for (int g = 0; g < 8; g++) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * g));
            __m256i aw = _mm256_abs_epi8(w);
            for (int t = 0; t < nt; t++) {
                const int8_t *a = ((const struct kern_bq8_0 *)(x + (size_t)t * xs) + i)->qs + 4 * g;
                __m256i sx = _mm256_sign_epi8(p_bcast4(a), w);
                i32[t] =
                    _mm256_add_epi32(i32[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), ones));
            }
        }
        __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        for (int t = 0; t < nt; t++) {
            const struct kern_bq8_0 *bx = (const struct kern_bq8_0 *)(x + (size_t)t * xs) + i;
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[t]),
                                     _mm256_mul_ps(d8, _mm256_set1_ps(h2f(bx->d))), acc[t]);
        }
    }
}


/* mul_mat for Q4_0_X8 / Q5_0_X8: per chunk of P_NT tokens, their sums, then every group. */
static void pb_mul_mat(uint32_t pt, const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0,
                       int64_t r1, const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo,
                       size_t pf)
{
    int64_t nb = ncols / KERN_QK;
    int q5 = pt == KERN_T_Q5_0_X8;
    if (nb > PB_MAX_BLOCKS) {
        kern__ref_mul_mat_packed(pt, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo);
        return;
    }
    struct pb_tok tk[P_NT * PB_MAX_BLOCKS];
    for (int t0 = 0; t0 < nt; t0 += P_NT) {
        int n = nt - t0 < P_NT ? nt - t0 : P_NT;
        const uint8_t *xt = x + (size_t)t0 * xs;
        pb_tokens(xt, xs, nb, n, q5 ? 16 : 8, tk);
        for (int64_t g0 = r0 / 8 * 8; g0 < r1; g0 += 8) {
            const uint8_t *b = w + (size_t)g0 * wrb;
            __m256 acc[P_NT];
            if (q5) {
                KERN_PK_NT_SWITCH(pb_run, n, 1, nb, b, xt, xs, tk, pf)
            } else {
                KERN_PK_NT_SWITCH(pb_run, n, 0, nb, b, xt, xs, tk, pf)
            }
            kern_pk_store(acc, n, g0, r0, r1, out + (int64_t)t0 * ldo, ldo);
        }
    }
}

/* mul_mat for Q8_0_X8. */
static void p8_mul_mat(const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0, int64_t r1,
                       const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo, size_t pf)
{
    int64_t nb = ncols / KERN_QK;
    for (int64_t g0 = r0 / 8 * 8; g0 < r1; g0 += 8) {
        const struct kern_bq8_0x8 *b = (const void *)(w + (size_t)g0 * wrb);
        for (int t0 = 0; t0 < nt; t0 += P_NT) {
            int n = nt - t0 < P_NT ? nt - t0 : P_NT;
            __m256 acc[P_NT];
            KERN_PK_NT_SWITCH(p8_run, n, nb, b, x + (size_t)t0 * xs, xs, pf)
            kern_pk_store(acc, n, g0, r0, r1, out + (int64_t)t0 * ldo, ldo);
        }
    }
}

/* mul_mat for Q6_K_X8. */
static void p6_mul_mat(const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0, int64_t r1,
                       const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo, size_t pf)
{
    int64_t nbk = ncols / KERN_QK_K;
    for (int64_t g0 = r0 / 8 * 8; g0 < r1; g0 += 8) {
        const struct kern_bq6_kx8 *b = (const void *)(w + (size_t)g0 * wrb);
        for (int t0 = 0; t0 < nt; t0 += P_NT) {
            int n = nt - t0 < P_NT ? nt - t0 : P_NT;
            __m256 acc[P_NT];
            KERN_PK_NT_SWITCH(p6_run, n, nbk, b, x + (size_t)t0 * xs, xs, pf)
            kern_pk_store(acc, n, g0, r0, r1, out + (int64_t)t0 * ldo, ldo);
        }
    }
}

uint32_t kern__avx2_pack_type(uint32_t wtype, int64_t ncols, int64_t nrows)
{
    if (ncols <= 0 || nrows <= 0 || nrows % 8 != 0)
        return 0;
    switch (wtype) {
    case KERN_T_Q4_0:
    case KERN_T_Q5_0:
        return ncols % KERN_QK == 0 && ncols / KERN_QK <= PB_MAX_BLOCKS ? 0x100 | wtype : 0;
    case KERN_T_Q8_0:
        return ncols % KERN_QK == 0 ? KERN_T_Q8_0_X8 : 0;
    case KERN_T_Q4_K:
    case KERN_T_Q5_K:
    case KERN_T_Q6_K:
        return ncols % KERN_QK_K == 0 ? 0x100 | wtype : 0;
    default:
        return 0;
    }
}

static float avx2_vec_dot(uint32_t wtype, int64_t n, const void *w, const void *x)
{
    float out;
    if (y_mul_mat(wtype, w, 0, n, 0, 1, x, 0, 1, &out, 1, 0))
        return out;
    if (kern__avx2_row_dot(wtype, n, w, x, 0, 1, &out, 0))
        return out;
    return kern__ref_vec_dot(wtype, n, w, x);
}

int kern__avx2_mul_mat_packed(uint32_t wtype, const void *w, size_t wrb, int64_t ncols, int64_t r0,
                              int64_t r1, const void *x, size_t xs, int nt, float *out, int64_t ldo,
                              size_t pf)
{
    switch (wtype) {
    case KERN_T_Q4_K_X8:
        p4_mul_mat(w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
        return 1;
    case KERN_T_Q5_K_X8:
        p5_mul_mat(w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
        return 1;
    case KERN_T_Q8_0_X8:
        p8_mul_mat(w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
        return 1;
    case KERN_T_Q6_K_X8:
        p6_mul_mat(w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
        return 1;
    case KERN_T_Q4_0_X8:
    case KERN_T_Q5_0_X8:
        pb_mul_mat(wtype, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo, pf);
        return 1;
    default:
        return 0;
    }
}

/* Tokens per pass of the row kernels (A2_NT above). */
static int row_nt(uint32_t wtype)
{
    switch (wtype) {
    case KERN_T_Q2_K:
    case KERN_T_Q3_K:
    case KERN_T_Q4_K:
    case KERN_T_Q5_K:
    case KERN_T_Q6_K:
        return A2_NT;
    default:
        return KERN_AVX2_NT;
    }
}

/* pf: prefetch distance for one-token products (0 = none). */
static void mul_mat_pf(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols, int64_t r0,
                       int64_t r1, const void *x, size_t x_row_bytes, int nt, float *out,
                       int64_t ldo, size_t pf)
{
    const uint8_t *wb = w, *xb = x;
    float tmp[A2_NT];
    int gn = row_nt(wtype);
    pf = nt == 1 ? pf : 0;
    if (kern__avx2_mul_mat_packed(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out,
                                  ldo, pf))
        return;
    if (y_mul_mat(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo, pf))
        return;
    if (f2_mul_mat(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo))
        return;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = wb + (size_t)r * w_row_bytes;
        for (int t0 = 0; t0 < nt; t0 += gn) {
            int n = nt - t0 < gn ? nt - t0 : gn;
            const uint8_t *xt = xb + (size_t)t0 * x_row_bytes;
            if (!kern__avx2_row_dot(wtype, ncols, wr, xt, x_row_bytes, n, tmp, pf))
                for (int t = 0; t < n; t++)
                    tmp[t] = kern__ref_vec_dot(wtype, ncols, wr, xt + (size_t)t * x_row_bytes);
            for (int t = 0; t < n; t++)
                out[(int64_t)(t0 + t) * ldo + r] = tmp[t];
        }
    }
}

static void avx2_mul_mat(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols,
                         int64_t r0, int64_t r1, const void *x, size_t x_row_bytes, int nt,
                         float *out, int64_t ldo)
{
    mul_mat_pf(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo, 0);
}

static void avx2_mul_mat_pf(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols,
                            int64_t r0, int64_t r1, const void *x, size_t x_row_bytes, int nt,
                            float *out, int64_t ldo)
{
    mul_mat_pf(wtype, w, w_row_bytes, ncols, r0, r1, x, x_row_bytes, nt, out, ldo, KERN_PF_DIST);
}

/* Activation quantizers: Q8_0 / Q8_1 with the same operations as the scalar ones (amax,
 * 127/amax, multiply, round to nearest even), so the bytes are identical. */
static void quant_q8_0(const float *x, struct kern_bq8_0 *b, int64_t nb, int with_sum)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < nb; i++, x += 32) {
        __m256 v[4];
        __m256 mx = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[k]));
        }
        float amax = hmax_ps(mx);
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        __m256 mul = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(_mm256_round_ps(
                _mm256_mul_ps(v[k], mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        float d = amax / 127.0f;
        if (with_sum) {
            struct kern_bq8_1 *b1 = (struct kern_bq8_1 *)b + i;
            _mm256_storeu_si256((__m256i *)b1->qs, p);
            __m256i s =
                _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            b1->d = kern_f32_to_fp16(d);
            b1->s = kern_f32_to_fp16(d * (float)hsum_epi32(s));
        } else {
            _mm256_storeu_si256((__m256i *)b[i].qs, p);
            b[i].d = kern_f32_to_fp16(d);
        }
    }
}

/* Q8_K with the scalar quantizer's operations: the first element of the largest magnitude sets
 * the scale (-127 / it), products rounded to nearest even, clamped at 127, 16-element sums; the
 * bytes are identical to kern_ref.c's. */
static void quant_q8_k(const float *x, struct kern_bq8_k *b, int64_t nb)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i lim = _mm256_set1_epi32(127);
    for (int64_t i = 0; i < nb; i++, b++, x += KERN_QK_K) {
        __m256 mx = _mm256_setzero_ps();
        for (int k = 0; k < KERN_QK_K / 8; k++) /* NaN lanes never win, as in the scalar loop */
            mx = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k)), mx);
        float amax = hmax_ps(mx);
        if (amax == 0.0f) {
            memset(b, 0, sizeof(*b));
            continue;
        }
        int j = 0;
        while (j < KERN_QK_K - 1 && fabsf(x[j]) != amax)
            j++;
        float iscale = -127.0f / x[j];
        __m256 mul = _mm256_set1_ps(iscale);
        for (int k = 0; k < KERN_QK_K / 32; k++) {
            __m256i q[4];
            for (int l = 0; l < 4; l++) {
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + 32 * k + 8 * l), mul);
                v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[l] = _mm256_min_epi32(_mm256_cvtps_epi32(v), lim);
            }
            __m256i p =
                _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(b->qs + 32 * k), p);
            b->bsums[2 * k] = (int16_t)hsum_epi32(_mm256_add_epi32(q[0], q[1]));
            b->bsums[2 * k + 1] = (int16_t)hsum_epi32(_mm256_add_epi32(q[2], q[3]));
        }
        b->d = 1.0f / iscale;
    }
}

void kern__avx2_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    switch (type) {
    case KERN_T_Q8_0:
        quant_q8_0(src, dst, n / KERN_QK, 0);
        break;
    case KERN_T_Q8_1:
        quant_q8_0(src, dst, n / KERN_QK, 1);
        break;
    case KERN_T_Q8_K:
        quant_q8_k(src, dst, n / KERN_QK_K);
        break;
    default:
        kern__ref_quantize_row(type, src, dst, n);
        break;
    }
}

const struct kern kern__table_avx2 = {
    .isa = KERN_ISA_AVX2,
    .name = "avx2",
    .vec_dot_type = kern__ref_vec_dot_type,
    .quantize_row = kern__avx2_quantize_row,
    .dequantize_row = kern__ref_dequantize_row,
    .vec_dot = avx2_vec_dot,
    .mul_mat = avx2_mul_mat,
    .pack_type = kern__avx2_pack_type,
};

/* The same with software prefetch in one-token products (kern_dispatch.c). */
const struct kern kern__table_avx2_pf = {
    .isa = KERN_ISA_AVX2,
    .name = "avx2+prefetch",
    .vec_dot_type = kern__ref_vec_dot_type,
    .quantize_row = kern__avx2_quantize_row,
    .dequantize_row = kern__ref_dequantize_row,
    .vec_dot = avx2_vec_dot,
    .mul_mat = avx2_mul_mat_pf,
    .pack_type = kern__avx2_pack_type,
};

#endif

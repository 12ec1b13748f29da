/*
 * kern_avx_common.h - small always-inline helpers shared by kern_x86_avx2.c and
 * kern_x86_avx512.c.  Include only from files compiled with at least -mavx2 -mfma -mf16c.
 */
#ifndef CORRAL_ENGINE_KERN_AVX_COMMON_H
#define CORRAL_ENGINE_KERN_AVX_COMMON_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

/* Tokens (activation rows) one weight row is dotted with per pass in mul_mat. */
#define KERN_AVX2_NT 4
/* Most tokens one K_B32 kernel below takes (a file may raise it before including this). */
#ifndef KERN_ROW_NT
#define KERN_ROW_NT KERN_AVX2_NT
#endif

AI float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

AI float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AI float hmax_ps(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AI int hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* The 8 six-bit scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K/Q5_K scales[12]:
 * words u0..u2 of the 12 bytes: sc0-3 = u0 & 0x3f.., sc4-7 = (u2 & 0x0f..) | (u0 >> 6) << 4,
 * m0-3 = u1 & 0x3f.., m4-7 = (u2 >> 4 & 0x0f..) | (u1 >> 6) << 4 (bytewise).  Reads 16 bytes
 * from s12 (the 4 after the scales are still inside the block). */
AI __m128i kern_avx_k4_scales(const uint8_t *s12)
{
    __m128i u = _mm_loadu_si128((const __m128i *)s12);
    __m128i a = _mm_shuffle_epi32(u, 0x98); /* u0 u2 u1 u2 */
    __m128i b = _mm_shuffle_epi32(u, 0x50); /* u0 u0 u1 u1 */
    a = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)),
                      _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    b = _mm_and_si128(_mm_srli_epi32(b, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128(a, b);
}

/* vpshufb index that broadcasts 16-bit word k of each 128-bit lane. */
AI __m256i kern_avx_word_pick(int k)
{
    return _mm256_set1_epi16((short)(2 * k | (2 * k + 1) << 8));
}

/* 16 packed nibbles -> 32 bytes: low nibbles first (elements 0..15), then high (16..31). */
AI __m256i unpack_nibbles(const uint8_t *p)
{
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

/* 32 bits -> 32 bytes, byte j = 0x10 when bit j is set (the 5th bit of Q5_0/Q5_1). */
AI __m256i expand_bits_0x10(const uint8_t *qh4)
{
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    __m256i v = _mm256_set1_epi32((int)qh);
    const __m256i idx = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                          0x0101010101010101LL, 0x0000000000000000LL);
    v = _mm256_shuffle_epi8(v, idx);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* fn(n, w, x, xs, k, out, pf) with k the constant equal to nt (1 <= nt; nt >= max runs max, max
 * <= 8): each inlined row kernel then sees its token count as a constant.  The cases past max
 * call max too (unreachable), so no kernel is instantiated wider than its arrays. */
#define KERN_NT_MIN(k, max) ((k) < (max) ? (k) : (max))
#define KERN_NT_SWITCH(max, fn, n, w, x, xs, nt, out)  \
    switch (nt) {                                      \
    case 1:                                            \
        fn(n, w, x, xs, 1, out, pf);                   \
        break;                                         \
    case 2:                                            \
        fn(n, w, x, xs, KERN_NT_MIN(2, max), out, pf); \
        break;                                         \
    case 3:                                            \
        fn(n, w, x, xs, KERN_NT_MIN(3, max), out, pf); \
        break;                                         \
    case 4:                                            \
        fn(n, w, x, xs, KERN_NT_MIN(4, max), out, pf); \
        break;                                         \
    case 5:                                            \
        fn(n, w, x, xs, KERN_NT_MIN(5, max), out, pf); \
        break;                                         \
    case 6:                                            \
        fn(n, w, x, xs, KERN_NT_MIN(6, max), out, pf); \
        break;                                         \
    case 7:                                            \
        fn(n, w, x, xs, KERN_NT_MIN(7, max), out, pf); \
        break;                                         \
    default:                                           \
        fn(n, w, x, xs, max, out, pf);                 \
        break;                                         \
    }

/* Two blocks per step into two accumulators: the FMA latency chain, not the loads, bounds a
 * single-accumulator loop over these small blocks. */
/* Software prefetch of the n bytes at p + pf, one request per 64 (none when pf is 0).  The gemv
 * kernels issue it per weight block with pf = KERN_PF_DIST on CPUs where it pays (kern_dispatch.c
 * chooses): on the Intel Xeon (AMX generation) VMs here a Q4_K gemv streamed 6-7 GB/s without it
 * and 15-15.7 GB/s with it (bench_kern, 1 thread, 512-4096 bytes ahead measured, 2048 best); on
 * Zen 3 (no AVX-512) Q8_0 16.6 -> 20-22 GB/s and the packed types (kern_pack.c) 16-17 -> 18-22;
 * on Zen 4 it cost 10-20 %, so there it stays off. */
#ifndef KERN_PF_DIST
#define KERN_PF_DIST 2048
#endif
#ifndef KERN_PF_HINT
#define KERN_PF_HINT _MM_HINT_T0
#endif
#define KERN_PF(p, n, pf)                                                     \
    do {                                                                      \
        if (pf)                                                               \
            for (size_t pf_o_ = 0; pf_o_ < (size_t)(n); pf_o_ += 64)          \
                _mm_prefetch((const char *)(p) + (pf) + pf_o_, KERN_PF_HINT); \
    } while (0)

#define K_B32_STEP(WT, XT, decode, dotfn, extra, i, A)                                            \
    do {                                                                                          \
        const struct WT *bw = (const struct WT *)w + (i);                                         \
        KERN_PF(bw, sizeof *bw, pf);                                                              \
        __m256i q = decode;                                                                       \
        float dw = h2f(bw->d);                                                                    \
        for (int t = 0; t < nt; t++) {                                                            \
            const struct XT *bx = (const struct XT *)(x + (size_t)t * xs) + (i);                  \
            __m256i s = dotfn(q, _mm256_loadu_si256((const __m256i *)bx->qs));                    \
            A[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * h2f(bx->d)), _mm256_cvtepi32_ps(s), A[t]); \
            extra;                                                                                \
        }                                                                                         \
    } while (0)

#define K_B32(name, WT, XT, decode, dotfn, extra)                                               \
    AI void name(int64_t nb, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out, \
                 size_t pf)                                                                     \
    {                                                                                           \
        __m256 acc0[KERN_ROW_NT], acc1[KERN_ROW_NT];                                            \
        float ext[KERN_ROW_NT];                                                                 \
        for (int t = 0; t < nt; t++) {                                                          \
            acc0[t] = acc1[t] = _mm256_setzero_ps();                                            \
            ext[t] = 0.0f;                                                                      \
        }                                                                                       \
        int64_t i = 0;                                                                          \
        for (; i + 2 <= nb; i += 2) {                                                           \
            K_B32_STEP(WT, XT, decode, dotfn, extra, i, acc0);                                  \
            K_B32_STEP(WT, XT, decode, dotfn, extra, i + 1, acc1);                              \
        }                                                                                       \
        if (i < nb)                                                                             \
            K_B32_STEP(WT, XT, decode, dotfn, extra, i, acc0);                                  \
        for (int t = 0; t < nt; t++)                                                            \
            out[t] = hsum_ps(_mm256_add_ps(acc0[t], acc1[t])) + ext[t];                         \
    }

/* ---- packed 8-row types (kern_pack.c): pieces of the AVX2 and AVX-512 kernels ---- */

#define KERN_PK_NT 4 /* tokens that share each weight load of a packed kernel */

/* fn(args..., k, acc) with k the constant equal to nt_ (1 <= nt_ <= KERN_PK_NT), so each packed
 * kernel is inlined with its token count known. */
#define KERN_PK_NT_SWITCH(fn, nt_, ...)   \
    switch (nt_) {                        \
    case 1:                               \
        fn(__VA_ARGS__, 1, acc);          \
        break;                            \
    case 2:                               \
        fn(__VA_ARGS__, 2, acc);          \
        break;                            \
    case 3:                               \
        fn(__VA_ARGS__, 3, acc);          \
        break;                            \
    default:                              \
        fn(__VA_ARGS__, KERN_PK_NT, acc); \
        break;                            \
    }

/* Stores acc[t] (lanes: rows g0..g0+7) into out for the rows of [r0, r1). */
AI void kern_pk_store(const __m256 *acc, int n, int64_t g0, int64_t r0, int64_t r1, float *out,
                      int64_t ldo)
{
    int whole = g0 >= r0 && g0 + 8 <= r1;
    for (int t = 0; t < n; t++) {
        float *o = out + (int64_t)t * ldo;
        if (whole) {
            _mm256_storeu_ps(o + g0, acc[t]);
            continue;
        }
        float tmp[8];
        _mm256_storeu_ps(tmp, acc[t]);
        for (int64_t r = g0 < r0 ? r0 : g0; r < g0 + 8 && r < r1; r++)
            o[r] = tmp[r - g0];
    }
}

/* Q4_K_X8 / Q5_K_X8 mins: per row lane, the sum over the 8 sub-blocks of min x the activation's
 * sub-block sum (mn: the block's 64 min bytes, bsums: the Q8_K block's 16 int16 sums of 16). */
AI __m256i kern_pk_k4_mins(const uint8_t *mn, const void *bsums)
{
    __m256i bs = _mm256_loadu_si256((const __m256i *)bsums);
    bs = _mm256_hadd_epi16(bs, bs); /* dwords 0,1,4,5: sub-block sum pairs 01 23 45 67 */
    __m256i ms = _mm256_setzero_si256();
    for (int k = 0; k < 4; k++) {
        __m256i mv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(mn + 16 * k)));
        __m256i pr = _mm256_permutevar8x32_epi32(bs, _mm256_set1_epi32((k & 1) | (k & 2) << 1));
        ms = _mm256_add_epi32(ms, _mm256_madd_epi16(mv, pr));
    }
    return ms;
}

#endif

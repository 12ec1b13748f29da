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

/* The 8 six-bit scales and 8 mins of a Q4_K/Q5_K scales[12] with word operations:
 * bytes 0-3 hold sc0-3 / bits 6-7 = high bits of sc4-7; 4-7 hold m0-3 / high bits of m4-7;
 * 8-11 hold the low nibbles of sc4-7 (low) and m4-7 (high). */
AI void kern_avx_k4_scales(const uint8_t *s12, uint8_t sc[8], uint8_t mn[8])
{
    uint32_t u[3], o[4];
    memcpy(u, s12, 12);
    o[0] = u[0] & 0x3f3f3f3fu;
    o[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
    o[2] = u[1] & 0x3f3f3f3fu;
    o[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
    memcpy(sc, o, 8);
    memcpy(mn, o + 2, 8);
}

#endif

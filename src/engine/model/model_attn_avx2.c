/*
 * model_attn_avx2.c - attention inner loops over an F16 KV cache with AVX2 + F16C + FMA:
 * q . k for one cached key row and acc += a * v for one cached value row.  Chosen at run time
 * by model_fwd.c when the CPU has these extensions (the scalar table-lookup loops otherwise).
 */
#include "engine/model/model_attn.h"

#include <immintrin.h>

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

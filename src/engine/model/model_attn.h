/*
 * model_attn.h - ISA-specific attention inner loops over an F16 KV cache (model_attn_avx2.c),
 * internal to the model module.  Callers check model_attn_have_avx2() first.
 */
#ifndef CORRAL_ENGINE_MODEL_ATTN_H
#define CORRAL_ENGINE_MODEL_ATTN_H

#include <cpuid.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/kern/kern.h"

/* Returns q[0..n) . f16 k[0..n). */
float model_attn_dot_f16_avx2(const float *q, const uint16_t *k, uint32_t n);
/* acc[0..n) += a * f16 v[0..n). */
void model_attn_axpy_f16_avx2(float *acc, float a, const uint16_t *v, uint32_t n);

/* sc[i] = exp(sc[i] - mx) for i < n (sc[i] <= mx); returns their sum. */
float model_attn_softmax_avx2(float *sc, uint32_t n, float mx);

/* Scores of one query row q[0..hd) against 8 consecutive f16 key rows k, k + kstride, ...
 * (hd a multiple of 8): out[p] = scale * q . k_p. */
void model_attn_scores8_f16_avx2(const float *q, const uint16_t *k, size_t kstride, uint32_t hd,
                                 float scale, float *out);
/* dst[0..n) = f16 src[0..n) as floats. */
void model_attn_f16_to_f32_avx2(float *dst, const uint16_t *src, uint32_t n);

/* out[g hd + i] += sum over k < nk of p[g pstride + k] * vt[k hd + i], for g < gqa, i < hd
 * (vt: nk value rows already widened to floats). */
void model_attn_pv_avx2(float *out, uint32_t gqa, uint32_t hd, const float *p, size_t pstride,
                        const float *vt, uint32_t nk);
/* out[t os + j] = q[t qs + 0..hd) . (kt[0 kts + j], kt[1 kts + j], ...) for t < nt, j < n: the
 * scores of nt queries against n keys stored transposed (one row of n per dimension), computed
 * 16 keys wide with no horizontal sums (the encoder's heads are 32-64 wide, too short for
 * row dot products). */
void model_attn_qkt_avx2(const float *q, size_t qs, int nt, const float *kt, size_t kts,
                         uint32_t hd, int n, float *out, size_t os);
/* kt[d kts + j] = f16 k[j ks + d] as float, for d < hd (a multiple of 8), j < nk: cached key
 * rows widened and transposed, 8 x 8 at a time. */
void model_attn_kt_f16_avx2(const uint16_t *k, size_t ks, uint32_t hd, uint32_t nk, float *kt,
                            size_t kts);
/* The largest of x[0..n) (-inf when n is 0). */
float model_attn_max_avx2(const float *x, uint32_t n);
/* x[0..n) *= a. */
void model_scale_avx2(float *x, float a, uint32_t n);
/* out[i] = silu(gate[i]) * up[i] (out may be gate); exp to ~2e-7 relative. */
void model_silu_mul_avx2(float *out, const float *gate, const float *up, int64_t n);

/* 1 when the CPU has AVX2, FMA and F16C (F16C read from CPUID leaf 1, ECX bit 29: clang's
 * __builtin_cpu_supports does not know "f16c"). */
static inline int model_attn_have_avx2(void)
{
    unsigned a, b, c, d;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c >> 29) & 1u;
}

/* Whether a model on kern table isa uses these loops (not on the scalar table, which tests use
 * as the reference). */
static inline int model_attn_simd(enum kern_isa isa)
{
    return isa != KERN_ISA_SCALAR && model_attn_have_avx2();
}

/* silu(gate) * up by the loop above when simd, else the scalar kern helper. */
static inline void model_silu_mul(int simd, float *out, const float *gate, const float *up,
                                  int64_t n)
{
    if (simd)
        model_silu_mul_avx2(out, gate, up, n);
    else
        kern_silu_mul(out, gate, up, n);
}

#endif

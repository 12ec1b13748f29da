/*
 * kern_int.h - shared between the kern module's own files only: block layouts (packed, so any
 * byte alignment of a row is fine), the scalar helpers every ISA file reuses for tails and
 * rarely used types, and the per-ISA tables.  Layouts: inference-reference.md D.2.
 */
#ifndef CORRAL_ENGINE_KERN_INT_H
#define CORRAL_ENGINE_KERN_INT_H

#include "engine/kern/kern.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KERN_QK   32  /* elements of a Q4_0..Q8_1 block */
#define KERN_QK_K 256 /* elements of a K-quant super-block */

#define KERN_PACKED __attribute__((packed))

struct KERN_PACKED kern_bq4_0 {
    uint16_t d;
    uint8_t qs[16];
};
struct KERN_PACKED kern_bq4_1 {
    uint16_t d, m;
    uint8_t qs[16];
};
struct KERN_PACKED kern_bq5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
};
struct KERN_PACKED kern_bq5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
};
struct KERN_PACKED kern_bq8_0 {
    uint16_t d;
    int8_t qs[32];
};
struct KERN_PACKED kern_bq8_1 {
    uint16_t d, s;
    int8_t qs[32];
};
struct KERN_PACKED kern_bq2_k {
    uint8_t scales[16];
    uint8_t qs[64];
    uint16_t d, dmin;
};
struct KERN_PACKED kern_bq3_k {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12];
    uint16_t d;
};
struct KERN_PACKED kern_bq4_k {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[128];
};
struct KERN_PACKED kern_bq5_k {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
struct KERN_PACKED kern_bq6_k {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
};
struct KERN_PACKED kern_bq8_k {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
};

/* KERN_T_Q4_K_X8: super-block i of 8 rows r (kern_pack.c), laid out for 8-row AVX2 lanes:
 *   d[r], dmin[r]            the rows' fp16 scales
 *   sc[8 s + r]              6-bit scale of sub-block s (32 elements) of row r
 *   mn[16 k + 2 r + e]       6-bit min of sub-block 2k+e of row r
 *   qs[128 s + 32 g + 4 r + e] = code(r, 32s + 4g + e) | code(r, 32s + 16 + 4g + e) << 4
 * so one 32-byte load holds 4 codes of each of the 8 rows, twice (low and high nibbles). */
/* KERN_T_Q4_0_X8 / KERN_T_Q5_0_X8: block i of 8 rows r, codes as for Q4_K_X8 (4-element groups
 * g of the rows, element 4g+e in the low nibble and 16+4g+e in the high one):
 *   qs[32 g + 4 r + e] = code(r, 4g + e) & 15 | (code(r, 16 + 4g + e) & 15) << 4
 *   qh[4 r + e] (Q5_0): bit g = bit 4 of code(r, 4g + e), bit 4 + g = that of code(r, 16+4g+e) */
struct KERN_PACKED kern_bq4_0x8 {
    uint16_t d[8];
    uint8_t qs[128];
};
struct KERN_PACKED kern_bq5_0x8 {
    uint16_t d[8];
    uint8_t qh[32];
    uint8_t qs[128];
};

/* KERN_T_Q8_0_X8: block i of 8 rows r: qs[32 g + 4 r + e] = code(r, 4g + e), g = 0..7. */
struct KERN_PACKED kern_bq8_0x8 {
    uint16_t d[8];
    int8_t qs[256];
};

struct KERN_PACKED kern_bq4_kx8 {
    uint16_t d[8], dmin[8];
    uint8_t sc[64];
    uint8_t mn[64];
    uint8_t qs[1024];
};

/* KERN_T_Q5_K_X8: Q4_K_X8's fields for the low 4 bits, then the fifth bits as Q5_0_X8 per
 * sub-block s: qh[32 s + 4 r + e] bit g = bit 4 of code(r, 32s + 4g + e), bit 4 + g = bit 4 of
 * code(r, 32s + 16 + 4g + e). */
struct KERN_PACKED kern_bq5_kx8 {
    uint16_t d[8], dmin[8];
    uint8_t sc[64];
    uint8_t mn[64];
    uint8_t qh[256];
    uint8_t qs[1024];
};

/* KERN_T_Q6_K_X8: super-block of 8 rows r, in 8 spans m of 32 elements (sub-blocks 2m, 2m+1):
 *   d[r]                                  the rows' fp16 scales
 *   sc[16 k + 2 r + e]                    signed scale of sub-block 2k+e (16 elements) of row r
 *   qs[192 m + 32 g + 4 r + e]            low 4 bits of code(r, 32m + 4g + e) | those of
 *                                         code(r, 32m + 16 + 4g + e) << 4   (g = 0..3)
 *   qs[192 m + 128 + 32 h + 4 r + e]      bits 2g..2g+1 = the top 2 bits of code(r, 32m + 16h +
 *                                         4g + e)   (h = 0, 1)
 * with code the unsigned 6-bit value (the element is code - 32). */
struct KERN_PACKED kern_bq6_kx8 {
    uint16_t d[8];
    int8_t sc[128];
    uint8_t qs[1536];
};

_Static_assert(sizeof(struct kern_bq6_kx8) == 8 * 210, "q6_k_x8");
_Static_assert(sizeof(struct kern_bq5_kx8) == 8 * 180, "q5_k_x8");
_Static_assert(offsetof(struct kern_bq4_kx8, sc) == 32 && offsetof(struct kern_bq4_kx8, mn) == 96 &&
                   offsetof(struct kern_bq5_kx8, sc) == 32 &&
                   offsetof(struct kern_bq5_kx8, mn) == 96,
               "k4 heads");
_Static_assert(sizeof(struct kern_bq4_0) == 18, "q4_0");
_Static_assert(sizeof(struct kern_bq4_kx8) == 8 * 148, "q4_k_x8");
_Static_assert(sizeof(struct kern_bq4_0x8) == 8 * 18, "q4_0_x8");
_Static_assert(sizeof(struct kern_bq5_0x8) == 8 * 22, "q5_0_x8");
_Static_assert(sizeof(struct kern_bq8_0x8) == 8 * 34, "q8_0_x8");
_Static_assert(sizeof(struct kern_bq4_1) == 20, "q4_1");
_Static_assert(sizeof(struct kern_bq5_0) == 22, "q5_0");
_Static_assert(sizeof(struct kern_bq5_1) == 24, "q5_1");
_Static_assert(sizeof(struct kern_bq8_0) == 34, "q8_0");
_Static_assert(sizeof(struct kern_bq8_1) == 36, "q8_1");
_Static_assert(sizeof(struct kern_bq2_k) == 84, "q2_k");
_Static_assert(sizeof(struct kern_bq3_k) == 110, "q3_k");
_Static_assert(sizeof(struct kern_bq4_k) == 144, "q4_k");
_Static_assert(sizeof(struct kern_bq5_k) == 176, "q5_k");
_Static_assert(sizeof(struct kern_bq6_k) == 210, "q6_k");
_Static_assert(sizeof(struct kern_bq8_k) == 292, "q8_k");

/* Half-precision helpers (scalar, exact). */
static inline float kern__h2f(uint16_t h)
{
    return kern_fp16_to_f32(h);
}

/* Element i of a float row at any byte alignment (rows may start anywhere in a mapping). */
static inline float kern__ldf(const void *p, int64_t i)
{
    float f;
    memcpy(&f, (const uint8_t *)p + 4 * i, sizeof f);
    return f;
}

/* Round to nearest, ties to even, for |f| < 2^22 (the 1.5*2^23 trick of the reference). */
static inline int kern__nearest_int(float f)
{
    float v = f + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* 6-bit scale and min j of a Q4_K/Q5_K scales[12] array. */
static inline void kern__scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Signed 6-bit scale j (already minus 32) of a Q3_K scales[12] array. */
static inline int kern__scale_q3k(int j, const uint8_t *b)
{
    int lo = j < 8 ? (b[j] & 15) : (b[j - 8] >> 4);
    int hi = (b[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

/* Scalar implementations (kern_ref.c), reused by the ISA files for tails and fallbacks. */
uint32_t kern__ref_vec_dot_type(uint32_t wtype);
void kern__ref_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);
void kern__ref_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);
float kern__ref_vec_dot(uint32_t wtype, int64_t n, const void *w, const void *x);
void kern__ref_mul_mat(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols, int64_t r0,
                       int64_t r1, const void *x, size_t x_row_bytes, int nt, float *out,
                       int64_t ldo);

/* Packed types (kern_pack.c): the scalar product of packed rows [r0, r1) with nt activation rows,
 * for tables without a kernel. */
void kern__ref_mul_mat_packed(uint32_t ptype, const void *w, size_t w_row_bytes, int64_t ncols,
                              int64_t r0, int64_t r1, const void *x, size_t x_row_bytes, int nt,
                              float *out, int64_t ldo);

/* The weight quantizers (kern_quant.c): llama.cpp's reference algorithms; n checked by caller. */
void kern__quantize_weights_row(uint32_t type, const float *src, void *dst, int64_t n);

/* AVX2 dot of one weight row of n elements against nt <= 4 activation rows xs bytes apart
 * (kern_x86_avx2.c; call only when the CPU has AVX2+FMA+F16C).  Returns 0 when wtype has no
 * AVX2 kernel and nothing was written. */
int kern__avx2_row_dot(uint32_t wtype, int64_t n, const uint8_t *w, const uint8_t *x, size_t xs,
                       int nt, float *out, size_t pf);

/* The packed types (kern_pack.c) of the AVX2 kernels, which the AVX-512 and AMX tables share:
 * kern__avx2_pack_type is the tables' pack_type; kern__avx2_mul_mat_packed is mul_mat for a
 * packed wtype (pf: prefetch distance, 0 for none) and returns 0 for any other type, writing
 * nothing.  Call only when the CPU has AVX2+FMA+F16C. */
uint32_t kern__avx2_pack_type(uint32_t wtype, int64_t ncols, int64_t nrows);
int kern__avx2_mul_mat_packed(uint32_t wtype, const void *w, size_t wrb, int64_t ncols, int64_t r0,
                              int64_t r1, const void *x, size_t xs, int nt, float *out, int64_t ldo,
                              size_t pf);

/* AVX2 activation quantizer (same bytes as kern__ref_quantize_row). */
void kern__avx2_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

extern const struct kern kern__table_scalar;
extern const struct kern kern__table_avx2;
extern const struct kern kern__table_avx512;
extern const struct kern kern__table_avx2_pf;
extern const struct kern kern__table_avx512_pf;
extern const struct kern kern__table_amx;
extern const struct kern kern__table_amx_pf;

#endif

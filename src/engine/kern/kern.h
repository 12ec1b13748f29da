/*
 * kern.h - tensor element types and the compute kernels over them.
 *
 * Every weight type has (1) a scalar reference implementation of dequantize, quantize and dot
 * (kern_ref.c, the source of truth in tests) and (2) fast implementations per ISA (kern_x86_avx2.c,
 * kern_x86_avx512.c) selected at run time.  Dots are "weight row x activation row" where the
 * activation row was first quantized to the weight type's vec_dot_type (Q8_0, Q8_1 or Q8_K for
 * quantized weights; F32 for F32, and also F32 for F16/BF16 weights: the weights are widened on
 * the fly and the activations stay exact) so the inner loops are integer dots, as the fastest
 * engines do.
 *
 * A struct kern is an immutable table of function pointers; kern_get() returns a static one
 * (no mutable global state).  All functions are thread-safe and never allocate or log.
 * Type ids are the ggml ids of gguf.h (GGUF_T_*).  Block layouts:
 * ../shared/docs/inference-reference.md D.2.
 */
#ifndef CORRAL_ENGINE_KERN_H
#define CORRAL_ENGINE_KERN_H

#include <stddef.h>
#include <stdint.h>

/* Type ids (equal to the ggml ids of gguf.h GGUF_T_*, repeated so kern does not depend on gguf). */
enum kern_type {
    KERN_T_F32 = 0,
    KERN_T_F16 = 1,
    KERN_T_Q4_0 = 2,
    KERN_T_Q4_1 = 3,
    KERN_T_Q5_0 = 6,
    KERN_T_Q5_1 = 7,
    KERN_T_Q8_0 = 8,
    KERN_T_Q8_1 = 9,
    KERN_T_Q2_K = 10,
    KERN_T_Q3_K = 11,
    KERN_T_Q4_K = 12,
    KERN_T_Q5_K = 13,
    KERN_T_Q6_K = 14,
    KERN_T_Q8_K = 15,
    KERN_T_BF16 = 30,
    /* Packed weight types: rows of a file type regrouped for one table's kernels at load
     * (kern_pack.c).  Never in files; only mul_mat takes them (not vec_dot, dequantize_row,
     * prepare).  _X8: 8 rows interleaved per block (AVX2). */
    KERN_T_Q4_0_X8 = 0x100 | KERN_T_Q4_0,
    KERN_T_Q5_0_X8 = 0x100 | KERN_T_Q5_0,
    KERN_T_Q8_0_X8 = 0x100 | KERN_T_Q8_0,
    KERN_T_Q4_K_X8 = 0x100 | KERN_T_Q4_K,
    KERN_T_Q5_K_X8 = 0x100 | KERN_T_Q5_K,
    KERN_T_Q6_K_X8 = 0x100 | KERN_T_Q6_K,
};

/* AMX: the AVX-512 table whose prompt products use the AMX tile unit (kern_x86_amx.c). */
enum kern_isa {
    KERN_ISA_SCALAR = 0,
    KERN_ISA_AVX2 = 1,
    KERN_ISA_AVX512 = 2,
    KERN_ISA_AMX = 3,
    KERN_ISA_BEST = 99
};

struct kern {
    enum kern_isa isa;
    const char *name; /* "scalar", "avx2", "avx512", "amx" (+ "+prefetch") */

    /* Activation type that weights of type wtype are dotted against. */
    uint32_t (*vec_dot_type)(uint32_t wtype);
    /* Quantizes n floats (n a multiple of the block size of type) into dst of type
     * (any type that has a quantizer; used for activations and by the quantizer). */
    void (*quantize_row)(uint32_t type, const float *src, void *dst, int64_t n);
    /* Dequantizes n elements of type into floats. */
    void (*dequantize_row)(uint32_t type, const void *src, float *dst, int64_t n);
    /* Returns dot(w, x) over n elements; w of type wtype, x of vec_dot_type(wtype). */
    float (*vec_dot)(uint32_t wtype, int64_t n, const void *w, const void *x);
    /* Matrix product on a block of rows: for r in [r0, r1) and t in [0, nt):
     *   out[t * ldo + r] = dot(row r of W, row t of X)
     * W: rows of w_row_bytes bytes of wtype, each ncols long.  X: nt rows of x_row_bytes bytes of
     * vec_dot_type(wtype), as quantize_row writes them (Q8_0/Q8_1 codes never -128: kernels for
     * signed weight codes use the sign trick, which cannot negate -128).  Fast versions tile over
     * several rows and tokens at once. */
    void (*mul_mat)(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols, int64_t r0,
                    int64_t r1, const void *x, size_t x_row_bytes, int nt, float *out, int64_t ldo);

    /* Optional, NULL in tables without it (test for NULL, or for prep_bytes() == 0).  Some
     * kernels reorganize the activations before the dot (AVX-512 Q4_0/Q4_1/Q5_0/Q5_1/Q8_0: ~10% of
     * a mul_mat over 64 rows); a caller that splits one matmul into many row blocks (threads, work
     * items) can do that once instead of in every mul_mat call.
     * - prep_bytes: bytes of the buffer for nt activation rows of ncols for weights of wtype; 0
     *   when wtype has no such form for nt rows (then use mul_mat; the AMX table has it only for
     *   batches below its tile threshold for Q8_0/Q4_0/Q5_0).
     * - prepare: fills prep (64-byte aligned, prep_bytes long) from X, laid out as for mul_mat
     *   (nt rows x_row_bytes apart, of vec_dot_type(wtype)).
     * - mul_mat_prep: exactly mul_mat, with X given as the prepared buffer.
     * The buffer is read-only after prepare, so many threads may share it. */
    size_t (*prep_bytes)(uint32_t wtype, int64_t ncols, int nt);
    void (*prepare)(uint32_t wtype, const void *x, size_t x_row_bytes, int64_t ncols, int nt,
                    void *prep);
    void (*mul_mat_prep)(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t ncols,
                         int64_t r0, int64_t r1, const void *prep, int nt, float *out, int64_t ldo);

    /* Optional, NULL in tables without it: the packed type this table multiplies faster than a
     * matrix of nrows x ncols of wtype (0: none).  Pack with kern_pack; then mul_mat takes the
     * packed type with w_row_bytes = kern_row_bytes(packed, ncols), any r0/r1. */
    uint32_t (*pack_type)(uint32_t wtype, int64_t ncols, int64_t nrows);
};

/* Rows per group of a packed type (8 for the _X8 types), 0 for any other type. */
int kern_pack_rows(uint32_t ptype);
/* The file type a packed type holds (0 for any other type). */
uint32_t kern_pack_base(uint32_t ptype);
/* Packs nrows rows of ptype's file type (w_row_bytes apart) into dst, kern_row_bytes(ptype,
 * ncols) * nrows bytes; nrows a multiple of kern_pack_rows(ptype).  Returns 0 or E_INVAL. */
int kern_pack(uint32_t ptype, const void *w, size_t w_row_bytes, int64_t ncols, int64_t nrows,
              void *dst);
/* Row r of a packed matrix (p, rows p_row_bytes apart as for mul_mat) back in the file type:
 * kern_row_bytes(file type, ncols) bytes into dst, the exact bytes kern_pack read.  0 or E_INVAL.
 */
int kern_unpack_row(uint32_t ptype, const void *p, size_t p_row_bytes, int64_t ncols, int64_t r,
                    void *dst);

/* Weight quantizer: llama.cpp's reference algorithm for type (no importance matrix), so files
 * written with it match llama.cpp's byte for byte for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1 (and F16/BF16/F32)
 * and closely for the K types.  n a multiple of the block size.  Differs from quantize_row only
 * for Q8_0/Q8_1, where quantize_row is the activation quantizer of llama.cpp's SIMD path (scale
 * 127/amax, round to nearest even) and this one is the file quantizer (1/d, round half away).
 * Returns 0, or E_INVAL for a type without a quantizer or a bad n.  Thread-safe. */
int kern_quantize_weights(uint32_t type, const float *src, void *dst, int64_t n);

/* The table for isa (KERN_ISA_BEST: the best the CPU supports).  Returns NULL when the CPU
 * lacks the requested ISA.  CORRAL_KERN=scalar|avx2|avx512|amx in the environment caps BEST. */
const struct kern *kern_get(enum kern_isa isa);

/* Type facts (same as gguf_type_*, repeated so kernels do not depend on gguf). */
uint32_t kern_type_block_elems(uint32_t type);
uint32_t kern_type_block_bytes(uint32_t type);
/* Bytes of a row of n elements (n a multiple of the block size), 0 on error. */
size_t kern_row_bytes(uint32_t type, int64_t n);
/* 1 when the engine can compute with weights of this type. */
int kern_type_supported(uint32_t type);

/* fp16 / bf16 conversions (exact round-to-nearest-even). */
float kern_fp16_to_f32(uint16_t h);
uint16_t kern_f32_to_fp16(float f);
float kern_bf16_to_f32(uint16_t h);
uint16_t kern_f32_to_bf16(float f);

/* Elementwise helpers used by the model code (vectorized where the ISA allows). */
void kern_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void kern_softmax(float *x, int64_t n);
void kern_silu_mul(float *out, const float *gate, const float *up, int64_t n); /* silu(g)*u */
void kern_add(float *out, const float *a, const float *b, int64_t n);
float kern_dot_f32(const float *a, const float *b, int64_t n);
void kern_axpy(float *y, float a, const float *x, int64_t n); /* y += a*x */

#endif

/*
 * quant.h - the model quantizer behind `corral quantize IN.gguf OUT.gguf TYPE`.
 *
 * Reproduces llama.cpp's llama_model_quantize (default parameters: no imatrix, not --pure, output
 * tensor quantized, no requantizing unless asked): which tensors are quantized (2-D+ ".weight"
 * tensors except norms, positional/token-type embeddings and a few small special ones), which
 * type each gets for a file type (output.weight / tied token_embd get Q6_K, attn_v and ffn_down
 * get more bits in the "use_more_bits" layers for Q4_K_M/Q5_K_M, Q3_K_M/Q2_K mixes, fallbacks
 * Q5_0/Q5_1/Q8_0/F16 when a row length is not a multiple of the block size), the output tensor
 * order (non-layer tensors first, then by layer number, by name within a group) and the
 * key/values (all copied; general.quantization_version and general.file_type set).  The per-block
 * math is kern_quantize_weights (engine/kern).  Spec: ../shared/docs/inference-reference.md D.6.
 *
 * Thread-safety: functions are reentrant (no shared state).
 */
#ifndef CORRAL_ENGINE_QUANT_H
#define CORRAL_ENGINE_QUANT_H

#include <stdint.h>

#include "common/err.h"
#include "engine/gguf/gguf.h"

/* llama_ftype values (general.file_type). */
enum quant_ftype {
    QUANT_FT_F32 = 0,
    QUANT_FT_F16 = 1,
    QUANT_FT_Q4_0 = 2,
    QUANT_FT_Q4_1 = 3,
    QUANT_FT_Q8_0 = 7,
    QUANT_FT_Q5_0 = 8,
    QUANT_FT_Q5_1 = 9,
    QUANT_FT_Q2_K = 10,
    QUANT_FT_Q3_K_S = 11,
    QUANT_FT_Q3_K_M = 12,
    QUANT_FT_Q3_K_L = 13,
    QUANT_FT_Q4_K_S = 14,
    QUANT_FT_Q4_K_M = 15,
    QUANT_FT_Q5_K_S = 16,
    QUANT_FT_Q5_K_M = 17,
    QUANT_FT_Q6_K = 18,
    QUANT_FT_Q2_K_S = 21,
    QUANT_FT_BF16 = 32,
};

/* Parses a file type name, case-insensitive ("q4_K_M", "Q8_0", "f16", "bf16"); 0 or E_INVAL. */
int quant_ftype_parse(const char *name, uint32_t *ftype);

struct quant_opts {
    uint32_t ftype;       /* enum quant_ftype */
    int allow_requantize; /* accept already-quantized inputs (dequantized first) */
    int pure;             /* every quantized tensor gets the default type (no mixes) */
    int n_threads;        /* threads converting rows; 0 = the online CPUs (at most 16) */
};

/* Per-tensor plan: the output order and the type of each tensor. */
struct quant_plan {
    uint64_t n;          /* = in->n_tensors */
    uint32_t *order;     /* order[k] = input index of the k-th output tensor */
    uint32_t *type;      /* type[i] = output type of input tensor i (input order) */
    uint64_t out_bytes;  /* tensor data bytes of the output (unpadded) */
    uint32_t n_fallback; /* tensors that fell back to another type (row length) */
};

/* Computes the plan for in (opened with tensors).  E_INVAL (bad ftype), E_UNSUPPORTED (input
 * type that cannot be converted), E_NOMEM, with detail in ei.  Free with quant_plan_free. */
CORRAL_WARN_UNUSED int quant_plan_make(const struct gguf *in, const struct quant_opts *o,
                                       struct quant_plan *plan, struct err_info *ei);
void quant_plan_free(struct quant_plan *plan);

struct quant_stats {
    uint64_t in_bytes, out_bytes; /* tensor data bytes */
    uint32_t n_quantized, n_copied, n_fallback;
    uint32_t count_by_type[GGUF_T_COUNT + 1]; /* output tensors per type id (ids <= GGUF_T_COUNT) */
};

/* Quantizes in into out_path (written atomically).  st may be NULL.  Errors as above plus E_IO. */
CORRAL_WARN_UNUSED int quant_model(const struct gguf *in, const struct quant_opts *o,
                                   const char *out_path, struct quant_stats *st,
                                   struct err_info *ei);

#endif

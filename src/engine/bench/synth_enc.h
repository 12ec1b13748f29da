/*
 * synth_enc.h - tiny random-weight encoder GGUFs (bert, nomic-bert) for tests: the weights come
 * from a fixed-seed generator, the tokenizer keys are copied from a vocabulary GGUF (e.g.
 * tests/data/vocab/ggml-vocab-bert-bge.gguf), so the same arguments always write the same
 * bytes.  The unit tests compare our embeddings of these files with llama.cpp's
 * (tests/data/reference/embed/); the integration test serves one (`corral synth-enc`, a hidden
 * command).
 */
#ifndef CORRAL_ENGINE_SYNTH_ENC_H
#define CORRAL_ENGINE_SYNTH_ENC_H

#include <stdint.h>

#include "common/err.h"

struct synth_enc {
    const char *arch; /* "bert" or "nomic-bert" */
    uint32_t pooling; /* <arch>.pooling_type: 1 mean, 2 cls, 3 last */
    uint32_t type;    /* GGUF_T_F32, GGUF_T_F16 or GGUF_T_Q8_0 for the matrices */
    uint32_t n_embd, n_head, n_layer, n_ff, n_ctx;
    int fused_qkv; /* one attn_qkv tensor instead of attn_q/k/v */
    uint64_t seed;
    uint32_t n_vocab; /* rows of token_embd when there is no vocabulary file (fuzz seeds) */
};

/* Defaults: bert, mean pooling, F32, embd 64, 4 heads, 2 layers, ff 128, ctx 128, split q/k/v,
 * seed 1 (nomic-bert: fused qkv). */
void synth_enc_default(struct synth_enc *p, const char *arch);
/* Tiny dimensions for fuzz seeds: embd 32, 2 heads, 1 layer, ff 32, ctx 16, 64 tokens. */
void synth_enc_tiny(struct synth_enc *p);
/* Writes the model to out (atomically).  vocab_path NULL: no tokenizer keys, p->n_vocab rows.
 * E_INVAL for bad parameters, E_IO, E_PARSE (vocab). */
CORRAL_WARN_UNUSED int synth_enc_write(const char *vocab_path, const struct synth_enc *p,
                                       const char *out, struct err_info *ei);

#endif

/*
 * runner_embed.h - pooling of per-token hidden states into one embedding vector, as the runner's
 * `embed` message needs it.  The pooling type comes from the model's `<arch>.pooling_type` GGUF
 * key (llama.cpp's numbering: 0 none, 1 mean, 2 cls, 3 last, 4 rank).  Decoder-only LLMs carry
 * no such key; Ollama (llama.cpp runner) then falls back to the hidden state of the last token,
 * so "none" and an absent key pool as "last" here too.
 *
 * Pure functions over caller buffers; no allocation; thread-safe.
 */
#ifndef CORRAL_RUNNER_RUNNER_EMBED_H
#define CORRAL_RUNNER_RUNNER_EMBED_H

#include <stddef.h>

#include "common/err.h"

struct gguf;

enum runner_pool {
    RUNNER_POOL_MEAN = 1, /* average of every token's hidden state */
    RUNNER_POOL_CLS = 2,  /* the first token's (BERT's [CLS]) */
    RUNNER_POOL_LAST = 3, /* the last token's (decoder-only LLMs) */
};

/* The pooling a model asks for: `<general.architecture>.pooling_type` when it names mean, cls
 * or last; RUNNER_POOL_LAST otherwise (absent key, none, or a type we do not pool such as rank).
 * g: a parsed GGUF header (borrowed). */
enum runner_pool runner_pool_of_gguf(const struct gguf *g);

/* 1 when the hidden state of token pos (of n tokens) contributes to the pooled vector. */
int runner_pool_wants(enum runner_pool p, size_t pos, size_t n);

/* Folds row (n_embd floats: the hidden state of token pos of n) into out (n_embd floats, zeroed
 * by the caller before the first row).  Rows that runner_pool_wants() rejects are ignored. */
void runner_pool_add(enum runner_pool p, float *out, const float *row, size_t n_embd, size_t pos,
                     size_t n);

/* Completes out once every wanted row was added (mean: divides by n).  Not normalised: the API
 * layer L2-normalises /api/embed vectors and leaves the legacy /api/embeddings ones as they are. */
void runner_pool_finish(enum runner_pool p, float *out, size_t n_embd, size_t n);

/* Convenience over the three calls above: pools n rows of n_embd floats (row-major) into out.
 * E_INVAL when n or n_embd is 0. */
CORRAL_WARN_UNUSED int runner_pool_rows(enum runner_pool p, const float *rows, size_t n,
                                        size_t n_embd, float *out);

#endif

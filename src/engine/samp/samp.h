/*
 * samp.h - token sampler over a logits vector: penalties (repeat, presence, frequency over the
 * last repeat_last_n accepted tokens), an optional logit-bias hook (grammar constraints), then
 * greedy when temperature <= 0, else top_k -> typical_p -> top_p -> min_p -> temperature ->
 * seeded random draw.  Option names and defaults are Ollama's (ollama-reference.md, options).
 *
 * A struct samp owns its history ring, a candidate buffer of n_vocab entries and its RNG state
 * (xoshiro256** seeded by splitmix64 from seed): the same seed and the same logits give the same
 * tokens.  Not thread-safe; one sampler per sequence.  Nothing is allocated after samp_new.
 */
#ifndef CORRAL_ENGINE_SAMP_H
#define CORRAL_ENGINE_SAMP_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SAMP_MAX_VOCAB   (1 << 24)
#define SAMP_MAX_LAST_N  (1 << 20)
#define SAMP_SEED_RANDOM UINT64_MAX /* samp_params.seed: pick one from the clock */

struct samp_params {
    float temperature;       /* 0.8; <= 0 means greedy */
    int top_k;               /* 40; <= 0 disables */
    float top_p;             /* 0.9; >= 1 disables */
    float min_p;             /* 0.0; <= 0 disables */
    float typical_p;         /* 1.0; >= 1 disables */
    float repeat_penalty;    /* 1.0; 1 disables */
    int repeat_last_n;       /* 64; 0 disables, -1 = n_ctx (see samp_new) */
    float presence_penalty;  /* 0.0 */
    float frequency_penalty; /* 0.0 */
    uint64_t seed;           /* SAMP_SEED_RANDOM (Ollama's -1) */
};

/* Ollama's defaults. */
void samp_params_default(struct samp_params *p);

struct samp;

/* Logit-bias hook: may change logits[0..n_vocab) in place (e.g. set -INFINITY on tokens a
 * grammar forbids).  Called on every samp_sample after penalties. */
typedef void (*samp_bias_fn)(void *user, float *logits, int n_vocab);

/* Creates a sampler for a vocabulary of n_vocab tokens; n_ctx resolves repeat_last_n = -1.
 * Errors: E_INVAL, E_NOMEM. */
CORRAL_WARN_UNUSED int samp_new(const struct samp_params *p, int n_vocab, int n_ctx,
                                struct samp **out);
void samp_free(struct samp *s);
void samp_set_bias(struct samp *s, samp_bias_fn fn, void *user);

/* Chooses a token from logits (n_vocab floats, not modified).  Returns the token id, or a
 * negative E_* code when every candidate was excluded (E_INVAL). */
int32_t samp_sample(struct samp *s, const float *logits);
/* Records tok as produced (or as part of the prompt) for the penalties. */
void samp_accept(struct samp *s, int32_t tok);
/* Forgets the history; reseeds the RNG with the original seed. */
void samp_reset(struct samp *s);
/* The seed actually used (resolved from SAMP_SEED_RANDOM). */
uint64_t samp_get_seed(const struct samp *s);

#endif

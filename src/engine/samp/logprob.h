/*
 * logprob.h - log-probabilities of one decode step for the API's `logprobs` / `top_logprobs`:
 * the log-softmax of the model's RAW logits (before penalties, grammar, temperature and the
 * truncation stages), as Ollama's runner and llama.cpp's server (n_probs without
 * post_sampling_probs) report them.  The chosen token's value and the top-N alternatives come
 * from one pass over the vocabulary plus an N-entry heap (a partial selection, never a sort of
 * the whole vocabulary).
 *
 * Values are finite: a -inf/NaN logit (or an underflow) gives SAMP_LP_FLOOR, since JSON has no
 * -Infinity.  Pure functions, no allocation, thread-safe.
 */
#ifndef CORRAL_ENGINE_SAMP_LOGPROB_H
#define CORRAL_ENGINE_SAMP_LOGPROB_H

#include <stddef.h>
#include <stdint.h>

#define SAMP_LP_MAX_TOP 20        /* alternatives per position (Ollama's limit) */
#define SAMP_LP_FLOOR   (-9999.0) /* logprob reported for an impossible token */

struct samp_lp {
    int32_t id;
    double logprob;
};

/* log(sum(exp(logits))) over the usable (non-NaN, non -inf) logits, computed stably (max
 * subtracted, sum in double); -inf when none is usable. */
double samp_log_sum_exp(const float *logits, int n_vocab);

/* The log-probability of tok under softmax(logits) (SAMP_LP_FLOOR when tok is out of range or
 * its logit unusable) in *tok_lp, and the top min(n_top, SAMP_LP_MAX_TOP) tokens by logit in
 * top[0..*n_out), best first, ties by lower id.  top may be NULL when n_top is 0. */
void samp_logprobs(const float *logits, int n_vocab, int32_t tok, int n_top, double *tok_lp,
                   struct samp_lp *top, int *n_out);

#endif

/*
 * gram.h - grammar-constrained generation: a GBNF subset compiled to a flat automaton, an
 * incremental matcher over UTF-8 bytes, and token masking for the sampler.
 *
 * Grammar text (a subset of llama.cpp's GBNF, written from its documented syntax):
 *   name ::= alternatives          rules; "root" is the start symbol; '#' starts a comment
 *   a b | c                         sequence and alternation; ( ... ) groups
 *   "lit"  [a-z0-9_]  [^"\\]  .     literals, char classes (ranges, negation), any char
 *   x?  x*  x+  x{m}  x{m,}  x{m,n} repetition (m, n <= GRAM_MAX_REPEAT)
 * Escapes in literals and classes: \n \r \t \\ \" \' \[ \] \- \/ \xHH \uHHHH \UHHHHHHHH.
 * Groups and repetitions become generated rules, so the compiled form is rules -> alternatives
 * -> sequences of two element kinds (a code point class, a rule reference), each alternative
 * ending in an END element.  Left recursion (also through nullable prefixes, e.g. ("a"?)*) is
 * refused at compile time, so expanding a rule always terminates.
 *
 * Matching: a state is a set of stacks (one per live parse); a stack holds return positions with
 * the next class element to match on top, and is empty once the root is complete.  Advancing by
 * a code point keeps the stacks whose top class matches and expands what follows.  Bytes are
 * fed one at a time: a partial UTF-8 sequence is kept in the state and checked against the
 * classes on top for the code point range it can still become.  States are flat int32 arrays,
 * so a token can be tried without copying the matcher.  Stack depth, stack count, state size
 * and expansion work per step are capped (hostile grammars fail a step, never blow up).
 *
 * Masking (gram_vocab): the bytes of every token are extracted once per model and sorted; the
 * full mask walks the sorted list keeping the state after each prefix, so tokens sharing a
 * prefix share work and a dead prefix kills all its tokens at once.  gram_sample tests the
 * sampler's pick first and masks the whole vocabulary only when the pick is rejected.
 *
 * Ownership: struct gram is immutable after gram_compile and may be shared by many matchers;
 * a matcher belongs to one sequence; a vocab may be shared (read-only).  Not thread-safe per
 * matcher.
 */
#ifndef CORRAL_ENGINE_GRAM_H
#define CORRAL_ENGINE_GRAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/samp/samp.h"

#define GRAM_MAX_TEXT   (1u << 20) /* bytes of grammar text */
#define GRAM_MAX_ELEMS  (1 << 20)  /* elements after desugaring */
#define GRAM_MAX_RULES  (1 << 16)  /* rules, generated ones included */
#define GRAM_MAX_RANGES (1 << 20)  /* class ranges */
#define GRAM_MAX_REPEAT 1000       /* m and n of x{m,n} */
#define GRAM_MAX_NEST   64         /* ( ) nesting in the text */
#define GRAM_MAX_DEPTH  512        /* return positions on one stack (rule nesting) */
#define GRAM_MAX_STACKS 1024       /* live stacks in one state */
#define GRAM_MAX_STATE  (1 << 18)  /* int32 words of one state */
#define GRAM_MAX_TOKEN  256        /* bytes of a token the masker follows (longer: forbidden) */

struct gram;
struct gram_matcher;
struct gram_vocab;

/* Compiles grammar text[0..n).  E_PARSE (syntax, undefined or duplicate rule, no root, left
 * recursion) and E_RANGE (a cap) with the detail and the line in ei; E_NOMEM. */
CORRAL_WARN_UNUSED int gram_compile(const char *text, size_t n, struct gram **out,
                                    struct err_info *ei);
void gram_free(struct gram *g);
/* Elements of the compiled form (for tests and logs). */
size_t gram_size(const struct gram *g);

/* A matcher at the start of g (g must outlive it).  E_NOMEM, E_RANGE (the root expansion hits
 * a cap). */
CORRAL_WARN_UNUSED int gram_matcher_new(const struct gram *g, struct gram_matcher **out);
void gram_matcher_free(struct gram_matcher *m);
/* Back to the start. */
void gram_matcher_reset(struct gram_matcher *m);
/* Consumes p[0..n) when the grammar allows it: 0, or E_INVAL (rejected; state unchanged). */
CORRAL_WARN_UNUSED int gram_matcher_accept(struct gram_matcher *m, const void *p, size_t n);
/* 1 when p[0..n) could be accepted now (state unchanged). */
int gram_matcher_allows(struct gram_matcher *m, const void *p, size_t n);
/* 1 when the input so far is a complete sentence (the end may come now). */
int gram_matcher_complete(const struct gram_matcher *m);
/* 1 when complete and nothing more may follow. */
int gram_matcher_done(const struct gram_matcher *m);

/* Token text of a model for masking: piece(user, tok, buf, cap, &n, &eog) writes the bytes of
 * token tok (at most cap; E_RANGE when longer) and sets eog for end-of-generation tokens. */
typedef int (*gram_piece_fn)(void *user, int32_t tok, char *buf, size_t cap, size_t *n, int *eog);
CORRAL_WARN_UNUSED int gram_vocab_new(int32_t n_vocab, gram_piece_fn piece, void *user,
                                      struct gram_vocab **out);
void gram_vocab_free(struct gram_vocab *v);

/* 1 when token tok may come next: an end-of-generation token when the sentence is complete,
 * another token when its bytes continue the grammar (empty tokens never; only EOG once done). */
int gram_token_allowed(struct gram_matcher *m, const struct gram_vocab *v, int32_t tok);
/* Sets logits[t] = -INFINITY for every token not allowed (n = the vocab size). */
void gram_mask(struct gram_matcher *m, const struct gram_vocab *v, float *logits, int n);
/* Advances past token tok (EOG tokens leave the state as is).  E_INVAL when not allowed. */
CORRAL_WARN_UNUSED int gram_accept_token(struct gram_matcher *m, const struct gram_vocab *v,
                                         int32_t tok);
/* samp_sample under the grammar: the sampler's pick when allowed, else a second draw from the
 * masked logits.  Returns the token or E_INVAL when nothing is allowed.  *masked (may be NULL)
 * is set to 1 when the full mask was needed.  Uses the sampler's bias hook for the second draw
 * (and clears it after). */
int32_t gram_sample(struct gram_matcher *m, const struct gram_vocab *v, struct samp *s,
                    const float *logits, int *masked);
/* Only the masked draw of gram_sample (for callers that tested the pick themselves). */
int32_t gram_resample(struct gram_matcher *m, const struct gram_vocab *v, struct samp *s,
                      const float *logits);

#endif

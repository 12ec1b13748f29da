/*
 * tok_int.h - internals shared by the tokenizer's own files (tok_vocab.c, tok_encode.c,
 * tok_spm.c, tok_bpe.c, tok_heap.c, tok_wpm.c, tok_detok.c, tok_unicode.c).  Nothing outside
 * src/engine/tok includes this.
 *
 * A vocabulary owns: one pool of token texts (NUL-separated), the decoded pieces (another pool),
 * scores and types per token, an open-addressing hash text -> id, for BPE a hash (left id,
 * right id) -> merge rank, the special tokens sorted by text length (longest first) and the
 * compiled pre-tokenizer regexes.
 */
#ifndef CORRAL_ENGINE_TOK_INT_H
#define CORRAL_ENGINE_TOK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/tok/tok.h"

#define TOK_MAX_REGEX 6 /* pre-tokenizer regexes applied in sequence */

#define TOK_FLAG_EOG    1u /* token ends generation */
#define TOK_FLAG_LSTRIP 2u /* special token eats the whitespace before it */
#define TOK_FLAG_RSTRIP 4u /* special token eats the whitespace after it */

struct tok_merge {
    uint64_t key;   /* (left << 32 | right) + 1, 0 = empty slot */
    uint32_t rank;  /* index in tokenizer.ggml.merges */
    int32_t result; /* id of the merged text, -1 if not a token */
};

struct tok_vocab {
    enum tok_kind kind;
    char pre[64];        /* tokenizer.ggml.pre, "default" when absent */
    uint32_t n;          /* tokens */
    char *text_pool;     /* all token texts, each NUL-terminated */
    uint32_t *text_off;  /* (n) offset of token i's text in text_pool */
    uint32_t *text_len;  /* (n) bytes of token i's text */
    char *piece_pool;    /* decoded pieces (tok_piece) */
    uint32_t *piece_off; /* (n) */
    uint32_t *piece_len; /* (n) */
    float *score;        /* (n) SPM merge priority (0 when absent) */
    uint8_t *type;       /* (n) enum tok_type */
    uint8_t *flags;      /* (n) TOK_FLAG_* */
    uint64_t *hash;      /* (hash_mask + 1) tag << 32 | (id + 1), 0 = empty; the tag holds
                            19 hash bits and the text length (13 bits) */
    size_t hash_mask;
    struct tok_merge *merges; /* (merge_mask + 1) open-addressing table of BPE merges */
    size_t merge_mask;
    uint32_t n_merges;
    int32_t *special; /* (n_special) special token ids, longest text first */
    uint32_t n_special;
    int32_t byte_tok[256];  /* token of each raw byte (<0xNN> or the BPE byte char), or -1 */
    uint32_t max_token_len; /* longest token text in bytes */
    uint32_t max_piece_len; /* longest decoded piece in bytes */
    int32_t bos, eos, eot, eom, unk, pad, sep, nl;
    int add_bos, add_eos, add_space_prefix, ignore_merges;
    int spm_word_split; /* SPM: no token has "▁" after another character (merges stay in words) */
    void *re[TOK_MAX_REGEX]; /* pcre2_code_8 *, compiled with JIT when available */
    uint32_t n_re;
};

/* Hash of n bytes (FNV-1a 64). */
uint64_t tok__hash(const void *p, size_t n);
/* Id of the token with text s[0..n), or -1. */
int32_t tok__lookup(const struct tok_vocab *v, const char *s, size_t n);
/* BPE merge rank of the pair (left, right), or -1; *result gets the merged token id (-1 when
 * the concatenation is not a token). */
int64_t tok__merge_rank(const struct tok_vocab *v, int32_t left, int32_t right, int32_t *result);
/* Length of the UTF-8 sequence started by byte c, as llama.cpp counts it (1 for continuation
 * bytes and invalid lead bytes). */
size_t tok__utf8_len(unsigned char c);

/* Output sink of the encoders: counts every id, stores the first cap of them. */
struct tok_out {
    int32_t *ids;
    size_t cap;
    size_t n;
};
static inline void tok__emit(struct tok_out *o, int32_t id)
{
    if (o->n < o->cap)
        o->ids[o->n] = id;
    o->n++;
}

/* A candidate merge of the adjacent symbols left and right (tok_heap.c). */
struct tok_pair {
    float score;   /* SPM: the merged token's score (higher merges first) */
    uint32_t rank; /* BPE: the merge's rank (lower merges first) */
    int32_t left, right;
    int32_t result; /* BPE: id of the merged token (-1 when not a token) */
    uint32_t size;  /* bytes of left + right when queued: a changed side makes the pair stale */
};

/* Binary heap of candidate merges, ordered by (score desc) when by_score else (rank asc), ties
 * by left position (asc).  Zero-initialise, set by_score, push/pop, free. */
struct tok_heap {
    struct tok_pair *p;
    size_t n, cap;
    int by_score;
    int oom; /* a growth failed (that pair was dropped): the encoder returns E_NOMEM */
};
void tok__heap_push(struct tok_heap *h, const struct tok_pair *p);
/* Removes and returns the first pair; h->n must be > 0. */
struct tok_pair tok__heap_pop(struct tok_heap *h);
void tok__heap_free(struct tok_heap *h);

/* Encoders of one text fragment (no special tokens inside).  Return 0, E_NOMEM. */
int tok__spm_encode(const struct tok_vocab *v, const char *s, size_t n, struct tok_out *o);
int tok__bpe_encode(const struct tok_vocab *v, const char *s, size_t n, struct tok_out *o);
int tok__wpm_encode(const struct tok_vocab *v, const char *s, size_t n, struct tok_out *o);

/* Pre-tokenizer setup for v->pre (tok_bpe.c): compiles the regexes.  E_INTERNAL when PCRE2
 * rejects a pattern, E_NOMEM. */
int tok__bpe_init(struct tok_vocab *v, struct err_info *ei);
void tok__bpe_fini(struct tok_vocab *v);
/* Per-pre flags set before tok__bpe_init: add_bos default, ignore_merges. */
void tok__bpe_pre_defaults(const char *pre, int *add_bos, int *ignore_merges);

/* Unicode helpers for WordPiece (tok_unicode.c, generated tables). */
#define TOK_UC_WHITESPACE 1u
#define TOK_UC_CONTROL    2u
#define TOK_UC_PUNCT      4u
#define TOK_UC_SYMBOL     8u
uint32_t tok__uc_flags(uint32_t cp);
uint32_t tok__uc_lower(uint32_t cp);
uint32_t tok__uc_nfd_base(uint32_t cp);

#endif

/*
 * tok.h - tokenizers of the engine: vocabularies loaded from GGUF metadata, text -> token ids
 * (encode) and token ids -> text (pieces and a streaming detokenizer).
 *
 * Supported `tokenizer.ggml.model` values: "llama" (SentencePiece-style merge by score with byte
 * fallback), "gpt2" (byte-level BPE by merge rank, with the pre-tokenizer regexes selected by
 * `tokenizer.ggml.pre`, run with PCRE2 JIT) and "bert" (WordPiece).  Special tokens (CONTROL,
 * USER_DEFINED, UNKNOWN) are matched literally in the text first, longest first; with
 * parse_special = 0 only USER_DEFINED ones are.  Semantics follow llama.cpp's llama-vocab.cpp
 * (spec: ../shared/docs/inference-reference.md D.5); tests compare with its vectors.
 *
 * Ownership: tok_vocab_load returns a vocabulary the caller owns (tok_vocab_free).  It copies
 * everything it needs, so the struct gguf may be closed right after loading.  Pointers returned
 * by tok_piece / tok_text are borrowed until tok_vocab_free.
 * Thread-safety: a loaded vocabulary is read-only; tok_encode and the accessors may be called
 * from several threads at once.  A struct tok_detok belongs to one thread.
 */
#ifndef CORRAL_ENGINE_TOK_H
#define CORRAL_ENGINE_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct gguf;
struct tok_vocab;

#define TOK_MAX_VOCAB       (1u << 20)  /* tokens in one vocabulary */
#define TOK_MAX_MERGES      (1u << 21)  /* BPE merges */
#define TOK_MAX_TOKEN_BYTES 4096u       /* bytes of one token's text */
#define TOK_MAX_TEXT_BYTES  (16u << 20) /* bytes of text one tok_encode call accepts */
#define TOK_NONE            (-1)        /* "no such token" (absent special ids) */

/* Tokenizer families (tokenizer.ggml.model). */
enum tok_kind {
    TOK_KIND_SPM = 1, /* "llama" */
    TOK_KIND_BPE = 2, /* "gpt2" */
    TOK_KIND_WPM = 3, /* "bert" */
};

/* tokenizer.ggml.token_type values. */
enum tok_type {
    TOK_TYPE_UNDEFINED = 0,
    TOK_TYPE_NORMAL = 1,
    TOK_TYPE_UNKNOWN = 2,
    TOK_TYPE_CONTROL = 3,
    TOK_TYPE_USER_DEFINED = 4,
    TOK_TYPE_UNUSED = 5,
    TOK_TYPE_BYTE = 6,
};

/* Loads the vocabulary described by the tokenizer.* keys of g.  Every array length and every id
 * is checked.  Errors: E_UNSUPPORTED (unknown model kind), E_PARSE (missing/mistyped keys,
 * ids out of range, bad merges), E_RANGE (over the TOK_MAX_* caps), E_NOMEM; detail in ei.
 * An unknown tokenizer.ggml.pre falls back to the "default" regexes (no error). */
CORRAL_WARN_UNUSED int tok_vocab_load(const struct gguf *g, struct tok_vocab **out,
                                      struct err_info *ei);
/* Frees v; NULL is fine. */
void tok_vocab_free(struct tok_vocab *v);

/* Tokenizes text[0..len) (any bytes; invalid UTF-8 is handled, never rejected).
 * add_special: add BOS/EOS as the vocabulary's flags say ([CLS]/[SEP] for bert).
 * parse_special: match CONTROL/UNKNOWN token texts in the input as those tokens.
 * Writes up to cap ids to out and the total count to *n_out; when cap is too small returns
 * E_RANGE with the needed count in *n_out (out may be NULL when cap is 0).  E_RANGE also when
 * len > TOK_MAX_TEXT_BYTES; E_NOMEM. */
CORRAL_WARN_UNUSED int tok_encode(const struct tok_vocab *v, const char *text, size_t len,
                                  int add_special, int parse_special, int32_t *out, size_t cap,
                                  size_t *n_out);

/* Raw bytes of token id as it appears in text: byte tokens <0xNN> give that byte, SPM "▁" gives
 * " ", byte-level BPE characters give their bytes, WordPiece "##x" gives "x" (other pieces of a
 * bert vocab get a leading space).  Control tokens give their literal text ("<s>").  Borrowed;
 * not NUL-terminated.  Invalid id: returns "" with *len = 0. */
const char *tok_piece(const struct tok_vocab *v, int32_t id, size_t *len);
/* The token's text as stored in the vocabulary ("▁Hello", "Ġworld", "<0x0A>"); NUL-terminated,
 * borrowed; "" for an invalid id. */
const char *tok_text(const struct tok_vocab *v, int32_t id);
/* Id of the token whose stored text is exactly s[0..n), TOK_NONE if none (hash lookup). */
int32_t tok_find(const struct tok_vocab *v, const char *s, size_t n);

/* Decodes ids into out (like a fresh detokenizer pushed with all ids then flushed, with the
 * leading-space rule of a sequence start).  render_special: write control tokens' text.
 * Writes at most cap bytes, the needed total in *n_out; E_RANGE when cap is too small. */
CORRAL_WARN_UNUSED int tok_decode(const struct tok_vocab *v, const int32_t *ids, size_t n_ids,
                                  int render_special, char *out, size_t cap, size_t *n_out);

size_t tok_n_vocab(const struct tok_vocab *v);
/* Bytes of the longest piece (tok_piece) in v; a detokenizer output buffer of this + 3 bytes
 * always suffices for v (TOK_DETOK_MAX_OUT suffices for every vocabulary). */
size_t tok_max_piece(const struct tok_vocab *v);
enum tok_kind tok_kind(const struct tok_vocab *v);
/* Name of tokenizer.ggml.pre as loaded ("default" when absent); borrowed. */
const char *tok_pre_name(const struct tok_vocab *v);
/* Special ids, TOK_NONE when the vocabulary has none. */
int32_t tok_bos(const struct tok_vocab *v);
int32_t tok_eos(const struct tok_vocab *v);
int32_t tok_eot(const struct tok_vocab *v);
int32_t tok_unk(const struct tok_vocab *v);
int32_t tok_pad(const struct tok_vocab *v);
int32_t tok_sep(const struct tok_vocab *v);
int32_t tok_nl(const struct tok_vocab *v); /* the newline token ("\n" as text), TOK_NONE if none */
int tok_add_bos(const struct tok_vocab *v);
int tok_add_eos(const struct tok_vocab *v);
/* enum tok_type of id, TOK_TYPE_UNDEFINED for an invalid id. */
enum tok_type tok_token_type(const struct tok_vocab *v, int32_t id);
/* 1 when id ends generation: eos, eot, eom, and control tokens named like end-of-turn
 * (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, ...). */
int tok_is_eog(const struct tok_vocab *v, int32_t id);
/* 1 for CONTROL tokens (not rendered in normal output). */
int tok_is_control(const struct tok_vocab *v, int32_t id);

/* Streaming detokenizer: push ids one at a time, get only complete UTF-8 back; bytes of an
 * incomplete sequence are held until the next ids complete it (or tok_detok_flush writes them,
 * invalid sequences as they are).  Callers may read no fields. */
/* TOK_DETOK_SPECIAL: render control tokens' text.  TOK_DETOK_STRIP_SPACE: the ids start a
 * sequence: drop the dummy-prefix space of the first piece (SPM with add_space_prefix, and
 * WordPiece), which decoding a whole encoded text needs; not for a generation's continuation. */
#define TOK_DETOK_SPECIAL     1
#define TOK_DETOK_STRIP_SPACE 2
struct tok_detok {
    const struct tok_vocab *v;
    unsigned flags;
    int strip_pending; /* the leading space is still to be dropped */
    size_t n_hold;
    unsigned char hold[8]; /* bytes of an incomplete UTF-8 sequence */
};
/* Room in out that always suffices for one push or flush. */
#define TOK_DETOK_MAX_OUT (TOK_MAX_TOKEN_BYTES + 16u)

/* Starts a detokenizer over v (borrowed) with TOK_DETOK_* flags. */
void tok_detok_init(struct tok_detok *d, const struct tok_vocab *v, unsigned flags);
/* Adds id; writes the complete UTF-8 text it makes available to out (at most cap bytes) and its
 * length to *n_out.  E_RANGE when cap is too small (state unchanged, the needed size in *n_out;
 * cap >= TOK_DETOK_MAX_OUT always suffices); E_INVAL for an invalid id. */
CORRAL_WARN_UNUSED int tok_detok_push(struct tok_detok *d, int32_t id, char *out, size_t cap,
                                      size_t *n_out);
/* Writes whatever is held back (an incomplete sequence at the end) and resets the hold. */
CORRAL_WARN_UNUSED int tok_detok_flush(struct tok_detok *d, char *out, size_t cap, size_t *n_out);

#endif

/*
 * engine.h - the inference engine's public API: load a GGUF model from an fd, tokenize, decode
 * batches of tokens for one or several sequences into a per-sequence KV cache, read logits.
 * Sampling lives in samp/samp.h (prefix samp_), which works on the logits returned here.
 *
 * Objects:
 *   struct eng_model  weights (mmapped, read-only), hyperparameters, tokenizer.  Immutable after
 *                     load: may be shared by several contexts and threads.
 *   struct eng_ctx    one inference context over a model: KV cache for n_seq sequences of up to
 *                     n_ctx positions each, scratch buffers, a persistent thread pool.  Not
 *                     thread-safe: one caller at a time (the runner's engine thread).
 *
 * Ownership: *_new / *_load return objects the caller owns and frees with the matching *_free
 * (NULL is fine).  Pointers returned by accessors are borrowed until the owning object is freed
 * (logits: until the next eng_decode on that context).
 *
 * Errors: negative E_* codes (common/err.h) with a human message in struct err_info when given.
 * The engine never logs by itself; it reports through the optional log callback.
 * Spec: ../shared/docs/inference-reference.md (D.4 architectures, D.2 formats).
 */
#ifndef CORRAL_ENGINE_ENGINE_H
#define CORRAL_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/tok/tok.h"

#define ENG_MAX_SEQ      64        /* parallel sequences per context */
#define ENG_MAX_CTX      (1 << 20) /* positions per sequence */
#define ENG_MAX_BATCH    4096      /* tokens per eng_decode call */
#define ENG_MAX_THREADS  256
#define ENG_MAX_TOKENIZE (1 << 22) /* tokens one eng_tokenize call may produce */

struct eng_model;
struct eng_ctx;

enum eng_log_level { ENG_LOG_DEBUG = 0, ENG_LOG_INFO = 1, ENG_LOG_WARN = 2, ENG_LOG_ERROR = 3 };
/* Log sink: msg is a NUL-terminated line without newline, valid during the call only. */
typedef void (*eng_log_fn)(void *user, enum eng_log_level level, const char *msg);

struct eng_model_params {
    eng_log_fn log; /* optional */
    void *log_user;
    int kern_isa; /* enum kern_isa; 0 = scalar, KERN_ISA_BEST (default) = fastest */
    int use_mmap; /* 1: compute from the file mapping (page cache, 4 KB pages); 0 (default):
                     copy the weight matrices into huge-page anonymous memory at load, which
                     the kernels stream 1.2-1.5x faster on the VMs measured */
};

/* Fills p with defaults (no log callback, best kernels, weights copied: use_mmap 0). */
void eng_model_params_default(struct eng_model_params *p);

/* Loads a model from fd (mmapped read-only; the fd stays the caller's and may be closed after
 * the call; unless p->use_mmap, the weight matrices are then copied out of the mapping).  Every
 * tensor the architecture needs is checked for presence, type, shape and extent.  Errors:
 * E_UNSUPPORTED (architecture or tensor type; the message names it), E_PARSE (malformed file),
 * E_RANGE, E_NOMEM, E_IO.  p may be NULL (defaults). */
CORRAL_WARN_UNUSED int eng_model_load_fd(int fd, const struct eng_model_params *p,
                                         struct eng_model **out, struct err_info *ei);
/* Same as eng_model_load_fd on a path (opened and closed here). */
CORRAL_WARN_UNUSED int eng_model_load_file(const char *path, const struct eng_model_params *p,
                                           struct eng_model **out, struct err_info *ei);
void eng_model_free(struct eng_model *m);

/* Hyperparameters and facts about a loaded model (borrowed from the model). */
struct eng_model_info {
    const char *arch;      /* "llama", "qwen2", "qwen3", "bert", "nomic-bert" ... */
    const char *name;      /* general.name, "" when absent */
    const char *file_type; /* "Q4_K_M", ... ("unknown" when absent) */
    uint32_t n_ctx_train;
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;
    uint32_t n_ff;
    uint32_t n_vocab;
    int32_t bos;              /* -1 when none */
    int32_t eos;              /* -1 when none */
    int add_bos;              /* tokenizer adds BOS with add_special */
    uint64_t n_params;        /* elements in all weight tensors */
    uint64_t weight_bytes;    /* bytes of all tensors */
    uint64_t bytes_per_token; /* bytes of weights read to generate one token (no embeddings) */
    int encoder;              /* 1: embedding-only encoder (bert family): eng_embed, no decode */
    int pooling;              /* <arch>.pooling_type (ENG_POOL_*), 0 when absent */
};
const struct eng_model_info *eng_model_get_info(const struct eng_model *m);

/* ---- tokenizer (wraps tok/tok.h) ------------------------------------------------------- */

/* Tokenizes text[0..len).  add_special: add BOS/EOS as the vocabulary says; parse_special:
 * control-token text like "<|im_start|>" becomes that token.  Writes at most cap ids to out and
 * stores the full count in *n (so a too-small cap returns E_RANGE with *n = needed count).
 * Thread-safe (the model is read-only). */
CORRAL_WARN_UNUSED int eng_tokenize(const struct eng_model *m, const char *text, size_t len,
                                    int add_special, int parse_special, int32_t *out, size_t cap,
                                    size_t *n);
/* The bytes a token renders to (special tokens render their text only when special != 0).
 * Writes up to cap bytes, stores the full length in *n; E_RANGE when cap is too small,
 * E_INVAL for an id out of range. */
CORRAL_WARN_UNUSED int eng_token_piece(const struct eng_model *m, int32_t tok, int special,
                                       char *buf, size_t cap, size_t *n);
/* 1 when tok ends generation (EOS, EOT, EOM ...). */
int eng_token_is_eog(const struct eng_model *m, int32_t tok);

/* Streaming detokenizer (wraps tok_detok): feeds token pieces and emits only complete UTF-8
 * sequences, holding back a partial one until the next token completes it.  Caller-provided
 * struct (fields private); no allocation.  flags: ENG_DETOK_*. */
#define ENG_DETOK_SPECIAL     TOK_DETOK_SPECIAL     /* render control tokens' text */
#define ENG_DETOK_STRIP_SPACE TOK_DETOK_STRIP_SPACE /* drop the SPM leading space of the first */
#define ENG_DETOK_MAX_OUT     TOK_DETOK_MAX_OUT     /* out room that always suffices */
struct eng_detok {
    struct tok_detok td;
};
void eng_detok_init(struct eng_detok *d, const struct eng_model *m, unsigned flags);
/* Appends the text completed by tok to out (up to cap bytes), storing the count in *n.
 * E_RANGE when cap is too small (cap >= ENG_DETOK_MAX_OUT always suffices), E_INVAL bad id. */
CORRAL_WARN_UNUSED int eng_detok_push(struct eng_detok *d, int32_t tok, char *out, size_t cap,
                                      size_t *n);
/* Emits what is still held back (an incomplete sequence at the end). */
CORRAL_WARN_UNUSED int eng_detok_flush(struct eng_detok *d, char *out, size_t cap, size_t *n);

/* ---- contexts ------------------------------------------------------------------------- */

struct eng_ctx_params {
    uint32_t n_ctx;         /* positions per sequence (default 2048, capped by ENG_MAX_CTX) */
    uint32_t n_seq;         /* parallel sequences (default 1) */
    uint32_t n_batch;       /* max tokens per eng_decode (default 512) */
    int n_threads;          /* 0 = physical cores (default) */
    uint32_t kv_type;       /* GGUF_T_F16 (default) or GGUF_T_F32 */
    uint64_t par_min_bytes; /* a batch whose weight reads (tokens x bytes per token) are below
                               this runs on the calling thread alone: synchronising threads
                               costs more than it gains on tiny models (default 32 MB; 0 =
                               always use every thread) */
};
void eng_ctx_params_default(struct eng_ctx_params *p);

/* Creates a context over m (which must outlive it): allocates the KV cache and every scratch
 * buffer now (nothing is allocated while decoding) and starts the thread pool.  p may be NULL.
 * Errors: E_INVAL (bad params), E_NOMEM, E_RANGE. */
CORRAL_WARN_UNUSED int eng_ctx_new(struct eng_model *m, const struct eng_ctx_params *p,
                                   struct eng_ctx **out, struct err_info *ei);
void eng_ctx_free(struct eng_ctx *c);
/* Effective parameters (after defaults). */
const struct eng_ctx_params *eng_ctx_get_params(const struct eng_ctx *c);

/* A batch: n tokens; token i goes to sequence seq[i] at position pos[i].  Within one sequence
 * positions must continue that sequence exactly (pos == eng_seq_len() for the first, then +1).
 * Several sequences may be mixed in one batch.  logits[i] != 0 asks for the logits after
 * token i (NULL: only the last token).  pos NULL: continue each sequence; seq NULL: all 0. */
struct eng_batch {
    int n;
    const int32_t *tokens;
    const int32_t *pos;
    const int32_t *seq;
    const int8_t *logits;
};

/* Evaluates the batch, appending to each sequence's KV cache.  Errors: E_INVAL (bad token,
 * position or sequence id), E_RANGE (a sequence would exceed n_ctx, or n > n_batch; nothing is
 * changed then), E_CANCELLED (see eng_ctx_set_abort). */
CORRAL_WARN_UNUSED int eng_decode(struct eng_ctx *c, const struct eng_batch *b,
                                  struct err_info *ei);
/* Logits (n_vocab floats) after token i of the last batch; NULL when not requested.  Borrowed
 * until the next eng_decode. */
const float *eng_get_logits(const struct eng_ctx *c, int i);

/* Final hidden state of token i of the last successful batch (after the output norm, before the
 * output matrix): n_embd floats, for embeddings (the caller pools and normalizes).  Any token
 * of the batch, logits requested or not; NULL when i is out of range.  Borrowed until the next
 * call of this function or eng_decode. */
const float *eng_get_embeddings(struct eng_ctx *c, int i);

/* Pooling of an encoder's hidden states (llama.cpp's numbering of <arch>.pooling_type). */
enum eng_pool { ENG_POOL_MEAN = 1, ENG_POOL_CLS = 2, ENG_POOL_LAST = 3 };

/* Encoder models only (info.encoder): runs toks[0..n) as one whole sequence (bidirectional
 * attention, positions 0..n-1) and writes its pooled last hidden state (n_embd floats, not
 * normalised) to out.  Needs no sequence state: nothing is cached between calls.  Errors:
 * E_UNSUPPORTED (a decoder: use eng_decode + eng_get_embeddings), E_RANGE (n is 0 or more than
 * the context's n_ctx, which is capped at the trained context), E_INVAL (bad id or pooling),
 * E_CANCELLED (abort hook).  eng_decode on an encoder answers E_UNSUPPORTED; the sequence
 * operations do nothing (E_INVAL). */
CORRAL_WARN_UNUSED int eng_embed(struct eng_ctx *c, const int32_t *toks, size_t n, int pooling,
                                 float *out, struct err_info *ei);

/* Abort hook checked between layers: return non-zero to stop eng_decode with E_CANCELLED (the
 * sequences of that batch are then rolled back to their previous length). */
typedef int (*eng_abort_fn)(void *user);
void eng_ctx_set_abort(struct eng_ctx *c, eng_abort_fn fn, void *user);

/* ---- sequence (KV cache) operations ------------------------------------------------------ */

/* Number of positions cached for seq (the next position to decode). 0 for a bad seq. */
uint32_t eng_seq_len(const struct eng_ctx *c, int seq);
/* Forgets everything cached for seq. */
void eng_seq_clear(struct eng_ctx *c, int seq);
/* Keeps the first n positions of seq (prefix reuse: a new prompt that shares n tokens with the
 * cached one continues from position n).  E_INVAL when n > eng_seq_len. */
CORRAL_WARN_UNUSED int eng_seq_keep(struct eng_ctx *c, int seq, uint32_t n);
/* Context shift: drops positions [n_keep, n_keep + n_discard) of seq and moves the later ones
 * down by n_discard (cached keys are re-rotated to their new positions).  Afterwards
 * eng_seq_len is smaller by n_discard.  E_INVAL when the range is outside the sequence. */
CORRAL_WARN_UNUSED int eng_seq_shift(struct eng_ctx *c, int seq, uint32_t n_keep,
                                     uint32_t n_discard);
/* Copies the cached positions of seq src to dst (dst is cleared first). */
CORRAL_WARN_UNUSED int eng_seq_copy(struct eng_ctx *c, int src, int dst);

/* For tests and debugging: copies n values of the cached key (v = 0) or value (v = 1) row of
 * seq at layer il and position pos into out as floats.  E_INVAL when out of range. */
CORRAL_WARN_UNUSED int eng_debug_kv_row(const struct eng_ctx *c, int seq, uint32_t il, uint32_t pos,
                                        int v, float *out, uint32_t n);

/* Timings of the context (accumulated since creation or the last reset). */
struct eng_perf {
    uint64_t n_prompt_tok, n_gen_tok; /* tokens decoded in batches of >1 / of 1 */
    double prompt_s, gen_s;           /* wall seconds spent in those decodes */
};
void eng_ctx_get_perf(const struct eng_ctx *c, struct eng_perf *out);
void eng_ctx_reset_perf(struct eng_ctx *c);

/* Number of physical cores (falls back to online CPUs); the default n_threads. */
int eng_physical_cores(void);

#endif

/*
 * rproto.h - the framed protocol between the server and a runner process (DESIGN.md,
 * "Processes").  One frame = a 4-byte little-endian length + that many bytes of one JSON object
 * (jansson).  Every object has a string member "t" naming the message and, for request-scoped
 * messages, an integer "rid" (request id chosen by the server).
 *
 * Messages, server -> runner:
 *   load        {num_ctx, num_parallel, num_batch, num_thread, use_mmap} -> loaded | error
 *   tokenize    {rid, text, special}                                    -> tokens
 *   detokenize  {rid, tokens}                                           -> text
 *   complete    {rid, prompt, context?, sampling and stop options, grammar?} -> piece* then done
 *   embed       {rid, text}                                             -> embedding
 *   cancel      {rid}                         (the complete ends at once with reason "cancel")
 *   health      {rid}                                                   -> health
 * runner -> server: loaded, tokens, text, piece {rid, text, tokens, logprobs?}, done {rid, reason,
 *   stats, context}, embedding, health, error {rid?, msg}.
 * A complete with logprobs:true gets, on each piece, the entries (rproto_logprob_build) of the
 * generated tokens whose text that piece releases (tokens held back for a stop string or a
 * partial UTF-8 sequence ride on the later piece that carries their text; tokens cut by a stop
 * string are dropped with their text; an end-of-generation token has none).
 *
 * Frames larger than RPROTO_MAX_FRAME are refused (E_RANGE) before any allocation; a body that
 * is not a JSON object with a string "t" is E_PARSE.  Typed parsers below check every number
 * against a named cap.  Ownership: json_t results are owned by the caller (json_decref).
 * Thread-safety: functions are reentrant; one fd must not be written by two threads at once
 * (callers serialise writes), nor read by two.
 */
#ifndef CORRAL_RUNNER_RPROTO_H
#define CORRAL_RUNNER_RPROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"

#define RPROTO_MAX_FRAME    (16u << 20) /* bytes of one JSON body */
#define RPROTO_MAX_STOP     16          /* stop strings per request */
#define RPROTO_MAX_STOP_LEN 256         /* bytes of one stop string */
#define RPROTO_MAX_TOKENS   (1u << 20)  /* token ids in one array */
#define RPROTO_MAX_CTX      (1 << 20)   /* num_ctx */
#define RPROTO_MAX_PARALLEL 64          /* num_parallel */
#define RPROTO_MAX_THREADS  1024        /* num_thread */
#define RPROTO_HDR          4           /* bytes of the length prefix */
#define RPROTO_MAX_TOP_LP   20          /* top_logprobs (Ollama's 0..20) */
#define RPROTO_MAX_GRAMMAR  (1u << 20)  /* bytes of a complete's grammar (engine/gram text) */

/* Sampling and stopping options of one completion (defaults: rproto_complete_defaults). */
struct rproto_complete {
    uint64_t rid;
    const char *prompt; /* borrowed from the json it was parsed from */
    int32_t *context;   /* caller owns (mem_free); token ids prepended to the prompt */
    size_t n_context;
    int32_t num_predict; /* -1 unbounded */
    int32_t num_keep;
    int64_t seed; /* -1 random */
    float temperature, top_p, min_p, typical_p;
    int32_t top_k;
    int32_t repeat_last_n;
    float repeat_penalty, presence_penalty, frequency_penalty;
    const char *stop[RPROTO_MAX_STOP]; /* borrowed */
    size_t n_stop;
    int special;          /* 1: parse special tokens in the prompt text (templated prompts) */
    int logprobs;         /* 1: pieces carry logprobs of their tokens */
    int32_t top_logprobs; /* alternatives per token, 0..RPROTO_MAX_TOP_LP */
    const char *grammar;  /* borrowed; NULL = unconstrained (GBNF text from the API's format) */
    int32_t think_gram;   /* "grammar_think": 0; 1 the output may open with <think>...</think>,
                           * 2 it starts inside thinking; the grammar applies after </think> */
};

/* One token for rproto_logprob_build: its text (any bytes) and log-probability. */
struct rproto_lp_tok {
    const char *text;
    size_t n;
    double logprob;
};

/* Options of the load message. */
struct rproto_load {
    int32_t num_ctx;      /* per sequence */
    int32_t num_parallel; /* sequences decoded together */
    int32_t num_batch;
    int32_t num_thread; /* 0 = automatic */
    int use_mmap;       /* 1: compute from the file mapping; 0 (default): copy the weights */
};

/* Incremental frame reader over a stream; buffers at most one frame plus what follows it. */
struct rproto_reader {
    struct buf in;
    size_t off; /* consumed bytes at the front of in */
};

/* Encodes msg as one frame and writes it all to fd (retrying EINTR and short writes; SIGPIPE
 * suppressed on sockets).  Does not take ownership of msg.  E_RANGE when too large, E_IO. */
CORRAL_WARN_UNUSED int rproto_send(int fd, const json_t *msg);

/* Parses one frame from p[0..n).  On success *msg (caller owns) and *used are set; when the
 * frame is incomplete returns 0 with *msg NULL and *used 0.  E_RANGE (oversized length),
 * E_PARSE (not a JSON object with string "t"); ei gets the detail. */
CORRAL_WARN_UNUSED int rproto_decode(const uint8_t *p, size_t n, json_t **msg, size_t *used,
                                     struct err_info *ei);

void rproto_reader_init(struct rproto_reader *r);
void rproto_reader_fini(struct rproto_reader *r);
/* Reads what fd has (one read(2) call; blocking or not as the fd is).  Returns 0, or E_IO on
 * error, or E_NOTFOUND at end of stream.  EAGAIN is 0. */
CORRAL_WARN_UNUSED int rproto_reader_fill(struct rproto_reader *r, int fd);
/* Next complete message already buffered: 0 with *msg set or NULL when none; errors as
 * rproto_decode (the stream is then unusable). */
CORRAL_WARN_UNUSED int rproto_reader_next(struct rproto_reader *r, json_t **msg,
                                          struct err_info *ei);
/* Blocking read of exactly one message from fd (loops rproto_reader_fill/next). */
CORRAL_WARN_UNUSED int rproto_recv(struct rproto_reader *r, int fd, json_t **msg,
                                   struct err_info *ei);

/* The message type ("t") of msg, or "" when absent. */
const char *rproto_type(const json_t *msg);
/* The "rid" of msg, or 0 when absent. */
uint64_t rproto_rid(const json_t *msg);

/* Generated text as a JSON string: each byte that is not part of valid UTF-8 becomes U+FFFD (as
 * Go's encoder writes it; jansson refuses invalid UTF-8).  NULL on out of memory. */
json_t *rproto_text_new(const char *p, size_t n);

/* Ollama's defaults for every sampling option. */
void rproto_complete_defaults(struct rproto_complete *c);
/* Parses a complete message into c (defaults for absent members).  Strings stay borrowed from
 * msg; c->context is allocated (free with rproto_complete_fini).  E_PARSE/E_RANGE with detail. */
CORRAL_WARN_UNUSED int rproto_complete_parse(const json_t *msg, struct rproto_complete *c,
                                             struct err_info *ei);
void rproto_complete_fini(struct rproto_complete *c);
/* Builds a complete message from c (caller owns the result); NULL on out of memory. */
json_t *rproto_complete_build(const struct rproto_complete *c);

/* One logprobs entry in Ollama's shape (Go field order):
 * {"token", "logprob", "bytes"?, "top_logprobs"?:[{"token", "logprob", "bytes"?}]}.  "token" is
 * the text with invalid UTF-8 replaced by U+FFFD (JSON strings must be valid), "bytes" the raw
 * bytes (omitted when empty, as Go's omitempty does), "top_logprobs" omitted when n_top is 0.
 * Caller owns the result; NULL on out of memory. */
json_t *rproto_logprob_build(const struct rproto_lp_tok *tok, const struct rproto_lp_tok *top,
                             size_t n_top);

/* Parses a load message, checking every value against the caps above. */
CORRAL_WARN_UNUSED int rproto_load_parse(const json_t *msg, struct rproto_load *l,
                                         struct err_info *ei);
/* Parses an array of token ids (each 0 <= id < n_vocab, n_vocab 0 = unchecked) into a new
 * array (caller owns, mem_free).  An absent or null member gives 0 tokens. */
CORRAL_WARN_UNUSED int rproto_tokens_parse(const json_t *arr, int32_t n_vocab, int32_t **out,
                                           size_t *n, struct err_info *ei);
/* A JSON array of the ids (caller owns); NULL on out of memory. */
json_t *rproto_tokens_build(const int32_t *ids, size_t n);

#endif

/*
 * api_serve.h - what /api/generate and /api/chat share: opening a stored model with the layers
 * generation needs (template, system, params, messages, the GGUF path), the template a GGUF
 * without a TEMPLATE layer gets (tokenizer.chat_template matched against the built-in catalogue,
 * else `{{ .Prompt }}`), request decoding common to both (options, keep_alive, format, think),
 * the load/unload idiom for empty requests, and the loop that turns scheduler events into
 * Ollama response lines.
 *
 * Ownership: api_serve_model is caller-provided and released with api_serve_model_fini.
 * Thread-safety: all functions are reentrant.
 */
#ifndef CORRAL_API_API_SERVE_H
#define CORRAL_API_API_SERVE_H

#include <limits.h>
#include <stdint.h>

#include <jansson.h>

#include "api/api.h"
#include "api/api_llm.h"
#include "api/api_model.h"
#include "common/buf.h"
#include "common/err.h"

#define API_SERVE_POLL_MS  100         /* how often a waiting handler checks for a disconnect */
#define API_SERVE_MAX_TEXT (64u << 20) /* generated text kept for a non-streamed answer */
#define API_SERVE_MAX_CTX  (1u << 20)  /* context token ids accepted in a request */

struct api_serve_model {
    struct api_model am;
    char gguf[PATH_MAX];         /* model blob path */
    char *tmpl;                  /* TEMPLATE text (layer, or derived from the GGUF); owned */
    char *system;                /* SYSTEM layer or NULL; owned */
    json_t *params;              /* PARAMETERs object or NULL */
    json_t *messages;            /* MESSAGE list or NULL */
    int vision;                  /* has a projector layer */
    int tools, thinking, insert; /* capabilities (template, config, GGUF) */
    int completion;              /* 0 for embedding-only models */
};

/* Opens model `name` for generation.  E_NOTFOUND "model 'x' not found", E_INVAL, E_PARSE. */
CORRAL_WARN_UNUSED int api_serve_model_open(struct api_env *env, const char *name,
                                            struct api_serve_model *m, struct err_info *ei);
void api_serve_model_fini(struct api_serve_model *m);

/* The template (and default params, may be NULL) for a GGUF imported without a TEMPLATE: its
 * tokenizer.chat_template matched against the built-in catalogue, else "{{ .Prompt }}".  Caller
 * owns *tmpl (mem_free) and *params (json_decref).  Used by create and at serving time. */
CORRAL_WARN_UNUSED int api_template_for_gguf(const char *gguf_path, char **tmpl, json_t **params);

/* Decoded fields common to generate and chat. */
struct api_serve_req {
    const char *model;         /* as requested (borrowed) */
    json_t *options;           /* merged: model params < request options (owned); "grammar"
                                * holds the format's grammar text (api_format.h) */
    int64_t keep_alive_ns;     /* API_KEEP_UNSET when absent */
    int think_set, think;      /* request "think" given / truthy */
    const char *think_level;   /* "low"|"medium"|"high"|"max" or NULL */
    struct api_llm_model spec; /* what to load (strings borrowed from the model) */
};

/* Decodes model options, keep_alive, format, think and the runner options; 400-class errors as
 * E_INVAL with an Ollama message. */
CORRAL_WARN_UNUSED int api_serve_req_init(const struct api_req *req, struct api_serve_model *m,
                                          const char *model, struct api_serve_req *r,
                                          struct err_info *ei);
void api_serve_req_fini(struct api_serve_req *r);

/* The scheduler interface of env, or NULL when the daemon has none. */
struct api_llm *api_serve_llm(const struct api_env *env);

/* Monotonic clock in nanoseconds (durations in responses). */
uint64_t api_serve_now_ns(void);

/* A new {"model", "created_at"} object (Go field order starts so). */
json_t *api_serve_head(const char *model);
/* Adds Ollama's final metrics (omitting zero values) to obj. */
void api_serve_metrics(json_t *obj, uint64_t total_ns, uint64_t load_ns, const json_t *done);

/* The empty-request idiom: keep_alive 0 unloads (done_reason "unload"), anything else loads
 * (done_reason "load").  chat selects the response shape.  Answers resp itself. */
int api_serve_load_only(const struct api_req *req, struct api_resp *resp, struct api_serve_req *r,
                        int chat);

/* 1 when the request asks for "_debug_render_only": the answer is then the rendered prompt
 * (api_serve_debug_answer) instead of a generation. */
int api_serve_debug_only(const json_t *body);
/* Ollama's debug answer: the head, an empty response (chat: message {"role":"","content":""}),
 * done false, "_debug_info":{"rendered_template", "image_count" (omitted when 0)}. */
int api_serve_debug_answer(struct api_resp *resp, const char *model, const char *prompt,
                           size_t images, int chat);

/* Answers resp with the scheduler error rc (503 queue full, 499 gone, 500 load failure). */
int api_serve_acquire_error(struct api_resp *resp, int rc, const struct err_info *ei);

/* Builds the complete body for the runner: prompt, context ids (may be NULL), options. */
json_t *api_serve_complete_body(const char *prompt, const json_t *context, const json_t *options);

/* Logprobs of one request (Ollama's `logprobs` / `top_logprobs`).  The runner sends the entries
 * of each chunk with its text; streamed, they wait in `pending` until the next line the handler
 * writes for that chunk takes them (api_serve_lp_attach), or a bare line when the chunk's text
 * is held back (thinking/tool-call parsing), as Ollama emits chunks that carry logprobs even
 * while its parser buffers.  Not streamed, every entry collects in `all` for the final object. */
#define API_LP_MAX_TOP   20         /* top_logprobs: Ollama's 0..20 */
#define API_LP_MAX_TOKEN 4096       /* bytes of one token text accepted from a runner */
#define API_LP_MAX_CHUNK 100000     /* entries accepted on one runner piece */
#define API_LP_MAX_ALL   (1u << 18) /* entries + alternatives kept for a non-streamed answer */
struct api_serve_lp {
    int on, top; /* request logprobs, top_logprobs */
    int stream;
    json_t *pending; /* streamed: entries not yet on a line (array) or NULL */
    json_t *all;     /* not streamed: every entry (array) or NULL */
    size_t n_all;    /* entries and alternatives in all */
};

/* Decodes the request's logprobs (bool) and top_logprobs (int; outside 0..20: E_INVAL "top_logprobs
 * must be between 0 and 20").  strct names the Go struct in type errors ("GenerateRequest").
 * lp is zeroed first; stream is left 0 (the handler sets it). */
CORRAL_WARN_UNUSED int api_serve_lp_parse(const json_t *body, const char *strct,
                                          struct api_serve_lp *lp, struct err_info *ei);
/* Adds the runner options for lp to a complete body (nothing when logprobs is off). */
void api_serve_lp_body(const struct api_serve_lp *lp, json_t *body);
/* Takes the entries of one runner piece (in: its "logprobs" member, may be NULL), rebuilding
 * each in Ollama's field order after checking its shape and caps; ignored when lp is off.
 * E_PARSE on a malformed entry, E_RANGE past a cap of one piece, E_BUSY when a non-streamed
 * answer would keep more than API_LP_MAX_ALL objects (its JSON must fit API_MAX_RESP_BYTES),
 * E_NOMEM; ei (may be NULL) gets the message. */
CORRAL_WARN_UNUSED int api_serve_lp_add(struct api_serve_lp *lp, const json_t *in,
                                        struct err_info *ei);
/* Sets "logprobs" on line (appended: the caller picks the field position): the pending entries
 * (which are then no longer pending), or with final on a non-streamed answer all of them.
 * Nothing when there are none (Go's omitempty). */
void api_serve_lp_attach(struct api_serve_lp *lp, json_t *line, int final);
void api_serve_lp_fini(struct api_serve_lp *lp);

/* Per-event callbacks of api_serve_run. */
struct api_serve_sink {
    void *user;
    /* a text piece of the answer (UTF-8, never empty) */
    int (*piece)(void *user, const char *text, size_t n);
    /* the final event (`done`) */
    int (*done)(void *user, const json_t *done);
    /* a piece of thinking (text between <think> and </think>), never empty; NULL drops it */
    int (*thinking)(void *user, const char *text, size_t n);
    /* the request's logprobs state (NULL: none); lines the callbacks write attach lp->pending */
    struct api_serve_lp *lp;
    /* writes a line without text for entries still pending after a chunk (streamed only) */
    int (*bare)(void *user);
};

enum api_think_mode {
    API_THINK_OFF = 0,    /* the output is all content */
    API_THINK_TAGS = 1,   /* a leading <think>...</think> block is thinking */
    API_THINK_INSIDE = 2, /* the prompt opened <think>: output is thinking until </think> */
};

/* How to split the output of a request: thinking requested (or defaulted on for a thinking
 * model) and a template that uses <think> tags; INSIDE when the prompt ends in "<think>". */
enum api_think_mode api_serve_think_mode(const struct api_serve_req *r,
                                         const struct api_serve_model *m, const char *prompt);

/* Sends body to the lease and forwards events to sink until `done`, splitting thinking from
 * content per mode.  Returns 0, E_CANCELLED (client gone: the runner was told to stop), or the
 * runner's error (message in ei). */
int api_serve_run(const struct api_req *req, struct api_llm *llm, void *lease, const json_t *body,
                  const struct api_serve_sink *sink, enum api_think_mode mode, struct err_info *ei);

#endif

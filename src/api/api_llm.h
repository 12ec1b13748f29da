/*
 * api_llm.h - what the generate/chat/ps handlers need from the model scheduler, as an interface
 * the server fills (the api layer may not include server headers).  The scheduler's glue
 * (src/server/sched_env.c) puts a struct api_llm in api_env.user[API_ENV_LLM]; handlers call
 * through it.  Requests and events are runner-protocol JSON objects (see runner/rproto.h): the
 * handler builds a `complete` body (prompt, context, options), the scheduler validates it, and
 * events come back as `piece` / `done` / `error` objects.
 *
 * Also here: Ollama's keep_alive parsing (shared by the API and OLLAMA_KEEP_ALIVE), and the
 * option table (names, types) that request options and model PARAMETERs are checked against.
 *
 * Thread-safety: every api_llm function is thread-safe; a lease is used by one thread.
 */
#ifndef CORRAL_API_API_LLM_H
#define CORRAL_API_API_LLM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"

#define API_ENV_LLM      0         /* index of the scheduler interface in api_env.user */
#define API_KEEP_UNSET   INT64_MIN /* request gave no keep_alive */
#define API_KEEP_FOREVER INT64_MAX

/* What to load (copied by acquire). */
struct api_llm_model {
    const char *key;       /* path of the model blob: the instance identity */
    const char *name;      /* display name ("stories:latest") */
    const char *digest;    /* manifest digest (hex) */
    const json_t *details; /* /api/tags details, may be NULL */
    int32_t num_ctx;       /* runner options; 0 = defaults */
    int32_t num_batch;
    int32_t num_thread;
    int32_t use_mmap; /* -1 unset (= copy the weights), 0, 1 */
};

struct api_llm {
    void *ctx;
    /* Waits for a slot (loading the model first); E_BUSY when the queue is full, E_CANCELLED. */
    int (*acquire)(void *ctx, const struct api_llm_model *m, int64_t keep_alive_ns,
                   const atomic_int *cancelled, void **lease, uint64_t *load_ns,
                   struct err_info *ei);
    void (*release)(void *lease, int64_t keep_alive_ns);
    int32_t (*num_ctx)(void *lease);
    int (*tokenize)(void *lease, const char *text, int add_special, int special, int32_t **ids,
                    size_t *n, struct err_info *ei);
    int (*detokenize)(void *lease, const int32_t *ids, size_t n, char **text, struct err_info *ei);
    /* msg: a complete body without "t"/"rid" (borrowed); E_INVAL/E_PARSE/E_RANGE on bad
     * options with a message. */
    int (*complete)(void *lease, const json_t *msg, struct err_info *ei);
    /* Next event (caller owns); E_TIMEOUT after timeout_ms. */
    int (*next)(void *lease, int timeout_ms, json_t **ev);
    void (*cancel)(void *lease);
    /* keep_alive 0 on an idle model: unload now; E_NOTFOUND when not loaded. */
    int (*unload)(void *ctx, const char *key);
    int (*is_loaded)(void *ctx, const char *key);
    /* Embedding of text (the runner's `embed`): *vec gets *n floats (caller owns, mem_free).
     * E_UNSUPPORTED-style errors come back as E_IO with the runner's message in ei. */
    int (*embed)(void *lease, const char *text, float **vec, size_t *n, struct err_info *ei);
};

/* Parses an Ollama keep_alive: a Go duration string ("5m", "1h30m", "-1m", "0") or a number of
 * seconds (also as a string); negative means forever.  NULL / JSON null: API_KEEP_UNSET.
 * E_INVAL with a message otherwise. */
CORRAL_WARN_UNUSED int api_parse_keep_alive(const json_t *v, int64_t *ns, struct err_info *ei);

enum api_opt_type { API_OPT_INT, API_OPT_FLOAT, API_OPT_BOOL, API_OPT_STRS };

/* Type of a known option name (Ollama's Options/Runner fields); -1 when unknown. */
int api_option_type(const char *name);

/* Merges options: out = defaults (model params, may be NULL) overlaid with req (request
 * "options", may be NULL), dropping unknown keys (logged) and deprecated ones.  A value of the
 * wrong type is E_INVAL ("option \"x\" must be of type integer").  Caller owns *out. */
CORRAL_WARN_UNUSED int api_options_merge(const json_t *params, const json_t *req, json_t **out,
                                         struct err_info *ei);

#endif

/*
 * sched.h - the scheduler: which models are loaded (one runner process each), who may use them,
 * and when they go away.  Ollama's semantics (ollama-reference.md section 7): load on first use;
 * keep_alive per request or OLLAMA_KEEP_ALIVE (default 5m; 0 unloads once idle; negative keeps
 * forever); at most OLLAMA_MAX_LOADED_MODELS instances, the least recently used idle one evicted
 * to make room; OLLAMA_NUM_PARALLEL slots per instance; at most OLLAMA_MAX_QUEUE requests
 * waiting (E_BUSY beyond, which the API answers with 503); a runner that dies turns into an
 * error for its in-flight requests and is started again by the next request.
 *
 * Use: sched_acquire() gives a lease on one slot of a loaded instance; through the lease the
 * handler tokenizes, starts a completion and reads its events (sched_next) until `done` or
 * `error`; sched_release() returns the slot.  A handler whose client went away calls
 * sched_cancel() (the runner stops between tokens) and releases at once.
 *
 * Threads: every function is thread-safe.  Internally: one mutex (sched->mu) guards instances,
 * leases and event queues; one reader thread per instance turns runner frames into lease events;
 * one reaper thread unloads expired idle instances.  Spawning goes through the spawn callback
 * (default runner_spawn), never fork in here.
 */
#ifndef CORRAL_SERVER_SCHED_H
#define CORRAL_SERVER_SCHED_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "runner/rproto.h"
#include "runner/runner.h"

#define SCHED_KEEP_UNSET      INT64_MIN /* request gave no keep_alive (= API_KEEP_UNSET) */
#define SCHED_KEEP_FOREVER    INT64_MAX /* = API_KEEP_FOREVER */
#define SCHED_MAX_QUEUE       (1 << 20) /* cap on OLLAMA_MAX_QUEUE */
#define SCHED_MAX_LOADED      64        /* cap on OLLAMA_MAX_LOADED_MODELS */
#define SCHED_MAX_EVENTS      8192      /* events buffered per lease before it is cancelled */
#define SCHED_LOAD_TIMEOUT_MS (10 * 60 * 1000)
#define SCHED_STOP_GRACE_MS   5000 /* sched_free waits this long for running requests */
#define SCHED_DEFAULT_NUM_CTX 4096
#define SCHED_MAX_EMBED       (1 << 20) /* values in one embedding vector */

/* Spawns a runner for model_fd (which stays the caller's). */
typedef int (*sched_spawn_fn)(void *user, int model_fd, struct runner_proc *out,
                              struct err_info *ei);

struct sched_config {
    int max_loaded;        /* OLLAMA_MAX_LOADED_MODELS (0 = 3) */
    int num_parallel;      /* OLLAMA_NUM_PARALLEL (0 = 1) */
    int max_queue;         /* OLLAMA_MAX_QUEUE (0 = 512) */
    int64_t keep_alive_ns; /* OLLAMA_KEEP_ALIVE (default 5m) */
    int32_t num_ctx;       /* OLLAMA_CONTEXT_LENGTH (0 = SCHED_DEFAULT_NUM_CTX) */
    const char *self_exe;  /* binary for runner_spawn ("/proc/self/exe") */
    sched_spawn_fn spawn;  /* NULL = runner_spawn(self_exe, ...) */
    void *spawn_user;
};

/* What to load: identity (key: the model blob path) and runner options.  Strings and details
 * are copied by sched_acquire. */
struct sched_model {
    const char *key;       /* path of the model blob; opened O_RDONLY for the runner */
    const char *name;      /* display name for /api/ps ("stories:latest") */
    const char *digest;    /* manifest digest (hex) */
    const json_t *details; /* /api/tags style details object, may be NULL */
    int32_t num_ctx;       /* 0 = config default */
    int32_t num_batch;     /* 0 = 512 */
    int32_t num_thread;    /* 0 = automatic */
    int32_t use_mmap;      /* 1: runner computes from the file mapping; 0 or -1 (unset): it
                              copies the weights to huge pages (the default) */
};

struct sched;
struct sched_lease;

/* Fills c from the environment (OLLAMA_MAX_LOADED_MODELS, OLLAMA_NUM_PARALLEL, OLLAMA_MAX_QUEUE,
 * OLLAMA_KEEP_ALIVE, OLLAMA_CONTEXT_LENGTH).  E_INVAL with detail on a bad value. */
CORRAL_WARN_UNUSED int sched_config_from_env(struct sched_config *c, struct err_info *ei);

/* Creates a scheduler (starts the reaper thread).  Caller owns *out (sched_free). */
CORRAL_WARN_UNUSED int sched_new(const struct sched_config *c, struct sched **out);
/* Unloads every instance and frees the scheduler.  Waiting requests are refused; running ones
 * get SCHED_STOP_GRACE_MS to release their leases, else the scheduler is left to process exit. */
void sched_free(struct sched *s);

/* Waits for a slot of model m (loading it first if needed) and returns a lease.  keep_alive_ns
 * may be SCHED_KEEP_UNSET.  cancelled (may be NULL) is polled while waiting.  Errors: E_BUSY
 * (queue full), E_CANCELLED, anything the load returned (message in ei).  *load_ns gets the
 * time spent loading for this request (0 when already loaded). */
CORRAL_WARN_UNUSED int sched_acquire(struct sched *s, const struct sched_model *m,
                                     int64_t keep_alive_ns, const atomic_int *cancelled,
                                     struct sched_lease **out, uint64_t *load_ns,
                                     struct err_info *ei);
/* Returns the slot.  keep_alive_ns (SCHED_KEEP_UNSET keeps the instance's) sets how long the
 * instance stays loaded once idle; 0 unloads it now when no other lease holds it. */
void sched_release(struct sched_lease *l, int64_t keep_alive_ns);

/* Context window per slot of the lease's instance. */
int32_t sched_lease_num_ctx(const struct sched_lease *l);

/* Tokenizes text through the runner (add_special: BOS etc.; special: parse control tokens).
 * Caller owns *ids (mem_free). */
CORRAL_WARN_UNUSED int sched_tokenize(struct sched_lease *l, const char *text, int add_special,
                                      int special, int32_t **ids, size_t *n, struct err_info *ei);
/* Detokenizes ids; caller owns *text (mem_free). */
CORRAL_WARN_UNUSED int sched_detokenize(struct sched_lease *l, const int32_t *ids, size_t n,
                                        char **text, struct err_info *ei);
/* Embedding of text through the runner; caller owns *vec (mem_free, *n floats, at most
 * SCHED_MAX_EMBED).  The runner's error (e.g. no embedding support) is E_IO with its message. */
CORRAL_WARN_UNUSED int sched_embed(struct sched_lease *l, const char *text, float **vec, size_t *n,
                                   struct err_info *ei);
/* Starts a completion (c->rid is ignored: the lease assigns one).  Read its events with
 * sched_next. */
CORRAL_WARN_UNUSED int sched_complete(struct sched_lease *l, const struct rproto_complete *c,
                                      struct err_info *ei);
/* Next event of the running request: a `piece`, `done` or `error` message (caller owns *ev).
 * Returns E_TIMEOUT after timeout_ms without one.  If the runner died, an `error` event says
 * so. */
CORRAL_WARN_UNUSED int sched_next(struct sched_lease *l, int timeout_ms, json_t **ev);
/* Asks the runner to stop the running request (between tokens); events already queued stay. */
void sched_cancel(struct sched_lease *l);

/* Unloads the instance of key now if idle (or as soon as it is): the keep_alive 0 idiom.
 * Returns 0, or E_NOTFOUND when it was not loaded. */
int sched_unload(struct sched *s, const char *key);
/* 1 when key has a loaded (or loading) instance. */
int sched_is_loaded(struct sched *s, const char *key);
/* The /api/ps body: {"models":[...]} (caller owns). */
json_t *sched_ps(struct sched *s);

#endif

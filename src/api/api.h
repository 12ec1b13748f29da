/*
 * api.h - the Ollama-compatible HTTP API as plain functions: request/response structs with no
 * libmicrohttpd types, a route table that any module extends from its own .c file with
 * API_ROUTE(...) (registered by constructor, like CMD_REGISTER), helpers to answer JSON,
 * Ollama-style errors and NDJSON streams, and the error-code -> HTTP status table.
 *
 * A handler gets a struct api_req (method, path, :param, body, parsed JSON, daemon environment,
 * a cancelled flag the HTTP adapter sets when the client goes away) and fills a struct api_resp:
 * either a whole body (api_resp_json / api_resp_error / api_resp_text) or a stream of NDJSON
 * lines (api_stream_line) that go to resp->emit as they are produced.  Errors before the first
 * streamed line become a normal status + {"error":...}; after it, one {"error":...} line.
 *
 * The server (src/server) runs each handler on its own thread and drains the stream with
 * MHD_create_response_from_callback; unit tests call handlers directly with a memory sink
 * (api_resp_init with emit NULL collects the lines in resp->body).
 *
 * Thread-safety: handlers run concurrently; struct api_env is shared read-only except for the
 * objects it points to, which are thread-safe themselves (store) or owned by their module.
 */
#ifndef CORRAL_API_API_H
#define CORRAL_API_API_H

#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"

#define API_MAX_BODY_BYTES       (8u << 20)   /* JSON request bodies */
#define API_MAX_LARGE_BODY_BYTES (128u << 20) /* routes flagged API_ROUTE_LARGE_BODY (images) */
#define API_MAX_RESP_BYTES       (64u << 20)  /* one non-streamed response body */
#define API_MAX_LINE_BYTES       (16u << 20)  /* one NDJSON line */
/* Images sent to a model with a vision tower: the engine has no image encoder yet (%s: model). */
#define API_NO_IMAGES_MSG \
    "%s: images are not supported yet (corral's engine has no vision encoder); send text only"

struct store;

/* Daemon-wide state a handler may use; filled by the server at start-up. */
struct api_env {
    struct store *store;      /* the model store (thread-safe) */
    int noprune;              /* OLLAMA_NOPRUNE set */
    const char *sandbox_mode; /* "off" | "warn" | "enforce"; reported by /api/version */
    json_t *sandbox_info;     /* optional extra sandbox status object (borrowed), or NULL */
    /* Filled by the scheduler when it exists: appends loaded models to the JSON array out
     * (objects as /api/ps lists them).  NULL = no models loaded. */
    int (*ps)(void *ctx, json_t *out);
    void *ps_ctx;
    void *user[4]; /* slots for later modules (scheduler, registry); owner documents */
};

struct api_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string */
    const char *param;  /* value of a trailing :param segment, or NULL */
    const char *body;   /* raw body (JSON routes), NUL-terminated; may be NULL */
    size_t body_len;
    json_t *json; /* parsed body object on API_ROUTE_JSON routes (borrowed) */
    struct api_env *env;
    const atomic_int *cancelled; /* nonzero once the client went away; may be NULL */
    void *upload;                /* the route's upload state (API_ROUTE_UPLOAD), or NULL */
};

/* Where streamed bytes go; returns 0 or E_CANCELLED when the client is gone. */
typedef int (*api_emit_fn)(void *ctx, const char *p, size_t n);

struct api_resp {
    int status;               /* HTTP status; 0 = not set yet */
    const char *content_type; /* static string */
    struct buf body;          /* whole body, or the collected lines when emit is NULL */
    int stream;               /* 1: api_stream_line emits NDJSON; 0: keeps only the last object */
    int started;              /* 1 once a streamed line was emitted */
    json_t *last;             /* last object given to api_stream_line when !stream (owned) */
    api_emit_fn emit;         /* NULL in tests: lines are appended to body */
    void *emit_ctx;
};

/* Initialises resp with a sink (emit may be NULL). */
void api_resp_init(struct api_resp *resp, api_emit_fn emit, void *emit_ctx);
void api_resp_fini(struct api_resp *resp);

/* Whole-body answers.  api_resp_json takes ownership of v (encoded Go-style, no newline). */
int api_resp_json(struct api_resp *resp, int status, json_t *v);
int api_resp_text(struct api_resp *resp, int status, const char *text);
/* {"error":"<msg>"} with status; during a started stream, one error line instead.  Returns
 * 0 (the error was recorded) or a sink error. */
int api_resp_error(struct api_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Empty 200 (copy, delete). */
int api_resp_ok(struct api_resp *resp);

/* Sets resp->stream from the request's "stream" field (default true); E_INVAL on a wrong type
 * (message in ei). */
int api_stream_setup(const struct api_req *req, struct api_resp *resp, struct err_info *ei);
/* Emits v (takes ownership) as one NDJSON line when streaming, else keeps it as the final
 * object.  E_CANCELLED once the client is gone. */
int api_stream_line(struct api_resp *resp, json_t *v);
/* {"status": s} line. */
int api_stream_status(struct api_resp *resp, const char *s);
/* Ends a non-streamed exchange: writes the kept final object as the JSON body (200). */
int api_stream_finish(struct api_resp *resp);

/* The Go request type Ollama decodes the body of a native route into ("GenerateRequest" for
 * /api/generate ...), named in decoder errors; NULL for other paths. */
const char *api_go_request(const char *path);

/* HTTP status for an error code (Ollama conventions): E_INVAL/E_PARSE/E_INTEGRITY/E_UNSUPPORTED
 * 400, E_PERM 403, E_NOTFOUND 404, E_RANGE 413, E_BUSY/E_NOMEM 503, E_CANCELLED 499, else 500. */
int api_status_for(int rc);

/* ---- route table ---- */

typedef int (*api_handler_fn)(struct api_req *req, struct api_resp *resp);

/* Streaming request bodies (blob uploads): open is called once the headers are in (it may answer
 * at once by setting resp->status, e.g. 200 "already exists", and leaving *state NULL), write
 * for each chunk, then the handler runs with req->upload = state and owns it; abort frees the
 * state when the request dies before the handler ran. */
struct api_upload_ops {
    int (*open)(struct api_req *req, struct api_resp *resp, void **state);
    int (*write)(void *state, const void *p, size_t n);
    void (*abort)(void *state);
};

enum api_route_flags {
    API_ROUTE_JSON = 1,       /* body is a JSON object: parsed into req->json (400 on errors) */
    API_ROUTE_UPLOAD = 2,     /* body streamed through route->upload */
    API_ROUTE_NOBODY = 4,     /* body ignored */
    API_ROUTE_LARGE_BODY = 8, /* JSON body up to API_MAX_LARGE_BODY_BYTES (base64 images) */
};

struct api_route {
    const char *methods; /* space-separated, e.g. "GET HEAD" */
    const char *path;    /* exact, or ending in "/:name" for one trailing segment, or in
                          * a "*name" last segment for the rest of the path, slashes included */
    api_handler_fn fn;
    int flags;
    const struct api_upload_ops *upload;
    struct api_route *next;
};

void api_route_register(struct api_route *r);
/* Finds the route for method+path.  *param gets a pointer into path for ":name" routes (the
 * segment, up to the end).  E_NOTFOUND when no path matches, E_UNSUPPORTED when the path
 * matches but not the method (405). */
int api_route_find(const char *method, const char *path, const struct api_route **out,
                   const char **param);

#define API_ROUTE_EX(ident, methods_, path_, fn_, flags_, upload_)                          \
    static struct api_route api_route_##ident = {methods_, path_, fn_, flags_, upload_, 0}; \
    __attribute__((constructor)) static void api_route_reg_##ident(void)                    \
    {                                                                                       \
        api_route_register(&api_route_##ident);                                             \
    }
#define API_ROUTE(ident, methods_, path_, fn_, flags_) \
    API_ROUTE_EX(ident, methods_, path_, fn_, flags_, 0)

/* ---- request helpers ---- */

/* The model name of a request: "model", else legacy "name" (Ollama: model wins).  E_INVAL with
 * a message when neither is a non-empty string. */
int api_req_model_name(const json_t *body, const char **out, struct err_info *ei);

#endif

/*
 * reg_int.h - shared between the registry module's own .c files only: the per-operation client
 * (registry address, credentials, token cache) and one HTTP exchange over libcurl.
 */
#ifndef CORRAL_REGISTRY_REG_INT_H
#define CORRAL_REGISTRY_REG_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "registry/reg.h"

#define REG_URL_MAX 4096

/* One pull or push.  The mutex protects token/use_basic (part workers share the client). */
struct reg_client {
    const struct reg_opts *o;
    struct store *st;
    struct store_name nm;
    char host[256];     /* registry host[:port] as in the name */
    char hostname[256]; /* host without the port (and without brackets) */
    int port;
    char base[600]; /* scheme://host */
    char repo[300]; /* ns/model */
    pthread_mutex_t mu;
    char *token;      /* bearer token for this operation, or NULL */
    char basic[1024]; /* base64 user:pass for this registry from the auth file, or "" */
    int use_basic;    /* the registry asked for Basic: send it from now on */
    atomic_int stop;  /* set when the progress callback asked to cancel */
};

struct reg_resp {
    long status;
    char url[REG_URL_MAX]; /* the URL that gave this reply (after same-host hops) */
    char location[REG_URL_MAX];
    char upload_location[REG_URL_MAX];
    char www_auth[2048];
    char content_range[128];
    int64_t content_length; /* -1 when absent */
    struct buf body;        /* body of non-2xx replies, or of 2xx when the request has no sink */
};

/* Receives 2xx body bytes; returns 0 or an E_* code to abort the transfer. */
typedef int (*reg_sink_fn)(void *ctx, const char *p, size_t n);

struct reg_req {
    const char *method; /* GET HEAD POST PUT PATCH */
    const char *url;
    const char *accept;        /* may be NULL */
    const char *content_type;  /* may be NULL */
    const char *range;         /* "bytes=a-b" or NULL */
    const char *content_range; /* "a-b" (upload chunk) or NULL */
    const char *extra_header;  /* one more "Name: value" line, or NULL */
    const void *body;          /* memory body, or NULL */
    size_t body_len;
    int body_fd; /* file body when >= 0 (pread from body_off, body_n bytes) */
    uint64_t body_off, body_n;
    reg_sink_fn sink; /* NULL: 2xx body goes to resp->body (capped at body_max) */
    void *sink_ctx;
    size_t body_max;           /* cap for resp->body; 0 = REG_MAX_SMALL_BODY */
    int no_auth;               /* never attach credentials (token requests to a realm) */
    const char *basic;         /* Basic credentials to attach regardless of host (token GET) */
    const char *authorization; /* raw Authorization value (signed token GET), or NULL */
};

void reg__req_init(struct reg_req *rq, const char *method, const char *url);
void reg__resp_init(struct reg_resp *rs);
void reg__resp_fini(struct reg_resp *rs);

/* Sets up c for the name (scheme, base URL, repo, credentials).  E_INVAL with Ollama's message
 * for an http:// name without insecure. */
int reg__client_init(struct reg_client *c, struct store *st, const struct store_name *nm,
                     const struct reg_opts *o, struct err_info *ei);
void reg__client_fini(struct reg_client *c);

/* One exchange, no redirects followed, credentials attached only when the URL is on the
 * registry's host:port.  0 when an HTTP status arrived (any status); E_NET/E_CANCELLED/sink
 * errors otherwise (message in ei). */
int reg__http(struct reg_client *c, const struct reg_req *rq, struct reg_resp *rs,
              struct err_info *ei);
/* reg__http plus the 401 challenge dance (bearer token or Basic, one retry) and, when follow is
 * set, same-host redirects (up to REG_MAX_REDIRECTS).  A cross-host redirect is returned as is
 * (status 3xx, rs->location absolute) so the caller decides. */
int reg__request(struct reg_client *c, const struct reg_req *rq, struct reg_resp *rs, int follow,
                 struct err_info *ei);

/* 1 when url's host:port is the registry's. */
int reg__same_host(const struct reg_client *c, const char *url);
/* Resolves ref (absolute or relative) against base into out. */
int reg__url_resolve(const char *base, const char *ref, char *out, size_t n);
/* Fills ei from a failed reply: "<status>: <body>" style, or Ollama's texts for 401/404. */
int reg__http_error(const struct reg_resp *rs, const char *what, struct err_info *ei);
/* Reports progress; returns E_CANCELLED when the callback or the cancel flag says so. */
int reg__progress(struct reg_client *c, const char *status, const char *digest, uint64_t total,
                  uint64_t completed);
int reg__cancelled(const struct reg_client *c);

/* Gets a token for the challenge (reg_auth.c); stores it in c->token. */
int reg__token_fetch(struct reg_client *c, const struct reg_challenge *ch, struct err_info *ei);

#endif

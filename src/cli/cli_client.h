/*
 * cli_client.h - the CLI's client of a running daemon: libcurl to OLLAMA_HOST (default
 * http://127.0.0.1:11434; 0.0.0.0 and an empty host are dialled as 127.0.0.1), JSON requests
 * and answers, a callback per NDJSON line for streaming routes, and blob uploads.
 *
 * Errors: a daemon that cannot be reached gives E_NET with the one-line message
 * CLI_MSG_NOT_RUNNING; an HTTP error gives the daemon's {"error"} text in ei->msg and a code from
 * the status (400 E_INVAL, 404 E_NOTFOUND, 403 E_PERM, other E_IO); an {"error"} line in a stream
 * ends it the same way.  Ownership: JSON results are new references the caller decrefs.
 * Not thread-safe (one client per thread).
 */
#ifndef CORRAL_CLI_CLI_CLIENT_H
#define CORRAL_CLI_CLI_CLIENT_H

#include <jansson.h>

#include "common/err.h"

#define CLI_MSG_NOT_RUNNING "could not connect to corral server, run 'corral serve' to start it"
#define CLI_MAX_RESPONSE    (64u << 20) /* one JSON answer */
#define CLI_MAX_LINE        (16u << 20) /* one NDJSON line */

struct cli_client {
    char base[600]; /* "http://host:port" */
};

/* Reads OLLAMA_HOST into c.  E_INVAL when it cannot be used. */
CORRAL_WARN_UNUSED int cli_client_init(struct cli_client *c, struct err_info *ei);
/* Parses an OLLAMA_HOST value into a base URL (exported for tests). */
CORRAL_WARN_UNUSED int cli_base_url(const char *host_env, char *out, size_t n);

/* method+path with an optional JSON body; *out (may be NULL) gets the parsed JSON answer or
 * NULL for an empty body; *status (may be NULL) the HTTP status. */
CORRAL_WARN_UNUSED int cli_request(struct cli_client *c, const char *method, const char *path,
                                   const json_t *body, json_t **out, int *status,
                                   struct err_info *ei);

/* Called for each streamed object (borrowed); nonzero stops the stream with that code. */
typedef int (*cli_line_fn)(void *ctx, const json_t *obj);
/* POSTs body to path and calls fn per NDJSON line (a plain JSON answer counts as one line). */
CORRAL_WARN_UNUSED int cli_stream(struct cli_client *c, const char *path, const json_t *body,
                                  cli_line_fn fn, void *ctx, struct err_info *ei);

/* Uploads a file as a blob unless the daemon has it (HEAD, then POST streamed from disk);
 * digest_out receives "sha256:<hex>". */
CORRAL_WARN_UNUSED int cli_upload_file(struct cli_client *c, const char *path, char digest_out[72],
                                       struct err_info *ei);

#endif

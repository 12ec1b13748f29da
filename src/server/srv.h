/*
 * srv.h - the daemon's HTTP side: configuration from the environment (OLLAMA_HOST,
 * OLLAMA_ORIGINS, OLLAMA_MODELS, OLLAMA_NOPRUNE), binding the listening socket, the request
 * policy (Host-header check against DNS rebinding, CORS) and the libmicrohttpd adapter that runs
 * api/ handlers.
 *
 * Start-up and serving are separate steps so the sandbox work can split them into a monitor
 * process (srv_config_load, srv_listen: reads config, binds) and a server process (srv_http_start
 * on the inherited fd).  Ownership: each _new/_load has a matching _free/_fini.  The HTTP server
 * is thread-safe (thread per connection, a worker thread per request).
 */
#ifndef CORRAL_SERVER_SRV_H
#define CORRAL_SERVER_SRV_H

#include <stddef.h>

#include "common/err.h"

#define SRV_DEFAULT_HOST     "127.0.0.1"
#define SRV_DEFAULT_PORT     11434
#define SRV_MAX_ORIGINS      64
#define SRV_MAX_CONNECTIONS  1024 /* simultaneous connections (thread per connection) */
#define SRV_MAX_PER_IP       SRV_MAX_CONNECTIONS /* loopback clients all share one IP */
#define SRV_IDLE_TIMEOUT_S   120        /* a connection idle this long (headers, body) is closed */
#define SRV_MAX_QUEUED_BYTES (4u << 20) /* streamed bytes waiting for a slow client */

struct api_env;

struct srv_config {
    char host[256]; /* bind host ("" = all interfaces) */
    int port;
    int loopback;                   /* bound to a loopback address: Host-header check on */
    char *origins[SRV_MAX_ORIGINS]; /* extra CORS origins from OLLAMA_ORIGINS (owned) */
    size_t n_origins;
    int allow_all_origins; /* OLLAMA_ORIGINS contains "*" */
    int noprune;           /* OLLAMA_NOPRUNE */
};

/* Parses an OLLAMA_HOST value (host, host:port, :port, [v6]:port, http(s)://host[:port][/path];
 * quotes and spaces stripped; invalid port -> default 11434, http:// without port -> 80,
 * https:// -> 443).  NULL or "" gives 127.0.0.1:11434.  E_INVAL when the host is too long. */
CORRAL_WARN_UNUSED int srv_parse_host(const char *s, char *host, size_t n, int *port);
/* Reads the environment into cfg (caller frees with srv_config_fini). */
CORRAL_WARN_UNUSED int srv_config_load(struct srv_config *cfg, struct err_info *ei);
void srv_config_fini(struct srv_config *cfg);
/* Boolean environment value as Go's ParseBool reads it (unparsable non-empty = true). */
int srv_env_bool(const char *name);
/* name's value without surrounding spaces and quotes (Ollama's envconfig.Var) copied into out;
 * NULL when unset or empty after cleaning. */
const char *srv_env_get(const char *name, char *out, size_t n);

/* Binds and listens on cfg's address; *fd receives the socket (close-on-exec).  "address
 * already in use" and other failures come back as one line in ei (E_BUSY / E_NET). Sets
 * cfg->loopback from the bound address. */
CORRAL_WARN_UNUSED int srv_listen(struct srv_config *cfg, int *fd, struct err_info *ei);

/* Request policy, used by the adapter and tested alone. */
/* 1 when a Host header value is acceptable for a loopback-bound server. */
int srv_host_allowed(const char *host_header);
/* 1 when origin may make cross-origin requests (defaults plus cfg's list, `*` wildcards). */
int srv_origin_allowed(const struct srv_config *cfg, const char *origin);

struct srv_http; /* opaque */

/* Starts serving on the listening fd (takes ownership) with libmicrohttpd; handlers get env
 * (borrowed; must outlive the server).  Caller owns *out (srv_http_stop). */
CORRAL_WARN_UNUSED int srv_http_start(int fd, const struct srv_config *cfg, struct api_env *env,
                                      struct srv_http **out, struct err_info *ei);
/* Stops accepting, cancels running requests, waits for them (bounded) and frees. */
void srv_http_stop(struct srv_http *s);

#endif

/*
 * reg.h - the registry client: pull and push Ollama models over the OCI distribution protocol
 * as Ollama speaks it (registry.ollama.ai, Docker Distribution, Harbor, hf.co ...).
 *
 * Pull: manifest, then each missing blob in parallel Range parts into blobs/<blob>-partial with
 * per-part JSON progress records (blobs/<blob>-partial-<N>, Ollama's format) so an interrupted
 * pull resumes; sha256 verified before the rename; the manifest is written last, byte for byte.
 * Push: HEAD each blob, cross-repository mount when a layer has `from`, else POST + PATCH chunks
 * + PUT ?digest=, then PUT the manifest; a PATCH the registry redirects (X-Redirect-Uploads, as
 * registry.ollama.ai does) is PUT to the redirect's Location on the other host, uncredentialed.
 * Auth: bearer-token challenges (the realm must be on the registry's host name), and Basic
 * credentials from ~/.ollama/registry-auth.json (Docker `auths` format) sent only to that host.
 *
 * Every outbound connection goes through the connect callback in struct reg_opts (libcurl never
 * creates a socket or resolves a name itself), so the sandbox's monitor process can answer it.
 *
 * Errors come back as E_* codes with Ollama's message text in ei->msg ("pull model manifest:
 * file does not exist", "digest mismatch, file must be downloaded again: want ..., got ...").
 * Thread-safety: reg_pull/reg_push may run concurrently (on the same store too: concurrent
 * pulls of one blob share the download through a lock on its -partial file).
 */
#ifndef CORRAL_REGISTRY_REG_H
#define CORRAL_REGISTRY_REG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "store/store.h"

#define REG_MAX_PARTS      1024 /* parts of one blob */
#define REG_MAX_WORKERS    16   /* concurrent part downloads per blob */
#define REG_PART_MIN       (100ull * 1000 * 1000)
#define REG_PART_MAX       (1000ull * 1000 * 1000)
#define REG_MAX_REDIRECTS  10
#define REG_PART_ATTEMPTS  6
#define REG_STALL_SECONDS  30            /* no byte for this long = stalled part */
#define REG_PROGRESS_MS    60            /* progress callback cadence */
#define REG_MAX_SMALL_BODY (1u << 20)    /* error bodies, token replies */
#define REG_PUSH_CHUNK     (64ull << 20) /* PATCH chunk size */

struct reg_key; /* Ollama's identity key; opaque, immutable once loaded (thread-safe) */

/* Connects to host:port (TCP) and returns a connected socket in *fd_out (the caller of the
 * callback owns it); 0 or a negative E_* code.
 * The socket must come from reg_connect_addr (or the same recipe: a non-blocking connect()
 * completed by poll + SO_ERROR, connect() not called again): libcurl 7.88 ignores
 * CURL_SOCKOPT_ALREADY_CONNECTED and calls connect() once more, which Linux answers with 0 for
 * such a socket but with EISCONN for one connected by a blocking connect(). */
typedef int (*reg_connect_fn)(void *ctx, const char *host, int port, int *fd_out);

/* The default connect: getaddrinfo, then reg_connect_addr on each address in turn. */
int reg_connect_default(void *ctx, const char *host, int port, int *fd_out);
struct sockaddr;
/* Connects a new TCP socket (close-on-exec, left blocking) to sa within timeout_ms, the way
 * reg_connect_fn requires; for the monitor process.  E_NET, E_TIMEOUT. */
int reg_connect_addr(const struct sockaddr *sa, unsigned sa_len, int timeout_ms, int *fd_out);

/* One progress event, as Ollama streams them: status ("pulling manifest", "pulling <12hex>",
 * "verifying sha256 digest", "writing manifest", "removing unused layers", "success";
 * push: "retrieving manifest", "pushing <12hex>", "pushing manifest", "success").  digest is
 * NULL for plain statuses; total/completed are bytes.  Borrowed for the call. */
struct reg_progress {
    const char *status;
    const char *digest;
    uint64_t total;
    uint64_t completed;
};
/* Return nonzero to cancel the operation (it then fails with E_CANCELLED). */
typedef int (*reg_progress_fn)(void *ctx, const struct reg_progress *p);

struct reg_opts {
    int insecure;           /* plain http (required for http:// names) */
    reg_connect_fn connect; /* NULL = reg_connect_default */
    void *connect_ctx;
    reg_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    const atomic_int *cancelled; /* polled; may be NULL */
    const char *auth_file;       /* NULL = $HOME/.ollama/registry-auth.json */
    uint64_t part_size;          /* 0 = Ollama's sizing or $CORRAL_PULL_PART_SIZE */
    int noprune;                 /* do not delete layers a re-pulled tag no longer uses */
    const char *key_file;        /* NULL = $HOME/.ollama/id_ed25519 (created when missing) */
    const struct reg_key *key;   /* already loaded key (borrowed); wins over key_file */
};

/* How the daemon connects out: api_env.user[REG_ENV_SLOT] may point to one of these (set by the
 * server when the monitor process answers connects); NULL there means reg_connect_default. */
#define REG_ENV_SLOT 1
struct reg_connector {
    reg_connect_fn fn; /* NULL = reg_connect_default */
    void *ctx;
    const struct reg_key *key; /* identity key loaded before the sandbox, or NULL */
};

/* Ollama's ProgressResponse as JSON: {"status", "digest"?, "total"?, "completed"?} with zero or
 * empty fields left out.  New reference, NULL on out of memory. */
json_t *reg_progress_json(const struct reg_progress *p);

/* Pulls nm into st.  Resumes from -partial files left by an earlier attempt. */
CORRAL_WARN_UNUSED int reg_pull(struct store *st, const struct store_name *nm,
                                const struct reg_opts *o, struct err_info *ei);
/* Pushes the local model nm from st to its registry. */
CORRAL_WARN_UNUSED int reg_push(struct store *st, const struct store_name *nm,
                                const struct reg_opts *o, struct err_info *ei);

/* The manifest URL the client requests for nm: `<scheme>://<host>/v2/<ns>/<model>/manifests/<tag>`
 * with https unless insecure (an http:// name without insecure: E_INVAL "insecure protocol
 * http").  No host is special-cased: `hf.co/<user>/<repo>[:quant]` (and `huggingface.co/...`)
 * resolve like any other registry name, Hugging Face serving an Ollama-compatible registry there
 * (its "latest" is the repository's default quantization, Q4_K_M when present).  E_RANGE when n
 * is too small. */
CORRAL_WARN_UNUSED int reg_manifest_url(const struct store_name *nm, int insecure, char *out,
                                        size_t n, struct err_info *ei);

/* Part size for a blob of total bytes: total/16 clamped to [100 MB, 1000 MB] (Ollama's sizing),
 * replaced by override (when nonzero) or else by $CORRAL_PULL_PART_SIZE (lower for many parts of
 * a small blob, or above total for a single part); raised when it would give REG_MAX_PARTS parts
 * or more; never 0. */
uint64_t reg_part_size(uint64_t total, uint64_t override);

/* Parses a WWW-Authenticate value.  scheme gets "Bearer" / "Basic"; realm/service/scope the
 * quoted parameters ("" when absent).  E_PARSE when malformed.  Exposed for tests. */
struct reg_challenge {
    char scheme[16];
    char realm[1024];
    char service[256];
    char scope[1024];
};
CORRAL_WARN_UNUSED int reg_challenge_parse(const char *value, struct reg_challenge *c);

/* Looks up Basic credentials for host ("host" or "host:port") in a Docker-format auth file
 * ({"auths":{"<host>":{"auth":"<base64 user:pass>"}|{"username","password"}}}); out receives
 * the base64 "user:pass".  E_NOTFOUND when there are none. */
CORRAL_WARN_UNUSED int reg_auth_lookup(const char *auth_file, const char *host, char *out,
                                       size_t n);

/* ---- Ollama's identity key (~/.ollama/id_ed25519) ---- */


/* Loads an unencrypted OpenSSH-format ed25519 private key from path (NULL =
 * $HOME/.ollama/id_ed25519); with create set, a missing key is generated and written (0600) with
 * its .pub line (0644).  Caller owns *out (reg_key_free).  E_NOTFOUND, E_PARSE, E_UNSUPPORTED
 * (encrypted key), E_IO. */
CORRAL_WARN_UNUSED int reg_key_load(const char *path, int create, struct reg_key **out);
void reg_key_free(struct reg_key *k);
/* Signs msg as Ollama does: *out = "<base64 SSH public key blob>:<base64 signature>" (caller
 * owns; mem_free). */
CORRAL_WARN_UNUSED int reg_key_sign(const struct reg_key *k, const void *msg, size_t n, char **out);
/* "ssh-ed25519 <base64 blob>" (the .pub line without newline). */
CORRAL_WARN_UNUSED int reg_key_public_line(const struct reg_key *k, char *out, size_t n);

#endif

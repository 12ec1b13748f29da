/*
 * store.h - the model store, compatible with Ollama's on-disk layout:
 *
 *   <dir>/blobs/sha256-<64 lowercase hex>            content-addressed files
 *   <dir>/blobs/sha256-<hex>-partial[-N]             in-progress downloads (registry owns them)
 *   <dir>/manifests/<host>/<ns>/<model>/<tag>        one manifest per tag, kept byte for byte
 *
 * The module owns names (parse/validate/display), blobs (streaming verified writer, import,
 * open), manifests (raw bytes read/write/delete/list; a parsed form with an exact serialiser),
 * the store lock and pruning.  Every digest and name part is validated before it touches a path.
 *
 * Ownership: functions that return heap memory say "caller owns"; free with mem_free() unless a
 * dedicated _free is named.  Thread-safety: a struct store may be shared by threads for reads
 * and blob writers (each writer is used by one thread); manifest writes are atomic renames.
 * Spec: /work/shared/docs/ollama-reference.md sections 4 and 5; docs/internals/store.md.
 */
#ifndef CORRAL_STORE_STORE_H
#define CORRAL_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

/* ---- constants ---- */

#define STORE_DEFAULT_HOST "registry.ollama.ai"
#define STORE_DEFAULT_NS   "library"
#define STORE_DEFAULT_TAG  "latest"

#define STORE_MT_MANIFEST  "application/vnd.docker.distribution.manifest.v2+json"
#define STORE_MT_CONFIG    "application/vnd.docker.container.image.v1+json"
#define STORE_MT_MODEL     "application/vnd.ollama.image.model"
#define STORE_MT_TEMPLATE  "application/vnd.ollama.image.template"
#define STORE_MT_PROMPT    "application/vnd.ollama.image.prompt" /* legacy template */
#define STORE_MT_SYSTEM    "application/vnd.ollama.image.system"
#define STORE_MT_PARAMS    "application/vnd.ollama.image.params"
#define STORE_MT_LICENSE   "application/vnd.ollama.image.license"
#define STORE_MT_MESSAGES  "application/vnd.ollama.image.messages"
#define STORE_MT_PROJECTOR "application/vnd.ollama.image.projector"
#define STORE_MT_ADAPTER   "application/vnd.ollama.image.adapter"

#define MANIFEST_MAX_BYTES        (4u << 20) /* manifests larger than this are refused */
#define STORE_MANIFEST_MAX_LAYERS 4096       /* layers[] entries accepted by the parser */
#define STORE_NAME_MAX_PART       80         /* ns, model, tag: 1..80 characters */
#define STORE_NAME_MAX_HOST       255        /* host[:port]: 1..255 (Ollama allows 350) */
#define STORE_DIGEST_LEN          71         /* "sha256:" + 64 hex */
#define STORE_PRUNE_GRACE_S       3600       /* default grace period for young files in blobs/ */

/* ---- names ---- */

/* A model name split into its parts; all NUL-terminated, validated by store_name_parse. */
struct store_name {
    char host[256]; /* host or host:port, default registry.ollama.ai */
    char ns[128];   /* namespace, default library */
    char model[128];
    char tag[128]; /* default latest */
    int http;      /* 1 when the text carried an explicit http:// scheme */
};

/* Parses `[scheme://][host[:port]/][namespace/]model[:tag]` with Ollama's defaults and rules
 * (parts 1..80 chars, first [A-Za-z0-9_], then [A-Za-z0-9_.-]; no '.' in the namespace; ':' only
 * in the host).  E_INVAL with ei->msg "invalid model name" on any violation; out untouched then. */
CORRAL_WARN_UNUSED int store_name_parse(const char *s, struct store_name *out, struct err_info *ei);
/* Shortest display form: `model:tag`, `ns/model:tag` or `host/ns/model:tag`.  Truncates to n-1
 * bytes (always NUL-terminated); returns the length it wanted (snprintf-style). */
size_t store_name_display(const struct store_name *nm, char *out, size_t n);
/* Full form `host/ns/model:tag`; same conventions as store_name_display. */
size_t store_name_full(const struct store_name *nm, char *out, size_t n);
/* 1 when a and b name the same model (case-insensitive on every part), else 0. */
int store_name_eq(const struct store_name *a, const struct store_name *b);
/* 1 when s is a valid name part of the given kind ('h' host, 'n' namespace, 'm' model, 't' tag). */
int store_name_part_valid(const char *s, char kind);

/* ---- store ---- */

struct store; /* opaque */

/* Opens the store at dir; NULL means $OLLAMA_MODELS, else $HOME/.ollama/models.  Creates the
 * directory, blobs/ and manifests/ (0755) when missing.  Caller owns *out (store_close). */
CORRAL_WARN_UNUSED int store_open(const char *dir, struct store **out, struct err_info *ei);
/* Frees the handle (NULL is fine).  Does not release a lock taken with store_lock. */
void store_close(struct store *st);
/* The models directory (absolute or as given); borrowed until store_close. */
const char *store_dir(const struct store *st);

/* Takes the store's advisory write lock (<dir>/.corral.lock) without waiting: E_BUSY when
 * another process holds it.  *fd receives the lock fd; release with store_unlock. */
CORRAL_WARN_UNUSED int store_lock(struct store *st, int *fd);
void store_unlock(int fd);

/* ---- blobs ---- */

/* 1 when digest is "sha256:<64 lowercase hex>" or "sha256-<64 lowercase hex>", else 0. */
int store_digest_valid(const char *digest);
/* Canonical "sha256:<hex>" form of a valid digest into out[72]; E_INVAL when invalid. */
CORRAL_WARN_UNUSED int store_digest_canon(const char *digest, char out[72]);
/* Path of the blob file for digest; E_INVAL for a bad digest, E_RANGE when n is too small. */
CORRAL_WARN_UNUSED int store_blob_path(const struct store *st, const char *digest, char *out,
                                       size_t n);
/* 1 when the complete blob exists (a regular file), 0 otherwise (also for a bad digest). */
int store_blob_has(const struct store *st, const char *digest);
/* Size in bytes of a complete blob; E_NOTFOUND when missing, E_INVAL for a bad digest. */
CORRAL_WARN_UNUSED int store_blob_size(const struct store *st, const char *digest, uint64_t *size);
/* Opens a blob read-only (O_CLOEXEC); caller owns *fd. */
CORRAL_WARN_UNUSED int store_blob_open(const struct store *st, const char *digest, int *fd);
/* Deletes a blob; missing is fine. */
CORRAL_WARN_UNUSED int store_blob_delete(struct store *st, const char *digest);

struct store_blob_writer; /* opaque; one thread at a time */

/* Starts a streaming write into a temp file in blobs/.  expected: digest the bytes must hash to,
 * or NULL to compute it.  Caller owns *w: finish with _commit or _abort (each frees it). */
CORRAL_WARN_UNUSED int store_blob_writer_new(struct store *st, const char *expected,
                                             struct store_blob_writer **w);
CORRAL_WARN_UNUSED int store_blob_writer_write(struct store_blob_writer *w, const void *p,
                                               size_t n);
/* Hashes, checks against expected (E_INTEGRITY and temp file removed on mismatch), fsyncs and
 * renames to blobs/sha256-<hex> (an existing blob is kept).  digest_out (may be NULL) receives
 * "sha256:<hex>".  Always frees w. */
CORRAL_WARN_UNUSED int store_blob_writer_commit(struct store_blob_writer *w, char digest_out[72]);
/* Removes the temp file and frees w (NULL is fine). */
void store_blob_writer_abort(struct store_blob_writer *w);
/* Copies a file into the store (hashing it); digest_out receives "sha256:<hex>". */
CORRAL_WARN_UNUSED int store_blob_import_file(struct store *st, const char *path,
                                              char digest_out[72]);
/* Stores an in-memory buffer as a blob; digest_out receives "sha256:<hex>". */
CORRAL_WARN_UNUSED int store_blob_put(struct store *st, const void *p, size_t n,
                                      char digest_out[72]);

/* ---- manifests (raw bytes) ---- */

/* Path of the manifest for nm (validated); E_RANGE when n is too small. */
CORRAL_WARN_UNUSED int store_manifest_path(const struct store *st, const struct store_name *nm,
                                           char *out, size_t n);
/* Reads the manifest bytes (at most MANIFEST_MAX_BYTES); caller owns *bytes (NUL-terminated).
 * E_NOTFOUND when the model does not exist.  The on-disk spelling is found case-insensitively
 * when the exact path is missing. */
CORRAL_WARN_UNUSED int store_manifest_read(const struct store *st, const struct store_name *nm,
                                           char **bytes, size_t *n);
/* Writes bytes atomically as the manifest for nm (creating directories).  When the model exists
 * on disk spelled with other case, that file is replaced (the on-disk spelling is kept). */
CORRAL_WARN_UNUSED int store_manifest_write(struct store *st, const struct store_name *nm,
                                            const void *bytes, size_t n);
/* Deletes the manifest and removes directories left empty; E_NOTFOUND when missing. */
CORRAL_WARN_UNUSED int store_manifest_delete(struct store *st, const struct store_name *nm);

/* One entry given to a list callback; all fields borrowed for the duration of the call. */
struct store_list_entry {
    const struct store_name *name;
    const char *bytes; /* manifest bytes */
    size_t n;
    time_t mtime; /* manifest file's modification time */
};
/* Return nonzero from the callback to stop; that value is returned by store_manifest_list. */
typedef int (*store_list_cb)(void *ctx, const struct store_list_entry *e);
/* Calls cb for every manifests/<h>/<n>/<m>/<t> whose parts validate (others skipped), in
 * sorted path order. */
CORRAL_WARN_UNUSED int store_manifest_list(const struct store *st, store_list_cb cb, void *ctx);

/* Model id: sha256 hex of the manifest bytes into hex[65]. */
void store_manifest_id(const void *bytes, size_t n, char hex[65]);

/* ---- manifests (parsed) ---- */

struct store_layer {
    char *media_type;
    char digest[72]; /* "sha256:<hex>", validated */
    uint64_t size;
    char *from; /* optional, NULL when absent */
    char *name; /* optional, NULL when absent */
};

struct store_manifest {
    int schema_version;
    char *media_type; /* may be NULL */
    struct store_layer config;
    struct store_layer *layers;
    size_t n_layers;
};

/* Parses manifest JSON (at most MANIFEST_MAX_BYTES).  Digests are validated, unknown fields
 * ignored.  Caller owns m's contents: store_manifest_fini.  E_PARSE / E_RANGE with ei filled. */
CORRAL_WARN_UNUSED int store_manifest_parse(const void *bytes, size_t n, struct store_manifest *m,
                                            struct err_info *ei);
/* Serialises as Ollama's Go encoder writes it: compact, field order schemaVersion, mediaType,
 * config, layers (each mediaType, digest, size, from?, name?), trailing newline.  Caller owns
 * *bytes. */
CORRAL_WARN_UNUSED int store_manifest_serialize(const struct store_manifest *m, char **bytes,
                                                size_t *n);
/* Frees the contents of m (not m itself); safe on a zeroed struct. */
void store_manifest_fini(struct store_manifest *m);

/* ---- pruning ---- */

/* Deletes files in blobs/ that no manifest references, except files modified less than
 * grace_seconds ago (young partial downloads and temp files survive).  Does nothing and returns
 * E_PARSE when any manifest fails to parse.  n_removed (may be NULL) gets the count.  The caller
 * checks OLLAMA_NOPRUNE. */
CORRAL_WARN_UNUSED int store_prune(struct store *st, long grace_seconds, size_t *n_removed);
/* Deletes the given blobs unless some manifest still references them (used after delete and
 * after a pull replaced a tag). */
CORRAL_WARN_UNUSED int store_prune_digests(struct store *st, const char *const *digests,
                                           size_t n_digests);

#endif

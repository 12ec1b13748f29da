/*
 * api_model.h - a stored model as the API sees it: its name, manifest (raw bytes, id, parsed),
 * config blob, and the text/JSON layers (template, system, params, messages, license).  Used by
 * show/tags/copy/delete here and by generate/chat (the serve module) to find what to load.
 *
 * Ownership: api_model_open fills a caller-provided struct that the caller releases with
 * api_model_fini; returned strings/JSON are caller-owned as documented per function.
 * Thread-safe (reads the store only).
 */
#ifndef CORRAL_API_API_MODEL_H
#define CORRAL_API_API_MODEL_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "common/err.h"
#include "store/store.h"

#define API_CONFIG_MAX_BYTES (1u << 20)  /* config blob */
#define API_LAYER_MAX_BYTES  (16u << 20) /* template/system/params/license/messages layer */

struct api_model {
    struct store_name name;
    char display[600]; /* shortest display name, e.g. "stories:latest" */
    char *manifest;    /* raw manifest bytes (owned) */
    size_t manifest_n;
    char id[65];             /* sha256 hex of the manifest bytes */
    struct store_manifest m; /* parsed manifest (owned) */
    json_t *config;          /* parsed config blob, or an empty object when unreadable */
    time_t mtime;            /* manifest file modification time */
    long mtime_ns;
};

/* Resolves name (Ollama rules) and loads its manifest and config.  E_INVAL ("invalid model
 * name"), E_NOTFOUND (no such model), E_PARSE (corrupt manifest); ei gets the message. */
CORRAL_WARN_UNUSED int api_model_open(struct store *st, const char *name, struct api_model *out,
                                      struct err_info *ei);
void api_model_fini(struct api_model *m);

/* Serialises the daemon's manifest changes (create, copy, delete and their pruning; pull should
 * take it around its manifest write and prune) so a prune never removes a blob that a create
 * running at the same time has just decided to use.  Thread-safe; not reentrant. */
void api_store_write_lock(void);
void api_store_write_unlock(void);

/* First layer of the given media type, or NULL. (borrowed from m) */
const struct store_layer *api_model_layer(const struct api_model *m, const char *media_type);
/* Reads a layer blob as text (at most API_LAYER_MAX_BYTES); caller owns *out (mem_free). */
CORRAL_WARN_UNUSED int api_model_read_layer(struct store *st, const struct store_layer *l,
                                            char **out, size_t *n);
/* Text of the first layer of media_type (template falls back to the legacy prompt type);
 * *out NULL when there is none.  Caller owns *out. */
CORRAL_WARN_UNUSED int api_model_text(struct store *st, const struct api_model *m,
                                      const char *media_type, char **out);
/* Parsed JSON of the first layer of media_type (params, messages); *out NULL when absent.
 * Caller owns *out (json_decref). */
CORRAL_WARN_UNUSED int api_model_json(struct store *st, const struct api_model *m,
                                      const char *media_type, json_t **out);
/* Total size: all layers plus the config blob. */
uint64_t api_model_size(const struct api_model *m);
/* The "details" object (Go ModelDetails field order) built from the config; parent may be NULL.
 * New reference (NULL on OOM). */
json_t *api_model_details(const struct api_model *m, const char *parent);
/* Path of the model (GGUF) blob into out; E_NOTFOUND when the model has no model layer. */
CORRAL_WARN_UNUSED int api_model_gguf_path(const struct store *st, const struct api_model *m,
                                           char *out, size_t n);

/* ---- GGUF metadata (api_gguf.c) ---- */

struct api_gguf_facts {
    char arch[64];           /* general.architecture ("" when absent) */
    char parameter_size[32]; /* human count, e.g. "292K", "3.2B" ("" when unknown) */
    char file_type[32];      /* quantization level from general.file_type, e.g. "Q4_K_M" */
    uint64_t n_params;       /* from the tensor shapes; 0 when unknown */
    int64_t context_length;  /* <arch>.context_length, 0 when absent */
    int64_t embedding_length;
    int embedding_only; /* <arch>.pooling_type present */
    int adapter;        /* general.type == "adapter" */
    int vision, audio;  /* <arch>.vision.block_count / <arch>.audio.block_count present */
};

/* Reads the facts /api/create and /api/show need from a GGUF file's metadata (and tensor
 * shapes for the parameter count).  E_PARSE etc. from the reader with ei filled. */
CORRAL_WARN_UNUSED int api_gguf_facts(const char *path, struct api_gguf_facts *f,
                                      struct err_info *ei);
/* Flattened key/values for /api/show model_info: non-empty arrays are null unless verbose;
 * general.name and tokenizer.chat_template left out; general.parameter_count added.  Keys are
 * emitted sorted by the caller (Go map).  New reference in *out. */
CORRAL_WARN_UNUSED int api_gguf_model_info(const char *path, int verbose, json_t **out,
                                           struct err_info *ei);
/* Tensor list for /api/show (verbose): [{"name","type","shape":[...]}] in file order.  New
 * reference in *out. */
CORRAL_WARN_UNUSED int api_gguf_tensors(const char *path, json_t **out, struct err_info *ei);
/* Capabilities as Ollama's Model.Capabilities orders them: the config's "capabilities", then
 * embedding (GGUF pooling_type) or completion, vision (vision.block_count or a projector
 * layer), audio, then from the Go template tools (.Tools), insert (.Suffix), thinking
 * (.Thinking), and thinking for the gpt-oss family; no duplicates.  f may be NULL (no GGUF
 * facts: completion is assumed), tmpl may be NULL.  New reference, NULL on out-of-memory. */
json_t *api_model_capabilities(const struct api_model *m, const struct api_gguf_facts *f,
                               const char *tmpl);
/* Ollama's format.HumanNumber: whole values without decimals ("7B", "137M"), else B with one
 * decimal ("3.2B"), M with two ("22.57M"), K rounded ("292K"). */
void api_human_number(uint64_t n, char *out, size_t len);

#endif

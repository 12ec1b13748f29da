/*
 * api_create.c - POST /api/create in Ollama's current JSON form (ollama-reference.md 1.7, 4.2,
 * 4.4): model, from | files {name: digest}, template, system, license, parameters, messages,
 * stream, quantize (api_quantize.c: the model layer is rewritten into a new blob).  adapters
 * answer 400 "not supported yet".  A `from` model missing from the store is pulled first, its
 * progress leading the stream (Ollama's parseFromModel).
 *
 * Everything that can fail on bad input (names, digests, GGUF metadata, parameter types, base
 * model lookup, template syntax) is checked before the first status line, so those errors keep
 * their HTTP status; then the layers are written (text layers as new blobs), the config blob, the
 * manifest, and layers of a replaced manifest that nothing references any more are pruned.
 */
#include "api/api_create.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/api_model.h"
#include "api/api_modelfile.h"
#include "api/api_quantize.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/mem.h"
#include "registry/reg.h"
#include "store/store.h"
#include "template/template.h"

#define CREATE_MAX_LAYERS 256

static api_template_hook_fn template_hook; /* set once before serving */

void api_create_set_template_hook(api_template_hook_fn fn)
{
    template_hook = fn;
}

struct create {
    struct api_req *req;
    struct api_resp *resp;
    struct store *st;
    const char *name;
    struct store_name nm;
    struct store_manifest m; /* the manifest being built (owns its layers) */
    json_t *config;          /* config blob object */
    json_t *params;          /* merged parameters, or NULL */
    json_t *messages;        /* or NULL */
    char gguf[PATH_MAX];     /* model blob path when created from a file */
    int has_template;
    int quantize;                    /* 1 when a quantize type was requested */
    uint32_t q_ftype;                /* its llama file type */
    char q_name[API_QUANT_NAME_MAX]; /* its canonical name, e.g. "Q4_K_M" */
    char q_src[32];                  /* the source layer's file type, e.g. "F16" */
    char q_digest[72];               /* the quantized layer (already announced as new) */
    struct err_info ei;
    int answered; /* the error was already sent */
};

/* ---- layers ---- */

static int layer_add(struct create *c, const char *mt, const char *digest, uint64_t size,
                     const char *from)
{
    struct store_layer *l;
    if (c->m.n_layers >= CREATE_MAX_LAYERS)
        return E_RANGE;
    if (!(l = mem_realloc_array(c->m.layers, c->m.n_layers + 1, sizeof(*l))))
        return E_NOMEM;
    c->m.layers = l;
    l = &c->m.layers[c->m.n_layers];
    memset(l, 0, sizeof(*l));
    snprintf(l->digest, sizeof(l->digest), "%s", digest);
    l->size = size;
    if (!(l->media_type = mem_strdup(mt)) || (from && !(l->from = mem_strdup(from)))) {
        mem_free(l->media_type);
        return E_NOMEM;
    }
    c->m.n_layers++;
    return 0;
}

static void layers_drop(struct create *c, const char *mt)
{
    size_t j = 0;
    for (size_t i = 0; i < c->m.n_layers; i++) {
        struct store_layer *l = &c->m.layers[i];
        if (!strcmp(l->media_type, mt)) {
            mem_free(l->media_type);
            mem_free(l->from);
            mem_free(l->name);
            continue;
        }
        c->m.layers[j++] = *l;
    }
    c->m.n_layers = j;
}

/* Stores bytes as a blob and adds a layer, with its status line. */
static int layer_put(struct create *c, const char *mt, const void *p, size_t n)
{
    char d[72], hexd[65], status[128];
    int had, rc;
    crypto_sha256_hex(p, n, hexd);
    snprintf(d, sizeof(d), "sha256:%s", hexd);
    had = store_blob_has(c->st, d);
    if ((rc = store_blob_put(c->st, p, n, d)) != 0)
        return rc;
    snprintf(status, sizeof(status), "%s layer %s", had ? "using existing" : "creating new", d);
    if ((rc = api_stream_status(c->resp, status)) != 0)
        return rc;
    return layer_add(c, mt, d, n, NULL);
}

static int layer_put_json(struct create *c, const char *mt, const json_t *v, int sorted)
{
    char *s = NULL;
    size_t n = 0;
    int rc = json_go_dumps(v, sorted ? JSON_GO_SORT_KEYS : 0, &s, &n);
    if (!rc)
        rc = layer_put(c, mt, s, n);
    mem_free(s);
    return rc;
}

/* ---- request checks (before anything is streamed) ---- */

static int bad(struct create *c, int status, const char *msg)
{
    int rc = api_resp_error(c->resp, status, "%s", msg);
    return rc ? rc : E_INVAL;
}

static int check_unsupported(struct create *c)
{
    const json_t *q = json_object_get(c->req->json, "quantize");
    const json_t *a = json_object_get(c->req->json, "adapters");
    const json_t *q2 = json_object_get(c->req->json, "quantization");
    if ((q && !json_is_null(q) && !json_is_string(q)) ||
        (q2 && !json_is_null(q2) && !json_is_string(q2)))
        return bad(c, 400, "quantize must be a string");
    if (!json_is_string(q) || !*json_string_value(q))
        q = q2; /* Ollama: cmp.Or(quantize, quantization) */
    if (json_is_string(q) && *json_string_value(q)) {
        if (api_quantize_type(json_string_value(q), &c->q_ftype, c->q_name, &c->ei) != 0)
            return bad(c, 400, c->ei.msg);
        c->quantize = 1;
    }
    if (json_is_object(a) && json_object_size(a))
        return bad(c, 400, "adapters are not supported yet");
    return 0;
}

static struct store_layer *model_layer(struct create *c)
{
    for (size_t i = 0; i < c->m.n_layers; i++)
        if (!strcmp(c->m.layers[i].media_type, STORE_MT_MODEL))
            return &c->m.layers[i];
    return NULL;
}

/* Before anything streams: the source must be an F16/BF16/F32 GGUF (Ollama's message). */
static int check_quantize(struct create *c)
{
    struct api_gguf_facts f;
    struct store_layer *l = model_layer(c);
    char path[PATH_MAX];
    if (!c->quantize)
        return 0;
    if (!l || store_blob_path(c->st, l->digest, path, sizeof(path)) != 0)
        return bad(c, 400, "quantization requires a model layer");
    if (api_gguf_facts(path, &f, &c->ei) != 0)
        return api_resp_error(c->resp, 400, "invalid GGUF model: %s", c->ei.msg) ? E_IO : E_INVAL;
    if (!api_quantize_source_ok(f.file_type))
        return bad(c, 400, "quantization is only supported for F16, BF16 and F32 models");
    if (!strcmp(f.file_type, c->q_name))
        c->quantize = 0; /* already that type: the layer is kept as it is */
    snprintf(c->q_src, sizeof(c->q_src), "%s", f.file_type);
    return 0;
}

/* Rewrites the model layer into a quantized blob and points the layer and config at it. */
static int quantize_model(struct create *c)
{
    struct store_layer *l = model_layer(c);
    char path[PATH_MAX], d[72], status[128];
    uint64_t size = 0;
    int rc;
    if (!c->quantize)
        return 0;
    if (!l || (rc = store_blob_path(c->st, l->digest, path, sizeof(path))) != 0)
        return E_INTERNAL;
    rc = api_quantize_layer(c->st, c->resp, path, c->q_src, l->size, c->q_ftype, c->q_name, d,
                            &size, &c->ei);
    if (rc)
        return rc;
    snprintf(l->digest, sizeof(l->digest), "%s", d);
    snprintf(c->q_digest, sizeof(c->q_digest), "%s", d);
    l->size = size;
    mem_free(l->from);
    l->from = NULL;
    snprintf(status, sizeof(status), "creating new layer %s", d);
    if ((rc = api_stream_status(c->resp, status)) != 0)
        return rc;
    return json_object_set_new(c->config, "file_type", json_string(c->q_name)) ? E_NOMEM : 0;
}

static int path_is_clean(const char *p)
{
    const char *s = p;
    if (!*p || *p == '/')
        return 0;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && !strncmp(s, "..", 2)))
            return 0;
        s += n;
        if (*s == '/')
            s++;
    }
    return 1;
}

static void config_from_facts(struct create *c, const struct api_gguf_facts *f)
{
    json_t *cfg = json_object();
    if (!cfg)
        return;
    json_object_set_new(cfg, "model_format", json_string("gguf"));
    json_object_set_new(cfg, "model_family", json_string(f->arch));
    json_object_set_new(cfg, "model_families", json_pack("[s]", f->arch));
    json_object_set_new(cfg, "model_type", json_string(f->parameter_size));
    json_object_set_new(cfg, "file_type", json_string(f->file_type));
    if (f->context_length > 0)
        json_object_set_new(cfg, "context_length", json_integer(f->context_length));
    if (f->embedding_length > 0)
        json_object_set_new(cfg, "embedding_length", json_integer(f->embedding_length));
    json_object_set_new(cfg, "architecture", json_string("amd64"));
    json_object_set_new(cfg, "os", json_string("linux"));
    c->config = cfg;
}

/* files {name: digest}: one GGUF file becomes the model layer. */
static int base_from_files(struct create *c, json_t *files)
{
    struct api_gguf_facts f;
    const char *fname;
    json_t *dv;
    char d[72];
    uint64_t size = 0;
    if (json_object_size(files) != 1)
        return bad(c, 400, "exactly one GGUF file is supported in 'files'");
    json_object_foreach(files, fname, dv)
    {
        if (!path_is_clean(fname))
            return bad(c, 400, "file path must be relative");
        if (!json_is_string(dv) || store_digest_canon(json_string_value(dv), d) != 0)
            return bad(c, 400, "invalid digest format");
    }
    if (store_blob_size(c->st, d, &size) != 0 ||
        store_blob_path(c->st, d, c->gguf, sizeof(c->gguf)) != 0)
        return api_resp_error(c->resp, 400, "blob \"%s\" not found", d) ? E_IO : E_INVAL;
    if (api_gguf_facts(c->gguf, &f, &c->ei) != 0)
        return api_resp_error(c->resp, 400, "invalid GGUF file %s: %s", fname, c->ei.msg) ? E_IO
                                                                                          : E_INVAL;
    if (f.adapter)
        return bad(c, 400, "adapters are not supported yet");
    config_from_facts(c, &f);
    if (!c->config)
        return E_NOMEM;
    return layer_add(c, STORE_MT_MODEL, d, size, NULL);
}

/* from: an existing model; its layers and config are inherited. */
static int base_from_model(struct create *c, const char *from)
{
    struct api_model base;
    int rc;
    if ((rc = api_model_open(c->st, from, &base, &c->ei)) != 0) {
        int st = rc == E_INVAL ? 400 : api_status_for(rc);
        return api_resp_error(c->resp, st, "%s", c->ei.msg) ? E_IO : rc;
    }
    for (size_t i = 0; !rc && i < base.m.n_layers; i++) {
        const struct store_layer *l = &base.m.layers[i];
        int weights = !strcmp(l->media_type, STORE_MT_MODEL) ||
                      !strcmp(l->media_type, STORE_MT_PROJECTOR) ||
                      !strcmp(l->media_type, STORE_MT_ADAPTER);
        if (!strcmp(l->media_type, STORE_MT_PARAMS) || !strcmp(l->media_type, STORE_MT_MESSAGES))
            continue; /* merged below */
        rc = layer_add(c, l->media_type, l->digest, l->size,
                       l->from ? l->from : (weights ? base.display : NULL));
        if (!strcmp(l->media_type, STORE_MT_TEMPLATE) || !strcmp(l->media_type, STORE_MT_PROMPT))
            c->has_template = 1;
    }
    if (!rc)
        rc = api_model_json(c->st, &base, STORE_MT_PARAMS, &c->params);
    if (!rc)
        rc = api_model_json(c->st, &base, STORE_MT_MESSAGES, &c->messages);
    if (!rc && !(c->config = json_deep_copy(base.config)))
        rc = E_NOMEM;
    api_model_fini(&base);
    return rc;
}

static int merge_params(struct create *c)
{
    json_t *p = NULL;
    int rc = json_get_obj(c->req->json, "parameters", &p, &c->ei);
    if (rc == E_NOTFOUND)
        return 0;
    if (rc || (rc = api_params_check(p, &c->ei)) != 0)
        return bad(c, 400, c->ei.msg);
    if (!c->params && !(c->params = json_object()))
        return E_NOMEM;
    return json_object_update(c->params, p) ? E_NOMEM : 0;
}

static int check_messages(struct create *c)
{
    json_t *msgs = NULL;
    int rc = json_get_arr(c->req->json, "messages", &msgs, &c->ei);
    if (rc == E_NOTFOUND || (!rc && !json_array_size(msgs)))
        return 0;
    if (rc)
        return bad(c, 400, c->ei.msg);
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        if (!json_is_string(json_object_get(m, "role")) ||
            !json_is_string(json_object_get(m, "content")))
            return bad(c, 400, "messages must have a string role and content");
    }
    json_decref(c->messages);
    c->messages = json_array();
    for (size_t i = 0; c->messages && i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        json_array_append_new(c->messages,
                              json_pack("{s:O,s:O}", "role", json_object_get(m, "role"), "content",
                                        json_object_get(m, "content")));
    }
    return c->messages ? 0 : E_NOMEM;
}

/* template and system must be strings, and a template must parse (Ollama: 400 "template error:
 * ..."), before the first status line, so the error keeps its status. */
static int check_texts(struct create *c)
{
    const char *t = NULL;
    struct tmpl *tp = NULL;
    int rc = json_get_str(c->req->json, "system", &t, &c->ei);
    if (rc == E_INVAL || (rc = json_get_str(c->req->json, "template", &t, &c->ei)) == E_INVAL)
        return bad(c, 400, c->ei.msg);
    if (rc != 0 || !*t)
        return 0;
    if ((rc = tmpl_parse(t, strlen(t), &tp, &c->ei)) != 0) {
        char msg[sizeof(c->ei.msg) + 16];
        snprintf(msg, sizeof(msg), "template error: %s", c->ei.msg);
        return rc == E_NOMEM ? rc : bad(c, 400, msg);
    }
    tmpl_free(tp);
    return 0;
}

static int pull_progress(void *ctx, const struct reg_progress *p)
{
    return api_stream_line(ctx, reg_progress_json(p)) != 0;
}

/* Ollama's parseFromModel: a `from` model missing from the store is pulled first, its progress
 * leading the stream (https only: Ollama passes no insecure option).  Called with the store
 * write lock held and nothing written yet; the lock is dropped for the download. */
static int pull_base(struct create *c, const char *from)
{
    const struct reg_connector *conn = c->req->env->user[REG_ENV_SLOT];
    struct store_name nm;
    struct api_model m;
    struct reg_opts o;
    int rc;
    if (store_name_parse(from, &nm, NULL) != 0)
        return 0; /* base_from_model says "invalid model name" */
    if ((rc = api_model_open(c->st, from, &m, NULL)) != E_NOTFOUND) {
        if (rc == 0)
            api_model_fini(&m);
        return 0;
    }
    memset(&o, 0, sizeof(o));
    o.connect = conn ? conn->fn : NULL;
    o.connect_ctx = conn ? conn->ctx : NULL;
    o.key = conn ? conn->key : NULL;
    o.progress = pull_progress;
    o.progress_ctx = c->resp;
    o.cancelled = c->req->cancelled;
    o.noprune = c->req->env->noprune;
    api_store_write_unlock();
    rc = reg_pull(c->st, &nm, &o, &c->ei);
    api_store_write_lock();
    if (rc != 0 && rc != E_CANCELLED) { /* Ollama: a 500 or the stream's error line */
        (void)api_resp_error(c->resp, 500, "%s", c->ei.msg[0] ? c->ei.msg : err_str(rc));
        c->answered = 1;
    }
    return rc;
}

static int check_request(struct create *c)
{
    const char *from = NULL;
    json_t *files = NULL;
    int rc;
    if ((rc = api_req_model_name(c->req->json, &c->name, &c->ei)) != 0)
        return bad(c, 400, c->ei.msg);
    if (store_name_parse(c->name, &c->nm, NULL) != 0)
        return bad(c, 400, "invalid model name");
    if ((rc = api_stream_setup(c->req, c->resp, &c->ei)) != 0 || (rc = check_unsupported(c)) != 0)
        return rc == E_INVAL && !c->resp->status ? bad(c, 400, c->ei.msg) : rc;
    if ((rc = json_get_str(c->req->json, "from", &from, &c->ei)) == E_INVAL ||
        (rc = json_get_obj(c->req->json, "files", &files, &c->ei)) == E_INVAL)
        return bad(c, 400, c->ei.msg);
    if (from && *from) { /* CreateHandler looks at from before files */
        if ((rc = pull_base(c, from)) != 0)
            return rc;
        rc = base_from_model(c, from);
    } else if (files && json_object_size(files)) {
        rc = base_from_files(c, files);
    } else {
        return bad(c, 400, "neither 'from' or 'files' was specified");
    }
    if (!rc)
        rc = check_quantize(c);
    if (!rc)
        rc = merge_params(c);
    if (!rc)
        rc = check_messages(c);
    if (!rc)
        rc = check_texts(c);
    return rc;
}

/* ---- writing ---- */

static int text_field(struct create *c, const char *key, const char *mt)
{
    const char *s = NULL;
    int rc = json_get_str(c->req->json, key, &s, &c->ei);
    if (rc == E_NOTFOUND || (!rc && !*s))
        return 0;
    if (rc)
        return rc;
    layers_drop(c, mt);
    if (!strcmp(mt, STORE_MT_TEMPLATE)) {
        layers_drop(c, STORE_MT_PROMPT);
        c->has_template = 1;
    }
    return layer_put(c, mt, s, strlen(s));
}

static int licenses(struct create *c)
{
    const json_t *l = json_object_get(c->req->json, "license");
    int rc = 0;
    if (json_is_string(l) && *json_string_value(l)) {
        layers_drop(c, STORE_MT_LICENSE);
        return layer_put(c, STORE_MT_LICENSE, json_string_value(l), json_string_length(l));
    }
    if (!json_is_array(l) || !json_array_size(l))
        return 0;
    layers_drop(c, STORE_MT_LICENSE);
    for (size_t i = 0; !rc && i < json_array_size(l); i++) {
        const json_t *s = json_array_get(l, i);
        if (json_is_string(s))
            rc = layer_put(c, STORE_MT_LICENSE, json_string_value(s), json_string_length(s));
    }
    return rc;
}

/* The template module's hook, for a GGUF import without a TEMPLATE. */
static int derived_template(struct create *c)
{
    char *tmpl = NULL, status[160];
    json_t *p = NULL;
    const char *tname = NULL;
    int rc;
    if (!template_hook || c->has_template || !*c->gguf || json_object_get(c->req->json, "template"))
        return 0;
    if (template_hook(c->gguf, &tmpl, &p, &tname) != 0 || !tmpl) {
        json_decref(p);
        mem_free(tmpl);
        return 0;
    }
    if (tname) {
        snprintf(status, sizeof(status), "using autodetected template %s", tname);
        rc = api_stream_status(c->resp, status);
    } else {
        rc = 0;
    }
    if (!rc)
        rc = layer_put(c, STORE_MT_TEMPLATE, tmpl, strlen(tmpl));
    mem_free(tmpl);
    if (!rc && p && !c->params)
        c->params = json_incref(p);
    else if (!rc && p)
        for (const char *k = json_object_iter_key(json_object_iter(p)); k;
             k = json_object_iter_key(json_object_iter_next(p, json_object_iter_at(p, k))))
            if (!json_object_get(c->params, k))
                json_object_set(c->params, k, json_object_get(p, k));
    json_decref(p);
    return rc;
}

static int write_layers(struct create *c)
{
    int rc;
    for (size_t i = 0; i < c->m.n_layers; i++) {
        char status[128];
        if (!strcmp(c->m.layers[i].digest, c->q_digest))
            continue;
        snprintf(status, sizeof(status), "using existing layer %s", c->m.layers[i].digest);
        if ((rc = api_stream_status(c->resp, status)) != 0)
            return rc;
    }
    if ((rc = text_field(c, "template", STORE_MT_TEMPLATE)) != 0 ||
        (rc = derived_template(c)) != 0 || (rc = text_field(c, "system", STORE_MT_SYSTEM)) != 0 ||
        (rc = licenses(c)) != 0)
        return rc;
    if (c->params && json_object_size(c->params) &&
        (rc = layer_put_json(c, STORE_MT_PARAMS, c->params, 1)) != 0)
        return rc;
    if (c->messages && json_array_size(c->messages))
        rc = layer_put_json(c, STORE_MT_MESSAGES, c->messages, 0);
    return rc;
}

static int write_config(struct create *c)
{
    char *s = NULL, d[72];
    size_t n = 0;
    int rc;
    if ((rc = json_go_dumps(c->config, 0, &s, &n)) != 0)
        return rc;
    rc = store_blob_put(c->st, s, n, d);
    mem_free(s);
    if (rc)
        return rc;
    c->m.config.size = n;
    snprintf(c->m.config.digest, sizeof(c->m.config.digest), "%s", d);
    return (c->m.config.media_type = mem_strdup(STORE_MT_CONFIG)) ? 0 : E_NOMEM;
}

/* Digests of the manifest currently stored under the name (to prune after replacing it). */
static int old_digests(struct create *c, struct store_manifest *old)
{
    char *bytes = NULL;
    size_t n = 0;
    int rc = store_manifest_read(c->st, &c->nm, &bytes, &n);
    memset(old, 0, sizeof(*old));
    if (rc == 0 && store_manifest_parse(bytes, n, old, NULL) != 0)
        memset(old, 0, sizeof(*old));
    mem_free(bytes);
    return 0;
}

static void prune_old(struct create *c, const struct store_manifest *old)
{
    const char *d[CREATE_MAX_LAYERS + 1];
    size_t n = 0;
    if (c->req->env->noprune || !old->config.media_type)
        return;
    d[n++] = old->config.digest;
    for (size_t i = 0; i < old->n_layers && n < CREATE_MAX_LAYERS + 1; i++)
        d[n++] = old->layers[i].digest;
    if (store_prune_digests(c->st, d, n) != 0)
        return; /* best effort: a later start-up prune catches it */
}

static int write_manifest(struct create *c)
{
    struct store_manifest old;
    char *bytes = NULL;
    size_t n = 0;
    int rc;
    c->m.schema_version = 2;
    if (!(c->m.media_type = mem_strdup(STORE_MT_MANIFEST)))
        return E_NOMEM;
    if ((rc = api_stream_status(c->resp, "writing manifest")) != 0 ||
        (rc = store_manifest_serialize(&c->m, &bytes, &n)) != 0)
        return rc;
    (void)old_digests(c, &old);
    rc = store_manifest_write(c->st, &c->nm, bytes, n);
    mem_free(bytes);
    if (!rc)
        prune_old(c, &old);
    store_manifest_fini(&old);
    return rc;
}

static int h_create(struct api_req *req, struct api_resp *resp)
{
    struct create c;
    int rc;
    memset(&c, 0, sizeof(c));
    c.req = req;
    c.resp = resp;
    c.st = req->env->store;
    api_store_write_lock();
    if ((rc = check_request(&c)) != 0)
        goto out;
    memset(&c.ei, 0, sizeof(c.ei)); /* later errors bring their own detail */
    if (!c.config && !(c.config = json_object())) {
        rc = E_NOMEM;
        goto out;
    }
    if (*c.gguf && (rc = api_stream_status(resp, "parsing GGUF")) != 0)
        goto out;
    if ((rc = quantize_model(&c)) != 0 || (rc = write_layers(&c)) != 0 ||
        (rc = write_config(&c)) != 0 || (rc = write_manifest(&c)) != 0)
        goto out;
    rc = api_stream_status(resp, "success");
out:
    api_store_write_unlock();
    if (c.answered) /* the error is already out */
        rc = 0;
    if (rc && rc != E_CANCELLED && !resp->status && !resp->started && c.ei.msg[0])
        (void)api_resp_error(resp, api_status_for(rc), "%s", c.ei.msg);
    else if (rc && rc != E_CANCELLED && !resp->status && !resp->started)
        (void)api_resp_error(resp, api_status_for(rc), "creating %s: %s", c.name ? c.name : "model",
                             err_str(rc));
    else if (rc && resp->started && rc != E_CANCELLED)
        (void)api_resp_error(resp, 500, "%s", c.ei.msg[0] ? c.ei.msg : err_str(rc));
    store_manifest_fini(&c.m);
    json_decref(c.config);
    json_decref(c.params);
    json_decref(c.messages);
    return resp->status ? 0 : rc;
}
API_ROUTE(create, "POST", "/api/create", h_create, API_ROUTE_JSON)

/*
 * api_basic.c - the read-only routes: GET/HEAD / (liveness), /api/version, /api/status (cloud
 * features: always disabled), /api/tags (list), /api/ps (loaded models; filled by the scheduler
 * through api_env.ps).
 * Shapes: ollama-reference.md 1.0 and 1.8.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_model.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/version.h"
#include "store/store.h"

static int h_root(struct api_req *req, struct api_resp *resp)
{
    (void)req;
    return api_resp_text(resp, 200, "Ollama is running");
}
API_ROUTE(root, "GET HEAD", "/", h_root, API_ROUTE_NOBODY)

static int h_version(struct api_req *req, struct api_resp *resp)
{
    json_t *v = json_object(), *sb;
    if (!v)
        return E_NOMEM;
    json_object_set_new(v, "version", json_string(CORRAL_OLLAMA_VERSION));
    sb = req->env->sandbox_info ? json_deep_copy(req->env->sandbox_info) : json_object();
    if (sb && !json_object_get(sb, "mode"))
        json_object_set_new(sb, "mode",
                            json_string(req->env->sandbox_mode ? req->env->sandbox_mode : "off"));
    json_object_set_new(v, "sandbox", sb);
    json_object_set_new(v, "corral_version", json_string(CORRAL_VERSION));
    return api_resp_json(resp, 200, v);
}
API_ROUTE(version, "GET HEAD", "/api/version", h_version, API_ROUTE_NOBODY)

/* Ollama's cloud status (api.StatusResponse).  corral has no cloud features, so they are always
 * disabled; source says whether OLLAMA_NO_CLOUD asks for that too ("env") or not ("none"). */
static int h_status(struct api_req *req, struct api_resp *resp)
{
    static const char *const no[] = {"", "0", "f", "F", "false", "FALSE", "False"};
    const char *nc = getenv("OLLAMA_NO_CLOUD");
    int env = nc != NULL;
    json_t *v;
    (void)req;
    for (size_t i = 0; env && i < sizeof(no) / sizeof(no[0]); i++)
        env = strcmp(nc, no[i]) != 0;
    v = json_pack("{s:{s:b, s:s}}", "cloud", "disabled", 1, "source", env ? "env" : "none");
    return v ? api_resp_json(resp, 200, v) : E_NOMEM;
}
API_ROUTE(status, "GET", "/api/status", h_status, API_ROUTE_NOBODY)

struct tags_item {
    json_t *obj;
    time_t mtime;
    size_t idx; /* listing order (sorted paths), the tie-break */
};

struct tags_ctx {
    struct store *st;
    struct tags_item *items;
    size_t n, cap;
};

/* details plus context_length / embedding_length (omitempty) from the config, else the GGUF. */
static json_t *tags_details(const struct api_model *m, const struct api_gguf_facts *f)
{
    json_t *d = api_model_details(m, NULL);
    json_int_t ctx = json_integer_value(json_object_get(m->config, "context_length"));
    json_int_t emb = json_integer_value(json_object_get(m->config, "embedding_length"));
    if (!ctx && f)
        ctx = f->context_length;
    if (!emb && f)
        emb = f->embedding_length;
    if (d && ctx > 0)
        json_object_set_new(d, "context_length", json_integer(ctx));
    if (d && emb > 0)
        json_object_set_new(d, "embedding_length", json_integer(emb));
    return d;
}

/* One /api/tags entry (Go ListModelResponse field order, capabilities as /api/show derives
 * them). */
static json_t *tags_entry(struct store *st, const struct api_model *m)
{
    struct api_gguf_facts facts, *f = NULL;
    char path[PATH_MAX], *tmpl = NULL;
    json_t *o = json_object(), *caps;
    if (!o)
        return NULL;
    if (api_model_gguf_path(st, m, path, sizeof(path)) == 0 &&
        api_gguf_facts(path, &facts, NULL) == 0)
        f = &facts;
    if (api_model_text(st, m, STORE_MT_TEMPLATE, &tmpl) != 0)
        tmpl = NULL;
    json_object_set_new(o, "name", json_string(m->display));
    json_object_set_new(o, "model", json_string(m->display));
    json_object_set_new(o, "modified_at", json_time_new(m->mtime, m->mtime_ns, 0));
    json_object_set_new(o, "size", json_integer((json_int_t)api_model_size(m)));
    json_object_set_new(o, "digest", json_string(m->id));
    json_object_set_new(o, "details", tags_details(m, f));
    caps = api_model_capabilities(m, f, tmpl);
    if (json_array_size(caps))
        json_object_set_new(o, "capabilities", caps);
    else
        json_decref(caps);
    mem_free(tmpl);
    return o;
}

static int tags_cb(void *ctx, const struct store_list_entry *e)
{
    struct tags_ctx *tc = ctx;
    struct api_model m;
    char full[600];
    json_t *o;
    store_name_full(e->name, full, sizeof(full));
    if (api_model_open(tc->st, full, &m, NULL) != 0)
        return 0; /* unreadable manifests are skipped, as Ollama does */
    o = tags_entry(tc->st, &m);
    if (o && tc->n == tc->cap) {
        size_t cap = tc->cap ? tc->cap * 2 : 16;
        struct tags_item *p = mem_realloc_array(tc->items, cap, sizeof(*p));
        if (!p) {
            json_decref(o);
            o = NULL;
        } else {
            tc->items = p, tc->cap = cap;
        }
    }
    if (o)
        tc->items[tc->n] = (struct tags_item){o, m.mtime, tc->n}, tc->n++;
    api_model_fini(&m);
    return o ? 0 : E_NOMEM;
}

/* Ollama sorts stably on whole seconds of modified_at, newest first (sortListModelResponses). */
static int newest_first(const void *a, const void *b)
{
    const struct tags_item *x = a, *y = b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? 1 : -1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int h_tags(struct api_req *req, struct api_resp *resp)
{
    struct tags_ctx tc = {req->env->store, NULL, 0, 0};
    json_t *arr = json_array();
    int rc = arr ? store_manifest_list(req->env->store, tags_cb, &tc) : E_NOMEM;
    if (!rc) {
        if (tc.n)
            qsort(tc.items, tc.n, sizeof(*tc.items), newest_first);
        for (size_t i = 0; i < tc.n; i++)
            json_array_append(arr, tc.items[i].obj);
    }
    for (size_t i = 0; i < tc.n; i++)
        json_decref(tc.items[i].obj);
    mem_free(tc.items);
    if (rc) {
        json_decref(arr);
        return api_resp_error(resp, 500, "listing models: %s", err_str(rc));
    }
    return api_resp_json(resp, 200, json_pack("{s:o}", "models", arr));
}
API_ROUTE(tags, "GET HEAD", "/api/tags", h_tags, API_ROUTE_NOBODY)

static int h_ps(struct api_req *req, struct api_resp *resp)
{
    json_t *arr = json_array();
    int rc;
    if (!arr)
        return E_NOMEM;
    if (req->env->ps && (rc = req->env->ps(req->env->ps_ctx, arr)) != 0) {
        json_decref(arr);
        return api_resp_error(resp, 500, "%s", err_str(rc));
    }
    return api_resp_json(resp, 200, json_pack("{s:o}", "models", arr));
}
API_ROUTE(ps, "GET", "/api/ps", h_ps, API_ROUTE_NOBODY)

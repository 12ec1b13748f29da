/*
 * api_manage.c - model management routes: POST /api/show, POST /api/copy, DELETE /api/delete.
 * Response shapes and messages follow ollama-reference.md 1.8 (Go ShowResponse field order,
 * omitempty fields left out, model_info keys sorted as Go prints a map).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_model.h"
#include "api/api_modelfile.h"
#include "common/json.h"
#include "common/mem.h"
#include "store/store.h"

#define API_TEXT_MAX (32u << 20) /* generated modelfile / parameters text */

/* Answers a failed model lookup with Ollama's status and message. */
static int model_error(struct api_resp *resp, int rc, const struct err_info *ei)
{
    return api_resp_error(resp, rc == E_INVAL ? 400 : api_status_for(rc), "%s", ei->msg);
}

/* Go's %#v of a JSON-decoded value: strings quoted, numbers shortest, bools bare. */
static int go_sharp_v(const json_t *v, struct buf *out)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int rc = buf_putc(out, '"');
        for (; !rc && *s; s++) {
            if (*s == '"' || *s == '\\')
                rc = buf_printf(out, "\\%c", *s);
            else if (*s == '\n')
                rc = buf_puts(out, "\\n");
            else if (*s == '\t')
                rc = buf_puts(out, "\\t");
            else if ((unsigned char)*s < 0x20)
                rc = buf_printf(out, "\\x%02x", (unsigned char)*s);
            else
                rc = buf_putc(out, *s);
        }
        return rc ? rc : buf_putc(out, '"');
    }
    return json_go_encode(v, 0, out);
}

/* Answers status with "<what> %q is invalid" (Go's %q of name). */
static int invalid_name(struct api_resp *resp, const char *what, const char *name)
{
    struct buf q;
    json_t *v = json_string(name ? name : "");
    int rc;
    buf_init(&q, 4096);
    if (!v || go_sharp_v(v, &q) != 0)
        rc = api_resp_error(resp, 400, "%s \"%s\" is invalid", what, name ? name : "");
    else
        rc = api_resp_error(resp, 400, "%s %s is invalid", what, buf_str(&q));
    json_decref(v);
    buf_fini(&q);
    return rc;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted keys of an object (borrowed strings); caller frees the array. */
static const char **sorted_keys(const json_t *o, size_t *n)
{
    const char **keys = mem_calloc(json_object_size(o) + 1, sizeof(*keys)), *k;
    json_t *v;
    size_t i = 0;
    if (!keys)
        return NULL;
    json_object_foreach((json_t *)o, k, v) keys[i++] = k;
    qsort(keys, i, sizeof(*keys), cmp_keys);
    *n = i;
    return keys;
}

/* One "name<pad 30> value" line per parameter value (lists give one line per element). */
static int params_text(const json_t *params, struct buf *out)
{
    size_t n = 0;
    const char **keys = sorted_keys(params, &n);
    int rc = keys ? 0 : E_NOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const json_t *v = json_object_get(params, keys[i]);
        size_t m = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t j = 0; !rc && j < m; j++) {
            if (out->n && (rc = buf_putc(out, '\n')) != 0)
                break;
            if ((rc = buf_printf(out, "%-30s ", keys[i])) == 0)
                rc = go_sharp_v(json_is_array(v) ? json_array_get(v, j) : v, out);
        }
    }
    mem_free((void *)keys);
    return rc;
}

/* Go %v of a parameter value for a Modelfile line. */
static int param_value(const json_t *v, struct buf *out)
{
    if (json_is_string(v))
        return api_modelfile_quote(json_string_value(v), out);
    return json_go_encode(v, 0, out);
}

static int modelfile_params(const json_t *params, struct buf *out)
{
    size_t n = 0;
    const char **keys = params ? sorted_keys(params, &n) : NULL;
    int rc = (!params || keys) ? 0 : E_NOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const json_t *v = json_object_get(params, keys[i]);
        size_t m = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t j = 0; !rc && j < m; j++) {
            if ((rc = buf_printf(out, "PARAMETER %s ", keys[i])) == 0 &&
                (rc = param_value(json_is_array(v) ? json_array_get(v, j) : v, out)) == 0)
                rc = buf_putc(out, '\n');
        }
    }
    mem_free((void *)keys);
    return rc;
}

static int modelfile_cmd(struct buf *out, const char *name, const char *val)
{
    int rc;
    if (!val || !*val)
        return 0;
    if ((rc = buf_printf(out, "%s ", name)) != 0 || (rc = api_modelfile_quote(val, out)) != 0)
        return rc;
    return buf_putc(out, '\n');
}

/* Ollama's template.DefaultTemplate: what a model without a template layer reports. */
#define SHOW_DEFAULT_TEMPLATE "{{ .Prompt }}"

struct show_parts {
    char *template, *system;
    json_t *params, *messages;
    json_t *mf_params; /* params with the request's "options" over them (modelfile only), or NULL */
    struct buf license; /* license layers joined by '\n' */
    char gguf[PATH_MAX];
};

static int modelfile_text(const struct api_model *m, const struct show_parts *sp,
                          const json_t *licenses, struct buf *out)
{
    int rc = buf_printf(out,
                        "# Modelfile generated by \"corral show\"\n# To build a new Modelfile "
                        "based on this, replace FROM with:\n# FROM %s\n\n",
                        m->display);
    if (!rc && *sp->gguf)
        rc = buf_printf(out, "FROM %s\n", sp->gguf);
    if (!rc)
        rc = modelfile_cmd(out, "TEMPLATE", sp->template); /* quoted as parser.quote does */
    if (!rc)
        rc = modelfile_cmd(out, "SYSTEM", sp->system);
    if (!rc)
        rc = modelfile_params(sp->mf_params ? sp->mf_params : sp->params, out);
    for (size_t i = 0; !rc && i < json_array_size(licenses); i++)
        rc = modelfile_cmd(out, "LICENSE", json_string_value(json_array_get(licenses, i)));
    for (size_t i = 0; !rc && i < json_array_size(sp->messages); i++) {
        json_t *msg = json_array_get(sp->messages, i);
        const char *role = json_string_value(json_object_get(msg, "role"));
        const char *content = json_string_value(json_object_get(msg, "content"));
        if (role && content && (rc = buf_printf(out, "MESSAGE %s ", role)) == 0 &&
            (rc = api_modelfile_quote(content, out)) == 0)
            rc = buf_putc(out, '\n');
    }
    return rc;
}

static int load_licenses(struct store *st, const struct api_model *m, json_t *arr,
                         struct buf *joined)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < m->m.n_layers; i++) {
        char *t = NULL;
        size_t n = 0;
        if (strcmp(m->m.layers[i].media_type, STORE_MT_LICENSE) != 0)
            continue;
        if ((rc = api_model_read_layer(st, &m->m.layers[i], &t, &n)) != 0)
            break;
        json_array_append_new(arr, json_stringn_nocheck(t, n));
        if (joined->n)
            rc = buf_putc(joined, '\n');
        if (!rc)
            rc = buf_append(joined, t, n);
        mem_free(t);
    }
    return rc;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

static int show_build(struct store *st, const struct api_model *m, int verbose,
                      struct show_parts *sp, json_t *o)
{
    const struct store_layer *ml = api_model_layer(m, STORE_MT_MODEL);
    struct api_gguf_facts facts;
    json_t *lic = json_array(), *info = NULL;
    struct buf text;
    int rc;
    memset(&facts, 0, sizeof(facts));
    buf_init(&text, API_TEXT_MAX);
    if (!lic)
        return E_NOMEM;
    if ((rc = load_licenses(st, m, lic, &sp->license)) != 0)
        goto out;
    if (ml && api_model_gguf_path(st, m, sp->gguf, sizeof(sp->gguf)) == 0) {
        if (api_gguf_facts(sp->gguf, &facts, NULL) != 0)
            memset(&facts, 0, sizeof(facts)); /* a model layer that is not GGUF: no facts */
        if (api_gguf_model_info(sp->gguf, verbose, &info, NULL) != 0)
            info = NULL;
    }
    set_str(o, "license", buf_str(&sp->license));
    if ((rc = modelfile_text(m, sp, lic, &text)) != 0)
        goto out;
    set_str(o, "modelfile", buf_str(&text));
    buf_reset(&text);
    if (sp->params && (rc = params_text(sp->params, &text)) != 0)
        goto out;
    set_str(o, "parameters", buf_str(&text));
    set_str(o, "template", sp->template);
    set_str(o, "system", sp->system);
    json_object_set_new(o, "details", api_model_details(m, ml ? ml->from : NULL));
    if (json_array_size(sp->messages))
        json_object_set(o, "messages", sp->messages);
    json_object_set_new(o, "model_info", info ? info : json_object());
    info = NULL;
    if (verbose && *sp->gguf && api_gguf_tensors(sp->gguf, &info, NULL) == 0) {
        json_object_set_new(o, "tensors", info);
        info = NULL;
    }
    json_object_set_new(
        o, "capabilities",
        api_model_capabilities(m, *facts.arch || *facts.file_type ? &facts : NULL, sp->template));
    json_object_set_new(o, "modified_at", json_time_new(m->mtime, m->mtime_ns, 0));
out:
    json_decref(info);
    json_decref(lic);
    buf_fini(&text);
    return rc;
}

/* ShowHandler names the model in its shortest display form ("x" -> "x:latest"). */
static int show_not_found(struct api_resp *resp, const char *name)
{
    struct store_name nm;
    char disp[600];
    if (store_name_parse(name, &nm, NULL) != 0)
        return api_resp_error(resp, 404, "model '%s' not found", name);
    store_name_display(&nm, disp, sizeof(disp));
    return api_resp_error(resp, 404, "model '%s' not found", disp);
}

/* ShowHandler's request overlays: "system" replaces the model's (answer and modelfile),
 * "options" are added to the modelfile's PARAMETER lines only (not to "parameters"). */
static int show_overrides(const json_t *body, struct show_parts *sp)
{
    const char *sys = json_string_value(json_object_get(body, "system"));
    const json_t *opts = json_object_get(body, "options");
    if (sys && *sys) {
        mem_free(sp->system);
        if (!(sp->system = mem_strdup(sys)))
            return E_NOMEM;
    }
    if (!json_is_object(opts) || !json_object_size(opts))
        return 0;
    if (!(sp->mf_params = sp->params ? json_deep_copy(sp->params) : json_object()) ||
        json_object_update(sp->mf_params, (json_t *)opts) != 0)
        return E_NOMEM;
    return 0;
}

static int h_show(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    struct api_model m;
    struct show_parts sp;
    const char *name = NULL;
    int verbose = 0, rc;
    json_t *o;
    const char *sys = NULL;
    json_t *opts = NULL;
    if ((rc = api_req_model_name(req->json, &name, &ei)) != 0 ||
        ((rc = json_get_bool(req->json, "verbose", &verbose, &ei)) != 0 && rc != E_NOTFOUND) ||
        (rc = json_get_str(req->json, "system", &sys, &ei)) == E_INVAL ||
        (rc = json_get_obj(req->json, "options", &opts, &ei)) == E_INVAL)
        return api_resp_error(resp, 400, "%s", ei.msg);
    if ((rc = api_model_open(req->env->store, name, &m, &ei)) == E_NOTFOUND)
        return show_not_found(resp, name);
    if (rc)
        return model_error(resp, rc, &ei);
    memset(&sp, 0, sizeof(sp));
    buf_init(&sp.license, API_TEXT_MAX);
    if (!(o = json_object())) {
        rc = E_NOMEM;
        goto out;
    }
    if ((rc = api_model_text(req->env->store, &m, STORE_MT_TEMPLATE, &sp.template)) != 0 ||
        (!sp.template && !(sp.template = mem_strdup(SHOW_DEFAULT_TEMPLATE)) && (rc = E_NOMEM)) ||
        (rc = api_model_text(req->env->store, &m, STORE_MT_SYSTEM, &sp.system)) != 0 ||
        (rc = api_model_json(req->env->store, &m, STORE_MT_PARAMS, &sp.params)) != 0 ||
        (rc = api_model_json(req->env->store, &m, STORE_MT_MESSAGES, &sp.messages)) != 0 ||
        (rc = show_overrides(req->json, &sp)) != 0 ||
        (rc = show_build(req->env->store, &m, verbose, &sp, o)) != 0) {
        rc = api_resp_error(resp, 500, "reading model %s: %s", name, err_str(rc));
        goto out;
    }
    rc = api_resp_json(resp, 200, o);
    o = NULL;
out:
    json_decref(o);
    mem_free(sp.template);
    mem_free(sp.system);
    json_decref(sp.params);
    json_decref(sp.mf_params);
    json_decref(sp.messages);
    buf_fini(&sp.license);
    api_model_fini(&m);
    return rc;
}
API_ROUTE(show, "POST", "/api/show", h_show, API_ROUTE_JSON)

static int h_copy(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    struct store_name src, dst;
    const char *s = NULL, *d = NULL;
    char *bytes = NULL;
    size_t n = 0;
    int rc;
    if ((rc = json_get_str(req->json, "source", &s, &ei)) == E_INVAL ||
        (rc = json_get_str(req->json, "destination", &d, &ei)) == E_INVAL)
        return api_resp_error(resp, 400, "%s", ei.msg);
    /* CopyHandler's words: source "x" is invalid / destination "x" is invalid */
    if (!s || store_name_parse(s, &src, NULL) != 0)
        return invalid_name(resp, "source", s);
    if (!d || store_name_parse(d, &dst, NULL) != 0)
        return invalid_name(resp, "destination", d);
    api_store_write_lock();
    rc = store_manifest_read(req->env->store, &src, &bytes, &n);
    if (!rc)
        rc = store_manifest_write(req->env->store, &dst, bytes, n);
    api_store_write_unlock();
    mem_free(bytes);
    if (rc == E_NOTFOUND)
        return api_resp_error(resp, 404, "model \"%s\" not found", s);
    if (rc)
        return api_resp_error(resp, 500, "copying %s to %s: %s", s, d, err_str(rc));
    return api_resp_ok(resp);
}
API_ROUTE(copy, "POST", "/api/copy", h_copy, API_ROUTE_JSON)

/* Removes blobs of m no longer referenced by any manifest (unless OLLAMA_NOPRUNE). */
static int prune_model_blobs(struct api_env *env, const struct api_model *m)
{
    const char **d;
    size_t n = 0;
    int rc;
    if (env->noprune)
        return 0;
    if (!(d = mem_calloc(m->m.n_layers + 1, sizeof(*d))))
        return E_NOMEM;
    d[n++] = m->m.config.digest;
    for (size_t i = 0; i < m->m.n_layers; i++)
        d[n++] = m->m.layers[i].digest;
    rc = store_prune_digests(env->store, d, n);
    mem_free((void *)d);
    return rc;
}

static int h_delete(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    struct api_model m;
    const char *name = NULL;
    int rc;
    if ((rc = api_req_model_name(req->json, &name, &ei)) != 0)
        return api_resp_error(resp, 400, "%s", ei.msg);
    api_store_write_lock();
    if ((rc = api_model_open(req->env->store, name, &m, &ei)) != 0) {
        api_store_write_unlock();
        if (rc == E_INVAL) /* DeleteHandler: model.ErrUnqualifiedName */
            return invalid_name(resp, "name", name);
        return model_error(resp, rc, &ei);
    }
    rc = store_manifest_delete(req->env->store, &m.name);
    if (!rc && prune_model_blobs(req->env, &m) != 0)
        rc = 0; /* the model is gone; a later start-up prune collects what is left */
    api_store_write_unlock();
    api_model_fini(&m);
    if (rc == E_NOTFOUND)
        return api_resp_error(resp, 404, "model '%s' not found", name);
    if (rc)
        return api_resp_error(resp, 500, "deleting %s: %s", name, err_str(rc));
    return api_resp_ok(resp);
}
API_ROUTE(delete, "DELETE", "/api/delete", h_delete, API_ROUTE_JSON)

/*
 * api_model.c - loading a stored model's manifest, config and layers for the API (see
 * api_model.h; ollama-reference.md 4.2-4.4).
 */
#include "api/api_model.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "common/mem.h"

static pthread_mutex_t store_write_mu = PTHREAD_MUTEX_INITIALIZER; /* see api_store_write_lock */

void api_store_write_lock(void)
{
    pthread_mutex_lock(&store_write_mu);
}

void api_store_write_unlock(void)
{
    pthread_mutex_unlock(&store_write_mu);
}

static void load_mtime(struct store *st, struct api_model *m)
{
    char path[PATH_MAX];
    struct stat sb;
    m->mtime = time(NULL);
    m->mtime_ns = 0;
    if (store_manifest_path(st, &m->name, path, sizeof(path)) == 0 && stat(path, &sb) == 0) {
        m->mtime = sb.st_mtim.tv_sec;
        m->mtime_ns = sb.st_mtim.tv_nsec;
    }
}

static void load_config(struct store *st, struct api_model *m)
{
    char path[PATH_MAX], *data = NULL;
    size_t n = 0;
    json_t *v = NULL;
    if (store_blob_path(st, m->m.config.digest, path, sizeof(path)) == 0 &&
        fs_read_all(path, API_CONFIG_MAX_BYTES, &data, &n) == 0)
        v = json_loadb(data, n, 0, NULL);
    mem_free(data);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    m->config = v ? v : json_object();
}

static int find_spelling(void *ctx, const struct store_list_entry *e)
{
    struct store_name *nm = ctx;
    if (!store_name_eq(nm, e->name))
        return 0;
    *nm = *e->name;
    return 1;
}

/* Replaces nm by the on-disk spelling of the same name (Ollama matches names
 * case-insensitively and then uses the stored spelling). */
static void canonical_name(struct store *st, struct store_name *nm)
{
    char path[PATH_MAX];
    struct stat sb;
    if (store_manifest_path(st, nm, path, sizeof(path)) == 0 && stat(path, &sb) == 0)
        return;
    if (store_manifest_list(st, find_spelling, nm) < 0)
        return; /* listing failed: keep the requested spelling */
}

int api_model_open(struct store *st, const char *name, struct api_model *out, struct err_info *ei)
{
    struct api_model m;
    int rc;
    memset(&m, 0, sizeof(m));
    if (store_name_parse(name, &m.name, ei) != 0)
        return err_set(ei, E_INVAL, "invalid model name");
    canonical_name(st, &m.name);
    rc = store_manifest_read(st, &m.name, &m.manifest, &m.manifest_n);
    if (rc == E_NOTFOUND)
        return err_set(ei, E_NOTFOUND, "model '%s' not found", name);
    if (rc)
        return err_set(ei, rc, "reading manifest of %s: %s", name, err_str(rc));
    if ((rc = store_manifest_parse(m.manifest, m.manifest_n, &m.m, ei)) != 0) {
        mem_free(m.manifest);
        return rc;
    }
    store_manifest_id(m.manifest, m.manifest_n, m.id);
    store_name_display(&m.name, m.display, sizeof(m.display));
    load_mtime(st, &m);
    load_config(st, &m);
    *out = m;
    return 0;
}

void api_model_fini(struct api_model *m)
{
    if (!m)
        return;
    mem_free(m->manifest);
    m->manifest = NULL;
    store_manifest_fini(&m->m);
    json_decref(m->config);
    m->config = NULL;
}

const struct store_layer *api_model_layer(const struct api_model *m, const char *media_type)
{
    for (size_t i = 0; i < m->m.n_layers; i++)
        if (m->m.layers[i].media_type && !strcmp(m->m.layers[i].media_type, media_type))
            return &m->m.layers[i];
    return NULL;
}

int api_model_read_layer(struct store *st, const struct store_layer *l, char **out, size_t *n)
{
    char path[PATH_MAX];
    int rc;
    if ((rc = store_blob_path(st, l->digest, path, sizeof(path))) != 0)
        return rc;
    return fs_read_all(path, API_LAYER_MAX_BYTES, out, n);
}

int api_model_text(struct store *st, const struct api_model *m, const char *media_type, char **out)
{
    const struct store_layer *l = api_model_layer(m, media_type);
    size_t n = 0;
    if (!l && !strcmp(media_type, STORE_MT_TEMPLATE))
        l = api_model_layer(m, STORE_MT_PROMPT);
    *out = NULL;
    if (!l)
        return 0;
    return api_model_read_layer(st, l, out, &n);
}

int api_model_json(struct store *st, const struct api_model *m, const char *media_type,
                   json_t **out)
{
    char *text = NULL;
    int rc = api_model_text(st, m, media_type, &text);
    *out = NULL;
    if (rc || !text)
        return rc;
    *out = json_loads(text, 0, NULL);
    mem_free(text);
    return *out ? 0 : E_PARSE;
}

uint64_t api_model_size(const struct api_model *m)
{
    uint64_t n = m->m.config.size;
    for (size_t i = 0; i < m->m.n_layers; i++)
        n += m->m.layers[i].size;
    return n;
}

static const char *cfg_str(const struct api_model *m, const char *key)
{
    const char *s = json_string_value(json_object_get(m->config, key));
    return s ? s : "";
}

json_t *api_model_details(const struct api_model *m, const char *parent)
{
    json_t *fam = json_object_get(m->config, "model_families");
    json_t *d = json_object();
    if (!d)
        return NULL;
    json_object_set_new(d, "parent_model", json_string(parent ? parent : ""));
    json_object_set_new(d, "format", json_string(cfg_str(m, "model_format")));
    json_object_set_new(d, "family", json_string(cfg_str(m, "model_family")));
    json_object_set_new(d, "families", json_is_array(fam) ? json_deep_copy(fam) : json_null());
    json_object_set_new(d, "parameter_size", json_string(cfg_str(m, "model_type")));
    json_object_set_new(d, "quantization_level", json_string(cfg_str(m, "file_type")));
    return d;
}

static void cap_add(json_t *caps, const char *c)
{
    for (size_t i = 0; i < json_array_size(caps); i++)
        if (!strcmp(json_string_value(json_array_get(caps, i)), c))
            return;
    json_array_append_new(caps, json_string(c));
}

json_t *api_model_capabilities(const struct api_model *m, const struct api_gguf_facts *f,
                               const char *tmpl)
{
    const json_t *cfg = json_object_get(m->config, "capabilities");
    const char *fam = cfg_str(m, "model_family");
    json_t *caps = json_array();
    if (!caps)
        return NULL;
    for (size_t i = 0; i < json_array_size(cfg); i++)
        if (json_is_string(json_array_get(cfg, i)) && *json_string_value(json_array_get(cfg, i)))
            cap_add(caps, json_string_value(json_array_get(cfg, i)));
    cap_add(caps, f && f->embedding_only ? "embedding" : "completion");
    if ((f && f->vision) || api_model_layer(m, STORE_MT_PROJECTOR))
        cap_add(caps, "vision");
    if (f && f->audio)
        cap_add(caps, "audio");
    if (tmpl && strstr(tmpl, ".Tools"))
        cap_add(caps, "tools");
    if (tmpl && strstr(tmpl, ".Suffix"))
        cap_add(caps, "insert");
    if (tmpl && strstr(tmpl, ".Thinking"))
        cap_add(caps, "thinking");
    if (!strcmp(fam, "gptoss") || !strcmp(fam, "gpt-oss"))
        cap_add(caps, "thinking");
    return caps;
}

int api_model_gguf_path(const struct store *st, const struct api_model *m, char *out, size_t n)
{
    const struct store_layer *l = api_model_layer(m, STORE_MT_MODEL);
    if (!l)
        return E_NOTFOUND;
    return store_blob_path(st, l->digest, out, n);
}

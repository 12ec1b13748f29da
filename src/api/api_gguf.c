/*
 * api_gguf.c - GGUF metadata for the API: the facts stored in a model's config blob at create
 * time (architecture, parameter count, quantization, context length) and the flattened
 * model_info map of /api/show.  Reads metadata and tensor shapes only, through the hardened
 * engine reader (src/engine/gguf); tensor data is never touched here.
 */
#include "api/api_model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"


void api_human_number(uint64_t n, char *out, size_t len)
{
    double v;
    if (n >= 1000000000ull) {
        v = (double)n / 1e9;
        snprintf(out, len, v == floor(v) ? "%.0fB" : "%.1fB", v);
    } else if (n >= 1000000ull) {
        v = (double)n / 1e6;
        snprintf(out, len, v == floor(v) ? "%.0fM" : "%.2fM", v);
    } else if (n >= 1000ull) {
        snprintf(out, len, "%.0fK", (double)n / 1e3);
    } else {
        snprintf(out, len, "%" PRIu64, n);
    }
}

static void copy_str(struct gguf_str s, char *out, size_t n)
{
    size_t k = s.n < n - 1 ? (size_t)s.n : n - 1;
    memcpy(out, s.p, k);
    out[k] = '\0';
}

static uint64_t count_params(const struct gguf *g)
{
    uint64_t total = 0;
    for (uint64_t i = 0; g->tensors && i < g->n_tensors; i++) {
        uint64_t e = 1;
        for (uint32_t d = 0; d < g->tensors[i].n_dims && d < GGUF_MAX_DIMS; d++)
            e *= (uint64_t)g->tensors[i].ne[d];
        total += e;
    }
    return total;
}

/* Without general.file_type: the tensor type holding most elements of the matrices (Ollama
 * would print the zero value "F32"; this is right more often). */
static const char *dominant_type(const struct gguf *g)
{
    uint64_t elems[GGUF_T_COUNT] = {0}, best = 0;
    const char *name = "F32";
    for (uint64_t i = 0; g->tensors && i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->tensors[i];
        uint64_t e = 1;
        if (t->n_dims < 2 || (unsigned)t->type >= GGUF_T_COUNT)
            continue;
        for (uint32_t d = 0; d < t->n_dims && d < GGUF_MAX_DIMS; d++)
            e *= (uint64_t)t->ne[d];
        elems[t->type] += e;
    }
    for (unsigned k = 0; k < GGUF_T_COUNT; k++)
        if (elems[k] > best && gguf_type_name(k))
            best = elems[k], name = gguf_type_name(k);
    return name;
}

static int64_t arch_int(const struct gguf *g, const char *arch, const char *suffix)
{
    char key[160];
    int64_t v = 0;
    snprintf(key, sizeof(key), "%s.%s", arch, suffix);
    return gguf_get_i64(g, key, &v) == 0 ? v : 0;
}

static void fill_facts(const struct gguf *g, struct api_gguf_facts *f)
{
    struct gguf_str s;
    uint32_t ft;
    char key[160];
    if (gguf_get_str(g, "general.architecture", &s) == 0)
        copy_str(s, f->arch, sizeof(f->arch));
    if (gguf_get_str(g, "general.type", &s) == 0 && gguf_str_eq(s, "adapter"))
        f->adapter = 1;
    if (gguf_get_u32(g, "general.file_type", &ft) == 0)
        snprintf(f->file_type, sizeof(f->file_type), "%s", gguf_ftype_name(ft));
    else
        snprintf(f->file_type, sizeof(f->file_type), "%s", dominant_type(g));
    f->n_params = count_params(g);
    if (f->n_params)
        api_human_number(f->n_params, f->parameter_size, sizeof(f->parameter_size));
    else if (gguf_get_str(g, "general.size_label", &s) == 0)
        copy_str(s, f->parameter_size, sizeof(f->parameter_size));
    f->context_length = arch_int(g, f->arch, "context_length");
    f->embedding_length = arch_int(g, f->arch, "embedding_length");
    snprintf(key, sizeof(key), "%s.pooling_type", f->arch);
    f->embedding_only = *f->arch && gguf_find(g, key) != NULL;
    snprintf(key, sizeof(key), "%s.vision.block_count", f->arch);
    f->vision = *f->arch && gguf_find(g, key) != NULL;
    snprintf(key, sizeof(key), "%s.audio.block_count", f->arch);
    f->audio = *f->arch && gguf_find(g, key) != NULL;
}

/* Opens with tensor infos (for the parameter count), falling back to metadata only. */
static int open_meta(const char *path, struct gguf **g, struct err_info *ei)
{
    if (gguf_open_file(path, 1, g, NULL) == 0)
        return 0;
    return gguf_open_file(path, 0, g, ei);
}

int api_gguf_facts(const char *path, struct api_gguf_facts *f, struct err_info *ei)
{
    struct gguf *g = NULL;
    int rc;
    memset(f, 0, sizeof(*f));
    if ((rc = open_meta(path, &g, ei)) != 0)
        return rc;
    fill_facts(g, f);
    gguf_close(g);
    return 0;
}

/* One scalar value at p of type t as JSON (NULL for types that are not scalars). */
static json_t *scalar(enum gguf_vtype t, const uint8_t *p)
{
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f32;
        double f64;
    } u;
    switch (t) {
    case GGUF_VT_UINT8:
        memcpy(&u.u8, p, 1);
        return json_integer(u.u8);
    case GGUF_VT_INT8:
        memcpy(&u.i8, p, 1);
        return json_integer(u.i8);
    case GGUF_VT_UINT16:
        memcpy(&u.u16, p, 2);
        return json_integer(u.u16);
    case GGUF_VT_INT16:
        memcpy(&u.i16, p, 2);
        return json_integer(u.i16);
    case GGUF_VT_UINT32:
        memcpy(&u.u32, p, 4);
        return json_integer(u.u32);
    case GGUF_VT_INT32:
        memcpy(&u.i32, p, 4);
        return json_integer(u.i32);
    case GGUF_VT_UINT64:
        memcpy(&u.u64, p, 8);
        return json_integer((json_int_t)u.u64);
    case GGUF_VT_INT64:
        memcpy(&u.i64, p, 8);
        return json_integer(u.i64);
    case GGUF_VT_FLOAT32:
        memcpy(&u.f32, p, 4);
        return isfinite(u.f32) ? json_real((double)u.f32) : json_null();
    case GGUF_VT_FLOAT64:
        memcpy(&u.f64, p, 8);
        return isfinite(u.f64) ? json_real(u.f64) : json_null();
    case GGUF_VT_BOOL:
        return json_boolean(p[0] != 0);
    default:
        return NULL;
    }
}

static size_t scalar_size(enum gguf_vtype t)
{
    switch (t) {
    case GGUF_VT_UINT8:
    case GGUF_VT_INT8:
    case GGUF_VT_BOOL:
        return 1;
    case GGUF_VT_UINT16:
    case GGUF_VT_INT16:
        return 2;
    case GGUF_VT_UINT32:
    case GGUF_VT_INT32:
    case GGUF_VT_FLOAT32:
        return 4;
    case GGUF_VT_UINT64:
    case GGUF_VT_INT64:
    case GGUF_VT_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

/* Without verbose Ollama decodes with maxArraySize 0: a non-empty array keeps no values and
 * marshals as null, an empty one as [] (fs/ggml/gguf.go newArray + MarshalJSON). */
static json_t *array_value(const struct gguf_kv *kv, int verbose)
{
    json_t *a;
    size_t sz = scalar_size(kv->arr_type);
    if (!verbose && kv->arr_n > 0)
        return json_null();
    if (!(a = json_array()))
        return NULL;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        struct gguf_str s;
        json_t *e = NULL;
        if (kv->arr_type == GGUF_VT_STRING && gguf_arr_str(kv, i, &s) == 0)
            e = json_stringn_nocheck(s.p, (size_t)s.n);
        else if (sz && (i + 1) * sz <= kv->val_bytes)
            e = scalar(kv->arr_type, kv->val + i * sz);
        json_array_append_new(a, e ? e : json_null());
    }
    return a;
}

static json_t *kv_value(const struct gguf *g, const struct gguf_kv *kv, const char *key,
                        int verbose)
{
    struct gguf_str str;
    if (kv->type == GGUF_VT_ARRAY)
        return array_value(kv, verbose);
    if (kv->type == GGUF_VT_STRING)
        return gguf_get_str(g, key, &str) == 0 ? json_stringn_nocheck(str.p, (size_t)str.n)
                                               : json_null();
    return scalar(kv->type, kv->val);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The same object with keys inserted in sorted order (Go prints maps sorted). */
static json_t *sorted_copy(json_t *o)
{
    size_t n = json_object_size(o), i = 0;
    const char **keys = mem_calloc(n + 1, sizeof(*keys)), *k;
    json_t *v, *r = keys ? json_object() : NULL;
    if (!r) {
        mem_free((void *)keys);
        return NULL;
    }
    json_object_foreach(o, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_key);
    for (i = 0; i < n; i++)
        json_object_set(r, keys[i], json_object_get(o, keys[i]));
    mem_free((void *)keys);
    return r;
}

int api_gguf_model_info(const char *path, int verbose, json_t **out, struct err_info *ei)
{
    struct gguf *g = NULL;
    json_t *o;
    int rc;
    char key[512];
    if ((rc = open_meta(path, &g, ei)) != 0)
        return rc;
    if (!(o = json_object())) {
        gguf_close(g);
        return E_NOMEM;
    }
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const struct gguf_kv *kv = &g->kv[i];
        json_t *v;
        if (kv->key.n >= sizeof(key))
            continue;
        copy_str(kv->key, key, sizeof(key));
        if (!strcmp(key, "general.name") || !strcmp(key, "tokenizer.chat_template"))
            continue;
        if ((v = kv_value(g, kv, key, verbose)))
            json_object_set_new(o, key, v);
    }
    if (g->tensors)
        json_object_set_new(o, "general.parameter_count",
                            json_integer((json_int_t)count_params(g)));
    gguf_close(g);
    *out = sorted_copy(o);
    json_decref(o);
    return *out ? 0 : E_NOMEM;
}

int api_gguf_tensors(const char *path, json_t **out, struct err_info *ei)
{
    struct gguf *g = NULL;
    json_t *arr;
    int rc;
    if ((rc = gguf_open_file(path, 1, &g, ei)) != 0)
        return rc;
    if (!(arr = json_array())) {
        gguf_close(g);
        return E_NOMEM;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->tensors[i];
        const char *tn = gguf_type_name(t->type);
        json_t *shape = json_array();
        for (uint32_t d = 0; shape && d < t->n_dims && d < GGUF_MAX_DIMS; d++)
            json_array_append_new(shape, json_integer(t->ne[d]));
        json_array_append_new(arr,
                              json_pack("{s:s%,s:s,s:o*}", "name", t->name.p, (size_t)t->name.n,
                                        "type", tn ? tn : "unknown", "shape", shape));
    }
    gguf_close(g);
    *out = arr;
    return 0;
}

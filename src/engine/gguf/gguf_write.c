/*
 * gguf_write.c - the GGUF v3 writer (contract in gguf_write.h).
 *
 * Design: key/values are kept as raw little-endian value bytes (exactly what follows the type
 * field in the file, minus the array header), so copying from a reader is a byte copy and
 * serializing is a straight walk.  Tensor offsets are assigned at serialization time: sequential,
 * each padded to the alignment, as llama.cpp's gguf_write does.  One emitter (struct sink) writes
 * either into a memory buffer or a stdio stream, so both outputs are the same bytes by
 * construction.
 */
#include "engine/gguf/gguf_write.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/mem.h"

#define GGUF_W_DEFAULT_ALIGN 32u

struct w_kv {
    char *key;
    uint32_t type;
    uint32_t arr_type;
    uint64_t arr_n;
    uint8_t *val; /* raw value bytes (arrays: elements only) */
    uint64_t val_bytes;
};

struct w_tensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    const void *data;
    uint64_t nbytes;
    int owned;
    int deferred;
};

struct gguf_writer {
    struct w_kv *kv;
    uint64_t n_kv, cap_kv;
    struct w_tensor *t;
    uint64_t n_t, cap_t;
};

int gguf_w_new(struct gguf_writer **out)
{
    *out = mem_calloc(1, sizeof(**out));
    return *out ? 0 : E_NOMEM;
}

void gguf_w_free(struct gguf_writer *w)
{
    if (!w)
        return;
    for (uint64_t i = 0; i < w->n_kv; i++) {
        mem_free(w->kv[i].key);
        mem_free(w->kv[i].val);
    }
    for (uint64_t i = 0; i < w->n_t; i++) {
        mem_free(w->t[i].name);
        if (w->t[i].owned)
            mem_free((void *)w->t[i].data);
    }
    mem_free(w->kv);
    mem_free(w->t);
    mem_free(w);
}

/* ---- key/values ---------------------------------------------------------------------------- */

static uint32_t w_vsize(uint32_t t)
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

/* Checks that val/val_bytes is a well-formed run of n strings. */
static int check_strings(const uint8_t *p, uint64_t bytes, uint64_t n)
{
    uint64_t pos = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        if (bytes - pos < 8)
            return E_INVAL;
        memcpy(&len, p + pos, 8);
        pos += 8;
        if (len > bytes - pos)
            return E_INVAL;
        pos += len;
    }
    return pos == bytes ? 0 : E_INVAL;
}

static int check_value(const struct gguf_kv *kv)
{
    if (kv->type == GGUF_VT_ARRAY) {
        if (kv->arr_type == GGUF_VT_STRING)
            return check_strings(kv->val, kv->val_bytes, kv->arr_n);
        uint32_t sz = w_vsize(kv->arr_type);
        if (!sz || kv->arr_n > GGUF_MAX_ARRAY || kv->val_bytes != kv->arr_n * sz)
            return E_INVAL;
        return 0;
    }
    if (kv->type == GGUF_VT_STRING)
        return check_strings(kv->val, kv->val_bytes, 1);
    uint32_t sz = w_vsize(kv->type);
    return sz && kv->val_bytes == sz ? 0 : E_INVAL;
}

static int64_t find_kv(const struct gguf_writer *w, const char *key, size_t n)
{
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strlen(w->kv[i].key) == n && memcmp(w->kv[i].key, key, n) == 0)
            return (int64_t)i;
    return -1;
}

static void remove_at(struct gguf_writer *w, uint64_t i)
{
    mem_free(w->kv[i].key);
    mem_free(w->kv[i].val);
    memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof(*w->kv));
    w->n_kv--;
}

static int set_kv_n(struct gguf_writer *w, const char *key, size_t key_n, const struct gguf_kv *kv)
{
    if (key_n == 0 || key_n > GGUF_MAX_STRING || memchr(key, 0, key_n) || check_value(kv))
        return E_INVAL;
    uint8_t *val = kv->val_bytes ? mem_dup(kv->val, (size_t)kv->val_bytes) : mem_calloc(1, 1);
    if (!val)
        return E_NOMEM;
    int64_t i = find_kv(w, key, key_n);
    struct w_kv *e;
    char *k = mem_strndup(key, key_n);
    if (!k)
        goto nomem;
    if (i >= 0)
        remove_at(w, (uint64_t)i); /* llama.cpp: a set removes the key, then appends it */
    if (w->n_kv == w->cap_kv) {
        uint64_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        struct w_kv *nk = mem_realloc_array(w->kv, (size_t)cap, sizeof(*nk));
        if (!nk) {
            mem_free(k);
            goto nomem;
        }
        w->kv = nk;
        w->cap_kv = cap;
    }
    e = &w->kv[w->n_kv++];
    e->key = k;
    e->type = kv->type;
    e->arr_type = kv->type == GGUF_VT_ARRAY ? kv->arr_type : 0;
    e->arr_n = kv->type == GGUF_VT_ARRAY ? kv->arr_n : 0;
    e->val = val;
    e->val_bytes = kv->val_bytes;
    return 0;
nomem:
    mem_free(val);
    return E_NOMEM;
}

int gguf_w_set_kv(struct gguf_writer *w, const struct gguf_kv *kv)
{
    if (!kv->key.p || kv->key.n == 0)
        return E_INVAL;
    return set_kv_n(w, kv->key.p, (size_t)kv->key.n, kv);
}

int gguf_w_copy_kvs(struct gguf_writer *w, const struct gguf *g)
{
    for (uint64_t i = 0; i < g->n_kv; i++) {
        int rc = gguf_w_set_kv(w, &g->kv[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int set_scalar(struct gguf_writer *w, const char *key, uint32_t type, const void *v)
{
    struct gguf_kv kv = {0};
    kv.type = (enum gguf_vtype)type;
    kv.val = v;
    kv.val_bytes = w_vsize(type);
    return set_kv_n(w, key, strlen(key), &kv);
}

int gguf_w_set_u32(struct gguf_writer *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, GGUF_VT_UINT32, &v);
}

int gguf_w_set_i32(struct gguf_writer *w, const char *key, int32_t v)
{
    return set_scalar(w, key, GGUF_VT_INT32, &v);
}

int gguf_w_set_u64(struct gguf_writer *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, GGUF_VT_UINT64, &v);
}

int gguf_w_set_f32(struct gguf_writer *w, const char *key, float v)
{
    return set_scalar(w, key, GGUF_VT_FLOAT32, &v);
}

int gguf_w_set_bool(struct gguf_writer *w, const char *key, int v)
{
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, GGUF_VT_BOOL, &b);
}

/* Encodes n strings as length-prefixed runs into a new buffer. */
static int encode_strings(const char *const *s, uint64_t n, uint8_t **out, uint64_t *bytes)
{
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t len = strlen(s[i]);
        if (len > GGUF_MAX_STRING)
            return E_INVAL;
        total += 8 + len;
    }
    uint8_t *p = mem_alloc(total ? (size_t)total : 1), *q = p;
    if (!p)
        return E_NOMEM;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = strlen(s[i]);
        memcpy(q, &len, 8);
        memcpy(q + 8, s[i], (size_t)len);
        q += 8 + len;
    }
    *out = p;
    *bytes = total;
    return 0;
}

int gguf_w_set_str(struct gguf_writer *w, const char *key, const char *v)
{
    struct gguf_kv kv = {0};
    uint8_t *enc;
    int rc = encode_strings(&v, 1, &enc, &kv.val_bytes);
    if (rc)
        return rc;
    kv.type = GGUF_VT_STRING;
    kv.val = enc;
    rc = set_kv_n(w, key, strlen(key), &kv);
    mem_free(enc);
    return rc;
}

int gguf_w_set_arr(struct gguf_writer *w, const char *key, enum gguf_vtype et, const void *data,
                   uint64_t n)
{
    struct gguf_kv kv = {0};
    uint32_t sz = w_vsize(et);
    if (!sz || n > GGUF_MAX_ARRAY)
        return E_INVAL;
    kv.type = GGUF_VT_ARRAY;
    kv.arr_type = et;
    kv.arr_n = n;
    kv.val = data;
    kv.val_bytes = n * sz;
    return set_kv_n(w, key, strlen(key), &kv);
}

int gguf_w_set_arr_str(struct gguf_writer *w, const char *key, const char *const *s, uint64_t n)
{
    struct gguf_kv kv = {0};
    uint8_t *enc;
    int rc;
    if (n > GGUF_MAX_ARRAY)
        return E_INVAL;
    if ((rc = encode_strings(s, n, &enc, &kv.val_bytes)))
        return rc;
    kv.type = GGUF_VT_ARRAY;
    kv.arr_type = GGUF_VT_STRING;
    kv.arr_n = n;
    kv.val = enc;
    rc = set_kv_n(w, key, strlen(key), &kv);
    mem_free(enc);
    return rc;
}

int gguf_w_remove(struct gguf_writer *w, const char *key)
{
    int64_t i = find_kv(w, key, strlen(key));
    if (i < 0)
        return E_NOTFOUND;
    remove_at(w, (uint64_t)i);
    return 0;
}

/* ---- tensors ------------------------------------------------------------------------------ */

/* Byte size of a tensor, 0 when the shape or type is invalid. */
static uint64_t tensor_bytes(uint32_t type, uint32_t n_dims, const int64_t *ne)
{
    uint32_t blk = gguf_type_block_elems(type), bb = gguf_type_block_bytes(type);
    if (!blk || n_dims < 1 || n_dims > GGUF_MAX_DIMS || ne[0] < 1 || ne[0] % blk)
        return 0;
    if ((uint64_t)ne[0] / blk > (UINT64_MAX >> 2) / bb)
        return 0;
    uint64_t bytes = (uint64_t)ne[0] / blk * bb;
    for (uint32_t d = 1; d < n_dims; d++) {
        if (ne[d] < 1 || (uint64_t)ne[d] > (UINT64_MAX >> 2) / bytes)
            return 0;
        bytes *= (uint64_t)ne[d];
    }
    return bytes;
}

static int add_tensor(struct gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                      const int64_t *ne, const void *data, uint64_t nbytes, int flags)
{
    size_t len = strlen(name);
    int deferred = (flags & GGUF_W_DEFER) != 0;
    if (len >= GGUF_MAX_NAME || tensor_bytes(type, n_dims, ne) != nbytes ||
        (!data && nbytes && !deferred) || (data && deferred))
        return E_INVAL;
    for (uint64_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return E_EXISTS;
    if (w->n_t >= GGUF_MAX_TENSORS)
        return E_RANGE;
    if (w->n_t == w->cap_t) {
        uint64_t cap = w->cap_t ? 2 * w->cap_t : 64;
        struct w_tensor *nt = mem_realloc_array(w->t, (size_t)cap, sizeof(*nt));
        if (!nt)
            return E_NOMEM;
        w->t = nt;
        w->cap_t = cap;
    }
    struct w_tensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof(*t));
    if (!(t->name = mem_strdup(name)))
        return E_NOMEM;
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->data = data;
    t->nbytes = nbytes;
    t->owned = (flags & GGUF_W_OWN) != 0;
    t->deferred = deferred;
    w->n_t++;
    return 0;
}

int gguf_w_add_tensor(struct gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                      const int64_t *ne, const void *data, uint64_t nbytes, int flags)
{
    int own = (flags & GGUF_W_OWN) != 0;
    int rc =
        add_tensor(w, name, type, n_dims, ne, data, nbytes, flags & (GGUF_W_OWN | GGUF_W_DEFER));
    if (rc && own)
        mem_free((void *)data);
    return rc;
}

/* ---- serialization ------------------------------------------------------------------------ */

static uint32_t w_alignment(const struct gguf_writer *w)
{
    int64_t i = find_kv(w, "general.alignment", strlen("general.alignment"));
    uint32_t a;
    if (i < 0 || w->kv[i].type != GGUF_VT_UINT32)
        return GGUF_W_DEFAULT_ALIGN;
    memcpy(&a, w->kv[i].val, 4);
    return a && !(a & (a - 1)) ? a : GGUF_W_DEFAULT_ALIGN;
}

static uint64_t pad_to(uint64_t x, uint32_t a)
{
    return (x + a - 1) / a * a;
}

struct sink {
    uint8_t *mem; /* memory target, or NULL */
    FILE *f;      /* stream target, or NULL */
    uint64_t pos;
    int err;
    gguf_w_fill_fn fill; /* producer of deferred tensor data */
    void *fill_ctx;
};

static void emit(struct sink *s, const void *p, uint64_t n)
{
    if (s->err || n == 0)
        return;
    if (s->mem)
        memcpy(s->mem + s->pos, p, (size_t)n);
    else if (s->f && fwrite(p, 1, (size_t)n, s->f) != n)
        s->err = E_IO;
    s->pos += n;
}

static void emit_u32(struct sink *s, uint32_t v)
{
    emit(s, &v, 4);
}

static void emit_u64(struct sink *s, uint64_t v)
{
    emit(s, &v, 8);
}

static void emit_zeros(struct sink *s, uint64_t n)
{
    static const uint8_t zeros[64];
    while (n > 0) {
        uint64_t k = n < sizeof(zeros) ? n : sizeof(zeros);
        emit(s, zeros, k);
        n -= k;
    }
}

static void emit_str(struct sink *s, const char *p)
{
    uint64_t n = strlen(p);
    emit_u64(s, n);
    emit(s, p, n);
}

/* Emits the whole file; with a NULL target only counts bytes. */
static void serialize(const struct gguf_writer *w, struct sink *s)
{
    uint32_t align = w_alignment(w);
    emit(s, "GGUF", 4);
    emit_u32(s, 3);
    emit_u64(s, w->n_t);
    emit_u64(s, w->n_kv);
    for (uint64_t i = 0; i < w->n_kv; i++) {
        const struct w_kv *kv = &w->kv[i];
        emit_str(s, kv->key);
        emit_u32(s, kv->type);
        if (kv->type == GGUF_VT_ARRAY) {
            emit_u32(s, kv->arr_type);
            emit_u64(s, kv->arr_n);
        }
        emit(s, kv->val, kv->val_bytes);
    }
    uint64_t off = 0;
    for (uint64_t i = 0; i < w->n_t; i++) {
        const struct w_tensor *t = &w->t[i];
        emit_str(s, t->name);
        emit_u32(s, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            emit_u64(s, (uint64_t)t->ne[d]);
        emit_u32(s, t->type);
        emit_u64(s, off);
        off += pad_to(t->nbytes, align);
    }
    emit_zeros(s, pad_to(s->pos, align) - s->pos);
    for (uint64_t i = 0; i < w->n_t && !s->err; i++) {
        const struct w_tensor *t = &w->t[i];
        const void *data = t->data;
        if (t->deferred) {
            if (!s->mem && !s->f) {
                s->pos += t->nbytes; /* only counting */
                emit_zeros(s, pad_to(t->nbytes, align) - t->nbytes);
                continue;
            }
            if (!s->fill) {
                s->err = E_INVAL;
                return;
            }
            int rc = s->fill(s->fill_ctx, i, &data);
            if (rc) {
                s->err = rc;
                return;
            }
        }
        emit(s, data, t->nbytes);
        emit_zeros(s, pad_to(t->nbytes, align) - t->nbytes);
    }
}

static int any_deferred(const struct gguf_writer *w)
{
    for (uint64_t i = 0; i < w->n_t; i++)
        if (w->t[i].deferred)
            return 1;
    return 0;
}

uint64_t gguf_w_size(const struct gguf_writer *w)
{
    struct sink s = {0};
    serialize(w, &s);
    return s.pos;
}

int gguf_w_to_mem(const struct gguf_writer *w, uint8_t **out, uint64_t *n)
{
    uint64_t size = gguf_w_size(w);
    struct sink s = {0};
    if (size > SIZE_MAX / 2)
        return E_RANGE;
    if (any_deferred(w))
        return E_INVAL;
    if (!(s.mem = mem_alloc((size_t)size)))
        return E_NOMEM;
    serialize(w, &s);
    *out = s.mem;
    *n = size;
    return 0;
}

int gguf_w_write_file(const struct gguf_writer *w, const char *path, struct err_info *ei)
{
    if (any_deferred(w))
        return err_set(ei, E_INVAL, "gguf: deferred tensors need gguf_w_write_file_fill");
    return gguf_w_write_file_fill(w, path, NULL, NULL, ei);
}

int gguf_w_write_file_fill(const struct gguf_writer *w, const char *path, gguf_w_fill_fn fill,
                           void *ctx, struct err_info *ei)
{
    char tmp[4096];
    struct sink s = {0};
    int rc = 0;
    s.fill = fill;
    s.fill_ctx = ctx;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return err_set(ei, E_INVAL, "gguf: output path too long");
    if (!(s.f = fopen(tmp, "wbx")))
        return err_set(ei, E_IO, "gguf: cannot create %s: %s", tmp, strerror(errno));
    serialize(w, &s);
    if (s.err && s.err != E_IO)
        rc = s.err; /* from fill: its detail is already in ei */
    else if (s.err || fflush(s.f) != 0 || fsync(fileno(s.f)) != 0)
        rc = err_set(ei, E_IO, "gguf: writing %s failed: %s", tmp, strerror(errno));
    if (fclose(s.f) != 0 && !rc)
        rc = err_set(ei, E_IO, "gguf: closing %s failed: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = err_set(ei, E_IO, "gguf: cannot rename to %s: %s", path, strerror(errno));
    if (rc) {
        unlink(tmp);
        return rc;
    }
    fs_sync_parent(path);
    return 0;
}

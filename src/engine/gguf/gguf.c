/*
 * gguf.c - the hardened GGUF v2/v3 reader (see gguf.h for the contract).
 *
 * Design: a bounds-checked cursor walks the range once.  Every length, count, offset and
 * dimension read from the file is compared with the bytes that remain (and the caps of gguf.h)
 * before it is used, with overflow-safe arithmetic, so a malformed or hostile file yields an
 * error that names the key or tensor and its file offset, never an out-of-range read.  Keys and
 * tensor names are indexed in open-addressing hash tables (duplicate detection at open, O(1)
 * lookups afterwards); string arrays get an offset table so gguf_arr_str is O(1).
 *
 * Sections: type facts; cursor; key/values; tensor infos; indexes; open/close; getters.
 * Spec: ../shared/docs/inference-reference.md D.1 (layout) and D.2 (block sizes).
 */
#include "engine/gguf/gguf.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian values in place; big-endian hosts are not supported"
#endif

#define GGUF_MAGIC         0x46554747u /* "GGUF" read as a little-endian u32 */
#define GGUF_DEFAULT_ALIGN 32u
#define GGUF_MAX_ALIGN     (1u << 20)
#define GGUF_KEY_ALIGNMENT "general.alignment"

/* ---- type facts ------------------------------------------------------------------------- */

struct type_fact {
    const char *name;
    uint32_t blk; /* elements per block; 0 = unknown/retired */
    uint32_t bytes;
};

static const struct type_fact type_facts[] = {
    [GGUF_T_F32] = {"F32", 1, 4},
    [GGUF_T_F16] = {"F16", 1, 2},
    [GGUF_T_Q4_0] = {"Q4_0", 32, 18},
    [GGUF_T_Q4_1] = {"Q4_1", 32, 20},
    [GGUF_T_Q5_0] = {"Q5_0", 32, 22},
    [GGUF_T_Q5_1] = {"Q5_1", 32, 24},
    [GGUF_T_Q8_0] = {"Q8_0", 32, 34},
    [GGUF_T_Q8_1] = {"Q8_1", 32, 36},
    [GGUF_T_Q2_K] = {"Q2_K", 256, 84},
    [GGUF_T_Q3_K] = {"Q3_K", 256, 110},
    [GGUF_T_Q4_K] = {"Q4_K", 256, 144},
    [GGUF_T_Q5_K] = {"Q5_K", 256, 176},
    [GGUF_T_Q6_K] = {"Q6_K", 256, 210},
    [GGUF_T_Q8_K] = {"Q8_K", 256, 292},
    [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},
    [18] = {"IQ3_XXS", 256, 98},
    [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},
    [21] = {"IQ3_S", 256, 110},
    [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136},
    [24] = {"I8", 1, 1},
    [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},
    [27] = {"I64", 1, 8},
    [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},
    [GGUF_T_BF16] = {"BF16", 1, 2},
    [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},
    [39] = {"MXFP4", 32, 17},
};
#define N_TYPE_FACTS (sizeof(type_facts) / sizeof(type_facts[0]))

uint32_t gguf_type_block_elems(uint32_t type)
{
    return type < N_TYPE_FACTS ? type_facts[type].blk : 0;
}

uint32_t gguf_type_block_bytes(uint32_t type)
{
    return type < N_TYPE_FACTS && type_facts[type].blk ? type_facts[type].bytes : 0;
}

const char *gguf_type_name(uint32_t type)
{
    return type < N_TYPE_FACTS && type_facts[type].blk ? type_facts[type].name : NULL;
}

const char *gguf_ftype_name(uint32_t ftype)
{
    static const char *const names[] = {
        [0] = "F32",      [1] = "F16",      [2] = "Q4_0",       [3] = "Q4_1",    [7] = "Q8_0",
        [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",      [11] = "Q3_K_S", [12] = "Q3_K_M",
        [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M",    [16] = "Q5_K_S", [17] = "Q5_K_M",
        [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS",    [21] = "Q2_K_S", [22] = "IQ3_XS",
        [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL",    [26] = "IQ3_S",  [27] = "IQ3_M",
        [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS",    [31] = "IQ1_M",  [32] = "BF16",
        [36] = "TQ1_0",   [37] = "TQ2_0",   [38] = "MXFP4_MOE",
    };
    if (ftype < sizeof(names) / sizeof(names[0]) && names[ftype])
        return names[ftype];
    return "unknown";
}

int gguf_str_eq(struct gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.n == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

/* Bytes of one scalar of a fixed-size value type; 0 for STRING/ARRAY/unknown. */
static uint32_t vtype_size(uint32_t t)
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

/* ---- cursor --------------------------------------------------------------------------------- */

struct cur {
    const uint8_t *p;
    uint64_t n;   /* size of the range */
    uint64_t pos; /* next byte to read */
    struct err_info *ei;
};

static int cur_fail(struct cur *c, int code, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int cur_fail(struct cur *c, int code, uint64_t off, const char *fmt, ...)
{
    if (c->ei) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        err_set(c->ei, code, "gguf: %s (at offset %llu)", msg, (unsigned long long)off);
        c->ei->offset = off;
    }
    return code;
}

static uint64_t cur_left(const struct cur *c)
{
    return c->n - c->pos;
}

static int cur_read(struct cur *c, void *dst, uint64_t n, const char *what)
{
    if (cur_left(c) < n)
        return cur_fail(c, E_PARSE, c->pos, "truncated %s: need %llu bytes, %llu left", what,
                        (unsigned long long)n, (unsigned long long)cur_left(c));
    memcpy(dst, c->p + c->pos, n);
    c->pos += n;
    return 0;
}

static int cur_u32(struct cur *c, uint32_t *v, const char *what)
{
    return cur_read(c, v, 4, what);
}

static int cur_u64(struct cur *c, uint64_t *v, const char *what)
{
    return cur_read(c, v, 8, what);
}

/* Reads a gguf string (u64 length + bytes) of at most max bytes; s points into the range. */
static int cur_str(struct cur *c, struct gguf_str *s, uint64_t max, const char *what)
{
    uint64_t at = c->pos, n = 0;
    int rc = cur_u64(c, &n, what);
    if (rc)
        return rc;
    if (n > max)
        return cur_fail(c, E_RANGE, at, "%s length %llu exceeds the cap %llu", what,
                        (unsigned long long)n, (unsigned long long)max);
    if (n > cur_left(c))
        return cur_fail(c, E_PARSE, at, "%s length %llu runs past the end (%llu bytes left)", what,
                        (unsigned long long)n, (unsigned long long)cur_left(c));
    s->p = (const char *)c->p + c->pos;
    s->n = n;
    c->pos += n;
    return 0;
}

/* Key or name as a printable, bounded C string for messages. */
static const char *str_show(struct gguf_str s, char *tmp, size_t cap)
{
    size_t n = s.n < cap - 1 ? (size_t)s.n : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        tmp[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    tmp[n] = 0;
    return tmp;
}

/* ---- indexes ---------------------------------------------------------------------------- */

struct htab {
    uint32_t *slot; /* index + 1; 0 = empty */
    uint64_t mask;
};

struct gguf_index {
    struct htab kv;
    struct htab tn;
};

static uint64_t str_hash(const char *p, uint64_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int htab_init(struct htab *t, uint64_t n)
{
    uint64_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    t->slot = mem_calloc((size_t)cap, sizeof(uint32_t));
    t->mask = cap - 1;
    return t->slot ? 0 : E_NOMEM;
}

static const struct gguf_str *kv_key_at(const void *arr, uint32_t i)
{
    return &((const struct gguf_kv *)arr)[i].key;
}

static const struct gguf_str *tn_name_at(const void *arr, uint32_t i)
{
    return &((const struct gguf_tensor *)arr)[i].name;
}

typedef const struct gguf_str *(*name_at_fn)(const void *arr, uint32_t i);

/* Returns the index of the entry named (p, n), or -1. */
static int64_t htab_find(const struct htab *t, const void *arr, name_at_fn at, const char *p,
                         uint64_t n)
{
    if (!t->slot)
        return -1;
    for (uint64_t h = str_hash(p, n) & t->mask;; h = (h + 1) & t->mask) {
        uint32_t s = t->slot[h];
        if (!s)
            return -1;
        const struct gguf_str *k = at(arr, s - 1);
        if (k->n == n && (n == 0 || memcmp(k->p, p, n) == 0))
            return s - 1;
    }
}

/* Inserts entry i; returns 1 when the name is already present (nothing inserted). */
static int htab_insert(struct htab *t, const void *arr, name_at_fn at, uint32_t i)
{
    const struct gguf_str *k = at(arr, i);
    if (htab_find(t, arr, at, k->p, k->n) >= 0)
        return 1;
    uint64_t h = str_hash(k->p, k->n) & t->mask;
    while (t->slot[h])
        h = (h + 1) & t->mask;
    t->slot[h] = i + 1;
    return 0;
}

/* ---- key/values ---------------------------------------------------------------------------- */

/* Parses an array value: element type, count, then the packed elements. */
static int parse_array(struct cur *c, struct gguf_kv *kv, const char *key)
{
    uint64_t at = c->pos;
    uint32_t et = 0;
    int rc;
    if ((rc = cur_u32(c, &et, "array type")) || (rc = cur_u64(c, &kv->arr_n, "array count")))
        return rc;
    if (et == GGUF_VT_ARRAY)
        return cur_fail(c, E_UNSUPPORTED, at, "key '%s': nested arrays are not supported", key);
    if (et != GGUF_VT_STRING && !vtype_size(et))
        return cur_fail(c, E_PARSE, at, "key '%s': unknown array element type %u", key, et);
    if (kv->arr_n > GGUF_MAX_ARRAY)
        return cur_fail(c, E_RANGE, at + 4, "key '%s': array count %llu exceeds the cap %u", key,
                        (unsigned long long)kv->arr_n, GGUF_MAX_ARRAY);
    kv->arr_type = (enum gguf_vtype)et;
    kv->val = c->p + c->pos;
    if (et != GGUF_VT_STRING) {
        uint64_t bytes = kv->arr_n * vtype_size(et); /* no overflow: arr_n <= 2^24 */
        if (bytes > cur_left(c))
            return cur_fail(c, E_PARSE, at, "key '%s': array of %llu elements runs past the end",
                            key, (unsigned long long)kv->arr_n);
        kv->val_bytes = bytes;
        c->pos += bytes;
        return 0;
    }
    /* Each string takes at least its 8-byte length, so this bounds the table by the file. */
    if (kv->arr_n > cur_left(c) / 8)
        return cur_fail(c, E_PARSE, at, "key '%s': string array of %llu elements runs past the end",
                        key, (unsigned long long)kv->arr_n);
    uint64_t *off = mem_alloc_array(kv->arr_n ? (size_t)kv->arr_n : 1, sizeof(uint64_t));
    if (!off)
        return cur_fail(c, E_NOMEM, at, "key '%s': out of memory", key);
    kv->str_off = off;
    uint64_t start = c->pos;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        struct gguf_str s;
        off[i] = c->pos - start;
        uint64_t el = c->pos;
        if ((rc = cur_str(c, &s, GGUF_MAX_STRING, "array string")))
            return cur_fail(c, rc, el, "key '%s': string element %llu is %s", key,
                            (unsigned long long)i,
                            rc == E_RANGE ? "longer than the cap" : "truncated");
    }
    kv->val_bytes = c->pos - start;
    return 0;
}

static int parse_value(struct cur *c, struct gguf_kv *kv, const char *key)
{
    uint64_t at = c->pos;
    uint32_t t = 0;
    int rc = cur_u32(c, &t, "value type");
    if (rc)
        return rc;
    kv->type = (enum gguf_vtype)t;
    if (t == GGUF_VT_ARRAY)
        return parse_array(c, kv, key);
    if (t == GGUF_VT_STRING) {
        struct gguf_str s;
        kv->val = c->p + c->pos;
        if ((rc = cur_str(c, &s, GGUF_MAX_STRING, "string value")))
            return rc;
        kv->val_bytes = 8 + s.n;
        return 0;
    }
    uint32_t sz = vtype_size(t);
    if (!sz)
        return cur_fail(c, E_PARSE, at, "key '%s': unknown value type %u", key, t);
    if (sz > cur_left(c))
        return cur_fail(c, E_PARSE, c->pos, "key '%s': value truncated", key);
    kv->val = c->p + c->pos;
    kv->val_bytes = sz;
    c->pos += sz;
    return 0;
}

static int parse_kvs(struct cur *c, struct gguf *g)
{
    int rc;
    g->kv = mem_calloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof(*g->kv));
    if (!g->kv)
        return cur_fail(c, E_NOMEM, c->pos, "out of memory for %llu key/values",
                        (unsigned long long)g->n_kv);
    if ((rc = htab_init(&g->idx->kv, g->n_kv)))
        return cur_fail(c, rc, c->pos, "out of memory");
    for (uint64_t i = 0; i < g->n_kv; i++) {
        struct gguf_kv *kv = &g->kv[i];
        char show[80];
        uint64_t at = c->pos;
        if ((rc = cur_str(c, &kv->key, GGUF_MAX_STRING, "key")))
            return rc;
        if (kv->key.n == 0)
            return cur_fail(c, E_PARSE, at, "key/value %llu has an empty key",
                            (unsigned long long)i);
        str_show(kv->key, show, sizeof(show));
        if (htab_insert(&g->idx->kv, g->kv, kv_key_at, (uint32_t)i))
            return cur_fail(c, E_PARSE, at, "duplicate key '%s'", show);
        if ((rc = parse_value(c, kv, show)))
            return rc;
    }
    return 0;
}

/* Reads general.alignment when present: UINT32, a power of two, at most GGUF_MAX_ALIGN. */
static int find_alignment(struct cur *c, struct gguf *g)
{
    g->alignment = GGUF_DEFAULT_ALIGN;
    int64_t i = htab_find(&g->idx->kv, g->kv, kv_key_at, GGUF_KEY_ALIGNMENT,
                          sizeof(GGUF_KEY_ALIGNMENT) - 1);
    if (i < 0)
        return 0;
    const struct gguf_kv *kv = &g->kv[i];
    uint64_t at = (uint64_t)(kv->val - c->p);
    uint32_t a;
    if (kv->type != GGUF_VT_UINT32)
        return cur_fail(c, E_PARSE, at, "general.alignment has type %u, not UINT32", kv->type);
    memcpy(&a, kv->val, 4);
    if (a == 0 || (a & (a - 1)) != 0 || a > GGUF_MAX_ALIGN)
        return cur_fail(c, E_PARSE, at, "general.alignment %u is not a power of two <= %u", a,
                        GGUF_MAX_ALIGN);
    g->alignment = a;
    return 0;
}

/* ---- tensor infos ---------------------------------------------------------------------------- */

static int tensor_shape(struct cur *c, struct gguf_tensor *t, const char *name)
{
    uint64_t at = c->pos;
    int rc = cur_u32(c, &t->n_dims, "tensor n_dims");
    if (rc)
        return rc;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return cur_fail(c, E_PARSE, at, "tensor '%s': n_dims %u outside 1..%d", name, t->n_dims,
                        GGUF_MAX_DIMS);
    uint64_t total = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        at = c->pos;
        if ((rc = cur_read(c, &t->ne[d], 8, "tensor dimension")))
            return rc;
        if (t->ne[d] < 1)
            return cur_fail(c, E_PARSE, at, "tensor '%s': dimension %u is %lld", name, d,
                            (long long)t->ne[d]);
        if ((uint64_t)t->ne[d] > (uint64_t)INT64_MAX / total)
            return cur_fail(c, E_RANGE, at, "tensor '%s': element count overflows", name);
        total *= (uint64_t)t->ne[d];
    }
    return 0;
}

static int tensor_type(struct cur *c, struct gguf_tensor *t, const char *name)
{
    uint64_t at = c->pos;
    uint32_t ty = 0;
    int rc = cur_u32(c, &ty, "tensor type");
    if (rc)
        return rc;
    uint32_t blk = gguf_type_block_elems(ty), bb = gguf_type_block_bytes(ty);
    if (!blk)
        return cur_fail(c, E_UNSUPPORTED, at, "tensor '%s': unknown tensor type %u", name, ty);
    if (t->ne[0] % blk != 0)
        return cur_fail(c, E_PARSE, at,
                        "tensor '%s': row length %lld is not a multiple of the %s "
                        "block size %u",
                        name, (long long)t->ne[0], gguf_type_name(ty), blk);
    t->type = (enum gguf_ttype)ty;
    /* ne products were checked to fit in int64 by tensor_shape. */
    uint64_t rows = (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
    uint64_t blocks = (uint64_t)t->ne[0] / blk;
    if (blocks > (UINT64_MAX / 2) / bb || blocks * bb > (UINT64_MAX / 2) / rows)
        return cur_fail(c, E_RANGE, at, "tensor '%s': byte size overflows", name);
    uint64_t row_bytes = blocks * bb;
    t->nbytes = row_bytes * rows;
    return 0;
}

static int parse_tensor(struct cur *c, struct gguf *g, uint64_t i)
{
    struct gguf_tensor *t = &g->tensors[i];
    char show[80];
    uint64_t at = c->pos;
    int rc;
    if ((rc = cur_str(c, &t->name, GGUF_MAX_NAME - 1, "tensor name")))
        return rc;
    str_show(t->name, show, sizeof(show));
    if (htab_insert(&g->idx->tn, g->tensors, tn_name_at, (uint32_t)i))
        return cur_fail(c, E_PARSE, at, "duplicate tensor name '%s'", show);
    if ((rc = tensor_shape(c, t, show)) || (rc = tensor_type(c, t, show)))
        return rc;
    at = c->pos;
    if ((rc = cur_u64(c, &t->offset, "tensor offset")))
        return rc;
    if (t->offset % g->alignment != 0)
        return cur_fail(c, E_PARSE, at,
                        "tensor '%s': offset %llu is not a multiple of the "
                        "alignment %u",
                        show, (unsigned long long)t->offset, g->alignment);
    return 0;
}

struct off_idx {
    uint64_t off;
    uint32_t i;
};

static int cmp_off(const void *a, const void *b)
{
    uint64_t x = ((const struct off_idx *)a)->off, y = ((const struct off_idx *)b)->off;
    return x < y ? -1 : x > y;
}

/* Checks every tensor lies inside the data section and that no two overlap. */
static int check_extents(struct cur *c, struct gguf *g)
{
    uint64_t avail = g->size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct gguf_tensor *t = &g->tensors[i];
        char show[80];
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return cur_fail(c, E_RANGE, g->data_offset + (t->offset < avail ? t->offset : avail),
                            "tensor '%s': data [%llu, +%llu) is outside the file",
                            str_show(t->name, show, sizeof(show)), (unsigned long long)t->offset,
                            (unsigned long long)t->nbytes);
        t->data = g->base + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2)
        return 0;
    /* Offsets are usually sequential: check that first and sort only when they are not. */
    int sorted = 1;
    for (uint64_t i = 1; i < g->n_tensors && sorted; i++)
        sorted = g->tensors[i].offset >= g->tensors[i - 1].offset;
    struct off_idx *ord = mem_alloc_array((size_t)g->n_tensors, sizeof(*ord));
    if (!ord)
        return cur_fail(c, E_NOMEM, c->pos, "out of memory");
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        ord[i].off = g->tensors[i].offset;
        ord[i].i = i;
    }
    if (!sorted)
        qsort(ord, (size_t)g->n_tensors, sizeof(*ord), cmp_off);
    int rc = 0;
    for (uint64_t i = 1; i < g->n_tensors && !rc; i++) {
        const struct gguf_tensor *a = &g->tensors[ord[i - 1].i], *b = &g->tensors[ord[i].i];
        char s1[80], s2[80];
        if (a->offset + a->nbytes > b->offset)
            rc =
                cur_fail(c, E_PARSE, g->data_offset + b->offset, "tensor '%s' overlaps tensor '%s'",
                         str_show(b->name, s1, sizeof(s1)), str_show(a->name, s2, sizeof(s2)));
    }
    mem_free(ord);
    return rc;
}

static int parse_tensors(struct cur *c, struct gguf *g)
{
    int rc;
    g->tensors = mem_calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof(*g->tensors));
    if (!g->tensors)
        return cur_fail(c, E_NOMEM, c->pos, "out of memory for %llu tensors",
                        (unsigned long long)g->n_tensors);
    if ((rc = htab_init(&g->idx->tn, g->n_tensors)))
        return cur_fail(c, rc, c->pos, "out of memory");
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if ((rc = parse_tensor(c, g, i)))
            return rc;
    uint64_t pad = (g->alignment - c->pos % g->alignment) % g->alignment;
    if (g->n_tensors > 0 && pad > cur_left(c))
        return cur_fail(c, E_PARSE, c->pos, "file ends before the aligned data section");
    g->data_offset = c->pos + (pad <= cur_left(c) ? pad : cur_left(c));
    return check_extents(c, g);
}

/* ---- open / close ------------------------------------------------------------------------ */

static int parse_header(struct cur *c, struct gguf *g)
{
    uint32_t magic = 0;
    int rc;
    if ((rc = cur_u32(c, &magic, "magic")))
        return rc;
    if (magic != GGUF_MAGIC)
        return cur_fail(c, E_PARSE, 0, "bad magic (not a GGUF file)");
    if ((rc = cur_u32(c, &g->version, "version")))
        return rc;
    if (g->version != 0 && (g->version & 0xffffu) == 0)
        return cur_fail(c, E_UNSUPPORTED, 4, "big-endian GGUF files are not supported");
    if (g->version == 1)
        return cur_fail(c, E_UNSUPPORTED, 4, "GGUF version 1 is not supported");
    if (g->version < 2 || g->version > 3)
        return cur_fail(c, g->version ? E_UNSUPPORTED : E_PARSE, 4,
                        "GGUF version %u is not "
                        "supported (2 and 3 are)",
                        g->version);
    if ((rc = cur_u64(c, &g->n_tensors, "tensor count")) ||
        (rc = cur_u64(c, &g->n_kv, "key/value count")))
        return rc;
    if (g->n_tensors > GGUF_MAX_TENSORS)
        return cur_fail(c, E_RANGE, 8, "tensor count %llu exceeds the cap %u",
                        (unsigned long long)g->n_tensors, GGUF_MAX_TENSORS);
    if (g->n_kv > GGUF_MAX_KV)
        return cur_fail(c, E_RANGE, 16, "key/value count %llu exceeds the cap %u",
                        (unsigned long long)g->n_kv, GGUF_MAX_KV);
    /* A key/value takes at least 8+1+4+1 bytes; catch absurd counts before allocating. */
    if (g->n_kv > cur_left(c) / 14)
        return cur_fail(c, E_PARSE, 16, "key/value count %llu cannot fit in the file",
                        (unsigned long long)g->n_kv);
    return 0;
}

int gguf_open_mem(const void *p, uint64_t n, int tensors, struct gguf **out, struct err_info *ei)
{
    struct cur c = {p, n, 0, ei};
    struct gguf *g;
    int rc;
    *out = NULL;
    if (!p && n)
        return err_set(ei, E_INVAL, "gguf: NULL range");
    if (!(g = mem_calloc(1, sizeof(*g))) || !(g->idx = mem_calloc(1, sizeof(*g->idx)))) {
        mem_free(g);
        return err_set(ei, E_NOMEM, "gguf: out of memory");
    }
    g->base = p;
    g->size = n;
    if ((rc = parse_header(&c, g)) || (rc = parse_kvs(&c, g)) || (rc = find_alignment(&c, g)))
        goto out;
    if (tensors) {
        /* A tensor info takes at least 8+0+4+8+4+8 bytes. */
        if (g->n_tensors > cur_left(&c) / 32) {
            rc = cur_fail(&c, E_PARSE, c.pos, "tensor count %llu cannot fit in the file",
                          (unsigned long long)g->n_tensors);
            goto out;
        }
        if ((rc = parse_tensors(&c, g)))
            goto out;
    }
    *out = g;
    return 0;
out:
    gguf_close(g);
    return rc;
}

int gguf_open_fd(int fd, int tensors, struct gguf **out, struct err_info *ei)
{
    struct stat st;
    void *m;
    int rc;
    *out = NULL;
    if (fstat(fd, &st) != 0)
        return err_set(ei, E_IO, "gguf: fstat failed");
    if (!S_ISREG(st.st_mode))
        return err_set(ei, E_INVAL, "gguf: not a regular file");
    if (st.st_size < 24)
        return err_set(ei, E_PARSE, "gguf: file of %lld bytes is too short for a GGUF header",
                       (long long)st.st_size);
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return err_set(ei, E_IO, "gguf: mmap failed");
    if ((rc = gguf_open_mem(m, (uint64_t)st.st_size, tensors, out, ei))) {
        munmap(m, (size_t)st.st_size);
        return rc;
    }
    (*out)->owns_map = 1;
    return 0;
}

int gguf_open_file(const char *path, int tensors, struct gguf **out, struct err_info *ei)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;
    *out = NULL;
    if (fd < 0)
        return err_set(ei, E_NOTFOUND, "gguf: cannot open %s", path);
    rc = gguf_open_fd(fd, tensors, out, ei);
    close(fd);
    return rc;
}

void gguf_close(struct gguf *g)
{
    if (!g)
        return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++)
            mem_free((void *)g->kv[i].str_off);
    mem_free(g->kv);
    mem_free(g->tensors);
    if (g->idx) {
        mem_free(g->idx->kv.slot);
        mem_free(g->idx->tn.slot);
        mem_free(g->idx);
    }
    if (g->owns_map && g->base)
        munmap((void *)g->base, (size_t)g->size);
    mem_free(g);
}

/* ---- getters ---------------------------------------------------------------------------- */

const struct gguf_kv *gguf_find(const struct gguf *g, const char *key)
{
    if (!g || !g->idx || !g->kv)
        return NULL;
    int64_t i = htab_find(&g->idx->kv, g->kv, kv_key_at, key, strlen(key));
    return i < 0 ? NULL : &g->kv[i];
}

const struct gguf_tensor *gguf_tensor_find(const struct gguf *g, const char *name)
{
    if (!g || !g->idx || !g->tensors)
        return NULL;
    int64_t i = htab_find(&g->idx->tn, g->tensors, tn_name_at, name, strlen(name));
    return i < 0 ? NULL : &g->tensors[i];
}

/* Integer value of a scalar of integer type t at p; 0 ok, E_INVAL for non-integers.  Unsigned
 * 64-bit values above INT64_MAX are reported through *big. */
static int read_int(uint32_t t, const uint8_t *p, int64_t *v, int *big)
{
    *big = 0;
    switch (t) {
    case GGUF_VT_UINT8:
        *v = *p;
        return 0;
    case GGUF_VT_INT8:
        *v = (int8_t)*p;
        return 0;
    case GGUF_VT_UINT16: {
        uint16_t x;
        memcpy(&x, p, 2);
        *v = x;
        return 0;
    }
    case GGUF_VT_INT16: {
        int16_t x;
        memcpy(&x, p, 2);
        *v = x;
        return 0;
    }
    case GGUF_VT_UINT32: {
        uint32_t x;
        memcpy(&x, p, 4);
        *v = x;
        return 0;
    }
    case GGUF_VT_INT32: {
        int32_t x;
        memcpy(&x, p, 4);
        *v = x;
        return 0;
    }
    case GGUF_VT_INT64:
        memcpy(v, p, 8);
        return 0;
    case GGUF_VT_UINT64: {
        uint64_t x;
        memcpy(&x, p, 8);
        *big = x > (uint64_t)INT64_MAX;
        *v = (int64_t)(x & (uint64_t)INT64_MAX);
        return 0;
    }
    default:
        return E_INVAL;
    }
}

int gguf_get_i64(const struct gguf *g, const char *key, int64_t *out)
{
    const struct gguf_kv *kv = gguf_find(g, key);
    int64_t v;
    int big;
    if (!kv)
        return E_NOTFOUND;
    if (read_int(kv->type, kv->val, &v, &big) || big)
        return E_INVAL;
    *out = v;
    return 0;
}

int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out)
{
    int64_t v;
    int rc = gguf_get_i64(g, key, &v);
    if (rc)
        return rc;
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return E_INVAL;
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_f32(const struct gguf *g, const char *key, float *out)
{
    const struct gguf_kv *kv = gguf_find(g, key);
    if (!kv)
        return E_NOTFOUND;
    if (kv->type == GGUF_VT_FLOAT32) {
        memcpy(out, kv->val, 4);
        return 0;
    }
    if (kv->type == GGUF_VT_FLOAT64) {
        double d;
        memcpy(&d, kv->val, 8);
        *out = (float)d;
        return 0;
    }
    return E_INVAL;
}

int gguf_get_bool(const struct gguf *g, const char *key, int *out)
{
    const struct gguf_kv *kv = gguf_find(g, key);
    if (!kv)
        return E_NOTFOUND;
    if (kv->type != GGUF_VT_BOOL)
        return E_INVAL;
    *out = kv->val[0] != 0;
    return 0;
}

int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out)
{
    const struct gguf_kv *kv = gguf_find(g, key);
    uint64_t n;
    if (!kv)
        return E_NOTFOUND;
    if (kv->type != GGUF_VT_STRING)
        return E_INVAL;
    memcpy(&n, kv->val, 8);
    out->p = (const char *)kv->val + 8;
    out->n = n;
    return 0;
}

int gguf_arr_str(const struct gguf_kv *kv, uint64_t i, struct gguf_str *out)
{
    uint64_t n;
    if (!kv || kv->type != GGUF_VT_ARRAY || kv->arr_type != GGUF_VT_STRING || !kv->str_off)
        return E_INVAL;
    if (i >= kv->arr_n)
        return E_RANGE;
    memcpy(&n, kv->val + kv->str_off[i], 8);
    out->p = (const char *)kv->val + kv->str_off[i] + 8;
    out->n = n;
    return 0;
}

int gguf_arr_f32(const struct gguf_kv *kv, uint64_t i, float *out)
{
    if (!kv || kv->type != GGUF_VT_ARRAY || kv->arr_type != GGUF_VT_FLOAT32)
        return E_INVAL;
    if (i >= kv->arr_n)
        return E_RANGE;
    memcpy(out, kv->val + 4 * i, 4);
    return 0;
}

int gguf_arr_i32(const struct gguf_kv *kv, uint64_t i, int32_t *out)
{
    int64_t v;
    int big;
    uint32_t sz;
    if (!kv || kv->type != GGUF_VT_ARRAY || !(sz = vtype_size(kv->arr_type)))
        return E_INVAL;
    if (i >= kv->arr_n)
        return E_RANGE;
    if (read_int(kv->arr_type, kv->val + (uint64_t)sz * i, &v, &big) || big || v < INT32_MIN ||
        v > INT32_MAX)
        return E_INVAL;
    *out = (int32_t)v;
    return 0;
}

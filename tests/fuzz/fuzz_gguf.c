/*
 * fuzz_gguf.c - libFuzzer target over the GGUF reader (gguf_open_mem with tensors).  On inputs
 * that parse it touches every key/value through the getters (every string-array element), checks
 * every tensor lies inside the input, then rebuilds the file with the writer and requires the
 * rebuilt file to parse to the same counts (reader/writer agreement).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_write.h"

/* 1 when any key holds a NUL byte (valid GGUF, but not expressible as a C-string key). */
static int has_nul_key(const struct gguf *g)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (memchr(g->kv[i].key.p, 0, (size_t)g->kv[i].key.n))
            return 1;
    return 0;
}

static void touch_kvs(const struct gguf *g)
{
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const struct gguf_kv *kv = &g->kv[i];
        struct gguf_str s;
        float f;
        int32_t v;
        char key[128];
        size_t n = (size_t)kv->key.n;
        if (n < sizeof(key) && !memchr(kv->key.p, 0, n)) {
            memcpy(key, kv->key.p, n);
            key[n] = 0;
            if (gguf_find(g, key) != kv)
                abort();
        }
        for (uint64_t j = 0; kv->type == GGUF_VT_ARRAY && j < kv->arr_n; j++) {
            if (gguf_arr_str(kv, j, &s) == 0 && s.n)
                sink += (unsigned char)s.p[s.n - 1];
            if (gguf_arr_f32(kv, j, &f) == 0)
                sink += f > 0;
            if (gguf_arr_i32(kv, j, &v) == 0)
                sink += (uint64_t)v;
        }
    }
    (void)sink;
}

static void rebuild(const struct gguf *g)
{
    struct gguf_writer *w = NULL;
    struct gguf *g2 = NULL;
    uint8_t *out = NULL;
    uint64_t n = 0;
    if (has_nul_key(g) || gguf_w_new(&w))
        return;
    if (gguf_w_copy_kvs(w, g))
        abort(); /* whatever the reader accepts, the writer must take */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->tensors[i];
        char name[GGUF_MAX_NAME];
        memcpy(name, t->name.p, (size_t)t->name.n);
        name[t->name.n] = 0;
        if (memchr(t->name.p, 0, (size_t)t->name.n))
            goto out; /* names with NUL cannot go through the C-string API */
        if (gguf_w_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->nbytes, 0))
            abort();
    }
    if (gguf_w_size(w) > (64u << 20) || gguf_w_to_mem(w, &out, &n))
        goto out;
    if (gguf_open_mem(out, n, 1, &g2, NULL))
        abort();
    if (g2->n_kv != g->n_kv || g2->n_tensors != g->n_tensors)
        abort();
    gguf_close(g2);
out:
    mem_free(out);
    gguf_w_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gguf *g = NULL;
    struct err_info ei;
    if (gguf_open_mem(data, size, 1, &g, &ei) != 0)
        return 0;
    touch_kvs(g);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->tensors[i];
        const uint8_t *p = t->data;
        if (p < data || p + t->nbytes > data + size)
            abort();
    }
    rebuild(g);
    gguf_close(g);
    return 0;
}

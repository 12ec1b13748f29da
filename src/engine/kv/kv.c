/*
 * kv.c - KV cache storage, F16/F32 row conversion, context shift and sequence copy (kv.h).
 */
#include "engine/kv/kv.h"

#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/kern/kern.h"

#define KV_MAX_BYTES ((size_t)1 << 40)

int kv_init(struct kv_cache *kv, uint32_t n_layer, uint32_t n_seq, uint32_t n_ctx, uint32_t kv_dim,
            uint32_t type)
{
    memset(kv, 0, sizeof(*kv));
    if (!n_layer || !n_seq || !n_ctx || !kv_dim)
        return E_INVAL;
    if (type != GGUF_T_F16 && type != GGUF_T_F32)
        return E_INVAL;
    kv->n_layer = n_layer;
    kv->n_seq = n_seq;
    kv->n_ctx = n_ctx;
    kv->kv_dim = kv_dim;
    kv->type = type;
    kv->elt_bytes = type == GGUF_T_F16 ? 2 : 4;
    kv->row_bytes = (size_t)kv_dim * kv->elt_bytes;
    size_t per_layer = (size_t)n_seq * n_ctx * kv->row_bytes;
    if (per_layer / n_ctx / n_seq != kv->row_bytes || per_layer > KV_MAX_BYTES / 2 / n_layer)
        return E_RANGE;
    kv->k = mem_calloc(n_layer, sizeof(*kv->k));
    kv->v = mem_calloc(n_layer, sizeof(*kv->v));
    kv->len = mem_calloc(n_seq, sizeof(*kv->len));
    kv->tmp = mem_calloc(kv_dim, sizeof(float));
    if (!kv->k || !kv->v || !kv->len || !kv->tmp)
        goto nomem;
    if (type == GGUF_T_F16) {
        kv->h2f = mem_alloc_array(65536, sizeof(float));
        if (!kv->h2f)
            goto nomem;
        for (uint32_t i = 0; i < 65536; i++)
            kv->h2f[i] = kern_fp16_to_f32((uint16_t)i);
    }
    for (uint32_t i = 0; i < n_layer; i++) {
        kv->k[i] = mem_aligned(64, per_layer);
        kv->v[i] = mem_aligned(64, per_layer);
        if (!kv->k[i] || !kv->v[i])
            goto nomem;
    }
    return 0;
nomem:
    kv_fini(kv);
    return E_NOMEM;
}

void kv_fini(struct kv_cache *kv)
{
    if (kv->k)
        for (uint32_t i = 0; i < kv->n_layer; i++)
            mem_free(kv->k[i]);
    if (kv->v)
        for (uint32_t i = 0; i < kv->n_layer; i++)
            mem_free(kv->v[i]);
    mem_free(kv->k);
    mem_free(kv->v);
    mem_free(kv->len);
    mem_free(kv->tmp);
    mem_free(kv->h2f);
    memset(kv, 0, sizeof(*kv));
}

void kv_put(const struct kv_cache *kv, void *row, uint32_t off, const float *src, uint32_t n)
{
    if (kv->type == GGUF_T_F32) {
        memcpy((float *)row + off, src, (size_t)n * sizeof(float));
        return;
    }
    uint16_t *d = (uint16_t *)row + off;
    for (uint32_t i = 0; i < n; i++)
        d[i] = kern_f32_to_fp16(src[i]);
}

void kv_get(const struct kv_cache *kv, const void *row, uint32_t off, float *dst, uint32_t n)
{
    if (kv->type == GGUF_T_F32) {
        memcpy(dst, (const float *)row + off, (size_t)n * sizeof(float));
        return;
    }
    const uint16_t *s = (const uint16_t *)row + off;
    for (uint32_t i = 0; i < n; i++)
        dst[i] = kv->h2f[s[i]];
}

int kv_shift(struct kv_cache *kv, uint32_t s, uint32_t n_keep, uint32_t n_discard,
             kv_rerotate_fn fn, void *user)
{
    if (s >= kv->n_seq)
        return E_INVAL;
    uint32_t len = kv->len[s];
    if (n_keep > len || n_discard > len - n_keep)
        return E_INVAL;
    if (n_discard == 0)
        return 0;
    uint32_t n_move = len - n_keep - n_discard;
    for (uint32_t il = 0; il < kv->n_layer; il++) {
        for (uint32_t i = 0; i < n_move; i++) {
            uint32_t from = n_keep + n_discard + i, to = n_keep + i;
            memcpy(kv_v_row(kv, il, s, to), kv_v_row(kv, il, s, from), kv->row_bytes);
            void *krow = kv_k_row(kv, il, s, to);
            memcpy(krow, kv_k_row(kv, il, s, from), kv->row_bytes);
            if (fn) {
                kv_get(kv, krow, 0, kv->tmp, kv->kv_dim);
                fn(user, il, kv->tmp, -(int32_t)n_discard);
                kv_put(kv, krow, 0, kv->tmp, kv->kv_dim);
            }
        }
    }
    kv->len[s] = len - n_discard;
    return 0;
}

void kv_copy_seq(struct kv_cache *kv, uint32_t src, uint32_t dst)
{
    if (src >= kv->n_seq || dst >= kv->n_seq || src == dst)
        return;
    size_t n = (size_t)kv->len[src] * kv->row_bytes;
    for (uint32_t il = 0; il < kv->n_layer; il++) {
        memcpy(kv_k_row(kv, il, dst, 0), kv_k_row(kv, il, src, 0), n);
        memcpy(kv_v_row(kv, il, dst, 0), kv_v_row(kv, il, src, 0), n);
    }
    kv->len[dst] = kv->len[src];
}

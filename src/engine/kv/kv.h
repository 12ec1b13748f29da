/*
 * kv.h - the key/value cache of a context: for every layer and every sequence, one row of
 * kv_dim values per position, for keys and for values, stored as F16 (default) or F32.
 * The slot of a token is its position in its sequence, so a sequence is a contiguous run of
 * slots [0, len) and "keep a prefix" is setting len; a context shift moves rows down and
 * hands each moved key row to a callback that re-rotates it to its new position.
 *
 * Layout per layer: [n_seq][n_ctx][kv_dim] of the element type.  Allocated once in kv_new.
 * Not thread-safe as a whole; distinct rows may be written by distinct threads.
 */
#ifndef CORRAL_ENGINE_KV_H
#define CORRAL_ENGINE_KV_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct kv_cache {
    uint32_t n_layer, n_seq, n_ctx, kv_dim;
    uint32_t type;    /* GGUF_T_F16 or GGUF_T_F32 */
    size_t elt_bytes; /* 2 or 4 */
    size_t row_bytes; /* kv_dim * elt_bytes */
    uint8_t **k;      /* [n_layer] -> [n_seq][n_ctx][kv_dim] */
    uint8_t **v;      /* same */
    uint32_t *len;    /* [n_seq] positions cached */
    float *tmp;       /* kv_dim floats, for conversions during shifts */
    float *h2f;       /* [65536] fp16 -> f32 table (F16 caches) */
};

/* Allocates the cache.  Errors: E_INVAL (zero sizes, bad type), E_RANGE (size overflow),
 * E_NOMEM. */
CORRAL_WARN_UNUSED int kv_init(struct kv_cache *kv, uint32_t n_layer, uint32_t n_seq,
                               uint32_t n_ctx, uint32_t kv_dim, uint32_t type);
/* Frees what kv_init allocated (kv itself is the caller's); safe on a zeroed struct. */
void kv_fini(struct kv_cache *kv);

/* Row pointers (no checks; callers validated layer/seq/pos). */
static inline void *kv_k_row(const struct kv_cache *kv, uint32_t il, uint32_t s, uint32_t pos)
{
    return kv->k[il] + ((size_t)s * kv->n_ctx + pos) * kv->row_bytes;
}
static inline void *kv_v_row(const struct kv_cache *kv, uint32_t il, uint32_t s, uint32_t pos)
{
    return kv->v[il] + ((size_t)s * kv->n_ctx + pos) * kv->row_bytes;
}

/* Stores n floats (n <= kv_dim) at the start of dst, a row of the cache's element type.
 * off: element offset inside the row. */
void kv_put(const struct kv_cache *kv, void *row, uint32_t off, const float *src, uint32_t n);
/* Loads n elements from row+off into dst as floats. */
void kv_get(const struct kv_cache *kv, const void *row, uint32_t off, float *dst, uint32_t n);

/* Called for each key row moved by kv_shift: re-rotate k (kv_dim floats, in place) of layer il
 * by delta positions (negative: moved earlier). */
typedef void (*kv_rerotate_fn)(void *user, uint32_t il, float *k, int32_t delta);

/* Drops positions [n_keep, n_keep + n_discard) of seq s and moves the later rows down.
 * E_INVAL when the range does not lie inside the sequence. */
CORRAL_WARN_UNUSED int kv_shift(struct kv_cache *kv, uint32_t s, uint32_t n_keep,
                                uint32_t n_discard, kv_rerotate_fn fn, void *user);
/* Copies the cached rows of sequence src to dst (dst's length becomes src's). */
void kv_copy_seq(struct kv_cache *kv, uint32_t src, uint32_t dst);

#endif

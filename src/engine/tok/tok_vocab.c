/*
 * tok_vocab.c - loading a vocabulary from GGUF tokenizer.* metadata, the text -> id hash, the
 * BPE merge-rank hash, decoded pieces and the accessors of tok.h.
 *
 * Everything is copied out of the GGUF (one text pool, one piece pool, flat arrays) so the
 * model file may be unmapped later.  Hash tables use open addressing with linear probing over
 * power-of-two tables (tokens at most half full, merges at most ~70%), and merges are resolved in
 * prefetched batches, so a 150K vocabulary with 150K merges loads in ~35 ms of CPU.
 * Special-token ids that are absent or out of range keep the family's default, as llama.cpp
 * does (llama-vocab.cpp, load()).
 */
#include "engine/tok/tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/tok/tok_int.h"

#define FNV_OFFSET 1469598103934665603ull

static uint64_t fnv_step(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fnv_fin(uint64_t h)
{
    return h ^ (h >> 29);
}

uint64_t tok__hash(const void *p, size_t n)
{
    return fnv_fin(fnv_step(FNV_OFFSET, p, n));
}

size_t tok__utf8_len(unsigned char c)
{
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

/* Slot tag: 19 high hash bits and the length (n <= TOK_MAX_TOKEN_BYTES < 2^13). */
static uint32_t hash_tag(uint64_t h, size_t n)
{
    return (uint32_t)(h >> 45) << 13 | (uint32_t)n;
}

/* Id of the token spelled a[0..na) b[0..nb) whose hash is h, or -1. */
static int32_t lookup_h(const struct tok_vocab *v, uint64_t h, const char *a, size_t na,
                        const char *b, size_t nb)
{
    uint32_t tag = hash_tag(h, na + nb);
    size_t i = (size_t)h & v->hash_mask;
    if (na + nb > TOK_MAX_TOKEN_BYTES)
        return -1;
    for (;;) {
        uint64_t e = v->hash[i];
        if (e == 0)
            return -1;
        uint32_t id = (uint32_t)e - 1;
        const char *t = v->text_pool + v->text_off[id];
        /* The tag (hash bits + length) skips the text comparison for other entries. */
        if ((uint32_t)(e >> 32) == tag && memcmp(t, a, na) == 0 && memcmp(t + na, b, nb) == 0)
            return (int32_t)id;
        i = (i + 1) & v->hash_mask;
    }
}

int32_t tok__lookup(const struct tok_vocab *v, const char *s, size_t n)
{
    return lookup_h(v, tok__hash(s, n), s, n, "", 0);
}

/* splitmix64 finalizer: every key bit reaches the low bits used as the slot. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

int64_t tok__merge_rank(const struct tok_vocab *v, int32_t left, int32_t right, int32_t *result)
{
    if (!v->merges || left < 0 || right < 0)
        return -1;
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    size_t i = (size_t)mix64(key) & v->merge_mask;
    for (;;) {
        const struct tok_merge *m = &v->merges[i];
        if (m->key == 0)
            return -1;
        if (m->key == key) {
            *result = m->result;
            return m->rank;
        }
        i = (i + 1) & v->merge_mask;
    }
}

/* Inserts (left, right) with rank unless present (the first rank wins, as in llama.cpp). */
static void merge_insert(struct tok_vocab *v, int32_t left, int32_t right, uint32_t rank,
                         int32_t result)
{
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    size_t i = (size_t)mix64(key) & v->merge_mask;
    while (v->merges[i].key != 0) {
        if (v->merges[i].key == key)
            return;
        i = (i + 1) & v->merge_mask;
    }
    v->merges[i].key = key;
    v->merges[i].rank = rank;
    v->merges[i].result = result;
    v->n_merges++;
}

/* ---- loading ---------------------------------------------------------------------------- */

static int load_kind(const struct gguf *g, struct tok_vocab *v, struct err_info *ei)
{
    struct gguf_str s;
    if (gguf_get_str(g, "tokenizer.ggml.model", &s) != 0)
        return err_set(ei, E_PARSE, "tokenizer.ggml.model missing or not a string");
    if (gguf_str_eq(s, "llama"))
        v->kind = TOK_KIND_SPM;
    else if (gguf_str_eq(s, "gpt2"))
        v->kind = TOK_KIND_BPE;
    else if (gguf_str_eq(s, "bert"))
        v->kind = TOK_KIND_WPM;
    else
        return err_set(ei, E_UNSUPPORTED, "tokenizer model '%.*s' is not supported",
                       (int)(s.n > 64 ? 64 : s.n), s.p);
    snprintf(v->pre, sizeof(v->pre), "default");
    if (gguf_get_str(g, "tokenizer.ggml.pre", &s) == 0 && s.n > 0 && s.n < sizeof(v->pre)) {
        memcpy(v->pre, s.p, s.n);
        v->pre[s.n] = 0;
    }
    return 0;
}

/* Array key with the given element type and exactly n elements (n == 0: any count up to cap,
 * stored to *n_out).  Absent: *kv_out = NULL, returns 0. */
static int get_array(const struct gguf *g, const char *key, enum gguf_vtype et, uint64_t n,
                     uint64_t cap, const struct gguf_kv **kv_out, struct err_info *ei)
{
    const struct gguf_kv *kv = gguf_find(g, key);
    *kv_out = NULL;
    if (!kv)
        return 0;
    if (kv->type != GGUF_VT_ARRAY || kv->arr_type != et)
        return err_set(ei, E_PARSE, "%s: not an array of the expected type", key);
    if (kv->arr_n > cap)
        return err_set(ei, E_RANGE, "%s: %llu elements, more than %llu", key,
                       (unsigned long long)kv->arr_n, (unsigned long long)cap);
    if (n && kv->arr_n != n)
        return err_set(ei, E_PARSE, "%s: %llu elements, expected %llu", key,
                       (unsigned long long)kv->arr_n, (unsigned long long)n);
    *kv_out = kv;
    return 0;
}

static int alloc_arrays(struct tok_vocab *v, uint64_t pool_bytes)
{
    size_t n = v->n;
    v->text_pool = mem_alloc(pool_bytes);
    v->piece_pool = mem_alloc(pool_bytes);
    v->text_off = mem_alloc_array(n, sizeof(uint32_t));
    v->text_len = mem_alloc_array(n, sizeof(uint32_t));
    v->piece_off = mem_alloc_array(n, sizeof(uint32_t));
    v->piece_len = mem_alloc_array(n, sizeof(uint32_t));
    v->score = mem_calloc(n, sizeof(float));
    v->type = mem_alloc(n);
    v->flags = mem_calloc(n, 1);
    v->hash_mask = pow2_at_least(n * 2) - 1;
    v->hash = mem_calloc(v->hash_mask + 1, sizeof(uint64_t));
    if (!v->text_pool || !v->piece_pool || !v->text_off || !v->text_len || !v->piece_off ||
        !v->piece_len || !v->score || !v->type || !v->flags || !v->hash)
        return E_NOMEM;
    return 0;
}

static void hash_insert(struct tok_vocab *v, uint32_t id)
{
    const char *s = v->text_pool + v->text_off[id];
    size_t n = v->text_len[id];
    uint64_t h = tok__hash(s, n);
    uint32_t tag = hash_tag(h, n);
    size_t i = (size_t)h & v->hash_mask;
    for (;;) {
        uint64_t e = v->hash[i];
        if (e == 0)
            break;
        uint32_t old = (uint32_t)e - 1;
        /* A duplicate text maps to the last id, as llama.cpp's token_to_id does. */
        if ((uint32_t)(e >> 32) == tag && memcmp(v->text_pool + v->text_off[old], s, n) == 0)
            break;
        i = (i + 1) & v->hash_mask;
    }
    v->hash[i] = (uint64_t)tag << 32 | (id + 1);
}

static int load_tokens(const struct gguf *g, struct tok_vocab *v, struct err_info *ei)
{
    const struct gguf_kv *kt, *ks, *ky;
    uint64_t pool = 0;
    int rc;
    if ((rc = get_array(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, 0, TOK_MAX_VOCAB, &kt, ei)))
        return rc;
    if (!kt || kt->arr_n == 0)
        return err_set(ei, E_PARSE, "tokenizer.ggml.tokens missing or empty");
    v->n = (uint32_t)kt->arr_n;
    for (uint64_t i = 0; i < v->n; i++) {
        struct gguf_str s;
        if (gguf_arr_str(kt, i, &s) != 0)
            return err_set(ei, E_PARSE, "tokenizer.ggml.tokens[%llu] unreadable",
                           (unsigned long long)i);
        if (s.n > TOK_MAX_TOKEN_BYTES)
            return err_set(ei, E_RANGE, "token %llu: %llu bytes, more than %u",
                           (unsigned long long)i, (unsigned long long)s.n, TOK_MAX_TOKEN_BYTES);
        pool += s.n + 1;
    }
    if (pool > UINT32_MAX) /* offsets are 32-bit */
        return err_set(ei, E_RANGE, "token texts: %llu bytes in all, too many",
                       (unsigned long long)pool);
    if ((rc = get_array(g, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, v->n, TOK_MAX_VOCAB, &ks,
                        ei)) ||
        (rc = get_array(g, "tokenizer.ggml.token_type", GGUF_VT_INT32, v->n, TOK_MAX_VOCAB, &ky,
                        ei)))
        return rc;
    if (alloc_arrays(v, pool))
        return err_set(ei, E_NOMEM, "vocabulary of %u tokens: out of memory", v->n);
    uint32_t off = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        struct gguf_str s;
        int32_t t = TOK_TYPE_NORMAL;
        if (gguf_arr_str(kt, i, &s) != 0)
            return err_set(ei, E_PARSE, "tokenizer.ggml.tokens[%u] unreadable", i);
        memcpy(v->text_pool + off, s.p, s.n);
        v->text_pool[off + s.n] = 0;
        v->text_off[i] = off;
        v->text_len[i] = (uint32_t)s.n;
        off += (uint32_t)s.n + 1;
        if (s.n > v->max_token_len)
            v->max_token_len = (uint32_t)s.n;
        if (ks && gguf_arr_f32(ks, i, &v->score[i]) != 0)
            return err_set(ei, E_PARSE, "tokenizer.ggml.scores[%u] unreadable", i);
        if (ky && gguf_arr_i32(ky, i, &t) != 0)
            return err_set(ei, E_PARSE, "tokenizer.ggml.token_type[%u] unreadable", i);
        if (t < TOK_TYPE_UNDEFINED || t > TOK_TYPE_BYTE)
            return err_set(ei, E_PARSE, "token %u: token_type %d out of range", i, (int)t);
        v->type[i] = (uint8_t)t;
        hash_insert(v, i);
    }
    return 0;
}

/* Merges are resolved in batches: hashes first (prefetching their slots), then the lookups,
 * then the inserts, so the cache misses of a batch overlap instead of queueing. */
#define MERGE_BATCH 32

struct merge_job {
    const char *a, *b; /* the two parts of "a b" */
    size_t na, nb;
    uint64_t ha, hb, hab; /* hashes of a, b and a followed by b */
    uint64_t key;         /* 0 when a part is not a token */
    int32_t l, r;
};

static int merge_parse(const struct gguf_kv *km, uint64_t i, struct merge_job *j,
                       struct err_info *ei)
{
    struct gguf_str s;
    const char *sp;
    if (gguf_arr_str(km, i, &s) != 0)
        return err_set(ei, E_PARSE, "tokenizer.ggml.merges[%llu] unreadable",
                       (unsigned long long)i);
    sp = s.n > 1 ? memchr(s.p + 1, ' ', s.n - 1) : NULL;
    if (!sp)
        return err_set(ei, E_PARSE, "tokenizer.ggml.merges[%llu]: no space separator",
                       (unsigned long long)i);
    j->a = s.p, j->na = (size_t)(sp - s.p);
    j->b = sp + 1, j->nb = s.n - j->na - 1;
    uint64_t h = fnv_step(FNV_OFFSET, j->a, j->na);
    j->ha = fnv_fin(h);
    j->hab = fnv_fin(fnv_step(h, j->b, j->nb));
    j->hb = tok__hash(j->b, j->nb);
    return 0;
}

static int merge_batch(struct tok_vocab *v, const struct gguf_kv *km, uint64_t base, size_t m,
                       struct err_info *ei)
{
    struct merge_job jobs[MERGE_BATCH];
    int rc;
    for (size_t k = 0; k < m; k++) {
        if ((rc = merge_parse(km, base + k, &jobs[k], ei)))
            return rc;
        __builtin_prefetch(&v->hash[jobs[k].ha & v->hash_mask]);
        __builtin_prefetch(&v->hash[jobs[k].hb & v->hash_mask]);
        __builtin_prefetch(&v->hash[jobs[k].hab & v->hash_mask]);
    }
    for (size_t k = 0; k < m; k++) {
        struct merge_job *j = &jobs[k];
        j->l = lookup_h(v, j->ha, j->a, j->na, "", 0);
        j->r = lookup_h(v, j->hb, j->b, j->nb, "", 0);
        j->key = 0;
        /* Parts that are not tokens can never be formed by merging tokens: skip them. */
        if (j->l < 0 || j->r < 0)
            continue;
        j->key = ((uint64_t)(uint32_t)j->l << 32 | (uint32_t)j->r) + 1;
        __builtin_prefetch(&v->merges[mix64(j->key) & v->merge_mask], 1);
    }
    for (size_t k = 0; k < m; k++) {
        struct merge_job *j = &jobs[k];
        if (j->key)
            merge_insert(v, j->l, j->r, (uint32_t)(base + k),
                         lookup_h(v, j->hab, j->a, j->na, j->b, j->nb));
    }
    return 0;
}

static int load_merges(const struct gguf *g, struct tok_vocab *v, struct err_info *ei)
{
    const struct gguf_kv *km;
    int rc;
    if ((rc = get_array(g, "tokenizer.ggml.merges", GGUF_VT_STRING, 0, TOK_MAX_MERGES, &km, ei)))
        return rc;
    if (!km)
        return err_set(ei, E_PARSE, "tokenizer.ggml.merges missing for a gpt2 tokenizer");
    /* At most ~70% full: short probes, half the memory of a 2x table. */
    v->merge_mask = pow2_at_least(km->arr_n + km->arr_n / 2 + 1) - 1;
    v->merges = mem_calloc(v->merge_mask + 1, sizeof(*v->merges));
    if (!v->merges)
        return err_set(ei, E_NOMEM, "merges: out of memory");
    for (uint64_t i = 0; i < km->arr_n; i += MERGE_BATCH) {
        size_t m = km->arr_n - i < MERGE_BATCH ? (size_t)(km->arr_n - i) : MERGE_BATCH;
        if ((rc = merge_batch(v, km, i, m, ei)))
            return rc;
    }
    return 0;
}

/* Reads an id key: absent, 0xFFFFFFFF, negative or out of range keeps *id. */
static void load_id(const struct gguf *g, const struct tok_vocab *v, const char *key, int32_t *id)
{
    int64_t x;
    if (gguf_get_i64(g, key, &x) != 0)
        return;
    if (x == 0xFFFFFFFFll || x < 0) {
        *id = TOK_NONE;
        return;
    }
    if (x < (int64_t)v->n)
        *id = (int32_t)x;
}

static void load_flag(const struct gguf *g, const char *key, int *flag)
{
    int b;
    if (gguf_get_bool(g, key, &b) == 0)
        *flag = b ? 1 : 0;
}

/* 1 when every "▁" in every token is at the start or right after another "▁". */
static int spm_words_independent(const struct tok_vocab *v)
{
    for (uint32_t i = 0; i < v->n; i++) {
        const char *t = v->text_pool + v->text_off[i];
        size_t n = v->text_len[i], k = 0;
        while (k + 3 <= n && memcmp(t + k, "\xe2\x96\x81", 3) == 0)
            k += 3;
        if (k < n && memmem(t + k, n - k, "\xe2\x96\x81", 3))
            return 0;
    }
    return 1;
}

static void set_defaults(struct tok_vocab *v)
{
    v->bos = v->eos = v->eot = v->eom = v->unk = v->pad = v->sep = v->nl = TOK_NONE;
    switch (v->kind) {
    case TOK_KIND_SPM:
        v->bos = 1, v->eos = 2, v->unk = 0;
        v->add_bos = 1, v->add_space_prefix = 1;
        break;
    case TOK_KIND_BPE:
        v->bos = 11, v->eos = 11;
        tok__bpe_pre_defaults(v->pre, &v->add_bos, &v->ignore_merges);
        break;
    case TOK_KIND_WPM:
        v->bos = 101, v->unk = 100, v->sep = 102, v->pad = 0;
        v->add_bos = 1, v->add_eos = 1;
        break;
    }
    /* Defaults beyond a tiny vocabulary do not exist. */
    int32_t *ids[] = {&v->bos, &v->eos, &v->unk, &v->sep, &v->pad};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        if (*ids[i] >= (int32_t)v->n)
            *ids[i] = TOK_NONE;
}

static void load_specials_ids(const struct gguf *g, struct tok_vocab *v)
{
    set_defaults(v);
    load_id(g, v,
            v->kind == TOK_KIND_WPM ? "tokenizer.ggml.cls_token_id" : "tokenizer.ggml.bos_token_id",
            &v->bos);
    if (v->kind == TOK_KIND_WPM)
        load_id(g, v, "tokenizer.ggml.bos_token_id", &v->bos);
    load_id(g, v, "tokenizer.ggml.eos_token_id", &v->eos);
    load_id(g, v, "tokenizer.ggml.eot_token_id", &v->eot);
    load_id(g, v, "tokenizer.ggml.eom_token_id", &v->eom);
    load_id(g, v, "tokenizer.ggml.unknown_token_id", &v->unk);
    load_id(g, v, "tokenizer.ggml.padding_token_id", &v->pad);
    load_id(g, v, "tokenizer.ggml.seperator_token_id", &v->sep);
    load_flag(g, "tokenizer.ggml.add_bos_token", &v->add_bos);
    load_flag(g, "tokenizer.ggml.add_eos_token", &v->add_eos);
    load_flag(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix);
    if (v->kind == TOK_KIND_WPM) {
        v->add_eos = v->sep >= 0; /* [SEP] closes a bert sequence */
        load_flag(g, "tokenizer.ggml.add_sep_token", &v->add_eos);
    }
}

/* ---- pieces, byte tokens, end-of-generation, special list -------------------------------- */

/* GPT-2 byte-level alphabet: byte b <-> code point. */
static uint32_t bpe_byte_cp(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))
        return b;
    unsigned k = 0;
    for (unsigned c = 0; c < b; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174)))
            k++;
    return 256 + k;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* "<0xNN>" -> NN, else -1. */
static int parse_byte_token(const char *s, size_t n)
{
    unsigned x;
    char tail;
    if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>')
        return -1;
    char hex[3] = {s[3], s[4], 0};
    if (sscanf(hex, "%2x%c", &x, &tail) != 1)
        return -1;
    return (int)x;
}

/* Decoded piece of a byte-level BPE text: each alphabet code point back to its byte; other
 * code points are kept as their UTF-8 bytes.  Never longer than the input. */
static size_t bpe_decode(const int16_t *cp2byte, const char *s, size_t n, char *o)
{
    size_t k = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t l = tok__utf8_len(c);
        uint32_t cp = c;
        if (l == 2 && i + 1 < n)
            cp = ((uint32_t)(c & 0x1F) << 6) | ((unsigned char)s[i + 1] & 0x3F);
        if (l <= 2 && i + l <= n && cp < 324 && cp2byte[cp] >= 0) {
            o[k++] = (char)cp2byte[cp];
            i += l;
            continue;
        }
        l = (i + l <= n) ? l : n - i;
        memcpy(o + k, s + i, l);
        k += l, i += l;
    }
    return k;
}

/* SPM/WPM: "▁" -> " ". */
static size_t spm_unescape(const char *s, size_t n, char *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
            o[k++] = ' ';
            i += 2;
        } else {
            o[k++] = s[i];
        }
    }
    return k;
}

/* Writes the decoded piece of token i to o (never longer than its text); returns its length. */
static size_t piece_of(struct tok_vocab *v, uint32_t i, const int16_t *cp2byte, char *o)
{
    const char *s = v->text_pool + v->text_off[i];
    size_t n = v->text_len[i];
    uint8_t t = v->type[i];
    int byte = parse_byte_token(s, n);
    if (t == TOK_TYPE_CONTROL || t == TOK_TYPE_UNKNOWN || t == TOK_TYPE_USER_DEFINED) {
        memcpy(o, s, n);
        return n;
    }
    if (byte >= 0 && (t == TOK_TYPE_BYTE || v->kind == TOK_KIND_SPM)) {
        o[0] = (char)byte;
        if (v->byte_tok[byte] < 0)
            v->byte_tok[byte] = (int32_t)i;
        return 1;
    }
    if (v->kind == TOK_KIND_BPE)
        return bpe_decode(cp2byte, s, n, o);
    return spm_unescape(s, n, o);
}

static void build_pieces(struct tok_vocab *v)
{
    int16_t cp2byte[324];
    uint32_t off = 0;
    memset(cp2byte, 0xff, sizeof(cp2byte));
    for (unsigned b = 0; b < 256; b++)
        cp2byte[bpe_byte_cp(b)] = (int16_t)b;
    for (int b = 0; b < 256; b++)
        v->byte_tok[b] = -1;
    for (uint32_t i = 0; i < v->n; i++) {
        size_t k = piece_of(v, i, cp2byte, v->piece_pool + off);
        v->piece_off[i] = off;
        v->piece_len[i] = (uint32_t)k;
        if (k > v->max_piece_len)
            v->max_piece_len = (uint32_t)k;
        v->piece_pool[off + k] = 0;
        off += (uint32_t)k + 1;
    }
    if (v->kind == TOK_KIND_BPE) {
        for (unsigned b = 0; b < 256; b++) {
            char u[4];
            v->byte_tok[b] = tok__lookup(v, u, put_utf8(u, bpe_byte_cp(b)));
        }
        v->nl = tok__lookup(v, "\xc4\x8a", 2);
    } else if (v->kind == TOK_KIND_SPM) {
        /* Without <0xNN> tokens llama.cpp falls back to the one-byte token. */
        for (unsigned b = 0; b < 256; b++)
            if (v->byte_tok[b] < 0) {
                char c = (char)b;
                v->byte_tok[b] = tok__lookup(v, &c, 1);
            }
        v->nl = v->byte_tok['\n'];
    }
}

/* Texts llama.cpp takes as end-of-turn when no eot id is given (in this order). */
static const char *const eot_texts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<EOT>",
    "_<EOT>",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81"
    "of\xe2\x96\x81"
    "sentence\xef\xbd\x9c>",
};

/* Texts that end generation whatever the ids say. */
static const char *const eog_texts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<|return|>",
    "<|call|>",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81"
    "of\xe2\x96\x81"
    "sentence\xef\xbd\x9c>",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* End-of-generation set: eos, eot, eom and the tokens named above, which also become CONTROL
 * (so they are not matched in text without parse_special), as llama.cpp does. */
static void mark_eog(struct tok_vocab *v)
{
    for (size_t i = 0; v->eot < 0 && i < N_OF(eot_texts); i++)
        v->eot = tok__lookup(v, eot_texts[i], strlen(eot_texts[i]));
    if (v->eot < 0)
        v->eot = TOK_NONE;
    for (size_t i = 0; i < N_OF(eog_texts); i++) {
        int32_t id = tok__lookup(v, eog_texts[i], strlen(eog_texts[i]));
        if (id < 0)
            continue;
        v->flags[id] |= TOK_FLAG_EOG;
        v->type[id] = TOK_TYPE_CONTROL;
    }
    int32_t ids[] = {v->eos, v->eot, v->eom};
    for (size_t i = 0; i < N_OF(ids); i++)
        if (ids[i] >= 0)
            v->flags[ids[i]] |= TOK_FLAG_EOG;
}

/* Whitespace stripping around special tokens that llama.cpp sets by model name: Phi-3's
 * special tokens eat the whitespace after them (except <unk>, <s>, <|endoftext|>); jina-v2 and
 * nomic-bert-moe's <mask> eats the whitespace before it. */
static void set_strip_flags(const struct gguf *g, struct tok_vocab *v)
{
    struct gguf_str s;
    char name[128] = "";
    if (gguf_get_str(g, "general.name", &s) == 0) {
        size_t n = s.n < sizeof(name) - 1 ? (size_t)s.n : sizeof(name) - 1;
        for (size_t i = 0; i < n; i++)
            name[i] = (char)(s.p[i] >= 'A' && s.p[i] <= 'Z' ? s.p[i] + 32 : s.p[i]);
        name[n] = 0;
    }
    struct gguf_str arch = {"", 0};
    (void)gguf_get_str(g, "general.architecture", &arch);
    if (strstr(v->pre, "jina-v2-") || gguf_str_eq(arch, "nomic-bert-moe")) {
        int32_t id = tok__lookup(v, "<mask>", 6);
        if (id >= 0)
            v->flags[id] |= TOK_FLAG_LSTRIP;
    } else if (strstr(name, "phi-3") || strstr(name, "phi3")) {
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (uint32_t i = 0; i < v->n; i++)
            if (v->type[i] == TOK_TYPE_CONTROL || v->type[i] == TOK_TYPE_USER_DEFINED ||
                v->type[i] == TOK_TYPE_UNKNOWN)
                v->flags[i] |= TOK_FLAG_RSTRIP;
        for (size_t i = 0; i < N_OF(keep); i++) {
            int32_t id = tok__lookup(v, keep[i], strlen(keep[i]));
            if (id >= 0)
                v->flags[id] &= (uint8_t)~TOK_FLAG_RSTRIP;
        }
    }
}

struct special_ent {
    uint32_t len;
    int32_t id;
};

/* Longest text first; ties by id so the order is deterministic. */
static int cmp_special(const void *a, const void *b)
{
    const struct special_ent *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int is_special_type(uint8_t t)
{
    return t == TOK_TYPE_CONTROL || t == TOK_TYPE_USER_DEFINED || t == TOK_TYPE_UNKNOWN;
}

static int build_specials(struct tok_vocab *v)
{
    uint32_t n = 0;
    struct special_ent *e;
    for (uint32_t i = 0; i < v->n; i++)
        if (is_special_type(v->type[i]) && v->text_len[i] > 0)
            n++;
    v->special = mem_alloc_array(n ? n : 1, sizeof(int32_t));
    e = mem_alloc_array(n ? n : 1, sizeof(*e));
    if (!v->special || !e) {
        mem_free(e);
        return E_NOMEM;
    }
    n = 0;
    for (uint32_t i = 0; i < v->n; i++)
        if (is_special_type(v->type[i]) && v->text_len[i] > 0)
            e[n].len = v->text_len[i], e[n++].id = (int32_t)i;
    qsort(e, n, sizeof(*e), cmp_special);
    for (uint32_t i = 0; i < n; i++)
        v->special[i] = e[i].id;
    v->n_special = n;
    mem_free(e);
    return 0;
}

int tok_vocab_load(const struct gguf *g, struct tok_vocab **out, struct err_info *ei)
{
    struct tok_vocab *v;
    int rc;
    if (!g || !out)
        return err_set(ei, E_INVAL, "tok_vocab_load: NULL argument");
    if (!(v = mem_calloc(1, sizeof(*v))))
        return err_set(ei, E_NOMEM, "out of memory");
    if ((rc = load_kind(g, v, ei)) || (rc = load_tokens(g, v, ei)))
        goto out;
    if (v->kind == TOK_KIND_BPE && (rc = load_merges(g, v, ei)))
        goto out;
    load_specials_ids(g, v);
    build_pieces(v);
    if (v->kind == TOK_KIND_SPM)
        v->spm_word_split = spm_words_independent(v);
    mark_eog(v);
    set_strip_flags(g, v);
    if ((rc = build_specials(v))) {
        err_set(ei, rc, "special tokens: out of memory");
        goto out;
    }
    if (v->kind == TOK_KIND_BPE && (rc = tok__bpe_init(v, ei)))
        goto out;
    *out = v;
    v = NULL;
out:
    tok_vocab_free(v);
    return rc;
}

void tok_vocab_free(struct tok_vocab *v)
{
    if (!v)
        return;
    tok__bpe_fini(v);
    mem_free(v->text_pool);
    mem_free(v->piece_pool);
    mem_free(v->text_off);
    mem_free(v->text_len);
    mem_free(v->piece_off);
    mem_free(v->piece_len);
    mem_free(v->score);
    mem_free(v->type);
    mem_free(v->flags);
    mem_free(v->hash);
    mem_free(v->merges);
    mem_free(v->special);
    mem_free(v);
}

/* ---- accessors ---------------------------------------------------------------------------- */

static int valid(const struct tok_vocab *v, int32_t id)
{
    return v && id >= 0 && (uint32_t)id < v->n;
}

const char *tok_piece(const struct tok_vocab *v, int32_t id, size_t *len)
{
    if (!valid(v, id)) {
        *len = 0;
        return "";
    }
    *len = v->piece_len[id];
    return v->piece_pool + v->piece_off[id];
}

const char *tok_text(const struct tok_vocab *v, int32_t id)
{
    return valid(v, id) ? v->text_pool + v->text_off[id] : "";
}

int32_t tok_find(const struct tok_vocab *v, const char *s, size_t n)
{
    int32_t id = v ? tok__lookup(v, s, n) : -1;
    return id < 0 ? TOK_NONE : id;
}

size_t tok_n_vocab(const struct tok_vocab *v)
{
    return v->n;
}

size_t tok_max_piece(const struct tok_vocab *v)
{
    return v->max_piece_len;
}

enum tok_kind tok_kind(const struct tok_vocab *v)
{
    return v->kind;
}

const char *tok_pre_name(const struct tok_vocab *v)
{
    return v->pre;
}

int32_t tok_bos(const struct tok_vocab *v)
{
    return v->bos;
}

int32_t tok_eos(const struct tok_vocab *v)
{
    return v->eos;
}

int32_t tok_eot(const struct tok_vocab *v)
{
    return v->eot;
}

int32_t tok_unk(const struct tok_vocab *v)
{
    return v->unk;
}

int32_t tok_pad(const struct tok_vocab *v)
{
    return v->pad;
}

int32_t tok_sep(const struct tok_vocab *v)
{
    return v->sep;
}

int32_t tok_nl(const struct tok_vocab *v)
{
    return v->nl;
}

int tok_add_bos(const struct tok_vocab *v)
{
    return v->add_bos;
}

int tok_add_eos(const struct tok_vocab *v)
{
    return v->add_eos;
}

enum tok_type tok_token_type(const struct tok_vocab *v, int32_t id)
{
    return valid(v, id) ? (enum tok_type)v->type[id] : TOK_TYPE_UNDEFINED;
}

int tok_is_eog(const struct tok_vocab *v, int32_t id)
{
    return valid(v, id) && (v->flags[id] & TOK_FLAG_EOG);
}

int tok_is_control(const struct tok_vocab *v, int32_t id)
{
    return valid(v, id) && v->type[id] == TOK_TYPE_CONTROL;
}

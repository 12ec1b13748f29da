/*
 * tok_encode.c - tok_encode: special-token partitioning, BOS/EOS, and dispatch of each text
 * fragment to the SPM, BPE or WordPiece encoder.
 *
 * Partitioning follows llama.cpp's tokenizer_st_partition: the special tokens are taken one by
 * one, longest text first, and each splits every remaining text fragment at all of its
 * (non-overlapping, leftmost-first) occurrences.  With parse_special = 0 only USER_DEFINED
 * tokens take part.  Tokens flagged LSTRIP/RSTRIP (set by model name at load, e.g. Phi-3) drop
 * the whitespace next to them.  SPM fragments get the dummy " " prefix when add_space_prefix is set
 * and the fragment starts the text or follows a special token, then " " -> "▁".
 */
#include "engine/tok/tok.h"

#include <string.h>

#include "common/mem.h"
#include "engine/tok/tok_int.h"

struct frag {
    size_t off, len; /* text bytes when id < 0 */
    int32_t id;      /* special token, or -1 for text */
};

struct frags {
    struct frag *p;
    size_t n, cap;
};

static int frags_push(struct frags *f, size_t off, size_t len, int32_t id)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 16;
        struct frag *np = mem_realloc_array(f->p, nc, sizeof(*np));
        if (!np)
            return E_NOMEM;
        f->p = np, f->cap = nc;
    }
    f->p[f->n].off = off;
    f->p[f->n].len = len;
    f->p[f->n++].id = id;
    return 0;
}

/* C isspace() in the "C" locale, as llama.cpp's partition uses it. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Splits the text fragments of *cur at every occurrence of token id into *nxt. */
static int split_special(const struct tok_vocab *v, const char *text, int32_t id,
                         const struct frags *cur, struct frags *nxt)
{
    const char *t = v->text_pool + v->text_off[id];
    size_t tn = v->text_len[id];
    int rc;
    nxt->n = 0;
    for (size_t i = 0; i < cur->n; i++) {
        struct frag f = cur->p[i];
        if (f.id >= 0 || f.len < tn) {
            if ((rc = frags_push(nxt, f.off, f.len, f.id)))
                return rc;
            continue;
        }
        size_t pos = f.off, end = f.off + f.len;
        const char *m;
        while (end - pos >= tn && (m = memmem(text + pos, end - pos, t, tn))) {
            size_t at = (size_t)(m - text), left_end = at;
            while ((v->flags[id] & TOK_FLAG_LSTRIP) && left_end > pos &&
                   is_space(text[left_end - 1]))
                left_end--;
            if ((left_end > pos && (rc = frags_push(nxt, pos, left_end - pos, -1))) ||
                (rc = frags_push(nxt, 0, 0, id)))
                return rc;
            pos = at + tn;
            while ((v->flags[id] & TOK_FLAG_RSTRIP) && pos < end && is_space(text[pos]))
                pos++;
        }
        if (pos < end && (rc = frags_push(nxt, pos, end - pos, -1)))
            return rc;
    }
    return 0;
}

static int text_contains(const char *text, const struct frags *f, const char *t, size_t tn)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->p[i].id < 0 && f->p[i].len >= tn && memmem(text + f->p[i].off, f->p[i].len, t, tn))
            return 1;
    return 0;
}

/* Filter of 4-byte windows present in the text (no false negatives), so that vocabularies with
 * thousands of special tokens do not run memmem over the whole text for each of them. */
#define GRAM_BITS 18

static uint32_t gram_hash(const char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return (x * 2654435761u) >> (32 - GRAM_BITS);
}

static uint64_t *grams_build(const char *text, size_t len)
{
    uint64_t *g = mem_calloc((1u << GRAM_BITS) / 64, sizeof(uint64_t));
    if (!g)
        return NULL;
    for (size_t i = 0; i + 4 <= len; i++) {
        uint32_t h = gram_hash(text + i);
        g[h >> 6] |= 1ull << (h & 63);
    }
    return g;
}

static int grams_has(const uint64_t *g, const char *p)
{
    uint32_t h = gram_hash(p);
    return (g[h >> 6] >> (h & 63)) & 1;
}

/* 0 when t certainly does not occur in the text. */
static int maybe_in_text(const uint64_t *g, const char *t, size_t tn)
{
    if (!g || tn < 4)
        return 1;
    return grams_has(g, t) && grams_has(g, t + tn - 4) && grams_has(g, t + (tn - 4) / 2);
}

static int partition(const struct tok_vocab *v, const char *text, size_t len, int parse_special,
                     struct frags *out)
{
    struct frags cur = {0}, nxt = {0};
    uint64_t *grams = NULL;
    int rc;
    /* Worth it for long texts only; without memory it is just slower. */
    if (v->n_special > 16 && len >= 256)
        grams = grams_build(text, len);
    if ((rc = frags_push(&cur, 0, len, -1)))
        goto out;
    for (uint32_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special[k];
        if (!parse_special && v->type[id] != TOK_TYPE_USER_DEFINED)
            continue;
        const char *st = v->text_pool + v->text_off[id];
        if (!maybe_in_text(grams, st, v->text_len[id]) ||
            !text_contains(text, &cur, st, v->text_len[id]))
            continue;
        if ((rc = split_special(v, text, id, &cur, &nxt)))
            goto out;
        struct frags t = cur;
        cur = nxt, nxt = t;
    }
    *out = cur;
    cur.p = NULL;
out:
    mem_free(grams);
    mem_free(cur.p);
    mem_free(nxt.p);
    return rc;
}

/* SPM: optional dummy prefix, " " -> "▁", then merge. */
static int spm_fragment(const struct tok_vocab *v, const char *s, size_t n, int prefix,
                        struct tok_out *o)
{
    size_t cap = 3 * n + 3, k = 0;
    char *e = mem_alloc(cap);
    int rc;
    if (!e)
        return E_NOMEM;
    if (prefix) {
        memcpy(e, "\xe2\x96\x81", 3);
        k = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(e + k, "\xe2\x96\x81", 3);
            k += 3;
        } else {
            e[k++] = s[i];
        }
    }
    rc = tok__spm_encode(v, e, k, o);
    mem_free(e);
    return rc;
}

static int encode_frags(const struct tok_vocab *v, const char *text, const struct frags *f,
                        struct tok_out *o)
{
    int prev_special = 1, rc = 0;
    for (size_t i = 0; i < f->n && rc == 0; i++) {
        const struct frag *g = &f->p[i];
        if (g->id >= 0) {
            tok__emit(o, g->id);
            prev_special = 1;
            continue;
        }
        switch (v->kind) {
        case TOK_KIND_SPM:
            rc = spm_fragment(v, text + g->off, g->len, v->add_space_prefix && prev_special, o);
            break;
        case TOK_KIND_BPE:
            rc = tok__bpe_encode(v, text + g->off, g->len, o);
            break;
        case TOK_KIND_WPM:
            rc = tok__wpm_encode(v, text + g->off, g->len, o);
            break;
        }
        prev_special = 0;
    }
    return rc;
}

int tok_encode(const struct tok_vocab *v, const char *text, size_t len, int add_special,
               int parse_special, int32_t *out, size_t cap, size_t *n_out)
{
    struct tok_out o = {out, out ? cap : 0, 0};
    struct frags f = {0};
    int rc = 0;
    if (!v || (!text && len) || !n_out)
        return E_INVAL;
    if (len > TOK_MAX_TEXT_BYTES)
        return E_RANGE;
    if (add_special && v->add_bos && v->bos >= 0)
        tok__emit(&o, v->bos);
    if (len > 0) {
        if ((rc = partition(v, text, len, parse_special, &f)) ||
            (rc = encode_frags(v, text, &f, &o)))
            goto out;
    }
    if (add_special && v->add_eos) {
        int32_t end = v->kind == TOK_KIND_WPM ? v->sep : v->eos;
        if (end >= 0)
            tok__emit(&o, end);
    }
    *n_out = o.n;
    if (o.n > o.cap)
        rc = E_RANGE;
out:
    mem_free(f.p);
    return rc;
}

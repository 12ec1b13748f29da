/*
 * gram_match.c - the incremental matcher, token vocabulary and masking of gram.h.
 *
 * A state is a flat int32 array: [0] words in all, [1] partial UTF-8 value, [2] continuation
 * bytes still expected, [3] number of stacks, then each stack as [len, e_0 .. e_len-1] with the
 * class element to match next on top (e_len-1) and return positions below; an empty stack means
 * the root is complete.  Identical stacks are kept once.  expand() resolves a position to class
 * elements: END pops a return position, REF pushes the position after it (skipped when that is
 * an END, so right recursion such as x* does not grow the stack) and tries every alternative.
 * It keeps the scratch stack below `len` intact for its caller (a pop is undone on return).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engine/gram/gram.h"
#include "engine/gram/gram_int.h"

#define HDR          4
#define EXPAND_CALLS (1 << 16)  /* expansion steps per advanced code point */
#define ARENA_WORDS  (1u << 20) /* prefix states of the mask walk */
#define FIRST_WORDS  (1u << 12) /* first size of the state buffers (they grow on demand) */
#define MAX_CALL     (GRAM_MAX_DEPTH * 2 + 8)
#define SCRATCH      (GRAM_MAX_DEPTH + 1 + 2 * GRAM_MAX_STACKS)

struct gram_matcher {
    const struct gram *g;
    int32_t *cur, *t1, *t2; /* cap words each */
    int32_t *stk;           /* SCRATCH words: a stack, then struct xp's hash and at */
    size_t cap;             /* words of cur, t1, t2 (grown up to GRAM_MAX_STATE) */
    int32_t *arena;         /* arena_cap words (up to ARENA_WORDS), allocated at the first mask */
    size_t arena_cap;
    uint32_t off[GRAM_MAX_TOKEN + 2];
};

struct gram_vocab {
    int32_t n_vocab;
    char *bytes;
    uint32_t *off; /* [n_vocab + 1] */
    uint8_t *eog;
    int32_t *order; /* tokens with text, sorted by bytes */
    uint16_t *lcp;  /* common prefix with the previous one in order */
    int32_t n_order;
};

/* ---- expansion --------------------------------------------------------------------------- */

struct xp {
    const struct gram *g;
    int32_t *out, *stk;
    size_t cap, n;
    int calls;
    uint32_t *hash; /* [GRAM_MAX_STACKS] of each stack written, to find duplicates cheaply */
    uint32_t *at;   /* [GRAM_MAX_STACKS] where each stack starts in out */
};

static int emit(struct xp *x, int len)
{
    int32_t *o = x->out;
    uint32_t h = 2166136261u ^ (uint32_t)len;
    for (int i = 0; i < len; i++)
        h = (h ^ (uint32_t)x->stk[i]) * 16777619u;
    for (int32_t s = 0; s < o[3]; s++)
        if (x->hash[s] == h && o[x->at[s]] == len &&
            memcmp(o + x->at[s] + 1, x->stk, (size_t)len * sizeof(int32_t)) == 0)
            return 0;
    if (o[3] >= GRAM_MAX_STACKS || x->n + 1 + (size_t)len > x->cap)
        return E_RANGE;
    x->hash[o[3]] = h;
    x->at[o[3]] = (uint32_t)x->n;
    o[x->n] = len;
    memcpy(o + x->n + 1, x->stk, (size_t)len * sizeof(int32_t));
    x->n += 1 + (size_t)len;
    o[3]++;
    return 0;
}

static int expand(struct xp *x, int len, int32_t p, int depth)
{
    const struct gram *g = x->g;
    int32_t e = g->elem[p];
    int rc;
    if (depth > MAX_CALL || ++x->calls > EXPAND_CALLS)
        return E_RANGE;
    switch (GE_KIND(e)) {
    case GE_CHAR:
        if (len >= GRAM_MAX_DEPTH)
            return E_RANGE;
        x->stk[len] = p;
        return emit(x, len + 1);
    case GE_END: {
        if (len == 0)
            return emit(x, 0);
        int32_t q = x->stk[len - 1];
        rc = expand(x, len - 1, q, depth + 1);
        x->stk[len - 1] = q;
        return rc;
    }
    default: {
        int32_t r = GE_VAL(e);
        int nl = len;
        if (GE_KIND(g->elem[p + 1]) != GE_END) {
            if (len >= GRAM_MAX_DEPTH)
                return E_RANGE;
            x->stk[len] = p + 1;
            nl = len + 1;
        }
        for (int32_t a = g->alt_off[r]; a < g->alt_off[r + 1]; a++)
            if ((rc = expand(x, nl, g->alts[a], depth + 1)) != 0)
                return rc;
        return 0;
    }
    }
}

static void xp_init(struct xp *x, const struct gram *g, int32_t *out, size_t cap, int32_t *stk)
{
    x->g = g;
    x->out = out;
    x->cap = cap;
    x->stk = stk;
    x->hash = (uint32_t *)(stk + GRAM_MAX_DEPTH + 1);
    x->at = x->hash + GRAM_MAX_STACKS;
    x->n = HDR;
    x->calls = 0;
    out[0] = HDR;
    out[1] = out[2] = out[3] = 0;
}

/* out = in advanced by code point cp: 0, E_INVAL (no stack takes it) or E_RANGE (a cap). */
static int advance_cp(const struct gram *g, const int32_t *in, uint32_t cp, int32_t *out,
                      size_t cap, int32_t *stk)
{
    struct xp x;
    size_t at = HDR;
    int rc;
    if (cap < HDR)
        return E_RANGE;
    xp_init(&x, g, out, cap, stk);
    for (int32_t s = 0; s < in[3]; s++) {
        int32_t len = in[at];
        const int32_t *st = in + at + 1;
        at += 1 + (size_t)len;
        if (len == 0 || !gram_class_has(g, GE_VAL(g->elem[st[len - 1]]), cp))
            continue;
        memcpy(stk, st, (size_t)(len - 1) * sizeof(int32_t));
        if ((rc = expand(&x, len - 1, st[len - 1] + 1, 0)) != 0)
            return rc;
    }
    out[0] = (int32_t)x.n;
    return out[3] ? 0 : E_INVAL;
}

/* out = in advanced by one byte.  Only well-formed UTF-8 passes: no overlong forms, surrogates
 * or code points above U+10FFFF (in[2] holds the bytes still expected and, from bit 4, the
 * length of the sequence). */
static int advance_byte(const struct gram *g, const int32_t *in, uint8_t b, int32_t *out,
                        size_t cap, int32_t *stk)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t val = (uint32_t)in[1];
    int rem = in[2] & 15, len = in[2] >> 4;
    if (rem > 0) {
        if ((b & 0xc0) != 0x80)
            return E_INVAL;
        val = (val << 6) | (b & 0x3fu);
        rem--;
    } else if (b < 0x80) {
        val = b, len = 1;
    } else if ((b & 0xe0) == 0xc0) {
        val = b & 0x1fu, rem = 1, len = 2;
    } else if ((b & 0xf0) == 0xe0) {
        val = b & 0x0fu, rem = 2, len = 3;
    } else if ((b & 0xf8) == 0xf0) {
        val = b & 0x07u, rem = 3, len = 4;
    } else {
        return E_INVAL;
    }
    /* the code points this prefix can still become */
    uint32_t lo = val << (6 * rem), hi = lo | ((1u << (6 * rem)) - 1), at = HDR;
    if (hi < min_cp[len] || lo > 0x10ffff || (lo >= 0xd800 && hi <= 0xdfff))
        return E_INVAL;
    if (rem == 0)
        return advance_cp(g, in, val, out, cap, stk);
    if (lo < min_cp[len])
        lo = min_cp[len];
    if (hi > 0x10ffff)
        hi = 0x10ffff;
    int ok = 0;
    for (int32_t s = 0; s < in[3] && !ok; s++) {
        int32_t n = in[at];
        if (n > 0 && gram_class_meets(g, GE_VAL(g->elem[in[at + (uint32_t)n]]), lo, hi))
            ok = 1;
        at += 1 + (uint32_t)n;
    }
    if (!ok)
        return E_INVAL;
    if ((size_t)in[0] > cap)
        return E_RANGE;
    memcpy(out, in, (size_t)in[0] * sizeof(int32_t));
    out[1] = (int32_t)val;
    out[2] = rem | (len << 4);
    return 0;
}

/* ---- matcher ----------------------------------------------------------------------------- */

/* Doubles the state buffers (up to GRAM_MAX_STATE words): 0, E_RANGE at the cap, E_NOMEM. */
static int grow(struct gram_matcher *m)
{
    int32_t **b[3] = {&m->cur, &m->t1, &m->t2};
    size_t cap = m->cap * 2 > GRAM_MAX_STATE ? GRAM_MAX_STATE : m->cap * 2;
    if (m->cap >= GRAM_MAX_STATE)
        return E_RANGE;
    for (int i = 0; i < 3; i++) {
        int32_t *p = mem_realloc_array(*b[i], cap, sizeof(int32_t));
        if (!p)
            return E_NOMEM;
        *b[i] = p;
    }
    m->cap = cap;
    return 0;
}

static int start_state(struct gram_matcher *m)
{
    struct xp x;
    const struct gram *g = m->g;
    int rc;
    for (;;) {
        xp_init(&x, g, m->cur, m->cap, m->stk);
        rc = 0;
        for (int32_t a = g->alt_off[g->root]; rc == 0 && a < g->alt_off[g->root + 1]; a++)
            rc = expand(&x, 0, g->alts[a], 0);
        if (rc != E_RANGE || grow(m) != 0)
            break;
    }
    if (rc != 0)
        return rc;
    m->cur[0] = (int32_t)x.n;
    return 0;
}

int gram_matcher_new(const struct gram *g, struct gram_matcher **out)
{
    struct gram_matcher *m;
    int rc;
    *out = NULL;
    if (!g)
        return E_INVAL;
    if (!(m = mem_calloc(1, sizeof(*m))))
        return E_NOMEM;
    m->g = g;
    m->cap = FIRST_WORDS;
    m->cur = mem_alloc_array(m->cap, sizeof(int32_t));
    m->t1 = mem_alloc_array(m->cap, sizeof(int32_t));
    m->t2 = mem_alloc_array(m->cap, sizeof(int32_t));
    m->stk = mem_alloc_array(SCRATCH, sizeof(int32_t));
    if (!m->cur || !m->t1 || !m->t2 || !m->stk) {
        gram_matcher_free(m);
        return E_NOMEM;
    }
    if ((rc = start_state(m)) != 0) {
        gram_matcher_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void gram_matcher_free(struct gram_matcher *m)
{
    if (!m)
        return;
    mem_free(m->cur);
    mem_free(m->t1);
    mem_free(m->t2);
    mem_free(m->stk);
    mem_free(m->arena);
    mem_free(m);
}

void gram_matcher_reset(struct gram_matcher *m)
{
    if (start_state(m) != 0) { /* cannot happen: the same start worked in gram_matcher_new */
        m->cur[0] = HDR;
        m->cur[1] = m->cur[2] = m->cur[3] = 0;
    }
}

static int32_t *state_buf(struct gram_matcher *m, int i)
{
    return i == 0 ? m->cur : i == 1 ? m->t1 : m->t2;
}

/* Runs p[0..n) from the current state; *res is the buffer of the final state (0 = cur, when
 * n == 0).  The buffers grow when a state does not fit. */
static int run_bytes(struct gram_matcher *m, const uint8_t *p, size_t n, int *res)
{
    int src = 0, rc;
    for (size_t i = 0; i < n; i++) {
        int dst = src == 1 ? 2 : 1;
        while ((rc = advance_byte(m->g, state_buf(m, src), p[i], state_buf(m, dst), m->cap,
                                  m->stk)) == E_RANGE &&
               grow(m) == 0)
            ;
        if (rc != 0)
            return rc;
        src = dst;
    }
    *res = src;
    return 0;
}

int gram_matcher_accept(struct gram_matcher *m, const void *p, size_t n)
{
    int res;
    int32_t *t;
    if (run_bytes(m, p, n, &res) != 0)
        return E_INVAL;
    if (res == 1) {
        t = m->cur, m->cur = m->t1, m->t1 = t;
    } else if (res == 2) {
        t = m->cur, m->cur = m->t2, m->t2 = t;
    }
    return 0;
}

int gram_matcher_allows(struct gram_matcher *m, const void *p, size_t n)
{
    int res;
    return run_bytes(m, p, n, &res) == 0;
}

static int state_complete(const int32_t *st, int all)
{
    size_t at = HDR;
    int any = 0;
    if (st[2] != 0)
        return 0;
    for (int32_t s = 0; s < st[3]; s++) {
        if (st[at] == 0)
            any = 1;
        else if (all)
            return 0;
        at += 1 + (size_t)st[at];
    }
    return any;
}

int gram_matcher_complete(const struct gram_matcher *m)
{
    return state_complete(m->cur, 0);
}

int gram_matcher_done(const struct gram_matcher *m)
{
    return state_complete(m->cur, 1);
}

/* ---- vocabulary -------------------------------------------------------------------------- */

static int tok_cmp(const void *a, const void *b, void *arg)
{
    const struct gram_vocab *v = arg;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = v->off[x + 1] - v->off[x], ly = v->off[y + 1] - v->off[y];
    int c = memcmp(v->bytes + v->off[x], v->bytes + v->off[y], lx < ly ? lx : ly);
    if (c != 0)
        return c;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

int gram_vocab_new(int32_t n_vocab, gram_piece_fn piece, void *user, struct gram_vocab **out)
{
    struct gram_vocab *v;
    char buf[GRAM_MAX_TOKEN];
    size_t cap = 1 << 16, used = 0;
    int rc = E_NOMEM;
    *out = NULL;
    if (n_vocab <= 0 || n_vocab > SAMP_MAX_VOCAB || !piece)
        return E_INVAL;
    if (!(v = mem_calloc(1, sizeof(*v))))
        return E_NOMEM;
    v->n_vocab = n_vocab;
    v->off = mem_alloc_array((size_t)n_vocab + 1, sizeof(uint32_t));
    v->eog = mem_calloc((size_t)n_vocab, 1);
    v->order = mem_alloc_array((size_t)n_vocab, sizeof(int32_t));
    v->lcp = mem_calloc((size_t)n_vocab, sizeof(uint16_t));
    v->bytes = mem_alloc(cap);
    if (!v->off || !v->eog || !v->order || !v->lcp || !v->bytes)
        goto fail;
    for (int32_t t = 0; t < n_vocab; t++) {
        size_t n = 0;
        int eog = 0;
        v->off[t] = (uint32_t)used;
        if (piece(user, t, buf, sizeof(buf), &n, &eog) != 0 || n > sizeof(buf))
            n = 0; /* too long or unrenderable: never allowed as text */
        v->eog[t] = eog != 0;
        if (eog)
            n = 0;
        if (used + n > cap) {
            char *p;
            while (used + n > cap)
                cap *= 2;
            if (cap > UINT32_MAX || !(p = mem_realloc(v->bytes, cap)))
                goto fail;
            v->bytes = p;
        }
        memcpy(v->bytes + used, buf, n);
        used += n;
        if (n > 0)
            v->order[v->n_order++] = t;
    }
    v->off[n_vocab] = (uint32_t)used;
    qsort_r(v->order, (size_t)v->n_order, sizeof(int32_t), tok_cmp, v);
    for (int32_t i = 1; i < v->n_order; i++) {
        int32_t a = v->order[i - 1], b = v->order[i];
        uint32_t la = v->off[a + 1] - v->off[a], lb = v->off[b + 1] - v->off[b], k = 0;
        while (k < la && k < lb && v->bytes[v->off[a] + k] == v->bytes[v->off[b] + k])
            k++;
        v->lcp[i] = (uint16_t)k;
    }
    *out = v;
    return 0;
fail:
    gram_vocab_free(v);
    return rc;
}

void gram_vocab_free(struct gram_vocab *v)
{
    if (!v)
        return;
    mem_free(v->bytes);
    mem_free(v->off);
    mem_free(v->eog);
    mem_free(v->order);
    mem_free(v->lcp);
    mem_free(v);
}

/* ---- masking ----------------------------------------------------------------------------- */

int gram_token_allowed(struct gram_matcher *m, const struct gram_vocab *v, int32_t tok)
{
    uint32_t len;
    if (tok < 0 || tok >= v->n_vocab)
        return 0;
    if (v->eog[tok])
        return gram_matcher_complete(m);
    len = v->off[tok + 1] - v->off[tok];
    if (len == 0 || gram_matcher_done(m))
        return 0;
    return gram_matcher_allows(m, v->bytes + v->off[tok], len);
}

/* Doubles the mask arena (up to ARENA_WORDS); states in it stay where they are (offsets). */
static int arena_grow(struct gram_matcher *m)
{
    size_t cap = m->arena_cap ? m->arena_cap * 2 : FIRST_WORDS;
    int32_t *p;
    if (m->arena_cap >= ARENA_WORDS)
        return E_RANGE;
    if (cap > ARENA_WORDS)
        cap = ARENA_WORDS;
    if (!(p = mem_realloc_array(m->arena, cap, sizeof(int32_t))))
        return E_NOMEM;
    m->arena = p;
    m->arena_cap = cap;
    return 0;
}

void gram_mask(struct gram_matcher *m, const struct gram_vocab *v, float *logits, int n)
{
    int complete = gram_matcher_complete(m), done = gram_matcher_done(m);
    uint32_t valid = 0, dead = 0;
    if (n > v->n_vocab)
        n = v->n_vocab;
    for (int32_t t = 0; t < n; t++)
        if (v->eog[t] ? !complete : (done || v->off[t + 1] == v->off[t]))
            logits[t] = -INFINITY;
    if (done)
        return;
    while (m->arena_cap < (size_t)m->cur[0] || m->arena_cap < FIRST_WORDS) {
        if (arena_grow(m) != 0) {
            for (int32_t i = 0; i < v->n_order; i++)
                if (v->order[i] < n)
                    logits[v->order[i]] = -INFINITY;
            return;
        }
    }
    memcpy(m->arena, m->cur, (size_t)m->cur[0] * sizeof(int32_t));
    m->off[0] = 0;
    for (int32_t i = 0; i < v->n_order; i++) {
        int32_t t = v->order[i];
        const uint8_t *b = (const uint8_t *)v->bytes + v->off[t];
        uint32_t len = v->off[t + 1] - v->off[t], l = v->lcp[i], d;
        if (valid > l)
            valid = l;
        if (dead && l < dead)
            dead = 0;
        if (dead || len > GRAM_MAX_TOKEN) {
            if (t < n)
                logits[t] = -INFINITY;
            continue;
        }
        for (d = valid; d < len; d++) {
            int rc;
            do {
                const int32_t *src = m->arena + m->off[d];
                uint32_t o = m->off[d] + (uint32_t)src[0];
                m->off[d + 1] = o;
                rc = o >= m->arena_cap
                         ? E_RANGE
                         : advance_byte(m->g, src, b[d], m->arena + o, m->arena_cap - o, m->stk);
            } while (rc == E_RANGE && arena_grow(m) == 0);
            if (rc != 0) {
                dead = d + 1;
                break;
            }
        }
        valid = d;
        if (d < len && t < n)
            logits[t] = -INFINITY;
    }
}

int gram_accept_token(struct gram_matcher *m, const struct gram_vocab *v, int32_t tok)
{
    if (!gram_token_allowed(m, v, tok))
        return E_INVAL;
    if (v->eog[tok])
        return 0;
    return gram_matcher_accept(m, v->bytes + v->off[tok], v->off[tok + 1] - v->off[tok]);
}

struct mask_ctx {
    struct gram_matcher *m;
    const struct gram_vocab *v;
};

static void mask_cb(void *user, float *logits, int n)
{
    struct mask_ctx *c = user;
    gram_mask(c->m, c->v, logits, n);
}

int32_t gram_resample(struct gram_matcher *m, const struct gram_vocab *v, struct samp *s,
                      const float *logits)
{
    struct mask_ctx c = {m, v};
    int32_t tok;
    samp_set_bias(s, mask_cb, &c);
    tok = samp_sample(s, logits);
    samp_set_bias(s, NULL, NULL);
    return tok;
}

int32_t gram_sample(struct gram_matcher *m, const struct gram_vocab *v, struct samp *s,
                    const float *logits, int *masked)
{
    int32_t tok = samp_sample(s, logits);
    if (masked)
        *masked = 0;
    if (tok >= 0 && gram_token_allowed(m, v, tok))
        return tok;
    if (masked)
        *masked = 1;
    return gram_resample(m, v, s, logits);
}

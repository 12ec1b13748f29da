/*
 * tok_spm.c - SentencePiece-style tokenization ("llama" vocabularies): merge adjacent symbols by
 * highest token score, then byte fallback for what is left.
 *
 * The input is one text fragment already prefixed with the dummy space (when the vocabulary asks)
 * and with " " replaced by "▁".  It is split into UTF-8 characters (a stray byte is a character
 * of its own); every adjacent pair whose concatenation is a token goes into a binary heap
 * (tok_heap.c) ordered by (score desc, left position asc); popping a pair whose symbols are
 * unchanged merges them and queues the new neighbours.  Every final symbol is a token, or a single
 * character not in the vocabulary, which becomes its <0xNN> byte tokens (unk without them).  This
 * is the algorithm of llama.cpp's llm_tokenizer_spm (the re-segmentation step there is never
 * reached for merged symbols, which are tokens by construction).
 */
#include "engine/tok/tok.h"

#include <string.h>

#include "common/mem.h"
#include "engine/tok/tok_int.h"

struct spm_sym {
    int32_t prev, next;
    uint32_t off, n; /* bytes of the text */
};

struct spm_work {
    const struct tok_vocab *v;
    const char *text;
    struct spm_sym *sym;
    struct tok_heap heap; /* ordered by score */
};

static void try_pair(struct spm_work *w, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return;
    const struct spm_sym *a = &w->sym[l], *b = &w->sym[r];
    uint32_t size = a->n + b->n;
    int32_t id = tok__lookup(w->v, w->text + a->off, size);
    if (id < 0)
        return;
    struct tok_pair p = {w->v->score[id], 0, l, r, -1, size};
    tok__heap_push(&w->heap, &p);
}

static void emit_sym(const struct spm_work *w, const struct spm_sym *s, struct tok_out *o)
{
    const struct tok_vocab *v = w->v;
    int32_t id = tok__lookup(v, w->text + s->off, s->n);
    if (id >= 0) {
        tok__emit(o, id);
        return;
    }
    for (uint32_t k = 0; k < s->n; k++) {
        int32_t b = v->byte_tok[(unsigned char)w->text[s->off + k]];
        if (b >= 0)
            tok__emit(o, b);
        else if (v->unk >= 0)
            tok__emit(o, v->unk);
    }
}

/* Bytes of the character at s: a UTF-8 sequence when its continuation bytes are all there,
 * else 1.  (llama.cpp trusts the lead byte; on invalid UTF-8 that can swallow the first byte of
 * a following "▁", which then decodes as bytes instead of a space.  Valid text splits the
 * same either way.) */
static size_t char_len(const char *s, size_t avail)
{
    size_t l = tok__utf8_len((unsigned char)s[0]);
    if (l > avail)
        return 1;
    for (size_t k = 1; k < l; k++)
        if (((unsigned char)s[k] & 0xC0) != 0x80)
            return 1;
    return l;
}

/* Merges and emits one segment w->text[0..n); w->sym has room for n symbols. */
static int spm_segment(struct spm_work *w, size_t n, struct tok_out *o)
{
    const char *s = w->text;
    size_t n_sym = 0;
    w->heap.n = 0;
    for (size_t off = 0; off < n;) {
        size_t l = char_len(s + off, n - off);
        w->sym[n_sym].prev = (int32_t)n_sym - 1;
        w->sym[n_sym].off = (uint32_t)off;
        w->sym[n_sym].n = (uint32_t)l;
        off += l;
        w->sym[n_sym].next = off < n ? (int32_t)n_sym + 1 : -1;
        n_sym++;
    }
    for (size_t i = 1; i < n_sym; i++)
        try_pair(w, (int32_t)i - 1, (int32_t)i);
    while (w->heap.n > 0) {
        struct tok_pair p = tok__heap_pop(&w->heap);
        struct spm_sym *l = &w->sym[p.left], *r = &w->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->sym[r->next].prev = p.left;
        try_pair(w, l->prev, p.left);
        try_pair(w, p.left, l->next);
    }
    if (w->heap.oom)
        return E_NOMEM;
    for (int32_t i = 0; i >= 0; i = w->sym[i].next)
        emit_sym(w, &w->sym[i], o);
    return 0;
}

#define SPM_SPACE "\xe2\x96\x81"

/* End of the segment starting at off: just before the next "▁" that follows something other
 * than "▁" (a word start), or n. */
static size_t segment_end(const char *s, size_t n, size_t off)
{
    for (size_t i = off + 1; i + 3 <= n; i++) {
        const char *m = memchr(s + i, '\xe2', n - i);
        if (!m)
            return n;
        i = (size_t)(m - s);
        if (i + 3 <= n && memcmp(s + i, SPM_SPACE, 3) == 0 && i > off &&
            !(i >= off + 3 && memcmp(s + i - 3, SPM_SPACE, 3) == 0))
            return i;
    }
    return n;
}

int tok__spm_encode(const struct tok_vocab *v, const char *s, size_t n, struct tok_out *o)
{
    struct spm_work w = {v, s, NULL, {NULL, 0, 0, 1, 0}};
    size_t cap_sym = 0;
    int rc = 0;
    /* When no token has a "▁" after another character (checked at load), no merge can cross a
     * word start, so words are merged one at a time with the same result, a small heap and
     * symbol memory for the longest word only. */
    for (size_t off = 0; off < n && rc == 0;) {
        size_t end = v->spm_word_split ? segment_end(s, n, off) : n;
        if (end - off > cap_sym) {
            size_t nc = end - off > 2 * cap_sym ? end - off : 2 * cap_sym;
            struct spm_sym *ns = mem_realloc_array(w.sym, nc, sizeof(*ns));
            if (!ns) {
                rc = E_NOMEM;
                break;
            }
            w.sym = ns, cap_sym = nc;
        }
        w.text = s + off;
        rc = spm_segment(&w, end - off, o);
        off = end;
    }
    mem_free(w.sym);
    tok__heap_free(&w.heap);
    return rc;
}

/*
 * tok_wpm.c - WordPiece ("bert" vocabularies, e.g. BGE embeddings), as llama.cpp's
 * llm_tokenizer_wpm does it.
 *
 * Pre-processing per code point: accents stripped (base of the canonical decomposition),
 * whitespace splits words, NUL / U+FFFD / control characters are dropped, the rest is
 * lowercased; punctuation, ASCII symbols and CJK ideographs become one-character words.  Each
 * word, prefixed with "▁" (the GGUF conversion stores word-initial pieces with "▁" and
 * continuation pieces without "##"), is split greedily into the longest vocabulary tokens from
 * the left; a word with an unmatched position becomes [UNK] as a whole.  Invalid UTF-8 bytes
 * decode to U+FFFD and are therefore dropped.  Lossy by design (case, accents, whitespace).
 */
#include "engine/tok/tok.h"

#include <string.h>

#include "common/mem.h"
#include "engine/tok/tok_int.h"

/* Decodes one code point at s (avail > 0 bytes); invalid -> U+FFFD over one byte. */
static uint32_t next_cp(const unsigned char *s, size_t avail, size_t *used)
{
    unsigned char c = s[0];
    size_t l = c < 0x80                 ? 1
               : c >= 0xC2 && c < 0xE0  ? 2
               : c >= 0xE0 && c < 0xF0  ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    uint32_t cp;
    *used = 1;
    if (l == 0 || l > avail)
        return 0xFFFD;
    if (l == 1)
        return c;
    cp = c & (0x7F >> l);
    for (size_t k = 1; k < l; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0xFFFD;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp < 0xE000))
        return 0xFFFD;
    *used = l;
    return cp;
}

static size_t put_cp(char *o, uint32_t cp)
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
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* BERT's CJK ideograph blocks. */
static int is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* Greedy longest-match of "▁" + word; on failure the word becomes unk. */
static void encode_word(const struct tok_vocab *v, char *w, size_t n, struct tok_out *o)
{
    size_t start = o->n;
    for (size_t i = 0; i < n;) {
        size_t j = i + v->max_token_len < n ? i + v->max_token_len : n;
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = tok__lookup(v, w + i, j - i)) >= 0)
                break;
        if (id < 0) {
            o->n = start;
            break;
        }
        tok__emit(o, id);
        i = j;
    }
    if (o->n == start && v->unk >= 0)
        tok__emit(o, v->unk);
}

/* Word buffer: "▁" then the word's bytes. */
struct wbuf {
    char *p;
    size_t n;
};

static void flush_word(const struct tok_vocab *v, struct wbuf *w, struct tok_out *o)
{
    if (w->n > 3)
        encode_word(v, w->p, w->n, o);
    w->n = 3;
}

int tok__wpm_encode(const struct tok_vocab *v, const char *s, size_t n, struct tok_out *o)
{
    /* Every code point comes from at least one input byte and becomes at most 4 bytes (a
     * lowercase can be longer than its capital), so 4n + 3 bytes hold any word. */
    struct wbuf w = {mem_alloc(4 * n + 8), 3};
    const unsigned char *u = (const unsigned char *)s;
    if (!w.p)
        return E_NOMEM;
    memcpy(w.p, "\xe2\x96\x81", 3);
    for (size_t i = 0; i < n;) {
        size_t used;
        uint32_t cp = tok__uc_nfd_base(next_cp(u + i, n - i, &used));
        uint32_t f = tok__uc_flags(cp);
        i += used;
        if (f & TOK_UC_WHITESPACE) {
            flush_word(v, &w, o);
            continue;
        }
        if (cp == 0 || cp == 0xFFFD || (f & TOK_UC_CONTROL))
            continue;
        cp = tok__uc_lower(cp);
        if ((f & TOK_UC_PUNCT) || (cp < 0x7F && (f & TOK_UC_SYMBOL)) || is_cjk(cp)) {
            flush_word(v, &w, o);
            w.n += put_cp(w.p + w.n, cp);
            flush_word(v, &w, o);
        } else {
            w.n += put_cp(w.p + w.n, cp);
        }
    }
    flush_word(v, &w, o);
    mem_free(w.p);
    return 0;
}

/*
 * tok_detok.c - token ids back to text: the streaming detokenizer (complete UTF-8 only) and
 * tok_decode for whole sequences.
 *
 * A push appends the token's piece (tok_piece; control and unknown tokens only with
 * TOK_DETOK_SPECIAL, unused and undefined ones never, as llama.cpp's token_to_piece) to the
 * held-back bytes and writes out everything except a trailing incomplete UTF-8 sequence (at most 3
 * bytes), which waits for the next piece.  Invalid bytes are never held: only a valid lead byte
 * followed by valid continuation bytes is.  With TOK_DETOK_STRIP_SPACE and an SPM vocabulary that
 * adds the dummy space prefix (or WordPiece), one leading space of the first non-control piece is
 * dropped, as llama.cpp's detokenize does (lstrip 1).
 */
#include "engine/tok/tok.h"

#include <string.h>

#include "engine/tok/tok_int.h"

void tok_detok_init(struct tok_detok *d, const struct tok_vocab *v, unsigned flags)
{
    memset(d, 0, sizeof(*d));
    d->v = v;
    d->flags = flags;
    /* WordPiece pieces start words with a space too ("▁once"). */
    d->strip_pending =
        (flags & TOK_DETOK_STRIP_SPACE) && (v->add_space_prefix || v->kind == TOK_KIND_WPM);
}

/* Start of a trailing incomplete UTF-8 sequence in s[0..n), or n when there is none. */
static size_t incomplete_tail(const unsigned char *s, size_t n)
{
    size_t lo = n > 3 ? n - 3 : 0;
    for (size_t j = n; j > lo; j--) {
        unsigned char c = s[j - 1];
        if ((c & 0xC0) == 0x80)
            continue; /* continuation: look further back for its lead byte */
        size_t need = c >= 0xF0 && c <= 0xF4  ? 4
                      : c >= 0xE0 && c < 0xF0 ? 3
                      : c >= 0xC2 && c < 0xE0 ? 2
                                              : 1;
        return need > n - (j - 1) ? j - 1 : n;
    }
    return n;
}

int tok_detok_push(struct tok_detok *d, int32_t id, char *out, size_t cap, size_t *n_out)
{
    const struct tok_vocab *v = d->v;
    size_t plen, total, keep;
    const char *p;
    if (id < 0 || (uint32_t)id >= v->n)
        return E_INVAL;
    p = tok_piece(v, id, &plen);
    uint8_t t = v->type[id];
    if (((t == TOK_TYPE_CONTROL || t == TOK_TYPE_UNKNOWN) && !(d->flags & TOK_DETOK_SPECIAL)) ||
        t == TOK_TYPE_UNUSED || t == TOK_TYPE_UNDEFINED) {
        plen = 0;
    } else if (d->strip_pending && t != TOK_TYPE_CONTROL) {
        if (plen > 0 && p[0] == ' ')
            p++, plen--;
        d->strip_pending = 0;
    }
    total = d->n_hold + plen;
    if (cap < total) {
        *n_out = total;
        return E_RANGE;
    }
    memcpy(out, d->hold, d->n_hold);
    memcpy(out + d->n_hold, p, plen);
    keep = incomplete_tail((const unsigned char *)out, total);
    d->n_hold = total - keep;
    memcpy(d->hold, out + keep, d->n_hold);
    *n_out = keep;
    return 0;
}

int tok_detok_flush(struct tok_detok *d, char *out, size_t cap, size_t *n_out)
{
    if (cap < d->n_hold) {
        *n_out = d->n_hold;
        return E_RANGE;
    }
    memcpy(out, d->hold, d->n_hold);
    *n_out = d->n_hold;
    d->n_hold = 0;
    return 0;
}

int tok_decode(const struct tok_vocab *v, const int32_t *ids, size_t n_ids, int render_special,
               char *out, size_t cap, size_t *n_out)
{
    struct tok_detok d;
    char tmp[TOK_DETOK_MAX_OUT];
    size_t total = 0, k;
    int rc, fits = 1;
    if (!v || (!ids && n_ids) || !n_out)
        return E_INVAL;
    tok_detok_init(&d, v, (render_special ? TOK_DETOK_SPECIAL : 0u) | TOK_DETOK_STRIP_SPACE);
    for (size_t i = 0; i <= n_ids; i++) {
        if (i < n_ids)
            rc = tok_detok_push(&d, ids[i], tmp, sizeof(tmp), &k);
        else
            rc = tok_detok_flush(&d, tmp, sizeof(tmp), &k);
        if (rc)
            return rc;
        fits = fits && out && total + k <= cap;
        if (fits)
            memcpy(out + total, tmp, k);
        total += k;
    }
    *n_out = total;
    return total > 0 && !fits ? E_RANGE : 0;
}

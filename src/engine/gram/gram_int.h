/*
 * gram_int.h - the compiled grammar shared by the compiler (gram.c) and the matcher
 * (gram_match.c).  An element is one int32: kind in the low 2 bits, value above.  Rule r's
 * alternatives start at elem[alts[alt_off[r]] .. alts[alt_off[r + 1] - 1]]; every alternative
 * ends with a GE_END element.  Class c covers the code point ranges rng[2 * cls_off[c] ..
 * 2 * cls_off[c + 1]) (inclusive pairs), complemented when cls_neg[c].
 */
#ifndef CORRAL_ENGINE_GRAM_INT_H
#define CORRAL_ENGINE_GRAM_INT_H

#include <stdint.h>

#include "engine/gram/gram.h"

enum { GE_END = 0, GE_CHAR = 1, GE_REF = 2 };

#define GE_KIND(e)         ((e)&3)
#define GE_VAL(e)          ((e) >> 2)
#define GE_MAKE(kind, val) ((int32_t)(((uint32_t)(val) << 2) | (uint32_t)(kind)))

struct gram {
    int32_t *elem;
    int32_t n_elem;
    int32_t *alts;    /* element index where each alternative starts */
    int32_t *alt_off; /* [n_rules + 1] */
    int32_t n_rules;
    int32_t root;
    uint32_t *rng;    /* lo, hi pairs */
    int32_t *cls_off; /* [n_cls + 1], in pairs */
    uint8_t *cls_neg;
    int32_t n_cls;
};

/* 1 when class c contains code point cp. */
static inline int gram_class_has(const struct gram *g, int32_t c, uint32_t cp)
{
    int in = 0;
    for (int32_t i = g->cls_off[c]; i < g->cls_off[c + 1]; i++)
        if (cp >= g->rng[2 * i] && cp <= g->rng[2 * i + 1]) {
            in = 1;
            break;
        }
    return in != g->cls_neg[c];
}

/* 1 when class c may contain a code point in [lo, hi] (exact for plain classes, a cheap
 * over-approximation for negated ones). */
static inline int gram_class_meets(const struct gram *g, int32_t c, uint32_t lo, uint32_t hi)
{
    for (int32_t i = g->cls_off[c]; i < g->cls_off[c + 1]; i++) {
        uint32_t a = g->rng[2 * i], b = g->rng[2 * i + 1];
        if (!g->cls_neg[c] && a <= hi && b >= lo)
            return 1;
        if (g->cls_neg[c] && a <= lo && b >= hi)
            return 0;
    }
    return g->cls_neg[c];
}

#endif

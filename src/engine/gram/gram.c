/*
 * gram.c - the grammar compiler (gram.h): a recursive-descent parser of the GBNF subset that
 * builds one element vector per rule (groups and repetitions become generated rules), then
 * checks that every referenced rule is defined, that "root" exists and that no rule can reach
 * itself without consuming input (nullable fixpoint + a topological sort of the left-corner
 * graph), and flattens the vectors into struct gram (gram_int.h).  Every count is capped.
 */
#include "engine/gram/gram.h"

#include <string.h>

#include "common/mem.h"
#include "engine/gram/gram_int.h"

#define GRAM_NULLABLE_PASSES 128 /* fixpoint passes; the runtime caps cover the rest */

struct ivec {
    int32_t *p;
    size_t n, cap;
};

static int iv_push(struct ivec *v, int32_t x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        int32_t *p = mem_realloc_array(v->p, cap, sizeof(*p));
        if (!p)
            return E_NOMEM;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = x;
    return 0;
}

struct prule {
    struct ivec el;
    const char *name; /* into the text; NULL for generated rules */
    size_t name_len;
    int defined;
    const char *ref_at; /* first reference, for the undefined-rule message */
};

struct parser {
    const char *start, *p, *end;
    struct err_info *ei;
    struct prule *rules;
    int32_t n_rules, cap_rules;
    struct ivec rng;  /* lo, hi pairs */
    struct ivec cls;  /* start pair of each class */
    struct ivec negs; /* negated flag of each class */
    size_t n_elems;   /* all rule vectors together */
    int depth;
    int32_t *tab; /* open-addressing table of named rules (id + 1, 0 empty) */
    size_t tab_cap, tab_n;
};

static int perr(struct parser *ps, const char *at, int code, const char *msg, const char *arg,
                size_t arg_len)
{
    int line = 1;
    for (const char *q = ps->start; q < at && q < ps->end; q++)
        line += *q == '\n';
    if (ps->ei) {
        if (arg)
            err_set(ps->ei, code, "grammar line %d: %s '%.*s'", line, msg,
                    (int)(arg_len > 64 ? 64 : arg_len), arg);
        else
            err_set(ps->ei, code, "grammar line %d: %s", line, msg);
        ps->ei->line = line;
    }
    return code;
}

static int new_rule(struct parser *ps, const char *name, size_t len, int32_t *id)
{
    if (ps->n_rules >= GRAM_MAX_RULES)
        return perr(ps, ps->p, E_RANGE, "too many rules", NULL, 0);
    if (ps->n_rules == ps->cap_rules) {
        int32_t cap = ps->cap_rules ? ps->cap_rules * 2 : 16;
        struct prule *r = mem_realloc_array(ps->rules, (size_t)cap, sizeof(*r));
        if (!r)
            return E_NOMEM;
        ps->rules = r;
        ps->cap_rules = cap;
    }
    memset(&ps->rules[ps->n_rules], 0, sizeof(ps->rules[0]));
    ps->rules[ps->n_rules].name = name;
    ps->rules[ps->n_rules].name_len = len;
    ps->rules[ps->n_rules].defined = name == NULL;
    *id = ps->n_rules++;
    return 0;
}

static size_t name_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

/* Slot of name in the table: its entry, or the empty one where it goes. */
static size_t tab_slot(const struct parser *ps, const char *name, size_t len)
{
    size_t i = name_hash(name, len) & (ps->tab_cap - 1);
    for (;; i = (i + 1) & (ps->tab_cap - 1)) {
        int32_t e = ps->tab[i];
        if (e == 0 ||
            (ps->rules[e - 1].name_len == len && memcmp(ps->rules[e - 1].name, name, len) == 0))
            return i;
    }
}

static int tab_grow(struct parser *ps)
{
    size_t cap = ps->tab_cap ? ps->tab_cap * 2 : 64;
    int32_t *old = ps->tab;
    size_t old_cap = ps->tab_cap;
    if (!(ps->tab = mem_calloc(cap, sizeof(int32_t)))) {
        ps->tab = old;
        return E_NOMEM;
    }
    ps->tab_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            ps->tab[tab_slot(ps, ps->rules[old[i] - 1].name, ps->rules[old[i] - 1].name_len)] =
                old[i];
    mem_free(old);
    return 0;
}

/* The rule named name[0..len), created (undefined) on first sight. */
static int lookup(struct parser *ps, const char *name, size_t len, int32_t *id)
{
    size_t at;
    int rc;
    if (2 * (ps->tab_n + 1) > ps->tab_cap && (rc = tab_grow(ps)) != 0)
        return rc;
    at = tab_slot(ps, name, len);
    if (ps->tab[at]) {
        *id = ps->tab[at] - 1;
        return 0;
    }
    if ((rc = new_rule(ps, name, len, id)) != 0)
        return rc;
    ps->rules[*id].ref_at = name;
    ps->tab[at] = *id + 1;
    ps->tab_n++;
    return 0;
}

static int push(struct parser *ps, int32_t r, int32_t e)
{
    if (++ps->n_elems > GRAM_MAX_ELEMS)
        return perr(ps, ps->p, E_RANGE, "grammar too large", NULL, 0);
    return iv_push(&ps->rules[r].el, e);
}

static int new_class(struct parser *ps, int neg, int32_t *id)
{
    int rc;
    if (ps->cls.n >= GRAM_MAX_RANGES)
        return perr(ps, ps->p, E_RANGE, "too many classes", NULL, 0);
    *id = (int32_t)ps->cls.n;
    if ((rc = iv_push(&ps->cls, (int32_t)(ps->rng.n / 2))) != 0)
        return rc;
    return iv_push(&ps->negs, neg);
}

static int add_range(struct parser *ps, uint32_t lo, uint32_t hi)
{
    int rc;
    if (ps->rng.n / 2 >= GRAM_MAX_RANGES)
        return perr(ps, ps->p, E_RANGE, "too many class ranges", NULL, 0);
    if ((rc = iv_push(&ps->rng, (int32_t)lo)) != 0)
        return rc;
    return iv_push(&ps->rng, (int32_t)hi);
}

static int is_name(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Spaces, newlines and comments. */
static void skip_space(struct parser *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
        } else {
            break;
        }
    }
}

static size_t name_len(const struct parser *ps, const char *p)
{
    size_t n = 0;
    while (p + n < ps->end && is_name(p[n]))
        n++;
    return n;
}

/* 1 when the text at p is `name ::=` (the start of the next rule). */
static int at_rule_start(struct parser *ps)
{
    const char *save = ps->p;
    size_t n = name_len(ps, ps->p);
    int yes = 0;
    if (n > 0) {
        ps->p += n;
        skip_space(ps);
        yes = ps->end - ps->p >= 3 && memcmp(ps->p, "::=", 3) == 0;
    }
    ps->p = save;
    return yes;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One UTF-8 code point of the text (validated). */
static int utf8_next(struct parser *ps, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)ps->p;
    size_t left = (size_t)(ps->end - ps->p), len;
    uint32_t c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        ps->p++;
        return 0;
    }
    if ((c & 0xe0) == 0xc0)
        len = 2, c &= 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        len = 3, c &= 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        len = 4, c &= 0x07, min = 0x10000;
    else
        return perr(ps, ps->p, E_PARSE, "invalid UTF-8", NULL, 0);
    if (left < len)
        return perr(ps, ps->p, E_PARSE, "invalid UTF-8", NULL, 0);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return perr(ps, ps->p, E_PARSE, "invalid UTF-8", NULL, 0);
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return perr(ps, ps->p, E_PARSE, "invalid UTF-8", NULL, 0);
    *cp = c;
    ps->p += len;
    return 0;
}

/* One character of a literal or class, escapes decoded. */
static int parse_char(struct parser *ps, uint32_t *cp)
{
    int digits = 0;
    if (ps->p >= ps->end)
        return perr(ps, ps->p, E_PARSE, "unexpected end of grammar", NULL, 0);
    if (*ps->p != '\\')
        return utf8_next(ps, cp);
    if (ps->end - ps->p < 2)
        return perr(ps, ps->p, E_PARSE, "unexpected end of grammar", NULL, 0);
    switch (ps->p[1]) {
    case 'n':
        *cp = '\n';
        break;
    case 'r':
        *cp = '\r';
        break;
    case 't':
        *cp = '\t';
        break;
    case '\\':
    case '"':
    case '\'':
    case '[':
    case ']':
    case '-':
    case '/':
    case '^':
        *cp = (unsigned char)ps->p[1];
        break;
    case 'x':
        digits = 2;
        break;
    case 'u':
        digits = 4;
        break;
    case 'U':
        digits = 8;
        break;
    default:
        return perr(ps, ps->p, E_PARSE, "unknown escape", ps->p, 2);
    }
    if (digits == 0) {
        ps->p += 2;
        return 0;
    }
    if (ps->end - ps->p < 2 + digits)
        return perr(ps, ps->p, E_PARSE, "short escape", NULL, 0);
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        int h = hexval(ps->p[2 + i]);
        if (h < 0)
            return perr(ps, ps->p, E_PARSE, "bad hex escape", NULL, 0);
        v = (v << 4) | (uint32_t)h;
    }
    if (v > 0x10ffff)
        return perr(ps, ps->p, E_PARSE, "code point out of range", NULL, 0);
    *cp = v;
    ps->p += 2 + digits;
    return 0;
}

static int parse_literal(struct parser *ps, int32_t r)
{
    int rc;
    while (ps->p < ps->end && *ps->p != '"') {
        uint32_t cp;
        int32_t c;
        if ((rc = parse_char(ps, &cp)) != 0 || (rc = new_class(ps, 0, &c)) != 0 ||
            (rc = add_range(ps, cp, cp)) != 0 || (rc = push(ps, r, GE_MAKE(GE_CHAR, c))) != 0)
            return rc;
    }
    if (ps->p >= ps->end)
        return perr(ps, ps->p, E_PARSE, "unterminated literal", NULL, 0);
    ps->p++;
    return 0;
}

static int parse_class(struct parser *ps, int32_t r)
{
    int neg = 0, rc;
    int32_t c;
    if (ps->p < ps->end && *ps->p == '^') {
        neg = 1;
        ps->p++;
    }
    if ((rc = new_class(ps, neg, &c)) != 0)
        return rc;
    while (ps->p < ps->end && *ps->p != ']') {
        uint32_t lo, hi;
        if ((rc = parse_char(ps, &lo)) != 0)
            return rc;
        hi = lo;
        if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']') {
            ps->p++;
            if ((rc = parse_char(ps, &hi)) != 0)
                return rc;
            if (hi < lo)
                return perr(ps, ps->p, E_PARSE, "reversed class range", NULL, 0);
        }
        if ((rc = add_range(ps, lo, hi)) != 0)
            return rc;
    }
    if (ps->p >= ps->end)
        return perr(ps, ps->p, E_PARSE, "unterminated character class", NULL, 0);
    ps->p++;
    return push(ps, r, GE_MAKE(GE_CHAR, c));
}

static int parse_int(struct parser *ps, int *v)
{
    int n = 0, digits = 0;
    while (ps->p < ps->end && *ps->p == ' ')
        ps->p++;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        n = n * 10 + (*ps->p++ - '0');
        if (n > GRAM_MAX_REPEAT)
            return perr(ps, ps->p, E_RANGE, "repetition count too large", NULL, 0);
        digits++;
    }
    while (ps->p < ps->end && *ps->p == ' ')
        ps->p++;
    if (!digits)
        return perr(ps, ps->p, E_PARSE, "expected a number", NULL, 0);
    *v = n;
    return 0;
}

/* Applies the postfix operator at ps->p to the elements of rule r from index `from` on. */
static int postfix(struct parser *ps, int32_t r, size_t from)
{
    char op = *ps->p++;
    int m = 0, n = -1, rc;
    int32_t x, g;
    if (op == '?')
        n = 1;
    else if (op == '+')
        m = 1;
    else if (op == '{') {
        if ((rc = parse_int(ps, &m)) != 0)
            return rc;
        n = m;
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            while (ps->p < ps->end && *ps->p == ' ')
                ps->p++;
            if (ps->p < ps->end && *ps->p == '}')
                n = -1;
            else if ((rc = parse_int(ps, &n)) != 0)
                return rc;
        }
        if (ps->p >= ps->end || *ps->p != '}')
            return perr(ps, ps->p, E_PARSE, "expected '}'", NULL, 0);
        ps->p++;
        if (n >= 0 && n < m)
            return perr(ps, ps->p, E_PARSE, "repetition {m,n} with n < m", NULL, 0);
    }
    size_t cnt = ps->rules[r].el.n - from;
    if (cnt == 0)
        return 0;  /* "" repeated */
    if (cnt > 1) { /* a literal: make it one rule */
        if ((rc = new_rule(ps, NULL, 0, &g)) != 0)
            return rc;
        for (size_t i = 0; i < cnt; i++)
            if ((rc = push(ps, g, ps->rules[r].el.p[from + i])) != 0)
                return rc;
        if ((rc = push(ps, g, GE_MAKE(GE_END, 0))) != 0)
            return rc;
        ps->rules[r].el.n = from;
        ps->n_elems -= cnt;
        if ((rc = push(ps, r, GE_MAKE(GE_REF, g))) != 0)
            return rc;
    }
    x = ps->rules[r].el.p[--ps->rules[r].el.n];
    ps->n_elems--;
    for (int i = 0; i < m; i++)
        if ((rc = push(ps, r, x)) != 0)
            return rc;
    if (n < 0) { /* S ::= x S | () */
        if ((rc = new_rule(ps, NULL, 0, &g)) != 0 || (rc = push(ps, g, x)) != 0 ||
            (rc = push(ps, g, GE_MAKE(GE_REF, g))) != 0 ||
            (rc = push(ps, g, GE_MAKE(GE_END, 0))) != 0 ||
            (rc = push(ps, g, GE_MAKE(GE_END, 0))) != 0)
            return rc;
        return push(ps, r, GE_MAKE(GE_REF, g));
    }
    int32_t prev = -1;
    for (int i = m; i < n; i++) { /* O ::= x O' | () , innermost first */
        if ((rc = new_rule(ps, NULL, 0, &g)) != 0 || (rc = push(ps, g, x)) != 0 ||
            (prev >= 0 && (rc = push(ps, g, GE_MAKE(GE_REF, prev))) != 0) ||
            (rc = push(ps, g, GE_MAKE(GE_END, 0))) != 0 ||
            (rc = push(ps, g, GE_MAKE(GE_END, 0))) != 0)
            return rc;
        prev = g;
    }
    return prev >= 0 ? push(ps, r, GE_MAKE(GE_REF, prev)) : 0;
}

static int parse_alts(struct parser *ps, int32_t r);

static int parse_seq(struct parser *ps, int32_t r)
{
    int rc;
    for (;;) {
        skip_space(ps);
        if (ps->p >= ps->end || *ps->p == '|' || *ps->p == ')' || at_rule_start(ps))
            return 0;
        size_t from = ps->rules[r].el.n;
        char c = *ps->p;
        if (c == '"') {
            ps->p++;
            rc = parse_literal(ps, r);
        } else if (c == '[') {
            ps->p++;
            rc = parse_class(ps, r);
        } else if (c == '.') {
            int32_t k;
            ps->p++;
            if ((rc = new_class(ps, 1, &k)) == 0)
                rc = push(ps, r, GE_MAKE(GE_CHAR, k));
        } else if (c == '(') {
            int32_t g;
            const char *open = ps->p++;
            if (++ps->depth > GRAM_MAX_NEST)
                return perr(ps, open, E_RANGE, "groups nested too deeply", NULL, 0);
            if ((rc = new_rule(ps, NULL, 0, &g)) != 0 || (rc = parse_alts(ps, g)) != 0)
                return rc;
            if (ps->p >= ps->end || *ps->p != ')')
                return perr(ps, open, E_PARSE, "unclosed '('", NULL, 0);
            ps->p++;
            ps->depth--;
            rc = push(ps, r, GE_MAKE(GE_REF, g));
        } else if (is_name(c)) {
            int32_t id;
            size_t n = name_len(ps, ps->p);
            if ((rc = lookup(ps, ps->p, n, &id)) != 0)
                return rc;
            ps->p += n;
            rc = push(ps, r, GE_MAKE(GE_REF, id));
        } else {
            return perr(ps, ps->p, E_PARSE, "unexpected character", ps->p, 1);
        }
        if (rc != 0)
            return rc;
        while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
            ps->p++;
        if (ps->p < ps->end && (*ps->p == '*' || *ps->p == '+' || *ps->p == '?' || *ps->p == '{'))
            if ((rc = postfix(ps, r, from)) != 0)
                return rc;
    }
}

static int parse_alts(struct parser *ps, int32_t r)
{
    int rc;
    for (;;) {
        if ((rc = parse_seq(ps, r)) != 0 || (rc = push(ps, r, GE_MAKE(GE_END, 0))) != 0)
            return rc;
        skip_space(ps);
        if (ps->p >= ps->end || *ps->p != '|')
            return 0;
        ps->p++;
    }
}

static int parse_grammar(struct parser *ps)
{
    int rc;
    for (;;) {
        int32_t id;
        skip_space(ps);
        if (ps->p >= ps->end)
            return 0;
        size_t n = name_len(ps, ps->p);
        const char *name = ps->p;
        if (n == 0)
            return perr(ps, ps->p, E_PARSE, "expected a rule name", NULL, 0);
        ps->p += n;
        skip_space(ps);
        if (ps->end - ps->p < 3 || memcmp(ps->p, "::=", 3) != 0)
            return perr(ps, ps->p, E_PARSE, "expected '::=' after", name, n);
        ps->p += 3;
        if ((rc = lookup(ps, name, n, &id)) != 0)
            return rc;
        if (ps->rules[id].defined)
            return perr(ps, name, E_PARSE, "duplicate rule", name, n);
        ps->rules[id].defined = 1;
        if ((rc = parse_alts(ps, id)) != 0)
            return rc;
        if (ps->p < ps->end && *ps->p == ')')
            return perr(ps, ps->p, E_PARSE, "unexpected ')'", NULL, 0);
    }
}

/* Nullable rules (fixpoint), then a topological sort of the left-corner graph: a cycle means
 * a rule can reach itself without consuming input. */
static int check_left_recursion(struct parser *ps, const struct gram *g)
{
    uint8_t *nul = mem_calloc((size_t)g->n_rules, 1);
    int32_t *indeg = mem_calloc((size_t)g->n_rules, sizeof(int32_t));
    struct ivec from = {0}, to = {0}, queue = {0};
    int rc = E_NOMEM, changed = 1;
    if (!nul || !indeg)
        goto out;
    for (int pass = 0; changed && pass < GRAM_NULLABLE_PASSES; pass++) {
        changed = 0;
        for (int32_t r = 0; r < g->n_rules; r++) {
            for (int32_t a = g->alt_off[r]; !nul[r] && a < g->alt_off[r + 1]; a++) {
                int32_t p = g->alts[a];
                while (GE_KIND(g->elem[p]) == GE_REF && nul[GE_VAL(g->elem[p])])
                    p++;
                if (GE_KIND(g->elem[p]) == GE_END)
                    nul[r] = 1, changed = 1;
            }
        }
    }
    for (int32_t r = 0; r < g->n_rules; r++)
        for (int32_t a = g->alt_off[r]; a < g->alt_off[r + 1]; a++)
            for (int32_t p = g->alts[a]; GE_KIND(g->elem[p]) == GE_REF; p++) {
                int32_t s = GE_VAL(g->elem[p]);
                if ((rc = iv_push(&from, r)) != 0 || (rc = iv_push(&to, s)) != 0)
                    goto out;
                indeg[s]++;
                if (!nul[s])
                    break;
            }
    for (int32_t r = 0; r < g->n_rules; r++)
        if (indeg[r] == 0 && (rc = iv_push(&queue, r)) != 0)
            goto out;
    /* edges grouped by source: from[] is non-decreasing */
    for (size_t qi = 0, e = 0; qi < queue.n; qi++) {
        int32_t r = queue.p[qi];
        size_t lo = 0, hi = from.n;
        while (lo < hi) { /* first edge of r */
            size_t mid = (lo + hi) / 2;
            if (from.p[mid] < r)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (e = lo; e < from.n && from.p[e] == r; e++)
            if (--indeg[to.p[e]] == 0 && (rc = iv_push(&queue, to.p[e])) != 0)
                goto out;
    }
    rc = 0;
    if (queue.n < (size_t)g->n_rules) {
        int32_t bad = 0;
        for (int32_t r = 0; r < g->n_rules; r++)
            if (indeg[r] > 0 && ps->rules[r].name) {
                bad = r;
                break;
            }
        rc = ps->rules[bad].name ? perr(ps, ps->rules[bad].name, E_PARSE, "left recursion in rule",
                                        ps->rules[bad].name, ps->rules[bad].name_len)
                                 : perr(ps, ps->end, E_PARSE, "left recursion", NULL, 0);
    }
out:
    mem_free(nul);
    mem_free(indeg);
    mem_free(from.p);
    mem_free(to.p);
    mem_free(queue.p);
    return rc;
}

static int flatten(struct parser *ps, struct gram *g)
{
    size_t n_alts = 0, at = 0, ai = 0, total = 0;
    for (int32_t r = 0; r < ps->n_rules; r++) {
        total += ps->rules[r].el.n;
        for (size_t i = 0; i < ps->rules[r].el.n; i++)
            n_alts += GE_KIND(ps->rules[r].el.p[i]) == GE_END;
    }
    g->n_rules = ps->n_rules;
    g->n_elem = (int32_t)total;
    g->n_cls = (int32_t)ps->cls.n;
    g->elem = mem_alloc_array(total + 1, sizeof(int32_t));
    g->alts = mem_alloc_array(n_alts + 1, sizeof(int32_t));
    g->alt_off = mem_alloc_array((size_t)ps->n_rules + 1, sizeof(int32_t));
    g->rng = mem_alloc_array(ps->rng.n + 2, sizeof(uint32_t));
    g->cls_off = mem_alloc_array(ps->cls.n + 1, sizeof(int32_t));
    g->cls_neg = mem_alloc(ps->cls.n + 1);
    if (!g->elem || !g->alts || !g->alt_off || !g->rng || !g->cls_off || !g->cls_neg)
        return E_NOMEM;
    for (int32_t r = 0; r < ps->n_rules; r++) {
        const struct ivec *v = &ps->rules[r].el;
        g->alt_off[r] = (int32_t)ai;
        for (size_t i = 0; i < v->n; i++) {
            if (i == 0 || GE_KIND(v->p[i - 1]) == GE_END)
                g->alts[ai++] = (int32_t)(at + i);
            g->elem[at + i] = v->p[i];
        }
        at += v->n;
    }
    g->alt_off[ps->n_rules] = (int32_t)ai;
    for (size_t i = 0; i < ps->rng.n; i++)
        g->rng[i] = (uint32_t)ps->rng.p[i];
    for (size_t i = 0; i < ps->cls.n; i++) {
        g->cls_off[i] = ps->cls.p[i];
        g->cls_neg[i] = (uint8_t)ps->negs.p[i];
    }
    g->cls_off[ps->cls.n] = (int32_t)(ps->rng.n / 2);
    return 0;
}

int gram_compile(const char *text, size_t n, struct gram **out, struct err_info *ei)
{
    struct parser ps = {0};
    struct gram *g = NULL;
    int rc;
    *out = NULL;
    if (!text || n > GRAM_MAX_TEXT)
        return err_set(ei, E_RANGE, "grammar larger than %u bytes", GRAM_MAX_TEXT);
    ps.start = ps.p = text;
    ps.end = text + n;
    ps.ei = ei;
    if ((rc = parse_grammar(&ps)) != 0)
        goto out;
    int32_t root = -1;
    for (int32_t r = 0; r < ps.n_rules; r++) {
        if (!ps.rules[r].defined) {
            rc = perr(&ps, ps.rules[r].ref_at, E_PARSE, "undefined rule", ps.rules[r].name,
                      ps.rules[r].name_len);
            goto out;
        }
        if (ps.rules[r].name && ps.rules[r].name_len == 4 && !memcmp(ps.rules[r].name, "root", 4))
            root = r;
    }
    if (root < 0) {
        rc = err_set(ei, E_PARSE, "grammar has no root rule");
        goto out;
    }
    if (!(g = mem_calloc(1, sizeof(*g)))) {
        rc = E_NOMEM;
        goto out;
    }
    g->root = root;
    if ((rc = flatten(&ps, g)) != 0 || (rc = check_left_recursion(&ps, g)) != 0)
        goto out;
    *out = g;
    g = NULL;
out:
    gram_free(g);
    for (int32_t r = 0; r < ps.n_rules; r++)
        mem_free(ps.rules[r].el.p);
    mem_free(ps.rules);
    mem_free(ps.rng.p);
    mem_free(ps.cls.p);
    mem_free(ps.negs.p);
    mem_free(ps.tab);
    return rc;
}

void gram_free(struct gram *g)
{
    if (!g)
        return;
    mem_free(g->elem);
    mem_free(g->alts);
    mem_free(g->alt_off);
    mem_free(g->rng);
    mem_free(g->cls_off);
    mem_free(g->cls_neg);
    mem_free(g);
}

size_t gram_size(const struct gram *g)
{
    return g ? (size_t)g->n_elem : 0;
}

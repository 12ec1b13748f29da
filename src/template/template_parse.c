/*
 * template_parse.c - recursive-descent parser from tokens (template_lex.c) to the tree of
 * template_int.h, following text/template/parse/parse.go: lists of text and actions; if / range
 * / with with else and `else if` / `else with` chains; pipelines with variable declarations and
 * `|` stages; operands with field chains; literals decoded here.  Variables are checked for
 * declaration at parse time, as Go does.  `define`, `template` and `block` are rejected (Ollama
 * rejects them too).  Nesting is capped by TMPL_MAX_DEPTH.  Also owns the tree arena and the
 * Ollama tree rewrites (append .Response, cut at .Response) and the identifier walk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "template/template_int.h"
#include "template/template_lex.h"

#define ARENA_CHUNK 16384

struct tmpl_chunk {
    struct tmpl_chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

struct parser {
    struct tmpl *t;
    const struct tmpl_tok *toks;
    size_t i;
    int depth;
    int range_depth;
    const char *vars[TMPL_MAX_VARS];
    size_t n_vars;
    size_t term_pos; /* position of the last {{end}} / {{else}} keyword */
    size_t err_pos;
    char err_msg[200];
};

void *tmpl_arena_alloc(struct tmpl *t, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct tmpl_chunk *c = t->arena;
    if (!c || c->size - c->used < n) {
        size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = mem_alloc(sizeof(*c) + size);
        if (!c)
            return NULL;
        c->next = t->arena;
        c->used = 0;
        c->size = size;
        t->arena = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void tmpl_pos_linecol(const char *src, size_t n, size_t pos, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < pos && i < n; i++) {
        if (src[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int fail(struct parser *p, size_t pos, const char *msg, const char *arg)
{
    p->err_pos = pos;
    if (arg)
        snprintf(p->err_msg, sizeof(p->err_msg), "%s %s", msg, arg);
    else
        snprintf(p->err_msg, sizeof(p->err_msg), "%s", msg);
    return E_PARSE;
}

static const struct tmpl_tok *peek(struct parser *p)
{
    return &p->toks[p->i];
}

static const struct tmpl_tok *next(struct parser *p)
{
    const struct tmpl_tok *k = &p->toks[p->i];
    if (k->kind != K_EOF)
        p->i++;
    return k;
}

static const char *tok_text(struct parser *p, const struct tmpl_tok *k, char *tmp, size_t n)
{
    size_t len = k->len < n - 1 ? k->len : n - 1;
    memcpy(tmp, p->t->src + k->pos, len);
    tmp[len] = 0;
    return tmp;
}

static int unexpected(struct parser *p, const struct tmpl_tok *k, const char *where)
{
    char tmp[40], msg[80];
    if (k->kind == K_EOF)
        return fail(p, k->pos, "unexpected EOF", NULL);
    snprintf(msg, sizeof(msg), "unexpected \"%s\" in", tok_text(p, k, tmp, sizeof(tmp)));
    return fail(p, k->pos, msg, where);
}

static char *arena_strndup(struct tmpl *t, const char *s, size_t n)
{
    char *d = tmpl_arena_alloc(t, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int add_lit(struct tmpl *t, json_t *v)
{
    if (!v)
        return E_NOMEM;
    if (t->n_lits == t->cap_lits) {
        size_t ncap = t->cap_lits ? t->cap_lits * 2 : 16;
        json_t **nl = mem_realloc_array(t->lits, ncap, sizeof(*nl));
        if (!nl) {
            json_decref(v);
            return E_NOMEM;
        }
        t->lits = nl;
        t->cap_lits = ncap;
    }
    t->lits[t->n_lits++] = v;
    return 0;
}

/* --- variables --- */

static bool var_known(struct parser *p, const char *name, size_t len)
{
    if (len == 1)
        return true; /* $ */
    for (size_t i = p->n_vars; i-- > 0;)
        if (strlen(p->vars[i]) == len && memcmp(p->vars[i], name, len) == 0)
            return true;
    return false;
}

static int var_push(struct parser *p, const char *name, size_t pos)
{
    if (p->n_vars >= TMPL_MAX_VARS)
        return fail(p, pos, "too many variables", NULL);
    p->vars[p->n_vars++] = name;
    return 0;
}

/* --- literals --- */

static int utf8_put(char *d, unsigned long r)
{
    if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
        r = 0xFFFD;
    if (r < 0x80) {
        d[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        d[0] = (char)(0xC0 | (r >> 6));
        d[1] = (char)(0x80 | (r & 0x3F));
        return 2;
    }
    if (r < 0x10000) {
        d[0] = (char)(0xE0 | (r >> 12));
        d[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        d[2] = (char)(0x80 | (r & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (r >> 18));
    d[1] = (char)(0x80 | ((r >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((r >> 6) & 0x3F));
    d[3] = (char)(0x80 | (r & 0x3F));
    return 4;
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

/* Decodes one Go escape at s[*i] (after the backslash); appends to d. */
static int unescape_one(const char *s, size_t n, size_t *i, char *d, size_t *o)
{
    static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"''";
    char c = s[*i];
    for (size_t k = 0; simple[k]; k += 2)
        if (simple[k] == c) {
            d[(*o)++] = simple[k + 1];
            (*i)++;
            return 0;
        }
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : (c >= '0' && c <= '7') ? 3 : 0;
    if (!digits)
        return E_PARSE;
    unsigned long v = 0;
    size_t start = c >= '0' && c <= '7' ? *i : *i + 1;
    if (start + (size_t)digits > n)
        return E_PARSE;
    for (int k = 0; k < digits; k++) {
        int h = c >= '0' && c <= '7'
                    ? (s[start + k] >= '0' && s[start + k] <= '7' ? s[start + k] - '0' : -1)
                    : hexval(s[start + k]);
        if (h < 0)
            return E_PARSE;
        v = v * (c >= '0' && c <= '7' ? 8 : 16) + (unsigned long)h;
    }
    *i = start + (size_t)digits;
    if (c == 'x' || (c >= '0' && c <= '7')) {
        if (v > 255)
            return E_PARSE;
        d[(*o)++] = (char)v;
    } else {
        *o += (size_t)utf8_put(d + *o, v);
    }
    return 0;
}

static int parse_string(struct parser *p, const struct tmpl_tok *k, json_t **out)
{
    const char *s = p->t->src + k->pos + 1;
    size_t n = k->len - 2, o = 0;
    if (k->kind == K_RAWSTRING) {
        *out = json_stringn_nocheck(s, n);
        return *out ? 0 : E_NOMEM;
    }
    char *d = mem_alloc(n * 2 + 8);
    if (!d)
        return E_NOMEM;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            d[o++] = s[i++];
            continue;
        }
        i++;
        if (i >= n || unescape_one(s, n, &i, d, &o)) {
            mem_free(d);
            return fail(p, k->pos, "invalid syntax in quoted string", NULL);
        }
    }
    *out = json_stringn_nocheck(d, o);
    mem_free(d);
    return *out ? 0 : E_NOMEM;
}

static int parse_char(struct parser *p, const struct tmpl_tok *k, json_t **out)
{
    const char *s = p->t->src + k->pos + 1;
    size_t n = k->len - 2;
    unsigned long r = 0;
    if (n == 1) {
        r = (unsigned char)s[0];
    } else if (n >= 2 && s[0] == '\\') {
        char d[8];
        size_t i = 1, o = 0;
        if (unescape_one(s, n, &i, d, &o) || i != n)
            return fail(p, k->pos, "invalid character constant", NULL);
        r = o == 1 ? (unsigned char)d[0] : 0xFFFD;
    } else {
        /* one multi-byte UTF-8 sequence */
        unsigned char c = (unsigned char)s[0];
        int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (len == 0 || (size_t)len != n)
            return fail(p, k->pos, "invalid character constant", NULL);
        r = c & (0x7F >> len);
        for (int i = 1; i < len; i++)
            r = (r << 6) | ((unsigned char)s[i] & 0x3F);
    }
    *out = json_integer((json_int_t)r);
    return *out ? 0 : E_NOMEM;
}

static int parse_number(struct parser *p, const struct tmpl_tok *k, json_t **out)
{
    char tmp[128];
    size_t o = 0;
    bool is_float = false, hex = false;
    if (k->len >= sizeof(tmp))
        return fail(p, k->pos, "number too long", NULL);
    for (size_t i = 0; i < k->len; i++) {
        char c = p->t->src[k->pos + i];
        if (c == '_')
            continue;
        tmp[o++] = c;
    }
    tmp[o] = 0;
    const char *digits = tmp + (tmp[0] == '-' || tmp[0] == '+');
    hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
    if (!hex && strpbrk(tmp, ".eE"))
        is_float = true;
    if (hex && strpbrk(tmp, ".pP"))
        is_float = true;
    errno = 0;
    char *end = NULL;
    if (is_float) {
        double d = strtod(tmp, &end);
        if (*end || errno)
            return fail(p, k->pos, "illegal number syntax:", tmp);
        *out = json_real(d);
    } else {
        int base = 10;
        const char *q = digits;
        if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
            base = 16, q += 2;
        else if (q[0] == '0' && (q[1] == 'o' || q[1] == 'O'))
            base = 8, q += 2;
        else if (q[0] == '0' && (q[1] == 'b' || q[1] == 'B'))
            base = 2, q += 2;
        else if (q[0] == '0' && q[1])
            base = 8, q += 1;
        if (!*q)
            return fail(p, k->pos, "illegal number syntax:", tmp);
        long long v = strtoll(q, &end, base);
        if (*end || errno)
            return fail(p, k->pos, "illegal number syntax:", tmp);
        *out = json_integer(tmp[0] == '-' ? -v : v);
    }
    return *out ? 0 : E_NOMEM;
}

/* --- operands, commands, pipelines --- */

static int parse_pipeline(struct parser *p, int end_kind, bool in_range, struct tpipe **out);

static int parse_chain(struct parser *p, struct targ *a)
{
    struct tident **tail = &a->idents;
    while (*tail)
        tail = &(*tail)->next;
    while (peek(p)->kind == K_FIELD && !peek(p)->space) {
        const struct tmpl_tok *k = next(p);
        struct tident *id = tmpl_arena_alloc(p->t, sizeof(*id));
        if (!id || !(id->s = arena_strndup(p->t, p->t->src + k->pos + 1, k->len - 1)))
            return E_NOMEM;
        *tail = id;
        tail = &id->next;
    }
    return 0;
}

static int parse_literal(struct parser *p, const struct tmpl_tok *k, struct targ *a)
{
    json_t *v = NULL;
    int rc;
    a->kind = A_LIT;
    switch (k->kind) {
    case K_BOOL:
        v = json_boolean(p->t->src[k->pos] == 't');
        rc = v ? 0 : E_NOMEM;
        break;
    case K_NUMBER:
        rc = parse_number(p, k, &v);
        break;
    case K_CHAR:
        rc = parse_char(p, k, &v);
        break;
    default:
        rc = parse_string(p, k, &v);
        break;
    }
    if (rc)
        return rc;
    if ((rc = add_lit(p->t, v)))
        return rc;
    a->lit = v;
    return 0;
}

static int parse_term(struct parser *p, struct targ *a)
{
    const struct tmpl_tok *k = next(p);
    a->pos = k->pos;
    switch (k->kind) {
    case K_IDENT:
        a->kind = A_IDENT;
        a->name = arena_strndup(p->t, p->t->src + k->pos, k->len);
        return a->name ? 0 : E_NOMEM;
    case K_DOT:
        a->kind = A_DOT;
        return 0;
    case K_NIL:
        a->kind = A_NIL;
        return 0;
    case K_FIELD:
        a->kind = A_FIELD;
        a->idents = tmpl_arena_alloc(p->t, sizeof(*a->idents));
        if (!a->idents || !(a->idents->s = arena_strndup(p->t, p->t->src + k->pos + 1, k->len - 1)))
            return E_NOMEM;
        return parse_chain(p, a);
    case K_VAR:
        if (!var_known(p, p->t->src + k->pos, k->len)) {
            char tmp[64];
            return fail(p, k->pos, "undefined variable", tok_text(p, k, tmp, sizeof(tmp)));
        }
        a->kind = A_VAR;
        a->name = arena_strndup(p->t, p->t->src + k->pos, k->len);
        if (!a->name)
            return E_NOMEM;
        return parse_chain(p, a);
    case K_LPAREN:
        a->kind = A_PIPE;
        if (++p->depth > TMPL_MAX_DEPTH)
            return fail(p, k->pos, "nesting too deep", NULL);
        int rc = parse_pipeline(p, K_RPAREN, false, &a->pipe);
        p->depth--;
        if (rc)
            return rc;
        next(p); /* ) */
        return parse_chain(p, a);
    case K_BOOL:
    case K_NUMBER:
    case K_CHAR:
    case K_STRING:
    case K_RAWSTRING:
        return parse_literal(p, k, a);
    default:
        return unexpected(p, k, "operand");
    }
}

static int parse_command(struct parser *p, int end_kind, struct tcmd **out)
{
    struct tcmd *c = tmpl_arena_alloc(p->t, sizeof(*c));
    if (!c)
        return E_NOMEM;
    c->pos = peek(p)->pos;
    struct targ **tail = &c->args;
    for (;;) {
        const struct tmpl_tok *k = peek(p);
        if (k->kind == K_PIPE || k->kind == end_kind)
            break;
        if (k->kind == K_RDELIM || k->kind == K_RPAREN || k->kind == K_EOF)
            return unexpected(p, k, "operand");
        if (c->n_args > 0 && !k->space)
            return unexpected(p, k, "operand");
        struct targ *a = tmpl_arena_alloc(p->t, sizeof(*a));
        if (!a)
            return E_NOMEM;
        int rc = parse_term(p, a);
        if (rc)
            return rc;
        if (a->kind != A_FIELD && a->kind != A_VAR && a->kind != A_PIPE &&
            peek(p)->kind == K_FIELD && !peek(p)->space)
            return fail(p, peek(p)->pos, "unexpected . after term", NULL);
        if (++c->n_args > TMPL_MAX_ARGS)
            return fail(p, a->pos, "too many arguments", NULL);
        *tail = a;
        tail = &a->next;
    }
    if (c->n_args == 0)
        return fail(p, peek(p)->pos, "missing value for command", NULL);
    *out = c;
    return 0;
}

static int parse_decl(struct parser *p, bool in_range, struct tpipe *pp)
{
    size_t save = p->i;
    for (;;) {
        const struct tmpl_tok *v = peek(p);
        if (v->kind != K_VAR)
            break;
        const struct tmpl_tok *op = &p->toks[p->i + 1];
        if (op->kind != K_DECLARE && op->kind != K_ASSIGN && op->kind != K_COMMA)
            break;
        if (op->kind == K_COMMA && (!in_range || pp->n_decl > 0))
            return fail(p, op->pos, "too many declarations", NULL);
        const char *name = arena_strndup(p->t, p->t->src + v->pos, v->len);
        if (!name)
            return E_NOMEM;
        pp->decl[pp->n_decl++] = name;
        p->i += 2;
        if (op->kind == K_COMMA)
            continue;
        pp->is_assign = op->kind == K_ASSIGN;
        for (int i = 0; i < pp->n_decl; i++) {
            if (pp->is_assign && !var_known(p, pp->decl[i], strlen(pp->decl[i])))
                return fail(p, v->pos, "undefined variable", pp->decl[i]);
        }
        return 0;
    }
    if (pp->n_decl) {
        p->i = save;
        pp->n_decl = 0;
        return unexpected(p, &p->toks[save + 2], "declaration");
    }
    return 0;
}

static bool arg_executable(const struct targ *a)
{
    return a->kind == A_FIELD || a->kind == A_VAR || a->kind == A_IDENT || a->kind == A_PIPE;
}

static int parse_pipeline(struct parser *p, int end_kind, bool in_range, struct tpipe **out)
{
    struct tpipe *pp = tmpl_arena_alloc(p->t, sizeof(*pp));
    if (!pp)
        return E_NOMEM;
    pp->pos = peek(p)->pos;
    int rc = parse_decl(p, in_range, pp);
    if (rc)
        return rc;
    struct tcmd **tail = &pp->cmds;
    for (;;) {
        struct tcmd *c = NULL;
        if (peek(p)->kind == end_kind && pp->n_cmds == 0)
            return fail(p, peek(p)->pos, "missing value for pipeline", NULL);
        if ((rc = parse_command(p, end_kind, &c)))
            return rc;
        if (pp->n_cmds > 0 && !arg_executable(c->args))
            return fail(p, c->pos, "non executable command in pipeline stage", NULL);
        *tail = c;
        tail = &c->next;
        pp->n_cmds++;
        if (peek(p)->kind != K_PIPE)
            break;
        next(p);
    }
    /* declared after the pipeline so that `$x := $x` refers to the outer one */
    if (!pp->is_assign)
        for (int i = 0; i < pp->n_decl; i++)
            if ((rc = var_push(p, pp->decl[i], pp->pos)))
                return rc;
    *out = pp;
    return 0;
}

/* --- lists and control structures --- */

static int parse_list(struct parser *p, struct tnode **out, int *term);

static int expect_rdelim(struct parser *p, const char *where)
{
    const struct tmpl_tok *k = next(p);
    if (k->kind != K_RDELIM)
        return unexpected(p, k, where);
    return 0;
}

static int parse_control(struct parser *p, int kind, size_t pos, struct tnode **out)
{
    static const char *names[] = {[N_IF] = "if", [N_RANGE] = "range", [N_WITH] = "with"};
    struct tnode *n = tmpl_arena_alloc(p->t, sizeof(*n));
    if (!n)
        return E_NOMEM;
    n->kind = kind;
    n->pos = pos;
    if (++p->depth > TMPL_MAX_DEPTH)
        return fail(p, pos, "nesting too deep", NULL);
    size_t saved_vars = p->n_vars;
    int rc = parse_pipeline(p, K_RDELIM, kind == N_RANGE, &n->pipe), term;
    if (rc || (rc = expect_rdelim(p, names[kind])))
        return rc;
    if (kind == N_RANGE)
        p->range_depth++;
    rc = parse_list(p, &n->list, &term);
    if (kind == N_RANGE)
        p->range_depth--;
    if (rc)
        return rc;
    if (term == K_ELSE) {
        const struct tmpl_tok *k = peek(p);
        if ((kind == N_IF && k->kind == K_IF) || (kind == N_WITH && k->kind == K_WITH)) {
            next(p);
            rc = parse_control(p, kind, k->pos, &n->else_list);
        } else if ((rc = expect_rdelim(p, "else")) == 0) {
            rc = parse_list(p, &n->else_list, &term);
            if (!rc && term != K_END)
                rc = fail(p, peek(p)->pos, "expected end; found else", NULL);
        }
        if (rc)
            return rc;
    } else if (term != K_END) {
        return fail(p, peek(p)->pos, "unexpected EOF", NULL);
    }
    p->n_vars = saved_vars;
    p->depth--;
    *out = n;
    return 0;
}

static int parse_simple(struct parser *p, int kind, const struct tmpl_tok *k, struct tnode **out)
{
    if (p->range_depth == 0)
        return fail(p, k->pos,
                    kind == N_BREAK ? "{{break}} outside {{range}}"
                                    : "{{continue}} outside {{range}}",
                    NULL);
    int rc = expect_rdelim(p, kind == N_BREAK ? "break" : "continue");
    if (rc)
        return rc;
    struct tnode *n = tmpl_arena_alloc(p->t, sizeof(*n));
    if (!n)
        return E_NOMEM;
    n->kind = kind;
    n->pos = k->pos;
    *out = n;
    return 0;
}

/* After "{{": one action.  *term is set for {{end}} / {{else}}, which belong to the caller. */
static int parse_action(struct parser *p, struct tnode **out, int *term)
{
    const struct tmpl_tok *k = peek(p);
    switch (k->kind) {
    case K_END:
        next(p);
        p->term_pos = k->pos;
        *term = K_END;
        return expect_rdelim(p, "end");
    case K_ELSE:
        next(p);
        p->term_pos = k->pos;
        *term = K_ELSE;
        return 0;
    case K_IF:
        next(p);
        return parse_control(p, N_IF, k->pos, out);
    case K_RANGE:
        next(p);
        return parse_control(p, N_RANGE, k->pos, out);
    case K_WITH:
        next(p);
        return parse_control(p, N_WITH, k->pos, out);
    case K_BREAK:
        next(p);
        return parse_simple(p, N_BREAK, k, out);
    case K_CONTINUE:
        next(p);
        return parse_simple(p, N_CONTINUE, k, out);
    case K_DEFINE:
    case K_TEMPLATE:
    case K_BLOCK:
        return fail(p, k->pos,
                    "define, template and block are not supported "
                    "(undefined template specified)",
                    NULL);
    default:
        break;
    }
    struct tnode *n = tmpl_arena_alloc(p->t, sizeof(*n));
    if (!n)
        return E_NOMEM;
    n->kind = N_ACTION;
    n->pos = k->pos;
    int rc = parse_pipeline(p, K_RDELIM, false, &n->pipe);
    if (rc || (rc = expect_rdelim(p, "command")))
        return rc;
    *out = n;
    return 0;
}

static int parse_list(struct parser *p, struct tnode **out, int *term)
{
    struct tnode **tail = out;
    *term = K_EOF;
    for (;;) {
        const struct tmpl_tok *k = next(p);
        struct tnode *n = NULL;
        int rc, t = K_EOF;
        if (k->kind == K_EOF)
            return 0;
        if (k->kind == K_TEXT) {
            n = tmpl_arena_alloc(p->t, sizeof(*n));
            if (!n)
                return E_NOMEM;
            n->kind = N_TEXT;
            n->pos = k->pos;
            n->text = p->t->src + k->pos;
            n->text_len = k->len;
        } else if (k->kind == K_LDELIM) {
            if ((rc = parse_action(p, &n, &t)))
                return rc;
            if (t != K_EOF) {
                *term = t;
                return 0;
            }
        } else {
            return unexpected(p, k, "input");
        }
        *tail = n;
        tail = &n->next;
    }
}

static int parse_root(struct parser *p)
{
    int term;
    int rc = parse_list(p, &p->t->root, &term);
    if (rc)
        return rc;
    if (term == K_END)
        return fail(p, p->term_pos, "unexpected {{end}}", NULL);
    if (term == K_ELSE)
        return fail(p, p->term_pos, "unexpected {{else}}", NULL);
    return 0;
}

/* --- identifiers (Ollama's Vars) and tree rewrites --- */

static bool pipe_names(const struct tpipe *pp, const char *name);

static bool arg_names(const struct targ *a, const char *name)
{
    if (a->kind == A_PIPE && pipe_names(a->pipe, name))
        return true;
    if (a->kind != A_FIELD && a->kind != A_VAR)
        return false;
    if (a->kind == A_VAR && strcasecmp(a->name, name) == 0)
        return true;
    for (const struct tident *id = a->idents; id; id = id->next)
        if (strcasecmp(id->s, name) == 0)
            return true;
    return false;
}

static bool pipe_names(const struct tpipe *pp, const char *name)
{
    for (const struct tcmd *c = pp ? pp->cmds : NULL; c; c = c->next)
        for (const struct targ *a = c->args; a; a = a->next)
            if (arg_names(a, name))
                return true;
    return false;
}

static bool list_names(const struct tnode *n, const char *name)
{
    for (; n; n = n->next) {
        if (pipe_names(n->pipe, name) || list_names(n->list, name) ||
            list_names(n->else_list, name))
            return true;
    }
    return false;
}

bool tmpl_uses_field(const struct tmpl *t, const char *name)
{
    return t && name && list_names(t->root, name);
}

bool tmpl_uses_messages(const struct tmpl *t)
{
    return tmpl_uses_field(t, "Messages");
}

static int append_response(struct tmpl *t)
{
    struct tnode *n = tmpl_arena_alloc(t, sizeof(*n));
    struct tpipe *pp = tmpl_arena_alloc(t, sizeof(*pp));
    struct tcmd *c = tmpl_arena_alloc(t, sizeof(*c));
    struct targ *a = tmpl_arena_alloc(t, sizeof(*a));
    struct tident *id = tmpl_arena_alloc(t, sizeof(*id));
    if (!n || !pp || !c || !a || !id)
        return E_NOMEM;
    id->s = "Response";
    a->kind = A_FIELD;
    a->idents = id;
    a->pos = t->n;
    c->args = a;
    c->n_args = 1;
    pp->cmds = c;
    pp->n_cmds = 1;
    n->kind = N_ACTION;
    n->pipe = pp;
    n->pos = t->n;
    struct tnode **tail = &t->root;
    while (*tail)
        tail = &(*tail)->next;
    *tail = n;
    return 0;
}

/* Ollama's deleteNode: keep everything up to and including the first field chain naming
 * Response (exact case), drop all that follows.  Pipes of if/range/with are not searched. */
static bool field_is_response(const struct targ *a)
{
    if (a->kind != A_FIELD)
        return false;
    for (const struct tident *id = a->idents; id; id = id->next)
        if (strcmp(id->s, "Response") == 0)
            return true;
    return false;
}

static struct tpipe *cut_pipe(struct tpipe *pp, bool *cut)
{
    struct tcmd **ct = &pp->cmds;
    size_t n_cmds = 0;
    for (struct tcmd *c = pp->cmds; c; c = c->next) {
        struct targ **at = &c->args;
        size_t n = 0;
        for (struct targ *a = c->args; a; a = a->next) {
            if (*cut)
                continue;
            if (field_is_response(a))
                *cut = true;
            *at = a;
            at = &a->next;
            n++;
        }
        *at = NULL;
        if (n == 0)
            return NULL;
        c->n_args = n;
        *ct = c;
        ct = &c->next;
        n_cmds++;
    }
    *ct = NULL;
    pp->n_cmds = n_cmds;
    return n_cmds ? pp : NULL;
}

static void cut_list(struct tnode **head, bool *cut)
{
    struct tnode **tail = head;
    for (struct tnode *n = *head; n; n = n->next) {
        if (*cut)
            continue;
        if (n->kind == N_ACTION) {
            if (!cut_pipe(n->pipe, cut))
                continue;
        } else if (n->kind == N_IF || n->kind == N_RANGE || n->kind == N_WITH) {
            cut_list(&n->list, cut);
            if (n->else_list)
                cut_list(&n->else_list, cut);
        }
        *tail = n;
        tail = &n->next;
    }
    *tail = NULL;
}

/* --- entry points --- */

int tmpl_parse_ex(const char *src, size_t n, unsigned flags, struct tmpl **out, struct err_info *ei)
{
    struct tmpl_lexer lx;
    struct parser *p = NULL;
    int rc, line = 0, col = 0;
    *out = NULL;
    if (!src && n)
        return err_set(ei, E_INVAL, "template: no source");
    if (n > TMPL_MAX_SRC)
        return err_set(ei, E_RANGE, "template: %zu bytes is over the %u byte limit", n,
                       TMPL_MAX_SRC);
    struct tmpl *t = mem_calloc(1, sizeof(*t));
    if (!t || !(t->src = mem_alloc(n + 1))) {
        mem_free(t);
        return err_set(ei, E_NOMEM, "template: out of memory");
    }
    if (n)
        memcpy(t->src, src, n); /* may hold NUL bytes: never strndup */
    t->src[n] = 0;
    t->n = n;
    rc = tmpl_lex(&lx, t->src, n);
    if (rc == E_PARSE) {
        tmpl_pos_linecol(t->src, n, lx.err_pos, &line, &col);
        err_set(ei, rc, "template:%d:%d: %s", line, col, lx.err_msg);
        goto fail;
    }
    if (rc || !(p = mem_calloc(1, sizeof(*p)))) {
        rc = err_set(ei, E_NOMEM, "template: out of memory");
        goto fail;
    }
    p->t = t;
    p->toks = lx.toks;
    rc = parse_root(p);
    if (rc == E_PARSE) {
        tmpl_pos_linecol(t->src, n, p->err_pos, &line, &col);
        err_set(ei, rc, "template:%d:%d: %s", line, col, p->err_msg);
        goto fail;
    }
    if (rc) {
        err_set(ei, rc, "template: out of memory");
        goto fail;
    }
    if ((flags & TMPL_PARSE_APPEND_RESPONSE) && !tmpl_uses_field(t, "Messages") &&
        !tmpl_uses_field(t, "Response") && (rc = append_response(t))) {
        err_set(ei, rc, "template: out of memory");
        goto fail;
    }
    if (flags & TMPL_PARSE_CUT_AT_RESPONSE) {
        bool cut = false;
        cut_list(&t->root, &cut);
    }
    mem_free(p);
    tmpl_lex_fini(&lx);
    *out = t;
    return 0;
fail:
    if (rc == E_PARSE && ei) {
        ei->line = line;
        ei->col = col;
    }
    mem_free(p);
    tmpl_lex_fini(&lx);
    tmpl_free(t);
    return rc;
}

int tmpl_parse(const char *src, size_t n, struct tmpl **out, struct err_info *ei)
{
    return tmpl_parse_ex(src, n, TMPL_PARSE_APPEND_RESPONSE, out, ei);
}

void tmpl_free(struct tmpl *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_lits; i++)
        json_decref(t->lits[i]);
    mem_free(t->lits);
    for (struct tmpl_chunk *c = t->arena, *nx; c; c = nx) {
        nx = c->next;
        mem_free(c);
    }
    mem_free(t->src);
    mem_free(t);
}

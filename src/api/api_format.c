/*
 * api_format.c - `format` to grammar text (api_format.h).  The schema walk emits one rule per
 * composite node ("sN ::= ...") and returns the name to reference; scalar types map to the
 * shared base rules below.  Objects become a chain of rules F_i / R_i (F: no member written yet,
 * R: at least one), so optional members may be skipped with the commas still right:
 *   required i:  F_i ::= KV_i R_i+1            R_i ::= "," ws KV_i R_i+1
 *   optional i:  F_i ::= KV_i R_i+1 | F_i+1    R_i ::= ("," ws KV_i)? R_i+1
 * $ref targets get their rule number before their body is generated, so recursive schemas
 * terminate (a reference cycle that consumes nothing is left recursion, refused by
 * gram_compile).
 */
#include "api/api_format.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/mem.h"
#include "engine/gram/gram.h"

#define MAX_COUNT 1000 /* minItems/minLength honoured; larger maxima mean unbounded */

static const char BASE[] =
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n"
    "string ::= \"\\\"\" char* \"\\\"\"\n"
    "char ::= [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})\n"
    "int ::= \"0\" | [1-9] [0-9]{0,15}\n"
    "integer ::= \"-\"? int\n"
    "number ::= \"-\"? int (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?\n"
    "boolean ::= \"true\" | \"false\"\n"
    "null ::= \"null\"\n"
    "value ::= object | array | string | number | boolean | null\n"
    "object ::= \"{\" ws (string ws \":\" ws value ws (\",\" ws string ws \":\" ws value ws)*)? "
    "\"}\"\n"
    "array ::= \"[\" ws (value ws (\",\" ws value ws)*)? \"]\"\n";

typedef char rname[24];

struct conv {
    struct buf out; /* generated rules */
    const json_t *root;
    json_t *refs; /* $ref string -> rule number */
    int next;
    int depth;
    struct err_info *ei;
};

static int bad(struct conv *c, const char *what, const char *arg)
{
    return err_set(c->ei, E_INVAL, "invalid format: schema %s%s%s", what, arg ? " " : "",
                   arg ? arg : "");
}

static void new_name(struct conv *c, rname n)
{
    snprintf(n, sizeof(rname), "s%d", c->next++);
}

static void set_name(rname n, const char *s)
{
    snprintf(n, sizeof(rname), "%s", s);
}

/* Appends s[0..n) as a GBNF literal. */
static int lit(struct buf *b, const char *s, size_t n)
{
    int rc = buf_putc(b, '"');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            rc = buf_printf(b, "\\%c", ch);
        else if (ch == '\n')
            rc = buf_puts(b, "\\n");
        else if (ch == '\r')
            rc = buf_puts(b, "\\r");
        else if (ch == '\t')
            rc = buf_puts(b, "\\t");
        else if (ch < 0x20 || ch == 0x7f)
            rc = buf_printf(b, "\\x%02X", ch);
        else
            rc = buf_putc(b, (char)ch);
    }
    return rc ? rc : buf_putc(b, '"');
}

/* Appends the literal of v's JSON text (strings as jansson writes them: raw UTF-8, no '/'
 * escapes; other values Go-style compact). */
static int lit_value(struct buf *b, const json_t *v)
{
    struct buf t;
    int rc;
    buf_init(&t, API_FORMAT_MAX_TEXT);
    if (json_is_string(v)) {
        size_t need = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
        char *p = need ? mem_alloc(need) : NULL;
        rc = p ? 0 : E_NOMEM;
        if (p && json_dumpb(v, p, need, JSON_COMPACT | JSON_ENCODE_ANY) == need)
            rc = buf_append(&t, p, need);
        mem_free(p);
    } else {
        rc = json_go_encode(v, 0, &t);
    }
    if (rc == 0)
        rc = lit(b, t.p ? t.p : "", t.n);
    buf_fini(&t);
    return rc;
}

/* A count keyword: -1 when absent or not a non-negative integer. */
static int64_t count(const json_t *s, const char *key)
{
    const json_t *v = json_object_get(s, key);
    double d;
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
    if (!json_is_real(v))
        return -1;
    d = json_real_value(v);
    return d >= 0 && d < 1e15 && d == (double)(int64_t)d ? (int64_t)d : -1;
}

/* Appends the {m,n} suffix for counts lo..hi (hi < 0: unbounded); "" for {1}. */
static int rep(struct buf *b, int64_t lo, int64_t hi)
{
    if (hi < 0)
        return lo == 0   ? buf_putc(b, '*')
               : lo == 1 ? buf_putc(b, '+')
                         : buf_printf(b, "{%lld,}", (long long)lo);
    if (lo == hi)
        return lo == 1 ? 0 : buf_printf(b, "{%lld}", (long long)lo);
    return buf_printf(b, "{%lld,%lld}", (long long)lo, (long long)hi);
}

static int emit(struct conv *c, const char *name, const struct buf *body)
{
    return buf_printf(&c->out, "%s ::= %s\n", name, buf_str(body));
}

static int gen(struct conv *c, const json_t *s, rname out);

/* Bounds from min/max keywords: checks and clamps them (E_INVAL when min > max). */
static int bounds(struct conv *c, const json_t *s, const char *kmin, const char *kmax, int64_t *lo,
                  int64_t *hi)
{
    *lo = count(s, kmin);
    *hi = count(s, kmax);
    if (*lo < 0)
        *lo = 0;
    if (*lo > MAX_COUNT)
        return bad(c, kmin, "too large");
    if (*hi > MAX_COUNT)
        *hi = -1;
    if (*hi >= 0 && *hi < *lo)
        return bad(c, kmax, "smaller than the minimum");
    return 0;
}

static int gen_string(struct conv *c, const json_t *s, rname out)
{
    struct buf b;
    int64_t lo, hi;
    int rc;
    if ((rc = bounds(c, s, "minLength", "maxLength", &lo, &hi)) != 0)
        return rc;
    if (lo == 0 && hi < 0) {
        set_name(out, "string");
        return 0;
    }
    buf_init(&b, API_FORMAT_MAX_TEXT);
    new_name(c, out);
    if ((rc = buf_puts(&b, "\"\\\"\" ")) == 0 && hi != 0 && (rc = buf_puts(&b, "char")) == 0)
        rc = rep(&b, lo, hi);
    if (rc == 0 && (rc = buf_puts(&b, " \"\\\"\"")) == 0)
        rc = emit(c, out, &b);
    buf_fini(&b);
    return rc;
}

static int gen_array(struct conv *c, const json_t *s, rname out)
{
    const json_t *items = json_object_get(s, "items");
    rname it;
    struct buf b;
    int64_t lo, hi;
    int rc;
    if ((rc = bounds(c, s, "minItems", "maxItems", &lo, &hi)) != 0)
        return rc;
    if (items && (json_is_object(items) || json_is_boolean(items))) {
        if ((rc = gen(c, items, it)) != 0)
            return rc;
    } else {
        set_name(it, "value");
    }
    if (!items && lo == 0 && hi < 0) {
        set_name(out, "array");
        return 0;
    }
    buf_init(&b, API_FORMAT_MAX_TEXT);
    new_name(c, out);
    if (hi == 0) {
        rc = buf_puts(&b, "\"[\" ws \"]\"");
    } else {
        rc = buf_printf(&b, "\"[\" ws %s%s ws (\",\" ws %s ws)", lo == 0 ? "(" : "", it, it);
        if (rc == 0)
            rc = rep(&b, lo > 0 ? lo - 1 : 0, hi < 0 ? -1 : hi - 1);
        if (rc == 0)
            rc = buf_printf(&b, "%s \"]\"", lo == 0 ? ")?" : "");
    }
    if (rc == 0)
        rc = emit(c, out, &b);
    buf_fini(&b);
    return rc;
}

static int is_required(const json_t *req, const char *key)
{
    size_t i;
    const json_t *v;
    json_array_foreach(req, i,
                       v) if (json_is_string(v) && !strcmp(json_string_value(v), key)) return 1;
    return 0;
}

static int gen_object(struct conv *c, const json_t *s, rname out)
{
    const json_t *props = json_object_get(s, "properties"), *addl, *req, *v;
    rname extra = "", *vals = NULL;
    struct buf b;
    size_t n, i = 0;
    const char *key;
    int base, rc = 0;
    if (props && !json_is_object(props))
        return bad(c, "properties", "must be an object");
    n = props ? json_object_size(props) : 0;
    addl = json_object_get(s, "additionalProperties");
    req = json_object_get(s, "required");
    if (json_is_object(addl)) {
        if ((rc = gen(c, addl, extra)) != 0)
            return rc;
    } else if (json_is_true(addl) || (!addl && n == 0)) {
        set_name(extra, "value");
    }
    if (n == 0 && !strcmp(extra, "value")) {
        set_name(out, "object");
        return 0;
    }
    if (n && !(vals = mem_calloc(n, sizeof(*vals))))
        return E_NOMEM;
    json_object_foreach((json_t *)props, key, v)
    {
        if ((rc = gen(c, v, vals[i++])) != 0)
            goto out;
    }
    buf_init(&b, API_FORMAT_MAX_TEXT);
    base = c->next;
    c->next += 2 * ((int)n + 1);
    /* F_n (s base+2n) and R_n (s base+2n+1): extra members or nothing */
    if (extra[0])
        rc = buf_printf(&b,
                        "s%d ::= (string ws \":\" ws %s ws (\",\" ws string ws \":\" ws %s ws)*)?\n"
                        "s%d ::= (\",\" ws string ws \":\" ws %s ws)*\n",
                        base + 2 * (int)n, extra, extra, base + 2 * (int)n + 1, extra);
    else
        rc = buf_printf(&b, "s%d ::=\ns%d ::=\n", base + 2 * (int)n, base + 2 * (int)n + 1);
    i = 0;
    json_object_foreach((json_t *)props, key, v)
    {
        struct buf kv;
        json_t *ks = json_string(key);
        int f = base + 2 * (int)i, r = f + 1, nf = f + 2, nr = f + 3;
        buf_init(&kv, API_FORMAT_MAX_TEXT);
        rc = rc ? rc : ks ? lit_value(&kv, ks) : E_NOMEM;
        json_decref(ks);
        if (rc == 0)
            rc = buf_printf(&kv, " ws \":\" ws %s ws", vals[i]);
        if (rc == 0 && is_required(req, key))
            rc = buf_printf(&b, "s%d ::= %s s%d\ns%d ::= \",\" ws %s s%d\n", f, buf_str(&kv), nr, r,
                            buf_str(&kv), nr);
        else if (rc == 0)
            rc = buf_printf(&b, "s%d ::= %s s%d | s%d\ns%d ::= (\",\" ws %s)? s%d\n", f,
                            buf_str(&kv), nr, nf, r, buf_str(&kv), nr);
        buf_fini(&kv);
        i++;
        if (rc)
            break;
    }
    if (rc == 0 && (rc = buf_append(&c->out, b.p, b.n)) == 0) {
        new_name(c, out);
        rc = buf_printf(&c->out, "%s ::= \"{\" ws s%d \"}\"\n", out, base);
    }
    buf_fini(&b);
out:
    mem_free(vals);
    return rc;
}

static int gen_type(struct conv *c, const json_t *s, const char *type, rname out)
{
    static const char *const simple[] = {"number", "integer", "boolean", "null"};
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
        if (!strcmp(type, simple[i])) {
            set_name(out, type);
            return 0;
        }
    if (!strcmp(type, "string"))
        return gen_string(c, s, out);
    if (!strcmp(type, "array"))
        return gen_array(c, s, out);
    if (!strcmp(type, "object"))
        return gen_object(c, s, out);
    return bad(c, "type", type);
}

/* An alternation rule over the names (or literals) that each(i) writes. */
static int alternation(struct conv *c, const json_t *arr, int mode, const json_t *s, rname out)
{
    struct buf b;
    size_t i;
    const json_t *v;
    int rc = 0;
    if (json_array_size(arr) == 0)
        return bad(c,
                   mode == 0   ? "enum"
                   : mode == 1 ? "anyOf"
                               : "type",
                   "must be a non-empty array");
    buf_init(&b, API_FORMAT_MAX_TEXT);
    json_array_foreach(arr, i, v)
    {
        rname sub;
        if (i && (rc = buf_puts(&b, " | ")) != 0)
            break;
        if (mode == 0) {
            rc = lit_value(&b, v);
        } else if (mode == 1) {
            if ((rc = gen(c, v, sub)) == 0)
                rc = buf_puts(&b, sub);
        } else if (!json_is_string(v)) {
            rc = bad(c, "type", "must be a string or an array of strings");
        } else if ((rc = gen_type(c, s, json_string_value(v), sub)) == 0) {
            rc = buf_puts(&b, sub);
        }
        if (rc)
            break;
    }
    if (rc == 0) {
        new_name(c, out);
        rc = emit(c, out, &b);
    }
    buf_fini(&b);
    return rc;
}

/* Resolves a local JSON pointer ("#", "#/$defs/a", "#/definitions/a/items"). */
static const json_t *resolve(const json_t *root, const char *ref)
{
    const json_t *at = root;
    char tok[256];
    if (ref[0] != '#')
        return NULL;
    ref++;
    while (*ref == '/' && at) {
        size_t n = 0;
        ref++;
        while (*ref && *ref != '/' && n + 1 < sizeof(tok)) {
            if (ref[0] == '~' && (ref[1] == '0' || ref[1] == '1')) {
                tok[n++] = ref[1] == '0' ? '~' : '/';
                ref += 2;
            } else {
                tok[n++] = *ref++;
            }
        }
        tok[n] = '\0';
        if (*ref && *ref != '/')
            return NULL;
        if (json_is_object(at)) {
            at = json_object_get(at, tok);
        } else if (json_is_array(at)) {
            char *end = NULL;
            long k = strtol(tok, &end, 10);
            at = end && *end == '\0' && n > 0 && k >= 0 ? json_array_get(at, (size_t)k) : NULL;
        } else {
            at = NULL;
        }
    }
    return *ref ? NULL : at;
}

static int gen_ref(struct conv *c, const char *ref, rname out)
{
    const json_t *memo = json_object_get(c->refs, ref), *target;
    rname sub;
    int id, rc;
    if (memo) {
        snprintf(out, sizeof(rname), "s%d", (int)json_integer_value(memo));
        return 0;
    }
    if (!(target = resolve(c->root, ref)))
        return bad(c, "$ref cannot be resolved:", ref);
    id = c->next++;
    if (json_object_set_new(c->refs, ref, json_integer(id)) != 0)
        return E_NOMEM;
    if ((rc = gen(c, target, sub)) != 0)
        return rc;
    snprintf(out, sizeof(rname), "s%d", id);
    return buf_printf(&c->out, "%s ::= %s\n", out, sub);
}

static int gen_inner(struct conv *c, const json_t *s, rname out)
{
    const json_t *v, *type = json_object_get(s, "type");
    if (json_is_string(v = json_object_get(s, "$ref")))
        return gen_ref(c, json_string_value(v), out);
    if ((v = json_object_get(s, "const")) != NULL) {
        struct buf b;
        int rc;
        buf_init(&b, API_FORMAT_MAX_TEXT);
        new_name(c, out);
        if ((rc = lit_value(&b, v)) == 0)
            rc = emit(c, out, &b);
        buf_fini(&b);
        return rc;
    }
    if ((v = json_object_get(s, "enum")) != NULL)
        return json_is_array(v) ? alternation(c, v, 0, s, out)
                                : bad(c, "enum", "must be a non-empty array");
    if (json_is_array(v = json_object_get(s, "anyOf")) ||
        json_is_array(v = json_object_get(s, "oneOf")))
        return alternation(c, v, 1, s, out);
    if (json_is_array(v = json_object_get(s, "allOf")) && json_array_size(v) == 1)
        return gen(c, json_array_get(v, 0), out);
    if (json_is_string(type))
        return gen_type(c, s, json_string_value(type), out);
    if (json_is_array(type))
        return alternation(c, type, 2, s, out);
    if (type)
        return bad(c, "type", "must be a string or an array of strings");
    if (json_object_get(s, "properties"))
        return gen_object(c, s, out);
    if (json_object_get(s, "items"))
        return gen_array(c, s, out);
    set_name(out, "value");
    return 0;
}

static int gen(struct conv *c, const json_t *s, rname out)
{
    int rc;
    if (json_is_true(s)) {
        set_name(out, "value");
        return 0;
    }
    if (!json_is_object(s))
        return bad(c, "must be an object", NULL);
    if (++c->depth > API_FORMAT_MAX_DEPTH)
        return bad(c, "is nested too deeply", NULL);
    rc = gen_inner(c, s, out);
    c->depth--;
    return rc;
}

int api_format_schema(const json_t *schema, char **gbnf, struct err_info *ei)
{
    struct conv c = {0};
    rname top;
    struct buf all;
    int rc;
    *gbnf = NULL;
    buf_init(&c.out, API_FORMAT_MAX_TEXT);
    buf_init(&all, API_FORMAT_MAX_TEXT);
    c.root = schema;
    c.ei = ei;
    if (!(c.refs = json_object())) {
        rc = E_NOMEM;
        goto out;
    }
    if ((rc = gen(&c, schema, top)) != 0)
        goto out;
    if ((rc = buf_printf(&all, "root ::= %s\n%s", top, BASE)) != 0 ||
        (rc = buf_append(&all, c.out.p, c.out.n)) != 0)
        goto out;
    *gbnf = buf_take(&all, NULL);
    rc = *gbnf ? 0 : E_NOMEM;
out:
    if (rc == E_RANGE)
        rc = err_set(ei, E_INVAL, "invalid format: schema too large");
    json_decref(c.refs);
    buf_fini(&c.out);
    buf_fini(&all);
    return rc;
}

int api_format_grammar(const json_t *f, char **gbnf, struct err_info *ei)
{
    const char *s;
    struct gram *g = NULL;
    struct err_info gei = {0};
    int rc;
    *gbnf = NULL;
    if (!f || json_is_null(f))
        return 0;
    if (json_is_object(f)) {
        if ((rc = api_format_schema(f, gbnf, ei)) != 0)
            return rc;
    } else if ((s = json_string_value(f)) != NULL && (!*s || !strcmp(s, "json"))) {
        if (!*s)
            return 0;
        struct buf b;
        buf_init(&b, API_FORMAT_MAX_TEXT);
        if ((rc = buf_printf(&b, "root ::= object\n%s", BASE)) != 0) {
            buf_fini(&b);
            return rc;
        }
        if (!(*gbnf = buf_take(&b, NULL)))
            return E_NOMEM;
    } else {
        return err_set(ei, E_INVAL, "invalid format: %s; expected \"json\" or a valid JSON Schema",
                       s ? s : json_type_name(f));
    }
    rc = gram_compile(*gbnf, strlen(*gbnf), &g, &gei);
    gram_free(g);
    if (rc != 0) {
        mem_free(*gbnf);
        *gbnf = NULL;
        return rc == E_NOMEM ? rc : err_set(ei, E_INVAL, "invalid format: %s", gei.msg);
    }
    return 0;
}

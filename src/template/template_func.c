/*
 * template_func.c - the functions a template can call: Go text/template's builtins (not, len,
 * index, slice, print, printf, println, html, js, urlquery, eq, ne, lt, le, gt, ge; `and` and
 * `or` are lazy and live in template_exec.c) and Ollama's additions (json, currentDate,
 * yesterdayDate, toTypeScriptType).  Comparison follows Go: mixing a number with a string is an
 * error; a missing value compares as the other side's zero value.  Every string a function
 * builds is bounded by the render's output cap.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "template/template_int.h"

typedef int (*tfunc)(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res);

/* --- helpers --- */

static int want_args(struct tmpl_exec *x, size_t pos, const char *fn, size_t n, size_t lo,
                     size_t hi)
{
    if (n < lo || n > hi)
        return tmpl_exec_error(x, E_INVAL, pos, "wrong number of args for %s: want %zu got %zu", fn,
                               lo, n);
    return 0;
}

static int set_str(struct tmpl_exec *x, size_t pos, struct buf *b, int rc, struct tval *res)
{
    if (rc == 0) {
        res->j = json_stringn_nocheck(b->p ? b->p : "", b->n);
        res->tag = TAG_NONE;
        if (!res->j)
            rc = E_NOMEM;
    }
    buf_fini(b);
    if (rc)
        return tmpl_exec_error(x, rc, pos,
                               rc == E_RANGE ? "string over the output limit" : "out of memory");
    return 0;
}

/* Go's fmt.Sprint of one operand. */
static int sprint_one(const struct tval *v, struct buf *b)
{
    if (!v->j && v->tag != TAG_ZERO)
        return buf_puts(b, "<nil>");
    return tmpl_val_print(v, b);
}

static bool is_str(const struct tval *v)
{
    return v->j && json_is_string(v->j);
}

/* Sprint: a space between operands when neither side is a string. */
static int sprint(const struct tval *a, size_t n, struct buf *b)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (i > 0 && !is_str(&a[i]) && !is_str(&a[i - 1]))
            rc = buf_putc(b, ' ');
        if (!rc)
            rc = sprint_one(&a[i], b);
    }
    return rc;
}

/* evalArgs of html/js/urlquery: a lone string as is, else Sprint where a nil operand is the
 * string "<no value>" (so it takes no spaces). */
static int eval_args_str(const struct tval *a, size_t n, struct buf *b)
{
    int rc = 0;
    if (n == 1 && is_str(&a[0]))
        return buf_append(b, json_string_value(a[0].j), json_string_length(a[0].j));
    for (size_t i = 0; i < n && !rc; i++) {
        bool s = is_str(&a[i]) || tmpl_val_is_nil(&a[i]);
        bool ps = i > 0 && (is_str(&a[i - 1]) || tmpl_val_is_nil(&a[i - 1]));
        if (i > 0 && !s && !ps)
            rc = buf_putc(b, ' ');
        if (!rc)
            rc = tmpl_val_is_nil(&a[i]) ? buf_puts(b, "<no value>") : sprint_one(&a[i], b);
    }
    return rc;
}

/* --- comparison --- */

enum kind { KD_NIL, KD_BOOL, KD_INT, KD_FLOAT, KD_STR, KD_OTHER };

static int kind_of(const struct tval *v)
{
    if (!v->j)
        return KD_NIL;
    switch (json_typeof(v->j)) {
    case JSON_TRUE:
    case JSON_FALSE:
        return KD_BOOL;
    case JSON_INTEGER:
        return KD_INT;
    case JSON_REAL:
        return KD_FLOAT;
    case JSON_STRING:
        return KD_STR;
    case JSON_NULL:
        return KD_NIL;
    default:
        return KD_OTHER;
    }
}

static double num_of(const struct tval *v)
{
    if (!v->j)
        return 0.0;
    return json_is_integer(v->j) ? (double)json_integer_value(v->j) : json_real_value(v->j);
}

/* Compares a and b: *cmp <0, 0, >0.  ordered: lt/le/gt/ge (bools not allowed). */
static int compare(struct tmpl_exec *x, size_t pos, const struct tval *a, const struct tval *b,
                   bool ordered, int *cmp)
{
    int ka = kind_of(a), kb = kind_of(b);
    bool nila = tmpl_val_is_nil(a), nilb = tmpl_val_is_nil(b);
    if (nila || nilb) {
        /* Go: nil equals only nil, with no error; nil cannot be ordered */
        if (ordered)
            return tmpl_exec_error(x, E_INVAL, pos, "invalid type for comparison");
        *cmp = nila && nilb ? 0 : 1;
        return 0;
    }
    if (ka == KD_OTHER && kb == KD_OTHER && !ordered && (a->j == NULL || b->j == NULL)) {
        *cmp = a->j == b->j ? 0 : 1; /* typed nil list vs list */
        return 0;
    }
    if (ka == KD_OTHER || kb == KD_OTHER)
        return tmpl_exec_error(x, E_INVAL, pos, "non-comparable type");
    if (ka == KD_NIL && kb == KD_NIL) {
        *cmp = 0;
        return ordered ? tmpl_exec_error(x, E_INVAL, pos, "invalid type for comparison") : 0;
    }
    if (ka == KD_NIL)
        ka = kb;
    if (kb == KD_NIL)
        kb = ka;
    bool na = ka == KD_INT || ka == KD_FLOAT, nb = kb == KD_INT || kb == KD_FLOAT;
    if (ka != kb && !(na && nb))
        return tmpl_exec_error(x, E_INVAL, pos, "incompatible types for comparison");
    if (ka == KD_BOOL) {
        if (ordered)
            return tmpl_exec_error(x, E_INVAL, pos, "invalid type for comparison");
        *cmp = json_is_true(a->j) - json_is_true(b->j);
        return 0;
    }
    if (ka == KD_STR) {
        const char *sa = a->j ? json_string_value(a->j) : "";
        const char *sb = b->j ? json_string_value(b->j) : "";
        size_t la = a->j ? json_string_length(a->j) : 0, lb = b->j ? json_string_length(b->j) : 0;
        int c = memcmp(sa, sb, la < lb ? la : lb);
        *cmp = c ? c : (la > lb) - (la < lb);
        return 0;
    }
    if (ka == KD_INT && kb == KD_INT) {
        json_int_t ia = a->j ? json_integer_value(a->j) : 0,
                   ib = b->j ? json_integer_value(b->j) : 0;
        *cmp = (ia > ib) - (ia < ib);
        return 0;
    }
    double da = num_of(a), db = num_of(b);
    *cmp = (da > db) - (da < db);
    return 0;
}

static int set_bool(struct tval *res, bool b)
{
    res->j = json_boolean(b);
    res->tag = TAG_NONE;
    return 0;
}

static int fn_eq(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    if (n < 2)
        return tmpl_exec_error(x, E_INVAL, pos, "missing argument for comparison");
    for (size_t i = 1; i < n; i++) {
        int c, rc = compare(x, pos, &a[0], &a[i], false, &c);
        if (rc)
            return rc;
        if (c == 0)
            return set_bool(res, true);
    }
    return set_bool(res, false);
}

static int fn_ne(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    int c, rc = want_args(x, pos, "ne", n, 2, 2);
    if (rc || (rc = compare(x, pos, &a[0], &a[1], false, &c)))
        return rc;
    return set_bool(res, c != 0);
}

static int ordered(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, int *c)
{
    int rc = want_args(x, pos, "comparison", n, 2, 2);
    return rc ? rc : compare(x, pos, &a[0], &a[1], true, c);
}

static int fn_lt(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    int c, rc = ordered(x, pos, a, n, &c);
    return rc ? rc : set_bool(res, c < 0);
}

static int fn_le(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    int c, rc = ordered(x, pos, a, n, &c);
    return rc ? rc : set_bool(res, c <= 0);
}

static int fn_gt(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    int c, rc = ordered(x, pos, a, n, &c);
    return rc ? rc : set_bool(res, c > 0);
}

static int fn_ge(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    int c, rc = ordered(x, pos, a, n, &c);
    return rc ? rc : set_bool(res, c >= 0);
}

static int fn_not(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    int rc = want_args(x, pos, "not", n, 1, 1);
    return rc ? rc : set_bool(res, !tmpl_val_truth(&a[0]));
}

/* --- collections --- */

static int fn_len(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    int rc = want_args(x, pos, "len", n, 1, 1);
    if (rc)
        return rc;
    const json_t *j = a[0].j;
    size_t len = 0;
    if (json_is_string(j))
        len = json_string_length(j);
    else if (json_is_array(j))
        len = json_array_size(j);
    else if (json_is_object(j))
        len = json_object_size(j);
    else if (j && !json_is_null(j))
        return tmpl_exec_error(x, E_INVAL, pos, "len of type %s",
                               json_is_boolean(j) ? "bool" : "number");
    else if (tmpl_val_is_nil(&a[0]))
        return tmpl_exec_error(x, E_INVAL, pos, "error calling len: len of nil pointer");
    res->j = json_integer((json_int_t)len);
    return 0;
}

static int int_arg(struct tmpl_exec *x, size_t pos, const struct tval *v, long long *out)
{
    if (!v->j || !json_is_integer(v->j))
        return tmpl_exec_error(x, E_INVAL, pos, "cannot index slice/array with non-integer");
    *out = json_integer_value(v->j);
    return 0;
}

static int fn_index(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    if (n < 1)
        return want_args(x, pos, "index", n, 1, 1);
    if (tmpl_val_is_nil(&a[0]))
        return tmpl_exec_error(x, E_INVAL, pos, "error calling index: index of untyped nil");
    struct tval cur = {json_incref(a[0].j), a[0].tag};
    for (size_t i = 1; i < n; i++) {
        json_t *next = NULL;
        int tag = tmpl_tag_elem(cur.tag);
        if (json_is_array(cur.j)) {
            long long k = 0;
            int rc = int_arg(x, pos, &a[i], &k);
            if (!rc && (k < 0 || (size_t)k >= json_array_size(cur.j)))
                rc = tmpl_exec_error(x, E_INVAL, pos,
                                     "error calling index: index out of "
                                     "range: %lld",
                                     k);
            if (rc) {
                json_decref(cur.j);
                return rc;
            }
            next = json_array_get(cur.j, (size_t)k);
        } else if (json_is_string(cur.j)) {
            long long k = 0;
            int rc = int_arg(x, pos, &a[i], &k);
            if (!rc && (k < 0 || (size_t)k >= json_string_length(cur.j)))
                rc = tmpl_exec_error(x, E_INVAL, pos,
                                     "error calling index: index out of "
                                     "range: %lld",
                                     k);
            if (rc) {
                json_decref(cur.j);
                return rc;
            }
            next = json_integer((unsigned char)json_string_value(cur.j)[k]);
            json_decref(cur.j);
            cur.j = next; /* a byte, owned */
            cur.tag = TAG_NONE;
            continue;
        } else if (json_is_object(cur.j)) {
            if (!is_str(&a[i])) {
                json_decref(cur.j);
                return tmpl_exec_error(x, E_INVAL, pos,
                                       "value has type non-string; should be "
                                       "string");
            }
            next = json_object_get(cur.j, json_string_value(a[i].j));
            if (!next)
                tag = TAG_NOVALUE;
        } else if (cur.j) {
            json_decref(cur.j);
            return tmpl_exec_error(x, E_INVAL, pos, "can't index item of this type");
        } else if (tmpl_val_is_nil(&cur)) {
            return tmpl_exec_error(x, E_INVAL, pos, "error calling index: index of untyped nil");
        }
        json_incref(next);
        json_decref(cur.j);
        cur.j = next && !json_is_null(next) ? next : NULL;
        if (next && !cur.j)
            json_decref(next);
        cur.tag = tag;
    }
    *res = cur;
    return 0;
}

static int fn_slice(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    int rc = want_args(x, pos, "slice", n, 1, 4);
    if (rc)
        return rc;
    const json_t *j = a[0].j;
    size_t len = json_is_string(j) ? json_string_length(j) : json_array_size(j);
    long long idx[3] = {0, (long long)len, (long long)len};
    if (!json_is_string(j) && !json_is_array(j))
        return tmpl_exec_error(x, E_INVAL, pos, "can't slice item of this type");
    if (n == 4 && json_is_string(j))
        return tmpl_exec_error(x, E_INVAL, pos, "cannot 3-index slice a string");
    for (size_t i = 1; i < n; i++)
        if ((rc = int_arg(x, pos, &a[i], &idx[i - 1])))
            return rc;
    if (n < 4)
        idx[2] = (long long)len;
    if (idx[0] < 0 || idx[1] < idx[0] || idx[2] < idx[1] || idx[2] > (long long)len)
        return tmpl_exec_error(x, E_INVAL, pos, "error calling slice: index out of range");
    if (json_is_string(j)) {
        res->j = json_stringn_nocheck(json_string_value(j) + idx[0], (size_t)(idx[1] - idx[0]));
    } else {
        res->j = json_array();
        for (long long i = idx[0]; res->j && i < idx[1]; i++)
            if (json_array_append(res->j, json_array_get(j, (size_t)i)))
                break;
        res->tag = a[0].tag;
    }
    return res->j ? 0 : tmpl_exec_error(x, E_NOMEM, pos, "out of memory");
}

/* --- printing --- */

static int fn_print(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    struct buf b;
    buf_init(&b, tmpl_exec_strcap(x));
    return set_str(x, pos, &b, sprint(a, n, &b), res);
}

static int fn_println(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    struct buf b;
    int rc = 0;
    buf_init(&b, tmpl_exec_strcap(x));
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = buf_putc(&b, ' ');
        if (!rc)
            rc = sprint_one(&a[i], &b);
    }
    if (!rc)
        rc = buf_putc(&b, '\n');
    return set_str(x, pos, &b, rc, res);
}

struct spec {
    char flags[8];
    int width, prec;
    char verb;
};

/* Runes in p[0..n) (UTF-8 lead bytes), as Go counts width. */
static size_t rune_count(const char *p, size_t n)
{
    size_t r = 0;
    for (size_t i = 0; i < n; i++)
        r += ((unsigned char)p[i] & 0xC0) != 0x80;
    return r;
}

/* Byte length of the first `runes` runes of p[0..n). */
static size_t rune_prefix(const char *p, size_t n, size_t runes)
{
    size_t i = 0;
    for (size_t r = 0; i < n; i++) {
        if (((unsigned char)p[i] & 0xC0) != 0x80 && r++ == runes)
            break;
    }
    return i;
}

static int pad(struct buf *b, const struct spec *s, const char *p, size_t n)
{
    int rc = 0;
    size_t w = s->width > 0 ? (size_t)s->width : 0, len = rune_count(p, n);
    bool left = strchr(s->flags, '-') != NULL, zero = strchr(s->flags, '0') != NULL;
    for (size_t i = len; !left && i < w && !rc; i++)
        rc = buf_putc(b, zero ? '0' : ' ');
    if (!rc)
        rc = buf_append(b, p, n);
    for (size_t i = len; left && i < w && !rc; i++)
        rc = buf_putc(b, ' ');
    return rc;
}

/* The C format is assembled from a spec whose flags, width and precision were validated. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int fmt_number(struct buf *b, const struct spec *s, const struct tval *v)
{
    char cf[32], out[512];
    int k = snprintf(cf, sizeof(cf), "%%%s", s->flags);
    if (s->width >= 0)
        k += snprintf(cf + k, sizeof(cf) - (size_t)k, "%d", s->width > 256 ? 256 : s->width);
    if (s->prec >= 0)
        k += snprintf(cf + k, sizeof(cf) - (size_t)k, ".%d", s->prec > 64 ? 64 : s->prec);
    bool is_int = json_is_integer(v->j);
    if (s->verb == 'd' || s->verb == 'x' || s->verb == 'X' || s->verb == 'c' || s->verb == 'o' ||
        s->verb == 'b') {
        if (!is_int)
            return E_INTERNAL;
        long long iv = json_integer_value(v->j);
        if (s->verb == 'c') {
            char u[8];
            int len = iv >= 0 && iv < 0x80 ? 1 : 0;
            u[0] = (char)iv;
            return pad(b, s, u, (size_t)(len ? len : 0));
        }
        snprintf(cf + k, sizeof(cf) - (size_t)k, "ll%c", s->verb == 'b' ? 'd' : s->verb);
        snprintf(out, sizeof(out), cf, iv);
        return buf_puts(b, out);
    }
    snprintf(cf + k, sizeof(cf) - (size_t)k, "%c", s->verb == 'F' ? 'f' : s->verb);
    snprintf(out, sizeof(out), cf, num_of(v));
    return buf_puts(b, out);
}
#pragma GCC diagnostic pop

static int fmt_quote(struct buf *b, const struct tval *v)
{
    struct buf tmp;
    buf_init(&tmp, b->max);
    int rc =
        is_str(v) ? tmpl_json_string(json_string_value(v->j), json_string_length(v->j), &tmp) : 0;
    if (!is_str(v)) {
        rc = buf_putc(b, '"');
        if (!rc)
            rc = sprint_one(v, b);
        buf_fini(&tmp);
        return rc ? rc : buf_putc(b, '"');
    }
    /* Go's %q does not HTML-escape: undo the JSON escapes of < > & */
    const char *p = buf_str(&tmp);
    for (size_t i = 0; !rc && i < tmp.n; i++) {
        if (p[i] == '\\' && i + 5 < tmp.n && strncmp(p + i, "\\u00", 4) == 0 &&
            (strncmp(p + i + 4, "3c", 2) == 0 || strncmp(p + i + 4, "3e", 2) == 0 ||
             strncmp(p + i + 4, "26", 2) == 0)) {
            rc = buf_putc(b, p[i + 5] == 'c' ? '<' : p[i + 5] == 'e' ? '>' : '&');
            i += 5;
        } else {
            rc = buf_putc(b, p[i]);
        }
    }
    buf_fini(&tmp);
    return rc;
}

/* %v with the spec's flags, width and precision. */
static int fmt_v(struct buf *b, const struct spec *s, const struct tval *v)
{
    struct buf tmp;
    int rc;
    if (v->j && json_is_integer(v->j)) {
        struct spec d = *s;
        d.verb = 'd';
        return fmt_number(b, &d, v);
    }
    buf_init(&tmp, b->max);
    rc = tmpl_val_is_nil(v) ? buf_puts(&tmp, "<nil>") : sprint_one(v, &tmp);
    if (!rc) {
        size_t n = tmp.n;
        if (is_str(v) && s->prec >= 0)
            n = rune_prefix(buf_str(&tmp), n, (size_t)s->prec);
        rc = pad(b, s, buf_str(&tmp), n);
    }
    buf_fini(&tmp);
    return rc;
}

static const char *go_type(const struct tval *v)
{
    switch (v->j ? json_typeof(v->j) : JSON_NULL) {
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "int";
    case JSON_REAL:
        return "float64";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_OBJECT:
        return "map[string]interface {}";
    case JSON_ARRAY:
        return "[]interface {}";
    default:
        return NULL;
    }
}

/* Go's "%!verb(type=value)" for an operand the verb does not apply to. */
static int bad_verb(struct buf *b, const struct spec *s, const struct tval *v)
{
    int rc = buf_printf(b, "%%!%c(", s->verb);
    if (!rc && !go_type(v))
        return buf_puts(b, "<nil>)");
    if (!rc)
        rc = buf_printf(b, "%s=", go_type(v));
    if (!rc)
        rc = fmt_v(b, s, v);
    return rc ? rc : buf_putc(b, ')');
}

static int fmt_hex_string(struct buf *b, const struct tval *v, bool upper)
{
    const unsigned char *p = (const unsigned char *)json_string_value(v->j);
    int rc = 0;
    for (size_t i = 0; i < json_string_length(v->j) && !rc; i++)
        rc = buf_printf(b, upper ? "%02X" : "%02x", p[i]);
    return rc;
}

static int fmt_one(struct buf *b, const struct spec *s, const struct tval *v)
{
    const json_t *j = v->j;
    switch (s->verb) {
    case 'v':
        return fmt_v(b, s, v);
    case 's':
        if (is_str(v) || json_is_object(j) || json_is_array(j) || (!j && !tmpl_val_is_nil(v)))
            return fmt_v(b, s, v);
        break;
    case 'q':
        if (is_str(v))
            return fmt_quote(b, v);
        break;
    case 't':
        if (json_is_boolean(j))
            return pad(b, s, json_is_true(j) ? "true" : "false", json_is_true(j) ? 4 : 5);
        break;
    case 'x':
    case 'X':
        if (is_str(v))
            return fmt_hex_string(b, v, s->verb == 'X');
        if (json_is_integer(j))
            return fmt_number(b, s, v);
        break;
    case 'd':
    case 'o':
    case 'b':
    case 'c':
        if (json_is_integer(j))
            return fmt_number(b, s, v);
        break;
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
        if (json_is_real(j))
            return fmt_number(b, s, v);
        break;
    default:
        break;
    }
    return bad_verb(b, s, v);
}

/* Parses a verb spec at f[*i] (after '%'); returns false at the end of the string. */
static bool parse_spec(const char *f, size_t n, size_t *i, struct spec *s)
{
    size_t k = 0;
    memset(s, 0, sizeof(*s));
    s->width = s->prec = -1;
    while (*i < n && strchr("-+# 0", f[*i]) && k < sizeof(s->flags) - 1)
        s->flags[k++] = f[(*i)++];
    if (*i < n && f[*i] >= '0' && f[*i] <= '9') {
        s->width = 0;
        while (*i < n && f[*i] >= '0' && f[*i] <= '9')
            s->width = s->width < 100000 ? s->width * 10 + (f[(*i)++] - '0') : (++*i, s->width);
    }
    if (*i < n && f[*i] == '.') {
        (*i)++;
        s->prec = 0;
        while (*i < n && f[*i] >= '0' && f[*i] <= '9')
            s->prec = s->prec < 100000 ? s->prec * 10 + (f[(*i)++] - '0') : (++*i, s->prec);
    }
    if (*i >= n)
        return false;
    s->verb = f[(*i)++];
    return true;
}

static int fn_printf(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    struct buf b;
    int rc = 0;
    size_t argi = 1;
    if (n < 1 || !is_str(&a[0]))
        return tmpl_exec_error(x, E_INVAL, pos, "printf needs a format string");
    const char *f = json_string_value(a[0].j);
    size_t fn = json_string_length(a[0].j);
    buf_init(&b, tmpl_exec_strcap(x));
    for (size_t i = 0; i < fn && !rc;) {
        if (f[i] != '%') {
            size_t j = i;
            while (j < fn && f[j] != '%')
                j++;
            rc = buf_append(&b, f + i, j - i);
            i = j;
            continue;
        }
        i++;
        struct spec s;
        if (!parse_spec(f, fn, &i, &s))
            rc = buf_puts(&b, "%!(NOVERB)");
        else if (s.verb == '%')
            rc = buf_putc(&b, '%');
        else if (argi >= n)
            rc = buf_printf(&b, "%%!%c(MISSING)", s.verb);
        else
            rc = fmt_one(&b, &s, &a[argi++]);
    }
    if (!rc && argi < n) {
        rc = buf_puts(&b, "%!(EXTRA ");
        for (size_t i = argi; i < n && !rc; i++) {
            if (i > argi)
                rc = buf_puts(&b, ", ");
            if (!rc && go_type(&a[i]))
                rc = buf_printf(&b, "%s=", go_type(&a[i]));
            if (!rc)
                rc = go_type(&a[i]) ? sprint_one(&a[i], &b) : buf_puts(&b, "<nil>");
        }
        if (!rc)
            rc = buf_putc(&b, ')');
    }
    return set_str(x, pos, &b, rc, res);
}

static int fn_json(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    struct buf b;
    int rc = want_args(x, pos, "json", n, 1, 1);
    if (rc)
        return rc;
    buf_init(&b, tmpl_exec_strcap(x));
    return set_str(x, pos, &b, tmpl_val_json(&a[0], &b), res);
}

/* --- escaping --- */

static int fn_html(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    struct buf s, b;
    buf_init(&s, tmpl_exec_strcap(x));
    buf_init(&b, tmpl_exec_strcap(x));
    int rc = eval_args_str(a, n, &s);
    for (size_t i = 0; !rc && i < s.n; i++) {
        switch (s.p[i]) {
        case '"':
            rc = buf_puts(&b, "&#34;");
            break;
        case '\'':
            rc = buf_puts(&b, "&#39;");
            break;
        case '&':
            rc = buf_puts(&b, "&amp;");
            break;
        case '<':
            rc = buf_puts(&b, "&lt;");
            break;
        case '>':
            rc = buf_puts(&b, "&gt;");
            break;
        case '\0':
            rc = buf_puts(&b, "\xEF\xBF\xBD");
            break;
        default:
            rc = buf_putc(&b, s.p[i]);
        }
    }
    buf_fini(&s);
    return set_str(x, pos, &b, rc, res);
}

/* Whether the UTF-8 sequence at p is a rune Go's unicode.IsPrint rejects (C1 controls, format
 * characters, line/paragraph separators): *adv bytes, rune *r. */
static bool js_nonprint(const char *p, size_t n, size_t *adv, unsigned *r)
{
    const unsigned char *u = (const unsigned char *)p;
    if (u[0] < 0xE0 && n >= 2 && (u[1] & 0xC0) == 0x80) {
        *r = ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
        *adv = 2;
    } else if (u[0] >= 0xE0 && u[0] < 0xF0 && n >= 3 && (u[1] & 0xC0) == 0x80 &&
               (u[2] & 0xC0) == 0x80) {
        *r = ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
        *adv = 3;
    } else {
        return false;
    }
    return (*r >= 0x80 && *r <= 0x9F) || *r == 0xAD || (*r >= 0x200B && *r <= 0x200F) ||
           (*r >= 0x2028 && *r <= 0x202E) || (*r >= 0x2060 && *r <= 0x2064) || *r == 0xFEFF;
}

static int fn_js(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    struct buf s, b;
    size_t adv;
    unsigned r;
    buf_init(&s, tmpl_exec_strcap(x));
    buf_init(&b, tmpl_exec_strcap(x));
    int rc = eval_args_str(a, n, &s);
    for (size_t i = 0; !rc && i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        switch (c) {
        case '\\':
            rc = buf_puts(&b, "\\\\");
            break;
        case '\'':
            rc = buf_puts(&b, "\\'");
            break;
        case '"':
            rc = buf_puts(&b, "\\\"");
            break;
        case '<':
            rc = buf_puts(&b, "\\u003C");
            break;
        case '>':
            rc = buf_puts(&b, "\\u003E");
            break;
        case '&':
            rc = buf_puts(&b, "\\u0026");
            break;
        case '=':
            rc = buf_puts(&b, "\\u003D");
            break;
        default:
            if (c < ' ' || c == 0x7F) {
                rc = buf_printf(&b, "\\u%04X", c);
            } else if (c >= 0xC2 && i + 1 < s.n && js_nonprint(s.p + i, s.n - i, &adv, &r)) {
                rc = buf_printf(&b, "\\u%04X", r);
                i += adv - 1;
            } else {
                rc = buf_putc(&b, (char)c);
            }
        }
    }
    buf_fini(&s);
    return set_str(x, pos, &b, rc, res);
}

static int fn_urlquery(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    struct buf s, b;
    buf_init(&s, tmpl_exec_strcap(x));
    buf_init(&b, tmpl_exec_strcap(x));
    int rc = eval_args_str(a, n, &s);
    for (size_t i = 0; !rc && i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
        rc = keep       ? buf_putc(&b, (char)c)
             : c == ' ' ? buf_putc(&b, '+')
                        : buf_printf(&b, "%%%02X", c);
    }
    buf_fini(&s);
    return set_str(x, pos, &b, rc, res);
}

/* --- Ollama's extras --- */

static int date_str(struct tmpl_exec *x, size_t pos, int days_back, struct tval *res)
{
    char d[32];
    time_t now = time(NULL) - (time_t)days_back * 86400;
    struct tm tm;
    if (!localtime_r(&now, &tm) || !strftime(d, sizeof(d), "%Y-%m-%d", &tm))
        return tmpl_exec_error(x, E_IO, pos, "no local time");
    res->j = json_string(d);
    return 0;
}

static int fn_current_date(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n,
                           struct tval *res)
{
    (void)a, (void)n;
    return date_str(x, pos, 0, res);
}

static int fn_yesterday_date(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n,
                             struct tval *res)
{
    (void)a, (void)n;
    return date_str(x, pos, 1, res);
}

static const char *ts_type(const char *t)
{
    static const char *map[][2] = {
        {"string", "string"},   {"number", "number"}, {"integer", "number"},
        {"boolean", "boolean"}, {"array", "any[]"},   {"object", "Record<string, any>"},
        {"null", "null"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i][0], t) == 0)
            return map[i][1];
    return "any";
}

static int fn_ts_type(struct tmpl_exec *x, size_t pos, struct tval *a, size_t n, struct tval *res)
{
    struct buf b;
    int rc = want_args(x, pos, "toTypeScriptType", n, 1, 1);
    if (rc)
        return rc;
    buf_init(&b, tmpl_exec_strcap(x));
    json_t *ty = json_is_object(a[0].j) ? tmpl_obj_field(a[0].j, "Type") : NULL;
    if (json_is_string(ty)) {
        rc = buf_puts(&b, ts_type(json_string_value(ty)));
    } else if (json_is_array(ty) && json_array_size(ty) > 0) {
        for (size_t i = 0; i < json_array_size(ty) && !rc; i++) {
            const char *s = json_string_value(json_array_get(ty, i));
            rc = buf_printf(&b, "%s%s", i ? " | " : "", ts_type(s ? s : ""));
        }
    } else {
        rc = buf_puts(&b, "any");
    }
    return set_str(x, pos, &b, rc, res);
}

static const struct {
    const char *name;
    tfunc fn;
} funcs[] = {
    {"eq", fn_eq},
    {"ne", fn_ne},
    {"lt", fn_lt},
    {"le", fn_le},
    {"gt", fn_gt},
    {"ge", fn_ge},
    {"not", fn_not},
    {"len", fn_len},
    {"index", fn_index},
    {"slice", fn_slice},
    {"print", fn_print},
    {"printf", fn_printf},
    {"println", fn_println},
    {"json", fn_json},
    {"html", fn_html},
    {"js", fn_js},
    {"urlquery", fn_urlquery},
    {"currentDate", fn_current_date},
    {"yesterdayDate", fn_yesterday_date},
    {"toTypeScriptType", fn_ts_type},
};

bool tmpl_func_known(const char *name)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
        if (strcmp(funcs[i].name, name) == 0)
            return true;
    return false;
}

int tmpl_call_func(struct tmpl_exec *x, const char *name, size_t pos, struct tval *args,
                   size_t argc, struct tval *res)
{
    res->j = NULL;
    res->tag = TAG_NONE;
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
        if (strcmp(funcs[i].name, name) != 0)
            continue;
        int rc = funcs[i].fn(x, pos, args, argc, res);
        if (!rc && !res->j && strcmp(name, "index") != 0)
            return tmpl_exec_error(x, E_NOMEM, pos, "out of memory");
        return rc;
    }
    return tmpl_exec_error(x, E_INVAL, pos, "\"%s\" is not a defined function", name);
}

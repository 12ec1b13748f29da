/*
 * template_value.c - how template values behave: Go truth, field lookup (Go field name or its
 * snake_case JSON spelling), printing as Go's fmt %v does for the types Ollama passes, and
 * encoding/json output.  Values that stand for Ollama's tool and message structs (enum tmpl_tag)
 * print as JSON with the struct's field order and omitempty rules (docs/ollama-reference.md
 * §6.2, §6.5); plain maps print keys sorted, as Go does.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "template/template_int.h"

#define VAL_MAX_DEPTH 128 /* nesting printed or encoded */

enum fmode {
    F_OMIT,   /* omitempty */
    F_STR,    /* string, "" when missing */
    F_STRUCT, /* nested struct, encoded even when missing */
    F_NULL,   /* null when missing */
    F_OBJ,    /* {} when missing */
    F_TYPE,   /* property type: string, or array when several */
};

struct fspec {
    const char *key;    /* JSON name */
    const char *goname; /* Go field name */
    int tag;            /* tag of the member */
    int mode;
};

static const struct fspec spec_tool[] = {
    {"type", "Type", TAG_NONE, F_STR},
    {"items", "Items", TAG_NONE, F_OMIT},
    {"function", "Function", TAG_TFUNC, F_STRUCT},
    {NULL, NULL, 0, 0},
};
static const struct fspec spec_tfunc[] = {
    {"name", "Name", TAG_NONE, F_STR},
    {"description", "Description", TAG_NONE, F_OMIT},
    {"parameters", "Parameters", TAG_TPARAMS, F_STRUCT},
    {NULL, NULL, 0, 0},
};
static const struct fspec spec_tparams[] = {
    {"type", "Type", TAG_NONE, F_STR},
    {"$defs", "Defs", TAG_NONE, F_OMIT},
    {"items", "Items", TAG_NONE, F_OMIT},
    {"required", "Required", TAG_NONE, F_OMIT},
    {"properties", "Properties", TAG_TPROPS, F_NULL},
    {NULL, NULL, 0, 0},
};
static const struct fspec spec_tprop[] = {
    {"anyOf", "AnyOf", TAG_NONE, F_OMIT},       {"type", "Type", TAG_NONE, F_TYPE},
    {"items", "Items", TAG_NONE, F_OMIT},       {"description", "Description", TAG_NONE, F_OMIT},
    {"enum", "Enum", TAG_NONE, F_OMIT},         {"properties", "Properties", TAG_TPROPS, F_OMIT},
    {"required", "Required", TAG_NONE, F_OMIT}, {NULL, NULL, 0, 0},
};
static const struct fspec spec_tcall[] = {
    {"id", "ID", TAG_NONE, F_OMIT},
    {"function", "Function", TAG_TCFUNC, F_STRUCT},
    {NULL, NULL, 0, 0},
};
static const struct fspec spec_tcfunc[] = {
    {"index", "Index", TAG_NONE, F_OMIT},
    {"name", "Name", TAG_NONE, F_STR},
    {"arguments", "Arguments", TAG_ARGS, F_OBJ},
    {NULL, NULL, 0, 0},
};
static const struct fspec spec_msg[] = {
    {"role", "Role", TAG_NONE, F_STR},
    {"content", "Content", TAG_NONE, F_STR},
    {"thinking", "Thinking", TAG_NONE, F_OMIT},
    {"images", "Images", TAG_NONE, F_OMIT},
    {"tool_calls", "ToolCalls", TAG_TCALLS, F_OMIT},
    {"tool_name", "ToolName", TAG_NONE, F_OMIT},
    {"tool_call_id", "ToolCallID", TAG_NONE, F_OMIT},
    {NULL, NULL, 0, 0},
};

static const struct fspec *spec_for(int tag)
{
    switch (tag) {
    case TAG_TOOL:
        return spec_tool;
    case TAG_TFUNC:
        return spec_tfunc;
    case TAG_TPARAMS:
        return spec_tparams;
    case TAG_TPROP:
        return spec_tprop;
    case TAG_TCALL:
        return spec_tcall;
    case TAG_TCFUNC:
        return spec_tcfunc;
    case TAG_MSG:
        return spec_msg;
    default:
        return NULL;
    }
}

/* --- truth and lookup --- */

bool tmpl_val_is_nil(const struct tval *v)
{
    return !v->j && (v->tag == TAG_NONE || v->tag == TAG_NOVALUE || v->tag == TAG_ROOT);
}

bool tmpl_val_truth(const struct tval *v)
{
    const json_t *j = v->j;
    if (!j)
        return false;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return json_object_size(j) > 0;
    case JSON_ARRAY:
        return json_array_size(j) > 0;
    case JSON_STRING:
        return json_string_length(j) > 0;
    case JSON_INTEGER:
        return json_integer_value(j) != 0;
    case JSON_REAL:
        return json_real_value(j) != 0.0;
    case JSON_TRUE:
        return true;
    default:
        return false;
    }
}

/* "ToolCallID" -> "tool_call_id"; false when it does not fit. */
static bool snake_case(const char *s, char *d, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool up = c >= 'A' && c <= 'Z';
        if (up && i > 0) {
            char pc = s[i - 1], nc = s[i + 1];
            bool prev_low = (pc >= 'a' && pc <= 'z') || (pc >= '0' && pc <= '9');
            bool prev_up = pc >= 'A' && pc <= 'Z';
            if (prev_low || (prev_up && nc >= 'a' && nc <= 'z')) {
                if (o + 1 >= cap)
                    return false;
                d[o++] = '_';
            }
        }
        if (o + 1 >= cap)
            return false;
        d[o++] = up ? (char)(c - 'A' + 'a') : c;
    }
    d[o] = 0;
    return true;
}

json_t *tmpl_obj_field(const json_t *obj, const char *name)
{
    char snake[128];
    if (!obj || !json_is_object(obj))
        return NULL;
    json_t *v = json_object_get(obj, name);
    if (v)
        return v;
    if (snake_case(name, snake, sizeof(snake)) && strcmp(snake, name) != 0)
        return json_object_get(obj, snake);
    return NULL;
}

int tmpl_tag_field(int parent, const char *name)
{
    if (strcmp(name, "Messages") == 0)
        return TAG_MSGS;
    if (strcmp(name, "Tools") == 0)
        return TAG_TOOLS;
    if (strcmp(name, "ToolCalls") == 0)
        return TAG_TCALLS;
    if (strcmp(name, "Function") == 0)
        return parent == TAG_TCALL ? TAG_TCFUNC : parent == TAG_TOOL ? TAG_TFUNC : TAG_NONE;
    if (strcmp(name, "Arguments") == 0 && parent == TAG_TCFUNC)
        return TAG_ARGS;
    if (strcmp(name, "Parameters") == 0 && parent == TAG_TFUNC)
        return TAG_TPARAMS;
    if (strcmp(name, "Properties") == 0 && (parent == TAG_TPARAMS || parent == TAG_TPROP))
        return TAG_TPROPS;
    if (strcmp(name, "Type") == 0 && parent == TAG_TPROP)
        return TAG_PTYPE;
    return TAG_NONE;
}

int tmpl_tag_elem(int parent)
{
    switch (parent) {
    case TAG_MSGS:
        return TAG_MSG;
    case TAG_TCALLS:
        return TAG_TCALL;
    case TAG_TOOLS:
        return TAG_TOOL;
    case TAG_TPROPS:
        return TAG_TPROP;
    default:
        return TAG_NONE;
    }
}

/* --- numbers --- */

/* Shortest round-trip digits of |d|: digits into dig (NUL-terminated), returns the decimal
 * exponent of the first digit (value = 0.dig * 10^(ret+1)). */
static int shortest(double d, char dig[32])
{
    char tmp[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, fabs(d));
        if (strtod(tmp, NULL) == fabs(d))
            break;
    }
    size_t o = 0;
    const char *e = strchr(tmp, 'e');
    for (const char *q = tmp; q < e; q++)
        if (*q != '.')
            dig[o++] = *q;
    while (o > 1 && dig[o - 1] == '0')
        o--;
    dig[o] = 0;
    return (int)strtol(e + 1, NULL, 10);
}

int tmpl_fmt_float(double d, bool fmt_v, struct buf *out)
{
    char dig[32], s[400];
    size_t o = 0;
    if (isnan(d) || isinf(d))
        return buf_puts(out, isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
    if (d == 0.0)
        return buf_puts(out, signbit(d) && fmt_v ? "-0" : "0");
    int exp = shortest(d, dig), nd = (int)strlen(dig);
    bool use_e = fmt_v ? (exp < -4 || exp >= 6) : (fabs(d) < 1e-6 || fabs(d) >= 1e21);
    if (d < 0)
        s[o++] = '-';
    if (use_e) {
        s[o++] = dig[0];
        if (nd > 1) {
            s[o++] = '.';
            for (int i = 1; i < nd; i++)
                s[o++] = dig[i];
        }
        int ae = exp < 0 ? -exp : exp;
        o += (size_t)snprintf(s + o, sizeof(s) - o, fmt_v || ae >= 10 ? "e%c%02d" : "e%c%d",
                              exp < 0 ? '-' : '+', ae);
    } else if (exp < 0) {
        s[o++] = '0';
        s[o++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            s[o++] = '0';
        for (int i = 0; i < nd; i++)
            s[o++] = dig[i];
    } else {
        for (int i = 0; i <= exp || i < nd; i++) {
            if (i == exp + 1)
                s[o++] = '.';
            s[o++] = i < nd ? dig[i] : '0';
        }
    }
    return buf_append(out, s, o);
}

/* --- JSON --- */

int tmpl_json_string(const char *s, size_t n, struct buf *out)
{
    static const char hex[] = "0123456789abcdef";
    int rc = buf_putc(out, '"');
    size_t i = 0, start = 0;
    while (!rc && i < n) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        size_t adv = 1;
        if (c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&') {
            switch (c) {
            case '"':
                esc = "\\\"";
                break;
            case '\\':
                esc = "\\\\";
                break;
            case '\n':
                esc = "\\n";
                break;
            case '\r':
                esc = "\\r";
                break;
            case '\t':
                esc = "\\t";
                break;
            case '\b':
                esc = "\\b";
                break;
            case '\f':
                esc = "\\f";
                break;
            default:
                snprintf(u, sizeof(u), "\\u00%c%c", hex[c >> 4], hex[c & 15]);
                esc = u;
            }
        } else if (c >= 0x80) {
            int len = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
            bool ok = len > 0 && i + (size_t)len <= n;
            for (int k = 1; ok && k < len; k++)
                ok = ((unsigned char)s[i + (size_t)k] & 0xC0) == 0x80;
            if (ok && len == 3) {
                unsigned char c1 = (unsigned char)s[i + 1];
                ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
                if (ok && c == 0xE2 && c1 == 0x80 &&
                    ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9))
                    esc = (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
            }
            if (ok && len == 4) {
                unsigned char c1 = (unsigned char)s[i + 1];
                ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
            }
            if (!ok)
                esc = "\\ufffd";
            else
                adv = (size_t)len;
        }
        if (esc) {
            rc = buf_append(out, s + start, i - start);
            if (!rc)
                rc = buf_puts(out, esc);
            i += adv;
            start = i;
        } else {
            i += adv;
        }
    }
    if (!rc)
        rc = buf_append(out, s + start, n - start);
    return rc ? rc : buf_putc(out, '"');
}

static int enc(const json_t *j, int tag, int depth, struct buf *out);

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted keys of obj in a new array (mem_free), NULL on OOM; *n set. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    size_t k = 0, sz = json_object_size(obj);
    const char *key;
    json_t *v;
    const char **keys = mem_alloc_array(sz ? sz : 1, sizeof(*keys));
    if (!keys)
        return NULL;
    json_object_foreach((json_t *)obj, key, v)
    {
        (void)v;
        keys[k++] = key;
    }
    qsort(keys, k, sizeof(*keys), cmp_keys);
    *n = k;
    return keys;
}

static int enc_object_sorted(const json_t *j, int elem_tag, int depth, struct buf *out)
{
    size_t n = 0;
    const char **keys = sorted_keys(j, &n);
    if (!keys)
        return E_NOMEM;
    int rc = buf_putc(out, '{');
    for (size_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = buf_putc(out, ',');
        if (!rc)
            rc = tmpl_json_string(keys[i], strlen(keys[i]), out);
        if (!rc)
            rc = buf_putc(out, ':');
        if (!rc)
            rc = enc(json_object_get(j, keys[i]), elem_tag, depth + 1, out);
    }
    mem_free(keys);
    return rc ? rc : buf_putc(out, '}');
}

static bool is_empty(const json_t *v)
{
    struct tval tv = {(json_t *)v, TAG_NONE};
    return !v || json_is_null(v) || !tmpl_val_truth(&tv);
}

static json_t *spec_get(const json_t *obj, const struct fspec *f)
{
    json_t *v = obj && json_is_object(obj) ? json_object_get(obj, f->key) : NULL;
    return v ? v : tmpl_obj_field(obj, f->goname);
}

static int enc_struct(const json_t *obj, const struct fspec *spec, int depth, struct buf *out)
{
    bool first = true;
    int rc = buf_putc(out, '{');
    for (const struct fspec *f = spec; !rc && f->key; f++) {
        json_t *v = spec_get(obj, f);
        if ((f->mode == F_OMIT || f->mode == F_TYPE) && is_empty(v))
            continue;
        if (!first)
            rc = buf_putc(out, ',');
        first = false;
        if (!rc)
            rc = tmpl_json_string(f->key, strlen(f->key), out);
        if (!rc)
            rc = buf_putc(out, ':');
        if (rc)
            break;
        if (f->mode == F_TYPE && json_is_array(v) && json_array_size(v) == 1)
            rc = enc(json_array_get(v, 0), TAG_NONE, depth + 1, out);
        else if (v && !json_is_null(v))
            rc = enc(v, f->tag, depth + 1, out);
        else if (f->mode == F_STR)
            rc = buf_puts(out, "\"\"");
        else if (f->mode == F_OBJ)
            rc = buf_puts(out, "{}");
        else if (f->mode == F_STRUCT)
            rc = enc_struct(NULL, spec_for(f->tag), depth + 1, out);
        else
            rc = buf_puts(out, "null");
    }
    return rc ? rc : buf_putc(out, '}');
}

static int enc(const json_t *j, int tag, int depth, struct buf *out)
{
    if (depth > VAL_MAX_DEPTH)
        return E_RANGE;
    if (!j)
        return buf_puts(out, "null");
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        if (spec_for(tag))
            return enc_struct(j, spec_for(tag), depth, out);
        return enc_object_sorted(j, tmpl_tag_elem(tag), depth, out);
    case JSON_ARRAY: {
        int rc = buf_putc(out, '[');
        for (size_t i = 0; !rc && i < json_array_size(j); i++) {
            if (i)
                rc = buf_putc(out, ',');
            if (!rc)
                rc = enc(json_array_get(j, i), tmpl_tag_elem(tag), depth + 1, out);
        }
        return rc ? rc : buf_putc(out, ']');
    }
    case JSON_STRING:
        return tmpl_json_string(json_string_value(j), json_string_length(j), out);
    case JSON_INTEGER:
        return buf_printf(out, "%lld", (long long)json_integer_value(j));
    case JSON_REAL:
        return tmpl_fmt_float(json_real_value(j), false, out);
    case JSON_TRUE:
        return buf_puts(out, "true");
    case JSON_FALSE:
        return buf_puts(out, "false");
    default:
        return buf_puts(out, "null");
    }
}

int tmpl_val_json(const struct tval *v, struct buf *out)
{
    return enc(v->j, v->tag, 0, out);
}

/* --- %v printing --- */

static int print_go(const json_t *j, int depth, bool nested, struct buf *out);

static int print_map(const json_t *j, int depth, struct buf *out)
{
    size_t n = 0;
    const char **keys = sorted_keys(j, &n);
    if (!keys)
        return E_NOMEM;
    int rc = buf_puts(out, "map[");
    for (size_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = buf_putc(out, ' ');
        if (!rc)
            rc = buf_printf(out, "%s:", keys[i]);
        if (!rc)
            rc = print_go(json_object_get(j, keys[i]), depth + 1, true, out);
    }
    mem_free(keys);
    return rc ? rc : buf_putc(out, ']');
}

static int print_go(const json_t *j, int depth, bool nested, struct buf *out)
{
    if (depth > VAL_MAX_DEPTH)
        return E_RANGE;
    if (!j || json_is_null(j))
        return buf_puts(out, nested ? "<nil>" : "<no value>");
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return print_map(j, depth, out);
    case JSON_ARRAY: {
        int rc = buf_putc(out, '[');
        for (size_t i = 0; !rc && i < json_array_size(j); i++) {
            if (i)
                rc = buf_putc(out, ' ');
            if (!rc)
                rc = print_go(json_array_get(j, i), depth + 1, true, out);
        }
        return rc ? rc : buf_putc(out, ']');
    }
    case JSON_STRING:
        return buf_append(out, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return buf_printf(out, "%lld", (long long)json_integer_value(j));
    case JSON_REAL:
        return tmpl_fmt_float(json_real_value(j), true, out);
    case JSON_TRUE:
        return buf_puts(out, "true");
    default:
        return buf_puts(out, "false");
    }
}

int tmpl_val_print(const struct tval *v, struct buf *out)
{
    if (!v->j)
        return v->tag == TAG_NOVALUE || v->tag == TAG_NONE ? buf_puts(out, "<no value>") : 0;
    if (v->tag == TAG_PTYPE && json_is_array(v->j) && json_array_size(v->j) == 1)
        return print_go(json_array_get(v->j, 0), 0, false, out);
    if (v->tag != TAG_NONE && v->tag != TAG_ROOT && v->tag != TAG_ZERO && v->tag != TAG_PTYPE &&
        (json_is_object(v->j) || json_is_array(v->j)))
        return enc(v->j, v->tag, 0, out);
    return print_go(v->j, 0, false, out);
}

/*
 * json.c - Go-compatible JSON encoding and typed getters over jansson (see json.h).
 *
 * The encoder walks a json_t tree itself rather than using json_dumps because jansson neither
 * escapes <, >, & nor replaces invalid UTF-8, and its float formatting differs from Go's
 * strconv.AppendFloat(f, 'f'|'e', -1, bits) which we reproduce in number_go().
 */
#include "common/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define JSON_DUMP_MAX (64u << 20) /* json_go_dumps output cap */

static const char hexd[] = "0123456789abcdef";

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length and the code point in *cp,
 * or 0 when the bytes are not valid UTF-8 (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0], min;
    size_t len;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        len = 2, c &= 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, c &= 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

static int put_u4(struct buf *out, unsigned v)
{
    char e[6] = {'\\',        'u', hexd[(v >> 12) & 15], hexd[(v >> 8) & 15], hexd[(v >> 4) & 15],
                 hexd[v & 15]};
    return buf_append(out, e, sizeof(e));
}

/* Escape for one ASCII byte, or NULL when it is written as is. */
static const char *ascii_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b"; /* Go >= 1.22 */
    case '\f':
        return "\\f";
    default:
        return NULL;
    }
}

int json_go_string(const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    int rc;
    if ((rc = buf_putc(out, '"')) != 0)
        return rc;
    while (i < n) {
        unsigned char c = p[i];
        uint32_t cp = 0;
        size_t len = 1;
        int plain;
        const char *esc = NULL;
        if (c < 0x80) {
            esc = ascii_escape(c);
            plain = !esc && c >= 0x20 && c != '<' && c != '>' && c != '&';
        } else {
            len = utf8_dec(p + i, n - i, &cp);
            plain = len && cp != 0x2028 && cp != 0x2029;
        }
        if (plain) {
            run += len;
            i += len;
            continue;
        }
        if (run && (rc = buf_append(out, p + i - run, run)) != 0)
            return rc;
        run = 0;
        if (esc)
            rc = buf_puts(out, esc);
        else if (c < 0x80)
            rc = put_u4(out, c);
        else if (!len)
            rc = buf_puts(out, "\\ufffd");
        else
            rc = put_u4(out, cp);
        if (rc)
            return rc;
        i += len ? len : 1;
    }
    if (run && (rc = buf_append(out, p + i - run, run)) != 0)
        return rc;
    return buf_putc(out, '"');
}

/* Shortest digits of v that round-trip at the given precision: digits into d (no dot), decimal
 * exponent of the first digit into *e10; returns the digit count. */
static int shortest_digits(double v, int bits, char d[24], int *e10)
{
    char tmp[40];
    int nd = 0, maxp = bits == 32 ? 9 : 17;
    for (int p = 1; p <= maxp; p++) {
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
        if (bits == 32 ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
            break;
    }
    for (const char *q = tmp; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            d[nd++] = *q;
    *e10 = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10);
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    d[nd] = '\0';
    return nd;
}

static int number_e(const char *d, int nd, int e10, struct buf *out)
{
    int rc;
    if ((rc = buf_putc(out, d[0])) != 0)
        return rc;
    if (nd > 1 && ((rc = buf_putc(out, '.')) != 0 || (rc = buf_append(out, d + 1, nd - 1)) != 0))
        return rc;
    /* Go writes at least two exponent digits, then encoding/json trims "e-07" to "e-7" */
    if (e10 < 0 && e10 > -10)
        return buf_printf(out, "e-%d", -e10);
    return buf_printf(out, "e%c%02d", e10 < 0 ? '-' : '+', e10 < 0 ? -e10 : e10);
}

static int number_f(const char *d, int nd, int e10, struct buf *out)
{
    int rc = 0;
    if (e10 >= nd - 1) { /* integer: digits then zeros */
        rc = buf_append(out, d, (size_t)nd);
        for (int i = 0; !rc && i < e10 - (nd - 1); i++)
            rc = buf_putc(out, '0');
        return rc;
    }
    if (e10 >= 0) {
        if ((rc = buf_append(out, d, (size_t)e10 + 1)) != 0 || (rc = buf_putc(out, '.')) != 0)
            return rc;
        return buf_append(out, d + e10 + 1, (size_t)(nd - e10 - 1));
    }
    if ((rc = buf_puts(out, "0.")) != 0)
        return rc;
    for (int i = 0; !rc && i < -e10 - 1; i++)
        rc = buf_putc(out, '0');
    return rc ? rc : buf_append(out, d, (size_t)nd);
}

int json_go_number(double v, int bits, struct buf *out)
{
    char d[24];
    int nd, e10, rc;
    double a = fabs(v);
    if (isnan(v) || isinf(v))
        return buf_puts(out, "null"); /* Go refuses these; never produced by jansson */
    if (v == 0)
        return buf_puts(out, signbit(v) ? "-0" : "0");
    if (v < 0 && (rc = buf_putc(out, '-')) != 0)
        return rc;
    nd = shortest_digits(a, bits, d, &e10);
    if (bits == 32 ? ((float)a < 1e-6f || (float)a >= 1e21f) : (a < 1e-6 || a >= 1e21))
        return number_e(d, nd, e10, out);
    return number_f(d, nd, e10, out);
}

/* Real values that are exactly float32 values are printed as Go prints a float32 (options and
 * parameters are float32 fields in Ollama), others as float64. */
static int real_go(double v, struct buf *out)
{
    return json_go_number(v, (double)(float)v == v ? 32 : 64, out);
}

static int encode(const json_t *v, int flags, int depth, struct buf *out);

static int encode_obj_key(const char *k, const json_t *val, int first, int flags, int depth,
                          struct buf *out)
{
    int rc;
    if (!first && (rc = buf_putc(out, ',')) != 0)
        return rc;
    if ((rc = json_go_string(k, strlen(k), out)) != 0 || (rc = buf_putc(out, ':')) != 0)
        return rc;
    return encode(val, flags, depth + 1, out);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int encode_obj_sorted(const json_t *v, int flags, int depth, struct buf *out)
{
    size_t n = json_object_size(v), i = 0;
    const char **keys, *k;
    json_t *val;
    int rc = 0;
    if (!(keys = mem_calloc(n ? n : 1, sizeof(*keys))))
        return E_NOMEM;
    json_object_foreach((json_t *)v, k, val) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (i = 0; !rc && i < n; i++)
        rc = encode_obj_key(keys[i], json_object_get(v, keys[i]), i == 0, flags, depth, out);
    mem_free(keys);
    return rc;
}

static int encode_obj(const json_t *v, int flags, int depth, struct buf *out)
{
    const char *k;
    json_t *val;
    int rc, first = 1;
    if ((rc = buf_putc(out, '{')) != 0)
        return rc;
    if (flags & JSON_GO_SORT_KEYS) {
        rc = encode_obj_sorted(v, flags, depth, out);
    } else {
        json_object_foreach((json_t *)v, k, val)
        {
            if ((rc = encode_obj_key(k, val, first, flags, depth, out)) != 0)
                break;
            first = 0;
        }
    }
    return rc ? rc : buf_putc(out, '}');
}

static int encode_arr(const json_t *v, int flags, int depth, struct buf *out)
{
    int rc;
    if ((rc = buf_putc(out, '[')) != 0)
        return rc;
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (i && (rc = buf_putc(out, ',')) != 0)
            return rc;
        if ((rc = encode(json_array_get(v, i), flags, depth + 1, out)) != 0)
            return rc;
    }
    return buf_putc(out, ']');
}

static int encode(const json_t *v, int flags, int depth, struct buf *out)
{
    if (depth > JSON_GO_MAX_DEPTH)
        return E_RANGE;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return encode_obj(v, flags, depth, out);
    case JSON_ARRAY:
        return encode_arr(v, flags, depth, out);
    case JSON_STRING:
        return json_go_string(json_string_value(v), json_string_length(v), out);
    case JSON_INTEGER:
        return buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return real_go(json_real_value(v), out);
    case JSON_TRUE:
        return buf_puts(out, "true");
    case JSON_FALSE:
        return buf_puts(out, "false");
    default:
        return buf_puts(out, "null");
    }
}

int json_go_encode(const json_t *v, int flags, struct buf *out)
{
    if (!v)
        return buf_puts(out, "null");
    return encode(v, flags, 0, out);
}

int json_ndjson_line(const json_t *v, struct buf *out)
{
    int rc;
    if ((rc = json_go_encode(v, 0, out)) != 0)
        return rc;
    return buf_putc(out, '\n');
}

int json_go_dumps(const json_t *v, int flags, char **s, size_t *n)
{
    struct buf b;
    int rc;
    buf_init(&b, JSON_DUMP_MAX);
    if ((rc = json_go_encode(v, flags, &b)) != 0 || (rc = buf_putc(&b, '\n')) != 0) {
        buf_fini(&b);
        return rc;
    }
    *s = buf_take(&b, n);
    return *s ? 0 : E_NOMEM;
}

void json_time_rfc3339nano(time_t sec, long nsec, int utc, char out[40])
{
    struct tm tm;
    char frac[12] = "";
    long off;
    size_t k;
    if (utc)
        gmtime_r(&sec, &tm);
    else
        localtime_r(&sec, &tm);
    off = utc ? 0 : tm.tm_gmtoff;
    if (nsec > 0 && nsec < 1000000000L) {
        snprintf(frac, sizeof(frac), ".%09ld", nsec);
        for (k = strlen(frac); k > 1 && frac[k - 1] == '0'; k--)
            frac[k - 1] = '\0';
    }
    k = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    if (off == 0)
        snprintf(out + k, 40 - k, "%sZ", frac);
    else
        snprintf(out + k, 40 - k, "%s%c%02ld:%02ld", frac, off < 0 ? '-' : '+', labs(off) / 3600,
                 (labs(off) / 60) % 60);
}

json_t *json_time_new(time_t sec, long nsec, int utc)
{
    char t[40];
    json_time_rfc3339nano(sec, nsec, utc, t);
    return json_string(t);
}

int json_parse_object(const char *p, size_t n, json_t **out, struct err_info *ei)
{
    json_error_t je;
    json_t *v;
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    if (i == n)
        return err_set(ei, E_INVAL, "missing request body");
    /* Go's json.Decoder (what Ollama's handlers use) reads the first value and ignores what
     * follows it; do the same */
    if (!(v = json_loadb(p, n, JSON_DISABLE_EOF_CHECK, &je)))
        return err_set(ei, E_PARSE, "%s", je.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return err_set(ei, E_PARSE, "json: cannot unmarshal array into Go value of type object");
    }
    *out = v;
    return 0;
}

const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    default:
        return "null";
    }
}

static _Thread_local const char *go_struct; /* the Go request type being decoded, or NULL */

void json_set_go_struct(const char *name)
{
    go_struct = name;
}

const char *json_go_struct(void)
{
    return go_struct ? go_struct : "";
}

static int wrong_type(const json_t *v, const char *key, const char *want, struct err_info *ei)
{
    return err_set(ei, E_INVAL, "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
                   json_type_name(v), go_struct ? go_struct : "", key, want);
}

static const json_t *field(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return v && !json_is_null(v) ? v : NULL;
}

int json_get_str(const json_t *obj, const char *key, const char **out, struct err_info *ei)
{
    const json_t *v = field(obj, key);
    if (!v)
        return E_NOTFOUND;
    if (!json_is_string(v))
        return wrong_type(v, key, "string", ei);
    *out = json_string_value(v);
    return 0;
}

int json_get_bool(const json_t *obj, const char *key, int *out, struct err_info *ei)
{
    const json_t *v = field(obj, key);
    if (!v)
        return E_NOTFOUND;
    if (!json_is_boolean(v))
        return wrong_type(v, key, "bool", ei);
    *out = json_is_true(v);
    return 0;
}

int json_get_int(const json_t *obj, const char *key, int64_t *out, struct err_info *ei)
{
    const json_t *v = field(obj, key);
    if (!v)
        return E_NOTFOUND;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && fabs(json_real_value(v)) < 9.2e18) {
        *out = (int64_t)json_real_value(v);
        return 0;
    }
    return wrong_type(v, key, "int", ei);
}

int json_get_obj(const json_t *obj, const char *key, json_t **out, struct err_info *ei)
{
    const json_t *v = field(obj, key);
    if (!v)
        return E_NOTFOUND;
    if (!json_is_object(v))
        return wrong_type(v, key, "map[string]interface {}", ei);
    *out = (json_t *)v;
    return 0;
}

int json_get_arr(const json_t *obj, const char *key, json_t **out, struct err_info *ei)
{
    const json_t *v = field(obj, key);
    if (!v)
        return E_NOTFOUND;
    if (!json_is_array(v))
        return wrong_type(v, key, "[]interface {}", ei);
    *out = (json_t *)v;
    return 0;
}

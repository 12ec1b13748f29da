/*
 * rproto.c - framing and typed parsing of the server <-> runner protocol (see rproto.h).
 * The decoder is a pure function over bytes (fuzzed by tests/fuzz/fuzz_rproto.c); the reader
 * wraps it for a stream fd.  Length prefixes are checked against RPROTO_MAX_FRAME before any
 * allocation, and every option number against its cap.
 */
#include "runner/rproto.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/mem.h"

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    int use_send = 1;
    while (n > 0) {
        ssize_t w;
        if (use_send) {
            w = send(fd, c, n, MSG_NOSIGNAL);
            if (w < 0 && errno == ENOTSOCK) {
                use_send = 0;
                continue;
            }
        } else {
            w = write(fd, c, n);
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return E_IO;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int rproto_send(int fd, const json_t *msg)
{
    size_t n = json_dumpb(msg, NULL, 0, JSON_COMPACT), n2;
    uint8_t *frame;
    int rc;
    if (n == 0)
        return E_NOMEM;
    if (n > RPROTO_MAX_FRAME)
        return E_RANGE;
    /* header and body in one buffer so a frame is one write on the socket */
    if (!(frame = mem_alloc(n + RPROTO_HDR)))
        return E_NOMEM;
    n2 = json_dumpb(msg, (char *)frame + RPROTO_HDR, n, JSON_COMPACT);
    if (n2 != n) {
        rc = E_INTERNAL;
        goto out;
    }
    frame[0] = (uint8_t)n;
    frame[1] = (uint8_t)(n >> 8);
    frame[2] = (uint8_t)(n >> 16);
    frame[3] = (uint8_t)(n >> 24);
    rc = write_all(fd, frame, n + RPROTO_HDR);
out:
    mem_free(frame);
    return rc;
}

int rproto_decode(const uint8_t *p, size_t n, json_t **msg, size_t *used, struct err_info *ei)
{
    uint32_t len;
    json_t *j;
    json_error_t je;
    *msg = NULL;
    *used = 0;
    if (n < RPROTO_HDR)
        return 0;
    len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (len > RPROTO_MAX_FRAME)
        return err_set(ei, E_RANGE, "frame of %u bytes exceeds the limit of %u", len,
                       RPROTO_MAX_FRAME);
    if (len == 0)
        return err_set(ei, E_PARSE, "empty frame");
    if (n - RPROTO_HDR < len)
        return 0;
    j = json_loadb((const char *)p + RPROTO_HDR, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return err_set(ei, E_PARSE, "frame body: %s", je.text);
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "t"))) {
        json_decref(j);
        return err_set(ei, E_PARSE, "frame body is not an object with a string \"t\"");
    }
    *msg = j;
    *used = RPROTO_HDR + len;
    return 0;
}

void rproto_reader_init(struct rproto_reader *r)
{
    buf_init(&r->in, RPROTO_MAX_FRAME + RPROTO_HDR + 65536);
    r->off = 0;
}

void rproto_reader_fini(struct rproto_reader *r)
{
    buf_fini(&r->in);
    r->off = 0;
}

/* Drops consumed bytes at the front so the buffer never exceeds one frame plus a read. */
static void compact(struct rproto_reader *r)
{
    if (r->off == 0)
        return;
    if (r->off < r->in.n)
        memmove(r->in.p, r->in.p + r->off, r->in.n - r->off);
    r->in.n -= r->off;
    if (r->in.p)
        r->in.p[r->in.n] = '\0';
    r->off = 0;
}

int rproto_reader_fill(struct rproto_reader *r, int fd)
{
    char tmp[65536];
    ssize_t got;
    compact(r);
    for (;;) {
        got = read(fd, tmp, sizeof(tmp));
        if (got >= 0 || errno != EINTR)
            break;
    }
    if (got < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : E_IO;
    if (got == 0)
        return E_NOTFOUND;
    return buf_append(&r->in, tmp, (size_t)got);
}

int rproto_reader_next(struct rproto_reader *r, json_t **msg, struct err_info *ei)
{
    size_t used = 0;
    int rc;
    *msg = NULL;
    if (r->off >= r->in.n)
        return 0;
    rc = rproto_decode((const uint8_t *)r->in.p + r->off, r->in.n - r->off, msg, &used, ei);
    if (rc == 0)
        r->off += used;
    return rc;
}

int rproto_recv(struct rproto_reader *r, int fd, json_t **msg, struct err_info *ei)
{
    int rc;
    for (;;) {
        if ((rc = rproto_reader_next(r, msg, ei)) != 0 || *msg)
            return rc;
        if ((rc = rproto_reader_fill(r, fd)) != 0)
            return rc;
    }
}

const char *rproto_type(const json_t *msg)
{
    const char *t = json_string_value(json_object_get(msg, "t"));
    return t ? t : "";
}

uint64_t rproto_rid(const json_t *msg)
{
    json_t *v = json_object_get(msg, "rid");
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

void rproto_complete_defaults(struct rproto_complete *c)
{
    memset(c, 0, sizeof(*c));
    c->prompt = "";
    c->num_predict = -1;
    c->num_keep = 4;
    c->seed = -1;
    c->temperature = 0.8f;
    c->top_k = 40;
    c->top_p = 0.9f;
    c->min_p = 0.0f;
    c->typical_p = 1.0f;
    c->repeat_last_n = 64;
    c->repeat_penalty = 1.0f;
}

/* Integer member in [lo, hi]; absent/null keeps *out. */
static int get_int(const json_t *o, const char *key, long long lo, long long hi, long long *out,
                   struct err_info *ei)
{
    json_t *v = json_object_get(o, key);
    double d;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        long long x = json_integer_value(v);
        if (x < lo || x > hi)
            return err_set(ei, E_RANGE, "%s=%lld out of range [%lld, %lld]", key, x, lo, hi);
        *out = x;
        return 0;
    }
    if (!json_is_real(v))
        return err_set(ei, E_PARSE, "%s must be a number", key);
    d = json_real_value(v);
    if (!(d >= (double)lo && d <= (double)hi))
        return err_set(ei, E_RANGE, "%s out of range", key);
    *out = (long long)d;
    return 0;
}

static int get_i32(const json_t *o, const char *key, long long lo, long long hi, int32_t *out,
                   struct err_info *ei)
{
    long long x = *out;
    int rc = get_int(o, key, lo, hi, &x, ei);
    if (rc == 0)
        *out = (int32_t)x;
    return rc;
}

static int get_float(const json_t *o, const char *key, float lo, float hi, float *out,
                     struct err_info *ei)
{
    json_t *v = json_object_get(o, key);
    double d;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return err_set(ei, E_PARSE, "%s must be a number", key);
    d = json_number_value(v);
    if (!isfinite(d) || d < (double)lo || d > (double)hi)
        return err_set(ei, E_RANGE, "%s=%g out of range", key, d);
    *out = (float)d;
    return 0;
}

int rproto_tokens_parse(const json_t *arr, int32_t n_vocab, int32_t **out, size_t *n,
                        struct err_info *ei)
{
    size_t cnt, i;
    int32_t *ids;
    *out = NULL;
    *n = 0;
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return err_set(ei, E_PARSE, "token list must be an array");
    cnt = json_array_size(arr);
    if (cnt > RPROTO_MAX_TOKENS)
        return err_set(ei, E_RANGE, "%zu tokens exceed the limit", cnt);
    if (cnt == 0)
        return 0;
    if (!(ids = mem_alloc_array(cnt, sizeof(*ids))))
        return E_NOMEM;
    for (i = 0; i < cnt; i++) {
        json_t *v = json_array_get(arr, i);
        long long x;
        if (!json_is_integer(v) || (x = json_integer_value(v)) < 0 || x > INT32_MAX ||
            (n_vocab > 0 && x >= n_vocab)) {
            mem_free(ids);
            return err_set(ei, E_RANGE, "invalid token id at index %zu", i);
        }
        ids[i] = (int32_t)x;
    }
    *out = ids;
    *n = cnt;
    return 0;
}

json_t *rproto_tokens_build(const int32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_integer(ids[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int parse_stop(const json_t *msg, struct rproto_complete *c, struct err_info *ei)
{
    json_t *st = json_object_get(msg, "stop"), *v;
    size_t i;
    if (!st || json_is_null(st))
        return 0;
    if (!json_is_array(st))
        return err_set(ei, E_PARSE, "stop must be an array of strings");
    if (json_array_size(st) > RPROTO_MAX_STOP)
        return err_set(ei, E_RANGE, "more than %d stop strings", RPROTO_MAX_STOP);
    json_array_foreach(st, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            return err_set(ei, E_PARSE, "stop must be an array of strings");
        if (json_string_length(v) > RPROTO_MAX_STOP_LEN)
            return err_set(ei, E_RANGE, "stop string longer than %d bytes", RPROTO_MAX_STOP_LEN);
        if (json_string_length(v) == 0 || strlen(s) != json_string_length(v))
            continue; /* empty or with NUL: cannot match decoded text */
        c->stop[c->n_stop++] = s;
    }
    return 0;
}

static int parse_numbers(const json_t *m, struct rproto_complete *c, struct err_info *ei)
{
    long long seed = c->seed;
    int rc;
    if ((rc = get_i32(m, "num_predict", -2, INT32_MAX, &c->num_predict, ei)) ||
        (rc = get_i32(m, "num_keep", -1, RPROTO_MAX_CTX, &c->num_keep, ei)) ||
        (rc = get_int(m, "seed", INT64_MIN, INT64_MAX, &seed, ei)) ||
        (rc = get_float(m, "temperature", -1e6f, 1e6f, &c->temperature, ei)) ||
        (rc = get_i32(m, "top_k", -1, INT32_MAX, &c->top_k, ei)) ||
        (rc = get_float(m, "top_p", -1e6f, 1e6f, &c->top_p, ei)) ||
        (rc = get_float(m, "min_p", -1e6f, 1e6f, &c->min_p, ei)) ||
        (rc = get_float(m, "typical_p", -1e6f, 1e6f, &c->typical_p, ei)) ||
        (rc = get_i32(m, "repeat_last_n", -1, RPROTO_MAX_CTX, &c->repeat_last_n, ei)) ||
        (rc = get_float(m, "repeat_penalty", -1e6f, 1e6f, &c->repeat_penalty, ei)) ||
        (rc = get_float(m, "presence_penalty", -1e6f, 1e6f, &c->presence_penalty, ei)) ||
        (rc = get_float(m, "frequency_penalty", -1e6f, 1e6f, &c->frequency_penalty, ei)))
        return rc;
    c->seed = seed;
    return 0;
}

static int parse_logprobs(const json_t *msg, struct rproto_complete *c, struct err_info *ei)
{
    json_t *v = json_object_get(msg, "logprobs");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return err_set(ei, E_PARSE, "logprobs must be a boolean");
    c->logprobs = json_is_true(v);
    return get_i32(msg, "top_logprobs", 0, RPROTO_MAX_TOP_LP, &c->top_logprobs, ei);
}

static int parse_grammar(const json_t *msg, struct rproto_complete *c, struct err_info *ei)
{
    json_t *v = json_object_get(msg, "grammar");
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(ei, E_PARSE, "grammar must be a string");
    if (json_string_length(v) > RPROTO_MAX_GRAMMAR)
        return err_set(ei, E_RANGE, "grammar longer than %u bytes", RPROTO_MAX_GRAMMAR);
    if (json_string_length(v) > 0)
        c->grammar = json_string_value(v);
    return get_i32(msg, "grammar_think", 0, 2, &c->think_gram, ei);
}

int rproto_complete_parse(const json_t *msg, struct rproto_complete *c, struct err_info *ei)
{
    json_t *p = json_object_get(msg, "prompt");
    int rc;
    rproto_complete_defaults(c);
    c->rid = rproto_rid(msg);
    if (p && !json_is_string(p))
        return err_set(ei, E_PARSE, "prompt must be a string");
    if (p)
        c->prompt = json_string_value(p);
    c->special = json_is_true(json_object_get(msg, "special"));
    if ((rc = parse_numbers(msg, c, ei)) != 0 || (rc = parse_stop(msg, c, ei)) != 0 ||
        (rc = parse_logprobs(msg, c, ei)) != 0 || (rc = parse_grammar(msg, c, ei)) != 0)
        return rc;
    return rproto_tokens_parse(json_object_get(msg, "context"), 0, &c->context, &c->n_context, ei);
}

void rproto_complete_fini(struct rproto_complete *c)
{
    mem_free(c->context);
    c->context = NULL;
    c->n_context = 0;
}

json_t *rproto_complete_build(const struct rproto_complete *c)
{
    json_t *m =
        json_pack("{s:s, s:I, s:s, s:i, s:i, s:I, s:f, s:i, s:f, s:f, s:f, s:i, s:f, s:f, "
                  "s:f, s:b}",
                  "t", "complete", "rid", (json_int_t)c->rid, "prompt", c->prompt ? c->prompt : "",
                  "num_predict", c->num_predict, "num_keep", c->num_keep, "seed",
                  (json_int_t)c->seed, "temperature", (double)c->temperature, "top_k", c->top_k,
                  "top_p", (double)c->top_p, "min_p", (double)c->min_p, "typical_p",
                  (double)c->typical_p, "repeat_last_n", c->repeat_last_n, "repeat_penalty",
                  (double)c->repeat_penalty, "presence_penalty", (double)c->presence_penalty,
                  "frequency_penalty", (double)c->frequency_penalty, "special", c->special);
    json_t *st, *ctx;
    if (!m)
        return NULL;
    st = json_array();
    for (size_t i = 0; st && i < c->n_stop; i++)
        json_array_append_new(st, json_string(c->stop[i]));
    ctx = rproto_tokens_build(c->context, c->n_context);
    if (!st || !ctx || json_object_set_new(m, "stop", st) != 0 ||
        json_object_set_new(m, "context", ctx) != 0 ||
        (c->logprobs && (json_object_set_new(m, "logprobs", json_true()) != 0 ||
                         json_object_set_new(m, "top_logprobs", json_integer(c->top_logprobs)))) ||
        (c->grammar && json_object_set_new(m, "grammar", json_string(c->grammar)) != 0) ||
        (c->think_gram &&
         json_object_set_new(m, "grammar_think", json_integer(c->think_gram)) != 0)) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* Length of the valid UTF-8 sequence at p[0..n), 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* p[0..n) as a JSON string, each invalid byte replaced by U+FFFD (as Go's encoder does). */
static json_t *valid_string(const char *p, size_t n)
{
    struct buf b;
    json_t *s;
    size_t i = 0;
    buf_init(&b, 4 * n + 1);
    while (i < n) {
        size_t k = utf8_seq((const unsigned char *)p + i, n - i);
        if ((k ? buf_append(&b, p + i, k) : buf_append(&b, "\xef\xbf\xbd", 3)) != 0) {
            buf_fini(&b);
            return NULL;
        }
        i += k ? k : 1;
    }
    s = json_stringn(b.p ? b.p : "", b.n);
    buf_fini(&b);
    return s;
}

json_t *rproto_text_new(const char *p, size_t n)
{
    return valid_string(p, n);
}

static json_t *lp_entry(const struct rproto_lp_tok *t)
{
    json_t *o = json_object(), *bytes;
    if (!o || json_object_set_new(o, "token", valid_string(t->text, t->n)) != 0 ||
        json_object_set_new(o, "logprob", json_real(t->logprob)) != 0)
        goto fail;
    if (t->n == 0)
        return o;
    if (!(bytes = json_array()) || json_object_set_new(o, "bytes", bytes) != 0)
        goto fail;
    for (size_t i = 0; i < t->n; i++)
        if (json_array_append_new(bytes, json_integer((unsigned char)t->text[i])) != 0)
            goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

json_t *rproto_logprob_build(const struct rproto_lp_tok *tok, const struct rproto_lp_tok *top,
                             size_t n_top)
{
    json_t *e = lp_entry(tok), *arr;
    if (!e || n_top == 0)
        return e;
    if (!(arr = json_array()) || json_object_set_new(e, "top_logprobs", arr) != 0)
        goto fail;
    for (size_t i = 0; i < n_top; i++)
        if (json_array_append_new(arr, lp_entry(&top[i])) != 0)
            goto fail;
    return e;
fail:
    json_decref(e);
    return NULL;
}

int rproto_load_parse(const json_t *msg, struct rproto_load *l, struct err_info *ei)
{
    int rc;
    l->num_ctx = 2048;
    l->num_parallel = 1;
    l->num_batch = 512;
    l->num_thread = 0;
    l->use_mmap = 0;
    {
        json_t *v = json_object_get(msg, "use_mmap");
        if (v && !json_is_null(v) && !json_is_boolean(v))
            return err_set(ei, E_PARSE, "use_mmap must be a boolean");
        l->use_mmap = json_is_true(v);
    }
    if ((rc = get_i32(msg, "num_ctx", 4, RPROTO_MAX_CTX, &l->num_ctx, ei)) ||
        (rc = get_i32(msg, "num_parallel", 1, RPROTO_MAX_PARALLEL, &l->num_parallel, ei)) ||
        (rc = get_i32(msg, "num_batch", 1, RPROTO_MAX_CTX, &l->num_batch, ei)) ||
        (rc = get_i32(msg, "num_thread", 0, RPROTO_MAX_THREADS, &l->num_thread, ei)))
        return rc;
    return 0;
}

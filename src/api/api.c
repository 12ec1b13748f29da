/*
 * api.c - route registry, response helpers and the error -> status table (see api.h).
 */
#include "api/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"

static struct api_route *routes; /* written by constructors before main; read-only after */

void api_route_register(struct api_route *r)
{
    r->next = routes;
    routes = r;
}

static int method_in(const char *methods, const char *m)
{
    size_t n = strlen(m);
    for (const char *p = methods; p && *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, m, n))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* 1 when path matches pattern; *param set for a trailing ":name" segment. */
static int path_match(const char *pat, const char *path, const char **param)
{
    const char *colon = strstr(pat, "/:"), *star = strstr(pat, "/*");
    size_t pre;
    if (!colon && !star)
        return !strcmp(pat, path);
    if (!colon)
        colon = star;                /* a "*name" segment: the rest of the path, slashes included */
    pre = (size_t)(colon - pat) + 1; /* including the slash */
    if (strncmp(pat, path, pre) != 0 || !path[pre] || (!star && strchr(path + pre, '/')))
        return 0;
    *param = path + pre;
    return 1;
}

int api_route_find(const char *method, const char *path, const struct api_route **out,
                   const char **param)
{
    int path_seen = 0;
    for (const struct api_route *r = routes; r; r = r->next) {
        const char *pm = NULL;
        if (!path_match(r->path, path, &pm))
            continue;
        path_seen = 1;
        if (!method_in(r->methods, method))
            continue;
        *out = r;
        *param = pm;
        return 0;
    }
    return path_seen ? E_UNSUPPORTED : E_NOTFOUND;
}

void api_resp_init(struct api_resp *resp, api_emit_fn emit, void *emit_ctx)
{
    memset(resp, 0, sizeof(*resp));
    buf_init(&resp->body, API_MAX_RESP_BYTES);
    resp->stream = 1;
    resp->emit = emit;
    resp->emit_ctx = emit_ctx;
}

void api_resp_fini(struct api_resp *resp)
{
    buf_fini(&resp->body);
    json_decref(resp->last);
    resp->last = NULL;
}

int api_resp_json(struct api_resp *resp, int status, json_t *v)
{
    int rc;
    if (!v)
        return E_NOMEM;
    buf_reset(&resp->body);
    rc = json_go_encode(v, 0, &resp->body);
    json_decref(v);
    if (rc)
        return rc;
    resp->status = status;
    resp->content_type = "application/json; charset=utf-8";
    return 0;
}

int api_resp_text(struct api_resp *resp, int status, const char *text)
{
    buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    return buf_puts(&resp->body, text);
}

int api_resp_ok(struct api_resp *resp)
{
    buf_reset(&resp->body);
    resp->status = 200;
    resp->content_type = NULL;
    return 0;
}

static int emit_bytes(struct api_resp *resp, const char *p, size_t n)
{
    resp->started = 1;
    if (!resp->emit)
        return buf_append(&resp->body, p, n);
    return resp->emit(resp->emit_ctx, p, n);
}

int api_resp_error(struct api_resp *resp, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (resp->started) {
        json_t *v = json_pack("{s:s}", "error", msg);
        struct buf line;
        int rc;
        if (!v)
            return E_NOMEM;
        buf_init(&line, API_MAX_LINE_BYTES);
        rc = json_ndjson_line(v, &line);
        json_decref(v);
        if (!rc)
            rc = emit_bytes(resp, line.p, line.n);
        buf_fini(&line);
        return rc;
    }
    json_decref(resp->last);
    resp->last = NULL;
    return api_resp_json(resp, status, json_pack("{s:s}", "error", msg));
}

int api_stream_setup(const struct api_req *req, struct api_resp *resp, struct err_info *ei)
{
    int stream = 1, rc = json_get_bool(req->json, "stream", &stream, ei);
    if (rc && rc != E_NOTFOUND)
        return rc;
    resp->stream = stream;
    return 0;
}

int api_stream_line(struct api_resp *resp, json_t *v)
{
    struct buf line;
    int rc;
    if (!v)
        return E_NOMEM;
    if (!resp->stream) {
        json_decref(resp->last);
        resp->last = v;
        return 0;
    }
    if (!resp->started) {
        resp->status = 200;
        resp->content_type = "application/x-ndjson";
    }
    buf_init(&line, API_MAX_LINE_BYTES);
    rc = json_ndjson_line(v, &line);
    json_decref(v);
    if (!rc)
        rc = emit_bytes(resp, line.p, line.n);
    buf_fini(&line);
    return rc;
}

int api_stream_status(struct api_resp *resp, const char *s)
{
    return api_stream_line(resp, json_pack("{s:s}", "status", s));
}

int api_stream_finish(struct api_resp *resp)
{
    json_t *v = resp->last;
    if (resp->stream || resp->started)
        return 0;
    resp->last = NULL;
    if (!v)
        return resp->status ? 0 : api_resp_ok(resp); /* keep an error already answered */
    return api_resp_json(resp, 200, v);
}

const char *api_go_request(const char *path)
{
    static const char *const map[][2] = {
        {"/api/generate", "GenerateRequest"}, {"/api/chat", "ChatRequest"},
        {"/api/embed", "EmbedRequest"},       {"/api/embeddings", "EmbeddingRequest"},
        {"/api/create", "CreateRequest"},     {"/api/delete", "DeleteRequest"},
        {"/api/show", "ShowRequest"},         {"/api/copy", "CopyRequest"},
        {"/api/pull", "PullRequest"},         {"/api/push", "PushRequest"}};
    for (size_t i = 0; path && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(path, map[i][0]))
            return map[i][1];
    return NULL;
}

int api_status_for(int rc)
{
    switch (rc) {
    case 0:
        return 200;
    case E_INVAL:
    case E_PARSE:
    case E_INTEGRITY:
    case E_UNSUPPORTED:
        return 400;
    case E_PERM:
        return 403;
    case E_NOTFOUND:
        return 404;
    case E_RANGE:
        return 413;
    case E_CANCELLED:
        return 499;
    case E_BUSY:
    case E_NOMEM:
        return 503;
    default:
        return 500;
    }
}

int api_req_model_name(const json_t *body, const char **out, struct err_info *ei)
{
    const char *s = NULL;
    int rc = json_get_str(body, "model", &s, ei);
    if (rc == E_INVAL)
        return rc;
    if (rc || !*s) {
        rc = json_get_str(body, "name", &s, ei);
        if (rc == E_INVAL)
            return rc;
    }
    if (rc || !s || !*s)
        return err_set(ei, E_INVAL, "model is required");
    *out = s;
    return 0;
}

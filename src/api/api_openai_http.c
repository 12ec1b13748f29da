/*
 * api_openai_http.c - the /v1 routes (ollama-reference.md 1.9).  Chat and completions run the
 * native /api/chat and /api/generate handlers unchanged (found through the route table) with a
 * translated body and a private response whose sink turns NDJSON lines into SSE events for the
 * client; a non-streamed answer is translated from the native final object.  Errors use the
 * OpenAI shape with the native status.  Also GET /v1/models and /v1/models/:model from the store.
 *
 * Bodies are parsed here (the routes are not API_ROUTE_JSON) so malformed JSON also gets the
 * OpenAI error shape.  Owns only per-request state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/api_model.h"
#include "api/api_openai.h"
#include "common/json.h"
#include "common/mem.h"
#include "store/store.h"

#define OAI_EVENT_MAX (API_MAX_LINE_BYTES + 4096u) /* SSE bytes made from one native line */

/* The whole answer as an OpenAI error (or one error event once the stream has started). */
static int oai_error(struct api_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int raw_emit(struct api_resp *resp, const char *p, size_t n)
{
    if (!resp->started) {
        resp->status = 200;
        resp->content_type = "text/event-stream";
    }
    resp->started = 1;
    if (!resp->emit)
        return buf_append(&resp->body, p, n);
    return resp->emit(resp->emit_ctx, p, n);
}

static int oai_error(struct api_resp *resp, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (resp->started) {
        struct buf ev;
        json_t *v = oai_error_body(status, msg);
        int rc;
        buf_init(&ev, OAI_EVENT_MAX);
        rc = oai_sse_event(v, &ev);
        json_decref(v);
        if (!rc)
            rc = raw_emit(resp, ev.p, ev.n);
        buf_fini(&ev);
        return rc;
    }
    return api_resp_json(resp, status, oai_error_body(status, msg));
}

/* ---- bridge to the native handlers ------------------------------------------------------- */

struct bridge {
    struct api_resp *out;
    struct oai_conv conv;
    struct buf ev;
    int failed;        /* an error event went out */
    const char *model; /* embeddings: the requested name */
    int b64;           /* embeddings: encoding_format base64 */
};

/* Sink of the native response: one NDJSON line per call. */
static int bridge_emit(void *ctx, const char *p, size_t n)
{
    struct bridge *b = ctx;
    json_t *line = json_loadb(p, n, 0, NULL);
    int rc;
    buf_reset(&b->ev);
    if (json_object_get(line, "error"))
        b->failed = 1;
    rc = line ? oai_conv_line(&b->conv, line, &b->ev) : E_PARSE;
    json_decref(line);
    if (rc == 0 && b->ev.n)
        rc = raw_emit(b->out, b->ev.p, b->ev.n);
    return rc;
}

/* The message of a native {"error": ...} body, into msg. */
static void native_error_msg(const struct buf *body, int rc, char *msg, size_t cap)
{
    json_t *o = body->n ? json_loadb(body->p, body->n, 0, NULL) : NULL;
    const char *s = json_string_value(json_object_get(o, "error"));
    snprintf(msg, cap, "%s", s ? s : err_str(rc ? rc : E_INTERNAL));
    json_decref(o);
}

/* After the native handler: the whole OpenAI answer, or the end of the stream. */
static int bridge_finish(struct bridge *b, struct api_resp *ir, int rc)
{
    struct api_resp *resp = b->out;
    char msg[1024];
    json_t *o;
    if (resp->started) {
        if (rc == 0 && !b->failed)
            return raw_emit(resp, "data: [DONE]\n\n", 14);
        if (!b->failed && rc != E_CANCELLED)
            return oai_error(resp, 500, "%s", err_str(rc));
        return rc == E_CANCELLED ? rc : 0;
    }
    if (rc == E_CANCELLED)
        return rc;
    if (rc != 0 || (ir->status && ir->status != 200)) {
        native_error_msg(&ir->body, rc, msg, sizeof(msg));
        return oai_error(resp, ir->status ? ir->status : api_status_for(rc), "%s", msg);
    }
    o = ir->body.n ? json_loadb(ir->body.p, ir->body.n, 0, NULL) : NULL;
    if (!o)
        return oai_error(resp, 500, "empty response");
    if (b->conv.kind == OAI_EMBED)
        rc = api_resp_json(resp, 200, oai_embed_list(o, b->model, b->b64));
    else
        rc = api_resp_json(resp, 200, oai_conv_final(&b->conv, o));
    json_decref(o);
    return rc;
}

/* Runs the native handler of path on body (owned by the caller). */
static int run_native(struct api_req *req, struct api_resp *resp, const char *path, json_t *body,
                      enum oai_kind kind, int include_usage, const json_t *oreq)
{
    const struct api_route *rt = NULL;
    const char *param = NULL;
    struct api_req in = *req;
    struct api_resp ir;
    struct bridge b;
    int stream = json_is_true(json_object_get(body, "stream")), rc;
    if (api_route_find("POST", path, &rt, &param) != 0)
        return oai_error(resp, 500, "no handler for %s", path);
    memset(&b, 0, sizeof(b));
    b.out = resp;
    b.model = json_string_value(json_object_get(oreq, "model"));
    b.b64 = json_is_string(json_object_get(oreq, "encoding_format")) &&
            !strcasecmp(json_string_value(json_object_get(oreq, "encoding_format")), "base64");
    oai_conv_init(&b.conv, kind, include_usage);
    buf_init(&b.ev, OAI_EVENT_MAX);
    in.path = path;
    in.param = NULL;
    in.json = body;
    in.body = NULL;
    in.body_len = 0;
    in.upload = NULL;
    api_resp_init(&ir, stream ? bridge_emit : NULL, &b);
    rc = rt->fn(&in, &ir);
    /* an error answer already set the status: api_stream_finish would overwrite it */
    if (rc == 0 && !stream && ir.status == 0)
        rc = api_stream_finish(&ir);
    rc = bridge_finish(&b, &ir, rc);
    api_resp_fini(&ir);
    buf_fini(&b.ev);
    return rc;
}

/* Parses the raw body; answers 400 in OpenAI shape on failure (returns 1 then). */
static int parse_body(struct api_req *req, struct api_resp *resp, json_t **out, int *rc)
{
    struct err_info ei = {0};
    *rc = json_parse_object(req->body ? req->body : "", req->body_len, out, &ei);
    if (*rc == 0)
        return 0;
    *rc = oai_error(resp, 400, "%s", ei.msg[0] ? ei.msg : err_str(*rc));
    return 1;
}

static int include_usage(const json_t *in)
{
    return json_is_true(json_object_get(json_object_get(in, "stream_options"), "include_usage"));
}

static int h_chat_completions(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    json_t *in = NULL, *native = NULL;
    int rc;
    if (parse_body(req, resp, &in, &rc))
        return rc;
    if ((rc = oai_chat_request(in, &native, &ei)) != 0)
        rc = oai_error(resp, 400, "%s", ei.msg[0] ? ei.msg : err_str(rc));
    else
        rc = run_native(req, resp, "/api/chat", native, OAI_CHAT, include_usage(in), in);
    json_decref(native);
    json_decref(in);
    return rc;
}
API_ROUTE(oai_chat, "POST", "/v1/chat/completions", h_chat_completions, 0)

static int h_completions(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    json_t *in = NULL, *native = NULL;
    int rc;
    if (parse_body(req, resp, &in, &rc))
        return rc;
    if ((rc = oai_completion_request(in, &native, &ei)) != 0)
        rc = oai_error(resp, 400, "%s", ei.msg[0] ? ei.msg : err_str(rc));
    else
        rc = run_native(req, resp, "/api/generate", native, OAI_COMPLETION, include_usage(in), in);
    json_decref(native);
    json_decref(in);
    return rc;
}
API_ROUTE(oai_completions, "POST", "/v1/completions", h_completions, 0)

static int h_embeddings(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    json_t *in = NULL, *native = NULL;
    int rc;
    if (parse_body(req, resp, &in, &rc))
        return rc;
    if ((rc = oai_embed_request(in, &native, &ei)) != 0)
        rc = oai_error(resp, 400, "%s", ei.msg[0] ? ei.msg : err_str(rc));
    else
        rc = run_native(req, resp, "/api/embed", native, OAI_EMBED, 0, in);
    json_decref(native);
    json_decref(in);
    return rc;
}
API_ROUTE(oai_embeddings, "POST", "/v1/embeddings", h_embeddings, 0)

/* ---- models ------------------------------------------------------------------------------ */

static json_t *model_obj(const char *id, time_t mtime, const char *ns)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "id", id, "object", "model", "created",
                     (json_int_t)mtime, "owned_by", ns);
}

static int list_cb(void *ctx, const struct store_list_entry *e)
{
    char name[600];
    store_name_display(e->name, name, sizeof(name));
    return json_array_append_new(ctx, model_obj(name, e->mtime, e->name->ns)) ? E_NOMEM : 0;
}

/* Newest first, as /api/tags lists them (stable: store order among equal times). */
static void sort_newest_first(json_t *data)
{
    size_t n = json_array_size(data);
    for (size_t i = 1; i < n; i++) {
        json_t *v = json_incref(json_array_get(data, i));
        json_int_t t = json_integer_value(json_object_get(v, "created"));
        size_t k = i;
        while (k > 0 &&
               json_integer_value(json_object_get(json_array_get(data, k - 1), "created")) < t) {
            json_array_set(data, k, json_array_get(data, k - 1));
            k--;
        }
        json_array_set_new(data, k, v);
    }
}

static int h_models(struct api_req *req, struct api_resp *resp)
{
    json_t *data = json_array();
    int rc;
    if (!data)
        return E_NOMEM;
    if ((rc = store_manifest_list(req->env->store, list_cb, data)) != 0) {
        json_decref(data);
        return oai_error(resp, 500, "%s", err_str(rc));
    }
    sort_newest_first(data);
    return api_resp_json(resp, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}
API_ROUTE(oai_models, "GET", "/v1/models", h_models, API_ROUTE_NOBODY)

static int h_model(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    struct api_model m;
    const char *name = req->param ? req->param : "";
    int rc = api_model_open(req->env->store, name, &m, &ei);
    if (rc == E_NOTFOUND)
        return oai_error(resp, 404, "model '%s' not found", name);
    if (rc != 0)
        return oai_error(resp, api_status_for(rc), "%s", ei.msg[0] ? ei.msg : err_str(rc));
    rc = api_resp_json(resp, 200, model_obj(name, m.mtime, m.name.ns));
    api_model_fini(&m);
    return rc;
}
/* "*model": a namespaced id arrives with its slash (clients send %2F, decoded) */
API_ROUTE(oai_model, "GET", "/v1/models/*model", h_model, API_ROUTE_NOBODY)

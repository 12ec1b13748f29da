/*
 * api_msgs_http.c - the routes POST /v1/messages (Anthropic), POST /v1/messages/count_tokens
 * (an estimate, as Ollama's) and POST /v1/responses (OpenAI Responses, stateless).  Like
 * api_openai_http.c they run the native /api/chat handler unchanged (found through the route
 * table) on a translated body, with a private response whose sink turns each NDJSON line into
 * the dialect's SSE events; a non-streamed answer is translated from the native final object.
 * Errors use the dialect's shape with the native status; an error after the stream started is
 * one `error` event.
 *
 * Bodies are parsed here (the routes are not API_ROUTE_JSON) so malformed JSON also gets the
 * dialect's error shape.  Owns only per-request state.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/api_msgs.h"
#include "common/json.h"
#include "common/mem.h"

#define MSGS_EVENT_MAX (API_MAX_LINE_BYTES + 65536u) /* SSE bytes made from one native line */

enum dialect { D_ANTHROPIC = 1, D_RESPONSES = 2 };

struct bridge {
    enum dialect d;
    struct api_resp *out;
    struct ant_conv ant;
    struct rsp_conv rsp;
    struct buf ev;
    int failed; /* an error event went out */
};

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

static json_t *error_body(enum dialect d, int status, const char *msg)
{
    return d == D_ANTHROPIC ? ant_error_body(status, msg) : rsp_error_body(status, msg);
}

/* The whole answer as an error, or one `error` event once the stream has started. */
static int msgs_error(enum dialect d, struct api_resp *resp, int status, const char *msg)
{
    struct buf ev;
    json_t *v;
    int rc;
    if (!resp->started)
        return api_resp_json(resp, status, error_body(d, status, msg));
    v = d == D_ANTHROPIC ? json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
                                     "api_error", "message", msg)
                         : json_pack("{s:s, s:s, s:n, s:n, s:I}", "type", "error", "message", msg,
                                     "code", "param", "sequence_number", 0);
    buf_init(&ev, MSGS_EVENT_MAX);
    rc = msgs_sse_event("error", v, &ev);
    json_decref(v);
    if (!rc)
        rc = raw_emit(resp, ev.p, ev.n);
    buf_fini(&ev);
    return rc;
}

/* Sink of the native response: one NDJSON line per call. */
static int bridge_emit(void *ctx, const char *p, size_t n)
{
    struct bridge *b = ctx;
    json_t *line = json_loadb(p, n, 0, NULL);
    int rc;
    buf_reset(&b->ev);
    if (json_object_get(line, "error"))
        b->failed = 1;
    if (!line)
        rc = E_PARSE;
    else if (b->d == D_ANTHROPIC)
        rc = ant_conv_line(&b->ant, line, &b->ev);
    else
        rc = rsp_conv_line(&b->rsp, line, &b->ev);
    json_decref(line);
    if (rc == 0 && b->ev.n)
        rc = raw_emit(b->out, b->ev.p, b->ev.n);
    return rc;
}

/* After the native handler: the whole answer, or the end of the stream. */
static int bridge_finish(struct bridge *b, struct api_resp *ir, int rc)
{
    struct api_resp *resp = b->out;
    char msg[1024];
    json_t *o, *err;
    if (resp->started) {
        if (rc != 0 && !b->failed && rc != E_CANCELLED)
            return msgs_error(b->d, resp, 500, err_str(rc));
        return rc == E_CANCELLED ? rc : 0;
    }
    if (rc == E_CANCELLED)
        return rc;
    if (rc != 0 || (ir->status && ir->status != 200)) {
        o = ir->body.n ? json_loadb(ir->body.p, ir->body.n, 0, NULL) : NULL;
        err = json_object_get(o, "error");
        snprintf(msg, sizeof(msg), "%s",
                 json_is_string(err) ? json_string_value(err) : err_str(rc ? rc : E_INTERNAL));
        json_decref(o);
        return msgs_error(b->d, resp, ir->status ? ir->status : api_status_for(rc), msg);
    }
    o = ir->body.n ? json_loadb(ir->body.p, ir->body.n, 0, NULL) : NULL;
    if (!o)
        return msgs_error(b->d, resp, 500, "empty response");
    rc = api_resp_json(
        resp, 200, b->d == D_ANTHROPIC ? ant_conv_final(&b->ant, o) : rsp_conv_final(&b->rsp, o));
    json_decref(o);
    return rc;
}

/* Runs the native /api/chat handler on body (owned by the caller). */
static int run_chat(struct api_req *req, struct api_resp *resp, struct bridge *b, json_t *body)
{
    const struct api_route *rt = NULL;
    const char *param = NULL;
    struct api_req in = *req;
    struct api_resp ir;
    int stream = json_is_true(json_object_get(body, "stream")), rc;
    if (api_route_find("POST", "/api/chat", &rt, &param) != 0)
        return msgs_error(b->d, resp, 500, "no handler for /api/chat");
    b->out = resp;
    buf_init(&b->ev, MSGS_EVENT_MAX);
    in.path = "/api/chat";
    in.param = NULL;
    in.json = body;
    in.body = NULL;
    in.body_len = 0;
    in.upload = NULL;
    api_resp_init(&ir, stream ? bridge_emit : NULL, b);
    rc = rt->fn(&in, &ir);
    /* an error answer already set the status: api_stream_finish would overwrite it */
    if (rc == 0 && !stream && ir.status == 0)
        rc = api_stream_finish(&ir);
    rc = bridge_finish(b, &ir, rc);
    api_resp_fini(&ir);
    buf_fini(&b->ev);
    return rc;
}

/* Parses the raw body; answers 400 in the dialect's shape on failure (returns 1 then). */
static int parse_body(enum dialect d, struct api_req *req, struct api_resp *resp, json_t **out,
                      int *rc)
{
    struct err_info ei = {0};
    *rc = json_parse_object(req->body ? req->body : "", req->body_len, out, &ei);
    if (*rc == 0)
        return 0;
    *rc = msgs_error(d, resp, 400, ei.msg[0] ? ei.msg : err_str(*rc));
    return 1;
}

static int h_messages(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    struct bridge b;
    json_t *in = NULL, *native = NULL;
    int64_t est = 0;
    int rc;
    if (parse_body(D_ANTHROPIC, req, resp, &in, &rc))
        return rc;
    memset(&b, 0, sizeof(b));
    b.d = D_ANTHROPIC;
    if ((rc = ant_request(in, &native, &est, &ei)) != 0) {
        rc = msgs_error(D_ANTHROPIC, resp, 400, ei.msg[0] ? ei.msg : err_str(rc));
    } else {
        ant_conv_init(&b.ant, json_string_value(json_object_get(in, "model")), est);
        rc = run_chat(req, resp, &b, native);
    }
    json_decref(native);
    json_decref(in);
    return rc;
}
API_ROUTE(msgs_messages, "POST", "/v1/messages", h_messages, 0)

static int h_count_tokens(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    json_t *in = NULL;
    int64_t n = 0;
    int rc;
    if (parse_body(D_ANTHROPIC, req, resp, &in, &rc))
        return rc;
    if ((rc = ant_count_tokens(in, &n, &ei)) != 0)
        rc = msgs_error(D_ANTHROPIC, resp, 400, ei.msg[0] ? ei.msg : err_str(rc));
    else
        rc = api_resp_json(resp, 200, json_pack("{s:I}", "input_tokens", (json_int_t)n));
    json_decref(in);
    return rc;
}
API_ROUTE(msgs_count_tokens, "POST", "/v1/messages/count_tokens", h_count_tokens, 0)

static int h_responses(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    struct bridge b;
    json_t *in = NULL, *native = NULL;
    int rc;
    if (parse_body(D_RESPONSES, req, resp, &in, &rc))
        return rc;
    memset(&b, 0, sizeof(b));
    b.d = D_RESPONSES;
    if ((rc = rsp_request(in, &native, &ei)) != 0) {
        rc = msgs_error(D_RESPONSES, resp, 400, ei.msg[0] ? ei.msg : err_str(rc));
    } else {
        rsp_conv_init(&b.rsp, in);
        rc = run_chat(req, resp, &b, native);
        rsp_conv_fini(&b.rsp);
    }
    json_decref(native);
    json_decref(in);
    return rc;
}
API_ROUTE(msgs_responses, "POST", "/v1/responses", h_responses, 0)

/*
 * api_chat.c - POST /api/chat (ollama-reference.md 1.3, 6.4, 6.5, 7.5): message validation,
 * prompt assembly (model MESSAGEs + request messages, model SYSTEM prepended when the request
 * has none first), truncation to num_ctx (oldest non-system messages dropped, the last message
 * always kept; logged), rendering with tools, and tool-call parsing of the output: the tag is the
 * first literal text of the template's `{{ if .ToolCalls }}` branch before `{` (or `{` itself);
 * an answer that starts with it is held back and parsed into message.tool_calls.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "api"
#include "api/api.h"
#include "api/api_serve.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "template/template.h"

#define CHAT_MAX_MESSAGES 100000 /* messages in one request */
#define CHAT_TAG_MAX      64     /* bytes of a tool-call tag */

struct chat {
    struct api_resp *resp;
    struct api_serve_req *r;
    const json_t *tools;    /* request tools or NULL */
    char tag[CHAT_TAG_MAX]; /* tool-call tag; "" when tools are off */
    int mode;               /* 0 undecided, 1 content, 2 tool call */
    struct buf held;        /* text held while undecided / in a tool call */
    struct buf text;        /* whole answer when not streaming */
    struct buf think;       /* whole thinking when not streaming */
    uint64_t t0, load_ns;
    struct api_serve_lp lp;
};

/* ---- tool calls ------------------------------------------------------------------------- */

/* The tool-call tag of a template (see top); "" when it has no .ToolCalls branch. */
static void tool_tag(const char *tmpl, char *tag, size_t cap)
{
    const char *p = tmpl;
    snprintf(tag, cap, "{");
    while ((p = strstr(p, ".ToolCalls")) != NULL) {
        const char *open = p, *close = strstr(p, "}}"), *b;
        size_t n = 0;
        while (open > tmpl && !(open[0] == '{' && open[1] == '{'))
            open--;
        if (!close)
            return;
        if (!memmem(open, (size_t)(p - open), "if", 2)) {
            p = close;
            continue;
        }
        b = close + 2;
        while (*b && strchr(" \t\r\n", *b))
            b++;
        while (b[n] && b[n] != '{' && b[n] != '\n')
            n++;
        while (n > 0 && b[n - 1] == ' ')
            n--;
        if (n > 0 && n < cap) {
            memcpy(tag, b, n);
            tag[n] = '\0';
        }
        return;
    }
}

static int tool_known(const json_t *tools, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *n = json_string_value(json_object_get(json_object_get(t, "function"), "name"));
        if (n && name && strcmp(n, name) == 0)
            return 1;
    }
    return 0;
}

static json_t *call_args(json_t *obj)
{
    json_t *a = json_object_get(obj, "arguments");
    if (!a)
        a = json_object_get(obj, "parameters");
    if (json_is_string(a))
        return json_loads(json_string_value(a), 0, NULL);
    return json_is_object(a) ? json_incref(a) : json_object();
}

/* A tool-call id: "call_" + 8 of [a-z0-9]. */
static json_t *call_id(void)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char id[16] = "call_";
    struct timespec ts;
    unsigned x;
    clock_gettime(CLOCK_REALTIME, &ts);
    x = (unsigned)ts.tv_nsec ^ (unsigned)(uintptr_t)&ts;
    for (int i = 0; i < 8; i++) {
        x = x * 1103515245u + 12345u;
        id[5 + i] = al[(x >> 16) % 36];
    }
    id[13] = '\0';
    return json_string(id);
}

/* Parses every balanced JSON object naming a known tool in p[0..n). */
static json_t *parse_calls(const json_t *tools, const char *p, size_t n)
{
    json_t *calls = json_array();
    size_t i = 0;
    while (calls && i < n) {
        const char *o = memchr(p + i, '{', n - i);
        size_t used = 0;
        json_error_t je;
        json_t *obj;
        if (!o)
            break;
        obj = json_loadb(o, n - (size_t)(o - p), JSON_DISABLE_EOF_CHECK, &je);
        used = obj ? je.position : 1;
        if (obj && json_is_object(obj) &&
            tool_known(tools, json_string_value(json_object_get(obj, "name")))) {
            json_t *fn = json_pack("{s:i, s:O, s:o}", "index", (int)json_array_size(calls), "name",
                                   json_object_get(obj, "name"), "arguments", call_args(obj));
            json_array_append_new(calls, json_pack("{s:o, s:o}", "id", call_id(), "function", fn));
        }
        json_decref(obj);
        i = (size_t)(o - p) + (used ? used : 1);
    }
    if (calls && json_array_size(calls) == 0) {
        json_decref(calls);
        return NULL;
    }
    return calls;
}

/* ---- response lines --------------------------------------------------------------------- */

static json_t *chat_line(struct chat *c, const char *p, size_t n, json_t *calls, int done)
{
    json_t *o = api_serve_head(c->r->model), *msg;
    if (!o)
        return NULL;
    msg = json_pack("{s:s, s:s%}", "role", "assistant", "content", p, n);
    if (msg && done && !c->resp->stream && c->think.n)
        json_object_set_new(msg, "thinking", json_stringn(buf_str(&c->think), c->think.n));
    if (msg && calls)
        json_object_set_new(msg, "tool_calls", calls);
    json_object_set_new(o, "message", msg);
    json_object_set_new(o, "done", json_boolean(done));
    if (!done)
        api_serve_lp_attach(&c->lp, o, 0);
    return o;
}

static int emit_content(struct chat *c, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (!c->resp->stream)
        return buf_append(&c->text, p, n);
    return api_stream_line(c->resp, chat_line(c, p, n, NULL, 0));
}

/* Decides between content and tool call once the held text shows which it is. */
static int decide(struct chat *c)
{
    const char *h = buf_str(&c->held);
    size_t lead = strspn(h, " \t\r\n"), tl = strlen(c->tag), hn = c->held.n - lead;
    int rc;
    if (hn == 0)
        return 0;
    if (hn >= tl ? memcmp(h + lead, c->tag, tl) == 0 : memcmp(h + lead, c->tag, hn) == 0) {
        if (hn >= tl)
            c->mode = 2;
        return 0;
    }
    c->mode = 1;
    rc = emit_content(c, h, c->held.n);
    buf_reset(&c->held);
    return rc;
}

static int chat_piece(void *user, const char *p, size_t n)
{
    struct chat *c = user;
    int rc;
    if (!c->tag[0] || c->mode == 1)
        return emit_content(c, p, n);
    if ((rc = buf_append(&c->held, p, n)) != 0)
        return rc;
    return c->mode == 0 ? decide(c) : 0;
}

/* A streamed line without text: carries logprobs whose text is held back (tool-call parsing). */
static int chat_bare(void *user)
{
    struct chat *c = user;
    if (!c->resp->stream)
        return 0;
    return api_stream_line(c->resp, chat_line(c, "", 0, NULL, 0));
}

static int chat_thinking(void *user, const char *p, size_t n)
{
    struct chat *c = user;
    json_t *o;
    if (!c->resp->stream)
        return buf_append(&c->think, p, n);
    if (!(o = chat_line(c, "", 0, NULL, 0)))
        return E_NOMEM;
    json_object_set_new(json_object_get(o, "message"), "thinking", json_stringn(p, n));
    return api_stream_line(c->resp, o);
}

static int chat_done(void *user, const json_t *done)
{
    struct chat *c = user;
    const char *reason = json_string_value(json_object_get(done, "reason"));
    json_t *calls = NULL, *o;
    int rc = 0;
    if (c->held.n) {
        const char *h = buf_str(&c->held);
        const char *t = c->mode == 2 ? strstr(h, c->tag) : NULL;
        const char *start = t && c->tag[0] != '{' ? t + strlen(c->tag) : t;
        if (start)
            calls = parse_calls(c->tools, start, c->held.n - (size_t)(start - h));
        if (!calls)
            rc = emit_content(c, h, c->held.n);
        else if (c->resp->stream)
            rc = api_stream_line(c->resp, chat_line(c, "", 0, json_incref(calls), 0));
    }
    if (rc != 0) {
        json_decref(calls);
        return rc;
    }
    o = chat_line(c, c->resp->stream ? "" : buf_str(&c->text), c->resp->stream ? 0 : c->text.n,
                  c->resp->stream ? NULL : calls, 1);
    if (c->resp->stream)
        json_decref(calls);
    if (!o)
        return E_NOMEM;
    json_object_set_new(o, "done_reason", json_string(reason ? reason : "stop"));
    api_serve_lp_attach(&c->lp, o, 1); /* Go field order: logprobs before the metrics */
    api_serve_metrics(o, api_serve_now_ns() - c->t0, c->load_ns, done);
    return api_stream_line(c->resp, o);
}

/* ---- prompt ------------------------------------------------------------------------------- */

static int check_messages(const json_t *msgs, int *images, struct err_info *ei)
{
    size_t i;
    json_t *m;
    *images = 0;
    if (!json_is_array(msgs))
        return err_set(ei, E_INVAL, "messages must be an array");
    if (json_array_size(msgs) > CHAT_MAX_MESSAGES)
        return err_set(ei, E_INVAL, "too many messages");
    json_array_foreach(msgs, i, m)
    {
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_object(m) || !json_is_string(role))
            return err_set(ei, E_INVAL, "message %zu: role must be a string", i);
        if (content && !json_is_null(content) && !json_is_string(content))
            return err_set(ei, E_INVAL,
                           "json: cannot unmarshal %s into Go struct field Message.messages."
                           "content of type string",
                           json_type_name(content));
        if (json_array_size(json_object_get(m, "images")) > 0)
            *images = 1;
    }
    return 0;
}

/* Model MESSAGEs + request messages (roles lower-cased), model SYSTEM first when needed. */
static json_t *assemble(const struct api_serve_model *m, const json_t *req_msgs)
{
    json_t *all = json_array(), *v;
    const char *first = json_string_value(json_object_get(json_array_get(req_msgs, 0), "role"));
    size_t i;
    if (!all)
        return NULL;
    if (m->system && *m->system && (!first || strcasecmp(first, "system") != 0))
        json_array_append_new(all, json_pack("{s:s, s:s}", "role", "system", "content", m->system));
    if (json_is_array(m->messages))
        json_array_foreach(m->messages, i, v) json_array_append(all, v);
    json_array_foreach((json_t *)req_msgs, i, v)
    {
        json_t *c = json_copy(v);
        char role[32];
        snprintf(role, sizeof(role), "%s", json_string_value(json_object_get(v, "role")));
        for (char *p = role; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        if (c)
            json_object_set_new(c, "role", json_string(role));
        json_array_append_new(all, c);
    }
    return all;
}

static int render(const struct api_serve_model *m, const struct api_serve_req *r,
                  const json_t *msgs, const json_t *tools, struct buf *out, struct err_info *ei)
{
    json_t *vals =
        json_pack("{s:O, s:b, s:s, s:b}", "Messages", msgs, "Think", r->think, "ThinkLevel",
                  r->think_level ? r->think_level : "", "IsThinkSet", r->think_set);
    int rc;
    if (!vals)
        return E_NOMEM;
    if (tools && json_array_size(tools) > 0)
        json_object_set(vals, "Tools", (json_t *)tools);
    buf_reset(out);
    rc = tmpl_execute(m->tmpl, strlen(m->tmpl), vals, out, ei);
    json_decref(vals);
    return rc;
}

/* Messages [system ones before i] + [i..]. */
static json_t *drop_before(const json_t *msgs, size_t i)
{
    json_t *out = json_array(), *v;
    size_t k;
    json_array_foreach((json_t *)msgs, k, v)
    {
        const char *role = json_string_value(json_object_get(v, "role"));
        if (k >= i || (role && strcmp(role, "system") == 0))
            json_array_append(out, v);
    }
    return out;
}

static size_t count_tokens(struct api_llm *llm, void *lease, const char *text)
{
    int32_t *ids = NULL;
    size_t n = 0;
    if (llm->tokenize(lease, text, 1, 1, &ids, &n, NULL) != 0)
        return 0;
    mem_free(ids);
    return n;
}

/* Renders msgs into out, dropping the oldest non-system messages until it fits num_ctx. */
static int fit_prompt(struct api_llm *llm, void *lease, const struct api_serve_model *m,
                      const struct api_serve_req *r, const json_t *msgs, const json_t *tools,
                      int truncate, struct buf *out, struct err_info *ei)
{
    size_t n_ctx = (size_t)llm->num_ctx(lease), n_msgs = json_array_size(msgs), n;
    int rc;
    if ((rc = render(m, r, msgs, tools, out, ei)) != 0)
        return rc;
    if (!truncate || (n = count_tokens(llm, lease, buf_str(out))) <= n_ctx)
        return 0;
    for (size_t i = 1; i < n_msgs; i++) {
        json_t *sub = drop_before(msgs, i);
        if (!sub)
            return E_NOMEM;
        rc = render(m, r, sub, tools, out, ei);
        json_decref(sub);
        if (rc != 0)
            return rc;
        if (count_tokens(llm, lease, buf_str(out)) <= n_ctx || i + 1 == n_msgs) {
            LOG_WARN("truncating input messages which exceed context length: dropped=%zu "
                     "prompt_tokens=%zu num_ctx=%zu",
                     i, n, n_ctx);
            return 0;
        }
    }
    return 0;
}

/* ---- handler ---------------------------------------------------------------------------- */

static int chat_run(const struct api_req *req, struct api_resp *resp, struct api_serve_model *m,
                    struct api_serve_req *r, const json_t *tools, const struct api_serve_lp *lp)
{
    struct api_llm *llm = api_serve_llm(req->env);
    struct err_info ei = {0};
    struct chat c;
    struct api_serve_sink sink = {&c, chat_piece, chat_done, chat_thinking, &c.lp, chat_bare};
    struct buf prompt;
    json_t *msgs = assemble(m, json_object_get(req->json, "messages")), *body = NULL;
    void *lease = NULL;
    int rc, truncate = 1;
    memset(&c, 0, sizeof(c));
    c.resp = resp;
    c.r = r;
    c.tools = tools;
    c.t0 = api_serve_now_ns();
    c.lp = *lp;
    c.lp.stream = resp->stream;
    if (tools && json_array_size(tools) > 0)
        tool_tag(m->tmpl, c.tag, sizeof(c.tag));
    buf_init(&prompt, TMPL_MAX_OUTPUT);
    buf_init(&c.held, API_SERVE_MAX_TEXT);
    buf_init(&c.text, API_SERVE_MAX_TEXT);
    buf_init(&c.think, API_SERVE_MAX_TEXT);
    (void)json_get_bool(req->json, "truncate", &truncate, NULL);
    if (!msgs || !llm) {
        rc = api_resp_error(resp, 500, "%s", msgs ? "no scheduler" : "out of memory");
        goto out;
    }
    rc =
        llm->acquire(llm->ctx, &r->spec, r->keep_alive_ns, req->cancelled, &lease, &c.load_ns, &ei);
    if (rc != 0) {
        rc = api_serve_acquire_error(resp, rc, &ei);
        goto out;
    }
    rc = fit_prompt(llm, lease, m, r, msgs, tools, truncate, &prompt, &ei);
    if (rc == 0 && api_serve_debug_only(req->json)) { /* _debug_render_only: after truncation */
        size_t i, images = 0;
        json_t *msg;
        json_array_foreach(msgs, i, msg) images += json_array_size(json_object_get(msg, "images"));
        llm->release(lease, r->keep_alive_ns);
        rc = api_serve_debug_answer(resp, r->model, buf_str(&prompt), images, 1);
        goto out;
    }
    if (rc == 0) {
        body = api_serve_complete_body(buf_str(&prompt), NULL, r->options);
        if (body)
            api_serve_lp_body(&c.lp, body);
        rc = body ? api_serve_run(req, llm, lease, body, &sink,
                                  api_serve_think_mode(r, m, buf_str(&prompt)), &ei)
                  : E_NOMEM;
    }
    llm->release(lease, r->keep_alive_ns);
    if (rc == E_CANCELLED)
        goto out;
    if (rc != 0)
        rc =
            api_resp_error(resp, rc == E_INVAL ? 400 : 500, "%s", ei.msg[0] ? ei.msg : err_str(rc));
    else
        rc = 0; /* the adapter calls api_stream_finish */
out:
    json_decref(msgs);
    json_decref(body);
    buf_fini(&prompt);
    buf_fini(&c.held);
    buf_fini(&c.text);
    buf_fini(&c.think);
    api_serve_lp_fini(&c.lp);
    return rc;
}

static int chat_checks(const json_t *body, const struct api_serve_model *m, struct err_info *ei)
{
    char full[700];
    int images = 0, rc;
    json_t *tools = json_object_get(body, "tools");
    json_t *msgs = json_object_get(body, "messages");
    if (msgs && !json_is_null(msgs) && (rc = check_messages(msgs, &images, ei)) != 0)
        return rc;
    store_name_full(&m->am.name, full, sizeof(full));
    if (!m->completion)
        return err_set(ei, E_INVAL, "\"%s\" does not support chat",
                       json_string_value(json_object_get(body, "model"))
                           ? json_string_value(json_object_get(body, "model"))
                           : full);
    if (tools && !json_is_null(tools) && !json_is_array(tools))
        return err_set(ei, E_INVAL, "tools must be an array");
    if (json_array_size(tools) > 0 && !m->tools)
        return err_set(ei, E_INVAL, "%s does not support tools", full);
    if (images && !m->vision)
        return err_set(ei, E_INVAL, "%s does not support vision", full);
    /* the model has a vision tower, but the engine has no image encoder: refuse, never drop */
    if (images)
        return err_set(ei, E_INVAL, API_NO_IMAGES_MSG, full);
    return 0;
}

static int h_chat(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    struct api_serve_model m;
    struct api_serve_req r;
    struct api_serve_lp lp;
    const char *name = NULL;
    json_t *msgs = json_object_get(req->json, "messages");
    int rc;
    if ((rc = api_serve_lp_parse(req->json, "ChatRequest", &lp, &ei)) != 0 ||
        (rc = api_req_model_name(req->json, &name, &ei)) != 0 ||
        (rc = api_stream_setup(req, resp, &ei)) != 0)
        return api_resp_error(resp, 400, "%s", ei.msg);
    if (msgs && !json_is_null(msgs) && !json_is_array(msgs))
        return api_resp_error(resp, 400,
                              "json: cannot unmarshal %s into Go struct field "
                              "ChatRequest.messages of type []api.Message",
                              json_type_name(msgs));
    if ((rc = api_serve_model_open(req->env, name, &m, &ei)) != 0)
        return api_resp_error(resp, api_status_for(rc), "%s", ei.msg);
    if ((rc = chat_checks(req->json, &m, &ei)) != 0 ||
        (rc = api_serve_req_init(req, &m, name, &r, &ei)) != 0) {
        api_serve_model_fini(&m);
        return api_resp_error(resp, 400, "%s", ei.msg);
    }
    if (json_array_size(msgs) == 0)
        rc = api_serve_load_only(req, resp, &r, 1);
    else
        rc = chat_run(req, resp, &m, &r, json_object_get(req->json, "tools"), &lp);
    api_serve_req_fini(&r);
    api_serve_model_fini(&m);
    return rc;
}
API_ROUTE(chat, "POST", "/api/chat", h_chat, API_ROUTE_JSON)

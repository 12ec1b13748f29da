/*
 * api_generate.c - POST /api/generate (ollama-reference.md 1.2): prompt construction through
 * the model's template (or raw, or a request template, or fill-in-the-middle with suffix), the
 * empty-prompt load/unload idiom, context round trips, streaming and non-streaming answers with
 * Ollama's field order and omission rules.  Generation itself runs in a runner through the
 * scheduler interface (api_llm.h).
 */
#include <string.h>

#define LOG_MODULE "api"
#include "api/api.h"
#include "api/api_serve.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "template/template.h"

struct gen {
    struct api_resp *resp;
    struct api_serve_req *r;
    struct buf text;  /* whole answer when not streaming */
    struct buf think; /* whole thinking when not streaming */
    uint64_t t0, load_ns;
    int raw;
    struct api_serve_lp lp;
};

static int gen_piece(void *user, const char *p, size_t n)
{
    struct gen *g = user;
    json_t *o;
    if (!g->resp->stream)
        return buf_append(&g->text, p, n);
    if (!(o = api_serve_head(g->r->model)))
        return E_NOMEM;
    json_object_set_new(o, "response", json_stringn(p, n));
    json_object_set_new(o, "done", json_false());
    api_serve_lp_attach(&g->lp, o, 0);
    return api_stream_line(g->resp, o);
}

/* A streamed line without text: carries logprobs whose text is held back. */
static int gen_bare(void *user)
{
    struct gen *g = user;
    json_t *o;
    if (!g->resp->stream || !(o = api_serve_head(g->r->model)))
        return g->resp->stream ? E_NOMEM : 0;
    json_object_set_new(o, "response", json_string(""));
    json_object_set_new(o, "done", json_false());
    api_serve_lp_attach(&g->lp, o, 0);
    return api_stream_line(g->resp, o);
}

static int gen_thinking(void *user, const char *p, size_t n)
{
    struct gen *g = user;
    json_t *o;
    if (!g->resp->stream)
        return buf_append(&g->think, p, n);
    if (!(o = api_serve_head(g->r->model)))
        return E_NOMEM;
    json_object_set_new(o, "response", json_string(""));
    json_object_set_new(o, "thinking", json_stringn(p, n));
    json_object_set_new(o, "done", json_false());
    api_serve_lp_attach(&g->lp, o, 0);
    return api_stream_line(g->resp, o);
}

static int gen_done(void *user, const json_t *done)
{
    struct gen *g = user;
    const char *reason = json_string_value(json_object_get(done, "reason"));
    json_t *o = api_serve_head(g->r->model);
    if (!o)
        return E_NOMEM;
    json_object_set_new(
        o, "response",
        json_stringn(g->resp->stream ? "" : buf_str(&g->text), g->resp->stream ? 0 : g->text.n));
    if (!g->resp->stream && g->think.n)
        json_object_set_new(o, "thinking", json_stringn(buf_str(&g->think), g->think.n));
    json_object_set_new(o, "done", json_true());
    json_object_set_new(o, "done_reason", json_string(reason ? reason : "stop"));
    if (!g->raw && json_is_array(json_object_get(done, "context")))
        json_object_set(o, "context", json_object_get(done, "context"));
    api_serve_metrics(o, api_serve_now_ns() - g->t0, g->load_ns, done);
    api_serve_lp_attach(&g->lp, o, 1); /* Go field order: logprobs last */
    return api_stream_line(g->resp, o);
}

/* Messages for the template: system, model MESSAGEs (without a context), the user prompt. */
static json_t *gen_messages(const struct api_serve_model *m, const char *system, const char *prompt,
                            const json_t *images, int have_context)
{
    json_t *msgs = json_array(), *u;
    size_t i;
    json_t *v;
    if (!msgs)
        return NULL;
    if (system && *system)
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", system));
    if (!have_context && json_is_array(m->messages))
        json_array_foreach(m->messages, i, v) json_array_append(msgs, v);
    u = json_pack("{s:s, s:s}", "role", "user", "content", prompt);
    if (u && json_is_array(images) && json_array_size(images) > 0)
        json_object_set(u, "images", (json_t *)images);
    json_array_append_new(msgs, u);
    return msgs;
}

static void think_values(json_t *vals, const struct api_serve_req *r)
{
    json_object_set_new(vals, "Think", json_boolean(r->think));
    json_object_set_new(vals, "ThinkLevel", json_string(r->think_level ? r->think_level : ""));
    json_object_set_new(vals, "IsThinkSet", json_boolean(r->think_set));
}

/* Renders the prompt (non-raw).  Request template errors are 400, model template errors 500. */
static int gen_render(const json_t *body, const struct api_serve_model *m,
                      const struct api_serve_req *r, struct buf *out, struct err_info *ei)
{
    const char *prompt = json_string_value(json_object_get(body, "prompt"));
    const char *suffix = json_string_value(json_object_get(body, "suffix"));
    const char *system = json_string_value(json_object_get(body, "system"));
    const char *tsrc = json_string_value(json_object_get(body, "template"));
    json_t *vals = json_object();
    int rc;
    if (!vals)
        return E_NOMEM;
    if (!tsrc || !*tsrc)
        tsrc = m->tmpl;
    if (suffix && *suffix) {
        json_object_set_new(vals, "Prompt", json_string(prompt ? prompt : ""));
        json_object_set_new(vals, "Suffix", json_string(suffix));
        json_object_set_new(vals, "Messages", json_array());
    } else {
        json_object_set_new(vals, "Messages",
                            gen_messages(m, system ? system : m->system, prompt ? prompt : "",
                                         json_object_get(body, "images"),
                                         json_array_size(json_object_get(body, "context")) > 0));
    }
    think_values(vals, r);
    rc = tmpl_execute(tsrc, strlen(tsrc), vals, out, ei);
    json_decref(vals);
    return rc;
}

/* Field checks that need no model. */
static int gen_check_body(const json_t *body, int *raw, struct err_info *ei)
{
    static const char *const strs[] = {"prompt", "suffix", "system", "template"};
    const char *s = NULL;
    json_t *ctx, *v;
    size_t i;
    int rc;
    for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if ((rc = json_get_str(body, strs[i], &s, ei)) == E_INVAL)
            return rc;
    *raw = 0;
    if ((rc = json_get_bool(body, "raw", raw, ei)) == E_INVAL)
        return rc;
    ctx = json_object_get(body, "context");
    if (ctx && !json_is_null(ctx)) {
        if (!json_is_array(ctx) || json_array_size(ctx) > API_SERVE_MAX_CTX)
            return err_set(ei, E_INVAL, "context must be an array of token ids");
        json_array_foreach(ctx, i,
                           v) if (!json_is_integer(v) ||
                                  json_integer_value(v) <
                                      0) return err_set(ei, E_INVAL,
                                                        "context must be an array of token ids");
    }
    v = json_object_get(body, "images");
    if (v && !json_is_null(v) && !json_is_array(v))
        return err_set(ei, E_INVAL, "images must be an array of base64 strings");
    if (*raw && ((json_get_str(body, "template", &s, NULL) == 0 && *s) ||
                 (json_get_str(body, "system", &s, NULL) == 0 && *s) || json_array_size(ctx) > 0))
        return err_set(ei, E_INVAL, "raw mode does not support template, system, or context");
    return 0;
}

static int gen_capabilities(const json_t *body, const struct api_serve_model *m,
                            struct err_info *ei)
{
    char full[700];
    const char *suffix = json_string_value(json_object_get(body, "suffix"));
    store_name_full(&m->am.name, full, sizeof(full));
    if (!m->completion)
        return err_set(ei, E_INVAL, "\"%s\" does not support generate",
                       json_string_value(json_object_get(body, "model"))
                           ? json_string_value(json_object_get(body, "model"))
                           : full);
    if (json_array_size(json_object_get(body, "images")) > 0 && !m->vision)
        return err_set(ei, E_INVAL, "%s does not support vision", full);
    /* the model has a vision tower, but the engine has no image encoder: refuse, never drop */
    if (json_array_size(json_object_get(body, "images")) > 0)
        return err_set(ei, E_INVAL, API_NO_IMAGES_MSG, full);
    if (suffix && *suffix && !m->insert)
        return err_set(ei, E_INVAL, "%s does not support insert", full);
    return 0;
}

/* Acquires a slot, renders, runs; answers resp. */
static int gen_run(const struct api_req *req, struct api_resp *resp, struct api_serve_model *m,
                   struct api_serve_req *r, int raw, const struct api_serve_lp *lp)
{
    struct api_llm *llm = api_serve_llm(req->env);
    struct err_info ei = {0};
    struct gen g = {resp, r, {0}, {0}, api_serve_now_ns(), 0, raw, *lp};
    struct api_serve_sink sink = {&g, gen_piece, gen_done, gen_thinking, &g.lp, gen_bare};
    struct buf prompt;
    json_t *body = NULL;
    void *lease = NULL;
    int rc;
    buf_init(&prompt, TMPL_MAX_OUTPUT);
    buf_init(&g.text, API_SERVE_MAX_TEXT);
    buf_init(&g.think, API_SERVE_MAX_TEXT);
    if (raw)
        rc = buf_puts(&prompt, json_string_value(json_object_get(req->json, "prompt")));
    else
        rc = gen_render(req->json, m, r, &prompt, &ei);
    if (rc != 0) {
        rc = api_resp_error(resp, 500, "%s", ei.msg[0] ? ei.msg : err_str(rc));
        goto out;
    }
    if (api_serve_debug_only(req->json)) { /* _debug_render_only: the prompt, nothing runs */
        rc = api_serve_debug_answer(resp, r->model, buf_str(&prompt),
                                    json_array_size(json_object_get(req->json, "images")), 0);
        goto out;
    }
    if (!llm) {
        rc = api_resp_error(resp, 500, "no scheduler");
        goto out;
    }
    rc =
        llm->acquire(llm->ctx, &r->spec, r->keep_alive_ns, req->cancelled, &lease, &g.load_ns, &ei);
    if (rc != 0) {
        rc = api_serve_acquire_error(resp, rc, &ei);
        goto out;
    }
    body = api_serve_complete_body(buf_str(&prompt), json_object_get(req->json, "context"),
                                   r->options);
    g.lp.stream = resp->stream;
    if (body)
        api_serve_lp_body(&g.lp, body);
    rc = body ? api_serve_run(req, llm, lease, body, &sink,
                              raw ? API_THINK_OFF : api_serve_think_mode(r, m, buf_str(&prompt)),
                              &ei)
              : E_NOMEM;
    llm->release(lease, r->keep_alive_ns);
    if (rc == E_CANCELLED)
        goto out;
    if (rc != 0)
        rc =
            api_resp_error(resp, rc == E_INVAL ? 400 : 500, "%s", ei.msg[0] ? ei.msg : err_str(rc));
    else
        rc = 0; /* the adapter calls api_stream_finish */
out:
    json_decref(body);
    buf_fini(&prompt);
    buf_fini(&g.text);
    buf_fini(&g.think);
    api_serve_lp_fini(&g.lp);
    return rc;
}

static int h_generate(struct api_req *req, struct api_resp *resp)
{
    struct err_info ei = {0};
    struct api_serve_model m;
    struct api_serve_req r;
    struct api_serve_lp lp;
    const char *name = NULL, *prompt = NULL, *suffix = NULL;
    int rc, raw = 0;
    if ((rc = api_serve_lp_parse(req->json, "GenerateRequest", &lp, &ei)) != 0 ||
        (rc = api_req_model_name(req->json, &name, &ei)) != 0 ||
        (rc = gen_check_body(req->json, &raw, &ei)) != 0 ||
        (rc = api_stream_setup(req, resp, &ei)) != 0)
        return api_resp_error(resp, 400, "%s", ei.msg);
    if ((rc = api_serve_model_open(req->env, name, &m, &ei)) != 0)
        return api_resp_error(resp, api_status_for(rc), "%s", ei.msg);
    if ((rc = gen_capabilities(req->json, &m, &ei)) != 0 ||
        (rc = api_serve_req_init(req, &m, name, &r, &ei)) != 0) {
        api_serve_model_fini(&m);
        return api_resp_error(resp, 400, "%s", ei.msg);
    }
    (void)json_get_str(req->json, "prompt", &prompt, NULL);
    (void)json_get_str(req->json, "suffix", &suffix, NULL);
    if ((!prompt || !*prompt) && (!suffix || !*suffix) &&
        json_array_size(json_object_get(req->json, "images")) == 0)
        rc = api_serve_load_only(req, resp, &r, 0);
    else
        rc = gen_run(req, resp, &m, &r, raw, &lp);
    api_serve_req_fini(&r);
    api_serve_model_fini(&m);
    return rc;
}
API_ROUTE(generate, "POST", "/api/generate", h_generate, API_ROUTE_JSON)

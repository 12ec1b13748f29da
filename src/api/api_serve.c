/*
 * api_serve.c - shared machinery of /api/generate and /api/chat (see api_serve.h):
 * model opening with the generation layers, template fallback from the GGUF chat template,
 * request decoding, the load/unload idiom, and the event loop that feeds response lines.
 * Spec: ollama-reference.md 1.2, 1.3, 6.3, 7.
 */
#include "api/api_serve.h"

#include <math.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "api"
#include "api/api_create.h"
#include "api/api_format.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "store/store.h"
#include "template/template.h"

#define DEFAULT_TEMPLATE  "{{ .Prompt }}"
#define CHAT_TEMPLATE_MAX (1u << 20) /* bytes of a GGUF chat template we look at */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The catalogue entry matching the GGUF's tokenizer.chat_template, or NULL. */
static const struct tmpl_builtin *builtin_for_gguf(const char *gguf_path)
{
    struct gguf *g = NULL;
    struct gguf_str s;
    const struct tmpl_builtin *b = NULL;
    if (gguf_open_file(gguf_path, 0, &g, NULL) == 0 &&
        gguf_get_str(g, "tokenizer.chat_template", &s) == 0 && s.n < CHAT_TEMPLATE_MAX) {
        char *jinja = mem_strndup(s.p, (size_t)s.n);
        if (jinja)
            b = tmpl_builtin_for_chat_template(jinja);
        mem_free(jinja);
    }
    gguf_close(g);
    return b;
}

int api_template_for_gguf(const char *gguf_path, char **tmpl, json_t **params)
{
    const struct tmpl_builtin *b = builtin_for_gguf(gguf_path);
    *params = NULL;
    *tmpl = mem_strdup(b ? b->text : DEFAULT_TEMPLATE);
    if (b && b->params && *b->params)
        *params = json_loads(b->params, 0, NULL);
    return *tmpl ? 0 : E_NOMEM;
}

/* api_create's hook: a GGUF imported without a TEMPLATE gets the matching built-in one (and its
 * default parameters); none when nothing matches (serving then uses {{ .Prompt }}). */
static int create_template_hook(const char *gguf_path, char **tmpl, json_t **params,
                                const char **name)
{
    const struct tmpl_builtin *b = builtin_for_gguf(gguf_path);
    *tmpl = NULL;
    *params = NULL;
    if (!b)
        return 0;
    if (!(*tmpl = mem_strdup(b->text)))
        return E_NOMEM;
    if (b->params && *b->params)
        *params = json_loads(b->params, 0, NULL);
    if (name)
        *name = b->name;
    return 0;
}

__attribute__((constructor)) static void register_create_hook(void)
{
    api_create_set_template_hook(create_template_hook);
}

static int has_cap(const json_t *caps, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(caps, i,
                       v) if (json_string_value(v) && !strcmp(json_string_value(v), name)) return 1;
    return 0;
}

/* Capabilities as /api/show derives them (api_model_capabilities), plus the template tests the
 * serving path relies on (a <think> tag makes the output splitter useful). */
static void capabilities(struct api_serve_model *m)
{
    struct api_gguf_facts f;
    int facts = api_gguf_facts(m->gguf, &f, NULL) == 0;
    json_t *caps = api_model_capabilities(&m->am, facts ? &f : NULL, m->tmpl);
    m->completion = caps ? has_cap(caps, "completion") : 1;
    m->vision = has_cap(caps, "vision") || api_model_layer(&m->am, STORE_MT_PROJECTOR) != NULL;
    m->tools = has_cap(caps, "tools") || strstr(m->tmpl, ".Tools") != NULL;
    m->insert = has_cap(caps, "insert") || strstr(m->tmpl, ".Suffix") != NULL;
    m->thinking = has_cap(caps, "thinking") || strstr(m->tmpl, "<think>") != NULL ||
                  strstr(m->tmpl, ".Think") != NULL;
    json_decref(caps);
}

int api_serve_model_open(struct api_env *env, const char *name, struct api_serve_model *m,
                         struct err_info *ei)
{
    json_t *bparams = NULL;
    int rc;
    memset(m, 0, sizeof(*m));
    if ((rc = api_model_open(env->store, name, &m->am, ei)) != 0)
        return rc;
    if ((rc = api_model_gguf_path(env->store, &m->am, m->gguf, sizeof(m->gguf))) != 0) {
        rc = err_set(ei, E_NOTFOUND, "model '%s' not found", name);
        goto fail;
    }
    if ((rc = api_model_text(env->store, &m->am, STORE_MT_TEMPLATE, &m->tmpl)) != 0 ||
        (rc = api_model_text(env->store, &m->am, STORE_MT_SYSTEM, &m->system)) != 0 ||
        (rc = api_model_json(env->store, &m->am, STORE_MT_PARAMS, &m->params)) != 0 ||
        (rc = api_model_json(env->store, &m->am, STORE_MT_MESSAGES, &m->messages)) != 0) {
        rc = err_set(ei, rc, "reading the layers of %s: %s", name, err_str(rc));
        goto fail;
    }
    if (!m->tmpl && (rc = api_template_for_gguf(m->gguf, &m->tmpl, &bparams)) != 0)
        goto fail;
    if (!m->params)
        m->params = bparams;
    else
        json_decref(bparams);
    capabilities(m);
    return 0;
fail:
    api_serve_model_fini(m);
    return rc;
}

void api_serve_model_fini(struct api_serve_model *m)
{
    api_model_fini(&m->am);
    mem_free(m->tmpl);
    mem_free(m->system);
    json_decref(m->params);
    json_decref(m->messages);
    m->tmpl = m->system = NULL;
    m->params = m->messages = NULL;
}

struct api_llm *api_serve_llm(const struct api_env *env)
{
    return env ? env->user[API_ENV_LLM] : NULL;
}

/* format -> grammar text carried to the runner as the "grammar" member of the options (any
 * client-sent options.grammar is dropped: only format sets it). */
static int set_format(const json_t *f, json_t *options, struct err_info *ei)
{
    char *gbnf = NULL;
    int rc = api_format_grammar(f, &gbnf, ei);
    json_object_del(options, "grammar");
    if (rc == 0 && gbnf && json_object_set_new(options, "grammar", json_string(gbnf)) != 0)
        rc = E_NOMEM;
    mem_free(gbnf);
    return rc;
}

static int check_think(const json_t *t, struct api_serve_req *r, struct err_info *ei)
{
    static const char *const levels[] = {"low", "medium", "high", "max"};
    const char *s;
    if (!t || json_is_null(t))
        return 0;
    r->think_set = 1;
    if (json_is_boolean(t)) {
        r->think = json_is_true(t);
        r->think_level = r->think ? "medium" : NULL;
        return 0;
    }
    if ((s = json_string_value(t)) != NULL)
        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
            if (strcmp(s, levels[i]) == 0) {
                r->think = 1;
                r->think_level = levels[i];
                return 0;
            }
    return err_set(ei, E_INVAL, "invalid think value: %s", s ? s : json_type_name(t));
}

static int32_t opt_int(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < INT32_MAX
               ? (int32_t)json_integer_value(v)
               : 0;
}

int api_serve_req_init(const struct api_req *req, struct api_serve_model *m, const char *model,
                       struct api_serve_req *r, struct err_info *ei)
{
    const json_t *body = req->json;
    int rc;
    memset(r, 0, sizeof(*r));
    r->model = model;
    if ((rc = api_options_merge(m->params, json_object_get(body, "options"), &r->options, ei)) ||
        (rc = api_parse_keep_alive(json_object_get(body, "keep_alive"), &r->keep_alive_ns, ei)) ||
        (rc = set_format(json_object_get(body, "format"), r->options, ei)) ||
        (rc = check_think(json_object_get(body, "think"), r, ei)))
        goto fail;
    /* /v1/messages asks every model to think (Claude Code): dropped there, as Ollama's
     * relax_thinking does */
    if (r->think && !m->thinking && json_is_true(json_object_get(body, "_relax_thinking"))) {
        r->think = r->think_set = 0;
        r->think_level = NULL;
    }
    if (r->think && !m->thinking) {
        rc = err_set(ei, E_INVAL, "\"%s\" does not support thinking", model);
        goto fail;
    }
    r->spec.key = m->gguf;
    r->spec.name = m->am.display;
    r->spec.digest = m->am.id;
    r->spec.details = api_model_details(&m->am, NULL);
    r->spec.num_ctx = opt_int(r->options, "num_ctx");
    if (r->spec.num_ctx > 0 && r->spec.num_ctx < 4)
        r->spec.num_ctx = 4;
    r->spec.num_batch = opt_int(r->options, "num_batch");
    r->spec.num_thread = opt_int(r->options, "num_thread");
    {
        json_t *mm = json_object_get(r->options, "use_mmap");
        r->spec.use_mmap = json_is_boolean(mm) ? json_is_true(mm) : -1;
    }
    return 0;
fail:
    json_decref(r->options);
    r->options = NULL;
    return rc;
}

void api_serve_req_fini(struct api_serve_req *r)
{
    json_decref(r->options);
    json_decref((json_t *)r->spec.details);
    r->options = NULL;
    r->spec.details = NULL;
}

json_t *api_serve_head(const char *model)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return json_pack("{s:s, s:o}", "model", model, "created_at",
                     json_time_new(ts.tv_sec, ts.tv_nsec, 1));
}

static void set_nonzero(json_t *o, const char *key, json_int_t v)
{
    if (v > 0)
        json_object_set_new(o, key, json_integer(v));
}

void api_serve_metrics(json_t *obj, uint64_t total_ns, uint64_t load_ns, const json_t *done)
{
    set_nonzero(obj, "total_duration", (json_int_t)total_ns);
    set_nonzero(obj, "load_duration", (json_int_t)load_ns);
    if (!done)
        return;
    set_nonzero(obj, "prompt_eval_count", json_integer_value(json_object_get(done, "prompt_n")));
    set_nonzero(obj, "prompt_eval_duration",
                json_integer_value(json_object_get(done, "prompt_ns")));
    set_nonzero(obj, "eval_count", json_integer_value(json_object_get(done, "eval_n")));
    set_nonzero(obj, "eval_duration", json_integer_value(json_object_get(done, "eval_ns")));
}

static json_t *load_reply(const char *model, const char *reason, int chat)
{
    json_t *o = api_serve_head(model);
    if (!o)
        return NULL;
    if (chat)
        json_object_set_new(o, "message",
                            json_pack("{s:s, s:s}", "role", "assistant", "content", ""));
    else
        json_object_set_new(o, "response", json_string(""));
    json_object_set_new(o, "done", json_true());
    json_object_set_new(o, "done_reason", json_string(reason));
    return o;
}

int api_serve_debug_only(const json_t *body)
{
    return json_is_true(json_object_get(body, "_debug_render_only"));
}

int api_serve_debug_answer(struct api_resp *resp, const char *model, const char *prompt,
                           size_t images, int chat)
{
    json_t *o = api_serve_head(model), *info = json_pack("{s:s}", "rendered_template", prompt);
    if (!o || !info) {
        json_decref(o);
        json_decref(info);
        return E_NOMEM;
    }
    if (images)
        json_object_set_new(info, "image_count", json_integer((json_int_t)images));
    if (chat)
        json_object_set_new(o, "message", json_pack("{s:s, s:s}", "role", "", "content", ""));
    else
        json_object_set_new(o, "response", json_string(""));
    json_object_set_new(o, "done", json_false());
    json_object_set_new(o, "_debug_info", info);
    return api_resp_json(resp, 200, o);
}

int api_serve_acquire_error(struct api_resp *resp, int rc, const struct err_info *ei)
{
    const char *msg = ei && ei->msg[0] ? ei->msg : err_str(rc);
    if (rc == E_BUSY)
        return api_resp_error(resp, 503, "%s", msg);
    if (rc == E_CANCELLED)
        return api_resp_error(resp, 499, "request canceled");
    return api_resp_error(resp, rc == E_NOTFOUND ? 404 : 500, "%s", msg);
}

int api_serve_load_only(const struct api_req *req, struct api_resp *resp, struct api_serve_req *r,
                        int chat)
{
    struct api_llm *llm = api_serve_llm(req->env);
    struct err_info ei = {0};
    void *lease = NULL;
    uint64_t load_ns = 0;
    int rc;
    if (!llm)
        return api_resp_error(resp, 500, "no scheduler");
    if (r->keep_alive_ns == 0) {
        if (llm->unload(llm->ctx, r->spec.key) == 0)
            LOG_INFO("unloading on request model=%s", r->spec.name);
        return api_resp_json(resp, 200, load_reply(r->model, "unload", chat));
    }
    rc = llm->acquire(llm->ctx, &r->spec, r->keep_alive_ns, req->cancelled, &lease, &load_ns, &ei);
    if (rc != 0)
        return api_serve_acquire_error(resp, rc, &ei);
    llm->release(lease, r->keep_alive_ns);
    return api_resp_json(resp, 200, load_reply(r->model, "load", chat));
}

json_t *api_serve_complete_body(const char *prompt, const json_t *context, const json_t *options)
{
    json_t *b = json_object();
    const char *key;
    json_t *v;
    if (!b)
        return NULL;
    json_object_foreach((json_t *)options, key, v)
    {
        if (!strcmp(key, "num_ctx") || !strcmp(key, "num_batch") || !strcmp(key, "num_thread") ||
            !strcmp(key, "num_gpu") || !strcmp(key, "main_gpu") || !strcmp(key, "use_mmap") ||
            !strcmp(key, "draft_num_predict"))
            continue;
        json_object_set(b, key, v);
    }
    json_object_set_new(b, "prompt", json_string(prompt));
    json_object_set_new(b, "special", json_true());
    if (context)
        json_object_set(b, "context", (json_t *)context);
    return b;
}

static int cancelled(const struct api_req *req)
{
    return req->cancelled && atomic_load(req->cancelled);
}

enum api_think_mode api_serve_think_mode(const struct api_serve_req *r,
                                         const struct api_serve_model *m, const char *prompt)
{
    size_t n = strlen(prompt);
    if (!(r->think || (!r->think_set && m->thinking)) || !strstr(m->tmpl, "<think>"))
        return API_THINK_OFF;
    while (n > 0 && (prompt[n - 1] == '\n' || prompt[n - 1] == ' '))
        n--;
    return n >= 7 && memcmp(prompt + n - 7, "<think>", 7) == 0 ? API_THINK_INSIDE : API_THINK_TAGS;
}

/* Streaming splitter: state 0 = before the answer (a <think> may come), 1 = thinking,
 * 2 = content.  A tail that may be the start of a tag is held back. */
struct splitter {
    int state;
    struct buf hold;
    const struct api_serve_sink *sink;
};

static size_t tag_prefix_tail(const char *p, size_t n, const char *tag)
{
    size_t tl = strlen(tag);
    for (size_t k = tl - 1; k > 0; k--)
        if (k <= n && memcmp(p + n - k, tag, k) == 0)
            return k;
    return 0;
}

static int emit_part(const struct splitter *sp, int thinking, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (thinking)
        return sp->sink->thinking ? sp->sink->thinking(sp->sink->user, p, n) : 0;
    return sp->sink->piece(sp->sink->user, p, n);
}

/* Processes what is held; final flushes everything. */
static int split_step(struct splitter *sp, int final)
{
    const char *h = buf_str(&sp->hold);
    size_t n = sp->hold.n, lead, keep;
    const char *end;
    int rc;
    if (sp->state == 0) {
        lead = strspn(h, " \t\r\n");
        if (n - lead >= 7 || final) {
            sp->state = (n - lead >= 7 && !memcmp(h + lead, "<think>", 7)) ? 1 : 2;
            if (sp->state == 1) {
                memmove(sp->hold.p, h + lead + 7, n - lead - 7);
                sp->hold.n = n - lead - 7;
                sp->hold.p[sp->hold.n] = '\0';
            }
            return split_step(sp, final);
        }
        if (memcmp(h + lead, "<think>", n - lead) != 0) {
            sp->state = 2;
            return split_step(sp, final);
        }
        return 0;
    }
    if (sp->state == 2) {
        rc = emit_part(sp, 0, h, n);
        buf_reset(&sp->hold);
        return rc;
    }
    if ((end = strstr(h, "</think>")) != NULL) {
        size_t at = (size_t)(end - h), rest = at + 8;
        if ((rc = emit_part(sp, 1, h, at)) != 0)
            return rc;
        rest += strspn(h + rest, " \t\r\n");
        memmove(sp->hold.p, h + rest, n - rest);
        sp->hold.n = n - rest;
        sp->hold.p[sp->hold.n] = '\0';
        sp->state = 2;
        return split_step(sp, final);
    }
    keep = final ? 0 : tag_prefix_tail(h, n, "</think>");
    if ((rc = emit_part(sp, 1, h, n - keep)) != 0)
        return rc;
    memmove(sp->hold.p, h + n - keep, keep);
    sp->hold.n = keep;
    sp->hold.p[keep] = '\0';
    return 0;
}

static int split_push(struct splitter *sp, const char *p, size_t n)
{
    int rc;
    if (sp->state == 2 && sp->hold.n == 0)
        return sp->sink->piece(sp->sink->user, p, n);
    if ((rc = buf_append(&sp->hold, p, n)) != 0)
        return rc;
    return split_step(sp, 0);
}

static int run_loop(const struct api_req *req, struct api_llm *llm, void *lease,
                    struct splitter *sp, struct err_info *ei)
{
    int rc;
    for (;;) {
        json_t *ev = NULL;
        const char *t;
        if (cancelled(req)) {
            llm->cancel(lease);
            return E_CANCELLED;
        }
        rc = llm->next(lease, API_SERVE_POLL_MS, &ev);
        if (rc == E_TIMEOUT)
            continue;
        if (rc != 0)
            return rc;
        t = json_string_value(json_object_get(ev, "t"));
        t = t ? t : "";
        if (!strcmp(t, "piece")) {
            json_t *tx = json_object_get(ev, "text");
            if (sp->sink->lp)
                rc = api_serve_lp_add(sp->sink->lp, json_object_get(ev, "logprobs"), ei);
            if (rc == 0 && json_string_length(tx) > 0)
                rc = split_push(sp, json_string_value(tx), json_string_length(tx));
            if (rc == 0 && sp->sink->lp && sp->sink->lp->pending && sp->sink->bare)
                rc = sp->sink->bare(sp->sink->user);
        } else if (!strcmp(t, "done")) {
            rc = split_step(sp, 1);
            if (rc == 0)
                rc = sp->sink->done(sp->sink->user, ev);
            json_decref(ev);
            return rc;
        } else if (!strcmp(t, "error")) {
            const char *msg = json_string_value(json_object_get(ev, "msg"));
            rc = err_set(ei, E_IO, "%s", msg ? msg : "model runner error");
        }
        json_decref(ev);
        if (rc != 0) {
            if (rc == E_CANCELLED)
                llm->cancel(lease);
            return rc;
        }
    }
}

int api_serve_run(const struct api_req *req, struct api_llm *llm, void *lease, const json_t *body,
                  const struct api_serve_sink *sink, enum api_think_mode mode, struct err_info *ei)
{
    struct splitter sp;
    int rc;
    if (mode != API_THINK_OFF && json_object_get(body, "grammar")) {
        /* thinking runs unconstrained: the runner applies the grammar after </think> */
        json_t *b = json_copy((json_t *)body);
        if (!b || json_object_set_new(b, "grammar_think",
                                      json_integer(mode == API_THINK_INSIDE ? 2 : 1)) != 0) {
            json_decref(b);
            return E_NOMEM;
        }
        rc = llm->complete(lease, b, ei);
        json_decref(b);
    } else {
        rc = llm->complete(lease, body, ei);
    }
    if (rc != 0)
        return rc;
    sp.state = mode == API_THINK_OFF ? 2 : mode == API_THINK_INSIDE ? 1 : 0;
    sp.sink = sink;
    buf_init(&sp.hold, API_SERVE_MAX_TEXT);
    rc = run_loop(req, llm, lease, &sp, ei);
    buf_fini(&sp.hold);
    return rc;
}

/* ---- logprobs ----------------------------------------------------------------------------- */

static int lp_type_err(const json_t *v, const char *strct, const char *key, const char *gotype,
                       struct err_info *ei)
{
    if (json_is_number(v))
        return err_set(ei, E_INVAL,
                       "json: cannot unmarshal number %g into Go struct field %s.%s of type %s",
                       json_number_value(v), strct, key, gotype);
    return err_set(ei, E_INVAL, "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
                   json_type_name(v), strct, key, gotype);
}

int api_serve_lp_parse(const json_t *body, const char *strct, struct api_serve_lp *lp,
                       struct err_info *ei)
{
    const json_t *on = json_object_get(body, "logprobs"),
                 *top = json_object_get(body, "top_logprobs");
    memset(lp, 0, sizeof(*lp));
    if (on && !json_is_null(on) && !json_is_boolean(on))
        return lp_type_err(on, strct, "logprobs", "bool", ei);
    if (top && !json_is_null(top) && !json_is_integer(top))
        return lp_type_err(top, strct, "top_logprobs", "int", ei);
    lp->on = json_is_true(on);
    if (json_is_integer(top)) {
        json_int_t n = json_integer_value(top);
        if (n < 0 || n > API_LP_MAX_TOP)
            return err_set(ei, E_INVAL, "top_logprobs must be between 0 and 20");
        lp->top = (int)n;
    }
    return 0;
}

void api_serve_lp_body(const struct api_serve_lp *lp, json_t *body)
{
    if (!lp->on)
        return;
    json_object_set_new(body, "logprobs", json_true());
    json_object_set_new(body, "top_logprobs", json_integer(lp->top));
}

/* {"token","logprob","bytes"?} (+ "top_logprobs"? when alts) rebuilt from a runner entry. */
static int lp_entry(const json_t *in, int alts, json_t **out)
{
    const json_t *tok = json_object_get(in, "token"), *lp = json_object_get(in, "logprob");
    const json_t *bytes = json_object_get(in, "bytes"), *top = json_object_get(in, "top_logprobs");
    json_t *o, *v;
    size_t i;
    if (!json_is_object(in) || !json_is_string(tok) || !json_is_number(lp) ||
        !isfinite(json_number_value(lp)) || (bytes && !json_is_array(bytes)) ||
        (top && (!alts || !json_is_array(top))))
        return E_PARSE;
    if (json_string_length(tok) > API_LP_MAX_TOKEN || json_array_size(bytes) > API_LP_MAX_TOKEN ||
        json_array_size(top) > API_LP_MAX_TOP)
        return E_RANGE;
    json_array_foreach(bytes, i, v) if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                                        json_integer_value(v) > 255) return E_PARSE;
    o = json_pack("{s:O, s:f}", "token", tok, "logprob", json_number_value(lp));
    if (!o)
        return E_NOMEM;
    if (json_array_size(bytes) > 0)
        json_object_set(o, "bytes", (json_t *)bytes);
    if (json_array_size(top) > 0) {
        json_t *arr = json_array();
        json_object_set_new(o, "top_logprobs", arr);
        json_array_foreach(top, i, v)
        {
            json_t *e = NULL;
            int rc = lp_entry(v, 0, &e);
            if (rc != 0 || !arr || json_array_append_new(arr, e) != 0) {
                json_decref(o);
                return rc ? rc : E_NOMEM;
            }
        }
    }
    *out = o;
    return 0;
}

int api_serve_lp_add(struct api_serve_lp *lp, const json_t *in, struct err_info *ei)
{
    json_t **dst, *v;
    size_t i;
    if (!lp->on || !in || json_is_null(in))
        return 0;
    if (!json_is_array(in) || json_array_size(in) > API_LP_MAX_CHUNK)
        return err_set(ei, json_is_array(in) ? E_RANGE : E_PARSE,
                       "model runner sent invalid logprobs");
    dst = lp->stream ? &lp->pending : &lp->all;
    json_array_foreach(in, i, v)
    {
        json_t *e = NULL;
        int rc = lp_entry(v, 1, &e);
        if (rc != 0)
            return rc == E_NOMEM ? rc : err_set(ei, rc, "model runner sent invalid logprobs");
        if (!lp->stream) {
            lp->n_all += 1 + json_array_size(json_object_get(e, "top_logprobs"));
            if (lp->n_all > API_LP_MAX_ALL) {
                json_decref(e);
                return err_set(ei, E_BUSY,
                               "logprobs of a non-streamed answer exceed %u entries and "
                               "alternatives; stream the answer",
                               API_LP_MAX_ALL);
            }
        }
        if (!*dst && !(*dst = json_array())) {
            json_decref(e);
            return E_NOMEM;
        }
        if (json_array_append_new(*dst, e) != 0)
            return E_NOMEM;
    }
    return 0;
}

void api_serve_lp_attach(struct api_serve_lp *lp, json_t *line, int final)
{
    json_t **src = final && !lp->stream ? &lp->all : &lp->pending;
    if (!line || !*src)
        return;
    if (json_array_size(*src) > 0)
        json_object_set(line, "logprobs", *src);
    json_decref(*src);
    *src = NULL;
}

void api_serve_lp_fini(struct api_serve_lp *lp)
{
    json_decref(lp->pending);
    json_decref(lp->all);
    lp->pending = lp->all = NULL;
}

uint64_t api_serve_now_ns(void)
{
    return mono_ns();
}

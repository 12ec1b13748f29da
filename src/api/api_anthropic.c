/*
 * api_anthropic.c - the Anthropic Messages API (POST /v1/messages) as a pure translation onto
 * the native /api/chat shapes (see api_msgs.h), with Ollama's mapping (anthropic.go): system
 * first, content blocks folded into one native message per turn (tool results become tool
 * messages before a user turn's text), max_tokens -> num_predict, no defaults of our own for
 * the sampling fields, stop_reason from done_reason (stop -> end_turn, length -> max_tokens,
 * tool calls -> tool_use).  Streams follow Anthropic's event sequence: message_start, ping,
 * content_block_start / _delta / _stop per block (thinking, text, one per tool call),
 * message_delta with the usage, message_stop.
 *
 * Owns nothing beyond the json_t objects it returns.
 */
#include "api/api_msgs.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json.h"
#include "common/mem.h"

/* Error for images: corral's engine has no vision encoder (docs/API.md). */
#define ANT_NO_IMAGES                                                                            \
    "image content blocks are not supported (corral's engine has no vision encoder); send text " \
    "only"

int msgs_sse_event(const char *type, const json_t *v, struct buf *out)
{
    int rc;
    if (!v)
        return E_NOMEM;
    if ((rc = buf_puts(out, "event: ")) != 0 || (rc = buf_puts(out, type)) != 0 ||
        (rc = buf_puts(out, "\ndata: ")) != 0 || (rc = json_go_encode(v, 0, out)) != 0)
        return rc;
    return buf_puts(out, "\n\n");
}

/* Appends the event and drops v. */
static int ev(const char *type, json_t *v, struct buf *out)
{
    int rc = msgs_sse_event(type, v, out);
    json_decref(v);
    return rc;
}

/* ---- request ------------------------------------------------------------------------------ */

static const json_t *field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* Go decoder message for a field of the wrong type. */
static int type_err(struct err_info *ei, const json_t *v, const char *key, const char *gotype)
{
    if (json_is_number(v))
        return err_set(ei, E_INVAL,
                       "json: cannot unmarshal number into Go struct field MessagesRequest.%s of "
                       "type %s",
                       key, gotype);
    return err_set(ei, E_INVAL,
                   "json: cannot unmarshal %s into Go struct field MessagesRequest.%s of type %s",
                   json_type_name(v), key, gotype);
}

/* Optional number field copied into opts[name]. */
static int num_opt(const json_t *in, const char *key, json_t *opts, const char *name, int integer,
                   struct err_info *ei)
{
    const json_t *v = field(in, key);
    if (!v)
        return 0;
    if (integer ? !json_is_integer(v) : !json_is_number(v))
        return type_err(ei, v, key, integer ? "int" : "float64");
    json_object_set_new(opts, name,
                        integer ? json_integer(json_integer_value(v))
                                : json_real(json_number_value(v)));
    return 0;
}

/* system: a string, or text blocks joined. */
static int system_in(const json_t *in, json_t *msgs, struct err_info *ei)
{
    const json_t *sys = field(in, "system"), *b;
    struct buf t;
    size_t i;
    int rc = 0;
    if (!sys)
        return 0;
    if (json_is_string(sys)) {
        if (json_string_length(sys) > 0)
            json_array_append_new(msgs, json_pack("{s:s, s:O}", "role", "system", "content", sys));
        return 0;
    }
    if (!json_is_array(sys))
        return type_err(ei, sys, "system", "string or []ContentBlock");
    if (json_array_size(sys) > MSGS_MAX_BLOCKS)
        return err_set(ei, E_INVAL, "too many system blocks");
    buf_init(&t, 16u << 20);
    json_array_foreach((json_t *)sys, i, b)
    {
        const char *s = json_string_value(json_object_get(b, "text"));
        const char *type = json_string_value(json_object_get(b, "type"));
        if (type && !strcmp(type, "text") && s && (rc = buf_puts(&t, s)) != 0)
            break;
    }
    if (!rc && t.n)
        json_array_append_new(
            msgs, json_pack("{s:s, s:s%}", "role", "system", "content", buf_str(&t), t.n));
    buf_fini(&t);
    return rc;
}

/* The text of a tool_result's content (string or text blocks); images refused. */
static int tool_result_text(const json_t *content, struct buf *out, struct err_info *ei)
{
    const json_t *b;
    size_t i;
    int rc;
    if (!content || json_is_null(content))
        return 0;
    if (json_is_string(content))
        return buf_puts(out, json_string_value(content));
    if (!json_is_array(content))
        return 0;
    json_array_foreach((json_t *)content, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        const char *s = json_string_value(json_object_get(b, "text"));
        if (type && !strcmp(type, "image"))
            return err_set(ei, E_INVAL, ANT_NO_IMAGES);
        if (type && !strcmp(type, "text") && s && (rc = buf_puts(out, s)) != 0)
            return rc;
    }
    return 0;
}

/* One tool_use block -> a native tool call; names[id] = name for later tool results. */
static int tool_use_in(const json_t *b, json_t *calls, json_t *names, struct err_info *ei)
{
    const char *id = json_string_value(json_object_get(b, "id"));
    const char *name = json_string_value(json_object_get(b, "name"));
    const json_t *input = field(b, "input");
    if (!id || !*id)
        return err_set(ei, E_INVAL, "tool_use block missing required 'id' field");
    if (!name || !*name)
        return err_set(ei, E_INVAL, "tool_use block missing required 'name' field");
    if (input && !json_is_object(input))
        return err_set(ei, E_INVAL,
                       "json: cannot unmarshal %s into Go struct field ContentBlock.messages."
                       "content.input of type map[string]interface {}",
                       json_type_name(input));
    json_object_set_new(names, id, json_string(name));
    return json_array_append_new(
               calls, json_pack("{s:s, s:{s:s, s:o}}", "id", id, "function", "name", name,
                                "arguments", input ? json_incref((json_t *)input) : json_object()))
               ? E_NOMEM
               : 0;
}

/* A tool_result block -> a native tool message appended to results. */
static int tool_result_in(const json_t *b, const json_t *names, json_t *results,
                          struct err_info *ei)
{
    const char *id = json_string_value(json_object_get(b, "tool_use_id"));
    const char *name = id ? json_string_value(json_object_get(names, id)) : NULL;
    struct buf t;
    json_t *m;
    int rc;
    buf_init(&t, 16u << 20);
    if ((rc = tool_result_text(field(b, "content"), &t, ei)) != 0) {
        buf_fini(&t);
        return rc;
    }
    m = json_pack("{s:s, s:s%}", "role", "tool", "content", t.n ? buf_str(&t) : "", t.n);
    buf_fini(&t);
    if (!m)
        return E_NOMEM;
    if (id && *id)
        json_object_set_new(m, "tool_call_id", json_string(id));
    if (name && *name)
        json_object_set_new(m, "tool_name", json_string(name));
    return json_array_append_new(results, m) ? E_NOMEM : 0;
}

/* The blocks of one message folded into native messages appended to msgs. */
static int blocks_in(const char *role, const json_t *blocks, json_t *names, json_t *msgs,
                     struct err_info *ei)
{
    json_t *calls = json_array(), *results = json_array(), *b, *m = NULL;
    const char *thinking = NULL;
    struct buf text;
    size_t i;
    int rc = 0, user = !strcmp(role, "user");
    buf_init(&text, 16u << 20);
    if (!calls || !results) {
        rc = E_NOMEM;
        goto out;
    }
    if (json_array_size(blocks) > MSGS_MAX_BLOCKS) {
        rc = err_set(ei, E_INVAL, "too many content blocks");
        goto out;
    }
    json_array_foreach((json_t *)blocks, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        if (!json_is_object(b) || !type) {
            rc = err_set(ei, E_INVAL, "invalid content block");
            goto out;
        }
        if (!strcmp(type, "text")) {
            const char *s = json_string_value(json_object_get(b, "text"));
            if (s && (rc = buf_puts(&text, s)) != 0)
                goto out;
        } else if (!strcmp(type, "image")) {
            rc = err_set(ei, E_INVAL, ANT_NO_IMAGES);
            goto out;
        } else if (!strcmp(type, "tool_use") || !strcmp(type, "server_tool_use")) {
            if ((rc = tool_use_in(b, calls, names, ei)) != 0)
                goto out;
        } else if (!strcmp(type, "tool_result")) {
            if ((rc = tool_result_in(b, names, results, ei)) != 0)
                goto out;
        } else if (!strcmp(type, "thinking")) {
            thinking = json_string_value(json_object_get(b, "thinking"));
        } /* redacted_thinking, documents, ...: ignored as by Ollama */
    }
    if (user)
        json_array_extend(msgs, results);
    if (text.n || json_array_size(calls) || (thinking && *thinking)) {
        if (!(m = json_pack("{s:s, s:s%}", "role", role, "content", text.n ? buf_str(&text) : "",
                            text.n))) {
            rc = E_NOMEM;
            goto out;
        }
        if (thinking && *thinking)
            json_object_set_new(m, "thinking", json_string(thinking));
        if (json_array_size(calls))
            json_object_set(m, "tool_calls", calls);
        json_array_append_new(msgs, m);
    }
    if (!user)
        json_array_extend(msgs, results);
out:
    buf_fini(&text);
    json_decref(calls);
    json_decref(results);
    return rc;
}

static int messages_in(const json_t *in, json_t *msgs, struct err_info *ei)
{
    const json_t *list = field(in, "messages"), *m;
    json_t *names = json_object();
    size_t i;
    int rc = 0;
    if (!names)
        return E_NOMEM;
    json_array_foreach((json_t *)list, i, m)
    {
        const json_t *content = json_object_get(m, "content");
        const json_t *r = json_object_get(m, "role");
        char role[32];
        size_t k;
        if (!json_is_object(m)) {
            rc = err_set(ei, E_INVAL,
                         "json: cannot unmarshal %s into Go value of type anthropic.MessageParam",
                         json_type_name(m));
            break;
        }
        if (r && !json_is_string(r)) {
            rc = type_err(ei, r, "messages.role", "string");
            break;
        }
        snprintf(role, sizeof(role), "%s", r ? json_string_value(r) : "");
        for (k = 0; role[k]; k++)
            role[k] = (char)(role[k] >= 'A' && role[k] <= 'Z' ? role[k] + 32 : role[k]);
        if (json_is_string(content)) {
            if (json_string_length(content) > 0)
                json_array_append_new(msgs,
                                      json_pack("{s:s, s:O}", "role", role, "content", content));
        } else if (json_is_array(content)) {
            if ((rc = blocks_in(role, content, names, msgs, ei)) != 0)
                break;
        } else if (content && !json_is_null(content)) {
            rc = err_set(ei, E_INVAL,
                         "json: cannot unmarshal %s into Go struct field MessageParam.messages."
                         "content of type []anthropic.ContentBlock",
                         json_type_name(content));
            break;
        }
    }
    json_decref(names);
    return rc;
}

/* tools: {name, description, input_schema} -> native function tools. */
static int tools_in(const json_t *in, json_t *body, struct err_info *ei)
{
    const json_t *tools = field(in, "tools"), *choice = field(in, "tool_choice"), *t;
    const char *ct = json_string_value(json_object_get(choice, "type"));
    json_t *out;
    size_t i;
    if (!tools)
        return 0;
    if (!json_is_array(tools))
        return type_err(ei, tools, "tools", "[]anthropic.Tool");
    if (json_array_size(tools) > MSGS_MAX_BLOCKS)
        return err_set(ei, E_INVAL, "too many tools");
    if (ct && !strcmp(ct, "none")) /* the model must not call tools: it does not see them */
        return 0;
    if (!(out = json_array()))
        return E_NOMEM;
    json_array_foreach((json_t *)tools, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *desc = json_string_value(json_object_get(t, "description"));
        const json_t *schema = field(t, "input_schema");
        json_t *fn;
        if (!json_is_object(t) || !name) {
            json_decref(out);
            return err_set(ei, E_INVAL, "invalid tool: 'name' is required");
        }
        if (schema && !json_is_object(schema)) {
            json_decref(out);
            return err_set(ei, E_INVAL, "invalid input_schema for tool \"%s\"", name);
        }
        fn = json_pack("{s:s, s:s}", "name", name, "description", desc ? desc : "");
        if (fn)
            json_object_set_new(fn, "parameters",
                                schema ? json_incref((json_t *)schema) : json_object());
        json_array_append_new(out, json_pack("{s:s, s:o*}", "type", "function", "function", fn));
    }
    json_object_set_new(body, "tools", out);
    return 0;
}

/* thinking {type: enabled|disabled}, else output_config.effort -> think.  Thinking asked of a
 * model that cannot think is dropped (Ollama's relax_thinking): Claude Code asks every model. */
static int think_in(const json_t *in, json_t *body, struct err_info *ei)
{
    const json_t *th = field(in, "thinking"), *oc = field(in, "output_config");
    const char *type = json_string_value(json_object_get(th, "type"));
    const char *effort = json_string_value(json_object_get(oc, "effort"));
    if (th && !json_is_object(th))
        return type_err(ei, th, "thinking", "anthropic.ThinkingConfig");
    json_object_set_new(body, "_relax_thinking", json_true());
    if (type && !strcmp(type, "enabled")) {
        json_object_set_new(body, "think", json_true());
    } else if (type && !strcmp(type, "disabled")) {
        json_object_set_new(body, "think", json_false());
    } else if (effort) {
        static const char *const ok[] = {"low", "medium", "high", "max"};
        char e[16];
        size_t n = 0;
        while (*effort == ' ')
            effort++;
        for (; effort[n] && effort[n] != ' ' && n + 1 < sizeof(e); n++)
            e[n] = (char)(effort[n] >= 'A' && effort[n] <= 'Z' ? effort[n] + 32 : effort[n]);
        e[n] = '\0';
        if (!strcmp(e, "xhigh"))
            snprintf(e, sizeof(e), "high");
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
            if (!strcmp(e, ok[i]))
                json_object_set_new(body, "think", json_string(ok[i]));
    }
    return 0;
}

/* Structured outputs: output_config.format (GA) or output_format (beta), both
 * {type: "json_schema", schema} -> format. */
static int format_in(const json_t *in, json_t *body, struct err_info *ei)
{
    const json_t *f = field(field(in, "output_config"), "format"), *schema;
    const char *type;
    if (!f)
        f = field(in, "output_format");
    if (!f)
        return 0;
    type = json_string_value(json_object_get(f, "type"));
    schema = field(f, "schema");
    if (!json_is_object(f) || !type || strcmp(type, "json_schema") != 0 || !json_is_object(schema))
        return err_set(ei, E_INVAL,
                       "output format must be {\"type\":\"json_schema\",\"schema\":{...}}");
    json_object_set(body, "format", (json_t *)schema);
    return 0;
}

static int64_t estimate(const json_t *msgs, const json_t *tools)
{
    const json_t *m;
    size_t i, total = 0;
    json_array_foreach((json_t *)msgs, i, m)
    {
        total += json_string_length(json_object_get(m, "role"));
        total += json_string_length(json_object_get(m, "content"));
        total += json_string_length(json_object_get(m, "thinking"));
    }
    json_array_foreach((json_t *)tools, i, m)
    {
        const json_t *fn = json_object_get(m, "function");
        total += json_string_length(json_object_get(fn, "name")) +
                 json_string_length(json_object_get(fn, "description"));
    }
    return total / 4 > 0 ? (int64_t)(total / 4) : json_array_size(msgs) > 0;
}

int ant_request(const json_t *in, json_t **out, int64_t *est, struct err_info *ei)
{
    const json_t *model = field(in, "model"), *mt = field(in, "max_tokens"),
                 *list = field(in, "messages"), *st = field(in, "stream"),
                 *stops = field(in, "stop_sequences");
    json_t *body = NULL, *msgs, *opts;
    int rc;
    if (!json_is_object(in))
        return err_set(ei, E_INVAL, "invalid request");
    if (model && !json_is_string(model))
        return type_err(ei, model, "model", "string");
    if (mt && !json_is_integer(mt))
        return type_err(ei, mt, "max_tokens", "int");
    if (list && !json_is_array(list))
        return type_err(ei, list, "messages", "[]anthropic.MessageParam");
    if (st && !json_is_boolean(st))
        return type_err(ei, st, "stream", "bool");
    if (stops && !json_is_array(stops))
        return type_err(ei, stops, "stop_sequences", "[]string");
    if (!model || json_string_length(model) == 0)
        return err_set(ei, E_INVAL, "model is required");
    if (!mt || json_integer_value(mt) <= 0)
        return err_set(ei, E_INVAL, "max_tokens is required and must be positive");
    if (json_array_size(list) == 0)
        return err_set(ei, E_INVAL, "messages is required");
    body = json_pack("{s:O, s:[], s:{s:I}}", "model", model, "messages", "options", "num_predict",
                     json_integer_value(mt));
    if (!body)
        return E_NOMEM;
    msgs = json_object_get(body, "messages");
    opts = json_object_get(body, "options");
    if ((rc = system_in(in, msgs, ei)) != 0 || (rc = messages_in(in, msgs, ei)) != 0 ||
        (rc = num_opt(in, "temperature", opts, "temperature", 0, ei)) != 0 ||
        (rc = num_opt(in, "top_p", opts, "top_p", 0, ei)) != 0 ||
        (rc = num_opt(in, "top_k", opts, "top_k", 1, ei)) != 0)
        goto fail;
    if (json_array_size(stops) > MSGS_MAX_STOPS) {
        rc = err_set(ei, E_INVAL, "too many stop sequences");
        goto fail;
    }
    if (json_array_size(stops) > 0) {
        const json_t *s;
        size_t i;
        json_array_foreach((json_t *)stops, i, s)
        {
            if (!json_is_string(s)) {
                rc = type_err(ei, s, "stop_sequences", "string");
                goto fail;
            }
        }
        json_object_set(opts, "stop", (json_t *)stops);
    }
    json_object_set_new(body, "stream", json_boolean(json_is_true(st)));
    if ((rc = tools_in(in, body, ei)) != 0 || (rc = think_in(in, body, ei)) != 0 ||
        (rc = format_in(in, body, ei)) != 0)
        goto fail;
    if (est)
        *est = estimate(msgs, json_object_get(body, "tools"));
    *out = body;
    return 0;
fail:
    json_decref(body);
    return rc;
}

int ant_count_tokens(const json_t *in, int64_t *n, struct err_info *ei)
{
    json_t *req, *body = NULL;
    int rc;
    if (!json_is_object(in))
        return err_set(ei, E_INVAL, "invalid request");
    if (!(req = json_copy((json_t *)in)))
        return E_NOMEM;
    json_object_set_new(req, "max_tokens", json_integer(1)); /* not part of a count request */
    json_object_del(req, "stream");
    rc = ant_request(req, &body, n, ei);
    json_decref(body);
    json_decref(req);
    return rc;
}

/* ---- responses ----------------------------------------------------------------------------- */

/* prefix + 24 random-looking hex digits. */
static void make_id(char *out, size_t cap, const char *prefix)
{
    static _Atomic unsigned long counter;
    struct timespec ts;
    unsigned long long x;
    clock_gettime(CLOCK_REALTIME, &ts);
    x = (unsigned long long)ts.tv_nsec * 6364136223846793005ull ^
        (unsigned long long)ts.tv_sec * 1442695040888963407ull ^ ++counter * 0x9e3779b97f4a7c15ull;
    snprintf(out, cap, "%s%016llx%08x", prefix, x,
             (unsigned)((x >> 17) * 2654435761u ^ (unsigned)counter));
}

json_t *ant_error_body(int status, const char *msg)
{
    const char *type = status == 400                    ? "invalid_request_error"
                       : status == 401                  ? "authentication_error"
                       : status == 403                  ? "permission_error"
                       : status == 404                  ? "not_found_error"
                       : status == 429                  ? "rate_limit_error"
                       : status == 503 || status == 529 ? "overloaded_error"
                                                        : "api_error";
    char rid[40];
    make_id(rid, sizeof(rid), "req_");
    return json_pack("{s:s, s:{s:s, s:s}, s:s}", "type", "error", "error", "type", type, "message",
                     msg ? msg : "", "request_id", rid);
}

void ant_conv_init(struct ant_conv *c, const char *model, int64_t est_input)
{
    memset(c, 0, sizeof(*c));
    make_id(c->id, sizeof(c->id), "msg_");
    snprintf(c->model, sizeof(c->model), "%s", model ? model : "");
    c->est_input = est_input;
}

static const char *stop_reason(const json_t *native, int tools)
{
    const char *r = json_string_value(json_object_get(native, "done_reason"));
    if (tools)
        return "tool_use";
    if (!r || !*r)
        return NULL;
    if (!strcmp(r, "stop"))
        return "end_turn";
    if (!strcmp(r, "length"))
        return "max_tokens";
    return "stop_sequence";
}

static json_int_t count(const json_t *native, const char *key)
{
    return json_integer_value(json_object_get(native, key));
}

/* Native tool call -> tool_use block (input empty when streaming: it follows as a delta). */
static json_t *tool_use_out(const json_t *tc, int with_input)
{
    const json_t *fn = json_object_get(tc, "function"), *args = json_object_get(fn, "arguments");
    const char *id = json_string_value(json_object_get(tc, "id"));
    const char *name = json_string_value(json_object_get(fn, "name"));
    json_t *b = json_pack("{s:s, s:s, s:s}", "type", "tool_use", "id", id ? id : "", "name",
                          name ? name : "");
    if (b)
        json_object_set_new(b, "input",
                            with_input && json_is_object(args) ? json_incref((json_t *)args)
                                                               : json_object());
    return b;
}

json_t *ant_conv_final(const struct ant_conv *c, const json_t *native)
{
    const json_t *msg = json_object_get(native, "message"), *calls, *tc;
    const char *content = json_string_value(json_object_get(msg, "content"));
    const char *thinking = json_string_value(json_object_get(msg, "thinking"));
    const char *reason;
    json_t *o, *blocks = json_array();
    size_t i;
    if (!blocks)
        return NULL;
    calls = json_object_get(msg, "tool_calls");
    if (thinking && *thinking)
        json_array_append_new(blocks,
                              json_pack("{s:s, s:s}", "type", "thinking", "thinking", thinking));
    if (content && *content)
        json_array_append_new(blocks, json_pack("{s:s, s:s}", "type", "text", "text", content));
    json_array_foreach((json_t *)calls, i, tc) json_array_append_new(blocks, tool_use_out(tc, 1));
    reason = stop_reason(native, json_array_size(calls) > 0);
    o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s?, s:n, s:{s:I, s:I}}", "id", c->id, "type",
                  "message", "role", "assistant", "model", c->model, "content", blocks,
                  "stop_reason", reason, "stop_sequence", "usage", "input_tokens",
                  count(native, "prompt_eval_count"), "output_tokens", count(native, "eval_count"));
    return o;
}

static int block_stop(struct ant_conv *c, struct buf *out)
{
    int rc = ev("content_block_stop",
                json_pack("{s:s, s:i}", "type", "content_block_stop", "index", c->index), out);
    c->index++;
    return rc;
}

static int block_start(struct ant_conv *c, json_t *block, struct buf *out)
{
    return ev("content_block_start",
              json_pack("{s:s, s:i, s:o}", "type", "content_block_start", "index", c->index,
                        "content_block", block),
              out);
}

static int block_delta(struct ant_conv *c, const char *dtype, const char *key, const char *s,
                       struct buf *out)
{
    return ev("content_block_delta",
              json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_delta", "index",
                        c->index, "delta", "type", dtype, key, s),
              out);
}

static int message_start(struct ant_conv *c, struct buf *out)
{
    int rc;
    c->started = 1;
    rc = ev("message_start",
            json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:{s:I, s:i}}}", "type",
                      "message_start", "message", "id", c->id, "type", "message", "role",
                      "assistant", "model", c->model, "content", "stop_reason", "stop_sequence",
                      "usage", "input_tokens", (json_int_t)c->est_input, "output_tokens", 0),
            out);
    return rc ? rc : ev("ping", json_pack("{s:s}", "type", "ping"), out);
}

static int tool_calls_line(struct ant_conv *c, const json_t *calls, struct buf *out)
{
    const json_t *tc;
    size_t i;
    int rc = 0;
    if (c->thinking_open || c->text_open) {
        c->thinking_open = c->text_open = 0;
        if ((rc = block_stop(c, out)) != 0)
            return rc;
    }
    json_array_foreach((json_t *)calls, i, tc)
    {
        struct buf args;
        buf_init(&args, 16u << 20);
        rc = block_start(c, tool_use_out(tc, 0), out);
        if (!rc)
            rc = json_go_encode(json_object_get(json_object_get(tc, "function"), "arguments"),
                                JSON_GO_SORT_KEYS, &args);
        if (!rc)
            rc = block_delta(c, "input_json_delta", "partial_json", args.n ? buf_str(&args) : "{}",
                             out);
        buf_fini(&args);
        if (rc || (rc = block_stop(c, out)) != 0)
            return rc;
        c->tool_sent = 1;
    }
    return 0;
}

int ant_conv_line(struct ant_conv *c, const json_t *native, struct buf *out)
{
    const json_t *msg = json_object_get(native, "message"), *err, *calls;
    const char *content = json_string_value(json_object_get(msg, "content"));
    const char *thinking = json_string_value(json_object_get(msg, "thinking"));
    int rc;
    if (!json_is_object(native))
        return E_PARSE;
    if ((err = json_object_get(native, "error")) != NULL)
        return ev("error",
                  json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", "api_error",
                            "message", json_is_string(err) ? json_string_value(err) : "error"),
                  out);
    if (c->done)
        return 0;
    if (!c->started && (rc = message_start(c, out)) != 0)
        return rc;
    if (thinking && *thinking && !c->text_open) {
        if (!c->thinking_open) {
            c->thinking_open = 1;
            if ((rc = block_start(c, json_pack("{s:s, s:s}", "type", "thinking", "thinking", ""),
                                  out)) != 0)
                return rc;
        }
        if ((rc = block_delta(c, "thinking_delta", "thinking", thinking, out)) != 0)
            return rc;
    }
    if (content && *content) {
        if (c->thinking_open) {
            c->thinking_open = 0;
            if ((rc = block_stop(c, out)) != 0)
                return rc;
        }
        if (!c->text_open) {
            c->text_open = 1;
            if ((rc = block_start(c, json_pack("{s:s, s:s}", "type", "text", "text", ""), out)) !=
                0)
                return rc;
        }
        if ((rc = block_delta(c, "text_delta", "text", content, out)) != 0)
            return rc;
    }
    calls = json_object_get(msg, "tool_calls");
    if (json_array_size(calls) > 0 && (rc = tool_calls_line(c, calls, out)) != 0)
        return rc;
    if (!json_is_true(json_object_get(native, "done")))
        return 0;
    if (c->thinking_open || c->text_open) {
        c->thinking_open = c->text_open = 0;
        if ((rc = block_stop(c, out)) != 0)
            return rc;
    }
    c->done = 1;
    rc = ev("message_delta",
            json_pack("{s:s, s:{s:s?, s:n}, s:{s:I, s:I}}", "type", "message_delta", "delta",
                      "stop_reason", stop_reason(native, c->tool_sent), "stop_sequence", "usage",
                      "input_tokens", count(native, "prompt_eval_count"), "output_tokens",
                      count(native, "eval_count")),
            out);
    return rc ? rc : ev("message_stop", json_pack("{s:s}", "type", "message_stop"), out);
}

/*
 * api_responses.c - the OpenAI Responses API (POST /v1/responses), stateless subset as Ollama
 * serves it (openai/responses.go), as a pure translation onto the native /api/chat shapes (see
 * api_msgs.h).  Requests: instructions become a system message, input items become native
 * messages (function_call items fold into the assistant turn before them, a reasoning item's
 * text becomes the next assistant message's thinking), flat function tools, temperature
 * default 1.0 (OpenAI's), max_output_tokens -> num_predict, text.format -> format,
 * reasoning.effort -> think.  Responses: the response object in Ollama's field order with
 * reasoning / message / function_call output items; status "incomplete" with
 * incomplete_details.reason "max_output_tokens" when the native answer stopped at the length
 * limit.  Streams: response.created, response.in_progress, then per item output_item.added,
 * content_part.added, output_text.delta ..., the done events, and response.completed (or
 * response.incomplete), every event with its sequence_number.
 *
 * Owns nothing beyond the json_t objects it returns and the buffers of struct rsp_conv.
 */
#include "api/api_msgs.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api_openai.h"
#include "common/json.h"
#include "common/mem.h"

#define RSP_MAX_TEXT                                                             \
    (64u << 20) /* bytes of streamed text or reasoning kept for the final object \
                 */
#define RSP_NO_IMAGES \
    "input_image is not supported (corral's engine has no vision encoder); send text only"

static const json_t *field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

static int type_err(struct err_info *ei, const json_t *v, const char *key, const char *gotype)
{
    return err_set(ei, E_INVAL,
                   "json: cannot unmarshal %s into Go struct field ResponsesRequest.%s of type %s",
                   json_is_number(v) ? "number" : json_type_name(v), key, gotype);
}

/* ---- request ------------------------------------------------------------------------------ */

/* The text of a content (string or parts); images and files refused. */
static int content_text(const json_t *content, int idx, struct buf *out, struct err_info *ei)
{
    const json_t *p;
    size_t i;
    int rc;
    if (!content || json_is_null(content))
        return 0;
    if (json_is_string(content))
        return buf_puts(out, json_string_value(content));
    if (!json_is_array(content))
        return err_set(ei, E_INVAL, "input[%d]: content must be a string or array", idx);
    if (json_array_size(content) > MSGS_MAX_BLOCKS)
        return err_set(ei, E_INVAL, "input[%d]: too many content parts", idx);
    json_array_foreach((json_t *)content, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        const char *s = json_string_value(json_object_get(p, "text"));
        if (!type)
            type = "";
        if (!strcmp(type, "input_text") || !strcmp(type, "output_text") || !strcmp(type, "text")) {
            if (s && (rc = buf_puts(out, s)) != 0)
                return rc;
        } else if (!strcmp(type, "input_image")) {
            return err_set(ei, E_INVAL, "input[%d]: " RSP_NO_IMAGES, idx);
        } else if (!strcmp(type, "input_file")) {
            return err_set(ei, E_INVAL, "file inputs are not currently supported");
        } else if (strcmp(type, "refusal") != 0) {
            return err_set(ei, E_INVAL, "input[%d]: content[%zu]: unknown content type: %s", idx, i,
                           type);
        }
    }
    return 0;
}

/* A native message {role, content} appended to msgs; returns it (borrowed) or NULL. */
static json_t *add_msg(json_t *msgs, const char *role, const char *content, size_t n)
{
    json_t *m = json_pack("{s:s, s:s%}", "role", role, "content", content ? content : "", n);
    if (!m || json_array_append_new(msgs, m) != 0)
        return NULL;
    return m;
}

/* The last native message when it is an assistant turn, else NULL. */
static json_t *last_assistant(json_t *msgs)
{
    json_t *m = json_array_get(msgs, json_array_size(msgs) - 1);
    const char *role = json_string_value(json_object_get(m, "role"));
    return role && !strcmp(role, "assistant") ? m : NULL;
}

static int function_call_in(const json_t *item, int idx, json_t *msgs, json_t *names,
                            char **pending, struct err_info *ei)
{
    const char *call_id = json_string_value(json_object_get(item, "call_id"));
    const char *name = json_string_value(json_object_get(item, "name"));
    const char *args = json_string_value(json_object_get(item, "arguments"));
    json_t *a = args && *args ? json_loads(args, JSON_DECODE_ANY, NULL) : json_object(), *m, *tc;
    if (!a || !json_is_object(a)) {
        json_decref(a);
        return err_set(ei, E_INVAL, "input[%d]: failed to parse function call arguments", idx);
    }
    tc = json_pack("{s:s, s:{s:s, s:o}}", "id", call_id ? call_id : "", "function", "name",
                   name ? name : "", "arguments", a);
    if (!tc)
        return E_NOMEM;
    if (call_id && name)
        json_object_set_new(names, call_id, json_string(name));
    if (!(m = last_assistant(msgs)) && !(m = add_msg(msgs, "assistant", "", 0))) {
        json_decref(tc);
        return E_NOMEM;
    }
    if (!json_is_array(json_object_get(m, "tool_calls")))
        json_object_set_new(m, "tool_calls", json_array());
    json_array_append_new(json_object_get(m, "tool_calls"), tc);
    if (*pending) {
        json_object_set_new(m, "thinking", json_string(*pending));
        mem_free(*pending);
        *pending = NULL;
    }
    return 0;
}

static int function_output_in(const json_t *item, int idx, json_t *msgs, const json_t *names,
                              struct err_info *ei)
{
    const char *call_id = json_string_value(json_object_get(item, "call_id"));
    const char *name = call_id ? json_string_value(json_object_get(names, call_id)) : NULL;
    struct buf t;
    json_t *m;
    int rc;
    buf_init(&t, 16u << 20);
    if ((rc = content_text(field(item, "output"), idx, &t, ei)) != 0) {
        buf_fini(&t);
        return rc;
    }
    m = add_msg(msgs, "tool", t.n ? buf_str(&t) : "", t.n);
    buf_fini(&t);
    if (!m)
        return E_NOMEM;
    if (call_id && *call_id)
        json_object_set_new(m, "tool_call_id", json_string(call_id));
    if (name && *name)
        json_object_set_new(m, "tool_name", json_string(name));
    return 0;
}

/* A reasoning item's text: encrypted_content (which corral fills with the plain text), else
 * the summary texts. */
static char *reasoning_text(const json_t *item)
{
    const char *enc = json_string_value(json_object_get(item, "encrypted_content"));
    const json_t *s;
    struct buf t;
    size_t i;
    char *out;
    if (enc && *enc)
        return mem_strdup(enc);
    buf_init(&t, 16u << 20);
    json_array_foreach(json_object_get(item, "summary"), i, s)
    {
        const char *x = json_string_value(json_object_get(s, "text"));
        if (x && buf_puts(&t, x) != 0)
            break;
    }
    out = t.n ? mem_strdup(buf_str(&t)) : NULL;
    buf_fini(&t);
    return out;
}

static int message_in(const json_t *item, int idx, json_t *msgs, char **pending,
                      struct err_info *ei)
{
    const char *role = json_string_value(json_object_get(item, "role"));
    struct buf t;
    json_t *m;
    int rc;
    if (!role || !*role)
        return err_set(ei, E_INVAL, "input[%d]: message item missing required 'role' field", idx);
    if (!strcmp(role, "developer"))
        role = "system";
    buf_init(&t, 16u << 20);
    if ((rc = content_text(field(item, "content"), idx, &t, ei)) != 0) {
        buf_fini(&t);
        return rc;
    }
    m = add_msg(msgs, role, t.n ? buf_str(&t) : "", t.n);
    buf_fini(&t);
    if (!m)
        return E_NOMEM;
    if (*pending && !strcmp(role, "assistant")) {
        json_object_set_new(m, "thinking", json_string(*pending));
        mem_free(*pending);
        *pending = NULL;
    }
    return 0;
}

static int input_in(const json_t *in, json_t *msgs, struct err_info *ei)
{
    const json_t *input = field(in, "input"), *item;
    json_t *names;
    char *pending = NULL;
    size_t i;
    int rc = 0;
    if (!input)
        return 0;
    if (json_is_string(input)) {
        if (json_string_length(input) > 0 &&
            !add_msg(msgs, "user", json_string_value(input), json_string_length(input)))
            return E_NOMEM;
        return 0;
    }
    if (!json_is_array(input))
        return err_set(ei, E_INVAL, "input must be a string or array");
    if (json_array_size(input) > MSGS_MAX_BLOCKS)
        return err_set(ei, E_INVAL, "too many input items");
    if (!(names = json_object()))
        return E_NOMEM;
    json_array_foreach((json_t *)input, i, item)
    {
        const char *type = json_string_value(json_object_get(item, "type"));
        int idx = (int)i;
        if (!json_is_object(item)) {
            rc = err_set(ei, E_INVAL, "input[%d]: input item must be an object", idx);
            break;
        }
        if ((!type || !*type) && json_is_string(json_object_get(item, "role")))
            type = "message";
        if (!type || !*type)
            rc = err_set(ei, E_INVAL, "input[%d]: input item missing required 'type' field", idx);
        else if (!strcmp(type, "message"))
            rc = message_in(item, idx, msgs, &pending, ei);
        else if (!strcmp(type, "function_call"))
            rc = function_call_in(item, idx, msgs, names, &pending, ei);
        else if (!strcmp(type, "function_call_output"))
            rc = function_output_in(item, idx, msgs, names, ei);
        else if (!strcmp(type, "reasoning")) {
            mem_free(pending);
            pending = reasoning_text(item);
        } else
            rc = err_set(ei, E_INVAL, "input[%d]: unknown input item type: \"%s\"", idx, type);
        if (rc)
            break;
    }
    if (!rc && pending) {
        json_t *m = add_msg(msgs, "assistant", "", 0);
        if (!m)
            rc = E_NOMEM;
        else
            json_object_set_new(m, "thinking", json_string(pending));
    }
    mem_free(pending);
    json_decref(names);
    return rc;
}

/* Flat function tools {type, name, description, parameters, strict} -> native tools. */
static int tools_in(const json_t *in, json_t *body, struct err_info *ei)
{
    const json_t *tools = field(in, "tools"), *t, *choice = field(in, "tool_choice");
    json_t *out;
    size_t i;
    if (!tools)
        return 0;
    if (!json_is_array(tools))
        return type_err(ei, tools, "tools", "[]openai.ResponsesTool");
    if (json_array_size(tools) > MSGS_MAX_BLOCKS)
        return err_set(ei, E_INVAL, "too many tools");
    if (json_is_string(choice) && !strcmp(json_string_value(choice), "none"))
        return 0; /* the model must not call tools: it does not see them */
    if (!(out = json_array()))
        return E_NOMEM;
    json_array_foreach((json_t *)tools, i, t)
    {
        const char *type = json_string_value(json_object_get(t, "type"));
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *desc = json_string_value(json_object_get(t, "description"));
        const json_t *params = field(t, "parameters");
        json_t *fn;
        if (!json_is_object(t)) {
            json_decref(out);
            return err_set(ei, E_INVAL, "tools[%zu]: a tool must be an object", i);
        }
        /* hosted tools (web_search, file_search, ...) have no name and nothing corral can run:
         * skipped; other named tools (custom, local_shell) reach the template as functions, as
         * Ollama passes them */
        if (!name || !*name) {
            if (!type || !strcmp(type, "function")) {
                json_decref(out);
                return err_set(ei, E_INVAL, "tools[%zu]: 'name' is required", i);
            }
            continue;
        }
        if (params && !json_is_object(params)) {
            json_decref(out);
            return err_set(ei, E_INVAL, "tools[%zu]: 'parameters' must be an object", i);
        }
        fn = json_pack("{s:s, s:s}", "name", name, "description", desc ? desc : "");
        if (fn)
            json_object_set_new(fn, "parameters",
                                params ? json_incref((json_t *)params) : json_object());
        json_array_append_new(out, json_pack("{s:s, s:o*}", "type", "function", "function", fn));
    }
    if (json_array_size(out) > 0)
        json_object_set_new(body, "tools", out);
    else
        json_decref(out);
    return 0;
}

static int format_in(const json_t *in, json_t *body, struct err_info *ei)
{
    const json_t *text = field(in, "text"), *fmt = field(text, "format");
    const char *type = json_string_value(json_object_get(fmt, "type"));
    if (text && !json_is_object(text))
        return type_err(ei, text, "text", "openai.ResponsesText");
    if (!type)
        return 0;
    if (!strcmp(type, "json_schema") && json_is_object(field(fmt, "schema")))
        json_object_set(body, "format", json_object_get(fmt, "schema"));
    else if (!strcmp(type, "json_object"))
        json_object_set_new(body, "format", json_string("json"));
    return 0;
}

static int think_in(const json_t *in, json_t *body, struct err_info *ei)
{
    static const char *const ok[] = {"low", "medium", "high", "max"};
    const json_t *r = field(in, "reasoning");
    const char *effort = json_string_value(json_object_get(r, "effort"));
    if (r && !json_is_object(r))
        return type_err(ei, r, "reasoning", "openai.ResponsesReasoning");
    if (!effort || !*effort)
        return 0;
    if (!strcmp(effort, "none")) {
        json_object_set_new(body, "think", json_false());
        return 0;
    }
    if (!strcmp(effort, "minimal"))
        effort = "low";
    else if (!strcmp(effort, "xhigh"))
        effort = "max";
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!strcmp(effort, ok[i])) {
            json_object_set_new(body, "think", json_string(ok[i]));
            return 0;
        }
    return err_set(ei, E_INVAL,
                   "invalid reasoning value: \"%s\" (must be \"high\", \"medium\", \"low\", "
                   "\"max\", or \"none\")",
                   effort);
}

static int options_in(const json_t *in, json_t *opts, struct err_info *ei)
{
    const json_t *t = field(in, "temperature"), *tp = field(in, "top_p"),
                 *mo = field(in, "max_output_tokens");
    if (t && !json_is_number(t))
        return type_err(ei, t, "temperature", "float64");
    if (tp && !json_is_number(tp))
        return type_err(ei, tp, "top_p", "float64");
    if (mo && !json_is_integer(mo))
        return type_err(ei, mo, "max_output_tokens", "int");
    json_object_set_new(opts, "temperature", json_real(t ? json_number_value(t) : 1.0));
    if (tp)
        json_object_set_new(opts, "top_p", json_real(json_number_value(tp)));
    if (mo)
        json_object_set_new(opts, "num_predict", json_integer(json_integer_value(mo)));
    return 0;
}

int rsp_request(const json_t *in, json_t **out, struct err_info *ei)
{
    const json_t *model = field(in, "model"), *ins = field(in, "instructions"),
                 *st = field(in, "stream");
    json_t *body, *msgs;
    int rc;
    if (!json_is_object(in))
        return err_set(ei, E_INVAL, "invalid request");
    if (field(in, "previous_response_id") || field(in, "conversation"))
        return err_set(ei, E_INVAL,
                       "previous_response_id and conversation are not supported: corral's "
                       "/v1/responses is stateless; send the whole conversation in 'input'");
    if (json_is_true(json_object_get(in, "background")))
        return err_set(ei, E_INVAL, "background responses are not supported");
    if (model && !json_is_string(model))
        return type_err(ei, model, "model", "string");
    if (ins && !json_is_string(ins))
        return type_err(ei, ins, "instructions", "string");
    if (st && !json_is_boolean(st))
        return type_err(ei, st, "stream", "bool");
    body = json_pack("{s:s, s:[], s:{}}", "model", model ? json_string_value(model) : "",
                     "messages", "options");
    if (!body)
        return E_NOMEM;
    msgs = json_object_get(body, "messages");
    if (ins && json_string_length(ins) > 0 &&
        !add_msg(msgs, "system", json_string_value(ins), json_string_length(ins))) {
        rc = E_NOMEM;
        goto fail;
    }
    if ((rc = input_in(in, msgs, ei)) != 0 ||
        (rc = options_in(in, json_object_get(body, "options"), ei)) != 0 ||
        (rc = tools_in(in, body, ei)) != 0 || (rc = format_in(in, body, ei)) != 0 ||
        (rc = think_in(in, body, ei)) != 0)
        goto fail;
    json_object_set_new(body, "stream", json_boolean(json_is_true(st)));
    *out = body;
    return 0;
fail:
    json_decref(body);
    return rc;
}

/* ---- responses ----------------------------------------------------------------------------- */

json_t *rsp_error_body(int status, const char *msg)
{
    return oai_error_body(status, msg);
}

static void make_id(char *out, size_t cap, const char *prefix, unsigned salt)
{
    struct timespec ts;
    unsigned long long x;
    clock_gettime(CLOCK_REALTIME, &ts);
    x = ((unsigned long long)ts.tv_nsec + salt) * 6364136223846793005ull ^
        (unsigned long long)ts.tv_sec * 1442695040888963407ull ^ (uintptr_t)out;
    snprintf(out, cap, "%s%016llx%08x", prefix, x, (unsigned)(x >> 23) * 2654435761u ^ salt);
}

void rsp_conv_init(struct rsp_conv *c, const json_t *req)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(c, 0, sizeof(*c));
    make_id(c->id, sizeof(c->id), "resp_", 1);
    make_id(c->msg_id, sizeof(c->msg_id), "msg_", 2);
    make_id(c->rs_id, sizeof(c->rs_id), "rs_", 3);
    c->created = (int64_t)ts.tv_sec;
    c->req = json_incref((json_t *)req);
    c->calls = json_array();
    buf_init(&c->text, RSP_MAX_TEXT);
    buf_init(&c->think, RSP_MAX_TEXT);
}

void rsp_conv_fini(struct rsp_conv *c)
{
    json_decref(c->req);
    json_decref(c->calls);
    buf_fini(&c->text);
    buf_fini(&c->think);
    c->req = c->calls = NULL;
}

/* A request field echoed as is, or dflt (taken) when absent. */
static json_t *echo(const struct rsp_conv *c, const char *key, json_t *dflt)
{
    const json_t *v = field(c->req, key);
    if (v) {
        json_decref(dflt);
        return json_incref((json_t *)v);
    }
    return dflt ? dflt : json_null();
}

static json_t *text_field(const struct rsp_conv *c)
{
    const json_t *fmt = field(field(c->req, "text"), "format");
    return json_is_object(fmt) ? json_pack("{s:O}", "format", fmt)
                               : json_pack("{s:{s:s}}", "format", "type", "text");
}

static json_t *reasoning_field(const struct rsp_conv *c)
{
    const json_t *r = field(c->req, "reasoning");
    if (!json_is_object(r) || (!field(r, "effort") && !field(r, "summary")))
        return json_null();
    return json_pack("{s:O, s:O}", "effort", field(r, "effort") ? field(r, "effort") : json_null(),
                     "summary", field(r, "summary") ? field(r, "summary") : json_null());
}

static json_t *usage_out(const json_t *native)
{
    json_int_t p = json_integer_value(json_object_get(native, "prompt_eval_count"));
    json_int_t e = json_integer_value(json_object_get(native, "eval_count"));
    return json_pack("{s:I, s:I, s:I, s:{s:i}, s:{s:i}}", "input_tokens", p, "output_tokens", e,
                     "total_tokens", p + e, "input_tokens_details", "cached_tokens", 0,
                     "output_tokens_details", "reasoning_tokens", 0);
}

/* The response object (Ollama's field order); output and usage are taken. */
static json_t *response_obj(const struct rsp_conv *c, const char *status, json_t *output,
                            json_t *usage)
{
    const json_t *tools = field(c->req, "tools");
    json_t *o = json_pack("{s:s, s:s, s:I}", "id", c->id, "object", "response", "created_at",
                          (json_int_t)c->created);
    if (!o) {
        json_decref(output);
        json_decref(usage);
        return NULL;
    }
    json_object_set_new(o, "completed_at",
                        strcmp(status, "in_progress") ? json_integer((json_int_t)time(NULL))
                                                      : json_null());
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "incomplete_details",
                        !strcmp(status, "incomplete")
                            ? json_pack("{s:s}", "reason", "max_output_tokens")
                            : json_null());
    json_object_set_new(o, "model", echo(c, "model", json_string("")));
    json_object_set_new(o, "previous_response_id", json_null());
    json_object_set_new(o, "instructions", echo(c, "instructions", NULL));
    json_object_set_new(o, "output", output ? output : json_array());
    json_object_set_new(o, "error", json_null());
    json_object_set_new(o, "tools",
                        json_is_array(tools) ? json_incref((json_t *)tools) : json_array());
    json_object_set_new(o, "tool_choice", echo(c, "tool_choice", json_string("auto")));
    json_object_set_new(o, "truncation", echo(c, "truncation", json_string("disabled")));
    json_object_set_new(o, "parallel_tool_calls", json_true());
    json_object_set_new(o, "text", text_field(c));
    json_object_set_new(o, "top_p", echo(c, "top_p", json_real(1.0)));
    json_object_set_new(o, "presence_penalty", json_integer(0));
    json_object_set_new(o, "frequency_penalty", json_integer(0));
    json_object_set_new(o, "top_logprobs", json_integer(0));
    json_object_set_new(o, "temperature", echo(c, "temperature", json_real(1.0)));
    json_object_set_new(o, "reasoning", reasoning_field(c));
    json_object_set_new(o, "usage", usage ? usage : json_null());
    json_object_set_new(o, "max_output_tokens", echo(c, "max_output_tokens", NULL));
    json_object_set_new(o, "max_tool_calls", json_null());
    json_object_set_new(o, "store", json_false());
    json_object_set_new(o, "background", json_false());
    json_object_set_new(o, "service_tier", json_string("default"));
    json_object_set_new(o, "metadata", json_object());
    json_object_set_new(o, "safety_identifier", json_null());
    json_object_set_new(o, "prompt_cache_key", json_null());
    return o;
}

static json_t *reasoning_item(const struct rsp_conv *c, const char *text, size_t n)
{
    return json_pack("{s:s, s:s, s:[{s:s, s:s%}], s:s%}", "id", c->rs_id, "type", "reasoning",
                     "summary", "type", "summary_text", "text", text, n, "encrypted_content", text,
                     n);
}

static json_t *text_part(const char *text, size_t n)
{
    return json_pack("{s:s, s:s%, s:[], s:[]}", "type", "output_text", "text", text ? text : "", n,
                     "annotations", "logprobs");
}

static json_t *message_item(const struct rsp_conv *c, const char *status, const char *text,
                            size_t n)
{
    json_t *m = json_pack("{s:s, s:s, s:s, s:s}", "id", c->msg_id, "type", "message", "status",
                          status, "role", "assistant");
    if (m)
        json_object_set_new(m, "content",
                            text ? json_pack("[o]", text_part(text, n)) : json_array());
    return m;
}

/* A native tool call as a function_call item (arguments as a JSON string). */
static json_t *call_item(const struct rsp_conv *c, const json_t *tc, size_t i, const char *status,
                         int with_args)
{
    const json_t *fn = json_object_get(tc, "function");
    const char *cid = json_string_value(json_object_get(tc, "id"));
    const char *name = json_string_value(json_object_get(fn, "name"));
    char id[64];
    struct buf args;
    json_t *o;
    snprintf(id, sizeof(id), "fc_%s_%zu", c->id + 5, i);
    buf_init(&args, 16u << 20);
    if (!with_args ||
        json_go_encode(json_object_get(fn, "arguments"), JSON_GO_SORT_KEYS, &args) != 0)
        buf_reset(&args);
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "type", "function_call", "status",
                  status, "call_id", cid ? cid : "", "name", name ? name : "", "arguments",
                  args.n ? buf_str(&args) : (with_args ? "{}" : ""));
    buf_fini(&args);
    return o;
}

json_t *rsp_conv_final(struct rsp_conv *c, const json_t *native)
{
    const json_t *msg = json_object_get(native, "message"), *calls, *tc;
    const json_t *content = json_object_get(msg, "content"), *thinking;
    const char *reason = json_string_value(json_object_get(native, "done_reason"));
    json_t *output = json_array();
    size_t i;
    if (!output)
        return NULL;
    thinking = json_object_get(msg, "thinking");
    calls = json_object_get(msg, "tool_calls");
    if (json_string_length(thinking) > 0)
        json_array_append_new(
            output, reasoning_item(c, json_string_value(thinking), json_string_length(thinking)));
    if (json_string_length(content) > 0 || json_array_size(calls) == 0)
        json_array_append_new(
            output, message_item(c, "completed",
                                 json_string_value(content) ? json_string_value(content) : "",
                                 json_string_length(content)));
    json_array_foreach((json_t *)calls, i, tc)
        json_array_append_new(output, call_item(c, tc, i, "completed", 1));
    return response_obj(c, reason && !strcmp(reason, "length") ? "incomplete" : "completed", output,
                        usage_out(native));
}

/* ---- stream -------------------------------------------------------------------------------- */

/* Appends one event: {type, sequence_number, <fields of body>}; body is taken. */
static int event(struct rsp_conv *c, const char *type, json_t *body, struct buf *out)
{
    json_t *o = json_pack("{s:s, s:I}", "type", type, "sequence_number", (json_int_t)c->seq++);
    int rc;
    if (!o || !body) {
        json_decref(o);
        json_decref(body);
        return E_NOMEM;
    }
    json_object_update(o, body);
    json_decref(body);
    rc = msgs_sse_event(type, o, out);
    json_decref(o);
    return rc;
}

static int reasoning_done(struct rsp_conv *c, struct buf *out)
{
    int rc;
    if (c->reasoning != 1)
        return 0;
    c->reasoning = 2;
    rc = event(c, "response.reasoning_summary_text.done",
               json_pack("{s:s, s:i, s:i, s:s%}", "item_id", c->rs_id, "output_index", c->out_index,
                         "summary_index", 0, "text", buf_str(&c->think), c->think.n),
               out);
    if (!rc)
        rc = event(c, "response.output_item.done",
                   json_pack("{s:i, s:o}", "output_index", c->out_index, "item",
                             reasoning_item(c, buf_str(&c->think), c->think.n)),
                   out);
    c->out_index++;
    return rc;
}

static int text_done(struct rsp_conv *c, struct buf *out)
{
    const char *t = buf_str(&c->text);
    int rc;
    if (!c->text_open)
        return 0;
    c->text_open = 0;
    rc = event(c, "response.output_text.done",
               json_pack("{s:s, s:i, s:i, s:s%, s:[]}", "item_id", c->msg_id, "output_index",
                         c->out_index, "content_index", 0, "text", t, c->text.n, "logprobs"),
               out);
    if (!rc)
        rc = event(c, "response.content_part.done",
                   json_pack("{s:s, s:i, s:i, s:o}", "item_id", c->msg_id, "output_index",
                             c->out_index, "content_index", 0, "part", text_part(t, c->text.n)),
                   out);
    if (!rc)
        rc = event(c, "response.output_item.done",
                   json_pack("{s:i, s:o}", "output_index", c->out_index, "item",
                             message_item(c, "completed", t, c->text.n)),
                   out);
    c->out_index++;
    return rc;
}

static int thinking_line(struct rsp_conv *c, const char *s, size_t n, struct buf *out)
{
    int rc;
    if (c->reasoning == 0) {
        c->reasoning = 1;
        if ((rc = event(c, "response.output_item.added",
                        json_pack("{s:i, s:{s:s, s:s, s:[]}}", "output_index", c->out_index, "item",
                                  "id", c->rs_id, "type", "reasoning", "summary"),
                        out)) != 0)
            return rc;
    }
    if ((rc = buf_append(&c->think, s, n)) != 0)
        return rc;
    return event(c, "response.reasoning_summary_text.delta",
                 json_pack("{s:s, s:i, s:i, s:s%}", "item_id", c->rs_id, "output_index",
                           c->out_index, "summary_index", 0, "delta", s, n),
                 out);
}

static int text_line(struct rsp_conv *c, const char *s, size_t n, struct buf *out)
{
    int rc;
    if ((rc = reasoning_done(c, out)) != 0)
        return rc;
    if (!c->text_open) {
        c->text_open = 1;
        if ((rc = event(c, "response.output_item.added",
                        json_pack("{s:i, s:o}", "output_index", c->out_index, "item",
                                  message_item(c, "in_progress", NULL, 0)),
                        out)) != 0 ||
            (rc = event(c, "response.content_part.added",
                        json_pack("{s:s, s:i, s:i, s:o}", "item_id", c->msg_id, "output_index",
                                  c->out_index, "content_index", 0, "part", text_part("", 0)),
                        out)) != 0)
            return rc;
    }
    if ((rc = buf_append(&c->text, s, n)) != 0)
        return rc;
    return event(c, "response.output_text.delta",
                 json_pack("{s:s, s:i, s:i, s:s%, s:[]}", "item_id", c->msg_id, "output_index",
                           c->out_index, "content_index", 0, "delta", s, n, "logprobs"),
                 out);
}

static int calls_line(struct rsp_conv *c, const json_t *calls, struct buf *out)
{
    const json_t *tc;
    size_t i;
    int rc;
    if ((rc = reasoning_done(c, out)) != 0 || (rc = text_done(c, out)) != 0)
        return rc;
    json_array_foreach((json_t *)calls, i, tc)
    {
        size_t k = json_array_size(c->calls);
        json_t *item = call_item(c, tc, k, "completed", 1);
        const char *id = json_string_value(json_object_get(item, "id"));
        const char *args = json_string_value(json_object_get(item, "arguments"));
        if (!item)
            return E_NOMEM;
        json_array_append_new(c->calls, item);
        if ((rc = event(c, "response.output_item.added",
                        json_pack("{s:i, s:o}", "output_index", c->out_index, "item",
                                  call_item(c, tc, k, "in_progress", 0)),
                        out)) != 0 ||
            (rc = event(c, "response.function_call_arguments.delta",
                        json_pack("{s:s, s:i, s:s}", "item_id", id, "output_index", c->out_index,
                                  "delta", args),
                        out)) != 0 ||
            (rc = event(c, "response.function_call_arguments.done",
                        json_pack("{s:s, s:i, s:s}", "item_id", id, "output_index", c->out_index,
                                  "arguments", args),
                        out)) != 0 ||
            (rc = event(c, "response.output_item.done",
                        json_pack("{s:i, s:O}", "output_index", c->out_index, "item", item),
                        out)) != 0)
            return rc;
        c->out_index++;
    }
    return 0;
}

/* The output items of a finished stream, in the order they were streamed. */
static json_t *stream_output(const struct rsp_conv *c)
{
    json_t *output = json_array();
    if (!output)
        return NULL;
    if (c->reasoning)
        json_array_append_new(output, reasoning_item(c, buf_str(&c->think), c->think.n));
    if (c->text.n)
        json_array_append_new(output, message_item(c, "completed", buf_str(&c->text), c->text.n));
    json_array_extend(output, c->calls);
    return output;
}

int rsp_conv_line(struct rsp_conv *c, const json_t *native, struct buf *out)
{
    const json_t *msg = json_object_get(native, "message"), *err, *calls;
    const json_t *content = json_object_get(msg, "content"), *thinking;
    const char *reason, *status;
    int rc;
    if (!json_is_object(native))
        return E_PARSE;
    if ((err = json_object_get(native, "error")) != NULL)
        return event(c, "error",
                     json_pack("{s:n, s:s, s:n}", "code", "message",
                               json_is_string(err) ? json_string_value(err) : "error", "param"),
                     out);
    if (c->done)
        return 0;
    if (!c->started) {
        c->started = 1;
        if ((rc = event(c, "response.created",
                        json_pack("{s:o}", "response", response_obj(c, "in_progress", NULL, NULL)),
                        out)) != 0 ||
            (rc = event(c, "response.in_progress",
                        json_pack("{s:o}", "response", response_obj(c, "in_progress", NULL, NULL)),
                        out)) != 0)
            return rc;
    }
    thinking = json_object_get(msg, "thinking");
    if (json_string_length(thinking) > 0 && c->reasoning != 2 && !c->text_open &&
        (rc = thinking_line(c, json_string_value(thinking), json_string_length(thinking), out)) !=
            0)
        return rc;
    if (json_string_length(content) > 0 &&
        (rc = text_line(c, json_string_value(content), json_string_length(content), out)) != 0)
        return rc;
    calls = json_object_get(msg, "tool_calls");
    if (json_array_size(calls) > 0 && (rc = calls_line(c, calls, out)) != 0)
        return rc;
    if (!json_is_true(json_object_get(native, "done")))
        return 0;
    c->done = 1;
    if ((rc = reasoning_done(c, out)) != 0 || (rc = text_done(c, out)) != 0)
        return rc;
    reason = json_string_value(json_object_get(native, "done_reason"));
    status = reason && !strcmp(reason, "length") ? "incomplete" : "completed";
    return event(c, !strcmp(status, "incomplete") ? "response.incomplete" : "response.completed",
                 json_pack("{s:o}", "response",
                           response_obj(c, status, stream_output(c), usage_out(native))),
                 out);
}

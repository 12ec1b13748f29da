/*
 * api_openai.c - pure translation between OpenAI request/response objects and the native chat /
 * generate shapes (see api_openai.h).  Requests: messages with string or part-array content
 * (text, base64 data-URI images), assistant tool_calls whose arguments are JSON strings, tool
 * messages named from the call id, sampling fields mapped to options with OpenAI's defaults
 * (temperature and top_p 1.0), response_format to format, reasoning effort to think.
 * Responses: Ollama's field order (Go struct order) for chat.completion(.chunk) and
 * text_completion objects, finish_reason rules, usage from the native counts.
 *
 * Owns nothing beyond the json_t objects it returns.
 */
#include "api/api_openai.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json.h"
#include "common/mem.h"

/* ---- typed field access with Go decoder messages ----------------------------------------- */

static const json_t *field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

static int go_type_err(struct err_info *ei, const json_t *v, const char *strct, const char *key,
                       const char *gotype)
{
    if (json_is_number(v))
        return err_set(ei, E_INVAL,
                       "json: cannot unmarshal number %g into Go struct field %s.%s of type %s",
                       json_number_value(v), strct, key, gotype);
    return err_set(ei, E_INVAL, "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
                   json_type_name(v), strct, key, gotype);
}

/* Optional string field; *out stays untouched when absent. */
static int get_str(const json_t *o, const char *strct, const char *key, const char **out,
                   struct err_info *ei)
{
    const json_t *v = field(o, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return go_type_err(ei, v, strct, key, "string");
    *out = json_string_value(v);
    return 0;
}

/* Optional integer field (Go *int: reals are an error); *set is 1 when present. */
static int get_int(const json_t *o, const char *strct, const char *key, json_int_t *out, int *set,
                   struct err_info *ei)
{
    const json_t *v = field(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return go_type_err(ei, v, strct, key, "int");
    *out = json_integer_value(v);
    *set = 1;
    return 0;
}

/* Optional number copied into options[name] (or the default when absent and dflt >= 0). */
static int put_num(const json_t *o, const char *strct, const char *key, json_t *opts,
                   const char *name, double dflt, struct err_info *ei)
{
    const json_t *v = field(o, key);
    if (v && !json_is_number(v))
        return go_type_err(ei, v, strct, key, "float64");
    if (v)
        json_object_set_new(opts, name, json_real(json_number_value(v)));
    else if (dflt >= 0)
        json_object_set_new(opts, name, json_real(dflt));
    return 0;
}

static int get_bool(const json_t *o, const char *strct, const char *key, int *out,
                    struct err_info *ei)
{
    const json_t *v = field(o, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return go_type_err(ei, v, strct, key, "bool");
    *out = json_is_true(v);
    return 0;
}

/* ---- messages ------------------------------------------------------------------------------ */

/* OpenAI tool_calls (arguments as JSON strings) -> native ones (arguments as objects). */
static int tool_calls_in(const json_t *calls, json_t **out, struct err_info *ei)
{
    json_t *arr = json_array(), *tc;
    size_t i;
    if (!arr)
        return E_NOMEM;
    if (!json_is_array(calls)) {
        json_decref(arr);
        return err_set(ei, E_INVAL, "invalid tool call arguments");
    }
    json_array_foreach((json_t *)calls, i, tc)
    {
        const json_t *fn = json_object_get(tc, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        json_t *a = args ? json_loads(args, JSON_DECODE_ANY, NULL) : NULL, *nf;
        if (!a || !json_is_object(a)) {
            json_decref(a);
            json_decref(arr);
            return err_set(ei, E_INVAL, "invalid tool call arguments");
        }
        nf = json_pack("{s:s, s:o}", "name", name ? name : "", "arguments", a);
        json_array_append_new(arr, json_pack("{s:o*}", "function", nf));
    }
    *out = arr;
    return 0;
}

/* id -> function name of every assistant tool call (a later call with the same id wins), so a
 * tool message finds its name in one look-up however long the conversation. */
static json_t *call_names(const json_t *msgs)
{
    json_t *ids = json_object(), *m, *tc;
    size_t i, k;
    if (!ids)
        return NULL;
    json_array_foreach((json_t *)msgs, i, m)
    {
        json_array_foreach(json_object_get(m, "tool_calls"), k, tc)
        {
            const char *cid = json_string_value(json_object_get(tc, "id"));
            json_t *name = json_object_get(json_object_get(tc, "function"), "name");
            if (cid && json_is_string(name))
                json_object_set(ids, cid, name);
        }
    }
    return ids;
}

static int b64_valid(const char *s, size_t n)
{
    size_t pad = 0;
    if (n % 4 != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '=') {
            if (++pad > 2)
                return 0;
            continue;
        }
        if (pad || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
            return 0;
    }
    return 1;
}

/* The base64 payload of an image part (data URI of an accepted type). */
static int image_part(const json_t *part, const char **b64, struct err_info *ei)
{
    static const char *const prefixes[] = {"data:;base64,", "data:image/jpeg;base64,",
                                           "data:image/jpg;base64,", "data:image/png;base64,",
                                           "data:image/webp;base64,"};
    const json_t *iu = json_object_get(part, "image_url");
    const char *url =
        json_is_object(iu) ? json_string_value(json_object_get(iu, "url")) : json_string_value(iu);
    if (!url)
        return err_set(ei, E_INVAL, "invalid message format");
    if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8))
        return err_set(ei, E_INVAL,
                       "image URLs are not currently supported, please use base64 "
                       "encoded data instead");
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]), n;
        if (strncmp(url, prefixes[i], pl) != 0)
            continue;
        n = strlen(url + pl);
        if (n > OAI_MAX_IMAGE_B64 || !b64_valid(url + pl, n))
            return err_set(ei, E_INVAL, "invalid message format");
        *b64 = url + pl;
        return 0;
    }
    return err_set(ei, E_INVAL, "invalid image input");
}

/* A native message {role, content?, images?, thinking?, tool_calls?, tool_name?}. */
static json_t *native_msg(const char *role, const char *content, const char *image)
{
    json_t *m = json_pack("{s:s}", "role", role);
    if (m && content)
        json_object_set_new(m, "content", json_string(content));
    if (m && image)
        json_object_set_new(m, "images", json_pack("[s]", image));
    return m;
}

/* Appends one message per content part (text / image) of an array content. */
static int parts_in(const char *role, const json_t *parts, json_t *out, struct err_info *ei)
{
    size_t i;
    json_t *p;
    if (json_array_size(parts) > OAI_MAX_PARTS)
        return err_set(ei, E_INVAL, "too many content parts");
    json_array_foreach((json_t *)parts, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type")), *s = NULL;
        int rc;
        if (!json_is_object(p) || !type)
            return err_set(ei, E_INVAL, "invalid message format");
        if (!strcmp(type, "text")) {
            if (!(s = json_string_value(json_object_get(p, "text"))))
                return err_set(ei, E_INVAL, "invalid message format");
            json_array_append_new(out, native_msg(role, s, NULL));
        } else if (!strcmp(type, "image_url")) {
            if ((rc = image_part(p, &s, ei)) != 0)
                return rc;
            json_array_append_new(out, native_msg(role, "", s));
        } else {
            return err_set(ei, E_INVAL, "invalid message format");
        }
    }
    return 0;
}

/* Adds thinking / tool_calls / tool_name of an OpenAI message to the native message m. */
static int msg_extras(const json_t *msg, const json_t *ids, const char *role, json_t *m,
                      struct err_info *ei)
{
    const char *reasoning = json_string_value(json_object_get(msg, "reasoning"));
    const json_t *calls = field(msg, "tool_calls");
    const char *tool_name = NULL;
    json_t *nc = NULL;
    int rc;
    if (!strcasecmp(role, "tool")) {
        const char *id = json_string_value(json_object_get(msg, "tool_call_id"));
        tool_name = json_string_value(json_object_get(msg, "name"));
        if ((!tool_name || !*tool_name) && id && *id)
            tool_name = json_string_value(json_object_get(ids, id));
    }
    if (reasoning && *reasoning)
        json_object_set_new(m, "thinking", json_string(reasoning));
    if (calls && json_array_size(calls) > 0) {
        if ((rc = tool_calls_in(calls, &nc, ei)) != 0)
            return rc;
        json_object_set_new(m, "tool_calls", nc);
    }
    if (tool_name && *tool_name)
        json_object_set_new(m, "tool_name", json_string(tool_name));
    return 0;
}

static const char *go_type_of(const json_t *v)
{
    if (!v || json_is_null(v))
        return "<nil>";
    if (json_is_number(v))
        return "float64";
    if (json_is_boolean(v))
        return "bool";
    return "map[string]interface {}";
}

static int message_in(const json_t *msg, const json_t *ids, json_t *out, struct err_info *ei)
{
    const json_t *content = json_object_get(msg, "content");
    const char *role = json_string_value(json_object_get(msg, "role"));
    size_t before = json_array_size(out);
    int rc;
    if (!json_is_object(msg))
        return go_type_err(ei, msg, "ChatCompletionRequest", "messages", "openai.Message");
    if (!role)
        role = "";
    if (json_is_string(content)) {
        json_array_append_new(out, native_msg(role, json_string_value(content), NULL));
    } else if (json_is_array(content)) {
        if ((rc = parts_in(role, content, out, ei)) != 0)
            return rc;
        if (json_array_size(out) == before)
            return 0; /* no parts: nothing to attach extras to */
    } else {
        if (!field(msg, "tool_calls"))
            return err_set(ei, E_INVAL, "invalid message content type: %s", go_type_of(content));
        json_array_append_new(out, native_msg(role, NULL, NULL));
    }
    return msg_extras(msg, ids, role, json_array_get(out, json_array_size(out) - 1), ei);
}

static int messages_in(const json_t *in, json_t *body, struct err_info *ei)
{
    const json_t *msgs = field(in, "messages");
    json_t *out, *ids;
    size_t i;
    json_t *m;
    int rc = 0;
    if (msgs && !json_is_array(msgs))
        return go_type_err(ei, msgs, "ChatCompletionRequest", "messages", "[]openai.Message");
    if (json_array_size(msgs) == 0)
        return err_set(ei, E_INVAL, "[] is too short - 'messages'");
    if (!(out = json_array()))
        return E_NOMEM;
    json_object_set_new(body, "messages", out);
    if (!(ids = call_names(msgs)))
        return E_NOMEM;
    json_array_foreach((json_t *)msgs, i, m)
    {
        if ((rc = message_in(m, ids, out, ei)) != 0)
            break;
    }
    json_decref(ids);
    return rc;
}

/* ---- options ------------------------------------------------------------------------------- */

/* stop: a string or a list (non-strings skipped for chat, an error for completions). */
static int stop_in(const json_t *in, int strict, json_t *opts, struct err_info *ei)
{
    const json_t *stop = field(in, "stop");
    json_t *arr, *s;
    size_t i;
    if (json_is_string(stop)) {
        json_object_set_new(opts, "stop", json_pack("[O]", stop));
        return 0;
    }
    if (!json_is_array(stop))
        return 0;
    if (json_array_size(stop) > OAI_MAX_STOPS)
        return err_set(ei, E_INVAL, "too many stop sequences");
    if (!(arr = json_array()))
        return E_NOMEM;
    json_array_foreach((json_t *)stop, i, s)
    {
        if (json_is_string(s)) {
            json_array_append(arr, s);
        } else if (strict) {
            json_decref(arr);
            return err_set(ei, E_INVAL, "invalid type for 'stop' field: %s", go_type_of(s));
        }
    }
    json_object_set_new(opts, "stop", arr);
    return 0;
}

static int ints_in(const json_t *in, const char *strct, json_t *opts, struct err_info *ei)
{
    json_int_t v = 0, mct = 0;
    int set = 0, mct_set = 0, rc;
    if ((rc = get_int(in, strct, "max_tokens", &v, &set, ei)) != 0 ||
        (rc = get_int(in, strct, "max_completion_tokens", &mct, &mct_set, ei)) != 0)
        return rc;
    if (mct_set)
        v = mct, set = 1;
    if (set)
        json_object_set_new(opts, "num_predict", json_integer(v));
    set = 0;
    if ((rc = get_int(in, strct, "seed", &v, &set, ei)) != 0)
        return rc;
    if (set)
        json_object_set_new(opts, "seed", json_integer(v));
    return 0;
}

/* Options common to chat and completions; OpenAI's defaults for temperature and top_p. */
static int options_in(const json_t *in, const char *strct, int completion, json_t **out,
                      struct err_info *ei)
{
    json_t *opts = json_object();
    const json_t *tp = field(in, "top_p");
    int rc;
    if (!opts)
        return E_NOMEM;
    rc = stop_in(in, completion, opts, ei);
    if (!rc)
        rc = ints_in(in, strct, opts, ei);
    if (!rc)
        rc = put_num(in, strct, "temperature", opts, "temperature", 1.0, ei);
    if (!rc)
        rc = put_num(in, strct, "frequency_penalty", opts, "frequency_penalty",
                     completion ? 0.0 : -1.0, ei);
    if (!rc)
        rc = put_num(in, strct, "presence_penalty", opts, "presence_penalty",
                     completion ? 0.0 : -1.0, ei);
    /* completions: top_p 0 means unset (a plain float32 in Ollama's struct) */
    if (!rc && completion && json_is_number(tp) && json_number_value(tp) == 0.0)
        json_object_set_new(opts, "top_p", json_real(1.0));
    else if (!rc)
        rc = put_num(in, strct, "top_p", opts, "top_p", 1.0, ei);
    if (rc) {
        json_decref(opts);
        return rc;
    }
    *out = opts;
    return 0;
}

static int format_in(const json_t *in, json_t *body, struct err_info *ei)
{
    const json_t *rf = field(in, "response_format"), *js;
    const char *type = NULL;
    char t[32];
    size_t n = 0;
    int rc;
    if (!rf)
        return 0;
    if (!json_is_object(rf))
        return go_type_err(ei, rf, "ChatCompletionRequest", "response_format",
                           "openai.ResponseFormat");
    if ((rc = get_str(rf, "ChatCompletionRequest.response_format", "type", &type, ei)) != 0)
        return rc;
    while (type && *type == ' ')
        type++;
    for (; type && type[n] && type[n] != ' ' && n + 1 < sizeof(t); n++)
        t[n] = (char)(type[n] >= 'A' && type[n] <= 'Z' ? type[n] + 32 : type[n]);
    t[n] = '\0';
    if (!strcmp(t, "json_object")) {
        json_object_set_new(body, "format", json_string("json"));
    } else if (!strcmp(t, "json_schema")) {
        js = field(rf, "json_schema");
        if (js && field(js, "schema"))
            json_object_set(body, "format", json_object_get(js, "schema"));
    }
    return 0;
}

/* reasoning.effort / reasoning_effort -> think (none: false; minimal: low; xhigh|ultra: max). */
static int think_in(const json_t *in, json_t *body, struct err_info *ei)
{
    static const char *const ok[] = {"low", "medium", "high", "max"};
    const json_t *r = field(in, "reasoning");
    const char *effort = NULL;
    int rc;
    if (r && json_is_object(r))
        rc = get_str(r, "ChatCompletionRequest.reasoning", "effort", &effort, ei);
    else
        rc = get_str(in, "ChatCompletionRequest", "reasoning_effort", &effort, ei);
    if (rc || !effort || !*effort)
        return rc;
    if (!strcmp(effort, "none")) {
        json_object_set_new(body, "think", json_false());
        return 0;
    }
    if (!strcmp(effort, "minimal"))
        effort = "low";
    else if (!strcmp(effort, "xhigh") || !strcmp(effort, "ultra"))
        effort = "max";
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!strcmp(effort, ok[i])) {
            json_object_set_new(body, "think", json_string(effort));
            return 0;
        }
    }
    return err_set(ei, E_INVAL,
                   "invalid reasoning value: '%s' (must be \"high\", \"medium\", \"low\", or "
                   "\"none\")",
                   effort);
}

/* model and stream, common to both requests. */
static int head_in(const json_t *in, const char *strct, json_t *body, int *stream,
                   struct err_info *ei)
{
    const char *model = NULL;
    const json_t *so = field(in, "stream_options");
    int rc, usage = 0;
    *stream = 0;
    if ((rc = get_str(in, strct, "model", &model, ei)) != 0 ||
        (rc = get_bool(in, strct, "stream", stream, ei)) != 0)
        return rc;
    if (so && !json_is_object(so))
        return go_type_err(ei, so, strct, "stream_options", "openai.StreamOptions");
    if (so && (rc = get_bool(so, "StreamOptions", "include_usage", &usage, ei)) != 0)
        return rc;
    if (model)
        json_object_set_new(body, "model", json_string(model));
    return 0;
}

/* Chat: logprobs (*bool) and top_logprobs (int) pass through; the native handler checks the
 * range (400 "top_logprobs must be between 0 and 20").  Completions: logprobs (*int) n > 0
 * means logprobs with n alternatives, as Ollama translates it. */
static int logprobs_in(const json_t *in, const char *strct, int completion, json_t *body,
                       struct err_info *ei)
{
    json_int_t top = 0;
    int rc, on = 0, set = 0;
    if (completion) {
        if ((rc = get_int(in, strct, "logprobs", &top, &set, ei)) != 0)
            return rc;
        on = set && top > 0;
    } else if ((rc = get_bool(in, strct, "logprobs", &on, ei)) != 0 ||
               (rc = get_int(in, strct, "top_logprobs", &top, &set, ei)) != 0) {
        return rc;
    }
    if (on)
        json_object_set_new(body, "logprobs", json_true());
    if (on || (!completion && set))
        json_object_set_new(body, "top_logprobs", json_integer(top));
    return 0;
}

int oai_chat_request(const json_t *in, json_t **out, struct err_info *ei)
{
    const char *S = "ChatCompletionRequest";
    const json_t *tools = field(in, "tools");
    json_t *body = json_object(), *opts = NULL;
    int rc, stream = 0;
    if (!body)
        return E_NOMEM;
    if (!json_is_object(in)) {
        rc = err_set(ei, E_INVAL, "invalid request");
        goto out;
    }
    if ((rc = head_in(in, S, body, &stream, ei)) != 0 || (rc = messages_in(in, body, ei)) != 0 ||
        (rc = format_in(in, body, ei)) != 0 || (rc = options_in(in, S, 0, &opts, ei)) != 0)
        goto out;
    json_object_set_new(body, "options", opts);
    json_object_set_new(body, "stream", json_boolean(stream));
    if (tools && !json_is_array(tools)) {
        rc = go_type_err(ei, tools, S, "tools", "[]api.Tool");
        goto out;
    }
    if (json_array_size(tools) > 0)
        json_object_set(body, "tools", (json_t *)tools);
    if ((rc = think_in(in, body, ei)) != 0 || (rc = logprobs_in(in, S, 0, body, ei)) != 0)
        goto out;
    *out = body;
    body = NULL;
out:
    json_decref(body);
    return rc;
}

int oai_completion_request(const json_t *in, json_t **out, struct err_info *ei)
{
    const char *S = "CompletionRequest", *prompt = "", *suffix = "";
    json_t *body = json_object(), *opts = NULL;
    int rc, stream = 0;
    if (!body)
        return E_NOMEM;
    if (!json_is_object(in)) {
        rc = err_set(ei, E_INVAL, "invalid request");
        goto out;
    }
    if ((rc = head_in(in, S, body, &stream, ei)) != 0 ||
        (rc = get_str(in, S, "prompt", &prompt, ei)) != 0 ||
        (rc = get_str(in, S, "suffix", &suffix, ei)) != 0 ||
        (rc = options_in(in, S, 1, &opts, ei)) != 0)
        goto out;
    json_object_set_new(body, "prompt", json_string(prompt));
    if (*suffix)
        json_object_set_new(body, "suffix", json_string(suffix));
    json_object_set_new(body, "options", opts);
    json_object_set_new(body, "stream", json_boolean(stream));
    if ((rc = logprobs_in(in, S, 1, body, ei)) != 0)
        goto out;
    *out = body;
    body = NULL;
out:
    json_decref(body);
    return rc;
}

/* ---- responses ----------------------------------------------------------------------------- */

json_t *oai_error_body(int status, const char *msg)
{
    const char *type = status == 400   ? "invalid_request_error"
                       : status == 404 ? "not_found_error"
                                       : "api_error";
    return json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", msg ? msg : "", "type", type,
                     "param", "code");
}

void oai_conv_init(struct oai_conv *c, enum oai_kind kind, int include_usage)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->created = (int64_t)ts.tv_sec;
    c->include_usage = include_usage;
    snprintf(c->id, sizeof(c->id), "%s-%u", kind == OAI_CHAT ? "chatcmpl" : "cmpl",
             (unsigned)((unsigned long)ts.tv_nsec / 1000u % 999u));
}

int oai_sse_event(const json_t *v, struct buf *out)
{
    int rc;
    if (!v)
        return E_NOMEM;
    if ((rc = buf_puts(out, "data: ")) != 0 || (rc = json_go_encode(v, 0, out)) != 0)
        return rc;
    return buf_puts(out, "\n\n");
}

/* Appends v as an event and drops it. */
static int event(json_t *v, struct buf *out)
{
    int rc = oai_sse_event(v, out);
    json_decref(v);
    return rc;
}

static json_int_t count(const json_t *native, const char *key)
{
    return json_integer_value(json_object_get(native, key));
}

static json_t *usage(const json_t *native)
{
    json_int_t p = count(native, "prompt_eval_count"), e = count(native, "eval_count");
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", p, "completion_tokens", e, "total_tokens",
                     p + e);
}

/* Native tool calls -> OpenAI ones (arguments as a JSON string, Go map key order). */
static json_t *tool_calls_out(const json_t *calls)
{
    json_t *arr = json_array(), *tc;
    size_t i;
    json_array_foreach((json_t *)calls, i, tc)
    {
        const json_t *fn = json_object_get(tc, "function");
        const char *id = json_string_value(json_object_get(tc, "id"));
        struct buf args;
        json_t *o;
        buf_init(&args, 16u << 20);
        if (json_go_encode(json_object_get(fn, "arguments"), JSON_GO_SORT_KEYS, &args) != 0)
            buf_reset(&args);
        o = json_pack("{s:s, s:I, s:s, s:{s:s, s:s}}", "id", id ? id : "", "index",
                      json_integer_value(json_object_get(fn, "index")), "type", "function",
                      "function", "name",
                      json_string_value(json_object_get(fn, "name"))
                          ? json_string_value(json_object_get(fn, "name"))
                          : "",
                      "arguments", args.n ? buf_str(&args) : "{}");
        buf_fini(&args);
        json_array_append_new(arr, o);
    }
    return arr;
}

/* {id, object, created, model, system_fingerprint} in Go field order. */
static json_t *head_out(const struct oai_conv *c, const char *object, const json_t *native)
{
    const char *model = json_string_value(json_object_get(native, "model"));
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", c->id, "object", object, "created",
                     (json_int_t)c->created, "model", model ? model : "", "system_fingerprint",
                     "fp_ollama");
}

/* Ollama's ChoiceLogprobs {"content":[native entries]} for a native line, NULL when it has none
 * (omitempty). */
static json_t *chat_logprobs(const json_t *native)
{
    const json_t *lp = json_object_get(native, "logprobs");
    return json_array_size(lp) > 0 ? json_pack("{s:O}", "content", lp) : NULL;
}

/* OpenAI's legacy completion logprobs for the native entries of one line:
 * {"tokens", "token_logprobs", "top_logprobs":[{token: logprob}], "text_offset"}, offsets in
 * characters of the generated text (running across a stream in *off).  NULL when none. */
static json_t *cmpl_logprobs(const json_t *native, int64_t *off)
{
    const json_t *lp = json_object_get(native, "logprobs"), *e;
    json_t *toks, *lps, *tops, *offs, *o;
    size_t i;
    if (json_array_size(lp) == 0)
        return NULL;
    o = json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs",
                  "text_offset");
    if (!o)
        return NULL;
    toks = json_object_get(o, "tokens");
    lps = json_object_get(o, "token_logprobs");
    tops = json_object_get(o, "top_logprobs");
    offs = json_object_get(o, "text_offset");
    json_array_foreach(lp, i, e)
    {
        const json_t *tok = json_object_get(e, "token"), *alt;
        const char *t = json_string_value(tok);
        json_t *m = json_object();
        size_t k;
        json_array_append(toks, (json_t *)tok);
        json_array_append(lps, json_object_get(e, "logprob"));
        json_array_append_new(offs, json_integer(*off));
        json_array_foreach(json_object_get(e, "top_logprobs"), k, alt)
        {
            const char *at = json_string_value(json_object_get(alt, "token"));
            if (m && at && !json_object_get(m, at)) /* the likelier of equal texts */
                json_object_set(m, at, json_object_get(alt, "logprob"));
        }
        json_array_append_new(tops, m);
        for (; t && *t; t++) /* characters: UTF-8 lead bytes */
            *off += ((unsigned char)*t & 0xc0) != 0x80;
    }
    return o;
}

/* Sets choices[0].logprobs of a chunk (after finish_reason, Go field order) to *lp, which it
 * takes (then NULL); returns the chunk. */
static json_t *with_lp(json_t *chunk, json_t **lp)
{
    if (*lp) {
        json_t *ch = json_array_get(json_object_get(chunk, "choices"), 0);
        if (ch)
            json_object_set(ch, "logprobs", *lp);
        json_decref(*lp);
        *lp = NULL;
    }
    return chunk;
}

/* A chat.completion.chunk with one choice (delta, finish_reason or null). */
static json_t *chat_chunk(const struct oai_conv *c, const json_t *native, json_t *delta,
                          const char *finish)
{
    json_t *o = head_out(c, "chat.completion.chunk", native);
    json_t *ch = json_pack("{s:i, s:o, s:s*}", "index", 0, "delta", delta, "finish_reason", finish);
    if (!o || !ch) {
        json_decref(o);
        json_decref(ch);
        return NULL;
    }
    if (!json_object_get(ch, "finish_reason"))
        json_object_set_new(ch, "finish_reason", json_null());
    json_object_set_new(o, "choices", json_pack("[o]", ch));
    return o;
}

/* {"role":"assistant","content":s, ...} */
static json_t *delta(const char *content)
{
    return json_pack("{s:s, s:s}", "role", "assistant", "content", content ? content : "");
}

static int chat_line(struct oai_conv *c, const json_t *native, struct buf *out)
{
    const json_t *msg = json_object_get(native, "message");
    const char *content = json_string_value(json_object_get(msg, "content"));
    const char *thinking = json_string_value(json_object_get(msg, "thinking"));
    const json_t *calls = json_object_get(msg, "tool_calls");
    const char *reason = json_string_value(json_object_get(native, "done_reason"));
    json_t *d, *lp = chat_logprobs(native);
    int rc;
    /* logprobs ride on the line's first chunk (Ollama: the reasoning one when split), or on a
     * chunk of their own when the line has no text (held back by thinking/tool parsing) */
    if (thinking && *thinking) {
        d = delta("");
        json_object_set_new(d, "reasoning", json_string(thinking));
        if ((rc = event(with_lp(chat_chunk(c, native, d, NULL), &lp), out)) != 0)
            return rc;
    }
    if ((content && *content) || json_array_size(calls) > 0 || lp) {
        d = delta(content);
        if (json_array_size(calls) > 0) {
            json_object_set_new(d, "tool_calls", tool_calls_out(calls));
            c->tool_sent = 1;
        }
        if ((rc = event(with_lp(chat_chunk(c, native, d, NULL), &lp), out)) != 0)
            return rc;
    }
    if (!json_is_true(json_object_get(native, "done")))
        return 0;
    c->done = 1;
    if (!reason || !*reason)
        reason = "stop";
    if ((rc = event(chat_chunk(c, native, delta(""), c->tool_sent ? "tool_calls" : reason), out)) !=
        0)
        return rc;
    if (c->include_usage) {
        json_t *o = head_out(c, "chat.completion.chunk", native);
        if (o) {
            json_object_set_new(o, "choices", json_array());
            json_object_set_new(o, "usage", usage(native));
        }
        return event(o, out);
    }
    return 0;
}

/* A text_completion chunk: Ollama's CompletionChunk puts choices before model. */
static json_t *cmpl_chunk(const struct oai_conv *c, const json_t *native, const char *text,
                          const char *finish, int with_choice)
{
    const char *model = json_string_value(json_object_get(native, "model"));
    json_t *ch = json_pack("{s:s, s:i, s:s*}", "text", text ? text : "", "index", 0,
                           "finish_reason", finish);
    json_t *o = json_pack("{s:s, s:s, s:I}", "id", c->id, "object", "text_completion", "created",
                          (json_int_t)c->created);
    if (ch && !json_object_get(ch, "finish_reason"))
        json_object_set_new(ch, "finish_reason", json_null());
    if (!o || !ch) {
        json_decref(o);
        json_decref(ch);
        return NULL;
    }
    if (with_choice)
        json_object_set_new(o, "choices", json_pack("[o]", ch));
    else
        json_object_set_new(o, "choices", json_array()), json_decref(ch);
    json_object_set_new(o, "model", json_string(model ? model : ""));
    json_object_set_new(o, "system_fingerprint", json_string("fp_ollama"));
    return o;
}

static int cmpl_line(struct oai_conv *c, const json_t *native, struct buf *out)
{
    const char *text = json_string_value(json_object_get(native, "response"));
    const char *reason = json_string_value(json_object_get(native, "done_reason"));
    int done = json_is_true(json_object_get(native, "done")), rc;
    json_t *o, *lp = cmpl_logprobs(native, &c->text_off);
    if (!done)
        return (text && *text) || lp
                   ? event(with_lp(cmpl_chunk(c, native, text, NULL, 1), &lp), out)
                   : 0;
    c->done = 1;
    if ((rc = event(
             with_lp(cmpl_chunk(c, native, text, reason && *reason ? reason : "stop", 1), &lp),
             out)) != 0)
        return rc;
    if (!c->include_usage)
        return 0;
    if ((o = cmpl_chunk(c, native, "", NULL, 0)) != NULL)
        json_object_set_new(o, "usage", usage(native));
    return event(o, out);
}

int oai_conv_line(struct oai_conv *c, const json_t *native, struct buf *out)
{
    const json_t *err;
    if (!json_is_object(native))
        return E_PARSE;
    if ((err = json_object_get(native, "error")) != NULL)
        return event(oai_error_body(500, json_is_string(err) ? json_string_value(err) : "error"),
                     out);
    return c->kind == OAI_CHAT ? chat_line(c, native, out) : cmpl_line(c, native, out);
}

static json_t *chat_final(const struct oai_conv *c, const json_t *native)
{
    const json_t *msg = json_object_get(native, "message");
    const json_t *calls = json_object_get(msg, "tool_calls");
    const char *thinking = json_string_value(json_object_get(msg, "thinking"));
    const char *reason = json_string_value(json_object_get(native, "done_reason"));
    const char *content = json_string_value(json_object_get(msg, "content"));
    const char *role = json_string_value(json_object_get(msg, "role"));
    json_t *o = head_out(c, "chat.completion", native), *m, *ch, *lp;
    if (!o)
        return NULL;
    m = json_pack("{s:s, s:s}", "role", role ? role : "assistant", "content",
                  content ? content : "");
    if (m && thinking && *thinking)
        json_object_set_new(m, "reasoning", json_string(thinking));
    if (m && json_array_size(calls) > 0) {
        json_object_set_new(m, "tool_calls", tool_calls_out(calls));
        reason = "tool_calls";
    }
    ch = json_pack("{s:i, s:o, s:s*}", "index", 0, "message", m, "finish_reason",
                   reason && *reason ? reason : NULL);
    if (ch && !json_object_get(ch, "finish_reason"))
        json_object_set_new(ch, "finish_reason", json_null());
    if (ch && (lp = chat_logprobs(native)) != NULL)
        json_object_set_new(ch, "logprobs", lp);
    json_object_set_new(o, "choices", json_pack("[o*]", ch));
    json_object_set_new(o, "usage", usage(native));
    return o;
}

static json_t *cmpl_final(const struct oai_conv *c, const json_t *native)
{
    const char *text = json_string_value(json_object_get(native, "response"));
    const char *reason = json_string_value(json_object_get(native, "done_reason"));
    json_t *o = head_out(c, "text_completion", native), *lp;
    json_t *ch = json_pack("{s:s, s:i, s:s*}", "text", text ? text : "", "index", 0,
                           "finish_reason", reason && *reason ? reason : NULL);
    int64_t off = 0;
    if (ch && !json_object_get(ch, "finish_reason"))
        json_object_set_new(ch, "finish_reason", json_null());
    if (ch && (lp = cmpl_logprobs(native, &off)) != NULL)
        json_object_set_new(ch, "logprobs", lp);
    if (!o) {
        json_decref(ch);
        return NULL;
    }
    json_object_set_new(o, "choices", json_pack("[o*]", ch));
    json_object_set_new(o, "usage", usage(native));
    return o;
}

json_t *oai_conv_final(const struct oai_conv *c, const json_t *native)
{
    return c->kind == OAI_CHAT ? chat_final(c, native) : cmpl_final(c, native);
}

/* ---- embeddings ---------------------------------------------------------------------------- */

int oai_embed_request(const json_t *in, json_t **out, struct err_info *ei)
{
    const char *S = "EmbedRequest", *model = NULL;
    const json_t *input = field(in, "input");
    json_int_t dims = 0;
    int set = 0, rc;
    json_t *body;
    if (!json_is_object(in))
        return err_set(ei, E_INVAL, "invalid request");
    if ((rc = get_str(in, S, "model", &model, ei)) != 0 ||
        (rc = get_int(in, S, "dimensions", &dims, &set, ei)) != 0)
        return rc;
    if (!input || (json_is_array(input) && json_array_size(input) == 0))
        return err_set(ei, E_INVAL, "invalid input");
    if (!(body = json_object()))
        return E_NOMEM;
    if (model)
        json_object_set_new(body, "model", json_string(model));
    if (json_is_string(input) && json_string_length(input) == 0)
        json_object_set_new(body, "input", json_pack("[s]", ""));
    else
        json_object_set(body, "input", (json_t *)input);
    if (set && dims > 0)
        json_object_set_new(body, "dimensions", json_integer(dims));
    *out = body;
    return 0;
}

/* One vector as base64 of little-endian float32 values. */
static json_t *vector_b64(const json_t *vec)
{
    size_t n = json_array_size(vec);
    float *f = n ? mem_calloc(n, sizeof(float)) : NULL;
    struct buf b;
    json_t *s = NULL;
    if (n && !f)
        return NULL;
    for (size_t i = 0; i < n; i++)
        f[i] = (float)json_number_value(json_array_get(vec, i));
    buf_init(&b, (n + 3) * 8);
    if (api_embed_b64(f, n, &b) == 0)
        s = json_stringn(b.p ? b.p : "", b.n);
    buf_fini(&b);
    mem_free(f);
    return s;
}

json_t *oai_embed_list(const json_t *native, const char *model, int b64)
{
    const json_t *vecs = json_object_get(native, "embeddings");
    json_int_t p = count(native, "prompt_eval_count");
    json_t *data = json_array(), *v;
    size_t i;
    if (!data)
        return NULL;
    json_array_foreach((json_t *)vecs, i, v)
    {
        json_t *e = b64 ? vector_b64(v) : json_incref(v);
        json_array_append_new(data, json_pack("{s:s, s:o*, s:I}", "object", "embedding",
                                              "embedding", e, "index", (json_int_t)i));
    }
    return json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model",
                     model ? model : "", "usage", "prompt_tokens", p, "total_tokens", p);
}

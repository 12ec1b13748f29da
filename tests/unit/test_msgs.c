/*
 * test_msgs.c - the Anthropic Messages and OpenAI Responses translations without sockets:
 * requests -> native /api/chat bodies byte for byte (system, blocks, tool use and results,
 * reasoning items, options, tools, thinking, format), the error messages, native final objects
 * -> message / response objects (field order, stop_reason / status mapping, usage), native
 * stream lines -> the SSE event sequences (types, block indices, sequence numbers, tool-call
 * blocks and items, error events), and both routes over an empty store (error shapes).
 */
#include "harness/test.h"
#include "harness/api_env.h"

#include "api/api.h"
#include "api/api_msgs.h"
#include "common/json.h"
#include "common/mem.h"

static char *enc(const json_t *v)
{
    struct buf b;
    char *s;
    size_t n;
    buf_init(&b, 1u << 20);
    ASSERT_OK(json_go_encode(v, 0, &b));
    s = buf_take(&b, &n);
    buf_fini(&b);
    return s;
}

/* Asserts the Go-style text of v. */
static void expect_enc(const json_t *v, const char *want)
{
    char *s = enc(v);
    ASSERT_EQ_STR(s, want);
    mem_free(s);
}

/* Translates a request text (ant: Anthropic, else Responses); the native body text or NULL
 * with the message in ei. */
static char *translate(const char *in, int ant, struct err_info *ei)
{
    json_t *j = json_loads(in, 0, NULL), *out = NULL;
    char *s = NULL;
    int64_t est = 0;
    ASSERT(j);
    if ((ant ? ant_request(j, &out, &est, ei) : rsp_request(j, &out, ei)) == 0) {
        s = enc(out);
        json_decref(out);
    }
    json_decref(j);
    return s;
}

static void expect_native(const char *in, int ant, const char *want)
{
    struct err_info ei = {0};
    char *s = translate(in, ant, &ei);
    if (!s)
        TEST_FAIL_("unexpected error: %s", ei.msg);
    ASSERT_EQ_STR(s, want);
    mem_free(s);
}

static void expect_error(const char *in, int ant, const char *msg)
{
    struct err_info ei = {0};
    char *s = translate(in, ant, &ei);
    ASSERT(s == NULL);
    ASSERT_EQ_STR(ei.msg, msg);
}

/* The event names of an SSE text, space-separated, into out. */
static void event_names(const struct buf *sse, char *out, size_t cap)
{
    const char *p = buf_str(sse);
    size_t n = 0;
    out[0] = '\0';
    while ((p = strstr(p, "event: ")) != NULL) {
        const char *e = strchr(p, '\n');
        size_t len = (size_t)(e - p - 7);
        ASSERT(e && n + len + 2 < cap);
        if (n)
            out[n++] = ' ';
        memcpy(out + n, p + 7, len);
        n += len;
        out[n] = '\0';
        p = e;
    }
}

/* The data object of the i-th event (new reference). */
static json_t *event_data(const struct buf *sse, int i)
{
    const char *p = buf_str(sse);
    for (int k = 0; p && k <= i; k++) {
        p = strstr(p, "data: ");
        if (p && k < i)
            p += 6;
    }
    ASSERT(p);
    return json_loadb(p + 6, (size_t)(strchr(p, '\n') - p - 6), 0, NULL);
}

/* ---- Anthropic requests ---- */

TEST(msgs_anthropic_request_full)
{
    expect_native(
        "{\"model\":\"m\",\"max_tokens\":9,\"system\":[{\"type\":\"text\",\"text\":\"a\"},"
        "{\"type\":\"text\",\"text\":\"b\"}],\"messages\":["
        "{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\","
        "\"signature\":\"s\"},{\"type\":\"text\",\"text\":\"let me\"},{\"type\":\"tool_use\","
        "\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{\"x\":1}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
        "\"content\":[{\"type\":\"text\",\"text\":\"42\"}]},{\"type\":\"text\",\"text\":\"and?\"}"
        "]}],"
        "\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,\"stop_sequences\":[\"END\"],"
        "\"stream\":true,\"tools\":[{\"name\":\"f\",\"description\":\"d\",\"input_schema\":"
        "{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"auto\"},"
        "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},\"metadata\":{\"user_id\":"
        "\"u\"}}",
        1,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"ab\"},"
        "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"let me\","
        "\"thinking\":\"hm\",\"tool_calls\":[{\"id\":\"toolu_1\",\"function\":{\"name\":\"f\","
        "\"arguments\":{\"x\":1}}}]},{\"role\":\"tool\",\"content\":\"42\",\"tool_call_id\":"
        "\"toolu_1\",\"tool_name\":\"f\"},{\"role\":\"user\",\"content\":\"and?\"}],"
        "\"options\":{\"num_predict\":9,\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,"
        "\"stop\":[\"END\"]},\"stream\":true,\"tools\":[{\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"description\":\"d\",\"parameters\":{\"type\":\"object\"}}}],"
        "\"_relax_thinking\":true,\"think\":true}");
    /* minimal: no sampling defaults of our own, stream false, tool_choice none drops tools */
    expect_native("{\"model\":\"m\",\"max_tokens\":1,\"system\":\"s\",\"messages\":[{\"role\":"
                  "\"User\",\"content\":\"x\"}],\"tools\":[{\"name\":\"f\"}],\"tool_choice\":"
                  "{\"type\":\"none\"},\"thinking\":{\"type\":\"disabled\"}}",
                  1,
                  "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                  "{\"role\":\"user\",\"content\":\"x\"}],\"options\":{\"num_predict\":1},"
                  "\"stream\":false,\"_relax_thinking\":true,\"think\":false}");
    /* output_config.effort when thinking is absent */
    expect_native("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":"
                  "\"x\"}],\"output_config\":{\"effort\":\"XHigh\",\"format\":{\"type\":"
                  "\"json_schema\",\"schema\":{\"type\":\"object\"}}}}",
                  1,
                  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                  "\"options\":{\"num_predict\":1},\"stream\":false,\"_relax_thinking\":true,"
                  "\"think\":\"high\",\"format\":{\"type\":\"object\"}}");
}

TEST(msgs_anthropic_request_errors)
{
    const char *m = "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";
    char in[512];
    expect_error("{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 1,
                 "model is required");
    snprintf(in, sizeof(in), "{\"model\":\"m\",%s}", m);
    expect_error(in, 1, "max_tokens is required and must be positive");
    snprintf(in, sizeof(in), "{\"model\":\"m\",\"max_tokens\":0,%s}", m);
    expect_error(in, 1, "max_tokens is required and must be positive");
    snprintf(in, sizeof(in), "{\"model\":\"m\",\"max_tokens\":\"5\",%s}", m);
    expect_error(in, 1,
                 "json: cannot unmarshal string into Go struct field MessagesRequest.max_tokens "
                 "of type int");
    expect_error("{\"model\":\"m\",\"max_tokens\":5,\"messages\":[]}", 1, "messages is required");
    expect_error("{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":"
                 "[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
                 "\"image/png\",\"data\":\"AAAA\"}}]}]}",
                 1,
                 "image content blocks are not supported (corral's engine has no vision "
                 "encoder); send text only");
    expect_error("{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"assistant\","
                 "\"content\":[{\"type\":\"tool_use\",\"name\":\"f\",\"input\":{}}]}]}",
                 1, "tool_use block missing required 'id' field");
    expect_error("{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":"
                 "7}]}",
                 1,
                 "json: cannot unmarshal number into Go struct field MessageParam.messages."
                 "content of type []anthropic.ContentBlock");
    snprintf(in, sizeof(in),
             "{\"model\":\"m\",\"max_tokens\":5,%s,\"output_format\":{\"type\":"
             "\"json_object\"}}",
             m);
    expect_error(in, 1, "output format must be {\"type\":\"json_schema\",\"schema\":{...}}");
    snprintf(in, sizeof(in), "{\"model\":\"m\",\"max_tokens\":5,%s,\"stop_sequences\":[1]}", m);
    expect_error(in, 1,
                 "json: cannot unmarshal number into Go struct field "
                 "MessagesRequest.stop_sequences of type string");
}

/* ---- Anthropic responses ---- */

TEST(msgs_anthropic_final)
{
    struct ant_conv c;
    json_t *n = json_loads("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":"
                           "\"hi\",\"thinking\":\"t\",\"tool_calls\":[{\"id\":\"call_1\","
                           "\"function\":{\"index\":0,\"name\":\"f\",\"arguments\":{\"b\":1,"
                           "\"a\":2}}}]},\"done\":true,\"done_reason\":\"stop\","
                           "\"prompt_eval_count\":3,\"eval_count\":4}",
                           0, NULL),
           *o;
    char *s, want[1024];
    ant_conv_init(&c, "m:latest", 7);
    ASSERT(strncmp(c.id, "msg_", 4) == 0 && strlen(c.id) == 28);
    o = ant_conv_final(&c, n);
    s = enc(o);
    snprintf(want, sizeof(want),
             "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m:latest\","
             "\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\"},{\"type\":\"text\","
             "\"text\":\"hi\"},{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"f\","
             "\"input\":{\"b\":1,\"a\":2}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
             "\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}",
             c.id);
    ASSERT_EQ_STR(s, want);
    mem_free(s);
    json_decref(o);
    json_decref(n);
    n = json_loads("{\"message\":{\"content\":\"x\"},\"done\":true,\"done_reason\":\"length\"}", 0,
                   NULL);
    o = ant_conv_final(&c, n);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "stop_reason")), "max_tokens");
    json_decref(o);
    json_object_set_new(n, "done_reason", json_string("stop"));
    o = ant_conv_final(&c, n);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "stop_reason")), "end_turn");
    json_decref(o);
    json_decref(n);
    o = ant_error_body(404, "model 'x' not found");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "type")), "error");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(o, "error"), "type")),
                  "not_found_error");
    json_decref(o);
    o = ant_error_body(503, "busy");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(o, "error"), "type")),
                  "overloaded_error");
    json_decref(o);
}

static void feed_ant(struct ant_conv *c, const char *line, struct buf *out)
{
    json_t *n = json_loads(line, 0, NULL);
    ASSERT(n);
    ASSERT_OK(ant_conv_line(c, n, out));
    json_decref(n);
}

TEST(msgs_anthropic_stream)
{
    struct ant_conv c;
    struct buf sse;
    char names[2048];
    json_t *d;
    ant_conv_init(&c, "m", 5);
    buf_init(&sse, 1u << 20);
    feed_ant(&c,
             "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"a\"},"
             "\"done\":false}",
             &sse);
    feed_ant(&c, "{\"message\":{\"role\":\"assistant\",\"content\":\"b\"},\"done\":false}", &sse);
    feed_ant(&c, "{\"message\":{\"role\":\"assistant\",\"content\":\"c\"},\"done\":false}", &sse);
    feed_ant(&c,
             "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
             "\"done_reason\":\"length\",\"prompt_eval_count\":6,\"eval_count\":3}",
             &sse);
    event_names(&sse, names, sizeof(names));
    ASSERT_EQ_STR(names, "message_start ping content_block_start content_block_delta "
                         "content_block_stop content_block_start content_block_delta "
                         "content_block_delta content_block_stop message_delta message_stop");
    d = event_data(&sse, 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(
                      json_object_get(json_object_get(d, "message"), "usage"), "input_tokens")),
                  5);
    json_decref(d);
    d = event_data(&sse, 3);
    expect_enc((json_object_get(d, "delta")), "{\"type\":\"thinking_delta\",\"thinking\":"
                                              "\"a\"}");
    json_decref(d);
    d = event_data(&sse, 6);
    ASSERT_EQ_INT(json_integer_value(json_object_get(d, "index")), 1);
    expect_enc((json_object_get(d, "delta")), "{\"type\":\"text_delta\",\"text\":\"b\"}");
    json_decref(d);
    d = event_data(&sse, 9);
    expect_enc((d), "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\","
                    "\"stop_sequence\":null},\"usage\":{\"input_tokens\":6,"
                    "\"output_tokens\":3}}");
    json_decref(d);
    /* a line after the end adds nothing */
    buf_reset(&sse);
    feed_ant(&c, "{\"message\":{\"content\":\"late\"},\"done\":false}", &sse);
    ASSERT_EQ_SIZE(sse.n, 0);

    /* tool calls: one tool_use block each with the arguments as one input_json_delta */
    ant_conv_init(&c, "m", 1);
    feed_ant(&c,
             "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":"
             "\"call_a\",\"function\":{\"index\":0,\"name\":\"f\",\"arguments\":{\"q\":"
             "\"x\"}}}]},\"done\":false}",
             &sse);
    feed_ant(&c, "{\"message\":{\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\"}", &sse);
    event_names(&sse, names, sizeof(names));
    ASSERT_EQ_STR(names, "message_start ping content_block_start content_block_delta "
                         "content_block_stop message_delta message_stop");
    d = event_data(&sse, 2);
    expect_enc((json_object_get(d, "content_block")),
               "{\"type\":\"tool_use\",\"id\":\"call_a\",\"name\":\"f\",\"input\":{}}");
    json_decref(d);
    d = event_data(&sse, 3);
    expect_enc((json_object_get(d, "delta")),
               "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\":\\\"x\\\"}\"}");
    json_decref(d);
    d = event_data(&sse, 5);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(d, "delta"), "stop_reason")),
                  "tool_use");
    json_decref(d);

    /* a native error line */
    buf_reset(&sse);
    feed_ant(&c, "{\"error\":\"boom\"}", &sse);
    ASSERT_EQ_STR(buf_str(&sse), "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                 "\"api_error\",\"message\":\"boom\"}}\n\n");
    {
        json_t *arr = json_array();
        ASSERT_EQ_INT(ant_conv_line(&c, arr, &sse), E_PARSE);
        json_decref(arr);
    }
    buf_fini(&sse);
}

/* ---- Responses requests ---- */

TEST(msgs_responses_request_full)
{
    expect_native(
        "{\"model\":\"m\",\"instructions\":\"be brief\",\"input\":["
        "{\"role\":\"developer\",\"content\":\"d\"},"
        "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":"
        "\"a\"},{\"type\":\"input_text\",\"text\":\"b\"}]},"
        "{\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"hm\"}]},"
        "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"f\",\"arguments\":"
        "\"{\\\"x\\\":1}\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"42\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"ok\"}]}],"
        "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"description\":\"d\",\"parameters\":"
        "{\"type\":\"object\"},\"strict\":true},{\"type\":\"web_search_preview\"}],\"temperature\":"
        "0.2,\"top_p\":0.5,"
        "\"max_output_tokens\":30,\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":"
        "\"s\",\"schema\":{\"type\":\"object\"}}},\"reasoning\":{\"effort\":\"minimal\"},"
        "\"stream\":true,\"store\":false}",
        0,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"system\",\"content\":\"d\"},{\"role\":\"user\",\"content\":\"ab\"},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_1\","
        "\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1}}}],\"thinking\":\"hm\"},"
        "{\"role\":\"tool\",\"content\":\"42\",\"tool_call_id\":\"call_1\",\"tool_name\":\"f\"},"
        "{\"role\":\"assistant\",\"content\":\"ok\"}],\"options\":{\"temperature\":0.2,"
        "\"top_p\":0.5,\"num_predict\":30},\"tools\":[{\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"description\":\"d\",\"parameters\":{\"type\":\"object\"}}}],"
        "\"format\":{\"type\":\"object\"},\"think\":\"low\",\"stream\":true}");
    /* a plain string input; temperature defaults to 1 (OpenAI's), json_object -> "json" */
    expect_native("{\"model\":\"m\",\"input\":\"hi\",\"text\":{\"format\":{\"type\":"
                  "\"json_object\"}},\"reasoning\":{\"effort\":\"none\"}}",
                  0,
                  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                  "\"options\":{\"temperature\":1},\"format\":\"json\",\"think\":false,"
                  "\"stream\":false}");
}

TEST(msgs_responses_request_errors)
{
    expect_error("{\"model\":\"m\",\"input\":\"x\",\"previous_response_id\":\"resp_1\"}", 0,
                 "previous_response_id and conversation are not supported: corral's "
                 "/v1/responses is stateless; send the whole conversation in 'input'");
    expect_error("{\"model\":\"m\",\"input\":\"x\",\"conversation\":\"c\"}", 0,
                 "previous_response_id and conversation are not supported: corral's "
                 "/v1/responses is stateless; send the whole conversation in 'input'");
    expect_error("{\"model\":\"m\",\"input\":[{\"content\":\"x\"}]}", 0,
                 "input[0]: input item missing required 'type' field");
    expect_error("{\"model\":\"m\",\"input\":[{\"type\":\"web_search_call\"}]}", 0,
                 "input[0]: unknown input item type: \"web_search_call\"");
    expect_error("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"input_image\",\"image_url\":\"data:image/png;base64,AAAA\"}]}]}",
                 0,
                 "input[0]: input_image is not supported (corral's engine has no vision "
                 "encoder); send text only");
    expect_error("{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"call_id\":\"c\","
                 "\"name\":\"f\",\"arguments\":\"{nope\"}]}",
                 0, "input[0]: failed to parse function call arguments");
    expect_error("{\"model\":\"m\",\"input\":\"x\",\"reasoning\":{\"effort\":\"huge\"}}", 0,
                 "invalid reasoning value: \"huge\" (must be \"high\", \"medium\", \"low\", "
                 "\"max\", or \"none\")");
    expect_error("{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":1.5}", 0,
                 "json: cannot unmarshal number into Go struct field "
                 "ResponsesRequest.max_output_tokens of type int");
    expect_error("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}", 0,
                 "tools[0]: 'name' is required");
}

/* ---- Responses output ---- */

TEST(msgs_responses_final)
{
    struct rsp_conv c;
    json_t *req = json_loads("{\"model\":\"m\",\"instructions\":\"i\",\"max_output_tokens\":5}", 0,
                             NULL),
           *n, *o, *out;
    const char *keys = "id object created_at completed_at status incomplete_details model "
                       "previous_response_id instructions output error tools tool_choice "
                       "truncation parallel_tool_calls text top_p presence_penalty "
                       "frequency_penalty top_logprobs temperature reasoning usage "
                       "max_output_tokens max_tool_calls store background service_tier metadata "
                       "safety_identifier prompt_cache_key ";
    char got[1024] = "";
    const char *k;
    json_t *v;
    rsp_conv_init(&c, req);
    ASSERT(strncmp(c.id, "resp_", 5) == 0);
    n = json_loads("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"hi\","
                   "\"thinking\":\"t\"},\"done\":true,\"done_reason\":\"length\","
                   "\"prompt_eval_count\":3,\"eval_count\":5}",
                   0, NULL);
    o = rsp_conv_final(&c, n);
    json_object_foreach(o, k, v)
    {
        strncat(got, k, sizeof(got) - strlen(got) - 2);
        strcat(got, " ");
    }
    ASSERT_EQ_STR(got, keys);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "status")), "incomplete");
    expect_enc((json_object_get(o, "incomplete_details")), "{\"reason\":\"max_output_tokens\"}");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "instructions")), "i");
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "max_output_tokens")), 5);
    expect_enc((json_object_get(o, "usage")),
               "{\"input_tokens\":3,\"output_tokens\":5,\"total_tokens\":8,"
               "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens_details\":"
               "{\"reasoning_tokens\":0}}");
    out = json_object_get(o, "output");
    ASSERT_EQ_SIZE(json_array_size(out), 2);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(out, 0), "type")), "reasoning");
    expect_enc(json_object_get(json_array_get(out, 1), "content"),
               "[{\"type\":\"output_text\",\"text\":\"hi\",\"annotations\":[],\"logprobs\":[]}]");
    json_decref(o);
    json_decref(n);
    /* tool calls: function_call items with the arguments as a JSON string, no empty message */
    n = json_loads("{\"message\":{\"content\":\"\",\"tool_calls\":[{\"id\":\"call_z\",\"function\":"
                   "{\"name\":\"f\",\"arguments\":{\"b\":1,\"a\":\"x\"}}}]},\"done\":true,"
                   "\"done_reason\":\"stop\"}",
                   0, NULL);
    o = rsp_conv_final(&c, n);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "status")), "completed");
    out = json_object_get(o, "output");
    ASSERT_EQ_SIZE(json_array_size(out), 1);
    v = json_array_get(out, 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(v, "type")), "function_call");
    ASSERT_EQ_STR(json_string_value(json_object_get(v, "call_id")), "call_z");
    ASSERT_EQ_STR(json_string_value(json_object_get(v, "arguments")), "{\"a\":\"x\",\"b\":1}");
    json_decref(o);
    json_decref(n);
    rsp_conv_fini(&c);
    json_decref(req);
}

static void feed_rsp(struct rsp_conv *c, const char *line, struct buf *out)
{
    json_t *n = json_loads(line, 0, NULL);
    ASSERT(n);
    ASSERT_OK(rsp_conv_line(c, n, out));
    json_decref(n);
}

TEST(msgs_responses_stream)
{
    struct rsp_conv c;
    struct buf sse;
    char names[4096];
    json_t *req = json_loads("{\"model\":\"m\",\"stream\":true}", 0, NULL), *d;
    buf_init(&sse, 4u << 20);
    rsp_conv_init(&c, req);
    feed_rsp(&c, "{\"message\":{\"content\":\"\",\"thinking\":\"t1\"},\"done\":false}", &sse);
    feed_rsp(&c, "{\"message\":{\"content\":\"a\"},\"done\":false}", &sse);
    feed_rsp(&c, "{\"message\":{\"content\":\"b\"},\"done\":false}", &sse);
    feed_rsp(&c,
             "{\"message\":{\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\","
             "\"prompt_eval_count\":2,\"eval_count\":3}",
             &sse);
    event_names(&sse, names, sizeof(names));
    ASSERT_EQ_STR(names, "response.created response.in_progress response.output_item.added "
                         "response.reasoning_summary_text.delta "
                         "response.reasoning_summary_text.done response.output_item.done "
                         "response.output_item.added response.content_part.added "
                         "response.output_text.delta response.output_text.delta "
                         "response.output_text.done response.content_part.done "
                         "response.output_item.done response.completed");
    for (int i = 0; i < 14; i++) {
        d = event_data(&sse, i);
        ASSERT_EQ_INT(json_integer_value(json_object_get(d, "sequence_number")), i);
        json_decref(d);
    }
    d = event_data(&sse, 9);
    ASSERT_EQ_INT(json_integer_value(json_object_get(d, "output_index")), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(d, "delta")), "b");
    json_decref(d);
    d = event_data(&sse, 13);
    {
        json_t *r = json_object_get(d, "response"), *out = json_object_get(r, "output");
        ASSERT_EQ_STR(json_string_value(json_object_get(r, "status")), "completed");
        ASSERT_EQ_SIZE(json_array_size(out), 2);
        ASSERT_EQ_STR(
            json_string_value(json_object_get(
                json_array_get(json_object_get(json_array_get(out, 1), "content"), 0), "text")),
            "ab");
        ASSERT_EQ_INT(
            json_integer_value(json_object_get(json_object_get(r, "usage"), "total_tokens")), 5);
    }
    json_decref(d);
    rsp_conv_fini(&c);

    /* function calls, and the length limit as response.incomplete */
    buf_reset(&sse);
    rsp_conv_init(&c, req);
    feed_rsp(&c,
             "{\"message\":{\"content\":\"\",\"tool_calls\":[{\"id\":\"call_q\",\"function\":"
             "{\"name\":\"f\",\"arguments\":{\"k\":2}}}]},\"done\":false}",
             &sse);
    feed_rsp(&c, "{\"message\":{\"content\":\"\"},\"done\":true,\"done_reason\":\"length\"}", &sse);
    event_names(&sse, names, sizeof(names));
    ASSERT_EQ_STR(names, "response.created response.in_progress response.output_item.added "
                         "response.function_call_arguments.delta "
                         "response.function_call_arguments.done response.output_item.done "
                         "response.incomplete");
    d = event_data(&sse, 4);
    ASSERT_EQ_STR(json_string_value(json_object_get(d, "arguments")), "{\"k\":2}");
    json_decref(d);
    d = event_data(&sse, 6);
    ASSERT_EQ_STR(json_string_value(json_object_get(
                      json_array_get(json_object_get(json_object_get(d, "response"), "output"), 0),
                      "call_id")),
                  "call_q");
    json_decref(d);
    buf_reset(&sse);
    feed_rsp(&c, "{\"error\":\"boom\"}", &sse);
    ASSERT(strstr(buf_str(&sse), "event: error\ndata: {\"type\":\"error\",\"sequence_number\":7,"
                                 "\"code\":null,\"message\":\"boom\",\"param\":null}"));
    rsp_conv_fini(&c);
    buf_fini(&sse);
    json_decref(req);
}

/* ---- routes over an empty store (no scheduler) ---- */

TEST(msgs_routes_without_models)
{
    struct test_api e;
    struct api_resp resp;
    test_api_open(&e);
    ASSERT_EQ_INT(
        test_api_call(&e, "POST", "/v1/messages",
                      "{\"model\":\"nope\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\","
                      "\"content\":\"x\"}]}",
                      &resp),
        404);
    ASSERT(strstr(buf_str(&resp.body), "{\"type\":\"error\",\"error\":{\"type\":"
                                       "\"not_found_error\",\"message\":\"model 'nope' not "
                                       "found\"},\"request_id\":\"req_"));
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/v1/messages", "{bad", &resp), 400);
    ASSERT(strstr(buf_str(&resp.body), "\"invalid_request_error\""));
    api_resp_fini(&resp);
    ASSERT_EQ_INT(
        test_api_call(&e, "POST", "/v1/messages", "{\"model\":\"x\",\"messages\":[]}", &resp), 400);
    ASSERT(strstr(buf_str(&resp.body), "max_tokens is required"));
    api_resp_fini(&resp);
    /* count_tokens: bytes / 4 of roles and texts, no max_tokens needed */
    ASSERT_EQ_INT(
        test_api_call(&e, "POST", "/v1/messages/count_tokens",
                      "{\"model\":\"nope\",\"system\":\"abcdefgh\",\"messages\":[{\"role\":"
                      "\"user\",\"content\":\"1234567890123456\"}]}",
                      &resp),
        200);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"input_tokens\":8}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/v1/messages/count_tokens",
                                "{\"model\":\"m\",\"messages\":[]}", &resp),
                  400);
    ASSERT(strstr(buf_str(&resp.body), "messages is required"));
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/v1/responses",
                                "{\"model\":\"nope\",\"input\":\"x\",\"stream\":true}", &resp),
                  404);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":{\"message\":\"model 'nope' not found\","
                                       "\"type\":\"not_found_error\",\"param\":null,"
                                       "\"code\":null}}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/v1/responses", "[]", &resp), 400);
    api_resp_fini(&resp);
    test_api_close(&e);
}

/*
 * test_openai.c - the OpenAI-compatible layer without sockets: request translation (chat and
 * completions -> native bodies, byte for byte), OpenAI defaults and error messages, response
 * encoding (chunks, finish chunk, usage chunk, non-streamed objects: field names and order as
 * clients parse them), error shapes, the embedding helpers, and the /v1 handlers over an empty
 * temporary store (no scheduler).
 */
#include "harness/test.h"
#include "harness/api_env.h"

#include <math.h>

#include "api/api.h"
#include "api/api_openai.h"
#include "common/json.h"
#include "common/mem.h"

/* Go-style text of v (insertion order). */
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

/* Translates a chat (or completion) request text; returns the native body text or NULL with
 * the error message in ei. */
static char *translate(const char *in, int completion, struct err_info *ei)
{
    json_t *j = json_loads(in, 0, NULL), *out = NULL;
    char *s = NULL;
    ASSERT(j);
    if ((completion ? oai_completion_request(j, &out, ei) : oai_chat_request(j, &out, ei)) == 0) {
        s = enc(out);
        json_decref(out);
    }
    json_decref(j);
    return s;
}

static void expect_native(const char *in, int completion, const char *want)
{
    struct err_info ei = {0};
    char *s = translate(in, completion, &ei);
    ASSERT_EQ_STR(s, want);
    mem_free(s);
}

static void expect_error(const char *in, int completion, const char *msg)
{
    struct err_info ei = {0};
    char *s = translate(in, completion, &ei);
    ASSERT(s == NULL);
    ASSERT_EQ_STR(ei.msg, msg);
}

TEST(openai_chat_request_full)
{
    expect_native(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"image_"
        "url\","
        "\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}}]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"r\"}],"
        "\"max_tokens\":7,\"seed\":3,\"stop\":\"x\",\"temperature\":0.5,\"stream\":true,"
        "\"response_format\":{\"type\":\"json_object\"},\"reasoning_effort\":\"minimal\","
        "\"tool_choice\":\"auto\",\"user\":\"u\",\"n\":1}",
        0,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
        "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content\":\"\",\"images\":"
        "[\"AAAA\"]},{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\","
        "\"arguments\":{\"a\":1}}}]},{\"role\":\"tool\",\"content\":\"r\",\"tool_name\":\"f\"}],"
        "\"format\":\"json\",\"options\":{\"stop\":[\"x\"],\"num_predict\":7,\"seed\":3,"
        "\"temperature\":0.5,\"top_p\":1},\"stream\":true,\"think\":\"low\"}");
}

TEST(openai_chat_request_defaults_and_options)
{
    /* temperature/top_p default to 1 (OpenAI), stream to false, max_completion_tokens wins */
    expect_native("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                  "\"max_tokens\":5,\"max_completion_tokens\":9,\"stop\":[\"a\",1,\"b\"],"
                  "\"frequency_penalty\":0.25,\"presence_penalty\":-1,\"top_p\":0.5,"
                  "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\","
                  "\"schema\":{\"type\":\"object\"}}},\"reasoning\":{\"effort\":\"none\"},"
                  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}",
                  0,
                  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                  "\"format\":{\"type\":\"object\"},\"options\":{\"stop\":[\"a\",\"b\"],"
                  "\"num_predict\":9,\"temperature\":1,\"frequency_penalty\":0.25,"
                  "\"presence_penalty\":-1,\"top_p\":0.5},\"stream\":false,\"tools\":[{\"type\":"
                  "\"function\",\"function\":{\"name\":\"f\"}}],\"think\":false}");
    expect_native(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"reasoning_effort\":\"xhigh\",\"stream\":false}",
        0,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"options\":{\"temperature\":1,\"top_p\":1},\"stream\":false,\"think\":\"max\"}");
}

TEST(openai_chat_request_errors)
{
    const char *u = "[{\"role\":\"user\",\"content\":\"x\"}]";
    char in[512];
    expect_error("{\"model\":\"m\",\"messages\":[]}", 0, "[] is too short - 'messages'");
    expect_error("{\"model\":\"m\"}", 0, "[] is too short - 'messages'");
    expect_error("{\"model\":\"m\",\"messages\":\"hi\"}", 0,
                 "json: cannot unmarshal string into Go struct field "
                 "ChatCompletionRequest.messages of type []openai.Message");
    expect_error("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":1}]}", 0,
                 "invalid message content type: float64");
    expect_error("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", 0,
                 "invalid message content type: <nil>");
    expect_error("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"image_url\",\"image_url\":\"https://x/y.png\"}]}]}",
                 0,
                 "image URLs are not currently supported, please use base64 encoded data "
                 "instead");
    expect_error("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"image_url\",\"image_url\":\"data:image/gif;base64,AAAA\"}]}]}",
                 0, "invalid image input");
    expect_error("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,A*A\"}}]}]}",
                 0, "invalid message format");
    expect_error("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"audio\"}]}]}",
                 0, "invalid message format");
    expect_error("{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{"
                 "\"function\":{\"name\":\"f\",\"arguments\":\"{nope\"}}]}]}",
                 0, "invalid tool call arguments");
    snprintf(in, sizeof(in), "{\"model\":\"m\",\"messages\":%s,\"max_tokens\":1.5}", u);
    expect_error(in, 0,
                 "json: cannot unmarshal number 1.5 into Go struct field "
                 "ChatCompletionRequest.max_tokens of type int");
    snprintf(in, sizeof(in), "{\"model\":\"m\",\"messages\":%s,\"temperature\":\"hot\"}", u);
    expect_error(in, 0,
                 "json: cannot unmarshal string into Go struct field "
                 "ChatCompletionRequest.temperature of type float64");
    snprintf(in, sizeof(in), "{\"model\":\"m\",\"messages\":%s,\"stream\":1}", u);
    expect_error(in, 0,
                 "json: cannot unmarshal number 1 into Go struct field "
                 "ChatCompletionRequest.stream of type bool");
    snprintf(in, sizeof(in), "{\"model\":\"m\",\"messages\":%s,\"reasoning_effort\":\"lots\"}", u);
    expect_error(in, 0,
                 "invalid reasoning value: 'lots' (must be \"high\", \"medium\", \"low\", "
                 "or \"none\")");
}

TEST(openai_completion_request)
{
    expect_native("{\"model\":\"m\",\"prompt\":\"Once\",\"suffix\":\"end\",\"max_tokens\":4,"
                  "\"top_p\":0,\"seed\":1,\"stop\":[\"x\"],\"echo\":true,\"stream\":true}",
                  1,
                  "{\"model\":\"m\",\"prompt\":\"Once\",\"suffix\":\"end\",\"options\":{\"stop\":"
                  "[\"x\"],\"num_predict\":4,\"seed\":1,\"temperature\":1,\"frequency_penalty\":0,"
                  "\"presence_penalty\":0,\"top_p\":1},\"stream\":true}");
    expect_error("{\"model\":\"m\",\"prompt\":\"a\",\"stop\":[\"x\",2]}", 1,
                 "invalid type for 'stop' field: float64");
    expect_error("{\"model\":\"m\",\"prompt\":[\"a\"]}", 1,
                 "json: cannot unmarshal array into Go struct field CompletionRequest.prompt of "
                 "type string");
}

TEST(openai_error_shapes)
{
    struct {
        int status;
        const char *want;
    } cases[] = {
        {400, "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\",\"param\":null,"
              "\"code\":null}}"},
        {404, "{\"error\":{\"message\":\"m\",\"type\":\"not_found_error\",\"param\":null,"
              "\"code\":null}}"},
        {500, "{\"error\":{\"message\":\"m\",\"type\":\"api_error\",\"param\":null,"
              "\"code\":null}}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = oai_error_body(cases[i].status, "m");
        char *s = enc(v);
        ASSERT_EQ_STR(s, cases[i].want);
        mem_free(s);
        json_decref(v);
    }
}

/* Feeds native NDJSON lines through a converter; returns the SSE text. */
static char *convert(struct oai_conv *c, const char *const *lines, size_t n)
{
    struct buf out;
    char *s;
    size_t len;
    buf_init(&out, 1u << 20);
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_loads(lines[i], 0, NULL);
        ASSERT(j);
        ASSERT_OK(oai_conv_line(c, j, &out));
        json_decref(j);
    }
    s = buf_take(&out, &len);
    buf_fini(&out);
    return s ? s : mem_strdup("");
}

static void fixed_conv(struct oai_conv *c, enum oai_kind kind, int usage)
{
    oai_conv_init(c, kind, usage);
    snprintf(c->id, sizeof(c->id), "%s", kind == OAI_CHAT ? "chatcmpl-7" : "cmpl-7");
    c->created = 1700000000;
}

#define CHUNK_HEAD                                                                              \
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," \
    "\"model\":\"m\",\"system_fingerprint\":\"fp_ollama\","

TEST(openai_chat_stream_encoding)
{
    const char *lines[] = {
        "{\"model\":\"m\",\"created_at\":\"x\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"Hi\"},\"done\":false}",
        "{\"model\":\"m\",\"created_at\":\"x\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"\",\"thinking\":\"hmm\"},\"done\":false}",
        "{\"model\":\"m\",\"created_at\":\"x\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"\"},\"done\":true,\"done_reason\":\"length\",\"prompt_eval_count\":3,"
        "\"eval_count\":2}",
    };
    struct oai_conv c;
    char *s;
    fixed_conv(&c, OAI_CHAT, 1);
    s = convert(&c, lines, 3);
    ASSERT_EQ_STR(s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                "\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n" CHUNK_HEAD
                                "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                "\"content\":\"\",\"reasoning\":\"hmm\"},\"finish_reason\":null}]}"
                                "\n\n" CHUNK_HEAD
                                "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                "\"content\":\"\"},\"finish_reason\":\"length\"}]}\n\n" CHUNK_HEAD
                                "\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
                                "\"completion_tokens\":2,\"total_tokens\":5}}\n\n");
    ASSERT(c.done);
    mem_free(s);
}

TEST(openai_chat_stream_tool_calls)
{
    const char *lines[] = {
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{"
        "\"id\":\"call_abc\",\"function\":{\"index\":0,\"name\":\"get\",\"arguments\":{\"z\":1,"
        "\"a\":\"<b>\"}}}]},\"done\":false}",
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
        "\"done_reason\":\"stop\"}",
    };
    struct oai_conv c;
    char *s;
    fixed_conv(&c, OAI_CHAT, 0);
    s = convert(&c, lines, 2);
    ASSERT_EQ_STR(s,
                  CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                             "\"content\":\"\",\"tool_calls\":[{\"id\":\"call_abc\","
                             "\"index\":0,\"type\":\"function\",\"function\":{\"name\":\"get\","
                             "\"arguments\":\"{\\\"a\\\":\\\"\\\\u003cb\\\\u003e\\\",\\\"z\\\":1}"
                             "\"}}]},\"finish_reason\":null}]}\n\n" CHUNK_HEAD
                             "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                             "\"content\":\"\"},\"finish_reason\":\"tool_calls\"}]}\n\n");
    mem_free(s);
}

TEST(openai_stream_error_line)
{
    const char *lines[] = {"{\"error\":\"runner crashed\"}"};
    struct oai_conv c;
    char *s;
    fixed_conv(&c, OAI_CHAT, 0);
    s = convert(&c, lines, 1);
    ASSERT_EQ_STR(s, "data: {\"error\":{\"message\":\"runner crashed\",\"type\":\"api_error\","
                     "\"param\":null,\"code\":null}}\n\n");
    mem_free(s);
}

TEST(openai_completion_stream_encoding)
{
    const char *lines[] = {
        "{\"model\":\"m\",\"created_at\":\"x\",\"response\":\"Once\",\"done\":false}",
        "{\"model\":\"m\",\"created_at\":\"x\",\"response\":\"\",\"done\":true,\"done_reason\":"
        "\"stop\",\"context\":[1,2],\"prompt_eval_count\":4,\"eval_count\":1}",
    };
    struct oai_conv c;
    char *s;
    fixed_conv(&c, OAI_COMPLETION, 1);
    s = convert(&c, lines, 2);
    ASSERT_EQ_STR(
        s, "data: {\"id\":\"cmpl-7\",\"object\":\"text_completion\",\"created\":1700000000,"
           "\"choices\":[{\"text\":\"Once\",\"index\":0,\"finish_reason\":null}],\"model\":\"m\","
           "\"system_fingerprint\":\"fp_ollama\"}\n\n"
           "data: {\"id\":\"cmpl-7\",\"object\":\"text_completion\",\"created\":1700000000,"
           "\"choices\":[{\"text\":\"\",\"index\":0,\"finish_reason\":\"stop\"}],\"model\":\"m\","
           "\"system_fingerprint\":\"fp_ollama\"}\n\n"
           "data: {\"id\":\"cmpl-7\",\"object\":\"text_completion\",\"created\":1700000000,"
           "\"choices\":[],\"model\":\"m\",\"system_fingerprint\":\"fp_ollama\",\"usage\":{"
           "\"prompt_tokens\":4,\"completion_tokens\":1,\"total_tokens\":5}}\n\n");
    mem_free(s);
}

static char *final_of(enum oai_kind kind, const char *native)
{
    struct oai_conv c;
    json_t *j = json_loads(native, 0, NULL), *o;
    char *s;
    ASSERT(j);
    fixed_conv(&c, kind, 0);
    o = oai_conv_final(&c, j);
    ASSERT(o);
    s = enc(o);
    json_decref(o);
    json_decref(j);
    return s;
}

TEST(openai_final_objects)
{
    char *s = final_of(OAI_CHAT, "{\"model\":\"m\",\"message\":{\"role\":\"assistant\","
                                 "\"content\":\"Hello\"},\"done\":true,\"done_reason\":\"stop\","
                                 "\"total_duration\":5,\"prompt_eval_count\":3,\"eval_count\":2}");
    ASSERT_EQ_STR(s, "{\"id\":\"chatcmpl-7\",\"object\":\"chat.completion\",\"created\":1700000000,"
                     "\"model\":\"m\",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"index\":"
                     "0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},"
                     "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
                     "\"completion_tokens\":2,\"total_tokens\":5}}");
    mem_free(s);
    s = final_of(OAI_CHAT,
                 "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":"
                 "\"\",\"thinking\":\"t\",\"tool_calls\":[{\"id\":\"call_x\",\"function\":"
                 "{\"index\":0,\"name\":\"f\",\"arguments\":{}}}]},\"done\":true,"
                 "\"done_reason\":\"stop\"}");
    ASSERT_EQ_STR(s, "{\"id\":\"chatcmpl-7\",\"object\":\"chat.completion\",\"created\":1700000000,"
                     "\"model\":\"m\",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"index\":"
                     "0,\"message\":{\"role\":\"assistant\",\"content\":\"\",\"reasoning\":\"t\","
                     "\"tool_calls\":[{\"id\":\"call_x\",\"index\":0,\"type\":\"function\","
                     "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":"
                     "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,"
                     "\"total_tokens\":0}}");
    mem_free(s);
    s = final_of(OAI_COMPLETION, "{\"model\":\"m\",\"response\":\"abc\",\"done\":true,"
                                 "\"done_reason\":\"length\",\"eval_count\":3}");
    ASSERT_EQ_STR(s, "{\"id\":\"cmpl-7\",\"object\":\"text_completion\",\"created\":1700000000,"
                     "\"model\":\"m\",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"text\":"
                     "\"abc\",\"index\":0,\"finish_reason\":\"length\"}],\"usage\":{"
                     "\"prompt_tokens\":0,\"completion_tokens\":3,\"total_tokens\":3}}");
    mem_free(s);
}

TEST(openai_ids)
{
    struct oai_conv c;
    oai_conv_init(&c, OAI_CHAT, 0);
    ASSERT(!strncmp(c.id, "chatcmpl-", 9));
    ASSERT(atoi(c.id + 9) >= 0 && atoi(c.id + 9) < 999);
    ASSERT(c.created > 1600000000);
    oai_conv_init(&c, OAI_COMPLETION, 0);
    ASSERT(!strncmp(c.id, "cmpl-", 5));
}

TEST(openai_embed_helpers)
{
    float v[4] = {3.0f, 4.0f, 12.0f, 0.0f}, z[2] = {0.0f, 0.0f}, bad[2] = {1.0f, NAN};
    size_t n = 4;
    struct buf b;
    struct err_info ei = {0};
    json_t *in, *out = NULL;
    ASSERT_OK(api_embed_normalize(v, &n, 2));
    ASSERT_EQ_SIZE(n, 2);
    ASSERT_NEAR(v[0], 0.6, 1e-6);
    ASSERT_NEAR(v[1], 0.8, 1e-6);
    n = 2;
    ASSERT_OK(api_embed_normalize(z, &n, 0));
    ASSERT(z[0] == 0.0f && z[1] == 0.0f);
    n = 2;
    ASSERT_EQ_INT(api_embed_normalize(bad, &n, 0), E_RANGE);
    buf_init(&b, 1024);
    v[0] = 1.0f, v[1] = -2.0f;
    ASSERT_OK(api_embed_b64(v, 2, &b));
    ASSERT_EQ_STR(buf_str(&b), "AACAPwAAAMA="); /* 00 00 80 3f 00 00 00 c0 */
    buf_fini(&b);
    in = json_string("");
    ASSERT_OK(api_embed_inputs(in, &out, &ei));
    ASSERT_EQ_SIZE(json_array_size(out), 0);
    json_decref(out);
    json_decref(in);
    in = json_loads("[\"a\",1]", 0, NULL);
    ASSERT_EQ_INT(api_embed_inputs(in, &out, &ei), E_INVAL);
    ASSERT_EQ_STR(ei.msg, "invalid input type");
    json_decref(in);
}

TEST(openai_embed_translation)
{
    struct err_info ei = {0};
    json_t *in = json_loads("{\"model\":\"m\",\"input\":\"\",\"dimensions\":2}", 0, NULL), *out;
    json_t *native;
    char *s;
    ASSERT_OK(oai_embed_request(in, &out, &ei));
    s = enc(out);
    ASSERT_EQ_STR(s, "{\"model\":\"m\",\"input\":[\"\"],\"dimensions\":2}");
    mem_free(s);
    json_decref(out);
    json_decref(in);
    in = json_loads("{\"model\":\"m\",\"input\":[]}", 0, NULL);
    ASSERT_EQ_INT(oai_embed_request(in, &out, &ei), E_INVAL);
    ASSERT_EQ_STR(ei.msg, "invalid input");
    json_decref(in);
    native = json_loads("{\"model\":\"m\",\"embeddings\":[[1,-2],[0.5]],\"prompt_eval_count\":4}",
                        0, NULL);
    out = oai_embed_list(native, "m", 0);
    s = enc(out);
    ASSERT_EQ_STR(s, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":[1,"
                     "-2],\"index\":0},{\"object\":\"embedding\",\"embedding\":[0.5],\"index\":1}],"
                     "\"model\":\"m\",\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}");
    mem_free(s);
    json_decref(out);
    out = oai_embed_list(native, "m", 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(out, "data"), 0),
                                                    "embedding")),
                  "AACAPwAAAMA=");
    json_decref(out);
    json_decref(native);
}

/* ---- handlers over an empty store (no scheduler) ---- */

TEST(openai_handlers_without_models)
{
    struct test_api e;
    struct api_resp resp;
    test_api_open(&e);
    ASSERT_EQ_INT(test_api_call(&e, "GET", "/v1/models", NULL, &resp), 200);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"object\":\"list\",\"data\":[]}");
    ASSERT_EQ_STR(resp.content_type, "application/json; charset=utf-8");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "GET", "/v1/models/nope", NULL, &resp), 404);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":{\"message\":\"model 'nope' not found\","
                                       "\"type\":\"not_found_error\",\"param\":null,"
                                       "\"code\":null}}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/v1/chat/completions", "{bad", &resp), 400);
    ASSERT(strstr(buf_str(&resp.body), "\"type\":\"invalid_request_error\""));
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/v1/chat/completions", "", &resp), 400);
    ASSERT(strstr(buf_str(&resp.body), "missing request body"));
    api_resp_fini(&resp);
    ASSERT_EQ_INT(
        test_api_call(&e, "POST", "/v1/chat/completions",
                      "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                      &resp),
        404);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":{\"message\":\"model 'nope' not found\","
                                       "\"type\":\"not_found_error\",\"param\":null,"
                                       "\"code\":null}}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/v1/completions",
                                "{\"model\":\"nope\",\"prompt\":\"x\",\"stream\":true}", &resp),
                  404);
    ASSERT(strstr(buf_str(&resp.body), "not_found_error"));
    api_resp_fini(&resp);
    ASSERT_EQ_INT(
        test_api_call(&e, "POST", "/v1/embeddings", "{\"model\":\"nope\",\"input\":\"x\"}", &resp),
        404);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/v1/embeddings", "{\"model\":\"nope\"}", &resp), 400);
    ASSERT(strstr(buf_str(&resp.body), "invalid input"));
    api_resp_fini(&resp);
    test_api_close(&e);
}

TEST(openai_model_route_takes_namespaced_ids)
{
    const struct api_route *r = NULL;
    const char *param = NULL;
    ASSERT_OK(api_route_find("GET", "/v1/models/myuser/model:1b", &r, &param));
    ASSERT_EQ_STR(param, "myuser/model:1b");
    ASSERT_OK(api_route_find("GET", "/v1/models/stories", &r, &param));
    ASSERT_EQ_STR(param, "stories");
    ASSERT_EQ_INT(api_route_find("GET", "/v1/models/", &r, &param), E_NOTFOUND);
    ASSERT_EQ_INT(api_route_find("POST", "/v1/models/x", &r, &param), E_UNSUPPORTED);
    /* one-segment ":name" routes still refuse slashes */
    ASSERT_EQ_INT(api_route_find("HEAD", "/api/blobs/a/b", &r, &param), E_NOTFOUND);
}

/* A long tool conversation translates in linear time (tool names found by id in one look-up). */
TEST_T(openai_long_tool_conversation, 20)
{
    struct err_info ei = {0};
    json_t *msgs = json_array(), *in, *out = NULL;
    for (int i = 0; i < 40000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "call_%d", i);
        json_array_append_new(msgs,
                              json_pack("{s:s, s:[{s:s, s:s, s:{s:s, s:s}}]}", "role", "assistant",
                                        "tool_calls", "id", id, "type", "function", "function",
                                        "name", "f", "arguments", "{}"));
        json_array_append_new(
            msgs, json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id", id, "content", "r"));
    }
    in = json_pack("{s:s, s:o}", "model", "m", "messages", msgs);
    ASSERT_OK(oai_chat_request(in, &out, &ei));
    ASSERT_EQ_SIZE(json_array_size(json_object_get(out, "messages")), 80000);
    ASSERT_EQ_STR(json_string_value(json_object_get(
                      json_array_get(json_object_get(out, "messages"), 79999), "tool_name")),
                  "f");
    json_decref(out);
    json_decref(in);
}

/*
 * test_logprob_api.c - unit tests of logprobs in the serving handlers (api_generate.c,
 * api_chat.c, api_serve.c) with a fake scheduler that replays runner pieces carrying logprobs:
 * request validation (Ollama's messages), the options sent to the runner, the per-chunk
 * placement when streaming (a bare line when the text is held back), accumulation on the final
 * non-streamed object, Go field order, and the checks on what a runner sends.
 */
#include "harness/test.h"
#include "harness/api_env.h"

#include "api/api.h"
#include "api/api_llm.h"
#include "api/api_openai.h"
#include "api/api_serve.h"
#include "common/json.h"
#include "common/mem.h"

struct fake {
    const char *const *events; /* JSON texts of the events before `done` */
    json_t *last_body;
};

static int f_acquire(void *ctx, const struct api_llm_model *m, int64_t ka, const atomic_int *c,
                     void **lease, uint64_t *load_ns, struct err_info *ei)
{
    (void)m, (void)ka, (void)c, (void)ei;
    *lease = ctx;
    *load_ns = 5;
    return 0;
}
static void f_release(void *lease, int64_t ka)
{
    (void)lease, (void)ka;
}
static int32_t f_num_ctx(void *lease)
{
    (void)lease;
    return 2048;
}
static int f_tokenize(void *lease, const char *t, int a, int s, int32_t **ids, size_t *n,
                      struct err_info *ei)
{
    (void)lease, (void)a, (void)s, (void)ei;
    *n = strlen(t) / 4 + 1;
    *ids = mem_calloc(*n, sizeof(int32_t));
    return 0;
}
static int f_complete(void *lease, const json_t *msg, struct err_info *ei)
{
    struct fake *f = lease;
    (void)ei;
    json_decref(f->last_body);
    f->last_body = json_deep_copy(msg);
    return 0;
}
static int f_next(void *lease, int ms, json_t **ev)
{
    struct fake *f = lease;
    (void)ms;
    if (f->events && *f->events) {
        *ev = json_loads(*f->events++, 0, NULL);
        return *ev ? 0 : E_PARSE;
    }
    *ev = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:[i]}", "t", "done", "reason", "stop",
                    "prompt_n", 3, "prompt_ns", 1000, "eval_n", 2, "eval_ns", 2000, "context", 1);
    return 0;
}
static void f_cancel(void *lease)
{
    (void)lease;
}

#define MODEL_GGUF "tests/data/models/stories260K-Q4_0.gguf"

struct fixture {
    struct test_api api;
    struct fake f;
    struct api_llm llm;
};

static void setup(struct fixture *x)
{
    memset(x, 0, sizeof(*x));
    test_api_open(&x->api);
    x->llm = (struct api_llm){.ctx = &x->f,
                              .acquire = f_acquire,
                              .release = f_release,
                              .num_ctx = f_num_ctx,
                              .tokenize = f_tokenize,
                              .complete = f_complete,
                              .next = f_next,
                              .cancel = f_cancel};
    x->api.env.user[API_ENV_LLM] = &x->llm;
    test_api_put_model(&x->api, "plain", MODEL_GGUF, NULL);
    test_api_put_model(&x->api, "tooly", MODEL_GGUF,
                       "{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}{{ end }}{{ if .Tools "
                       "}}T{{ end }}<|assistant|>{{ if .ToolCalls }}<tool_call>{{ range "
                       ".ToolCalls }}{{ .Function.Name }}{{ end }}</tool_call>{{ end }}");
}

static void teardown(struct fixture *x)
{
    json_decref(x->f.last_body);
    test_api_close(&x->api);
}

/* POSTs a route; the whole response body (every NDJSON line when streaming) into out. */
static int call(struct fixture *x, const char *path, const char *body, struct buf *out)
{
    struct api_resp resp;
    int status = test_api_call(&x->api, "POST", path, body, &resp);
    buf_reset(out);
    ASSERT_OK(buf_append(out, buf_str(&resp.body), resp.body.n));
    api_resp_fini(&resp);
    return status;
}

#define LP_A                                                                                       \
    "{\"token\":\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105],\"top_logprobs\":[{\"token\":\"Hi\","   \
    "\"logprob\":-0.5,\"bytes\":[72,105]},{\"token\":\"Yo\",\"logprob\":-1.5,\"bytes\":[89,111]}]" \
    "}"
#define LP_B                                                                                       \
    "{\"token\":\" there\",\"logprob\":-0.25,\"bytes\":[32,116,104,101,114,101],\"top_logprobs\":" \
    "[{\"token\":\" there\",\"logprob\":-0.25,\"bytes\":[32,116,104,101,114,101]}]}"

static const char *const two_pieces[] = {
    "{\"t\":\"piece\",\"text\":\"Hi\",\"logprobs\":[" LP_A "]}",
    "{\"t\":\"piece\",\"text\":\" there\",\"logprobs\":[" LP_B "]}", NULL};

TEST(logprob_api_validation)
{
    struct fixture x;
    struct buf b;
    setup(&x);
    buf_init(&b, 1 << 20);
    ASSERT_EQ_INT(
        call(&x, "/api/generate", "{\"model\":\"plain\",\"prompt\":\"q\",\"top_logprobs\":21}", &b),
        400);
    ASSERT_EQ_STR(buf_str(&b), "{\"error\":\"top_logprobs must be between 0 and 20\"}");
    /* checked before the model is looked up, as Ollama does */
    ASSERT_EQ_INT(call(&x, "/api/chat",
                       "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
                       "\"top_logprobs\":-1}",
                       &b),
                  400);
    ASSERT(strstr(buf_str(&b), "top_logprobs must be between 0 and 20"));
    ASSERT_EQ_INT(call(&x, "/api/generate",
                       "{\"model\":\"plain\",\"prompt\":\"q\",\"logprobs\":\"yes\"}", &b),
                  400);
    ASSERT(strstr(buf_str(&b), "Go struct field GenerateRequest.logprobs of type bool"));
    ASSERT_EQ_INT(call(&x, "/api/generate",
                       "{\"model\":\"plain\",\"prompt\":\"q\",\"top_logprobs\":2.5}", &b),
                  400);
    ASSERT(strstr(buf_str(&b), "number 2.5 into Go struct field GenerateRequest.top_logprobs of "
                               "type int"));
    /* logprobs off: nothing asked of the runner, nothing in the answer even if it sends some */
    x.f.events = two_pieces;
    ASSERT_EQ_INT(call(&x, "/api/generate",
                       "{\"model\":\"plain\",\"prompt\":\"q\",\"stream\":false,\"top_logprobs\":3}",
                       &b),
                  200);
    ASSERT(!json_object_get(x.f.last_body, "logprobs"));
    ASSERT(!strstr(buf_str(&b), "logprobs"));
    buf_fini(&b);
    teardown(&x);
}

TEST(logprob_api_generate_accumulated)
{
    struct fixture x;
    struct buf b;
    setup(&x);
    buf_init(&b, 1 << 20);
    x.f.events = two_pieces;
    ASSERT_EQ_INT(call(&x, "/api/generate",
                       "{\"model\":\"plain\",\"prompt\":\"q\",\"stream\":false,\"logprobs\":true,"
                       "\"top_logprobs\":2}",
                       &b),
                  200);
    ASSERT(json_is_true(json_object_get(x.f.last_body, "logprobs")));
    ASSERT_EQ_INT(json_integer_value(json_object_get(x.f.last_body, "top_logprobs")), 2);
    /* all entries, in order, as the last member (Go field order: after the metrics) */
    ASSERT(strstr(buf_str(&b), "\"response\":\"Hi there\""));
    ASSERT(strstr(buf_str(&b), "\"eval_duration\":2000,\"logprobs\":[" LP_A "," LP_B "]}"));
    buf_fini(&b);
    teardown(&x);
}

TEST(logprob_api_generate_streamed_per_chunk)
{
    struct fixture x;
    struct buf b;
    const char *const ev[] = {"{\"t\":\"piece\",\"text\":\"Hi\",\"logprobs\":[" LP_A "]}",
                              /* a token whose text is still held back by the runner */
                              "{\"t\":\"piece\",\"text\":\"\",\"logprobs\":[" LP_B "]}", NULL};
    setup(&x);
    buf_init(&b, 1 << 20);
    x.f.events = ev;
    ASSERT_EQ_INT(
        call(&x, "/api/generate",
             "{\"model\":\"plain\",\"prompt\":\"q\",\"logprobs\":true,\"top_logprobs\":1}", &b),
        200);
    ASSERT(strstr(buf_str(&b), "\"response\":\"Hi\",\"done\":false,\"logprobs\":[" LP_A "]}\n"));
    ASSERT(strstr(buf_str(&b), "\"response\":\"\",\"done\":false,\"logprobs\":[" LP_B "]}\n"));
    /* the final line has none left */
    ASSERT(strstr(buf_str(&b), "\"done\":true"));
    ASSERT(!strstr(strstr(buf_str(&b), "\"done\":true"), "logprobs"));
    buf_fini(&b);
    teardown(&x);
}

TEST(logprob_api_chat_held_and_final)
{
    struct fixture x;
    struct buf b;
    const char *const call_ev[] = {
        "{\"t\":\"piece\",\"text\":\"<tool_call>{\\\"name\\\":\\\"f\\\",\",\"logprobs\":[" LP_A
        "]}",
        "{\"t\":\"piece\",\"text\":\"\\\"arguments\\\":{}}\",\"logprobs\":[" LP_B "]}", NULL};
    const char *body =
        "{\"model\":\"tooly\",\"logprobs\":true,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}"
        "],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}]}";
    setup(&x);
    buf_init(&b, 1 << 20);
    /* streamed: the tool-call text is held, its logprobs still go out on bare lines */
    x.f.events = call_ev;
    ASSERT_EQ_INT(call(&x, "/api/chat", body, &b), 200);
    ASSERT(strstr(buf_str(&b), "\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":"
                               "false,\"logprobs\":[" LP_A "]}\n"));
    ASSERT(strstr(buf_str(&b), "false,\"logprobs\":[" LP_B "]}\n"));
    ASSERT(strstr(buf_str(&b), "\"tool_calls\""));
    /* not streamed: every entry on the one object, before the metrics (ChatResponse order) */
    x.f.events = two_pieces;
    ASSERT_EQ_INT(call(&x, "/api/chat",
                       "{\"model\":\"plain\",\"stream\":false,\"logprobs\":true,\"messages\":"
                       "[{\"role\":\"user\",\"content\":\"q\"}]}",
                       &b),
                  200);
    ASSERT(strstr(buf_str(&b), "\"content\":\"Hi there\"},\"done\":true,\"done_reason\":\"stop\","
                               "\"logprobs\":[" LP_A "," LP_B "],\"total_duration\":"));
    buf_fini(&b);
    teardown(&x);
}

TEST(logprob_api_runner_entries_checked)
{
    struct api_serve_lp lp;
    json_t *in, *line;
    struct buf b;
    memset(&lp, 0, sizeof(lp));
    lp.on = 1;
    /* members rebuilt in Go order, unknown ones dropped, no top_logprobs key when empty */
    in = json_loads("[{\"bytes\":[65],\"x\":1,\"logprob\":-1,\"token\":\"A\",\"top_logprobs\":[]}]",
                    0, NULL);
    ASSERT_OK(api_serve_lp_add(&lp, in, NULL));
    json_decref(in);
    line = json_object();
    api_serve_lp_attach(&lp, line, 1);
    buf_init(&b, 4096);
    ASSERT_OK(json_go_encode(line, 0, &b));
    ASSERT_EQ_STR(buf_str(&b), "{\"logprobs\":[{\"token\":\"A\",\"logprob\":-1,\"bytes\":[65]}]}");
    json_decref(line);
    buf_fini(&b);
    /* malformed: byte out of range, non-string token, nested alternatives, too many */
    in = json_loads("[{\"token\":\"A\",\"logprob\":-1,\"bytes\":[256]}]", 0, NULL);
    ASSERT_EQ_INT(api_serve_lp_add(&lp, in, NULL), E_PARSE);
    json_decref(in);
    in = json_loads("[{\"token\":1,\"logprob\":-1}]", 0, NULL);
    ASSERT_EQ_INT(api_serve_lp_add(&lp, in, NULL), E_PARSE);
    json_decref(in);
    in = json_loads("[{\"token\":\"a\",\"logprob\":-1,\"top_logprobs\":[{\"token\":\"a\","
                    "\"logprob\":-1,\"top_logprobs\":[]}]}]",
                    0, NULL);
    ASSERT_EQ_INT(api_serve_lp_add(&lp, in, NULL), E_PARSE);
    json_decref(in);
    in = json_loads("[{\"token\":\"a\",\"logprob\":-1,\"top_logprobs\":[]}]", 0, NULL);
    for (int i = 0; i < 21; i++)
        json_array_append_new(json_object_get(json_array_get(in, 0), "top_logprobs"),
                              json_pack("{s:s, s:f}", "token", "b", "logprob", -2.0));
    ASSERT_EQ_INT(api_serve_lp_add(&lp, in, NULL), E_RANGE);
    json_decref(in);
    api_serve_lp_fini(&lp);
}

TEST(logprob_api_non_streamed_cap)
{
    struct api_serve_lp lp;
    struct err_info ei = {0};
    json_t *in = json_loads("[{\"token\":\"a\",\"logprob\":-1,\"top_logprobs\":[]}]", 0, NULL);
    size_t per = 1 + API_LP_MAX_TOP, i;
    int rc = 0;
    for (int k = 0; k < API_LP_MAX_TOP; k++)
        json_array_append_new(json_object_get(json_array_get(in, 0), "top_logprobs"),
                              json_pack("{s:s, s:f}", "token", "b", "logprob", -2.0));
    memset(&lp, 0, sizeof(lp));
    lp.on = 1;
    for (i = 0; i <= API_LP_MAX_ALL / per && rc == 0; i++)
        rc = api_serve_lp_add(&lp, in, &ei);
    ASSERT_EQ_INT(rc, E_BUSY);
    ASSERT_EQ_SIZE(i, API_LP_MAX_ALL / per + 1);
    ASSERT(strstr(ei.msg, "stream the answer"));
    ASSERT(lp.n_all <= API_LP_MAX_ALL + per);
    api_serve_lp_fini(&lp);
    /* streamed entries leave with each line: no cap on the whole answer */
    memset(&lp, 0, sizeof(lp));
    lp.on = 1;
    lp.stream = 1;
    for (i = 0; i <= API_LP_MAX_ALL / per; i++) {
        json_t *line = json_object();
        ASSERT_OK(api_serve_lp_add(&lp, in, &ei));
        api_serve_lp_attach(&lp, line, 0);
        ASSERT_EQ_SIZE(json_array_size(json_object_get(line, "logprobs")), 1);
        json_decref(line);
    }
    api_serve_lp_fini(&lp);
    json_decref(in);
}

TEST(logprob_api_bad_runner_entries_fail_request)
{
    struct fixture x;
    struct buf b;
    const char *const ev[] = {"{\"t\":\"piece\",\"text\":\"Hi\",\"logprobs\":{\"no\":1}}", NULL};
    setup(&x);
    buf_init(&b, 1 << 20);
    x.f.events = ev;
    ASSERT_EQ_INT(call(&x, "/api/generate",
                       "{\"model\":\"plain\",\"prompt\":\"q\",\"stream\":false,\"logprobs\":true}",
                       &b),
                  500);
    ASSERT(strstr(buf_str(&b), "invalid logprobs"));
    buf_fini(&b);
    teardown(&x);
}

/* ---- OpenAI translation (api_openai.c) ---- */

static json_t *jl(const char *s)
{
    json_t *v = json_loads(s, 0, NULL);
    ASSERT(v);
    return v;
}

TEST(logprob_openai_requests)
{
    json_t *in, *out = NULL;
    struct err_info ei = {0};
    /* chat: bool + int pass through (the native handler checks the range) */
    in = jl("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"logprobs\":"
            "true,\"top_logprobs\":3}");
    ASSERT_OK(oai_chat_request(in, &out, &ei));
    ASSERT(json_is_true(json_object_get(out, "logprobs")));
    ASSERT_EQ_INT(json_integer_value(json_object_get(out, "top_logprobs")), 3);
    json_decref(out);
    json_object_set_new(in, "top_logprobs", json_integer(21));
    json_object_set_new(in, "logprobs", json_false());
    ASSERT_OK(oai_chat_request(in, &out, &ei));
    ASSERT(!json_object_get(out, "logprobs"));
    ASSERT_EQ_INT(json_integer_value(json_object_get(out, "top_logprobs")), 21);
    json_decref(out);
    json_object_set_new(in, "logprobs", json_integer(1));
    ASSERT_EQ_INT(oai_chat_request(in, &out, &ei), E_INVAL);
    ASSERT(strstr(ei.msg, "ChatCompletionRequest.logprobs of type bool"));
    json_decref(in);
    /* completions: logprobs n > 0 -> logprobs with n alternatives; 0 -> off */
    in = jl("{\"model\":\"m\",\"prompt\":\"q\",\"logprobs\":2}");
    ASSERT_OK(oai_completion_request(in, &out, &ei));
    ASSERT(json_is_true(json_object_get(out, "logprobs")));
    ASSERT_EQ_INT(json_integer_value(json_object_get(out, "top_logprobs")), 2);
    json_decref(out);
    json_object_set_new(in, "logprobs", json_integer(0));
    ASSERT_OK(oai_completion_request(in, &out, &ei));
    ASSERT(!json_object_get(out, "logprobs") && !json_object_get(out, "top_logprobs"));
    json_decref(out);
    json_object_set_new(in, "logprobs", json_true());
    ASSERT_EQ_INT(oai_completion_request(in, &out, &ei), E_INVAL);
    ASSERT(strstr(ei.msg, "CompletionRequest.logprobs of type int"));
    json_decref(in);
}

TEST(logprob_openai_responses)
{
    struct oai_conv c;
    struct buf b;
    json_t *nat, *o;
    buf_init(&b, 1 << 20);
    /* chat, not streamed: choices[0].logprobs = {"content": entries} after finish_reason */
    oai_conv_init(&c, OAI_CHAT, 0);
    nat = jl("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi there\"},"
             "\"done\":true,\"done_reason\":\"stop\",\"logprobs\":[" LP_A "," LP_B "]}");
    o = oai_conv_final(&c, nat);
    ASSERT_OK(json_go_encode(o, 0, &b));
    ASSERT(strstr(buf_str(&b), "\"finish_reason\":\"stop\",\"logprobs\":{\"content\":[" LP_A
                               "," LP_B "]}}],\"usage\""));
    json_decref(o);
    json_decref(nat);
    /* chat, streamed: on the content chunk; a line with only logprobs still makes a chunk */
    buf_reset(&b);
    nat = jl("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
             "\"done\":false,\"logprobs\":[" LP_A "]}");
    ASSERT_OK(oai_conv_line(&c, nat, &b));
    json_decref(nat);
    ASSERT(strstr(buf_str(&b), "\"content\":\"Hi\"},\"finish_reason\":null,\"logprobs\":{"
                               "\"content\":[" LP_A "]}}]}\n\n"));
    buf_reset(&b);
    nat = jl("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
             "\"done\":false,\"logprobs\":[" LP_B "]}");
    ASSERT_OK(oai_conv_line(&c, nat, &b));
    json_decref(nat);
    ASSERT(strstr(buf_str(&b), "\"content\":\"\"},\"finish_reason\":null,\"logprobs\":{"
                               "\"content\":[" LP_B "]}}]}\n\n"));
    /* without logprobs nothing changes: an empty line makes no chunk */
    buf_reset(&b);
    nat = jl("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
             "\"done\":false}");
    ASSERT_OK(oai_conv_line(&c, nat, &b));
    json_decref(nat);
    ASSERT_EQ_SIZE(b.n, 0);
    /* completions: OpenAI's legacy shape, offsets in characters running across the stream */
    buf_reset(&b);
    oai_conv_init(&c, OAI_COMPLETION, 0);
    nat = jl("{\"model\":\"m\",\"response\":\"Hi\",\"done\":false,\"logprobs\":[" LP_A "]}");
    ASSERT_OK(oai_conv_line(&c, nat, &b));
    json_decref(nat);
    nat = jl("{\"model\":\"m\",\"response\":\" there\",\"done\":false,\"logprobs\":[" LP_B "]}");
    ASSERT_OK(oai_conv_line(&c, nat, &b));
    json_decref(nat);
    ASSERT(strstr(buf_str(&b), "\"finish_reason\":null,\"logprobs\":{\"tokens\":[\"Hi\"],"
                               "\"token_logprobs\":[-0.5],\"top_logprobs\":[{\"Hi\":-0.5,\"Yo\":"
                               "-1.5}],\"text_offset\":[0]}}]"));
    ASSERT(strstr(buf_str(&b), "\"logprobs\":{\"tokens\":[\" there\"],\"token_logprobs\":[-0.25],"
                               "\"top_logprobs\":[{\" there\":-0.25}],\"text_offset\":[2]}"));
    /* not streamed: all entries, offsets from 0 */
    buf_reset(&b);
    nat = jl("{\"model\":\"m\",\"response\":\"Hi there\",\"done\":true,\"done_reason\":"
             "\"length\",\"logprobs\":[" LP_A "," LP_B "]}");
    o = oai_conv_final(&c, nat);
    ASSERT_OK(json_go_encode(o, 0, &b));
    ASSERT(strstr(buf_str(&b), "\"finish_reason\":\"length\",\"logprobs\":{\"tokens\":[\"Hi\","
                               "\" there\"],\"token_logprobs\":[-0.5,-0.25],\"top_logprobs\":[{"
                               "\"Hi\":-0.5,\"Yo\":-1.5},{\" there\":-0.25}],\"text_offset\":[0,"
                               "2]}}]"));
    json_decref(o);
    json_decref(nat);
    buf_fini(&b);
}

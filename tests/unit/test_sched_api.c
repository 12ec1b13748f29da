/*
 * test_sched_api.c - unit tests of the serving handlers (src/api/api_generate.c, api_chat.c,
 * api_serve.c) without sockets or runners: a temporary store holds a model, a fake scheduler
 * (struct api_llm) replays canned runner events, and the handlers are called directly with a
 * memory sink.  Covers response shapes, stop/options plumbing, tool-call parsing, the load
 * idiom, errors, and the template a GGUF without TEMPLATE gets from its chat template.
 */
#include "harness/test.h"
#include "harness/api_env.h"

#include "api/api.h"
#include "api/api_llm.h"
#include "api/api_serve.h"
#include "common/mem.h"
#include "engine/gguf/gguf_write.h"

/* ---- fake scheduler ---- */

struct fake_llm {
    const char *const *pieces; /* texts the fake runner produces */
    json_t *last_body;         /* the complete body it was sent */
    int acquired, released, unloaded;
};

static int f_acquire(void *ctx, const struct api_llm_model *m, int64_t ka, const atomic_int *c,
                     void **lease, uint64_t *load_ns, struct err_info *ei)
{
    struct fake_llm *f = ctx;
    (void)m, (void)ka, (void)c, (void)ei;
    f->acquired++;
    *lease = f;
    *load_ns = 5;
    return 0;
}
static void f_release(void *lease, int64_t ka)
{
    (void)ka;
    ((struct fake_llm *)lease)->released++;
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
static int f_detok(void *lease, const int32_t *ids, size_t n, char **text, struct err_info *ei)
{
    (void)lease, (void)ids, (void)n, (void)ei;
    *text = mem_strdup("");
    return 0;
}
static int f_complete(void *lease, const json_t *msg, struct err_info *ei)
{
    struct fake_llm *f = lease;
    (void)ei;
    json_decref(f->last_body);
    f->last_body = json_deep_copy(msg);
    return 0;
}
static int f_next(void *lease, int ms, json_t **ev)
{
    struct fake_llm *f = lease;
    (void)ms;
    if (f->pieces && *f->pieces) {
        *ev = json_pack("{s:s, s:s}", "t", "piece", "text", *f->pieces++);
        return 0;
    }
    *ev = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:[i,i,i]}", "t", "done", "reason", "stop",
                    "prompt_n", 3, "prompt_ns", 1000, "eval_n", 2, "eval_ns", 2000, "context", 1, 2,
                    3);
    return 0;
}
static void f_cancel(void *lease)
{
    (void)lease;
}
static int f_unload(void *ctx, const char *key)
{
    (void)key;
    ((struct fake_llm *)ctx)->unloaded++;
    return 0;
}
static int f_is_loaded(void *ctx, const char *key)
{
    (void)ctx, (void)key;
    return 1;
}

struct fixture {
    struct test_api api;
    struct fake_llm f;
    struct api_llm llm;
};

#define MODEL_GGUF "tests/data/models/stories260K-Q4_0.gguf"

static void setup(struct fixture *x)
{
    memset(x, 0, sizeof(*x));
    test_api_open(&x->api);
    x->llm = (struct api_llm){&x->f,      f_acquire, f_release, f_num_ctx, f_tokenize,  f_detok,
                              f_complete, f_next,    f_cancel,  f_unload,  f_is_loaded, NULL};
    x->api.env.user[API_ENV_LLM] = &x->llm;
    test_api_put_model(&x->api, "plain", MODEL_GGUF, NULL);
    test_api_put_model(&x->api, "tooly", MODEL_GGUF,
                       "{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}{{ end }}{{ if .Tools "
                       "}}T{{ end }}<|assistant|>{{ if .ToolCalls }}<tool_call>{{ range "
                       ".ToolCalls }}{{ .Function.Name }}{{ end }}</tool_call>{{ end }}");
    test_api_put_model(&x->api, "thinky", MODEL_GGUF,
                       "{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}{{ end }}<|assistant|>{{ "
                       "if .Think }}<think>{{ end }}");
}

static json_t *call(struct fixture *x, const char *path, const char *body, int *status)
{
    return test_api_post_json(&x->api, path, body, status);
}

TEST(api_generate_shape_and_options)
{
    struct fixture x;
    const char *pieces[] = {"Hello", " world", NULL};
    int st = 0;
    json_t *o;
    setup(&x);
    x.f.pieces = pieces;
    o = call(&x, "/api/generate",
             "{\"model\":\"plain\",\"prompt\":\"hi\",\"stream\":false,\"options\":"
             "{\"num_predict\":7,\"stop\":[\"x\"],\"num_ctx\":64,\"bogus\":1}}",
             &st);
    ASSERT_EQ_INT(st, 200);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "response")), "Hello world");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "done_reason")), "stop");
    ASSERT_EQ_INT(json_array_size(json_object_get(o, "context")), 3);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "eval_count")), 2);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "load_duration")), 5);
    /* runner options stay out of the complete body; sampling options go in */
    ASSERT_EQ_INT(json_integer_value(json_object_get(x.f.last_body, "num_predict")), 7);
    ASSERT(json_object_get(x.f.last_body, "num_ctx") == NULL);
    ASSERT(json_object_get(x.f.last_body, "bogus") == NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(x.f.last_body, "prompt")), "hi");
    ASSERT_EQ_INT(x.f.released, 1);
    json_decref(o);
    json_decref(x.f.last_body);
    test_api_close(&x.api);
}

TEST(api_generate_errors_and_load)
{
    struct fixture x;
    int st = 0;
    json_t *o;
    setup(&x);
    o = call(&x, "/api/generate", "{\"model\":\"missing\",\"prompt\":\"hi\"}", &st);
    ASSERT_EQ_INT(st, 404);
    json_decref(o);
    o = call(&x, "/api/generate",
             "{\"model\":\"plain\",\"prompt\":\"hi\",\"raw\":true,"
             "\"template\":\"x\"}",
             &st);
    ASSERT_EQ_INT(st, 400);
    json_decref(o);
    o = call(&x, "/api/generate",
             "{\"model\":\"plain\",\"prompt\":\"hi\",\"options\":"
             "{\"temperature\":\"hot\"}}",
             &st);
    ASSERT_EQ_INT(st, 400);
    ASSERT(strstr(json_string_value(json_object_get(o, "error")), "temperature"));
    json_decref(o);
    o = call(&x, "/api/generate", "{\"model\":\"plain\",\"keep_alive\":\"1h\"}", &st);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "done_reason")), "load");
    json_decref(o);
    o = call(&x, "/api/generate", "{\"model\":\"plain\",\"keep_alive\":0}", &st);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "done_reason")), "unload");
    ASSERT_EQ_INT(x.f.unloaded, 1);
    json_decref(o);
    o = call(&x, "/api/generate", "{\"model\":\"plain\",\"prompt\":\"x\",\"keep_alive\":\"soon\"}",
             &st);
    ASSERT_EQ_INT(st, 400);
    json_decref(o);
    test_api_close(&x.api);
}

TEST(api_chat_tool_calls_parsed)
{
    struct fixture x;
    const char *pieces[] = {"<tool", "_call>{\"name\": \"get_weather\", \"arguments\": ",
                            "{\"city\": \"Paris\"}}</tool_call>", NULL};
    int st = 0;
    json_t *o, *calls, *fn;
    setup(&x);
    x.f.pieces = pieces;
    o = call(&x, "/api/chat",
             "{\"model\":\"tooly\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"weather?\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
             "\"get_weather\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]}",
             &st);
    ASSERT_EQ_INT(st, 200);
    calls = json_object_get(json_object_get(o, "message"), "tool_calls");
    ASSERT_EQ_INT(json_array_size(calls), 1);
    fn = json_object_get(json_array_get(calls, 0), "function");
    ASSERT_EQ_STR(json_string_value(json_object_get(fn, "name")), "get_weather");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(fn, "arguments"), "city")),
                  "Paris");
    ASSERT(strncmp(json_string_value(json_object_get(json_array_get(calls, 0), "id")), "call_",
                   5) == 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(o, "message"), "content")), "");
    /* the template rendered the tools and the messages */
    ASSERT(strstr(json_string_value(json_object_get(x.f.last_body, "prompt")), "<|user|>weather?"));
    json_decref(o);
    json_decref(x.f.last_body);
    /* plain content stays content; tools on a model without .Tools is a 400 */
    o = call(&x, "/api/chat",
             "{\"model\":\"plain\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
             "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}",
             &st);
    ASSERT_EQ_INT(st, 400);
    json_decref(o);
    test_api_close(&x.api);
}

TEST(api_chat_stream_lines)
{
    struct fixture x;
    const char *pieces[] = {"A", "B", NULL};
    const struct api_route *r = NULL;
    const char *param = NULL;
    struct api_req req;
    struct api_resp resp;
    const char *body = "{\"model\":\"plain\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}";
    setup(&x);
    x.f.pieces = pieces;
    memset(&req, 0, sizeof(req));
    ASSERT_OK(api_route_find("POST", "/api/chat", &r, &param));
    req.json = json_loads(body, 0, NULL);
    req.env = &x.api.env;
    api_resp_init(&resp, NULL, NULL);
    ASSERT_OK(r->fn(&req, &resp));
    ASSERT(strstr(buf_str(&resp.body), "\"message\":{\"role\":\"assistant\",\"content\":\"A\"},"
                                       "\"done\":false"));
    ASSERT(strstr(buf_str(&resp.body), "\"done\":true,\"done_reason\":\"stop\""));
    ASSERT(!strstr(buf_str(&resp.body), "\"context\""));
    api_resp_fini(&resp);
    json_decref(req.json);
    json_decref(x.f.last_body);
    test_api_close(&x.api);
}

TEST(api_template_from_gguf_chat_template)
{
    struct gguf_writer *w = NULL;
    char path[4096], *tmpl = NULL;
    json_t *params = NULL;
    snprintf(path, sizeof(path), "%s/chatml.gguf", test_tmpdir());
    ASSERT_OK(gguf_w_new(&w));
    ASSERT_OK(gguf_w_set_str(w, "general.architecture", "llama"));
    ASSERT_OK(
        gguf_w_set_str(w, "tokenizer.chat_template",
                       "{% for message in messages %}{{'<|im_start|>' + message['role'] + "
                       "'\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
                       "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"));
    ASSERT_OK(gguf_w_write_file(w, path, NULL));
    gguf_w_free(w);
    ASSERT_OK(api_template_for_gguf(path, &tmpl, &params));
    ASSERT(strstr(tmpl, "<|im_start|>"));
    mem_free(tmpl);
    json_decref(params);
    ASSERT_OK(api_template_for_gguf("tests/data/models/stories260K-Q4_0.gguf", &tmpl, &params));
    ASSERT_EQ_STR(tmpl, "{{ .Prompt }}");
    ASSERT(params == NULL);
    mem_free(tmpl);
}

TEST(api_thinking_split)
{
    struct fixture x;
    const char *inside[] = {"I ponder", " more</thi", "nk>\n\nAnswer", NULL};
    const char *tags[] = {"  <thi", "nk>hmm</think>", "Done", NULL};
    int st = 0;
    json_t *o, *msg;
    setup(&x);
    /* chat, think:true: the prompt opens <think>, output is thinking until </think> */
    x.f.pieces = inside;
    o = call(&x, "/api/chat",
             "{\"model\":\"thinky\",\"think\":true,\"stream\":false,\"messages\":"
             "[{\"role\":\"user\",\"content\":\"q\"}]}",
             &st);
    ASSERT_EQ_INT(st, 200);
    msg = json_object_get(o, "message");
    ASSERT_EQ_STR(json_string_value(json_object_get(msg, "thinking")), "I ponder more");
    ASSERT_EQ_STR(json_string_value(json_object_get(msg, "content")), "Answer");
    json_decref(o);
    json_decref(x.f.last_body);
    x.f.last_body = NULL;
    /* generate, think unset on a thinking model: a leading <think> block is split off */
    x.f.pieces = tags;
    o = call(&x, "/api/generate", "{\"model\":\"thinky\",\"prompt\":\"q\",\"stream\":false}", &st);
    ASSERT_EQ_INT(st, 200);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "thinking")), "hmm");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "response")), "Done");
    json_decref(o);
    json_decref(x.f.last_body);
    x.f.last_body = NULL;
    /* think on a model without thinking is a 400 */
    o = call(&x, "/api/generate", "{\"model\":\"plain\",\"prompt\":\"q\",\"think\":true}", &st);
    ASSERT_EQ_INT(st, 400);
    json_decref(o);
    test_api_close(&x.api);
}

TEST(api_generate_template_system_suffix)
{
    struct fixture x;
    int st = 0;
    json_t *o;
    setup(&x);
    o = call(&x, "/api/generate",
             "{\"model\":\"plain\",\"prompt\":\"hi\",\"system\":\"be brief\",\"template\":"
             "\"S:{{ .System }} P:{{ .Prompt }}\",\"stream\":false,\"context\":[5,6]}",
             &st);
    ASSERT_EQ_INT(st, 200);
    ASSERT_EQ_STR(json_string_value(json_object_get(x.f.last_body, "prompt")), "S:be brief P:hi");
    ASSERT_EQ_INT(json_array_size(json_object_get(x.f.last_body, "context")), 2);
    json_decref(o);
    /* raw: the prompt goes verbatim and no context comes back */
    o = call(&x, "/api/generate",
             "{\"model\":\"plain\",\"prompt\":\"{{ x }}\",\"raw\":true,"
             "\"stream\":false}",
             &st);
    ASSERT_EQ_INT(st, 200);
    ASSERT_EQ_STR(json_string_value(json_object_get(x.f.last_body, "prompt")), "{{ x }}");
    ASSERT(json_object_get(o, "context") == NULL);
    json_decref(o);
    /* suffix needs a template with .Suffix */
    o = call(&x, "/api/generate", "{\"model\":\"plain\",\"prompt\":\"a\",\"suffix\":\"b\"}", &st);
    ASSERT_EQ_INT(st, 400);
    ASSERT(strstr(json_string_value(json_object_get(o, "error")), "does not support insert"));
    json_decref(o);
    json_decref(x.f.last_body);
    test_api_close(&x.api);
}

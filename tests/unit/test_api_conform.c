/*
 * test_api_conform.c - /api/tags and /api/show details checked against Ollama's server code:
 * tags sorted stably on whole seconds of modified_at (newest first, ties in listing order),
 * details.context_length / embedding_length and capabilities on each tags entry, and the
 * capability derivation order (config, completion/embedding, vision, template, family).
 */
#include "harness/test.h"
#include "harness/api_env.h"

#include <sys/stat.h>
#include <utime.h>

#include "api/api.h"
#include "api/api_model.h"
#include "common/json.h"
#include "common/mem.h"
#include "store/store.h"

#define CF_GGUF "testdata/models/stories260K.gguf"

struct cenv {
    struct test_api api;
    char digest[72]; /* the model blob */
};

static void cenv_open(struct cenv *e)
{
    test_api_open(&e->api);
    test_api_put_blob(&e->api, CF_GGUF, e->digest);
}

static void create(struct cenv *e, const char *name, const char *extra, time_t mtime)
{
    char body[512], path[1024];
    struct api_resp resp;
    struct store_name nm;
    struct utimbuf ut = {mtime, mtime};
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"files\":{\"m.gguf\":\"%s\"}%s,\"stream\":false}", name, e->digest,
             extra);
    ASSERT_EQ_INT(test_api_call(&e->api, "POST", "/api/create", body, &resp), 200);
    api_resp_fini(&resp);
    ASSERT_OK(store_name_parse(name, &nm, NULL));
    ASSERT_OK(store_manifest_path(e->api.st, &nm, path, sizeof(path)));
    ASSERT_EQ_INT(utime(path, &ut), 0);
}

static json_t *tags(struct cenv *e)
{
    struct api_resp resp;
    struct err_info ei = {0};
    json_t *out = NULL;
    ASSERT_EQ_INT(test_api_call(&e->api, "GET", "/api/tags", NULL, &resp), 200);
    ASSERT_OK(json_parse_object(buf_str(&resp.body), resp.body.n, &out, &ei));
    api_resp_fini(&resp);
    return out;
}

/* Compact Go-style JSON text without the encoder's trailing newline; caller frees. */
static char *dump(const json_t *v)
{
    char *s = NULL;
    size_t n = 0;
    ASSERT_OK(json_go_dumps(v, 0, &s, &n));
    if (n && s[n - 1] == '\n')
        s[n - 1] = '\0';
    return s;
}

TEST(api_tags_order_whole_seconds_stable)
{
    struct cenv e;
    json_t *t, *ms;
    const char *want[] = {"newest:latest", "a:latest", "b:latest", "c:latest", "old:latest"};
    cenv_open(&e);
    create(&e, "c", "", 1700000000);
    create(&e, "old", "", 1600000000);
    create(&e, "a", "", 1700000000);
    create(&e, "newest", "", 1800000000);
    create(&e, "b", "", 1700000000);
    t = tags(&e);
    ms = json_object_get(t, "models");
    ASSERT_EQ_SIZE(json_array_size(ms), 5);
    for (size_t i = 0; i < 5; i++)
        ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(ms, i), "name")), want[i]);
    json_decref(t);
    test_api_close(&e.api);
}

TEST(api_tags_entry_fields)
{
    struct cenv e;
    json_t *t, *m, *d;
    char *s = NULL;
    cenv_open(&e);
    create(&e, "tools", ",\"template\":\"{{ if .Tools }}T{{ end }}{{ .Prompt }}\"", 1700000000);
    t = tags(&e);
    m = json_array_get(json_object_get(t, "models"), 0);
    d = json_object_get(m, "details");
    ASSERT_EQ_INT((int)json_integer_value(json_object_get(d, "context_length")), 2048);
    ASSERT_EQ_INT((int)json_integer_value(json_object_get(d, "embedding_length")), 64);
    s = dump(json_object_get(m, "capabilities"));
    ASSERT_EQ_STR(s, "[\"completion\",\"tools\"]");
    mem_free(s);
    /* Go field order: name model modified_at size digest details capabilities */
    s = dump(m);
    ASSERT(strstr(s, "\"quantization_level\":\"F32\",\"context_length\":2048,"
                     "\"embedding_length\":64},\"capabilities\":["));
    mem_free(s);
    json_decref(t);
    test_api_close(&e.api);
}

TEST(api_capabilities_order)
{
    struct api_model m;
    struct api_gguf_facts f;
    char *s = NULL;
    json_t *c;
    memset(&m, 0, sizeof(m));
    memset(&f, 0, sizeof(f));
    m.config = json_pack("{s:s,s:[s,s]}", "model_family", "gpt-oss", "capabilities", "tools",
                         "completion");
    f.vision = 1;
    c = api_model_capabilities(&m, &f, "{{ .Suffix }}{{ .Thinking }}{{ .Tools }}");
    s = dump(c);
    ASSERT_EQ_STR(s, "[\"tools\",\"completion\",\"vision\",\"insert\",\"thinking\"]");
    mem_free(s);
    json_decref(c);
    f.vision = 0;
    f.embedding_only = 1;
    json_object_set_new(m.config, "model_family", json_string("bert"));
    json_object_del(m.config, "capabilities");
    c = api_model_capabilities(&m, &f, NULL);
    s = dump(c);
    ASSERT_EQ_STR(s, "[\"embedding\"]");
    mem_free(s);
    json_decref(c);
    c = api_model_capabilities(&m, NULL, NULL);
    s = dump(c);
    ASSERT_EQ_STR(s, "[\"completion\"]");
    mem_free(s);
    json_decref(c);
    json_decref(m.config);
}

/* GetModelInfo: the default template when there is no template layer, and parser.quote for
 * TEMPLATE / SYSTEM / LICENSE in the generated Modelfile. */
TEST(api_show_default_template_and_quoting)
{
    struct cenv e;
    struct api_resp resp;
    struct err_info ei = {0};
    json_t *o = NULL;
    const char *mf;
    cenv_open(&e);
    create(&e, "plain", ",\"license\":\"MIT\",\"system\":\" edge\"", 1700000000);
    ASSERT_EQ_INT(test_api_call(&e.api, "POST", "/api/show", "{\"model\":\"plain\"}", &resp), 200);
    ASSERT_OK(json_parse_object(buf_str(&resp.body), resp.body.n, &o, &ei));
    api_resp_fini(&resp);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "template")), "{{ .Prompt }}");
    mf = json_string_value(json_object_get(o, "modelfile"));
    ASSERT(strstr(mf, "\nTEMPLATE {{ .Prompt }}\n"));
    ASSERT(strstr(mf, "\nSYSTEM \" edge\"\n"));
    ASSERT(strstr(mf, "\nLICENSE MIT\n"));
    json_decref(o);
    create(&e, "multi", ",\"template\":\"a\\n\\\"b\\\"\"", 1700000000);
    ASSERT_EQ_INT(test_api_call(&e.api, "POST", "/api/show", "{\"model\":\"multi\"}", &resp), 200);
    ASSERT_OK(json_parse_object(buf_str(&resp.body), resp.body.n, &o, &ei));
    api_resp_fini(&resp);
    mf = json_string_value(json_object_get(o, "modelfile"));
    ASSERT(strstr(mf, "\nTEMPLATE \"\"\"a\n\"b\"\"\"\"\n"));
    json_decref(o);
    test_api_close(&e.api);
}

/* getModelData: without verbose, non-empty arrays come out null (values not kept); with
 * verbose, whole; general.name and tokenizer.chat_template never. */
TEST(api_show_model_info_arrays)
{
    struct cenv e;
    struct api_resp resp;
    struct err_info ei = {0};
    json_t *o = NULL, *info;
    cenv_open(&e);
    create(&e, "m", "", 1700000000);
    ASSERT_EQ_INT(test_api_call(&e.api, "POST", "/api/show", "{\"model\":\"m\"}", &resp), 200);
    ASSERT(strstr(buf_str(&resp.body), "\"tokenizer.ggml.tokens\":null"));
    ASSERT_OK(json_parse_object(buf_str(&resp.body), resp.body.n, &o, &ei));
    api_resp_fini(&resp);
    info = json_object_get(o, "model_info");
    ASSERT(json_is_null(json_object_get(info, "tokenizer.ggml.scores")));
    ASSERT(!json_object_get(info, "general.name"));
    ASSERT_EQ_INT((int)json_integer_value(json_object_get(info, "general.parameter_count")),
                  292800);
    json_decref(o);
    ASSERT_EQ_INT(
        test_api_call(&e.api, "POST", "/api/show", "{\"model\":\"m\",\"verbose\":true}", &resp),
        200);
    ASSERT_OK(json_parse_object(buf_str(&resp.body), resp.body.n, &o, &ei));
    api_resp_fini(&resp);
    info = json_object_get(o, "model_info");
    ASSERT_EQ_SIZE(json_array_size(json_object_get(info, "tokenizer.ggml.tokens")), 512);
    json_decref(o);
    test_api_close(&e.api);
}

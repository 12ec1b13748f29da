/*
 * test_api_quantize.c - the quantize field of /api/create: type names (Ollama's upper-casing,
 * Q4_K alias, unknown types and their message), the source-type rule, and the handler's error
 * answers (unknown type, already-quantized source, wrong JSON type) leaving no model behind,
 * plus one q8_0 create from the bundled F32 model whose config reports the new level.
 */
#include "harness/test.h"
#include "harness/api_env.h"

#include <dirent.h>

#include "api/api.h"
#include "api/api_quantize.h"
#include "common/json.h"
#include "common/mem.h"
#include "engine/quant/quant.h"
#include "store/store.h"

#define QT_GGUF "testdata/models/stories260K.gguf"

TEST(api_quantize_type_names)
{
    struct err_info ei = {0};
    char canon[API_QUANT_NAME_MAX];
    uint32_t ft = 0;
    ASSERT_OK(api_quantize_type("q4_K_M", &ft, canon, &ei));
    ASSERT_EQ_STR(canon, "Q4_K_M");
    ASSERT_EQ_INT((int)ft, QUANT_FT_Q4_K_M);
    ASSERT_OK(api_quantize_type("q4_k", &ft, canon, &ei)); /* Ollama's alias */
    ASSERT_EQ_STR(canon, "Q4_K_M");
    ASSERT_OK(api_quantize_type("Q8_0", &ft, canon, &ei));
    ASSERT_EQ_INT((int)ft, QUANT_FT_Q8_0);
    ASSERT_OK(api_quantize_type("q4_k_s", &ft, canon, &ei));
    ASSERT_EQ_STR(canon, "Q4_K_S");
    ASSERT_OK(api_quantize_type("f16", &ft, canon, &ei));
    ASSERT_OK(api_quantize_type("bf16", &ft, canon, &ei));
    ASSERT_OK(api_quantize_type("q4_0", &ft, canon, &ei));
    ASSERT_EQ_INT(api_quantize_type("q9_9", &ft, canon, &ei), E_INVAL);
    ASSERT(
        !strncmp(ei.msg, "unsupported quantization type q9_9 - supported types are F32, F16", 60));
    ASSERT_EQ_INT(api_quantize_type("", &ft, canon, &ei), E_INVAL);
    ASSERT_EQ_INT(api_quantize_type("iq2_xxs", &ft, canon, &ei), E_INVAL);
    ASSERT_EQ_INT(api_quantize_type("Q4_K_M_PLUS_A_VERY_LONG_NAME", &ft, canon, &ei), E_INVAL);
    ASSERT_EQ_INT(api_quantize_type(NULL, &ft, canon, &ei), E_INVAL);
}

TEST(api_quantize_source_types)
{
    ASSERT(api_quantize_source_ok("F16"));
    ASSERT(api_quantize_source_ok("BF16"));
    ASSERT(api_quantize_source_ok("F32"));
    ASSERT(!api_quantize_source_ok("Q8_0"));
    ASSERT(!api_quantize_source_ok("Q4_K_M"));
    ASSERT(!api_quantize_source_ok("unknown"));
    ASSERT(!api_quantize_source_ok(NULL));
}

struct qenv {
    struct test_api api;
    char digest[72]; /* the F32 model blob */
};

static void qenv_open(struct qenv *e)
{
    test_api_open(&e->api);
    test_api_put_blob(&e->api, QT_GGUF, e->digest);
}

/* POST /api/create with body; returns the status, body text in resp (caller finis it). */
static int qcreate(struct qenv *e, const char *body, struct api_resp *resp)
{
    return test_api_call(&e->api, "POST", "/api/create", body, resp);
}

static void expect_create(struct qenv *e, const char *model, const char *extra, int status,
                          const char *want_body)
{
    char body[512];
    struct api_resp resp;
    snprintf(body, sizeof(body), "{\"model\":\"%s\",\"files\":{\"m.gguf\":\"%s\"},%s}", model,
             e->digest, extra);
    ASSERT_EQ_INT(qcreate(e, body, &resp), status);
    if (want_body)
        ASSERT_EQ_STR(buf_str(&resp.body), want_body);
    api_resp_fini(&resp);
}

static int model_exists(struct qenv *e, const char *name)
{
    struct store_name nm;
    char *bytes = NULL;
    size_t n = 0;
    int rc;
    ASSERT_OK(store_name_parse(name, &nm, NULL));
    rc = store_manifest_read(e->api.st, &nm, &bytes, &n);
    mem_free(bytes);
    return rc == 0;
}

TEST(api_create_quantize_errors)
{
    struct qenv e;
    struct api_resp resp;
    qenv_open(&e);
    expect_create(&e, "bad", "\"quantize\":\"q9_9\",\"stream\":false", 400, NULL);
    expect_create(&e, "bad", "\"quantize\":7,\"stream\":false", 400,
                  "{\"error\":\"quantize must be a string\"}");
    expect_create(&e, "bad", "\"quantization\":\"nope\"", 400, NULL);
    ASSERT(!model_exists(&e, "bad"));
    /* a Q8_0 model cannot be quantized again (Ollama's message), not even to Q8_0 */
    expect_create(&e, "q8", "\"quantize\":\"q8_0\",\"stream\":false", 200,
                  "{\"status\":\"success\"}");
    ASSERT(model_exists(&e, "q8"));
    ASSERT_EQ_INT(qcreate(&e, "{\"model\":\"again\",\"from\":\"q8\",\"quantize\":\"q4_0\"}", &resp),
                  400);
    ASSERT_EQ_STR(buf_str(&resp.body),
                  "{\"error\":\"quantization is only supported for F16, BF16 and F32 models\"}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(qcreate(&e, "{\"model\":\"again\",\"from\":\"q8\",\"quantize\":\"Q8_0\"}", &resp),
                  400);
    api_resp_fini(&resp);
    ASSERT(!model_exists(&e, "again"));
    test_api_close(&e.api);
}

TEST(api_create_quantize_streams_progress)
{
    struct qenv e;
    struct api_resp resp;
    char body[512];
    const char *s;
    qenv_open(&e);
    snprintf(body, sizeof(body),
             "{\"model\":\"q4\",\"files\":{\"m.gguf\":\"%s\"},\"quantization\":\"Q4_0\"}",
             e.digest);
    ASSERT_EQ_INT(qcreate(&e, body, &resp), 200);
    s = buf_str(&resp.body);
    ASSERT(strstr(s, "{\"status\":\"quantizing F32 model to Q4_0\",\"digest\":"
                     "\"0000000000000000000\",\"total\":1185376,\"completed\":0}\n"));
    ASSERT(strstr(s, "\"total\":1185376,\"completed\":1185376}\n{\"status\":\"verifying "
                     "conversion\"}\n{\"status\":\"creating new layer sha256:"));
    ASSERT(strstr(s, "{\"status\":\"success\"}\n"));
    ASSERT(!strstr(s, "using existing layer")); /* the new layer is announced once */
    api_resp_fini(&resp);
    ASSERT(model_exists(&e, "q4"));
    test_api_close(&e.api);
}

static void expect_call(struct qenv *e, const char *method, const char *path, const char *body,
                        int status, const char *want)
{
    struct api_resp resp;
    ASSERT_EQ_INT(test_api_call(&e->api, method, path, body, &resp), status);
    ASSERT_EQ_STR(buf_str(&resp.body), want);
    api_resp_fini(&resp);
}

/* The words of Ollama's server/routes.go handlers for missing and invalid names. */
TEST(api_manage_error_messages_like_ollama)
{
    struct qenv e;
    qenv_open(&e);
    expect_call(&e, "POST", "/api/show", "{\"model\":\"nope\"}", 404,
                "{\"error\":\"model 'nope:latest' not found\"}");
    expect_call(&e, "POST", "/api/show", "{\"model\":\"me/nope:v2\"}", 404,
                "{\"error\":\"model 'me/nope:v2' not found\"}");
    expect_call(&e, "POST", "/api/show", "{\"model\":\"bad name\"}", 400,
                "{\"error\":\"invalid model name\"}");
    expect_call(&e, "DELETE", "/api/delete", "{\"model\":\"nope\"}", 404,
                "{\"error\":\"model 'nope' not found\"}");
    expect_call(&e, "DELETE", "/api/delete", "{\"model\":\"bad name\"}", 400,
                "{\"error\":\"name \\\"bad name\\\" is invalid\"}");
    expect_call(&e, "POST", "/api/copy", "{\"source\":\"nope\",\"destination\":\"x\"}", 404,
                "{\"error\":\"model \\\"nope\\\" not found\"}");
    expect_call(&e, "POST", "/api/copy", "{\"source\":\"bad name\",\"destination\":\"x\"}", 400,
                "{\"error\":\"source \\\"bad name\\\" is invalid\"}");
    expect_call(&e, "POST", "/api/copy", "{\"source\":\"x\",\"destination\":\"a/../b\"}", 400,
                "{\"error\":\"destination \\\"a/../b\\\" is invalid\"}");
    expect_call(&e, "POST", "/api/copy", "{\"source\":\"a\\\"b\",\"destination\":\"x\"}", 400,
                "{\"error\":\"source \\\"a\\\\\\\"b\\\" is invalid\"}"); /* Go %q */
    expect_call(&e, "POST", "/api/copy", "{\"destination\":\"x\"}", 400,
                "{\"error\":\"source \\\"\\\" is invalid\"}");
    expect_call(&e, "POST", "/api/create", "{\"model\":\"bad name\",\"from\":\"x\"}", 400,
                "{\"error\":\"invalid model name\"}");
    test_api_close(&e.api);
}

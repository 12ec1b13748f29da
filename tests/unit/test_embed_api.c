/*
 * test_embed_api.c - unit tests of src/api/api_embed.c over a fake scheduler (struct api_llm)
 * whose `embed` returns a canned vector: /api/embed normalises it once (and truncates to
 * `dimensions`), the legacy /api/embeddings returns it as is, inputs are tokenized as the runner
 * embeds them (special tokens added and parsed), prompt_eval_count counts at most num_ctx
 * tokens per input when truncating, truncate:false refuses longer inputs with Ollama's 400, and
 * runner errors / NaN vectors become 500s with their message.
 */
#include "harness/test.h"
#include "harness/api_env.h"

#include <math.h>
#include <string.h>

#include "api/api.h"
#include "api/api_llm.h"
#include "common/mem.h"

#define FAKE_NUM_CTX 8

struct fake {
    float vec[2];  /* what embed answers */
    int fail;      /* embed fails like a runner without embeddings */
    int n_embed;   /* embed calls */
    int add, spec; /* flags of the last tokenize call */
    int released;
};

static int f_acquire(void *ctx, const struct api_llm_model *m, int64_t ka, const atomic_int *c,
                     void **lease, uint64_t *load_ns, struct err_info *ei)
{
    (void)m, (void)ka, (void)c, (void)ei;
    *lease = ctx;
    *load_ns = 0;
    return 0;
}
static void f_release(void *lease, int64_t ka)
{
    (void)ka;
    ((struct fake *)lease)->released++;
}
static int32_t f_num_ctx(void *lease)
{
    (void)lease;
    return FAKE_NUM_CTX;
}
/* One token per 4 bytes plus BOS. */
static int f_tokenize(void *lease, const char *t, int a, int s, int32_t **ids, size_t *n,
                      struct err_info *ei)
{
    struct fake *f = lease;
    (void)ei;
    f->add = a;
    f->spec = s;
    *n = strlen(t) / 4 + 1;
    *ids = mem_calloc(*n, sizeof(int32_t));
    return *ids ? 0 : E_NOMEM;
}
static int f_embed(void *lease, const char *text, float **vec, size_t *n, struct err_info *ei)
{
    struct fake *f = lease;
    (void)text;
    f->n_embed++;
    if (f->fail)
        return err_set(ei, E_IO, "this model does not support embeddings");
    if (!(*vec = mem_alloc_array(2, sizeof(float))))
        return E_NOMEM;
    memcpy(*vec, f->vec, sizeof(f->vec));
    *n = 2;
    return 0;
}

struct fixture {
    struct test_api api;
    struct fake f;
    struct api_llm llm;
};

static void setup(struct fixture *x)
{
    memset(x, 0, sizeof(*x));
    test_api_open(&x->api);
    test_api_put_model(&x->api, "stories", "tests/data/models/stories260K.gguf", NULL);
    x->f.vec[0] = 3.0f;
    x->f.vec[1] = 4.0f;
    x->llm.ctx = &x->f;
    x->llm.acquire = f_acquire;
    x->llm.release = f_release;
    x->llm.num_ctx = f_num_ctx;
    x->llm.tokenize = f_tokenize;
    x->llm.embed = f_embed;
    x->api.env.user[API_ENV_LLM] = &x->llm;
}

static json_t *call(struct fixture *x, const char *path, const char *body, int *status)
{
    return test_api_post_json(&x->api, path, body, status);
}

static double at(const json_t *arr, size_t i)
{
    return json_number_value(json_array_get(arr, i));
}

TEST(embed_api_normalised_once)
{
    struct fixture x;
    int st = 0;
    json_t *o, *e;
    setup(&x);
    o = call(&x, "/api/embed", "{\"model\":\"stories\",\"input\":[\"abcd\",\"abcdefgh\"]}", &st);
    ASSERT_EQ_INT(st, 200);
    e = json_object_get(o, "embeddings");
    ASSERT_EQ_INT(json_array_size(e), 2);
    ASSERT_NEAR(at(json_array_get(e, 0), 0), 0.6, 1e-7);
    ASSERT_NEAR(at(json_array_get(e, 0), 1), 0.8, 1e-7);
    ASSERT_NEAR(at(json_array_get(e, 1), 1), 0.8, 1e-7);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "prompt_eval_count")), 2 + 3);
    ASSERT_EQ_INT(x.f.n_embed, 2);
    ASSERT_EQ_INT(x.f.add, 1); /* counted as the runner embeds: BOS/EOS added, specials parsed */
    ASSERT_EQ_INT(x.f.spec, 1);
    ASSERT_EQ_INT(x.f.released, 1);
    json_decref(o);
    /* dimensions: truncated, then normalised again */
    o = call(&x, "/api/embed", "{\"model\":\"stories\",\"input\":\"abcd\",\"dimensions\":1}", &st);
    ASSERT_EQ_INT(st, 200);
    e = json_array_get(json_object_get(o, "embeddings"), 0);
    ASSERT_EQ_INT(json_array_size(e), 1);
    ASSERT_NEAR(at(e, 0), 1.0, 1e-7);
    json_decref(o);
    test_api_close(&x.api);
}

TEST(embed_api_legacy_not_normalised)
{
    struct fixture x;
    int st = 0;
    json_t *o, *e;
    setup(&x);
    o = call(&x, "/api/embeddings", "{\"model\":\"stories\",\"prompt\":\"abcd\"}", &st);
    ASSERT_EQ_INT(st, 200);
    e = json_object_get(o, "embedding");
    ASSERT_EQ_INT(json_array_size(e), 2);
    ASSERT_NEAR(at(e, 0), 3.0, 0);
    ASSERT_NEAR(at(e, 1), 4.0, 0);
    ASSERT_EQ_INT(json_object_size(o), 1);
    json_decref(o);
    test_api_close(&x.api);
}

TEST(embed_api_truncation)
{
    struct fixture x;
    int st = 0;
    json_t *o;
    /* 40 bytes: 11 tokens > num_ctx 8 */
    const char *keep =
        "{\"model\":\"stories\",\"input\":[\"0123456789012345678901234567890123456789\","
        "\"abcd\"]}";
    const char *refuse = "{\"model\":\"stories\",\"truncate\":false,\"input\":"
                         "\"0123456789012345678901234567890123456789\"}";
    setup(&x);
    o = call(&x, "/api/embed", keep, &st);
    ASSERT_EQ_INT(st, 200);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "prompt_eval_count")), FAKE_NUM_CTX + 2);
    json_decref(o);
    x.f.n_embed = 0;
    o = call(&x, "/api/embed", refuse, &st);
    ASSERT_EQ_INT(st, 400);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "error")),
                  "the input length exceeds the context length");
    ASSERT_EQ_INT(x.f.n_embed, 0);
    json_decref(o);
    test_api_close(&x.api);
}

TEST(embed_api_errors)
{
    struct fixture x;
    int st = 0;
    json_t *o;
    setup(&x);
    x.f.fail = 1;
    o = call(&x, "/api/embed", "{\"model\":\"stories\",\"input\":\"abcd\"}", &st);
    ASSERT_EQ_INT(st, 500);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "error")),
                  "this model does not support embeddings");
    ASSERT_EQ_INT(x.f.released, 1);
    json_decref(o);
    x.f.fail = 0;
    x.f.vec[0] = NAN;
    o = call(&x, "/api/embed", "{\"model\":\"stories\",\"input\":\"abcd\"}", &st);
    ASSERT_EQ_INT(st, 500);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "error")),
                  "embedding contains NaN or Inf values");
    json_decref(o);
    test_api_close(&x.api);
}

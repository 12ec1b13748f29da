/*
 * test_embed.c - unit tests of embedding pooling (src/runner/runner_embed.c): mean, cls and
 * last pooling over a fake array of hidden states, chunked feeding (as the runner does when an
 * input spans several batches) equal to one pass, and the pooling type read from a GGUF header
 * (`<arch>.pooling_type`, default last for decoder-only models without the key).
 */
#include "harness/test.h"

#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_write.h"
#include "runner/runner_embed.h"

#define N_TOK  4
#define N_EMBD 3

/* Row i of the fake hidden states: {i+1, 10*(i+1), -(i+1)}. */
static void fake_rows(float *rows)
{
    for (int i = 0; i < N_TOK; i++) {
        rows[i * N_EMBD + 0] = (float)(i + 1);
        rows[i * N_EMBD + 1] = 10.0f * (float)(i + 1);
        rows[i * N_EMBD + 2] = -(float)(i + 1);
    }
}

TEST(embed_pool_mean_cls_last)
{
    float rows[N_TOK * N_EMBD], out[N_EMBD];
    fake_rows(rows);
    ASSERT_OK(runner_pool_rows(RUNNER_POOL_MEAN, rows, N_TOK, N_EMBD, out));
    ASSERT_NEAR(out[0], 2.5, 1e-6);
    ASSERT_NEAR(out[1], 25.0, 1e-5);
    ASSERT_NEAR(out[2], -2.5, 1e-6);
    ASSERT_OK(runner_pool_rows(RUNNER_POOL_CLS, rows, N_TOK, N_EMBD, out));
    ASSERT_NEAR(out[0], 1.0, 0);
    ASSERT_NEAR(out[1], 10.0, 0);
    ASSERT_NEAR(out[2], -1.0, 0);
    ASSERT_OK(runner_pool_rows(RUNNER_POOL_LAST, rows, N_TOK, N_EMBD, out));
    ASSERT_NEAR(out[0], 4.0, 0);
    ASSERT_NEAR(out[1], 40.0, 0);
    ASSERT_NEAR(out[2], -4.0, 0);
    /* one token: every pooling gives that token's state */
    for (int p = RUNNER_POOL_MEAN; p <= RUNNER_POOL_LAST; p++) {
        ASSERT_OK(runner_pool_rows((enum runner_pool)p, rows + N_EMBD, 1, N_EMBD, out));
        ASSERT_MEMEQ(out, rows + N_EMBD, sizeof(out));
    }
    ASSERT_EQ_INT(runner_pool_rows(RUNNER_POOL_MEAN, rows, 0, N_EMBD, out), E_INVAL);
    ASSERT_EQ_INT(runner_pool_rows(RUNNER_POOL_MEAN, rows, N_TOK, 0, out), E_INVAL);
}

TEST(embed_pool_wants_only_needed_rows)
{
    ASSERT(runner_pool_wants(RUNNER_POOL_LAST, 3, 4));
    ASSERT(!runner_pool_wants(RUNNER_POOL_LAST, 0, 4));
    ASSERT(runner_pool_wants(RUNNER_POOL_CLS, 0, 4));
    ASSERT(!runner_pool_wants(RUNNER_POOL_CLS, 3, 4));
    for (size_t i = 0; i < 4; i++)
        ASSERT(runner_pool_wants(RUNNER_POOL_MEAN, i, 4));
    ASSERT(!runner_pool_wants(RUNNER_POOL_MEAN, 4, 4));
    ASSERT(!runner_pool_wants(RUNNER_POOL_LAST, 0, 0));
}

/* Rows fed in chunks (rows of other positions ignored) give what one pass gives. */
TEST(embed_pool_chunked_equals_whole)
{
    float rows[N_TOK * N_EMBD], whole[N_EMBD], part[N_EMBD];
    fake_rows(rows);
    for (int p = RUNNER_POOL_MEAN; p <= RUNNER_POOL_LAST; p++) {
        ASSERT_OK(runner_pool_rows((enum runner_pool)p, rows, N_TOK, N_EMBD, whole));
        memset(part, 0, sizeof(part));
        for (size_t at = 0; at < N_TOK; at += 3) /* chunks of 3 then 1, as n_batch = 3 */
            for (size_t k = at; k < at + 3 && k < N_TOK; k++)
                runner_pool_add((enum runner_pool)p, part, rows + k * N_EMBD, N_EMBD, k, N_TOK);
        runner_pool_finish((enum runner_pool)p, part, N_EMBD, N_TOK);
        ASSERT_MEMEQ(part, whole, sizeof(whole));
    }
}

/* A GGUF header with general.architecture = arch and, when pt >= 0, <arch>.pooling_type = pt. */
static enum runner_pool pool_of(const char *arch, int pt)
{
    struct gguf_writer *w = NULL;
    struct gguf *g = NULL;
    uint8_t *mem = NULL;
    uint64_t n = 0;
    char key[64];
    enum runner_pool p;
    ASSERT_OK(gguf_w_new(&w));
    if (arch)
        ASSERT_OK(gguf_w_set_str(w, "general.architecture", arch));
    if (arch && pt >= 0) {
        snprintf(key, sizeof(key), "%s.pooling_type", arch);
        ASSERT_OK(gguf_w_set_u32(w, key, (uint32_t)pt));
    }
    ASSERT_OK(gguf_w_to_mem(w, &mem, &n));
    ASSERT_OK(gguf_open_mem(mem, n, 0, &g, NULL));
    p = runner_pool_of_gguf(g);
    gguf_close(g);
    mem_free(mem);
    gguf_w_free(w);
    return p;
}

TEST(embed_pooling_type_from_gguf)
{
    ASSERT_EQ_INT(pool_of("bert", 1), RUNNER_POOL_MEAN);
    ASSERT_EQ_INT(pool_of("bert", 2), RUNNER_POOL_CLS);
    ASSERT_EQ_INT(pool_of("qwen3", 3), RUNNER_POOL_LAST);
    /* decoder-only LLMs: no key, or none / rank: the last token's state (Ollama's fallback) */
    ASSERT_EQ_INT(pool_of("llama", -1), RUNNER_POOL_LAST);
    ASSERT_EQ_INT(pool_of("llama", 0), RUNNER_POOL_LAST);
    ASSERT_EQ_INT(pool_of("bert", 4), RUNNER_POOL_LAST);
    ASSERT_EQ_INT(pool_of(NULL, -1), RUNNER_POOL_LAST);
    ASSERT_EQ_INT(runner_pool_of_gguf(NULL), RUNNER_POOL_LAST);
}

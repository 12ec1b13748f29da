/*
 * test_engine_wcopy.c - the weight copy made at load (engine.h use_mmap = 0, the default,
 * src/engine/model/model_wcopy.c) computes exactly what the file mapping does: bit-identical
 * logits over a prompt and a few generated tokens, for models with tied and untied output
 * matrices and several weight types.
 */
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "engine/engine.h"
#include "harness/test.h"

#define WC_NTOK 12

static float *run_logits(const char *name, int use_mmap, uint32_t *n_vocab)
{
    char path[256];
    struct eng_model_params mp;
    struct eng_model *m = NULL;
    struct eng_ctx_params cp;
    struct eng_ctx *c = NULL;
    struct err_info ei = {0};
    snprintf(path, sizeof(path), "tests/data/models/%s", name);
    eng_model_params_default(&mp);
    mp.use_mmap = use_mmap;
    ASSERT_EQ_INT(eng_model_load_file(path, &mp, &m, &ei), 0);
    eng_ctx_params_default(&cp);
    cp.n_ctx = 64;
    cp.n_threads = 1;
    ASSERT_EQ_INT(eng_ctx_new(m, &cp, &c, &ei), 0);
    *n_vocab = eng_model_get_info(m)->n_vocab;
    float *all = mem_calloc((size_t)(WC_NTOK + 1) * *n_vocab, sizeof(float));
    ASSERT(all != NULL);
    int32_t toks[WC_NTOK];
    for (int i = 0; i < WC_NTOK; i++)
        toks[i] = (int32_t)((7 + 31 * i) % (int)*n_vocab);
    struct eng_batch b = {WC_NTOK, toks, NULL, NULL, NULL};
    ASSERT_EQ_INT(eng_decode(c, &b, &ei), 0);
    const float *l = eng_get_logits(c, WC_NTOK - 1);
    ASSERT(l != NULL);
    memcpy(all, l, *n_vocab * sizeof(float));
    for (int i = 0; i < WC_NTOK; i++) { /* one token at a time: the matrix-vector path */
        struct eng_batch b1 = {1, &toks[i], NULL, NULL, NULL};
        ASSERT_EQ_INT(eng_decode(c, &b1, &ei), 0);
        memcpy(all + (size_t)(i + 1) * *n_vocab, eng_get_logits(c, 0), *n_vocab * sizeof(float));
    }
    eng_ctx_free(c);
    eng_model_free(m);
    return all;
}

static void same_logits(const char *name)
{
    uint32_t nv1 = 0, nv2 = 0;
    float *a = run_logits(name, 0, &nv1);
    float *b = run_logits(name, 1, &nv2);
    ASSERT_EQ_INT((int)nv1, (int)nv2);
    ASSERT_MEMEQ(a, b, (size_t)(WC_NTOK + 1) * nv1 * sizeof(float));
    mem_free(a);
    mem_free(b);
}

TEST(engine_wcopy_same_logits_as_mmap)
{
    same_logits("stories260K-Q8_0.gguf");
    same_logits("stories260K-Q4_0.gguf");
    same_logits("synth-llama-d256-Q4_K_M.gguf");
    same_logits("synth-qwen2-d256-Q4_K_M.gguf");
    same_logits("synth-qwen3-d256-Q8_0.gguf");
}

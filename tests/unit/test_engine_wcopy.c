/*
 * test_engine_wcopy.c - the weight copy made at load (engine.h use_mmap = 0, the default,
 * src/engine/model/model_wcopy.c) computes exactly what the file mapping does: bit-identical
 * logits over a prompt and a few generated tokens, for models with tied and untied output
 * matrices and several weight types.  With packing (kern.h pack_type: the AVX2 table's 8-row
 * Q4_K), CORRAL_PACK=0 keeps that identity, and the packed matrices give the same logits within
 * float-summation order and the same greedy tokens.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engine/engine.h"
#include "engine/gguf/gguf.h"
#include "engine/kern/kern.h"
#include "engine/model/model.h"
#include "harness/test.h"

#define WC_NTOK 12
/* Packed vs file order: a last-bit difference can flip a quantized activation's rounding
 * downstream, so the random-weight files get the tolerance of test_engine.c's order checks
 * (CORRAL_KERN=scalar against avx2 on synth-llama-d256-Q4_K_M differs by 0.05 too). */
#define WC_TOL 0.08f

static float *run_logits(const char *name, int use_mmap, int n_threads, uint32_t *n_vocab)
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
    cp.n_threads = n_threads;
    cp.par_min_bytes = 0; /* tiny test models: use the threads anyway */
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
    float *a = run_logits(name, 0, 1, &nv1);
    float *b = run_logits(name, 1, 1, &nv2);
    ASSERT_EQ_INT((int)nv1, (int)nv2);
    ASSERT_MEMEQ(a, b, (size_t)(WC_NTOK + 1) * nv1 * sizeof(float));
    mem_free(a);
    mem_free(b);
}

TEST(engine_wcopy_same_logits_as_mmap)
{
    ASSERT_OK(setenv("CORRAL_PACK", "0", 1));
    same_logits("stories260K-Q8_0.gguf");
    same_logits("stories260K-Q4_0.gguf");
    same_logits("synth-llama-d256-Q4_K_M.gguf");
    same_logits("synth-qwen2-d256-Q4_K_M.gguf");
    same_logits("synth-qwen3-d256-Q8_0.gguf");
    ASSERT_OK(unsetenv("CORRAL_PACK"));
}

/* Index of the largest of n. */
static uint32_t wc_argmax(const float *v, uint32_t n)
{
    uint32_t b = 0;
    for (uint32_t i = 1; i < n; i++)
        b = v[i] > v[b] ? i : b;
    return b;
}

/* Packed (the default) against the file mapping: close, same greedy tokens, and not identical
 * when the table packs (proof the packed kernels ran).  n_threads for the packed run: 3 cuts
 * the matrices' regions unevenly (the interleaved gate/up in blocks of 64 rows). */
static void close_logits_nt(const char *name, int n_threads)
{
    uint32_t nv1 = 0, nv2 = 0;
    float *a = run_logits(name, 0, n_threads, &nv1);
    float *b = run_logits(name, 1, 1, &nv2);
    ASSERT_EQ_INT((int)nv1, (int)nv2);
    double maxd = 0.0, maxa = 0.0;
    for (size_t i = 0; i < (size_t)(WC_NTOK + 1) * nv1; i++) {
        maxd = fmax(maxd, fabs((double)a[i] - (double)b[i]));
        maxa = fmax(maxa, fabs((double)b[i]));
    }
    /* greedy: the same token, or one within 2 tol of the best (flat random-weight logits) */
    for (int s = 0; s <= WC_NTOK; s++) {
        const float *as = a + (size_t)s * nv1, *bs = b + (size_t)s * nv1;
        ASSERT(bs[wc_argmax(as, nv1)] >= bs[wc_argmax(bs, nv1)] - 2.0f * WC_TOL);
    }
    fprintf(stderr, "  %s, %d thread(s): packed vs mapped max |d logit| %.3g (max |logit| %.3g)\n",
            name, n_threads, maxd, maxa);
    ASSERT(maxd <= (double)WC_TOL);
    const struct kern *k = kern_get(KERN_ISA_BEST);
    if (k->pack_type && k->pack_type(KERN_T_Q4_K, 256, 256) && strstr(name, "synth"))
        ASSERT(maxd > 0.0);
    mem_free(a);
    mem_free(b);
}

static void close_logits(const char *name)
{
    close_logits_nt(name, 1);
    close_logits_nt(name, 3);
}

TEST(engine_wcopy_packed_close_to_mmap)
{
    close_logits("synth-llama-d256-Q4_K_M.gguf");
    close_logits("synth-qwen2-d256-Q4_K_M.gguf");
    close_logits("synth-llama-d256-Q4_K_S.gguf");
    close_logits("synth-llama-d256-Q4_0.gguf");
    close_logits("synth-llama-d256-Q5_0.gguf");
    close_logits("synth-llama-d256-Q6_K.gguf");
    close_logits("synth-llama-d256-Q5_K_M.gguf");
    close_logits("synth-llama-d256-Q8_0.gguf");
    close_logits("synth-qwen3-d256-Q8_0.gguf");
    close_logits("stories260K-Q4_0.gguf");
}

/* A tied output (the qwen2 files have no output.weight) is packed with the embedding when the
 * table packs its type (model_wcopy.c): the lookup unpacks the token's row (model_fwd.c embed),
 * the output product reads the packed rows, and the logits stay those of the file mapping. */
static void tied_packed(const char *name)
{
    char path[256];
    struct gguf *g = NULL;
    struct model *m = NULL;
    struct err_info ei = {0};
    const struct kern *k = kern_get(KERN_ISA_BEST);
    snprintf(path, sizeof(path), "tests/data/models/%s", name);
    ASSERT_EQ_INT(gguf_open_file(path, 1, &g, &ei), 0);
    ASSERT_EQ_INT(model_load(g, k, &m, &ei), 0);
    ASSERT(m->output.data == m->tok_embd.data);
    uint32_t ft = m->tok_embd.type;
    ASSERT_EQ_INT(model_copy_weights(m, &ei), 0);
    ASSERT(m->output.data == m->tok_embd.data && m->output.type == m->tok_embd.type);
    uint32_t want = k->pack_type ? k->pack_type(ft, m->tok_embd.ncols, m->tok_embd.nrows) : 0;
    ASSERT_EQ_INT((int)m->tok_embd.type, (int)(want ? want : ft));
    fprintf(stderr, "  %s: token_embd type %u -> %u\n", name, ft, m->tok_embd.type);
    model_free(m);
    close_logits(name);
}

TEST(engine_wcopy_tied_output_packed)
{
    tied_packed("synth-qwen2-d256-Q8_0.gguf");
    tied_packed("synth-qwen2-d256-Q4_K_M.gguf");
}

/* Gate and up of one packed type are interleaved in blocks of 64 rows (model.h struct
 * model_mat ilv, model_wcopy.c): up starts ilv rows after gate, and every row read where
 * the forward pass reads it unpacks to the file's row.  CORRAL_PACK=0 keeps them apart. */
static void ffn_rows_match(const struct model_mat *w, const uint8_t *file, size_t frb, uint8_t *row)
{
    for (int64_t r = 0; r < w->nrows; r++) {
        const uint8_t *base =
            (const uint8_t *)w->data + (size_t)(r / w->ilv * w->ilv) * w->row_bytes;
        ASSERT_EQ_INT(kern_unpack_row(w->type, base, w->row_bytes, w->ncols, r, row), 0);
        ASSERT_MEMEQ(row, file + (size_t)r * frb, frb);
    }
}

static struct model *load_copied(const char *name, struct gguf **g, uint8_t **gate, uint8_t **up,
                                 size_t *frb)
{
    char path[256];
    struct model *m = NULL;
    struct err_info ei = {0};
    snprintf(path, sizeof(path), "tests/data/models/%s", name);
    ASSERT_EQ_INT(gguf_open_file(path, 1, g, &ei), 0);
    ASSERT_EQ_INT(model_load(*g, kern_get(KERN_ISA_BEST), &m, &ei), 0);
    const struct model_layer *L = &m->layers[0];
    *frb = L->gate.row_bytes;
    size_t n = *frb * (size_t)L->gate.nrows;
    *gate = mem_alloc(n);
    *up = mem_alloc(n);
    ASSERT(*gate && *up && L->up.row_bytes == *frb);
    memcpy(*gate, L->gate.data, n);
    memcpy(*up, L->up.data, n);
    ASSERT_EQ_INT(model_copy_weights(m, &ei), 0);
    return m;
}

TEST(engine_wcopy_ffn_interleaved)
{
    const struct kern *k = kern_get(KERN_ISA_BEST);
    struct gguf *g = NULL;
    uint8_t *gate = NULL, *up = NULL;
    size_t frb = 0;
    struct model *m = load_copied("synth-llama-d256-Q4_K_M.gguf", &g, &gate, &up, &frb);
    const struct model_layer *L = &m->layers[0];
    if (k->pack_type && k->pack_type(KERN_T_Q4_K, L->gate.ncols, L->gate.nrows)) {
        ASSERT_EQ_INT((int)L->gate.ilv, 64);
        ASSERT_EQ_INT((int)L->up.ilv, 64);
        ASSERT(L->gate.type == L->up.type && kern_pack_base(L->gate.type) == KERN_T_Q4_K);
        ASSERT((const uint8_t *)L->up.data ==
               (const uint8_t *)L->gate.data + 64 * L->gate.row_bytes);
        uint8_t *row = mem_alloc(frb);
        ASSERT(row != NULL);
        ffn_rows_match(&L->gate, gate, frb, row);
        ffn_rows_match(&L->up, up, frb, row);
        mem_free(row);
    } else {
        ASSERT_EQ_INT((int)L->gate.ilv, 0);
    }
    model_free(m);
    mem_free(gate);
    mem_free(up);
    ASSERT_OK(setenv("CORRAL_PACK", "0", 1));
    m = load_copied("synth-llama-d256-Q4_K_M.gguf", &g, &gate, &up, &frb);
    ASSERT_EQ_INT((int)m->layers[0].gate.ilv, 0);
    ASSERT_EQ_INT((int)m->layers[0].up.ilv, 0);
    ASSERT_OK(unsetenv("CORRAL_PACK"));
    model_free(m);
    mem_free(gate);
    mem_free(up);
}

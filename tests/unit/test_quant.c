/*
 * test_quant.c - the quantizer against llama.cpp (v0.4.0 `llama_ref quant`, default parameters):
 *  - stories260K (F32) to Q8_0/Q4_0/Q4_1/Q5_0/Q5_1: byte-identical files (references in
 *    tests/data/models and tests/data/quant);
 *  - synth-llama-d256-F16 to every K mix and Q8_0/Q4_0: byte-identical to llama.cpp's output for
 *    the same F16 input, checked by sha256 (the reference files would not fit the data budget);
 *  - K types: RMS error against the F16 source within 5% of the error of llama.cpp's own K-quant
 *    files of the same model (made from the F32 source; F16 is a close proxy of it);
 *  - the type policy on a synthetic 8-layer model (more-bits layers, fallbacks, tied output);
 *  - requantizing is refused unless asked;
 *  - the output loads and runs in our engine (first greedy token of stories260K Q4_0/Q8_0).
 */
#include "harness/test.h"

#include <unistd.h>

#include "common/crypto.h"
#include "common/fs.h"
#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_write.h"
#include "engine/kern/kern.h"
#include "engine/engine.h"
#include "engine/quant/quant.h"

#define STORIES "testdata/models/stories260K.gguf"
#define SYNTH   "tests/data/models/synth-llama-d256-F16.gguf"

static void quantize_to(const char *in_path, const char *type, const char *out, int requant)
{
    struct gguf *in = NULL;
    struct err_info ei = {0};
    struct quant_opts o = {0};
    ASSERT_OK(quant_ftype_parse(type, &o.ftype));
    o.allow_requantize = requant;
    ASSERT_OK(gguf_open_file(in_path, 1, &in, &ei));
    int rc = quant_model(in, &o, out, NULL, &ei);
    if (rc)
        TEST_FAIL_("quantize %s: %s", type, ei.msg);
    gguf_close(in);
}

static void assert_same_file(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    ASSERT_OK(fs_read_all(a, 64u << 20, &x, &nx));
    ASSERT_OK(fs_read_all(b, 64u << 20, &y, &ny));
    ASSERT_EQ_SIZE(nx, ny);
    for (size_t i = 0; i < nx; i++)
        if (x[i] != y[i])
            TEST_FAIL_("%s and %s differ at byte %zu", a, b, i);
    mem_free(x);
    mem_free(y);
}

static void file_sha(const char *path, char hex[65])
{
    char *x = NULL;
    size_t n = 0;
    ASSERT_OK(fs_read_all(path, 64u << 20, &x, &n));
    crypto_sha256_hex(x, n, hex);
    mem_free(x);
}

TEST(quant_stories_legacy_types_byte_identical)
{
    static const char *const cases[][2] = {
        {"q8_0", "tests/data/models/stories260K-Q8_0.gguf"},
        {"q4_0", "tests/data/models/stories260K-Q4_0.gguf"},
        {"q4_1", "tests/data/quant/stories260K-Q4_1.gguf"},
        {"q5_0", "tests/data/quant/stories260K-Q5_0.gguf"},
        {"q5_1", "tests/data/quant/stories260K-Q5_1.gguf"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[512];
        snprintf(out, sizeof(out), "%s/%s.gguf", test_tmpdir(), cases[i][0]);
        quantize_to(STORIES, cases[i][0], out, 0);
        assert_same_file(out, cases[i][1]);
    }
}

TEST(quant_synth_f16_byte_identical_by_sha)
{
    /* sha256 of `llama_ref quant synth-llama-d256-F16.gguf OUT TYPE` (llama.cpp v0.4.0). */
    static const char *const cases[][2] = {
        {"q2_K", "b472dcaf4887280659a5e3791eca0171a97ba2869f25d189d33fa402327c630d"},
        {"q3_K_M", "bfb8bf7c837d8dbf5f66c0a44d26fe8e9e067e42f16d253890e8ab8f668cfeaf"},
        {"q4_0", "327db244f3e0e604b143ef4832ed6c2a80698ea89271908bf805b388ef26c482"},
        {"q4_K_M", "58253dd22e0bb0b782f5528633ed2ea00612ee73966f469026966953e05481a7"},
        {"q4_K_S", "f81f590c7d8af15e21a0c8c2728d85bfa2d16163d278b30b283a338e3d02f5ad"},
        {"q5_K_M", "1dc4f613051d9ef1d7fe4da5c17116a9492bcafbc5571c4ec06bea364b7b49a8"},
        {"q6_K", "79d90c7251222b610ae226b3776d989979256be89daa19da1fbbf541b8a3a786"},
        {"q8_0", "25e827fe54c6d0243f1ea1e8fb80ae4facf2ce4976251c9ec39eb188b2c85d25"},
        {"q3_K_S", "2b7b889509ae77181064ed314d010b9de4fc7cbdb6ff31aec5df9d765521c2e4"},
        {"q3_K_L", "b0ed6f467d374f7d1831540ddd3ae1b761b9ac19b206519de1da3fa78ede61b3"},
        {"q5_K_S", "5ae6225c29b4e34fd9da598101dcaeb8ce702bb8950f4769ee3ccf1ef3d20d6f"},
        {"q4_1", "f2e68c721ef80a66ef51e1dc45c8ade5944431219fb8293da7a1dfc8d0f73a07"},
        {"q5_0", "ce4daf4a16c57bb14b8ac1e401758b22ede801324fe485a272b5fc462519ca4e"},
        {"q5_1", "804ebfebd5dba0c46b770d34f6b39a9b8e72abdca793c85f95650a81d63425e8"},
        {"f16", "5cfc544c7d70899ede08532911016e9e6fbb10c0a98cf42369f551cb843d76b1"},
        {"bf16", "396bf71f5ac564c68be703c2d91c13770009633a4136646b196b3e52adedc2bc"},
    };
    if (!fs_exists(SYNTH))
        TEST_FAIL_("missing %s", SYNTH);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[512], hex[65];
        snprintf(out, sizeof(out), "%s/%s.gguf", test_tmpdir(), cases[i][0]);
        quantize_to(SYNTH, cases[i][0], out, 0);
        file_sha(out, hex);
        if (strcmp(hex, cases[i][1]) != 0)
            TEST_FAIL_("%s: sha256 %s, llama.cpp's is %s", cases[i][0], hex, cases[i][1]);
        unlink(out);
    }
}

/* Dequantizes tensor t to floats (caller frees). */
static float *deq(const struct gguf_tensor *t, int64_t *n)
{
    *n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    float *f = mem_alloc_array((size_t)*n, sizeof(float));
    ASSERT(f != NULL);
    kern_get(KERN_ISA_SCALAR)->dequantize_row(t->type, t->data, f, *n);
    return f;
}

/* Sum of squared differences of the quantized tensors of q against the F16 source. */
static double sq_err(const struct gguf *src, const struct gguf *q)
{
    double e = 0;
    for (uint64_t i = 0; i < q->n_tensors; i++) {
        const struct gguf_tensor *t = &q->tensors[i];
        char name[GGUF_MAX_NAME];
        memcpy(name, t->name.p, (size_t)t->name.n);
        name[t->name.n] = 0;
        const struct gguf_tensor *s = gguf_tensor_find(src, name);
        ASSERT(s != NULL);
        if (t->type == GGUF_T_F32)
            continue;
        int64_t n1, n2;
        float *a = deq(s, &n1), *b = deq(t, &n2);
        ASSERT_EQ_INT(n1, n2);
        for (int64_t k = 0; k < n1; k++)
            e += ((double)a[k] - (double)b[k]) * ((double)a[k] - (double)b[k]);
        mem_free(a);
        mem_free(b);
    }
    return e;
}

TEST_T(quant_k_types_error_within_5pct_of_llama_cpp, 120)
{
    static const char *const types[] = {"Q2_K", "Q3_K_M", "Q4_K_S", "Q4_K_M", "Q5_K_M", "Q6_K"};
    struct gguf *src = NULL;
    struct err_info ei = {0};
    ASSERT_OK(gguf_open_file(SYNTH, 1, &src, &ei));
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char out[512], ref[512];
        struct gguf *ours = NULL, *theirs = NULL;
        snprintf(out, sizeof(out), "%s/%s.gguf", test_tmpdir(), types[i]);
        snprintf(ref, sizeof(ref), "tests/data/models/synth-llama-d256-%s.gguf", types[i]);
        quantize_to(SYNTH, types[i], out, 0);
        ASSERT_OK(gguf_open_file(out, 1, &ours, &ei));
        ASSERT_OK(gguf_open_file(ref, 1, &theirs, &ei));
        ASSERT_EQ_INT(ours->n_tensors, theirs->n_tensors);
        for (uint64_t k = 0; k < ours->n_tensors; k++) /* same layout and types */
            ASSERT_EQ_INT(ours->tensors[k].type, theirs->tensors[k].type);
        double e_ours = sq_err(src, ours), e_theirs = sq_err(src, theirs);
        fprintf(stderr, "  %s: rms error ours/llama.cpp = %.6f\n", types[i],
                sqrt(e_ours / e_theirs));
        if (!(e_ours <= e_theirs * 1.05 * 1.05)) /* RMS within 5% */
            TEST_FAIL_("%s: error %g vs llama.cpp %g", types[i], e_ours, e_theirs);
        gguf_close(ours);
        gguf_close(theirs);
    }
    gguf_close(src);
}

/* A synthetic 8-layer llama-shaped model: attn_v 96 wide (Q4_K -> Q5_0 fallback), ffn_down 80
 * wide (not a multiple of 32 -> F16), the rest 256 wide, no output.weight (tied). */
static void write_policy_model(const char *path, int with_output)
{
    struct gguf_writer *w = NULL;
    struct err_info ei = {0};
    static float zeros[256 * 8];
    char name[64];
    ASSERT_OK(gguf_w_new(&w));
    ASSERT_OK(gguf_w_set_str(w, "general.architecture", "llama"));
    ASSERT_OK(gguf_w_set_u32(w, "llama.block_count", 8));
    ASSERT_OK(gguf_w_set_u32(w, "llama.attention.head_count", 4));
    ASSERT_OK(gguf_w_set_u32(w, "llama.attention.head_count_kv", 4));
    int64_t emb[2] = {256, 8}, v[2] = {96, 8}, down[2] = {80, 8}, q[2] = {256, 8}, nrm[1] = {256};
    uint64_t zn = sizeof(zeros);
    ASSERT_OK(gguf_w_add_tensor(w, "token_embd.weight", GGUF_T_F32, 2, emb, zeros, zn, 0));
    if (with_output)
        ASSERT_OK(gguf_w_add_tensor(w, "output.weight", GGUF_T_F32, 2, emb, zeros, zn, 0));
    ASSERT_OK(gguf_w_add_tensor(w, "output_norm.weight", GGUF_T_F32, 1, nrm, zeros, 1024, 0));
    for (int l = 0; l < 8; l++) {
        snprintf(name, sizeof(name), "blk.%d.attn_v.weight", l);
        ASSERT_OK(gguf_w_add_tensor(w, name, GGUF_T_F32, 2, v, zeros, 96 * 8 * 4, 0));
        snprintf(name, sizeof(name), "blk.%d.ffn_down.weight", l);
        ASSERT_OK(gguf_w_add_tensor(w, name, GGUF_T_F32, 2, down, zeros, 80 * 8 * 4, 0));
        snprintf(name, sizeof(name), "blk.%d.attn_q.weight", l);
        ASSERT_OK(gguf_w_add_tensor(w, name, GGUF_T_F32, 2, q, zeros, sizeof(zeros), 0));
        snprintf(name, sizeof(name), "blk.%d.attn_norm.weight", l);
        ASSERT_OK(gguf_w_add_tensor(w, name, GGUF_T_F32, 1, nrm, zeros, 1024, 0));
    }
    ASSERT_OK(gguf_w_write_file(w, path, &ei));
    gguf_w_free(w);
}

static uint32_t type_of(const struct gguf *g, const struct quant_plan *p, const char *name)
{
    const struct gguf_tensor *t = gguf_tensor_find(g, name);
    ASSERT(t != NULL);
    return p->type[t - g->tensors];
}

TEST(quant_policy_q4_k_m)
{
    char path[512], name[64];
    struct gguf *g = NULL;
    struct err_info ei = {0};
    struct quant_plan p;
    struct quant_opts o = {.ftype = QUANT_FT_Q4_K_M};
    snprintf(path, sizeof(path), "%s/policy.gguf", test_tmpdir());
    write_policy_model(path, 0);
    ASSERT_OK(gguf_open_file(path, 1, &g, &ei));
    ASSERT_OK(quant_plan_make(g, &o, &p, &ei));
    /* tied embedding doubles as the output: Q6_K */
    ASSERT_EQ_INT(type_of(g, &p, "token_embd.weight"), GGUF_T_Q6_K);
    ASSERT_EQ_INT(type_of(g, &p, "output_norm.weight"), GGUF_T_F32);
    for (int l = 0; l < 8; l++) {
        int more = l < 1 || l >= 7 || (l - 1) % 3 == 2; /* layers 0, 3, 6, 7 */
        snprintf(name, sizeof(name), "blk.%d.attn_v.weight", l);
        /* 96 wide: Q6_K -> Q8_0, Q4_K -> Q5_0 */
        ASSERT_EQ_INT(type_of(g, &p, name), more ? GGUF_T_Q8_0 : GGUF_T_Q5_0);
        snprintf(name, sizeof(name), "blk.%d.ffn_down.weight", l);
        ASSERT_EQ_INT(type_of(g, &p, name), GGUF_T_F16); /* 80 wide */
        snprintf(name, sizeof(name), "blk.%d.attn_q.weight", l);
        ASSERT_EQ_INT(type_of(g, &p, name), GGUF_T_Q4_K);
        snprintf(name, sizeof(name), "blk.%d.attn_norm.weight", l);
        ASSERT_EQ_INT(type_of(g, &p, name), GGUF_T_F32);
    }
    /* output order: non-layer tensors by name, then layers in numeric order, by name */
    ASSERT(gguf_str_eq(g->tensors[p.order[0]].name, "output_norm.weight"));
    ASSERT(gguf_str_eq(g->tensors[p.order[1]].name, "token_embd.weight"));
    ASSERT(gguf_str_eq(g->tensors[p.order[2]].name, "blk.0.attn_norm.weight"));
    ASSERT(gguf_str_eq(g->tensors[p.order[5]].name, "blk.0.ffn_down.weight"));
    quant_plan_free(&p);
    gguf_close(g);
}

TEST(quant_policy_with_output_and_q4_k_s)
{
    char path[512];
    struct gguf *g = NULL;
    struct err_info ei = {0};
    struct quant_plan p;
    struct quant_opts o = {.ftype = QUANT_FT_Q4_K_S};
    snprintf(path, sizeof(path), "%s/policy.gguf", test_tmpdir());
    write_policy_model(path, 1);
    ASSERT_OK(gguf_open_file(path, 1, &g, &ei));
    ASSERT_OK(quant_plan_make(g, &o, &p, &ei));
    ASSERT_EQ_INT(type_of(g, &p, "output.weight"), GGUF_T_Q6_K);
    ASSERT_EQ_INT(type_of(g, &p, "token_embd.weight"), GGUF_T_Q4_K);
    /* Q4_K_S: attn_v of the first 4 layers Q5_K (96 wide -> Q5_1), then Q4_K (-> Q5_0) */
    ASSERT_EQ_INT(type_of(g, &p, "blk.3.attn_v.weight"), GGUF_T_Q5_1);
    ASSERT_EQ_INT(type_of(g, &p, "blk.4.attn_v.weight"), GGUF_T_Q5_0);
    quant_plan_free(&p);
    o.ftype = 9999;
    ASSERT_EQ_INT(quant_plan_make(g, &o, &p, &ei), E_INVAL);
    gguf_close(g);
}

TEST(quant_requantize_refused_unless_asked)
{
    struct gguf *in = NULL;
    struct err_info ei = {0};
    struct quant_opts o = {.ftype = QUANT_FT_Q4_0};
    char out[512];
    uint32_t ft;
    snprintf(out, sizeof(out), "%s/rq.gguf", test_tmpdir());
    ASSERT_OK(gguf_open_file("tests/data/models/stories260K-Q8_0.gguf", 1, &in, &ei));
    ASSERT_EQ_INT(quant_model(in, &o, out, NULL, &ei), E_UNSUPPORTED);
    ASSERT(strstr(ei.msg, "requantiz") != NULL);
    ASSERT(!fs_exists(out));
    o.allow_requantize = 1;
    ASSERT_OK(quant_model(in, &o, out, NULL, &ei));
    gguf_close(in);
    ASSERT_OK(gguf_open_file(out, 1, &in, &ei));
    ASSERT_OK(gguf_get_u32(in, "general.file_type", &ft));
    ASSERT_EQ_INT(ft, QUANT_FT_Q4_0);
    gguf_close(in);
}

TEST(quant_ftype_names)
{
    uint32_t f;
    ASSERT_OK(quant_ftype_parse("q4_k_m", &f));
    ASSERT_EQ_INT(f, 15);
    ASSERT_OK(quant_ftype_parse("Q8_0", &f));
    ASSERT_EQ_INT(f, 7);
    ASSERT_OK(quant_ftype_parse("f16", &f));
    ASSERT_EQ_INT(f, 1);
    ASSERT_EQ_INT(quant_ftype_parse("q9_9", &f), E_INVAL);
}

/* Our quantizer's output loads and runs in our engine: stories260K quantized to Q4_0 and Q8_0
 * predicts llama.cpp's first greedy token (432) after "Once upon a time" (ids 1 403 407 261 378),
 * and the synth model quantized to Q4_K_M loads with every tensor validated. */
static int32_t first_token(const char *path)
{
    struct eng_model *m = NULL;
    struct eng_ctx *c = NULL;
    struct eng_ctx_params cp;
    struct err_info ei = {0};
    static const int32_t prompt[5] = {1, 403, 407, 261, 378};
    struct eng_batch b = {5, prompt, NULL, NULL, NULL};
    int rc = eng_model_load_file(path, NULL, &m, &ei);
    if (rc)
        TEST_FAIL_("engine cannot load %s: %s", path, ei.msg);
    eng_ctx_params_default(&cp);
    cp.n_ctx = 64;
    cp.n_threads = 1;
    ASSERT_OK(eng_ctx_new(m, &cp, &c, &ei));
    ASSERT_OK(eng_decode(c, &b, &ei));
    const float *lg = eng_get_logits(c, 4);
    ASSERT(lg != NULL);
    int32_t best = 0;
    for (uint32_t i = 1; i < eng_model_get_info(m)->n_vocab; i++)
        if (lg[i] > lg[best])
            best = (int32_t)i;
    eng_ctx_free(c);
    eng_model_free(m);
    return best;
}

TEST(quant_output_runs_in_engine)
{
    char out[512];
    struct eng_model *m = NULL;
    struct err_info ei = {0};
    static const char *const types[] = {"q4_0", "q8_0"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(out, sizeof(out), "%s/%s.gguf", test_tmpdir(), types[i]);
        quantize_to(STORIES, types[i], out, 0);
        ASSERT_EQ_INT(first_token(out), 432);
    }
    snprintf(out, sizeof(out), "%s/k.gguf", test_tmpdir());
    quantize_to(SYNTH, "q4_K_M", out, 0);
    if (eng_model_load_file(out, NULL, &m, &ei))
        TEST_FAIL_("engine cannot load our Q4_K_M: %s", ei.msg);
    ASSERT_EQ_STR(eng_model_get_info(m)->file_type, "Q4_K_M");
    eng_model_free(m);
}

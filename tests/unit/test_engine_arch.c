/*
 * test_engine_arch.c - the gemma3, gemma2 and phi3 blocks against llama.cpp.
 *
 * The models are tiny random-weight F32 GGUFs written at test time (synth_write: a splitmix64
 * stream, near-normal values as a sum of 4 uniforms so no libm result enters the bytes), with
 * the tokenizer of tests/data/models/stories260K.gguf.  Each is checked byte-identical to the
 * file the reference was made from (FNV-1a 64 of the bytes, "gguf_fnv64" in the reference
 * line), then run like test_engine.c's check_model: llama.cpp's prompt ids, teacher-forced
 * with its 32 greedy ids, every step's top-5 logits within tol, our argmax equal to its id
 * wherever its own top-2 gap exceeds 2 tol.
 * Reference: tests/data/reference/llama.cpp-arch.jsonl, made by
 *   ENG_ARCH_WRITE=DIR build/X/unit_tests engine_arch_write   (writes DIR/<name>.gguf)
 *   llama_ref gen DIR/<name>.gguf "Once upon a time" 32 1 --logits 5 [--ctx N]
 * (tests/data/reference/README.md, "arch" section).
 *
 * What each model covers (real structure, small sizes):
 *   gemma3   6 layers (5 sliding-window of 8 positions with rope base 10000, 1 global with base
 *            1e6 and linear x8 scaling), head_dim 32 != n_embd/n_head, q/k norms, post-norms,
 *            GELU gate, embedding scale, final soft-cap 2, untied output; 37 positions > the window
 *   gemma2   4 layers (window 8, pattern 2), attention soft-cap 2, final soft-cap 1, tied output
 *   phi3     fused attn_qkv and ffn_up, partial rotary (12 of 16 dims), LongRoPE factors with
 *            attn_factor 1.2: short factors at n_ctx 512, long ones at 2048 (original 1024)
 */
#include <jansson.h>
#include <string.h>

#include "common/mem.h"
#include "engine/engine.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_write.h"
#include "harness/test.h"

#define REF_PATH   "tests/data/reference/llama.cpp-arch.jsonl"
#define DONOR_PATH "tests/data/models/stories260K.gguf"
#define N_STEPS    32

/* Sizes of the written models; engine_arch_write's corpus mode shrinks them (fuzz seeds). */
static int64_t E = 64, FF = 128, VOCB = 512; /* n_embd, n_ff, the donor's vocabulary */
static int with_tokenizer = 1;

/* ---- deterministic synthetic models ---------------------------------------------------- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_unif(struct rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

/* mean 0, variance 1 (Irwin-Hall of 4, scaled): exact double arithmetic only */
static double rng_gauss(struct rng *r)
{
    double s = rng_unif(r) + rng_unif(r) + rng_unif(r) + rng_unif(r);
    return (s - 2.0) * 1.7320508075688772;
}

struct synth {
    struct gguf_writer *w;
    struct rng r;
    const char *arch;
};

static void kv_u32(struct synth *s, const char *suffix, uint32_t v)
{
    char key[96];
    snprintf(key, sizeof(key), "%s.%s", s->arch, suffix);
    ASSERT(gguf_w_set_u32(s->w, key, v) == 0);
}

static void kv_f32(struct synth *s, const char *suffix, float v)
{
    char key[96];
    snprintf(key, sizeof(key), "%s.%s", s->arch, suffix);
    ASSERT(gguf_w_set_f32(s->w, key, v) == 0);
}

static void kv_str(struct synth *s, const char *suffix, const char *v)
{
    char key[96];
    snprintf(key, sizeof(key), "%s.%s", s->arch, suffix);
    ASSERT(gguf_w_set_str(s->w, key, v) == 0);
}

/* A tensor [ne0] or [ne0][ne1] of mean + std * N(0,1) values (uniform in [lo, lo + std) when
 * mean is NAN: rope factors). */
static void tensor(struct synth *s, const char *name, int64_t ne0, int64_t ne1, double mean,
                   double std)
{
    int64_t n = ne0 * ne1, ne[2] = {ne0, ne1};
    float *v = mem_alloc_array((size_t)n, sizeof(float));
    ASSERT(v != NULL);
    for (int64_t i = 0; i < n; i++)
        v[i] = isnan(mean) ? (float)(1.0 + std * rng_unif(&s->r))
                           : (float)(mean + std * rng_gauss(&s->r));
    ASSERT(gguf_w_add_tensor(s->w, name, GGUF_T_F32, ne1 > 1 ? 2 : 1, ne, v,
                             (uint64_t)n * sizeof(float), GGUF_W_OWN) == 0);
}

static void blk_tensor(struct synth *s, int il, const char *name, int64_t ne0, int64_t ne1,
                       double mean, double std)
{
    char nm[96];
    snprintf(nm, sizeof(nm), "blk.%d.%s", il, name);
    tensor(s, nm, ne0, ne1, mean, std);
}

static void synth_begin(struct synth *s, const char *arch, const char *name, uint64_t seed)
{
    struct gguf *g = NULL;
    struct err_info ei = {0};
    memset(s, 0, sizeof(*s));
    s->arch = arch;
    s->r.s = seed;
    ASSERT(gguf_w_new(&s->w) == 0);
    ASSERT(gguf_w_set_str(s->w, "general.architecture", arch) == 0);
    ASSERT(gguf_w_set_str(s->w, "general.name", name) == 0);
    ASSERT(gguf_w_set_u32(s->w, "general.file_type", 0) == 0);
    if (!with_tokenizer)
        return;
    if (gguf_open_file(DONOR_PATH, 0, &g, &ei) != 0)
        TEST_FAIL_("donor: %s", ei.msg);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.n > 10 && memcmp(g->kv[i].key.p, "tokenizer.", 10) == 0)
            ASSERT(gguf_w_set_kv(s->w, &g->kv[i]) == 0);
    gguf_close(g);
}


/* tied: output = token_embd (small values, so soft-capped logits stay below saturation) */
static void gemma_common(struct synth *s, int n_layer, int n_head, int n_kv, int hd, int qk_norm,
                         int tied)
{
    int64_t nq = (int64_t)n_head * hd, nk = (int64_t)n_kv * hd;
    kv_u32(s, "context_length", 4096);
    kv_u32(s, "embedding_length", (uint32_t)E);
    kv_u32(s, "block_count", (uint32_t)n_layer);
    kv_u32(s, "feed_forward_length", (uint32_t)FF);
    kv_u32(s, "attention.head_count", (uint32_t)n_head);
    kv_u32(s, "attention.head_count_kv", (uint32_t)n_kv);
    kv_u32(s, "attention.key_length", (uint32_t)hd);
    kv_u32(s, "attention.value_length", (uint32_t)hd);
    kv_f32(s, "attention.layer_norm_rms_epsilon", 1e-6f);
    kv_u32(s, "attention.sliding_window", 8);
    tensor(s, "token_embd.weight", E, VOCB, 0.0, tied ? 0.05 : 1.0);
    tensor(s, "output_norm.weight", E, 1, 1.0, 0.1);
    if (!tied)
        tensor(s, "output.weight", E, VOCB, 0.0, 0.05);
    for (int il = 0; il < n_layer; il++) {
        blk_tensor(s, il, "attn_norm.weight", E, 1, 1.0, 0.1);
        blk_tensor(s, il, "attn_q.weight", E, nq, 0.0, 1.0 / 8.0);
        blk_tensor(s, il, "attn_k.weight", E, nk, 0.0, 1.0 / 8.0);
        blk_tensor(s, il, "attn_v.weight", E, nk, 0.0, 1.0 / 8.0);
        if (qk_norm) {
            blk_tensor(s, il, "attn_q_norm.weight", hd, 1, 1.0, 0.1);
            blk_tensor(s, il, "attn_k_norm.weight", hd, 1, 1.0, 0.1);
        }
        blk_tensor(s, il, "attn_output.weight", nq, E, 0.0, 1.0 / sqrt((double)nq));
        blk_tensor(s, il, "post_attention_norm.weight", E, 1, 1.0, 0.1);
        blk_tensor(s, il, "ffn_norm.weight", E, 1, 1.0, 0.1);
        blk_tensor(s, il, "ffn_gate.weight", E, FF, 0.0, 1.0 / 8.0);
        blk_tensor(s, il, "ffn_up.weight", E, FF, 0.0, 1.0 / 8.0);
        blk_tensor(s, il, "ffn_down.weight", FF, E, 0.0, 1.0 / sqrt((double)FF));
        blk_tensor(s, il, "post_ffw_norm.weight", E, 1, 1.0, 0.1);
    }
}

static void synth_gemma3(struct synth *s)
{
    synth_begin(s, "gemma3", "synth-gemma3", 31);
    kv_f32(s, "rope.freq_base", 1e6f);
    kv_f32(s, "rope.freq_base_swa", 10000.0f);
    kv_str(s, "rope.scaling.type", "linear");
    kv_f32(s, "rope.scaling.factor", 8.0f);
    kv_f32(s, "final_logit_softcapping", 2.0f);
    gemma_common(s, 6, 4, 2, (int)E / 2, 1, 0); /* head_dim 32 != n_embd / n_head */
}

/* The same weights (same seed, same tensor order) with the keys of Ollama's gemma3 converter:
 * rope.global/local.freq_base instead of rope.freq_base(_swa), the local/global pattern as a
 * bool array, no rope.scaling keys but a 131072 context (its 4B+ files: linear x8 implied). */
static void synth_gemma3_ollama(struct synth *s)
{
    uint8_t pat[6] = {1, 1, 1, 1, 1, 0};
    synth_begin(s, "gemma3", "synth-gemma3", 31);
    kv_f32(s, "rope.global.freq_base", 1e6f);
    kv_f32(s, "rope.local.freq_base", 10000.0f);
    kv_f32(s, "final_logit_softcapping", 2.0f);
    ASSERT(gguf_w_set_arr(s->w, "gemma3.attention.sliding_window_pattern", GGUF_VT_BOOL, pat, 6) ==
           0);
    gemma_common(s, 6, 4, 2, (int)E / 2, 1, 0);
    kv_u32(s, "context_length", 131072);
}

static void synth_gemma2(struct synth *s)
{
    synth_begin(s, "gemma2", "synth-gemma2", 22);
    kv_f32(s, "rope.freq_base", 10000.0f);
    kv_f32(s, "attn_logit_softcapping", 2.0f);
    kv_f32(s, "final_logit_softcapping", 1.0f);
    gemma_common(s, 4, 4, 2, (int)E / 4, 0, 1);
}

static void synth_phi3(struct synth *s)
{
    const int n_layer = 3, n_head = 4, n_kv = 2, hd = (int)E / n_head, n_rot = hd - hd / 4;
    synth_begin(s, "phi3", "synth-longrope", 33); /* "phi3" in the name needs its tokens */
    kv_u32(s, "context_length", 4096);
    kv_u32(s, "rope.scaling.original_context_length", 1024);
    kv_f32(s, "rope.scaling.attn_factor", 1.2f);
    kv_u32(s, "embedding_length", (uint32_t)E);
    kv_u32(s, "block_count", (uint32_t)n_layer);
    kv_u32(s, "feed_forward_length", (uint32_t)FF);
    kv_u32(s, "attention.head_count", (uint32_t)n_head);
    kv_u32(s, "attention.head_count_kv", (uint32_t)n_kv);
    kv_f32(s, "attention.layer_norm_rms_epsilon", 1e-5f);
    kv_u32(s, "attention.sliding_window", 2047); /* ignored, as by llama.cpp */
    kv_u32(s, "rope.dimension_count", (uint32_t)n_rot);
    kv_f32(s, "rope.freq_base", 10000.0f);
    tensor(s, "token_embd.weight", E, VOCB, 0.0, 1.0);
    tensor(s, "output_norm.weight", E, 1, 1.0, 0.1);
    tensor(s, "output.weight", E, VOCB, 0.0, 1.0 / 8.0);
    tensor(s, "rope_factors_long.weight", n_rot / 2, 1, NAN, 7.0);
    tensor(s, "rope_factors_short.weight", n_rot / 2, 1, NAN, 0.5);
    for (int il = 0; il < n_layer; il++) {
        blk_tensor(s, il, "attn_norm.weight", E, 1, 1.0, 0.1);
        blk_tensor(s, il, "attn_qkv.weight", E, (n_head + 2 * n_kv) * hd, 0.0, 1.0 / 8.0);
        blk_tensor(s, il, "attn_output.weight", E, E, 0.0, 1.0 / 8.0);
        blk_tensor(s, il, "ffn_norm.weight", E, 1, 1.0, 0.1);
        blk_tensor(s, il, "ffn_up.weight", E, 2 * FF, 0.0, 1.0 / 8.0);
        blk_tensor(s, il, "ffn_down.weight", FF, E, 0.0, 1.0 / sqrt((double)FF));
    }
}

struct arch_case {
    const char *name; /* file name and reference key */
    void (*make)(struct synth *);
    const char *ref; /* a variant: compared with this case's reference, no hash check */
};

static const struct arch_case CASES[] = {
    {"synth-gemma3-swa8.gguf", synth_gemma3, NULL},
    {"synth-gemma2-swa8.gguf", synth_gemma2, NULL},
    {"synth-phi3-longrope.gguf", synth_phi3, NULL},
    {"synth-gemma3-ollama-keys.gguf", synth_gemma3_ollama, "synth-gemma3-swa8.gguf"},
};
#define N_REF_CASES 3 /* the first ones, with their own reference lines */

static uint64_t fnv64(const uint8_t *p, uint64_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Writes case c to dir/<name>; returns the FNV-1a hash of its bytes. */
static uint64_t write_case(const struct arch_case *c, const char *dir, char *path, size_t cap)
{
    struct synth s;
    struct err_info ei = {0};
    uint8_t *buf = NULL;
    uint64_t n = 0;
    c->make(&s);
    ASSERT(gguf_w_to_mem(s.w, &buf, &n) == 0);
    uint64_t h = fnv64(buf, n);
    mem_free(buf);
    snprintf(path, cap, "%s/%s", dir, c->name);
    if (gguf_w_write_file(s.w, path, &ei) != 0)
        TEST_FAIL_("write %s: %s", path, ei.msg);
    gguf_w_free(s.w);
    return h;
}

/* ---- the reference --------------------------------------------------------------------- */

struct ref {
    int prompt[8];
    int n_prompt;
    int tokens[N_STEPS];
    int top_id[N_STEPS][5];
    float top_l[N_STEPS][5];
    char fnv[24];
};

static int load_ref(const char *model, int ctx, struct ref *r)
{
    FILE *fp = fopen(REF_PATH, "r");
    char line[1 << 16];
    int found = 0;
    ASSERT(fp != NULL);
    while (!found && fgets(line, sizeof(line), fp)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o)
            continue;
        const char *mp = json_string_value(json_object_get(o, "model"));
        const char *fv = json_string_value(json_object_get(o, "gguf_fnv64"));
        if (mp && fv && strcmp(mp, model) == 0 &&
            json_integer_value(json_object_get(o, "ctx")) == ctx) {
            json_t *pt = json_object_get(o, "prompt_tokens"), *tk = json_object_get(o, "tokens");
            json_t *tl = json_object_get(o, "top_logits");
            snprintf(r->fnv, sizeof(r->fnv), "%s", fv);
            r->n_prompt = (int)json_array_size(pt);
            ASSERT(r->n_prompt > 0 && r->n_prompt <= 8);
            for (int i = 0; i < r->n_prompt; i++)
                r->prompt[i] = (int)json_integer_value(json_array_get(pt, (size_t)i));
            ASSERT(json_array_size(tk) == N_STEPS && json_array_size(tl) == N_STEPS);
            for (int st = 0; st < N_STEPS; st++) {
                r->tokens[st] = (int)json_integer_value(json_array_get(tk, (size_t)st));
                json_t *sv = json_array_get(tl, (size_t)st);
                for (int k = 0; k < 5; k++) {
                    json_t *pr = json_array_get(sv, (size_t)k);
                    r->top_id[st][k] = (int)json_integer_value(json_array_get(pr, 0));
                    r->top_l[st][k] = (float)json_number_value(json_array_get(pr, 1));
                }
            }
            found = 1;
        }
        json_decref(o);
    }
    fclose(fp);
    return found ? 0 : -1;
}

static struct eng_ctx *new_ctx(struct eng_model *m, int n_threads, uint32_t n_ctx)
{
    struct eng_ctx_params cp;
    struct eng_ctx *c = NULL;
    struct err_info ei = {0};
    eng_ctx_params_default(&cp);
    cp.n_ctx = n_ctx;
    cp.n_threads = n_threads;
    cp.par_min_bytes = 0; /* tiny models: exercise the threads anyway */
    if (eng_ctx_new(m, &cp, &c, &ei) != 0)
        TEST_FAIL_("ctx: %s", ei.msg);
    return c;
}

static void decode1(struct eng_ctx *c, const int32_t *toks, int n)
{
    struct eng_batch b = {n, toks, NULL, NULL, NULL};
    struct err_info ei = {0};
    if (eng_decode(c, &b, &ei) != 0)
        TEST_FAIL_("decode: %s", ei.msg);
}

static int argmax(const float *l, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b])
            b = i;
    return b;
}

/* The check_model of test_engine.c on a written case; prompt_one: the prompt token by token
 * (the batched path and the single-token path must both match). */
static void check_case(const struct arch_case *cs, int ctx, float tol, int n_threads,
                       int prompt_one)
{
    struct ref r;
    char path[512], hex[24];
    if (load_ref(cs->ref ? cs->ref : cs->name, ctx, &r) != 0)
        TEST_FAIL_("no reference for %s ctx %d", cs->name, ctx);
    uint64_t h = write_case(cs, test_tmpdir(), path, sizeof(path));
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)h);
    if (!cs->ref && strcmp(hex, r.fnv) != 0)
        TEST_FAIL_("%s: generated bytes differ from the reference's file (%s vs %s)", cs->name, hex,
                   r.fnv);
    struct eng_model_params mp;
    struct eng_model *m = NULL;
    struct err_info ei = {0};
    eng_model_params_default(&mp);
    if (eng_model_load_file(path, &mp, &m, &ei) != 0)
        TEST_FAIL_("load %s: %s", cs->name, ei.msg);
    struct eng_ctx *c = new_ctx(m, n_threads, (uint32_t)ctx);
    int n_vocab = (int)eng_model_get_info(m)->n_vocab, checked = 0;
    int32_t pr[8];
    for (int i = 0; i < r.n_prompt; i++)
        pr[i] = r.prompt[i];
    if (prompt_one)
        for (int i = 0; i < r.n_prompt; i++)
            decode1(c, pr + i, 1);
    else
        decode1(c, pr, r.n_prompt);
    int last = prompt_one ? 0 : r.n_prompt - 1;
    float maxerr = 0.0f;
    for (int st = 0; st < N_STEPS; st++) {
        const float *l = eng_get_logits(c, last);
        ASSERT(l != NULL);
        last = 0;
        for (int k = 0; k < 5; k++) {
            float e = fabsf(l[r.top_id[st][k]] - r.top_l[st][k]);
            maxerr = e > maxerr ? e : maxerr;
            if (e > tol)
                TEST_FAIL_("%s ctx %d step %d: logit of %d is %g, llama.cpp %g (tol %g)", cs->name,
                           ctx, st, r.top_id[st][k], (double)l[r.top_id[st][k]],
                           (double)r.top_l[st][k], (double)tol);
        }
        if (r.top_l[st][0] - r.top_l[st][1] >= 2.0f * tol) {
            int tok = argmax(l, n_vocab);
            if (tok != r.tokens[st])
                TEST_FAIL_("%s step %d: token %d, llama.cpp %d", cs->name, st, tok, r.tokens[st]);
            checked++;
        }
        int32_t t = r.tokens[st];
        decode1(c, &t, 1);
    }
    if (getenv("ENG_TEST_VERBOSE"))
        fprintf(stderr, "  %s ctx %d: ids checked at %d steps, max |dlogit| %.5f\n", cs->name, ctx,
                checked, (double)maxerr);
    ASSERT(checked >= N_STEPS / 2);
    eng_ctx_free(c);
    eng_model_free(m);
}

/* Not a check: with ENG_ARCH_WRITE=DIR writes the models and prints their hashes (how the
 * reference is regenerated); with ENG_ARCH_CORPUS=DIR the same structures at n_embd 8, n_ff 16,
 * a 16-token vocabulary and no tokenizer (seeds of tests/fuzz/corpus/model). */
TEST(engine_arch_write)
{
    const char *dir = getenv("ENG_ARCH_WRITE"), *cdir = getenv("ENG_ARCH_CORPUS");
    char path[512];
    for (size_t i = 0; dir && i < N_REF_CASES; i++) {
        uint64_t h = write_case(&CASES[i], dir, path, sizeof(path));
        printf("%s %016llx\n", path, (unsigned long long)h);
    }
    E = 8, FF = 16, VOCB = 16, with_tokenizer = 0;
    for (size_t i = 0; cdir && i < N_REF_CASES; i++)
        (void)write_case(&CASES[i], cdir, path, sizeof(path));
}

TEST(engine_gemma3_matches_llama_cpp)
{
    check_case(&CASES[0], 512, 0.01f, 1, 0);
    check_case(&CASES[0], 512, 0.01f, 2, 1);
}

/* Ollama's gemma3 keys give the model llama.cpp's keys describe. */
TEST(engine_gemma3_ollama_keys_same_model)
{
    check_case(&CASES[3], 512, 0.01f, 1, 0);
}

TEST(engine_gemma2_matches_llama_cpp)
{
    check_case(&CASES[1], 512, 0.01f, 1, 0);
    check_case(&CASES[1], 512, 0.01f, 2, 1);
}

TEST(engine_phi3_matches_llama_cpp)
{
    check_case(&CASES[2], 512, 0.01f, 1, 0);  /* short factors */
    check_case(&CASES[2], 2048, 0.01f, 2, 0); /* long factors */
}

/* Broken variants fail by name, never crash. */
TEST(engine_arch_bad_files_fail_cleanly)
{
    struct synth s;
    struct err_info ei = {0};
    struct eng_model_params mp;
    struct eng_model *m = NULL;
    char path[512];
    eng_model_params_default(&mp);
    /* fused qkv of the wrong height */
    synth_begin(&s, "phi3", "bad", 1);
    kv_u32(&s, "embedding_length", (uint32_t)E);
    kv_u32(&s, "block_count", 1);
    kv_u32(&s, "feed_forward_length", (uint32_t)FF);
    kv_u32(&s, "attention.head_count", 4);
    tensor(&s, "token_embd.weight", E, VOCB, 0.0, 1.0);
    tensor(&s, "output_norm.weight", E, 1, 1.0, 0.1);
    blk_tensor(&s, 0, "attn_norm.weight", E, 1, 1.0, 0.1);
    blk_tensor(&s, 0, "attn_qkv.weight", E, 2 * E, 0.0, 0.1);
    snprintf(path, sizeof(path), "%s/bad.gguf", test_tmpdir());
    ASSERT(gguf_w_write_file(s.w, path, &ei) == 0);
    gguf_w_free(s.w);
    ASSERT(eng_model_load_file(path, &mp, &m, &ei) != 0);
    ASSERT(strstr(ei.msg, "attn_qkv") != NULL);
    /* gemma3 with a sliding-window pattern array of the wrong length */
    synth_begin(&s, "gemma3", "bad", 2);
    gemma_common(&s, 2, 4, 2, 16, 1, 1);
    const uint8_t pat[3] = {1, 0, 1};
    ASSERT(gguf_w_set_arr(s.w, "gemma3.attention.sliding_window_pattern", GGUF_VT_BOOL, pat, 3) ==
           0);
    ASSERT(gguf_w_write_file(s.w, path, &ei) == 0);
    gguf_w_free(s.w);
    ASSERT(eng_model_load_file(path, &mp, &m, &ei) != 0);
    ASSERT(strstr(ei.msg, "sliding_window_pattern") != NULL);
    /* gemma2 without its post-norms */
    synth_begin(&s, "gemma2", "bad", 3);
    kv_u32(&s, "embedding_length", (uint32_t)E);
    kv_u32(&s, "block_count", 1);
    kv_u32(&s, "feed_forward_length", (uint32_t)FF);
    kv_u32(&s, "attention.head_count", 4);
    tensor(&s, "token_embd.weight", E, VOCB, 0.0, 1.0);
    tensor(&s, "output_norm.weight", E, 1, 1.0, 0.1);
    blk_tensor(&s, 0, "attn_norm.weight", E, 1, 1.0, 0.1);
    blk_tensor(&s, 0, "attn_q.weight", E, E, 0.0, 0.1);
    blk_tensor(&s, 0, "attn_k.weight", E, E, 0.0, 0.1);
    blk_tensor(&s, 0, "attn_v.weight", E, E, 0.0, 0.1);
    blk_tensor(&s, 0, "attn_output.weight", E, E, 0.0, 0.1);
    blk_tensor(&s, 0, "ffn_norm.weight", E, 1, 1.0, 0.1);
    blk_tensor(&s, 0, "ffn_gate.weight", E, FF, 0.0, 0.1);
    blk_tensor(&s, 0, "ffn_up.weight", E, FF, 0.0, 0.1);
    blk_tensor(&s, 0, "ffn_down.weight", FF, E, 0.0, 0.1);
    ASSERT(gguf_w_write_file(s.w, path, &ei) == 0);
    gguf_w_free(s.w);
    ASSERT(eng_model_load_file(path, &mp, &m, &ei) != 0);
    ASSERT(strstr(ei.msg, "post_attention_norm") != NULL);
}

/* A context shift re-rotates each layer's keys with that layer's RoPE: gemma3's layer 0 is a
 * sliding-window layer (base 10000, no scaling; global layers: 1e6 and x8), so its shifted keys
 * equal those of a fresh run over the kept tokens only with the local rotation. */
TEST(engine_gemma3_context_shift_uses_the_layer_rope)
{
    static const int32_t toks[20] = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376,
                                     298, 315, 421, 395, 317, 426, 338, 401, 396, 267};
    char path[512];
    struct eng_model_params mp;
    struct eng_model *m = NULL;
    struct err_info ei = {0};
    struct eng_ctx_params cp;
    struct eng_ctx *a = NULL, *b = NULL;
    (void)write_case(&CASES[0], test_tmpdir(), path, sizeof(path));
    eng_model_params_default(&mp);
    if (eng_model_load_file(path, &mp, &m, &ei) != 0)
        TEST_FAIL_("load: %s", ei.msg);
    eng_ctx_params_default(&cp);
    cp.n_ctx = 64;
    cp.kv_type = GGUF_T_F32;
    cp.n_threads = 1;
    ASSERT(eng_ctx_new(m, &cp, &a, &ei) == 0 && eng_ctx_new(m, &cp, &b, &ei) == 0);
    const struct eng_model_info *in = eng_model_get_info(m);
    uint32_t kvd = in->n_head_kv * in->head_dim;
    decode1(a, toks, 20);
    ASSERT_EQ_INT(eng_seq_shift(a, 0, 4, 8), 0);
    int32_t ref[12];
    memcpy(ref, toks, 4 * sizeof(int32_t));
    memcpy(ref + 4, toks + 12, 8 * sizeof(int32_t));
    decode1(b, ref, 12);
    float ka[256], kb[256];
    ASSERT(kvd <= 256);
    for (uint32_t p = 0; p < 12; p++) {
        ASSERT_EQ_INT(eng_debug_kv_row(a, 0, 0, p, 0, ka, kvd), 0);
        ASSERT_EQ_INT(eng_debug_kv_row(b, 0, 0, p, 0, kb, kvd), 0);
        for (uint32_t i = 0; i < kvd; i++)
            if (fabsf(ka[i] - kb[i]) > 1e-4f * (1.0f + fabsf(kb[i])))
                TEST_FAIL_("shift: layer 0 key row %u [%u]: %g vs %g", p, i, (double)ka[i],
                           (double)kb[i]);
    }
    decode1(a, toks + 5, 1); /* generation goes on from the shorter cache */
    eng_ctx_free(a);
    eng_ctx_free(b);
    eng_model_free(m);
}

/* The donor's tokenizer arrays plus `extra` tokens of type `type` past the embedding rows. */
static void extend_vocab(struct synth *s, int extra, int32_t type)
{
    struct gguf *g = NULL;
    struct err_info ei = {0};
    static const char *const names[2] = {"<image_soft_token>", "<extra_token>"};
    ASSERT(extra <= 2);
    if (gguf_open_file(DONOR_PATH, 0, &g, &ei) != 0)
        TEST_FAIL_("donor: %s", ei.msg);
    const struct gguf_kv *kt = gguf_find(g, "tokenizer.ggml.tokens");
    const struct gguf_kv *ks = gguf_find(g, "tokenizer.ggml.scores");
    const struct gguf_kv *ky = gguf_find(g, "tokenizer.ggml.token_type");
    ASSERT(kt && ks && ky && kt->arr_n == (uint64_t)VOCB);
    size_t n = (size_t)VOCB + (size_t)extra;
    char **tok = mem_calloc(n, sizeof(char *));
    float *sc = mem_alloc_array(n, sizeof(float));
    int32_t *ty = mem_alloc_array(n, sizeof(int32_t));
    ASSERT(tok && sc && ty);
    for (size_t i = 0; i < n; i++) {
        struct gguf_str st = {0};
        if (i < (size_t)VOCB) {
            ASSERT(gguf_arr_str(kt, i, &st) == 0 && gguf_arr_f32(ks, i, &sc[i]) == 0 &&
                   gguf_arr_i32(ky, i, &ty[i]) == 0);
        } else {
            st.p = names[i - (size_t)VOCB];
            st.n = strlen(st.p);
            sc[i] = 0.0f;
            ty[i] = type;
        }
        tok[i] = mem_alloc((size_t)st.n + 1);
        ASSERT(tok[i] != NULL);
        memcpy(tok[i], st.p, (size_t)st.n);
        tok[i][st.n] = 0;
    }
    ASSERT(gguf_w_set_arr_str(s->w, "tokenizer.ggml.tokens", (const char *const *)tok, n) == 0);
    ASSERT(gguf_w_set_arr(s->w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, sc, n) == 0);
    ASSERT(gguf_w_set_arr(s->w, "tokenizer.ggml.token_type", GGUF_VT_INT32, ty, n) == 0);
    for (size_t i = 0; i < n; i++)
        mem_free(tok[i]);
    mem_free(tok);
    mem_free(sc);
    mem_free(ty);
    gguf_close(g);
}

/* Ollama's gemma3 files list multimodal control tokens past the embedding rows: the model
 * loads, text runs, and the extra id from special text is refused by decode; plain-text
 * tokens past the rows still fail the load. */
TEST(engine_vocab_control_tokens_past_embedding)
{
    char path[512];
    struct err_info ei = {0};
    struct eng_model_params mp;
    struct eng_model *m = NULL;
    eng_model_params_default(&mp);
    snprintf(path, sizeof(path), "%s/x.gguf", test_tmpdir());
    for (int normal = 0; normal < 2; normal++) {
        struct synth s;
        synth_gemma2(&s);
        extend_vocab(&s, 2, normal ? 1 : 3);
        ASSERT(gguf_w_write_file(s.w, path, &ei) == 0);
        gguf_w_free(s.w);
        int rc = eng_model_load_file(path, &mp, &m, &ei);
        if (normal) {
            ASSERT(rc != 0 && strstr(ei.msg, "514 tokens") != NULL);
            continue;
        }
        if (rc != 0)
            TEST_FAIL_("load: %s", ei.msg);
        ASSERT_EQ_INT(eng_model_get_info(m)->n_vocab, VOCB);
        int32_t ids[16];
        size_t n = 0;
        ASSERT(eng_tokenize(m, "<image_soft_token>", 18, 0, 1, ids, 16, &n) == 0);
        ASSERT(n == 1 && ids[0] == VOCB);
        struct eng_ctx *c = new_ctx(m, 1, 64);
        int32_t ok[3] = {1, 403, 407}, bad[2] = {1, (int32_t)VOCB};
        struct eng_batch b = {2, bad, NULL, NULL, NULL};
        ASSERT(eng_decode(c, &b, &ei) == E_INVAL && strstr(ei.msg, "out of range") != NULL);
        decode1(c, ok, 3);
        eng_ctx_free(c);
        eng_model_free(m);
    }
}

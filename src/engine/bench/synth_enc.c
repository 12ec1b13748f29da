/*
 * synth_enc.c - writes tiny random-weight bert / nomic-bert GGUFs (synth_enc.h) and the hidden
 * command `corral synth-enc ARCH VOCAB.gguf|- OUT.gguf [--pooling N] [--type f32|f16|q8_0]
 * [--fused] [--seed N] [--tiny]` that tests use to make them ("-": no vocabulary, for the fuzz
 * seeds of tests/fuzz/corpus/enc).
 *
 * Weights: uniform in [-1, 1) from splitmix64 (fixed seed) scaled by gain * sqrt(3 / ncols), so
 * every projection keeps unit variance; q and k get gain 2 so attention is far from uniform.
 * Norm weights 1 +- 0.2, biases +- 0.1.  Tensors are added in llama.cpp's order; the vocabulary
 * keys are copied from VOCAB.gguf and the architecture keys set after them.
 */
#include "engine/bench/synth_enc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmd.h"
#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_write.h"
#include "engine/kern/kern.h"

#define SYNTH_MAX_DIM  4096
#define SYNTH_NAME_MAX 96

struct synth_state {
    struct gguf_writer *w;
    uint64_t rng;
    uint32_t type;
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float unif(struct synth_state *st)
{
    return (float)((double)(splitmix(&st->rng) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

/* A 1-D F32 tensor: base + scale * uniform. */
static int add_vec(struct synth_state *st, const char *name, int64_t n, float base, float scale)
{
    float *v = mem_alloc_array((size_t)n, sizeof(float));
    if (!v)
        return E_NOMEM;
    for (int64_t i = 0; i < n; i++)
        v[i] = base + scale * unif(st);
    return gguf_w_add_tensor(st->w, name, GGUF_T_F32, 1, &n, v, (uint64_t)n * sizeof(float),
                             GGUF_W_OWN);
}

/* A matrix of nrows rows of ncols, in st->type (type F32 forces F32). */
static int add_mat(struct synth_state *st, const char *name, int64_t ncols, int64_t nrows,
                   float gain, uint32_t type)
{
    size_t n = (size_t)ncols * (size_t)nrows;
    float scale = gain * sqrtf(3.0f / (float)ncols);
    float *v = mem_alloc_array(n, sizeof(float));
    int64_t ne[2] = {ncols, nrows};
    int rc;
    if (!v)
        return E_NOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = scale * unif(st);
    if (type == GGUF_T_F32)
        return gguf_w_add_tensor(st->w, name, GGUF_T_F32, 2, ne, v, n * sizeof(float), GGUF_W_OWN);
    size_t bytes = kern_row_bytes(type, ncols) * (size_t)nrows;
    void *q = bytes ? mem_alloc(bytes) : NULL;
    if (!q) {
        mem_free(v);
        return bytes ? E_NOMEM : E_INVAL;
    }
    rc = kern_quantize_weights(type, v, q, (int64_t)n);
    mem_free(v);
    if (rc != 0) {
        mem_free(q);
        return rc;
    }
    return gguf_w_add_tensor(st->w, name, type, 2, ne, q, bytes, GGUF_W_OWN);
}

static int set_keys(struct gguf_writer *w, const struct synth_enc *p)
{
    char k[SYNTH_NAME_MAX];
    int rc = 0;
    uint32_t ft = p->type == GGUF_T_F32 ? 0 : p->type == GGUF_T_F16 ? 1 : 7;
#define KEY(s) (snprintf(k, sizeof(k), "%s." s, p->arch), k)
    if ((rc = gguf_w_set_str(w, "general.architecture", p->arch)) != 0 ||
        (rc = gguf_w_set_str(w, "general.name", "synth-enc")) != 0 ||
        (rc = gguf_w_set_u32(w, "general.file_type", ft)) != 0 ||
        (rc = gguf_w_set_u32(w, KEY("block_count"), p->n_layer)) != 0 ||
        (rc = gguf_w_set_u32(w, KEY("context_length"), p->n_ctx)) != 0 ||
        (rc = gguf_w_set_u32(w, KEY("embedding_length"), p->n_embd)) != 0 ||
        (rc = gguf_w_set_u32(w, KEY("feed_forward_length"), p->n_ff)) != 0 ||
        (rc = gguf_w_set_u32(w, KEY("attention.head_count"), p->n_head)) != 0 ||
        (rc = gguf_w_set_f32(w, KEY("attention.layer_norm_epsilon"), 1e-12f)) != 0 ||
        (rc = gguf_w_set_bool(w, KEY("attention.causal"), 0)) != 0 ||
        (rc = gguf_w_set_u32(w, KEY("pooling_type"), p->pooling)) != 0 ||
        (rc = gguf_w_set_u32(w, "tokenizer.ggml.token_type_count", 2)) != 0)
        return rc;
    if (strcmp(p->arch, "nomic-bert") == 0)
        rc = gguf_w_set_f32(w, KEY("rope.freq_base"), 1000.0f);
#undef KEY
    return rc;
}

static int add_layer(struct synth_state *st, const struct synth_enc *p, uint32_t il)
{
    char nm[SYNTH_NAME_MAX];
    int64_t e = p->n_embd, f = p->n_ff;
    int bert = strcmp(p->arch, "bert") == 0, rc;
    uint32_t t = st->type;
#define NM(s) (snprintf(nm, sizeof(nm), "blk.%u." s, il), nm)
    if (p->fused_qkv) {
        if ((rc = add_mat(st, NM("attn_qkv.weight"), e, 3 * e, 2.0f, t)) != 0 ||
            (bert && (rc = add_vec(st, NM("attn_qkv.bias"), 3 * e, 0.0f, 0.1f)) != 0))
            return rc;
    } else if ((rc = add_mat(st, NM("attn_q.weight"), e, e, 2.0f, t)) != 0 ||
               (bert && (rc = add_vec(st, NM("attn_q.bias"), e, 0.0f, 0.1f)) != 0) ||
               (rc = add_mat(st, NM("attn_k.weight"), e, e, 2.0f, t)) != 0 ||
               (bert && (rc = add_vec(st, NM("attn_k.bias"), e, 0.0f, 0.1f)) != 0) ||
               (rc = add_mat(st, NM("attn_v.weight"), e, e, 1.0f, t)) != 0 ||
               (bert && (rc = add_vec(st, NM("attn_v.bias"), e, 0.0f, 0.1f)) != 0)) {
        return rc;
    }
    if ((rc = add_mat(st, NM("attn_output.weight"), e, e, 1.0f, t)) != 0 ||
        (bert && (rc = add_vec(st, NM("attn_output.bias"), e, 0.0f, 0.1f)) != 0) ||
        (rc = add_vec(st, NM("attn_output_norm.weight"), e, 1.0f, 0.2f)) != 0 ||
        (rc = add_vec(st, NM("attn_output_norm.bias"), e, 0.0f, 0.1f)) != 0 ||
        (rc = add_mat(st, NM("ffn_up.weight"), e, f, 1.5f, t)) != 0 ||
        (bert && (rc = add_vec(st, NM("ffn_up.bias"), f, 0.0f, 0.1f)) != 0) ||
        (!bert && (rc = add_mat(st, NM("ffn_gate.weight"), e, f, 1.5f, t)) != 0) ||
        (rc = add_mat(st, NM("ffn_down.weight"), f, e, 1.0f, t)) != 0 ||
        (bert && (rc = add_vec(st, NM("ffn_down.bias"), e, 0.0f, 0.1f)) != 0) ||
        (rc = add_vec(st, NM("layer_output_norm.weight"), e, 1.0f, 0.2f)) != 0 ||
        (rc = add_vec(st, NM("layer_output_norm.bias"), e, 0.0f, 0.1f)) != 0)
        return rc;
#undef NM
    return 0;
}

void synth_enc_default(struct synth_enc *p, const char *arch)
{
    memset(p, 0, sizeof(*p));
    p->arch = arch;
    p->pooling = 1;
    p->type = GGUF_T_F32;
    p->n_embd = 64;
    p->n_head = 4;
    p->n_layer = 2;
    p->n_ff = 128;
    p->n_ctx = 128;
    p->fused_qkv = strcmp(arch, "nomic-bert") == 0;
    p->seed = 1;
    p->n_vocab = 64;
}

void synth_enc_tiny(struct synth_enc *p)
{
    p->n_embd = 32;
    p->n_head = 2;
    p->n_layer = 1;
    p->n_ff = 32;
    p->n_ctx = 16;
    p->n_vocab = 64;
}

int synth_enc_write(const char *vocab_path, const struct synth_enc *p, const char *out,
                    struct err_info *ei)
{
    struct gguf *g = NULL;
    struct synth_state st = {NULL, p->seed, p->type};
    const struct gguf_kv *tk;
    int rc;
    int bert = strcmp(p->arch, "bert") == 0;
    if ((!bert && strcmp(p->arch, "nomic-bert") != 0) || !p->n_head || p->n_embd % p->n_head ||
        p->n_embd % 32 || p->n_ff % 32 || p->n_embd > SYNTH_MAX_DIM || p->n_ff > SYNTH_MAX_DIM ||
        !p->n_layer || p->n_layer > 64 || !p->n_ctx || p->n_ctx > SYNTH_MAX_DIM ||
        (p->type != GGUF_T_F32 && p->type != GGUF_T_F16 && p->type != GGUF_T_Q8_0))
        return err_set(ei, E_INVAL, "synth-enc: bad parameters");
    int64_t n_vocab = p->n_vocab, e = p->n_embd;
    if (vocab_path) {
        if ((rc = gguf_open_file(vocab_path, 0, &g, ei)) != 0)
            return rc;
        if (!(tk = gguf_find(g, "tokenizer.ggml.tokens")) || tk->arr_n == 0 ||
            tk->arr_n > (1u << 20)) {
            rc = err_set(ei, E_PARSE, "synth-enc: %s has no vocabulary", vocab_path);
            goto out;
        }
        n_vocab = (int64_t)tk->arr_n;
    }
    if (n_vocab < 1 || n_vocab > (1 << 20))
        return err_set(ei, E_INVAL, "synth-enc: bad vocabulary size");
    if ((rc = gguf_w_new(&st.w)) != 0 || (g && (rc = gguf_w_copy_kvs(st.w, g)) != 0) ||
        (rc = set_keys(st.w, p)) != 0)
        goto fail;
    if ((rc = add_mat(&st, "token_embd.weight", e, n_vocab, 3.0f, st.type)) != 0 ||
        (rc = add_mat(&st, "token_types.weight", e, 2, 3.0f, GGUF_T_F32)) != 0 ||
        (bert && (rc = add_mat(&st, "position_embd.weight", e, p->n_ctx, 3.0f, st.type)) != 0) ||
        (rc = add_vec(&st, "token_embd_norm.weight", e, 1.0f, 0.2f)) != 0 ||
        (rc = add_vec(&st, "token_embd_norm.bias", e, 0.0f, 0.1f)) != 0)
        goto fail;
    for (uint32_t il = 0; il < p->n_layer; il++)
        if ((rc = add_layer(&st, p, il)) != 0)
            goto fail;
    rc = gguf_w_write_file(st.w, out, ei);
    goto out;
fail:
    err_set(ei, rc, "synth-enc: cannot build the model (%s)", err_str(rc));
out:
    gguf_w_free(st.w);
    gguf_close(g);
    return rc;
}

/* ---- corral synth-enc ---------------------------------------------------------------------- */

static int parse_u(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || v > max)
        return E_INVAL;
    *out = v;
    return 0;
}

static int cmd_synth_enc(int argc, char **argv)
{
    struct synth_enc p;
    struct err_info ei = {0};
    uint64_t v;
    if (argc < 4 || (strcmp(argv[1], "bert") && strcmp(argv[1], "nomic-bert"))) {
        fprintf(stderr, "Usage: corral synth-enc bert|nomic-bert VOCAB.gguf|- OUT.gguf "
                        "[--pooling N] [--type f32|f16|q8_0] [--fused] [--seed N] [--tiny] "
                        "[--dims EMBD,HEADS,LAYERS,FF,CTX]\n");
        return 2;
    }
    synth_enc_default(&p, argv[1]);
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--fused")) {
            p.fused_qkv = 1;
        } else if (!strcmp(a, "--tiny")) {
            synth_enc_tiny(&p);
        } else if (!strcmp(a, "--pooling") && parse_u(val, 3, &v) == 0 && v >= 1) {
            p.pooling = (uint32_t)v;
            i++;
        } else if (!strcmp(a, "--seed") && parse_u(val, UINT64_MAX, &v) == 0) {
            p.seed = v;
            i++;
        } else if (!strcmp(a, "--dims") && sscanf(val, "%u,%u,%u,%u,%u", &p.n_embd, &p.n_head,
                                                  &p.n_layer, &p.n_ff, &p.n_ctx) == 5) {
            i++; /* embd,heads,layers,ff,ctx: real shapes for benchmarks */
        } else if (!strcmp(a, "--type") &&
                   (!strcmp(val, "f32") || !strcmp(val, "f16") || !strcmp(val, "q8_0"))) {
            p.type = !strcmp(val, "f32")   ? GGUF_T_F32
                     : !strcmp(val, "f16") ? GGUF_T_F16
                                           : GGUF_T_Q8_0;
            i++;
        } else {
            fprintf(stderr, "Error: bad argument %s\n", a);
            return 2;
        }
    }
    if (synth_enc_write(strcmp(argv[2], "-") ? argv[2] : NULL, &p, argv[3], &ei) != 0) {
        fprintf(stderr, "Error: %s\n", ei.msg);
        return 1;
    }
    return 0;
}
CMD_REGISTER(synth_enc, "synth-enc", cmd_synth_enc, NULL)

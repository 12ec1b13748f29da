/*
 * model_enc.c - encoder models (bert, nomic-bert) for embeddings: loading with every tensor
 * checked, and the non-causal forward pass over one sequence (model_enc.h has the block).
 *
 * The pass runs on every thread of the context's pool at once; each step ends in a pool
 * barrier.  Elementwise steps split token rows statically; matrix products (blocks of weight
 * rows, multiples of 16) and attention ((head, query block) items) hand out work through an
 * atomic counter per step, so a thread whose vCPU stalls simply takes fewer items.  Attention is
 * two F32 matrix products per item (Q K^T, then the probabilities times V transposed once per
 * layer), through the same kern->mul_mat.  A whole sequence is one batch (a few hundred tokens), so
 * every matrix product is a tiled matrix-matrix product through kern->mul_mat over activations
 * quantized once per step to the weights' vec_dot_type, as model_fwd.c does for prompts.  Passes
 * that read fewer weight bytes x tokens than par_min_bytes run on the caller alone.
 *
 * Sections: loading (keys, tensors, layers), elementwise helpers (LayerNorm, GELU, RoPE), the
 * pass, setup.
 */
#include "engine/model/model_enc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/kern/kern.h"
#include "engine/model/model_attn.h"
#include "engine/thread/pool.h"

#define ENC_NAME_MAX          96
#define ENC_MAX_TYPES         16 /* token_types rows accepted */
#define ENC_ROW_ALIGN         16 /* weight rows per block are a multiple of this */
#define ENC_GELU_N            65536
#define ENC_QBLOCK            32 /* queries per attention work item */
#define ENC_CHUNKS_PER_THREAD 4  /* weight row blocks per thread and product: balance vs atomics */
#define ENC_STEPS_PER_LAYER   8  /* shared steps (products, attention) of a layer, at most */

/* ---- loading: keys --------------------------------------------------------------------- */

static int arch_of(const struct gguf *g, enum enc_arch *a)
{
    struct gguf_str s;
    if (gguf_get_str(g, "general.architecture", &s) != 0)
        return 0;
    if (gguf_str_eq(s, "bert"))
        *a = ENC_ARCH_BERT;
    else if (gguf_str_eq(s, "nomic-bert"))
        *a = ENC_ARCH_NOMIC_BERT;
    else
        return 0;
    return 1;
}

int enc_is_encoder(const struct gguf *g)
{
    enum enc_arch a;
    return g && arch_of(g, &a);
}

static int key_u32(const struct enc_model *m, const char *suffix, uint32_t *out, int required,
                   struct err_info *ei)
{
    char key[ENC_NAME_MAX];
    snprintf(key, sizeof(key), "%s.%s", m->arch_name, suffix);
    int rc = gguf_get_u32(m->g, key, out);
    if (rc == E_NOTFOUND && !required)
        return 0;
    if (rc != 0)
        return err_set(ei, E_PARSE, "model: key %s %s", key,
                       rc == E_NOTFOUND ? "missing" : "has a bad type or value");
    return 0;
}

static int key_f32(const struct enc_model *m, const char *suffix, float *out, int required,
                   struct err_info *ei)
{
    char key[ENC_NAME_MAX];
    snprintf(key, sizeof(key), "%s.%s", m->arch_name, suffix);
    int rc = gguf_get_f32(m->g, key, out);
    if (rc == E_NOTFOUND && !required)
        return 0;
    if (rc != 0 || !isfinite(*out))
        return err_set(ei, E_PARSE, "model: key %s %s", key,
                       rc == E_NOTFOUND ? "missing" : "has a bad type or value");
    return 0;
}

static void read_names(struct enc_model *m)
{
    struct gguf_str s;
    uint32_t ft;
    if (gguf_get_str(m->g, "general.name", &s) == 0) {
        size_t n = s.n < sizeof(m->name) - 1 ? (size_t)s.n : sizeof(m->name) - 1;
        memcpy(m->name, s.p, n);
        m->name[n] = 0;
    }
    if (gguf_get_u32(m->g, "general.file_type", &ft) == 0)
        snprintf(m->file_type, sizeof(m->file_type), "%s", gguf_ftype_name(ft));
    else
        snprintf(m->file_type, sizeof(m->file_type), "unknown");
}

static int read_hparams(struct enc_model *m, struct err_info *ei)
{
    int rc, causal = 1;
    uint32_t kl = 0;
    char key[ENC_NAME_MAX];
    m->rope_base = 10000.0f;
    if ((rc = key_u32(m, "embedding_length", &m->n_embd, 1, ei)) != 0 ||
        (rc = key_u32(m, "block_count", &m->n_layer, 1, ei)) != 0 ||
        (rc = key_u32(m, "feed_forward_length", &m->n_ff, 1, ei)) != 0 ||
        (rc = key_u32(m, "attention.head_count", &m->n_head, 1, ei)) != 0 ||
        (rc = key_u32(m, "attention.head_count_kv", &m->n_head_kv, 0, ei)) != 0 ||
        (rc = key_u32(m, "context_length", &m->n_ctx_train, 1, ei)) != 0 ||
        (rc = key_u32(m, "attention.key_length", &kl, 0, ei)) != 0 ||
        (rc = key_u32(m, "pooling_type", &m->pooling, 0, ei)) != 0 ||
        (rc = key_f32(m, "attention.layer_norm_epsilon", &m->eps, 1, ei)) != 0 ||
        (rc = key_f32(m, "rope.freq_base", &m->rope_base, 0, ei)) != 0)
        return rc;
    snprintf(key, sizeof(key), "%s.attention.causal", m->arch_name);
    rc = gguf_get_bool(m->g, key, &causal);
    if (rc != 0 && rc != E_NOTFOUND)
        return err_set(ei, E_PARSE, "model: key %s has a bad type or value", key);
    m->causal = causal != 0;
    if (!m->n_head_kv)
        m->n_head_kv = m->n_head;
    if (!m->n_head || !m->n_embd)
        return err_set(ei, E_PARSE, "model: attention.head_count or embedding_length is 0");
    m->head_dim = kl ? kl : m->n_embd / m->n_head;
    m->n_rot = m->head_dim;
    if ((rc = key_u32(m, "rope.dimension_count", &m->n_rot, 0, ei)) != 0)
        return rc;
    if (m->n_embd > MODEL_MAX_EMBD || !m->n_layer || m->n_layer > MODEL_MAX_LAYERS ||
        m->n_head > MODEL_MAX_HEADS || m->n_head_kv > m->n_head || m->n_head % m->n_head_kv ||
        !m->head_dim || m->head_dim > MODEL_MAX_HEAD_DIM || !m->n_ff || m->n_ff > MODEL_MAX_FF ||
        !m->n_rot || m->n_rot > m->head_dim || m->n_rot % 2 || !m->n_ctx_train ||
        m->n_ctx_train > (1u << 20))
        return err_set(ei, E_PARSE,
                       "model: bad dimensions (embd %u layers %u heads %u/%u head_dim %u ff %u "
                       "rot %u ctx %u)",
                       m->n_embd, m->n_layer, m->n_head, m->n_head_kv, m->head_dim, m->n_ff,
                       m->n_rot, m->n_ctx_train);
    if (!(m->eps > 0.0f && m->eps < 1.0f) || !(m->rope_base > 0.0f))
        return err_set(ei, E_PARSE, "model: bad layer norm epsilon or rope base");
    return 0;
}

/* ---- loading: tensors ------------------------------------------------------------------ */

/* The tensor name, or NULL when absent; E_PARSE in *rc when it has more than n_dims dims. */
static const struct gguf_tensor *find_t(const struct enc_model *m, const char *name, int n_dims,
                                        int *rc, struct err_info *ei)
{
    return model_tensor_find(m->g, name, n_dims, rc, ei);
}

static int get_mat(struct enc_model *m, const char *name, int64_t ncols, int64_t nrows,
                   int required, struct model_mat *out, struct err_info *ei)
{
    int rc;
    const struct gguf_tensor *t = find_t(m, name, 2, &rc, ei);
    memset(out, 0, sizeof(*out));
    if (rc != 0)
        return rc;
    if (!t)
        return required ? err_set(ei, E_PARSE, "model: tensor %s missing", name) : 0;
    if ((rc = model_mat_check(m->k, t, name, ncols, nrows, out, ei)) != 0)
        return rc;
    m->n_params += (uint64_t)ncols * (uint64_t)nrows;
    return 0;
}

/* n F32 values from a F32/F16/BF16 tensor's first n elements (a vector, or row 0 of a matrix
 * when rows > 0 says how many rows it must have at most). */
static int get_vec_rows(struct enc_model *m, const char *name, int64_t n, int64_t rows,
                        int required, float **out, struct err_info *ei)
{
    int rc;
    *out = NULL;
    const struct gguf_tensor *t = find_t(m, name, rows ? 2 : 1, &rc, ei);
    if (rc != 0)
        return rc;
    if (!t)
        return required ? err_set(ei, E_PARSE, "model: tensor %s missing", name) : 0;
    if (t->ne[0] != n || (rows && (t->ne[1] < 1 || t->ne[1] > rows)))
        return err_set(ei, E_PARSE, "model: tensor %s has shape [%lld, %lld], expected [%lld]",
                       name, (long long)t->ne[0], (long long)t->ne[1], (long long)n);
    if (t->type != GGUF_T_F32 && t->type != GGUF_T_F16 && t->type != GGUF_T_BF16)
        return err_set(ei, E_UNSUPPORTED, "model: tensor %s has unsupported type %s", name,
                       gguf_type_name(t->type) ? gguf_type_name(t->type) : "?");
    uint64_t es = t->type == GGUF_T_F32 ? 4u : 2u;
    if (t->nbytes != (uint64_t)n * (uint64_t)t->ne[1] * es)
        return err_set(ei, E_PARSE, "model: tensor %s byte size mismatch", name);
    if ((rc = model_f32_copy(t, n, out, ei)) != 0)
        return rc;
    m->n_params += (uint64_t)n * (uint64_t)t->ne[1];
    return 0;
}

static int get_vec(struct enc_model *m, const char *name, int64_t n, int required, float **out,
                   struct err_info *ei)
{
    return get_vec_rows(m, name, n, 0, required, out, ei);
}

/* ---- loading: layers ------------------------------------------------------------------- */

static int load_attn(struct enc_model *m, uint32_t il, struct enc_layer *L, struct err_info *ei)
{
    char nm[ENC_NAME_MAX];
    int rc;
    int64_t e = m->n_embd, nq = (int64_t)m->n_head * m->head_dim;
    int64_t nk = (int64_t)m->n_head_kv * m->head_dim;
#define NM(s) (snprintf(nm, sizeof(nm), "blk.%u." s, il), nm)
    if ((rc = get_mat(m, NM("attn_qkv.weight"), e, nq + 2 * nk, 0, &L->wqkv, ei)) != 0)
        return rc;
    if (L->wqkv.data) {
        if ((rc = get_vec(m, NM("attn_qkv.bias"), nq + 2 * nk, 0, &L->bqkv, ei)) != 0)
            return rc;
    } else if ((rc = get_mat(m, NM("attn_q.weight"), e, nq, 1, &L->wq, ei)) != 0 ||
               (rc = get_mat(m, NM("attn_k.weight"), e, nk, 1, &L->wk, ei)) != 0 ||
               (rc = get_mat(m, NM("attn_v.weight"), e, nk, 1, &L->wv, ei)) != 0 ||
               (rc = get_vec(m, NM("attn_q.bias"), nq, 0, &L->bq, ei)) != 0 ||
               (rc = get_vec(m, NM("attn_k.bias"), nk, 0, &L->bk, ei)) != 0 ||
               (rc = get_vec(m, NM("attn_v.bias"), nk, 0, &L->bv, ei)) != 0) {
        return rc;
    }
    if ((rc = get_mat(m, NM("attn_output.weight"), nq, e, 1, &L->wo, ei)) != 0 ||
        (rc = get_vec(m, NM("attn_output.bias"), e, 0, &L->bo, ei)) != 0 ||
        (rc = get_vec(m, NM("attn_output_norm.weight"), e, 1, &L->ln1_w, ei)) != 0 ||
        (rc = get_vec(m, NM("attn_output_norm.bias"), e, 1, &L->ln1_b, ei)) != 0)
        return rc;
#undef NM
    return 0;
}

static int load_layer(struct enc_model *m, uint32_t il, struct err_info *ei)
{
    char nm[ENC_NAME_MAX];
    int rc;
    struct enc_layer *L = &m->layers[il];
    int64_t e = m->n_embd, f = m->n_ff;
    int bert = m->arch == ENC_ARCH_BERT;
    if ((rc = load_attn(m, il, L, ei)) != 0)
        return rc;
#define NM(s) (snprintf(nm, sizeof(nm), "blk.%u." s, il), nm)
    /* nomic-bert: llama.cpp builds its FFN without biases even when the file has them */
    if ((rc = get_mat(m, NM("ffn_up.weight"), e, f, 1, &L->up, ei)) != 0 ||
        (rc = get_mat(m, NM("ffn_down.weight"), f, e, 1, &L->down, ei)) != 0 ||
        (rc = get_mat(m, NM("ffn_gate.weight"), e, f, !bert, &L->gate, ei)) != 0 ||
        (bert && (rc = get_vec(m, NM("ffn_up.bias"), f, 0, &L->b_up, ei)) != 0) ||
        (bert && (rc = get_vec(m, NM("ffn_down.bias"), e, 0, &L->b_down, ei)) != 0) ||
        (rc = get_vec(m, NM("layer_output_norm.weight"), e, 1, &L->ln2_w, ei)) != 0 ||
        (rc = get_vec(m, NM("layer_output_norm.bias"), e, 1, &L->ln2_b, ei)) != 0)
        return rc;
    if (bert)
        memset(&L->gate, 0, sizeof(L->gate)); /* bert's FFN is not gated */
#undef NM
    return 0;
}

static int load_globals(struct enc_model *m, struct err_info *ei)
{
    int rc;
    uint32_t n_types = 0;
    const struct gguf_tensor *te = gguf_tensor_find(m->g, "token_embd.weight");
    if (!te)
        return err_set(ei, E_PARSE, "model: tensor token_embd.weight missing");
    if (te->ne[1] <= 0 || te->ne[1] > MODEL_MAX_VOCAB)
        return err_set(ei, E_PARSE, "model: token_embd.weight has a bad vocabulary size");
    m->n_vocab = (uint32_t)te->ne[1];
    rc = gguf_get_u32(m->g, "tokenizer.ggml.token_type_count", &n_types);
    if ((rc != 0 && rc != E_NOTFOUND) || n_types > ENC_MAX_TYPES)
        return err_set(ei, E_PARSE, "model: tokenizer.ggml.token_type_count is bad");
    if ((rc = get_mat(m, "token_embd.weight", m->n_embd, m->n_vocab, 1, &m->tok_embd, ei)) != 0 ||
        (rc = get_vec_rows(m, "token_types.weight", m->n_embd, n_types ? n_types : ENC_MAX_TYPES, 0,
                           &m->type0, ei)) != 0 ||
        (rc = get_vec(m, "token_embd_norm.weight", m->n_embd, 1, &m->tn_w, ei)) != 0 ||
        (rc = get_vec(m, "token_embd_norm.bias", m->n_embd, 1, &m->tn_b, ei)) != 0)
        return rc;
    if (m->arch == ENC_ARCH_BERT)
        return get_mat(m, "position_embd.weight", m->n_embd, m->n_ctx_train, 1, &m->pos_embd, ei);
    return 0;
}

/* Bytes of weights read per token of a pass, and of all tensors. */
static void count_bytes(struct enc_model *m)
{
    uint64_t b = 0;
    for (uint64_t i = 0; i < m->g->n_tensors; i++)
        m->weight_bytes += m->g->tensors[i].nbytes;
    for (uint32_t il = 0; il < m->n_layer; il++) {
        const struct enc_layer *L = &m->layers[il];
        const struct model_mat *mats[] = {&L->wqkv, &L->wq, &L->wk,   &L->wv,
                                          &L->wo,   &L->up, &L->gate, &L->down};
        for (size_t j = 0; j < sizeof(mats) / sizeof(mats[0]); j++)
            b += (uint64_t)mats[j]->row_bytes * (uint64_t)mats[j]->nrows;
    }
    m->bytes_per_token = b;
}

static float gelu_tanh(float x)
{
    const float c = 0.79788456080286535587989211986876f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(c * x * (1.0f + 0.044715f * x * x)));
}

static int build_gelu(struct enc_model *m, struct err_info *ei)
{
    if (!(m->gelu = mem_alloc_array(ENC_GELU_N, sizeof(float))))
        return err_set(ei, E_NOMEM, "model: out of memory");
    for (uint32_t h = 0; h < ENC_GELU_N; h++) {
        float x = kern_fp16_to_f32((uint16_t)h);
        m->gelu[h] = kern_fp16_to_f32(kern_f32_to_fp16(gelu_tanh(x)));
    }
    return 0;
}

int enc_load(struct gguf *g, const struct kern *k, struct enc_model **out, struct err_info *ei)
{
    int rc;
    struct enc_model *m = mem_calloc(1, sizeof(*m));
    if (!m)
        return err_set(ei, E_NOMEM, "model: out of memory");
    m->g = g;
    m->k = k;
    if (!arch_of(g, &m->arch)) {
        rc = err_set(ei, E_UNSUPPORTED, "model: not an encoder architecture");
        goto out;
    }
    snprintf(m->arch_name, sizeof(m->arch_name), "%s",
             m->arch == ENC_ARCH_BERT ? "bert" : "nomic-bert");
    read_names(m);
    if ((rc = read_hparams(m, ei)) != 0)
        goto out;
    if (!(m->layers = mem_calloc(m->n_layer, sizeof(*m->layers)))) {
        rc = err_set(ei, E_NOMEM, "model: out of memory");
        goto out;
    }
    if ((rc = load_globals(m, ei)) != 0)
        goto out;
    for (uint32_t il = 0; il < m->n_layer; il++)
        if ((rc = load_layer(m, il, ei)) != 0)
            goto out;
    if (m->arch == ENC_ARCH_BERT && (rc = build_gelu(m, ei)) != 0)
        goto out;
    count_bytes(m);
    *out = m;
    return 0;
out:
    m->g = NULL; /* the caller keeps g on failure */
    enc_free(m);
    return rc;
}

void enc_free(struct enc_model *m)
{
    if (!m)
        return;
    for (uint32_t il = 0; m->layers && il < m->n_layer; il++) {
        struct enc_layer *L = &m->layers[il];
        float *v[] = {L->bqkv,  L->bq,   L->bk,     L->bv,    L->bo,   L->ln1_w,
                      L->ln1_b, L->b_up, L->b_down, L->ln2_w, L->ln2_b};
        for (size_t j = 0; j < sizeof(v) / sizeof(v[0]); j++)
            mem_free(v[j]);
    }
    mem_free(m->layers);
    mem_free(m->type0);
    mem_free(m->tn_w);
    mem_free(m->tn_b);
    mem_free(m->gelu);
    gguf_close(m->g);
    mem_free(m);
}

/* ---- elementwise helpers --------------------------------------------------------------- */

/* out = (x - mean) / sqrt(var + eps) * w + b, as ggml_norm then mul and add: sums in double,
 * mean and variance rounded to float. */
static void layernorm(float *out, const float *x, const float *w, const float *b, int64_t n,
                      float eps)
{
    double s = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i];
    float mean = (float)(s / (double)n);
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] - mean;
        s2 += (double)(v * v);
    }
    float scale = 1.0f / sqrtf((float)(s2 / (double)n) + eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = (x[i] - mean) * scale * w[i] + b[i];
}

static void gelu_rows(const float *tab, float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = v <= -10.0f ? 0.0f : v >= 10.0f ? v : tab[kern_f32_to_fp16(v)];
    }
}

/* cos/sin of the n_rot/2 rotation angles at position pos (theta_i = pos * base^(-2i/n_rot),
 * computed by repeated multiplication in float as the reference does). */
static void rope_cs(const struct enc_model *m, float pos, float *cs)
{
    float theta_scale = powf(m->rope_base, -2.0f / (float)m->n_rot), theta = pos;
    for (uint32_t i = 0; i < m->n_rot / 2; i++) {
        cs[2 * i] = cosf(theta);
        cs[2 * i + 1] = sinf(theta);
        theta *= theta_scale;
    }
}

/* NEOX rotation of one head: pairs (i, i + n_rot/2). */
static void rope_neox(const struct enc_model *m, float *x, const float *cs)
{
    uint32_t half = m->n_rot / 2;
    for (uint32_t i = 0; i < half; i++) {
        float c = cs[2 * i], s = cs[2 * i + 1], x0 = x[i], x1 = x[i + half];
        x[i] = x0 * c - x1 * s;
        x[i + half] = x0 * s + x1 * c;
    }
}

/* ---- the pass -------------------------------------------------------------------------- */

static void sync_all(struct enc_fwd *f)
{
    if (f->nth > 1)
        pool_barrier(f->pool);
}

/* The work counter of this thread's next shared step: every thread takes the steps in the same
 * order, so the same index names the same step on all of them. */
static atomic_int *next_ctr(struct enc_fwd *f, int ith)
{
    return &f->ctr[f->ph[ith]++];
}

static void split(int n, int ith, int nth, int *a, int *b)
{
    *a = (int)((int64_t)n * ith / nth);
    *b = (int)((int64_t)n * (ith + 1) / nth);
}

/* Quantizes rows [0, n) of src (ld floats apart, ncols used) to vdt into f->xq; ends with a
 * barrier. */
static void quant(struct enc_fwd *f, int ith, const float *src, size_t ld, int64_t ncols,
                  uint32_t vdt)
{
    size_t vrb = kern_row_bytes(vdt, ncols);
    int a, b;
    split(f->n, ith, f->nth, &a, &b);
    for (int t = a; t < b; t++) {
        uint8_t *dst = f->xq + (size_t)t * vrb;
        if (vdt == GGUF_T_F32)
            memcpy(dst, src + (size_t)t * ld, (size_t)ncols * sizeof(float));
        else
            f->m->k->quantize_row(vdt, src + (size_t)t * ld, dst, ncols);
    }
    sync_all(f);
}

/* This thread's block of w's rows times every activation row in f->xq:
 * out[t * ldo + r] for r in the block.  No barrier. */
static void matmul(struct enc_fwd *f, int ith, const struct model_mat *w, float *out, int64_t ldo)
{
    atomic_int *ctr = next_ctr(f, ith);
    int64_t rows = w->nrows / ((int64_t)f->nth * ENC_CHUNKS_PER_THREAD);
    rows = rows < ENC_ROW_ALIGN ? ENC_ROW_ALIGN
                                : (rows + ENC_ROW_ALIGN - 1) / ENC_ROW_ALIGN * ENC_ROW_ALIGN;
    int n_chunks = (int)((w->nrows + rows - 1) / rows);
    for (int c; (c = atomic_fetch_add(ctr, 1)) < n_chunks;) {
        int64_t r0 = (int64_t)c * rows, r1 = r0 + rows < w->nrows ? r0 + rows : w->nrows;
        f->m->k->mul_mat(w->type, w->data, w->row_bytes, w->ncols, r0, r1, f->xq, w->vrow_bytes,
                         f->n, out, ldo);
    }
}

/* Several matrices over the same input src: quantized again only when the activation type
 * changes.  Ends with a barrier. */
static void project(struct enc_fwd *f, int ith, const float *src, size_t ld,
                    const struct model_mat *const *w, float *const *out, int n_w, int64_t ldo)
{
    uint32_t cur = UINT32_MAX;
    for (int i = 0; i < n_w; i++) {
        if (w[i]->vdt != cur) {
            if (cur != UINT32_MAX)
                sync_all(f); /* every thread is done with the old activations */
            quant(f, ith, src, ld, w[i]->ncols, w[i]->vdt);
            cur = w[i]->vdt;
        }
        matmul(f, ith, w[i], out[i], ldo);
    }
    sync_all(f);
}

/* Row r of a matrix as n floats. */
static void mat_row(const struct enc_model *m, const struct model_mat *w, int64_t r, float *dst)
{
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    if (w->type == GGUF_T_F32)
        memcpy(dst, row, (size_t)w->ncols * sizeof(float));
    else
        m->k->dequantize_row(w->type, row, dst, w->ncols);
}

static void embed_rows(struct enc_fwd *f, int ith)
{
    const struct enc_model *m = f->m;
    const struct model_mat *e = &m->tok_embd, *p = &m->pos_embd;
    int64_t ne = m->n_embd;
    float *tmp = f->thr[ith] + f->n_max;
    int a, b;
    split(f->n, ith, f->nth, &a, &b);
    for (int t = a; t < b; t++) {
        float *x = f->x + (size_t)t * ne;
        mat_row(m, e, f->tok[t], x);
        if (m->type0)
            kern_add(x, x, m->type0, ne);
        if (p->data) {
            mat_row(m, p, t, tmp);
            kern_add(x, tmp, x, ne);
        }
        layernorm(x, x, m->tn_w, m->tn_b, ne, m->eps);
        if (m->arch == ENC_ARCH_NOMIC_BERT)
            rope_cs(m, (float)t, f->rope + (size_t)t * m->n_rot);
    }
    sync_all(f);
}

/* Biases and RoPE of the q/k/v rows of this thread's tokens. */
static void qkv_post(struct enc_fwd *f, const struct enc_layer *L, int ith)
{
    const struct enc_model *m = f->m;
    uint32_t hd = m->head_dim;
    int a, b;
    split(f->n, ith, f->nth, &a, &b);
    for (int t = a; t < b; t++) {
        float *r = f->qkv + (size_t)t * f->n_qkv;
        if (L->bqkv)
            kern_add(r, r, L->bqkv, f->n_qkv);
        if (L->bq)
            kern_add(r, r, L->bq, f->n_q);
        if (L->bk)
            kern_add(r + f->n_q, r + f->n_q, L->bk, f->n_kv);
        if (L->bv)
            kern_add(r + f->n_q + f->n_kv, r + f->n_q + f->n_kv, L->bv, f->n_kv);
        if (m->arch != ENC_ARCH_NOMIC_BERT)
            continue;
        const float *cs = f->rope + (size_t)t * m->n_rot;
        for (uint32_t h = 0; h < m->n_head; h++)
            rope_neox(m, r + (size_t)h * hd, cs);
        for (uint32_t h = 0; h < m->n_head_kv; h++)
            rope_neox(m, r + f->n_q + (size_t)h * hd, cs);
    }
    sync_all(f);
}

/* V of every KV head transposed into f->vt ([n_kv heads][head_dim][n_max]) so that the
 * probability-weighted sum of values is a matrix product too, and K into f->kt the same way
 * for the AVX2 scores (model_attn_qkt_avx2: 16 keys per vector, no horizontal sums). */
static void v_transpose(struct enc_fwd *f, int ith)
{
    int rows = (int)f->n_kv, a, b;
    split(2 * rows, ith, f->nth, &a, &b);
    for (int r = a; r < b; r++) { /* rows of V, then of K (into kt) */
        int isk = r >= rows, rr = isk ? r - rows : r;
        float *dst = isk ? f->kt + (size_t)rr * f->kt_stride : f->vt + (size_t)rr * f->n_max;
        const float *src = f->qkv + f->n_q + (isk ? 0 : f->n_kv) + (size_t)rr;
        for (int j = 0; j < f->n; j++)
            dst[j] = src[(size_t)j * f->n_qkv];
    }
    sync_all(f);
}

/* s[0..n) = softmax(s * scale), the sum in double (as ggml).  Eight independent partial maxima
 * and sums: one running max or sum is a chain of dependent instructions that cost a quarter of
 * a whole pass.  simd: the exponentials and their sum by the AVX2 loop of the decoder's
 * attention (model_attn.h; float sum, exp to ~2e-7 relative), 14 % of a 512-token encoder pass
 * faster. */
static void softmax_row(float *s, int n, float scale, int simd)
{
    float m8[8], mx = -INFINITY;
    double s8[8] = {0}, sum = 0.0;
    int j = 0;
    for (int k = 0; k < 8; k++)
        m8[k] = -INFINITY;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) {
            s[j + k] *= scale;
            m8[k] = s[j + k] > m8[k] ? s[j + k] : m8[k];
        }
    for (; j < n; j++) {
        s[j] *= scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    for (int k = 0; k < 8; k++)
        mx = m8[k] > mx ? m8[k] : mx;
    if (simd && n > 0) {
        float inv = 1.0f / model_attn_softmax_avx2(s, (uint32_t)n, mx);
        for (j = 0; j < n; j++)
            s[j] *= inv;
        return;
    }
    for (j = 0; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) {
            s[j + k] = expf(s[j + k] - mx);
            s8[k] += (double)s[j + k];
        }
    for (; j < n; j++) {
        s[j] = expf(s[j] - mx);
        sum += (double)s[j];
    }
    for (int k = 0; k < 8; k++)
        sum += s8[k];
    float inv = (float)(1.0 / sum);
    for (j = 0; j < n; j++)
        s[j] *= inv;
}

/* Attention items of (head, block of ENC_QBLOCK queries): scores = Q K^T (kern mul_mat, F32),
 * scaled, masked when causal, softmax per row, then P V^T into f->att. */
static void attention(struct enc_fwd *f, int ith)
{
    const struct enc_model *m = f->m;
    const struct kern *k = m->k;
    uint32_t hd = m->head_dim, gqa = m->n_head / m->n_head_kv;
    float scale = 1.0f / sqrtf((float)hd), *sc = f->thr[ith];
    int n = f->n, n_blk = (n + ENC_QBLOCK - 1) / ENC_QBLOCK, n_items = n_blk * (int)m->n_head;
    size_t row = (size_t)f->n_qkv * sizeof(float);
    atomic_int *ctr = next_ctr(f, ith);
    for (int c; (c = atomic_fetch_add(ctr, 1)) < n_items;) {
        uint32_t h = (uint32_t)(c / n_blk), kvh = h / gqa;
        int t0 = (c % n_blk) * ENC_QBLOCK, nt = n - t0 < ENC_QBLOCK ? n - t0 : ENC_QBLOCK;
        const float *q = f->qkv + (size_t)t0 * f->n_qkv + (size_t)h * hd;
        const float *kk = f->qkv + f->n_q + (size_t)kvh * hd;
        if (f->simd)
            model_attn_qkt_avx2(q, f->n_qkv, nt, f->kt + (size_t)kvh * hd * f->kt_stride,
                                f->kt_stride, hd, n, sc, (size_t)n);
        else
            k->mul_mat(GGUF_T_F32, kk, row, hd, 0, n, q, row, nt, sc, n);
        for (int t = 0; t < nt; t++) {
            float *s = sc + (size_t)t * n;
            int n_j = m->causal ? t0 + t + 1 : n;
            softmax_row(s, n_j, scale, f->simd);
            for (int j = n_j; j < n; j++)
                s[j] = 0.0f;
        }
        k->mul_mat(GGUF_T_F32, f->vt + (size_t)kvh * hd * f->n_max, f->n_max * sizeof(float), n, 0,
                   hd, sc, (size_t)n * sizeof(float), nt,
                   f->att + (size_t)t0 * f->n_q + (size_t)h * hd, f->n_q);
    }
    sync_all(f);
}

/* dst[t] = LayerNorm(dst[t] + bias + res[t]) for this thread's tokens. */
static void add_norm(struct enc_fwd *f, int ith, float *dst, const float *bias, const float *res,
                     const float *w, const float *b)
{
    int64_t ne = f->m->n_embd;
    int a, e;
    split(f->n, ith, f->nth, &a, &e);
    for (int t = a; t < e; t++) {
        float *d = dst + (size_t)t * ne;
        if (bias)
            kern_add(d, d, bias, ne);
        kern_add(d, d, res + (size_t)t * ne, ne);
        layernorm(d, d, w, b, ne, f->m->eps);
    }
    sync_all(f);
}

static void ffn_act(struct enc_fwd *f, const struct enc_layer *L, int ith)
{
    int64_t nf = f->m->n_ff;
    int a, b;
    split(f->n, ith, f->nth, &a, &b);
    for (int t = a; t < b; t++) {
        float *u = f->ff_u + (size_t)t * nf;
        if (L->gate.data) {
            model_silu_mul(f->simd, u, f->ff_g + (size_t)t * nf, u, nf);
            continue;
        }
        if (L->b_up)
            kern_add(u, u, L->b_up, nf);
        gelu_rows(f->m->gelu, u, nf);
    }
    sync_all(f);
}

static void layer(struct enc_fwd *f, const struct enc_layer *L, int ith)
{
    const struct enc_model *m = f->m;
    int64_t ne = m->n_embd;
    if (L->wqkv.data) {
        const struct model_mat *w[1] = {&L->wqkv};
        float *o[1] = {f->qkv};
        project(f, ith, f->x, (size_t)ne, w, o, 1, f->n_qkv);
    } else {
        const struct model_mat *w[3] = {&L->wq, &L->wk, &L->wv};
        float *o[3] = {f->qkv, f->qkv + f->n_q, f->qkv + f->n_q + f->n_kv};
        project(f, ith, f->x, (size_t)ne, w, o, 3, f->n_qkv);
    }
    qkv_post(f, L, ith);
    v_transpose(f, ith);
    attention(f, ith);
    const struct model_mat *wo[1] = {&L->wo};
    float *oo[1] = {f->h};
    project(f, ith, f->att, f->n_q, wo, oo, 1, ne);
    add_norm(f, ith, f->h, L->bo, f->x, L->ln1_w, L->ln1_b);
    if (L->gate.data) {
        const struct model_mat *w[2] = {&L->up, &L->gate};
        float *o[2] = {f->ff_u, f->ff_g};
        project(f, ith, f->h, (size_t)ne, w, o, 2, m->n_ff);
    } else {
        const struct model_mat *w[1] = {&L->up};
        float *o[1] = {f->ff_u};
        project(f, ith, f->h, (size_t)ne, w, o, 1, m->n_ff);
    }
    ffn_act(f, L, ith);
    const struct model_mat *wd[1] = {&L->down};
    float *od[1] = {f->x};
    project(f, ith, f->ff_u, m->n_ff, wd, od, 1, ne);
    add_norm(f, ith, f->x, L->b_down, f->h, L->ln2_w, L->ln2_b);
}

static void worker(void *arg, int ith, int nth)
{
    struct enc_fwd *f = arg;
    (void)nth;
    embed_rows(f, ith);
    for (uint32_t il = 0; il < f->m->n_layer; il++) {
        if (ith == 0 && f->abort_fn && f->abort_fn(f->abort_user))
            atomic_store(&f->aborted, 1);
        sync_all(f);
        if (atomic_load(&f->aborted))
            return;
        layer(f, &f->m->layers[il], ith);
    }
}

int enc_fwd_run(struct enc_fwd *f, const int32_t *tok, int n)
{
    if (n < 1 || (uint32_t)n > f->n_max)
        return E_RANGE;
    f->tok = tok;
    f->n = n;
    atomic_store(&f->aborted, 0);
    f->nth = (uint64_t)n * f->m->bytes_per_token < f->par_min_bytes ? 1 : f->n_threads;
    for (int i = 0; i < f->n_ctr; i++)
        atomic_store(&f->ctr[i], 0);
    memset(f->ph, 0, (size_t)f->n_threads * sizeof(*f->ph));
    if (f->nth == 1)
        worker(f, 0, 1);
    else
        pool_run(f->pool, worker, f);
    f->tok = NULL;
    return atomic_load(&f->aborted) ? E_CANCELLED : 0;
}

/* ---- setup ----------------------------------------------------------------------------- */

static size_t max_vrow_of(const struct enc_model *m)
{
    size_t mx = 0;
    for (uint32_t il = 0; il < m->n_layer; il++) {
        const struct enc_layer *L = &m->layers[il];
        const struct model_mat *mats[] = {&L->wqkv, &L->wq, &L->wk,   &L->wv,
                                          &L->wo,   &L->up, &L->gate, &L->down};
        for (size_t j = 0; j < sizeof(mats) / sizeof(mats[0]); j++)
            mx = mats[j]->vrow_bytes > mx ? mats[j]->vrow_bytes : mx;
    }
    return mx;
}

int enc_fwd_init(struct enc_fwd *f, const struct enc_model *m, uint32_t n_max, int n_threads,
                 struct err_info *ei)
{
    int rc = E_NOMEM;
    memset(f, 0, sizeof(*f));
    f->m = m;
    f->simd = model_attn_simd(m->k->isa);
    f->n_max = n_max;
    f->n_threads = n_threads;
    f->n_q = m->n_head * m->head_dim;
    f->n_kv = m->n_head_kv * m->head_dim;
    f->n_qkv = f->n_q + 2 * f->n_kv;
    f->max_vrow = max_vrow_of(m);
    size_t nm = n_max, wide = m->n_embd > f->n_q ? m->n_embd : f->n_q;
    size_t scratch = (size_t)ENC_QBLOCK * nm > nm + wide ? (size_t)ENC_QBLOCK * nm : nm + wide;
    if (!n_max || n_max > m->n_ctx_train || n_threads < 1) {
        rc = err_set(ei, E_INVAL, "engine: bad encoder context (%u tokens, %d threads)", n_max,
                     n_threads);
        goto out;
    }
    f->x = mem_aligned(64, nm * m->n_embd * sizeof(float));
    f->h = mem_aligned(64, nm * m->n_embd * sizeof(float));
    f->qkv = mem_aligned(64, nm * f->n_qkv * sizeof(float));
    f->att = mem_aligned(64, nm * f->n_q * sizeof(float));
    f->ff_u = mem_aligned(64, nm * m->n_ff * sizeof(float));
    f->ff_g = mem_aligned(64, nm * m->n_ff * sizeof(float));
    f->xq = mem_aligned(64, nm * f->max_vrow);
    f->rope = mem_aligned(64, nm * m->n_rot * sizeof(float));
    f->vt = mem_aligned(64, (size_t)f->n_kv * nm * sizeof(float));
    /* kt rows padded by 16 floats: with n_max a power of two the rows the scores read one after
     * another (one per head dimension) would share a few L1 sets (measured 1-4 % of a pass) */
    f->kt_stride = nm + 16;
    f->kt = mem_aligned(64, (size_t)f->n_kv * f->kt_stride * sizeof(float));
    f->thr = mem_calloc((size_t)n_threads, sizeof(*f->thr));
    f->n_ctr = (int)m->n_layer * ENC_STEPS_PER_LAYER;
    f->ctr = mem_calloc((size_t)f->n_ctr, sizeof(*f->ctr));
    f->ph = mem_calloc((size_t)n_threads, sizeof(*f->ph));
    if (!f->x || !f->h || !f->qkv || !f->att || !f->ff_u || !f->ff_g || !f->xq || !f->rope ||
        !f->vt || !f->kt || !f->thr || !f->ctr || !f->ph)
        goto nomem;
    for (int i = 0; i < n_threads; i++)
        if (!(f->thr[i] = mem_aligned(64, scratch * sizeof(float))))
            goto nomem;
    if ((rc = pool_new(n_threads, 0, &f->pool)) != 0) {
        err_set(ei, rc, "engine: cannot start %d threads", n_threads);
        goto out;
    }
    return 0;
nomem:
    rc = err_set(ei, E_NOMEM, "engine: cannot allocate encoder buffers for %u tokens", n_max);
out:
    enc_fwd_fini(f);
    return rc;
}

void enc_fwd_fini(struct enc_fwd *f)
{
    pool_free(f->pool);
    mem_free(f->x);
    mem_free(f->h);
    mem_free(f->qkv);
    mem_free(f->att);
    mem_free(f->ff_u);
    mem_free(f->ff_g);
    mem_free(f->xq);
    mem_free(f->rope);
    mem_free(f->vt);
    mem_free(f->kt);
    mem_free(f->ctr);
    mem_free(f->ph);
    for (int i = 0; f->thr && i < f->n_threads; i++)
        mem_free(f->thr[i]);
    mem_free(f->thr);
    memset(f, 0, sizeof(*f));
}

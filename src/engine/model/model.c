/*
 * model.c - building a struct model from a GGUF file: architecture and hyperparameters from
 * the <arch>.* keys, every tensor looked up by its llama.cpp name and checked for shape, type
 * and byte size before use, 1-D tensors copied to F32, RoPE cos/sin (model.h).
 *
 * Sections: hyperparameters, tensor checks, layers, public functions, RoPE.
 */
#include "engine/model/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/kern/kern.h"

#define MODEL_MAX_NAME 96

struct arch_desc {
    const char *name;
    enum model_arch arch;
    int neox;
};

static const struct arch_desc ARCHS[] = {
    {"llama", MODEL_ARCH_LLAMA, 0},
    {"qwen2", MODEL_ARCH_QWEN2, 1},
    {"qwen3", MODEL_ARCH_QWEN3, 1},
};

/* ---- hyperparameters ------------------------------------------------------------------- */

static int get_u32_key(const struct model *m, const char *suffix, uint32_t *out, int required,
                       struct err_info *ei)
{
    char key[MODEL_MAX_NAME];
    snprintf(key, sizeof(key), "%s.%s", m->arch_name, suffix);
    int rc = gguf_get_u32(m->g, key, out);
    if (rc == E_NOTFOUND && !required)
        return 0;
    if (rc != 0)
        return err_set(ei, E_PARSE, "model: key %s %s", key,
                       rc == E_NOTFOUND ? "missing" : "has a bad type or value");
    return 0;
}

static int get_f32_key(const struct model *m, const char *suffix, float *out, struct err_info *ei)
{
    char key[MODEL_MAX_NAME];
    snprintf(key, sizeof(key), "%s.%s", m->arch_name, suffix);
    int rc = gguf_get_f32(m->g, key, out);
    if (rc == E_NOTFOUND)
        return 0;
    if (rc != 0 || !isfinite(*out))
        return err_set(ei, E_PARSE, "model: key %s has a bad type or value", key);
    return 0;
}

static int read_arch(struct model *m, struct err_info *ei)
{
    struct gguf_str s;
    if (gguf_get_str(m->g, "general.architecture", &s) != 0)
        return err_set(ei, E_PARSE, "model: general.architecture missing");
    for (size_t i = 0; i < sizeof(ARCHS) / sizeof(ARCHS[0]); i++) {
        if (gguf_str_eq(s, ARCHS[i].name)) {
            m->arch = ARCHS[i].arch;
            m->rope_neox = ARCHS[i].neox;
            snprintf(m->arch_name, sizeof(m->arch_name), "%s", ARCHS[i].name);
            return 0;
        }
    }
    int n = s.n > 40 ? 40 : (int)s.n;
    return err_set(ei, E_UNSUPPORTED,
                   "model: unsupported architecture '%.*s' (supported: llama, "
                   "qwen2, qwen3)",
                   n, s.p);
}

static void read_names(struct model *m)
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

static int read_rope_scaling(struct model *m, struct err_info *ei)
{
    char key[MODEL_MAX_NAME];
    struct gguf_str s;
    float factor = 0.0f;
    m->freq_scale = 1.0f;
    snprintf(key, sizeof(key), "%s.rope.scaling.type", m->arch_name);
    if (gguf_get_str(m->g, key, &s) != 0 || gguf_str_eq(s, "none"))
        return 0;
    int rc = get_f32_key(m, "rope.scaling.factor", &factor, ei);
    if (rc != 0)
        return rc;
    if (gguf_str_eq(s, "linear")) {
        if (factor > 0.0f)
            m->freq_scale = 1.0f / factor;
        return 0;
    }
    if (gguf_str_eq(s, "llama3") || gguf_str_eq(s, "yarn"))
        return 0; /* llama3: factors come in rope_freqs; yarn: only beyond the trained context */
    int n = s.n > 40 ? 40 : (int)s.n;
    return err_set(ei, E_UNSUPPORTED, "model: unsupported rope scaling '%.*s'", n, s.p);
}

static int check_dims(const struct model *m, struct err_info *ei)
{
    if (!m->n_embd || m->n_embd > MODEL_MAX_EMBD || !m->n_layer || m->n_layer > MODEL_MAX_LAYERS ||
        !m->n_head || m->n_head > MODEL_MAX_HEADS || !m->n_head_kv || m->n_head_kv > m->n_head ||
        m->n_head % m->n_head_kv != 0 || !m->head_dim || m->head_dim > MODEL_MAX_HEAD_DIM ||
        !m->n_ff || m->n_ff > MODEL_MAX_FF || !m->n_rot || m->n_rot > m->head_dim ||
        m->n_rot % 2 != 0)
        return err_set(ei, E_PARSE,
                       "model: bad dimensions (embd %u layers %u heads %u/%u head_dim %u ff %u "
                       "rot %u)",
                       m->n_embd, m->n_layer, m->n_head, m->n_head_kv, m->head_dim, m->n_ff,
                       m->n_rot);
    if (!(m->eps > 0.0f && m->eps < 1.0f) || !(m->rope_base > 0.0f))
        return err_set(ei, E_PARSE, "model: bad rms epsilon or rope base");
    return 0;
}

static int read_hparams(struct model *m, struct err_info *ei)
{
    int rc;
    uint32_t kl = 0;
    m->n_head_kv = 0;
    m->eps = 1e-5f;
    m->rope_base = 10000.0f;
    if ((rc = get_u32_key(m, "embedding_length", &m->n_embd, 1, ei)) != 0 ||
        (rc = get_u32_key(m, "block_count", &m->n_layer, 1, ei)) != 0 ||
        (rc = get_u32_key(m, "feed_forward_length", &m->n_ff, 1, ei)) != 0 ||
        (rc = get_u32_key(m, "attention.head_count", &m->n_head, 1, ei)) != 0 ||
        (rc = get_u32_key(m, "attention.head_count_kv", &m->n_head_kv, 0, ei)) != 0 ||
        (rc = get_u32_key(m, "context_length", &m->n_ctx_train, 0, ei)) != 0 ||
        (rc = get_u32_key(m, "attention.key_length", &kl, 0, ei)) != 0 ||
        (rc = get_f32_key(m, "attention.layer_norm_rms_epsilon", &m->eps, ei)) != 0 ||
        (rc = get_f32_key(m, "rope.freq_base", &m->rope_base, ei)) != 0 ||
        (rc = read_rope_scaling(m, ei)) != 0)
        return rc;
    if (!m->n_head_kv)
        m->n_head_kv = m->n_head;
    if (!m->n_head)
        return err_set(ei, E_PARSE, "model: attention.head_count is 0");
    m->head_dim = kl ? kl : m->n_embd / m->n_head;
    m->n_rot = m->head_dim;
    if ((rc = get_u32_key(m, "rope.dimension_count", &m->n_rot, 0, ei)) != 0)
        return rc;
    if (!m->n_ctx_train)
        m->n_ctx_train = 2048;
    return check_dims(m, ei);
}

/* ---- tensor checks --------------------------------------------------------------------- */

static const struct gguf_tensor *find_t(const struct model *m, const char *name, int n_dims_max,
                                        struct err_info *ei, int *rc)
{
    const struct gguf_tensor *t = gguf_tensor_find(m->g, name);
    *rc = 0;
    if (!t)
        return NULL;
    for (int d = n_dims_max; d < GGUF_MAX_DIMS; d++)
        if (t->ne[d] != 1) {
            *rc = err_set(ei, E_PARSE, "model: tensor %s has %u dimensions, expected %d", name,
                          t->n_dims, n_dims_max);
            return NULL;
        }
    return t;
}

static int get_mat(struct model *m, const char *name, int64_t ncols, int64_t nrows,
                   struct model_mat *out, struct err_info *ei)
{
    int rc;
    const struct gguf_tensor *t = find_t(m, name, 2, ei, &rc);
    if (rc != 0)
        return rc;
    if (!t)
        return err_set(ei, E_PARSE, "model: tensor %s missing", name);
    if (t->ne[0] != ncols || t->ne[1] != nrows)
        return err_set(
            ei, E_PARSE, "model: tensor %s has shape [%lld, %lld], expected [%lld, %lld]", name,
            (long long)t->ne[0], (long long)t->ne[1], (long long)ncols, (long long)nrows);
    if (!kern_type_supported(t->type) || !gguf_type_block_elems(t->type))
        return err_set(ei, E_UNSUPPORTED, "model: tensor %s has unsupported type %s (%u)", name,
                       gguf_type_name(t->type) ? gguf_type_name(t->type) : "?", (unsigned)t->type);
    size_t rb = kern_row_bytes(t->type, ncols);
    if (rb == 0 || t->nbytes != (uint64_t)rb * (uint64_t)nrows)
        return err_set(ei, E_PARSE, "model: tensor %s byte size %llu does not match its shape",
                       name, (unsigned long long)t->nbytes);
    uint32_t vdt = m->k->vec_dot_type(t->type);
    size_t vrb = kern_row_bytes(vdt, ncols);
    if (vrb == 0)
        return err_set(ei, E_UNSUPPORTED, "model: tensor %s: rows of %lld cannot be dotted as %s",
                       name, (long long)ncols, gguf_type_name(vdt) ? gguf_type_name(vdt) : "?");
    out->data = t->data;
    out->type = t->type;
    out->vdt = vdt;
    out->ncols = ncols;
    out->nrows = nrows;
    out->row_bytes = rb;
    out->vrow_bytes = vrb;
    m->n_params += (uint64_t)ncols * (uint64_t)nrows;
    return 0;
}

/* Copies a 1-D tensor of n elements to a new F32 array (*out NULL and 0 when absent and
 * optional). */
static int get_vec(struct model *m, const char *name, int64_t n, int required, float **out,
                   struct err_info *ei)
{
    int rc;
    *out = NULL;
    const struct gguf_tensor *t = find_t(m, name, 1, ei, &rc);
    if (rc != 0)
        return rc;
    if (!t)
        return required ? err_set(ei, E_PARSE, "model: tensor %s missing", name) : 0;
    if (t->ne[0] != n)
        return err_set(ei, E_PARSE, "model: tensor %s has %lld elements, expected %lld", name,
                       (long long)t->ne[0], (long long)n);
    if (t->type != GGUF_T_F32 && t->type != GGUF_T_F16 && t->type != GGUF_T_BF16)
        return err_set(ei, E_UNSUPPORTED, "model: 1-D tensor %s has unsupported type %s", name,
                       gguf_type_name(t->type) ? gguf_type_name(t->type) : "?");
    if (t->nbytes != (uint64_t)n * (t->type == GGUF_T_F32 ? 4u : 2u))
        return err_set(ei, E_PARSE, "model: tensor %s byte size mismatch", name);
    float *v = mem_alloc_array((size_t)n, sizeof(float));
    if (!v)
        return err_set(ei, E_NOMEM, "model: out of memory");
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        if (t->type == GGUF_T_F32) {
            memcpy(&v[i], p + 4 * i, 4);
            continue;
        }
        memcpy(&h, p + 2 * i, 2);
        v[i] = t->type == GGUF_T_F16 ? kern_fp16_to_f32(h) : kern_bf16_to_f32(h);
    }
    m->n_params += (uint64_t)n;
    *out = v;
    return 0;
}

/* ---- layers ---------------------------------------------------------------------------- */

static int load_layer_attn(struct model *m, uint32_t il, struct model_layer *L, struct err_info *ei)
{
    char nm[MODEL_MAX_NAME];
    int rc;
    int64_t e = m->n_embd, nq = (int64_t)m->n_head * m->head_dim;
    int64_t nk = (int64_t)m->n_head_kv * m->head_dim;
#define NM(s) (snprintf(nm, sizeof(nm), "blk.%u." s, il), nm)
    if (!gguf_tensor_find(m->g, NM("attn_q.weight")) &&
        gguf_tensor_find(m->g, NM("attn_qkv.weight")))
        return err_set(ei, E_UNSUPPORTED, "model: fused attn_qkv tensors are not supported");
    if ((rc = get_vec(m, NM("attn_norm.weight"), e, 1, &L->attn_norm, ei)) != 0 ||
        (rc = get_mat(m, NM("attn_q.weight"), e, nq, &L->wq, ei)) != 0 ||
        (rc = get_mat(m, NM("attn_k.weight"), e, nk, &L->wk, ei)) != 0 ||
        (rc = get_mat(m, NM("attn_v.weight"), e, nk, &L->wv, ei)) != 0 ||
        (rc = get_mat(m, NM("attn_output.weight"), nq, e, &L->wo, ei)) != 0 ||
        (rc = get_vec(m, NM("attn_q.bias"), nq, m->arch == MODEL_ARCH_QWEN2, &L->bq, ei)) != 0 ||
        (rc = get_vec(m, NM("attn_k.bias"), nk, m->arch == MODEL_ARCH_QWEN2, &L->bk, ei)) != 0 ||
        (rc = get_vec(m, NM("attn_v.bias"), nk, m->arch == MODEL_ARCH_QWEN2, &L->bv, ei)) != 0)
        return rc;
    if (m->arch == MODEL_ARCH_QWEN3) {
        if ((rc = get_vec(m, NM("attn_q_norm.weight"), m->head_dim, 1, &L->q_norm, ei)) != 0 ||
            (rc = get_vec(m, NM("attn_k_norm.weight"), m->head_dim, 1, &L->k_norm, ei)) != 0)
            return rc;
    }
#undef NM
    return 0;
}

static int load_layer(struct model *m, uint32_t il, struct err_info *ei)
{
    char nm[MODEL_MAX_NAME];
    int rc;
    struct model_layer *L = &m->layers[il];
    int64_t e = m->n_embd, f = m->n_ff;
    if ((rc = load_layer_attn(m, il, L, ei)) != 0)
        return rc;
#define NM(s) (snprintf(nm, sizeof(nm), "blk.%u." s, il), nm)
    if ((rc = get_vec(m, NM("ffn_norm.weight"), e, 1, &L->ffn_norm, ei)) != 0 ||
        (rc = get_mat(m, NM("ffn_gate.weight"), e, f, &L->gate, ei)) != 0 ||
        (rc = get_mat(m, NM("ffn_up.weight"), e, f, &L->up, ei)) != 0 ||
        (rc = get_mat(m, NM("ffn_down.weight"), f, e, &L->down, ei)) != 0)
        return rc;
#undef NM
    return 0;
}

static int load_globals(struct model *m, struct err_info *ei)
{
    int rc;
    const struct gguf_tensor *te = gguf_tensor_find(m->g, "token_embd.weight");
    if (!te)
        return err_set(ei, E_PARSE, "model: tensor token_embd.weight missing");
    if (te->ne[1] <= 0 || te->ne[1] > MODEL_MAX_VOCAB)
        return err_set(ei, E_PARSE, "model: token_embd.weight has a bad vocabulary size");
    m->n_vocab = (uint32_t)te->ne[1];
    if ((rc = get_mat(m, "token_embd.weight", m->n_embd, m->n_vocab, &m->tok_embd, ei)) != 0 ||
        (rc = get_vec(m, "output_norm.weight", m->n_embd, 1, &m->output_norm, ei)) != 0)
        return rc;
    if (gguf_tensor_find(m->g, "output.weight")) {
        if ((rc = get_mat(m, "output.weight", m->n_embd, m->n_vocab, &m->output, ei)) != 0)
            return rc;
    } else {
        m->output = m->tok_embd;
    }
    return get_vec(m, "rope_freqs.weight", m->n_rot / 2, 0, &m->rope_freqs, ei);
}

static void count_bytes(struct model *m)
{
    for (uint64_t i = 0; i < m->g->n_tensors; i++)
        m->weight_bytes += m->g->tensors[i].nbytes;
    uint64_t b = (uint64_t)m->output.row_bytes * m->output.nrows;
    for (uint32_t il = 0; il < m->n_layer; il++) {
        const struct model_layer *L = &m->layers[il];
        const struct model_mat *mats[] = {&L->wq,   &L->wk, &L->wv,  &L->wo,
                                          &L->gate, &L->up, &L->down};
        for (size_t j = 0; j < sizeof(mats) / sizeof(mats[0]); j++)
            b += (uint64_t)mats[j]->row_bytes * mats[j]->nrows;
    }
    m->bytes_per_token = b;
}

/* ---- public ---------------------------------------------------------------------------- */

int model_load(struct gguf *g, const struct kern *k, struct model **out, struct err_info *ei)
{
    int rc;
    struct model *m = mem_calloc(1, sizeof(*m));
    if (!m)
        return err_set(ei, E_NOMEM, "model: out of memory");
    m->g = g;
    m->k = k;
    read_names(m);
    if ((rc = read_arch(m, ei)) != 0 || (rc = read_hparams(m, ei)) != 0)
        goto out;
    m->layers = mem_calloc(m->n_layer, sizeof(*m->layers));
    if (!m->layers) {
        rc = err_set(ei, E_NOMEM, "model: out of memory");
        goto out;
    }
    if ((rc = load_globals(m, ei)) != 0)
        goto out;
    for (uint32_t il = 0; il < m->n_layer; il++)
        if ((rc = load_layer(m, il, ei)) != 0)
            goto out;
    count_bytes(m);
    *out = m;
    return 0;
out:
    m->g = NULL; /* the caller still owns g on failure */
    model_free(m);
    return rc;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    if (m->layers) {
        for (uint32_t il = 0; il < m->n_layer; il++) {
            struct model_layer *L = &m->layers[il];
            mem_free(L->attn_norm);
            mem_free(L->bq);
            mem_free(L->bk);
            mem_free(L->bv);
            mem_free(L->q_norm);
            mem_free(L->k_norm);
            mem_free(L->ffn_norm);
        }
    }
    mem_free(m->layers);
    mem_free(m->output_norm);
    mem_free(m->rope_freqs);
    model_wcopy_release(m);
    gguf_close(m->g);
    mem_free(m);
}

/* ---- RoPE ------------------------------------------------------------------------------ */

void model_rope_cs(const struct model *m, float pos, float *cs)
{
    /* theta_i = pos * base^(-2i/n_rot), computed by repeated multiplication in float the way
     * the reference does, divided by the optional per-pair factor, times freq_scale. */
    float theta_scale = powf(m->rope_base, -2.0f / (float)m->n_rot);
    float theta = pos;
    for (uint32_t i = 0; i < m->n_rot / 2; i++) {
        float ff = m->rope_freqs ? m->rope_freqs[i] : 1.0f;
        float th = m->freq_scale * (theta / ff);
        cs[2 * i] = cosf(th);
        cs[2 * i + 1] = sinf(th);
        theta *= theta_scale;
    }
}

void model_rope_apply(const struct model *m, float *x, const float *cs)
{
    uint32_t half = m->n_rot / 2;
    if (m->rope_neox) {
        for (uint32_t i = 0; i < half; i++) {
            float c = cs[2 * i], s = cs[2 * i + 1];
            float x0 = x[i], x1 = x[i + half];
            x[i] = x0 * c - x1 * s;
            x[i + half] = x0 * s + x1 * c;
        }
        return;
    }
    for (uint32_t i = 0; i < half; i++) {
        float c = cs[2 * i], s = cs[2 * i + 1];
        float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * c - x1 * s;
        x[2 * i + 1] = x0 * s + x1 * c;
    }
}

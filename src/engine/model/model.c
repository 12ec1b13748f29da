/*
 * model.c - building a struct model from a GGUF file: architecture and hyperparameters from
 * the <arch>.* keys, every tensor looked up by its llama.cpp name and checked for shape, type
 * and byte size before use, 1-D tensors copied to F32, RoPE cos/sin (model.h).
 *
 * Family rules follow llama.cpp's loader (inference-reference.md D.4):
 *   gemma3  sliding window from attention.sliding_window (none without it), pattern
 *           attention.sliding_window_pattern (period, default 6: layer i local unless
 *           i % 6 == 5; or a bool array, true = local), local layers rope.freq_base_swa
 *           (Ollama's converter: rope.local.freq_base; default 10000) and scale 1, global layers
 *           rope.freq_base (Ollama: rope.global.freq_base) with the file's scaling; Ollama's
 *           old 4B+ files lack the linear x8 scaling their HF config has: added when
 *           context_length >= 131072 and no factor is given; final soft-cap only with the key
 *   gemma2  window 4096 unless the key says otherwise, pattern 2, soft-caps 50 (scores) and 30
 *           (logits) unless the keys say otherwise
 *   both    embeddings x sqrt(n_embd), post-attention/post-FFN norms, GELU gate, scores scaled by
 *           1/sqrt(head_dim) (27B: 1/sqrt(n_embd/n_head)); norm weights are stored +1 already
 *   phi3    fused attn_qkv and ffn_up ([gate; up]) as row views, LongRoPE factors
 *           rope_factors_long/short (model_rope_for_ctx), the sliding-window key ignored
 * Tensors of a vision tower in the same file (v.*, mm.*: Ollama's gemma3) are ignored: text only.
 * Anything else unknown fails by name (architecture, rope scaling type, tensor shape or type).
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
    {"llama", MODEL_ARCH_LLAMA, 0},   {"qwen2", MODEL_ARCH_QWEN2, 1},
    {"qwen3", MODEL_ARCH_QWEN3, 1},   {"gemma3", MODEL_ARCH_GEMMA3, 1},
    {"gemma2", MODEL_ARCH_GEMMA2, 1}, {"phi3", MODEL_ARCH_PHI3, 1},
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
                   "qwen2, qwen3, gemma2, gemma3, phi3)",
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
    int no_type = gguf_get_str(m->g, key, &s) != 0;
    if (!no_type && gguf_str_eq(s, "none"))
        return 0;
    int rc = get_f32_key(m, "rope.scaling.factor", &factor, ei);
    if (rc != 0)
        return rc;
    if (no_type && factor == 0.0f && m->arch == MODEL_ARCH_GEMMA3 && m->n_ctx_train >= 131072)
        factor = 8.0f; /* Ollama's old gemma3 4B+ conversions (file comment) */
    if (no_type) {     /* llama.cpp: the type defaults to linear; new families only */
        if (m->arch >= MODEL_ARCH_GEMMA3 && factor > 0.0f)
            m->freq_scale = 1.0f / factor;
        return 0;
    }
    if (gguf_str_eq(s, "longrope"))
        return 0; /* factors come in rope_factors_long/short */
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

/* attention.sliding_window_pattern: a period (layer i local unless i % p == p - 1) or a bool
 * array (true = local) of n_layer entries. */
static int read_swa_pattern(struct model *m, uint32_t period, struct err_info *ei)
{
    char key[MODEL_MAX_NAME];
    snprintf(key, sizeof(key), "%s.attention.sliding_window_pattern", m->arch_name);
    const struct gguf_kv *kv = gguf_find(m->g, key);
    if (kv && kv->type == GGUF_VT_ARRAY) {
        if (kv->arr_type != GGUF_VT_BOOL || kv->arr_n != m->n_layer || kv->val_bytes != m->n_layer)
            return err_set(ei, E_PARSE, "model: key %s is not %u booleans", key, m->n_layer);
        for (uint32_t il = 0; il < m->n_layer; il++)
            m->layers[il].swa = kv->val[il] != 0;
        return 0;
    }
    int rc = get_u32_key(m, "attention.sliding_window_pattern", &period, 0, ei);
    if (rc != 0)
        return rc;
    for (uint32_t il = 0; il < m->n_layer; il++)
        m->layers[il].swa = period == 0 || il % period < period - 1;
    return 0;
}

/* Optional f32 key with a fallback name and a default. */
static int get_f32_or(const struct model *m, const char *suffix, const char *alt, float dflt,
                      float *out, struct err_info *ei)
{
    int rc;
    *out = NAN;
    if ((rc = get_f32_key(m, suffix, out, ei)) != 0)
        return rc;
    if (isnan(*out) && alt && (rc = get_f32_key(m, alt, out, ei)) != 0)
        return rc;
    if (isnan(*out))
        *out = dflt;
    if (!(*out >= 0.0f) || *out > 1e9f)
        return err_set(ei, E_PARSE, "model: key %s.%s out of range", m->arch_name, suffix);
    return 0;
}

/* Family-specific scalars (file comment); runs after the layers array exists. */
static int read_family(struct model *m, struct err_info *ei)
{
    int rc, gemma = m->arch == MODEL_ARCH_GEMMA3 || m->arch == MODEL_ARCH_GEMMA2;
    m->rope_g = (struct model_rope){m->rope_base, m->freq_scale, 1.0f, NULL};
    if ((rc = get_f32_or(m, "rope.scaling.attn_factor", NULL, 1.0f, &m->rope_g.mscale, ei)) != 0)
        return rc;
    m->rope_l = m->rope_g;
    m->embd_scale = 1.0f;
    m->attn_scale = 1.0f / sqrtf((float)m->head_dim);
    m->n_ctx_orig = m->n_ctx_train;
    if ((rc = get_u32_key(m, "rope.scaling.original_context_length", &m->n_ctx_orig, 0, ei)) != 0)
        return rc;
    if (!gemma)
        return 0;
    uint32_t big = m->arch == MODEL_ARCH_GEMMA3 ? 62 : 46; /* the 27B models */
    if (m->n_layer == big)
        m->attn_scale = 1.0f / sqrtf((float)(m->n_embd / m->n_head));
    m->embd_scale = sqrtf((float)m->n_embd);
    m->ffn_gelu = 1;
    if (m->arch == MODEL_ARCH_GEMMA2) {
        m->n_swa = 4096;
        m->attn_softcap = 50.0f;
        m->final_softcap = 30.0f;
        if ((rc = get_f32_or(m, "attn_logit_softcapping", NULL, 50.0f, &m->attn_softcap, ei)) !=
                0 ||
            (rc = get_f32_or(m, "rope.freq_base_swa", NULL, m->rope_base, &m->rope_l.base, ei)) !=
                0)
            return rc;
    } else {
        m->rope_l.scale = 1.0f;
        if ((rc = get_f32_or(m, "rope.freq_base_swa", "rope.local.freq_base", 10000.0f,
                             &m->rope_l.base, ei)) != 0)
            return rc;
    }
    if ((rc = get_f32_or(m, "final_logit_softcapping", NULL, m->final_softcap, &m->final_softcap,
                         ei)) != 0 ||
        (rc = get_u32_key(m, "attention.sliding_window", &m->n_swa, 0, ei)) != 0)
        return rc;
    if (!(m->rope_l.base > 0.0f))
        return err_set(ei, E_PARSE, "model: bad sliding-window rope base");
    if (m->n_swa)
        return read_swa_pattern(m, m->arch == MODEL_ARCH_GEMMA3 ? 6 : 2, ei);
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
        (rc = get_f32_key(m, "rope.freq_base", &m->rope_base, ei)) != 0)
        return rc;
    if (m->arch == MODEL_ARCH_GEMMA3 &&
        (rc = get_f32_key(m, "rope.global.freq_base", &m->rope_base, ei)) != 0)
        return rc; /* Ollama's converter; rope.freq_base wins when both exist (read again) */
    if ((rc = get_f32_key(m, "rope.freq_base", &m->rope_base, ei)) != 0 ||
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

const struct gguf_tensor *model_tensor_find(const struct gguf *g, const char *name, int n_dims_max,
                                            int *rc, struct err_info *ei)
{
    const struct gguf_tensor *t = gguf_tensor_find(g, name);
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

static const struct gguf_tensor *find_t(const struct model *m, const char *name, int n_dims_max,
                                        struct err_info *ei, int *rc)
{
    return model_tensor_find(m->g, name, n_dims_max, rc, ei);
}

int model_mat_check(const struct kern *k, const struct gguf_tensor *t, const char *name,
                    int64_t ncols, int64_t nrows, struct model_mat *out, struct err_info *ei)
{
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
    uint32_t vdt = k->vec_dot_type(t->type);
    size_t vrb = kern_row_bytes(vdt, ncols);
    if (vrb == 0)
        return err_set(ei, E_UNSUPPORTED, "model: tensor %s: rows of %lld cannot be dotted as %s",
                       name, (long long)ncols, gguf_type_name(vdt) ? gguf_type_name(vdt) : "?");
    /* every field, the callers' structs may be uninitialised (ilv 0: rows one after another) */
    *out = (struct model_mat){.data = t->data,
                              .type = t->type,
                              .vdt = vdt,
                              .ncols = ncols,
                              .nrows = nrows,
                              .row_bytes = rb,
                              .vrow_bytes = vrb};
    return 0;
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
    if ((rc = model_mat_check(m->k, t, name, ncols, nrows, out, ei)) != 0)
        return rc;
    m->n_params += (uint64_t)ncols * (uint64_t)nrows;
    return 0;
}

int model_f32_copy(const struct gguf_tensor *t, int64_t n, float **out, struct err_info *ei)
{
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
    *out = v;
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
    if ((rc = model_f32_copy(t, n, out, ei)) != 0)
        return rc;
    m->n_params += (uint64_t)n;
    return 0;
}

/* ---- layers ---------------------------------------------------------------------------- */

/* Rows [r0, r0 + n) of matrix w as a matrix of its own (fused tensors). */
static struct model_mat mat_rows_view(const struct model_mat *w, int64_t r0, int64_t n)
{
    struct model_mat v = *w;
    v.data = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
    v.nrows = n;
    return v;
}

/* attn_qkv.weight [n_embd][nq + 2 nk]: Q rows, then K, then V (phi3 and some llama files). */
static int load_qkv_fused(struct model *m, const char *name, struct model_layer *L,
                          struct err_info *ei)
{
    struct model_mat w;
    int64_t nq = (int64_t)m->n_head * m->head_dim, nk = (int64_t)m->n_head_kv * m->head_dim;
    int rc = get_mat(m, name, m->n_embd, nq + 2 * nk, &w, ei);
    if (rc != 0)
        return rc;
    L->wq = mat_rows_view(&w, 0, nq);
    L->wk = mat_rows_view(&w, nq, nk);
    L->wv = mat_rows_view(&w, nq + nk, nk);
    return 0;
}

static int load_layer_attn(struct model *m, uint32_t il, struct model_layer *L, struct err_info *ei)
{
    char nm[MODEL_MAX_NAME];
    int rc;
    int64_t e = m->n_embd, nq = (int64_t)m->n_head * m->head_dim;
    int64_t nk = (int64_t)m->n_head_kv * m->head_dim;
#define NM(s) (snprintf(nm, sizeof(nm), "blk.%u." s, il), nm)
    if (!gguf_tensor_find(m->g, NM("attn_q.weight")) &&
        gguf_tensor_find(m->g, NM("attn_qkv.weight"))) {
        if ((rc = load_qkv_fused(m, NM("attn_qkv.weight"), L, ei)) != 0)
            return rc;
    } else if ((rc = get_mat(m, NM("attn_q.weight"), e, nq, &L->wq, ei)) != 0 ||
               (rc = get_mat(m, NM("attn_k.weight"), e, nk, &L->wk, ei)) != 0 ||
               (rc = get_mat(m, NM("attn_v.weight"), e, nk, &L->wv, ei)) != 0) {
        return rc;
    }
    if ((rc = get_vec(m, NM("attn_norm.weight"), e, 1, &L->attn_norm, ei)) != 0 ||
        (rc = get_mat(m, NM("attn_output.weight"), nq, e, &L->wo, ei)) != 0 ||
        (rc = get_vec(m, NM("attn_q.bias"), nq, m->arch == MODEL_ARCH_QWEN2, &L->bq, ei)) != 0 ||
        (rc = get_vec(m, NM("attn_k.bias"), nk, m->arch == MODEL_ARCH_QWEN2, &L->bk, ei)) != 0 ||
        (rc = get_vec(m, NM("attn_v.bias"), nk, m->arch == MODEL_ARCH_QWEN2, &L->bv, ei)) != 0)
        return rc;
    if (m->arch == MODEL_ARCH_QWEN3 || m->arch == MODEL_ARCH_GEMMA3) {
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
    int gemma = m->arch == MODEL_ARCH_GEMMA3 || m->arch == MODEL_ARCH_GEMMA2;
    if ((rc = load_layer_attn(m, il, L, ei)) != 0)
        return rc;
#define NM(s) (snprintf(nm, sizeof(nm), "blk.%u." s, il), nm)
    if ((rc = get_vec(m, NM("ffn_norm.weight"), e, 1, &L->ffn_norm, ei)) != 0 ||
        (rc = get_mat(m, NM("ffn_down.weight"), f, e, &L->down, ei)) != 0 ||
        (rc = get_vec(m, NM("post_attention_norm.weight"), e, gemma, &L->post_attn_norm, ei)) !=
            0 ||
        (rc = get_vec(m, NM("post_ffw_norm.weight"), e, gemma, &L->post_ffn_norm, ei)) != 0)
        return rc;
    if (m->arch == MODEL_ARCH_PHI3 && !gguf_tensor_find(m->g, NM("ffn_gate.weight"))) {
        /* fused [gate; up]: silu(first n_ff outputs) * second n_ff */
        struct model_mat w;
        if ((rc = get_mat(m, NM("ffn_up.weight"), e, 2 * f, &w, ei)) != 0)
            return rc;
        L->gate = mat_rows_view(&w, 0, f);
        L->up = mat_rows_view(&w, f, f);
        return 0;
    }
    if ((rc = get_mat(m, NM("ffn_gate.weight"), e, f, &L->gate, ei)) != 0 ||
        (rc = get_mat(m, NM("ffn_up.weight"), e, f, &L->up, ei)) != 0)
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
    if (gguf_tensor_find(m->g, "output.weight") && m->arch != MODEL_ARCH_GEMMA2) {
        /* llama.cpp's gemma2 always projects with token_embd */
        if ((rc = get_mat(m, "output.weight", m->n_embd, m->n_vocab, &m->output, ei)) != 0)
            return rc;
    } else {
        m->output = m->tok_embd;
    }
    if ((rc = get_vec(m, "rope_factors_long.weight", m->n_rot / 2, 0, &m->rope_long, ei)) != 0 ||
        (rc = get_vec(m, "rope_factors_short.weight", m->n_rot / 2, 0, &m->rope_short, ei)) != 0)
        return rc;
    for (uint32_t i = 0; i < m->n_rot / 2; i++)
        if ((m->rope_long && !(m->rope_long[i] > 0.0f)) ||
            (m->rope_short && !(m->rope_short[i] > 0.0f)))
            return err_set(ei, E_PARSE, "model: rope factors must be positive");
    if ((rc = get_vec(m, "rope_freqs.weight", m->n_rot / 2, 0, &m->rope_freqs, ei)) != 0)
        return rc;
    m->rope_g.freqs = m->rope_l.freqs = m->rope_freqs;
    return 0;
}

/* F16 GELU (tanh form) of every F16 input, as llama.cpp's CPU backend tabulates it. */
static int build_gelu_table(struct model *m, struct err_info *ei)
{
    m->gelu_f16 = mem_alloc_array(65536, sizeof(uint16_t));
    if (!m->gelu_f16)
        return err_set(ei, E_NOMEM, "model: out of memory");
    for (uint32_t i = 0; i < 65536; i++) {
        float x = kern_fp16_to_f32((uint16_t)i);
        float y =
            0.5f * x * (1.0f + tanhf(0.79788456080286535588f * x * (1.0f + 0.044715f * x * x)));
        m->gelu_f16[i] = kern_f32_to_fp16(y);
    }
    return 0;
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
    if ((rc = read_family(m, ei)) != 0 || (rc = load_globals(m, ei)) != 0 ||
        (m->ffn_gelu && (rc = build_gelu_table(m, ei)) != 0))
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
            mem_free(L->post_attn_norm);
            mem_free(L->post_ffn_norm);
        }
    }
    mem_free(m->layers);
    mem_free(m->output_norm);
    mem_free(m->rope_freqs);
    mem_free(m->rope_long);
    mem_free(m->rope_short);
    mem_free(m->gelu_f16);
    model_wcopy_release(m);
    gguf_close(m->g);
    mem_free(m);
}

/* ---- RoPE ------------------------------------------------------------------------------ */

void model_rope_for_ctx(const struct model *m, uint32_t n_ctx, struct model_rope out[2])
{
    out[0] = m->rope_g;
    out[1] = m->rope_l;
    if (!m->rope_freqs && (m->rope_long || m->rope_short)) {
        /* as llama.cpp: the missing one of the two means no factors */
        out[0].freqs = out[1].freqs = n_ctx > m->n_ctx_orig ? m->rope_long : m->rope_short;
    }
}

void model_rope_cs(const struct model *m, const struct model_rope *r, float pos, float *cs)
{
    /* theta_i = pos * base^(-2i/n_rot), computed by repeated multiplication in float the way
     * the reference does, divided by the optional per-pair factor, times freq_scale. */
    float theta_scale = powf(r->base, -2.0f / (float)m->n_rot);
    float theta = pos;
    for (uint32_t i = 0; i < m->n_rot / 2; i++) {
        float ff = r->freqs ? r->freqs[i] : 1.0f;
        float th = r->scale * (theta / ff);
        cs[2 * i] = cosf(th) * r->mscale;
        cs[2 * i + 1] = sinf(th) * r->mscale;
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

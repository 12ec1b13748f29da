/*
 * quant.c - model quantizer (contract in quant.h): the per-tensor type policy of llama.cpp's
 * llama_model_quantize for the K-quant and legacy file types, the output ordering, and the
 * streaming conversion (one output tensor in memory at a time; inputs are dequantized to f32 in
 * bounded row chunks, then quantized with kern_quantize_weights).
 *
 * Sections: file types; model facts; which tensors are quantized; type policy; plan; writing.
 */
#include "engine/quant/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "engine/gguf/gguf_write.h"
#include "engine/kern/kern.h"
#include "engine/thread/pool.h"

#include <unistd.h>

#define QUANT_CHUNK_ELEMS (1 << 22) /* f32 elements dequantized at a time (16 MiB) */
#define QUANT_NAME_MAX    GGUF_MAX_NAME
#define QUANT_ARCH_MAX    64
#define QUANT_QNT_VERSION 2u /* general.quantization_version written by llama.cpp */
#define QUANT_MAX_THREADS 16

/* ---- file types ---------------------------------------------------------------------------- */

struct ftype_info {
    const char *name;
    uint32_t ftype;
    uint32_t def_type; /* default tensor type */
};

static const struct ftype_info ftypes[] = {
    {"F32", QUANT_FT_F32, GGUF_T_F32},        {"F16", QUANT_FT_F16, GGUF_T_F16},
    {"BF16", QUANT_FT_BF16, GGUF_T_BF16},     {"Q4_0", QUANT_FT_Q4_0, GGUF_T_Q4_0},
    {"Q4_1", QUANT_FT_Q4_1, GGUF_T_Q4_1},     {"Q5_0", QUANT_FT_Q5_0, GGUF_T_Q5_0},
    {"Q5_1", QUANT_FT_Q5_1, GGUF_T_Q5_1},     {"Q8_0", QUANT_FT_Q8_0, GGUF_T_Q8_0},
    {"Q2_K", QUANT_FT_Q2_K, GGUF_T_Q2_K},     {"Q2_K_S", QUANT_FT_Q2_K_S, GGUF_T_Q2_K},
    {"Q3_K_S", QUANT_FT_Q3_K_S, GGUF_T_Q3_K}, {"Q3_K_M", QUANT_FT_Q3_K_M, GGUF_T_Q3_K},
    {"Q3_K_L", QUANT_FT_Q3_K_L, GGUF_T_Q3_K}, {"Q4_K_S", QUANT_FT_Q4_K_S, GGUF_T_Q4_K},
    {"Q4_K_M", QUANT_FT_Q4_K_M, GGUF_T_Q4_K}, {"Q5_K_S", QUANT_FT_Q5_K_S, GGUF_T_Q5_K},
    {"Q5_K_M", QUANT_FT_Q5_K_M, GGUF_T_Q5_K}, {"Q6_K", QUANT_FT_Q6_K, GGUF_T_Q6_K},
};
#define N_FTYPES (sizeof(ftypes) / sizeof(ftypes[0]))

static const struct ftype_info *ftype_find(uint32_t ftype)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].ftype == ftype)
            return &ftypes[i];
    return NULL;
}

int quant_ftype_parse(const char *name, uint32_t *ftype)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (strcasecmp(name, ftypes[i].name) == 0) {
            *ftype = ftypes[i].ftype;
            return 0;
        }
    if (strcasecmp(name, "Q4_K") == 0 || strcasecmp(name, "Q5_K") == 0 ||
        strcasecmp(name, "Q3_K") == 0) { /* llama-quantize aliases: the _M mixes */
        *ftype = name[1] == '4'   ? QUANT_FT_Q4_K_M
                 : name[1] == '5' ? QUANT_FT_Q5_K_M
                                  : QUANT_FT_Q3_K_M;
        return 0;
    }
    return E_INVAL;
}

static int is_quantized_type(uint32_t t)
{
    return t != GGUF_T_F32 && t != GGUF_T_F16 && t != GGUF_T_BF16 && gguf_type_block_elems(t) > 0 &&
           gguf_type_block_elems(t) != 1;
}

/* ---- model facts --------------------------------------------------------------------------- */

struct qctx {
    uint32_t ftype;
    char arch[QUANT_ARCH_MAX];
    int64_t n_layer, n_head, n_head_kv, n_expert;
    int falcon, is70b, has_output;
    int n_attention_wv, i_attention_wv, i_ffn_down, i_ffn_gate, i_ffn_up;
};

/* Reads "<arch>.<suffix>" as an integer (element 0 of a per-layer array); dflt when absent. */
static int64_t arch_int(const struct gguf *g, const char *arch, const char *suffix, int64_t dflt)
{
    char key[160];
    int64_t v;
    int32_t a;
    snprintf(key, sizeof(key), "%s.%s", arch, suffix);
    if (gguf_get_i64(g, key, &v) == 0)
        return v;
    const struct gguf_kv *kv = gguf_find(g, key);
    if (kv && kv->type == GGUF_VT_ARRAY && gguf_arr_i32(kv, 0, &a) == 0)
        return a;
    return dflt;
}

static void tensor_name(const struct gguf_tensor *t, char *out)
{
    size_t n = (size_t)t->name.n; /* < GGUF_MAX_NAME, checked by the reader */
    memcpy(out, t->name.p, n);
    out[n] = 0;
}

static int has_sub(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}

static void model_facts(const struct gguf *g, struct qctx *q)
{
    struct gguf_str s;
    char name[QUANT_NAME_MAX];
    q->arch[0] = 0;
    if (gguf_get_str(g, "general.architecture", &s) == 0 && s.n < sizeof(q->arch)) {
        memcpy(q->arch, s.p, (size_t)s.n);
        q->arch[s.n] = 0;
    }
    q->n_layer = arch_int(g, q->arch, "block_count", 0);
    q->n_head = arch_int(g, q->arch, "attention.head_count", 0);
    q->n_head_kv = arch_int(g, q->arch, "attention.head_count_kv", q->n_head);
    q->n_expert = arch_int(g, q->arch, "expert_count", 0);
    q->falcon = strcmp(q->arch, "falcon") == 0;
    q->is70b = strcmp(q->arch, "llama") == 0 && q->n_layer == 80;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        tensor_name(&g->tensors[i], name);
        if (strcmp(name, "output.weight") == 0)
            q->has_output = 1;
        if (has_sub(name, "attn_v.weight") || has_sub(name, "attn_qkv.weight") ||
            has_sub(name, "attn_kv_b.weight"))
            q->n_attention_wv++;
    }
}

static int n_gqa(const struct qctx *q)
{
    return q->n_head_kv > 0 ? (int)(q->n_head / q->n_head_kv) : 1;
}

/* ---- which tensors are quantized ---------------------------------------------------------- */

/* Dimensions that count, as ggml_n_dims: trailing 1s do not. */
static int eff_dims(const struct gguf_tensor *t)
{
    int d = GGUF_MAX_DIMS;
    while (d > 1 && t->ne[d - 1] == 1)
        d--;
    return d;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && memcmp(s + n - m, suf, m) == 0;
}

static int should_quantize(const char *name, const struct gguf_tensor *t)
{
    static const char *const skip[] = {
        "_norm.weight",
        "ffn_gate_inp.weight",
        "altup",
        "laurel",
        "per_layer_model_proj",
        "ssm_conv1d.weight",
        "shortconv.conv.weight",
        "time_mix_first.weight",
        "time_mix_w0.weight",
        "time_mix_w1.weight",
        "time_mix_w2.weight",
        "time_mix_v0.weight",
        "time_mix_v1.weight",
        "time_mix_v2.weight",
        "time_mix_a0.weight",
        "time_mix_a1.weight",
        "time_mix_a2.weight",
        "time_mix_g1.weight",
        "time_mix_g2.weight",
        "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight",
        "attn_rel_b.weight",
        ".position_embd.",
    };
    if (!ends_with(name, "weight") || eff_dims(t) < 2)
        return 0;
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (has_sub(name, skip[i]))
            return 0;
    return strcmp(name, "position_embd.weight") != 0 && strcmp(name, "token_types.weight") != 0;
}

/* ---- type policy (llama_tensor_get_type) -------------------------------------------------- */

static int use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* Layer of a per-layer tensor: the running counter, or parsed from the name for MoE models. */
static int layer_of(const struct qctx *q, int counter, const char *name)
{
    int l = counter;
    if (q->n_expert > 1 && sscanf(name, "blk.%d.", &l) != 1)
        l = counter;
    return l;
}

static uint32_t output_type(const struct qctx *q, uint32_t t, int64_t nx)
{
    uint32_t blk = gguf_type_block_elems(t);
    if (q->falcon || nx % blk != 0)
        return GGUF_T_Q8_0;
    return t != GGUF_T_Q8_0 ? GGUF_T_Q6_K : t;
}

static uint32_t attn_v_type(struct qctx *q, uint32_t t)
{
    uint32_t f = q->ftype;
    int i = q->i_attention_wv++;
    if (f == QUANT_FT_Q2_K)
        t = n_gqa(q) >= 4 ? GGUF_T_Q4_K : GGUF_T_Q3_K;
    else if (f == QUANT_FT_Q2_K_S && n_gqa(q) >= 4)
        t = GGUF_T_Q4_K;
    else if (f == QUANT_FT_Q3_K_M)
        t = i < 2 ? GGUF_T_Q5_K : GGUF_T_Q4_K;
    else if (f == QUANT_FT_Q3_K_L)
        t = GGUF_T_Q5_K;
    else if ((f == QUANT_FT_Q4_K_M || f == QUANT_FT_Q5_K_M) && use_more_bits(i, q->n_attention_wv))
        t = GGUF_T_Q6_K;
    else if (f == QUANT_FT_Q4_K_S && i < 4)
        t = GGUF_T_Q5_K;
    if (q->is70b && (t == GGUF_T_Q3_K || t == GGUF_T_Q4_K))
        t = GGUF_T_Q5_K;
    if (q->n_expert == 8)
        t = GGUF_T_Q8_0;
    return t;
}

static uint32_t ffn_down_type(struct qctx *q, uint32_t t, const char *name)
{
    uint32_t f = q->ftype;
    int i = layer_of(q, q->i_ffn_down++, name), n = (int)q->n_layer;
    if (f == QUANT_FT_Q2_K)
        t = GGUF_T_Q3_K;
    else if (f == QUANT_FT_Q2_K_S) {
        if (i < n / 8)
            t = GGUF_T_Q4_K;
    } else if (f == QUANT_FT_Q3_K_M)
        t = i < n / 16                            ? GGUF_T_Q5_K
            : (!q->falcon || use_more_bits(i, n)) ? GGUF_T_Q4_K
                                                  : GGUF_T_Q3_K;
    else if (f == QUANT_FT_Q3_K_L)
        t = q->falcon ? GGUF_T_Q4_K : GGUF_T_Q5_K;
    else if (f == QUANT_FT_Q4_K_M) {
        if (q->falcon)
            t = i < n / 16 ? GGUF_T_Q6_K : use_more_bits(i, n) ? GGUF_T_Q5_K : GGUF_T_Q4_K;
        else if (use_more_bits(i, n))
            t = GGUF_T_Q6_K;
    } else if (f == QUANT_FT_Q5_K_M && use_more_bits(i, n))
        t = GGUF_T_Q6_K;
    else if (f == QUANT_FT_Q4_K_S && !q->falcon && i < n / 8)
        t = GGUF_T_Q5_K;
    return t;
}

static uint32_t attn_output_type(const struct qctx *q, uint32_t t)
{
    uint32_t f = q->ftype;
    if (q->falcon)
        return f == QUANT_FT_Q3_K_L ? GGUF_T_Q4_K : t;
    if (q->n_expert == 8)
        return (f == QUANT_FT_Q2_K || f == QUANT_FT_Q3_K_S || f == QUANT_FT_Q3_K_M ||
                f == QUANT_FT_Q4_K_S || f == QUANT_FT_Q4_K_M)
                   ? GGUF_T_Q5_K
                   : t;
    if (f == QUANT_FT_Q2_K)
        return GGUF_T_Q3_K;
    if (f == QUANT_FT_Q3_K_M)
        return GGUF_T_Q4_K;
    if (f == QUANT_FT_Q3_K_L)
        return GGUF_T_Q5_K;
    return t;
}

static uint32_t attn_qkv_type(const struct qctx *q, uint32_t t)
{
    if (q->ftype == QUANT_FT_Q3_K_M || q->ftype == QUANT_FT_Q3_K_L)
        return GGUF_T_Q4_K;
    if (q->ftype == QUANT_FT_Q4_K_M)
        return GGUF_T_Q5_K;
    if (q->ftype == QUANT_FT_Q5_K_M)
        return GGUF_T_Q6_K;
    return t;
}

/* Fallback when the row length is not a multiple of the block size; counts it in *fb. */
static uint32_t fallback(uint32_t t, int64_t nx, uint32_t *fb)
{
    if (nx % gguf_type_block_elems(t) == 0)
        return t;
    switch (t) {
    case GGUF_T_Q4_K:
        t = GGUF_T_Q5_0;
        break;
    case GGUF_T_Q5_K:
        t = GGUF_T_Q5_1;
        break;
    case GGUF_T_Q6_K:
        t = GGUF_T_Q8_0;
        break;
    /* llama.cpp picks IQ4_NL for Q2_K/Q3_K, which we cannot write: Q4_0 is the nearest type. */
    case GGUF_T_Q2_K:
    case GGUF_T_Q3_K:
        t = GGUF_T_Q4_0;
        break;
    default:
        t = GGUF_T_F16;
        break;
    }
    if (nx % gguf_type_block_elems(t) != 0)
        t = GGUF_T_F16;
    (*fb)++;
    return t;
}

static uint32_t tensor_type(struct qctx *q, uint32_t t, const char *name, int64_t nx, uint32_t *fb)
{
    if (strcmp(name, "output.weight") == 0 ||
        (!q->has_output && strcmp(name, "token_embd.weight") == 0))
        t = output_type(q, t, nx);
    else if (strcmp(name, "token_embd.weight") == 0 ||
             strcmp(name, "per_layer_token_embd.weight") == 0) {
        /* keeps the default type for these file types */
    } else if (has_sub(name, "attn_v.weight"))
        t = attn_v_type(q, t);
    else if (has_sub(name, "attn_k.weight")) {
        if (q->n_expert == 8)
            t = GGUF_T_Q8_0;
    } else if (has_sub(name, "ffn_down"))
        t = ffn_down_type(q, t, name);
    else if (has_sub(name, "attn_output.weight"))
        t = attn_output_type(q, t);
    else if (has_sub(name, "attn_qkv.weight"))
        t = attn_qkv_type(q, t);
    else if (has_sub(name, "ffn_gate"))
        q->i_ffn_gate++;
    else if (has_sub(name, "ffn_up"))
        q->i_ffn_up++;
    return fallback(t, nx, fb);
}

static uint64_t out_nbytes(const struct gguf_tensor *t, uint32_t nt)
{
    uint64_t n = (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
    return n / gguf_type_block_elems(nt) * gguf_type_block_bytes(nt);
}

/* ---- plan ------------------------------------------------------------------------------- */

struct order_key {
    int layer; /* -1 for tensors outside blk.N. */
    char name[QUANT_NAME_MAX];
    uint32_t idx;
};

static int cmp_order(const void *a, const void *b)
{
    const struct order_key *x = a, *y = b;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int make_order(const struct gguf *in, uint32_t *order)
{
    struct order_key *k = mem_calloc((size_t)in->n_tensors ? (size_t)in->n_tensors : 1, sizeof(*k));
    if (!k)
        return E_NOMEM;
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        tensor_name(&in->tensors[i], k[i].name);
        k[i].layer = -1;
        if (sscanf(k[i].name, "blk.%d.", &k[i].layer) != 1)
            k[i].layer = -1;
        k[i].idx = (uint32_t)i;
    }
    qsort(k, (size_t)in->n_tensors, sizeof(*k), cmp_order);
    for (uint64_t i = 0; i < in->n_tensors; i++)
        order[i] = k[i].idx;
    mem_free(k);
    return 0;
}

static int input_convertible(uint32_t t)
{
    return t == GGUF_T_F32 || t == GGUF_T_F16 || t == GGUF_T_BF16 || t == GGUF_T_Q4_0 ||
           t == GGUF_T_Q4_1 || t == GGUF_T_Q5_0 || t == GGUF_T_Q5_1 || t == GGUF_T_Q8_0 ||
           (t >= GGUF_T_Q2_K && t <= GGUF_T_Q6_K);
}

/* Type of one tensor (in output order); E_UNSUPPORTED when it would need a conversion we cannot
 * or may not do. */
static int plan_one(struct qctx *q, const struct quant_opts *o, const struct ftype_info *fi,
                    const struct gguf_tensor *t, uint32_t *out, uint32_t *fb, struct err_info *ei)
{
    char name[QUANT_NAME_MAX];
    tensor_name(t, name);
    uint32_t nt = t->type;
    if (should_quantize(name, t)) {
        nt = fi->def_type;
        if (!o->pure && is_quantized_type(fi->def_type))
            nt = tensor_type(q, nt, name, t->ne[0], fb);
        else
            nt = fallback(nt, t->ne[0], fb);
    }
    if (nt != t->type) {
        if (!input_convertible(t->type))
            return err_set(ei, E_UNSUPPORTED,
                           "quantize: tensor '%s' has type %s, which cannot be "
                           "converted",
                           name, gguf_type_name(t->type));
        if (is_quantized_type(t->type) && !o->allow_requantize)
            return err_set(ei, E_UNSUPPORTED,
                           "quantize: tensor '%s' is already %s; requantizing "
                           "is disabled (use --allow-requantize)",
                           name, gguf_type_name(t->type));
    }
    *out = nt;
    return 0;
}

int quant_plan_make(const struct gguf *in, const struct quant_opts *o, struct quant_plan *plan,
                    struct err_info *ei)
{
    const struct ftype_info *fi = ftype_find(o->ftype);
    struct qctx q = {0};
    int rc;
    memset(plan, 0, sizeof(*plan));
    if (!fi)
        return err_set(ei, E_INVAL, "quantize: unsupported file type %u", o->ftype);
    if (!in->tensors)
        return err_set(ei, E_INVAL, "quantize: input opened without tensors");
    plan->n = in->n_tensors;
    plan->order = mem_alloc_array((size_t)plan->n + 1, sizeof(uint32_t));
    plan->type = mem_alloc_array((size_t)plan->n + 1, sizeof(uint32_t));
    if (!plan->order || !plan->type) {
        rc = err_set(ei, E_NOMEM, "quantize: out of memory");
        goto out;
    }
    if ((rc = make_order(in, plan->order))) {
        err_set(ei, rc, "quantize: out of memory");
        goto out;
    }
    q.ftype = o->ftype;
    model_facts(in, &q);
    for (uint64_t k = 0; k < plan->n; k++) {
        uint32_t i = plan->order[k];
        const struct gguf_tensor *t = &in->tensors[i];
        if ((rc = plan_one(&q, o, fi, t, &plan->type[i], &plan->n_fallback, ei)))
            goto out;
        plan->out_bytes += out_nbytes(t, plan->type[i]);
    }
    return 0;
out:
    quant_plan_free(plan);
    return rc;
}

void quant_plan_free(struct quant_plan *plan)
{
    mem_free(plan->order);
    mem_free(plan->type);
    memset(plan, 0, sizeof(*plan));
}

/* ---- writing ------------------------------------------------------------------------------ */

struct fill_ctx {
    const struct gguf *in;
    const struct quant_plan *plan;
    const struct kern *k;
    struct pool *pool;
    float *f32;    /* QUANT_CHUNK_ELEMS (rounded to whole rows) */
    int64_t f32_n; /* capacity in elements */
    uint8_t *out;  /* the largest output tensor */
    struct err_info *ei;
    /* the chunk being converted (read by the pool threads) */
    const struct gguf_tensor *t;
    uint32_t nt;
    int64_t r0, nr;
    int failed;
};

/* Pool job: converts this thread's share of rows [r0, r0 + nr) of c->t into c->out. */
static void convert_rows(void *arg, int ith, int nth)
{
    struct fill_ctx *c = arg;
    const struct gguf_tensor *t = c->t;
    int64_t ne0 = t->ne[0];
    int64_t a = c->nr * ith / nth, b = c->nr * (ith + 1) / nth;
    size_t in_row = (size_t)(ne0 / gguf_type_block_elems(t->type) * gguf_type_block_bytes(t->type));
    size_t out_row = (size_t)(ne0 / gguf_type_block_elems(c->nt) * gguf_type_block_bytes(c->nt));
    if (b <= a)
        return;
    const uint8_t *src = (const uint8_t *)t->data + (size_t)(c->r0 + a) * in_row;
    const float *f = (const float *)(const void *)src;
    if (t->type != GGUF_T_F32) {
        float *buf = c->f32 + a * ne0;
        c->k->dequantize_row(t->type, src, buf, (b - a) * ne0);
        f = buf;
    }
    if (kern_quantize_weights(c->nt, f, c->out + (size_t)(c->r0 + a) * out_row, (b - a) * ne0))
        c->failed = 1; /* benign race: any thread may set it */
}

/* Converts input tensor t into type nt in c->out, a chunk of whole rows at a time. */
static int convert(struct fill_ctx *c, const struct gguf_tensor *t, uint32_t nt)
{
    int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    int64_t chunk = c->f32_n / t->ne[0];
    c->t = t;
    c->nt = nt;
    c->failed = 0;
    for (int64_t r = 0; r < rows && !c->failed; r += chunk) {
        c->r0 = r;
        c->nr = rows - r < chunk ? rows - r : chunk;
        pool_run(c->pool, convert_rows, c);
    }
    return c->failed ? E_INTERNAL : 0;
}

static int fill_cb(void *ctx, uint64_t k, const void **data)
{
    struct fill_ctx *c = ctx;
    uint32_t i = c->plan->order[k];
    const struct gguf_tensor *t = &c->in->tensors[i];
    int rc = convert(c, t, c->plan->type[i]);
    if (rc)
        return err_set(c->ei, rc, "quantize: converting tensor %llu failed", (unsigned long long)i);
    *data = c->out;
    return 0;
}

/* Key/values: all of the input, then quantization_version and file_type (in place if present),
 * without the split keys (the output is one file). */
static int set_kvs(struct gguf_writer *w, const struct gguf *in, uint32_t ftype)
{
    int rc;
    if ((rc = gguf_w_copy_kvs(w, in)) ||
        (rc = gguf_w_set_u32(w, "general.quantization_version", QUANT_QNT_VERSION)) ||
        (rc = gguf_w_set_u32(w, "general.file_type", ftype)))
        return rc;
    (void)gguf_w_remove(w, "split.no");
    (void)gguf_w_remove(w, "split.count");
    (void)gguf_w_remove(w, "split.tensors.count");
    return 0;
}

static int add_tensors(struct gguf_writer *w, const struct gguf *in, const struct quant_plan *p,
                       struct quant_stats *st, uint64_t *max_out, struct err_info *ei)
{
    for (uint64_t k = 0; k < p->n; k++) {
        uint32_t i = p->order[k], nt = p->type[i];
        const struct gguf_tensor *t = &in->tensors[i];
        char name[QUANT_NAME_MAX];
        uint64_t nb = out_nbytes(t, nt);
        int conv = nt != t->type, rc;
        tensor_name(t, name);
        rc = gguf_w_add_tensor(w, name, nt, t->n_dims, t->ne, conv ? NULL : t->data, nb,
                               conv ? GGUF_W_DEFER : 0);
        if (rc)
            return err_set(ei, rc, "quantize: cannot add tensor '%s'", name);
        if (conv && nb > *max_out)
            *max_out = nb;
        st->in_bytes += t->nbytes;
        st->out_bytes += nb;
        st->n_quantized += conv;
        st->n_copied += !conv;
        st->count_by_type[nt <= GGUF_T_COUNT ? nt : GGUF_T_COUNT]++;
    }
    st->n_fallback = p->n_fallback;
    return 0;
}

static int thread_count(const struct quant_opts *o)
{
    long n = o->n_threads > 0 ? o->n_threads : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > QUANT_MAX_THREADS ? QUANT_MAX_THREADS : (int)n;
}

int quant_model(const struct gguf *in, const struct quant_opts *o, const char *out_path,
                struct quant_stats *st, struct err_info *ei)
{
    struct quant_plan plan;
    struct quant_stats local;
    struct gguf_writer *w = NULL;
    struct fill_ctx c = {0};
    uint64_t max_out = 0;
    int64_t max_ne0 = 1;
    int rc;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    if ((rc = quant_plan_make(in, o, &plan, ei)))
        return rc;
    if ((rc = gguf_w_new(&w)) || (rc = set_kvs(w, in, o->ftype))) {
        err_set(ei, rc, "quantize: copying the key/values failed");
        goto out;
    }
    if ((rc = add_tensors(w, in, &plan, st, &max_out, ei)))
        goto out;
    for (uint64_t i = 0; i < in->n_tensors; i++)
        if (in->tensors[i].ne[0] > max_ne0)
            max_ne0 = in->tensors[i].ne[0];
    c.in = in;
    c.plan = &plan;
    c.k = kern_get(KERN_ISA_SCALAR);
    c.ei = ei;
    c.f32_n = max_ne0 > QUANT_CHUNK_ELEMS ? max_ne0 : QUANT_CHUNK_ELEMS / max_ne0 * max_ne0;
    c.f32 = mem_alloc_array((size_t)c.f32_n, sizeof(float));
    c.out = mem_alloc(max_out ? (size_t)max_out : 1);
    if (!c.f32 || !c.out || !c.k) {
        rc = err_set(ei, E_NOMEM, "quantize: out of memory");
        goto out;
    }
    if ((rc = pool_new(thread_count(o), 0, &c.pool))) {
        err_set(ei, rc, "quantize: cannot start the threads");
        goto out;
    }
    rc = gguf_w_write_file_fill(w, out_path, fill_cb, &c, ei);
out:
    pool_free(c.pool);
    mem_free(c.f32);
    mem_free(c.out);
    gguf_w_free(w);
    quant_plan_free(&plan);
    return rc;
}

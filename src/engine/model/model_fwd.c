/*
 * model_fwd.c - the forward pass of the llama-family decoder over a batch, run by every thread
 * of the context's pool at once (model.h).
 *
 * Per layer the work is cut into five phases:
 *   A  rmsnorm + quantize x, Wq/Wk/Wv row blocks of one head each; the thread that produced a
 *      head also adds its bias, applies q/k norm and RoPE and stores K/V into the cache
 *   B  attention, one (token, KV-head group) pair per work item
 *   C  Wo rows, added to the residual
 *   D  rmsnorm + quantize, gate and up rows, silu(gate)*up on the same rows
 *   E  down rows, added to the residual
 * For small batches (generation) A is one matrix of the Wq, Wk and Wv rows and the per-head
 * work (bias, norm, RoPE, cache store) moves into B, whose item is one KV head.  Work items are
 * taken from a per-phase atomic counter; the matrix phases C, D, E and the output give each thread
 * one contiguous region of rows (one weight stream) from which an idle thread takes the rest
 * (struct rows).  So a thread whose vCPU stalled simply does less, and a phase ends when all its
 * work is done (pool_wait_count), not when every thread arrives: a thread holding nothing is never
 * waited for, it catches up through the exhausted phases when it runs again.  The only barrier is
 * the end of the job. Activations are quantized once per phase: for small batches each thread
 * quantizes the whole row itself, lazily after taking its first item (so a late thread never reads
 * inputs the next phase is already rewriting); for prompt batches the quantization is a phase of
 * shared items. Matrix products go through kern->mul_mat (one weight row block times all tokens of
 * the batch), which is the matrix-vector product for generation and the tiled matrix-matrix product
 * for prompts.
 */
#include "engine/model/model.h"

#include <math.h>
#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/kern/kern.h"
#include "engine/model/model_attn.h"
#include "engine/thread/pool.h"

#define FWD_LOCAL_TOK 8 /* batches up to this size quantize activations per thread */
#ifndef FWD_TAIL_ROWS
#define FWD_TAIL_ROWS 32 /* minimum rows a thread takes from another's region */
#endif
#ifndef FWD_CHUNKS_PER_THREAD
#define FWD_CHUNKS_PER_THREAD 16 /* pieces a thread takes its own region of a matrix in */
#endif
#ifndef FWD_GEN_PIECES
#define FWD_GEN_PIECES 16 /* the same for small batches (generation) */
#endif
#ifndef FWD_FFN_PIECES
#define FWD_FFN_PIECES 2 /* ... for gate and up when they are not interleaved (struct rows) */
#endif
#define FWD_N_SLOTS  3   /* distinct activation types one phase may need */
#define FWD_PV_KEYS  32  /* value rows widened per block of the attention's sum */
#define FWD_PREP_TOK 4   /* rows per activation-preparation work item (prompts) */
#define FWD_ATT_TOK  4   /* prompt tokens attended together (attend_block) */
#define FWD_ATT_KEYS 256 /* cached keys widened and transposed at a time */

/* Activations of one phase: buf[slot] the quantized rows per distinct activation type; for
 * each matrix i of the phase, prep[i] its kern-prepared form (prep_row[i] bytes per token, see
 * kern.h prepare) or NULL, and prep_own[i] whether this matrix fills it (matrices of one type
 * share one). */
struct act {
    const uint8_t *buf[FWD_N_SLOTS];
    uint8_t *prep[FWD_N_SLOTS];
    size_t prep_row[FWD_N_SLOTS];
    int prep_own[FWD_N_SLOTS];
};

/* The matrices a phase multiplies its activations with; map[i] = buf slot of mats[i]. */
struct act_mats {
    const struct model_mat *w[FWD_N_SLOTS];
    int map[FWD_N_SLOTS];
    int n;
};

/* One work item of phase ph is finished. */
static void item_done(struct model_fwd *f, int ph)
{
    if (!f->single)
        pool_count(f->pool, &f->done[ph]);
}

/* Whether a phase prepares its activations before taking work items.  Prompt batches do (the
 * preparation is itself a phase of shared items).  Small batches prepare lazily, after their
 * first successful take: a thread that arrives late, when the others already finished the
 * phase and write the next phase's inputs, then never reads them. */
static int prep_now(const struct model_fwd *f)
{
    return f->single || f->b->n > FWD_LOCAL_TOK;
}

/* End of phase ph (n_items items): waits until all items are done, whoever did them; a thread
 * that holds none (e.g. its vCPU was descheduled) is not waited for. */
static void phase_end(struct model_fwd *f, int ph, int n_items)
{
    if (!f->single)
        pool_wait_count(f->pool, &f->done[ph], (uint32_t)n_items);
}

/* ---- activations ----------------------------------------------------------------------- */

static void quantize_to(const struct kern *k, uint32_t vdt, const float *src, void *dst, int64_t n)
{
    if (vdt == GGUF_T_F32)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        k->quantize_row(vdt, src, dst, n);
}

/* Distinct types among vdt[0..n); map[i] = slot of vdt[i]. */
static int uniq_types(const uint32_t *vdt, int n, uint32_t *u, int *map)
{
    int nu = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < nu && u[j] != vdt[i])
            j++;
        if (j == nu)
            u[nu++] = vdt[i];
        map[i] = j;
    }
    return nu;
}

static void prep_row(struct model_fwd *f, float *tmp, const float *src, size_t ld,
                     const int32_t *rows, int t, int64_t ncols, const float *norm_w,
                     const uint32_t *u, int nu, const struct act_mats *am, const struct act *a)
{
    const struct model *m = f->m;
    const float *s = src + (size_t)(rows ? rows[t] : t) * ld;
    if (norm_w) {
        kern_rmsnorm(tmp, s, norm_w, ncols, m->eps);
        s = tmp;
    }
    for (int j = 0; j < nu; j++) {
        size_t vrb = kern_row_bytes(u[j], ncols);
        quantize_to(m->k, u[j], s, (uint8_t *)a->buf[j] + (size_t)t * vrb, ncols);
    }
    for (int i = 0; i < am->n; i++) {
        if (!a->prep_own[i])
            continue;
        const struct model_mat *w = am->w[i];
        const uint8_t *q = a->buf[am->map[i]] + (size_t)t * w->vrow_bytes;
        m->k->prepare(w->type, q, w->vrow_bytes, ncols, 1, a->prep[i] + (size_t)t * a->prep_row[i]);
    }
}

/* Points a->prep[i] at the prepared-activation buffers (thread-local when local): one per
 * distinct weight type that has a prepared form for a batch of nt rows (kern.h prep_bytes: the
 * AMX table has none for big batches of some types, whose tile products read the plain rows);
 * NULL for the others (plain mul_mat). */
static void act_prep_bufs(struct model_fwd *f, int ith, int local, int nt,
                          const struct act_mats *am, struct act *a)
{
    const struct kern *k = f->m->k;
    int used = 0;
    for (int i = 0; i < am->n; i++) {
        const struct model_mat *w = am->w[i];
        size_t pb = f->max_prep && k->prep_bytes ? k->prep_bytes(w->type, w->ncols, 1) : 0;
        if (pb && nt > 1 && k->prep_bytes(w->type, w->ncols, nt) == 0)
            pb = 0;
        a->prep[i] = NULL;
        a->prep_row[i] = pb;
        a->prep_own[i] = 0;
        if (pb == 0 || pb > f->max_prep)
            continue;
        for (int j = 0; j < i && !a->prep[i]; j++)
            if (a->prep[j] && am->w[j]->type == w->type)
                a->prep[i] = a->prep[j];
        if (a->prep[i])
            continue;
        a->prep_own[i] = 1;
        a->prep[i] =
            local ? f->xp_local[ith] + (size_t)used * FWD_LOCAL_TOK * f->max_prep : f->xp[used];
        used++;
    }
}

/* Normalizes (when norm_w) and quantizes nt rows of ncols floats: row t is
 * src + (rows ? rows[t] : t) * ld.  Results in a->buf[slot], rows of vrow_bytes(u[slot]).
 * Small batches: every thread prepares all rows into its own buffers (no synchronisation).
 * Larger ones: shared buffers, FWD_PREP_TOK rows per work item, a phase of its own. */
static void act_prep(struct model_fwd *f, int ith, const float *src, size_t ld, const int32_t *rows,
                     int nt, int64_t ncols, const float *norm_w, const uint32_t *u, int nu,
                     const struct act_mats *am, struct act *a, int *ph)
{
    int local = nt <= FWD_LOCAL_TOK;
    float *tmp = f->thr_f[ith] + f->sc_len;
    size_t slot_bytes = (size_t)FWD_LOCAL_TOK * f->max_vrow;
    for (int j = 0; j < nu; j++)
        a->buf[j] = local ? f->xq_local[ith] + j * slot_bytes : f->xq[j];
    act_prep_bufs(f, ith, local, nt, am, a);
    if (local) {
        for (int t = 0; t < nt; t++)
            prep_row(f, tmp, src, ld, rows, t, ncols, norm_w, u, nu, am, a);
        return;
    }
    int phx = (*ph)++, n_items = (nt + FWD_PREP_TOK - 1) / FWD_PREP_TOK;
    atomic_int *ctr = &f->chunk[phx];
    for (int c; (c = atomic_fetch_add(ctr, 1)) < n_items;) {
        for (int t = c * FWD_PREP_TOK; t < nt && t < (c + 1) * FWD_PREP_TOK; t++)
            prep_row(f, tmp, src, ld, rows, t, ncols, norm_w, u, nu, am, a);
        item_done(f, phx);
    }
    phase_end(f, phx, n_items);
}

/* Rows [r0, r1) of matrix i of the phase (am) times the nt activation rows of a. */
static void mat_rows(const struct model_fwd *f, const struct act_mats *am, int i,
                     const struct act *a, int nt, int64_t r0, int64_t r1, float *out, int64_t ldo)
{
    const struct kern *k = f->m->k;
    const struct model_mat *w = am->w[i];
    for (int64_t a0 = r0, a1; a0 < r1; a0 = a1) {
        /* an interleaved matrix (model.h) in calls of one block each, with a base that puts
         * row r at data + (r + r / ilv * ilv) * row_bytes */
        a1 = w->ilv ? (a0 / w->ilv + 1) * w->ilv : r1;
        a1 = a1 < r1 ? a1 : r1;
        const uint8_t *d = (const uint8_t *)w->data;
        if (w->ilv)
            d += (size_t)(a0 / w->ilv * w->ilv) * w->row_bytes;
        if (a->prep[i])
            k->mul_mat_prep(w->type, d, w->row_bytes, w->ncols, a0, a1, a->prep[i], nt, out, ldo);
        else
            k->mul_mat(w->type, d, w->row_bytes, w->ncols, a0, a1, a->buf[am->map[i]],
                       w->vrow_bytes, nt, out, ldo);
    }
}

/* Gate and up rows [r0, r1) (matrices 0 and 1 of am) into ff_g and ff_u; when they are
 * interleaved (ilv, model.h), block by block, so the thread reads one stream. */
static void ffn_rows(const struct model_fwd *f, const struct act_mats *am, const struct act *a,
                     int nt, int64_t r0, int64_t r1, int64_t ilv)
{
    int64_t blk = ilv ? ilv : r1 - r0;
    int64_t nf = f->m->n_ff;
    for (int64_t a0 = r0; a0 < r1; a0 += blk) {
        int64_t a1 = a0 + blk < r1 ? a0 + blk : r1;
        mat_rows(f, am, 0, a, nt, a0, a1, f->ff_g, nf);
        mat_rows(f, am, 1, a, nt, a0, a1, f->ff_u, nf);
    }
}

/* The phase's matrices w[0..n) with their activation slots. */
static int act_mats_set(struct act_mats *am, const struct model_mat *const *w, int n, uint32_t *u)
{
    uint32_t vd[FWD_N_SLOTS];
    am->n = n;
    for (int i = 0; i < n; i++) {
        am->w[i] = w[i];
        vd[i] = w[i]->vdt;
    }
    return uniq_types(vd, n, u, am->map);
}

/* ---- phase A: Q, K, V ------------------------------------------------------------------ */

static void head_post(struct model_fwd *f, const struct model_layer *L, uint32_t il, int which,
                      uint32_t h, float *v, int t, float *tmp)
{
    const struct model *m = f->m;
    const float *bias = which == 0 ? L->bq : which == 1 ? L->bk : L->bv;
    uint32_t hd = m->head_dim;
    if (bias)
        kern_add(v, v, bias + (size_t)h * hd, hd);
    if (which == 2) {
        kv_put(&f->kv, kv_v_row(&f->kv, il, (uint32_t)f->b->seq[t], (uint32_t)f->b->pos[t]), h * hd,
               v, hd);
        return;
    }
    const float *nw = which == 0 ? L->q_norm : L->k_norm;
    if (nw) {
        kern_rmsnorm(tmp, v, nw, hd, m->eps);
        memcpy(v, tmp, hd * sizeof(float));
    }
    model_rope_apply(m, v, (L->swa ? f->rope_swa : f->rope) + (size_t)t * m->n_rot);
    if (which == 1)
        kv_put(&f->kv, kv_k_row(&f->kv, il, (uint32_t)f->b->seq[t], (uint32_t)f->b->pos[t]), h * hd,
               v, hd);
}

/* Activations of phase A (normalized x in every type Wq/Wk/Wv need). */
struct qkv_act {
    struct act a;
    struct act_mats am;
};

static void qkv_prep(struct model_fwd *f, const struct model_layer *L, int ith, struct qkv_act *q,
                     int *ph)
{
    const struct model *m = f->m;
    const struct model_mat *w[3] = {&L->wq, &L->wk, &L->wv};
    uint32_t u[3];
    int nu = act_mats_set(&q->am, w, 3, u);
    act_prep(f, ith, f->x, m->n_embd, NULL, f->b->n, m->n_embd, L->attn_norm, u, nu, &q->am, &q->a,
             ph);
}

/* Rows of head h of Wq (which 0), Wk (1) or Wv (2) for all tokens, then bias, norm, RoPE and
 * the cache store of that head. */
static void qkv_head(struct model_fwd *f, const struct model_layer *L, uint32_t il,
                     const struct qkv_act *q, int which, uint32_t h, float *tmp)
{
    uint32_t hd = f->m->head_dim;
    size_t col0 = which == 0 ? 0 : which == 1 ? f->n_q : f->n_q + f->n_kv;
    int64_t r0 = (int64_t)h * hd;
    int nt = f->b->n;
    mat_rows(f, &q->am, which, &q->a, nt, r0, r0 + hd, f->qkv + col0, f->n_qkv);
    for (int t = 0; t < nt; t++)
        head_post(f, L, il, which, h, f->qkv + (size_t)t * f->n_qkv + col0 + r0, t, tmp);
}

static void phase_qkv(struct model_fwd *f, const struct model_layer *L, uint32_t il, int ith,
                      int *ph)
{
    const struct model *m = f->m;
    struct qkv_act q;
    int ready = prep_now(f);
    if (ready)
        qkv_prep(f, L, ith, &q, ph);
    uint32_t nh = m->n_head, nkv = m->n_head_kv;
    int n_chunks = (int)(nh + 2 * nkv);
    float *tmp = f->thr_f[ith] + f->sc_len;
    int phx = (*ph)++;
    atomic_int *ctr = &f->chunk[phx];
    for (int c; (c = atomic_fetch_add(ctr, 1)) < n_chunks;) {
        if (!ready)
            qkv_prep(f, L, ith, &q, ph);
        ready = 1;
        int which = (uint32_t)c < nh ? 0 : (uint32_t)c < nh + nkv ? 1 : 2;
        uint32_t h = which == 0   ? (uint32_t)c
                     : which == 1 ? (uint32_t)c - nh
                                  : (uint32_t)c - nh - nkv;
        qkv_head(f, L, il, &q, which, h, tmp);
        item_done(f, phx);
    }
    phase_end(f, phx, n_chunks);
}

/* ---- phase B: attention ---------------------------------------------------------------- */

static float dot_row(const struct model_fwd *f, const float *q, const void *row, uint32_t off,
                     uint32_t n)
{
    const struct kv_cache *kv = &f->kv;
    float s = 0.0f;
    if (f->attn_simd && kv->type == GGUF_T_F16)
        return model_attn_dot_f16_avx2(q, (const uint16_t *)row + off, n);
    if (kv->type == GGUF_T_F32) {
        const float *r = (const float *)row + off;
        for (uint32_t i = 0; i < n; i++)
            s += q[i] * r[i];
        return s;
    }
    const uint16_t *r = (const uint16_t *)row + off;
    for (uint32_t i = 0; i < n; i++)
        s += q[i] * kv->h2f[r[i]];
    return s;
}

static void axpy_row(const struct model_fwd *f, float *acc, float a, const void *row, uint32_t off,
                     uint32_t n)
{
    const struct kv_cache *kv = &f->kv;
    if (f->attn_simd && kv->type == GGUF_T_F16) {
        model_attn_axpy_f16_avx2(acc, a, (const uint16_t *)row + off, n);
        return;
    }
    if (kv->type == GGUF_T_F32) {
        const float *r = (const float *)row + off;
        for (uint32_t i = 0; i < n; i++)
            acc[i] += a * r[i];
        return;
    }
    const uint16_t *r = (const uint16_t *)row + off;
    for (uint32_t i = 0; i < n; i++)
        acc[i] += a * kv->h2f[r[i]];
}

/* Soft-capped scores c*tanh(s) (the caller scaled s by 1/c) over [j0, p], and their maxima. */
static void softcap_scores(const struct model_fwd *f, float *sc, uint32_t gqa, uint32_t j0,
                           uint32_t p, float cap, float *mx)
{
    for (uint32_t g = 0; g < gqa; g++) {
        float *sg = sc + (size_t)g * f->n_ctx;
        mx[g] = -INFINITY;
        for (uint32_t i = j0; i <= p; i++) {
            sg[i] = cap * tanhf(sg[i]);
            mx[g] = sg[i] > mx[g] ? sg[i] : mx[g];
        }
    }
}

/* The probability-weighted sums of value rows for tokens i < nt of sequence s (token i at
 * position p0 + i, AVX2, F16 cache): out0 + i * out_tok gets, for each of KV head kvh's gqa
 * query heads g, the sum over keys j in [j0, p0 + i] of p[i * p_tok + g * n_ctx + j] * V[j],
 * times inv[i * gqa + g].  The value rows are widened kb at a time into vt, once for all the
 * tokens and heads, and summed in registers per head (model_attn_pv_avx2). */
static void attend_values(struct model_fwd *f, uint32_t il, uint32_t s, uint32_t kvh, uint32_t j0,
                          uint32_t p0, int nt, const float *p, size_t p_tok, const float *inv,
                          float *vt, uint32_t kb, float *out0, size_t out_tok)
{
    const struct model *m = f->m;
    uint32_t hd = m->head_dim, gqa = m->n_head / m->n_head_kv, koff = kvh * hd;
    uint32_t pl = p0 + (uint32_t)nt - 1;
    for (int i = 0; i < nt; i++)
        memset(out0 + (size_t)i * out_tok, 0, (size_t)gqa * hd * sizeof(float));
    for (uint32_t j = j0; j <= pl; j += kb) {
        uint32_t nk = pl + 1 - j < kb ? pl + 1 - j : kb;
        for (uint32_t k = 0; k < nk; k++)
            model_attn_f16_to_f32_avx2(vt + (size_t)k * hd,
                                       (const uint16_t *)kv_v_row(&f->kv, il, s, j + k) + koff, hd);
        for (int i = 0; i < nt; i++) {
            uint32_t lim = p0 + (uint32_t)i + 1; /* keys token i sees */
            if (j < lim)
                model_attn_pv_avx2(out0 + (size_t)i * out_tok, gqa, hd, p + (size_t)i * p_tok + j,
                                   f->n_ctx, vt, lim - j < nk ? lim - j : nk);
        }
    }
    for (int i = 0; i < nt; i++)
        for (uint32_t g = 0; g < gqa; g++)
            model_scale_avx2(out0 + (size_t)i * out_tok + (size_t)g * hd, inv[(size_t)i * gqa + g],
                             hd);
}

/* Attention of token t for the query heads of KV head kvh (the GQA group): each cached key and
 * value row is read once for the whole group.  sc: gqa x n_ctx scores.  A sliding-window layer
 * attends to the last n_swa positions only (p - j < n_swa). */
static void attend_group(struct model_fwd *f, uint32_t il, int t, uint32_t kvh, float *sc)
{
    const struct model *m = f->m;
    uint32_t hd = m->head_dim, gqa = m->n_head / m->n_head_kv, koff = kvh * hd;
    uint32_t s = (uint32_t)f->b->seq[t], p = (uint32_t)f->b->pos[t];
    const float *q = f->qkv + (size_t)t * f->n_qkv + (size_t)kvh * gqa * hd;
    float *out = f->att + (size_t)t * f->n_q + (size_t)kvh * gqa * hd;
    float cap = m->attn_softcap, mx[MODEL_MAX_HEADS], inv[MODEL_MAX_HEADS];
    float scale = cap > 0.0f ? m->attn_scale / cap : m->attn_scale;
    int simd16 = f->attn_simd && f->kv.type == GGUF_T_F16 && hd % 8 == 0;
    uint32_t j0 = m->layers[il].swa && p >= m->n_swa ? p + 1 - m->n_swa : 0;
    for (uint32_t g = 0; g < gqa; g++)
        mx[g] = -INFINITY;
    uint32_t j = j0;
    if (simd16) {
        /* 8 cached keys at a time against every query of the group (keys stay in L1) */
        const uint16_t *k0 = (const uint16_t *)kv_k_row(&f->kv, il, s, 0) + koff;
        for (; j + 8 <= p + 1; j += 8)
            for (uint32_t g = 0; g < gqa; g++)
                model_attn_scores8_f16_avx2(q + (size_t)g * hd, k0 + (size_t)j * f->kv.kv_dim,
                                            f->kv.kv_dim, hd, scale, sc + (size_t)g * f->n_ctx + j);
        for (uint32_t g = 0; g < gqa; g++)
            for (uint32_t i = j0; i < j; i++)
                mx[g] = sc[(size_t)g * f->n_ctx + i] > mx[g] ? sc[(size_t)g * f->n_ctx + i] : mx[g];
    }
    for (; j <= p; j++) {
        const void *krow = kv_k_row(&f->kv, il, s, j);
        for (uint32_t g = 0; g < gqa; g++) {
            float v = dot_row(f, q + (size_t)g * hd, krow, koff, hd) * scale;
            sc[(size_t)g * f->n_ctx + j] = v;
            mx[g] = v > mx[g] ? v : mx[g];
        }
    }
    if (cap > 0.0f)
        softcap_scores(f, sc, gqa, j0, p, cap, mx);
    for (uint32_t g = 0; g < gqa; g++) {
        float *sg = sc + (size_t)g * f->n_ctx, sum = 0.0f;
        if (f->attn_simd) {
            sum = model_attn_softmax_avx2(sg + j0, p + 1 - j0, mx[g]);
        } else {
            for (uint32_t i = j0; i <= p; i++) {
                sg[i] = expf(sg[i] - mx[g]);
                sum += sg[i];
            }
        }
        inv[g] = 1.0f / sum;
    }
    if (simd16) {
        uint32_t kb = (uint32_t)(f->vt_len / hd);
        attend_values(f, il, s, kvh, j0, p, 1, sc, 0, inv, sc + f->sc_len,
                      kb > FWD_PV_KEYS ? FWD_PV_KEYS : kb, out, 0);
        return;
    }
    memset(out, 0, (size_t)gqa * hd * sizeof(float));
    for (j = j0; j <= p; j++) {
        const void *vrow = kv_v_row(&f->kv, il, s, j);
        for (uint32_t g = 0; g < gqa; g++)
            axpy_row(f, out + (size_t)g * hd, sc[(size_t)g * f->n_ctx + j] * inv[g], vrow, koff,
                     hd);
    }
}

/* Whether tokens [t0, t0 + nt) can be attended as one block (attend_block): one sequence at
 * consecutive positions, F16 cache with AVX2, no soft-cap, not a sliding-window layer. */
static int block_ok(const struct model_fwd *f, uint32_t il, int t0, int nt)
{
    const struct model *m = f->m;
    if (nt < 2 || !f->attn_simd || f->kv.type != GGUF_T_F16 || m->head_dim % 8 != 0 ||
        m->attn_softcap > 0.0f || m->layers[il].swa)
        return 0;
    for (int t = t0 + 1; t < t0 + nt; t++)
        if (f->b->seq[t] != f->b->seq[t0] || f->b->pos[t] != f->b->pos[t - 1] + 1)
            return 0;
    return 1;
}

/* Attention of the consecutive tokens [t0, t0 + nt) of one sequence for the query heads of KV
 * head kvh: each block of cached keys is widened to floats and transposed once for all the
 * block's tokens and heads (scores 16 keys wide, model_attn_qkt_avx2), each block of value
 * rows widened once for all of them (model_attn_pv_avx2).  Token t0 + i attends positions
 * [0, pos + i].  sc: nt x gqa x n_ctx scores; kt: hd x (FWD_ATT_KEYS + 16) floats. */
static void attend_block(struct model_fwd *f, uint32_t il, int t0, int nt, uint32_t kvh, float *sc,
                         float *kt)
{
    const struct model *m = f->m;
    uint32_t hd = m->head_dim, gqa = m->n_head / m->n_head_kv, koff = kvh * hd;
    uint32_t s = (uint32_t)f->b->seq[t0], p0 = (uint32_t)f->b->pos[t0];
    uint32_t pl = p0 + (uint32_t)nt - 1, kts = FWD_ATT_KEYS + 16;
    size_t nc = f->n_ctx;
    for (int i = 0; i < nt; i++) /* scaled queries: the scores come out scaled */
        model_scale_avx2(f->qkv + (size_t)(t0 + i) * f->n_qkv + (size_t)kvh * gqa * hd,
                         m->attn_scale, gqa * hd);
    for (uint32_t j0 = 0; j0 <= pl; j0 += FWD_ATT_KEYS) {
        uint32_t nk = pl + 1 - j0 < FWD_ATT_KEYS ? pl + 1 - j0 : FWD_ATT_KEYS;
        model_attn_kt_f16_avx2((const uint16_t *)kv_k_row(&f->kv, il, s, j0) + koff, f->kv.kv_dim,
                               hd, nk, kt, kts);
        for (int i = 0; i < nt; i++) {
            uint32_t lim = p0 + (uint32_t)i + 1; /* keys this token sees */
            if (j0 >= lim)
                continue;
            uint32_t n = lim - j0 < nk ? lim - j0 : nk;
            const float *q = f->qkv + (size_t)(t0 + i) * f->n_qkv + (size_t)kvh * gqa * hd;
            model_attn_qkt_avx2(q, hd, (int)gqa, kt, kts, hd, (int)n,
                                sc + (size_t)i * gqa * nc + j0, nc);
        }
    }
    float inv[MODEL_MAX_HEADS * FWD_ATT_TOK];
    for (int i = 0; i < nt; i++)
        for (uint32_t g = 0; g < gqa; g++) {
            float *r = sc + ((size_t)i * gqa + g) * nc;
            uint32_t n = p0 + (uint32_t)i + 1;
            inv[(size_t)i * gqa + g] =
                1.0f / model_attn_softmax_avx2(r, n, model_attn_max_avx2(r, n));
        }
    /* the value rows widened into kt's space */
    attend_values(f, il, s, kvh, 0, p0, nt, sc, (size_t)gqa * nc, inv, kt, FWD_PV_KEYS,
                  f->att + (size_t)t0 * f->n_q + (size_t)kvh * gqa * hd, f->n_q);
}

/* Phase B for prompts: an item is a block of FWD_ATT_TOK consecutive tokens with one KV head's
 * query group (attend_block), or each token alone when the block does not qualify. */
static void phase_attn(struct model_fwd *f, uint32_t il, int ith, int *ph)
{
    int nkv = (int)f->m->n_head_kv, nblk = (f->b->n + FWD_ATT_TOK - 1) / FWD_ATT_TOK;
    int n_items = nblk * nkv;
    int phx = (*ph)++;
    atomic_int *ctr = &f->chunk[phx];
    float *sc = f->thr_f[ith];
    for (int c; (c = atomic_fetch_add(ctr, 1)) < n_items;) {
        int t0 = (c / nkv) * FWD_ATT_TOK;
        int nt = f->b->n - t0 < FWD_ATT_TOK ? f->b->n - t0 : FWD_ATT_TOK;
        uint32_t kvh = (uint32_t)(c % nkv);
        if (block_ok(f, il, t0, nt))
            attend_block(f, il, t0, nt, kvh, sc,
                         sc + f->sc_len + f->vt_len + 2 * (size_t)f->m->head_dim);
        else
            for (int t = t0; t < t0 + nt; t++)
                attend_group(f, il, t, kvh, sc);
        item_done(f, phx);
    }
    phase_end(f, phx, n_items);
}

/* Rows of a matrix phase.  Each thread owns one contiguous region (1/threads of the rows, in
 * multiples of 16) and takes it from the front in pieces, so its weights are one unbroken
 * stream for the prefetchers: a stream restarted at a new address costs about 2 us on the
 * Intel VMs here before the hardware prefetcher runs ahead again (2 threads, Q8_0 gemv over
 * 512 MiB: 92 % of the read bandwidth in two halves, 73 % in interleaved 150 KB items).
 * Pieces taken one after the other from the front are one stream, so their size only sets how
 * finely the threads balance: generation takes FWD_GEN_PIECES (16) and prompts
 * FWD_CHUNKS_PER_THREAD.  Gate and up are read side by side, so a piece of the two would restart
 * two streams; packed, they are interleaved in blocks of 64 rows (model_wcopy.c), the phase's
 * takes are whole blocks, and the pair is one stream again.  Not interleaved, they keep 2 large
 * pieces (FWD_FFN_PIECES): with 16, on a CPU whose kernels do not prefetch, the restarts cost
 * more than the balance gains (TinyLlama Q4_K_M 70 -> 76 % of the bandwidth with 16 -> 2, an
 * earlier engine).  On the Intel model 207 VM (kernels that prefetch), 2 threads, the two
 * configurations in one process alternating 16-token rounds (80-100 rounds), 16 pieces with
 * the interleave against 2 pieces without: TinyLlama Q4_K_M generation +4.7 %, Q8_0 +3.5 %,
 * Q4_0 and Qwen2.5-0.5B Q4_K_M within +-1 %; the time threads spent waiting at phase ends fell
 * from 3-8 % to about 1 %: with 2 pieces, the thread that finished first found the other's
 * last piece already taken.  A thread whose region is empty takes half of what is left of the
 * fullest other region from its back (at least FWD_TAIL_ROWS), so a descheduled vCPU's share is
 * still done and the threads finish together.  State per region: rows taken from the front and from
 * the back, packed in one 64-bit atomic (zero at the start of a batch).  The phase counts rows as
 * done. */
struct rows {
    _Atomic uint64_t *st; /* [nth] */
    int64_t nrows, piece;
    int64_t al; /* every take is a multiple of al rows (16, or the gate/up interleave) */
    int nth, me;
};

static int64_t round_to(int64_t v, int64_t a)
{
    return (v + a - 1) / a * a;
}

/* gen_pieces: how many pieces a small batch takes its region in; al as in struct rows. */
static void rows_init(const struct model_fwd *f, int phx, int64_t nrows, int ith, int gen_pieces,
                      int64_t al, struct rows *rs)
{
    rs->st = f->rgn + (size_t)phx * (size_t)f->n_threads;
    rs->nrows = nrows;
    rs->al = al;
    rs->nth = f->single ? 1 : f->n_threads;
    rs->me = f->single ? 0 : ith;
    int pieces = f->b->n <= FWD_LOCAL_TOK ? gen_pieces : FWD_CHUNKS_PER_THREAD;
    int64_t piece = round_to(nrows / ((int64_t)rs->nth * pieces), al);
    rs->piece = piece < FWD_TAIL_ROWS ? round_to(FWD_TAIL_ROWS, al) : piece;
}

static void rows_bounds(const struct rows *rs, int i, int64_t *b0, int64_t *b1)
{
    int64_t per = round_to(rs->nrows / rs->nth, rs->al);
    *b0 = per * i < rs->nrows ? per * i : rs->nrows;
    *b1 = i == rs->nth - 1 ? rs->nrows : (per * (i + 1) < rs->nrows ? per * (i + 1) : rs->nrows);
}

/* Takes up to want rows of region i, from the front (front != 0) or the back. */
static int rows_take_from(const struct rows *rs, int i, int front, int64_t want, int64_t *r0,
                          int64_t *r1)
{
    int64_t b0, b1;
    rows_bounds(rs, i, &b0, &b1);
    uint64_t v = atomic_load(&rs->st[i]);
    for (;;) {
        int64_t lo = b0 + (int64_t)(v & 0xffffffffu), hi = b1 - (int64_t)(v >> 32);
        if (lo >= hi)
            return 0;
        int64_t n = want < hi - lo ? want : hi - lo;
        uint64_t nv = front ? v + (uint64_t)n : v + ((uint64_t)n << 32);
        if (atomic_compare_exchange_weak(&rs->st[i], &v, nv)) {
            *r0 = front ? lo : hi - n;
            *r1 = front ? lo + n : hi;
            return 1;
        }
    }
}

/* The next rows [r0, r1) for this thread; 0 when every region is empty. */
static int rows_next(const struct rows *rs, int64_t *r0, int64_t *r1)
{
    if (rows_take_from(rs, rs->me, 1, rs->piece, r0, r1))
        return 1;
    for (;;) {
        int best = -1;
        int64_t left = 0;
        for (int i = 0; i < rs->nth; i++) {
            int64_t b0, b1;
            rows_bounds(rs, i, &b0, &b1);
            uint64_t v = atomic_load(&rs->st[i]);
            int64_t n = (b1 - (int64_t)(v >> 32)) - (b0 + (int64_t)(v & 0xffffffffu));
            if (n > left) {
                left = n;
                best = i;
            }
        }
        if (best < 0)
            return 0;
        int64_t want = round_to(left / 2, rs->al), tail = round_to(FWD_TAIL_ROWS, rs->al);
        want = want < tail ? tail : want;
        if (rows_take_from(rs, best, 0, want, r0, r1))
            return 1;
    }
}

/* n rows of phase ph are done. */
static void rows_done(struct model_fwd *f, int ph, int64_t n)
{
    if (!f->single)
        pool_count_n(f->pool, &f->done[ph], (uint32_t)n);
}

/* Phase A for small batches (generation): the rows of Wq, Wk and Wv as one matrix of
 * n_q + 2 n_kv rows cut into the threads' regions (struct rows), so each thread reads one
 * long stream instead of a KV head's three short ones; the per-head work (bias, norm, RoPE,
 * the cache store) moves to phase B (phase_attn_heads).  Before the split, with one phase
 * whose item was a KV head with its query group, the QKV phase streamed at half the read
 * bandwidth (timers around each phase, 2 threads). */
static void phase_qkv_rows(struct model_fwd *f, const struct model_layer *L, int ith, int *ph)
{
    struct qkv_act q;
    int ready = prep_now(f);
    if (ready)
        qkv_prep(f, L, ith, &q, ph);
    int64_t nq = (int64_t)f->n_q, nkv = (int64_t)f->n_kv, n = nq + 2 * nkv;
    int phx = (*ph)++;
    struct rows rs;
    rows_init(f, phx, n, ith, FWD_GEN_PIECES, 16, &rs);
    for (int64_t r0, r1; rows_next(&rs, &r0, &r1);) {
        if (!ready)
            qkv_prep(f, L, ith, &q, ph);
        ready = 1;
        for (int which = 0; which < 3; which++) { /* the piece's part of each matrix */
            int64_t base = which == 0 ? 0 : which == 1 ? nq : nq + nkv;
            int64_t len = which == 0 ? nq : nkv;
            int64_t a = r0 > base ? r0 - base : 0, b = r1 - base < len ? r1 - base : len;
            if (a < b)
                mat_rows(f, &q.am, which, &q.a, f->b->n, a, b, f->qkv + base, f->n_qkv);
        }
        rows_done(f, phx, r1 - r0);
    }
    phase_end(f, phx, (int)n);
}

/* Phase B for small batches: a work item is one KV head: for every token the head's K and V
 * and its query group's heads get their bias, norm and RoPE, K and V go to the cache, and the
 * group attends. */
static void phase_attn_heads(struct model_fwd *f, const struct model_layer *L, uint32_t il, int ith,
                             int *ph)
{
    const struct model *m = f->m;
    uint32_t gqa = m->n_head / m->n_head_kv, hd = m->head_dim;
    float *sc = f->thr_f[ith], *tmp = f->thr_f[ith] + f->sc_len;
    int phx = (*ph)++;
    atomic_int *ctr = &f->chunk[phx];
    for (int c; (c = atomic_fetch_add(ctr, 1)) < (int)m->n_head_kv;) {
        uint32_t kvh = (uint32_t)c;
        for (int t = 0; t < f->b->n; t++) {
            float *row = f->qkv + (size_t)t * f->n_qkv;
            head_post(f, L, il, 1, kvh, row + f->n_q + (size_t)kvh * hd, t, tmp);
            head_post(f, L, il, 2, kvh, row + f->n_q + f->n_kv + (size_t)kvh * hd, t, tmp);
            for (uint32_t h = kvh * gqa; h < (kvh + 1) * gqa; h++)
                head_post(f, L, il, 0, h, row + (size_t)h * hd, t, tmp);
            attend_group(f, il, t, kvh, sc);
        }
        item_done(f, phx);
    }
    phase_end(f, phx, (int)m->n_head_kv);
}

/* ---- phases C, E: matrix into the residual; D: gate/up --------------------------------- */

/* x[t] += rmsnorm(tmp[t]) * w for every token (post-norms of gemma): one token per item. */
static void phase_post_norm(struct model_fwd *f, const float *w, int ith, int *ph)
{
    const struct model *m = f->m;
    int64_t ne = m->n_embd;
    float *nrm = f->thr_f[ith] + f->sc_len;
    int phx = (*ph)++, nt = f->b->n;
    atomic_int *ctr = &f->chunk[phx];
    for (int t; (t = atomic_fetch_add(ctr, 1)) < nt;) {
        float *x = f->x + (size_t)t * ne;
        kern_rmsnorm(nrm, f->tmp + (size_t)t * ne, w, ne, m->eps);
        kern_add(x, x, nrm, ne);
        item_done(f, phx);
    }
    phase_end(f, phx, nt);
}

/* x += w . src, or with post_w (gemma): x += rmsnorm(w . src) * post_w, which needs whole
 * output rows first (phase_post_norm). */
static void phase_residual(struct model_fwd *f, const struct model_mat *w, const float *src,
                           int64_t ld, const float *post_w, int ith, int *ph)
{
    int nt = f->b->n;
    struct act a;
    struct act_mats am;
    uint32_t u[1];
    int64_t ne = f->m->n_embd;
    act_mats_set(&am, &w, 1, u);
    int ready = prep_now(f);
    if (ready)
        act_prep(f, ith, src, (size_t)ld, NULL, nt, w->ncols, NULL, u, 1, &am, &a, ph);
    int phx = (*ph)++;
    struct rows rs;
    rows_init(f, phx, w->nrows, ith, FWD_GEN_PIECES, 16, &rs);
    for (int64_t r0, r1; rows_next(&rs, &r0, &r1);) {
        if (!ready)
            act_prep(f, ith, src, (size_t)ld, NULL, nt, w->ncols, NULL, u, 1, &am, &a, ph);
        ready = 1;
        mat_rows(f, &am, 0, &a, nt, r0, r1, f->tmp, ne);
        for (int t = 0; t < nt && !post_w; t++)
            kern_add(f->x + (size_t)t * ne + r0, f->x + (size_t)t * ne + r0,
                     f->tmp + (size_t)t * ne + r0, r1 - r0);
        rows_done(f, phx, r1 - r0);
    }
    phase_end(f, phx, (int)w->nrows);
    if (post_w)
        phase_post_norm(f, post_w, ith, ph);
}

/* y[i] = gelu(g[i]) * u[i] with llama.cpp's F16 table (its CPU GEGLU). */
static void gelu_mul(const uint16_t *tab, float *y, const float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float x = g[i];
        if (x <= -10.0f)
            y[i] = 0.0f;
        else if (x >= 10.0f)
            y[i] = x * u[i];
        else
            y[i] = kern_fp16_to_f32(tab[kern_f32_to_fp16(x)]) * u[i];
    }
}

static void phase_ffn_up(struct model_fwd *f, const struct model_layer *L, int ith, int *ph)
{
    const struct model *m = f->m;
    int nt = f->b->n;
    const struct model_mat *w[2] = {&L->gate, &L->up};
    uint32_t u[2];
    struct act a;
    struct act_mats am;
    int nu = act_mats_set(&am, w, 2, u);
    int ready = prep_now(f);
    if (ready)
        act_prep(f, ith, f->x, m->n_embd, NULL, nt, m->n_embd, L->ffn_norm, u, nu, &am, &a, ph);
    int64_t nf = m->n_ff, ilv = L->gate.ilv; /* = up.ilv: the pair is interleaved or not */
    int phx = (*ph)++;
    struct rows rs;
    /* interleaved, the takes are whole blocks */
    rows_init(f, phx, nf, ith, ilv ? FWD_GEN_PIECES : FWD_FFN_PIECES, ilv ? ilv : 16, &rs);
    for (int64_t r0, r1; rows_next(&rs, &r0, &r1);) {
        if (!ready)
            act_prep(f, ith, f->x, m->n_embd, NULL, nt, m->n_embd, L->ffn_norm, u, nu, &am, &a, ph);
        ready = 1;
        ffn_rows(f, &am, &a, nt, r0, r1, ilv);
        for (int t = 0; t < nt; t++) {
            float *g = f->ff_g + (size_t)t * nf + r0;
            if (m->gelu_f16)
                gelu_mul(m->gelu_f16, g, g, f->ff_u + (size_t)t * nf + r0, r1 - r0);
            else
                model_silu_mul(f->attn_simd, g, g, f->ff_u + (size_t)t * nf + r0, r1 - r0);
        }
        rows_done(f, phx, r1 - r0);
    }
    phase_end(f, phx, (int)nf);
}

static void phase_output(struct model_fwd *f, int ith, int *ph)
{
    const struct model *m = f->m;
    const struct model_mat *w = &m->output;
    struct act a;
    struct act_mats am;
    uint32_t u[1];
    int n_out = f->b->n_out;
    act_mats_set(&am, &w, 1, u);
    act_prep(f, ith, f->x, m->n_embd, f->b->out_tok, n_out, m->n_embd, m->output_norm, u, 1, &am,
             &a, ph);
    int phx = (*ph)++;
    struct rows rs;
    rows_init(f, phx, w->nrows, ith, FWD_GEN_PIECES, 16, &rs);
    for (int64_t r0, r1; rows_next(&rs, &r0, &r1);) {
        mat_rows(f, &am, 0, &a, n_out, r0, r1, f->logits, m->n_vocab);
        for (int t = 0; t < n_out && m->final_softcap > 0.0f; t++) {
            float *l = f->logits + (size_t)t * m->n_vocab, cap = m->final_softcap;
            for (int64_t r = r0; r < r1; r++)
                l[r] = cap * tanhf(l[r] * (1.0f / cap));
        }
    }
    (void)phx; /* the end of the job (a barrier in pool_run) ends this phase */
}

static void fwd_worker(void *arg, int ith, int nth)
{
    struct model_fwd *f = arg;
    const struct model *m = f->m;
    int ph = 0;
    (void)nth; /* the regions and counters size themselves from f->n_threads */
    for (uint32_t il = 0; il < m->n_layer; il++) {
        const struct model_layer *L = &m->layers[il];
        if (ith == 0 && f->abort_fn && f->abort_fn(f->abort_user))
            atomic_store(&f->aborted, 1);
        int small = f->b->n <= FWD_LOCAL_TOK;
        if (small)
            phase_qkv_rows(f, L, ith, &ph);
        else
            phase_qkv(f, L, il, ith, &ph);
        /* read after the barrier that ends phase A: every thread sees the same value */
        if (atomic_load(&f->aborted))
            return;
        if (small)
            phase_attn_heads(f, L, il, ith, &ph);
        else
            phase_attn(f, il, ith, &ph);
        phase_residual(f, &L->wo, f->att, f->n_q, L->post_attn_norm, ith, &ph);
        phase_ffn_up(f, L, ith, &ph);
        phase_residual(f, &L->down, f->ff_g, m->n_ff, L->post_ffn_norm, ith, &ph);
    }
    if (f->b->n_out > 0)
        phase_output(f, ith, &ph);
}

/* ---- setup ----------------------------------------------------------------------------- */

static void embed(const struct model_fwd *f, int32_t tok, float *dst)
{
    const struct model_mat *e = &f->m->tok_embd;
    const uint8_t *row = (const uint8_t *)e->data + (size_t)tok * e->row_bytes;
    uint32_t type = e->type;
    if (kern_pack_base(type)) { /* packed with a tied output (model_wcopy.c): the file's row */
        type = kern_pack_base(type);
        if (kern_unpack_row(e->type, e->data, e->row_bytes, e->ncols, tok, f->embd_row) != 0)
            memset(f->embd_row, 0, kern_row_bytes(type, e->ncols));
        row = f->embd_row;
    }
    if (type == GGUF_T_F32)
        memcpy(dst, row, (size_t)e->ncols * sizeof(float));
    else
        f->m->k->dequantize_row(type, row, dst, e->ncols);
    if (f->m->embd_scale != 1.0f)
        for (int64_t i = 0; i < e->ncols; i++)
            dst[i] *= f->m->embd_scale;
}

int model_fwd_decode(struct model_fwd *f, const struct model_batch *b)
{
    const struct model *m = f->m;
    if (b->n < 1 || (uint32_t)b->n > f->n_batch || b->n_out < 0 ||
        (uint32_t)b->n_out > f->n_out_max)
        return E_RANGE;
    for (int t = 0; t < b->n; t++) {
        model_rope_cs(m, &f->rp[0], (float)b->pos[t], f->rope + (size_t)t * m->n_rot);
        if (f->rope_swa != f->rope)
            model_rope_cs(m, &f->rp[1], (float)b->pos[t], f->rope_swa + (size_t)t * m->n_rot);
        embed(f, b->tok[t], f->x + (size_t)t * m->n_embd);
    }
    for (int i = 0; i < f->n_phase_max; i++) {
        atomic_store(&f->chunk[i], 0);
        atomic_store(&f->done[i], 0);
        for (int t = 0; t < f->n_threads; t++)
            atomic_store(&f->rgn[(size_t)i * (size_t)f->n_threads + (size_t)t], 0);
    }
    atomic_store(&f->aborted, 0);
    f->b = b;
    /* a batch reading few weight bytes costs less than the threads' synchronisation */
    f->single = (uint64_t)b->n * m->bytes_per_token < f->par_min_bytes;
    if (f->single)
        fwd_worker(f, 0, 1);
    else
        pool_run(f->pool, fwd_worker, f);
    f->b = NULL;
    return atomic_load(&f->aborted) ? E_CANCELLED : 0;
}

static size_t max_vrow_of(const struct model *m)
{
    size_t mx = m->output.vrow_bytes;
    for (uint32_t il = 0; il < m->n_layer; il++) {
        const struct model_layer *L = &m->layers[il];
        const struct model_mat *mats[] = {&L->wq,   &L->wk, &L->wv,  &L->wo,
                                          &L->gate, &L->up, &L->down};
        for (size_t j = 0; j < sizeof(mats) / sizeof(mats[0]); j++)
            mx = mats[j]->vrow_bytes > mx ? mats[j]->vrow_bytes : mx;
    }
    return mx;
}

/* Bytes of the widest prepared activation row (kern.h prepare) of any matrix; 0 when the
 * kernels have no prepared forms for this model's types. */
static size_t max_prep_of(const struct model *m)
{
    const struct kern *k = m->k;
    if (!k->prep_bytes || !k->prepare || !k->mul_mat_prep)
        return 0;
    size_t mx = k->prep_bytes(m->output.type, m->output.ncols, 1);
    for (uint32_t il = 0; il < m->n_layer; il++) {
        const struct model_layer *L = &m->layers[il];
        const struct model_mat *mats[] = {&L->wq,   &L->wk, &L->wv,  &L->wo,
                                          &L->gate, &L->up, &L->down};
        for (size_t j = 0; j < sizeof(mats) / sizeof(mats[0]); j++) {
            size_t pb = k->prep_bytes(mats[j]->type, mats[j]->ncols, 1);
            mx = pb > mx ? pb : mx;
        }
    }
    return mx;
}

static int alloc_thread_bufs(struct model_fwd *f)
{
    const struct model *m = f->m;
    size_t maxdim = m->n_embd > m->n_ff ? m->n_embd : m->n_ff;
    maxdim = maxdim > f->n_q ? maxdim : f->n_q;
    f->vt_len = maxdim;
    f->xq_local = mem_calloc((size_t)f->n_threads, sizeof(*f->xq_local));
    f->thr_f = mem_calloc((size_t)f->n_threads, sizeof(*f->thr_f));
    if (!f->xq_local || !f->thr_f)
        return E_NOMEM;
    if (f->max_prep && !(f->xp_local = mem_calloc((size_t)f->n_threads, sizeof(*f->xp_local))))
        return E_NOMEM;
    for (int i = 0; i < f->n_threads; i++) {
        f->xq_local[i] = mem_aligned(64, (size_t)FWD_N_SLOTS * FWD_LOCAL_TOK * f->max_vrow);
        f->thr_f[i] = mem_aligned(
            64, (f->sc_len + maxdim + 2 * m->head_dim + (size_t)m->head_dim * (FWD_ATT_KEYS + 16)) *
                    sizeof(float));
        if (!f->xq_local[i] || !f->thr_f[i])
            return E_NOMEM;
        if (f->max_prep &&
            !(f->xp_local[i] = mem_aligned(64, (size_t)FWD_N_SLOTS * FWD_LOCAL_TOK * f->max_prep)))
            return E_NOMEM;
    }
    return 0;
}

static int alloc_bufs(struct model_fwd *f)
{
    const struct model *m = f->m;
    size_t nb = f->n_batch;
    f->x = mem_aligned(64, nb * m->n_embd * sizeof(float));
    f->qkv = mem_aligned(64, nb * f->n_qkv * sizeof(float));
    f->att = mem_aligned(64, nb * f->n_q * sizeof(float));
    f->tmp = mem_aligned(64, nb * m->n_embd * sizeof(float));
    f->ff_g = mem_aligned(64, nb * m->n_ff * sizeof(float));
    f->ff_u = mem_aligned(64, nb * m->n_ff * sizeof(float));
    f->rope = mem_aligned(64, nb * m->n_rot * sizeof(float));
    f->rope_swa = f->rope;
    if (m->n_swa && (f->rp[0].base != f->rp[1].base || f->rp[0].scale != f->rp[1].scale ||
                     f->rp[0].mscale != f->rp[1].mscale || f->rp[0].freqs != f->rp[1].freqs))
        f->rope_swa = mem_aligned(64, nb * m->n_rot * sizeof(float));
    f->rot_cs = mem_aligned(64, 2 * (size_t)m->n_rot * sizeof(float));
    f->logits = mem_aligned(64, (size_t)f->n_out_max * m->n_vocab * sizeof(float));
    f->n_phase_max = (int)m->n_layer * 12 + 8; /* 9 per layer, +2 with post-norms */
    f->chunk = mem_calloc((size_t)f->n_phase_max, sizeof(*f->chunk));
    f->done = mem_calloc((size_t)f->n_phase_max, sizeof(*f->done));
    f->rgn = mem_calloc((size_t)f->n_phase_max * (size_t)f->n_threads, sizeof(*f->rgn));
    if (!f->x || !f->qkv || !f->att || !f->tmp || !f->ff_g || !f->ff_u || !f->rope ||
        !f->rope_swa || !f->rot_cs || !f->logits || !f->chunk || !f->done || !f->rgn)
        return E_NOMEM;
    uint32_t eb = kern_pack_base(m->tok_embd.type);
    if (eb && !(f->embd_row = mem_aligned(64, kern_row_bytes(eb, m->tok_embd.ncols))))
        return E_NOMEM;
    for (int j = 0; j < FWD_N_SLOTS; j++) {
        if (!(f->xq[j] = mem_aligned(64, nb * f->max_vrow)))
            return E_NOMEM;
        if (f->max_prep && !(f->xp[j] = mem_aligned(64, nb * f->max_prep)))
            return E_NOMEM;
    }
    return alloc_thread_bufs(f);
}

#define FWD_LOGITS_BUDGET ((size_t)64 << 20) /* bytes of logits rows kept per batch */

int model_fwd_init(struct model_fwd *f, const struct model *m, uint32_t n_ctx, uint32_t n_seq,
                   uint32_t n_batch, int n_threads, uint32_t kv_type, struct err_info *ei)
{
    int rc;
    memset(f, 0, sizeof(*f));
    f->m = m;
    f->n_ctx = n_ctx;
    f->n_batch = n_batch;
    f->n_threads = n_threads;
    f->n_q = m->n_head * m->head_dim;
    f->n_kv = m->n_head_kv * m->head_dim;
    f->n_qkv = f->n_q + 2 * f->n_kv;
    f->sc_len = (size_t)FWD_ATT_TOK * (m->n_head / m->n_head_kv) * n_ctx;
    f->max_vrow = max_vrow_of(m);
    f->max_prep = max_prep_of(m);
    f->attn_simd = model_attn_simd(m->k->isa);
    model_rope_for_ctx(m, n_ctx, f->rp);
    size_t row = (size_t)m->n_vocab * sizeof(float);
    size_t fit = FWD_LOGITS_BUDGET / row;
    f->n_out_max = fit >= n_batch ? n_batch : (fit > n_seq ? (uint32_t)fit : n_seq);
    if ((rc = kv_init(&f->kv, m->n_layer, n_seq, n_ctx, f->n_kv, kv_type)) != 0) {
        err_set(ei, rc, "engine: cannot allocate the KV cache (%u x %u positions)", n_seq, n_ctx);
        goto out;
    }
    if ((rc = alloc_bufs(f)) != 0) {
        err_set(ei, rc, "engine: cannot allocate scratch buffers");
        goto out;
    }
    if ((rc = pool_new(n_threads, 0, &f->pool)) != 0) {
        err_set(ei, rc, "engine: cannot start %d threads", n_threads);
        goto out;
    }
    return 0;
out:
    model_fwd_fini(f);
    return rc;
}

void model_fwd_fini(struct model_fwd *f)
{
    pool_free(f->pool);
    kv_fini(&f->kv);
    mem_free(f->x);
    mem_free(f->qkv);
    mem_free(f->att);
    mem_free(f->tmp);
    mem_free(f->ff_g);
    mem_free(f->ff_u);
    if (f->rope_swa != f->rope)
        mem_free(f->rope_swa);
    mem_free(f->rope);
    mem_free(f->rot_cs);
    mem_free(f->logits);
    mem_free(f->embd_row);
    mem_free(f->chunk);
    mem_free(f->rgn);
    mem_free(f->done);
    for (int j = 0; j < FWD_N_SLOTS; j++) {
        mem_free(f->xq[j]);
        mem_free(f->xp[j]);
    }
    for (int i = 0; f->xq_local && i < f->n_threads; i++)
        mem_free(f->xq_local[i]);
    for (int i = 0; f->xp_local && i < f->n_threads; i++)
        mem_free(f->xp_local[i]);
    mem_free(f->xp_local);
    for (int i = 0; f->thr_f && i < f->n_threads; i++)
        mem_free(f->thr_f[i]);
    mem_free(f->xq_local);
    mem_free(f->thr_f);
    memset(f, 0, sizeof(*f));
}

void model_fwd_shift_prep(struct model_fwd *f, float delta)
{
    const struct model *m = f->m;
    model_rope_cs(m, &f->rp[0], delta, f->rot_cs);
    model_rope_cs(m, &f->rp[1], delta, f->rot_cs + m->n_rot);
}

void model_fwd_rerotate(const struct model_fwd *f, uint32_t il, float *k)
{
    const struct model *m = f->m;
    const float *cs = f->rot_cs + (m->layers[il].swa ? m->n_rot : 0);
    for (uint32_t h = 0; h < m->n_head_kv; h++)
        model_rope_apply(m, k + (size_t)h * m->head_dim, cs);
}

/*
 * engine.c - the engine's public API (engine.h) over its parts: gguf (file), kern (kernels),
 * model (weights and forward pass), kv (cache), tok (tokenizer), pool (threads).
 *
 * Sections: model loading and info, tokenizer wrappers, contexts, decode (batch validation),
 * sequence operations, misc.
 */
#include "engine/engine.h"

#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/kern/kern.h"
#include "engine/model/model.h"
#include "engine/model/model_enc.h"

#define ENG_SMALL_MODEL_BYTES ((uint64_t)48 << 20) /* auto threads: 1 below this */
#define ENG_DEFAULT_CTX       2048
#define ENG_DEFAULT_BATCH     512
#define ENG_MAX_CPUS          1024
#define ENG_PAR_MIN_BYTES     ((uint64_t)32 << 20)

struct eng_model {
    struct model *m;
    struct enc_model *enc; /* encoder (bert family) instead of m */
    struct tok_vocab *vocab;
    struct eng_model_info info;
    eng_log_fn log;
    void *log_user;
};

struct eng_ctx {
    struct eng_model *em;
    struct eng_ctx_params p;
    struct model_fwd fw;
    struct enc_fwd ef;            /* encoder models: ef.m set, fw unused */
    int32_t *pos, *seq, *out_tok; /* [n_batch] the batch being decoded, resolved */
    int32_t *row_of;              /* [n_batch] logits row of batch index i, -1 when none */
    uint32_t *seq_add;            /* [n_seq] tokens the batch adds per sequence */
    int n_last;
    float *rot_cs;    /* [n_rot] cos/sin used by a context shift */
    float *emb;       /* [n_embd] eng_get_embeddings result */
    int n_batch_last; /* tokens of the last successful batch */
    struct eng_perf perf;
};

static void logf_(const struct eng_model *em, enum eng_log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(const struct eng_model *em, enum eng_log_level lv, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!em->log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    em->log(em->log_user, lv, msg);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- model ----------------------------------------------------------------------------- */

void eng_model_params_default(struct eng_model_params *p)
{
    memset(p, 0, sizeof(*p));
    p->kern_isa = KERN_ISA_BEST;
}

static void fill_info_enc(struct eng_model *em)
{
    const struct enc_model *m = em->enc;
    struct eng_model_info *in = &em->info;
    in->arch = m->arch_name;
    in->name = m->name;
    in->file_type = m->file_type;
    in->n_ctx_train = m->n_ctx_train;
    in->n_embd = m->n_embd;
    in->n_layer = m->n_layer;
    in->n_head = m->n_head;
    in->n_head_kv = m->n_head_kv;
    in->head_dim = m->head_dim;
    in->n_ff = m->n_ff;
    in->n_vocab = m->n_vocab;
    in->bos = tok_bos(em->vocab);
    in->eos = tok_eos(em->vocab);
    in->add_bos = tok_add_bos(em->vocab);
    in->n_params = m->n_params;
    in->weight_bytes = m->weight_bytes;
    in->bytes_per_token = m->bytes_per_token;
    in->encoder = 1;
    in->pooling = (int)m->pooling;
}

static void fill_info(struct eng_model *em)
{
    const struct model *m = em->m;
    struct eng_model_info *in = &em->info;
    if (em->enc) {
        fill_info_enc(em);
        return;
    }
    in->arch = m->arch_name;
    in->name = m->name;
    in->file_type = m->file_type;
    in->n_ctx_train = m->n_ctx_train;
    in->n_embd = m->n_embd;
    in->n_layer = m->n_layer;
    in->n_head = m->n_head;
    in->n_head_kv = m->n_head_kv;
    in->head_dim = m->head_dim;
    in->n_ff = m->n_ff;
    in->n_vocab = m->n_vocab;
    in->bos = tok_bos(em->vocab);
    in->eos = tok_eos(em->vocab);
    in->add_bos = tok_add_bos(em->vocab);
    in->n_params = m->n_params;
    in->weight_bytes = m->weight_bytes;
    in->bytes_per_token = m->bytes_per_token;
}

/* Tokens past the embedding rows are tolerated when few and none is plain text: Ollama's gemma3
 * conversions keep multimodal control tokens (<image_soft_token>) in the vocabulary without an
 * embedding row.  Such an id can only come from special text in a prompt, and eng_decode refuses
 * it (out of range); sampling only ever sees the n_vocab logits. */
#define ENG_MAX_EXCESS_TOKENS 1024
static int excess_tokens_ok(const struct tok_vocab *v, uint32_t n_vocab)
{
    size_t n = tok_n_vocab(v);
    if (n - n_vocab > ENG_MAX_EXCESS_TOKENS)
        return 0;
    for (size_t id = n_vocab; id < n; id++) {
        enum tok_type t = tok_token_type(v, (int32_t)id);
        if (t != TOK_TYPE_CONTROL && t != TOK_TYPE_USER_DEFINED && t != TOK_TYPE_UNUSED)
            return 0;
    }
    return 1;
}

static int load_parts(struct eng_model *em, struct gguf *g, const struct kern *k,
                      struct err_info *ei)
{
    int rc = tok_vocab_load(g, &em->vocab, ei);
    if (rc != 0)
        return rc;
    if (enc_is_encoder(g))
        rc = enc_load(g, k, &em->enc, ei);
    else
        rc = model_load(g, k, &em->m, ei);
    if (rc != 0)
        return rc;
    uint32_t n_vocab = em->enc ? em->enc->n_vocab : em->m->n_vocab;
    if (tok_n_vocab(em->vocab) > n_vocab && !excess_tokens_ok(em->vocab, n_vocab))
        return err_set(ei, E_PARSE, "model: vocabulary has %zu tokens but token_embd only %u",
                       tok_n_vocab(em->vocab), n_vocab);
    return 0;
}

int eng_model_load_fd(int fd, const struct eng_model_params *p, struct eng_model **out,
                      struct err_info *ei)
{
    struct eng_model_params dp;
    struct gguf *g = NULL;
    int rc;
    if (!p) {
        eng_model_params_default(&dp);
        p = &dp;
    }
    const struct kern *k = kern_get((enum kern_isa)p->kern_isa);
    if (!k)
        return err_set(ei, E_UNSUPPORTED, "engine: this CPU lacks the requested kernel ISA");
    struct eng_model *em = mem_calloc(1, sizeof(*em));
    if (!em)
        return err_set(ei, E_NOMEM, "engine: out of memory");
    em->log = p->log;
    em->log_user = p->log_user;
    if ((rc = gguf_open_fd(fd, 1, &g, ei)) != 0)
        goto out;
    if ((rc = load_parts(em, g, k, ei)) != 0)
        goto out;
    g = NULL; /* owned by em->m (or em->enc) now */
    /* encoders compute from the mapping: small models, each weight read once per sequence */
    if (em->m && !p->use_mmap && (rc = model_copy_weights(em->m, ei)) != 0)
        goto out;
    fill_info(em);
    logf_(em, ENG_LOG_INFO, "loaded %s model: %u layers, embd %u, vocab %u, %s, kernels %s, %s",
          em->info.arch, em->info.n_layer, em->info.n_embd, em->info.n_vocab, em->info.file_type,
          k->name, p->use_mmap || em->enc ? "weights mmapped" : "weights copied to huge pages");
    *out = em;
    return 0;
out:
    if (!em->m && !em->enc)
        gguf_close(g);
    eng_model_free(em);
    return rc;
}

int eng_model_load_file(const char *path, const struct eng_model_params *p, struct eng_model **out,
                        struct err_info *ei)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(ei, E_IO, "engine: cannot open %s", path);
    int rc = eng_model_load_fd(fd, p, out, ei);
    close(fd);
    return rc;
}

void eng_model_free(struct eng_model *em)
{
    if (!em)
        return;
    tok_vocab_free(em->vocab);
    model_free(em->m);
    enc_free(em->enc);
    mem_free(em);
}

const struct eng_model_info *eng_model_get_info(const struct eng_model *m)
{
    return &m->info;
}

/* ---- tokenizer ------------------------------------------------------------------------- */

int eng_tokenize(const struct eng_model *m, const char *text, size_t len, int add_special,
                 int parse_special, int32_t *out, size_t cap, size_t *n)
{
    return tok_encode(m->vocab, text, len, add_special, parse_special, out, cap, n);
}

int eng_token_piece(const struct eng_model *m, int32_t tok, int special, char *buf, size_t cap,
                    size_t *n)
{
    size_t len = 0;
    if (tok < 0 || (size_t)tok >= tok_n_vocab(m->vocab))
        return E_INVAL;
    const char *p = tok_piece(m->vocab, tok, &len);
    if (!special && tok_is_control(m->vocab, tok))
        len = 0;
    *n = len;
    if (len > cap)
        return E_RANGE;
    memcpy(buf, p, len);
    return 0;
}

int eng_token_is_eog(const struct eng_model *m, int32_t tok)
{
    return tok_is_eog(m->vocab, tok);
}

void eng_detok_init(struct eng_detok *d, const struct eng_model *m, unsigned flags)
{
    tok_detok_init(&d->td, m->vocab, flags);
}

int eng_detok_push(struct eng_detok *d, int32_t tok, char *out, size_t cap, size_t *n)
{
    return tok_detok_push(&d->td, tok, out, cap, n);
}

int eng_detok_flush(struct eng_detok *d, char *out, size_t cap, size_t *n)
{
    return tok_detok_flush(&d->td, out, cap, n);
}

/* ---- contexts -------------------------------------------------------------------------- */

void eng_ctx_params_default(struct eng_ctx_params *p)
{
    memset(p, 0, sizeof(*p));
    p->n_ctx = ENG_DEFAULT_CTX;
    p->n_seq = 1;
    p->n_batch = ENG_DEFAULT_BATCH;
    p->n_threads = 0;
    p->kv_type = GGUF_T_F16;
    p->par_min_bytes = ENG_PAR_MIN_BYTES;
}

static int resolve_params(const struct eng_model *em, struct eng_ctx_params *p, struct err_info *ei)
{
    if (p->n_ctx == 0)
        p->n_ctx = ENG_DEFAULT_CTX;
    if (p->n_seq == 0)
        p->n_seq = 1;
    if (p->n_batch == 0)
        p->n_batch = ENG_DEFAULT_BATCH;
    if (p->n_batch > p->n_ctx * p->n_seq)
        p->n_batch = p->n_ctx * p->n_seq < ENG_MAX_BATCH ? p->n_ctx * p->n_seq : ENG_MAX_BATCH;
    if (p->n_threads == 0) {
        p->n_threads = eng_physical_cores();
        /* an encoder reads its weights once per sequence of tokens: worth every core (tiny
         * passes still run on one thread, see par_min_bytes) */
        if (em->info.bytes_per_token < ENG_SMALL_MODEL_BYTES && !em->enc)
            p->n_threads = 1;
    }
    if (p->n_ctx > ENG_MAX_CTX || p->n_seq > ENG_MAX_SEQ || p->n_batch > ENG_MAX_BATCH ||
        p->n_threads < 1 || p->n_threads > ENG_MAX_THREADS ||
        (p->kv_type != GGUF_T_F16 && p->kv_type != GGUF_T_F32))
        return err_set(ei, E_INVAL,
                       "engine: bad context parameters (n_ctx %u, n_seq %u, n_batch %u, "
                       "threads %d, kv type %u)",
                       p->n_ctx, p->n_seq, p->n_batch, p->n_threads, p->kv_type);
    return 0;
}

int eng_ctx_new(struct eng_model *em, const struct eng_ctx_params *pp, struct eng_ctx **out,
                struct err_info *ei)
{
    int rc;
    struct eng_ctx *c = mem_calloc(1, sizeof(*c));
    if (!c)
        return err_set(ei, E_NOMEM, "engine: out of memory");
    c->em = em;
    if (pp)
        c->p = *pp;
    else
        eng_ctx_params_default(&c->p);
    if ((rc = resolve_params(em, &c->p, ei)) != 0)
        goto out;
    size_t nb = c->p.n_batch;
    c->pos = mem_calloc(nb, sizeof(int32_t));
    c->seq = mem_calloc(nb, sizeof(int32_t));
    c->out_tok = mem_calloc(nb, sizeof(int32_t));
    c->row_of = mem_calloc(nb, sizeof(int32_t));
    c->seq_add = mem_calloc(c->p.n_seq, sizeof(uint32_t));
    c->rot_cs = mem_calloc(em->enc ? em->enc->n_rot : em->m->n_rot, sizeof(float));
    c->emb = mem_calloc(em->info.n_embd, sizeof(float));
    if (!c->pos || !c->seq || !c->out_tok || !c->row_of || !c->seq_add || !c->rot_cs || !c->emb) {
        rc = err_set(ei, E_NOMEM, "engine: out of memory");
        goto out;
    }
    if (em->enc) {
        /* no KV cache: one sequence of at most n_ctx (<= the trained context) per eng_embed */
        if (c->p.n_ctx > em->enc->n_ctx_train)
            c->p.n_ctx = em->enc->n_ctx_train;
        if ((rc = enc_fwd_init(&c->ef, em->enc, c->p.n_ctx, c->p.n_threads, ei)) != 0)
            goto out;
        c->ef.par_min_bytes = c->p.par_min_bytes;
        logf_(em, ENG_LOG_INFO, "encoder context: %u tokens, %d threads", c->p.n_ctx,
              c->p.n_threads);
        *out = c;
        return 0;
    }
    if ((rc = model_fwd_init(&c->fw, em->m, c->p.n_ctx, c->p.n_seq, c->p.n_batch, c->p.n_threads,
                             c->p.kv_type, ei)) != 0)
        goto out;
    c->fw.par_min_bytes = c->p.par_min_bytes;
    logf_(em, ENG_LOG_INFO, "context: n_ctx %u x %u seq, batch %u, %d threads", c->p.n_ctx,
          c->p.n_seq, c->p.n_batch, c->p.n_threads);
    *out = c;
    return 0;
out:
    eng_ctx_free(c);
    return rc;
}

void eng_ctx_free(struct eng_ctx *c)
{
    if (!c)
        return;
    if (c->fw.m)
        model_fwd_fini(&c->fw);
    if (c->ef.m)
        enc_fwd_fini(&c->ef);
    mem_free(c->pos);
    mem_free(c->seq);
    mem_free(c->out_tok);
    mem_free(c->row_of);
    mem_free(c->seq_add);
    mem_free(c->rot_cs);
    mem_free(c->emb);
    mem_free(c);
}

const struct eng_ctx_params *eng_ctx_get_params(const struct eng_ctx *c)
{
    return &c->p;
}

void eng_ctx_set_abort(struct eng_ctx *c, eng_abort_fn fn, void *user)
{
    c->fw.abort_fn = fn;
    c->fw.abort_user = user;
    c->ef.abort_fn = fn;
    c->ef.abort_user = user;
}

/* ---- decode ---------------------------------------------------------------------------- */

/* Resolves sequences, positions and output rows of b into the context's arrays. */
static int check_batch(struct eng_ctx *c, const struct eng_batch *b, struct err_info *ei)
{
    const struct kv_cache *kv = &c->fw.kv;
    int n_out = 0;
    if (!b || b->n < 1 || !b->tokens)
        return err_set(ei, E_INVAL, "engine: empty batch");
    if ((uint32_t)b->n > c->p.n_batch)
        return err_set(ei, E_RANGE, "engine: batch of %d tokens exceeds n_batch %u", b->n,
                       c->p.n_batch);
    memset(c->seq_add, 0, c->p.n_seq * sizeof(uint32_t));
    for (int i = 0; i < b->n; i++) {
        int32_t s = b->seq ? b->seq[i] : 0, t = b->tokens[i];
        if (s < 0 || (uint32_t)s >= c->p.n_seq)
            return err_set(ei, E_INVAL, "engine: token %d: bad sequence id %d", i, s);
        if (t < 0 || (uint32_t)t >= c->em->m->n_vocab)
            return err_set(ei, E_INVAL, "engine: token %d: id %d out of range", i, t);
        uint32_t want = kv->len[s] + c->seq_add[s];
        if (b->pos && b->pos[i] != (int32_t)want)
            return err_set(ei, E_INVAL, "engine: token %d: position %d, sequence %d expects %u", i,
                           b->pos[i], s, want);
        if (want >= c->p.n_ctx)
            return err_set(ei, E_RANGE, "engine: sequence %d is full (n_ctx %u)", s, c->p.n_ctx);
        c->seq[i] = s;
        c->pos[i] = (int32_t)want;
        c->seq_add[s]++;
        int want_out = b->logits ? b->logits[i] != 0 : i == b->n - 1;
        c->row_of[i] = want_out ? n_out : -1;
        if (want_out)
            c->out_tok[n_out++] = i;
    }
    if ((uint32_t)n_out > c->fw.n_out_max)
        return err_set(ei, E_RANGE, "engine: %d logits rows requested, at most %u", n_out,
                       c->fw.n_out_max);
    c->n_last = n_out;
    return 0;
}

int eng_decode(struct eng_ctx *c, const struct eng_batch *b, struct err_info *ei)
{
    int rc;
    c->n_last = -1;
    c->n_batch_last = 0;
    if (c->ef.m) {
        c->n_last = 0;
        memset(c->row_of, 0xff, c->p.n_batch * sizeof(int32_t));
        return err_set(ei, E_UNSUPPORTED, "engine: an embedding model does not generate");
    }
    if ((rc = check_batch(c, b, ei)) != 0) {
        c->n_last = 0;
        memset(c->row_of, 0xff, c->p.n_batch * sizeof(int32_t));
        return rc;
    }
    struct model_batch mb = {b->n, b->tokens, c->pos, c->seq, c->out_tok, c->n_last};
    double t0 = now_s();
    rc = model_fwd_decode(&c->fw, &mb);
    double dt = now_s() - t0;
    if (rc != 0) {
        memset(c->row_of, 0xff, c->p.n_batch * sizeof(int32_t));
        return err_set(ei, rc,
                       rc == E_CANCELLED ? "engine: decode cancelled"
                                         : "engine: decode "
                                           "failed");
    }
    for (uint32_t s = 0; s < c->p.n_seq; s++)
        c->fw.kv.len[s] += c->seq_add[s];
    c->n_batch_last = b->n;
    if (b->n > 1) {
        c->perf.n_prompt_tok += (uint64_t)b->n;
        c->perf.prompt_s += dt;
    } else {
        c->perf.n_gen_tok++;
        c->perf.gen_s += dt;
    }
    return 0;
}

const float *eng_get_logits(const struct eng_ctx *c, int i)
{
    if (c->ef.m || i < 0 || (uint32_t)i >= c->p.n_batch || c->row_of[i] < 0)
        return NULL;
    return c->fw.logits + (size_t)c->row_of[i] * c->em->m->n_vocab;
}

const float *eng_get_embeddings(struct eng_ctx *c, int i)
{
    const struct model *m = c->em->m;
    if (i < 0 || i >= c->n_batch_last)
        return NULL;
    kern_rmsnorm(c->emb, c->fw.x + (size_t)i * m->n_embd, m->output_norm, m->n_embd, m->eps);
    return c->emb;
}

int eng_embed(struct eng_ctx *c, const int32_t *toks, size_t n, int pooling, float *out,
              struct err_info *ei)
{
    const struct enc_model *m = c->em->enc;
    int rc;
    if (!m)
        return err_set(ei, E_UNSUPPORTED, "engine: eng_embed needs an encoder model");
    if (n < 1 || n > c->ef.n_max)
        return err_set(ei, E_RANGE, "engine: %zu tokens, the encoder context holds 1 to %u", n,
                       c->ef.n_max);
    if (pooling < ENG_POOL_MEAN || pooling > ENG_POOL_LAST)
        return err_set(ei, E_INVAL, "engine: unknown pooling %d", pooling);
    for (size_t i = 0; i < n; i++)
        if (toks[i] < 0 || (uint32_t)toks[i] >= m->n_vocab)
            return err_set(ei, E_INVAL, "engine: token %zu: id %d out of range", i, toks[i]);
    double t0 = now_s();
    if ((rc = enc_fwd_run(&c->ef, toks, (int)n)) != 0)
        return err_set(
            ei, rc, rc == E_CANCELLED ? "engine: embedding cancelled" : "engine: embedding failed");
    const float *x = c->ef.x;
    size_t ne = m->n_embd;
    if (pooling == ENG_POOL_MEAN) {
        /* summed in double, then divided: the order does not matter at this precision */
        for (size_t k = 0; k < ne; k++) {
            double s = 0.0;
            for (size_t t = 0; t < n; t++)
                s += (double)x[t * ne + k];
            out[k] = (float)(s / (double)n);
        }
    } else {
        memcpy(out, x + (pooling == ENG_POOL_CLS ? 0 : (n - 1) * ne), ne * sizeof(float));
    }
    c->perf.n_prompt_tok += (uint64_t)n;
    c->perf.prompt_s += now_s() - t0;
    return 0;
}

/* ---- sequences ------------------------------------------------------------------------- */

uint32_t eng_seq_len(const struct eng_ctx *c, int seq)
{
    if (c->ef.m || seq < 0 || (uint32_t)seq >= c->p.n_seq)
        return 0;
    return c->fw.kv.len[seq];
}

void eng_seq_clear(struct eng_ctx *c, int seq)
{
    if (!c->ef.m && seq >= 0 && (uint32_t)seq < c->p.n_seq)
        c->fw.kv.len[seq] = 0;
}

int eng_seq_keep(struct eng_ctx *c, int seq, uint32_t n)
{
    if (c->ef.m || seq < 0 || (uint32_t)seq >= c->p.n_seq || n > c->fw.kv.len[seq])
        return E_INVAL;
    c->fw.kv.len[seq] = n;
    return 0;
}

static void rerotate(void *user, uint32_t il, float *k, int32_t delta)
{
    struct eng_ctx *c = user;
    (void)delta; /* model_fwd_shift_prep already prepared the rotation for delta */
    model_fwd_rerotate(&c->fw, il, k);
}

int eng_seq_shift(struct eng_ctx *c, int seq, uint32_t n_keep, uint32_t n_discard)
{
    if (c->ef.m || seq < 0 || (uint32_t)seq >= c->p.n_seq)
        return E_INVAL;
    model_fwd_shift_prep(&c->fw, -(float)n_discard);
    return kv_shift(&c->fw.kv, (uint32_t)seq, n_keep, n_discard, rerotate, c);
}

int eng_seq_copy(struct eng_ctx *c, int src, int dst)
{
    if (c->ef.m || src < 0 || dst < 0 || (uint32_t)src >= c->p.n_seq || (uint32_t)dst >= c->p.n_seq)
        return E_INVAL;
    kv_copy_seq(&c->fw.kv, (uint32_t)src, (uint32_t)dst);
    return 0;
}

int eng_debug_kv_row(const struct eng_ctx *c, int seq, uint32_t il, uint32_t pos, int v, float *out,
                     uint32_t n)
{
    const struct kv_cache *kv = &c->fw.kv;
    if (c->ef.m || seq < 0 || (uint32_t)seq >= kv->n_seq || il >= kv->n_layer ||
        pos >= kv->len[seq] || n > kv->kv_dim)
        return E_INVAL;
    const void *row =
        v ? kv_v_row(kv, il, (uint32_t)seq, pos) : kv_k_row(kv, il, (uint32_t)seq, pos);
    kv_get(kv, row, 0, out, n);
    return 0;
}

/* ---- misc ------------------------------------------------------------------------------ */

void eng_ctx_get_perf(const struct eng_ctx *c, struct eng_perf *out)
{
    *out = c->perf;
}

void eng_ctx_reset_perf(struct eng_ctx *c)
{
    memset(&c->perf, 0, sizeof(c->perf));
}

static int read_int_file(const char *path, int *v)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    return sscanf(buf, "%d", v) == 1 ? 0 : -1;
}

/* CPUs this process may run on (a syscall: works inside the runner's sandbox, where /sys
 * cannot be opened), else the online count. */
static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 && online < ENG_MAX_CPUS ? (int)online : 1;
}

int eng_physical_cores(void)
{
    int n_online = usable_cpus();
    int seen[64][2], n_seen = 0;
    for (int cpu = 0; cpu < n_online && n_seen < 64; cpu++) {
        char path[128];
        int core, pkg, dup = 0;
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        if (read_int_file(path, &core) != 0)
            return n_online;
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/physical_package_id",
                 cpu);
        if (read_int_file(path, &pkg) != 0)
            return n_online;
        for (int i = 0; i < n_seen; i++)
            dup |= seen[i][0] == core && seen[i][1] == pkg;
        if (!dup) {
            seen[n_seen][0] = core;
            seen[n_seen][1] = pkg;
            n_seen++;
        }
    }
    return n_seen > 0 ? n_seen : n_online;
}

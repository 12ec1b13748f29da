/*
 * runner_main.c - `corral runner --model-fd N --sock-fd N`: the process that serves one model
 * (DESIGN.md, "Processes").  It enters its sandbox first (sbx_runner_enter: no file opens, no
 * network), then loads the model from the fd it was handed once the server sends `load`, and
 * serves the rproto.h protocol on the socket until end of stream.
 *
 * Design: one thread runs a loop of {read every buffered message; one decode step}.  The
 * num_parallel slots are sequences of one engine context and are decoded together in ONE batch
 * per step (generating slots first, one token each; prompt chunks fill the rest up to
 * num_batch).  Messages are read between steps, so `cancel` takes effect between tokens.  Stop
 * strings are matched on decoded text; a tail that could still become a stop string is held
 * back and never emitted if it does.  A new request reuses the free slot whose cached tokens
 * share the longest prefix with its prompt.  Prompts that do not fit num_ctx are truncated
 * (keep num_keep, then the newest half window) and logged; generation that reaches num_ctx
 * shifts the context (drops half of the window after num_keep).  `embed` runs to completion
 * between two steps in the sequence of a free slot (its cached prefix is dropped; generating
 * slots are untouched) and pools per the model's pooling_type (runner_embed.h).  A complete
 * with a grammar (the API's `format`) gets a matcher in its slot: the sampler's pick is checked
 * against it and the vocabulary masked only when the pick is refused (engine/gram/gram.h); the
 * token bytes are indexed once per model at the first such request.  With thinking on
 * (complete.grammar_think) the thinking text is left free and the grammar applies after
 * </think>; when no token fits the grammar (a cap hit) the request ends with an error.
 */
#include "runner/runner.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "runner"
#include "common/buf.h"
#include "common/cmd.h"
#include "common/log.h"
#include "common/mem.h"
#include "engine/engine.h"
#include "engine/gguf/gguf.h"
#include "engine/gram/gram.h"
#include "engine/samp/logprob.h"
#include "engine/samp/samp.h"
#include "runner/rproto.h"
#include "runner/runner_embed.h"
#include "sandbox/sbx.h"

#define RUNNER_PIECE_MAX   1024        /* bytes of text one token may add */
#define RUNNER_PEND_MAX    (64u << 10) /* bytes held back for stop matching */
#define RUNNER_TEXT_MAX    (8u << 20)  /* bytes of prompt text accepted */
#define RUNNER_UNBOUNDED_X 4           /* num_predict <= 0: at most this many windows */
#define RUNNER_LP_MAX      1024        /* logprobs entries waiting for their text */

/* The logprobs entry of a generated token waiting until the text it made is emitted: the token
 * made bytes [start, end) of the generated text (counted before stop-string cutting). */
struct lp_wait {
    json_t *e;
    uint64_t start, end;
};

struct slot {
    int active;
    uint64_t rid;
    int32_t *toks; /* (cap) tokens of this sequence: prompt then generated */
    size_t n_toks, cap;
    size_t n_fed;  /* toks[0..n_fed) are in the KV cache */
    int take;      /* tokens of this slot in the current batch */
    int logit_row; /* batch row of this slot's logits, -1 none */
    int prompt_done;
    int n_gen, n_limit, num_keep, n_prompt_eval;
    struct samp *samp;
    struct eng_detok detok;
    struct buf pend; /* decoded text not yet emitted (may be a stop-string prefix) */
    struct buf out;  /* text to emit after this step */
    char *stop[RPROTO_MAX_STOP];
    size_t n_stop;
    uint64_t t_start, t_prompt; /* ns, monotonic */
    int lp_on, lp_top;          /* logprobs requested; alternatives per token */
    struct lp_wait *lpq;        /* (lp_cap) entries not yet sent, in token order */
    size_t n_lpq, lp_cap;
    uint64_t text_in, text_out; /* bytes of generated text pushed / released so far */
    struct gram *gram;          /* the request's grammar (format), NULL when unconstrained */
    struct gram_matcher *gm;
    int think_wait;     /* grammar deferred: 1 <think> may open, 2 thinking (rproto.h) */
    size_t think_open;  /* bytes of "<think>" written so far (think_wait 1) */
    char think_tail[8]; /* last bytes of the thinking text (think_wait 2) */
    size_t n_think_tail;
    int n_masked; /* tokens that needed the full vocabulary mask */
};

struct runner {
    int sock;
    struct rproto_reader rd;
    struct eng_model *model;
    struct eng_ctx *ctx;
    const struct eng_model_info *info;
    struct rproto_load lo;
    int n_ctx, n_batch;
    struct slot slots[RPROTO_MAX_PARALLEL];
    int n_slots;
    int32_t *b_tok, *b_pos, *b_seq;
    int8_t *b_logit;
    enum runner_pool pool;     /* how `embed` pools hidden states (the model's pooling_type) */
    struct gram_vocab *gvocab; /* token bytes for grammars, built at the first grammar */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int send_msg(struct runner *r, json_t *m)
{
    int rc = m ? rproto_send(r->sock, m) : E_NOMEM;
    json_decref(m);
    return rc;
}

static int send_error(struct runner *r, uint64_t rid, const char *msg)
{
    json_t *m = json_pack("{s:s, s:s}", "t", "error", "msg", msg);
    if (m && rid)
        json_object_set_new(m, "rid", json_integer((json_int_t)rid));
    return send_msg(r, m);
}

static void eng_log(void *user, enum eng_log_level level, const char *msg)
{
    (void)user;
    if (level >= ENG_LOG_WARN)
        LOG_WARN("engine: %s", msg);
    else
        LOG_DEBUG("engine: %s", msg);
}

/* ---- tokens ------------------------------------------------------------------------------ */

static int tokenize(struct runner *r, const char *text, size_t len, int add, int special,
                    int32_t **out, size_t *n)
{
    size_t cap = len + 16, need = 0;
    int32_t *ids;
    int rc;
    if (len > RUNNER_TEXT_MAX)
        return E_RANGE;
    for (int tries = 0; tries < 2; tries++) {
        if (!(ids = mem_alloc_array(cap, sizeof(*ids))))
            return E_NOMEM;
        rc = eng_tokenize(r->model, text, len, add, special, ids, cap, &need);
        if (rc == 0) {
            *out = ids;
            *n = need;
            return 0;
        }
        mem_free(ids);
        if (rc != E_RANGE || need <= cap)
            return rc;
        cap = need;
    }
    return E_RANGE;
}

static int toks_reserve(struct slot *s, size_t n)
{
    int32_t *p;
    size_t cap;
    if (n <= s->cap)
        return 0;
    cap = s->cap ? s->cap : 256;
    while (cap < n)
        cap *= 2;
    if (!(p = mem_realloc_array(s->toks, cap, sizeof(*p))))
        return E_NOMEM;
    s->toks = p;
    s->cap = cap;
    return 0;
}

/* ---- stop strings and emission ----------------------------------------------------------- */

/* Longest tail of p[0..n) that is a proper prefix of a stop string. */
static size_t stop_hold(const struct slot *s, const char *p, size_t n)
{
    size_t best = 0;
    for (size_t i = 0; i < s->n_stop; i++) {
        size_t sl = strlen(s->stop[i]);
        for (size_t k = sl - 1; k > best; k--) {
            if (k <= n && memcmp(p + n - k, s->stop[i], k) == 0) {
                best = k;
                break;
            }
        }
    }
    return best;
}

/* Earliest occurrence of any stop string in p[0..n); returns its offset or n when none. */
static size_t stop_find(const struct slot *s, const char *p, size_t n)
{
    size_t best = n;
    for (size_t i = 0; i < s->n_stop; i++) {
        const char *hit = memmem(p, n, s->stop[i], strlen(s->stop[i]));
        if (hit && (size_t)(hit - p) < best)
            best = (size_t)(hit - p);
    }
    return best;
}

/* Adds decoded text; moves what is safe to emit into s->out.  Returns 1 when a stop string
 * matched (the text from it on is dropped), 0 otherwise, or an error. */
static int push_text(struct slot *s, const char *t, size_t n, int final)
{
    size_t at, keep;
    int rc;
    if ((rc = buf_append(&s->pend, t, n)) != 0)
        return rc;
    s->text_in += n;
    at = stop_find(s, s->pend.p ? s->pend.p : "", s->pend.n);
    if (at < s->pend.n) {
        rc = buf_append(&s->out, s->pend.p, at);
        s->text_out += at;
        buf_reset(&s->pend);
        return rc ? rc : 1;
    }
    keep = final ? 0 : stop_hold(s, s->pend.p ? s->pend.p : "", s->pend.n);
    if ((rc = buf_append(&s->out, s->pend.p, s->pend.n - keep)) != 0)
        return rc;
    s->text_out += s->pend.n - keep;
    memmove(s->pend.p, s->pend.p + s->pend.n - keep, keep);
    s->pend.n = keep;
    if (s->pend.p)
        s->pend.p[keep] = '\0';
    return 0;
}

/* ---- logprobs ---------------------------------------------------------------------------- */

static void lp_clear(struct slot *s)
{
    for (size_t i = 0; i < s->n_lpq; i++)
        json_decref(s->lpq[i].e);
    s->n_lpq = 0;
}

/* Queues the entry of tok, sampled from logits (raw, before penalties and temperature), which
 * made n bytes of text. */
static int lp_queue(struct runner *r, struct slot *s, int32_t tok, const float *logits, size_t n)
{
    struct samp_lp top[SAMP_LP_MAX_TOP];
    struct rproto_lp_tok t, alt[SAMP_LP_MAX_TOP];
    char text[SAMP_LP_MAX_TOP + 1][RUNNER_PIECE_MAX];
    int n_top = 0;
    json_t *e;
    if (s->n_lpq == s->lp_cap) {
        size_t cap = s->lp_cap ? s->lp_cap * 2 : 64;
        struct lp_wait *q = mem_realloc_array(s->lpq, cap, sizeof(*q));
        if (!q)
            return E_NOMEM;
        s->lpq = q;
        s->lp_cap = cap;
    }
    samp_logprobs(logits, (int)r->info->n_vocab, tok, s->lp_top, &t.logprob, top, &n_top);
    t.text = text[0];
    if (eng_token_piece(r->model, tok, 0, text[0], RUNNER_PIECE_MAX, &t.n) != 0)
        t.n = 0;
    for (int i = 0; i < n_top; i++) {
        alt[i].text = text[i + 1];
        alt[i].logprob = top[i].logprob;
        if (eng_token_piece(r->model, top[i].id, 0, text[i + 1], RUNNER_PIECE_MAX, &alt[i].n) != 0)
            alt[i].n = 0;
    }
    if (!(e = rproto_logprob_build(&t, alt, (size_t)n_top)))
        return E_NOMEM;
    s->lpq[s->n_lpq++] = (struct lp_wait){e, s->text_in, s->text_in + n};
    return 0;
}

/* Moves the entries whose text has been released (s->text_out) into a new array: in token
 * order up to the last one with released text (earlier text-less ones ride with it).  At the
 * end (end=1) every entry that started before the released end goes (a token cut inside by a
 * stop string keeps its entry), and all of them when nothing was cut (all=1).  Too many
 * waiting entries are sent anyway (RUNNER_LP_MAX).  NULL when none is due. */
static json_t *lp_take(struct slot *s, int end, int all)
{
    size_t due = 0;
    json_t *arr;
    for (size_t i = 0; i < s->n_lpq; i++) {
        const struct lp_wait *w = &s->lpq[i];
        if (all || (w->end <= s->text_out && w->end > w->start) || (end && w->start < s->text_out))
            due = i + 1;
    }
    if (s->n_lpq >= RUNNER_LP_MAX)
        due = s->n_lpq;
    if (due == 0 || !(arr = json_array()))
        return NULL;
    for (size_t i = 0; i < due; i++)
        json_array_append_new(arr, s->lpq[i].e);
    memmove(s->lpq, s->lpq + due, (s->n_lpq - due) * sizeof(*s->lpq));
    s->n_lpq -= due;
    return arr;
}

/* Sends the released text (and, with logprobs on, the entries it completes) as one piece. */
static int flush_out_lp(struct runner *r, struct slot *s, int32_t tok, int end, int all)
{
    json_t *m, *lp = s->lp_on ? lp_take(s, end, all) : NULL;
    if (s->out.n == 0 && !lp)
        return 0;
    m = json_pack("{s:s, s:I, s:o, s:[i]}", "t", "piece", "rid", (json_int_t)s->rid, "text",
                  rproto_text_new(s->out.p ? s->out.p : "", s->out.n), "tokens", tok);
    if (m && lp)
        json_object_set_new(m, "logprobs", lp);
    else
        json_decref(lp);
    buf_reset(&s->out);
    return send_msg(r, m);
}

static int flush_out(struct runner *r, struct slot *s, int32_t tok)
{
    return flush_out_lp(r, s, tok, 0, 0);
}

static void slot_release(struct slot *s)
{
    samp_free(s->samp);
    s->samp = NULL;
    for (size_t i = 0; i < s->n_stop; i++)
        mem_free(s->stop[i]);
    s->n_stop = 0;
    buf_reset(&s->pend);
    buf_reset(&s->out);
    lp_clear(s);
    gram_matcher_free(s->gm);
    gram_free(s->gram);
    s->gm = NULL;
    s->gram = NULL;
    s->active = 0;
    s->rid = 0;
    s->n_toks = s->n_fed; /* the cache mirrors the KV contents for prefix reuse */
}

static int finish(struct runner *r, struct slot *s, const char *reason)
{
    char tail[64];
    size_t n = 0;
    uint64_t t = now_ns();
    json_t *m, *ctx;
    int rc = 0, cut;
    if (strcmp(reason, "cancel") != 0 && eng_detok_flush(&s->detok, tail, sizeof(tail), &n) == 0)
        rc = push_text(s, tail, n, 1);
    if (rc >= 0 && strcmp(reason, "cancel") != 0)
        rc = push_text(s, "", 0, 1);
    cut = s->text_out < s->text_in; /* a stop string (or cancel) dropped the rest */
    if (s->gm)
        LOG_DEBUG("grammar: %d of %d tokens needed the full mask", s->n_masked, s->n_gen);
    if (rc >= 0)
        rc = strcmp(reason, "cancel") != 0 ? flush_out_lp(r, s, -1, 1, !cut) : flush_out(r, s, -1);
    ctx = rproto_tokens_build(s->toks, s->n_toks);
    m = json_pack("{s:s, s:I, s:s, s:i, s:I, s:i, s:I, s:o}", "t", "done", "rid",
                  (json_int_t)s->rid, "reason", reason, "prompt_n", s->n_prompt_eval, "prompt_ns",
                  (json_int_t)((s->t_prompt ? s->t_prompt : t) - s->t_start), "eval_n", s->n_gen,
                  "eval_ns", (json_int_t)(s->t_prompt ? t - s->t_prompt : 0), "context", ctx);
    rc = send_msg(r, m);
    slot_release(s);
    return rc;
}

/* ---- requests ----------------------------------------------------------------------------- */

static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i])
        i++;
    return i;
}

static struct slot *pick_slot(struct runner *r, const int32_t *t, size_t n, size_t *lcp)
{
    struct slot *best = NULL;
    size_t best_n = 0;
    for (int i = 0; i < r->n_slots; i++) {
        struct slot *s = &r->slots[i];
        size_t c;
        if (s->active)
            continue;
        c = common_prefix(s->toks, s->n_toks, t, n);
        if (!best || c > best_n) {
            best = s;
            best_n = c;
        }
    }
    *lcp = best_n;
    return best;
}

/* Ollama's truncation of an over-long prompt: keep num_keep tokens, then the newest tokens
 * that fill half of the rest of the window. */
static void truncate_prompt(struct runner *r, int32_t *t, size_t *n, int num_keep)
{
    size_t keep = num_keep < 0 ? 0 : (size_t)num_keep, tail;
    if (*n < (size_t)r->n_ctx)
        return;
    if (keep > (size_t)r->n_ctx / 2)
        keep = (size_t)r->n_ctx / 2;
    tail = ((size_t)r->n_ctx - keep) / 2;
    LOG_WARN("truncating input prompt limit=%d prompt=%zu keep=%zu new=%zu", r->n_ctx, *n, keep,
             keep + tail);
    memmove(t + keep, t + *n - tail, tail * sizeof(*t));
    *n = keep + tail;
}

static int build_prompt(struct runner *r, const struct rproto_complete *c, int32_t **out, size_t *n)
{
    int32_t *p = NULL, *all;
    size_t np = 0;
    int rc;
    for (size_t i = 0; i < c->n_context; i++)
        if (c->context[i] < 0 || (uint32_t)c->context[i] >= r->info->n_vocab)
            return E_RANGE;
    if ((rc = tokenize(r, c->prompt, strlen(c->prompt), c->n_context == 0, c->special, &p, &np)))
        return rc;
    if (!(all = mem_alloc_array(c->n_context + np + 1, sizeof(*all)))) {
        mem_free(p);
        return E_NOMEM;
    }
    if (c->n_context)
        memcpy(all, c->context, c->n_context * sizeof(*all));
    if (np)
        memcpy(all + c->n_context, p, np * sizeof(*all));
    mem_free(p);
    *n = c->n_context + np;
    if (*n == 0 && r->info->bos >= 0)
        all[(*n)++] = r->info->bos;
    *out = all;
    return *n ? 0 : E_INVAL;
}

static int slot_sampler(struct runner *r, struct slot *s, const struct rproto_complete *c)
{
    struct samp_params sp;
    samp_params_default(&sp);
    sp.temperature = c->temperature;
    sp.top_k = c->top_k;
    sp.top_p = c->top_p;
    sp.min_p = c->min_p;
    sp.typical_p = c->typical_p;
    sp.repeat_penalty = c->repeat_penalty;
    sp.repeat_last_n = c->repeat_last_n;
    sp.presence_penalty = c->presence_penalty;
    sp.frequency_penalty = c->frequency_penalty;
    sp.seed = c->seed < 0 ? SAMP_SEED_RANDOM : (uint64_t)c->seed;
    return samp_new(&sp, (int)r->info->n_vocab, r->n_ctx, &s->samp);
}

static int slot_start(struct runner *r, struct slot *s, const struct rproto_complete *c,
                      int32_t *prompt, size_t n, size_t lcp)
{
    int rc;
    if (lcp >= n)
        lcp = n - 1; /* at least one token must be decoded to get logits */
    if ((rc = eng_seq_keep(r->ctx, (int)(s - r->slots), (uint32_t)lcp)) != 0) {
        eng_seq_clear(r->ctx, (int)(s - r->slots));
        lcp = 0;
    }
    if ((rc = toks_reserve(s, n + 1)) != 0 || (rc = slot_sampler(r, s, c)) != 0)
        return rc;
    memcpy(s->toks, prompt, n * sizeof(*prompt));
    s->n_toks = n;
    s->n_fed = lcp;
    for (size_t i = 0; i < n; i++)
        samp_accept(s->samp, prompt[i]);
    for (size_t i = 0; i < c->n_stop; i++) {
        if (!(s->stop[i] = mem_strdup(c->stop[i])))
            return E_NOMEM;
        s->n_stop = i + 1;
    }
    eng_detok_init(&s->detok, r->model, 0);
    s->rid = c->rid;
    s->num_keep = c->num_keep < 0 ? 0 : c->num_keep;
    if (c->num_predict > 0)
        s->n_limit = c->num_predict;
    else if (c->num_predict == -2)
        s->n_limit = r->n_ctx - (int)n > 1 ? r->n_ctx - (int)n : 1;
    else
        s->n_limit = r->n_ctx * RUNNER_UNBOUNDED_X;
    s->n_gen = 0;
    s->n_prompt_eval = (int)(n - lcp);
    s->prompt_done = 0;
    s->t_start = now_ns();
    s->t_prompt = 0;
    s->lp_on = c->logprobs;
    s->lp_top = c->top_logprobs;
    s->text_in = s->text_out = 0;
    s->active = 1;
    return 0;
}

static int gram_piece(void *user, int32_t tok, char *buf, size_t cap, size_t *n, int *eog)
{
    const struct eng_model *m = user;
    *eog = eng_token_is_eog(m, tok);
    return eng_token_piece(m, tok, 0, buf, cap, n);
}

/* Compiles a request's grammar and its matcher (the model's token bytes are extracted once). */
static int grammar_start(struct runner *r, const char *text, struct gram **g,
                         struct gram_matcher **gm, struct err_info *ei)
{
    int rc;
    if (!r->gvocab &&
        (rc = gram_vocab_new((int32_t)r->info->n_vocab, gram_piece, r->model, &r->gvocab)) != 0)
        return err_set(ei, rc, "grammar: cannot index the vocabulary");
    if ((rc = gram_compile(text, strlen(text), g, ei)) != 0)
        return rc;
    if ((rc = gram_matcher_new(*g, gm)) != 0) {
        gram_free(*g);
        *g = NULL;
        return err_set(ei, rc, "grammar: the start state exceeds a limit");
    }
    return 0;
}

static int on_complete(struct runner *r, const json_t *msg)
{
    struct rproto_complete c;
    struct err_info ei = {0};
    int32_t *prompt = NULL;
    size_t n = 0, lcp = 0;
    struct slot *s;
    struct gram *g = NULL;
    struct gram_matcher *gm = NULL;
    int rc;
    if ((rc = rproto_complete_parse(msg, &c, &ei)) != 0)
        return send_error(r, rproto_rid(msg), ei.msg);
    if (r->info->encoder) { /* the server refuses first ("does not support generate") */
        rc = send_error(r, c.rid, "this model only supports embeddings");
        goto out;
    }
    if (c.grammar && (rc = grammar_start(r, c.grammar, &g, &gm, &ei)) != 0) {
        rc = send_error(r, c.rid, ei.msg[0] ? ei.msg : "invalid grammar");
        goto out;
    }
    if ((rc = build_prompt(r, &c, &prompt, &n)) != 0) {
        rc = send_error(r, c.rid, rc == E_RANGE ? "invalid context token" : "tokenize failed");
        goto out;
    }
    truncate_prompt(r, prompt, &n, c.num_keep);
    if (!(s = pick_slot(r, prompt, n, &lcp))) {
        rc = send_error(r, c.rid, "no free slot");
        goto out;
    }
    if ((rc = slot_start(r, s, &c, prompt, n, lcp)) != 0) {
        slot_release(s);
        s->n_toks = s->n_fed = 0;
        eng_seq_clear(r->ctx, (int)(s - r->slots));
        rc = send_error(r, c.rid, "cannot start the request");
    } else {
        s->think_wait = g ? c.think_gram : 0;
        s->think_open = s->n_think_tail = 0;
        s->n_masked = 0;
        s->gram = g;
        s->gm = gm;
        g = NULL;
        gm = NULL;
    }
out:
    gram_matcher_free(gm);
    gram_free(g);
    mem_free(prompt);
    rproto_complete_fini(&c);
    return rc;
}

static int on_tokenize(struct runner *r, const json_t *msg)
{
    const char *text = json_string_value(json_object_get(msg, "text"));
    int32_t *ids = NULL;
    size_t n = 0;
    int rc;
    if (!text)
        return send_error(r, rproto_rid(msg), "tokenize: text must be a string");
    rc = tokenize(r, text, json_string_length(json_object_get(msg, "text")),
                  json_is_true(json_object_get(msg, "add_special")),
                  json_is_true(json_object_get(msg, "special")), &ids, &n);
    if (rc != 0)
        return send_error(r, rproto_rid(msg), "tokenize failed");
    rc = send_msg(r, json_pack("{s:s, s:I, s:o}", "t", "tokens", "rid", (json_int_t)rproto_rid(msg),
                               "tokens", rproto_tokens_build(ids, n)));
    mem_free(ids);
    return rc;
}

static int on_detokenize(struct runner *r, const json_t *msg)
{
    int32_t *ids = NULL;
    size_t n = 0, k = 0;
    struct eng_detok d;
    struct buf b;
    char tmp[RUNNER_PIECE_MAX];
    int rc;
    struct err_info ei = {0};
    if (rproto_tokens_parse(json_object_get(msg, "tokens"), (int32_t)r->info->n_vocab, &ids, &n,
                            &ei) != 0)
        return send_error(r, rproto_rid(msg), ei.msg);
    buf_init(&b, RPROTO_MAX_FRAME / 2);
    eng_detok_init(&d, r->model, 0);
    rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if ((rc = eng_detok_push(&d, ids[i], tmp, sizeof(tmp), &k)) == 0)
            rc = buf_append(&b, tmp, k);
    if (rc == 0 && (rc = eng_detok_flush(&d, tmp, sizeof(tmp), &k)) == 0)
        rc = buf_append(&b, tmp, k);
    if (rc == 0)
        rc = send_msg(r, json_pack("{s:s, s:I, s:s%}", "t", "text", "rid",
                                   (json_int_t)rproto_rid(msg), "text", buf_str(&b), b.n));
    else
        rc = send_error(r, rproto_rid(msg), "detokenize failed");
    buf_fini(&b);
    mem_free(ids);
    return rc;
}

/* ---- embeddings --------------------------------------------------------------------------- */

/* The model's pooling type from its GGUF header (read again: the engine keeps no such key). */
static enum runner_pool model_pooling(int model_fd)
{
    struct gguf *g = NULL;
    enum runner_pool p = RUNNER_POOL_LAST;
    if (gguf_open_fd(model_fd, 0, &g, NULL) == 0)
        p = runner_pool_of_gguf(g);
    gguf_close(g);
    return p;
}

/* The free slot whose cached prefix is worth least (fewest tokens); NULL when all are busy. */
static struct slot *embed_slot(struct runner *r)
{
    struct slot *best = NULL;
    for (int i = 0; i < r->n_slots; i++) {
        struct slot *s = &r->slots[i];
        if (!s->active && (!best || s->n_fed < best->n_fed))
            best = s;
    }
    return best;
}

/* Evaluates toks[0..n) in sequence seq (empty on entry) chunk by chunk and pools the hidden
 * states into vec (n_embd floats, zeroed). */
static int embed_eval(struct runner *r, int seq, const int32_t *toks, size_t n, float *vec,
                      struct err_info *ei)
{
    size_t n_embd = r->info->n_embd;
    int rc;
    for (size_t at = 0; at < n;) {
        struct eng_batch b = {0};
        int take = n - at < (size_t)r->n_batch ? (int)(n - at) : r->n_batch;
        for (int k = 0; k < take; k++) {
            r->b_tok[k] = toks[at + (size_t)k];
            r->b_pos[k] = (int32_t)(at + (size_t)k);
            r->b_seq[k] = seq;
            r->b_logit[k] = 0;
        }
        b.n = take;
        b.tokens = r->b_tok;
        b.pos = r->b_pos;
        b.seq = r->b_seq;
        b.logits = r->b_logit;
        if ((rc = eng_decode(r->ctx, &b, ei)) != 0)
            return rc;
        for (int k = 0; k < take; k++) {
            const float *row;
            if (!runner_pool_wants(r->pool, at + (size_t)k, n))
                continue;
            if (!(row = eng_get_embeddings(r->ctx, k)))
                return err_set(ei, E_INTERNAL, "no hidden state for token %zu", at + (size_t)k);
            runner_pool_add(r->pool, vec, row, n_embd, at + (size_t)k, n);
        }
        at += (size_t)take;
    }
    runner_pool_finish(r->pool, vec, n_embd, n);
    return 0;
}

/* {"t":"embedding","rid","vec":[n_embd floats],"n":tokens evaluated} */
static int send_embedding(struct runner *r, uint64_t rid, const float *vec, size_t n_tok)
{
    json_t *arr;
    for (uint32_t k = 0; k < r->info->n_embd; k++)
        if (!isfinite(vec[k])) /* JSON has no NaN/Inf; the API words this error */
            return send_error(r, rid, "embedding contains NaN or Inf values");
    arr = json_array();
    for (uint32_t k = 0; arr && k < r->info->n_embd; k++)
        if (json_array_append_new(arr, json_real((double)vec[k])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    if (!arr)
        return send_error(r, rid, "out of memory");
    return send_msg(r, json_pack("{s:s, s:I, s:o, s:I}", "t", "embedding", "rid", (json_int_t)rid,
                                 "vec", arr, "n", (json_int_t)n_tok));
}

/* 1 when tok is a control token (renders only as special text, e.g. [SEP]). */
static int is_control(struct runner *r, int32_t tok)
{
    char tmp[64];
    size_t n = 0, ns = 0;
    return eng_token_piece(r->model, tok, 0, tmp, sizeof(tmp), &n) == 0 && n == 0 &&
           eng_token_piece(r->model, tok, 1, tmp, sizeof(tmp), &ns) == 0 && ns > 0;
}

/* embed {rid, text}: tokenizes as llama.cpp does for embeddings (special tokens added and
 * parsed), keeps the first n_ctx tokens (the server already refused truncate:false inputs that
 * do not fit), evaluates them in a free slot's sequence (its cached prefix is dropped; slots
 * that are generating are never touched, and the evaluation runs between decode steps), and
 * answers the pooled, unnormalised vector. */
static int on_embed(struct runner *r, const json_t *msg)
{
    const json_t *jt = json_object_get(msg, "text");
    uint64_t rid = rproto_rid(msg);
    struct err_info ei = {0};
    int32_t *toks = NULL;
    float *vec = NULL;
    struct slot *s;
    size_t n = 0;
    int rc, seq;
    if (!json_is_string(jt))
        return send_error(r, rid, "embed: text must be a string");
    if (tokenize(r, json_string_value(jt), json_string_length(jt), 1, 1, &toks, &n) != 0) {
        rc = send_error(r, rid, "tokenize failed");
        goto out;
    }
    if (n == 0 && r->info->bos >= 0)
        toks[n++] = r->info->bos; /* tokenize() leaves room: cap >= 16 */
    if (n == 0) {
        rc = send_error(r, rid, "embed: the input has no tokens");
        goto out;
    }
    if (n > (size_t)r->n_ctx) {
        LOG_WARN("truncating embedding input limit=%d prompt=%zu", r->n_ctx, n);
        if (r->info->eos >= 0 && toks[n - 1] == r->info->eos && r->n_ctx > 1)
            toks[r->n_ctx - 1] = r->info->eos; /* keep an EOS/SEP the tokenizer appended */
        else if (r->info->encoder && r->n_ctx > 1 && is_control(r, toks[n - 1]))
            toks[r->n_ctx - 1] = toks[n - 1]; /* BERT's closing [SEP] */
        n = (size_t)r->n_ctx;
    }
    if (!(vec = mem_calloc(r->info->n_embd, sizeof(*vec)))) {
        rc = send_error(r, rid, "out of memory");
        goto out;
    }
    if (r->info->encoder) { /* bert family: the whole input in one bidirectional pass */
        if ((rc = eng_embed(r->ctx, toks, n, (int)r->pool, vec, &ei)) != 0)
            rc = send_error(r, rid, ei.msg[0] ? ei.msg : "embedding failed");
        else
            rc = send_embedding(r, rid, vec, n);
        goto out;
    }
    if (!(s = embed_slot(r))) {
        rc = send_error(r, rid, "no free slot");
        goto out;
    }
    seq = (int)(s - r->slots);
    eng_seq_clear(r->ctx, seq);
    s->n_toks = s->n_fed = 0;
    if ((rc = embed_eval(r, seq, toks, n, vec, &ei)) != 0)
        rc = send_error(r, rid, ei.msg[0] ? ei.msg : "embedding failed");
    else
        rc = send_embedding(r, rid, vec, n);
    eng_seq_clear(r->ctx, seq);
out:
    mem_free(vec);
    mem_free(toks);
    return rc;
}

static int on_message(struct runner *r, const json_t *msg)
{
    const char *t = rproto_type(msg);
    uint64_t rid = rproto_rid(msg);
    if (strcmp(t, "complete") == 0)
        return on_complete(r, msg);
    if (strcmp(t, "tokenize") == 0)
        return on_tokenize(r, msg);
    if (strcmp(t, "detokenize") == 0)
        return on_detokenize(r, msg);
    if (strcmp(t, "cancel") == 0) {
        for (int i = 0; i < r->n_slots; i++)
            if (r->slots[i].active && r->slots[i].rid == rid)
                return finish(r, &r->slots[i], "cancel");
        return 0;
    }
    if (strcmp(t, "health") == 0) {
        int busy = 0;
        for (int i = 0; i < r->n_slots; i++)
            busy += r->slots[i].active;
        return send_msg(r, json_pack("{s:s, s:I, s:s, s:i}", "t", "health", "rid", (json_int_t)rid,
                                     "status", "ok", "busy", busy));
    }
    if (strcmp(t, "embed") == 0)
        return on_embed(r, msg);
    return send_error(r, rid, "unknown message");
}

/* ---- decoding ----------------------------------------------------------------------------- */

/* Context shift for a generating slot whose window is full. */
static int shift_if_full(struct runner *r, struct slot *s)
{
    int seq = (int)(s - r->slots);
    size_t keep = (size_t)s->num_keep, discard;
    int rc;
    if (s->n_toks < (size_t)r->n_ctx)
        return 0;
    if (keep > (size_t)r->n_ctx / 2)
        keep = (size_t)r->n_ctx / 2;
    discard = ((size_t)r->n_ctx - keep) / 2;
    if (discard == 0 || s->n_fed < keep + discard)
        return E_RANGE;
    if ((rc = eng_seq_shift(r->ctx, seq, (uint32_t)keep, (uint32_t)discard)) != 0)
        return rc;
    memmove(s->toks + keep, s->toks + keep + discard,
            (s->n_toks - keep - discard) * sizeof(*s->toks));
    s->n_toks -= discard;
    s->n_fed -= discard;
    return 0;
}

static void add_slot_tokens(struct runner *r, struct slot *s, int *n, int max_take)
{
    size_t pending = s->n_toks - s->n_fed;
    int take = (int)pending < max_take ? (int)pending : max_take;
    s->take = take;
    s->logit_row = -1;
    for (int k = 0; k < take; k++) {
        size_t pos = s->n_fed + (size_t)k;
        r->b_tok[*n] = s->toks[pos];
        r->b_pos[*n] = (int32_t)pos;
        r->b_seq[*n] = (int32_t)(s - r->slots);
        r->b_logit[*n] = pos + 1 == s->n_toks;
        if (r->b_logit[*n])
            s->logit_row = *n;
        (*n)++;
    }
}

static int fill_batch(struct runner *r)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < r->n_slots; i++) {
            struct slot *s = &r->slots[i];
            if (!s->active || s->prompt_done != (pass == 0))
                continue;
            if (pass == 0 && shift_if_full(r, s) != 0) {
                /* the window is full and cannot shift: end it as Ollama does without shift */
                s->take = 0;
                if (finish(r, s, "length") != 0)
                    return -1;
                continue;
            }
            add_slot_tokens(r, s, &n, r->n_batch - n);
        }
    }
    return n;
}

/* ---- grammar (format) ---------------------------------------------------------------------- */

#define THINK_OPEN  "<think>"
#define THINK_CLOSE "</think>"

/* 1 when tok's text continues "<think>" from s->think_open (text past the tag is thinking). */
static int think_opens(struct runner *r, struct slot *s, int32_t tok)
{
    char p[RUNNER_PIECE_MAX];
    size_t n = 0, rest = strlen(THINK_OPEN) - s->think_open;
    if (eng_token_piece(r->model, tok, 1, p, sizeof(p), &n) != 0 || n == 0)
        return 0;
    return memcmp(p, THINK_OPEN + s->think_open, n < rest ? n : rest) == 0;
}

/* The next token of s: the sampler's, under the grammar once it applies.  While the output may
 * still open a thinking block (think_wait 1) a pick that continues "<think>" is kept; inside
 * thinking (2) sampling is free. */
static int32_t slot_sample(struct runner *r, struct slot *s, const float *logits)
{
    int32_t tok;
    int masked = 0;
    if (!s->gm || s->think_wait == 2)
        return samp_sample(s->samp, logits);
    if (s->think_wait == 0) {
        tok = gram_sample(s->gm, r->gvocab, s->samp, logits, &masked);
        s->n_masked += masked;
        return tok;
    }
    tok = samp_sample(s->samp, logits);
    if (tok >= 0 && (think_opens(r, s, tok) || gram_token_allowed(s->gm, r->gvocab, tok)))
        return tok;
    s->n_masked++;
    return gram_resample(s->gm, r->gvocab, s->samp, logits);
}

/* Advances s's grammar state past tok (before its text is pushed).  E_INVAL when the grammar
 * refuses it (cannot happen after slot_sample). */
static int slot_grammar_token(struct runner *r, struct slot *s, int32_t tok)
{
    if (s->think_wait == 1 && think_opens(r, s, tok)) {
        char p[RUNNER_PIECE_MAX];
        size_t n = 0;
        if (eng_token_piece(r->model, tok, 1, p, sizeof(p), &n) != 0)
            n = 0;
        s->think_open += n;
        if (s->think_open >= strlen(THINK_OPEN))
            s->think_wait = 2;
        return 0;
    }
    if (s->think_wait == 2)
        return 0;
    s->think_wait = 0;
    return gram_accept_token(s->gm, r->gvocab, tok);
}

/* Thinking text t[0..n) of s: once "</think>" has been written the grammar applies to what
 * follows (whitespace right after the tag is not fed to it). */
static void think_scan(struct slot *s, const char *t, size_t n)
{
    char w[sizeof(s->think_tail) + RUNNER_PIECE_MAX];
    const char *hit, *rest;
    size_t len = s->n_think_tail + n, keep;
    if (n > RUNNER_PIECE_MAX)
        return;
    memcpy(w, s->think_tail, s->n_think_tail);
    memcpy(w + s->n_think_tail, t, n);
    if ((hit = memmem(w, len, THINK_CLOSE, strlen(THINK_CLOSE))) != NULL) {
        s->think_wait = 0;
        rest = hit + strlen(THINK_CLOSE);
        while (rest < w + len && (*rest == ' ' || *rest == '\n' || *rest == '\t' || *rest == '\r'))
            rest++;
        if (rest < w + len && gram_matcher_accept(s->gm, rest, (size_t)(w + len - rest)) != 0)
            LOG_WARN("grammar: text after </think> does not fit the format; not constrained");
        return;
    }
    keep = len < sizeof(s->think_tail) ? len : sizeof(s->think_tail);
    memmove(s->think_tail, w + len - keep, keep);
    s->n_think_tail = keep;
}

/* Handles the token sampled for s from logits; may finish the request. */
static int on_token(struct runner *r, struct slot *s, int32_t tok, const float *logits)
{
    char piece[RUNNER_PIECE_MAX];
    size_t n = 0;
    int rc;
    s->n_gen++;
    if (eng_token_is_eog(r->model, tok))
        return finish(r, s, "stop");
    if (s->gm && slot_grammar_token(r, s, tok) != 0)
        return finish(r, s, "stop"); /* cannot happen: slot_sample picked an allowed token */
    samp_accept(s->samp, tok);
    s->toks[s->n_toks++] = tok;
    if ((rc = eng_detok_push(&s->detok, tok, piece, sizeof(piece), &n)) != 0)
        n = 0;
    if (s->gm && s->think_wait == 2)
        think_scan(s, piece, n);
    if (s->lp_on && (rc = lp_queue(r, s, tok, logits, n)) != 0)
        return rc;
    if ((rc = push_text(s, piece, n, 0)) < 0)
        return rc;
    if (rc == 1)
        return finish(r, s, "stop");
    if ((rc = flush_out(r, s, tok)) != 0)
        return rc;
    if (s->n_gen >= s->n_limit)
        return finish(r, s, "length");
    return toks_reserve(s, s->n_toks + 1);
}

static int step(struct runner *r)
{
    struct eng_batch b = {0};
    struct err_info ei = {0};
    int n = fill_batch(r), rc;
    if (n < 0)
        return E_IO;
    if (n == 0)
        return 0;
    b.n = n;
    b.tokens = r->b_tok;
    b.pos = r->b_pos;
    b.seq = r->b_seq;
    b.logits = r->b_logit;
    if ((rc = eng_decode(r->ctx, &b, &ei)) != 0) {
        for (int i = 0; i < r->n_slots; i++)
            if (r->slots[i].active && r->slots[i].take > 0) {
                send_error(r, r->slots[i].rid, ei.msg[0] ? ei.msg : "decode failed");
                eng_seq_clear(r->ctx, i);
                r->slots[i].n_fed = 0;
                slot_release(&r->slots[i]);
                r->slots[i].n_toks = 0;
            }
        return 0;
    }
    for (int i = 0; i < r->n_slots; i++) {
        struct slot *s = &r->slots[i];
        int32_t tok;
        if (!s->active || s->take == 0)
            continue;
        s->n_fed += (size_t)s->take;
        if (s->logit_row < 0)
            continue;
        if (!s->prompt_done) {
            s->prompt_done = 1;
            s->t_prompt = now_ns();
        }
        tok = slot_sample(r, s, eng_get_logits(r->ctx, s->logit_row));
        if (tok >= 0) {
            rc = on_token(r, s, tok, eng_get_logits(r->ctx, s->logit_row));
        } else if (s->gm && s->think_wait != 2) {
            /* no token continues the grammar: a matching cap was hit (e.g. an object with
             * thousands of optional members) or the vocabulary cannot write the next char */
            rc = send_error(r, s->rid,
                            "the output cannot continue under the format: no token "
                            "fits its grammar (the schema may be too complex)");
            slot_release(s);
        } else {
            rc = finish(r, s, "stop");
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- setup and main loop ------------------------------------------------------------------ */

static int load_model(struct runner *r, int model_fd, const json_t *msg, struct err_info *ei)
{
    struct eng_model_params mp;
    struct eng_ctx_params cp;
    int rc;
    if ((rc = rproto_load_parse(msg, &r->lo, ei)) != 0)
        return rc;
    eng_model_params_default(&mp);
    mp.log = eng_log;
    mp.use_mmap = r->lo.use_mmap;
    if ((rc = eng_model_load_fd(model_fd, &mp, &r->model, ei)) != 0)
        return rc;
    LOG_INFO("weights %s", mp.use_mmap ? "mmapped (use_mmap)" : "copied to huge pages");
    r->pool = model_pooling(model_fd);
    r->info = eng_model_get_info(r->model);
    r->n_ctx = r->lo.num_ctx;
    if (r->info->n_ctx_train > 0 && (uint32_t)r->n_ctx > r->info->n_ctx_train)
        r->n_ctx = (int)r->info->n_ctx_train;
    r->n_slots = r->lo.num_parallel > ENG_MAX_SEQ ? ENG_MAX_SEQ : r->lo.num_parallel;
    r->n_batch = r->lo.num_batch < r->n_slots ? r->n_slots : r->lo.num_batch;
    if (r->n_batch > ENG_MAX_BATCH)
        r->n_batch = ENG_MAX_BATCH;
    eng_ctx_params_default(&cp);
    cp.n_ctx = (uint32_t)r->n_ctx;
    cp.n_seq = (uint32_t)r->n_slots;
    cp.n_batch = (uint32_t)r->n_batch;
    cp.n_threads = r->lo.num_thread;
    if ((rc = eng_ctx_new(r->model, &cp, &r->ctx, ei)) != 0)
        return rc;
    r->b_tok = mem_alloc_array((size_t)r->n_batch, sizeof(int32_t));
    r->b_pos = mem_alloc_array((size_t)r->n_batch, sizeof(int32_t));
    r->b_seq = mem_alloc_array((size_t)r->n_batch, sizeof(int32_t));
    r->b_logit = mem_alloc((size_t)r->n_batch);
    if (!r->b_tok || !r->b_pos || !r->b_seq || !r->b_logit)
        return E_NOMEM;
    for (int i = 0; i < r->n_slots; i++) {
        buf_init(&r->slots[i].pend, RUNNER_PEND_MAX);
        buf_init(&r->slots[i].out, RUNNER_PEND_MAX + RUNNER_PIECE_MAX);
    }
    return 0;
}

static int send_loaded(struct runner *r)
{
    const struct eng_model_info *in = r->info;
    uint64_t kv = in->encoder ? 0 /* no cache */
                              : 2ull * in->n_layer * in->n_head_kv * in->head_dim *
                                    (uint64_t)r->n_ctx * (uint64_t)r->n_slots * 2u;
    return send_msg(r, json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:s}", "t", "loaded", "n_ctx",
                                 r->n_ctx, "n_ctx_train", (int)in->n_ctx_train, "n_vocab",
                                 (int)in->n_vocab, "n_parallel", r->n_slots, "size",
                                 (json_int_t)(in->weight_bytes + kv), "arch", in->arch));
}

static int any_active(const struct runner *r)
{
    for (int i = 0; i < r->n_slots; i++)
        if (r->slots[i].active)
            return 1;
    return 0;
}

/* Reads and handles every message available now (waits for one when idle). */
static int pump(struct runner *r)
{
    struct pollfd pfd = {.fd = r->sock, .events = POLLIN};
    struct err_info ei = {0};
    json_t *m;
    int rc, pr;
    pr = poll(&pfd, 1, any_active(r) ? 0 : -1);
    if (pr < 0 && errno != EINTR)
        return E_IO;
    if (pr > 0 && (rc = rproto_reader_fill(&r->rd, r->sock)) != 0)
        return rc;
    for (;;) {
        if ((rc = rproto_reader_next(&r->rd, &m, &ei)) != 0 || !m)
            return rc;
        rc = on_message(r, m);
        json_decref(m);
        if (rc != 0)
            return rc;
    }
}

static void runner_fini(struct runner *r)
{
    for (int i = 0; i < r->n_slots; i++) {
        slot_release(&r->slots[i]);
        mem_free(r->slots[i].toks);
        mem_free(r->slots[i].lpq);
        buf_fini(&r->slots[i].pend);
        buf_fini(&r->slots[i].out);
    }
    mem_free(r->b_tok);
    mem_free(r->b_pos);
    mem_free(r->b_seq);
    mem_free(r->b_logit);
    eng_ctx_free(r->ctx);
    gram_vocab_free(r->gvocab);
    eng_model_free(r->model);
    rproto_reader_fini(&r->rd);
}

static int parse_fd(const char *s)
{
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : -1;
    return (s && *s && end && *end == '\0' && v >= 0 && v < 65536) ? (int)v : -1;
}

/* Sandbox first, then wait for `load`, then serve. */
static int serve(struct runner *r, int model_fd)
{
    struct err_info ei = {0}, sbx_ei = {0};
    enum sbx_mode mode = SBX_MODE_ENFORCE;
    const char *env = getenv("CORRAL_SANDBOX");
    json_t *m = NULL;
    int rc, sbx_rc;
    if (env && *env && sbx_mode_parse(env, &mode) != 0)
        mode = SBX_MODE_ENFORCE;
    sbx_rc = sbx_runner_enter(mode, &sbx_ei);
    if ((rc = rproto_recv(&r->rd, r->sock, &m, &ei)) != 0)
        return rc;
    if (strcmp(rproto_type(m), "load") != 0)
        rc = err_set(&ei, E_INVAL, "expected load, got %s", rproto_type(m));
    else if (sbx_rc != 0)
        rc = err_set(&ei, sbx_rc, "runner sandbox: %s", sbx_ei.msg);
    else
        rc = load_model(r, model_fd, m, &ei);
    json_decref(m);
    close(model_fd);
    if (rc != 0) {
        send_error(r, 0, ei.msg[0] ? ei.msg : err_str(rc));
        return rc;
    }
    if ((rc = send_loaded(r)) != 0)
        return rc;
    for (;;) {
        if ((rc = pump(r)) != 0)
            return rc == E_NOTFOUND ? 0 : rc;
        if ((rc = step(r)) != 0)
            return rc;
    }
}

static int runner_cmd(int argc, char **argv)
{
    struct runner r;
    int model_fd = -1, rc;
    memset(&r, 0, sizeof(r));
    r.sock = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--model-fd") == 0)
            model_fd = parse_fd(argv[i + 1]);
        else if (strcmp(argv[i], "--sock-fd") == 0)
            r.sock = parse_fd(argv[i + 1]);
    }
    if (model_fd < 0 || r.sock < 0) {
        fprintf(stderr, "usage: corral runner --model-fd N --sock-fd N (internal)\n");
        return 2;
    }
    rproto_reader_init(&r.rd);
    rc = serve(&r, model_fd);
    if (rc == E_IO) /* the server closed the socket mid-answer (unload, shutdown) */
        LOG_DEBUG("runner stopped: connection to the server closed");
    else if (rc != 0)
        LOG_ERR("runner stopped: %s", err_str(rc));
    runner_fini(&r);
    close(r.sock);
    return rc == 0 || rc == E_IO ? 0 : 1; /* a closed connection is a normal stop */
}

CMD_REGISTER(runner, "runner", runner_cmd, NULL)

/*
 * samp.c - the sampler (samp.h).  Order of the stages is llama.cpp's common sampler chain as
 * Ollama configures it: penalties, logit-bias hook, then top_k, typical_p, top_p, min_p on the
 * softmax of the raw logits, then temperature and a draw from the final distribution.
 * Candidates are kept sorted by logit (descending, ties by lower id) after top_k, so every
 * later stage is a prefix cut.  The RNG is xoshiro256** seeded through splitmix64.
 */
#include "engine/samp/samp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"

struct samp_cand {
    int32_t id;
    float logit;
    float p;
};

struct samp {
    struct samp_params p;
    int n_vocab;
    int last_n;    /* resolved repeat_last_n */
    int32_t *hist; /* ring of the last last_n accepted tokens */
    int n_hist, hist_pos;
    int32_t *cnt;           /* [n_vocab] scratch counts, kept all-zero between calls */
    float *work;            /* [n_vocab] penalized logits */
    struct samp_cand *cand; /* [n_vocab] */
    uint64_t seed;
    uint64_t rng[4];
    samp_bias_fn bias;
    void *bias_user;
};

void samp_params_default(struct samp_params *p)
{
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.9f;
    p->min_p = 0.0f;
    p->typical_p = 1.0f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->presence_penalty = 0.0f;
    p->frequency_penalty = 0.0f;
    p->seed = SAMP_SEED_RANDOM;
}

/* ---- RNG ------------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1). */
static double rng_uniform(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void rng_seed(struct samp *s)
{
    uint64_t x = s->seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

int samp_new(const struct samp_params *p, int n_vocab, int n_ctx, struct samp **out)
{
    if (!p || n_vocab < 1 || n_vocab > SAMP_MAX_VOCAB || p->repeat_last_n < -1 ||
        isnan(p->temperature) || isnan(p->top_p) || isnan(p->min_p) || isnan(p->typical_p) ||
        isnan(p->repeat_penalty) || isnan(p->presence_penalty) || isnan(p->frequency_penalty))
        return E_INVAL;
    struct samp *s = mem_calloc(1, sizeof(*s));
    if (!s)
        return E_NOMEM;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->last_n = p->repeat_last_n == -1 ? (n_ctx > 0 ? n_ctx : 0) : p->repeat_last_n;
    if (s->last_n > SAMP_MAX_LAST_N)
        s->last_n = SAMP_MAX_LAST_N;
    s->hist = mem_calloc(s->last_n > 0 ? (size_t)s->last_n : 1, sizeof(int32_t));
    s->cnt = mem_calloc((size_t)n_vocab, sizeof(int32_t));
    s->work = mem_calloc((size_t)n_vocab, sizeof(float));
    s->cand = mem_calloc((size_t)n_vocab, sizeof(struct samp_cand));
    if (!s->hist || !s->cnt || !s->work || !s->cand) {
        samp_free(s);
        return E_NOMEM;
    }
    if (p->seed == SAMP_SEED_RANDOM) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        s->seed = splitmix64(&x) & 0x7fffffffffffffffull;
    } else {
        s->seed = p->seed;
    }
    rng_seed(s);
    *out = s;
    return 0;
}

void samp_free(struct samp *s)
{
    if (!s)
        return;
    mem_free(s->hist);
    mem_free(s->cnt);
    mem_free(s->work);
    mem_free(s->cand);
    mem_free(s);
}

void samp_set_bias(struct samp *s, samp_bias_fn fn, void *user)
{
    s->bias = fn;
    s->bias_user = user;
}

void samp_accept(struct samp *s, int32_t tok)
{
    if (s->last_n <= 0 || tok < 0 || tok >= s->n_vocab)
        return;
    s->hist[s->hist_pos] = tok;
    s->hist_pos = (s->hist_pos + 1) % s->last_n;
    if (s->n_hist < s->last_n)
        s->n_hist++;
}

void samp_reset(struct samp *s)
{
    s->n_hist = 0;
    s->hist_pos = 0;
    rng_seed(s);
}

uint64_t samp_get_seed(const struct samp *s)
{
    return s->seed;
}

/* ---- stages ---------------------------------------------------------------------------- */

static void apply_penalties(struct samp *s)
{
    const struct samp_params *p = &s->p;
    if (s->n_hist == 0 ||
        (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f))
        return;
    for (int i = 0; i < s->n_hist; i++)
        s->cnt[s->hist[i]]++;
    for (int i = 0; i < s->n_hist; i++) {
        int32_t t = s->hist[i];
        int c = s->cnt[t];
        if (c == 0)
            continue; /* already penalized */
        float *l = &s->work[t];
        if (p->repeat_penalty != 1.0f && p->repeat_penalty > 0.0f)
            *l = *l > 0.0f ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)c * p->frequency_penalty + p->presence_penalty;
        s->cnt[t] = 0;
    }
}

static int cand_cmp(const void *a, const void *b)
{
    const struct samp_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Restores the heap property below j in c[0..k): the root is the worst kept candidate. */
static void sift_down(struct samp_cand *c, int k, int j)
{
    for (;;) {
        int l = 2 * j + 1, w = j;
        if (l < k && cand_cmp(&c[l], &c[w]) > 0)
            w = l;
        if (l + 1 < k && cand_cmp(&c[l + 1], &c[w]) > 0)
            w = l + 1;
        if (w == j)
            return;
        struct samp_cand t = c[j];
        c[j] = c[w];
        c[w] = t;
        j = w;
    }
}

static int usable(float l)
{
    return !isnan(l) && l != -INFINITY;
}

/* Candidates from the penalized logits, sorted best first: the top_k best in one pass with a
 * k-heap (most logits are rejected by one comparison with the heap root), or all of them when
 * top_k is off.  Returns the count (0 when every token is excluded). */
static int gather(struct samp *s, int k)
{
    struct samp_cand *c = s->cand;
    int n = s->n_vocab, m = 0, i = 0;
    if (k <= 0 || k >= n) {
        for (; i < n; i++)
            if (usable(s->work[i]))
                c[m++] = (struct samp_cand){i, s->work[i], 0.0f};
        qsort(c, (size_t)m, sizeof(*c), cand_cmp);
        return m;
    }
    for (; i < n && m < k; i++)
        if (usable(s->work[i]))
            c[m++] = (struct samp_cand){i, s->work[i], 0.0f};
    for (int j = m / 2 - 1; j >= 0; j--)
        sift_down(c, m, j);
    for (; i < n; i++) {
        float l = s->work[i];
        /* ids grow, so an equal logit never beats the root (ties keep the lower id) */
        if (!usable(l) || !(l > c[0].logit))
            continue;
        c[0] = (struct samp_cand){i, l, 0.0f};
        sift_down(c, m, 0);
    }
    qsort(c, (size_t)m, sizeof(*c), cand_cmp);
    return m;
}

/* p = softmax(logit / temp) over c[0..n), sorted descending (c[0] is the max). */
static void softmax_cand(struct samp_cand *c, int n, float temp)
{
    float mx = c[0].logit / temp;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        c[i].p = expf(c[i].logit / temp - mx);
        sum += (double)c[i].p;
    }
    for (int i = 0; i < n; i++)
        c[i].p = (float)((double)c[i].p / sum);
}

/* ---- sampling -------------------------------------------------------------------------- */

static int32_t argmax(const float *l, int n)
{
    int32_t best = -1;
    for (int i = 0; i < n; i++)
        if (!isnan(l[i]) && l[i] != -INFINITY && (best < 0 || l[i] > l[best]))
            best = i;
    return best < 0 ? E_INVAL : best;
}

static int cut_top_p(const struct samp_cand *c, int n, float top_p)
{
    double cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += (double)c[i].p;
        if (cum >= (double)top_p)
            return i + 1;
    }
    return n;
}

static int cut_min_p(const struct samp_cand *c, int n, float min_p)
{
    float thr = c[0].p * min_p;
    int k = 1;
    while (k < n && c[k].p >= thr)
        k++;
    return k;
}

static int dist_cmp(const void *a, const void *b, void *arg)
{
    const float *d = arg;
    float x = d[*(const int32_t *)a], y = d[*(const int32_t *)b];
    return x < y ? -1 : x > y;
}

/* Typical-p cut on c[0..n) (sorted by logit, p = softmax): keeps the candidates whose surprise
 * is closest to the entropy until their mass reaches typ; survivors stay sorted by logit. */
static int cut_typical(struct samp *s, struct samp_cand *c, int n, float typ)
{
    double ent = 0.0, cum = 0.0;
    float *dist = s->work; /* free once the candidates are built */
    int32_t *idx = s->cnt; /* all-zero scratch; zeroed again below */
    int k = 0;
    for (int i = 0; i < n; i++)
        if (c[i].p > 0.0f)
            ent -= (double)c[i].p * log((double)c[i].p);
    for (int i = 0; i < n; i++) {
        double surprise = c[i].p > 0.0f ? -log((double)c[i].p) : 1e30;
        dist[i] = (float)fabs(surprise - ent);
        idx[i] = i;
    }
    qsort_r(idx, (size_t)n, sizeof(*idx), dist_cmp, dist);
    while (k < n) {
        cum += (double)c[idx[k]].p;
        k++;
        if (cum >= (double)typ)
            break;
    }
    for (int j = 0; j < k; j++)
        dist[idx[j]] = -1.0f;
    int w = 0;
    for (int i = 0; i < n; i++) {
        if (dist[i] < 0.0f)
            c[w++] = c[i];
        idx[i] = 0;
    }
    return w;
}

int32_t samp_sample(struct samp *s, const float *logits)
{
    const struct samp_params *p = &s->p;
    int n = s->n_vocab;
    memcpy(s->work, logits, (size_t)n * sizeof(float));
    apply_penalties(s);
    if (s->bias)
        s->bias(s->bias_user, s->work, n);
    if (p->temperature <= 0.0f)
        return argmax(s->work, n);
    int m = gather(s, p->top_k);
    if (m == 0)
        return E_INVAL;
    softmax_cand(s->cand, m, 1.0f);
    if (p->typical_p > 0.0f && p->typical_p < 1.0f) {
        m = cut_typical(s, s->cand, m, p->typical_p);
        softmax_cand(s->cand, m, 1.0f);
    }
    if (p->top_p > 0.0f && p->top_p < 1.0f) {
        m = cut_top_p(s->cand, m, p->top_p);
        softmax_cand(s->cand, m, 1.0f);
    }
    if (p->min_p > 0.0f && p->min_p <= 1.0f)
        m = cut_min_p(s->cand, m, p->min_p);
    softmax_cand(s->cand, m, p->temperature);
    double u = rng_uniform(s->rng), cum = 0.0;
    for (int i = 0; i < m; i++) {
        cum += (double)s->cand[i].p;
        if (u < cum)
            return s->cand[i].id;
    }
    return s->cand[m - 1].id;
}

/*
 * logprob.c - log-softmax of raw logits and the top-N selection (logprob.h).  One pass finds
 * the maximum, a second sums exp(l - max) in double and keeps the N best in a small min-heap
 * (root = worst kept, so most logits are rejected by one comparison); the survivors are then
 * sorted by insertion (N <= 20).
 */
#include "engine/samp/logprob.h"

#include <math.h>

static int usable(float l)
{
    return !isnan(l) && l != -INFINITY;
}

/* a ranks after b: lower logit, or equal logit and higher id */
static int worse(const struct samp_lp *a, float la, const struct samp_lp *b, float lb)
{
    return la < lb || (la == lb && a->id > b->id);
}

static double finite_or_floor(double v)
{
    return isfinite(v) && v > SAMP_LP_FLOOR ? v : SAMP_LP_FLOOR;
}

double samp_log_sum_exp(const float *logits, int n_vocab)
{
    float mx = -INFINITY;
    double sum = 0.0;
    int any = 0;
    for (int i = 0; i < n_vocab; i++)
        if (usable(logits[i]) && (!any || logits[i] > mx)) {
            mx = logits[i];
            any = 1;
        }
    if (!any)
        return -INFINITY;
    if (isinf(mx))
        return INFINITY; /* a +inf logit: every finite one has probability 0 */
    for (int i = 0; i < n_vocab; i++)
        if (usable(logits[i]))
            sum += (double)expf(logits[i] - mx);
    return (double)mx + log(sum);
}

/* Heap over top[0..k) keyed by lg[] (parallel logits): the root is the worst kept entry. */
static void sift(struct samp_lp *top, float *lg, int k, int j)
{
    for (;;) {
        int l = 2 * j + 1, w = j;
        if (l < k && worse(&top[l], lg[l], &top[w], lg[w]))
            w = l;
        if (l + 1 < k && worse(&top[l + 1], lg[l + 1], &top[w], lg[w]))
            w = l + 1;
        if (w == j)
            return;
        struct samp_lp t = top[j];
        float tl = lg[j];
        top[j] = top[w];
        lg[j] = lg[w];
        top[w] = t;
        lg[w] = tl;
        j = w;
    }
}

void samp_logprobs(const float *logits, int n_vocab, int32_t tok, int n_top, double *tok_lp,
                   struct samp_lp *top, int *n_out)
{
    double lse = samp_log_sum_exp(logits, n_vocab);
    float lg[SAMP_LP_MAX_TOP];
    int k = 0;
    if (n_top > SAMP_LP_MAX_TOP)
        n_top = SAMP_LP_MAX_TOP;
    if (n_top < 0 || !top)
        n_top = 0;
    *tok_lp = tok >= 0 && tok < n_vocab && usable(logits[tok])
                  ? finite_or_floor((double)logits[tok] - lse)
                  : SAMP_LP_FLOOR;
    for (int i = 0; i < n_vocab && n_top > 0; i++) {
        struct samp_lp c = {i, 0.0};
        if (!usable(logits[i]))
            continue;
        if (k < n_top) {
            top[k] = c;
            lg[k] = logits[i];
            k++;
            if (k == n_top)
                for (int j = k / 2 - 1; j >= 0; j--)
                    sift(top, lg, k, j);
            continue;
        }
        /* ids grow, so an equal logit never displaces the root (ties keep the lower id) */
        if (!(logits[i] > lg[0]))
            continue;
        top[0] = c;
        lg[0] = logits[i];
        sift(top, lg, k, 0);
    }
    /* best first: insertion sort of at most SAMP_LP_MAX_TOP entries */
    for (int i = 1; i < k; i++) {
        struct samp_lp t = top[i];
        float tl = lg[i];
        int j = i;
        while (j > 0 && worse(&top[j - 1], lg[j - 1], &t, tl)) {
            top[j] = top[j - 1];
            lg[j] = lg[j - 1];
            j--;
        }
        top[j] = t;
        lg[j] = tl;
    }
    for (int i = 0; i < k; i++)
        top[i].logprob = finite_or_floor((double)lg[i] - lse);
    *n_out = k;
}

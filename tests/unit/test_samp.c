/*
 * test_samp.c - the sampler: Ollama defaults, greedy, seeded reproducibility, and the effect
 * of each option on a small hand-made logits vector.
 */
#include <math.h>

#include "engine/samp/samp.h"
#include "harness/test.h"

#define NV 8

/* logits: token 0 best, then 1, 2, ... */
static const float L[NV] = {3.0f, 2.5f, 2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f};

static struct samp *mk(const struct samp_params *p)
{
    struct samp *s = NULL;
    ASSERT_EQ_INT(samp_new(p, NV, 128, &s), 0);
    return s;
}

static void counts(struct samp *s, const float *l, int n, int *c)
{
    for (int i = 0; i < NV; i++)
        c[i] = 0;
    for (int i = 0; i < n; i++) {
        int32_t t = samp_sample(s, l);
        ASSERT(t >= 0 && t < NV);
        c[t]++;
    }
}

TEST(samp_defaults_are_ollamas)
{
    struct samp_params p;
    samp_params_default(&p);
    ASSERT_NEAR(p.temperature, 0.8, 1e-6);
    ASSERT_EQ_INT(p.top_k, 40);
    ASSERT_NEAR(p.top_p, 0.9, 1e-6);
    ASSERT_NEAR(p.min_p, 0.0, 1e-6);
    ASSERT_NEAR(p.typical_p, 1.0, 1e-6);
    ASSERT_NEAR(p.repeat_penalty, 1.0, 1e-6);
    ASSERT_EQ_INT(p.repeat_last_n, 64);
    ASSERT(p.seed == SAMP_SEED_RANDOM);
}

TEST(samp_greedy_is_argmax)
{
    struct samp_params p;
    samp_params_default(&p);
    p.temperature = 0.0f;
    struct samp *s = mk(&p);
    float l[NV] = {0.1f, 0.2f, 5.0f, 0.3f, 4.9f, 0, 0, 0};
    for (int i = 0; i < 10; i++)
        ASSERT_EQ_INT(samp_sample(s, l), 2);
    samp_free(s);
}

TEST(samp_same_seed_same_tokens)
{
    struct samp_params p;
    samp_params_default(&p);
    p.temperature = 1.5f;
    p.top_p = 1.0f;
    p.seed = 42;
    struct samp *a = mk(&p), *b = mk(&p);
    int32_t ta[200];
    int differ = 0;
    for (int i = 0; i < 200; i++) {
        ta[i] = samp_sample(a, L);
        ASSERT_EQ_INT(samp_sample(b, L), ta[i]);
    }
    samp_reset(a);
    for (int i = 0; i < 200; i++)
        ASSERT_EQ_INT(samp_sample(a, L), ta[i]);
    p.seed = 43;
    struct samp *c = mk(&p);
    for (int i = 0; i < 200; i++)
        differ += samp_sample(c, L) != ta[i];
    ASSERT(differ > 20);
    ASSERT_EQ_INT(samp_get_seed(a), 42);
    samp_free(a);
    samp_free(b);
    samp_free(c);
}

TEST(samp_temperature_spreads_and_sharpens)
{
    struct samp_params p;
    samp_params_default(&p);
    p.top_k = 0;
    p.top_p = 1.0f;
    p.seed = 7;
    int c_hot[NV], c_cold[NV];
    p.temperature = 5.0f;
    struct samp *hot = mk(&p);
    counts(hot, L, 4000, c_hot);
    p.temperature = 0.2f;
    struct samp *cold = mk(&p);
    counts(cold, L, 4000, c_cold);
    ASSERT(c_cold[0] > 3500);    /* p(0) = 0.917 at T=0.2 */
    ASSERT(c_hot[0] < 1200);     /* p(0) = 0.18 at T=5 */
    ASSERT(c_hot[NV - 1] > 200); /* p(7) = 0.09 at T=5 */
    /* temperature 1: empirical frequencies match the softmax */
    p.temperature = 1.0f;
    struct samp *one = mk(&p);
    int c1[NV];
    counts(one, L, 20000, c1);
    double z = 0;
    for (int i = 0; i < NV; i++)
        z += exp((double)L[i]);
    for (int i = 0; i < NV; i++)
        ASSERT_NEAR(c1[i] / 20000.0, exp((double)L[i]) / z, 0.015);
    samp_free(hot);
    samp_free(cold);
    samp_free(one);
}

TEST(samp_top_k_top_p_min_p_cut)
{
    struct samp_params p;
    samp_params_default(&p);
    p.temperature = 10.0f; /* nearly uniform over what survives the cuts */
    p.top_p = 1.0f;
    p.seed = 1;
    int c[NV];
    p.top_k = 3;
    struct samp *s = mk(&p);
    counts(s, L, 3000, c);
    ASSERT(c[0] > 0 && c[1] > 0 && c[2] > 0);
    ASSERT_EQ_INT(c[3] + c[4] + c[5] + c[6] + c[7], 0);
    samp_free(s);
    /* top_p 0.5 on the softmax (0.37, 0.22, 0.14, ...): keeps tokens 0 and 1 */
    p.top_k = 0;
    p.top_p = 0.5f;
    s = mk(&p);
    counts(s, L, 3000, c);
    ASSERT(c[0] > 0 && c[1] > 0);
    ASSERT_EQ_INT(c[2] + c[3] + c[4] + c[5] + c[6] + c[7], 0);
    samp_free(s);
    /* min_p 0.3: keeps p >= 0.3 * p(0) -> tokens 0, 1, 2 (exp(-1) = 0.37 > 0.3 > exp(-1.5)) */
    p.top_p = 1.0f;
    p.min_p = 0.3f;
    s = mk(&p);
    counts(s, L, 3000, c);
    ASSERT(c[0] > 0 && c[1] > 0 && c[2] > 0);
    ASSERT_EQ_INT(c[3] + c[4] + c[5] + c[6] + c[7], 0);
    samp_free(s);
}

TEST(samp_typical_p_keeps_the_typical_token)
{
    /* one dominant token and many equal small ones: the entropy is low, the dominant token's
     * surprise is closest to it, so typical_p small keeps only it even at high temperature */
    float l[NV] = {6.0f, 0, 0, 0, 0, 0, 0, 0};
    struct samp_params p;
    samp_params_default(&p);
    p.temperature = 5.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.typical_p = 0.2f;
    p.seed = 3;
    int c[NV];
    struct samp *s = mk(&p);
    counts(s, l, 1000, c);
    ASSERT_EQ_INT(c[0], 1000);
    samp_free(s);
    p.typical_p = 1.0f;
    s = mk(&p);
    counts(s, l, 1000, c);
    ASSERT(c[0] < 1000);
    samp_free(s);
}

TEST(samp_repeat_presence_frequency_penalties)
{
    struct samp_params p;
    samp_params_default(&p);
    p.temperature = 0.0f;
    float l[NV] = {2.0f, 1.9f, 1.0f, -1.0f, -1.2f, 0, 0, 0};
    /* repeat penalty 1.1 on token 0: 2.0/1.1 = 1.82 < 1.9 */
    p.repeat_penalty = 1.1f;
    struct samp *s = mk(&p);
    ASSERT_EQ_INT(samp_sample(s, l), 0);
    samp_accept(s, 0);
    ASSERT_EQ_INT(samp_sample(s, l), 1);
    samp_free(s);
    /* negative logits are multiplied: -1.0 * 1.1 < -1.2? no: -1.1 > -1.2, order kept */
    /* repeat_last_n 1: only the last token counts */
    p.repeat_last_n = 1;
    s = mk(&p);
    samp_accept(s, 0);
    samp_accept(s, 5);
    ASSERT_EQ_INT(samp_sample(s, l), 0);
    samp_free(s);
    /* presence penalty 0.2 subtracts once */
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 64;
    p.presence_penalty = 0.2f;
    s = mk(&p);
    samp_accept(s, 0);
    samp_accept(s, 0);
    ASSERT_EQ_INT(samp_sample(s, l), 1);
    samp_free(s);
    /* frequency penalty scales with the count: 0.06 x 1 keeps 0, 0.06 x 2 does not */
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.06f;
    s = mk(&p);
    samp_accept(s, 0);
    ASSERT_EQ_INT(samp_sample(s, l), 0);
    samp_accept(s, 0);
    ASSERT_EQ_INT(samp_sample(s, l), 1);
    samp_free(s);
}

static void ban_first(void *user, float *logits, int n)
{
    (void)n;
    (*(int *)user)++;
    logits[0] = -INFINITY;
}

TEST(samp_bias_hook)
{
    struct samp_params p;
    samp_params_default(&p);
    p.temperature = 0.0f;
    int calls = 0;
    struct samp *s = mk(&p);
    samp_set_bias(s, ban_first, &calls);
    ASSERT_EQ_INT(samp_sample(s, L), 1);
    p.temperature = 1.0f;
    struct samp *r = mk(&p);
    samp_set_bias(r, ban_first, &calls);
    for (int i = 0; i < 200; i++)
        ASSERT(samp_sample(r, L) != 0);
    ASSERT_EQ_INT(calls, 201);
    samp_free(s);
    samp_free(r);
}

TEST(samp_rejects_bad_params)
{
    struct samp_params p;
    struct samp *s = NULL;
    samp_params_default(&p);
    ASSERT_EQ_INT(samp_new(&p, 0, 10, &s), E_INVAL);
    p.repeat_last_n = -2;
    ASSERT_EQ_INT(samp_new(&p, NV, 10, &s), E_INVAL);
    p.repeat_last_n = -1; /* = n_ctx */
    ASSERT_EQ_INT(samp_new(&p, NV, 10, &s), 0);
    samp_free(s);
    samp_params_default(&p);
    p.temperature = NAN;
    ASSERT_EQ_INT(samp_new(&p, NV, 10, &s), E_INVAL);
    /* everything banned: an error, not a crash */
    samp_params_default(&p);
    ASSERT_EQ_INT(samp_new(&p, NV, 10, &s), 0);
    float l[NV];
    for (int i = 0; i < NV; i++)
        l[i] = -INFINITY;
    ASSERT(samp_sample(s, l) < 0);
    samp_free(s);
}

TEST(samp_top_k_selection_on_a_big_vocabulary)
{
    enum { N = 5000, K = 7 };
    static float l[N];
    uint64_t x = 99;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        l[i] = (float)(x >> 40) / (float)(1u << 24) * 8.0f;
    }
    l[17] = l[4000] = 9.5f; /* a tie among the best */
    /* the K best by (logit desc, id asc) */
    int best[K];
    for (int k = 0; k < K; k++) {
        int b = -1;
        for (int i = 0; i < N; i++) {
            int taken = 0;
            for (int j = 0; j < k; j++)
                taken |= best[j] == i;
            if (!taken && (b < 0 || l[i] > l[b]))
                b = i;
        }
        best[k] = b;
    }
    ASSERT_EQ_INT(best[0], 17);
    ASSERT_EQ_INT(best[1], 4000);
    struct samp_params p;
    samp_params_default(&p);
    p.top_k = K;
    p.top_p = 1.0f;
    p.temperature = 50.0f;
    p.seed = 5;
    struct samp *s = NULL;
    ASSERT_EQ_INT(samp_new(&p, N, 0, &s), 0);
    int seen[K] = {0};
    for (int r = 0; r < 2000; r++) {
        int32_t t = samp_sample(s, l);
        int k = 0;
        while (k < K && best[k] != t)
            k++;
        if (k == K)
            TEST_FAIL_("token %d is not among the top %d", t, K);
        seen[k] = 1;
    }
    for (int k = 0; k < K; k++)
        ASSERT(seen[k]);
    samp_free(s);
}

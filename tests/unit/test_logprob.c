/*
 * test_logprob.c - unit tests of the logprobs path below the API: log-softmax and top-N
 * selection on known vectors (src/engine/samp/logprob.c), including ties, unusable logits, a
 * large random vocabulary checked against a full sort, and the runner-protocol pieces
 * (complete options, the entry builder with its UTF-8/bytes rule).
 */
#include "harness/test.h"

#include <math.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/mem.h"
#include "engine/samp/logprob.h"
#include "runner/rproto.h"

TEST(logprob_known_vector)
{
    /* logits 0, ln 2, ln 3, ln 4: probabilities 1/10, 2/10, 3/10, 4/10 */
    float l[4] = {0.0f, logf(2.0f), logf(3.0f), logf(4.0f)};
    struct samp_lp top[4];
    double lp = 0.0, sum = 0.0;
    int n = 0;
    ASSERT_NEAR(samp_log_sum_exp(l, 4), log(10.0), 1e-6);
    samp_logprobs(l, 4, 1, 3, &lp, top, &n);
    ASSERT_NEAR(lp, log(0.2), 1e-6);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(top[0].id, 3);
    ASSERT_EQ_INT(top[1].id, 2);
    ASSERT_EQ_INT(top[2].id, 1);
    ASSERT_NEAR(top[0].logprob, log(0.4), 1e-6);
    ASSERT_NEAR(top[2].logprob, log(0.2), 1e-6);
    for (int i = 0; i < n; i++)
        sum += exp(top[i].logprob);
    ASSERT_NEAR(sum, 0.9, 1e-6);
    /* n_top 0: only the chosen token */
    samp_logprobs(l, 4, 0, 0, &lp, NULL, &n);
    ASSERT_EQ_INT(n, 0);
    ASSERT_NEAR(lp, log(0.1), 1e-6);
    /* more alternatives asked than the vocabulary has */
    samp_logprobs(l, 4, 3, 20, &lp, top, &n);
    ASSERT_EQ_INT(n, 4);
    ASSERT_EQ_INT(top[3].id, 0);
}

TEST(logprob_stable_ties_and_unusable)
{
    /* huge logits would overflow a naive exp; ties keep the lower id first */
    float l[6] = {1000.0f, 1000.0f, -INFINITY, NAN, 999.0f, 1000.0f};
    struct samp_lp top[5];
    double lp = 0.0;
    int n = 0;
    samp_logprobs(l, 6, 5, 5, &lp, top, &n);
    ASSERT_EQ_INT(n, 4); /* -inf and NaN are never alternatives */
    ASSERT_EQ_INT(top[0].id, 0);
    ASSERT_EQ_INT(top[1].id, 1);
    ASSERT_EQ_INT(top[2].id, 5);
    ASSERT_EQ_INT(top[3].id, 4);
    ASSERT(isfinite(lp) && lp < 0.0);
    ASSERT_NEAR(lp, top[0].logprob, 1e-12);
    /* the chosen token may be impossible (a grammar picked it): a finite floor, not -inf */
    samp_logprobs(l, 6, 2, 0, &lp, NULL, &n);
    ASSERT_NEAR(lp, SAMP_LP_FLOOR, 0.0);
    samp_logprobs(l, 6, 99, 0, &lp, NULL, &n);
    ASSERT_NEAR(lp, SAMP_LP_FLOOR, 0.0);
    /* no usable logit at all */
    float none[2] = {-INFINITY, NAN};
    samp_logprobs(none, 2, 0, 3, &lp, top, &n);
    ASSERT_EQ_INT(n, 0);
    ASSERT_NEAR(lp, SAMP_LP_FLOOR, 0.0);
}

static int by_logit_desc(const void *a, const void *b, void *arg)
{
    const float *l = arg;
    int x = *(const int *)a, y = *(const int *)b;
    if (l[x] != l[y])
        return l[x] > l[y] ? -1 : 1;
    return x - y;
}

TEST(logprob_topn_matches_full_sort)
{
    enum { N = 50000 };
    float *l = mem_alloc_array(N, sizeof(float));
    int *idx = mem_alloc_array(N, sizeof(int));
    struct samp_lp top[SAMP_LP_MAX_TOP];
    double lp = 0.0, lse;
    unsigned x = 12345;
    int n = 0;
    ASSERT(l && idx);
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        l[i] = (float)((x >> 8) % 4000) / 100.0f - 20.0f; /* many ties */
        idx[i] = i;
    }
    qsort_r(idx, N, sizeof(int), by_logit_desc, l);
    samp_logprobs(l, N, idx[0], 25, &lp, top, &n); /* capped at 20 */
    ASSERT_EQ_INT(n, SAMP_LP_MAX_TOP);
    lse = samp_log_sum_exp(l, N);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ_INT(top[i].id, idx[i]);
        ASSERT_NEAR(top[i].logprob, (double)l[idx[i]] - lse, 1e-9);
        ASSERT(top[i].logprob <= 0.0);
    }
    ASSERT_NEAR(lp, top[0].logprob, 0.0);
    mem_free(l);
    mem_free(idx);
}

TEST(rproto_complete_logprob_options)
{
    struct rproto_complete c;
    struct err_info ei = {0};
    json_t *m = json_pack("{s:s, s:I, s:b, s:i}", "t", "complete", "rid", (json_int_t)3, "logprobs",
                          1, "top_logprobs", 5),
           *b;
    ASSERT_OK(rproto_complete_parse(m, &c, &ei));
    ASSERT_EQ_INT(c.logprobs, 1);
    ASSERT_EQ_INT(c.top_logprobs, 5);
    b = rproto_complete_build(&c);
    ASSERT(json_is_true(json_object_get(b, "logprobs")));
    ASSERT_EQ_INT(json_integer_value(json_object_get(b, "top_logprobs")), 5);
    json_decref(b);
    rproto_complete_fini(&c);
    /* absent: off */
    json_object_del(m, "logprobs");
    json_object_del(m, "top_logprobs");
    ASSERT_OK(rproto_complete_parse(m, &c, &ei));
    ASSERT_EQ_INT(c.logprobs, 0);
    ASSERT_EQ_INT(c.top_logprobs, 0);
    rproto_complete_fini(&c);
    /* caps */
    json_object_set_new(m, "top_logprobs", json_integer(21));
    ASSERT_EQ_INT(rproto_complete_parse(m, &c, &ei), E_RANGE);
    rproto_complete_fini(&c);
    json_object_set_new(m, "top_logprobs", json_integer(-1));
    ASSERT_EQ_INT(rproto_complete_parse(m, &c, &ei), E_RANGE);
    rproto_complete_fini(&c);
    json_object_set_new(m, "top_logprobs", json_integer(2));
    json_object_set_new(m, "logprobs", json_string("yes"));
    ASSERT_EQ_INT(rproto_complete_parse(m, &c, &ei), E_PARSE);
    rproto_complete_fini(&c);
    json_decref(m);
}

TEST(rproto_logprob_entry_shape)
{
    struct rproto_lp_tok tok = {"\xe2\x96", 2, -0.5}; /* a partial UTF-8 sequence */
    struct rproto_lp_tok top[2] = {{" the", 4, -0.25}, {"", 0, -3.0}};
    json_t *e = rproto_logprob_build(&tok, top, 2), *t;
    struct buf b;
    ASSERT(e);
    buf_init(&b, 4096);
    ASSERT_OK(json_go_encode(e, 0, &b));
    /* token text is valid UTF-8 (U+FFFD per invalid byte, as Go), bytes are the raw bytes */
    ASSERT_EQ_STR(buf_str(&b),
                  "{\"token\":\"\xef\xbf\xbd\xef\xbf\xbd\",\"logprob\":-0.5,\"bytes\":[226,150],"
                  "\"top_logprobs\":[{\"token\":\" the\",\"logprob\":-0.25,\"bytes\":[32,116,"
                  "104,101]},{\"token\":\"\",\"logprob\":-3}]}");
    buf_fini(&b);
    json_decref(e);
    /* no alternatives: no top_logprobs member */
    e = rproto_logprob_build(top, NULL, 0);
    ASSERT(e && !json_object_get(e, "top_logprobs"));
    t = json_object_get(e, "bytes");
    ASSERT_EQ_SIZE(json_array_size(t), 4);
    json_decref(e);
}

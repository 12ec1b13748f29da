/*
 * test_engine_pool.c - the engine's persistent thread pool: every thread runs the job, barriers
 * separate phases (no thread sees a later phase's writes early), thousands of runs in a row do
 * not deadlock, and a pool of one thread runs inline.
 */
#include <stdatomic.h>

#include "engine/thread/pool.h"
#include "harness/test.h"

#define PHASES 50

struct job {
    struct pool *p;
    atomic_int count[PHASES];
    atomic_int bad;
    atomic_int ran[8];
};

static void job_fn(void *arg, int ith, int nth)
{
    struct job *j = arg;
    atomic_fetch_add(&j->ran[ith], 1);
    for (int ph = 0; ph < PHASES; ph++) {
        atomic_fetch_add(&j->count[ph], 1);
        pool_barrier(j->p);
        /* after the barrier every thread has counted this phase */
        if (atomic_load(&j->count[ph]) % nth != 0)
            atomic_store(&j->bad, 1);
        pool_barrier(j->p);
    }
}

static void run_pool(int n_threads, int runs)
{
    static struct job j;
    memset(&j, 0, sizeof(j));
    ASSERT_EQ_INT(pool_new(n_threads, 0, &j.p), 0);
    ASSERT_EQ_INT(pool_n_threads(j.p), n_threads);
    for (int r = 0; r < runs; r++)
        pool_run(j.p, job_fn, &j);
    ASSERT_EQ_INT(atomic_load(&j.bad), 0);
    for (int ph = 0; ph < PHASES; ph++)
        ASSERT_EQ_INT(atomic_load(&j.count[ph]), n_threads * runs);
    for (int t = 0; t < n_threads; t++)
        ASSERT_EQ_INT(atomic_load(&j.ran[t]), runs);
    pool_free(j.p);
}

TEST(engine_pool_barriers_and_runs)
{
    run_pool(1, 100);
    run_pool(2, 300);
    run_pool(3, 100);
}

static void noop(void *arg, int ith, int nth)
{
    (void)arg;
    (void)ith;
    (void)nth;
}

TEST(engine_pool_many_short_runs_with_sleeps)
{
    /* spin 1 us: workers go to sleep on the futex between most runs */
    struct pool *p = NULL;
    ASSERT_EQ_INT(pool_new(2, 1, &p), 0);
    for (int i = 0; i < 20000; i++)
        pool_run(p, noop, NULL);
    pool_free(p);
    ASSERT_EQ_INT(pool_new(0, 0, &p), E_INVAL);
    ASSERT_EQ_INT(pool_new(POOL_MAX_THREADS + 1, 0, &p), E_INVAL);
    pool_free(NULL);
}

struct cjob {
    struct pool *p;
    atomic_int next[PHASES];
    _Atomic uint32_t done[PHASES];
    int val[PHASES][64];
    atomic_int bad;
};

static void cjob_fn(void *arg, int ith, int nth)
{
    struct cjob *j = arg;
    (void)ith;
    (void)nth;
    for (int ph = 0; ph < PHASES; ph++) {
        for (int c; (c = atomic_fetch_add(&j->next[ph], 1)) < 64;) {
            j->val[ph][c] = (ph > 0 ? j->val[ph - 1][63 - c] : 0) + 1;
            pool_count(j->p, &j->done[ph]);
        }
        pool_wait_count(j->p, &j->done[ph], 64);
        /* every item of this phase is visible now, whoever did it */
        for (int c = 0; c < 64; c++)
            if (j->val[ph][c] != ph + 1)
                atomic_store(&j->bad, 1);
    }
}

TEST(engine_pool_completion_counters)
{
    static struct cjob j;
    for (int run = 0; run < 200; run++) {
        memset(&j, 0, sizeof(j));
        ASSERT_EQ_INT(pool_new(2, run % 2 ? 1 : 0, &j.p), 0);
        pool_run(j.p, cjob_fn, &j);
        ASSERT_EQ_INT(atomic_load(&j.bad), 0);
        pool_free(j.p);
        j.p = NULL;
    }
}

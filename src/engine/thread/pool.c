/*
 * pool.c - persistent thread pool with spin-then-futex waits (see pool.h).
 *
 * Synchronisation: one generation counter for jobs (job_gen) and one for barriers (bar_gen),
 * both 32-bit so they can be futex words.  A waiter spins on the counter for spin_ns, then
 * announces itself in n_sleep and futex-waits on the value it saw; the releaser bumps the
 * counter and issues a wake only when someone announced sleeping.  All atomics are seq_cst,
 * which makes the "bump, then read n_sleep" / "add n_sleep, then futex-compare" pair safe.
 * The end of a job is one more barrier, so a run costs one wake-up plus one barrier.
 */
#include "engine/thread/pool.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"

#define POOL_DEFAULT_SPIN_US 100
#define POOL_MAX_SPIN_US     100000

struct pool {
    int n;
    int64_t spin_ns;
    pthread_t *th;
    int n_started;

    _Atomic uint32_t job_gen;
    _Atomic uint32_t bar_gen;
    _Atomic int bar_count;
    _Atomic int n_sleep;
    _Atomic int stop;

    pool_fn fn; /* written by the caller before job_gen is bumped */
    void *arg;
};

struct pool_worker_arg {
    struct pool *p;
    int ith;
};

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

/* Waits until *word != seen: spin, then sleep. */
static void wait_change(struct pool *p, _Atomic uint32_t *word, uint32_t seen)
{
    int64_t t0 = 0;
    for (unsigned i = 0;; i++) {
        if (atomic_load(word) != seen)
            return;
        cpu_relax();
        if ((i & 63) == 63) {
            int64_t t = now_ns();
            if (t0 == 0)
                t0 = t;
            else if (t - t0 > p->spin_ns)
                break;
        }
    }
    atomic_fetch_add(&p->n_sleep, 1);
    while (atomic_load(word) == seen)
        futex_wait(word, seen);
    atomic_fetch_sub(&p->n_sleep, 1);
}

static void bump_and_wake(struct pool *p, _Atomic uint32_t *word)
{
    atomic_fetch_add(word, 1);
    if (atomic_load(&p->n_sleep) > 0)
        futex_wake_all(word);
}

void pool_barrier(struct pool *p)
{
    if (p->n <= 1)
        return;
    uint32_t gen = atomic_load(&p->bar_gen);
    if (atomic_fetch_add(&p->bar_count, 1) == p->n - 1) {
        atomic_store(&p->bar_count, 0);
        bump_and_wake(p, &p->bar_gen);
        return;
    }
    wait_change(p, &p->bar_gen, gen);
}

void pool_count(struct pool *p, _Atomic uint32_t *done)
{
    pool_count_n(p, done, 1);
}

void pool_count_n(struct pool *p, _Atomic uint32_t *done, uint32_t n)
{
    atomic_fetch_add(done, n);
    if (atomic_load(&p->n_sleep) > 0)
        futex_wake_all(done);
}

void pool_wait_count(struct pool *p, _Atomic uint32_t *done, uint32_t target)
{
    int64_t t0 = 0;
    for (unsigned i = 0;; i++) {
        if (atomic_load(done) >= target)
            return;
        cpu_relax();
        if ((i & 63) == 63) {
            int64_t t = now_ns();
            if (t0 == 0)
                t0 = t;
            else if (t - t0 > p->spin_ns)
                break;
        }
    }
    atomic_fetch_add(&p->n_sleep, 1);
    for (uint32_t v; (v = atomic_load(done)) < target;)
        futex_wait(done, v);
    atomic_fetch_sub(&p->n_sleep, 1);
}

static void *worker_main(void *argp)
{
    struct pool_worker_arg *wa = argp;
    struct pool *p = wa->p;
    int ith = wa->ith;
    uint32_t seen = 0;
    mem_free(wa);
    for (;;) {
        wait_change(p, &p->job_gen, seen);
        seen = atomic_load(&p->job_gen);
        if (atomic_load(&p->stop))
            break;
        p->fn(p->arg, ith, p->n);
        pool_barrier(p);
    }
    return NULL;
}

int pool_n_threads(const struct pool *p)
{
    return p->n;
}

void pool_run(struct pool *p, pool_fn fn, void *arg)
{
    p->fn = fn;
    p->arg = arg;
    if (p->n > 1)
        bump_and_wake(p, &p->job_gen);
    fn(arg, 0, p->n);
    pool_barrier(p);
}

static int start_workers(struct pool *p)
{
    for (int i = 1; i < p->n; i++) {
        struct pool_worker_arg *wa = mem_alloc(sizeof(*wa));
        if (!wa)
            return E_NOMEM;
        wa->p = p;
        wa->ith = i;
        if (pthread_create(&p->th[i - 1], NULL, worker_main, wa) != 0) {
            mem_free(wa);
            return E_IO;
        }
        p->n_started++;
    }
    return 0;
}

int pool_new(int n_threads, int spin_us, struct pool **out)
{
    int rc;
    if (n_threads < 1 || n_threads > POOL_MAX_THREADS || spin_us < 0 || spin_us > POOL_MAX_SPIN_US)
        return E_INVAL;
    struct pool *p = mem_calloc(1, sizeof(*p));
    if (!p)
        return E_NOMEM;
    p->n = n_threads;
    p->spin_ns = (int64_t)(spin_us ? spin_us : POOL_DEFAULT_SPIN_US) * 1000;
    if (n_threads > 1) {
        p->th = mem_calloc((size_t)n_threads - 1, sizeof(*p->th));
        if (!p->th) {
            rc = E_NOMEM;
            goto out;
        }
    }
    if ((rc = start_workers(p)) != 0)
        goto out;
    *out = p;
    return 0;
out:
    pool_free(p);
    return rc;
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    if (p->n_started > 0) {
        atomic_store(&p->stop, 1);
        atomic_fetch_add(&p->job_gen, 1);
        futex_wake_all(&p->job_gen);
        for (int i = 0; i < p->n_started; i++)
            pthread_join(p->th[i], NULL);
    }
    mem_free(p->th);
    mem_free(p);
}

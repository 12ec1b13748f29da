/*
 * pool.h - the engine's persistent compute thread pool.
 *
 * pool_run(fn, arg) runs fn(arg, ith, nth) on every thread of the pool at once (the caller is
 * thread 0) and returns when all have finished.  Inside fn, pool_barrier() synchronises all nth
 * threads.  Waiting (for a job or at a barrier) spins briefly with `pause`, then sleeps on a
 * futex: on a VM whose vCPUs are not co-scheduled a pure spin barrier can cost milliseconds,
 * a pure sleep costs a wake-up every time.  Workers are created once (pool_new) and live until
 * pool_free; nothing is allocated per run.
 *
 * Thread-safety: one pool_run at a time (the owner's thread); pool_barrier only from inside fn.
 */
#ifndef CORRAL_ENGINE_POOL_H
#define CORRAL_ENGINE_POOL_H

#include <stdint.h>

#include "common/err.h"

#define POOL_MAX_THREADS 256

struct pool;

typedef void (*pool_fn)(void *arg, int ith, int nth);

/* Starts a pool of n_threads threads in all (n_threads - 1 workers plus the caller).
 * spin_us: how long a waiting thread spins before sleeping (0 = default).
 * Errors: E_INVAL, E_NOMEM, E_IO (pthread_create failed). */
CORRAL_WARN_UNUSED int pool_new(int n_threads, int spin_us, struct pool **out);
/* Stops and joins the workers; NULL is fine. */
void pool_free(struct pool *p);
int pool_n_threads(const struct pool *p);
/* Runs fn on all threads; returns when every thread has returned from fn. */
void pool_run(struct pool *p, pool_fn fn, void *arg);
/* Waits until all threads of the running job reached it. */
void pool_barrier(struct pool *p);

/* Completion counters: a phase whose work items are shared through an atomic counter ends when
 * all items are done, whichever threads did them.  pool_count adds 1 to *done (after one
 * finished item) and wakes sleeping waiters; pool_wait_count waits until *done >= target
 * (spin, then futex).  Unlike a barrier this does not wait for a thread that holds no item,
 * so a descheduled vCPU only delays the phase if it was in the middle of an item. */
void pool_count(struct pool *p, _Atomic uint32_t *done);
/* pool_count for n units at once (a phase that counts rows rather than items). */
void pool_count_n(struct pool *p, _Atomic uint32_t *done, uint32_t n);
void pool_wait_count(struct pool *p, _Atomic uint32_t *done, uint32_t target);

#endif

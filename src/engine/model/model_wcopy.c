/*
 * model_wcopy.c - copies a loaded model's weight matrices out of the file mapping into one
 * anonymous region backed by transparent huge pages (model.h: model_copy_weights).
 *
 * Why: the matrix kernels stream every weight once per token.  From the page cache (4 KB
 * pages) they run 1.2-1.5x slower in CPU time than from anonymous memory with MADV_HUGEPAGE on
 * this class of VM (TLB misses; measured with bench/bench_kern.c).  The copy is made tensor by
 * tensor and the file pages of each copied tensor are dropped from the process right after
 * (MADV_DONTNEED on the private read-only mapping: the page cache keeps them, our RSS does
 * not), so the peak is the copy plus one tensor.  The region is made read-only afterwards.
 *
 * Packing: a matrix the kernel table multiplies faster in a packed form (kern.h pack_type: the
 * AVX2 table's 8-row Q4_0/Q5_0/Q8_0/Q4_K/Q5_K/Q6_K, kern_pack.c) is written packed instead of
 * copied, and its model_mat then names the packed type.  The token embedding is packed only when
 * it is also the output (tied): the output's product is a whole stream per token (Qwen2.5-0.5B:
 * 30 % of the bytes), the embedding lookup one row per token, which model_fwd.c unpacks.
 * Gate and up, when both pack to one type, are also interleaved in blocks of WCOPY_ILV rows
 * (model.h struct model_mat ilv), so a thread reads a block of both as one stream.
 * CORRAL_PACK=0 in the environment copies every matrix as it is (for comparisons).
 *
 * Owns: m->wmap / m->wmap_len (munmapped by model_wcopy_release), and the packing threads while
 * they run (joined before each matrix is done).  Only mmap, madvise, mprotect, munmap,
 * sched_getaffinity and thread creation are used: all allowed by the runner's seccomp list.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/model/model.h"

#include "engine/kern/kern.h"

#define WCOPY_ALIGN 64                /* each matrix starts on a cache line */
#define WCOPY_HUGE  ((size_t)2 << 20) /* transparent huge page size on x86-64 */
#define WCOPY_SLACK ((size_t)4096)    /* readable bytes after the last matrix */
#define WCOPY_ILV   64                /* rows per block of interleaved gate/up */

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static size_t mat_bytes(const struct model_mat *w)
{
    return w->row_bytes * (size_t)w->nrows;
}

/* The packed type matrix w is written in (0: copied as it is). */
static uint32_t pack_type(const struct model *m, const struct model_mat *w, int may_pack)
{
    if (!may_pack || !m->k->pack_type)
        return 0;
    uint32_t pt = m->k->pack_type(w->type, w->ncols, w->nrows);
    return pt && kern_row_bytes(pt, w->ncols) ? pt : 0;
}

/* Bytes matrix w takes in the region. */
static size_t region_bytes(const struct model *m, const struct model_mat *w, int may_pack)
{
    uint32_t pt = pack_type(m, w, may_pack);
    size_t n = pt ? kern_row_bytes(pt, w->ncols) * (size_t)w->nrows : mat_bytes(w);
    return round_up(n, WCOPY_ALIGN);
}

/* ---- packing on several threads ----
 * Packing is a regrouping pass over every byte (about 1.2 s of CPU per GB on one thread, where
 * the copy is 0.5): the 8-row groups of one matrix are split over the CPUs this process may run
 * on (at most WCOPY_PACK_THREADS), each packing its share with kern_pack. */
#define WCOPY_PACK_THREADS 8
#define WCOPY_PACK_MIN     ((size_t)64 << 10) /* smaller matrices pack on the calling thread */

/* A share of a matrix: n_units blocks of unit rows, block i from src + i * unit rows into
 * dst + i * dst_step. */
struct pack_job {
    uint32_t pt;
    const uint8_t *src;
    size_t wrb;
    int64_t ncols, unit, n_units;
    uint8_t *dst;
    size_t dst_step;
    int rc;
};

static void *pack_job_run(void *arg)
{
    struct pack_job *j = arg;
    size_t src_step = (size_t)j->unit * j->wrb;
    j->rc = 0;
    for (int64_t i = 0; i < j->n_units && j->rc == 0; i++)
        j->rc = kern_pack(j->pt, j->src + (size_t)i * src_step, j->wrb, j->ncols, j->unit,
                          j->dst + (size_t)i * j->dst_step);
    return NULL;
}

static int pack_threads(void)
{
    cpu_set_t cs;
    int n = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : 1;
    return n < 1 ? 1 : n > WCOPY_PACK_THREADS ? WCOPY_PACK_THREADS : n;
}

/* kern_pack of w's rows into dst, the row groups split over up to pack_threads() threads (a
 * thread that cannot start leaves its share to the caller).  ilv 0: the rows packed one after
 * the other; else in blocks of ilv rows, each followed by room for ilv rows of a partner
 * (model.h struct model_mat). */
static int pack_mat(uint32_t pt, const struct model_mat *w, uint8_t *dst, int64_t ilv)
{
    struct pack_job jobs[WCOPY_PACK_THREADS];
    pthread_t th[WCOPY_PACK_THREADS];
    int started[WCOPY_PACK_THREADS] = {0};
    size_t prb = kern_row_bytes(pt, w->ncols);
    int64_t unit = ilv ? ilv : 8, units = w->nrows / unit;
    size_t step = (size_t)(ilv ? 2 * ilv : 8) * prb;
    int n = mat_bytes(w) < WCOPY_PACK_MIN ? 1 : pack_threads(), rc = 0;
    if (n > units)
        n = units > 0 ? (int)units : 1;
    for (int i = 0; i < n; i++) {
        int64_t g0 = units * i / n, g1 = units * (i + 1) / n;
        /* contiguous shares pack in one call */
        int one = !ilv && g1 > g0;
        jobs[i] = (struct pack_job){pt,
                                    (const uint8_t *)w->data + (size_t)(g0 * unit) * w->row_bytes,
                                    w->row_bytes,
                                    w->ncols,
                                    one ? (g1 - g0) * unit : unit,
                                    one ? 1 : g1 - g0,
                                    dst + (size_t)g0 * step,
                                    step,
                                    0};
        if (i > 0)
            started[i] = pthread_create(&th[i], NULL, pack_job_run, &jobs[i]) == 0;
    }
    pack_job_run(&jobs[0]);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            pack_job_run(&jobs[i]);
        rc = rc ? rc : jobs[i].rc;
    }
    return jobs[0].rc ? jobs[0].rc : rc;
}

/* Drops the file pages that lie wholly inside the n bytes at s from this process. */
static void drop_file_pages(uintptr_t s, size_t n, size_t pg)
{
    uintptr_t a = (s + pg - 1) / pg * pg, b = (s + n) / pg * pg;
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Copies (or packs) one matrix to dst, drops the file pages that lie wholly inside it, and
 * returns the bytes it took in the region. */
static size_t copy_mat(const struct model *m, struct model_mat *w, uint8_t *dst, size_t pg,
                       int may_pack)
{
    size_t n = mat_bytes(w), used = region_bytes(m, w, may_pack);
    uint32_t pt = pack_type(m, w, may_pack);
    uintptr_t s = (uintptr_t)w->data;
    if (pt && pack_mat(pt, w, dst, 0) == 0) {
        w->type = pt;
        w->row_bytes = kern_row_bytes(pt, w->ncols);
    } else {
        memcpy(dst, w->data, n);
    }
    drop_file_pages(s, n, pg);
    w->data = dst;
    return used;
}

/* Gate and up to dst, packed and interleaved in blocks of WCOPY_ILV rows (model.h struct
 * model_mat) when both pack to one type, else each copied by copy_mat: the gate/up phase of
 * generation then reads each thread's rows as one stream instead of two (model_fwd.c).  Returns
 * the bytes the pair took in the region (the two matrices' room either way). */
static size_t copy_ffn_pair(const struct model *m, struct model_layer *L, uint8_t *dst, size_t pg,
                            int may_pack)
{
    struct model_mat *g = &L->gate, *u = &L->up;
    uint32_t pt = pack_type(m, g, may_pack);
    size_t used = region_bytes(m, g, may_pack) + region_bytes(m, u, may_pack);
    size_t prb = pt ? kern_row_bytes(pt, g->ncols) : 0;
    /* a failed pack (E_INVAL only, for a shape pack_type accepted: not expected) leaves bytes
     * that the plain copies overwrite */
    if (!pt || pt != pack_type(m, u, may_pack) || g->ncols != u->ncols || g->nrows != u->nrows ||
        g->nrows % WCOPY_ILV != 0 || pack_mat(pt, g, dst, WCOPY_ILV) != 0 ||
        pack_mat(pt, u, dst + (size_t)WCOPY_ILV * prb, WCOPY_ILV) != 0) {
        size_t n = copy_mat(m, g, dst, pg, may_pack);
        return n + copy_mat(m, u, dst + n, pg, may_pack);
    }
    struct model_mat *mats[2] = {g, u};
    for (int i = 0; i < 2; i++) {
        drop_file_pages((uintptr_t)mats[i]->data, mat_bytes(mats[i]), pg);
        mats[i]->type = pt;
        mats[i]->row_bytes = prb;
        mats[i]->ilv = WCOPY_ILV;
        mats[i]->data = dst + (size_t)(i * WCOPY_ILV) * prb;
    }
    return used;
}

/* Bytes of the copy: every matrix the forward pass reads (output only when not tied). */
static size_t total_bytes(const struct model *m, int may_pack)
{
    int tied = m->output.data == m->tok_embd.data;
    size_t t = region_bytes(m, &m->tok_embd, tied && may_pack);
    if (!tied)
        t += region_bytes(m, &m->output, may_pack);
    for (uint32_t il = 0; il < m->n_layer; il++) {
        const struct model_layer *L = &m->layers[il];
        const struct model_mat *mats[] = {&L->wq,   &L->wk, &L->wv,  &L->wo,
                                          &L->gate, &L->up, &L->down};
        for (size_t j = 0; j < sizeof(mats) / sizeof(mats[0]); j++)
            t += region_bytes(m, mats[j], may_pack);
    }
    return t;
}

int model_copy_weights(struct model *m, struct err_info *ei)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    const char *env = getenv("CORRAL_PACK");
    int may_pack = !(env && !strcmp(env, "0"));
    size_t used = total_bytes(m, may_pack), body = round_up(used + WCOPY_SLACK, WCOPY_HUGE);
    size_t len = body + WCOPY_HUGE;
    if (pg == 0 || (pg & (pg - 1)) != 0)
        pg = 4096;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return err_set(ei, E_NOMEM,
                       "model: cannot map %zu MB for the weights (use_mmap keeps "
                       "them in the file mapping)",
                       len >> 20);
    uint8_t *base = (uint8_t *)round_up((uintptr_t)p, WCOPY_HUGE), *dst = base;
    (void)madvise(base, body, MADV_HUGEPAGE); /* a kernel without THP still works */
    m->wmap = p;
    m->wmap_len = len;
    int tied = m->output.data == m->tok_embd.data;
    dst += copy_mat(m, &m->tok_embd, dst, pg, tied && may_pack);
    if (tied)
        m->output = m->tok_embd;
    else
        dst += copy_mat(m, &m->output, dst, pg, may_pack);
    for (uint32_t il = 0; il < m->n_layer; il++) {
        struct model_layer *L = &m->layers[il];
        struct model_mat *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo};
        for (size_t j = 0; j < sizeof(mats) / sizeof(mats[0]); j++)
            dst += copy_mat(m, mats[j], dst, pg, may_pack);
        dst += copy_ffn_pair(m, L, dst, pg, may_pack);
        dst += copy_mat(m, &L->down, dst, pg, may_pack);
    }
    (void)mprotect(base, body, PROT_READ);
    return 0;
}

void model_wcopy_release(struct model *m)
{
    if (m->wmap)
        munmap(m->wmap, m->wmap_len);
    m->wmap = NULL;
    m->wmap_len = 0;
}

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
 * Owns: m->wmap / m->wmap_len (munmapped by model_wcopy_release).  Only mmap, madvise, mprotect
 * and munmap are used: all allowed by the runner's seccomp list.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/model/model.h"

#define WCOPY_ALIGN 64                /* each matrix starts on a cache line */
#define WCOPY_HUGE  ((size_t)2 << 20) /* transparent huge page size on x86-64 */
#define WCOPY_SLACK ((size_t)4096)    /* readable bytes after the last matrix */

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static size_t mat_bytes(const struct model_mat *w)
{
    return w->row_bytes * (size_t)w->nrows;
}

/* Copies one matrix to dst and drops the file pages that lie wholly inside it. */
static void copy_mat(struct model_mat *w, uint8_t *dst, size_t pg)
{
    size_t n = mat_bytes(w);
    uintptr_t s = (uintptr_t)w->data;
    memcpy(dst, w->data, n);
    uintptr_t a = (s + pg - 1) / pg * pg, b = (s + n) / pg * pg;
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_DONTNEED);
    w->data = dst;
}

/* Bytes of the copy: every matrix the forward pass reads (output only when not tied). */
static size_t total_bytes(const struct model *m)
{
    size_t t = round_up(mat_bytes(&m->tok_embd), WCOPY_ALIGN);
    if (m->output.data != m->tok_embd.data)
        t += round_up(mat_bytes(&m->output), WCOPY_ALIGN);
    for (uint32_t il = 0; il < m->n_layer; il++) {
        const struct model_layer *L = &m->layers[il];
        const struct model_mat *mats[] = {&L->wq,   &L->wk, &L->wv,  &L->wo,
                                          &L->gate, &L->up, &L->down};
        for (size_t j = 0; j < sizeof(mats) / sizeof(mats[0]); j++)
            t += round_up(mat_bytes(mats[j]), WCOPY_ALIGN);
    }
    return t;
}

int model_copy_weights(struct model *m, struct err_info *ei)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t used = total_bytes(m), body = round_up(used + WCOPY_SLACK, WCOPY_HUGE);
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
    copy_mat(&m->tok_embd, dst, pg);
    dst += round_up(mat_bytes(&m->tok_embd), WCOPY_ALIGN);
    if (tied) {
        m->output.data = m->tok_embd.data;
    } else {
        copy_mat(&m->output, dst, pg);
        dst += round_up(mat_bytes(&m->output), WCOPY_ALIGN);
    }
    for (uint32_t il = 0; il < m->n_layer; il++) {
        struct model_layer *L = &m->layers[il];
        struct model_mat *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t j = 0; j < sizeof(mats) / sizeof(mats[0]); j++) {
            copy_mat(mats[j], dst, pg);
            dst += round_up(mat_bytes(mats[j]), WCOPY_ALIGN);
        }
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

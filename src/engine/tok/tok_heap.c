/*
 * tok_heap.c - the priority queue of candidate merges shared by the BPE (tok_bpe.c) and
 * SentencePiece (tok_spm.c) encoders: a binary heap of struct tok_pair, ordered by merge rank
 * (lowest first) or by token score (highest first), ties by left position, so both merge
 * leftmost-first like the reference tokenizers.  It grows by doubling; a failed growth drops the
 * pair and sets oom, which the encoder turns into E_NOMEM after its loop.
 */
#include "common/mem.h"
#include "engine/tok/tok_int.h"

static int before(const struct tok_heap *h, const struct tok_pair *a, const struct tok_pair *b)
{
    if (h->by_score)
        return a->score > b->score || (a->score == b->score && a->left < b->left);
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

/* Makes room for one more pair; sets h->oom when memory runs out. */
static int room(struct tok_heap *h)
{
    if (h->n < h->cap)
        return 1;
    size_t nc = h->cap ? h->cap * 2 : 64;
    struct tok_pair *np = mem_realloc_array(h->p, nc, sizeof(*np));
    if (!np) {
        h->oom = 1;
        return 0;
    }
    h->p = np, h->cap = nc;
    return 1;
}

void tok__heap_push(struct tok_heap *h, const struct tok_pair *p)
{
    if (!room(h))
        return;
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(h, p, &h->p[up]))
            break;
        h->p[i] = h->p[up];
        i = up;
    }
    h->p[i] = *p;
}

struct tok_pair tok__heap_pop(struct tok_heap *h)
{
    struct tok_pair top = h->p[0], last = h->p[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(h, &h->p[c + 1], &h->p[c]))
            c++;
        if (!before(h, &h->p[c], &last))
            break;
        h->p[i] = h->p[c];
        i = c;
    }
    if (n)
        h->p[i] = last;
    return top;
}

void tok__heap_free(struct tok_heap *h)
{
    mem_free(h->p);
    h->p = NULL;
    h->n = h->cap = 0;
}

/*
 * buf.c - bounded growable buffer (see buf.h).
 */
#include "common/buf.h"

#include <stdio.h>
#include <string.h>

#include "common/mem.h"

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->n = 0;
    b->cap = 0;
    b->max = max;
}

void buf_fini(struct buf *b)
{
    mem_free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

static int grow(struct buf *b, size_t add)
{
    size_t need, cap;
    char *p;
    if (add > b->max || b->n > b->max - add) {
        buf_fini(b);
        return E_RANGE;
    }
    need = b->n + add + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    if (!(p = mem_realloc(b->p, cap))) {
        buf_fini(b);
        return E_NOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc;
    if ((rc = grow(b, n)) != 0)
        return rc;
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int k, rc;
    va_copy(ap2, ap);
    k = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (k < 0)
        return E_INVAL;
    if ((rc = grow(b, (size_t)k)) != 0)
        return rc;
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    b->n += (size_t)k;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *buf_take(struct buf *b, size_t *len)
{
    char *p = b->p;
    if (len)
        *len = b->n;
    if (!p)
        p = mem_calloc(1, 1);
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

const char *buf_str(const struct buf *b)
{
    return b->p ? b->p : "";
}

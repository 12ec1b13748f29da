/*
 * buf.h - bounded growable byte buffer (curl dynbuf style).  Every buffer has a hard cap set at
 * init; growing past it fails with E_RANGE and resets the buffer.  The contents are always
 * NUL-terminated so they can be used as a C string.  Not thread-safe.
 */
#ifndef CORRAL_COMMON_BUF_H
#define CORRAL_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "common/err.h"

struct buf {
    char *p;    /* NULL until the first append */
    size_t n;   /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on n */
};

void buf_init(struct buf *b, size_t max);
void buf_fini(struct buf *b);  /* frees; b can be reused after buf_init */
void buf_reset(struct buf *b); /* keeps memory, n = 0 */
CORRAL_WARN_UNUSED int buf_append(struct buf *b, const void *p, size_t n);
CORRAL_WARN_UNUSED int buf_puts(struct buf *b, const char *s);
CORRAL_WARN_UNUSED int buf_putc(struct buf *b, char c);
CORRAL_WARN_UNUSED int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
CORRAL_WARN_UNUSED int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Transfers the contents to the caller (free with mem_free); b is reset to empty. */
char *buf_take(struct buf *b, size_t *len);
/* Returns the contents as a C string ("" when empty); borrowed until the next change. */
const char *buf_str(const struct buf *b);

#endif

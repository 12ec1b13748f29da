/*
 * mem.c - allocation wrapper (see mem.h).  The only file allowed to call malloc and friends.
 */
#include "common/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fault_nth;

void mem_fault_set_nth(long n)
{
    atomic_store(&fault_nth, n);
}

static int fault_hit(void)
{
#ifdef CORRAL_FAULT
    long n = atomic_load(&fault_nth);
    if (n > 0 && atomic_fetch_sub(&fault_nth, 1) == 1)
        return 1;
#endif
    return 0;
}

void *mem_alloc(size_t size)
{
    if (fault_hit())
        return NULL;
    return malloc(size ? size : 1);
}

void *mem_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    if (fault_hit())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *mem_alloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return mem_alloc(n * size);
}

void *mem_realloc(void *p, size_t size)
{
    if (fault_hit())
        return NULL;
    return realloc(p, size ? size : 1);
}

void *mem_realloc_array(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return mem_realloc(p, n * size);
}

void *mem_aligned(size_t align, size_t size)
{
    void *p = NULL;
    if (fault_hit())
        return NULL;
    if (posix_memalign(&p, align, size ? size : 1) != 0)
        return NULL;
    return p;
}

char *mem_strdup(const char *s)
{
    return mem_strndup(s, strlen(s));
}

char *mem_strndup(const char *s, size_t n)
{
    char *p;
    size_t len = strnlen(s, n);
    if (len == SIZE_MAX || !(p = mem_alloc(len + 1)))
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void *mem_dup(const void *p, size_t n)
{
    void *q = mem_alloc(n);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

void mem_free(void *p)
{
    free(p);
}

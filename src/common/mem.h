/*
 * mem.h - the one allocation wrapper.  All heap memory in corral goes through these functions so
 * that overflow checks live in one place and test builds can fail the Nth allocation.
 * Thread-safe.  Every function returns NULL only when memory is exhausted (or n*size overflows).
 */
#ifndef CORRAL_COMMON_MEM_H
#define CORRAL_COMMON_MEM_H

#include <stddef.h>

void *mem_alloc(size_t size);
void *mem_calloc(size_t n, size_t size);      /* zeroed, overflow-checked */
void *mem_alloc_array(size_t n, size_t size); /* not zeroed, overflow-checked */
void *mem_realloc(void *p, size_t size);
void *mem_realloc_array(void *p, size_t n, size_t size);
void *mem_aligned(size_t align, size_t size); /* free with mem_free */
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void *mem_dup(const void *p, size_t n);
void mem_free(void *p); /* NULL is fine */

/* Test builds only (CORRAL_FAULT): fail the nth allocation from now (0 disables). */
void mem_fault_set_nth(long n);

#endif

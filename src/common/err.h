/*
 * err.h - project-wide error codes and the error-detail record.
 *
 * Every fallible function returns int: 0 on success or one of the negative E_* codes below.
 * Parsers and loaders also take an optional struct err_info that carries a human message and
 * the offset (or line/column) of the failure.  err_str() names a code.
 */
#ifndef CORRAL_COMMON_ERR_H
#define CORRAL_COMMON_ERR_H

#include <stddef.h>
#include <stdint.h>

enum {
    E_OK = 0,
    E_NOMEM = -1,        /* allocation failed */
    E_IO = -2,           /* read/write/system call failed */
    E_INVAL = -3,        /* bad argument or request */
    E_PARSE = -4,        /* malformed input */
    E_RANGE = -5,        /* too large or out of bounds */
    E_NOTFOUND = -6,     /* no such thing */
    E_EXISTS = -7,       /* already exists */
    E_PERM = -8,         /* not allowed */
    E_TIMEOUT = -9,      /* took too long */
    E_CANCELLED = -10,   /* cancelled by the caller or the client */
    E_NET = -11,         /* network failure */
    E_INTEGRITY = -12,   /* digest or signature mismatch */
    E_UNSUPPORTED = -13, /* valid but not supported */
    E_INTERNAL = -14,    /* a bug */
    E_BUSY = -15,        /* resource locked or queue full */
};

#define CORRAL_WARN_UNUSED __attribute__((warn_unused_result))

/* Detail that travels with an error code; all fields optional for the callee to fill. */
struct err_info {
    int code;
    char msg[256];
    uint64_t offset; /* byte offset in the input, when meaningful */
    int line, col;   /* 1-based position in text input, 0 when unknown */
};

/* Name of an error code ("E_PARSE"); never NULL. */
const char *err_str(int code);

/* Fills ei (when not NULL) with code and a printf-style message; returns code. */
int err_set(struct err_info *ei, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

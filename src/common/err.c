/*
 * err.c - names of error codes and err_set(), the one way to fill an err_info.
 */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *err_str(int code)
{
    switch (code) {
    case E_OK:
        return "ok";
    case E_NOMEM:
        return "out of memory";
    case E_IO:
        return "i/o error";
    case E_INVAL:
        return "invalid argument";
    case E_PARSE:
        return "malformed input";
    case E_RANGE:
        return "out of range";
    case E_NOTFOUND:
        return "not found";
    case E_EXISTS:
        return "already exists";
    case E_PERM:
        return "permission denied";
    case E_TIMEOUT:
        return "timed out";
    case E_CANCELLED:
        return "cancelled";
    case E_NET:
        return "network error";
    case E_INTEGRITY:
        return "integrity check failed";
    case E_UNSUPPORTED:
        return "unsupported";
    case E_INTERNAL:
        return "internal error";
    case E_BUSY:
        return "busy";
    default:
        return "unknown error";
    }
}

int err_set(struct err_info *ei, int code, const char *fmt, ...)
{
    if (ei) {
        va_list ap;
        ei->code = code;
        va_start(ap, fmt);
        vsnprintf(ei->msg, sizeof(ei->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

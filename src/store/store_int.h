/*
 * store_int.h - shared between the store module's own .c files only.
 */
#ifndef CORRAL_STORE_STORE_INT_H
#define CORRAL_STORE_STORE_INT_H

#include <limits.h>

#include "store/store.h"

struct store {
    char dir[PATH_MAX];   /* models directory, as opened */
    char blobs[PATH_MAX]; /* <dir>/blobs */
    char manifests[PATH_MAX];
};

/* 64-hex part of a valid digest (either separator); NULL when invalid. */
const char *store__digest_hex(const char *digest);

#endif

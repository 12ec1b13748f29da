/*
 * crypto.h - SHA-256 (streaming, OpenSSL EVP) and hex helpers.  Thread-safe per context.
 */
#ifndef CORRAL_COMMON_CRYPTO_H
#define CORRAL_COMMON_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct crypto_sha256; /* opaque streaming context */

/* Returns NULL on out of memory. */
struct crypto_sha256 *crypto_sha256_new(void);
void crypto_sha256_update(struct crypto_sha256 *c, const void *p, size_t n);
/* Writes 64 lowercase hex digits and a NUL into hex; the context can be freed after. */
void crypto_sha256_final_hex(struct crypto_sha256 *c, char hex[65]);
void crypto_sha256_free(struct crypto_sha256 *c);
/* One shot. */
void crypto_sha256_hex(const void *p, size_t n, char hex[65]);
/* SHA-256 of a whole file (streamed); E_NOTFOUND / E_IO. */
CORRAL_WARN_UNUSED int crypto_sha256_file(const char *path, char hex[65]);
void crypto_hex(const uint8_t *p, size_t n, char *out); /* out has 2n+1 bytes */

#endif

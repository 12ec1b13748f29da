/*
 * crypto.c - SHA-256 over OpenSSL's EVP interface (see crypto.h).
 */
#include "common/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/mem.h"

struct crypto_sha256 {
    EVP_MD_CTX *ctx;
};

struct crypto_sha256 *crypto_sha256_new(void)
{
    struct crypto_sha256 *c = mem_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (!(c->ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(c->ctx, EVP_sha256(), NULL) != 1) {
        crypto_sha256_free(c);
        return NULL;
    }
    return c;
}

void crypto_sha256_update(struct crypto_sha256 *c, const void *p, size_t n)
{
    EVP_DigestUpdate(c->ctx, p, n);
}

void crypto_hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void crypto_sha256_final_hex(struct crypto_sha256 *c, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(c->ctx, md, &len);
    crypto_hex(md, 32, hex);
}

void crypto_sha256_free(struct crypto_sha256 *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->ctx);
    mem_free(c);
}

void crypto_sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    crypto_hex(md, 32, hex);
}

int crypto_sha256_file(const char *path, char hex[65])
{
    static const size_t chunk = 1 << 20;
    struct crypto_sha256 *c = NULL;
    char *b = NULL;
    int fd, rc = E_IO;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? E_NOTFOUND : E_IO;
    if (!(c = crypto_sha256_new()) || !(b = mem_alloc(chunk))) {
        rc = E_NOMEM;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, b, chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        crypto_sha256_update(c, b, (size_t)r);
    }
    crypto_sha256_final_hex(c, hex);
    rc = 0;
out:
    mem_free(b);
    crypto_sha256_free(c);
    close(fd);
    return rc;
}

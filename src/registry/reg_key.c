/*
 * reg_key.c - Ollama's identity key: ~/.ollama/id_ed25519 in OpenSSH's private key format
 * ("openssh-key-v1", unencrypted) and id_ed25519.pub (an authorized_keys line), created when
 * missing, and the signature Ollama puts on token requests:
 *   <base64 SSH public key blob>:<base64 64-byte ed25519 signature>
 * Format: openssh-portable PROTOCOL.key.  Every length in the file is bounds-checked; encrypted
 * keys are refused (Ollama's key never has a passphrase).  Private bytes are wiped after use.
 */
#include "registry/reg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/buf.h"
#include "common/fs.h"
#include "common/mem.h"

#define KEY_FILE_MAX 8192
#define KEY_MAGIC    "openssh-key-v1"
#define KEY_TYPE     "ssh-ed25519"
#define PEM_BEGIN    "-----BEGIN OPENSSH PRIVATE KEY-----"
#define PEM_END      "-----END OPENSSH PRIVATE KEY-----"
#define PUB_BLOB_LEN (4 + 11 + 4 + 32) /* string "ssh-ed25519", string pk */

struct reg_key {
    EVP_PKEY *pkey;
    unsigned char pub[32];
    unsigned char blob[PUB_BLOB_LEN]; /* SSH wire-format public key */
};

/* ---- SSH wire helpers ---- */

struct rd {
    const unsigned char *p;
    size_t n, off;
};

static int rd_u32(struct rd *r, uint32_t *v)
{
    if (r->n - r->off < 4)
        return E_PARSE;
    *v = (uint32_t)r->p[r->off] << 24 | (uint32_t)r->p[r->off + 1] << 16 |
         (uint32_t)r->p[r->off + 2] << 8 | r->p[r->off + 3];
    r->off += 4;
    return 0;
}

static int rd_str(struct rd *r, const unsigned char **s, uint32_t *len)
{
    int rc = rd_u32(r, len);
    if (rc != 0 || r->n - r->off < *len)
        return E_PARSE;
    *s = r->p + r->off;
    r->off += *len;
    return 0;
}

static int rd_expect(struct rd *r, const char *want)
{
    const unsigned char *s;
    uint32_t len;
    if (rd_str(r, &s, &len) != 0 || len != strlen(want) || memcmp(s, want, len) != 0)
        return E_PARSE;
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static size_t put_str(unsigned char *p, const void *s, size_t n)
{
    put_u32(p, (uint32_t)n);
    memcpy(p + 4, s, n);
    return 4 + n;
}

static void make_blob(struct reg_key *k)
{
    size_t o = put_str(k->blob, KEY_TYPE, 11);
    put_str(k->blob + o, k->pub, 32);
}

/* ---- base64 ---- */

static int b64_decode(const char *in, size_t n, unsigned char **out, size_t *outn)
{
    unsigned char *clean = mem_alloc(n + 1), *dec = NULL;
    size_t m = 0;
    int len, pad = 0;
    if (!clean)
        return E_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (in[i] != '\n' && in[i] != '\r' && in[i] != ' ')
            clean[m++] = (unsigned char)in[i];
    if (m == 0 || m % 4 != 0 || !(dec = mem_alloc(m / 4 * 3 + 1))) {
        mem_free(clean);
        return m % 4 ? E_PARSE : E_NOMEM;
    }
    len = EVP_DecodeBlock(dec, clean, (int)m);
    pad = (clean[m - 1] == '=') + (clean[m - 2] == '=');
    mem_free(clean);
    if (len < 0 || len < pad) {
        mem_free(dec);
        return E_PARSE;
    }
    *out = dec;
    *outn = (size_t)(len - pad);
    return 0;
}

static char *b64_encode(const unsigned char *p, size_t n)
{
    char *out = mem_alloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

/* ---- load ---- */

static int parse_private(const unsigned char *buf, size_t n, unsigned char seed[32],
                         unsigned char pub[32])
{
    struct rd r = {buf, n, 0}, priv;
    const unsigned char *s, *pk, *sk;
    uint32_t len, nkeys, c1, c2, pkl, skl;
    if (n < sizeof(KEY_MAGIC) || memcmp(buf, KEY_MAGIC, sizeof(KEY_MAGIC)) != 0)
        return E_PARSE;
    r.off = sizeof(KEY_MAGIC);
    if (rd_expect(&r, "none") != 0)
        return E_UNSUPPORTED; /* encrypted key */
    if (rd_expect(&r, "none") != 0 || rd_str(&r, &s, &len) != 0 || rd_u32(&r, &nkeys) != 0 ||
        nkeys != 1 || rd_str(&r, &s, &len) != 0 || rd_str(&r, &s, &len) != 0)
        return E_PARSE;
    priv.p = s;
    priv.n = len;
    priv.off = 0;
    if (rd_u32(&priv, &c1) != 0 || rd_u32(&priv, &c2) != 0 || c1 != c2 ||
        rd_expect(&priv, KEY_TYPE) != 0 || rd_str(&priv, &pk, &pkl) != 0 || pkl != 32 ||
        rd_str(&priv, &sk, &skl) != 0 || skl != 64 || memcmp(sk + 32, pk, 32) != 0)
        return E_PARSE;
    memcpy(seed, sk, 32);
    memcpy(pub, pk, 32);
    return 0;
}

static int key_from_seed(const unsigned char seed[32], struct reg_key **out)
{
    struct reg_key *k = mem_calloc(1, sizeof(*k));
    size_t pl = 32;
    if (!k)
        return E_NOMEM;
    k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (!k->pkey || EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &pl) != 1 || pl != 32) {
        reg_key_free(k);
        return E_INTERNAL;
    }
    make_blob(k);
    *out = k;
    return 0;
}

static int key_read(const char *path, struct reg_key **out)
{
    char *text = NULL;
    unsigned char *raw = NULL, seed[32], pub[32];
    size_t n = 0, rawn = 0;
    const char *b, *e;
    int rc = fs_read_all(path, KEY_FILE_MAX, &text, &n);
    if (rc != 0)
        return rc;
    b = strstr(text, PEM_BEGIN);
    e = b ? strstr(b, PEM_END) : NULL;
    if (!b || !e) {
        rc = E_PARSE;
        goto out;
    }
    b += strlen(PEM_BEGIN);
    if ((rc = b64_decode(b, (size_t)(e - b), &raw, &rawn)) != 0 ||
        (rc = parse_private(raw, rawn, seed, pub)) != 0)
        goto out;
    if ((rc = key_from_seed(seed, out)) == 0 && memcmp((*out)->pub, pub, 32) != 0) {
        reg_key_free(*out);
        *out = NULL;
        rc = E_PARSE; /* public half does not belong to the private half */
    }
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    if (raw)
        OPENSSL_cleanse(raw, rawn);
    OPENSSL_cleanse(text, n);
    mem_free(raw);
    mem_free(text);
    return rc;
}

/* ---- create ---- */

/* The unencrypted private key file contents for seed/pub (caller frees). */
static char *key_pem(const unsigned char seed[32], const unsigned char pub[32])
{
    unsigned char raw[512], priv[256], sk[64];
    uint32_t check;
    size_t o = 0, po = 0;
    char *b64, *out;
    struct buf b;
    if (RAND_bytes((unsigned char *)&check, sizeof(check)) != 1)
        return NULL;
    memcpy(sk, seed, 32);
    memcpy(sk + 32, pub, 32);
    put_u32(priv, check);
    put_u32(priv + 4, check);
    po = 8;
    po += put_str(priv + po, KEY_TYPE, 11);
    po += put_str(priv + po, pub, 32);
    po += put_str(priv + po, sk, 64);
    po += put_str(priv + po, "", 0);
    for (unsigned char pad = 1; po % 8; pad++)
        priv[po++] = pad;
    memcpy(raw, KEY_MAGIC, sizeof(KEY_MAGIC));
    o = sizeof(KEY_MAGIC);
    o += put_str(raw + o, "none", 4);
    o += put_str(raw + o, "none", 4);
    o += put_str(raw + o, "", 0);
    put_u32(raw + o, 1);
    o += 4;
    put_u32(raw + o, PUB_BLOB_LEN);
    o += 4;
    o += put_str(raw + o, KEY_TYPE, 11);
    o += put_str(raw + o, pub, 32);
    o += put_str(raw + o, priv, po);
    b64 = b64_encode(raw, o);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(priv, sizeof(priv));
    OPENSSL_cleanse(sk, sizeof(sk));
    if (!b64)
        return NULL;
    buf_init(&b, KEY_FILE_MAX);
    int rc = buf_puts(&b, PEM_BEGIN "\n");
    for (size_t i = 0, len = strlen(b64); rc == 0 && i < len; i += 70)
        rc = buf_printf(&b, "%.70s\n", b64 + i);
    if (rc == 0)
        rc = buf_puts(&b, PEM_END "\n");
    OPENSSL_cleanse(b64, strlen(b64));
    mem_free(b64);
    out = rc == 0 ? buf_take(&b, NULL) : NULL;
    buf_fini(&b);
    return out;
}

static int key_create(const char *path, struct reg_key **out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY *pkey = NULL;
    unsigned char seed[32];
    size_t sl = sizeof(seed);
    char *pem = NULL, *pub_b64 = NULL, pubpath[4200], line[200], dir[4096];
    int rc = E_INTERNAL;
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1 ||
        EVP_PKEY_get_raw_private_key(pkey, seed, &sl) != 1 || sl != 32)
        goto out;
    if ((rc = key_from_seed(seed, out)) != 0)
        goto out;
    rc = E_NOMEM;
    if (!(pem = key_pem(seed, (*out)->pub)) || !(pub_b64 = b64_encode((*out)->blob, PUB_BLOB_LEN)))
        goto out;
    snprintf(dir, sizeof(dir), "%s", path);
    if (strrchr(dir, '/')) {
        *strrchr(dir, '/') = '\0';
        if (dir[0] && (rc = fs_mkdir_p(dir, 0755)) != 0)
            goto out;
    }
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    snprintf(line, sizeof(line), "ssh-ed25519 %s\n", pub_b64);
    if ((rc = fs_write_atomic(path, pem, strlen(pem), 0600)) != 0 ||
        (rc = fs_write_atomic(pubpath, line, strlen(line), 0644)) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0 && *out) {
        reg_key_free(*out);
        *out = NULL;
    }
    OPENSSL_cleanse(seed, sizeof(seed));
    if (pem)
        OPENSSL_cleanse(pem, strlen(pem));
    mem_free(pem);
    mem_free(pub_b64);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int reg_key_load(const char *path, int create, struct reg_key **out)
{
    char def[4096];
    int rc;
    *out = NULL;
    if (!path) {
        const char *home = getenv("HOME");
        if (!home || !home[0])
            return E_NOTFOUND;
        snprintf(def, sizeof(def), "%s/.ollama/id_ed25519", home);
        path = def;
    }
    rc = key_read(path, out);
    if (rc == E_NOTFOUND && create)
        rc = key_create(path, out);
    return rc;
}

void reg_key_free(struct reg_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    mem_free(k);
}

int reg_key_sign(const struct reg_key *k, const void *msg, size_t n, char **out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[64];
    size_t sl = sizeof(sig);
    char *pub = NULL, *s = NULL;
    int rc = E_INTERNAL;
    struct buf b;
    buf_init(&b, 1024);
    if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
        EVP_DigestSign(ctx, sig, &sl, msg, n) != 1 || sl != 64)
        goto out;
    rc = E_NOMEM;
    if (!(pub = b64_encode(k->blob, PUB_BLOB_LEN)) || !(s = b64_encode(sig, sl)))
        goto out;
    if ((rc = buf_printf(&b, "%s:%s", pub, s)) != 0)
        goto out;
    *out = buf_take(&b, NULL);
    rc = *out ? 0 : E_NOMEM;
out:
    buf_fini(&b);
    mem_free(pub);
    mem_free(s);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int reg_key_public_line(const struct reg_key *k, char *out, size_t n)
{
    char *pub = b64_encode(k->blob, PUB_BLOB_LEN);
    int rc;
    if (!pub)
        return E_NOMEM;
    rc = (size_t)snprintf(out, n, "ssh-ed25519 %s", pub) >= n ? E_RANGE : 0;
    mem_free(pub);
    return rc;
}

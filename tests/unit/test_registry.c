/*
 * test_registry.c - unit tests for the registry client's pure parts: WWW-Authenticate parsing,
 * auth-file lookup (host matching, auth vs username/password), part sizing.  The network paths
 * are covered by tests/integration/5x_registry_*.sh against a real docker-registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "common/fs.h"
#include "common/mem.h"
#include "harness/test.h"
#include "registry/reg.h"

TEST(reg_challenge_bearer)
{
    struct reg_challenge c;
    ASSERT_OK(reg_challenge_parse("Bearer realm=\"https://ollama.com:443/token\",service=\"ollama."
                                  "com\",scope=\"repository:library/llama3.2:pull\"",
                                  &c));
    ASSERT_EQ_STR(c.scheme, "Bearer");
    ASSERT_EQ_STR(c.realm, "https://ollama.com:443/token");
    ASSERT_EQ_STR(c.service, "ollama.com");
    ASSERT_EQ_STR(c.scope, "repository:library/llama3.2:pull");
    ASSERT_OK(reg_challenge_parse("Basic realm=\"basic-realm\"", &c));
    ASSERT_EQ_STR(c.scheme, "Basic");
    ASSERT_EQ_STR(c.realm, "basic-realm");
    ASSERT_OK(reg_challenge_parse("Bearer realm=x, scope=\"a b\"", &c));
    ASSERT_EQ_STR(c.realm, "x");
    ASSERT_EQ_STR(c.scope, "a b");
    ASSERT(reg_challenge_parse("", &c) != 0);
    ASSERT(reg_challenge_parse("Bearer realm=\"unterminated", &c) != 0);
    ASSERT(reg_challenge_parse("Bearer realm", &c) != 0);
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "Bearer realm=\"", 14);
    ASSERT(reg_challenge_parse(big, &c) != 0);
}

TEST(reg_auth_file_lookup)
{
    char path[4200], out[256];
    snprintf(path, sizeof(path), "%s/auth.json", test_tmpdir());
    const char *json = "{\"auths\":{\"https://reg.example:5000\":{\"auth\":\"dXNlcjpwdw==\"},"
                       "\"other.example\":{\"username\":\"tester\",\"password\":\"s3cret\"}}}";
    ASSERT_OK(fs_write_atomic(path, json, strlen(json), 0600));
    ASSERT_OK(reg_auth_lookup(path, "reg.example:5000", out, sizeof(out)));
    ASSERT_EQ_STR(out, "dXNlcjpwdw==");
    ASSERT_OK(reg_auth_lookup(path, "OTHER.example", out, sizeof(out)));
    ASSERT_EQ_STR(out, "dGVzdGVyOnMzY3JldA=="); /* base64("tester:s3cret") */
    ASSERT_EQ_INT(reg_auth_lookup(path, "reg.example", out, sizeof(out)), E_NOTFOUND);
    ASSERT_EQ_INT(reg_auth_lookup(path, "reg.example:50001", out, sizeof(out)), E_NOTFOUND);
    ASSERT_EQ_INT(reg_auth_lookup(path, "evil.example", out, sizeof(out)), E_NOTFOUND);
    snprintf(path, sizeof(path), "%s/missing.json", test_tmpdir());
    ASSERT_EQ_INT(reg_auth_lookup(path, "reg.example:5000", out, sizeof(out)), E_NOTFOUND);
}

TEST(reg_part_sizing)
{
    unsetenv("CORRAL_PULL_PART_SIZE");
    ASSERT_EQ_SIZE(reg_part_size(1000, 0), REG_PART_MIN);
    ASSERT_EQ_SIZE(reg_part_size(3200ull * 1000 * 1000, 0), 200ull * 1000 * 1000);
    ASSERT_EQ_SIZE(reg_part_size(100ull * 1000 * 1000 * 1000, 0), REG_PART_MAX);
    ASSERT_EQ_SIZE(reg_part_size(1000000, 4096), 4096);
    setenv("CORRAL_PULL_PART_SIZE", "65536", 1);
    ASSERT_EQ_SIZE(reg_part_size(1000000, 0), 65536);
    /* an explicit size may also be larger than Ollama's: one part of a 1 GiB blob */
    setenv("CORRAL_PULL_PART_SIZE", "1073741825", 1);
    ASSERT_EQ_SIZE(reg_part_size(1ull << 30, 0), 1073741825ull);
    /* never more than REG_MAX_PARTS parts */
    ASSERT(1000000000ull / reg_part_size(1000000000ull, 1) < REG_MAX_PARTS);
    setenv("CORRAL_PULL_PART_SIZE", "junk", 1);
    ASSERT_EQ_SIZE(reg_part_size(1000, 0), REG_PART_MIN);
    unsetenv("CORRAL_PULL_PART_SIZE");
}

/* Verifies "<b64 blob>:<b64 sig>" over msg with the public key inside the blob. */
static int verify_sig(const char *token, const char *msg)
{
    unsigned char blob[128], sig[128];
    const char *colon = strchr(token, ':');
    int bl, sl, ok;
    EVP_PKEY *pk;
    EVP_MD_CTX *ctx;
    if (!colon)
        return 0;
    bl = EVP_DecodeBlock(blob, (const unsigned char *)token, (int)(colon - token));
    sl = EVP_DecodeBlock(sig, (const unsigned char *)colon + 1, (int)strlen(colon + 1));
    /* blob: string "ssh-ed25519" (4+11) + string pk (4+32); base64 padding adds zero bytes */
    if (bl < 51 || sl < 64 || memcmp(blob + 4, "ssh-ed25519", 11) != 0)
        return 0;
    pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, blob + 19, 32);
    ctx = EVP_MD_CTX_new();
    ok = pk && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
         EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)msg, strlen(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return ok;
}

TEST(reg_key_create_load_sign)
{
    char path[4200], pub[4300], line[200], *text = NULL, *sig = NULL;
    size_t n;
    struct reg_key *k = NULL, *k2 = NULL;
    struct stat sb;
    snprintf(path, sizeof(path), "%s/home/.ollama/id_ed25519", test_tmpdir());
    ASSERT_EQ_INT(reg_key_load(path, 0, &k), E_NOTFOUND);
    ASSERT_OK(reg_key_load(path, 1, &k));
    ASSERT(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    snprintf(pub, sizeof(pub), "%s.pub", path);
    ASSERT_OK(fs_read_all(pub, 4096, &text, &n));
    ASSERT_OK(reg_key_public_line(k, line, sizeof(line)));
    ASSERT(strncmp(text, line, strlen(line)) == 0 && text[strlen(line)] == '\n');
    ASSERT_OK(reg_key_load(path, 0, &k2)); /* read back: the same key */
    char line2[200];
    ASSERT_OK(reg_key_public_line(k2, line2, sizeof(line2)));
    ASSERT_EQ_STR(line, line2);
    ASSERT_OK(reg_key_sign(k2, "GET,https://x/token?a=b,ZTNi", 28, &sig));
    ASSERT(verify_sig(sig, "GET,https://x/token?a=b,ZTNi"));
    ASSERT(!verify_sig(sig, "GET,https://x/token?a=c,ZTNi"));
    mem_free(sig);
    mem_free(text);
    if (system("command -v ssh-keygen > /dev/null") == 0) { /* OpenSSH agrees on the format */
        char cmd[9000];
        snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f '%s' | cut -d' ' -f1,2 | cmp -s - '%s'", path,
                 pub);
        ASSERT(system(cmd) == 0);
        snprintf(path, sizeof(path), "%s/sshkey", test_tmpdir());
        snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N '' -C c -f '%s'", path);
        ASSERT(system(cmd) == 0);
        reg_key_free(k2);
        ASSERT_OK(reg_key_load(path, 0, &k2));
        snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N secret -f '%s.enc'", path);
        ASSERT(system(cmd) == 0);
        strcat(path, ".enc");
        struct reg_key *k3 = NULL;
        ASSERT_EQ_INT(reg_key_load(path, 0, &k3), E_UNSUPPORTED);
    }
    snprintf(path, sizeof(path), "%s/garbage", test_tmpdir());
    ASSERT_OK(fs_write_atomic(path,
                              "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n"
                              "-----END OPENSSH PRIVATE KEY-----\n",
                              75, 0600));
    struct reg_key *k4 = NULL;
    ASSERT(reg_key_load(path, 1, &k4) != 0 && !k4);
    reg_key_free(k);
    reg_key_free(k2);
}

/* ---- a tiny in-process registry: manifest, HEAD, ranged GETs; drops the first GET of each
 * part after half its bytes, to exercise resume-within-a-pull ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/crypto.h"
#include "store/store.h"

#define TS_BLOB_SIZE (300 * 1000)

struct tsrv {
    int lfd, port;
    unsigned char *blob;
    char blob_digest[72], cfg_digest[72];
    const char *cfg;
    char manifest[1024];
    atomic_int drops, requests;
    char dropped[64][64]; /* ranges already cut once */
    int n_dropped;
};

static void ts_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k <= 0)
            return;
        c += k;
        n -= (size_t)k;
    }
}

static void ts_reply(int fd, const char *status, const char *ctype, const void *body, size_t n,
                     size_t send_n, const char *extra)
{
    char h[512];
    int hl = snprintf(h, sizeof(h),
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: "
                      "close\r\n\r\n",
                      status, ctype, n, extra ? extra : "");
    ts_send(fd, h, (size_t)hl);
    if (body)
        ts_send(fd, body, send_n);
}

static void ts_handle(struct tsrv *s, int fd)
{
    char req[4096] = "", method[8], path[512], range[64] = "";
    size_t n = 0;
    while (n < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
        ssize_t k = read(fd, req + n, sizeof(req) - 1 - n);
        if (k <= 0)
            return;
        n += (size_t)k;
        req[n] = '\0';
    }
    atomic_fetch_add(&s->requests, 1);
    if (sscanf(req, "%7s %511s", method, path) != 2)
        return;
    const char *r = strcasestr(req, "\r\nRange: bytes=");
    if (r)
        sscanf(r + 15, "%63[0-9-]", range);
    int head = strcmp(method, "HEAD") == 0;
    if (strstr(path, "/manifests/latest")) {
        ts_reply(fd, "200 OK", STORE_MT_MANIFEST, s->manifest, strlen(s->manifest),
                 strlen(s->manifest), NULL);
    } else if (strstr(path, "/manifests/")) {
        ts_reply(fd, "404 Not Found", "application/json", "{}", 2, 2, NULL);
    } else if (strstr(path, s->cfg_digest)) {
        ts_reply(fd, "200 OK", "application/octet-stream", s->cfg, strlen(s->cfg),
                 head ? 0 : strlen(s->cfg), NULL);
    } else if (strstr(path, s->blob_digest)) {
        unsigned long a = 0, b = TS_BLOB_SIZE - 1;
        if (head || !range[0]) {
            ts_reply(fd, "200 OK", "application/octet-stream", s->blob, TS_BLOB_SIZE,
                     head ? 0 : TS_BLOB_SIZE, NULL);
            return;
        }
        sscanf(range, "%lu-%lu", &a, &b);
        char cr[128];
        snprintf(cr, sizeof(cr), "Content-Range: bytes %lu-%lu/%d\r\n", a, b, TS_BLOB_SIZE);
        size_t len = b - a + 1, send_n = len;
        int first = 1;
        for (int i = 0; i < s->n_dropped; i++)
            first &= strcmp(s->dropped[i], range) != 0;
        if (first && s->n_dropped < 64 && a % 64000 == 0) { /* first request of a part */
            snprintf(s->dropped[s->n_dropped++], 64, "%s", range);
            send_n = len / 2; /* cut the connection halfway */
            atomic_fetch_add(&s->drops, 1);
        }
        ts_reply(fd, "206 Partial Content", "application/octet-stream", s->blob + a, len, send_n,
                 cr);
    } else {
        ts_reply(fd, "404 Not Found", "application/json", "{}", 2, 2, NULL);
    }
}

static void *ts_main(void *arg)
{
    struct tsrv *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        ts_handle(s, fd);
        close(fd);
    }
}

static void ts_start(struct tsrv *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    char hex[65];
    pthread_t t;
    memset(s, 0, sizeof(*s));
    s->blob = malloc(TS_BLOB_SIZE);
    ASSERT(s->blob);
    for (int i = 0; i < TS_BLOB_SIZE; i++)
        s->blob[i] = (unsigned char)(i * 7 + i / 251);
    crypto_sha256_hex(s->blob, TS_BLOB_SIZE, hex);
    snprintf(s->blob_digest, sizeof(s->blob_digest), "sha256:%s", hex);
    s->cfg = "{\"model_format\":\"gguf\"}";
    crypto_sha256_hex(s->cfg, strlen(s->cfg), hex);
    snprintf(s->cfg_digest, sizeof(s->cfg_digest), "sha256:%s", hex);
    snprintf(s->manifest, sizeof(s->manifest),
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
             "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
             "\"size\":%d}]}",
             STORE_MT_MANIFEST, STORE_MT_CONFIG, s->cfg_digest, strlen(s->cfg), STORE_MT_MODEL,
             s->blob_digest, TS_BLOB_SIZE);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(s->lfd >= 0);
    ASSERT(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s->lfd, 64) == 0);
    ASSERT(getsockname(s->lfd, (struct sockaddr *)&a, &al) == 0);
    s->port = ntohs(a.sin_port);
    ASSERT(pthread_create(&t, NULL, ts_main, s) == 0);
    pthread_detach(t);
}

struct conn_ctx {
    atomic_int calls;
    int port;
    int refuse;
    char last_host[64];
};

/* The connect callback: names are never resolved by libcurl, they arrive here. */
static int test_connect(void *ctx, const char *host, int port, int *fd_out)
{
    struct conn_ctx *c = ctx;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd;
    atomic_fetch_add(&c->calls, 1);
    snprintf(c->last_host, sizeof(c->last_host), "%s", host);
    if (c->refuse || strcmp(host, "registry.test") != 0 || port != c->port)
        return E_PERM;
    a.sin_port = htons((uint16_t)port);
    if (reg_connect_addr((struct sockaddr *)&a, sizeof(a), 5000, &fd) != 0)
        return E_NET;
    *fd_out = fd;
    return 0;
}

struct seen {
    char statuses[64][48];
    int n;
};

static int record_progress(void *ctx, const struct reg_progress *p)
{
    struct seen *s = ctx;
    if (s->n < 64 && (s->n == 0 || strcmp(s->statuses[s->n - 1], p->status) != 0))
        snprintf(s->statuses[s->n++], sizeof(s->statuses[0]), "%s", p->status);
    return 0;
}

TEST(reg_pull_connect_callback_and_cut_parts)
{
    static struct tsrv srv;
    struct conn_ctx cc = {0};
    struct seen seen = {0};
    struct reg_opts o;
    struct store *st;
    struct store_name nm;
    struct err_info ei = {0};
    char dir[4200], name[128], label[32];
    int fd;
    ts_start(&srv);
    cc.port = srv.port;
    snprintf(dir, sizeof(dir), "%s/models", test_tmpdir());
    ASSERT_OK(store_open(dir, &st, NULL));
    snprintf(name, sizeof(name), "registry.test:%d/library/m", srv.port);
    ASSERT_OK(store_name_parse(name, &nm, NULL));
    memset(&o, 0, sizeof(o));
    o.insecure = 1;
    o.connect = test_connect;
    o.connect_ctx = &cc;
    o.progress = record_progress;
    o.progress_ctx = &seen;
    o.part_size = 64 * 1000; /* 5 parts */
    if (reg_pull(st, &nm, &o, &ei) != 0)
        TEST_FAIL_("pull failed: %s (connect calls %d, last host %s)", ei.msg,
                   atomic_load(&cc.calls), cc.last_host);
    ASSERT(store_blob_has(st, srv.blob_digest));
    ASSERT(store_blob_has(st, srv.cfg_digest));
    ASSERT_EQ_INT(atomic_load(&srv.drops), 5); /* every part was cut once and resumed */
    ASSERT(atomic_load(&cc.calls) >= atomic_load(&srv.requests));
    snprintf(label, sizeof(label), "pulling %.12s", srv.blob_digest + 7);
    ASSERT_EQ_STR(seen.statuses[0], "pulling manifest");
    ASSERT_EQ_STR(seen.statuses[1], label);
    ASSERT_EQ_STR(seen.statuses[seen.n - 3], "verifying sha256 digest");
    ASSERT_EQ_STR(seen.statuses[seen.n - 2], "writing manifest");
    ASSERT_EQ_STR(seen.statuses[seen.n - 1], "success");
    ASSERT_OK(store_blob_open(st, srv.blob_digest, &fd));
    unsigned char *got = malloc(TS_BLOB_SIZE);
    ASSERT(got && read(fd, got, TS_BLOB_SIZE) == TS_BLOB_SIZE);
    ASSERT_MEMEQ(got, srv.blob, TS_BLOB_SIZE);
    free(got);
    close(fd);

    /* a connect callback that refuses: the pull fails, naming the host it was asked for */
    struct store_name nm2;
    snprintf(name, sizeof(name), "registry.test:%d/library/other", srv.port);
    ASSERT_OK(store_name_parse(name, &nm2, NULL));
    cc.refuse = 1;
    int before = atomic_load(&srv.requests);
    ASSERT(reg_pull(st, &nm2, &o, &ei) != 0);
    ASSERT(strstr(ei.msg, "registry.test") != NULL);
    ASSERT_EQ_STR(cc.last_host, "registry.test");
    ASSERT_EQ_INT(atomic_load(&srv.requests), before); /* nothing reached the server */
    store_close(st);
}

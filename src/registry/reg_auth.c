/*
 * reg_auth.c - registry authentication: WWW-Authenticate parsing, the bearer-token request,
 * and Basic credentials from a Docker-format auth file.
 *
 * Rules (Ollama's CVE-2025-51471 fix, plus ours for Basic): a token realm must be on the
 * registry's host name (any port); Basic credentials are looked up by the registry's host and
 * only ever sent to that host, or to its realm (same host name) when asking for a token.
 * Tokens live for one operation (one pull or push) in struct reg_client.
 */
#include "registry/reg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/crypto.h"
#include "common/fs.h"
#include "common/mem.h"

#define AUTH_FILE_MAX (1u << 20)
#define TOKEN_MAX     16384

/* ---- WWW-Authenticate ---- */

/* Reads one `key="value"` or `key=value` pair at *pp; returns 1 when a pair was read. */
static int next_param(const char **pp, char *key, size_t kn, char *val, size_t vn)
{
    const char *p = *pp;
    size_t k = 0, v = 0;
    while (*p == ' ' || *p == ',' || *p == '\t')
        p++;
    if (!*p)
        return 0;
    while (*p && *p != '=' && *p != ' ' && *p != ',') {
        if (k + 1 < kn)
            key[k++] = *p;
        p++;
    }
    key[k] = '\0';
    if (*p != '=')
        return -1;
    p++;
    if (*p == '"') {
        p++;
        while (*p && *p != '"') {
            if (*p == '\\' && p[1])
                p++;
            if (v + 1 >= vn)
                return -1;
            val[v++] = *p++;
        }
        if (*p != '"')
            return -1;
        p++;
    } else {
        while (*p && *p != ',' && *p != ' ') {
            if (v + 1 >= vn)
                return -1;
            val[v++] = *p++;
        }
    }
    val[v] = '\0';
    *pp = p;
    return 1;
}

int reg_challenge_parse(const char *value, struct reg_challenge *c)
{
    const char *p = value;
    size_t n = 0;
    char key[32], val[1024];
    int r;
    memset(c, 0, sizeof(*c));
    if (!value)
        return E_PARSE;
    while (*p == ' ')
        p++;
    while (*p && *p != ' ') {
        if (n + 1 >= sizeof(c->scheme))
            return E_PARSE;
        c->scheme[n++] = *p++;
    }
    c->scheme[n] = '\0';
    if (n == 0)
        return E_PARSE;
    while ((r = next_param(&p, key, sizeof(key), val, sizeof(val))) == 1) {
        char *dst = NULL;
        size_t cap = 0;
        if (strcasecmp(key, "realm") == 0) {
            dst = c->realm;
            cap = sizeof(c->realm);
        } else if (strcasecmp(key, "service") == 0) {
            dst = c->service;
            cap = sizeof(c->service);
        } else if (strcasecmp(key, "scope") == 0) {
            dst = c->scope;
            cap = sizeof(c->scope);
        }
        if (dst && strlen(val) >= cap)
            return E_PARSE;
        if (dst)
            memcpy(dst, val, strlen(val) + 1);
    }
    return r < 0 ? E_PARSE : 0;
}

/* ---- auth file ---- */

static int host_matches(const char *key, const char *host)
{
    const char *k = key;
    size_t n;
    if (strncasecmp(k, "https://", 8) == 0)
        k += 8;
    else if (strncasecmp(k, "http://", 7) == 0)
        k += 7;
    n = strcspn(k, "/");
    return n == strlen(host) && strncasecmp(k, host, n) == 0;
}

static int entry_creds(json_t *ent, char *out, size_t n)
{
    const char *auth = json_string_value(json_object_get(ent, "auth"));
    const char *user = json_string_value(json_object_get(ent, "username"));
    const char *pass = json_string_value(json_object_get(ent, "password"));
    if (auth && auth[0]) {
        if (strlen(auth) >= n)
            return E_RANGE;
        snprintf(out, n, "%s", auth);
        return 0;
    }
    if (!user || !pass)
        return E_NOTFOUND;
    char plain[512];
    if ((size_t)snprintf(plain, sizeof(plain), "%s:%s", user, pass) >= sizeof(plain) ||
        n < 4 * ((strlen(plain) + 2) / 3) + 1)
        return E_RANGE;
    /* base64 via libcurl-free code: small and local */
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(plain), o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)plain[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)plain[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)plain[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    explicit_bzero(plain, sizeof(plain));
    return 0;
}

int reg_auth_lookup(const char *auth_file, const char *host, char *out, size_t n)
{
    char path[4096];
    char *data = NULL;
    size_t len = 0;
    json_t *root = NULL, *auths, *ent;
    const char *key;
    int rc = E_NOTFOUND;
    if (!auth_file) {
        const char *home = getenv("HOME");
        if (!home)
            return E_NOTFOUND;
        snprintf(path, sizeof(path), "%s/.ollama/registry-auth.json", home);
        auth_file = path;
    }
    if (fs_read_all(auth_file, AUTH_FILE_MAX, &data, &len) != 0)
        return E_NOTFOUND;
    root = json_loadb(data, len, 0, NULL);
    auths = json_object_get(root, "auths");
    json_object_foreach(auths, key, ent)
    {
        if (host_matches(key, host) && json_is_object(ent)) {
            rc = entry_creds(ent, out, n);
            break;
        }
    }
    json_decref(root);
    explicit_bzero(data, len);
    mem_free(data);
    return rc;
}

/* ---- token ---- */

static int realm_allowed(struct reg_client *c, const char *realm)
{
    CURLU *u = curl_url();
    char *h = NULL;
    int ok = 0;
    if (!u)
        return 0;
    if (curl_url_set(u, CURLUPART_URL, realm, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
        const char *hh = h;
        size_t hl = strlen(h);
        if (hl > 2 && h[0] == '[') {
            hh = h + 1;
            hl -= 2;
        }
        ok = hl == strlen(c->hostname) && strncasecmp(hh, c->hostname, hl) == 0;
    }
    curl_free(h);
    curl_url_cleanup(u);
    return ok;
}

static int build_token_url(const char *realm, const struct reg_challenge *ch, char *out, size_t n)
{
    struct buf b;
    char *esc;
    int rc;
    buf_init(&b, REG_URL_MAX);
    rc = buf_puts(&b, realm);
    char sep = strchr(realm, '?') ? '&' : '?';
    if (rc == 0 && ch->service[0]) {
        esc = curl_easy_escape(NULL, ch->service, 0);
        rc = esc ? buf_printf(&b, "%cservice=%s", sep, esc) : E_NOMEM;
        curl_free(esc);
        sep = '&';
    }
    /* several scopes are space-separated; one scope= parameter each */
    const char *s = ch->scope;
    while (rc == 0 && *s) {
        size_t l = strcspn(s, " ");
        if (l) {
            esc = curl_easy_escape(NULL, s, (int)l);
            rc = esc ? buf_printf(&b, "%cscope=%s", sep, esc) : E_NOMEM;
            curl_free(esc);
            sep = '&';
        }
        s += l;
        while (*s == ' ')
            s++;
    }
    /* Ollama adds a timestamp and a nonce (base64url of 16 random bytes) */
    unsigned char rnd[16], enc[32];
    if (rc == 0 && RAND_bytes(rnd, sizeof(rnd)) != 1)
        rc = E_INTERNAL;
    if (rc == 0) {
        int el = EVP_EncodeBlock(enc, rnd, sizeof(rnd));
        while (el > 0 && enc[el - 1] == '=')
            el--;
        for (int i = 0; i < el; i++)
            enc[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
        enc[el] = '\0';
        rc = buf_printf(&b, "%cts=%lld&nonce=%s", sep, (long long)time(NULL), (char *)enc);
    }
    if (rc == 0)
        rc = (size_t)snprintf(out, n, "%s", buf_str(&b)) >= n ? E_RANGE : 0;
    buf_fini(&b);
    return rc;
}

/* Ollama's signature for GET <url>: "GET,<url>,<base64(hex(sha256 of the empty body))>" signed
 * with ~/.ollama/id_ed25519 (created when missing).  *out NULL when no key is usable. */
static void sign_token_request(struct reg_client *c, const char *url, char **out)
{
    struct reg_key *owned = NULL;
    const struct reg_key *k = c->o->key;
    char hex[65], *msg;
    unsigned char b64[100];
    struct buf b;
    *out = NULL;
    if (!k && reg_key_load(c->o->key_file, 1, &owned) != 0)
        return;
    if (!k)
        k = owned;
    crypto_sha256_hex("", 0, hex);
    EVP_EncodeBlock(b64, (const unsigned char *)hex, 64);
    buf_init(&b, REG_URL_MAX + 200);
    if (buf_printf(&b, "GET,%s,%s", url, (char *)b64) == 0 && (msg = buf_take(&b, NULL))) {
        if (reg_key_sign(k, msg, strlen(msg), out) != 0)
            *out = NULL;
        mem_free(msg);
    }
    buf_fini(&b);
    reg_key_free(owned);
}

int reg__token_fetch(struct reg_client *c, const struct reg_challenge *ch, struct err_info *ei)
{
    char url[REG_URL_MAX];
    struct reg_req rq;
    struct reg_resp rs;
    json_t *root = NULL;
    const char *tok;
    char *sig = NULL;
    int rc;
    if (!ch->realm[0] || !realm_allowed(c, ch->realm))
        return err_set(ei, E_PERM, "unauthorized: token realm %.200s is not on registry host %s",
                       ch->realm, c->hostname);
    if (build_token_url(ch->realm, ch, url, sizeof(url)) != 0)
        return err_set(ei, E_RANGE, "token URL too long");
    reg__req_init(&rq, "GET", url);
    rq.no_auth = 1;
    rq.basic = c->basic[0] ? c->basic : NULL; /* realm is on the registry's host name */
    if (!rq.basic) {
        sign_token_request(c, url, &sig);
        rq.authorization = sig;
    }
    rq.body_max = TOKEN_MAX;
    reg__resp_init(&rs);
    if ((rc = reg__http(c, &rq, &rs, ei)) != 0)
        goto out;
    if (rs.status != 200) {
        rc = err_set(ei, E_PERM, "unauthorized: access denied");
        goto out;
    }
    root = json_loadb(buf_str(&rs.body), rs.body.n, 0, NULL);
    tok = json_string_value(json_object_get(root, "token"));
    if (!tok || !tok[0])
        tok = json_string_value(json_object_get(root, "access_token"));
    if (!tok || !tok[0] || strlen(tok) >= TOKEN_MAX) {
        rc = err_set(ei, E_PERM, "unauthorized: no token in the realm's answer");
        goto out;
    }
    pthread_mutex_lock(&c->mu);
    mem_free(c->token);
    c->token = mem_strdup(tok);
    rc = c->token ? 0 : E_NOMEM;
    pthread_mutex_unlock(&c->mu);
out:
    mem_free(sig);
    json_decref(root);
    reg__resp_fini(&rs);
    return rc;
}

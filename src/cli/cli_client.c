/*
 * cli_client.c - libcurl client of the daemon (see cli_client.h).  Each call uses its own easy
 * handle; bodies are bounded buffers (CLI_MAX_RESPONSE / CLI_MAX_LINE); uploads stream from the
 * file with a read callback.
 */
#include "cli/cli_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/json.h"

/* A TCP port 1..65535, else dflt (Ollama falls back to the default on a bad port). */
static int port_or(const char *s, int dflt)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v > 0 && v < 65536) ? (int)v : dflt;
}

int cli_base_url(const char *host_env, char *out, size_t n)
{
    char buf[512], host[300] = "", path[256] = "", *h, *p;
    const char *scheme = "http";
    int port = 11434;
    size_t a = 0, b;
    snprintf(buf, sizeof(buf), "%s", host_env ? host_env : "");
    b = strlen(buf);
    while (a < b && (isspace((unsigned char)buf[a]) || buf[a] == '"' || buf[a] == '\''))
        a++;
    while (b > a && (isspace((unsigned char)buf[b - 1]) || buf[b - 1] == '"' || buf[b - 1] == '\''))
        buf[--b] = '\0';
    h = buf + a;
    if (!strcmp(h, "ollama.com")) { /* envconfig.Host's one special name */
        snprintf(buf, sizeof(buf), "https://ollama.com:443");
        h = buf;
    }
    if (!strncasecmp(h, "http://", 7))
        h += 7, port = 80;
    else if (!strncasecmp(h, "https://", 8))
        h += 8, port = 443, scheme = "https";
    if ((p = strchr(h, '/'))) { /* a proxy path prefix is kept: base.JoinPath("/api/...") */
        size_t k;
        snprintf(path, sizeof(path), "%s", p);
        k = strlen(path);
        while (k && path[k - 1] == '/')
            path[--k] = '\0';
        *p = '\0';
    }
    if (*h == '[' && (p = strchr(h, ']'))) {
        *p = '\0';
        snprintf(host, sizeof(host), "%s", h + 1);
        if (p[1] == ':')
            port = port_or(p + 2, port);
    } else {
        if ((p = strrchr(h, ':')) && strchr(h, ':') == p) {
            *p = '\0';
            port = port_or(p + 1, port);
        }
        snprintf(host, sizeof(host), "%s", h);
    }
    if (!*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
        snprintf(host, sizeof(host), "127.0.0.1");
    if ((size_t)snprintf(out, n, strchr(host, ':') ? "%s://[%s]:%d%s" : "%s://%s:%d%s", scheme,
                         host, port, path) >= n)
        return E_RANGE;
    return 0;
}

int cli_client_init(struct cli_client *c, struct err_info *ei)
{
    if (cli_base_url(getenv("OLLAMA_HOST"), c->base, sizeof(c->base)) != 0)
        return err_set(ei, E_INVAL, "OLLAMA_HOST is too long");
    return 0;
}

/* ---- transfers ---- */

struct xfer {
    struct buf body; /* whole answer, or the partial line when streaming */
    cli_line_fn fn;  /* streaming when set */
    void *ctx;
    int stop_rc; /* set when a line callback or an error line ended the stream */
    struct err_info *ei;
    long status;
};

static int error_code(long status)
{
    switch (status) {
    case 400:
        return E_INVAL;
    case 403:
        return E_PERM;
    case 404:
        return E_NOTFOUND;
    case 413:
        return E_RANGE;
    case 503:
        return E_BUSY;
    default:
        return E_IO;
    }
}

static int handle_line(struct xfer *x, const char *p, size_t n)
{
    json_t *v;
    const char *err = NULL;
    int rc = 0;
    if (!n)
        return 0;
    if (!(v = json_loadb(p, n, 0, NULL)))
        return err_set(x->ei, E_PARSE, "malformed line from the server");
    if (json_get_str(v, "error", &err, NULL) == 0)
        rc = err_set(x->ei, E_IO, "%s", err);
    else
        rc = x->fn(x->ctx, v);
    json_decref(v);
    return rc;
}

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nm;
    char *nl;
    if (buf_append(&x->body, p, n) != 0) {
        x->stop_rc = err_set(x->ei, E_RANGE, "answer from the server is too large");
        return 0;
    }
    if (!x->fn || x->status >= 300)
        return n;
    while (!x->stop_rc && (nl = memchr(x->body.p, '\n', x->body.n))) {
        size_t len = (size_t)(nl - x->body.p);
        x->stop_rc = handle_line(x, x->body.p, len);
        memmove(x->body.p, nl + 1, x->body.n - len - 1);
        x->body.n -= len + 1;
        x->body.p[x->body.n] = '\0';
    }
    return x->stop_rc ? 0 : n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    if (sz * nm > 9 && !strncmp(p, "HTTP/", 5)) {
        const char *sp = memchr(p, ' ', sz * nm);
        if (sp)
            x->status = strtol(sp + 1, NULL, 10);
    }
    return sz * nm;
}

/* Turns a finished transfer into a result code (and message). */
static int finish(struct xfer *x, CURLcode cc, json_t **out)
{
    json_t *v = NULL;
    const char *err = NULL;
    if (x->stop_rc)
        return x->stop_rc;
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
        return err_set(x->ei, E_NET, CLI_MSG_NOT_RUNNING);
    if (cc != CURLE_OK)
        return err_set(x->ei, E_NET, "%s", curl_easy_strerror(cc));
    if (x->body.n)
        v = json_loadb(x->body.p, x->body.n, 0, NULL);
    if (x->status >= 300) {
        int rc;
        if (v && json_get_str(v, "error", &err, NULL) == 0)
            rc = err_set(x->ei, error_code(x->status), "%s", err);
        else
            rc = err_set(x->ei, error_code(x->status), "%s%s",
                         x->body.n ? buf_str(&x->body) : "server answered ",
                         x->body.n ? "" : (x->status == 404 ? "404 Not Found" : "an error"));
        json_decref(v);
        return rc;
    }
    if (x->fn) { /* a last line without '\n', or a whole stream:false answer */
        json_decref(v);
        return handle_line(x, x->body.p, x->body.n);
    }
    if (out)
        *out = v;
    else
        json_decref(v);
    return 0;
}

static CURL *easy_new(struct cli_client *c, const char *method, const char *path, struct xfer *x,
                      struct curl_slist **hdrs)
{
    char url[1200];
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    snprintf(url, sizeof(url), "%s%s", c->base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* the daemon is local: never through a proxy */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    *hdrs = curl_slist_append(*hdrs, "Accept: application/x-ndjson");
    *hdrs = curl_slist_append(*hdrs, "User-Agent: corral/"
                                     "cli");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    return h;
}

static int run(struct cli_client *c, const char *method, const char *path, const json_t *body,
               struct xfer *x, json_t **out)
{
    struct curl_slist *hdrs = NULL;
    struct buf req;
    CURL *h;
    CURLcode cc;
    int rc;
    buf_init(&req, CLI_MAX_RESPONSE);
    if (body && (rc = json_go_encode(body, 0, &req)) != 0) {
        buf_fini(&req);
        return rc;
    }
    if (!(h = easy_new(c, method, path, x, &hdrs))) {
        buf_fini(&req);
        return E_NOMEM;
    }
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, buf_str(&req));
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req.n);
    }
    cc = curl_easy_perform(h);
    rc = finish(x, cc, out);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    buf_fini(&req);
    return rc;
}

int cli_request(struct cli_client *c, const char *method, const char *path, const json_t *body,
                json_t **out, int *status, struct err_info *ei)
{
    struct xfer x;
    int rc;
    memset(&x, 0, sizeof(x));
    buf_init(&x.body, CLI_MAX_RESPONSE);
    x.ei = ei;
    if (out)
        *out = NULL;
    rc = run(c, method, path, body, &x, out);
    if (status)
        *status = (int)x.status;
    buf_fini(&x.body);
    return rc;
}

int cli_stream(struct cli_client *c, const char *path, const json_t *body, cli_line_fn fn,
               void *ctx, struct err_info *ei)
{
    struct xfer x;
    int rc;
    memset(&x, 0, sizeof(x));
    buf_init(&x.body, CLI_MAX_LINE);
    x.ei = ei;
    x.fn = fn;
    x.ctx = ctx;
    rc = run(c, "POST", path, body, &x, NULL);
    buf_fini(&x.body);
    return rc;
}

/* ---- blob upload ---- */

static size_t on_read(char *p, size_t sz, size_t nm, void *ud)
{
    return fread(p, 1, sz * nm, ud);
}

/* "copying file sha256:<hex> NN%" redrawn on a terminal (stderr), at most once per percent. */
struct upload_progress {
    const char *digest;
    int last_pct;
};

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct upload_progress *up = ud;
    int pct;
    (void)dltotal;
    (void)dlnow;
    if (ultotal <= 0)
        return 0;
    pct = (int)(ulnow * 100 / ultotal);
    if (pct != up->last_pct) {
        fprintf(stderr, "\rcopying file %s %d%%", up->digest, pct);
        up->last_pct = pct;
    }
    return 0;
}

static int post_file(struct cli_client *c, const char *digest, FILE *f, curl_off_t size,
                     struct err_info *ei)
{
    struct curl_slist *hdrs = NULL;
    struct upload_progress up = {digest, -1};
    struct xfer x;
    char p[128];
    CURL *h;
    CURLcode cc;
    int rc;
    memset(&x, 0, sizeof(x));
    buf_init(&x.body, 1 << 20);
    x.ei = ei;
    snprintf(p, sizeof(p), "/api/blobs/%s", digest);
    if (!(h = easy_new(c, "POST", p, &x, &hdrs))) {
        buf_fini(&x.body);
        return E_NOMEM;
    }
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, f);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, size);
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (isatty(STDERR_FILENO)) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &up);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    cc = curl_easy_perform(h);
    if (up.last_pct >= 0)
        fputc('\n', stderr);
    rc = finish(&x, cc, NULL);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    buf_fini(&x.body);
    return rc;
}

int cli_upload_file(struct cli_client *c, const char *path, char digest_out[72],
                    struct err_info *ei)
{
    char hex[65], p[128];
    struct stat sb;
    FILE *f;
    int rc, status = 0;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return err_set(ei, E_NOTFOUND, "open %s: no such file", path);
    if ((rc = crypto_sha256_file(path, hex)) != 0)
        return err_set(ei, rc, "reading %s: %s", path, err_str(rc));
    snprintf(digest_out, 72, "sha256:%s", hex);
    snprintf(p, sizeof(p), "/api/blobs/%s", digest_out);
    rc = cli_request(c, "HEAD", p, NULL, NULL, &status, ei);
    if (rc == 0)
        return 0; /* already there */
    if (rc != E_NOTFOUND)
        return rc;
    if (!(f = fopen(path, "rb")))
        return err_set(ei, E_IO, "open %s: cannot read", path);
    rc = post_file(c, digest_out, f, (curl_off_t)sb.st_size, ei);
    fclose(f);
    return rc;
}

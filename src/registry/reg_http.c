/*
 * reg_http.c - one HTTP exchange with a registry (or the CDN it redirects to) over libcurl, and
 * the client set-up shared by pull and push.
 *
 * Sockets: libcurl is told the host resolves to a placeholder (CURLOPT_RESOLVE) so it never does
 * DNS, and CURLOPT_OPENSOCKETFUNCTION hands it a socket our connect callback already connected
 * (CURLOPT_SOCKOPTFUNCTION answers CURL_SOCKOPT_ALREADY_CONNECTED).  The callback gets the real
 * host name and port from the URL, so the monitor process can apply its allow-list.
 * Redirects are never followed by libcurl: reg__request follows same-host ones itself and hands
 * cross-host ones back, so credentials never travel to another host.  Proxies are disabled.
 * Each exchange uses a fresh easy handle (parts run on several threads).
 */
#include "registry/reg_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/mem.h"
#include "common/version.h"

#define CONNECT_TIMEOUT_MS 30000

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- default connect ---- */

static int connect_wait(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t len = sizeof(err);
    if (poll(&p, 1, timeout_ms) != 1)
        return E_TIMEOUT;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        return E_NET;
    return 0;
}

int reg_connect_addr(const struct sockaddr *sa, unsigned sa_len, int timeout_ms, int *fd_out)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), rc;
    if (fd < 0)
        return E_NET;
    /* non-blocking on purpose: see reg_connect_fn in reg.h */
    if (connect(fd, sa, (socklen_t)sa_len) == 0)
        rc = 0;
    else
        rc = errno == EINPROGRESS ? connect_wait(fd, timeout_ms) : E_NET;
    if (rc != 0) {
        close(fd);
        return rc;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *fd_out = fd;
    return 0;
}

int reg_connect_default(void *ctx, const char *host, int port, int *fd_out)
{
    struct addrinfo hints, *res = NULL, *ai;
    char ports[16];
    int rc = E_NET;
    (void)ctx;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ports, sizeof(ports), "%d", port);
    if (getaddrinfo(host, ports, &hints, &res) != 0)
        return E_NET;
    for (ai = res; ai; ai = ai->ai_next)
        if ((rc = reg_connect_addr(ai->ai_addr, ai->ai_addrlen, CONNECT_TIMEOUT_MS, fd_out)) == 0)
            break;
    freeaddrinfo(res);
    return rc;
}

/* ---- URLs ---- */

/* host (brackets stripped), port (scheme default when absent), and scheme of url. */
static int url_parts(const char *url, char *host, size_t hn, int *port)
{
    CURLU *u = curl_url();
    char *h = NULL, *p = NULL, *s = NULL;
    int rc = E_INVAL;
    if (!u)
        return E_NOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_PORT, &p, 0) == CURLUE_OK)
        *port = atoi(p);
    else
        *port = strcasecmp(s, "https") == 0 ? 443 : 80;
    if (h[0] == '[') {
        size_t l = strlen(h);
        if (l < 2 || l - 2 >= hn)
            goto out;
        memcpy(host, h + 1, l - 2);
        host[l - 2] = '\0';
    } else if ((size_t)snprintf(host, hn, "%s", h) >= hn) {
        goto out;
    }
    rc = 0;
out:
    curl_free(h);
    curl_free(p);
    curl_free(s);
    curl_url_cleanup(u);
    return rc;
}

int reg__same_host(const struct reg_client *c, const char *url)
{
    char h[256];
    int port;
    if (url_parts(url, h, sizeof(h), &port) != 0)
        return 0;
    return port == c->port && strcasecmp(h, c->hostname) == 0;
}

int reg__url_resolve(const char *base, const char *ref, char *out, size_t n)
{
    CURLU *u = curl_url();
    char *s = NULL;
    int rc = E_INVAL;
    if (!u)
        return E_NOMEM;
    if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
        rc = (size_t)snprintf(out, n, "%s", s) >= n ? E_RANGE : 0;
    curl_free(s);
    curl_url_cleanup(u);
    return rc;
}

/* ---- client ---- */

int reg_manifest_url(const struct store_name *nm, int insecure, char *out, size_t n,
                     struct err_info *ei)
{
    int w;
    if (nm->http && !insecure)
        return err_set(ei, E_INVAL, "insecure protocol http");
    w = snprintf(out, n, "%s://%s/v2/%s/%s/manifests/%s", insecure ? "http" : "https", nm->host,
                 nm->ns, nm->model, nm->tag);
    if (w < 0 || (size_t)w >= n)
        return err_set(ei, E_RANGE, "manifest URL too long");
    return 0;
}

int reg__client_init(struct reg_client *c, struct store *st, const struct store_name *nm,
                     const struct reg_opts *o, struct err_info *ei)
{
    memset(c, 0, sizeof(*c));
    pthread_once(&curl_once, curl_init_once);
    if (nm->http && !o->insecure)
        return err_set(ei, E_INVAL, "insecure protocol http");
    c->o = o;
    c->st = st;
    c->nm = *nm;
    snprintf(c->host, sizeof(c->host), "%s", nm->host);
    snprintf(c->base, sizeof(c->base), "%s://%s", o->insecure ? "http" : "https", nm->host);
    snprintf(c->repo, sizeof(c->repo), "%s/%s", nm->ns, nm->model);
    if (url_parts(c->base, c->hostname, sizeof(c->hostname), &c->port) != 0)
        return err_set(ei, E_INVAL, "invalid model name");
    if (reg_auth_lookup(o->auth_file, c->host, c->basic, sizeof(c->basic)) != 0)
        c->basic[0] = '\0';
    pthread_mutex_init(&c->mu, NULL);
    return 0;
}

void reg__client_fini(struct reg_client *c)
{
    if (c->token) {
        explicit_bzero(c->token, strlen(c->token));
        mem_free(c->token);
    }
    explicit_bzero(c->basic, sizeof(c->basic));
    pthread_mutex_destroy(&c->mu);
}

int reg__cancelled(const struct reg_client *c)
{
    return atomic_load(&((struct reg_client *)c)->stop) ||
           (c->o->cancelled && atomic_load(c->o->cancelled));
}

int reg__progress(struct reg_client *c, const char *status, const char *digest, uint64_t total,
                  uint64_t completed)
{
    struct reg_progress p = {status, digest, total, completed};
    if (reg__cancelled(c))
        return E_CANCELLED;
    if (c->o->progress && c->o->progress(c->o->progress_ctx, &p) != 0) {
        atomic_store(&c->stop, 1);
        return E_CANCELLED;
    }
    return 0;
}

json_t *reg_progress_json(const struct reg_progress *p)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "status", json_string(p->status)) != 0 ||
        (p->digest && json_object_set_new(o, "digest", json_string(p->digest)) != 0) ||
        (p->total && json_object_set_new(o, "total", json_integer((json_int_t)p->total)) != 0) ||
        (p->completed &&
         json_object_set_new(o, "completed", json_integer((json_int_t)p->completed)) != 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- one exchange ---- */

void reg__req_init(struct reg_req *rq, const char *method, const char *url)
{
    memset(rq, 0, sizeof(*rq));
    rq->method = method;
    rq->url = url;
    rq->body_fd = -1;
}

void reg__resp_init(struct reg_resp *rs)
{
    memset(rs, 0, sizeof(*rs));
    rs->content_length = -1;
    buf_init(&rs->body, REG_MAX_SMALL_BODY);
}

void reg__resp_fini(struct reg_resp *rs)
{
    buf_fini(&rs->body);
}

struct xfer {
    struct reg_client *c;
    const struct reg_req *rq;
    struct reg_resp *rs;
    char host[256];
    int port;
    uint64_t sent; /* upload bytes given to curl */
    int sink_rc;   /* first sink error */
    int connect_rc;
};

static void hdr_copy(char *dst, size_t cap, const char *v, size_t n)
{
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    if (n >= cap)
        n = 0; /* too long to be useful: treat as absent */
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    struct reg_resp *rs = x->rs;
    size_t n = size * nitems;
    const char *colon = memchr(p, ':', n);
    if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', n);
        rs->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        rs->location[0] = rs->upload_location[0] = rs->www_auth[0] = '\0';
        rs->content_range[0] = '\0';
        rs->content_length = -1;
        return n;
    }
    if (!colon)
        return n;
    size_t kl = (size_t)(colon - p), vl = n - kl - 1;
    const char *v = colon + 1;
    if (kl == 8 && strncasecmp(p, "location", 8) == 0)
        hdr_copy(rs->location, sizeof(rs->location), v, vl);
    else if (kl == 22 && strncasecmp(p, "docker-upload-location", 22) == 0)
        hdr_copy(rs->upload_location, sizeof(rs->upload_location), v, vl);
    else if (kl == 16 && strncasecmp(p, "www-authenticate", 16) == 0)
        hdr_copy(rs->www_auth, sizeof(rs->www_auth), v, vl);
    else if (kl == 13 && strncasecmp(p, "content-range", 13) == 0)
        hdr_copy(rs->content_range, sizeof(rs->content_range), v, vl);
    else if (kl == 14 && strncasecmp(p, "content-length", 14) == 0) {
        char tmp[32];
        hdr_copy(tmp, sizeof(tmp), v, vl);
        rs->content_length = tmp[0] ? strtoll(tmp, NULL, 10) : -1;
    }
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    int ok = x->rs->status >= 200 && x->rs->status < 300;
    if (ok && x->rq->sink) {
        int rc = x->rq->sink(x->rq->sink_ctx, p, n);
        if (rc != 0) {
            x->sink_rc = rc;
            return 0;
        }
        return n;
    }
    if (buf_append(&x->rs->body, p, n) != 0) {
        x->sink_rc = E_RANGE;
        return 0;
    }
    return n;
}

static size_t on_read(char *p, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    const struct reg_req *rq = x->rq;
    uint64_t total = rq->body_fd >= 0 ? rq->body_n : rq->body_len;
    size_t n = size * nitems;
    if (x->sent >= total)
        return 0;
    if (n > total - x->sent)
        n = (size_t)(total - x->sent);
    if (rq->body_fd >= 0) {
        ssize_t k = pread(rq->body_fd, p, n, (off_t)(rq->body_off + x->sent));
        if (k <= 0)
            return CURL_READFUNC_ABORT;
        n = (size_t)k;
    } else {
        memcpy(p, (const char *)rq->body + x->sent, n);
    }
    x->sent += n;
    return n;
}

static int on_xferinfo(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct xfer *x = ud;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return reg__cancelled(x->c) ? 1 : 0;
}

static curl_socket_t on_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct xfer *x = ud;
    reg_connect_fn fn = x->c->o->connect ? x->c->o->connect : reg_connect_default;
    int fd = -1;
    (void)addr;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    x->connect_rc = fn(x->c->o->connect_ctx, x->host, x->port, &fd);
    if (x->connect_rc != 0 || fd < 0)
        return CURL_SOCKET_BAD;
    return fd;
}

static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    (void)ud;
    (void)fd;
    (void)purpose;
    return CURL_SOCKOPT_ALREADY_CONNECTED;
}

static int is_ip_literal(const char *h)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, h, tmp) == 1 || inet_pton(AF_INET6, h, tmp) == 1;
}

/* Adds the Authorization header this request may carry. */
static int add_auth(struct reg_client *c, const struct reg_req *rq, struct curl_slist **hdrs)
{
    char line[4200];
    struct curl_slist *t;
    line[0] = '\0';
    if (rq->authorization) {
        snprintf(line, sizeof(line), "Authorization: %s", rq->authorization);
    } else if (rq->basic) {
        snprintf(line, sizeof(line), "Authorization: Basic %s", rq->basic);
    } else if (!rq->no_auth && reg__same_host(c, rq->url)) {
        pthread_mutex_lock(&c->mu);
        if (c->token && strlen(c->token) < 4000)
            snprintf(line, sizeof(line), "Authorization: Bearer %s", c->token);
        else if (c->use_basic && c->basic[0])
            snprintf(line, sizeof(line), "Authorization: Basic %s", c->basic);
        pthread_mutex_unlock(&c->mu);
    }
    if (!line[0])
        return 0;
    t = curl_slist_append(*hdrs, line);
    explicit_bzero(line, sizeof(line));
    if (!t)
        return E_NOMEM;
    *hdrs = t;
    return 0;
}

static int build_headers(struct reg_client *c, const struct reg_req *rq, struct curl_slist **out)
{
    char line[512];
    struct curl_slist *h = NULL, *t;
    int rc = 0;
    /* no "Expect: 100-continue" round trip on uploads */
    if (!(h = curl_slist_append(NULL, "Expect:")))
        return E_NOMEM;
#define ADDH(fmt, v)                                 \
    do {                                             \
        if (v) {                                     \
            snprintf(line, sizeof(line), fmt, v);    \
            if (!(t = curl_slist_append(h, line))) { \
                rc = E_NOMEM;                        \
                goto out;                            \
            }                                        \
            h = t;                                   \
        }                                            \
    } while (0)
    ADDH("Accept: %s", rq->accept);
    ADDH("Content-Type: %s", rq->content_type);
    ADDH("Range: %s", rq->range);
    ADDH("Content-Range: %s", rq->content_range);
    ADDH("%s", rq->extra_header);
#undef ADDH
    rc = add_auth(c, rq, &h);
out:
    *out = h;
    return rc;
}

static void set_method(CURL *e, const struct reg_req *rq)
{
    int has_body = rq->body_fd >= 0 || rq->body;
    curl_off_t len = rq->body_fd >= 0 ? (curl_off_t)rq->body_n : (curl_off_t)rq->body_len;
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(rq->method, "POST") == 0 && !has_body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, has_body ? len : (curl_off_t)0);
        if (strcmp(rq->method, "PUT") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
    }
}

static int curl_failed(CURLcode cc, struct xfer *x, const char *errbuf, struct err_info *ei)
{
    if (x->sink_rc)
        return err_set(ei, x->sink_rc, "%s",
                       x->sink_rc == E_RANGE ? "response too large" : "download aborted");
    if (cc == CURLE_ABORTED_BY_CALLBACK || reg__cancelled(x->c))
        return err_set(ei, E_CANCELLED, "cancelled");
    if (x->connect_rc)
        return err_set(ei, x->connect_rc == E_PERM ? E_PERM : E_NET, "dial tcp %s:%d: %s", x->host,
                       x->port, err_str(x->connect_rc));
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return err_set(ei, E_TIMEOUT, "stalled: %s", errbuf[0] ? errbuf : "timeout");
    return err_set(ei, E_NET, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
}

int reg__http(struct reg_client *c, const struct reg_req *rq, struct reg_resp *rs,
              struct err_info *ei)
{
    struct xfer x;
    struct curl_slist *hdrs = NULL, *resolve = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", fake[320];
    CURL *e = NULL;
    CURLcode cc;
    int rc;
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.rq = rq;
    x.rs = rs;
    buf_reset(&rs->body);
    rs->body.max = rq->body_max ? rq->body_max : REG_MAX_SMALL_BODY;
    rs->status = 0;
    if (url_parts(rq->url, x.host, sizeof(x.host), &x.port) != 0)
        return err_set(ei, E_INVAL, "bad URL %.200s", rq->url);
    if (!(e = curl_easy_init()))
        return err_set(ei, E_NOMEM, "out of memory");
    if ((rc = build_headers(c, rq, &hdrs)) != 0)
        goto out;
    if (!is_ip_literal(x.host)) {
        /* a placeholder address: curl must not resolve; our callback connects by name */
        snprintf(fake, sizeof(fake), "%s:%d:127.0.0.1", x.host, x.port);
        if (!(resolve = curl_slist_append(NULL, fake))) {
            rc = E_NOMEM;
            goto out;
        }
        curl_easy_setopt(e, CURLOPT_RESOLVE, resolve);
    }
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "corral/" CORRAL_VERSION " (amd64 linux)");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &x);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &x);
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, &x);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)REG_STALL_SECONDS);
    if (getenv("CORRAL_CURL_VERBOSE"))
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L); /* debugging aid: libcurl's trace on stderr */
    set_method(e, rq);
    cc = curl_easy_perform(e);
    if (cc != CURLE_OK && !(cc == CURLE_PARTIAL_FILE && rs->status == 416)) {
        rc = curl_failed(cc, &x, errbuf, ei);
        goto out;
    }
    if (rs->status == 0)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &rs->status);
    rc = 0;
out:
    curl_slist_free_all(hdrs);
    curl_slist_free_all(resolve);
    curl_easy_cleanup(e);
    return rc;
}

/* ---- challenge, redirects ---- */

static int handle_401(struct reg_client *c, const struct reg_resp *rs, struct err_info *ei)
{
    struct reg_challenge ch;
    if (reg_challenge_parse(rs->www_auth, &ch) != 0)
        return err_set(ei, E_PERM, "unauthorized: access denied");
    if (strcasecmp(ch.scheme, "Bearer") == 0)
        return reg__token_fetch(c, &ch, ei);
    if (strcasecmp(ch.scheme, "Basic") == 0 && c->basic[0]) {
        pthread_mutex_lock(&c->mu);
        c->use_basic = 1;
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    return err_set(ei, E_PERM, "unauthorized: access denied");
}

int reg__request(struct reg_client *c, const struct reg_req *rq0, struct reg_resp *rs, int follow,
                 struct err_info *ei)
{
    struct reg_req rq = *rq0;
    char url[REG_URL_MAX];
    int rc, authed = 0;
    snprintf(url, sizeof(url), "%s", rq0->url);
    rq.url = url;
    for (int hops = 0; hops <= REG_MAX_REDIRECTS; hops++) {
        if ((rc = reg__http(c, &rq, rs, ei)) != 0)
            return rc;
        snprintf(rs->url, sizeof(rs->url), "%s", url);
        if (rs->status == 401 && !authed && !rq.no_auth && reg__same_host(c, url)) {
            authed = 1;
            if ((rc = handle_401(c, rs, ei)) != 0)
                return rc;
            hops--;
            continue;
        }
        if (!follow || rs->status < 300 || rs->status >= 400 || rs->status == 304 ||
            !rs->location[0])
            return 0;
        char next[REG_URL_MAX];
        if (reg__url_resolve(url, rs->location, next, sizeof(next)) != 0)
            return err_set(ei, E_NET, "bad redirect location");
        snprintf(rs->location, sizeof(rs->location), "%s", next);
        if (!reg__same_host(c, next))
            return 0; /* the caller decides; no credentials go there */
        snprintf(url, sizeof(url), "%s", next);
    }
    return err_set(ei, E_NET, "stopped after %d redirects", REG_MAX_REDIRECTS);
}

int reg__http_error(const struct reg_resp *rs, const char *what, struct err_info *ei)
{
    const char *body = buf_str(&rs->body);
    if (rs->status == 401 || rs->status == 403)
        return err_set(ei, E_PERM, "unauthorized: access denied");
    if (rs->status == 404)
        return err_set(ei, E_NOTFOUND, "%s: file does not exist", what);
    return err_set(ei, rs->status == 429 || rs->status >= 500 ? E_NET : E_INVAL, "%s: %ld: %.180s",
                   what, rs->status, body);
}

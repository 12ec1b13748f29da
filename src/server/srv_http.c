/*
 * srv_http.c - libmicrohttpd adapter: connection policy (Host check, CORS, body caps), route
 * lookup, and running api/ handlers on a worker thread per request.
 *
 * Flow of one request (MHD thread per connection):
 *   1. first access-handler call: route lookup, Host/CORS checks, upload open (blob routes);
 *   2. body chunks: JSON bodies are collected up to API_MAX_BODY_BYTES (more -> 413), upload
 *      routes hand each chunk to route->upload->write (streamed to disk);
 *   3. last call: a detached worker thread runs the handler.  The connection thread waits until
 *      the handler either finished (whole response: status + body) or emitted its first stream
 *      line (200 + NDJSON drained by MHD_create_response_from_callback).
 * The content reader waits on a condition variable and polls the socket for hang-up, so a client
 * that goes away sets req->cancelled within ~200 ms even while the handler produces nothing; the
 * completion callback sets it too.  struct sreq is shared by the connection side and the worker
 * and freed by whoever drops the last reference.
 */
#include "server/srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#define LOG_MODULE "http"
#include "api/api.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"

#define SRV_STREAM_BLOCK  (64u << 10) /* MHD read block for streamed responses */
#define SRV_WAIT_SLICE_MS 200
#define SRV_STOP_WAIT_S   10

struct srv_http {
    struct MHD_Daemon *mhd;
    const struct srv_config *cfg;
    struct api_env *env;
    atomic_int active; /* worker threads running */
    atomic_int stopping;
};

struct sreq {
    struct srv_http *srv;
    const struct api_route *route;
    char method[16];
    char *path;
    char *param;
    struct buf body;
    int early_status;   /* answered before running the handler (policy, upload open) */
    int answered;       /* HTTP status queued, for the access log */
    struct timespec t0; /* arrival, for the access log */
    void *upload;
    int upload_rc;
    struct api_req req;
    struct api_resp resp;
    char origin[512]; /* allowed Origin to echo, "" if none */
    int fd;           /* the connection's socket, for hang-up polling */
    atomic_int cancelled;
    /* worker <-> connection, protected by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct buf queue; /* streamed bytes not yet taken by MHD */
    size_t qoff;
    int started, done;
    int refs;
};

static void sreq_unref(struct sreq *r)
{
    int last;
    pthread_mutex_lock(&r->mu);
    last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (!last)
        return;
    if (r->upload && r->route && r->route->upload)
        r->route->upload->abort(r->upload);
    api_resp_fini(&r->resp);
    buf_fini(&r->body);
    buf_fini(&r->queue);
    mem_free(r->path);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    mem_free(r);
}

static struct sreq *sreq_new(struct srv_http *s, const char *method, const char *url)
{
    struct sreq *r = mem_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (!(r->path = mem_strdup(url))) {
        mem_free(r);
        return NULL;
    }
    r->srv = s;
    snprintf(r->method, sizeof(r->method), "%s", method);
    buf_init(&r->body, API_MAX_BODY_BYTES);
    buf_init(&r->queue, SRV_MAX_QUEUED_BYTES + API_MAX_LINE_BYTES);
    api_resp_init(&r->resp, NULL, NULL);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->refs = 1;
    r->fd = -1;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    return r;
}

/* ---- responses ---- */

static void add_common_headers(struct sreq *r, struct MHD_Response *mr, const char *ctype)
{
    if (ctype)
        MHD_add_response_header(mr, "Content-Type", ctype);
    if (*r->origin) {
        MHD_add_response_header(mr, "Access-Control-Allow-Origin",
                                r->srv->cfg->allow_all_origins ? "*" : r->origin);
        MHD_add_response_header(mr, "Vary", "Origin");
    }
}

static enum MHD_Result queue_buffer(struct MHD_Connection *c, struct sreq *r, int status,
                                    const char *ctype, const char *p, size_t n)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;
    mr = MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    add_common_headers(r, mr, ctype);
    r->answered = status;
    ret = MHD_queue_response(c, (unsigned)status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result queue_text(struct MHD_Connection *c, struct sreq *r, int status,
                                  const char *text)
{
    return queue_buffer(c, r, status, "text/plain; charset=utf-8", text, strlen(text));
}

static enum MHD_Result queue_error(struct MHD_Connection *c, struct sreq *r, int status,
                                   const char *msg)
{
    struct buf b;
    enum MHD_Result ret;
    json_t *v = json_pack("{s:s}", "error", msg);
    buf_init(&b, 64 << 10);
    if (!v || json_go_encode(v, 0, &b) != 0) {
        json_decref(v);
        buf_fini(&b);
        return MHD_NO;
    }
    json_decref(v);
    ret = queue_buffer(c, r, status, "application/json; charset=utf-8", b.p, b.n);
    buf_fini(&b);
    return ret;
}

/* ---- streaming ---- */

static int sreq_emit(void *ctx, const char *p, size_t n)
{
    struct sreq *r = ctx;
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    while (r->queue.n - r->qoff > SRV_MAX_QUEUED_BYTES && !atomic_load(&r->cancelled))
        pthread_cond_wait(&r->cv, &r->mu);
    if (atomic_load(&r->cancelled))
        rc = E_CANCELLED;
    else
        rc = buf_append(&r->queue, p, n);
    r->started = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int socket_gone(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
    if (fd < 0)
        return 0;
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void timed_wait(struct sreq *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += SRV_WAIT_SLICE_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    struct sreq *r = cls;
    ssize_t got;
    (void)pos;
    pthread_mutex_lock(&r->mu);
    while (r->queue.n == r->qoff && !r->done && !atomic_load(&r->cancelled)) {
        timed_wait(r);
        if (r->queue.n == r->qoff && !r->done && socket_gone(r->fd))
            atomic_store(&r->cancelled, 1);
    }
    if (r->queue.n > r->qoff) {
        size_t n = r->queue.n - r->qoff;
        if (n > max)
            n = max;
        memcpy(out, r->queue.p + r->qoff, n);
        r->qoff += n;
        if (r->qoff == r->queue.n)
            buf_reset(&r->queue), r->qoff = 0;
        got = (ssize_t)n;
    } else {
        got = atomic_load(&r->cancelled) ? MHD_CONTENT_READER_END_WITH_ERROR
                                         : MHD_CONTENT_READER_END_OF_STREAM;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return got;
}

static void stream_free(void *cls)
{
    sreq_unref(cls);
}

/* ---- worker ---- */

static void run_handler(struct sreq *r)
{
    struct err_info ei = {0};
    int rc = 0;
    struct api_req *q = &r->req;
    q->method = r->method;
    q->path = r->path;
    q->param = r->param;
    q->body = r->body.p;
    q->body_len = r->body.n;
    q->env = r->srv->env;
    q->cancelled = &r->cancelled;
    q->upload = r->upload;
    r->upload = NULL; /* the handler owns it now */
    if (r->route->flags & API_ROUTE_JSON) {
        if ((rc = json_parse_object(r->body.p ? r->body.p : "", r->body.n, &q->json, &ei)) != 0) {
            (void)api_resp_error(&r->resp, 400, "%s", ei.msg);
            return;
        }
    }
    json_set_go_struct(api_go_request(r->path)); /* names the type in decoder errors */
    rc = r->route->fn(q, &r->resp);
    json_set_go_struct(NULL);
    if (rc && !r->resp.status && !r->resp.started)
        (void)api_resp_error(&r->resp, api_status_for(rc), "%s", err_str(rc));
    else if (rc && r->resp.started && rc != E_CANCELLED && r->resp.stream)
        LOG_DEBUG("%s %s: stream ended with %s", r->method, r->path, err_str(rc));
    if (!rc)
        (void)api_stream_finish(&r->resp);
    json_decref(q->json);
    q->json = NULL;
}

static void *worker_main(void *arg)
{
    struct sreq *r = arg;
    struct srv_http *s = r->srv;
    run_handler(r);
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    sreq_unref(r);
    atomic_fetch_sub(&s->active, 1);
    return NULL;
}

static int start_worker(struct sreq *r)
{
    pthread_t t;
    pthread_attr_t at;
    int e;
    r->resp.emit = sreq_emit;
    r->resp.emit_ctx = r;
    pthread_mutex_lock(&r->mu);
    r->refs++;
    pthread_mutex_unlock(&r->mu);
    atomic_fetch_add(&r->srv->active, 1);
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    e = pthread_create(&t, &at, worker_main, r);
    pthread_attr_destroy(&at);
    if (e) {
        atomic_fetch_sub(&r->srv->active, 1);
        sreq_unref(r);
        return E_NOMEM;
    }
    return 0;
}

static enum MHD_Result respond_from_worker(struct MHD_Connection *c, struct sreq *r)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;
    int started, done;
    if (start_worker(r) != 0)
        return queue_error(c, r, 503, "server busy");
    pthread_mutex_lock(&r->mu);
    while (!r->started && !r->done && !atomic_load(&r->cancelled)) {
        /* a handler may wait long before its first byte (a model loading, a queue): notice a
         * client that hangs up meanwhile so the handler can give up (499) */
        timed_wait(r);
        if (!r->started && !r->done && !atomic_load(&r->cancelled) && socket_gone(r->fd)) {
            atomic_store(&r->cancelled, 1);
            pthread_cond_broadcast(&r->cv);
        }
    }
    started = r->started;
    done = r->done;
    pthread_mutex_unlock(&r->mu);
    if (!started && !done)
        return MHD_NO; /* the client left (or the daemon stops): close; the worker finishes alone */
    if (!started) {
        if (!strcmp(r->method, "HEAD") || !r->resp.body.n)
            return queue_buffer(c, r, r->resp.status ? r->resp.status : 200,
                                r->resp.body.n ? r->resp.content_type : NULL, "", 0);
        return queue_buffer(c, r, r->resp.status, r->resp.content_type, r->resp.body.p,
                            r->resp.body.n);
    }
    mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SRV_STREAM_BLOCK, stream_reader, r,
                                           stream_free);
    if (!mr)
        return MHD_NO;
    pthread_mutex_lock(&r->mu);
    r->refs++; /* the response's reference, dropped by stream_free */
    pthread_mutex_unlock(&r->mu);
    add_common_headers(r, mr, r->resp.content_type ? r->resp.content_type : "application/x-ndjson");
    ret = MHD_queue_response(c, 200, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* ---- first call: policy and routing ---- */

static const char *hdr(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result preflight(struct MHD_Connection *c, struct sreq *r)
{
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;
    if (!mr)
        return MHD_NO;
    add_common_headers(r, mr, NULL);
    MHD_add_response_header(mr, "Access-Control-Allow-Methods",
                            "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS");
    MHD_add_response_header(mr, "Access-Control-Allow-Headers",
                            "Authorization,Content-Type,User-Agent,Accept,X-Requested-With,"
                            "OpenAI-Beta,x-stainless-arch,x-stainless-async,"
                            "x-stainless-custom-poll-interval,x-stainless-helper-method,"
                            "x-stainless-lang,x-stainless-os,x-stainless-package-version,"
                            "x-stainless-poll-helper,x-stainless-retry-count,"
                            "x-stainless-runtime,x-stainless-runtime-version,"
                            "x-stainless-timeout");
    MHD_add_response_header(mr, "Access-Control-Max-Age", "43200");
    r->answered = 204;
    ret = MHD_queue_response(c, 204, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* 1 when the path ends in '/' and the same path without it has a route for this method (gin
 * then redirects there: 301 for GET, 307 otherwise). */
static int trailing_slash_route(const struct sreq *r)
{
    const struct api_route *route = NULL;
    const char *param = NULL;
    char p[1024];
    size_t n = strlen(r->path);
    if (n < 2 || n >= sizeof(p) || r->path[n - 1] != '/')
        return 0;
    snprintf(p, sizeof(p), "%.*s", (int)(n - 1), r->path);
    return api_route_find(r->method, p, &route, &param) == 0;
}

/* The redirect of a trailing-slash path, as Go's http.Redirect writes it (an HTML body for
 * GET and HEAD only). */
static enum MHD_Result queue_redirect(struct MHD_Connection *c, struct sreq *r, int status)
{
    char loc[1024], body[1200];
    struct MHD_Response *mr;
    enum MHD_Result ret;
    int html = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    snprintf(loc, sizeof(loc), "%.*s", (int)strlen(r->path) - 1, r->path);
    snprintf(body, sizeof(body), "<a href=\"%s\">Moved Permanently</a>.\n\n", loc);
    mr = MHD_create_response_from_buffer(html ? strlen(body) : 0, body, MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    add_common_headers(r, mr, html ? "text/html; charset=utf-8" : NULL);
    MHD_add_response_header(mr, "Location", loc);
    r->answered = status;
    ret = MHD_queue_response(c, (unsigned)status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* Returns 0 to go on, or an HTTP status already decided (r->early_status). */
static int classify(struct MHD_Connection *c, struct sreq *r)
{
    const char *origin = hdr(c, "Origin"), *q;
    const union MHD_ConnectionInfo *ci;
    int rc;
    if ((q = strchr(r->path, '?')))
        r->path[q - r->path] = '\0';
    if (r->srv->cfg->loopback && !srv_host_allowed(hdr(c, "Host")))
        return 403;
    if (origin && *origin) {
        if (!srv_origin_allowed(r->srv->cfg, origin))
            return 403;
        snprintf(r->origin, sizeof(r->origin), "%s", origin);
    }
    if (!strcmp(r->method, "OPTIONS") && *r->origin)
        return 204; /* CORS preflight; a bare OPTIONS falls through to routing (405/404) */
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->fd = ci ? ci->connect_fd : -1;
    rc = api_route_find(r->method, r->path, &r->route, (const char **)&r->param);
    if (rc == E_NOTFOUND && trailing_slash_route(r))
        return strcmp(r->method, "GET") ? 307 : 301; /* gin's RedirectTrailingSlash */
    if (rc == E_NOTFOUND)
        return 404;
    if (rc)
        return 405;
    return 0;
}

static enum MHD_Result early_answer(struct MHD_Connection *c, struct sreq *r)
{
    switch (r->early_status) {
    case 403:
        return queue_buffer(c, r, 403, NULL, "", 0);
    case 204:
        return preflight(c, r);
    case 301:
    case 307:
        return queue_redirect(c, r, r->early_status);
    case 404:
        return queue_text(c, r, 404, "404 page not found");
    case 405:
        return queue_text(c, r, 405, "405 method not allowed");
    case 413:
        return queue_error(c, r, 413, "request body too large");
    default:
        if (r->resp.status)
            return queue_buffer(c, r, r->resp.status, r->resp.content_type,
                                r->resp.body.p ? r->resp.body.p : "", r->resp.body.n);
        return queue_error(c, r, r->early_status, err_str(r->upload_rc));
    }
}

static void upload_open(struct sreq *r)
{
    int rc;
    r->req.method = r->method;
    r->req.path = r->path;
    r->req.param = r->param;
    r->req.env = r->srv->env;
    r->req.cancelled = &r->cancelled;
    rc = r->route->upload->open(&r->req, &r->resp, &r->upload);
    if (r->resp.status)
        r->early_status = r->resp.status;
    else if (rc)
        r->early_status = api_status_for(rc), r->upload_rc = rc;
}

static void take_body(struct sreq *r, const char *data, size_t n)
{
    int rc;
    if (r->early_status || !r->route || (r->route->flags & API_ROUTE_NOBODY))
        return;
    if (r->route->flags & API_ROUTE_UPLOAD) {
        if (r->upload && (rc = r->route->upload->write(r->upload, data, n)) != 0)
            r->early_status = api_status_for(rc), r->upload_rc = rc;
        return;
    }
    if (buf_append(&r->body, data, n) != 0)
        r->early_status = 413;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *data_size, void **con_cls)
{
    struct srv_http *s = cls;
    struct sreq *r = *con_cls;
    (void)version;
    if (!r) {
        if (!(r = sreq_new(s, method, url)))
            return MHD_NO;
        *con_cls = r;
        r->early_status = classify(c, r);
        if (!r->early_status && (r->route->flags & API_ROUTE_LARGE_BODY))
            r->body.max = API_MAX_LARGE_BODY_BYTES; /* still empty: only the cap changes */
        if (!r->early_status && (r->route->flags & API_ROUTE_UPLOAD) && r->route->upload)
            upload_open(r);
        return MHD_YES;
    }
    if (*data_size) {
        take_body(r, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    LOG_DEBUG("%s %s", r->method, r->path);
    if (r->early_status)
        return early_answer(c, r);
    return respond_from_worker(c, r);
}

/* One line per request, like Ollama's gin log: status, duration, client, method, path. */
static void access_log(struct MHD_Connection *c, const struct sreq *r,
                       enum MHD_RequestTerminationCode toe)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char peer[64] = "?";
    struct timespec t1;
    double ms;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, peer,
                  sizeof(peer));
    else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, peer,
                  sizeof(peer));
    LOG_INFO("%d | %10.3fms | %15s | %-7s \"%s\"%s", r->answered, ms, peer, r->method, r->path,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (client gone)");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sreq *r = *con_cls;
    (void)cls;
    if (!r)
        return;
    access_log(c, r, toe);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->cancelled, 1);
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    *con_cls = NULL;
    sreq_unref(r);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    LOG_DEBUG("microhttpd: %s", msg);
}

int srv_http_start(int fd, const struct srv_config *cfg, struct api_env *env, struct srv_http **out,
                   struct err_info *ei)
{
    struct srv_http *s = mem_calloc(1, sizeof(*s));
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (!s) {
        close(fd);
        return err_set(ei, E_NOMEM, "out of memory");
    }
    s->cfg = cfg;
    s->env = env;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)SRV_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)SRV_MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)SRV_IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_END);
    if (!s->mhd) {
        close(fd);
        mem_free(s);
        return err_set(ei, E_INTERNAL, "could not start the HTTP server");
    }
    *out = s;
    return 0;
}

void srv_http_stop(struct srv_http *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    MHD_stop_daemon(s->mhd);
    /* connection threads are gone; their requests were cancelled by on_completed */
    for (int i = 0; i < SRV_STOP_WAIT_S * 20 && atomic_load(&s->active) > 0; i++)
        usleep(50000);
    if (atomic_load(&s->active) > 0)
        LOG_WARN("%d requests still running at shutdown", atomic_load(&s->active));
    else
        mem_free(s);
}

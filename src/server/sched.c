/*
 * sched.c - the model scheduler (see sched.h for the semantics and the thread model).
 *
 * Sections: configuration (env, keep_alive parsing); instances (load handshake, reader thread,
 * teardown); acquire/release; lease operations (tokenize, complete, events); reaper; /api/ps.
 *
 * Invariants, all under s->mu:
 *   - an instance is in s->list while it may take new leases; a dead one (runner gone) is
 *     detached at once so the next request loads a fresh runner, and destroyed by whoever drops
 *     its last reference (a lease, or the loader);
 *   - inst->refs counts leases plus a loader in progress; 0 refs + expired = reaped;
 *   - every lease is on its instance's lease list while it holds a slot, so the reader thread can
 *     route a frame to it by rid.
 * Processes are stopped outside the lock (joining the reader thread needs it).
 */
#include "server/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "sched"
#include "api/api_llm.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/srv.h"

#define CRASH_MSG                                                                           \
    "model runner has unexpectedly stopped, this may be due to resource limitations or an " \
    "internal error, check ollama server logs for details"
#define NS_PER_S 1000000000LL

enum inst_state { INST_LOADING, INST_READY, INST_DEAD };

struct lease_ev {
    json_t *ev;
    struct lease_ev *next;
};

struct inst;

struct sched_lease {
    struct sched *s;
    struct inst *in;
    uint64_t rid; /* request currently routed to this lease, 0 none */
    struct lease_ev *head, *tail;
    size_t n_ev;
    int gone;                 /* instance died: sched_next reports an error */
    pthread_cond_t cv;        /* signalled on a new event (with s->mu) */
    struct sched_lease *next; /* on in->leases */
};

struct inst {
    char *key, *name, *digest;
    json_t *details;
    int32_t num_ctx, num_batch, num_thread; /* requested runner options (reload when changed) */
    int use_mmap;                           /* 0/1, likewise */
    int32_t n_ctx;                          /* effective, from the runner */
    int64_t size;                           /* bytes, from the runner */
    enum inst_state state;
    char err[256];
    int refs;
    int in_list;
    int64_t keep_alive_ns;
    int64_t expires_ns; /* realtime ns when idle; meaningful when refs == 0 */
    uint64_t last_used; /* monotonic ns, for LRU */
    struct runner_proc proc;
    pthread_t reader;
    int reader_started;
    pthread_mutex_t wmu; /* serialises writes to proc.sock */
    struct sched_lease *leases;
    struct inst *next;
};

/* A request inside sched_acquire (lives on its caller's stack). */
struct waiter {
    const char *key;
    struct waiter *next;
};

struct sched {
    struct sched_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* instance state changes, slot frees */
    struct inst *list;
    int pending;                          /* requests inside sched_acquire */
    struct waiter *wait_head, *wait_tail; /* those requests in arrival order (FIFO per model) */
    atomic_ullong next_rid;
    int stopping;
    int n_leases; /* leases not yet released (all instances, listed or not) */
    pthread_t reaper;
};

/* ---- time and configuration ---------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* An unsigned integer variable read as Ollama's envconfig.Uint does: quotes and spaces
 * stripped, anything but decimal digits warned about and ignored (the default stays); values
 * over our hard cap hi are clamped to it with a warning. */
static void env_uint(const char *name, long hi, int *out)
{
    char v[64];
    unsigned long long x;
    if (!srv_env_get(name, v, sizeof(v)))
        return;
    if (strspn(v, "0123456789") != strlen(v)) {
        LOG_WARN("invalid environment variable, using default key=%s value=%s default=%d", name, v,
                 *out);
        return;
    }
    errno = 0;
    x = strtoull(v, NULL, 10);
    if (errno || x > (unsigned long long)hi) {
        LOG_WARN("%s=%s is over the limit, using %ld", name, v, hi);
        x = (unsigned long long)hi;
    }
    *out = (int)x;
}

int sched_config_from_env(struct sched_config *c, struct err_info *ei)
{
    char ka[128];
    int ctx = 0;
    memset(c, 0, sizeof(*c));
    c->max_loaded = 3;
    c->num_parallel = 1;
    c->max_queue = 512;
    c->keep_alive_ns = 5 * 60 * NS_PER_S;
    c->self_exe = "/proc/self/exe";
    env_uint("OLLAMA_MAX_LOADED_MODELS", SCHED_MAX_LOADED, &c->max_loaded);
    env_uint("OLLAMA_NUM_PARALLEL", RPROTO_MAX_PARALLEL, &c->num_parallel);
    env_uint("OLLAMA_MAX_QUEUE", SCHED_MAX_QUEUE, &c->max_queue);
    env_uint("OLLAMA_CONTEXT_LENGTH", RPROTO_MAX_CTX, &ctx);
    c->num_ctx = ctx;
    /* a duration or whole seconds; anything else keeps 5m, as envconfig.KeepAlive */
    if (srv_env_get("OLLAMA_KEEP_ALIVE", ka, sizeof(ka))) {
        json_t *j = json_string(ka);
        int64_t ns = 0;
        if (!j)
            return E_NOMEM;
        if (api_parse_keep_alive(j, &ns, ei) == 0)
            c->keep_alive_ns = ns;
        else
            LOG_WARN("invalid OLLAMA_KEEP_ALIVE=%s, using 5m", ka);
        json_decref(j);
    }
    return 0;
}

/* ---- instances ------------------------------------------------------------------------------ */

static void inst_free(struct inst *in)
{
    if (!in)
        return;
    mem_free(in->key);
    mem_free(in->name);
    mem_free(in->digest);
    json_decref(in->details);
    pthread_mutex_destroy(&in->wmu);
    mem_free(in);
}

/* Stops the runner and frees in; in must be detached and unreferenced.  Called without mu.
 * Logs how the runner ended: an error when it died on its own (a crash, a failed load). */
static void inst_destroy(struct inst *in)
{
    struct runner_exit ex;
    char why[64] = "exit status unknown";
    pid_t pid = in->proc.pid;
    int died = in->state == INST_DEAD; /* before our shutdown ends its reader; in is ours alone */
    if (in->proc.sock >= 0)
        shutdown(in->proc.sock, SHUT_RDWR);
    if (in->reader_started)
        pthread_join(in->reader, NULL);
    runner_proc_stop(&in->proc, 2000, &ex);
    if (ex.known)
        runner_status_describe(ex.status, why, sizeof(why));
    if (ex.known && !ex.killed && !(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 0))
        died = 1;
    if (pid > 0 && died)
        LOG_ERR("runner pid=%d model=%s stopped: %s", (int)pid, in->name, why);
    else if (ex.killed)
        LOG_WARN("runner pid=%d model=%s did not exit in time: %s", (int)pid, in->name, why);
    LOG_INFO("unloaded model=%s", in->name);
    inst_free(in);
}

static void detach(struct sched *s, struct inst *in)
{
    struct inst **pp;
    if (!in->in_list)
        return;
    for (pp = &s->list; *pp; pp = &(*pp)->next)
        if (*pp == in) {
            *pp = in->next;
            break;
        }
    in->in_list = 0;
    in->next = NULL;
}

static void push_event(struct sched_lease *l, json_t *ev)
{
    struct lease_ev *e;
    if (l->n_ev >= SCHED_MAX_EVENTS || !(e = mem_calloc(1, sizeof(*e)))) {
        json_decref(ev);
        return;
    }
    e->ev = ev;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->n_ev++;
    pthread_cond_signal(&l->cv);
}

static void route(struct sched *s, struct inst *in, json_t *m)
{
    uint64_t rid = rproto_rid(m);
    pthread_mutex_lock(&s->mu);
    for (struct sched_lease *l = in->leases; l; l = l->next)
        if (rid && l->rid == rid) {
            push_event(l, m);
            m = NULL;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    json_decref(m); /* a late frame of a cancelled request */
}

static void mark_dead(struct sched *s, struct inst *in)
{
    pthread_mutex_lock(&s->mu);
    if (in->state != INST_DEAD) {
        in->state = INST_DEAD;
        snprintf(in->err, sizeof(in->err), "%s", CRASH_MSG);
    }
    /* with leases (or a loader) the last of them destroys it; idle ones the reaper/acquire */
    if (in->refs > 0)
        detach(s, in);
    for (struct sched_lease *l = in->leases; l; l = l->next) {
        l->gone = 1;
        pthread_cond_signal(&l->cv);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

struct reader_arg {
    struct sched *s;
    struct inst *in;
};

static void *reader_main(void *arg)
{
    struct reader_arg a = *(struct reader_arg *)arg;
    struct rproto_reader rd;
    struct err_info ei = {0};
    json_t *m;
    mem_free(arg);
    rproto_reader_init(&rd);
    while (rproto_recv(&rd, a.in->proc.sock, &m, &ei) == 0)
        route(a.s, a.in, m);
    rproto_reader_fini(&rd);
    LOG_DEBUG("runner stream ended model=%s", a.in->name);
    mark_dead(a.s, a.in);
    return NULL;
}

static int send_frame(struct inst *in, const json_t *m)
{
    int rc;
    pthread_mutex_lock(&in->wmu);
    rc = in->proc.sock >= 0 ? rproto_send(in->proc.sock, m) : E_IO;
    pthread_mutex_unlock(&in->wmu);
    return rc;
}

/* Waits for the runner's answer to `load` (before the reader thread exists). */
static int load_handshake(struct inst *in, struct err_info *ei)
{
    struct rproto_reader rd;
    json_t *m = NULL;
    struct pollfd pfd = {.fd = in->proc.sock, .events = POLLIN};
    uint64_t deadline = mono_ns() + (uint64_t)SCHED_LOAD_TIMEOUT_MS * 1000000u;
    int rc = 0;
    rproto_reader_init(&rd);
    while (!m) {
        if ((rc = rproto_reader_next(&rd, &m, ei)) != 0 || m)
            break;
        if (mono_ns() > deadline) {
            rc = err_set(ei, E_TIMEOUT, "timed out waiting for the model to load");
            break;
        }
        if (poll(&pfd, 1, 1000) < 0 && errno != EINTR) {
            rc = err_set(ei, E_IO, "poll: %s", strerror(errno));
            break;
        }
        if ((rc = rproto_reader_fill(&rd, in->proc.sock)) != 0) {
            rc = err_set(ei, E_IO, "%s", CRASH_MSG);
            break;
        }
    }
    rproto_reader_fini(&rd);
    if (rc != 0)
        return rc;
    if (strcmp(rproto_type(m), "loaded") != 0) {
        const char *msg = json_string_value(json_object_get(m, "msg"));
        rc = err_set(ei, E_IO, "%s", msg ? msg : "the runner failed to load the model");
    } else {
        json_t *v = json_object_get(m, "n_ctx");
        in->n_ctx = json_is_integer(v) ? (int32_t)json_integer_value(v) : in->num_ctx;
        in->size = json_integer_value(json_object_get(m, "size"));
    }
    json_decref(m);
    return rc;
}

/* Spawns and loads; called without mu by the thread that created the LOADING instance. */
static int inst_load(struct sched *s, struct inst *in, struct err_info *ei)
{
    struct reader_arg *ra;
    json_t *msg;
    int fd, rc;
    if ((fd = open(in->key, O_RDONLY | O_CLOEXEC)) < 0)
        return err_set(ei, E_NOTFOUND, "model blob: %s", strerror(errno));
    if (s->cfg.spawn)
        rc = s->cfg.spawn(s->cfg.spawn_user, fd, &in->proc, ei);
    else
        rc = runner_spawn(s->cfg.self_exe ? s->cfg.self_exe : "/proc/self/exe", fd, &in->proc, ei);
    close(fd);
    if (rc != 0)
        return rc;
    msg = json_pack("{s:s, s:i, s:i, s:i, s:i, s:b}", "t", "load", "num_ctx", in->num_ctx,
                    "num_parallel", s->cfg.num_parallel, "num_batch", in->num_batch, "num_thread",
                    in->num_thread, "use_mmap", in->use_mmap);
    rc = msg ? send_frame(in, msg) : E_NOMEM;
    json_decref(msg);
    if (rc == 0)
        rc = load_handshake(in, ei);
    if (rc != 0)
        return rc;
    if (!(ra = mem_alloc(sizeof(*ra))))
        return E_NOMEM;
    ra->s = s;
    ra->in = in;
    if (pthread_create(&in->reader, NULL, reader_main, ra) != 0) {
        mem_free(ra);
        return err_set(ei, E_NOMEM, "cannot start the reader thread");
    }
    in->reader_started = 1;
    return 0;
}

static struct inst *inst_new(struct sched *s, const struct sched_model *m)
{
    struct inst *in = mem_calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    pthread_mutex_init(&in->wmu, NULL);
    in->proc.sock = -1;
    in->key = mem_strdup(m->key);
    in->name = mem_strdup(m->name ? m->name : m->key);
    in->digest = mem_strdup(m->digest ? m->digest : "");
    in->details = m->details ? json_deep_copy(m->details) : json_object();
    in->num_ctx = m->num_ctx > 0 ? m->num_ctx : s->cfg.num_ctx;
    in->num_batch = m->num_batch > 0 ? m->num_batch : 512;
    in->num_thread = m->num_thread;
    in->use_mmap = m->use_mmap == 1;
    in->keep_alive_ns = s->cfg.keep_alive_ns;
    in->state = INST_LOADING;
    if (!in->key || !in->name || !in->digest || !in->details) {
        inst_free(in);
        return NULL;
    }
    return in;
}

static struct inst *find(struct sched *s, const char *key)
{
    for (struct inst *in = s->list; in; in = in->next)
        if (strcmp(in->key, key) == 0)
            return in;
    return NULL;
}

static int needs_reload(const struct sched *s, const struct inst *in, const struct sched_model *m)
{
    int32_t ctx = m->num_ctx > 0 ? m->num_ctx : s->cfg.num_ctx;
    int32_t batch = m->num_batch > 0 ? m->num_batch : 512;
    return ctx != in->num_ctx || batch != in->num_batch || m->num_thread != in->num_thread ||
           (m->use_mmap == 1) != in->use_mmap;
}

/* ---- acquire / release ---------------------------------------------------------------------- */

/* Evicts the least recently used idle instance; returns it detached (caller destroys it
 * without mu) or NULL when every instance is busy. */
static struct inst *pick_victim(struct sched *s)
{
    struct inst *best = NULL;
    for (struct inst *in = s->list; in; in = in->next)
        if (in->refs == 0 && in->state != INST_LOADING &&
            (!best || in->last_used < best->last_used))
            best = in;
    if (best)
        detach(s, best);
    return best;
}

static int count_loaded(const struct sched *s)
{
    int n = 0;
    for (const struct inst *in = s->list; in; in = in->next)
        n++;
    return n;
}

static struct sched_lease *lease_new(struct sched *s, struct inst *in)
{
    struct sched_lease *l = mem_calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->s = s;
    l->in = in;
    pthread_cond_init(&l->cv, NULL);
    l->next = in->leases;
    in->leases = l;
    s->n_leases++;
    return l;
}

static void timed_wait(struct sched *s, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* Loads a new instance for m with mu held on entry and exit (released while loading). */
static int load_locked(struct sched *s, const struct sched_model *m, struct inst **out,
                       uint64_t *load_ns, struct err_info *ei)
{
    struct inst *in = inst_new(s, m);
    uint64_t t0 = mono_ns();
    int rc;
    if (!in)
        return E_NOMEM;
    in->refs = 1; /* the loader */
    in->in_list = 1;
    in->next = s->list;
    s->list = in;
    pthread_mutex_unlock(&s->mu);
    LOG_INFO("loading model=%s num_ctx=%d parallel=%d use_mmap=%s", in->name, in->num_ctx,
             s->cfg.num_parallel, in->use_mmap ? "true" : "false");
    rc = inst_load(s, in, ei);
    pthread_mutex_lock(&s->mu);
    in->refs--;
    if (rc == 0 && in->state == INST_DEAD)
        rc = err_set(ei, E_IO, "%s", CRASH_MSG);
    if (rc != 0) {
        LOG_ERR("load failed model=%s: %s", in->name, ei ? ei->msg : err_str(rc));
        in->state = INST_DEAD;
        detach(s, in);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        inst_destroy(in);
        pthread_mutex_lock(&s->mu);
        return rc;
    }
    if (in->state == INST_LOADING)
        in->state = INST_READY;
    *load_ns += mono_ns() - t0;
    *out = in;
    pthread_cond_broadcast(&s->cv);
    return 0;
}

/* 1 when no request that arrived before w waits for the same model (FIFO per model). */
static int first_for_key(const struct sched *s, const struct waiter *w)
{
    for (const struct waiter *o = s->wait_head; o && o != w; o = o->next)
        if (strcmp(o->key, w->key) == 0)
            return 0;
    return 1;
}

static void waiter_remove(struct sched *s, struct waiter *w)
{
    struct waiter **pp, *prev = NULL;
    for (pp = &s->wait_head; *pp; prev = *pp, pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            if (s->wait_tail == w)
                s->wait_tail = prev;
            break;
        }
    pthread_cond_broadcast(&s->cv); /* the next in line may proceed */
}

/* One pass of the acquire loop with mu held: 1 = got a lease, 2 = retry at once, 0 = wait for
 * a change, <0 error. */
static int try_acquire(struct sched *s, const struct waiter *w, const struct sched_model *m,
                       struct sched_lease **out, uint64_t *load_ns, struct err_info *ei)
{
    struct inst *in = find(s, m->key), *victim;
    int rc;
    if (!first_for_key(s, w))
        return 0;
    if (in && ((in->state == INST_DEAD && in->refs == 0) ||
               (in->state == INST_READY && in->refs == 0 && needs_reload(s, in, m)))) {
        detach(s, in);
        pthread_mutex_unlock(&s->mu);
        inst_destroy(in);
        pthread_mutex_lock(&s->mu);
        return 2;
    }
    if (in && in->state == INST_READY && in->refs < s->cfg.num_parallel) {
        if (!(*out = lease_new(s, in)))
            return E_NOMEM;
        in->refs++;
        in->last_used = mono_ns();
        return 1;
    }
    if (in)
        return 0; /* loading, or every slot busy */
    if (count_loaded(s) >= s->cfg.max_loaded) {
        if (!(victim = pick_victim(s)))
            return 0;
        pthread_mutex_unlock(&s->mu);
        inst_destroy(victim);
        pthread_mutex_lock(&s->mu);
        return 2;
    }
    if ((rc = load_locked(s, m, &in, load_ns, ei)) != 0)
        return rc;
    return 2; /* loaded: the next pass takes a slot (others may race for it fairly) */
}

int sched_acquire(struct sched *s, const struct sched_model *m, int64_t keep_alive_ns,
                  const atomic_int *cancelled, struct sched_lease **out, uint64_t *load_ns,
                  struct err_info *ei)
{
    int rc = 0;
    uint64_t lns = 0;
    struct waiter w = {m->key, NULL};
    pthread_mutex_lock(&s->mu);
    if (s->pending >= s->cfg.max_queue) {
        pthread_mutex_unlock(&s->mu);
        return err_set(ei, E_BUSY,
                       "server busy, please try again.  maximum pending requests exceeded");
    }
    s->pending++;
    if (s->wait_tail)
        s->wait_tail->next = &w;
    else
        s->wait_head = &w;
    s->wait_tail = &w;
    for (;;) {
        if ((cancelled && atomic_load(cancelled)) || s->stopping) {
            rc = err_set(ei, E_CANCELLED, "request canceled");
            break;
        }
        rc = try_acquire(s, &w, m, out, &lns, ei);
        if (rc == 2)
            continue;
        if (rc != 0)
            break;
        timed_wait(s, 100);
    }
    s->pending--;
    waiter_remove(s, &w);
    if (rc == 1) {
        if (keep_alive_ns != SCHED_KEEP_UNSET)
            (*out)->in->keep_alive_ns = keep_alive_ns;
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (load_ns)
        *load_ns = lns;
    return rc;
}

static void drop_events(struct sched_lease *l)
{
    while (l->head) {
        struct lease_ev *e = l->head;
        l->head = e->next;
        json_decref(e->ev);
        mem_free(e);
    }
    l->tail = NULL;
    l->n_ev = 0;
}

void sched_release(struct sched_lease *l, int64_t keep_alive_ns)
{
    struct sched *s;
    struct inst *in, *kill = NULL;
    struct sched_lease **pp;
    if (!l)
        return;
    s = l->s;
    in = l->in;
    pthread_mutex_lock(&s->mu);
    for (pp = &in->leases; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    drop_events(l);
    in->refs--;
    s->n_leases--;
    in->last_used = mono_ns();
    if (keep_alive_ns != SCHED_KEEP_UNSET)
        in->keep_alive_ns = keep_alive_ns;
    if (in->refs == 0) {
        in->expires_ns =
            in->keep_alive_ns == SCHED_KEEP_FOREVER ? INT64_MAX : real_ns() + in->keep_alive_ns;
        if (in->keep_alive_ns == 0 || !in->in_list) {
            detach(s, in);
            kill = in;
        }
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&l->cv);
    mem_free(l);
    if (kill)
        inst_destroy(kill);
}

int32_t sched_lease_num_ctx(const struct sched_lease *l)
{
    return l->in->n_ctx;
}

/* ---- lease operations --------------------------------------------------------------------- */

static int lease_send(struct sched_lease *l, json_t *m)
{
    int rc;
    uint64_t rid = atomic_fetch_add(&l->s->next_rid, 1) + 1;
    if (!m)
        return E_NOMEM;
    json_object_set_new(m, "rid", json_integer((json_int_t)rid));
    pthread_mutex_lock(&l->s->mu);
    drop_events(l);
    l->rid = rid;
    pthread_mutex_unlock(&l->s->mu);
    rc = send_frame(l->in, m);
    json_decref(m);
    return rc;
}

int sched_next(struct sched_lease *l, int timeout_ms, json_t **ev)
{
    struct sched *s = l->s;
    struct timespec ts;
    int rc = 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    *ev = NULL;
    pthread_mutex_lock(&s->mu);
    while (!l->head && !l->gone)
        if (pthread_cond_timedwait(&l->cv, &s->mu, &ts) == ETIMEDOUT)
            break;
    if (l->head) {
        struct lease_ev *e = l->head;
        l->head = e->next;
        if (!l->head)
            l->tail = NULL;
        l->n_ev--;
        *ev = e->ev;
        mem_free(e);
    } else if (l->gone) {
        *ev = json_pack("{s:s, s:s}", "t", "error", "msg", CRASH_MSG);
        rc = *ev ? 0 : E_NOMEM;
    } else {
        rc = E_TIMEOUT;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Sends m and waits for the reply of type want (or an error). */
static int request_reply(struct sched_lease *l, json_t *m, const char *want, json_t **reply,
                         struct err_info *ei)
{
    json_t *ev = NULL;
    int rc;
    if ((rc = lease_send(l, m)) != 0)
        return err_set(ei, rc, "%s", CRASH_MSG);
    for (;;) {
        rc = sched_next(l, 1000, &ev);
        if (rc == E_TIMEOUT)
            continue;
        if (rc != 0)
            return rc;
        if (strcmp(rproto_type(ev), want) == 0)
            break;
        if (strcmp(rproto_type(ev), "error") == 0) {
            const char *msg = json_string_value(json_object_get(ev, "msg"));
            rc = err_set(ei, E_IO, "%s", msg ? msg : "runner error");
            json_decref(ev);
            return rc;
        }
        json_decref(ev);
    }
    *reply = ev;
    return 0;
}

int sched_tokenize(struct sched_lease *l, const char *text, int add_special, int special,
                   int32_t **ids, size_t *n, struct err_info *ei)
{
    json_t *reply = NULL;
    int rc = request_reply(l,
                           json_pack("{s:s, s:s, s:b, s:b}", "t", "tokenize", "text", text,
                                     "add_special", add_special, "special", special),
                           "tokens", &reply, ei);
    if (rc != 0)
        return rc;
    rc = rproto_tokens_parse(json_object_get(reply, "tokens"), 0, ids, n, ei);
    json_decref(reply);
    return rc;
}

int sched_detokenize(struct sched_lease *l, const int32_t *ids, size_t n, char **text,
                     struct err_info *ei)
{
    json_t *reply = NULL, *arr = rproto_tokens_build(ids, n);
    int rc;
    if (!arr)
        return E_NOMEM;
    rc = request_reply(l, json_pack("{s:s, s:o}", "t", "detokenize", "tokens", arr), "text", &reply,
                       ei);
    if (rc != 0)
        return rc;
    {
        const char *t = json_string_value(json_object_get(reply, "text"));
        *text = mem_strdup(t ? t : "");
    }
    json_decref(reply);
    return *text ? 0 : E_NOMEM;
}

int sched_embed(struct sched_lease *l, const char *text, float **vec, size_t *n,
                struct err_info *ei)
{
    json_t *reply = NULL, *arr, *v;
    size_t i, cnt;
    float *out;
    int rc = request_reply(l, json_pack("{s:s, s:s}", "t", "embed", "text", text), "embedding",
                           &reply, ei);
    if (rc != 0)
        return rc;
    arr = json_object_get(reply, "vec");
    cnt = json_array_size(arr);
    if (cnt == 0 || cnt > SCHED_MAX_EMBED || !(out = mem_alloc_array(cnt, sizeof(*out)))) {
        json_decref(reply);
        return err_set(ei, cnt ? E_NOMEM : E_IO, "invalid embedding from the runner");
    }
    json_array_foreach(arr, i, v) out[i] = (float)json_number_value(v);
    json_decref(reply);
    *vec = out;
    *n = cnt;
    return 0;
}

int sched_complete(struct sched_lease *l, const struct rproto_complete *c, struct err_info *ei)
{
    int rc = lease_send(l, rproto_complete_build(c));
    if (rc != 0)
        return err_set(ei, rc, "%s", CRASH_MSG);
    return 0;
}

void sched_cancel(struct sched_lease *l)
{
    json_t *m;
    uint64_t rid;
    pthread_mutex_lock(&l->s->mu);
    rid = l->rid;
    l->rid = 0; /* later frames of it are dropped */
    drop_events(l);
    pthread_mutex_unlock(&l->s->mu);
    if (!rid)
        return;
    m = json_pack("{s:s, s:I}", "t", "cancel", "rid", (json_int_t)rid);
    if (m && send_frame(l->in, m) != 0)
        LOG_DEBUG("cancel not delivered rid=%llu", (unsigned long long)rid);
    json_decref(m);
}

/* ---- unload, reaper, ps --------------------------------------------------------------------- */

int sched_unload(struct sched *s, const char *key)
{
    struct inst *in, *kill = NULL;
    pthread_mutex_lock(&s->mu);
    in = find(s, key);
    if (in) {
        in->keep_alive_ns = 0;
        in->expires_ns = real_ns();
        if (in->refs == 0 && in->state != INST_LOADING) {
            detach(s, in);
            kill = in;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (kill)
        inst_destroy(kill);
    return in ? 0 : E_NOTFOUND;
}

int sched_is_loaded(struct sched *s, const char *key)
{
    int r;
    pthread_mutex_lock(&s->mu);
    r = find(s, key) != NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void *reaper_main(void *arg)
{
    struct sched *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct inst *kill = NULL;
        int64_t now = real_ns();
        for (struct inst *in = s->list; in; in = in->next)
            if (in->refs == 0 &&
                ((in->state == INST_READY && in->expires_ns <= now) || in->state == INST_DEAD)) {
                kill = in;
                break;
            }
        if (kill) {
            detach(s, kill);
            pthread_mutex_unlock(&s->mu);
            LOG_INFO("keep_alive expired model=%s", kill->name);
            inst_destroy(kill);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        timed_wait(s, 250);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sched_new(const struct sched_config *c, struct sched **out)
{
    struct sched *s = mem_calloc(1, sizeof(*s));
    if (!s)
        return E_NOMEM;
    s->cfg = *c;
    if (s->cfg.max_loaded <= 0)
        s->cfg.max_loaded = 3;
    if (s->cfg.num_parallel <= 0)
        s->cfg.num_parallel = 1;
    if (s->cfg.max_queue <= 0)
        s->cfg.max_queue = 512;
    if (s->cfg.num_ctx <= 0)
        s->cfg.num_ctx = SCHED_DEFAULT_NUM_CTX;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->next_rid, 0);
    if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        mem_free(s);
        return E_NOMEM;
    }
    *out = s;
    return 0;
}

void sched_free(struct sched *s)
{
    int busy;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    /* requests still running get a bounded grace period; freeing under them would be worse
     * than leaking at exit */
    for (int i = 0; i < SCHED_STOP_GRACE_MS / 100 && (s->n_leases > 0 || s->pending > 0); i++)
        timed_wait(s, 100);
    busy = s->n_leases > 0 || s->pending > 0;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->reaper, NULL);
    if (busy) {
        LOG_WARN("%d requests still hold models at shutdown; leaving them to process exit",
                 s->n_leases);
        return;
    }
    for (;;) {
        struct inst *in;
        pthread_mutex_lock(&s->mu);
        in = s->list;
        if (in)
            detach(s, in);
        pthread_mutex_unlock(&s->mu);
        if (!in)
            break;
        inst_destroy(in);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    mem_free(s);
}

static json_t *ps_entry(const struct inst *in, int64_t now)
{
    int64_t exp = in->refs > 0 ? (in->keep_alive_ns == SCHED_KEEP_FOREVER ? INT64_MAX
                                                                          : now + in->keep_alive_ns)
                               : in->expires_ns;
    time_t sec;
    long nsec;
    if (exp == INT64_MAX) { /* Go: now + MaxInt64 ns (year ~2318) */
        sec = (time_t)(now / NS_PER_S + INT64_MAX / NS_PER_S);
        nsec = (long)(now % NS_PER_S);
    } else {
        sec = (time_t)(exp / NS_PER_S);
        nsec = (long)(exp % NS_PER_S);
    }
    return json_pack("{s:s, s:s, s:I, s:s, s:O, s:o, s:I, s:i}", "name", in->name, "model",
                     in->name, "size", (json_int_t)in->size, "digest", in->digest, "details",
                     in->details, "expires_at", json_time_new(sec, nsec, 0), "size_vram",
                     (json_int_t)0, "context_length", in->n_ctx);
}

static int by_expiry_desc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *ex = json_string_value(json_object_get(x, "expires_at"));
    const char *ey = json_string_value(json_object_get(y, "expires_at"));
    return strcmp(ey ? ey : "", ex ? ex : "");
}

json_t *sched_ps(struct sched *s)
{
    json_t *arr = json_array(), *items[SCHED_MAX_LOADED + 8];
    size_t n = 0;
    int64_t now = real_ns();
    if (!arr)
        return NULL;
    pthread_mutex_lock(&s->mu);
    for (struct inst *in = s->list; in && n < sizeof(items) / sizeof(items[0]); in = in->next)
        if (in->state == INST_READY && (items[n] = ps_entry(in, now)))
            n++;
    pthread_mutex_unlock(&s->mu);
    qsort(items, n, sizeof(items[0]), by_expiry_desc);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    return json_pack("{s:o}", "models", arr);
}

/*
 * test_sched.c - unit tests of the scheduler (src/server/sched.c) against a fake runner: a
 * thread that speaks the runner protocol on a socketpair (given to the scheduler through the
 * spawn callback), so load, reuse, queue limits, eviction, keep_alive, cancel and a runner
 * crash are checked without an engine.
 */
#include "harness/test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/mem.h"
#include "api/api_llm.h"
#include "server/sched.h"

struct fake {
    atomic_int spawns;
    int crash_after; /* pieces before the fake closes its socket mid-request (0 never) */
    int piece_ms;    /* delay per piece */
    atomic_int cancels;
    atomic_int use_mmap; /* of the last load message: -1 absent, 0, 1 */
};

struct fake_conn {
    struct fake *f;
    int fd;
};

static void reply(int fd, json_t *m)
{
    if (rproto_send(fd, m) != 0) {
    }
    json_decref(m);
}

static int fake_complete(struct fake_conn *c, struct rproto_reader *rd, const json_t *m)
{
    uint64_t rid = rproto_rid(m);
    int n = (int)json_integer_value(json_object_get(m, "num_predict"));
    if (n <= 0)
        n = 5;
    for (int i = 0; i < n; i++) {
        json_t *in = NULL;
        if (c->f->crash_after && i == c->f->crash_after)
            return 1;
        usleep((useconds_t)c->f->piece_ms * 1000);
        /* a cancel between tokens ends the request */
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        if (rproto_reader_fill(rd, c->fd) == 0 && rproto_reader_next(rd, &in, NULL) == 0 && in) {
            if (strcmp(rproto_type(in), "cancel") == 0) {
                atomic_fetch_add(&c->f->cancels, 1);
                json_decref(in);
                reply(c->fd, json_pack("{s:s,s:I,s:s}", "t", "done", "rid", (json_int_t)rid,
                                       "reason", "cancel"));
                fcntl(c->fd, F_SETFL, 0);
                return 0;
            }
            json_decref(in);
        }
        fcntl(c->fd, F_SETFL, 0);
        reply(c->fd, json_pack("{s:s,s:I,s:s,s:[i]}", "t", "piece", "rid", (json_int_t)rid, "text",
                               "a", "tokens", i));
    }
    reply(c->fd, json_pack("{s:s,s:I,s:s,s:i,s:i,s:[]}", "t", "done", "rid", (json_int_t)rid,
                           "reason", "length", "prompt_n", 3, "eval_n", n, "context"));
    return 0;
}

static void *fake_main(void *arg)
{
    struct fake_conn *c = arg;
    struct rproto_reader rd;
    json_t *m;
    rproto_reader_init(&rd);
    while (rproto_recv(&rd, c->fd, &m, NULL) == 0) {
        const char *t = rproto_type(m);
        uint64_t rid = rproto_rid(m);
        int stop = 0;
        if (strcmp(t, "load") == 0) {
            json_t *mm = json_object_get(m, "use_mmap");
            atomic_store(&c->f->use_mmap, json_is_boolean(mm) ? json_is_true(mm) : -1);
        }
        if (strcmp(t, "load") == 0)
            reply(c->fd, json_pack("{s:s,s:O,s:i}", "t", "loaded", "n_ctx",
                                   json_object_get(m, "num_ctx"), "size", 1000));
        else if (strcmp(t, "tokenize") == 0)
            reply(c->fd, json_pack("{s:s,s:I,s:[i,i]}", "t", "tokens", "rid", (json_int_t)rid,
                                   "tokens", 7, 8));
        else if (strcmp(t, "embed") == 0)
            reply(c->fd, json_pack("{s:s,s:I,s:[f,f]}", "t", "embedding", "rid", (json_int_t)rid,
                                   "vec", 0.5, 0.25));
        else if (strcmp(t, "complete") == 0)
            stop = fake_complete(c, &rd, m);
        json_decref(m);
        if (stop)
            break;
    }
    rproto_reader_fini(&rd);
    close(c->fd);
    mem_free(c);
    return NULL;
}

static int fake_spawn(void *user, int model_fd, struct runner_proc *out, struct err_info *ei)
{
    int sv[2];
    pthread_t th;
    struct fake_conn *c = mem_calloc(1, sizeof(*c));
    (void)model_fd;
    (void)ei;
    if (!c || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return E_IO;
    c->f = user;
    c->fd = sv[1];
    atomic_fetch_add(&c->f->spawns, 1);
    pthread_create(&th, NULL, fake_main, c);
    pthread_detach(th);
    out->pid = 0;
    out->sock = sv[0];
    return 0;
}

static struct sched *mk(struct fake *f, int parallel, int queue, int loaded)
{
    struct sched_config c;
    struct sched *s = NULL;
    ASSERT_OK(sched_config_from_env(&c, NULL));
    c.spawn = fake_spawn;
    c.spawn_user = f;
    c.num_parallel = parallel;
    c.max_queue = queue;
    c.max_loaded = loaded;
    ASSERT_OK(sched_new(&c, &s));
    return s;
}

static struct sched_model model(const char *key)
{
    struct sched_model m = {0};
    m.key = key; /* any readable file: the fake ignores it */
    m.name = key;
    m.digest = "abc";
    m.num_ctx = 256;
    return m;
}

TEST(sched_keep_alive_parse)
{
    int64_t ns = 0;
    json_t *v;
    const struct {
        const char *s;
        int64_t ns;
    } ok[] = {{"5m", 300000000000LL},      {"1h30m", 5400000000000LL}, {"0", 0},
              {"-1m", SCHED_KEEP_FOREVER}, {"1.5s", 1500000000LL},     {"10", 10000000000LL}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = json_string(ok[i].s);
        ASSERT_OK(api_parse_keep_alive(v, &ns, NULL));
        ASSERT_EQ_INT(ns, ok[i].ns);
        json_decref(v);
    }
    v = json_integer(-1);
    ASSERT_OK(api_parse_keep_alive(v, &ns, NULL));
    ASSERT_EQ_INT(ns, SCHED_KEEP_FOREVER);
    json_decref(v);
    v = json_real(2.5);
    ASSERT_OK(api_parse_keep_alive(v, &ns, NULL));
    ASSERT_EQ_INT(ns, 2500000000LL);
    json_decref(v);
    v = json_string("soon");
    ASSERT_EQ_INT(api_parse_keep_alive(v, &ns, NULL), E_INVAL);
    json_decref(v);
    ASSERT_OK(api_parse_keep_alive(NULL, &ns, NULL));
    ASSERT_EQ_INT(ns, SCHED_KEEP_UNSET);
}

TEST(sched_keep_alive_type_error)
{
    int64_t ns = 0;
    struct err_info ei = {0};
    json_t *v = json_true();
    ASSERT_EQ_INT(api_parse_keep_alive(v, &ns, &ei), E_INVAL);
    ASSERT_EQ_STR(ei.msg, "Unsupported type: 'bool'"); /* api.Duration's message */
    json_decref(v);
}

/* OLLAMA_* scheduler variables as envconfig reads them: quotes and spaces stripped, an
 * unparsable value warned about and ignored, over-cap values clamped; never a start failure. */
TEST(sched_config_env_forms)
{
    struct sched_config c;
    setenv("OLLAMA_KEEP_ALIVE", " \"24h\" ", 1);
    setenv("OLLAMA_NUM_PARALLEL", "'3'", 1);
    setenv("OLLAMA_MAX_LOADED_MODELS", "-1", 1);
    setenv("OLLAMA_MAX_QUEUE", "1e3", 1);
    setenv("OLLAMA_CONTEXT_LENGTH", "99999999999999999999", 1);
    ASSERT_OK(sched_config_from_env(&c, NULL));
    ASSERT_EQ_INT(c.keep_alive_ns, 24LL * 3600 * 1000000000LL);
    ASSERT_EQ_INT(c.num_parallel, 3);
    ASSERT_EQ_INT(c.max_loaded, 3);
    ASSERT_EQ_INT(c.max_queue, 512);
    ASSERT_EQ_INT(c.num_ctx, RPROTO_MAX_CTX);
    setenv("OLLAMA_KEEP_ALIVE", "soon", 1);
    setenv("OLLAMA_NUM_PARALLEL", "", 1);
    ASSERT_OK(sched_config_from_env(&c, NULL));
    ASSERT_EQ_INT(c.keep_alive_ns, 5LL * 60 * 1000000000LL);
    ASSERT_EQ_INT(c.num_parallel, 1);
    unsetenv("OLLAMA_KEEP_ALIVE");
    unsetenv("OLLAMA_NUM_PARALLEL");
    unsetenv("OLLAMA_MAX_LOADED_MODELS");
    unsetenv("OLLAMA_MAX_QUEUE");
    unsetenv("OLLAMA_CONTEXT_LENGTH");
}

TEST(sched_loads_once_and_streams)
{
    struct fake f = {0};
    struct sched *s = mk(&f, 1, 8, 3);
    struct sched_model m = model("/dev/null");
    struct sched_lease *l = NULL;
    struct rproto_complete c;
    uint64_t load_ns = 0;
    json_t *ev, *ps;
    int pieces = 0;
    int32_t *ids = NULL;
    size_t n = 0;
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, &load_ns, NULL));
    ASSERT(load_ns > 0);
    ASSERT_EQ_INT(sched_lease_num_ctx(l), 256);
    ASSERT_OK(sched_tokenize(l, "hi", 1, 0, &ids, &n, NULL));
    ASSERT_EQ_SIZE(n, 2);
    mem_free(ids);
    rproto_complete_defaults(&c);
    c.num_predict = 4;
    ASSERT_OK(sched_complete(l, &c, NULL));
    for (;;) {
        ASSERT_OK(sched_next(l, 5000, &ev));
        if (strcmp(rproto_type(ev), "done") == 0) {
            json_decref(ev);
            break;
        }
        ASSERT_EQ_STR(rproto_type(ev), "piece");
        pieces++;
        json_decref(ev);
    }
    ASSERT_EQ_INT(pieces, 4);
    sched_release(l, SCHED_KEEP_UNSET);
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, &load_ns, NULL));
    ASSERT_EQ_INT(load_ns, 0);
    ASSERT_EQ_INT(atomic_load(&f.spawns), 1);
    sched_release(l, SCHED_KEEP_UNSET);
    ps = sched_ps(s);
    ASSERT_EQ_SIZE(json_array_size(json_object_get(ps, "models")), 1);
    ASSERT_EQ_INT(json_integer_value(json_object_get(
                      json_array_get(json_object_get(ps, "models"), 0), "context_length")),
                  256);
    json_decref(ps);
    sched_free(s);
}

struct waiter {
    struct sched *s;
    struct sched_model m;
    int rc;
    struct sched_lease *l;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    w->rc = sched_acquire(w->s, &w->m, SCHED_KEEP_UNSET, NULL, &w->l, NULL, NULL);
    return NULL;
}

TEST(sched_queue_full_is_busy)
{
    struct fake f = {0};
    struct sched *s = mk(&f, 1, 1, 3);
    struct sched_model m = model("/dev/null");
    struct sched_lease *l = NULL, *l2 = NULL;
    struct waiter w = {s, m, -99, NULL};
    struct err_info ei = {0};
    pthread_t th;
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
    pthread_create(&th, NULL, wait_main, &w); /* waits for the one slot: fills the queue */
    usleep(200 * 1000);
    ASSERT_EQ_INT(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l2, NULL, &ei), E_BUSY);
    ASSERT(strstr(ei.msg, "maximum pending requests exceeded"));
    sched_release(l, SCHED_KEEP_UNSET);
    pthread_join(th, NULL);
    ASSERT_OK(w.rc);
    sched_release(w.l, SCHED_KEEP_UNSET);
    sched_free(s);
}

TEST(sched_cancelled_waiter_leaves)
{
    struct fake f = {0};
    struct sched *s = mk(&f, 1, 8, 3);
    struct sched_model m = model("/dev/null");
    struct sched_lease *l = NULL, *l2 = NULL;
    atomic_int cancelled = 1;
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
    ASSERT_EQ_INT(sched_acquire(s, &m, SCHED_KEEP_UNSET, &cancelled, &l2, NULL, NULL), E_CANCELLED);
    sched_release(l, SCHED_KEEP_UNSET);
    sched_free(s);
}

TEST(sched_cancel_stops_request)
{
    struct fake f = {0};
    struct sched *s;
    struct sched_model m = model("/dev/null");
    struct sched_lease *l = NULL;
    struct rproto_complete c;
    json_t *ev;
    f.piece_ms = 20;
    s = mk(&f, 1, 8, 3);
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
    rproto_complete_defaults(&c);
    c.num_predict = 1000;
    ASSERT_OK(sched_complete(l, &c, NULL));
    ASSERT_OK(sched_next(l, 5000, &ev));
    json_decref(ev);
    sched_cancel(l);
    sched_release(l, SCHED_KEEP_UNSET);
    /* the slot is free at once and the runner stopped the old request */
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
    c.num_predict = 2;
    ASSERT_OK(sched_complete(l, &c, NULL));
    do {
        ASSERT_OK(sched_next(l, 5000, &ev));
        ASSERT(strcmp(rproto_type(ev), "error") != 0);
        if (strcmp(rproto_type(ev), "done") == 0) {
            ASSERT_EQ_STR(json_string_value(json_object_get(ev, "reason")), "length");
            json_decref(ev);
            break;
        }
        json_decref(ev);
    } while (1);
    ASSERT_EQ_INT(atomic_load(&f.cancels), 1);
    sched_release(l, SCHED_KEEP_UNSET);
    sched_free(s);
}

/* use_mmap is a load-time option: the runner gets it in `load`, unset means copy (false), and
 * an instance is reloaded only when the effective value changes. */
TEST(sched_use_mmap_reloads)
{
    struct fake f = {0};
    struct sched *s = mk(&f, 1, 8, 3);
    struct sched_model m = model("/dev/null");
    struct sched_lease *l = NULL;
    static const struct {
        int32_t req;
        int spawns, sent;
    } steps[] = {{-1, 1, 0}, {0, 1, 0}, {1, 2, 1}, {1, 2, 1}, {-1, 3, 0}, {0, 3, 0}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        m.use_mmap = steps[i].req;
        ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
        ASSERT_EQ_INT(atomic_load(&f.spawns), steps[i].spawns);
        ASSERT_EQ_INT(atomic_load(&f.use_mmap), steps[i].sent);
        sched_release(l, SCHED_KEEP_UNSET);
    }
    sched_free(s);
}

TEST(sched_crash_reports_error_and_reloads)
{
    struct fake f = {0};
    struct sched *s;
    struct sched_model m = model("/dev/null");
    struct sched_lease *l = NULL;
    struct rproto_complete c;
    json_t *ev;
    f.crash_after = 2;
    s = mk(&f, 1, 8, 3);
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
    rproto_complete_defaults(&c);
    c.num_predict = 10;
    ASSERT_OK(sched_complete(l, &c, NULL));
    for (;;) {
        ASSERT_OK(sched_next(l, 5000, &ev));
        if (strcmp(rproto_type(ev), "error") == 0) {
            ASSERT(strstr(json_string_value(json_object_get(ev, "msg")), "unexpectedly stopped"));
            json_decref(ev);
            break;
        }
        ASSERT_EQ_STR(rproto_type(ev), "piece");
        json_decref(ev);
    }
    sched_release(l, SCHED_KEEP_UNSET);
    f.crash_after = 0;
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
    ASSERT_EQ_INT(atomic_load(&f.spawns), 2);
    sched_release(l, SCHED_KEEP_UNSET);
    sched_free(s);
}

TEST(sched_keep_alive_zero_unloads_and_lru_evicts)
{
    struct fake f = {0};
    struct sched *s = mk(&f, 1, 8, 1);
    struct sched_model a = model("/dev/null"), b = model("/dev/zero");
    struct sched_lease *l = NULL;
    json_t *ps;
    ASSERT_OK(sched_acquire(s, &a, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
    sched_release(l, 0);
    ASSERT(!sched_is_loaded(s, "/dev/null"));
    ASSERT_OK(sched_acquire(s, &a, SCHED_KEEP_FOREVER, NULL, &l, NULL, NULL));
    sched_release(l, SCHED_KEEP_UNSET);
    ps = sched_ps(s);
    ASSERT(strncmp(json_string_value(json_object_get(
                       json_array_get(json_object_get(ps, "models"), 0), "expires_at")),
                   "23", 2) == 0); /* now + MaxInt64 ns: year 2318-2319 */
    json_decref(ps);
    ASSERT_OK(sched_acquire(s, &b, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL)); /* evicts a */
    ASSERT(!sched_is_loaded(s, "/dev/null"));
    ASSERT(sched_is_loaded(s, "/dev/zero"));
    sched_release(l, SCHED_KEEP_UNSET);
    ASSERT_OK(sched_unload(s, "/dev/zero"));
    ASSERT(!sched_is_loaded(s, "/dev/zero"));
    ASSERT_EQ_INT(atomic_load(&f.spawns), 3);
    sched_free(s);
}

TEST(sched_keep_alive_expiry)
{
    struct fake f = {0};
    struct sched *s = mk(&f, 2, 8, 3);
    struct sched_model a = model("/dev/null");
    struct sched_lease *l = NULL;
    ASSERT_OK(sched_acquire(s, &a, 300 * 1000000LL, NULL, &l, NULL, NULL));
    sched_release(l, SCHED_KEEP_UNSET);
    ASSERT(sched_is_loaded(s, "/dev/null"));
    usleep(900 * 1000);
    ASSERT(!sched_is_loaded(s, "/dev/null"));
    sched_free(s);
}

struct fifo_waiter {
    struct sched *s;
    struct sched_model m;
    atomic_int *order;
    int id, got;
};

static void *fifo_main(void *arg)
{
    struct fifo_waiter *w = arg;
    struct sched_lease *l = NULL;
    if (sched_acquire(w->s, &w->m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL) == 0) {
        w->got = atomic_fetch_add(w->order, 1);
        usleep(20 * 1000);
        sched_release(l, SCHED_KEEP_UNSET);
    }
    return NULL;
}

TEST(sched_waiters_served_in_arrival_order)
{
    struct fake f = {0};
    struct sched *s = mk(&f, 1, 16, 3);
    struct sched_model m = model("/dev/null");
    struct sched_lease *l = NULL;
    struct fifo_waiter w[5];
    pthread_t th[5];
    atomic_int order = 0;
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
    for (int i = 0; i < 5; i++) {
        w[i] = (struct fifo_waiter){s, m, &order, i, -1};
        pthread_create(&th[i], NULL, fifo_main, &w[i]);
        usleep(30 * 1000); /* arrival order 0..4 */
    }
    sched_release(l, SCHED_KEEP_UNSET);
    for (int i = 0; i < 5; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ_INT(w[i].got, i);
    sched_free(s);
}

TEST(sched_embed_roundtrip)
{
    struct fake f = {0};
    struct sched *s = mk(&f, 1, 8, 3);
    struct sched_model m = model("/dev/null");
    struct sched_lease *l = NULL;
    float *vec = NULL;
    size_t n = 0;
    ASSERT_OK(sched_acquire(s, &m, SCHED_KEEP_UNSET, NULL, &l, NULL, NULL));
    ASSERT_OK(sched_embed(l, "hello", &vec, &n, NULL));
    ASSERT_EQ_SIZE(n, 2);
    ASSERT_NEAR(vec[0], 0.5, 1e-6);
    ASSERT_NEAR(vec[1], 0.25, 1e-6);
    mem_free(vec);
    sched_release(l, SCHED_KEEP_UNSET);
    sched_free(s);
}

/*
 * srv_main.c - `corral serve`: start-up (config, store, lock, prune, bind) then serving until
 * SIGINT/SIGTERM.  The two halves are separate functions (serve_setup / serve_run) because the
 * sandbox work moves the first into the monitor process and the second into the server process.
 *
 * Two daemons on one store: the second refuses to start (the store's advisory lock), with one
 * line naming the store; see docs/API.md.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "serve"
#include "api/api.h"
#include "common/cmd.h"
#include "common/log.h"
#include "common/version.h"
#include "server/sched_env.h"
#include "server/srv_monitor.h"
#include "server/srv.h"
#include "store/store.h"

struct serve_state {
    struct srv_config cfg;
    struct store *store;
    int lock_fd;
    int listen_fd;
    struct api_env env;
    struct srv_sandbox sb; /* monitor + server profile (srv_monitor.h) */
};

static void serve_fini(struct serve_state *st)
{
    if (st->listen_fd >= 0)
        close(st->listen_fd);
    if (st->lock_fd >= 0)
        store_unlock(st->lock_fd);
    store_close(st->store);
    srv_sandbox_fini(&st->sb);
    srv_config_fini(&st->cfg);
}

static void prune_at_start(struct serve_state *st)
{
    size_t n = 0;
    int rc;
    if (st->cfg.noprune)
        return;
    rc = store_prune(st->store, STORE_PRUNE_GRACE_S, &n);
    if (rc)
        LOG_WARN("not pruning unused blobs: %s", err_str(rc));
    else if (n)
        LOG_INFO("removed %zu unused blobs", n);
}

/* Start-up: everything that needs privileges or the outside world, before serving. */
static int serve_setup(struct serve_state *st, struct err_info *ei)
{
    int rc;
    if ((rc = srv_config_load(&st->cfg, ei)) != 0)
        return rc;
    if ((rc = store_open(NULL, &st->store, ei)) != 0)
        return rc;
    if ((rc = store_lock(st->store, &st->lock_fd)) != 0) {
        st->lock_fd = -1;
        if (rc == E_BUSY)
            return err_set(ei, rc, "the model store %s is in use by another corral daemon",
                           store_dir(st->store));
        return err_set(ei, rc, "cannot lock the model store %s: %s", store_dir(st->store),
                       err_str(rc));
    }
    if ((rc = srv_listen(&st->cfg, &st->listen_fd, ei)) != 0)
        return rc;
    prune_at_start(st);
    return 0;
}

static int wait_for_signal(void)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    return sig;
}

/* Serving: the HTTP server on the bound socket until a signal. */
static int serve_run(struct serve_state *st, struct err_info *ei)
{
    struct srv_http *http = NULL;
    int rc, fd = st->listen_fd;
    st->env.store = st->store;
    st->env.noprune = st->cfg.noprune;
    /* the server profile: after start-up, before the first thread */
    if ((rc = srv_sandbox_enter(&st->sb, store_dir(st->store), st->cfg.port, &st->env, ei)) != 0)
        return rc;
    st->listen_fd = -1;                             /* srv_http_start owns it */
    if ((rc = sched_env_attach(&st->env, ei)) != 0) /* model scheduler (serve engineer) */
        return rc;
    if ((rc = srv_http_start(fd, &st->cfg, &st->env, &http, ei)) != 0) {
        sched_env_detach(&st->env);
        return rc;
    }
    LOG_INFO("Listening on %s:%d (version %s)", *st->cfg.host ? st->cfg.host : "0.0.0.0",
             st->cfg.port, CORRAL_VERSION);
    LOG_INFO("shutting down on signal %d", wait_for_signal());
    srv_http_stop(http);
    sched_env_detach(&st->env);
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    struct serve_state st;
    struct err_info ei = {0};
    sigset_t set;
    int rc;
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        /* the variables corral reads, described as Ollama's `serve --help` does */
        printf("Start corral\n\nUsage:\n  corral serve [flags]\n\nEnvironment Variables:\n"
               "      OLLAMA_DEBUG               Show additional debug information (e.g. "
               "OLLAMA_DEBUG=1)\n"
               "      OLLAMA_HOST                IP Address for the corral server (default "
               "127.0.0.1:11434)\n"
               "      OLLAMA_CONTEXT_LENGTH      Context length to use unless otherwise "
               "specified\n"
               "      OLLAMA_KEEP_ALIVE          The duration that models stay loaded in memory "
               "(default \"5m\")\n"
               "      OLLAMA_MAX_LOADED_MODELS   Maximum number of loaded models\n"
               "      OLLAMA_MAX_QUEUE           Maximum number of queued requests\n"
               "      OLLAMA_MODELS              The path to the models directory\n"
               "      OLLAMA_NUM_PARALLEL        Maximum number of parallel requests\n"
               "      OLLAMA_NO_CLOUD            Disable Ollama cloud features (always disabled "
               "in corral)\n"
               "      OLLAMA_NOPRUNE             Do not prune model blobs on startup\n"
               "      OLLAMA_ORIGINS             A comma separated list of allowed origins\n");
        return 0;
    }
    memset(&st, 0, sizeof(st));
    st.lock_fd = st.listen_fd = -1;
    /* block the signals in every thread; the main thread takes them with sigwait */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* the monitor is forked first, while this process has one thread */
    if ((rc = srv_sandbox_begin(&st.sb, &ei)) != 0) {
        fprintf(stderr, "Error: %s\n", *ei.msg ? ei.msg : err_str(rc));
        serve_fini(&st);
        return st.sb.refused ? 78 : 1;
    }
    if ((rc = serve_setup(&st, &ei)) == 0)
        rc = serve_run(&st, &ei);
    if (rc)
        fprintf(stderr, "Error: %s\n", *ei.msg ? ei.msg : err_str(rc));
    serve_fini(&st);
    return rc ? 1 : 0;
}

CMD_REGISTER(serve, "serve", cmd_serve, "Start corral")

/*
 * srv_monitor.c - the monitor process and the server's client of it (see srv_monitor.h).
 * Monitor side: one poll loop, one request at a time, children reaped between requests and their
 * wait statuses kept until the server's `status` request takes them.
 * Client side: a mutex around each request/reply, and a table pid -> pidfd of the runners the
 * monitor spawned (runner_proc_stop waits on and kills them through it).
 */
#include "server/srv_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mem.h"
#include "registry/reg.h"
#include "runner/runner.h"
#include "sandbox/sbx.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define MON_POLL_MS   200  /* reaping cadence while idle */
#define MON_KILL_WAIT 5000 /* after SIGKILL, how long to wait for the exit */

struct srv_monitor {
    int sock;
    pid_t pid;
    pthread_mutex_t mu; /* one exchange at a time; guards the runner table */
    struct {
        pid_t pid;
        int pidfd;
    } runners[SRV_MON_MAX_RUNNERS];
};

/* ---- messages ------------------------------------------------------------------------------- */

/* Sends len bytes with up to SRV_MON_MAX_FDS descriptors. */
static int msg_send(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * SRV_MON_MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {(void *)buf, len};
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0) {
        struct cmsghdr *c;
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
        if (errno != EINTR)
            return E_IO;
    return 0;
}

/* Receives one datagram into buf (cap bytes; *len its size, cap + 1 when truncated) and its
 * descriptors (close-on-exec; extra ones beyond SRV_MON_MAX_FDS are closed, *nfds counts them
 * as received).  0 at end of stream with *len = 0. */
static int msg_recv(int sock, void *buf, size_t cap, size_t *len, int *fds, int *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {buf, cap};
    struct msghdr mh;
    struct cmsghdr *c;
    ssize_t n;
    *nfds = 0;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof(u.buf);
    while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0)
        if (errno != EINTR)
            return E_IO;
    for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        size_t k;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*nfds < SRV_MON_MAX_FDS)
                fds[*nfds] = fd;
            else
                close(fd);
            (*nfds)++;
        }
    }
    *len = (mh.msg_flags & MSG_TRUNC) ? cap + 1 : (size_t)n;
    return 0;
}

static void close_fds(const int *fds, int nfds)
{
    for (int i = 0; i < nfds && i < SRV_MON_MAX_FDS; i++)
        close(fds[i]);
}

/* ---- monitor side --------------------------------------------------------------------------- */

/* Reaps every finished runner, keeps its wait status for the server's `status` request and
 * says on stderr (the daemon's log) how it ended; the spawn line names its model blob, so the
 * pid ties the two together. */
static void reap_children(struct srv_mon_exits *x)
{
    pid_t pid;
    int st = 0;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        char why[64];
        runner_status_describe(st, why, sizeof(why));
        fprintf(stderr, "monitor: runner %d exited: %s\n", (int)pid, why);
        srv_mon_exits_put(x, pid, st);
    }
}

/* The model blob's file name behind fd (for the spawn log line), or "?". */
static void fd_name(int fd, char *out, size_t cap)
{
    char link[64], path[512];
    ssize_t n;
    const char *base;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);
    path[n > 0 ? n : 0] = '\0';
    base = strrchr(path, '/');
    snprintf(out, cap, "%s", n > 0 ? (base ? base + 1 : path) : "?");
}

static void log_spawn(pid_t pid, int model_fd)
{
    char name[128];
    fd_name(model_fd, name, sizeof(name));
    fprintf(stderr, "monitor: runner %d started for %s\n", (int)pid, name);
}

/* In the forked child: descriptors in place, signals back to defaults, exec the binary. */
static void child_exec(int exe_fd, int model_fd, int sock_fd)
{
    char mfd[16], sfd[16];
    char *argv[] = {(char *)"corral",
                    (char *)"runner",
                    (char *)"--model-fd",
                    mfd,
                    (char *)"--sock-fd",
                    sfd,
                    NULL};
    sigset_t none;
    fcntl(model_fd, F_SETFD, 0);
    fcntl(sock_fd, F_SETFD, 0);
    snprintf(mfd, sizeof(mfd), "%d", model_fd);
    snprintf(sfd, sizeof(sfd), "%d", sock_fd);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    fexecve(exe_fd, argv, environ);
    _exit(127);
}

static void do_spawn(int sock, int exe_fd, int model_fd, struct srv_mon_exits *x)
{
    struct srv_mon_reply r = {SRV_MON_MAGIC, 0, 0, 0, 0};
    int32_t stale;
    int sv[2] = {-1, -1}, out[2] = {-1, -1};
    pid_t pid;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        r.status = E_IO;
        goto reply;
    }
    if ((pid = fork()) < 0) {
        r.status = E_IO;
        goto reply;
    }
    if (pid == 0)
        child_exec(exe_fd, model_fd, sv[1]);
    out[0] = sv[0];
    out[1] = (int)syscall(SYS_pidfd_open, pid, 0); /* not reaped yet: cannot race the exit */
    if (out[1] < 0) {
        kill(pid, SIGKILL);
        r.status = E_IO;
        goto reply;
    }
    r.pid = pid;
    r.nfds = 2;
    (void)srv_mon_exits_take(x, pid, &stale); /* a reused pid: forget its old record */
    log_spawn(pid, model_fd);
reply:
    if (msg_send(sock, &r, sizeof(r), out, r.status == 0 ? 2 : 0) != 0)
        r.status = E_IO;
    for (int i = 0; i < 2; i++)
        if (sv[i] >= 0)
            close(sv[i]);
    if (out[1] >= 0)
        close(out[1]);
}

static int connect_host(const struct srv_mon_req *q, const struct srv_mon_policy *p, int *fd)
{
    struct addrinfo hints, *res = NULL, *ai;
    char ports[16];
    int rc = E_NET, tried = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ports, sizeof(ports), "%u", q->port);
    if (getaddrinfo(q->host, ports, &hints, &res) != 0)
        return E_NET;
    for (ai = res; ai && tried < SRV_MON_MAX_ADDRS; ai = ai->ai_next, tried++) {
        if (!srv_mon_addr_allowed(p, q->host, ai->ai_addr)) {
            rc = E_PERM;
            continue;
        }
        if ((rc = reg_connect_addr(ai->ai_addr, ai->ai_addrlen, SRV_MON_CONNECT_MS, fd)) == 0)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

static void do_connect(int sock, const struct srv_mon_req *q, const struct srv_mon_policy *p)
{
    struct srv_mon_reply r = {SRV_MON_MAGIC, 0, 0, 0, 0};
    int fd = -1;
    r.status = connect_host(q, p, &fd);
    r.nfds = r.status == 0 ? 1 : 0;
    (void)msg_send(sock, &r, sizeof(r), &fd, (int)r.nfds);
    if (fd >= 0)
        close(fd);
}

/* How runner pid ended, from the record (reaping first: the server asks once its pidfd said
 * the runner exited, so it is a zombie by now or already recorded). */
static void do_status(int sock, const struct srv_mon_req *q, struct srv_mon_exits *x)
{
    struct srv_mon_reply r = {SRV_MON_MAGIC, 0, 0, 0, 0};
    reap_children(x);
    if (!srv_mon_exits_take(x, q->pid, &r.wstatus))
        r.status = E_NOTFOUND;
    (void)msg_send(sock, &r, sizeof(r), NULL, 0);
}

/* One request; 1 when the peer closed. */
static int serve_one(int sock, int exe_fd, const struct srv_mon_policy *p, struct srv_mon_exits *x)
{
    struct srv_mon_req q;
    unsigned char buf[sizeof(struct srv_mon_req) + 1];
    struct err_info ei = {0};
    int fds[SRV_MON_MAX_FDS], nfds = 0;
    size_t len = 0;
    if (msg_recv(sock, buf, sizeof(buf) - 1, &len, fds, &nfds) != 0 || (len == 0 && nfds == 0))
        return 1;
    if (srv_mon_req_parse(buf, len, nfds, &q, &ei) != 0) {
        struct srv_mon_reply r = {SRV_MON_MAGIC, E_INVAL, 0, 0, 0};
        close_fds(fds, nfds);
        (void)msg_send(sock, &r, sizeof(r), NULL, 0);
        return 0;
    }
    if (q.op == SRV_MON_SPAWN)
        do_spawn(sock, exe_fd, fds[0], x);
    else if (q.op == SRV_MON_STATUS)
        do_status(sock, &q, x);
    else
        do_connect(sock, &q, p);
    close_fds(fds, nfds);
    return 0;
}

void srv_monitor_loop(int sock, int exe_fd, const struct srv_mon_policy *p)
{
    struct srv_mon_exits *x = mem_calloc(1, sizeof(*x));
    if (!x)
        return;
    for (;;) {
        struct pollfd pfd = {sock, POLLIN, 0};
        int n = poll(&pfd, 1, MON_POLL_MS);
        reap_children(x);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && serve_one(sock, exe_fd, p, x))
            break;
    }
    reap_children(x);
    mem_free(x);
}

/* The monitor's own sandbox (sbx_monitor_enter): Landlock (no writes, exec only the binary and
 * libraries), then its seccomp allow-list, which runners inherit. */
static int monitor_sandbox(enum sbx_mode mode)
{
    char exe[4096];
    struct err_info ei = {0};
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    if (sbx_monitor_enter(mode, exe, &ei) != 0) {
        fprintf(stderr, "monitor: %s\n", ei.msg);
        return E_PERM;
    }
    return 0;
}

/* The forked monitor: drop capabilities, read its policy, confine itself, serve, exit. */
static void monitor_main(int sock, int exe_fd)
{
    struct srv_mon_policy *p = mem_calloc(1, sizeof(*p));
    struct err_info ei = {0};
    enum sbx_mode mode = SBX_MODE_ENFORCE;
    int dropped = 0;
    (void)prctl(PR_SET_NAME, "corral-monitor", 0, 0, 0);
    signal(SIGINT, SIG_IGN); /* the server shuts down; we follow when its end closes */
    signal(SIGTERM, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    (void)sbx_mode_parse(getenv("CORRAL_SANDBOX"), &mode);
    if (mode != SBX_MODE_OFF && sbx_caps_drop_all(&dropped, &ei) != 0)
        fprintf(stderr, "monitor: %s\n", ei.msg);
    if (!p || srv_mon_policy_init(p, getenv("CORRAL_ALLOW_HOSTS"), mode != SBX_MODE_OFF, &ei)) {
        fprintf(stderr, "monitor: %s\n", p ? ei.msg : "out of memory");
        _exit(1);
    }
    if (monitor_sandbox(mode) != 0)
        _exit(1);
    srv_monitor_loop(sock, exe_fd, p);
    mem_free(p);
    _exit(0);
}

int srv_monitor_start(struct srv_monitor **out, struct err_info *ei)
{
    struct srv_monitor *m;
    int sv[2], exe_fd;
    pid_t pid;
    if ((exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0)
        return err_set(ei, E_IO, "open /proc/self/exe: %s", strerror(errno));
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        close(exe_fd);
        return err_set(ei, E_IO, "socketpair: %s", strerror(errno));
    }
    if ((pid = fork()) < 0) {
        close(exe_fd);
        close(sv[0]);
        close(sv[1]);
        return err_set(ei, E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(sv[0]);
        monitor_main(sv[1], exe_fd);
    }
    close(exe_fd);
    close(sv[1]);
    if (!(m = mem_calloc(1, sizeof(*m)))) {
        close(sv[0]);
        return E_NOMEM;
    }
    m->sock = sv[0];
    m->pid = pid;
    pthread_mutex_init(&m->mu, NULL);
    for (size_t i = 0; i < SRV_MON_MAX_RUNNERS; i++)
        m->runners[i].pidfd = -1;
    *out = m;
    return 0;
}

/* ---- client side ---------------------------------------------------------------------------- */

pid_t srv_monitor_pid(const struct srv_monitor *m)
{
    return m ? m->pid : 0;
}

void srv_monitor_close(struct srv_monitor *m)
{
    if (!m)
        return;
    close(m->sock);
    while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    for (size_t i = 0; i < SRV_MON_MAX_RUNNERS; i++)
        if (m->runners[i].pidfd >= 0)
            close(m->runners[i].pidfd);
    pthread_mutex_destroy(&m->mu);
    mem_free(m);
}

/* One exchange; the caller holds m->mu.  fds_out gets up to SRV_MON_MAX_FDS descriptors. */
static int exchange(struct srv_monitor *m, const struct srv_mon_req *q, int fd_in,
                    struct srv_mon_reply *r, int *fds_out, int *nfds)
{
    size_t len = 0;
    int rc = msg_send(m->sock, q, sizeof(*q), &fd_in, fd_in >= 0 ? 1 : 0);
    if (rc == 0)
        rc = msg_recv(m->sock, r, sizeof(*r), &len, fds_out, nfds);
    if (rc == 0 && (len != sizeof(*r) || r->magic != SRV_MON_MAGIC)) {
        close_fds(fds_out, *nfds);
        *nfds = 0;
        rc = E_IO;
    }
    return rc;
}

int srv_monitor_spawn(struct srv_monitor *m, int model_fd, int *pid, int *sock, struct err_info *ei)
{
    struct srv_mon_req q;
    struct srv_mon_reply r;
    int fds[SRV_MON_MAX_FDS], nfds = 0, rc;
    size_t slot = SRV_MON_MAX_RUNNERS;
    memset(&q, 0, sizeof(q));
    q.magic = SRV_MON_MAGIC;
    q.op = SRV_MON_SPAWN;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < SRV_MON_MAX_RUNNERS && slot == SRV_MON_MAX_RUNNERS; i++)
        if (m->runners[i].pidfd < 0)
            slot = i;
    if (slot == SRV_MON_MAX_RUNNERS)
        rc = err_set(ei, E_BUSY, "too many runners");
    else if ((rc = exchange(m, &q, model_fd, &r, fds, &nfds)) != 0)
        rc = err_set(ei, rc, "the sandbox monitor is gone");
    else if (r.status != 0 || nfds != 2) {
        close_fds(fds, nfds);
        rc =
            err_set(ei, r.status ? r.status : E_IO, "the sandbox monitor could not start a runner");
    } else {
        m->runners[slot].pid = r.pid;
        m->runners[slot].pidfd = fds[1];
        *pid = r.pid;
        *sock = fds[0];
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int srv_monitor_connect(void *ctx, const char *host, int port, int *fd_out)
{
    struct srv_monitor *m = ctx;
    struct srv_mon_req q;
    struct srv_mon_reply r;
    int fds[SRV_MON_MAX_FDS], nfds = 0, rc;
    size_t hl = host ? strlen(host) : 0;
    if (hl < 1 || hl > SRV_MON_MAX_HOST || port < 1 || port > 65535)
        return E_INVAL;
    memset(&q, 0, sizeof(q));
    q.magic = SRV_MON_MAGIC;
    q.op = SRV_MON_CONNECT;
    q.port = (uint32_t)port;
    q.host_len = (uint32_t)hl;
    memcpy(q.host, host, hl);
    pthread_mutex_lock(&m->mu);
    rc = exchange(m, &q, -1, &r, fds, &nfds);
    pthread_mutex_unlock(&m->mu);
    if (rc != 0)
        return rc;
    if (r.status != 0 || nfds != 1) {
        close_fds(fds, nfds);
        return r.status ? r.status : E_NET;
    }
    *fd_out = fds[0];
    return 0;
}

static int pidfd_wait(int pidfd, int ms)
{
    struct pollfd pfd = {pidfd, POLLIN, 0};
    int n;
    while ((n = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
        ;
    return n > 0;
}

int srv_monitor_status(struct srv_monitor *m, pid_t pid, int *wstatus)
{
    struct srv_mon_req q;
    struct srv_mon_reply r;
    int fds[SRV_MON_MAX_FDS], nfds = 0, rc;
    memset(&q, 0, sizeof(q));
    q.magic = SRV_MON_MAGIC;
    q.op = SRV_MON_STATUS;
    q.pid = (int32_t)pid;
    pthread_mutex_lock(&m->mu);
    rc = exchange(m, &q, -1, &r, fds, &nfds);
    pthread_mutex_unlock(&m->mu);
    if (rc != 0)
        return rc;
    close_fds(fds, nfds);
    if (r.status != 0)
        return r.status;
    *wstatus = r.wstatus;
    return 0;
}

int srv_monitor_wait(struct srv_monitor *m, pid_t pid, int grace_ms, struct runner_exit *ex)
{
    struct runner_exit dummy;
    int pidfd = -1, st = 0;
    if (!ex)
        ex = &dummy;
    memset(ex, 0, sizeof(*ex));
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < SRV_MON_MAX_RUNNERS; i++)
        if (m->runners[i].pidfd >= 0 && m->runners[i].pid == pid) {
            pidfd = m->runners[i].pidfd;
            m->runners[i].pidfd = -1;
            m->runners[i].pid = 0;
            break;
        }
    pthread_mutex_unlock(&m->mu);
    if (pidfd < 0)
        return E_NOTFOUND;
    if (!pidfd_wait(pidfd, grace_ms)) {
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        ex->killed = 1;
        (void)pidfd_wait(pidfd, MON_KILL_WAIT);
    }
    close(pidfd);
    /* exited (a zombie of the monitor, or reaped and recorded by it): ask how */
    if (srv_monitor_status(m, pid, &st) == 0) {
        ex->known = 1;
        ex->status = st;
    }
    return 0;
}

static int backend_spawn(void *user, int model_fd, struct runner_proc *out, struct err_info *ei)
{
    int pid = 0, sock = -1;
    int rc = srv_monitor_spawn(user, model_fd, &pid, &sock, ei);
    if (rc == 0) {
        out->pid = pid;
        out->sock = sock;
    }
    return rc;
}

static int backend_wait(void *user, pid_t pid, int grace_ms, struct runner_exit *ex)
{
    return srv_monitor_wait(user, pid, grace_ms, ex);
}

void srv_monitor_attach_runners(struct srv_monitor *m)
{
    struct runner_backend b = {backend_spawn, backend_wait, m};
    runner_backend_set(m ? &b : NULL);
}

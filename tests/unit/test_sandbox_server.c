/*
 * test_sandbox_server.c - the server profile (sbx_server_enter) proven by behaviour in the
 * forked test process: every forbidden operation is first shown to work unsandboxed (the
 * control), then to fail inside, while what the server needs (its models dir read-write,
 * certificates, threads, fds opened before) keeps working; connect() has no effect on a
 * connected TCP socket (no AF_UNSPEC disconnect and reconnect elsewhere).
 */
#include "harness/test.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sbx.h"

static int can_create(const char *dir)
{
    char p[4200];
    int fd;
    snprintf(p, sizeof(p), "%s/f%d", dir, (int)getpid());
    if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
        return 0;
    close(fd);
    unlink(p);
    return 1;
}

static int can_read(const char *p)
{
    char c;
    int fd = open(p, O_RDONLY), ok;
    if (fd < 0)
        return 0;
    ok = read(fd, &c, 1) == 1;
    close(fd);
    return ok;
}

static int can_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

static int can_fork_exec(void)
{
    pid_t p = fork();
    int st = 0;
    if (p == 0) {
        char *argv[] = {(char *)"/bin/true", NULL};
        execv(argv[0], argv);
        _exit(9);
    }
    if (p < 0)
        return 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int can_exec_here(void)
{
    char *argv[] = {(char *)"/nonexistent-but-checked-after-filter", NULL};
    execv(argv[0], argv);
    return errno != EPERM; /* ENOENT: the call was made; EPERM: filtered */
}

static void *thread_fn(void *arg)
{
    return arg;
}

TEST(sandbox_server_profile_denies_and_allows)
{
    char models[4096], secret_dir[4096], secret[4200];
    const char *tmp = test_tmpdir();
    struct sbx_server_policy pol;
    struct sbx_applied a;
    struct err_info ei = {0};
    struct sbx_status st;
    pthread_t th;
    int early, fd;
    snprintf(models, sizeof(models), "%s/models", tmp);
    snprintf(secret_dir, sizeof(secret_dir), "%s/home", tmp);
    snprintf(secret, sizeof(secret), "%s/id_rsa", secret_dir);
    ASSERT(mkdir(models, 0700) == 0 && mkdir(secret_dir, 0700) == 0);
    fd = open(secret, O_WRONLY | O_CREAT, 0600);
    ASSERT(fd >= 0 && write(fd, "KEY", 3) == 3);
    close(fd);
    early = open(secret, O_RDONLY);
    /* controls */
    ASSERT(can_read(secret));
    ASSERT(can_create(secret_dir));
    ASSERT(can_socket());
    ASSERT(can_fork_exec());
    sbx_status_get(&st);
    if (st.landlock_abi < 1 || !st.seccomp) {
        fprintf(stderr, "  (no Landlock/seccomp: profile not testable here)\n");
        return;
    }
    sbx_server_policy_default(&pol, models, NULL, 0);
    ASSERT_EQ_INT(sbx_server_enter(SBX_MODE_ENFORCE, &pol, &a, &ei), 0);
    ASSERT(a.landlock_abi >= 1 && a.seccomp);
    /* denied */
    ASSERT(!can_read(secret));
    ASSERT(!can_create(secret_dir));
    ASSERT(!can_read("/etc/passwd"));
    ASSERT(!can_socket());
    ASSERT(!can_fork_exec());
    ASSERT(!can_exec_here());
    /* still works */
    ASSERT(can_create(models));
    ASSERT(can_read("/etc/ssl/certs/ca-certificates.crt") || access("/etc/ssl/certs", F_OK) != 0);
    ASSERT_EQ_INT(pthread_create(&th, NULL, thread_fn, NULL), 0);
    ASSERT_EQ_INT(pthread_join(th, NULL), 0);
    {
        char c;
        ASSERT(early >= 0 && read(early, &c, 1) == 1); /* fds opened before stay usable */
    }
    {
        int sv[2];
        ASSERT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        close(sv[0]);
        close(sv[1]);
    }
}

static int tcp_listener(struct sockaddr_in *a)
{
    socklen_t len = sizeof(*a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)a, &len) != 0)
        return -1;
    return fd;
}

static int tcp_connected(const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (const struct sockaddr *)a, sizeof(*a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int arrives(int lfd) /* a connection waits on listener lfd within 200 ms */
{
    struct pollfd p = {lfd, POLLIN, 0};
    return poll(&p, 1, 200) == 1;
}

/* The server may hold connected TCP sockets (the monitor's, its clients') but never connect one
 * anywhere: unsandboxed, connect(AF_UNSPEC) dissolves a connection and a second connect reaches
 * another address (the control); inside, connect answers EINPROGRESS and does nothing, and the
 * socket stays connected where it was, as libcurl's extra connect on the monitor's socket
 * expects (writable, SO_ERROR 0). */
TEST(sandbox_server_connect_has_no_effect)
{
    struct sockaddr_in a, b;
    struct sockaddr unspec;
    struct sbx_server_policy pol;
    struct sbx_applied ap;
    struct err_info ei = {0};
    struct sbx_status st;
    char models[4096], c = 0;
    int la = tcp_listener(&a), lb = tcp_listener(&b), fd, peer, err = -1;
    socklen_t el = sizeof(err);
    ASSERT(la >= 0 && lb >= 0);
    memset(&unspec, 0, sizeof(unspec));
    unspec.sa_family = AF_UNSPEC;
    /* control: the reconnect works without the sandbox */
    fd = tcp_connected(&a);
    ASSERT(fd >= 0);
    peer = accept(la, NULL, NULL);
    ASSERT(peer >= 0);
    ASSERT_EQ_INT(connect(fd, &unspec, sizeof(unspec)), 0);
    ASSERT_EQ_INT(connect(fd, (struct sockaddr *)&b, sizeof(b)), 0);
    ASSERT(arrives(lb));
    close(accept(lb, NULL, NULL));
    close(fd);
    close(peer);
    /* inside: connected before (as the monitor hands it over), then confined */
    fd = tcp_connected(&a);
    ASSERT(fd >= 0);
    peer = accept(la, NULL, NULL);
    ASSERT(peer >= 0);
    sbx_status_get(&st);
    if (st.landlock_abi < 1 || !st.seccomp) {
        fprintf(stderr, "  (no Landlock/seccomp: profile not testable here)\n");
        return;
    }
    snprintf(models, sizeof(models), "%s/models", test_tmpdir());
    ASSERT(mkdir(models, 0700) == 0);
    sbx_server_policy_default(&pol, models, NULL, 0);
    ASSERT_EQ_INT(sbx_server_enter(SBX_MODE_ENFORCE, &pol, &ap, &ei), 0);
    errno = 0;
    ASSERT_EQ_INT(connect(fd, &unspec, sizeof(unspec)), -1);
    ASSERT_EQ_INT(errno, EINPROGRESS);
    errno = 0;
    ASSERT_EQ_INT(connect(fd, (struct sockaddr *)&b, sizeof(b)), -1);
    ASSERT_EQ_INT(errno, EINPROGRESS);
    ASSERT(!arrives(lb));
    {
        struct pollfd p = {fd, POLLOUT, 0};
        ASSERT_EQ_INT(poll(&p, 1, 1000), 1);
    }
    ASSERT_EQ_INT(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    ASSERT_EQ_INT(err, 0);
    ASSERT_EQ_INT(write(fd, "x", 1), 1); /* still connected to a */
    ASSERT_EQ_INT(read(peer, &c, 1), 1);
    ASSERT_EQ_INT(c, 'x');
}

TEST(sandbox_server_mode_off_changes_nothing)
{
    struct sbx_server_policy pol;
    struct sbx_applied a;
    struct err_info ei = {0};
    sbx_server_policy_default(&pol, "/nonexistent", NULL, 0);
    ASSERT_EQ_INT(sbx_server_enter(SBX_MODE_OFF, &pol, &a, &ei), 0);
    ASSERT(a.landlock_abi == 0 && !a.seccomp);
    ASSERT(can_socket());
    ASSERT(can_fork_exec());
}

TEST(sandbox_server_missing_models_dir_is_an_error)
{
    struct sbx_server_policy pol;
    struct sbx_applied a;
    struct err_info ei = {0};
    struct sbx_status st;
    sbx_status_get(&st);
    if (st.landlock_abi < 1)
        return;
    sbx_server_policy_default(&pol, "/nonexistent/models", NULL, 0);
    ASSERT_EQ_INT(sbx_server_enter(SBX_MODE_ENFORCE, &pol, &a, &ei), E_NOTFOUND);
}

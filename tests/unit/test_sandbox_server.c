/*
 * test_sandbox_server.c - the server profile (sbx_server_enter) proven by behaviour in the
 * forked test process: every forbidden operation is first shown to work unsandboxed (the
 * control), then to fail inside, while what the server needs (its models dir read-write,
 * certificates, threads, fds opened before) keeps working.
 */
#include "harness/test.h"

#include <errno.h>
#include <fcntl.h>
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

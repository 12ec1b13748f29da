/*
 * test_sandbox_monitor.c - the monitor's seccomp allow-list (sbx_seccomp_monitor) proven by
 * behaviour: each forbidden call is first shown not to answer EPERM (the control), then to answer
 * EPERM once the filter is loaded; what the monitor and a starting runner need (sockets for
 * connect, getaddrinfo, fork, fexecve of a dynamically linked binary, AF_UNIX socketpair, the
 * runner's own sandbox stacked on top) still works.  Each TEST runs in its own forked process.
 */
#include "harness/test.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sbx.h"

#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif

/* errno of a call that returned -1, 0 when it succeeded (fds closed). */
static int err_socket(int family, int type)
{
    int fd = socket(family, type, 0);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno;
}

static int err_ptrace(void)
{
    errno = 0;
    return ptrace(PTRACE_PEEKDATA, 1, NULL, NULL) == -1 ? errno : 0;
}

static int err_io_uring(void)
{
    return syscall(SYS_io_uring_setup, 0, NULL) == -1 ? errno : 0;
}

static int err_unshare(void)
{
    return unshare(0) == -1 ? errno : 0;
}

/* Exit status of a forked child that runs fn; -1 when fork failed. */
static int child_status(void (*fn)(void))
{
    int st = 0;
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        fn();
        _exit(99);
    }
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void run_execve(void)
{
    char *argv[] = {(char *)"true", NULL};
    char *envp[] = {NULL};
    execve("/bin/true", argv, envp);
    _exit(errno == EPERM ? 42 : 43);
}

static void run_fexecve(void)
{
    char *argv[] = {(char *)"true", NULL};
    char *envp[] = {NULL};
    int fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        fexecve(fd, argv, envp);
    _exit(44);
}

/* getaddrinfo through the hosts file (nsswitch, libnss_files loaded on demand, nscd's AF_UNIX
 * socket refused and skipped): 0 when "localhost" resolved. */
static int resolve_localhost(void)
{
    struct addrinfo hints, *res = NULL;
    int rc;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo("localhost", "80", &hints, &res);
    if (res)
        freeaddrinfo(res);
    return rc;
}

static void *thread_fn(void *arg)
{
    *(int *)arg = 7;
    return NULL;
}

TEST(sandbox_monitor_seccomp_denies_outside_its_list)
{
    struct err_info ei = {0};
    int sv[2];
    /* controls: none of these answers EPERM before the filter */
    ASSERT_EQ_INT(err_socket(AF_UNIX, SOCK_STREAM), 0);
    ASSERT(err_ptrace() != EPERM);
    ASSERT(err_io_uring() != EPERM);
    ASSERT_EQ_INT(err_unshare(), 0);
    ASSERT_EQ_INT(child_status(run_execve), 0);

    ASSERT_OK(sbx_seccomp_monitor(&ei));

    ASSERT_EQ_INT(err_socket(AF_UNIX, SOCK_STREAM), EPERM);
    ASSERT_EQ_INT(err_socket(AF_NETLINK, SOCK_RAW), EPERM);
    ASSERT_EQ_INT(err_socket(AF_PACKET, SOCK_RAW), EPERM);
    ASSERT_EQ_INT(err_ptrace(), EPERM);
    ASSERT_EQ_INT(err_io_uring(), EPERM);
    ASSERT_EQ_INT(err_unshare(), EPERM);
    ASSERT_EQ_INT(child_status(run_execve), 42); /* execve answers EPERM */

    /* what the monitor needs */
    ASSERT_EQ_INT(err_socket(AF_INET, SOCK_STREAM), 0);
    ASSERT_EQ_INT(err_socket(AF_INET6, SOCK_DGRAM), 0);
    ASSERT_EQ_INT(resolve_localhost(), 0);
    ASSERT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[0]);
    close(sv[1]);
    /* fork + fexecve of a dynamically linked binary, which starts under the inherited filter */
    ASSERT_EQ_INT(child_status(run_fexecve), 0);
}

TEST(sandbox_monitor_seccomp_then_runner_profile)
{
    struct err_info ei = {0};
    pthread_t th;
    int v = 0;
    /* a runner starts under the monitor's filter and stacks its own sandbox on top */
    ASSERT_OK(sbx_seccomp_monitor(&ei));
    ASSERT_OK(sbx_runner_enter(SBX_MODE_ENFORCE, &ei));
    ASSERT_EQ_INT(pthread_create(&th, NULL, thread_fn, &v), 0);
    pthread_join(th, NULL);
    ASSERT_EQ_INT(v, 7);
    ASSERT_EQ_INT(err_socket(AF_INET, SOCK_STREAM), EPERM); /* the runner's list wins */
}

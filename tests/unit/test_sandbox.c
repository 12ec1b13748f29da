/*
 * test_sandbox.c - the runner sandbox proven by behaviour: each forbidden operation is first
 * shown to succeed unsandboxed (so the test cannot pass vacuously), then to fail inside.
 * Each TEST runs in its own forked process, so applying the sandbox here confines only it.
 */
#include "harness/test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mem.h"
#include "sandbox/sbx.h"

static int try_open(const char *p)
{
    int fd = open(p, O_RDONLY);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

static int try_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

static int try_fork(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    if (p > 0)
        waitpid(p, NULL, 0);
    return p > 0;
}

static int try_exec_mem(void)
{
    void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED)
        munmap(m, 4096);
    return m != MAP_FAILED;
}

static void *thread_fn(void *arg)
{
    *(int *)arg = 42;
    return NULL;
}

TEST(sandbox_runner_denies_files_network_fork_exec)
{
    struct err_info ei = {0};
    char secret[512], buf[8];
    int pre_fd, fds[2], v = 0;
    pthread_t th;
    void *big;

    snprintf(secret, sizeof(secret), "%s/id_rsa", test_tmpdir());
    FILE *f = fopen(secret, "w");
    ASSERT(f);
    fputs("SECRET", f);
    fclose(f);
    /* controls: everything works before */
    ASSERT(try_open(secret));
    ASSERT(try_socket());
    ASSERT(try_fork());
    ASSERT(try_exec_mem());
    pre_fd = open(secret, O_RDONLY);
    ASSERT(pre_fd >= 0);

    ASSERT_OK(sbx_runner_enter(SBX_MODE_ENFORCE, &ei));

    ASSERT(!try_open(secret));
    ASSERT(!try_open("/etc/passwd"));
    ASSERT(!try_socket());
    ASSERT(!try_fork());
    ASSERT(!try_exec_mem());
    /* what a runner needs still works: fds given before, threads, memory, pipes */
    ASSERT_EQ_INT(read(pre_fd, buf, 6), 6);
    ASSERT_MEMEQ(buf, "SECRET", 6);
    ASSERT_EQ_INT(pthread_create(&th, NULL, thread_fn, &v), 0);
    pthread_join(th, NULL);
    ASSERT_EQ_INT(v, 42);
    big = mem_alloc(64u << 20);
    ASSERT(big);
    memset(big, 1, 64u << 20);
    mem_free(big);
    ASSERT_EQ_INT(pipe(fds), -1); /* pipe2 is not in the list either */
}

TEST(sandbox_mode_off_changes_nothing)
{
    struct err_info ei = {0};
    enum sbx_mode m;
    ASSERT_OK(sbx_mode_parse("off", &m));
    ASSERT_OK(sbx_runner_enter(m, &ei));
    ASSERT(try_open("/etc/passwd"));
    ASSERT(try_socket());
    ASSERT_EQ_INT(sbx_mode_parse("bogus", &m), E_INVAL);
}

TEST(sandbox_status_reports_landlock)
{
    struct sbx_status st;
    sbx_status_get(&st);
    /* CI declares what it expects rather than skipping: EXPECT_LANDLOCK_ABI */
    const char *exp = getenv("EXPECT_LANDLOCK_ABI");
    if (exp)
        ASSERT(st.landlock_abi >= atoi(exp));
    ASSERT(st.seccomp);
}

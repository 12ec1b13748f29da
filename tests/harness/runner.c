/*
 * runner.c - runs the registered unit tests, each in a forked child with its own temporary
 * directory and a timeout (scaled by TEST_TIMEOUT_MULT for sanitizer and valgrind runs).
 * Arguments are substring filters on test names.  Prints TAP-like lines and `N passed, N failed`.
 */
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"

static struct test_entry *head, **tail = &head;
static char tmpdir[256];

void test_register(struct test_entry *t)
{
    *tail = t;
    tail = &t->next;
}

const char *test_tmpdir(void)
{
    return tmpdir;
}

static int matches(const struct test_entry *t, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(t->name, argv[i]) || strstr(t->file, argv[i]))
            return 1;
    return 0;
}

static int run_one(struct test_entry *t, int mult)
{
    pid_t pid;
    int status = 0, waited = 0, limit = t->timeout_s * mult * 10;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/corral-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 0;
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) == 0) {
        alarm((unsigned)(t->timeout_s * mult + 5));
        t->fn();
        fflush(stdout);
        _exit(0);
    }
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            break;
        if (waited++ >= limit) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "  timed out after %d s\n", t->timeout_s * mult);
            break;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (fs_rm_rf(tmpdir) != 0)
        fprintf(stderr, "  could not remove %s\n", tmpdir);
    if (WIFSIGNALED(status))
        fprintf(stderr, "  killed by signal %d\n", WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, n = 0, mult = 1;
    const char *m = getenv("TEST_TIMEOUT_MULT");
    if (m && atoi(m) > 0)
        mult = atoi(m);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (struct test_entry *t = head; t; t = t->next) {
        if (!matches(t, argc, argv))
            continue;
        n++;
        if (run_one(t, mult)) {
            passed++;
            printf("ok %d %s\n", n, t->name);
        } else {
            failed++;
            printf("not ok %d %s (%s)\n", n, t->name, t->file);
        }
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

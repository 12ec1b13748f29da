/*
 * sbx_selftest.c - `corral sandbox selftest server|runner [--port N]`: the test-only fault
 * injection of DESIGN.md "Testing", kept out of the daemon's code paths.  A forked child applies
 * the SAME profile function the daemon (sbx_server_enter with sbx_server_policy_default over
 * OLLAMA_MODELS and $HOME/.ollama/registry-auth.json) or a runner (sbx_runner_enter) applies, in
 * the mode CORRAL_SANDBOX gives, then tries a fixed battery of operations and reports each as
 * "allowed" or "denied" in one JSON object on stdout:
 *   read_secret ($HOME/.ssh/id_rsa), read_aws ($HOME/.aws/credentials), write_home (create a file
 *   in $HOME), write_models (create a file in the models dir: the server's positive control),
 *   read_certs (/etc/ssl/certs: a granted path), socket (AF_INET), connect (127.0.0.1:N, a port
 *   the caller listens on), fork, exec (/bin/true, last: on success the child becomes it).
 */
#include "sandbox/sbx.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SELFTEST_OUT_MAX 2048
#define SELFTEST_PATH    4096

struct selftest {
    const char *profile;
    enum sbx_mode mode;
    int port;
    char models[SELFTEST_PATH];
    char home[SELFTEST_PATH];
    char auth[SELFTEST_PATH];
};

static void report(int fd, const char *what, int ok)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "\"%s\":\"%s\",", what, ok ? "allowed" : "denied");
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

static int try_read(const char *path)
{
    char c;
    int fd = open(path, O_RDONLY | O_CLOEXEC), ok;
    if (fd < 0)
        return 0;
    ok = read(fd, &c, 1) >= 0;
    close(fd);
    return ok;
}

static int try_create(const char *dir)
{
    char p[SELFTEST_PATH + 32];
    int fd;
    snprintf(p, sizeof(p), "%s/.corral-selftest-%d", dir, (int)getpid());
    if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        return 0;
    close(fd);
    unlink(p);
    return 1;
}

static int try_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static int try_connect(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static int try_fork(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    if (p < 0)
        return 0;
    waitpid(p, NULL, 0);
    return 1;
}

static int apply(const struct selftest *t, struct err_info *ei)
{
    struct sbx_server_policy pol;
    struct sbx_applied a;
    if (!strcmp(t->profile, "runner"))
        return sbx_runner_enter(t->mode, ei);
    sbx_server_policy_default(&pol, t->models, t->auth[0] ? t->auth : NULL, 0);
    return sbx_server_enter(t->mode, &pol, &a, ei);
}

/* The child: sandbox, battery, exec last.  Reports go to fd. */
static void child(const struct selftest *t, int fd)
{
    struct err_info ei = {0};
    char p[SELFTEST_PATH + 32];
    char *argv[] = {(char *)"/bin/true", NULL};
    if (apply(t, &ei) != 0) {
        dprintf(fd, "\"error\":\"%s\",", "the profile could not be applied");
        _exit(2);
    }
    snprintf(p, sizeof(p), "%s/.ssh/id_rsa", t->home);
    report(fd, "read_secret", try_read(p));
    snprintf(p, sizeof(p), "%s/.aws/credentials", t->home);
    report(fd, "read_aws", try_read(p));
    report(fd, "write_home", try_create(t->home));
    report(fd, "write_models", try_create(t->models));
    report(fd, "read_certs", try_read("/etc/ssl/certs/ca-certificates.crt"));
    report(fd, "socket", try_socket());
    report(fd, "connect", t->port > 0 && try_connect(t->port));
    report(fd, "fork", try_fork());
    execve(argv[0], argv, environ);
    report(fd, "exec", 0);
    _exit(0);
}

static int setup(struct selftest *t, int argc, char **argv)
{
    const char *home = getenv("HOME"), *models = getenv("OLLAMA_MODELS");
    memset(t, 0, sizeof(*t));
    if (argc < 3 || (strcmp(argv[2], "server") && strcmp(argv[2], "runner")))
        return E_INVAL;
    t->profile = argv[2];
    if (argc >= 5 && !strcmp(argv[3], "--port"))
        t->port = (int)strtol(argv[4], NULL, 10);
    if (sbx_mode_parse(getenv("CORRAL_SANDBOX"), &t->mode) != 0 || !home || !*home)
        return E_INVAL;
    snprintf(t->home, sizeof(t->home), "%s", home);
    if (models && *models)
        snprintf(t->models, sizeof(t->models), "%s", models);
    else
        snprintf(t->models, sizeof(t->models), "%s/.ollama/models", home);
    snprintf(t->auth, sizeof(t->auth), "%s/.ollama/registry-auth.json", home);
    return 0;
}

int sbx_selftest_main(int argc, char **argv)
{
    struct selftest t;
    char out[SELFTEST_OUT_MAX];
    size_t n = 0;
    int pfd[2], status = 0;
    ssize_t r;
    pid_t pid;
    if (setup(&t, argc, argv) != 0) {
        fprintf(stderr, "Usage:\n  corral sandbox selftest server|runner [--port N]\n"
                        "(HOME, OLLAMA_MODELS and CORRAL_SANDBOX as the daemon reads them)\n");
        return 2;
    }
    if (pipe2(pfd, O_CLOEXEC) != 0 || (pid = fork()) < 0)
        return 1;
    if (pid == 0) {
        close(pfd[0]);
        child(&t, pfd[1]);
    }
    close(pfd[1]);
    while (n < sizeof(out) - 1 && (r = read(pfd[0], out + n, sizeof(out) - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    close(pfd[0]);
    waitpid(pid, &status, 0);
    /* no exec report and a clean exit: the child became /bin/true */
    printf("{\"profile\":\"%s\",\"mode\":\"%s\",%s", t.profile, sbx_mode_name(t.mode), out);
    if (!strstr(out, "\"exec\"") && !strstr(out, "\"error\""))
        printf("\"exec\":\"%s\",",
               WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "allowed" : "denied");
    printf("\"exit\":%d}\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}

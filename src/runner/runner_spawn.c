/*
 * runner_spawn.c - the one function that starts runner processes (see runner.h).  Uses
 * posix_spawn (no fork of the multithreaded server): the child gets the model fd and its end
 * of a socketpair by dup2 onto themselves, which clears close-on-exec for just those two; every
 * other descriptor of the server is close-on-exec.  Signal mask and dispositions are reset.
 * Under `corral serve` a backend hook (the sandbox's monitor) does the spawning and reaping.
 */
#include "runner/runner.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Set once before any thread exists (runner_backend_set), read-only afterwards. */
static struct runner_backend backend;

void runner_backend_set(const struct runner_backend *b)
{
    if (b)
        backend = *b;
    else
        memset(&backend, 0, sizeof(backend));
}

static int setup_attr(posix_spawnattr_t *attr)
{
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGCHLD);
    if (posix_spawnattr_init(attr) != 0)
        return E_IO;
    if (posix_spawnattr_setsigmask(attr, &none) != 0 ||
        posix_spawnattr_setsigdefault(attr, &def) != 0 ||
        posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0) {
        posix_spawnattr_destroy(attr);
        return E_IO;
    }
    return 0;
}

int runner_spawn(const char *self_exe, int model_fd, struct runner_proc *out, struct err_info *ei)
{
    int sv[2] = {-1, -1}, rc;
    char mfd[16], sfd[16];
    char *argv[7];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    pid_t pid;
    if (backend.spawn)
        return backend.spawn(backend.user, model_fd, out, ei);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return err_set(ei, E_IO, "socketpair: %s", strerror(errno));
    if (setup_attr(&attr) != 0) {
        rc = err_set(ei, E_IO, "posix_spawnattr failed");
        goto out_sock;
    }
    posix_spawn_file_actions_init(&fa);
    /* dup2 onto itself clears FD_CLOEXEC in the child (glibc >= 2.29) */
    posix_spawn_file_actions_adddup2(&fa, model_fd, model_fd);
    posix_spawn_file_actions_adddup2(&fa, sv[1], sv[1]);
    snprintf(mfd, sizeof(mfd), "%d", model_fd);
    snprintf(sfd, sizeof(sfd), "%d", sv[1]);
    argv[0] = (char *)"corral";
    argv[1] = (char *)"runner";
    argv[2] = (char *)"--model-fd";
    argv[3] = mfd;
    argv[4] = (char *)"--sock-fd";
    argv[5] = sfd;
    argv[6] = NULL;
    rc = posix_spawn(&pid, self_exe, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        rc = err_set(ei, E_IO, "spawn %s: %s", self_exe, strerror(rc));
        goto out_sock;
    }
    close(sv[1]);
    out->pid = pid;
    out->sock = sv[0];
    return 0;
out_sock:
    close(sv[0]);
    close(sv[1]);
    return rc;
}

void runner_status_describe(int st, char *out, size_t cap)
{
    if (WIFEXITED(st))
        snprintf(out, cap, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, cap, "killed by signal %d%s", WTERMSIG(st),
                 WCOREDUMP(st) ? " (core dumped)" : "");
    else
        snprintf(out, cap, "status 0x%x", (unsigned)st);
}

int runner_proc_stop(struct runner_proc *p, int grace_ms, struct runner_exit *ex)
{
    struct runner_exit dummy;
    int status = -1;
    if (!ex)
        ex = &dummy;
    memset(ex, 0, sizeof(*ex));
    if (p->sock >= 0) {
        shutdown(p->sock, SHUT_RDWR);
        close(p->sock);
        p->sock = -1;
    }
    if (p->pid <= 0)
        return -1;
    if (backend.wait) {
        (void)backend.wait(backend.user, p->pid, grace_ms, ex);
        p->pid = 0;
        return ex->known ? ex->status : -1;
    }
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            ex->known = 1;
            break;
        }
        if (r < 0 && errno != EINTR)
            break;
        if (waited >= grace_ms) {
            kill(p->pid, SIGKILL);
            ex->killed = 1;
            while ((r = waitpid(p->pid, &status, 0)) < 0 && errno == EINTR)
                ;
            ex->known = r == p->pid;
            break;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    ex->status = ex->known ? status : 0;
    p->pid = 0;
    return ex->known ? status : -1;
}

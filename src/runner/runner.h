/*
 * runner.h - runner processes: `corral runner --model-fd N --sock-fd N` serves one model over
 * the framed protocol of rproto.h, and runner_spawn() is the ONE place that starts such a
 * process.  The sandbox work moves spawning into the monitor (fork + fexecve of the binary's
 * fd); callers only see a pid and a socket, so nothing else may assume the server forks.
 * Thread-safety: runner_spawn and runner_proc_stop are thread-safe (no shared state).
 */
#ifndef CORRAL_RUNNER_RUNNER_H
#define CORRAL_RUNNER_RUNNER_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

/* A started runner: its pid and the server's end of the socketpair (close-on-exec). */
struct runner_proc {
    pid_t pid; /* 0 when none */
    int sock;  /* -1 when none */
};

/* Starts `self_exe runner --model-fd F --sock-fd S` (self_exe: usually "/proc/self/exe") with
 * model_fd and one end of a fresh socketpair as its only extra descriptors.  model_fd stays the
 * caller's (close it after the call).  On success *out holds the pid and the other end.
 * Errors: E_IO (socketpair or spawn failed; detail in ei). */
CORRAL_WARN_UNUSED int runner_spawn(const char *self_exe, int model_fd, struct runner_proc *out,
                                    struct err_info *ei);

/* How a stopped runner ended (runner_proc_stop). */
struct runner_exit {
    int known;  /* 1 when status is valid */
    int status; /* wait status (WIFEXITED, WTERMSIG ...) */
    int killed; /* 1 when runner_proc_stop sent SIGKILL itself after the grace period */
};

/* Stops a runner: closes the socket (the runner exits at end of stream), waits up to
 * grace_ms for it, then SIGKILLs and reaps it.  Safe on a zeroed/stopped struct.  ex (may be
 * NULL) gets how it ended.  Returns the wait status (or -1 when it is not known). */
int runner_proc_stop(struct runner_proc *p, int grace_ms, struct runner_exit *ex);

/* Why a process ended, as one phrase from its wait status: "exit status 1", "killed by signal 9",
 * "killed by signal 11 (core dumped)". */
void runner_status_describe(int status, char *out, size_t cap);

/* Backend hook: when set (by `corral serve` before any thread exists, once), runner_spawn asks
 * spawn instead of spawning itself, and runner_proc_stop asks wait to stop the pid and learn how
 * it ended (the process is then not our child: the sandbox's monitor started and reaps it).
 * NULL restores the default. */
struct runner_backend {
    int (*spawn)(void *user, int model_fd, struct runner_proc *out, struct err_info *ei);
    /* after the socket was closed; fills ex (zeroed by the caller) */
    int (*wait)(void *user, pid_t pid, int grace_ms, struct runner_exit *ex);
    void *user;
};
void runner_backend_set(const struct runner_backend *b);

#endif

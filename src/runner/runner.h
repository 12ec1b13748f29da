/*
 * runner.h - runner processes: `corral runner --model-fd N --sock-fd N` serves one model over
 * the framed protocol of rproto.h, and runner_spawn() is the ONE place that starts such a
 * process.  The sandbox work moves spawning into the monitor (fork + fexecve of the binary's
 * fd); callers only see a pid and a socket, so nothing else may assume the server forks.
 * Thread-safety: runner_spawn and runner_proc_stop are thread-safe (no shared state).
 */
#ifndef CORRAL_RUNNER_RUNNER_H
#define CORRAL_RUNNER_RUNNER_H

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

/* Stops a runner: closes the socket (the runner exits at end of stream), waits up to
 * grace_ms for it, then SIGKILLs and reaps it.  Safe on a zeroed/stopped struct.  Returns the
 * wait status (or -1 when there was nothing to reap). */
int runner_proc_stop(struct runner_proc *p, int grace_ms);

/* Backend hook: when set (by `corral serve` before any thread exists, once), runner_spawn asks
 * spawn instead of spawning itself, and runner_proc_stop asks wait to reap the pid (the
 * process is then not our child: the sandbox's monitor started it).  NULL restores the default. */
struct runner_backend {
    int (*spawn)(void *user, int model_fd, struct runner_proc *out, struct err_info *ei);
    int (*wait)(void *user, pid_t pid, int grace_ms); /* after the socket was closed */
    void *user;
};
void runner_backend_set(const struct runner_backend *b);

#endif

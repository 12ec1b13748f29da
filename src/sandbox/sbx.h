/*
 * sbx.h - the kernel sandbox: Landlock (file system, TCP ports, scopes) and seccomp filters,
 * applied by a process to itself.  Two profiles exist today:
 *   runner  - the tightest: no file opens at all, no network, no exec, a seccomp allow-list with
 *             EPERM as the default action.  Applied by `corral runner` before it reads a byte of
 *             the model (the model arrives as an already-open fd).
 *   server  - the daemon's HTTP process after start-up: Landlock (models dir read-write,
 *             libraries/certificates/a few /etc files read-only, TCP bind on its own port only),
 *             every capability dropped, a seccomp deny-list (no socket -- so no connection but
 *             those the monitor hands over --, exec, fork, ptrace, io_uring, bpf, keyctl, mount,
 *             namespaces ...).
 *   status  - detection only, for `corral sandbox show` and /api/version.
 * See docs/SANDBOX.md.
 * Thread-safety: sbx_*_apply must be called while the process has a single thread (threads that
 * exist before Landlock's restrict_self escape it).
 */
#ifndef CORRAL_SANDBOX_SBX_H
#define CORRAL_SANDBOX_SBX_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum sbx_mode { SBX_MODE_ENFORCE = 0, SBX_MODE_WARN = 1, SBX_MODE_OFF = 2 };

/* Highest Landlock ABI this code knows. */
#define SBX_LANDLOCK_ABI_MAX 7

struct sbx_status {
    int landlock_abi;   /* 0 when unavailable; capped by CORRAL_LANDLOCK_MAX_ABI (test knob) */
    int landlock_errno; /* why it is 0 (ENOSYS, EOPNOTSUPP, EPERM), else 0 */
    int seccomp;        /* 1 when seccomp filters can be installed */
};

/* Detects what the kernel offers. */
void sbx_status_get(struct sbx_status *st);
/* Parses "enforce" | "warn" | "off" (CORRAL_SANDBOX); E_INVAL otherwise. */
int sbx_mode_parse(const char *s, enum sbx_mode *out);
const char *sbx_mode_name(enum sbx_mode m);

/* Runner profile (see top).  mode OFF does nothing; WARN applies what the kernel supports and
 * returns 0 even when something is missing (detail in ei); ENFORCE fails with E_UNSUPPORTED when
 * Landlock or seccomp is missing, and with E_PERM/E_IO when a layer cannot be applied. */
CORRAL_WARN_UNUSED int sbx_runner_enter(enum sbx_mode mode, struct err_info *ei);

/* Layers, exposed for tests and for the profiles to come.
 * sbx_landlock_deny_all: handles every FS right, TCP bind/connect and the scopes the ABI knows,
 * with no rules: the process can no longer open any path, bind or connect TCP ports. */
CORRAL_WARN_UNUSED int sbx_landlock_deny_all(int abi, struct err_info *ei);
/* Installs the runner's seccomp allow-list (default action EPERM). */
CORRAL_WARN_UNUSED int sbx_seccomp_runner(struct err_info *ei);

/* ---- server profile ---- */

#define SBX_MAX_PATHS 32 /* paths in one policy list */

/* What the server profile grants.  Paths that do not exist are skipped (a read-only grant of a
 * missing /lib64 is not an error); a missing rw path is E_NOTFOUND. */
struct sbx_server_policy {
    const char *rw[SBX_MAX_PATHS]; /* read-write directories (the models dir) */
    size_t n_rw;
    const char *ro[SBX_MAX_PATHS]; /* read-only files or directories */
    size_t n_ro;
    const char *rx[SBX_MAX_PATHS]; /* read-only + execute (the monitor's libraries, binary) */
    size_t n_rx;
    int bind_port; /* the only TCP port bind() may use (0 = none) */
};

/* The server's read-only defaults (/usr, /lib, /lib64, /etc/ssl, /etc/ca-certificates, the /etc
 * files libc and libcurl read, /sys/devices/system/cpu) plus models_dir read-write, extra_ro
 * (may be NULL: e.g. registry-auth.json) and port. */
void sbx_server_policy_default(struct sbx_server_policy *p, const char *models_dir,
                               const char *extra_ro, int port);

/* What sbx_server_enter applied, for logs, `corral sandbox show` and /api/version. */
struct sbx_applied {
    int landlock_abi; /* ABI used, 0 = no Landlock layer */
    int seccomp;      /* 1 when the filter is loaded */
    int caps_dropped; /* 1 when the process had capabilities and dropped them */
    int net;          /* 1 when TCP bind is filtered by Landlock (ABI >= 4) */
};

/* Server profile (see top): drops every capability, then Landlock with p, then the seccomp
 * deny-list.  Must run while the process has one thread.  Modes as sbx_runner_enter. */
CORRAL_WARN_UNUSED int sbx_server_enter(enum sbx_mode mode, const struct sbx_server_policy *p,
                                        struct sbx_applied *out, struct err_info *ei);

/* Layers of the server profile, exposed for tests. */
/* Drops every capability (bounding set, ambient, effective/permitted/inheritable) and clears
 * PR_SET_KEEPCAPS.  *dropped = 1 when there was any.  E_PERM on failure. */
CORRAL_WARN_UNUSED int sbx_caps_drop_all(int *dropped, struct err_info *ei);
/* Landlock ruleset handling every right of abi with p's rules. */
CORRAL_WARN_UNUSED int sbx_landlock_server(int abi, const struct sbx_server_policy *p,
                                           struct err_info *ei);
/* The server's seccomp deny-list (default allow, listed calls fail with EPERM; clone3 ENOSYS). */
CORRAL_WARN_UNUSED int sbx_seccomp_server(struct err_info *ei);

/* `corral sandbox selftest server|runner [--port N]` (sbx_selftest.c): applies a profile in a
 * forked child and prints what a battery of forbidden operations did, as JSON. */
int sbx_selftest_main(int argc, char **argv);

/* Monitor profile: Landlock (it must fork, exec the binary, resolve and connect): no file
 * writes anywhere; read+execute on /usr, /lib, /lib64, /bin and exe_path (the binary, as
 * /proc/self/exe resolves); read-only on the DNS files, /sys/devices/system/cpu and /proc (what
 * a runner reads between exec and its own sandbox); no TCP bind; abstract-unix scope.  Runners
 * inherit this domain and add their own.  Then the monitor's seccomp allow-list
 * (sbx_seccomp_monitor), inherited by runners too.  Modes as sbx_runner_enter. */
CORRAL_WARN_UNUSED int sbx_monitor_enter(enum sbx_mode mode, const char *exe_path,
                                         struct err_info *ei);

/* The monitor's seccomp allow-list (default EPERM): what its loop needs plus what a runner needs
 * between exec and its own filter; no execve (execveat with AT_EMPTY_PATH only), socket only
 * AF_INET/AF_INET6, socketpair only AF_UNIX, clone without CLONE_NEW*, no ptrace, mount,
 * io_uring, bpf, keyctl, unshare ...  Inherited by every runner. */
CORRAL_WARN_UNUSED int sbx_seccomp_monitor(struct err_info *ei);

/* The paragraph printed when enforce cannot start (what is missing, how to get it). */
const char *sbx_missing_paragraph(const struct sbx_status *st);

#endif

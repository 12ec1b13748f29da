/*
 * sbx.h - the kernel sandbox: Landlock (file system, TCP ports, scopes) and seccomp filters,
 * applied by a process to itself.  Two profiles exist today:
 *   runner  - the tightest: no file opens at all, no network, no exec, a seccomp allow-list with
 *             EPERM as the default action.  Applied by `corral runner` before it reads a byte of
 *             the model (the model arrives as an already-open fd).
 *   status  - detection only, for `corral sandbox show` and /api/version.
 * The server and monitor profiles of DESIGN.md come next; see docs/SANDBOX.md.
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

#endif

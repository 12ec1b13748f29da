/*
 * sbx_runner.c - the runner profile: Landlock with every right handled and no rule (no path can
 * be opened, no TCP port bound or connected, no abstract socket or signal outside the domain),
 * then the seccomp allow-list.  Order matters: Landlock first (its syscalls are not in the
 * allow-list), seccomp last.
 */
#include "sandbox/sbx.h"

int sbx_runner_enter(enum sbx_mode mode, struct err_info *ei)
{
    struct sbx_status st;
    int rc;
    if (mode == SBX_MODE_OFF)
        return 0;
    sbx_status_get(&st);
    if (mode == SBX_MODE_ENFORCE && (st.landlock_abi < 1 || !st.seccomp))
        return err_set(ei, E_UNSUPPORTED,
                       "sandbox enforce: %s is not available (Landlock ABI %d); boot a kernel "
                       "with lsm=...,landlock or set CORRAL_SANDBOX=warn",
                       st.landlock_abi < 1 ? "Landlock" : "seccomp", st.landlock_abi);
    if (st.landlock_abi >= 1) {
        if ((rc = sbx_landlock_deny_all(st.landlock_abi, ei)) != 0 && mode == SBX_MODE_ENFORCE)
            return rc;
    }
    if (st.seccomp) {
        if ((rc = sbx_seccomp_runner(ei)) != 0 && mode == SBX_MODE_ENFORCE)
            return rc;
    }
    return 0;
}

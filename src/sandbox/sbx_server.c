/*
 * sbx_server.c - the server profile: the daemon's HTTP process confines itself after start-up
 * (store opened and locked, port bound, identity key read).  Order: capabilities dropped first
 * (a root daemon keeps uid 0 but no privilege), then Landlock (its syscalls are still allowed),
 * then the seccomp deny-list, loaded with TSYNC.  The policy is data (struct
 * sbx_server_policy) so `corral sandbox selftest server` applies exactly what the daemon does.
 */
#include "sandbox/sbx.h"

#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT           47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define SBX_CAP_LAST_MAX                                                    \
    63 /* bounding-set bits tried (the kernel answers EINVAL past its last) \
        */

static const char *const server_ro_default[] = {
    "/usr",
    "/lib",
    "/lib64",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/localtime",
    "/etc/services",
    "/etc/protocols",
    "/sys/devices/system/cpu",
};

void sbx_server_policy_default(struct sbx_server_policy *p, const char *models_dir,
                               const char *extra_ro, int port)
{
    memset(p, 0, sizeof(*p));
    if (models_dir)
        p->rw[p->n_rw++] = models_dir;
    for (size_t i = 0; i < sizeof(server_ro_default) / sizeof(server_ro_default[0]); i++)
        p->ro[p->n_ro++] = server_ro_default[i];
    if (extra_ro && p->n_ro < SBX_MAX_PATHS)
        p->ro[p->n_ro++] = extra_ro;
    p->bind_port = port;
}

static int caps_any(int *any)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) != 0)
        return E_PERM;
    *any = (d[0].permitted | d[1].permitted | d[0].effective | d[1].effective | d[0].inheritable |
            d[1].inheritable) != 0;
    return 0;
}

int sbx_caps_drop_all(int *dropped, struct err_info *ei)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    int any = 0;
    *dropped = 0;
    if (caps_any(&any) != 0)
        return err_set(ei, E_PERM, "capget: %s", strerror(errno));
    if (!any)
        return 0;
    /* bounding set first: dropping from it needs CAP_SETPCAP, which goes last */
    for (int c = 0; c <= SBX_CAP_LAST_MAX; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno == EINVAL)
            break;
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
        return err_set(ei, E_PERM, "PR_SET_KEEPCAPS: %s", strerror(errno));
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capset, &h, d) != 0)
        return err_set(ei, E_PERM, "capset: %s", strerror(errno));
    *dropped = 1;
    return 0;
}

const char *sbx_missing_paragraph(const struct sbx_status *st)
{
    if (st->landlock_abi < 1)
        return "corral's sandbox (CORRAL_SANDBOX=enforce, the default) needs Landlock, the Linux "
               "security module that lets a process restrict its own file and network access "
               "(Linux 5.13 or later, built with CONFIG_SECURITY_LANDLOCK=y and enabled at boot: "
               "add landlock to the lsm= kernel parameter, e.g. lsm=landlock,lockdown,yama,"
               "integrity,apparmor). This kernel does not offer it, so the daemon refuses to "
               "start rather than run unconfined. Set CORRAL_SANDBOX=warn to run with whatever "
               "layers exist (seccomp, dropped capabilities), or CORRAL_SANDBOX=off to run "
               "without a sandbox.";
    if (!st->seccomp)
        return "corral's sandbox (CORRAL_SANDBOX=enforce, the default) needs seccomp filters "
               "(CONFIG_SECCOMP_FILTER=y), which this kernel does not offer. Set "
               "CORRAL_SANDBOX=warn or CORRAL_SANDBOX=off to run anyway.";
    return "";
}

int sbx_server_enter(enum sbx_mode mode, const struct sbx_server_policy *p, struct sbx_applied *out,
                     struct err_info *ei)
{
    struct sbx_status st;
    int rc;
    memset(out, 0, sizeof(*out));
    if (mode == SBX_MODE_OFF)
        return 0;
    sbx_status_get(&st);
    if (mode == SBX_MODE_ENFORCE && (st.landlock_abi < 1 || !st.seccomp))
        return err_set(ei, E_UNSUPPORTED, "%s", sbx_missing_paragraph(&st));
    if ((rc = sbx_caps_drop_all(&out->caps_dropped, ei)) != 0 && mode == SBX_MODE_ENFORCE)
        return rc;
    if (st.landlock_abi >= 1) {
        rc = sbx_landlock_server(st.landlock_abi, p, ei);
        if (rc != 0 && mode == SBX_MODE_ENFORCE)
            return rc;
        if (rc == 0) {
            out->landlock_abi = st.landlock_abi;
            out->net = st.landlock_abi >= 4;
        }
    }
    if (st.seccomp) {
        rc = sbx_seccomp_server(ei);
        if (rc != 0 && mode == SBX_MODE_ENFORCE)
            return rc;
        out->seccomp = rc == 0;
    }
    return 0;
}

static const char *const monitor_ro[] = {
    "/etc/resolv.conf", "/etc/hosts",    "/etc/nsswitch.conf",      "/etc/host.conf",
    "/etc/gai.conf",    "/etc/services", "/sys/devices/system/cpu", "/proc",
};
static const char *const monitor_rx[] = {"/usr", "/lib", "/lib64", "/bin"};

int sbx_monitor_enter(enum sbx_mode mode, const char *exe_path, struct err_info *ei)
{
    struct sbx_server_policy p;
    struct sbx_status st;
    int rc = 0;
    if (mode == SBX_MODE_OFF)
        return 0;
    sbx_status_get(&st);
    if (mode == SBX_MODE_ENFORCE && (st.landlock_abi < 1 || !st.seccomp))
        return err_set(ei, E_UNSUPPORTED, "monitor: %s is not available",
                       st.landlock_abi < 1 ? "Landlock" : "seccomp");
    memset(&p, 0, sizeof(p));
    for (size_t i = 0; i < sizeof(monitor_ro) / sizeof(monitor_ro[0]); i++)
        p.ro[p.n_ro++] = monitor_ro[i];
    for (size_t i = 0; i < sizeof(monitor_rx) / sizeof(monitor_rx[0]); i++)
        p.rx[p.n_rx++] = monitor_rx[i];
    if (exe_path && *exe_path)
        p.rx[p.n_rx++] = exe_path;
    if (st.landlock_abi >= 1 && (rc = sbx_landlock_server(st.landlock_abi, &p, ei)) != 0 &&
        mode == SBX_MODE_ENFORCE)
        return rc;
    /* last: the Landlock calls above are allowed by it, but nothing after needs more */
    if (st.seccomp && (rc = sbx_seccomp_monitor(ei)) != 0 && mode == SBX_MODE_ENFORCE)
        return rc;
    return 0;
}

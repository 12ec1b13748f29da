/*
 * sbx_landlock.c - Landlock through its raw syscalls, with our own copy of the UAPI constants
 * (Debian 12's linux/landlock.h predates the net rights, scopes and truncate/ioctl rights).
 * Facts verified on this kernel: ../shared/docs/sandbox-reference.md section 0.
 */
#include "sandbox/sbx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule       445
#define __NR_landlock_restrict_self  446
#endif

#define LL_CREATE_RULESET_VERSION (1u << 0)

/* File system rights by the ABI that introduced them. */
#define LL_FS_ABI1             ((1ull << 13) - 1) /* execute .. make_sym */
#define LL_FS_REFER            (1ull << 13)       /* ABI 2 */
#define LL_FS_TRUNCATE         (1ull << 14)       /* ABI 3 */
#define LL_FS_IOCTL_DEV        (1ull << 15)       /* ABI 5 */
#define LL_NET_BIND_TCP        (1ull << 0)        /* ABI 4 */
#define LL_NET_CONNECT_TCP     (1ull << 1)        /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX (1ull << 0)        /* ABI 6 */
#define LL_SCOPE_SIGNAL        (1ull << 1)        /* ABI 6 */

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

static int probe_abi(int *err)
{
    long v = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    const char *cap = getenv("CORRAL_LANDLOCK_MAX_ABI");
    if (v < 0) {
        *err = errno;
        return 0;
    }
    *err = 0;
    if (v > SBX_LANDLOCK_ABI_MAX)
        v = SBX_LANDLOCK_ABI_MAX;
    if (cap && *cap) {
        long c = strtol(cap, NULL, 10);
        if (c >= 0 && c < v)
            v = c;
    }
    return (int)v;
}

void sbx_status_get(struct sbx_status *st)
{
    memset(st, 0, sizeof(*st));
    st->landlock_abi = probe_abi(&st->landlock_errno);
    /* PR_GET_SECCOMP succeeds (0 = not filtered yet, 2 = filtered) when seccomp is built in. */
    st->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
}

int sbx_landlock_deny_all(int abi, struct err_info *ei)
{
    struct ll_ruleset_attr attr;
    size_t attr_size;
    int fd;

    if (abi < 1)
        return err_set(ei, E_UNSUPPORTED, "Landlock is not available in this kernel");
    memset(&attr, 0, sizeof(attr));
    attr.handled_access_fs = LL_FS_ABI1;
    if (abi >= 2)
        attr.handled_access_fs |= LL_FS_REFER;
    if (abi >= 3)
        attr.handled_access_fs |= LL_FS_TRUNCATE;
    if (abi >= 5)
        attr.handled_access_fs |= LL_FS_IOCTL_DEV;
    attr_size = sizeof(uint64_t);
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        attr_size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
        attr_size = sizeof(attr);
    }
    fd = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
    if (fd < 0)
        return err_set(ei, E_PERM, "landlock_create_ruleset: %s", strerror(errno));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        close(fd);
        return err_set(ei, E_PERM, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    }
    if (syscall(__NR_landlock_restrict_self, fd, 0) != 0) {
        int e = errno;
        close(fd);
        return err_set(ei, E_PERM, "landlock_restrict_self: %s", strerror(e));
    }
    close(fd);
    return 0;
}

int sbx_mode_parse(const char *s, enum sbx_mode *out)
{
    if (!s || !*s || !strcmp(s, "enforce"))
        *out = SBX_MODE_ENFORCE;
    else if (!strcmp(s, "warn"))
        *out = SBX_MODE_WARN;
    else if (!strcmp(s, "off"))
        *out = SBX_MODE_OFF;
    else
        return E_INVAL;
    return 0;
}

const char *sbx_mode_name(enum sbx_mode m)
{
    return m == SBX_MODE_ENFORCE ? "enforce" : m == SBX_MODE_WARN ? "warn" : "off";
}

/*
 * sbx_landlock.c - Landlock through its raw syscalls, with our own copy of the UAPI constants
 * (Debian 12's linux/landlock.h predates the net rights, scopes and truncate/ioctl rights).
 * Facts verified on this kernel: ../shared/docs/sandbox-reference.md section 0.
 */
#include "sandbox/sbx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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

#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT     2

/* ABI 1 rights by bit */
#define LL_FS_EXECUTE     (1ull << 0)
#define LL_FS_WRITE_FILE  (1ull << 1)
#define LL_FS_READ_FILE   (1ull << 2)
#define LL_FS_READ_DIR    (1ull << 3)
#define LL_FS_REMOVE_DIR  (1ull << 4)
#define LL_FS_REMOVE_FILE (1ull << 5)
#define LL_FS_MAKE_DIR    (1ull << 7)
#define LL_FS_MAKE_REG    (1ull << 8)
/* rights that apply to a regular file (the kernel refuses others on a file rule) */
#define LL_FS_FILE_RIGHTS \
    (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

struct ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port {
    uint64_t allowed_access;
    uint64_t port;
};

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

/* Every FS right the ABI knows. */
static uint64_t fs_handled(int abi)
{
    uint64_t r = LL_FS_ABI1;
    if (abi >= 2)
        r |= LL_FS_REFER;
    if (abi >= 3)
        r |= LL_FS_TRUNCATE;
    if (abi >= 5)
        r |= LL_FS_IOCTL_DEV;
    return r;
}

/* A ruleset handling every FS right of abi, the net rights in net (ABI 4) and the given scopes
 * (ABI 6). */
static int ruleset_new(int abi, uint64_t net, uint64_t scopes, struct err_info *ei)
{
    struct ll_ruleset_attr attr;
    size_t attr_size = sizeof(uint64_t);
    int fd;
    if (abi < 1)
        return err_set(ei, E_UNSUPPORTED, "Landlock is not available in this kernel");
    memset(&attr, 0, sizeof(attr));
    attr.handled_access_fs = fs_handled(abi);
    if (abi >= 4 && net) {
        attr.handled_access_net = net;
        attr_size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6 && scopes) {
        attr.scoped = scopes;
        attr_size = sizeof(attr);
    }
    fd = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
    if (fd < 0)
        return err_set(ei, E_PERM, "landlock_create_ruleset: %s", strerror(errno));
    return fd;
}

/* no_new_privs + restrict_self; closes fd. */
static int ruleset_enforce(int fd, struct err_info *ei)
{
    int rc = 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        rc = err_set(ei, E_PERM, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    else if (syscall(__NR_landlock_restrict_self, fd, 0) != 0)
        rc = err_set(ei, E_PERM, "landlock_restrict_self: %s", strerror(errno));
    close(fd);
    return rc;
}

int sbx_landlock_deny_all(int abi, struct err_info *ei)
{
    int fd = ruleset_new(abi, LL_NET_BIND_TCP | LL_NET_CONNECT_TCP,
                         LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL, ei);
    if (fd < 0)
        return fd;
    return ruleset_enforce(fd, ei);
}

/* Adds a path rule; a missing path is skipped unless required. */
static int add_path(int rfd, const char *path, uint64_t access, int required, struct err_info *ei)
{
    struct ll_path_beneath pb;
    struct stat sb;
    int fd = open(path, O_PATH | O_CLOEXEC), rc = 0;
    if (fd < 0) {
        if (!required && (errno == ENOENT || errno == ENOTDIR || errno == EACCES))
            return 0;
        return err_set(ei, E_NOTFOUND, "sandbox: %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &sb) == 0 && !S_ISDIR(sb.st_mode))
        access &= LL_FS_FILE_RIGHTS;
    pb.allowed_access = access;
    pb.parent_fd = fd;
    if (syscall(__NR_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0) != 0)
        rc = err_set(ei, E_PERM, "landlock_add_rule %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

static int add_rules(int rfd, int abi, const struct sbx_server_policy *p, struct err_info *ei)
{
    uint64_t ro = LL_FS_READ_FILE | LL_FS_READ_DIR;
    uint64_t rw = ro | LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_DIR |
                  LL_FS_MAKE_REG;
    int rc;
    if (abi >= 2)
        rw |= LL_FS_REFER;
    if (abi >= 3)
        rw |= LL_FS_TRUNCATE;
    for (size_t i = 0; i < p->n_rw && i < SBX_MAX_PATHS; i++)
        if ((rc = add_path(rfd, p->rw[i], rw, 1, ei)) != 0)
            return rc;
    for (size_t i = 0; i < p->n_ro && i < SBX_MAX_PATHS; i++)
        if ((rc = add_path(rfd, p->ro[i], ro, 0, ei)) != 0)
            return rc;
    for (size_t i = 0; i < p->n_rx && i < SBX_MAX_PATHS; i++)
        if ((rc = add_path(rfd, p->rx[i], ro | LL_FS_EXECUTE, 0, ei)) != 0)
            return rc;
    if (abi >= 4 && p->bind_port > 0 && p->bind_port < 65536) {
        struct ll_net_port np = {LL_NET_BIND_TCP, (uint64_t)p->bind_port};
        if (syscall(__NR_landlock_add_rule, rfd, LL_RULE_NET_PORT, &np, 0) != 0)
            return err_set(ei, E_PERM, "landlock_add_rule port %d: %s", p->bind_port,
                           strerror(errno));
    }
    return 0;
}

int sbx_landlock_server(int abi, const struct sbx_server_policy *p, struct err_info *ei)
{
    /* no signal scope: the server stops runners (the monitor's children) with pidfd signals.
     * TCP connect is not handled: libcurl 7.88 calls connect() once more on the socket the
     * monitor connected (see reg.h), which Landlock would refuse; the server cannot create a
     * socket at all (seccomp), so it can only "connect" the monitor's already-connected ones. */
    int fd = ruleset_new(abi, LL_NET_BIND_TCP, LL_SCOPE_ABSTRACT_UNIX, ei), rc;
    if (fd < 0)
        return fd;
    if ((rc = add_rules(fd, abi, p, ei)) != 0) {
        close(fd);
        return rc;
    }
    return ruleset_enforce(fd, ei);
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

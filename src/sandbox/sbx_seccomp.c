/*
 * sbx_seccomp.c - seccomp filters built with libseccomp.
 *
 * The runner's filter is an allow-list with EPERM as the default action: whatever a runner does
 * not need fails politely instead of killing it, so an unexpected libc path shows up as an error
 * message rather than a crash, and nothing outside the list ever runs.  Notable choices:
 *   - clone only with CLONE_THREAD (threads yes, fork no); clone3 answers ENOSYS so glibc falls
 *     back to clone, whose flags are visible to the filter;
 *   - mmap/mprotect never with PROT_EXEC (no new executable memory after start);
 *   - tgkill only towards our own process (abort()), prctl only for thread names;
 *   - no open/openat, socket, connect, bind, execve, ptrace, io_uring, bpf ... (not listed).
 *
 * The monitor's filter is an allow-list too (EPERM default), wider: it forks, fexecve()s the
 * binary (execveat with AT_EMPTY_PATH; execve denied), resolves and connects (socket AF_INET/6
 * only), and runners inherit it, so it also covers their start-up (see monitor_extra).
 *
 * The server's filter is a deny-list (default allow): the server runs libc, libcurl and
 * libmicrohttpd, whose exact calls vary; what it must never do is listed and answers EPERM.
 *
 * Each filter is a struct profile (default action, syscall lists with one action, a function
 * adding the rules with argument conditions, TSYNC or not) built and loaded by profile_load; the
 * monitor's list is the runner's plus monitor_extra.
 */
#include "sandbox/sbx.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <seccomp.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* One filter: a default action, a list (and an extra list) of system calls that all get
 * list_action (a syscall number < 0 is not one on this architecture and is skipped), rules with
 * argument conditions, and whether the filter is synchronised onto every thread that already
 * exists. */
struct profile {
    uint32_t default_action;
    uint32_t list_action;
    const int *list;
    size_t n_list;
    const int *extra; /* more calls with list_action (may be NULL) */
    size_t n_extra;
    int (*conditional)(scmp_filter_ctx ctx); /* nonzero when a rule failed */
    int tsync;
};

/* Builds p's filter, sets no_new_privs and loads it into this thread (all threads with tsync). */
static int profile_load(const struct profile *p, struct err_info *ei)
{
    scmp_filter_ctx ctx = seccomp_init(p->default_action);
    int rc = 0;
    if (!ctx)
        return err_set(ei, E_NOMEM, "seccomp_init failed");
    for (size_t i = 0; i < p->n_list + p->n_extra; i++) {
        int sys = i < p->n_list ? p->list[i] : p->extra[i - p->n_list];
        if (sys < 0)
            continue; /* not a syscall on this architecture */
        if (seccomp_rule_add(ctx, p->list_action, sys, 0) != 0) {
            rc = err_set(ei, E_INTERNAL, "seccomp rule for syscall %d failed", sys);
            goto out;
        }
    }
    if (p->conditional(ctx) != 0) {
        rc = err_set(ei, E_INTERNAL, "seccomp conditional rules failed");
        goto out;
    }
    if (p->tsync && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
        rc = err_set(ei, E_INTERNAL, "seccomp TSYNC unavailable");
        goto out;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        rc = err_set(ei, E_PERM, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        goto out;
    }
    if ((rc = seccomp_load(ctx)) != 0)
        rc = err_set(ei, E_PERM, "seccomp_load: %s", strerror(-rc));
out:
    seccomp_release(ctx);
    return rc;
}

static const int runner_allow[] = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(pread64),
    SCMP_SYS(lseek),
    SCMP_SYS(close),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(shutdown),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(pselect6),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(madvise),
    SCMP_SYS(brk),
    SCMP_SYS(futex),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(get_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(time),
    SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(getppid),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getgid),
    SCMP_SYS(getegid),
    SCMP_SYS(getrandom),
    SCMP_SYS(fcntl),
    SCMP_SYS(dup),
    SCMP_SYS(dup3),
    SCMP_SYS(membarrier),
    SCMP_SYS(getrusage),
    SCMP_SYS(sysinfo),
    SCMP_SYS(uname),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(mlock),
    SCMP_SYS(munlock),
};

static int add_conditional(scmp_filter_ctx ctx)
{
    int rc = 0;
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                           SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                           SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                           SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
    /* AMX: the engine checks and asks for the per-process grant of the tile state when it
     * picks its kernels at model load (common/cpu.c cpu_amx_permit); nothing else of arch_prctl */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl), 1,
                           SCMP_A0(SCMP_CMP_EQ, 0x1022)); /* ARCH_GET_XCOMP_PERM */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl), 1,
                           SCMP_A0(SCMP_CMP_EQ, 0x1023)); /* ARCH_REQ_XCOMP_PERM */
    return rc;
}

static const struct profile runner_profile = {
    .default_action = SCMP_ACT_ERRNO(EPERM),
    .list_action = SCMP_ACT_ALLOW,
    .list = runner_allow,
    .n_list = NELEM(runner_allow),
    .conditional = add_conditional,
};

int sbx_seccomp_runner(struct err_info *ei)
{
    return profile_load(&runner_profile, ei);
}

/* ---- server deny-list ----------------------------------------------------------------------- */

/* Calls the server never makes; each answers EPERM.  socket: the monitor connects for it
 * (connect answers EINPROGRESS without effect: see server_conditional). */
static const int server_deny[] = {
    SCMP_SYS(socket),
    SCMP_SYS(bind),
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(fork),
    SCMP_SYS(vfork),
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(io_uring_setup),
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(io_uring_register),
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(pivot_root),
    SCMP_SYS(chroot),
    SCMP_SYS(unshare),
    SCMP_SYS(setns),
    SCMP_SYS(kexec_load),
    SCMP_SYS(kexec_file_load),
    SCMP_SYS(init_module),
    SCMP_SYS(finit_module),
    SCMP_SYS(delete_module),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
    SCMP_SYS(personality),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(reboot),
    SCMP_SYS(acct),
    SCMP_SYS(syslog),
    SCMP_SYS(iopl),
    SCMP_SYS(ioperm),
    SCMP_SYS(mknod),
    SCMP_SYS(mknodat),
    SCMP_SYS(fsopen),
    SCMP_SYS(fsmount),
    SCMP_SYS(move_mount),
    SCMP_SYS(open_tree),
};

/* Namespace flags clone() may not carry (one rule per bit: libseccomp refuses two comparisons on
 * one argument). */
static const unsigned long clone_new_flags[] = {
    CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
    CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
};

static int server_conditional(scmp_filter_ctx ctx)
{
    int rc = 0;
    /* threads only: a clone without CLONE_THREAD is a fork */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    for (size_t i = 0; i < sizeof(clone_new_flags) / sizeof(clone_new_flags[0]); i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, clone_new_flags[i], clone_new_flags[i]));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* connect never reaches the kernel: the server has no socket of its own to connect (socket
     * is denied), only connected ones (the monitor's, MHD's, socketpairs), and on a TCP socket a
     * connect to AF_UNSPEC would dissolve the connection so that a second one could reach any
     * address, around the monitor's policy.  libcurl 7.88 calls connect once more on the
     * monitor's already-connected socket (it ignores CURL_SOCKOPT_ALREADY_CONNECTED): the answer
     * EINPROGRESS makes it wait for writability and read SO_ERROR, which report the monitor's
     * finished connection. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINPROGRESS), SCMP_SYS(connect), 0);
    /* socketpair only for AF_UNIX (libcurl's wake-up pair) */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socketpair), 1,
                           SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    return rc;
}

/* every thread that exists already gets the filter too (TSYNC) */
static const struct profile server_profile = {
    .default_action = SCMP_ACT_ALLOW,
    .list_action = SCMP_ACT_ERRNO(EPERM),
    .list = server_deny,
    .n_list = NELEM(server_deny),
    .conditional = server_conditional,
    .tsync = 1,
};

int sbx_seccomp_server(struct err_info *ei)
{
    return profile_load(&server_profile, ei);
}

/* ---- monitor allow-list --------------------------------------------------------------------- */

/* The monitor's own loop (recvmsg/sendmsg, poll, fork, fexecve, pidfd_open, wait, kill,
 * getaddrinfo: files under /etc and the libnss libraries, which Landlock limits to read-only
 * paths) and, since the filter is inherited across exec, everything a runner does between its
 * exec and its own filter: the dynamic loader (openat, mmap/mprotect with PROT_EXEC,
 * arch_prctl ...), CPU detection under /proc and /sys, and the runner's own Landlock and seccomp
 * set-up.  The list is the runner's allow-list plus these calls, so the runner's stays a subset
 * of it by construction (filters stack: the strictest answer wins; the runner's argument
 * conditions only narrow calls this filter allows outright or, for clone, more widely). */
static const int monitor_extra[] = {
    SCMP_SYS(statx),
    SCMP_SYS(stat),
    SCMP_SYS(lstat),
    SCMP_SYS(fstatfs),
    SCMP_SYS(statfs),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(readlink),
    SCMP_SYS(readlinkat),
    SCMP_SYS(getdents64),
    SCMP_SYS(getcwd),
    SCMP_SYS(open),
    SCMP_SYS(openat),
    SCMP_SYS(recvmmsg),
    SCMP_SYS(sendmmsg),
    SCMP_SYS(connect),
    SCMP_SYS(getsockname),
    SCMP_SYS(getpeername),
    SCMP_SYS(getsockopt),
    SCMP_SYS(setsockopt),
    SCMP_SYS(select),
    SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(mmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(set_tid_address),
    SCMP_SYS(arch_prctl),
    SCMP_SYS(prlimit64),
    SCMP_SYS(getrlimit),
    SCMP_SYS(rt_sigtimedwait),
    SCMP_SYS(rt_sigsuspend),
    SCMP_SYS(getpgrp),
    SCMP_SYS(getgroups),
    SCMP_SYS(dup2),
    SCMP_SYS(fork),
    SCMP_SYS(wait4),
    SCMP_SYS(waitid),
    SCMP_SYS(kill),
    SCMP_SYS(tgkill),
    SCMP_SYS(tkill),
    SCMP_SYS(pidfd_open),
    SCMP_SYS(pidfd_send_signal),
    SCMP_SYS(prctl),
    SCMP_SYS(seccomp),
    SCMP_SYS(landlock_create_ruleset),
    SCMP_SYS(landlock_add_rule),
    SCMP_SYS(landlock_restrict_self),
};

static int monitor_conditional(scmp_filter_ctx ctx)
{
    int rc = 0;
    /* fork-style clone and threads, never a new namespace: allowed when none of the bits is set
     * (libseccomp: one comparison per argument and rule, hence the mask of all of them) */
    unsigned long ns = 0;
    for (size_t i = 0; i < sizeof(clone_new_flags) / sizeof(clone_new_flags[0]); i++)
        ns |= clone_new_flags[i];
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, ns, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* fexecve on the binary's fd only: execveat with AT_EMPTY_PATH (execve stays denied) */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(execveat), 1,
                           SCMP_A4(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
    /* getaddrinfo and connect: TCP and UDP (DNS) over IPv4/IPv6, nothing else */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET));
    rc |=
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
    /* the server <-> runner pair of each spawn */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
                           SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
    /* isatty() on stderr (TCGETS) */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS));
    return rc;
}

static const struct profile monitor_profile = {
    .default_action = SCMP_ACT_ERRNO(EPERM),
    .list_action = SCMP_ACT_ALLOW,
    .list = runner_allow,
    .n_list = NELEM(runner_allow),
    .extra = monitor_extra,
    .n_extra = NELEM(monitor_extra),
    .conditional = monitor_conditional,
};

int sbx_seccomp_monitor(struct err_info *ei)
{
    return profile_load(&monitor_profile, ei);
}

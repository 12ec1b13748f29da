/*
 * srv_monitor.h - the monitor process of `corral serve` (DESIGN.md "Processes"): forked before
 * any thread exists, small and single-threaded, the only process of the daemon that may exec or
 * connect out.  It answers three requests from the server over a SOCK_SEQPACKET socketpair:
 *   spawn    (model fd attached with SCM_RIGHTS) -> fork + fexecve(the binary's fd)
 *            `corral runner --model-fd M --sock-fd S`; the reply carries the runner's pid and,
 *            attached, the server's end of a fresh socketpair and a pidfd of the runner
 *   connect  (host, port) -> resolve, check every address against the policy, connect (the way
 *            reg_connect_fn requires); the reply carries the connected socket
 *   status   (pid of a runner it spawned) -> how that runner ended (its wait status), once
 * Runners are the monitor's children: it reaps them (waitpid WNOHANG in its loop) and keeps the
 * last SRV_MON_MAX_EXITS wait statuses until the server asks for them; the server waits for and
 * kills them through the pidfds (poll, pidfd_send_signal), which name the process race-free,
 * then asks `status` (runner_proc_stop's struct runner_exit, logged by the scheduler with the
 * model's name).  The monitor logs each spawn (pid, model blob) and each reaped runner's end
 * (exit status or signal) on stderr.  The monitor exits when the server's end of the
 * socketpair closes.
 *
 * Wire format: fixed-size structs (struct srv_mon_req / srv_mon_reply), one per datagram, parsed
 * by srv_mon_req_parse alone (fuzzed: tests/fuzz/fuzz_monitor.c).
 *
 * Address policy (connect): public unicast addresses are allowed; loopback, private (RFC 1918,
 * CGNAT, IPv6 ULA), link-local, cloud metadata, unspecified, multicast and reserved addresses
 * are refused unless the host name (as the request gives it) is listed in CORRAL_ALLOW_HOSTS
 * (comma-separated host names or IP literals).  With CORRAL_SANDBOX=off no policy applies.
 *
 * Thread-safety: the client calls (srv_monitor_spawn/_connect/_wait) are thread-safe (one mutex
 * serializes the request/reply exchange).
 */
#ifndef CORRAL_SERVER_SRV_MONITOR_H
#define CORRAL_SERVER_SRV_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/err.h"
#include "registry/reg.h"
#include "runner/runner.h"
#include "sandbox/sbx.h"

#define SRV_MON_MAGIC       0x434d4f4eu /* "CMON" */
#define SRV_MON_MAX_HOST    255
#define SRV_MON_MAX_FDS     2  /* descriptors attached to one message */
#define SRV_MON_MAX_ALLOW   32 /* CORRAL_ALLOW_HOSTS entries */
#define SRV_MON_MAX_ADDRS   8  /* resolved addresses tried per connect */
#define SRV_MON_CONNECT_MS  10000
#define SRV_MON_MAX_RUNNERS 256 /* runners the server tracks at once */
#define SRV_MON_MAX_EXITS   64  /* exit statuses the monitor keeps for the server to fetch */

enum srv_mon_op { SRV_MON_SPAWN = 1, SRV_MON_CONNECT = 2, SRV_MON_STATUS = 3 };

struct srv_mon_req {
    uint32_t magic;
    uint32_t op;
    uint32_t port;     /* connect: 1..65535 */
    uint32_t host_len; /* connect: bytes of host, without the NUL */
    char host[SRV_MON_MAX_HOST + 1];
    int32_t pid; /* status: the runner's pid (> 0) */
};

struct srv_mon_reply {
    uint32_t magic;
    int32_t status;  /* 0 or a negative E_* code (status: E_NOTFOUND when not known) */
    int32_t pid;     /* spawn: the runner's pid */
    uint32_t nfds;   /* descriptors attached */
    int32_t wstatus; /* status: the runner's wait status */
};

/* Parses one datagram of n bytes that arrived with nfds descriptors into out.  Exactly
 * sizeof(struct srv_mon_req) bytes, the magic, a known op, spawn with exactly one fd, connect
 * and status with none, a host of host_len bytes from [A-Za-z0-9.-:] (IPv6 literals
 * unbracketed) NUL terminated, a port in 1..65535 (connect), a pid > 0 (status).
 * E_PARSE / E_INVAL with detail in ei. */
CORRAL_WARN_UNUSED int srv_mon_req_parse(const void *buf, size_t n, int nfds,
                                         struct srv_mon_req *out, struct err_info *ei);

/* The monitor's record of reaped runners not yet asked about (when full, a new record
 * overwrites one in turn).  Pure bookkeeping, unit-tested alone. */
struct srv_mon_exits {
    struct {
        int32_t pid; /* 0 = free */
        int32_t wstatus;
    } e[SRV_MON_MAX_EXITS];
    size_t next; /* slot the next record overwrites when none is free */
};
/* Records that pid ended with wstatus (replacing an older record of the same pid). */
void srv_mon_exits_put(struct srv_mon_exits *x, int32_t pid, int32_t wstatus);
/* Takes (and forgets) the record of pid: 1 with *wstatus set, 0 when there is none. */
int srv_mon_exits_take(struct srv_mon_exits *x, int32_t pid, int32_t *wstatus);

enum srv_mon_addr_class {
    SRV_MON_ADDR_PUBLIC = 0,
    SRV_MON_ADDR_LOOPBACK,
    SRV_MON_ADDR_PRIVATE,
    SRV_MON_ADDR_LINK_LOCAL,
    SRV_MON_ADDR_METADATA,
    SRV_MON_ADDR_RESERVED, /* unspecified, multicast, broadcast, 0/8, 240/4, unknown family */
};

/* Classifies an AF_INET / AF_INET6 address (IPv4-mapped IPv6 as its IPv4 address). */
enum srv_mon_addr_class srv_mon_addr_class(const struct sockaddr *sa);
const char *srv_mon_addr_class_name(enum srv_mon_addr_class c);

struct srv_mon_policy {
    int enforce; /* 0 = everything allowed (CORRAL_SANDBOX=off) */
    char hosts[SRV_MON_MAX_ALLOW][SRV_MON_MAX_HOST + 1]; /* explicitly allowed hosts */
    size_t n_hosts;
};

/* Fills p from a CORRAL_ALLOW_HOSTS value (may be NULL) and enforce.  Entries are trimmed and
 * compared case-insensitively; more than SRV_MON_MAX_ALLOW or a too-long entry is E_INVAL. */
CORRAL_WARN_UNUSED int srv_mon_policy_init(struct srv_mon_policy *p, const char *allow_hosts,
                                           int enforce, struct err_info *ei);
/* 1 when connecting to sa (resolved from host) is allowed. */
int srv_mon_addr_allowed(const struct srv_mon_policy *p, const char *host,
                         const struct sockaddr *sa);

struct srv_monitor; /* the server's handle */

/* Forks the monitor (call before any thread exists).  Opens /proc/self/exe first.  The monitor
 * inherits the environment (CORRAL_SANDBOX, CORRAL_ALLOW_HOSTS are read there).  Caller owns
 * *out (srv_monitor_close). */
CORRAL_WARN_UNUSED int srv_monitor_start(struct srv_monitor **out, struct err_info *ei);
/* Closes the server's end (the monitor exits) and reaps the monitor.  NULL is a no-op. */
void srv_monitor_close(struct srv_monitor *m);
/* The monitor's pid (for tests and logs). */
pid_t srv_monitor_pid(const struct srv_monitor *m);

/* Attaches m as the runner backend (runner_spawn / runner_proc_stop go through it). */
void srv_monitor_attach_runners(struct srv_monitor *m);

/* Spawns a runner for model_fd (stays the caller's): out gets the pid and the socket. */
CORRAL_WARN_UNUSED int srv_monitor_spawn(struct srv_monitor *m, int model_fd, int *pid, int *sock,
                                         struct err_info *ei);
/* reg_connect_fn over the monitor: ctx is the struct srv_monitor. */
int srv_monitor_connect(void *ctx, const char *host, int port, int *fd_out);
/* Waits up to grace_ms for runner pid to exit, then SIGKILLs it (through its pidfd) and waits
 * for it; forgets the pidfd; asks the monitor how it ended (ex, may be NULL: known, status,
 * killed).  0, or E_NOTFOUND for a pid the monitor did not spawn. */
int srv_monitor_wait(struct srv_monitor *m, pid_t pid, int grace_ms, struct runner_exit *ex);
/* How runner pid ended, once it has exited: 0 with *wstatus, or E_NOTFOUND (not reaped yet, or
 * already asked), E_IO (monitor gone). */
int srv_monitor_status(struct srv_monitor *m, pid_t pid, int *wstatus);

/* The monitor's request loop on sock (exported for tests): serves until the peer closes.
 * exe_fd: the binary to fexecve for spawn. */
void srv_monitor_loop(int sock, int exe_fd, const struct srv_mon_policy *p);

/* ---- the daemon's sandbox, as `corral serve` uses it (srv_monitor_sbx.c) ---- */

struct reg_key;
struct api_env;

struct srv_sandbox {
    enum sbx_mode mode;
    struct sbx_status st;
    struct sbx_applied applied;
    struct srv_monitor *mon;
    struct reg_key *key;       /* identity key read before the sandbox */
    struct reg_connector conn; /* api_env.user[REG_ENV_SLOT] */
    json_t *info;              /* /api/version "sandbox" object */
    char auth_path[4096];      /* registry-auth.json (read-only grant) */
    int refused;               /* enforce could not start: exit 78 */
};

/* Before any thread: reads CORRAL_SANDBOX, detects the kernel's layers (enforce without
 * Landlock or seccomp: E_UNSUPPORTED with the paragraph in ei and sb->refused set), forks the
 * monitor and attaches it as the runner backend. */
CORRAL_WARN_UNUSED int srv_sandbox_begin(struct srv_sandbox *sb, struct err_info *ei);
/* After start-up, before any thread: reads the identity key, applies the server profile
 * (models_dir rw, bind port) and fills env (sandbox mode and info, the monitor's connector).
 * Logs the status. */
CORRAL_WARN_UNUSED int srv_sandbox_enter(struct srv_sandbox *sb, const char *models_dir, int port,
                                         struct api_env *env, struct err_info *ei);
/* Stops the monitor, frees what begin/enter made.  Safe on a zeroed struct. */
void srv_sandbox_fini(struct srv_sandbox *sb);
/* The status object (mode, landlock_abi, seccomp, layers); new reference. */
json_t *srv_sandbox_info(enum sbx_mode mode, const struct sbx_status *st,
                         const struct sbx_applied *a, int monitor);

#endif

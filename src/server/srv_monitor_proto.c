/*
 * srv_monitor_proto.c - the monitor's request parser and its address policy (srv_monitor.h).
 * Pure functions over bytes and addresses (and the record of reaped runners): no I/O, so they
 * are unit-tested and fuzzed alone.
 */
#include "server/srv_monitor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

static int host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == ':' || c == '_';
}

int srv_mon_req_parse(const void *buf, size_t n, int nfds, struct srv_mon_req *out,
                      struct err_info *ei)
{
    if (!buf || n != sizeof(*out))
        return err_set(ei, E_PARSE, "monitor request: %zu bytes, want %zu", n, sizeof(*out));
    memcpy(out, buf, sizeof(*out));
    if (out->magic != SRV_MON_MAGIC)
        return err_set(ei, E_PARSE, "monitor request: bad magic");
    if (out->op == SRV_MON_SPAWN) {
        if (nfds != 1)
            return err_set(ei, E_INVAL, "monitor spawn: %d descriptors, want 1", nfds);
        return 0;
    }
    if (out->op == SRV_MON_STATUS) {
        if (nfds != 0)
            return err_set(ei, E_INVAL, "monitor status: unexpected descriptors");
        if (out->pid <= 0)
            return err_set(ei, E_INVAL, "monitor status: pid %d", (int)out->pid);
        return 0;
    }
    if (out->op != SRV_MON_CONNECT)
        return err_set(ei, E_INVAL, "monitor request: unknown op %u", out->op);
    if (nfds != 0)
        return err_set(ei, E_INVAL, "monitor connect: unexpected descriptors");
    if (out->port < 1 || out->port > 65535)
        return err_set(ei, E_INVAL, "monitor connect: port %u", out->port);
    if (out->host_len < 1 || out->host_len > SRV_MON_MAX_HOST || out->host[out->host_len] != '\0')
        return err_set(ei, E_INVAL, "monitor connect: bad host length");
    for (uint32_t i = 0; i < out->host_len; i++)
        if (!host_char_ok(out->host[i]))
            return err_set(ei, E_INVAL, "monitor connect: bad character in host");
    return 0;
}

void srv_mon_exits_put(struct srv_mon_exits *x, int32_t pid, int32_t wstatus)
{
    size_t slot = SRV_MON_MAX_EXITS;
    if (pid <= 0)
        return;
    for (size_t i = 0; i < SRV_MON_MAX_EXITS; i++)
        if (x->e[i].pid == pid || (x->e[i].pid == 0 && slot == SRV_MON_MAX_EXITS))
            slot = i;
    if (slot == SRV_MON_MAX_EXITS) { /* full: overwrite the oldest */
        slot = x->next;
        x->next = (x->next + 1) % SRV_MON_MAX_EXITS;
    }
    x->e[slot].pid = pid;
    x->e[slot].wstatus = wstatus;
}

int srv_mon_exits_take(struct srv_mon_exits *x, int32_t pid, int32_t *wstatus)
{
    for (size_t i = 0; pid > 0 && i < SRV_MON_MAX_EXITS; i++)
        if (x->e[i].pid == pid) {
            *wstatus = x->e[i].wstatus;
            x->e[i].pid = 0;
            return 1;
        }
    return 0;
}

static enum srv_mon_addr_class class_v4(uint32_t a) /* host byte order */
{
    uint32_t b1 = a >> 24, b2 = (a >> 16) & 0xff;
    if (a == 0xa9fea9feu) /* 169.254.169.254 */
        return SRV_MON_ADDR_METADATA;
    if (b1 == 127)
        return SRV_MON_ADDR_LOOPBACK;
    if (b1 == 169 && b2 == 254)
        return SRV_MON_ADDR_LINK_LOCAL;
    if (b1 == 10 || (b1 == 172 && (b2 & 0xf0) == 16) || (b1 == 192 && b2 == 168) ||
        (b1 == 100 && (b2 & 0xc0) == 64))
        return SRV_MON_ADDR_PRIVATE;
    if (b1 == 0 || b1 >= 224)
        return SRV_MON_ADDR_RESERVED;
    return SRV_MON_ADDR_PUBLIC;
}

static enum srv_mon_addr_class class_v6(const unsigned char *b)
{
    static const unsigned char loop[16] = {[15] = 1}, any[16] = {0};
    static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
    static const unsigned char aws[16] = {0xfd, 0x00, 0x0e, 0xc2, [15] = 0x54, [14] = 0x02};
    if (!memcmp(b, mapped, 12))
        return class_v4((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
                        b[15]);
    if (!memcmp(b, loop, 16))
        return SRV_MON_ADDR_LOOPBACK;
    if (!memcmp(b, any, 16) || b[0] == 0xff)
        return SRV_MON_ADDR_RESERVED;
    if (!memcmp(b, aws, 16))
        return SRV_MON_ADDR_METADATA;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return SRV_MON_ADDR_LINK_LOCAL;
    if ((b[0] & 0xfe) == 0xfc)
        return SRV_MON_ADDR_PRIVATE;
    return SRV_MON_ADDR_PUBLIC;
}

enum srv_mon_addr_class srv_mon_addr_class(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return class_v4(ntohl(s4->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        return class_v6(s6->sin6_addr.s6_addr);
    }
    return SRV_MON_ADDR_RESERVED;
}

const char *srv_mon_addr_class_name(enum srv_mon_addr_class c)
{
    static const char *const names[] = {"public",     "loopback", "private",
                                        "link-local", "metadata", "reserved"};
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "reserved";
}

int srv_mon_policy_init(struct srv_mon_policy *p, const char *allow_hosts, int enforce,
                        struct err_info *ei)
{
    const char *s = allow_hosts ? allow_hosts : "";
    memset(p, 0, sizeof(*p));
    p->enforce = enforce;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        const char *a = s, *b = s + len;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            if (p->n_hosts >= SRV_MON_MAX_ALLOW)
                return err_set(ei, E_INVAL, "CORRAL_ALLOW_HOSTS: more than %d hosts",
                               SRV_MON_MAX_ALLOW);
            if ((size_t)(b - a) > SRV_MON_MAX_HOST)
                return err_set(ei, E_INVAL, "CORRAL_ALLOW_HOSTS: host name too long");
            memcpy(p->hosts[p->n_hosts], a, (size_t)(b - a));
            p->hosts[p->n_hosts][b - a] = '\0';
            p->n_hosts++;
        }
        s += len + (e ? 1 : 0);
    }
    return 0;
}

int srv_mon_addr_allowed(const struct srv_mon_policy *p, const char *host,
                         const struct sockaddr *sa)
{
    if (!p->enforce)
        return 1;
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return 0;
    for (size_t i = 0; i < p->n_hosts; i++)
        if (host && !strcasecmp(p->hosts[i], host))
            return 1;
    return srv_mon_addr_class(sa) == SRV_MON_ADDR_PUBLIC;
}

/*
 * test_monitor.c - the sandbox monitor: its request parser (sizes, magic, ops, descriptor
 * counts, host bytes, ports), its address policy (loopback, private, link-local, metadata and
 * reserved refused unless the host is listed; public allowed; off allows all), the record of
 * reaped runners' exit statuses, and a live
 * monitor answering connect requests to a loopback listener: refused by default, connected when
 * CORRAL_ALLOW_HOSTS lists the host (the control that shows the refusal is the policy's).
 */
#include "harness/test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/srv_monitor.h"

static struct srv_mon_req conn_req(const char *host, uint32_t port)
{
    struct srv_mon_req q;
    memset(&q, 0, sizeof(q));
    q.magic = SRV_MON_MAGIC;
    q.op = SRV_MON_CONNECT;
    q.port = port;
    q.host_len = (uint32_t)strlen(host);
    memcpy(q.host, host, strlen(host));
    return q;
}

TEST(monitor_parse_valid)
{
    struct srv_mon_req q = conn_req("registry.example.com", 443), out;
    struct err_info ei = {0};
    ASSERT_EQ_INT(srv_mon_req_parse(&q, sizeof(q), 0, &out, &ei), 0);
    ASSERT_EQ_STR(out.host, "registry.example.com");
    ASSERT_EQ_INT(out.port, 443);
    q = conn_req("::1", 5000);
    ASSERT_EQ_INT(srv_mon_req_parse(&q, sizeof(q), 0, &out, &ei), 0);
    memset(&q, 0, sizeof(q));
    q.magic = SRV_MON_MAGIC;
    q.op = SRV_MON_SPAWN;
    ASSERT_EQ_INT(srv_mon_req_parse(&q, sizeof(q), 1, &out, &ei), 0);
}

TEST(monitor_parse_status)
{
    struct srv_mon_req q, out;
    struct err_info ei = {0};
    memset(&q, 0, sizeof(q));
    q.magic = SRV_MON_MAGIC;
    q.op = SRV_MON_STATUS;
    q.pid = 4242;
    ASSERT_EQ_INT(srv_mon_req_parse(&q, sizeof(q), 0, &out, &ei), 0);
    ASSERT_EQ_INT(out.pid, 4242);
    ASSERT_EQ_INT(srv_mon_req_parse(&q, sizeof(q), 1, &out, &ei), E_INVAL); /* an fd */
    q.pid = 0;
    ASSERT_EQ_INT(srv_mon_req_parse(&q, sizeof(q), 0, &out, &ei), E_INVAL);
    q.pid = -5;
    ASSERT_EQ_INT(srv_mon_req_parse(&q, sizeof(q), 0, &out, &ei), E_INVAL);
}

/* The record of reaped runners: taken once, a pid's newer record replaces its older one, a full
 * record overwrites in turn and never loses the newest. */
TEST(monitor_exits_record)
{
    struct srv_mon_exits *x = calloc(1, sizeof(*x));
    int32_t st = -1;
    ASSERT(x != NULL);
    ASSERT_EQ_INT(srv_mon_exits_take(x, 10, &st), 0);
    srv_mon_exits_put(x, 10, 9);
    srv_mon_exits_put(x, 11, 256);
    srv_mon_exits_put(x, 0, 1); /* ignored */
    ASSERT_EQ_INT(srv_mon_exits_take(x, 0, &st), 0);
    ASSERT_EQ_INT(srv_mon_exits_take(x, 11, &st), 1);
    ASSERT_EQ_INT(st, 256);
    ASSERT_EQ_INT(srv_mon_exits_take(x, 11, &st), 0); /* once */
    srv_mon_exits_put(x, 10, 15);                     /* same pid again: replaced */
    ASSERT_EQ_INT(srv_mon_exits_take(x, 10, &st), 1);
    ASSERT_EQ_INT(st, 15);
    ASSERT_EQ_INT(srv_mon_exits_take(x, 10, &st), 0);
    for (int32_t pid = 100; pid < 100 + 3 * SRV_MON_MAX_EXITS; pid++)
        srv_mon_exits_put(x, pid, pid);
    ASSERT_EQ_INT(srv_mon_exits_take(x, 100 + 3 * SRV_MON_MAX_EXITS - 1, &st), 1);
    ASSERT_EQ_INT(st, 100 + 3 * SRV_MON_MAX_EXITS - 1);
    ASSERT_EQ_INT(srv_mon_exits_take(x, 100, &st), 0); /* overwritten */
    free(x);
}

TEST(monitor_parse_rejects)
{
    struct srv_mon_req q = conn_req("host", 80), out, b;
    struct err_info ei = {0};
    unsigned char big[sizeof(q) + 8] = {0};
    ASSERT_EQ_INT(srv_mon_req_parse(&q, sizeof(q) - 1, 0, &out, &ei), E_PARSE);
    memcpy(big, &q, sizeof(q));
    ASSERT_EQ_INT(srv_mon_req_parse(big, sizeof(big), 0, &out, &ei), E_PARSE);
    ASSERT_EQ_INT(srv_mon_req_parse(NULL, 0, 0, &out, &ei), E_PARSE);
    b = q;
    b.magic ^= 1;
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_PARSE);
    b = q;
    b.op = 7;
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_INVAL);
    ASSERT_EQ_INT(srv_mon_req_parse(&q, sizeof(q), 1, &out, &ei), E_INVAL); /* fd on connect */
    b = q;
    b.op = SRV_MON_SPAWN;
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_INVAL); /* spawn, no fd */
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 2, &out, &ei), E_INVAL);
    b = conn_req("host", 0);
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_INVAL);
    b = conn_req("host", 65536);
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_INVAL);
    b = conn_req("host", 80);
    b.host_len = 0;
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_INVAL);
    b = conn_req("host", 80);
    b.host_len = 3; /* not NUL-terminated at host_len */
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_INVAL);
    b = conn_req("host", 80);
    b.host_len = SRV_MON_MAX_HOST + 1;
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_INVAL);
    b = conn_req("ho/st", 80);
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_INVAL);
    b = conn_req("ho st", 80);
    ASSERT_EQ_INT(srv_mon_req_parse(&b, sizeof(b), 0, &out, &ei), E_INVAL);
}

static enum srv_mon_addr_class cls(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
            abort();
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
            abort();
    }
    return srv_mon_addr_class((struct sockaddr *)&ss);
}

TEST(monitor_addr_classes)
{
    ASSERT_EQ_INT(cls("127.0.0.1"), SRV_MON_ADDR_LOOPBACK);
    ASSERT_EQ_INT(cls("127.8.9.10"), SRV_MON_ADDR_LOOPBACK);
    ASSERT_EQ_INT(cls("::1"), SRV_MON_ADDR_LOOPBACK);
    ASSERT_EQ_INT(cls("::ffff:127.0.0.1"), SRV_MON_ADDR_LOOPBACK);
    ASSERT_EQ_INT(cls("10.1.2.3"), SRV_MON_ADDR_PRIVATE);
    ASSERT_EQ_INT(cls("172.16.0.1"), SRV_MON_ADDR_PRIVATE);
    ASSERT_EQ_INT(cls("172.31.255.255"), SRV_MON_ADDR_PRIVATE);
    ASSERT_EQ_INT(cls("172.32.0.1"), SRV_MON_ADDR_PUBLIC);
    ASSERT_EQ_INT(cls("192.168.1.1"), SRV_MON_ADDR_PRIVATE);
    ASSERT_EQ_INT(cls("100.64.0.1"), SRV_MON_ADDR_PRIVATE);
    ASSERT_EQ_INT(cls("fd12::1"), SRV_MON_ADDR_PRIVATE);
    ASSERT_EQ_INT(cls("169.254.1.1"), SRV_MON_ADDR_LINK_LOCAL);
    ASSERT_EQ_INT(cls("fe80::1"), SRV_MON_ADDR_LINK_LOCAL);
    ASSERT_EQ_INT(cls("169.254.169.254"), SRV_MON_ADDR_METADATA);
    ASSERT_EQ_INT(cls("::ffff:169.254.169.254"), SRV_MON_ADDR_METADATA);
    ASSERT_EQ_INT(cls("fd00:ec2::254"), SRV_MON_ADDR_METADATA);
    ASSERT_EQ_INT(cls("0.0.0.0"), SRV_MON_ADDR_RESERVED);
    ASSERT_EQ_INT(cls("::"), SRV_MON_ADDR_RESERVED);
    ASSERT_EQ_INT(cls("224.0.0.1"), SRV_MON_ADDR_RESERVED);
    ASSERT_EQ_INT(cls("255.255.255.255"), SRV_MON_ADDR_RESERVED);
    ASSERT_EQ_INT(cls("ff02::1"), SRV_MON_ADDR_RESERVED);
    ASSERT_EQ_INT(cls("8.8.8.8"), SRV_MON_ADDR_PUBLIC);
    ASSERT_EQ_INT(cls("2606:4700::1"), SRV_MON_ADDR_PUBLIC);
}

TEST(monitor_policy)
{
    struct srv_mon_policy *p = calloc(1, sizeof(*p));
    struct err_info ei = {0};
    struct sockaddr_in lo = {0}, pub = {0}, md = {0};
    lo.sin_family = pub.sin_family = md.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
    inet_pton(AF_INET, "1.1.1.1", &pub.sin_addr);
    inet_pton(AF_INET, "169.254.169.254", &md.sin_addr);
    ASSERT(p);
    ASSERT_EQ_INT(srv_mon_policy_init(p, NULL, 1, &ei), 0);
    ASSERT(!srv_mon_addr_allowed(p, "127.0.0.1", (struct sockaddr *)&lo));
    ASSERT(!srv_mon_addr_allowed(p, "metadata", (struct sockaddr *)&md));
    ASSERT(srv_mon_addr_allowed(p, "one.one", (struct sockaddr *)&pub));
    ASSERT_EQ_INT(srv_mon_policy_init(p, " localhost , 127.0.0.1,,", 1, &ei), 0);
    ASSERT_EQ_SIZE(p->n_hosts, 2);
    ASSERT(srv_mon_addr_allowed(p, "127.0.0.1", (struct sockaddr *)&lo));
    ASSERT(srv_mon_addr_allowed(p, "LOCALHOST", (struct sockaddr *)&lo));
    ASSERT(!srv_mon_addr_allowed(p, "evil.example", (struct sockaddr *)&lo)); /* rebinding */
    ASSERT_EQ_INT(srv_mon_policy_init(p, NULL, 0, &ei), 0);                   /* sandbox off */
    ASSERT(srv_mon_addr_allowed(p, "x", (struct sockaddr *)&md));
    {
        char many[2048] = "";
        for (int i = 0; i < SRV_MON_MAX_ALLOW + 1; i++)
            strcat(many, "h,");
        ASSERT_EQ_INT(srv_mon_policy_init(p, many, 1, &ei), E_INVAL);
    }
    free(p);
}

static int listener(int *port)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        abort();
    *port = ntohs(a.sin_port);
    return fd;
}

TEST(monitor_live_connect_policy)
{
    struct srv_monitor *m = NULL;
    struct err_info ei = {0};
    int port, lfd = listener(&port), fd = -1;
    setenv("CORRAL_SANDBOX", "enforce", 1);
    unsetenv("CORRAL_ALLOW_HOSTS");
    ASSERT_EQ_INT(srv_monitor_start(&m, &ei), 0);
    ASSERT(srv_monitor_pid(m) > 0);
    ASSERT_EQ_INT(srv_monitor_connect(m, "127.0.0.1", port, &fd), E_PERM);
    ASSERT_EQ_INT(srv_monitor_connect(m, "bad host", port, &fd), E_INVAL);
    ASSERT_EQ_INT(srv_monitor_wait(m, 12345, 10, NULL), E_NOTFOUND);
    {
        int st = 0;
        ASSERT_EQ_INT(srv_monitor_status(m, 12345, &st), E_NOTFOUND);
    }
    srv_monitor_close(m);
    /* control: the same connect with the host allowed explicitly succeeds */
    setenv("CORRAL_ALLOW_HOSTS", "127.0.0.1", 1);
    ASSERT_EQ_INT(srv_monitor_start(&m, &ei), 0);
    ASSERT_EQ_INT(srv_monitor_connect(m, "127.0.0.1", port, &fd), 0);
    ASSERT(fd >= 0);
    {
        int c = accept(lfd, NULL, NULL);
        ASSERT(c >= 0);
        ASSERT_EQ_INT(write(fd, "hi", 2), 2);
        char b[2];
        ASSERT_EQ_INT(read(c, b, 2), 2);
        close(c);
    }
    close(fd);
    srv_monitor_close(m);
    close(lfd);
}

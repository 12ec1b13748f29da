/*
 * fuzz_monitor.c - libFuzzer target for the sandbox monitor's request parser: the first byte
 * is the descriptor count the datagram came with, the rest the datagram.  An accepted connect
 * request must carry a NUL-terminated host of host_len bytes from the allowed set and a port in
 * 1..65535; an accepted spawn exactly one descriptor; an accepted status a pid > 0 and no
 * descriptor.  Also classifies the bytes as an address.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/srv_monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_connect(const struct srv_mon_req *q)
{
    if (q->port < 1 || q->port > 65535 || q->host_len < 1 || q->host_len > SRV_MON_MAX_HOST)
        __builtin_trap();
    if (strlen(q->host) != q->host_len || strchr(q->host, '/') || strchr(q->host, ' '))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct srv_mon_req q;
    struct err_info ei = {0};
    struct sockaddr_in6 s6;
    int nfds;
    if (size < 1)
        return 0;
    nfds = data[0] % 4;
    if (srv_mon_req_parse(data + 1, size - 1, nfds, &q, &ei) == 0) {
        if (q.op == SRV_MON_CONNECT)
            check_connect(&q);
        else if (q.op == SRV_MON_STATUS) {
            if (q.pid <= 0 || nfds != 0)
                __builtin_trap();
        } else if (q.op != SRV_MON_SPAWN || nfds != 1)
            __builtin_trap();
    }
    if (size >= 1 + 16) {
        memset(&s6, 0, sizeof(s6));
        s6.sin6_family = AF_INET6;
        memcpy(&s6.sin6_addr, data + 1, 16);
        if ((unsigned)srv_mon_addr_class((struct sockaddr *)&s6) > SRV_MON_ADDR_RESERVED)
            __builtin_trap();
    }
    return 0;
}

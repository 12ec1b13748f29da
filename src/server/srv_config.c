/*
 * srv_config.c - daemon configuration from OLLAMA_* variables, binding the listening socket,
 * and the request policy checks (Host header, CORS origins) of Ollama (see srv.h;
 * ollama-reference.md sections 1.0 and 3).
 */
#include "server/srv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/mem.h"

/* Copies s without surrounding spaces and quotes (as Ollama's envconfig does). */
static void env_clean(const char *s, char *out, size_t n)
{
    size_t a = 0, b = strlen(s);
    while (a < b && (isspace((unsigned char)s[a]) || s[a] == '"' || s[a] == '\''))
        a++;
    while (b > a && (isspace((unsigned char)s[b - 1]) || s[b - 1] == '"' || s[b - 1] == '\''))
        b--;
    snprintf(out, n, "%.*s", (int)(b - a), s + a);
}

const char *srv_env_get(const char *name, char *out, size_t n)
{
    const char *v = getenv(name);
    if (!v || !n)
        return NULL;
    env_clean(v, out, n);
    return *out ? out : NULL;
}

int srv_env_bool(const char *name)
{
    const char *v = getenv(name);
    char s[64];
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    if (!v)
        return 0;
    env_clean(v, s, sizeof(s));
    if (!*s)
        return 0;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (!strcmp(s, no[i]))
            return 0;
    return 1;
}

static int parse_port(const char *s, int dflt)
{
    char *end;
    long v;
    if (!*s)
        return dflt;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 65535)
        return dflt;
    return (int)v;
}

int srv_parse_host(const char *s, char *host, size_t n, int *port)
{
    char buf[512], *h, *p, *colon;
    int dport = SRV_DEFAULT_PORT;
    env_clean(s ? s : "", buf, sizeof(buf));
    h = buf;
    if ((p = strstr(h, "://"))) { /* envconfig.Host: any scheme; http 80, https 443 */
        if (p - h == 4 && !strncmp(h, "http", 4))
            dport = 80;
        else if (p - h == 5 && !strncmp(h, "https", 5))
            dport = 443;
        h = p + 3;
    }
    if ((p = strchr(h, '/')))
        *p = '\0';
    *port = dport;
    if (!*buf) {
        snprintf(host, n, "%s", SRV_DEFAULT_HOST);
        return 0;
    }
    if (*h == '[' && (p = strchr(h, ']'))) { /* [v6]:port */
        *p = '\0';
        if (p[1] == ':')
            *port = parse_port(p + 2, dport);
        h++;
    } else if ((colon = strrchr(h, ':')) && strchr(h, ':') == colon) {
        *colon = '\0';
        *port = parse_port(colon + 1, dport);
    }
    if (strlen(h) >= n)
        return E_INVAL;
    snprintf(host, n, "%s", h);
    return 0;
}

static int add_origin(struct srv_config *cfg, const char *o)
{
    if (!*o)
        return 0;
    if (!strcmp(o, "*"))
        cfg->allow_all_origins = 1;
    if (cfg->n_origins >= SRV_MAX_ORIGINS)
        return E_RANGE;
    if (!(cfg->origins[cfg->n_origins] = mem_strdup(o)))
        return E_NOMEM;
    cfg->n_origins++;
    return 0;
}

static int load_origins(struct srv_config *cfg, struct err_info *ei)
{
    const char *v = getenv("OLLAMA_ORIGINS");
    char all[4096], one[512];
    int rc;
    if (!v)
        return 0;
    env_clean(v, all, sizeof(all));
    for (char *save = NULL, *tok = strtok_r(all, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        env_clean(tok, one, sizeof(one));
        if ((rc = add_origin(cfg, one)) != 0)
            return err_set(ei, rc, "OLLAMA_ORIGINS: too many origins (max %d)", SRV_MAX_ORIGINS);
    }
    return 0;
}

int srv_config_load(struct srv_config *cfg, struct err_info *ei)
{
    int rc;
    memset(cfg, 0, sizeof(*cfg));
    if (srv_parse_host(getenv("OLLAMA_HOST"), cfg->host, sizeof(cfg->host), &cfg->port) != 0)
        return err_set(ei, E_INVAL, "OLLAMA_HOST: host name too long");
    cfg->noprune = srv_env_bool("OLLAMA_NOPRUNE");
    if ((rc = load_origins(cfg, ei)) != 0)
        srv_config_fini(cfg);
    return rc;
}

void srv_config_fini(struct srv_config *cfg)
{
    for (size_t i = 0; i < cfg->n_origins; i++)
        mem_free(cfg->origins[i]);
    cfg->n_origins = 0;
}

static int addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
    }
    return 0;
}

static int bind_one(const struct addrinfo *ai, int *fd)
{
    int s, one = 1;
    s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (s < 0)
        return -errno;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, ai->ai_addr, ai->ai_addrlen) != 0 || listen(s, 512) != 0) {
        int e = errno;
        close(s);
        return -e;
    }
    *fd = s;
    return 0;
}

int srv_listen(struct srv_config *cfg, int *fd, struct err_info *ei)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    const char *h = *cfg->host ? cfg->host : NULL;
    int e = 0, gai;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(portstr, sizeof(portstr), "%d", cfg->port);
    if ((gai = getaddrinfo(h, portstr, &hints, &res)) != 0)
        return err_set(ei, E_NET, "listen tcp %s:%d: %s", cfg->host, cfg->port, gai_strerror(gai));
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if ((e = bind_one(ai, fd)) == 0) {
            cfg->loopback = addr_is_loopback(ai->ai_addr);
            break;
        }
    }
    freeaddrinfo(res);
    if (e == -EADDRINUSE)
        return err_set(ei, E_BUSY, "listen tcp %s:%d: bind: address already in use", cfg->host,
                       cfg->port);
    if (e)
        return err_set(ei, E_NET, "listen tcp %s:%d: %s", cfg->host, cfg->port, strerror(-e));
    return 0;
}

/* ---- Host header check (DNS rebinding) ---- */

static int ip_private_or_local(const char *h)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, h, &a4) == 1) {
        uint32_t v = ntohl(a4.s_addr);
        return (v >> 24) == 127 || (v >> 24) == 10 || (v >> 20) == 0xac1 || (v >> 16) == 0xc0a8 ||
               v == 0;
    }
    if (inet_pton(AF_INET6, h, &a6) == 1) {
        /* netip: an IPv4-mapped address is judged as its IPv4 form; fc00::/7 is private;
         * link-local is not (it passes only when it is this host's, like any other) */
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            char v4[INET_ADDRSTRLEN];
            return inet_ntop(AF_INET, &a6.s6_addr[12], v4, sizeof(v4)) &&
                   ip_private_or_local(v4) == 1;
        }
        return IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_UNSPECIFIED(&a6) ||
               (a6.s6_addr[0] & 0xfe) == 0xfc;
    }
    return -1; /* not an IP literal */
}

static int ip_on_interface(const char *h)
{
    struct ifaddrs *ifa = NULL;
    char s[INET6_ADDRSTRLEN];
    int found = 0;
    if (getifaddrs(&ifa) != 0)
        return 0;
    for (struct ifaddrs *i = ifa; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, s, sizeof(s));
        else if (i->ifa_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, s, sizeof(s));
        else
            continue;
        found = !strcasecmp(s, h);
    }
    freeifaddrs(ifa);
    return found;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

/* Strips a port (and IPv6 brackets) from a Host header into out. */
static void host_only(const char *hh, char *out, size_t n)
{
    const char *e;
    if (*hh == '[' && (e = strchr(hh, ']'))) {
        snprintf(out, n, "%.*s", (int)(e - hh - 1), hh + 1);
        return;
    }
    e = strrchr(hh, ':');
    if (e && strchr(hh, ':') == e)
        snprintf(out, n, "%.*s", (int)(e - hh), hh);
    else
        snprintf(out, n, "%s", hh);
}

int srv_host_allowed(const char *host_header)
{
    char h[300], me[256];
    int ip;
    if (!host_header || !*host_header)
        return 1;
    if (strlen(host_header) >= sizeof(h))
        return 0;
    host_only(host_header, h, sizeof(h));
    if (!strcasecmp(h, "localhost") || ends_with(h, ".localhost") || ends_with(h, ".local") ||
        ends_with(h, ".internal"))
        return 1;
    if (gethostname(me, sizeof(me)) == 0 && !strcasecmp(h, me))
        return 1;
    if ((ip = ip_private_or_local(h)) >= 0)
        return ip || ip_on_interface(h);
    return 0;
}

/* ---- CORS ---- */

static const char *const default_origins[] = {
    "http://localhost", "https://localhost", "http://localhost:*", "https://localhost:*",
    "http://127.0.0.1", "https://127.0.0.1", "http://127.0.0.1:*", "https://127.0.0.1:*",
    "http://0.0.0.0",   "https://0.0.0.0",   "http://0.0.0.0:*",   "https://0.0.0.0:*",
    "app://*",          "file://*",          "tauri://*",          "vscode-webview://*",
    "vscode-file://*",
};

int srv_origin_allowed(const struct srv_config *cfg, const char *origin)
{
    if (!origin || !*origin)
        return 1;
    if (cfg && cfg->allow_all_origins)
        return 1;
    for (size_t i = 0; i < sizeof(default_origins) / sizeof(default_origins[0]); i++)
        if (fnmatch(default_origins[i], origin, 0) == 0)
            return 1;
    for (size_t i = 0; cfg && i < cfg->n_origins; i++)
        if (fnmatch(cfg->origins[i], origin, 0) == 0)
            return 1;
    return 0;
}

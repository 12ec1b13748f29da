/*
 * test_api_http.c - the server's request policy and configuration, without sockets:
 * OLLAMA_HOST forms, Host-header check (DNS rebinding), CORS origins with OLLAMA_ORIGINS.
 */
#include "harness/test.h"

#include <stdlib.h>

#include "server/srv.h"

TEST(api_http_parse_host_forms)
{
    char h[256];
    int port = 0;
    ASSERT_OK(srv_parse_host(NULL, h, sizeof(h), &port));
    ASSERT_EQ_STR(h, "127.0.0.1");
    ASSERT_EQ_INT(port, 11434);
    ASSERT_OK(srv_parse_host(":8080", h, sizeof(h), &port));
    ASSERT_EQ_STR(h, "");
    ASSERT_EQ_INT(port, 8080);
    ASSERT_OK(srv_parse_host("\"0.0.0.0:1234\" ", h, sizeof(h), &port));
    ASSERT_EQ_STR(h, "0.0.0.0");
    ASSERT_EQ_INT(port, 1234);
    ASSERT_OK(srv_parse_host("http://example.com", h, sizeof(h), &port));
    ASSERT_EQ_STR(h, "example.com");
    ASSERT_EQ_INT(port, 80);
    ASSERT_OK(srv_parse_host("https://example.com/path", h, sizeof(h), &port));
    ASSERT_EQ_INT(port, 443);
    ASSERT_OK(srv_parse_host("[::1]:9000", h, sizeof(h), &port));
    ASSERT_EQ_STR(h, "::1");
    ASSERT_EQ_INT(port, 9000);
    ASSERT_OK(srv_parse_host("localhost:notaport", h, sizeof(h), &port));
    ASSERT_EQ_INT(port, 11434);
    ASSERT_OK(srv_parse_host("myhost", h, sizeof(h), &port));
    ASSERT_EQ_STR(h, "myhost");
    ASSERT_EQ_INT(port, 11434);
}

/* envconfig/config_test.go TestHost, as host + port (the URL form is the client's). */
TEST(api_http_parse_host_like_envconfig)
{
    static const struct {
        const char *in, *host;
        int port;
    } cases[] = {
        {"", "127.0.0.1", 11434},
        {"1.2.3.4", "1.2.3.4", 11434},
        {":1234", "", 1234},
        {"1.2.3.4:1234", "1.2.3.4", 1234},
        {"example.com", "example.com", 11434},
        {"example.com:1234", "example.com", 1234},
        {":0", "", 0},
        {":66000", "", 11434},
        {":-1", "", 11434},
        {"[::1]", "::1", 11434},
        {"[::]", "::", 11434},
        {"::1", "::1", 11434},
        {"[::1]:1337", "::1", 1337},
        {" 1.2.3.4 ", "1.2.3.4", 11434},
        {"\"1.2.3.4\"", "1.2.3.4", 11434},
        {" \" 1.2.3.4 \" ", "1.2.3.4", 11434},
        {"'1.2.3.4'", "1.2.3.4", 11434},
        {"http://1.2.3.4", "1.2.3.4", 80},
        {"http://1.2.3.4:4321", "1.2.3.4", 4321},
        {"https://1.2.3.4", "1.2.3.4", 443},
        {"https://1.2.3.4:4321", "1.2.3.4", 4321},
        {"https://example.com/ollama", "example.com", 443},
        {"tcp://1.2.3.4", "1.2.3.4", 11434},  /* other schemes keep 11434 */
        {"HTTP://1.2.3.4", "1.2.3.4", 11434}, /* the scheme compare is case-sensitive */
        {"0.0.0.0", "0.0.0.0", 11434},
    };
    char h[256];
    int port;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        port = -7;
        ASSERT_OK(srv_parse_host(cases[i].in, h, sizeof(h), &port));
        ASSERT_EQ_STR(h, cases[i].host);
        ASSERT_EQ_INT(port, cases[i].port);
    }
}

/* allowedHostsMiddleware's IP rule (netip IsLoopback/IsPrivate/IsUnspecified). */
TEST(api_http_host_header_ip_rules)
{
    ASSERT(srv_host_allowed("[::ffff:127.0.0.1]:11434")); /* mapped loopback */
    ASSERT(srv_host_allowed("[::ffff:10.0.0.1]"));
    ASSERT(!srv_host_allowed("[::ffff:8.8.8.8]:11434"));
    ASSERT(srv_host_allowed("[fd00::1]:80"));  /* fc00::/7 */
    ASSERT(srv_host_allowed("0.0.0.0:11434")); /* unspecified */
    ASSERT(srv_host_allowed("[::]:11434"));
    ASSERT(srv_host_allowed("172.31.255.1"));
    ASSERT(!srv_host_allowed("172.32.0.1"));
    ASSERT(!srv_host_allowed("169.254.169.254")); /* link-local is not private */
    ASSERT(!srv_host_allowed("[fe80::dead:beef]:11434"));
}

TEST(api_http_host_header_check)
{
    ASSERT(srv_host_allowed(NULL));
    ASSERT(srv_host_allowed(""));
    ASSERT(srv_host_allowed("localhost:11434"));
    ASSERT(srv_host_allowed("127.0.0.1:11434"));
    ASSERT(srv_host_allowed("[::1]:11434"));
    ASSERT(srv_host_allowed("10.1.2.3"));
    ASSERT(srv_host_allowed("192.168.0.7:80"));
    ASSERT(srv_host_allowed("app.localhost"));
    ASSERT(srv_host_allowed("printer.local"));
    ASSERT(srv_host_allowed("svc.internal"));
    ASSERT(!srv_host_allowed("evil.com"));
    ASSERT(!srv_host_allowed("evil.com:11434"));
    ASSERT(!srv_host_allowed("8.8.8.8"));
    ASSERT(!srv_host_allowed("localhost.evil.com"));
}

TEST(api_http_cors_origins)
{
    struct srv_config cfg;
    ASSERT(srv_origin_allowed(NULL, "http://localhost"));
    ASSERT(srv_origin_allowed(NULL, "http://localhost:3000"));
    ASSERT(srv_origin_allowed(NULL, "https://127.0.0.1:8443"));
    ASSERT(srv_origin_allowed(NULL, "app://obsidian.md"));
    ASSERT(srv_origin_allowed(NULL, "vscode-webview://abc"));
    ASSERT(!srv_origin_allowed(NULL, "https://evil.com"));
    ASSERT(!srv_origin_allowed(NULL, "chrome-extension://abcdef"));
    setenv("OLLAMA_ORIGINS", "https://*.example.com, chrome-extension://abcdef", 1);
    ASSERT_OK(srv_config_load(&cfg, NULL));
    ASSERT(srv_origin_allowed(&cfg, "https://app.example.com"));
    ASSERT(srv_origin_allowed(&cfg, "chrome-extension://abcdef"));
    ASSERT(!srv_origin_allowed(&cfg, "https://evil.com"));
    ASSERT(!cfg.allow_all_origins);
    srv_config_fini(&cfg);
    setenv("OLLAMA_ORIGINS", "*", 1);
    ASSERT_OK(srv_config_load(&cfg, NULL));
    ASSERT(srv_origin_allowed(&cfg, "https://anything.org"));
    srv_config_fini(&cfg);
}

TEST(api_http_env_bool_like_go)
{
    setenv("X_CORRAL_B", "true", 1);
    ASSERT(srv_env_bool("X_CORRAL_B"));
    setenv("X_CORRAL_B", "0", 1);
    ASSERT(!srv_env_bool("X_CORRAL_B"));
    setenv("X_CORRAL_B", "'False'", 1);
    ASSERT(!srv_env_bool("X_CORRAL_B"));
    setenv("X_CORRAL_B", "yes please", 1); /* unparsable non-empty counts as true */
    ASSERT(srv_env_bool("X_CORRAL_B"));
    unsetenv("X_CORRAL_B");
    ASSERT(!srv_env_bool("X_CORRAL_B"));
}

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

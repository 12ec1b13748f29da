/*
 * test_registry.c - unit tests for the registry client's pure parts: WWW-Authenticate parsing,
 * auth-file lookup (host matching, auth vs username/password), part sizing.  The network paths
 * are covered by tests/integration/5x_registry_*.sh against a real docker-registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "harness/test.h"
#include "registry/reg.h"

TEST(reg_challenge_bearer)
{
    struct reg_challenge c;
    ASSERT_OK(reg_challenge_parse("Bearer realm=\"https://ollama.com:443/token\",service=\"ollama."
                                  "com\",scope=\"repository:library/llama3.2:pull\"",
                                  &c));
    ASSERT_EQ_STR(c.scheme, "Bearer");
    ASSERT_EQ_STR(c.realm, "https://ollama.com:443/token");
    ASSERT_EQ_STR(c.service, "ollama.com");
    ASSERT_EQ_STR(c.scope, "repository:library/llama3.2:pull");
    ASSERT_OK(reg_challenge_parse("Basic realm=\"basic-realm\"", &c));
    ASSERT_EQ_STR(c.scheme, "Basic");
    ASSERT_EQ_STR(c.realm, "basic-realm");
    ASSERT_OK(reg_challenge_parse("Bearer realm=x, scope=\"a b\"", &c));
    ASSERT_EQ_STR(c.realm, "x");
    ASSERT_EQ_STR(c.scope, "a b");
    ASSERT(reg_challenge_parse("", &c) != 0);
    ASSERT(reg_challenge_parse("Bearer realm=\"unterminated", &c) != 0);
    ASSERT(reg_challenge_parse("Bearer realm", &c) != 0);
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "Bearer realm=\"", 14);
    ASSERT(reg_challenge_parse(big, &c) != 0);
}

TEST(reg_auth_file_lookup)
{
    char path[4200], out[256];
    snprintf(path, sizeof(path), "%s/auth.json", test_tmpdir());
    const char *json = "{\"auths\":{\"https://reg.example:5000\":{\"auth\":\"dXNlcjpwdw==\"},"
                       "\"other.example\":{\"username\":\"tester\",\"password\":\"s3cret\"}}}";
    ASSERT_OK(fs_write_atomic(path, json, strlen(json), 0600));
    ASSERT_OK(reg_auth_lookup(path, "reg.example:5000", out, sizeof(out)));
    ASSERT_EQ_STR(out, "dXNlcjpwdw==");
    ASSERT_OK(reg_auth_lookup(path, "OTHER.example", out, sizeof(out)));
    ASSERT_EQ_STR(out, "dGVzdGVyOnMzY3JldA=="); /* base64("tester:s3cret") */
    ASSERT_EQ_INT(reg_auth_lookup(path, "reg.example", out, sizeof(out)), E_NOTFOUND);
    ASSERT_EQ_INT(reg_auth_lookup(path, "reg.example:50001", out, sizeof(out)), E_NOTFOUND);
    ASSERT_EQ_INT(reg_auth_lookup(path, "evil.example", out, sizeof(out)), E_NOTFOUND);
    snprintf(path, sizeof(path), "%s/missing.json", test_tmpdir());
    ASSERT_EQ_INT(reg_auth_lookup(path, "reg.example:5000", out, sizeof(out)), E_NOTFOUND);
}

TEST(reg_part_sizing)
{
    unsetenv("CORRAL_PULL_PART_SIZE");
    ASSERT_EQ_SIZE(reg_part_size(1000, 0), REG_PART_MIN);
    ASSERT_EQ_SIZE(reg_part_size(3200ull * 1000 * 1000, 0), 200ull * 1000 * 1000);
    ASSERT_EQ_SIZE(reg_part_size(100ull * 1000 * 1000 * 1000, 0), REG_PART_MAX);
    ASSERT_EQ_SIZE(reg_part_size(1000000, 4096), 4096);
    setenv("CORRAL_PULL_PART_SIZE", "65536", 1);
    ASSERT_EQ_SIZE(reg_part_size(1000000, 0), 65536);
    /* never more than REG_MAX_PARTS parts */
    ASSERT(1000000000ull / reg_part_size(1000000000ull, 1) < REG_MAX_PARTS);
    setenv("CORRAL_PULL_PART_SIZE", "junk", 1);
    ASSERT_EQ_SIZE(reg_part_size(1000, 0), REG_PART_MIN);
    unsetenv("CORRAL_PULL_PART_SIZE");
}

/*
 * test_registry.c - unit tests for the registry client's pure parts: WWW-Authenticate parsing,
 * auth-file lookup (host matching, auth vs username/password), part sizing.  The network paths
 * are covered by tests/integration/5x_registry_*.sh against a real docker-registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "common/fs.h"
#include "common/mem.h"
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

/* Verifies "<b64 blob>:<b64 sig>" over msg with the public key inside the blob. */
static int verify_sig(const char *token, const char *msg)
{
    unsigned char blob[128], sig[128];
    const char *colon = strchr(token, ':');
    int bl, sl, ok;
    EVP_PKEY *pk;
    EVP_MD_CTX *ctx;
    if (!colon)
        return 0;
    bl = EVP_DecodeBlock(blob, (const unsigned char *)token, (int)(colon - token));
    sl = EVP_DecodeBlock(sig, (const unsigned char *)colon + 1, (int)strlen(colon + 1));
    /* blob: string "ssh-ed25519" (4+11) + string pk (4+32); base64 padding adds zero bytes */
    if (bl < 51 || sl < 64 || memcmp(blob + 4, "ssh-ed25519", 11) != 0)
        return 0;
    pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, blob + 19, 32);
    ctx = EVP_MD_CTX_new();
    ok = pk && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
         EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)msg, strlen(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return ok;
}

TEST(reg_key_create_load_sign)
{
    char path[4200], pub[4300], line[200], *text = NULL, *sig = NULL;
    size_t n;
    struct reg_key *k = NULL, *k2 = NULL;
    struct stat sb;
    snprintf(path, sizeof(path), "%s/home/.ollama/id_ed25519", test_tmpdir());
    ASSERT_EQ_INT(reg_key_load(path, 0, &k), E_NOTFOUND);
    ASSERT_OK(reg_key_load(path, 1, &k));
    ASSERT(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    snprintf(pub, sizeof(pub), "%s.pub", path);
    ASSERT_OK(fs_read_all(pub, 4096, &text, &n));
    ASSERT_OK(reg_key_public_line(k, line, sizeof(line)));
    ASSERT(strncmp(text, line, strlen(line)) == 0 && text[strlen(line)] == '\n');
    ASSERT_OK(reg_key_load(path, 0, &k2)); /* read back: the same key */
    char line2[200];
    ASSERT_OK(reg_key_public_line(k2, line2, sizeof(line2)));
    ASSERT_EQ_STR(line, line2);
    ASSERT_OK(reg_key_sign(k2, "GET,https://x/token?a=b,ZTNi", 28, &sig));
    ASSERT(verify_sig(sig, "GET,https://x/token?a=b,ZTNi"));
    ASSERT(!verify_sig(sig, "GET,https://x/token?a=c,ZTNi"));
    mem_free(sig);
    mem_free(text);
    if (system("command -v ssh-keygen > /dev/null") == 0) { /* OpenSSH agrees on the format */
        char cmd[9000];
        snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f '%s' | cut -d' ' -f1,2 | cmp -s - '%s'", path,
                 pub);
        ASSERT(system(cmd) == 0);
        snprintf(path, sizeof(path), "%s/sshkey", test_tmpdir());
        snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N '' -C c -f '%s'", path);
        ASSERT(system(cmd) == 0);
        reg_key_free(k2);
        ASSERT_OK(reg_key_load(path, 0, &k2));
        snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N secret -f '%s.enc'", path);
        ASSERT(system(cmd) == 0);
        strcat(path, ".enc");
        struct reg_key *k3 = NULL;
        ASSERT_EQ_INT(reg_key_load(path, 0, &k3), E_UNSUPPORTED);
    }
    snprintf(path, sizeof(path), "%s/garbage", test_tmpdir());
    ASSERT_OK(fs_write_atomic(path,
                              "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n"
                              "-----END OPENSSH PRIVATE KEY-----\n",
                              75, 0600));
    struct reg_key *k4 = NULL;
    ASSERT(reg_key_load(path, 1, &k4) != 0 && !k4);
    reg_key_free(k);
    reg_key_free(k2);
}

/*
 * test_common.c - unit tests of the common layer: buffers, atomic writes, locks, sha256.
 */
#include "harness/test.h"

#include <stdlib.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/mem.h"

TEST(buf_grows_and_caps)
{
    struct buf b;
    buf_init(&b, 10);
    ASSERT_OK(buf_puts(&b, "hello"));
    ASSERT_OK(buf_printf(&b, "%d", 1234));
    ASSERT_EQ_STR(buf_str(&b), "hello1234");
    ASSERT_EQ_INT(buf_puts(&b, "xy"), E_RANGE);
    ASSERT_EQ_SIZE(b.n, 0); /* reset on overflow */
    buf_fini(&b);
}

TEST(fs_atomic_write_and_read)
{
    char path[512], *data = NULL;
    size_t n = 0;
    snprintf(path, sizeof(path), "%s/a/b/c", test_tmpdir());
    ASSERT_OK(fs_mkdir_p(path, 0755));
    snprintf(path, sizeof(path), "%s/a/b/c/file", test_tmpdir());
    ASSERT_OK(fs_write_atomic(path, "abc", 3, 0644));
    ASSERT_OK(fs_write_atomic(path, "defg", 4, 0644));
    ASSERT_OK(fs_read_all(path, 100, &data, &n));
    ASSERT_EQ_SIZE(n, 4);
    ASSERT_EQ_STR(data, "defg");
    mem_free(data);
    ASSERT_EQ_INT(fs_read_all(path, 2, &data, &n), E_RANGE);
    snprintf(path, sizeof(path), "%s/missing", test_tmpdir());
    ASSERT_EQ_INT(fs_read_all(path, 2, &data, &n), E_NOTFOUND);
}

TEST(fs_lock_excludes_second_holder)
{
    char path[512];
    int a = -1, b = -1;
    snprintf(path, sizeof(path), "%s/lock", test_tmpdir());
    ASSERT_OK(fs_lock(path, 0, &a));
    ASSERT_EQ_INT(fs_lock(path, 0, &b), E_BUSY);
    fs_unlock(a);
    ASSERT_OK(fs_lock(path, 0, &b));
    fs_unlock(b);
}

TEST(sha256_known_vectors)
{
    char hex[65];
    crypto_sha256_hex("abc", 3, hex);
    ASSERT_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_sha256_hex("", 0, hex);
    ASSERT_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#include "common/cpu.h"

TEST(cpu_features_agree_with_compiler_builtin)
{
    unsigned f = cpu_features();
    __builtin_cpu_init();
    ASSERT_EQ_INT(!!(f & CPU_AVX2), !!__builtin_cpu_supports("avx2"));
    ASSERT_EQ_INT(!!(f & CPU_FMA), !!__builtin_cpu_supports("fma"));
    ASSERT_EQ_INT(!!(f & CPU_AVX512F), !!__builtin_cpu_supports("avx512f"));
    ASSERT(cpu_has(0));
}

/* OLLAMA_DEBUG as envconfig.LogLevel reads it: ParseBool true or a positive level is debug. */
TEST(log_ollama_debug_forms)
{
    static const struct {
        const char *v;
        int debug;
    } cases[] = {{"1", 1},     {"true", 1}, {" \"TRUE\" ", 1}, {"2", 1}, {"t", 1},       {"0", 0},
                 {"false", 0}, {"F", 0},    {"no", 0},         {"", 0},  {"'False'", 0}, {"-1", 0}};
    int saved = log_level_current;
    const char *cl = getenv("CORRAL_LOG");
    char corral_log[32];
    snprintf(corral_log, sizeof(corral_log), "%s", cl ? cl : "");
    unsetenv("CORRAL_LOG");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        log_set_level(LOG_LEVEL_INFO);
        setenv("OLLAMA_DEBUG", cases[i].v, 1);
        log_init_from_env();
        ASSERT_EQ_INT(log_level_current == LOG_LEVEL_DEBUG, cases[i].debug);
    }
    unsetenv("OLLAMA_DEBUG");
    if (cl)
        setenv("CORRAL_LOG", corral_log, 1);
    log_set_level(saved);
}

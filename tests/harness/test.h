/*
 * test.h - the in-house unit test harness.  TEST(name) defines a test that registers itself;
 * the runner (runner.c) forks each test with a timeout and prints `ok N name` / `not ok N name`
 * and a final `N passed, N failed` line.  Assertions report file:line and both values.
 * Test data lives under tests/data; TEST_DATA(rel) gives its path (cwd is the repo root).
 */
#ifndef CORRAL_TESTS_TEST_H
#define CORRAL_TESTS_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
struct test_entry {
    const char *name;
    const char *file;
    test_fn fn;
    int timeout_s;
    struct test_entry *next;
};
void test_register(struct test_entry *t);
/* A fresh empty temporary directory for the running test (removed after it). */
const char *test_tmpdir(void);

#define TEST_T(name_, timeout_)                                                                  \
    static void test_##name_(void);                                                              \
    static struct test_entry test_entry_##name_ = {#name_, __FILE__, test_##name_, timeout_, 0}; \
    __attribute__((constructor)) static void test_reg_##name_(void)                              \
    {                                                                                            \
        test_register(&test_entry_##name_);                                                      \
    }                                                                                            \
    static void test_##name_(void)
#define TEST(name_) TEST_T(name_, 60)

#define TEST_FAIL_(...)                                   \
    do {                                                  \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                     \
        fprintf(stderr, "\n");                            \
        exit(1);                                          \
    } while (0)

#define ASSERT(c)                                   \
    do {                                            \
        if (!(c))                                   \
            TEST_FAIL_("assertion failed: %s", #c); \
    } while (0)
#define ASSERT_EQ_INT(a, b)                                       \
    do {                                                          \
        long long a_ = (long long)(a), b_ = (long long)(b);       \
        if (a_ != b_)                                             \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_); \
    } while (0)
#define ASSERT_EQ_SIZE(a, b)                                                           \
    do {                                                                               \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
        if (a_ != b_)                                                                  \
            TEST_FAIL_("%s == %s: %llu != %llu", #a, #b, a_, b_);                      \
    } while (0)
#define ASSERT_EQ_STR(a, b)                                                      \
    do {                                                                         \
        const char *a_ = (a), *b_ = (b);                                         \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                   \
            TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", \
                       b_ ? b_ : "(null)");                                      \
    } while (0)
#define ASSERT_MEMEQ(a, b, n)                                               \
    do {                                                                    \
        if (memcmp((a), (b), (n)) != 0)                                     \
            TEST_FAIL_("memory %s != %s (%zu bytes)", #a, #b, (size_t)(n)); \
    } while (0)
#define ASSERT_NEAR(a, b, tol)                                                        \
    do {                                                                              \
        double a_ = (double)(a), b_ = (double)(b);                                    \
        if (!(fabs(a_ - b_) <= (double)(tol)))                                        \
            TEST_FAIL_("%s ~= %s: %g vs %g (tol %g)", #a, #b, a_, b_, (double)(tol)); \
    } while (0)
#define ASSERT_OK(e)                               \
    do {                                           \
        int rc_ = (e);                             \
        if (rc_ != 0)                              \
            TEST_FAIL_("%s returned %d", #e, rc_); \
    } while (0)

#endif

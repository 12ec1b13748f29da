/*
 * fuzz_gram.c - libFuzzer target for the grammar engine (engine/gram): the input is grammar
 * text, a NUL byte, then bytes to match.  Checks: compile never crashes; a compiled grammar's
 * matcher takes the bytes one at a time where allowed (allows() and accept() agree, a refused
 * byte leaves the state alone, done implies complete); and over a small fixed vocabulary the
 * full mask agrees with the one-token test at every step.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/gram/gram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const VOCAB[] = {
    "",     "{",        "}",        "\"",   "a",
    "ab",   "abc",      " ",        "\n",   "0",
    "12",   "-",        ".",        "true", "null",
    ",",    ":",        "[",        "]",    "\xc3",
    "\xa9", "\xc3\xa9", "\xe2\x82", "\xac", "\xf0\x9f\x98\x80",
    "x",    "\\",       "\"a\"",    "{\"",  "\":",
    "e",    "E+",
};
#define NV ((int32_t)(sizeof(VOCAB) / sizeof(VOCAB[0])))

static int piece(void *user, int32_t tok, char *buf, size_t cap, size_t *n, int *eog)
{
    (void)user;
    *eog = tok == 0;
    *n = strlen(VOCAB[tok]);
    if (*n > cap)
        return -5;
    memcpy(buf, VOCAB[tok], *n);
    return 0;
}

static void check_mask(struct gram_matcher *m, const struct gram_vocab *v)
{
    float lg[NV];
    for (int32_t i = 0; i < NV; i++)
        lg[i] = 1.0f;
    gram_mask(m, v, lg, NV);
    for (int32_t i = 0; i < NV; i++)
        if ((lg[i] != -INFINITY) != gram_token_allowed(m, v, i))
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t glen = nul ? (size_t)(nul - data) : size;
    const uint8_t *in = nul ? nul + 1 : data + size;
    size_t n_in = nul ? size - glen - 1 : 0;
    struct gram *g = NULL;
    struct gram_matcher *m = NULL;
    struct gram_vocab *v = NULL;
    if (size > 8192 || gram_compile((const char *)data, glen, &g, NULL) != 0)
        return 0;
    if (gram_matcher_new(g, &m) != 0 || gram_vocab_new(NV, piece, NULL, &v) != 0)
        goto out;
    check_mask(m, v);
    for (size_t i = 0; i < n_in && i < 256; i++) {
        int complete = gram_matcher_complete(m), allows = gram_matcher_allows(m, in + i, 1);
        if (gram_matcher_done(m) && !complete)
            __builtin_trap();
        if ((gram_matcher_accept(m, in + i, 1) == 0) != allows)
            __builtin_trap();
        if (!allows && gram_matcher_complete(m) != complete)
            __builtin_trap();
        if (i % 16 == 0)
            check_mask(m, v);
    }
out:
    gram_vocab_free(v);
    gram_matcher_free(m);
    gram_free(g);
    return 0;
}

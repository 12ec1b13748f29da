/*
 * test_kern_q8k.c - the fast Q8_K activation quantizers write the same bytes as the scalar
 * reference: random rows of several magnitudes, rows whose largest magnitude appears with both
 * signs (the first one sets the scale's sign), all-zero blocks, halfway products.
 */
#include <string.h>

#include "common/mem.h"
#include "engine/kern/kern.h"
#include "harness/test.h"

#define Q8K_N     (256 * 16)
#define Q8K_BYTES 292

static uint32_t q8k_rng(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void fill_case(float *x, int c, uint32_t *s)
{
    for (int i = 0; i < Q8K_N; i++)
        x[i] = ((float)(q8k_rng(s) % 20001) - 10000.0f) * (c == 0 ? 1e-4f : c == 1 ? 3.0f : 0.01f);
    if (c == 2) { /* ties of magnitude with both signs, in different orders per block */
        for (int b = 0; b < Q8K_N / 256; b++) {
            x[256 * b + 7 + b] = (b & 1) ? 250.0f : -250.0f;
            x[256 * b + 200 - b] = (b & 1) ? -250.0f : 250.0f;
        }
        memset(x + 256 * 3, 0, 256 * sizeof(float)); /* one all-zero block */
        for (int i = 256 * 5; i < 256 * 6; i++)      /* products landing on .5 */
            x[i] = (float)((int)(q8k_rng(s) % 255) - 127) * 0.5f;
        x[256 * 5] = 127.0f;
    }
}

TEST(kern_q8_k_quantize_fast_equals_scalar)
{
    const struct kern *ref = kern_get(KERN_ISA_SCALAR);
    float *x = mem_alloc(Q8K_N * sizeof(float));
    uint8_t *a = mem_alloc((Q8K_N / 256) * Q8K_BYTES), *b = mem_alloc((Q8K_N / 256) * Q8K_BYTES);
    ASSERT(x && a && b);
    const enum kern_isa isas[] = {KERN_ISA_AVX2, KERN_ISA_AVX512};
    uint32_t s = 17;
    for (size_t ii = 0; ii < sizeof(isas) / sizeof(isas[0]); ii++) {
        const struct kern *k = kern_get(isas[ii]);
        if (!k)
            continue;
        for (int c = 0; c < 3; c++) {
            fill_case(x, c, &s);
            ref->quantize_row(KERN_T_Q8_K, x, a, Q8K_N);
            k->quantize_row(KERN_T_Q8_K, x, b, Q8K_N);
            ASSERT_MEMEQ(a, b, (size_t)(Q8K_N / 256) * Q8K_BYTES);
        }
    }
    mem_free(x);
    mem_free(a);
    mem_free(b);
}

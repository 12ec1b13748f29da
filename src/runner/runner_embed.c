/*
 * runner_embed.c - pooling of hidden states for embeddings (see runner_embed.h).  The runner
 * evaluates the tokens of one input, hands each wanted row here, and sends the pooled vector;
 * normalisation belongs to the API layer (api_embed.c).
 */
#include "runner/runner_embed.h"

#include <stdio.h>
#include <string.h>

#include "engine/gguf/gguf.h"

#define RUNNER_ARCH_MAX 64 /* bytes of an architecture name used in a key */

enum runner_pool runner_pool_of_gguf(const struct gguf *g)
{
    struct gguf_str arch;
    char key[RUNNER_ARCH_MAX + 32];
    uint32_t v;
    if (!g || gguf_get_str(g, "general.architecture", &arch) != 0 || arch.n == 0 ||
        arch.n > RUNNER_ARCH_MAX)
        return RUNNER_POOL_LAST;
    snprintf(key, sizeof(key), "%.*s.pooling_type", (int)arch.n, arch.p);
    if (gguf_get_u32(g, key, &v) != 0)
        return RUNNER_POOL_LAST;
    if (v == RUNNER_POOL_MEAN || v == RUNNER_POOL_CLS || v == RUNNER_POOL_LAST)
        return (enum runner_pool)v;
    return RUNNER_POOL_LAST;
}

int runner_pool_wants(enum runner_pool p, size_t pos, size_t n)
{
    switch (p) {
    case RUNNER_POOL_MEAN:
        return pos < n;
    case RUNNER_POOL_CLS:
        return pos == 0 && n > 0;
    case RUNNER_POOL_LAST:
    default:
        return n > 0 && pos == n - 1;
    }
}

void runner_pool_add(enum runner_pool p, float *out, const float *row, size_t n_embd, size_t pos,
                     size_t n)
{
    if (!runner_pool_wants(p, pos, n))
        return;
    for (size_t k = 0; k < n_embd; k++)
        out[k] += row[k];
}

void runner_pool_finish(enum runner_pool p, float *out, size_t n_embd, size_t n)
{
    if (p != RUNNER_POOL_MEAN || n == 0)
        return;
    for (size_t k = 0; k < n_embd; k++)
        out[k] /= (float)n;
}

int runner_pool_rows(enum runner_pool p, const float *rows, size_t n, size_t n_embd, float *out)
{
    if (n == 0 || n_embd == 0)
        return E_INVAL;
    memset(out, 0, n_embd * sizeof(*out));
    for (size_t i = 0; i < n; i++)
        runner_pool_add(p, out, rows + i * n_embd, n_embd, i, n);
    runner_pool_finish(p, out, n_embd, n);
    return 0;
}

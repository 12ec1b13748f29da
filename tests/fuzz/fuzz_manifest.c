/*
 * fuzz_manifest.c - libFuzzer target for the manifest parser: parse arbitrary bytes; anything
 * accepted must serialise, re-parse to the same structure, and re-serialise to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/mem.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stable(const struct store_manifest *m)
{
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    struct store_manifest m2;
    if (store_manifest_serialize(m, &a, &na) != 0)
        return;
    if (store_manifest_parse(a, na, &m2, NULL) != 0)
        __builtin_trap();
    if (m2.n_layers != m->n_layers || strcmp(m2.config.digest, m->config.digest) != 0)
        __builtin_trap();
    for (size_t i = 0; i < m->n_layers; i++)
        if (!store_digest_valid(m2.layers[i].digest) || m2.layers[i].size != m->layers[i].size)
            __builtin_trap();
    if (store_manifest_serialize(&m2, &b, &nb) != 0 || nb != na || memcmp(a, b, na) != 0)
        __builtin_trap();
    store_manifest_fini(&m2);
    mem_free(a);
    mem_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store_manifest m;
    struct err_info ei;
    if (store_manifest_parse(data, size, &m, &ei) != 0)
        return 0;
    check_stable(&m);
    store_manifest_fini(&m);
    return 0;
}

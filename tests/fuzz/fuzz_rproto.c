/*
 * fuzz_rproto.c - libFuzzer target for the runner protocol: decodes frames from arbitrary bytes
 * and runs every decoded message through the typed parsers (complete, load, token lists).
 */
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "runner/rproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        json_t *m = NULL;
        size_t used = 0;
        struct rproto_complete c;
        struct rproto_load l;
        int32_t *ids = NULL;
        size_t n = 0;
        if (rproto_decode(data + off, size - off, &m, &used, NULL) != 0 || !m)
            break;
        off += used;
        if (rproto_complete_parse(m, &c, NULL) == 0)
            rproto_complete_fini(&c);
        if (rproto_load_parse(m, &l, NULL) == 0 && l.num_ctx < 4)
            __builtin_trap();
        if (rproto_tokens_parse(json_object_get(m, "tokens"), 32000, &ids, &n, NULL) == 0)
            mem_free(ids);
        json_decref(m);
    }
    return 0;
}

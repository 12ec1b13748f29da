/*
 * fuzz_rproto.c - libFuzzer target for the runner protocol: decodes frames from arbitrary bytes
 * and runs every decoded message through the typed parsers (complete, load, token lists) and
 * the server's check of a piece's logprobs entries (api_serve_lp_add, streamed and not).
 */
#include <stddef.h>
#include <stdint.h>

#include "api/api_serve.h"
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
        if (rproto_load_parse(m, &l, NULL) == 0 && (l.num_ctx < 4 || (unsigned)l.use_mmap > 1))
            __builtin_trap();
        if (rproto_tokens_parse(json_object_get(m, "tokens"), 32000, &ids, &n, NULL) == 0)
            mem_free(ids);
        for (int stream = 0; stream < 2; stream++) {
            struct api_serve_lp lp = {.on = 1, .stream = stream};
            json_t *line = json_object();
            if (api_serve_lp_add(&lp, json_object_get(m, "logprobs"), NULL) != 0)
                api_serve_lp_fini(&lp);
            api_serve_lp_attach(&lp, line, 1);
            if (json_array_size(json_object_get(line, "logprobs")) > API_LP_MAX_CHUNK)
                __builtin_trap();
            json_decref(line);
            api_serve_lp_fini(&lp);
        }
        json_decref(m);
    }
    return 0;
}

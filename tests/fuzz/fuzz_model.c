/*
 * fuzz_model.c - libFuzzer target over the model loader (model_load on a parsed GGUF, scalar
 * kernels): every size, shape, type and family key of a hostile file must be refused by name or
 * accepted consistently.  A model that loads and is small (the seeds: tiny gemma3/gemma2/phi3
 * and llama-family files) then runs one 3-token batch and one more token through the forward
 * pass (no crash, no out-of-bounds access, no error).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/kern/kern.h"
#include "engine/model/model.h"

#define FUZZ_MAX_BYTES_PER_TOKEN ((uint64_t)4 << 20)

static void run_small(const struct model *m)
{
    struct model_fwd f;
    struct err_info ei = {0};
    if (m->bytes_per_token > FUZZ_MAX_BYTES_PER_TOKEN || m->n_vocab > 4096 || m->n_embd > 1024 ||
        m->n_ff > 4096 || m->n_head * m->head_dim > 4096)
        return;
    if (model_fwd_init(&f, m, 16, 1, 4, 1, GGUF_T_F16, &ei) != 0)
        return;
    int32_t tok[3] = {0, (int32_t)(m->n_vocab - 1), (int32_t)(m->n_vocab / 2)};
    int32_t pos[3] = {0, 1, 2}, seq[3] = {0, 0, 0}, out[1] = {2};
    struct model_batch b = {3, tok, pos, seq, out, 1};
    if (model_fwd_decode(&f, &b) != 0)
        abort();
    f.kv.len[0] = 3;
    int32_t pos1[1] = {3}, out1[1] = {0};
    struct model_batch b1 = {1, tok + 1, pos1, seq, out1, 1};
    if (model_fwd_decode(&f, &b1) != 0)
        abort();
    model_fwd_fini(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gguf *g = NULL;
    struct model *m = NULL;
    struct err_info ei = {0};
    const struct kern *k = kern_get(KERN_ISA_SCALAR);
    if (!k || gguf_open_mem(data, size, 1, &g, &ei) != 0)
        return 0;
    if (model_load(g, k, &m, &ei) != 0) {
        if (!ei.msg[0])
            abort(); /* every refusal says why */
        gguf_close(g);
        return 0;
    }
    if (m->n_rot > m->head_dim || m->n_head % m->n_head_kv != 0 || !m->layers)
        abort();
    run_small(m);
    model_free(m);
    return 0;
}

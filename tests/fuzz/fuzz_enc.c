/*
 * fuzz_enc.c - libFuzzer target over the encoder loader (enc_load on a parsed GGUF, scalar
 * kernels): every key, size, shape and type of a hostile bert / nomic-bert file must be refused
 * by name or accepted consistently.  A model that loads and is small (the seeds: tiny bert and
 * nomic-bert files from `corral synth-enc - ... --tiny`, F32 / F16 / Q8_0, split and fused qkv)
 * then runs one 3-token pass (no crash, no out-of-bounds access, no error).
 */
#include <stdint.h>
#include <stdlib.h>

#include "engine/gguf/gguf.h"
#include "engine/kern/kern.h"
#include "engine/model/model_enc.h"

#define FUZZ_MAX_BYTES_PER_TOKEN ((uint64_t)4 << 20)

static void run_small(const struct enc_model *m)
{
    struct enc_fwd f;
    struct err_info ei = {0};
    if (m->bytes_per_token > FUZZ_MAX_BYTES_PER_TOKEN || m->n_embd > 1024 || m->n_ff > 4096 ||
        m->n_head * m->head_dim > 4096 || m->n_ctx_train < 3)
        return;
    if (enc_fwd_init(&f, m, 3, 1, &ei) != 0)
        return;
    int32_t tok[3] = {0, (int32_t)(m->n_vocab - 1), (int32_t)(m->n_vocab / 2)};
    if (enc_fwd_run(&f, tok, 3) != 0)
        abort();
    enc_fwd_fini(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gguf *g = NULL;
    struct enc_model *m = NULL;
    struct err_info ei = {0};
    const struct kern *k = kern_get(KERN_ISA_SCALAR);
    if (!k || gguf_open_mem(data, size, 1, &g, &ei) != 0)
        return 0;
    if (!enc_is_encoder(g)) {
        gguf_close(g);
        return 0;
    }
    if (enc_load(g, k, &m, &ei) != 0) {
        if (!ei.msg[0])
            abort(); /* every refusal says why */
        gguf_close(g);
        return 0;
    }
    if (m->n_rot > m->head_dim || m->n_head % m->n_head_kv != 0 || !m->layers || !m->n_vocab)
        abort();
    run_small(m);
    enc_free(m);
    return 0;
}

/*
 * fuzz_tok.c - libFuzzer target over the tokenizers.  The first input byte picks a vocabulary
 * (SPM llama-spm / phi-3, BPE qwen2 / gpt-2 / llama-bpe, WordPiece bert-bge; each loaded once from
 * tests/data/vocab, so run from the repo root) and the add_special / parse_special flags; the
 * rest is arbitrary bytes (invalid UTF-8 included) to tokenize.  Checks: no crash, ids in
 * range, the E_RANGE count protocol, decode of the ids, SPM/BPE losslessness on valid or
 * invalid input without special parsing, and the streaming detokenizer over the input read as
 * ids (output never holds more than 3 bytes back).  A first byte 0xFF instead fuzzes the vocabulary
 * loader: the rest is a GGUF file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/tok/tok.h"

#define N_VOCABS 6

static const char *const vocab_files[N_VOCABS] = {
    "tests/data/vocab/ggml-vocab-llama-spm.gguf", "tests/data/vocab/ggml-vocab-qwen2.gguf",
    "tests/data/vocab/ggml-vocab-gpt-2.gguf",     "tests/data/vocab/ggml-vocab-bert-bge.gguf",
    "tests/data/vocab/ggml-vocab-llama-bpe.gguf", "tests/data/vocab/ggml-vocab-phi-3.gguf",
};
static struct tok_vocab *vocabs[N_VOCABS];

static struct tok_vocab *get_vocab(unsigned i)
{
    if (!vocabs[i]) {
        struct gguf *g = NULL;
        struct err_info ei = {0};
        if (gguf_open_file(vocab_files[i], 0, &g, &ei) || tok_vocab_load(g, &vocabs[i], &ei)) {
            fprintf(stderr, "fuzz_tok: cannot load %s: %s\n", vocab_files[i], ei.msg);
            abort();
        }
        gguf_close(g);
    }
    return vocabs[i];
}

static void check_detok(const struct tok_vocab *v, const uint8_t *data, size_t size)
{
    struct tok_detok d;
    char out[TOK_DETOK_MAX_OUT];
    size_t n = 0;
    tok_detok_init(&d, v, size & 1 ? TOK_DETOK_SPECIAL : TOK_DETOK_STRIP_SPACE);
    for (size_t i = 0; i + 2 <= size; i += 2) {
        int32_t id = (int32_t)((data[i] | (uint32_t)data[i + 1] << 8) % tok_n_vocab(v));
        if (tok_detok_push(&d, id, out, sizeof(out), &n) != 0)
            abort();
    }
    if (tok_detok_flush(&d, out, sizeof(out), &n) != 0 || n > 3)
        abort();
}

/* Input byte 0 == 0xFF: the rest is a GGUF file whose tokenizer metadata is loaded (any error
 * is fine) and, when it loads, used to tokenize a fixed text. */
static void fuzz_loader(const uint8_t *data, size_t size)
{
    struct gguf *g = NULL;
    struct tok_vocab *v = NULL;
    struct err_info ei = {0};
    static const char text[] = "Hello  world!\n 123 <s> <|im_start|> \xc3\xa9\xff [CLS]";
    int32_t ids[256];
    char back[1024];
    size_t n = 0, nb = 0;
    if (gguf_open_mem(data, size, 0, &g, &ei) != 0)
        return;
    if (tok_vocab_load(g, &v, &ei) == 0) {
        if (tok_encode(v, text, sizeof(text) - 1, 1, 1, ids, 256, &n) == 0) {
            for (size_t i = 0; i < n; i++)
                if (ids[i] < 0 || (size_t)ids[i] >= tok_n_vocab(v))
                    abort();
            int rc = tok_decode(v, ids, n, 1, back, sizeof(back), &nb);
            if (rc != 0 && rc != E_RANGE)
                abort();
        }
        check_detok(v, data, size > 512 ? 512 : size);
        tok_vocab_free(v);
    }
    gguf_close(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] == 0xFF) {
        fuzz_loader(data + 1, size - 1);
        return 0;
    }
    unsigned sel = data[0] % N_VOCABS, add = (data[0] >> 4) & 1, parse = (data[0] >> 5) & 1;
    const struct tok_vocab *v = get_vocab(sel);
    const char *text = (const char *)data + 1;
    size_t len = size - 1, n = 0, n2 = 0, nb = 0;
    int32_t small[4];
    int rc = tok_encode(v, text, len, (int)add, (int)parse, NULL, 0, &n);
    if (rc != (n ? E_RANGE : 0))
        abort();
    int32_t *ids = mem_alloc_array(n + 1, sizeof(int32_t));
    char *back = mem_alloc(len * 4 + 64);
    if (!ids || !back)
        abort();
    if (tok_encode(v, text, len, (int)add, (int)parse, ids, n + 1, &n2) != 0 || n2 != n)
        abort();
    if (n > 4 && tok_encode(v, text, len, (int)add, (int)parse, small, 4, &n2) != E_RANGE)
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= tok_n_vocab(v))
            abort();
    rc = tok_decode(v, ids, n, (int)parse, back, len * 4 + 64, &nb);
    if (rc != 0 && rc != E_RANGE)
        abort();
    /* SPM and BPE keep every byte when nothing special is parsed or added. */
    if (sel != 3 && !add && !parse && !memmem(text, len, "\xe2\x96\x81", 3) &&
        (nb != len || memcmp(back, text, len) != 0)) {
        /* USER_DEFINED tokens are matched even then: only plain text must round-trip. */
        int has_user = 0;
        for (size_t i = 0; i < n; i++)
            has_user |= tok_token_type(v, ids[i]) == TOK_TYPE_USER_DEFINED;
        if (!has_user)
            abort();
    }
    check_detok(v, data, size);
    mem_free(ids);
    mem_free(back);
    return 0;
}

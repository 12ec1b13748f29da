// embed-ref.c - llama.cpp's pooled embeddings of texts, the reference for corral's encoder
// models (tests/data/reference/embed/).  Built and run by scripts/embed-ref.sh against the
// prebuilt libllama of ../shared/tools/llama-ref (node-llama-cpp 3.21.1, llama.cpp v0.4.0).
//
//   embed-ref MODEL.gguf NAME < texts (one per line)  ->  one JSON line per text:
//   {"model":NAME,"text":..,"tokens":[..],"embedding":[..]}
//
// Tokenized as Ollama's llama-server does for embeddings (add_special, parse_special); one
// fresh context per text (n_ctx = n_batch = n_ubatch = the model's trained context), the
// model's own pooling type, llama_get_embeddings_seq (pooled, not normalised).  NO_FA=1 in the
// environment turns flash attention off (default: auto); EMBED_REF_THREADS=N uses N threads and
// prints each decode's wall time to stderr (best of 4 after a warm-up).  A dev tool, not part
// of the build.
#define _POSIX_C_SOURCE 200809L
#include "ggml-backend.h"
#include "llama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void quiet(enum ggml_log_level level, const char *text, void *ud)
{
    (void)ud;
    if (level >= GGML_LOG_LEVEL_ERROR)
        fputs(text, stderr);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int main(int argc, char **argv)
{
    char line[8192];
    if (argc != 3) {
        fprintf(stderr, "usage: embed-ref MODEL.gguf NAME < texts\n");
        return 2;
    }
    llama_log_set(quiet, NULL);
    const char *dir = getenv("LLAMA_REF_LIBDIR");
    if (dir && *dir)
        ggml_backend_load_all_from_path(dir);
    else
        ggml_backend_load_all();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model)
        return 1;
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_embd = llama_model_n_embd(model), n_ctx = llama_model_n_ctx_train(model);
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = 0;
        llama_token toks[4096];
        int n = llama_tokenize(vocab, line, (int)strlen(line), toks, 4096, true, true);
        if (n <= 0 || n > n_ctx)
            return 1;
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)n_ctx;
        cp.embeddings = true;
        if (getenv("NO_FA"))
            cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
        const char *th = getenv("EMBED_REF_THREADS");
        cp.n_threads = cp.n_threads_batch = th ? atoi(th) : 1;
        struct llama_context *ctx = llama_init_from_model(model, cp);
        if (!ctx || llama_decode(ctx, llama_batch_get_one(toks, n)) != 0)
            return 1;
        if (th) {
            double best = 1e30;
            for (int r = 0; r < 4; r++) {
                double t0 = now_s();
                if (llama_decode(ctx, llama_batch_get_one(toks, n)) != 0)
                    return 1;
                best = now_s() - t0 < best ? now_s() - t0 : best;
            }
            fprintf(stderr, "%d tokens: %.2f ms, %.1f tok/s\n", n, best * 1e3, n / best);
        }
        const float *e = llama_get_embeddings_seq(ctx, 0);
        if (!e)
            return 1;
        printf("{\"model\":\"%s\",\"text\":", argv[2]);
        json_str(line);
        printf(",\"tokens\":[");
        for (int i = 0; i < n; i++)
            printf("%s%d", i ? "," : "", toks[i]);
        printf("],\"embedding\":[");
        for (int i = 0; i < n_embd; i++)
            printf("%s%.9g", i ? "," : "", e[i]);
        printf("]}\n");
        llama_free(ctx);
    }
    llama_model_free(model);
    return 0;
}

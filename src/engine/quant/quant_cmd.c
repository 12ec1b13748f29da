/*
 * quant_cmd.c - `corral quantize [--allow-requantize] [--pure] [-t N] IN.gguf OUT.gguf TYPE`:
 * opens the input (mmap), runs quant_model and prints a summary (tensor types, sizes, time).
 * Exit status 0 on success, 1 on error, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cmd.h"
#include "engine/quant/quant.h"

static int quant_usage(void)
{
    fprintf(stderr,
            "Usage: corral quantize [--allow-requantize] [--pure] [-t THREADS] IN.gguf OUT.gguf "
            "TYPE\n"
            "TYPE: q8_0 q4_0 q4_1 q5_0 q5_1 q2_K q3_K_S q3_K_M q3_K_L q4_K_S q4_K_M q5_K_S "
            "q5_K_M q6_K f16 bf16 f32\n");
    return 2;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void print_summary(const struct quant_stats *st, uint32_t ftype, double secs)
{
    printf("quantized to %s: %u tensors converted, %u copied, %u fallbacks\n",
           gguf_ftype_name(ftype), st->n_quantized, st->n_copied, st->n_fallback);
    printf("types:");
    for (uint32_t t = 0; t <= GGUF_T_COUNT; t++)
        if (st->count_by_type[t])
            printf(" %s=%u", gguf_type_name(t) ? gguf_type_name(t) : "?", st->count_by_type[t]);
    printf("\ntensor data: %.2f MB -> %.2f MB in %.2f s\n", (double)st->in_bytes / 1e6,
           (double)st->out_bytes / 1e6, secs);
}

static int cmd_quantize(int argc, char **argv)
{
    struct quant_opts o = {0};
    struct quant_stats st;
    struct err_info ei = {0};
    struct gguf *in = NULL;
    const char *pos[3];
    int npos = 0, rc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--allow-requantize"))
            o.allow_requantize = 1;
        else if (!strcmp(argv[i], "--pure"))
            o.pure = 1;
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            o.n_threads = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return quant_usage();
        else if (npos < 3 && argv[i][0] != '-')
            pos[npos++] = argv[i];
        else
            return quant_usage();
    }
    if (npos != 3)
        return quant_usage();
    if (quant_ftype_parse(pos[2], &o.ftype)) {
        fprintf(stderr, "Error: unknown quantization type \"%s\"\n", pos[2]);
        return quant_usage();
    }
    if ((rc = gguf_open_file(pos[0], 1, &in, &ei))) {
        fprintf(stderr, "Error: %s: %s\n", pos[0], ei.msg[0] ? ei.msg : err_str(rc));
        return 1;
    }
    double t0 = now_s();
    rc = quant_model(in, &o, pos[1], &st, &ei);
    gguf_close(in);
    if (rc) {
        fprintf(stderr, "Error: %s\n", ei.msg[0] ? ei.msg : err_str(rc));
        return 1;
    }
    print_summary(&st, o.ftype, now_s() - t0);
    return 0;
}

CMD_REGISTER(quantize, "quantize", cmd_quantize, "Quantize a GGUF model file (IN OUT TYPE)")

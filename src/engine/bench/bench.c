/*
 * bench.c - `corral bench MODEL.gguf [-p N] [-n N] [-t threads] [-r reps]`: prompt and
 * generation speed of the engine on one model, and the fraction of this machine's memory
 * bandwidth the generation achieves (weight bytes read per token x tok/s over a read
 * bandwidth measured in the same run with the same number of threads).
 *
 * The prompt is N pseudo-random token ids (fixed seed) decoded in batches of n_batch; the
 * generation decodes N tokens one at a time, greedy.  Pages of the mmapped model are touched
 * by a warm-up pass first.  The last line is machine-readable (`RESULT key=value ...`) for
 * scripts/bench.sh.  A CLI tool: prints to stdout, errors to stderr.
 */
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/cmd.h"
#include "common/cpu.h"
#include "common/err.h"
#include "common/mem.h"
#include "engine/engine.h"
#include "engine/kern/kern.h"

#define BENCH_MAX_TOKENS  16384
#define BENCH_BW_MIN      ((size_t)256 << 20) /* bandwidth buffer: 2 x L3, within these */
#define BENCH_BW_MAX      ((size_t)1 << 30)
#define BENCH_BW_PASSES   4
#define BENCH_PAIR_ROUNDS 7 /* paired bandwidth/generation rounds (odd: a true median) */
#define BENCH_PAIR_TOKENS 16

struct bench_opts {
    const char *path;
    int n_prompt, n_gen, n_threads, reps;
    int no_bw;       /* --no-bw: skip the bandwidth measurement (valgrind runs) */
    int all_threads; /* --all-threads: use every thread even on tiny models */
    int use_mmap;    /* --mmap: compute from the file mapping instead of the huge-page copy */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- memory bandwidth ------------------------------------------------------------------ */

struct bw_arg {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
    int cpu;              /* CPU to pin the reader to (-1: none) */
    const atomic_int *go; /* readers start when it is set, all together */
};

/* Reads a->n words, a cache line per step, with a software prefetch BENCH_BW_AHEAD bytes ahead.
 * The figure must be what the memory can deliver to a reader as good as the kernels (which
 * prefetch their weight streams on most CPUs, kern_dispatch.c), or the fraction achieved would
 * read above 100 %.  So: 256-bit loads into 8 independent accumulators where the CPU has AVX2,
 * as ../shared/tools/membw's read(sum) does, plus the prefetch.  Measured with 1 thread over
 * 600 MiB: Intel Xeon VM scalar 9.8 GB/s, scalar + prefetch 12.6, AVX2 13.0, AVX2 + prefetch
 * 16.1 (membw 16.3); on the Zen 3 VMs the scalar loop without prefetch read 26-33 GB/s with 2
 * threads where membw read 31-37. */
#define BENCH_BW_AHEAD 2048
#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint64_t bw_read_avx2(const uint64_t *p, size_t n)
{
    __m256i acc[8];
    for (int k = 0; k < 8; k++)
        acc[k] = _mm256_setzero_si256();
    for (size_t i = 0; i + 32 <= n; i += 32) {
        const char *c = (const char *)(p + i) + BENCH_BW_AHEAD;
        for (int l = 0; l < 4; l++)
            _mm_prefetch(c + 64 * l, _MM_HINT_T0);
        for (int k = 0; k < 8; k++)
            acc[k] = _mm256_add_epi64(acc[k], _mm256_loadu_si256((const __m256i *)(p + i) + k));
    }
    for (int k = 1; k < 8; k++)
        acc[0] = _mm256_xor_si256(acc[0], acc[k]);
    return (uint64_t)_mm256_extract_epi64(acc[0], 0);
}
#endif

static uint64_t bw_read_scalar(const uint64_t *p, size_t n)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        __builtin_prefetch((const char *)(p + i) + BENCH_BW_AHEAD);
        s0 += p[i] + p[i + 4];
        s1 += p[i + 1] + p[i + 5];
        s2 += p[i + 2] + p[i + 6];
        s3 += p[i + 3] + p[i + 7];
    }
    return s0 ^ s1 ^ s2 ^ s3;
}

static void *bw_reader(void *argp)
{
    struct bw_arg *a = argp;
    if (a->cpu >= 0) {
        cpu_set_t cs;
        CPU_ZERO(&cs);
        CPU_SET(a->cpu, &cs);
        (void)pthread_setaffinity_np(pthread_self(), sizeof cs, &cs);
    }
    while (!atomic_load_explicit(a->go, memory_order_acquire))
        sched_yield();
#if defined(__x86_64__)
    if (cpu_has(CPU_AVX2)) {
        a->sum = bw_read_avx2(a->p, a->n);
        return NULL;
    }
#endif
    a->sum = bw_read_scalar(a->p, a->n);
    return NULL;
}

/* Bytes of the bandwidth buffer: twice the last-level cache (some VMs report a 480 MiB L3,
 * where a 256 MiB buffer measured the cache), clamped to [BENCH_BW_MIN, BENCH_BW_MAX]. */
static size_t bw_bytes(void)
{
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    size_t n = l3 > 0 ? 2 * (size_t)l3 : BENCH_BW_MIN;
    n = n < BENCH_BW_MIN ? BENCH_BW_MIN : n > BENCH_BW_MAX ? BENCH_BW_MAX : n;
    return n & ~(((size_t)2 << 20) - 1);
}

struct bw_buf {
    uint64_t *p;
    size_t n; /* words */
};

static int bw_alloc(struct bw_buf *b)
{
    size_t bytes = bw_bytes();
    b->n = bytes / sizeof(uint64_t);
    b->p = mem_aligned((size_t)2 << 20, bytes);
    if (!b->p)
        return E_NOMEM;
    (void)madvise(b->p, bytes, MADV_HUGEPAGE); /* same pages as the weights' copy */
    for (size_t i = 0; i < b->n; i++)
        b->p[i] = i;
    return 0;
}

/* One pass of n_threads readers over the buffer: bytes/s. */
static double bw_pass(const struct bw_buf *b, int n_threads)
{
    pthread_t th[64];
    struct bw_arg args[64];
    cpu_set_t allowed;
    int cpus[64], ncpu = 0;
    if (n_threads > 64)
        n_threads = 64;
    /* each reader on its own CPU of those allowed: new threads start on their parent's CPU, and
     * two readers sharing one for part of a pass measured half the bandwidth (Intel VM, 2
     * threads: 11.7-12.2 GB/s unpinned in some passes, 22.6 pinned) */
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        for (int c = 0; c < CPU_SETSIZE && ncpu < 64; c++)
            if (CPU_ISSET(c, &allowed))
                cpus[ncpu++] = c;
    if (ncpu < n_threads)
        ncpu = 0;
    size_t per = b->n / (size_t)n_threads;
    atomic_int go;
    atomic_init(&go, 0);
    for (int t = 0; t < n_threads; t++)
        args[t] = (struct bw_arg){b->p + (size_t)t * per, per, 0, ncpu ? cpus[t] : -1, &go};
    int started = 1;
    for (int t = 1; t < n_threads && started == t; t++)
        if (pthread_create(&th[t], NULL, bw_reader, &args[t]) == 0)
            started++;
    /* timed from the start signal to the last reader's end */
    double t0 = now_s();
    atomic_store_explicit(&go, 1, memory_order_release);
    bw_reader(&args[0]);
    for (int t = 1; t < started; t++)
        pthread_join(th[t], NULL);
    for (int t = started; t < n_threads; t++) /* threads that could not start: read here */
        bw_reader(&args[t]);
    double dt = now_s() - t0;
    if (ncpu) /* the main thread back on every allowed CPU */
        (void)sched_setaffinity(0, sizeof allowed, &allowed);
    return (double)(per * (size_t)n_threads * 8) / dt;
}

/* Best read bandwidth (bytes/s) of n_threads threads over a buffer larger than the caches. */
static double measure_bw(const struct bw_buf *b, int n_threads)
{
    double best = 0.0;
    for (int pass = 0; pass < BENCH_BW_PASSES; pass++) {
        double bw = bw_pass(b, n_threads);
        best = bw > best ? bw : best;
    }
    return best;
}

/* ---- runs ------------------------------------------------------------------------------ */

static int run_prompt(struct eng_ctx *c, const int32_t *toks, int n, uint32_t n_batch, double *secs)
{
    struct err_info ei = {0};
    double t0 = now_s();
    for (int i = 0; i < n; i += (int)n_batch) {
        int k = n - i < (int)n_batch ? n - i : (int)n_batch;
        struct eng_batch b = {k, toks + i, NULL, NULL, NULL};
        int rc = eng_decode(c, &b, &ei);
        if (rc != 0) {
            fprintf(stderr, "corral bench: %s\n", ei.msg);
            return rc;
        }
    }
    *secs = now_s() - t0;
    return 0;
}

static int32_t argmax(const float *l, uint32_t n)
{
    uint32_t b = 0;
    for (uint32_t i = 1; i < n; i++)
        if (l[i] > l[b])
            b = i;
    return (int32_t)b;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* n greedy tokens after first: wall seconds in *secs, process CPU seconds (all threads, spin
 * waits included) in *cpu when cpu != NULL. */
static int run_gen(struct eng_ctx *c, int32_t first, int n, uint32_t n_vocab, double *secs,
                   double *cpu)
{
    double c0 = cpu_s();
    struct err_info ei = {0};
    int32_t t = first;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        struct eng_batch b = {1, &t, NULL, NULL, NULL};
        int rc = eng_decode(c, &b, &ei);
        if (rc != 0) {
            fprintf(stderr, "corral bench: %s\n", ei.msg);
            return rc;
        }
        t = argmax(eng_get_logits(c, 0), n_vocab);
    }
    *secs = now_s() - t0;
    if (cpu)
        *cpu = cpu_s() - c0;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The bandwidth fraction measured in BENCH_PAIR_ROUNDS rounds of [one bandwidth pass,
 * BENCH_PAIR_TOKENS generated tokens], each round's tokens set against the mean of the passes
 * just before and after them, so a noisy host moves both sides of a ratio together.  Returns the
 * median fraction; *bw_med gets the median bandwidth. */
static int paired_fraction(struct eng_ctx *c, const struct bw_buf *b, int nt, int32_t first,
                           const struct eng_model_info *in, double *frac, double *bw_med)
{
    double bw[BENCH_PAIR_ROUNDS + 1], fr[BENCH_PAIR_ROUNDS], secs;
    int rc;
    bw[0] = bw_pass(b, nt);
    for (int i = 0; i < BENCH_PAIR_ROUNDS; i++) {
        eng_seq_clear(c, 0);
        if ((rc = run_gen(c, first, BENCH_PAIR_TOKENS, in->n_vocab, &secs, NULL)) != 0)
            return rc;
        bw[i + 1] = bw_pass(b, nt);
        double tps = BENCH_PAIR_TOKENS / secs;
        fr[i] = (double)in->bytes_per_token * tps / (0.5 * (bw[i] + bw[i + 1]));
    }
    qsort(fr, BENCH_PAIR_ROUNDS, sizeof fr[0], cmp_double);
    qsort(bw, BENCH_PAIR_ROUNDS + 1, sizeof bw[0], cmp_double);
    *frac = 0.5 * (fr[(BENCH_PAIR_ROUNDS - 1) / 2] + fr[BENCH_PAIR_ROUNDS / 2]);
    *bw_med = bw[BENCH_PAIR_ROUNDS / 2];
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: corral bench MODEL.gguf [-p N] [-n N] [-t threads] [-r reps] [--no-bw] "
                    "[--all-threads] [--mmap]\n"
                    "  -p  prompt tokens (default 128)   -n  generated tokens (default 64)\n"
                    "  -t  threads (default: physical cores)   -r  repetitions, best kept (2)\n"
                    "  --mmap  compute from the file mapping (default: weights copied to huge "
                    "pages)\n");
    return 2;
}

static int parse_opts(int argc, char **argv, struct bench_opts *o)
{
    *o = (struct bench_opts){NULL, 128, 64, 0, 2, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *dst = NULL;
        if (strcmp(a, "--no-bw") == 0 || strcmp(a, "--all-threads") == 0) {
            *(a[2] == 'n' ? &o->no_bw : &o->all_threads) = 1;
            continue;
        }
        if (strcmp(a, "--mmap") == 0) {
            o->use_mmap = 1;
            continue;
        }
        if (strcmp(a, "-p") == 0)
            dst = &o->n_prompt;
        else if (strcmp(a, "-n") == 0)
            dst = &o->n_gen;
        else if (strcmp(a, "-t") == 0)
            dst = &o->n_threads;
        else if (strcmp(a, "-r") == 0)
            dst = &o->reps;
        else if (a[0] != '-' && !o->path) {
            o->path = a;
            continue;
        } else
            return -1;
        if (i + 1 >= argc)
            return -1;
        char *end;
        long v = strtol(argv[++i], &end, 10);
        if (*end || v < 0 || v > BENCH_MAX_TOKENS)
            return -1;
        *dst = (int)v;
    }
    if (!o->path || o->n_prompt < 1 || o->n_gen < 1 || o->reps < 1 || o->reps > 100 ||
        o->n_threads > ENG_MAX_THREADS)
        return -1;
    return 0;
}

struct bench_res {
    double pp_s, tg_s, tg_cpu;
};

static int bench_once(struct eng_ctx *c, const int32_t *toks, const struct bench_opts *o,
                      uint32_t n_vocab, struct bench_res *r)
{
    int rc;
    eng_seq_clear(c, 0);
    if ((rc = run_prompt(c, toks, o->n_prompt, eng_ctx_get_params(c)->n_batch, &r->pp_s)) != 0)
        return rc;
    return run_gen(c, toks[0], o->n_gen, n_vocab, &r->tg_s, &r->tg_cpu);
}

/* Encoder models (bert family) only embed: -p tokens (capped at the trained context) as one
 * sequence per eng_embed, best of -r repetitions after a warm-up. */
static int bench_encoder(struct eng_model *m, const struct bench_opts *o)
{
    const struct eng_model_info *in = eng_model_get_info(m);
    struct eng_ctx_params cp;
    struct eng_ctx *c = NULL;
    struct err_info ei = {0};
    int n = o->n_prompt < (int)in->n_ctx_train ? o->n_prompt : (int)in->n_ctx_train, rc;
    int32_t *toks = mem_calloc((size_t)n, sizeof(int32_t));
    float *out = mem_calloc(in->n_embd, sizeof(float));
    double best = 1e30;
    if (!toks || !out) {
        rc = E_NOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++)
        toks[i] = (int32_t)(((uint64_t)i * 2654435761u) % in->n_vocab);
    eng_ctx_params_default(&cp);
    cp.n_ctx = (uint32_t)n;
    cp.n_threads = o->n_threads;
    if (o->all_threads)
        cp.par_min_bytes = 0;
    if ((rc = eng_ctx_new(m, &cp, &c, &ei)) != 0) {
        fprintf(stderr, "corral bench: %s\n", ei.msg);
        goto out;
    }
    for (int i = 0; i <= o->reps; i++) { /* the first pass pages the weights in */
        double t0 = now_s();
        if ((rc = eng_embed(c, toks, (size_t)n, in->pooling ? in->pooling : ENG_POOL_MEAN, out,
                            &ei)) != 0) {
            fprintf(stderr, "corral bench: %s\n", ei.msg);
            goto out;
        }
        double dt = now_s() - t0;
        best = i > 0 && dt < best ? dt : best;
    }
    printf("model      %s (%s encoder, %s, %.1f MB)\n", o->path, in->arch, in->file_type,
           (double)in->weight_bytes / 1e6);
    printf("threads    %d\n", eng_ctx_get_params(c)->n_threads);
    printf("embed      %d tokens  %.2f tok/s  (%.2f ms per sequence)\n", n, n / best, best * 1e3);
    printf("RESULT threads=%d embed_tokens=%d embed_tps=%.3f embed_ms=%.3f\n",
           eng_ctx_get_params(c)->n_threads, n, n / best, best * 1e3);
out:
    eng_ctx_free(c);
    mem_free(toks);
    mem_free(out);
    return rc;
}

static int bench_model(struct eng_model *m, const struct bench_opts *o)
{
    const struct eng_model_info *in = eng_model_get_info(m);
    struct eng_ctx_params cp;
    struct eng_ctx *c = NULL;
    struct err_info ei = {0};
    int32_t *toks = mem_calloc((size_t)o->n_prompt, sizeof(int32_t));
    int rc;
    if (!toks)
        return E_NOMEM;
    uint64_t x = 12345;
    for (int i = 0; i < o->n_prompt; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((x >> 33) % in->n_vocab);
    }
    eng_ctx_params_default(&cp);
    cp.n_ctx = (uint32_t)(o->n_prompt + o->n_gen + 8);
    cp.n_threads = o->n_threads;
    if (o->all_threads)
        cp.par_min_bytes = 0;
    if ((rc = eng_ctx_new(m, &cp, &c, &ei)) != 0) {
        fprintf(stderr, "corral bench: %s\n", ei.msg);
        goto out;
    }
    int nt = eng_ctx_get_params(c)->n_threads;
    struct bench_res best = {1e30, 1e30, 1e30}, r;
    struct bench_opts warm = *o;
    warm.n_gen = 4;
    if ((rc = bench_once(c, toks, &warm, in->n_vocab, &r)) != 0) /* page in the weights */
        goto out;
    for (int i = 0; i < o->reps; i++) {
        if ((rc = bench_once(c, toks, o, in->n_vocab, &r)) != 0)
            goto out;
        best.pp_s = r.pp_s < best.pp_s ? r.pp_s : best.pp_s;
        best.tg_s = r.tg_s < best.tg_s ? r.tg_s : best.tg_s;
        best.tg_cpu = r.tg_cpu < best.tg_cpu ? r.tg_cpu : best.tg_cpu;
    }
    double pp = o->n_prompt / best.pp_s, tg = o->n_gen / best.tg_s;
    double bw = 0.0, frac = 0.0, bw_best = 0.0, frac_best = 0.0;
    if (!o->no_bw) {
        struct bw_buf bb;
        if ((rc = bw_alloc(&bb)) != 0)
            goto out;
        bw_best = measure_bw(&bb, nt);
        frac_best = (double)in->bytes_per_token * tg / bw_best;
        rc = paired_fraction(c, &bb, nt, toks[0], in, &frac, &bw);
        mem_free(bb.p);
        if (rc != 0)
            goto out;
    }
    printf("model      %s (%s, %s, %.1f MB, %.1f MB read per token)\n", o->path, in->arch,
           in->file_type, (double)in->weight_bytes / 1e6, (double)in->bytes_per_token / 1e6);
    const struct eng_ctx_params *ep = eng_ctx_get_params(c);
    if (nt > 1 && in->bytes_per_token < ep->par_min_bytes)
        printf("threads    %d (single tokens read under %llu MB: they run on one thread; "
               "--all-threads forces %d)\n",
               nt, (unsigned long long)(ep->par_min_bytes >> 20), nt);
    else
        printf("threads    %d\n", nt);
    printf("prompt     %d tokens  %.2f tok/s\n", o->n_prompt, pp);
    printf("generation %d tokens  %.2f tok/s  (%.2f ms of CPU per token, all threads)\n", o->n_gen,
           tg, 1e3 * best.tg_cpu / o->n_gen);
    if (!o->no_bw) {
        printf(
            "bandwidth  %.2f GB/s best of %d passes (%d threads, read)  -> %.1f %% achieved by the "
            "best generation\n",
            bw_best / 1e9, BENCH_BW_PASSES, nt, 100.0 * frac_best);
        printf(
            "paired     %.1f %% of bandwidth: median of %d rounds of %d tokens, each against the "
            "passes just before and after it (median %.2f GB/s)\n",
            100.0 * frac, BENCH_PAIR_ROUNDS, BENCH_PAIR_TOKENS, bw / 1e9);
    }
    printf("RESULT threads=%d pp_tps=%.3f tg_tps=%.3f bw_gbs=%.3f bw_frac=%.4f bytes_tok=%llu "
           "bw_best_gbs=%.3f bw_best_frac=%.4f tg_cpu_ms=%.3f\n",
           nt, pp, tg, bw / 1e9, frac, (unsigned long long)in->bytes_per_token, bw_best / 1e9,
           frac_best, 1e3 * best.tg_cpu / o->n_gen);
out:
    eng_ctx_free(c);
    mem_free(toks);
    return rc;
}

static int cmd_bench(int argc, char **argv)
{
    struct bench_opts o;
    struct eng_model *m = NULL;
    struct err_info ei = {0};
    if (parse_opts(argc, argv, &o) != 0)
        return usage();
    struct eng_model_params mp;
    eng_model_params_default(&mp);
    mp.use_mmap = o.use_mmap;
    double t0 = now_s();
    int rc = eng_model_load_file(o.path, &mp, &m, &ei);
    if (rc != 0) {
        fprintf(stderr, "corral bench: %s\n", ei.msg[0] ? ei.msg : err_str(rc));
        return 1;
    }
    printf("load       %.2f s (%s, kernels %s)\n", now_s() - t0,
           o.use_mmap ? "weights mmapped" : "weights copied to huge pages",
           kern_get(KERN_ISA_BEST)->name);
    rc = eng_model_get_info(m)->encoder ? bench_encoder(m, &o) : bench_model(m, &o);
    eng_model_free(m);
    return rc == 0 ? 0 : 1;
}

CMD_REGISTER(bench, "bench", cmd_bench, "measure prompt/generation speed of a GGUF model")

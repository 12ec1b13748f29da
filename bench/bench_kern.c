/*
 * bench_kern.c - single-thread throughput of the kernels, as a ratio to the memory bandwidth
 * measured in the same run (not a test; numbers vary with the host's load).
 *
 * For each weight type: a matrix of 4096 columns and enough rows for ~256 MiB of weights
 * (>> L3), the first 16 rows quantized from random data and copied down the matrix.
 *   gemv:  mul_mat with 1 token  -> GB/s of weight bytes streamed, and that / read bandwidth
 *   cached: the same over ~512 KiB of rows (L2 resident) -> the kernel's compute bound
 *   gemm:  mul_mat with 32 tokens over a 1024-row slice (cache resident), called 64 rows at a
 *          time as the model's work items do -> GMAC/s (compute)
 * The weights live in anonymous memory with MADV_HUGEPAGE.  Measured on the reference VM, the same
 * kernels stream an mmapped model file (page cache, 4 KB pages) 2-5x slower, and 4 KB anonymous
 * pages ~2x slower, than 2 MiB pages: nested-paging TLB misses, not the kernels, bound that case.
 * Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other processes sharing the
 * cores do not inflate them; best of several repetitions.
 * Bandwidth: a read-only loop with 8 independent AVX2 accumulators over a 512 MiB buffer.
 *
 * Build and run (after `make BUILD=kern`):
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -mavx2 -mfma -Isrc bench/bench_kern.c \
 *       build/kern/src/engine/kern/?*.o build/kern/src/common/?*.o \
 *       $(pkg-config --libs libcurl libcrypto jansson) -lm -o build/kern/bench_kern
 *   [BENCH_NT=tokens] build/kern/bench_kern [isa: scalar|avx2|avx512|amx|best] [type-substring]
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/mem.h"
#include "engine/kern/kern.h"

#define NCOL           4096
#define TARGET_BYTES   (256u << 20)
#define GEMM_ROWS      gemm_rows /* BENCH_ROWS, default 1024 */
#define GEMM_NT        gemm_nt   /* tokens of the gemm: BENCH_NT, default 32 */
#define GEMM_CALL_ROWS 64        /* rows per mul_mat call, as the model's work items */
#define REPS           3

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int gemm_nt = 32;
static int gemm_rows = 1024;
static uint64_t rng_state = 88172645463325252ull;

static float rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) / 16777216.0f - 0.5f;
}

__attribute__((target("avx2"))) static double read_bw(void)
{
    size_t n = (512u << 20) / 32;
    __m256i *buf = mem_aligned(2u << 20, n * 32);
    if (!buf)
        return 0.0;
    madvise(buf, n * 32, MADV_HUGEPAGE); /* same pages as the weights */
    memset(buf, 1, n * 32);
    double best = 0.0;
    for (int r = 0; r < REPS; r++) {
        __m256i a[8];
        for (int k = 0; k < 8; k++)
            a[k] = _mm256_setzero_si256();
        double t0 = now_s();
        for (size_t i = 0; i < n; i += 8)
            for (int k = 0; k < 8; k++)
                a[k] = _mm256_add_epi64(a[k], _mm256_load_si256(buf + i + k));
        double dt = now_s() - t0;
        for (int k = 1; k < 8; k++)
            a[0] = _mm256_add_epi64(a[0], a[k]);
        volatile long long sink = _mm256_extract_epi64(a[0], 0);
        (void)sink;
        double gbs = (double)n * 32 / dt / 1e9;
        best = gbs > best ? gbs : best;
    }
    mem_free(buf);
    return best;
}

struct tname {
    uint32_t t;
    const char *name;
};

static const struct tname types[] = {
    {KERN_T_Q4_0, "q4_0"}, {KERN_T_Q4_K, "q4_k"}, {KERN_T_Q6_K, "q6_k"}, {KERN_T_Q8_0, "q8_0"},
    {KERN_T_Q5_K, "q5_k"}, {KERN_T_Q4_1, "q4_1"}, {KERN_T_Q5_0, "q5_0"}, {KERN_T_Q5_1, "q5_1"},
    {KERN_T_Q2_K, "q2_k"}, {KERN_T_Q3_K, "q3_k"}, {KERN_T_F16, "f16"},   {KERN_T_BF16, "bf16"},
    {KERN_T_F32, "f32"},
};

/* packed: multiply the table's packed form of the matrix (kern.h pack_type) instead. */
static void bench_type(const struct kern *k, uint32_t t, const char *name, double bw, int packed)
{
    size_t rb = kern_row_bytes(t, NCOL);
    int64_t nrow = (int64_t)(TARGET_BYTES / rb) / 8 * 8;
    /* 2 MiB pages for the weights: on this VM 4 KB pages (and the page cache of an mmapped file)
     * cost 2-5x in streaming speed through nested-paging TLB misses; see the header */
    size_t wbytes = ((size_t)nrow * rb + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    uint8_t *w = mem_aligned(2u << 20, wbytes);
    if (w)
        madvise(w, wbytes, MADV_HUGEPAGE);
    float *x = mem_alloc(sizeof(float) * NCOL * GEMM_NT);
    uint32_t at = k->vec_dot_type(t);
    size_t arb = kern_row_bytes(at, NCOL);
    uint8_t *xa = mem_alloc(arb * GEMM_NT);
    float *out = mem_alloc(sizeof(float) * (size_t)nrow * GEMM_NT);
    if (!w || !x || !xa || !out)
        goto out;
    for (int i = 0; i < NCOL * GEMM_NT; i++)
        x[i] = rnd();
    for (int64_t r = 0; r < 16; r++)
        if (kern_quantize_weights(t, x + (r % GEMM_NT) * NCOL, w + r * rb, NCOL) != 0)
            goto out;
    for (int64_t r = 16; r < nrow; r++)
        memcpy(w + r * rb, w + (r % 16) * rb, rb);
    for (int i = 0; i < GEMM_NT; i++)
        k->quantize_row(at, x + i * NCOL, xa + i * arb, NCOL);
    if (packed) {
        uint32_t pt = k->pack_type ? k->pack_type(t, NCOL, nrow) : 0;
        size_t prb = kern_row_bytes(pt, NCOL);
        size_t pbytes = ((size_t)nrow * prb + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
        uint8_t *pw = pt ? mem_aligned(2u << 20, pbytes) : NULL;
        if (!pw)
            goto out;
        madvise(pw, pbytes, MADV_HUGEPAGE);
        if (kern_pack(pt, w, rb, NCOL, nrow, pw) != 0) {
            mem_free(pw);
            goto out;
        }
        mem_free(w);
        w = pw;
        t = pt;
        rb = prb;
    }

    double best = 1e9;
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = now_s();
        k->mul_mat(t, w, rb, NCOL, 0, nrow, xa, arb, 1, out, nrow);
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    double gbs = (double)nrow * (double)rb / best / 1e9;

    /* the same gemv over ~512 KiB of rows (L2 resident): the compute bound of the kernel */
    int64_t crow = (int64_t)((512u << 10) / rb);
    double bestc = 1e9;
    for (int rep = 0; rep < REPS * 50; rep++) {
        double t0 = now_s();
        k->mul_mat(t, w, rb, NCOL, 0, crow, xa, arb, 1, out, crow);
        double dt = now_s() - t0;
        bestc = dt < bestc ? dt : bestc;
    }
    double gbc = (double)crow * (double)rb / bestc / 1e9;

    double bestg = 1e9;
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = now_s();
        for (int64_t r0 = 0; r0 < GEMM_ROWS; r0 += GEMM_CALL_ROWS)
            k->mul_mat(t, w, rb, NCOL, r0, r0 + GEMM_CALL_ROWS, xa, arb, GEMM_NT, out, GEMM_ROWS);
        double dt = now_s() - t0;
        bestg = dt < bestg ? dt : bestg;
    }
    double gmac = (double)GEMM_ROWS * NCOL * GEMM_NT / bestg / 1e9;

    /* the same with the optional prepared-activation path (prepare once, then the row calls) */
    double gmacp = 0.0;
    size_t pb = k->prep_bytes ? k->prep_bytes(t, NCOL, GEMM_NT) : 0;
    void *prep = pb ? mem_aligned(64, pb) : NULL;
    if (prep) {
        double bestp = 1e9;
        for (int rep = 0; rep < REPS; rep++) {
            double t0 = now_s();
            k->prepare(t, xa, arb, NCOL, GEMM_NT, prep);
            for (int64_t r0 = 0; r0 < GEMM_ROWS; r0 += GEMM_CALL_ROWS)
                k->mul_mat_prep(t, w, rb, NCOL, r0, r0 + GEMM_CALL_ROWS, prep, GEMM_NT, out,
                                GEMM_ROWS);
            double dt = now_s() - t0;
            bestp = dt < bestp ? dt : bestp;
        }
        gmacp = (double)GEMM_ROWS * NCOL * GEMM_NT / bestp / 1e9;
        mem_free(prep);
    }
    printf("%-7s %-5s gemv %6.2f GB/s %5.1f%% of bw  cached %6.2f GB/s  gemm(nt=%d) %6.2f GMAC/s",
           k->name, packed ? "packed" : name, gbs, 100.0 * gbs / bw, gbc, GEMM_NT, gmac);
    if (gmacp > 0.0)
        printf("  prepared %6.2f", gmacp);
    printf("\n");
    fflush(stdout);
out:
    mem_free(w);
    mem_free(x);
    mem_free(xa);
    mem_free(out);
}

int main(int argc, char **argv)
{
    enum kern_isa isa = KERN_ISA_BEST;
    if (argc > 1 && strcmp(argv[1], "scalar") == 0)
        isa = KERN_ISA_SCALAR;
    else if (argc > 1 && strcmp(argv[1], "avx2") == 0)
        isa = KERN_ISA_AVX2;
    else if (argc > 1 && strcmp(argv[1], "avx512") == 0)
        isa = KERN_ISA_AVX512;
    else if (argc > 1 && strcmp(argv[1], "amx") == 0)
        isa = KERN_ISA_AMX;
    const char *rows = getenv("BENCH_ROWS");
    if (rows && atoi(rows) >= 64 && atoi(rows) <= 1024)
        gemm_rows = atoi(rows) / 64 * 64;
    const char *nt = getenv("BENCH_NT");
    if (nt && atoi(nt) > 0 && atoi(nt) <= 4096)
        gemm_nt = atoi(nt);
    const struct kern *k = kern_get(isa);
    if (!k) {
        fprintf(stderr, "this CPU lacks that ISA\n");
        return 1;
    }
    double bw = read_bw();
    printf("read bandwidth (1 thread, 512 MiB): %.2f GB/s\n", bw);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (argc <= 2 || strstr(types[i].name, argv[2]))
            for (int pk = 0; pk < 2; pk++)
                if (!pk || (k->pack_type && k->pack_type(types[i].t, NCOL, 8)))
                    bench_type(k, types[i].t, types[i].name, bw, pk);
    printf("read bandwidth again: %.2f GB/s\n", read_bw());
    return 0;
}

/*
 * test_kern_amx.c - the AMX table (kern_x86_amx.c) against the scalar reference.
 *
 * Batches of >= 8 tokens run on the tile unit for Q4_K, Q5_K, Q6_K, Q8_0, Q4_0 and Q5_0; every
 * other type and smaller batches fall through to the AVX-512 code.  For each weight type, over row
 * blocks that start and end off the 16-row grid, token counts off the 16-token grid, and
 * column counts below, at and above the 2048-column decode chunk, mul_mat and mul_mat_prep must
 * match kern__ref_vec_dot of each (row, token) within a summation-order tolerance, and leave
 * everything outside the block untouched.  Weights are quantized normal data and, separately,
 * random bytes with random finite scales (every code value, e.g. Q8_0 -128, Q6_K scale -128).
 * On a CPU without AMX (or where the kernel refuses the tile state) the tests print that they
 * skipped the AMX part and check only that the dispatcher does not offer the table.
 */
#include "engine/kern/kern.h"

#include "harness/test.h"

#include "common/cpu.h"
#include "common/mem.h"
#include "engine/kern/kern_int.h"

static const uint32_t amx_wtypes[] = {
    KERN_T_Q4_K, KERN_T_Q5_K, KERN_T_Q6_K, KERN_T_Q8_0, KERN_T_Q4_0, KERN_T_Q5_0, /* tile unit */
    KERN_T_Q4_1, KERN_T_F16,                                                      /* fall through */
};
#define N_AMX_WTYPES (sizeof amx_wtypes / sizeof amx_wtypes[0])

struct rng {
    uint64_t s;
};

static uint32_t rng_u32(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 11);
}

static float rng_normal(struct rng *r)
{
    float s = 0.0f;
    for (int i = 0; i < 4; i++)
        s += (float)(rng_u32(r) & 0xffffff) / 16777216.0f - 0.5f;
    return s * 1.7320508f;
}

/* The AMX table, or NULL (with a note) when this machine cannot use it. */
static const struct kern *amx_table(const char *test)
{
    const struct kern *k = kern_get(KERN_ISA_AMX);
    if (!k)
        fprintf(stderr, "  %s: skipped the AMX checks (no AMX-TILE/AMX-INT8 or no tile grant)\n",
                test);
    return k;
}

/* Random bytes with the scale fields set to random finite fp16 values. */
static void random_blocks(struct rng *r, uint32_t t, uint8_t *p, int64_t nblocks)
{
    size_t bb = kern_type_block_bytes(t);
    for (size_t i = 0; i < (size_t)nblocks * bb; i++)
        p[i] = (uint8_t)rng_u32(r);
    int off[2] = {-1, -1};
    switch (t) {
    case KERN_T_Q4_K:
    case KERN_T_Q5_K:
    case KERN_T_Q4_1:
        off[0] = 0;
        off[1] = 2;
        break;
    case KERN_T_Q6_K:
        off[0] = 208;
        break;
    case KERN_T_Q8_0:
    case KERN_T_Q4_0:
    case KERN_T_Q5_0:
        off[0] = 0;
        break;
    case KERN_T_F16:
        for (int64_t i = 0; i < nblocks; i++) {
            uint16_t h = kern_f32_to_fp16(rng_normal(r));
            memcpy(p + 2 * i, &h, 2);
        }
        return;
    default:
        return;
    }
    for (int64_t i = 0; i < nblocks; i++)
        for (int j = 0; j < 2 && off[j] >= 0; j++) {
            uint16_t h = kern_f32_to_fp16(rng_normal(r) * 0.01f);
            memcpy(p + (size_t)i * bb + off[j], &h, 2);
        }
}

static void make_row(struct rng *r, uint32_t t, int64_t n, int random_bytes, float *tmp,
                     uint8_t *dst)
{
    if (random_bytes) {
        random_blocks(r, t, dst, n / kern_type_block_elems(t));
        return;
    }
    for (int64_t i = 0; i < n; i++)
        tmp[i] = rng_normal(r) * 0.05f;
    ASSERT_OK(kern_quantize_weights(t, tmp, dst, n));
}

/* sum |w_i * a_i| of the dequantized rows: the scale of the summation-order error. */
static double abs_dot(uint32_t t, const uint8_t *w, const uint8_t *a, int64_t n, float *dw,
                      float *da)
{
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    rk->dequantize_row(t, w, dw, n);
    rk->dequantize_row(rk->vec_dot_type(t), a, da, n);
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += fabs((double)dw[i] * (double)da[i]);
    return s;
}

struct shape {
    int64_t ncols;
    int nrow, nt;
};

/* One matrix: rows [r0, r1) x nt tokens through mul_mat (prep 0) or prepare + mul_mat_prep. */
static void check_one(const struct kern *k, struct rng *r, uint32_t t, const struct shape *sh,
                      int random_bytes, int prep)
{
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    uint32_t at = rk->vec_dot_type(t);
    int64_t n = sh->ncols;
    size_t wrb = kern_row_bytes(t, n), arb = kern_row_bytes(at, n);
    int nrow = sh->nrow, nt = sh->nt;
    int64_t r0 = 3, r1 = nrow - 1;
    uint8_t *w = mem_alloc((size_t)nrow * wrb + 8), *a = mem_alloc((size_t)nt * arb + 8);
    float *tmp = mem_alloc((size_t)n * 4), *dw = mem_alloc((size_t)n * 4),
          *da = mem_alloc((size_t)n * 4), *out = mem_alloc((size_t)nt * nrow * 4);
    for (int i = 0; i < nrow; i++)
        make_row(r, t, n, random_bytes, tmp, w + 1 + (size_t)i * wrb);
    for (int i = 0; i < nt; i++) {
        for (int64_t j = 0; j < n; j++)
            tmp[j] = rng_normal(r);
        rk->quantize_row(at, tmp, a + 3 + (size_t)i * arb, n);
    }
    for (int i = 0; i < nt * nrow; i++)
        out[i] = -12345.0f;
    size_t pb = prep && k->prep_bytes ? k->prep_bytes(t, n, 1) : 0;
    if (pb) {
        uint8_t *pbuf = mem_aligned(64, pb * (size_t)nt);
        for (int i = 0; i < nt; i++)
            k->prepare(t, a + 3 + (size_t)i * arb, arb, n, 1, pbuf + (size_t)i * pb);
        k->mul_mat_prep(t, w + 1, wrb, n, r0, r1, pbuf, nt, out, nrow);
        mem_free(pbuf);
    } else if (!prep) {
        k->mul_mat(t, w + 1, wrb, n, r0, r1, a + 3, arb, nt, out, nrow);
    }
    for (int tt = 0; prep == 0 || pb; tt++) {
        if (tt >= nt)
            break;
        for (int rr = 0; rr < nrow; rr++) {
            float got = out[tt * nrow + rr];
            if (rr < r0 || rr >= r1) {
                if (got != -12345.0f)
                    TEST_FAIL_("%s type %u: row %d outside [%lld, %lld) written", k->name, t, rr,
                               (long long)r0, (long long)r1);
                continue;
            }
            const uint8_t *wr = w + 1 + (size_t)rr * wrb, *ar = a + 3 + (size_t)tt * arb;
            float want = kern__ref_vec_dot(t, n, wr, ar);
            double tol = (double)n * 1.2e-7 * abs_dot(t, wr, ar, n, dw, da) + 1e-6;
            if (!(fabs((double)got - (double)want) <= tol))
                TEST_FAIL_("%s type %u%s%s cols %lld nt %d row %d tok %d: %.9g vs ref %.9g "
                           "(tol %g)",
                           k->name, t, random_bytes ? " random" : "", prep ? " prep" : "",
                           (long long)n, nt, rr, tt, (double)got, (double)want, tol);
        }
    }
    mem_free(w);
    mem_free(a);
    mem_free(tmp);
    mem_free(dw);
    mem_free(da);
    mem_free(out);
}

TEST_T(kern_amx_mul_mat_matches_ref, 120)
{
    const struct kern *k = amx_table("kern_amx_mul_mat_matches_ref");
    if (!k)
        return;
    ASSERT_EQ_INT(k->isa, KERN_ISA_AMX);
    struct rng r = {77};
    /* K-quants: 1 super-block, the 2048-column chunk exactly, and 2 chunks + 1 super-block;
     * 32-blocks: 1, 2, 3 (odd group), 65 (a chunk + 1).  Tokens below, at and off the grid, and
     * past the 32-block types' 256-token pass (2 passes, with 2 chunks: the scale table per
     * chunk and pass).  Rows: 16-row groups cut by r0 = 3 and r1 = nrow - 1, some of 1 row. */
    const struct shape kq[] = {{256, 21, 16}, {2048, 37, 17}, {4352, 20, 40}, {768, 19, 9},
                               {256, 40, 7},  {512, 18, 33},  {256, 21, 140}};
    const struct shape b32[] = {{32, 21, 16}, {96, 37, 19},  {2080, 20, 33},  {512, 19, 8},
                                {64, 40, 7},  {256, 17, 48}, {2112, 21, 270}, {64, 36, 300}};
    for (size_t ti = 0; ti < N_AMX_WTYPES; ti++) {
        uint32_t t = amx_wtypes[ti];
        int kt = kern_type_block_elems(t) == KERN_QK_K;
        const struct shape *sh = kt ? kq : b32;
        int nsh = kt ? (int)(sizeof kq / sizeof kq[0]) : (int)(sizeof b32 / sizeof b32[0]);
        for (int i = 0; i < nsh; i++)
            for (int rb = 0; rb < 2; rb++)
                for (int prep = 0; prep < 2; prep++)
                    check_one(k, &r, t, &sh[i], rb, prep);
    }
}

/* The weight rows end exactly where their allocation does and the last 16-row group is partial
 * (19 rows: 16 + 3; 1 row alone): the decoders' row loads must stay inside the matrix (ASan
 * builds catch a byte past it) and the rows past it must not be written. */
TEST(kern_amx_rows_end_at_buffer_end)
{
    const struct kern *k = amx_table("kern_amx_rows_end_at_buffer_end");
    if (!k)
        return;
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    struct rng r = {91};
    const int nrows[2] = {19, 1};
    for (size_t ti = 0; ti < 6; ti++)
        for (int ri = 0; ri < 2; ri++) {
            uint32_t t = amx_wtypes[ti], at = rk->vec_dot_type(t);
            int64_t n = kern_type_block_elems(t) == KERN_QK_K ? 512 : 96;
            int nrow = nrows[ri], nt = 17;
            size_t wrb = kern_row_bytes(t, n), arb = kern_row_bytes(at, n);
            uint8_t *w = mem_alloc((size_t)nrow * wrb), *a = mem_alloc((size_t)nt * arb);
            float *tmp = mem_alloc((size_t)n * 4), *dw = mem_alloc((size_t)n * 4),
                  *da = mem_alloc((size_t)n * 4), *out = mem_alloc((size_t)nt * (nrow + 1) * 4);
            for (int i = 0; i < nrow; i++)
                make_row(&r, t, n, i & 1, tmp, w + (size_t)i * wrb);
            for (int i = 0; i < nt; i++) {
                for (int64_t j = 0; j < n; j++)
                    tmp[j] = rng_normal(&r);
                rk->quantize_row(at, tmp, a + (size_t)i * arb, n);
            }
            for (int i = 0; i < nt * (nrow + 1); i++)
                out[i] = -12345.0f;
            k->mul_mat(t, w, wrb, n, 0, nrow, a, arb, nt, out, nrow + 1);
            for (int tt = 0; tt < nt; tt++) {
                ASSERT(out[tt * (nrow + 1) + nrow] == -12345.0f);
                for (int rr = 0; rr < nrow; rr++) {
                    const uint8_t *wr = w + (size_t)rr * wrb, *ar = a + (size_t)tt * arb;
                    float got = out[tt * (nrow + 1) + rr], want = kern__ref_vec_dot(t, n, wr, ar);
                    double tol = (double)n * 1.2e-7 * abs_dot(t, wr, ar, n, dw, da) + 1e-6;
                    if (!(fabs((double)got - (double)want) <= tol))
                        TEST_FAIL_("type %u rows %d row %d tok %d: %.9g vs ref %.9g", t, nrow, rr,
                                   tt, (double)got, (double)want);
                }
            }
            mem_free(w);
            mem_free(a);
            mem_free(tmp);
            mem_free(dw);
            mem_free(da);
            mem_free(out);
        }
}

/* Several threads at once, each with its own rows and interleaved calls: the tile state is
 * per thread and configured per call. */
#include <pthread.h>

struct thr_arg {
    const struct kern *k;
    uint64_t seed;
};

static void *thr_main(void *p)
{
    struct thr_arg *ta = p;
    struct rng r = {ta->seed};
    const struct shape s1 = {512, 33, 20}, s2 = {64, 18, 17};
    for (int i = 0; i < 4; i++) {
        check_one(ta->k, &r, KERN_T_Q4_K, &s1, i & 1, 0);
        check_one(ta->k, &r, KERN_T_Q8_0, &s2, i & 1, 0);
        check_one(ta->k, &r, KERN_T_Q6_K, &s1, 0, 0);
    }
    return NULL;
}

TEST(kern_amx_threads)
{
    const struct kern *k = amx_table("kern_amx_threads");
    if (!k)
        return;
    pthread_t th[3];
    struct thr_arg ta[3];
    for (int i = 0; i < 3; i++) {
        ta[i] = (struct thr_arg){k, 1000u + (uint64_t)i};
        ASSERT(pthread_create(&th[i], NULL, thr_main, &ta[i]) == 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
}

TEST(kern_amx_dispatch)
{
    const struct kern *amx = kern_get(KERN_ISA_AMX);
    if (!amx) {
        ASSERT(strncmp(kern_get(KERN_ISA_BEST)->name, "amx", 3) != 0);
        fprintf(stderr, "  kern_amx_dispatch: skipped the AMX checks (no AMX here)\n");
        return;
    }
    ASSERT(cpu_has(CPU_AMX_TILE | CPU_AMX_INT8));
    ASSERT(cpu_amx_permit()); /* granted, asking again is fine */
    unsetenv("CORRAL_KERN");
    ASSERT(strncmp(kern_get(KERN_ISA_BEST)->name, "amx", 3) == 0);
    setenv("CORRAL_KERN", "avx512", 1);
    ASSERT(strncmp(kern_get(KERN_ISA_BEST)->name, "avx512", 6) == 0);
    setenv("CORRAL_KERN", "amx", 1);
    ASSERT(strncmp(kern_get(KERN_ISA_BEST)->name, "amx", 3) == 0);
    unsetenv("CORRAL_KERN");
    /* Q8_0/Q4_0/Q5_0 batches for the tile unit without prepared activations (mul_mat on the
     * Q8_0 rows); small batches (generation) and other types as AVX-512 */
    const struct kern *z = kern_get(KERN_ISA_AVX512);
    ASSERT_EQ_SIZE(amx->prep_bytes(KERN_T_Q8_0, 4096, 16), 0);
    ASSERT_EQ_SIZE(amx->prep_bytes(KERN_T_Q4_0, 4096, 8), 0);
    ASSERT_EQ_SIZE(amx->prep_bytes(KERN_T_Q5_0, 4096, 64), 0);
    ASSERT_EQ_SIZE(amx->prep_bytes(KERN_T_Q8_0, 4096, 1), z->prep_bytes(KERN_T_Q8_0, 4096, 1));
    ASSERT_EQ_SIZE(amx->prep_bytes(KERN_T_Q4_0, 4096, 7), z->prep_bytes(KERN_T_Q4_0, 4096, 7));
    ASSERT(amx->prep_bytes(KERN_T_Q8_0, 4096, 1) > 0);
    ASSERT_EQ_SIZE(amx->prep_bytes(KERN_T_Q4_1, 4096, 1),
                   kern_get(KERN_ISA_AVX512)->prep_bytes(KERN_T_Q4_1, 4096, 1));
    /* the twins follow CORRAL_PREFETCH like the AVX-512 ones */
    setenv("CORRAL_PREFETCH", "0", 1);
    ASSERT_EQ_STR(kern_get(KERN_ISA_AMX)->name, "amx");
    setenv("CORRAL_PREFETCH", "1", 1);
    ASSERT_EQ_STR(kern_get(KERN_ISA_AMX)->name, "amx+prefetch");
    unsetenv("CORRAL_PREFETCH");
}

/* The sandboxed runner picks its kernels after entering its sandbox: its seccomp filter must let
 * the engine check and request the tile state, and the tile products must then work. */
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sbx.h"

TEST(kern_amx_under_runner_sandbox)
{
    if (!cpu_has(CPU_AMX_TILE | CPU_AMX_INT8) || !kern_get(KERN_ISA_AVX512)) {
        fprintf(stderr, "  kern_amx_under_runner_sandbox: skipped (no AMX here)\n");
        return;
    }
    unsigned long long perm = 0;
    ASSERT(syscall(SYS_arch_prctl, 0x1022, &perm) == 0);
    if (perm & (1ull << 18))
        fprintf(stderr, "  (tile state already granted before the sandbox: checks the query)\n");
    struct err_info ei = {0};
    ASSERT_OK(sbx_runner_enter(SBX_MODE_ENFORCE, &ei));
    const struct kern *k = kern_get(KERN_ISA_BEST);
    ASSERT(strncmp(k->name, "amx", 3) == 0);
    struct rng r = {5};
    const struct shape s = {512, 20, 17};
    check_one(k, &r, KERN_T_Q4_K, &s, 0, 0);
}

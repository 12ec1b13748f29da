/*
 * test_kern_pack.c - packed weight types (src/engine/kern/kern_pack.c, kern.h kern_pack):
 *
 * 1. Packing is lossless: every row unpacks to the exact bytes of the file row, and bad
 *    arguments are refused.
 * 2. mul_mat over a packed matrix, in every table that offers the packed type (and in the scalar
 *    table, which unpacks), equals the scalar mul_mat over the file rows within a float-order
 *    tolerance, for 1..13 tokens, row ranges that start and end inside 8-row groups, and rows of
 *    several widths; rows outside the range are not written.  Every packed type (Q4_0_X8,
 *    Q5_0_X8, Q4_K_X8).
 * 3. Extreme codes: the largest codes (and scales) against activations of -128 and 127, the
 *    largest 16-bit partial sums the packed kernels form, still equal the reference.
 */
#include "engine/kern/kern.h"

#include "harness/test.h"

#include <math.h>
#include <stdlib.h>

#include "common/mem.h"
#include "engine/kern/kern_int.h"

#define PK_ROWS 24

struct pk_rng {
    uint64_t s;
};

static float pk_rand(struct pk_rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (float)(r->s >> 40) / 16777216.0f - 0.5f;
}

struct pk_type {
    uint32_t ptype, base, act;
    int64_t widths[3];
};

static const struct pk_type PK_TYPES[] = {
    {KERN_T_Q4_0_X8, KERN_T_Q4_0, KERN_T_Q8_0, {32, 5 * 32, 80 * 32}},
    {KERN_T_Q5_0_X8, KERN_T_Q5_0, KERN_T_Q8_0, {32, 7 * 32, 70 * 32}},
    {KERN_T_Q8_0_X8, KERN_T_Q8_0, KERN_T_Q8_0, {32, 9 * 32, 72 * 32}},
    {KERN_T_Q4_K_X8, KERN_T_Q4_K, KERN_T_Q8_K, {256, 3 * 256, 9 * 256}},
    {KERN_T_Q6_K_X8, KERN_T_Q6_K, KERN_T_Q8_K, {256, 2 * 256, 11 * 256}},
    {KERN_T_Q5_K_X8, KERN_T_Q5_K, KERN_T_Q8_K, {256, 4 * 256, 9 * 256}},
};
#define PK_NTYPES (sizeof PK_TYPES / sizeof PK_TYPES[0])

/* nrows rows of type of ncols (row bytes wrb) from random data with a spread of magnitudes. */
static void pk_weights(struct pk_rng *r, uint32_t type, int64_t ncols, int nrows, uint8_t *w,
                       size_t wrb)
{
    float *x = mem_alloc((size_t)ncols * sizeof(float));
    ASSERT(x != NULL);
    for (int i = 0; i < nrows; i++) {
        float sc = 0.01f + 0.2f * (float)(i % 5);
        for (int64_t j = 0; j < ncols; j++)
            x[j] = pk_rand(r) * sc + (j % 37 == 0 ? 0.3f : 0.0f);
        ASSERT_OK(kern_quantize_weights(type, x, w + (size_t)i * wrb, ncols));
    }
    mem_free(x);
}

static void pk_round_trip(const struct pk_type *pt)
{
    const int64_t ncols = pt->widths[1];
    size_t wrb = kern_row_bytes(pt->base, ncols), prb = kern_row_bytes(pt->ptype, ncols);
    struct pk_rng r = {77};
    uint8_t *w = mem_alloc(wrb * PK_ROWS), *p = mem_alloc(prb * PK_ROWS), *row = mem_alloc(wrb);
    ASSERT(w && p && row);
    ASSERT(prb >= wrb);
    ASSERT_EQ_INT(kern_pack_rows(pt->ptype), 8);
    ASSERT_EQ_INT(kern_pack_rows(pt->base), 0);
    pk_weights(&r, pt->base, ncols, PK_ROWS, w, wrb);
    ASSERT_OK(kern_pack(pt->ptype, w, wrb, ncols, PK_ROWS, p));
    for (int i = 0; i < PK_ROWS; i++) {
        memset(row, 0xAA, wrb);
        ASSERT_OK(kern_unpack_row(pt->ptype, p, prb, ncols, i, row));
        ASSERT(memcmp(row, w + (size_t)i * wrb, wrb) == 0);
    }
    /* refused: a row count that is not whole groups, a file type, short rows, bad widths */
    ASSERT(kern_pack(pt->ptype, w, wrb, ncols, 12, p) != 0);
    ASSERT(kern_pack(pt->base, w, wrb, ncols, 8, p) != 0);
    ASSERT(kern_pack(pt->ptype, w, wrb - 1, ncols, 8, p) != 0);
    ASSERT(kern_pack(pt->ptype, w, wrb, ncols + 1, 8, p) != 0);
    ASSERT(kern_unpack_row(pt->ptype, p, prb + 1, ncols, 0, row) != 0);
    ASSERT(kern_unpack_row(pt->ptype, p, prb, ncols, -1, row) != 0);
    /* never a file type, never offered for a matrix that is not whole groups */
    ASSERT_EQ_INT(kern_type_supported(pt->ptype), 0);
    for (int isa = KERN_ISA_SCALAR; isa <= KERN_ISA_AMX; isa++) {
        const struct kern *k = kern_get((enum kern_isa)isa);
        if (k && k->pack_type) {
            ASSERT_EQ_INT((int)k->pack_type(pt->base, ncols, 12), 0);
            ASSERT_EQ_INT((int)k->pack_type(pt->base, ncols + 1, 8), 0);
            uint32_t got = k->pack_type(pt->base, ncols, 8);
            ASSERT(got == 0 || got == pt->ptype);
        }
    }
    mem_free(w);
    mem_free(p);
    mem_free(row);
}

TEST(kern_pack_round_trip)
{
    for (size_t i = 0; i < PK_NTYPES; i++)
        pk_round_trip(&PK_TYPES[i]);
    ASSERT_EQ_INT((int)kern_row_bytes(KERN_T_Q4_K_X8, 256), 148);
    ASSERT_EQ_INT((int)kern_row_bytes(KERN_T_Q4_0_X8, 32), 18);
    ASSERT_EQ_INT((int)kern_row_bytes(KERN_T_Q5_0_X8, 32), 22);
    ASSERT_EQ_INT((int)kern_row_bytes(KERN_T_Q8_0_X8, 32), 34);
    ASSERT_EQ_INT((int)kern_row_bytes(KERN_T_Q6_K_X8, 256), 210);
    ASSERT_EQ_INT((int)kern_row_bytes(KERN_T_Q5_K_X8, 256), 180);
}

/* |w| . |x| of row rr and token tt, for the float-order tolerance. */
static double pk_abs_dot(const struct pk_type *pt, const uint8_t *wrow, const uint8_t *xrow,
                         int64_t ncols)
{
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    float *a = mem_alloc((size_t)ncols * 4), *b = mem_alloc((size_t)ncols * 4);
    ASSERT(a && b);
    rk->dequantize_row(pt->base, wrow, a, ncols);
    rk->dequantize_row(pt->act, xrow, b, ncols);
    double s = 0.0;
    for (int64_t i = 0; i < ncols; i++)
        s += fabs((double)a[i] * (double)b[i]);
    mem_free(a);
    mem_free(b);
    return s;
}

/* Every table with the packed type (plus the scalar one) against the scalar file-type product. */
static void pk_check_tables(const struct pk_type *pt, const uint8_t *w, size_t wrb,
                            const uint8_t *p, size_t prb, int64_t ncols, const uint8_t *xa,
                            size_t arb, int nt_max)
{
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    float *o1 = mem_alloc((size_t)nt_max * PK_ROWS * 4),
          *o2 = mem_alloc((size_t)nt_max * PK_ROWS * 4);
    ASSERT(o1 && o2);
    int checked = 0;
    for (int it = 0; it < 2 * (KERN_ISA_AMX + 1);
         it++) { /* each table, without and with prefetch */
        int isa = it % (KERN_ISA_AMX + 1);
        setenv("CORRAL_PREFETCH", it > KERN_ISA_AMX ? "1" : "0", 1);
        const struct kern *k = kern_get((enum kern_isa)isa);
        unsetenv("CORRAL_PREFETCH");
        if (!k || (isa != KERN_ISA_SCALAR &&
                   (!k->pack_type || k->pack_type(pt->base, ncols, PK_ROWS) != pt->ptype)))
            continue;
        checked++;
        for (int nt = 1; nt <= nt_max; nt++) {
            int64_t r0 = nt % 5, r1 = PK_ROWS - nt % 3 * 3;
            for (int i = 0; i < nt_max * PK_ROWS; i++)
                o1[i] = o2[i] = -12345.0f;
            rk->mul_mat(pt->base, w, wrb, ncols, r0, r1, xa, arb, nt, o1, PK_ROWS);
            k->mul_mat(pt->ptype, p, prb, ncols, r0, r1, xa, arb, nt, o2, PK_ROWS);
            for (int t = 0; t < nt_max; t++)
                for (int rr = 0; rr < PK_ROWS; rr++) {
                    float v1 = o1[t * PK_ROWS + rr], v2 = o2[t * PK_ROWS + rr];
                    if (t >= nt || rr < r0 || rr >= r1) {
                        ASSERT(v2 == -12345.0f);
                        continue;
                    }
                    double ad = pk_abs_dot(pt, w + (size_t)rr * wrb, xa + (size_t)t * arb, ncols);
                    double tol = (double)ncols * 1.2e-7 * ad + 1e-6;
                    if (fabs((double)v1 - (double)v2) > tol)
                        TEST_FAIL_(
                            "%s packed type %#x ncols %lld nt %d row %d tok %d: %.9g vs %.9g",
                            k->name, pt->ptype, (long long)ncols, nt, rr, t, (double)v2,
                            (double)v1);
                }
        }
    }
    ASSERT(checked >= 1);
    mem_free(o1);
    mem_free(o2);
}

TEST(kern_pack_mul_mat_matches_ref)
{
    enum { NT = 13 };
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    struct pk_rng r = {5};
    for (size_t ti = 0; ti < PK_NTYPES; ti++)
        for (size_t wi = 0; wi < 3; wi++) {
            const struct pk_type *pt = &PK_TYPES[ti];
            int64_t ncols = pt->widths[wi];
            size_t wrb = kern_row_bytes(pt->base, ncols), prb = kern_row_bytes(pt->ptype, ncols);
            size_t arb = kern_row_bytes(pt->act, ncols);
            uint8_t *w = mem_alloc(wrb * PK_ROWS), *p = mem_alloc(prb * PK_ROWS),
                    *xa = mem_alloc(arb * NT);
            float *x = mem_alloc((size_t)ncols * 4);
            ASSERT(w && p && xa && x);
            pk_weights(&r, pt->base, ncols, PK_ROWS, w, wrb);
            ASSERT_OK(kern_pack(pt->ptype, w, wrb, ncols, PK_ROWS, p));
            for (int t = 0; t < NT; t++) {
                for (int64_t j = 0; j < ncols; j++)
                    x[j] = pk_rand(&r) * (1.0f + (float)t);
                rk->quantize_row(pt->act, x, xa + (size_t)t * arb, ncols);
            }
            pk_check_tables(pt, w, wrb, p, prb, ncols, xa, arb, NT);
            mem_free(w);
            mem_free(p);
            mem_free(xa);
            mem_free(x);
        }
}

/* Q4_0 / Q5_0 / Q8_0 blocks with codes at their extremes. */
static void pk_extreme_b32(uint32_t base, uint8_t *w, int nblocks)
{
    for (int i = 0; i < nblocks; i++) {
        uint8_t pat = i % 3 ? 0xFF : 0x0F;
        if (base == KERN_T_Q8_0) {
            struct kern_bq8_0 *b = (struct kern_bq8_0 *)w + i;
            b->d = kern_f32_to_fp16(1.0f / 16);
            for (int j = 0; j < 32; j++)
                b->qs[j] = (int8_t)(i % 3 ? (j % 5 ? -128 : 127) : 127);
        } else if (base == KERN_T_Q4_0) {
            struct kern_bq4_0 *b = (struct kern_bq4_0 *)w + i;
            b->d = kern_f32_to_fp16(1.0f / 16);
            memset(b->qs, pat, sizeof b->qs);
        } else {
            struct kern_bq5_0 *b = (struct kern_bq5_0 *)w + i;
            b->d = kern_f32_to_fp16(1.0f / 16);
            memset(b->qs, pat, sizeof b->qs);
            memset(b->qh, i % 2 ? 0xFF : 0x0F, sizeof b->qh);
        }
    }
}

TEST(kern_pack_extreme_codes_b32)
{
    enum { NT = 5 };
    const int64_t ncols = 4 * 32;
    for (int ti = 0; ti < 3; ti++) { /* Q4_0, Q5_0, Q8_0 */
        const struct pk_type *pt = &PK_TYPES[ti];
        size_t wrb = kern_row_bytes(pt->base, ncols), prb = kern_row_bytes(pt->ptype, ncols);
        size_t arb = kern_row_bytes(KERN_T_Q8_0, ncols);
        uint8_t *w = mem_alloc(wrb * PK_ROWS), *p = mem_alloc(prb * PK_ROWS),
                *xa = mem_alloc(arb * NT);
        ASSERT(w && p && xa);
        pk_extreme_b32(pt->base, w, PK_ROWS * 4);
        for (int t = 0; t < NT; t++)
            for (int i = 0; i < 4; i++) {
                struct kern_bq8_0 *bx = (struct kern_bq8_0 *)(xa + (size_t)t * arb) + i;
                bx->d = kern_f32_to_fp16(1.0f / 128);
                /* Q8_0 weights take the sign trick, which needs activations > -128, as the
                 * activation quantizers write them (scale 127 / amax) */
                int lo = pt->base == KERN_T_Q8_0 ? -127 : -128;
                for (int j = 0; j < 32; j++)
                    bx->qs[j] = (int8_t)(t % 2 ? lo : (j % 7 ? 127 : lo));
            }
        ASSERT_OK(kern_pack(pt->ptype, w, wrb, ncols, PK_ROWS, p));
        pk_check_tables(pt, w, wrb, p, prb, ncols, xa, arb, NT);
        mem_free(w);
        mem_free(p);
        mem_free(xa);
    }
}

/* Q4_K / Q5_K super-blocks with every scale and min 63 and codes at their largest. */
static void pk_extreme_k(uint32_t base, uint8_t *w, int nblocks)
{
    for (int i = 0; i < nblocks; i++) {
        uint8_t *scales, *qs;
        uint16_t d = kern_f32_to_fp16(1.0f / 64), dmin = kern_f32_to_fp16(i % 2 ? 1.0f / 32 : 0.0f);
        if (base == KERN_T_Q4_K) {
            struct kern_bq4_k *b = (struct kern_bq4_k *)w + i;
            b->d = d;
            b->dmin = dmin;
            scales = b->scales;
            qs = b->qs;
        } else {
            struct kern_bq5_k *b = (struct kern_bq5_k *)w + i;
            b->d = d;
            b->dmin = dmin;
            scales = b->scales;
            qs = b->qs;
            memset(b->qh, i % 3 ? 0xFF : 0x5A, sizeof b->qh);
        }
        memset(scales, 0xFF, 12);
        memset(qs, i % 3 ? 0xFF : 0xF0, 128);
    }
}

TEST(kern_pack_extreme_codes)
{
    enum { NT = 5 };
    const int64_t ncols = 2 * 256;
    for (int q5 = 0; q5 < 2; q5++) {
        const struct pk_type *pt = &PK_TYPES[q5 ? 5 : 3];
        size_t wrb = kern_row_bytes(pt->base, ncols), prb = kern_row_bytes(pt->ptype, ncols);
        size_t arb = kern_row_bytes(KERN_T_Q8_K, ncols);
        uint8_t *w = mem_alloc(wrb * PK_ROWS), *p = mem_alloc(prb * PK_ROWS),
                *xa = mem_alloc(arb * NT);
        ASSERT(w && p && xa);
        pk_extreme_k(pt->base, w, PK_ROWS * 2);
        for (int t = 0; t < NT; t++)
            for (int i = 0; i < 2; i++) {
                struct kern_bq8_k *bx = (struct kern_bq8_k *)(xa + (size_t)t * arb) + i;
                bx->d = 1.0f / 128;
                for (int j = 0; j < 256; j++)
                    bx->qs[j] = (int8_t)(t % 2 ? -128 : (j % 7 ? 127 : -128));
                for (int j = 0; j < 16; j++) {
                    int s = 0;
                    for (int e = 0; e < 16; e++)
                        s += bx->qs[16 * j + e];
                    bx->bsums[j] = (int16_t)s;
                }
            }
        ASSERT_OK(kern_pack(pt->ptype, w, wrb, ncols, PK_ROWS, p));
        pk_check_tables(pt, w, wrb, p, prb, ncols, xa, arb, NT);
        mem_free(w);
        mem_free(p);
        mem_free(xa);
    }
}

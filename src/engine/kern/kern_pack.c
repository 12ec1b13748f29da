/*
 * kern_pack.c - packed weight types: a file type's rows regrouped once at load so that a table's
 * kernels multiply them faster (kern.h kern_pack, struct kern pack_type).
 *
 * Q4_K_X8 (layout in kern_int.h): 8 rows of Q4_K per super-block, codes interleaved in 4-byte
 * groups of the 8 rows, scales and mins unpacked to bytes.  The AVX2 kernel then broadcasts 4
 * activation bytes against 32 weight bytes (4 codes of 8 rows) and sums each row in its own lane:
 * no horizontal sums, and the 16-bit products of a whole sub-block are added before the one
 * multiply by the rows' scales (a row kernel needs one per 32 products per token).  The packed
 * block is 1184 bytes per 8 rows against 1152 (the scales as bytes).
 *
 * Owns nothing; pure functions of their arguments.  Packing is exact: kern_unpack_row returns
 * the bytes that were packed, and the scalar product below multiplies the unpacked rows with the
 * reference dot, so it is the truth the packed kernels are tested against.
 */
#include "engine/kern/kern_int.h"

#include "common/err.h"

#define PACK_ROWS 8

uint32_t kern__pack_base(uint32_t ptype)
{
    return ptype == KERN_T_Q4_K_X8 ? KERN_T_Q4_K : 0;
}

int kern_pack_rows(uint32_t ptype)
{
    return kern__pack_base(ptype) ? PACK_ROWS : 0;
}

/* Code k (0..255) of a Q4_K super-block: chunk k/64 holds two sub-blocks in its low and high
 * nibbles. */
static uint8_t q4k_code(const struct kern_bq4_k *b, int k)
{
    uint8_t v = b->qs[32 * (k / 64) + k % 32];
    return (k % 64) < 32 ? (v & 15) : (uint8_t)(v >> 4);
}

/* Super-block i of the 8 rows rows[r] into one packed block. */
static void pack_q4k(const struct kern_bq4_k *const *rows, int64_t i, struct kern_bq4_kx8 *p)
{
    for (int r = 0; r < PACK_ROWS; r++) {
        const struct kern_bq4_k *b = rows[r] + i;
        p->d[r] = b->d;
        p->dmin[r] = b->dmin;
        for (int s = 0; s < 8; s++) {
            uint8_t sc, m;
            kern__scale_min_k4(s, b->scales, &sc, &m);
            p->sc[8 * s + r] = sc;
            p->mn[16 * (s / 2) + 2 * r + s % 2] = m;
        }
        for (int s = 0; s < 8; s++)
            for (int g = 0; g < 4; g++)
                for (int e = 0; e < 4; e++) {
                    int k = 32 * s + 4 * g + e;
                    p->qs[128 * s + 32 * g + 4 * r + e] =
                        (uint8_t)(q4k_code(b, k) | q4k_code(b, k + 16) << 4);
                }
    }
}

/* Row r (0..7) of a packed block back into a Q4_K super-block. */
static void unpack_q4k(const struct kern_bq4_kx8 *p, int r, struct kern_bq4_k *b)
{
    uint8_t sc[8], m[8];
    for (int s = 0; s < 8; s++) {
        sc[s] = p->sc[8 * s + r];
        m[s] = p->mn[16 * (s / 2) + 2 * r + s % 2];
    }
    b->d = p->d[r];
    b->dmin = p->dmin[r];
    memset(b->scales, 0, sizeof b->scales);
    for (int j = 0; j < 4; j++) {
        b->scales[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        b->scales[j + 4] = (uint8_t)((m[j] & 63) | (m[j + 4] >> 4) << 6);
        b->scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
    memset(b->qs, 0, sizeof b->qs);
    for (int s = 0; s < 8; s++)
        for (int g = 0; g < 4; g++)
            for (int e = 0; e < 4; e++) {
                uint8_t v = p->qs[128 * s + 32 * g + 4 * r + e];
                for (int h = 0; h < 2; h++) {
                    int k = 32 * s + 4 * g + e + 16 * h;
                    uint8_t c = h ? (uint8_t)(v >> 4) : (v & 15);
                    b->qs[32 * (k / 64) + k % 32] |= (k % 64) < 32 ? c : (uint8_t)(c << 4);
                }
            }
}

int kern_pack(uint32_t ptype, const void *w, size_t w_row_bytes, int64_t ncols, int64_t nrows,
              void *dst)
{
    if (ptype != KERN_T_Q4_K_X8 || ncols <= 0 || ncols % KERN_QK_K != 0 || nrows < 0 ||
        nrows % PACK_ROWS != 0 || w_row_bytes < kern_row_bytes(KERN_T_Q4_K, ncols))
        return E_INVAL;
    int64_t nbk = ncols / KERN_QK_K;
    struct kern_bq4_kx8 *p = dst;
    for (int64_t r0 = 0; r0 < nrows; r0 += PACK_ROWS) {
        const struct kern_bq4_k *rows[PACK_ROWS];
        for (int r = 0; r < PACK_ROWS; r++)
            rows[r] = (const void *)((const uint8_t *)w + (size_t)(r0 + r) * w_row_bytes);
        for (int64_t i = 0; i < nbk; i++)
            pack_q4k(rows, i, p++);
    }
    return 0;
}

int kern_unpack_row(uint32_t ptype, const void *p, size_t p_row_bytes, int64_t ncols, int64_t r,
                    void *dst)
{
    if (ptype != KERN_T_Q4_K_X8 || ncols <= 0 || ncols % KERN_QK_K != 0 || r < 0 ||
        p_row_bytes != kern_row_bytes(KERN_T_Q4_K_X8, ncols))
        return E_INVAL;
    int64_t nbk = ncols / KERN_QK_K;
    const struct kern_bq4_kx8 *g =
        (const void *)((const uint8_t *)p + (size_t)(r / PACK_ROWS) * PACK_ROWS * p_row_bytes);
    struct kern_bq4_k *b = dst;
    for (int64_t i = 0; i < nbk; i++)
        unpack_q4k(g + i, (int)(r % PACK_ROWS), b + i);
    return 0;
}

void kern__ref_mul_mat_packed(uint32_t ptype, const void *w, size_t w_row_bytes, int64_t ncols,
                              int64_t r0, int64_t r1, const void *x, size_t x_row_bytes, int nt,
                              float *out, int64_t ldo)
{
    uint32_t base = kern__pack_base(ptype);
    struct kern_bq4_k row[64]; /* up to 16384 columns per call of the unpacker */
    const uint8_t *xb = x;
    int64_t nbk = ncols / KERN_QK_K;
    for (int64_t r = r0; r < r1; r++)
        for (int t = 0; t < nt; t++) {
            float s = 0.0f;
            for (int64_t c = 0; c < nbk; c += 64) {
                int64_t n = nbk - c < 64 ? nbk - c : 64;
                const struct kern_bq4_kx8 *g =
                    (const void *)((const uint8_t *)w +
                                   (size_t)(r / PACK_ROWS) * PACK_ROWS * w_row_bytes);
                for (int64_t i = 0; i < n; i++)
                    unpack_q4k(g + c + i, (int)(r % PACK_ROWS), row + i);
                const uint8_t *xt =
                    xb + (size_t)t * x_row_bytes + (size_t)c * sizeof(struct kern_bq8_k);
                s += kern__ref_vec_dot(base, n * KERN_QK_K, row, xt);
            }
            out[(int64_t)t * ldo + r] = s;
        }
}

/*
 * kern_pack.c - packed weight types: a file type's rows regrouped once at load so that a table's
 * kernels multiply them faster (kern.h kern_pack, struct kern pack_type).
 *
 * The _X8 types (layouts in kern_int.h) hold 8 rows per block, codes interleaved in 4-byte groups
 * of the 8 rows.  The AVX2 kernels then broadcast 4 activation bytes against 32 weight bytes (4
 * codes of 8 rows) and sum each row in its own lane: no horizontal sums, and the 16-bit products
 * of a whole (sub-)block are added before one multiply by the rows' scales.  Q4_0_X8/Q5_0_X8 are
 * exactly as large as the rows they hold; Q4_K_X8 is 1184 bytes per 8 rows against 1152 (its
 * scales and mins unpacked to bytes).
 *
 * Owns nothing; pure functions of their arguments.  Packing is exact: kern_unpack_row returns
 * the bytes that were packed, and the scalar product below multiplies the unpacked rows with the
 * reference dot, so it is the truth the packed kernels are tested against.
 */
#include "engine/kern/kern_int.h"

#include "common/err.h"

#define PACK_ROWS  8
#define PACK_CHUNK 64 /* blocks of one row unpacked at a time by the scalar product */

/* One packed type: its file type, block facts, and the per-block converters.  pack: block i of
 * the 8 rows rows[r] into the packed block p; unpack: row r of packed block p into file block b. */
struct pack_desc {
    uint32_t ptype, base;
    int64_t elems; /* elements per block */
    size_t bbytes; /* bytes of a file block */
    size_t pbytes; /* bytes of a packed block (8 rows) */
    void (*pack)(const uint8_t *const *rows, int64_t i, uint8_t *p);
    void (*unpack)(const uint8_t *p, int r, uint8_t *b);
};

/* ---- Q4_0 / Q5_0 ---- */

/* Byte 4g+e of a Q4_0/Q5_0 qs already holds element 4g+e (low) and 16+4g+e (high). */
static void b32_pack_qs(const uint8_t *qs, int r, uint8_t *pqs)
{
    for (int g = 0; g < 4; g++)
        memcpy(pqs + 32 * g + 4 * r, qs + 4 * g, 4);
}

static void b32_unpack_qs(const uint8_t *pqs, int r, uint8_t *qs)
{
    for (int g = 0; g < 4; g++)
        memcpy(qs + 4 * g, pqs + 32 * g + 4 * r, 4);
}

static void pack_q4_0(const uint8_t *const *rows, int64_t i, uint8_t *p)
{
    struct kern_bq4_0x8 *o = (struct kern_bq4_0x8 *)p;
    for (int r = 0; r < PACK_ROWS; r++) {
        const struct kern_bq4_0 *b = (const struct kern_bq4_0 *)rows[r] + i;
        o->d[r] = b->d;
        b32_pack_qs(b->qs, r, o->qs);
    }
}

static void unpack_q4_0(const uint8_t *p, int r, uint8_t *out)
{
    const struct kern_bq4_0x8 *o = (const struct kern_bq4_0x8 *)p;
    struct kern_bq4_0 *b = (struct kern_bq4_0 *)out;
    b->d = o->d[r];
    b32_unpack_qs(o->qs, r, b->qs);
}

static void pack_q5_0(const uint8_t *const *rows, int64_t i, uint8_t *p)
{
    struct kern_bq5_0x8 *o = (struct kern_bq5_0x8 *)p;
    for (int r = 0; r < PACK_ROWS; r++) {
        const struct kern_bq5_0 *b = (const struct kern_bq5_0 *)rows[r] + i;
        uint32_t qh;
        memcpy(&qh, b->qh, 4);
        o->d[r] = b->d;
        b32_pack_qs(b->qs, r, o->qs);
        for (int e = 0; e < 4; e++) {
            uint8_t v = 0;
            for (int g = 0; g < 4; g++)
                v |= (uint8_t)(((qh >> (4 * g + e)) & 1) << g | ((qh >> (16 + 4 * g + e)) & 1)
                                                                    << (4 + g));
            o->qh[4 * r + e] = v;
        }
    }
}

static void unpack_q5_0(const uint8_t *p, int r, uint8_t *out)
{
    const struct kern_bq5_0x8 *o = (const struct kern_bq5_0x8 *)p;
    struct kern_bq5_0 *b = (struct kern_bq5_0 *)out;
    uint32_t qh = 0;
    b->d = o->d[r];
    b32_unpack_qs(o->qs, r, b->qs);
    for (int e = 0; e < 4; e++)
        for (int g = 0; g < 4; g++) {
            uint8_t v = o->qh[4 * r + e];
            qh |= (uint32_t)((v >> g) & 1) << (4 * g + e);
            qh |= (uint32_t)((v >> (4 + g)) & 1) << (16 + 4 * g + e);
        }
    memcpy(b->qh, &qh, 4);
}

static void pack_q8_0(const uint8_t *const *rows, int64_t i, uint8_t *p)
{
    struct kern_bq8_0x8 *o = (struct kern_bq8_0x8 *)p;
    for (int r = 0; r < PACK_ROWS; r++) {
        const struct kern_bq8_0 *b = (const struct kern_bq8_0 *)rows[r] + i;
        o->d[r] = b->d;
        for (int g = 0; g < 8; g++)
            memcpy(o->qs + 32 * g + 4 * r, b->qs + 4 * g, 4);
    }
}

static void unpack_q8_0(const uint8_t *p, int r, uint8_t *out)
{
    const struct kern_bq8_0x8 *o = (const struct kern_bq8_0x8 *)p;
    struct kern_bq8_0 *b = (struct kern_bq8_0 *)out;
    b->d = o->d[r];
    for (int g = 0; g < 8; g++)
        memcpy(b->qs + 4 * g, o->qs + 32 * g + 4 * r, 4);
}

/* ---- Q4_K ---- */

/* The fields Q4_K_X8 and Q5_K_X8 share for row r of b: head = their first 160 bytes (d[8],
 * dmin[8], sc[64], mn[64]), pqs = their 4-bit codes. */
#define K4_SC 32 /* offsets in head */
#define K4_MN 96
static void pack_k4_row(const struct kern_bq4_k *b, int r, uint8_t *head, uint8_t *pqs)
{
    uint8_t *sc = head + K4_SC, *mn = head + K4_MN;
    memcpy(head + 2 * r, &b->d, 2);
    memcpy(head + 16 + 2 * r, &b->dmin, 2);
    for (int s = 0; s < 8; s++) {
        uint8_t v, m;
        kern__scale_min_k4(s, b->scales, &v, &m);
        sc[8 * s + r] = v;
        mn[16 * (s / 2) + 2 * r + s % 2] = m;
    }
    /* sub-block s is the low (even s) or high nibbles of chunk s/2 */
    for (int s = 0; s < 8; s++) {
        const uint8_t *q = b->qs + 32 * (s / 2);
        for (int l = 0; l < 16; l++) {
            uint8_t a = q[l], c = q[l + 16];
            pqs[128 * s + 32 * (l / 4) + 4 * r + l % 4] =
                (s & 1) ? (uint8_t)((a >> 4) | (c & 0xf0)) : (uint8_t)((a & 15) | c << 4);
        }
    }
}

static void pack_q4k(const uint8_t *const *rows, int64_t i, uint8_t *pb)
{
    struct kern_bq4_kx8 *p = (struct kern_bq4_kx8 *)pb;
    for (int r = 0; r < PACK_ROWS; r++)
        pack_k4_row((const struct kern_bq4_k *)rows[r] + i, r, pb, p->qs);
}

/* Row r's shared fields of a Q4_K_X8 / Q5_K_X8 block (head, pqs as for pack_k4_row) into a Q4_K
 * block (d, dmin, scales, qs). */
static void unpack_k4_row(const uint8_t *head, const uint8_t *pqs, int r, struct kern_bq4_k *b)
{
    uint8_t sc[8], m[8];
    for (int s = 0; s < 8; s++) {
        sc[s] = head[K4_SC + 8 * s + r];
        m[s] = head[K4_MN + 16 * (s / 2) + 2 * r + s % 2];
    }
    memcpy(&b->d, head + 2 * r, 2);
    memcpy(&b->dmin, head + 16 + 2 * r, 2);
    for (int j = 0; j < 4; j++) {
        b->scales[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        b->scales[j + 4] = (uint8_t)((m[j] & 63) | (m[j + 4] >> 4) << 6);
        b->scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
    memset(b->qs, 0, sizeof b->qs);
    for (int s = 0; s < 8; s++)
        for (int l = 0; l < 16; l++) {
            uint8_t v = pqs[128 * s + 32 * (l / 4) + 4 * r + l % 4];
            uint8_t *q = b->qs + 32 * (s / 2);
            if (s & 1) {
                q[l] |= (uint8_t)(v << 4);
                q[l + 16] |= (uint8_t)(v & 0xf0);
            } else {
                q[l] |= v & 15;
                q[l + 16] |= (uint8_t)(v >> 4);
            }
        }
}

static void unpack_q4k(const uint8_t *pb, int r, uint8_t *out)
{
    const struct kern_bq4_kx8 *p = (const struct kern_bq4_kx8 *)pb;
    unpack_k4_row(pb, p->qs, r, (struct kern_bq4_k *)out);
}

/* ---- Q5_K: Q4_K's fields plus the fifth bits ---- */

static void pack_q5k(const uint8_t *const *rows, int64_t i, uint8_t *pb)
{
    struct kern_bq5_kx8 *p = (struct kern_bq5_kx8 *)pb;
    for (int r = 0; r < PACK_ROWS; r++) {
        const struct kern_bq5_k *b = (const struct kern_bq5_k *)rows[r] + i;
        struct kern_bq4_k b4;
        b4.d = b->d;
        b4.dmin = b->dmin;
        memcpy(b4.scales, b->scales, sizeof b4.scales);
        memcpy(b4.qs, b->qs, sizeof b4.qs);
        pack_k4_row(&b4, r, pb, p->qs);
        /* fifth bit of element k: bit k/32 of qh[k % 32] */
        for (int s = 0; s < 8; s++)
            for (int e = 0; e < 4; e++) {
                uint8_t v = 0;
                for (int g = 0; g < 4; g++)
                    v |= (uint8_t)(((b->qh[4 * g + e] >> s) & 1) << g |
                                   ((b->qh[16 + 4 * g + e] >> s) & 1) << (4 + g));
                p->qh[32 * s + 4 * r + e] = v;
            }
    }
}

static void unpack_q5k(const uint8_t *pb, int r, uint8_t *out)
{
    const struct kern_bq5_kx8 *p = (const struct kern_bq5_kx8 *)pb;
    struct kern_bq5_k *b = (struct kern_bq5_k *)out;
    struct kern_bq4_k b4;
    unpack_k4_row(pb, p->qs, r, &b4);
    b->d = b4.d;
    b->dmin = b4.dmin;
    memcpy(b->scales, b4.scales, sizeof b->scales);
    memcpy(b->qs, b4.qs, sizeof b->qs);
    memset(b->qh, 0, sizeof b->qh);
    for (int s = 0; s < 8; s++)
        for (int e = 0; e < 4; e++) {
            uint8_t v = p->qh[32 * s + 4 * r + e];
            for (int g = 0; g < 4; g++) {
                b->qh[4 * g + e] |= (uint8_t)(((v >> g) & 1) << s);
                b->qh[16 + 4 * g + e] |= (uint8_t)(((v >> (4 + g)) & 1) << s);
            }
        }
}

/* ---- Q6_K ---- */

/* Sets unsigned 6-bit code k (0..255) of a zeroed Q6_K super-block (the element is code - 32). */
static void q6k_set_code(struct kern_bq6_k *b, int k, uint8_t c)
{
    int half = k / 128, kk = k % 128, q = kk / 32, l = kk % 32;
    uint8_t *ql = b->ql + 64 * half + ((q & 1) ? l + 32 : l), *qh = b->qh + 32 * half + l;
    *ql |= (q & 2) ? (uint8_t)((c & 15) << 4) : (c & 15);
    *qh |= (uint8_t)((c >> 4) << (2 * q));
}

static void pack_q6k(const uint8_t *const *rows, int64_t i, uint8_t *pb)
{
    struct kern_bq6_kx8 *p = (struct kern_bq6_kx8 *)pb;
    memset(p->qs, 0, sizeof p->qs);
    for (int r = 0; r < PACK_ROWS; r++) {
        const struct kern_bq6_k *b = (const struct kern_bq6_k *)rows[r] + i;
        p->d[r] = b->d;
        for (int j = 0; j < 16; j++)
            p->sc[16 * (j / 2) + 2 * r + j % 2] = b->scales[j];
        /* span m: elements l (0..31) of quarter m%4 of half m/4: low bits in the low (m%4 < 2)
         * or high nibbles of ql[l] (m%4 even) or ql[l + 32] (odd), top bits at 2 (m%4) in qh[l] */
        for (int m = 0; m < 8; m++) {
            int qq = m % 4;
            const uint8_t *ql = b->ql + 64 * (m / 4) + ((qq & 1) ? 32 : 0),
                          *qh = b->qh + 32 * (m / 4);
            uint8_t *q = p->qs + 192 * m;
            for (int l = 0; l < 16; l++) {
                uint8_t a = ql[l], c = ql[l + 16];
                uint8_t lo =
                    (qq & 2) ? (uint8_t)((a >> 4) | (c & 0xf0)) : (uint8_t)((a & 15) | c << 4);
                int g = l / 4, e = l % 4;
                q[32 * g + 4 * r + e] = lo;
                q[128 + 4 * r + e] |= (uint8_t)(((qh[l] >> (2 * qq)) & 3) << (2 * g));
                q[160 + 4 * r + e] |= (uint8_t)(((qh[l + 16] >> (2 * qq)) & 3) << (2 * g));
            }
        }
    }
}

static void unpack_q6k(const uint8_t *pb, int r, uint8_t *out)
{
    const struct kern_bq6_kx8 *p = (const struct kern_bq6_kx8 *)pb;
    struct kern_bq6_k *b = (struct kern_bq6_k *)out;
    memset(b, 0, sizeof *b);
    b->d = p->d[r];
    for (int j = 0; j < 16; j++)
        b->scales[j] = p->sc[16 * (j / 2) + 2 * r + j % 2];
    for (int m = 0; m < 8; m++)
        for (int g = 0; g < 4; g++)
            for (int e = 0; e < 4; e++) {
                const uint8_t *q = p->qs + 192 * m;
                uint8_t v = q[32 * g + 4 * r + e];
                uint8_t h0 = (q[128 + 4 * r + e] >> (2 * g)) & 3;
                uint8_t h1 = (q[160 + 4 * r + e] >> (2 * g)) & 3;
                q6k_set_code(b, 32 * m + 4 * g + e, (uint8_t)((v & 15) | h0 << 4));
                q6k_set_code(b, 32 * m + 16 + 4 * g + e, (uint8_t)((v >> 4) | h1 << 4));
            }
}

static const struct pack_desc descs[] = {
    {KERN_T_Q4_0_X8, KERN_T_Q4_0, KERN_QK, sizeof(struct kern_bq4_0), sizeof(struct kern_bq4_0x8),
     pack_q4_0, unpack_q4_0},
    {KERN_T_Q5_0_X8, KERN_T_Q5_0, KERN_QK, sizeof(struct kern_bq5_0), sizeof(struct kern_bq5_0x8),
     pack_q5_0, unpack_q5_0},
    {KERN_T_Q8_0_X8, KERN_T_Q8_0, KERN_QK, sizeof(struct kern_bq8_0), sizeof(struct kern_bq8_0x8),
     pack_q8_0, unpack_q8_0},
    {KERN_T_Q4_K_X8, KERN_T_Q4_K, KERN_QK_K, sizeof(struct kern_bq4_k), sizeof(struct kern_bq4_kx8),
     pack_q4k, unpack_q4k},
    {KERN_T_Q5_K_X8, KERN_T_Q5_K, KERN_QK_K, sizeof(struct kern_bq5_k), sizeof(struct kern_bq5_kx8),
     pack_q5k, unpack_q5k},
    {KERN_T_Q6_K_X8, KERN_T_Q6_K, KERN_QK_K, sizeof(struct kern_bq6_k), sizeof(struct kern_bq6_kx8),
     pack_q6k, unpack_q6k},
};

static const struct pack_desc *desc(uint32_t ptype)
{
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++)
        if (descs[i].ptype == ptype)
            return &descs[i];
    return NULL;
}

uint32_t kern_pack_base(uint32_t ptype)
{
    const struct pack_desc *d = desc(ptype);
    return d ? d->base : 0;
}

int kern_pack_rows(uint32_t ptype)
{
    return desc(ptype) ? PACK_ROWS : 0;
}

int kern_pack(uint32_t ptype, const void *w, size_t w_row_bytes, int64_t ncols, int64_t nrows,
              void *dst)
{
    const struct pack_desc *d = desc(ptype);
    if (!d || ncols <= 0 || ncols % d->elems != 0 || nrows < 0 || nrows % PACK_ROWS != 0 ||
        w_row_bytes < kern_row_bytes(d->base, ncols))
        return E_INVAL;
    int64_t nb = ncols / d->elems;
    uint8_t *p = dst;
    for (int64_t r0 = 0; r0 < nrows; r0 += PACK_ROWS) {
        const uint8_t *rows[PACK_ROWS];
        for (int r = 0; r < PACK_ROWS; r++)
            rows[r] = (const uint8_t *)w + (size_t)(r0 + r) * w_row_bytes;
        for (int64_t i = 0; i < nb; i++, p += d->pbytes)
            d->pack(rows, i, p);
    }
    return 0;
}

/* Blocks [i0, i0 + n) of row r of a packed matrix into file blocks at out. */
static void unpack_blocks(const struct pack_desc *d, const void *p, size_t p_row_bytes, int64_t r,
                          int64_t i0, int64_t n, uint8_t *out)
{
    const uint8_t *g = (const uint8_t *)p + (size_t)(r / PACK_ROWS) * PACK_ROWS * p_row_bytes;
    for (int64_t i = 0; i < n; i++)
        d->unpack(g + (size_t)(i0 + i) * d->pbytes, (int)(r % PACK_ROWS),
                  out + (size_t)i * d->bbytes);
}

int kern_unpack_row(uint32_t ptype, const void *p, size_t p_row_bytes, int64_t ncols, int64_t r,
                    void *dst)
{
    const struct pack_desc *d = desc(ptype);
    if (!d || ncols <= 0 || ncols % d->elems != 0 || r < 0 ||
        p_row_bytes != kern_row_bytes(ptype, ncols))
        return E_INVAL;
    unpack_blocks(d, p, p_row_bytes, r, 0, ncols / d->elems, dst);
    return 0;
}

void kern__ref_mul_mat_packed(uint32_t ptype, const void *w, size_t w_row_bytes, int64_t ncols,
                              int64_t r0, int64_t r1, const void *x, size_t x_row_bytes, int nt,
                              float *out, int64_t ldo)
{
    const struct pack_desc *d = desc(ptype);
    uint8_t row[PACK_CHUNK * sizeof(struct kern_bq6_k)]; /* the largest file block */
    size_t xb_bytes = kern_type_block_bytes(kern__ref_vec_dot_type(d->base));
    int64_t nb = ncols / d->elems;
    for (int64_t r = r0; r < r1; r++)
        for (int t = 0; t < nt; t++) {
            float s = 0.0f;
            for (int64_t c = 0; c < nb; c += PACK_CHUNK) {
                int64_t n = nb - c < PACK_CHUNK ? nb - c : PACK_CHUNK;
                unpack_blocks(d, w, w_row_bytes, r, c, n, row);
                const uint8_t *xt =
                    (const uint8_t *)x + (size_t)t * x_row_bytes + (size_t)c * xb_bytes;
                s += kern__ref_vec_dot(d->base, n * d->elems, row, xt);
            }
            out[(int64_t)t * ldo + r] = s;
        }
}

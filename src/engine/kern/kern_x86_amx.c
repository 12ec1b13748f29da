/*
 * kern_x86_amx.c - Intel AMX (AMX-TILE + AMX-INT8) matrix products for prompt batches.
 *
 * The AMX table is the AVX-512 table with one change: mul_mat of a batch of at least
 * AMX_MIN_NT (8) tokens, for Q4_K, Q5_K, Q6_K, Q8_0, Q4_0 and Q5_0 weights, runs on the tile unit;
 * everything else (generation, other types) calls the AVX-512 functions unchanged (except that
 * Q8_0/Q4_0/Q5_0 have no prepared activations here, see amx_no_prep).  The packed forms of the
 * same types (kern_pack.c) run on the tiles too, decoded by pdec_* from their 8-row groups.
 *
 * Scheme.  C[token][row] = A[token][k] . B[k][row] with the activations as A (signed bytes,
 * read straight from the quantized rows: Q8_K / Q8_0 codes are contiguous per block, a tile
 * row is one token, the tile stride is the activation row stride) and the weights as B, which
 * the tile unit wants in "VNNI" form: row kk of B holds, for 16 weight rows, 4 consecutive
 * codes each.  16 weight rows x up to AMX_KC columns are decoded once per call into that form,
 * so every weight byte is decoded once per batch and reused by every 16-token group.  The codes
 * of Q8_0 / Q4_0 / Q5_0 and Q6_K's codes and scales come from 32- / 16-byte loads of each row
 * and an in-register dword transpose (tr8x16, tr4x16; a 16-lane gather costs about its 16
 * loads); the other scales, Q5_0's high bits and Q4_K / Q5_K from gathers of 4-byte groups
 * (there the transposes measured no faster); then the nibble / high-bit decode runs on whole
 * vectors.  The transposes leave the weight rows in lane order 0-3, 8-11, 4-7, 12-15
 * (AMX_LANE_ROW); gathers, scales and masks use the same order and the results are put back in
 * row order when stored.
 *
 * A tile product costs ~16 cycles whatever its K (measured), so products should be K = 64 and
 * the float work after them rare.  Q8_0/Q4_0/Q5_0 have a scale per 32-block: one product of
 * K = 32 per block, its 16x16 int32 result stored and scaled in AVX-512 floats (a vector holds
 * 16 weight rows of one token: the row scales are a vector, the token's scale a broadcast from
 * a table made once per chunk and token pass for all row groups), software pipelined so
 * that the scaling of one block runs while the tile unit computes the next two.  K-quants fold
 * the sub-block scales into the weights so a whole super-block accumulates in the tiles: Q4_K
 * q * sc with sc = 8 sh + sl as two byte matrices q * sh, q * sl (<= 105), Q6_K (q + 32) * sc
 * as 64 * hi (signed) + lo; 8 products of K = 64 per super-block give exactly the reference's
 * integer sum (8 C_h + C_l, 64 C_hi + C_lo), then the Q4_K min / Q6_K -32 term (a vpdpwssd of
 * the rows' scales with the token's bsums) and d * d_x once per super-block, as the reference
 * does.
 *
 * Tiles: 0,1 activations (A); 2,3 weights (B), alternating so a load never waits for a
 * product still reading its tile; 4,5 results (C); K-quants with two token groups: A 1 and C 6,7
 * for the second (amx_config).  Each call loads its own tile
 * configuration and releases the tiles at the end, so threads and signal handlers never see
 * a stale configuration.  Linux grants the tile state per process (arch_prctl, common/cpu.c);
 * kern_dispatch.c hands out this table only when that succeeded.
 */
#include "engine/kern/kern_int.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <limits.h>

#include "engine/kern/kern_avx_common.h"

#ifndef AMX_MIN_NT
#define AMX_MIN_NT 8 /* tokens from which mul_mat uses the tile unit (measured crossover) */
#endif
#define AMX_KC    2048         /* weight columns decoded per chunk (16 rows x 2048 bytes) */
#define AMX_BROWS (AMX_KC / 4) /* B-form rows of one chunk */
#define AMX_DXT   256          /* most tokens per pass of the 32-block types (scale table) */

/* Tile configuration, palette 1 (Intel SDM: LDTILECFG memory layout). */
struct KERN_PACKED amx_tcfg {
    uint8_t palette, start_row;
    uint8_t rsvd[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};
_Static_assert(sizeof(struct amx_tcfg) == 64, "tile config");

/* Per-call scratch (on the stack, ~130 KiB): the decoded weights of one chunk and their scales,
 * the 32-block types' activation scales of one chunk and token pass, the stored results of up
 * to 16 products, the float accumulators of up to 32 tokens. */
struct amx_work {
    uint8_t b[AMX_BROWS][64]; /* B form: row kk = codes 4kk..4kk+3 of 16 weight rows */
    union {
        uint8_t bh[AMX_BROWS][64]; /* K-quants: high part of q * sc (b holds the low bits) */
        float dxt[AMX_DXT / 16][AMX_KC / 32][16]; /* Q8_0 x: d of [t / 16][block][t % 16] */
    };
    __m512 sc[AMX_KC / 16];   /* per (sub-)block: row scale per lane (K-quants: the integer
                               * sub-block scale; Q8_0/Q4_0: d) */
    __m512i mn[AMX_KC / 32];  /* Q4_K: per sub-block the row min m twice (two int16) */
    __m512 dw[AMX_KC / 256];  /* K-quants: d per row */
    __m512 dmn[AMX_KC / 256]; /* Q4_K: -dmin per row */
    int32_t c[16][256];       /* stored 16x16 results */
    float acc[32][16];        /* [token][row] */
    const float (*dx)[16];    /* Q8_0 activation scales of the token group: [block][token] */
};

/* gcc's tile intrinsics are asm statements without memory operands: the compiler does not know
 * that _tile_stored writes memory nor that _tile_loadd reads it, so a read of stored results
 * could move before the store, and the decoded weights' stores after (or away from) the loads.
 * A compiler barrier after the stores and before the first loads of each routine orders them. */
#define AMX_FENCE() __asm__ volatile("" ::: "memory")

/* Loads a configuration for A tiles of ka bytes, B tiles of ka/4 rows x 64 bytes and C tiles.
 * pair 0: A 0,1 and C 4,5 of ntok rows, B 2,3 and 6,7 (products alternate between the B sets).
 * pair 1 (K-quants, 2 token groups of 16 share the B tiles): A 0 / C 4,5 for the first group
 * (min(ntok, 16) rows), A 1 / C 6,7 for the second (the rest), B 2,3. */
static void amx_config(int ntok, int ka, int pair)
{
    struct amx_tcfg c;
    int n0 = ntok < 16 ? ntok : 16, n1 = ntok > 16 ? ntok - 16 : n0;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 2; i++) {
        c.rows[i] = (uint8_t)(pair && i ? n1 : n0);
        c.colsb[i] = (uint16_t)ka;
        c.rows[2 + i] = (uint8_t)(ka / 4);
        c.colsb[2 + i] = 64;
        c.rows[4 + i] = (uint8_t)n0;
        c.colsb[4 + i] = 64;
        c.rows[6 + i] = (uint8_t)(pair ? n1 : ka / 4);
        c.colsb[6 + i] = 64;
    }
    /* not _tile_loadconfig: gcc's version declares a read of the first 8 bytes only, so the
     * compiler may drop or delay the stores to the rest; this operand is the whole struct */
    __asm__ volatile("ldtilecfg %0" ::"m"(c));
}

/* 4-byte groups at base + n * stride for lanes n < nr (others 0). */
AI __m512i gat(const uint8_t *base, __m512i idx, __mmask16 m)
{
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, base, 1);
}

/* The 16 weight rows of one decode: p[r] row r (rows past the matrix: its last row, read but
 * never stored), and for the gathers their offsets from p[0] in lane order and the lane mask. */
struct amx_rows {
    const uint8_t *p[16];
    __m512i idx;
    __mmask16 m;
};

/* Lane l of a decoded B row (and of every vector over weight rows) holds weight row
 * AMX_LANE_ROW(l): 128-bit lanes 1 and 2 swapped, the order the in-register transposes produce;
 * amx_unswap puts a vector back in row order (the swap is its own inverse). */
#define AMX_LANE_ROW(l) ((l) >= 4 && (l) < 8 ? (l) + 4 : (l) >= 8 && (l) < 12 ? (l)-4 : (l))
AI __m512 amx_unswap(__m512 v)
{
    return _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(3, 1, 2, 0));
}

/* Transposes 8 vectors x[r] = [row r's dwords 0-7 | row r + 8's dwords 0-7] into x[q] = dword q
 * of the 16 rows in lane order: 4x4 transposes inside 128-bit lanes, then one 128-bit shuffle
 * per output (no gathers: 16 plain 32-byte loads per 8 B rows). */
AI void tr8x16(__m512i x[8])
{
    __m512i u[4], v[4];
    for (int h = 0; h < 2; h++) {
        __m512i *y = x + 4 * h, *o = h ? v : u;
        __m512i t0 = _mm512_unpacklo_epi32(y[0], y[1]), t1 = _mm512_unpackhi_epi32(y[0], y[1]);
        __m512i t2 = _mm512_unpacklo_epi32(y[2], y[3]), t3 = _mm512_unpackhi_epi32(y[2], y[3]);
        o[0] = _mm512_unpacklo_epi64(t0, t2);
        o[1] = _mm512_unpackhi_epi64(t0, t2);
        o[2] = _mm512_unpacklo_epi64(t1, t3);
        o[3] = _mm512_unpackhi_epi64(t1, t3);
    }
    /* u[q]: rows 0-3 dword q, rows 0-3 dword q + 4, rows 8-11 dword q, rows 8-11 dword q + 4;
     * v[q] the same for rows 4-7 and 12-15 */
    for (int q = 0; q < 4; q++) {
        x[q] = _mm512_shuffle_i32x4(u[q], v[q], _MM_SHUFFLE(2, 0, 2, 0));
        x[q + 4] = _mm512_shuffle_i32x4(u[q], v[q], _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* 32 bytes at p[r] + off and p[r + 8] + off, r < 8, into the halves of x[r]. */
AI void ld8x32(__m512i x[8], const struct amx_rows *rw, size_t off)
{
    for (int r = 0; r < 8; r++)
        x[r] = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256((const void *)(rw->p[r] + off))),
            _mm256_loadu_si256((const void *)(rw->p[r + 8] + off)), 1);
}

/* fp16 in the low half of each lane -> float. */
AI __m512 lo_h2f(__m512i v)
{
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

AI __m512i nib_lo(__m512i v)
{
    return _mm512_and_si512(v, _mm512_set1_epi8(15));
}

AI __m512i nib_hi(__m512i v)
{
    return _mm512_and_si512(_mm512_srli_epi32(v, 4), _mm512_set1_epi8(15));
}

AI void st_b(struct amx_work *wk, int64_t kk, __m512i v)
{
    _mm512_store_si512(wk->b[kk], v);
}

/* Q4_K/Q5_K codes v (bytes < 32) times the two halves of the 6-bit sub-block scale sc = 8 sh + sl
 * (sh, sl < 8, in both words of each lane): one 16-bit multiply each, since q * 7 <= 217 never
 * carries into the next byte.  B rows of q * sl (b) and q * sh (bh). */
AI void scale_split(struct amx_work *wk, int64_t kk, __m512i v, __m512i sl, __m512i sh)
{
    _mm512_store_si512(wk->b[kk], _mm512_mullo_epi16(v, sl));
    _mm512_store_si512(wk->bh[kk], _mm512_mullo_epi16(v, sh));
}

/* 16 bytes at p[r] + off of the 16 rows as dwords 0-3 in lane order: x[q] lane l = dword q of
 * row AMX_LANE_ROW(l).  Each x[r], r < 4, gets rows r, r + 8, r + 4, r + 12 in its 128-bit
 * lanes, then a 4x4 dword transpose inside the lanes. */
AI void tr4x16(__m512i x[4], const struct amx_rows *rw, size_t off)
{
    for (int r = 0; r < 4; r++) {
        __m256i lo = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const void *)(rw->p[r] + off))),
            _mm_loadu_si128((const void *)(rw->p[r + 8] + off)), 1);
        __m256i hi = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const void *)(rw->p[r + 4] + off))),
            _mm_loadu_si128((const void *)(rw->p[r + 12] + off)), 1);
        x[r] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    __m512i t0 = _mm512_unpacklo_epi32(x[0], x[1]), t1 = _mm512_unpackhi_epi32(x[0], x[1]);
    __m512i t2 = _mm512_unpacklo_epi32(x[2], x[3]), t3 = _mm512_unpackhi_epi32(x[2], x[3]);
    x[0] = _mm512_unpacklo_epi64(t0, t2);
    x[1] = _mm512_unpackhi_epi64(t0, t2);
    x[2] = _mm512_unpacklo_epi64(t1, t3);
    x[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* ---- weight decode: super-blocks / blocks [c0, c0 + n) of 16 rows into wk ---- */

/* Q4_K (q5 0) and Q5_K (q5 1: qh[32] before the nibbles, bit 2c / 2c+1 of qh[l] the fifth bit
 * of element l of 64-chunk c's low / high half; q * 7 <= 217 still fits a byte). */
AI void dec_k45(struct amx_work *wk, const uint8_t *w, __m512i idx, __mmask16 m, int64_t c0,
                int64_t n, size_t bsz, int q5)
{
    const __m512i m3f = _mm512_set1_epi8(0x3f), m0f = _mm512_set1_epi8(15);
    const __m512i m30 = _mm512_set1_epi8(0x30), b0 = _mm512_set1_epi8(1);
    const int qs = q5 ? 48 : 16;
    for (int64_t s = 0; s < n; s++) {
        const uint8_t *bb = w + (size_t)(c0 + s) * bsz;
        __m512i dd = gat(bb, idx, m), u0 = gat(bb + 4, idx, m), u1 = gat(bb + 8, idx, m);
        __m512i u2 = gat(bb + 12, idx, m);
        __m512 d = lo_h2f(dd), dmin = lo_h2f(_mm512_srli_epi32(dd, 16));
        /* bytes: sc0-3, sc4-7, m0-3, m4-7 of each row (kern__scale_min_k4) */
        __m512i s03 = _mm512_and_si512(u0, m3f), m03 = _mm512_and_si512(u1, m3f);
        __m512i s47 = _mm512_or_si512(_mm512_and_si512(u2, m0f),
                                      _mm512_and_si512(_mm512_srli_epi32(u0, 2), m30));
        __m512i m47 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), m0f),
                                      _mm512_and_si512(_mm512_srli_epi32(u1, 2), m30));
        for (int j = 0; j < 8; j++) {
            __m512i sv = j < 4 ? s03 : s47, mv = j < 4 ? m03 : m47;
            int sh = 8 * (j & 3);
            __m512i sj = _mm512_and_si512(_mm512_srli_epi32(sv, sh), _mm512_set1_epi32(0xff));
            __m512i mj = _mm512_and_si512(_mm512_srli_epi32(mv, sh), _mm512_set1_epi32(0xff));
            wk->sc[8 * s + j] = _mm512_cvtepi32_ps(sj);
            wk->mn[8 * s + j] = _mm512_or_si512(mj, _mm512_slli_epi32(mj, 16));
        }
        wk->dw[s] = d;
        wk->dmn[s] = _mm512_sub_ps(_mm512_setzero_ps(), dmin);
        /* qs: 32 bytes per 64 elements, low nibbles first half, high second; each code times
         * its sub-block scale sc = 8 sh + sl as two byte matrices q * sl, q * sh (<= 105) */
        for (int c = 0; c < 4; c++) {
            __m512i s0 = _mm512_cvtps_epi32(wk->sc[8 * s + 2 * c]);
            __m512i s1 = _mm512_cvtps_epi32(wk->sc[8 * s + 2 * c + 1]);
            s0 = _mm512_or_si512(s0, _mm512_slli_epi32(s0, 16));
            s1 = _mm512_or_si512(s1, _mm512_slli_epi32(s1, 16));
            const __m512i m7 = _mm512_set1_epi16(7);
            __m512i l0 = _mm512_and_si512(s0, m7), h0 = _mm512_srli_epi16(s0, 3);
            __m512i l1 = _mm512_and_si512(s1, m7), h1 = _mm512_srli_epi16(s1, 3);
            for (int q = 0; q < 8; q++) {
                __m512i raw = gat(bb + qs + 32 * c + 4 * q, idx, m);
                __m512i lo = nib_lo(raw), hi = nib_hi(raw);
                if (q5) {
                    __m512i gh = gat(bb + 16 + 4 * q, idx, m);
                    __m512i h5 = _mm512_srl_epi32(gh, _mm_cvtsi32_si128(2 * c));
                    lo = _mm512_or_si512(lo, _mm512_slli_epi32(_mm512_and_si512(h5, b0), 4));
                    hi = _mm512_or_si512(
                        hi, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h5, 1), b0), 4));
                }
                int64_t kk = 64 * s + 16 * c + q;
                scale_split(wk, kk, lo, l0, h0);
                scale_split(wk, kk + 8, hi, l1, h1);
            }
        }
    }
}

static void dec_q4_k(struct amx_work *wk, const struct amx_rows *rw, int64_t c0, int64_t n)
{
    const uint8_t *w = rw->p[0];
    const __m512i idx = rw->idx;
    const __mmask16 m = rw->m;
    dec_k45(wk, w, idx, m, c0, n, sizeof(struct kern_bq4_k), 0);
}

static void dec_q5_k(struct amx_work *wk, const struct amx_rows *rw, int64_t c0, int64_t n)
{
    const uint8_t *w = rw->p[0];
    const __m512i idx = rw->idx;
    const __mmask16 m = rw->m;
    dec_k45(wk, w, idx, m, c0, n, sizeof(struct kern_bq5_k), 1);
}

/* Q6_K: codes u = q + 32 (0..63) times the signed sub-block scale (16 elements), split as
 * 64 * hi (signed) + lo (0..63); the -32 comes back through the bsums (mn: scale pairs). */
AI void scale_split6(struct amx_work *wk, int64_t kk, __m512i v, __m512i sc)
{
    const __m512i mw = _mm512_set1_epi32(0x00ff00ff), m63 = _mm512_set1_epi16(63);
    const __m512i mff = _mm512_set1_epi16(0xff);
    __m512i pe = _mm512_mullo_epi16(_mm512_and_si512(v, mw), sc);
    __m512i po = _mm512_mullo_epi16(_mm512_srli_epi16(v, 8), sc);
    __m512i lo =
        _mm512_or_si512(_mm512_and_si512(pe, m63), _mm512_slli_epi16(_mm512_and_si512(po, m63), 8));
    __m512i hi = _mm512_or_si512(_mm512_and_si512(_mm512_srai_epi16(pe, 6), mff),
                                 _mm512_slli_epi16(_mm512_srai_epi16(po, 6), 8));
    _mm512_store_si512(wk->b[kk], lo);
    _mm512_store_si512(wk->bh[kk], hi);
}

static void dec_q6_k(struct amx_work *wk, const struct amx_rows *rw, int64_t c0, int64_t n)
{
    const uint8_t *w = rw->p[0];
    const __m512i idx = rw->idx;
    const __mmask16 m = rw->m;
    const __m512i m30 = _mm512_set1_epi8(0x30), mlo = _mm512_set1_epi32(0xffff);
    for (int64_t s = 0; s < n; s++) {
        const size_t off = (size_t)(c0 + s) * sizeof(struct kern_bq6_k);
        /* d is the last 2 bytes of the 210: read the 4 ending there */
        wk->dw[s] = lo_h2f(_mm512_srli_epi32(gat(w + off + 206, idx, m), 16));
        __m512i sc[16], gs[4];
        tr4x16(gs, rw, off + 192); /* scales[16] */
        for (int q = 0; q < 4; q++) {
            __m512i g = gs[q];
            for (int i = 0; i < 4; i++) {
                __m512i si = _mm512_srai_epi32(_mm512_slli_epi32(g, 24 - 8 * i), 24);
                sc[4 * q + i] =
                    _mm512_or_si512(_mm512_and_si512(si, mlo), _mm512_slli_epi32(si, 16));
            }
        }
        for (int i = 0; i < 8; i++) /* (sc 2i, sc 2i+1) word pairs for the bsums */
            wk->mn[8 * s + i] = _mm512_or_si512(_mm512_and_si512(sc[2 * i], mlo),
                                                _mm512_slli_epi32(sc[2 * i + 1], 16));
        for (int h = 0; h < 2; h++) {
            /* ql[64 h .. 64 h + 63], qh[32 h .. 32 h + 31] of the 16 rows, 4 bytes per lane */
            __m512i xa[8], xb[8], xg[8];
            ld8x32(xa, rw, off + 64 * (size_t)h);
            tr8x16(xa);
            ld8x32(xb, rw, off + 64 * (size_t)h + 32);
            tr8x16(xb);
            ld8x32(xg, rw, off + 128 + 32 * (size_t)h);
            tr8x16(xg);
            for (int l4 = 0; l4 < 8; l4++) {
                __m512i ga = xa[l4], gb = xb[l4], gh = xg[l4];
                int64_t kk = 64 * s + 32 * h + l4;
                __m512i v0 =
                    _mm512_or_si512(nib_lo(ga), _mm512_and_si512(_mm512_slli_epi32(gh, 4), m30));
                __m512i v1 =
                    _mm512_or_si512(nib_lo(gb), _mm512_and_si512(_mm512_slli_epi32(gh, 2), m30));
                __m512i v2 = _mm512_or_si512(nib_hi(ga), _mm512_and_si512(gh, m30));
                __m512i v3 =
                    _mm512_or_si512(nib_hi(gb), _mm512_and_si512(_mm512_srli_epi32(gh, 2), m30));
                /* element 128h + 32k + 4 l4 is in sub-block 8h + 2k + l4 / 4 */
                int sb = 8 * h + l4 / 4;
                scale_split6(wk, kk, v0, sc[sb]);
                scale_split6(wk, kk + 8, v1, sc[sb + 2]);
                scale_split6(wk, kk + 16, v2, sc[sb + 4]);
                scale_split6(wk, kk + 24, v3, sc[sb + 6]);
            }
        }
    }
}

static void dec_q8_0(struct amx_work *wk, const struct amx_rows *rw, int64_t c0, int64_t n)
{
    for (int64_t b = 0; b < n; b++) {
        size_t off = (size_t)(c0 + b) * sizeof(struct kern_bq8_0);
        wk->sc[b] = lo_h2f(gat(rw->p[0] + off, rw->idx, rw->m));
        __m512i x[8];
        ld8x32(x, rw, off + 2);
        tr8x16(x);
        for (int q = 0; q < 8; q++)
            st_b(wk, 8 * b + q, x[q]);
    }
}

static void dec_q4_0(struct amx_work *wk, const struct amx_rows *rw, int64_t c0, int64_t n)
{
    const uint8_t *w = rw->p[0];
    const __m512i idx = rw->idx;
    const __mmask16 m = rw->m;
    const __m512i k8 = _mm512_set1_epi8(8);
    for (int64_t b = 0; b < n; b++) {
        size_t off = (size_t)(c0 + b) * sizeof(struct kern_bq4_0);
        wk->sc[b] = lo_h2f(gat(w + off, idx, m));
        __m512i x[4];
        tr4x16(x, rw, off + 2);
        for (int q = 0; q < 4; q++) {
            __m512i raw = x[q];
            st_b(wk, 8 * b + q, _mm512_sub_epi8(nib_lo(raw), k8));
            st_b(wk, 8 * b + 4 + q, _mm512_sub_epi8(nib_hi(raw), k8));
        }
    }
}

/* Q5_0: the Q4_0 nibbles with a fifth bit from qh (bit j: element j, bit 16 + j: element
 * 16 + j), minus 16.  Four bits of qh become bit 4 of four bytes by one multiply (the shifted
 * copies of a 4-bit value do not overlap, so nothing carries). */
AI __m512i qh4_to_bytes(__m512i qh, int sh)
{
    __m512i x = _mm512_and_si512(_mm512_srli_epi32(qh, (unsigned)sh), _mm512_set1_epi32(15));
    x = _mm512_and_si512(_mm512_mullo_epi32(x, _mm512_set1_epi32(0x00204081)),
                         _mm512_set1_epi32(0x01010101));
    return _mm512_slli_epi32(x, 4);
}

static void dec_q5_0(struct amx_work *wk, const struct amx_rows *rw, int64_t c0, int64_t n)
{
    const uint8_t *w = rw->p[0];
    const __m512i idx = rw->idx;
    const __mmask16 m = rw->m;
    const __m512i k16 = _mm512_set1_epi8(16);
    for (int64_t b = 0; b < n; b++) {
        size_t off = (size_t)(c0 + b) * sizeof(struct kern_bq5_0);
        const uint8_t *bb = w + off;
        wk->sc[b] = lo_h2f(gat(bb, idx, m));
        __m512i qh = gat(bb + 2, idx, m), x[4];
        tr4x16(x, rw, off + 6);
        for (int q = 0; q < 4; q++) {
            __m512i raw = x[q];
            __m512i lo = _mm512_or_si512(nib_lo(raw), qh4_to_bytes(qh, 4 * q));
            __m512i hi = _mm512_or_si512(nib_hi(raw), qh4_to_bytes(qh, 16 + 4 * q));
            st_b(wk, 8 * b + q, _mm512_sub_epi8(lo, k16));
            st_b(wk, 8 * b + 4 + q, _mm512_sub_epi8(hi, k16));
        }
    }
}

/* ---- weight decode from the packed types (kern_pack.c, layouts in kern_int.h) ----
 * A packed block holds 8 rows with their 4-byte groups side by side, so the B form's rows are
 * plain loads: 32 bytes of the first 8-row group (rows 0-7) and 32 of the second (8-15) make
 * one B row, put in lane order (AMX_LANE_ROW) by one permute.  g0 / g1: the two groups' first
 * block (g1 = g0 when the second is past the rows asked for: decoded, never stored). */

/* The 32 bytes at a (rows 0-7) and at b (rows 8-15) in lane order: dwords a 0-3, b 0-3, a 4-7,
 * b 4-7. */
AI __m512i pk_ld(const uint8_t *a, const uint8_t *b)
{
    __m512i va = _mm512_castsi256_si512(_mm256_loadu_si256((const void *)a));
    __m512i vb = _mm512_castsi256_si512(_mm256_loadu_si256((const void *)b));
    return _mm512_permutex2var_epi64(va, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), vb);
}

/* 8 words (2 bytes per row) at a and at b in lane order. */
AI __m256i pk_ld16(const uint8_t *a, const uint8_t *b)
{
    __m128i x = _mm_loadu_si128((const void *)a), y = _mm_loadu_si128((const void *)b);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi64(x, y)),
                                   _mm_unpackhi_epi64(x, y), 1);
}

/* 8 bytes (1 per row) at a and at b in lane order, zero-extended to dwords. */
AI __m512i pk_ld8(const uint8_t *a, const uint8_t *b)
{
    __m128i x = _mm_loadl_epi64((const void *)a), y = _mm_loadl_epi64((const void *)b);
    return _mm512_cvtepu8_epi32(_mm_unpacklo_epi32(x, y));
}

/* The 16 rows' fp16 scales (8 at a, 8 at b) as floats in lane order. */
AI __m512 pk_h2f(const uint8_t *a, const uint8_t *b)
{
    return _mm512_cvtph_ps(pk_ld16(a, b));
}

/* A 16-bit value per lane in both words. */
AI __m512i dup_w(__m512i v)
{
    return _mm512_or_si512(v, _mm512_slli_epi32(v, 16));
}

/* The fifth bits of group g into bit 4 of its low and high nibble codes (Q5_0_X8 / Q5_K_X8 qh
 * bytes in lane order: bit g for element 4g + e, bit 4 + g for 16 + 4g + e). */
AI void pk_fifth(__m512i h, int g, __m512i *lo, __m512i *hi)
{
    const __m512i x10 = _mm512_set1_epi8(0x10);
    *lo = _mm512_or_si512(*lo, _mm512_and_si512(_mm512_slli_epi16(h, 4 - g), x10));
    *hi = _mm512_or_si512(*hi, _mm512_and_si512(_mm512_srli_epi16(h, g), x10));
}

static void pdec_q8_0(struct amx_work *wk, const uint8_t *g0, const uint8_t *g1, int64_t c0,
                      int64_t n)
{
    const struct kern_bq8_0x8 *a = (const void *)g0, *b = (const void *)g1;
    for (int64_t k = 0; k < n; k++) {
        const struct kern_bq8_0x8 *x = a + c0 + k, *y = b + c0 + k;
        wk->sc[k] = pk_h2f((const void *)x->d, (const void *)y->d);
        for (int q = 0; q < 8; q++)
            st_b(wk, 8 * k + q,
                 pk_ld((const void *)(x->qs + 32 * q), (const void *)(y->qs + 32 * q)));
    }
}

/* Q4_0_X8 (q5 0) / Q5_0_X8 (q5 1): nibbles of group q are elements 4q.. (low) and 16 + 4q..
 * (high); Q5_0's qh bit q / 4 + q of each byte their fifth bits. */
AI void pdec_b4(struct amx_work *wk, const uint8_t *g0, const uint8_t *g1, int64_t c0, int64_t n,
                int q5)
{
    const size_t bs = q5 ? sizeof(struct kern_bq5_0x8) : sizeof(struct kern_bq4_0x8);
    const __m512i off = _mm512_set1_epi8(q5 ? 16 : 8);
    for (int64_t k = 0; k < n; k++) {
        const uint8_t *x = g0 + (size_t)(c0 + k) * bs, *y = g1 + (size_t)(c0 + k) * bs;
        wk->sc[k] = pk_h2f(x, y);
        __m512i h = q5 ? pk_ld(x + 16, y + 16) : _mm512_setzero_si512();
        const size_t qo = q5 ? 48 : 16;
        for (int q = 0; q < 4; q++) {
            __m512i raw = pk_ld(x + qo + 32 * q, y + qo + 32 * q);
            __m512i lo = nib_lo(raw), hi = nib_hi(raw);
            if (q5)
                pk_fifth(h, q, &lo, &hi);
            st_b(wk, 8 * k + q, _mm512_sub_epi8(lo, off));
            st_b(wk, 8 * k + 4 + q, _mm512_sub_epi8(hi, off));
        }
    }
}

static void pdec_q4_0(struct amx_work *wk, const uint8_t *g0, const uint8_t *g1, int64_t c0,
                      int64_t n)
{
    pdec_b4(wk, g0, g1, c0, n, 0);
}

static void pdec_q5_0(struct amx_work *wk, const uint8_t *g0, const uint8_t *g1, int64_t c0,
                      int64_t n)
{
    pdec_b4(wk, g0, g1, c0, n, 1);
}

/* Q4_K_X8 (q5 0) / Q5_K_X8 (q5 1): the heads (d, dmin, sc, mn at the same offsets) into the
 * scale vectors of dec_k45; sub-block j's group g holds elements 32j + 4g.. (low nibbles) and
 * 32j + 16 + 4g.. (high), B rows 64s + 8j + g and + 4. */
AI void pdec_k45(struct amx_work *wk, const uint8_t *g0, const uint8_t *g1, int64_t c0, int64_t n,
                 int q5)
{
    const size_t bs = q5 ? sizeof(struct kern_bq5_kx8) : sizeof(struct kern_bq4_kx8);
    const size_t qo = offsetof(struct kern_bq4_kx8, qs) + (q5 ? 256 : 0), ho = qo - 256;
    const __m512i m7 = _mm512_set1_epi16(7);
    const __m512i mff = _mm512_set1_epi32(0xff);
    for (int64_t s = 0; s < n; s++) {
        const uint8_t *x = g0 + (size_t)(c0 + s) * bs, *y = g1 + (size_t)(c0 + s) * bs;
        wk->dw[s] = pk_h2f(x, y);
        wk->dmn[s] = _mm512_sub_ps(_mm512_setzero_ps(), pk_h2f(x + 16, y + 16));
        for (int k = 0; k < 4; k++) { /* mn: the min pairs of sub-blocks 2k, 2k + 1 */
            __m512i mw = _mm512_cvtepu16_epi32(pk_ld16(x + 96 + 16 * k, y + 96 + 16 * k));
            wk->mn[8 * s + 2 * k] = dup_w(_mm512_and_si512(mw, mff));
            wk->mn[8 * s + 2 * k + 1] = dup_w(_mm512_srli_epi32(mw, 8));
        }
        for (int j = 0; j < 8; j++) {
            __m512i sc = pk_ld8(x + 32 + 8 * j, y + 32 + 8 * j);
            wk->sc[8 * s + j] = _mm512_cvtepi32_ps(sc);
            sc = dup_w(sc);
            __m512i sl = _mm512_and_si512(sc, m7), sh = _mm512_srli_epi16(sc, 3);
            __m512i h5 = q5 ? pk_ld(x + ho + 32 * j, y + ho + 32 * j) : _mm512_setzero_si512();
            for (int g = 0; g < 4; g++) {
                __m512i raw = pk_ld(x + qo + 128 * j + 32 * g, y + qo + 128 * j + 32 * g);
                __m512i lo = nib_lo(raw), hi = nib_hi(raw);
                if (q5)
                    pk_fifth(h5, g, &lo, &hi);
                scale_split(wk, 64 * s + 8 * j + g, lo, sl, sh);
                scale_split(wk, 64 * s + 8 * j + 4 + g, hi, sl, sh);
            }
        }
    }
}

static void pdec_q4_k(struct amx_work *wk, const uint8_t *g0, const uint8_t *g1, int64_t c0,
                      int64_t n)
{
    pdec_k45(wk, g0, g1, c0, n, 0);
}

static void pdec_q5_k(struct amx_work *wk, const uint8_t *g0, const uint8_t *g1, int64_t c0,
                      int64_t n)
{
    pdec_k45(wk, g0, g1, c0, n, 1);
}

/* Bits 2g, 2g + 1 of each byte of v moved to bits 4, 5 (the top bits of a 6-bit code). */
AI __m512i q6_top(__m512i v, int g)
{
    const __m512i m30 = _mm512_set1_epi8(0x30);
    __m512i t = 2 * g <= 4 ? _mm512_slli_epi16(v, (unsigned)(4 - 2 * g))
                           : _mm512_srli_epi16(v, (unsigned)(2 * g - 4));
    return _mm512_and_si512(t, m30);
}

/* Q6_K_X8: span m (32 elements, sub-blocks 2m and 2m + 1) group g: low nibbles elements
 * 32m + 4g.. with their top bits in the span's first top-bit row, high nibbles 32m + 16 + 4g..
 * with the second; B rows 64s + 8m + g and + 4.  Scales and mn as dec_q6_k. */
static void pdec_q6_k(struct amx_work *wk, const uint8_t *g0, const uint8_t *g1, int64_t c0,
                      int64_t n)
{
    const __m512i mlo = _mm512_set1_epi32(0xffff);
    const size_t bs = sizeof(struct kern_bq6_kx8), qo = offsetof(struct kern_bq6_kx8, qs);
    for (int64_t s = 0; s < n; s++) {
        const uint8_t *x = g0 + (size_t)(c0 + s) * bs, *y = g1 + (size_t)(c0 + s) * bs;
        wk->dw[s] = pk_h2f(x, y);
        __m512i sc[16];
        for (int k = 0; k < 8; k++) { /* sc pairs of sub-blocks 2k, 2k + 1 as signed words */
            __m512i p = _mm512_cvtepi8_epi16(pk_ld16(x + 16 + 16 * k, y + 16 + 16 * k));
            wk->mn[8 * s + k] = p;
            sc[2 * k] = dup_w(_mm512_and_si512(p, mlo));
            sc[2 * k + 1] = dup_w(_mm512_srli_epi32(p, 16));
        }
        for (int m = 0; m < 8; m++) {
            const uint8_t *qx = x + qo + 192 * m, *qy = y + qo + 192 * m;
            __m512i t0 = pk_ld(qx + 128, qy + 128), t1 = pk_ld(qx + 160, qy + 160);
            for (int g = 0; g < 4; g++) {
                __m512i raw = pk_ld(qx + 32 * g, qy + 32 * g);
                int64_t kk = 64 * s + 8 * m + g;
                scale_split6(wk, kk, _mm512_or_si512(nib_lo(raw), q6_top(t0, g)), sc[2 * m]);
                scale_split6(wk, kk + 4, _mm512_or_si512(nib_hi(raw), q6_top(t1, g)),
                             sc[2 * m + 1]);
            }
        }
    }
}

/* ---- products and scaling of one 16-token group over one decoded chunk ---- */

/* Q4_K x Q8_K: super-blocks [c0, c0 + n); x points at the group's first token.  With the
 * sub-block scales inside the weights (q * sh in bh, q * sl in b) a super-block is 4 + 4
 * products of K = 64 accumulated in the tiles: isum = 8 * C_h + C_l, the reference's sum. */
/* The 8 (16 for two token groups) products of super-block s, results stored in c[0], c[1]
 * (c[2], c[3] for tokens 16..31); DPH: the product for bh (signed for Q6_K). */
#define KQ_PRODUCTS(DPH)                                       \
    do {                                                       \
        _tile_zero(4);                                         \
        _tile_zero(5);                                         \
        if (two) {                                             \
            _tile_zero(6);                                     \
            _tile_zero(7);                                     \
        }                                                      \
        for (int c = 0; c < 4; c++) {                          \
            _tile_loadd(0, xb + 4 + 64 * c, xs);               \
            _tile_loadd(2, wk->bh[64 * s + 16 * c], 64);       \
            _tile_loadd(3, wk->b[64 * s + 16 * c], 64);        \
            DPH(4, 0, 2);                                      \
            _tile_dpbsud(5, 0, 3);                             \
            if (two) {                                         \
                _tile_loadd(1, xb + 16 * xs + 4 + 64 * c, xs); \
                DPH(6, 1, 2);                                  \
                _tile_dpbsud(7, 1, 3);                         \
            }                                                  \
        }                                                      \
        _tile_stored(4, wk->c[0], 64);                         \
        _tile_stored(5, wk->c[1], 64);                         \
        if (two) {                                             \
            _tile_stored(6, wk->c[2], 64);                     \
            _tile_stored(7, wk->c[3], 64);                     \
        }                                                      \
        AMX_FENCE();                                           \
    } while (0)

static void run_q4_k(struct amx_work *wk, const uint8_t *x, size_t xs, int ntg, int64_t c0,
                     int64_t n)
{
    AMX_FENCE(); /* the decoded weights are in memory */
    const int two = ntg > 16;
    for (int64_t s = 0; s < n; s++) {
        const uint8_t *xb = x + (size_t)(c0 + s) * sizeof(struct kern_bq8_k);
        KQ_PRODUCTS(_tile_dpbsud);
        const __m512i *mn = wk->mn + 8 * s;
        for (int t = 0; t < ntg; t++) {
            const uint8_t *xt = xb + (size_t)t * xs;
            const int32_t *ch = wk->c[2 * (t >> 4)] + 16 * (t & 15), *cl = ch + 256;
            __m512i is = _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(ch), 3),
                                          _mm512_load_si512(cl));
            __m512i mi = _mm512_setzero_si512();
            for (int j = 0; j < 8; j++) {
                int32_t bs;
                memcpy(&bs, xt + 260 + 4 * j, 4);
                mi = _mm512_dpwssd_epi32(mi, mn[j], _mm512_set1_epi32(bs));
            }
            __m512 dx = _mm512_set1_ps(kern__ldf(xt, 0));
            __m512 a = _mm512_load_ps(wk->acc[t]);
            a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(wk->dw[s], dx), a);
            a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mi), _mm512_mul_ps(wk->dmn[s], dx), a);
            _mm512_store_ps(wk->acc[t], a);
        }
    }
}

/* Q6_K x Q8_K: the same scheme as Q4_K with 64 * hi (signed) + lo; isum = 64 * C_hi + C_lo
 * - 32 * sum(sc * bsum), the reference's integer sum. */
static void run_q6_k(struct amx_work *wk, const uint8_t *x, size_t xs, int ntg, int64_t c0,
                     int64_t n)
{
    AMX_FENCE(); /* the decoded weights are in memory */
    const int two = ntg > 16;
    for (int64_t s = 0; s < n; s++) {
        const uint8_t *xb = x + (size_t)(c0 + s) * sizeof(struct kern_bq8_k);
        KQ_PRODUCTS(_tile_dpbssd);
        const __m512i *mn = wk->mn + 8 * s;
        for (int t = 0; t < ntg; t++) {
            const uint8_t *xt = xb + (size_t)t * xs;
            const int32_t *ch = wk->c[2 * (t >> 4)] + 16 * (t & 15), *cl = ch + 256;
            __m512i is = _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(ch), 6),
                                          _mm512_load_si512(cl));
            __m512i mi = _mm512_setzero_si512();
            for (int j = 0; j < 8; j++) {
                int32_t bs;
                memcpy(&bs, xt + 260 + 4 * j, 4);
                mi = _mm512_dpwssd_epi32(mi, mn[j], _mm512_set1_epi32(bs));
            }
            is = _mm512_sub_epi32(is, _mm512_slli_epi32(mi, 5));
            __m512 dx = _mm512_set1_ps(kern__ldf(xt, 0));
            __m512 a = _mm512_load_ps(wk->acc[t]);
            a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(wk->dw[s], dx), a);
            _mm512_store_ps(wk->acc[t], a);
        }
    }
}

/* One Q8_0 product into result tile 4 (j even) or 5 (j odd), not stored. */
AI void b32_issue(int j, const uint8_t *a, size_t as, const uint8_t *b)
{
    if (j & 1) {
        _tile_loadd(1, a, as);
        _tile_loadd(3, b, 64);
        _tile_zero(5);
        _tile_dpbssd(5, 1, 3);
    } else {
        _tile_loadd(0, a, as);
        _tile_loadd(2, b, 64);
        _tile_zero(4);
        _tile_dpbssd(4, 0, 2);
    }
}

/* acc[t] += c[t] * (sc * dx[t]) for the ntg tokens of one stored product (a: the token
 * accumulators, in registers for the whole run: the loop is unrolled, t >= ntg skipped). */
AI void b32_fma(__m512 a[16], const int32_t *c, __m512 sc, const float *dx, int ntg)
{
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++)
        if (t < ntg) {
            __m512 ct = _mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * t));
            a[t] = _mm512_fmadd_ps(ct, _mm512_mul_ps(sc, _mm512_set1_ps(dx[t])), a[t]);
        }
}

/* Q8_0 / Q4_0 (decoded to signed codes) x Q8_0: blocks [c0, c0 + n).  Software pipelined: block
 * j + 1's product is issued before block j's result is stored (a store right after its product
 * waits for the product's whole latency), and the float scaling of block j - 1 runs while the
 * tile unit works on j and j + 1, so the FMA ports and the tile unit overlap.  Results go
 * round a ring of 4 buffers (a compiler fence per block keeps the reads of one before the store
 * that reuses it).  Per token the sum is over the blocks in order, as before. */
static void run_b32(struct amx_work *wk, const uint8_t *x, size_t xs, int ntg, int64_t c0,
                    int64_t n)
{
    AMX_FENCE(); /* the decoded weights are in memory */
    const size_t bs = sizeof(struct kern_bq8_0);
    const uint8_t *xb = x + (size_t)c0 * bs;
    __m512 a[16];
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++)
        a[t] = t < ntg ? _mm512_load_ps(wk->acc[t]) : _mm512_setzero_ps();
    b32_issue(0, xb + 2, xs, wk->b[0]);
    for (int64_t j = 0; j < n; j++, xb += bs) {
        if (j + 1 < n)
            b32_issue((int)(j + 1), xb + bs + 2, xs, wk->b[8 * (j + 1)]);
        if (j & 1)
            _tile_stored(5, wk->c[j & 3], 64);
        else
            _tile_stored(4, wk->c[j & 3], 64);
        AMX_FENCE();
        if (j > 0)
            b32_fma(a, wk->c[(j - 1) & 3], wk->sc[j - 1], wk->dx[j - 1], ntg);
    }
    b32_fma(a, wk->c[(n - 1) & 3], wk->sc[n - 1], wk->dx[n - 1], ntg);
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++)
        if (t < ntg)
            _mm512_store_ps(wk->acc[t], a[t]);
}

/* ---- driver ---- */

struct amx_type {
    int64_t blk_elems; /* elements per decode unit (block or super-block) */
    int tg;            /* tokens per run call: 16, or 32 (two groups sharing the B tiles) */
    int ka;            /* bytes of K per tile product */
    int b32;           /* 32-blocks: the driver makes the activation scale table (wk->dx) */
    void (*dec)(struct amx_work *, const struct amx_rows *, int64_t, int64_t);
    /* the packed type's decode instead (dec NULL): the two 8-row groups' first blocks */
    void (*pdec)(struct amx_work *, const uint8_t *, const uint8_t *, int64_t, int64_t);
    void (*run)(struct amx_work *, const uint8_t *, size_t, int, int64_t, int64_t);
};

/* The tile routine for wtype. */
static int amx_type_of(uint32_t wtype, struct amx_type *ty)
{
    switch (wtype) {
    case KERN_T_Q4_K:
        *ty = (struct amx_type){KERN_QK_K, 32, 64, 0, dec_q4_k, NULL, run_q4_k};
        return 1;
    case KERN_T_Q5_K: /* the Q4_K products: same scales and mins, codes < 32 */
        *ty = (struct amx_type){KERN_QK_K, 32, 64, 0, dec_q5_k, NULL, run_q4_k};
        return 1;
    case KERN_T_Q6_K:
        *ty = (struct amx_type){KERN_QK_K, 32, 64, 0, dec_q6_k, NULL, run_q6_k};
        return 1;
    case KERN_T_Q8_0:
        *ty = (struct amx_type){KERN_QK, 16, 32, 1, dec_q8_0, NULL, run_b32};
        return 1;
    case KERN_T_Q4_0:
        *ty = (struct amx_type){KERN_QK, 16, 32, 1, dec_q4_0, NULL, run_b32};
        return 1;
    case KERN_T_Q5_0:
        *ty = (struct amx_type){KERN_QK, 16, 32, 1, dec_q5_0, NULL, run_b32};
        return 1;
    case KERN_T_Q4_K_X8:
        *ty = (struct amx_type){KERN_QK_K, 32, 64, 0, NULL, pdec_q4_k, run_q4_k};
        return 1;
    case KERN_T_Q5_K_X8:
        *ty = (struct amx_type){KERN_QK_K, 32, 64, 0, NULL, pdec_q5_k, run_q4_k};
        return 1;
    case KERN_T_Q6_K_X8:
        *ty = (struct amx_type){KERN_QK_K, 32, 64, 0, NULL, pdec_q6_k, run_q6_k};
        return 1;
    case KERN_T_Q8_0_X8:
        *ty = (struct amx_type){KERN_QK, 16, 32, 1, NULL, pdec_q8_0, run_b32};
        return 1;
    case KERN_T_Q4_0_X8:
        *ty = (struct amx_type){KERN_QK, 16, 32, 1, NULL, pdec_q4_0, run_b32};
        return 1;
    case KERN_T_Q5_0_X8:
        *ty = (struct amx_type){KERN_QK, 16, 32, 1, NULL, pdec_q5_0, run_b32};
        return 1;
    default:
        return 0;
    }
}

/* The rows [rg, min(rg + 16, r1)) of w (row bytes wrb) into rw; returns their store mask. */
static __mmask16 amx_rows_set(struct amx_rows *rw, const uint8_t *w, size_t wrb, int64_t rg,
                              int64_t r1)
{
    int nr = r1 - rg < 16 ? (int)(r1 - rg) : 16;
    _Alignas(64) int32_t lidx[16];
    rw->m = 0;
    for (int r = 0; r < 16; r++) {
        rw->p[r] = w + (size_t)(rg + (r < nr ? r : nr - 1)) * wrb;
        lidx[r] = AMX_LANE_ROW(r) * (int)wrb;
        if (AMX_LANE_ROW(r) < nr)
            rw->m |= (__mmask16)(1u << r);
    }
    rw->idx = _mm512_load_si512(lidx);
    return (__mmask16)((1u << nr) - 1);
}

/* The store mask of the packed row group from rg (a multiple of 8, maybe below r0): the rows
 * of [rg, rg + 16) inside [r0, r1). */
static __mmask16 amx_pk_mask(int64_t rg, int64_t r0, int64_t r1)
{
    int lo = r0 > rg ? (int)(r0 - rg) : 0, hi = r1 - rg < 16 ? (int)(r1 - rg) : 16;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* The Q8_0 activation scales of blocks [c0, c0 + n) of ntb tokens (ntb <= AMX_DXT) as floats:
 * dxt[t / 16][block][t % 16] (tokens past ntb 0). */
static void b32_scales(float (*dxt)[AMX_KC / 32][16], const uint8_t *x, size_t xs, int ntb,
                       int64_t c0, int64_t n)
{
    const __m512i tidx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)xs));
    for (int t0 = 0; t0 < ntb; t0 += 16) {
        int ntg = ntb - t0 < 16 ? ntb - t0 : 16;
        const __mmask16 tm = (__mmask16)((1u << ntg) - 1);
        const uint8_t *xb = x + (size_t)t0 * xs + (size_t)c0 * sizeof(struct kern_bq8_0);
        for (int64_t b = 0; b < n; b++, xb += sizeof(struct kern_bq8_0))
            _mm512_store_ps(dxt[t0 / 16][b], lo_h2f(gat(xb, tidx, tm)));
    }
}

/* mul_mat on the tile unit; returns 0 (nothing written) for what it does not handle. */
static int amx_mul_mat_raw(uint32_t wtype, const uint8_t *w, size_t wrb, int64_t ncols, int64_t r0,
                           int64_t r1, const uint8_t *x, size_t xs, int nt, float *out, int64_t ldo)
{
    struct amx_type ty;
    if (nt < AMX_MIN_NT || !amx_type_of(wtype, &ty) || ncols <= 0 || ncols % ty.blk_elems != 0)
        return 0;
    if (wrb > INT_MAX / 16 || xs > INT_MAX / 16)
        return 0;
    _Alignas(64) struct amx_work wk;
    const int64_t nblk = ncols / ty.blk_elems, chunk = AMX_KC / ty.blk_elems;
    /* chunks outside the row groups: the 32-block types' activation scales are converted once
     * per chunk and token pass (wk.dxt), not per row group; passes of equal multiples of 16
     * tokens (a short last pass would decode the weights again for a few tokens) */
    const int npass = ty.b32 ? (nt + AMX_DXT - 1) / AMX_DXT : 1;
    const int tpass = ((nt + npass - 1) / npass + 15) / 16 * 16;
    int cfg_rows = 0;
    for (int tb = 0; tb < nt; tb += tpass) {
        int ntb = nt - tb < tpass ? nt - tb : tpass;
        const uint8_t *xp = x + (size_t)tb * xs;
        for (int64_t c0 = 0; c0 < nblk; c0 += chunk) {
            int64_t n = nblk - c0 < chunk ? nblk - c0 : chunk;
            if (ty.b32)
                b32_scales(wk.dxt, xp, xs, ntb, c0, n);
            for (int64_t rg = ty.pdec ? r0 / 8 * 8 : r0; rg < r1; rg += 16) {
                __mmask16 rm;
                if (ty.pdec) {
                    /* packed: 8-row groups, the second one past r1 replaced by the first */
                    const uint8_t *g0 = w + (size_t)rg * wrb;
                    ty.pdec(&wk, g0, rg + 8 < r1 ? g0 + 8 * wrb : g0, c0, n);
                    rm = amx_pk_mask(rg, r0, r1);
                } else {
                    struct amx_rows rw;
                    rm = amx_rows_set(&rw, w, wrb, rg, r1);
                    ty.dec(&wk, &rw, c0, n);
                }
                for (int t0 = 0; t0 < ntb; t0 += ty.tg) {
                    int ntg = ntb - t0 < ty.tg ? ntb - t0 : ty.tg;
                    if (ntg != cfg_rows) {
                        amx_config(ntg, ty.ka, ty.tg > 16);
                        cfg_rows = ntg;
                    }
                    memset(wk.acc, 0, sizeof wk.acc);
                    wk.dx = wk.dxt[(t0 / 16) % (AMX_DXT / 16)];
                    ty.run(&wk, xp + (size_t)t0 * xs, xs, ntg, c0, n);
                    for (int t = 0; t < ntg; t++) {
                        float *o = out + (int64_t)(tb + t0 + t) * ldo + rg;
                        __m512 v = amx_unswap(_mm512_load_ps(wk.acc[t]));
                        if (c0 > 0)
                            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(rm, o));
                        _mm512_mask_storeu_ps(o, rm, v);
                    }
                }
            }
        }
    }
    if (cfg_rows)
        _tile_release();
    return 1;
}

/* Q8_0/Q4_0/Q5_0 batches of AMX_MIN_NT tokens or more have no prepared form in the AMX table:
 * the AVX-512 one (kern.h prepare) splits blocks into 16-byte halves, which cost the tile
 * products K = 16 and an extra product per block (bench_kern, 128 tokens: q8_0 138 GMAC/s from
 * the quads, 184 from the Q8_0 rows); the model then calls mul_mat.  Smaller batches, generation
 * above all, keep the AVX-512 prepared form: preparing once per phase instead of per work item
 * saved 8 % of CPU per token on Qwen2.5-0.5B Q8_0 at 2 threads (41.6 vs 45.1 ms). */
static int amx_no_prep(uint32_t wtype)
{
    return wtype == KERN_T_Q8_0 || wtype == KERN_T_Q4_0 || wtype == KERN_T_Q5_0;
}

/* ---- the tables: AVX-512 (or its prefetching twin) except the batched products above ---- */

#define AMX_TABLE(tab, base, nm)                                                                 \
    static float tab##_vec_dot(uint32_t wtype, int64_t n, const void *w, const void *x)          \
    {                                                                                            \
        return base.vec_dot(wtype, n, w, x);                                                     \
    }                                                                                            \
    static void tab##_mul_mat(uint32_t wtype, const void *w, size_t wrb, int64_t ncols,          \
                              int64_t r0, int64_t r1, const void *x, size_t xs, int nt,          \
                              float *out, int64_t ldo)                                           \
    {                                                                                            \
        if (!amx_mul_mat_raw(wtype, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo))                 \
            base.mul_mat(wtype, w, wrb, ncols, r0, r1, x, xs, nt, out, ldo);                     \
    }                                                                                            \
    static size_t tab##_prep_bytes(uint32_t wtype, int64_t ncols, int nt)                        \
    {                                                                                            \
        return amx_no_prep(wtype) && nt >= AMX_MIN_NT ? 0 : base.prep_bytes(wtype, ncols, nt);   \
    }                                                                                            \
    static void tab##_prepare(uint32_t wtype, const void *x, size_t xs, int64_t ncols, int nt,   \
                              void *prep)                                                        \
    {                                                                                            \
        base.prepare(wtype, x, xs, ncols, nt, prep);                                             \
    }                                                                                            \
    static void tab##_mul_mat_prep(uint32_t wtype, const void *w, size_t wrb, int64_t ncols,     \
                                   int64_t r0, int64_t r1, const void *prep, int nt, float *out, \
                                   int64_t ldo)                                                  \
    {                                                                                            \
        base.mul_mat_prep(wtype, w, wrb, ncols, r0, r1, prep, nt, out, ldo);                     \
    }                                                                                            \
    const struct kern tab = {                                                                    \
        .isa = KERN_ISA_AMX,                                                                     \
        .name = nm,                                                                              \
        .vec_dot_type = kern__ref_vec_dot_type,                                                  \
        .quantize_row = kern__avx2_quantize_row,                                                 \
        .dequantize_row = kern__ref_dequantize_row,                                              \
        .vec_dot = tab##_vec_dot,                                                                \
        .mul_mat = tab##_mul_mat,                                                                \
        .prep_bytes = tab##_prep_bytes,                                                          \
        .prepare = tab##_prepare,                                                                \
        .mul_mat_prep = tab##_mul_mat_prep,                                                      \
        .pack_type = kern__avx2_pack_type,                                                       \
    };

AMX_TABLE(kern__table_amx, kern__table_avx512, "amx")
AMX_TABLE(kern__table_amx_pf, kern__table_avx512_pf, "amx+prefetch")

#endif

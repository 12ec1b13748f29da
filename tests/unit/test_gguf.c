/*
 * test_gguf.c - unit tests of the GGUF reader: the real stories260K files, then malformed files
 * built byte by byte here (truncation at every header position, huge counts, bad offsets, bad
 * types, strings past the end, duplicates, nested arrays, bad alignment, overlapping data).
 */
#include "harness/test.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/mem.h"
#include "engine/gguf/gguf.h"

#define STORIES "testdata/models/stories260K.gguf"

/* ---- a tiny byte builder ---- */
struct bb {
    uint8_t d[4096];
    size_t n;
};

static void bb_raw(struct bb *b, const void *p, size_t n)
{
    ASSERT(b->n + n <= sizeof(b->d));
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void bb_u32(struct bb *b, uint32_t v)
{
    bb_raw(b, &v, 4);
}
static void bb_u64(struct bb *b, uint64_t v)
{
    bb_raw(b, &v, 8);
}
static void bb_str(struct bb *b, const char *s)
{
    bb_u64(b, strlen(s));
    bb_raw(b, s, strlen(s));
}
static void bb_hdr(struct bb *b, uint32_t ver, uint64_t nt, uint64_t nkv)
{
    b->n = 0;
    bb_raw(b, "GGUF", 4);
    bb_u32(b, ver);
    bb_u64(b, nt);
    bb_u64(b, nkv);
}
static void bb_kv_u32(struct bb *b, const char *k, uint32_t v)
{
    bb_str(b, k);
    bb_u32(b, GGUF_VT_UINT32);
    bb_u32(b, v);
}
/* tensor info: 1-D or 2-D */
static void bb_tensor(struct bb *b, const char *name, uint32_t nd, int64_t ne0, int64_t ne1,
                      uint32_t type, uint64_t off)
{
    bb_str(b, name);
    bb_u32(b, nd);
    bb_u64(b, (uint64_t)ne0);
    if (nd > 1)
        bb_u64(b, (uint64_t)ne1);
    bb_u32(b, type);
    bb_u64(b, off);
}
static void bb_pad(struct bb *b, size_t align)
{
    while (b->n % align)
        b->d[b->n++] = 0;
}

static int open_bb(const struct bb *b, struct gguf **g, struct err_info *ei)
{
    memset(ei, 0, sizeof(*ei));
    return gguf_open_mem(b->d, b->n, 1, g, ei);
}

/* A small valid file: 2 kvs (one string array), 2 F32 tensors. */
static void bb_valid(struct bb *b)
{
    bb_hdr(b, 3, 2, 3);
    bb_kv_u32(b, "a.u32", 7);
    bb_str(b, "a.arr");
    bb_u32(b, GGUF_VT_ARRAY);
    bb_u32(b, GGUF_VT_STRING);
    bb_u64(b, 3);
    bb_str(b, "x");
    bb_str(b, "");
    bb_str(b, "hello");
    bb_str(b, "a.name");
    bb_u32(b, GGUF_VT_STRING);
    bb_str(b, "tiny");
    bb_tensor(b, "t0", 2, 4, 2, GGUF_T_F32, 0);
    bb_tensor(b, "t1", 1, 3, 1, GGUF_T_F32, 32);
    bb_pad(b, 32);
    for (int i = 0; i < 8 + 3; i++) {
        float f = (float)i;
        bb_raw(b, &f, 4);
    }
}

TEST(gguf_valid_tiny)
{
    struct bb b;
    struct gguf *g = NULL;
    struct err_info ei;
    struct gguf_str s;
    uint32_t u;
    int64_t i64;
    bb_valid(&b);
    ASSERT_OK(open_bb(&b, &g, &ei));
    ASSERT_EQ_INT(g->version, 3);
    ASSERT_EQ_INT(g->n_kv, 3);
    ASSERT_EQ_INT(g->n_tensors, 2);
    ASSERT_EQ_INT(g->alignment, 32);
    ASSERT_OK(gguf_get_u32(g, "a.u32", &u));
    ASSERT_EQ_INT(u, 7);
    ASSERT_OK(gguf_get_i64(g, "a.u32", &i64));
    ASSERT_EQ_INT(i64, 7);
    ASSERT_EQ_INT(gguf_get_u32(g, "missing", &u), E_NOTFOUND);
    ASSERT_EQ_INT(gguf_get_u32(g, "a.name", &u), E_INVAL);
    ASSERT_OK(gguf_get_str(g, "a.name", &s));
    ASSERT(gguf_str_eq(s, "tiny"));
    const struct gguf_kv *kv = gguf_find(g, "a.arr");
    ASSERT(kv && kv->arr_n == 3);
    ASSERT_OK(gguf_arr_str(kv, 2, &s));
    ASSERT(gguf_str_eq(s, "hello"));
    ASSERT_OK(gguf_arr_str(kv, 1, &s));
    ASSERT(gguf_str_eq(s, ""));
    ASSERT_EQ_INT(gguf_arr_str(kv, 3, &s), E_RANGE);
    const struct gguf_tensor *t = gguf_tensor_find(g, "t1");
    ASSERT(t && t->ne[0] == 3 && t->ne[1] == 1 && t->nbytes == 12);
    ASSERT_EQ_INT(((const float *)t->data)[2], 10);
    ASSERT(gguf_tensor_find(g, "t2") == NULL);
    gguf_close(g);
}

TEST(gguf_truncated_everywhere)
{
    struct bb b;
    struct gguf *g = NULL;
    struct err_info ei;
    bb_valid(&b);
    for (size_t n = 0; n < b.n; n++) {
        int rc;
        memset(&ei, 0, sizeof(ei));
        rc = gguf_open_mem(b.d, n, 1, &g, &ei);
        if (rc == 0)
            TEST_FAIL_("truncated at %zu of %zu parsed", n, b.n);
        ASSERT(rc == E_PARSE || rc == E_RANGE);
        ASSERT(g == NULL);
        ASSERT(ei.msg[0] != 0);
    }
}

TEST(gguf_header_errors)
{
    struct bb b;
    struct gguf *g = NULL;
    struct err_info ei;
    bb_hdr(&b, 3, 0, 0);
    b.d[0] = 'X';
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    bb_hdr(&b, 1, 0, 0);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_UNSUPPORTED);
    bb_hdr(&b, 4, 0, 0);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_UNSUPPORTED);
    bb_hdr(&b, 0x00030000, 0, 0); /* big-endian */
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_UNSUPPORTED);
    bb_hdr(&b, 3, UINT64_MAX, 0);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    bb_hdr(&b, 3, 0, (uint64_t)1 << 40);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    bb_hdr(&b, 3, 0, 1000); /* under the cap but cannot fit */
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    bb_hdr(&b, 2, 0, 0); /* v2, empty: fine */
    ASSERT_OK(open_bb(&b, &g, &ei));
    gguf_close(g);
}

TEST(gguf_kv_errors)
{
    struct bb b;
    struct gguf *g = NULL;
    struct err_info ei;
    /* empty key */
    bb_hdr(&b, 3, 0, 1);
    bb_kv_u32(&b, "", 1);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    /* duplicate key, message names it */
    bb_hdr(&b, 3, 0, 2);
    bb_kv_u32(&b, "k.dup", 1);
    bb_kv_u32(&b, "k.dup", 2);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    ASSERT(strstr(ei.msg, "k.dup") != NULL);
    ASSERT(ei.offset > 24);
    /* unknown value type */
    bb_hdr(&b, 3, 0, 1);
    bb_str(&b, "k.bad");
    bb_u32(&b, 13);
    bb_u32(&b, 0);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    ASSERT(strstr(ei.msg, "k.bad") != NULL);
    /* nested array */
    bb_hdr(&b, 3, 0, 1);
    bb_str(&b, "k.nest");
    bb_u32(&b, GGUF_VT_ARRAY);
    bb_u32(&b, GGUF_VT_ARRAY);
    bb_u64(&b, 0);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_UNSUPPORTED);
    /* huge array count */
    bb_hdr(&b, 3, 0, 1);
    bb_str(&b, "k.huge");
    bb_u32(&b, GGUF_VT_ARRAY);
    bb_u32(&b, GGUF_VT_UINT32);
    bb_u64(&b, UINT64_MAX / 2);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    /* array count under the cap but past the end */
    bb_hdr(&b, 3, 0, 1);
    bb_str(&b, "k.long");
    bb_u32(&b, GGUF_VT_ARRAY);
    bb_u32(&b, GGUF_VT_STRING);
    bb_u64(&b, 100000);
    bb_str(&b, "a");
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    /* string length past the end */
    bb_hdr(&b, 3, 0, 1);
    bb_str(&b, "k.s");
    bb_u32(&b, GGUF_VT_STRING);
    bb_u64(&b, 1000);
    bb_raw(&b, "abc", 3);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    /* key length over the cap */
    bb_hdr(&b, 3, 0, 1);
    bb_u64(&b, UINT64_MAX);
    bb_u64(&b, 0);
    bb_u64(&b, 0);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    /* bad alignment: not a power of two, zero, wrong type */
    bb_hdr(&b, 3, 0, 1);
    bb_kv_u32(&b, "general.alignment", 48);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    bb_hdr(&b, 3, 0, 1);
    bb_kv_u32(&b, "general.alignment", 0);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    bb_hdr(&b, 3, 0, 1);
    bb_str(&b, "general.alignment");
    bb_u32(&b, GGUF_VT_UINT64);
    bb_u64(&b, 32);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
}

/* One kv-less file with a single tensor info and nbytes of data. */
static void bb_one_tensor(struct bb *b, uint32_t nd, int64_t ne0, int64_t ne1, uint32_t type,
                          uint64_t off, size_t data)
{
    bb_hdr(b, 3, 1, 0);
    bb_tensor(b, "w", nd, ne0, ne1, type, off);
    bb_pad(b, 32);
    for (size_t i = 0; i < data; i++)
        b->d[b->n++] = 0;
}

TEST(gguf_tensor_errors)
{
    struct bb b;
    struct gguf *g = NULL;
    struct err_info ei;
    bb_one_tensor(&b, 2, 32, 2, GGUF_T_Q8_0, 0, 68);
    ASSERT_OK(open_bb(&b, &g, &ei));
    ASSERT_EQ_INT(g->tensors[0].nbytes, 68);
    gguf_close(g);
    bb_one_tensor(&b, 2, 32, 2, GGUF_T_Q8_0, 0, 67); /* data past the end */
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    ASSERT(strstr(ei.msg, "'w'") != NULL);
    bb_one_tensor(&b, 2, 33, 2, GGUF_T_Q8_0, 0, 128); /* row not a block multiple */
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    bb_one_tensor(&b, 1, 4, 1, 4, 0, 128); /* retired type 4 */
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_UNSUPPORTED);
    bb_one_tensor(&b, 1, 4, 1, 1000, 0, 128);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_UNSUPPORTED);
    bb_one_tensor(&b, 1, 4, 1, GGUF_T_F32, 8, 128); /* misaligned offset */
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    bb_one_tensor(&b, 1, 4, 1, GGUF_T_F32, UINT64_MAX - 31, 128);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    bb_one_tensor(&b, 1, -4, 1, GGUF_T_F32, 0, 128);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    bb_one_tensor(&b, 2, INT64_MAX, INT64_MAX, GGUF_T_F32, 0, 128);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    bb_one_tensor(&b, 2, (int64_t)1 << 40, (int64_t)1 << 20, GGUF_T_F32, 0, 128);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    /* element count fits in int64 but the byte size would wrap to 0 */
    bb_one_tensor(&b, 1, (int64_t)1 << 62, 1, GGUF_T_F32, 0, 128);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    bb_one_tensor(&b, 2, (int64_t)1 << 61, 2, GGUF_T_F32, 0, 128);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
    /* n_dims 0 and 5 */
    bb_hdr(&b, 3, 1, 0);
    bb_str(&b, "w");
    bb_u32(&b, 0);
    bb_u32(&b, 0);
    bb_u64(&b, 0);
    bb_pad(&b, 64);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    bb_hdr(&b, 3, 1, 0);
    bb_str(&b, "w");
    bb_u32(&b, 5);
    for (int i = 0; i < 8; i++)
        bb_u64(&b, 1);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    /* name too long */
    bb_hdr(&b, 3, 1, 0);
    bb_tensor(&b, "0123456789012345678901234567890123456789012345678901234567890123", 1, 1, 1,
              GGUF_T_F32, 0);
    bb_pad(&b, 64);
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_RANGE);
}

TEST(gguf_overlap_and_duplicates)
{
    struct bb b;
    struct gguf *g = NULL;
    struct err_info ei;
    bb_hdr(&b, 3, 2, 0);
    bb_tensor(&b, "a", 1, 16, 1, GGUF_T_F32, 0);
    bb_tensor(&b, "b", 1, 16, 1, GGUF_T_F32, 32); /* a is 64 bytes: overlaps */
    bb_pad(&b, 32);
    for (int i = 0; i < 128; i++)
        b.d[b.n++] = 0;
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    ASSERT(strstr(ei.msg, "overlaps") != NULL);
    /* out of order but disjoint is accepted */
    bb_hdr(&b, 3, 2, 0);
    bb_tensor(&b, "a", 1, 16, 1, GGUF_T_F32, 64);
    bb_tensor(&b, "b", 1, 16, 1, GGUF_T_F32, 0);
    bb_pad(&b, 32);
    for (int i = 0; i < 128; i++)
        b.d[b.n++] = 0;
    ASSERT_OK(open_bb(&b, &g, &ei));
    gguf_close(g);
    bb_hdr(&b, 3, 2, 0);
    bb_tensor(&b, "a", 1, 16, 1, GGUF_T_F32, 0);
    bb_tensor(&b, "a", 1, 16, 1, GGUF_T_F32, 64);
    bb_pad(&b, 32);
    for (int i = 0; i < 128; i++)
        b.d[b.n++] = 0;
    ASSERT_EQ_INT(open_bb(&b, &g, &ei), E_PARSE);
    ASSERT(strstr(ei.msg, "duplicate") != NULL);
}

TEST(gguf_stories260k)
{
    struct gguf *g = NULL;
    struct err_info ei = {0};
    struct gguf_str s;
    uint32_t u;
    float f;
    ASSERT_OK(gguf_open_file(STORIES, 1, &g, &ei));
    ASSERT_EQ_INT(g->version, 3);
    ASSERT_EQ_INT(g->n_tensors, 48);
    ASSERT_EQ_INT(g->n_kv, 19);
    ASSERT_EQ_INT(g->data_offset, 14176);
    ASSERT_OK(gguf_get_str(g, "general.architecture", &s));
    ASSERT(gguf_str_eq(s, "llama"));
    ASSERT_OK(gguf_get_u32(g, "llama.embedding_length", &u));
    ASSERT_EQ_INT(u, 64);
    ASSERT_OK(gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f));
    ASSERT_NEAR(f, 1e-5, 1e-9);
    const struct gguf_kv *tok = gguf_find(g, "tokenizer.ggml.tokens");
    ASSERT(tok && tok->arr_n == 512);
    ASSERT_OK(gguf_arr_str(tok, 1, &s));
    ASSERT(gguf_str_eq(s, "<s>"));
    int32_t tt;
    ASSERT_OK(gguf_arr_i32(gguf_find(g, "tokenizer.ggml.token_type"), 0, &tt));
    ASSERT_EQ_INT(tt, 2);
    const struct gguf_tensor *t = gguf_tensor_find(g, "blk.4.ffn_down.weight");
    ASSERT(t && t->ne[0] == 172 && t->ne[1] == 64 && t->type == GGUF_T_F32);
    ASSERT_EQ_INT(t->offset, 1082880);
    ASSERT((const uint8_t *)t->data == g->base + g->data_offset + t->offset);
    ASSERT(g->owns_map);
    gguf_close(g);
    /* metadata-only open */
    ASSERT_OK(gguf_open_file(STORIES, 0, &g, &ei));
    ASSERT(g->tensors == NULL && g->n_tensors == 48);
    ASSERT(gguf_tensor_find(g, "output.weight") == NULL);
    gguf_close(g);
    ASSERT_EQ_INT(gguf_open_file("tests/data/gguf/does-not-exist", 1, &g, &ei), E_NOTFOUND);
}

TEST(gguf_stories260k_truncated_headers)
{
    char *data = NULL;
    size_t n = 0;
    struct gguf *g = NULL;
    struct err_info ei;
    ASSERT_OK(fs_read_all(STORIES, 4u << 20, &data, &n));
    /* Every cut inside the header and tensor infos, and a sample of cuts inside the data. */
    for (size_t cut = 0; cut < n; cut += cut < 14200 ? 1 : 4099) {
        int rc = gguf_open_mem(data, cut, 1, &g, &ei);
        if (rc == 0)
            TEST_FAIL_("cut at %zu parsed", cut);
        ASSERT(rc == E_PARSE || rc == E_RANGE);
    }
    ASSERT_OK(gguf_open_mem(data, n, 1, &g, &ei));
    gguf_close(g);
    mem_free(data);
}

TEST(gguf_real_models_parse)
{
    static const char *const files[] = {
        "tests/data/models/stories260K-Q8_0.gguf",
        "tests/data/models/stories260K-Q4_0.gguf",
        "tests/data/models/synth-llama-d256-Q4_K_M.gguf",
        "tests/data/models/synth-llama-d256-BF16.gguf",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct gguf *g = NULL;
        struct err_info ei = {0};
        uint32_t ft;
        if (!fs_exists(files[i]))
            continue;
        int rc = gguf_open_file(files[i], 1, &g, &ei);
        if (rc)
            TEST_FAIL_("%s: %s", files[i], ei.msg);
        ASSERT_OK(gguf_get_u32(g, "general.file_type", &ft));
        ASSERT(strcmp(gguf_ftype_name(ft), "unknown") != 0);
        gguf_close(g);
    }
}

TEST(gguf_type_facts)
{
    ASSERT_EQ_INT(gguf_type_block_elems(GGUF_T_Q4_K), 256);
    ASSERT_EQ_INT(gguf_type_block_bytes(GGUF_T_Q6_K), 210);
    ASSERT_EQ_INT(gguf_type_block_bytes(GGUF_T_BF16), 2);
    ASSERT_EQ_STR(gguf_type_name(GGUF_T_Q5_1), "Q5_1");
    ASSERT(gguf_type_name(4) == NULL);
    ASSERT(gguf_type_name(9999) == NULL);
    ASSERT_EQ_STR(gguf_ftype_name(15), "Q4_K_M");
    ASSERT_EQ_STR(gguf_ftype_name(5), "unknown");
}

/*
 * test_gguf_write.c - unit tests of the GGUF writer: real files rebuilt through reader + writer
 * come out byte for byte identical; set/replace/remove semantics; the writer's output parses.
 */
#include "harness/test.h"

#include "common/fs.h"
#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_write.h"

/* Reads path, rebuilds it with the writer from its own key/values and tensors, compares. */
static void roundtrip(const char *path)
{
    char *data = NULL;
    size_t n = 0;
    struct gguf *g = NULL;
    struct gguf_writer *w = NULL;
    struct err_info ei = {0};
    uint8_t *out = NULL;
    uint64_t out_n = 0;
    ASSERT_OK(fs_read_all(path, 64u << 20, &data, &n));
    ASSERT_OK(gguf_open_mem(data, n, 1, &g, &ei));
    ASSERT_OK(gguf_w_new(&w));
    ASSERT_OK(gguf_w_copy_kvs(w, g));
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->tensors[i];
        char name[GGUF_MAX_NAME];
        memcpy(name, t->name.p, (size_t)t->name.n);
        name[t->name.n] = 0;
        ASSERT_OK(gguf_w_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->nbytes, 0));
    }
    ASSERT_EQ_SIZE(gguf_w_size(w), n);
    ASSERT_OK(gguf_w_to_mem(w, &out, &out_n));
    ASSERT_EQ_SIZE(out_n, n);
    ASSERT_MEMEQ(out, data, n);
    /* and through a file */
    char p[512];
    snprintf(p, sizeof(p), "%s/rt.gguf", test_tmpdir());
    ASSERT_OK(gguf_w_write_file(w, p, &ei));
    char *back = NULL;
    size_t back_n = 0;
    ASSERT_OK(fs_read_all(p, 64u << 20, &back, &back_n));
    ASSERT_EQ_SIZE(back_n, n);
    ASSERT_MEMEQ(back, data, n);
    mem_free(back);
    mem_free(out);
    gguf_w_free(w);
    gguf_close(g);
    mem_free(data);
}

TEST(gguf_write_roundtrip_stories)
{
    roundtrip("testdata/models/stories260K.gguf");
}

TEST(gguf_write_roundtrip_quantized)
{
    static const char *const files[] = {"tests/data/models/stories260K-Q8_0.gguf",
                                        "tests/data/models/synth-llama-d256-Q4_K_M.gguf"};
    for (size_t i = 0; i < 2; i++)
        if (fs_exists(files[i]))
            roundtrip(files[i]);
}

TEST(gguf_write_set_replace_remove)
{
    struct gguf_writer *w = NULL;
    struct gguf *g = NULL;
    struct err_info ei = {0};
    uint8_t *out = NULL;
    uint64_t n = 0;
    uint32_t u;
    float f;
    int b;
    struct gguf_str s;
    static const char *const toks[] = {"a", "", "ccc"};
    int32_t arr[3] = {-1, 2, 3};
    float data[64];
    int64_t ne[2] = {32, 2};
    for (int i = 0; i < 64; i++)
        data[i] = (float)i;
    ASSERT_OK(gguf_w_new(&w));
    ASSERT_OK(gguf_w_set_u32(w, "k.a", 1));
    ASSERT_OK(gguf_w_set_str(w, "k.s", "hello"));
    ASSERT_OK(gguf_w_set_f32(w, "k.f", 0.5f));
    ASSERT_OK(gguf_w_set_bool(w, "k.b", 1));
    ASSERT_OK(gguf_w_set_arr_str(w, "k.toks", toks, 3));
    ASSERT_OK(gguf_w_set_arr(w, "k.arr", GGUF_VT_INT32, arr, 3));
    ASSERT_OK(gguf_w_set_u32(w, "k.a", 9)); /* removed and appended, as llama.cpp does */
    ASSERT_OK(gguf_w_set_u32(w, "k.gone", 9));
    ASSERT_OK(gguf_w_remove(w, "k.gone"));
    ASSERT_EQ_INT(gguf_w_remove(w, "k.gone"), E_NOTFOUND);
    ASSERT_EQ_INT(gguf_w_set_u32(w, "", 1), E_INVAL);
    ASSERT_OK(gguf_w_add_tensor(w, "w", GGUF_T_F32, 2, ne, data, sizeof(data), 0));
    ASSERT_EQ_INT(gguf_w_add_tensor(w, "w", GGUF_T_F32, 2, ne, data, sizeof(data), 0), E_EXISTS);
    ASSERT_EQ_INT(gguf_w_add_tensor(w, "x", GGUF_T_F32, 2, ne, data, 4, 0), E_INVAL);
    ASSERT_EQ_INT(gguf_w_add_tensor(w, "x", GGUF_T_Q8_0, 1, (int64_t[]){33}, data, 34, 0), E_INVAL);
    ASSERT_EQ_INT(gguf_w_add_tensor(w, "x", GGUF_T_F32, 5, ne, data, sizeof(data), 0), E_INVAL);
    float *owned = mem_dup(data, 16);
    ASSERT_OK(gguf_w_add_tensor(w, "v", GGUF_T_F32, 1, (int64_t[]){4}, owned, 16, GGUF_W_OWN));
    ASSERT_OK(gguf_w_to_mem(w, &out, &n));
    ASSERT_OK(gguf_open_mem(out, n, 1, &g, &ei));
    ASSERT_EQ_INT(g->n_kv, 6);
    ASSERT(gguf_str_eq(g->kv[0].key, "k.s"));
    ASSERT(gguf_str_eq(g->kv[5].key, "k.a"));
    ASSERT_OK(gguf_get_u32(g, "k.a", &u));
    ASSERT_EQ_INT(u, 9);
    ASSERT_OK(gguf_get_f32(g, "k.f", &f));
    ASSERT_NEAR(f, 0.5, 0);
    ASSERT_OK(gguf_get_bool(g, "k.b", &b));
    ASSERT_EQ_INT(b, 1);
    ASSERT_OK(gguf_get_str(g, "k.s", &s));
    ASSERT(gguf_str_eq(s, "hello"));
    ASSERT_OK(gguf_arr_str(gguf_find(g, "k.toks"), 2, &s));
    ASSERT(gguf_str_eq(s, "ccc"));
    int32_t v;
    ASSERT_OK(gguf_arr_i32(gguf_find(g, "k.arr"), 0, &v));
    ASSERT_EQ_INT(v, -1);
    ASSERT_EQ_INT(g->n_tensors, 2);
    ASSERT_EQ_INT(g->tensors[1].offset, 256);
    ASSERT_EQ_INT(g->data_offset % 32, 0);
    ASSERT_MEMEQ(g->tensors[0].data, data, sizeof(data));
    gguf_close(g);
    mem_free(out);
    gguf_w_free(w);
}

static int fill_ones(void *ctx, uint64_t i, const void **data)
{
    static float ones[40];
    (void)ctx;
    for (int k = 0; k < 40; k++)
        ones[k] = 1.0f;
    *data = i == 1 ? ones : NULL;
    return i == 1 ? 0 : E_INTERNAL;
}

TEST(gguf_write_alignment_and_deferred)
{
    struct gguf_writer *w = NULL;
    struct gguf *g = NULL;
    struct err_info ei = {0};
    static float data[40];
    int64_t ne[1] = {40};
    char path[512];
    uint8_t *out = NULL;
    uint64_t n = 0;
    ASSERT_OK(gguf_w_new(&w));
    ASSERT_OK(gguf_w_set_u32(w, "general.alignment", 64));
    ASSERT_OK(gguf_w_add_tensor(w, "a", GGUF_T_F32, 1, ne, data, sizeof(data), 0));
    ASSERT_OK(gguf_w_add_tensor(w, "b", GGUF_T_F32, 1, ne, NULL, sizeof(data), GGUF_W_DEFER));
    ASSERT_EQ_INT(gguf_w_add_tensor(w, "c", GGUF_T_F32, 1, ne, NULL, sizeof(data), 0), E_INVAL);
    ASSERT_EQ_INT(gguf_w_to_mem(w, &out, &n), E_INVAL); /* deferred data needs a fill */
    snprintf(path, sizeof(path), "%s/al.gguf", test_tmpdir());
    ASSERT_EQ_INT(gguf_w_write_file(w, path, &ei), E_INVAL);
    ASSERT(!fs_exists(path));
    ASSERT_OK(gguf_w_write_file_fill(w, path, fill_ones, NULL, &ei));
    ASSERT_OK(gguf_open_file(path, 1, &g, &ei));
    ASSERT_EQ_INT(g->alignment, 64);
    ASSERT_EQ_INT(g->data_offset % 64, 0);
    ASSERT_EQ_INT(g->tensors[1].offset, 192); /* 160 bytes padded to 64 */
    ASSERT_NEAR(((const float *)g->tensors[1].data)[39], 1.0, 0);
    ASSERT_EQ_SIZE(g->size, gguf_w_size(w));
    gguf_close(g);
    gguf_w_free(w);
}

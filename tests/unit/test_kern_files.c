/*
 * test_kern_files.c - kern against llama.cpp's own files (tests/data/models, copied from the
 * shared test data):
 *  - kern_quantize_weights reproduces llama.cpp's quantized tensors byte for byte from the F32
 *    source (stories260K -> F16 / Q8_0 / Q4_0 files; every synth type when the synth F32 source
 *    is present in tests/data/models);
 *  - every fast table's mul_mat over the real tensors of the quantized files matches the scalar
 *    reference (real scale distributions, not only random ones).
 */
#include "engine/kern/kern.h"

#include "harness/test.h"

#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"
#include "engine/gguf/gguf.h"

#define MODELS "tests/data/models/"

/* Quantizes every tensor of q (that is not F32) from the F32 tensor of the same name in src and
 * compares bytes.  Returns the number of tensors compared. */
static int compare_quantized(const char *src_path, const char *q_path)
{
    struct gguf *src = NULL, *q = NULL;
    struct err_info ei;
    memset(&ei, 0, sizeof ei);
    ASSERT_OK(gguf_open_file(src_path, 1, &src, &ei));
    ASSERT_OK(gguf_open_file(q_path, 1, &q, &ei));
    int compared = 0;
    for (uint64_t i = 0; i < q->n_tensors; i++) {
        const struct gguf_tensor *t = &q->tensors[i];
        if (t->type == GGUF_T_F32)
            continue;
        char name[GGUF_MAX_NAME + 1];
        snprintf(name, sizeof name, "%.*s", (int)t->name.n, t->name.p);
        const struct gguf_tensor *s = gguf_tensor_find(src, name);
        ASSERT(s != NULL && s->type == GGUF_T_F32);
        int64_t ncol = t->ne[0];
        size_t rb = kern_row_bytes(t->type, ncol);
        ASSERT(rb > 0 && t->nbytes % rb == 0);
        uint8_t *buf = mem_alloc(rb);
        for (uint64_t r = 0; r < t->nbytes / rb; r++) {
            ASSERT_OK(kern_quantize_weights(t->type, (const float *)s->data + r * (uint64_t)ncol,
                                            buf, ncol));
            if (memcmp(buf, (const uint8_t *)t->data + r * rb, rb) != 0)
                TEST_FAIL_("%s: tensor %s (type %u) row %llu differs from llama.cpp", q_path, name,
                           t->type, (unsigned long long)r);
        }
        mem_free(buf);
        compared++;
    }
    gguf_close(src);
    gguf_close(q);
    return compared;
}

TEST(kern_quantize_matches_llama_cpp_stories)
{
    ASSERT(compare_quantized(MODELS "stories260K.gguf", MODELS "stories260K-F16.gguf") > 0);
    ASSERT(compare_quantized(MODELS "stories260K.gguf", MODELS "stories260K-Q8_0.gguf") > 0);
    ASSERT(compare_quantized(MODELS "stories260K.gguf", MODELS "stories260K-Q4_0.gguf") > 0);
}

TEST(kern_quantize_matches_llama_cpp_synth)
{
    static const char *const files[] = {"Q8_0", "Q4_0",   "Q4_1",   "Q5_0",   "Q5_1",
                                        "Q2_K", "Q3_K_M", "Q4_K_M", "Q4_K_S", "Q5_K_M",
                                        "Q6_K", "BF16",   "F16"};
    const char *src = MODELS "synth-llama-d256-f32.gguf";
    if (access(src, R_OK) != 0) {
        fprintf(stderr, "  %s not present: synth byte-equality not checked here\n", src);
        return;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, MODELS "synth-llama-d256-%s.gguf", files[i]);
        if (access(path, R_OK) == 0)
            ASSERT(compare_quantized(src, path) > 0);
    }
}

/* Every fast table's mul_mat over each 2-D tensor of a real file (first 64 rows, 5 tokens of
 * random activations) against the scalar one, same tolerance as test_kern.c. */
static void fast_vs_ref_file(const char *path)
{
    struct gguf *g = NULL;
    struct err_info ei;
    memset(&ei, 0, sizeof ei);
    ASSERT_OK(gguf_open_file(path, 1, &g, &ei));
    const struct kern *rk = kern_get(KERN_ISA_SCALAR);
    uint64_t seed = 99;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->tensors[i];
        if (t->n_dims != 2 || !kern_type_supported(t->type))
            continue;
        int64_t ncol = t->ne[0], nrow = t->ne[1] < 64 ? t->ne[1] : 64;
        enum { NT = 5 };
        uint32_t at = rk->vec_dot_type(t->type);
        size_t rb = kern_row_bytes(t->type, ncol), arb = kern_row_bytes(at, ncol);
        float *xf = mem_alloc(sizeof(float) * (size_t)ncol),
              *o1 = mem_alloc(sizeof(float) * NT * 64), *o2 = mem_alloc(sizeof(float) * NT * 64),
              *dw = mem_alloc(sizeof(float) * (size_t)ncol),
              *da = mem_alloc(sizeof(float) * (size_t)ncol);
        uint8_t *xa = mem_alloc(arb * NT);
        for (int tk = 0; tk < NT; tk++) {
            for (int64_t c = 0; c < ncol; c++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                xf[c] = (float)(int64_t)(seed >> 40) / 8388608.0f - 1.0f;
            }
            rk->quantize_row(at, xf, xa + (size_t)tk * arb, ncol);
        }
        rk->mul_mat(t->type, t->data, rb, ncol, 0, nrow, xa, arb, NT, o1, nrow);
        for (int isa = KERN_ISA_AVX2; isa <= KERN_ISA_AVX512; isa++) {
            const struct kern *fk = kern_get((enum kern_isa)isa);
            if (!fk)
                continue;
            fk->mul_mat(t->type, t->data, rb, ncol, 0, nrow, xa, arb, NT, o2, nrow);
            for (int tk = 0; tk < NT; tk++)
                for (int64_t r = 0; r < nrow; r++) {
                    rk->dequantize_row(t->type, (const uint8_t *)t->data + (size_t)r * rb, dw,
                                       ncol);
                    rk->dequantize_row(at, xa + (size_t)tk * arb, da, ncol);
                    double s = 0.0;
                    for (int64_t c = 0; c < ncol; c++)
                        s += fabs((double)dw[c] * (double)da[c]);
                    double tol = (double)ncol * 1.2e-7 * s + 1e-7;
                    double a = o1[tk * nrow + r], b = o2[tk * nrow + r];
                    if (fabs(a - b) > tol)
                        TEST_FAIL_("%s %.*s %s row %lld tok %d: %g vs ref %g", path, (int)t->name.n,
                                   t->name.p, fk->name, (long long)r, tk, b, a);
                }
        }
        mem_free(xf);
        mem_free(o1);
        mem_free(o2);
        mem_free(dw);
        mem_free(da);
        mem_free(xa);
    }
    gguf_close(g);
}

TEST_T(kern_fast_matches_ref_on_llama_cpp_files, 120)
{
    static const char *const files[] = {"Q8_0",   "Q4_0",   "Q4_1",   "Q5_0", "Q5_1", "Q2_K",
                                        "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "BF16", "F16"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, MODELS "synth-llama-d256-%s.gguf", files[i]);
        if (access(path, R_OK) == 0)
            fast_vs_ref_file(path);
    }
    fast_vs_ref_file(MODELS "stories260K-Q4_0.gguf");
}

/* Expected relative RMS error of each type on normal data (see test_kern.c round trip). */
static double type_bound(uint32_t t)
{
    switch (t) {
    case GGUF_T_F16:
        return 4e-4;
    case GGUF_T_BF16:
        return 3e-3;
    case GGUF_T_Q8_0:
        return 0.007;
    case GGUF_T_Q4_0:
    case GGUF_T_Q4_1:
        return 0.11;
    case GGUF_T_Q5_0:
    case GGUF_T_Q5_1:
        return 0.055;
    case GGUF_T_Q2_K:
        return 0.42;
    case GGUF_T_Q3_K:
        return 0.22;
    case GGUF_T_Q4_K:
        return 0.10;
    case GGUF_T_Q5_K:
        return 0.05;
    case GGUF_T_Q6_K:
        return 0.025;
    default:
        return 0.0;
    }
}

/* Every tensor of llama.cpp's quantized synth files, dequantized by the reference, stays within
 * its type's error bound of the F16 file's values (F16 is 2^-11 from the F32 source, far below
 * every bound but F16's own). */
TEST_T(kern_dequant_llama_cpp_files_vs_f16, 120)
{
    static const char *const files[] = {"Q8_0",   "Q4_0",   "Q4_1",   "Q5_0", "Q5_1", "Q2_K",
                                        "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "BF16"};
    struct gguf *ref = NULL;
    struct err_info ei;
    memset(&ei, 0, sizeof ei);
    ASSERT_OK(gguf_open_file(MODELS "synth-llama-d256-F16.gguf", 1, &ref, &ei));
    const struct kern *k = kern_get(KERN_ISA_SCALAR);
    int checked = 0;
    for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
        char path[256];
        snprintf(path, sizeof path, MODELS "synth-llama-d256-%s.gguf", files[fi]);
        struct gguf *g = NULL;
        ASSERT_OK(gguf_open_file(path, 1, &g, &ei));
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const struct gguf_tensor *t = &g->tensors[i];
            if (t->type == GGUF_T_F32)
                continue;
            char name[GGUF_MAX_NAME + 1];
            snprintf(name, sizeof name, "%.*s", (int)t->name.n, t->name.p);
            const struct gguf_tensor *f = gguf_tensor_find(ref, name);
            ASSERT(f != NULL && f->type == GGUF_T_F16 && f->ne[0] == t->ne[0]);
            int64_t n = (int64_t)(t->nbytes / kern_type_block_bytes(t->type)) *
                        kern_type_block_elems(t->type);
            float *a = mem_alloc(sizeof(float) * (size_t)n),
                  *b = mem_alloc(sizeof(float) * (size_t)n);
            k->dequantize_row(t->type, t->data, a, n);
            k->dequantize_row(GGUF_T_F16, f->data, b, n);
            double se = 0.0, sb = 0.0;
            for (int64_t j = 0; j < n; j++) {
                se += ((double)a[j] - (double)b[j]) * ((double)a[j] - (double)b[j]);
                sb += (double)b[j] * (double)b[j];
            }
            double rel = sqrt(se / sb);
            if (getenv("KERN_TEST_VERBOSE"))
                fprintf(stderr, "  %s %s type %u rel %.4f\n", files[fi], name, t->type, rel);
            if (!(rel <= type_bound(t->type)))
                TEST_FAIL_("%s %s (type %u): relative rms error %g > %g", path, name, t->type, rel,
                           type_bound(t->type));
            mem_free(a);
            mem_free(b);
            checked++;
        }
        gguf_close(g);
    }
    gguf_close(ref);
    ASSERT(checked > 50);
}

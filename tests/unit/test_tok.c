/*
 * test_tok.c - tokenizer tests: llama.cpp's vocab test vectors (tests/data/vocab/NAME.inp/.out,
 * add_special = 0, parse_special = 0), reference prompts with specials, special-token parsing
 * on/off, the streaming detokenizer's UTF-8 hold-back, round trips of random UTF-8 (SPM and
 * BPE are lossless; WordPiece is not: lowercase, accents, punctuation spacing), every
 * pre-tokenizer variant, loader error handling, load speed and concurrent use.
 */
#include "harness/test.h"

#include <pthread.h>
#include <time.h>

#include "common/fs.h"
#include "common/mem.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_write.h"
#include "engine/tok/tok.h"
#include "engine/tok/tok_int.h" /* tok_spm_word_split_equivalent flips an internal switch */

#define VOCAB_DIR "tests/data/vocab/"
#define MAX_IDS   4096

struct tv {
    struct gguf *g;
    struct tok_vocab *v;
};

static void tv_open(struct tv *t, const char *path)
{
    struct err_info ei = {0};
    int rc = gguf_open_file(path, 0, &t->g, &ei);
    if (rc)
        TEST_FAIL_("gguf_open_file(%s): %d %s", path, rc, ei.msg);
    rc = tok_vocab_load(t->g, &t->v, &ei);
    if (rc)
        TEST_FAIL_("tok_vocab_load(%s): %d %s", path, rc, ei.msg);
}

static void tv_close(struct tv *t)
{
    tok_vocab_free(t->v);
    gguf_close(t->g);
}

/* Encodes s and compares with the space-separated ids in want. */
static int check_ids(const struct tok_vocab *v, const char *s, size_t n, int add_special,
                     int parse_special, const char *want)
{
    int32_t ids[MAX_IDS];
    size_t n_ids = 0, k = 0;
    int rc = tok_encode(v, s, n, add_special, parse_special, ids, MAX_IDS, &n_ids);
    const char *p = want;
    int ok = rc == 0;
    while (ok && *p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p)
            break;
        ok = k < n_ids && ids[k] == x;
        k++;
        p = end;
    }
    ok = ok && k == n_ids;
    if (!ok) {
        fprintf(stderr, "  case \"%.*s\" (rc %d)\n    want:%s\n    got: ", (int)n, s, rc, want);
        for (size_t i = 0; i < n_ids && i < MAX_IDS; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    return ok;
}

/* Runs every case of VOCAB_DIR name.gguf.inp/.out; returns the number of failures. */
static void run_vectors(const char *name)
{
    char path[256], *inp = NULL, *outp = NULL;
    size_t n_inp = 0, n_out = 0;
    const char *sep = "\n__ggml_vocab_test__\n";
    struct tv t;
    int cases = 0, bad = 0;
    snprintf(path, sizeof(path), VOCAB_DIR "%s.gguf", name);
    tv_open(&t, path);
    snprintf(path, sizeof(path), VOCAB_DIR "%s.gguf.inp", name);
    ASSERT_OK(fs_read_all(path, 1 << 20, &inp, &n_inp));
    snprintf(path, sizeof(path), VOCAB_DIR "%s.gguf.out", name);
    ASSERT_OK(fs_read_all(path, 1 << 20, &outp, &n_out));
    char *ip = inp, *op = outp;
    while (ip < inp + n_inp) {
        char *e = memmem(ip, (size_t)(inp + n_inp - ip), sep, strlen(sep));
        size_t len = e ? (size_t)(e - ip) : (size_t)(inp + n_inp - ip);
        char *nl = strchr(op, '\n');
        ASSERT(nl != NULL);
        *nl = 0;
        bad += !check_ids(t.v, ip, len, 0, 0, op);
        cases++;
        op = nl + 1;
        ip = e ? e + strlen(sep) : inp + n_inp;
    }
    fprintf(stderr, "  %s: %d cases, %d failed\n", name, cases, bad);
    ASSERT_EQ_INT(cases, 46);
    ASSERT_EQ_INT(bad, 0);
    mem_free(inp);
    mem_free(outp);
    tv_close(&t);
}

TEST(tok_vectors_llama_spm)
{
    run_vectors("ggml-vocab-llama-spm");
}

TEST(tok_vectors_phi3)
{
    run_vectors("ggml-vocab-phi-3");
}

TEST(tok_vectors_llama_bpe)
{
    run_vectors("ggml-vocab-llama-bpe");
}

TEST(tok_vectors_qwen2)
{
    run_vectors("ggml-vocab-qwen2");
}

TEST(tok_vectors_gpt2)
{
    run_vectors("ggml-vocab-gpt-2");
}

TEST(tok_vectors_bert_bge)
{
    run_vectors("ggml-vocab-bert-bge");
}

/* Reference ids with add_special = 1, parse_special = 1 (inference-reference.md B.3). */
static void check_ref(const char *file, const char *text, const char *want)
{
    struct tv t;
    tv_open(&t, file);
    ASSERT(check_ids(t.v, text, strlen(text), 1, 1, want));
    tv_close(&t);
}

TEST(tok_once_upon_a_time)
{
    const char *s = "Once upon a time";
    check_ref("tests/data/models/stories260K.gguf", s, "1 403 407 261 378");
    check_ref(VOCAB_DIR "ggml-vocab-llama-spm.gguf", s, "1 9038 2501 263 931");
    check_ref(VOCAB_DIR "ggml-vocab-phi-3.gguf", s, "1 9038 2501 263 931");
    check_ref(VOCAB_DIR "ggml-vocab-llama-bpe.gguf", s, "128000 12805 5304 264 892");
    check_ref(VOCAB_DIR "ggml-vocab-qwen2.gguf", s, "12522 5193 264 882");
    check_ref(VOCAB_DIR "ggml-vocab-gpt-2.gguf", s, "7454 2402 257 640");
    check_ref(VOCAB_DIR "ggml-vocab-bert-bge.gguf", s, "101 2320 2588 1037 2051 102");
}

TEST(tok_hello_specials_digits)
{
    const char *s = "Hello  world!\n 123456 naïve <|im_start|> <s>";
    check_ref(VOCAB_DIR "ggml-vocab-llama-spm.gguf", s,
              "1 15043 29871 3186 29991 13 29871 29896 29906 29941 29946 29945 29953 1055 30085 "
              "345 529 29989 326 29918 2962 29989 29958 29871 1");
    check_ref(VOCAB_DIR "ggml-vocab-llama-bpe.gguf", s,
              "128000 9906 220 1917 4999 220 4513 10961 95980 588 83739 318 5011 91 29 366 82 29");
    check_ref(VOCAB_DIR "ggml-vocab-qwen2.gguf", s,
              "9707 220 1879 4894 220 16 17 18 19 20 21 94880 586 220 151644 366 82 29");
}

TEST(tok_parse_special_on_off)
{
    struct tv t;
    int32_t ids[64];
    size_t n = 0;
    tv_open(&t, VOCAB_DIR "ggml-vocab-qwen2.gguf");
    const char *s = "<|im_start|>user";
    ASSERT_OK(tok_encode(t.v, s, strlen(s), 0, 1, ids, 64, &n));
    ASSERT(n >= 2);
    ASSERT_EQ_INT(ids[0], 151644);
    ASSERT(tok_is_control(t.v, ids[0]));
    ASSERT_OK(tok_encode(t.v, s, strlen(s), 0, 0, ids, 64, &n));
    ASSERT(n > 2);
    for (size_t i = 0; i < n; i++)
        ASSERT(ids[i] != 151644);
    tv_close(&t);

    tv_open(&t, VOCAB_DIR "ggml-vocab-llama-spm.gguf");
    s = "a</s>b";
    ASSERT_OK(tok_encode(t.v, s, strlen(s), 0, 1, ids, 64, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(ids[1], 2);
    ASSERT_OK(tok_encode(t.v, s, strlen(s), 0, 0, ids, 64, &n));
    for (size_t i = 0; i < n; i++)
        ASSERT(ids[i] != 2);
    ASSERT(tok_is_eog(t.v, 2));
    ASSERT(!tok_is_eog(t.v, 1));
    tv_close(&t);
}

TEST(tok_range_and_accessors)
{
    struct tv t;
    int32_t ids[2];
    size_t n = 0, len = 0;
    tv_open(&t, VOCAB_DIR "ggml-vocab-llama-spm.gguf");
    ASSERT_EQ_SIZE(tok_n_vocab(t.v), 32000);
    ASSERT(tok_max_piece(t.v) >= 16 && tok_max_piece(t.v) <= 48);
    ASSERT_EQ_INT(tok_kind(t.v), TOK_KIND_SPM);
    ASSERT_EQ_INT(tok_bos(t.v), 1);
    ASSERT_EQ_INT(tok_eos(t.v), 2);
    ASSERT_EQ_INT(tok_unk(t.v), 0);
    ASSERT_EQ_INT(tok_nl(t.v), 13);
    ASSERT_EQ_INT(tok_encode(t.v, "Once upon a time", 16, 1, 1, ids, 2, &n), E_RANGE);
    ASSERT_EQ_SIZE(n, 5);
    ASSERT_EQ_INT(tok_encode(t.v, "Once upon a time", 16, 1, 1, NULL, 0, &n), E_RANGE);
    ASSERT_EQ_SIZE(n, 5);
    const char *p = tok_piece(t.v, 13, &len); /* <0x0A> */
    ASSERT_EQ_SIZE(len, 1);
    ASSERT(p[0] == '\n');
    p = tok_piece(t.v, 9038, &len); /* ▁Once */
    ASSERT_EQ_SIZE(len, 5);
    ASSERT_MEMEQ(p, " Once", 5);
    ASSERT_EQ_STR(tok_text(t.v, 9038), "\xe2\x96\x81Once");
    ASSERT_EQ_INT(tok_find(t.v, "\xe2\x96\x81Once", 7), 9038);
    ASSERT_EQ_INT(tok_find(t.v, "no such token", 13), TOK_NONE);
    p = tok_piece(t.v, -5, &len);
    ASSERT_EQ_SIZE(len, 0);
    p = tok_piece(t.v, 32000, &len);
    ASSERT_EQ_SIZE(len, 0);
    tv_close(&t);
}

/* The detokenizer holds back incomplete UTF-8 and emits it once complete. */
TEST(tok_detok_utf8_holdback)
{
    struct tv t;
    struct tok_detok d;
    char out[TOK_DETOK_MAX_OUT];
    size_t n = 0;
    tv_open(&t, VOCAB_DIR "ggml-vocab-llama-spm.gguf");
    /* "é" = C3 A9 as byte tokens <0xC3> <0xA9> (ids 3 + byte). */
    tok_detok_init(&d, t.v, 0);
    ASSERT_OK(tok_detok_push(&d, 3 + 0xC3, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 0);
    ASSERT_OK(tok_detok_push(&d, 3 + 0xA9, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 2);
    ASSERT_MEMEQ(out, "\xc3\xa9", 2);
    /* A 4-byte emoji F0 9F 98 80 split over four tokens, then a normal token. */
    ASSERT_OK(tok_detok_push(&d, 3 + 0xF0, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 0);
    ASSERT_OK(tok_detok_push(&d, 3 + 0x9F, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 0);
    ASSERT_OK(tok_detok_push(&d, 3 + 0x98, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 0);
    ASSERT_OK(tok_detok_push(&d, 3 + 0x80, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 4);
    ASSERT_MEMEQ(out, "\xf0\x9f\x98\x80", 4);
    /* An incomplete sequence followed by text is flushed by the text?  No: it is invalid, so it
     * is emitted as is together with the text. */
    ASSERT_OK(tok_detok_push(&d, 3 + 0xE2, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 0);
    ASSERT_OK(tok_detok_push(&d, 9038, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 6);
    ASSERT_MEMEQ(out, "\xe2 Once", 6);
    /* Held bytes come out on flush. */
    ASSERT_OK(tok_detok_push(&d, 3 + 0xE2, out, sizeof(out), &n));
    ASSERT_OK(tok_detok_push(&d, 3 + 0x96, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 0);
    ASSERT_EQ_INT(tok_detok_push(&d, 9038, out, 3, &n), E_RANGE); /* state unchanged */
    ASSERT_OK(tok_detok_flush(&d, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 2);
    ASSERT_MEMEQ(out, "\xe2\x96", 2);
    ASSERT_EQ_INT(tok_detok_push(&d, 99999, out, sizeof(out), &n), E_INVAL);
    /* Control tokens render only when asked. */
    ASSERT_OK(tok_detok_push(&d, 1, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 0);
    tok_detok_init(&d, t.v, TOK_DETOK_SPECIAL);
    ASSERT_OK(tok_detok_push(&d, 1, out, sizeof(out), &n));
    ASSERT_EQ_SIZE(n, 3);
    ASSERT_MEMEQ(out, "<s>", 3);
    tv_close(&t);
}

/* Random valid UTF-8: ASCII, Latin, Cyrillic, CJK, emoji, whitespace runs. */
static size_t random_utf8(unsigned *seed, char *out, size_t max_chars)
{
    static const uint32_t ranges[][2] = {
        {0x20, 0x7E},   {0x20, 0x7E},     {0x20, 0x7E},       {0x09, 0x0A},     {0xC0, 0x17F},
        {0x400, 0x4FF}, {0x4E00, 0x9FFF}, {0x1F600, 0x1F64F}, {0x0E00, 0x0E7F}, {0x20, 0x20},
    };
    size_t n = 0, chars = (size_t)(rand_r(seed) % (int)max_chars) + 1;
    for (size_t i = 0; i < chars; i++) {
        const uint32_t *r = ranges[rand_r(seed) % 10];
        uint32_t cp = r[0] + (uint32_t)rand_r(seed) % (r[1] - r[0] + 1);
        if (cp < 0x80) {
            out[n++] = (char)cp;
        } else if (cp < 0x800) {
            out[n++] = (char)(0xC0 | (cp >> 6));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[n++] = (char)(0xE0 | (cp >> 12));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[n++] = (char)(0xF0 | (cp >> 18));
            out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return n;
}

static void round_trip(const char *file, int iters)
{
    struct tv t;
    unsigned seed = 12345;
    char s[1024], back[8192];
    int32_t ids[2048];
    tv_open(&t, file);
    for (int it = 0; it < iters; it++) {
        size_t n = random_utf8(&seed, s, 64), n_ids = 0, nb = 0;
        ASSERT_OK(tok_encode(t.v, s, n, it & 1, 0, ids, 2048, &n_ids));
        ASSERT_OK(tok_decode(t.v, ids, n_ids, 0, back, sizeof(back), &nb));
        if (nb != n || memcmp(back, s, n) != 0)
            TEST_FAIL_("%s: round trip of \"%.*s\" gave \"%.*s\"", file, (int)n, s, (int)nb, back);
    }
    tv_close(&t);
}

TEST(tok_round_trip_spm)
{
    round_trip(VOCAB_DIR "ggml-vocab-llama-spm.gguf", 300);
    round_trip(VOCAB_DIR "ggml-vocab-phi-3.gguf", 300);
    round_trip("tests/data/models/stories260K.gguf", 300);
}

TEST(tok_round_trip_bpe)
{
    round_trip(VOCAB_DIR "ggml-vocab-llama-bpe.gguf", 300);
    round_trip(VOCAB_DIR "ggml-vocab-qwen2.gguf", 300);
    round_trip(VOCAB_DIR "ggml-vocab-gpt-2.gguf", 300);
}

/* Invalid UTF-8 is encoded without error; SPM and BPE keep the bytes (byte fallback). */
TEST(tok_invalid_utf8_lossless)
{
    const char *files[] = {VOCAB_DIR "ggml-vocab-llama-spm.gguf", VOCAB_DIR "ggml-vocab-qwen2.gguf",
                           VOCAB_DIR "ggml-vocab-gpt-2.gguf"};
    const char s[] = "ab\xff\xfe c\xc3 \xe2\x82 d\x80\xf0\x9f";
    for (size_t f = 0; f < 3; f++) {
        struct tv t;
        int32_t ids[256];
        char back[256];
        size_t n = 0, nb = 0;
        tv_open(&t, files[f]);
        ASSERT_OK(tok_encode(t.v, s, sizeof(s) - 1, 0, 0, ids, 256, &n));
        ASSERT_OK(tok_decode(t.v, ids, n, 0, back, sizeof(back), &nb));
        ASSERT_EQ_SIZE(nb, sizeof(s) - 1);
        ASSERT_MEMEQ(back, s, nb);
        tv_close(&t);
    }
}

static double clock_ms(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Limit scaled for sanitizer/valgrind runs (TEST_TIMEOUT_MULT). */
static double time_limit_ms(double ms)
{
    const char *m = getenv("TEST_TIMEOUT_MULT");
    double k = m ? strtod(m, NULL) : 1.0;
    return ms * (k > 1.0 ? k : 1.0);
}

/* Guard against accidental quadratic loading (a linear scan per token would take minutes on a
 * 150K vocabulary): the bound is 20x the measured ~25-80 ms, on the thread's CPU time (best of 5),
 * so machine noise cannot fail it.  The real speed is printed, and measured in benchmarks. */
TEST(tok_load_speed)
{
    struct gguf *g = NULL;
    struct tok_vocab *v = NULL;
    struct err_info ei = {0};
    ASSERT_OK(gguf_open_file(VOCAB_DIR "ggml-vocab-qwen2.gguf", 0, &g, &ei));
    double best = 1e9, best_wall = 1e9;
    for (int i = 0; i < 5; i++) {
        double c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID), w0 = clock_ms(CLOCK_MONOTONIC);
        ASSERT_OK(tok_vocab_load(g, &v, &ei));
        double dc = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0, dw = clock_ms(CLOCK_MONOTONIC) - w0;
        best = dc < best ? dc : best;
        best_wall = dw < best_wall ? dw : best_wall;
        tok_vocab_free(v);
    }
    fprintf(stderr, "  qwen2 (151,936 tokens, 151,387 merges) loads in %.1f ms CPU, %.1f ms wall\n",
            best, best_wall);
    ASSERT(best < time_limit_ms(2000.0));
    gguf_close(g);
}

/* ---- vocabularies rewritten with the GGUF writer ------------------------------------------ */


/* Copies the key/values of src and applies edit; returns the serialized file (mem_free). */
typedef int (*kv_edit_fn)(struct gguf_writer *w, const void *arg);

static uint8_t *rewrite(const char *src, kv_edit_fn edit, const void *arg, uint64_t *n)
{
    struct gguf *g = NULL;
    struct gguf_writer *w = NULL;
    struct err_info ei = {0};
    uint8_t *out = NULL;
    ASSERT_OK(gguf_open_file(src, 0, &g, &ei));
    ASSERT_OK(gguf_w_new(&w));
    ASSERT_OK(gguf_w_copy_kvs(w, g));
    ASSERT_OK(edit(w, arg));
    ASSERT_OK(gguf_w_to_mem(w, &out, n));
    gguf_w_free(w);
    gguf_close(g);
    return out;
}

static int set_pre(struct gguf_writer *w, const void *arg)
{
    return gguf_w_set_str(w, "tokenizer.ggml.pre", arg);
}

/* Loads src with tokenizer.ggml.pre = pre; *mem must be freed after closing. */
static struct tok_vocab *load_with_pre(const char *src, const char *pre, struct gguf **g,
                                       uint8_t **mem)
{
    struct tok_vocab *v = NULL;
    struct err_info ei = {0};
    uint64_t n = 0;
    *mem = rewrite(src, set_pre, pre, &n);
    ASSERT_OK(gguf_open_mem(*mem, n, 0, g, &ei));
    int rc = tok_vocab_load(*g, &v, &ei);
    if (rc)
        TEST_FAIL_("pre %s: %d %s", pre, rc, ei.msg);
    return v;
}

static size_t count_ids(const struct tok_vocab *v, const char *s)
{
    size_t n = 0;
    int rc = tok_encode(v, s, strlen(s), 0, 0, NULL, 0, &n);
    ASSERT(rc == E_RANGE || (rc == 0 && n == 0));
    return n;
}

/* Every pre-tokenizer variant compiles, splits losslessly and splits digits as it should. */
TEST(tok_pre_variants)
{
    static const struct {
        const char *pre;
        size_t digits; /* ids for "1234567" with the gpt-2 vocabulary */
    } pres[] = {
        {"default", 0},        {"llama3", 3},      {"llama-bpe", 3},   {"qwen2", 7},
        {"qwen35", 7},         {"gpt-2", 0},       {"phi-2", 0},       {"starcoder", 7},
        {"refact", 7},         {"command-r", 7},   {"smollm", 7},      {"deepseek-llm", 0},
        {"deepseek-coder", 7}, {"deepseek-v3", 3}, {"falcon", 0},      {"gpt-4o", 3},
        {"tekken", 7},         {"no-such-pre", 0}, {"chatglm-bpe", 3}, {"mpt", 0},
    };
    const char *text = "Hello, y'all! How are you \xf0\x9f\x98\x81 ?\xe6\x88\x91\xe6\x83\xb3"
                       "\xe5\x9c\xa8"
                       "apple 1314151\xe5\xa4\xa9 \t\n\n  x 'RE We'Ve \xff\xc3 end ";
    for (size_t i = 0; i < sizeof(pres) / sizeof(pres[0]); i++) {
        struct gguf *g = NULL;
        uint8_t *mem = NULL;
        struct tok_vocab *v =
            load_with_pre(VOCAB_DIR "ggml-vocab-gpt-2.gguf", pres[i].pre, &g, &mem);
        int32_t ids[512];
        char back[1024];
        size_t n = 0, nb = 0;
        ASSERT_OK(tok_encode(v, text, strlen(text), 0, 0, ids, 512, &n));
        ASSERT_OK(tok_decode(v, ids, n, 0, back, sizeof(back), &nb));
        if (nb != strlen(text) || memcmp(back, text, nb) != 0)
            TEST_FAIL_("pre %s: not lossless: \"%.*s\"", pres[i].pre, (int)nb, back);
        if (pres[i].digits)
            ASSERT_EQ_SIZE(count_ids(v, "1234567"), pres[i].digits);
        tok_vocab_free(v);
        gguf_close(g);
        mem_free(mem);
    }
}

/* llama3-style pre-tokenizers add BOS by default; the GGUF flag overrides. */
TEST(tok_pre_defaults)
{
    struct gguf *g = NULL;
    uint8_t *mem = NULL;
    struct tok_vocab *v = load_with_pre(VOCAB_DIR "ggml-vocab-gpt-2.gguf", "llama3", &g, &mem);
    ASSERT_EQ_INT(tok_add_bos(v), 1);
    ASSERT_EQ_STR(tok_pre_name(v), "llama3");
    tok_vocab_free(v);
    gguf_close(g);
    mem_free(mem);
    v = load_with_pre(VOCAB_DIR "ggml-vocab-gpt-2.gguf", "qwen2", &g, &mem);
    ASSERT_EQ_INT(tok_add_bos(v), 0);
    ASSERT_EQ_INT(tok_nl(v), 198); /* "Ċ" */
    tok_vocab_free(v);
    gguf_close(g);
    mem_free(mem);
}

struct kv_edit {
    int (*fn)(struct gguf_writer *w);
    int want_rc;
};

static int ed_model_t5(struct gguf_writer *w)
{
    return gguf_w_set_str(w, "tokenizer.ggml.model", "t5");
}

static int ed_no_tokens(struct gguf_writer *w)
{
    return gguf_w_remove(w, "tokenizer.ggml.tokens");
}

static int ed_no_model(struct gguf_writer *w)
{
    return gguf_w_remove(w, "tokenizer.ggml.model");
}

static int ed_short_scores(struct gguf_writer *w)
{
    float s[3] = {0, 0, 0};
    return gguf_w_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, s, 3);
}

static int ed_bad_type(struct gguf_writer *w)
{
    int32_t t[512];
    for (int i = 0; i < 512; i++)
        t[i] = i == 77 ? 42 : 1;
    return gguf_w_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, t, 512);
}

static int ed_scores_wrong_type(struct gguf_writer *w)
{
    int32_t s[512] = {0};
    return gguf_w_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_INT32, s, 512);
}

static int ed_tokens_not_strings(struct gguf_writer *w)
{
    int32_t s[4] = {0};
    return gguf_w_set_arr(w, "tokenizer.ggml.tokens", GGUF_VT_INT32, s, 4);
}

static int ed_gpt2_no_merges(struct gguf_writer *w)
{
    return gguf_w_set_str(w, "tokenizer.ggml.model", "gpt2");
}

static int ed_bad_merge(struct gguf_writer *w)
{
    const char *m[] = {"a b", "nospace"};
    int rc = gguf_w_set_str(w, "tokenizer.ggml.model", "gpt2");
    return rc ? rc : gguf_w_set_arr_str(w, "tokenizer.ggml.merges", m, 2);
}

static int ed_bos_out_of_range(struct gguf_writer *w)
{
    return gguf_w_set_u32(w, "tokenizer.ggml.bos_token_id", 100000);
}

static int apply_edit(struct gguf_writer *w, const void *arg)
{
    return ((const struct kv_edit *)arg)->fn(w);
}

/* Malformed tokenizer metadata gives clear errors, never a crash; bad ids keep defaults. */
TEST(tok_load_errors)
{
    static const struct kv_edit edits[] = {
        {ed_model_t5, E_UNSUPPORTED},     {ed_no_tokens, E_PARSE},
        {ed_no_model, E_PARSE},           {ed_short_scores, E_PARSE},
        {ed_bad_type, E_PARSE},           {ed_scores_wrong_type, E_PARSE},
        {ed_tokens_not_strings, E_PARSE}, {ed_gpt2_no_merges, E_PARSE},
        {ed_bad_merge, E_PARSE},          {ed_bos_out_of_range, 0},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        struct gguf *g = NULL;
        struct tok_vocab *v = NULL;
        struct err_info ei = {0};
        uint64_t n = 0;
        uint8_t *mem = rewrite("tests/data/models/stories260K.gguf", apply_edit, &edits[i], &n);
        ASSERT_OK(gguf_open_mem(mem, n, 0, &g, &ei));
        int rc = tok_vocab_load(g, &v, &ei);
        if (rc != edits[i].want_rc)
            TEST_FAIL_("edit %zu: rc %d, want %d (%s)", i, rc, edits[i].want_rc, ei.msg);
        if (rc)
            ASSERT(ei.msg[0] != 0);
        else
            ASSERT_EQ_INT(tok_bos(v), 1);
        tok_vocab_free(v);
        gguf_close(g);
        mem_free(mem);
    }
}

/* Phi-3's special tokens eat the whitespace after them (llama.cpp sets RSTRIP by model name);
 * end-of-turn tokens are found by text. */
TEST(tok_phi3_rstrip_and_eot)
{
    struct tv t;
    int32_t a[64], b[64];
    size_t na = 0, nb = 0;
    tv_open(&t, VOCAB_DIR "ggml-vocab-phi-3.gguf");
    const char *s1 = "<|user|>\n  Hello<|end|>\n<|assistant|>",
               *s2 = "<|user|>Hello<|end|><|assistant|>";
    ASSERT_OK(tok_encode(t.v, s1, strlen(s1), 1, 1, a, 64, &na));
    ASSERT_OK(tok_encode(t.v, s2, strlen(s2), 1, 1, b, 64, &nb));
    ASSERT_EQ_SIZE(na, nb);
    ASSERT_MEMEQ(a, b, na * sizeof(int32_t));
    ASSERT_EQ_SIZE(na, 5); /* <s> <|user|> ▁Hello <|end|> <|assistant|> */
    ASSERT_EQ_INT(a[1], 32010);
    ASSERT_EQ_INT(a[2], 15043);
    ASSERT_EQ_INT(tok_eot(t.v), 32007);
    ASSERT(tok_is_eog(t.v, 32007));
    ASSERT(tok_is_eog(t.v, 32000));
    ASSERT(!tok_is_eog(t.v, 32010));
    /* <s> keeps the whitespace after it. */
    ASSERT_OK(tok_encode(t.v, "<s> Hi", 6, 0, 1, a, 64, &na));
    ASSERT_OK(tok_encode(t.v, "<s>Hi", 5, 0, 1, b, 64, &nb));
    ASSERT(na != nb || memcmp(a, b, na * sizeof(int32_t)) != 0);
    tv_close(&t);

    tv_open(&t, VOCAB_DIR "ggml-vocab-qwen2.gguf");
    ASSERT_EQ_INT(tok_eot(t.v), 151645); /* <|im_end|> */
    ASSERT(tok_is_eog(t.v, 151645));
    ASSERT(tok_is_eog(t.v, 151643));
    tv_close(&t);
    tv_open(&t, VOCAB_DIR "ggml-vocab-llama-bpe.gguf");
    ASSERT_EQ_INT(tok_eot(t.v), 128009); /* <|eot_id|> */
    ASSERT(tok_is_eog(t.v, 128009));
    ASSERT(tok_is_eog(t.v, 128001));
    ASSERT(!tok_is_eog(t.v, 128000));
    tv_close(&t);
}

/* WordPiece is lossy (lowercase, accents, punctuation spacing) but plain lowercase words with
 * single spaces come back exactly. */
TEST(tok_bert_round_trip_lowercase)
{
    struct tv t;
    int32_t ids[64];
    char back[256];
    size_t n = 0, nb = 0;
    tv_open(&t, VOCAB_DIR "ggml-vocab-bert-bge.gguf");
    const char *s = "once upon a time there was a tokenizer";
    ASSERT_OK(tok_encode(t.v, s, strlen(s), 1, 0, ids, 64, &n));
    ASSERT_EQ_INT(ids[0], 101);
    ASSERT_EQ_INT(ids[n - 1], 102);
    ASSERT_OK(tok_decode(t.v, ids, n, 0, back, sizeof(back), &nb));
    ASSERT_EQ_SIZE(nb, strlen(s));
    ASSERT_MEMEQ(back, s, nb);
    /* Case and accents are not kept. */
    ASSERT_OK(tok_encode(t.v, "\xc3\x84PFEL", 6, 0, 0, ids, 64, &n));
    ASSERT_OK(tok_decode(t.v, ids, n, 0, back, sizeof(back), &nb));
    ASSERT_EQ_SIZE(nb, 5);
    ASSERT_MEMEQ(back, "apfel", 5);
    tv_close(&t);
}

/* Many special tokens and a long text: the partition stays exact (and fast). */
TEST(tok_specials_long_text)
{
    struct tv t;
    size_t len = 200000, n = 0, n2 = 0;
    char *s = mem_alloc(len + 64);
    int32_t *ids = mem_alloc_array(len + 64, sizeof(int32_t));
    ASSERT(s && ids);
    tv_open(&t, VOCAB_DIR "ggml-vocab-llama-bpe.gguf");
    for (size_t i = 0; i < len; i++)
        s[i] = "abc <|>\n"[i % 8];
    const char *sp = "<|reserved_special_token_7|>";
    memcpy(s + len / 2, sp, strlen(sp));
    ASSERT_OK(tok_encode(t.v, s, len, 0, 1, ids, len + 64, &n));
    int32_t want = tok_find(t.v, sp, strlen(sp));
    ASSERT(want >= 0);
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += ids[i] == want;
    ASSERT_EQ_SIZE(hits, 1);
    ASSERT_OK(tok_encode(t.v, s, len, 0, 0, ids, len + 64, &n2));
    for (size_t i = 0; i < n2; i++)
        ASSERT(ids[i] != want);
    tv_close(&t);
    mem_free(s);
    mem_free(ids);
}

/* SPM merges word by word when the vocabulary allows it (no "▁" inside a token after another
 * character); the result must equal merging the whole text at once. */

TEST(tok_spm_word_split_equivalent)
{
    struct tv t;
    unsigned seed = 99;
    char s[2048];
    int32_t a[2048], b[2048];
    tv_open(&t, VOCAB_DIR "ggml-vocab-llama-spm.gguf");
    ASSERT_EQ_INT(t.v->spm_word_split, 1);
    for (int it = 0; it < 300; it++) {
        size_t n = random_utf8(&seed, s, 400), na = 0, nb = 0;
        /* More spaces and runs of them (this also breaks some UTF-8 sequences: fine, both
         * ways must agree on any bytes). */
        for (size_t k = 0; k < n; k++)
            if (rand_r(&seed) % 7 == 0)
                s[k] = ' ';
        t.v->spm_word_split = 1;
        ASSERT_OK(tok_encode(t.v, s, n, it & 1, 1, a, 2048, &na));
        t.v->spm_word_split = 0;
        ASSERT_OK(tok_encode(t.v, s, n, it & 1, 1, b, 2048, &nb));
        ASSERT_EQ_SIZE(na, nb);
        ASSERT_MEMEQ(a, b, na * sizeof(int32_t));
    }
    tv_close(&t);
}

/* Text over the cap is refused before it is read. */
TEST(tok_text_cap)
{
    struct tv t;
    size_t n = 7;
    char *s = mem_calloc(TOK_MAX_TEXT_BYTES + 1, 1);
    ASSERT(s != NULL);
    tv_open(&t, "tests/data/models/stories260K.gguf");
    ASSERT_EQ_INT(tok_encode(t.v, s, TOK_MAX_TEXT_BYTES + 1, 0, 0, NULL, 0, &n), E_RANGE);
    ASSERT_EQ_INT(tok_encode(t.v, NULL, 3, 0, 0, NULL, 0, &n), E_INVAL);
    ASSERT_OK(tok_encode(t.v, "", 0, 0, 0, NULL, 0, &n));
    ASSERT_EQ_SIZE(n, 0);
    ASSERT_EQ_INT(tok_encode(t.v, "", 0, 1, 0, NULL, 0, &n), E_RANGE); /* BOS only */
    ASSERT_EQ_SIZE(n, 1);
    tv_close(&t);
    mem_free(s);
}

/* A loaded vocabulary is shared by threads: concurrent encodes give the single-thread ids. */

struct enc_job {
    const struct tok_vocab *v;
    unsigned seed;
    uint64_t sum; /* checksum of every id of every text */
    int err;
};

static void *enc_thread(void *arg)
{
    struct enc_job *j = arg;
    char s[512];
    int32_t ids[1024];
    for (int it = 0; it < 200; it++) {
        size_t n = random_utf8(&j->seed, s, 100), k = 0;
        j->err |= tok_encode(j->v, s, n, 1, 1, ids, 1024, &k);
        for (size_t i = 0; i < k; i++)
            j->sum = j->sum * 1000003u + (uint64_t)ids[i];
    }
    return NULL;
}

TEST(tok_threads)
{
    struct tv t;
    pthread_t th[4];
    struct enc_job jobs[4], ref;
    tv_open(&t, VOCAB_DIR "ggml-vocab-qwen2.gguf");
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct enc_job){t.v, (unsigned)i + 1, 0, 0};
        ASSERT_OK(pthread_create(&th[i], NULL, enc_thread, &jobs[i]));
    }
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(pthread_join(th[i], NULL));
        ASSERT_EQ_INT(jobs[i].err, 0);
        ref = (struct enc_job){t.v, (unsigned)i + 1, 0, 0};
        enc_thread(&ref); /* the same texts on this thread alone */
        ASSERT(ref.sum == jobs[i].sum);
    }
    tv_close(&t);
}

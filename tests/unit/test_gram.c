/*
 * test_gram.c - the grammar engine (engine/gram): parser accept/reject and error messages,
 * matcher vectors (literals, classes, repetition, nesting, UTF-8 split across feeds), caps on
 * hostile grammars, and token masking / constrained sampling over a small fake vocabulary.
 */
#include <math.h>
#include <string.h>

#include <time.h>

#include "api/api_format.h"
#include "common/buf.h"
#include "common/mem.h"
#include "engine/engine.h"
#include "engine/gguf/gguf.h"
#include "engine/gram/gram.h"
#include "engine/tok/tok.h"
#include "harness/test.h"

static struct gram *compile(const char *text)
{
    struct gram *g = NULL;
    struct err_info ei = {0};
    int rc = gram_compile(text, strlen(text), &g, &ei);
    if (rc != 0)
        TEST_FAIL_("compile failed (%d): %s", rc, ei.msg);
    return g;
}

/* 1 when s is a complete sentence of the grammar. */
static int matches(const struct gram *g, const char *s)
{
    struct gram_matcher *m = NULL;
    int ok;
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ok = gram_matcher_accept(m, s, strlen(s)) == 0 && gram_matcher_complete(m);
    gram_matcher_free(m);
    return ok;
}

/* 1 when s is a prefix of some sentence. */
static int prefix_ok(const struct gram *g, const char *s)
{
    struct gram_matcher *m = NULL;
    int ok;
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ok = gram_matcher_accept(m, s, strlen(s)) == 0;
    gram_matcher_free(m);
    return ok;
}

static int compile_err(const char *text, char *msg, size_t cap)
{
    struct gram *g = NULL;
    struct err_info ei = {0};
    int rc = gram_compile(text, strlen(text), &g, &ei);
    gram_free(g);
    if (msg)
        snprintf(msg, cap, "%s", ei.msg);
    return rc;
}

TEST(gram_literals_and_alternation)
{
    struct gram *g = compile("root ::= \"ab\" | \"cd\" x\nx ::= \"!\"");
    ASSERT(matches(g, "ab"));
    ASSERT(matches(g, "cd!"));
    ASSERT(!matches(g, "cd"));
    ASSERT(prefix_ok(g, "cd"));
    ASSERT(!prefix_ok(g, "ac"));
    ASSERT(!matches(g, "ab!"));
    gram_free(g);
}

TEST(gram_classes)
{
    struct gram *g = compile("root ::= [a-c0-9_] [^x-z\\n] .");
    ASSERT(matches(g, "a1q"));
    ASSERT(matches(g, "_A\xc3\xa9"));
    ASSERT(!matches(g, "dAq"));
    ASSERT(!matches(g, "ayq"));
    ASSERT(!matches(g, "a\nq"));
    ASSERT(!matches(g, "a1"));
    gram_free(g);
}

TEST(gram_repetition)
{
    struct gram *g = compile("root ::= \"a\"* \"b\"+ \"c\"? d{2} e{1,3} f{2,}\n"
                             "d ::= \"d\"\ne ::= \"e\"\nf ::= \"f\"");
    ASSERT(matches(g, "bddeff"));
    ASSERT(matches(g, "aaabbbcddeeefffff"));
    ASSERT(!matches(g, "ddeff"));     /* b+ needs one */
    ASSERT(!matches(g, "bdeff"));     /* d{2} */
    ASSERT(!matches(g, "bddeeeeff")); /* e{1,3} */
    ASSERT(!matches(g, "bddef"));     /* f{2,} */
    ASSERT(!matches(g, "bbccddeff")); /* c? */
    gram_free(g);
    g = compile("root ::= \"ab\"{2} (\"x\" | \"y\")*");
    ASSERT(matches(g, "abab"));
    ASSERT(matches(g, "ababxyyx"));
    ASSERT(!matches(g, "abb"));
    gram_free(g);
}

TEST(gram_nesting_and_done)
{
    struct gram *g = compile("root ::= v\nv ::= \"[\" (v (\",\" v)*)? \"]\" | [0-9]");
    struct gram_matcher *m = NULL;
    ASSERT(matches(g, "[[1,[2]],[],3]"));
    ASSERT(!matches(g, "[[1,[2]],[],3"));
    ASSERT(!prefix_ok(g, "[1,]"));
    ASSERT(!prefix_ok(g, "]"));
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ASSERT_EQ_INT(gram_matcher_accept(m, "[[7]", 4), 0);
    ASSERT(!gram_matcher_complete(m));
    ASSERT_EQ_INT(gram_matcher_accept(m, "]", 1), 0);
    ASSERT(gram_matcher_complete(m));
    ASSERT(gram_matcher_done(m)); /* nothing may follow */
    ASSERT(gram_matcher_accept(m, "x", 1) != 0);
    ASSERT(gram_matcher_complete(m)); /* a rejected feed leaves the state */
    gram_matcher_reset(m);
    ASSERT(!gram_matcher_complete(m));
    ASSERT_EQ_INT(gram_matcher_accept(m, "5", 1), 0);
    ASSERT(gram_matcher_done(m));
    gram_matcher_free(m);
    gram_free(g);
    g = compile("root ::= \"a\" \" \"*");
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ASSERT_EQ_INT(gram_matcher_accept(m, "a", 1), 0);
    ASSERT(gram_matcher_complete(m));
    ASSERT(!gram_matcher_done(m)); /* spaces may still follow */
    gram_matcher_free(m);
    gram_free(g);
}

TEST(gram_utf8)
{
    /* é = c3 a9, € = e2 82 ac, 😀 = f0 9f 98 80 */
    struct gram *g = compile("root ::= \"\\u00e9\" [\\u20ac-\\u20ad] [^a]");
    struct gram_matcher *m = NULL;
    ASSERT(matches(g, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    ASSERT(!matches(g, "e\xe2\x82\xac"
                       "b"));
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ASSERT_EQ_INT(gram_matcher_accept(m, "\xc3", 1), 0); /* split across feeds */
    ASSERT(!gram_matcher_complete(m));
    ASSERT_EQ_INT(gram_matcher_accept(m, "\xa9\xe2", 2), 0);
    ASSERT(gram_matcher_accept(m, "\x83", 1) != 0); /* U+20C0..: outside the class */
    ASSERT(gram_matcher_accept(m, "\xc3", 1) != 0); /* a lead byte inside a sequence */
    ASSERT_EQ_INT(gram_matcher_accept(m, "\x82", 1), 0);
    ASSERT_EQ_INT(gram_matcher_accept(m, "\xad", 1), 0);
    ASSERT(gram_matcher_accept(m, "\xff", 1) != 0); /* never valid UTF-8 */
    ASSERT(gram_matcher_accept(m, "\x80", 1) != 0); /* stray continuation */
    ASSERT_EQ_INT(gram_matcher_accept(m, "\xf0\x9f", 2), 0);
    ASSERT(!gram_matcher_complete(m)); /* mid-sequence */
    ASSERT_EQ_INT(gram_matcher_accept(m, "\x98\x80", 2), 0);
    ASSERT(gram_matcher_done(m));
    gram_matcher_free(m);
    gram_free(g);
    /* only well-formed UTF-8: overlong forms, surrogates, > U+10FFFF are refused */
    g = compile("root ::= [^a]*");
    ASSERT(prefix_ok(g, "\xf0\x9f\x98\x80\xe2\x82\xac\xc3\xa9"));
    ASSERT(!prefix_ok(g, "\xc0\x80"));
    ASSERT(!prefix_ok(g, "\xc1"));
    ASSERT(!prefix_ok(g, "\xe0\x80"));
    ASSERT(!prefix_ok(g, "\xf0\x80"));
    ASSERT(!prefix_ok(g, "\xed\xa0"));
    ASSERT(prefix_ok(g, "\xed\x9f\xbf"));
    ASSERT(!prefix_ok(g, "\xf4\x90"));
    ASSERT(prefix_ok(g, "\xf4\x8f\xbf\xbf"));
    ASSERT(!prefix_ok(g, "\xf5"));
    gram_free(g);
    g = compile("root ::= \"{\""); /* a lead byte cannot become an ASCII char (overlong) */
    ASSERT(!prefix_ok(g, "\xe0"));
    ASSERT(!prefix_ok(g, "\xc1"));
    ASSERT(!prefix_ok(g, "\xf0"));
    gram_free(g);
    /* the prefix check of a partial sequence against a plain class */
    g = compile("root ::= [\\u0400-\\u04ff]");
    ASSERT(prefix_ok(g, "\xd0"));
    ASSERT(!prefix_ok(g, "\xc3"));
    gram_free(g);
}

TEST(gram_comments_escapes_multiline)
{
    struct gram *g = compile("# a comment\n"
                             "root ::= item\n"
                             "   (\",\" item)*   # trailing\n"
                             "item ::= \"\\\"\" [^\"\\\\]* \"\\\"\"\n"
                             "  | \"\\x41\"\n");
    ASSERT(matches(g, "\"a b\",A,\"\""));
    ASSERT(!matches(g, "\"a\\\""));
    ASSERT(!matches(g, "B"));
    gram_free(g);
}

TEST(gram_parse_errors)
{
    char msg[256];
    ASSERT_EQ_INT(compile_err("x ::= \"a\"", msg, sizeof(msg)), E_PARSE);
    ASSERT(strstr(msg, "no root"));
    ASSERT_EQ_INT(compile_err("root ::= y", msg, sizeof(msg)), E_PARSE);
    ASSERT(strstr(msg, "undefined rule 'y'"));
    ASSERT_EQ_INT(compile_err("root ::= \"a\"\nroot ::= \"b\"", msg, sizeof(msg)), E_PARSE);
    ASSERT(strstr(msg, "line 2: duplicate rule 'root'"));
    ASSERT_EQ_INT(compile_err("root ::= \"a", msg, sizeof(msg)), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= [a-", msg, sizeof(msg)), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= [z-a]", msg, sizeof(msg)), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= (\"a\"", msg, sizeof(msg)), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= \"a\")", msg, sizeof(msg)), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= \"\\q\"", msg, sizeof(msg)), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= \"a\"{3,1}", msg, sizeof(msg)), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= \"a\"{5000}", msg, sizeof(msg)), E_RANGE);
    ASSERT_EQ_INT(compile_err("root = \"a\"", msg, sizeof(msg)), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= \"\xff\"", msg, sizeof(msg)), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= @", msg, sizeof(msg)), E_PARSE);
    /* left recursion, direct, indirect, and through a nullable prefix */
    ASSERT_EQ_INT(compile_err("root ::= root \"a\" | \"b\"", msg, sizeof(msg)), E_PARSE);
    ASSERT(strstr(msg, "left recursion"));
    ASSERT_EQ_INT(compile_err("root ::= a\na ::= b \"x\"\nb ::= a | \"y\"", NULL, 0), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= (\"a\"?)*", NULL, 0), E_PARSE);
    ASSERT_EQ_INT(compile_err("root ::= e root \"a\" | \"b\"\ne ::= \"\"", NULL, 0), E_PARSE);
    /* right recursion is fine */
    ASSERT_EQ_INT(compile_err("root ::= \"a\" root | \"b\"", NULL, 0), 0);
    ASSERT_EQ_INT(compile_err("", NULL, 0), E_PARSE);
}

TEST(gram_caps)
{
    struct buf b;
    struct gram *g = NULL;
    struct gram_matcher *m = NULL;
    buf_init(&b, 1u << 22);
    /* nesting deeper than the stack cap fails the step, never crashes */
    g = compile("root ::= \"(\" root \")\" | \"x\"");
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    int failed = 0;
    for (int i = 0; i < GRAM_MAX_DEPTH + 10 && !failed; i++)
        failed = gram_matcher_accept(m, "(", 1) != 0;
    ASSERT(failed);
    gram_matcher_free(m);
    gram_free(g);
    /* an exponential alternation stays under the stack-count cap or fails cleanly */
    ASSERT_EQ_INT(buf_puts(&b, "root ::= a0\n"), 0);
    for (int i = 0; i < 40; i++)
        ASSERT_EQ_INT(buf_printf(&b, "a%d ::= (\"x\" | \"x\") a%d\n", i, i + 1), 0);
    ASSERT_EQ_INT(buf_puts(&b, "a40 ::= \"y\"\n"), 0);
    g = compile(buf_str(&b));
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ASSERT(gram_matcher_accept(m, "xxxx", 4) == 0); /* duplicates merge */
    gram_matcher_free(m);
    gram_free(g);
    /* repetition blow-up is bounded by the element cap */
    buf_reset(&b);
    ASSERT_EQ_INT(buf_puts(&b, "root ::= a{1000}\na ::= b{1000}\nb ::= c{1000}\nc ::= \"x\"{1000}"),
                  0);
    ASSERT_EQ_INT(compile_err(buf_str(&b), NULL, 0), 0); /* refs, not copies: small */
    buf_reset(&b);
    ASSERT_EQ_INT(buf_puts(&b, "root ::= ((((\"x\"{1000}){1000}){1000}){1000})"), 0);
    ASSERT(compile_err(buf_str(&b), NULL, 0) == 0); /* groups are rules too */
    buf_fini(&b);
}

/* ---- token masking over a small vocabulary ---------------------------------------------- */

static const char *const VOCAB[] = {
    "</s>", "{",  "}",  "\"", "\"a", "a",    "ab",   "\":",      ":", " ",
    "true", "tr", "ue", "x",  "{\"", "\xc3", "\xa9", "\xc3\xa9", "",  ",",
};
#define NV ((int)(sizeof(VOCAB) / sizeof(VOCAB[0])))

static int piece(void *user, int32_t tok, char *buf, size_t cap, size_t *n, int *eog)
{
    (void)user;
    *eog = tok == 0;
    *n = tok == 0 ? 0 : strlen(VOCAB[tok]);
    if (*n > cap)
        return E_RANGE;
    memcpy(buf, VOCAB[tok], *n);
    return 0;
}

static int allowed_set(struct gram_matcher *m, struct gram_vocab *v, char *out)
{
    float lg[NV];
    int k = 0;
    for (int i = 0; i < NV; i++)
        lg[i] = 0.0f;
    gram_mask(m, v, lg, NV);
    for (int i = 0; i < NV; i++) {
        out[i] = lg[i] != -INFINITY;
        k += out[i];
        /* the full mask and the one-token test agree */
        ASSERT_EQ_INT(out[i], gram_token_allowed(m, v, i));
    }
    return k;
}

TEST(gram_mask_small_vocab)
{
    struct gram *g =
        compile("root ::= \"{\" ws \"\\\"\" [a\\u00e9]+ \"\\\":\" ws (\"true\" | \"x\") "
                "ws \"}\"\nws ::= \" \"?");
    struct gram_matcher *m = NULL;
    struct gram_vocab *v = NULL;
    char ok[NV];
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ASSERT_EQ_INT(gram_vocab_new(NV, piece, NULL, &v), 0);
    ASSERT_EQ_INT(allowed_set(m, v, ok), 2);
    ASSERT(ok[1] && ok[14]); /* "{" and "{\"" */
    ASSERT_EQ_INT(gram_accept_token(m, v, 14), 0);
    allowed_set(m, v, ok);
    ASSERT(ok[5] && ok[15] && ok[17] && !ok[16] && !ok[6] && !ok[0] && !ok[18]);
    ASSERT(gram_accept_token(m, v, 6) != 0);       /* "ab": b is not in the class */
    ASSERT_EQ_INT(gram_accept_token(m, v, 15), 0); /* half of é */
    allowed_set(m, v, ok);
    ASSERT(ok[16] && !ok[5] && !ok[15]);
    ASSERT_EQ_INT(gram_accept_token(m, v, 16), 0);
    ASSERT_EQ_INT(gram_accept_token(m, v, 7), 0); /* ": */
    allowed_set(m, v, ok);
    ASSERT(ok[9] && ok[10] && ok[11] && ok[13] && !ok[12] && !ok[2]);
    ASSERT_EQ_INT(gram_accept_token(m, v, 11), 0);
    ASSERT_EQ_INT(allowed_set(m, v, ok), 1);
    ASSERT(ok[12]);
    ASSERT_EQ_INT(gram_accept_token(m, v, 12), 0);
    ASSERT(!gram_token_allowed(m, v, 0)); /* EOS only once complete */
    ASSERT_EQ_INT(gram_accept_token(m, v, 2), 0);
    ASSERT_EQ_INT(allowed_set(m, v, ok), 1); /* done: only EOS */
    ASSERT(ok[0]);
    gram_vocab_free(v);
    gram_matcher_free(m);
    gram_free(g);
}

TEST(gram_sample_constrained)
{
    struct gram *g = compile("root ::= \"{\" \"}\"");
    struct gram_matcher *m = NULL;
    struct gram_vocab *v = NULL;
    struct samp_params p;
    struct samp *s = NULL;
    float lg[NV];
    int masked = 0;
    samp_params_default(&p);
    p.seed = 7;
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ASSERT_EQ_INT(gram_vocab_new(NV, piece, NULL, &v), 0);
    ASSERT_EQ_INT(samp_new(&p, NV, 64, &s), 0);
    for (int i = 0; i < NV; i++)
        lg[i] = 0.0f;
    lg[13] = 20.0f; /* the model wants "x" */
    lg[1] = 1.0f;
    int32_t t = gram_sample(m, v, s, lg, &masked);
    ASSERT_EQ_INT(t, 1);
    ASSERT_EQ_INT(masked, 1);
    ASSERT_EQ_INT(gram_accept_token(m, v, t), 0);
    lg[2] = 30.0f; /* now it wants "}" */
    t = gram_sample(m, v, s, lg, &masked);
    ASSERT_EQ_INT(t, 2);
    ASSERT_EQ_INT(masked, 0); /* the first pick was fine: no full mask */
    ASSERT_EQ_INT(gram_accept_token(m, v, t), 0);
    t = gram_sample(m, v, s, lg, &masked);
    ASSERT_EQ_INT(t, 0); /* only EOS is left */
    samp_free(s);
    gram_vocab_free(v);
    gram_matcher_free(m);
    gram_free(g);
}

/* ---- a real model: stories260K under the JSON grammar ------------------------------------ */

static int model_piece(void *user, int32_t tok, char *buf, size_t cap, size_t *n, int *eog)
{
    const struct eng_model *m = user;
    *eog = eng_token_is_eog(m, tok);
    return eng_token_piece(m, tok, 0, buf, cap, n);
}

/* Generates up to n_max tokens from prompt under grammar text; returns the text in out and
 * whether generation ended by EOS (1) or by length (0). */
static int run_constrained(struct eng_model *m, const char *grammar, float temp, uint64_t seed,
                           int n_max, struct buf *out, int *n_masked)
{
    struct eng_ctx_params cp;
    struct eng_ctx *c = NULL;
    struct err_info ei = {0};
    struct gram *g = compile(grammar);
    struct gram_matcher *gm = NULL;
    struct gram_vocab *v = NULL;
    struct samp_params sp;
    struct samp *s = NULL;
    const struct eng_model_info *info = eng_model_get_info(m);
    int32_t toks[64], tok;
    size_t nt = 0;
    int ended = 0;
    eng_ctx_params_default(&cp);
    cp.n_ctx = 512;
    ASSERT_EQ_INT(eng_ctx_new(m, &cp, &c, &ei), 0);
    ASSERT_EQ_INT(gram_matcher_new(g, &gm), 0);
    ASSERT_EQ_INT(gram_vocab_new((int32_t)info->n_vocab, model_piece, m, &v), 0);
    samp_params_default(&sp);
    sp.temperature = temp;
    sp.seed = seed;
    ASSERT_EQ_INT(samp_new(&sp, (int)info->n_vocab, 512, &s), 0);
    ASSERT_EQ_INT(eng_tokenize(m, "Once upon a time", 16, 1, 0, toks, 64, &nt), 0);
    *n_masked = 0;
    for (int i = 0; i < n_max; i++) {
        struct eng_batch b = {(int)nt, toks, NULL, NULL, NULL};
        char piece[256];
        size_t pn = 0;
        int masked = 0;
        ASSERT_EQ_INT(eng_decode(c, &b, &ei), 0);
        tok = gram_sample(gm, v, s, eng_get_logits(c, (int)nt - 1), &masked);
        *n_masked += masked;
        ASSERT(tok >= 0);
        if (eng_token_is_eog(m, tok)) {
            ASSERT(gram_matcher_complete(gm));
            ended = 1;
            break;
        }
        ASSERT_EQ_INT(gram_accept_token(gm, v, tok), 0);
        samp_accept(s, tok);
        ASSERT_EQ_INT(eng_token_piece(m, tok, 0, piece, sizeof(piece), &pn), 0);
        ASSERT_EQ_INT(buf_append(out, piece, pn), 0);
        toks[0] = tok;
        nt = 1;
    }
    samp_free(s);
    gram_vocab_free(v);
    gram_matcher_free(gm);
    gram_free(g);
    eng_ctx_free(c);
    return ended;
}

TEST(gram_stories_json_grammar)
{
    static const char json_g[] = "root ::= object\n"
                                 "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n"
                                 "value ::= object | string | \"true\" | \"false\" | \"null\"\n"
                                 "object ::= \"{\" ws (string ws \":\" ws value ws (\",\" ws "
                                 "string ws \":\" ws value ws)*)? "
                                 "\"}\"\n"
                                 "string ::= \"\\\"\" [a-z ]{0,8} \"\\\"\"\n";
    struct eng_model_params mp;
    struct eng_model *m = NULL;
    struct err_info ei = {0};
    struct buf out;
    int masked = 0;
    eng_model_params_default(&mp);
    ASSERT_EQ_INT(eng_model_load_file("tests/data/models/stories260K-F16.gguf", &mp, &m, &ei), 0);
    for (int k = 0; k < 4; k++) {
        buf_init(&out, 1 << 16);
        int ended =
            run_constrained(m, json_g, k == 0 ? 0.0f : 1.0f, 100 + (uint64_t)k, 300, &out, &masked);
        struct gram *g = compile(json_g);
        /* every prefix the model wrote is in the language */
        ASSERT(prefix_ok(g, buf_str(&out)));
        if (ended)
            ASSERT(matches(g, buf_str(&out)));
        ASSERT(masked > 0); /* the model does not speak JSON by itself */
        gram_free(g);
        buf_fini(&out);
    }
    eng_model_free(m);
}

/* ---- a 151k vocabulary (qwen2): mask cost and agreement with the one-token test ---------- */

static int vocab_piece(void *user, int32_t tok, char *buf, size_t cap, size_t *n, int *eog)
{
    const struct tok_vocab *v = user;
    const char *p;
    *eog = tok_is_eog(v, tok);
    *n = 0;
    if (tok_is_control(v, tok))
        return 0;
    p = tok_piece(v, tok, n);
    if (*n > cap)
        return E_RANGE;
    memcpy(buf, p, *n);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

TEST_T(gram_mask_qwen2_vocab, 120)
{
    static const char *const states[] = {
        "",           "{\"",          "{\"name\": \"Jo",
        "{\"a\": 12", "{\"a\": true", "{\"a\": [1, {\"b\": null}, \"\xc3"};
    json_t *fmt = json_string("json");
    struct gguf *gg = NULL;
    struct tok_vocab *tv = NULL;
    struct gram_vocab *v = NULL;
    struct gram *g = NULL;
    struct gram_matcher *m = NULL;
    struct err_info ei = {0};
    char *text = NULL;
    float *lg;
    double t0, t_vocab, worst = 0.0;
    ASSERT_EQ_INT(gguf_open_file("tests/data/vocab/ggml-vocab-qwen2.gguf", 0, &gg, &ei), 0);
    ASSERT_EQ_INT(tok_vocab_load(gg, &tv, &ei), 0);
    int32_t nv = (int32_t)tok_n_vocab(tv);
    ASSERT(nv > 150000);
    t0 = now_s();
    ASSERT_EQ_INT(gram_vocab_new(nv, vocab_piece, tv, &v), 0);
    t_vocab = now_s() - t0;
    ASSERT_EQ_INT(api_format_grammar(fmt, &text, &ei), 0);
    ASSERT_EQ_INT(gram_compile(text, strlen(text), &g, &ei), 0);
    lg = mem_alloc_array((size_t)nv, sizeof(float));
    ASSERT(lg);
    for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
        int allowed = 0;
        ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
        ASSERT_EQ_INT(gram_matcher_accept(m, states[k], strlen(states[k])), 0);
        for (int32_t i = 0; i < nv; i++)
            lg[i] = 0.0f;
        t0 = now_s();
        gram_mask(m, v, lg, nv);
        double dt = now_s() - t0;
        worst = dt > worst ? dt : worst;
        for (int32_t i = 0; i < nv; i++) {
            int on = lg[i] != -INFINITY;
            allowed += on;
            if (on || i % 61 == 0)
                ASSERT_EQ_INT(on, gram_token_allowed(m, v, i));
        }
        ASSERT(allowed > 0);
        fprintf(stderr, "  state %-30s allowed %6d of %d, mask %.1f ms\n", states[k], allowed, nv,
                dt * 1e3);
        gram_matcher_free(m);
        m = NULL;
    }
    fprintf(stderr, "  vocab index %.1f ms\n", t_vocab * 1e3);
    ASSERT(worst < 5.0); /* generous: sanitizer builds on a loaded machine */
    mem_free(lg);
    mem_free(text);
    json_decref(fmt);
    gram_free(g);
    gram_vocab_free(v);
    tok_vocab_free(tv);
    gguf_close(gg);
}

/* States bigger than the first buffers: the matcher and the mask arena grow on demand. */
TEST(gram_large_state_grows)
{
    struct buf b;
    struct gram *g;
    struct gram_matcher *m = NULL;
    struct gram_vocab *v = NULL;
    char ok[NV];
    buf_init(&b, 1u << 22);
    ASSERT_EQ_INT(buf_puts(&b, "root ::= r0"), 0);
    for (int i = 1; i < 1000; i++) /* 1000 stacks of 4 positions: more than 4096 words */
        ASSERT_EQ_INT(buf_printf(&b, " | r%d", i), 0);
    ASSERT_EQ_INT(buf_putc(&b, '\n'), 0);
    for (int i = 0; i < 1000; i++)
        ASSERT_EQ_INT(buf_printf(&b,
                                 "r%d ::= s%d \"}\"\ns%d ::= t%d \"a\"\nt%d ::= u%d \"b\"\n"
                                 "u%d ::= \"{\"\n",
                                 i, i, i, i, i, i, i),
                      0);
    g = compile(buf_str(&b));
    ASSERT(matches(g, "{ba}"));
    ASSERT(!matches(g, "{a}"));
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ASSERT_EQ_INT(gram_vocab_new(NV, piece, NULL, &v), 0);
    ASSERT_EQ_INT(allowed_set(m, v, ok), 1); /* "{" */
    ASSERT_EQ_INT(gram_accept_token(m, v, 1), 0);
    ASSERT_EQ_INT(allowed_set(m, v, ok), 0); /* "b" is no token */
    gram_vocab_free(v);
    gram_matcher_free(m);
    gram_free(g);
    buf_fini(&b);
}

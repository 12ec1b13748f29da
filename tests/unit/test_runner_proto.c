/*
 * test_runner_proto.c - unit tests of the runner protocol framing (src/runner/rproto.c):
 * round trips over a socketpair, truncated and oversized frames, malformed bodies, typed
 * option parsing with caps.
 */
#include "harness/test.h"

#include <sys/socket.h>
#include <unistd.h>

#include "common/mem.h"
#include "runner/rproto.h"

static size_t frame(uint8_t *out, const char *body)
{
    size_t n = strlen(body);
    out[0] = (uint8_t)n;
    out[1] = (uint8_t)(n >> 8);
    out[2] = (uint8_t)(n >> 16);
    out[3] = (uint8_t)(n >> 24);
    memcpy(out + 4, body, n);
    return n + 4;
}

TEST(rproto_roundtrip_socketpair)
{
    int sv[2];
    struct rproto_reader r;
    json_t *m = NULL, *got = NULL;
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    m = json_pack("{s:s, s:I, s:s}", "t", "piece", "rid", (json_int_t)7, "text", "h\xc3\xa9llo");
    ASSERT(m);
    ASSERT_OK(rproto_send(sv[0], m));
    ASSERT_OK(rproto_send(sv[0], m));
    rproto_reader_init(&r);
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(rproto_recv(&r, sv[1], &got, NULL));
        ASSERT_EQ_STR(rproto_type(got), "piece");
        ASSERT_EQ_INT(rproto_rid(got), 7);
        ASSERT_EQ_STR(json_string_value(json_object_get(got, "text")), "h\xc3\xa9llo");
        json_decref(got);
    }
    close(sv[0]);
    ASSERT_EQ_INT(rproto_recv(&r, sv[1], &got, NULL), E_NOTFOUND);
    rproto_reader_fini(&r);
    json_decref(m);
    close(sv[1]);
}

TEST(rproto_truncated_frames_wait)
{
    uint8_t b[256];
    size_t n = frame(b, "{\"t\":\"health\",\"rid\":1}"), used = 9;
    json_t *m = (json_t *)1;
    for (size_t k = 0; k < n; k++) {
        ASSERT_OK(rproto_decode(b, k, &m, &used, NULL));
        ASSERT(m == NULL);
        ASSERT_EQ_SIZE(used, 0);
    }
    ASSERT_OK(rproto_decode(b, n, &m, &used, NULL));
    ASSERT(m);
    ASSERT_EQ_SIZE(used, n);
    json_decref(m);
}

TEST(rproto_oversized_and_malformed)
{
    uint8_t b[64] = {0xff, 0xff, 0xff, 0x7f};
    json_t *m = NULL;
    size_t used = 0;
    struct err_info ei = {0};
    ASSERT_EQ_INT(rproto_decode(b, 8, &m, &used, &ei), E_RANGE);
    ASSERT(strstr(ei.msg, "exceeds"));
    memset(b, 0, 4);
    ASSERT_EQ_INT(rproto_decode(b, 8, &m, &used, NULL), E_PARSE); /* empty frame */
    frame(b, "[1,2]");
    ASSERT_EQ_INT(rproto_decode(b, 9, &m, &used, NULL), E_PARSE);
    frame(b, "{\"t\":3}");
    ASSERT_EQ_INT(rproto_decode(b, 11, &m, &used, NULL), E_PARSE);
    frame(b, "{\"t\":\"x\"");
    ASSERT_EQ_INT(rproto_decode(b, 12, &m, &used, NULL), E_PARSE);
    ASSERT(m == NULL);
}

TEST(rproto_reader_stream_oversized)
{
    int sv[2];
    struct rproto_reader r;
    json_t *m = NULL;
    uint8_t hdr[4] = {0, 0, 0, 0x10}; /* 256 MiB */
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    ASSERT_EQ_INT(write(sv[0], hdr, 4), 4);
    rproto_reader_init(&r);
    ASSERT_EQ_INT(rproto_recv(&r, sv[1], &m, NULL), E_RANGE);
    rproto_reader_fini(&r);
    close(sv[0]);
    close(sv[1]);
}

TEST(rproto_complete_roundtrip_and_caps)
{
    struct rproto_complete c, d;
    int32_t ctx[3] = {1, 2, 3};
    json_t *m, *bad;
    struct err_info ei = {0};
    rproto_complete_defaults(&c);
    c.rid = 42;
    c.prompt = "Once upon";
    c.seed = 1234;
    c.temperature = 0.0f;
    c.num_predict = 17;
    c.stop[0] = "\n\n";
    c.stop[1] = "END";
    c.n_stop = 2;
    c.context = ctx;
    c.n_context = 3;
    m = rproto_complete_build(&c);
    ASSERT(m);
    ASSERT_OK(rproto_complete_parse(m, &d, &ei));
    ASSERT_EQ_INT(d.rid, 42);
    ASSERT_EQ_STR(d.prompt, "Once upon");
    ASSERT_EQ_INT(d.seed, 1234);
    ASSERT_EQ_INT(d.num_predict, 17);
    ASSERT_EQ_INT(d.top_k, 40);
    ASSERT_EQ_SIZE(d.n_stop, 2);
    ASSERT_EQ_STR(d.stop[1], "END");
    ASSERT_EQ_SIZE(d.n_context, 3);
    ASSERT_EQ_INT(d.context[2], 3);
    rproto_complete_fini(&d);
    json_decref(m);

    bad = json_pack("{s:s, s:s}", "t", "complete", "top_k", "many");
    ASSERT_EQ_INT(rproto_complete_parse(bad, &d, &ei), E_PARSE);
    json_decref(bad);
    bad = json_pack("{s:s, s:[i,i]}", "t", "complete", "context", 1, -5);
    ASSERT_EQ_INT(rproto_complete_parse(bad, &d, &ei), E_RANGE);
    json_decref(bad);
    bad = json_pack("{s:s, s:f}", "t", "complete", "temperature", 1e30);
    ASSERT_EQ_INT(rproto_complete_parse(bad, &d, &ei), E_RANGE);
    json_decref(bad);
}

TEST(rproto_load_parse_caps)
{
    struct rproto_load l;
    json_t *m = json_pack("{s:s, s:i, s:i}", "t", "load", "num_ctx", 512, "num_parallel", 2);
    ASSERT_OK(rproto_load_parse(m, &l, NULL));
    ASSERT_EQ_INT(l.num_ctx, 512);
    ASSERT_EQ_INT(l.num_parallel, 2);
    ASSERT_EQ_INT(l.num_batch, 512);
    ASSERT_EQ_INT(l.use_mmap, 0); /* default: the weights are copied */
    json_decref(m);
    m = json_pack("{s:s, s:i}", "t", "load", "num_parallel", 100000);
    ASSERT_EQ_INT(rproto_load_parse(m, &l, NULL), E_RANGE);
    json_decref(m);
    m = json_pack("{s:s, s:b}", "t", "load", "use_mmap", 1);
    ASSERT_OK(rproto_load_parse(m, &l, NULL));
    ASSERT_EQ_INT(l.use_mmap, 1);
    json_decref(m);
    m = json_pack("{s:s, s:b}", "t", "load", "use_mmap", 0);
    ASSERT_OK(rproto_load_parse(m, &l, NULL));
    ASSERT_EQ_INT(l.use_mmap, 0);
    json_decref(m);
    m = json_pack("{s:s, s:s}", "t", "load", "use_mmap", "yes");
    ASSERT_EQ_INT(rproto_load_parse(m, &l, NULL), E_PARSE);
    json_decref(m);
}

TEST(rproto_complete_grammar)
{
    struct rproto_complete c, d;
    struct err_info ei = {0};
    json_t *m;
    char *big;
    rproto_complete_defaults(&c);
    c.rid = 7;
    c.grammar = "root ::= \"x\"";
    c.think_gram = 2;
    m = rproto_complete_build(&c);
    ASSERT(m);
    ASSERT_OK(rproto_complete_parse(m, &d, &ei));
    ASSERT_EQ_STR(d.grammar, "root ::= \"x\"");
    ASSERT_EQ_INT(d.think_gram, 2);
    rproto_complete_fini(&d);
    json_decref(m);
    c.grammar = NULL; /* absent: unconstrained, and no member is written */
    c.think_gram = 0;
    m = rproto_complete_build(&c);
    ASSERT(m && !json_object_get(m, "grammar"));
    ASSERT_OK(rproto_complete_parse(m, &d, &ei));
    ASSERT(d.grammar == NULL);
    json_decref(m);
    m = json_pack("{s:s, s:i}", "t", "complete", "grammar", 5);
    ASSERT_EQ_INT(rproto_complete_parse(m, &d, &ei), E_PARSE);
    json_decref(m);
    m = json_pack("{s:s, s:s, s:i}", "t", "complete", "grammar", "root ::= \"x\"", "grammar_think",
                  3);
    ASSERT_EQ_INT(rproto_complete_parse(m, &d, &ei), E_RANGE);
    json_decref(m);
    big = mem_alloc(RPROTO_MAX_GRAMMAR + 2);
    ASSERT(big);
    memset(big, 'a', RPROTO_MAX_GRAMMAR + 1);
    big[RPROTO_MAX_GRAMMAR + 1] = '\0';
    m = json_pack("{s:s, s:s}", "t", "complete", "grammar", big);
    ASSERT_EQ_INT(rproto_complete_parse(m, &d, &ei), E_RANGE);
    json_decref(m);
    mem_free(big);
}

TEST(rproto_text_new_replaces_invalid_utf8)
{
    json_t *s = rproto_text_new("a\xff\xc3\xa9\xc3", 5);
    ASSERT(s);
    ASSERT_EQ_STR(json_string_value(s), "a\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd");
    json_decref(s);
    s = rproto_text_new("", 0);
    ASSERT(s && json_string_length(s) == 0);
    json_decref(s);
}

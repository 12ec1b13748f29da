/*
 * test_json.c - Go-compatible JSON encoding (escapes, numbers, key order), RFC3339Nano
 * timestamps and the typed getters' error messages.
 */
#include "harness/test.h"

#include "common/json.h"
#include "common/mem.h"

static char *enc(const json_t *v, int flags)
{
    static char out[4096];
    struct buf b;
    buf_init(&b, 1 << 20);
    ASSERT_OK(json_go_encode(v, flags, &b));
    snprintf(out, sizeof(out), "%s", buf_str(&b));
    buf_fini(&b);
    return out;
}

static char *num(double v, int bits)
{
    static char out[64];
    struct buf b;
    buf_init(&b, 1024);
    ASSERT_OK(json_go_number(v, bits, &b));
    snprintf(out, sizeof(out), "%s", buf_str(&b));
    buf_fini(&b);
    return out;
}

TEST(json_go_escapes_html_and_controls)
{
    json_t *s = json_string("<|eot_id|> & \"q\"\\ \n\t\x01\b\f");
    ASSERT_EQ_STR(enc(s, 0),
                  "\"\\u003c|eot_id|\\u003e \\u0026 \\\"q\\\"\\\\ \\n\\t\\u0001\\b\\f\"");
    json_decref(s);
}

TEST(json_go_escapes_line_separators_and_bad_utf8)
{
    struct buf b;
    buf_init(&b, 1024);
    ASSERT_OK(json_go_string("a\xe2\x80\xa8"
                             "b\xff"
                             "c\xc3\xa9\xed\xa0\x80",
                             12, &b));
    ASSERT_EQ_STR(buf_str(&b), "\"a\\u2028b\\ufffdcé\\ufffd\\ufffd\\ufffd\"");
    buf_fini(&b);
}

TEST(json_go_numbers_match_strconv)
{
    ASSERT_EQ_STR(num(0.8, 64), "0.8");
    ASSERT_EQ_STR(num((double)0.8f, 32), "0.8");
    ASSERT_EQ_STR(num(1e21, 64), "1e+21");
    ASSERT_EQ_STR(num(1.5e-7, 64), "1.5e-7");
    ASSERT_EQ_STR(num(123456789.0, 64), "123456789");
    ASSERT_EQ_STR(num(0.000001, 64), "0.000001");
    ASSERT_EQ_STR(num(-2.5, 64), "-2.5");
    ASSERT_EQ_STR(num(100, 64), "100");
    ASSERT_EQ_STR(num(0, 64), "0");
    ASSERT_EQ_STR(num(1e-10, 64), "1e-10");
}

TEST(json_go_key_order)
{
    json_t *o = json_pack("{s:i, s:s, s:[b,n], s:f}", "z", 1, "a", "x", "m", 1, "r", 0.25);
    ASSERT_EQ_STR(enc(o, 0), "{\"z\":1,\"a\":\"x\",\"m\":[true,null],\"r\":0.25}");
    ASSERT_EQ_STR(enc(o, JSON_GO_SORT_KEYS), "{\"a\":\"x\",\"m\":[true,null],\"r\":0.25,\"z\":1}");
    json_decref(o);
}

TEST(json_ndjson_and_dumps_end_with_newline)
{
    json_t *o = json_pack("{s:s}", "status", "success");
    char *s = NULL;
    size_t n = 0;
    ASSERT_OK(json_go_dumps(o, 0, &s, &n));
    ASSERT_EQ_STR(s, "{\"status\":\"success\"}\n");
    ASSERT_EQ_SIZE(n, strlen(s));
    mem_free(s);
    json_decref(o);
}

TEST(json_time_rfc3339nano_like_go)
{
    char t[40];
    json_time_rfc3339nano(1717512000, 837530000, 1, t);
    ASSERT_EQ_STR(t, "2024-06-04T14:40:00.83753Z");
    json_time_rfc3339nano(1717512000, 0, 1, t);
    ASSERT_EQ_STR(t, "2024-06-04T14:40:00Z");
    setenv("TZ", "PST8PDT", 1);
    tzset();
    json_time_rfc3339nano(1717512000, 5, 0, t);
    ASSERT_EQ_STR(t, "2024-06-04T07:40:00.000000005-07:00");
}

TEST(json_parse_errors_and_getters)
{
    json_t *o = NULL;
    struct err_info ei = {0};
    const char *s = NULL;
    int64_t i = 0;
    int b = 0;
    ASSERT_EQ_INT(json_parse_object("  ", 2, &o, &ei), E_INVAL);
    ASSERT_EQ_STR(ei.msg, "missing request body");
    ASSERT_EQ_INT(json_parse_object("{\"a\":", 5, &o, &ei), E_PARSE);
    ASSERT_EQ_INT(json_parse_object("[1]", 3, &o, &ei), E_PARSE);
    ASSERT_OK(json_parse_object("{\"a\":1}\n{\"b\":2}", 15, &o, &ei)); /* like json.Decoder */
    ASSERT(json_object_get(o, "a") && !json_object_get(o, "b"));
    json_decref(o);
    ASSERT_OK(json_parse_object("{\"model\":5,\"n\":2.9,\"s\":\"x\",\"b\":true,\"z\":null}", 45, &o,
                                &ei));
    ASSERT_EQ_INT(json_get_str(o, "model", &s, &ei), E_INVAL);
    ASSERT_EQ_STR(ei.msg,
                  "json: cannot unmarshal number into Go struct field .model of type string");
    json_set_go_struct("GenerateRequest"); /* as the server sets it per route */
    ASSERT_EQ_INT(json_get_str(o, "model", &s, &ei), E_INVAL);
    ASSERT_EQ_STR(ei.msg, "json: cannot unmarshal number into Go struct field "
                          "GenerateRequest.model of type string");
    json_set_go_struct(NULL);
    ASSERT_OK(json_get_int(o, "n", &i, &ei));
    ASSERT_EQ_INT(i, 2);
    ASSERT_OK(json_get_str(o, "s", &s, &ei));
    ASSERT_EQ_STR(s, "x");
    ASSERT_OK(json_get_bool(o, "b", &b, &ei));
    ASSERT_EQ_INT(b, 1);
    ASSERT_EQ_INT(json_get_str(o, "z", &s, &ei), E_NOTFOUND);
    ASSERT_EQ_INT(json_get_str(o, "missing", &s, &ei), E_NOTFOUND);
    json_decref(o);
}

/*
 * test_api_format.c - `format` to grammar (api/api_format): "json", each JSON Schema keyword
 * the converter supports (checked by running the generated grammar over accepted and rejected
 * documents), $ref (including recursion), the error messages of bad formats, and caps.
 */
#include <string.h>

#include "api/api_format.h"
#include "common/buf.h"
#include "common/mem.h"
#include "engine/gram/gram.h"
#include "harness/test.h"

/* The grammar for format text fmt (a JSON value); fails the test on error. */
static struct gram *grammar_of(const char *fmt)
{
    json_error_t je;
    json_t *f = json_loads(fmt, JSON_DECODE_ANY, &je);
    struct err_info ei = {0};
    struct gram *g = NULL;
    char *text = NULL;
    if (!f)
        TEST_FAIL_("bad test JSON: %s", je.text);
    if (api_format_grammar(f, &text, &ei) != 0 || !text)
        TEST_FAIL_("format %s: %s", fmt, ei.msg);
    if (gram_compile(text, strlen(text), &g, &ei) != 0)
        TEST_FAIL_("compile: %s\n%s", ei.msg, text);
    mem_free(text);
    json_decref(f);
    return g;
}

static int fmt_error(const char *fmt, char *msg, size_t cap)
{
    json_t *f = json_loads(fmt, JSON_DECODE_ANY, NULL);
    struct err_info ei = {0};
    char *text = NULL;
    int rc;
    ASSERT(f);
    rc = api_format_grammar(f, &text, &ei);
    ASSERT(rc != 0 || text);
    mem_free(text);
    json_decref(f);
    snprintf(msg, cap, "%s", ei.msg);
    return rc;
}

static int ok(const struct gram *g, const char *doc)
{
    struct gram_matcher *m = NULL;
    int r;
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    r = gram_matcher_accept(m, doc, strlen(doc)) == 0 && gram_matcher_complete(m);
    gram_matcher_free(m);
    return r;
}

TEST(format_none_and_json)
{
    json_t *f = json_string("");
    char *text = (char *)"x";
    ASSERT_EQ_INT(api_format_grammar(NULL, &text, NULL), 0);
    ASSERT(!text);
    ASSERT_EQ_INT(api_format_grammar(f, &text, NULL), 0);
    ASSERT(!text);
    json_decref(f);
    f = json_null();
    ASSERT_EQ_INT(api_format_grammar(f, &text, NULL), 0);
    ASSERT(!text);
    struct gram *g = grammar_of("\"json\"");
    ASSERT(ok(g, "{}"));
    ASSERT(ok(g, "{\"a\": [1, -2.5e3, true, null, {\"b\": \"\\u00e9\\n\"}], \"c\":\"\xc3\xa9\"}"));
    ASSERT(ok(g, "{\n  \"a\": 1\n}"));
    ASSERT(!ok(g, "[1]"));              /* JSON mode is an object */
    ASSERT(!ok(g, "{\"a\":01}"));       /* no leading zeros */
    ASSERT(!ok(g, "{\"a\":1,}"));       /* no trailing comma */
    ASSERT(!ok(g, "{\"a\":\"x\ny\"}")); /* raw control character */
    ASSERT(!ok(g, "{} "));              /* nothing after the value */
    ASSERT(!ok(g, "{     }"));          /* bounded whitespace */
    gram_free(g);
}

TEST(format_errors)
{
    char msg[256];
    ASSERT_EQ_INT(fmt_error("\"xml\"", msg, sizeof(msg)), E_INVAL);
    ASSERT_EQ_STR(msg, "invalid format: xml; expected \"json\" or a valid JSON Schema");
    ASSERT_EQ_INT(fmt_error("42", msg, sizeof(msg)), E_INVAL);
    ASSERT_EQ_STR(msg, "invalid format: number; expected \"json\" or a valid JSON Schema");
    ASSERT_EQ_INT(fmt_error("[]", msg, sizeof(msg)), E_INVAL);
    ASSERT_EQ_INT(fmt_error("{\"type\":\"date\"}", msg, sizeof(msg)), E_INVAL);
    ASSERT(strstr(msg, "invalid format: schema type date"));
    ASSERT_EQ_INT(fmt_error("{\"enum\":[]}", msg, sizeof(msg)), E_INVAL);
    ASSERT_EQ_INT(fmt_error("{\"$ref\":\"#/$defs/none\"}", msg, sizeof(msg)), E_INVAL);
    ASSERT(strstr(msg, "cannot be resolved"));
    ASSERT_EQ_INT(fmt_error("{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}", msg, sizeof(msg)),
                  E_INVAL);
    ASSERT_EQ_INT(fmt_error("{\"properties\":{\"a\":7}}", msg, sizeof(msg)), E_INVAL);
    /* a reference cycle that consumes nothing is left recursion */
    ASSERT_EQ_INT(fmt_error("{\"$ref\":\"#\"}", msg, sizeof(msg)), E_INVAL);
    ASSERT(strstr(msg, "left recursion"));
    /* nesting cap */
    char deep[4096] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "{\"type\":\"array\",\"items\":");
    strcat(deep, "true");
    for (int i = 0; i < 100; i++)
        strcat(deep, "}");
    ASSERT_EQ_INT(fmt_error(deep, msg, sizeof(msg)), E_INVAL);
    ASSERT(strstr(msg, "nested too deeply"));
}

TEST(format_object_properties)
{
    struct gram *g =
        grammar_of("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
                   "\"age\":{\"type\":\"integer\"},\"ok\":{\"type\":\"boolean\"}},"
                   "\"required\":[\"name\",\"ok\"]}");
    ASSERT(ok(g, "{\"name\":\"Al\",\"age\":3,\"ok\":true}"));
    ASSERT(ok(g, "{ \"name\" : \"Al\" , \"ok\" : false }"));
    ASSERT(ok(g, "{\"name\":\"\",\"ok\":false}"));               /* optional age skipped */
    ASSERT(!ok(g, "{\"age\":3,\"name\":\"Al\",\"ok\":true}"));   /* schema order */
    ASSERT(!ok(g, "{\"name\":\"Al\"}"));                         /* ok is required */
    ASSERT(!ok(g, "{\"name\":\"Al\",\"ok\":true,\"x\":1}"));     /* no extra members */
    ASSERT(!ok(g, "{\"name\":\"Al\",\"age\":3.5,\"ok\":true}")); /* integer */
    ASSERT(!ok(g, "{\"name\":\"Al\",,\"ok\":true}"));
    gram_free(g);
    /* all optional: {} and any ordered subset */
    g = grammar_of("{\"properties\":{\"a\":{\"type\":\"null\"},\"b\":{\"type\":\"number\"}}}");
    ASSERT(ok(g, "{}"));
    ASSERT(ok(g, "{\"b\":-1.25E+7}"));
    ASSERT(ok(g, "{\"a\":null,\"b\":0}"));
    ASSERT(!ok(g, "{,\"b\":0}"));
    ASSERT(!ok(g, "{\"a\":null,}"));
    gram_free(g);
}

TEST(format_additional_properties)
{
    struct gram *g =
        grammar_of("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},"
                   "\"required\":[\"a\"],\"additionalProperties\":{\"type\":\"string\"}}");
    ASSERT(ok(g, "{\"a\":1}"));
    ASSERT(ok(g, "{\"a\":1,\"z\":\"q\",\"y\":\"r\"}"));
    ASSERT(!ok(g, "{\"a\":1,\"z\":2}"));
    gram_free(g);
    g = grammar_of("{\"type\":\"object\"}"); /* no properties: any object */
    ASSERT(ok(g, "{\"x\":[1,{}]}"));
    gram_free(g);
    g = grammar_of("{\"type\":\"object\",\"additionalProperties\":false}");
    ASSERT(ok(g, "{}"));
    ASSERT(!ok(g, "{\"x\":1}"));
    gram_free(g);
}

TEST(format_arrays)
{
    struct gram *g = grammar_of("{\"type\":\"array\",\"items\":{\"type\":\"integer\"},"
                                "\"minItems\":2,\"maxItems\":3}");
    ASSERT(ok(g, "[1,2]"));
    ASSERT(ok(g, "[1, 2, 3]"));
    ASSERT(!ok(g, "[1]"));
    ASSERT(!ok(g, "[1,2,3,4]"));
    ASSERT(!ok(g, "[1,\"a\"]"));
    gram_free(g);
    g = grammar_of("{\"type\":\"array\",\"maxItems\":1}");
    ASSERT(ok(g, "[]"));
    ASSERT(ok(g, "[{\"a\":1}]"));
    ASSERT(!ok(g, "[1,2]"));
    gram_free(g);
    g = grammar_of("{\"type\":\"array\",\"maxItems\":0}");
    ASSERT(ok(g, "[]"));
    ASSERT(!ok(g, "[1]"));
    gram_free(g);
    g = grammar_of("{\"items\":{\"type\":\"boolean\"}}");
    ASSERT(ok(g, "[]"));
    ASSERT(ok(g, "[true,false,true]"));
    ASSERT(!ok(g, "[null]"));
    gram_free(g);
}

TEST(format_strings_and_scalars)
{
    struct gram *g = grammar_of("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}");
    ASSERT(ok(g, "\"ab\""));
    ASSERT(ok(g, "\"a\\nb\""));
    ASSERT(ok(g, "\"\xc3\xa9\xc3\xa9\xc3\xa9\""));
    ASSERT(!ok(g, "\"a\""));
    ASSERT(!ok(g, "\"abcd\""));
    gram_free(g);
    g = grammar_of("{\"type\":\"number\"}");
    ASSERT(ok(g, "0"));
    ASSERT(ok(g, "-12.5e-3"));
    ASSERT(!ok(g, "1."));
    ASSERT(!ok(g, "+1"));
    ASSERT(!ok(g, "12345678901234567")); /* 17 integer digits: over the bound */
    gram_free(g);
    g = grammar_of("{\"type\":[\"string\",\"null\"]}");
    ASSERT(ok(g, "null"));
    ASSERT(ok(g, "\"x\""));
    ASSERT(!ok(g, "1"));
    gram_free(g);
    g = grammar_of("{\"type\":\"boolean\"}");
    ASSERT(ok(g, "true"));
    ASSERT(!ok(g, "tru"));
    gram_free(g);
}

TEST(format_enum_const_anyof)
{
    struct gram *g = grammar_of("{\"enum\":[\"red\",\"gr\\\"een\",1.5,null,{\"a\":[true]}]}");
    ASSERT(ok(g, "\"red\""));
    ASSERT(ok(g, "\"gr\\\"een\""));
    ASSERT(ok(g, "1.5"));
    ASSERT(ok(g, "null"));
    ASSERT(ok(g, "{\"a\":[true]}"));
    ASSERT(!ok(g, "\"blue\""));
    ASSERT(!ok(g, "\"re\""));
    gram_free(g);
    g = grammar_of("{\"const\":\"fixed\"}");
    ASSERT(ok(g, "\"fixed\""));
    ASSERT(!ok(g, "\"fixe\""));
    gram_free(g);
    g = grammar_of("{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"array\",\"items\":"
                   "{\"type\":\"string\"}}]}");
    ASSERT(ok(g, "7"));
    ASSERT(ok(g, "[\"a\",\"b\"]"));
    ASSERT(!ok(g, "[1]"));
    gram_free(g);
    g = grammar_of("{\"oneOf\":[{\"const\":1},{\"const\":2}]}");
    ASSERT(ok(g, "2"));
    ASSERT(!ok(g, "3"));
    gram_free(g);
    g = grammar_of(
        "{\"type\":\"string\",\"enum\":[\"x\",\"y\"],\"format\":\"date\",\"pattern\":\".*\","
        "\"unknownKeyword\":1}"); /* enum wins; unknown keywords ignored */
    ASSERT(ok(g, "\"y\""));
    ASSERT(!ok(g, "\"z\""));
    gram_free(g);
}

TEST(format_refs)
{
    struct gram *g = grammar_of(
        "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
        "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},"
        "\"required\":[\"v\"]}},\"$ref\":\"#/$defs/node\"}");
    ASSERT(ok(g, "{\"v\":1}"));
    ASSERT(ok(g, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[]}]}"));
    ASSERT(!ok(g, "{\"v\":1,\"kids\":[{}]}"));
    gram_free(g);
    g = grammar_of("{\"definitions\":{\"c\":{\"enum\":[\"a\",\"b\"]}},\"type\":\"object\","
                   "\"properties\":{\"x\":{\"$ref\":\"#/definitions/c\"},"
                   "\"y\":{\"$ref\":\"#/definitions/c\"}},\"required\":[\"x\",\"y\"]}");
    ASSERT(ok(g, "{\"x\":\"a\",\"y\":\"b\"}"));
    ASSERT(!ok(g, "{\"x\":\"a\",\"y\":\"c\"}"));
    gram_free(g);
}

TEST(format_schema_true_and_empty)
{
    struct gram *g = grammar_of("{}");
    ASSERT(ok(g, "[1]"));
    ASSERT(ok(g, "\"s\""));
    ASSERT(ok(g, "{\"a\":{}}"));
    gram_free(g);
}

/* Many optional members: a few hundred are matched; thousands hit the matcher's caps and fail
 * the step cleanly (the runner then answers an error) instead of blowing up. */
TEST(format_many_optional_members)
{
    struct buf b;
    struct gram *g;
    struct gram_matcher *m = NULL;
    buf_init(&b, 1u << 22);
    ASSERT_EQ_INT(buf_puts(&b, "{\"type\":\"object\",\"properties\":{"), 0);
    for (int i = 0; i < 300; i++)
        ASSERT_EQ_INT(buf_printf(&b, "%s\"k%d\":{\"type\":\"integer\"}", i ? "," : "", i), 0);
    ASSERT_EQ_INT(buf_puts(&b, "}}"), 0);
    g = grammar_of(buf_str(&b));
    ASSERT(ok(g, "{\"k299\":1}"));
    ASSERT(ok(g, "{\"k3\":1,\"k250\":2}"));
    ASSERT(!ok(g, "{\"k250\":2,\"k3\":1}"));
    gram_free(g);
    buf_reset(&b);
    ASSERT_EQ_INT(buf_puts(&b, "{\"type\":\"object\",\"properties\":{"), 0);
    for (int i = 0; i < 3000; i++)
        ASSERT_EQ_INT(buf_printf(&b, "%s\"k%d\":{\"type\":\"integer\"}", i ? "," : "", i), 0);
    ASSERT_EQ_INT(buf_puts(&b, "}}"), 0);
    g = grammar_of(buf_str(&b));
    ASSERT_EQ_INT(gram_matcher_new(g, &m), 0);
    ASSERT(gram_matcher_accept(m, "{", 1) != 0);
    gram_matcher_free(m);
    gram_free(g);
    buf_fini(&b);
}

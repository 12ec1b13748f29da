/*
 * test_modelfile.c - Modelfile parser: instructions, quoting, comments, parameters (types,
 * unknown names, deprecated ones), errors with line numbers, conversion to a create request,
 * and the quoting rule used by `show --modelfile`.
 */
#include "harness/test.h"

#include "api/api_modelfile.h"
#include "common/json.h"

static int parse(const char *s, struct api_modelfile *mf, struct err_info *ei)
{
    return api_modelfile_parse(s, strlen(s), mf, ei);
}

TEST(modelfile_basic_instructions)
{
    struct api_modelfile mf;
    struct err_info ei = {0};
    const char *s = "\xef\xbb\xbf# a comment\n"
                    "FROM ./stories260K.gguf\r\n"
                    "parameter temperature 0.7\n"
                    "PARAMETER stop \"<|eot|>\"\n"
                    "PARAMETER stop User:\n"
                    "TEMPLATE \"\"\"{{ .System }}\n\"quoted\" {{ .Prompt }}\"\"\"\n"
                    "SYSTEM \"You are\n a story teller\"\n"
                    "MESSAGE user Hello there\n"
                    "LICENSE MIT\n";
    ASSERT_OK(parse(s, &mf, &ei));
    ASSERT_EQ_SIZE(mf.n, 8);
    ASSERT_EQ_STR(api_modelfile_from(&mf), "./stories260K.gguf");
    ASSERT_EQ_STR(mf.cmds[1].name, "parameter");
    ASSERT_EQ_STR(mf.cmds[1].key, "temperature");
    ASSERT_EQ_STR(mf.cmds[2].args, "<|eot|>");
    ASSERT_EQ_STR(mf.cmds[4].args, "{{ .System }}\n\"quoted\" {{ .Prompt }}");
    ASSERT_EQ_STR(mf.cmds[5].args, "You are\n a story teller");
    ASSERT_EQ_STR(mf.cmds[6].key, "user");
    ASSERT_EQ_STR(mf.cmds[6].args, "Hello there");
    ASSERT_EQ_INT(mf.cmds[7].line, 11);
    api_modelfile_fini(&mf);
}

TEST(modelfile_to_create_request)
{
    struct api_modelfile mf;
    struct err_info ei = {0};
    json_t *req = json_object();
    struct buf b;
    ASSERT_OK(parse("FROM x\nPARAMETER temperature 0.8\nPARAMETER top_k 40\nPARAMETER stop a\n"
                    "PARAMETER stop <b>\nPARAMETER use_mmap false\nSYSTEM hi\nMESSAGE user q\n"
                    "MESSAGE assistant a\nLICENSE l1\nLICENSE l2\n",
                    &mf, &ei));
    ASSERT_OK(api_modelfile_to_request(&mf, req, &ei));
    buf_init(&b, 1 << 16);
    ASSERT_OK(json_go_encode(req, 0, &b));
    ASSERT_EQ_STR(buf_str(&b),
                  "{\"system\":\"hi\",\"parameters\":{\"temperature\":0.8,\"top_k\":40,\"stop\":"
                  "[\"a\",\"\\u003cb\\u003e\"],\"use_mmap\":false},\"messages\":[{\"role\":"
                  "\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\"}],"
                  "\"license\":[\"l1\",\"l2\"]}");
    buf_fini(&b);
    json_decref(req);
    api_modelfile_fini(&mf);
}

TEST(modelfile_errors)
{
    struct api_modelfile mf;
    struct err_info ei = {0};
    ASSERT_EQ_INT(parse("PARAMETER top_k 1\n", &mf, &ei), E_PARSE);
    ASSERT_EQ_STR(ei.msg, "no FROM line");
    ASSERT_EQ_INT(parse("FROM x\nFROB y\n", &mf, &ei), E_PARSE);
    ASSERT(strstr(ei.msg, "(line 2): command must be one of \"from\""));
    ASSERT_EQ_INT(parse("FROM x\nPARAMETER bogus 1\n", &mf, &ei), E_INVAL);
    ASSERT_EQ_STR(ei.msg, "(line 2): unknown parameter 'bogus'");
    ASSERT_EQ_INT(parse("FROM x\nPARAMETER top_k lots\n", &mf, &ei), E_INVAL);
    ASSERT(strstr(ei.msg, "invalid int value [lots]"));
    ASSERT_EQ_INT(parse("FROM x\nTEMPLATE \"\"\"never closed\n", &mf, &ei), E_PARSE);
    ASSERT(strstr(ei.msg, "unexpected EOF"));
    ASSERT_EQ_INT(parse("FROM x\nSYSTEM \"open\n", &mf, &ei), E_PARSE);
    ASSERT_EQ_INT(parse("FROM x\nADAPTER ./lora.gguf\n", &mf, &ei), E_UNSUPPORTED);
    ASSERT(strstr(ei.msg, "ADAPTER is not supported yet"));
    ASSERT_EQ_INT(parse("FROM x\nMESSAGE robot hi\n", &mf, &ei), E_INVAL);
    ASSERT_EQ_INT(parse("FROM\n", &mf, &ei), E_PARSE);
    ASSERT_EQ_INT(parse("", &mf, &ei), E_PARSE);
}

TEST(modelfile_deprecated_parameter_warns)
{
    struct api_modelfile mf;
    struct err_info ei = {0};
    json_t *req = json_object();
    ASSERT_OK(parse("FROM x\nPARAMETER mirostat 2\n", &mf, &ei));
    ASSERT_EQ_STR(mf.warnings, "warning: parameter mirostat is deprecated");
    ASSERT_OK(api_modelfile_to_request(&mf, req, &ei));
    ASSERT(json_object_get(req, "parameters") == NULL);
    json_decref(req);
    api_modelfile_fini(&mf);
}

TEST(modelfile_params_check_json)
{
    struct err_info ei = {0};
    json_t *ok = json_pack("{s:f,s:i,s:[s],s:b}", "temperature", 0.5, "num_ctx", 128, "stop", "x",
                           "use_mmap", 1);
    json_t *bad = json_pack("{s:s}", "num_ctx", "big");
    json_t *unk = json_pack("{s:i}", "nope", 1);
    ASSERT_OK(api_params_check(ok, &ei));
    ASSERT_EQ_INT(api_params_check(bad, &ei), E_INVAL);
    ASSERT_EQ_STR(ei.msg, "option \"num_ctx\" must be of type integer");
    ASSERT_EQ_INT(api_params_check(unk, &ei), E_INVAL);
    json_decref(ok);
    json_decref(bad);
    json_decref(unk);
}

TEST(modelfile_quote_rule)
{
    struct buf b;
    buf_init(&b, 1024);
    ASSERT_OK(api_modelfile_quote("plain", &b));
    ASSERT_OK(buf_putc(&b, '|'));
    ASSERT_OK(api_modelfile_quote("two\nlines", &b));
    ASSERT_OK(buf_putc(&b, '|'));
    ASSERT_OK(api_modelfile_quote("say \"hi\"\n", &b));
    ASSERT_OK(buf_putc(&b, '|'));
    ASSERT_OK(api_modelfile_quote(" edge", &b));
    ASSERT_EQ_STR(buf_str(&b), "plain|\"two\nlines\"|\"\"\"say \"hi\"\n\"\"\"|\" edge\"");
    buf_fini(&b);
}

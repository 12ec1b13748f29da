/*
 * fuzz_template.c - libFuzzer target for the template engine: arbitrary bytes are parsed as a
 * template and, when they parse, rendered over a fixed chat (messages with a tool call, a tool
 * list, maps, numbers, nulls) with a small output cap.  Must never crash, leak or loop without
 * bound: output is capped by the buffer (FUZZ_TMPL_MAX_OUT), work by TMPL_MAX_STEPS and nesting
 * by TMPL_MAX_DEPTH.  Also renders through tmpl_execute (collation, legacy cut path).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "template/template.h"

#define FUZZ_TMPL_MAX_OUT (64u << 10) /* bytes of output per render */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_data[] =
    "{\"System\":\"sys\",\"Prompt\":\"p\",\"Response\":\"\",\"Think\":true,\"ThinkLevel\":\"high\","
    "\"Messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"u<&>\"}"
    ","
    "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"1\",\"function\":{\"name\":\"f\","
    "\"arguments\":{\"b\":1.5e30,\"a\":[null,true,-0.000001]}}}]},{\"role\":\"tool\","
    "\"content\":\"22\"},{\"role\":\"assistant\",\"content\":\"done\"}],"
    "\"Tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\","
    "\"parameters\":{\"type\":\"object\",\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":"
    "[\"string\",\"null\"],\"enum\":[\"x\"]},\"b\":{\"type\":\"integer\",\"properties\":"
    "{\"c\":{\"type\":\"string\"}}}}}}}],\"Map\":{\"k\":\"v\",\"n\":7},\"Num\":42}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tmpl *t = NULL;
    struct buf out;
    struct err_info ei = {0};
    json_t *values = json_loads(fuzz_data, 0, NULL);
    if (!values)
        return 0;
    buf_init(&out, FUZZ_TMPL_MAX_OUT);
    if (tmpl_parse((const char *)data, size, &t, &ei) == 0) {
        if (tmpl_render(t, values, &out, &ei) == 0 && out.n > FUZZ_TMPL_MAX_OUT)
            __builtin_trap();
        (void)tmpl_uses_messages(t);
        tmpl_free(t);
        buf_reset(&out);
        if (tmpl_execute((const char *)data, size, values, &out, &ei) == 0 &&
            out.n > FUZZ_TMPL_MAX_OUT)
            __builtin_trap();
    } else if (ei.line < 1 || ei.col < 1) {
        if (ei.code == E_PARSE)
            __builtin_trap(); /* parse errors always carry a position */
    }
    buf_fini(&out);
    json_decref(values);
    return 0;
}

/*
 * fuzz_format.c - libFuzzer target for the `format` -> grammar converter (api/api_format): the
 * input is a JSON value.  Checks: no crash; a format that converts gives grammar text (NULL only
 * for none), and a converted schema always compiles unless it is left-recursive through $ref or
 * too large (any other compile error is a converter bug); errors carry "invalid format".
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "api/api_format.h"
#include "common/mem.h"
#include "engine/gram/gram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *f = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    struct err_info ei = {0};
    char *text = NULL;
    int rc;
    if (!f)
        return 0;
    rc = api_format_grammar(f, &text, &ei);
    if (rc == 0 && !text && !json_is_null(f) && !(json_is_string(f) && !*json_string_value(f)))
        __builtin_trap();
    if (rc == E_INVAL && !strstr(ei.msg, "invalid format"))
        __builtin_trap();
    mem_free(text);
    text = NULL;
    if (json_is_object(f) && api_format_schema(f, &text, &ei) == 0) {
        struct gram *g = NULL;
        struct err_info gei = {0};
        rc = gram_compile(text, strlen(text), &g, &gei);
        if (rc != 0 && rc != E_RANGE && rc != E_NOMEM && !strstr(gei.msg, "left recursion"))
            __builtin_trap();
        gram_free(g);
    }
    mem_free(text);
    json_decref(f);
    return 0;
}

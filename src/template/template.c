/*
 * template.c - placeholder implementation of template.h while the real parser and evaluator
 * land; every entry point reports E_UNSUPPORTED.
 */
#include "template/template.h"

int tmpl_parse(const char *src, size_t n, struct tmpl **out, struct err_info *ei)
{
    return tmpl_parse_ex(src, n, TMPL_PARSE_APPEND_RESPONSE, out, ei);
}

int tmpl_parse_ex(const char *src, size_t n, unsigned flags, struct tmpl **out,
                  struct err_info *ei)
{
    (void)src, (void)n, (void)flags;
    *out = NULL;
    return err_set(ei, E_UNSUPPORTED, "templates not implemented yet");
}

void tmpl_free(struct tmpl *t)
{
    (void)t;
}

int tmpl_render(const struct tmpl *t, const json_t *data, struct buf *out, struct err_info *ei)
{
    (void)t, (void)data, (void)out;
    return err_set(ei, E_UNSUPPORTED, "templates not implemented yet");
}

bool tmpl_uses_messages(const struct tmpl *t)
{
    (void)t;
    return false;
}

bool tmpl_uses_field(const struct tmpl *t, const char *name)
{
    (void)t, (void)name;
    return false;
}

int tmpl_execute(const char *src, size_t n, const json_t *values, struct buf *out,
                 struct err_info *ei)
{
    (void)src, (void)n, (void)values, (void)out;
    return err_set(ei, E_UNSUPPORTED, "templates not implemented yet");
}

const struct tmpl_builtin *tmpl_builtin_for_chat_template(const char *jinja)
{
    (void)jinja;
    return NULL;
}

const struct tmpl_builtin *tmpl_builtin_get(const char *name)
{
    (void)name;
    return NULL;
}

const struct tmpl_builtin *tmpl_builtin_all(size_t *n)
{
    *n = 0;
    return NULL;
}

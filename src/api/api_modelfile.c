/*
 * api_modelfile.c - Modelfile parser, PARAMETER table and create-request conversion (see
 * api_modelfile.h).  The parser is a cursor over the whole text so quoted values may span lines;
 * every value is bounded by the input size (API_MF_MAX_BYTES) and the command count by
 * API_MF_MAX_COMMANDS.
 */
#include "api/api_modelfile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

static const struct api_param params[] = {
    {"num_keep", API_PARAM_INT, 0},
    {"seed", API_PARAM_INT, 0},
    {"num_predict", API_PARAM_INT, 0},
    {"top_k", API_PARAM_INT, 0},
    {"top_p", API_PARAM_FLOAT, 0},
    {"min_p", API_PARAM_FLOAT, 0},
    {"typical_p", API_PARAM_FLOAT, 0},
    {"repeat_last_n", API_PARAM_INT, 0},
    {"temperature", API_PARAM_FLOAT, 0},
    {"repeat_penalty", API_PARAM_FLOAT, 0},
    {"presence_penalty", API_PARAM_FLOAT, 0},
    {"frequency_penalty", API_PARAM_FLOAT, 0},
    {"stop", API_PARAM_STRINGS, 0},
    {"num_ctx", API_PARAM_INT, 0},
    {"num_batch", API_PARAM_INT, 0},
    {"num_gpu", API_PARAM_INT, 0},
    {"main_gpu", API_PARAM_INT, 0},
    {"use_mmap", API_PARAM_BOOL, 0},
    {"num_thread", API_PARAM_INT, 0},
    {"draft_num_predict", API_PARAM_INT, 0},
    /* removed from Ollama; a Modelfile naming them gets a warning */
    {"penalize_newline", API_PARAM_BOOL, 1},
    {"low_vram", API_PARAM_BOOL, 1},
    {"f16_kv", API_PARAM_BOOL, 1},
    {"logits_all", API_PARAM_BOOL, 1},
    {"vocab_only", API_PARAM_BOOL, 1},
    {"use_mlock", API_PARAM_BOOL, 1},
    {"mirostat", API_PARAM_INT, 1},
    {"mirostat_tau", API_PARAM_FLOAT, 1},
    {"mirostat_eta", API_PARAM_FLOAT, 1},
    {"numa", API_PARAM_BOOL, 1},
    {"num_gqa", API_PARAM_INT, 1},
    {"tfs_z", API_PARAM_FLOAT, 1},
    {"rope_frequency_base", API_PARAM_FLOAT, 1},
    {"rope_frequency_scale", API_PARAM_FLOAT, 1},
};

static const char *const commands[] = {"from",      "license", "template", "system",
                                       "adapter",   "draft",   "renderer", "parser",
                                       "parameter", "message", "requires"};

const struct api_param *api_param_find(const char *name)
{
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        if (!strcmp(params[i].name, name))
            return &params[i];
    return NULL;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (!strcmp(s, t[i]))
            return *out = 1, 0;
        if (!strcmp(s, f[i]))
            return *out = 0, 0;
    }
    return E_INVAL;
}

int api_param_from_text(const char *name, const char *text, json_t **out, struct err_info *ei)
{
    const struct api_param *p = api_param_find(name);
    char *end;
    int b;
    if (!p)
        return err_set(ei, E_INVAL, "unknown parameter '%s'", name);
    errno = 0;
    switch (p->type) {
    case API_PARAM_INT: {
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno)
            return err_set(ei, E_INVAL, "invalid int value [%s]", text);
        *out = json_integer(v);
        break;
    }
    case API_PARAM_FLOAT: {
        float v = strtof(text, &end);
        if (!*text || *end || errno || !isfinite(v))
            return err_set(ei, E_INVAL, "invalid float value [%s]", text);
        *out = json_real((double)v);
        break;
    }
    case API_PARAM_BOOL:
        if (parse_bool(text, &b) != 0)
            return err_set(ei, E_INVAL, "invalid bool value [%s]", text);
        *out = json_boolean(b);
        break;
    default:
        *out = json_string(text);
        break;
    }
    return *out ? 0 : E_NOMEM;
}

static int check_param(const char *k, const json_t *v, struct err_info *ei)
{
    const struct api_param *p = api_param_find(k);
    int ok;
    if (!p)
        return err_set(ei, E_INVAL, "unknown parameter '%s'", k);
    switch (p->type) {
    case API_PARAM_INT:
        ok = json_is_number(v);
        break;
    case API_PARAM_FLOAT:
        ok = json_is_number(v);
        break;
    case API_PARAM_BOOL:
        ok = json_is_boolean(v);
        break;
    case API_PARAM_STRING:
        ok = json_is_string(v);
        break;
    default:
        ok = json_is_array(v);
        for (size_t i = 0; ok && i < json_array_size(v); i++)
            ok = json_is_string(json_array_get(v, i));
        break;
    }
    if (ok)
        return 0;
    return err_set(ei, E_INVAL, "option \"%s\" must be of type %s", k,
                   p->type == API_PARAM_INT      ? "integer"
                   : p->type == API_PARAM_FLOAT  ? "float"
                   : p->type == API_PARAM_BOOL   ? "boolean"
                   : p->type == API_PARAM_STRING ? "string"
                                                 : "array of strings");
}

int api_params_check(const json_t *params_obj, struct err_info *ei)
{
    const char *k;
    json_t *v;
    int rc;
    if (!json_is_object(params_obj))
        return err_set(ei, E_INVAL, "parameters must be an object");
    json_object_foreach((json_t *)params_obj, k, v)
    {
        if (json_is_null(v))
            continue;
        if ((rc = check_param(k, v, ei)) != 0)
            return rc;
    }
    return 0;
}

/* ---- parser ---- */

struct cursor {
    const char *p, *end;
    int line;
};

static void skip_blank(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static int at_eol(const struct cursor *c)
{
    return c->p >= c->end || *c->p == '\n' || *c->p == '\r';
}

/* Reads a word of non-blank characters into out. */
static int read_word(struct cursor *c, char *out, size_t n)
{
    size_t k = 0;
    while (c->p < c->end && !isspace((unsigned char)*c->p)) {
        if (k + 1 >= n) {
            out[k] = '\0';
            return E_RANGE;
        }
        out[k++] = *c->p++;
    }
    out[k] = '\0';
    return k ? 0 : E_PARSE;
}

/* Value: """...""" or "..." (may span lines) or bare text to the end of the line (trimmed). */
static int read_value(struct cursor *c, char **out, struct err_info *ei)
{
    const char *s = c->p, *e;
    size_t qlen = 0;
    if (c->end - c->p >= 3 && !memcmp(c->p, "\"\"\"", 3))
        qlen = 3;
    else if (c->p < c->end && *c->p == '"')
        qlen = 1;
    if (qlen) {
        s = c->p + qlen;
        e = qlen == 3 ? memmem(s, (size_t)(c->end - s), "\"\"\"", 3)
                      : memchr(s, '"', (size_t)(c->end - s));
        if (!e)
            return err_set(ei, E_PARSE, "(line %d): unexpected EOF", c->line);
        for (const char *q = s; q < e; q++)
            c->line += *q == '\n';
        c->p = e + qlen;
        skip_blank(c);
        if (!at_eol(c))
            return err_set(ei, E_PARSE, "(line %d): unexpected text after closing quote", c->line);
    } else {
        while (c->p < c->end && *c->p != '\n')
            c->p++;
        e = c->p;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
    }
    if (!(*out = mem_strndup(s, (size_t)(e - s))))
        return E_NOMEM;
    return 0;
}

static int known_command(const char *w)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(w, commands[i]))
            return 1;
    return 0;
}

static int add_cmd(struct api_modelfile *mf, const struct api_mf_cmd *cmd)
{
    struct api_mf_cmd *p;
    if (mf->n >= API_MF_MAX_COMMANDS)
        return E_RANGE;
    if (!(p = mem_realloc_array(mf->cmds, mf->n + 1, sizeof(*p))))
        return E_NOMEM;
    mf->cmds = p;
    mf->cmds[mf->n++] = *cmd;
    return 0;
}

static int check_cmd(struct api_modelfile *mf, struct api_mf_cmd *cmd, struct err_info *ei)
{
    const struct api_param *p;
    struct err_info pe = {0};
    json_t *v = NULL;
    int rc;
    if (!strcmp(cmd->name, "adapter") || !strcmp(cmd->name, "draft") ||
        !strcmp(cmd->name, "renderer") || !strcmp(cmd->name, "parser"))
        return err_set(ei, E_UNSUPPORTED, "(line %d): %s is not supported yet", cmd->line,
                       !strcmp(cmd->name, "adapter")    ? "ADAPTER"
                       : !strcmp(cmd->name, "draft")    ? "DRAFT"
                       : !strcmp(cmd->name, "renderer") ? "RENDERER"
                                                        : "PARSER");
    if (!strcmp(cmd->name, "message") && strcmp(cmd->key, "system") && strcmp(cmd->key, "user") &&
        strcmp(cmd->key, "assistant"))
        return err_set(ei, E_INVAL,
                       "(line %d): role must be one of \"system\", \"user\", or \"assistant\"",
                       cmd->line);
    if (strcmp(cmd->name, "parameter") != 0)
        return 0;
    if (!(p = api_param_find(cmd->key)))
        return err_set(ei, E_INVAL, "(line %d): unknown parameter '%s'", cmd->line, cmd->key);
    if ((rc = api_param_from_text(cmd->key, cmd->args, &v, &pe)) != 0)
        return err_set(ei, rc, "(line %d): %s", cmd->line, pe.msg);
    json_decref(v);
    if (p->deprecated) {
        size_t k = strlen(mf->warnings);
        snprintf(mf->warnings + k, sizeof(mf->warnings) - k,
                 "%swarning: parameter %s is deprecated", k ? "\n" : "", cmd->key);
    }
    return 0;
}

/* Parses one instruction at c (positioned at its first letter). */
static int parse_cmd(struct cursor *c, struct api_modelfile *mf, struct err_info *ei)
{
    struct api_mf_cmd cmd;
    char key[128];
    int rc;
    memset(&cmd, 0, sizeof(cmd));
    cmd.line = c->line;
    if (read_word(c, key, sizeof(key)) != 0 || strlen(key) >= sizeof(cmd.name))
        key[sizeof(cmd.name) - 1] = '\0';
    for (char *q = key; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    if (!known_command(key))
        return err_set(ei, E_PARSE,
                       "(line %d): command must be one of \"from\", \"license\", \"template\", "
                       "\"system\", \"adapter\", \"draft\", \"renderer\", \"parser\", "
                       "\"parameter\", \"message\", or \"requires\"",
                       cmd.line);
    memcpy(cmd.name, key, strlen(key) + 1); /* a known command: at most 9 characters */
    skip_blank(c);
    if (!strcmp(cmd.name, "parameter") || !strcmp(cmd.name, "message")) {
        if (read_word(c, key, sizeof(key)) != 0)
            return err_set(ei, E_PARSE, "(line %d): missing value for %s", cmd.line, cmd.name);
        if (!(cmd.key = mem_strdup(key)))
            return E_NOMEM;
        skip_blank(c);
    }
    if ((rc = read_value(c, &cmd.args, ei)) == 0 && !*cmd.args && strcmp(cmd.name, "message"))
        rc = err_set(ei, E_PARSE, "(line %d): missing value for %s", cmd.line, cmd.name);
    if (!rc)
        rc = check_cmd(mf, &cmd, ei);
    if (!rc)
        rc = add_cmd(mf, &cmd);
    if (rc) {
        mem_free(cmd.key);
        mem_free(cmd.args);
    }
    return rc;
}

int api_modelfile_parse(const char *p, size_t n, struct api_modelfile *out, struct err_info *ei)
{
    struct api_modelfile mf;
    struct cursor c = {p, p + n, 1};
    int rc = 0;
    memset(&mf, 0, sizeof(mf));
    if (n > API_MF_MAX_BYTES)
        return err_set(ei, E_RANGE, "Modelfile too large");
    if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
        c.p += 3;
    while (!rc) {
        while (c.p < c.end && isspace((unsigned char)*c.p))
            c.line += *c.p++ == '\n';
        if (c.p >= c.end)
            break;
        if (*c.p == '#') {
            while (c.p < c.end && *c.p != '\n')
                c.p++;
            continue;
        }
        rc = parse_cmd(&c, &mf, ei);
    }
    if (!rc && !api_modelfile_from(&mf))
        rc = err_set(ei, E_PARSE, "no FROM line");
    if (rc) {
        api_modelfile_fini(&mf);
        return rc;
    }
    *out = mf;
    return 0;
}

void api_modelfile_fini(struct api_modelfile *mf)
{
    for (size_t i = 0; i < mf->n; i++) {
        mem_free(mf->cmds[i].key);
        mem_free(mf->cmds[i].args);
    }
    mem_free(mf->cmds);
    mf->cmds = NULL;
    mf->n = 0;
}

const char *api_modelfile_from(const struct api_modelfile *mf)
{
    const char *from = NULL;
    for (size_t i = 0; i < mf->n; i++)
        if (!strcmp(mf->cmds[i].name, "from"))
            from = mf->cmds[i].args;
    return from;
}

static int add_param(json_t *params_obj, const struct api_mf_cmd *cmd, struct err_info *ei)
{
    const struct api_param *p = api_param_find(cmd->key);
    json_t *v = NULL, *list;
    int rc;
    if (!p || p->deprecated)
        return 0;
    if ((rc = api_param_from_text(cmd->key, cmd->args, &v, ei)) != 0)
        return rc;
    if (p->type != API_PARAM_STRINGS)
        return json_object_set_new(params_obj, cmd->key, v) ? E_NOMEM : 0;
    if (!(list = json_object_get(params_obj, cmd->key))) {
        list = json_array();
        if (!list || json_object_set_new(params_obj, cmd->key, list) != 0) {
            json_decref(v);
            return E_NOMEM;
        }
    }
    return json_array_append_new(list, v) ? E_NOMEM : 0;
}

int api_modelfile_to_request(const struct api_modelfile *mf, json_t *req, struct err_info *ei)
{
    json_t *prm = json_object(), *msgs = json_array(), *lic = json_array();
    int rc = (prm && msgs && lic) ? 0 : E_NOMEM;
    for (size_t i = 0; !rc && i < mf->n; i++) {
        const struct api_mf_cmd *c = &mf->cmds[i];
        if (!strcmp(c->name, "template") || !strcmp(c->name, "system"))
            rc = json_object_set_new(req, c->name, json_string(c->args)) ? E_NOMEM : 0;
        else if (!strcmp(c->name, "license"))
            rc = json_array_append_new(lic, json_string(c->args)) ? E_NOMEM : 0;
        else if (!strcmp(c->name, "message"))
            rc = json_array_append_new(msgs,
                                       json_pack("{s:s,s:s}", "role", c->key, "content", c->args))
                     ? E_NOMEM
                     : 0;
        else if (!strcmp(c->name, "parameter"))
            rc = add_param(prm, c, ei);
        else if (!strcmp(c->name, "requires"))
            rc = json_object_set_new(req, "requires", json_string(c->args)) ? E_NOMEM : 0;
    }
    if (!rc && json_object_size(prm))
        rc = json_object_set(req, "parameters", prm) ? E_NOMEM : 0;
    if (!rc && json_array_size(msgs))
        rc = json_object_set(req, "messages", msgs) ? E_NOMEM : 0;
    if (!rc && json_array_size(lic))
        rc = json_object_set(req, "license", lic) ? E_NOMEM : 0;
    json_decref(prm);
    json_decref(msgs);
    json_decref(lic);
    return rc;
}

int api_modelfile_quote(const char *s, struct buf *out)
{
    size_t n = strlen(s);
    int edge = n && (s[0] == ' ' || s[n - 1] == ' ');
    int rc;
    if (!strchr(s, '\n') && !edge)
        return buf_puts(out, s);
    if (strchr(s, '"')) {
        if ((rc = buf_puts(out, "\"\"\"")) != 0 || (rc = buf_puts(out, s)) != 0)
            return rc;
        return buf_puts(out, "\"\"\"");
    }
    return buf_printf(out, "\"%s\"", s);
}

/*
 * cli_show.c - `corral show MODEL [--modelfile|--parameters|--template|--system|--license]
 * [-v]`: one raw field, or the default sectioned view (Model, Capabilities, Parameters, System,
 * License) as Ollama's CLI prints it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_model.h"
#include "cli/cli_client.h"
#include "cli/cli_fmt.h"
#include "common/cmd.h"
#include "common/json.h"

struct show_opts {
    const char *model;
    const char *field; /* "modelfile", "parameters", ... or NULL for the default view */
    int verbose;
};

static const char *none_msg(const char *field)
{
    if (!strcmp(field, "license"))
        return "No license was specified for this model.";
    if (!strcmp(field, "parameters"))
        return "No parameters were specified for this model.";
    if (!strcmp(field, "system"))
        return "No system message was specified for this model.";
    if (!strcmp(field, "template"))
        return "No prompt template was specified for this model.";
    return "";
}

static int parse_opts(int argc, char **argv, struct show_opts *o)
{
    static const char *const fields[] = {"modelfile", "parameters", "template", "system",
                                         "license"};
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int matched = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("Show information for a model\n\nUsage:\n  corral show MODEL [flags]\n\n"
                   "Flags:\n      --license      Show license of a model\n"
                   "      --modelfile    Show Modelfile of a model\n"
                   "      --parameters   Show parameters of a model\n"
                   "      --system       Show system message of a model\n"
                   "      --template     Show template of a model\n"
                   "  -v, --verbose      Show detailed model information\n");
            return 2;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
            continue;
        }
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
            if (!strncmp(a, "--", 2) && !strcmp(a + 2, fields[k])) {
                if (o->field) {
                    fprintf(stderr, "Error: only one of '--license', '--modelfile', "
                                    "'--parameters', '--system', or '--template' can be "
                                    "specified\n");
                    return 1;
                }
                o->field = fields[k];
                matched = 1;
            }
        if (matched)
            continue;
        if (a[0] == '-' || o->model) {
            fprintf(stderr, "Error: unknown flag or extra argument: %s\n", a);
            return 1;
        }
        o->model = a;
    }
    if (!o->model) {
        fprintf(stderr, "Error: accepts 1 arg(s), received 0\n");
        return 1;
    }
    return 0;
}

static void row(struct cli_table *t, const char *k, const char *v)
{
    const char *cells[2] = {k, v};
    if (v && *v && cli_table_add(t, cells) != 0)
        return;
}

static void section(const char *title, struct cli_table *t)
{
    if (!t->rows)
        return;
    printf("  %s\n", title);
    cli_table_print(t, stdout, "    ");
    printf("\n");
    cli_table_fini(t);
}

static void model_section(const json_t *r)
{
    const json_t *info = json_object_get(r, "model_info");
    const json_t *det = json_object_get(r, "details");
    const char *arch = json_string_value(json_object_get(info, "general.architecture"));
    char key[160], num[64], params[32] = "";
    struct cli_table t;
    json_int_t pc = json_integer_value(json_object_get(info, "general.parameter_count"));
    cli_table_init(&t, 2);
    row(&t, "architecture", arch);
    if (pc > 0)
        api_human_number((uint64_t)pc, params, sizeof(params));
    row(&t, "parameters",
        *params ? params : json_string_value(json_object_get(det, "parameter_size")));
    snprintf(key, sizeof(key), "%s.context_length", arch ? arch : "");
    snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(info, key)));
    if (json_object_get(info, key))
        row(&t, "context length", num);
    snprintf(key, sizeof(key), "%s.embedding_length", arch ? arch : "");
    snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(info, key)));
    if (json_object_get(info, key))
        row(&t, "embedding length", num);
    row(&t, "quantization", json_string_value(json_object_get(det, "quantization_level")));
    section("Model", &t);
}

/* Rows of "name  value" from the parameters text ("name<pad> value" lines). */
static void params_section(const char *text)
{
    struct cli_table t;
    cli_table_init(&t, 2);
    while (text && *text) {
        const char *nl = strchr(text, '\n'), *sp;
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        char line[1024], *v;
        snprintf(line, sizeof(line), "%.*s", (int)n, text);
        if ((sp = strchr(line, ' '))) {
            v = line + (sp - line);
            *v++ = '\0';
            while (*v == ' ')
                v++;
            row(&t, line, v);
        }
        text = nl ? nl + 1 : NULL;
    }
    section("Parameters", &t);
}

/* First two lines of a text, then "..." when there is more. */
static void text_section(const char *title, const char *text)
{
    struct cli_table t;
    char line[1024];
    const char *cells[1] = {line};
    cli_table_init(&t, 1);
    for (int lines = 0; text && *text; lines++) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        if (lines == 2)
            snprintf(line, sizeof(line), "...");
        else
            snprintf(line, sizeof(line), "%.*s", (int)n, text);
        if (cli_table_add(&t, cells) != 0 || lines == 2)
            break;
        text = nl ? nl + 1 : NULL;
    }
    section(title, &t);
}

/* Compact JSON text of v into b (reset first); "" on failure. */
static const char *json_text(const json_t *v, struct buf *b)
{
    buf_reset(b);
    if (json_go_encode(v, 0, b) != 0)
        buf_reset(b);
    return buf_str(b);
}

/* -v: every model_info key with its value, and the tensor list. */
static void verbose_sections(const json_t *r)
{
    const json_t *info = json_object_get(r, "model_info"), *ts = json_object_get(r, "tensors");
    struct cli_table t;
    struct buf b;
    const char *k;
    json_t *v;
    buf_init(&b, 16u << 20);
    cli_table_init(&t, 2);
    json_object_foreach((json_t *)info, k, v)
    {
        const char *cells[2] = {k, json_is_string(v) ? json_string_value(v) : json_text(v, &b)};
        if (cli_table_add(&t, cells) != 0)
            break;
    }
    section("Metadata", &t);
    cli_table_init(&t, 3);
    for (size_t i = 0; i < json_array_size(ts); i++) {
        const json_t *e = json_array_get(ts, i);
        const char *cells[3] = {json_string_value(json_object_get(e, "name")),
                                json_string_value(json_object_get(e, "type")),
                                json_text(json_object_get(e, "shape"), &b)};
        if (cli_table_add(&t, cells) != 0)
            break;
    }
    section("Tensors", &t);
    buf_fini(&b);
}

static void default_view(const json_t *r)
{
    const json_t *caps = json_object_get(r, "capabilities");
    struct cli_table t;
    model_section(r);
    cli_table_init(&t, 1);
    for (size_t i = 0; i < json_array_size(caps); i++) {
        const char *cells[1] = {json_string_value(json_array_get(caps, i))};
        if (cells[0] && cli_table_add(&t, cells) != 0)
            break;
    }
    section("Capabilities", &t);
    params_section(json_string_value(json_object_get(r, "parameters")));
    text_section("System", json_string_value(json_object_get(r, "system")));
    text_section("License", json_string_value(json_object_get(r, "license")));
}

static int cmd_show(int argc, char **argv)
{
    struct show_opts o;
    struct cli_client c;
    struct err_info ei = {0};
    json_t *body, *out = NULL;
    int rc;
    if ((rc = parse_opts(argc, argv, &o)) != 0)
        return rc == 2 ? 0 : 1;
    if ((rc = cli_client_init(&c, &ei)) != 0) {
        fprintf(stderr, "Error: %s\n", ei.msg);
        return 1;
    }
    body = json_pack("{s:s,s:b}", "model", o.model, "verbose", o.verbose);
    rc = cli_request(&c, "POST", "/api/show", body, &out, NULL, &ei);
    json_decref(body);
    if (rc) {
        fprintf(stderr, "Error: %s\n", *ei.msg ? ei.msg : err_str(rc));
        return 1;
    }
    if (o.field) {
        const char *v = json_string_value(json_object_get(out, o.field));
        printf("%s\n", v && *v ? v : none_msg(o.field));
    } else {
        default_view(out);
        if (o.verbose)
            verbose_sections(out);
    }
    json_decref(out);
    return 0;
}
CMD_REGISTER(show, "show", cmd_show, "Show information for a model")

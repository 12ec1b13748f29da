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
#include "common/buf.h"
#include "common/cmd.h"
#include "common/json.h"
#include "common/mem.h"

struct show_opts {
    const char *model;
    const char *field; /* "modelfile", "parameters", ... or NULL for the default view */
    int verbose;
};

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

/* A row of showInfo's tables: an empty first column (the indent), then the cells. */
static void row_n(struct cli_table *t, const char *const *cells, size_t n)
{
    const char *c[CLI_TABLE_MAX_COLS] = {""};
    for (size_t i = 0; i < n && i + 1 < CLI_TABLE_MAX_COLS; i++)
        c[i + 1] = cells[i];
    if (cli_table_add_n(t, c, n + 1 < CLI_TABLE_MAX_COLS ? n + 1 : CLI_TABLE_MAX_COLS) != 0)
        return;
}

static void row(struct cli_table *t, const char *k, const char *v)
{
    const char *cells[2] = {k, v ? v : ""};
    row_n(t, cells, 2);
}

/* tableRender: "  <title>", the table, a blank line. */
static void section(const char *title, struct cli_table *t)
{
    printf("  %s\n", title);
    cli_table_print(t, stdout);
    printf("\n");
    cli_table_fini(t);
}

static void table_new(struct cli_table *t, const char *title)
{
    cli_table_init(t, CLI_TABLE_MAX_COLS);
    if (!strcmp(title, "Template") || !strcmp(title, "System") || !strcmp(title, "License"))
        t->wrap = 100; /* SetColWidth(100) for these */
}

static const json_t *info_num(const json_t *info, const char *arch, const char *suffix)
{
    char key[192];
    const json_t *v;
    snprintf(key, sizeof(key), "%s.%s", arch, suffix);
    v = json_object_get(info, key);
    return json_is_number(v) ? v : NULL;
}

static void model_section(const json_t *r)
{
    const json_t *info = json_object_get(r, "model_info");
    const json_t *det = json_object_get(r, "details"), *v;
    const char *arch = json_string_value(json_object_get(info, "general.architecture"));
    const char *psize = json_string_value(json_object_get(det, "parameter_size"));
    const char *req = json_string_value(json_object_get(r, "requires"));
    char num[64], params[32] = "";
    struct cli_table t;
    table_new(&t, "Model");
    if (json_is_string(json_object_get(r, "remote_host")) &&
        *json_string_value(json_object_get(r, "remote_host"))) {
        row(&t, "Remote model", json_string_value(json_object_get(r, "remote_model")));
        row(&t, "Remote URL", json_string_value(json_object_get(r, "remote_host")));
    }
    if (info) {
        if (arch && *arch)
            row(&t, "architecture", arch);
        if (psize && *psize)
            snprintf(params, sizeof(params), "%s", psize);
        else if (json_is_number(json_object_get(info, "general.parameter_count")))
            api_human_number(
                (uint64_t)json_number_value(json_object_get(info, "general.parameter_count")),
                params, sizeof(params));
        if (*params)
            row(&t, "parameters", params);
        if ((v = info_num(info, arch ? arch : "", "context_length"))) {
            snprintf(num, sizeof(num), "%.0f", json_number_value(v));
            row(&t, "context length", num);
        }
        if ((v = info_num(info, arch ? arch : "", "embedding_length"))) {
            snprintf(num, sizeof(num), "%.0f", json_number_value(v));
            row(&t, "embedding length", num);
        }
    } else {
        row(&t, "architecture", json_string_value(json_object_get(det, "family")));
        row(&t, "parameters", psize);
    }
    row(&t, "quantization", json_string_value(json_object_get(det, "quantization_level")));
    if (req && *req)
        row(&t, "requires", req);
    section("Model", &t);
}

/* Rows of strings.Fields(line) for each non-empty line of the parameters text. */
static void params_section(const char *text)
{
    struct cli_table t;
    if (!text || !*text)
        return;
    table_new(&t, "Parameters");
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text), k = 0;
        char line[1024], *save = NULL, *tok;
        const char *cells[CLI_TABLE_MAX_COLS - 1];
        snprintf(line, sizeof(line), "%.*s", (int)n, text);
        for (tok = strtok_r(line, " \t\r\v\f", &save); tok && k < CLI_TABLE_MAX_COLS - 1;
             tok = strtok_r(NULL, " \t\r\v\f", &save))
            cells[k++] = tok;
        if (k)
            row_n(&t, cells, k);
        text = nl ? nl + 1 : text + n;
    }
    section("Parameters", &t);
}

/* head(s, 2): the first two non-blank lines (trimmed), then "..." when there are more. */
static void text_section(const char *title, const char *text)
{
    struct cli_table t;
    int count = 0;
    if (!text || !*text)
        return;
    table_new(&t, title);
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        const char *p = text;
        char line[1024];
        text = nl ? nl + 1 : text + n;
        while (n && strchr(" \t\r\v\f", *p))
            p++, n--;
        while (n && strchr(" \t\r\v\f", p[n - 1]))
            n--;
        if (!n)
            continue;
        if (++count <= 2) {
            const char *cells[1] = {line};
            snprintf(line, sizeof(line), "%.*s", (int)n, p);
            row_n(&t, cells, 1);
        }
    }
    if (count > 2) {
        const char *cells[1] = {"..."};
        row_n(&t, cells, 1);
    }
    section(title, &t);
}

/* Appends s; a full buffer (1 MB cap) just truncates the displayed cell. */
static void bput(struct buf *b, const char *s)
{
    if (buf_append(b, s, strlen(s)) != 0)
        return;
}

/* Go's %v of a decoded JSON value (numbers are float64 there). */
static void go_value(const json_t *v, char *out, size_t n)
{
    if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_number(v))
        cli_go_float(json_number_value(v), out, n);
    else if (json_is_null(v))
        snprintf(out, n, "<nil>");
    else
        snprintf(out, n, "%s", json_is_array(v) ? "[]interface {}" : "map[string]interface {}");
}

/* showInfo's Metadata cell for an array: as many items as fit in 10 columns, then
 * " ...+N more]". */
static void go_array(const json_t *a, struct buf *b)
{
    size_t total = 1, shown = 0, len = json_array_size(a);
    char item[512];
    for (size_t i = 0; i < len; i++) {
        size_t w;
        go_value(json_array_get(a, i), item, sizeof(item));
        w = strlen(item) + (i > 0 ? 2 : 0);
        if (total + w > 10 && i > 0)
            break;
        total += w;
        shown++;
    }
    buf_reset(b);
    bput(b, "[");
    for (size_t i = 0; i < shown; i++) {
        go_value(json_array_get(a, i), item, sizeof(item));
        if (i)
            bput(b, " ");
        bput(b, item);
    }
    if (shown < len) {
        snprintf(item, sizeof(item), " ...+%zu more", len - shown);
        bput(b, item);
    }
    bput(b, "]");
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* -v: every model_info key (sorted) with its value as Go prints it. */
static void metadata_section(const json_t *info)
{
    size_t n = json_object_size(info), k = 0;
    const char **keys = n ? mem_calloc(n, sizeof(*keys)) : NULL;
    struct cli_table t;
    struct buf b;
    const char *key;
    json_t *v;
    if (!keys)
        return;
    json_object_foreach((json_t *)info, key, v) keys[k++] = key;
    qsort(keys, k, sizeof(*keys), key_cmp);
    buf_init(&b, 1u << 20);
    table_new(&t, "Metadata");
    for (size_t i = 0; i < k; i++) {
        char val[1024];
        const char *cells[2] = {keys[i], val};
        v = json_object_get(info, keys[i]);
        if (json_is_array(v)) {
            go_array(v, &b);
            cells[1] = buf_str(&b);
        } else {
            go_value(v, val, sizeof(val));
        }
        row_n(&t, cells, 2);
    }
    section("Metadata", &t);
    buf_fini(&b);
    mem_free(keys);
}

/* -v: the tensor list, shapes as Go's fmt.Sprint of a slice ("[64 512]"). */
static void tensors_section(const json_t *ts)
{
    struct cli_table t;
    struct buf b;
    if (!json_array_size(ts))
        return;
    buf_init(&b, 4096);
    table_new(&t, "Tensors");
    for (size_t i = 0; i < json_array_size(ts); i++) {
        const json_t *e = json_array_get(ts, i), *sh = json_object_get(e, "shape");
        const char *cells[3] = {json_string_value(json_object_get(e, "name")),
                                json_string_value(json_object_get(e, "type")), NULL};
        buf_reset(&b);
        bput(&b, "[");
        for (size_t d = 0; d < json_array_size(sh); d++) {
            char dim[32];
            snprintf(dim, sizeof(dim), "%s%lld", d ? " " : "",
                     (long long)json_integer_value(json_array_get(sh, d)));
            bput(&b, dim);
        }
        bput(&b, "]");
        cells[2] = buf_str(&b);
        row_n(&t, cells, 3);
    }
    section("Tensors", &t);
    buf_fini(&b);
}

static void default_view(const json_t *r, int verbose)
{
    const json_t *caps = json_object_get(r, "capabilities");
    const json_t *info = json_object_get(r, "model_info");
    struct cli_table t;
    model_section(r);
    if (json_array_size(caps)) {
        table_new(&t, "Capabilities");
        for (size_t i = 0; i < json_array_size(caps); i++) {
            const char *cells[1] = {json_string_value(json_array_get(caps, i))};
            row_n(&t, cells, 1);
        }
        section("Capabilities", &t);
    }
    params_section(json_string_value(json_object_get(r, "parameters")));
    if (verbose && info)
        metadata_section(info);
    if (verbose)
        tensors_section(json_object_get(r, "tensors"));
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
        /* ShowHandler: Println for license/modelfile/parameters, Print for system/template */
        const char *v = json_string_value(json_object_get(out, o.field));
        int nl = strcmp(o.field, "system") != 0 && strcmp(o.field, "template") != 0;
        printf("%s%s", v ? v : "", nl ? "\n" : "");
    } else {
        default_view(out, o.verbose);
    }
    json_decref(out);
    return 0;
}
CMD_REGISTER(show, "show", cmd_show, "Show information for a model")

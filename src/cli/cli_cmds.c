/*
 * cli_cmds.c - client subcommands that talk to the daemon: list/ls, show, rm, cp, ps and
 * --version, printing what Ollama's CLI prints (ollama-reference.md 2).  Errors print as one
 * line `Error: <message>` on stderr with exit status 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli_client.h"
#include "cli/cli_fmt.h"
#include "common/cmd.h"
#include "common/json.h"
#include "common/version.h"

static int fail(const struct err_info *ei, int rc)
{
    fprintf(stderr, "Error: %s\n", *ei->msg ? ei->msg : err_str(rc));
    return 1;
}

/* cobra's argument-count errors: want > 0 is ExactArgs(want), want < 0 MinimumNArgs(-want). */
static int usage_error(const char *usage, int want, int got)
{
    if (want >= 0)
        fprintf(stderr, "Error: accepts %d arg(s), received %d\n", want, got);
    else
        fprintf(stderr, "Error: requires at least %d arg(s), only received %d\n", -want, got);
    fprintf(stderr, "\nUsage:\n  %s\n", usage);
    return 1;
}

/* `corral CMD -h|--help`: prints the usage line; returns 1 when help was asked for. */
static int wants_help(int argc, char **argv, const char *summary, const char *usage)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("%s\n\nUsage:\n  %s\n", summary, usage);
            return 1;
        }
    return 0;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- list ---- */

static int list_row(struct cli_table *t, const json_t *m, time_t now)
{
    char id[13], size[32], mod[64];
    const char *cells[4];
    snprintf(id, sizeof(id), "%s", jstr(m, "digest"));
    if (*jstr(m, "remote_model"))
        snprintf(size, sizeof(size), "-");
    else
        cli_human_bytes((uint64_t)json_integer_value(json_object_get(m, "size")), size,
                        sizeof(size));
    cli_human_time_str(jstr(m, "modified_at"), "Never", now, mod, sizeof(mod));
    cells[0] = jstr(m, "name"), cells[1] = id, cells[2] = size, cells[3] = mod;
    return cli_table_add(t, cells);
}

static int cmd_list(int argc, char **argv)
{
    static const char *const head[] = {"NAME", "ID", "SIZE", "MODIFIED"};
    struct cli_client c;
    struct err_info ei = {0};
    struct cli_table t;
    json_t *out = NULL, *models;
    const char *prefix = argc > 1 ? argv[1] : NULL;
    int rc;
    if (wants_help(argc, argv, "List models", "corral list [PREFIX]"))
        return 0;
    if ((rc = cli_client_init(&c, &ei)) != 0 ||
        (rc = cli_request(&c, "GET", "/api/tags", NULL, &out, NULL, &ei)) != 0)
        return fail(&ei, rc);
    models = json_object_get(out, "models");
    cli_table_init(&t, 4);
    t.header = 1;
    rc = cli_table_add(&t, head);
    for (size_t i = 0; !rc && i < json_array_size(models); i++) {
        const json_t *m = json_array_get(models, i);
        if (!prefix || !strncasecmp(jstr(m, "name"), prefix, strlen(prefix)))
            rc = list_row(&t, m, time(NULL));
    }
    cli_table_print(&t, stdout);
    cli_table_fini(&t);
    json_decref(out);
    return rc ? 1 : 0;
}
CMD_REGISTER(list, "list", cmd_list, "List models")
CMD_REGISTER(ls, "ls", cmd_list, NULL)

/* ---- ps ---- */

/* UNTIL: "Stopping..." once expired (Go's zero time included), else format.HumanTime. */
static void until_text(const char *expires, char *out, size_t n)
{
    time_t t, now = time(NULL);
    if (!strncmp(expires, "0001-01-01T00:00:00", 19) ||
        (cli_parse_time(expires, &t) == 0 && t < now))
        snprintf(out, n, "Stopping...");
    else
        cli_human_time_str(expires, "Never", now, out, n);
}

/* PROCESSOR as ListRunningHandler words it (CPU share rounded). */
static void processor_text(json_int_t sz, json_int_t vram, char *out, size_t n)
{
    if (vram == 0)
        snprintf(out, n, "100%% CPU");
    else if (vram == sz)
        snprintf(out, n, "100%% GPU");
    else if (vram > sz || sz <= 0)
        snprintf(out, n, "Unknown");
    else {
        int cpu = (int)lround((double)(sz - vram) / (double)sz * 100);
        snprintf(out, n, "%d%%/%d%% CPU/GPU", cpu, 100 - cpu);
    }
}

static int ps_row(struct cli_table *t, const json_t *m)
{
    char id[13], size[32], proc[32], ctx[32], until[64];
    const char *cells[6];
    json_int_t sz = json_integer_value(json_object_get(m, "size"));
    json_int_t vram = json_integer_value(json_object_get(m, "size_vram"));
    snprintf(id, sizeof(id), "%s", jstr(m, "digest"));
    cli_human_bytes((uint64_t)(sz > 0 ? sz : 0), size, sizeof(size));
    processor_text(sz, vram, proc, sizeof(proc));
    snprintf(ctx, sizeof(ctx), "%lld",
             (long long)json_integer_value(json_object_get(m, "context_length")));
    until_text(jstr(m, "expires_at"), until, sizeof(until));
    cells[0] = jstr(m, "name"), cells[1] = id, cells[2] = size, cells[3] = proc;
    cells[4] = ctx, cells[5] = until;
    return cli_table_add(t, cells);
}

static int cmd_ps(int argc, char **argv)
{
    static const char *const head[] = {"NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"};
    struct cli_client c;
    struct err_info ei = {0};
    struct cli_table t;
    json_t *out = NULL, *models;
    int rc;
    if (wants_help(argc, argv, "List running models", "corral ps"))
        return 0;
    if ((rc = cli_client_init(&c, &ei)) != 0 ||
        (rc = cli_request(&c, "GET", "/api/ps", NULL, &out, NULL, &ei)) != 0)
        return fail(&ei, rc);
    models = json_object_get(out, "models");
    cli_table_init(&t, 6);
    t.header = 1;
    rc = cli_table_add(&t, head);
    for (size_t i = 0; !rc && i < json_array_size(models); i++) {
        const json_t *m = json_array_get(models, i);
        if (argc < 2 || !strncmp(jstr(m, "name"), argv[1], strlen(argv[1])))
            rc = ps_row(&t, m); /* case-sensitive prefix, as ollama ps does */
    }
    cli_table_print(&t, stdout);
    cli_table_fini(&t);
    json_decref(out);
    return rc ? 1 : 0;
}
CMD_REGISTER(ps, "ps", cmd_ps, "List running models")

/* ---- rm / cp ---- */

static int cmd_rm(int argc, char **argv)
{
    struct cli_client c;
    struct err_info ei = {0};
    int rc;
    if (wants_help(argc, argv, "Remove a model", "corral rm MODEL [MODEL...]"))
        return 0;
    if (argc < 2)
        return usage_error("corral rm MODEL [MODEL...]", -1, argc - 1);
    if ((rc = cli_client_init(&c, &ei)) != 0)
        return fail(&ei, rc);
    for (int i = 1; i < argc; i++) {
        json_t *body = json_pack("{s:s}", "model", argv[i]);
        json_t *unload = json_pack("{s:s,s:i}", "model", argv[i], "keep_alive", 0);
        json_t *ignored = NULL;
        struct err_info uei = {0};
        /* unload first, as Ollama does; a daemon without the model loaded just answers */
        if (cli_request(&c, "POST", "/api/generate", unload, &ignored, NULL, &uei) == E_NET) {
            json_decref(body);
            json_decref(unload);
            return fail(&uei, E_NET);
        }
        json_decref(ignored);
        json_decref(unload);
        rc = cli_request(&c, "DELETE", "/api/delete", body, NULL, NULL, &ei);
        json_decref(body);
        if (rc)
            return fail(&ei, rc);
        printf("deleted '%s'\n", argv[i]);
    }
    return 0;
}
CMD_REGISTER(rm, "rm", cmd_rm, "Remove a model")

static int cmd_cp(int argc, char **argv)
{
    struct cli_client c;
    struct err_info ei = {0};
    json_t *body;
    int rc;
    if (wants_help(argc, argv, "Copy a model", "corral cp SOURCE DESTINATION"))
        return 0;
    if (argc != 3)
        return usage_error("corral cp SOURCE DESTINATION", 2, argc - 1);
    if ((rc = cli_client_init(&c, &ei)) != 0)
        return fail(&ei, rc);
    body = json_pack("{s:s,s:s}", "source", argv[1], "destination", argv[2]);
    rc = cli_request(&c, "POST", "/api/copy", body, NULL, NULL, &ei);
    json_decref(body);
    if (rc)
        return fail(&ei, rc);
    printf("copied '%s' to '%s'\n", argv[1], argv[2]);
    return 0;
}
CMD_REGISTER(cp, "cp", cmd_cp, "Copy a model")

/* ---- --version ---- */

static int cmd_version(int argc, char **argv)
{
    struct cli_client c;
    struct err_info ei = {0};
    json_t *out = NULL;
    const char *v;
    (void)argc;
    (void)argv;
    if (cli_client_init(&c, &ei) != 0 ||
        cli_request(&c, "GET", "/api/version", NULL, &out, NULL, &ei) != 0) {
        printf("Warning: could not connect to a running corral instance\n");
        printf("Warning: client version is %s (corral %s)\n", CORRAL_OLLAMA_VERSION,
               CORRAL_VERSION);
        return 0;
    }
    v = jstr(out, "version");
    const char *cv = jstr(out, "corral_version");
    printf("corral version is %s (corral %s)\n", v, *cv ? cv : "?");
    if (strcmp(v, CORRAL_OLLAMA_VERSION) != 0 || strcmp(*cv ? cv : "", CORRAL_VERSION) != 0)
        printf("Warning: client version is %s (corral %s)\n", CORRAL_OLLAMA_VERSION,
               CORRAL_VERSION);
    json_decref(out);
    return 0;
}
CMD_REGISTER(version, "--version", cmd_version, NULL)

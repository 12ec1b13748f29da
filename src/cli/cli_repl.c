/*
 * cli_repl.c - the interactive side of `corral run` (ollama-reference.md 2.1): a libedit prompt
 * (`>>> `, continuation `... `, history in ~/.ollama/history unless OLLAMA_NOHISTORY) whose
 * lines go to /api/chat with the session's history, and the slash commands /set, /show, /load,
 * /save, /clear, /list, /bye, /? with Ollama's wording.  `"""` opens a multi-line message that a
 * line ending in `"""` closes.  Ctrl-C stops a generation (the message is dropped from the
 * history); on an empty line it prints a hint; Ctrl-D leaves.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>

#include "api/api_llm.h"
#include "cli/cli_run.h"
#include "common/buf.h"
#include "common/cmd.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/mem.h"

#define REPL_HISTORY_MAX 1000

/* readline and jansson allocate with libc; their strings go back through this */
static void (*const libc_free)(void *) = free;

static const char help_main[] = "Available Commands:\n"
                                "  /set            Set session variables\n"
                                "  /show           Show model information\n"
                                "  /load <model>   Load a session or model\n"
                                "  /save <model>   Save your current session\n"
                                "  /clear          Clear session context\n"
                                "  /bye            Exit\n"
                                "  /?, /help       Help for a command\n"
                                "  /? shortcuts    Help for keyboard shortcuts\n"
                                "\n"
                                "Use \"\"\" to begin a multi-line message.\n";

static const char help_set[] = "Available Commands:\n"
                               "  /set parameter ...     Set a parameter\n"
                               "  /set system <string>   Set system message\n"
                               "  /set template <string> Set prompt template\n"
                               "  /set history           Enable history\n"
                               "  /set nohistory         Disable history\n"
                               "  /set wordwrap          Enable wordwrap\n"
                               "  /set nowordwrap        Disable wordwrap\n"
                               "  /set format json       Enable JSON mode\n"
                               "  /set noformat          Disable formatting\n"
                               "  /set verbose           Show LLM stats\n"
                               "  /set quiet             Disable LLM stats\n"
                               "  /set think             Enable thinking\n"
                               "  /set nothink           Disable thinking\n";

static const char help_show[] = "Available Commands:\n"
                                "  /show info         Show details for this model\n"
                                "  /show license      Show model license\n"
                                "  /show modelfile    Show Modelfile for this model\n"
                                "  /show parameters   Show parameters for this model\n"
                                "  /show system       Show system message\n"
                                "  /show template     Show prompt template\n";

static const char help_keys[] = "Available keyboard shortcuts:\n"
                                "  Ctrl + a            Move to the beginning of the line (Home)\n"
                                "  Ctrl + e            Move to the end of the line (End)\n"
                                "  Ctrl + k            Delete the sentence after the cursor\n"
                                "  Ctrl + u            Delete the sentence before the cursor\n"
                                "  Ctrl + w            Delete the word before the cursor\n"
                                "  Ctrl + l            Clear the screen\n"
                                "  Ctrl + c            Stop the model from responding\n"
                                "  Ctrl + d            Exit corral (/bye)\n";

/* ---- chat ---------------------------------------------------------------------------------- */

static json_t *chat_body(struct cli_session *s)
{
    json_t *msgs = json_array(), *b;
    if (!msgs)
        return NULL;
    if (s->system)
        json_array_append_new(msgs,
                              json_pack("{s:s, s:s}", "role", "system", "content", s->system));
    json_array_extend(msgs, s->messages);
    b = json_pack("{s:s, s:o}", "model", s->model, "messages", msgs);
    if (!b)
        return NULL;
    if (json_object_size(s->options))
        json_object_set(b, "options", s->options);
    if (s->format)
        json_object_set_new(b, "format", json_string(s->format));
    if (s->keep_alive)
        json_object_set(b, "keep_alive", s->keep_alive);
    cli_run_think(s, b);
    return b;
}

static void submit(struct cli_session *s, const char *text)
{
    struct err_info ei = {0};
    char *reply = NULL;
    json_t *body;
    int rc;
    json_array_append_new(s->messages, json_pack("{s:s, s:s}", "role", "user", "content", text));
    if (!(body = chat_body(s)))
        return;
    rc = cli_run_stream(s, "/api/chat", body, &reply, &ei);
    json_decref(body);
    if (rc == 0) {
        json_array_append_new(s->messages, json_pack("{s:s, s:s}", "role", "assistant", "content",
                                                     reply ? reply : ""));
    } else {
        json_array_remove(s->messages, json_array_size(s->messages) - 1);
        if (rc != E_CANCELLED)
            fprintf(stderr, "Error: %s\n", ei.msg[0] ? ei.msg : err_str(rc));
    }
    cli_run_interrupted = 0;
    mem_free(reply);
}

/* ---- /set ---------------------------------------------------------------------------------- */

/* api.FormatParams: a list for stop, else the first word parsed as the option's type (Go's
 * ParseInt / ParseFloat / ParseBool); NULL when it does not parse. */
static json_t *param_value(int type, char **words, int n)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    char *end;
    if (type == API_OPT_STRS) {
        json_t *a = json_array();
        for (int i = 0; a && i < n; i++)
            json_array_append_new(a, json_string(words[i]));
        return a;
    }
    if (n < 1 || !*words[0])
        return NULL;
    if (type == API_OPT_INT) {
        long long v = strtoll(words[0], &end, 10);
        return *end ? NULL : json_integer(v);
    }
    if (type == API_OPT_FLOAT) {
        double v = strtod(words[0], &end);
        return *end ? NULL : json_real(v);
    }
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!strcmp(words[0], yes[i]) || !strcmp(words[0], no[i]))
            return json_boolean(!strcmp(words[0], yes[i]));
    return NULL;
}

/* Words joined as Go prints a []string with %s ("[a b]") or with sep. */
static void join_words(struct buf *b, char **w, int n, const char *sep)
{
    for (int i = 0; i < n; i++)
        if ((i > 0 && buf_puts(b, sep)) || buf_puts(b, w[i]))
            break;
}

static void set_parameter(struct cli_session *s, char **w, int n)
{
    static const char *const tname[] = {"int", "float", "bool"};
    struct buf b;
    int type;
    json_t *v;
    if (n < 2) {
        printf("Available Parameters:\n"
               "  /set parameter seed <int>             Random number seed\n"
               "  /set parameter num_predict <int>      Max number of tokens to predict\n"
               "  /set parameter top_k <int>            Pick from top k num of tokens\n"
               "  /set parameter top_p <float>          Pick token based on sum of probabilities\n"
               "  /set parameter min_p <float>          Pick token based on top token probability "
               "* min_p\n"
               "  /set parameter num_ctx <int>          Set the context size\n"
               "  /set parameter temperature <float>    Set creativity level\n"
               "  /set parameter repeat_penalty <float> How strongly to penalize repetitions\n"
               "  /set parameter repeat_last_n <int>    Set how far back to look for repetitions\n"
               "  /set parameter num_gpu <int>          The number of layers to send to the GPU\n"
               "  /set parameter stop <string> <string> ...   Set the stop parameters\n");
        return;
    }
    buf_init(&b, 4096);
    type = api_option_type(w[0]);
    if (type < 0) { /* Ollama prints the error with %q */
        printf("Couldn't set parameter: \"unknown parameter '%s'\"\n", w[0]);
    } else if (!(v = param_value(type, w + 1, n - 1))) {
        join_words(&b, w + 1, n - 1, " ");
        printf("Couldn't set parameter: \"invalid %s value [%s]\"\n", tname[type], buf_str(&b));
    } else {
        json_object_set_new(s->options, w[0], v);
        join_words(&b, w + 1, n - 1, ", ");
        printf("Set parameter '%s' to '%s'\n", w[0], buf_str(&b));
    }
    buf_fini(&b);
}

static void set_text(char **dst, const char *line, const char *what)
{
    mem_free(*dst);
    *dst = mem_strdup(line);
    printf("Set %s.\n", what);
}

static void cmd_set(struct cli_session *s, char **w, int n, const char *rest)
{
    if (n == 0) {
        fputs(help_set, stdout);
        return;
    }
    if (!strcmp(w[0], "parameter"))
        set_parameter(s, w + 1, n - 1);
    else if (!strcmp(w[0], "system") && rest)
        set_text(&s->system, rest, "system message");
    else if (!strcmp(w[0], "template") && rest)
        set_text(&s->tmpl, rest, "prompt template");
    else if (!strcmp(w[0], "verbose") || !strcmp(w[0], "quiet")) {
        s->verbose = !strcmp(w[0], "verbose");
        printf("Set '%s' mode.\n", w[0]);
    } else if (!strcmp(w[0], "wordwrap") || !strcmp(w[0], "nowordwrap")) {
        s->wordwrap = !strcmp(w[0], "wordwrap");
        printf("Set '%s' mode.\n", w[0]);
    } else if (!strcmp(w[0], "history") || !strcmp(w[0], "nohistory")) {
        s->history = !strcmp(w[0], "history");
        printf("Set '%s' mode.\n", w[0]);
    } else if (!strcmp(w[0], "format")) {
        if (n > 1 && !strcmp(w[1], "json")) {
            s->format = "json";
            printf("Set format to 'json' mode.\n");
        } else {
            printf("Invalid or missing format. For 'json' mode use '/set format json'\n");
        }
    } else if (!strcmp(w[0], "noformat")) {
        s->format = NULL;
        printf("Disabled format.\n");
    } else if (!strcmp(w[0], "think") || !strcmp(w[0], "nothink")) {
        s->think = !strcmp(w[0], "think");
        s->nothink = !s->think;
        /* a level is passed on unchecked, as Ollama (the server judges it) */
        snprintf(s->think_level, sizeof(s->think_level), "%s", s->think && n > 1 ? w[1] : "");
        if (*s->think_level)
            printf("Set 'think' mode to '%s'.\n", s->think_level);
        else
            printf("Set '%s' mode.\n", w[0]);
    } else {
        printf("Unknown command '/set %s'. Type /? for help\n", w[0]);
    }
}

/* ---- /show, /load, /save ----------------------------------------------------------------- */

/* A user-defined parameter as Go's %v prints it (numbers shortest, lists as [a b]). */
static void print_go_value(const json_t *v)
{
    struct buf b;
    size_t i;
    json_t *e;
    int rc = 0;
    buf_init(&b, 4096);
    if (json_is_string(v)) {
        rc = buf_puts(&b, json_string_value(v));
    } else if (json_is_array(v)) {
        rc = buf_putc(&b, '[');
        json_array_foreach(v, i, e)
        {
            if (!rc && i > 0)
                rc = buf_putc(&b, ' ');
            if (!rc)
                rc = json_is_string(e) ? buf_puts(&b, json_string_value(e))
                                       : json_go_encode(e, 0, &b);
        }
        rc = rc ? rc : buf_putc(&b, ']');
    } else {
        rc = json_go_encode(v, 0, &b);
    }
    printf("%s", rc ? "?" : buf_str(&b));
    buf_fini(&b);
}

/* Ollama's /show: the model's /api/show with the session's system and options over it. */
static void cmd_show(struct cli_session *s, const char *what)
{
    struct err_info ei = {0};
    json_t *body = json_pack("{s:s}", "model", s->model), *out = NULL;
    const char *field;
    if (!what) {
        fputs(help_show, stdout);
        json_decref(body);
        return;
    }
    if (!strcmp(what, "info")) {
        const struct cmd_entry *e = cmd_find("show");
        char *argv[3] = {(char *)"show", s->model, NULL};
        if (e)
            e->fn(2, argv);
        json_decref(body);
        return;
    }
    if (body && s->system)
        json_object_set_new(body, "system", json_string(s->system));
    if (body && json_object_size(s->options))
        json_object_set(body, "options", s->options);
    if (!body || cli_request(&s->client, "POST", "/api/show", body, &out, NULL, &ei) != 0) {
        printf("error: couldn't get model\n");
        json_decref(body);
        return;
    }
    field = json_string_value(json_object_get(out, what));
    if (!strcmp(what, "license")) {
        printf("%s\n", field && *field ? field : "No license was specified for this model.");
    } else if (!strcmp(what, "modelfile")) {
        printf("%s\n", field ? field : "");
    } else if (!strcmp(what, "parameters")) {
        printf("Model defined parameters:\n");
        if (!field || !*field)
            printf("  No additional parameters were specified for this model.\n");
        for (const char *p = field && *field ? field : NULL; p;) {
            const char *nl = strchr(p, '\n');
            printf("  %.*s\n", (int)(nl ? nl - p : (long)strlen(p)), p);
            p = nl ? nl + 1 : NULL;
        }
        printf("\n");
        if (json_object_size(s->options)) {
            const char *k;
            json_t *v;
            printf("User defined parameters:\n");
            json_object_foreach(s->options, k, v)
            {
                printf("  %-30s ", k);
                print_go_value(v);
                printf("\n");
            }
            printf("\n");
        }
    } else if (!strcmp(what, "system")) {
        if (field && *field)
            printf("%s\n\n", field);
        else
            printf("No system message was specified for this model.\n");
    } else if (!strcmp(what, "template")) {
        if (s->tmpl || (field && *field))
            printf("%s\n", s->tmpl ? s->tmpl : field);
        else
            printf("No prompt template was specified for this model.\n");
    } else {
        printf("Unknown command '/show %s'. Type /? for help\n", what);
    }
    json_decref(out);
    json_decref(body);
}

static void cmd_load(struct cli_session *s, const char *model)
{
    struct err_info ei = {0};
    char *old = s->model;
    if (!model) {
        printf("Usage:\n  /load <modelname>\n");
        return;
    }
    printf("Loading model '%s'\n", model);
    s->model = mem_strdup(model);
    if (!s->model || cli_run_preload(s, &ei) != 0) {
        if (strstr(ei.msg, "not found")) /* Ollama's words */
            printf("Couldn't find model '%s'\n", model);
        else
            fprintf(stderr, "Error: %s\n", ei.msg[0] ? ei.msg : "load failed");
        mem_free(s->model);
        s->model = old;
        return;
    }
    mem_free(old);
    json_array_clear(s->messages);
}

static void cmd_save(struct cli_session *s, const char *name)
{
    struct err_info ei = {0};
    json_t *body, *out = NULL;
    if (!name) {
        printf("Usage:\n  /save <modelname>\n");
        return;
    }
    body = json_pack("{s:s, s:s, s:b, s:O, s:O}", "model", name, "from", s->model, "stream", 0,
                     "parameters", s->options, "messages", s->messages);
    if (body && s->system)
        json_object_set_new(body, "system", json_string(s->system));
    if (body && s->tmpl)
        json_object_set_new(body, "template", json_string(s->tmpl));
    if (!body || cli_request(&s->client, "POST", "/api/create", body, &out, NULL, &ei) != 0) {
        if (!strcmp(ei.msg, "invalid model name"))
            printf("error: The model name '%s' is invalid\n", name);
        else
            fprintf(stderr, "Error: %s\n", ei.msg[0] ? ei.msg : "save failed");
    } else
        printf("Created new model '%s'\n", name);
    json_decref(out);
    json_decref(body);
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* Splits line (modified) into at most cap words. */
static int split(char *line, char **w, int cap)
{
    int n = 0;
    for (char *p = strtok(line, " \t"); p && n < cap; p = strtok(NULL, " \t"))
        w[n++] = p;
    return n;
}

/* Handles a /command; returns 1 to leave the REPL. */
static int command(struct cli_session *s, const char *line)
{
    char *copy = mem_strdup(line), *w[64];
    const char *rest;
    int n, quit = 0;
    if (!copy)
        return 0;
    n = split(copy, w, 64);
    if (!strcmp(w[0], "/bye") || !strcmp(w[0], "/exit")) {
        quit = 1;
    } else if (!strcmp(w[0], "/?") || !strcmp(w[0], "/help")) {
        fputs(n > 1 && !strcmp(w[1], "set")         ? help_set
              : n > 1 && !strcmp(w[1], "show")      ? help_show
              : n > 1 && !strcmp(w[1], "shortcuts") ? help_keys
                                                    : help_main,
              stdout);
    } else if (!strcmp(w[0], "/clear")) {
        json_array_clear(s->messages);
        printf("Cleared session context\n");
    } else if (!strcmp(w[0], "/set")) {
        /* text after "/set system " or "/set template " verbatim */
        rest = n > 1 ? strstr(line, w[1]) + strlen(w[1]) : NULL;
        while (rest && *rest == ' ')
            rest++;
        cmd_set(s, w + 1, n - 1, rest && *rest ? rest : NULL);
    } else if (!strcmp(w[0], "/show")) {
        cmd_show(s, n > 1 ? w[1] : NULL);
    } else if (!strcmp(w[0], "/load")) {
        cmd_load(s, n > 1 ? w[1] : NULL);
    } else if (!strcmp(w[0], "/save")) {
        cmd_save(s, n > 1 ? w[1] : NULL);
    } else if (!strcmp(w[0], "/list")) {
        const struct cmd_entry *e = cmd_find("list");
        char *argv[2] = {(char *)"list", NULL};
        if (e)
            e->fn(1, argv);
    } else {
        printf("Unknown command '%s'. Type /? for help\n", w[0]);
    }
    mem_free(copy);
    return quit;
}

static int ends_with_quotes(const char *s)
{
    size_t n = strlen(s);
    return n >= 3 && !strcmp(s + n - 3, "\"\"\"");
}

/* Multi-line state machine: returns 1 when b holds a complete message. */
static int feed(struct buf *b, int *multi, const char *line)
{
    if (!*multi && !strncmp(line, "\"\"\"", 3)) {
        const char *rest = line + 3;
        if (strlen(rest) >= 3 && ends_with_quotes(rest))
            return buf_append(b, rest, strlen(rest) - 3) == 0;
        *multi = 1;
        return buf_puts(b, rest) != 0 || buf_putc(b, '\n') != 0 ? 1 : 0;
    }
    if (*multi) {
        if (ends_with_quotes(line)) {
            *multi = 0;
            return buf_append(b, line, strlen(line) - 3) == 0;
        }
        return buf_puts(b, line) != 0 || buf_putc(b, '\n') != 0 ? 1 : 0;
    }
    return buf_puts(b, line) == 0;
}

/* A boolean variable as envconfig.Bool reads it: quotes and spaces stripped, then Go's
 * ParseBool; an unparsable non-empty value counts as true. */
static int env_true(const char *name)
{
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    const char *v = getenv(name);
    size_t a = 0, b = v ? strlen(v) : 0;
    while (a < b && (isspace((unsigned char)v[a]) || v[a] == '"' || v[a] == '\''))
        a++;
    while (b > a && (isspace((unsigned char)v[b - 1]) || v[b - 1] == '"' || v[b - 1] == '\''))
        b--;
    if (a == b)
        return 0;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (strlen(no[i]) == b - a && !strncmp(v + a, no[i], b - a))
            return 0;
    return 1;
}

static void history_path(char *out, size_t n)
{
    const char *home = getenv("HOME");
    out[0] = '\0';
    if (env_true("OLLAMA_NOHISTORY"))
        return;
    if (home && *home) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/.ollama", home);
        if (fs_mkdir_p(dir, 0755) == 0)
            snprintf(out, n, "%s/history", dir);
    }
}

/* Shows the model's MESSAGE history as Ollama does and seeds the session with it. */
static void replay_messages(struct cli_session *s)
{
    struct err_info ei = {0};
    json_t *body = json_pack("{s:s}", "model", s->model), *out = NULL, *m;
    size_t i;
    if (!body || cli_request(&s->client, "POST", "/api/show", body, &out, NULL, &ei) != 0) {
        json_decref(body);
        return;
    }
    json_array_foreach(json_object_get(out, "messages"), i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *content = json_string_value(json_object_get(m, "content"));
        if (!role || !content)
            continue;
        if (!strcmp(role, "user"))
            printf(">>> %s\n", content);
        else if (!strcmp(role, "assistant"))
            printf("%s\n\n", content);
        json_array_append(s->messages, m);
    }
    json_decref(out);
    json_decref(body);
}

int cli_repl(struct cli_session *s)
{
    struct err_info ei = {0};
    struct buf msg;
    char hist[4096];
    int multi = 0;
    if (cli_run_preload(s, &ei) != 0) {
        fprintf(stderr, "Error: %s\n", ei.msg[0] ? ei.msg : "cannot load the model");
        return 1;
    }
    replay_messages(s);
    history_path(hist, sizeof(hist));
    using_history();
    stifle_history(REPL_HISTORY_MAX);
    if (hist[0])
        read_history(hist);
    buf_init(&msg, CLI_RUN_MAX_INPUT);
    for (;;) {
        char *line = readline(multi ? "... " : ">>> ");
        if (!line) {
            if (cli_run_interrupted) {
                cli_run_interrupted = 0;
                printf("\nUse Ctrl + d or /bye to exit.\n");
                continue;
            }
            printf("\n");
            break;
        }
        if (!multi && line[0] == '\0') {
            libc_free(line);
            continue;
        }
        if (s->history && line[0])
            add_history(line);
        if (!multi && msg.n == 0 && line[0] == '/') {
            int quit = command(s, line);
            libc_free(line);
            if (quit)
                break;
            continue;
        }
        if (feed(&msg, &multi, line) && !multi) {
            if (msg.n)
                submit(s, buf_str(&msg));
            buf_reset(&msg);
        }
        libc_free(line);
    }
    if (hist[0] && s->history)
        write_history(hist);
    buf_fini(&msg);
    return 0;
}

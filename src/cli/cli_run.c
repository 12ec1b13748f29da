/*
 * cli_run.c - `corral run MODEL [PROMPT]` and `corral stop MODEL` (ollama-reference.md 2.1).
 * The model is looked up with /api/show (pulled first when missing, through `corral pull`).  A
 * prompt argument or piped stdin (prepended to the argument, joined with a space) makes a one-shot
 * /api/generate whose answer streams to stdout; otherwise the REPL in cli_repl.c runs /api/chat.
 * Output is word-wrapped on a terminal (unless --nowordwrap); a spinner runs on stderr until the
 * first token; --verbose prints Ollama's timing block to stderr; Ctrl-C stops a generation.
 */
#include "cli/cli_run.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cmd.h"
#include "common/json.h"
#include "common/mem.h"

volatile sig_atomic_t cli_run_interrupted;

/* ---- small pieces ------------------------------------------------------------------------- */

static void on_sigint(int sig)
{
    (void)sig;
    cli_run_interrupted = 1;
}

void cli_run_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

/* Appends v with up to `prec` decimals, trailing zeros dropped, then unit. */
static void frac(char *out, size_t n, double v, int prec, const char *unit)
{
    char tmp[64];
    size_t k;
    snprintf(tmp, sizeof(tmp), "%.*f", prec, v);
    k = strlen(tmp);
    if (strchr(tmp, '.')) {
        while (k > 0 && tmp[k - 1] == '0')
            tmp[--k] = '\0';
        if (k > 0 && tmp[k - 1] == '.')
            tmp[--k] = '\0';
    }
    snprintf(out, n, "%s%s", tmp, unit);
}

void cli_go_duration(int64_t ns, char *out, size_t n)
{
    int64_t h, m;
    char sec[48];
    if (ns < 1000) {
        snprintf(out, n, "%lldns", (long long)ns);
        return;
    }
    if (ns < 1000000) {
        frac(out, n, (double)ns / 1e3, 3, "\xc2\xb5s");
        return;
    }
    if (ns < 1000000000) {
        frac(out, n, (double)ns / 1e6, 6, "ms");
        return;
    }
    h = ns / 3600000000000LL;
    m = (ns / 60000000000LL) % 60;
    frac(sec, sizeof(sec), (double)(ns % 60000000000LL) / 1e9, 9, "s");
    if (h)
        snprintf(out, n, "%lldh%lldm%s", (long long)h, (long long)m, sec);
    else if (m)
        snprintf(out, n, "%lldm%s", (long long)m, sec);
    else
        snprintf(out, n, "%s", sec);
}

static void print_verbose(const json_t *d)
{
    char b[64];
    json_int_t pc = json_integer_value(json_object_get(d, "prompt_eval_count"));
    json_int_t pd = json_integer_value(json_object_get(d, "prompt_eval_duration"));
    json_int_t ec = json_integer_value(json_object_get(d, "eval_count"));
    json_int_t ed = json_integer_value(json_object_get(d, "eval_duration"));
    cli_go_duration(json_integer_value(json_object_get(d, "total_duration")), b, sizeof(b));
    fprintf(stderr, "total duration:       %s\n", b);
    cli_go_duration(json_integer_value(json_object_get(d, "load_duration")), b, sizeof(b));
    fprintf(stderr, "load duration:        %s\n", b);
    fprintf(stderr, "prompt eval count:    %lld token(s)\n", (long long)pc);
    cli_go_duration(pd, b, sizeof(b));
    fprintf(stderr, "prompt eval duration: %s\n", b);
    fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n",
            pd > 0 ? (double)pc / (double)pd * 1e9 : 0.0);
    fprintf(stderr, "eval count:           %lld token(s)\n", (long long)ec);
    cli_go_duration(ed, b, sizeof(b));
    fprintf(stderr, "eval duration:        %s\n", b);
    fprintf(stderr, "eval rate:            %.2f tokens/s\n",
            ed > 0 ? (double)ec / (double)ed * 1e9 : 0.0);
}

/* ---- spinner ------------------------------------------------------------------------------ */

struct spinner {
    pthread_t th;
    atomic_int stop;
    int running;
};

static void *spin_main(void *arg)
{
    static const char *const frames[] = {
        "\xe2\xa0\x8b", "\xe2\xa0\x99", "\xe2\xa0\xb9", "\xe2\xa0\xb8", "\xe2\xa0\xbc",
        "\xe2\xa0\xb4", "\xe2\xa0\xa6", "\xe2\xa0\xa7", "\xe2\xa0\x87", "\xe2\xa0\x8f"};
    struct spinner *sp = arg;
    for (unsigned i = 0; !atomic_load(&sp->stop); i++) {
        fprintf(stderr, "\r%s ", frames[i % 10]);
        fflush(stderr);
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    return NULL;
}

static void spinner_start(struct spinner *sp)
{
    atomic_init(&sp->stop, 0);
    sp->running = isatty(STDERR_FILENO) && pthread_create(&sp->th, NULL, spin_main, sp) == 0;
}

static void spinner_stop(struct spinner *sp)
{
    if (!sp->running)
        return;
    atomic_store(&sp->stop, 1);
    pthread_join(sp->th, NULL);
    sp->running = 0;
}

/* ---- streaming with word wrap --------------------------------------------------------------- */

struct out {
    struct cli_session *s;
    struct spinner sp;
    struct buf word;  /* pending word (wrap mode) */
    struct buf reply; /* whole answer */
    int col, chat;
    int thinking; /* 1 while thinking text is being shown */
    json_t *final;
};

static void flush_word(struct out *o)
{
    int limit = o->s->width - 5;
    int chars = 0;
    for (size_t i = 0; i < o->word.n; i++)
        chars += ((unsigned char)o->word.p[i] & 0xc0) != 0x80;
    if (o->col > 0 && o->col + chars > limit) {
        fputc('\n', stdout);
        o->col = 0;
    }
    fwrite(o->word.p ? o->word.p : "", 1, o->word.n, stdout);
    o->col += chars;
    buf_reset(&o->word);
}

static void put_text(struct out *o, const char *p, size_t n)
{
    if (!o->s->wordwrap || o->s->width < 20) {
        fwrite(p, 1, n, stdout);
        fflush(stdout);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || p[i] == ' ') {
            flush_word(o);
            if (p[i] == '\n' || o->col + 1 > o->s->width - 5) {
                fputc('\n', stdout);
                o->col = 0;
            } else {
                fputc(' ', stdout);
                o->col++;
            }
        } else if (buf_putc(&o->word, p[i]) != 0) {
            flush_word(o);
        }
    }
    fflush(stdout);
}

/* Thinking is shown between "Thinking..." and "...done thinking." (grey on a terminal). */
static void show_thinking(struct out *o, const char *th, const char *content)
{
    int tty = isatty(STDOUT_FILENO);
    if (th && *th && !o->s->hidethinking) {
        if (!o->thinking)
            fputs(tty ? "\033[90mThinking...\n" : "Thinking...\n", stdout);
        o->thinking = 1;
        fputs(th, stdout);
        fflush(stdout);
    }
    if (o->thinking && content && *content) {
        fputs(tty ? "\n...done thinking.\033[0m\n\n" : "\n...done thinking.\n\n", stdout);
        o->thinking = 0;
    }
}

static int on_line(void *ctx, const json_t *obj)
{
    struct out *o = ctx;
    const json_t *src = o->chat ? json_object_get(obj, "message") : obj;
    const char *t = json_string_value(json_object_get(src, o->chat ? "content" : "response"));
    spinner_stop(&o->sp);
    if (cli_run_interrupted)
        return E_CANCELLED;
    show_thinking(o, json_string_value(json_object_get(src, "thinking")), t);
    if (t && *t) {
        put_text(o, t, strlen(t));
        if (buf_puts(&o->reply, t) != 0)
            return E_RANGE;
    }
    if (json_is_true(json_object_get(obj, "done"))) {
        json_decref(o->final);
        o->final = json_incref((json_t *)obj);
    }
    return 0;
}

int cli_run_stream(struct cli_session *s, const char *path, json_t *body, char **reply,
                   struct err_info *ei)
{
    struct out o;
    const char *pr;
    int rc;
    memset(&o, 0, sizeof(o));
    o.s = s;
    o.chat = strcmp(path, "/api/chat") == 0;
    buf_init(&o.word, 4096);
    buf_init(&o.reply, CLI_RUN_MAX_INPUT * 16);
    cli_run_interrupted = 0;
    spinner_start(&o.sp);
    rc = cli_stream(&s->client, path, body, on_line, &o, ei);
    spinner_stop(&o.sp);
    if (o.thinking && isatty(STDOUT_FILENO))
        fputs("\033[0m", stdout);
    if (s->wordwrap)
        flush_word(&o);
    if (cli_run_interrupted)
        rc = E_CANCELLED;
    /* Ollama ends an answer with two newlines, whatever its text (none after the empty-prompt
     * load of `run MODEL > file`) */
    pr = json_string_value(json_object_get(body, "prompt"));
    if (o.chat || (pr && *pr) || rc == E_CANCELLED)
        fputs("\n\n", stdout);
    fflush(stdout);
    if (rc == 0 && s->verbose && o.final)
        print_verbose(o.final);
    if (reply)
        *reply = buf_take(&o.reply, NULL);
    json_decref(o.final);
    buf_fini(&o.word);
    buf_fini(&o.reply);
    return rc;
}

int cli_run_preload(struct cli_session *s, struct err_info *ei)
{
    struct spinner sp;
    json_t *body = json_pack("{s:s}", "model", s->model), *out = NULL;
    int rc;
    if (!body)
        return E_NOMEM;
    if (s->keep_alive)
        json_object_set(body, "keep_alive", s->keep_alive);
    spinner_start(&sp);
    rc = cli_request(&s->client, "POST", "/api/generate", body, &out, NULL, ei);
    spinner_stop(&sp);
    json_decref(out);
    json_decref(body);
    return rc;
}

/* ---- corral run --------------------------------------------------------------------------- */

static int fail_msg(const struct err_info *ei, int rc)
{
    fprintf(stderr, "Error: %s\n", ei->msg[0] ? ei->msg : err_str(rc));
    return 1;
}

/* Notes whether a /api/show answer lists the "embedding" capability. */
static void note_caps(struct cli_session *s, const json_t *show)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(show, "capabilities"), i, c)
    {
        if (json_is_string(c) && !strcmp(json_string_value(c), "embedding"))
            s->embedding = 1;
    }
}

/* /api/show; a missing model is pulled through `corral pull` first. */
static int ensure_model(struct cli_session *s, struct err_info *ei)
{
    json_t *body = json_pack("{s:s}", "model", s->model), *out = NULL;
    const struct cmd_entry *pull;
    int rc;
    if (!body)
        return E_NOMEM;
    rc = cli_request(&s->client, "POST", "/api/show", body, &out, NULL, ei);
    if (rc == 0)
        note_caps(s, out);
    json_decref(out);
    if (rc == E_NOTFOUND && (pull = cmd_find("pull")) != NULL) {
        char *argv[3] = {(char *)"pull", s->model, NULL};
        memset(ei, 0, sizeof(*ei));
        if (pull->fn(2, argv) != 0) { /* the pull printed its own "Error: ..." line */
            json_decref(body);
            s->reported = 1;
            return E_NOTFOUND;
        }
        rc = cli_request(&s->client, "POST", "/api/show", body, &out, NULL, ei);
        if (rc == 0)
            note_caps(s, out);
        json_decref(out);
    }
    json_decref(body);
    return rc;
}

/* An embedding model (Ollama's generateEmbedding): /api/embed with the text, then the first
 * vector printed as one JSON array of float32 numbers. */
static int run_embed(struct cli_session *s, const char *text, struct err_info *ei)
{
    json_t *body, *out = NULL, *vec, *v;
    struct buf b;
    size_t i;
    int rc;
    if (!*text)
        return err_set(ei, E_INVAL,
                       "embedding models require input text. Usage: corral run %s \"your text "
                       "here\"",
                       s->model);
    if (!(body = json_pack("{s:s, s:s}", "model", s->model, "input", text)))
        return E_NOMEM;
    if (s->truncate >= 0)
        json_object_set_new(body, "truncate", json_boolean(s->truncate));
    if (s->dimensions > 0)
        json_object_set_new(body, "dimensions", json_integer(s->dimensions));
    if (s->keep_alive)
        json_object_set(body, "keep_alive", s->keep_alive);
    rc = cli_request(&s->client, "POST", "/api/embed", body, &out, NULL, ei);
    json_decref(body);
    if (rc != 0)
        return rc;
    vec = json_array_get(json_object_get(out, "embeddings"), 0);
    if (!json_is_array(vec)) {
        json_decref(out);
        return err_set(ei, E_PARSE, "no embeddings returned");
    }
    buf_init(&b, CLI_RUN_MAX_INPUT);
    rc = buf_putc(&b, '[');
    json_array_foreach(vec, i, v)
    {
        if (rc == 0 && i > 0)
            rc = buf_putc(&b, ',');
        if (rc == 0)
            rc = json_go_number(json_number_value(v), 32, &b);
    }
    if (rc == 0 && (rc = buf_putc(&b, ']')) == 0)
        printf("%s\n", buf_str(&b));
    buf_fini(&b);
    json_decref(out);
    return rc ? err_set(ei, rc, "cannot print the embedding") : 0;
}

static int read_stdin(struct buf *b)
{
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
        if (buf_append(b, tmp, n) != 0)
            return E_RANGE;
    return ferror(stdin) ? E_IO : 0;
}

static int one_shot(struct cli_session *s, const char *prompt)
{
    struct err_info ei = {0};
    json_t *body = json_pack("{s:s, s:s}", "model", s->model, "prompt", prompt);
    int rc;
    if (!body)
        return 1;
    if (s->format)
        json_object_set_new(body, "format", json_string(s->format));
    if (s->keep_alive)
        json_object_set(body, "keep_alive", s->keep_alive);
    if (json_object_size(s->options))
        json_object_set(body, "options", s->options);
    cli_run_think(s, body);
    rc = cli_run_stream(s, "/api/generate", body, NULL, &ei);
    json_decref(body);
    if (rc == E_CANCELLED)
        return 130;
    return rc ? fail_msg(&ei, rc) : 0;
}

void cli_run_think(const struct cli_session *s, json_t *body)
{
    if (s->nothink)
        json_object_set_new(body, "think", json_false());
    else if (s->think && *s->think_level)
        json_object_set_new(body, "think", json_string(s->think_level));
    else if (s->think)
        json_object_set_new(body, "think", json_true());
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i past a separate value. */
static int flag_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] || *i + 1 >= argc)
        return 0;
    *val = argv[++*i];
    return 1;
}

/* --think, --think=true|false|low|medium|high|max (Ollama's RunHandler). */
static int think_flag(struct cli_session *s, const char *v, struct err_info *ei)
{
    static const char *const levels[] = {"high", "medium", "low", "max"};
    if (!*v || !strcmp(v, "true")) {
        s->think = 1;
        return 0;
    }
    if (!strcmp(v, "false")) {
        s->nothink = 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (!strcmp(v, levels[i])) {
            s->think = 1;
            snprintf(s->think_level, sizeof(s->think_level), "%s", v);
            return 0;
        }
    return err_set(ei, E_INVAL,
                   "invalid value for --think: \"%s\" (must be true, false, high, medium, low, or "
                   "max)",
                   v);
}

#define RUN_USAGE                                                                                 \
    "Usage:\n  corral run MODEL [PROMPT] [flags]\n\nFlags:\n"                                     \
    "      --dimensions int     Truncate output embeddings to specified dimension (embedding "    \
    "models only)\n"                                                                              \
    "      --format string      Response format (e.g. json)\n"                                    \
    "      --hidethinking       Hide thinking output (if provided)\n"                             \
    "      --insecure           Use an insecure registry\n"                                       \
    "      --keepalive string   Duration to keep a model loaded (e.g. 5m)\n"                      \
    "      --nowordwrap         Don't wrap words to the next line automatically\n"                \
    "      --think string       Enable thinking mode: true/false or high/medium/low for "         \
    "supported models\n"                                                                          \
    "      --truncate           For embedding models: truncate inputs exceeding context length\n" \
    "      --verbose            Show timings for response\n"

/* Flags may come anywhere (cobra interspersed); the first other word is the model, the rest the
 * prompt; "--" ends the flags.  --truncate/--dimensions only matter for embedding models (they
 * go into the /api/embed request). */
static int parse_flags(struct cli_session *s, int argc, char **argv, struct buf *prompt,
                       struct err_info *ei)
{
    int rc = 0, flags = 1;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v = NULL;
        if (flags && !strcmp(a, "--")) {
            flags = 0;
            continue;
        }
        if (!flags || a[0] != '-' || !a[1]) {
            if (!s->model) {
                if (!(s->model = mem_strdup(a)))
                    return E_NOMEM;
            } else if ((prompt->n && buf_putc(prompt, ' ')) || buf_puts(prompt, a)) {
                rc = E_RANGE;
            }
            continue;
        }
        if (!strcmp(a, "--verbose"))
            s->verbose = 1;
        else if (!strcmp(a, "--nowordwrap"))
            s->wordwrap = 0;
        else if (!strcmp(a, "--insecure"))
            continue;
        else if (!strcmp(a, "--truncate") || !strcmp(a, "--truncate=true"))
            s->truncate = 1;
        else if (!strcmp(a, "--truncate=false"))
            s->truncate = 0;
        else if (!strcmp(a, "--hidethinking"))
            s->hidethinking = 1;
        else if (!strcmp(a, "--think") || !strncmp(a, "--think=", 8))
            rc = think_flag(s, a[7] ? a + 8 : "", ei);
        else if (flag_value(argc, argv, &i, "--format", &v))
            s->format = v;
        else if (flag_value(argc, argv, &i, "--keepalive", &v)) {
            json_decref(s->keep_alive);
            s->keep_alive = json_string(v);
        } else if (flag_value(argc, argv, &i, "--dimensions", &v)) {
            char *end;
            s->dimensions = strtol(v, &end, 10);
            if (!*v || *end || s->dimensions < 0 || s->dimensions > (1L << 20))
                return err_set(ei, E_INVAL, "invalid argument \"%s\" for \"--dimensions\" flag", v);
        } else {
            return err_set(ei, E_INVAL, "unknown flag: %s", a);
        }
    }
    if (!rc && !s->model)
        return err_set(ei, E_INVAL, "requires at least 1 arg(s), only received 0");
    return rc;
}

static void session_fini(struct cli_session *s)
{
    mem_free(s->model);
    mem_free(s->system);
    mem_free(s->tmpl);
    json_decref(s->options);
    json_decref(s->messages);
    json_decref(s->keep_alive);
}

static int cmd_run(int argc, char **argv)
{
    struct cli_session s;
    struct err_info ei = {0};
    struct buf prompt, in;
    struct winsize ws;
    int rc, interactive;
    memset(&s, 0, sizeof(s));
    s.truncate = -1;
    s.wordwrap = 1;
    s.history = 1;
    s.options = json_object();
    s.messages = json_array();
    buf_init(&prompt, CLI_RUN_MAX_INPUT);
    buf_init(&in, CLI_RUN_MAX_INPUT);
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("Run a model\n\n%s", RUN_USAGE);
            rc = 0;
            goto out;
        }
    if (parse_flags(&s, argc, argv, &prompt, &ei) != 0) {
        fprintf(stderr, "Error: %s\n%s", ei.msg, RUN_USAGE);
        rc = 1;
        goto out;
    }
    if (!isatty(STDOUT_FILENO))
        s.wordwrap = 0;
    else if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        s.width = ws.ws_col;
    if ((rc = cli_client_init(&s.client, &ei)) != 0 || (rc = ensure_model(&s, &ei)) != 0) {
        rc = s.reported ? 1 : fail_msg(&ei, rc);
        goto out;
    }
    /* Ollama: interactive only with no prompt and both stdin and stdout on a terminal */
    interactive = prompt.n == 0 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (!isatty(STDIN_FILENO)) {
        if (read_stdin(&in) != 0) {
            fprintf(stderr, "Error: cannot read the prompt from stdin\n");
            rc = 1;
            goto out;
        }
        if (prompt.n && in.n && (buf_putc(&in, ' ') || buf_append(&in, prompt.p, prompt.n)))
            rc = 1;
        else if (prompt.n && !in.n && buf_append(&in, prompt.p, prompt.n))
            rc = 1;
    }
    if (s.embedding && !rc) { /* never interactive: the text is the prompt and stdin */
        if ((rc = run_embed(&s, in.n ? buf_str(&in) : buf_str(&prompt), &ei)) != 0)
            rc = fail_msg(&ei, rc);
        goto out;
    }
    cli_run_signals();
    if (interactive)
        rc = cli_repl(&s);
    else
        rc = rc ? rc : one_shot(&s, in.n ? buf_str(&in) : buf_str(&prompt));
out:
    buf_fini(&prompt);
    buf_fini(&in);
    session_fini(&s);
    return rc;
}
CMD_REGISTER(run, "run", cmd_run, "Run a model")

/* ---- corral stop -------------------------------------------------------------------------- */

/* Ollama's StopHandler: /api/show, then a keep_alive 0 generate; a known model that is not
 * loaded stops silently, any "not found" answer becomes "couldn't find model ... to stop". */
static int stop_request(struct cli_client *c, const char *path, json_t *body, struct err_info *ei)
{
    json_t *out = NULL;
    int rc = body ? cli_request(c, "POST", path, body, &out, NULL, ei) : E_NOMEM;
    json_decref(body);
    json_decref(out);
    return rc;
}

static int cmd_stop(int argc, char **argv)
{
    struct cli_client c;
    struct err_info ei = {0};
    int rc;
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("Stop a running model\n\nUsage:\n  corral stop MODEL [flags]\n\nFlags:\n"
               "  -h, --help   help for stop\n");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "Error: accepts 1 arg(s), received %d\n\nUsage:\n  corral stop MODEL\n",
                argc - 1);
        return 1;
    }
    if ((rc = cli_client_init(&c, &ei)) != 0)
        return fail_msg(&ei, rc);
    rc = stop_request(&c, "/api/show", json_pack("{s:s}", "model", argv[1]), &ei);
    if (!rc)
        rc = stop_request(&c, "/api/generate",
                          json_pack("{s:s, s:i}", "model", argv[1], "keep_alive", 0), &ei);
    if (rc && strstr(ei.msg, "not found")) {
        fprintf(stderr, "Error: couldn't find model \"%s\" to stop\n", argv[1]);
        return 1;
    }
    return rc ? fail_msg(&ei, rc) : 0;
}
CMD_REGISTER(stop, "stop", cmd_stop, "Stop a running model")

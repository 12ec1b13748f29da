/*
 * cli_pull.c - `corral pull [--insecure] MODEL` and the transfer client shared with `corral push`
 * (cli_push.c): POSTs to the daemon's /api/pull or /api/push ($OLLAMA_HOST, default
 * 127.0.0.1:11434), reads the NDJSON progress as it streams and shows it as Ollama's CLI does:
 * on a terminal one line per status and one redrawn bar per digest
 * (`pulling 183715c43589: 100% ▕████▏ 986 MB/986 MB  12 MB/s  1s`), otherwise plain lines (each
 * status once, a digest's line when it completes).  Errors print `Error: <msg>` and exit 1.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/cmd.h"
#include "common/mem.h"

#define CLI_MAX_LINES 256        /* progress lines kept for redraws */
#define CLI_LINE_MAX  (1u << 20) /* one NDJSON line from the daemon */
#define CLI_LABEL_MAX 96

/* The transfer client, shared with cli_push.c (declared there too; no header of its own). */
int cli__transfer(const char *verb, int argc, char **argv);

struct pline {
    char label[CLI_LABEL_MAX]; /* status text */
    char digest[80];           /* "" for plain statuses */
    unsigned long long total, completed;
    unsigned long long rate_base; /* completed at rate_t */
    double rate_t, rate;          /* bytes/s, smoothed */
    int printed_done;             /* plain mode: completion line printed */
};

struct xfer_ui {
    int tty;
    int width;
    struct pline lines[CLI_MAX_LINES];
    size_t n;
    size_t drawn;  /* lines on screen from the last redraw */
    struct buf in; /* partial NDJSON line */
    char error[1024];
    int success;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Decimal human size as Ollama prints it: "68 B", "1.5 KB", "986 MB". */
static void human(unsigned long long v, char *out, size_t n)
{
    static const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    double d = (double)v;
    int i = 0;
    while (d >= 1000.0 && i < 4) {
        d /= 1000.0;
        i++;
    }
    if (i == 0 || d >= 10.0)
        snprintf(out, n, "%.0f %s", d, u[i]);
    else
        snprintf(out, n, "%.1f %s", d, u[i]);
}

static void eta_text(double secs, char *out, size_t n)
{
    long s = (long)(secs + 0.5);
    if (s >= 99 * 3600)
        snprintf(out, n, "99h+");
    else if (s >= 3600)
        snprintf(out, n, "%ldh%ldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60)
        snprintf(out, n, "%ldm%lds", s / 60, s % 60);
    else
        snprintf(out, n, "%lds", s);
}

static void bar_text(const struct pline *l, int width, char *out, size_t n)
{
    char tot[24], cur[24], stats[96] = "", fill[1024] = "";
    double frac = l->total ? (double)l->completed / (double)l->total : 0.0;
    int done = l->total && l->completed >= l->total, cells, full;
    /* Ollama's fixed-width tail (31 columns, so the bar keeps its width): sizes right-aligned
     * in 6, the rate in 10 ("  999 MB/s"), the ETA in 8; a finished bar shows only the total. */
    human(l->total, tot, sizeof(tot));
    if (done) {
        snprintf(stats, sizeof(stats), "%6s%25s", tot, "");
    } else {
        char rate[24] = "", eta[24] = "";
        human(l->completed, cur, sizeof(cur));
        if (l->rate > 0) {
            human((unsigned long long)l->rate, rate, sizeof(rate));
            eta_text((double)(l->total - l->completed) / l->rate, eta, sizeof(eta));
            snprintf(stats, sizeof(stats), "%6s/%6s%8s/s%8s", cur, tot, rate, eta);
        } else {
            snprintf(stats, sizeof(stats), "%6s/%6s%18s", cur, tot, "");
        }
    }
    cells = width - (int)strlen(l->label) - (int)strlen(stats) - 12;
    if (cells < 10)
        cells = 10;
    if (cells > 200)
        cells = 200;
    full = (int)(frac * cells + 1e-9);
    size_t o = 0;
    for (int i = 0; i < cells; i++) {
        const char *g = i < full ? "\xe2\x96\x88" : " "; /* U+2588 full block */
        size_t gl = strlen(g);
        if (o + gl + 1 >= sizeof(fill))
            break;
        memcpy(fill + o, g, gl);
        o += gl;
    }
    fill[o] = '\0';
    /* U+2595 / U+258F frame the bar as Ollama does */
    snprintf(out, n, "%s: %3.0f%% \xe2\x96\x95%s\xe2\x96\x8f %s", l->label, frac * 100.0, fill,
             stats);
}

static void redraw(struct xfer_ui *ui)
{
    char line[4096];
    fputs("\x1b[?2026h\x1b[?25l", stderr);
    if (ui->drawn > 0)
        fprintf(stderr, "\x1b[%zuA", ui->drawn);
    for (size_t i = 0; i < ui->n; i++) {
        const struct pline *l = &ui->lines[i];
        if (l->digest[0])
            bar_text(l, ui->width, line, sizeof(line));
        else
            snprintf(line, sizeof(line), "%s", l->label);
        fprintf(stderr, "\r\x1b[2K%s\n", line);
    }
    ui->drawn = ui->n;
    fputs("\x1b[?25h\x1b[?2026l", stderr);
    fflush(stderr);
}

static struct pline *line_find(struct xfer_ui *ui, const char *status, const char *digest)
{
    for (size_t i = 0; i < ui->n; i++) {
        struct pline *l = &ui->lines[i];
        if (digest ? strcmp(l->digest, digest) == 0 : (!l->digest[0] && !strcmp(l->label, status)))
            return l;
    }
    return NULL;
}

static struct pline *line_for(struct xfer_ui *ui, const char *status, const char *digest)
{
    struct pline *found = line_find(ui, status, digest);
    if (found)
        return found;
    if (ui->n == CLI_MAX_LINES)
        return NULL;
    struct pline *l = &ui->lines[ui->n++];
    memset(l, 0, sizeof(*l));
    snprintf(l->label, sizeof(l->label), "%s", status);
    snprintf(l->digest, sizeof(l->digest), "%s", digest ? digest : "");
    l->rate_t = now_s();
    return l;
}

static void update_rate(struct pline *l)
{
    double t = now_s();
    if (t - l->rate_t < 1.0 || l->completed < l->rate_base)
        return;
    double r = (double)(l->completed - l->rate_base) / (t - l->rate_t);
    l->rate = l->rate > 0 ? 0.5 * l->rate + 0.5 * r : r;
    l->rate_base = l->completed;
    l->rate_t = t;
}

static void on_event(struct xfer_ui *ui, json_t *v)
{
    const char *err = json_string_value(json_object_get(v, "error"));
    const char *status = json_string_value(json_object_get(v, "status"));
    const char *digest = json_string_value(json_object_get(v, "digest"));
    json_int_t total = json_integer_value(json_object_get(v, "total"));
    json_int_t completed = json_integer_value(json_object_get(v, "completed"));
    struct pline *l;
    size_t before = ui->n;
    if (err) {
        snprintf(ui->error, sizeof(ui->error), "%s", err);
        return;
    }
    if (!status)
        return;
    if (!strcmp(status, "success"))
        ui->success = 1;
    /* Ollama skips a layer's first 0% message so no empty bar flashes */
    if (digest && completed == 0 && !line_find(ui, status, digest))
        return;
    if (!(l = line_for(ui, status, digest)))
        return;
    if (digest) {
        l->total = total > 0 ? (unsigned long long)total : 0;
        l->completed = completed > 0 ? (unsigned long long)completed : 0;
        update_rate(l);
    }
    if (ui->tty) {
        redraw(ui);
    } else if (!digest && ui->n > before) {
        printf("%s\n", status);
    } else if (digest && !l->printed_done && l->total && l->completed >= l->total) {
        char tot[24];
        human(l->total, tot, sizeof(tot));
        printf("%s: 100%% %s\n", status, tot);
        l->printed_done = 1;
    }
    fflush(stdout);
}

/* The daemon streams; feed complete lines to on_event. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct xfer_ui *ui = ud;
    size_t n = size * nmemb;
    if (buf_append(&ui->in, p, n) != 0)
        return 0;
    char *s = ui->in.p, *nl;
    size_t used = 0;
    while ((nl = memchr(s + used, '\n', ui->in.n - used)) != NULL) {
        json_t *v = json_loadb(s + used, (size_t)(nl - (s + used)), 0, NULL);
        if (v) {
            on_event(ui, v);
            json_decref(v);
        }
        used = (size_t)(nl - s) + 1;
    }
    memmove(ui->in.p, ui->in.p + used, ui->in.n - used);
    ui->in.n -= used;
    ui->in.p[ui->in.n] = '\0';
    return n;
}

/* Base URL of the daemon from OLLAMA_HOST (host, host:port, :port, scheme://host[:port]). */
static void daemon_url(char *out, size_t n)
{
    const char *h = getenv("OLLAMA_HOST");
    char host[300] = "127.0.0.1", scheme[8] = "http";
    int port = 11434;
    if (h) {
        while (*h == ' ' || *h == '"' || *h == '\'')
            h++;
        const char *sep = strstr(h, "://");
        if (sep && sep - h < (int)sizeof(scheme)) {
            snprintf(scheme, sizeof(scheme), "%.*s", (int)(sep - h), h);
            port = strcmp(scheme, "https") == 0 ? 443 : 80;
            h = sep + 3;
        }
        size_t len = strcspn(h, "/\"' ");
        const char *colon = memrchr(h, ':', len);
        if (colon && (h[0] != '[' || colon > (const char *)memchr(h, ']', len))) {
            if (isdigit((unsigned char)colon[1]))
                port = (int)strtol(colon + 1, NULL, 10);
            len = (size_t)(colon - h);
        }
        if (len > 0 && len < sizeof(host))
            snprintf(host, sizeof(host), "%.*s", (int)len, h);
        if (!strcmp(host, "0.0.0.0"))
            snprintf(host, sizeof(host), "127.0.0.1");
    }
    snprintf(out, n, "%s://%s:%d", scheme, host, port);
}

/* Help (stdout, exit 0) or cobra's argument-count error with the usage (stderr, exit 1). */
static int usage(const char *verb, int help, int nargs)
{
    FILE *f = help ? stdout : stderr;
    if (!help)
        fprintf(f, "Error: accepts 1 arg(s), received %d\n\n", nargs);
    else
        fprintf(f, "%s a model %s a registry\n\n", !strcmp(verb, "pull") ? "Pull" : "Push",
                !strcmp(verb, "pull") ? "from" : "to");
    fprintf(f,
            "Usage:\n  corral %s MODEL [flags]\n\nFlags:\n  -h, --help       help for %s\n"
            "      --insecure   Use an insecure registry\n",
            verb, verb);
    return help ? 0 : 1;
}

static int run_request(const char *verb, const char *model, int insecure, struct xfer_ui *ui,
                       long *status)
{
    char url[400], errbuf[CURL_ERROR_SIZE] = "";
    json_t *body = json_pack("{s:s,s:b,s:b}", "model", model, "insecure", insecure, "stream", 1);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *e = curl_easy_init();
    int rc = 1;
    daemon_url(url, sizeof(url) - 16);
    snprintf(url + strlen(url), 16, "/api/%s", verb);
    if (!e || !text || !hdrs)
        goto out;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, ui);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "corral-cli");
    if (curl_easy_perform(e) != CURLE_OK) {
        snprintf(ui->error, sizeof(ui->error),
                 "could not connect to corral server, run 'corral serve' to start it");
        goto out;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    rc = 0;
out:
    curl_easy_cleanup(e);
    curl_slist_free_all(hdrs);
    free(text); /* json_dumps allocates with jansson's malloc */
    json_decref(body);
    return rc;
}

int cli__transfer(const char *verb, int argc, char **argv)
{
    struct xfer_ui *ui = mem_calloc(1, sizeof(*ui));
    const char *model = NULL;
    int insecure = 0, rc = 1, help = 0, nargs = 0;
    long status = 0;
    struct winsize ws;
    if (!ui)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--insecure"))
            insecure = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            help = 1;
        else if (argv[i][0] != '-' && nargs++ == 0)
            model = argv[i];
    }
    if (help || nargs != 1) {
        mem_free(ui);
        return usage(verb, help, nargs);
    }
    ui->tty = isatty(STDERR_FILENO);
    ui->width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
    buf_init(&ui->in, CLI_LINE_MAX);
    if (run_request(verb, model, insecure, ui, &status) == 0 && !ui->error[0] && status != 200)
        snprintf(ui->error, sizeof(ui->error), "%s failed with HTTP %ld", verb, status);
    if (ui->error[0]) {
        if (!strcmp(verb, "push") && strstr(ui->error, "unauthorized"))
            snprintf(ui->error, sizeof(ui->error),
                     "you are not authorized to push to this "
                     "namespace, create the model under a namespace "
                     "you own");
        fprintf(stderr, "Error: %s\n", ui->error);
    } else if (ui->success) {
        rc = 0;
    } else {
        fprintf(stderr, "Error: the server closed the stream before success\n");
    }
    buf_fini(&ui->in);
    mem_free(ui);
    return rc;
}

static int cmd_pull(int argc, char **argv)
{
    return cli__transfer("pull", argc, argv);
}

CMD_REGISTER(pull, "pull", cmd_pull, "Pull a model from a registry")

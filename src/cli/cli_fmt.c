/*
 * cli_fmt.c - Ollama-style human formatting for the CLI (see cli_fmt.h; the rules follow
 * Ollama's format package as described in ollama-reference.md 2 and 2.2).
 */
#include "cli/cli_fmt.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

void cli_human_bytes(uint64_t n, char *out, size_t len)
{
    static const char *const units[] = {"KB", "MB", "GB", "TB"};
    double v = (double)n;
    int u = -1;
    while (v >= 1000 && u < 3) {
        v /= 1000;
        u++;
    }
    if (u < 0)
        snprintf(out, len, "%" PRIu64 " B", n);
    else if (v >= 10 || v == floor(v))
        snprintf(out, len, "%d %s", (int)v, units[u]);
    else
        snprintf(out, len, "%.1f %s", v, units[u]);
}

static void human_duration(double secs, char *out, size_t len)
{
    long s = (long)secs, m = (long)(secs / 60), h = lround(secs / 3600);
    if (s < 1)
        snprintf(out, len, "Less than a second");
    else if (s == 1)
        snprintf(out, len, "1 second");
    else if (s < 60)
        snprintf(out, len, "%ld seconds", s);
    else if (m == 1)
        snprintf(out, len, "About a minute");
    else if (m < 60)
        snprintf(out, len, "%ld minutes", m);
    else if (h == 1)
        snprintf(out, len, "About an hour");
    else if (h < 48)
        snprintf(out, len, "%ld hours", h);
    else if (h < 24 * 7 * 2)
        snprintf(out, len, "%ld days", h / 24);
    else if (h < 24 * 30 * 2)
        snprintf(out, len, "%ld weeks", h / 24 / 7);
    else if (h < 24 * 365 * 2)
        snprintf(out, len, "%ld months", h / 24 / 30);
    else
        snprintf(out, len, "%ld years", (long)(secs / 3600 / 24 / 365));
}

void cli_human_time(time_t t, time_t now, char *out, size_t len)
{
    char d[64];
    double delta = difftime(now, t);
    human_duration(delta < 0 ? -delta : delta, d, sizeof(d));
    snprintf(out, len, "%s %s", d, delta < 0 ? "from now" : "ago");
}

int cli_parse_time(const char *s, time_t *out)
{
    struct tm tm;
    const char *p;
    long off = 0;
    memset(&tm, 0, sizeof(tm));
    if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
        return E_PARSE;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return E_PARSE;
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z') {
        return E_PARSE;
    }
    *out = timegm(&tm) - off;
    return 0;
}

void cli_table_init(struct cli_table *t, size_t cols)
{
    t->cols = cols < CLI_TABLE_MAX_COLS ? cols : CLI_TABLE_MAX_COLS;
    t->rows = 0;
    t->cells = NULL;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
    char **p;
    if (t->rows >= CLI_TABLE_MAX_ROWS)
        return E_RANGE;
    if (!(p = mem_realloc_array(t->cells, (t->rows + 1) * t->cols, sizeof(*p))))
        return E_NOMEM;
    t->cells = p;
    for (size_t i = 0; i < t->cols; i++)
        p[t->rows * t->cols + i] = mem_strdup(cells[i] ? cells[i] : "");
    t->rows++;
    return 0;
}

void cli_table_print(const struct cli_table *t, FILE *f, const char *indent)
{
    size_t w[CLI_TABLE_MAX_COLS] = {0};
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cells[r * t->cols + c];
            size_t n = s ? strlen(s) : 0;
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < t->rows; r++) {
        fputs(indent ? indent : "", f);
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cells[r * t->cols + c];
            if (c + 1 < t->cols)
                fprintf(f, "%-*s", (int)w[c] + 4, s ? s : "");
            else
                fputs(s ? s : "", f);
        }
        fputc('\n', f);
    }
}

void cli_table_fini(struct cli_table *t)
{
    for (size_t i = 0; t->cells && i < t->rows * t->cols; i++)
        mem_free(t->cells[i]);
    mem_free(t->cells);
    t->cells = NULL;
    t->rows = 0;
}

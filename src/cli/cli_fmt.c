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
    static const char *const units[] = {"TB", "GB", "MB", "KB"};
    static const double scale[] = {1e12, 1e9, 1e6, 1e3};
    for (int u = 0; u < 4; u++) {
        double v;
        if ((double)n < scale[u])
            continue;
        v = (double)n / scale[u]; /* one division, as format.HumanBytes does */
        if (v >= 10 || v == trunc(v))
            snprintf(out, len, "%d %s", (int)v, units[u]);
        else
            snprintf(out, len, "%.1f %s", v, units[u]);
        return;
    }
    snprintf(out, len, "%" PRIu64 " B", n);
}

/* format.humanDuration: seconds and minutes truncated, hours rounded. */
static void human_duration(long long secs, char *out, size_t len)
{
    long long m = secs / 60, h = (secs + 1800) / 3600, h_trunc = secs / 3600;
    if (secs < 1)
        snprintf(out, len, "Less than a second");
    else if (secs == 1)
        snprintf(out, len, "1 second");
    else if (secs < 60)
        snprintf(out, len, "%lld seconds", secs);
    else if (m == 1)
        snprintf(out, len, "About a minute");
    else if (m < 60)
        snprintf(out, len, "%lld minutes", m);
    else if (h == 1)
        snprintf(out, len, "About an hour");
    else if (h < 48)
        snprintf(out, len, "%lld hours", h);
    else if (h < 24 * 7 * 2)
        snprintf(out, len, "%lld days", h / 24);
    else if (h < 24 * 30 * 2)
        snprintf(out, len, "%lld weeks", h / 24 / 7);
    else if (h < 24 * 365 * 2)
        snprintf(out, len, "%lld months", h / 24 / 30);
    else
        snprintf(out, len, "%lld years", h_trunc / 24 / 365);
}

void cli_human_time(time_t t, time_t now, char *out, size_t len)
{
    char d[64];
    long long delta = (long long)now - (long long)t;
    if (delta / 3600 / 24 / 365 < -20) {
        snprintf(out, len, "Forever");
        return;
    }
    human_duration(delta < 0 ? -delta : delta, d, sizeof(d));
    snprintf(out, len, "%s %s", d, delta < 0 ? "from now" : "ago");
}

void cli_human_time_str(const char *rfc3339, const char *zero_value, time_t now, char *out,
                        size_t len)
{
    time_t t;
    if (!rfc3339 || !strncmp(rfc3339, "0001-01-01T00:00:00", 19) ||
        cli_parse_time(rfc3339, &t) != 0)
        snprintf(out, len, "%s", zero_value ? zero_value : "");
    else
        cli_human_time(t, now, out, len);
}

void cli_go_float(double v, char *out, size_t len)
{
    char e[40];
    int p, exp;
    if (isnan(v) || isinf(v)) {
        snprintf(out, len, "%s", isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        snprintf(out, len, "%s", signbit(v) ? "-0" : "0");
        return;
    }
    for (p = 1; p < 17; p++) { /* shortest digits that read back as v */
        snprintf(e, sizeof(e), "%.*e", p - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", p - 1, v);
    exp = (int)strtol(strchr(e, 'e') + 1, NULL, 10);
    if (exp < -4 || exp >= 6) /* strconv 'g', shortest: the exponent limit is 6 */
        snprintf(out, len, "%s", e);
    else
        snprintf(out, len, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v);
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
    t->header = 0;
    t->wrap = CLI_TABLE_WRAP;
}

int cli_table_add_n(struct cli_table *t, const char *const *cells, size_t n)
{
    char **p;
    if (t->rows >= CLI_TABLE_MAX_ROWS)
        return E_RANGE;
    if (!(p = mem_realloc_array(t->cells, (t->rows + 1) * t->cols, sizeof(*p))))
        return E_NOMEM;
    t->cells = p;
    for (size_t i = 0; i < t->cols; i++)
        p[t->rows * t->cols + i] = i < n ? mem_strdup(cells[i] ? cells[i] : "") : NULL;
    t->rows++;
    return 0;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
    return cli_table_add_n(t, cells, t->cols);
}

/* Display width: code points (wide East Asian characters count 1 here, 2 in runewidth). */
static size_t disp_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)s[i] & 0xc0) != 0x80;
    return w;
}

/* One wrapped line of a cell: [p, p+n). */
struct seg {
    const char *p;
    size_t n;
};

/* tablewriter's WrapString: words split at single spaces, lines of minimal raggedness (sum of
 * squared slack) within lim, a word longer than lim widening lim.  Returns the line count
 * written to out (at most cap); 0 when there are too many words (the caller keeps one line). */
static size_t wrap_words(const char *s, size_t lim, struct seg *out, size_t cap)
{
    size_t n = 1, k = 0, *ws = NULL, *st = NULL, *brk = NULL;
    long long *cost = NULL;
    for (const char *q = s; *q; q++)
        n += *q == ' ';
    if (n > CLI_TABLE_MAX_WORDS || !(ws = mem_calloc(n, sizeof(*ws))) ||
        !(st = mem_calloc(n + 1, sizeof(*st))) || !(brk = mem_calloc(n, sizeof(*brk))) ||
        !(cost = mem_calloc(n, sizeof(*cost))))
        goto out;
    for (size_t i = 0, pos = 0; i < n; i++) {
        size_t len = strcspn(s + pos, " ");
        st[i] = pos;
        ws[i] = disp_width(s + pos, len);
        if (ws[i] > lim)
            lim = ws[i];
        pos += len + 1;
    }
    st[n] = strlen(s) + 1;
    for (size_t i = n; i-- > 0;) {
        size_t len = ws[i];
        cost[i] = -1;
        for (size_t j = i + 1; j <= n; j++) { /* words i..j-1 on one line */
            long long d, c;
            if (j > i + 1)
                len += 1 + ws[j - 1];
            if (j == n && len <= lim) {
                cost[i] = 0, brk[i] = n;
                break;
            }
            if (j == n)
                break;
            d = (long long)lim - (long long)len;
            c = d * d + cost[j] + (len > lim ? 100000 : 0);
            if (cost[i] < 0 || c < cost[i])
                cost[i] = c, brk[i] = j;
        }
    }
    for (size_t i = 0; i < n && k < cap; i = brk[i], k++) {
        out[k].p = s + st[i];
        out[k].n = st[brk[i]] - 1 - st[i];
    }
out:
    mem_free(ws);
    mem_free(st);
    mem_free(brk);
    mem_free(cost);
    return k;
}

#define CLI_TABLE_MAX_LINES 64 /* wrapped lines kept per cell */

/* The lines of a cell as parseDimension makes them (for cells without newlines). */
static size_t cell_lines(const char *s, size_t wrap, struct seg *out)
{
    size_t w = disp_width(s, strlen(s)), k;
    if (w > wrap)
        w = wrap;
    k = w ? wrap_words(s, w, out, CLI_TABLE_MAX_LINES) : 0;
    if (k == 0) {
        out[0].p = s;
        out[0].n = strlen(s);
        k = 1;
    }
    return k;
}

static void put_padded(FILE *f, const char *p, size_t n, size_t width)
{
    size_t w = disp_width(p, n);
    fwrite(p, 1, n, f);
    for (; w < width; w++)
        fputc(' ', f);
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
    static struct seg none = {"  ", 2}; /* tablewriter fills short cells with two spaces */
    size_t w[CLI_TABLE_MAX_COLS] = {0};
    struct seg lines[CLI_TABLE_MAX_COLS][CLI_TABLE_MAX_LINES];
    size_t nl[CLI_TABLE_MAX_COLS];
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cells[r * t->cols + c];
            size_t k = s ? cell_lines(s, t->wrap, lines[0]) : 0;
            for (size_t i = 0; i < k; i++)
                if (disp_width(lines[0][i].p, lines[0][i].n) > w[c])
                    w[c] = disp_width(lines[0][i].p, lines[0][i].n);
        }
    for (size_t r = 0; r < t->rows; r++) {
        size_t height = 1, ncells = 0;
        int head = t->header && r == 0;
        for (size_t c = 0; c < t->cols && t->cells[r * t->cols + c]; c++, ncells++) {
            nl[c] = cell_lines(t->cells[r * t->cols + c], t->wrap, lines[c]);
            if (nl[c] > height)
                height = nl[c];
        }
        for (size_t y = 0; y < height; y++) {
            for (size_t c = 0; c < (head ? t->cols : ncells); c++) {
                const struct seg *sg = c < ncells && y < nl[c] ? &lines[c][y] : &none;
                if (head && c >= ncells)
                    put_padded(f, "", 0, w[c]);
                else
                    put_padded(f, sg->p, sg->n, w[c]);
                fputs(head && c + 1 == t->cols ? " " : "    ", f);
            }
            fputc('\n', f);
        }
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

/*
 * cli_fmt.h - how the CLI prints things the way Ollama's does: human byte sizes ("1.2 MB",
 * format.HumanBytes), human times ("2 minutes ago", "4 minutes from now", "Forever",
 * format.HumanTime), RFC 3339 parsing, Go's %v of a JSON number, and a table laid out as Ollama's
 * tablewriter settings lay it out (left-aligned, no border, every cell padded to its column's
 * width and followed by four spaces, the header's last cell by one; cells wider than the
 * column limit wrapped at spaces with minimal raggedness).
 * Thread-safe (no shared state) except the table, which is per caller.
 */
#ifndef CORRAL_CLI_CLI_FMT_H
#define CORRAL_CLI_CLI_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "common/err.h"

#define CLI_TABLE_MAX_COLS  8
#define CLI_TABLE_MAX_ROWS  100000
#define CLI_TABLE_WRAP      30   /* tablewriter's default column width limit (MAX_ROW_WIDTH) */
#define CLI_TABLE_MAX_WORDS 4096 /* cells with more words are not wrapped */

/* Decimal units B/KB/MB/GB/TB; one decimal below 10 unless whole ("1.2 MB", "15 MB", "68 B"). */
void cli_human_bytes(uint64_t n, char *out, size_t len);
/* "Less than a second", "About a minute", "3 hours", "2 weeks"... plus " ago" for past times
 * and " from now" for future ones, relative to now; "Forever" more than 20 years ahead. */
void cli_human_time(time_t t, time_t now, char *out, size_t len);
/* cli_human_time of an RFC 3339 text; zero_value when it is empty, unparsable or Go's zero time
 * ("0001-01-01T00:00:00Z"), as format.HumanTime(t, zeroValue) does. */
void cli_human_time_str(const char *rfc3339, const char *zero_value, time_t now, char *out,
                        size_t len);
/* Go's fmt %v of a float64 (shortest round-trip digits; exponent form below 1e-4 and from 1e6
 * on, e.g. "2048", "0.5", "1e-05", "9.999999747378752e-06"). */
void cli_go_float(double v, char *out, size_t len);
/* Parses RFC 3339 ("2024-06-04T14:38:31.83753-07:00", "...Z"); E_PARSE when malformed. */
CORRAL_WARN_UNUSED int cli_parse_time(const char *s, time_t *out);

struct cli_table {
    size_t cols, rows;
    char **cells; /* rows * cols strings (owned); NULL past the end of a short row */
    int header;   /* 1: the first row is the header (printed without trailing padding) */
    size_t wrap;  /* column width limit before wrapping, default CLI_TABLE_WRAP */
};

/* Empty table of cols columns (at most CLI_TABLE_MAX_COLS); no header, wrap 30. */
void cli_table_init(struct cli_table *t, size_t cols);
/* Appends a row of t->cols strings (copied; NULL prints as ""). */
CORRAL_WARN_UNUSED int cli_table_add(struct cli_table *t, const char *const *cells);
/* Appends a row of n <= t->cols strings; the row prints only those (tablewriter's short rows). */
CORRAL_WARN_UNUSED int cli_table_add_n(struct cli_table *t, const char *const *cells, size_t n);
/* Prints the table as tablewriter (SetBorder false, SetNoWhiteSpace true, padding four spaces,
 * left alignment) does. */
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_fini(struct cli_table *t);

#endif

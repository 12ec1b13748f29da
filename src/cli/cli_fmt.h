/*
 * cli_fmt.h - how the CLI prints things the way Ollama's does: human byte sizes ("1.2 MB"),
 * human times ("2 minutes ago", "4 minutes from now"), parameter counts ("3.2B"), RFC 3339
 * parsing, and a small left-aligned table (columns padded to the widest cell plus three spaces).
 * Thread-safe (no shared state) except the table, which is per caller.
 */
#ifndef CORRAL_CLI_CLI_FMT_H
#define CORRAL_CLI_CLI_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "common/err.h"

#define CLI_TABLE_MAX_COLS 8
#define CLI_TABLE_MAX_ROWS 100000

/* Decimal units B/KB/MB/GB/TB; one decimal below 10 unless whole ("1.2 MB", "15 MB", "68 B"). */
void cli_human_bytes(uint64_t n, char *out, size_t len);
/* "Less than a second", "About a minute", "3 hours", "2 weeks"... plus " ago" for past times
 * and " from now" for future ones, relative to now. */
void cli_human_time(time_t t, time_t now, char *out, size_t len);
/* Parses RFC 3339 ("2024-06-04T14:38:31.83753-07:00", "...Z"); E_PARSE when malformed. */
CORRAL_WARN_UNUSED int cli_parse_time(const char *s, time_t *out);

struct cli_table {
    size_t cols, rows;
    char **cells; /* rows * cols strings (owned) */
};

void cli_table_init(struct cli_table *t, size_t cols);
/* Appends a row of t->cols strings (copied). */
CORRAL_WARN_UNUSED int cli_table_add(struct cli_table *t, const char *const *cells);
/* Prints the table with a prefix before each row. */
void cli_table_print(const struct cli_table *t, FILE *f, const char *indent);
void cli_table_fini(struct cli_table *t);

#endif

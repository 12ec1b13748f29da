/*
 * cli_run.h - shared state of `corral run` between its one-shot path (cli_run.c) and its REPL
 * (cli_repl.c): the session (model, options, system, history, display flags), streaming a
 * generate/chat answer to the terminal with word wrap, the loading spinner, Ctrl-C handling and
 * Ollama's --verbose timing block.  Not thread-safe (the CLI's main thread), except the spinner.
 */
#ifndef CORRAL_CLI_CLI_RUN_H
#define CORRAL_CLI_CLI_RUN_H

#include <signal.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/cli_client.h"
#include "common/err.h"

#define CLI_RUN_MAX_INPUT (1u << 20) /* bytes of one prompt (stdin, multi-line input) */

struct cli_session {
    struct cli_client client;
    char *model;        /* owned */
    json_t *options;    /* /set parameter values */
    json_t *messages;   /* chat history */
    char *system;       /* /set system, or NULL; owned */
    char *tmpl;         /* /set template, or NULL; owned */
    json_t *keep_alive; /* --keepalive as given, or NULL */
    const char *format; /* "json" or NULL */
    int verbose, wordwrap, think, nothink, hidethinking, history;
    int width;            /* terminal columns (0 = unknown) */
    int reported;         /* the failure was already printed (a failed pull) */
    char think_level[16]; /* --think=low|medium|high|max, /set think LEVEL; "" = plain true */
    int embedding;        /* the model's capabilities list "embedding": run prints a vector */
    int truncate;         /* --truncate[=bool] given: 1 true, 0 false; -1 when absent */
    long dimensions;      /* --dimensions N (0 = absent) */
};

/* Sets body's "think" from the session: false, true, or the level string; nothing when unset. */
void cli_run_think(const struct cli_session *s, json_t *body);

/* Set by the SIGINT handler while a generation runs; cleared by the caller. */
extern volatile sig_atomic_t cli_run_interrupted;

/* Installs the SIGINT handler (no SA_RESTART, so readline and reads return). */
void cli_run_signals(void);
/* Streams path (/api/generate or /api/chat) with body to stdout; prints the verbose block when
 * asked; fills *reply (may be NULL) with the assistant text (caller owns, mem_free).  Ctrl-C
 * stops the answer and returns E_CANCELLED. */
int cli_run_stream(struct cli_session *s, const char *path, json_t *body, char **reply,
                   struct err_info *ei);
/* Preloads the model (empty generate) with a spinner. */
int cli_run_preload(struct cli_session *s, struct err_info *ei);
/* The interactive loop (cli_repl.c); returns the exit code. */
int cli_repl(struct cli_session *s);
/* Formats ns as Go's time.Duration.String ("1.52s", "523.1ms", "1m5.2s"). */
void cli_go_duration(int64_t ns, char *out, size_t n);

#endif

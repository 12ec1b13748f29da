/*
 * main.c - entry point of bin/corral: dispatches argv[1] to the subcommand registered with
 * CMD_REGISTER (see common/cmd.h).  `corral` alone and `corral help` print the command list;
 * `corral help CMD` is `corral CMD --help`.
 */
#include <stdio.h>
#include <string.h>

#include "common/cmd.h"
#include "common/log.h"
#include "common/version.h"

static int usage(FILE *f)
{
    fprintf(f, "Large language model runner\n\nUsage:\n  corral [flags]\n  corral [command]\n\n"
               "Available Commands:\n");
    for (const struct cmd_entry *e = cmd_first(); e; e = e->next)
        if (e->summary)
            fprintf(f, "  %-10s %s\n", e->name, e->summary);
    fprintf(f, "  %-10s %s\n", "help", "Help about any command");
    fprintf(f, "\nFlags:\n  -h, --help      help for corral\n  -v, --version   Show version "
               "information\n\nUse \"corral [command] --help\" for more information about a "
               "command.\n");
    return f == stderr ? 1 : 0;
}

int main(int argc, char **argv)
{
    const struct cmd_entry *e;
    log_init_from_env();
    if (argc > 2 && !strcmp(argv[1], "help") && (e = cmd_find(argv[2])) != NULL) {
        char *hv[3] = {argv[2], (char *)"--help", NULL}; /* cobra: `help CMD` = `CMD --help` */
        return e->fn(2, hv);
    }
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "--help"))
        return usage(stdout);
    if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")) {
        const struct cmd_entry *v = cmd_find("--version");
        if (v)
            return v->fn(argc - 1, argv + 1);
        printf("corral version is %s (corral %s)\n", CORRAL_OLLAMA_VERSION, CORRAL_VERSION);
        return 0;
    }
    if (!(e = cmd_find(argv[1]))) {
        fprintf(stderr, "Error: unknown command \"%s\" for \"corral\"\n", argv[1]);
        return 1;
    }
    return e->fn(argc - 1, argv + 1);
}

/*
 * cli_push.c - `corral push [--insecure] MODEL`: the daemon's /api/push with the same progress
 * display as `corral pull` (the client lives in cli_pull.c).  An "unauthorized" answer is
 * rewritten as Ollama's CLI does ("you are not authorized to push to this namespace ...").
 */
#include "common/cmd.h"

/* Defined in cli_pull.c: POST /api/<verb>, render the NDJSON progress, exit code. */
int cli__transfer(const char *verb, int argc, char **argv);

static int cmd_push(int argc, char **argv)
{
    return cli__transfer("push", argc, argv);
}

CMD_REGISTER(push, "push", cmd_push, "Push a model to a registry")

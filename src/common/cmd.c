/*
 * cmd.c - subcommand registry (see cmd.h).  Filled by constructors before main runs.
 */
#include "common/cmd.h"

#include <string.h>

static struct cmd_entry *head;

void cmd_register(struct cmd_entry *e)
{
    struct cmd_entry **pp = &head;
    while (*pp && strcmp((*pp)->name, e->name) < 0)
        pp = &(*pp)->next;
    e->next = *pp;
    *pp = e;
}

const struct cmd_entry *cmd_find(const char *name)
{
    for (const struct cmd_entry *e = head; e; e = e->next)
        if (!strcmp(e->name, name))
            return e;
    return NULL;
}

const struct cmd_entry *cmd_first(void)
{
    return head;
}

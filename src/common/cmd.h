/*
 * cmd.h - subcommand registry of the one binary.  Each module that provides a subcommand
 * registers it with CMD_REGISTER(name, fn, summary) in its own .c file; src/main.c looks the
 * name up.  This keeps the command table out of any shared file.  summary NULL hides the
 * command from `corral help` (internal commands such as `runner`).
 */
#ifndef CORRAL_COMMON_CMD_H
#define CORRAL_COMMON_CMD_H

typedef int (*cmd_fn)(int argc, char **argv); /* argv[0] is the subcommand; returns exit code */

struct cmd_entry {
    const char *name;
    cmd_fn fn;
    const char *summary;
    struct cmd_entry *next;
};

void cmd_register(struct cmd_entry *e);
/* Returns the entry for name, or NULL. */
const struct cmd_entry *cmd_find(const char *name);
/* First entry of the list (sorted by name); iterate with ->next. */
const struct cmd_entry *cmd_first(void);

#define CMD_REGISTER(ident, name_, fn_, summary_)                          \
    static struct cmd_entry cmd_entry_##ident = {name_, fn_, summary_, 0}; \
    __attribute__((constructor)) static void cmd_reg_##ident(void)         \
    {                                                                      \
        cmd_register(&cmd_entry_##ident);                                  \
    }

#endif

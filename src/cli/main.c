/* songrec: one binary, subcommands listed in commands.def. main() only dispatches;
 * each subcommand parses its own options and returns an exit code (errors.def). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
#define X(name, summary) {#name, summary, sr_cmd_##name},
#include "cli/commands.def"
#undef X
};

static void usage(FILE *f) {
    fprintf(f, "usage: songrec COMMAND [OPTIONS] ...\n\n"
               "songrec turns listening histories into song recommendations.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'songrec COMMAND --help' describes a command.\n"
               "exit codes: 0 ok, 1 usage, 2 bad input, 3 I/O error, 4 out of memory, "
               "5 internal error\n");
}

int main(int argc, char **argv) {
    /* Past a file-size limit (ulimit -f) a write fails with EFBIG and songrec exits 3 with
     * the reason, instead of being killed by SIGXFSZ. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        puts("songrec 0.1.0");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "songrec: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 1;
}

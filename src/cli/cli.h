/* Shared CLI helpers: the stderr log hook with a TTY progress bar, option parsing
 * helpers and the subcommand entry points (commands.def). Only the CLI prints. */
#ifndef SR_CLI_H
#define SR_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"
#include "util/log.h"
#include "util/str.h"

#define X(name, summary) int sr_cmd_##name(int argc, char **argv);
#include "cli/commands.def"
#undef X

/* The log hook that writes "songrec: warning: ..." lines to stderr and, when stderr is a
 * TTY and quiet is false, a progress bar. */
typedef struct sr_cli_log {
    sr_log log;
    bool quiet;
    bool verbose; /* show SR_LOG_DEBUG messages */
    bool tty;
    bool bar_shown;
    double last_draw;
} sr_cli_log;
void sr_cli_log_init(sr_cli_log *cl, bool quiet);

/* Prints "songrec CMD: message" for an error to stderr; returns the exit code for e. */
int sr_cli_fail(const char *cmd, sr_err e, const sr_diag *d);

struct option;
/* "songrec CMD: bad value 'ARG' for --NAME" on stderr, NAME the long option of opts whose
 * code is c; returns 1, the usage exit code. */
int sr_cli_bad_value(const char *cmd, const struct option *opts, int c, const char *arg);

/* Parses a whole decimal integer / a number with optional k/M/G suffix (10k = 10000).
 * Return false on junk or overflow. */
bool sr_cli_parse_u64(const char *s, uint64_t *out);
bool sr_cli_parse_i64(const char *s, int64_t *out);
bool sr_cli_parse_double(const char *s, double *out);

/* Writes s as a JSON string literal (with quotes) to f. */
void sr_cli_json_string(FILE *f, const char *s, size_t n);

/* Writes a song as "Artist - Track", or as its track alone when the artist is empty (a
 * song of items-only data, named by its item id). */
void sr_cli_song(FILE *f, sr_str artist, sr_str track);

#endif

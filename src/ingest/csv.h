/* The "csv" reader's public extra.
 *
 * csv.c is reached through sr_format_csv in the registry; this header only adds the
 * check the CLI can run on --columns before reading anything, so that a misspelt role
 * fails the command at once instead of failing every CSV file in turn.
 */
#ifndef SR_CSV_H
#define SR_CSV_H

#include "util/err.h"

/* Checks the spelling of a --columns value ("user=U,artist=A,track=T,time=TS,count=C,
 * release=R,mbid=M"; an empty name drops a role). Returns SR_OK (also for NULL) or
 * SR_E_USAGE with words in d. Whether the names exist is only known per file. */
sr_err sr_csv_columns_check(const char *spec, sr_diag *d);

#endif

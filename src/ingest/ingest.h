/* The ingest driver: files (plain, compressed, archives, globs, "-") in, validated
 * listens out to an accept callback (normally the dataset builder).
 *
 * For each input it walks the members, skips an archive's metadata members (COPYING,
 * TIMESTAMP, checksums, feedback, ...), takes the user name from `user.json` or the
 * file name where the format has none, detects each member's format from its name and
 * first 64 KiB (or uses --format), and runs the reader. A file that cannot be opened,
 * recognised or fully read is counted (unreadable / truncated) and reported, and the
 * run goes on — unless --strict, where the first problem ends it with an error.
 */
#ifndef SR_INGEST_H
#define SR_INGEST_H

#include <stddef.h>

#include "ingest/reader.h"

typedef struct sr_ingest_opts {
    sr_read_opts read;
    const char *format; /* forced format name, or NULL to detect */
} sr_ingest_opts;

/* Reads every path in order. Returns SR_OK when the run completed (possibly with
 * skipped records, counted in st), or the fatal error with words in d. */
sr_err sr_ingest_paths(char *const *paths, size_t n_paths, const sr_ingest_opts *o,
                       sr_accept_fn accept, void *accept_user, sr_read_stats *st, sr_diag *d);

/* The user name a file name implies: "<user>_lb-YYYY-MM-DD.json" (ListenBrainz export
 * 2017-2024) and "listenbrainz_<user>_<unixtime>.zip" (since 2024). Writes at most
 * cap-1 bytes; returns false when the name implies none. */
bool sr_ingest_user_from_name(const char *path, char *out, size_t cap);

#endif

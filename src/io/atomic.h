/* Atomic file output: everything songrec writes appears whole or not at all.
 *
 * sr_afile_open opens an unnamed file (O_TMPFILE) in the target's directory, or
 * "<path>.tmp.XXXXXX" where the filesystem has none, and holds an flock on it; writes go
 * through a 1 MiB buffer; sr_afile_commit flushes, fsyncs, links the file in (as a
 * "<path>.tmp.XXXXXX" name), renames it over path and fsyncs the directory;
 * sr_afile_abort (or any failed write followed by abort) removes it. The previous file
 * under path stays intact until the rename. A killed writer leaves nothing, or a temp
 * file that the next open of the same path removes once it is unlocked and 10 s old. A
 * path that exists and is not a regular file is refused (so `-o /dev/null` is an error,
 * not a replaced device).
 */
#ifndef SR_ATOMIC_H
#define SR_ATOMIC_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct sr_afile {
    int fd;
    char *path, *tmp;
    unsigned char *buf;
    size_t len, cap;
    uint64_t written; /* bytes accepted so far (buffered included) */
    sr_err err;       /* sticky first error */
    int saved_errno;
} sr_afile;

sr_err sr_afile_open(sr_afile *f, const char *path, sr_diag *d);
sr_err sr_afile_write(sr_afile *f, const void *p, size_t n);
/* Writes n bytes at absolute offset off (after flushing the buffer). */
sr_err sr_afile_pwrite(sr_afile *f, const void *p, size_t n, uint64_t off);
sr_err sr_afile_commit(sr_afile *f, sr_diag *d);
void sr_afile_abort(sr_afile *f);
/* The whole of a file in one call: n bytes of p written to path atomically. */
sr_err sr_afile_write_all(const char *path, const void *p, size_t n, sr_diag *d);

#endif

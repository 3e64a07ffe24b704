/* Input files: plain, compressed (gzip, xz, zstd, bzip2, ...) and archives (tar in any
 * of those compressions, zip), read through libarchive as a sequence of members.
 *
 * A plain or single-compressed file is one member named after the file (with the
 * compression suffix removed); an archive yields each regular-file member in stored
 * order. "-" reads standard input. Each member is an sr_stream; a truncated or corrupt
 * compressed stream surfaces as SR_E_TRUNCATED from the stream's reads, with
 * libarchive's words in the diagnostic.
 *
 * Ownership: sr_input_open returns a new input, sr_input_close frees it. The stream
 * and member name from sr_input_next are owned by the input and valid until the next
 * sr_input_next or close.
 */
#ifndef SR_INPUT_H
#define SR_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "io/stream.h"
#include "util/err.h"

typedef struct sr_input sr_input;

sr_err sr_input_open(const char *path, sr_input **out, sr_diag *d);
/* Advances to the next member: returns 1 with *s and *name set, 0 at the end, or a
 * negative sr_err (a corrupt archive) with words in d. */
int sr_input_next(sr_input *in, sr_stream **s, const char **name, sr_diag *d);
/* True when the input is a multi-member archive (tar, zip), false for a single stream. */
bool sr_input_is_archive(const sr_input *in);
/* Compressed bytes read so far (for progress) and the file size (0 when unknown). */
uint64_t sr_input_bytes_read(const sr_input *in);
uint64_t sr_input_size(const sr_input *in);
const char *sr_input_path(const sr_input *in);
void sr_input_close(sr_input *in);

#endif

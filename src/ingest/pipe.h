/* A two-stage ingest pipeline: readers on the calling thread, the dataset builder on a
 * worker thread.
 *
 * Parsing and validating a listen (reader + sr_reader_emit) and interning it (builder)
 * take similar time, and the interning is dominated by cache misses in large hash
 * tables, so on two hardware threads — even two hyperthreads of one core — running them
 * side by side is the cheapest large speed-up. sr_pipe_accept is an sr_accept_fn: it
 * copies the listen's strings into the current batch (4096 listens) and hands full
 * batches to the worker through a small queue; the worker feeds them, in order, to the
 * downstream batch function. Order is kept, so the result is identical to a direct run.
 *
 * An error in the downstream function (out of memory, mixed kinds) is sticky: the next
 * sr_pipe_accept returns it, and sr_pipe_finish returns it.
 */
#ifndef SR_PIPE_H
#define SR_PIPE_H

#include "ingest/reader.h"

typedef struct sr_pipe sr_pipe;

/* Takes n listens in order (kinds[i] the kind of ls[i]); returns SR_OK or an error. */
typedef sr_err (*sr_accept_batch_fn)(void *user, const sr_listen *ls, const uint8_t *kinds,
                                     size_t n);

/* Starts the worker. sink(sink_user, ...) runs on the worker thread only. */
sr_err sr_pipe_new(sr_accept_batch_fn sink, void *sink_user, sr_pipe **out);
/* An sr_accept_fn (user = the pipe). */
sr_err sr_pipe_accept(void *pipe, const sr_listen *l, sr_value_kind kind);
/* Hands over the last batch, waits for the worker and returns its first error. */
sr_err sr_pipe_finish(sr_pipe *p);
/* Stops the worker (finishing first if needed) and frees the pipe. */
void sr_pipe_free(sr_pipe *p);

#endif

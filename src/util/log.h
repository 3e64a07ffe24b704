/* Logging and progress hooks.
 *
 * The library never prints. Code that has something to say to a person (a skipped
 * record, progress of a long step) calls through an sr_log that its caller passed in;
 * the CLI installs one that writes to stderr and draws a progress bar when stderr is a
 * TTY. A NULL sr_log (or NULL members) silences everything.
 */
#ifndef SR_LOG_H
#define SR_LOG_H

#include <stdint.h>

typedef enum sr_log_level { SR_LOG_ERROR, SR_LOG_WARN, SR_LOG_INFO, SR_LOG_DEBUG } sr_log_level;

typedef struct sr_log {
    void (*message)(void *user, sr_log_level level, const char *text);
    /* Progress of a long step: done of total units (total 0 when unknown), what is a
     * short label ("ingest"). done == total ends the bar. */
    void (*progress)(void *user, const char *what, uint64_t done, uint64_t total);
    void *user;
} sr_log;

void sr_logf(const sr_log *log, sr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sr_progress(const sr_log *log, const char *what, uint64_t done, uint64_t total);

#endif

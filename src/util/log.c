/* Forwarding helpers for sr_log (log.h). */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

void sr_logf(const sr_log *log, sr_log_level level, const char *fmt, ...) {
    if (!log || !log->message) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log->message(log->user, level, buf);
}

void sr_progress(const sr_log *log, const char *what, uint64_t done, uint64_t total) {
    if (log && log->progress) log->progress(log->user, what, done, total);
}

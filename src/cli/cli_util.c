/* CLI helpers (cli.h): stderr logging with a progress bar, number parsing, JSON
 * string output, song names. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void clear_bar(sr_cli_log *cl) {
    if (cl->bar_shown) {
        fputs("\r\033[K", stderr);
        cl->bar_shown = false;
    }
}

static void cli_message(void *user, sr_log_level level, const char *text) {
    sr_cli_log *cl = user;
    if (level == SR_LOG_DEBUG && !cl->verbose) return;
    if (cl->quiet && level > SR_LOG_WARN) return;
    clear_bar(cl);
    const char *tag = level == SR_LOG_ERROR ? "error: " : level == SR_LOG_WARN ? "warning: " : "";
    fprintf(stderr, "songrec: %s%s\n", tag, text);
}

static void cli_progress(void *user, const char *what, uint64_t done, uint64_t total) {
    sr_cli_log *cl = user;
    if (cl->quiet || !cl->tty) return;
    double t = now_seconds();
    bool finished = total && done >= total;
    if (!finished && t - cl->last_draw < 0.1) return;
    cl->last_draw = t;
    if (finished) {
        clear_bar(cl);
        return;
    }
    if (total) {
        int width = 30, fill = (int)((double)done / (double)total * width);
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r%-8s [%s] %5.1f%%", what, bar, 100.0 * (double)done / (double)total);
    } else {
        fprintf(stderr, "\r%-8s %" PRIu64 "", what, done);
    }
    fputs("\033[K", stderr);
    cl->bar_shown = true;
}

void sr_cli_log_init(sr_cli_log *cl, bool quiet) {
    memset(cl, 0, sizeof *cl);
    cl->quiet = quiet;
    cl->tty = isatty(2);
    cl->log.message = cli_message;
    cl->log.progress = cli_progress;
    cl->log.user = cl;
}

int sr_cli_fail(const char *cmd, sr_err e, const sr_diag *d) {
    if (d && d->msg[0])
        fprintf(stderr, "songrec %s: %s\n", cmd, d->msg);
    else
        fprintf(stderr, "songrec %s: %s\n", cmd, sr_err_message(e));
    return sr_err_exit_code(e);
}

bool sr_cli_parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return false;
    errno = 0;
    char *end;
    double mant = 1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return false;
    if (*end == 'k' || *end == 'K')
        mant = 1e3, end++;
    else if (*end == 'M' || *end == 'm')
        mant = 1e6, end++;
    else if (*end == 'G' || *end == 'g')
        mant = 1e9, end++;
    if (*end) return false;
    if (mant > 1 && (double)v * mant > 1.8e19) return false;
    *out = (uint64_t)v * (uint64_t)mant;
    return true;
}

bool sr_cli_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return false;
    *out = v;
    return true;
}

bool sr_cli_parse_double(const char *s, double *out) {
    if (!s || !*s) return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

void sr_cli_json_string(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void sr_cli_song(FILE *f, sr_str artist, sr_str track) {
    if (artist.n) fprintf(f, "%.*s - ", (int)artist.n, artist.p);
    fprintf(f, "%.*s", (int)track.n, track.p);
}

int sr_cli_bad_value(const char *cmd, const struct option *opts, int c, const char *arg) {
    const char *name = NULL;
    for (const struct option *o = opts; o->name && !name; o++)
        if (o->val == c) name = o->name;
    if (name)
        fprintf(stderr, "songrec %s: bad value '%s' for --%s\n", cmd, arg ? arg : "", name);
    else
        fprintf(stderr, "songrec %s: bad value '%s'\n", cmd, arg ? arg : "");
    return 1;
}

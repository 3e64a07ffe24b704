/* `songrec stats FILE.srd`: describe a dataset.
 *
 * Loads the dataset (mmap), computes everything in one call (data/stats.h) and prints
 * either an aligned text report (thousands separators, percentages, a small text
 * histogram of the 1-10 rating view) or one JSON object (--json, built with jansson).
 * --plot DIR also draws the origin's two charts as SVG (report/svg.h):
 *   plays_per_pair.svg  pairs by play count, bins 1..99 and "100+", on a log axis,
 *                       since half of all pairs are played once and the tail spans
 *                       four decades;
 *   ratings.svg         the 1-10 rating view (play count capped at 10), or for a
 *                       ratings dataset the histogram of its rating values.
 * Charts are written atomically (sr_svg_save); DIR is created if missing. Charts are
 * written before anything is printed, so a failure leaves no half report on stdout.
 *
 * Exit codes: 0 ok; 1 usage; a load, compute or write failure prints the error and
 * exits with sr_err_exit_code (2 bad or corrupt file, 3 I/O, 4 out of memory).
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_eval.h"
#include "data/dataset.h"
#include "data/stats.h"
#include "report/svg.h"
#include "util/mem.h"

#define CMD "stats"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec stats [OPTIONS] FILE.srd\n"
               "\n"
               "Describes a dataset: counts of listens, users, artists, songs and (user, song)\n"
               "pairs; the time range; how often a pair is played (share played once, twice,\n"
               "3-9 and 10+ times, mean, median, max and percentiles); plays per user and\n"
               "listeners per song; the 1-10 rating view (play count capped at 10), or for a\n"
               "ratings dataset the rating histogram; and the top artists and songs by plays and\n"
               "by listeners.\n"
               "\n"
               "options:\n"
               "  --top N      entries in each top list (default 10; 0 = none)\n"
               "  --json       print one JSON object instead of the text report\n"
               "  --plot DIR   also write DIR/plays_per_pair.svg and DIR/ratings.svg\n"
               "               (a ratings dataset gets only ratings.svg); DIR is created\n"
               "  -h, --help   print this help and exit\n"
               "\n"
               "exit codes: 0 ok, 1 usage, 2 bad or corrupt file, 3 I/O error, 4 out of memory\n");
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "songrec " CMD ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: songrec stats [--top N] [--json] [--plot DIR] FILE.srd\n"
                    "'songrec stats --help' describes the options.\n");
    return 1;
}

/* ---- formatting helpers ----------------------------------------------------------- */

/* 1234567 -> "1,234,567" into buf (at least 32 bytes). */
static const char *thousands(uint64_t v, char *buf) {
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRIu64, v);
    size_t nd = strlen(digits), k = 0;
    for (size_t i = 0; i < nd; i++) {
        if (i && (nd - i) % 3 == 0) buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = 0;
    return buf;
}

/* A non-negative real into buf (at least 48 bytes): whole numbers with separators, else
 * two decimals. */
static const char *number(double v, char *buf) {
    if (!isfinite(v) || v < 0 || v >= 1.8e19) {
        snprintf(buf, 48, "%g", v);
        return buf;
    }
    if (v == floor(v) && v >= 0 && v < 1.8e19) return thousands((uint64_t)v, buf);
    double whole = floor(v);
    char w[32];
    thousands((uint64_t)whole, w);
    int cents = (int)llround((v - whole) * 100);
    if (cents == 100) thousands((uint64_t)whole + 1, w), cents = 0;
    snprintf(buf, 48, "%s.%02d", w, cents);
    return buf;
}

static double share(uint64_t part, uint64_t whole) {
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* "51.2%", with more digits for small shares so that they do not read as zero. */
static const char *percent(uint64_t part, uint64_t whole, char *buf, size_t cap) {
    double p = share(part, whole);
    snprintf(buf, cap, p > 0 && p < 0.1 ? "%.3f%%" : "%.1f%%", p);
    return buf;
}

static const char *iso_time(int64_t ts, char *buf, size_t cap) {
    time_t t = (time_t)ts;
    struct tm tm;
    if (!ts || !gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, cap, "unknown");
    return buf;
}

/* Writes a catalog string, replacing control characters so a name cannot drive the
 * terminal. */
static void put_name(FILE *f, sr_str s) {
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
}

static void rule_bar(FILE *f, uint64_t v, uint64_t max, int width) {
    int k = max ? (int)llround((double)v / (double)max * width) : 0;
    if (v && !k) k = 1;
    for (int i = 0; i < k; i++) fputc('#', f);
}

/* The name of rating bin i ("4.5" or "1-15.9"); returns its length. */
static int bin_name(const sr_stats *st, uint32_t i, char *buf, size_t cap) {
    const sr_stats_bin *bin = &st->rating_bins[i];
    if (st->rating_bins_exact) return snprintf(buf, cap, "%g", bin->lo);
    return snprintf(buf, cap, "%.3g-%.3g", bin->lo, bin->hi);
}

/* ---- text report ------------------------------------------------------------------ */

static void print_summary_row(const char *what, const sr_stats_summary *s) {
    char a[48], b[48], c[48], d[48];
    printf("  %-20s %12s %12s %14s %14s\n", what, number(s->min, a), number(s->median, b),
           number(s->mean, c), number(s->max, d));
}

/* One top list: "top 10 songs by plays" with plays, listeners and the name. A song
 * whose artist is unknown (rating datasets of items) shows its title alone. */
static void print_top(const sr_dataset *ds, const sr_stats_item *it, uint32_t n, bool songs,
                      bool by_listeners, bool plays) {
    if (!n) return;
    char a[32], b[32];
    const char *what = plays ? "plays" : "ratings", *who = plays ? "listeners" : "raters";
    if (n == 1)
        printf("\ntop %s by %s\n", songs ? "song" : "artist", by_listeners ? who : what);
    else
        printf("\ntop %u %s by %s\n", n, songs ? "songs" : "artists", by_listeners ? who : what);
    printf("  %4s %12s %10s  %s\n", "#", what, who, songs ? "artist - track" : "artist");
    for (uint32_t i = 0; i < n; i++) {
        printf("  %4u %12s %10s  ", i + 1, thousands(it[i].listens, a),
               thousands(it[i].listeners, b));
        if (songs) {
            sr_str artist = sr_dataset_artist(ds, ds->song_artist[it[i].id]);
            if (artist.n) {
                put_name(stdout, artist);
                fputs(" - ", stdout);
            }
            put_name(stdout, sr_dataset_track(ds, it[i].id));
        } else {
            sr_str artist = sr_dataset_artist(ds, it[i].id);
            if (artist.n)
                put_name(stdout, artist);
            else
                fputs("(unknown artist)", stdout);
        }
        fputc('\n', stdout);
    }
}

static void print_text(const char *path, const sr_dataset *ds, const sr_stats *st, char **plots,
                       int n_plots) {
    bool plays = st->kind != SR_VALUE_RATINGS;
    char a[48], b[48], c[48];
    printf("dataset      %s (%s)\n", path, plays ? "play counts" : "ratings");
    printf("%-12s %s\n", plays ? "plays" : "ratings", thousands(st->n_listens, a));
    printf("users        %s\n", thousands(st->n_users, a));
    printf("artists      %s\n", thousands(st->n_artists, a));
    printf("songs        %s\n", thousands(st->n_songs, a));
    printf("pairs        %s (user, song) pairs, density %.4g%%\n", thousands(st->n_pairs, a),
           st->density * 100);
    if (st->ts_min || st->ts_max) {
        printf("time range   %s .. %s UTC", iso_time(st->ts_min, a, sizeof a),
               iso_time(st->ts_max, b, sizeof b));
        printf(" (%s of pairs timed)\n", percent(st->pairs_timed, st->n_pairs, c, sizeof c));
    } else {
        printf("time range   unknown\n");
    }

    if (plays && st->n_pairs) {
        uint64_t n = st->n_pairs;
        char p[32];
        printf("\nplays per pair\n");
        printf("  played once        %7s %12s pairs\n", percent(st->pairs_once, n, p, sizeof p),
               thousands(st->pairs_once, a));
        printf("  played twice       %7s %12s\n", percent(st->pairs_twice, n, p, sizeof p),
               thousands(st->pairs_twice, a));
        printf("  played 3-9 times   %7s %12s\n", percent(st->pairs_3_9, n, p, sizeof p),
               thousands(st->pairs_3_9, a));
        printf("  played 10+ times   %7s %12s\n", percent(st->pairs_10_plus, n, p, sizeof p),
               thousands(st->pairs_10_plus, a));
        if (st->plays_hist[0])
            printf("  zero or invalid    %7s %12s\n", percent(st->plays_hist[0], n, p, sizeof p),
                   thousands(st->plays_hist[0], a));
        printf("  mean %.2f, median %s, max %s\n", st->plays_per_pair.mean,
               number(st->plays_per_pair.median, a), number(st->plays_per_pair.max, b));
        printf("  percentiles        ");
        for (int i = 0; i < SR_STATS_N_PCT; i++)
            printf("%sp%g %s", i ? ", " : "", sr_stats_pct_levels[i], number(st->plays_pct[i], a));
        printf("\n");
    }

    printf("\n  %-20s %12s %12s %14s %14s\n", "distribution", "min", "median", "mean", "max");
    print_summary_row(plays ? "plays per user" : "ratings per user", &st->listens_per_user);
    if (plays) print_summary_row("songs per user", &st->songs_per_user);
    print_summary_row(plays ? "listeners per song" : "raters per song", &st->listeners_per_song);

    if (plays && st->n_pairs) {
        uint64_t max = 0, n = 0;
        for (int r = 1; r <= 10; r++) {
            if (st->rating10_hist[r] > max) max = st->rating10_hist[r];
            n += st->rating10_hist[r];
        }
        printf("\n1-10 rating view (play count capped at 10), mean %.2f\n", st->rating10_mean);
        for (int r = 1; r <= 10; r++) {
            char p[32];
            printf("  %2d%s %7s %12s  ", r, r == 10 ? "+" : " ",
                   percent(st->rating10_hist[r], n, p, sizeof p),
                   thousands(st->rating10_hist[r], a));
            rule_bar(stdout, st->rating10_hist[r], max, 40);
            fputc('\n', stdout);
        }
    }
    if (!plays && st->ratings.n) {
        const sr_stats_summary *r = &st->ratings;
        printf("\nratings: mean %.3f, std %.3f, median %g, min %g, max %g\n", r->mean,
               st->rating_std, r->median, r->min, r->max);
        uint64_t max = 0;
        for (uint32_t i = 0; i < st->n_rating_bins; i++)
            if (st->rating_bins[i].count > max) max = st->rating_bins[i].count;
        int width = 1;
        for (uint32_t i = 0; i < st->n_rating_bins; i++) {
            char v[64];
            int k = bin_name(st, i, v, sizeof v);
            if (k > width) width = k;
        }
        for (uint32_t i = 0; i < st->n_rating_bins; i++) {
            const sr_stats_bin *bin = &st->rating_bins[i];
            char v[64], p[32];
            bin_name(st, i, v, sizeof v);
            printf("  %*s %7s %12s  ", width, v, percent(bin->count, r->n, p, sizeof p),
                   thousands(bin->count, a));
            rule_bar(stdout, bin->count, max, 40);
            fputc('\n', stdout);
        }
    }

    /* A catalog without artists (items of a ratings file) has one nameless artist. */
    bool no_artists = ds->n_artists == 1 && sr_dataset_artist(ds, 0).n == 0;
    /* In a ratings dataset each pair is one rating, so a song's ratings are its raters
     * and the by-raters song list would repeat the by-ratings one. */
    if (!no_artists) {
        print_top(ds, st->top_artists_by_listens, st->n_top_artists, false, false, plays);
        print_top(ds, st->top_artists_by_listeners, st->n_top_artists, false, true, plays);
    }
    print_top(ds, st->top_songs_by_listens, st->n_top_songs, true, false, plays);
    if (plays) print_top(ds, st->top_songs_by_listeners, st->n_top_songs, true, true, plays);

    if (n_plots) {
        printf("\ncharts      ");
        for (int i = 0; i < n_plots; i++) printf(" %s", plots[i]);
        printf("\n");
    }
}

/* ---- JSON ------------------------------------------------------------------------- */

static json_t *jint(uint64_t v) {
    return json_integer((json_int_t)v);
}

/* A JSON string from catalog bytes; invalid UTF-8 bytes become '?'. */
static json_t *jstr(sr_str s) {
    json_t *j = json_stringn(s.p, s.n);
    if (j) return j;
    char *copy = sr_strndup(s.p, s.n);
    if (!copy) return NULL;
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)copy[i] >= 0x80) copy[i] = '?';
    j = json_stringn(copy, s.n);
    sr_free(copy);
    return j;
}

static json_t *jsummary(const sr_stats_summary *s) {
    return json_pack("{s:o, s:f, s:f, s:f, s:f}", "n", jint(s->n), "min", s->min, "median",
                     s->median, "mean", s->mean, "max", s->max);
}

static json_t *jtop(const sr_dataset *ds, const sr_stats_item *it, uint32_t n, bool songs) {
    json_t *arr = json_array();
    for (uint32_t i = 0; arr && i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", jint(it[i].id));
        if (songs) {
            json_object_set_new(o, "artist",
                                jstr(sr_dataset_artist(ds, ds->song_artist[it[i].id])));
            json_object_set_new(o, "track", jstr(sr_dataset_track(ds, it[i].id)));
        } else {
            json_object_set_new(o, "name", jstr(sr_dataset_artist(ds, it[i].id)));
        }
        json_object_set_new(o, "listens", jint(it[i].listens));
        json_object_set_new(o, "listeners", jint(it[i].listeners));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* ISO 8601 UTC ("2005-02-14T00:00:35Z"), or null when unknown. */
static json_t *jtime(int64_t ts) {
    char buf[32];
    time_t t = (time_t)ts;
    struct tm tm;
    if (!ts || !gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

static int print_json(const char *path, const sr_dataset *ds, const sr_stats *st, char **plots,
                      int n_plots) {
    bool plays = st->kind != SR_VALUE_RATINGS;
    json_t *o = json_object();
    if (!o) return sr_cli_fail(CMD, SR_E_NOMEM, NULL);
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "kind", json_string(plays ? "plays" : "ratings"));
    json_object_set_new(o, "listens", jint(st->n_listens));
    json_object_set_new(o, "users", jint(st->n_users));
    json_object_set_new(o, "artists", jint(st->n_artists));
    json_object_set_new(o, "songs", jint(st->n_songs));
    json_object_set_new(o, "pairs", jint(st->n_pairs));
    json_object_set_new(o, "density", json_real(st->density));
    json_object_set_new(o, "time",
                        json_pack("{s:o, s:o, s:o, s:o, s:o}", "min",
                                  st->ts_min ? json_integer(st->ts_min) : json_null(), "max",
                                  st->ts_max ? json_integer(st->ts_max) : json_null(), "min_utc",
                                  jtime(st->ts_min), "max_utc", jtime(st->ts_max), "pairs_timed",
                                  jint(st->pairs_timed)));
    if (plays) {
        json_t *pp = json_object(), *pct = json_object(), *hist = json_array(), *r10 = json_array();
        json_object_set_new(pp, "once", jint(st->pairs_once));
        json_object_set_new(pp, "twice", jint(st->pairs_twice));
        json_object_set_new(pp, "3_to_9", jint(st->pairs_3_9));
        json_object_set_new(pp, "10_plus", jint(st->pairs_10_plus));
        json_object_set_new(pp, "zero_or_invalid", jint(st->plays_hist[0]));
        json_object_set_new(pp, "share_once", json_real(share(st->pairs_once, st->n_pairs) / 100));
        json_object_set_new(pp, "min", json_real(st->plays_per_pair.min));
        json_object_set_new(pp, "median", json_real(st->plays_per_pair.median));
        json_object_set_new(pp, "mean", json_real(st->plays_per_pair.mean));
        json_object_set_new(pp, "max", json_real(st->plays_per_pair.max));
        for (int i = 0; i < SR_STATS_N_PCT; i++) {
            char key[16];
            snprintf(key, sizeof key, "p%g", sr_stats_pct_levels[i]);
            json_object_set_new(pct, key, json_real(st->plays_pct[i]));
        }
        json_object_set_new(pp, "percentiles", pct);
        for (int c = 1; c <= SR_STATS_PLAYS_CAP; c++)
            json_array_append_new(hist, jint(st->plays_hist[c]));
        json_object_set_new(pp, "histogram_1_to_99_and_100_plus", hist);
        json_object_set_new(o, "plays_per_pair", pp);
        for (int r = 1; r <= 10; r++) json_array_append_new(r10, jint(st->rating10_hist[r]));
        json_object_set_new(
            o, "rating10",
            json_pack("{s:o, s:f}", "histogram_1_to_10", r10, "mean", st->rating10_mean));
    } else {
        json_t *hist = json_array();
        for (uint32_t i = 0; i < st->n_rating_bins; i++)
            json_array_append_new(hist, json_pack("{s:f, s:f, s:o}", "lo", st->rating_bins[i].lo,
                                                  "hi", st->rating_bins[i].hi, "count",
                                                  jint(st->rating_bins[i].count)));
        json_t *r = jsummary(&st->ratings);
        json_object_set_new(r, "std", json_real(st->rating_std));
        json_object_set_new(r, "exact_values", json_boolean(st->rating_bins_exact));
        json_object_set_new(r, "histogram", hist);
        json_object_set_new(o, "ratings", r);
    }
    json_object_set_new(o, "listens_per_user", jsummary(&st->listens_per_user));
    json_object_set_new(o, "songs_per_user", jsummary(&st->songs_per_user));
    json_object_set_new(o, "listeners_per_song", jsummary(&st->listeners_per_song));
    json_object_set_new(
        o, "top",
        json_pack(
            "{s:o, s:o, s:o, s:o}", "artists_by_listens",
            jtop(ds, st->top_artists_by_listens, st->n_top_artists, false), "artists_by_listeners",
            jtop(ds, st->top_artists_by_listeners, st->n_top_artists, false), "songs_by_listens",
            jtop(ds, st->top_songs_by_listens, st->n_top_songs, true), "songs_by_listeners",
            jtop(ds, st->top_songs_by_listeners, st->n_top_songs, true)));
    json_t *jp = json_array();
    for (int i = 0; i < n_plots; i++) json_array_append_new(jp, json_string(plots[i]));
    json_object_set_new(o, "plots", jp);
    if (ds->meta_json) {
        json_t *meta = json_loads(ds->meta_json, 0, NULL);
        json_object_set_new(o, "meta", meta ? meta : jstr(sr_str_c(ds->meta_json)));
    }
    int rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (rc) return sr_cli_fail(CMD, SR_E_IO, NULL);
    fputc('\n', stdout);
    return 0;
}

/* ---- charts ----------------------------------------------------------------------- */

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = sr_malloc(n);
    if (p) snprintf(p, n, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return p;
}

static sr_err plot_plays(const sr_stats *st, const char *path, sr_diag *d) {
    enum { N = SR_STATS_PLAYS_CAP };
    double values[N];
    char names[N][8], notes[N][16];
    const char *cats[N], *labels[N];
    for (int i = 0; i < N; i++) {
        int c = i + 1;
        values[i] = (double)st->plays_hist[c];
        snprintf(names[i], sizeof names[i], c == N ? "%d+" : "%d", c);
        cats[i] = names[i];
        labels[i] = NULL;
        /* Shares on the two ends; the subtitle has the grouped shares, the log axis the
         * rest (labels on inner bins read as cumulative shares, which they are not). */
        if (c == 1 || c == N) {
            char p[16];
            snprintf(notes[i], sizeof notes[i], "%s",
                     percent(st->plays_hist[c], st->n_pairs, p, sizeof p));
            labels[i] = notes[i];
        }
    }
    char sub[300], a[48], b[48], c[48], p1[16], p2[16], p3[16], p4[16];
    uint64_t n = st->n_pairs;
    snprintf(sub, sizeof sub,
             "%s pairs; plays per pair: mean %.2f, median %s, max %s\n"
             "played once %s, twice %s, 3-9 times %s, 10+ times %s",
             thousands(n, a), st->plays_per_pair.mean, number(st->plays_per_pair.median, b),
             number(st->plays_per_pair.max, c), percent(st->pairs_once, n, p1, sizeof p1),
             percent(st->pairs_twice, n, p2, sizeof p2), percent(st->pairs_3_9, n, p3, sizeof p3),
             percent(st->pairs_10_plus, n, p4, sizeof p4));
    sr_chart_series s = {.name = "pairs", .values = values, .labels = labels};
    sr_chart ch = {.kind = SR_CHART_BARS,
                   .title = "How often one user plays one song",
                   .subtitle = sub,
                   .x_label = "plays of a song by one user (100+ = 100 or more)",
                   .y_label = "(user, song) pairs, log scale",
                   .n_points = N,
                   .categories = cats,
                   .series = &s,
                   .n_series = 1,
                   .log_values = true,
                   .width = 960,
                   .height = 480};
    return sr_svg_save(&ch, path, d);
}

static sr_err plot_ratings(const sr_stats *st, const char *path, sr_diag *d) {
    bool plays = st->kind != SR_VALUE_RATINGS;
    uint32_t n = plays ? 10 : st->n_rating_bins;
    uint64_t total = plays ? 0 : st->ratings.n;
    if (plays)
        for (int r = 1; r <= 10; r++) total += st->rating10_hist[r];
    double *values = sr_calloc(n ? n : 1, sizeof *values);
    char(*names)[40] = sr_calloc(n ? n : 1, sizeof *names);
    char(*notes)[16] = sr_calloc(n ? n : 1, sizeof *notes);
    const char **cats = sr_calloc(n ? n : 1, sizeof *cats);
    const char **labels = sr_calloc(n ? n : 1, sizeof *labels);
    sr_err e = SR_E_NOMEM;
    if (!values || !names || !notes || !cats || !labels) {
        sr_diag_set(d, e, "%s: out of memory", path);
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t count = plays ? st->rating10_hist[i + 1] : st->rating_bins[i].count;
        values[i] = (double)count;
        if (plays)
            snprintf(names[i], sizeof names[i], i == 9 ? "10+" : "%u", i + 1);
        else
            bin_name(st, i, names[i], sizeof names[i]);
        cats[i] = names[i];
        percent(count, total, notes[i], sizeof notes[i]);
        labels[i] = notes[i];
    }
    char sub[200], a[32];
    if (plays)
        snprintf(sub, sizeof sub, "rating = play count capped at 10; %s pairs, mean %.2f",
                 thousands(total, a), st->rating10_mean);
    else
        snprintf(sub, sizeof sub, "%s ratings, mean %.2f, standard deviation %.2f",
                 thousands(total, a), st->ratings.mean, st->rating_std);
    sr_chart_series s = {.name = plays ? "pairs" : "ratings", .values = values, .labels = labels};
    sr_chart ch = {.kind = SR_CHART_BARS,
                   .title = plays ? "Ratings 1-10 from play counts" : "Ratings",
                   .subtitle = sub,
                   .x_label = plays ? "rating (10+ = played 10 or more times)" : "rating",
                   .y_label = plays ? "(user, song) pairs" : "ratings",
                   .n_points = n,
                   .categories = cats,
                   .series = &s,
                   .n_series = 1,
                   .width = 720,
                   .height = 420};
    e = sr_svg_save(&ch, path, d);
done:
    sr_free(values);
    sr_free(names);
    sr_free(notes);
    sr_free(cats);
    sr_free(labels);
    return e;
}

/* ---- the command ------------------------------------------------------------------- */

int sr_cmd_stats(int argc, char **argv) {
    const char *path = NULL, *plot_dir = NULL;
    uint64_t top = 10;
    bool json = false, only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        if (!only_files && arg[0] == '-' && arg[1]) {
            if (!strcmp(arg, "--")) {
                only_files = true;
                continue;
            }
            if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
                usage(stdout);
                return 0;
            }
            if (!strcmp(arg, "--json")) {
                json = true;
                continue;
            }
            const char *eq = strchr(arg, '=');
            size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
            bool is_top = name_len == 5 && !strncmp(arg, "--top", 5);
            bool is_plot = name_len == 6 && !strncmp(arg, "--plot", 6);
            if (!is_top && !is_plot) return usage_error("unknown option '%s'", arg);
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return usage_error("option '%s' needs a value", arg);
            if (is_top) {
                if (!sr_cli_parse_u64(val, &top) || top > UINT32_MAX)
                    return usage_error("--top wants a whole number, not '%s'", val);
            } else {
                if (!*val) return usage_error("--plot wants a directory%s", "");
                plot_dir = val;
            }
            continue;
        }
        if (path) return usage_error("one dataset file at a time ('%s' is extra)", arg);
        path = arg;
    }
    if (!path) return usage_error("missing the dataset file (FILE.srd)%s", "");

    sr_diag d = {{0}};
    sr_dataset *ds = NULL;
    sr_stats st;
    memset(&st, 0, sizeof st);
    char *plots[2] = {NULL, NULL};
    int n_plots = 0, rc = 0;
    sr_err e = sr_dataset_load(path, &ds, &d);
    if (e) return sr_cli_fail(CMD, e, &d);
    if ((e = sr_stats_compute(ds, (uint32_t)top, &st, &d))) {
        rc = sr_cli_fail(CMD, e, &d);
        goto done;
    }
    if (plot_dir) {
        if ((e = sr_cli_make_dirs(plot_dir, &d))) {
            rc = sr_cli_fail(CMD, e, &d);
            goto done;
        }
        if (st.kind != SR_VALUE_RATINGS) {
            if (!(plots[n_plots] = join_path(plot_dir, "plays_per_pair.svg")) ||
                (e = plot_plays(&st, plots[n_plots++], &d))) {
                rc = sr_cli_fail(CMD, e ? e : SR_E_NOMEM, &d);
                goto done;
            }
        }
        if (!(plots[n_plots] = join_path(plot_dir, "ratings.svg")) ||
            (e = plot_ratings(&st, plots[n_plots++], &d))) {
            rc = sr_cli_fail(CMD, e ? e : SR_E_NOMEM, &d);
            goto done;
        }
    }
    if (json)
        rc = print_json(path, ds, &st, plots, n_plots);
    else
        print_text(path, ds, &st, plots, n_plots);
    if (!rc && (fflush(stdout) || ferror(stdout))) rc = sr_cli_fail(CMD, SR_E_IO, NULL);
done:
    for (int i = 0; i < 2; i++) sr_free(plots[i]);
    sr_stats_deinit(&st);
    sr_dataset_free(ds);
    return rc;
}

/* songrec generate: write a realistic synthetic listening history (src/gen).
 *
 * Options come from one table that drives parsing and --help (with defaults), so the
 * two cannot drift. The output format follows the file name (.jsonl, .jsonl.zst,
 * .csv, .csv.zst; "-" is JSONL on standard output) unless --format says otherwise.
 * Files are written atomically by sr_gen_write_file. A one-line summary goes to
 * stderr at the end; a progress bar too when stderr is a terminal.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "gen/generate.h"
#include "util/str.h"

typedef enum opt_id {
    O_OUTPUT,
    O_USERS,
    O_SONGS,
    O_LISTENS,
    O_ARTISTS,
    O_GENRES,
    O_SEED,
    O_FORMAT,
    O_SINCE,
    O_UNTIL,
    O_ZSTD_LEVEL,
    O_QUIET,
    O_JSON,
    O_HELP
} opt_id;

typedef enum opt_kind { OPT_COUNT, OPT_DAY, OPT_STR, OPT_FLAG } opt_kind;

typedef struct opt {
    opt_id id;
    const char *name; /* long name without dashes */
    char short_name;
    opt_kind kind;
    const char *arg, *def, *help;
} opt;

static const opt opts[] = {
    {O_OUTPUT, "output", 'o', OPT_STR, "FILE", NULL,
     "output file: .jsonl, .jsonl.zst, .csv or .csv.zst; - for JSONL on stdout (required)"},
    {O_USERS, "users", 0, OPT_COUNT, "N", "1000", "number of users"},
    {O_SONGS, "songs", 0, OPT_COUNT, "N", "50k", "number of songs in the catalog"},
    {O_LISTENS, "listens", 0, OPT_COUNT, "N", "1M", "number of listens written (exactly)"},
    {O_ARTISTS, "artists", 0, OPT_COUNT, "N", "songs/8", "number of artists"},
    {O_GENRES, "genres", 0, OPT_COUNT, "N", "20", "number of genres"},
    {O_SEED, "seed", 0, OPT_COUNT, "S", "42",
     "random seed; same options and seed give the same bytes"},
    {O_FORMAT, "format", 0, OPT_STR, "FMT", "from FILE",
     "jsonl (ListenBrainz dump), csv (BigQuery export) or csv3 (user,artist,track)"},
    {O_SINCE, "since", 0, OPT_DAY, "YYYY-MM-DD", "2005-01-01", "first day of listening (UTC)"},
    {O_UNTIL, "until", 0, OPT_DAY, "YYYY-MM-DD", "2018-12-31",
     "last day of listening (UTC, inclusive)"},
    {O_ZSTD_LEVEL, "zstd-level", 0, OPT_COUNT, "N", "3",
     "zstd compression level for .zst outputs (1-19)"},
    {O_QUIET, "quiet", 'q', OPT_FLAG, NULL, NULL, "no progress bar or summary"},
    {O_JSON, "json", 0, OPT_FLAG, NULL, NULL, "print the summary as JSON on stdout"},
    {O_HELP, "help", 'h', OPT_FLAG, NULL, NULL, "show this help and exit"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static void usage(FILE *f) {
    fprintf(f, "usage: songrec generate -o FILE [OPTIONS]\n\n"
               "Writes a synthetic listening history: genres, artists and songs with\n"
               "Zipf popularity, users with 1-3 genre tastes and heavy-tailed activity,\n"
               "repeat plays shaped like real data. Deterministic for a given seed.\n"
               "Numbers accept k, M, G suffixes (10k, 1M, 37.8M).\n\noptions:\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *o = &opts[i];
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        fprintf(f, "  %-28s %s", left, o->help);
        if (o->def) fprintf(f, " [%s]", o->def);
        fputc('\n', f);
    }
    fprintf(f, "\nexit codes: 0 ok, 1 usage, 2 bad input, 3 I/O error (e.g. disk full), "
               "4 out of memory\n");
}

static int bad_usage(const char *fmt, const char *what) {
    fprintf(stderr, "songrec generate: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nTry 'songrec generate --help'.\n");
    return 1;
}

/* A count: what sr_cli_parse_u64 takes (10k, 1M) or a decimal with a suffix (37.8M)
 * that comes out whole. */
static bool parse_count(const char *s, uint64_t *out) {
    if (sr_cli_parse_u64(s, out)) return true;
    size_t n = strlen(s);
    if (n < 2 || n > 60 || s[0] == '-') return false;
    char suffix = s[n - 1];
    double mult = suffix == 'k' || suffix == 'K'   ? 1e3
                  : suffix == 'M' || suffix == 'm' ? 1e6
                  : suffix == 'G' || suffix == 'g' ? 1e9
                                                   : 0;
    char num[64];
    double v;
    memcpy(num, s, n - 1);
    num[n - 1] = 0;
    if (!mult || !sr_cli_parse_double(num, &v) || v < 0) return false;
    double x = nearbyint(v * mult);
    if (x > 1.8e19 || fabs(x - v * mult) > 1e-6 * mult) return false;
    *out = (uint64_t)x;
    return true;
}

static const opt *find_opt(const char *a, const char **val) {
    *val = NULL;
    if (a[0] == '-' && a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        for (size_t k = 0; k < N_OPTS; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, a + 2, len)) {
                if (eq) *val = eq + 1;
                return &opts[k];
            }
    } else if (a[0] == '-' && a[1] && !a[2]) {
        for (size_t k = 0; k < N_OPTS; k++)
            if (opts[k].short_name == a[1]) return &opts[k];
    }
    return NULL;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int sr_cmd_generate(int argc, char **argv) {
    sr_gen_params p;
    sr_gen_params_default(&p);
    const char *out = NULL, *format = NULL;
    uint64_t level = 3;
    bool quiet = false, json = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        const opt *o = find_opt(a, &val);
        if (!o)
            return bad_usage(a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
        if (o->kind == OPT_FLAG) {
            if (val) return bad_usage("option '%s' takes no value", a);
            if (o->id == O_HELP) {
                usage(stdout);
                return 0;
            }
            if (o->id == O_JSON)
                json = true;
            else
                quiet = true;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) return bad_usage("option '%s' needs a value", a);
            val = argv[++i];
        }
        uint64_t v = 0;
        int64_t day = 0;
        if (o->kind == OPT_COUNT && !parse_count(val, &v)) return bad_usage("bad number '%s'", val);
        if ((o->id == O_ARTISTS || o->id == O_GENRES || o->id == O_USERS || o->id == O_SONGS) &&
            v == 0)
            return bad_usage("--%s must be at least 1", o->name);
        if (o->kind == OPT_DAY && sr_gen_parse_day(val, &day))
            return bad_usage("bad date '%s' (want YYYY-MM-DD)", val);
        switch (o->id) {
        case O_OUTPUT:
            out = val;
            break;
        case O_FORMAT:
            format = val;
            break;
        case O_USERS:
            p.n_users = v;
            break;
        case O_SONGS:
            p.n_songs = v;
            break;
        case O_LISTENS:
            p.n_listens = v;
            break;
        case O_ARTISTS:
            p.n_artists = v;
            break;
        case O_GENRES:
            p.n_genres = v;
            break;
        case O_SEED:
            p.seed = v;
            break;
        case O_ZSTD_LEVEL:
            level = v;
            break;
        case O_SINCE:
            p.since = day;
            break;
        case O_UNTIL:
            p.until = day + 86400;
            break;
        case O_QUIET:
        case O_JSON:
        case O_HELP:
            break;
        }
    }
    if (!out) return bad_usage("%s", "missing -o FILE");
    if (level < 1 || level > 19) return bad_usage("%s", "--zstd-level must be between 1 and 19");
    if (p.since >= p.until) return bad_usage("%s", "--since must not be after --until");

    sr_gen_output o = {
        .format = SR_GEN_JSONL, .zstd = sr_cstr_ends_with(out, ".zst"), .zstd_level = (int)level};
    if (format) {
        if (!strcmp(format, "jsonl"))
            o.format = SR_GEN_JSONL;
        else if (!strcmp(format, "csv"))
            o.format = SR_GEN_CSV;
        else if (!strcmp(format, "csv3"))
            o.format = SR_GEN_CSV3;
        else
            return bad_usage("unknown format '%s' (want jsonl, csv or csv3)", format);
    } else if (sr_cstr_ends_with(out, ".csv") || sr_cstr_ends_with(out, ".csv.zst")) {
        o.format = SR_GEN_CSV;
    } else if (!(sr_cstr_ends_with(out, ".jsonl") || sr_cstr_ends_with(out, ".jsonl.zst") ||
                 !strcmp(out, "-"))) {
        return bad_usage("cannot tell the format of '%s': name it .jsonl, .jsonl.zst, .csv or "
                         ".csv.zst, or pass --format",
                         out);
    }
    if (!strcmp(out, "-")) o.zstd = false;

    sr_cli_log cl;
    sr_cli_log_init(&cl, quiet);
    sr_diag d = {{0}};
    double t0 = now_seconds();
    sr_gen *g = NULL;
    sr_err e = sr_gen_new(&p, &cl.log, &g, &d);
    if (e) return sr_cli_fail("generate", e, &d);
    e = sr_gen_write_file(g, out, &o, &cl.log, &d);
    if (e) {
        sr_gen_free(g);
        return sr_cli_fail("generate", e, &d);
    }
    sr_gen_stats st;
    sr_gen_get_stats(g, &st);
    double secs = now_seconds() - t0;
    if (json && strcmp(out, "-")) {
        printf("{\"output\": ");
        sr_cli_json_string(stdout, out, strlen(out));
        printf(", \"listens\": %llu, \"users\": %llu, \"songs_used\": %llu, "
               "\"songs\": %u, \"bytes\": %llu, \"seconds\": %.3f}\n",
               (unsigned long long)st.n_listens, (unsigned long long)st.n_users,
               (unsigned long long)st.n_songs, sr_gen_n_songs(g), (unsigned long long)st.bytes,
               secs);
    } else if (!quiet)
        fprintf(stderr,
                "songrec generate: %llu listens, %llu users, %llu of %u songs, %.1f MB to %s in "
                "%.2f s (%.2fM listens/s)\n",
                (unsigned long long)st.n_listens, (unsigned long long)st.n_users,
                (unsigned long long)st.n_songs, sr_gen_n_songs(g), (double)st.bytes / 1e6,
                strcmp(out, "-") ? out : "stdout", secs,
                secs > 0 ? (double)st.n_listens / secs / 1e6 : 0.0);
    sr_gen_free(g);
    return 0;
}

/* songrec ingest: listening histories in, one .srd dataset out.
 *
 * Reads every input (formats detected per file, or --format), validates and counts,
 * builds the dataset (dedupe, aggregate, filters) and writes it atomically. Prints a
 * summary (or --json) with the skip and repair counts by reason. Exit codes: 0 done
 * (even with skipped records), 1 usage, 2 bad input under --strict / --max-errors or
 * nothing usable, 3 I/O.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_eval.h"
#include "data/builder.h"
#include "ingest/csv.h"
#include "ingest/ingest.h"
#include "ingest/pipe.h"
#include "util/timeparse.h"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec ingest [OPTIONS] FILE... -o OUT.srd\n\n"
               "Reads listening histories (ListenBrainz dumps and exports, CSV/TSV, Last.fm,\n"
               "Spotify, play-count triplets, rating triples; plain, gz/xz/zst, tar or zip;\n"
               "globs; '-' for stdin) into a dataset file.\n\n"
               "input:\n"
               "  --format NAME            force the format (default: detected per file)\n"
               "  --list-formats           list the formats and exit\n"
               "  --user NAME              user for records without one (default: from the\n"
               "                           file name: <user>_lb-DATE.json, <user>.csv, ...)\n"
               "  --columns MAP            CSV column names, e.g. user=U,artist=A,track=T,time=TS\n"
               "  --min-ms-played N        Spotify: shorter plays are skipped (default 30000)\n"
               "  --scale LO..HI           rating data: the rating scale, e.g. 1..5 (default:\n"
               "                           the data's own range); ratings outside are skipped\n"
               "dataset:\n"
               "  -o, --output FILE        the .srd file to write (required)\n"
               "  --song-key name|mbid     a song is artist+track (default) or recording MBID\n"
               "  --since DATE, --until DATE  keep listens in [since, until)\n"
               "  --min-user-listens N     drop users with fewer plays\n"
               "  --min-song-listeners N   drop songs with fewer distinct listeners\n"
               "  --top-songs N            keep only the N most-played songs\n"
               "  --keep-duplicates        keep exact duplicate listens (same user, song, time)\n"
               "  --keep-listens           also keep each listen's time (8 bytes a listen), for\n"
               "                           models of listening sessions (--algo sessions)\n"
               "errors:\n"
               "  --strict                 stop at the first bad record (exit code 2)\n"
               "  --max-errors N           stop after N bad records (exit code 2)\n"
               "output:\n"
               "  --json                   print the summary as JSON on stdout\n"
               "  -q, --quiet              no progress and no summary\n"
               "  -h, --help               this help\n");
}

static void list_formats(void) {
    for (size_t i = 0; i < sr_n_formats; i++)
        printf("  %-18s %s\n", sr_formats[i]->name, sr_formats[i]->summary);
}

/* "LO..HI": two finite numbers, LO < HI (strtod alone would read "1." of "1..5"). */
static bool parse_scale(const char *s, double *lo, double *hi) {
    const char *dots = strstr(s, "..");
    char head[64];
    if (!dots || dots == s || (size_t)(dots - s) >= sizeof head) return false;
    memcpy(head, s, (size_t)(dots - s));
    head[dots - s] = 0;
    char *end;
    const double a = strtod(head, &end);
    if (*end) return false;
    const double b = strtod(dots + 2, &end);
    if (end == dots + 2 || *end || !isfinite(a) || !isfinite(b) || !(a < b)) return false;
    *lo = a, *hi = b;
    return true;
}

static char *meta_json(int n, char **paths, const sr_ingest_opts *io, const sr_build_opts *bo,
                       const sr_read_stats *rs, const sr_build_stats *bs) {
    json_t *m = json_object();
    json_t *src = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(src, json_string(paths[i]));
    json_object_set_new(m, "sources", src);
    json_object_set_new(m, "created", json_integer((json_int_t)time(NULL)));
    json_object_set_new(m, "songrec", json_string("0.1.0"));
    json_t *opt = json_object();
    if (io->format) json_object_set_new(opt, "format", json_string(io->format));
    json_object_set_new(opt, "song_key", json_string(bo->song_key ? "mbid" : "name"));
    if (bo->since) json_object_set_new(opt, "since", json_integer(bo->since));
    if (bo->until) json_object_set_new(opt, "until", json_integer(bo->until));
    json_object_set_new(opt, "top_songs", json_integer((json_int_t)bo->top_songs));
    json_object_set_new(opt, "min_song_listeners",
                        json_integer((json_int_t)bo->min_song_listeners));
    json_object_set_new(opt, "min_user_listens", json_integer((json_int_t)bo->min_user_listens));
    json_object_set_new(opt, "keep_duplicates", json_boolean(bo->keep_duplicates));
    json_object_set_new(opt, "keep_listens", json_boolean(bo->keep_listens));
    if (io->read.scale_lo < io->read.scale_hi)
        json_object_set_new(opt, "scale", json_pack("[f,f]", io->read.scale_lo, io->read.scale_hi));
    json_object_set_new(m, "options", opt);
    json_t *sk = json_object();
    for (int i = 0; i < SR_SKIP__COUNT; i++)
        if (rs->skipped[i])
            json_object_set_new(sk, sr_skip_name(i), json_integer((json_int_t)rs->skipped[i]));
    json_object_set_new(m, "skipped", sk);
    json_t *fx = json_object();
    for (int i = 0; i < SR_FIX__COUNT; i++)
        if (rs->fixed[i])
            json_object_set_new(fx, sr_fix_name(i), json_integer((json_int_t)rs->fixed[i]));
    json_object_set_new(m, "fixed", fx);
    json_object_set_new(m, "records", json_integer((json_int_t)rs->records));
    json_object_set_new(m, "duplicates", json_integer((json_int_t)bs->duplicates));
    json_object_set_new(m, "out_of_window", json_integer((json_int_t)bs->out_of_window));
    json_object_set_new(m, "filtered_listens", json_integer((json_int_t)bs->filtered_listens));
    if (bo->keep_listens) json_object_set_new(m, "events", json_integer((json_int_t)bs->events));
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return s;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int sr_cmd_ingest(int argc, char **argv) {
    enum {
        O_FORMAT = 256,
        O_LIST,
        O_USER,
        O_COLUMNS,
        O_MINMS,
        O_SONGKEY,
        O_SINCE,
        O_UNTIL,
        O_MINUSER,
        O_MINSONG,
        O_TOP,
        O_KEEPDUP,
        O_KEEPLISTENS,
        O_SCALE,
        O_STRICT,
        O_MAXERR,
        O_JSON
    };
    static const struct option opts[] = {{"format", required_argument, 0, O_FORMAT},
                                         {"list-formats", no_argument, 0, O_LIST},
                                         {"user", required_argument, 0, O_USER},
                                         {"columns", required_argument, 0, O_COLUMNS},
                                         {"min-ms-played", required_argument, 0, O_MINMS},
                                         {"output", required_argument, 0, 'o'},
                                         {"song-key", required_argument, 0, O_SONGKEY},
                                         {"since", required_argument, 0, O_SINCE},
                                         {"until", required_argument, 0, O_UNTIL},
                                         {"min-user-listens", required_argument, 0, O_MINUSER},
                                         {"min-song-listeners", required_argument, 0, O_MINSONG},
                                         {"top-songs", required_argument, 0, O_TOP},
                                         {"keep-duplicates", no_argument, 0, O_KEEPDUP},
                                         {"keep-listens", no_argument, 0, O_KEEPLISTENS},
                                         {"scale", required_argument, 0, O_SCALE},
                                         {"strict", no_argument, 0, O_STRICT},
                                         {"max-errors", required_argument, 0, O_MAXERR},
                                         {"json", no_argument, 0, O_JSON},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    sr_ingest_opts io = {.read = {.min_ms_played = 30000}};
    sr_build_opts bo = {0};
    const char *out = NULL;
    const char *since = NULL, *until = NULL; /* the dates as given, for messages */
    bool json = false, quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        uint64_t v;
        int64_t t;
        switch (c) {
        case O_FORMAT:
            io.format = optarg;
            break;
        case O_LIST:
            list_formats();
            return 0;
        case O_USER:
            io.read.user = optarg;
            break;
        case O_COLUMNS:
            io.read.columns = optarg;
            break;
        case O_MINMS:
            if (!sr_cli_parse_u64(optarg, &v)) goto bad;
            io.read.min_ms_played = (int64_t)v;
            break;
        case 'o':
            out = optarg;
            break;
        case O_SONGKEY:
            if (!strcmp(optarg, "name"))
                bo.song_key = SR_SONG_KEY_NAME;
            else if (!strcmp(optarg, "mbid"))
                bo.song_key = SR_SONG_KEY_MBID;
            else
                goto bad;
            break;
        case O_SINCE:
        case O_UNTIL: {
            char why[256];
            if (!sr_cli_parse_moment(c == O_SINCE ? "--since" : "--until", optarg, &t, why,
                                     sizeof why)) {
                fprintf(stderr, "songrec ingest: %s\n", why);
                return 1;
            }
            if (c == O_SINCE)
                bo.since = t, since = optarg;
            else
                bo.until = t, until = optarg;
            break;
        }
        case O_MINUSER:
            if (!sr_cli_parse_u64(optarg, &bo.min_user_listens)) goto bad;
            break;
        case O_MINSONG:
            if (!sr_cli_parse_u64(optarg, &bo.min_song_listeners)) goto bad;
            break;
        case O_TOP:
            if (!sr_cli_parse_u64(optarg, &bo.top_songs)) goto bad;
            break;
        case O_KEEPDUP:
            bo.keep_duplicates = true;
            break;
        case O_KEEPLISTENS:
            bo.keep_listens = true;
            break;
        case O_SCALE:
            if (!parse_scale(optarg, &io.read.scale_lo, &io.read.scale_hi)) goto bad;
            break;
        case O_STRICT:
            io.read.strict = true;
            break;
        case O_MAXERR:
            if (!sr_cli_parse_u64(optarg, &io.read.max_errors)) goto bad;
            break;
        case O_JSON:
            json = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
        continue;
    bad:
        return sr_cli_bad_value("ingest", opts, c, optarg);
    }
    if (!out) {
        fprintf(stderr, "songrec ingest: no output file (-o OUT.srd)\n");
        usage(stderr);
        return 1;
    }
    if (optind >= argc) {
        fprintf(stderr, "songrec ingest: no input files\n");
        usage(stderr);
        return 1;
    }
    /* Listens are kept in [since, until): an empty window would read every input only
     * to end with "no listens left". */
    if (since && until && bo.since >= bo.until) {
        fprintf(stderr,
                "songrec ingest: --since %s is not before --until %s: no listen would be kept "
                "(the window is [since, until))\n",
                since, until);
        return 1;
    }
    sr_diag cd = {{0}};
    if (sr_csv_columns_check(io.read.columns, &cd)) {
        fprintf(stderr, "songrec ingest: %s\n", cd.msg);
        return 1;
    }
    if (io.format && !sr_format_find(io.format)) {
        fprintf(stderr, "songrec ingest: unknown format '%s'; known formats:\n", io.format);
        list_formats();
        return 1;
    }

    sr_cli_log cl;
    sr_cli_log_init(&cl, quiet);
    io.read.log = &cl.log;
    bo.log = &cl.log;
    sr_builder *b;
    sr_err e = sr_builder_new(&bo, &b);
    if (e) return sr_cli_fail("ingest", e, NULL);
    sr_read_stats rs = {0};
    sr_diag d = {{0}};
    double t0 = now_s();
    /* Readers on this thread, the builder on a worker (ingest/pipe.h). */
    sr_pipe *pipe = NULL;
    e = sr_pipe_new(sr_builder_add_batch, b, &pipe);
    if (!e)
        e = sr_ingest_paths(argv + optind, (size_t)(argc - optind), &io, sr_pipe_accept, pipe, &rs,
                            &d);
    sr_err pe = pipe ? sr_pipe_finish(pipe) : SR_OK;
    sr_pipe_free(pipe);
    if (!e && pe)
        e = sr_diag_set(&d, pe, "%s",
                        pe == SR_E_INPUT ? "cannot mix play counts and ratings in one dataset"
                                         : sr_err_message(pe));
    if (e) {
        sr_builder_free(b);
        return sr_cli_fail("ingest", e, &d);
    }
    double t_read = now_s() - t0;
    sr_build_stats bs = {0};
    char *meta = meta_json(argc - optind, argv + optind, &io, &bo, &rs, &bs);
    sr_dataset *ds = NULL;
    e = sr_builder_finish(b, meta, &ds, &bs, &d);
    sr_builder_free(b);
    free(meta);
    if (e) return sr_cli_fail("ingest", e, &d);
    if (io.read.scale_lo < io.read.scale_hi) {
        if (ds->kind != SR_VALUE_RATINGS) {
            sr_dataset_free(ds);
            fprintf(stderr, "songrec ingest: --scale is for rating data; these are play counts\n");
            return 1;
        }
        ds->scale_lo = io.read.scale_lo, ds->scale_hi = io.read.scale_hi;
    }
    /* Store the final build counts too. */
    meta = meta_json(argc - optind, argv + optind, &io, &bo, &rs, &bs);
    if (meta) {
        free(ds->meta_json);
        ds->meta_json = meta;
    }
    e = sr_dataset_save(ds, out, &d);
    double t_all = now_s() - t0;
    if (e) {
        sr_dataset_free(ds);
        return sr_cli_fail("ingest", e, &d);
    }
    if (json) {
        json_t *j = json_loads(ds->meta_json, 0, NULL);
        if (!j) j = json_object();
        json_object_set_new(j, "output", json_string(out));
        json_object_set_new(j, "accepted", json_integer((json_int_t)rs.accepted));
        json_object_set_new(j, "listens", json_integer((json_int_t)ds->n_listens));
        json_object_set_new(j, "users", json_integer(ds->n_users));
        json_object_set_new(j, "artists", json_integer(ds->n_artists));
        json_object_set_new(j, "songs", json_integer(ds->n_songs));
        json_object_set_new(j, "pairs", json_integer((json_int_t)ds->n_pairs));
        if (ds->event_ptr) json_object_set_new(j, "events", json_integer((json_int_t)ds->n_events));
        json_object_set_new(j, "seconds", json_real(t_all));
        json_object_set_new(j, "read_seconds", json_real(t_read));
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(j);
    } else if (!quiet) {
        fprintf(stderr,
                "songrec: read %" PRIu64 " records from %" PRIu64 " file(s): %" PRIu64
                " accepted, %" PRIu64 " skipped\n",
                rs.records, rs.files, rs.accepted, rs.skipped_total);
        for (int i = 0; i < SR_SKIP__COUNT; i++)
            if (rs.skipped[i])
                fprintf(stderr, "  skipped %-18s %12" PRIu64 "  (%s)\n", sr_skip_name(i),
                        rs.skipped[i], sr_skip_words(i));
        for (int i = 0; i < SR_FIX__COUNT; i++)
            if (rs.fixed[i])
                fprintf(stderr, "  fixed   %-18s %12" PRIu64 "  (%s)\n", sr_fix_name(i),
                        rs.fixed[i], sr_fix_words(i));
        if (bs.duplicates)
            fprintf(stderr, "  dropped %" PRIu64 " exact duplicate listens\n", bs.duplicates);
        if (bs.out_of_window)
            fprintf(stderr, "  dropped %" PRIu64 " listens outside --since/--until\n",
                    bs.out_of_window);
        if (bs.filtered_pairs)
            fprintf(stderr, "  filtered out %" PRIu64 " pairs (%" PRIu64 " listens)\n",
                    bs.filtered_pairs, bs.filtered_listens);
        if (bo.keep_listens)
            fprintf(stderr, "  kept %" PRIu64 " listens with their times (events)\n", bs.events);
        fprintf(stderr,
                "songrec: wrote %s: %u users, %u artists, %u songs, %" PRIu64 " pairs, %" PRIu64
                " %s in %.2f s (%.0f records/s)\n",
                out, ds->n_users, ds->n_artists, ds->n_songs, ds->n_pairs, ds->n_listens,
                ds->kind == SR_VALUE_RATINGS ? "ratings" : "listens", t_all,
                t_all > 0 ? (double)rs.records / t_all : 0.0);
    }
    sr_dataset_free(ds);
    return 0;
}

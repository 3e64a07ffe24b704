/* songrec recommend: the top songs for a listener a trained model has never seen.
 *
 *   songrec recommend MODEL.srm --rate "Artist - Track=9" ... [--history FILE] [-n 10]
 *                     [--block-song "A - T"] [--block-artist A] [--exclude-rated-artists]
 *                     [--max-per-artist M] [--discovery D] [--format table|json|csv|jspf|xspf]
 *
 * The listener's ratings (and the plays of a listening history, mapped onto the model's
 * catalog) are folded into the model — no retraining — and every song they have not
 * rated or blocked is predicted; the n best are printed with their predicted rating, a
 * support figure, a "weak" flag and the rated songs that most support them
 * (rec/recommend.h). The export formats write a playlist (rec/export.h) to stdout or -o.
 *
 * A history that cannot be read is an error (exit 3 for a missing file, 2 when no listen
 * in it could be read); one whose listens are all of songs the model lacks gives no
 * ratings, and stderr says so. So does a list that is not personalised (no rating of a
 * song the model knows) or empty (every song rated, blocked or filtered out): exit 0.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "io/atomic.h"
#include "rec/engine.h"
#include "util/mem.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: songrec recommend MODEL.srm [--rate \"Artist - Track=R\"]... [options]\n\n"
            "Recommends songs for a new listener from their ratings, without retraining.\n\n"
            "  --rate \"A - T=R\"        a rating on the model's scale (repeatable)\n"
            "  --history FILE          a listening history (any format ingest reads): plays per\n"
            "                          song become ratings as the model's data were made\n"
            "  --history-format NAME   force the history's format\n"
            "  -n N                    how many songs (1..1000; default 10)\n"
            "  --block-song \"A - T\"    never recommend this song (repeatable)\n"
            "  --block-artist NAME     never recommend this artist (repeatable)\n"
            "  --exclude-rated-artists only artists the listener has not rated (discovery)\n"
            "  --max-per-artist M      at most M songs of one artist\n"
            "  --discovery D           -1 (familiar, popular) .. 0 (by prediction) .. 1 (new,\n"
            "                          less known)\n"
            "  --format F              table (default), json, csv, jspf or xspf\n"
            "  -o FILE                 write the output to FILE (atomically) instead of stdout\n"
            "  -h, --help              this help\n");
}

typedef struct rec_args {
    const char **rates, **block_songs, **block_artists;
    size_t n_rates, n_block_songs, n_block_artists;
} rec_args;

static int push(const char ***v, size_t *n, const char *s) {
    size_t cap = *n;
    if (sr_grow((void **)v, &cap, *n + 1, sizeof **v)) return -1;
    (*v)[(*n)++] = s;
    return 0;
}

static void print_table(const sr_engine *e, const sr_rec_item *it, size_t n) {
    const sr_catalog *c = e->cat;
    for (size_t t = 0; t < n; t++) {
        const uint32_t i = it[t].item;
        printf("%2zu. %5.2f  ", t + 1, it[t].score);
        sr_cli_song(stdout, sr_catalog_artist_name(c, sr_catalog_item_artist(c, i)),
                    sr_catalog_track_name(c, i));
        printf("%s\n", it[t].weak ? "  (weak)" : "");
        for (size_t b = 0; b < it[t].n_because; b++) {
            const uint32_t j = it[t].because[b].item;
            printf("      %s ", b ? "and" : "because you rated");
            sr_cli_song(stdout, sr_catalog_artist_name(c, sr_catalog_item_artist(c, j)),
                        sr_catalog_track_name(c, j));
            printf(" (%g), weight %+.3f\n", it[t].because[b].rating, it[t].because[b].weight);
        }
    }
}

/* What the history gave, on stderr: how many listens were read and how many of them are
 * of catalog songs, which become ratings; a history none of whose listens the catalog
 * covers says so, as it adds nothing. */
static const char *plural(unsigned long long n) {
    return n == 1 ? "" : "s";
}

static void report_history(const char *path, const sr_history_stats *hs) {
    const unsigned long long listens = hs->listens, skipped = hs->skipped;
    if (!hs->matched) {
        fprintf(stderr,
                "songrec recommend: %s: none of its %llu listen%s is of a song in the model's "
                "catalog, so it gives no ratings (%llu bad record%s skipped)\n",
                path, listens, plural(listens), skipped, plural(skipped));
        return;
    }
    fprintf(stderr,
            "songrec recommend: %s: %llu listen%s read: %llu of %zu song%s in the catalog "
            "(rated from their plays), %llu of songs not in it; %llu bad record%s skipped\n",
            path, listens, plural(listens), (unsigned long long)hs->matched, hs->songs,
            plural(hs->songs), (unsigned long long)hs->unmatched, skipped, plural(skipped));
}

int sr_cmd_recommend(int argc, char **argv) {
    enum {
        O_RATE = 256,
        O_HISTORY,
        O_HFORMAT,
        O_BSONG,
        O_BARTIST,
        O_EXCL,
        O_MAXPER,
        O_DISC,
        O_FORMAT
    };
    static const struct option opts[] = {{"rate", required_argument, 0, O_RATE},
                                         {"history", required_argument, 0, O_HISTORY},
                                         {"history-format", required_argument, 0, O_HFORMAT},
                                         {"block-song", required_argument, 0, O_BSONG},
                                         {"block-artist", required_argument, 0, O_BARTIST},
                                         {"exclude-rated-artists", no_argument, 0, O_EXCL},
                                         {"max-per-artist", required_argument, 0, O_MAXPER},
                                         {"discovery", required_argument, 0, O_DISC},
                                         {"format", required_argument, 0, O_FORMAT},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    rec_args a = {0};
    sr_rec_opts ro = {.n = 10, .n_because = 3};
    const char *history = NULL, *hformat = NULL, *format = "table", *out_path = NULL;
    uint64_t u;
    int c, rc = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hn:o:", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case O_RATE:
            ok = !push(&a.rates, &a.n_rates, optarg);
            break;
        case O_HISTORY:
            history = optarg;
            break;
        case O_HFORMAT:
            hformat = optarg;
            break;
        case O_BSONG:
            ok = !push(&a.block_songs, &a.n_block_songs, optarg);
            break;
        case O_BARTIST:
            ok = !push(&a.block_artists, &a.n_block_artists, optarg);
            break;
        case O_EXCL:
            ro.exclude_rated_artists = true;
            break;
        case O_MAXPER:
            ok = sr_cli_parse_u64(optarg, &u) && u <= UINT32_MAX;
            ro.max_per_artist = (uint32_t)u;
            break;
        case O_DISC:
            ok = sr_cli_parse_double(optarg, &ro.discovery) && ro.discovery >= -1 &&
                 ro.discovery <= 1;
            break;
        case O_FORMAT:
            format = optarg;
            break;
        case 'n':
            ok = sr_cli_parse_u64(optarg, &u) && u >= 1 && u <= SR_REC_MAX_N;
            ro.n = (size_t)u;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            ok = false;
        }
        if (!ok) {
            if (c != '?') sr_cli_bad_value("recommend", opts, c, optarg);
            usage(stderr);
            goto out;
        }
    }
    sr_export_format ef = SR_EXPORT_JSON;
    bool table = !strcmp(format, "table");
    if (optind != argc - 1 || (!table && !sr_export_format_parse(format, &ef))) {
        fprintf(stderr, "songrec recommend: need one model file and a known --format\n");
        usage(stderr);
        goto out;
    }
    sr_diag d = {{0}};
    sr_engine *e = NULL;
    sr_err err = sr_engine_open(argv[optind], &e, &d);
    sr_rec_rating *r = NULL;
    sr_history_song *hist = NULL;
    uint32_t *bs = NULL, *ba = NULL;
    size_t nr = 0, nh = 0;
    sr_rec_item *items = NULL;
    sr_buf buf = SR_BUF_INIT;
    if (err) goto fail;
    if (!e->cat) {
        err = sr_diag_set(&d, SR_E_INPUT, "%s has no song catalog", argv[optind]);
        goto fail;
    }
    if (history) {
        sr_history_stats hs;
        if ((err = sr_engine_history(e, history, hformat, &hist, &nh, &hs, &d))) goto fail;
        report_history(history, &hs);
    }
    r = sr_mallocarray(nh + a.n_rates + 1, sizeof *r);
    bs = sr_mallocarray(a.n_block_songs + 1, sizeof *bs);
    ba = sr_mallocarray(a.n_block_artists + 1, sizeof *ba);
    items = sr_mallocarray(ro.n, sizeof *items);
    if (!r || !bs || !ba || !items) {
        err = sr_diag_set(&d, SR_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t j = 0; j < nh; j++) r[nr++] = (sr_rec_rating){hist[j].item, hist[j].rating};
    for (size_t j = 0; j < a.n_rates; j++)
        if ((err = sr_engine_parse_rating(e, a.rates[j], &r[nr++], &d))) goto fail;
    for (size_t j = 0; j < a.n_block_songs; j++) {
        const char *s = a.block_songs[j];
        if ((err = sr_catalog_find_song_text(e->cat, s, strlen(s), &bs[j]))) {
            err = sr_diag_set(&d, SR_E_INPUT, "--block-song '%s': no such song", s);
            goto fail;
        }
    }
    for (size_t j = 0; j < a.n_block_artists; j++) {
        const char *s = a.block_artists[j];
        if ((err = sr_catalog_find_artist(e->cat, s, strlen(s), &ba[j]))) {
            err = sr_diag_set(&d, SR_E_INPUT, "--block-artist '%s': no such artist", s);
            goto fail;
        }
    }
    sr_rec_profile p = {r, nr, bs, a.n_block_songs, ba, a.n_block_artists};
    size_t n = 0;
    sr_rec_stats st;
    if ((err = sr_recommend(&e->rec, &p, &ro, items, &n, &st, &d))) goto fail;
    if (st.unknown)
        fprintf(stderr, "songrec recommend: %zu rated songs are not known to the model\n",
                st.unknown);
    if (!st.used)
        fprintf(stderr, "songrec recommend: no rating of a song the model knows: the list is "
                        "not personalised\n");
    if (!n)
        fprintf(stderr, "songrec recommend: no songs left to recommend: %s\n",
                st.candidate ? "none of the candidates could be ranked"
                : a.n_block_songs || a.n_block_artists || ro.exclude_rated_artists
                    ? "every song the model knows is rated, blocked or by an excluded artist"
                    : "every song the model knows is rated");
    if (table) {
        if (!out_path) {
            print_table(e, items, n);
            rc = 0;
            goto done;
        }
        ef = SR_EXPORT_CSV; /* a file: a table is CSV */
    }
    if ((err = sr_engine_export(e, ef, NULL, items, n, &buf, &d))) goto fail;
    if (out_path) {
        if ((err = sr_afile_write_all(out_path, buf.p, buf.n, &d))) goto fail;
    } else {
        fwrite(buf.p, 1, buf.n, stdout);
        if (buf.n && buf.p[buf.n - 1] != '\n') putchar('\n');
    }
    rc = 0;
    goto done;
fail:
    rc = sr_cli_fail("recommend", err, &d);
done:
    sr_buf_free(&buf);
    sr_free(items), sr_free(r), sr_free(hist), sr_free(bs), sr_free(ba);
    sr_engine_free(e);
out:
    sr_free(a.rates), sr_free(a.block_songs), sr_free(a.block_artists);
    return rc;
}

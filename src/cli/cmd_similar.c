/* songrec similar: the songs a trained model finds most like one song, or the artists
 * most like one artist.
 *
 *   songrec similar MODEL.srm "Artist - Track" [-n 10] [--json]
 *   songrec similar MODEL.srm --artist NAME [-n 10] [--json]
 *
 * Similarity is the model's own (cosine of factor vectors for the factor models, the
 * item similarity of an item-based k-NN) or the cosine of the songs' listener sets in
 * the training data (rec/recommend.h); a model with neither says so (exit 1). A song or
 * artist the model relates to no other gets an empty list and a note on stderr (exit 0).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "rec/engine.h"
#include "util/mem.h"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec similar MODEL.srm \"Artist - Track\" [-n N] [--json]\n"
               "       songrec similar MODEL.srm --artist NAME [-n N] [--json]\n\n"
               "The songs most similar to one song, or the artists most similar to one artist.\n\n"
               "  --artist NAME  similar artists instead of songs\n"
               "  -n N        how many (1..1000; default 10)\n"
               "  --json      one JSON object\n"
               "  -h, --help  this help\n");
}

static void song_json(const sr_catalog *c, uint32_t i) {
    sr_str a = sr_catalog_artist_name(c, sr_catalog_item_artist(c, i));
    sr_str t = sr_catalog_track_name(c, i);
    printf("{\"id\": %u, \"artist\": ", i);
    sr_cli_json_string(stdout, a.p, a.n);
    printf(", \"track\": ");
    sr_cli_json_string(stdout, t.p, t.n);
}

static int similar_artists(const char *model, const char *name, size_t n, bool json) {
    sr_diag d = {{0}};
    sr_engine *e = NULL;
    uint32_t *ids = sr_mallocarray(n, sizeof *ids), a = 0;
    float *sims = sr_mallocarray(n, sizeof *sims);
    size_t got = 0;
    sr_err err = !ids || !sims ? sr_diag_set(&d, SR_E_NOMEM, "out of memory")
                               : sr_engine_open(model, &e, &d);
    if (!err && !e->cat) err = sr_diag_set(&d, SR_E_INPUT, "%s has no song catalog", model);
    if (!err && sr_catalog_find_artist(e->cat, name, strlen(name), &a))
        err = sr_diag_set(&d, SR_E_INPUT, "'%s': no such artist in the model's catalog", name);
    if (!err) err = sr_rec_similar_artists(&e->rec, a, n, ids, sims, &got, &d);
    if (!err && !got)
        fprintf(stderr,
                "songrec similar: no similar artists: the model relates '%s' to no other "
                "artist\n",
                name);
    if (!err) {
        if (json) {
            sr_str an = sr_catalog_artist_name(e->cat, a);
            printf("{\"artist\": {\"id\": %u, \"name\": ", a);
            sr_cli_json_string(stdout, an.p, an.n);
            printf("}, \"similar\": [");
            for (size_t t = 0; t < got; t++) {
                sr_str s = sr_catalog_artist_name(e->cat, ids[t]);
                printf("%s{\"id\": %u, \"name\": ", t ? ", " : "", ids[t]);
                sr_cli_json_string(stdout, s.p, s.n);
                printf(", \"similarity\": %.6f}", sims[t]);
            }
            printf("]}\n");
        } else {
            for (size_t t = 0; t < got; t++) {
                sr_str s = sr_catalog_artist_name(e->cat, ids[t]);
                printf("%2zu. %6.3f  %.*s\n", t + 1, sims[t], (int)s.n, s.p);
            }
        }
    }
    sr_free(ids);
    sr_free(sims);
    sr_engine_free(e);
    return err ? sr_cli_fail("similar", err, &d) : 0;
}

int sr_cmd_similar(int argc, char **argv) {
    enum { O_JSON = 256, O_ARTIST };
    static const struct option opts[] = {{"json", no_argument, 0, O_JSON},
                                         {"artist", required_argument, 0, O_ARTIST},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *artist = NULL;
    uint64_t n = 10;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hn:", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!sr_cli_parse_u64(optarg, &n) || n < 1 || n > SR_REC_MAX_N) {
                fprintf(stderr, "songrec similar: -n wants 1..%d\n", SR_REC_MAX_N);
                return 1;
            }
            break;
        case O_JSON:
            json = true;
            break;
        case O_ARTIST:
            artist = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc - (artist ? 1 : 2)) {
        usage(stderr);
        return 1;
    }
    if (artist) return similar_artists(argv[optind], artist, (size_t)n, json);
    sr_diag d = {{0}};
    sr_engine *e = NULL;
    uint32_t *ids = sr_mallocarray((size_t)n, sizeof *ids);
    float *sims = sr_mallocarray((size_t)n, sizeof *sims);
    sr_err err = !ids || !sims ? sr_diag_set(&d, SR_E_NOMEM, "out of memory")
                               : sr_engine_open(argv[optind], &e, &d);
    uint32_t item = 0;
    size_t got = 0;
    const char *song = argv[optind + 1];
    if (!err && !e->cat) err = sr_diag_set(&d, SR_E_INPUT, "%s has no song catalog", argv[optind]);
    if (!err && sr_catalog_find_song_text(e->cat, song, strlen(song), &item))
        err = sr_diag_set(&d, SR_E_INPUT, "'%s': no such song in the model's catalog", song);
    if (!err) err = sr_rec_similar(&e->rec, item, (size_t)n, ids, sims, &got, &d);
    if (!err && !got)
        fprintf(stderr,
                "songrec similar: no similar songs: the model relates '%s' to no other "
                "song it knows\n",
                song);
    if (!err) {
        if (json) {
            printf("{\"song\": ");
            song_json(e->cat, item);
            printf("}, \"similar\": [");
            for (size_t t = 0; t < got; t++) {
                printf("%s", t ? ", " : "");
                song_json(e->cat, ids[t]);
                printf(", \"similarity\": %.6f}", sims[t]);
            }
            printf("]}\n");
        } else {
            for (size_t t = 0; t < got; t++) {
                printf("%2zu. %6.3f  ", t + 1, sims[t]);
                sr_cli_song(stdout,
                            sr_catalog_artist_name(e->cat, sr_catalog_item_artist(e->cat, ids[t])),
                            sr_catalog_track_name(e->cat, ids[t]));
                putchar('\n');
            }
        }
    }
    sr_free(ids);
    sr_free(sims);
    sr_engine_free(e);
    return err ? sr_cli_fail("similar", err, &d) : 0;
}

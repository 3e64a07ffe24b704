/* songrec predict: the rating a trained model predicts for one user and one song.
 *
 *   songrec predict MODEL.srm --user NAME --song "Artist - Track" [--json]
 *
 * The song is looked up in the model's catalog as recommend and similar look songs up
 * (sr_catalog_find_song_text): each " - " from the left is tried as the split between
 * artist and track, so either may itself contain " - ", and names match through the
 * ingest key (data/normalize.h: NFKC, case fold, spacing; accents and punctuation
 * count), so "the beatles - let it be" finds "The Beatles - Let It Be". For items-only
 * data (rating triples, play-count triplets: the artist is empty) the whole string is the
 * item id. Users match by exact name.
 *
 * The prediction is Surprise's predict(): the estimate, or the global mean when it is
 * impossible, clipped to the rating scale. An unknown user is predicted for (the models
 * fall back to item or global terms) and said so; an unknown song is an error (exit 2).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "models/model_file.h"
#include "rec/engine.h"
#include "util/mem.h"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec predict MODEL.srm --user NAME --song \"Artist - Track\" [--json]\n\n"
               "Predicts the rating a user would give a song.\n\n"
               "  --user NAME            the user (exact name; unknown users get a prediction)\n"
               "  --song \"A - T\"         artist and track (case and spacing are ignored,\n"
               "                         accents and punctuation count); for items-only\n"
               "                         data, the item id\n"
               "  --json                 one JSON object\n"
               "  -h, --help             this help\n");
}

int sr_cmd_predict(int argc, char **argv) {
    enum { O_USER = 256, O_SONG, O_JSON };
    static const struct option opts[] = {{"user", required_argument, 0, O_USER},
                                         {"song", required_argument, 0, O_SONG},
                                         {"json", no_argument, 0, O_JSON},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *user = NULL, *song = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_USER:
            user = optarg;
            break;
        case O_SONG:
            song = optarg;
            break;
        case O_JSON:
            json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc - 1 || !user || !song) {
        fprintf(stderr, "songrec predict: need one model file, --user and --song\n");
        usage(stderr);
        return 1;
    }
    sr_diag d = {{0}};
    sr_model_file *f;
    sr_err e = sr_model_load(argv[optind], &f, &d);
    if (e) return sr_cli_fail("predict", e, &d);
    const sr_trainset *ts = &f->ts;
    if (!f->meta.tracks.n && ts->n_items) {
        sr_model_file_free(f);
        sr_diag_set(&d, SR_E_INPUT, "%s: the model has no catalog of songs", argv[optind]);
        return sr_cli_fail("predict", SR_E_INPUT, &d);
    }
    /* the song, looked up as recommend and similar look songs up */
    uint32_t *pop = NULL, item = 0;
    sr_catalog *cat = NULL;
    e = sr_engine_catalog(f, &pop, &cat, &d);
    if (!e) {
        e = cat ? sr_catalog_find_song_text(cat, song, strlen(song), &item) : SR_E_NOTFOUND;
        if (e == SR_E_NOTFOUND)
            e = sr_diag_set(&d, SR_E_INPUT, "unknown song '%s' (not in the model's catalog)", song);
        else if (e)
            sr_diag_set(&d, e, "%s", sr_err_message(e));
    }
    sr_catalog_free(cat);
    sr_free(pop);
    if (e) {
        sr_model_file_free(f);
        return sr_cli_fail("predict", e, &d);
    }
    /* the user: an unknown name gets the id past the last, which no model knows */
    uint32_t u = ts->n_users;
    for (uint32_t k = 0; k < f->meta.users.n; k++) {
        sr_str s = sr_strtab_get(&f->meta.users, k);
        if (s.n == strlen(user) && !memcmp(s.p, user, s.n)) {
            u = k;
            break;
        }
    }
    bool uk = sr_trainset_knows_user(ts, u), ik = sr_trainset_knows_item(ts, item);
    double est;
    bool possible = f->model.ops->estimate(f->model.state, ts, u, item, &est);
    double pred = sr_model_predict(&f->model, u, item);
    const bool implicit = f->model.ops->implicit;
    sr_str artist = sr_strtab_get(&f->meta.artists, f->meta.item_artist[item]);
    sr_str track = sr_strtab_get(&f->meta.tracks, item);
    if (json) {
        printf("{\"user\": ");
        sr_cli_json_string(stdout, user, strlen(user));
        printf(", \"artist\": ");
        sr_cli_json_string(stdout, artist.p, artist.n);
        printf(", \"track\": ");
        sr_cli_json_string(stdout, track.p, track.n);
        printf(", \"item\": %u, \"prediction\": %.6f, \"scale\": [%g, %g], \"implicit\": %s, "
               "\"user_known\": %s, \"item_known\": %s, \"impossible\": %s}\n",
               item, pred, ts->lo, ts->hi, implicit ? "true" : "false", uk ? "true" : "false",
               ik ? "true" : "false", possible ? "false" : "true");
    } else {
        /* An implicit model's estimate ranks songs; it is on no rating scale. */
        char what[96];
        if (implicit)
            snprintf(what, sizeof what, "score %.4f (it ranks songs: not a rating)", pred);
        else
            snprintf(what, sizeof what, "%.4f (scale %g..%g)", pred, ts->lo, ts->hi);
        if (artist.n)
            printf("%s on \"%.*s - %.*s\": %s\n", user, (int)artist.n, artist.p, (int)track.n,
                   track.p, what);
        else
            printf("%s on \"%.*s\": %s\n", user, (int)track.n, track.p, what);
        if (!uk)
            printf("note: user '%s' is unknown to the model: predicted as for a new user%s\n", user,
                   possible ? "" : " (the global mean)");
        else if (!possible)
            printf("note: the model cannot estimate this pair: the global mean is used\n");
        if (!ik) printf("note: the song has no ratings in the training data\n");
    }
    sr_model_file_free(f);
    return 0;
}

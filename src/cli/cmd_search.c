/* songrec search: find artists and songs in a trained model's catalog as a listener
 * would type them (case- and accent-insensitive prefix and word matches, most popular
 * first; rec/catalog.h).
 *
 *   songrec search MODEL.srm QUERY [--kind artist|song|all] [-n 10] [--json]
 *   songrec search MODEL.srm --artist NAME [-n 10] [--json]   (an artist's songs)
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "rec/engine.h"
#include "util/mem.h"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec search MODEL.srm QUERY [--kind artist|song|all] [-n N] [--json]\n"
               "       songrec search MODEL.srm --artist NAME [-n N] [--json]\n\n"
               "Searches the model's catalog, or lists an artist's songs by popularity.\n\n"
               "  --kind K       artist, song or all (default)\n"
               "  --artist NAME  the songs of this artist, most played first\n"
               "  -n N           how many (default 10)\n"
               "  --json         JSON lines, one hit per line\n"
               "  -h, --help     this help\n");
}

static void print_hit(const sr_catalog *c, bool artist, uint32_t id, uint64_t pop, bool json) {
    sr_str a = sr_catalog_artist_name(c, artist ? id : sr_catalog_item_artist(c, id));
    if (artist) {
        if (json) {
            printf("{\"kind\": \"artist\", \"id\": %u, \"name\": ", id);
            sr_cli_json_string(stdout, a.p, a.n);
            printf(", \"songs\": %u, \"popularity\": %llu}\n", sr_catalog_artist_n_songs(c, id),
                   (unsigned long long)pop);
        } else {
            printf("artist  %.*s  (%u songs, %llu)\n", (int)a.n, a.p,
                   sr_catalog_artist_n_songs(c, id), (unsigned long long)pop);
        }
        return;
    }
    sr_str t = sr_catalog_track_name(c, id);
    if (json) {
        printf("{\"kind\": \"song\", \"id\": %u, \"artist\": ", id);
        sr_cli_json_string(stdout, a.p, a.n);
        printf(", \"track\": ");
        sr_cli_json_string(stdout, t.p, t.n);
        printf(", \"popularity\": %llu}\n", (unsigned long long)pop);
    } else {
        printf("song    %.*s - %.*s  (%llu)\n", (int)a.n, a.p, (int)t.n, t.p,
               (unsigned long long)pop);
    }
}

int sr_cmd_search(int argc, char **argv) {
    enum { O_KIND = 256, O_ARTIST, O_JSON };
    static const struct option opts[] = {{"kind", required_argument, 0, O_KIND},
                                         {"artist", required_argument, 0, O_ARTIST},
                                         {"json", no_argument, 0, O_JSON},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    uint64_t n = 10;
    unsigned kinds = SR_CATALOG_ARTIST | SR_CATALOG_SONG;
    const char *artist = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hn:", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!sr_cli_parse_u64(optarg, &n) || n < 1 || n > SR_CATALOG_LIMIT_MAX) {
                fprintf(stderr, "songrec search: -n wants 1..%d\n", SR_CATALOG_LIMIT_MAX);
                return 1;
            }
            break;
        case O_KIND:
            if (!strcmp(optarg, "artist")) {
                kinds = SR_CATALOG_ARTIST;
            } else if (!strcmp(optarg, "song")) {
                kinds = SR_CATALOG_SONG;
            } else if (!strcmp(optarg, "all")) {
                kinds = SR_CATALOG_ARTIST | SR_CATALOG_SONG;
            } else {
                fprintf(stderr, "songrec search: --kind wants artist, song or all\n");
                return 1;
            }
            break;
        case O_ARTIST:
            artist = optarg;
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
    if (optind != argc - (artist ? 1 : 2)) {
        usage(stderr);
        return 1;
    }
    sr_diag d = {{0}};
    sr_engine *e = NULL;
    sr_err err = sr_engine_open(argv[optind], &e, &d);
    if (!err && !e->cat) err = sr_diag_set(&d, SR_E_INPUT, "%s has no song catalog", argv[optind]);
    if (err) {
        sr_engine_free(e);
        return sr_cli_fail("search", err, &d);
    }
    const sr_catalog *cat = e->cat;
    if (artist) {
        uint32_t a;
        uint32_t *items = sr_mallocarray((size_t)n, sizeof *items);
        if (!items) err = sr_diag_set(&d, SR_E_NOMEM, "out of memory");
        if (!err && sr_catalog_find_artist(cat, artist, strlen(artist), &a))
            err = sr_diag_set(&d, SR_E_INPUT, "'%s': no such artist in the catalog", artist);
        if (!err) {
            size_t got = sr_catalog_artist_songs(cat, a, 0, (size_t)n, items);
            for (size_t t = 0; t < got; t++)
                print_hit(cat, false, items[t], sr_catalog_item_pop(cat, items[t]), json);
        }
        sr_free(items);
    } else {
        const char *q = argv[optind + 1];
        sr_catalog_hit *hits = sr_mallocarray((size_t)n, sizeof *hits);
        int got = hits ? sr_catalog_search(cat, q, strlen(q), kinds, (size_t)n, hits) : SR_E_NOMEM;
        if (got < 0)
            err = sr_diag_set(&d, got, got == SR_E_LIMIT ? "query too long" : "out of memory");
        for (int t = 0; t < got; t++)
            print_hit(cat, hits[t].kind == SR_CATALOG_ARTIST, hits[t].id, hits[t].pop, json);
        sr_free(hits);
    }
    sr_engine_free(e);
    return err ? sr_cli_fail("search", err, &d) : 0;
}

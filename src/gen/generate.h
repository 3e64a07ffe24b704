/* Synthetic listening histories: a deterministic, streaming generator.
 *
 * sr_gen_new builds a catalog (genres -> artists -> songs, with names) from the
 * parameters and a seed; sr_gen_next then produces one user's history at a time, so
 * memory is O(songs + largest user), never O(listens). sr_gen_write_* format the
 * stream as ListenBrainz-dump JSONL, BigQuery-export CSV or a 3-column CSV, plain or
 * zstd-compressed, atomically into a file or into a descriptor.
 *
 * The model (what makes it realistic and learnable) is described atop generate.c.
 * Same parameters -> byte-identical output: all randomness comes from sr_rng streams
 * keyed by (seed, purpose, id) and everything runs in one fixed order. (The draws go
 * through libm's exp/log/pow/cos, so a different C library could round a last bit
 * differently; on one platform the output never changes.)
 *
 * Ownership: sr_gen owns its catalog and scratch; sr_gen_user borrows the generator's
 * buffers and is valid until the next sr_gen_next / sr_gen_rewind / sr_gen_free. A
 * generator is used by one thread at a time.
 */
#ifndef SR_GEN_GENERATE_H
#define SR_GEN_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/log.h"

typedef struct sr_gen_params {
    uint64_t n_users;   /* >= 1 */
    uint64_t n_songs;   /* >= 1 */
    uint64_t n_artists; /* 0: n_songs / 8 (at least 1); must be <= n_songs */
    uint64_t n_genres;  /* 0: 20; lowered to n_artists when larger */
    uint64_t n_listens; /* exact number of listens produced */
    uint64_t seed;
    int64_t since, until; /* unix seconds, listens fall in [since, until); 0 <= since < until
                             <= 2^32 */
} sr_gen_params;

/* Fills p with the defaults: 1000 users, 50k songs, 1M listens, seed 42, listens over
 * 2005-01-01 .. 2018-12-31 (UTC). */
void sr_gen_params_default(sr_gen_params *p);

#define SR_GEN_DEFAULT_SINCE 1104537600 /* 2005-01-01T00:00:00Z */
#define SR_GEN_DEFAULT_UNTIL 1546300800 /* 2019-01-01T00:00:00Z (exclusive) */

typedef struct sr_gen sr_gen;

/* Builds the catalog. Returns SR_E_RANGE (with a diagnostic naming the parameter) for
 * impossible parameters (a user with 2^32 listens or more included), SR_E_NOMEM.
 * Progress goes to log (may be NULL). Time and memory O(n_songs + n_users). Returns
 * new, caller frees with sr_gen_free. */
sr_err sr_gen_new(const sr_gen_params *p, const sr_log *log, sr_gen **out, sr_diag *d);
void sr_gen_free(sr_gen *g);

/* Effective catalog sizes after defaults. */
uint32_t sr_gen_n_users(const sr_gen *g);
uint32_t sr_gen_n_songs(const sr_gen *g);
uint32_t sr_gen_n_artists(const sr_gen *g);
uint32_t sr_gen_n_genres(const sr_gen *g);

/* Catalog lookups (song < n_songs, artist < n_artists). */
uint32_t sr_gen_song_artist(const sr_gen *g, uint32_t song);
uint32_t sr_gen_artist_genre(const sr_gen *g, uint32_t artist);
/* The canonical names (NUL-terminated UTF-8, borrowed from g). */
const char *sr_gen_artist_name(const sr_gen *g, uint32_t artist, size_t *len);
const char *sr_gen_track_name(const sr_gen *g, uint32_t song, size_t *len);

#define SR_GEN_MAX_TASTES 6

/* One user's history. Arrays borrow generator memory. */
typedef struct sr_gen_user {
    uint32_t user;                      /* 0-based; user_id in the output is user + 1 */
    uint32_t n_pairs;                   /* distinct songs this user played */
    uint64_t n_listens;                 /* sum of plays */
    const uint32_t *song;               /* (n_pairs) song of each pair */
    const uint32_t *plays;              /* (n_pairs) plays of each pair, >= 1 */
    const uint64_t *listens;            /* (n_listens) (timestamp << 32) | pair, sorted by
                                           time: listening sessions (generate.c) */
    uint32_t genres[SR_GEN_MAX_TASTES]; /* the user's taste genres (hidden truth) */
    uint32_t n_genres;
    double genre_share[SR_GEN_MAX_TASTES]; /* their mixture weights, summing to 1 */
} sr_gen_user;

/* Generates the next user with at least one listen into *h. Returns SR_OK, SR_E_EMPTY
 * when every user has been produced, SR_E_NOMEM (then a later call draws the same user
 * again, identically). Time O(listens of the user). */
sr_err sr_gen_next(sr_gen *g, sr_gen_user *h);

/* Starts over at the first user (and zeroes the statistics). */
void sr_gen_rewind(sr_gen *g);

/* What sr_gen_next has produced since the last rewind. */
typedef struct sr_gen_stats {
    uint64_t n_listens, n_users, n_songs; /* listens, users and distinct songs used */
    uint64_t n_pairs, n_pairs_once, n_pairs_10plus, max_pair_plays;
    uint64_t max_user_listens;
    uint64_t bytes; /* bytes written by the last sr_gen_write_* (after compression) */
} sr_gen_stats;
void sr_gen_get_stats(const sr_gen *g, sr_gen_stats *st);

typedef enum sr_gen_format {
    SR_GEN_JSONL, /* ListenBrainz full-dump lines */
    SR_GEN_CSV,   /* BigQuery listen export, 12 columns with header */
    SR_GEN_CSV3   /* user_name,artist_name,track_name with header */
} sr_gen_format;

typedef struct sr_gen_output {
    sr_gen_format format;
    bool zstd;      /* compress the stream with zstd */
    int zstd_level; /* 0: 3 */
} sr_gen_output;

/* Rewinds g and writes every user's listens to fd (not closed). Returns SR_OK,
 * SR_E_NOSPC, SR_E_IO (with diagnostic naming `name`), SR_E_NOMEM. */
sr_err sr_gen_write_fd(sr_gen *g, int fd, const char *name, const sr_gen_output *o,
                       const sr_log *log, sr_diag *d);

/* Same into path, atomically: writes PATH.tmp.XXXXXX in the same directory, fsyncs and
 * renames it over path; on any failure the temporary file is removed and path is
 * untouched. path "-" writes to standard output (not atomic). */
sr_err sr_gen_write_file(sr_gen *g, const char *path, const sr_gen_output *o, const sr_log *log,
                         sr_diag *d);

/* Parses "YYYY-MM-DD" (UTC midnight) into unix seconds. SR_E_USAGE on junk. */
sr_err sr_gen_parse_day(const char *s, int64_t *out);

#endif

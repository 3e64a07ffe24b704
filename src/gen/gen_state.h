/* The generator's state (struct sr_gen), shared by generate.c (catalog, users,
 * sessions) and write.c (formatting). Internal: not part of the public API.
 */
#ifndef SR_GEN_STATE_H
#define SR_GEN_STATE_H

#include <stdint.h>

#include "gen/generate.h"
#include "util/rng.h"

/* One artist; the array has a sentinel at n_artists holding the ends. */
typedef struct sr__gen_artist {
    uint64_t name_off;   /* into artist_names; NUL-terminated */
    uint32_t song_start; /* its songs are [song_start, next artist's song_start) */
    uint32_t genre;
    uint8_t lang;  /* SR__LANG_* */
    uint8_t album; /* tracks per release */
} sr__gen_artist;

/* One song: what a pair needs, in one cache line access. */
typedef struct sr__gen_song {
    uint64_t name_off; /* into track_names; NUL-terminated */
    uint32_t name_len;
    uint32_t artist;
} sr__gen_song;

/* A pair's artist and genre, for drawing sessions (generate.c). */
typedef struct sr__gen_tag {
    uint32_t artist, genre;
} sr__gen_tag;

/* Per-song marks for the user being generated. */
typedef struct sr__gen_seen {
    uint32_t user; /* 1 + the last user who played the song */
    uint32_t pair; /* that user's pair index for it */
} sr__gen_seen;

struct sr_gen {
    sr_gen_params p;
    uint32_t n_users, n_songs, n_artists, n_genres;
    uint64_t h_artist, h_track, h_user, h_ids; /* hash bases per purpose, from the seed */

    double *genre_weight;         /* (n_genres) popularity */
    uint8_t *genre_lang;          /* (n_genres) main language of its artists */
    sr_alias genre_pick;          /* genres by popularity */
    sr_alias *genre_songs;        /* (n_genres) songs of the genre, local indices */
    uint32_t *genre_artist_start; /* (n_genres + 1) artists of g: [start[g], start[g+1]) */
    uint32_t *genre_song_start;   /* (n_genres + 1) songs of g likewise */

    sr__gen_artist *artist; /* (n_artists + 1); song rank k of a is artist[a].song_start + k */
    char *artist_names;
    uint32_t max_artist_songs;
    uint64_t n_artist_renamed, n_track_renamed; /* names given a disambiguator */

    sr__gen_song *song; /* (n_songs) */
    char *track_names;

    uint64_t *user_listens; /* (n_users) listens of each user, summing to n_listens */

    /* Per-user scratch: O(songs) marks plus O(largest user) pairs and listens. */
    sr__gen_seen *seen;               /* (n_songs) */
    uint64_t *used;                   /* (ceil(n_songs / 64)) songs played by anyone */
    uint32_t *pair_song, *pair_plays; /* (pair_cap) */
    double *pair_center;              /* (pair_cap) unix seconds */
    float *pair_spread;               /* (pair_cap) seconds */
    size_t pair_cap;
    uint64_t *keys, *keys_tmp; /* (key_cap) */
    uint64_t key_cap;

    /* Per-user session scratch: O(pairs + listens). */
    sr__gen_tag *tag; /* (tag_cap) of each pair */
    size_t tag_cap;
    uint32_t *last_artist, *last_genre; /* (n_artists), (n_genres): a listen of each */
    uint32_t *next_artist, *next_genre; /* (link_cap) per listen: the next of its kind */
    uint64_t link_cap;
    int64_t *sess_start; /* (sess_cap) each session's start, unix s */
    uint64_t *sess_end;  /* (sess_cap) (its last play's offset << 32) | its end in keys */
    size_t sess_cap;

    uint32_t cursor; /* next user */
    sr_gen_stats st;
};

#endif

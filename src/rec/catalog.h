/* The catalog of a trained model: names, exact lookups, and search as a user types.
 *
 * A model covers n_items songs; each has an artist and a track name. The catalog borrows
 * those arrays (they live in the mmapped model file: sr_catalog_src) and builds on the
 * heap what the recommender, the CLI and the HTTP server look things up with:
 *   - exact lookups keyed the way ingest keys songs (data/normalize.h: NFKC + case
 *     fold, white space collapsed; accents are kept): an artist's name -> artist id,
 *     (artist, track) -> item, one "Artist - Track" text -> item;
 *   - search as a user types (sr_catalog_search): artists and songs whose words start
 *     with the query's words, case-, accent- and punctuation-insensitive, ranked by
 *     match class, then popularity;
 *   - an artist's songs by popularity, its song count and popularity (the sum of its
 *     songs' popularity).
 *
 * Search form of a name: utf8proc NFKC + case fold + marks stripped ("Björk" ->
 * "bjork"), split into words (runs of letters, digits); an apostrophe or a period
 * between two word characters is dropped ("Don't" -> "dont", "R.E.M." -> "rem"), any
 * other character separates words. Only a name's first SR_CATALOG_NAME_WORDS words
 * count. A song's words are its track's and its artist's.
 *
 * Ownership: sr_catalog_build borrows every array of src, which must outlive the
 * catalog; sr_catalog_free frees what the build allocated.
 *
 * Threads: the catalog is read-only after the build, and every function below may be
 * called from many threads at once. sr_catalog_search never allocates (it uses about
 * 24 KiB of the caller's stack); the exact lookups allocate scratch per call.
 */
#ifndef SR_CATALOG_H
#define SR_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "util/err.h"
#include "util/str.h"

#define SR_CATALOG_QUERY_MAX  256   /* bytes: a longer search query is refused */
#define SR_CATALOG_NAME_WORDS 64    /* words of a name, or of a query, that count */
#define SR_CATALOG_LIMIT_MAX  10000 /* hits one search returns at most */

/* What a model file holds; the catalog borrows all of it. */
typedef struct sr_catalog_src {
    sr_strtab artists;           /* (n_artists) display names */
    const uint32_t *item_artist; /* (n_items) artist id of each song */
    sr_strtab tracks;            /* (n_items) display track names */
    const uint32_t *item_pop;    /* (n_items) popularity, e.g. listeners; NULL: all 0 */
} sr_catalog_src;

typedef struct sr_catalog sr_catalog;

/* Kinds of search hits; a search takes a mask of them. */
enum { SR_CATALOG_ARTIST = 1, SR_CATALOG_SONG = 2, SR_CATALOG_ALL = 3 };

/* Match classes, best first. With the query's words q1..qk and a name's words:
 *   EXACT   the name's words are q1..qk;
 *   PREFIX  the name's first words are q1..q(k-1), then one that starts with qk
 *           ("pink fl" -> "Pink Floyd");
 *   WORD    every qi starts some word of the artist (for a song: of its artist or its
 *           track) ("dark" -> "The Dark Side", "radiohead cre" -> "Creep" by Radiohead).
 * A song's name for EXACT and PREFIX is its track's, or its artist's followed by its
 * track's ("radiohead creep" is an exact match of "Creep" by Radiohead). */
enum { SR_CATALOG_EXACT = 0, SR_CATALOG_PREFIX = 1, SR_CATALOG_WORD = 2 };

typedef struct sr_catalog_hit {
    uint64_t pop;  /* the song's popularity, or the artist's (sum over its songs) */
    uint32_t id;   /* artist id or item id */
    uint8_t kind;  /* SR_CATALOG_ARTIST or SR_CATALOG_SONG */
    uint8_t match; /* SR_CATALOG_EXACT, _PREFIX or _WORD */
} sr_catalog_hit;

/* Builds a catalog over src (borrowed). Refuses with SR_E_CORRUPT and words in d: an
 * item's artist id out of range, string offsets that go backwards, missing arrays;
 * SR_E_LIMIT: n_artists + n_items >= 2^31. Names that are not valid UTF-8 are kept
 * (their valid stretches are searchable) but never match an exact lookup.
 * O(n log n); about 31 bytes per song (1M songs: 31 MB, 0.85 s on one core). Returns
 * new in *out; free with sr_catalog_free. */
sr_err sr_catalog_build(const sr_catalog_src *src, sr_catalog **out, sr_diag *d);
void sr_catalog_free(sr_catalog *c);

/* Heap bytes the catalog owns (not counting the borrowed arrays). */
size_t sr_catalog_memory(const sr_catalog *c);

/* Counts and accessors. An id out of range gives an empty name, 0, or UINT32_MAX for
 * the artist of an unknown item. Names borrow from the source. */
uint32_t sr_catalog_n_items(const sr_catalog *c);
uint32_t sr_catalog_n_artists(const sr_catalog *c);
sr_str sr_catalog_artist_name(const sr_catalog *c, uint32_t artist);
sr_str sr_catalog_track_name(const sr_catalog *c, uint32_t item);
uint32_t sr_catalog_item_artist(const sr_catalog *c, uint32_t item);
uint32_t sr_catalog_item_pop(const sr_catalog *c, uint32_t item);
uint64_t sr_catalog_artist_pop(const sr_catalog *c, uint32_t artist);
uint32_t sr_catalog_artist_n_songs(const sr_catalog *c, uint32_t artist);
/* Writes up to limit of the artist's songs, most popular first (ties by item id),
 * skipping the first offset, into items; returns how many it wrote. O(limit). */
size_t sr_catalog_artist_songs(const sr_catalog *c, uint32_t artist, size_t offset, size_t limit,
                               uint32_t *items);

/* Exact lookups with ingest's key (data/normalize.h), so "  BJÖRK " finds "Björk" but
 * "Bjork" does not. Each returns SR_OK and the id, SR_E_NOTFOUND (also for text that
 * is empty or not valid UTF-8), or SR_E_NOMEM. When several share a key, the most
 * popular wins (ties: the lower id). A song's artist alone may be empty (or only white
 * space): it then names the songs without an artist, those of items-only data (rating
 * triples, play-count triplets), by their track, which is the item id. */
sr_err sr_catalog_find_artist(const sr_catalog *c, const char *name, size_t len, uint32_t *artist);
sr_err sr_catalog_find_song(const sr_catalog *c, const char *artist, size_t artist_len,
                            const char *track, size_t track_len, uint32_t *item);
/* "Artist - Track" (or with an en dash, " – "): tries each separator from the left,
 * as the split between artist and track, and returns the first that finds a song, so
 * an artist or a track may itself contain " - ". When none does, the whole text is
 * tried as the track of a song without an artist (an item id of items-only data). */
sr_err sr_catalog_find_song_text(const sr_catalog *c, const char *text, size_t len, uint32_t *item);

/* Search as a user types: the best hits of the kinds in the mask (SR_CATALOG_ARTIST,
 * _SONG) for query q (len bytes), up to limit (capped at SR_CATALOG_LIMIT_MAX),
 * written to out. Order: class (EXACT, PREFIX, WORD), then popularity descending,
 * then artists before songs, then id. Returns the number of hits; 0 for a query that
 * is empty, only white space or punctuation, not valid UTF-8, or matches nothing;
 * SR_E_LIMIT (negative, nothing written) for a query longer than SR_CATALOG_QUERY_MAX
 * bytes or of more than SR_CATALOG_NAME_WORDS words, so a server can say why. Cost
 * grows with the hits wanted, not with how many entries match: a one-letter query
 * looks only at the most popular entries that start with it. */
int sr_catalog_search(const sr_catalog *c, const char *q, size_t len, unsigned kinds, size_t limit,
                      sr_catalog_hit *out);

#endif

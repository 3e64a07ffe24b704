/* The listener profile store: each listener's rated songs and blocks, in SQLite.
 *
 * The web page keeps only a token; the profile lives here so that it survives the
 * browser closing and the server restarting. A token is 128 bits from getrandom(2),
 * shown as 32 hex digits. The store keeps only a keyed XXH3-128 hash of the token's 16
 * bytes (the 192-byte key is random per database, made with the schema), so a lookup
 * compares hashes, never the secret bytes, and a remote client cannot steer the index
 * search: it cannot compute the hash of a guess. XXH3 is not a cryptographic hash (no
 * crypto library is linked): someone who holds the database file can recover tokens.
 * A token that is not 32 hex digits is simply not found. Nothing lists profiles.
 *
 * Durability: WAL journal with synchronous=NORMAL. A commit appends the transaction to
 * the -wal file with write(2) before the call returns SR_OK, so the bytes are in the
 * kernel's page cache and survive the death of the process (kill -9, a crash): the next
 * open replays them. NORMAL syncs the WAL only at checkpoints, so it does not cover
 * power loss or a kernel crash: those can roll back the transactions committed since
 * the last checkpoint (never corrupt the file). FULL would add an fsync per commit.
 *
 * Threads: every function may be called from many threads at once on one store. The
 * store holds a small pool of connections (one per call in flight, so reads run side
 * by side) and one write mutex, so write transactions queue in the process instead of
 * sleeping in SQLite's busy handler; busy_timeout still covers other processes. Each
 * write is one BEGIN IMMEDIATE transaction that also sets the profile's `updated`.
 *
 * Ownership: every string argument is borrowed for the call. sr_profiles_get fills a
 * caller's sr_profile that owns all its memory (its strings live in one block);
 * sr_profile_free releases it. Schema and statements: profiles.c.
 */
#ifndef SR_PROFILES_H
#define SR_PROFILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SR_PROFILES_TOKEN_LEN     32    /* hex digits; a token buffer holds 33 bytes */
#define SR_PROFILES_MAX_RATINGS   1000  /* per profile */
#define SR_PROFILES_MAX_BLOCKS    1000  /* per profile, unexpired */
#define SR_PROFILES_NAME_MAX      1024  /* bytes of an artist or track name */
#define SR_PROFILES_CONNS_DEFAULT 4     /* connections when sr_profiles_open gets 0 */
#define SR_PROFILES_BUSY_MS       5000  /* busy_timeout against other processes */
#define SR_PROFILES_SCHEMA        1     /* PRAGMA user_version this code writes */
#define SR_PROFILES_ADDED_AHEAD   86400 /* s a rating's given `added` may be after now */

typedef enum sr_profile_source {
    SR_PROFILE_RATED,   /* "rated": set by hand; plays is 0 */
    SR_PROFILE_HISTORY, /* "history": from an uploaded history; plays is its play count */
} sr_profile_source;

typedef enum sr_profile_block_kind {
    SR_PROFILE_BLOCK_SONG,   /* "song": one (artist, track) */
    SR_PROFILE_BLOCK_ARTIST, /* "artist": every song of an artist; track is "" */
} sr_profile_block_kind;

/* One rating. As input (sr_profiles_set_ratings) artist, track, rating, plays, source
 * and added are read (key is ignored); on output every field is filled. */
typedef struct sr_profile_rating {
    const char *artist, *track; /* display strings, as given; artist may be blank */
    const char *key;            /* sr_normalize(artist) "\x1f" sr_normalize(track) */
    double rating;              /* finite; the caller checks the model's scale */
    uint32_t plays;             /* 0 for SR_PROFILE_RATED */
    sr_profile_source source;
    /* Unix s of the last set. As input: 0 means the call's now; otherwise at most now +
     * SR_PROFILES_ADDED_AHEAD (a rating put back as it was read keeps its time). */
    int64_t added;
} sr_profile_rating;

typedef struct sr_profile_block {
    sr_profile_block_kind kind;
    const char *artist, *track; /* display strings; track "" for an artist block */
    const char *key;            /* normalised artist [+ "\x1f" normalised track] */
    int64_t until;              /* Unix s the block ends; 0 = forever */
    int64_t added;              /* Unix s of the last add */
} sr_profile_block;

/* A profile as read at one moment. Ratings and blocks in insertion order (setting an
 * existing key again keeps its place); blocks that expired by `now` are left out. */
typedef struct sr_profile {
    int64_t created, updated;   /* Unix s */
    sr_profile_rating *ratings; /* (n_ratings) */
    size_t n_ratings;
    sr_profile_block *blocks; /* (n_blocks) */
    size_t n_blocks;
    char *strings; /* private: every string above points in here */
} sr_profile;

typedef struct sr_profiles sr_profiles;

/* Opens (creating when absent, with the schema) the store at path, with n_conns
 * connections (0: SR_PROFILES_CONNS_DEFAULT; more than the threads that call at once
 * buys nothing). path is a file name (not ":memory:": each connection would see its own
 * database). Errors: a file that is not an SQLite database -> SR_E_CORRUPT, an SQLite
 * database of another application -> SR_E_FORMAT, a newer schema -> SR_E_VERSION, an
 * unreadable or unwritable file -> SR_E_IO; the message names path. */
sr_err sr_profiles_open(const char *path, int n_conns, sr_profiles **out, sr_diag *d);
/* Closes every connection (the last one checkpoints the WAL). No call may be in
 * flight. NULL is a no-op. */
void sr_profiles_close(sr_profiles *p);

/* Creates an empty profile (created = updated = now) and writes its token, 32 lowercase
 * hex digits and a NUL, to token. */
sr_err sr_profiles_create(sr_profiles *p, int64_t now, char token[SR_PROFILES_TOKEN_LEN + 1],
                          sr_diag *d);
/* Reads the profile of token into *out (see sr_profile), leaving out blocks that
 * expired by now. SR_E_NOTFOUND for an unknown or malformed token. On failure *out is
 * empty (sr_profile_free is still fine). */
sr_err sr_profiles_get(sr_profiles *p, const char *token, int64_t now, sr_profile *out, sr_diag *d);
void sr_profile_free(sr_profile *pr);
/* Deletes the profile with its ratings and blocks. SR_E_NOTFOUND when unknown. */
sr_err sr_profiles_delete(sr_profiles *p, const char *token, sr_diag *d);

/* Sets the rating of (artist, track), replacing the one with the same key; its added
 * becomes now. Names: valid UTF-8, at most SR_PROFILES_NAME_MAX bytes, no control
 * characters, the track not blank (SR_E_INPUT). The artist may be blank: the songs of
 * items-only data (rating triples, play-count triplets) have none, and the catalog
 * finds them by their track (sr_catalog_find_song); whether a blank artist names a
 * song is the caller's to check, the store has no catalog. Rating finite (SR_E_INPUT);
 * plays 0 for SR_PROFILE_RATED; a new key beyond SR_PROFILES_MAX_RATINGS ->
 * SR_E_LIMIT. Every write below likewise: the token unknown or malformed ->
 * SR_E_NOTFOUND, and `updated` becomes now. */
sr_err sr_profiles_set_rating(sr_profiles *p, const char *token, const char *artist,
                              const char *track, double rating, uint32_t plays,
                              sr_profile_source source, int64_t now, sr_diag *d);
/* Sets n ratings in one transaction, in order (a later duplicate key wins, at the first
 * one's place), each with its own source, plays and added (0: now; after now +
 * SR_PROFILES_ADDED_AHEAD, or negative -> SR_E_INPUT). replace_all first removes every
 * rating of the profile (PUT semantics). Every rating is checked before anything is
 * written; all or none are stored. */
sr_err sr_profiles_set_ratings(sr_profiles *p, const char *token, const sr_profile_rating *r,
                               size_t n, bool replace_all, int64_t now, sr_diag *d);
/* Removes the rating with the key of (artist, track). SR_E_NOTFOUND when absent. */
sr_err sr_profiles_delete_rating(sr_profiles *p, const char *token, const char *artist,
                                 const char *track, int64_t now, sr_diag *d);
/* Removes every rating (blocks stay). */
sr_err sr_profiles_clear_ratings(sr_profiles *p, const char *token, int64_t now, sr_diag *d);

/* Blocks a song (kind SONG: artist and track) or an artist (kind ARTIST: track NULL or
 * "") until `until` (0: forever; otherwise it must be after now). Adding the same key
 * again replaces until. Names are checked as for ratings (a song's artist may be blank;
 * an artist block's may not). Expired blocks are removed first; a new key beyond
 * SR_PROFILES_MAX_BLOCKS -> SR_E_LIMIT. */
sr_err sr_profiles_add_block(sr_profiles *p, const char *token, sr_profile_block_kind kind,
                             const char *artist, const char *track, int64_t until, int64_t now,
                             sr_diag *d);
/* Removes the block of that kind and key. SR_E_NOTFOUND when absent or expired. */
sr_err sr_profiles_delete_block(sr_profiles *p, const char *token, sr_profile_block_kind kind,
                                const char *artist, const char *track, int64_t now, sr_diag *d);

/* "rated" / "history", "song" / "artist"; parse returns false for any other word. */
const char *sr_profile_source_name(sr_profile_source s);
bool sr_profile_source_parse(const char *s, sr_profile_source *out);
const char *sr_profile_block_kind_name(sr_profile_block_kind k);
bool sr_profile_block_kind_parse(const char *s, sr_profile_block_kind *out);

#endif

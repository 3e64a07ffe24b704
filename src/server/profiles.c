/* The listener profile store in SQLite (profiles.h).
 *
 * Schema (user_version 1): meta holds the random token-hash key; profiles(id,
 * token_hash, created, updated); ratings and blocks keyed by (profile, [kind,] key),
 * WITHOUT ROWID, each with a `position` (the max of the profile's positions + 1 when a
 * key is new, kept when it is set again) and an index on (profile, position) for the
 * insertion order. Deleting a profile cascades through the foreign keys.
 *
 * Every statement is a constant string prepared once per connection (the STATEMENTS
 * list) and run with bound parameters; names never reach SQL text. After each run a
 * statement is reset and its bindings cleared, so no borrowed pointer outlives a call.
 *
 * Pool: the connections sit on an idle stack under pool_lock; a call takes one, and a
 * write takes write_lock first (then a connection), so that at most one connection is
 * in a write and the others stay free for reads. Limits are checked inside the write
 * transaction after the rows are written: over the limit, the transaction rolls back.
 * Counting is O(ratings) per write; measured on 2 cores, 8 threads: about 30,000
 * set_rating/s on one profile of 800 ratings, 80,000/s on distinct small profiles, so
 * neither the count nor the write mutex is what limits a server.
 */
#include "server/profiles.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/random.h>
#include <xxhash.h>

#include "data/normalize.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"

#define KEY_BYTES   192 /* XXH3 secret; at least XXH3_SECRET_SIZE_MIN */
#define TOKEN_BYTES 16
#define MAX_CONNS   64
#define SEP         "\x1f" /* between artist and track in a key */

#define STR_(x) #x
#define STR(x)  STR_(x)

static const char schema_sql[] =
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE profiles ("
    " id INTEGER PRIMARY KEY,"
    " token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 16),"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE ratings ("
    " profile INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " artist TEXT NOT NULL,"
    " track TEXT NOT NULL,"
    " rating REAL NOT NULL,"
    " plays INTEGER NOT NULL CHECK (plays BETWEEN 0 AND 4294967295),"
    " source TEXT NOT NULL CHECK (source IN ('rated', 'history')),"
    " added INTEGER NOT NULL,"
    " position INTEGER NOT NULL,"
    " PRIMARY KEY (profile, key)) WITHOUT ROWID;"
    "CREATE INDEX ratings_order ON ratings (profile, position);"
    "CREATE TABLE blocks ("
    " profile INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL CHECK (kind IN ('song', 'artist')),"
    " key TEXT NOT NULL,"
    " artist TEXT NOT NULL,"
    " track TEXT NOT NULL,"
    " until INTEGER NOT NULL,"
    " added INTEGER NOT NULL,"
    " position INTEGER NOT NULL,"
    " PRIMARY KEY (profile, kind, key)) WITHOUT ROWID;"
    "CREATE INDEX blocks_order ON blocks (profile, position);"
    "PRAGMA user_version = " STR(SR_PROFILES_SCHEMA) ";";

/* X(id, sql): every statement the store runs after open. */
#define STATEMENTS(X)                                                                              \
    X(BEGIN_READ, "BEGIN")                                                                         \
    X(BEGIN_WRITE, "BEGIN IMMEDIATE")                                                              \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(FIND, "SELECT id, created, updated FROM profiles WHERE token_hash = ?1")                     \
    X(CREATE, "INSERT INTO profiles (token_hash, created, updated) VALUES (?1, ?2, ?2)")           \
    X(DELETE, "DELETE FROM profiles WHERE token_hash = ?1")                                        \
    X(TOUCH, "UPDATE profiles SET updated = ?2 WHERE id = ?1")                                     \
    X(RATING_SET,                                                                                  \
      "INSERT INTO ratings (profile, key, artist, track, rating, plays, source, added, position)"  \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"                                                   \
      " (SELECT coalesce(max(position) + 1, 0) FROM ratings WHERE profile = ?1))"                  \
      " ON CONFLICT (profile, key) DO UPDATE SET artist = excluded.artist,"                        \
      " track = excluded.track, rating = excluded.rating, plays = excluded.plays,"                 \
      " source = excluded.source, added = excluded.added")                                         \
    X(RATING_COUNT, "SELECT count(*) FROM ratings WHERE profile = ?1")                             \
    X(RATING_DELETE, "DELETE FROM ratings WHERE profile = ?1 AND key = ?2")                        \
    X(RATING_CLEAR, "DELETE FROM ratings WHERE profile = ?1")                                      \
    X(RATING_LIST, "SELECT artist, track, key, rating, plays, source, added FROM ratings"          \
                   " WHERE profile = ?1 ORDER BY position")                                        \
    X(BLOCK_PURGE, "DELETE FROM blocks WHERE profile = ?1 AND until <> 0 AND until <= ?2")         \
    X(BLOCK_SET, "INSERT INTO blocks (profile, kind, key, artist, track, until, added, position)"  \
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"                                            \
                 " (SELECT coalesce(max(position) + 1, 0) FROM blocks WHERE profile = ?1))"        \
                 " ON CONFLICT (profile, kind, key) DO UPDATE SET artist = excluded.artist,"       \
                 " track = excluded.track, until = excluded.until, added = excluded.added")        \
    X(BLOCK_COUNT, "SELECT count(*) FROM blocks WHERE profile = ?1")                               \
    X(BLOCK_DELETE, "DELETE FROM blocks WHERE profile = ?1 AND kind = ?2 AND key = ?3"             \
                    " AND (until = 0 OR until > ?4)")                                              \
    X(BLOCK_LIST, "SELECT artist, track, key, kind, until, added FROM blocks"                      \
                  " WHERE profile = ?1 AND (until = 0 OR until > ?2) ORDER BY position")

enum {
#define X(id, sql) ST_##id,
    STATEMENTS(X)
#undef X
        ST__COUNT
};

static const char *const statement_sql[] = {
#define X(id, sql) sql,
    STATEMENTS(X)
#undef X
};

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
} conn;

struct sr_profiles {
    char *path;
    conn *conns; /* (n_conns) */
    int n_conns;
    conn **idle; /* (n_conns) stack; n_idle on it */
    int n_idle;
    pthread_mutex_t pool_lock, write_lock;
    pthread_cond_t pool_cond;
    unsigned char key[KEY_BYTES];
};

/* ---- names ---- */

const char *sr_profile_source_name(sr_profile_source s) {
    return s == SR_PROFILE_HISTORY ? "history" : "rated";
}

bool sr_profile_source_parse(const char *s, sr_profile_source *out) {
    if (s && !strcmp(s, "rated")) return *out = SR_PROFILE_RATED, true;
    if (s && !strcmp(s, "history")) return *out = SR_PROFILE_HISTORY, true;
    return false;
}

const char *sr_profile_block_kind_name(sr_profile_block_kind k) {
    return k == SR_PROFILE_BLOCK_ARTIST ? "artist" : "song";
}

bool sr_profile_block_kind_parse(const char *s, sr_profile_block_kind *out) {
    if (s && !strcmp(s, "song")) return *out = SR_PROFILE_BLOCK_SONG, true;
    if (s && !strcmp(s, "artist")) return *out = SR_PROFILE_BLOCK_ARTIST, true;
    return false;
}

/* ---- SQLite errors and statement helpers ---- */

static sr_err map_sqlite(int rc) {
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return SR_E_NOMEM;
    case SQLITE_FULL:
        return SR_E_NOSPC;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return SR_E_CORRUPT;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
        return SR_E_IO;
    default:
        return SR_E_INTERNAL;
    }
}

/* The error of a failed SQLite call rc on c, in words that name the file; for an I/O
 * error also the system's words ("disk I/O error (File too large)"), which SQLite's
 * message leaves out. */
static sr_err sql_fail(const sr_profiles *p, const conn *c, int rc, sr_diag *d) {
    const char *msg = c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
    int prim = rc & 0xff, os = c && c->db ? sqlite3_system_errno(c->db) : 0;
    if (os && (prim == SQLITE_IOERR || prim == SQLITE_FULL || prim == SQLITE_CANTOPEN))
        return sr_diag_set(d, map_sqlite(rc), "%s: %s (%s)", p->path, msg, strerror(os));
    return sr_diag_set(d, map_sqlite(rc), "%s: %s", p->path, msg);
}

static void finish(sqlite3_stmt *st) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows to the end and finishes it. */
static int run(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    finish(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Runs a statement whose first row's first column is an integer (count(*)). */
static int run_int(sqlite3_stmt *st, int64_t *v) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int64(st, 0), rc = SQLITE_OK;
    finish(st);
    return rc == SQLITE_DONE ? SQLITE_INTERNAL : rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* ---- tokens ---- */

static int hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The keyed hash of token's 16 bytes; false when token is not 32 hex digits. */
static bool token_hash(const sr_profiles *p, const char *token, unsigned char out[16]) {
    if (!token || strnlen(token, SR_PROFILES_TOKEN_LEN + 1) != SR_PROFILES_TOKEN_LEN) return false;
    unsigned char raw[TOKEN_BYTES];
    for (int i = 0; i < TOKEN_BYTES; i++) {
        int hi = hex_digit((unsigned char)token[2 * i]);
        int lo = hex_digit((unsigned char)token[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        raw[i] = (unsigned char)(hi << 4 | lo);
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_withSecret(raw, sizeof raw, p->key, KEY_BYTES));
    memcpy(out, c.digest, 16);
    return true;
}

static sr_err random_bytes(unsigned char *buf, size_t n, sr_diag *d) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(buf + got, n - got, 0);
        if (k < 0) {
            if (errno == EINTR) continue;
            return sr_diag_set(d, SR_E_IO, "getrandom: %s", strerror(errno));
        }
        got += (size_t)k;
    }
    return SR_OK;
}

static sr_err not_found(sr_diag *d) {
    return sr_diag_set(d, SR_E_NOTFOUND, "no profile with this token");
}

/* ---- the pool ---- */

static conn *checkout(sr_profiles *p) {
    pthread_mutex_lock(&p->pool_lock);
    while (p->n_idle == 0) pthread_cond_wait(&p->pool_cond, &p->pool_lock);
    conn *c = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->pool_lock);
    return c;
}

static void checkin(sr_profiles *p, conn *c) {
    pthread_mutex_lock(&p->pool_lock);
    p->idle[p->n_idle++] = c;
    pthread_cond_signal(&p->pool_cond);
    pthread_mutex_unlock(&p->pool_lock);
}

/* Takes a connection (after write_lock for a write) and begins a transaction. */
static sr_err txn_begin(sr_profiles *p, bool write, conn **out, sr_diag *d) {
    if (write) pthread_mutex_lock(&p->write_lock);
    conn *c = checkout(p);
    int rc = run(c->st[write ? ST_BEGIN_WRITE : ST_BEGIN_READ]);
    if (rc != SQLITE_OK) {
        sr_err e = sql_fail(p, c, rc, d);
        checkin(p, c);
        if (write) pthread_mutex_unlock(&p->write_lock);
        return e;
    }
    *out = c;
    return SR_OK;
}

/* Commits when e is SR_OK (else rolls back), gives the connection back; returns the
 * outcome. */
static sr_err txn_end(sr_profiles *p, conn *c, bool write, sr_err e, sr_diag *d) {
    if (e == SR_OK) {
        int rc = run(c->st[ST_COMMIT]);
        if (rc != SQLITE_OK) e = sql_fail(p, c, rc, d);
    }
    if (e != SR_OK && !sqlite3_get_autocommit(c->db)) run(c->st[ST_ROLLBACK]);
    checkin(p, c);
    if (write) pthread_mutex_unlock(&p->write_lock);
    return e;
}

/* The profile with token hash h: its id and, when wanted, its times. */
static sr_err find(sr_profiles *p, conn *c, const unsigned char h[16], int64_t *id,
                   sr_profile *times, sr_diag *d) {
    sqlite3_stmt *st = c->st[ST_FIND];
    sqlite3_bind_blob(st, 1, h, 16, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        if (times) {
            times->created = sqlite3_column_int64(st, 1);
            times->updated = sqlite3_column_int64(st, 2);
        }
    }
    sr_err e = rc == SQLITE_ROW ? SR_OK : rc == SQLITE_DONE ? not_found(d) : sql_fail(p, c, rc, d);
    finish(st);
    return e;
}

/* One write transaction on the profile of token: fn(arg) inside, then `updated` = now. */
typedef sr_err (*write_fn)(sr_profiles *p, conn *c, int64_t id, const void *arg, sr_diag *d);

static sr_err write_profile(sr_profiles *p, const char *token, int64_t now, write_fn fn,
                            const void *arg, sr_diag *d) {
    unsigned char h[16];
    if (!token_hash(p, token, h)) return not_found(d);
    conn *c;
    sr_err e = txn_begin(p, true, &c, d);
    if (e) return e;
    int64_t id = 0;
    e = find(p, c, h, &id, NULL, d);
    if (!e) e = fn(p, c, id, arg, d);
    if (!e) {
        sqlite3_stmt *st = c->st[ST_TOUCH];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
        int rc = run(st);
        if (rc != SQLITE_OK) e = sql_fail(p, c, rc, d);
    }
    return txn_end(p, c, true, e, d);
}

/* ---- open and close ---- */

static void conn_close(conn *c) {
    for (int i = 0; i < ST__COUNT; i++) sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    memset(c, 0, sizeof *c);
}

/* Runs a one-row PRAGMA and returns its integer; rc through *rc. */
static int64_t pragma_int(conn *c, const char *sql, int *rc) {
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    *rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (*rc == SQLITE_OK) *rc = run_int(st, &v);
    sqlite3_finalize(st);
    return v;
}

static sr_err set_wal(sr_profiles *p, conn *c, sr_diag *d) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sr_err e = sql_fail(p, c, rc, d);
        sqlite3_finalize(st);
        return e;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    bool wal = mode && !strcmp(mode, "wal");
    sr_err e = wal ? SR_OK
                   : sr_diag_set(d, SR_E_IO, "%s: cannot use a WAL journal (journal mode %s)",
                                 p->path, mode ? mode : "unknown");
    sqlite3_finalize(st);
    return e;
}

/* Inside the creating transaction: the schema and the token-hash key, unless another
 * process made them first. */
static sr_err create_schema(sr_profiles *p, conn *c, sr_diag *d) {
    int rc;
    int64_t version = pragma_int(c, "PRAGMA user_version", &rc);
    if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
    if (version != 0) return SR_OK;
    int64_t tables = pragma_int(c, "SELECT count(*) FROM sqlite_master", &rc);
    if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
    if (tables != 0)
        return sr_diag_set(d, SR_E_FORMAT, "%s: an SQLite database, but not a profile store",
                           p->path);
    unsigned char key[KEY_BYTES];
    sr_err e = random_bytes(key, sizeof key, d);
    if (e) return e;
    rc = sqlite3_exec(c->db, schema_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(c->db, "INSERT INTO meta (name, value) VALUES ('token_key', ?1)", -1,
                            &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_blob(st, 1, key, sizeof key, SQLITE_STATIC);
        rc = run(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? SR_OK : sql_fail(p, c, rc, d);
}

static sr_err load_key(sr_profiles *p, conn *c, sr_diag *d) {
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE name = 'token_key'", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sr_err e = SR_OK;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == KEY_BYTES)
        memcpy(p->key, sqlite3_column_blob(st, 0), KEY_BYTES);
    else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        e = sr_diag_set(d, SR_E_CORRUPT, "%s: the token key is missing or damaged", p->path);
    else
        e = sql_fail(p, c, rc, d);
    sqlite3_finalize(st);
    return e;
}

/* First connection: checks what the file is, then makes or checks the schema. A file
 * that is not ours is refused before anything is written to it. */
static sr_err setup_schema(sr_profiles *p, conn *c, sr_diag *d) {
    int rc;
    int64_t version = pragma_int(c, "PRAGMA user_version", &rc);
    if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
    if (version > SR_PROFILES_SCHEMA || version < 0)
        return sr_diag_set(d, SR_E_VERSION,
                           "%s: profile store schema version %lld is newer than this songrec "
                           "reads (%d); upgrade songrec",
                           p->path, (long long)version, SR_PROFILES_SCHEMA);
    if (version == 0) {
        int64_t tables = pragma_int(c, "SELECT count(*) FROM sqlite_master", &rc);
        if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
        if (tables != 0)
            return sr_diag_set(d, SR_E_FORMAT, "%s: an SQLite database, but not a profile store",
                               p->path);
    }
    sr_err e = set_wal(p, c, d);
    if (e) return e;
    if (version == 0) {
        rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
        e = create_schema(p, c, d);
        rc = sqlite3_exec(c->db, e ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
        if (!e && rc != SQLITE_OK) e = sql_fail(p, c, rc, d);
        if (e) return e;
    }
    return load_key(p, c, d);
}

static sr_err conn_open(sr_profiles *p, conn *c, bool first, sr_diag *d) {
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(p->path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
    if (sqlite3_db_readonly(c->db, "main") == 1)
        return sr_diag_set(d, SR_E_IO, "%s: cannot write to the profile store", p->path);
    sqlite3_busy_timeout(c->db, SR_PROFILES_BUSY_MS);
    if (first) {
        sr_err e = setup_schema(p, c, d);
        if (e) return e;
    }
    /* Per connection: NORMAL is enough for kill -9 in WAL mode (profiles.h). */
    rc = sqlite3_exec(c->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", NULL, NULL,
                      NULL);
    for (int i = 0; i < ST__COUNT && rc == SQLITE_OK; i++)
        rc = sqlite3_prepare_v3(c->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i],
                                NULL);
    return rc == SQLITE_OK ? SR_OK : sql_fail(p, c, rc, d);
}

sr_err sr_profiles_open(const char *path, int n_conns, sr_profiles **out, sr_diag *d) {
    *out = NULL;
    if (!path || !*path || !strcmp(path, ":memory:"))
        return sr_diag_set(d, SR_E_USAGE, "the profile store needs a file name");
    if (n_conns == 0) n_conns = SR_PROFILES_CONNS_DEFAULT;
    if (n_conns < 0 || n_conns > MAX_CONNS)
        return sr_diag_set(d, SR_E_USAGE, "profile store connections: %d is not in 1..%d", n_conns,
                           MAX_CONNS);
    if (!sqlite3_threadsafe())
        return sr_diag_set(d, SR_E_INTERNAL, "SQLite was built without thread support");
    sr_profiles *p = sr_calloc(1, sizeof *p);
    if (!p) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    p->path = sr_strdup(path);
    p->conns = sr_calloc((size_t)n_conns, sizeof *p->conns);
    p->idle = sr_calloc((size_t)n_conns, sizeof *p->idle);
    if (!p->path || !p->conns || !p->idle) {
        sr_free(p->path);
        sr_free(p->conns);
        sr_free(p->idle);
        sr_free(p);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    pthread_mutex_init(&p->pool_lock, NULL);
    pthread_mutex_init(&p->write_lock, NULL);
    pthread_cond_init(&p->pool_cond, NULL);
    for (int i = 0; i < n_conns; i++) {
        p->n_conns = i + 1; /* so that close frees a half-opened one */
        sr_err e = conn_open(p, &p->conns[i], i == 0, d);
        if (e) {
            sr_profiles_close(p);
            return e;
        }
        p->idle[p->n_idle++] = &p->conns[i];
    }
    *out = p;
    return SR_OK;
}

void sr_profiles_close(sr_profiles *p) {
    if (!p) return;
    for (int i = p->n_conns - 1; i >= 0; i--) conn_close(&p->conns[i]);
    pthread_cond_destroy(&p->pool_cond);
    pthread_mutex_destroy(&p->write_lock);
    pthread_mutex_destroy(&p->pool_lock);
    sr_free(p->idle);
    sr_free(p->conns);
    sr_free(p->path);
    sr_free(p);
}

/* ---- create, delete ---- */

sr_err sr_profiles_create(sr_profiles *p, int64_t now, char token[SR_PROFILES_TOKEN_LEN + 1],
                          sr_diag *d) {
    unsigned char raw[TOKEN_BYTES], h[16];
    sr_err e = random_bytes(raw, sizeof raw, d);
    if (e) return e;
    static const char hex[] = "0123456789abcdef";
    char text[SR_PROFILES_TOKEN_LEN + 1];
    for (int i = 0; i < TOKEN_BYTES; i++) {
        text[2 * i] = hex[raw[i] >> 4];
        text[2 * i + 1] = hex[raw[i] & 15];
    }
    text[SR_PROFILES_TOKEN_LEN] = 0;
    token_hash(p, text, h);
    conn *c;
    e = txn_begin(p, true, &c, d);
    if (e) return e;
    sqlite3_stmt *st = c->st[ST_CREATE];
    sqlite3_bind_blob(st, 1, h, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = run(st);
    if (rc != SQLITE_OK) e = sql_fail(p, c, rc, d);
    e = txn_end(p, c, true, e, d);
    if (!e) memcpy(token, text, sizeof text);
    return e;
}

sr_err sr_profiles_delete(sr_profiles *p, const char *token, sr_diag *d) {
    unsigned char h[16];
    if (!token_hash(p, token, h)) return not_found(d);
    conn *c;
    sr_err e = txn_begin(p, true, &c, d);
    if (e) return e;
    sqlite3_stmt *st = c->st[ST_DELETE];
    sqlite3_bind_blob(st, 1, h, 16, SQLITE_STATIC);
    int rc = run(st);
    if (rc != SQLITE_OK)
        e = sql_fail(p, c, rc, d);
    else if (sqlite3_changes(c->db) == 0)
        e = not_found(d);
    return txn_end(p, c, true, e, d);
}

/* ---- names and keys ---- */

static sr_err check_name(const char *what, const char *s, sr_diag *d) {
    if (!s) return sr_diag_set(d, SR_E_INPUT, "%s is missing", what);
    size_t n = strnlen(s, SR_PROFILES_NAME_MAX + 1);
    if (n > SR_PROFILES_NAME_MAX)
        return sr_diag_set(d, SR_E_INPUT, "%s is longer than %d bytes", what, SR_PROFILES_NAME_MAX);
    if (!sr_utf8_valid(s, n)) return sr_diag_set(d, SR_E_INPUT, "%s is not valid UTF-8", what);
    /* Control characters: "\x1f" joins the key's parts, so no name may hold one. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return sr_diag_set(d, SR_E_INPUT, "%s contains a control character", what);
    return SR_OK;
}

/* Appends sr_normalize(s) to key; a blank name is an error unless blank_ok. */
static sr_err add_norm(sr_normbuf *nb, sr_buf *key, const char *what, const char *s, bool blank_ok,
                       sr_diag *d) {
    sr_str n;
    if (sr_normalize(sr_str_c(s), nb, &n)) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    if (n.n == 0 && !blank_ok) return sr_diag_set(d, SR_E_INPUT, "%s is blank", what);
    sr_buf_add(key, n.p, n.n);
    return SR_OK;
}

/* Checks artist (and track, when with_track) and appends their key and a NUL to key. A
 * song's artist may be blank (a song of items-only data, named by its track alone); an
 * artist on its own (an artist block) may not, and neither may a track. */
static sr_err make_key(sr_normbuf *nb, sr_buf *key, const char *artist, bool with_track,
                       const char *track, sr_diag *d) {
    sr_err e = check_name("artist", artist, d);
    if (!e && with_track) e = check_name("track", track, d);
    if (!e) e = add_norm(nb, key, "artist", artist, with_track, d);
    if (!e && with_track) {
        sr_buf_adds(key, SEP);
        e = add_norm(nb, key, "track", track, false, d);
    }
    sr_buf_addc(key, 0);
    if (!e && !sr_buf_ok(key)) e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
    return e;
}

/* ---- ratings ---- */

static sr_err check_rating(const sr_profile_rating *r, int64_t now, sr_diag *d) {
    if (!isfinite(r->rating)) return sr_diag_set(d, SR_E_INPUT, "rating is not a finite number");
    if (r->source != SR_PROFILE_RATED && r->source != SR_PROFILE_HISTORY)
        return sr_diag_set(d, SR_E_INPUT, "unknown rating source %d", (int)r->source);
    if (r->source == SR_PROFILE_RATED && r->plays != 0)
        return sr_diag_set(d, SR_E_INPUT, "a rating set by hand has no play count");
    /* A time from a clock a little ahead is fine; one from another year is a mistake. */
    if (r->added < 0 || (r->added > 0 && r->added - SR_PROFILES_ADDED_AHEAD > now))
        return sr_diag_set(d, SR_E_INPUT,
                           "added %lld is not a Unix time up to %d s after now (or 0: now)",
                           (long long)r->added, SR_PROFILES_ADDED_AHEAD);
    return SR_OK;
}

typedef struct rating_batch {
    const sr_profile_rating *r; /* (n) */
    size_t n;
    const char *keys; /* n NUL-terminated keys, one after another */
    bool replace_all;
    int64_t now;
} rating_batch;

static sr_err over_limit(const char *what, int64_t have, int limit, sr_diag *d) {
    return sr_diag_set(d, SR_E_LIMIT, "a profile holds at most %d %s (this would make %lld)", limit,
                       what, (long long)have);
}

static sr_err write_ratings(sr_profiles *p, conn *c, int64_t id, const void *arg, sr_diag *d) {
    const rating_batch *b = arg;
    int rc = SQLITE_OK;
    if (b->replace_all) {
        sqlite3_bind_int64(c->st[ST_RATING_CLEAR], 1, id);
        rc = run(c->st[ST_RATING_CLEAR]);
    }
    const char *key = b->keys;
    sqlite3_stmt *st = c->st[ST_RATING_SET];
    for (size_t i = 0; i < b->n && rc == SQLITE_OK; i++, key += strlen(key) + 1) {
        const sr_profile_rating *r = &b->r[i];
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, key);
        bind_text(st, 3, r->artist);
        bind_text(st, 4, r->track);
        sqlite3_bind_double(st, 5, r->rating);
        sqlite3_bind_int64(st, 6, r->plays);
        bind_text(st, 7, sr_profile_source_name(r->source));
        sqlite3_bind_int64(st, 8, r->added ? r->added : b->now);
        rc = run(st);
    }
    int64_t count = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(c->st[ST_RATING_COUNT], 1, id);
        rc = run_int(c->st[ST_RATING_COUNT], &count);
    }
    if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
    if (count > SR_PROFILES_MAX_RATINGS)
        return over_limit("ratings", count, SR_PROFILES_MAX_RATINGS, d);
    return SR_OK;
}

/* Checks every rating and computes its key into keys (before any lock is taken). */
static sr_err prepare_ratings(const sr_profile_rating *r, size_t n, int64_t now, sr_buf *keys,
                              sr_diag *d) {
    sr_normbuf nb = {0};
    sr_err e = SR_OK;
    for (size_t i = 0; i < n && !e; i++) {
        e = check_rating(&r[i], now, d);
        if (!e) e = make_key(&nb, keys, r[i].artist, true, r[i].track, d);
        if (e && d && n > 1) {
            char why[sizeof d->msg];
            memcpy(why, d->msg, sizeof why);
            sr_diag_set(d, e, "rating %zu: %s", i + 1, why);
        }
    }
    sr_normbuf_free(&nb);
    return e;
}

sr_err sr_profiles_set_ratings(sr_profiles *p, const char *token, const sr_profile_rating *r,
                               size_t n, bool replace_all, int64_t now, sr_diag *d) {
    sr_buf keys = SR_BUF_INIT;
    sr_err e = prepare_ratings(r, n, now, &keys, d);
    if (!e) {
        rating_batch b = {r, n, keys.p, replace_all, now};
        e = write_profile(p, token, now, write_ratings, &b, d);
    }
    sr_buf_free(&keys);
    return e;
}

sr_err sr_profiles_set_rating(sr_profiles *p, const char *token, const char *artist,
                              const char *track, double rating, uint32_t plays,
                              sr_profile_source source, int64_t now, sr_diag *d) {
    sr_profile_rating r = {
        .artist = artist, .track = track, .rating = rating, .plays = plays, .source = source};
    return sr_profiles_set_ratings(p, token, &r, 1, false, now, d);
}

typedef struct key_arg {
    const char *key;
    sr_profile_block_kind kind; /* blocks only */
    int64_t until, now;         /* blocks only */
    const char *artist, *track; /* blocks only */
} key_arg;

static sr_err delete_rating(sr_profiles *p, conn *c, int64_t id, const void *arg, sr_diag *d) {
    const key_arg *k = arg;
    sqlite3_stmt *st = c->st[ST_RATING_DELETE];
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, k->key);
    int rc = run(st);
    if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
    if (sqlite3_changes(c->db) == 0)
        return sr_diag_set(d, SR_E_NOTFOUND, "the profile has no rating for this song");
    return SR_OK;
}

sr_err sr_profiles_delete_rating(sr_profiles *p, const char *token, const char *artist,
                                 const char *track, int64_t now, sr_diag *d) {
    sr_normbuf nb = {0};
    sr_buf key = SR_BUF_INIT;
    sr_err e = make_key(&nb, &key, artist, true, track, d);
    sr_normbuf_free(&nb);
    if (!e) {
        key_arg k = {.key = key.p};
        e = write_profile(p, token, now, delete_rating, &k, d);
    }
    sr_buf_free(&key);
    return e;
}

static sr_err clear_ratings(sr_profiles *p, conn *c, int64_t id, const void *arg, sr_diag *d) {
    sqlite3_bind_int64(c->st[ST_RATING_CLEAR], 1, id);
    int rc = run(c->st[ST_RATING_CLEAR]);
    return rc == SQLITE_OK ? SR_OK : sql_fail(p, c, rc, d);
}

sr_err sr_profiles_clear_ratings(sr_profiles *p, const char *token, int64_t now, sr_diag *d) {
    return write_profile(p, token, now, clear_ratings, NULL, d);
}

/* ---- blocks ---- */

/* Checks a block's kind and names; its key into key. */
static sr_err block_key(sr_profile_block_kind kind, const char *artist, const char *track,
                        sr_buf *key, sr_diag *d) {
    if (kind != SR_PROFILE_BLOCK_SONG && kind != SR_PROFILE_BLOCK_ARTIST)
        return sr_diag_set(d, SR_E_INPUT, "unknown block kind %d", (int)kind);
    if (kind == SR_PROFILE_BLOCK_ARTIST && track && *track)
        return sr_diag_set(d, SR_E_INPUT, "an artist block takes no track");
    sr_normbuf nb = {0};
    sr_err e = make_key(&nb, key, artist, kind == SR_PROFILE_BLOCK_SONG, track, d);
    sr_normbuf_free(&nb);
    return e;
}

static sr_err add_block(sr_profiles *p, conn *c, int64_t id, const void *arg, sr_diag *d) {
    const key_arg *k = arg;
    sqlite3_stmt *st = c->st[ST_BLOCK_PURGE];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, k->now);
    int rc = run(st);
    if (rc == SQLITE_OK) {
        st = c->st[ST_BLOCK_SET];
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, sr_profile_block_kind_name(k->kind));
        bind_text(st, 3, k->key);
        bind_text(st, 4, k->artist);
        bind_text(st, 5, k->kind == SR_PROFILE_BLOCK_SONG ? k->track : "");
        sqlite3_bind_int64(st, 6, k->until);
        sqlite3_bind_int64(st, 7, k->now);
        rc = run(st);
    }
    int64_t count = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(c->st[ST_BLOCK_COUNT], 1, id);
        rc = run_int(c->st[ST_BLOCK_COUNT], &count);
    }
    if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
    if (count > SR_PROFILES_MAX_BLOCKS)
        return over_limit("blocks", count, SR_PROFILES_MAX_BLOCKS, d);
    return SR_OK;
}

sr_err sr_profiles_add_block(sr_profiles *p, const char *token, sr_profile_block_kind kind,
                             const char *artist, const char *track, int64_t until, int64_t now,
                             sr_diag *d) {
    if (until < 0 || (until != 0 && until <= now))
        return sr_diag_set(d, SR_E_INPUT, "a block must end after now (or never: 0)");
    sr_buf key = SR_BUF_INIT;
    sr_err e = block_key(kind, artist, track, &key, d);
    if (!e) {
        key_arg k = {key.p, kind, until, now, artist, track};
        e = write_profile(p, token, now, add_block, &k, d);
    }
    sr_buf_free(&key);
    return e;
}

static sr_err delete_block(sr_profiles *p, conn *c, int64_t id, const void *arg, sr_diag *d) {
    const key_arg *k = arg;
    sqlite3_stmt *st = c->st[ST_BLOCK_DELETE];
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, sr_profile_block_kind_name(k->kind));
    bind_text(st, 3, k->key);
    sqlite3_bind_int64(st, 4, k->now);
    int rc = run(st);
    if (rc != SQLITE_OK) return sql_fail(p, c, rc, d);
    if (sqlite3_changes(c->db) == 0)
        return sr_diag_set(d, SR_E_NOTFOUND, "the profile has no such %s block",
                           sr_profile_block_kind_name(k->kind));
    return SR_OK;
}

sr_err sr_profiles_delete_block(sr_profiles *p, const char *token, sr_profile_block_kind kind,
                                const char *artist, const char *track, int64_t now, sr_diag *d) {
    sr_buf key = SR_BUF_INIT;
    sr_err e = block_key(kind, artist, track, &key, d);
    if (!e) {
        key_arg k = {.key = key.p, .kind = kind, .now = now};
        e = write_profile(p, token, now, delete_block, &k, d);
    }
    sr_buf_free(&key);
    return e;
}

/* ---- get ---- */

/* A profile being read: its strings' bytes in one buffer, their offsets until the end
 * (three per rating, then three per block). */
typedef struct reader {
    sr_profile *pr;
    size_t cap_ratings, cap_blocks;
    sr_buf bytes;
    size_t *off; /* (n_off) */
    size_t n_off, cap_off;
    bool failed;
} reader;

/* Copies the first three columns of st (artist, track, key) into the reader. */
static void add_names(reader *rd, sqlite3_stmt *st) {
    for (int col = 0; col < 3; col++) {
        const char *s = (const char *)sqlite3_column_text(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        if (!s || sr_grow((void **)&rd->off, &rd->cap_off, rd->n_off + 1, sizeof *rd->off)) {
            rd->failed = true;
            return;
        }
        rd->off[rd->n_off++] = rd->bytes.n;
        sr_buf_add(&rd->bytes, s, n);
        sr_buf_addc(&rd->bytes, 0);
    }
}

typedef sr_err (*row_fn)(reader *rd, sqlite3_stmt *st, sr_diag *d);

/* Steps st (bound) to the end, calling row for each row. */
static sr_err read_rows(sr_profiles *p, conn *c, sqlite3_stmt *st, row_fn row, reader *rd,
                        sr_diag *d) {
    sr_err e = SR_OK;
    int rc = SQLITE_OK;
    while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) e = row(rd, st, d);
    if (!e && rc != SQLITE_DONE) e = sql_fail(p, c, rc, d);
    finish(st);
    return e;
}

static sr_err rating_row(reader *rd, sqlite3_stmt *st, sr_diag *d) {
    sr_profile *pr = rd->pr;
    if (sr_grow((void **)&pr->ratings, &rd->cap_ratings, pr->n_ratings + 1, sizeof *pr->ratings))
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    sr_profile_rating *r = &pr->ratings[pr->n_ratings++];
    memset(r, 0, sizeof *r);
    add_names(rd, st);
    r->rating = sqlite3_column_double(st, 3);
    r->plays = (uint32_t)sqlite3_column_int64(st, 4);
    r->added = sqlite3_column_int64(st, 6);
    if (!sr_profile_source_parse((const char *)sqlite3_column_text(st, 5), &r->source))
        return sr_diag_set(d, SR_E_CORRUPT, "a rating has an unknown source");
    return SR_OK;
}

static sr_err block_row(reader *rd, sqlite3_stmt *st, sr_diag *d) {
    sr_profile *pr = rd->pr;
    if (sr_grow((void **)&pr->blocks, &rd->cap_blocks, pr->n_blocks + 1, sizeof *pr->blocks))
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    sr_profile_block *b = &pr->blocks[pr->n_blocks++];
    memset(b, 0, sizeof *b);
    add_names(rd, st);
    b->until = sqlite3_column_int64(st, 4);
    b->added = sqlite3_column_int64(st, 5);
    if (!sr_profile_block_kind_parse((const char *)sqlite3_column_text(st, 3), &b->kind))
        return sr_diag_set(d, SR_E_CORRUPT, "a block has an unknown kind");
    return SR_OK;
}

/* Hands the bytes to the profile and points every string into them. */
static sr_err resolve_strings(reader *rd, sr_diag *d) {
    sr_profile *pr = rd->pr;
    if (!rd->failed) pr->strings = sr_buf_take(&rd->bytes, NULL);
    if (!pr->strings) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    const size_t *o = rd->off;
    for (size_t i = 0; i < pr->n_ratings; i++, o += 3) {
        pr->ratings[i].artist = pr->strings + o[0];
        pr->ratings[i].track = pr->strings + o[1];
        pr->ratings[i].key = pr->strings + o[2];
    }
    for (size_t i = 0; i < pr->n_blocks; i++, o += 3) {
        pr->blocks[i].artist = pr->strings + o[0];
        pr->blocks[i].track = pr->strings + o[1];
        pr->blocks[i].key = pr->strings + o[2];
    }
    return SR_OK;
}

static sr_err read_profile(sr_profiles *p, conn *c, const unsigned char h[16], int64_t now,
                           sr_profile *pr, sr_diag *d) {
    int64_t id = 0;
    sr_err e = find(p, c, h, &id, pr, d);
    if (e) return e;
    reader rd = {.pr = pr, .bytes = SR_BUF_INIT};
    sqlite3_stmt *st = c->st[ST_RATING_LIST];
    sqlite3_bind_int64(st, 1, id);
    e = read_rows(p, c, st, rating_row, &rd, d);
    if (!e) {
        st = c->st[ST_BLOCK_LIST];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
        e = read_rows(p, c, st, block_row, &rd, d);
    }
    if (!e) e = resolve_strings(&rd, d);
    sr_buf_free(&rd.bytes);
    sr_free(rd.off);
    return e;
}

void sr_profile_free(sr_profile *pr) {
    if (!pr) return;
    sr_free(pr->ratings);
    sr_free(pr->blocks);
    sr_free(pr->strings);
    memset(pr, 0, sizeof *pr);
}

sr_err sr_profiles_get(sr_profiles *p, const char *token, int64_t now, sr_profile *out,
                       sr_diag *d) {
    memset(out, 0, sizeof *out);
    unsigned char h[16];
    if (!token_hash(p, token, h)) return not_found(d);
    conn *c;
    sr_err e = txn_begin(p, false, &c, d);
    if (e) return e;
    e = read_profile(p, c, h, now, out, d);
    e = txn_end(p, c, false, e, d);
    if (e) sr_profile_free(out);
    return e;
}

/* The .srd dataset file (dataset.h; byte layout in docs/formats.md).
 *
 * A 64-byte header (magic, version, endianness mark, file size, section count, table
 * offset, XXH3-64 checksum of every byte after the header), a table of 32-byte section
 * entries, then the sections, each starting on a 64-byte boundary. Loading maps the
 * file read-only and checks, in order: magic, version, endianness, size, checksum, the
 * section table, and the structure the arrays must have (monotonic CSR pointers, ids in
 * range) — so a damaged file is refused with a message saying which, never trusted.
 *
 * Sections 1-18 are required. The per-listen events (19-21, `ingest --keep-listens`)
 * are optional: all three or none, so files written before them load unchanged (and
 * older readers skip them as unknown ids); when present, each event's pair must belong
 * to its user and a user's events must be in (time, pair) order with known times.
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "data/dataset.h"
#include "io/atomic.h"
#include "io/sectfile.h"
#include "util/csr.h"
#include "util/mem.h"

#define HEADER_SIZE SR_SECTFILE_HEADER
#define ENTRY_SIZE  32u
#define ALIGN       64u

static const sr_sectfile_kind file_kind = {
    .magic = "SRDATA\r\n",
    .version = 1,
    .noun = "dataset",
    .rewrite = "songrec ingest",
    .entry_size = ENTRY_SIZE,
    .max_sections = 1024u,
};

enum section_id {
    SEC_COUNTS = 1,
    SEC_META,
    SEC_USERS_OFF,
    SEC_USERS_DATA,
    SEC_ARTISTS_OFF,
    SEC_ARTISTS_DATA,
    SEC_TRACKS_OFF,
    SEC_TRACKS_DATA,
    SEC_SONG_ARTIST,
    SEC_SONG_MBID,
    SEC_USER_PTR,
    SEC_PAIR_SONG,
    SEC_PAIR_VALUE,
    SEC_PAIR_FIRST,
    SEC_PAIR_LAST,
    SEC_SONG_PTR,
    SEC_SONG_USER,
    SEC_SONG_PAIR,
    SEC__REQUIRED_END,
    SEC_EVENT_PTR = SEC__REQUIRED_END, /* optional from here: the per-listen events */
    SEC_EVENT_PAIR,
    SEC_EVENT_TIME,
    SEC__END
};
#define N_REQUIRED (SEC__REQUIRED_END - 1)
#define N_SECTIONS (SEC__END - 1)

enum { C_KIND, C_USERS, C_ARTISTS, C_SONGS, C_PAIRS, C_LISTENS, C_TS_MIN, C_TS_MAX, C__N };

typedef struct section {
    uint32_t id, elem;
    const void *data;
    uint64_t count;
} section;

/* Writes bytes to the file and the running checksum. */
static sr_err hwrite(sr_afile *f, XXH3_state_t *h, const void *p, size_t n) {
    XXH3_64bits_update(h, p, n);
    return sr_afile_write(f, p, n);
}

sr_err sr_dataset_save(const sr_dataset *ds, const char *path, sr_diag *d) {
    uint64_t counts[C__N] = {(uint64_t)ds->kind,   ds->n_users,         ds->n_artists,
                             ds->n_songs,          ds->n_pairs,         ds->n_listens,
                             (uint64_t)ds->ts_min, (uint64_t)ds->ts_max};
    const char *meta = ds->meta_json ? ds->meta_json : "{}";
    section secs[N_SECTIONS] = {
        {SEC_COUNTS, 8, counts, C__N},
        {SEC_META, 1, meta, strlen(meta)},
        {SEC_USERS_OFF, 8, ds->users.off, (uint64_t)ds->n_users + 1},
        {SEC_USERS_DATA, 1, ds->users.data, ds->users.off[ds->n_users]},
        {SEC_ARTISTS_OFF, 8, ds->artists.off, (uint64_t)ds->n_artists + 1},
        {SEC_ARTISTS_DATA, 1, ds->artists.data, ds->artists.off[ds->n_artists]},
        {SEC_TRACKS_OFF, 8, ds->tracks.off, (uint64_t)ds->n_songs + 1},
        {SEC_TRACKS_DATA, 1, ds->tracks.data, ds->tracks.off[ds->n_songs]},
        {SEC_SONG_ARTIST, 4, ds->song_artist, ds->n_songs},
        {SEC_SONG_MBID, 16, ds->song_mbid, ds->n_songs},
        {SEC_USER_PTR, 8, ds->user_ptr, (uint64_t)ds->n_users + 1},
        {SEC_PAIR_SONG, 4, ds->pair_song, ds->n_pairs},
        {SEC_PAIR_VALUE, 4, ds->pair_value, ds->n_pairs},
        {SEC_PAIR_FIRST, 4, ds->pair_first, ds->n_pairs},
        {SEC_PAIR_LAST, 4, ds->pair_last, ds->n_pairs},
        {SEC_SONG_PTR, 8, ds->song_ptr, (uint64_t)ds->n_songs + 1},
        {SEC_SONG_USER, 4, ds->song_user, ds->n_pairs},
        {SEC_SONG_PAIR, 4, ds->song_pair, ds->n_pairs},
        {SEC_EVENT_PTR, 8, ds->event_ptr, (uint64_t)ds->n_users + 1},
        {SEC_EVENT_PAIR, 4, ds->event_pair, ds->n_events},
        {SEC_EVENT_TIME, 4, ds->event_time, ds->n_events},
    };
    const int n_secs = ds->event_ptr ? N_SECTIONS : N_REQUIRED;
    unsigned char table[N_SECTIONS * ENTRY_SIZE];
    memset(table, 0, sizeof table);
    const size_t table_size = (size_t)n_secs * ENTRY_SIZE;
    uint64_t off = HEADER_SIZE + table_size;
    for (int i = 0; i < n_secs; i++) {
        off = (off + ALIGN - 1) / ALIGN * ALIGN;
        unsigned char *e = table + i * ENTRY_SIZE;
        sr_put32(e, secs[i].id);
        sr_put32(e + 4, secs[i].elem);
        sr_put64(e + 8, off);
        sr_put64(e + 16, secs[i].count);
        off += secs[i].count * secs[i].elem;
    }
    uint64_t file_size = off;

    sr_afile f;
    sr_err err = sr_afile_open(&f, path, d);
    if (err) return err;
    XXH3_state_t *h = XXH3_createState();
    if (!h) {
        sr_afile_abort(&f);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    XXH3_64bits_reset(h);
    unsigned char header[HEADER_SIZE];
    memset(header, 0, sizeof header);
    sr_afile_write(&f, header, sizeof header); /* placeholder, rewritten below */
    hwrite(&f, h, table, table_size);
    static const unsigned char zeros[ALIGN];
    uint64_t pos = HEADER_SIZE + table_size;
    for (int i = 0; i < n_secs; i++) {
        uint64_t at = sr_get64(table + i * ENTRY_SIZE + 8);
        hwrite(&f, h, zeros, (size_t)(at - pos));
        uint64_t n = secs[i].count * secs[i].elem;
        if (n) hwrite(&f, h, secs[i].data, (size_t)n);
        pos = at + n;
    }
    sr_sectfile_header(header, &file_kind, file_size, (uint32_t)n_secs, XXH3_64bits_digest(h));
    XXH3_freeState(h);
    sr_afile_pwrite(&f, header, sizeof header, 0);
    return sr_afile_commit(&f, d);
}

void sr_dataset_free(sr_dataset *ds) {
    if (!ds) return;
    if (ds->map) munmap(ds->map, ds->map_len);
    for (uint32_t i = 0; i < ds->n_owned; i++) sr_free(ds->owned[i]);
    sr_free(ds->owned);
    sr_free(ds->meta_json);
    sr_free(ds);
}

/* The events' structure: ptr (nu + 1) from 0 to ne, each event's pair one of its user's
 * (user_ptr), times > 0 and (time, pair) non-decreasing within a user. */
static bool events_ok(const uint64_t *ptr, const uint32_t *pair, const uint32_t *time, uint64_t nu,
                      uint64_t ne, const uint64_t *user_ptr) {
    if (!sr_csr_ptr_ok(ptr, nu, ne)) return false;
    for (uint64_t u = 0; u < nu; u++) {
        uint64_t prev = 0;
        for (uint64_t e = ptr[u]; e < ptr[u + 1]; e++) {
            const uint64_t key = (uint64_t)time[e] << 32 | pair[e];
            if (pair[e] < user_ptr[u] || pair[e] >= user_ptr[u + 1] || !time[e] || key < prev)
                return false;
            prev = key;
        }
    }
    return true;
}

/* Every pair value is a finite number (a play count or a rating). */
static bool values_ok(const float *v, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

/* The rating scale ingest --scale declared, from the meta's options ("scale": [lo, hi]);
 * none (0, 0) when absent or not two finite numbers in order. */
static void declared_scale(sr_dataset *ds) {
    json_t *m = json_loads(ds->meta_json, 0, NULL);
    json_t *sc = json_object_get(json_object_get(m, "options"), "scale");
    double lo = json_number_value(json_array_get(sc, 0));
    double hi = json_number_value(json_array_get(sc, 1));
    if (json_array_size(sc) == 2 && isfinite(lo) && isfinite(hi) && lo < hi)
        ds->scale_lo = lo, ds->scale_hi = hi;
    json_decref(m);
}

sr_err sr_dataset_load(const char *path, sr_dataset **out, sr_diag *d) {
    *out = NULL;
    void *map;
    uint64_t size;
    sr_err err = sr_sectfile_map(path, &file_kind, true, &map, &size, d);
    if (err) return err;
    const unsigned char *b = map;
    sr_dataset *ds = NULL;
    uint32_t nsec;
    uint64_t toff;
    if ((err = sr_sectfile_check(b, size, path, &file_kind, &nsec, &toff, d))) goto fail;
    const void *sec[SEC__END] = {0};
    uint64_t cnt[SEC__END] = {0};
    static const uint32_t elem[SEC__END] = {
        [SEC_COUNTS] = 8,      [SEC_META] = 1,         [SEC_USERS_OFF] = 8,  [SEC_USERS_DATA] = 1,
        [SEC_ARTISTS_OFF] = 8, [SEC_ARTISTS_DATA] = 1, [SEC_TRACKS_OFF] = 8, [SEC_TRACKS_DATA] = 1,
        [SEC_SONG_ARTIST] = 4, [SEC_SONG_MBID] = 16,   [SEC_USER_PTR] = 8,   [SEC_PAIR_SONG] = 4,
        [SEC_PAIR_VALUE] = 4,  [SEC_PAIR_FIRST] = 4,   [SEC_PAIR_LAST] = 4,  [SEC_SONG_PTR] = 8,
        [SEC_SONG_USER] = 4,   [SEC_SONG_PAIR] = 4,    [SEC_EVENT_PTR] = 8,  [SEC_EVENT_PAIR] = 4,
        [SEC_EVENT_TIME] = 4};
    /* Sections lie one after another from the table, each at the next multiple of ALIGN,
     * the last ending the file — where the writer puts them; so the section count (in the
     * header, outside the checksum) cannot drop a section unnoticed. */
    uint64_t end = toff + (uint64_t)nsec * ENTRY_SIZE;
    for (uint32_t i = 0; i < nsec; i++) {
        const unsigned char *e = b + toff + (uint64_t)i * ENTRY_SIZE;
        uint32_t id = sr_get32(e), el = sr_get32(e + 4);
        uint64_t off = sr_get64(e + 8), count = sr_get64(e + 16);
        if (el == 0 || off != (end + ALIGN - 1) / ALIGN * ALIGN || off > size ||
            count > (size - off) / el) {
            err = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt section table (entry %u)", path, i);
            goto fail;
        }
        end = off + count * el;
        if (id == 0 || id >= SEC__END) continue; /* unknown sections of a later minor change */
        if (el != elem[id] || sec[id]) {
            err = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt section %u", path, id);
            goto fail;
        }
        sec[id] = b + off;
        cnt[id] = count;
    }
    if (end != size) {
        err = sr_diag_set(d, SR_E_CORRUPT, "%s: data after the last section", path);
        goto fail;
    }
    for (int id = 1; id < SEC__REQUIRED_END; id++)
        if (!sec[id]) {
            err = sr_diag_set(d, SR_E_CORRUPT, "%s: section %d missing", path, id);
            goto fail;
        }
    const bool has_events = sec[SEC_EVENT_PTR] != NULL;
    if (has_events != (sec[SEC_EVENT_PAIR] != NULL) ||
        has_events != (sec[SEC_EVENT_TIME] != NULL)) {
        err = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt events (sections %d-%d: some missing)",
                          path, SEC_EVENT_PTR, SEC_EVENT_TIME);
        goto fail;
    }
    if (cnt[SEC_COUNTS] < C__N) {
        err = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt counts", path);
        goto fail;
    }
    uint64_t c[C__N];
    memcpy(c, sec[SEC_COUNTS], sizeof c);
    ds = sr_calloc(1, sizeof *ds);
    if (!ds) {
        err = sr_diag_set(d, SR_E_NOMEM, "out of memory");
        goto fail;
    }
    ds->map = map;
    ds->map_len = size;
    map = NULL;
    uint64_t nu = c[C_USERS], na = c[C_ARTISTS], ns = c[C_SONGS], np = c[C_PAIRS];
    bool ok = c[C_KIND] <= 1 && nu < UINT32_MAX && na < UINT32_MAX && ns < UINT32_MAX &&
              np < UINT32_MAX && cnt[SEC_USERS_OFF] == nu + 1 && cnt[SEC_ARTISTS_OFF] == na + 1 &&
              cnt[SEC_TRACKS_OFF] == ns + 1 && cnt[SEC_SONG_ARTIST] == ns &&
              cnt[SEC_SONG_MBID] == ns && cnt[SEC_USER_PTR] == nu + 1 && cnt[SEC_PAIR_SONG] == np &&
              cnt[SEC_PAIR_VALUE] == np && cnt[SEC_PAIR_FIRST] == np && cnt[SEC_PAIR_LAST] == np &&
              cnt[SEC_SONG_PTR] == ns + 1 && cnt[SEC_SONG_USER] == np && cnt[SEC_SONG_PAIR] == np;
    if (ok) {
        ok = sr_csr_ptr_ok(sec[SEC_USERS_OFF], nu, cnt[SEC_USERS_DATA]) &&
             sr_csr_ptr_ok(sec[SEC_ARTISTS_OFF], na, cnt[SEC_ARTISTS_DATA]) &&
             sr_csr_ptr_ok(sec[SEC_TRACKS_OFF], ns, cnt[SEC_TRACKS_DATA]) &&
             sr_csr_ptr_ok(sec[SEC_USER_PTR], nu, np) && sr_csr_ptr_ok(sec[SEC_SONG_PTR], ns, np) &&
             sr_csr_ids_ok(sec[SEC_SONG_ARTIST], ns, na) &&
             sr_csr_ids_ok(sec[SEC_PAIR_SONG], np, ns) &&
             sr_csr_ids_ok(sec[SEC_SONG_USER], np, nu) &&
             sr_csr_ids_ok(sec[SEC_SONG_PAIR], np, np) && values_ok(sec[SEC_PAIR_VALUE], np);
    }
    if (!ok) {
        err = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt (inconsistent arrays)", path);
        goto fail;
    }
    const uint64_t ne = cnt[SEC_EVENT_PAIR];
    if (has_events && (cnt[SEC_EVENT_PTR] != nu + 1 || cnt[SEC_EVENT_TIME] != ne ||
                       !events_ok(sec[SEC_EVENT_PTR], sec[SEC_EVENT_PAIR], sec[SEC_EVENT_TIME], nu,
                                  ne, sec[SEC_USER_PTR]))) {
        err = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt events (inconsistent arrays)", path);
        goto fail;
    }
    ds->kind = (sr_value_kind)c[C_KIND];
    ds->n_users = (uint32_t)nu;
    ds->n_artists = (uint32_t)na;
    ds->n_songs = (uint32_t)ns;
    ds->n_pairs = np;
    ds->n_listens = c[C_LISTENS];
    ds->ts_min = (int64_t)c[C_TS_MIN];
    ds->ts_max = (int64_t)c[C_TS_MAX];
    ds->users = (sr_strtab){(uint32_t)nu, sec[SEC_USERS_OFF], sec[SEC_USERS_DATA]};
    ds->artists = (sr_strtab){(uint32_t)na, sec[SEC_ARTISTS_OFF], sec[SEC_ARTISTS_DATA]};
    ds->tracks = (sr_strtab){(uint32_t)ns, sec[SEC_TRACKS_OFF], sec[SEC_TRACKS_DATA]};
    ds->song_artist = sec[SEC_SONG_ARTIST];
    ds->song_mbid = sec[SEC_SONG_MBID];
    ds->user_ptr = sec[SEC_USER_PTR];
    ds->pair_song = sec[SEC_PAIR_SONG];
    ds->pair_value = sec[SEC_PAIR_VALUE];
    ds->pair_first = sec[SEC_PAIR_FIRST];
    ds->pair_last = sec[SEC_PAIR_LAST];
    ds->song_ptr = sec[SEC_SONG_PTR];
    ds->song_user = sec[SEC_SONG_USER];
    ds->song_pair = sec[SEC_SONG_PAIR];
    if (has_events) {
        ds->n_events = ne;
        ds->event_ptr = sec[SEC_EVENT_PTR];
        ds->event_pair = sec[SEC_EVENT_PAIR];
        ds->event_time = sec[SEC_EVENT_TIME];
    }
    ds->meta_json = sr_strndup(sec[SEC_META], (size_t)cnt[SEC_META]);
    if (!ds->meta_json) {
        err = sr_diag_set(d, SR_E_NOMEM, "out of memory");
        goto fail;
    }
    declared_scale(ds);
    madvise(ds->map, ds->map_len, MADV_WILLNEED);
    *out = ds;
    return SR_OK;
fail:
    if (map) munmap(map, size);
    sr_dataset_free(ds);
    return err;
}

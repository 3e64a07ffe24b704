/* The dataset builder (builder.h). */
#include "data/builder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/normalize.h"
#include "util/hmap.h"
#include "util/mem.h"
#include "util/strmap.h"
#include "util/strvec.h"

typedef struct rec {
    uint32_t user, song, ts;
    float value;
} rec;

struct sr_builder {
    sr_build_opts o;
    bool kind_set;
    sr_value_kind kind;
    sr_strmap users;
    uint32_t last_user;    /* id of the previous listen's user */
    sr_str last_user_name; /* into users' blob; refreshed on every intern */
    bool has_last_user;
    sr_hmap raw_index;       /* 128-bit hash of a raw key -> raw id (the hot path) */
    sr_strvec raw;           /* raw keys "artist\x1ftrack[\x1fmbid]" as given, by raw id */
    uint32_t *raw_song;      /* (raw.n) */
    uint32_t *raw_aspell;    /* (raw.n) artist spelling id */
    uint64_t *raw_count;     /* (raw.n) plays */
    size_t raw_cap;          /* of raw_song */
    size_t raw_side_cap;     /* of raw_aspell and raw_count */
    sr_strmap aspell;        /* artist spelling as given -> id */
    uint32_t *aspell_artist; /* (aspell.n) */
    size_t aspell_cap;
    sr_strmap artist_keys; /* normalised artist -> artist id */
    sr_strmap song_keys;   /* artist id (4 bytes) + normalised track, or "M"+mbid */
    uint32_t *song_artist; /* (song_keys.n) */
    uint8_t *song_mbid;    /* (song_keys.n, 16) */
    size_t song_cap;
    rec *recs;
    size_t n_recs, recs_cap;
    int64_t ts_min, ts_max;
    sr_normbuf nb;
    char *key;
    size_t key_cap;
    sr_build_stats st;
};

sr_err sr_builder_new(const sr_build_opts *o, sr_builder **out) {
    *out = NULL;
    sr_builder *b = sr_calloc(1, sizeof *b);
    if (!b) return SR_E_NOMEM;
    if (o) b->o = *o;
    sr_strvec_init(&b->raw);
    if (sr_strmap_init(&b->users) || sr_hmap_init(&b->raw_index) || sr_strmap_init(&b->aspell) ||
        sr_strmap_init(&b->artist_keys) || sr_strmap_init(&b->song_keys)) {
        sr_builder_free(b);
        return SR_E_NOMEM;
    }
    *out = b;
    return SR_OK;
}

void sr_builder_free(sr_builder *b) {
    if (!b) return;
    sr_strmap_deinit(&b->users);
    sr_strvec_deinit(&b->raw);
    sr_hmap_deinit(&b->raw_index);
    sr_strmap_deinit(&b->aspell);
    sr_strmap_deinit(&b->artist_keys);
    sr_strmap_deinit(&b->song_keys);
    sr_free(b->raw_song);
    sr_free(b->raw_aspell);
    sr_free(b->raw_count);
    sr_free(b->aspell_artist);
    sr_free(b->song_artist);
    sr_free(b->song_mbid);
    sr_free(b->recs);
    sr_free(b->key);
    sr_normbuf_free(&b->nb);
    sr_free(b);
}

/* Makes b->key hold at least n bytes. */
static int key_reserve(sr_builder *b, size_t n) {
    return sr_grow((void **)&b->key, &b->key_cap, n, 1);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void mbid_bytes(sr_str m, uint8_t out[16]) {
    int k = 0;
    for (size_t i = 0; i < m.n && k < 32; i++) {
        int v = hexval(m.p[i]);
        if (v < 0) continue;
        if (k % 2 == 0)
            out[k / 2] = (uint8_t)(v << 4);
        else
            out[k / 2] |= (uint8_t)v;
        k++;
    }
}

/* Resolves a new raw spelling to its song (and artist spelling). */
static sr_err resolve_raw(sr_builder *b, const sr_listen *l, uint32_t raw_id) {
    sr_err e;
    if (sr_grow((void **)&b->raw_song, &b->raw_cap, (size_t)raw_id + 1, sizeof(uint32_t)))
        return SR_E_NOMEM;
    if (b->raw_cap != b->raw_side_cap) { /* raw_song grew: grow its two companions */
        size_t cap = b->raw_cap;
        uint32_t *as = sr_reallocarray(b->raw_aspell, cap, sizeof *as);
        if (!as) return SR_E_NOMEM;
        b->raw_aspell = as;
        uint64_t *rc = sr_reallocarray(b->raw_count, cap, sizeof *rc);
        if (!rc) return SR_E_NOMEM;
        b->raw_count = rc;
        b->raw_side_cap = cap;
    }
    b->raw_count[raw_id] = 0;

    /* Artist spelling -> artist. */
    uint32_t sp;
    int inserted;
    if ((e = sr_strmap_intern(&b->aspell, l->artist, &sp, &inserted))) return e;
    if (inserted) {
        if (sr_grow((void **)&b->aspell_artist, &b->aspell_cap, (size_t)sp + 1, sizeof(uint32_t)))
            return SR_E_NOMEM;
        sr_str akey;
        if ((e = sr_normalize(l->artist, &b->nb, &akey))) return e;
        uint32_t artist;
        if ((e = sr_strmap_intern(&b->artist_keys, akey, &artist, NULL))) return e;
        b->aspell_artist[sp] = artist;
    }
    b->raw_aspell[raw_id] = sp;
    uint32_t artist = b->aspell_artist[sp];

    /* Song key. */
    sr_str skey;
    bool by_mbid = b->o.song_key == SR_SONG_KEY_MBID && l->recording_mbid.n == 36;
    if (by_mbid) {
        if (key_reserve(b, 37)) return SR_E_NOMEM;
        b->key[0] = 'M';
        for (int i = 0; i < 36; i++) {
            char c = l->recording_mbid.p[i];
            b->key[1 + i] = (char)(c >= 'A' && c <= 'F' ? c + 32 : c);
        }
        skey = (sr_str){b->key, 37};
    } else {
        sr_str tkey;
        if ((e = sr_normalize(l->track, &b->nb, &tkey))) return e;
        if (key_reserve(b, tkey.n + 5)) return SR_E_NOMEM;
        b->key[0] = 'N';
        memcpy(b->key + 1, &artist, 4);
        memcpy(b->key + 5, tkey.p, tkey.n);
        skey = (sr_str){b->key, tkey.n + 5};
    }
    uint32_t song;
    if ((e = sr_strmap_intern(&b->song_keys, skey, &song, &inserted))) return e;
    if (inserted) {
        size_t old = b->song_cap;
        if (sr_grow((void **)&b->song_artist, &b->song_cap, (size_t)song + 1, sizeof(uint32_t)))
            return SR_E_NOMEM;
        if (b->song_cap != old) {
            uint8_t *m = sr_reallocarray(b->song_mbid, b->song_cap, 16);
            if (!m) return SR_E_NOMEM;
            b->song_mbid = m;
        }
        b->song_artist[song] = artist;
        memset(b->song_mbid + (size_t)song * 16, 0, 16);
    }
    if (l->recording_mbid.n == 36) {
        uint8_t *m = b->song_mbid + (size_t)song * 16;
        static const uint8_t zero[16];
        if (!memcmp(m, zero, 16)) mbid_bytes(l->recording_mbid, m);
    }
    b->raw_song[raw_id] = song;
    return SR_OK;
}

/* Writes the raw spelling key of l (artist \x1f track [\x1f mbid]) into b->key and
 * returns its length, or 0 when out of memory. */
static size_t raw_key(sr_builder *b, const sr_listen *l) {
    bool with_mbid = b->o.song_key == SR_SONG_KEY_MBID && l->recording_mbid.n == 36;
    size_t n = l->artist.n + 1 + l->track.n + (with_mbid ? 37 : 0);
    if (key_reserve(b, n)) return 0;
    if (l->artist.n) memcpy(b->key, l->artist.p, l->artist.n);
    b->key[l->artist.n] = 0x1f;
    memcpy(b->key + l->artist.n + 1, l->track.p, l->track.n);
    if (with_mbid) {
        b->key[l->artist.n + 1 + l->track.n] = 0x1f;
        memcpy(b->key + l->artist.n + 2 + l->track.n, l->recording_mbid.p, 36);
    }
    return n;
}

/* Adds l, whose raw key hashes to h. */
static sr_err add_hashed(sr_builder *b, const sr_listen *l, sr_value_kind kind, sr_h128 h) {
    sr_err e;
    b->st.added++;
    if (!b->kind_set) {
        b->kind_set = true;
        b->kind = kind;
    } else if (b->kind != kind) {
        return SR_E_INPUT;
    }
    if (l->ts != SR_TS_NONE) {
        if ((b->o.since && l->ts < b->o.since) || (b->o.until && l->ts >= b->o.until)) {
            b->st.out_of_window++;
            return SR_OK;
        }
    }
    /* Listens often come in runs of one user: check the previous one first. */
    uint32_t user = b->last_user;
    if (!(b->has_last_user && l->user.n == b->last_user_name.n &&
          !memcmp(l->user.p, b->last_user_name.p, l->user.n))) {
        if ((e = sr_strmap_intern(&b->users, l->user, &user, NULL))) return e;
        b->last_user = user;
        b->last_user_name = sr_strmap_get(&b->users, user);
        b->has_last_user = true;
    }
    uint32_t raw;
    if (!sr_hmap_get(&b->raw_index, h, &raw)) {
        size_t n = raw_key(b, l);
        if (!n) return SR_E_NOMEM;
        raw = b->raw.n;
        if ((e = sr_strvec_push(&b->raw, (sr_str){b->key, n}))) return e;
        if ((e = sr_hmap_put(&b->raw_index, h, raw))) return e;
        if ((e = resolve_raw(b, l, raw))) return e;
    }
    uint32_t song = b->raw_song[raw];
    b->raw_count[raw] += l->value > 0 && l->value < 1e9 ? (uint64_t)l->value : 1;

    if (b->n_recs == b->recs_cap &&
        sr_grow((void **)&b->recs, &b->recs_cap, b->n_recs + 1, sizeof(rec)))
        return SR_E_NOMEM;
    uint32_t ts = 0;
    if (l->ts != SR_TS_NONE && l->ts > 0 && l->ts <= UINT32_MAX) {
        ts = (uint32_t)l->ts;
        if (!b->ts_min || l->ts < b->ts_min) b->ts_min = l->ts;
        if (l->ts > b->ts_max) b->ts_max = l->ts;
    }
    b->recs[b->n_recs++] = (rec){user, song, ts, (float)l->value};
    return SR_OK;
}

sr_err sr_builder_add(void *builder, const sr_listen *l, sr_value_kind kind) {
    sr_builder *b = builder;
    size_t n = raw_key(b, l);
    if (!n) return SR_E_NOMEM;
    return add_hashed(b, l, kind, sr_hash128(b->key, n));
}

sr_err sr_builder_add_batch(void *builder, const sr_listen *ls, const uint8_t *kinds, size_t n) {
    /* Software pipelining: hash listen i and prefetch its slot in the spelling index
     * while adding listen i - AHEAD, so the cache misses of the lookups overlap. */
    enum { AHEAD = 16 };
    sr_builder *b = builder;
    sr_h128 h[AHEAD];
    for (size_t i = 0; i < n + AHEAD; i++) {
        if (i >= AHEAD) { /* first use slot i % AHEAD, then refill it */
            size_t j = i - AHEAD;
            sr_err e = add_hashed(b, &ls[j], (sr_value_kind)kinds[j], h[j % AHEAD]);
            if (e) return e;
        }
        if (i < n) {
            size_t k = raw_key(b, &ls[i]);
            if (!k) return SR_E_NOMEM;
            h[i % AHEAD] = sr_hash128(b->key, k);
            sr_hmap_prefetch(&b->raw_index, h[i % AHEAD]);
        }
    }
    return SR_OK;
}

static inline uint64_t rec_key(const rec *r) {
    return (uint64_t)r->song << 32 | r->ts;
}

/* Sorts one user's records by (song, time), stably: LSD radix sort on the 64-bit key,
 * skipping the bytes every key shares (the high bytes of song ids usually), with
 * insertion sort for short runs. tmp holds at least n records. Stability means that,
 * at equal times, the record read later stays later (and so a later rating wins). */
static void sort_user(rec *a, rec *tmp, size_t n) {
    if (n < 48) {
        for (size_t i = 1; i < n; i++) {
            rec v = a[i];
            uint64_t k = rec_key(&v);
            size_t j = i;
            while (j > 0 && rec_key(&a[j - 1]) > k) a[j] = a[j - 1], j--;
            a[j] = v;
        }
        return;
    }
    uint64_t any = 0, all = ~0ull;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = rec_key(&a[i]);
        any |= k;
        all &= k;
    }
    uint64_t varies = any ^ all;
    rec *src = a, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if (!((varies >> shift) & 0xff)) continue;
        size_t pos[256] = {0};
        for (size_t i = 0; i < n; i++) pos[(rec_key(&src[i]) >> shift) & 0xff]++;
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = pos[b];
            pos[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[pos[(rec_key(&src[i]) >> shift) & 0xff]++] = src[i];
        rec *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

static int cmp_u64_desc(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

/* Growable list of owned allocations of the dataset. */
static void *own(sr_dataset *ds, void *p) {
    if (!p) return NULL;
    void **o = sr_reallocarray(ds->owned, ds->n_owned + 1, sizeof *o);
    if (!o) {
        sr_free(p);
        return NULL;
    }
    ds->owned = o;
    o[ds->n_owned++] = p;
    return p;
}

/* Builds a string table from n strings given by a callback-free pair of arrays. */
static sr_err make_strtab(sr_dataset *ds, sr_strtab *t, uint32_t n, const sr_str *strs) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += strs[i].n;
    uint64_t *off = own(ds, sr_mallocarray((size_t)n + 1, sizeof *off));
    char *data = own(ds, sr_malloc(total ? total : 1));
    if (!off || !data) return SR_E_NOMEM;
    uint64_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        off[i] = k;
        if (strs[i].n) memcpy(data + k, strs[i].p, strs[i].n);
        k += strs[i].n;
    }
    off[n] = k;
    t->n = n;
    t->off = off;
    t->data = data;
    return SR_OK;
}

/* Sorts n 64-bit keys ascending: LSD radix sort skipping the bytes every key shares,
 * insertion sort for short runs. tmp holds at least n keys. */
static void sort_u64(uint64_t *a, uint64_t *tmp, size_t n) {
    if (n < 48) {
        for (size_t i = 1; i < n; i++) {
            uint64_t v = a[i];
            size_t j = i;
            while (j > 0 && a[j - 1] > v) a[j] = a[j - 1], j--;
            a[j] = v;
        }
        return;
    }
    uint64_t any = 0, all = ~0ull;
    for (size_t i = 0; i < n; i++) any |= a[i], all &= a[i];
    uint64_t varies = any ^ all;
    uint64_t *src = a, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if (!((varies >> shift) & 0xff)) continue;
        size_t pos[256] = {0};
        for (size_t i = 0; i < n; i++) pos[(src[i] >> shift) & 0xff]++;
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = pos[b];
            pos[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[pos[(src[i] >> shift) & 0xff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

/* The events of the kept pairs as ds's event CSR: packed (time << 32 | old pair),
 * user-major with ev_uptr[u + 1] of old user u; renumbered through pair_new and
 * user_new (a kept pair's user is kept), compacted in place, sorted by (time, pair)
 * within each user and split into event_pair and event_time. */
static sr_err keep_events(sr_dataset *ds, uint64_t *packed, const uint64_t *ev_uptr,
                          uint32_t n_users0, const uint32_t *user_new, const uint32_t *pair_new) {
    uint64_t *ptr = own(ds, sr_calloc((size_t)ds->n_users + 1, sizeof *ptr));
    if (!ptr) return SR_E_NOMEM;
    uint64_t r = 0, w = 0;
    for (uint32_t u = 0; u < n_users0; u++)
        for (uint64_t end = r + ev_uptr[u + 1]; r < end; r++) {
            const uint32_t p = pair_new[(uint32_t)packed[r]];
            if (p == UINT32_MAX) continue;
            packed[w++] = (packed[r] & ~(uint64_t)UINT32_MAX) | p;
            ptr[user_new[u] + 1]++;
        }
    size_t biggest = 0;
    for (uint32_t u = 0; u < ds->n_users; u++) {
        if (ptr[u + 1] > biggest) biggest = (size_t)ptr[u + 1];
        ptr[u + 1] += ptr[u];
    }
    uint32_t *pair = own(ds, sr_mallocarray(w ? w : 1, sizeof *pair));
    uint32_t *time = own(ds, sr_mallocarray(w ? w : 1, sizeof *time));
    uint64_t *tmp = sr_mallocarray(biggest ? biggest : 1, sizeof *tmp);
    if (!pair || !time || !tmp) {
        sr_free(tmp);
        return SR_E_NOMEM;
    }
    for (uint32_t u = 0; u < ds->n_users; u++)
        sort_u64(packed + ptr[u], tmp, (size_t)(ptr[u + 1] - ptr[u]));
    sr_free(tmp);
    for (uint64_t k = 0; k < w; k++) {
        pair[k] = (uint32_t)packed[k];
        time[k] = (uint32_t)(packed[k] >> 32);
    }
    ds->n_events = w;
    ds->event_ptr = ptr;
    ds->event_pair = pair;
    ds->event_time = time;
    return SR_OK;
}

sr_err sr_builder_finish(sr_builder *b, const char *meta_json, sr_dataset **out, sr_build_stats *st,
                         sr_diag *d) {
    *out = NULL;
    sr_err e = SR_OK;
    const uint32_t n_users0 = b->users.n, n_songs0 = b->song_keys.n, n_artists0 = b->artist_keys.n;
    b->st.spellings = b->raw.n;
    sr_dataset *ds = sr_calloc(1, sizeof *ds);
    rec *sorted = NULL;
    uint64_t *uptr = NULL;
    uint32_t *p_song = NULL, *p_first = NULL, *p_last = NULL, *p_user = NULL;
    float *p_val = NULL;
    uint8_t *keep_song = NULL;
    uint32_t *song_new = NULL, *user_new = NULL, *artist_new = NULL;
    uint64_t *song_total = NULL;
    sr_str *strs = NULL;
    uint64_t *ev_uptr = NULL, *events = NULL; /* keep_listens: per user0 counts, packed */
    uint32_t *pair_new = NULL;                /* keep_listens: old pair -> kept pair */
    if (!ds) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    ds->kind = b->kind;

    sr_logf(b->o.log, SR_LOG_DEBUG, "sorting %zu listens", b->n_recs);
    /* 1. Counting sort by user, then by (song, time) within each user. */
    uptr = sr_calloc((size_t)n_users0 + 1, sizeof *uptr);
    sorted = sr_mallocarray(b->n_recs ? b->n_recs : 1, sizeof *sorted);
    if (!uptr || !sorted) goto nomem;
    for (size_t i = 0; i < b->n_recs; i++) uptr[b->recs[i].user + 1]++;
    for (uint32_t u = 0; u < n_users0; u++) uptr[u + 1] += uptr[u];
    {
        uint64_t *pos = sr_mallocarray((size_t)n_users0 + 1, sizeof *pos);
        if (!pos) goto nomem;
        memcpy(pos, uptr, ((size_t)n_users0 + 1) * sizeof *pos);
        for (size_t i = 0; i < b->n_recs; i++) sorted[pos[b->recs[i].user]++] = b->recs[i];
        sr_free(pos);
    }
    sr_free(b->recs);
    b->recs = NULL;
    {
        size_t biggest = 0;
        for (uint32_t u = 0; u < n_users0; u++)
            if (uptr[u + 1] - uptr[u] > biggest) biggest = (size_t)(uptr[u + 1] - uptr[u]);
        rec *tmp = sr_mallocarray(biggest ? biggest : 1, sizeof *tmp);
        if (!tmp) goto nomem;
        for (uint32_t u = 0; u < n_users0; u++) {
            sort_user(sorted + uptr[u], tmp, (size_t)(uptr[u + 1] - uptr[u]));
            if ((u & 1023) == 0) sr_progress(b->o.log, "sort", u, n_users0);
        }
        sr_free(tmp);
    }
    sr_progress(b->o.log, "sort", n_users0, n_users0);

    /* 2. Aggregate into pairs (user-major). With keep_listens each kept record of known
     * time becomes an event (time << 32 | pair), written 8 bytes each over the records
     * already read (event e lies below record e's end), so the previous record's song
     * and time are kept aside rather than read back. */
    const bool keep_ev = b->o.keep_listens;
    size_t n_pairs = 0;
    uint64_t n_ev = 0;
    if (keep_ev && b->n_recs >= UINT32_MAX) {
        e = sr_diag_set(d, SR_E_LIMIT, "too many listens to keep as events (%zu)", b->n_recs);
        goto fail;
    }
    if (keep_ev && !(ev_uptr = sr_calloc((size_t)n_users0 + 1, sizeof *ev_uptr))) goto nomem;
    p_user = sr_mallocarray(b->n_recs ? b->n_recs : 1, sizeof *p_user);
    p_song = sr_mallocarray(b->n_recs ? b->n_recs : 1, sizeof *p_song);
    p_val = sr_mallocarray(b->n_recs ? b->n_recs : 1, sizeof *p_val);
    p_first = sr_mallocarray(b->n_recs ? b->n_recs : 1, sizeof *p_first);
    p_last = sr_mallocarray(b->n_recs ? b->n_recs : 1, sizeof *p_last);
    if (!p_user || !p_song || !p_val || !p_first || !p_last) goto nomem;
    for (uint32_t u = 0; u < n_users0; u++) {
        uint32_t prev_song = 0, prev_ts = 0;
        for (uint64_t i = uptr[u]; i < uptr[u + 1]; i++) {
            const rec r = sorted[i];
            bool same_pair = i > uptr[u] && prev_song == r.song;
            bool dup = same_pair && prev_ts == r.ts;
            prev_song = r.song, prev_ts = r.ts;
            if (dup && b->kind == SR_VALUE_PLAYS && !b->o.keep_duplicates && r.ts) {
                b->st.duplicates++;
                continue;
            }
            if (same_pair) {
                size_t p = n_pairs - 1;
                if (b->kind == SR_VALUE_PLAYS)
                    p_val[p] += r.value;
                else
                    p_val[p] = r.value; /* latest rating: by time, then input order */
                if (r.ts && (!p_first[p] || r.ts < p_first[p])) p_first[p] = r.ts;
                if (r.ts > p_last[p]) p_last[p] = r.ts;
            } else {
                p_user[n_pairs] = u;
                p_song[n_pairs] = r.song;
                p_val[n_pairs] = r.value;
                p_first[n_pairs] = r.ts;
                p_last[n_pairs] = r.ts;
                n_pairs++;
            }
            if (keep_ev && r.ts) {
                const uint64_t ev = (uint64_t)r.ts << 32 | (uint64_t)(n_pairs - 1);
                memcpy((unsigned char *)sorted + n_ev * sizeof ev, &ev, sizeof ev);
                n_ev++;
                ev_uptr[u + 1]++;
            }
        }
    }
    if (keep_ev) { /* the packed events stay; the records are gone */
        uint64_t *evs = sr_realloc(sorted, n_ev ? n_ev * sizeof *evs : 1);
        if (!evs) goto nomem;
        events = evs;
    } else {
        sr_free(sorted);
    }
    sorted = NULL;

    /* 3. Filters, in order: top songs, min song listeners, min user listens. */
    keep_song = sr_malloc((size_t)n_songs0 + 1);
    song_total = sr_calloc((size_t)n_songs0 + 1, sizeof *song_total);
    if (!keep_song || !song_total) goto nomem;
    memset(keep_song, 1, (size_t)n_songs0 + 1);
    double removed_listens = 0;
    if (b->o.top_songs && b->o.top_songs < n_songs0) {
        for (size_t p = 0; p < n_pairs; p++)
            song_total[p_song[p]] += b->kind == SR_VALUE_PLAYS ? (uint64_t)p_val[p] : 1;
        /* Threshold by partial counting: find the N-th largest total by sorting a copy. */
        uint64_t *tot = sr_mallocarray(n_songs0, sizeof *tot);
        if (!tot) goto nomem;
        memcpy(tot, song_total, (size_t)n_songs0 * sizeof *tot);
        qsort(tot, n_songs0, sizeof *tot, cmp_u64_desc); /* n log n once: fine */
        uint64_t thr = tot[b->o.top_songs - 1];
        uint64_t above = 0;
        for (uint32_t s = 0; s < n_songs0; s++) above += song_total[s] > thr;
        uint64_t ties_left = b->o.top_songs - above;
        for (uint32_t s = 0; s < n_songs0; s++) {
            if (song_total[s] > thr) continue;
            if (song_total[s] == thr && ties_left) {
                ties_left--; /* ties broken by first appearance */
                continue;
            }
            keep_song[s] = 0;
        }
        sr_free(tot);
    }
    if (b->o.min_song_listeners > 1) {
        memset(song_total, 0, (size_t)n_songs0 * sizeof *song_total);
        for (size_t p = 0; p < n_pairs; p++)
            if (keep_song[p_song[p]]) song_total[p_song[p]]++;
        for (uint32_t s = 0; s < n_songs0; s++)
            if (song_total[s] < b->o.min_song_listeners) keep_song[s] = 0;
    }
    user_new = sr_mallocarray((size_t)n_users0 + 1, sizeof *user_new);
    if (!user_new) goto nomem;
    {
        double *user_total = sr_calloc((size_t)n_users0 + 1, sizeof *user_total);
        if (!user_total) goto nomem;
        for (size_t p = 0; p < n_pairs; p++)
            if (keep_song[p_song[p]])
                user_total[p_user[p]] += b->kind == SR_VALUE_PLAYS ? p_val[p] : 1;
        uint32_t nu = 0;
        for (uint32_t u = 0; u < n_users0; u++) {
            bool keep = user_total[u] > 0 &&
                        (!b->o.min_user_listens || user_total[u] >= (double)b->o.min_user_listens);
            user_new[u] = keep ? nu++ : UINT32_MAX;
        }
        sr_free(user_total);
        ds->n_users = nu;
    }
    /* Compact pairs. */
    if (keep_ev && !(pair_new = sr_mallocarray(n_pairs ? n_pairs : 1, sizeof *pair_new)))
        goto nomem;
    size_t np = 0;
    for (size_t p = 0; p < n_pairs; p++) {
        if (pair_new) pair_new[p] = UINT32_MAX;
        if (!keep_song[p_song[p]] || user_new[p_user[p]] == UINT32_MAX) {
            b->st.filtered_pairs++;
            removed_listens += b->kind == SR_VALUE_PLAYS ? p_val[p] : 1;
            continue;
        }
        if (pair_new) pair_new[p] = (uint32_t)np;
        p_user[np] = user_new[p_user[p]];
        p_song[np] = p_song[p];
        p_val[np] = p_val[p];
        p_first[np] = p_first[p];
        p_last[np] = p_last[p];
        np++;
    }
    b->st.filtered_listens = (uint64_t)removed_listens;
    n_pairs = np;
    if (n_pairs == 0) {
        e = sr_diag_set(d, SR_E_EMPTY, "no listens left to build a dataset from");
        goto fail;
    }

    /* 4. Renumber songs (first-seen order among those kept) and artists. */
    song_new = sr_mallocarray((size_t)n_songs0 + 1, sizeof *song_new);
    artist_new = sr_mallocarray((size_t)n_artists0 + 1, sizeof *artist_new);
    if (!song_new || !artist_new) goto nomem;
    memset(song_total, 0, (size_t)n_songs0 * sizeof *song_total);
    for (size_t p = 0; p < n_pairs; p++) song_total[p_song[p]]++;
    uint32_t ns = 0, na = 0;
    for (uint32_t a = 0; a < n_artists0; a++) artist_new[a] = UINT32_MAX;
    for (uint32_t s = 0; s < n_songs0; s++) {
        song_new[s] = song_total[s] ? ns++ : UINT32_MAX;
        if (song_total[s] && artist_new[b->song_artist[s]] == UINT32_MAX)
            artist_new[b->song_artist[s]] = na++;
    }
    ds->n_songs = ns;
    ds->n_artists = na;
    ds->n_pairs = n_pairs;

    /* 5. Display names: most frequent raw spelling per song and per artist. */
    {
        uint32_t *best_raw = sr_mallocarray((size_t)ns + 1, sizeof *best_raw);
        uint64_t *spell_count = sr_calloc((size_t)b->aspell.n + 1, sizeof *spell_count);
        uint32_t *best_spell = sr_mallocarray((size_t)na + 1, sizeof *best_spell);
        size_t most = ns > na ? ns : na;
        if (ds->n_users > most) most = ds->n_users;
        strs = sr_mallocarray(most + 1, sizeof *strs);
        if (!best_raw || !spell_count || !best_spell || !strs) {
            sr_free(best_raw);
            sr_free(spell_count);
            sr_free(best_spell);
            goto nomem;
        }
        for (uint32_t s = 0; s < ns; s++) best_raw[s] = UINT32_MAX;
        for (uint32_t a = 0; a < na; a++) best_spell[a] = UINT32_MAX;
        for (uint32_t r = 0; r < b->raw.n; r++) {
            uint32_t s = song_new[b->raw_song[r]];
            spell_count[b->raw_aspell[r]] += b->raw_count[r];
            if (s == UINT32_MAX) continue;
            if (best_raw[s] == UINT32_MAX || b->raw_count[r] > b->raw_count[best_raw[s]])
                best_raw[s] = r;
        }
        for (uint32_t sp = 0; sp < b->aspell.n; sp++) {
            uint32_t a = artist_new[b->aspell_artist[sp]];
            if (a == UINT32_MAX) continue;
            if (best_spell[a] == UINT32_MAX || spell_count[sp] > spell_count[best_spell[a]])
                best_spell[a] = sp;
        }
        for (uint32_t s = 0; s < ns; s++) {
            sr_str raw = sr_strvec_get(&b->raw, best_raw[s]);
            const char *sep = memchr(raw.p, 0x1f, raw.n);
            const char *t = sep + 1;
            const char *tend = memchr(t, 0x1f, raw.n - (size_t)(t - raw.p));
            strs[s] = (sr_str){t, tend ? (size_t)(tend - t) : raw.n - (size_t)(t - raw.p)};
        }
        e = make_strtab(ds, &ds->tracks, ns, strs);
        for (uint32_t a = 0; !e && a < na; a++) strs[a] = sr_strmap_get(&b->aspell, best_spell[a]);
        if (!e) e = make_strtab(ds, &ds->artists, na, strs);
        uint32_t nu = 0;
        for (uint32_t u = 0; !e && u < n_users0; u++)
            if (user_new[u] != UINT32_MAX) strs[nu++] = sr_strmap_get(&b->users, u);
        if (!e) e = make_strtab(ds, &ds->users, ds->n_users, strs);
        sr_free(best_raw);
        sr_free(spell_count);
        sr_free(best_spell);
        if (e) goto nomem;
    }
    {
        uint32_t *sa = own(ds, sr_mallocarray((size_t)ns + 1, sizeof *sa));
        uint8_t *sm = own(ds, sr_mallocarray((size_t)ns + 1, 16));
        if (!sa || !sm) goto nomem;
        for (uint32_t s = 0; s < n_songs0; s++) {
            if (song_new[s] == UINT32_MAX) continue;
            sa[song_new[s]] = artist_new[b->song_artist[s]];
            memcpy(sm + (size_t)song_new[s] * 16, b->song_mbid + (size_t)s * 16, 16);
        }
        ds->song_artist = sa;
        ds->song_mbid = sm;
    }

    /* 6. CSR by user: pairs are user-major already; songs ascending within a user since
     * the renumbering keeps the relative order of song ids. */
    {
        uint64_t *user_ptr = own(ds, sr_calloc((size_t)ds->n_users + 1, sizeof *user_ptr));
        if (!user_ptr) goto nomem;
        double total = 0;
        for (size_t p = 0; p < n_pairs; p++) {
            user_ptr[p_user[p] + 1]++;
            p_song[p] = song_new[p_song[p]];
            total += b->kind == SR_VALUE_PLAYS ? p_val[p] : 1;
        }
        for (uint32_t u = 0; u < ds->n_users; u++) user_ptr[u + 1] += user_ptr[u];
        ds->user_ptr = user_ptr;
        ds->n_listens = (uint64_t)llround(total);
    }
    /* Shrink the pair arrays to size and hand them over. */
    {
        uint32_t *ps = sr_reallocarray(p_song, n_pairs, sizeof *ps);
        float *pv = sr_reallocarray(p_val, n_pairs, sizeof *pv);
        if (ps) p_song = ps;
        if (pv) p_val = pv;
        uint32_t *pf = sr_reallocarray(p_first, n_pairs, sizeof *pf);
        if (pf) p_first = pf;
        uint32_t *pl = sr_reallocarray(p_last, n_pairs, sizeof *pl);
        if (pl) p_last = pl;
        ds->pair_song = own(ds, p_song);
        ds->pair_value = own(ds, p_val);
        ds->pair_first = own(ds, p_first);
        ds->pair_last = own(ds, p_last);
        p_song = NULL;
        p_val = NULL;
        p_first = NULL;
        p_last = NULL;
        if (!ds->pair_song || !ds->pair_value || !ds->pair_first || !ds->pair_last) goto nomem;
    }
    /* 7. CSR by song (counting sort of pair indices by song; users stay ascending). */
    {
        uint64_t *song_ptr = own(ds, sr_calloc((size_t)ns + 1, sizeof *song_ptr));
        uint32_t *song_user = own(ds, sr_mallocarray(n_pairs, sizeof *song_user));
        uint32_t *song_pair = own(ds, sr_mallocarray(n_pairs, sizeof *song_pair));
        uint64_t *pos = sr_mallocarray((size_t)ns + 1, sizeof *pos);
        if (!song_ptr || !song_user || !song_pair || !pos) {
            sr_free(pos);
            goto nomem;
        }
        for (size_t p = 0; p < n_pairs; p++) song_ptr[ds->pair_song[p] + 1]++;
        for (uint32_t s = 0; s < ns; s++) song_ptr[s + 1] += song_ptr[s];
        memcpy(pos, song_ptr, ((size_t)ns + 1) * sizeof *pos);
        for (size_t p = 0; p < n_pairs; p++) {
            uint64_t k = pos[ds->pair_song[p]]++;
            song_user[k] = p_user[p];
            song_pair[k] = (uint32_t)p;
        }
        sr_free(pos);
        ds->song_ptr = song_ptr;
        ds->song_user = song_user;
        ds->song_pair = song_pair;
    }
    if (keep_ev && keep_events(ds, events, ev_uptr, n_users0, user_new, pair_new)) goto nomem;
    b->st.events = ds->n_events;
    ds->ts_min = b->ts_min;
    ds->ts_max = b->ts_max;
    if (meta_json && !(ds->meta_json = sr_strdup(meta_json))) goto nomem;
    sr_free(events);
    sr_free(ev_uptr);
    sr_free(pair_new);
    sr_free(p_user);
    sr_free(keep_song);
    sr_free(song_new);
    sr_free(user_new);
    sr_free(artist_new);
    sr_free(song_total);
    sr_free(uptr);
    sr_free(strs);
    if (st) *st = b->st;
    *out = ds;
    return SR_OK;

nomem:
    e = sr_diag_set(d, SR_E_NOMEM, "out of memory while building the dataset");
fail:
    sr_free(sorted);
    sr_free(events);
    sr_free(ev_uptr);
    sr_free(pair_new);
    sr_free(p_user);
    sr_free(p_song);
    sr_free(p_val);
    sr_free(p_first);
    sr_free(p_last);
    sr_free(keep_song);
    sr_free(song_new);
    sr_free(user_new);
    sr_free(artist_new);
    sr_free(song_total);
    sr_free(uptr);
    sr_free(strs);
    sr_dataset_free(ds);
    if (st) *st = b->st;
    return e;
}

/* Ratings and trainsets (trainset.h). */
#include "models/trainset.h"

#include <string.h>

#include "util/mem.h"

static void ratings_events_free(sr_ratings *r) {
    sr_free(r->ev_ptr);
    sr_free(r->ev_pair);
    sr_free(r->ev_time);
    r->ev_ptr = NULL;
    r->ev_pair = r->ev_time = NULL;
    r->n_ev = 0;
}

void sr_ratings_free(sr_ratings *r) {
    if (!r) return;
    sr_free(r->user);
    sr_free(r->item);
    sr_free(r->r);
    sr_free(r->ts);
    ratings_events_free(r);
    sr_free(r);
}

/* The events' structure (sr_ratings_set_events). */
static bool events_ok(const sr_ratings *rs, uint64_t n, const uint64_t *ptr, const uint32_t *pair,
                      const uint32_t *time) {
    if (ptr[0] != 0 || ptr[rs->n_users] != n) return false;
    for (uint32_t u = 0; u < rs->n_users; u++) {
        if (ptr[u + 1] < ptr[u]) return false;
        for (uint64_t e = ptr[u]; e < ptr[u + 1]; e++)
            if (pair[e] >= rs->n || rs->user[pair[e]] != u || !time[e] ||
                (e > ptr[u] && time[e] < time[e - 1]))
                return false;
    }
    return true;
}

sr_err sr_ratings_set_events(sr_ratings *rs, uint64_t n, const uint64_t *ptr, const uint32_t *pair,
                             const uint32_t *time) {
    if (!events_ok(rs, n, ptr, pair, time)) return SR_E_RANGE;
    uint64_t *p = sr_mallocarray((size_t)rs->n_users + 1, sizeof *p);
    uint32_t *a = sr_mallocarray(n ? n : 1, sizeof *a);
    uint32_t *t = sr_mallocarray(n ? n : 1, sizeof *t);
    if (!p || !a || !t) {
        sr_free(p), sr_free(a), sr_free(t);
        return SR_E_NOMEM;
    }
    memcpy(p, ptr, ((size_t)rs->n_users + 1) * sizeof *p);
    if (n) memcpy(a, pair, n * sizeof *a), memcpy(t, time, n * sizeof *t);
    ratings_events_free(rs);
    rs->n_ev = n;
    rs->ev_ptr = p;
    rs->ev_pair = a;
    rs->ev_time = t;
    return SR_OK;
}

static sr_ratings *ratings_alloc(uint64_t n) {
    sr_ratings *r = sr_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->user = sr_mallocarray(n ? n : 1, sizeof *r->user);
    r->item = sr_mallocarray(n ? n : 1, sizeof *r->item);
    r->r = sr_mallocarray(n ? n : 1, sizeof *r->r);
    if (!r->user || !r->item || !r->r) {
        sr_ratings_free(r);
        return NULL;
    }
    r->n = n;
    return r;
}

sr_err sr_ratings_new(uint32_t n_users, uint32_t n_items, uint64_t n, const uint32_t *user,
                      const uint32_t *item, const float *r, double lo, double hi,
                      sr_ratings **out) {
    *out = NULL;
    for (uint64_t k = 0; k < n; k++)
        if (user[k] >= n_users || item[k] >= n_items) return SR_E_RANGE;
    sr_ratings *rs = ratings_alloc(n);
    if (!rs) return SR_E_NOMEM;
    rs->n_users = n_users;
    rs->n_items = n_items;
    if (n) {
        memcpy(rs->user, user, n * sizeof *user);
        memcpy(rs->item, item, n * sizeof *item);
        memcpy(rs->r, r, n * sizeof *r);
    }
    rs->lo = lo;
    rs->hi = hi;
    *out = rs;
    return SR_OK;
}

sr_err sr_ratings_from_dataset(const sr_dataset *ds, sr_transform t, sr_ratings **out) {
    *out = NULL;
    sr_ratings *rs = ratings_alloc(ds->n_pairs);
    if (!rs) return SR_E_NOMEM;
    rs->n_users = ds->n_users;
    rs->n_items = ds->n_songs;
    if (ds->ts_max) { /* the dataset knows listen times: keep them for time splits */
        rs->ts = sr_mallocarray(ds->n_pairs ? ds->n_pairs : 1, sizeof *rs->ts);
        if (!rs->ts) {
            sr_ratings_free(rs);
            return SR_E_NOMEM;
        }
        if (ds->n_pairs) memcpy(rs->ts, ds->pair_first, ds->n_pairs * sizeof *rs->ts);
    }
    if (ds->event_ptr) { /* the per-listen events; pair indices are rating indices */
        const uint64_t ne = ds->n_events;
        rs->ev_ptr = sr_mallocarray((size_t)ds->n_users + 1, sizeof *rs->ev_ptr);
        rs->ev_pair = sr_mallocarray(ne ? ne : 1, sizeof *rs->ev_pair);
        rs->ev_time = sr_mallocarray(ne ? ne : 1, sizeof *rs->ev_time);
        if (!rs->ev_ptr || !rs->ev_pair || !rs->ev_time) {
            sr_ratings_free(rs);
            return SR_E_NOMEM;
        }
        rs->n_ev = ne;
        memcpy(rs->ev_ptr, ds->event_ptr, ((size_t)ds->n_users + 1) * sizeof *rs->ev_ptr);
        if (ne) {
            memcpy(rs->ev_pair, ds->event_pair, ne * sizeof *rs->ev_pair);
            memcpy(rs->ev_time, ds->event_time, ne * sizeof *rs->ev_time);
        }
    }
    double lo = 0, hi = 0;
    for (uint32_t u = 0; u < ds->n_users; u++)
        for (uint64_t p = ds->user_ptr[u]; p < ds->user_ptr[u + 1]; p++) {
            float v = ds->pair_value[p];
            if (t == SR_TRANSFORM_CAP10 && ds->kind == SR_VALUE_PLAYS) v = v < 10 ? v : 10;
            rs->user[p] = u;
            rs->item[p] = ds->pair_song[p];
            rs->r[p] = v;
            if (p == 0 || v < lo) lo = v;
            if (p == 0 || v > hi) hi = v;
        }
    if (t == SR_TRANSFORM_CAP10 && ds->kind == SR_VALUE_PLAYS) lo = 1, hi = 10;
    if (ds->kind == SR_VALUE_RATINGS && ds->scale_lo < ds->scale_hi) {
        /* the declared scale (ingest --scale), which the ratings keep to */
        lo = ds->n_pairs && lo < ds->scale_lo ? lo : ds->scale_lo;
        hi = ds->n_pairs && hi > ds->scale_hi ? hi : ds->scale_hi;
    }
    rs->lo = lo;
    rs->hi = hi;
    *out = rs;
    return SR_OK;
}

static void events_free(sr_events *ev) {
    if (!ev) return;
    sr_free(ev->ptr);
    sr_free(ev->item);
    sr_free(ev->time);
    sr_free(ev);
}

void sr_trainset_free(sr_trainset *ts) {
    if (!ts) return;
    sr_free(ts->user_ptr);
    sr_free(ts->ur_item);
    sr_free(ts->ur_r);
    sr_free(ts->item_ptr);
    sr_free(ts->ir_user);
    sr_free(ts->ir_r);
    sr_free(ts->ir_ts);
    events_free(ts->ev);
    sr_free(ts);
}

sr_err sr_trainset_new(const sr_ratings *rs, const uint8_t *take, sr_trainset **out) {
    *out = NULL;
    sr_trainset *ts = sr_calloc(1, sizeof *ts);
    if (!ts) return SR_E_NOMEM;
    ts->n_users = rs->n_users;
    ts->n_items = rs->n_items;
    ts->lo = rs->lo;
    ts->hi = rs->hi;
    uint64_t n = 0;
    double sum = 0;
    for (uint64_t k = 0; k < rs->n; k++)
        if (!take || take[k]) n++, sum += rs->r[k];
    ts->n = n;
    ts->global_mean = n ? sum / (double)n : 0;
    ts->user_ptr = sr_calloc((size_t)rs->n_users + 1, sizeof *ts->user_ptr);
    ts->item_ptr = sr_calloc((size_t)rs->n_items + 1, sizeof *ts->item_ptr);
    ts->ur_item = sr_mallocarray(n ? n : 1, sizeof *ts->ur_item);
    ts->ur_r = sr_mallocarray(n ? n : 1, sizeof *ts->ur_r);
    ts->ir_user = sr_mallocarray(n ? n : 1, sizeof *ts->ir_user);
    ts->ir_r = sr_mallocarray(n ? n : 1, sizeof *ts->ir_r);
    uint64_t *pos = sr_mallocarray(
        (size_t)(rs->n_users > rs->n_items ? rs->n_users : rs->n_items) + 1, sizeof *pos);
    if (!ts->user_ptr || !ts->item_ptr || !ts->ur_item || !ts->ur_r || !ts->ir_user || !ts->ir_r ||
        !pos) {
        sr_free(pos);
        sr_trainset_free(ts);
        return SR_E_NOMEM;
    }
    for (uint64_t k = 0; k < rs->n; k++)
        if (!take || take[k]) ts->user_ptr[rs->user[k] + 1]++, ts->item_ptr[rs->item[k] + 1]++;
    for (uint32_t u = 0; u < rs->n_users; u++) ts->user_ptr[u + 1] += ts->user_ptr[u];
    for (uint32_t i = 0; i < rs->n_items; i++) ts->item_ptr[i + 1] += ts->item_ptr[i];
    /* Three stable counting sorts, so that items come out ascending within a user and
     * users ascending within an item whatever the order of the ratings.
     * pass 1: counting sort by user (stable) into ur_*, carrying the item */
    uint32_t *ur_ts = NULL; /* the times ride along through passes 1 and 2 */
    if (rs->ts) {
        ur_ts = sr_mallocarray(n ? n : 1, sizeof *ur_ts);
        ts->ir_ts = sr_mallocarray(n ? n : 1, sizeof *ts->ir_ts);
        if (!ur_ts || !ts->ir_ts) {
            sr_free(ur_ts), sr_free(pos);
            sr_trainset_free(ts);
            return SR_E_NOMEM;
        }
    }
    memcpy(pos, ts->user_ptr, ((size_t)rs->n_users + 1) * sizeof *pos);
    for (uint64_t k = 0; k < rs->n; k++) {
        if (take && !take[k]) continue;
        uint64_t q = pos[rs->user[k]]++;
        ts->ur_item[q] = rs->item[k];
        ts->ur_r[q] = rs->r[k];
        if (ur_ts) ur_ts[q] = rs->ts[k];
    }
    /* pass 2: by item from the by-user order: users ascending within an item */
    memcpy(pos, ts->item_ptr, ((size_t)rs->n_items + 1) * sizeof *pos);
    for (uint32_t u = 0; u < rs->n_users; u++)
        for (uint64_t q = ts->user_ptr[u]; q < ts->user_ptr[u + 1]; q++) {
            uint64_t w = pos[ts->ur_item[q]]++;
            ts->ir_user[w] = u;
            ts->ir_r[w] = ts->ur_r[q];
            if (ur_ts) ts->ir_ts[w] = ur_ts[q];
        }
    sr_free(ur_ts);
    /* pass 3: back to by-user from the by-item order: items ascending within a user */
    memcpy(pos, ts->user_ptr, ((size_t)rs->n_users + 1) * sizeof *pos);
    for (uint32_t i = 0; i < rs->n_items; i++)
        for (uint64_t w = ts->item_ptr[i]; w < ts->item_ptr[i + 1]; w++) {
            uint64_t q = pos[ts->ir_user[w]]++;
            ts->ur_item[q] = i;
            ts->ur_r[q] = ts->ir_r[w];
        }
    sr_free(pos);
    *out = ts;
    return SR_OK;
}

sr_err sr_trainset_add_events(sr_trainset *ts, const sr_ratings *rs, const uint8_t *take,
                              int64_t before) {
    if (ts->n_users != rs->n_users || ts->n_items != rs->n_items) return SR_E_USAGE;
    events_free(ts->ev);
    ts->ev = NULL;
    if (!rs->ev_ptr) return SR_OK;
        /* A listen trains when its rating is taken and it happened before the cut. */
#define EV_KEEP(e)                                                                                 \
    ((!take || take[rs->ev_pair[e]]) && (before <= 0 || (int64_t)rs->ev_time[e] < before))
    uint64_t n = 0;
    for (uint64_t e = 0; e < rs->n_ev; e++) n += EV_KEEP(e);
    sr_events *ev = sr_calloc(1, sizeof *ev);
    if (!ev) return SR_E_NOMEM;
    ev->ptr = sr_mallocarray((size_t)rs->n_users + 1, sizeof *ev->ptr);
    ev->item = sr_mallocarray(n ? n : 1, sizeof *ev->item);
    ev->time = sr_mallocarray(n ? n : 1, sizeof *ev->time);
    if (!ev->ptr || !ev->item || !ev->time) {
        events_free(ev);
        return SR_E_NOMEM;
    }
    uint64_t w = 0;
    ev->ptr[0] = 0;
    for (uint32_t u = 0; u < rs->n_users; u++) {
        for (uint64_t e = rs->ev_ptr[u]; e < rs->ev_ptr[u + 1]; e++) {
            if (!EV_KEEP(e)) continue;
            ev->item[w] = rs->item[rs->ev_pair[e]];
            ev->time[w] = rs->ev_time[e];
            w++;
        }
        ev->ptr[u + 1] = w;
    }
#undef EV_KEEP
    ev->n = w;
    ts->ev = ev;
    return SR_OK;
}

/* Two-stage ingest pipeline (pipe.h).
 *
 * Batches cycle between two queues guarded by one mutex: `free` (empty batches the
 * producer may fill) and `full` (batches waiting for the worker, FIFO). Four batches in
 * all: one being filled, one being consumed, two in flight.
 */
#include "ingest/pipe.h"

#include <pthread.h>
#include <string.h>

#include "util/mem.h"

#define BATCH_LISTENS 4096
#define N_BATCHES     4

typedef struct batch {
    sr_listen *ls;  /* (BATCH_LISTENS) strings point into bytes */
    uint8_t *kinds; /* (BATCH_LISTENS) */
    char *bytes;
    size_t n, used, cap;
} batch;

struct sr_pipe {
    sr_accept_batch_fn sink;
    void *sink_user;
    pthread_t worker;
    bool started, sync_init;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch batches[N_BATCHES];
    batch *free_q[N_BATCHES];
    int n_free;
    batch *full_q[N_BATCHES];
    int full_head, n_full;
    batch *cur; /* being filled by the producer */
    bool done;  /* producer finished */
    sr_err err; /* first sink error */
};

static void *work(void *arg) {
    sr_pipe *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->n_full && !p->done) pthread_cond_wait(&p->cv, &p->mu);
        if (!p->n_full && p->done) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        batch *b = p->full_q[p->full_head];
        p->full_head = (p->full_head + 1) % N_BATCHES;
        p->n_full--;
        sr_err err = p->err;
        pthread_mutex_unlock(&p->mu);
        if (!err && b->n) err = p->sink(p->sink_user, b->ls, b->kinds, b->n);
        b->n = 0;
        b->used = 0;
        pthread_mutex_lock(&p->mu);
        if (err && !p->err) p->err = err;
        p->free_q[p->n_free++] = b;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

sr_err sr_pipe_new(sr_accept_batch_fn sink, void *sink_user, sr_pipe **out) {
    *out = NULL;
    sr_pipe *p = sr_calloc(1, sizeof *p);
    if (!p) return SR_E_NOMEM;
    p->sink = sink;
    p->sink_user = sink_user;
    for (int i = 0; i < N_BATCHES; i++) {
        batch *b = &p->batches[i];
        b->ls = sr_mallocarray(BATCH_LISTENS, sizeof *b->ls);
        b->kinds = sr_malloc(BATCH_LISTENS);
        b->cap = 1u << 20;
        b->bytes = sr_malloc(b->cap);
        if (!b->ls || !b->kinds || !b->bytes) {
            sr_pipe_free(p);
            return SR_E_NOMEM;
        }
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->sync_init = true;
    for (int i = 1; i < N_BATCHES; i++) p->free_q[p->n_free++] = &p->batches[i];
    p->cur = &p->batches[0];
    if (pthread_create(&p->worker, NULL, work, p) != 0) {
        sr_pipe_free(p);
        return SR_E_NOMEM;
    }
    p->started = true;
    *out = p;
    return SR_OK;
}

/* Queues the current batch and takes a free one. Returns the sticky error. */
static sr_err hand_over(sr_pipe *p) {
    pthread_mutex_lock(&p->mu);
    p->full_q[(p->full_head + p->n_full) % N_BATCHES] = p->cur;
    p->n_full++;
    pthread_cond_broadcast(&p->cv);
    while (!p->n_free) pthread_cond_wait(&p->cv, &p->mu);
    p->cur = p->free_q[--p->n_free];
    sr_err err = p->err;
    pthread_mutex_unlock(&p->mu);
    return err;
}

static sr_str copy_str(batch *b, sr_str s) {
    if (!s.n) return (sr_str){NULL, 0};
    char *d = b->bytes + b->used;
    memcpy(d, s.p, s.n);
    b->used += s.n;
    return (sr_str){d, s.n};
}

sr_err sr_pipe_accept(void *pipe, const sr_listen *l, sr_value_kind kind) {
    sr_pipe *p = pipe;
    size_t need = l->user.n + l->artist.n + l->track.n + l->release.n + l->recording_mbid.n;
    batch *b = p->cur;
    if (b->n == BATCH_LISTENS || b->cap - b->used < need) {
        sr_err err = hand_over(p);
        if (err) return err;
        b = p->cur;
    }
    if (b->cap < need) { /* a listen bigger than the whole buffer: grow this batch */
        char *nb = sr_realloc(b->bytes, need);
        if (!nb) return SR_E_NOMEM;
        b->bytes = nb;
        b->cap = need;
    }
    sr_listen *d = &b->ls[b->n];
    d->user = copy_str(b, l->user);
    d->artist = copy_str(b, l->artist);
    d->track = copy_str(b, l->track);
    d->release = copy_str(b, l->release);
    d->recording_mbid = copy_str(b, l->recording_mbid);
    d->ts = l->ts;
    d->value = l->value;
    b->kinds[b->n++] = (uint8_t)kind;
    return SR_OK;
}

sr_err sr_pipe_finish(sr_pipe *p) {
    if (!p->started) return p->err;
    pthread_mutex_lock(&p->mu);
    if (p->cur && p->cur->n) {
        p->full_q[(p->full_head + p->n_full) % N_BATCHES] = p->cur;
        p->n_full++;
        p->cur = NULL;
    }
    p->done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->worker, NULL);
    p->started = false;
    return p->err;
}

void sr_pipe_free(sr_pipe *p) {
    if (!p) return;
    if (p->started) sr_pipe_finish(p);
    for (int i = 0; i < N_BATCHES; i++) {
        sr_free(p->batches[i].ls);
        sr_free(p->batches[i].kinds);
        sr_free(p->batches[i].bytes);
    }
    if (p->sync_init) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    sr_free(p);
}

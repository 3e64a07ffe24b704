/* Input files through libarchive (input.h).
 *
 * libarchive is set up with every decompression filter and the tar, zip, raw and empty
 * formats: raw makes a plain or singly-compressed file a one-member "archive", so all
 * inputs share one code path. The member stream's fill function is archive_read_data;
 * a negative return there means a truncated or corrupt stream.
 */
#include "io/input.h"

#include <archive.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"

/* Read-ahead: a thread per member runs archive_read_data (decompression) into a ring
 * of blocks while the caller parses the previous ones. */
#define RA_BLOCKS 4
#define RA_BLOCK  (1u << 20)
#define RA_READ   (128u << 10)

typedef struct ra_block {
    unsigned char *data;
    size_t len, pos;
} ra_block;

typedef struct ra_state {
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ra_block blocks[RA_BLOCKS];
    int head, count; /* filled blocks: ring from head */
    bool eof, stop;
    sr_err err;
    char why[512];
} ra_state;

struct sr_input {
    struct archive *a;
    ra_state ra;
    bool ra_init;
    _Atomic uint64_t bytes_read; /* compressed bytes consumed, for progress */
    char *path;
    char *member; /* current member name (owned) */
    sr_stream stream;
    bool stream_open;
    bool archive_checked, is_archive;
    uint64_t size;
    int fd; /* -1 for stdin */
};

static void *ra_work(void *arg) {
    sr_input *in = arg;
    ra_state *ra = &in->ra;
    for (;;) {
        pthread_mutex_lock(&ra->mu);
        while (ra->count == RA_BLOCKS && !ra->stop) pthread_cond_wait(&ra->cv, &ra->mu);
        if (ra->stop) {
            pthread_mutex_unlock(&ra->mu);
            return NULL;
        }
        ra_block *b = &ra->blocks[(ra->head + ra->count) % RA_BLOCKS];
        pthread_mutex_unlock(&ra->mu);
        /* Only this thread touches the archive while it runs. The block is filled in
         * 128 KiB reads so that a failing read (a truncated stream) loses at most that
         * much of what came before it. */
        size_t len = 0;
        la_ssize_t k = 1;
        while (len < RA_BLOCK && k > 0) {
            k = archive_read_data(in->a, b->data + len, RA_READ);
            if (k > 0) len += (size_t)k;
        }
        atomic_store(&in->bytes_read, (uint64_t)archive_filter_bytes(in->a, -1));
        pthread_mutex_lock(&ra->mu);
        if (len) {
            b->len = len;
            b->pos = 0;
            ra->count++;
        }
        if (k < 0) {
            const char *why = archive_error_string(in->a);
            snprintf(ra->why, sizeof ra->why, "%s", why ? why : "read error");
            ra->err = SR_E_TRUNCATED;
        } else if (k == 0) {
            ra->eof = true;
        }
        bool end = k <= 0;
        pthread_cond_broadcast(&ra->cv);
        pthread_mutex_unlock(&ra->mu);
        if (end) return NULL;
    }
}

/* Stops and joins the read-ahead thread of the current member. */
static void ra_stop(sr_input *in) {
    ra_state *ra = &in->ra;
    if (!ra->running) return;
    pthread_mutex_lock(&ra->mu);
    ra->stop = true;
    pthread_cond_broadcast(&ra->cv);
    pthread_mutex_unlock(&ra->mu);
    pthread_join(ra->thread, NULL);
    ra->running = false;
}

static sr_err ra_start(sr_input *in) {
    ra_state *ra = &in->ra;
    ra->head = ra->count = 0;
    ra->eof = ra->stop = false;
    ra->err = SR_OK;
    ra->why[0] = 0;
    if (pthread_create(&ra->thread, NULL, ra_work, in) != 0) return SR_E_NOMEM;
    ra->running = true;
    return SR_OK;
}

static ssize_t member_fill(void *src, void *buf, size_t cap, sr_diag *d) {
    sr_input *in = src;
    ra_state *ra = &in->ra;
    size_t got = 0;
    pthread_mutex_lock(&ra->mu);
    while (got < cap) {
        while (!ra->count && !ra->eof && !ra->err) pthread_cond_wait(&ra->cv, &ra->mu);
        if (!ra->count) break;
        ra_block *b = &ra->blocks[ra->head];
        size_t k = b->len - b->pos < cap - got ? b->len - b->pos : cap - got;
        memcpy((unsigned char *)buf + got, b->data + b->pos, k);
        b->pos += k;
        got += k;
        if (b->pos == b->len) {
            ra->head = (ra->head + 1) % RA_BLOCKS;
            ra->count--;
            pthread_cond_broadcast(&ra->cv);
        }
        if (got) break; /* hand over what we have; the caller asks again */
    }
    sr_err err = ra->err;
    pthread_mutex_unlock(&ra->mu);
    if (!got && err)
        return sr_diag_set(d, SR_E_TRUNCATED, "%s: truncated or corrupt input (%s)", in->path,
                           ra->why);
    return (ssize_t)got;
}

sr_err sr_input_open(const char *path, sr_input **out, sr_diag *d) {
    *out = NULL;
    sr_input *in = sr_calloc(1, sizeof *in);
    if (!in) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    in->fd = -1;
    for (int i = 0; i < RA_BLOCKS; i++) {
        in->ra.blocks[i].data = sr_malloc(RA_BLOCK);
        if (!in->ra.blocks[i].data) {
            sr_input_close(in);
            return sr_diag_set(d, SR_E_NOMEM, "out of memory");
        }
    }
    pthread_mutex_init(&in->ra.mu, NULL);
    pthread_cond_init(&in->ra.cv, NULL);
    in->ra_init = true;
    in->path = sr_strdup(path);
    in->a = archive_read_new();
    if (!in->path || !in->a) {
        sr_input_close(in);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    archive_read_support_filter_all(in->a);
    archive_read_support_format_tar(in->a);
    archive_read_support_format_zip(in->a);
    archive_read_support_format_empty(in->a);
    archive_read_support_format_raw(in->a);
    int r;
    if (!strcmp(path, "-")) {
        r = archive_read_open_fd(in->a, 0, 1 << 20);
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (in->fd < 0 || fstat(in->fd, &st) != 0) {
            int e = errno;
            sr_input_close(in);
            return sr_diag_set(d, SR_E_IO, "%s: %s", path, strerror(e));
        }
        if (S_ISDIR(st.st_mode)) {
            sr_input_close(in);
            return sr_diag_set(d, SR_E_IO, "%s: is a directory", path);
        }
        in->size = (uint64_t)st.st_size;
        r = archive_read_open_fd(in->a, in->fd, 1 << 20);
    }
    if (r != ARCHIVE_OK) {
        /* The file opened, so this is its content: a compressed stream or archive too
         * damaged or short for libarchive to start on. */
        const char *why = archive_error_string(in->a);
        sr_err e = sr_diag_set(d, SR_E_TRUNCATED, "%s: truncated or corrupt input (%s)", path,
                               why ? why : "unknown");
        sr_input_close(in);
        return e;
    }
    *out = in;
    return SR_OK;
}

/* The member name for a single stream: the file name without its compression suffix. */
static char *single_name(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    static const char *const sfx[] = {".gz", ".xz", ".zst", ".zstd", ".bz2", ".lz4", ".lzma"};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        size_t k = strlen(sfx[i]);
        if (n > k && !strcmp(base + n - k, sfx[i])) {
            n -= k;
            break;
        }
    }
    return sr_strndup(base, n);
}

int sr_input_next(sr_input *in, sr_stream **s, const char **name, sr_diag *d) {
    if (in->stream_open) {
        ra_stop(in);
        sr_stream_deinit(&in->stream);
        in->stream_open = false;
    }
    for (;;) {
        struct archive_entry *ent;
        int r = archive_read_next_header(in->a, &ent);
        if (r == ARCHIVE_EOF) return 0;
        if (r < ARCHIVE_WARN) {
            const char *why = archive_error_string(in->a);
            return sr_diag_set(d, SR_E_TRUNCATED, "%s: truncated or corrupt archive (%s)", in->path,
                               why ? why : "unknown");
        }
        if (!in->archive_checked) {
            in->archive_checked = true;
            int fmt = archive_format(in->a) & ARCHIVE_FORMAT_BASE_MASK;
            in->is_archive = fmt != ARCHIVE_FORMAT_RAW && fmt != ARCHIVE_FORMAT_EMPTY;
        }
        if (in->is_archive && archive_entry_filetype(ent) != AE_IFREG) continue;
        sr_free(in->member);
        if (in->is_archive) {
            const char *p = archive_entry_pathname(ent);
            in->member = sr_strdup(p ? p : "");
        } else {
            in->member = single_name(in->path);
        }
        if (!in->member) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
        sr_err e = sr_stream_init(&in->stream, member_fill, in);
        if (e) return sr_diag_set(d, e, "out of memory");
        if ((e = ra_start(in))) {
            sr_stream_deinit(&in->stream);
            return sr_diag_set(d, e, "cannot start a thread");
        }
        in->stream_open = true;
        *s = &in->stream;
        *name = in->member;
        return 1;
    }
}

bool sr_input_is_archive(const sr_input *in) {
    return in->is_archive;
}

uint64_t sr_input_bytes_read(const sr_input *in) {
    /* Read while the read-ahead thread may be in libarchive: an approximate figure
     * for the progress bar only. */
    return atomic_load(&((sr_input *)in)->bytes_read);
}

uint64_t sr_input_size(const sr_input *in) {
    return in->size;
}

const char *sr_input_path(const sr_input *in) {
    return in->path;
}

void sr_input_close(sr_input *in) {
    if (!in) return;
    ra_stop(in);
    if (in->stream_open) sr_stream_deinit(&in->stream);
    for (int i = 0; i < RA_BLOCKS; i++) sr_free(in->ra.blocks[i].data);
    if (in->ra_init) {
        pthread_cond_destroy(&in->ra.cv);
        pthread_mutex_destroy(&in->ra.mu);
    }
    if (in->a) archive_read_free(in->a);
    if (in->fd >= 0) close(in->fd);
    sr_free(in->member);
    sr_free(in->path);
    sr_free(in);
}

/* Atomic file output (atomic.h). */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/mem.h"

#define BUF_CAP (1u << 20)

static void cleanup(sr_afile *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    sr_free(f->path);
    sr_free(f->tmp);
    sr_free(f->buf);
    f->path = f->tmp = NULL;
    f->buf = NULL;
}

sr_err sr_afile_open(sr_afile *f, const char *path, sr_diag *d) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    size_t n = strlen(path);
    f->path = sr_strdup(path);
    f->tmp = sr_malloc(n + 16);
    f->buf = sr_malloc(BUF_CAP);
    if (!f->path || !f->tmp || !f->buf) {
        cleanup(f);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    memcpy(f->tmp, path, n);
    memcpy(f->tmp + n, ".tmp.XXXXXX", 12);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        int e = errno;
        sr_err r = sr_diag_set(d, sr_err_from_errno(e), "%s: cannot create: %s", path, strerror(e));
        cleanup(f);
        return r;
    }
    /* mkstemp makes 0600; datasets and models are ordinary files. */
    mode_t um = umask(0);
    umask(um);
    fchmod(f->fd, 0666 & ~um);
    f->cap = BUF_CAP;
    return SR_OK;
}

static sr_err flush(sr_afile *f) {
    size_t off = 0;
    while (off < f->len) {
        ssize_t k = write(f->fd, f->buf + off, f->len - off);
        if (k < 0) {
            if (errno == EINTR) continue;
            f->saved_errno = errno;
            return f->err = sr_err_from_errno(errno);
        }
        off += (size_t)k;
    }
    f->len = 0;
    return SR_OK;
}

sr_err sr_afile_write(sr_afile *f, const void *p, size_t n) {
    if (f->err) return f->err;
    const unsigned char *s = p;
    f->written += n;
    while (n) {
        if (f->len == f->cap && flush(f)) return f->err;
        size_t k = f->cap - f->len < n ? f->cap - f->len : n;
        memcpy(f->buf + f->len, s, k);
        f->len += k;
        s += k;
        n -= k;
    }
    return SR_OK;
}

sr_err sr_afile_pwrite(sr_afile *f, const void *p, size_t n, uint64_t off) {
    if (f->err || flush(f)) return f->err;
    const unsigned char *s = p;
    while (n) {
        ssize_t k = pwrite(f->fd, s, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR) continue;
            f->saved_errno = errno;
            return f->err = sr_err_from_errno(errno);
        }
        s += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return SR_OK;
}

sr_err sr_afile_commit(sr_afile *f, sr_diag *d) {
    if (!f->err) flush(f);
    if (!f->err && fsync(f->fd) != 0) {
        f->saved_errno = errno;
        f->err = sr_err_from_errno(errno);
    }
    if (!f->err && close(f->fd) != 0) {
        f->saved_errno = errno;
        f->err = sr_err_from_errno(errno);
    }
    f->fd = -1;
    if (!f->err && rename(f->tmp, f->path) != 0) {
        f->saved_errno = errno;
        f->err = sr_err_from_errno(errno);
    }
    if (f->err) {
        sr_err e = sr_diag_set(d, f->err, "%s: cannot write: %s", f->path,
                               strerror(f->saved_errno ? f->saved_errno : EIO));
        sr_afile_abort(f);
        return e;
    }
    /* Make the rename durable. */
    char *dir = sr_strdup(f->path);
    if (dir) {
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        sr_free(dir);
    }
    cleanup(f);
    return SR_OK;
}

void sr_afile_abort(sr_afile *f) {
    if (f->tmp) unlink(f->tmp);
    cleanup(f);
}

sr_err sr_afile_write_all(const char *path, const void *p, size_t n, sr_diag *d) {
    sr_afile f;
    sr_err e = sr_afile_open(&f, path, d);
    if (e) return e;
    e = sr_afile_write(&f, p, n);
    if (e) {
        sr_afile_abort(&f);
        return sr_diag_set(d, e, "%s: %s", path, sr_err_message(e));
    }
    return sr_afile_commit(&f, d);
}

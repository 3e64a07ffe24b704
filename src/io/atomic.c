/* Atomic file output (atomic.h).
 *
 * The bytes go to a file without a name where the filesystem can make one (O_TMPFILE:
 * ext4, xfs, btrfs, tmpfs), so a process killed while writing leaves nothing behind:
 * the kernel frees the space when the last descriptor closes. Commit fsyncs it, links
 * it in as "<path>.tmp.XXXXXX", renames that over path and fsyncs the directory.
 * Elsewhere the file is created under that temporary name from the start (mkstemp).
 *
 * Either way a temporary name can outlive a killed process (for the whole write
 * without O_TMPFILE, for the instant between link and rename with it). Every writer
 * holds an flock on its file for as long as it has it open, so the next sr_afile_open
 * of the same path removes the temporary files of that path that nobody holds and that
 * are older than STALE_S seconds (the grace covers the instant between mkstemp and
 * flock of a writer running now).
 */
#include "io/atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"

#define BUF_CAP    (1u << 20)
#define TMP_SUFFIX ".tmp."
#define TMP_RANDOM 6 /* characters after TMP_SUFFIX, as mkstemp makes them */
#define STALE_S    10

static void cleanup(sr_afile *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    sr_free(f->path);
    sr_free(f->tmp);
    sr_free(f->buf);
    f->path = f->tmp = NULL;
    f->buf = NULL;
}

/* The directory of path (new string, caller frees; "." when path has no slash). */
static char *dir_of(const char *path) {
    char *c = sr_strdup(path);
    if (!c) return NULL;
    char *d = sr_strdup(dirname(c));
    sr_free(c);
    return d;
}

/* Whether name is "<base>.tmp.XXXXXX". */
static bool is_tmp_name(const char *name, const char *base, size_t base_n) {
    size_t n = strlen(name), suffix = strlen(TMP_SUFFIX);
    if (n != base_n + suffix + TMP_RANDOM || memcmp(name, base, base_n) != 0 ||
        memcmp(name + base_n, TMP_SUFFIX, suffix) != 0)
        return false;
    for (const char *p = name + base_n + suffix; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

/* Removes the stale temporary files of path (see the top). Best effort: a file that
 * cannot be opened, locked or removed is left alone. */
static void remove_stale(const char *path) {
    char *dir = dir_of(path), *copy = sr_strdup(path);
    DIR *dp = dir && copy ? opendir(dir) : NULL;
    if (!dp) goto out;
    const char *base = basename(copy);
    size_t base_n = strlen(base);
    int dfd = dirfd(dp);
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (!is_tmp_name(e->d_name, base, base_n)) continue;
        int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime >= STALE_S &&
            flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlinkat(dfd, e->d_name, 0);
        close(fd); /* drops the lock */
    }
    closedir(dp);
out:
    sr_free(dir);
    sr_free(copy);
}

/* Opens an unnamed file in path's directory (O_TMPFILE); -1 with errno when the
 * filesystem or kernel cannot, or when /proc (needed to link it in) is missing. */
static int open_unnamed(const char *path) {
    if (access("/proc/self/fd", X_OK) != 0) return errno = EOPNOTSUPP, -1;
    char *dir = dir_of(path);
    if (!dir) return errno = ENOMEM, -1;
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666); /* the umask applies */
    int e = errno;
    sr_free(dir);
    errno = e;
    return fd;
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
    /* Renaming over a device or a directory would replace it: only regular files. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        cleanup(f);
        return sr_diag_set(d, SR_E_IO, "%s: cannot write: not a regular file", path);
    }
    remove_stale(path);
    f->tmp[0] = 0; /* no name yet */
    f->fd = open_unnamed(path);
    if (f->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        memcpy(f->tmp, path, n);
        memcpy(f->tmp + n, TMP_SUFFIX "XXXXXX", strlen(TMP_SUFFIX) + TMP_RANDOM + 1);
        f->fd = mkostemp(f->tmp, O_CLOEXEC);
        if (f->fd >= 0) {
            /* mkstemp makes 0600; datasets and models are ordinary files. */
            mode_t um = umask(0);
            umask(um);
            fchmod(f->fd, 0666 & ~um);
        }
    }
    if (f->fd < 0) {
        int e = errno;
        sr_err r = sr_diag_set(d, sr_err_from_errno(e), "%s: cannot create: %s", path, strerror(e));
        f->tmp[0] = 0;
        cleanup(f);
        return r;
    }
    flock(f->fd, LOCK_EX); /* ours alone: never blocks */
    f->cap = BUF_CAP;
    return SR_OK;
}

static sr_err fail_errno(sr_afile *f) {
    f->saved_errno = errno;
    return f->err = sr_err_from_errno(errno);
}

static sr_err flush(sr_afile *f) {
    size_t off = 0;
    while (off < f->len) {
        ssize_t k = write(f->fd, f->buf + off, f->len - off);
        if (k < 0) {
            if (errno == EINTR) continue;
            return fail_errno(f);
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
            return fail_errno(f);
        }
        s += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return SR_OK;
}

/* Gives the unnamed file the name "<path>.tmp.XXXXXX" (into f->tmp). */
static int link_unnamed(sr_afile *f) {
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
    size_t n = strlen(f->path), suffix = strlen(TMP_SUFFIX);
    memcpy(f->tmp, f->path, n);
    memcpy(f->tmp + n, TMP_SUFFIX, suffix);
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char r[TMP_RANDOM];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            for (int i = 0; i < TMP_RANDOM; i++) r[i] = (unsigned char)(rand() + attempt);
        for (int i = 0; i < TMP_RANDOM; i++) f->tmp[n + suffix + i] = chars[r[i] % 62];
        f->tmp[n + suffix + TMP_RANDOM] = 0;
        if (linkat(AT_FDCWD, proc, AT_FDCWD, f->tmp, AT_SYMLINK_FOLLOW) == 0) return 0;
        if (errno != EEXIST) break;
    }
    f->tmp[0] = 0;
    return -1;
}

sr_err sr_afile_commit(sr_afile *f, sr_diag *d) {
    if (!f->err) flush(f);
    if (!f->err && fsync(f->fd) != 0) fail_errno(f);
    if (!f->err && !f->tmp[0] && link_unnamed(f) != 0) fail_errno(f);
    if (!f->err && rename(f->tmp, f->path) != 0) fail_errno(f);
    if (f->err) {
        sr_err e = sr_diag_set(d, f->err, "%s: cannot write: %s", f->path,
                               strerror(f->saved_errno ? f->saved_errno : EIO));
        sr_afile_abort(f);
        return e;
    }
    /* Closed only now, so that the lock covered the temporary name; the data is synced,
     * so an error of close says nothing more. */
    close(f->fd);
    f->fd = -1;
    /* Make the rename durable. */
    char *dir = dir_of(f->path);
    if (dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
    if (f->tmp && f->tmp[0]) unlink(f->tmp); /* an unnamed file goes with its descriptor */
    cleanup(f);
}

sr_err sr_afile_write_all(const char *path, const void *p, size_t n, sr_diag *d) {
    sr_afile f;
    sr_err e = sr_afile_open(&f, path, d);
    if (e) return e;
    sr_afile_write(&f, p, n); /* a failed write is sticky: commit reports it */
    return sr_afile_commit(&f, d);
}

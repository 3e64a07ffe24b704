/* Input files through libarchive (input.h).
 *
 * libarchive is set up with every decompression filter and the tar, zip, raw and empty
 * formats: raw makes a plain or singly-compressed file a one-member "archive", so all
 * inputs share one code path. The member stream's fill function is archive_read_data;
 * a negative return there means a truncated or corrupt stream.
 */
#include "io/input.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"

struct sr_input {
    struct archive *a;
    char *path;
    char *member; /* current member name (owned) */
    sr_stream stream;
    bool stream_open;
    bool archive_checked, is_archive;
    uint64_t size;
    int fd; /* -1 for stdin */
};

static ssize_t member_fill(void *src, void *buf, size_t cap, sr_diag *d) {
    sr_input *in = src;
    la_ssize_t k = archive_read_data(in->a, buf, cap);
    if (k < 0) {
        const char *why = archive_error_string(in->a);
        return sr_diag_set(d, SR_E_TRUNCATED, "%s: truncated or corrupt input (%s)", in->path,
                           why ? why : "read error");
    }
    return k;
}

sr_err sr_input_open(const char *path, sr_input **out, sr_diag *d) {
    *out = NULL;
    sr_input *in = sr_calloc(1, sizeof *in);
    if (!in) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    in->fd = -1;
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
        sr_stream_deinit(&in->stream);
        in->stream_open = false;
    }
    for (;;) {
        struct archive_entry *ent;
        int r = archive_read_next_header(in->a, &ent);
        if (r == ARCHIVE_EOF) return 0;
        if (r < ARCHIVE_WARN) {
            const char *why = archive_error_string(in->a);
            return sr_diag_set(d, SR_E_TRUNCATED, "%s: truncated or corrupt archive (%s)",
                               in->path, why ? why : "unknown");
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
    return (uint64_t)archive_filter_bytes(in->a, -1);
}

uint64_t sr_input_size(const sr_input *in) {
    return in->size;
}

const char *sr_input_path(const sr_input *in) {
    return in->path;
}

void sr_input_close(sr_input *in) {
    if (!in) return;
    if (in->stream_open) sr_stream_deinit(&in->stream);
    if (in->a) archive_read_free(in->a);
    if (in->fd >= 0) close(in->fd);
    sr_free(in->member);
    sr_free(in->path);
    sr_free(in);
}

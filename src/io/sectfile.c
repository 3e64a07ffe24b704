/* The shared header of the .srd and .srm containers (sectfile.h). */
#include "io/sectfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

void sr_sectfile_header(unsigned char *header, const sr_sectfile_kind *k, uint64_t file_size,
                        uint32_t n_sections, uint64_t checksum) {
    memset(header, 0, SR_SECTFILE_HEADER);
    memcpy(header, k->magic, 8);
    sr_put32(header + 8, k->version);
    sr_put32(header + 12, SR_SECTFILE_ENDIAN);
    sr_put64(header + 16, file_size);
    sr_put32(header + 24, n_sections);
    sr_put64(header + 32, SR_SECTFILE_HEADER);
    sr_put64(header + 40, checksum);
}

sr_err sr_sectfile_map(const char *path, const sr_sectfile_kind *k, bool private_map, void **map,
                       uint64_t *size, sr_diag *d) {
    *map = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return sr_diag_set(d, SR_E_IO, "%s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sr_diag_set(d, SR_E_IO, "%s: %s", path, strerror(e));
    }
    uint64_t n = (uint64_t)st.st_size;
    if (n < 8) {
        close(fd);
        return sr_diag_set(d, SR_E_CORRUPT, "%s: not a songrec %s (only %" PRIu64 " bytes)", path,
                           k->noun, n);
    }
    void *m = mmap(NULL, n, PROT_READ, private_map ? MAP_PRIVATE : MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        int e = errno;
        return sr_diag_set(d, SR_E_IO, "%s: cannot map: %s", path, strerror(e));
    }
    *map = m;
    *size = n;
    return SR_OK;
}

static bool zeros(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

sr_err sr_sectfile_check(const unsigned char *b, uint64_t size, const char *path,
                         const sr_sectfile_kind *k, uint32_t *n_sections, uint64_t *table_off,
                         sr_diag *d) {
    if (memcmp(b, k->magic, 8) != 0)
        return sr_diag_set(d, SR_E_CORRUPT, "%s: not a songrec %s (bad magic)", path, k->noun);
    if (size < SR_SECTFILE_HEADER)
        return sr_diag_set(d, SR_E_TRUNCATED, "%s: truncated (%" PRIu64 " bytes, header is 64)",
                           path, size);
    uint32_t mark = sr_get32(b + 12);
    if (mark == __builtin_bswap32(SR_SECTFILE_ENDIAN))
        return sr_diag_set(d, SR_E_VERSION, "%s: written on a machine of other byte order", path);
    if (mark != SR_SECTFILE_ENDIAN)
        return sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt header (bad endianness mark)", path);
    uint32_t version = sr_get32(b + 8);
    if (version != k->version)
        return sr_diag_set(d, SR_E_VERSION,
                           "%s: %s format version %u; this songrec reads version %u (re-run %s)",
                           path, k->noun, version, k->version, k->rewrite);
    uint64_t want = sr_get64(b + 16);
    if (want != size)
        return sr_diag_set(d, want > size ? SR_E_TRUNCATED : SR_E_CORRUPT,
                           "%s: %s (%" PRIu64 " bytes, header says %" PRIu64 ")", path,
                           want > size ? "truncated" : "has trailing bytes", size, want);
    /* The checksum covers what follows the header, so the header's other fields are
     * checked for the only values a writer puts there. */
    if (!zeros(b + 28, 4) || !zeros(b + 48, SR_SECTFILE_HEADER - 48))
        return sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt header (reserved bytes not zero)", path);
    if (sr_get64(b + 32) != SR_SECTFILE_HEADER)
        return sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt header (section table offset)", path);
    if (XXH3_64bits(b + SR_SECTFILE_HEADER, size - SR_SECTFILE_HEADER) != sr_get64(b + 40))
        return sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt (checksum mismatch)", path);
    uint32_t nsec = sr_get32(b + 24);
    if (nsec > k->max_sections || (uint64_t)nsec * k->entry_size > size - SR_SECTFILE_HEADER)
        return sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt section table", path);
    *n_sections = nsec;
    *table_off = SR_SECTFILE_HEADER;
    return SR_OK;
}

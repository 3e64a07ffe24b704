/* The .srm section container (srm.h; byte layout in docs/formats.md).
 *
 * Writing lays out the table first (every section's offset rounded up to 64 bytes),
 * then streams header placeholder, table, padding and data through an sr_afile while
 * hashing, and rewrites the header with the checksum at the end — the same scheme as
 * the .srd writer. Reading maps the file PROT_READ/MAP_SHARED and checks, in order:
 * magic, size >= header, endianness, version, file size, the header's reserved bytes and
 * table offset, checksum, then each table entry (known type, matching element size, the
 * offset the writer gives it, count that fits, NUL-terminated unique name) and that the
 * last section ends the file. Nothing behind a failed check is looked at.
 */
#include "models/srm.h"

#include <stdio.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "io/atomic.h"
#include "io/sectfile.h"
#include "util/mem.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#define HEADER_SIZE SR_SECTFILE_HEADER
#define ENTRY_SIZE  64u
#define ALIGN       64u
#define MAX_SECS    4096u

static const sr_sectfile_kind file_kind = {
    .magic = "SRMODL\r\n",
    .version = 2, /* 2: factor rows stored without padding in float32 too */
    .noun = "model",
    .rewrite = "songrec train",
    .entry_size = ENTRY_SIZE,
    .max_sections = MAX_SECS,
};

static const uint32_t elem_size[SR_SRM__END] = {
    [SR_SRM_U8] = 1,  [SR_SRM_U32] = 4, [SR_SRM_U64] = 8,
    [SR_SRM_F16] = 2, [SR_SRM_F32] = 4, [SR_SRM_F64] = 8,
};

/* ---- float16 ---- */

uint16_t sr_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0)); /* inf, nan */
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u); /* overflow -> inf */
    if (e <= 0) {                                   /* subnormal or zero */
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* may carry into exp: correct */
    return (uint16_t)(sign | h);
}

float sr_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0) {
        if (!man) {
            x = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000u | (man << 13);
    } else {
        x = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* h -> f, n values. Both conversions are exact (every binary16 is a float32), so the
 * F16C path, picked at run time, gives the same floats as the portable loop. */
#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) static void f16_convert_f16c(const uint16_t *h, float *f,
                                                                 uint64_t n) {
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(f + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++) f[i] = sr_f16_to_f32(h[i]);
}
#endif

static void f16_convert(const uint16_t *h, float *f, uint64_t n) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    __builtin_cpu_init(); /* avx also checks that the OS saves the YMM registers */
    if (__builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C)) {
        f16_convert_f16c(h, f, n);
        return;
    }
#endif
    for (uint64_t i = 0; i < n; i++) f[i] = sr_f16_to_f32(h[i]);
}

/* ---- writer ---- */

typedef struct wsec {
    char name[SR_SRM_NAME_MAX + 1];
    sr_srm_type type;
    const void *data;
    uint64_t count;
} wsec;

struct sr_srm_writer {
    sr_srm_precision prec;
    wsec *secs;
    size_t n, cap;
    void **owned; /* copies made by put_u64/put_str/put_factors */
    size_t n_owned, cap_owned;
    sr_err err;
    char bad[SR_SRM_NAME_MAX + 40];
};

sr_srm_writer *sr_srm_writer_new(sr_srm_precision prec) {
    sr_srm_writer *w = sr_calloc(1, sizeof *w);
    if (w) w->prec = prec;
    return w;
}

void sr_srm_writer_free(sr_srm_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_owned; i++) sr_free(w->owned[i]);
    sr_free(w->owned);
    sr_free(w->secs);
    sr_free(w);
}

sr_srm_precision sr_srm_writer_precision(const sr_srm_writer *w) {
    return w->prec;
}

/* Takes ownership of p (freed with the writer); frees it and fails when out of memory. */
static void *own(sr_srm_writer *w, void *p) {
    if (!p || sr_grow((void **)&w->owned, &w->cap_owned, w->n_owned + 1, sizeof(void *))) {
        sr_free(p);
        if (!w->err) w->err = SR_E_NOMEM;
        return NULL;
    }
    w->owned[w->n_owned++] = p;
    return p;
}

void sr_srm_put(sr_srm_writer *w, const char *name, sr_srm_type t, const void *data,
                uint64_t count) {
    if (w->err) return;
    size_t len = strlen(name);
    bool dup = false;
    for (size_t i = 0; i < w->n && !dup; i++) dup = !strcmp(w->secs[i].name, name);
    if (len == 0 || len > SR_SRM_NAME_MAX || dup || t <= 0 || t >= SR_SRM__END ||
        (count && !data)) {
        w->err = SR_E_INTERNAL;
        snprintf(w->bad, sizeof w->bad, "bad section '%.*s'", SR_SRM_NAME_MAX, name);
        return;
    }
    if (sr_grow((void **)&w->secs, &w->cap, w->n + 1, sizeof *w->secs)) {
        w->err = SR_E_NOMEM;
        return;
    }
    wsec *s = &w->secs[w->n++];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, len);
    s->type = t;
    s->data = data;
    s->count = count;
}

void *sr_srm_writer_alloc(sr_srm_writer *w, size_t n) {
    return own(w, sr_malloc(n ? n : 1));
}

void sr_srm_put_u64(sr_srm_writer *w, const char *name, uint64_t v) {
    uint64_t *p = own(w, sr_malloc(sizeof v));
    if (!p) return;
    *p = v;
    sr_srm_put(w, name, SR_SRM_U64, p, 1);
}

void sr_srm_put_f64(sr_srm_writer *w, const char *name, double v) {
    double *p = own(w, sr_malloc(sizeof v));
    if (!p) return;
    *p = v;
    sr_srm_put(w, name, SR_SRM_F64, p, 1);
}

void sr_srm_put_str(sr_srm_writer *w, const char *name, const char *s) {
    char *p = own(w, sr_strdup(s ? s : ""));
    if (!p) return;
    sr_srm_put(w, name, SR_SRM_U8, p, strlen(p));
}

void sr_srm_put_factors(sr_srm_writer *w, const char *name, const float *data, uint64_t rows,
                        uint32_t k, uint32_t ld) {
    uint64_t count = rows * k;
    if (w->prec == SR_SRM_PREC_F32) {
        if (ld == k) {
            sr_srm_put(w, name, SR_SRM_F32, data, count);
            return;
        }
        float *c = own(w, sr_mallocarray(count ? (size_t)count : 1, sizeof *c));
        if (!c) return;
        for (uint64_t r = 0; r < rows; r++) memcpy(c + r * k, data + r * ld, k * sizeof *c);
        sr_srm_put(w, name, SR_SRM_F32, c, count);
        return;
    }
    uint16_t *h = own(w, sr_mallocarray(count ? (size_t)count : 1, sizeof *h));
    if (!h) return;
    for (uint64_t r = 0; r < rows; r++)
        for (uint32_t f = 0; f < k; f++) h[r * k + f] = sr_f32_to_f16(data[r * ld + f]);
    sr_srm_put(w, name, SR_SRM_F16, h, count);
}

/* Writes bytes to the file and the running checksum. */
static sr_err hwrite(sr_afile *f, XXH3_state_t *h, const void *p, size_t n) {
    XXH3_64bits_update(h, p, n);
    return sr_afile_write(f, p, n);
}

sr_err sr_srm_write(sr_srm_writer *w, const char *path, sr_diag *d) {
    if (w->err == SR_E_NOMEM) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    if (w->err) return sr_diag_set(d, w->err, "%s: %s", path, w->bad);
    size_t tsize = w->n * ENTRY_SIZE;
    unsigned char *table = sr_calloc(w->n ? w->n : 1, ENTRY_SIZE);
    if (!table) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    uint64_t off = HEADER_SIZE + tsize;
    for (size_t i = 0; i < w->n; i++) {
        off = (off + ALIGN - 1) / ALIGN * ALIGN;
        unsigned char *e = table + i * ENTRY_SIZE;
        memcpy(e, w->secs[i].name, SR_SRM_NAME_MAX + 1);
        sr_put32(e + 32, (uint32_t)w->secs[i].type);
        sr_put32(e + 36, elem_size[w->secs[i].type]);
        sr_put64(e + 40, off);
        sr_put64(e + 48, w->secs[i].count);
        off += w->secs[i].count * elem_size[w->secs[i].type];
    }
    uint64_t file_size = off;
    sr_afile f;
    sr_err err = sr_afile_open(&f, path, d);
    if (err) {
        sr_free(table);
        return err;
    }
    XXH3_state_t *h = XXH3_createState();
    if (!h) {
        sr_free(table);
        sr_afile_abort(&f);
        return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    }
    XXH3_64bits_reset(h);
    unsigned char header[HEADER_SIZE];
    memset(header, 0, sizeof header);
    sr_afile_write(&f, header, sizeof header); /* placeholder, rewritten below */
    hwrite(&f, h, table, tsize);
    static const unsigned char zeros[ALIGN];
    uint64_t pos = HEADER_SIZE + tsize;
    for (size_t i = 0; i < w->n; i++) {
        uint64_t at = sr_get64(table + i * ENTRY_SIZE + 40);
        hwrite(&f, h, zeros, (size_t)(at - pos));
        uint64_t n = w->secs[i].count * elem_size[w->secs[i].type];
        if (n) hwrite(&f, h, w->secs[i].data, (size_t)n);
        pos = at + n;
    }
    sr_sectfile_header(header, &file_kind, file_size, (uint32_t)w->n, XXH3_64bits_digest(h));
    XXH3_freeState(h);
    sr_free(table);
    sr_afile_pwrite(&f, header, sizeof header, 0);
    return sr_afile_commit(&f, d);
}

/* ---- reader ---- */

typedef struct rsec {
    const char *name; /* into the map, NUL-terminated (checked) */
    sr_srm_type type;
    const void *data;
    uint64_t count;
} rsec;

struct sr_srm {
    char *path;
    const unsigned char *map;
    uint64_t size;
    rsec *secs;
    size_t n;
    void **owned;
    size_t n_owned, cap_owned;
    bool f16;
};

void sr_srm_close(sr_srm *r) {
    if (!r) return;
    if (r->map) munmap((void *)r->map, r->size);
    for (size_t i = 0; i < r->n_owned; i++) sr_free(r->owned[i]);
    sr_free(r->owned);
    sr_free(r->secs);
    sr_free(r->path);
    sr_free(r);
}

sr_err sr_srm_open(const char *path, sr_srm **out, sr_diag *d) {
    *out = NULL;
    void *map;
    uint64_t size;
    sr_err err = sr_sectfile_map(path, &file_kind, false, &map, &size, d);
    if (err) return err;
    const unsigned char *b = map;
    sr_srm *r = sr_calloc(1, sizeof *r);
    if (!r || !(r->path = sr_strdup(path))) {
        err = sr_diag_set(d, SR_E_NOMEM, "out of memory");
        goto fail;
    }
    r->map = b;
    r->size = size;
    map = NULL;
    uint32_t nsec;
    uint64_t toff;
    if ((err = sr_sectfile_check(b, size, path, &file_kind, &nsec, &toff, d))) goto fail;
    r->secs = sr_calloc(nsec ? nsec : 1, sizeof *r->secs);
    if (!r->secs) {
        err = sr_diag_set(d, SR_E_NOMEM, "out of memory");
        goto fail;
    }
    /* Sections lie as the writer lays them: each at the first 64-byte boundary after
     * the one before (the first after the table), the last ending the file. The header's
     * section count is not checksummed; this makes a damaged count an error (too few
     * entries leave a gap before the first section, too many read data as entries). */
    uint64_t end = toff + (uint64_t)nsec * ENTRY_SIZE;
    for (uint32_t i = 0; i < nsec; i++) {
        const unsigned char *e = b + toff + (uint64_t)i * ENTRY_SIZE;
        uint32_t t = sr_get32(e + 32), el = sr_get32(e + 36);
        uint64_t off = sr_get64(e + 40), count = sr_get64(e + 48);
        bool ok = memchr(e, 0, SR_SRM_NAME_MAX + 1) && e[0] && t > 0 && t < SR_SRM__END &&
                  el == elem_size[t] && off == (end + ALIGN - 1) / ALIGN * ALIGN && off <= size &&
                  count <= (size - off) / el;
        for (size_t j = 0; ok && j < r->n; j++) ok = strcmp(r->secs[j].name, (const char *)e);
        if (!ok) {
            err = sr_diag_set(d, SR_E_CORRUPT, "%s: corrupt section table entry %u", path, i);
            goto fail;
        }
        r->secs[r->n++] = (rsec){(const char *)e, (sr_srm_type)t, b + off, count};
        if (t == SR_SRM_F16) r->f16 = true;
        end = off + count * el;
    }
    if (end != size) {
        err = sr_diag_set(d, SR_E_CORRUPT,
                          "%s: corrupt section table (%" PRIu64 " bytes after the last section)",
                          path, size - end);
        goto fail;
    }
    *out = r;
    return SR_OK;
fail:
    if (map) munmap(map, size);
    sr_srm_close(r);
    return err;
}

uint64_t sr_srm_file_size(const sr_srm *r) {
    return r->size;
}
size_t sr_srm_n_sections(const sr_srm *r) {
    return r->n;
}
const char *sr_srm_path(const sr_srm *r) {
    return r->path;
}
sr_srm_precision sr_srm_precision_of(const sr_srm *r) {
    return r->f16 ? SR_SRM_PREC_F16 : SR_SRM_PREC_F32;
}

void sr_srm_section(const sr_srm *r, size_t i, sr_srm_section_info *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", r->secs[i].name);
    out->type = r->secs[i].type;
    out->count = r->secs[i].count;
    out->bytes = r->secs[i].count * elem_size[r->secs[i].type];
}

static const rsec *find(const sr_srm *r, const char *name) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->secs[i].name, name)) return &r->secs[i];
    return NULL;
}

bool sr_srm_has(const sr_srm *r, const char *name) {
    return find(r, name) != NULL;
}

sr_err sr_srm_get(const sr_srm *r, const char *name, sr_srm_type t, uint64_t count,
                  const void **out, uint64_t *n, sr_diag *d) {
    const rsec *s = find(r, name);
    *out = NULL;
    if (!s) return sr_diag_set(d, SR_E_CORRUPT, "%s: section '%s' missing", r->path, name);
    if (s->type != t || (count != UINT64_MAX && s->count != count))
        return sr_diag_set(d, SR_E_CORRUPT,
                           "%s: section '%s' has the wrong type or size (%" PRIu64 " elements)",
                           r->path, name, s->count);
    *out = s->data;
    if (n) *n = s->count;
    return SR_OK;
}

sr_err sr_srm_get_u64(const sr_srm *r, const char *name, uint64_t *v, sr_diag *d) {
    const void *p;
    sr_err e = sr_srm_get(r, name, SR_SRM_U64, 1, &p, NULL, d);
    if (!e) memcpy(v, p, sizeof *v);
    return e;
}

sr_err sr_srm_get_f64(const sr_srm *r, const char *name, double *v, sr_diag *d) {
    const void *p;
    sr_err e = sr_srm_get(r, name, SR_SRM_F64, 1, &p, NULL, d);
    if (!e) memcpy(v, p, sizeof *v);
    return e;
}

/* Takes ownership of p (freed on close). */
static void *r_own(sr_srm *r, void *p) {
    if (!p || sr_grow((void **)&r->owned, &r->cap_owned, r->n_owned + 1, sizeof(void *))) {
        sr_free(p);
        return NULL;
    }
    r->owned[r->n_owned++] = p;
    return p;
}

sr_err sr_srm_get_str(sr_srm *r, const char *name, const char **s, sr_diag *d) {
    const void *p;
    uint64_t n;
    sr_err e = sr_srm_get(r, name, SR_SRM_U8, UINT64_MAX, &p, &n, d);
    if (e) return e;
    char *c = r_own(r, sr_strndup(p, (size_t)n));
    if (!c) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    *s = c;
    return SR_OK;
}

sr_err sr_srm_get_fmat(const sr_srm *r, const char *name, uint64_t rows, uint32_t k, sr_fmat *out,
                       sr_diag *d) {
    memset(out, 0, sizeof *out);
    const rsec *s = find(r, name);
    if (!s) return sr_diag_set(d, SR_E_CORRUPT, "%s: section '%s' missing", r->path, name);
    if ((s->type != SR_SRM_F32 && s->type != SR_SRM_F16) || s->count != rows * k)
        return sr_diag_set(d, SR_E_CORRUPT,
                           "%s: section '%s' has the wrong type or size (%" PRIu64 " elements)",
                           r->path, name, s->count);
    *out = (sr_fmat){s->data, rows, k, k, s->type == SR_SRM_F16 ? SR_FMAT_F16 : SR_FMAT_F32, NULL};
    return SR_OK;
}

sr_err sr_srm_get_factors(sr_srm *r, const char *name, uint64_t rows, uint32_t k, uint32_t ld,
                          const float **out, sr_diag *d) {
    *out = NULL;
    sr_fmat m;
    sr_err e = sr_srm_get_fmat(r, name, rows, k, &m, d);
    if (e) return e;
    if (m.type == SR_FMAT_F32 && ld == k) {
        *out = m.data;
        return SR_OK;
    }
    /* 64-byte aligned, like the factor matrices a fit makes. */
    size_t n = (size_t)(rows ? rows : 1) * ld;
    unsigned char *raw = r_own(r, sr_mallocarray(n + 16, sizeof(float)));
    if (!raw) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    float *c = (float *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    for (uint64_t i = 0; i < rows; i++) {
        if (m.type == SR_FMAT_F16)
            f16_convert((const uint16_t *)m.data + i * k, c + i * ld, k);
        else
            memcpy(c + i * ld, (const float *)m.data + i * k, k * sizeof(float));
        for (uint32_t f = k; f < ld; f++) c[i * ld + f] = 0;
    }
    *out = c;
    return SR_OK;
}

bool sr_srm_maps(const sr_srm *r, const void *p, size_t n) {
    const unsigned char *a = p;
    return r && r->map && a >= r->map && n <= r->size && (size_t)(a - r->map) <= r->size - n;
}

/* The .srm trained-model file: a container of named, typed sections (byte layout in
 * docs/formats.md), and the model-level save/load built on it.
 *
 * Container. A 64-byte header (magic "SRMODL\r\n", version, endianness mark, file size,
 * section count, table offset, XXH3-64 of every byte after the header), a table of
 * 64-byte entries (a NUL-padded name of up to 31 bytes, element type, element size,
 * offset, count), then the sections, each on a 64-byte boundary. Scalars are sections of
 * one element; strings are u8 sections. A writer collects sections (borrowing their
 * data until sr_srm_write) and writes them atomically (io/atomic.h). A reader maps the
 * file read-only and shared (MAP_SHARED: processes serving one model share its pages),
 * checks magic, version, endianness, size, checksum and the table, and hands out
 * pointers into the map after checking each section's type and count against what the
 * caller expects.
 *
 * Precision. "Factor" arrays (MF factor matrices, k-NN similarity matrices) are written
 * float32, or float16 (IEEE binary16, round to nearest even) when the writer's
 * precision is SR_SRM_F16, rows unpadded. Matrix-factorisation models use them in place
 * either way (sr_srm_get_fmat: float16 rows are widened as the scan reads them); the
 * k-NN similarity matrices are converted to float32 once, at load (sr_srm_get_factors).
 *
 * Ownership: everything sr_srm_get_* returns is borrowed from the reader and lives until
 * sr_srm_close.
 */
#ifndef SR_SRM_H
#define SR_SRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/fmat.h"
#include "util/err.h"

#define SR_SRM_NAME_MAX 31 /* bytes of a section name, NUL excluded */

typedef enum sr_srm_type {
    SR_SRM_U8 = 1, /* bytes, strings (not NUL-terminated) */
    SR_SRM_U32,
    SR_SRM_U64,
    SR_SRM_F16,
    SR_SRM_F32,
    SR_SRM_F64,
    SR_SRM__END
} sr_srm_type;

typedef enum sr_srm_precision { SR_SRM_PREC_F32 = 0, SR_SRM_PREC_F16 } sr_srm_precision;

/* ---- writing ---- */
typedef struct sr_srm_writer sr_srm_writer;

/* Returns a new writer (NULL when out of memory); free with sr_srm_writer_free. */
sr_srm_writer *sr_srm_writer_new(sr_srm_precision prec);
void sr_srm_writer_free(sr_srm_writer *w);
sr_srm_precision sr_srm_writer_precision(const sr_srm_writer *w);
/* Adds a section; data (count elements of type t) is borrowed until sr_srm_write. Names
 * are unique; a repeated or too-long name is an SR_E_INTERNAL error, sticky (reported
 * by sr_srm_write). */
void sr_srm_put(sr_srm_writer *w, const char *name, sr_srm_type t, const void *data,
                uint64_t count);
/* n bytes the writer owns (freed with it): room for a section built on the fly. NULL
 * when out of memory (sticky, as for put). */
void *sr_srm_writer_alloc(sr_srm_writer *w, size_t n);
/* Scalars and strings (copied). */
void sr_srm_put_u64(sr_srm_writer *w, const char *name, uint64_t v);
void sr_srm_put_f64(sr_srm_writer *w, const char *name, double v);
void sr_srm_put_str(sr_srm_writer *w, const char *name, const char *s);
/* A factor matrix of rows x k values held with row stride ld >= k: stored without the
 * padding, rows x k values, float32 or (at SR_SRM_PREC_F16) converted to float16. */
void sr_srm_put_factors(sr_srm_writer *w, const char *name, const float *data, uint64_t rows,
                        uint32_t k, uint32_t ld);
/* Writes the file atomically. */
sr_err sr_srm_write(sr_srm_writer *w, const char *path, sr_diag *d);

/* ---- reading ---- */
typedef struct sr_srm sr_srm;

typedef struct sr_srm_section_info {
    char name[SR_SRM_NAME_MAX + 1];
    sr_srm_type type;
    uint64_t count, bytes;
} sr_srm_section_info;

/* Maps and checks path (see the top); returns a new reader in *out. */
sr_err sr_srm_open(const char *path, sr_srm **out, sr_diag *d);
void sr_srm_close(sr_srm *r);
/* Whether [p, p + n) lies inside r's read-only file mapping (then its pages may be
 * handed back to the kernel and read again from the file). */
bool sr_srm_maps(const sr_srm *r, const void *p, size_t n);
uint64_t sr_srm_file_size(const sr_srm *r);
size_t sr_srm_n_sections(const sr_srm *r);
void sr_srm_section(const sr_srm *r, size_t i, sr_srm_section_info *out);
const char *sr_srm_path(const sr_srm *r);

/* Whether a section exists. */
bool sr_srm_has(const sr_srm *r, const char *name);
/* The section's data, checked to have type t and exactly `count` elements (count
 * UINT64_MAX: any; then *n gets it when n is not NULL). SR_E_CORRUPT naming the section
 * when it is missing or of another type or count. */
sr_err sr_srm_get(const sr_srm *r, const char *name, sr_srm_type t, uint64_t count,
                  const void **out, uint64_t *n, sr_diag *d);
sr_err sr_srm_get_u64(const sr_srm *r, const char *name, uint64_t *v, sr_diag *d);
sr_err sr_srm_get_f64(const sr_srm *r, const char *name, double *v, sr_diag *d);
/* A string section as a NUL-terminated copy owned by the reader. */
sr_err sr_srm_get_str(sr_srm *r, const char *name, const char **s, sr_diag *d);
/* A factor matrix of rows x k as a view into the map (float32 or float16, stride k), used
 * in place: nothing is converted, so an f16 file stays half the size in memory too. */
sr_err sr_srm_get_fmat(const sr_srm *r, const char *name, uint64_t rows, uint32_t k, sr_fmat *out,
                       sr_diag *d);
/* A factor matrix of rows x k with row stride ld, as float32: in place when stored
 * float32 and ld == k, else converted once into a reader-owned, 64-byte-aligned rows x ld
 * buffer with zero padding. Values are not inspected (a server
 * starts without reading every page): a non-finite stored value yields a non-finite
 * estimate, which predict replaces. */
sr_err sr_srm_get_factors(sr_srm *r, const char *name, uint64_t rows, uint32_t k, uint32_t ld,
                          const float **out, sr_diag *d);
/* The precision factor arrays were stored in (F32 when there are none). */
sr_srm_precision sr_srm_precision_of(const sr_srm *r);

/* float16 <-> float32 (IEEE binary16, round to nearest even). */
uint16_t sr_f32_to_f16(float f);
float sr_f16_to_f32(uint16_t h);

#endif

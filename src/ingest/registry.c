/* The format registry (formats.def) and content-based detection. Kept apart from
 * reader.c so that a reader's unit test links without every other reader. */
#include <string.h>

#include "ingest/reader.h"

#define X(ident) extern const sr_format sr_format_##ident;
#include "ingest/formats.def"
#undef X

const sr_format *const sr_formats[] = {
#define X(ident) &sr_format_##ident,
#include "ingest/formats.def"
#undef X
};
const size_t sr_n_formats = sizeof sr_formats / sizeof sr_formats[0];

const sr_format *sr_format_find(const char *name) {
    for (size_t i = 0; i < sr_n_formats; i++)
        if (!strcmp(sr_formats[i]->name, name)) return sr_formats[i];
    return NULL;
}

const sr_format *sr_format_detect(const char *name, const unsigned char *head, size_t n) {
    const sr_format *best = NULL;
    int best_score = 0;
    for (size_t i = 0; i < sr_n_formats; i++) {
        int s = sr_formats[i]->detect(name, head, n);
        if (s > best_score) best = sr_formats[i], best_score = s;
    }
    return best;
}

/* Error codes and diagnostics.
 *
 * Every fallible songrec function returns an sr_err: SR_OK (0) or a negative code
 * from errors.def. A caller that wants words for people passes an sr_diag, which the
 * failing function fills with a message that names the file and, where known, the
 * line ("data.jsonl:12: malformed JSON"). The library never prints: messages travel
 * in sr_diag or through an sr_log hook (log.h) that the CLI installs.
 */
#ifndef SR_ERR_H
#define SR_ERR_H

#include <stdarg.h>
#include <stdint.h>

typedef enum sr_err {
#define X(name, msg, code) SR_E_##name##_IDX,
#include "errors.def"
#undef X
    SR_E__COUNT
} sr_err_index;

/* Public codes: 0 and negatives, SR_OK == 0, SR_E_INPUT == -2, ... */
typedef int sr_err;
#define SR_OK              0
#define X(name, msg, code) enum { SR_E_##name = -(int)SR_E_##name##_IDX };
#include "errors.def"
#undef X

const char *sr_err_name(sr_err e);    /* "SR_E_IO" */
const char *sr_err_message(sr_err e); /* "I/O error" */
int sr_err_exit_code(sr_err e);       /* exit status the CLI uses for e */

/* A diagnostic for people: the first error's words. */
typedef struct sr_diag {
    char msg[1024];
} sr_diag;

/* Fills d (when not NULL) with a printf-style message and returns e. */
sr_err sr_diag_set(sr_diag *d, sr_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
sr_err sr_diag_vset(sr_diag *d, sr_err e, const char *fmt, va_list ap);

/* Maps errno to an sr_err (ENOSPC -> SR_E_NOSPC, ENOMEM -> SR_E_NOMEM, else SR_E_IO). */
sr_err sr_err_from_errno(int errnum);

#endif

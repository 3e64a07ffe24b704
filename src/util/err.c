/* Names, messages and exit codes generated from errors.def. */
#include "util/err.h"

#include <errno.h>
#include <stdio.h>

static const char *const names[] = {
#define X(name, msg, code) "SR_E_" #name,
#include "errors.def"
#undef X
};
static const char *const messages[] = {
#define X(name, msg, code) msg,
#include "errors.def"
#undef X
};
static const int codes[] = {
#define X(name, msg, code) code,
#include "errors.def"
#undef X
};

static int index_of(sr_err e) {
    int i = -e;
    return (i >= 0 && i < SR_E__COUNT) ? i : SR_E_INTERNAL_IDX;
}

const char *sr_err_name(sr_err e) {
    return names[index_of(e)];
}

const char *sr_err_message(sr_err e) {
    return messages[index_of(e)];
}

int sr_err_exit_code(sr_err e) {
    return codes[index_of(e)];
}

sr_err sr_diag_vset(sr_diag *d, sr_err e, const char *fmt, va_list ap) {
    if (d) vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    return e;
}

sr_err sr_diag_set(sr_diag *d, sr_err e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sr_diag_vset(d, e, fmt, ap);
    va_end(ap);
    return e;
}

sr_err sr_err_from_errno(int errnum) {
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        return SR_E_NOSPC;
    case ENOMEM:
        return SR_E_NOMEM;
    default:
        return SR_E_IO;
    }
}

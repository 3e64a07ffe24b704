/* Shared options and loading of the rating-model commands (cli_eval.h). */
#include "cli/cli_eval.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "data/dataset.h"
#include "util/mem.h"
#include "util/timeparse.h"

const char sr_cli_eval_help[] =
    "  --cv K                 K-fold cross-validation (default 5)\n"
    "  --split KIND           kfold (default), repeated, shuffle, loo, time\n"
    "  --test-after DATE      time split: test on pairs first heard on or after DATE\n"
    "                         (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS UTC, or Unix seconds)\n"
    "  --repeats N            repeated k-fold: repetitions (default 2)\n"
    "  --test-size X          shuffle split: test fraction (< 1) or count (default 0.2)\n"
    "  --measures LIST        rmse,mae (default); also mse, fcp\n"
    "  --transform T          cap10 (default for play counts) or raw\n"
    "  --seed S               random seed for splits and models (default 0)\n"
    "  --threads N            worker threads (default 2)\n"
    "  --json                 machine-readable output\n";

void sr_cli_eval_init(sr_cli_eval *e) {
    memset(e, 0, sizeof *e);
    e->cv.split =
        (sr_split_opts){.kind = SR_SPLIT_KFOLD, .n_splits = 5, .n_repeats = 2, .test_size = 0.2};
    e->cv.split.time_cut = SR_SPLIT_NO_CUT;
    e->cv.threads = 2;
    e->measure[SR_METRIC_RMSE] = e->measure[SR_METRIC_MAE] = true;
    e->transform = -1;
}

/* Says in e->why what was wrong with an option's value; returns -1 (a bad value). */
__attribute__((format(printf, 2, 3))) static int bad(sr_cli_eval *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, sizeof e->why, fmt, ap);
    va_end(ap);
    return -1;
}

/* Whether s is n decimal digits and nothing else. */
static bool all_digits(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

bool sr_cli_parse_moment(const char *opt, const char *arg, int64_t *t, char *why, size_t cap) {
    int64_t v, as_date;
    if (sr_time_parse_epoch(sr_str_c(arg), &v)) {
        if (v >= 100000000) { /* 1973-03-03 on: a Unix time, as other tools write it */
            *t = v;
            return true;
        }
        /* A year, a compact date or a slip: said, not read as a moment of 1970. */
        char date[64] = "", when[21] = "before 1970";
        if (v >= 0) sr_time_format_iso(v, when);
        const bool year = all_digits(arg, 4), compact = all_digits(arg, 8);
        if (year)
            snprintf(date, sizeof date, "%s-01-01", arg);
        else if (compact)
            snprintf(date, sizeof date, "%.4s-%.2s-%.2s", arg, arg + 4, arg + 6);
        const bool is_date = date[0] && sr_time_parse(sr_str_c(date), &as_date);
        if (is_date && year)
            snprintf(why, cap,
                     "%s %s: a bare number is read as Unix seconds (%s), not as a "
                     "year; for the start of %s write %s",
                     opt, arg, when, arg, date);
        else if (is_date)
            snprintf(why, cap,
                     "%s %s: a bare number is read as Unix seconds (%s), not as a "
                     "date; write %s",
                     opt, arg, when, date);
        else
            snprintf(why, cap,
                     "%s %s: a bare number is read as Unix seconds (%s), before any "
                     "listening data; write a date (YYYY-MM-DD) or a full Unix time",
                     opt, arg, when);
        return false;
    }
    if (sr_time_parse(sr_str_c(arg), t)) return true;
    snprintf(why, cap,
             "%s %s: not a date; write YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (UTC, or "
             "with an offset such as +02:00) or Unix seconds",
             opt, arg);
    return false;
}

int sr_cli_eval_bad(const char *cmd, const sr_cli_eval *e, const char *arg) {
    if (e->why[0])
        fprintf(stderr, "songrec %s: %s\n", cmd, e->why);
    else
        fprintf(stderr, "songrec %s: bad value '%s'\n", cmd, arg ? arg : "");
    return 1;
}

int sr_cli_eval_option(sr_cli_eval *e, int c, const char *arg) {
    uint64_t v;
    e->why[0] = 0;
    switch (c) {
    case SR_CLI_O_CV:
        if (!sr_cli_parse_u64(arg, &v) || v < 2 || v > 1000)
            return bad(e, "--cv %s: the number of folds must be a whole number from 2 to 1000",
                       arg);
        e->cv.split.n_splits = (unsigned)v;
        return 1;
    case SR_CLI_O_SPLIT:
        if (!strcmp(arg, "kfold"))
            e->cv.split.kind = SR_SPLIT_KFOLD;
        else if (!strcmp(arg, "repeated"))
            e->cv.split.kind = SR_SPLIT_REPEATED_KFOLD;
        else if (!strcmp(arg, "shuffle"))
            e->cv.split.kind = SR_SPLIT_SHUFFLE;
        else if (!strcmp(arg, "loo"))
            e->cv.split.kind = SR_SPLIT_LEAVE_ONE_OUT;
        else if (!strcmp(arg, "time"))
            e->cv.split.kind = SR_SPLIT_TIME;
        else
            return bad(e, "--split %s: the split is kfold, repeated, shuffle, loo or time", arg);
        e->split_named = e->cv.split.kind != SR_SPLIT_TIME;
        if (e->split_named && e->cv.split.time_cut != SR_SPLIT_NO_CUT)
            return bad(e, "--split %s: --test-after cuts only the time split (--split time)", arg);
        return 1;
    case SR_CLI_O_TEST_AFTER:
        if (e->split_named)
            return bad(e,
                       "--test-after %s: only the time split has a cut, not the split --split "
                       "names; leave --split out or give --split time",
                       arg);
        if (!sr_cli_parse_moment("--test-after", arg, &e->cv.split.time_cut, e->why, sizeof e->why))
            return -1;
        e->cv.split.kind = SR_SPLIT_TIME;
        return 1;
    case SR_CLI_O_REPEATS:
        if (!sr_cli_parse_u64(arg, &v) || v < 1 || v > 1000)
            return bad(e, "--repeats %s: the repetitions must be a whole number from 1 to 1000",
                       arg);
        e->cv.split.n_repeats = (unsigned)v;
        return 1;
    case SR_CLI_O_TEST_SIZE:
        if (!sr_cli_parse_double(arg, &e->cv.split.test_size) || !(e->cv.split.test_size > 0))
            return bad(e,
                       "--test-size %s: the test part is a fraction of the ratings (0 to 1, "
                       "e.g. 0.2) or a count (1 or more)",
                       arg);
        return 1;
    case SR_CLI_O_MEASURES: {
        bool m[SR_METRIC__COUNT] = {0}, any = false;
        char buf[128];
        snprintf(buf, sizeof buf, "%s", arg);
        char *save = NULL;
        bool unknown = false;
        for (char *t = strtok_r(buf, ",", &save); t && !unknown; t = strtok_r(NULL, ",", &save)) {
            int k = sr_metric_find(t);
            if (k < 0)
                unknown = true;
            else
                m[k] = any = true;
        }
        if (!any || unknown)
            return bad(e, "--measures %s: the measures are rmse, mse, mae and fcp, comma-separated",
                       arg);
        memcpy(e->measure, m, sizeof m);
        return 1;
    }
    case SR_CLI_O_TRANSFORM: {
        sr_transform t;
        if (!sr_cli_parse_transform(arg, &t))
            return bad(e, "--transform %s: the transform is cap10 or raw", arg);
        e->transform = t;
        return 1;
    }
    case SR_CLI_O_SEED:
        if (!sr_cli_parse_u64(arg, &e->cv.seed))
            return bad(e, "--seed %s: the seed must be a whole number, 0 or more", arg);
        e->cv.split.seed = e->cv.seed;
        return 1;
    case SR_CLI_O_THREADS:
        if (!sr_cli_parse_u64(arg, &v) || v < 1 || v > 64)
            return bad(e, "--threads %s: the threads must be a whole number from 1 to 64", arg);
        e->cv.threads = (unsigned)v;
        return 1;
    case SR_CLI_O_JSON:
        e->json = true;
        return 1;
    default:
        return 0;
    }
}

void sr_cli_list_algos(FILE *f) {
    for (size_t i = 0; i < sr_n_models; i++) {
        const sr_model_ops *m = sr_models[i];
        fprintf(f, "%s (%s): %s%s\n", m->name, m->surprise, m->summary,
                m->implicit ? " [implicit feedback: ranking only, trained on play counts]" : "");
        for (size_t k = 0; k < m->n_params; k++) {
            const sr_param_def *p = &m->params[k];
            char def[64];
            if (p->type == SR_PARAM_CHOICE)
                snprintf(def, sizeof def, "%s", p->choices);
            else if (p->def != p->def)
                snprintf(def, sizeof def, "unset");
            else
                snprintf(def, sizeof def, "%g", p->def);
            fprintf(f, "    %-16s %-28s %s\n", p->name, def, p->help);
        }
    }
}

const sr_model_ops *sr_cli_find_model(const char *cmd, const char *name) {
    const sr_model_ops *ops = sr_model_find(name);
    if (!ops) {
        fprintf(stderr, "songrec %s: unknown algorithm '%s'; known:", cmd, name);
        for (size_t i = 0; i < sr_n_models; i++) fprintf(stderr, " %s", sr_models[i]->name);
        fputc('\n', stderr);
    }
    return ops;
}

int sr_cli_model_params(const char *cmd, const char *algo, const char *const *params, int n_params,
                        const sr_model_ops **ops, double *p) {
    *ops = sr_cli_find_model(cmd, algo);
    if (!*ops) return 1;
    sr_params_defaults(*ops, p);
    sr_diag d = {{0}};
    for (int i = 0; i < n_params; i++)
        if (sr_params_set(*ops, p, params[i], &d)) return sr_cli_fail(cmd, SR_E_USAGE, &d);
    return 0;
}

bool sr_cli_parse_transform(const char *s, sr_transform *out) {
    if (!strcmp(s, "cap10"))
        *out = SR_TRANSFORM_CAP10;
    else if (!strcmp(s, "raw"))
        *out = SR_TRANSFORM_RAW;
    else
        return false;
    return true;
}

sr_err sr_cli_load_ratings(const char *path, const sr_cli_eval *e, sr_ratings **out, sr_diag *d) {
    sr_dataset *ds;
    sr_err err = sr_dataset_load(path, &ds, d);
    if (err) return err;
    int t = e->transform;
    if (t < 0) t = ds->kind == SR_VALUE_PLAYS ? SR_TRANSFORM_CAP10 : SR_TRANSFORM_RAW;
    err = sr_ratings_from_dataset(ds, (sr_transform)t, out);
    sr_dataset_free(ds);
    if (err) return sr_diag_set(d, err, "%s: %s", path, sr_err_message(err));
    return SR_OK;
}

void sr_cli_measure_label(sr_metric m, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", sr_metric_name(m));
    for (char *q = buf; *q; q++)
        if (*q >= 'a' && *q <= 'z') *q = (char)(*q - 32);
}

sr_err sr_cli_make_dirs(const char *dir, sr_diag *d) {
    char *p = sr_strdup(dir);
    if (!p) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    sr_err e = SR_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s) continue;
        char save = *s;
        *s = 0;
        if (mkdir(p, 0777) && errno != EEXIST) {
            e = sr_diag_set(d, sr_err_from_errno(errno), "%s: cannot create directory: %s", p,
                            strerror(errno));
            break;
        }
        *s = save;
        if (!save) break;
    }
    struct stat sb;
    if (!e && (stat(dir, &sb) || !S_ISDIR(sb.st_mode)))
        e = sr_diag_set(d, SR_E_IO, "%s: not a directory", dir);
    sr_free(p);
    return e;
}

sr_err sr_cli_open_out(const char *path, FILE **f, bool *close_it, sr_diag *d) {
    *close_it = false;
    if (!strcmp(path, "-")) {
        *f = stdout;
        return SR_OK;
    }
    *f = fopen(path, "w");
    if (!*f)
        return sr_diag_set(d, sr_err_from_errno(errno), "%s: cannot write: %s", path,
                           strerror(errno));
    *close_it = true;
    return SR_OK;
}

bool sr_cli_refuse_implicit(const char *cmd, const sr_model_ops *ops, const char *advice) {
    if (!ops->implicit) return false;
    fprintf(stderr,
            "songrec %s: %s is an implicit-feedback model: it ranks songs, it does not predict "
            "ratings; %s\n",
            cmd, ops->name, advice ? advice : "use --task ranking");
    return true;
}

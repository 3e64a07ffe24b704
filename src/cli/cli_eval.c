/* Shared options and loading of the rating-model commands (cli_eval.h). */
#include "cli/cli_eval.h"

#include <errno.h>
#include <getopt.h>
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
    e->cv.threads = 2;
    e->measure[SR_METRIC_RMSE] = e->measure[SR_METRIC_MAE] = true;
    e->transform = -1;
}

int sr_cli_eval_option(sr_cli_eval *e, int c, const char *arg) {
    uint64_t v;
    switch (c) {
    case SR_CLI_O_CV:
        if (!sr_cli_parse_u64(arg, &v) || v < 2 || v > 1000) return -1;
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
            return -1;
        return 1;
    case SR_CLI_O_TEST_AFTER:
        if (!sr_time_parse(sr_str_c(arg), &e->cv.split.time_cut)) return -1;
        e->cv.split.kind = SR_SPLIT_TIME;
        return 1;
    case SR_CLI_O_REPEATS:
        if (!sr_cli_parse_u64(arg, &v) || v < 1 || v > 1000) return -1;
        e->cv.split.n_repeats = (unsigned)v;
        return 1;
    case SR_CLI_O_TEST_SIZE:
        if (!sr_cli_parse_double(arg, &e->cv.split.test_size) || e->cv.split.test_size <= 0)
            return -1;
        return 1;
    case SR_CLI_O_MEASURES: {
        bool m[SR_METRIC__COUNT] = {0}, any = false;
        char buf[128];
        snprintf(buf, sizeof buf, "%s", arg);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int k = sr_metric_find(t);
            if (k < 0) return -1;
            m[k] = any = true;
        }
        if (!any) return -1;
        memcpy(e->measure, m, sizeof m);
        return 1;
    }
    case SR_CLI_O_TRANSFORM: {
        sr_transform t;
        if (!sr_cli_parse_transform(arg, &t)) return -1;
        e->transform = t;
        return 1;
    }
    case SR_CLI_O_SEED:
        if (!sr_cli_parse_u64(arg, &e->cv.seed)) return -1;
        e->cv.split.seed = e->cv.seed;
        return 1;
    case SR_CLI_O_THREADS:
        if (!sr_cli_parse_u64(arg, &v) || v < 1 || v > 64) return -1;
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

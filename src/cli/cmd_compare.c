/* songrec compare: every rating model, with its defaults, cross-validated on one
 * dataset — the origin's model comparison (and Surprise's benchmark table) in one
 * command.
 *
 *   songrec compare DATA.srd --cv 5 [--algos svd,knn_basic] [--plot DIR]
 *
 * All models see the same splits and seed. The leaderboard is sorted by RMSE (ties and
 * NaN last, then registry order). A model that refuses the data (SR_E_RANGE: e.g.
 * SlopeOne or the KNN models above their size limits) is listed as skipped with its
 * reason and does not fail the command; any other error does. --plot DIR writes
 * DIR/compare.svg: horizontal bars of RMSE and MAE per model, best first.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_eval.h"
#include "eval/split.h"
#include "report/svg.h"
#include "util/mem.h"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec compare DATA.srd [OPTIONS]\n\n"
               "Cross-validates every model with its default parameters and ranks them by "
               "RMSE.\n\n"
               "  --algos LIST           only these models (comma-separated; default: all)\n"
               "  --csv FILE|-           write the leaderboard as CSV\n"
               "  --plot DIR             write DIR/compare.svg\n");
    fputs(sr_cli_eval_help, f);
    fprintf(f, "  -h, --help             this help\n");
}

typedef struct entry {
    const sr_model_ops *ops;
    bool skipped;
    char reason[256];
    sr_cv_result res;
} entry;

static int cmp_entry(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->skipped != y->skipped) return x->skipped - y->skipped;
    if (x->skipped) return 0;
    double p = x->res.mean[SR_METRIC_RMSE], q = y->res.mean[SR_METRIC_RMSE];
    if (isnan(p) != isnan(q)) return isnan(p) ? 1 : -1;
    if (!isnan(p) && p != q) return p < q ? -1 : 1;
    return 0;
}

/* Stable sort (qsort is not): insertion sort of the few models. */
static void sort_entries(entry *e, size_t n) {
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp_entry(&e[j], &e[j - 1]) < 0; j--) {
            entry t = e[j];
            e[j] = e[j - 1];
            e[j - 1] = t;
        }
}

static sr_err plot(const entry *E, size_t n, unsigned folds, const char *dir, sr_diag *d) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += !E[i].skipped;
    if (k == 0) return SR_OK;
    const char **cats = sr_calloc(k, sizeof *cats);
    double *rmse = sr_mallocarray(k, sizeof *rmse), *mae = sr_mallocarray(k, sizeof *mae);
    /* Four decimals: models often differ in the third. (k, 16) each. */
    char *lr = sr_mallocarray(k, 16), *lm = sr_mallocarray(k, 16);
    const char **lrp = sr_calloc(k, sizeof *lrp), **lmp = sr_calloc(k, sizeof *lmp);
    char path[4096], sub[256];
    sr_err e;
    if (!cats || !rmse || !mae || !lr || !lm || !lrp || !lmp) {
        e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0, j = 0; i < n; i++) {
        if (E[i].skipped) continue;
        cats[j] = E[i].ops->surprise;
        rmse[j] = E[i].res.mean[SR_METRIC_RMSE];
        mae[j] = E[i].res.mean[SR_METRIC_MAE];
        snprintf(lr + 16 * j, 16, "%.4f", rmse[j]);
        snprintf(lm + 16 * j, 16, "%.4f", mae[j]);
        lrp[j] = lr + 16 * j, lmp[j] = lm + 16 * j;
        j++;
    }
    sr_chart_series s[2] = {{.name = "RMSE", .values = rmse, .labels = lrp},
                            {.name = "MAE", .values = mae, .labels = lmp}};
    snprintf(sub, sizeof sub, "%u-fold cross-validation, default parameters, best first", folds);
    sr_chart ch = {.kind = SR_CHART_HBARS,
                   .title = "Rating models compared: RMSE and MAE (lower is better)",
                   .subtitle = sub,
                   .x_label = "error (mean over folds)",
                   .y_label = "model",
                   .n_points = k,
                   .categories = cats,
                   .series = s,
                   .n_series = 2,
                   .value_labels = true,
                   .height = (int)(k * 44 + 160 < 450 ? 450 : k * 44 + 160)};
    snprintf(path, sizeof path, "%s/compare.svg", dir);
    e = sr_svg_save(&ch, path, d);
done:
    sr_free(cats);
    sr_free(rmse);
    sr_free(mae);
    sr_free(lr);
    sr_free(lm);
    sr_free(lrp);
    sr_free(lmp);
    return e;
}

static sr_err write_csv(const entry *E, size_t n, const char *path, sr_diag *d) {
    FILE *f;
    bool close_it;
    sr_err e = sr_cli_open_out(path, &f, &close_it, d);
    if (e) return e;
    fprintf(f, "rank,algo,class");
    for (int m = 0; m < SR_METRIC__COUNT; m++)
        fprintf(f, ",%s_mean,%s_std", sr_metric_name((sr_metric)m), sr_metric_name((sr_metric)m));
    fprintf(f, ",fit_mean,test_mean,skipped\n");
    for (size_t i = 0; i < n; i++) {
        const entry *x = &E[i];
        if (x->skipped) {
            fprintf(f, ",%s,%s", x->ops->name, x->ops->surprise);
            for (int m = 0; m < SR_METRIC__COUNT; m++) fprintf(f, ",,");
            fprintf(f, ",,,\"");
            for (const char *q = x->reason; *q; q++) fprintf(f, *q == '"' ? "\"\"" : "%c", *q);
            fprintf(f, "\"\n");
            continue;
        }
        fprintf(f, "%zu,%s,%s", i + 1, x->ops->name, x->ops->surprise);
        for (int m = 0; m < SR_METRIC__COUNT; m++)
            fprintf(f, ",%.6f,%.6f", x->res.mean[m], x->res.std[m]);
        fprintf(f, ",%.4f,%.4f,\n", x->res.fit_mean, x->res.test_mean);
    }
    bool bad = ferror(f) != 0;
    if (close_it)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    return bad ? sr_diag_set(d, SR_E_IO, "%s: write error", path) : SR_OK;
}

int sr_cmd_compare(int argc, char **argv) {
    enum { O_ALGOS = 256, O_CSV, O_PLOT };
    static const struct option opts[] = {{"algos", required_argument, 0, O_ALGOS},
                                         {"csv", required_argument, 0, O_CSV},
                                         {"plot", required_argument, 0, O_PLOT},
                                         SR_CLI_EVAL_OPTIONS,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *algos = NULL, *csv = NULL, *plot_dir = NULL;
    sr_cli_eval ev;
    sr_cli_eval_init(&ev);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = sr_cli_eval_option(&ev, c, optarg);
        if (r > 0) continue;
        if (r < 0) return sr_cli_eval_bad("compare", &ev, optarg);
        switch (c) {
        case O_ALGOS:
            algos = optarg;
            break;
        case O_CSV:
            csv = optarg;
            break;
        case O_PLOT:
            plot_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "songrec compare: need one dataset file\n");
        usage(stderr);
        return 1;
    }
    entry *E = sr_calloc(sr_n_models, sizeof *E);
    if (!E) return sr_cli_fail("compare", SR_E_NOMEM, NULL);
    size_t n = 0;
    if (algos) {
        const char *q = algos;
        for (;;) {
            size_t len = strcspn(q, ",");
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)len, q);
            const sr_model_ops *ops = sr_cli_find_model("compare", name);
            if (!ops) {
                sr_free(E);
                return 1;
            }
            bool dup = false;
            for (size_t i = 0; i < n; i++) dup |= E[i].ops == ops;
            if (!dup) E[n++].ops = ops;
            if (!q[len]) break;
            q += len + 1;
        }
    } else {
        for (size_t i = 0; i < sr_n_models; i++) /* rating models: RMSE means nothing else */
            if (!sr_models[i]->implicit) E[n++].ops = sr_models[i];
    }

    sr_cli_log cl;
    sr_cli_log_init(&cl, ev.json);
    ev.cv.log = &cl.log;
    sr_diag d = {{0}};
    sr_ratings *rs;
    int rc = 0;
    sr_err e = sr_cli_load_ratings(argv[optind], &ev, &rs, &d);
    /* A split the data cannot support fails the command, not each model in turn. */
    if (!e && (e = sr_split_check(rs, &ev.cv.split, &d))) sr_ratings_free(rs);
    if (e) {
        sr_free(E);
        return sr_cli_fail("compare", e, &d);
    }
    uint64_t n_ratings = rs->n;
    unsigned folds = sr_split_count(&ev.cv.split);
    for (size_t i = 0; i < n; i++) {
        double p[SR_MAX_PARAMS];
        sr_params_defaults(E[i].ops, p);
        d.msg[0] = 0;
        e = sr_cross_validate(rs, E[i].ops, p, &ev.cv, &E[i].res, &d);
        if (e == SR_E_RANGE) {
            E[i].skipped = true;
            snprintf(E[i].reason, sizeof E[i].reason, "%.*s", (int)sizeof E[i].reason - 1,
                     d.msg[0] ? d.msg : sr_err_message(e));
            sr_logf(&cl.log, SR_LOG_INFO, "%s skipped: %s", E[i].ops->surprise, E[i].reason);
            e = SR_OK;
        } else if (e) {
            char msg[sizeof d.msg];
            snprintf(msg, sizeof msg, "%.*s", (int)sizeof msg - 1,
                     d.msg[0] ? d.msg : sr_err_message(e));
            sr_diag_set(&d, e, "%s: %s", E[i].ops->name, msg);
            break;
        }
    }
    sr_ratings_free(rs);
    if (e) {
        rc = sr_cli_fail("compare", e, &d);
        goto done;
    }
    sort_entries(E, n);
    if (ev.json) {
        printf("{\"ratings\": %llu, \"splits\": %u, \"results\": [", (unsigned long long)n_ratings,
               folds);
        for (size_t i = 0; i < n; i++) {
            printf("%s{\"algo\": \"%s\", \"class\": \"%s\"", i ? ", " : "", E[i].ops->name,
                   E[i].ops->surprise);
            if (E[i].skipped) {
                printf(", \"skipped\": ");
                sr_cli_json_string(stdout, E[i].reason, strlen(E[i].reason));
            } else {
                printf(", \"rank\": %zu", i + 1);
                for (int m = 0; m < SR_METRIC__COUNT; m++)
                    if (ev.measure[m] || m == SR_METRIC_RMSE || m == SR_METRIC_MAE)
                        printf(", \"%s\": {\"mean\": %.6f, \"std\": %.6f}",
                               sr_metric_name((sr_metric)m), E[i].res.mean[m], E[i].res.std[m]);
                printf(", \"fit_time\": %.4f, \"test_time\": %.4f", E[i].res.fit_mean,
                       E[i].res.test_mean);
            }
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("Leaderboard of %zu model(s), %u split(s), %llu ratings, sorted by RMSE.\n\n", n,
               folds, (unsigned long long)n_ratings);
        printf("%4s  %-22s %-8s %-8s", "rank", "algorithm", "RMSE", "MAE");
        if (ev.measure[SR_METRIC_MSE]) printf(" %-8s", "MSE");
        if (ev.measure[SR_METRIC_FCP]) printf(" %-8s", "FCP");
        printf(" %8s %8s\n", "fit s", "test s");
        for (size_t i = 0; i < n; i++) {
            if (E[i].skipped) continue;
            const sr_cv_result *R = &E[i].res;
            printf("%4zu  %-22s %-8.4f %-8.4f", i + 1, E[i].ops->surprise, R->mean[SR_METRIC_RMSE],
                   R->mean[SR_METRIC_MAE]);
            if (ev.measure[SR_METRIC_MSE]) printf(" %-8.4f", R->mean[SR_METRIC_MSE]);
            if (ev.measure[SR_METRIC_FCP]) printf(" %-8.4f", R->mean[SR_METRIC_FCP]);
            printf(" %8.2f %8.2f\n", R->fit_mean, R->test_mean);
        }
        for (size_t i = 0; i < n; i++)
            if (E[i].skipped) printf("   -  %-22s skipped: %s\n", E[i].ops->surprise, E[i].reason);
    }
    if (csv && (e = write_csv(E, n, csv, &d))) {
        rc = sr_cli_fail("compare", e, &d);
        goto done;
    }
    if (plot_dir && ((e = sr_cli_make_dirs(plot_dir, &d)) || (e = plot(E, n, folds, plot_dir, &d))))
        rc = sr_cli_fail("compare", e, &d);
done:
    for (size_t i = 0; i < n; i++) sr_cv_result_deinit(&E[i].res);
    sr_free(E);
    return rc;
}

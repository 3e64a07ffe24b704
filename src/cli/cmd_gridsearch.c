/* songrec gridsearch: Surprise's GridSearchCV / RandomizedSearchCV from the shell.
 *
 *   songrec gridsearch DATA.srd --algo svd --grid n_factors=50,100,150 \
 *       --grid reg_all=0.05,0.1,0.15 --cv 5 --refit-measure rmse --plot DIR
 *
 * Every configuration of the grid (or --random N draws from ranges) is cross-validated
 * on the same splits (eval/search.h); the table lists them by the refit measure, best
 * first, and ends with the best parameters. --csv writes every row, --plot DIR draws
 * DIR/gridsearch_rmse.svg and DIR/gridsearch_mae.svg: for a grid over one or two
 * parameters a line chart over a numeric parameter, one line per value of the other
 * (the origin's two grid-search charts), else one bar per configuration; the best
 * configuration is labelled in both. A configuration whose fit failed — it diverged, or
 * the model refused the combination (eval/search.h) — is listed after the ranked ones
 * with the reason instead of figures, and is never the best; when all fail, the command
 * fails with the first one's reason.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_eval.h"
#include "eval/search.h"
#include "eval/split.h"
#include "report/svg.h"
#include "util/mem.h"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec gridsearch DATA.srd --algo NAME --grid NAME=VALUES... [OPTIONS]\n\n"
               "Cross-validates every configuration of a parameter grid and ranks them.\n"
               "With --task ranking: top-k lists instead (songrec gridsearch --task ranking\n"
               "--help), e.g. --algo als --grid transform=linear,log,bm25,quantile\n"
               "--grid alpha=1,10 --refit-measure ndcg@10.\n\n"
               "  --algo NAME            the model (--list-algos)\n"
               "  --grid NAME=V1,V2,...  values of one parameter (repeatable; numbers or choices)\n"
               "  --grid NAME=LO:HI      a uniform range for --random (log:LO:HI: log-uniform)\n"
               "  --param NAME=VALUE     a fixed parameter for every configuration (repeatable)\n"
               "  --random N             draw N configurations instead of the full grid\n"
               "  --refit-measure M      rank by rmse (default), mse, mae or fcp\n"
               "  --csv FILE|-           write every row as CSV\n"
               "  --plot DIR             write DIR/gridsearch_rmse.svg and gridsearch_mae.svg\n");
    fputs(sr_cli_eval_help, f);
    fprintf(f, "  --list-algos           list the models and their parameters\n"
               "  -h, --help             this help\n");
}

typedef struct gs {
    const sr_model_ops *ops;
    const sr_search_space *space;
    const sr_search_result *res;
    const sr_cli_eval *ev;
    bool random;
} gs;

/* "n_factors=50 reg_all=0.1": the searched parameters of row j (sep between); short:
 * real values to three significant digits (chart labels). */
static void axis_params_fmt(const gs *g, size_t j, const char *sep, bool short_values, char *buf,
                            size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (size_t a = 0; a < g->space->n_axes && k < cap; a++) {
        int pi = g->space->axes[a].param;
        double x = g->res->rows[j].p[pi];
        char v[64];
        if (short_values && g->ops->params[pi].type == SR_PARAM_REAL && !isnan(x))
            snprintf(v, sizeof v, "%.3g", x);
        else
            sr_search_format_value(g->ops, (size_t)pi, x, v, sizeof v);
        k +=
            (size_t)snprintf(buf + k, cap - k, "%s%s=%s", a ? sep : "", g->ops->params[pi].name, v);
    }
    if (g->space->n_axes == 0) snprintf(buf, cap, "defaults");
}

static void axis_params(const gs *g, size_t j, const char *sep, char *buf, size_t cap) {
    axis_params_fmt(g, j, sep, false, buf, cap);
}

static void print_table(const gs *g) {
    const sr_search_result *r = g->res;
    const sr_search_space *sp = g->space;
    int width[SR_MAX_PARAMS];
    for (size_t a = 0; a < sp->n_axes; a++) {
        int pi = sp->axes[a].param;
        width[a] = (int)strlen(g->ops->params[pi].name);
        for (size_t j = 0; j < r->n; j++) {
            char v[64];
            sr_search_format_value(g->ops, (size_t)pi, r->rows[j].p[pi], v, sizeof v);
            if ((int)strlen(v) > width[a]) width[a] = (int)strlen(v);
        }
    }
    printf("%-5s", "rank");
    for (size_t a = 0; a < sp->n_axes; a++)
        printf("  %-*s", width[a], g->ops->params[sp->axes[a].param].name);
    for (int m = 0; m < SR_METRIC__COUNT; m++) {
        if (!g->ev->measure[m]) continue;
        char name[16];
        sr_cli_measure_label((sr_metric)m, name, sizeof name);
        printf("  %-16s", name);
    }
    printf("  %7s  %7s\n", "fit s", "test s");
    for (size_t q = 0; q < r->n; q++) {
        const sr_search_row *R = &r->rows[r->rank[q]];
        if (R->err)
            printf("%5s", "-");
        else
            printf("%5zu", q + 1);
        for (size_t a = 0; a < sp->n_axes; a++) {
            char v[64];
            int pi = sp->axes[a].param;
            sr_search_format_value(g->ops, (size_t)pi, R->p[pi], v, sizeof v);
            printf("  %-*s", width[a], v);
        }
        if (R->err) { /* the reason instead of the figures */
            printf("  failed: %s\n", R->why);
            continue;
        }
        for (int m = 0; m < SR_METRIC__COUNT; m++) {
            if (!g->ev->measure[m]) continue;
            char cell[48];
            snprintf(cell, sizeof cell, "%.4f \xc2\xb1 %.4f", R->mean[m], R->std[m]);
            printf("  %-17s", cell); /* one more column: the UTF-8 +- counts two bytes */
        }
        printf("  %7.2f  %7.2f\n", R->fit_mean, R->test_mean);
    }
}

/* A parameter value as a JSON value: a number, true/false, or a string. */
static void json_value(const gs *g, int pi, double v) {
    const sr_param_def *def = &g->ops->params[pi];
    char buf[64];
    sr_search_format_value(g->ops, (size_t)pi, v, buf, sizeof buf);
    if (def->type == SR_PARAM_CHOICE || isnan(v))
        sr_cli_json_string(stdout, buf, strlen(buf));
    else
        fputs(buf, stdout);
}

/* Row j as a JSON object, with "rank" first when rank > 0; a failed row has its error
 * instead of the figures. */
static void json_row(const gs *g, size_t j, size_t rank) {
    const sr_search_row *R = &g->res->rows[j];
    if (rank)
        printf("{\"rank\": %zu, \"params\": {", rank);
    else
        printf("{\"params\": {");
    for (size_t a = 0; a < g->space->n_axes; a++) {
        int pi = g->space->axes[a].param;
        printf("%s\"%s\": ", a ? ", " : "", g->ops->params[pi].name);
        json_value(g, pi, R->p[pi]);
    }
    char all[1024];
    sr_params_format(g->ops, R->p, all, sizeof all);
    printf("}, \"all_params\": ");
    sr_cli_json_string(stdout, all, strlen(all));
    if (R->err) {
        printf(", \"error\": ");
        sr_cli_json_string(stdout, R->why, strlen(R->why));
        printf("}");
        return;
    }
    for (int m = 0; m < SR_METRIC__COUNT; m++) {
        if (!g->ev->measure[m] && m != (int)g->res->refit) continue;
        printf(", \"%s\": {\"mean\": %.6f, \"std\": %.6f}", sr_metric_name((sr_metric)m),
               R->mean[m], R->std[m]);
    }
    printf(", \"fit_time\": {\"mean\": %.4f, \"std\": %.4f}, \"test_time\": {\"mean\": %.4f, "
           "\"std\": %.4f}}",
           R->fit_mean, R->fit_std, R->test_mean, R->test_std);
}

/* "results" holds the ranked configurations, each with its figures, "failed" the
 * configurations whose fit failed, each with its error (so that a reader of results
 * needs to know nothing of failures). */
static void print_json(const gs *g, uint64_t n_ratings) {
    const sr_search_result *r = g->res;
    const size_t n_ok = r->n - r->n_failed;
    printf("{\"algo\": \"%s\", \"search\": \"%s\", \"refit\": \"%s\", \"ratings\": %llu, "
           "\"splits\": %u, \"configs\": %zu, \"results\": [",
           g->ops->name, g->random ? "random" : "grid", sr_metric_name(r->refit),
           (unsigned long long)n_ratings, r->n_folds, r->n);
    for (size_t q = 0; q < n_ok; q++) {
        printf("%s", q ? ", " : "");
        json_row(g, r->rank[q], q + 1);
    }
    printf("], \"failed\": [");
    for (size_t q = n_ok; q < r->n; q++) {
        printf("%s", q > n_ok ? ", " : "");
        json_row(g, r->rank[q], 0);
    }
    printf("], \"best\": ");
    json_row(g, r->best, 0);
    char best[1024];
    axis_params(g, r->best, ",", best, sizeof best);
    printf(", \"best_params\": ");
    sr_cli_json_string(stdout, best, strlen(best));
    printf("}\n");
}

/* s as one CSV field: quoted, inner quotes doubled. */
static void csv_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static sr_err write_csv(const gs *g, const char *path, sr_diag *d) {
    FILE *f;
    bool close_it;
    sr_err e = sr_cli_open_out(path, &f, &close_it, d);
    if (e) return e;
    const sr_search_result *r = g->res;
    fprintf(f, "rank");
    for (size_t a = 0; a < g->space->n_axes; a++)
        fprintf(f, ",%s", g->ops->params[g->space->axes[a].param].name);
    for (int m = 0; m < SR_METRIC__COUNT; m++)
        fprintf(f, ",%s_mean,%s_std", sr_metric_name((sr_metric)m), sr_metric_name((sr_metric)m));
    fprintf(f, ",fit_mean,fit_std,test_mean,test_std,params,status,error\n");
    for (size_t q = 0; q < r->n; q++) {
        const sr_search_row *R = &r->rows[r->rank[q]];
        if (!R->err) fprintf(f, "%zu", q + 1); /* a failed row: no rank, no figures */
        for (size_t a = 0; a < g->space->n_axes; a++) {
            char v[64];
            int pi = g->space->axes[a].param;
            sr_search_format_value(g->ops, (size_t)pi, R->p[pi], v, sizeof v);
            fprintf(f, ",%s", v);
        }
        char all[1024];
        sr_params_format(g->ops, R->p, all, sizeof all);
        if (R->err) {
            for (int m = 0; m < SR_METRIC__COUNT + 2; m++) fprintf(f, ",,");
            fprintf(f, ",\"%s\",failed,", all);
            csv_field(f, R->why);
            fputc('\n', f);
            continue;
        }
        for (int m = 0; m < SR_METRIC__COUNT; m++) fprintf(f, ",%.6f,%.6f", R->mean[m], R->std[m]);
        fprintf(f, ",%.4f,%.4f,%.4f,%.4f,\"%s\",ok,\n", R->fit_mean, R->fit_std, R->test_mean,
                R->test_std, all);
    }
    bool bad = ferror(f) != 0;
    if (close_it)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    if (bad) return sr_diag_set(d, SR_E_IO, "%s: write error", path);
    return SR_OK;
}

static bool numeric_axis(const gs *g, size_t a) {
    sr_param_type t = g->ops->params[g->space->axes[a].param].type;
    return t == SR_PARAM_INT || t == SR_PARAM_REAL;
}

/* Indices 0..n) of axis a's values, ascending by value. */
static void sorted_values(const sr_search_axis *ax, size_t *idx) {
    for (size_t i = 0; i < ax->n_values; i++) idx[i] = i;
    for (size_t i = 1; i < ax->n_values; i++)
        for (size_t j = i; j > 0 && ax->values[idx[j]] < ax->values[idx[j - 1]]; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
}

/* One chart of measure m. Lines over a numeric axis when the grid has one or two axes,
 * else a bar per configuration. */
static sr_err plot_measure(const gs *g, sr_metric m, const char *dir, sr_diag *d) {
    const sr_search_result *r = g->res;
    const sr_search_space *sp = g->space;
    char name[16], title[160], sub[1200], best[1024], path[4096], ylab[64];
    sr_cli_measure_label(m, name, sizeof name);
    axis_params(g, r->best, ", ", best, sizeof best);
    snprintf(title, sizeof title, "%s %s search: %s by configuration", g->ops->surprise,
             g->random ? "randomised" : "grid", name);
    snprintf(sub, sizeof sub, "%u-fold cross-validation, mean of folds; best by %s: %s (%s %.4f)",
             r->n_folds, sr_metric_name(r->refit), best, name, r->rows[r->best].mean[m]);
    snprintf(ylab, sizeof ylab, "%s (%s)", name,
             sr_metric_higher_is_better(m) ? "higher is better" : "lower is better");
    snprintf(path, sizeof path, "%s/gridsearch_%s.svg", dir, sr_metric_name(m));
    sr_chart ch = {.title = title, .subtitle = sub, .y_label = ylab};
    sr_err e = SR_E_NOMEM;
    double *x = NULL, *vals = NULL;
    char **labels = NULL, **names = NULL;
    const char **cats = NULL;
    sr_chart_series *series = NULL;
    size_t n_series = 1, n_points = r->n;
    /* x axis: the first numeric axis (of one or two list axes). */
    int xa = -1;
    if (!g->random && (sp->n_axes == 1 || sp->n_axes == 2))
        for (size_t a = 0; a < sp->n_axes; a++)
            if (numeric_axis(g, a) && sp->axes[a].n_values >= 2) {
                xa = (int)a;
                break;
            }
    if (xa >= 0) {
        const sr_search_axis *X = &sp->axes[xa], *S = sp->n_axes == 2 ? &sp->axes[1 - xa] : NULL;
        n_points = X->n_values;
        n_series = S ? S->n_values : 1;
        size_t xi[1024], si[1024];
        if (n_points > 1024 || n_series > 1024) goto bars;
        sorted_values(X, xi);
        if (S) { /* numbers ascending; choices in the order given */
            sorted_values(S, si);
            if (!numeric_axis(g, (size_t)(1 - xa)))
                for (size_t k = 0; k < n_series; k++) si[k] = k;
        }
        x = sr_mallocarray(n_points, sizeof *x);
        vals = sr_mallocarray(n_points * n_series, sizeof *vals);
        labels = sr_calloc(n_points * n_series, sizeof *labels);
        names = sr_calloc(n_series, sizeof *names);
        series = sr_calloc(n_series, sizeof *series);
        if (!x || !vals || !labels || !names || !series) goto fail;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n_points; i++) {
            x[i] = X->values[xi[i]];
            lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
        }
        for (size_t s = 0; s < n_series; s++) {
            char v[64] = "";
            if (S) {
                sr_search_format_value(g->ops, (size_t)S->param, S->values[si[s]], v, sizeof v);
                size_t len = strlen(g->ops->params[S->param].name) + strlen(v) + 2;
                if (!(names[s] = sr_malloc(len))) goto fail;
                snprintf(names[s], len, "%s=%s", g->ops->params[S->param].name, v);
            }
            for (size_t i = 0; i < n_points; i++) {
                /* Configuration index: axis 0 is the more significant digit. */
                size_t j = S ? (xa == 0 ? xi[i] * S->n_values + si[s] : si[s] * X->n_values + xi[i])
                             : xi[i];
                vals[s * n_points + i] = r->rows[j].mean[m];
                if (j == r->best) {
                    char lab[48];
                    snprintf(lab, sizeof lab, "best %.4f", r->rows[j].mean[m]);
                    if (!(labels[s * n_points + i] = sr_strdup(lab))) goto fail;
                }
            }
            series[s] = (sr_chart_series){.name = names[s],
                                          .values = vals + s * n_points,
                                          .labels = (const char *const *)labels + s * n_points};
        }
        ch.kind = SR_CHART_LINES;
        ch.x = x;
        ch.x_label = g->ops->params[X->param].name;
        ch.log_x = lo > 0 && hi / lo >= 20;
    } else {
    bars:
        n_series = 1, n_points = r->n;
        vals = sr_mallocarray(n_points, sizeof *vals);
        labels = sr_calloc(n_points, sizeof *labels);
        cats = sr_calloc(n_points, sizeof *cats);
        series = sr_calloc(1, sizeof *series);
        if (!vals || !labels || !cats || !series) goto fail;
        /* Best first (the refit measure's order), so the chart reads as the table. */
        for (size_t q = 0; q < n_points; q++) {
            size_t j = r->rank[q];
            char lab[1100];
            axis_params_fmt(g, j, " ", true, lab, sizeof lab);
            if (!(cats[q] = sr_strdup(lab))) goto fail;
            vals[q] = r->rows[j].mean[m]; /* NaN for a failed one: no bar */
            if (r->rows[j].err)
                snprintf(lab, sizeof lab, "failed");
            else
                snprintf(lab, sizeof lab, j == r->best ? "%.4f best" : "%.4f", vals[q]);
            if (!(labels[q] = sr_strdup(lab))) goto fail;
        }
        series[0] =
            (sr_chart_series){.name = name, .values = vals, .labels = (const char *const *)labels};
        ch.kind = SR_CHART_HBARS;
        ch.categories = cats;
        ch.x_label = ylab;
        ch.y_label = "configuration";
        ch.height = (int)(120 + 22 * n_points < 450 ? 450 : 120 + 22 * n_points);
        /* Wide enough that the labels are not cut: they get 35% of the width at about
         * 7.2 px a character (svg.c's estimate). */
        size_t longest = 0;
        for (size_t q = 0; q < n_points; q++)
            if (strlen(cats[q]) > longest) longest = strlen(cats[q]);
        double w = (double)(longest + 1) * 7.2 / 0.35;
        ch.width = w < 800 ? 800 : w > 2000 ? 2000 : (int)w;
        if (ch.height > 4000) ch.height = 4000;
    }
    ch.n_points = n_points;
    ch.series = series;
    ch.n_series = n_series;
    e = sr_svg_save(&ch, path, d);
    goto done;
fail:
    e = sr_diag_set(d, SR_E_NOMEM, "out of memory");
done:
    if (labels)
        for (size_t k = 0; k < n_points * n_series; k++) sr_free(labels[k]);
    if (names)
        for (size_t k = 0; k < n_series; k++) sr_free(names[k]);
    if (cats)
        for (size_t k = 0; k < n_points; k++) sr_free((void *)cats[k]);
    sr_free(labels);
    sr_free(names);
    sr_free(cats);
    sr_free(series);
    sr_free(vals);
    sr_free(x);
    return e;
}

int sr_cmd_gridsearch(int argc, char **argv) {
    if (sr_cli_ranking_task(argc, argv))
        return sr_cli_gridsearch_ranking(argc, argv); /* cli_rank.c */
    enum { O_ALGO = 256, O_GRID, O_PARAM, O_RANDOM, O_REFIT, O_CSV, O_PLOT, O_LIST };
    static const struct option opts[] = {{"algo", required_argument, 0, O_ALGO},
                                         {"grid", required_argument, 0, O_GRID},
                                         {"param", required_argument, 0, O_PARAM},
                                         {"random", required_argument, 0, O_RANDOM},
                                         {"refit-measure", required_argument, 0, O_REFIT},
                                         {"csv", required_argument, 0, O_CSV},
                                         {"plot", required_argument, 0, O_PLOT},
                                         SR_CLI_EVAL_OPTIONS,
                                         {"list-algos", no_argument, 0, O_LIST},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *algo = NULL, *grid[SR_MAX_PARAMS], *params[SR_MAX_PARAMS * 2];
    const char *csv = NULL, *plot = NULL;
    int n_grid = 0, n_params = 0, refit = SR_METRIC_RMSE;
    uint64_t n_random = 0;
    sr_cli_eval ev;
    sr_cli_eval_init(&ev);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = sr_cli_eval_option(&ev, c, optarg);
        if (r > 0) continue;
        if (r < 0) return sr_cli_eval_bad("gridsearch", &ev, optarg);
        switch (c) {
        case O_ALGO:
            algo = optarg;
            break;
        case O_GRID:
            if (n_grid == SR_MAX_PARAMS) goto bad;
            grid[n_grid++] = optarg;
            break;
        case O_PARAM:
            if (n_params == SR_MAX_PARAMS * 2) goto bad;
            params[n_params++] = optarg;
            break;
        case O_RANDOM:
            if (!sr_cli_parse_u64(optarg, &n_random) || n_random < 1 || n_random > 100000) goto bad;
            break;
        case O_REFIT:
            if ((refit = sr_metric_find(optarg)) < 0) goto bad;
            break;
        case O_CSV:
            csv = optarg;
            break;
        case O_PLOT:
            plot = optarg;
            break;
        case O_LIST:
            sr_cli_list_algos(stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
        continue;
    bad:
        return sr_cli_bad_value("gridsearch", opts, c, optarg);
    }
    if (optind != argc - 1 || !algo || n_grid == 0) {
        fprintf(stderr, "songrec gridsearch: need one dataset file, --algo and --grid\n");
        usage(stderr);
        return 1;
    }
    const sr_model_ops *ops;
    double base[SR_MAX_PARAMS];
    int rc = sr_cli_model_params("gridsearch", algo, params, n_params, &ops, base);
    if (rc) return rc;
    if (sr_cli_refuse_implicit("gridsearch", ops, NULL)) return 1;
    ev.measure[refit] = true;
    sr_diag d = {{0}};
    sr_search_space sp;
    sr_search_space_init(&sp, ops);
    double *configs = NULL;
    size_t n_configs = 0;
    sr_err e = SR_OK;
    for (int i = 0; i < n_grid && !e; i++) e = sr_search_space_add(&sp, grid[i], &d);
    if (!e) e = sr_search_expand(&sp, base, (size_t)n_random, ev.cv.seed, &configs, &n_configs, &d);
    if (e) {
        sr_search_space_deinit(&sp);
        return sr_cli_fail("gridsearch", e, &d);
    }

    sr_cli_log cl;
    sr_cli_log_init(&cl, ev.json);
    ev.cv.log = &cl.log;
    sr_ratings *rs = NULL;
    sr_search_result res = {0};
    rc = 0;
    if ((e = sr_cli_load_ratings(argv[optind], &ev, &rs, &d))) goto fail;
    /* A split the data cannot support is said once, not as every configuration failing. */
    if ((e = sr_split_check(rs, &ev.cv.split, &d))) {
        sr_ratings_free(rs);
        goto fail;
    }
    e = sr_search_run(rs, ops, configs, n_configs, &ev.cv, (sr_metric)refit, &res, &d);
    uint64_t n_ratings = rs->n;
    sr_ratings_free(rs);
    if (e) goto fail;

    gs g = {.ops = ops, .space = &sp, .res = &res, .ev = &ev, .random = n_random > 0};
    char best[1024];
    axis_params(&g, res.best, ",", best, sizeof best);
    if (ev.json) {
        print_json(&g, n_ratings);
    } else {
        char name[16];
        sr_cli_measure_label((sr_metric)refit, name, sizeof name);
        printf("%s search of %s over %zu configuration(s) x %u split(s), %llu ratings; "
               "ranked by %s.\n\n",
               n_random ? "Randomised" : "Grid", ops->surprise, n_configs, res.n_folds,
               (unsigned long long)n_ratings, name);
        print_table(&g);
        printf("\nbest %s: %.4f with %s\n", name, res.rows[res.best].mean[refit], best);
        if (res.n_failed)
            printf("%zu of %zu configuration(s) failed (diverged, or parameters the model "
                   "refuses) and are not ranked.\n",
                   res.n_failed, n_configs);
    }
    if (plot && (e = sr_cli_make_dirs(plot, &d))) goto fail; /* first: --csv may go there */
    if (csv && (e = write_csv(&g, csv, &d))) goto fail;
    if (plot) {
        if ((e = plot_measure(&g, SR_METRIC_RMSE, plot, &d))) goto fail;
        if ((e = plot_measure(&g, SR_METRIC_MAE, plot, &d))) goto fail;
    }
    goto done;
fail:
    rc = sr_cli_fail("gridsearch", e, &d);
done:
    sr_search_result_deinit(&res);
    sr_free(configs);
    sr_search_space_deinit(&sp);
    return rc;
}

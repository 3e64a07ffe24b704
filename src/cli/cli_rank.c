/* songrec evaluate --task ranking: top-k lists of several models judged on one split.
 *
 *   songrec evaluate DATA.srd --task ranking --algo als,bpr,itemknn,svd,popularity --k 10
 *                    [--split holdout|last_n|time] [--holdout F] [--last-n N]
 *                    [--test-after DATE] [--min-pairs N] [--max-users N] [--param ALGO.NAME=V]
 *                    [--seed S] [--threads N] [--json] [--plot DIR]
 *
 * Every model sees the same split (eval/ranking.h): rating models are fitted on the
 * origin's ratings (play count capped at 10) and rank by predicted rating, implicit
 * models on the raw play counts; both ratings lists come from the same pairs in the same
 * order, so the masks agree. One table (precision, recall, NDCG, MAP and hit rate at k,
 * catalog coverage, novelty, artist diversity, new artists, songs played next), JSON,
 * and a chart (NDCG@k and recall@k per model).
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_eval.h"
#include "data/dataset.h"
#include "eval/ranking.h"
#include "eval/search.h"
#include "report/svg.h"
#include "util/mem.h"
#include "util/timeparse.h"

#define MAX_ALGOS 16

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: songrec evaluate DATA.srd --task ranking --algo A,B,... [OPTIONS]\n\n"
        "Judges the top-k lists of each model on one split (rating models rank by\n"
        "predicted rating; implicit models are fitted on the raw play counts).\n\n"
        "  --algo A,B,...         models, e.g. als,bpr,itemknn,svd,popularity\n"
        "  --param ALGO.NAME=V    a parameter of one of them (repeatable), e.g. svd.n_factors=64\n"
        "  --k K                  list length (default 10)\n"
        "  --split S              holdout (default), last_n or time\n"
        "  --holdout F            holdout: share of each listener's pairs tested (0.2)\n"
        "  --last-n N             last_n: each listener's N latest pairs are tested (1)\n"
        "  --test-after DATE      time: pairs first heard on or after DATE are tested\n"
        "                         (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS UTC, or Unix seconds)\n"
        "  --min-pairs N          listeners with fewer pairs are not tested\n"
        "  --max-users N          evaluate a seeded sample of N test listeners\n"
        "  --seed S, --threads N  the split's and the models' seed; worker threads\n"
        "  --json                 one JSON object\n"
        "  --plot DIR             ranking.svg: NDCG@k and recall@k per model\n"
        "  -h, --help             this help\n");
}

/* The options both ranking commands take (evaluate and gridsearch --task ranking). */
enum {
    O_TASK = 256,
    O_ALGO,
    O_PARAM,
    O_K,
    O_SPLIT,
    O_HOLDOUT,
    O_LASTN,
    O_AFTER,
    O_MINP,
    O_MAXU,
    O_SEED,
    O_THREADS,
    O_JSON,
    O_PLOT,
    O_GRID,
    O_RANDOM,
    O_REFIT
};
#define RANK_OPTIONS                                                                               \
    {"task", required_argument, 0, O_TASK}, {"algo", required_argument, 0, O_ALGO},                \
        {"param", required_argument, 0, O_PARAM}, {"k", required_argument, 0, O_K},                \
        {"split", required_argument, 0, O_SPLIT}, {"holdout", required_argument, 0, O_HOLDOUT},    \
        {"last-n", required_argument, 0, O_LASTN}, {"test-after", required_argument, 0, O_AFTER},  \
        {"min-pairs", required_argument, 0, O_MINP}, {"max-users", required_argument, 0, O_MAXU},  \
        {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},      \
        {"json", no_argument, 0, O_JSON}, {                                                        \
        "help", no_argument, 0, 'h'                                                                \
    }

/* Says in why what was wrong with an option's value; returns -1 (a bad value). */
__attribute__((format(printf, 3, 4))) static int bad(char *why, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* Applies one of the shared options to o: 1 when c was one, 0 when not, -1 for a bad
 * value (why then names the option and what it takes). */
static int rank_option(int c, const char *arg, sr_rank_opts *o, bool *split_set, char *why,
                       size_t cap) {
    uint64_t u;
    switch (c) {
    case O_TASK:
        return !strcmp(arg, "ranking")
                   ? 1
                   : bad(why, cap, "--task %s: with --task ranking given, the task is ranking",
                         arg);
    case O_K:
        if (!sr_cli_parse_u64(arg, &u) || u < 1 || u > SR_RANK_MAX_K)
            return bad(why, cap, "--k %s: the list length must be a whole number from 1 to %d", arg,
                       SR_RANK_MAX_K);
        o->k = (unsigned)u;
        return 1;
    case O_SPLIT: {
        int sp = sr_rank_split_find(arg);
        if (sp < 0) return bad(why, cap, "--split %s: the split is holdout, last_n or time", arg);
        if (sp != SR_RANK_TIME && o->time_cut != SR_RANK_NO_CUT)
            return bad(why, cap, "--split %s: --test-after cuts only the time split (--split time)",
                       arg);
        o->split = (sr_rank_split)sp;
        *split_set = true;
        return 1;
    }
    case O_HOLDOUT:
        if (!sr_cli_parse_double(arg, &o->holdout) || !(o->holdout > 0 && o->holdout < 1))
            return bad(why, cap,
                       "--holdout %s: the share of each listener's pairs tested must be between "
                       "0 and 1, both excluded (e.g. 0.2)",
                       arg);
        return 1;
    case O_LASTN:
        if (!sr_cli_parse_u64(arg, &u) || u < 1 || u > 1000000)
            return bad(why, cap,
                       "--last-n %s: the pairs tested per listener must be a whole number from 1 "
                       "to 1000000",
                       arg);
        o->last_n = (unsigned)u;
        if (!*split_set) o->split = SR_RANK_LAST_N;
        return 1;
    case O_AFTER:
        if (*split_set && o->split != SR_RANK_TIME)
            return bad(why, cap,
                       "--test-after %s: only the time split has a cut, not the split --split "
                       "names; leave --split out or give --split time",
                       arg);
        if (!sr_cli_parse_moment("--test-after", arg, &o->time_cut, why, cap)) return -1;
        if (!*split_set) o->split = SR_RANK_TIME;
        return 1;
    case O_MINP:
        if (!sr_cli_parse_u64(arg, &u) || u > 1000000)
            return bad(why, cap, "--min-pairs %s: must be a whole number from 0 to 1000000", arg);
        o->min_pairs = (unsigned)u;
        return 1;
    case O_MAXU:
        if (!sr_cli_parse_u64(arg, &u) || u > UINT32_MAX)
            return bad(why, cap, "--max-users %s: must be a whole number from 0 (all) to %u", arg,
                       UINT32_MAX);
        o->max_users = (uint32_t)u;
        return 1;
    case O_SEED:
        if (!sr_cli_parse_u64(arg, &o->seed))
            return bad(why, cap, "--seed %s: the seed must be a whole number, 0 or more", arg);
        return 1;
    case O_THREADS:
        if (!sr_cli_parse_u64(arg, &u) || u < 1 || u > 1024)
            return bad(why, cap, "--threads %s: the threads must be a whole number from 1 to 1024",
                       arg);
        o->threads = (unsigned)u;
        return 1;
    default:
        return 0;
    }
}

/* A time split without its date is a usage slip: said before the data is read. True
 * (after saying so) when o is one. */
static bool refuse_cutless(const char *cmd, const sr_rank_opts *o) {
    if (o->split != SR_RANK_TIME || o->time_cut != SR_RANK_NO_CUT) return false;
    fprintf(stderr,
            "songrec %s: --split time needs --test-after DATE (pairs first heard on or after "
            "DATE are tested, the earlier ones train)\n",
            cmd);
    return true;
}

/* The dataset's pairs as the origin's ratings (rated) and as raw play counts (raw), the
 * same pairs in the same order, so one split mask fits both. */
static sr_err load_both(const char *path, sr_dataset **ds, sr_ratings **rated, sr_ratings **raw,
                        sr_diag *d) {
    sr_err e = sr_dataset_load(path, ds, d);
    if (e) return e;
    e = sr_ratings_from_dataset(
        *ds, (*ds)->kind == SR_VALUE_PLAYS ? SR_TRANSFORM_CAP10 : SR_TRANSFORM_RAW, rated);
    if (!e) e = sr_ratings_from_dataset(*ds, SR_TRANSFORM_RAW, raw);
    return e ? sr_diag_set(d, e, "%s: %s", path, sr_err_message(e)) : SR_OK;
}

/* The split is every model's and every configuration's: one that cannot be made (a cut
 * outside the data, too few pairs) is said once, before any fit, rather than as the
 * first model's failure or each configuration's in turn. */
static sr_err check_split(const sr_ratings *rs, const sr_rank_opts *o, sr_diag *d) {
    uint8_t *mask = sr_malloc(rs->n ? rs->n : 1);
    if (!mask) return sr_diag_set(d, SR_E_NOMEM, "out of memory");
    sr_err e = sr_rank_split_mask(rs, o, mask, d);
    sr_free(mask);
    return e;
}

bool sr_cli_ranking_task(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if ((!strcmp(argv[i], "--task") && i + 1 < argc && !strcmp(argv[i + 1], "ranking")) ||
            !strcmp(argv[i], "--task=ranking"))
            return true;
    return false;
}

typedef struct rank_run {
    const sr_model_ops *ops;
    double p[SR_MAX_PARAMS];
    sr_rank_result res;
} rank_run;

static sr_err plot(const char *dir, const rank_run *runs, size_t n, unsigned k, sr_diag *d) {
    const char *cats[MAX_ALGOS];
    double ndcg[MAX_ALGOS], rec[MAX_ALGOS];
    char lab[2][MAX_ALGOS][16];
    const char *ln[MAX_ALGOS], *lr[MAX_ALGOS];
    for (size_t i = 0; i < n; i++) {
        cats[i] = runs[i].ops->name;
        ndcg[i] = runs[i].res.value[SR_RANK_NDCG];
        rec[i] = runs[i].res.value[SR_RANK_RECALL];
        snprintf(lab[0][i], 16, "%.4f", ndcg[i]);
        snprintf(lab[1][i], 16, "%.4f", rec[i]);
        ln[i] = lab[0][i], lr[i] = lab[1][i];
    }
    char tn[32], tr[32], sub[160], path[4096];
    snprintf(tn, sizeof tn, "NDCG@%u", k);
    snprintf(tr, sizeof tr, "recall@%u", k);
    sr_chart_series s[2] = {{.name = tn, .values = ndcg, .labels = ln},
                            {.name = tr, .values = rec, .labels = lr}};
    snprintf(sub, sizeof sub, "top-%u lists, songs played in training excluded; %u listeners", k,
             n ? runs[0].res.users : 0);
    sr_chart ch = {.kind = SR_CHART_HBARS,
                   .title = "Models compared on ranking (higher is better)",
                   .subtitle = sub,
                   .x_label = "mean over listeners",
                   .y_label = "model",
                   .n_points = n,
                   .categories = cats,
                   .series = s,
                   .n_series = 2,
                   .value_labels = true,
                   .height = (int)(n * 44 + 160 < 450 ? 450 : n * 44 + 160)};
    snprintf(path, sizeof path, "%s/ranking.svg", dir);
    return sr_svg_save(&ch, path, d);
}

static void print_json(const rank_run *runs, size_t n, const sr_rank_opts *o) {
    printf("{\"task\": \"ranking\", \"k\": %u, \"split\": \"%s\", \"models\": [", o->k,
           sr_rank_split_name(o->split));
    for (size_t i = 0; i < n; i++) {
        const sr_rank_result *r = &runs[i].res;
        printf("%s{\"algo\": \"%s\", \"implicit\": %s, \"users\": %u, \"n_train\": %llu, "
               "\"n_test\": %llu",
               i ? ", " : "", runs[i].ops->name, runs[i].ops->implicit ? "true" : "false", r->users,
               (unsigned long long)r->n_train, (unsigned long long)r->n_test);
        for (int m = 0; m < SR_RANK__COUNT; m++) {
            double v = r->value[m];
            printf(", \"%s\": ", sr_rank_metric_name((sr_rank_metric)m));
            if (isfinite(v))
                printf("%.6g", v);
            else
                printf("null");
        }
        printf(", \"fit_s\": %.3f, \"eval_s\": %.3f}", r->fit_s, r->eval_s);
    }
    printf("]}\n");
}

static void print_table(const rank_run *runs, size_t n, const sr_rank_opts *o) {
    printf("Ranking, top %u, %s split; songs played in training excluded.\n\n", o->k,
           sr_rank_split_name(o->split));
    printf("%-16s %8s %8s %8s %8s %8s %8s %8s %8s %8s %7s %7s\n", "model", "prec", "recall", "ndcg",
           "map", "hit", "cover", "novelty", "artists", "new_art", "fit_s", "eval_s");
    for (size_t i = 0; i < n; i++) {
        const sr_rank_result *r = &runs[i].res;
        printf("%-16s", runs[i].ops->name);
        const sr_rank_metric ms[] = {SR_RANK_PRECISION, SR_RANK_RECALL,    SR_RANK_NDCG,
                                     SR_RANK_MAP,       SR_RANK_HIT_RATE,  SR_RANK_COVERAGE,
                                     SR_RANK_NOVELTY,   SR_RANK_DIVERSITY, SR_RANK_NEW_ARTISTS};
        for (size_t m = 0; m < sizeof ms / sizeof ms[0]; m++) printf(" %8.4f", r->value[ms[m]]);
        printf(" %7.2f %7.2f\n", r->fit_s, r->eval_s);
    }
    if (n)
        printf("\n%u listeners evaluated; %llu training and %llu test pairs; songs played next "
               "among the lists: %llu.\n",
               runs[0].res.users, (unsigned long long)runs[0].res.n_train,
               (unsigned long long)runs[0].res.n_test, (unsigned long long)runs[0].res.hits);
}

int sr_cli_evaluate_ranking(int argc, char **argv) {
    static const struct option opts[] = {
        RANK_OPTIONS, {"plot", required_argument, 0, O_PLOT}, {0, 0, 0, 0}};
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    char *algos = NULL;
    const char *params[SR_MAX_PARAMS * MAX_ALGOS], *plot_dir = NULL;
    size_t n_params = 0;
    bool json = false, split_set = false;
    char why[256] = "";
    int c, rc = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rank_option(c, optarg, &o, &split_set, why, sizeof why);
        bool ok = r > 0;
        if (r == 0) switch (c) {
            case O_ALGO:
                sr_free(algos);
                ok = (algos = sr_strdup(optarg)) != NULL;
                if (!ok) snprintf(why, sizeof why, "out of memory");
                break;
            case O_PARAM:
                ok = n_params < sizeof params / sizeof params[0];
                if (ok)
                    params[n_params++] = optarg;
                else
                    snprintf(why, sizeof why, "--param %s: at most %zu --param options", optarg,
                             n_params);
                break;
            case O_JSON:
                ok = json = true;
                break;
            case O_PLOT:
                plot_dir = optarg;
                ok = true;
                break;
            case 'h':
                usage(stdout);
                rc = 0;
                goto out;
            default:
                ok = false;
            }
        if (!ok) {
            if (c == '?') /* getopt said what */
                usage(stderr);
            else if (why[0])
                fprintf(stderr, "songrec evaluate: %s\n", why);
            else
                sr_cli_bad_value("evaluate", opts, c, optarg);
            goto out;
        }
    }
    if (optind != argc - 1 || !algos) {
        fprintf(stderr, "songrec evaluate: need one dataset file and --algo\n");
        usage(stderr);
        goto out;
    }
    if (refuse_cutless("evaluate", &o)) goto out;
    /* The models and their parameters ("algo.name=value" goes to algo). */
    rank_run runs[MAX_ALGOS];
    size_t n = 0;
    for (char *save = NULL, *a = strtok_r(algos, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        if (n == MAX_ALGOS) {
            fprintf(stderr, "songrec evaluate: at most %d models\n", MAX_ALGOS);
            goto out;
        }
        const sr_model_ops *ops = sr_cli_find_model("evaluate", a);
        if (!ops) goto out;
        runs[n].ops = ops;
        sr_params_defaults(ops, runs[n].p);
        n++;
    }
    for (size_t q = 0; q < n_params; q++) {
        const char *dot = strchr(params[q], '.');
        bool done = false;
        for (size_t i = 0; dot && i < n; i++) {
            const sr_model_ops *ops = runs[i].ops;
            size_t len = (size_t)(dot - params[q]);
            if (strlen(ops->name) != len || strncmp(ops->name, params[q], len)) continue;
            sr_diag pd = {{0}};
            if (sr_params_set(ops, runs[i].p, dot + 1, &pd)) {
                rc = sr_cli_fail("evaluate", SR_E_USAGE, &pd);
                goto out;
            }
            done = true;
        }
        if (!done) {
            fprintf(stderr, "songrec evaluate: --param %s names none of the models (ALGO.NAME=V)\n",
                    params[q]);
            goto out;
        }
    }
    sr_diag d = {{0}};
    sr_cli_log cl;
    sr_cli_log_init(&cl, json);
    o.log = &cl.log;
    sr_dataset *ds = NULL;
    sr_ratings *rated = NULL, *raw = NULL;
    /* The chart's folder first (made if missing, as for the other --plot options): a
     * bad one should not cost an evaluation. */
    sr_err e = plot_dir ? sr_cli_make_dirs(plot_dir, &d) : SR_OK;
    if (!e) e = load_both(argv[optind], &ds, &rated, &raw, &d);
    if (!e) o.item_artist = ds->song_artist;
    if (!e) e = check_split(rated, &o, &d);
    for (size_t i = 0; i < n && !e; i++) {
        const sr_ratings *rs = runs[i].ops->implicit ? raw : rated;
        e = sr_rank_evaluate(rs, runs[i].ops, runs[i].p, &o, &runs[i].res, &d);
        if (e) {
            char msg[sizeof d.msg];
            snprintf(msg, sizeof msg, "%s", d.msg);
            sr_diag_set(&d, e, "%s: %s", runs[i].ops->name, msg);
        }
    }
    if (!e) {
        if (json)
            print_json(runs, n, &o);
        else
            print_table(runs, n, &o);
        if (plot_dir) e = plot(plot_dir, runs, n, o.k, &d);
    }
    sr_ratings_free(rated);
    sr_ratings_free(raw);
    sr_dataset_free(ds);
    rc = e ? sr_cli_fail("evaluate", e, &d) : 0;
out:
    sr_free(algos);
    return rc;
}

/* ---- gridsearch --task ranking ----
 *
 * Every configuration is evaluated on the same split, which is checked once first (a
 * split that cannot be made stops the search with its words). A configuration whose
 * evaluation fails for its own parameters — its fit diverged, or the model refuses the
 * combination: the usage and bad-input kinds, as the rating search decides (eval/search.h)
 * — is listed after the ranked ones with the reason instead of figures (table; JSON
 * "failed") and is never the best; other errors stop the search, and when every
 * configuration fails the command fails with the first one's reason. */

static void grid_usage(FILE *f) {
    fprintf(
        f,
        "usage: songrec gridsearch DATA.srd --task ranking --algo NAME --grid NAME=V1,V2,...\n"
        "                          [--refit-measure ndcg@10] [OPTIONS]\n\n"
        "Evaluates the top-k lists of every configuration on one split and ranks them.\n\n"
        "  --algo NAME            the model (e.g. als, bpr, itemknn, svd)\n"
        "  --grid NAME=V1,V2,...  values of one parameter (repeatable); NAME=LO:HI or\n"
        "                         log:LO:HI ranges with --random\n"
        "  --param NAME=VALUE     a fixed parameter for every configuration (repeatable)\n"
        "  --random N             draw N configurations instead of the full grid\n"
        "  --refit-measure M      rank by M: ndcg (default), precision, recall, map,\n"
        "                         hit_rate, coverage, novelty, ...; \"@K\" sets the list length\n"
        "  --k K, --split S, --holdout F, --last-n N, --test-after DATE, --min-pairs N,\n"
        "  --max-users N, --seed S, --threads N   as for evaluate --task ranking\n"
        "  --json                 one JSON object\n"
        "  -h, --help             this help\n\n"
        "A choice is searched like a number, e.g. the play-count transform of als and\n"
        "bpr: --grid transform=linear,log,bm25,quantile (bpr also none).\n");
}

typedef struct grid_row {
    double p[SR_MAX_PARAMS];
    sr_rank_result res;
    sr_err err; /* SR_OK, or why the configuration failed (config_failure) */
    char *why;  /* owned: the failure's words, NULL when it did not fail */
} grid_row;

/* Whether a configuration's error is the configuration's own (its fit diverged, or the
 * model refuses its parameters: usage and bad-input kinds), so that the search records it
 * and goes on, rather than a fault that stops it (I/O, memory, internal) — as the rating
 * search decides (eval/search.c). */
static bool config_failure(sr_err e) {
    const int code = sr_err_exit_code(e);
    return code == 1 || code == 2;
}

static const sr_rank_metric *g_order_metric; /* qsort context: one call at a time */
static const grid_row *g_rows;

/* Failed configurations last, then NaN measures, then higher first (higher is better for
 * every ranking measure); ties keep configuration order. */
static int cmp_row(const void *a, const void *b) {
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const int fx = g_rows[x].err != SR_OK, fy = g_rows[y].err != SR_OK;
    if (fx != fy) return fx - fy;
    if (!fx) {
        double vx = g_rows[x].res.value[*g_order_metric], vy = g_rows[y].res.value[*g_order_metric];
        const int nx = isnan(vx), ny = isnan(vy);
        if (nx != ny) return nx - ny;
        if (!nx && vx != vy) return vx > vy ? -1 : 1;
    }
    return x < y ? -1 : x > y;
}

/* The grid's parameters of one row as "name=value, ..." */
static void row_params(const sr_search_space *sp, const double *p, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (size_t a = 0; a < sp->n_axes && n < cap; a++) {
        char v[64];
        int k = sp->axes[a].param;
        sr_search_format_value(sp->ops, (size_t)k, p[k], v, sizeof v);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s=%s", a ? ", " : "", sp->ops->params[k].name,
                              v);
    }
}

/* Row r's grid parameters as a JSON object. */
static void json_params(const sr_search_space *sp, const grid_row *r) {
    printf("{");
    for (size_t a = 0; a < sp->n_axes; a++) {
        int k = sp->axes[a].param;
        char v[64];
        sr_search_format_value(sp->ops, (size_t)k, r->p[k], v, sizeof v);
        printf("%s\"%s\": \"%s\"", a ? ", " : "", sp->ops->params[k].name, v);
    }
    printf("}");
}

/* "results" holds the ranked configurations with their figures, "failed" those whose
 * evaluation failed, each with its error (as the rating search's JSON). */
static void grid_json(const sr_search_space *sp, const grid_row *rows, const size_t *order,
                      size_t n, size_t n_failed, const sr_rank_opts *o, sr_rank_metric refit) {
    const size_t n_ok = n - n_failed;
    printf("{\"task\": \"ranking\", \"algo\": \"%s\", \"k\": %u, \"split\": \"%s\", "
           "\"refit\": \"%s\", \"configs\": %zu, \"results\": [",
           sp->ops->name, o->k, sr_rank_split_name(o->split), sr_rank_metric_name(refit), n);
    for (size_t t = 0; t < n_ok; t++) {
        const grid_row *r = &rows[order[t]];
        printf("%s{\"rank\": %zu, \"params\": ", t ? ", " : "", t + 1);
        json_params(sp, r);
        for (int m = 0; m < SR_RANK__COUNT; m++) {
            double v = r->res.value[m];
            printf(", \"%s\": ", sr_rank_metric_name((sr_rank_metric)m));
            if (isfinite(v))
                printf("%.6g", v);
            else
                printf("null");
        }
        printf(", \"fit_s\": %.3f}", r->res.fit_s);
    }
    printf("], \"failed\": [");
    for (size_t t = n_ok; t < n; t++) {
        const grid_row *r = &rows[order[t]];
        printf("%s{\"params\": ", t > n_ok ? ", " : "");
        json_params(sp, r);
        printf(", \"error\": ");
        sr_cli_json_string(stdout, r->why, strlen(r->why));
        printf("}");
    }
    printf("]}\n");
}

/* The table: ranked rows with their figures, then the failed ones with the reason
 * instead of figures, the best line and how many failed. */
static void grid_table(const sr_search_space *sp, const grid_row *rows, const size_t *order,
                       size_t n, size_t n_failed, const sr_rank_opts *o, sr_rank_metric refit) {
    char pb[1024];
    const char *mn = sr_rank_metric_name(refit);
    printf("Ranking grid search of %s: top %u, %s split, ranked by %s.\n\n", sp->ops->name, o->k,
           sr_rank_split_name(o->split), mn);
    printf("%4s %8s %8s %8s %8s %8s %8s  %s\n", "rank", "ndcg", "prec", "recall", "map", "hit",
           "cover", "parameters");
    for (size_t t = 0; t < n; t++) {
        const grid_row *r = &rows[order[t]];
        row_params(sp, r->p, pb, sizeof pb);
        if (r->err) {
            printf("%4s %8s %8s %8s %8s %8s %8s  %s  failed: %s\n", "-", "-", "-", "-", "-", "-",
                   "-", pb, r->why);
            continue;
        }
        printf("%4zu %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f  %s\n", t + 1, r->res.value[SR_RANK_NDCG],
               r->res.value[SR_RANK_PRECISION], r->res.value[SR_RANK_RECALL],
               r->res.value[SR_RANK_MAP], r->res.value[SR_RANK_HIT_RATE],
               r->res.value[SR_RANK_COVERAGE], pb);
    }
    row_params(sp, rows[order[0]].p, pb, sizeof pb);
    printf("\nBest %s@%u %.4f with %s\n", mn, o->k, rows[order[0]].res.value[refit], pb);
    if (n_failed)
        printf("%zu of %zu configuration(s) failed (diverged, or parameters the model refuses) "
               "and are not ranked.\n",
               n_failed, n);
}

int sr_cli_gridsearch_ranking(int argc, char **argv) {
    static const struct option opts[] = {RANK_OPTIONS,
                                         {"grid", required_argument, 0, O_GRID},
                                         {"random", required_argument, 0, O_RANDOM},
                                         {"refit-measure", required_argument, 0, O_REFIT},
                                         {0, 0, 0, 0}};
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    const char *algo = NULL, *grids[SR_MAX_PARAMS * 2], *params[SR_MAX_PARAMS * 2];
    size_t n_grids = 0, n_params = 0;
    uint64_t n_random = 0;
    sr_rank_metric refit = SR_RANK_NDCG;
    unsigned refit_k = 0;
    bool json = false, split_set = false;
    char why[256] = "";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rank_option(c, optarg, &o, &split_set, why, sizeof why);
        bool ok = r > 0;
        if (r == 0) switch (c) {
            case O_ALGO:
                algo = optarg;
                ok = true;
                break;
            case O_GRID:
                ok = n_grids < sizeof grids / sizeof grids[0];
                if (ok)
                    grids[n_grids++] = optarg;
                else
                    snprintf(why, sizeof why, "--grid %s: at most %zu --grid options", optarg,
                             n_grids);
                break;
            case O_PARAM:
                ok = n_params < sizeof params / sizeof params[0];
                if (ok)
                    params[n_params++] = optarg;
                else
                    snprintf(why, sizeof why, "--param %s: at most %zu --param options", optarg,
                             n_params);
                break;
            case O_RANDOM:
                ok = sr_cli_parse_u64(optarg, &n_random) && n_random >= 1 && n_random <= 100000;
                if (!ok)
                    snprintf(why, sizeof why,
                             "--random %s: the configurations to draw must be a whole number "
                             "from 1 to 100000",
                             optarg);
                break;
            case O_REFIT:
                ok = sr_rank_metric_parse(optarg, &refit, &refit_k) == SR_OK;
                if (!ok)
                    snprintf(why, sizeof why,
                             "--refit-measure %s: a ranking measure (ndcg, precision, recall, "
                             "map, hit_rate, coverage, novelty, diversity, new_artists, hits), "
                             "optionally with @K, K from 1 to %d",
                             optarg, SR_RANK_MAX_K);
                break;
            case O_JSON:
                ok = json = true;
                break;
            case 'h':
                grid_usage(stdout);
                return 0;
            default:
                ok = false;
            }
        if (!ok) {
            if (c == '?') /* getopt said what */
                grid_usage(stderr);
            else if (why[0])
                fprintf(stderr, "songrec gridsearch: %s\n", why);
            else
                sr_cli_bad_value("gridsearch", opts, c, optarg);
            return 1;
        }
    }
    if (optind != argc - 1 || !algo || !n_grids) {
        fprintf(stderr, "songrec gridsearch: need one dataset file, --algo and --grid\n");
        grid_usage(stderr);
        return 1;
    }
    if (refuse_cutless("gridsearch", &o)) return 1;
    if (refit_k) o.k = refit_k;
    const sr_model_ops *ops;
    double base[SR_MAX_PARAMS];
    int rc = sr_cli_model_params("gridsearch", algo, params, (int)n_params, &ops, base);
    if (rc) return rc;
    sr_diag d = {{0}};
    sr_search_space sp;
    sr_search_space_init(&sp, ops);
    double *configs = NULL;
    size_t n = 0, n_failed = 0, *order = NULL;
    grid_row *rows = NULL;
    sr_dataset *ds = NULL;
    sr_ratings *rated = NULL, *raw = NULL;
    sr_err e = SR_OK;
    for (size_t g = 0; g < n_grids && !e; g++) e = sr_search_space_add(&sp, grids[g], &d);
    if (!e && !n_random && !sr_search_space_is_grid(&sp))
        e = sr_diag_set(&d, SR_E_USAGE, "a range (LO:HI) needs --random N");
    if (!e) e = sr_search_expand(&sp, base, (size_t)n_random, o.seed, &configs, &n, &d);
    if (!e) {
        rows = sr_calloc(n ? n : 1, sizeof *rows);
        order = sr_mallocarray(n ? n : 1, sizeof *order);
        if (!rows || !order) e = sr_diag_set(&d, SR_E_NOMEM, "out of memory");
    }
    sr_cli_log cl;
    sr_cli_log_init(&cl, json);
    o.log = &cl.log;
    if (!e) e = load_both(argv[optind], &ds, &rated, &raw, &d);
    if (!e) o.item_artist = ds->song_artist;
    if (!e) e = check_split(rated, &o, &d);
    /* A configuration that fails for its own parameters (it diverged, or the model refuses
     * them) is recorded and the search goes on; any other error stops it. */
    for (size_t i = 0; i < n && !e; i++) {
        grid_row *R = &rows[i];
        memcpy(R->p, configs + i * SR_MAX_PARAMS, sizeof R->p);
        order[i] = i;
        sr_diag rd = {{0}};
        e = sr_rank_evaluate(ops->implicit ? raw : rated, ops, R->p, &o, &R->res, &rd);
        if (e && config_failure(e)) {
            R->err = e;
            R->why = sr_strdup(rd.msg[0] ? rd.msg : sr_err_message(e));
            e = R->why ? SR_OK : sr_diag_set(&d, SR_E_NOMEM, "out of memory");
            n_failed++;
        } else if (e) {
            d = rd;
        }
    }
    if (!e && n_failed == n) { /* nothing to choose from: the first one's error */
        e = rows[0].err;
        if (n == 1)
            sr_diag_set(&d, e, "%s", rows[0].why);
        else
            sr_diag_set(&d, e, "all %zu configurations failed; the first: %s", n, rows[0].why);
    }
    if (!e) {
        g_order_metric = &refit;
        g_rows = rows;
        qsort(order, n, sizeof *order, cmp_row);
        if (json)
            grid_json(&sp, rows, order, n, n_failed, &o, refit);
        else
            grid_table(&sp, rows, order, n, n_failed, &o, refit);
    }
    for (size_t i = 0; rows && i < n; i++) sr_free(rows[i].why);
    sr_free(configs), sr_free(rows), sr_free(order);
    sr_search_space_deinit(&sp);
    sr_ratings_free(rated);
    sr_ratings_free(raw);
    sr_dataset_free(ds);
    return e ? sr_cli_fail("gridsearch", e, &d) : 0;
}

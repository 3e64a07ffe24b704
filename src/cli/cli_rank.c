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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_eval.h"
#include "data/dataset.h"
#include "eval/ranking.h"
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
        "  --min-pairs N          listeners with fewer pairs are not tested\n"
        "  --max-users N          evaluate a seeded sample of N test listeners\n"
        "  --seed S, --threads N  the split's and the models' seed; worker threads\n"
        "  --json                 one JSON object\n"
        "  --plot DIR             ranking.svg: NDCG@k and recall@k per model\n"
        "  -h, --help             this help\n");
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
        O_PLOT
    };
    static const struct option opts[] = {{"task", required_argument, 0, O_TASK},
                                         {"algo", required_argument, 0, O_ALGO},
                                         {"param", required_argument, 0, O_PARAM},
                                         {"k", required_argument, 0, O_K},
                                         {"split", required_argument, 0, O_SPLIT},
                                         {"holdout", required_argument, 0, O_HOLDOUT},
                                         {"last-n", required_argument, 0, O_LASTN},
                                         {"test-after", required_argument, 0, O_AFTER},
                                         {"min-pairs", required_argument, 0, O_MINP},
                                         {"max-users", required_argument, 0, O_MAXU},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"json", no_argument, 0, O_JSON},
                                         {"plot", required_argument, 0, O_PLOT},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    sr_rank_opts o;
    sr_rank_opts_default(&o);
    char *algos = NULL;
    const char *params[SR_MAX_PARAMS * MAX_ALGOS], *plot_dir = NULL;
    size_t n_params = 0;
    bool json = false, split_set = false;
    uint64_t u;
    int c, rc = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case O_TASK:
            ok = !strcmp(optarg, "ranking");
            break;
        case O_ALGO:
            sr_free(algos);
            ok = (algos = sr_strdup(optarg)) != NULL;
            break;
        case O_PARAM:
            ok = n_params < sizeof params / sizeof params[0];
            if (ok) params[n_params++] = optarg;
            break;
        case O_K:
            ok = sr_cli_parse_u64(optarg, &u) && u >= 1 && u <= SR_RANK_MAX_K;
            o.k = (unsigned)u;
            break;
        case O_SPLIT: {
            int s = sr_rank_split_find(optarg);
            ok = s >= 0;
            o.split = (sr_rank_split)s;
            split_set = true;
            break;
        }
        case O_HOLDOUT:
            ok = sr_cli_parse_double(optarg, &o.holdout) && o.holdout > 0 && o.holdout < 1;
            break;
        case O_LASTN:
            ok = sr_cli_parse_u64(optarg, &u) && u >= 1 && u <= 1000000;
            o.last_n = (unsigned)u;
            if (!split_set) o.split = SR_RANK_LAST_N;
            break;
        case O_AFTER:
            ok = sr_time_parse(sr_str_c(optarg), &o.time_cut);
            if (!split_set) o.split = SR_RANK_TIME;
            break;
        case O_MINP:
            ok = sr_cli_parse_u64(optarg, &u) && u <= 1000000;
            o.min_pairs = (unsigned)u;
            break;
        case O_MAXU:
            ok = sr_cli_parse_u64(optarg, &u) && u <= UINT32_MAX;
            o.max_users = (uint32_t)u;
            break;
        case O_SEED:
            ok = sr_cli_parse_u64(optarg, &o.seed);
            break;
        case O_THREADS:
            ok = sr_cli_parse_u64(optarg, &u) && u >= 1 && u <= 1024;
            o.threads = (unsigned)u;
            break;
        case O_JSON:
            json = true;
            break;
        case O_PLOT:
            plot_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            ok = false;
        }
        if (!ok) {
            if (c != '?') fprintf(stderr, "songrec evaluate: bad value '%s'\n", optarg);
            usage(stderr);
            goto out;
        }
    }
    if (optind != argc - 1 || !algos) {
        fprintf(stderr, "songrec evaluate: need one dataset file and --algo\n");
        usage(stderr);
        goto out;
    }
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
    sr_err e = sr_dataset_load(argv[optind], &ds, &d);
    if (!e) {
        e = sr_ratings_from_dataset(
            ds, ds->kind == SR_VALUE_PLAYS ? SR_TRANSFORM_CAP10 : SR_TRANSFORM_RAW, &rated);
        if (!e) e = sr_ratings_from_dataset(ds, SR_TRANSFORM_RAW, &raw);
        if (e) sr_diag_set(&d, e, "%s: %s", argv[optind], sr_err_message(e));
    }
    if (!e) o.item_artist = ds->song_artist;
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

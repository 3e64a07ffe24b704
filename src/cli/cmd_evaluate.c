/* songrec evaluate: cross-validated accuracy of one rating model on a dataset.
 *
 *   songrec evaluate DATA.srd --algo svd --param n_factors=150 --param reg_all=0.1 --cv 5
 *
 * The dataset's pairs become ratings through --transform (cap10: the origin's play
 * count capped at 10; raw: the stored value, e.g. explicit ratings); the splits are
 * Surprise's (KFold by default); the table matches Surprise's cross_validate(verbose)
 * output: each measure per split, mean and standard deviation, fit and test times.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_eval.h"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec evaluate DATA.srd --algo NAME [OPTIONS]\n\n"
               "Cross-validates a rating model and prints RMSE, MAE (and more) per split.\n"
               "With --task ranking: top-k lists of several models (songrec evaluate --task\n"
               "ranking --help).\n\n"
               "  --algo NAME            the model (--list-algos); Surprise class names work too\n"
               "  --param NAME=VALUE     a model parameter (repeatable); see --list-algos\n");
    fputs(sr_cli_eval_help, f);
    fprintf(f, "  --list-algos           list the models and their parameters\n"
               "  -h, --help             this help\n");
}

int sr_cmd_evaluate(int argc, char **argv) {
    if (sr_cli_ranking_task(argc, argv))
        return sr_cli_evaluate_ranking(argc, argv); /* cli_rank.c */
    enum { O_ALGO = 256, O_PARAM, O_LIST };
    static const struct option opts[] = {{"algo", required_argument, 0, O_ALGO},
                                         {"param", required_argument, 0, O_PARAM},
                                         SR_CLI_EVAL_OPTIONS,
                                         {"list-algos", no_argument, 0, O_LIST},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *algo = NULL, *params[SR_MAX_PARAMS * 2];
    int n_params = 0;
    sr_cli_eval ev;
    sr_cli_eval_init(&ev);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = sr_cli_eval_option(&ev, c, optarg);
        if (r > 0) continue;
        if (r < 0) return sr_cli_eval_bad("evaluate", &ev, optarg);
        switch (c) {
        case O_ALGO:
            algo = optarg;
            break;
        case O_PARAM:
            if (n_params == (int)(sizeof params / sizeof params[0])) {
                fprintf(stderr, "songrec evaluate: --param %s: at most %d --param options\n",
                        optarg, n_params);
                return 1;
            }
            params[n_params++] = optarg;
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
    }
    if (optind != argc - 1 || !algo) {
        fprintf(stderr, "songrec evaluate: need one dataset file and --algo\n");
        usage(stderr);
        return 1;
    }
    /* A time split without its date is a usage slip: said before the data is read. */
    if (ev.cv.split.kind == SR_SPLIT_TIME && ev.cv.split.time_cut == SR_SPLIT_NO_CUT) {
        fprintf(stderr, "songrec evaluate: --split time needs --test-after DATE (ratings first "
                        "heard on or after DATE are tested, the earlier ones train)\n");
        return 1;
    }
    const sr_model_ops *ops;
    double p[SR_MAX_PARAMS];
    int rc = sr_cli_model_params("evaluate", algo, params, n_params, &ops, p);
    if (rc) return rc;
    if (sr_cli_refuse_implicit("evaluate", ops, NULL)) return 1;
    sr_diag d = {{0}};

    bool json = ev.json, *measure = ev.measure;
    sr_cli_log cl;
    sr_cli_log_init(&cl, json);
    ev.cv.log = &cl.log;
    sr_ratings *rs;
    sr_err e = sr_cli_load_ratings(argv[optind], &ev, &rs, &d);
    if (e) return sr_cli_fail("evaluate", e, &d);
    sr_cv_result res;
    e = sr_cross_validate(rs, ops, p, &ev.cv, &res, &d);
    uint64_t n_ratings = rs->n;
    sr_ratings_free(rs);
    if (e) return sr_cli_fail("evaluate", e, &d);

    char pbuf[1024];
    sr_params_format(ops, p, pbuf, sizeof pbuf);
    unsigned n = res.n_folds;
    if (json) {
        printf("{\"algo\": \"%s\", \"params\": \"%s\", \"ratings\": %llu, \"splits\": %u",
               ops->name, pbuf, (unsigned long long)n_ratings, n);
        for (int m = 0; m < SR_METRIC__COUNT; m++) {
            if (!measure[m]) continue;
            printf(", \"%s\": {\"mean\": %.6f, \"std\": %.6f, \"folds\": [", sr_metric_name(m),
                   res.mean[m], res.std[m]);
            for (unsigned f = 0; f < n; f++)
                printf("%s%.6f", f ? ", " : "", res.folds[f].metric[m]);
            printf("]}");
        }
        printf(", \"fit_time\": {\"mean\": %.4f, \"std\": %.4f}, \"test_time\": {\"mean\": %.4f, "
               "\"std\": %.4f}}\n",
               res.fit_mean, res.fit_std, res.test_mean, res.test_std);
    } else {
        printf("Evaluating");
        bool first = true;
        for (int m = 0; m < SR_METRIC__COUNT; m++)
            if (measure[m]) printf("%s %s", first ? "" : ",", sr_metric_name(m)), first = false;
        printf(" of %s (%s) on %u split(s), %llu ratings.\n\n", ops->surprise, pbuf, n,
               (unsigned long long)n_ratings);
        printf("%-18s", "");
        for (unsigned f = 0; f < n; f++) printf("Fold %-3u", f + 1);
        printf("Mean    Std\n");
        for (int m = 0; m < SR_METRIC__COUNT; m++) {
            if (!measure[m]) continue;
            char name[16], label[32];
            sr_cli_measure_label((sr_metric)m, name, sizeof name);
            snprintf(label, sizeof label, "%s (testset)", name);
            printf("%-18s", label);
            for (unsigned f = 0; f < n; f++) printf("%-8.4f", res.folds[f].metric[m]);
            printf("%-8.4f%-8.4f\n", res.mean[m], res.std[m]);
        }
        printf("%-18s", "Fit time");
        for (unsigned f = 0; f < n; f++) printf("%-8.2f", res.folds[f].fit_s);
        printf("%-8.2f%-8.2f\n", res.fit_mean, res.fit_std);
        printf("%-18s", "Test time");
        for (unsigned f = 0; f < n; f++) printf("%-8.2f", res.folds[f].test_s);
        printf("%-8.2f%-8.2f\n", res.test_mean, res.test_std);
    }
    sr_cv_result_deinit(&res);
    return 0;
}

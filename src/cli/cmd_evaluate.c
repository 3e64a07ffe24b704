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
#include "data/dataset.h"
#include "eval/cv.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: songrec evaluate DATA.srd --algo NAME [OPTIONS]\n\n"
            "Cross-validates a rating model and prints RMSE, MAE (and more) per split.\n\n"
            "  --algo NAME            the model (--list-algos); Surprise class names work too\n"
            "  --param NAME=VALUE     a model parameter (repeatable); see --list-algos\n"
            "  --cv K                 K-fold cross-validation (default 5)\n"
            "  --split KIND           kfold (default), repeated, shuffle, loo\n"
            "  --repeats N            repeated k-fold: repetitions (default 2)\n"
            "  --test-size X          shuffle split: test fraction (< 1) or count (default 0.2)\n"
            "  --measures LIST        rmse,mae (default); also mse, fcp\n"
            "  --transform T          cap10 (default for play counts) or raw\n"
            "  --seed S               random seed for splits and models (default 0)\n"
            "  --threads N            splits evaluated in parallel (default 2)\n"
            "  --json                 machine-readable output\n"
            "  --list-algos           list the models and their parameters\n"
            "  -h, --help             this help\n");
}

static void list_algos(void) {
    for (size_t i = 0; i < sr_n_models; i++) {
        const sr_model_ops *m = sr_models[i];
        printf("%s (%s): %s\n", m->name, m->surprise, m->summary);
        for (size_t k = 0; k < m->n_params; k++) {
            const sr_param_def *p = &m->params[k];
            char def[64];
            if (p->type == SR_PARAM_CHOICE)
                snprintf(def, sizeof def, "%s", p->choices);
            else if (p->def != p->def)
                snprintf(def, sizeof def, "unset");
            else
                snprintf(def, sizeof def, "%g", p->def);
            printf("    %-16s %-28s %s\n", p->name, def, p->help);
        }
    }
}

int sr_cmd_evaluate(int argc, char **argv) {
    enum {
        O_ALGO = 256,
        O_PARAM,
        O_CV,
        O_SPLIT,
        O_REPEATS,
        O_TEST,
        O_MEASURES,
        O_TRANSFORM,
        O_SEED,
        O_THREADS,
        O_JSON,
        O_LIST
    };
    static const struct option opts[] = {{"algo", required_argument, 0, O_ALGO},
                                         {"param", required_argument, 0, O_PARAM},
                                         {"cv", required_argument, 0, O_CV},
                                         {"split", required_argument, 0, O_SPLIT},
                                         {"repeats", required_argument, 0, O_REPEATS},
                                         {"test-size", required_argument, 0, O_TEST},
                                         {"measures", required_argument, 0, O_MEASURES},
                                         {"transform", required_argument, 0, O_TRANSFORM},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"json", no_argument, 0, O_JSON},
                                         {"list-algos", no_argument, 0, O_LIST},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *algo = NULL, *params[SR_MAX_PARAMS * 2];
    int n_params = 0;
    sr_cv_opts co = {
        .split = {.kind = SR_SPLIT_KFOLD, .n_splits = 5, .n_repeats = 2, .test_size = 0.2},
        .threads = 2};
    bool json = false,
         measure[SR_METRIC__COUNT] = {[SR_METRIC_RMSE] = true, [SR_METRIC_MAE] = true};
    int transform = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case O_ALGO:
            algo = optarg;
            break;
        case O_PARAM:
            if (n_params == (int)(sizeof params / sizeof params[0])) goto bad;
            params[n_params++] = optarg;
            break;
        case O_CV:
            if (!sr_cli_parse_u64(optarg, &v) || v < 2 || v > 1000) goto bad;
            co.split.n_splits = (unsigned)v;
            break;
        case O_SPLIT:
            if (!strcmp(optarg, "kfold"))
                co.split.kind = SR_SPLIT_KFOLD;
            else if (!strcmp(optarg, "repeated"))
                co.split.kind = SR_SPLIT_REPEATED_KFOLD;
            else if (!strcmp(optarg, "shuffle"))
                co.split.kind = SR_SPLIT_SHUFFLE;
            else if (!strcmp(optarg, "loo"))
                co.split.kind = SR_SPLIT_LEAVE_ONE_OUT;
            else
                goto bad;
            break;
        case O_REPEATS:
            if (!sr_cli_parse_u64(optarg, &v) || v < 1 || v > 1000) goto bad;
            co.split.n_repeats = (unsigned)v;
            break;
        case O_TEST:
            if (!sr_cli_parse_double(optarg, &co.split.test_size) || co.split.test_size <= 0)
                goto bad;
            break;
        case O_MEASURES: {
            memset(measure, 0, sizeof measure);
            char buf[128];
            snprintf(buf, sizeof buf, "%s", optarg);
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                int m = sr_metric_find(t);
                if (m < 0) goto bad;
                measure[m] = true;
            }
            break;
        }
        case O_TRANSFORM:
            if (!strcmp(optarg, "cap10"))
                transform = SR_TRANSFORM_CAP10;
            else if (!strcmp(optarg, "raw"))
                transform = SR_TRANSFORM_RAW;
            else
                goto bad;
            break;
        case O_SEED:
            if (!sr_cli_parse_u64(optarg, &co.seed)) goto bad;
            co.split.seed = co.seed;
            break;
        case O_THREADS:
            if (!sr_cli_parse_u64(optarg, &v) || v < 1 || v > 64) goto bad;
            co.threads = (unsigned)v;
            break;
        case O_JSON:
            json = true;
            break;
        case O_LIST:
            list_algos();
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
        fprintf(stderr, "songrec evaluate: bad value '%s'\n", optarg);
        return 1;
    }
    if (optind != argc - 1 || !algo) {
        fprintf(stderr, "songrec evaluate: need one dataset file and --algo\n");
        usage(stderr);
        return 1;
    }
    const sr_model_ops *ops = sr_model_find(algo);
    if (!ops) {
        fprintf(stderr, "songrec evaluate: unknown algorithm '%s'; known:", algo);
        for (size_t i = 0; i < sr_n_models; i++) fprintf(stderr, " %s", sr_models[i]->name);
        fputc('\n', stderr);
        return 1;
    }
    double p[SR_MAX_PARAMS];
    sr_params_defaults(ops, p);
    sr_diag d = {{0}};
    for (int i = 0; i < n_params; i++)
        if (sr_params_set(ops, p, params[i], &d)) return sr_cli_fail("evaluate", SR_E_USAGE, &d);

    sr_cli_log cl;
    sr_cli_log_init(&cl, json);
    co.log = &cl.log;
    sr_dataset *ds;
    sr_err e = sr_dataset_load(argv[optind], &ds, &d);
    if (e) return sr_cli_fail("evaluate", e, &d);
    if (transform < 0)
        transform = ds->kind == SR_VALUE_PLAYS ? SR_TRANSFORM_CAP10 : SR_TRANSFORM_RAW;
    sr_ratings *rs;
    e = sr_ratings_from_dataset(ds, (sr_transform)transform, &rs);
    sr_dataset_free(ds);
    if (e) return sr_cli_fail("evaluate", e, NULL);
    sr_cv_result res;
    e = sr_cross_validate(rs, ops, p, &co, &res, &d);
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
            char label[32];
            snprintf(label, sizeof label, "%s (testset)", sr_metric_name(m));
            for (char *q = label; *q && *q != ' '; q++)
                *q = (char)(*q - 32 * (*q >= 'a' && *q <= 'z'));
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

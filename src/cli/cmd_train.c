/* songrec train: fit a rating model on all of a dataset's ratings and save it (.srm).
 *
 *   songrec train DATA.srd --algo svd --param n_factors=150 --precision f16 -o m.srm
 *
 * The dataset's pairs become ratings through --transform (as evaluate does); the model
 * is fitted on every one of them and written with its parameters, the training data's
 * description and the catalog (user names, "artist\x1ftrack" item names) so that info
 * and predict need nothing else (models/model_file.h). Prints the fit time and size.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_eval.h"
#include "eval/cv.h"
#include "models/model_file.h"
#include "util/mem.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: songrec train DATA.srd --algo NAME [OPTIONS] -o MODEL.srm\n\n"
            "Fits a rating model on all of the dataset's ratings and saves it.\n\n"
            "  --algo NAME            the model: normal_predictor, baseline_only, knn_basic,\n"
            "                         knn_with_means, knn_with_zscore, knn_baseline, slope_one,\n"
            "                         co_clustering, svd, svdpp, nmf (or Surprise class names)\n"
            "  --param NAME=VALUE     a model parameter (repeatable)\n"
            "  --transform T          cap10 (play counts capped at 10, the default for rating\n"
            "                         models) or raw (the default for implicit ones)\n"
            "  --seed S               random seed (default 0)\n"
            "  --threads N            worker threads (default 1)\n"
            "  --precision P          factor arrays as f32 (default) or f16 (half the size)\n"
            "  --cv K                 first cross-validate (K folds, RMSE and MAE) and keep the\n"
            "                         figures in the model file (info, the server's /api/model);\n"
            "                         rating models only\n"
            "  -o, --output FILE      the model file to write\n"
            "  -q, --quiet            no progress\n"
            "  -h, --help             this help\n");
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The item names "artist\x1ftrack" of ds (new arrays, caller frees). */
int sr_cmd_train(int argc, char **argv) {
    enum { O_ALGO = 256, O_PARAM, O_TRANSFORM, O_SEED, O_THREADS, O_PREC, O_CV };
    static const struct option opts[] = {{"algo", required_argument, 0, O_ALGO},
                                         {"param", required_argument, 0, O_PARAM},
                                         {"transform", required_argument, 0, O_TRANSFORM},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"precision", required_argument, 0, O_PREC},
                                         {"cv", required_argument, 0, O_CV},
                                         {"output", required_argument, 0, 'o'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *algo = NULL, *out = NULL, *params[SR_MAX_PARAMS * 2];
    int n_params = 0;
    sr_transform transform = SR_TRANSFORM_CAP10;
    bool transform_set = false; /* default: cap10 for rating models, raw for implicit ones */
    sr_srm_precision prec = SR_SRM_PREC_F32;
    uint64_t seed = 0, threads = 1, cv = 0;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case O_ALGO:
            algo = optarg;
            break;
        case O_PARAM:
            if (n_params == (int)(sizeof params / sizeof params[0])) goto bad;
            params[n_params++] = optarg;
            break;
        case O_TRANSFORM:
            if (!sr_cli_parse_transform(optarg, &transform)) goto bad;
            transform_set = true;
            break;
        case O_SEED:
            if (!sr_cli_parse_u64(optarg, &seed)) goto bad;
            break;
        case O_THREADS:
            if (!sr_cli_parse_u64(optarg, &threads) || threads < 1 || threads > 1024) goto bad;
            break;
        case O_PREC:
            if (!strcmp(optarg, "f32"))
                prec = SR_SRM_PREC_F32;
            else if (!strcmp(optarg, "f16"))
                prec = SR_SRM_PREC_F16;
            else
                goto bad;
            break;
        case O_CV:
            if (!sr_cli_parse_u64(optarg, &cv) || cv < 2 || cv > 100) goto bad;
            break;
        case 'o':
            out = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
        continue;
    bad:
        return sr_cli_bad_value("train", opts, c, optarg);
    }
    if (optind != argc - 1 || !algo || !out) {
        fprintf(stderr, "songrec train: need one dataset file, --algo and -o\n");
        usage(stderr);
        return 1;
    }
    const sr_model_ops *ops;
    double p[SR_MAX_PARAMS];
    int rc = sr_cli_model_params("train", algo, params, n_params, &ops, p);
    if (rc) return rc;
    /* --cv's figures are RMSE and MAE, which an implicit model's scores have none of:
     * refused as evaluate refuses it, before any work. */
    if (cv && sr_cli_refuse_implicit("train", ops,
                                     "--cv measures rating accuracy: use songrec evaluate "
                                     "--task ranking, or train without --cv"))
        return 1;
    if (!transform_set && ops->implicit) transform = SR_TRANSFORM_RAW;
    sr_diag d = {{0}};

    sr_cli_log cl;
    sr_cli_log_init(&cl, quiet);
    const char *path = argv[optind];
    sr_dataset *ds = NULL;
    sr_ratings *rs = NULL;
    sr_trainset *ts = NULL;
    sr_model m = {0};
    sr_cv_result cvr = {0};
    sr_err e = sr_dataset_load(path, &ds, &d);
    if (e) goto fail;
    /* Ratings are kept as given whatever --transform says (cap10 caps play counts): the
     * model's record says so, and so the page and the history uploads read them right. */
    if (ds->kind == SR_VALUE_RATINGS) transform = SR_TRANSFORM_RAW;
    e = sr_ratings_from_dataset(ds, transform, &rs);
    if (!e) e = sr_trainset_new(rs, NULL, &ts);
    if (!e && ops->needs_events) e = sr_trainset_add_events(ts, rs, NULL, 0);
    if (e) {
        sr_diag_set(&d, e, "%s", sr_err_message(e));
        goto fail;
    }
    if (cv) {
        sr_cv_opts co = {.split = {.kind = SR_SPLIT_KFOLD, .n_splits = (unsigned)cv, .seed = seed},
                         .threads = (unsigned)threads,
                         .seed = seed,
                         .log = &cl.log};
        if ((e = sr_cross_validate(rs, ops, p, &co, &cvr, &d))) goto fail;
        printf("Cross-validated %s, %u folds: RMSE %.4f (std %.4f), MAE %.4f (std %.4f).\n",
               ops->surprise, cvr.n_folds, cvr.mean[SR_METRIC_RMSE], cvr.std[SR_METRIC_RMSE],
               cvr.mean[SR_METRIC_MAE], cvr.std[SR_METRIC_MAE]);
    }
    sr_ratings_free(rs);
    rs = NULL;
    sr_fit_ctx fc = {.seed = seed, .threads = (int)threads, .log = &cl.log};
    double t0 = now_s();
    e = sr_model_fit(&m, ops, p, ts, &fc, &d);
    double fit_s = now_s() - t0;
    if (e) goto fail;
    sr_model_meta meta = {.data_file = path,
                          .data_meta = ds->meta_json,
                          .transform = transform == SR_TRANSFORM_CAP10 ? "cap10" : "raw",
                          .users = ds->users,
                          .artists = ds->artists,
                          .item_artist = ds->song_artist,
                          .tracks = ds->tracks,
                          .item_mbid = ds->song_mbid,
                          .created = (uint64_t)time(NULL),
                          .eval_folds = cv ? cvr.n_folds : 0,
                          .eval_rmse = cvr.mean[SR_METRIC_RMSE],
                          .eval_rmse_std = cvr.std[SR_METRIC_RMSE],
                          .eval_mae = cvr.mean[SR_METRIC_MAE],
                          .eval_mae_std = cvr.std[SR_METRIC_MAE]};
    t0 = now_s();
    e = sr_model_save(&m, &meta, prec, out, &d);
    double save_s = now_s() - t0;
    if (e) goto fail;
    struct stat st;
    uint64_t size = stat(out, &st) == 0 ? (uint64_t)st.st_size : 0;
    char pbuf[1024];
    sr_params_format(ops, p, pbuf, sizeof pbuf);
    printf("Trained %s (%s) on %llu ratings (%u users, %u items) in %.2f s.\n", ops->surprise, pbuf,
           (unsigned long long)ts->n, ts->n_users, ts->n_items, fit_s);
    printf("Wrote %s: %llu bytes (%.1f MiB, %s) in %.2f s.\n", out, (unsigned long long)size,
           (double)size / 1048576.0, prec == SR_SRM_PREC_F16 ? "f16" : "f32", save_s);
    sr_cv_result_deinit(&cvr);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
    sr_dataset_free(ds);
    return 0;
fail:
    sr_cv_result_deinit(&cvr);
    sr_model_deinit(&m);
    sr_trainset_free(ts);
    sr_ratings_free(rs);
    sr_dataset_free(ds);
    return sr_cli_fail("train", e, &d);
}

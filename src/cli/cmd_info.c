/* songrec info: describe a model file (.srm): algorithm, parameters, counts, precision,
 * the data it was trained on, when, and the size of every section.
 *
 *   songrec info MODEL.srm [--json]
 *
 * Loading is the same as predict's (models/model_file.h), so info also checks the file
 * and its load time is what a server pays at start (mmap: pages are read on use).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "models/model_file.h"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec info MODEL.srm [--json]\n\n"
               "Describes a trained model file.\n\n"
               "  --json                 one JSON object\n"
               "  -h, --help             this help\n");
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static const char *type_name(sr_srm_type t) {
    static const char *const names[SR_SRM__END] = {"?", "u8", "u32", "u64", "f16", "f32", "f64"};
    return t > 0 && t < SR_SRM__END ? names[t] : "?";
}

int sr_cmd_info(int argc, char **argv) {
    enum { O_JSON = 256 };
    static const struct option opts[] = {
        {"json", no_argument, 0, O_JSON}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == O_JSON) {
            json = true;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "songrec info: need one model file\n");
        usage(stderr);
        return 1;
    }
    sr_diag d = {{0}};
    sr_model_file *f;
    double t0 = now_s();
    sr_err e = sr_model_load(argv[optind], &f, &d);
    double load_s = now_s() - t0;
    if (e) return sr_cli_fail("info", e, &d);
    const sr_model_ops *ops = f->model.ops;
    const sr_trainset *ts = &f->ts;
    const char *prec = f->precision == SR_SRM_PREC_F16 ? "f16" : "f32";
    char when[64] = "";
    time_t ct = (time_t)f->meta.created;
    struct tm tm;
    if (gmtime_r(&ct, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    uint64_t size = sr_srm_file_size(f->srm);
    size_t ns = sr_srm_n_sections(f->srm);
    if (json) {
        printf("{\"file\": ");
        sr_cli_json_string(stdout, argv[optind], strlen(argv[optind]));
        printf(", \"algo\": \"%s\", \"class\": \"%s\", \"params\": {", ops->name, ops->surprise);
        /* name=value pairs of the stored text, as JSON strings */
        const char *p = f->params;
        bool first = true;
        while (*p) {
            size_t len = strcspn(p, ",");
            const char *eq = memchr(p, '=', len);
            if (eq) {
                printf("%s", first ? "" : ", ");
                sr_cli_json_string(stdout, p, (size_t)(eq - p));
                printf(": ");
                sr_cli_json_string(stdout, eq + 1, len - (size_t)(eq - p) - 1);
                first = false;
            }
            p += len + (p[len] == ',');
        }
        printf("}, \"users\": %u, \"items\": %u, \"ratings\": %llu, \"scale\": [%g, %g], "
               "\"global_mean\": %.6f, \"precision\": \"%s\", \"file_size\": %llu, "
               "\"load_seconds\": %.6f, \"created\": \"%s\", \"data\": {\"file\": ",
               ts->n_users, ts->n_items, (unsigned long long)ts->n, ts->lo, ts->hi, ts->global_mean,
               prec, (unsigned long long)size, load_s, when);
        sr_cli_json_string(stdout, f->meta.data_file, strlen(f->meta.data_file));
        printf(", \"transform\": \"%s\", \"meta\": ", f->meta.transform);
        sr_cli_json_string(stdout, f->meta.data_meta, strlen(f->meta.data_meta));
        printf("}, \"evaluation\": ");
        if (f->meta.eval_folds)
            printf("{\"folds\": %u, \"rmse\": %.6f, \"rmse_std\": %.6f, \"mae\": %.6f, "
                   "\"mae_std\": %.6f}",
                   f->meta.eval_folds, f->meta.eval_rmse, f->meta.eval_rmse_std, f->meta.eval_mae,
                   f->meta.eval_mae_std);
        else
            printf("null");
        printf(", \"sections\": [");
        for (size_t i = 0; i < ns; i++) {
            sr_srm_section_info si;
            sr_srm_section(f->srm, i, &si);
            printf("%s{\"name\": \"%s\", \"type\": \"%s\", \"count\": %llu, \"bytes\": %llu}",
                   i ? ", " : "", si.name, type_name(si.type), (unsigned long long)si.count,
                   (unsigned long long)si.bytes);
        }
        printf("]}\n");
    } else {
        printf("Model        %s (%s)\n", ops->surprise, ops->name);
        printf("Parameters   %s\n", f->params[0] ? f->params : "(none)");
        printf("Trained on   %s (transform %s), created %s\n", f->meta.data_file, f->meta.transform,
               when);
        printf("Data         %u users, %u items, %llu ratings; scale %g..%g, mean %.4f\n",
               ts->n_users, ts->n_items, (unsigned long long)ts->n, ts->lo, ts->hi,
               ts->global_mean);
        if (f->meta.eval_folds)
            printf("Evaluation   %u-fold CV: RMSE %.4f (std %.4f), MAE %.4f (std %.4f)\n",
                   f->meta.eval_folds, f->meta.eval_rmse, f->meta.eval_rmse_std, f->meta.eval_mae,
                   f->meta.eval_mae_std);
        printf("File         %llu bytes (%.1f MiB), factors %s, loaded in %.3f s\n",
               (unsigned long long)size, (double)size / 1048576.0, prec, load_s);
        printf("Sections\n");
        for (size_t i = 0; i < ns; i++) {
            sr_srm_section_info si;
            sr_srm_section(f->srm, i, &si);
            printf("  %-16s %-4s %12llu x  %14llu bytes\n", si.name, type_name(si.type),
                   (unsigned long long)si.count, (unsigned long long)si.bytes);
        }
        printf("Dataset meta %s\n", f->meta.data_meta);
    }
    sr_model_file_free(f);
    return 0;
}

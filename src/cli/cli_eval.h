/* What the rating-model commands (evaluate, gridsearch, compare) share: the split and
 * measure options with their parsing and help lines, the --list-algos listing, and
 * loading a dataset file as ratings through --transform.
 *
 * A command puts SR_CLI_EVAL_OPTIONS in its getopt_long table and hands every option
 * code to sr_cli_eval_option first; codes it does not own come back as 0.
 */
#ifndef SR_CLI_EVAL_H
#define SR_CLI_EVAL_H

#include <stdbool.h>
#include <stdio.h>

#include "eval/cv.h"

typedef struct sr_cli_eval {
    sr_cv_opts cv; /* splits, seed, threads (log is set by the command) */
    bool measure[SR_METRIC__COUNT];
    int transform; /* an sr_transform, or -1: cap10 for play counts, raw for ratings */
    bool json;
    bool split_named; /* --split gave a split other than time (a --test-after cut then
                         has nothing to cut: refused, whichever came first) */
    char why[256];    /* after a bad value: the option, the value and what it takes */
} sr_cli_eval;

enum {
    SR_CLI_O_CV = 1000,
    SR_CLI_O_SPLIT,
    SR_CLI_O_REPEATS,
    SR_CLI_O_TEST_SIZE,
    SR_CLI_O_MEASURES,
    SR_CLI_O_TRANSFORM,
    SR_CLI_O_SEED,
    SR_CLI_O_THREADS,
    SR_CLI_O_JSON,
    SR_CLI_O_TEST_AFTER,
};

#define SR_CLI_EVAL_OPTIONS                                                                        \
    {"cv", required_argument, 0, SR_CLI_O_CV}, {"split", required_argument, 0, SR_CLI_O_SPLIT},    \
        {"repeats", required_argument, 0, SR_CLI_O_REPEATS},                                       \
        {"test-size", required_argument, 0, SR_CLI_O_TEST_SIZE},                                   \
        {"test-after", required_argument, 0, SR_CLI_O_TEST_AFTER},                                 \
        {"measures", required_argument, 0, SR_CLI_O_MEASURES},                                     \
        {"transform", required_argument, 0, SR_CLI_O_TRANSFORM},                                   \
        {"seed", required_argument, 0, SR_CLI_O_SEED},                                             \
        {"threads", required_argument, 0, SR_CLI_O_THREADS}, {                                     \
        "json", no_argument, 0, SR_CLI_O_JSON                                                      \
    }

/* The help lines of the shared options. */
extern const char sr_cli_eval_help[];

/* Defaults: 5-fold KFold, rmse and mae, seed 0, 2 threads, transform by dataset kind,
 * no time cut (SR_SPLIT_NO_CUT: --split time then needs --test-after). */
void sr_cli_eval_init(sr_cli_eval *e);
/* Applies option code c with argument arg: 1 when applied, 0 when c is not a shared
 * option, -1 for a bad value (e->why then says which option takes what, e.g. "--cv 1:
 * the number of folds must be a whole number from 2 to 1000"). */
int sr_cli_eval_option(sr_cli_eval *e, int c, const char *arg);
/* Prints "songrec CMD: " and e->why (or "bad value 'ARG'" when it is empty) to stderr;
 * returns 1, the usage exit code. */
int sr_cli_eval_bad(const char *cmd, const sr_cli_eval *e, const char *arg);

/* Parses the DATE of option opt (--test-after, --since, --until; sr_time_parse's forms:
 * YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM], Unix seconds). A bare number below 10^8
 * (before 1973-03-03) is refused: it reads as Unix seconds, yet is most likely a year
 * ("2015") or a compact date ("20150101"). False with words in why ("--since 2015: ...")
 * when it is not a date. */
bool sr_cli_parse_moment(const char *opt, const char *arg, int64_t *t, char *why, size_t cap);

/* Prints every registered model with its parameters (name, default or choices, help). */
void sr_cli_list_algos(FILE *f);

/* The registered model named name (sr_model_find: Surprise class names work too), or
 * NULL after printing "songrec CMD: unknown algorithm 'NAME'; known: ..." to stderr. */
const sr_model_ops *sr_cli_find_model(const char *cmd, const char *name);

/* Finds algo (sr_cli_find_model) and fills p (SR_MAX_PARAMS) with its defaults, then
 * the NAME=VALUE settings params[0..n_params). Returns 0, or the exit code after
 * printing why. */
int sr_cli_model_params(const char *cmd, const char *algo, const char *const *params, int n_params,
                        const sr_model_ops **ops, double *p);

/* Parses a --transform value: "cap10" or "raw". False for anything else. */
bool sr_cli_parse_transform(const char *s, sr_transform *out);

/* Loads the dataset at path and returns its ratings through e->transform (new, caller
 * frees with sr_ratings_free). */
sr_err sr_cli_load_ratings(const char *path, const sr_cli_eval *e, sr_ratings **out, sr_diag *d);

/* mkdir -p dir (0777 less the umask); d names the directory that could not be made,
 * or says dir exists but is not a directory. */
sr_err sr_cli_make_dirs(const char *dir, sr_diag *d);

/* Opens path for writing, "-" meaning stdout (*close_it false then). */
sr_err sr_cli_open_out(const char *path, FILE **f, bool *close_it, sr_diag *d);

/* The measure's name in capitals ("RMSE") into buf. */
void sr_cli_measure_label(sr_metric m, char *buf, size_t cap);

/* For the rating-only commands (and train --cv, whose figures are RMSE and MAE): true
 * (after saying why on stderr, ending with advice, NULL: "use --task ranking") when ops
 * is an implicit-feedback model, which ranks songs and predicts no ratings. */
bool sr_cli_refuse_implicit(const char *cmd, const sr_model_ops *ops, const char *advice);
/* Whether the arguments ask for --task ranking (evaluate and gridsearch hand those to
 * cli_rank.c). */
bool sr_cli_ranking_task(int argc, char **argv);
/* songrec evaluate --task ranking (cli_rank.c): the whole command. */
int sr_cli_evaluate_ranking(int argc, char **argv);
/* songrec gridsearch --task ranking (cli_rank.c): the whole command. */
int sr_cli_gridsearch_ranking(int argc, char **argv);

#endif

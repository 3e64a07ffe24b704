/* bench/growth_plot.c — the growth curve of the scale run (issue 7): reads the step
 * tables bench/scale.sh wrote at several sizes (scale-$SCALE.tsv) and draws time and
 * peak memory of each step against the number of listens (SVG), and prints, for each
 * step, the seconds per million listens at every size and how far the largest run is
 * from a straight line through the smallest (the linearity check).
 *
 *   growth_plot OUTDIR scale-0.125.tsv scale-0.25.tsv scale-0.5.tsv scale-1.tsv
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/svg.h"

enum { MAX_RUNS = 8, MAX_STEPS = 16 };

typedef struct run {
    double listens;
    double sec[MAX_STEPS], rss[MAX_STEPS];
} run;

static char steps[MAX_STEPS][64];
static int n_steps;

static int step_index(const char *name) {
    for (int s = 0; s < n_steps; s++)
        if (!strcmp(steps[s], name)) return s;
    if (n_steps == MAX_STEPS) return -1;
    snprintf(steps[n_steps], sizeof steps[0], "%s", name);
    return n_steps++;
}

static int read_run(const char *path, run *r) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    for (int s = 0; s < MAX_STEPS; s++) r->sec[s] = r->rss[s] = NAN;
    r->listens = NAN;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "SCALE=");
        if (line[0] == '#') {
            double l;
            if (p && (p = strchr(p, ':')) && sscanf(p + 1, "%lf listens", &l) == 1) r->listens = l;
            continue;
        }
        char name[64];
        double sec, rss;
        if (sscanf(line, "%63[^\t]\t%lf\t%lf", name, &sec, &rss) != 3) continue;
        int s = step_index(name);
        if (s >= 0) r->sec[s] = sec, r->rss[s] = rss;
    }
    fclose(f);
    if (!isfinite(r->listens)) {
        fprintf(stderr, "%s: no '# ... SCALE=x: N listens' line\n", path);
        return -1;
    }
    return 0;
}

static int cmp_run(const void *a, const void *b) {
    const run *x = a, *y = b;
    return (x->listens > y->listens) - (x->listens < y->listens);
}

/* The charts leave out the f16 repeats of the training steps and the stats step (they
 * lie on or near other lines) and add the whole run: total seconds, or the peak. */
static bool charted(const char *name) {
    size_t n = strlen(name);
    return strcmp(name, "stats") && !(n > 2 && !strcmp(name + n - 2, "16"));
}

static int chart(const char *path, const char *title, const char *ylab, const double *x, int nr,
                 double (*vals)[MAX_RUNS], const double *whole, const char *whole_name) {
    sr_chart_series ser[MAX_STEPS + 1];
    size_t ns = 0;
    for (int s = 0; s < n_steps; s++)
        if (charted(steps[s])) ser[ns++] = (sr_chart_series){.name = steps[s], .values = vals[s]};
    ser[ns++] = (sr_chart_series){.name = whole_name, .values = whole};
    sr_chart c = {.kind = SR_CHART_LINES,
                  .title = title,
                  .subtitle = "bench/growth.sh: bench/scale.sh at 1/8, 1/4, 1/2 and the full size",
                  .x_label = "listens (millions)",
                  .y_label = ylab,
                  .n_points = (size_t)nr,
                  .x = x,
                  .series = ser,
                  .n_series = ns,
                  .zero_based = true,
                  .width = 900,
                  .height = 520};
    sr_diag d = {{0}};
    if (sr_svg_save(&c, path, &d)) {
        fprintf(stderr, "growth_plot: %s\n", d.msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc - 2 > MAX_RUNS) {
        fprintf(stderr, "usage: growth_plot OUTDIR scale-A.tsv scale-B.tsv ...\n");
        return 2;
    }
    run runs[MAX_RUNS];
    const int nr = argc - 2;
    for (int r = 0; r < nr; r++)
        if (read_run(argv[2 + r], &runs[r])) return 1;
    qsort(runs, (size_t)nr, sizeof *runs, cmp_run);
    double x[MAX_RUNS], sec[MAX_STEPS][MAX_RUNS], rss[MAX_STEPS][MAX_RUNS];
    for (int r = 0; r < nr; r++) x[r] = runs[r].listens / 1e6;
    for (int s = 0; s < n_steps; s++)
        for (int r = 0; r < nr; r++) sec[s][r] = runs[r].sec[s], rss[s][r] = runs[r].rss[s];
    double total[MAX_RUNS], peak[MAX_RUNS];
    for (int r = 0; r < nr; r++) {
        total[r] = 0, peak[r] = 0;
        for (int s = 0; s < n_steps; s++) {
            if (isfinite(sec[s][r])) total[r] += sec[s][r];
            if (isfinite(rss[s][r]) && rss[s][r] > peak[r]) peak[r] = rss[s][r];
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/growth-time.svg", argv[1]);
    if (chart(path, "Scale run: time of each step against listens", "seconds", x, nr, sec, total,
              "whole run"))
        return 1;
    snprintf(path, sizeof path, "%s/growth-memory.svg", argv[1]);
    if (chart(path, "Scale run: peak memory of each step against listens", "peak RSS (MiB)", x, nr,
              rss, peak, "highest"))
        return 1;
    /* The table: seconds per million listens at each size, and the largest run's time
     * over the smallest's scaled by the listens (1.00 = linear). */
    printf("step");
    for (int r = 0; r < nr; r++) printf("\ts/M @%.1fM", x[r]);
    printf("\tlargest/linear\tMiB/M @%.1fM\n", x[nr - 1]);
    for (int s = 0; s < n_steps; s++) {
        printf("%s", steps[s]);
        for (int r = 0; r < nr; r++) printf("\t%.3f", sec[s][r] / x[r]);
        printf("\t%.2f\t%.1f\n", sec[s][nr - 1] / (sec[s][0] * x[nr - 1] / x[0]),
               rss[s][nr - 1] / x[nr - 1]);
    }
    printf("whole run");
    for (int r = 0; r < nr; r++) printf("\t%.3f", total[r] / x[r]);
    printf("\t%.2f\t%.1f\n", total[nr - 1] / (total[0] * x[nr - 1] / x[0]),
           peak[nr - 1] / x[nr - 1]);
    return 0;
}

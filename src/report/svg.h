/* SVG charts: a small writer for the charts songrec draws (histograms, grid-search
 * curves, leaderboards).
 *
 * A chart is plain data (sr_chart): a title, axis titles, n_points categories or x
 * values, and one or more series of n_points values each. Three kinds cover what
 * songrec needs:
 *   SR_CHART_BARS   vertical bars, one slot per category, series side by side
 *                   (histograms: bins as categories, e.g. "1".."99", "100+");
 *   SR_CHART_HBARS  horizontal bars with the category labels on the left
 *                   (leaderboards, where labels are long);
 *   SR_CHART_LINES  numeric x (optionally log), one polyline with markers per series
 *                   (RMSE/MAE against a hyperparameter).
 * The value axis is linear (bars from zero) or log10 (log_values); ticks are "nice"
 * steps of 1, 2 or 5 x 10^k (Heckbert, Graphics Gems, 1990) labelled compactly (12k,
 * 3.4M). Category labels are thinned when they would overlap, and value labels are
 * drawn only where they fit, so a 100-bin histogram stays readable.
 *
 * The output is a standalone SVG 1.1 document with inline attributes only (no CSS, no
 * scripts, no external fonts), so browsers, rsvg-convert and Inkscape draw it alike.
 * All text is escaped for XML; invalid UTF-8 bytes become '?'.
 *
 * Ownership: the chart and everything it points to are borrowed for the call.
 */
#ifndef SR_SVG_H
#define SR_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/err.h"

typedef enum sr_chart_kind {
    SR_CHART_BARS = 0, /* vertical bars over categories */
    SR_CHART_HBARS,    /* horizontal bars, categories down the left side */
    SR_CHART_LINES,    /* lines over numeric x */
} sr_chart_kind;

typedef struct sr_chart_series {
    const char *name;     /* legend entry (shown when there are 2+ series); may be NULL */
    const double *values; /* (n_points); NAN = no value at that point */
    /* (n_points) text to show at each bar/point, NULL entries = none. NULL: when the
     * chart's value_labels is set, each value formatted compactly ("51.2M"). */
    const char *const *labels;
    const char *color; /* fill/stroke, e.g. "#4e79a7"; NULL = the palette's next */
} sr_chart_series;

typedef struct sr_chart {
    sr_chart_kind kind;
    const char *title;    /* top line; may be NULL */
    const char *subtitle; /* smaller lines under the title, split at '\n'; may be NULL */
    const char *x_label;  /* title of the horizontal axis, with units; may be NULL */
    const char *y_label;  /* title of the vertical axis, with units; may be NULL */
    size_t n_points;
    /* (n_points) category labels (BARS, HBARS). NULL: x formatted with %g when x is
     * given, else 1, 2, 3, ... */
    const char *const *categories;
    const double *x;               /* (n_points) x of each point; required for LINES */
    const sr_chart_series *series; /* (n_series) */
    size_t n_series;
    bool log_values;   /* log10 value axis; values <= 0 are not drawn */
    bool log_x;        /* LINES: log10 x axis; x <= 0 are not drawn */
    bool zero_based;   /* LINES: value axis includes 0 (bars always start at 0) */
    bool value_labels; /* label bars/points with their values (see labels above) */
    int width, height; /* pixels; 0 = 800 x 450 */
} sr_chart;

/* Renders c as a standalone SVG document into *out, a new NUL-terminated string of *len
 * bytes (caller frees with sr_free). Returns SR_OK, SR_E_NOMEM, or SR_E_USAGE when the
 * chart is malformed (LINES without x, series without values, absurd size). */
sr_err sr_svg_render(const sr_chart *c, char **out, size_t *len);

/* Renders c and writes it to f (borrowed, not closed). SR_E_IO on a write error. */
sr_err sr_svg_write(const sr_chart *c, FILE *f);

/* Renders c into the file at path atomically (io/atomic.h: a temporary file next to
 * path, fsync, rename, fsync of the directory). On failure path is left as it was and d
 * names the file and the reason. */
sr_err sr_svg_save(const sr_chart *c, const char *path, sr_diag *d);

/* Returns s[0..n) escaped for XML text and attribute values (& < > " ' as entities,
 * control characters and invalid UTF-8 bytes as '?'): a new string, caller frees with
 * sr_free; NULL when out of memory. */
char *sr_svg_escape(const char *s, size_t n);

/* Formats v compactly with about three significant digits: 7, 0.873, 12.5k, 51.2M, 1.5G.
 * buf receives at most cap bytes including the NUL. */
void sr_svg_format_compact(double v, char *buf, size_t cap);

#endif

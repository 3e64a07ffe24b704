/* SVG charts (svg.h): layout, axes, ticks and the document text.
 *
 * Everything is rendered into one growable buffer; sr_svg_write and sr_svg_save only
 * move those bytes. Layout is computed before anything is emitted: the margins depend
 * on the widest tick or category label (estimated at 0.6 em per character, which holds
 * for digits and most Latin text in common sans-serif fonts, and 1 em for CJK and other
 * characters from U+3000 up), then the plot box,
 * then each axis maps data to pixels.
 *
 * Readability rules, so a 100-bin histogram and a 10-bar one both read at a glance:
 * category labels are thinned to every k-th (k in 1, 2, 5, 10, ...) and the last label
 * is always kept; caller-given value labels are drawn unless they would overlap the
 * previous one, and one wider than its bar is lifted clear of the neighbours it spans;
 * automatic value labels only where they fit over their own bar; a non-zero bar is at
 * least 1 px tall so that it is visible on a linear axis, and a log bar axis starts a
 * decade below the smallest value so that no bar has zero length; value labels get
 * headroom (linear: 8 %, log: a factor of 2) so that they stay inside the plot.
 *
 * Numbers are printed with printf's "C" locale formats (the CLI never calls
 * setlocale), so decimal points are always '.', as SVG requires.
 */
#include "report/svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "util/mem.h"
#include "util/str.h"

#define FONT         "Helvetica, Arial, sans-serif"
#define CHAR_EM      0.6 /* estimated glyph width in em */
#define TICK_FONT    12.0
#define VALUE_FONT   11.0
#define MAX_TICKS    64
#define MAX_POINTS   1000000
#define MAX_CAT_FRAC 0.35 /* HBARS: category labels use at most this share of the width */

static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define N_PALETTE (sizeof palette / sizeof palette[0])

/* ---- string buffer -------------------------------------------------------------- */

typedef struct sb {
    char *p;
    size_t n, cap;
    bool oom;
} sb;

static bool sb_reserve(sb *b, size_t extra) {
    if (b->oom) return false;
    if (sr_grow((void **)&b->p, &b->cap, b->n + extra + 1, 1)) {
        b->oom = true;
        return false;
    }
    return true;
}

static void sb_put(sb *b, const char *s, size_t n) {
    if (!sb_reserve(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_puts(sb *b, const char *s) {
    sb_put(b, s, strlen(s));
}

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || !sb_reserve(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

/* Appends s[0..n) escaped for XML. */
static void sb_esc(sb *b, const char *s, size_t n) {
    bool valid = sr_utf8_valid(s, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':
            sb_puts(b, "&amp;");
            continue;
        case '<':
            sb_puts(b, "&lt;");
            continue;
        case '>':
            sb_puts(b, "&gt;");
            continue;
        case '"':
            sb_puts(b, "&quot;");
            continue;
        case '\'':
            sb_puts(b, "&apos;");
            continue;
        default:
            break;
        }
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || (c >= 0x80 && !valid)) {
            sb_put(b, "?", 1);
        } else if (c == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xBF &&
                   ((unsigned char)s[i + 2] & 0xFE) == 0xBE) {
            sb_put(b, "?", 1); /* U+FFFE and U+FFFF are not XML characters */
            i += 2;
        } else {
            sb_put(b, (const char *)&s[i], 1);
        }
    }
}

static void sb_esc_str(sb *b, const char *s) {
    if (s) sb_esc(b, s, strlen(s));
}

char *sr_svg_escape(const char *s, size_t n) {
    sb b = {0};
    sb_reserve(&b, n);
    sb_esc(&b, s, n);
    if (b.oom) {
        sr_free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- text measurement and number formats ------------------------------------------ */

static size_t utf8_chars(const char *s) {
    size_t k = 0;
    for (; s && *s; s++) k += ((unsigned char)*s & 0xC0) != 0x80;
    return k;
}

static double text_w(const char *s, double font) {
    double em = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xC0) == 0x80) continue;
        em += c >= 0xE3 ? 1.0 : CHAR_EM; /* lead bytes from U+3000: CJK, kana, Hangul */
    }
    return em * font;
}

/* Appends s escaped, cut to max_chars code points with an ellipsis. */
static void sb_esc_cut(sb *b, const char *s, size_t max_chars) {
    if (!s) return;
    size_t n = strlen(s);
    if (utf8_chars(s) <= max_chars) {
        sb_esc(b, s, n);
        return;
    }
    size_t keep = max_chars ? max_chars - 1 : 0, chars = 0, i = 0;
    for (; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (chars == keep) break;
            chars++;
        }
    }
    sb_esc(b, s, i);
    sb_puts(b, "\xE2\x80\xA6"); /* U+2026 HORIZONTAL ELLIPSIS */
}

/* Removes trailing zeros after a decimal point ("12.50" -> "12.5", "3.00" -> "3"). */
static void strip_zeros(char *s) {
    char *dot = strchr(s, '.');
    if (!dot) return;
    char *end = s + strlen(s);
    while (end > dot + 1 && end[-1] == '0') *--end = 0;
    if (end == dot + 1) *dot = 0;
}

void sr_svg_format_compact(double v, char *buf, size_t cap) {
    static const struct {
        double scale;
        const char *suffix;
    } units[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}};
    if (!cap) return;
    if (!isfinite(v)) {
        snprintf(buf, cap, "%s", isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == 0) v = 0; /* no "-0" */
    double a = fabs(v);
    if (a < 1) {
        snprintf(buf, cap, "%.3g", v);
        return;
    }
    size_t u = 0;
    while (u + 1 < sizeof units / sizeof units[0] && a < units[u].scale) u++;
    for (;;) {
        double s = v / units[u].scale, as = fabs(s);
        int dec = as >= 100 ? 0 : as >= 10 ? 1 : 2;
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*f", dec, s);
        /* 999.96 rounds to "1000": say 1k instead. */
        if (fabs(strtod(tmp, NULL)) >= 1000 && u > 0) {
            u--;
            continue;
        }
        strip_zeros(tmp);
        snprintf(buf, cap, "%s%s", tmp, units[u].suffix);
        return;
    }
}

/* A full-precision value for tooltips: whole numbers with thousands separators. */
static void format_full(double v, char *buf, size_t cap) {
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e15) {
        char digits[32];
        snprintf(digits, sizeof digits, "%.0f", fabs(v));
        size_t nd = strlen(digits), k = 0;
        char out[48];
        if (v < 0) out[k++] = '-';
        for (size_t i = 0; i < nd; i++) {
            if (i && (nd - i) % 3 == 0) out[k++] = ',';
            out[k++] = digits[i];
        }
        out[k] = 0;
        snprintf(buf, cap, "%s", out);
    } else {
        snprintf(buf, cap, "%.6g", v);
    }
}

/* ---- axes ----------------------------------------------------------------------- */

typedef struct axis {
    double lo, hi; /* data domain */
    bool log;
    double p0, p1;   /* pixels of lo and hi */
    double step;     /* linear tick step */
    double unit;     /* linear tick labels are divided by this ... */
    const char *sfx; /* ... and get this suffix */
    int dec;         /* ... with this many decimals */
    int n_ticks;
    double ticks[MAX_TICKS];
} axis;

static double nice_step(double raw) {
    double mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* A linear axis covering [dmin, dmax] with about 5 ticks at nice steps. */
static void axis_linear(axis *a, double dmin, double dmax) {
    if (!(dmax > dmin)) {
        double pad = dmin == 0 ? 1 : fabs(dmin) * 0.1;
        dmin -= dmin == 0 ? 0 : pad;
        dmax += pad;
    }
    a->log = false;
    a->step = nice_step((dmax - dmin) / 5);
    a->lo = floor(dmin / a->step + 1e-9) * a->step;
    a->hi = ceil(dmax / a->step - 1e-9) * a->step;
    a->n_ticks = 0;
    for (int i = 0; i < MAX_TICKS; i++) {
        double t = a->lo + a->step * i;
        if (t > a->hi + a->step * 1e-6) break;
        a->ticks[a->n_ticks++] = fabs(t) < a->step * 1e-9 ? 0 : t;
    }
    double m = fmax(fabs(a->lo), fabs(a->hi));
    a->unit = m >= 1e9 ? 1e9 : m >= 1e6 ? 1e6 : m >= 1e4 ? 1e3 : 1;
    a->sfx = m >= 1e9 ? "G" : m >= 1e6 ? "M" : m >= 1e4 ? "k" : "";
    double rel = a->step / a->unit;
    a->dec = rel < 1 ? (int)ceil(-log10(rel) - 1e-9) : 0;
}

/* A log10 axis from the power of 10 below dmin to the one at or above dmax. */
static void axis_log(axis *a, double dmin, double dmax) {
    /* Strictly below dmin, so that the smallest bar still has a length. */
    double e0 = ceil(log10(dmin) - 1e-9) - 1, e1 = ceil(log10(dmax) - 1e-9);
    if (e1 <= e0) e1 = e0 + 1;
    a->log = true;
    a->lo = pow(10, e0);
    a->hi = pow(10, e1);
    int every = (int)ceil((e1 - e0) / 8.0);
    a->n_ticks = 0;
    for (double e = e0; e <= e1 + 1e-9 && a->n_ticks < MAX_TICKS; e += every)
        a->ticks[a->n_ticks++] = pow(10, e);
}

/* A log10 axis over [dmin, dmax] plus a small margin, for points rather than bars:
 * ticks at 1, 2, 5 x 10^k when the range spans at most three decades, else at powers
 * of 10 (every other one beyond eight decades). */
static void axis_log_points(axis *a, double dmin, double dmax) {
    if (!(dmax > dmin)) dmin /= 2, dmax *= 2;
    double pad = pow(dmax / dmin, 0.04);
    a->log = true;
    a->lo = dmin / pad;
    a->hi = dmax * pad;
    double decades = log10(a->hi / a->lo);
    static const double steps125[] = {1, 2, 5};
    int every = decades > 8 ? (int)ceil(decades / 8.0) : 1;
    a->n_ticks = 0;
    for (double e = floor(log10(a->lo)); e <= ceil(log10(a->hi)) && a->n_ticks < MAX_TICKS;
         e += every) {
        for (int m = 0; m < (decades <= 3 ? 3 : 1); m++) {
            double t = steps125[m] * pow(10, e);
            if (t >= a->lo && t <= a->hi && a->n_ticks < MAX_TICKS) a->ticks[a->n_ticks++] = t;
        }
    }
}

static double ax_map(const axis *a, double v) {
    double t = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo))
                      : (v - a->lo) / (a->hi - a->lo);
    return a->p0 + t * (a->p1 - a->p0);
}

static void tick_label(const axis *a, double v, char *buf, size_t cap) {
    if (a->log) {
        sr_svg_format_compact(v, buf, cap);
        return;
    }
    double s = v / a->unit;
    if (s == 0) s = 0;
    snprintf(buf, cap, "%.*f%s", a->dec, s, s == 0 ? "" : a->sfx);
}

static double max_tick_w(const axis *a) {
    double w = 0;
    char buf[64];
    for (int i = 0; i < a->n_ticks; i++) {
        tick_label(a, a->ticks[i], buf, sizeof buf);
        w = fmax(w, text_w(buf, TICK_FONT));
    }
    return w;
}

/* Value-axis domain over all series: finite values (log: positive ones). False if none. */
static bool value_range(const sr_chart *c, bool log, double *vmin, double *vmax) {
    bool any = false;
    for (size_t j = 0; j < c->n_series; j++)
        for (size_t i = 0; i < c->n_points; i++) {
            double v = c->series[j].values[i];
            if (!isfinite(v) || (log && v <= 0)) continue;
            if (!any || v < *vmin) *vmin = v;
            if (!any || v > *vmax) *vmax = v;
            any = true;
        }
    return any;
}

/* ---- pieces of the document ---------------------------------------------------------- */

static const char *series_color(const sr_chart *c, size_t j) {
    return c->series[j].color ? c->series[j].color : palette[j % N_PALETTE];
}

static void category(const sr_chart *c, size_t i, char *buf, size_t cap) {
    if (c->categories && c->categories[i])
        snprintf(buf, cap, "%s", c->categories[i]);
    else if (c->x)
        snprintf(buf, cap, "%g", c->x[i]);
    else
        snprintf(buf, cap, "%zu", i + 1);
}

/* Label text of point i of series j, or NULL: caller's label, else (auto) the value. */
static const char *point_label(const sr_chart *c, size_t j, size_t i, char *buf, size_t cap,
                               bool *is_auto) {
    const sr_chart_series *s = &c->series[j];
    *is_auto = false;
    if (s->labels) return s->labels[i] && s->labels[i][0] ? s->labels[i] : NULL;
    if (!c->value_labels || !isfinite(s->values[i])) return NULL;
    *is_auto = true;
    sr_svg_format_compact(s->values[i], buf, cap);
    return buf;
}

static void text_at(sb *b, double x, double y, const char *anchor, double size, const char *extra,
                    const char *s) {
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%g\"%s>", x, y, anchor,
              size, extra ? extra : "");
    sb_esc_str(b, s);
    sb_puts(b, "</text>\n");
}

#define HALO " fill=\"#222\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\""

/* Value-axis ticks and gridlines: horizontal (vertical axis) or vertical. */
static void draw_value_axis(sb *b, const axis *a, bool vertical, double px0, double px1, double py0,
                            double py1) {
    char buf[64];
    for (int i = 0; i < a->n_ticks; i++) {
        double p = ax_map(a, a->ticks[i]);
        tick_label(a, a->ticks[i], buf, sizeof buf);
        if (vertical) {
            sb_printf(
                b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e3e3e3\"/>\n",
                px0, p, px1, p);
            text_at(b, px0 - 6, p + 4, "end", TICK_FONT, " fill=\"#444\"", buf);
        } else {
            sb_printf(
                b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e3e3e3\"/>\n",
                p, py0, p, py1);
            text_at(b, p, py1 + 18, "middle", TICK_FONT, " fill=\"#444\"", buf);
        }
    }
}

/* Chooses which of n category labels to draw, slot pixels apart, label i w[i] pixels
 * wide: every k-th with k in 1, 2, 5, 10, 20, ... (k slots hold the widest label) plus
 * the first and the last, dropping one that would come closer than 6 px to the label
 * kept before it (the last label is kept and its predecessor dropped instead). */
static void thin_labels(unsigned char *show, const double *w, size_t n, double slot) {
    static const size_t mult[] = {1, 2, 5};
    double maxw = 0;
    for (size_t i = 0; i < n; i++) maxw = fmax(maxw, w[i]);
    size_t k = 1;
    for (size_t m = 1; k * slot < maxw + 6 && m < 40; m++)
        k = mult[m % 3] * (size_t)pow(10, (double)(m / 3));
    size_t last = SIZE_MAX, before_last = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        show[i] = i == 0 || (i + 1) % k == 0 || i + 1 == n;
        if (!show[i]) continue;
        if (last != SIZE_MAX && (double)(i - last) * slot < (w[i] + w[last]) / 2 + 6) {
            if (i + 1 < n) {
                show[i] = 0;
                continue;
            }
            show[last] = 0; /* keep the last label, e.g. "100+" */
            last = before_last;
            if (last != SIZE_MAX && (double)(i - last) * slot < (w[i] + w[last]) / 2 + 6)
                show[last] = 0;
        }
        before_last = last;
        last = i;
    }
}

static void draw_legend(sb *b, const sr_chart *c, double x, double y) {
    for (size_t j = 0; j < c->n_series; j++) {
        const char *name = c->series[j].name ? c->series[j].name : "";
        sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x,
                  y - 10, series_color(c, j));
        text_at(b, x + 17, y, "start", 12, " fill=\"#333\"", name);
        x += 17 + text_w(name, 12) + 22;
    }
}

/* The highest bar top (smallest y) among the BARS slots that [x0, x1] overlaps. */
static double bars_top(const sr_chart *c, const axis *va, double px0, double slot, double x0,
                       double x1) {
    double top = va->p0;
    double f0 = floor((x0 - px0) / slot), f1 = floor((x1 - px0) / slot);
    size_t i0 = f0 < 0 ? 0 : (size_t)f0, i1 = f1 < 0 ? 0 : (size_t)f1;
    for (size_t i = i0; i <= i1 && i < c->n_points; i++)
        for (size_t j = 0; j < c->n_series; j++) {
            double v = c->series[j].values[i];
            if (!isfinite(v) || (va->log && v <= 0)) continue;
            top = fmin(top, ax_map(va, fmin(fmax(v, va->lo), va->hi)));
        }
    return top;
}

static bool valid_color(const char *s) {
    if (!s) return true;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              *s == '#' || *s == '(' || *s == ')' || *s == ',' || *s == '.' || *s == ' ' ||
              *s == '%'))
            return false;
    return true;
}

/* ---- the chart -------------------------------------------------------------------- */

sr_err sr_svg_render(const sr_chart *c, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    int W = c->width ? c->width : 800, H = c->height ? c->height : 450;
    if (W < 200 || H < 150 || W > 20000 || H > 20000 || c->n_points > MAX_POINTS ||
        (c->n_series && !c->series) || (c->kind == SR_CHART_LINES && c->n_points && !c->x) ||
        c->kind > SR_CHART_LINES)
        return SR_E_USAGE;
    for (size_t j = 0; j < c->n_series; j++)
        if ((c->n_points && !c->series[j].values) || !valid_color(c->series[j].color))
            return SR_E_USAGE;

    sb b = {0};
    unsigned char *show = NULL;
    double *widths = NULL;
    bool hbars = c->kind == SR_CHART_HBARS, lines = c->kind == SR_CHART_LINES;
    size_t n = c->n_points;
    char buf[128];

    /* Header area: title, subtitle, legend. */
    double top = 14;
    double title_y = 0, subtitle_y = 0, legend_y = 0;
    if (c->title) title_y = (top += 20);
    size_t sub_lines = 0;
    for (const char *q = c->subtitle; q; q = strchr(q, '\n'), q = q ? q + 1 : NULL) sub_lines++;
    if (sub_lines) subtitle_y = top + 19;
    top += 18.0 * (double)sub_lines + (sub_lines ? 1 : 0);
    if (c->n_series > 1) legend_y = (top += 24);
    top += 18;

    /* Value axis domain. */
    axis va = {0}, xa = {0};
    double vmin = 0, vmax = 0;
    bool any = value_range(c, c->log_values, &vmin, &vmax);
    bool labels_on = c->value_labels;
    for (size_t j = 0; j < c->n_series; j++) labels_on |= c->series[j].labels != NULL;
    if (c->log_values) {
        if (!any) vmin = 1, vmax = 10;
        if (lines)
            axis_log_points(&va, vmin, labels_on ? vmax * 1.3 : vmax);
        else
            axis_log(&va, vmin, labels_on ? vmax * 2 : vmax);
    } else if (lines) {
        if (!any) vmin = 0, vmax = 1;
        if (c->zero_based) vmin = fmin(vmin, 0), vmax = fmax(vmax, 0);
        double pad = (vmax - vmin) * 0.04;
        axis_linear(&va, vmin - (c->zero_based && vmin == 0 ? 0 : pad),
                    vmax + (c->zero_based && vmax == 0 ? 0 : pad));
    } else {
        vmin = fmin(vmin, 0);
        vmax = fmax(vmax, 0);
        if (labels_on && vmax > 0) vmax *= 1.08;
        axis_linear(&va, vmin, vmax);
    }

    /* Margins. */
    double left = 14, bottom = 30, right = 24;
    if (c->y_label) left += 20;
    if (c->x_label) bottom += 22;
    double cat_w = 0;
    if (hbars) {
        for (size_t i = 0; i < n; i++) {
            category(c, i, buf, sizeof buf);
            cat_w =
                fmax(cat_w, c->categories && c->categories[i] ? text_w(c->categories[i], TICK_FONT)
                                                              : text_w(buf, TICK_FONT));
        }
        cat_w = fmin(cat_w, W * MAX_CAT_FRAC);
        left += cat_w + 10;
        if (labels_on) right += 60;
    } else {
        left += max_tick_w(&va) + 10;
    }
    double px0 = left, px1 = W - right, py0 = top, py1 = H - bottom;
    if (px1 - px0 < 40 || py1 - py0 < 40) return SR_E_USAGE;

    sb_printf(&b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
              "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"" FONT "\" role=\"img\">\n",
              W, H, W, H);
    if (c->title) {
        sb_puts(&b, "<title>");
        sb_esc_str(&b, c->title);
        sb_puts(&b, "</title>\n");
    }
    sb_puts(&b, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    if (c->title)
        text_at(&b, W / 2.0, title_y, "middle", 18, " font-weight=\"bold\" fill=\"#222\"",
                c->title);
    for (const char *q = c->subtitle; q; subtitle_y += 18) {
        const char *nl = strchr(q, '\n');
        size_t k = nl ? (size_t)(nl - q) : strlen(q);
        sb_printf(&b,
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" "
                  "fill=\"#666\">",
                  W / 2.0, subtitle_y);
        sb_esc(&b, q, k);
        sb_puts(&b, "</text>\n");
        q = nl ? nl + 1 : NULL;
    }
    if (legend_y) draw_legend(&b, c, px0, legend_y);

    /* Axis titles. */
    if (c->x_label)
        text_at(&b, (px0 + px1) / 2, H - 12, "middle", 13, " fill=\"#333\"", c->x_label);
    if (c->y_label) {
        sb_printf(&b,
                  "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\" "
                  "font-size=\"13\" fill=\"#333\">",
                  20.0, (py0 + py1) / 2);
        sb_esc_str(&b, c->y_label);
        sb_puts(&b, "</text>\n");
    }

    /* Axes and gridlines. */
    if (hbars)
        va.p0 = px0, va.p1 = px1;
    else
        va.p0 = py1, va.p1 = py0;
    draw_value_axis(&b, &va, !hbars, px0, px1, py0, py1);
    if (lines) {
        double xmin = 0, xmax = 0;
        bool anyx = false;
        for (size_t i = 0; i < n; i++) {
            double x = c->x[i];
            if (!isfinite(x) || (c->log_x && x <= 0)) continue;
            if (!anyx || x < xmin) xmin = x;
            if (!anyx || x > xmax) xmax = x;
            anyx = true;
        }
        if (!anyx) xmin = 1, xmax = 10;
        if (c->log_x)
            axis_log_points(&xa, xmin, xmax);
        else
            axis_linear(&xa, xmin, xmax);
        xa.p0 = px0, xa.p1 = px1;
        draw_value_axis(&b, &xa, false, px0, px1, py0, py1);
    }
    /* The baseline: zero on a linear value axis, the bottom on a log one. */
    double base = va.log ? va.lo : fmin(fmax(0, va.lo), va.hi);
    double pbase = ax_map(&va, base);
    if (hbars)
        sb_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#555\"/>\n",
                  pbase, py0, pbase, py1);
    else
        sb_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#555\"/>\n",
                  px0, lines ? py1 : pbase, px1, lines ? py1 : pbase);

    /* Category labels (BARS below the plot, HBARS on the left). */
    if (!lines && n) {
        /* (n) label extents along the category axis, then (n) keep flags */
        widths = sr_mallocarray(n, sizeof *widths + 1);
        if (!widths) goto oom;
        show = (unsigned char *)(widths + n);
        double slot = (hbars ? py1 - py0 : px1 - px0) / (double)n;
        for (size_t i = 0; i < n; i++) {
            category(c, i, buf, sizeof buf);
            widths[i] = hbars ? TICK_FONT : text_w(buf, TICK_FONT);
        }
        thin_labels(show, widths, n, slot);
        size_t max_chars =
            (size_t)(cat_w / (TICK_FONT * CHAR_EM) + 1e-9); /* 1e-9: 13.999... is 14 */
        for (size_t i = 0; i < n; i++) {
            if (!show[i]) continue;
            double mid = (hbars ? py0 : px0) + slot * ((double)i + 0.5);
            const char *label = c->categories && c->categories[i] ? c->categories[i] : NULL;
            if (!label) {
                category(c, i, buf, sizeof buf);
                label = buf;
            }
            if (hbars) {
                sb_printf(&b,
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%g\" "
                          "fill=\"#333\">",
                          px0 - 8, mid + 4, TICK_FONT);
                sb_esc_cut(&b, label, max_chars < 2 ? 2 : max_chars);
                sb_puts(&b, "</text>\n");
            } else {
                sb_printf(&b,
                          "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                          "stroke=\"#555\"/>\n",
                          mid, py1, mid, py1 + 4);
                text_at(&b, mid, py1 + 18, "middle", TICK_FONT, " fill=\"#333\"", label);
            }
        }
    }

    /* Data. */
    if (!lines && n && c->n_series) {
        double slot = (hbars ? py1 - py0 : px1 - px0) / (double)n;
        double group = slot * (slot >= 6 ? 0.8 : 0.9), bw = group / (double)c->n_series;
        double last_edge = -1e9; /* far edge of the last value label drawn */
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < c->n_series; j++) {
                double v = c->series[j].values[i];
                if (!isfinite(v) || (va.log && v <= 0)) continue;
                double pv = ax_map(&va, fmin(fmax(v, va.lo), va.hi));
                double lo = fmin(pv, pbase), len2 = fabs(pv - pbase);
                if (v != base && len2 < 1) {
                    len2 = 1; /* visible, however small */
                    if (hbars ? v >= base : v <= base)
                        lo = pbase;
                    else
                        lo = pbase - 1;
                }
                double pos = (hbars ? py0 : px0) + slot * (double)i + (slot - group) / 2 + bw * j;
                if (hbars)
                    sb_printf(&b,
                              "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
                              "height=\"%.2f\" fill=\"%s\">",
                              lo, pos, len2, bw, series_color(c, j));
                else
                    sb_printf(&b,
                              "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
                              "height=\"%.2f\" fill=\"%s\">",
                              pos, lo, bw, len2, series_color(c, j));
                category(c, i, buf, sizeof buf);
                sb_puts(&b, "<title>");
                sb_esc_str(&b, c->categories && c->categories[i] ? c->categories[i] : buf);
                if (c->series[j].name && c->n_series > 1) {
                    sb_puts(&b, " \xE2\x80\x94 "); /* em dash */
                    sb_esc_str(&b, c->series[j].name);
                }
                format_full(v, buf, sizeof buf);
                sb_printf(&b, ": %s</title></rect>\n", buf);

                bool is_auto;
                const char *lab = point_label(c, j, i, buf, sizeof buf, &is_auto);
                if (!lab) continue;
                double w = text_w(lab, VALUE_FONT);
                if (hbars) {
                    double lx = fmax(pv, pbase) + 4;
                    text_at(&b, lx, pos + bw / 2 + 4, "start", VALUE_FONT, HALO, lab);
                } else {
                    double mid = pos + bw / 2;
                    if (is_auto && w > bw + 4) continue;
                    if (mid - w / 2 < last_edge + 3) continue;
                    last_edge = mid + w / 2;
                    double ly = v >= base ? lo - 4 : lo + len2 + VALUE_FONT + 2;
                    /* A label wider than its bar stands clear of the neighbours it spans. */
                    if (v >= base && w > bw)
                        ly = fmin(ly, bars_top(c, &va, px0, slot, mid - w / 2, mid + w / 2) - 4);
                    text_at(&b, mid, ly, "middle", VALUE_FONT, HALO, lab);
                }
            }
        }
    }
    if (lines) {
        for (size_t j = 0; j < c->n_series; j++) {
            const char *color = series_color(c, j);
            const double *y = c->series[j].values;
            bool open = false;
            for (size_t i = 0; i < n; i++) {
                bool ok = isfinite(y[i]) && isfinite(c->x[i]) && !(va.log && y[i] <= 0) &&
                          !(c->log_x && c->x[i] <= 0);
                if (!ok) {
                    if (open) sb_puts(&b, "\"/>\n");
                    open = false;
                    continue;
                }
                if (!open)
                    sb_printf(&b,
                              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                              "stroke-linejoin=\"round\" points=\"",
                              color);
                sb_printf(&b, "%s%.2f,%.2f", open ? " " : "", ax_map(&xa, c->x[i]),
                          ax_map(&va, y[i]));
                open = true;
            }
            if (open) sb_puts(&b, "\"/>\n");
            double last_edge = -1e9;
            for (size_t i = 0; i < n; i++) {
                if (!isfinite(y[i]) || !isfinite(c->x[i]) || (va.log && y[i] <= 0) ||
                    (c->log_x && c->x[i] <= 0))
                    continue;
                double px = ax_map(&xa, c->x[i]), py = ax_map(&va, y[i]);
                sb_printf(&b,
                          "<circle class=\"point\" cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" "
                          "fill=\"%s\"><title>",
                          px, py, color);
                if (c->series[j].name) {
                    sb_esc_str(&b, c->series[j].name);
                    sb_puts(&b, " at ");
                }
                sb_printf(&b, "%g: %.6g</title></circle>\n", c->x[i], y[i]);
                bool is_auto;
                const char *lab = point_label(c, j, i, buf, sizeof buf, &is_auto);
                if (!lab) continue;
                double w = text_w(lab, VALUE_FONT);
                if (px - w / 2 < last_edge + 3) continue;
                last_edge = px + w / 2;
                text_at(&b, px, py - 8, "middle", VALUE_FONT, HALO, lab);
            }
        }
    }
    sb_puts(&b, "</svg>\n");
    if (b.oom) goto oom;
    sr_free(widths);
    *out = b.p;
    if (len) *len = b.n;
    return SR_OK;

oom:
    sr_free(widths);
    sr_free(b.p);
    return SR_E_NOMEM;
}

sr_err sr_svg_write(const sr_chart *c, FILE *f) {
    char *s;
    size_t n;
    sr_err e = sr_svg_render(c, &s, &n);
    if (e) return e;
    size_t wrote = fwrite(s, 1, n, f);
    sr_free(s);
    return wrote == n && fflush(f) == 0 ? SR_OK : SR_E_IO;
}

sr_err sr_svg_save(const sr_chart *c, const char *path, sr_diag *d) {
    char *data;
    size_t n;
    sr_err e = sr_svg_render(c, &data, &n);
    if (e) return sr_diag_set(d, e, "%s: %s", path, sr_err_message(e));
    sr_afile f;
    if (!(e = sr_afile_open(&f, path, d))) {
        sr_afile_write(&f, data, n); /* a failed write is sticky: commit reports it */
        e = sr_afile_commit(&f, d);
    }
    sr_free(data);
    return e;
}

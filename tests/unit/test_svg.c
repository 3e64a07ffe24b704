/* Unit tests for report/svg: documents are well-formed XML (a tag-balance and entity
 * check here; xmllint too when it is installed, skipped otherwise), text is escaped,
 * bar lengths are proportional to values (linear) or to log10 (log), labels are thinned,
 * lines break at missing values, files are written atomically, and running out of
 * memory at any allocation fails cleanly.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "report/svg.h"
#include "util/mem.h"

/* ---- a minimal XML checker ------------------------------------------------------- */

/* True when s is one balanced element tree: every start tag closed in order, quoted
 * attribute values without '<', and every '&' starting a known or numeric entity. */
static bool xml_balanced(const char *s, char *why, size_t cap) {
    const char *stack[256];
    size_t len[256], depth = 0, roots = 0;
    const char *p = s;
    while (*p) {
        if (*p == '&') {
            static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            bool ok = p[1] == '#';
            for (size_t i = 0; i < 5; i++) ok |= !strncmp(p, ents[i], strlen(ents[i]));
            if (!ok) return snprintf(why, cap, "bare & at %zu", (size_t)(p - s)), false;
            p++;
            continue;
        }
        if (*p == '>') return snprintf(why, cap, "bare > at %zu", (size_t)(p - s)), false;
        if (*p != '<') {
            p++;
            continue;
        }
        if (!strncmp(p, "<?", 2)) {
            const char *e = strstr(p, "?>");
            if (!e) return snprintf(why, cap, "open <?"), false;
            p = e + 2;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + (closing ? 2 : 1);
        size_t n = strcspn(name, " \t\n/>");
        if (!n) return snprintf(why, cap, "empty tag name at %zu", (size_t)(p - s)), false;
        const char *q = name + n;
        char quote = 0;
        for (; *q && (quote || *q != '>'); q++) {
            if (quote) {
                if (*q == '<') return snprintf(why, cap, "< in attribute"), false;
                if (*q == quote) quote = 0;
            } else if (*q == '"' || *q == '\'') {
                quote = *q;
            }
        }
        if (!*q) return snprintf(why, cap, "unterminated tag"), false;
        bool self = q[-1] == '/';
        if (closing) {
            if (!depth || len[depth - 1] != n || strncmp(stack[depth - 1], name, n))
                return snprintf(why, cap, "mismatched </%.*s>", (int)n, name), false;
            depth--;
        } else if (!self) {
            if (depth == 256) return snprintf(why, cap, "too deep"), false;
            if (!depth) roots++;
            stack[depth] = name;
            len[depth++] = n;
        } else if (!depth) {
            roots++;
        }
        p = q + 1;
    }
    if (depth) return snprintf(why, cap, "%zu unclosed", depth), false;
    if (roots != 1) return snprintf(why, cap, "%zu root elements", roots), false;
    return true;
}

static bool have_xmllint(void) {
    return system("command -v xmllint >/dev/null 2>&1") == 0;
}

static void check_xml(const char *svg) {
    char why[128];
    if (!xml_balanced(svg, why, sizeof why)) fail_msg("not well-formed: %s", why);
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    if (!have_xmllint()) return;
    char path[] = "/tmp/songrec-test-svg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(svg, f);
    fclose(f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "xmllint --noout %s", path);
    int rc = system(cmd);
    unlink(path);
    assert_int_equal(rc, 0);
}

static char *render(const sr_chart *c) {
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(sr_svg_render(c, &s, &n), SR_OK);
    assert_non_null(s);
    assert_int_equal(strlen(s), n);
    check_xml(s);
    return s;
}

/* Reads attribute attr of the k-th <rect class="bar"> into *v; false if none. */
static bool bar_attr(const char *svg, int k, const char *attr, double *v) {
    const char *p = svg;
    for (int i = 0; i <= k; i++) {
        p = strstr(p, "<rect class=\"bar\"");
        if (!p) return false;
        if (i < k) p++;
    }
    char key[32];
    snprintf(key, sizeof key, " %s=\"", attr);
    const char *a = strstr(p, key);
    const char *end = strchr(p, '>');
    if (!a || a > end) return false;
    *v = strtod(a + strlen(key), NULL);
    return true;
}

static size_t count(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_bars_proportional(void **state) {
    (void)state;
    const double v[] = {10, 20, 40, 0};
    const char *cats[] = {"a", "b", "c", "d"};
    sr_chart_series s = {.name = "count", .values = v};
    sr_chart c = {.kind = SR_CHART_BARS,
                  .title = "T",
                  .x_label = "x (unit)",
                  .y_label = "y (unit)",
                  .n_points = 4,
                  .categories = cats,
                  .series = &s,
                  .n_series = 1};
    char *svg = render(&c);
    double h[3], y[3], hz;
    for (int i = 0; i < 3; i++) {
        assert_true(bar_attr(svg, i, "height", &h[i]));
        assert_true(bar_attr(svg, i, "y", &y[i]));
    }
    assert_true(bar_attr(svg, 3, "height", &hz)); /* a zero bar has no height */
    assert_true(hz == 0);
    assert_true(fabs(h[1] / h[0] - 2) < 0.01);
    assert_true(fabs(h[2] / h[0] - 4) < 0.01);
    /* All stand on the same baseline. */
    assert_true(fabs((y[0] + h[0]) - (y[2] + h[2])) < 0.01);
    /* Axis titles and ticks are there. */
    assert_non_null(strstr(svg, ">x (unit)</text>"));
    assert_non_null(strstr(svg, ">y (unit)</text>"));
    assert_non_null(strstr(svg, ">0</text>"));
    assert_non_null(strstr(svg, ">40</text>"));
    sr_free(svg);
}

static void test_log_scale(void **state) {
    (void)state;
    const double v[] = {10, 100, 1000, 0};
    sr_chart_series s = {.values = v};
    sr_chart c = {
        .kind = SR_CHART_BARS, .n_points = 4, .series = &s, .n_series = 1, .log_values = true};
    char *svg = render(&c);
    double h[3];
    for (int i = 0; i < 3; i++) assert_true(bar_attr(svg, i, "height", &h[i]));
    assert_true(fabs((h[1] - h[0]) - (h[2] - h[1])) < 0.02); /* equal steps per decade */
    assert_true(h[0] > 0);
    double extra;
    assert_false(bar_attr(svg, 3, "height", &extra)); /* 0 cannot be drawn on a log axis */
    assert_non_null(strstr(svg, ">1k</text>"));       /* decade ticks, compact */
    sr_free(svg);
}

static void test_escaping(void **state) {
    (void)state;
    const double v[] = {1, 2};
    const char *cats[] = {"<b>&", "it's \"q\""};
    sr_chart_series s = {.name = "<b>&", .values = v};
    sr_chart_series two[2] = {s, s};
    sr_chart c = {.kind = SR_CHART_BARS,
                  .title = "<b>&",
                  .subtitle = "a\x01"
                              "b \xff",
                  .x_label = "<b>&",
                  .n_points = 2,
                  .categories = cats,
                  .series = two,
                  .n_series = 2};
    char *svg = render(&c);
    assert_non_null(strstr(svg, "&lt;b&gt;&amp;"));
    assert_null(strstr(svg, "<b>"));
    assert_non_null(strstr(svg, "it&apos;s &quot;q&quot;"));
    assert_non_null(strstr(svg, ">a?b ?</text>")); /* control char and invalid UTF-8 */
    sr_free(svg);

    char *e = sr_svg_escape("<b>&", 4);
    assert_string_equal(e, "&lt;b&gt;&amp;");
    sr_free(e);
    e = sr_svg_escape("caf\xc3\xa9", 5); /* valid UTF-8 passes through */
    assert_string_equal(e, "caf\xc3\xa9");
    sr_free(e);
}

static void test_value_labels(void **state) {
    (void)state;
    const double v[] = {1200, 51234567, 7};
    const char *notes[] = {"first", NULL, "last"};
    sr_chart_series s = {.values = v};
    sr_chart c = {
        .kind = SR_CHART_BARS, .n_points = 3, .series = &s, .n_series = 1, .value_labels = true};
    char *svg = render(&c);
    assert_non_null(strstr(svg, ">1.2k</text>"));
    assert_non_null(strstr(svg, ">51.2M</text>"));
    assert_non_null(strstr(svg, ">7</text>"));
    /* Tooltips carry the full value. */
    assert_non_null(strstr(svg, ": 51,234,567</title>"));
    sr_free(svg);

    s.labels = notes;
    svg = render(&c);
    assert_non_null(strstr(svg, ">first</text>"));
    assert_non_null(strstr(svg, ">last</text>"));
    assert_null(strstr(svg, ">51.2M</text>"));
    sr_free(svg);
}

/* 100 bins "1".."99","100+" over 750 px: labels every 5th (1, 5, 10, ... 95, 100+). */
static void test_thinning(void **state) {
    (void)state;
    double v[100];
    char names[100][8];
    const char *cats[100];
    for (int i = 0; i < 100; i++) {
        v[i] = 1000.0 / (i + 1);
        snprintf(names[i], sizeof names[i], i == 99 ? "%d+" : "%d", i + 1);
        cats[i] = names[i];
    }
    sr_chart_series s = {.values = v};
    sr_chart c = {.kind = SR_CHART_BARS,
                  .n_points = 100,
                  .categories = cats,
                  .series = &s,
                  .n_series = 1,
                  .log_values = true,
                  .value_labels = true};
    char *svg = render(&c);
    assert_int_equal(count(svg, "<rect class=\"bar\""), 100);
    assert_non_null(strstr(svg, ">1</text>"));
    assert_non_null(strstr(svg, ">5</text>"));
    assert_non_null(strstr(svg, ">50</text>"));
    assert_non_null(strstr(svg, ">100+</text>"));
    assert_null(strstr(svg, ">2</text>"));
    assert_null(strstr(svg, ">99</text>"));
    /* Automatic value labels do not fit over 6 px bars: none drawn. */
    assert_int_equal(count(svg, "paint-order"), 0);
    sr_free(svg);
}

static void test_hbars(void **state) {
    (void)state;
    const double v[] = {0.5, 1.0, 0.25};
    const char *long_name = "a model with a very very very very very very very long name "
                            "that goes on and on and on and on";
    const char *cats[] = {long_name, "b", "c"};
    sr_chart_series s = {.values = v};
    sr_chart c = {.kind = SR_CHART_HBARS,
                  .title = "Leaderboard",
                  .n_points = 3,
                  .categories = cats,
                  .series = &s,
                  .n_series = 1,
                  .value_labels = true};
    char *svg = render(&c);
    double w[3];
    for (int i = 0; i < 3; i++) assert_true(bar_attr(svg, i, "width", &w[i]));
    assert_true(fabs(w[1] / w[0] - 2) < 0.01);
    assert_true(fabs(w[2] / w[0] - 0.5) < 0.01);
    assert_non_null(strstr(svg, "\xE2\x80\xA6</text>")); /* the long label is cut */
    assert_non_null(strstr(svg, ">0.5</text>"));
    sr_free(svg);
}

static void test_lines(void **state) {
    (void)state;
    const double x[] = {1, 3, 10, 30, 100};
    const double rmse[] = {0.91, 0.88, NAN, 0.87, 0.89};
    const double mae[] = {0.72, 0.70, 0.69, 0.69, 0.71};
    sr_chart_series s[2] = {{.name = "RMSE", .values = rmse}, {.name = "MAE", .values = mae}};
    sr_chart c = {.kind = SR_CHART_LINES,
                  .title = "Grid search",
                  .x_label = "factors",
                  .y_label = "error",
                  .n_points = 5,
                  .x = x,
                  .series = s,
                  .n_series = 2,
                  .log_x = true};
    char *svg = render(&c);
    assert_int_equal(count(svg, "<polyline"), 3); /* RMSE breaks at the NaN */
    assert_int_equal(count(svg, "<circle class=\"point\""), 9);
    assert_non_null(strstr(svg, ">RMSE</text>")); /* legend for two series */
    assert_non_null(strstr(svg, ">MAE</text>"));
    sr_free(svg);

    c.x = NULL;
    char *out = NULL;
    size_t n;
    assert_int_equal(sr_svg_render(&c, &out, &n), SR_E_USAGE);
    assert_null(out);
}

static void test_bad_charts(void **state) {
    (void)state;
    const double v[] = {1};
    sr_chart_series s = {.values = v, .color = "red\" onload=\"x"};
    sr_chart c = {.kind = SR_CHART_BARS, .n_points = 1, .series = &s, .n_series = 1};
    char *out = NULL;
    size_t n;
    assert_int_equal(sr_svg_render(&c, &out, &n), SR_E_USAGE); /* colour is not markup */
    s.color = NULL;
    c.width = 10;
    assert_int_equal(sr_svg_render(&c, &out, &n), SR_E_USAGE);
    c.width = 0;
    s.values = NULL;
    assert_int_equal(sr_svg_render(&c, &out, &n), SR_E_USAGE);
    /* An empty chart is still a document. */
    c.n_points = 0;
    c.n_series = 0;
    sr_free(render(&c));
}

static void test_format_compact(void **state) {
    (void)state;
    static const struct {
        double v;
        const char *s;
    } cases[] = {{0, "0"},        {7, "7"},         {0.8734, "0.873"},   {12.5, "12.5"},
                 {1200, "1.2k"},  {12500, "12.5k"}, {51234567, "51.2M"}, {999999, "1M"},
                 {1.5e9, "1.5G"}, {-2500, "-2.5k"}, {100, "100"},        {5874, "5.87k"}};
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sr_svg_format_compact(cases[i].v, buf, sizeof buf);
        assert_string_equal(buf, cases[i].s);
    }
}

static void test_save_atomic(void **state) {
    (void)state;
    char dir[] = "/tmp/songrec-test-svgdir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/chart.svg", dir);
    const double v[] = {3, 1};
    sr_chart_series s = {.values = v};
    sr_chart c = {
        .kind = SR_CHART_BARS, .title = "saved", .n_points = 2, .series = &s, .n_series = 1};
    sr_diag d = {{0}};
    assert_int_equal(sr_svg_save(&c, path, &d), SR_OK);
    assert_int_equal(sr_svg_save(&c, path, &d), SR_OK); /* replaces */

    char *want;
    size_t n;
    assert_int_equal(sr_svg_render(&c, &want, &n), SR_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *got = calloc(1, n + 2);
    assert_int_equal(fread(got, 1, n + 1, f), n);
    fclose(f);
    assert_memory_equal(got, want, n);
    free(got);
    sr_free(want);

    /* Only chart.svg is left: no temporary files. */
    DIR *dd = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(dd));)
        if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))) entries++;
    closedir(dd);
    assert_int_equal(entries, 1);

    /* A missing directory is an I/O error naming the file. */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/missing/chart.svg", dir);
    assert_int_equal(sr_svg_save(&c, bad, &d), SR_E_IO);
    assert_non_null(strstr(d.msg, "missing/chart.svg"));

    FILE *tf = tmpfile();
    assert_int_equal(sr_svg_write(&c, tf), SR_OK);
    assert_true(ftell(tf) > 100);
    fclose(tf);

    unlink(path);
    rmdir(dir);
}

static void test_out_of_memory(void **state) {
    (void)state;
    double v[30];
    for (int i = 0; i < 30; i++) v[i] = i * i;
    sr_chart_series s = {.name = "s", .values = v};
    sr_chart_series two[2] = {s, s};
    sr_chart c = {.kind = SR_CHART_BARS,
                  .title = "oom",
                  .n_points = 30,
                  .series = two,
                  .n_series = 2,
                  .value_labels = true};
    for (long k = 0;; k++) {
        char *out = NULL;
        size_t n;
        sr_mem_fail_after(k);
        sr_err e = sr_svg_render(&c, &out, &n);
        sr_mem_fail_after(-1);
        if (e == SR_OK) {
            sr_free(out);
            break;
        }
        assert_int_equal(e, SR_E_NOMEM);
        assert_null(out);
    }
    sr_mem_fail_after(0);
    char *e = sr_svg_escape("x", 1);
    sr_mem_fail_after(-1);
    assert_null(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bars_proportional),
        cmocka_unit_test(test_log_scale),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_value_labels),
        cmocka_unit_test(test_thinning),
        cmocka_unit_test(test_hbars),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_bad_charts),
        cmocka_unit_test(test_format_compact),
        cmocka_unit_test(test_save_atomic),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

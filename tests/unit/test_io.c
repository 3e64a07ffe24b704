/* Streams, line reading and inputs: plain, gzip, xz, zstd, tar and tar.zst members,
 * truncated streams, overlong lines, atomic output. Fixtures in tests/fixtures/io were
 * made with the gzip/xz/zstd/tar tools (see tests/fixtures/README.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/input.h"
#include "io/stream.h"
#include "util/mem.h"

static void expect_line(sr_stream *s, const char *want) {
    sr_str l;
    assert_int_equal(sr_lines_next(s, &l), SR_LINE_OK);
    assert_int_equal(l.n, strlen(want));
    assert_memory_equal(l.p, want, l.n);
}

static void test_lines_mem(void **state) {
    (void)state;
    const char *text = "a\r\n\nbb\nlast";
    sr_stream s;
    assert_int_equal(sr_stream_init_mem(&s, text, strlen(text)), SR_OK);
    expect_line(&s, "a");
    expect_line(&s, "");
    expect_line(&s, "bb");
    expect_line(&s, "last");
    assert_int_equal(s.line, 4);
    sr_str l;
    assert_int_equal(sr_lines_next(&s, &l), SR_LINE_END);
    sr_stream_deinit(&s);
}

static void test_line_too_long(void **state) {
    (void)state;
    size_t big = SR_MAX_LINE + 5000;
    char *text = malloc(big + 100);
    strcpy(text, "first\n");
    memset(text + 6, 'x', big);
    strcpy(text + 6 + big, "\nafter\n");
    sr_stream s;
    assert_int_equal(sr_stream_init_mem(&s, text, strlen(text)), SR_OK);
    expect_line(&s, "first");
    sr_str l;
    assert_int_equal(sr_lines_next(&s, &l), SR_LINE_TOO_LONG);
    assert_int_equal(s.line, 2);
    expect_line(&s, "after");
    assert_int_equal(s.line, 3);
    assert_int_equal(sr_lines_next(&s, &l), SR_LINE_END);
    sr_stream_deinit(&s);
    free(text);
}

static void test_peek_consume(void **state) {
    (void)state;
    const char *text = "hello world";
    sr_stream s;
    assert_int_equal(sr_stream_init_mem(&s, text, strlen(text)), SR_OK);
    const unsigned char *p;
    assert_int_equal(sr_stream_peek(&s, 5, &p), 11);
    assert_memory_equal(p, "hello", 5);
    sr_stream_consume(&s, 6);
    char buf[16] = {0};
    assert_int_equal(sr_stream_read(&s, buf, sizeof buf), 5);
    assert_string_equal(buf, "world");
    assert_int_equal(sr_stream_read(&s, buf, sizeof buf), 0);
    sr_stream_deinit(&s);
}

/* Reads every line of every member of path into one string joined by '|'. */
static int slurp(const char *path, char *out, size_t cap, int *members, bool *archive) {
    sr_input *in;
    sr_diag d = {{0}};
    sr_err e = sr_input_open(path, &in, &d);
    if (e) return e;
    sr_stream *s;
    const char *name;
    int r;
    out[0] = 0;
    *members = 0;
    while ((r = sr_input_next(in, &s, &name, &d)) == 1) {
        (*members)++;
        sr_str l;
        int k;
        while ((k = sr_lines_next(s, &l)) == SR_LINE_OK) {
            strncat(out, l.p, l.n < cap - strlen(out) - 2 ? l.n : 0);
            strcat(out, "|");
        }
        if (k < 0) {
            r = k;
            break;
        }
    }
    *archive = sr_input_is_archive(in);
    sr_input_close(in);
    return r;
}

static void test_compressed(void **state) {
    (void)state;
    const char *files[] = {"fixtures/io/lines.txt", "fixtures/io/lines.txt.gz",
                           "fixtures/io/lines.txt.xz", "fixtures/io/lines.txt.zst"};
    for (size_t i = 0; i < 4; i++) {
        char out[256];
        int members;
        bool archive;
        assert_int_equal(slurp(files[i], out, sizeof out, &members, &archive), 0);
        assert_string_equal(out, "line one|line two|line three|");
        assert_int_equal(members, 1);
        assert_false(archive);
    }
}

static void test_archives(void **state) {
    (void)state;
    const char *files[] = {"fixtures/io/dump.tar", "fixtures/io/dump.tar.zst"};
    for (size_t i = 0; i < 2; i++) {
        char out[256];
        int members;
        bool archive;
        assert_int_equal(slurp(files[i], out, sizeof out, &members, &archive), 0);
        assert_true(archive);
        /* COPYING, SCHEMA_SEQUENCE, 3.listens, 4.listens in name order */
        assert_int_equal(members, 4);
        assert_string_equal(out, "licence|1|a|b|c|");
    }
}

static void test_truncated(void **state) {
    (void)state;
    char out[256];
    int members;
    bool archive;
    /* Too short for libarchive to start: refused at open, as truncated. */
    int r = slurp("fixtures/io/seq-truncated.zst", out, sizeof out, &members, &archive);
    assert_int_equal(r, SR_E_TRUNCATED);
    r = slurp("fixtures/io/truncated.tar.zst", out, sizeof out, &members, &archive);
    assert_int_equal(r, SR_E_TRUNCATED);
    /* Cut in the middle of a long stream: the lines before the cut are read, then the
     * stream reports SR_E_TRUNCATED. */
    assert_int_equal(system("seq 1 2000000 | zstd -q -1 -c | head -c 1500000 "
                            "> /tmp/sr-test-cut.zst"),
                     0);
    sr_input *in;
    sr_diag d = {{0}};
    assert_int_equal(sr_input_open("/tmp/sr-test-cut.zst", &in, &d), SR_OK);
    sr_stream *s;
    const char *name;
    assert_int_equal(sr_input_next(in, &s, &name, &d), 1);
    sr_str l;
    int k;
    long lines = 0;
    while ((k = sr_lines_next(s, &l)) == SR_LINE_OK) lines++;
    assert_int_equal(k, SR_E_TRUNCATED);
    assert_true(lines > 1000);
    assert_non_null(strstr(s->err_diag.msg, "truncated"));
    sr_input_close(in);
    unlink("/tmp/sr-test-cut.zst");
}

static void test_missing_file(void **state) {
    (void)state;
    sr_input *in;
    sr_diag d = {{0}};
    assert_int_equal(sr_input_open("fixtures/io/nope", &in, &d), SR_E_IO);
    assert_non_null(strstr(d.msg, "fixtures/io/nope"));
}

static void test_atomic(void **state) {
    (void)state;
    char dir[] = "/tmp/sr-atomic-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    sr_afile f;
    sr_diag d = {{0}};
    assert_int_equal(sr_afile_open(&f, path, &d), SR_OK);
    assert_int_equal(sr_afile_write(&f, "hello", 5), SR_OK);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0); /* nothing under the final name yet */
    assert_int_equal(sr_afile_pwrite(&f, "J", 1, 0), SR_OK);
    assert_int_equal(sr_afile_commit(&f, &d), SR_OK);
    FILE *fp = fopen(path, "rb");
    char buf[8] = {0};
    assert_int_equal(fread(buf, 1, 8, fp), 5);
    fclose(fp);
    assert_string_equal(buf, "Jello");
    /* An aborted write leaves the old file and no temp file. */
    assert_int_equal(sr_afile_open(&f, path, &d), SR_OK);
    sr_afile_write(&f, "other", 5);
    sr_afile_abort(&f);
    fp = fopen(path, "rb");
    assert_int_equal(fread(buf, 1, 8, fp), 5);
    fclose(fp);
    assert_string_equal(buf, "Jello");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    /* Unwritable directory: a clear error. */
    assert_int_equal(sr_afile_open(&f, "/nonexistent-dir/x.srd", &d), SR_E_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_mem),    cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_peek_consume), cmocka_unit_test(test_compressed),
        cmocka_unit_test(test_archives),     cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_missing_file), cmocka_unit_test(test_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

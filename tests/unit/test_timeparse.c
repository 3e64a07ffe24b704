/* sr_time_parse and friends (util/timeparse.h): epoch seconds and milliseconds, ISO 8601
 * and SQL forms with zones and offsets, Last.fm display dates, invalid dates, leap years,
 * and the civil-date helpers. Expected values were computed with Python's
 * calendar.timegm, e.g. timegm((2018,1,1,0,0,0)) = 1514764800.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "util/timeparse.h"

static void ok(const char *s, int64_t want) {
    int64_t t = -12345;
    if (!sr_time_parse(sr_str_c(s), &t)) fail_msg("\"%s\" did not parse", s);
    if (t != want) fail_msg("\"%s\" gave %lld, want %lld", s, (long long)t, (long long)want);
}

static void bad(const char *s) {
    int64_t t;
    if (sr_time_parse(sr_str_c(s), &t)) fail_msg("\"%s\" parsed as %lld", s, (long long)t);
}

static void test_epoch(void **state) {
    (void)state;
    ok("1514764800", 1514764800);
    ok("  1514764800 ", 1514764800);
    ok("1514764800.999", 1514764800); /* fractions are truncated */
    ok("1514764800123", 1514764800);  /* > 10^11: milliseconds */
    ok("100000000000", 100000000000); /* exactly 10^11: still seconds */
    ok("100000000001", 100000000);
    ok("0", 0);
    ok("-5", -5);
    bad("");
    bad("   ");
    bad("-");
    bad("12a");
    bad("1e9");
    bad("99999999999999999999999"); /* overflow */
    int64_t t;
    assert_true(sr_time_parse_epoch(sr_str_c("1488721512"), &t) && t == 1488721512);
    assert_false(sr_time_parse_epoch(sr_str_c("2018-01-01"), &t));
    assert_false(sr_time_parse_epoch(sr_str_c("5 Mar 2017 13:45"), &t));
    /* Not NUL-terminated: only n bytes count. */
    sr_str s = {"1514764800999", 10};
    assert_true(sr_time_parse(s, &t) && t == 1514764800);
}

static void test_iso(void **state) {
    (void)state;
    ok("2018-01-01", 1514764800);
    ok("2018-01-01 00:00", 1514764800);
    ok("2018-01-01T00:00:00Z", 1514764800);
    ok("2008-11-02T21:14:05Z", 1225660445); /* Last.fm-1K */
    ok("2018-01-01T00:00:00.123456Z", 1514764800);
    ok("2018-01-01T00:00:00,5Z", 1514764800);
    ok("2017-03-05 13:45:12 UTC", 1488721512); /* BigQuery extract */
    ok("2017-03-05 13:45:12.123456 UTC", 1488721512);
    ok("2017-03-05 13:45:12", 1488721512); /* no zone: UTC */
    ok("2018-01-01T00:00:00+00:00", 1514764800);
    ok("2018-01-01T02:00:00+02:00", 1514764800);
    ok("2018-01-01T02:00:00+0200", 1514764800);
    ok("2018-01-01T02:00:00+02", 1514764800);
    ok("2017-12-31T18:30:00-05:30", 1514764800);
    ok("2018-01-01 01:00:00 +01:00", 1514764800);
    ok("2016-12-31T23:59:60Z", 1483228800); /* a leap second lands on the next second */
    ok("1970-01-01T00:00:00Z", 0);
    ok("1969-12-31T23:59:59Z", -1);
    ok("1900-01-01", -2208988800);
    ok("9999-12-31T23:59:59Z", 253402300799);
    bad("2018-01-01T00:00:00Zjunk");
    bad("2018-01-01Z");
    bad("2018-01-01T");
    bad("2018-01-01T5:00");
    bad("2018-1-01");
    bad("2018/01/01");
    bad("2018-01-01T00:00:00+5");
    bad("2018-01-01T00:00:00+24:00");
    bad("2018-01-01T00:00:00+02:60");
    bad("2018-01-01T00:00:00.Z");
    bad("2018-01-01T00:00:00 GMT");
    bad("1899-12-31");
    bad("10000-01-01");
}

static void test_invalid_dates(void **state) {
    (void)state;
    bad("2017-02-30");
    bad("2017-02-29"); /* not a leap year */
    bad("1900-02-29"); /* divisible by 100, not by 400 */
    ok("2000-02-29", 951782400);
    ok("2016-02-29", 1456704000);
    ok("2016-03-01", 1456790400);
    bad("2017-13-01");
    bad("2017-00-10");
    bad("2017-01-00");
    bad("2017-01-32");
    bad("2017-04-31");
    bad("2017-01-01T24:00:00Z");
    bad("2017-01-01T23:60:00Z");
    bad("2017-01-01T23:59:61Z");
    bad("31 Feb 2017 10:00");
    bad("29 Feb 2017 10:00");
    ok("29 Feb 2016 10:00", 1456740000);
}

static void test_lastfm(void **state) {
    (void)state;
    ok("05 Mar 2017 13:45", 1488721500);
    ok("5 Mar 2017 13:45", 1488721500);
    ok("05 Mar 2017, 13:45", 1488721500);
    ok("5 Mar 2017 9:05", 1488704700);
    ok(" 31 Dec 2008 23:59 ", 1230767940);
    bad("5 March 2017 13:45");
    bad("5 mar 2017 13:45");
    bad("5 Foo 2017 13:45");
    bad("123 Mar 2017 13:45");
    bad("5 Mar 17 13:45");
    bad("5 Mar 2017");
    bad("5 Mar 2017 13:45:10");
    bad("5 Mar 2017 24:00");
    bad("5 Mar 2017 13:60");
    bad("0 Mar 2017 13:45");
    bad("Mar 5 2017 13:45");
}

static void test_civil(void **state) {
    (void)state;
    assert_int_equal(sr_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(sr_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(sr_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(sr_days_from_civil(2018, 1, 1), 17532);
    char d[11], iso[21];
    sr_time_format_date(1514764800, d);
    assert_string_equal(d, "2018-01-01");
    sr_time_format_date(-1, d);
    assert_string_equal(d, "1969-12-31");
    sr_time_format_iso(1225660445, iso);
    assert_string_equal(iso, "2008-11-02T21:14:05Z");
    sr_time_format_iso(-1, iso);
    assert_string_equal(iso, "1969-12-31T23:59:59Z");
    sr_time_format_iso(951782400 + 86399, iso);
    assert_string_equal(iso, "2000-02-29T23:59:59Z");
    /* Round trip over a span of days, leap years included. */
    for (int64_t t = 946684800; t < 946684800 + 4 * 366 * 86400LL; t += 86400 + 3601) {
        int64_t back;
        sr_time_format_iso(t, iso);
        assert_true(sr_time_parse(sr_str_c(iso), &back));
        assert_true(back == t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch),         cmocka_unit_test(test_iso),
        cmocka_unit_test(test_invalid_dates), cmocka_unit_test(test_lastfm),
        cmocka_unit_test(test_civil),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

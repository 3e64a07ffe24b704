/* Timestamp parsing (timeparse.h). Hand-written rather than strptime: strptime depends
 * on the locale and time zone and is slow on the hot path of CSV ingest. Civil-date
 * arithmetic follows the well-known days-from-civil algorithm (era of 400 years). */
#include "util/timeparse.h"

#include <stdio.h>
#include <string.h>

int64_t sr_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void sr_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void sr_time_format_date(int64_t t, char out[11]) {
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t y;
    unsigned m, d;
    sr_civil_from_days(days, &y, &m, &d);
    char buf[64]; /* roomy: gcc cannot prove the fields' widths */
    snprintf(buf, sizeof buf, "%04d-%02u-%02u", (int)(y % 10000), m, d);
    memcpy(out, buf, 10);
    out[10] = 0;
}

void sr_time_format_iso(int64_t t, char out[21]) {
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    int64_t y;
    unsigned m, d;
    sr_civil_from_days(days, &y, &m, &d);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02u:%02u:%02uZ", (int)(y % 10000), m, d,
             (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
    memcpy(out, buf, 20);
    out[20] = 0;
}

/* Reads exactly n digits at *p. */
static bool digits(const char **p, const char *end, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*p >= end || (*p)[0] < '0' || (*p)[0] > '9') return false;
        v = v * 10 + ((*p)[0] - '0');
        (*p)++;
    }
    *out = v;
    return true;
}

static bool valid_date(int y, int m, int d) {
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return false;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return false;
    return true;
}

bool sr_time_parse_epoch(sr_str s, int64_t *out) {
    s = sr_str_trim(s);
    const char *p = s.p, *end = s.p + s.n;
    bool neg = false;
    if (p < end && *p == '-') neg = true, p++;
    if (p == end || *p < '0' || *p > '9') return false;
    int64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (*p++ - '0');
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p != end) return false;
    if (v > 100000000000LL) v /= 1000; /* milliseconds */
    *out = neg ? -v : v;
    return true;
}

static bool parse_iso(const char *p, const char *end, int64_t *out) {
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (!digits(&p, end, 4, &y) || p >= end || *p++ != '-' || !digits(&p, end, 2, &mo) ||
        p >= end || *p++ != '-' || !digits(&p, end, 2, &d))
        return false;
    if (!valid_date(y, mo, d)) return false;
    int64_t offset = 0;
    if (p < end && (*p == 'T' || *p == ' ')) {
        p++;
        if (!digits(&p, end, 2, &h) || p >= end || *p++ != ':' || !digits(&p, end, 2, &mi))
            return false;
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &se)) return false;
            if (p < end && (*p == '.' || *p == ',')) {
                p++;
                if (p >= end || *p < '0' || *p > '9') return false;
                while (p < end && *p >= '0' && *p <= '9') p++;
            }
        }
        if (h > 23 || mi > 59 || se > 60) return false;
        while (p < end && *p == ' ') p++;
        if (p < end && *p == 'Z')
            p++;
        else if (end - p == 3 && !memcmp(p, "UTC", 3))
            p += 3;
        else if (p < end && (*p == '+' || *p == '-')) {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (!digits(&p, end, 2, &oh)) return false;
            if (p < end && *p == ':') p++;
            if (p < end && !digits(&p, end, 2, &om)) return false;
            if (oh > 23 || om > 59) return false;
            offset = sign * (oh * 3600 + om * 60);
        }
    }
    if (p != end) return false;
    *out =
        sr_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - offset;
    return true;
}

static bool parse_lastfm(const char *p, const char *end, int64_t *out) {
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int d = 0, y, h, mi, nd = 0;
    while (p < end && *p >= '0' && *p <= '9' && nd < 2) d = d * 10 + (*p++ - '0'), nd++;
    if (!nd || p >= end || *p++ != ' ' || end - p < 3) return false;
    int mo = 0;
    for (int i = 0; i < 12; i++)
        if (!memcmp(p, months + 3 * i, 3)) mo = i + 1;
    if (!mo) return false;
    p += 3;
    if (p >= end || *p++ != ' ' || !digits(&p, end, 4, &y)) return false;
    if (p < end && *p == ',') p++;
    if (p >= end || *p++ != ' ') return false;
    int nh = 0;
    h = 0;
    while (p < end && *p >= '0' && *p <= '9' && nh < 2) h = h * 10 + (*p++ - '0'), nh++;
    if (!nh || p >= end || *p++ != ':' || !digits(&p, end, 2, &mi) || p != end) return false;
    if (!valid_date(y, mo, d) || h > 23 || mi > 59) return false;
    *out = sr_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60;
    return true;
}

bool sr_time_parse(sr_str s, int64_t *out) {
    s = sr_str_trim(s);
    if (!s.n) return false;
    if (sr_time_parse_epoch(s, out)) return true;
    const char *p = s.p, *end = s.p + s.n;
    if (s.n >= 10 && p[4] == '-') return parse_iso(p, end, out);
    return parse_lastfm(p, end, out);
}

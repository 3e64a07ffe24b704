/* Timestamp parsing for the input formats, all to Unix seconds UTC.
 *
 * Accepted forms (surrounding spaces ignored):
 *   integer seconds, or milliseconds when > 10^11 (some sources mix them); a fraction
 *   ("1514764800.123") is truncated;
 *   ISO 8601 / SQL: "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DDTHH:MM:SS",
 *   optional ".ffffff", then optional "Z", " UTC", "+00:00", "+HH:MM"/"-HH:MM" offsets;
 *   Last.fm display text: "5 Mar 2017 13:45" / "05 Mar 2017, 13:45".
 * Returns false when s is none of these or out of range (years 1900..9999).
 */
#ifndef SR_TIMEPARSE_H
#define SR_TIMEPARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/str.h"

bool sr_time_parse(sr_str s, int64_t *out);
/* Only the integer forms (seconds, or ms when > 10^11). */
bool sr_time_parse_epoch(sr_str s, int64_t *out);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t sr_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The inverse: the proleptic Gregorian date (*y, *m 1..12, *d 1..31) of day number
 * days (days since 1970-01-01, negative before). Howard Hinnant's civil_from_days:
 * constant time, a handful of divisions, no tables; the CSV generator calls it once
 * per listen day. */
void sr_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* Formats t as "YYYY-MM-DD" (11 bytes with NUL) / "YYYY-MM-DDTHH:MM:SSZ" (21 bytes). */
void sr_time_format_date(int64_t t, char out[11]);
void sr_time_format_iso(int64_t t, char out[21]);

#endif

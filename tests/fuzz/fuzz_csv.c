/* libFuzzer target for the "csv" reader (ingest/csv.c).
 *
 * Exercises header mapping, the delimiter choice, RFC 4180 quoting, lines joined for
 * embedded newlines and the push-back path taken when a quote never closes. An odd
 * first byte also applies a --columns mapping, so the override path is fuzzed too.
 * Seeds: tests/fuzz/corpus/csv (the csv fixtures plus a few quoting cases). */
#include "harness.h"

extern const sr_format sr_format_csv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *columns = size && (data[0] & 1) ? "user=a, artist=b,track=c,time=,count=e" : NULL;
    fuzz_read(&sr_format_csv, "fuzz", data, size, columns);
    return 0;
}

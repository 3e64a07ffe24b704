/* libFuzzer target: the ingest driver (ingest/ingest.c) over the input layer
 * (io/input.c: libarchive's archives and compressed streams), with format detection
 * across every reader of formats.def.
 *
 * The first byte of an input picks the file's name (its low 4 bits: an archive, a
 * compressed file, a ListenBrainz export or ZIP whose name carries the user, Spotify,
 * CSV, ratings, no extension ...) and whether --user is given (bit 4); the rest is the
 * file, written under /dev/shm and read by sr_ingest_paths as `songrec ingest` reads
 * it: members walked, metadata members skipped, user.json read, each member's format
 * detected from its name and first bytes, the reader run. Every accepted field's bytes
 * are touched (harness.h). Errors are expected; only crashes, leaks and UB are
 * findings. Seeds: tests/fuzz/corpus/ingest (the io fixtures, a ZIP export with
 * user.json, small files of each family; each seed's first byte names it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const NAMES[16] = {"fuzz.tar",
                                      "fuzz.zip",
                                      "fuzz.txt.gz",
                                      "fuzz.tar.zst",
                                      "fuzz.xz",
                                      "fuzz.listens",
                                      "fuzz.jsonl",
                                      "fuzz_lb-2020-01-01.json",
                                      "StreamingHistory0.json",
                                      "fuzz.csv",
                                      "fuzz.tsv",
                                      "fuzz",
                                      "listenbrainz_fuzz_1700000000.zip",
                                      "u.data",
                                      "ratings.dat",
                                      "scrobbles.csv"};

static char dir[64];

static void remove_dir(void) {
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/sr-fuzz-ingest-%d", (int)getpid());
        if (mkdir(dir, 0700)) abort();
        atexit(remove_dir);
    }
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, NAMES[data[0] & 15]);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    sr_ingest_opts o = {
        .read = {.user = data[0] & 16 ? "fuzz" : NULL, .min_ms_played = 30000, .now = 1750000000}};
    sr_read_stats st = {0};
    sr_diag d = {{0}};
    char *paths[1] = {path};
    (void)sr_ingest_paths(paths, 1, &o, touch_all, NULL, &st, &d);
    unlink(path);
    return 0;
}

#!/usr/bin/env bash
# Compares songrec's ListenBrainz line scanner with jansson, json-c, yajl and cJSON on
# generated dump lines (bench/json_parsers.c). Not part of the default build; needs the
# -dev packages of the four libraries. Usage: bench/json_parsers.sh [n_lines]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"
cc=${CC:-cc}
src="src/util/str.c src/util/timeparse.c src/util/mem.c src/util/err.c src/util/log.c
     src/io/stream.c src/ingest/reader.c src/ingest/lb_scan.c src/ingest/json_array.c
     src/ingest/lb_jsonl.c src/ingest/lb_json.c"
flags="-std=c11 -O2 -g ${BENCH_CFLAGS:-} -D_GNU_SOURCE -Isrc -Isrc/util"
# json-c's headers clash with jansson's: its part is compiled on its own.
# shellcheck disable=SC2046,SC2086
$cc $flags -DSR_BENCH_JSONC $(pkg-config --cflags json-c) -c bench/json_parsers.c \
    -o "$out/json_parsers_jsonc.o"
# shellcheck disable=SC2046,SC2086
$cc $flags $(pkg-config --cflags jansson yajl libcjson) -o "$out/json_parsers" \
    bench/json_parsers.c "$out/json_parsers_jsonc.o" $src \
    $(pkg-config --libs jansson json-c yajl libcjson) -lm
"$out/json_parsers" "${1:-1000000}"

#!/usr/bin/env bash
# bench/rec_speed.sh MODEL.srm [N_RATED] [REPS] — in-process recommend and search latency
# on a trained model (driver bench/rec_speed.c, linked against the release library).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
[ "${NO_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -O2 -g -D_GNU_SOURCE -Isrc -o "$OUT/rec_speed" bench/rec_speed.c build/libsongrec_core.a \
    $(pkg-config --libs libarchive libutf8proc libxxhash jansson libzstd libmicrohttpd sqlite3) -lpthread -lm
"$OUT/rec_speed" "$@"

#!/usr/bin/env bash
# bench/growth.sh — the growth curve of the scale run (issue 7): bench/scale.sh at 1/8,
# 1/4, 1/2 and the full size (SCALES to change), then bench/growth_plot draws time and
# peak RSS of every step against listens into bench/growth-time.svg and
# bench/growth-memory.svg and prints seconds per million listens at each size.
# Takes about twice the full run (~30 minutes on 2 cores). Environment: SCALES, OUT,
# NO_BUILD=1, REUSE=1 (plot the tables already in $OUT without running).
set -euo pipefail
cd "$(dirname "$0")/.."
SCALES=${SCALES:-0.125 0.25 0.5 1}
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
[ "${NO_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Isrc -o "$OUT/growth_plot" bench/growth_plot.c \
    build/libsongrec_core.a $(pkg-config --libs libarchive libutf8proc libxxhash jansson libzstd \
    libmicrohttpd sqlite3) -lpthread -lm
tables=()
for s in $SCALES; do
  [ "${REUSE:-0}" = 1 ] || SCALE=$s NO_BUILD=1 DUR=${DUR:-10} bench/scale.sh
  tables+=("$OUT/scale-$s.tsv")
done
"$OUT/growth_plot" bench "${tables[@]}" | tee "$OUT/growth.tsv"

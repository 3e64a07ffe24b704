#!/usr/bin/env bash
# bench/implicit.sh — the implicit-feedback models' speed (issue 6) on the origin-scale
# aggregated set (12.8 M (user, song) pairs over 1 M songs, generated), 2 threads:
#   ALS 64 factors x 15 iterations (target under 60 s), with the machine's FMA peak;
#   BPR 64 factors (target >= 20 M samples/s), ItemKNN's neighbour lists, BPR fold-in;
#   the ranking comparison of every implicit model against popularity on the
#   origin-shaped 10,000-song set of bench/foldin.sh.
# Drivers: bench/implicit_als.c, bench/implicit_bpr.c. Results in $OUT/implicit.tsv.
# Environment: OUT (bench/out), REPS (3), SMALL=1 for a 1/10 size run (minutes less).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
REPS=${REPS:-3}
mkdir -p "$OUT"
[ "${NO_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
libs=$(pkg-config --libs libarchive libutf8proc libxxhash jansson libzstd libmicrohttpd sqlite3)
for d in implicit_als implicit_bpr; do
  # shellcheck disable=SC2086
  ${CC:-cc} -std=c11 -O2 -g -D_GNU_SOURCE -Isrc -o "$OUT/$d" "bench/$d.c" build/libsongrec_core.a \
      $libs -lpthread -lm
done
U=24580 S=1000000 N=12800000
[ "${SMALL:-0}" = 1 ] && U=2458 S=100000 N=1280000
tsv=$OUT/implicit.tsv
{
  echo "# $(date -u +%FT%TZ) $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?), load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$OUT/implicit_als" fma
  "$OUT/implicit_als" als "$U" "$S" "$N" 2 "$REPS"
  "$OUT/implicit_bpr" bpr "$U" "$S" "$N" 2 5 "$REPS"
  "$OUT/implicit_bpr" itemknn "$U" "$S" "$N" 2 1
  "$OUT/implicit_bpr" foldin "$U" "$S" "$N" 100
  data=$OUT/foldin.srd
  if [ ! -f "$data" ]; then
    build/songrec generate -q --users 2500 --songs 40000 --listens 4M --seed 11 -o "$OUT/foldin.jsonl.zst"
    build/songrec ingest -q "$OUT/foldin.jsonl.zst" --top-songs 10000 -o "$data"
  fi
  build/songrec evaluate "$data" --task ranking --algo als,bpr,itemknn,popularity,svd --k 10 --threads 2
  build/songrec gridsearch "$data" --task ranking --algo als --grid alpha=1,5,40 \
      --grid transform=linear,log --refit-measure ndcg@10 --threads 2
} 2>&1 | tee "$tsv"

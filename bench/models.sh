#!/usr/bin/env bash
# bench/models.sh — rating-model speed (issue: SVD and cross-validation targets).
#
#   (a) SVD fit time and updates/s (ratings x epochs / s), k 150, 20 epochs, threads 1
#       and 2, median of REPS runs, on two generated play-count sets (bench/models_speed.c):
#       2,458 users x 10,000 songs x 1.28 M ratings and 24,580 x 1 M x 12.8 M;
#   (b) the machine's ceilings for SGD on the same sets (streaming read, row latency,
#       the update's memory traffic alone in user and item order);
#   (c) MovieLens 100k 5-fold CV: SVD alone and every algorithm (skipped when
#       ../shared/data/ml-100k/u.data, or $ML100K, is absent);
#   (d) the origin's 3x3 SVD grid (n_factors 50,100,150 x reg_all 0.05,0.1,0.15), 5-fold
#       CV on the 1.28 M set, as 9 `songrec evaluate` runs and, where the build has it,
#       as one `songrec gridsearch` run.
# Results go to $OUT/models.tsv (one line per figure) and stdout. About 5 minutes.
#
# Environment: OUT (default bench/out), BIN (default build/songrec; built by `make build`
#   unless NO_BUILD=1), REPS (default 3), BIG=0 to skip the 12.8 M set, ML100K.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
BIN=${BIN:-build/songrec}
REPS=${REPS:-3}
BIG=${BIG:-1}
ML100K=${ML100K:-../shared/data/ml-100k/u.data}
mkdir -p "$OUT"
[ "${NO_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
lib=$(dirname "$BIN")/libsongrec_core.a
cc=${CC:-cc}
# shellcheck disable=SC2046
$cc -std=c11 -O2 -g -D_GNU_SOURCE -Isrc -o "$OUT/models_speed" bench/models_speed.c "$lib" \
    $(pkg-config --libs libarchive libutf8proc libxxhash jansson libzstd) -lpthread -lm
drv=$OUT/models_speed
tsv=$OUT/models.tsv
: > "$tsv"
say() { printf '%s\n' "$*" | tee -a "$tsv"; }
clock() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

say "# $(date -u +%FT%TZ) $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?), load average $(cut -d" " -f1-3 /proc/loadavg)"
# (a) + (b)
for t in 1 2; do say "$("$drv" svd 2458 10000 1280000 "$t" "$REPS")"; done
say "$("$drv" ceiling 2458 10000 1280000)"
if [ "$BIG" = 1 ]; then
  for t in 1 2; do say "$("$drv" svd 24580 1000000 12800000 "$t" "$REPS")"; done
  say "$("$drv" ceiling 24580 1000000 12800000)"
fi

# (c) MovieLens 100k
if [ -r "$ML100K" ]; then
  "$BIN" ingest -q --format ratings "$ML100K" -o "$OUT/ml100k.srd"
  total=0
  for algo in $("$BIN" evaluate --list-algos | awk '/^[a-z]/ {print $1}'); do
    t0=$(clock)
    rmse=$("$BIN" evaluate "$OUT/ml100k.srd" --algo "$algo" --cv 5 --json |
           python3 -c "import json, sys; print(json.load(sys.stdin)['rmse']['mean'])")
    s=$(secs "$t0" "$(clock)")
    total=$(python3 -c "print(f'{$total + $s:.2f}')")
    say "ml100k_cv5	algo=$algo	wall_s=$s	rmse=$rmse"
  done
  say "ml100k_cv5	algo=all	wall_s=$total"
else
  say "ml100k_cv5	skipped: $ML100K not found"
fi

# (d) the 3x3 grid on the 1.28 M set
"$drv" write 2458 10000 1280000 "$OUT/ratings1m.tsv" >/dev/null
"$BIN" ingest -q --format ratings "$OUT/ratings1m.tsv" -o "$OUT/ratings1m.srd"
g0=$(clock)
for k in 50 100 150; do
  for reg in 0.05 0.1 0.15; do
    t0=$(clock)
    rmse=$("$BIN" evaluate "$OUT/ratings1m.srd" --algo svd --param n_factors=$k \
             --param reg_all=$reg --cv 5 --json |
           python3 -c "import json, sys; print(json.load(sys.stdin)['rmse']['mean'])")
    say "grid_cv5	n_factors=$k	reg_all=$reg	wall_s=$(secs "$t0" "$(clock)")	rmse=$rmse"
  done
done
say "grid_cv5	evaluate_x9_total_wall_s=$(secs "$g0" "$(clock)")"
if "$BIN" gridsearch --help >/dev/null 2>&1; then
  t0=$(clock)
  "$BIN" gridsearch "$OUT/ratings1m.srd" --algo svd --grid n_factors=50,100,150 \
      --grid reg_all=0.05,0.1,0.15 --cv 5 > "$OUT/gridsearch.txt"
  say "grid_cv5	gridsearch_wall_s=$(secs "$t0" "$(clock)")"
else
  say "grid_cv5	gridsearch: no 'songrec gridsearch' in this build"
fi
rm -f "$OUT/ratings1m.tsv"

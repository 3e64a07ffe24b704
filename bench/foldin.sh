#!/usr/bin/env bash
# bench/foldin.sh — fold-in against retraining, and fold-in speed (issue 4).
#
# Generates an origin-shaped set (songrec generate, ingest keeping the top 10,000 songs:
# about 2,500 users and 1.3 M ratings), then runs bench/foldin.c for SVD(150, reg 0.1):
# K test listeners of 10 ratings each, folded into a model trained without them, against
# the model retrained with them (as the origin did on every click): top-10 overlap and
# Spearman correlation of the predictions; then the in-process time of fold-in + top-10.
# Other algorithms: ALGOS="svd knn_with_means ..." (each with its defaults but SVD's).
# Results in $OUT/foldin.tsv and stdout. Environment: OUT (bench/out), K (20), NR (10).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
K=${K:-20}
NR=${NR:-10}
ALGOS=${ALGOS:-svd}
mkdir -p "$OUT"
[ "${NO_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
BIN=build/songrec
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -O2 -g -D_GNU_SOURCE -Isrc -o "$OUT/foldin" bench/foldin.c build/libsongrec_core.a \
    $(pkg-config --libs libarchive libutf8proc libxxhash jansson libzstd libmicrohttpd sqlite3) -lpthread -lm
data=$OUT/foldin.srd
if [ ! -f "$data" ]; then
  $BIN generate -q --users 2500 --songs 40000 --listens 4M --seed 11 -o "$OUT/foldin.jsonl.zst"
  $BIN ingest -q "$OUT/foldin.jsonl.zst" --top-songs 10000 -o "$data"
fi
{
  echo "# $(date -u +%FT%TZ) $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
  for a in $ALGOS; do
    if [ "$a" = svd ]; then
      "$OUT/foldin" "$data" svd "$K" "$NR" n_factors=150 reg_all=0.1
    else
      "$OUT/foldin" "$data" "$a" "$K" "$NR"
    fi
  done
} | tee "$OUT/foldin.tsv"

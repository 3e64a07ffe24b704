#!/usr/bin/env bash
# Regenerates the fuzz_srm seed corpus's named models (tests/fuzz/corpus/srm/*.srm; the
# 40-hex-digit files there are libFuzzer's merged finds and stay) from a tiny generated
# dataset: one model per loader path worth fuzzing — factors in f32 and f16 (svd, als),
# BPR (plain and weighted), ALS with BM25 (its corpus section), item-based k-NN (ItemKNN),
# session neighbours and user-based k-NN, popularity, and a model with an
# evaluation section (svdpp --cv). Run it whenever a model's parameters or sections
# change: a seed the loader refuses only fuzzes the refusal.
# Usage: tests/fuzz/srm_seeds.sh PATH/TO/songrec   (from the repository root)
set -euo pipefail
BIN=$1
OUT=tests/fuzz/corpus/srm
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BIN" generate -q --users 12 --songs 30 --listens 300 --seed 3 -o "$T/t.jsonl"
"$BIN" ingest -q "$T/t.jsonl" --keep-listens -o "$T/t.srd" > /dev/null
train() { # NAME ARGS...: trains into $OUT/NAME.srm
  local name=$1
  shift
  "$BIN" train -q "$T/t.srd" --seed 1 "$@" -o "$OUT/$name.srm" > /dev/null
}
train svd --algo svd --param n_factors=4 --param n_epochs=5
train svd_f16 --algo svd --param n_factors=4 --param n_epochs=5 --precision f16
train svdpp_cv --algo svdpp --param n_factors=2 --param n_epochs=2 --cv 2
train knn_basic --algo knn_basic --param k=5
train als --algo als --param factors=4 --param iterations=2
train als_f16 --algo als --param factors=4 --param iterations=2 --precision f16
train bpr --algo bpr --param factors=4
train itemknn --algo itemknn --param k=5
train popularity --algo popularity
train sessions --algo sessions --param k=5
train bpr_log --algo bpr --param factors=4 --param transform=log
train als_bm25 --algo als --param factors=4 --param iterations=2 --param transform=bm25
ls -l "$OUT"/*.srm

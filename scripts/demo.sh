#!/usr/bin/env bash
# `make demo`: generate a sample listening history, ingest it and describe it.
# Usage: scripts/demo.sh SONGREC_BINARY OUTPUT_DIR
set -euo pipefail
bin=${1:-build/songrec}
dir=${2:-demo-data}
mkdir -p "$dir"
echo "== generating a sample ListenBrainz-style history (seed 42)"
"$bin" generate --users 500 --songs 20000 --listens 300000 --seed 42 -o "$dir/listens.jsonl.zst"
echo "== ingesting it into $dir/listens.srd"
"$bin" ingest "$dir/listens.jsonl.zst" -o "$dir/listens.srd"
echo "== describing the dataset (charts in $dir/charts)"
"$bin" stats "$dir/listens.srd" --plot "$dir/charts"

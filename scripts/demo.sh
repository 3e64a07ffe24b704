#!/usr/bin/env bash
# `make demo`: the whole job on a sample — generate a listening history, ingest it keeping
# the top songs (as the origin did), describe it, train the origin's SVD(150 factors,
# reg 0.1) with a 5-fold cross-validation kept in the model, and serve the web page and
# the JSON API until Ctrl-C.
# Usage: scripts/demo.sh SONGREC_BINARY OUTPUT_DIR
# Environment: PORT (default 8080; 0 = any free port), BIND (default 127.0.0.1),
#              NO_SERVE=1 to stop after training.
set -euo pipefail
bin=${1:-build/songrec}
dir=${2:-demo-data}
port=${PORT:-8080}
mkdir -p "$dir"
echo "== generating a sample ListenBrainz-style history (seed 42)"
"$bin" generate --users 1000 --songs 20000 --listens 400000 --seed 42 -o "$dir/listens.jsonl.zst"
echo "== ingesting it into $dir/listens.srd (the 5,000 most played songs)"
"$bin" ingest "$dir/listens.jsonl.zst" --top-songs 5000 -o "$dir/listens.srd"
echo "== describing the dataset (charts in $dir/charts)"
"$bin" stats "$dir/listens.srd" --plot "$dir/charts"
echo "== training SVD(n_factors=150, reg_all=0.1), 5-fold cross-validated first"
"$bin" train "$dir/listens.srd" --algo svd --param n_factors=150 --param reg_all=0.1 \
    --cv 5 --threads "$(nproc)" -o "$dir/model.srm"
echo "== the About view's data: statistics and the origin's 3x3 grid search (3-fold)"
mkdir -p "$dir/about"
"$bin" stats "$dir/listens.srd" --json > "$dir/about/stats.json"
"$bin" gridsearch "$dir/listens.srd" --algo svd --grid n_factors=50,100,150 \
    --grid reg_all=0.05,0.1,0.15 --cv 3 --threads "$(nproc)" --json > "$dir/about/gridsearch.json"
[ "${NO_SERVE:-0}" = 1 ] && exit 0
echo "== serving $dir/model.srm (profiles in $dir/profiles.db); Ctrl-C stops it"
exec "$bin" serve "$dir/model.srm" --port "$port" --bind "${BIND:-127.0.0.1}" \
    --db "$dir/profiles.db" --about "$dir/about"

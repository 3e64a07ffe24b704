#!/usr/bin/env bash
# bench/surprise_parity.sh — every rating model, defaults, 5-fold CV on MovieLens 100k,
# beside the Surprise library's published RMSE / MAE (which a re-run of Surprise 1.1.4 on
# this kind of machine reproduced). Target: each within 0.01 RMSE.
# Uses ../shared/data/ml-100k/u.data when present (DATA=path to override); skips with a
# message when absent. BIN defaults to build/songrec. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/songrec}
DATA=${DATA:-../shared/data/ml-100k/u.data}
SEED=${SEED:-0}
if [ ! -f "$DATA" ]; then
  echo "surprise_parity: $DATA not found; skipped (MovieLens 100k is not shipped with songrec)"
  exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BIN" ingest -q --format ratings "$DATA" -o "$T/ml100k.srd"
# Surprise's table for ml-100k: class, RMSE, MAE
ref="SVD 0.934 0.737
SVDpp 0.919 0.721
NMF 0.963 0.758
SlopeOne 0.946 0.743
KNNBasic 0.980 0.774
KNNWithMeans 0.951 0.749
KNNWithZScore 0.951 0.746
KNNBaseline 0.931 0.733
CoClustering 0.963 0.753
BaselineOnly 0.944 0.748
NormalPredictor 1.518 1.219"
echo "| algorithm | RMSE | Surprise RMSE | ΔRMSE | MAE | Surprise MAE | fit s (mean) | test s (mean) | within 0.01 |"
echo "|---|---|---|---|---|---|---|---|---|"
fails=0
while read -r cls rmse mae; do
  if ! "$BIN" evaluate "$T/ml100k.srd" --algo "$cls" --cv 5 --seed "$SEED" --json > "$T/out.json" 2> "$T/err"; then
    echo "| $cls | — | $rmse | | — | $mae | | | not available: $(head -c 80 "$T/err") |"
    continue
  fi
  python3 - "$cls" "$rmse" "$mae" "$T/out.json" <<'PY' || fails=$((fails + 1))
import json, sys
cls, rmse, mae, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
d = json.load(open(path))
r, m = d["rmse"]["mean"], d["mae"]["mean"]
ok = abs(r - rmse) <= 0.01
print(f"| {cls} | {r:.3f} | {rmse:.3f} | {r - rmse:+.3f} | {m:.3f} | {mae:.3f} | "
      f"{d['fit_time']['mean']:.3f} | {d['test_time']['mean']:.3f} | {'yes' if ok else 'NO'} |")
sys.exit(0 if ok else 1)
PY
done <<< "$ref"
[ "$fails" -eq 0 ] || { echo "surprise_parity: $fails algorithm(s) outside 0.01 RMSE" >&2; exit 1; }

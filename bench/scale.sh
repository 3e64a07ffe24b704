#!/usr/bin/env bash
# bench/scale.sh — the end-to-end scale run (issue 7): every stage at a given size, with
# its wall time, peak RSS and throughput, on this machine.
#
#   1. generate LISTENS listens (ListenBrainz JSON lines, zstd) over SONGS songs;
#   2. ingest them all into a dataset (.srd), and the top TOP songs into another; stats;
#   3. train the origin's SVD(150 factors, reg 0.1) on the top songs, ALS(64) on all;
#   4. evaluate: SVD's RMSE/MAE on a held-out 20 % (`evaluate --split shuffle`), NDCG@10
#      of both on a time split (`evaluate --task ranking --test-after CUT`);
#   5. save both models in f32 and f16 and report the file sizes;
#   6. serve the all-songs ALS model and measure recommend and search latency with wrk.
#
# SCALE sets the size as a fraction of the full run (149 M listens, 4.66 M songs, the top
# 1 M for SVD): SCALE=1 is the full run (targets: under 20 minutes, peak RSS under 16 GB
# at every step), SCALE=0.05 the small variant `make bench-scale-small` runs (minutes).
# Results: one line per step in $OUT/scale-$SCALE.tsv (step, seconds, peak RSS MiB, what).
# Environment: SCALE (default 0.05), OUT (bench/out), DUR (wrk seconds, default 10),
# THREADS (default nproc), NO_BUILD=1, KEEP=1 to keep the generated files.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-0.05}
OUT=${OUT:-bench/out}
DUR=${DUR:-10}
THREADS=${THREADS:-$(nproc)}
mkdir -p "$OUT"
[ "${NO_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
scripts/deps.sh bench
BIN=build/songrec
num() { python3 -c "import sys; print(int(round(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"; }
LISTENS=$(num 149000000)
SONGS=$(num 4660000)
USERS=$(num 160000)
TOP=$(num 1000000)
W=$OUT/scale-$SCALE
mkdir -p "$W"
tsv=$OUT/scale-$SCALE.tsv
: > "$tsv"
say() { printf '%s\n' "$*" | tee -a "$tsv"; }
# step NAME WHAT -- command...: runs it under /usr/bin/time, records seconds and peak RSS
step() {
  local name=$1 what=$2; shift 3
  local t0 t1 rss
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$W/rss" "$@" > "$W/$name.out" 2> "$W/$name.err" || {
    echo "scale: step $name failed:" >&2; tail -5 "$W/$name.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  rss=$(( $(tail -1 "$W/rss") / 1024 ))
  say "$(printf '%s\t%.1f\t%d\t%s' "$name" "$(echo "$t1 - $t0" | bc)" "$rss" "$what")"
}
say "# $(date -u +%FT%TZ) $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?), SCALE=$SCALE: $LISTENS listens, $SONGS songs, $USERS users, top $TOP"
say "# step	seconds	peak_rss_MiB	what"

step generate "$LISTENS listens, zstd JSON lines" -- \
  "$BIN" generate -q --users "$USERS" --songs "$SONGS" --listens "$LISTENS" --seed 7 \
  -o "$W/listens.jsonl.zst"
step ingest_all "every listen" -- "$BIN" ingest -q "$W/listens.jsonl.zst" -o "$W/all.srd"
step ingest_top "the top $TOP songs" -- \
  "$BIN" ingest -q "$W/listens.jsonl.zst" --top-songs "$TOP" -o "$W/top.srd"
step stats "stats of everything" -- "$BIN" stats "$W/all.srd" --json
python3 - "$W/stats.out" <<'PY' | tee -a "$tsv"
import json, sys
d = json.load(open(sys.argv[1]))
print(f"# dataset: {d.get('users')} users, {d.get('songs')} songs, {d.get('pairs')} pairs")
PY
step train_svd "SVD(150, reg 0.1) on the top songs, f32" -- \
  "$BIN" train -q "$W/top.srd" --algo svd --param n_factors=150 --param reg_all=0.1 \
  --threads "$THREADS" -o "$W/svd.srm"
step train_svd16 "the same, f16" -- \
  "$BIN" train -q "$W/top.srd" --algo svd --param n_factors=150 --param reg_all=0.1 \
  --threads "$THREADS" --precision f16 -o "$W/svd16.srm"
step train_als "ALS(64) on every song, f32" -- \
  "$BIN" train -q "$W/all.srd" --algo als --param factors=64 --param alpha=1 \
  --param transform=log --threads "$THREADS" -o "$W/als.srm"
step train_als16 "the same, f16" -- \
  "$BIN" train -q "$W/all.srd" --algo als --param factors=64 --param alpha=1 \
  --param transform=log --threads "$THREADS" --precision f16 -o "$W/als16.srm"
for m in svd svd16 als als16; do
  say "# file $m.srm: $(stat -c %s "$W/$m.srm") bytes ($(( $(stat -c %s "$W/$m.srm") / 1048576 )) MiB)"
done
step eval_svd_rmse "SVD RMSE/MAE, 20 % held out (two random splits)" -- \
  "$BIN" evaluate "$W/top.srd" --algo svd --param n_factors=150 --param reg_all=0.1 \
  --split shuffle --test-size 0.2 --cv 2 --threads "$THREADS" --json
CUT=2016-01-01
step eval_rank "NDCG@10 of SVD(150) and ALS(64) on every song, time split at $CUT" -- \
  "$BIN" evaluate "$W/all.srd" --task ranking --algo svd,als --param svd.n_factors=150 \
  --param svd.reg_all=0.1 --param als.factors=64 --param als.alpha=1 --param als.transform=log \
  --test-after "$CUT" --max-users 2000 --threads "$THREADS" --json
python3 - "$W/eval_svd_rmse.out" "$W/eval_rank.out" <<'PY' | tee -a "$tsv"
import json, sys
e = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2]))
print(f"# SVD held-out RMSE {e['rmse']['mean']:.4f}, MAE {e['mae']['mean']:.4f}")
for m in r["models"]:
    print(f"# {m['algo']}: NDCG@10 {m['ndcg']:.4f}, precision {m['precision']:.4f}, {m['users']} listeners")
PY

# serve the all-songs ALS model (f16), then wrk
rm -f "$W/serve.db"*
"$BIN" serve "$W/als16.srm" --port 0 --rate-limit 0 --db "$W/serve.db" > "$W/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
url=
for _ in $(seq 600); do
  url=$(grep -o 'http://[0-9.:]*/' "$W/serve.log" || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "scale: the server did not start" >&2; cat "$W/serve.log" >&2; exit 1; }
n=$(curl -s "${url}api/model" | python3 -c "import json,sys; print(json.load(sys.stdin)['sizes']['songs'])")
curl -s "${url}api/search?q=a&kind=song&limit=500" | python3 -c "
import json, sys
qs = []
for h in json.load(sys.stdin)['hits']:
    a, t = h['artist'], h['track']
    qs += [a[:1], a[:2], a[:3], (a.split()[0][:6] + ' ' + t[:3]).strip()]
print('\n'.join(q for q in qs if q.strip()))" > "$W/queries.txt"
r=$(N_SONGS=$n wrk -t1 -c1 -d"${DUR}s" --latency -s bench/wrk/recommend.lua "$url" | grep '^RESULT' | cut -f2-)
say "serve_recommend	-	-	ALS(64) f16, $n songs, 1 connection: $r"
r=$(QUERIES=$W/queries.txt wrk -t1 -c1 -d"${DUR}s" --latency -s bench/wrk/search.lua "$url" | grep '^RESULT' | cut -f2-)
say "serve_search	-	-	1 connection: $r"
say "serve_rss	-	$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")	the server's peak RSS"
kill $pid
[ "${KEEP:-0}" = 1 ] || rm -f "$W/listens.jsonl.zst"

#!/usr/bin/env bash
# bench/serve.sh — the server under load (issue 4), with wrk.
#
#   (a) the origin's setting: SVD(150 factors, reg 0.1) on the top 10,000 songs of a
#       generated origin-shaped set (the set bench/foldin.sh makes), POST /api/recommend
#       with a new random 10-song listener per request: requests/s and latency at a
#       few connection counts;
#   (b) a 1,000,000-song model (MODEL1M, default bench/out/big1m_f16.srm, made as in
#       BENCHMARKS.md "Model files"; skipped when absent): recommend and search latency;
#   (c) the server's peak RSS against the model file's size.
# wrk and the server share the machine's cores. Results in $OUT/serve.tsv and stdout.
# Environment: OUT (bench/out), DUR (seconds per run, default 15), MODEL1M.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
DUR=${DUR:-15}
MODEL1M=${MODEL1M:-$OUT/big1m_f16.srm}
mkdir -p "$OUT"
scripts/deps.sh bench
[ "${NO_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
BIN=build/songrec
tsv=$OUT/serve.tsv
: > "$tsv"
say() { printf '%s\n' "$*" | tee -a "$tsv"; }
say "# $(date -u +%FT%TZ) $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"

data=$OUT/foldin.srd
if [ ! -f "$data" ]; then
  $BIN generate -q --users 2500 --songs 40000 --listens 4M --seed 11 -o "$OUT/foldin.jsonl.zst"
  $BIN ingest -q "$OUT/foldin.jsonl.zst" --top-songs 10000 -o "$data"
fi
m10k=$OUT/serve10k.srm
[ -f "$m10k" ] || $BIN train -q "$data" --algo svd --param n_factors=150 --param reg_all=0.1 -o "$m10k"

pid=
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
trap stop EXIT
# serve MODEL: starts the server on a free port, sets $url and $pid.
serve() {
  rm -f "$OUT/serve.db"*
  $BIN serve "$1" --port 0 --rate-limit 0 --db "$OUT/serve.db" > "$OUT/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    url=$(grep -o 'http://[0-9.:]*/' "$OUT/serve.log" || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "server did not start" >&2; cat "$OUT/serve.log" >&2; exit 1; }
}
peak_rss() { awk '/VmHWM/ {print $2 / 1024 " MiB"}' "/proc/$pid/status"; }
run() { # run LABEL CONNECTIONS SCRIPT [env...]
  local label=$1 c=$2 script=$3
  local r
  local t=2; [ "$c" -lt 2 ] && t=1
  r=$(wrk -t"$t" -c"$c" -d"${DUR}s" --latency -s "$script" "$url" | grep '^RESULT' | cut -f2-)
  say "$label	connections $c	$r"
}

serve "$m10k"
n=$(curl -s "${url}api/model" | python3 -c "import json,sys; print(json.load(sys.stdin)['sizes']['songs'])")
say "## (a) $m10k ($(stat -c %s "$m10k") bytes, $n songs)"
for c in 1 2 4 16; do N_SONGS=$n run "recommend 10k" "$c" bench/wrk/recommend.lua; done
say "server peak RSS $(peak_rss), model file $(( $(stat -c %s "$m10k") / 1048576 )) MiB"
stop

if [ -f "$MODEL1M" ]; then
  serve "$MODEL1M"
  n=$(curl -s "${url}api/model" | python3 -c "import json,sys; print(json.load(sys.stdin)['sizes']['songs'])")
  say "## (b) $MODEL1M ($(stat -c %s "$MODEL1M") bytes, $n songs)"
  for c in 1 4; do N_SONGS=$n run "recommend 1M" "$c" bench/wrk/recommend.lua; done
  # queries: 1-3 letter prefixes and "artist-prefix track-prefix" pairs of catalog names
  curl -s "${url}api/search?q=a&kind=song&limit=1000" | python3 -c "
import json, random, sys
random.seed(1)
hits = json.load(sys.stdin)['hits']
qs = []
for h in hits:
    a, t = h['artist'], h['track']
    qs += [a[:1], a[:2], a[:3], (a.split()[0][:6] + ' ' + t[:3]).strip()]
random.shuffle(qs)
print('\n'.join(q for q in qs if q.strip()))" > "$OUT/queries.txt"
  for c in 1 4; do QUERIES=$OUT/queries.txt run "search 1M" "$c" bench/wrk/search.lua; done
  say "server peak RSS $(peak_rss), model file $(( $(stat -c %s "$MODEL1M") / 1048576 )) MiB"
  stop
fi

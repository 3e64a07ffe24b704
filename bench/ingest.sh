#!/usr/bin/env bash
# bench/ingest.sh — ingest speed and memory at the origin's scale and at full scale.
#
# Generates (once, cached in bench/out/) the origin's 37.8M listens as ListenBrainz JSON
# lines (plain and zstd) and as a 3-column CSV, and the full 149M-listen table as zstd
# JSON lines; then times `songrec ingest` on each from the page cache, reporting wall
# time, listens/s, MB/s and peak RSS (GNU time). Results go to bench/out/ingest.tsv.
#
# Environment: SCALE (default 1; e.g. 0.01 for a quick check), FULL=0 to skip 149M,
#              OUT (default bench/out), BIN (default build/songrec).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/songrec}
OUT=${OUT:-bench/out}
SCALE=${SCALE:-1}
FULL=${FULL:-1}
mkdir -p "$OUT"
scaled() { python3 -c "import sys; print(max(1, int(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"; }
users=$(scaled 2650); songs=$(scaled 4660000); n37=$(scaled 37800000)
fusers=$(scaled 10000); fsongs=$(scaled 4660000); n149=$(scaled 149000000)

gen() { # gen FILE ARGS...
  local f=$1; shift
  if [ ! -s "$f" ]; then
    echo "generating $f" >&2
    /usr/bin/time -f "%e s, %M KB" "$BIN" generate "$@" -o "$f"
  fi
}
gen "$OUT/lb37.jsonl" --users "$users" --songs "$songs" --listens "$n37" --seed 1
gen "$OUT/lb37.jsonl.zst" --users "$users" --songs "$songs" --listens "$n37" --seed 1
gen "$OUT/lb37.csv" --format csv3 --users "$users" --songs "$songs" --listens "$n37" --seed 1
if [ "$FULL" = 1 ]; then
  gen "$OUT/lb149.jsonl.zst" --users "$fusers" --songs "$fsongs" --listens "$n149" --seed 2
fi

printf 'input\tlistens\tbytes\tseconds\tlistens_per_s\tMB_per_s\tpeak_rss_MB\n' > "$OUT/ingest.tsv"
run() { # run FILE LISTENS
  local f=$1 n=$2 bytes
  bytes=$(stat -c %s "$f")
  cat "$f" > /dev/null # into the page cache
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$BIN" ingest -q "$f" -o "$OUT/bench.srd"
  read -r secs kb < "$OUT/time.txt"
  python3 - "$f" "$n" "$bytes" "$secs" "$kb" >> "$OUT/ingest.tsv" <<'PY'
import sys
f, n, b, s, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"{f}\t{n}\t{b}\t{s:.2f}\t{n/s:,.0f}\t{b/s/1e6:.0f}\t{kb/1024:.0f}")
PY
  tail -1 "$OUT/ingest.tsv"
}
run "$OUT/lb37.jsonl" "$n37"
run "$OUT/lb37.jsonl.zst" "$n37"
run "$OUT/lb37.csv" "$n37"
[ "$FULL" = 1 ] && run "$OUT/lb149.jsonl.zst" "$n149"
rm -f "$OUT/bench.srd"
column -t -s $'\t' "$OUT/ingest.tsv"

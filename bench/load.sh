#!/usr/bin/env bash
# bench/load.sh — the server under a sustained mix of load (issue 8), with wrk.
#
# wrk drives a closed loop (every connection sends its next request as soon as the last
# is answered, so this is the highest rate the server holds with CONNECTIONS clients)
# of search, recommend, rating POSTs and profile PUTs (bench/wrk/load.lua, MIX) against
# `songrec serve --rate-limit 0` for DURATION seconds, and reports:
#   - requests/s, p50 / p99 / p99.9 / max latency;
#   - 5xx answers and failed connections (wrk's socket errors: connect, read, write,
#     timeout), both of which must be 0;
#   - the server's RSS every RSS_EVERY seconds: first, last and max after the warm-up
#     (the first WARMUP seconds, default a fifth of the run up to 60 s) and the growth;
#   - afterwards, every acknowledged profile update read back: each acknowledged rating
#     must be in its profile with its value, each PUT profile must hold exactly its songs.
# The exit status is non-zero when any check fails. wrk and the server share the cores.
# Environment: DURATION (s, default 300), CONNECTIONS (32), WRK_THREADS (2), MIX
# (search,recommend,rating,put percent: 40,30,25,5), MODEL (a .srm; default: one made
# once in $OUT, 20,000 songs, SVD 64 factors), BIN (build/songrec), NO_BUILD=1, OUT
# (bench/out), RSS_EVERY (5).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
DURATION=${DURATION:-300}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-2}
RSS_EVERY=${RSS_EVERY:-5}
WARMUP=${WARMUP:-$((DURATION / 5 < 60 ? DURATION / 5 : 60))}
BIN=${BIN:-build/songrec}
mkdir -p "$OUT"
scripts/deps.sh bench
[ "${NO_BUILD:-0}" = 1 ] || make --no-print-directory build > /dev/null

MODEL=${MODEL:-$OUT/load.srm}
if [ ! -f "$MODEL" ]; then
  "$BIN" generate -q --users 3000 --songs 20000 --listens 1M --seed 21 -o "$OUT/load.jsonl.zst"
  "$BIN" ingest -q "$OUT/load.jsonl.zst" -o "$OUT/load.srd"
  "$BIN" train -q "$OUT/load.srd" --algo svd --param n_factors=64 -o "$MODEL"
fi

W=$(mktemp -d)
pid=
sampler=
stop() {
  [ -n "$sampler" ] && kill "$sampler" 2> /dev/null
  [ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
  pid=
  rm -rf "$W"
}
trap stop EXIT
"$BIN" serve "$MODEL" --port 0 --db "$W/load.db" --rate-limit 0 > "$W/serve.log" 2>&1 &
pid=$!
url=
for _ in $(seq 200); do
  url=$(grep -o 'http://[0-9.:]*/' "$W/serve.log" || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "load: the server did not start" >&2; cat "$W/serve.log" >&2; exit 1; }

# The catalog size, search queries drawn from it, and the profiles: N_PUT for PUTs, the
# rest for rating POSTs (each takes 1,000 ratings; ~3 per second of the run is ample).
n_profiles=$((64 + DURATION * 3))
python3 - "$url" "$W" "$n_profiles" << 'EOF'
import http.client, json, random, sys, urllib.parse
url, w, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port)
def call(method, path, body=None):
    c.request(method, path, body, {"Content-Type": "application/json"} if body is not None else {})
    r = c.getresponse()
    return r.status, json.loads(r.read())
st, m = call("GET", "/api/model")
open(w + "/n_songs", "w").write(str(m["sizes"]["songs"]))
random.seed(1)
qs = []
for p in ("a", "e", "o", "ma", "la", "th"):
    for h in call("GET", "/api/search?kind=song&limit=200&q=" + p)[1]["hits"]:
        a, t = h["artist"], h["track"]
        qs += [a[:1], a[:2], a[:3], (a.split()[0][:6] + " " + t[:3]).strip()]
random.shuffle(qs)
open(w + "/queries", "w").write("\n".join(q for q in qs if q.strip()) + "\n")
with open(w + "/tokens", "w") as f:
    for _ in range(n):
        st, d = call("POST", "/api/profiles", "")
        assert st == 201, st
        f.write(d["token"] + "\n")
EOF
n_songs=$(cat "$W/n_songs")

# RSS every RSS_EVERY seconds while wrk runs: "seconds kB" lines.
(
  t=0
  while kill -0 "$pid" 2> /dev/null; do
    echo "$t $(awk '/VmRSS/ {print $2}' "/proc/$pid/status")" >> "$W/rss"
    sleep "$RSS_EVERY"
    t=$((t + RSS_EVERY))
  done
) &
sampler=$!

echo "load: $MODEL ($n_songs songs), $DURATION s, $CONNECTIONS connections on $WRK_THREADS wrk threads, mix ${MIX:-40,30,25,5}, $(nproc) CPUs"
result=$(N_SONGS=$n_songs N_PUT=32 N_THREADS=$WRK_THREADS QUERIES=$W/queries TOKENS=$W/tokens \
  ACKS=$W/acks wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
  -s bench/wrk/load.lua "$url")
kill "$sampler" 2> /dev/null || true
sampler=
echo "$result" | grep -E 'Socket errors|Non-2xx' || true
line=$(echo "$result" | grep '^RESULT' | cut -f2-)
echo "load: $line" | tr '\t' ' '

fails=0
socket=$(echo "$line" | sed -n 's/.*socket errors \([0-9]*\).*/\1/p')
n5xx=$(echo "$line" | sed -n 's/.*5xx \([0-9]*\).*/\1/p')
[ "$socket" = 0 ] || { echo "load: FAIL: $socket failed connections"; fails=1; }
[ "$n5xx" = 0 ] || { echo "load: FAIL: $n5xx answers were 5xx"; fails=1; }

python3 - "$W/rss" "$WARMUP" << 'EOF' || fails=1
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
warm = int(sys.argv[2])
after = [kb for t, kb in rows if t >= warm] or [kb for t, kb in rows]
first, last, top = after[0], after[-1], max(after)
print("load: RSS %d samples; after the %d s warm-up: first %.1f MiB, last %.1f MiB, max %.1f MiB, "
      "growth %+.1f%% (peak during warm-up %.1f MiB)" % (len(rows), warm, first / 1024, last / 1024,
      top / 1024, 100.0 * (last - first) / first, max(kb for t, kb in rows) / 1024))
EOF

# Every acknowledged update, read back.
python3 - "$url" "$W" "$n_songs" << 'EOF' || fails=1
import http.client, json, sys, urllib.parse
url, w, n_songs = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port)
tokens = [l.strip() for l in open(w + "/tokens")]
index = {t: p for p, t in enumerate(tokens)}
ratings, puts = {}, set()
for l in open(w + "/acks"):
    f = l.split()
    if f[0] == "R":
        ratings.setdefault(int(f[1]), []).append(("L%s-%s" % (f[1], f[2]), float(f[3])))
    else:
        puts.add(index[f[1]])
def profile(p):
    c.request("GET", "/api/profiles/" + tokens[p])
    r = c.getresponse()
    body = r.read()
    assert r.status == 200, (r.status, body[:200])
    return json.loads(body)["ratings"]
missing = wrong = 0
for p, acked in ratings.items():
    have = {r["track"]: r["rating"] for r in profile(p) if r["artist"] == "Load Artist"}
    for track, rating in acked:
        if track not in have:
            missing += 1
        elif have[track] != rating:
            wrong += 1
bad_puts = 0
for p in puts:
    want = sorted(((37 * p + 101 * i) % n_songs, float(1 + (p + i) % 10)) for i in range(10))
    got = sorted((r["id"], r["rating"]) for r in profile(p))
    bad_puts += got != want
n = sum(len(a) for a in ratings.values())
print("load: read back %d acknowledged ratings in %d profiles: %d missing, %d wrong; "
      "%d PUT profiles: %d not as acknowledged" % (n, len(ratings), missing, wrong, len(puts), bad_puts))
sys.exit(1 if missing or wrong or bad_puts or not n else 0)
EOF
[ "$fails" = 0 ] && echo "load: PASS" || echo "load: FAIL"
exit "$fails"

#!/usr/bin/env bash
# kill -9 of the whole server during a burst of profile updates (issue 8): eight clients
# add ratings over keep-alive connections as fast as the server takes them, each to its
# own profile and each rating to a song of its own, noting every one the server
# acknowledged with a 2xx; the server is killed with SIGKILL mid-burst, restarted on the
# same database, and every acknowledged rating must be there with its value (SQLite in
# WAL mode, synchronous=NORMAL: a commit is in the WAL before the answer goes out, so a
# killed process loses nothing it acknowledged). Twice, the second time into the
# profiles the first one left.
# Usage: tests/cli/crash.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
. "$(dirname "$0")/lib.bash"

expect 0 "generate" -- "$BIN" generate -q --users 30 --songs 200 --listens 3000 --seed 9 -o "$T/g.jsonl"
expect 0 "ingest" -- "$BIN" ingest -q "$T/g.jsonl" -o "$T/d.srd"
expect 0 "train" -- "$BIN" train -q "$T/d.srd" --algo svd --param n_factors=4 --param n_epochs=3 -o "$T/m.srm"

start() { serve_start "$T/m.srm" --rate-limit 0 --db "$T/p.db"; }

cat > "$T/burst.py" << 'PY'
import http.client, json, os, sys, threading, time
port, acks_path, tokens_path, run = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
N = 8
if os.path.exists(tokens_path):
    tokens = open(tokens_path).read().split()
else:
    tokens = []
    for _ in range(N):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/api/profiles", body=b"")
        r = c.getresponse()
        tokens.append(json.loads(r.read())["token"])
    open(tokens_path, "w").write("\n".join(tokens))
acks = [[] for _ in range(N)]
def writer(t):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    seq = 0
    while seq < 1000:  # a profile holds at most 1,000 ratings
        track = "T%s-%d-%d" % (run, t, seq)
        rating = 1 + (seq * 7 + t) % 10
        body = json.dumps({"artist": "Crash Artist %d" % t, "track": track, "rating": rating})
        try:
            c.request("POST", "/api/profiles/%s/ratings" % tokens[t], body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
        except Exception:
            return  # the server is gone
        if 200 <= r.status < 300:
            acks[t].append((track, rating))
        seq += 1
threads = [threading.Thread(target=writer, args=(t,)) for t in range(N)]
for th in threads: th.start()
for th in threads: th.join()
with open(acks_path, "a") as f:
    for t in range(N):
        for track, rating in acks[t]:
            f.write("%s\t%s\t%d\n" % (tokens[t], track, rating))
print(sum(len(a) for a in acks))
PY

cat > "$T/check.py" << 'PY'
import http.client, json, sys
port, acks_path = int(sys.argv[1]), sys.argv[2]
want = {}
for line in open(acks_path):
    tok, track, rating = line.rstrip("\n").split("\t")
    want.setdefault(tok, {})[track] = float(rating)
missing = wrong = 0
for tok, tracks in want.items():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/api/profiles/" + tok)
    r = c.getresponse()
    have = {x["track"]: x["rating"] for x in json.loads(r.read())["ratings"]} if r.status == 200 else {}
    for track, rating in tracks.items():
        if track not in have: missing += 1
        elif have[track] != rating: wrong += 1
print(sum(len(v) for v in want.values()), missing, wrong)
PY

for run in 1 2; do
  start
  python3 "$T/burst.py" "$PORT" "$T/acks" "$T/tokens" "$run" > "$T/burst.out" 2>&1 &
  bp=$!
  sleep 1.5
  kill -KILL "$PID"
  wait "$PID" 2> /dev/null
  PID=
  wait "$bp"
  n=$(cat "$T/burst.out")
  [ "${n:-0}" -gt 0 ] 2> /dev/null && ok || bad "run $run: no rating was acknowledged before the kill ($n)"
  [ "${n:-0}" -lt 8000 ] 2> /dev/null && ok || bad "run $run: the burst ended before the kill"
  start
  read -r total missing wrong < <(python3 "$T/check.py" "$PORT" "$T/acks")
  echo "crash.sh: run $run: $n ratings acknowledged before kill -9; after the restart $total acknowledged in all, $missing missing, $wrong wrong"
  [ "$missing" = 0 ] && [ "$wrong" = 0 ] && ok || bad "run $run: $missing acknowledged ratings missing, $wrong wrong after kill -9"
  kill -TERM "$PID"
  wait "$PID" 2> /dev/null
  PID=
done
finish

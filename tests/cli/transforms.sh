#!/usr/bin/env bash
# End-to-end checks of the play-count transform as a searchable parameter (issue 6): a
# ranking grid search of ALS over transform x alpha, of BPR over its transforms, the
# transforms in evaluate's --param and --list-algos, and the usage errors.
# Usage: tests/cli/transforms.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
. "$(dirname "$0")/lib.bash"

expect 0 "generate" -- "$BIN" generate -q --users 200 --songs 1500 --listens 40000 --seed 3 -o "$T/g.jsonl"
expect 0 "ingest" -- "$BIN" ingest -q "$T/g.jsonl" -o "$T/d.srd"

expect 0 "als transform grid" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo als \
    --grid transform=linear,log,bm25,quantile --grid alpha=1,10 --refit-measure ndcg@10 --json
cp "$T/out" "$T/als.json"
python3 - "$T/als.json" <<'PY' && ok || bad "als transform grid: shape, order or values"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
assert d["refit"] == "ndcg" and d["k"] == 10 and d["algo"] == "als" and len(r) == 8, d
assert [x["ndcg"] for x in r] == sorted([x["ndcg"] for x in r], reverse=True)
assert {(x["params"]["transform"], x["params"]["alpha"]) for x in r} == \
    {(t, a) for t in ("linear", "log", "bm25", "quantile") for a in ("1", "10")}
for x in r:
    assert 0 < x["ndcg"] <= 1, x
# the transform is not a no-op: the configurations do not all score alike
assert len({round(x["ndcg"], 6) for x in r}) > 1, r
PY
# The table form, with the best line naming a transform.
expect 0 "als transform grid table" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo als \
    --grid transform=cap,quantile --param cap=5 --refit-measure ndcg@10
grep -qE "^Best ndcg@10 [0-9.]+ with transform=(cap|quantile)" "$T/out" && ok || bad "grid table: best line"

expect 0 "bpr transform grid" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo bpr \
    --grid transform=none,log,quantile --param factors=16 --param iterations=20 --json
cp "$T/out" "$T/bpr.json"
python3 - "$T/bpr.json" <<'PY' && ok || bad "bpr transform grid: shape"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert sorted(x["params"]["transform"] for x in r) == ["log", "none", "quantile"], r
assert all(0 < x["ndcg"] <= 1 for x in r), r
PY

# evaluate takes a transform per model; --list-algos lists the choices.
expect 0 "evaluate with transforms" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo als,bpr \
    --param als.transform=bm25 --param als.bm25_b=0.5 --param bpr.transform=linear \
    --param bpr.iterations=10 --json
[ "$(field "['models'][1]['algo']")" = bpr ] && ok || bad "evaluate: second model"
expect 0 "list algos" -- "$BIN" evaluate --list-algos
grep -qE "^ +transform +linear\|log\|cap\|bm25\|quantile" "$T/out" && ok || bad "als transform choices"
grep -qE "^ +transform +none\|linear\|log\|cap\|bm25\|quantile" "$T/out" && ok || bad "bpr transform choices"
grep -qE "^ +bm25_k1 +1.2" "$T/out" && ok || bad "bm25_k1 listed"

expect 1 "unknown transform" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo als --grid transform=linear,sqrt
expect 1 "bm25_b out of range" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo als --grid bm25_b=0.5,2
expect 1 "bpr none is no als transform" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo als --param als.transform=none

# For the record: NDCG@10 of each ALS configuration, best first.
python3 - "$T/als.json" "$T/bpr.json" <<'PY'
import json, sys
for f in sys.argv[1:]:
    d = json.load(open(f))
    for x in d["results"]:
        print("  %s %-30s ndcg@10 %.4f" % (d["algo"], ",".join("%s=%s" % kv for kv in x["params"].items()), x["ndcg"]))
PY
finish

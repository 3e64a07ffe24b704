#!/usr/bin/env bash
# End-to-end checks of `songrec evaluate --task ranking`: every split, the table, JSON
# shape and bounds, the chart, per-model parameters, and the usage errors; on generated
# data a learnt model must beat popularity.
# Usage: tests/cli/ranking.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
. "$(dirname "$0")/lib.bash"

expect 0 "generate" -- "$BIN" generate -q --users 200 --songs 1500 --listens 40000 --seed 3 -o "$T/g.jsonl"
expect 0 "ingest" -- "$BIN" ingest -q "$T/g.jsonl" -o "$T/d.srd"
MODELS=${RANKING_MODELS:-svd,baseline_only,popularity,als,bpr,itemknn}
# keep the models this build has
algos=$("$BIN" evaluate --list-algos)
have=()
for m in ${MODELS//,/ }; do grep -q "^$m\b" <<< "$algos" && have+=("$m"); done
list=$(IFS=,; echo "${have[*]}")
expect 0 "ranking table" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo "$list" --k 10 --param svd.n_factors=16
grep -q "ndcg" "$T/out" && ok || bad "table lacks ndcg"
expect 0 "ranking json + plot" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo "$list" --k 5 --json --plot "$T/charts/new"
python3 - "$T/out" <<'PY' && ok || bad "ranking json: shape or bounds"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["task"] == "ranking" and d["k"] == 5 and d["split"] == "holdout"
for m in d["models"]:
    for key in ("precision", "recall", "ndcg", "map", "hit_rate", "coverage"):
        assert 0 <= m[key] <= 1, (m["algo"], key, m[key])
    assert m["users"] > 0 and m["novelty"] > 0
PY
python3 - "$T/out" <<'PY' && ok || bad "a learnt model should beat popularity on NDCG"
import json, sys
d = {m["algo"]: m for m in json.load(open(sys.argv[1]))["models"]}
if "popularity" in d:
    best = max(v["ndcg"] for k, v in d.items() if k != "popularity")
    assert best > d["popularity"]["ndcg"], (best, d["popularity"]["ndcg"])
PY
[ -s "$T/charts/new/ranking.svg" ] && ok || bad "--plot did not make its missing folder and the chart"
: > "$T/afile"
expect 3 "--plot under a file" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo popularity --plot "$T/afile/x"
expect 0 "last_n split" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo svd --last-n 2 --json
[ "$(field "['split']")" = last_n ] && ok || bad "last-n split name"
expect 0 "time split" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo baseline_only --test-after 2015-01-01 --json
[ "$(field "['split']")" = time ] && ok || bad "time split name"
expect 0 "max users" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo svd --max-users 20 --json
[ "$(field "['models'][0]['users']")" -le 20 ] && ok || bad "max-users not respected"
expect 1 "no algo" -- "$BIN" evaluate "$T/d.srd" --task ranking
expect 1 "unknown algo" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo nope
expect 1 "bad k" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo svd --k 0
expect 1 "bad split" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo svd --split sideways
expect 1 "param of no model" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo svd --param als.factors=3
expect 1 "bad param" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo svd --param svd.nope=3
expect 0 "ranking grid" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo svd --grid n_factors=4,16 --grid reg_all=0.02,0.1 --refit-measure map@5 --json
python3 - "$T/out" <<'PY' && ok || bad "ranking grid: shape or order"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
assert d["refit"] == "map" and d["k"] == 5 and len(r) == 4
assert [x["map"] for x in r] == sorted([x["map"] for x in r], reverse=True)
assert [x["rank"] for x in r] == [1, 2, 3, 4]
assert {tuple(sorted(x["params"].items())) for x in r} == {(("n_factors", a), ("reg_all", b)) for a in ("4", "16") for b in ("0.02", "0.1")}
PY
expect 0 "ranking grid table" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo svd --grid n_factors=4,8
grep -q "^Best ndcg@10" "$T/out" && ok || bad "grid table lacks the best line"
expect 1 "ranking grid without --grid" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo svd
expect 1 "ranking grid bad measure" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo svd --grid n_factors=4 --refit-measure rmse
expect 1 "ranking grid range without --random" -- "$BIN" gridsearch "$T/d.srd" --task ranking --algo svd --grid reg_all=0.01:0.1
expect 0 "ranking help" -- "$BIN" evaluate --task ranking --help
finish

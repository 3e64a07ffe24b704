#!/usr/bin/env bash
# End-to-end checks of `songrec evaluate --task ranking`: every split, the table, JSON
# shape and bounds, the chart, per-model parameters, and the usage errors; on generated
# data a learnt model must beat popularity. `gridsearch --task ranking`: ranking, diverged
# configurations listed as failed (table, JSON), all failed; time-split cuts outside the
# data, a missing or bare-year cut, and bad option values named.
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

# Diverged configurations (too large a learning rate or initial spread) are listed as
# failed — table, JSON — never ranked or chosen, as the rating search does; the search
# fails only when every configuration does.
expect 0 "generate small" -- "$BIN" generate -q --users 60 --songs 300 --listens 6000 --seed 2 -o "$T/s.jsonl"
expect 0 "ingest small" -- "$BIN" ingest -q "$T/s.jsonl" -o "$T/s.srd"
dv=(gridsearch "$T/s.srd" --task ranking --algo svd --grid lr_all=0.005,1 --grid init_std_dev=0.1,3)
expect 0 "ranking grid with diverged configurations" -- "$BIN" "${dv[@]}"
grep -q '^ *1  *[0-9.]\+ .* lr_all=0.005, init_std_dev=0.1$' "$T/out" && ok || bad "diverged grid rank 1: $(cat "$T/out")"
[ "$(grep -c '^ *-  .*failed: SVD diverged: factors became non-finite' "$T/out")" -eq 3 ] && ok ||
  bad "diverged rows: $(cat "$T/out")"
grep -Eq '^Best ndcg@10 [0-9.]+ with lr_all=0.005, init_std_dev=0.1$' "$T/out" && ok || bad "diverged grid best: $(cat "$T/out")"
grep -q '^3 of 4 configuration(s) failed' "$T/out" && ok || bad "diverged count: $(cat "$T/out")"
expect 0 "ranking grid with diverged configurations, JSON" -- "$BIN" "${dv[@]}" --json
python3 - "$T/out" <<'PY' && ok || bad "diverged ranking grid JSON: $(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["configs"] == 4 and len(j["results"]) == 1 and len(j["failed"]) == 3, j
r = j["results"][0]
assert r["rank"] == 1 and r["params"] == {"lr_all": "0.005", "init_std_dev": "0.1"}, r
assert 0 <= r["ndcg"] <= 1 and "error" not in r, r
for f in j["failed"]:
    assert "rank" not in f and "ndcg" not in f and "SVD diverged" in f["error"], f
assert sorted((f["params"]["lr_all"], f["params"]["init_std_dev"]) for f in j["failed"]) == [("0.005", "3"), ("1", "0.1"), ("1", "3")], j["failed"]
PY
expect 2 "ranking grid, every configuration diverged" -- "$BIN" gridsearch "$T/s.srd" --task ranking --algo svd --grid lr_all=0.5,1
grep -q 'all 2 configurations failed; the first: SVD diverged' "$T/err" && [ ! -s "$T/out" ] && ok ||
  bad "all diverged: $(cat "$T/err")"
# A split that cannot be made stops the search before any fit, with its own words.
expect 2 "ranking grid, cut after the data" -- "$BIN" gridsearch "$T/s.srd" --task ranking --algo svd --grid n_factors=2,4 --test-after 2030-01-01
grep -q '^songrec gridsearch: --test-after 2030-01-01 is after the last pair' "$T/err" && ok || bad "grid cut after: $(cat "$T/err")"

# Time splits and option values: messages that say what is wrong (and the data's time
# range); usage slips exit 1, what the data cannot give exits 2.
expect 2 "cut after the data" -- "$BIN" evaluate "$T/s.srd" --task ranking --algo svd,popularity --test-after 2030-01-01
grep -Eq '^songrec evaluate: --test-after 2030-01-01 is after the last pair \([0-9T:-]+Z\): the test set would be empty \(pairs first heard from 20[0-9T:-]+Z to 20[0-9T:-]+Z\)$' "$T/err" &&
  ok || bad "cut after: $(cat "$T/err")"
expect 2 "cut before the data" -- "$BIN" evaluate "$T/s.srd" --task ranking --algo svd --split time --test-after 1990-01-01
grep -q -- '--test-after 1990-01-01 is on or before the first pair (.*): nothing would be left to train on' "$T/err" &&
  ok || bad "cut before: $(cat "$T/err")"
expect 1 "time split without its date" -- "$BIN" evaluate "$T/s.srd" --task ranking --algo svd --split time
grep -q -- '--split time needs --test-after DATE' "$T/err" && ok || bad "no cut: $(cat "$T/err")"
expect 1 "ranking grid, time split without its date" -- "$BIN" gridsearch "$T/none.srd" --task ranking --algo svd --grid n_factors=2 --split time
expect 1 "a bare year" -- "$BIN" evaluate "$T/s.srd" --task ranking --algo svd --test-after 2015
grep -q -- '--test-after 2015: a bare number is read as Unix seconds (1970-01-01T00:33:35Z), not as a year; for the start of 2015 write 2015-01-01' "$T/err" &&
  ok || bad "bare year: $(cat "$T/err")"
expect 1 "not a date" -- "$BIN" evaluate "$T/s.srd" --task ranking --algo svd --test-after 03/04/2015
grep -q -- '--test-after 03/04/2015: not a date; write YYYY-MM-DD' "$T/err" && ok || bad "not a date: $(cat "$T/err")"
expect 0 "a cut in Unix seconds" -- "$BIN" evaluate "$T/s.srd" --task ranking --algo popularity --test-after 1420070400 --json
[ "$(field "['split']")" = time ] && ok || bad "Unix-seconds cut"
expect 1 "holdout 1" -- "$BIN" evaluate "$T/s.srd" --task ranking --algo svd --holdout 1
grep -q -- "^songrec evaluate: --holdout 1: the share of each listener's pairs tested must be between 0 and 1" "$T/err" &&
  ok || bad "holdout 1: $(cat "$T/err")"
expect 1 "k 0, named" -- "$BIN" evaluate "$T/s.srd" --task ranking --algo svd --k 0
grep -q -- '--k 0: the list length must be a whole number from 1 to 10000' "$T/err" && ok || bad "k 0: $(cat "$T/err")"
expect 1 "random 0, named" -- "$BIN" gridsearch "$T/s.srd" --task ranking --algo svd --grid n_factors=2 --random 0
grep -q -- '^songrec gridsearch: --random 0: ' "$T/err" && ok || bad "random 0: $(cat "$T/err")"
finish

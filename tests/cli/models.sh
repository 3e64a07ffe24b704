#!/usr/bin/env bash
# CLI tests for the rating-model commands: `evaluate` of every model on generated play
# counts, `gridsearch` (table, best line, --csv, --json, --plot, --random), diverged fits
# (evaluate fails, gridsearch lists them as failed), `compare` (leaderboard, --json,
# --plot) on play counts and on u.data-style explicit ratings, and the exit codes of bad
# usage (1) and a missing file (3).
# Usage: models.sh PATH/TO/songrec   (run from tests/)
set -euo pipefail
bin=${1:?usage: models.sh PATH/TO/songrec}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "models.sh: FAIL: $*" >&2; exit 1; }
expect_rc() { # expect_rc CODE CMD...
    local want=$1; shift
    set +e; "$@" >"$T/out" 2>"$T/err"; local rc=$?; set -e
    [ "$rc" -eq "$want" ] || { cat "$T/err" >&2; fail "'$*' exited $rc, want $want"; }
}
svg_ok() { # well-formed XML with an <svg> root and some text
    python3 - "$1" <<'PY' || fail "$1 is not a well-formed SVG"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag.endswith("svg"), root.tag
assert any(e.tag.endswith("text") for e in root.iter()), "no text"
PY
}

# Data: generated play counts, and explicit ratings in MovieLens' u.data layout
# (user, item, rating 1-5, timestamp; tab-separated).
"$bin" generate --users 60 --songs 300 --listens 20000 --seed 1 -q -o "$T/g.jsonl"
"$bin" ingest -q "$T/g.jsonl" -o "$T/g.srd"
awk 'BEGIN { for (u = 1; u <= 40; u++) for (j = 1; j <= 15; j++)
    printf "%d\t%d\t%d\t%d\n", u, (u * 7 + j * 13) % 120 + 1, (u + j * 3) % 5 + 1, 881250949 + u * 100 + j }' \
    > "$T/u.data"
"$bin" ingest -q --format ratings "$T/u.data" -o "$T/r.srd"

# evaluate: every rating model, --json with a finite RMSE; implicit ones are refused.
algos=$("$bin" evaluate --list-algos | awk '/^[a-z]/ && !/\[implicit feedback/ { print $1 }')
implicit=$("$bin" evaluate --list-algos | awk '/^[a-z]/ && /\[implicit feedback/ { print $1 }')
[ "$(echo "$algos" | wc -l)" -ge 11 ] || fail "--list-algos lists too few models"
for a in $implicit; do
    expect_rc 1 "$bin" evaluate "$T/g.srd" --algo "$a" --cv 3
    grep -q "task ranking" "$T/err" || fail "evaluate --algo $a should point at --task ranking"
done
for a in $algos; do
    expect_rc 0 "$bin" evaluate "$T/g.srd" --algo "$a" --cv 3 --json
    python3 -c 'import json, math, sys
j = json.load(open(sys.argv[1]))
assert j["splits"] == 3 and math.isfinite(j["rmse"]["mean"]) and len(j["rmse"]["folds"]) == 3, j' \
        "$T/out" || fail "evaluate --algo $a --json: $(cat "$T/out")"
done
expect_rc 0 "$bin" evaluate "$T/r.srd" --algo SVD --cv 3 --measures rmse,fcp
grep -q '^RMSE (testset)' "$T/out" || fail "evaluate table: $(cat "$T/out")"
grep -q '^FCP (testset)' "$T/out" || fail "evaluate table lacks FCP"

# gridsearch 2 x 2: table, best line, CSV, plots.
gs=(gridsearch "$T/g.srd" --algo svd --grid n_factors=5,10 --grid reg_all=0.05,0.2 --cv 3 --seed 2)
expect_rc 0 "$bin" "${gs[@]}" --csv "$T/gs.csv" --plot "$T/plot"
grep -q '4 configuration(s) x 3 split(s)' "$T/out" || fail "gridsearch header: $(cat "$T/out")"
grep -Eq '^best RMSE: [0-9.]+ with n_factors=(5|10),reg_all=(0.05|0.2)$' "$T/out" ||
    fail "gridsearch best line: $(cat "$T/out")"
[ "$(grep -c '^ *[1-4]  ' "$T/out")" -eq 4 ] || fail "gridsearch table rows: $(cat "$T/out")"
[ "$(wc -l < "$T/gs.csv")" -eq 5 ] || fail "CSV rows: $(cat "$T/gs.csv")"
head -1 "$T/gs.csv" | grep -q '^rank,n_factors,reg_all,rmse_mean,rmse_std' || fail "CSV header"
for m in rmse mae; do
    [ -s "$T/plot/gridsearch_$m.svg" ] || fail "no gridsearch_$m.svg"
    svg_ok "$T/plot/gridsearch_$m.svg"
    grep -q 'best' "$T/plot/gridsearch_$m.svg" || fail "best point not labelled in $m chart"
done
# --json agrees with the table; threads do not change the numbers.
expect_rc 0 "$bin" "${gs[@]}" --json --threads 1
cp "$T/out" "$T/gs1.json"
expect_rc 0 "$bin" "${gs[@]}" --json --threads 4 --csv -
python3 - "$T/gs1.json" "$T/out" <<'PY' || fail "gridsearch --json"
import json, math, sys
a = json.load(open(sys.argv[1]))
b = json.loads(open(sys.argv[2]).read().split("\n", 1)[0])
assert a["configs"] == 4 and len(a["results"]) == 4, a
r = [x["rmse"]["mean"] for x in a["results"]]
assert r == sorted(r) and all(math.isfinite(v) for v in r), r
assert a["best"]["rmse"]["mean"] == r[0]
assert set(a["best"]["params"]) == {"n_factors", "reg_all"}
strip = lambda j: [(x["rank"], x["params"], x["rmse"], x["mae"]) for x in j["results"]]
assert strip(a) == strip(b), "thread count changed the results"
PY
# Random search over ranges, reproducible by seed; a 1-D grid draws a line chart.
expect_rc 0 "$bin" gridsearch "$T/r.srd" --algo baseline_only --grid reg_u=log:1:100 \
    --grid reg_i=0:20 --random 5 --cv 3 --seed 3 --csv "$T/r1.csv" --plot "$T/rplot"
expect_rc 0 "$bin" gridsearch "$T/r.srd" --algo baseline_only --grid reg_u=log:1:100 \
    --grid reg_i=0:20 --random 5 --cv 3 --seed 3 --csv "$T/r2.csv"
[ "$(wc -l < "$T/r1.csv")" -eq 6 ] || fail "random CSV rows"
cut -d, -f1-3 "$T/r1.csv" | cmp -s - <(cut -d, -f1-3 "$T/r2.csv") || fail "random search not reproducible"
svg_ok "$T/rplot/gridsearch_rmse.svg"
expect_rc 0 "$bin" gridsearch "$T/r.srd" --algo knn_basic --grid k=5,20,40 \
    --grid name=msd,cosine --cv 3 --refit-measure mae --plot "$T/kplot"
grep -Eq '^best MAE: [0-9.]+ with k=[0-9]+,name=(msd|cosine)$' "$T/out" || fail "choice grid: $(cat "$T/out")"
svg_ok "$T/kplot/gridsearch_mae.svg"

# Diverged fits (too large a learning rate or initial spread): evaluate fails with words
# (exit 2) instead of the mean predictor's figures; gridsearch and random search list a
# diverged configuration as failed — table, CSV, JSON — never as the best, and fail when
# every configuration does.
expect_rc 2 "$bin" evaluate "$T/g.srd" --algo svd --param lr_all=1 --cv 3 --measures rmse,mae,fcp
grep -q 'SVD diverged: factors became non-finite (try a smaller lr_all' "$T/err" ||
    fail "diverged evaluate: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "diverged evaluate printed figures: $(cat "$T/out")"
expect_rc 2 "$bin" evaluate "$T/g.srd" --algo baseline_only --param method=sgd \
    --param learning_rate=1 --param reg=1000 --cv 3
dv=(gridsearch "$T/g.srd" --algo svd --grid lr_all=0.005,1 --grid init_std_dev=0.1,3 --cv 3)
expect_rc 0 "$bin" "${dv[@]}" --csv "$T/dv.csv" --plot "$T/dvplot"
grep -Eq '^best RMSE: [0-9.]+ with lr_all=0.005,init_std_dev=0.1$' "$T/out" ||
    fail "diverged grid best: $(cat "$T/out")"
grep -q '^ *1  0.005 ' "$T/out" || fail "diverged grid rank 1: $(cat "$T/out")"
[ "$(grep -c '^ *-  .*failed: SVD diverged' "$T/out")" -eq 3 ] || fail "diverged rows: $(cat "$T/out")"
grep -q '^3 of 4 configuration(s) failed' "$T/out" || fail "diverged count: $(cat "$T/out")"
python3 - "$T/dv.csv" <<'PY' || fail "diverged grid CSV: $(cat "$T/dv.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["status"] for r in rows] == ["ok", "failed", "failed", "failed"], rows
assert rows[0]["rank"] == "1" and rows[0]["lr_all"] == "0.005" and rows[0]["error"] == ""
for r in rows[1:]:
    assert r["rank"] == "" and r["rmse_mean"] == "" and "SVD diverged" in r["error"], r
PY
svg_ok "$T/dvplot/gridsearch_rmse.svg"
expect_rc 0 "$bin" "${dv[@]}" --json
python3 - "$T/out" <<'PY' || fail "diverged grid JSON: $(cat "$T/out")"
import json, math, sys
j = json.load(open(sys.argv[1]))
assert j["configs"] == 4 and len(j["results"]) == 1 and len(j["failed"]) == 3, j
ok = j["results"][0]
assert ok["rank"] == 1 and math.isfinite(ok["rmse"]["mean"]) and "error" not in ok, ok
for b in j["failed"]:
    assert "rank" not in b and "rmse" not in b and "SVD diverged" in b["error"], b
assert sorted(b["params"]["lr_all"] for b in j["failed"]) == [0.005, 1, 1], j["failed"]
assert j["best"]["params"] == {"lr_all": 0.005, "init_std_dev": 0.1}, j["best"]
PY
expect_rc 0 "$bin" gridsearch "$T/g.srd" --algo svd --grid lr_all=log:0.001:2 --random 6 --cv 3 --seed 1
grep -q 'failed: SVD diverged' "$T/out" || fail "random search kept no diverged row: $(cat "$T/out")"
grep -Eq '^best RMSE: [0-9.]+ with lr_all=0\.0' "$T/out" || fail "random search best: $(cat "$T/out")"
expect_rc 2 "$bin" gridsearch "$T/g.srd" --algo svd --grid lr_all=0.5,1 --cv 3
grep -q 'all 2 configurations failed; the first: SVD diverged' "$T/err" ||
    fail "all diverged: $(cat "$T/err")"

# compare: leaderboard sorted by RMSE, plot, JSON.
expect_rc 0 "$bin" compare "$T/g.srd" --cv 3 --plot "$T/cplot" --csv "$T/c.csv"
grep -q '^Leaderboard of 11 model' "$T/out" || fail "compare header: $(cat "$T/out")"
awk '/^ +[0-9]+  / { print $3 }' "$T/out" | sort -c -g || fail "leaderboard not sorted by RMSE"
svg_ok "$T/cplot/compare.svg"
grep -q 'SVD' "$T/cplot/compare.svg" || fail "compare.svg lacks SVD"
expect_rc 0 "$bin" compare "$T/r.srd" --cv 3 --algos svd,BaselineOnly,slope_one --json
python3 -c 'import json, math, sys
j = json.load(open(sys.argv[1]))
assert len(j["results"]) == 3 and all(math.isfinite(r["rmse"]["mean"]) for r in j["results"]), j' \
    "$T/out" || fail "compare --json: $(cat "$T/out")"

# A model that refuses the data (KNNBasic's user-user matrix over 40100 users) is
# listed as skipped with its reason, not a failure.
awk 'BEGIN { for (k = 0; k < 40100; k++) printf "%d\t%d\t%d\t%d\n", k + 1, k % 20 + 1, k % 5 + 1, 881250949 + k }' \
    > "$T/wide.data"
"$bin" ingest -q --format ratings "$T/wide.data" -o "$T/wide.srd"
expect_rc 0 "$bin" compare "$T/wide.srd" --cv 2 --algos knn_basic,baseline_only --plot "$T/wplot"
grep -q '^ *1  BaselineOnly' "$T/out" || fail "compare with a skip: $(cat "$T/out")"
grep -q 'KNNBasic *skipped: .*40100 users' "$T/out" || fail "KNNBasic not listed as skipped: $(cat "$T/out")"
svg_ok "$T/wplot/compare.svg"

# Bad usage exits 1, a missing file 3.
expect_rc 1 "$bin" gridsearch "$T/g.srd" --algo svd
expect_rc 1 "$bin" gridsearch "$T/g.srd" --algo nope --grid k=1
expect_rc 1 "$bin" gridsearch "$T/g.srd" --algo svd --grid colour=1,2
expect_rc 1 "$bin" gridsearch "$T/g.srd" --algo svd --grid n_factors=
expect_rc 1 "$bin" gridsearch "$T/g.srd" --algo svd --grid n_factors=a,b
expect_rc 1 "$bin" gridsearch "$T/g.srd" --algo svd --grid lr_all=0.001:0.01
expect_rc 1 "$bin" gridsearch "$T/g.srd" --algo svd --grid n_factors=5 --refit-measure auc
expect_rc 1 "$bin" compare "$T/g.srd" --cv 1
expect_rc 1 "$bin" compare "$T/g.srd" --algos svd,nope
expect_rc 1 "$bin" compare
expect_rc 1 "$bin" evaluate "$T/g.srd" --algo svd --measures bogus
expect_rc 3 "$bin" gridsearch "$T/missing.srd" --algo svd --grid n_factors=5,10
expect_rc 3 "$bin" compare "$T/missing.srd"
expect_rc 3 "$bin" evaluate "$T/missing.srd" --algo svd
expect_rc 0 "$bin" gridsearch --help
grep -q -- '--refit-measure' "$T/out" || fail "gridsearch --help"
expect_rc 0 "$bin" compare --help
# time split: train before the date, test on pairs first heard after it
expect_rc 0 "$bin" evaluate "$T/g.srd" --algo baseline_only --test-after 2012-01-01 --json
python3 -c "import json,sys,math; d=json.load(open(sys.argv[1])); assert d['splits'] == 1 and math.isfinite(d['rmse']['mean'])" "$T/out" || fail "time split"
expect_rc 1 "$bin" evaluate "$T/g.srd" --algo svd --test-after yesterday
# A cut outside the data says so with the data's time range (exit 2, what the data cannot
# give); a time split without its date, a bare year and a bad value name the option
# (exit 1, usage); more folds than ratings is said as such (exit 2).
expect_rc 2 "$bin" evaluate "$T/g.srd" --algo svd --split time --test-after 2030-01-01
grep -Eq '^songrec evaluate: --test-after 2030-01-01 is after the last rating \([0-9T:-]+Z\): the test set would be empty \(ratings first heard from 20[0-9T:-]+Z to 20[0-9T:-]+Z\)$' "$T/err" ||
    fail "cut after the data: $(cat "$T/err")"
expect_rc 2 "$bin" evaluate "$T/g.srd" --algo svd --split time --test-after 1990-01-01
grep -q -- '--test-after 1990-01-01 is on or before the first rating (.*): nothing would be left to train on' "$T/err" ||
    fail "cut before the data: $(cat "$T/err")"
expect_rc 1 "$bin" evaluate "$T/g.srd" --algo svd --split time
grep -q -- '^songrec evaluate: --split time needs --test-after DATE' "$T/err" || fail "time split without cut: $(cat "$T/err")"
expect_rc 1 "$bin" gridsearch "$T/g.srd" --algo svd --grid n_factors=2,4 --cv 3 --split time
grep -q -- '--split time needs --test-after DATE' "$T/err" || fail "gridsearch time split without cut: $(cat "$T/err")"
expect_rc 1 "$bin" evaluate "$T/g.srd" --algo svd --test-after 2015
grep -q -- '--test-after 2015: a bare number is read as Unix seconds (1970-01-01T00:33:35Z), not as a year; for the start of 2015 write 2015-01-01' "$T/err" ||
    fail "bare year: $(cat "$T/err")"
expect_rc 1 "$bin" evaluate "$T/g.srd" --algo svd --test-after 20150101
grep -q -- 'not as a date; write 2015-01-01' "$T/err" || fail "compact date: $(cat "$T/err")"
expect_rc 0 "$bin" evaluate "$T/r.srd" --algo baseline_only --test-after 881252000 --json
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['splits'] == 1" "$T/out" || fail "a cut in Unix seconds (1997)"
expect_rc 2 "$bin" evaluate "$T/r.srd" --algo baseline_only --cv 1000
grep -q -- '--cv 1000 asks for more folds than there are ratings (600)' "$T/err" || fail "--cv 1000: $(cat "$T/err")"
expect_rc 1 "$bin" evaluate "$T/g.srd" --algo svd --cv 1
grep -q -- '^songrec evaluate: --cv 1: the number of folds must be a whole number from 2 to 1000$' "$T/err" ||
    fail "--cv 1: $(cat "$T/err")"
expect_rc 2 "$bin" evaluate "$T/r.srd" --algo baseline_only --split shuffle --test-size 600
grep -q -- '--test-size 600 would test 600 of the 600 ratings: nothing would be left to train on' "$T/err" ||
    fail "--test-size 600: $(cat "$T/err")"
expect_rc 1 "$bin" evaluate "$T/g.srd" --algo svd --measures rmse,auc
grep -q -- '--measures rmse,auc: the measures are rmse, mse, mae and fcp' "$T/err" || fail "--measures: $(cat "$T/err")"
# gridsearch and compare say once what a split cannot do, before any fit; their own bad
# values name the option
expect_rc 2 "$bin" gridsearch "$T/g.srd" --algo svd --grid n_factors=2,4 --split time --test-after 2030-01-01
grep -q -- '^songrec gridsearch: --test-after 2030-01-01 is after the last rating' "$T/err" || fail "gridsearch cut: $(cat "$T/err")"
expect_rc 2 "$bin" compare "$T/r.srd" --algos svd,baseline_only --cv 1000
grep -q -- '^songrec compare: --cv 1000 asks for more folds than there are ratings' "$T/err" || fail "compare --cv: $(cat "$T/err")"
expect_rc 1 "$bin" compare "$T/g.srd" --cv 1
grep -q -- '^songrec compare: --cv 1: the number of folds' "$T/err" || fail "compare --cv 1: $(cat "$T/err")"
expect_rc 1 "$bin" gridsearch "$T/g.srd" --algo svd --grid n_factors=2 --random 0
grep -q -- "^songrec gridsearch: bad value '0' for --random$" "$T/err" || fail "gridsearch --random 0: $(cat "$T/err")"
expect_rc 1 "$bin" train "$T/g.srd" --algo svd --cv 1 -o "$T/x.srm"
grep -q -- "^songrec train: bad value '1' for --cv$" "$T/err" || fail "train --cv 1: $(cat "$T/err")"
# a --test-after cut with another split named is refused, in either order, both tasks
expect_rc 1 "$bin" evaluate "$T/g.srd" --algo svd --test-after 2015-01-01 --split kfold
grep -q -- '--split kfold: --test-after cuts only the time split' "$T/err" || fail "cut then kfold: $(cat "$T/err")"
expect_rc 1 "$bin" evaluate "$T/g.srd" --algo svd --split shuffle --test-after 2015-01-01
grep -q -- '--test-after 2015-01-01: only the time split has a cut' "$T/err" || fail "shuffle then cut: $(cat "$T/err")"
expect_rc 1 "$bin" evaluate "$T/g.srd" --task ranking --algo popularity --split holdout --test-after 2015-01-01
grep -q -- '--test-after 2015-01-01: only the time split has a cut' "$T/err" || fail "ranking holdout then cut: $(cat "$T/err")"
expect_rc 1 "$bin" evaluate "$T/g.srd" --task ranking --algo popularity --test-after 2015-01-01 --split last_n
echo "models.sh: ok"

#!/usr/bin/env bash
# End-to-end checks of `songrec train`, `info` and `predict` through the binary: a small
# generated dataset, SVD at f32 and f16 (half the size), info --json, --cv (refused for
# implicit models), a diverged fit refused, a prediction found through another
# capitalisation, an unknown user, and the exit codes of an unknown song (2), a corrupt
# model (2) and a missing one (3).
# Usage: tests/cli/train.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
. "$(dirname "$0")/lib.bash"

for c in train info predict; do expect 0 "$c --help" -- "$BIN" $c --help; done
expect 0 "generate" -- "$BIN" generate -q --users 40 --songs 300 --listens 6000 --seed 5 -o "$T/g.jsonl"
expect 0 "ingest" -- "$BIN" ingest "$T/g.jsonl" -o "$T/d.srd"
expect 1 "train without -o" -- "$BIN" train "$T/d.srd" --algo svd
expect 1 "train unknown algo" -- "$BIN" train "$T/d.srd" --algo nope -o "$T/x.srm"
expect 1 "train bad param" -- "$BIN" train "$T/d.srd" --algo svd --param zz=1 -o "$T/x.srm"
expect 1 "train bad precision" -- "$BIN" train "$T/d.srd" --algo svd --precision f8 -o "$T/x.srm"
expect 0 "train svd f32" -- "$BIN" train -q "$T/d.srd" --algo svd --param n_factors=64 --param n_epochs=5 -o "$T/m32.srm"
grep -q "Trained SVD" "$T/out" && ok || bad "train output lacks 'Trained SVD'"
expect 0 "train svd f16" -- "$BIN" train -q "$T/d.srd" --algo svd --param n_factors=64 --param n_epochs=5 --precision f16 -o "$T/m16.srm"
s32=$(stat -c %s "$T/m32.srm"); s16=$(stat -c %s "$T/m16.srm")
python3 -c "import sys; r=$s16/$s32; sys.exit(0 if 0.4 < r < 0.65 else 1)" && ok || bad "f16 size $s16 is not about half of $s32"
expect 0 "train svd with cv" -- "$BIN" train -q "$T/d.srd" --algo svd --param n_factors=8 --cv 3 -o "$T/mcv.srm"
grep -q "Cross-validated SVD, 3 folds" "$T/out" && ok || bad "train --cv output"
expect 0 "info cv" -- "$BIN" info --json "$T/mcv.srm"
[ "$(field "['evaluation']['folds']")" = 3 ] && ok || bad "info json evaluation folds"
python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['evaluation']; sys.exit(0 if 0 < e['mae'] <= e['rmse'] < 10 else 1)" "$T/out" && ok || bad "evaluation figures"
expect 1 "train bad cv" -- "$BIN" train -q "$T/d.srd" --algo svd --cv 1 -o "$T/x.srm"
# --cv measures RMSE and MAE, which an implicit model has none of: refused as evaluate
# refuses it (usage, exit 1), before anything is read (a missing dataset is not reached)
expect 1 "train --cv implicit" -- "$BIN" train -q "$T/d.srd" --algo als --cv 3 -o "$T/alscv.srm"
grep -q "als is an implicit-feedback model: it ranks songs, it does not predict ratings" "$T/err" &&
  [ ! -e "$T/alscv.srm" ] && ok || bad "train --cv als: $(cat "$T/err")"
expect 1 "train --cv implicit, no data read" -- "$BIN" train -q "$T/none.srd" --algo bpr --cv 3 -o "$T/x.srm"
expect 0 "train als without --cv" -- "$BIN" train -q "$T/d.srd" --algo als -o "$T/als.srm"
# a fit that diverged is refused with words (exit 2), and no model is written
expect 2 "train diverged svd" -- "$BIN" train -q "$T/d.srd" --algo svd --param init_std_dev=3 -o "$T/div.srm"
grep -q "SVD diverged: factors became non-finite" "$T/err" && [ ! -e "$T/div.srm" ] && ok ||
  bad "diverged train: $(cat "$T/err")"
# NMF and an empty profile (a listener the model has not seen): the global mean for every
# song, as predict gives an unknown user, not the fold-in's random start
expect 0 "train nmf" -- "$BIN" train -q "$T/d.srd" --algo nmf -o "$T/nmf.srm"
expect 0 "info nmf" -- "$BIN" info --json "$T/nmf.srm"
mu=$(field "['global_mean']")
expect 0 "recommend nmf, empty profile" -- "$BIN" recommend "$T/nmf.srm" -n 5 --format json
python3 -c "import json,sys; s=[i['score'] for i in json.load(open(sys.argv[1]))['items']]; sys.exit(0 if len(s) == 5 and all(abs(x - float(sys.argv[2])) < 1e-3 for x in s) else 1)" "$T/out" "$mu" &&
  ok || bad "nmf empty profile scores, global mean $mu: $(cat "$T/out")"
expect 0 "train knn_basic" -- "$BIN" train -q "$T/d.srd" --algo KNNBasic -o "$T/knn.srm"

expect 0 "info" -- "$BIN" info "$T/m32.srm"
grep -q "n_factors=64" "$T/out" && ok || bad "info lacks the parameters"
expect 0 "info --json" -- "$BIN" info --json "$T/m16.srm"
[ "$(field "['algo']")" = svd ] && ok || bad "info json algo"
[ "$(field "['precision']")" = f16 ] && ok || bad "info json precision"
[ "$(field "['params']['n_factors']")" = 64 ] && ok || bad "info json n_factors"
[ "$(field "['users']")" -gt 0 ] && ok || bad "info json users"
[ "$(field "['file_size']")" = "$s16" ] && ok || bad "info json file_size"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(s['name']=='m.qi' and s['type']=='f16' for s in d['sections']) else 1)" "$T/out" && ok || bad "info json sections"

# a known (user, song): the first listen of the generated file with a Latin-letter name
read -r user artist track < <(python3 -c "
import json,sys
for line in open(sys.argv[1]):
    d=json.loads(line); m=d['track_metadata']; a=m['artist_name']; t=m['track_name']
    if (a+t).isascii() and ' - ' not in a:
        print(*(x.replace(' ','\x01') for x in (d['user_name'], a, t))); break" "$T/g.jsonl")
user=${user//$'\x01'/ }; artist=${artist//$'\x01'/ }; track=${track//$'\x01'/ }
song="$artist - $track"
# an implicit model's estimate is a ranking score, not a rating on the data's scale
expect 0 "predict implicit" -- "$BIN" predict "$T/als.srm" --user "$user" --song "$song"
grep -q "score .* (it ranks songs: not a rating)" "$T/out" && ! grep -q "(scale" "$T/out" && ok || bad "predict on ALS: $(cat "$T/out")"
expect 0 "predict implicit json" -- "$BIN" predict "$T/als.srm" --user "$user" --song "$song" --json
[ "$(field "['implicit']")" = True ] && ok || bad "predict --json on ALS: implicit"
# upper case, extra spaces around the dash: the same song after normalisation
weird="${artist^^}  -  ${track^^}"
[ "$weird" != "$song" ] && ok || bad "test song has no letters to re-case"
expect 0 "predict known song" -- "$BIN" predict "$T/m32.srm" --user "$user" --song "$song" --json
p1=$(field "['prediction']")
[ "$(field "['user_known']")" = True ] && ok || bad "user should be known"
[ "$(field "['item_known']")" = True ] && ok || bad "item should be known"
expect 0 "predict other capitalisation" -- "$BIN" predict "$T/m32.srm" --user "$user" --song "$weird" --json
[ "$(field "['prediction']")" = "$p1" ] && ok || bad "capitalisation changed the prediction"
python3 -c "import sys; p=float(sys.argv[1]); sys.exit(0 if 1 <= p <= 10 else 1)" "$p1" && ok || bad "prediction $p1 outside 1..10"
expect 0 "predict f16" -- "$BIN" predict "$T/m16.srm" --user "$user" --song "$song" --json
expect 0 "predict knn" -- "$BIN" predict "$T/knn.srm" --user "$user" --song "$song"
expect 0 "predict unknown user" -- "$BIN" predict "$T/m32.srm" --user "nobody at all" --song "$song"
grep -q "unknown to the model" "$T/out" && ok || bad "unknown user not said"
expect 2 "predict unknown song" -- "$BIN" predict "$T/m32.srm" --user "$user" --song "Nobody - Nothing At All"
grep -q "unknown song" "$T/err" && ok || bad "unknown song message"

# damaged and missing files
cp "$T/m32.srm" "$T/bad.srm"
printf '\xff' | dd of="$T/bad.srm" bs=1 seek=300 conv=notrunc status=none
expect 2 "corrupt model" -- "$BIN" info "$T/bad.srm"
grep -q "checksum" "$T/err" && ok || bad "corrupt message should say checksum"
head -c 1000 "$T/m32.srm" > "$T/short.srm"
expect 2 "truncated model" -- "$BIN" predict "$T/short.srm" --user "$user" --song "$song"
expect 2 "not a model" -- "$BIN" info "$T/d.srd"
expect 3 "missing model" -- "$BIN" info "$T/none.srm"

# predict looks songs up as recommend does: every " - " is tried as the split, the ingest
# key ignores case and spacing but not accents (and --help says so), and items-only data
# is named by item id
printf 'user_name,artist_name,track_name,listened_at\nu1,Simon - Garfunkel,Mrs Robinson,1500000000\nu2,Simon - Garfunkel,Mrs Robinson,1500000300\nu1,Björk,Jóga - Live,1500000100\nu2,Plain,Song,1500000500\n' > "$T/dash.csv"
expect 0 "ingest dashes" -- "$BIN" ingest -q "$T/dash.csv" -o "$T/dash.srd"
expect 0 "train dashes" -- "$BIN" train -q "$T/dash.srd" --algo svd --param n_factors=4 -o "$T/dash.srm"
expect 0 "predict artist with a dash" -- "$BIN" predict "$T/dash.srm" --user u1 --song "Simon - Garfunkel - Mrs Robinson" --json
[ "$(field "['artist']")/$(field "['track']")" = "Simon - Garfunkel/Mrs Robinson" ] && ok || bad "dashed artist: $(cat "$T/out")"
expect 0 "predict track with a dash" -- "$BIN" predict "$T/dash.srm" --user u1 --song "  BJÖRK -  jóga - live" --json
[ "$(field "['track']")" = "Jóga - Live" ] && ok || bad "dashed track: $(cat "$T/out")"
expect 2 "predict accents count" -- "$BIN" predict "$T/dash.srm" --user u1 --song "Bjork - Joga - Live"
expect 0 "predict help" -- "$BIN" predict --help
grep -q "accents and punctuation count" "$T/out" && ! grep -q "accents .*ignored" "$T/out" && ok || bad "predict --help on accents"
printf 'u1 i1 5\nu1 i2 3\nu2 i1 4\n' > "$T/rat.txt"
expect 0 "ingest ratings" -- "$BIN" ingest -q "$T/rat.txt" --format ratings -o "$T/rat.srd"
expect 0 "train ratings" -- "$BIN" train -q "$T/rat.srd" --algo svd --param n_factors=4 -o "$T/rat.srm"
expect 0 "info ratings" -- "$BIN" info --json "$T/rat.srm"
[ "$(field "['data']['transform']")" = raw ] && ok || bad "rating data is kept as given, not cap10: $(field "['data']")"
expect 0 "predict item id" -- "$BIN" predict "$T/rat.srm" --user u2 --song " I2 " --json
[ "$(field "['track']")" = i2 ] && ok || bad "items-only predict: $(cat "$T/out")"

finish

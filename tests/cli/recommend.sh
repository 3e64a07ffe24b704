#!/usr/bin/env bash
# End-to-end checks of `songrec recommend`, `similar` and `search` through the binary: a
# small generated dataset and SVD / item-based k-NN / baseline models; ratings by
# "Artist - Track=R" in another capitalisation, a listening history, blocks, discovery
# options, every output format (JSPF and JSON parsed back), and the errors (unknown
# song, rating off the scale, bad options, a model without similarity); histories that
# give nothing (missing, unreadable, no catalog song), nothing left to recommend or
# similar, and songs of items-only data named by their item id.
# Usage: tests/cli/recommend.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
. "$(dirname "$0")/lib.bash"

for c in recommend similar search; do expect 0 "$c --help" -- "$BIN" $c --help; done
expect 0 "generate" -- "$BIN" generate -q --users 120 --songs 800 --listens 20000 --seed 9 -o "$T/g.jsonl"
expect 0 "ingest" -- "$BIN" ingest -q "$T/g.jsonl" -o "$T/d.srd"
expect 0 "train svd" -- "$BIN" train -q "$T/d.srd" --algo svd --param n_factors=20 -o "$T/svd.srm"
expect 0 "train svd f16" -- "$BIN" train -q "$T/d.srd" --algo svd --param n_factors=20 --precision f16 -o "$T/svd16.srm"
expect 0 "train item knn" -- "$BIN" train -q "$T/d.srd" --algo knn_basic --param user_based=false -o "$T/iknn.srm"
expect 0 "train baseline" -- "$BIN" train -q "$T/d.srd" --algo baseline_only -o "$T/bo.srm"

# Three popular songs and one user's history, from the search and the generated file.
expect 0 "search songs json" -- "$BIN" search "$T/svd.srm" "a" --kind song -n 3 --json
mapfile -t songs < <(python3 -c "
import json,sys
for l in open(sys.argv[1]):
    d=json.loads(l); assert d['kind']=='song'; print(d['artist']+' - '+d['track'])" "$T/out")
[ "${#songs[@]}" -eq 3 ] && ok || bad "search returned ${#songs[@]} songs, wanted 3"
python3 - "$T/g.jsonl" "$T/one.jsonl" <<'PY'
import json, sys
user = None
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for line in f:
        d = json.loads(line)
        user = user or d["user_name"]
        if d["user_name"] == user:
            o.write(line)
PY

# search
expect 0 "search artists" -- "$BIN" search "$T/svd.srm" "the" --kind artist -n 5
[ "$(grep -c '^artist' "$T/out")" -ge 1 ] && ok || bad "no artist hits for 'the'"
first_artist=${songs[0]%% - *}
expect 0 "search upper case" -- "$BIN" search "$T/svd.srm" "${first_artist^^}" --kind artist -n 1 --json
[ "$(field "['name']")" = "$first_artist" ] && ok || bad "upper-case query did not find '$first_artist'"
expect 0 "artist songs" -- "$BIN" search "$T/svd.srm" --artist "$first_artist" -n 50 --json
python3 -c "
import json,sys
p=[json.loads(l)['popularity'] for l in open(sys.argv[1])]
sys.exit(0 if p and p==sorted(p, reverse=True) else 1)" "$T/out" && ok || bad "artist songs not by popularity"
expect 0 "search nothing" -- "$BIN" search "$T/svd.srm" "zzzzqqqq"
[ ! -s "$T/out" ] && ok || bad "nonsense query found something"
expect 1 "search bad kind" -- "$BIN" search "$T/svd.srm" x --kind band
expect 2 "search unknown artist" -- "$BIN" search "$T/svd.srm" --artist "Nobody At All 123"

# recommend: ratings in another capitalisation, json output
r1="${songs[0]^^}=9"; r2="${songs[1]}=8"; r3="${songs[2]}=2"
expect 0 "recommend table" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" --rate "$r2" --rate "$r3" -n 5
[ "$(grep -c '^ *[0-9]\+\. ' "$T/out")" -eq 5 ] && ok || bad "table should list 5 songs"
grep -q "because you rated" "$T/out" && ok || bad "no explanation in the table"
expect 0 "recommend json" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" --rate "$r2" --rate "$r3" -n 10 --format json
python3 - "$T/out" "${songs[@]}" <<'PY' && ok || bad "recommend json: wrong shape, rated songs or order"
import json, sys
d = json.load(open(sys.argv[1])); rated = {s.lower() for s in sys.argv[2:]}
items = d["items"]
assert len(items) == 10, len(items)
scores = [it["score"] for it in items]
assert scores == sorted(scores, reverse=True)
for it in items:
    assert (it["artist"] + " - " + it["track"]).lower() not in rated
    assert 1 <= it["score"] <= 10
PY
expect 0 "recommend f16 same list" -- "$BIN" recommend "$T/svd16.srm" --rate "$r1" --rate "$r2" --rate "$r3" -n 10 --format json
cp "$T/out" "$T/f16.json"
"$BIN" recommend "$T/svd.srm" --rate "$r1" --rate "$r2" --rate "$r3" -n 10 --format json > "$T/f32.json"
python3 -c "
import json,sys
a=[i['id'] for i in json.load(open(sys.argv[1]))['items']]; b=[i['id'] for i in json.load(open(sys.argv[2]))['items']]
sys.exit(0 if len(set(a)&set(b)) >= 8 else 1)" "$T/f16.json" "$T/f32.json" && ok || bad "f16 and f32 lists differ by more than 2 songs"

# filters
expect 0 "one per artist" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" --rate "$r2" --max-per-artist 1 -n 10 --format json
python3 -c "
import json,sys
a=[i['artist'] for i in json.load(open(sys.argv[1]))['items']]; sys.exit(0 if len(a)==len(set(a))==10 else 1)" "$T/out" && ok || bad "max-per-artist 1 repeated an artist"
expect 0 "exclude rated artists" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" --exclude-rated-artists -n 20 --format json
python3 -c "
import json,sys
a=[i['artist'] for i in json.load(open(sys.argv[1]))['items']]; sys.exit(0 if sys.argv[2] not in a else 1)" "$T/out" "$first_artist" && ok || bad "rated artist still recommended"
top=$(python3 -c "import json,sys; i=json.load(open(sys.argv[1]))['items'][0]; print(i['artist'])" "$T/out")
expect 0 "block artist" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" --exclude-rated-artists --block-artist "$top" -n 20 --format json
python3 -c "
import json,sys
a=[i['artist'] for i in json.load(open(sys.argv[1]))['items']]; sys.exit(0 if sys.argv[2] not in a else 1)" "$T/out" "$top" && ok || bad "blocked artist still recommended"
expect 0 "discovery" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" --discovery 1 -n 5
expect 1 "discovery out of range" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" --discovery 3
expect 1 "n out of range" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" -n 0
expect 1 "bad format" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" --format mp3
expect 2 "unknown song" -- "$BIN" recommend "$T/svd.srm" --rate "Nobody - Nothing=5"
grep -q "no such song" "$T/err" && ok || bad "unknown song message"
expect 2 "rating off scale" -- "$BIN" recommend "$T/svd.srm" --rate "${songs[0]}=11"
grep -q "outside the model's scale" "$T/err" && ok || bad "scale message"
expect 2 "rating not a number" -- "$BIN" recommend "$T/svd.srm" --rate "${songs[0]}=lots"
expect 2 "rating missing" -- "$BIN" recommend "$T/svd.srm" --rate "${songs[0]}"
expect 3 "missing model" -- "$BIN" recommend "$T/nope.srm" --rate "$r1"

# history, other models, exports
expect 0 "recommend from history" -- "$BIN" recommend "$T/svd.srm" --history "$T/one.jsonl" -n 5 --format json
grep -q "listens" "$T/err" && ok || bad "history counts not reported"
[ "$(field "['items'].__len__()")" = 5 ] && ok || bad "history: 5 songs wanted"
expect 0 "item knn" -- "$BIN" recommend "$T/iknn.srm" --rate "$r1" --rate "$r2" -n 5
expect 0 "baseline" -- "$BIN" recommend "$T/bo.srm" --rate "$r1" -n 5
expect 0 "jspf to file" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" --rate "$r2" -n 4 --format jspf -o "$T/p.jspf"
python3 -c "
import json,sys
p=json.load(open(sys.argv[1]))['playlist']; t=p['track']
sys.exit(0 if len(t)==4 and all(x['title'] and x['creator'] for x in t) else 1)" "$T/p.jspf" && ok || bad "JSPF file shape"
expect 0 "xspf" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" -n 3 --format xspf
python3 -c "
import sys, xml.etree.ElementTree as E
r=E.parse(sys.argv[1]).getroot(); ns={'x':'http://xspf.org/ns/0/'}
sys.exit(0 if len(r.findall('x:trackList/x:track', ns))==3 else 1)" "$T/out" && ok || bad "XSPF not 3 tracks"
expect 0 "csv" -- "$BIN" recommend "$T/svd.srm" --rate "$r1" -n 3 --format csv
[ "$(head -1 "$T/out" | tr -d '\r')" = "rank,artist,track,score,support,weak,mbid,because" ] && ok || bad "CSV header"

# similar
expect 0 "similar" -- "$BIN" similar "$T/svd.srm" "${songs[0]}" -n 5 --json
python3 - "$T/out" <<'PY' && ok || bad "similar: shape or order"
import json, sys
d = json.load(open(sys.argv[1])); s = d["similar"]
assert len(s) == 5 and all(x["id"] != d["song"]["id"] for x in s)
sims = [x["similarity"] for x in s]
assert sims == sorted(sims, reverse=True) and all(-1.0001 <= v <= 1.0001 for v in sims)
PY
expect 0 "similar item knn" -- "$BIN" similar "$T/iknn.srm" "${songs[0]}" -n 5
expect 1 "similar baseline has none" -- "$BIN" similar "$T/bo.srm" "${songs[0]}"
grep -q "no notion of song similarity" "$T/err" && ok || bad "baseline similar message"
expect 0 "similar artists" -- "$BIN" similar "$T/svd.srm" --artist "$first_artist" -n 4 --json
python3 - "$T/out" "$first_artist" <<'PY' && ok || bad "similar artists: shape or order"
import json, sys
d = json.load(open(sys.argv[1])); s = d["similar"]
assert d["artist"]["name"] == sys.argv[2] and 0 < len(s) <= 4
assert all(x["name"] != sys.argv[2] for x in s)
sims = [x["similarity"] for x in s]
assert sims == sorted(sims, reverse=True)
PY
expect 2 "similar unknown artist" -- "$BIN" similar "$T/svd.srm" --artist "Nobody At All 123"
expect 2 "similar unknown song" -- "$BIN" similar "$T/svd.srm" "Nobody - Nothing"

# histories that give nothing: a missing file is an I/O error naming it; a file of
# which no listen can be read (no known format, the wrong --history-format) is refused
# with the reader's first problem; one whose listens are all of songs the model lacks
# says so, and that the list is not personalised
expect 3 "history missing" -- "$BIN" recommend "$T/svd.srm" --history "$T/nope.jsonl" -n 3
grep -q "nope.jsonl: No such file" "$T/err" && ok || bad "missing history: $(cat "$T/err")"
[ ! -s "$T/out" ] && ok || bad "missing history still recommended"
expect 2 "history not a history" -- "$BIN" recommend "$T/svd.srm" --history "$T/svd.srm" -n 3
grep -q "svd.srm: cannot tell the format.*no listen could be read (1 bad record skipped)" "$T/err" && ok || bad "binary history: $(cat "$T/err")"
[ ! -s "$T/out" ] && ok || bad "binary history still recommended"
expect 2 "history wrong format" -- "$BIN" recommend "$T/svd.srm" --history "$T/one.jsonl" --history-format spotify -n 3
grep -q "one.jsonl: .*no listen could be read" "$T/err" && ok || bad "wrong-format history: $(cat "$T/err")"
printf 'user_name,artist_name,track_name,listened_at\nx,Nobody 123,Nothing,1500000000\nx,Nobody 123,Else,1500000100\n' > "$T/none.csv"
expect 0 "history of unknown songs" -- "$BIN" recommend "$T/svd.srm" --history "$T/none.csv" -n 3
grep -q "none.csv: none of its 2 listens is of a song in the model's catalog" "$T/err" && ok || bad "unknown-songs history: $(cat "$T/err")"
grep -q "not personalised" "$T/err" && ok || bad "unpersonalised list not said"
expect 0 "history summary" -- "$BIN" recommend "$T/svd.srm" --history "$T/one.jsonl" -n 3
nl=$(wc -l < "$T/one.jsonl")
grep -q "one.jsonl: $nl listens read: $nl of [0-9]* songs in the catalog" "$T/err" && ok || bad "history summary: $(cat "$T/err")"

# nothing left to recommend, nothing similar: a note on stderr, exit 0
printf 'user_name,artist_name,track_name,listened_at\nu1,Solo,Only,1500000000\nu2,Solo,Only,1500000300\n' > "$T/solo.csv"
expect 0 "ingest one song" -- "$BIN" ingest -q "$T/solo.csv" -o "$T/solo.srd"
expect 0 "train one song" -- "$BIN" train -q "$T/solo.srd" --algo svd --param n_factors=4 -o "$T/solo.srm"
expect 0 "recommend all rated" -- "$BIN" recommend "$T/solo.srm" --rate "solo - only=5"
grep -q "no songs left to recommend" "$T/err" && ok || bad "all rated: no note"
expect 0 "similar none" -- "$BIN" similar "$T/solo.srm" "Solo - Only"
grep -q "no similar songs" "$T/err" && ok || bad "no similar songs: no note"
expect 0 "similar artists none" -- "$BIN" similar "$T/solo.srm" --artist Solo
grep -q "no similar artists" "$T/err" && ok || bad "no similar artists: no note"

# items-only data (play-count triplets, rating triples): a song is named by its item id
printf 'u1\tSOA\t3\nu1\tSOB\t1\nu2\tSOA\t5\nu2\tSOC\t2\nu3\tSOB\t2\nu3\tSOC\t4\n' > "$T/trip.txt"
expect 0 "ingest triplets" -- "$BIN" ingest -q "$T/trip.txt" --format triplets -o "$T/trip.srd"
expect 0 "train als on triplets" -- "$BIN" train -q "$T/trip.srd" --algo als --param factors=4 -o "$T/trip.srm"
expect 0 "recommend by item id" -- "$BIN" recommend "$T/trip.srm" --rate "soa=3" --format json
python3 -c "
import json,sys
t=sorted(i['track'] for i in json.load(open(sys.argv[1]))['items']); sys.exit(0 if t==['SOB','SOC'] else 1)" "$T/out" && ok || bad "items-only recommend: $(cat "$T/out")"
expect 0 "recommend items-only table" -- "$BIN" recommend "$T/trip.srm" --rate "SOA=3" --block-song SOB
grep -q '^ 1\. .*  SOC' "$T/out" && ! grep -q ' - SO' "$T/out" && ok || bad "items-only table: $(cat "$T/out")"
expect 0 "similar by item id" -- "$BIN" similar "$T/trip.srm" SOA --json
[ "$(field "['song']['track']")" = SOA ] && ok || bad "items-only similar: $(cat "$T/out")"
printf 'u1 i1 5\nu1 i2 3\nu2 i1 4\nu2 i3 2\nu3 i2 4\nu3 i3 5\n' > "$T/rat.txt"
expect 0 "ingest ratings" -- "$BIN" ingest -q "$T/rat.txt" --format ratings -o "$T/rat.srd"
expect 0 "train svd on ratings" -- "$BIN" train -q "$T/rat.srd" --algo svd --param n_factors=4 -o "$T/rat.srm"
expect 0 "recommend by rating item" -- "$BIN" recommend "$T/rat.srm" --rate "I1=4" --format json
[ "$(field "['items'].__len__()")" = 2 ] && ok || bad "ratings items-only recommend: $(cat "$T/out")"
finish

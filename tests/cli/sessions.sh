#!/usr/bin/env bash
# End-to-end checks of per-listen events and the listening-session model: `ingest
# --keep-listens` keeps every timed listen, a dataset without them is refused by
# `--algo sessions` with words, `evaluate --task ranking --algo sessions,popularity` works
# on generated data and every split, grid search takes its parameters, and sessions beats
# popularity clearly both on generated data (the generator plays listens in sessions that
# keep to an artist or genre, src/gen) and on listens with planted session structure
# (albums played in sessions).
# Usage: tests/cli/sessions.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
. "$(dirname "$0")/lib.bash"

ndcg_of() { # ALGO: its NDCG in the ranking JSON in $T/out
  python3 -c "import json,sys; d={m['algo']: m for m in json.load(open(sys.argv[1]))['models']}; print(d[sys.argv[2]]['ndcg'])" "$T/out" "$1"
}

# Generated data: kept events, the model runs.
expect 0 "generate" -- "$BIN" generate -q --users 200 --songs 1500 --listens 40000 --seed 3 -o "$T/g.jsonl"
expect 0 "ingest --keep-listens" -- "$BIN" ingest -q --json --keep-listens "$T/g.jsonl" -o "$T/d.srd"
[ "$(field "['events']")" = 40000 ] && ok || bad "every generated listen is an event"
[ "$(field "['options']['keep_listens']")" = True ] && ok || bad "keep_listens in the meta"
expect 0 "ingest without" -- "$BIN" ingest -q "$T/g.jsonl" -o "$T/plain.srd"
expect 2 "sessions without events" -- "$BIN" evaluate "$T/plain.srd" --task ranking --algo sessions
grep -q "ingest with --keep-listens" "$T/err" && ok || bad "no hint to --keep-listens"
expect 0 "stats of a dataset with events" -- "$BIN" stats "$T/d.srd"
expect 0 "sessions and popularity" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo sessions,popularity --k 10 --json
python3 - "$T/out" <<'PY' && ok || bad "ranking json: shape or bounds"
import json, sys
d = json.load(open(sys.argv[1]))
for m in d["models"]:
    for key in ("precision", "recall", "ndcg", "map", "hit_rate", "coverage"):
        assert 0 <= m[key] <= 1, (m["algo"], key, m[key])
    assert m["users"] > 0 and m["implicit"]
PY
s=$(ndcg_of sessions) p=$(ndcg_of popularity)
echo "sessions.sh: generated data: NDCG@10 sessions $s, popularity $p"
python3 -c "import sys; s, p = map(float, sys.argv[1:]); sys.exit(not s > 1.5 * p)" "$s" "$p" && ok || bad "sessions should beat popularity clearly on generated sessions ($s vs $p)"
expect 0 "time split" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo sessions --test-after 2015-01-01 --json
[ "$(field "['split']")" = time ] && ok || bad "time split name"
expect 0 "last_n split, other parameters" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo sessions --last-n 2 --param sessions.similarity=cosine --param sessions.half_life_days=365 --param sessions.window=4 --json
expect 1 "bad window" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo sessions --param sessions.window=1
expect 1 "bad similarity" -- "$BIN" evaluate "$T/d.srd" --task ranking --algo sessions --param sessions.similarity=jaccard

# Planted sessions: 60 albums of 8 songs (album popularity Zipf-like); each listener plays
# 4-6 albums, each in 2-3 sessions a day or more apart, a session being 4-7 of the album's
# songs three minutes apart. A held-out song's album-mates are in the listener's sessions.
python3 - "$T/p.jsonl" <<'PY'
import json, random, sys
random.seed(1)
A, S, U, t0 = 60, 8, 300, 1514764800
w = [1 / (a + 1) ** 0.8 for a in range(A)]
with open(sys.argv[1], "w") as f:
    for u in range(U):
        albums, want = set(), random.randint(4, 6)
        while len(albums) < want:
            albums.add(random.choices(range(A), w)[0])
        t = t0 + random.randint(0, 86400 * 30)
        for a in sorted(albums, key=lambda _: random.random()):
            for _ in range(random.randint(2, 3)):
                for s in random.sample(range(S), random.randint(4, 7)):
                    f.write(json.dumps({"user_name": "u%03d" % u, "timestamp": t, "track_metadata":
                                        {"artist_name": "Artist %02d" % a, "track_name": "Track %d" % s}}) + "\n")
                    t += 180
                t += 86400 + random.randint(0, 3 * 86400)
PY
expect 0 "ingest planted" -- "$BIN" ingest -q --keep-listens "$T/p.jsonl" -o "$T/p.srd"
expect 0 "planted: sessions and popularity" -- "$BIN" evaluate "$T/p.srd" --task ranking --algo sessions,popularity --k 10 --json
s=$(ndcg_of sessions) p=$(ndcg_of popularity)
echo "sessions.sh: planted sessions: NDCG@10 sessions $s, popularity $p"
python3 -c "import sys; s, p = map(float, sys.argv[1:]); sys.exit(not s > p + 0.3)" "$s" "$p" && ok || bad "sessions should beat popularity clearly on planted sessions ($s vs $p)"
expect 0 "planted: grid" -- "$BIN" gridsearch "$T/p.srd" --task ranking --algo sessions --grid similarity=conditional,cosine,count --grid gap=600,1800 --json
python3 - "$T/out" <<'PY' && ok || bad "sessions grid: shape"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert len(r) == 6 and all(x["ndcg"] > 0.5 for x in r), r
PY
# The model file: trained, saved, opened and asked. A new listener who rates two songs of
# an album gets that album's other songs first, and a song's neighbours are its album's.
expect 0 "train sessions" -- "$BIN" train -q "$T/p.srd" --algo sessions -o "$T/s.srm"
expect 0 "info" -- "$BIN" info "$T/s.srm"
grep -q "sessions" "$T/out" && ok || bad "info does not name the algorithm"
expect 0 "recommend" -- "$BIN" recommend "$T/s.srm" --rate "Artist 05 - Track 0=10" --rate "Artist 05 - Track 1=8" -n 6 --format json
python3 - "$T/out" <<'PY' && ok || bad "sessions recommend: the album's other songs should come first"
import json, sys
items = json.load(open(sys.argv[1]))["items"]
assert len(items) == 6, items
assert all(it["artist"] == "Artist 05" for it in items), [(it["artist"], it["track"]) for it in items]
assert not {it["track"] for it in items} & {"Track 0", "Track 1"}
PY
expect 0 "similar" -- "$BIN" similar "$T/s.srm" "Artist 05 - Track 3" -n 5 --json
python3 - "$T/out" <<'PY' && ok || bad "sessions similar: a song's neighbours should be its album's"
import json, sys
d = json.load(open(sys.argv[1]))
items = d.get("items") or d.get("songs") or d.get("similar")
assert items and len(items) == 5, d
assert all(it["artist"] == "Artist 05" for it in items), items
PY
# Served: the page's 1-10 ratings count as plays, though no pair here has more than 3.
serve_start "$T/s.srm" --db "$T/p.db"
call GET /api/model
js "d['implicit'] and d['rating_scale'] == [1.0, 10.0]" "sessions model: implicit, rated 1..10"
call POST /api/recommend -H 'Content-Type: application/json' --data-binary '{"ratings":[{"artist":"Artist 05","track":"Track 0","rating":10},{"artist":"Artist 05","track":"Track 1","rating":7}],"n":5}'
[ "$code" = 200 ] && ok || bad "recommend with a rating of 10: HTTP $code: $(head -c 300 "$T/body")"
js "len(d['items']) == 5 and all(i['artist'] == 'Artist 05' for i in d['items'])" "served sessions recommend: the album first"
call POST /api/recommend -H 'Content-Type: application/json' --data-binary '{"ratings":[{"artist":"Artist 05","track":"Track 0","rating":11}]}'
[ "$code" = 400 ] && ok || bad "a rating of 11 plays: HTTP $code, wanted 400"
call GET /api/model
js "d['similar'] is True" "sessions model: can find similar songs"
serve_stop
# A model without any notion of song similarity says so, and its similar routes answer 501
expect 0 "train popularity" -- "$BIN" train -q "$T/p.srd" --algo popularity -o "$T/pop.srm"
serve_start "$T/pop.srm" --db "$T/p2.db"
call GET /api/model
js "d['similar'] is False" "popularity: no similar songs"
call GET /api/songs/0/similar
[ "$code" = 501 ] && ok || bad "popularity similar: HTTP $code, wanted 501"
serve_stop
finish

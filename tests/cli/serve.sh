#!/usr/bin/env bash
# End-to-end checks of `songrec serve` through curl: a tiny generated model (with an
# artist whose name is an HTML injection attempt), the server on port 0, and every route
# of docs/API.md with its error cases: search, artists, songs, similar songs, the model,
# recommend (ratings by id and by name, filters, every validation error, body limits),
# profiles (create, ratings new/replaced, 20 concurrent rating POSTs, blocks, PUT with
# GET's source/plays/added and a GET -> PUT round trip, history upload, exports in
# JSON/JSPF/XSPF/CSV, delete), /healthz, /metrics, profile persistence across a restart
# on the same --db, exit 0 on SIGTERM, and then a model of items-only data (rating
# triples), whose songs have no artist, through the profile routes.
# Usage: tests/cli/serve.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
. "$(dirname "$0")/lib.bash"
# check CODE DESCRIPTION METHOD PATH [curl args...]: the status, and for an error the
# JSON error shape {"error": {"status": CODE, "message": "..."}}
check() {
  local want=$1 what=$2; shift 2
  call "$@"
  if [ "$code" != "$want" ]; then
    bad "$what: HTTP $code, wanted $want: $(head -c 300 "$T/body")"
    return 1
  fi
  ok
  if [ "$want" -ge 400 ] && [ "$1" != HEAD ]; then
    js "d['error']['status'] == $want and len(d['error']['message']) > 0" "$what: error shape"
  fi
  return 0
}
# jv EXPR: prints EXPR of the JSON body
jv() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/body"; }
hdr() { grep -i "^$1:" "$T/hdr" | tr -d '\r' | cut -d' ' -f2-; }
post_json() { check "$1" "$2" POST "$3" -H 'Content-Type: application/json' --data-binary "$4"; }
start() { serve_start "$T/m.srm" --db "$T/p.db" --threads 4; }

# ---- the model: a generated history plus an artist named like an HTML injection ----
XA='<script>alert("x")</script> & Co'
XT='"><img src=x onerror=alert(1)>'
expect 0 "serve --help" -- "$BIN" serve --help
expect 1 "serve without a model" -- "$BIN" serve
expect 1 "serve bad port" -- "$BIN" serve "$T/m.srm" --port 70000
expect 0 "generate" -- "$BIN" generate -q --users 40 --songs 300 --listens 6000 --seed 5 -o "$T/g.jsonl"
python3 - "$T/x.jsonl" "$XA" "$XT" << 'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for u in range(6):
        for k in range(3):
            f.write(json.dumps({"user_name": "user_%06d" % (u + 1), "listened_at": 1300000000 + u * 1000 + k,
                                "track_metadata": {"artist_name": sys.argv[2], "track_name": sys.argv[3]}}) + "\n")
EOF
expect 0 "ingest" -- "$BIN" ingest -q "$T/g.jsonl" "$T/x.jsonl" -o "$T/d.srd"
expect 0 "train" -- "$BIN" train -q "$T/d.srd" --algo svd --param n_factors=16 --param n_epochs=10 -o "$T/m.srm"
mkdir -p "$T/about"
printf '{"rmse": {"mean": 2.5, "std": 0.1}, "mae": {"mean": 2.0, "std": 0.1}, "splits": 3}\n' > "$T/about/evaluate.json"
printf '{"results": [' > "$T/about/gridsearch.json"
expect 2 "serve --about with a malformed file" -- "$BIN" serve "$T/m.srm" --port 0 --db "$T/pa.db" --about "$T/about"
grep -q "gridsearch.json" "$T/err" && ok || bad "malformed about file not named"
expect 3 "serve --about missing dir" -- "$BIN" serve "$T/m.srm" --port 0 --db "$T/pa.db" --about "$T/nope"
expect 3 "serve a missing model" -- "$BIN" serve "$T/none.srm" --port 0 --db "$T/p.db"
grep -q "none.srm" "$T/err" && ok || bad "missing model message should name the file"
[ ! -e "$T/p.db" ] && ok || bad "a missing model should stop serve before the store is made"

start

# ---- plain routes ----
check 200 "healthz" GET /healthz && js "d == {'status': 'ok'}" "healthz body"
check 200 "root" GET /  # the web page (or, in a build without it, a pointer to /api)
check 200 "model" GET /api/model
js "d['algorithm'] == 'svd' and d['params']['n_factors'] == 16 and d['scale'] == [1, 10]" "model algo/params/scale"
js "d['sizes']['songs'] > 200 and d['sizes']['artists'] > 10 and d['sizes']['users'] == 40" "model sizes"
js "d['precision'] == 'f32' and d['file'] == 'm.srm' and d['file_size'] > 0 and d['created'].endswith('Z')" "model file"
js "d['evaluation'] is None" "model without --cv has no evaluation"
js "d['implicit'] is False and d['rating_scale'] == [1, 10]" "model: a rating model rated on its scale"
NSONGS=$(jv "d['sizes']['songs']")
check 200 "about" GET /api/about && js "d == {'dataset': None, 'evaluation': None, 'gridsearch': None}" "about without --about"
check 200 "starter" GET "/api/starter?n=5"
js "len(d['items']) == 5 and len({i['artist_id'] for i in d['items']}) == 5" "starter: 5 songs of 5 artists"
check 400 "starter n=0" GET "/api/starter?n=0"
check 400 "starter n=51" GET "/api/starter?n=51"
check 404 "unknown path" GET /api/nothing
check 405 "wrong method" DELETE /api/model
[ "$(hdr Allow)" = "GET, HEAD" ] && ok || bad "405 Allow header: $(hdr Allow)"
hdr X-Content-Type-Options | grep -q nosniff && ok || bad "nosniff header"

# ---- catalog ----
A0=$(curl -s "${URL}api/artists/0" | python3 -c "import json,sys; print(json.load(sys.stdin)['name'])")
Q=$(python3 -c "import sys; print(sys.argv[1].split()[0][:3])" "$A0")
check 200 "search artist" GET "/api/search" -G --data-urlencode "q=$Q" -d kind=artist -d limit=5
js "0 < len(d['hits']) <= 5 and all(h['kind'] == 'artist' and {'id','name','songs','popularity'} <= set(h) for h in d['hits'])" "artist hits"
js "any(h['id'] == 0 for h in d['hits'])" "search finds artist 0"
check 200 "search song" GET "/api/search" -G --data-urlencode "q=$Q" -d kind=song
js "all(h['kind'] == 'song' and {'id','artist_id','artist','track','popularity'} <= set(h) for h in d['hits'])" "song hits"
check 200 "search all" GET "/api/search?q=zzzzqqq" && js "d['hits'] == []" "no hits"
check 200 "search xss" GET "/api/search?q=script&kind=artist"
XID=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print([h['id'] for h in d['hits'] if h['name']==sys.argv[2]][0])" "$T/body" "$XA")
[ -n "$XID" ] && ok || bad "the injection-named artist comes back as the exact JSON string"
hdr Content-Type | grep -q '^application/json' && ok || bad "search content type"
check 400 "search without q" GET /api/search
check 400 "search bad kind" GET "/api/search?q=a&kind=album"
check 400 "search limit 0" GET "/api/search?q=a&limit=0"
check 400 "search limit junk" GET "/api/search?q=a&limit=ten"
check 400 "search too long" GET "/api/search?q=$(printf 'a%.0s' $(seq 300))"
check 200 "artist" GET /api/artists/0 && js "d['id'] == 0 and d['songs'] > 0" "artist fields"
check 200 "artist songs" GET "/api/artists/0/songs?limit=3"
js "len(d['songs']) == min(3, d['total']) and all(s['artist_id'] == 0 for s in d['songs'])" "artist songs"
js "[s['popularity'] for s in d['songs']] == sorted([s['popularity'] for s in d['songs']], reverse=True)" "by popularity"
check 200 "artist songs offset" GET "/api/artists/0/songs?offset=1&limit=1" && js "d['offset'] == 1 and len(d['songs']) <= 1" "offset"
check 404 "unknown artist" GET /api/artists/999999/songs
check 400 "artist id junk" GET /api/artists/x1/songs
check 200 "song" GET /api/songs/5 && js "d['id'] == 5 and d['artist'] and d['track'] and 'mbid' in d" "song fields"
check 404 "unknown song" GET /api/songs/$NSONGS
check 400 "song id junk" GET /api/songs/-1
check 200 "similar" GET "/api/songs/5/similar?n=4"
js "len(d['items']) == 4 and d['song']['id'] == 5 and all(-1 <= i['similarity'] <= 1 and i['id'] != 5 for i in d['items'])" "similar items"
check 400 "similar n=0" GET "/api/songs/5/similar?n=0"
check 400 "similar n=1001" GET "/api/songs/5/similar?n=1001"
check 404 "similar unknown" GET "/api/songs/99999/similar"
check 200 "similar artists" GET "/api/artists/0/similar?n=3"
js "d['artist']['id'] == 0 and 0 < len(d['items']) <= 3 and all(i['id'] != 0 for i in d['items'])" "similar artists items"
js "[i['similarity'] for i in d['items']] == sorted([i['similarity'] for i in d['items']], reverse=True)" "similar artists order"
check 400 "similar artists n=0" GET "/api/artists/0/similar?n=0"
check 404 "similar artists unknown" GET "/api/artists/999999/similar"

# ---- recommend ----
S1=$(curl -s "${URL}api/songs/1" | python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps([d['artist'], d['track'], d['artist_id']]))")
R1=$(python3 -c "import json,sys; a,t,_=json.loads(sys.argv[1]); print(json.dumps({'artist': a.upper(), 'track': t, 'rating': 8}))" "$S1")
AR1=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])[2])" "$S1")
BODY='{"ratings": [{"song": 0, "rating": 10}, {"song": 2, "rating": 9.5}, '$R1', {"artist": "Nobody", "track": "Nothing", "rating": 3}], "n": 5}'
post_json 200 "recommend" /api/recommend "$BODY"
js "len(d['items']) == 5 and d['used'] == 3 and d['unknown'] == 1 and d['model'] == 'svd'" "recommend counts"
js "d['unmatched'] == [{'artist': 'Nobody', 'track': 'Nothing'}]" "recommend unmatched"
js "[i['rank'] for i in d['items']] == [1, 2, 3, 4, 5] and not {0, 1, 2} & {i['id'] for i in d['items']}" "ranks, rated songs left out"
js "all({'id','artist_id','artist','track','score','support','weak','because'} <= set(i) and 1 <= i['score'] <= 10 for i in d['items'])" "item fields"
js "all(set(b) == {'id','artist','track','rating','weight'} and b['id'] in (0, 1, 2) for i in d['items'] for b in i['because'])" "because fields"
FIRST=$(jv "d['items'][0]['id']")
FIRSTA=$(jv "d['items'][0]['artist_id']")
post_json 200 "recommend blocked" /api/recommend '{"ratings": [{"song": 0, "rating": 10}, {"song": 2, "rating": 9.5}], "n": 5, "blocked_songs": ['"$FIRST"'], "blocked_artists": ['"$FIRSTA"']}'
js "all(i['id'] != $FIRST and i['artist_id'] != $FIRSTA for i in d['items'])" "blocked song and artist left out"
post_json 200 "recommend exclude" /api/recommend '{"ratings": [{"song": 1, "rating": 10}], "n": 20, "exclude_rated_artists": true, "max_per_artist": 1, "discovery": 0.5}'
js "all(i['artist_id'] != $AR1 for i in d['items'])" "exclude_rated_artists"
js "len({i['artist_id'] for i in d['items']}) == len(d['items'])" "max_per_artist 1"
post_json 400 "malformed JSON" /api/recommend '{"ratings": [}'
post_json 400 "body not an object" /api/recommend '[1, 2]'
post_json 400 "rating above scale" /api/recommend '{"ratings": [{"song": 0, "rating": 11}]}'
js "'scale' in d['error']['message'] and 'ratings[0]' in d['error']['message']" "scale message names the rating"
post_json 400 "rating not a number" /api/recommend '{"ratings": [{"song": 0, "rating": "9"}]}'
post_json 400 "unknown song id in body" /api/recommend '{"ratings": [{"song": 0, "rating": 5}, {"song": 999999, "rating": 5}]}'
js "'999999' in d['error']['message'] and 'ratings[1]' in d['error']['message']" "unknown id message names it"
post_json 400 "song and name" /api/recommend '{"ratings": [{"song": 0, "artist": "a", "track": "b", "rating": 5}]}'
post_json 400 "n=0" /api/recommend '{"n": 0}'
post_json 400 "n=1001" /api/recommend '{"n": 1001}'
post_json 400 "n not integer" /api/recommend '{"n": 2.5}'
post_json 400 "discovery 2" /api/recommend '{"discovery": 2}'
post_json 400 "exclude not bool" /api/recommend '{"exclude_rated_artists": 1}'
post_json 400 "unknown field" /api/recommend '{"ratingz": []}'
post_json 400 "duplicate key" /api/recommend '{"n": 1, "n": 2}'
post_json 400 "blocked id unknown" /api/recommend '{"blocked_songs": [999999]}'
post_json 404 "unknown token" /api/recommend '{"token": "00000000000000000000000000000000"}'
python3 -c "import json; print(json.dumps({'ratings': [{'song': i % 50, 'rating': 5} for i in range(1001)]}))" > "$T/many.json"
post_json 400 "1001 ratings" /api/recommend "@$T/many.json"
python3 -c "print('{\"ratings\": [' + ','.join(['{\"song\": 1, \"rating\": 5}'] * 3000) + ']}')" > "$T/big.json"
post_json 413 "body over 64 KiB" /api/recommend "@$T/big.json"
check 405 "GET recommend" GET /api/recommend

# ---- profiles ----
post_json 201 "create profile" /api/profiles ''
TOK=$(jv "d['token']")
[[ "$TOK" =~ ^[0-9a-f]{32}$ ]] && ok || bad "token '$TOK' is not 32 hex digits"
[ "$(hdr Location)" = "/api/profiles/$TOK" ] && ok || bad "Location header"
P=/api/profiles/$TOK
check 200 "empty profile" GET "$P" && js "d['ratings'] == [] and d['blocks'] == []" "empty"
post_json 201 "new rating" "$P/ratings" '{"song": 3, "rating": 7}'
js "d['id'] == 3 and d['created'] is True" "new rating body"
post_json 200 "replaced rating" "$P/ratings" '{"song": 3, "rating": 9}'
python3 -c "import json,sys; print(json.dumps({'artist': sys.argv[1], 'track': sys.argv[2], 'rating': 6}))" "$XA" "$XT" > "$T/x.json"
post_json 201 "rating by injection-like name" "$P/ratings" "@$T/x.json"
js "d['id'] is not None and d['artist'] == d['artist'] and d['created']" "injection-named song maps to the catalog"
call GET "/api/songs/$(jv "d['id']")"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if (d['artist_id'], d['artist'], d['track']) == (int(sys.argv[2]), sys.argv[3], sys.argv[4]) else 1)" "$T/body" "$XID" "$XA" "$XT" && ok || bad "the injection-named song comes back exactly"
post_json 201 "rating of an unknown song" "$P/ratings" '{"artist": "Nobody Here", "track": "Not In The Model", "rating": 4}'
js "d['id'] is None" "unknown song id is null"
post_json 400 "rating off scale" "$P/ratings" '{"song": 3, "rating": 0}'
post_json 400 "rating unknown id" "$P/ratings" '{"song": 999999, "rating": 5}'
post_json 400 "rating without rating" "$P/ratings" '{"song": 3}'
post_json 400 "rating blank name" "$P/ratings" '{"artist": " ", "track": "x", "rating": 5}'
post_json 400 "rating malformed" "$P/ratings" '{"song": 3, '
post_json 404 "rating unknown token" /api/profiles/ffffffffffffffffffffffffffffffff/ratings '{"song": 3, "rating": 5}'
post_json 404 "rating malformed token" /api/profiles/not-a-token/ratings '{"song": 3, "rating": 5}'
check 200 "profile with ratings" GET "$P"
js "[(r['id'], r['rating'], r['source']) for r in d['ratings']][:1] == [(3, 9.0, 'rated')]" "replaced rating kept its place"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=[r for r in d['ratings'] if r['artist']==sys.argv[2]]; sys.exit(0 if r and r[0]['track']==sys.argv[3] else 1)" "$T/body" "$XA" "$XT" && ok || bad "injection-like names round-trip as JSON strings"
# 20 concurrent POSTs of different songs to the same profile
pids=()
for i in $(seq 10 29); do
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' --data-binary "{\"song\": $i, \"rating\": 6}" "${URL}api/profiles/$TOK/ratings" > "$T/c$i" &
  pids+=($!)
done
wait "${pids[@]}"
[ "$(cat "$T"/c* | sort | uniq -c | tr -s ' ')" = " 20 201" ] && ok || bad "concurrent POSTs: $(cat "$T"/c* | sort | uniq -c)"
check 200 "profile after concurrent POSTs" GET "$P"
js "set(range(10, 30)) <= {r['id'] for r in d['ratings']} and len(d['ratings']) == 23" "all 20 concurrent ratings present"
check 204 "delete rating" DELETE "$P/ratings/15"
check 404 "delete rating again" DELETE "$P/ratings/15"
check 400 "delete rating junk id" DELETE "$P/ratings/abc"
check 404 "delete rating unknown id" DELETE "$P/ratings/999999"

# blocks
post_json 201 "block song" "$P/blocks" "{\"song\": $FIRST}"
UNTIL=$(($(date +%s) + 3600))
post_json 201 "block artist" "$P/blocks" "{\"artist\": $FIRSTA, \"until\": $UNTIL}"
post_json 200 "block artist again" "$P/blocks" "{\"artist\": $FIRSTA}"
post_json 400 "block unknown song" "$P/blocks" '{"song": 999999}'
post_json 400 "block nothing" "$P/blocks" '{}'
post_json 400 "block both" "$P/blocks" '{"song": 1, "artist": 1}'
post_json 400 "block in the past" "$P/blocks" '{"song": 1, "until": 1000}'
check 200 "profile blocks" GET "$P"
js "sorted((b['kind'], b['id']) for b in d['blocks']) == sorted([('song', $FIRST), ('artist', $FIRSTA)])" "blocks listed with ids"
check 200 "profile recommendations" GET "$P/recommendations?n=10"
js "len(d['items']) == 10 and all(i['id'] != $FIRST for i in d['items'])" "profile export json honours blocks"
check 204 "unblock song" DELETE "$P/blocks/song/$FIRST"
check 404 "unblock song again" DELETE "$P/blocks/song/$FIRST"
check 400 "unblock bad kind" DELETE "$P/blocks/album/1"
check 404 "unblock unknown artist" DELETE "$P/blocks/artist/999999"

# exports
check 200 "export jspf" GET "$P/recommendations?format=jspf&n=7"
hdr Content-Disposition | grep -q 'attachment; filename="songrec-recommendations.jspf"' && ok || bad "jspf Content-Disposition: $(hdr Content-Disposition)"
js "len(d['playlist']['track']) == 7 and all(t['title'] and t['creator'] and 'https://songrec.invalid/ns/track' in t['extension'] for t in d['playlist']['track'])" "jspf structure"
check 200 "export xspf" GET "$P/recommendations?format=xspf&n=3"
python3 -c "import sys, xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); n=len(r.findall('{http://xspf.org/ns/0/}trackList/{http://xspf.org/ns/0/}track')); sys.exit(0 if n == 3 else 1)" "$T/body" && ok || bad "xspf parses with 3 tracks"
check 200 "export csv" GET "$P/recommendations?format=csv&n=4"
[ "$(head -1 "$T/body" | tr -d '\r')" = "rank,artist,track,score,support,weak,mbid,because" ] && [ "$(wc -l < "$T/body")" -eq 5 ] && ok || bad "csv header and 4 rows"
hdr Content-Type | grep -q '^text/csv' && ok || bad "csv content type"
check 400 "export bad format" GET "$P/recommendations?format=mp3"
check 400 "export n=0" GET "$P/recommendations?n=0"
check 404 "export unknown token" GET /api/profiles/0123456789abcdef0123456789abcdef/recommendations

# PUT replaces; a bad PUT changes nothing
check 400 "bad PUT" PUT "$P" -H 'Content-Type: application/json' --data-binary '{"ratings": [{"song": 1, "rating": 5}, {"song": 2, "rating": 50}]}'
check 200 "profile unchanged" GET "$P" && js "len(d['ratings']) == 22" "a refused PUT left the ratings alone"
# a whole profile of 1,000 ratings by long names (about 330 KB, over the 64 KiB of other
# bodies) goes in one PUT; then the usual three
python3 -c "import json; print(json.dumps({'ratings': [{'artist': 'Artist %04d ' % i + 'x' * 120, 'track': 'Track ' + 'y' * 150, 'rating': 5} for i in range(1000)]}))" > "$T/whole.json"
check 200 "PUT a whole profile" PUT "$P" -H 'Content-Type: application/json' --data-binary "@$T/whole.json"
js "len(d['ratings']) == 1000" "PUT a whole profile: all 1,000 in"
check 200 "PUT" PUT "$P" -H 'Content-Type: application/json' --data-binary '{"ratings": [{"song": 1, "rating": 5}, {"song": 2, "rating": 6}, {"artist": "Some One", "track": "Else", "rating": 7}]}'
js "[(r['id'], r['rating']) for r in d['ratings']] == [(1, 5.0), (2, 6.0), (None, 7.0)]" "PUT replaced the ratings"
check 400 "PUT without ratings" PUT "$P" --data-binary '{}'
# PUT takes back what GET answers (source, plays, added): a profile read and put back
# less one rating keeps every other rating exactly as it was
post_json 201 "third profile" /api/profiles ''
P3=/api/profiles/$(jv "d['token']")
check 200 "PUT with source, plays, added" PUT "$P3" --data-binary '{"ratings": [{"song": 1, "rating": 5, "source": "history", "plays": 12, "added": 1600000000}, {"song": 2, "rating": 6, "source": "rated", "plays": 0}, {"artist": "Some One", "track": "Else", "rating": 7, "added": 1600000001}, {"song": 4, "rating": 3, "source": "history", "plays": 0}]}'
js "[(r['id'], r['source'], r['plays'], r['added']) for r in d['ratings']] == [(1, 'history', 12, 1600000000), (2, 'rated', 0, d['updated']), (None, 'rated', 0, 1600000001), (4, 'history', 0, d['updated'])]" "PUT stored source, plays, added (absent: rated, 0, now)"
cp "$T/body" "$T/p3.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=[{k: v for k, v in x.items() if k != 'id'} for x in d['ratings']]; del r[1]; print(json.dumps({'ratings': r}))" "$T/p3.json" > "$T/p3put.json"
check 200 "PUT back less one" PUT "$P3" --data-binary "@$T/p3put.json"
# same_p3: the ratings of the last answer are those of p3.json less the second
same_p3() { python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['ratings']; b=json.load(open(sys.argv[2]))['ratings']; del a[1]; sys.exit(0 if a == b else 1)" "$T/p3.json" "$T/body" && ok || bad "$1: $(head -c 300 "$T/body")"; }
check 200 "GET after PUT back" GET "$P3" && same_p3 "a profile put back less one rating changed"
for f in '"source": "played"' '"source": 1' '"plays": -1, "source": "history"' '"plays": 2.5, "source": "history"' \
  '"plays": 4294967296, "source": "history"' '"plays": 3' '"plays": 3, "source": "rated"' '"added": 0' '"added": -5' \
  "\"added\": $(($(date +%s) + 2 * 86400))" '"added": "1600000000"' '"id": 1' '"source": "history"'; do
  check 400 "PUT refuses {$f}" PUT "$P3" --data-binary "{\"ratings\": [{\"song\": 1, \"rating\": 5}, {\"song\": 2, \"rating\": 6, $f}]}"
  FIELD=$(echo "$f" | cut -d'"' -f2)
  js "d['error']['message'].startswith('ratings[1]: ') and '\"$FIELD\"' in d['error']['message']" "PUT refuses {$f}: the message names the index and the field"
done
check 200 "GET after refused PUTs" GET "$P3" && same_p3 "a refused PUT changed the profile"
# a history rating from another model's scale (64 plays of an implicit model) is put back
# clamped to this one's, its plays kept; a hand rating off the scale is still refused
check 200 "PUT a history rating off the scale" PUT "$P3" --data-binary '{"ratings": [{"song": 1, "rating": 64, "source": "history", "plays": 64}]}'
check 200 "GET it" GET "$P3"
js "[(r['rating'], r['source'], r['plays']) for r in d['ratings']] == [(10.0, 'history', 64)]" "history rating clamped, plays kept"
check 400 "PUT a hand rating off the scale" PUT "$P3" --data-binary '{"ratings": [{"song": 1, "rating": 64}]}'
post_json 400 "POST rating takes no source" "$P3/ratings" '{"song": 1, "rating": 5, "source": "history"}'
post_json 400 "recommend takes no plays" /api/recommend '{"ratings": [{"song": 1, "rating": 5, "plays": 3}]}'
check 204 "delete third profile" DELETE "$P3"
# a profile at its limit of 1,000 ratings: a new one is 409, a replaced one is fine
post_json 201 "second profile" /api/profiles ''
P2=/api/profiles/$(jv "d['token']")
python3 -c "import json; print(json.dumps({'ratings': [{'artist': 'A%d' % i, 'track': 'T', 'rating': 5} for i in range(1000)]}))" > "$T/full.json"
check 200 "PUT 1000 ratings" PUT "$P2" --data-binary "@$T/full.json" && js "len(d['ratings']) == 1000" "1000 stored"
post_json 409 "rating past the limit" "$P2/ratings" '{"song": 1, "rating": 5}'
post_json 200 "replace at the limit" "$P2/ratings" '{"artist": "a0", "track": "t", "rating": 6}'
check 204 "delete second profile" DELETE "$P2"

# history upload: the listens of one generated user, plus songs the model lacks
grep '"user_name":"user_000003"' "$T/g.jsonl" | head -200 > "$T/h.jsonl"
python3 -c "
import json
for k in range(5): print(json.dumps({'user_name': 'me', 'listened_at': 1500000000 + k, 'track_metadata': {'artist_name': 'Unheard Of', 'track_name': 'Song %d' % k}}))" >> "$T/h.jsonl"
NH=$(wc -l < "$T/h.jsonl")
check 200 "history upload" POST "$P/history?filename=listens.jsonl" --data-binary "@$T/h.jsonl"
js "d['listens'] == $NH and d['unmatched'] == 5 and d['matched'] == $NH - 5 and d['songs'] > 0 and d['added'] + d['updated'] + d['kept_rated'] == d['songs']" "history counts"
NADD=$(jv "d['added']")
NKEPT=$(jv "d['kept_rated']")
check 200 "profile after history" GET "$P"
js "sum(r['source'] == 'history' for r in d['ratings']) == $NADD and all(r['plays'] >= 1 for r in d['ratings'] if r['source'] == 'history')" "history ratings stored with plays"
check 400 "history empty" POST "$P/history" --data-binary ''
check 400 "history garbage" POST "$P/history" --data-binary 'this is not a listening history'
js "'upload' in d['error']['message'] and '/tmp' not in d['error']['message']" "history garbage: says why, without the spool path"
check 400 "history bad format" POST "$P/history?format=mp3" --data-binary "@$T/h.jsonl"
head -c $((33 << 20)) /dev/zero > "$T/huge"
check 413 "history over 32 MiB" POST "$P/history" --data-binary "@$T/huge"
rm -f "$T/huge"
check 404 "history unknown token" POST /api/profiles/0123456789abcdef0123456789abcdef/history --data-binary "@$T/h.jsonl"
post_json 200 "recommend with token" /api/recommend "{\"token\": \"$TOK\", \"ratings\": [{\"song\": 40, \"rating\": 10}], \"n\": 3}"
js "len(d['items']) == 3 and d['used'] >= 3" "token ratings used"
# a profile restored by PUT from its GET keeps its history ratings as history: a new
# upload updates those and keeps the hand-set ones (kept_rated); here one history
# rating is put back as set by hand
call GET "$P"
python3 -c "
import json, sys
r = [{k: v for k, v in x.items() if k != 'id'} for x in json.load(open(sys.argv[1]))['ratings']]
h = [x for x in r if x['source'] == 'history'][0]
h['source'], h['plays'] = 'rated', 0
print(json.dumps({'ratings': r}))" "$T/body" > "$T/restore.json"
post_json 201 "profile to restore into" /api/profiles ''
P4=/api/profiles/$(jv "d['token']")
check 200 "restore ratings with PUT" PUT "$P4" --data-binary "@$T/restore.json"
js "sum(r['source'] == 'history' for r in d['ratings']) == $NADD - 1" "restored history ratings stay history"
check 200 "history upload onto restored ratings" POST "$P4/history?filename=listens.jsonl" --data-binary "@$T/h.jsonl"
js "d['added'] == 0 and d['updated'] == $NADD - 1 and d['kept_rated'] == $NKEPT + 1" "restored: history ratings updated, hand-set ones kept"
check 204 "delete restored profile" DELETE "$P4"

# ---- metrics, then persistence across a restart ----
check 200 "metrics" GET /metrics
grep -q 'route="recommend"' "$T/body" && ok || bad "metrics lack the recommend route"
hdr Content-Type | grep -q '^text/plain' && ok || bad "metrics content type"
call GET "$P"
cp "$T/body" "$T/before.json"
serve_stop
start
check 200 "profile after restart" GET "$P"
python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if a['ratings']==b['ratings'] and a['blocks']==b['blocks'] and len(a['ratings']) > 3 else 1)" "$T/before.json" "$T/body" && ok || bad "profile changed across the restart"
check 204 "clear ratings" DELETE "$P/ratings"
check 200 "cleared" GET "$P" && js "d['ratings'] == [] and len(d['blocks']) == 1" "ratings cleared, blocks kept"
check 204 "delete profile" DELETE "$P"
check 404 "deleted profile" GET "$P"
check 404 "delete again" DELETE "$P"
check 404 "malformed token" GET /api/profiles/xyz
serve_stop

# ---- items-only data (rating triples): songs without an artist, named by their track ----
python3 -c "
for u in range(8):
    for i in range(6):
        if (u + i) % 3: print('u%d i%d %d' % (u, i, 1 + (u * 7 + i * 3) % 5))" > "$T/items.txt"
expect 0 "ingest items-only" -- "$BIN" ingest -q "$T/items.txt" --format ratings -o "$T/i.srd"
expect 0 "train items-only" -- "$BIN" train -q "$T/i.srd" --algo svd --param n_factors=4 -o "$T/i.srm"
serve_start "$T/i.srm" --db "$T/pi.db"
check 200 "items-only song 0" GET /api/songs/0 && js "d['artist'] == '' and d['track'].startswith('i')" "a song without an artist"
I0=$(jv "d['track']")
I1=$(curl -s "${URL}api/songs/1" | python3 -c "import json,sys; print(json.load(sys.stdin)['track'])")
post_json 201 "profile (items-only)" /api/profiles ''
PI=/api/profiles/$(jv "d['token']")
post_json 201 "rate a song without an artist by id" "$PI/ratings" '{"song": 0, "rating": 4}'
js "d['id'] == 0 and d['artist'] == '' and d['track'] == '$I0'" "stored with the catalog's names"
post_json 201 "rate a song without an artist by names" "$PI/ratings" "{\"artist\": \"\", \"track\": \"${I1^^}\", \"rating\": 2}"
js "d['id'] == 1 and d['created']" "found by its track alone"
post_json 400 "blank artist, a track not in the catalog" "$PI/ratings" '{"artist": " ", "track": "no such item", "rating": 2}'
js "'artist is blank' in d['error']['message']" "says the artist is blank"
post_json 400 "blank artist and track" "$PI/ratings" '{"artist": "", "track": " ", "rating": 2}'
post_json 200 "recommend: a blank artist not in the catalog is unknown" /api/recommend '{"ratings": [{"artist": "", "track": "no such item", "rating": 2}]}'
js "d['unknown'] == 1" "counted unknown"
post_json 201 "block a song without an artist" "$PI/blocks" '{"song": 2}'
post_json 400 "block the artist without a name" "$PI/blocks" '{"artist": 0}'
check 404 "unblock the artist without a name" DELETE "$PI/blocks/artist/0"
check 200 "items-only profile" GET "$PI"
js "[(r['id'], r['artist']) for r in d['ratings']] == [(0, ''), (1, '')] and [(b['id'], b['artist']) for b in d['blocks']] == [(2, '')]" "ratings and block map to their songs"
check 200 "items-only recommendations" POST /api/recommend -d "{\"token\": \"${PI##*/}\", \"n\": 3}"
js "d['used'] == 2 and d['unknown'] == 0 and len(d['items']) > 0 and all(i['id'] not in (0, 1, 2) and i['artist'] == '' for i in d['items'])" "recommended from the stored ratings, block honoured"
check 200 "items-only export csv" GET "$PI/recommendations?format=csv&n=3"
python3 -c "import csv,re,sys; r=list(csv.DictReader(open(sys.argv[1], newline=''))); sys.exit(0 if r and all(x['artist'] == '' and re.fullmatch('i[0-9]+', x['track']) for x in r) else 1)" "$T/body" && ok || bad "csv rows of songs without an artist: $(head -c 300 "$T/body")"
check 200 "items-only export jspf" GET "$PI/recommendations?format=jspf&n=3"
js "d['playlist']['track'] and all(__import__('re').fullmatch('i[0-9]+', t['title']) and not t.get('creator') for t in d['playlist']['track'])" "jspf titles are the tracks alone"
check 200 "items-only export xspf" GET "$PI/recommendations?format=xspf&n=3"
python3 -c "import re,sys, xml.etree.ElementTree as E; ns='{http://xspf.org/ns/0/}'; t=E.parse(sys.argv[1]).getroot().findall(ns+'trackList/'+ns+'track'); sys.exit(0 if t and all(re.fullmatch('i[0-9]+', x.findtext(ns+'title')) and not x.findtext(ns+'creator') for x in t) else 1)" "$T/body" && ok || bad "xspf titles of songs without an artist"
# two songs new to the profile, and the one rated by hand (kept)
read -r H1 H2 < <(for i in 0 1 2 3 4 5; do [ "i$i" != "$I0" ] && [ "i$i" != "$I1" ] && echo "i$i"; done | head -2 | tr '\n' ' ')
printf 'me %s 5\nme %s 2\nme %s 1\n' "$H1" "$H2" "$I0" > "$T/ih.txt"
check 200 "history upload (items-only)" POST "$PI/history?format=ratings" --data-binary "@$T/ih.txt"
js "d['matched'] == 3 and d['added'] == 2 and d['kept_rated'] == 1" "history songs without an artist stored"
check 200 "items-only profile after history" GET "$PI"
js "sorted(r['track'] for r in d['ratings'] if r['source'] == 'history') == ['$H1', '$H2'] and all(r['artist'] == '' and r['id'] is not None for r in d['ratings'])" "history ratings of songs without an artist"
cp "$T/body" "$T/pi.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({'ratings': [{k: v for k, v in r.items() if k != 'id'} for r in d['ratings']]}))" "$T/pi.json" > "$T/piput.json"
check 200 "items-only PUT back" PUT "$PI" --data-binary "@$T/piput.json"
python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if a['ratings'] == b['ratings'] else 1)" "$T/pi.json" "$T/body" && ok || bad "items-only profile changed when put back"
check 204 "delete a rating of a song without an artist" DELETE "$PI/ratings/1"
check 404 "delete it again" DELETE "$PI/ratings/1"
serve_stop

finish

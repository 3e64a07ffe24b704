#!/usr/bin/env bash
# End-to-end checks of `songrec ingest` and `songrec stats` through the binary: every
# fixture format, archives and compression, stdin and globs, user names from file names
# and user.json, bad input counted / --strict / --max-errors, atomic output, exit codes.
# Usage: tests/cli/ingest.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
. "$(dirname "$0")/lib.bash"

# --- help and usage
for c in ingest stats generate; do expect 0 "$c --help" -- "$BIN" $c --help; done
expect 0 "top-level help" -- "$BIN" --help
expect 1 "unknown command" -- "$BIN" frobnicate
expect 1 "ingest without output" -- "$BIN" ingest fixtures/text/simple.csv
expect 1 "ingest unknown format" -- "$BIN" ingest --format nope fixtures/text/simple.csv -o "$T/x.srd"
expect 1 "ingest bad --columns role" -- "$BIN" ingest --columns colour=X fixtures/text/simple.csv -o "$T/x.srd"
expect 1 "ingest bad --since" -- "$BIN" ingest --since yesterday fixtures/text/simple.csv -o "$T/x.srd"
expect 0 "list formats" -- "$BIN" ingest --list-formats
grep -q lastfm-1k "$T/out" && ok || bad "list-formats lacks lastfm-1k"

# --- every fixture of every format reads, detected by content and name
for f in fixtures/text/bigquery.csv fixtures/text/reordered.csv fixtures/text/simple.csv \
         fixtures/text/listens.tsv fixtures/text/lastfm1k.tsv \
         fixtures/text/train_triplets_sample.txt fixtures/text/u.data fixtures/text/ratings.dat \
         fixtures/json/dump.listens fixtures/json/api.jsonl fixtures/json/spark.json \
         fixtures/json/alice_lb-2019-01-01.json fixtures/json/bob_lb-2021-05-01.json \
         fixtures/json/api_response.json; do
  expect 0 "ingest $f" -- "$BIN" ingest --json "$f" -o "$T/one.srd"
  n=$(field "['accepted']" 2>/dev/null || echo 0)
  [ "${n:-0}" -gt 0 ] && ok || bad "$f: no records accepted"
  expect 0 "stats of $f" -- "$BIN" stats "$T/one.srd" --json
done
expect 0 "lastfm-csv with --user" -- "$BIN" ingest --user dan fixtures/text/lastfm.csv -o "$T/lf.srd"
# formats with no user inside need --user (or fail clearly)
expect 0 "spotify with --user" -- "$BIN" ingest --user carol fixtures/json/StreamingHistory0.json -o "$T/sp.srd"
expect 2 "spotify without a user" -- "$BIN" ingest fixtures/json/StreamingHistory0.json -o "$T/sp2.srd"
grep -q -- "--user" "$T/err" && ok || bad "no-user message should mention --user"
[ ! -e "$T/sp2.srd" ] && ok || bad "failed ingest left an output file"

# --- compression, archives, stdin, globs
cp fixtures/json/dump.listens "$T/d.listens"
expect 0 "plain" -- "$BIN" ingest --json "$T/d.listens" -o "$T/plain.srd"
want=$(field "['listens']")
for z in gzip xz zstd; do
  $z -c "$T/d.listens" > "$T/d.listens.$z"
  expect 0 "$z input" -- "$BIN" ingest --json "$T/d.listens.$z" -o "$T/z.srd"
  [ "$(field "['listens']")" = "$want" ] && ok || bad "$z input: listens differ"
done
D=listenbrainz-listens-dump-9-20250315-000000-full
mkdir -p "$T/$D/listens/2018" "$T/$D/listens/2019"
echo licence > "$T/$D/COPYING"; echo 1 > "$T/$D/SCHEMA_SEQUENCE"
head -n 3 fixtures/json/dump.listens > "$T/$D/listens/2018/3.listens"
tail -n +4 fixtures/json/dump.listens > "$T/$D/listens/2019/12.listens"
(cd "$T" && tar -cf - "$D" | zstd -q -c > dump.tar.zst && tar -cJf dump.tar.xz "$D" && tar -czf dump.tar.gz "$D" && tar -cf dump.tar "$D")
for a in dump.tar.zst dump.tar.xz dump.tar.gz dump.tar; do
  expect 0 "archive $a" -- "$BIN" ingest --json "$T/$a" -o "$T/a.srd"
  [ "$(field "['listens']")" = "$want" ] && ok || bad "archive $a: listens differ from plain"
done
expect 0 "stdin" -- sh -c "cat '$T/d.listens' | '$BIN' ingest --json - -o '$T/stdin.srd'"
[ "$(field "['listens']")" = "$want" ] && ok || bad "stdin: listens differ"
expect 0 "glob" -- "$BIN" ingest --json "fixtures/json/*_lb-*.json" -o "$T/glob.srd"
[ "$(field "['users']")" = 2 ] && ok || bad "glob over alice and bob exports: users != 2"
# LB 2024+ zip export: user from user.json
mkdir -p "$T/zip/listens/2024"
echo '{"user_id": 7, "username": "zoe"}' > "$T/zip/user.json"
cp fixtures/json/export_2024.jsonl "$T/zip/listens/2024/10.jsonl"
echo '{"recording_msid":"x","score":1}' > "$T/zip/feedback.jsonl"
(cd "$T/zip" && zip -q -r ../export.zip user.json listens feedback.jsonl)
expect 0 "zip export" -- "$BIN" ingest --json "$T/export.zip" -o "$T/zip.srd"
expect 0 "stats of zip export" -- "$BIN" stats --json "$T/zip.srd" --top 3
grep -aq zoe "$T/zip.srd" && ok || bad "zip export: user from user.json not used"

# --- bad input: counted, reported with file:line, --strict, --max-errors
expect 0 "bad lines skipped" -- "$BIN" ingest --json fixtures/json/bad.listens -o "$T/bad.srd"
grep -q "bad.listens:[0-9]*:" "$T/err" && ok || bad "bad lines not reported as file:line"
python3 -c "import json; d=json.load(open('$T/out')); assert sum(d['skipped'].values()) > 0" && ok || bad "skip counts missing from --json"
expect 2 "--strict" -- "$BIN" ingest --strict fixtures/json/bad.listens -o "$T/strict.srd"
grep -q "bad.listens:[0-9]*:.*--strict" "$T/err" && ok || bad "--strict message lacks file:line"
[ ! -e "$T/strict.srd" ] && ok || bad "--strict left an output file"
expect 2 "--max-errors 1" -- "$BIN" ingest --max-errors 1 fixtures/json/bad.listens -o "$T/max.srd"
expect 0 "unreadable file skipped, others read" -- "$BIN" ingest --json "$T/missing.jsonl" fixtures/json/dump.listens -o "$T/m.srd"
[ "$(field "['skipped']['unreadable']")" = 1 ] && ok || bad "missing file not counted as unreadable"
expect 2 "unreadable file with --strict" -- "$BIN" ingest --strict "$T/missing.jsonl" fixtures/json/dump.listens -o "$T/m2.srd"
head -c 200 "$T/dump.tar.zst" > "$T/cut.tar.zst"
expect 0 "truncated archive counted" -- "$BIN" ingest --json "$T/cut.tar.zst" fixtures/json/dump.listens -o "$T/t.srd"
[ "$(field "['skipped']['truncated']")" -ge 1 ] && ok || bad "truncated archive not counted"
printf 'not\x01 any known\x02 format\n' > "$T/junk.bin"
expect 2 "nothing usable" -- "$BIN" ingest "$T/junk.bin" -o "$T/j.srd"
expect 2 "mixing ratings and plays" -- "$BIN" ingest fixtures/text/u.data fixtures/json/dump.listens -o "$T/mix.srd"

# --- output: atomic, clear I/O errors, previous file kept
expect 3 "unwritable output" -- "$BIN" ingest fixtures/json/dump.listens -o /nonexistent/dir/x.srd
cp "$T/plain.srd" "$T/keep.srd"
expect 2 "failed run keeps the old file" -- "$BIN" ingest "$T/junk.bin" -o "$T/keep.srd"
cmp -s "$T/plain.srd" "$T/keep.srd" && ok || bad "old output changed by a failed run"
ls "$T"/keep.srd.tmp.* > /dev/null 2>&1 && bad "temp file left behind" || ok

# --- filters
expect 0 "top-songs" -- "$BIN" ingest --json --top-songs 2 fixtures/text/bigquery.csv -o "$T/top.srd"
[ "$(field "['songs']")" -le 2 ] && ok || bad "--top-songs 2 kept more songs"
expect 0 "since/until" -- "$BIN" ingest --json --since 2016-01-01 --until 2100-01-01 fixtures/text/bigquery.csv -o "$T/since.srd"

# --- song keys: two spellings of one recording merge with --song-key mbid
M=22222222-2222-4222-8222-222222222222
cat > "$T/mbid.jsonl" <<JSONL
{"user_name": "amy", "listened_at": 1514764800, "track_metadata": {"artist_name": "Band", "track_name": "Song (Live)", "additional_info": {"recording_mbid": "$M"}}}
{"user_name": "amy", "listened_at": 1514764900, "track_metadata": {"artist_name": "Band", "track_name": "Song - Live", "additional_info": {"recording_mbid": "$M"}}}
{"user_name": "amy", "listened_at": 1514765000, "track_metadata": {"artist_name": "band", "track_name": "SONG - live"}}
JSONL
expect 0 "song key name" -- "$BIN" ingest --json "$T/mbid.jsonl" -o "$T/name.srd"
[ "$(field "['songs']")" = 2 ] && ok || bad "by name: want 2 songs (case-folded spellings merge)"
expect 0 "song key mbid" -- "$BIN" ingest --json --song-key mbid "$T/mbid.jsonl" -o "$T/mbid.srd"
[ "$(field "['songs']")" = 2 ] && ok || bad "by mbid: want 2 songs (one MBID, one name-keyed)"
expect 0 "stats of mbid dataset" -- "$BIN" stats --json "$T/mbid.srd"
python3 -c "import json; d=json.load(open('$T/out')); assert d['plays_per_pair']['max'] == 2, d['plays_per_pair']" && ok || bad "by mbid: the two spellings should be one pair of 2 plays"

# --- stats on damaged files
printf 'SRDATA\r\n' > "$T/short.srd"
expect 2 "stats of a truncated dataset" -- "$BIN" stats "$T/short.srd"
expect 3 "stats of a missing dataset" -- "$BIN" stats "$T/nope.srd"
expect 0 "stats --plot" -- "$BIN" stats "$T/plain.srd" --plot "$T/charts"
[ -s "$T/charts/plays_per_pair.svg" ] && [ -s "$T/charts/ratings.svg" ] && ok || bad "charts not written"

# Records a reader cannot parse are read records too: read = accepted + skipped.
printf 'u1\tSOA\t3\nu1\tSOB\t1\nu2\tSOA\t5\nu2\tSOC\t2\nu3\tSOB\t0\nu3\tSOC\tx\nu3\tSOA\t-1\n' > "$T/t7.txt"
expect 0 "triplets with bad counts" -- "$BIN" ingest --json --format triplets "$T/t7.txt" -o "$T/t7.srd"
[ "$(field "['records']") $(field "['accepted']") $(field "['skipped']['bad_value']")" = "7 4 3" ] && ok || bad "read/accepted/skipped: $(cat "$T/out")"

# A declared rating scale: kept with the dataset, the models' scale though the data's own
# range is narrower; ratings outside it skipped; refused for play counts and when bad.
printf 'u1 i1 2\nu1 i2 4\nu2 i1 3\nu2 i3 4\nu3 i1 6\nu3 i2 2\n' > "$T/r.txt"
expect 0 "ingest --scale 1..5" -- "$BIN" ingest --json --format ratings --scale 1..5 "$T/r.txt" -o "$T/r.srd"
[ "$(field "['accepted']") $(field "['skipped']['bad_value']") $(field "['options']['scale']")" = "5 1 [1.0, 5.0]" ] && ok || bad "--scale: $(cat "$T/out")"
expect 0 "train on the declared scale" -- "$BIN" train -q "$T/r.srd" --algo baseline_only -o "$T/r.srm"
expect 0 "info" -- "$BIN" info "$T/r.srm" --json
[ "$(field "['scale']")" = "[1, 5]" ] && ok || bad "the model's scale is not the declared one: $(head -c 400 "$T/out")"
expect 1 "--scale on play counts" -- "$BIN" ingest "$T/t7.txt" --format triplets --scale 1..5 -o "$T/x.srd"
grep -q "rating data" "$T/err" && ok || bad "--scale on play counts: no reason given"
for bad_scale in 5..1 1..1 1 a..b 1..5x; do
  expect 1 "--scale $bad_scale" -- "$BIN" ingest "$T/r.txt" --format ratings --scale "$bad_scale" -o "$T/x.srd"
done
expect 0 "fractional scale" -- "$BIN" ingest -q "$T/r.txt" --format ratings --scale 0.5..6 -o "$T/x.srd"

# --since must come before --until (listens are kept in [since, until)): a usage error
# naming both dates, given before any input is read (the input here does not exist).
expect 1 "--since after --until" -- "$BIN" ingest --since 2012-01-01 --until 2010-01-01 "$T/none.csv" -o "$T/window.srd"
grep -q -- "--since 2012-01-01 is not before --until 2010-01-01" "$T/err" && ok || bad "--since > --until: $(cat "$T/err")"
expect 1 "--since equal to --until" -- "$BIN" ingest --until 2012-01-01 --since 2012-01-01 fixtures/text/bigquery.csv -o "$T/window.srd"
grep -q -- "--since 2012-01-01 is not before --until 2012-01-01" "$T/err" && ok || bad "--since = --until: $(cat "$T/err")"
[ ! -e "$T/window.srd" ] && ok || bad "an empty --since/--until window wrote a dataset"

# A lastfm-to-csv export is named <user>.csv: the user comes from the name (also
# compressed), --user overrides it, and a name that is no Last.fm user name gives none.
# has_user FILE NAME: the dataset's user table holds NAME (stored NUL-terminated).
has_user() { python3 -c "import sys; sys.exit(0 if sys.argv[2].encode() + b'\0' in open(sys.argv[1], 'rb').read() else 1)" "$1" "$2"; }
cp fixtures/text/lastfm.csv "$T/alice.csv"
expect 0 "lastfm-csv user from <user>.csv" -- "$BIN" ingest --json "$T/alice.csv" -o "$T/alice.srd"
[ "$(field "['users']")" = 1 ] && has_user "$T/alice.srd" alice && ok || bad "alice.csv: user alice not taken from the name"
grep -q "user 'alice' taken from the file name" "$T/err" && ok || bad "alice.csv: the user taken from the name is not said"
gzip -c "$T/alice.csv" > "$T/bob-2.csv.gz"
expect 0 "lastfm-csv user from <user>.csv.gz" -- "$BIN" ingest -q "$T/bob-2.csv.gz" -o "$T/bob.srd"
has_user "$T/bob.srd" bob-2 && ok || bad "bob-2.csv.gz: user bob-2 not taken from the name"
expect 0 "--user over <user>.csv" -- "$BIN" ingest -q --user dan "$T/alice.csv" -o "$T/dan.srd"
has_user "$T/dan.srd" dan && ! has_user "$T/dan.srd" alice && ok || bad "--user dan: not the user"
cp fixtures/text/lastfm.csv "$T/my scrobbles (1).csv"
expect 2 "lastfm-csv without a user name in its file name" -- "$BIN" ingest "$T/my scrobbles (1).csv" -o "$T/ms.srd"
grep -q -- "--user" "$T/err" && ok || bad "no-user message should mention --user"

# A bare year is not read as a moment of 1970 (it would filter nothing)
expect 1 "--since a bare year" -- "$BIN" ingest "$T/t7.txt" --format triplets --since 2015 -o "$T/x.srd"
grep -q -- "--since 2015: a bare number is read as Unix seconds .* write 2015-01-01" "$T/err" && ok || bad "--since 2015: $(cat "$T/err")"
expect 1 "--until not a date" -- "$BIN" ingest "$T/t7.txt" --format triplets --until soon -o "$T/x.srd"
grep -q -- "--until soon: not a date" "$T/err" && ok || bad "--until soon: $(cat "$T/err")"

finish

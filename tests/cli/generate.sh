#!/usr/bin/env bash
# CLI tests for `songrec generate`: help and usage errors, the three outputs (.jsonl,
# .jsonl.zst, .csv), determinism, exact counts, stdout, listening sessions (a user's
# times strictly increase, mostly minutes apart), and failures that must leave no file
# behind (missing directory, a target that cannot be replaced, disk full).
# Usage: generate.sh PATH/TO/songrec
set -euo pipefail
bin=${1:?usage: generate.sh PATH/TO/songrec}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "generate.sh: FAIL: $*" >&2; exit 1; }
expect_rc() { # expect_rc CODE CMD...
    local want=$1; shift
    set +e; "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?; set -e
    [ "$rc" -eq "$want" ] || { cat "$tmp/err" >&2; fail "'$*' exited $rc, want $want"; }
}

# Help and usage.
expect_rc 0 "$bin" generate --help
grep -q -- '--listens' "$tmp/out" || fail "--help does not list --listens"
grep -q '\[1M\]' "$tmp/out" || fail "--help does not show defaults"
expect_rc 1 "$bin" generate
expect_rc 1 "$bin" generate --users
expect_rc 1 "$bin" generate --users ten -o "$tmp/x.jsonl"
expect_rc 1 "$bin" generate --bogus -o "$tmp/x.jsonl"
expect_rc 1 "$bin" generate -o "$tmp/x.txt"
expect_rc 1 "$bin" generate --format xml -o "$tmp/x.jsonl"
expect_rc 1 "$bin" generate --since 2010-02-30 -o "$tmp/x.jsonl"
expect_rc 1 "$bin" generate --since 2012-01-01 --until 2011-01-01 -o "$tmp/x.jsonl"
expect_rc 1 "$bin" generate --genres 0 -o "$tmp/x.jsonl"
expect_rc 1 "$bin" generate --listens 1.2345k -o "$tmp/x.jsonl"
expect_rc 2 "$bin" generate --songs 10 --artists 20 -o "$tmp/x.jsonl"
[ -z "$(ls "$tmp" | grep -v '^out$\|^err$')" ] || fail "usage errors left files: $(ls "$tmp")"

args=(--users 40 --songs 2k --listens 10k --seed 5)

# JSONL, twice: byte-identical, exact line count, summary on stderr.
expect_rc 0 "$bin" generate "${args[@]}" -o "$tmp/a.jsonl"
grep -q '10000 listens' "$tmp/err" || fail "no summary line: $(cat "$tmp/err")"
expect_rc 0 "$bin" generate "${args[@]}" -q -o "$tmp/b.jsonl"
[ ! -s "$tmp/err" ] || fail "-q still printed: $(cat "$tmp/err")"
cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl" || fail "same seed, different output"
[ "$(wc -l < "$tmp/a.jsonl")" -eq 10000 ] || fail "wrong JSONL line count"
head -1 "$tmp/a.jsonl" | grep -q '^{"user_id":[0-9]*,"user_name":"user_[0-9]*","timestamp":[0-9]*,"recording_msid":"' \
    || fail "JSONL shape: $(head -1 "$tmp/a.jsonl")"
expect_rc 0 "$bin" generate --users 40 --songs 2k --listens 10k --seed 6 -q -o "$tmp/c.jsonl"
! cmp -s "$tmp/a.jsonl" "$tmp/c.jsonl" || fail "another seed, same output"

# Sessions: per user, times strictly increase and most listens follow the previous one
# within 30 minutes (0.92 here; 0.07 when each time was drawn on its own).
sed -n 's/^{"user_id":\([0-9]*\),"user_name":"[^"]*","timestamp":\([0-9]*\),.*/\1 \2/p' "$tmp/a.jsonl" \
    | awk '$1 == u { n++; if ($2 - t <= 1800) s++; if ($2 <= t) bad++ } { u = $1; t = $2 }
           END { exit !(n > 9000 && s / n > 0.8 && !bad) }' \
    || fail "listens do not come in sessions"

# Decimal counts with a suffix.
"$bin" generate --users 3 --songs 100 --listens 1.5k -q -o - | wc -l | grep -qx 1500 || fail "1.5k listens"

# stdout is JSONL and the same bytes.
"$bin" generate "${args[@]}" -q -o - > "$tmp/stdout.jsonl"
cmp -s "$tmp/a.jsonl" "$tmp/stdout.jsonl" || fail "stdout differs from the file"

# zstd: valid, deterministic, decompresses to the JSONL.
expect_rc 0 "$bin" generate "${args[@]}" -q -o "$tmp/a.jsonl.zst"
expect_rc 0 "$bin" generate "${args[@]}" -q -o "$tmp/b.jsonl.zst"
if command -v zstd >/dev/null; then
    zstd -q -t "$tmp/a.jsonl.zst" || fail "zstd -t rejects the output"
    zstd -q -d -c "$tmp/a.jsonl.zst" | cmp -s - "$tmp/a.jsonl" || fail ".zst content differs"
fi
cmp -s "$tmp/a.jsonl.zst" "$tmp/b.jsonl.zst" || fail "zstd output not deterministic"

# CSV: the BigQuery header and one row per listen; csv3 has three columns.
expect_rc 0 "$bin" generate "${args[@]}" -q -o "$tmp/a.csv"
[ "$(head -1 "$tmp/a.csv")" = "listened_at,user_name,artist_msid,artist_name,artist_mbids,release_msid,release_name,release_mbid,recording_msid,track_name,recording_mbid,tags" ] \
    || fail "CSV header: $(head -1 "$tmp/a.csv")"
[ "$(wc -l < "$tmp/a.csv")" -eq 10001 ] || fail "wrong CSV line count"
sed -n 2p "$tmp/a.csv" | grep -q '^20[01][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] UTC,user_' \
    || fail "CSV row: $(sed -n 2p "$tmp/a.csv")"
expect_rc 0 "$bin" generate "${args[@]}" -q --format csv3 -o "$tmp/three.csv"
[ "$(head -1 "$tmp/three.csv")" = "user_name,artist_name,track_name" ] || fail "csv3 header"
[ "$(wc -l < "$tmp/three.csv")" -eq 10001 ] || fail "wrong csv3 line count"

# A custom time range is respected.
expect_rc 0 "$bin" generate "${args[@]}" -q --since 2012-03-01 --until 2012-03-31 -o "$tmp/r.csv"
[ -z "$(tail -n +2 "$tmp/r.csv" | cut -c1-7 | grep -v '^2012-03' | head -1)" ] || fail "listens outside the range"

# Failures leave nothing behind and exit non-zero.
expect_rc 3 "$bin" generate "${args[@]}" -o "$tmp/missing/dir/x.jsonl"
mkdir "$tmp/adir.jsonl"
before=$(ls "$tmp" | wc -l)
set +e; "$bin" generate "${args[@]}" -q -o "$tmp/adir.jsonl" 2>"$tmp/err"; rc=$?; set -e
[ "$rc" -eq 3 ] || fail "writing over a directory exited $rc, want 3"
[ "$(ls "$tmp" | wc -l)" -eq "$before" ] || fail "a temporary file was left: $(ls "$tmp")"
! ls "$tmp" | grep -q '\.tmp\.' || fail "temporary file left behind"
if [ -w /dev/full ]; then
    set +e; "$bin" generate "${args[@]}" -q -o - > /dev/full 2>"$tmp/err"; rc=$?; set -e
    [ "$rc" -eq 3 ] || fail "disk full exited $rc, want 3"
    grep -qi 'space' "$tmp/err" || fail "disk full message: $(cat "$tmp/err")"
fi
echo "generate.sh: ok"

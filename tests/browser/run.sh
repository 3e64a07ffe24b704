#!/usr/bin/env bash
# The web page in a real browser: Debian's chromium (headless) driven by playwright-core
# (npm, pinned in package-lock.json) against `songrec serve` with a small model made
# here in seconds — a generated history plus a song named like an HTML injection.
# flow.mjs walks the listener's whole flow; screenshots go to OUT.
#
# A second model is implicit (ALS) over items-only play counts (triplets: songs without an
# artist), served with a ranking evaluation: its scores, play counts and About view.
#
# Usage: tests/browser/run.sh PATH/TO/songrec [OUT]   (ctest: browser.flow)
# Installs chromium (scripts/deps.sh browser, needs root) and playwright-core (npm ci into
# tests/browser/node_modules) when missing. Exit 77 (a skip for ctest) only when
# chromium cannot be installed; anything else that goes wrong is a failure.
set -euo pipefail
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${2:-$PWD/browser-out}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$CHROMIUM" ] || ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  "$ROOT/scripts/deps.sh" browser >&2 || true
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "SKIP: $CHROMIUM is missing and could not be installed" \
       "(scripts/deps.sh browser needs root and the Debian archive)"
  exit 77
fi
for tool in node npm; do
  if ! command -v "$tool" > /dev/null; then
    echo "browser test: $tool is missing (scripts/deps.sh browser installs it)" >&2
    exit 1
  fi
done

# playwright-core as the lock file pins it; one installer at a time (two build folders
# may run this test at once).
(
  flock 9
  if [ ! -f "$HERE/node_modules/playwright-core/package.json" ] ||
     [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
    echo "browser test: npm ci (playwright-core)" >&2
    cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2
  fi
) 9> "${TMPDIR:-/tmp}/songrec-browser-npm.lock"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT"

# ---- the model: a generated history plus a song whose names are markup ----
XSS_ARTIST='<b>Mallory</b> & Co'
XSS_TRACK='<img src=x onerror=alert(1)>'
"$BIN" generate -q --users 40 --songs 300 --listens 6000 --seed 5 -o "$T/g.jsonl"
for u in 1 2 3 4 5 6 7 8; do
  for k in 1 2 3; do
    printf '{"user_name":"user_%06d","listened_at":%d,%s}\n' "$u" $((1400000000 + u * 100 + k)) \
      "\"track_metadata\":{\"artist_name\":\"$XSS_ARTIST\",\"track_name\":\"$XSS_TRACK\"}"
  done
done > "$T/x.jsonl"
"$BIN" ingest -q "$T/g.jsonl" "$T/x.jsonl" -o "$T/d.srd"
"$BIN" train -q "$T/d.srd" --algo svd --param n_factors=8 -o "$T/m.srm"

# ---- files the listener uploads: a ListenBrainz history (one generated listener's
# listens under another name) and a file that is no history at all ----
grep '"user_name":"user_000003"' "$T/g.jsonl" | head -80 | sed 's/user_000003/web_listener/' \
  > "$T/history.jsonl"
printf 'this is not a listening history\njust words\n' > "$T/notes.txt"

# ---- what GET /api/about answers (serve --about DIR): the CLI's own JSON for the
# dataset, an evaluation and a small grid search (lr_all=10 diverges: two failed sets) ----
"$BIN" stats "$T/d.srd" --json > "$T/stats.json"
"$BIN" evaluate "$T/d.srd" --algo svd --param n_factors=8 --cv 3 --json > "$T/evaluate.json" 2> /dev/null
"$BIN" gridsearch "$T/d.srd" --algo svd --grid n_factors=4,8 --grid lr_all=0.005,10 --cv 3 --json \
  > "$T/gridsearch.json" 2> /dev/null

# ---- the implicit model: play-count triplets of songs s1..s60 (no artist), a few played
# 16 to 64 times; its About files from the ranking task; a history of such plays ----
mkdir -p "$T/implicit"
awk 'BEGIN { for (u = 1; u <= 30; u++) for (s = 1; s <= 60; s++) if ((u * 7 + s * 13) % 5 < 2) {
       c = s % 11 ? 1 + (u * s) % 9 : 16 * (1 + (u + s) % 4); printf "u%d\ts%d\t%d\n", u, s, c } }' \
  > "$T/plays.tsv"
"$BIN" ingest -q --format triplets "$T/plays.tsv" -o "$T/p.srd"
"$BIN" train -q "$T/p.srd" --algo als --param factors=8 -o "$T/als.srm"
"$BIN" stats "$T/p.srd" --json > "$T/implicit/stats.json"
"$BIN" evaluate "$T/p.srd" --task ranking --algo als,popularity --k 10 --json > "$T/implicit/evaluate.json" 2> /dev/null
"$BIN" gridsearch "$T/p.srd" --task ranking --algo als --grid alpha=1,10,40 --json \
  > "$T/implicit/gridsearch.json" 2> /dev/null
printf 'web\ts11\t64\nweb\ts22\t48\nweb\ts5\t3\n' > "$T/plays-history.txt"

export SONGREC_BIN=$BIN SONGREC_MODEL=$T/m.srm SONGREC_WORK=$T SONGREC_OUT=$OUT
export SONGREC_IMPLICIT_MODEL=$T/als.srm SONGREC_IMPLICIT_ABOUT=$T/implicit
export SONGREC_XSS_ARTIST=$XSS_ARTIST SONGREC_XSS_TRACK=$XSS_TRACK CHROMIUM
node "$HERE/flow.mjs"

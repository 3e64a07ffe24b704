#!/usr/bin/env bash
# Faults (issue 8), through the binary:
#  - kill -9 of `songrec ingest` and of `songrec train` while they write their output:
#    each run is killed a chosen number of milliseconds after its output file is opened
#    (seen in /proc/PID/fd), so most kills land in the write; the file at the final path
#    is then the previous one byte for byte, or (a kill after the rename) the complete new
#    one; nothing else is left in the folder (the output is written to an unnamed
#    O_TMPFILE file where the filesystem has them, so a kill leaves nothing);
#  - stale temporary files "<out>.tmp.XXXXXX" (from a filesystem without O_TMPFILE) are
#    removed by the next write of the same output once unlocked and 10 s old; a fresh one
#    or one a live writer holds (flock) is kept;
#  - disk full: a small tmpfs (or, where mount is not permitted, `ulimit -f` with SIGXFSZ
#    ignored) under ingest, train and the server's profile store: exit code 3 and a clear
#    message for the commands with the previous file intact and nothing else left; for
#    the server a 5xx JSON error on a profile write, reads still served, writes working
#    again once there is room, and only acknowledged writes present after a restart.
# (A missing or damaged model at start: tests/cli/hardening.sh.)
# Usage: tests/cli/faults.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
# Mounts made here stay private to this script (and vanish with it) where unshare works.
if [ -z "${SONGREC_FAULTS_NS:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -m true 2> /dev/null; then
  SONGREC_FAULTS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.bash"
PID=
MOUNTS=()
cleanup() {
  [ -n "$PID" ] && kill -KILL "$PID" 2> /dev/null && wait "$PID" 2> /dev/null
  for m in "${MOUNTS[@]}"; do umount "$m" 2> /dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

# ---- inputs: a small dataset and model (the "previous" files), a large one to write ----
expect 0 "generate" -- "$BIN" generate -q --users 40 --songs 300 --listens 6000 --seed 5 -o "$T/g.jsonl"
expect 0 "ingest small" -- "$BIN" ingest -q "$T/g.jsonl" -o "$T/small.srd"
expect 0 "train small" -- "$BIN" train -q "$T/small.srd" --algo svd --param n_factors=8 --param n_epochs=2 -o "$T/small.srm"
# 300,000 play-count triplets: 6,000 users x 50 songs out of 200,000 (a 14 MB dataset)
python3 - "$T/big_triplets.txt" << 'EOF'
import random, sys
r = random.Random(1)
with open(sys.argv[1], "w") as f:
    for u in range(6000):
        for k in range(50):
            f.write("u%05d\tSO%07d\t%d\n" % (u, r.randrange(200000), 1 + r.randrange(20)))
EOF
BIG_TRAIN=(--algo svd --param n_factors=32 --param n_epochs=1) # a 25 MB model
expect 0 "ingest big (reference)" -- "$BIN" ingest -q "$T/big_triplets.txt" -o "$T/big.srd"
expect 0 "train big (reference)" -- "$BIN" train -q "$T/big.srd" "${BIG_TRAIN[@]}" -o "$T/big.srm"
big_srd_size=$(stat -c %s "$T/big.srd")
big_srm_size=$(stat -c %s "$T/big.srm")

# kill_during DIR DELAY_MS CMD...: runs CMD, waits until it has a file under DIR open,
# then DELAY_MS later sends SIGKILL. Prints "during" (the file was still open just before
# the kill), "after" (it had finished by then) or "never" (it never opened one). With
# DELAY_MS -1 it lets CMD finish and prints how many ms the file was open.
kill_during() {
  python3 - "$@" << 'EOF'
import os, signal, subprocess, sys, time
out, delay, cmd = os.path.realpath(sys.argv[1]) + "/", float(sys.argv[2]) / 1000, sys.argv[3:]
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def writing():
    try:
        fds = os.listdir("/proc/%d/fd" % p.pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (p.pid, fd)).startswith(out):
                return True
        except OSError:
            pass
    return False
if delay < 0:
    opened = closed = None
    while p.poll() is None:
        w = writing()
        if w and opened is None:
            opened = time.monotonic()
        if not w and opened is not None and closed is None:
            closed = time.monotonic()
        time.sleep(0.0005)
    print(int(((closed or time.monotonic()) - opened) * 1000) if opened else 0)
    sys.exit(0)
state = "never"
while p.poll() is None:
    if writing():
        time.sleep(delay)
        state = "during" if p.poll() is None and writing() else "after"
        p.send_signal(signal.SIGKILL)
        break
    time.sleep(0.0005)
p.wait()
print(state)
EOF
}

# leftovers DIR NAME: the entries of DIR other than NAME
leftovers() { (cd "$1" && ls -A | grep -vx "$2"); }

# ---- kill -9 while writing ----
# kill_loop WHAT PREV NEW_SIZE CHECK_CMD -- CMD...: a first run measures the write (how
# long the output is open: W ms); then runs killed at 0, 0.05 W, ..., 0.5 W (meant to
# land in the write) and 1.5 W, 3 W (likely after it); at least half must land in it. Before each the output DIR/out is a
# copy of PREV; after it, it must be PREV byte for byte or a complete new file (NEW_SIZE
# bytes that CHECK_CMD OUT accepts), with nothing else in DIR.
kill_loop() {
  local what=$1 prev=$2 new_size=$3 check=$4; shift 5
  local dir="$T/kill-$what" during=0 after=0 never=0 kept=0 replaced=0
  mkdir -p "$dir"
  local w delays
  w=$(kill_during "$dir" -1 "$@" "$dir/out")
  rm -f "$dir/out"
  # a slow binary (valgrind: a write of a second or more) gets 5 runs instead of 10
  delays=($(python3 -c "import sys; w=int(sys.argv[1]); fs=(0,.05,.1,.15,.2,.3,.4,.5,1.5,3) if w < 1000 else (0,.2,.4,.6,3); print(*[int(f * w) for f in fs])" "$w"))
  local runs=${#delays[@]}
  for delay in "${delays[@]}"; do
    cp "$prev" "$dir/out"
    local state
    state=$(kill_during "$dir" "$delay" "$@" "$dir/out")
    case $state in during) during=$((during + 1)) ;; after) after=$((after + 1)) ;; *) never=$((never + 1)) ;; esac
    if cmp -s "$prev" "$dir/out"; then
      kept=$((kept + 1)); ok
    elif [ "$(stat -c %s "$dir/out")" = "$new_size" ] && $check "$dir/out" > /dev/null 2>&1; then
      replaced=$((replaced + 1)); ok
    else
      bad "$what killed $delay ms into the write ($state): $dir/out is neither the old file nor a complete new one"
    fi
    local left
    left=$(leftovers "$dir" out)
    [ -z "$left" ] && ok || bad "$what killed $delay ms into the write ($state) left: $left"
    rm -f "$dir"/out.tmp.*
  done
  echo "kill -9 of $what (the write takes $w ms): $during kills during the write, $after after it, $never runs never wrote; old file kept $kept times, replaced whole $replaced times"
  [ "$during" -ge $((runs / 2)) ] && ok || bad "$what: only $during of $runs kills landed in the write"
}
check_srd() { "$BIN" stats "$1"; }
check_srm() { "$BIN" info "$1"; }
kill_loop ingest "$T/small.srd" "$big_srd_size" check_srd -- "$BIN" ingest -q "$T/big_triplets.txt" -o
kill_loop train "$T/small.srm" "$big_srm_size" check_srm -- "$BIN" train -q "$T/big.srd" "${BIG_TRAIN[@]}" -o

# ---- stale temporary files ----
S="$T/stale"
mkdir -p "$S"
for n in Zz9Zz9 Held01 Fresh1; do echo partial > "$S/d.srd.tmp.$n"; done
echo mine > "$S/other.srd.tmp.Zz9Zz9"
touch -d '1 minute ago' "$S/d.srd.tmp.Zz9Zz9" "$S/d.srd.tmp.Held01" "$S/other.srd.tmp.Zz9Zz9"
: > "$T/holder.out"
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(60)' \
  "$S/d.srd.tmp.Held01" > "$T/holder.out" &
HOLDER=$!
for _ in $(seq 100); do grep -q locked "$T/holder.out" && break; sleep 0.05; done
expect 0 "ingest next to stale temp files" -- "$BIN" ingest -q "$T/g.jsonl" -o "$S/d.srd"
[ ! -e "$S/d.srd.tmp.Zz9Zz9" ] && ok || bad "a stale unlocked temp file of d.srd was not removed"
[ -e "$S/d.srd.tmp.Held01" ] && ok || bad "a temp file held by a live writer was removed"
[ -e "$S/d.srd.tmp.Fresh1" ] && ok || bad "a temp file younger than 10 s was removed"
[ -e "$S/other.srd.tmp.Zz9Zz9" ] && ok || bad "the temp file of another output was removed"
kill "$HOLDER" 2> /dev/null
wait "$HOLDER" 2> /dev/null
# an output that is not a regular file is refused, not replaced
expect 3 "output onto a device" -- "$BIN" ingest -q "$T/g.jsonl" -o /dev/null
grep -q "not a regular file" "$T/err" && ok || bad "no words for a device as output: $(cat "$T/err")"
[ -c /dev/null ] && ok || bad "/dev/null is no longer a device"

# ---- disk full ----
# full_fs DIR KB: DIR becomes a KB-kilobyte tmpfs (returns 0), or, where mount is not
# permitted, stays a plain folder (returns 1: use the file size limit instead).
full_fs() {
  mkdir -p "$1"
  if [ -z "${SONGREC_FAULTS_NO_MOUNT:-}" ] && mount -t tmpfs -o "size=${2}k" tmpfs "$1" 2> /dev/null; then
    MOUNTS+=("$1")
    return 0
  fi
  return 1
}
# limited KB CMD...: runs CMD with a file size limit of KB kilobytes and SIGXFSZ ignored,
# so that a write past it fails with EFBIG instead of killing the process
limited() { (trap '' XFSZ; ulimit -f "$1"; shift; exec "$@"); }
F="$T/full"
if full_fs "$F" 4096; then
  echo "disk full: a 4 MiB tmpfs"
  WRAP=()
  NOSPACE="No space left on device"
else
  echo "disk full: mount not permitted here, skipping the tmpfs; using ulimit -f 4096 (4 MiB per file) instead"
  WRAP=(limited 4096)
  NOSPACE="File too large"
fi
cp "$T/small.srd" "$F/d.srd"
cp "$T/small.srm" "$F/m.srm"
expect 3 "ingest onto a full disk" -- "${WRAP[@]}" "$BIN" ingest -q "$T/big_triplets.txt" -o "$F/d.srd"
grep -q "d.srd: cannot write: $NOSPACE" "$T/err" && ok || bad "ingest disk full message: $(cat "$T/err")"
cmp -s "$T/small.srd" "$F/d.srd" && ok || bad "ingest on a full disk changed the old dataset"
expect 3 "train onto a full disk" -- "${WRAP[@]}" "$BIN" train -q "$T/big.srd" "${BIG_TRAIN[@]}" -o "$F/m.srm"
grep -q "m.srm: cannot write: $NOSPACE" "$T/err" && ok || bad "train disk full message: $(cat "$T/err")"
cmp -s "$T/small.srm" "$F/m.srm" && ok || bad "train on a full disk changed the old model"
expect 3 "generate onto a full disk" -- "${WRAP[@]}" "$BIN" generate -q --listens 200k -o "$F/g.jsonl"
[ ! -e "$F/g.jsonl" ] && ok || bad "generate left a partial file under the final name"
left=$(cd "$F" && ls -A | grep -vx -e d.srd -e m.srm)
[ -z "$left" ] && ok || bad "full disk: left behind: $left"
# a new file that fits still works there
expect 0 "ingest small onto the nearly full disk" -- "${WRAP[@]}" "$BIN" ingest -q "$T/g.jsonl" -o "$F/d2.srd"

# ---- the profile store on a full disk ----
# the server under the file size limit SERVE_LIMIT when set (SIGXFSZ ignored, as
# songrec does itself)
start() {
  if [ -n "$SERVE_LIMIT" ]; then
    SERVE_WRAP=(bash -c 'trap "" XFSZ && ulimit -f "$0" && exec "$@"' "$SERVE_LIMIT")
  else
    SERVE_WRAP=()
  fi
  serve_start "$T/small.srm" --db "$DB" --threads 2
}
# ratings N LEN: a PUT body of N ratings with LEN-byte track names (not in the model)
ratings() {
  python3 -c "import json,sys; n,l=int(sys.argv[1]),int(sys.argv[2]); print(json.dumps({'ratings':[{'artist':'Nobody %d'%i,'track':('t%d '%i).ljust(l,'x'),'rating':3} for i in range(n)]}))" "$1" "$2"
}
P="$T/dbfs"
if full_fs "$P" 1024; then
  FILL=1
  SERVE_LIMIT=
else
  FILL=
  SERVE_LIMIT=128 # KiB: the store's files may not grow past it
fi
DB="$P/p.db"
start
call POST /api/profiles
[ "$code" = 201 ] && ok || bad "create profile: HTTP $code"
TOK=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['token'])" "$T/body")
ratings 3 20 > "$T/small.json"
call PUT "/api/profiles/$TOK" -H 'Content-Type: application/json' --data-binary @"$T/small.json"
[ "$code" = 200 ] && ok || bad "PUT small: HTTP $code"
[ -n "$FILL" ] && dd if=/dev/zero of="$P/filler" bs=4k > /dev/null 2>&1 # until the disk is full
ratings 60 1000 > "$T/big.json" # 60 KB of names (and as much again in keys): more than any slack in the WAL
call PUT "/api/profiles/$TOK" -H 'Content-Type: application/json' --data-binary @"$T/big.json"
[ "${code:0:1}" = 5 ] && ok || bad "PUT on a full disk: HTTP $code, wanted 5xx"
js "d['error']['status'] >= 500 and len(d['error']['message']) > 0" "full disk error shape"
kill -0 "$PID" 2> /dev/null && ok || bad "the server died on a full disk"
call GET "/api/profiles/$TOK"
[ "$code" = 200 ] && ok || bad "GET profile on a full disk: HTTP $code"
js "len(d['ratings']) == 3" "the failed PUT changed the profile"
call GET "/api/search?q=a"
[ "$code" = 200 ] && ok || bad "search on a full disk: HTTP $code"
call GET /healthz
[ "$code" = 200 ] && ok || bad "healthz on a full disk: HTTP $code"
grep -q -i "full\|space\|I/O error" "$T/serve.err" && ok || bad "the server log does not say why: $(cat "$T/serve.err")"
want=3
if [ -n "$FILL" ]; then
  rm -f "$P/filler" # room again: writes work again
  call PUT "/api/profiles/$TOK" -H 'Content-Type: application/json' --data-binary @"$T/big.json"
  [ "$code" = 200 ] && ok || bad "PUT after the disk has room again: HTTP $code"
  want=60
fi
serve_stop
start
call GET "/api/profiles/$TOK"
[ "$code" = 200 ] && ok || bad "GET profile after restart: HTTP $code"
js "len(d['ratings']) == $want" "after restart, the acknowledged ratings"
serve_stop

finish

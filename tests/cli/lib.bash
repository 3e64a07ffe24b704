# Shared helpers of the CLI test scripts, sourced by them (named .bash so that CMake,
# which runs tests/cli/*.sh, does not take it for a test).
#   T          a temporary directory, removed on exit
#   PID        a server the script started (set it): killed on exit
#   ok / bad   count a pass / a failure (with words)
#   expect CODE DESCRIPTION -- command...   runs it, stdout to $T/out, stderr to $T/err
#   field EXPR  evaluates d+EXPR on the JSON in $T/out (python), e.g. field "['algo']"
#   finish     prints the summary and exits 1 on any failure
#   serve_start ARGS...   `songrec serve ARGS... --port 0` in the background, through the
#              command prefix in the array SERVE_WRAP if set (e.g. a shell that sets a
#              ulimit); sets PID, PORT and URL; a server that does not come up ends the
#              script as failed
#   serve_stop SIGTERM to the server: it must exit 0
#   call METHOD PATH [curl args...]   a request to $URL: the status in $code, the body in
#              $T/body, the headers in $T/hdr
#   js EXPR DESCRIPTION   EXPR (python, d = the JSON body of the last call) must be true
T=$(mktemp -d)
PID=
SERVE_WRAP=()
trap '[ -n "$PID" ] && kill -KILL "$PID" 2> /dev/null; rm -rf "$T"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() {
  local want=$1 what=$2; shift 3
  "$@" > "$T/out" 2> "$T/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then ok; else bad "$what: exit $got, wanted $want"; sed 's/^/    /' "$T/err" | head -5 >&2; fi
}
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$T/out" "$1"; }
finish() {
  echo "$(basename "$0"): $passes passed, $fails failed"
  [ "$fails" -eq 0 ]
  exit
}
serve_start() {
  : > "$T/serve.out" # not the last server's address
  "${SERVE_WRAP[@]}" "$BIN" serve "$@" --port 0 > "$T/serve.out" 2> "$T/serve.err" &
  PID=$!
  PORT= URL=
  for _ in $(seq 1200); do # 60 s: memcheck starts slowly
    PORT=$(sed -n 's|^songrec: serving .* on http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$T/serve.out")
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2> /dev/null || break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then
    bad "the server did not start: $(head -c 500 "$T/serve.err")"
    finish
  fi
  URL="http://127.0.0.1:$PORT/"
  ok
}
serve_stop() {
  kill -TERM "$PID"
  wait "$PID"
  local rc=$?
  PID=
  [ "$rc" -eq 0 ] && ok || bad "serve exited $rc after SIGTERM"
}
call() {
  local m=$1 p=$2
  shift 2
  code=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" "$@" "$URL${p#/}")
}
js() {
  if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$T/body" 2> "$T/pyerr"; then ok; else
    bad "$2 [$1]: $(head -c 300 "$T/body") $(tail -1 "$T/pyerr")"
  fi
}

# Shared helpers of the CLI test scripts, sourced by them (named .bash so that CMake,
# which runs tests/cli/*.sh, does not take it for a test).
#   T          a temporary directory, removed on exit
#   PID        a server the script started (set it): killed on exit
#   ok / bad   count a pass / a failure (with words)
#   expect CODE DESCRIPTION -- command...   runs it, stdout to $T/out, stderr to $T/err
#   field EXPR  evaluates d+EXPR on the JSON in $T/out (python), e.g. field "['algo']"
#   finish     prints the summary and exits 1 on any failure
T=$(mktemp -d)
PID=
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

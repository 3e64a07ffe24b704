#!/usr/bin/env bash
# Hostile clients against the real `songrec serve` (issue 8; docs/SECURITY.md), through a
# Python client that speaks raw HTTP from many loopback addresses (Linux routes all of
# 127.0.0.0/8 to the loopback, so one script can be many clients):
#   - a model that is missing, garbage, truncated or a directory: serve says so, names
#     the file and exits non-zero before it listens;
#   - the default request-rate limit: one client hammering gets 429 + Retry-After (JSON,
#     security headers) while another address is served;
#   - 10,000 idle connections plus 200 slowloris connections (a header line every 2 s)
#     and 20 bodies trickled a byte every 2 s, all at once: normal requests from other
#     addresses are still answered, and the watchdog cuts every slow one (metrics);
#   - header blocks over the limit get 431 and bodies over it 413 before a body byte is
#     sent; methods nobody defined get 405 with Allow (501 on no path);
#   - static files cannot be reached around their table (.., %2e%2e, %2f, double
#     encoding, backslashes);
#   - every JSON answer is application/json; charset=utf-8 and every answer carries the
#     CSP, nosniff and Referrer-Policy headers;
#   - the limits on the command line: bad values refused; --rate-limit 0 lets a client
#     through at full speed; --rate-limit 0.05 --rate-burst 3, --max-connections and
#     --max-per-ip take effect.
# Assertions are on correctness with generous bounds, never on speed. The 10,000 idle
# connections need an open-files hard limit of 12,000 (else that part is scaled down,
# and says so).
# Usage: tests/cli/hardening.sh PATH/TO/songrec   (run from tests/)
set -uo pipefail
BIN=$1
. "$(dirname "$0")/lib.bash"

# run_py PHASE: runs the client's phase; its "ok ..." / "bad ..." lines are counted.
run_py() {
  local line
  while IFS= read -r line; do
    case "$line" in
      ok\ *) ok ;;
      bad\ *) bad "${line#bad }" ;;
      *) echo "    $line" ;;
    esac
  done < <(python3 "$T/client.py" "$PORT" "$@" 2>&1 || echo "bad client phase $1 crashed")
}

# ---- a model that cannot be served ----
expect 0 "generate" -- "$BIN" generate -q --users 40 --songs 300 --listens 6000 --seed 5 -o "$T/g.jsonl"
expect 0 "ingest" -- "$BIN" ingest -q "$T/g.jsonl" -o "$T/d.srd"
expect 0 "train" -- "$BIN" train -q "$T/d.srd" --algo svd --param n_factors=8 --param n_epochs=5 -o "$T/m.srm"
head -c 2000 "$T/m.srm" > "$T/short.srm"
head -c 5000 /dev/urandom > "$T/junk.srm"
mkdir "$T/dir.srm"
for m in none short junk dir; do
  "$BIN" serve "$T/$m.srm" --port 0 --db "$T/p-$m.db" > "$T/out" 2> "$T/err" &
  pid=$!
  for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2> /dev/null; then
    kill -KILL "$pid"
    bad "serve $m.srm did not exit"
  fi
  wait "$pid"
  rc=$?
  [ "$rc" -ne 0 ] && ok || bad "serve $m.srm exited 0"
  grep -q "$m.srm" "$T/err" && ok || bad "serve $m.srm: the message does not name the file: $(cat "$T/err")"
  grep -q "serving" "$T/out" && bad "serve $m.srm listened" || ok
  [ ! -e "$T/p-$m.db" ] && ok || bad "serve $m.srm made a profile store"
done
if [ "$(id -u)" -ne 0 ]; then
  cp "$T/m.srm" "$T/locked.srm"
  chmod 000 "$T/locked.srm"
  expect 3 "serve an unreadable model" -- "$BIN" serve "$T/locked.srm" --port 0 --db "$T/p-l.db"
  grep -q "locked.srm" "$T/err" && ok || bad "unreadable model: message does not name it"
fi

# ---- the limits on the command line: bad values ----
for a in "--rate-limit fast" "--rate-limit -1" "--rate-limit 0.0001" "--rate-burst 0" \
         "--max-connections 0" "--max-connections x" "--max-per-ip 0"; do
  expect 1 "serve $a" -- "$BIN" serve "$T/m.srm" --port 0 --db "$T/p-bad.db" $a
  grep -q -- "${a%% *}" "$T/err" && ok || bad "serve $a: the message does not name the option"
done
expect 0 "serve --help" -- "$BIN" serve --help
for o in --rate-limit --rate-burst --max-connections --max-per-ip; do
  grep -q -- "$o" "$T/out" && ok || bad "serve --help does not list $o"
done

# start [OPTIONS...]: the server on a free port ($PORT, $PID).
start() { serve_start "$T/m.srm" --db "$T/p.db" "$@"; }

# ---- the server, with its default limits ----
start

cat > "$T/client.py" << 'EOF'
import json, os, resource, socket, sys, threading, time

PORT = int(sys.argv[1])
JSON_TYPE = "application/json; charset=utf-8"

def ok(what): print("ok " + what, flush=True)
def bad(what): print("bad " + what, flush=True)
def check(cond, what): ok(what) if cond else bad(what)

def connect(src="127.0.0.1", timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", PORT))
    return s

def read_response(s, head=False):
    """(status, {lower-case header: value}, body) of one response, or None."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            k = s.recv(65536)
        except OSError:
            return None
        if not k:
            return None
        data += k
    top, rest = data.split(b"\r\n\r\n", 1)
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdr = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        hdr[k.strip().lower()] = v.strip()
    n = 0 if head or status in (204, 304) else int(hdr.get("content-length", "0"))
    while len(rest) < n:
        k = s.recv(65536)
        if not k:
            break
        rest += k
    return status, hdr, rest[:n]

def request(raw, src="127.0.0.1", head=False):
    s = connect(src)
    try:
        try:
            s.sendall(raw)
        except OSError:
            pass  # refused before the body was read: the answer is still there
        return read_response(s, head)
    finally:
        s.close()

def get(path, src="127.0.0.1", method="GET", body=None, extra=""):
    raw = "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s" % (method, path, extra)
    if body is not None:
        raw += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    raw = raw.encode() + b"\r\n" + (body.encode() if body is not None else b"")
    return request(raw, src, method == "HEAD")

def metric(name, src="127.0.0.250"):
    r = get("/metrics", src)
    for line in r[2].decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None

def is_json_error(r, status):
    try:
        d = json.loads(r[2])
        return r[0] == status and d["error"]["status"] == status and len(d["error"]["message"]) > 0
    except Exception:
        return False

def secure(r):
    h = r[1]
    return ("default-src 'self'" in h.get("content-security-policy", "")
            and h.get("x-content-type-options") == "nosniff"
            and h.get("referrer-policy") == "no-referrer")

def phase_rate():
    # 300 requests as fast as one keep-alive connection goes: the first 100 (the burst)
    # pass, then about 50/s; the rest are 429.
    s = connect("127.0.0.11")
    t0 = time.time()
    statuses, first429 = [], None
    for _ in range(300):
        s.sendall(b"GET /api/model HTTP/1.1\r\nHost: t\r\n\r\n")
        r = read_response(s)
        if r is None:
            s.close()
            s = connect("127.0.0.11")
            continue
        statuses.append(r[0])
        if r[0] == 429 and first429 is None:
            first429 = r
    took = time.time() - t0
    s.close()
    n200, n429 = statuses.count(200), statuses.count(429)
    print("rate: %d x 200, %d x 429 in %.2f s" % (n200, n429, took))
    check(n200 + n429 == len(statuses), "rate: only 200 and 429 answers")
    check(n200 >= 100, "rate: the burst of 100 passes")
    check(n200 <= 100 + 50 * took + 2, "rate: at most 50/s after the burst")
    if took < 3:
        check(n429 > 0 and first429 is not None, "rate: 429 once over the limit")
    if first429:
        check(is_json_error(first429, 429) and first429[1].get("content-type") == JSON_TYPE,
              "rate: 429 is a JSON error")
        check(first429[1].get("retry-after", "").isdigit() and
              1 <= int(first429[1]["retry-after"]) <= 2, "rate: Retry-After of 1..2 s")
        check(secure(first429), "rate: 429 carries the security headers")
    # another client is not affected; the 429s are counted
    check(get("/api/model", "127.0.0.12")[0] == 200, "rate: another address is served")
    n = metric("songrec_http_rate_limited_total")
    check(n is not None and n >= n429, "rate: 429s counted in the metrics")

def phase_load():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n_idle = 10000
    if hard != resource.RLIM_INFINITY and hard < 12000:
        n_idle = max(100, hard - 2000)
        print("open-files hard limit %d: %d idle connections instead of 10,000" % (hard, n_idle))
    want = n_idle + 1500
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (want if hard == resource.RLIM_INFINITY else min(hard, want), hard))
    base_cut = metric("songrec_http_connections_cut_total")
    # 50 per address (the per-address limit is 64)
    idle, slow, trickle = [], [], []
    t0 = time.time()
    try:
        for i in range(n_idle):
            idle.append(connect("127.1.%d.%d" % (i // 50 // 250, 1 + i // 50 % 250)))
        for i in range(200):
            s = connect("127.2.0.%d" % (1 + i // 50))
            s.sendall(b"GET /api/model HTTP/1.1\r\nHost: t\r\n")
            slow.append(s)
        for i in range(20):
            s = connect("127.3.0.1")
            s.sendall(b"POST /api/recommend HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
            trickle.append(s)
    except OSError as e:
        bad("load: opening connections failed after %d idle: %s" % (len(idle), e))
        return
    print("load: %d idle, %d slow-header, %d slow-body connections open in %.1f s" %
          (len(idle), len(slow), len(trickle), time.time() - t0))
    stop = threading.Event()
    def dribble():
        while not stop.wait(2):
            for s in slow:
                try: s.send(b"X-Slow: 1\r\n")
                except OSError: pass
            for s in trickle:
                try: s.send(b"{")
                except OSError: pass
    th = threading.Thread(target=dribble)
    th.start()
    try:
        # (the kernel completes a connect before the server accepts it: wait for them)
        want = len(idle) + len(slow) + len(trickle)
        for _ in range(50):
            conns = metric("songrec_http_connections")
            if conns is not None and conns >= want:
                break
            time.sleep(0.1)
        print("load: the server counts %d open connections" % conns)
        check(conns is not None and conns >= want, "load: the server holds every connection open")
        rss = [l for l in open("/proc/%s/status" % os.environ["SERVE_PID"]) if l.startswith("VmRSS")]
        print("load: server " + rss[0].strip() if rss else "load: no RSS")
        # normal requests from other addresses meanwhile: all answered
        worst, answered = 0, 0
        for i in range(60):
            path = ["/api/model", "/api/search?q=a", "/api/songs/1/similar?n=5", "/"][i % 4]
            t = time.time()
            r = get(path, "127.4.0.%d" % (1 + i % 10))
            worst = max(worst, time.time() - t)
            answered += r is not None and r[0] == 200
        print("load: 60 normal requests answered, slowest %.3f s" % worst)
        check(answered == 60, "load: normal requests answered while under siege")
        check(worst < 5, "load: no normal request waited 5 s")
        # the watchdog cuts every slow and idle connection (header timeout 15 s)
        # (n as the loop last read it: a fresh read may still count the previous metric
        # request's connection, which the server has not yet seen closed)
        deadline = time.time() + 40
        while time.time() < deadline:
            n = metric("songrec_http_connections")
            if n is not None and n <= 1:
                break
            time.sleep(1)
        took = time.time() - t0
        cut = metric("songrec_http_connections_cut_total") - base_cut
        print("load: %d connections cut, %d left open after %.1f s" % (cut, n, took))
        check(n is not None and n <= 1, "load: every idle and slow connection was closed")
        check(cut >= len(idle) + len(slow) + len(trickle), "load: the watchdog cut them")
        gone = 0
        for s in slow + trickle:
            try:
                s.settimeout(0.5)
                gone += s.recv(100) == b""
            except socket.timeout:
                pass  # still open
            except OSError:
                gone += 1  # reset
        check(gone == len(slow) + len(trickle), "load: the slow clients see their connection end")
        check(get("/api/model", "127.4.0.99")[0] == 200, "load: served after the siege")
    finally:
        stop.set()
        th.join()
        for s in idle + slow + trickle:
            s.close()

def phase_limits():
    # a header block over the connection's memory: 431, from libmicrohttpd
    r = request(b"GET /api/model HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n", "127.5.0.1")
    check(r is not None and r[0] == 431, "431 for a 40 KB header block")
    # a body over the limit: 413 before a byte of it is sent
    for path, size in (("/api/recommend", 100 << 20), ("/api/profiles/" + "0" * 32 + "/history", 1 << 30)):
        s = connect("127.5.0.2", timeout=5)
        s.sendall(("POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (path, size)).encode())
        r = read_response(s)
        s.close()
        check(r is not None and is_json_error(r, 413), "413 before the body: " + path)
    # methods nobody defined: 405 with Allow where the path exists, else 501
    for method, path, allow in (("PATCH", "/api/model", "GET, HEAD"), ("OPTIONS", "/", "GET, HEAD"),
                                ("TRACE", "/api/recommend", "POST"), ("PUT", "/api/search", "GET, HEAD"),
                                ("DELETE", "/app.js", "GET, HEAD"), ("BREW", "/api/profiles", "POST")):
        r = get(path, "127.5.0.3", method)
        check(r is not None and is_json_error(r, 405) and r[1].get("allow") == allow,
              "%s %s: 405 Allow %s (got %s %s)" % (method, path, allow, r and r[0], r and r[1].get("allow")))
    r = get("/nope", "127.5.0.3", "BREW")
    check(r is not None and is_json_error(r, 501), "BREW on no path: 501")

def phase_escape():
    page = get("/", "127.6.0.1")[2]
    check(len(page) > 100, "the page is served")
    for path in ("/../index.html", "/..%2findex.html", "/%2e%2e/index.html", "/%2E%2E%2Fapp.js",
                 "/app.js/../index.html", "/./app.js", "//app.js", "/%252e%252e/app.js",
                 "/..%5capp.js", "/..\\app.js", "/%5c..%5cindex.html", "/index.html%00",
                 "/index.html%2500", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                 "/..%c0%af..%c0%afetc/passwd", "/%2e%2e%5c%2e%2e%5cetc%5cpasswd", "/index.html/",
                 "/api/../index.html", "/api/%2e%2e/app.js", "/etc/passwd", "/proc/self/environ"):
        r = get(path, "127.6.0.1")
        check(r is not None and r[0] in (400, 404) and b"root:" not in r[2] and r[2] != page
              and b"<html" not in r[2].lower(), "escape %s: %s" % (path, r and r[0]))

def phase_no_limit():
    # --rate-limit 0 --max-connections 300 --max-per-ip 2
    s = connect("127.8.0.1")
    n200 = 0
    for _ in range(300):
        s.sendall(b"GET /api/model HTTP/1.1\r\nHost: t\r\n\r\n")
        r = read_response(s)
        n200 += r is not None and r[0] == 200
    check(n200 == 300, "--rate-limit 0: 300 requests at full speed all answered (%d)" % n200)
    check(metric("songrec_http_connections_max") == 300, "--max-connections 300 in effect")
    check(metric("songrec_http_rate_limited_total") == 0, "--rate-limit 0: nothing refused")
    s2 = connect("127.8.0.1")
    s3 = connect("127.8.0.1", timeout=5)
    try:
        s3.sendall(b"GET /api/model HTTP/1.1\r\nHost: t\r\n\r\n")
        third = s3.recv(100)
    except socket.timeout:
        third = None  # still open
    except OSError:
        third = b""  # reset
    check(third == b"", "--max-per-ip 2: a third connection from one address is closed")
    for x in (s, s2, s3):
        x.close()

def phase_low_limit():
    # --rate-limit 0.05 --rate-burst 3: a request every 20 s after the first 3
    st = [get("/api/model", "127.9.0.1")[0] for _ in range(5)]
    check(st == [200, 200, 200, 429, 429], "--rate-burst 3: three pass, then 429 (%s)" % st)
    r = get("/api/model", "127.9.0.1")
    check(r[0] == 429 and 15 <= int(r[1].get("retry-after", "0")) <= 20,
          "--rate-limit 0.05: Retry-After of about 20 s (%s)" % r[1].get("retry-after"))
    check(get("/api/model", "127.9.0.2")[0] == 200, "--rate-limit 0.05: another address served")

def phase_headers():
    tok = json.loads(get("/api/profiles", "127.7.0.1", "POST", "")[2])["token"]
    cases = [("GET", "/api/model", None, 200), ("GET", "/api/search?q=a", None, 200),
             ("GET", "/api/songs/1", None, 200), ("GET", "/api/songs/999999", None, 404),
             ("GET", "/api/search", None, 400), ("POST", "/api/recommend", '{"ratings": []}', 200),
             ("POST", "/api/recommend", "{", 400), ("GET", "/api/profiles/" + tok, None, 200),
             ("GET", "/api/profiles/" + "f" * 32, None, 404), ("GET", "/nope", None, 404),
             ("PATCH", "/api/model", None, 405), ("BREW", "/x", None, 501),
             ("GET", "/healthz", None, 200), ("GET", "/api/songs/%zz", None, 400),
             ("POST", "/api/recommend", "x" * 70000, 413), ("GET", "/", None, 200),
             ("HEAD", "/api/model", None, 200)]
    for method, path, body, status in cases:
        r = get(path, "127.7.0.2", method, body)
        what = "%s %s" % (method, path[:40])
        check(r is not None and r[0] == status, "%s: status %s, wanted %d" % (what, r and r[0], status))
        if r is None:
            continue
        check(secure(r), what + ": security headers")
        if path != "/" and method != "HEAD":
            check(r[1].get("content-type") == JSON_TYPE, what + ": JSON content type " + r[1].get("content-type", "-"))
            json.loads(r[2])

globals()["phase_" + sys.argv[2]]()
EOF

export SERVE_PID=$PID
run_py rate
run_py limits
run_py escape
run_py headers
run_py load
serve_stop
echo "    server log: $(wc -l < "$T/serve.err") lines"

# ---- the limits given on the command line ----
start --rate-limit 0 --max-connections 300 --max-per-ip 2
run_py no_limit
serve_stop
start --rate-limit 0.05 --rate-burst 3
run_py low_limit
serve_stop
finish

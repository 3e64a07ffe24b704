-- wrk script for bench/load.sh: a mix of what listeners do, weights from MIX
-- ("search,recommend,rating,put" in percent, default 40,30,25,5):
--   search     GET /api/search with a query from QUERIES (one per line)
--   recommend  POST /api/recommend for a new random listener of 10 rated songs
--   rating     POST /api/profiles/{token}/ratings: each one a new (profile, song) pair —
--              track "L<t>-<j>" of "Load Artist" in profile t, rating 1 + (7t + 3j) % 10 —
--              so the final state of every profile is known whatever the order
--   put        PUT /api/profiles/{token} on one of the first N_PUT profiles, always with
--              that profile's own 10 songs: song (37p + 101i) % N_SONGS, rating 1 + (p + i) % 10
-- TOKENS is the file of profile tokens (line p + 1 is profile p); the rating profiles
-- (p >= N_PUT) are shared out among the threads, so no two threads write one pair.
-- Each thread keeps the updates the server acknowledged (2xx), read back from the
-- answers: a rating answer echoes its track and rating, a PUT answer its token. done()
-- writes them to ACKS ("R t j rating" and "P token" lines) for the checker, and prints
-- one RESULT line: requests/s, latency percentiles, socket errors, 4xx and 5xx counts.
local n_songs = tonumber(os.getenv("N_SONGS") or "1000")
local n_put = tonumber(os.getenv("N_PUT") or "32")
local n_threads = tonumber(os.getenv("N_THREADS") or "2")

local weights = {}
for w in string.gmatch(os.getenv("MIX") or "40,30,25,5", "%d+") do weights[#weights + 1] = tonumber(w) end

local queries = {}
for line in io.lines(os.getenv("QUERIES")) do queries[#queries + 1] = line end
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  math.randomseed(os.time() + id * 7919)
  acks, put_acks = {}, {}
  n4xx, n5xx, k = 0, 0, 0
  mine = {} -- profile numbers (0-based) this thread writes ratings to
  for p = n_put, #tokens - 1 do
    if p % n_threads == id then mine[#mine + 1] = p end
  end
end

local function search()
  local q = queries[math.random(1, #queries)]
  return wrk.format("GET", "/api/search?limit=10&q=" .. urlencode(q))
end

local function recommend()
  local parts = {}
  for i = 1, 10 do
    parts[i] = string.format('{"song": %d, "rating": %d}', math.random(0, n_songs - 1), math.random(1, 10))
  end
  return wrk.format("POST", "/api/recommend", {["Content-Type"] = "application/json"},
                    '{"n": 10, "ratings": [' .. table.concat(parts, ",") .. ']}')
end

local function rating()
  local p = mine[k % #mine + 1]
  local j = math.floor(k / #mine)
  k = k + 1
  local body = string.format('{"artist": "Load Artist", "track": "L%d-%d", "rating": %d}',
                             p, j, 1 + (7 * p + 3 * j) % 10)
  return wrk.format("POST", "/api/profiles/" .. tokens[p + 1] .. "/ratings",
                    {["Content-Type"] = "application/json"}, body)
end

local function put()
  local p = math.random(0, n_put - 1)
  local parts = {}
  for i = 0, 9 do
    parts[i + 1] = string.format('{"song": %d, "rating": %d}', (37 * p + 101 * i) % n_songs, 1 + (p + i) % 10)
  end
  return wrk.format("PUT", "/api/profiles/" .. tokens[p + 1], {["Content-Type"] = "application/json"},
                    '{"ratings": [' .. table.concat(parts, ",") .. ']}')
end

local kinds = {search, recommend, rating, put}

function request()
  local r = math.random(1, 100)
  for i = 1, #kinds do
    r = r - (weights[i] or 0)
    if r <= 0 then return kinds[i]() end
  end
  return search()
end

function response(status, headers, body)
  if status >= 500 then
    n5xx = n5xx + 1
  elseif status >= 400 then
    n4xx = n4xx + 1
  elseif status == 200 or status == 201 then
    local p, j, r = string.match(body, '"track":"L(%d+)%-(%d+)","rating":([%d%.]+)')
    if p then
      acks[#acks + 1] = p .. " " .. j .. " " .. r
    else
      local tok = string.match(body, '^{"token":"(%x+)"')
      if tok then put_acks[#put_acks + 1] = tok end
    end
  end
end

function done(summary, latency, requests)
  local f = assert(io.open(os.getenv("ACKS"), "w"))
  local c4, c5, n_acks = 0, 0, 0
  for _, t in ipairs(threads) do
    for _, line in ipairs(t:get("acks")) do f:write("R ", line, "\n") end
    for _, tok in ipairs(t:get("put_acks")) do f:write("P ", tok, "\n") end
    n_acks = n_acks + #t:get("acks") + #t:get("put_acks")
    c4 = c4 + t:get("n4xx")
    c5 = c5 + t:get("n5xx")
  end
  f:close()
  local e = summary.errors
  io.write(string.format("RESULT\trequests %d\trequests/s %.0f\tp50 %.2f ms\tp99 %.2f ms\tp99.9 %.2f ms\tmax %.2f ms\t" ..
                         "socket errors %d (connect %d read %d write %d timeout %d)\t4xx %d\t5xx %d\tacks %d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout, c4, c5, n_acks))
end

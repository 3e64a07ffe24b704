-- wrk script: GET /api/search with queries a listener types: 1-3 letter prefixes and
-- "word wo" pairs drawn from a word list (QUERIES file, one query per line).
local queries = {}
for line in io.lines(os.getenv("QUERIES")) do queries[#queries + 1] = line end
math.randomseed(os.time())

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

request = function()
  local q = queries[math.random(1, #queries)]
  return wrk.format("GET", "/api/search?limit=10&q=" .. urlencode(q))
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT\trequests/s %.0f\tp50 %.2f ms\tp99 %.2f ms\tmax %.2f ms\terrors %d\tnon2xx %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end

-- wrk script: POST /api/recommend with a new random listener of 10 rated songs per
-- request (song ids uniform over the catalog, ratings 1..10). N_SONGS comes from the
-- environment (the model's song count).
local n_songs = tonumber(os.getenv("N_SONGS") or "10000")
local n_rated = tonumber(os.getenv("N_RATED") or "10")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time())

request = function()
  local parts = {}
  for i = 1, n_rated do
    parts[i] = string.format('{"song": %d, "rating": %d}', math.random(0, n_songs - 1), math.random(1, 10))
  end
  wrk.body = '{"n": 10, "ratings": [' .. table.concat(parts, ",") .. ']}'
  return wrk.format(nil, "/api/recommend")
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT\trequests/s %.0f\tp50 %.2f ms\tp99 %.2f ms\tmax %.2f ms\terrors %d\tnon2xx %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end

-- wrk script of the sidecar benchmark (bench/lib/wrk.mjs runs it):
-- every request is a POST /get-online-features whose entity keys are drawn
-- afresh, uniformly from 0 .. keys-1 (the bundle's keys), so no answer is
-- served from a repeated key.
--
--   wrk -s random-keys.lua <url> -- <prefix> <suffix> <entities> <keys> <seed>
--
-- The request JSON is prefix .. "k1,k2,..." .. suffix. done() prints one
-- line "WRK_JSON {...}" with the counts and latency percentiles (µs).

local prefix, suffix, entities, keys
local ids = {}
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  prefix = args[1]
  suffix = args[2]
  entities = tonumber(args[3])
  keys = tonumber(args[4])
  if not (prefix and suffix and entities and keys) then
    error("usage: wrk -s random-keys.lua <url> -- <prefix> <suffix> <entities> <keys> <seed>")
  end
  math.randomseed(tonumber(args[5]) or os.time())
end

function request()
  for i = 1, entities do
    ids[i] = math.random(0, keys - 1)
  end
  return wrk.format("POST", "/get-online-features", headers, prefix .. table.concat(ids, ",", 1, entities) .. suffix)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"durationUs":%d,"requests":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,' ..
    '"p50":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end

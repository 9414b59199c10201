-- GET CHECK_PATH (or POST CHECK_BODY to it) with an x-api-key.
local key = os.getenv("BENCH_KEY") or ""
local path = os.getenv("CHECK_PATH") or "/"
local body = os.getenv("CHECK_BODY") or ""

function init(args)
  headers = {["x-api-key"] = key, ["Content-Type"] = "application/json"}
end

function request()
  if body ~= "" then
    return wrk.format("POST", path, headers, body)
  end
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  io.write(string.format(
    'JSON {"requests":%d,"seconds":%f,"non_2xx":%d,"socket_errors":%d,"p50_ms":%f,"p99_ms":%f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

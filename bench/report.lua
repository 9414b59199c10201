-- POST a usage report (append 1) to REPORT_PATH with a bearer key.
local key = os.getenv("BENCH_KEY") or ""
local path = os.getenv("REPORT_PATH") or "/api/instances/bench/entitlements/jobs/usage"
local body = '{"value":{"type":"number","value":1},"behavior":"append"}'

function init(args)
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
end

function request()
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'JSON {"requests":%d,"seconds":%f,"non_2xx":%d,"socket_errors":%d,"p50_ms":%f,"p99_ms":%f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

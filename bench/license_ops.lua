-- Machine licensing under load: MODE=activate POSTs a new fingerprint to MACHINES_PATH per
-- request (thread id and a counter make it unique); MODE=heartbeat POSTs HEARTBEAT_PATH.
local key = os.getenv("BENCH_KEY") or ""
local mode = os.getenv("MODE") or "heartbeat"
local machines = os.getenv("MACHINES_PATH") or "/api/instances/bench/machines"
local heartbeat = os.getenv("HEARTBEAT_PATH") or "/api/instances/bench/machines/m/heartbeat"
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
end

function request()
  if mode == "activate" then
    counter = counter + 1
    local body = string.format('{"fingerprint":"fp-%d-%d","cores":2}', tid, counter)
    return wrk.format("POST", machines, headers, body)
  end
  return wrk.format("POST", heartbeat, headers, "")
end

function done(summary, latency, requests)
  io.write(string.format(
    'JSON {"requests":%d,"seconds":%f,"non_2xx":%d,"socket_errors":%d,"p50_ms":%f,"p99_ms":%f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

-- POST /v1/events/bulk with EVENTS_PER_REQUEST unique events per request.
local counter = 0
local thread_seq = 0
local run = os.getenv("BENCH_RUN") or "run"
local key = os.getenv("BENCH_KEY") or ""
local per_request = tonumber(os.getenv("EVENTS_PER_REQUEST") or "100")
local customers = tonumber(os.getenv("BENCH_CUSTOMERS") or "1000")
local threads = {}

function setup(thread)
  thread:set("tid", thread_seq)
  thread_seq = thread_seq + 1
  table.insert(threads, thread)
end

function init(args)
  tid = tid or 0
  headers = {["Content-Type"] = "application/json", ["x-api-key"] = key}
end

function request()
  counter = counter + 1
  local parts = {}
  for i = 1, per_request do
    local n = counter * per_request + i
    parts[i] = string.format(
      '{"event_name":"bench_call","external_customer_id":"c%d","event_id":"%s-%d-%d","properties":{"tokens":"%d","model":"m%d"}}',
      n % customers, run, tid, n, n % 97, n % 3)
  end
  return wrk.format("POST", "/v1/events/bulk", headers, '{"events":[' .. table.concat(parts, ",") .. ']}')
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    'JSON {"requests":%d,"seconds":%f,"non_2xx":%d,"socket_errors":%d,"p50_ms":%f,"p99_ms":%f}\n',
    summary.requests, summary.duration / 1e6, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

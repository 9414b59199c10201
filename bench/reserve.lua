-- Reservations under load: each thread holds AMOUNT on HOLDS_PATH and, when a hold's answer
-- comes back, settles it (the next request of the thread settles the oldest hold answered).
local key = os.getenv("BENCH_KEY") or ""
local path = os.getenv("HOLDS_PATH") or "/api/instances/bench/entitlements/jobs/reservations"
local hold_body = '{"amount":2,"ttlSeconds":60}'
local settle_body = '{"amount":1}'
local pending = {}

function init(args)
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
end

function request()
  local id = table.remove(pending, 1)
  if id then
    return wrk.format("POST", path .. "/" .. id .. "/settle", headers, settle_body)
  end
  return wrk.format("POST", path, headers, hold_body)
end

function response(status, headers, body)
  if status == 201 then
    local id = string.match(body, '"id":"([^"]+)"')
    if id then table.insert(pending, id) end
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    'JSON {"requests":%d,"seconds":%f,"non_2xx":%d,"socket_errors":%d,"p50_ms":%f,"p99_ms":%f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

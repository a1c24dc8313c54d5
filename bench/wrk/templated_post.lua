-- wrk script: POST a body made from a template file, different for every request.
--   wrk -s bench/wrk/templated_post.lua URL -- TEMPLATE_PATH RUN_ID CONTENT_TYPE TOKEN
-- In the template, {{uid}} becomes RUN_ID .. thread number .. a 23-digit counter (34 characters with a 2-letter
-- prefix, the length of a Twilio SID) and {{phone}} a number among 5,000 (digits only). The summary is printed as
-- one JSON line starting with "WRK_JSON " for bench.run to read.
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  template = file:read("*a")
  file:close()
  run = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[3]
  wrk.headers["X-Webhook-Token"] = args[4]
  counter = 0
end

function request()
  counter = counter + 1
  local uid = string.format("%s%d%023d", run, tid, counter)
  local phone = string.format("5215599%06d", (counter * 7 + tid) % 5000)
  local body = template:gsub("{{uid}}", uid):gsub("{{phone}}", phone)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end

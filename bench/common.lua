-- Shared by the wrk scripts in bench/ (loaded with dofile by each of them).
--
-- Every request is a POST /graphql with a JSON body and the bearer token from
-- the TOKEN environment variable. Every response is checked: a status outside
-- 2xx, or a body with a top-level "errors" key, counts as an error.
-- ("userErrors" does not match: the search is for the quoted key "errors".)
-- done() prints one machine-readable line:
--   BENCH_RESULT {"requests":…,"duration_us":…,"rps":…,"p50_ms":…,"p99_ms":…,"non2xx":…,"gql_errors":…,"socket_errors":…}
-- and, when wrk saw errors, the first offending body (BENCH_SAMPLE_ERROR …).

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
  table.insert(threads, thread)
end

function common_init()
  wrk.method = "POST"
  wrk.path = "/graphql"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  local token = os.getenv("TOKEN")
  if token == nil or token == "" then
    error("TOKEN is not set")
  end
  wrk.headers["Authorization"] = "Bearer " .. token
  non2xx = 0
  gql_errors = 0
  sample_error = ""
end

function read_file(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Returns true when the response is a success.
function check(status, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if sample_error == "" then sample_error = "HTTP " .. status .. " " .. string.sub(body or "", 1, 300) end
    return false
  end
  if body ~= nil and string.find(body, '"errors"', 1, true) then
    gql_errors = gql_errors + 1
    if sample_error == "" then sample_error = string.sub(body, 1, 300) end
    return false
  end
  return true
end

function done(summary, latency, requests)
  local n2, ge, sample = 0, 0, ""
  for _, t in ipairs(threads) do
    n2 = n2 + (t:get("non2xx") or 0)
    ge = ge + (t:get("gql_errors") or 0)
    local s = t:get("sample_error")
    if sample == "" and s ~= nil and s ~= "" then sample = s end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local rps = summary.requests / (summary.duration / 1e6)
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"gql_errors":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, rps,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    n2, ge, socket_errors))
  if sample ~= "" then
    io.write("BENCH_SAMPLE_ERROR " .. string.gsub(sample, "\n", " ") .. "\n")
  end
end

-- wrk script: the clients page searched with a different term, or a
-- different count limit, on every request: no count is ever answered from
-- the server's count cache, and the database sees search after search.
-- usage: TOKEN=… wrk -s bench/fresh.lua URL -- BODY_FILE TERMS_FILE
-- BODY_FILE is a JSON request whose variables hold the search term as
-- "__TERM__" (every occurrence is replaced: the PostGraphile peer's body has it
-- twice, once per search column) and the count limit as 999999 (the first
-- occurrence; the peer's body has none); TERMS_FILE has one term a line.
-- Request k of a thread uses term (k + offset) mod T and limit
-- 1000 + ((thread - 1) + S * (k div T + P)) mod 1000, S = FRESH_THREADS (the
-- run's thread count, default 16) and P = FRESH_SALT (the run's first pass,
-- default 0), so no (term, limit) pair repeats within a run of fewer than
-- 1000 / S passes over the terms per thread, nor between runs whose windows
-- of passes do not overlap (run.sh: 25 passes apart).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

function init(args)
  common_init()
  template = read_file(args[1])
  terms = {}
  for line in io.lines(args[2]) do
    if line ~= "" then table.insert(terms, line) end
  end
  if #terms == 0 then error("no terms in " .. args[2]) end
  counter = 0
  -- Threads per run (the stride between one thread's limits) and the run's
  -- first pass: run.sh gives each run against one server its own window of
  -- passes, so no (term, limit) pair of one run repeats another's (a warm-up's
  -- counts would otherwise answer the measured run's first passes).
  step = tonumber(os.getenv("FRESH_THREADS") or "16")
  salt = tonumber(os.getenv("FRESH_SALT") or "0")
end

function request()
  local n = #terms
  local term = terms[((counter + (thread_id - 1) * 37) % n) + 1]
  local limit = 1000 + (((thread_id - 1) + step * (math.floor(counter / n) + salt)) % 1000)
  counter = counter + 1
  local body = string.gsub(template, "__TERM__", term)
  body = string.gsub(body, "999999", tostring(limit), 1)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  check(status, body)
end

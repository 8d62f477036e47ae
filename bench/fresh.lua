-- wrk script: the clients page searched with a different term, or a
-- different count limit, on every request: no count is ever answered from
-- the server's count cache, and the database sees search after search.
-- usage: TOKEN=… wrk -s bench/fresh.lua URL -- BODY_FILE TERMS_FILE
-- BODY_FILE is a JSON request whose variables hold the search term as
-- "__TERM__" (every occurrence is replaced: the PostGraphile peer's body has it
-- twice, once per search column) and the count limit as 999999 (the first
-- occurrence; the peer's body has none); TERMS_FILE has one term a line.
-- Request k of a thread uses term (k + offset) mod T and limit
-- 1000 + (thread - 1) + 16 * (k div T), so no (term, limit) pair repeats within
-- a run of fewer than 62 passes over the terms per thread (up to 16 threads).
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
end

function request()
  local n = #terms
  local term = terms[((counter + (thread_id - 1) * 37) % n) + 1]
  local limit = 1000 + (((thread_id - 1) + 16 * math.floor(counter / n)) % 1000)
  counter = counter + 1
  local body = string.gsub(template, "__TERM__", term)
  body = string.gsub(body, "999999", tostring(limit), 1)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  check(status, body)
end

-- wrk script: POST the same GraphQL body on every request.
-- usage: TOKEN=… wrk -s bench/query.lua URL -- BODY_FILE
-- BODY_FILE holds the JSON request ({"query":…,"variables":…}).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

function init(args)
  common_init()
  wrk.body = read_file(args[1])
end

function response(status, headers, body)
  check(status, body)
end

-- wrk script: provisionClient with a new, unique clientId on every request.
-- usage: TOKEN=… wrk -s bench/provision.lua URL -- [PREFIX]
-- Ids are PREFIX-<unix time at start>-t<thread>-<counter>: the time keeps them
-- unique across runs against the same database, the thread number and a
-- per-thread counter within a run. They match ^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local query = "mutation P($input: ProvisionClientInput!) { provisionClient(input: $input) " ..
  "{ created client { id clientId status } userErrors { field message code } } }"

function init(args)
  common_init()
  prefix = (args[1] or "b") .. "-" .. os.time()
  counter = 0
  provisioned = 0
end

function request()
  counter = counter + 1
  local id = string.format("%s-t%d-%d", prefix, thread_id, counter)
  local body = string.format(
    '{"query":"%s","variables":{"input":{"clientId":"%s","businessName":"Bench Client %s",' ..
    '"webDomain":"%s.bench.example","contactName":"Bench Contact","businessEmail":"ops@%s.bench.example",' ..
    '"timezone":"Europe/Berlin"}}}',
    query, id, id, id, id)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if check(status, body) then
    -- a provisioning that did not create (userErrors, or created:false) is an error here
    if not string.find(body, '"created":true', 1, true) then
      gql_errors = gql_errors + 1
      if sample_error == "" then
        local at = string.find(body, '"userErrors"', 1, true) or 1
        sample_error = string.sub(body, at, at + 300)
      end
    end
  end
end

-- wrk script: alternate assignPartnerUsers and unassignPartnerUser of one
-- eligible, not-yet-assigned, non-support user on one client.
-- usage: TOKEN=… wrk -t C -c C -s bench/assign.lua URL -- CLIENT_ID USER_ID_1 USER_ID_2 …
-- Run it with one connection per thread (-t equal to -c): thread i owns user
-- i (round robin over the ids given), and a connection has one request in
-- flight at a time, so each user strictly alternates assigned / unassigned
-- and no request is refused for a state another connection left behind.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local assign_q = "mutation A($clientId: String!, $userIds: [ID!]!) { assignPartnerUsers(input: " ..
  "{clientId: $clientId, userIds: $userIds}) { client { id assignments { supportContact user { id } } } " ..
  "userErrors { field message code } } }"
local unassign_q = "mutation U($clientId: String!, $userId: ID!) { unassignPartnerUser(input: " ..
  "{clientId: $clientId, userId: $userId}) { client { id assignments { supportContact user { id } } } " ..
  "userErrors { field message code } } }"

function init(args)
  common_init()
  local client_id = args[1]
  local users = {}
  for i = 2, #args do table.insert(users, args[i]) end
  local user = users[((thread_id - 1) % #users) + 1]
  assign_body = string.format('{"query":"%s","variables":{"clientId":"%s","userIds":["%s"]}}', assign_q, client_id, user)
  unassign_body = string.format('{"query":"%s","variables":{"clientId":"%s","userId":"%s"}}', unassign_q, client_id, user)
  assigned = false
  pending = "assign"
end

-- The next request follows the state the last response left, not a counter:
-- wrk calls request() once more than it sends (in the first thread, to check
-- the script), and a counter would start that thread with an unassign.
function request()
  if assigned then
    pending = "unassign"
    return wrk.format(nil, nil, nil, unassign_body)
  end
  pending = "assign"
  return wrk.format(nil, nil, nil, assign_body)
end

function response(status, headers, body)
  if check(status, body) then
    if string.find(body, '"userErrors":[]', 1, true) then
      assigned = (pending == "assign")
    end
    -- a userError (NOT_ASSIGNED, USER_NOT_ELIGIBLE, …) means the alternation broke
    if not string.find(body, '"userErrors":[]', 1, true) then
      gql_errors = gql_errors + 1
      if sample_error == "" then
        local at = string.find(body, '"userErrors"', 1, true) or 1
        sample_error = string.sub(body, at, at + 300)
      end
    end
  end
end

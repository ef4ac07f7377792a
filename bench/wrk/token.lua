-- wrk script: POST /api/oauth2/token, client credentials, Basic client authentication.
-- The client id and secret come from the environment (KG_CLIENT_ID, KG_CLIENT_SECRET). With
-- KG_PLAIN_GET=1 it sends wrk's plain GET of the URL instead (cpu-per-token.sh's floor), counted
-- the same way.
local id = os.getenv("KG_CLIENT_ID")
local secret = os.getenv("KG_CLIENT_SECRET")

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(data)
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

if os.getenv("KG_PLAIN_GET") ~= "1" then
  wrk.method = "POST"
  wrk.path = "/api/oauth2/token"
  wrk.body = "grant_type=client_credentials"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. base64(id .. ":" .. secret)
end

local non200 = 0
response = function(status)
  if status ~= 200 then non200 = non200 + 1 end
end
done = function(summary)
  io.stderr:write(string.format("requests %d non200 %d\n", summary.requests, non200))
end

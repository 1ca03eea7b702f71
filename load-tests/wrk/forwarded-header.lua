-- wrk: the forwarded-certificate mode (SPEC §8). A TLS-terminating proxy in front of certgate
-- sends the client certificate in a header; this script plays that proxy. Run it from an
-- address in the gateway's `trusted-proxies`, against the plain listener:
--
--   CERT=run/pki/dev-valid-client.pem \
--     wrk -t2 -c32 -d30s -s load-tests/wrk/forwarded-header.lua \
--     http://127.0.0.1:8080/validate/weather/Oslo
--
-- Environment: CERT (PEM file, default run/pki/dev-valid-client.pem), HEADER (default
-- X-ARR-ClientCert, as in examples/certgate.yaml), ENCODING (url-pem, the default, or
-- base64-der: then CERT must be a .der file). Prints the status codes seen at the end; every
-- request of a valid certificate should be a 200.

local function read(path)
  local f = assert(io.open(path, "rb"), "cannot read " .. path)
  local data = f:read("*a")
  f:close()
  return data
end

local function urlencode(s)
  return (s:gsub("[^%w]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function base64(data)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((data:gsub(".", function(x)
    local bits, byte = "", x:byte()
    for i = 8, 1, -1 do bits = bits .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return alphabet:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

local header = os.getenv("HEADER") or "X-ARR-ClientCert"
local cert = read(os.getenv("CERT") or "run/pki/dev-valid-client.pem")
if (os.getenv("ENCODING") or "url-pem") == "base64-der" then
  wrk.headers[header] = base64(cert)
else
  wrk.headers[header] = urlencode(cert)
end

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do
      io.write(string.format("status %d: %d\n", status, n))
    end
  end
end

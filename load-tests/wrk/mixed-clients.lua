-- wrk: a mix of valid and invalid clients in the forwarded-certificate mode, the traffic shape
-- of an edge where some callers present expired, unknown or untrusted certificates. Requests
-- rotate over the certificates in CERTS; at the end the script prints the status codes and the
-- share of 200s, which should match the share of valid certificates.
--
--   CERTS=run/pki/dev-valid-client.pem,run/pki/dev-expired-client.pem,run/pki/dev-unregistered-client.pem,run/pki/tst-untrusted-client.pem \
--     wrk -t2 -c32 -d30s -s load-tests/wrk/mixed-clients.lua \
--     http://127.0.0.1:8080/validate/weather/Oslo
--
-- Environment: CERTS (comma-separated PEM files; default: the four demo clients above, from
-- run/pki), HEADER (default X-ARR-ClientCert; URL-encoded PEM).

local function read(path)
  local f = assert(io.open(path, "rb"), "cannot read " .. path)
  local data = f:read("*a")
  f:close()
  return data
end

local function urlencode(s)
  return (s:gsub("[^%w]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local header = os.getenv("HEADER") or "X-ARR-ClientCert"
local list = os.getenv("CERTS") or table.concat({
  "run/pki/dev-valid-client.pem", "run/pki/dev-expired-client.pem",
  "run/pki/dev-unregistered-client.pem", "run/pki/tst-untrusted-client.pem" }, ",")
local certs = {}
for path in list:gmatch("[^,]+") do
  table.insert(certs, urlencode(read(path)))
end
-- Built per thread in init(): wrk knows the URL's host only there, and a request without Host
-- is refused (HTTP/1.1 requires one).
requests = {}

local threads = {}
function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  n = offset or 0
  for _, value in ipairs(certs) do
    table.insert(requests, wrk.format(nil, nil, { [header] = value, Host = wrk.host }))
  end
end
function request()
  n = n + 1
  return requests[(n % #requests) + 1]
end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end

function done(summary, latency, reqs)
  local total, ok = 0, 0
  local merged = {}
  for _, t in ipairs(threads) do
    for status, count in pairs(t:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
      total = total + count
      if status == 200 then ok = ok + count end
    end
  end
  for status, count in pairs(merged) do io.write(string.format("status %d: %d\n", status, count)) end
  if total > 0 then
    io.write(string.format("share of 200: %.3f (valid certificates: 1 of %d)\n", ok / total, #certs))
  end
end

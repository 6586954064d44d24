-- POST one new item to PATH, for bench/storage.sh. BODY_KIND picks the body shape:
--   coglex: {"documents": [{...}]}  (storage-svc's insert)
--   parse:  {...} plus the ACL given in PARSE_ACL (Parse's REST create)
-- The item itself is the same on both sides: name, category (one of 20), price, tags.
local path = os.getenv("PATH_PREFIX")
local kind = os.getenv("BODY_KIND")
local acl = os.getenv("PARSE_ACL")
local counter = 0
local thread_tag = "t"

function init(args)
  local seed = tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000
  math.randomseed(os.time() + seed)
  thread_tag = "t" .. seed
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  counter = counter + 1
  local item = string.format(
    '"name":"new-%s-%d","category":"c%d","price":%d,"tags":["bench","new"]',
    thread_tag, counter, math.random(0, 19), math.random(1, 10000))
  local body
  if kind == "parse" then
    body = "{" .. item .. ',"ACL":' .. acl .. "}"
  else
    body = '{"documents":[{' .. item .. "}]}"
  end
  return wrk.format("POST", path, nil, body)
end

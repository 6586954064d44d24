-- GET with a JSON equality filter on one of CATEGORIES categories, for bench/storage.sh.
-- QUERY_TEMPLATE is the path with CATEGORY where the category name goes, already URL-encoded
-- around it, e.g. /parse/classes/Item?where=%7B%22category%22%3A%22CATEGORY%22%7D&limit=20.
local template = os.getenv("QUERY_TEMPLATE")
local count = tonumber(os.getenv("CATEGORIES") or "20")
local paths = {}
for i = 0, count - 1 do
  paths[#paths + 1] = template:gsub("CATEGORY", "c" .. i)
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

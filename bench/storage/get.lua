-- GET <PATH_PREFIX><id>, the id picked at random from IDS_FILE (one id a line), for
-- bench/storage.sh. Headers (API key, session token) come from wrk's -H.
local prefix = os.getenv("PATH_PREFIX")
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do
  if line ~= "" then ids[#ids + 1] = line end
end
assert(#ids > 0, "no ids in " .. os.getenv("IDS_FILE"))

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  return wrk.format("GET", prefix .. ids[math.random(#ids)])
end

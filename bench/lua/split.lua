-- Spreads wrk's threads over several addresses, round robin, so "direct to backend" loads both
-- backends like a proxy would. Addresses come from WRK_SPLIT, e.g. "127.0.0.2:18201,127.0.0.3:18201".
-- With -t2 thread 1 talks to the first address and thread 2 to the second; the Host header and
-- path still come from the URL on the command line.
local addrs = {}
local next_index = 0

function setup(thread)
  if #addrs == 0 then
    for hostport in string.gmatch(os.getenv("WRK_SPLIT") or "", "[^,]+") do
      local host, port = string.match(hostport, "^(.+):(%d+)$")
      for _, addr in ipairs(wrk.lookup(host, port)) do
        table.insert(addrs, addr)
      end
    end
  end
  if #addrs > 0 then
    thread.addr = addrs[(next_index % #addrs) + 1]
    next_index = next_index + 1
  end
end

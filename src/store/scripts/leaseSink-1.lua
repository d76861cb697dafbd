--[[
  Takes or keeps an audit sink's writer lease: one process writes a sink at a time.
  Input:
    KEYS[1] the sink's lease (string: the holder)
    ARGV[1] holder id (one per process and sink)
    ARGV[2] lease time (ms)
  Output:
    1 when the caller holds the lease now, else 0
]]
local lease_key = KEYS[1]
local holder, ttl_ms = ARGV[1], ARGV[2]

local current = redis.call('GET', lease_key)
if current and current ~= holder then return 0 end
redis.call('SET', lease_key, holder, 'PX', ttl_ms)
return 1

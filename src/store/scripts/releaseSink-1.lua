--[[
  Gives up an audit sink's writer lease, only if the caller holds it.
  Input:
    KEYS[1] the sink's lease (string: the holder)
    ARGV[1] holder id
  Output:
    1 when released, else 0
]]
local lease_key = KEYS[1]
local holder = ARGV[1]

if redis.call('GET', lease_key) ~= holder then return 0 end
redis.call('DEL', lease_key)
return 1

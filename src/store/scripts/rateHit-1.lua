--[[
  Counts events for one key in its fixed window; the key expires with the window (plus a margin).
  Input:
    KEYS[1] the window's counter (key-names.ts `rate`)
    ARGV[1] events to count
    ARGV[2] ttl (s), set when this call created the counter
  Output:
    the events counted in the window, these included
]]
local counter_key = KEYS[1]
local amount, ttl = tonumber(ARGV[1]), ARGV[2]

local count = redis.call('INCRBY', counter_key, amount)
if count == amount then redis.call('EXPIRE', counter_key, ttl) end
return count

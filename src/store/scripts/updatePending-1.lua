--[[
  Replaces a pending authorization request only while it exists, keeping its expiry.
  Input:
    KEYS[1] the pending request's string key
    ARGV[1] the new JSON
  Output:
    1 when replaced, 0 when it is gone
]]
local pending_key = KEYS[1]
local value = ARGV[1]

if redis.call('EXISTS', pending_key) == 0 then return 0 end
redis.call('SET', pending_key, value, 'KEEPTTL')
return 1

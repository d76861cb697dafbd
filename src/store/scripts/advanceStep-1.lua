--[[
  Moves the grant's step forward only.
  Input:
    KEYS[1] step key
    ARGV[1] new index
    ARGV[2] expire-at (epoch s)
  Output:
    1
]]
local step_key = KEYS[1]
local index, expire_at = ARGV[1], ARGV[2]

local cur = tonumber(redis.call('GET', step_key) or '-1')
if tonumber(index) > cur then redis.call('SET', step_key, index, 'EXAT', expire_at) end
return 1

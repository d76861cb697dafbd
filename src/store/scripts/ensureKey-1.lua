--[[
  Makes the signing key active unless one already is.
  Input:
    KEYS[1] keys hash (`k:<kid>` -> record JSON, `active` -> kid)
    ARGV[1] kid
    ARGV[2] record JSON
  Output:
    the active kid
]]
local keys_key = KEYS[1]
local kid, record = ARGV[1], ARGV[2]

local active = redis.call('HGET', keys_key, 'active')
if active then return active end
redis.call('HSET', keys_key, 'k:' .. kid, record, 'active', kid)
return kid

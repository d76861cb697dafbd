--[[
  Removes a trusted issuer by id.
  Input:
    KEYS[1] hash: trusted issuer id -> iss
    KEYS[2] hash: iss -> entry JSON
    ARGV[1] id
  Output:
    1, or 0 when there is no such id
]]
local ids_key, by_issuer_key = KEYS[1], KEYS[2]
local id = ARGV[1]

local iss = redis.call('HGET', ids_key, id)
if not iss then return 0 end
redis.call('HDEL', ids_key, id)
redis.call('HDEL', by_issuer_key, iss)
return 1

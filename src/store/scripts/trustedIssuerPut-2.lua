--[[
  Creates or replaces a trusted issuer (config entries at start): an entry of the same id under
  another iss, or another id holding the same iss, is removed first (the config file wins).
  Input:
    KEYS[1] hash: trusted issuer id -> iss
    KEYS[2] hash: iss -> entry JSON
    ARGV[1] id
    ARGV[2] iss
    ARGV[3] entry JSON
  Output:
    1
]]
local ids_key, by_issuer_key = KEYS[1], KEYS[2]
local id, iss, json = ARGV[1], ARGV[2], ARGV[3]

local old_iss = redis.call('HGET', ids_key, id)
if old_iss and old_iss ~= iss then redis.call('HDEL', by_issuer_key, old_iss) end
local holder = redis.call('HGET', by_issuer_key, iss)
if holder then
  local other = cjson.decode(holder)['id']
  if other and other ~= id then redis.call('HDEL', ids_key, other) end
end
redis.call('HSET', ids_key, id, iss)
redis.call('HSET', by_issuer_key, iss, json)
return 1

--[[
  Registers a trusted issuer whose id and issuer are both free.
  Input:
    KEYS[1] hash: trusted issuer id -> iss
    KEYS[2] hash: iss -> entry JSON
    ARGV[1] id
    ARGV[2] iss
    ARGV[3] entry JSON
  Output:
    'created', 'id_taken' or 'issuer_taken' (nothing written for the last two)
]]
local ids_key, by_issuer_key = KEYS[1], KEYS[2]
local id, iss, json = ARGV[1], ARGV[2], ARGV[3]

if redis.call('HEXISTS', ids_key, id) == 1 then return 'id_taken' end
if redis.call('HEXISTS', by_issuer_key, iss) == 1 then return 'issuer_taken' end
redis.call('HSET', ids_key, id, iss)
redis.call('HSET', by_issuer_key, iss, json)
return 'created'

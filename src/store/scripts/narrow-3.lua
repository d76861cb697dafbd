--[[
  Narrows only an active grant still holding the expected set (two workers narrow once), and
  revokes every outstanding token: each carries the wider set.
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts: s status, e deadline,
            v policy version, pr pending-record marker; tokens as tokenField)
    KEYS[2] grant's revoked-jti set
    KEYS[3] grant data
    ARGV[1] expected granted JSON
    ARGV[2] new grant data JSON
    ARGV[3] policy version
    ARGV[4] now (epoch s)
    ARGV[5] pending-record marker JSON or ''
    ARGV[6] grant id
  Output:
    1 when it narrowed, else 0
]]
--@include tokenFields
local grant_key, revoked_key, data_key = KEYS[1], KEYS[2], KEYS[3]
local expected_granted, next_data, policy_version = ARGV[1], ARGV[2], ARGV[3]
local now, pending, grant_id = tonumber(ARGV[4]), ARGV[5], ARGV[6]

local f = redis.call('HMGET', grant_key, 's', 'e')
local d = redis.call('GET', data_key)
if f[1] ~= 'active' or not d then return 0 end
local data = cjson.decode(d)
if cjson.encode(data.granted) ~= cjson.encode(cjson.decode(expected_granted)) then return 0 end
redis.call('SET', data_key, next_data, 'KEEPTTL')
redis.call('HSET', grant_key, 'v', policy_version)
if pending ~= '' then redis.call('HSET', grant_key, 'pr', pending) end
revoke_tokens(live_tokens(grant_key, now, false), revoked_key, grant_id, f[2])
return 1

--[[
  Moves the grant from the expected status (resume: suspended -> active; widen: active -> active)
  with its new data, policy version and, optionally, a new token; an active grant is (back) in the
  live index.
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts: s status, r reason,
            v policy version, e deadline; tokens as tokenField)
    KEYS[2] grant data
    KEYS[3] live-grant index
    ARGV[1] expected status
    ARGV[2] new status
    ARGV[3] data JSON or ''
    ARGV[4] token field (tokenField) or ''
    ARGV[5] token exp
    ARGV[6] policy version or ''
    ARGV[7] grant id
  Output:
    1 when it moved, else 0
]]
local grant_key, data_key, live_key = KEYS[1], KEYS[2], KEYS[3]
local from, to, data, token_field, token_exp = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local policy_version, grant_id = ARGV[6], ARGV[7]

if redis.call('HGET', grant_key, 's') ~= from then return 0 end
redis.call('HSET', grant_key, 's', to)
redis.call('HDEL', grant_key, 'r')
if data ~= '' then redis.call('SET', data_key, data, 'KEEPTTL') end
if token_field ~= '' then redis.call('HSET', grant_key, token_field, token_exp) end
if policy_version ~= '' then redis.call('HSET', grant_key, 'v', policy_version) end
if to == 'active' then redis.call('ZADD', live_key, redis.call('HGET', grant_key, 'e'), grant_id) end
return 1

--[[
  Suspends an active grant.
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts: s status, r reason,
            pr pending-record marker)
    ARGV[1] reason
    ARGV[2] pending-record marker JSON or ''
  Output:
    1 when it suspended, else 0
]]
local grant_key = KEYS[1]
local reason, pending = ARGV[1], ARGV[2]

if redis.call('HGET', grant_key, 's') ~= 'active' then return 0 end
redis.call('HSET', grant_key, 's', 'suspended', 'r', reason)
if pending ~= '' then redis.call('HSET', grant_key, 'pr', pending) end
return 1

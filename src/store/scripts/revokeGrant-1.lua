--[[
  Revokes a grant (its tokens go with it: a token is active only while its grant is).
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts: s status, r reason,
            pr pending-record marker, c client id; tokens as tokenField)
    ARGV[1] reason
    ARGV[2] now (epoch s)
    ARGV[3] pending-record marker JSON or ''
  Output:
    {revoked 0|1, unexpired tokens made inactive, the grant's client id (when revoked)}
    (The client id lets the caller drop the grant from the client's live-grant set, another slot.)
]]
--@include tokenFields
local grant_key = KEYS[1]
local reason, now, pending = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local s = redis.call('HGET', grant_key, 's')
if not s or s == 'revoked' then return {0, 0} end
redis.call('HSET', grant_key, 's', 'revoked', 'r', reason)
if pending ~= '' then redis.call('HSET', grant_key, 'pr', pending) end
return {1, #live_tokens(grant_key, now, false), redis.call('HGET', grant_key, 'c')}

--[[
  One round trip per evaluation: the grant, its revoked jtis and signals, and the usage counters,
  counting this call. Nothing is counted for a grant that does not exist, nor, when a token's
  digest is presented (a token not yet proven: TokenVerifier.confirmIssued), unless the digest
  stored when it was issued is there and equal to it (so the digest check and the read are one
  round trip; Lua strings are interned, so the comparison is by reference, and the caller compares
  again in constant time before using anything).
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts: s status, e deadline, c client,
            t task, v policy version)
    KEYS[2] grant data
    KEYS[3] revoked jtis
    KEYS[4] signal summary
    KEYS[5] calls window
    KEYS[6] denials window
    KEYS[7] the agent's used actions
    KEYS[8] step
    ARGV[1] jti
    ARGV[2] action
    ARGV[3] calls window ttl
    ARGV[4] used-actions ttl
    ARGV[5] this call's bucket
    ARGV[6] the oldest calls bucket counted
    ARGV[7] the oldest denials bucket counted
    ARGV[8] the most buckets a window spans
    ARGV[9] the token's digest field (`#` and its tokenField)
    ARGV[10] the presented token's digest, or '' when the token is already proven
  Output:
    false (no grant);
    {stored digest or false} (a digest presented and none stored, or another stored: nothing counted);
    {s, e, c, t, v, data, jti revoked, signal summary or '', calls, denied, action used, step,
     stored digest or false}
]]
--@include trailingWindow
local grant_key, data_key, revoked_key, summary_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local calls_key, denied_key, used_key, step_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local jti, action, calls_ttl, used_ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local calls_bucket, calls_oldest, denied_oldest = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local span = tonumber(ARGV[8])
local digest_field, presented = ARGV[9], ARGV[10]

local g = redis.call('HMGET', grant_key, 's', 'e', 'c', 't', 'v', digest_field)
local data = redis.call('GET', data_key)
if not (g[1] and g[2] and g[3] and g[4] and data) then return false end
local stored = g[6]
if presented ~= '' and stored ~= presented then return {stored} end
local calls, calls_w = window_count(calls_key, calls_oldest, span)
window_add(calls_key, calls_bucket, calls_w, calls_ttl)
local denied = window_count(denied_key, denied_oldest, span)
local used = redis.call('SISMEMBER', used_key, action)
-- Used actions are remembered for a while after their last use, not their first.
if used == 1 then redis.call('EXPIRE', used_key, used_ttl) end
return {g[1], g[2], g[3], g[4], g[5], data, redis.call('SISMEMBER', revoked_key, jti),
  redis.call('GET', summary_key) or '', calls + 1, denied, used, redis.call('GET', step_key), stored}

--[[
  The introspection check in one call: the grant's status, deadline and client, and whether the
  jti is revoked (one script costs the caller about half of a two-command pipeline).
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts)
    KEYS[2] grant's revoked-jti set
    ARGV[1] jti
  Output:
    {{s status, e deadline, c client id} (nils for a missing grant), 1 if the jti is revoked else 0}
]]
local grant_key, revoked_key = KEYS[1], KEYS[2]
local jti = ARGV[1]
return {redis.call('HMGET', grant_key, 's', 'e', 'c'), redis.call('SISMEMBER', revoked_key, jti)}

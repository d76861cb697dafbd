--[[
  The introspection check in one call: the grant's status, deadline and client, the digest stored
  for the token (tokenDigestField; the proof that these are the bytes Mandate issued), and
  whether the jti is revoked (one script costs the caller about half of a two-command pipeline).
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts)
    KEYS[2] grant's revoked-jti set
    ARGV[1] jti
    ARGV[2] the token's digest field (`#` and its tokenField)
  Output:
    {{s status, e deadline, c client id, digest} (nils for a missing grant or digest),
     1 if the jti is revoked else 0}
]]
local grant_key, revoked_key = KEYS[1], KEYS[2]
local jti, digest_field = ARGV[1], ARGV[2]
return {redis.call('HMGET', grant_key, 's', 'e', 'c', digest_field), redis.call('SISMEMBER', revoked_key, jti)}

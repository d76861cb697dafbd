--[[
  Rotates a grant's refresh token and adds the new access token.
  A hash used before means the refresh token was replayed: the grant is revoked (RFC 9700).
  Used hashes are kept as their marks (see refreshHashMark), the last three, comma-separated,
  so the grant hash stays small enough for Redis' compact encoding; for the same reason each
  refresh drops the grant's expired tokens.
  Narrowing revokes every outstanding token, since each carries the wider grant.
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts: s status, e deadline, r reason,
            rt refresh hash, ru used refresh marks, v policy version; tokens as tokenField)
    KEYS[2] grant's revoked-jti set
    KEYS[3] grant data
    ARGV[1] presented refresh hash
    ARGV[2] new refresh hash
    ARGV[3] new token's field (tokenField)
    ARGV[4] its exp
    ARGV[5] changed grant data JSON or ''
    ARGV[6] policy version
    ARGV[7] now (epoch s)
    ARGV[8] '1' to revoke outstanding tokens
    ARGV[9] grant id
    ARGV[10] new token's digest (tokenDigestField) or '' (none stored)
  Output:
    'ok' | 'replay' | 'invalid' | 'missing' | 'inactive'
]]
--@include tokenFields
local grant_key, revoked_key, data_key = KEYS[1], KEYS[2], KEYS[3]
local presented, next_hash, token_field, token_exp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local changed_data, policy_version, now = ARGV[5], ARGV[6], tonumber(ARGV[7])
local revoke_outstanding, grant_id = ARGV[8], ARGV[9]

local f = redis.call('HMGET', grant_key, 's', 'e', 'rt', 'ru')
if not f[1] then return 'missing' end
local mark = string.sub(presented, 8, 23)
local used = {}
for m in string.gmatch(f[4] or '', '[^,]+') do table.insert(used, m) end
if f[3] ~= presented then
  for _, m in ipairs(used) do
    if m == mark then
      redis.call('HSET', grant_key, 's', 'revoked', 'r', 'refresh_token_replay')
      return 'replay'
    end
  end
  return 'invalid'
end
if f[1] ~= 'active' or tonumber(f[2]) <= now then return 'inactive' end
table.insert(used, mark)
while #used > 3 do table.remove(used, 1) end
redis.call('HSET', grant_key, 'rt', next_hash, 'ru', table.concat(used, ','), 'v', policy_version)
if changed_data ~= '' then
  redis.call('SET', data_key, changed_data, 'KEEPTTL')
end
local live = live_tokens(grant_key, now, true)
if revoke_outstanding == '1' then revoke_tokens(live, revoked_key, grant_id, f[2]) end
redis.call('HSET', grant_key, token_field, token_exp)
if ARGV[10] and ARGV[10] ~= '' then redis.call('HSET', grant_key, '#' .. token_field, ARGV[10]) end
return 'ok'

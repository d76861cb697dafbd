--[[
  Lua twins of tokenField (redis-grant-store.ts) and the token walks the grant scripts share.
  A token is a field of the grant hash: `.<random>` for the jti `<grant id>.<random>`, `=<jti>`
  for any other, valued with the token's exp (see GRANT_FIELDS in grant-fields.ts). Beside it,
  `#` and the same name holds the token's digest (tokenDigestField), dropped with it.
]]
-- Is a hash field a token ('.' is byte 46, '=' is 61)?
local function is_token(f)
  local b = string.byte(f, 1)
  return b == 46 or b == 61
end
-- The jti a token field stands for.
local function jti_of(f, gid)
  if string.byte(f, 1) == 46 then return gid .. f end
  return string.sub(f, 2)
end
-- The grant's unexpired token fields; with drop_expired, the expired ones are deleted on the way.
local function live_tokens(key, now, drop_expired)
  local all = redis.call('HGETALL', key)
  local live = {}
  for i = 1, #all, 2 do
    local f = all[i]
    if is_token(f) then
      if tonumber(all[i + 1]) >= now then table.insert(live, f)
      elseif drop_expired then redis.call('HDEL', key, f, '#' .. f) end
    end
  end
  return live
end
-- Adds the tokens' jtis to the grant's revoked set, which lives until the grant's deadline.
local function revoke_tokens(fields, rj, gid, deadline)
  for _, f in ipairs(fields) do redis.call('SADD', rj, jti_of(f, gid)) end
  if #fields > 0 then redis.call('EXPIREAT', rj, deadline) end
end

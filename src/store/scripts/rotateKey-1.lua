--[[
  Retires the active signing key (kept for verification until remove_after) and activates the
  new one, only if the active key is still the expected one (two processes rotating at once
  rotate once).
  Input:
    KEYS[1] keys hash (`k:<kid>` -> record JSON, `active` -> kid)
    ARGV[1] expected active kid
    ARGV[2] new kid
    ARGV[3] new record JSON
    ARGV[4] now (epoch s)
    ARGV[5] remove_after (epoch s)
  Output:
    the active kid afterwards
]]
local keys_key = KEYS[1]
local expected, kid, record, now, remove_after = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local active = redis.call('HGET', keys_key, 'active')
if active ~= expected then return active end
local raw = redis.call('HGET', keys_key, 'k:' .. active)
if raw then
  local old = cjson.decode(raw)
  old.retired_at = tonumber(now)
  old.remove_after = tonumber(remove_after)
  redis.call('HSET', keys_key, 'k:' .. active, cjson.encode(old))
end
redis.call('HSET', keys_key, 'k:' .. kid, record, 'active', kid)
return kid

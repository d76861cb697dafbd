--[[
  Redeems an authorization code once: the first call marks it used and gets its value; every later
  call (while the code's key lives) marks it replayed and gets the grant its first use issued.
  Input:
    KEYS[1] the code's hash (fields: `v` value JSON, `u` used mark, `g` grant id, `r` replayed mark)
  Output:
    {'first', <value JSON>} on the first use
    {'replayed', <grant id or ''>} on a later one
    false when there is no such code (unknown or expired)
]]
local code_key = KEYS[1]

local value = redis.call('HGET', code_key, 'v')
if not value then return false end
if redis.call('HSETNX', code_key, 'u', '1') == 1 then
  return {'first', value}
end
redis.call('HSET', code_key, 'r', '1')
return {'replayed', redis.call('HGET', code_key, 'g') or ''}

--[[
  Redeems an authorization code once, and only by the request it is bound to: the binding (client,
  exact redirect_uri, PKCE S256 challenge, resources) is compared before the code is marked used,
  so an attempt by anyone else changes nothing and the rightful client can still redeem it. Bound
  and first: marked used, its value returned. Bound and already used (while the code's key lives):
  marked replayed, with the grant its first use issued.
  Input:
    KEYS[1] the code's hash (fields: `v` value JSON, `u` used mark, `g` grant id, `r` replayed mark)
    ARGV[1] the requesting client's id
    ARGV[2] the request's redirect_uri
    ARGV[3] the base64url SHA-256 of the request's code_verifier
    ARGV[4] now (epoch seconds)
    ARGV[5] the resources the request names, canonical, as a JSON array (empty: all the code's)
  Output:
    {'first', <value JSON>} on the first bound use
    {'replayed', <grant id or ''>} on a later bound one
    {'mismatch'} when client, redirect_uri or verifier differ (nothing changed)
    {'foreign'} when a resource is not one the code was issued for (nothing changed)
    false when there is no such code, or it expired unused
]]
local code_key = KEYS[1]
local client_id = ARGV[1]
local redirect_uri = ARGV[2]
local challenge = ARGV[3]
local now_sec = tonumber(ARGV[4])
local asked_json = ARGV[5]

local value = redis.call('HGET', code_key, 'v')
if not value then return false end
local code = cjson.decode(value)
if code.client_id ~= client_id or code.redirect_uri ~= redirect_uri
  or code.code_challenge ~= challenge then
  return {'mismatch'}
end
if redis.call('HEXISTS', code_key, 'u') == 1 then
  redis.call('HSET', code_key, 'r', '1')
  return {'replayed', redis.call('HGET', code_key, 'g') or ''}
end
if code.expires_at <= now_sec then return false end
local issued_for = {}
for _, r in ipairs(code.resources) do issued_for[r] = true end
for _, r in ipairs(cjson.decode(asked_json)) do
  if not issued_for[r] then return {'foreign'} end
end
redis.call('HSET', code_key, 'u', '1')
return {'first', value}

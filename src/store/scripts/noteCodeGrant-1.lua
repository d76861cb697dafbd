--[[
  Notes the grant an authorization code's first use issued, so a replay can revoke it.
  Input:
    KEYS[1] the code's hash (fields: `v`, `u`, `g`, `r`; see redeemCode-1.lua)
    ARGV[1] the grant id
  Output:
    1 when the code was presented again before this (the caller revokes the grant), else 0
]]
local code_key = KEYS[1]
local grant_id = ARGV[1]

if redis.call('EXISTS', code_key) == 0 then return 0 end
redis.call('HSET', code_key, 'g', grant_id)
if redis.call('HEXISTS', code_key, 'r') == 1 then return 1 end
return 0

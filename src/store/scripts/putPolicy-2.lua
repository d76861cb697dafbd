--[[
  Stores a new version of the policy set.
  Input:
    KEYS[1] policy hash (version, text, sha256, updated_at)
    KEYS[2] version counter
    ARGV[1] text
    ARGV[2] sha256
    ARGV[3] now (epoch s)
    ARGV[4] '1' to store only when empty
  Output:
    the version in force afterwards
]]
local policy_key, counter_key = KEYS[1], KEYS[2]
local text, sha256, now, only_if_empty = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

if only_if_empty == '1' and redis.call('EXISTS', policy_key) == 1 then return tonumber(redis.call('HGET', policy_key, 'version')) end
local v = redis.call('INCR', counter_key)
redis.call('HSET', policy_key, 'version', v, 'text', text, 'sha256', sha256, 'updated_at', now)
return v

--[[
  Swaps the pending-record marker only if it still names the expected record.
  Input:
    KEYS[1] grant hash (field `pr`, the pending-record marker JSON: GRANT_FIELDS in grant-fields.ts)
    ARGV[1] expected marker id
    ARGV[2] new marker JSON
  Output:
    1 when it swapped, else 0
]]
local grant_key = KEYS[1]
local expected_id, next_marker = ARGV[1], ARGV[2]

local pr = redis.call('HGET', grant_key, 'pr')
if not pr or cjson.decode(pr).id ~= expected_id then return 0 end
redis.call('HSET', grant_key, 'pr', next_marker)
return 1

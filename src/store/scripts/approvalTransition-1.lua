--[[
  Compare-and-set on an approval's status field, so two approvers (or two polls) move an approval
  once. (The JSON is not rebuilt in Lua: cjson would turn empty arrays into objects.)
  Input:
    KEYS[1] approval JSON
    ARGV[1] expected status
    ARGV[2] new JSON (built by the caller from the record it read, which cannot change while the
            status holds)
  Output:
    1 when it moved, else 0
]]
local approval_key = KEYS[1]
local expected, next_json = ARGV[1], ARGV[2]

local raw = redis.call('GET', approval_key)
if not raw then return 0 end
if cjson.decode(raw).status ~= expected then return 0 end
redis.call('SET', approval_key, next_json, 'KEEPTTL')
return 1

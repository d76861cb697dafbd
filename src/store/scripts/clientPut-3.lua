--[[
  Stores a client record and its kill-switch mark together, so the mark the grant-creating
  scripts read never disagrees with the record; a PATCH racing a DELETE cannot bring the client back.
  (Redis Cluster: one slot, as the deployment's keys share one hash tag there (key-names.ts,
  clusterPrefix); spread over slots, the record would move under the client's `{c:<id>}` tag
  beside its mark, and the id set be updated after the script.)
  Input:
    KEYS[1] client JSON
    KEYS[2] set of client ids
    KEYS[3] client's kill-switch mark (KeyNames.clientState)
    ARGV[1] client JSON
    ARGV[2] client id
    ARGV[3] '1' when the client is disabled
    ARGV[4] '1' to revive a deleted id
  Output:
    1, or 0 (nothing written) when the client is marked deleted and ARGV[4] is not '1'
]]
local client_key, clients_key, mark_key = KEYS[1], KEYS[2], KEYS[3]
local json, client_id, disabled, revive = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

if revive ~= '1' and redis.call('GET', mark_key) == 'deleted' then return 0 end
redis.call('SET', client_key, json)
redis.call('SADD', clients_key, client_id)
if disabled == '1' then redis.call('SET', mark_key, 'disabled') else redis.call('DEL', mark_key) end
return 1

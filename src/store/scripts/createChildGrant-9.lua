--[[
  Stores a grant delegated from another (RFC 8693 token exchange) as createGrant-7.lua does, only
  while its parent is active and ends no sooner, and adds it to the parent's child index in the
  same atomic call: a revocation of the parent either finds the child in the index, or came first
  and the child is never created.
  Input:
    KEYS[1..7] as createGrant-7.lua
    KEYS[8] parent grant hash (fields: GRANT_FIELDS in grant-fields.ts: s status, e deadline)
    KEYS[9] parent's child index (set of grant ids; shares the parent's hash tag)
    ARGV[1..13] as createGrant-7.lua (ARGV[1] the child's id, ARGV[4] its deadline)
  Output:
    as createGrant-7.lua, or 'parent_inactive' (nothing written)
  Redis Cluster: KEYS 8 and 9 carry the parent's tag, but
  the deployment's keys share one hash tag there (key-names.ts, clusterPrefix), so this
  stays one atomic call; docs/architecture.md ("Spreading one deployment over slots") says
  how it would split.
]]
--@include grantCreate
local parent_key, children_key = KEYS[8], KEYS[9]
local p = redis.call('HMGET', parent_key, 's', 'e')
if p[1] ~= 'active' or not p[2] or tonumber(p[2]) < tonumber(ARGV[4]) then return 'parent_inactive' end
local outcome = create_grant(KEYS, ARGV)
if outcome ~= 'created' then return outcome end
redis.call('SADD', children_key, ARGV[1])
redis.call('EXPIREAT', children_key, p[2])
return outcome

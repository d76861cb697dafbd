--[[
  Opens an approval request unless the client is marked (disabled or deleted: nothing new for
  it) or already has the cap of pending requests; expired ones stop counting here, decided ones
  when they leave `pending` (see transition). Keys 4 and 5 are the client's (`{c:<id>}`), the
  others global: on Redis Cluster the deployment's keys share one hash tag (key-names.ts,
  clusterPrefix), so this stays one atomic call; spread over slots, the check and the count would
  run first in the client's slot, as for grants.
  Input:
    KEYS[1] approval JSON
    KEYS[2] the intent's pending approval
    KEYS[3] approvals by expiry
    KEYS[4] client's kill-switch mark (KeyNames.clientState)
    KEYS[5] client's pending approvals
    KEYS[6] approvals still pending, by expiry (KeyNames.openApprovals; counted by the gauge)
    ARGV[1] approval JSON
    ARGV[2] its id
    ARGV[3] its expiry (epoch s)
    ARGV[4] when its record goes (epoch s)
    ARGV[5] now (epoch s)
    ARGV[6] most pending approvals per agent, or '0' for a request that does not count against
            the agent (a resume request the system opens)
  Output:
    'created' | 'client_disabled' | 'client_deleted' | 'pending_approval_limit'
]]
local approval_key, intent_key, by_expiry_key, mark_key, pending_key, open_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local json, approval_id, expires_at, record_ends, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local cap = tonumber(ARGV[6])

local mark = redis.call('GET', mark_key)
if mark == 'deleted' then return 'client_deleted' elseif mark then return 'client_disabled' end
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', pending_key, '-inf', now)
  if redis.call('ZCARD', pending_key) >= cap then return 'pending_approval_limit' end
  redis.call('ZADD', pending_key, expires_at, approval_id)
  redis.call('EXPIREAT', pending_key, expires_at, 'NX')
  redis.call('EXPIREAT', pending_key, expires_at, 'GT')
end
redis.call('SET', approval_key, json, 'EXAT', record_ends)
redis.call('SET', intent_key, approval_id, 'EXAT', expires_at)
redis.call('ZADD', by_expiry_key, expires_at, approval_id)
redis.call('ZADD', open_key, expires_at, approval_id)
return 'created'

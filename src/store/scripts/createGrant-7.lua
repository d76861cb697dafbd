--[[
  Stores a new grant, its first token and its index entries in one atomic call. Refused (nothing
  written) until the grant's mint record has landed, which leaves the record's stream id in the
  hash (`h`): no grant exists without one, whatever order calls arrive in. (No later record of the
  grant can precede this: nobody knows the grant until its mint answers.)
  Refused too (nothing written) while the client carries a kill-switch mark: the admin writes the
  mark before revoking the client's grants, so every grant either was created before the mark,
  and is in the client's index when the revocation reads it, or is never created. And refused
  when the client already holds the cap of grants neither revoked nor ended (the live-grant set
  loses a grant when it is revoked, and ended ones here).
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts: s status, c client, t task,
            e deadline, v policy version, rt refresh hash, h first record; tokens as tokenField)
    KEYS[2] live-grant index
    KEYS[3] client's index bucket (grant -> task)
    KEYS[4] clients by latest deadline
    KEYS[5] grant data
    KEYS[6] client's kill-switch mark
    KEYS[7] client's live-grant set
    ARGV[1] grant id
    ARGV[2] client id
    ARGV[3] task id
    ARGV[4] deadline (epoch s)
    ARGV[5] policy version
    ARGV[6] grant data JSON
    ARGV[7] refresh-token hash
    ARGV[8] first token's field (tokenField)
    ARGV[9] its exp
    ARGV[10] the index bucket's end (epoch s)
    ARGV[11] now (epoch s)
    ARGV[12] most live grants per agent ('0': no cap)
  Output:
    'created' | 'client_disabled' | 'client_deleted' | 'live_grant_limit'
    error MANDATE_NO_RECORD when the grant's mint record has not landed
  Redis Cluster: KEYS 6 and 7 (and 3, 4) are not in the grant's slot; this is one script on a
  single Redis only. Under Cluster it becomes two: a client-slot script (`{c:<id>}`: mark, cap,
  live-grant set, and the client's index moved under that tag) reserving the grant id, then this
  grant-slot script refusing a grant hash that already has a status; revoking a client then marks,
  and revokes every reserved id, writing `revoked` even where the grant hash has no status yet.
]]
local grant_key, live_key, bucket_key, clients_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local data_key, mark_key, client_live_key = KEYS[5], KEYS[6], KEYS[7]
local grant_id, client_id, task_id, deadline = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local policy_version, data, refresh_hash = ARGV[5], ARGV[6], ARGV[7]
local token_field, token_exp, bucket_end, now = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local cap = tonumber(ARGV[12])

if redis.call('HEXISTS', grant_key, 'h') == 0 then return redis.error_reply('MANDATE_NO_RECORD the grant has no decision record') end
local mark = redis.call('GET', mark_key)
if mark == 'deleted' then return 'client_deleted' elseif mark then return 'client_disabled' end
-- Expired entries are pruned only when the count reaches the cap: the set never holds more than
-- cap entries, and a mint below the cap pays one ZCARD.
if cap > 0 and redis.call('ZCARD', client_live_key) >= cap then
  redis.call('ZREMRANGEBYSCORE', client_live_key, '-inf', now)
  if redis.call('ZCARD', client_live_key) >= cap then return 'live_grant_limit' end
end
redis.call('HSET', grant_key, 's', 'active', 'c', client_id, 't', task_id, 'e', deadline, 'v', policy_version, 'rt', refresh_hash, token_field, token_exp)
redis.call('EXPIREAT', grant_key, deadline)
redis.call('SET', data_key, data, 'EXAT', deadline)
redis.call('ZADD', live_key, deadline, grant_id)
redis.call('HSET', bucket_key, grant_id, task_id)
redis.call('EXPIREAT', bucket_key, bucket_end, 'NX')
redis.call('ZADD', clients_key, 'GT', deadline, client_id)
redis.call('ZADD', client_live_key, deadline, grant_id)
-- The set lives until its latest deadline (GT moves it later; NX gives a new set its first).
if redis.call('EXPIREAT', client_live_key, deadline, 'GT') == 0 then redis.call('EXPIREAT', client_live_key, deadline, 'NX') end
return 'created'

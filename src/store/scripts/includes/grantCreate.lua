--[[
  The body of createGrant-7.lua and createChildGrant-9.lua: stores a new grant, its first token
  and its index entries (see createGrant-7.lua for KEYS[1..7] and ARGV[1..13]).
  Returns 'created' | 'client_disabled' | 'client_deleted' | 'live_grant_limit', or an error reply
  (MANDATE_NO_RECORD) the caller returns as is.
]]
local function create_grant(keys, argv)
  local grant_key, live_key, bucket_key, clients_key = keys[1], keys[2], keys[3], keys[4]
  local data_key, mark_key, client_live_key = keys[5], keys[6], keys[7]
  local grant_id, client_id, task_id, deadline = argv[1], argv[2], argv[3], argv[4]
  local policy_version, data, refresh_hash = argv[5], argv[6], argv[7]
  local token_field, token_exp, bucket_end, now = argv[8], argv[9], argv[10], argv[11]
  local cap = tonumber(argv[12])
  local token_digest = argv[13]

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
  if token_digest and token_digest ~= '' then redis.call('HSET', grant_key, '#' .. token_field, token_digest) end
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
end

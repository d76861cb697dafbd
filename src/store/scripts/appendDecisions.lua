--[[
  Appends decision records in order and indexes each under its grant: a grant's first record (its
  mint) as the grant hash's `h`, which creates the hash (the grant store fills it, and sets its
  deadline, once this has landed), and each later one in the grant's history string, which ends
  when the grant does and is cut back to its newest `history_keep` bytes when it outgrows
  `history_max`. Clears the grant's pending-record marker (`pr`) when it names this record
  (atomically with the append), and moves the chain head (adding `sid`, the stream id of the
  chain's last record, so retention trimming can be told apart from deletion).
  The stream is capped in bytes of record text as well as in count: the counter holds the bytes
  ever appended, and the marks list holds "<stream id> <counter before it>" for a record every
  `mark_step` bytes or more. The records from a mark on hold (counter - its offset) bytes, so
  marks are dropped from the front while that exceeds the cap, and the stream is trimmed to the
  first mark left (MINID): what stays is at most the cap, and at most one mark's spacing under it.
  Marks left behind by the count trim only make that trim earlier, never later.
  Input:
    KEYS[1] stream
    KEYS[2] chain heads hash
    KEYS[3] bytes-appended counter
    KEYS[4] byte marks list
    then per record, in order: for one with a grant id or a precondition, its grant hash and the
    grant's history string (KeyNames.grant, grantHistory); for a conditional one then its
    precondition's keys (as many as its ARGV says). The key count varies: the caller passes it first.
    ARGV[1] chain id
    ARGV[2] max records (approximate trim)
    ARGV[3] lifetime (s) of a grant hash the record creates
    ARGV[4] head JSON {seq, hash, base}: the chain's head after this batch, and the seq of the
            chain's head it follows (0 for a new chain): unless the chain's stored head has that
            seq, an earlier batch did not land and this one is refused (MANDATE_CHAIN_GAP error,
            nothing written)
    ARGV[5] max bytes
    ARGV[6] bytes between byte marks
    ARGV[7] history bytes past which a grant's history string is cut back
    ARGV[8] history bytes kept when it is
    then per record (from ARGV[9]): its JSON, grant id or '', record id whose pending-record
    marker on the grant this append clears or '', the number of fields that follow (0, or for a
    conditional record 2 + its precondition's fields: the chain head before it, JSON {seq, hash},
    the precondition's key count, then its fields)
  The precondition is opaque here: its include defines `precondition_holds(k, a)` over its keys
  from KEYS[k] and its fields from ARGV[a] (today the one kind is the evaluation store's guard,
  includes/evaluationGuard.lua).
  Output:
    the stream ids of the records appended: all of them, or those before the first whose
    precondition does not hold (conditional records come last in a batch; the head is then the one before it, and
    no record is decoded here: a record's own text may hold what cjson cannot read)
  Grant hash fields (GRANT_FIELDS in grant-fields.ts): h first record's stream id,
  pr pending-record marker.
  Redis Cluster: the stream's keys and each grant's (`{g:<id>}`) carry different tags, but
  the deployment's keys share one hash tag there (key-names.ts, clusterPrefix), so this
  stays one atomic call; docs/architecture.md ("Spreading one deployment over slots") says
  how it would split.
]]
--@include evaluationGuard
local stream_key, heads_key, bytes_key, marks_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local chain_id, max_records, unstored_ttl, head_json = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max_bytes, mark_step = tonumber(ARGV[5]), tonumber(ARGV[6])
local history_max, history_keep = tonumber(ARGV[7]), tonumber(ARGV[8])
local FIRST_RECORD = 9

-- Batches are sent before the ones ahead are answered: one that follows a batch that failed finds
-- the chain's head short of where it was sealed to continue, and must not land after a gap.
local batch_head = cjson.decode(head_json)
local stored_head = redis.call('HGET', heads_key, chain_id)
local at_seq = stored_head and cjson.decode(stored_head).seq or 0
if batch_head.base ~= nil and at_seq ~= batch_head.base then
  return redis.error_reply('MANDATE_CHAIN_GAP the chain head is at ' .. at_seq .. ', not ' .. batch_head.base)
end

local sid
local sids = {}
local appended = 0
local total = tonumber(redis.call('GET', bytes_key) or '0')
local last_mark = redis.call('LINDEX', marks_key, -1)
local last_off = last_mark and tonumber(string.match(last_mark, ' (%d+)$'))
local i = FIRST_RECORD
-- The next record's first key.
local k = 5
while i <= #ARGV do
  local record, gid, clears_pending_of, n_fields = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local guarded = n_fields ~= '0'
  local gk, hk
  if gid ~= '' or guarded then
    gk, hk = KEYS[k], KEYS[k + 1]
    k = k + 2
  end
  if guarded then
    if not precondition_holds(k, i + 6) then break end
    k = k + tonumber(ARGV[i + 5])
  end
  sid = redis.call('XADD', stream_key, 'MAXLEN', '~', max_records, '*', 'r', record)
  sids[#sids + 1] = sid
  if not last_off or total - last_off >= mark_step then
    redis.call('RPUSH', marks_key, sid .. ' ' .. total)
    last_off = total
  end
  total = total + #record
  if gid ~= '' then
    if redis.call('HSETNX', gk, 'h', sid) == 1 then
      redis.call('EXPIRE', gk, unstored_ttl, 'NX')
    else
      local n = redis.call('APPEND', hk, sid .. ',')
      if n == #sid + 1 then
        -- A new string ends with the grant (stored by now: a grant's second record follows its mint's answer).
        local ends = redis.call('EXPIRETIME', gk)
        if ends > 0 then redis.call('EXPIREAT', hk, ends) else redis.call('EXPIRE', hk, unstored_ttl) end
      elseif n > history_max then
        local kept = redis.call('GETRANGE', hk, -history_keep, -1)
        redis.call('SET', hk, string.sub(kept, string.find(kept, ',', 1, true) + 1), 'KEEPTTL')
      end
    end
    if clears_pending_of ~= '' then
      local pr = redis.call('HGET', gk, 'pr')
      if pr and cjson.decode(pr).id == clears_pending_of then redis.call('HDEL', gk, 'pr') end
    end
  end
  appended = appended + 1
  i = i + 4 + tonumber(n_fields)
end
if appended == 0 then return sids end
-- The head after the last record appended: the batch's, or the one a refused guarded record carries.
local head = i > #ARGV and batch_head or cjson.decode(ARGV[i + 4])
head.base = nil
head.sid = sid
redis.call('HSET', heads_key, chain_id, cjson.encode(head))
redis.call('SET', bytes_key, total)
local first = redis.call('LINDEX', marks_key, 0)
local dropped = false
while first and total - tonumber(string.match(first, ' (%d+)$')) > max_bytes do
  redis.call('LPOP', marks_key)
  dropped = true
  first = redis.call('LINDEX', marks_key, 0)
end
-- Only once a mark is dropped: records older than the first mark ever set (a log written before
-- the byte cap) are kept until then. With every mark dropped, only the last record stays.
if dropped then redis.call('XTRIM', stream_key, 'MINID', first and string.match(first, '^(%S+) ') or sid) end
return sids

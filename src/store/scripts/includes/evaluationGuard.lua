--[[
  The evaluation guard (see EvaluationGuard in domain/ports.ts): the precondition the evaluation
  store (redis-evaluation-store.ts, evaluationGuardPrecondition) contributes to the decision log's
  append script, which calls `precondition_holds(k, a)` before appending a conditional record.
  Its keys from KEYS[k] on (evaluationGuardPrecondition's `keys`, in this order):
    k+0 grant hash, k+1 grant data, k+2 signal summary, k+3 revoked-jti set, k+4 calls window,
    k+5 denials window, k+6 the agent's used actions
  and its fields from ARGV[a] on (its `args`, in this order):
    a+0 jti, a+1 action, a+2 deadline (epoch s), a+3 policy version, a+4 state digest,
    a+5/a+6 calls min/max ('' for none), a+7/a+8 denials min/max, a+9 calls window ttl,
    a+10 used-actions ttl, a+11 this call's bucket, a+12 the oldest calls bucket counted,
    a+13 the oldest denials bucket counted, a+14 the most buckets a window spans
  Counts the call when the guard holds; writes nothing when it does not. The digest is
  stateDigest's, computed by Redis; the counts are the trailing windows', as readForEvaluation
  computes them. Grant hash fields (GRANT_FIELDS in grant-fields.ts): s status, e deadline,
  v policy version.
]]
--@include trailingWindow
local function within(n, min, max)
  return (min == '' or n >= tonumber(min)) and (max == '' or n <= tonumber(max))
end
local function precondition_holds(k, a)
  local gk, data_key, summary_key, revoked_key = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local calls_key, denied_key, used_key = KEYS[k + 4], KEYS[k + 5], KEYS[k + 6]
  local jti, action, deadline, version, digest = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local calls_min, calls_max = ARGV[a + 5], ARGV[a + 6]
  local denied_min, denied_max = ARGV[a + 7], ARGV[a + 8]
  local calls_ttl, used_ttl = ARGV[a + 9], ARGV[a + 10]
  local calls_bucket, calls_oldest, denied_oldest = ARGV[a + 11], ARGV[a + 12], ARGV[a + 13]
  local span = tonumber(ARGV[a + 14])

  local g = redis.call('HMGET', gk, 's', 'e', 'v')
  if g[1] ~= 'active' or g[2] ~= deadline or (g[3] or '0') ~= version then return false end
  if redis.call('SISMEMBER', revoked_key, jti) == 1 then return false end
  local data = redis.call('GET', data_key)
  if not data then return false end
  -- The signal summary (bounded, versioned), not the signal history: see SignalSummary.
  local signals = redis.call('GET', summary_key) or ''
  if redis.sha1hex(data .. '\n' .. signals) ~= digest then return false end
  local calls, calls_w = window_count(calls_key, tonumber(calls_oldest), span)
  local denied = window_count(denied_key, tonumber(denied_oldest), span)
  calls = calls + 1
  if not (within(calls, calls_min, calls_max) and within(denied, denied_min, denied_max)) then return false end
  if redis.call('SISMEMBER', used_key, action) == 0 then return false end
  window_add(calls_key, calls_bucket, calls_w, calls_ttl)
  redis.call('EXPIRE', used_key, used_ttl)
  return true
end

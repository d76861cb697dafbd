--[[
  The evaluation guard (see EvaluationGuard in domain/ports.ts) for the decision log's append
  script: `guard_holds(gk, a)` checks the grant hash `gk` and the guard's GUARD_ARG_COUNT fields
  from ARGV[a] on (see guardArgs in redis-usage-store.ts, in this order):
    a+0 grant data key, a+1 signal summary key, a+2 revoked-jti set key, a+3 calls window key,
    a+4 denials window key, a+5 the agent's used-actions key, a+6 jti, a+7 action,
    a+8 deadline (epoch s), a+9 policy version, a+10 state digest, a+11/a+12 calls min/max ('' for
    none), a+13/a+14 denials min/max, a+15 calls window ttl, a+16 used-actions ttl, a+17 this
    call's bucket, a+18 the oldest calls bucket counted, a+19 the oldest denials bucket counted,
    a+20 the most buckets a window spans
  Counts the call when the guard holds; writes nothing when it does not. The digest is
  stateDigest's, computed by Redis; the counts are the trailing windows', as readForEvaluation
  computes them. Grant hash fields (GRANT_FIELDS): s status, e deadline, v policy version.
  Not Cluster-ready: the keys arrive in ARGV, not KEYS (see appendDecisions-4.lua).
]]
--@include trailingWindow
local function within(n, min, max)
  return (min == '' or n >= tonumber(min)) and (max == '' or n <= tonumber(max))
end
local function guard_holds(gk, a)
  local data_key, summary_key, revoked_key = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local calls_key, denied_key, used_key = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local jti, action, deadline, version, digest = ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9], ARGV[a + 10]
  local calls_min, calls_max = ARGV[a + 11], ARGV[a + 12]
  local denied_min, denied_max = ARGV[a + 13], ARGV[a + 14]
  local calls_ttl, used_ttl = ARGV[a + 15], ARGV[a + 16]
  local calls_bucket, calls_oldest, denied_oldest = ARGV[a + 17], ARGV[a + 18], ARGV[a + 19]
  local span = tonumber(ARGV[a + 20])

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

--[[
  Trailing windows (see UsageWindow in domain/policy-facts.ts): a window is a hash of
  bucket -> count, plus `n`, the sum of the buckets from `o` on. `window_count(key, oldest, span)`
  answers the sum from bucket `oldest` on (as windowCount does) by subtracting the buckets that
  left the window since `o`, which it lists as stale; `window_add(key, bucket, w, ttl)` counts one
  event, stores the new sum and `o`, drops the stale buckets and keeps the hash `ttl` s more.
  A call reads two fields and walks only the buckets that left since the last call (one a second
  at most, amortised), so it costs the same at any call rate and in any number of buckets; no
  call is stored on its own. A hash whose `o` lies more than `span` buckets behind (the most
  buckets a window spans; only after a clock jump: an idle hash expires first) is summed afresh.
  The hash's expiry is set when a bucket starts, a window past that bucket.
]]
local function window_count(key, oldest, span)
  local meta = redis.call('HMGET', key, 'n', 'o')
  local n, lo = tonumber(meta[1]), tonumber(meta[2])
  local stale = {}
  -- No sum: the window holds nothing (every writer of this hash writes n and o with its buckets).
  if n == nil or lo == nil then n, lo = 0, oldest end
  if lo < oldest then
    if oldest - lo > span then
      n = 0
      local fields = redis.call('HGETALL', key)
      for i = 1, #fields, 2 do
        local b = tonumber(fields[i])
        if b then
          if b >= oldest then n = n + tonumber(fields[i + 1]) else stale[#stale + 1] = fields[i] end
        end
      end
    else
      for b = lo, oldest - 1 do
        local field = string.format('%d', b)
        local c = redis.call('HGET', key, field)
        if c then
          n = n - tonumber(c)
          stale[#stale + 1] = field
        end
      end
    end
    lo = oldest
  end
  return n, {n = n, lo = lo, stale = stale}
end
local function window_add(key, bucket, w, ttl)
  -- An event dated before the window's start (a process whose clock lags) counts in its oldest bucket.
  local b = tonumber(bucket)
  if b < w.lo then b = w.lo end
  local fresh = redis.call('HINCRBY', key, string.format('%d', b), 1) == 1
  redis.call('HSET', key, 'n', w.n + 1, 'o', string.format('%d', w.lo))
  if #w.stale > 0 then redis.call('HDEL', key, unpack(w.stale)) end
  -- The hash lives a window past its newest bucket: set when a bucket is started, not on every event.
  if fresh then redis.call('EXPIRE', key, ttl) end
end

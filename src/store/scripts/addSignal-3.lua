--[[
  Adds the signal to the grant's list, keeping only the newest `max_kept`, and folds it into the
  summary (types seen, latest ip, highest risk, version + 1), which the drift rules and
  evaluations read instead of the list; both end with the grant.
  Input:
    KEYS[1] grant hash (field `e`, the deadline: GRANT_FIELDS in grant-fields.ts)
    KEYS[2] signals list
    KEYS[3] signal summary (JSON {v version, t types, ip, r risk}: see decodeSignalSummary)
    ARGV[1] signal JSON
    ARGV[2] type
    ARGV[3] its ip or ''
    ARGV[4] its risk or ''
    ARGV[5] signals kept per grant
    ARGV[6] distinct types per grant
    ARGV[7] '1' when the type is always taken (DRIFT_SIGNAL_TYPES)
  Output:
    1 when added, 0 when the grant does not exist, -1 when the type is new and the grant holds
    the most distinct types (nothing written)
]]
local grant_key, signals_key, summary_key = KEYS[1], KEYS[2], KEYS[3]
local signal, signal_type, ip, risk = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max_kept, max_types, always_taken = ARGV[5], ARGV[6], ARGV[7]

local e = redis.call('HGET', grant_key, 'e')
if not e then return 0 end
local raw = redis.call('GET', summary_key)
local sum = raw and cjson.decode(raw) or { v = 0, t = {} }
local known = false
for _, t in ipairs(sum.t) do
  if t == signal_type then known = true break end
end
if not known then
  if #sum.t >= tonumber(max_types) and always_taken ~= '1' then return -1 end
  table.insert(sum.t, signal_type)
end
sum.v = sum.v + 1
if ip ~= '' then sum.ip = ip end
if risk ~= '' and tonumber(risk) > (sum.r or 0) then sum.r = tonumber(risk) end
redis.call('SET', summary_key, cjson.encode(sum), 'EXAT', e)
redis.call('RPUSH', signals_key, signal)
redis.call('LTRIM', signals_key, -tonumber(max_kept), -1)
redis.call('EXPIREAT', signals_key, e)
return 1

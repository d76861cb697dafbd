--[[
  Counts one denial and answers the trailing hour's denials, this one included.
  Input:
    KEYS[1] denials window
    ARGV[1] this denial's bucket
    ARGV[2] the oldest bucket counted
    ARGV[3] ttl
    ARGV[4] the most buckets a window spans
  Output:
    the denials counted, this one included
]]
--@include trailingWindow
local denied_key = KEYS[1]
local bucket, oldest, ttl, span = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])

local denied, denied_w = window_count(denied_key, oldest, span)
window_add(denied_key, bucket, denied_w, ttl)
return denied + 1

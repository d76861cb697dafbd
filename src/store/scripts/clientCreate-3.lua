--[[
  Creates a client whose id is free; a deletion mark left by an earlier client of that id goes
  (the new client has its own secret).
  Input:
    KEYS[1] client JSON
    KEYS[2] set of client ids
    KEYS[3] client's kill-switch mark
    ARGV[1] client JSON
    ARGV[2] client id
  Output:
    1, or 0 when the id is taken
]]
local client_key, clients_key, mark_key = KEYS[1], KEYS[2], KEYS[3]
local json, client_id = ARGV[1], ARGV[2]

if redis.call('SET', client_key, json, 'NX') == false then return 0 end
redis.call('SADD', clients_key, client_id)
redis.call('DEL', mark_key)
return 1

-- conn_close.lua -- remove a WebSocket connection and its index entries.
-- KEYS[1] aa:conn:{cid}  KEYS[2] aa:session:{sid}:conns  KEYS[3] aa:node:{node}:conns
-- ARGV[1] cid
--@keys conn session_conns node_conns
--@argv cid
-- Reply: 1 when the connection record existed, else 0.
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
return existed

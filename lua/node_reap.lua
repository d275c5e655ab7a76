-- node_reap.lua -- remove the connection records of a gateway node that
-- stopped sending heartbeats (it died): its connections are gone.
-- KEYS[1] aa:node:{node}  KEYS[2] aa:node:{node}:conns
--@keys node node_conns
--@argv
-- Reply: number of connection records removed, or -1 when the node is alive
--@include _cell
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local n = 0
for _, cid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local ckey = P .. 'conn:' .. cid
  local sid = redis.call('HGET', ckey, 'session')
  if sid then
    redis.call('SREM', P .. 'session:' .. sid .. ':conns', cid)
  end
  n = n + redis.call('DEL', ckey)
end
redis.call('DEL', KEYS[2])
return n

-- push.lua -- deliver one server event to a session: append it to the
-- session's outbox stream (so a reconnecting client can resume after its last
-- event id) and publish it to every gateway node holding a connection of the
-- session.
-- KEYS[1] aa:outbox:{sid}  KEYS[2] aa:session:{sid}:conns
-- ARGV[1] sid  ARGV[2] event JSON (an object without "id")  ARGV[3] outbox maxlen
-- ARGV[4] "1" to refuse when the session has no connection  ARGV[5] outbox TTL seconds
-- Reply: {event id or "", number of live connections}
local conns = redis.call('SMEMBERS', KEYS[2])
local nodes, live = {}, 0
for _, cid in ipairs(conns) do
  local node = redis.call('HGET', 'aa:conn:' .. cid, 'node')
  if node then
    live = live + 1
    nodes[node] = true
  else
    redis.call('SREM', KEYS[2], cid)
  end
end
if ARGV[4] == '1' and live == 0 then
  return {'', 0}
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', tonumber(ARGV[3]), '*', 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
for node, _ in pairs(nodes) do
  redis.call('PUBLISH', 'aa:push:' .. node, ARGV[1] .. '\n' .. id .. '\n' .. ARGV[2])
end
return {id, live}

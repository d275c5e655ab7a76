-- _push.lua -- included by scripts that deliver a server event to a session:
-- push(outbox, conns, sid, event, maxlen, require, ttl) appends the event to
-- the session's outbox stream (so a reconnecting client can resume after its
-- last event id) and publishes it to every gateway node holding a connection
-- of the session (keys_push: sharded with cells). With require '1' nothing is stored when the session has no
-- live connection. Returns the event id ("" when nothing was stored) and the
-- number of live connections.
local function push(outbox, conns, sid, event, maxlen, require, ttl)
  local nodes, live = {}, 0
  for _, cid in ipairs(redis.call('SMEMBERS', conns)) do
    local node = redis.call('HGET', P .. 'conn:' .. cid, 'node')
    if node then
      live = live + 1
      nodes[node] = true
    else
      redis.call('SREM', conns, cid)
    end
  end
  if require == '1' and live == 0 then return '', 0 end
  local id = redis.call('XADD', outbox, 'MAXLEN', '~', tonumber(maxlen), '*', 'e', event)
  redis.call('EXPIRE', outbox, tonumber(ttl))
  -- one cell: PUBLISH aa:push:<node>; cells: the cell's sharded channel,
  -- which a cluster delivers on this master only
  local publish = P == 'aa:' and 'PUBLISH' or 'SPUBLISH'
  for node, _ in pairs(nodes) do
    redis.call(publish, P .. 'push:' .. node, sid .. '\n' .. id .. '\n' .. event)
  end
  return id, live
end

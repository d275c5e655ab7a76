-- conn_open.lua -- register a WebSocket connection, if its subject may use the
-- session: the first subject to use a session id owns it (KEYS[5]); another
-- subject is refused, unless the token has the admin scope.
-- KEYS[1] aa:conn:{cid}  KEYS[2] aa:session:{sid}:conns  KEYS[3] aa:node:{node}:conns
-- KEYS[4] aa:outbox:{sid}  KEYS[5] aa:session:{sid}:owner
-- ARGV[1] cid  ARGV[2] sid  ARGV[3] node  ARGV[4] remote address  ARGV[5] now ms
-- ARGV[6] user (token subject)  ARGV[7] "1" for an admin token, else ""
--@keys conn session_conns node_conns outbox owner
--@argv cid sid node remote now user admin
-- Reply: {connections the session now has, id of the newest outbox event or ""},
-- or {"forbidden"} (nothing written) when another subject owns the session
local owner = redis.call('GET', KEYS[5])
if owner and owner ~= ARGV[6] and ARGV[7] ~= '1' then return {'forbidden'} end
if not owner then redis.call('SET', KEYS[5], ARGV[6]) end
redis.call('HSET', KEYS[1], 'session', ARGV[2], 'node', ARGV[3], 'remote', ARGV[4],
  'connected_at', ARGV[5], 'last_seen', ARGV[5], 'user', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
local last = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
local last_id = ''
if last[1] then last_id = last[1][1] end
return {redis.call('SCARD', KEYS[2]), last_id}

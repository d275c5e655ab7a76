-- cb_create.lua -- create a callback (a suspension record) for operation
-- ARGV[3] of an execution, with its deadlines and an expiring timer key.
-- KEYS[1] aa:cb:{cbid}  KEYS[2] aa:exec:{eid}:ops  KEYS[3] aa:cb:deadlines
-- KEYS[4] aa:cb:{cbid}:timer
-- ARGV[1] cbid  ARGV[2] eid  ARGV[3] op index  ARGV[4] session  ARGV[5] now ms
-- ARGV[6] timeout ms  ARGV[7] heartbeat timeout ms (0: none)  ARGV[8] op name
-- Reply: "created" or "exists"
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local now = tonumber(ARGV[5])
local deadline = now + tonumber(ARGV[6])
local hb = tonumber(ARGV[7])
local first = deadline
if hb > 0 and now + hb < first then first = now + hb end
redis.call('HSET', KEYS[1], 'exec', ARGV[2], 'op', ARGV[3], 'session', ARGV[4], 'name', ARGV[8],
  'status', 'pending', 'created_ms', now, 'deadline_ms', deadline, 'heartbeat_ms', hb,
  'next_deadline_ms', first)
redis.call('ZADD', KEYS[3], first, ARGV[1])
redis.call('SET', KEYS[4], ARGV[2], 'PX', first - now)
redis.call('HSET', KEYS[2], ARGV[3],
  cjson.encode({t = 'cb', n = ARGV[8], s = 'pending', cb = ARGV[1]}))
return 'created'

-- exec_finish.lua -- an execution ended: record its outcome, hand the result
-- to its parent (waking it), free the session's lane for the next queued turn,
-- publish the end ("{eid}\n{status}\n{result}") on the execution's notify
-- channel, if it has one, and keep
-- the record for the retention period.
--@include _wake
-- KEYS[1] aa:exec:{eid}  KEYS[2] optional: the stream whose entry delivered
-- this run, acknowledged here in every outcome (ARGV[8] group, ARGV[9] id)
-- ARGV[1] eid  ARGV[2] worker id ("" for the runtime itself)  ARGV[3] status
-- ("succeeded"|"failed"|"timed_out"|"cancelled")  ARGV[4] result or error text
-- ARGV[5] now ms  ARGV[6] retention seconds  ARGV[7] optional owner: when
--@keys exec ack_stream?
--@argv eid worker status result now retention_s owner? group? entry?
-- given, only an execution started for that owner (an MCP task's token
-- subject) is ended; others are "notfound" (a cancel, not a worker's finish)
-- Reply: "ok", "lost" (it had ended, or another worker owns it) or "notfound"
-- An MCP task (task_ttl_ms set) is kept until created + ttl (at least a minute
-- after its end) instead of the retention period.
if KEYS[2] then redis.call('XACK', KEYS[2], ARGV[8], ARGV[9]) end
local f = redis.call('HMGET', KEYS[1], 'status', 'worker', 'parent', 'parent_op', 'lane', 'notify',
  'owner', 'task_ttl_ms', 'created_ms')
if ARGV[7] and ARGV[7] ~= '' and (not f[1] or f[7] ~= ARGV[7]) then return 'notfound' end
if not f[1] or f[1] == 'succeeded' or f[1] == 'failed' or f[1] == 'timed_out' or
    f[1] == 'cancelled' then
  redis.call('ZREM', 'aa:exec:deadlines', ARGV[1])
  return 'lost'
end
if ARGV[2] ~= '' and f[2] ~= ARGV[2] then return 'lost' end
local now = ARGV[5]
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'result', ARGV[4], 'ended_ms', now,
  'updated_ms', now)
redis.call('HDEL', KEYS[1], 'lease_until', 'wake')
redis.call('ZREM', 'aa:exec:deadlines', ARGV[1])
if f[8] then
  local at = tonumber(f[9]) + tonumber(f[8])
  if at < tonumber(now) + 60000 then at = tonumber(now) + 60000 end
  redis.call('PEXPIREAT', KEYS[1], at)
else
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
end
if f[6] then
  -- someone waits on the end (the MCP endpoint): the outcome travels with it
  redis.call('PUBLISH', f[6], ARGV[1] .. '\n' .. ARGV[3] .. '\n' .. ARGV[4])
end
if f[3] then
  local pkey = 'aa:exec:' .. f[3]
  local field = 'op:' .. f[4]
  local old = redis.call('HGET', pkey, field)
  local rec = old and cjson.decode(old) or {t = 'invoke', child = ARGV[1]}
  rec.s = (ARGV[3] == 'succeeded') and 'ok' or 'fail'
  rec.r = ARGV[4]
  redis.call('HSET', pkey, field, cjson.encode(rec))
  wake(f[3], now)
end
if f[5] then
  local akey = 'aa:session:' .. f[5] .. ':active'
  if redis.call('GET', akey) == ARGV[1] then
    local qkey = 'aa:session:' .. f[5] .. ':queue'
    local nxt = redis.call('LPOP', qkey)
    while nxt and redis.call('EXISTS', 'aa:exec:' .. nxt) == 0 do
      nxt = redis.call('LPOP', qkey)
    end
    if nxt then
      local nkey = 'aa:exec:' .. nxt
      redis.call('SET', akey, nxt)
      redis.call('HSET', nkey, 'status', 'ready', 'updated_ms', now)
      redis.call('XADD', redis.call('HGET', nkey, 'stream'), '*',
        'exec', nxt, 'kind', 'start')
    else
      redis.call('DEL', akey)
    end
  end
end
return 'ok'

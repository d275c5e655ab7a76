-- _finish.lua -- included (after _wake.lua) by scripts that end an
-- execution: finish(ekey, eid, worker, status, result, now, retention_s,
-- owner, plain) records its outcome, hands the result to its parent (waking it),
-- frees the session's lane for the next queued turn, publishes the end
-- ("{eid}\n{status}\n{result}") on the execution's notify channel, if it has
-- one, and keeps the record for the retention period. worker "" is the
-- runtime itself (a cancel, a timeout); otherwise only the worker that holds
-- the execution ends it. owner "" or nil, or the owner the execution must
-- have (an MCP task's token subject): others are "notfound". plain true:
-- the caller knows the record has no parent, lane, notify, owner or
-- task_ttl_ms (set at the start only), so only status and worker are read.
-- Returns "ok", "lost" (it had ended, or another worker owns it) or
-- "notfound". An MCP task (task_ttl_ms set) is kept until created + ttl (at
-- least a minute after its end) instead of the retention period.
-- Four commands for an execution without parent, lane or notify channel.
local function finish(ekey, eid, worker, status, result, now, retention_s, owner, plain)
  local f
  if plain then
    f = redis.call('HMGET', ekey, 'status', 'worker')
  else
    f = redis.call('HMGET', ekey, 'status', 'worker', 'parent', 'parent_op', 'lane', 'notify',
      'owner', 'task_ttl_ms', 'created_ms')
  end
  if owner and owner ~= '' and (not f[1] or f[7] ~= owner) then return 'notfound' end
  if not f[1] or f[1] == 'succeeded' or f[1] == 'failed' or f[1] == 'timed_out' or
      f[1] == 'cancelled' then
    redis.call('ZREM', P .. 'exec:deadlines', eid)
    return 'lost'
  end
  if worker ~= '' and f[2] ~= worker then return 'lost' end
  -- lease_until and wake stay as they were: nothing reads them once the
  -- status is an end (a claim answers "done", a wake is ignored)
  redis.call('HSET', ekey, 'status', status, 'result', result, 'ended_ms', now,
    'updated_ms', now)
  redis.call('ZREM', P .. 'exec:deadlines', eid)
  if f[8] then
    local at = tonumber(f[9]) + tonumber(f[8])
    if at < tonumber(now) + 60000 then at = tonumber(now) + 60000 end
    redis.call('PEXPIREAT', ekey, at)
  else
    redis.call('EXPIRE', ekey, retention_s)
  end
  if f[6] then
    -- someone waits on the end (the MCP endpoint): the outcome travels with it
    redis.call('PUBLISH', f[6], eid .. '\n' .. status .. '\n' .. result)
  end
  if f[3] then
    local pkey = P .. 'exec:' .. f[3]
    local field = 'op:' .. f[4]
    local old = redis.call('HGET', pkey, field)
    local rec = old and cjson.decode(old) or {t = 'invoke', child = eid}
    rec.s = (status == 'succeeded') and 'ok' or 'fail'
    rec.r = result
    redis.call('HSET', pkey, field, cjson.encode(rec))
    wake(f[3], now)
  end
  if f[5] then
    local akey = P .. 'session:' .. f[5] .. ':active'
    if redis.call('GET', akey) == eid then
      local qkey = P .. 'session:' .. f[5] .. ':queue'
      local nxt = redis.call('LPOP', qkey)
      while nxt and redis.call('EXISTS', P .. 'exec:' .. nxt) == 0 do
        nxt = redis.call('LPOP', qkey)
      end
      if nxt then
        local nkey = P .. 'exec:' .. nxt
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
end

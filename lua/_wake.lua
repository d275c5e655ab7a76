-- _wake.lua -- included by scripts that complete an operation of an
-- execution: wake(exec_id, now) makes a suspended execution ready and
-- enqueues its continuation exactly once; a running one gets wake=1 so that
-- exec_suspend.lua re-queues it instead of suspending (an answer that came
-- before the handler reached its wait is kept, never lost).
local function wake(eid, now)
  local ekey = P .. 'exec:' .. eid
  local st = redis.call('HGET', ekey, 'status')
  if st == 'suspended' then
    redis.call('HSET', ekey, 'status', 'ready', 'updated_ms', now)
    redis.call('XADD', redis.call('HGET', ekey, 'stream'), '*',
      'exec', eid, 'kind', 'resume')
    return 'enqueued'
  elseif st == 'running' or st == 'ready' then
    redis.call('HSET', ekey, 'wake', 1)
    return 'flagged'
  end
  return 'ignored'
end

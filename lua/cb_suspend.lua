-- cb_suspend.lua -- wait_for_callback whose request is a push to the
-- session's desktop, on its first run, in one script: create the callback
-- for operation ARGV[5] of a running execution, push the request that carries
-- its id, record the submit step (operation ARGV[5] + 1) and suspend the
-- execution (or queue it again). The same changes as cb_create.lua, push.lua,
-- the submit record and exec_suspend.lua, in one round trip instead of four.
--@include _cell
--@include _deadline
--@include _cb_create
--@include _push
--@include _suspend
-- KEYS[1] aa:exec:{eid}  KEYS[2] the execution's stream  KEYS[3] aa:cb:{cbid}
-- KEYS[4] aa:cb:deadlines  KEYS[5] aa:outbox:{sid}  KEYS[6] aa:session:{sid}:conns
-- KEYS[7] optional: the stream whose entry delivered this run
-- ARGV[1] eid  ARGV[2] worker id  ARGV[3] now ms  ARGV[4] cbid  ARGV[5] the
-- callback's op index  ARGV[6] session  ARGV[7] timeout ms  ARGV[8] heartbeat
-- timeout ms (0: none)  ARGV[9] op name  ARGV[10] the request (a JSON object
-- with callback_id)  ARGV[11] outbox maxlen  ARGV[12] outbox TTL seconds
-- ARGV[13] the group and ARGV[14] the entry id to acknowledge (with KEYS[7])
--@keys exec stream cb deadlines outbox conns ack_stream?
--@argv eid worker now cbid op session timeout_ms heartbeat_ms name request maxlen ttl_s group? entry?
-- Reply: {verdict, event id, live connections}, verdict one of
--   "suspended", "requeued": done (the entry is acknowledged)
--   "lost": another worker owns the execution; nothing done but the ack
--   "exists": the callback id is taken; nothing done
--   "not_connected": the session has no connection: both operations are
--     recorded as failed (no callback is created, nothing waits) and the
--     execution stays with this worker, which replays it at once; the entry
--     is left for the script that ends the run
local f = redis.call('HMGET', KEYS[1], 'status', 'worker')
if f[1] ~= 'running' or f[2] ~= ARGV[2] then
  if KEYS[7] then redis.call('XACK', KEYS[7], ARGV[13], ARGV[14]) end
  return {'lost', '', 0}
end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'exists', '', 0} end
local idx = tonumber(ARGV[5])
local function record(i, op) redis.call('HSET', KEYS[1], 'op:' .. i, cjson.encode(op)) end
local id, live = push(KEYS[5], KEYS[6], ARGV[6], ARGV[10], ARGV[11], '1', ARGV[12])
if live == 0 then
  record(idx, {t = 'cb', n = ARGV[9], s = 'fail', cb = ARGV[4], r = 'client_not_connected'})
  record(idx + 1, {t = 'submit', n = ARGV[9], s = 'fail', r = 'client_not_connected'})
  return {'not_connected', '', 0}
end
-- nothing reaches the desktop before the script ends, so the callback
-- exists before any answer can come
cb_create(KEYS[3], KEYS[1], KEYS[4], ARGV[4], ARGV[1], idx, ARGV[6], ARGV[3], ARGV[7], ARGV[8],
  ARGV[9])
record(idx + 1, {t = 'submit', n = ARGV[9], s = 'ok', r = id})
if KEYS[7] then redis.call('XACK', KEYS[7], ARGV[13], ARGV[14]) end
return {suspend(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]), id, live}

-- timer_fire.lua -- a durable timer is due: mark its operation done (a wait)
-- or ready to run again (a step retry), and wake the execution, once.
--@include _cell
--@include _wake
-- KEYS[1] aa:timers
-- ARGV[1] member "eid|op index"  ARGV[2] now ms
--@keys timers
--@argv member now
-- Reply: "fired", "early" or "gone"
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due then return 'gone' end
if tonumber(due) > tonumber(ARGV[2]) then return 'early' end
redis.call('ZREM', KEYS[1], ARGV[1])
local sep = string.find(ARGV[1], '|', 1, true)
local eid = string.sub(ARGV[1], 1, sep - 1)
local field = 'op:' .. string.sub(ARGV[1], sep + 1)
local ekey = P .. 'exec:' .. eid
local old = redis.call('HGET', ekey, field)
if not old then return 'gone' end
local rec = cjson.decode(old)
if rec.s == 'pending' then rec.s = 'ok' end
if rec.s == 'retry' then rec.s = 'ready' end
redis.call('HSET', ekey, field, cjson.encode(rec))
wake(eid, ARGV[2])
return 'fired'

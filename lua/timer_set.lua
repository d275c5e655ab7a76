-- timer_set.lua -- record a waiting operation (a durable wait, or a step
-- waiting for its next retry) and arm its timer.
-- KEYS[1] aa:exec:{eid}  KEYS[2] aa:timers
-- ARGV[1] eid  ARGV[2] op index  ARGV[3] op record JSON (with "due")  ARGV[4] due ms
-- ARGV[5] now ms
--@keys exec timers
--@argv eid op record due now
-- Reply: "armed"
--@include _deadline
redis.call('HSET', KEYS[1], 'op:' .. ARGV[2], ARGV[3])
deadline(KEYS[2], tonumber(ARGV[4]), ARGV[1] .. '|' .. ARGV[2], ARGV[5])
return 'armed'

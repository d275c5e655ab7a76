-- cb_create.lua -- create a callback for operation ARGV[3] of an execution
-- (see _cb_create.lua).
--@include _deadline
--@include _cb_create
-- KEYS[1] aa:cb:{cbid}  KEYS[2] aa:exec:{eid}  KEYS[3] aa:cb:deadlines
-- ARGV[1] cbid  ARGV[2] eid  ARGV[3] op index  ARGV[4] session  ARGV[5] now ms
-- ARGV[6] timeout ms  ARGV[7] heartbeat timeout ms (0: none)  ARGV[8] op name
--@keys cb exec deadlines
--@argv cbid eid op session now timeout_ms heartbeat_ms name
-- Reply: "created" or "exists"
return cb_create(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  ARGV[6], ARGV[7], ARGV[8])

-- exec_suspend.lua -- the handler reached a wait whose result is not there:
-- release the worker, or queue the continuation again (see _suspend.lua).
--@include _suspend
-- KEYS[1] aa:exec:{eid}  KEYS[2] the execution's stream  KEYS[3] optional: the
-- stream whose entry delivered this run, acknowledged here in every outcome
-- ARGV[1] eid  ARGV[2] worker id  ARGV[3] now ms  ARGV[4] the group and
-- ARGV[5] the entry id to acknowledge (with KEYS[3])
--@keys exec stream ack_stream?
--@argv eid worker now group? entry?
-- Reply: "suspended", "requeued" or "lost" (another worker owns it now)
if KEYS[3] then redis.call('XACK', KEYS[3], ARGV[4], ARGV[5]) end
return suspend(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])

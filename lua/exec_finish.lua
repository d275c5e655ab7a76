-- exec_finish.lua -- an execution ended: record its outcome (_finish.lua)
-- and, when it was delivered by a stream entry, acknowledge the entry in
-- every outcome.
--@include _cell
--@include _wake
--@include _finish
-- KEYS[1] aa:exec:{eid}  KEYS[2] optional: the stream whose entry delivered
-- this run (ARGV[8] group, ARGV[9] id)
-- ARGV[1] eid  ARGV[2] worker id ("" for the runtime itself)  ARGV[3] status
-- ("succeeded"|"failed"|"timed_out"|"cancelled")  ARGV[4] result or error text
-- ARGV[5] now ms  ARGV[6] retention seconds  ARGV[7] optional owner the
-- execution must have (a cancel by an MCP task's subject)
--@keys exec ack_stream?
--@argv eid worker status result now retention_s owner? group? entry?
-- Reply: "ok", "lost" (it had ended, or another worker owns it) or "notfound"
if KEYS[2] then redis.call('XACK', KEYS[2], ARGV[8], ARGV[9]) end
return finish(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])

-- push.lua -- deliver one server event to a session (see _push.lua).
--@include _cell
--@include _push
-- KEYS[1] aa:outbox:{sid}  KEYS[2] aa:session:{sid}:conns
-- ARGV[1] sid  ARGV[2] event JSON (an object without "id")  ARGV[3] outbox maxlen
-- ARGV[4] "1" to refuse when the session has no connection  ARGV[5] outbox TTL seconds
--@keys outbox conns
--@argv sid event maxlen require_conn ttl_s
-- Reply: {event id or "", number of live connections}
local id, live = push(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return {id, live}

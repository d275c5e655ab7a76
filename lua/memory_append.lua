-- memory_append.lua -- keep one finished turn in the session's memory,
-- bounded by turns, with a TTL (any agent worker can continue the session).
-- KEYS[1] aa:session:{sid}:memory
-- ARGV[1] turn JSON  ARGV[2] turns kept  ARGV[3] TTL seconds
--@keys memory
--@argv turn keep ttl_s
-- Reply: turns kept now
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return redis.call('LLEN', KEYS[1])

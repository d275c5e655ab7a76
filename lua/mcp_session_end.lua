-- mcp_session_end.lua -- DELETE /mcp: end an MCP session, if it belongs to
-- the caller, and tell every gateway (a message of aa:mcp:cancel without a
-- request id) so that none keeps trusting it.
-- KEYS[1] aa:mcp:session:{id}
-- ARGV[1] the caller's token subject  ARGV[2] the session id
--@keys session
--@argv subject sid
-- Reply: 1 ended, 0 no such session for this caller
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', 'aa:mcp:cancel', ARGV[2])
return 1

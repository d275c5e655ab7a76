-- exec_batch.lua -- one step of a worker through the entries one stream read
-- delivered: end the runs it finished (_finish.lua), acknowledge their
-- entries and those it skipped, and claim the executions it runs next
-- (_claim.lua), all in one round trip.
--@include _cell
--@include _wake
--@include _finish
--@include _claim
-- KEYS[1] the stream the entries came from
-- ARGV[1] its group  ARGV[2] worker id (the consumer)  ARGV[3] now ms
-- ARGV[4] lease ms  ARGV[5] max attempts  ARGV[6] retention seconds
-- ARGV[7] n, the number of ends; then n groups of five: eid, status
-- ("succeeded"|"failed", or "" to acknowledge the entry only), result, entry
-- id, plain ("1": the record had no parent, lane, notify, owner or
-- task_ttl_ms at its claim; those are set at the start only, so the end
-- reads status and worker only); then the ids of the executions to claim
--@keys stream
--@argv group worker now lease_ms max_attempts retention_s nend items*
-- Reply: {{verdict of each end: "ok"|"lost"|"notfound"|"acked"}, claim reply
-- of each execution to claim, as exec_claim.lua's}
local n = tonumber(ARGV[7])
local ends, acks = {}, {}
for i = 0, n - 1 do
  local b = 8 + 5 * i
  local status = ARGV[b + 1]
  acks[#acks + 1] = ARGV[b + 3]
  if status == '' then
    ends[#ends + 1] = 'acked'
  else
    ends[#ends + 1] = finish(P .. 'exec:' .. ARGV[b], ARGV[b], ARGV[2], status, ARGV[b + 2],
      ARGV[3], ARGV[6], nil, ARGV[b + 4] == '1')
  end
end
if #acks > 0 then redis.call('XACK', KEYS[1], ARGV[1], unpack(acks)) end
local out = {ends}
if 8 + 5 * n <= #ARGV then
  local terms = claim_terms(ARGV[2], ARGV[3], ARGV[4], ARGV[5])
  for i = 8 + 5 * n, #ARGV do
    out[#out + 1] = claim(P .. 'exec:' .. ARGV[i], terms)
  end
end
return out

-- exec_claim.lua -- a worker takes an execution to run (or replay) it (see
-- _claim.lua).
--@include _claim
-- KEYS[1] aa:exec:{eid}
-- ARGV[1] worker id  ARGV[2] now ms  ARGV[3] lease ms  ARGV[4] max attempts
--@keys exec
--@argv worker now lease_ms max_attempts
-- Reply: {"ok", field, value, ...} (the whole record after the claim)
--        or {"gone"|"done"|"suspended"|"busy"|"exhausted"}
return claim(KEYS[1], claim_terms(ARGV[1], ARGV[2], ARGV[3], ARGV[4]))

-- task_list.lua -- one page of an owner's MCP tasks, newest first. Tasks
-- whose record has expired are skipped (exec_start.lua trims the index).
-- KEYS[1] aa:mcp:tasks:{owner}
-- ARGV[1] offset  ARGV[2] page size
--@keys tasks
--@argv offset count
-- Reply: {next offset or "", then per task: eid, status, created_ms,
-- updated_ms, task_ttl_ms, result (only for a task that did not succeed)}
--@include _cell
local off = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local ids = redis.call('ZREVRANGE', KEYS[1], off, off + n)
local out = {''}
for i, eid in ipairs(ids) do
  if i > n then
    out[1] = tostring(off + n)
    break
  end
  local f = redis.call('HMGET', P .. 'exec:' .. eid, 'status', 'created_ms', 'updated_ms',
    'task_ttl_ms', 'result')
  if f[1] then
    if f[1] == 'succeeded' then f[5] = '' end
    for _, v in ipairs({eid, f[1], f[2], f[3] or f[2], f[4] or '', f[5] or ''}) do
      out[#out + 1] = v
    end
  end
end
return out

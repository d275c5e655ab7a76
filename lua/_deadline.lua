-- _deadline.lua -- included by scripts that add a deadline to a set the
-- timer threads watch (aa:timers, aa:cb:deadlines, aa:exec:deadlines):
-- deadline(set, at, member, now) adds it and, when it is due within a second
-- (the longest a timer thread sleeps between passes), publishes its time on
-- aa:timers:soon so that the timer threads wake for it. A later deadline
-- wakes nobody: the threads' next pass finds it in time.
local function deadline(set, at, member, now)
  redis.call('ZADD', set, at, member)
  if tonumber(at) - tonumber(now) < 1000 then
    redis.call('PUBLISH', 'aa:timers:soon', at)
  end
end

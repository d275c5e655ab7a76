#!/usr/bin/env bash
# durable.sh -- crash and restart scenarios of the durable runtime against
# real processes: a tool worker killed while its execution is suspended, a
# worker that dies after taking a job, no notification listener (the sweep
# resumes), redis-server restarted (AOF) while executions wait, two workers
# that each resume only their own callbacks, and one of them leaving.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
start_redis
start_gateway gw
start_agent --claim-idle-ms 1000 --lease-ms 2000
start_tool --claim-idle-ms 1000 --lease-ms 2000
wait_for 10 "worker groups" groups_ready

pending_callbacks() { test "$(sum_cells ZCARD aa:cb:deadlines)" -ge 1; }

# 1. kill -9 the tool worker while its execution is suspended.
out=$E2E_DIR/kill-suspended.out
client --session d-kill --prompt "What's my VPN status?" --timeout-ms 30000 \
    --cmd-vpn-status "$FIXTURES/slow_status.sh 2" >"$out" &
cpid=$!
wait_for 10 "a suspended tool call" pending_callbacks
kill -9 "$TOOL_PID"
wait "$TOOL_PID" 2>/dev/null
forget "$TOOL_PID"
start_tool --claim-idle-ms 1000 --lease-ms 2000
wait "$cpid"
check "kill -9 while suspended: answered" test $? = 0
check "kill -9 while suspended: one status request" test "$(count "$out" '"action":"get_vpn_status"')" = 1
check "kill -9 while suspended: one answer" test "$(count "$out" '"event":"chat_response"')" = 1
check "kill -9 while suspended: says connected" has "$out" "currently connected"
# the new worker's resumer leaves the dead one's callbacks: the sweep takes them
check "kill -9 while suspended: resumed by the sweep" grep -q "event=sweep resumed=" "$E2E_DIR/tool.log"

# 2. A tool worker that dies right after taking a job (frozen, then killed):
#    another worker reclaims the entry and the push happens once. Redis hands
#    the entry to the frozen worker if it is still blocked in XREADGROUP;
#    otherwise a consumer that never comes back ("ghost") takes it, which is
#    the same case.
kill -STOP "$TOOL_PID"
frozen=$TOOL_PID
out=$E2E_DIR/kill-running.out
tool_stream=$(key in d-frozen aa:stream:tool) # the session's cell's
last=$(rcli XREVRANGE "$tool_stream" + - COUNT 1 | head -1)
client --session d-frozen --prompt "Help me connect to my VPN" --timeout-ms 30000 >"$out" &
cpid=$!
new_entry() { test "$(rcli XREVRANGE "$tool_stream" + - COUNT 1 | head -1)" != "$last"; }
wait_for 10 "the tool call's stream entry" new_entry
rcli XREADGROUP GROUP tool-workers ghost COUNT 10 STREAMS "$tool_stream" '>' >/dev/null
start_tool --claim-idle-ms 1000 --lease-ms 2000
wait "$cpid"
check "dead consumer: answered after the reclaim" test $? = 0
check "dead consumer: one client_action" test "$(count "$out" '"event":"client_action"')" = 1
check "dead consumer: reclaimed by the live worker" grep -q "event=reclaimed" "$E2E_DIR/tool.log"
kill -9 "$frozen"
kill -CONT "$frozen" 2>/dev/null
wait "$frozen" 2>/dev/null
forget "$frozen"

# 3. No notification listener and no timers: the sweep alone resumes.
kill -TERM "$TOOL_PID"
wait "$TOOL_PID"
forget "$TOOL_PID"
start_tool --notifications false --timers false --sweep-ms 1000
out=$E2E_DIR/sweep.out
start=$SECONDS
client --session d-sweep --prompt "What's my VPN status?" --timeout-ms 20000 >"$out"
check "sweep only: answered" test $? = 0
check "sweep only: within 2 s of the answer" test $((SECONDS - start)) -le 3
check "sweep only: resumed by the sweep" grep -q "event=sweep resumed=" "$E2E_DIR/tool.log"
kill -TERM "$TOOL_PID"
wait "$TOOL_PID"
forget "$TOOL_PID"
start_tool --claim-idle-ms 1000 --lease-ms 2000

# 4. redis-server restarted (AOF) while an execution is suspended.
out=$E2E_DIR/redis-restart.out
client --session d-restart --prompt "What's my VPN status?" --timeout-ms 30000 \
    --cmd-vpn-status "$FIXTURES/slow_status.sh 3" >"$out" &
cpid=$!
wait_for 10 "a suspended tool call" pending_callbacks
restart_redis
wait "$cpid"
check "redis restart: answered" test $? = 0
check "redis restart: one answer" test "$(count "$out" '"event":"chat_response"')" = 1
check "redis restart: says connected" has "$out" "currently connected"

# 5. Two tool workers: each completion is resumed once, by the resumer of the
#    worker that made its callback (the other one leaves it).
kill -TERM "$TOOL_PID"
wait "$TOOL_PID"
forget "$TOOL_PID"
declare -A WPID
for w in a b; do
    "$BINDIR/aa-tool-worker" --redis "$REDIS" --log-level debug 2>>"$E2E_DIR/tool-$w.log" &
    WPID[$w]=$!
    PIDS+=("$!")
done
both_up() { test "$(grep -l event=notifications_listening "$E2E_DIR"/tool-[ab].log | wc -l)" = 2; }
wait_for 10 "two tool workers" both_up
answered=0
for i in 1 2 3 4 5 6; do
    client --session "d-two-$i" --prompt "What's my VPN status?" --timeout-ms 20000 \
        >"$E2E_DIR/two-$i.out" && has "$E2E_DIR/two-$i.out" "currently connected" &&
        answered=$((answered + 1))
done
check "two workers: every turn answered" test "$answered" = 6
made() { grep -ho "event=callback_created .* cb=[^ ]*" "$E2E_DIR/tool-$1.log" | sed 's/.* cb=//'; }
left() { grep -ho "event=completion_left cb=[^ ]*" "$E2E_DIR/tool-$1.log" | sed 's/.* cb=//'; }
check "two workers: six callbacks made" test "$( (made a; made b) | sort -u | wc -l)" = 6
check "two workers: each left exactly the other's callbacks" \
    test "$(left a | sort)" = "$(made b | sort)" -a "$(left b | sort)" = "$(made a | sort)"
check "two workers: no completion resumed twice" \
    test "$(cat "$E2E_DIR"/tool-[ab].log | grep -c "verdict=already")" = 0

# 6. The worker that made a waiting callback stops (SIGTERM): it says so, and
#    the other one resumes the callback at its answer, without the sweep.
out=$E2E_DIR/leaving.out
client --session d-leaving --prompt "What's my VPN status?" --timeout-ms 30000 \
    --cmd-vpn-status "$FIXTURES/slow_status.sh 2" >"$out" &
cpid=$!
wait_for 10 "a suspended tool call" pending_callbacks
cb=$(rcli ZRANGE "$(key in d-leaving aa:cb:deadlines)" 0 0)
maker=a other=b
grep -q "cb=$cb" "$E2E_DIR/tool-b.log" && maker=b other=a
kill -TERM "${WPID[$maker]}"
wait "${WPID[$maker]}"
check "worker leaving: exits 0" test $? = 0
forget "${WPID[$maker]}"
wait "$cpid"
check "worker leaving: answered" test $? = 0
check "worker leaving: says connected" has "$out" "currently connected"
check "worker leaving: the other heard it leave" grep -q "event=resumer_gone" "$E2E_DIR/tool-$other.log"
check "worker leaving: resumed by the other's notification, not the sweep" \
    bash -c "! grep -q 'event=sweep resumed=' '$E2E_DIR/tool-$other.log'"

check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

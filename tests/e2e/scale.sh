#!/usr/bin/env bash
# scale.sh -- horizontal scale: 2 gateways, 2 agent workers and 3 tool
# workers on one Redis, clients spread over both gateways. Every answer and
# push reaches the right session wherever it was produced; killing one of
# each program during the run (the gateway restarted on its port, as a
# supervisor would) loses no conversation.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
start_redis
start_gateway gw1
P1=$PORT
start_gateway gw2
P2=$PORT
start_agent --claim-idle-ms 1000 --lease-ms 2000
A1=$AGENT_PID
start_agent --claim-idle-ms 1000 --lease-ms 2000
start_tool --claim-idle-ms 1000 --lease-ms 2000
T1=$TOOL_PID
start_tool --claim-idle-ms 1000 --lease-ms 2000
start_tool --claim-idle-ms 1000 --lease-ms 2000
wait_for 10 "worker groups" groups_ready
N=10

ask() { # i prompt out [extra args]
    local i=$1 prompt=$2 out=$3
    shift 3
    local port=$P1
    [ $((i % 2)) = 1 ] && port=$P2
    PORT=$port client --session "scale-$i" --prompt "$prompt" --timeout-ms 40000 "$@" >"$out" 2>&1
}

# 1. Status questions on 10 sessions over both gateways; while they wait on
#    the desktop, one gateway, one agent worker and one tool worker die.
pids=()
for i in $(seq 0 $((N - 1))); do
    ask "$i" "What's my VPN status?" "$E2E_DIR/status-$i.out" \
        --cmd-vpn-status "$FIXTURES/slow_status.sh 2" &
    pids+=("$!")
done
waiting() { test "$(sum_cells ZCARD aa:cb:deadlines)" -ge $N; }
wait_for 20 "all tool calls suspended" waiting
kill -9 "$GW1_PID" "$A1" "$T1"
wait "$GW1_PID" "$A1" "$T1" 2>/dev/null
forget "$GW1_PID"
forget "$A1"
forget "$T1"
start_gateway gw1 --port "$P1"
ok_all=1
for i in $(seq 0 $((N - 1))); do
    wait "${pids[$i]}" || ok_all=0
done
check "scale: all $N sessions answered through the kills" test $ok_all = 1
right=0
for i in $(seq 0 $((N - 1))); do
    f=$E2E_DIR/status-$i.out
    if [ "$(grep -c '"event":"chat_response"' "$f")" = 1 ] && grep -q "currently connected" "$f" &&
        [ "$(grep -c '"action":"get_vpn_status"' "$f")" = 1 ]; then
        right=$((right + 1))
    fi
done
check "scale: each session got exactly one request and one answer" test $right = $N

# 2. Pushes reach the right session: each session connects, and only it gets
#    its client_action and answer.
pids=()
for i in $(seq 0 $((N - 1))); do
    ask "$i" "Help me connect to my VPN" "$E2E_DIR/connect-$i.out" &
    pids+=("$!")
done
ok_all=1
for p in "${pids[@]}"; do wait "$p" || ok_all=0; done
check "scale: second wave answered" test $ok_all = 1
right=0
for i in $(seq 0 $((N - 1))); do
    f=$E2E_DIR/connect-$i.out
    if [ "$(grep -c '"event":"client_action"' "$f")" = 1 ] && grep -q "turn-" "$f"; then
        right=$((right + 1))
    fi
done
check "scale: every push reached its own session once" test $right = $N

check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

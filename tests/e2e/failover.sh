#!/usr/bin/env bash
# failover.sh -- a Redis Cluster master killed (kill -9) while executions are
# suspended on the desktop and turns are running: its replica takes over
# (cluster-node-timeout 1 s), every program follows the new topology, and
# every turn ends with exactly one answer, the right one. Prints the figure
# of lost and duplicated answers ("# failover: ...") for the closing notes
# and docs/ARCHITECTURE.md, once with the gateway acknowledging a callback
# answer at once (--redis-wait-replicas 0) and once when a replica has it
# (1). AA_FAILOVER_TURNS sets the number of sessions (default 24 suspended
# + 12 started at the kill).
set -u
export AA_E2E_CLUSTER=1
export AA_CLUSTER_NODE_TIMEOUT=1000
. "$(dirname "$0")/lib.sh"
e2e_setup
N=${AA_FAILOVER_TURNS:-24}
M=$((N / 2))

failover() { # WAIT: one stack on a new cluster, a master killed under it
    local wait=$1
    start_redis
    start_gateway gw --redis-wait-replicas "$wait"
    start_agent --claim-idle-ms 1000 --lease-ms 2000
    start_agent --claim-idle-ms 1000 --lease-ms 2000
    start_tool --claim-idle-ms 1000 --lease-ms 2000
    start_tool --claim-idle-ms 1000 --lease-ms 2000
    wait_for 10 "worker groups" groups_ready

    # 1. N status questions whose desktop answers after 4 s: all suspended.
    pids=()
    for i in $(seq 1 "$N"); do
        client --session "fo-wait-$i" --prompt "What's my VPN status?" --timeout-ms 50000 \
            --cmd-vpn-status "$FIXTURES/slow_status.sh 4" >"$E2E_DIR/$wait-wait-$i.out" 2>&1 &
        pids+=("$!")
    done
    suspended() { test "$(sum_cells ZCARD aa:cb:deadlines)" -ge "$N"; }
    wait_for 20 "$N suspended tool calls" suspended
    check "[wait $wait] setup: $N executions suspended on the desktop" suspended

    # 2. The master holding most of the waiting callbacks dies, and M new turns
    #    start at that moment.
    victim= most=-1
    masters=$(key masters)
    for m in $masters; do
        n=$(redis-cli -h "${m%:*}" -p "${m##*:}" --scan --pattern '*:cb:cb-*' | wc -l)
        [ "$n" -gt "$most" ] && most=$n victim=$m
    done
    vport=${victim##*:}
    kill -9 "$(cat "$CLUSTER_DIR/$vport/redis.pid")"
    killed=$SECONDS
    for i in $(seq 1 "$M"); do
        client --session "fo-run-$i" --prompt "Help me connect to my VPN" --timeout-ms 50000 \
            >"$E2E_DIR/$wait-run-$i.out" 2>&1 &
        pids+=("$!")
    done
    survivor=
    for m in $masters; do [ "$m" != "$victim" ] && survivor=$m && break; done
    promoted() {
        redis-cli -h "${survivor%:*}" -p "${survivor##*:}" CLUSTER INFO | grep -q '^cluster_state:ok' &&
            redis-cli -h "${survivor%:*}" -p "${survivor##*:}" CLUSTER NODES |
            grep ":$vport@" | grep -q fail
    }
    wait_for 20 "the replica to take over" promoted
    check "[wait $wait] failover: master $victim ($most waiting callbacks) failed, its replica took over" promoted
    took=$((SECONDS - killed))

    # 3. Every turn ends, with one answer, the right one.
    ended=0
    for p in "${pids[@]}"; do wait "$p" && ended=$((ended + 1)); done
    one=0 right=0 dup=0
    for f in "$E2E_DIR"/$wait-wait-*.out "$E2E_DIR"/$wait-run-*.out; do
        n=$(count "$f" '"event":"chat_response"')
        [ "$n" = 1 ] && one=$((one + 1))
        [ "$n" -gt 1 ] && dup=$((dup + 1))
    done
    for i in $(seq 1 "$N"); do has "$E2E_DIR/$wait-wait-$i.out" "currently connected" && right=$((right + 1)); done
    for i in $(seq 1 "$M"); do has "$E2E_DIR/$wait-run-$i.out" "connect_vpn" && right=$((right + 1)); done
    total=$((N + M))
    echo "# failover: $total turns ($N suspended, $M starting), replica promoted in ~${took} s;" \
        "$((total - right)) lost or wrong, $dup duplicated, $((total - ended)) unanswered" \
        "(--redis-wait-replicas $wait; answers refused until replicated:" \
        "$(count "$E2E_DIR/gw.log" event=completion_not_replicated))"
    check "[wait $wait] failover: every turn answered ($ended of $total)" test "$ended" = "$total"
    check "[wait $wait] failover: exactly one answer each ($one of $total)" test "$one" = "$total"
    check "[wait $wait] failover: no answer duplicated ($dup)" test "$dup" = 0
    check "[wait $wait] failover: every answer the right one ($right of $total)" test "$right" = "$total"
    check "[wait $wait] failover: the sessions' cells are on every master now serving" \
        test "$(key masters | wc -l)" = 3
    check "[wait $wait] shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
    bash "$ROOT/ops/redis-cluster.sh" stop "$CLUSTER_DIR"
}

failover 0
failover 1
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

#!/usr/bin/env bash
# failover.sh -- a Redis Cluster master killed (kill -9) while executions are
# suspended on the desktop and turns are running: its replica takes over
# (cluster-node-timeout 1 s), every program follows the new topology, and
# every turn ends with exactly one answer, the right one. Prints the figure
# of lost and duplicated answers ("# failover: ...") for the closing notes
# and docs/ARCHITECTURE.md, once with the gateway acknowledging a callback
# answer at once (--redis-wait-replicas 0) and once when a replica has it
# (1). Then the same load through a reshard: redis-cli --cluster reshard
# moves live cells between masters. AA_FAILOVER_TURNS sets the number of
# sessions (default 24 suspended + 12 started at the kill).
set -u
export AA_E2E_CLUSTER=1
export AA_CLUSTER_NODE_TIMEOUT=1000
. "$(dirname "$0")/lib.sh"
e2e_setup
N=${AA_FAILOVER_TURNS:-24}
M=$((N / 2))

# stack_up WAIT: a new cluster and a stack on it (the gateway with
# --redis-wait-replicas WAIT).
stack_up() {
    start_redis
    start_gateway gw --redis-wait-replicas "$1"
    start_agent --claim-idle-ms 1000 --lease-ms 2000
    start_agent --claim-idle-ms 1000 --lease-ms 2000
    start_tool --claim-idle-ms 1000 --lease-ms 2000
    start_tool --claim-idle-ms 1000 --lease-ms 2000
    wait_for 10 "worker groups" groups_ready
}

# suspend TAG: N status questions whose desktop answers 3 to 7 s later
# (spread over the failover that follows), all suspended when it returns;
# the master holding most of their callbacks in $victim (every master in
# $masters).
suspend() {
    local tag=$1 i m n
    most=-1
    pids=()
    for i in $(seq 1 "$N"); do
        client --session "fo-wait-$i" --prompt "What's my VPN status?" --timeout-ms 50000 \
            --cmd-vpn-status "$FIXTURES/slow_status.sh $((3 + i % 4)).$((i * 37 % 10))" \
            >"$E2E_DIR/$tag-wait-$i.out" 2>&1 &
        pids+=("$!")
    done
    suspended() { test "$(sum_cells ZCARD aa:cb:deadlines)" -ge "$N"; }
    wait_for 20 "$N suspended tool calls" suspended
    check "[$tag] setup: $N executions suspended on the desktop" suspended
    masters=$(key masters)
    for m in $masters; do
        n=$(redis-cli -h "${m%:*}" -p "${m##*:}" --scan --pattern '*:cb:cb-*' | wc -l)
        [ "$n" -gt "$most" ] && most=$n victim=$m
    done
}

# start_turns TAG: M new turns, started now.
start_turns() {
    local i
    for i in $(seq 1 "$M"); do
        client --session "fo-run-$i" --prompt "Help me connect to my VPN" --timeout-ms 50000 \
            >"$E2E_DIR/$1-run-$i.out" 2>&1 &
        pids+=("$!")
    done
}

# verify TAG WHAT: every turn ends, with one answer, the right one; prints
# the figure; stops the stack and its cluster.
verify() {
    local tag=$1 what=$2 p f n i ended=0 one=0 right=0 dup=0 total=$((N + M))
    for p in "${pids[@]}"; do wait "$p" && ended=$((ended + 1)); done
    for f in "$E2E_DIR"/$tag-wait-*.out "$E2E_DIR"/$tag-run-*.out; do
        n=$(count "$f" '"event":"chat_response"')
        [ "$n" = 1 ] && one=$((one + 1))
        [ "$n" -gt 1 ] && dup=$((dup + 1))
    done
    for i in $(seq 1 "$N"); do has "$E2E_DIR/$tag-wait-$i.out" "currently connected" && right=$((right + 1)); done
    for i in $(seq 1 "$M"); do has "$E2E_DIR/$tag-run-$i.out" "connect_vpn" && right=$((right + 1)); done
    echo "# $tag: $total turns ($N suspended, $M starting), $what;" \
        "$((total - right)) lost or wrong, $dup duplicated, $((total - ended)) unanswered;" \
        "answers refused until replicated: $(count "$E2E_DIR/gw.log" event=completion_not_replicated)"
    check "[$tag] every turn answered ($ended of $total)" test "$ended" = "$total"
    check "[$tag] exactly one answer each ($one of $total)" test "$one" = "$total"
    check "[$tag] no answer duplicated ($dup)" test "$dup" = 0
    check "[$tag] every answer the right one ($right of $total)" test "$right" = "$total"
    check "[$tag] shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
    bash "$ROOT/ops/redis-cluster.sh" stop "$CLUSTER_DIR"
    : >"$E2E_DIR/gw.log"
}

# failover WAIT: the master holding most of the waiting callbacks dies
# (kill -9) and M new turns start at that moment.
failover() {
    local tag="failover-wait-$1" survivor= m vport killed
    stack_up "$1"
    suspend "$tag"
    vport=${victim##*:}
    kill -9 "$(cat "$CLUSTER_DIR/$vport/redis.pid")"
    killed=$SECONDS
    start_turns "$tag"
    for m in $masters; do [ "$m" != "$victim" ] && survivor=$m && break; done
    promoted() {
        redis-cli -h "${survivor%:*}" -p "${survivor##*:}" CLUSTER INFO | grep -q '^cluster_state:ok' &&
            redis-cli -h "${survivor%:*}" -p "${survivor##*:}" CLUSTER NODES |
            awk -v p=":$vport@" 'index($2, p) { print $3 }' | grep -qE '(^|,)fail(,|$)'
    }
    wait_for 20 "the replica to take over" promoted
    check "[$tag] master $victim ($most waiting callbacks) failed, its replica took over" \
        test $? = 0
    check "[$tag] three masters serve every slot again" test "$(key masters | wc -l)" = 3
    verify "$tag" "replica promoted in ~$((SECONDS - killed)) s"
}

# reshard: while the turns wait and start, redis-cli --cluster reshard
# moves the lower 2300 slots of the master with most waiting callbacks (4
# of its cells, with their records, streams and deadline sets) to another.
reshard() {
    local tag=reshard m src dst to moved cells_moved=0 k
    stack_up 0
    suspend "$tag"
    src=$(redis-cli -h "${victim%:*}" -p "${victim##*:}" CLUSTER MYID)
    for m in $masters; do [ "$m" != "$victim" ] && to=$m && break; done
    dst=$(redis-cli -h "${to%:*}" -p "${to##*:}" CLUSTER MYID)
    start_turns "$tag"
    redis-cli --cluster reshard "$victim" --cluster-from "$src" --cluster-to "$dst" \
        --cluster-slots 2300 --cluster-yes >"$E2E_DIR/reshard.log" 2>&1
    check "[$tag] redis-cli --cluster reshard moved 2300 slots" test $? = 0
    for k in $(seq 0 15); do
        redis-cli -h "${to%:*}" -p "${to##*:}" CLUSTER COUNTKEYSINSLOT \
            "$(redis-cli -h "${to%:*}" -p "${to##*:}" CLUSTER KEYSLOT "{c$k}")" | grep -qv '^0$' &&
            grep -q "Moving slot $(redis-cli -h "${to%:*}" -p "${to##*:}" CLUSTER KEYSLOT "{c$k}") " \
                "$E2E_DIR/reshard.log" && cells_moved=$((cells_moved + 1))
    done
    check "[$tag] live cells moved ($cells_moved)" test "$cells_moved" -ge 1
    verify "$tag" "2300 slots ($cells_moved live cells) moved from $victim to $to"
}

failover 0
failover 1
reshard
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

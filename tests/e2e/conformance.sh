#!/usr/bin/env bash
# conformance.sh -- the gateway against independent WebSocket peers: raw
# sockets (tests/conformance/ws_raw.py, every RFC 6455 case we check by hand),
# Debian's python3-websockets, npm's ws, and libwebsockets (the client, in
# the other scenarios); then the dead-gateway reaper.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
start_redis
start_gateway gw --idle-ms 1500 --header-timeout-ms 1000 --rate-per-s 20 --rate-burst 40
TOKEN=$(mint --sub conformance --ttl-s 600)
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# 1. Raw sockets.
$PY "$ROOT/tests/conformance/ws_raw.py" 127.0.0.1 "$PORT" "$TOKEN" >"$E2E_DIR/raw.out" 2>&1
cat "$E2E_DIR/raw.out"
line=$(grep -E '^conformance: ' "$E2E_DIR/raw.out")
PASSED=$((PASSED + $(echo "$line" | sed -E 's/conformance: ([0-9]+) passed.*/\1/')))
FAILED=$((FAILED + $(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')))
[ -n "$line" ] || not_ok "raw conformance script ran"
check "metrics: rate limiting counted" sh -c "bash -c '. $ROOT/tests/e2e/lib.sh; http_get $PORT /metrics' | grep -q '^aa_gateway_rate_limited_total [1-9]'"

# 1b. Every message size across the boundaries, from a raw-socket peer, on a
# gateway whose rate limit does not interfere (the default --max-message).
start_gateway gwsizes --rate-per-s 100000 --rate-burst 100000
$PY "$ROOT/tests/conformance/ws_sizes.py" 127.0.0.1 "$PORT" "$TOKEN" 131072 >"$E2E_DIR/sizes.out" 2>&1
grep -v '^ok - ' "$E2E_DIR/sizes.out"
line=$(grep -E '^sizes: ' "$E2E_DIR/sizes.out")
[ -n "$line" ] || not_ok "size sweep script ran"
PASSED=$((PASSED + $(echo "${line:-sizes: 0 passed}" | sed -E 's/sizes: ([0-9]+) passed.*/\1/')))
FAILED=$((FAILED + $(echo "${line:-, 0 failed}" | sed -E 's/.* ([0-9]+) failed/\1/')))
echo "# size sweep: $line"
PORT=$(cat "$E2E_DIR/gw.port")

# 2. python3-websockets (Debian's package, under /usr/bin/python3).
if /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    out=$(/usr/bin/python3 "$ROOT/tests/conformance/ws_python.py" "ws://127.0.0.1:$PORT/ws" "$TOKEN" 2>&1)
    check "python3-websockets: ping, fragmented message, close" test "$out" = ok
    [ "$out" = ok ] || echo "#   $out"
else
    not_ok "python3-websockets is installed (ops/deps.sh --test)"
fi

# 2b. A burst of pushes published in one go (one Lua script per session:
# Redis sends them back to back) reaches every connection complete and in order.
if /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    N=3000
    /usr/bin/python3 "$ROOT/tests/conformance/push_burst.py" "ws://127.0.0.1:$PORT/ws" "$TOKEN" \
        "$N" "$E2E_DIR/burst.ready" >"$E2E_DIR/burst.out" 2>&1 &
    bpid=$!
    wait_for 10 "the burst clients" test -s "$E2E_DIR/burst.ready"
    # each session's push channel (with cells, the sharded one of its cell)
    for s in burst-a burst-b; do
        ch=$(key in "$s" aa:push:gw)
        pub=PUBLISH
        [ "$ch" = aa:push:gw ] || pub=SPUBLISH
        rcli EVAL "for i = 0, tonumber(ARGV[1]) - 1 do
            local ev = '{\"event\":\"burst\",\"n\":' .. i .. '}'
            redis.call(ARGV[3], KEYS[1], ARGV[4] .. '\n' .. ARGV[2] .. '-' .. i .. '\n' .. ev)
          end" 1 "$ch" "$N" "$(date +%s%3N)" "$pub" "$s" >/dev/null
    done
    wait "$bpid"
    out=$(cat "$E2E_DIR/burst.out")
    check "push: a burst of $N pushes to two sessions (three connections) arrives whole and in order" test "$out" = ok
    [ "$out" = ok ] || echo "#   $out"
fi

# 3. npm ws (installed by tests/package.json).
if [ -d "$ROOT/tests/node_modules/ws" ]; then
    out=$(node "$ROOT/tests/conformance/ws_node.mjs" "ws://127.0.0.1:$PORT/ws" "$TOKEN" 2>&1)
    check "npm ws: ping, fragmented message, close" test "$out" = ok
    [ "$out" = ok ] || echo "#   $out"
else
    not_ok "npm ws is installed (cd tests && npm ci)"
fi

# 4. A gateway that dies leaves connection records; another gateway reaps them.
start_gateway gw2 --heartbeat-ms 300
(sleep 30 | timeout 60 "$BINDIR/aa-client" --approve-changes allow --url "ws://127.0.0.1:$PORT/ws" --token "$TOKEN" \
    --session reap-me --json --quiet >/dev/null 2>&1) >/dev/null 2>&1 &
one_conn() { test "$(rcli SCARD "$(key session reap-me conns)")" = 1; }
reaped() { test "$(rcli SCARD "$(key session reap-me conns)")" = 0 && test "$(sum_cells EXISTS aa:node:gw2:conns)" = 0; }
wait_for 10 "the client on gw2" one_conn
kill -9 "$GW2_PID"
wait "$GW2_PID" 2>/dev/null
forget "$GW2_PID"
start=$SECONDS
check "reaper: a dead gateway's connections removed" wait_for 40 "the reaper" reaped
check "reaper: within 30 s" test $((SECONDS - start)) -le 30

check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

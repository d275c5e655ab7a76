#!/usr/bin/env bash
# authz.sh -- the authorization matrix (tests/conformance/authz.py) against
# a real gateway and tool worker, with alice's desktop client connected:
# subjects x scopes x routes x another subject's ids, and the defects found
# from outside (callback ids, content, REST bodies, last_event_id, Origin,
# OAuth throttling, slowloris).
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
start_redis
start_gateway authz --header-timeout-ms 1000 \
    --mcp-clients "agent-a:secret-a::alice,agent-b:secret-b::bob,agent-a1:secret-a1:alice-s:alice"
start_tool
tool_group() { rcli XINFO GROUPS "$(key cells aa:stream:tool | tail -1)" | grep -q tool-workers; }
wait_for 10 "tool worker group" tool_group
# alice's desktop; its stdin stays open (fd 7) until the end
mkfifo "$E2E_DIR/alice.in"
timeout 150 "$BINDIR/aa-client" --approve-changes allow --url "ws://127.0.0.1:$PORT/ws" --json --quiet \
    --token "$(mint --sub alice --ttl-s 600)" --session alice-s \
    --cmd-vpn-status "$FIXTURES/slow_vpn_status.sh 2" \
    --cmd-connect-vpn "$FIXTURES/action.sh connect_vpn $E2E_DIR/actions.log" \
    <"$E2E_DIR/alice.in" >"$E2E_DIR/alice.out" 2>&1 &
alice=$!
exec 7>"$E2E_DIR/alice.in"
alice_up() { test "$(rcli SCARD "$(key session alice-s conns)")" = 1; }
wait_for 10 "alice's desktop" alice_up
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
$PY "$ROOT/tests/conformance/authz.py" 127.0.0.1 "$PORT" "$REDIS" "$BINDIR" >"$E2E_DIR/authz.out" 2>&1
grep -v '^ok - ' "$E2E_DIR/authz.out"
line=$(grep -E '^authz: ' "$E2E_DIR/authz.out")
[ -n "$line" ] || not_ok "authz script ran"
PASSED=$((PASSED + $(echo "${line:-authz: 0 passed}" | sed -E 's/authz: ([0-9]+) passed.*/\1/')))
FAILED=$((FAILED + $(echo "${line:-, 0 failed}" | sed -E 's/.* ([0-9]+) failed/\1/')))
"$BINDIR/aa-gateway" --port 0 --redis "$REDIS" --mcp-clients 'wild:secret:*' 2>"$E2E_DIR/wild.err"
check "oauth: a client registered for session '*' is refused at start (exit 2)" test $? = 2
check "oauth: and told there is no wildcard" grep -q 'no wildcard' "$E2E_DIR/wild.err"
check "oauth: failed attempts are logged" grep -q 'event=oauth_failed client=agent-b' "$E2E_DIR/authz.log"
check "ws: a refused session is logged" grep -q 'event=session_forbidden' "$E2E_DIR/authz.log"
exec 7>&-
kill "$alice" 2>/dev/null
wait "$alice" 2>/dev/null
check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

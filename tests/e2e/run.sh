#!/usr/bin/env bash
# run.sh -- end-to-end scenarios against a real redis-server, gateway, agent
# worker, tool worker and the headless desktop client. Prints one TAP-like
# line per check and "N passed, N failed" at the end.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup

# 0. Every program answers --help and refuses bad flags with exit status 2.
if [ -z "$EXTERNAL" ]; then
    for prog in aa-gateway aa-agent-worker aa-tool-worker aa-client aa-ctl; do
        check "cli: $prog --help" sh -c "'$BINDIR/$prog' --help | grep -q usage"
        "$BINDIR/$prog" --no-such-flag >/dev/null 2>"$E2E_DIR/cli.err"
        check "cli: $prog refuses an unknown flag with 2" test $? = 2
        check "cli: $prog says which flag" grep -q "no-such-flag" "$E2E_DIR/cli.err"
    done
    "$BINDIR/aa-gateway" --port 70000 2>"$E2E_DIR/cli.err"
    check "cli: out-of-range value refused with 2" test $? = 2
    check "cli: out-of-range value explained" grep -q "out of range" "$E2E_DIR/cli.err"
    AA_MAX_MESSAGE=abc "$BINDIR/aa-gateway" 2>"$E2E_DIR/cli.err"
    check "cli: bad environment value refused with 2" test $? = 2
    # --log-file, reopened on SIGHUP (log rotation)
    "$BINDIR/aa-gateway" --dev-mode --port 0 --redis 127.0.0.1:1 --log-file "$E2E_DIR/rot.log" &
    rpid=$!
    wait_for 5 "the log file" grep -q event=listening "$E2E_DIR/rot.log"
    mv "$E2E_DIR/rot.log" "$E2E_DIR/rot.log.1"
    kill -HUP "$rpid"
    wait_for 5 "a new log file after SIGHUP" grep -q event= "$E2E_DIR/rot.log"
    check "logs: SIGHUP reopens the log file" test -s "$E2E_DIR/rot.log"
    kill -TERM "$rpid"
    wait "$rpid"
    check "logs: the process kept running through SIGHUP and exits 0" test $? = 0
fi

start_stack

# 1. One chat end to end: the prompt makes the client receive the
#    client_action push, run the configured action, and get the answer.
out=$E2E_DIR/connect.out
client --session e2e-connect --prompt "Help me connect to my VPN" --timeout-ms 20000 >"$out"
rc=$?
check "connect: client exits 0 after the answer" test "$rc" = 0
check "connect: client_action pushed, saying the chat asked" has "$out" '"event":"client_action","data":{"action":"run_client_command","command":"connect_vpn","requested_by":"chat"}'
check "connect: chat_response received" has "$out" '"event":"chat_response"'
check "connect: the answer says it was sent, not that it is done" has "$out" 'It has not reported the outcome yet'
check "connect: the configured action ran" wait_for 5 "action log" grep -q connect_vpn "$E2E_DIR/actions.log"
check "connect: every server event carries an id" sh -c "grep '\"event\":\"client_action\"' '$out' | grep -q '^{\"id\":\"[0-9]*-[0-9]*\"'"

if [ -z "$EXTERNAL" ]; then
    trace=$(grep 'event=chat .*session=e2e-connect' "$E2E_DIR/gw.log" | head -1 | sed 's/.*trace=\([^ ]*\).*/\1/')
    follows() { grep -q "trace=$trace" "$E2E_DIR/agent.log" && grep -q "event=push .*trace=$trace" "$E2E_DIR/tool.log" && grep -q "event=push .*trace=$trace.*kind=chat_response" "$E2E_DIR/agent.log"; }
    check "logs: one trace id follows the conversation through every program" follows
fi

# 2. A tool that waits for the desktop (a durable callback).
out=$E2E_DIR/status.out
client --session e2e-status --prompt "What's my VPN status?" --timeout-ms 20000 >"$out"
check "status: answered" test $? = 0
check "status: status request pushed with a callback id" has "$out" '"action":"get_vpn_status","requested_by":"chat","callback_id":"cb-'
check "status: progress event" has "$out" '"event":"progress"'
check "status: answer says connected" has "$out" 'Your VPN is currently connected.'

# 3. Logs collected on the client and analyzed.
out=$E2E_DIR/logs.out
client --session e2e-logs --prompt "My VPN keeps dropping, check the logs" --timeout-ms 20000 >"$out"
check "logs: answered" test $? = 0
check "logs: request_logs pushed" has "$out" '"action":"request_logs","log_type":"vpn"'
check "logs: certificate finding" has "$out" 'Certificate problems'
check "logs: timeout finding" has "$out" 'Timeouts / dead peer detection'

# 3b. The original client's whole conversation, its messages verbatim, from
# an independent WebSocket library (python3-websockets).
if /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    if [ -n "$EXTERNAL" ]; then ourl="ws://$AA_E2E_GATEWAY/ws"; else ourl="ws://127.0.0.1:$PORT/ws"; fi
    /usr/bin/python3 "$ROOT/tests/conformance/original_client.py" "$ourl" "$(mint --sub original --ttl-s 600)" \
        >"$E2E_DIR/original.out" 2>&1
    grep -E '^(not ok|#)' "$E2E_DIR/original.out"
    line=$(grep -E '^original: ' "$E2E_DIR/original.out")
    [ -n "$line" ] || not_ok "the original client's conversation ran"
    PASSED=$((PASSED + $(echo "${line:-original: 0 passed}" | sed -E 's/original: ([0-9]+) passed.*/\1/')))
    FAILED=$((FAILED + $(echo "${line:-, 0 failed}" | sed -E 's/.* ([0-9]+) failed/\1/')))
else
    not_ok "python3-websockets is installed (ops/deps.sh --test)"
fi

# 4. Bad input gets an error event and the connection stays usable.
out=$E2E_DIR/bad.out
printf '%s\n' '{not json' '{"action":"dance"}' '{"action":"chat","prompt":""}' \
    '{"action":"chat","prompt":"hi","session_id":"someone-else"}' \
    '{"action":"async_callback","callback_id":"cb-doesnotexist","content":"x"}' \
    '{"action":"ping"}' | client --session e2e-bad >"$out"
check "bad input: client exits 0" test $? = 0
check "bad input: not JSON refused" has "$out" '"code":"invalid_json"'
check "bad input: unknown action refused" has "$out" '"code":"unknown_action"'
check "bad input: empty prompt refused" has "$out" '"code":"invalid_prompt"'
check "bad input: other session refused" has "$out" '"code":"forbidden_session"'
check "bad input: unknown callback refused" has "$out" '"code":"callback_not_found"'
check "bad input: still answers ping" has "$out" '"event":"pong"'

# 5. A callback id of another session cannot be completed.
rcli HSET "$(key cb cb-foreign)" session other-session status pending next_deadline_ms 99999999999999 >/dev/null
out=$E2E_DIR/foreign.out
printf '%s\n' '{"action":"async_callback","callback_id":"cb-foreign","content":"connected"}' |
    client --session e2e-thief >"$out"
check "isolation: foreign callback reported as not found" has "$out" '"code":"callback_not_found"'
check "isolation: foreign callback unchanged" test "$(rcli HGET "$(key cb cb-foreign)" status)" = pending

# 6. Turns on one session are answered in order.
out=$E2E_DIR/order.out
printf '%s\n' "What's my VPN status?" "Help me connect to my VPN" | client --session e2e-order >"$out"
check "order: both answered" test "$(grep -c '"event":"chat_response"' "$out")" = 2
check "order: first answer first" sh -c "grep '\"event\":\"chat_response\"' '$out' | head -1 | grep -q 'currently connected'"

# 7. Authentication before the upgrade, and the REST callback API.
if [ -n "$EXTERNAL" ]; then :; else
tok=$(mint --sub e2e --scope client --ttl-s 60)
check "auth: no token gets 401" test "$(ws_upgrade "$PORT" session_id=a1)" = 401
check "auth: valid token gets 101" test "$(ws_upgrade "$PORT" session_id=a1 "Authorization: Bearer $tok")" = 101
check "auth: token as query parameter" test "$(ws_upgrade "$PORT" "session_id=a1&access_token=$tok")" = 101
other=$(AA_TOKEN_SECRET=another-secret-another-secret-0000 mint --sub e2e)
check "auth: wrong signature gets 401" test "$(ws_upgrade "$PORT" session_id=a1 "Authorization: Bearer $other")" = 401
check "auth: garbage token gets 401" test "$(ws_upgrade "$PORT" session_id=a1 "Authorization: Bearer a.b.c")" = 401
wrong_iss=$(mint --issuer someone-else)
check "auth: wrong issuer gets 401" test "$(ws_upgrade "$PORT" session_id=a1 "Authorization: Bearer $wrong_iss")" = 401
bound=$(mint --sub e2e --session a1)
check "auth: session-bound token, own session 101" test "$(ws_upgrade "$PORT" session_id=a1 "Authorization: Bearer $bound")" = 101
check "auth: session-bound token, other session 403" test "$(ws_upgrade "$PORT" session_id=a2 "Authorization: Bearer $bound")" = 403
short=$(mint --ttl-s 1)
check "auth: expired token gets 401" wait_for 5 "expiry" sh -c "test \"\$(bash -c '. tests/e2e/lib.sh; GW_HOST=$GW_HOST; ws_upgrade $PORT session_id=a1 \"Authorization: Bearer $short\"')\" = 401"

cbr=$(same_cell_id r1 cb-rest) # in r1's cell, as the runtime makes them
rcli HSET "$(key cb "$cbr")" session r1 status pending next_deadline_ms 99999999999999 deadline_ms 99999999999999 >/dev/null
rcli SET "$(key session r1 owner)" rest-user >/dev/null
P=/2025-12-01/durable-execution-callbacks
cbtok=$(mint --sub rest-user --scope callbacks)
r1tok=$(mint --sub rest-user --scope callbacks --session r1)
r2tok=$(mint --sub rest-user --scope callbacks --session r2)
check "rest: no token 401" test "$(http_req "$PORT" POST $P/$cbr/succeed x | head -1)" = 401
check "rest: token of another session 404" test "$(http_req "$PORT" POST $P/$cbr/succeed x "Authorization: Bearer $r2tok" | head -1)" = 404
check "rest: token without the callbacks scope 403" test "$(http_req "$PORT" POST $P/$cbr/succeed x "Authorization: Bearer $(mint --sub rest-user --session r1)" | head -1)" = 403
check "rest: another subject's callback 404" test "$(http_req "$PORT" POST $P/$cbr/succeed x "Authorization: Bearer $(mint --sub ops --scope callbacks)" | head -1)" = 404
check "rest: heartbeat 200" test "$(http_req "$PORT" POST $P/$cbr/heartbeat "" "Authorization: Bearer $r1tok" | head -1)" = 200
check "rest: succeed 200" test "$(http_req "$PORT" POST $P/$cbr/succeed connected "Authorization: Bearer $r1tok" | head -1)" = 200
check "rest: result stored raw" test "$(rcli HGET "$(key cb "$cbr")" result)" = connected
check "rest: identical repeat 200" test "$(http_req "$PORT" POST $P/$cbr/succeed connected "Authorization: Bearer $cbtok" | head -1)" = 200
check "rest: different outcome 409" test "$(http_req "$PORT" POST $P/$cbr/fail '{"ErrorType":"X","ErrorMessage":"y"}' "Authorization: Bearer $cbtok" | head -1)" = 409
check "rest: unknown callback 404" test "$(http_req "$PORT" POST $P/cb-nope/succeed x "Authorization: Bearer $cbtok" | head -1)" = 404
check "rest: bad fail body 400" test "$(http_req "$PORT" POST $P/$cbr/fail 'nope' "Authorization: Bearer $cbtok" | head -1)" = 400
check "rest: bad id 400" test "$(http_req "$PORT" POST "$P/cb%20x/succeed" x "Authorization: Bearer $cbtok" | head -1)" = 400
check "rest: GET 405" test "$(http_req "$PORT" GET $P/$cbr/succeed "" "Authorization: Bearer $cbtok" | head -1)" = 405
check "rest: unknown operation 404" test "$(http_req "$PORT" POST $P/$cbr/explode x "Authorization: Bearer $cbtok" | head -1)" = 404
fi

# 8. Metrics: the gateway's and the workers' Prometheus endpoints.
if [ -z "$EXTERNAL" ]; then
    tport=$(grep -o 'event=metrics_listening addr=[0-9.]* port=[0-9]*' "$E2E_DIR/tool.log" | tail -1 | sed 's/.*port=//')
    aport=$(grep -o 'event=metrics_listening addr=[0-9.]* port=[0-9]*' "$E2E_DIR/agent.log" | tail -1 | sed 's/.*port=//')
    http_get "$tport" /metrics >"$E2E_DIR/tool.metrics" 2>/dev/null
    http_get "$aport" /metrics >"$E2E_DIR/agent.metrics" 2>/dev/null
    http_get "$PORT" /metrics >"$E2E_DIR/gw.metrics" 2>/dev/null
    check "metrics: tool jobs counted" grep -qE '^aa_jobs_total\{stream="aa:stream:tool",outcome="succeeded"\} [1-9]' "$E2E_DIR/tool.metrics"
    check "metrics: resumes by notification" grep -qE '^aa_resumes_total\{cause="notification"\} [1-9]' "$E2E_DIR/tool.metrics"
    check "metrics: callback round-trip histogram" grep -qE '^aa_callback_roundtrip_seconds_count\{stream="aa:stream:tool"\} [1-9]' "$E2E_DIR/tool.metrics"
    check "metrics: stream lag gauge" grep -q '^aa_stream_lag{stream="aa:stream:tool"} 0' "$E2E_DIR/tool.metrics"
    check "metrics: model calls" grep -qE '^aa_model_calls_total [1-9]' "$E2E_DIR/agent.metrics"
    check "metrics: gateway push latency histogram" grep -qE '^aa_gateway_push_latency_seconds_count [1-9]' "$E2E_DIR/gw.metrics"
    # a request that comes in two pieces is answered once it is whole
    pieces() {
        exec 3<>"/dev/tcp/127.0.0.1/$1"
        printf 'GET /metrics HTTP/1.1\r\n' >&3
        sleep 0.1
        printf 'Host: 127.0.0.1\r\n\r\n' >&3
        head -1 <&3
    }
    check "metrics: a request in two pieces gets 200" \
        test "$( (pieces "$tport") 2>/dev/null | tr -d '\r')" = "HTTP/1.1 200 OK"
fi

# 9. Inspection with redis-cli: connections and executions are readable.
turn_recorded() { scan_keys 'aa:exec:turn-*' | grep -q .; }
check "inspect: finished turn recorded" turn_recorded
check "inspect: no connection left for ended clients" test "$(rcli SCARD "$(key session e2e-connect conns)")" = 0

# 9b. On a cluster: the records of a few hundred sessions are spread over
#     every master (a session's cell is a hash of its id).
if [ -n "${AA_E2E_CLUSTER:-}" ]; then
    spids=()
    for i in $(seq 1 200); do
        client --session "spread-$i" --prompt "What's my VPN status?" --timeout-ms 20000 \
            >/dev/null 2>&1 &
        spids+=("$!")
        if [ $((i % 25)) = 0 ]; then
            wait "${spids[@]}"
            spids=()
        fi
    done
    spread=""
    all_have=1
    for m in $(key masters); do
        n=$(redis-cli -h "${m%:*}" -p "${m##*:}" --scan --pattern '*:outbox:spread-*' | wc -l)
        spread="$spread $m=$n"
        [ "$n" -ge 20 ] || all_have=0
    done
    echo "# cluster: the outboxes of 200 sessions per master:$spread"
    check "cluster: 200 sessions' records on every master ($spread )" test "$all_have" = 1
    check "cluster: every one of the 200 answered" \
        test "$(scan_keys 'aa:outbox:spread-*' | wc -l)" = 200
    # pushes are sharded: each cell's channel is held on the master of the
    # cell, never broadcast over the cluster
    shard_channels() {
        local m
        for m in $(key masters); do
            redis-cli -h "${m%:*}" -p "${m##*:}" PUBSUB SHARDCHANNELS 'aa:{c*}:push:*'
        done
    }
    check "cluster: the gateway's push channel of each of the 16 cells, sharded" \
        test "$(shard_channels | sed -E 's/^aa:(\{c[0-9]+\}):.*/\1/' | sort -u | wc -l)" = 16
    check "cluster: no push on a classic channel" \
        test -z "$(rcli PUBSUB CHANNELS 'aa:push:*')"
    # aa-ctl cells balance moves whole live cells until every master serves
    # as many (within one); the stack follows and keeps answering
    "$BINDIR/aa-ctl" cells balance --redis "${REDIS:-${AA_E2E_REDIS:-}}" >"$E2E_DIR/balance.out" 2>&1
    check "cluster: aa-ctl cells balance" grep -qE '^cells balance: moved [0-9]+; 16 cells on 3 masters, 5 to 6 each$' "$E2E_DIR/balance.out"
    bpids=()
    for i in $(seq 1 20); do
        client --session "spread-$i" --prompt "What's my VPN status?" --timeout-ms 20000 \
            >"$E2E_DIR/after-balance-$i.out" 2>&1 &
        bpids+=("$!")
    done
    answered=0
    for i in $(seq 1 20); do
        wait "${bpids[$((i - 1))]}" && has "$E2E_DIR/after-balance-$i.out" "currently connected" &&
            answered=$((answered + 1))
    done
    check "cluster: after the balance, 20 of 20 sessions answered ($answered)" test "$answered" = 20
fi

# 10. Every program stops cleanly on SIGTERM, with no sanitizer report.
check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs

echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

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
fi

start_stack

# 1. One chat end to end: the prompt makes the client receive the
#    client_action push, run the configured action, and get the answer.
out=$E2E_DIR/connect.out
client --session e2e-connect --prompt "Help me connect to my VPN" --timeout-ms 20000 >"$out"
rc=$?
check "connect: client exits 0 after the answer" test "$rc" = 0
check "connect: client_action pushed" has "$out" '"event":"client_action","data":{"action":"run_client_command","command":"connect_vpn"}'
check "connect: chat_response received" has "$out" '"event":"chat_response"'
check "connect: answer mentions the VPN" has "$out" 'connect to the VPN'
check "connect: the configured action ran" wait_for 5 "action log" grep -q connect_vpn "$E2E_DIR/actions.log"
check "connect: every server event carries an id" sh -c "grep '\"event\":\"client_action\"' '$out' | grep -q '^{\"id\":\"[0-9]*-[0-9]*\"'"

# 2. A tool that waits for the desktop (a durable callback).
out=$E2E_DIR/status.out
client --session e2e-status --prompt "What's my VPN status?" --timeout-ms 20000 >"$out"
check "status: answered" test $? = 0
check "status: status request pushed with a callback id" has "$out" '"action":"get_vpn_status","callback_id":"cb-'
check "status: progress event" has "$out" '"event":"progress"'
check "status: answer says connected" has "$out" 'Your VPN is currently connected.'

# 3. Logs collected on the client and analyzed.
out=$E2E_DIR/logs.out
client --session e2e-logs --prompt "My VPN keeps dropping, check the logs" --timeout-ms 20000 >"$out"
check "logs: answered" test $? = 0
check "logs: request_logs pushed" has "$out" '"action":"request_logs","log_type":"vpn"'
check "logs: certificate finding" has "$out" 'Certificate problems'
check "logs: timeout finding" has "$out" 'Timeouts / dead peer detection'

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
rcli HSET aa:cb:cb-foreign session other-session status pending next_deadline_ms 99999999999999 >/dev/null
out=$E2E_DIR/foreign.out
printf '%s\n' '{"action":"async_callback","callback_id":"cb-foreign","content":"connected"}' |
    client --session e2e-thief >"$out"
check "isolation: foreign callback reported as not found" has "$out" '"code":"callback_not_found"'
check "isolation: foreign callback unchanged" test "$(rcli HGET aa:cb:cb-foreign status)" = pending

# 6. Turns on one session are answered in order.
out=$E2E_DIR/order.out
printf '%s\n' "What's my VPN status?" "Help me connect to my VPN" | client --session e2e-order >"$out"
check "order: both answered" test "$(grep -c '"event":"chat_response"' "$out")" = 2
check "order: first answer first" sh -c "grep '\"event\":\"chat_response\"' '$out' | head -1 | grep -q 'currently connected'"

# 7. Inspection with redis-cli: connections and executions are readable.
check "inspect: finished turn recorded" sh -c "$(declare -f rcli); EXTERNAL='$EXTERNAL' AA_E2E_REDIS='${AA_E2E_REDIS:-}' REDIS_SOCK='${REDIS_SOCK:-}'; rcli --scan --pattern 'aa:exec:turn-*' | grep -q ."
check "inspect: no connection left for ended clients" test "$(rcli SCARD aa:session:e2e-connect:conns)" = 0

# 8. Every program stops cleanly on SIGTERM, with no sanitizer report.
check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs

echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

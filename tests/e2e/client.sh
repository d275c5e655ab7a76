#!/usr/bin/env bash
# client.sh -- the desktop client against real processes: the gateway killed
# and restarted in the middle of a conversation (every answer arrives once),
# an unconfigured action refused, a hanging command timed out and reported,
# a failing command reported, the configuration file.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
start_redis
start_gateway gw
start_agent
start_tool
wait_for 10 "worker groups" groups_ready
pending_callbacks() { test "$(sum_cells ZCARD aa:cb:deadlines)" -ge 1; }

# 1. The gateway is killed (-9) while the client's answer is being prepared,
#    then restarted on the same port: the client reconnects, resumes after
#    its last event id, its answer is recorded, and the reply arrives once.
out=$E2E_DIR/restart.out
client --session c-restart --prompt "What's my VPN status?" --timeout-ms 30000 \
    --cmd-vpn-status "$FIXTURES/slow_status.sh 2" >"$out" 2>"$E2E_DIR/restart.err" &
cpid=$!
wait_for 10 "a suspended tool call" pending_callbacks
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
forget "$GW_PID"
port=$PORT
start_gateway gw --port "$port"
wait "$cpid"
check "gateway restart: answered" test $? = 0
check "gateway restart: reconnected" test "$(grep -c 'event=conn_open.*session=c-restart' "$E2E_DIR/gw.log")" -ge 2
check "gateway restart: one status request" test "$(count "$out" '"action":"get_vpn_status"')" = 1
check "gateway restart: one answer" test "$(count "$out" '"event":"chat_response"')" = 1
check "gateway restart: says connected" has "$out" "currently connected"

# 2. An action this client has no command for is refused, with a reason.
out=$E2E_DIR/unconfigured.out
client --session c-unconf --prompt "check my network logs" --cmd-logs-network "" >"$out"
check "unconfigured: answered" test $? = 0
check "unconfigured: refused by the client" has "$out" "not configured on the client"

# 3. A command that hangs is stopped at its time limit and reported.
out=$E2E_DIR/hang.out
start=$SECONDS
client --session c-hang --prompt "What's my VPN status?" --cmd-vpn-status "sleep 30" \
    --action-timeout-ms 500 >"$out"
check "hanging command: answered" test $? = 0
check "hanging command: reported as timed out" has "$out" "timed out after"
check "hanging command: within seconds" test $((SECONDS - start)) -le 10

# 4. A failing command answers with a failure and its exit status.
out=$E2E_DIR/fail.out
client --session c-fail --prompt "What's my VPN status?" --cmd-vpn-status "false" >"$out"
check "failing command: reported with its exit status" has "$out" "exit status 1"

# 5. The configuration file (name = value, as the flags).
mkdir -p "$E2E_DIR/xdg/agent-async"
cat >"$E2E_DIR/xdg/agent-async/client.conf" <<CONF
# written by the test
url = ws://127.0.0.1:$PORT/ws
token = $(mint --sub conf --ttl-s 600)
session = c-conf
cmd-vpn-status = $FIXTURES/vpn_status.sh
CONF
out=$E2E_DIR/conf.out
XDG_CONFIG_HOME=$E2E_DIR/xdg timeout 30 "$BINDIR/aa-client" --json --quiet \
    --prompt "What's my VPN status?" >"$out"
check "config file: used" has "$out" "currently connected"
printf 'bogus = 1\n' >"$E2E_DIR/bad.conf"
"$BINDIR/aa-client" --config "$E2E_DIR/bad.conf" --prompt x 2>"$E2E_DIR/conf.err"
check "config file: unknown setting refused with 2" test $? = 2
check "config file: names the line" grep -q "bad.conf:1: unknown setting 'bogus'" "$E2E_DIR/conf.err"

# 6. The session id is kept between runs when none is given.
state=$E2E_DIR/state/session
client --state-file "$state" --prompt "hello" >/dev/null
first=$(cat "$state")
client --state-file "$state" --prompt "hello" >"$E2E_DIR/second.out"
check "session: kept between runs" test -n "$first" -a "$(cat "$state")" = "$first"
check "session: second run used it" test "$(rcli SCARD "$(key session $first conns)")" = 0

# 7. wss:// to a gateway with a certificate, verified with --ca-file.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$E2E_DIR/key.pem" -out "$E2E_DIR/cert.pem" \
    -days 1 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
"$BINDIR/aa-gateway" --port 0 --port-file "$E2E_DIR/tls.port" --redis "$REDIS" --node gwtls \
    --tls-cert "$E2E_DIR/cert.pem" --tls-key "$E2E_DIR/key.pem" 2>>"$E2E_DIR/gwtls.log" &
PIDS+=("$!")
wait_for 10 "the TLS gateway" test -s "$E2E_DIR/tls.port"
tport=$(cat "$E2E_DIR/tls.port")
out=$E2E_DIR/tls.out
wait_for 10 "TLS handshake" sh -c "openssl s_client -connect 127.0.0.1:$tport -CAfile '$E2E_DIR/cert.pem' </dev/null 2>/dev/null | grep -q 'Verify return code: 0'"
client --url "wss://localhost:$tport/ws" --ca-file "$E2E_DIR/cert.pem" --session c-tls \
    --prompt "What's my VPN status?" >"$out"
check "wss: answered over TLS with a verified certificate" has "$out" "currently connected"
out=$E2E_DIR/tls-untrusted.out
client --url "wss://localhost:$tport/ws" --session c-tls2 --prompt "hi" --timeout-ms 3000 >"$out" 2>&1
check "wss: an untrusted certificate is refused" test $? != 0
meta() {
    printf 'GET /.well-known/oauth-protected-resource HTTP/1.1\r\nHost: localhost:%s\r\nConnection: close\r\n\r\n' "$tport" |
        openssl s_client -quiet -connect "127.0.0.1:$tport" 2>/dev/null
}
check "https: the OAuth metadata names https:// URLs under TLS" sh -c "$(declare -f meta); tport=$tport; meta | grep -q '\"resource\":\"https://localhost:$tport/mcp\"'"

# 8. On a terminal, typed at as a person types: a 5 KB line then short ones,
#    each answered without typing the next; connect asked about inline
#    (denied, then allowed); lines typed with /quit all sent before it leaves.
TTY_TOKEN=$(mint --sub tty --scope client --ttl-s 600)
mkdir -p "$E2E_DIR/xdg-tty"
XDG_CONFIG_HOME=$E2E_DIR/xdg-tty timeout 120 /usr/bin/python3 "$ROOT/tests/conformance/client_tty.py" \
    "$E2E_DIR/gw.log" -- "$BINDIR/aa-client" --url "ws://127.0.0.1:$PORT/ws" --token "$TTY_TOKEN" \
    --session c-tty --cmd-vpn-status "$FIXTURES/vpn_status.sh" \
    --cmd-connect-vpn "$FIXTURES/action.sh connect_vpn $E2E_DIR/tty-actions.log" >"$E2E_DIR/tty.out" 2>&1
rc=$?
grep -E '^(not )?ok' "$E2E_DIR/tty.out" | sed 's/^/#   /'
check "terminal: typed lines sent at once, approval inline, /quit sends what was typed" test $rc = 0

# 9. A command that cannot start: the reason reaches the screen, the agent
#    (the client's report starts a turn) and the user, never "exit 0".
out=$E2E_DIR/nostart.out
(echo "connect my vpn"; sleep 30) | timeout 40 "$BINDIR/aa-client" --url "ws://127.0.0.1:$PORT/ws" \
    --token "$(mint --sub nostart --scope client --ttl-s 600)" --session c-nostart --json \
    --approve-changes allow --cmd-connect-vpn "nmcli-not-here connection up id vpn" \
    >"$out" 2>"$E2E_DIR/nostart.err" &
npid=$!
wait_for 20 "the answer to the client's report" grep -q "Your computer reports a problem" "$out"
kill "$npid" 2>/dev/null; wait "$npid" 2>/dev/null
check "cannot start: the screen says why" has "$E2E_DIR/nostart.err" "connect the VPN: failed: could not start nmcli-not-here: not found"
check "cannot start: never reported as exit 0" sh -c "! grep -q 'exit 0' '$E2E_DIR/nostart.err'"
check "cannot start: the agent is told, and tells the user" has "$out" "connect_vpn (connect the VPN) failed on this computer: could not start nmcli-not-here: not found"

# 10. A headless client has no one to ask: a change is denied, and said so.
out=$E2E_DIR/headless.out
(echo "disconnect my vpn"; sleep 30) | timeout 40 "$BINDIR/aa-client" --url "ws://127.0.0.1:$PORT/ws" \
    --token "$(mint --sub headless --scope client --ttl-s 600)" --session c-headless --json \
    --cmd-disconnect-vpn "$FIXTURES/action.sh disconnect_vpn $E2E_DIR/headless-actions.log" \
    >"$out" 2>"$E2E_DIR/headless.err" &
hpid=$!
wait_for 20 "the answer to the denial" grep -q "did not run on this computer: no one was there to approve it" "$out"
kill "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null
check "headless: the change is denied and the agent says so" has "$out" "Understood: disconnect_vpn (disconnect the VPN) did not run"
check "headless: nothing ran" test ! -e "$E2E_DIR/headless-actions.log"

# 10b. A reading action under approve-reads = ask, with no one to ask: the
#      callback is answered as denied_by_user and the agent says so.
out=$E2E_DIR/readdeny.out
client --session c-readdeny --prompt "What's my VPN status?" --approve-reads ask >"$out"
check "read denied: answered" test $? = 0
check "read denied: the agent says the computer did not check" has "$out" "did not check the VPN status: no one was there to approve it"

# 11. Log collection: a failing command does not lose what the others
#     collected; what failed is marked and named once on the screen.
out=$E2E_DIR/partial.out
client --quiet=false --session c-partial --prompt "check my vpn logs" \
    --cmd-logs-vpn "$FIXTURES/logs_vpn.sh; no-such-collector --all; false" >"$out" 2>"$E2E_DIR/partial.err"
check "partial logs: answered" test $? = 0
check "partial logs: collected, with the failures named" grep -q "collect the vpn logs: sent [0-9]* bytes; 2 of 3 commands failed: could not start no-such-collector: not found; exit status 1 (false)" "$E2E_DIR/partial.err"
check "partial logs: analysed, not failed" sh -c "! grep -q 'could not collect' '$out'"
cb_result() { for k in $(scan_keys 'aa:cb:cb-*'); do
    [ "$(rcli --raw HGET "$k" session)" = "$1" ] && rcli --raw HGET "$k" result; done; }
cb_result c-partial >"$E2E_DIR/partial.result"
check "partial logs: the collected output reached the tool" grep -q '^\$ .*logs_vpn.sh' "$E2E_DIR/partial.result"
check "partial logs: the failures are marked in it" grep -q 'could not start no-such-collector: not found' "$E2E_DIR/partial.result"

# 12. An operator completes the callback first: said once, in words, and the
#     client's heartbeats and answer stop.
out=$E2E_DIR/conflict.out
client --quiet=false --session c-conflict --prompt "What's my VPN status?" --heartbeat-ms 200 \
    --cmd-vpn-status "$FIXTURES/slow_status.sh 3" >"$out" 2>"$E2E_DIR/conflict.err" &
cpid=$!
cb_of() { rcli --raw ZRANGE "$(key in c-conflict aa:cb:deadlines)" 0 -1 | while read -r id; do
    [ "$(rcli --raw HGET "$(key cb "$id")" session)" = c-conflict ] && echo "$id"; done | head -1; }
has_cb() { test -n "$(cb_of)"; }
wait_for 10 "the callback of c-conflict" has_cb
cb=$(cb_of)
"$BINDIR/aa-ctl" complete "$cb" succeed '{"status":"connected"}' --redis "$REDIS" >/dev/null
wait "$cpid"
check "conflict: said once, in words" test "$(grep -c 'was already answered from elsewhere' "$E2E_DIR/conflict.err")" = 1
check "conflict: no raw error code on the screen" sh -c "! grep -q 'callback_conflict' '$E2E_DIR/conflict.err'"

# 13. The sample configuration of each platform is read without error, and
#     the client says at start which commands it runs.
for f in "$ROOT"/docs/client/*.conf; do
    check "sample configuration $(basename "$f") is valid" sh -c "'$BINDIR/aa-client' --config '$f' --help >/dev/null"
done
check "start banner: the commands in use are named" grep -q "actions: 1 of 6 commands from flags or AA_\* variables, the others from the Linux defaults: the NetworkManager connection named 'vpn'" "$E2E_DIR/nostart.err"
check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

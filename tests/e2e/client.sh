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
count() { grep -c -- "$2" "$1" || true; }
pending_callbacks() { test "$(rcli ZCARD aa:cb:deadlines)" -ge 1; }

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
check "hanging command: reported as timed out" has "$out" "did not finish in time"
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
check "session: second run used it" test "$(rcli SCARD "aa:session:$first:conns")" = 0

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

check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

#!/usr/bin/env bash
# catalog.sh -- tools added without recompiling: the tool worker's
# --tool-catalog file (tests/e2e/fixtures/catalog.json: a callback tool and a
# fire-and-forget one) published in Redis, offered by the agent to its model
# (the stand-in provider calls flush_dns only when the request offers it) and
# listed and called through MCP; on the desktop, actions declared in the
# client's configuration file (action.NAME = ...) run them, asked about
# first when they change the machine. Bad catalogs and declarations are
# refused at start with the line or entry that is wrong.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# Refused at start: each bad catalog names what is wrong, exit 2.
bad_catalog() { # json expected-text
    printf '%s' "$1" >"$E2E_DIR/bad.json"
    "$BINDIR/aa-tool-worker" --redis "unix:/nonexistent" --tool-catalog "$E2E_DIR/bad.json" \
        2>"$E2E_DIR/bad.err"
    local rc=$?
    [ $rc = 2 ] && grep -qF -- "$2" "$E2E_DIR/bad.err"
}
check "catalog: not an array" bad_catalog '{"name":"x"}' 'must be a JSON array'
check "catalog: a built-in name" bad_catalog '[{"name":"get_vpn_status","description":"x","mode":"push"}]' 'get_vpn_status is a built-in tool'
check "catalog: a bad mode" bad_catalog '[{"name":"x","description":"d","mode":"sometimes"}]' '"mode" must be "push" or "callback"'
check "catalog: an unknown field" bad_catalog '[{"name":"x","description":"d","mode":"push","command":"rm -rf /"}]' 'unknown field "command"'
check "catalog: twice the same name" bad_catalog '[{"name":"x","description":"d","mode":"push"},{"name":"x","description":"d","mode":"push"}]' 'x is listed twice'
check "catalog: bad JSON names the line" bad_catalog $'[\n{"name":}]' 'bad.json:2:'

start_redis
start_gateway gw --mcp-clients "agent-1:s3cret-value::desk"
start_tool --tool-catalog "$FIXTURES/catalog.json"
published() { rcli --raw GET aa:tools:catalog | grep -q flush_dns; }
check "catalog: published in Redis" wait_for 10 "the catalog" published

# The desktop: the two actions declared in its configuration file.
mkdir -p "$E2E_DIR/xdg/agent-async"
cat >"$E2E_DIR/xdg/agent-async/client.conf" <<CONF
action.flush_dns = $FIXTURES/action.sh flush_dns $E2E_DIR/actions.log
action.flush_dns.title = flush the DNS cache
action.flush_dns.changes = false
action.restart_agent = $FIXTURES/action.sh restart_agent $E2E_DIR/actions.log
action.restart_agent.title = restart the VPN agent
CONF
(sleep 90 | XDG_CONFIG_HOME=$E2E_DIR/xdg timeout 120 "$BINDIR/aa-client" --url "ws://127.0.0.1:$PORT/ws" \
    --json --token "$(mint --sub desk --ttl-s 600)" --session cat-desk --approve-changes allow \
    >"$E2E_DIR/desk.out" 2>"$E2E_DIR/desk.err") >/dev/null 2>&1 &
DESK=$! # a subshell: its sleep and timeout go at the end (pkill -P)
one_conn() { test "$(rcli SCARD "$(key session cat-desk conns)")" = 1; }
wait_for 10 "the desktop client" one_conn
check "client: says which actions are declared" grep -q 'declared actions: flush_dns restart_agent' "$E2E_DIR/desk.err"

# MCP: listed with their annotations, and called.
BASE=http://127.0.0.1:$PORT
TOK=$(curl -s -u agent-1:s3cret-value -d grant_type=client_credentials "$BASE/oauth2/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
SID=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \
    "$BASE/mcp" | tr -d '\r' | sed -n 's/^Mcp-Session-Id: //Ip')
says() { printf '%s' "$1" | grep -qF -- "$2"; }
rpc() { curl -s -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $SID" -d "$1" "$BASE/mcp"; }
listed() { rpc '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' >"$E2E_DIR/list.json"; grep -q flush_dns "$E2E_DIR/list.json"; }
check "mcp: the catalog's tools are listed" wait_for 15 "tools/list with the catalog" listed
tool_field() { # name python-expression-on-tool
    $PY -c "import json,sys; d=json.load(open('$E2E_DIR/list.json')); t=[t for t in d['result']['tools'] if t['name']=='$1'][0]; print($2)"
}
check "mcp: the three built-in tools are still listed" test "$($PY -c "import json; d=json.load(open('$E2E_DIR/list.json')); print(sorted(t['name'] for t in d['result']['tools']))")" = "['analyze_logs', 'flush_dns', 'get_vpn_status', 'restart_agent_tool', 'run_client_command']"
check "mcp: a reading tool is readOnly and may run as a task" test "$(tool_field flush_dns "t['annotations']['readOnlyHint'], t['execution']['taskSupport'], t['title']")" = "True optional Flush the DNS cache"
check "mcp: a fire-and-forget tool changes the machine, no task" test "$(tool_field restart_agent_tool "t['annotations']['readOnlyHint'], t['execution']['taskSupport']")" = "False forbidden"
check "mcp: its schema needs the session" test "$(tool_field flush_dns "t['inputSchema']['required']")" = "['session_id']"

out=$(rpc '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"flush_dns","arguments":{"session_id":"cat-desk"}}}')
check "mcp: a callback tool runs the declared action and returns its output" says "$out" 'flush_dns done'

check "client: it knew the MCP client asked" grep -q '"action":"run_action","name":"flush_dns","requested_by":"mcp:agent-1"' "$E2E_DIR/desk.out"
out=$(rpc '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"restart_agent_tool","arguments":{"session_id":"cat-desk"}}}')
check "mcp: a fire-and-forget tool is sent" says "$out" sent_to_client
ran() { grep -q "^$1 " "$E2E_DIR/actions.log" 2>/dev/null; }
check "client: the declared fire-and-forget action ran" wait_for 10 "restart_agent" ran restart_agent
out=$(rpc '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"flush_dns","arguments":{"command":"connect_vpn","session_id":"cat-desk"}}}')
check "mcp: a catalog tool does not take a built-in's arguments" says "$out" 'do not fit the tool'

# The agent offers the catalog to its model: the stand-in provider calls
# flush_dns only when the request lists it.
FAKE_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$PY "$ROOT/tests/fakes/llm.py" "$FAKE_PORT" "$E2E_DIR/llm.jsonl" 2>>"$E2E_DIR/llm.err" &
FAKE_PID=$!
wait_for 10 "the fake provider" bash -c "exec 3<>/dev/tcp/127.0.0.1/$FAKE_PORT"
OPENAI_API_KEY=sk-test OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1 start_agent --llm-provider openai
wait_for 10 "worker groups" groups_ready
check "agent: reads the catalog" wait_for 10 "the agent's catalog" grep -q 'event=tool_catalog tools=5' "$E2E_DIR/agent.log"
out=$E2E_DIR/chat.out
timeout 60 "$BINDIR/aa-client" --url "ws://127.0.0.1:$PORT/ws" --json --quiet \
    --token "$(mint --sub chatter --ttl-s 600)" --session cat-chat --prompt "please flush my dns" \
    --cmd-vpn-status "$FIXTURES/vpn_status.sh" \
    --config "$E2E_DIR/xdg/agent-async/client.conf" >"$out" 2>&1
check "agent: the model was offered the catalog's tools" grep -q '"name": "flush_dns"' "$E2E_DIR/llm.jsonl"
check "agent: the model called one, the desktop ran it, the answer used its output" grep -q 'Model read the output: flush_dns done' "$out"
check "agent: the desktop was told the chat asked" grep -q '"action":"run_action","name":"flush_dns","requested_by":"chat"' "$out"

# Declared actions: mistakes are refused at start, naming the line.
bad_decl() { # line expected
    printf '%s\n' "$1" >"$E2E_DIR/bad.conf"
    "$BINDIR/aa-client" --config "$E2E_DIR/bad.conf" --prompt x 2>"$E2E_DIR/bad.err"
    [ $? = 2 ] && grep -qF -- "$2" "$E2E_DIR/bad.err"
}
check "declare: a built-in name" bad_decl 'action.connect_vpn = true' 'connect_vpn is built in'
check "declare: a bad name" bad_decl 'action.a/b = true' "an action's name is 1-31"
check "declare: an unknown field" bad_decl 'action.x.shell = sh' 'an action has a command, title, changes'
check "declare: changes must be a boolean" bad_decl 'action.x.changes = maybe' 'must be true or false'
check "declare: no command" bad_decl 'action.x.title = X' 'action.x has no command'
check "declare: names the line" bad_decl 'action.x.timeout-ms = 5' 'bad.conf:1:'

kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null
pkill -TERM -P "$DESK"
wait "$DESK" 2>/dev/null
check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

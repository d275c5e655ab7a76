#!/usr/bin/env bash
# providers.sh -- the agent with each real provider's wire format against a
# scripted stand-in server (tests/fakes/llm.py): Anthropic Messages, OpenAI
# chat completions, Bedrock Converse with SigV4. Asserts the requests (headers,
# SigV4 Authorization shape, tool schemas, tool-result pairing), retries on
# 429 with Retry-After, refusals and malformed replies surfaced to the user,
# and a worker killed mid-turn without repeating a recorded model call.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
start_redis
start_gateway gw
start_tool
PY=python3
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_fake() { # name [env...]
    local name=$1
    shift
    FAKE_PORT=$(free_port)
    env "$@" $PY "$ROOT/tests/fakes/llm.py" "$FAKE_PORT" "$E2E_DIR/$name.jsonl" \
        2>>"$E2E_DIR/$name.err" &
    FAKE_PID=$!
    PIDS+=("$FAKE_PID")
    wait_for 10 "the fake provider" bash -c "exec 3<>/dev/tcp/127.0.0.1/$FAKE_PORT"
}

agent_for() { # provider
    case $1 in
    anthropic) start_agent --llm-provider anthropic --claim-idle-ms 1000 --lease-ms 2000 ;;
    openai) start_agent --llm-provider openai --claim-idle-ms 1000 --lease-ms 2000 ;;
    bedrock) start_agent --llm-provider bedrock --claim-idle-ms 1000 --lease-ms 2000 ;;
    esac
}

stop_agent_and_fake() {
    kill "$AGENT_PID" "$FAKE_PID"
    wait "$AGENT_PID" "$FAKE_PID" 2>/dev/null
    forget "$AGENT_PID"
    forget "$FAKE_PID"
}

# jsonl FILE PYTHON-EXPR: true when the expression holds for the request log
# (r = list of requests).
jsonl() { $PY -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(0 if ($2) else 1)" "$1"; }

# The stand-in's answers read by the vendors' own SDKs (npm @anthropic-ai/sdk,
# openai): if the stand-in misread a wire format, they would refuse it.
if [ -d "$ROOT/tests/node_modules/@anthropic-ai/sdk" ] && [ -d "$ROOT/tests/node_modules/openai" ]; then
    (cd "$ROOT/tests" && node sdk/responses.mjs "$PY" fakes/llm.py "$E2E_DIR") >"$E2E_DIR/sdk.out" 2>&1
    grep -E '^(not ok|#)' "$E2E_DIR/sdk.out"
    line=$(grep -E '^sdk: ' "$E2E_DIR/sdk.out")
    [ -n "$line" ] || not_ok "the SDK response check ran" "$(tail -3 "$E2E_DIR/sdk.out")"
    PASSED=$((PASSED + $(echo "${line:-sdk: 0 passed}" | sed -E 's/sdk: ([0-9]+) passed.*/\1/')))
    FAILED=$((FAILED + $(echo "${line:-, 0 failed}" | sed -E 's/.* ([0-9]+) failed/\1/')))
else
    not_ok "the vendors' SDKs are installed (cd tests && npm ci)"
fi

# Bedrock ConverseStream frames encoded by the AWS SDK's codec, read by our
# parser in a whole turn (tests/sdk/bedrock_stream.mjs).
if [ -d "$ROOT/tests/node_modules/@smithy/core" ]; then
    FAKE_PORT=$(free_port)
    (cd "$ROOT/tests" && exec node sdk/bedrock_stream.mjs "$FAKE_PORT") >"$E2E_DIR/sdkstream.log" 2>&1 &
    FAKE_PID=$!
    PIDS+=("$FAKE_PID")
    wait_for 10 "the SDK-encoded stand-in" grep -q listening "$E2E_DIR/sdkstream.log"
    AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-west-2 \
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:$FAKE_PORT agent_for bedrock
    out=$E2E_DIR/sdkstream-status.out
    client --session p-sdkstream-1 --prompt "What's my VPN status?" >"$out"
    check "bedrock: frames from the SDK's codec, cut anywhere: a tool use, then the answer" \
        has "$out" 'SDK-encoded: {\"status\":\"connected\"'
    out=$E2E_DIR/sdkstream-logs.out
    client --session p-sdkstream-2 --prompt "My VPN keeps dropping, check the logs" >"$out"
    check "bedrock: frames from the SDK's codec: the logs turn" has "$out" 'SDK-encoded: {\"status\":\"logs_received\"'
    stop_agent_and_fake
else
    not_ok "the AWS SDK's event-stream codec is installed (cd tests && npm ci)"
fi

# An Ollama-style OpenAI-compatible server: the role in every chunk, each
# tool call whole in one delta, no usage chunk.
start_fake ollama OLLAMA=1
OPENAI_API_KEY= OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1 AA_OPENAI_MODEL=llama3.1 agent_for openai
out=$E2E_DIR/ollama-status.out
client --session p-ollama-1 --prompt "What's my VPN status?" >"$out"
check "ollama-style: a tool call whole in one delta, then the streamed answer" has "$out" "Model says: status=connected"
out=$E2E_DIR/ollama-logs.out
client --session p-ollama-2 --prompt "My VPN keeps dropping, check the logs" >"$out"
check "ollama-style: the logs turn" has "$out" "Model analysis of your logs"
check "ollama-style: no key, no Authorization header" jsonl "$E2E_DIR/ollama.jsonl" "all('Authorization' not in q['headers'] for q in r)"
stop_agent_and_fake

for prov in anthropic openai bedrock; do
    start_fake "$prov"
    export ANTHROPIC_API_KEY=sk-test-secret ANTHROPIC_BASE_URL=http://127.0.0.1:$FAKE_PORT
    export OPENAI_API_KEY=sk-openai-secret OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1
    export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_SESSION_TOKEN=tok \
        AWS_REGION=us-west-2 AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:$FAKE_PORT
    agent_for "$prov"
    out=$E2E_DIR/$prov-status.out
    client --session "p-$prov-1" --prompt "What's my VPN status?" >"$out"
    check "$prov: status answered by the model" has "$out" "Model says: status=connected"
    out=$E2E_DIR/$prov-logs.out
    client --session "p-$prov-2" --prompt "My VPN keeps dropping, check the logs" >"$out"
    check "$prov: logs analyzed by the model" has "$out" "Model analysis of your logs"
    check "$prov: the model saw the log lines" has "$out" "DPD timeout"
    log=$E2E_DIR/$prov.jsonl
    check "$prov: four requests (two per turn)" jsonl "$log" "len(r) == 4"
    check "$prov: the answer streamed as chat_delta events" test "$(grep -c '"event":"chat_delta"' "$out")" -ge 2
    check "$prov: the streamed pieces make the answer" sh -c "$PY -c \"import json,sys; ev=[json.loads(l) for l in open('$out') if l.startswith('{')]; d=''.join(e['data']['text'] for e in ev if e.get('event')=='chat_delta' and e['data']['model_call']==1); a=[e for e in ev if e.get('event')=='chat_response'][0]['data']['text']; sys.exit(0 if d==a else 1)\""
    case $prov in
    anthropic)
        check "anthropic: streaming asked for" jsonl "$log" "all(q['body'].get('stream') is True for q in r)"
        check "anthropic: x-api-key and version headers" jsonl "$log" \
            "all(q['headers'].get('x-api-key') == 'sk-test-secret' and q['headers'].get('anthropic-version') == '2023-06-01' for q in r)"
        check "anthropic: three tool schemas" jsonl "$log" \
            "sorted(t['name'] for t in r[0]['body']['tools']) == ['analyze_logs','get_vpn_status','run_client_command'] and all('input_schema' in t for t in r[0]['body']['tools'])"
        check "anthropic: tool_result paired with its tool_use" jsonl "$log" \
            "r[1]['body']['messages'][1]['content'][0]['id'] == r[1]['body']['messages'][2]['content'][0]['tool_use_id'] == 'toolu_1'"
        check "anthropic: session_id never sent to the model" jsonl "$log" \
            "'session_id' not in json.dumps(r[1]['body']['messages'][1])"
        ;;
    openai)
        check "openai: streaming asked for, with usage" jsonl "$log" "all(q['body'].get('stream') is True and q['body']['stream_options']['include_usage'] for q in r)"
        check "openai: bearer key" jsonl "$log" "all(q['headers'].get('Authorization') == 'Bearer sk-openai-secret' for q in r)"
        check "openai: function tools" jsonl "$log" "all(t['type'] == 'function' and 'parameters' in t['function'] for t in r[0]['body']['tools'])"
        check "openai: tool message paired with its call" jsonl "$log" \
            "r[1]['body']['messages'][2]['tool_calls'][0]['id'] == r[1]['body']['messages'][3]['tool_call_id']"
        ;;
    bedrock)
        check "bedrock: SigV4 Authorization" jsonl "$log" \
            "all(q['headers'].get('Authorization','').startswith('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/') and '/us-west-2/bedrock/aws4_request' in q['headers']['Authorization'] and 'SignedHeaders=' in q['headers']['Authorization'] for q in r)"
        check "bedrock: session token header" jsonl "$log" "all(q['headers'].get('X-Amz-Security-Token') == 'tok' for q in r)"
        /usr/bin/python3 "$ROOT/tests/conformance/sigv4_botocore.py" "$log" AKIDEXAMPLE secret tok \
            us-west-2 "bedrock, with a session token" >"$E2E_DIR/sigv4.out" 2>&1
        check "bedrock: signed as botocore signs (session token, the default model id with ':')" \
            grep -q '^ok' "$E2E_DIR/sigv4.out"
        grep '^not ok\|^#' "$E2E_DIR/sigv4.out"
        check "bedrock: model id in the path" jsonl "$log" "r[0]['path'] == '/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream'"
        check "bedrock: toolResult paired with its toolUse" jsonl "$log" \
            "r[1]['body']['messages'][1]['content'][0]['toolUse']['toolUseId'] == r[1]['body']['messages'][2]['content'][0]['toolResult']['toolUseId']"
        ;;
    esac
    check "$prov: no API key in any log" sh -c "! grep -q -e sk-test-secret -e sk-openai-secret -e 'secret ' '$E2E_DIR'/*.log"
    # the same requests beside what the vendor's own SDK sends (tests/sdk)
    sdk_check() { # SCRIPT ARGS...
        (cd "$ROOT/tests" && node "$@") >"$E2E_DIR/sdk-$prov.out" 2>&1
        grep -E '^(ok|not ok|#)' "$E2E_DIR/sdk-$prov.out"
        PASSED=$((PASSED + $(grep -c '^ok' "$E2E_DIR/sdk-$prov.out")))
        FAILED=$((FAILED + $(grep -c '^not ok' "$E2E_DIR/sdk-$prov.out")))
        grep -q '^ok\|^not ok' "$E2E_DIR/sdk-$prov.out" || not_ok "$prov: the SDK check ran" "$(tail -2 "$E2E_DIR/sdk-$prov.out")"
    }
    case $prov in
    anthropic) sdk_check sdk/requests.mjs anthropic "$log" "$ANTHROPIC_API_KEY" ;;
    openai) sdk_check sdk/requests.mjs openai "$log" "$OPENAI_API_KEY" ;;
    bedrock) sdk_check sdk/bedrock.mjs "$log" "$PY" fakes/llm.py "$E2E_DIR" ;;
    esac
    stop_agent_and_fake
done

# Session memory: a second turn on the session replays the first to the model,
# from any worker.
start_fake memory
export ANTHROPIC_BASE_URL=http://127.0.0.1:$FAKE_PORT
agent_for anthropic
client --session p-mem --prompt "What's my VPN status?" >"$E2E_DIR/mem1.out"
client --session p-mem --prompt "Thanks, now connect it" >"$E2E_DIR/mem2.out"
check "memory: the second turn answered" has "$E2E_DIR/mem2.out" '"event":"chat_response"'
check "memory: the model saw the earlier turn" jsonl "$E2E_DIR/memory.jsonl" \
    "r[2]['body']['messages'][0]['content'] == \"What's my VPN status?\" and r[2]['body']['messages'][1]['role'] == 'assistant' and 'status=connected' in r[2]['body']['messages'][1]['content'] and r[2]['body']['messages'][2]['content'] == 'Thanks, now connect it'"
check "memory: kept in Redis with a TTL" test "$(rcli TTL "$(key session p-mem memory)")" -gt 0
first_memory() { rcli LINDEX "$(key session p-mem memory)" 0 | grep -q get_vpn_status; }
check "memory: bounded tool results kept" first_memory
stop_agent_and_fake

# Two tool uses in one model turn run in parallel; both results go back in
# one message, each paired with its tool use.
start_fake parallel
export ANTHROPIC_BASE_URL=http://127.0.0.1:$FAKE_PORT
agent_for anthropic
out=$E2E_DIR/parallel.out
client --session p-par --prompt "check both please" >"$out"
check "parallel: both requests reached the desktop" sh -c "grep -q '\"action\":\"get_vpn_status\"' '$out' && grep -q '\"action\":\"request_logs\"' '$out'"
turn=$(grep 'event=chat .*session=p-par' "$E2E_DIR/gw.log" | head -1 | sed 's/.*turn=\([^ ]*\).*/\1/')
both_started() { # both children started by the turn's first run, before it suspended
    awk -v t="exec=$turn " 'index($0, t) && /event=invoke/ {n++} index($0, t) && /event=exec_suspended/ {print n; exit}' "$E2E_DIR/agent.log" | grep -qx 2
}
check "parallel: both tools started before the turn suspended" both_started
check "parallel: both results in one message, paired" jsonl "$E2E_DIR/parallel.jsonl" \
    "[b['tool_use_id'] for b in r[1]['body']['messages'][2]['content']] == [b['id'] for b in r[1]['body']['messages'][1]['content']] and len(r[1]['body']['messages'][2]['content']) == 2"
check "parallel: the answer has both" sh -c "grep '\"event\":\"chat_response\"' '$out' | grep -q 'status=connected.*Model analysis'"
stop_agent_and_fake

# 429 with Retry-After: the model step waits (durably) and retries.
start_fake retry FAIL_FIRST=1
export ANTHROPIC_BASE_URL=http://127.0.0.1:$FAKE_PORT
agent_for anthropic
out=$E2E_DIR/retry.out
client --session p-retry --prompt "What's my VPN status?" >"$out"
check "429: answered after a retry" has "$out" "Model says: status=connected"
check "429: the retry waited for Retry-After" grep -q 'event=step_retry.*step=model.0.*due_in_ms=9[0-9][0-9]\|event=step_retry.*step=model.0.*due_in_ms=1[0-9][0-9][0-9]' "$E2E_DIR/agent.log"
stop_agent_and_fake

# A 500 is retried too.
start_fake e500 FAIL_FIRST=1 FAIL_STATUS=500
export OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1
agent_for openai
out=$E2E_DIR/e500.out
client --session p-500 --prompt "What's my VPN status?" >"$out"
check "500: answered after a retry" has "$out" "Model says: status=connected"
stop_agent_and_fake

# A malformed reply is retried, then surfaced as an error event.
start_fake bad MALFORMED=1
export OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1
agent_for openai
out=$E2E_DIR/malformed.out
client --session p-bad --prompt "What's my VPN status?" --timeout-ms 60000 >"$out"
check "malformed: the user gets an error event" has "$out" '"code":"model_error"'
stop_agent_and_fake

# A worker killed mid-turn: another finishes it; no recorded model call again.
start_fake kill
export ANTHROPIC_BASE_URL=http://127.0.0.1:$FAKE_PORT
agent_for anthropic
out=$E2E_DIR/kill.out
client --session p-kill --prompt "What's my VPN status?" --timeout-ms 30000 \
    --cmd-vpn-status "$FIXTURES/slow_status.sh 2" >"$out" &
cpid=$!
waiting() { test "$(sum_cells ZCARD aa:cb:deadlines)" -ge 1; }
wait_for 15 "the turn waiting on the desktop" waiting
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
forget "$AGENT_PID"
agent_for anthropic
wait "$cpid"
check "killed agent: the turn finished" has "$out" "Model says: status=connected"
check "killed agent: the recorded model call was not made again" jsonl "$E2E_DIR/kill.jsonl" "len(r) == 2"
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null
forget "$FAKE_PID"

check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

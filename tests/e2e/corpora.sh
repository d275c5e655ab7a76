#!/usr/bin/env bash
# corpora.sh -- the built-in provider's corpora (tests/fixtures/intents.tsv,
# tests/fixtures/logs) through the other providers' request/response path,
# against the scripted stand-in (tests/fakes/llm.py): the model must be sent
# each phrasing as the user wrote it and each log sample whole in the tool
# result, so that what it sees carries the evidence.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
start_redis
start_gateway gw --rate-per-s 1000 --rate-burst 1000
start_tool
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
LOGS=$ROOT/tests/fixtures/logs
# a model id with ":" and "/" (an inference profile ARN): percent-encoding
# in the signature is the usual trap
BEDROCK_MODEL=arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0
for prov in anthropic openai bedrock; do
    FAKE_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    $PY "$ROOT/tests/fakes/llm.py" "$FAKE_PORT" "$E2E_DIR/$prov.jsonl" 2>>"$E2E_DIR/$prov.err" &
    FAKE_PID=$!
    PIDS+=("$FAKE_PID")
    wait_for 10 "the fake provider" bash -c "exec 3<>/dev/tcp/127.0.0.1/$FAKE_PORT"
    ANTHROPIC_API_KEY=sk-test ANTHROPIC_BASE_URL=http://127.0.0.1:$FAKE_PORT \
        OPENAI_API_KEY=sk-test OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1 \
        AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-west-2 \
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:$FAKE_PORT \
        AA_BEDROCK_MODEL="$BEDROCK_MODEL" start_agent --llm-provider "$prov"
    wait_for 10 "worker groups" groups_ready
    bad=0
    for f in "$LOGS"/*.log; do
        name=$(basename "$f" .log)
        client --session "corp-$prov-$name" --prompt "My VPN keeps dropping, check the logs" \
            --cmd-logs-vpn "cat $f" >"$E2E_DIR/$prov-$name.out" 2>&1 || bad=$((bad + 1))
    done
    check "$prov: a turn for each of the $(ls "$LOGS"/*.log | wc -l) log samples answered" test "$bad" = 0
    grep -v '^#' "$ROOT/tests/fixtures/intents.tsv" | cut -f2 | grep . |
        client --session "corp-$prov-phrasings" --timeout-ms 120000 >"$E2E_DIR/$prov-phr.out" 2>&1
    check "$prov: the phrasings' turns answered" test $? = 0
    $PY "$ROOT/tests/conformance/corpora_seen.py" "$E2E_DIR/$prov.jsonl" "$LOGS" "$LOGS/expected.tsv" \
        "$ROOT/tests/fixtures/intents.tsv" "$prov" >"$E2E_DIR/$prov-seen.out" 2>&1
    cat "$E2E_DIR/$prov-seen.out" | grep -v '^corpora:'
    line=$(grep -E '^corpora: ' "$E2E_DIR/$prov-seen.out")
    [ -n "$line" ] || not_ok "$prov: corpora_seen.py ran"
    PASSED=$((PASSED + $(echo "${line:-corpora: 0 passed}" | sed -E 's/corpora: ([0-9]+) passed.*/\1/')))
    FAILED=$((FAILED + $(echo "${line:-, 0 failed}" | sed -E 's/.* ([0-9]+) failed/\1/')))
    if [ "$prov" = bedrock ]; then
        $PY "$ROOT/tests/conformance/sigv4_botocore.py" "$E2E_DIR/$prov.jsonl" AKIDEXAMPLE secret - \
            us-west-2 "bedrock, no session token" >"$E2E_DIR/sigv4.out" 2>&1
        cat "$E2E_DIR/sigv4.out" | grep -v '^sigv4:'
        PASSED=$((PASSED + $(grep -c '^ok' "$E2E_DIR/sigv4.out")))
        FAILED=$((FAILED + $(grep -c '^not ok' "$E2E_DIR/sigv4.out")))
        grep -q '^ok\|^not ok' "$E2E_DIR/sigv4.out" || not_ok "sigv4_botocore.py ran (python3-botocore)"
    fi
    kill "$AGENT_PID" "$FAKE_PID"
    wait "$AGENT_PID" "$FAKE_PID" 2>/dev/null
    forget "$AGENT_PID"
    forget "$FAKE_PID"
done
check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
